"""Benchmark: kmrv's violation analysis against the same computation written plainly with geopandas.

Usage::

    python scripts/bench.py [--sizes 50000 200000 1000000] [--out bench] [--data DIR] [--engines kmrv baseline]
    make bench

For each size the synthetic sample (示例数据, seed 2023) is made once (cached under ``--data``). Each
measurement runs in a fresh process (spawned) that loads and checks the layers (not timed), then runs
one engine (timed), reports its peak resident memory (``ru_maxrss``, which includes the loaded
layers) and keeps its patches (``OUT/runs/n{size}-{engine}/patches.parquet``, not timed). ``e2e`` times
``kmrv violations`` end to end (read, check, analyse, write); ``run`` times ``kmrv run`` (every analysis, report,
pages and maps) and lists the run's own per-step timings. ``dask`` is the partitioned Dask engine on a
LocalCluster of :data:`DASK_WORKERS` processes: the sample's land use is partitioned once (``kmrv partition``,
cached next to the sample, not timed), the measuring process (the client) loads everything but the land use, and
its peak RSS is the client's (the workers are other processes). Written: ``OUT/results.json`` and
``OUT/results.md`` (wall times, ratios, peak RSS, scaling exponents, patches per status, and the agreement).

The baseline is deliberately plain geopandas (``overlay``, ``dissolve``, ``explode``, ``to_crs``, ``.area``)
implementing kmrv's definition of a patch and its figures (see :func:`baseline_violations`). The two engines
agree when (1) the per-status sums of :data:`TOTAL_COLUMNS` match to a relative 1e-9, (2) every status has
as many patches, and (3) per status the union of one engine's patches and the union of the other's differ
(symmetric difference, planar m²) by at most 1e-9 of the status's area or 1e-3 m². Where they do not, every
patch without a twin in the other engine is listed by reason (:func:`explain`) in the markdown and the JSON.
``postgis`` is the same analysis in SQL on a PostGIS server (``scripts/bench_postgis.py``: the layers copied into
a scratch schema with GiST indexes, then ``ST_Intersection``/``ST_Difference``/``ST_Union``; copying is timed; the
server's memory is not in the peak RSS); it runs where ``KMRV_BENCH_POSTGIS`` names a server.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AGREEMENT = 1e-9
"""Largest relative difference of the per-status totals between two engines that counts as agreeing."""
NOISE_MU = 1e-6
"""Absolute differences below this (亩, 0.0007 m²) are floating-point slivers, not disagreement."""
SLIVER_M2 = 1e-6
"""Pieces of an overlay at most this large (planar m²) are floating-point slivers of shared edges; kmrv drops them
(``kmrv_geo.overlay.MIN_PIECE_M2``) and so does the baseline, after every overlay."""
GEOMETRY_RELATIVE = 1e-9
"""Largest symmetric difference between the two engines' patches of a status, relative to the status's area …"""
GEOMETRY_ABSOLUTE_M2 = 1e-3
"""… or in absolute terms (m²), that counts as the same land."""
TOTAL_COLUMNS = ["area_mu", "area_mu_planar", "area_mu_ellipsoidal", "approved_mu", "illegal_mu", "pbf_mu",
                 "illegal_pbf_mu"]
"""Per-status sums compared between engines (every 亩 figure both engines produce; ``net_mu`` is kmrv's only)."""
PATCH_FILE_COLUMNS = ["status", "change_class", "t0_code", "t1_code", "county_code", "township", "village",
                      *TOTAL_COLUMNS, "geometry"]
"""What each engine's run keeps of its patches (``runs/…/patches.parquet``) for the patch-by-patch comparison."""
VERTEX_EFFECT = 1e-7
"""Per-patch figure differences up to this share of the patch's area are what measuring the same land cut at
other vertices can give in the ellipsoidal kind (edges followed in 20 m steps: about 1e-6 m² per edge); a totals
difference made only of such is reported as explained (see :func:`compare`)."""


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def densify_rings(series, step: float):
    """Split every polygon edge of a GeoSeries into pieces of at most ``step``, ring by ring.

    ``GeoSeries.segmentize`` of a polygon is unsound on GEOS 3.14 (a valid 16,910 m² polygon of the sample came
    back as an invalid 7e-9 m² one), while segmentizing its rings is sound; where the planar area still changes
    (1e-9 relative) the geometry keeps its own vertices. Other geometries are returned unchanged.
    """
    import geopandas as gpd
    import numpy as np
    import shapely

    geoms = np.asarray(series.values, dtype=object)
    out = geoms.copy()
    todo = np.flatnonzero(series.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy() & ~series.is_empty.to_numpy())
    if todo.size:
        parts, owner = shapely.get_parts(geoms[todo], return_index=True)
        rings, part = shapely.get_rings(parts, return_index=True)
        dense = shapely.multipolygons(shapely.polygons(shapely.segmentize(rings, step), indices=part), indices=owner)
        before = shapely.area(geoms[todo])
        same = np.abs(shapely.area(dense) - before) <= 1e-9 * np.maximum(before, 1.0)
        out[todo[same]] = dense[same]
    return gpd.GeoSeries(out, index=series.index, crs=series.crs)


def baseline_violations(project):
    """Run the violation analysis written plainly with geopandas; return the located, judged patches.

    The same definition as kmrv's, with geopandas' own operations only (``overlay``, ``dissolve``,
    ``explode``, ``to_crs``, ``.area``):

    - pieces: T0 farmland ∩ T1 (classed by the T1 category, or ``nongrain`` on a 种植属性 turning ``FLS``),
      T0 farmland that no T1 parcel covers (``no_t1_data``), T0 non-farmland ∩ T1 farmland (``supplement``);
      pieces of at most :data:`SLIVER_M2` are dropped;
    - patches: pieces dissolved by (class, T0 code, T1 code, T0 category, basis) and exploded (parts that
      touch only at a point stay apart); minimum mapped size measured in the project's area kind
      (``construction`` for nonagri, ``facility`` where the T1 code is 设施农用地 1202, ``agricultural``
      for other nongrain and supplement, ``other`` for other and no_t1_data);
    - located by ``overlay(how="identity")`` with counties, townships and villages (slivers dropped);
    - figures in the area kind (ellipsoidal: edges split into pieces of at most ``kmrv_geo.units.MAX_SEGMENT_M``
      (20 m) ring by ring (:func:`densify_rings`), reprojected to a GRS80 Lambert azimuthal equal-area CRS
      centred on the study area, then ``.area``): patch, patch ∩ PBF, patch ∩ approvals, patch − approvals,
      (patch − approvals) ∩ PBF.
    """
    import geopandas as gpd
    import numpy as np
    import pandas as pd
    from shapely.geometry import Polygon

    from kmrv_geo import landuse
    from kmrv_geo.analysis.steps import zone_levels
    from kmrv_geo.units import M2_PER_MU, MAX_SEGMENT_M

    config = project.config
    x0, y0, x1, y1 = config.study_area.bbox
    laea = f"+proj=laea +lat_0={(y0 + y1) / 2:.6f} +lon_0={(x0 + x1) / 2:.6f} +ellps=GRS80 +units=m +no_defs"

    def ellipsoidal_m2(frame) -> np.ndarray:  # edges straight in the analysis CRS, followed in ≤ 20 m steps
        if not len(frame):
            return np.zeros(0)
        return densify_rings(frame.geometry, MAX_SEGMENT_M).to_crs(laea).area.fillna(0.0).to_numpy()

    def measured_m2(frame) -> np.ndarray:
        return ellipsoidal_m2(frame) if config.area == "ellipsoidal" else frame.area.to_numpy()

    def solid(frame):
        return frame[frame.area > SLIVER_M2]

    t0, t1 = project.vectors["landuse_t0"], project.vectors["landuse_t1"]
    planting = "ZZSXDM" in t0 and "ZZSXDM" in t1
    cols = ["code", "category"] + (["ZZSXDM"] if planting else []) + ["geometry"]
    farm0 = t0.loc[t0["category"] == landuse.FARMLAND, cols].reset_index(drop=True)
    farm0["t0_row"] = np.arange(len(farm0))
    pieces = solid(gpd.overlay(farm0, t1[cols], how="intersection", keep_geom_type=True))
    to_class = {landuse.FARMLAND: "kept", landuse.CONSTRUCTION: "nonagri", landuse.OTHER_AGRICULTURAL: "nongrain"}
    pieces["change_class"] = pieces["category_2"].map(to_class).fillna("other")
    pieces["basis"] = "land_use"
    if planting:  # still farmland, but its planting attribute turned non-grain (种植属性 LS → FLS)
        p0 = pieces["ZZSXDM_1"].astype("string").str.strip().str.upper()
        p1 = pieces["ZZSXDM_2"].astype("string").str.strip().str.upper()
        fls = ((pieces["change_class"] == "kept") & (p1 == "FLS") & (p0 != "FLS")).fillna(False).astype(bool)
        pieces.loc[fls, "change_class"] = "nongrain"
        pieces.loc[fls, "basis"] = "planting_attribute"
    pieces = pieces.rename(columns={"code_1": "t0_code", "code_2": "t1_code", "category_1": "t0_category"})
    # T0 farmland that no T1 parcel covers: where a parcel's pieces fall short of it by more than a sliver, the
    # parcel minus the union of its pieces (so the area of dropped slivers stays in the farmland partition)
    farm_m2 = farm0.area
    short = farm_m2 - farm0["t0_row"].map(pieces.area.groupby(pieces["t0_row"]).sum()).fillna(0.0)
    gap = farm0[short > np.maximum(SLIVER_M2, 1e-9 * farm_m2)]
    own = pieces.loc[pieces["t0_row"].isin(gap["t0_row"]), ["t0_row", "geometry"]].dissolve(by="t0_row").geometry
    covered = own.reindex(gap["t0_row"].to_numpy()).fillna(Polygon())
    uncovered = solid(gap.set_geometry(gap.geometry.difference(covered, align=False)))
    uncovered = uncovered.rename(columns={"code": "t0_code", "category": "t0_category"}).assign(
        t1_code="", change_class="no_t1_data", basis="no_t1_data")
    gained = solid(gpd.overlay(t0.loc[t0["category"] != landuse.FARMLAND, cols],
                               t1.loc[t1["category"] == landuse.FARMLAND, cols], how="intersection",
                               keep_geom_type=True))
    gained = gained.rename(columns={"code_1": "t0_code", "code_2": "t1_code", "category_1": "t0_category"}).assign(
        change_class="supplement", basis="land_use")
    keys = ["change_class", "t0_code", "t1_code", "t0_category", "basis"]
    changed = pd.concat([p[keys + ["geometry"]] for p in (pieces[pieces["change_class"] != "kept"], uncovered, gained)],
                        ignore_index=True)
    changed[keys] = changed[keys].astype("object").where(changed[keys].notna(), "")
    patches = gpd.GeoDataFrame(changed, geometry="geometry", crs=t0.crs).dissolve(by=keys, as_index=False)
    patches = patches.explode(index_parts=False, ignore_index=True)
    limits = config.thresholds.min_patch_m2
    by_class = {"nonagri": limits.construction, "nongrain": limits.agricultural, "supplement": limits.agricultural,
                "other": limits.other, "no_t1_data": limits.other}
    limit = patches["change_class"].map(by_class).where(~patches["t1_code"].isin(landuse.FACILITY_CODES),
                                                        limits.facility)
    patches = patches[measured_m2(patches) >= limit.to_numpy(dtype=float)]
    levels = zone_levels(project)
    for level, columns in (("county", ["county_code", "county_name"]), ("township", ["township"]),
                           ("village", ["village"])):
        if level in levels:
            zones = levels[level][0][columns + ["geometry"]]
            patches = solid(gpd.overlay(patches, zones, how="identity", keep_geom_type=True))
            patches[columns] = patches[columns].astype("object").where(patches[columns].notna(), "")
        else:
            patches = patches.assign(**{c: "" for c in columns})
    patches = patches.reset_index(drop=True)
    patches["pid"] = np.arange(len(patches))
    area_m2 = measured_m2(patches)
    patches["area_m2"] = area_m2
    patches["area_mu"] = area_m2 / M2_PER_MU
    patches["area_mu_planar"] = patches.area.to_numpy() / M2_PER_MU
    patches["area_mu_ellipsoidal"] = ellipsoidal_m2(patches) / M2_PER_MU

    def dissolved(role):
        layer = project.vectors.get(role)
        if layer is None:
            return None
        return gpd.GeoDataFrame(geometry=[layer.union_all()], crs=layer.crs).explode(index_parts=False)

    def m2_inside(subject, zone) -> np.ndarray:
        """Measured area of each subject row (by ``pid``) inside ``zone``, per patch."""
        out = np.zeros(len(patches))
        if len(subject):
            inside = solid(gpd.overlay(subject[["pid", "geometry"]], zone, how="intersection", keep_geom_type=True))
            np.add.at(out, inside["pid"].to_numpy(dtype=int), measured_m2(inside))
        return out

    approvals, pbf = dissolved("approvals"), dissolved("pbf")
    nonagri = (patches["change_class"] == "nonagri").to_numpy()
    subject = patches[nonagri]
    pbf_m2 = m2_inside(patches, pbf) if pbf is not None else np.full(len(patches), np.nan)
    if approvals is not None:
        approved_m2 = m2_inside(subject, approvals)
        illegal_parts = solid(gpd.overlay(subject[["pid", "geometry"]], approvals, how="difference",
                                          keep_geom_type=True)) if len(subject) else subject
        illegal_m2 = np.zeros(len(patches))
        np.add.at(illegal_m2, illegal_parts["pid"].to_numpy(dtype=int), measured_m2(illegal_parts))
        illegal_pbf_m2 = m2_inside(illegal_parts, pbf) if pbf is not None else np.full(len(patches), np.nan)
    else:  # no approvals layer: conversions are unjudged
        approved_m2 = illegal_m2 = np.where(nonagri, np.nan, 0.0)
        illegal_pbf_m2 = np.where(nonagri | (pbf is None), np.nan, 0.0)
    patches["pbf_mu"] = pbf_m2 / M2_PER_MU
    patches["approved_mu"] = approved_m2 / M2_PER_MU
    patches["illegal_mu"] = illegal_m2 / M2_PER_MU
    patches["illegal_pbf_mu"] = illegal_pbf_m2 / M2_PER_MU
    patches["status"] = status_of(patches["change_class"].to_numpy(), has_approvals=approvals is not None,
                                  approved_m2=approved_m2, illegal_m2=illegal_m2, pbf_m2=pbf_m2)
    return patches


def status_of(change_class, *, has_approvals: bool, approved_m2, illegal_m2, pbf_m2):
    """Each patch's verdict from its class and measured parts (m²), as kmrv defines it (any part of at most
    0.01 m² counts as none): construction without approvals data ``unverified``, else ``approved`` /
    ``illegal`` / ``partly_approved``; non-grain use on PBF ``nongrain_on_pbf``, else ``nongrain``; new farmland
    ``supplement``; the rest ``other``. Shared by the baseline and the PostGIS variant.
    """
    import numpy as np

    zero_m2 = 0.01
    cls = np.asarray(change_class)
    nonagri = cls == "nonagri"
    return np.select(
        [nonagri & (not has_approvals), nonagri & (illegal_m2 <= zero_m2), nonagri & (approved_m2 <= zero_m2), nonagri,
         (cls == "nongrain") & (np.nan_to_num(pbf_m2) > zero_m2), cls == "nongrain", cls == "supplement"],
        ["unverified", "approved", "illegal", "partly_approved", "nongrain_on_pbf", "nongrain", "supplement"],
        default="other")


def totals(patches) -> dict:
    """Patch count, patches per status and per-status sums of :data:`TOTAL_COLUMNS` (for the agreement check)."""
    columns = [c for c in TOTAL_COLUMNS if c in patches]
    grouped = patches.groupby("status")[columns].sum()
    counts = patches["status"].value_counts()
    return {"patches": int(len(patches)), "counts": {str(s): int(n) for s, n in sorted(counts.items())},
            "sums": {str(s): {c: float(v) for c, v in row.items()} for s, row in grouped.iterrows()}}


def _job(args: tuple) -> dict:
    """One measurement in a fresh process: load (untimed), run one engine (timed), keep its patches (untimed)."""
    engine, config_path, out_dir = args
    from kmrv_geo import pipeline
    from kmrv_geo.analysis import steps
    from kmrv_geo.config import load_config
    from kmrv_geo.project import load_project

    if engine == "e2e":
        start = time.perf_counter()
        pipeline.run(config_path, out_dir, overwrite=True, steps=("violations",))
        return {"seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb()}
    if engine == "run":  # every analysis, report, pages and maps, with the run's own per-step timings
        start = time.perf_counter()
        pipeline.run(config_path, out_dir, overwrite=True)
        seconds = time.perf_counter() - start
        manifest = json.loads((Path(out_dir) / "manifest.json").read_text(encoding="utf-8"))
        return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "steps_s": manifest.get("timings_s", {})}
    config = load_config(config_path)
    if engine == "dask":  # the client never loads the land use: the workers read the partitions
        from kmrv_geo.partitions import open_partitions

        project = load_project(config, partitions=open_partitions(partitions_folder(config_path), config))
    else:
        project = load_project(config)
    loaded_mb = peak_rss_mb()
    start = time.perf_counter()
    if engine == "kmrv":
        patches = steps.run_violations(project).patches
    elif engine == "dask":
        patches = steps.run_violations(project, engine="dask", n_workers=DASK_WORKERS).patches
    elif engine == "postgis":  # copying the layers into the server is part of it, as it would be for a user
        from bench_postgis import postgis_violations

        patches = postgis_violations(project, os.environ[POSTGIS_ENV])
    else:
        patches = baseline_violations(project)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    patch_file = Path(out_dir) / "patches.parquet"
    patches[PATCH_FILE_COLUMNS].to_parquet(patch_file)
    return {"seconds": seconds, "peak_rss_mb": peak, "loaded_rss_mb": loaded_mb, "area_kind": project.config.area,
            "totals": totals(patches), "patch_file": str(patch_file)}


POSTGIS_ENV = "KMRV_BENCH_POSTGIS"
"""Environment variable holding the libpq connection of the server the ``postgis`` engine runs on (password
from ``PGPASSWORD`` or ``~/.pgpass``); without it the engine is skipped and the results say so."""
DASK_WORKERS = 2
"""Worker processes of the LocalCluster the ``dask`` engine is measured on."""


def partitions_folder(config_path) -> Path:
    """Where a sample's land-use partitions for the ``dask`` engine are kept (next to the sample)."""
    return Path(config_path).parent / "partitions"


def _partition_job(config_path: str) -> float:
    """Write the sample's land-use partitions (``kmrv partition``) unless current ones exist; seconds taken."""
    from kmrv_geo.config import load_config
    from kmrv_geo.partitions import PartitionError, open_partitions, write_partitions
    from kmrv_geo.project import load_project

    config = load_config(config_path)
    try:
        open_partitions(partitions_folder(config_path), config)
        return 0.0
    except PartitionError:
        start = time.perf_counter()
        write_partitions(load_project(config), partitions_folder(config_path), overwrite=True)
        return time.perf_counter() - start


def measure(engine: str, config_path: Path, out_dir: Path) -> dict:
    """Run :func:`_job` in a spawned process (so memory and caches start clean).

    A process pool of the standard library whose worker is not daemonic, so that the ``dask`` engine can start
    its LocalCluster's worker processes from it (a ``multiprocessing.Pool`` worker cannot have children).
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(_job, (engine, str(config_path), str(out_dir))).result()


def agree(a: dict, b: dict) -> tuple[bool, float]:
    """Whether two engines' per-status sums agree to :data:`AGREEMENT` (relative), and the largest relative difference.

    ``a`` and ``b`` are :func:`totals`; a status one engine lacks counts as zeros. Absolute differences below
    :data:`NOISE_MU` are float noise.
    """
    worst = 0.0
    sa, sb = a.get("sums", {}), b.get("sums", {})
    for status in set(sa) | set(sb):
        for column in TOTAL_COLUMNS:
            x, y = sa.get(status, {}).get(column, 0.0), sb.get(status, {}).get(column, 0.0)
            if (math.isnan(x) and math.isnan(y)) or abs(x - y) < NOISE_MU:
                continue
            diff = abs(x - y) / max(abs(x), abs(y)) if not (math.isnan(x) or math.isnan(y)) else math.inf
            worst = max(worst, diff)
    return worst <= AGREEMENT, worst


def counts_agree(a: dict, b: dict) -> tuple[bool, dict]:
    """Whether two engines found as many patches of every status; the differences (a − b) where not."""
    ca, cb = a.get("counts", {}), b.get("counts", {})
    diff = {s: ca.get(s, 0) - cb.get(s, 0) for s in sorted(set(ca) | set(cb)) if ca.get(s, 0) != cb.get(s, 0)}
    return not diff and a.get("patches") == b.get("patches"), diff


def geometry_difference(a, b) -> dict:
    """Per status, the planar area (m²) of the symmetric difference of the two engines' patches.

    The union of ``a``'s patches against the union of ``b``'s (GeoDataFrames with ``status``), with the
    status's area (the larger union) for scale.
    """
    import shapely

    out = {}
    for status in sorted(set(a["status"]) | set(b["status"])):
        ua = shapely.union_all(a.geometry[a["status"] == status].to_numpy())
        ub = shapely.union_all(b.geometry[b["status"] == status].to_numpy())
        sym = float(shapely.symmetric_difference(ua, ub).area)
        area = float(max(ua.area, ub.area))
        out[status] = {"symmetric_difference_m2": sym, "area_m2": area, "relative": sym / area if area > 0 else 0.0}
    return out


def geometry_agrees(diff: dict) -> bool:
    """Whether every status's symmetric difference is within tolerance.

    At most :data:`GEOMETRY_RELATIVE` of the status's area, or :data:`GEOMETRY_ABSOLUTE_M2`.
    """
    return all(d["symmetric_difference_m2"] <= max(GEOMETRY_ABSOLUTE_M2, GEOMETRY_RELATIVE * d["area_m2"])
               for d in diff.values())


ZONE_KEYS = ["county_code", "township", "village"]
PATCH_KEYS = ["status", "change_class", "t0_code", "t1_code"] + ZONE_KEYS


def twins(a, b):
    """Pairs (positions in ``a``, positions in ``b``) of twin patches.

    Twins have the same status, class, codes and zones, and geometries that differ by at most
    :data:`GEOMETRY_ABSOLUTE_M2` (or :data:`GEOMETRY_RELATIVE` of the area).
    """
    import numpy as np
    import shapely

    ga, gb = a.geometry.to_numpy(), b.geometry.to_numpy()
    if not len(a) or not len(b):
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    ia, ib = shapely.STRtree(gb).query(ga, predicate="intersects")
    ka = a[PATCH_KEYS].astype(str).agg("|".join, axis=1).to_numpy()
    kb = b[PATCH_KEYS].astype(str).agg("|".join, axis=1).to_numpy()
    same = ka[ia] == kb[ib]
    ia, ib = ia[same], ib[same]
    sym = shapely.area(shapely.symmetric_difference(ga[ia], gb[ib]))
    close = sym <= np.maximum(GEOMETRY_ABSOLUTE_M2, GEOMETRY_RELATIVE * shapely.area(ga[ia]))
    return ia[close], ib[close]


def unmatched(a, b):
    """Rows of ``a`` with no twin (:func:`twins`) in ``b``."""
    import numpy as np

    matched = np.zeros(len(a), dtype=bool)
    matched[twins(a, b)[0]] = True
    return a[~matched]


def figure_differences(a, b) -> list[dict]:
    """Where twin patches (:func:`twins`) carry different figures.

    Per column of :data:`TOTAL_COLUMNS`: the patches whose figures differ by more than 1e-6 m², the largest
    difference (m² and share of the patch's area) and the sum (``a`` − ``b``, m²).
    """
    import numpy as np

    from kmrv_geo.units import M2_PER_MU

    ia, ib = twins(a, b)
    out = []
    area = a["area_mu"].to_numpy(dtype=float)[ia] * M2_PER_MU
    for column in TOTAL_COLUMNS:
        if column not in a or column not in b:
            continue
        x, y = a[column].to_numpy(dtype=float)[ia], b[column].to_numpy(dtype=float)[ib]
        d = np.where(np.isnan(x) & np.isnan(y), 0.0, x - y) * M2_PER_MU
        big = np.abs(np.nan_to_num(d, nan=np.inf)) > 1e-6
        if big.any():
            share = np.abs(d[big]) / np.where(area[big] > 0, area[big], np.nan)
            out.append({"column": column, "patches": int(big.sum()), "max_m2": float(np.nanmax(np.abs(d[big]))),
                        "max_share_of_patch": float(np.nanmax(share)), "sum_m2": float(np.nansum(d[big]))})
    return out


def explain(a, b, names: tuple[str, str] = ("kmrv", "baseline")) -> list[dict]:
    """Why the patches of two engines differ: every patch without a twin in the other engine, grouped by reason.

    Reasons (the first that applies): ``sliver`` (at most :data:`SLIVER_M2`: float noise of an overlay, kmrv drops
    such pieces); ``same land, cut differently`` (the other engine's patches of the same status cover it: split at
    other boundaries or merged by other keys); ``other verdict`` (the other engine has the land under another
    status); ``only in this engine`` (the other has no patch there: class, minimum mapped size, or location).

    Returns
    -------
    list of dict
        ``engine``, ``reason``, ``patches``, ``area_m2`` (planar) and up to five ``examples``.
    """
    import shapely

    rows = []
    for (this, that), name in (((a, b), names[0]), ((b, a), names[1])):
        lone = unmatched(this, that)
        if lone.empty:
            continue
        unions = {s: shapely.union_all(that.geometry[that["status"] == s].to_numpy()) for s in set(that["status"])}
        everything = shapely.union_all(that.geometry.to_numpy()) if len(that) else shapely.Polygon()
        reasons = []
        for status, geom in zip(lone["status"], lone.geometry, strict=True):
            area = geom.area
            same = unions.get(status, shapely.Polygon())
            tol = max(GEOMETRY_ABSOLUTE_M2, GEOMETRY_RELATIVE * area)
            if area <= SLIVER_M2:
                reasons.append("sliver")
            elif geom.difference(same).area <= tol:
                reasons.append("same land, cut differently")
            elif geom.difference(everything).area <= tol:
                reasons.append("other verdict")
            else:
                reasons.append("only in this engine")
        lone = lone.assign(why=reasons, planar_m2=lone.area)
        for reason, group in lone.groupby("why", sort=False):
            examples = [f"{r.status} {r.change_class} {r.t0_code}→{r.t1_code or '-'} {r.county_code or '-'}/"
                        f"{r.township or '-'}/{r.village or '-'} {r.planar_m2:.3g} m²"
                        for r in group.head(5).itertuples()]
            rows.append({"engine": name, "reason": reason, "patches": int(len(group)),
                         "area_m2": float(group["planar_m2"].sum()), "examples": examples})
    return rows


def compare(result: dict, base: dict) -> dict:
    """Full agreement of an engine with the baseline: per-status sums, patch counts and geometry."""
    import geopandas as gpd

    totals_ok, worst = agree(result["totals"], base["totals"])
    counts_ok, count_diff = counts_agree(result["totals"], base["totals"])
    a, b = gpd.read_parquet(result["patch_file"]), gpd.read_parquet(base["patch_file"])
    geometry = geometry_difference(a, b)
    geometry_ok = geometry_agrees(geometry)
    out = {
        "agrees": bool(totals_ok and counts_ok and geometry_ok),
        "totals_agree": bool(totals_ok), "counts_agree": bool(counts_ok), "geometry_agrees": bool(geometry_ok),
        "max_relative_difference": worst,
        "patches": {"engine": result["totals"]["patches"], "baseline": base["totals"]["patches"]},
        "counts": {"engine": result["totals"]["counts"], "baseline": base["totals"]["counts"]},
        "count_difference": count_diff,
        "symmetric_difference_m2": sum(d["symmetric_difference_m2"] for d in geometry.values()),
        "max_relative_symmetric_difference": max((d["relative"] for d in geometry.values()), default=0.0),
        "geometry": geometry,
        "explanation": [],
        "figure_differences": [],
        "totals_note": "",
    }
    if not (counts_ok and geometry_ok):
        out["explanation"] = explain(a, b)
    if not totals_ok:
        figures = out["figure_differences"] = figure_differences(a, b)
        planar = {"area_mu_planar"} & {f["column"] for f in figures}
        if (counts_ok and geometry_ok and not planar and result.get("area_kind") == "ellipsoidal"
                and all(f["max_share_of_patch"] <= VERTEX_EFFECT for f in figures)):
            where = ", ".join(f"{f['column']} on {f['patches']} patches, max {f['max_m2']:.1e} m²" for f in figures)
            out["totals_note"] = (
                "same patches and land, planar areas equal; ellipsoidal figures of the same land differ by up to "
                f"{max(f['max_share_of_patch'] for f in figures):.1e} of a patch ({where}): an ellipsoidal area "
                "(edges in steps of at most 20 m, to_crs to the equal-area CRS, then .area) still depends slightly "
                "on the vertices, as an edge straight in the analysis CRS is curved in the equal-area one, and the "
                "engines cut the land at different vertices (e.g. kmrv intersects with each PBF/approval parcel, "
                "the baseline with their union)")
    return out


def _agreement_cell(agreement: dict) -> str:
    if agreement["agrees"]:
        return "yes"
    if agreement["counts_agree"] and agreement["geometry_agrees"] and agreement.get("totals_note"):
        return "NO: totals differ (explained below)"
    failed = [name for name, key in (("totals", "totals_agree"), ("counts", "counts_agree"),
                                     ("geometry", "geometry_agrees")) if not agreement[key]]
    return "NO: " + ", ".join(failed) + " differ"


def markdown(results: dict) -> str:
    """Render the results as markdown: timings and agreement, patches per status, reasons of any difference."""
    lines = ["| parcels | engine | seconds | peak RSS (MB) | vs baseline | patches | agrees | max rel. diff of totals "
             "| sym. diff (m²) |",
             "| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |"]
    notes = []
    for size, row in results["sizes"].items():
        base = row.get("baseline", {}).get("seconds")
        for engine, m in row.items():
            if not isinstance(m, dict) or "seconds" not in m:
                continue
            ratio = ""
            if base and engine in ("kmrv", "dask", "postgis"):
                speed = base / m["seconds"]
                ratio = f"{speed:.2f}× faster" if speed >= 1 else f"{1 / speed:.2f}× slower"
            patches = f"{m['totals']['patches']:,}" if "totals" in m else ""
            agreement = row.get("agreement", {}).get(engine)
            cells = ["", "", ""]
            if agreement:
                cells = [_agreement_cell(agreement), f"{agreement['max_relative_difference']:.1e}",
                         f"{agreement['symmetric_difference_m2']:.1e}"]
                if agreement["count_difference"]:
                    diff = ", ".join(f"{s} {d:+d}" for s, d in agreement["count_difference"].items())
                    notes.append(f"- {int(size):,} parcels: {engine} has {agreement['patches']['engine']:,} patches, "
                                 f"the baseline {agreement['patches']['baseline']:,} ({engine} − baseline: {diff})")
                if not agreement["totals_agree"]:
                    notes.append(f"- {int(size):,} parcels: {engine}'s per-status totals differ from the baseline's "
                                 f"by up to {agreement['max_relative_difference']:.1e} (relative)"
                                 + (f": {agreement['totals_note']}" if agreement.get("totals_note") else ""))
                    if not agreement.get("totals_note"):
                        for f in agreement.get("figure_differences", []):
                            notes.append(f"  - {f['column']}: {f['patches']} twin patches differ, up to "
                                         f"{f['max_m2']:.2g} m² ({f['max_share_of_patch']:.1e} of the patch), "
                                         f"{f['sum_m2']:+.3g} m² in all")
                for r in agreement["explanation"]:
                    notes.append(f"  - only in {r['engine']}: {r['patches']} patches, {r['area_m2']:.3g} m², "
                                 f"{r['reason']} (e.g. {'; '.join(r['examples'][:3])})")
            lines.append(f"| {int(size):,} | {engine} | {m['seconds']:.1f} | {m['peak_rss_mb']:.0f} | {ratio} | "
                         f"{patches} | " + " | ".join(cells) + " |")
    statuses = sorted({s for row in results["sizes"].values() for m in row.values()
                       if isinstance(m, dict) and "totals" in m for s in m["totals"]["counts"]})
    if statuses:
        lines += ["", "Patches per status:", "", "| parcels | engine | " + " | ".join(statuses) + " |",
                  "| ---: | --- |" + " ---: |" * len(statuses)]
        for size, row in results["sizes"].items():
            for engine, m in row.items():
                if isinstance(m, dict) and "totals" in m:
                    counts = m["totals"]["counts"]
                    lines.append(f"| {int(size):,} | {engine} | " + " | ".join(str(counts.get(s, 0)) for s in statuses)
                                 + " |")
    runs = [(size, m) for size, row in results["sizes"].items() for engine, m in row.items()
            if engine == "run" and isinstance(m, dict) and m.get("steps_s")]
    for size, m in runs:
        lines += ["", f"`kmrv run` at {int(size):,} parcels, per step (s, the run's own timings):", "",
                  "| " + " | ".join(m["steps_s"]) + " |", "|" + " ---: |" * len(m["steps_s"]),
                  "| " + " | ".join(f"{v:.1f}" for v in m["steps_s"].values()) + " |"]
    lines += ["", "Agreement = per-status sums of " + ", ".join(TOTAL_COLUMNS) + f" within a relative {AGREEMENT:g}, "
              "equal patch counts per status, and per status a symmetric difference of the patches' unions within "
              f"{GEOMETRY_RELATIVE:g} of the status's area (or {GEOMETRY_ABSOLUTE_M2:g} m²)."]
    if notes:
        lines += ["", "Differences:", ""] + notes
    lines.append("")
    if results.get("scaling"):
        for engine, exps in results["scaling"].items():
            lines.append(f"- scaling exponent of {engine}: " + ", ".join(f"{k}: {v:.2f}" for k, v in exps.items()))
    lines.append(f"- PostGIS: {results['postgis']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Make the samples, run the measurements, write results.json and results.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000, 1_000_000])
    parser.add_argument("--engines", nargs="+", default=["kmrv", "baseline", "e2e"],
                        choices=["kmrv", "baseline", "e2e", "dask", "run", "postgis"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    parser.add_argument("--data", type=Path, default=None, help="where the samples are cached (default OUT/data)")
    parser.add_argument("--seed", type=int, default=2023)
    args = parser.parse_args(argv)
    from kmrv_geo.sample import make_sample

    out = args.out
    data = args.data or out / "data"
    out.mkdir(parents=True, exist_ok=True)
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "platform": platform.platform()},
               "written_at": time.strftime("%Y-%m-%d %H:%M:%S"), "sizes": {},
               "postgis": (f"server from {POSTGIS_ENV}" if os.environ.get(POSTGIS_ENV)
                           else f"not measured ({POSTGIS_ENV} not set)")}
    for size in args.sizes:
        folder = data / f"n{size}-s{args.seed}"
        if not (folder / "demo.yml").exists():
            print(f"making the {size:,}-parcel sample …", flush=True)
            make_sample(folder, n_parcels=size, seed=args.seed)
        row: dict = {}
        for engine in args.engines:
            if engine == "postgis" and not os.environ.get(POSTGIS_ENV):
                print(f"  postgis skipped: set {POSTGIS_ENV} to a server's connection", flush=True)
                continue
            if engine == "dask":  # partitioned once, not timed (as 'kmrv partition' runs once per survey)
                with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
                    made = pool.submit(_partition_job, str(folder / "demo.yml")).result()
                if made:
                    print(f"  partitions written in {made:.1f} s", flush=True)
            print(f"{size:,} parcels: {engine} …", flush=True)
            row[engine] = measure(engine, folder / "demo.yml", out / "runs" / f"n{size}-{engine}")
            print(f"  {row[engine]['seconds']:.1f} s, peak {row[engine]['peak_rss_mb']:.0f} MB", flush=True)
        if "baseline" in row:
            row["agreement"] = {}
            for engine in ("kmrv", "dask", "postgis"):
                if engine in row:
                    agreement = row["agreement"][engine] = compare(row[engine], row["baseline"])
                    print(f"  {engine} vs baseline: {_agreement_cell(agreement)} (patches "
                          f"{agreement['patches']['engine']:,} vs {agreement['patches']['baseline']:,}, "
                          f"max rel. diff of totals {agreement['max_relative_difference']:.1e}, "
                          f"sym. diff {agreement['symmetric_difference_m2']:.1e} m²)", flush=True)
        results["sizes"][str(size)] = row
    sizes = sorted(args.sizes)
    results["scaling"] = {}
    for engine in args.engines:
        exps = {}
        for a, b in zip(sizes, sizes[1:], strict=False):
            if engine not in results["sizes"][str(a)] or engine not in results["sizes"][str(b)]:
                continue
            ta, tb = results["sizes"][str(a)][engine]["seconds"], results["sizes"][str(b)][engine]["seconds"]
            exps[f"{a}→{b}"] = math.log(tb / ta) / math.log(b / a)
        if exps:
            results["scaling"][engine] = exps
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    (out / "results.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
