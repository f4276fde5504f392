"""Benchmark: kmrv's violation analysis against the same computation written plainly with geopandas.overlay.

Usage::

    python scripts/bench.py [--sizes 50000 200000 1000000] [--out bench] [--data DIR] [--engines kmrv baseline]
    make bench

For each size the synthetic sample (示例数据, seed 2023) is made once (cached under ``--data``). Each
measurement runs in a fresh process (spawned) that loads and checks the layers (not timed), then runs
one engine (timed) and reports its peak resident memory (``ru_maxrss``, which includes the loaded
layers). ``e2e`` times ``kmrv violations`` end to end (read, check, analyse, write). Written:
``OUT/results.json`` and ``OUT/results.md`` (wall times, ratios, peak RSS, scaling exponents, and
whether the two engines' areas agree to a relative 1e-9).

The baseline is deliberately plain geopandas: ``overlay`` of T0 farmland with T1, ``dissolve`` +
``explode`` into patches, the minimum mapped size, ``overlay(how="identity")`` with counties,
townships and villages, and ``overlay`` with the dissolved approvals and PBF for the verdict areas.
Where a PostGIS server is reachable (``KMRV_BENCH_POSTGIS`` = a libpq connection string) it is noted;
the PostGIS variant itself is not implemented yet.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AGREEMENT = 1e-9
"""Largest relative difference of the per-status totals between two engines that counts as agreeing."""
NOISE_MU = 1e-6
"""Absolute differences below this (亩, 0.0007 m²) are floating-point slivers, not disagreement."""
TOTAL_COLUMNS = ["area_mu", "approved_mu", "illegal_mu", "pbf_mu"]


def peak_rss_mb() -> float:
    """Peak resident memory of this process (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def baseline_violations(project) -> "object":
    """The violation analysis written plainly with geopandas.overlay; returns the located, judged patches."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from kmrv_geo import landuse
    from kmrv_geo.analysis.steps import zone_levels
    from kmrv_geo.units import M2_PER_MU

    t0, t1 = project.vectors["landuse_t0"], project.vectors["landuse_t1"]
    planting = "ZZSXDM" in t0 and "ZZSXDM" in t1
    cols = ["code", "category"] + (["ZZSXDM"] if planting else []) + ["geometry"]
    farm0 = t0.loc[t0["category"] == landuse.FARMLAND, cols]
    pieces = gpd.overlay(farm0, t1[cols], how="intersection", keep_geom_type=True)
    to_class = {landuse.FARMLAND: "kept", landuse.CONSTRUCTION: "nonagri", landuse.OTHER_AGRICULTURAL: "nongrain"}
    pieces["change_class"] = pieces["category_2"].map(to_class).fillna("other")
    if planting:  # still farmland, but its planting attribute turned non-grain (种植属性 LS → FLS)
        p0 = pieces["ZZSXDM_1"].astype("string").str.strip().str.upper()
        p1 = pieces["ZZSXDM_2"].astype("string").str.strip().str.upper()
        fls = ((pieces["change_class"] == "kept") & (p1 == "FLS") & (p0 != "FLS")).fillna(False).astype(bool)
        pieces.loc[fls, "change_class"] = "nongrain"
    gained = gpd.overlay(t0.loc[t0["category"] != landuse.FARMLAND, cols],
                         t1.loc[t1["category"] == landuse.FARMLAND, cols], how="intersection", keep_geom_type=True)
    gained["change_class"] = "supplement"
    changed = pd.concat([pieces[pieces["change_class"] != "kept"], gained], ignore_index=True)
    changed = changed.rename(columns={"code_1": "t0_code", "code_2": "t1_code"})
    patches = changed[["change_class", "t0_code", "t1_code", "geometry"]].dissolve(
        by=["change_class", "t0_code", "t1_code"], as_index=False).explode(index_parts=False, ignore_index=True)
    limits = project.config.thresholds.min_patch_m2
    kind = {"nonagri": limits.construction, "nongrain": limits.agricultural, "supplement": limits.agricultural,
            "other": limits.other}
    patches = patches[patches.area >= patches["change_class"].map(kind)]
    levels = zone_levels(project)
    for level, columns in (("county", ["county_code"]), ("township", ["township"]), ("village", ["village"])):
        if level in levels:
            zones = levels[level][0][columns + ["geometry"]]
            patches = gpd.overlay(patches, zones, how="identity", keep_geom_type=True)
    patches = patches.reset_index(drop=True)
    patches["pid"] = np.arange(len(patches))
    patches["area_mu"] = patches.area / M2_PER_MU
    for role, column in (("approvals", "approved_mu"), ("pbf", "pbf_mu")):
        layer = project.vectors.get(role)
        patches[column] = 0.0
        if layer is not None and len(patches):
            zone = gpd.GeoDataFrame(geometry=[layer.union_all()], crs=layer.crs).explode(index_parts=False)
            subject = patches if role == "pbf" else patches[patches["change_class"] == "nonagri"]
            inside = gpd.overlay(subject[["pid", "geometry"]], zone, how="intersection", keep_geom_type=True)
            sums = (inside.area / M2_PER_MU).groupby(inside["pid"]).sum()
            patches[column] = patches["pid"].map(sums).fillna(0.0)
    nonagri = patches["change_class"] == "nonagri"
    patches["approved_mu"] = np.minimum(patches["approved_mu"], patches["area_mu"]).where(nonagri, 0.0)
    patches["illegal_mu"] = (patches["area_mu"] - patches["approved_mu"]).where(nonagri, 0.0)
    zero = 0.01 / M2_PER_MU
    status = np.select(
        [nonagri & (patches["illegal_mu"] <= zero), nonagri & (patches["approved_mu"] <= zero), nonagri,
         (patches["change_class"] == "nongrain") & (patches["pbf_mu"] > zero), patches["change_class"] == "nongrain",
         patches["change_class"] == "supplement"],
        ["approved", "illegal", "partly_approved", "nongrain_on_pbf", "nongrain", "supplement"], default="other")
    patches["status"] = status
    return patches


def totals(patches) -> dict:
    """Per-status sums of the verdict columns, and the patch count (for the agreement check)."""
    grouped = patches.groupby("status")[TOTAL_COLUMNS].sum()
    return {"patches": int(len(patches)), **{s: {c: float(v) for c, v in row.items()} for s, row in grouped.iterrows()}}


def _job(args: tuple) -> dict:
    """One measurement in a fresh process: load (untimed), run one engine (timed)."""
    engine, config_path, out_dir = args
    from kmrv_geo import pipeline
    from kmrv_geo.analysis import steps
    from kmrv_geo.config import load_config
    from kmrv_geo.project import load_project

    if engine == "e2e":
        start = time.perf_counter()
        pipeline.run(config_path, out_dir, overwrite=True, steps=("violations",))
        return {"seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb()}
    project = load_project(load_config(config_path))
    loaded_mb = peak_rss_mb()
    start = time.perf_counter()
    if engine == "kmrv":
        patches = steps.run_violations(project).patches
    elif engine == "dask":
        patches = steps.run_violations(project, engine="dask").patches
    else:
        patches = baseline_violations(project)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "loaded_rss_mb": loaded_mb, "totals": totals(patches)}


def measure(engine: str, config_path: Path, out_dir: Path) -> dict:
    """Run :func:`_job` in a spawned process (so memory and caches start clean)."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_job, ((engine, str(config_path), str(out_dir)),))


def agree(a: dict, b: dict) -> tuple[bool, float]:
    """Whether two totals agree to :data:`AGREEMENT` (relative), and the largest relative difference."""
    worst = 0.0
    for status in set(a) | set(b):
        if status == "patches":
            continue
        for column in TOTAL_COLUMNS:
            x, y = a.get(status, {}).get(column, 0.0), b.get(status, {}).get(column, 0.0)
            if abs(x - y) < NOISE_MU:
                continue
            worst = max(worst, abs(x - y) / max(abs(x), abs(y)))
    return worst <= AGREEMENT, worst


def markdown(results: dict) -> str:
    """The results as a markdown table."""
    lines = ["| parcels | engine | seconds | peak RSS (MB) | vs baseline | agrees (max rel. diff) |",
             "| ---: | --- | ---: | ---: | ---: | --- |"]
    for size, row in results["sizes"].items():
        base = row.get("baseline", {}).get("seconds")
        for engine, m in row.items():
            if not isinstance(m, dict) or "seconds" not in m:
                continue
            ratio = f"{base / m['seconds']:.2f}× faster" if base and engine in ("kmrv", "dask") else ""
            agreement = row.get("agreement", {}).get(engine)
            agreed = f"{agreement['agrees']} ({agreement['max_relative_difference']:.1e})" if agreement else ""
            lines.append(f"| {int(size):,} | {engine} | {m['seconds']:.1f} | {m['peak_rss_mb']:.0f} | {ratio} | {agreed} |")
    if results.get("scaling"):
        lines.append("")
        for engine, exps in results["scaling"].items():
            lines.append(f"- scaling exponent of {engine}: " + ", ".join(f"{k}: {v:.2f}" for k, v in exps.items()))
    lines.append(f"- PostGIS: {results['postgis']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Make the samples, run the measurements, write results.json and results.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000, 1_000_000])
    parser.add_argument("--engines", nargs="+", default=["kmrv", "baseline", "e2e"],
                        choices=["kmrv", "baseline", "e2e", "dask"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench")
    parser.add_argument("--data", type=Path, default=None, help="where the samples are cached (default OUT/data)")
    parser.add_argument("--seed", type=int, default=2023)
    args = parser.parse_args(argv)
    from kmrv_geo.sample import make_sample

    out = args.out
    data = args.data or out / "data"
    out.mkdir(parents=True, exist_ok=True)
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
               "written_at": time.strftime("%Y-%m-%d %H:%M:%S"), "sizes": {},
               "postgis": "reachable (not benchmarked yet)" if os.environ.get("KMRV_BENCH_POSTGIS") else "not reachable"}
    for size in args.sizes:
        folder = data / f"n{size}-s{args.seed}"
        if not (folder / "demo.yml").exists():
            print(f"making the {size:,}-parcel sample …", flush=True)
            make_sample(folder, n_parcels=size, seed=args.seed)
        row: dict = {}
        for engine in args.engines:
            print(f"{size:,} parcels: {engine} …", flush=True)
            row[engine] = measure(engine, folder / "demo.yml", out / "runs" / f"n{size}-{engine}")
            print(f"  {row[engine]['seconds']:.1f} s, peak {row[engine]['peak_rss_mb']:.0f} MB", flush=True)
        if "baseline" in row:
            row["agreement"] = {}
            for engine in ("kmrv", "dask"):
                if engine in row:
                    ok, worst = agree(row[engine]["totals"], row["baseline"]["totals"])
                    row["agreement"][engine] = {"agrees": ok, "max_relative_difference": worst}
        results["sizes"][str(size)] = row
    sizes = sorted(args.sizes)
    results["scaling"] = {}
    for engine in args.engines:
        exps = {}
        for a, b in zip(sizes, sizes[1:], strict=False):
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
