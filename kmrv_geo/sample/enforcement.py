"""Synthetic 卫片执法 layers of the sample (示例数据，合成): monitoring patches and what judges them.

:func:`make_enforcement` adds to the sample, from what :mod:`.changes` injected:

- ``facility_filings`` (设施农用地备案): about half of the ``nongrain`` changes to facility land 1202;
- ``temporary_use`` (临时用地): about a third of the unapproved, off-PBF ``nonagri`` changes, half with a
  permit still valid at the end of 2023 and half expired before mid-2023, plus two permits on unchanged land
  whose end date cannot be read;
- ``supplement_projects`` (土地整治/补充耕地项目): about half of the ``supplement`` changes;
- ``erl`` (生态保护红线): a few blocks of the forested hills away from the lake, plus a handful of the
  unapproved, off-PBF ``nonagri`` changes (construction inside the ERL);
- ``udb`` (城镇开发边界): the built-up cores of the land-use model;
- ``monitoring_patches`` (卫片监测图斑): one patch per visible change piece (not below the minimum size, not a
  planting-attribute change), shrunk 0.3 m inward, plus about 10 % unchanged farmland decoys;
- ``truth_patches``: the verdict each patch should get and the facts that decide it.

A polygon that covers a change piece (with a 3–10 m margin) keeps at least :data:`GAP_M` away from every
other change piece, so the truth follows from what was injected, without any overlay: the analysis that
overlays the layers must find exactly these verdicts. Nothing here is real: every number, name and date is
invented.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._util import choose, group_union, largest_part, polygons_only, sorted_pairs
from .changes import ZERO_M2, _rectangles
from .geography import CITIES, CRS, Extent, short_name, to_gk

__all__ = ["LAYERS", "REASONS", "make_enforcement", "expected_verdicts"]

logger = logging.getLogger(__name__)

LAYERS = ("facility_filings", "temporary_use", "supplement_projects", "erl", "udb", "monitoring_patches",
          "truth_patches")
"""The layers :func:`make_enforcement` returns, in this order."""
MARGIN_M = (3.0, 10.0)
"""A covering polygon reaches this far (m, drawn per polygon) beyond the change piece it covers."""
GAP_M = 0.5
"""Every new polygon keeps at least this far from the change pieces it does not cover."""
SHRINK_M = 0.3
"""Monitoring patches are drawn this far inside the change (a patch never spills onto a neighbour)."""
PBF_MIN_M2 = 1.0
"""A piece is on PBF when at least this much of it is (the analysis ignores smaller parts)."""
DECOY_SHARE = 0.10
GIVEN_CODE_SHARE = 2.0 / 3.0
"""Share of the patches whose after-code BGHDL is given (the rest must be judged from the 2023 survey)."""
ERL_TYPES = {"水源涵养": 0.4, "水土保持": 0.35, "生物多样性维护": 0.25}
ERL_BLOCK_M = 3000.0
ERL_BLOCKS = 4
"""The hill part of the ERL: the forest/grass parcels of this many 3 km blocks (the most hilly ones)."""
UDB_CLOSE_M = 150.0
UDB_MIN_M2 = 1.0e6
UNREADABLE_DATES = ("待定", "2023-13-45")
"""End dates (JSRQ) of the two temporary permits the analysis cannot read."""
WATER_AND_ROADS = ("1001", "1002", "1003", "1004", "1006", "1101", "1102", "1103", "1104", "1107")

REASONS = {
    "approved_conversion": "legal",
    "pbf_conversion_approved": "to_check",
    "unapproved_conversion": "illegal",
    "unapproved_conversion_on_pbf": "illegal",
    "temporary_use_valid": "legal",
    "temporary_use_expired": "illegal",
    "construction_in_erl": "illegal",
    "facility_filed": "legal",
    "facility_unfiled": "illegal",
    "nongrain_on_pbf": "illegal",
    "nongrain_general": "to_check",
    "supplement_project": "legal",
    "new_farmland": "legal",
    "farmland_to_other": "to_check",
    "unchanged": "legal",
}
"""Every expected reason and its verdict (``legal``, ``illegal``, ``to_check``)."""
TRUTH_PATCH_COLUMNS = ["JCBH", "kind", "expected_verdict", "expected_reason", "planned_approval", "on_pbf",
                       "facility_filed", "temporary", "in_erl", "in_supplement", "document", "t1_code", "t0_bsm",
                       "t1_bsm"]


def make_enforcement(t0: gpd.GeoDataFrame, truth: gpd.GeoDataFrame, *, model: pd.DataFrame, on_pbf: np.ndarray,
                     pbf: gpd.GeoDataFrame, approvals: gpd.GeoDataFrame, extent: Extent,
                     rng: np.random.Generator) -> dict[str, gpd.GeoDataFrame]:
    """Make the 卫片执法 layers of the sample and their ground truth (示例数据).

    Parameters
    ----------
    t0 : GeoDataFrame
        2022 land use (``BSM`` = row + 1, ``DLBM``, ``XZQDM``).
    truth : GeoDataFrame
        The finished ``truth_changes`` (:func:`.changes.finish_truth`).
    model : pandas.DataFrame
        The land-use model of ``t0`` (``hill``, ``urban``, ``lake_m`` per parcel).
    on_pbf : numpy.ndarray of bool
        Which 2022 parcels are PBF (PBF is made of whole parcels).
    pbf, approvals : GeoDataFrame
        The sample's PBF and approval layers (new polygons keep off them where it matters).
    extent : Extent
        The study area, the lake and the county names.
    rng : numpy.random.Generator
        Its own stream (``stream(seed, "enforcement")``), so the other layers do not move.

    Returns
    -------
    dict of str to GeoDataFrame
        The layers of :data:`LAYERS`, in the analysis CRS.

    Examples
    --------
    >>> layers = make_enforcement(t0, truth, model=model, on_pbf=on_pbf, pbf=pbf, approvals=approvals,
    ...                           extent=extent, rng=stream(2023, "enforcement"))  # doctest: +SKIP
    >>> layers["truth_patches"]["expected_verdict"].value_counts()  # doctest: +SKIP
    """
    pieces = np.asarray(truth.geometry.values, dtype=object)
    kind = truth["kind"].to_numpy().astype(object)
    plan = truth["planned_approval"].to_numpy().astype(object)
    t1_code = truth["t1_code"].to_numpy().astype(object)
    county = truth["XZQDM"].to_numpy().astype(object)
    pbf_m2 = truth["on_pbf_m2"].to_numpy(dtype=float)
    visible = ~truth["below_min"].to_numpy(dtype=bool) & (truth["basis"].to_numpy() == "land_use")
    names = dict(zip(extent.counties["XZQDM"], extent.counties["XZQMC"], strict=True))
    tree = shapely.STRtree(pieces)

    udb = _udb(t0, model, extent)
    udb_geoms = np.asarray(udb.geometry.values, dtype=object)
    in_udb = np.zeros(len(pieces), dtype=bool)
    if len(udb_geoms):
        in_udb[np.unique(sorted_pairs(shapely.STRtree(udb_geoms), pieces)[0])] = True

    # which pieces each layer covers (balanced picks: both outcomes occur whenever there are two candidates)
    facility = (kind == "nongrain") & (t1_code == "1202")
    filed = np.sort(np.concatenate([_pick(rng, np.flatnonzero(facility & visible), 0.5),
                                    _pick(rng, np.flatnonzero(facility & ~visible), 0.5)]))
    supplement = kind == "supplement"
    projects = np.sort(np.concatenate([_pick(rng, np.flatnonzero(supplement & visible), 0.5),
                                       _pick(rng, np.flatnonzero(supplement & ~visible), 0.5)]))
    unapproved = np.flatnonzero((kind == "nonagri") & (plan == "none") & (pbf_m2 < ZERO_M2) & visible)
    temporary, valid, in_erl = _split_unapproved(rng, unapproved, in_udb)

    filings = _filings(rng, pieces, filed, tree, county, names)
    permits = _permits(rng, pieces, temporary, valid, tree, county, t0, approvals)
    project_frame = _projects(rng, pieces, projects, tree, county, names)
    erl = _erl(rng, pieces, in_erl, tree, county, names, t0, model, pbf, approvals, udb_geoms)

    covered = {"facility_filed": (filed, filings["BAH"].to_numpy()),
               "in_supplement": (projects, project_frame["XMBH"].to_numpy())}
    patches, patch_truth = _patches(rng, t0, truth, on_pbf, visible, covered, temporary, valid, in_erl, permits,
                                    erl, names, blockers=[filings, permits, project_frame, erl, udb, approvals])
    layers = {
        "facility_filings": _sorted(filings, ["BARQ", "BAH"]),
        "temporary_use": _sorted(permits, ["QSRQ", "PZWH"]),
        "supplement_projects": _sorted(project_frame, ["YSRQ", "XMBH"]),
        "erl": erl.drop(columns="piece").reset_index(drop=True),
        "udb": udb,
        "monitoring_patches": patches,
        "truth_patches": patch_truth,
    }
    logger.debug("enforcement: %s", {name: len(frame) for name, frame in layers.items()})
    return layers


def expected_verdicts(facts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The verdict and reason each patch should get, from the facts injected (no overlay).

    Parameters
    ----------
    facts : pandas.DataFrame
        ``kind``, ``planned_approval``, ``on_pbf``, ``facility_filed``, ``temporary`` (``valid``,
        ``expired`` or ``""``), ``in_erl``, ``in_supplement``, ``t1_code``.

    Returns
    -------
    verdict, reason : numpy.ndarray of str
        ``legal`` / ``illegal`` / ``to_check`` and one key of :data:`REASONS`.
    """
    kind = facts["kind"].to_numpy()
    plan = facts["planned_approval"].to_numpy()
    on_pbf = facts["on_pbf"].to_numpy(dtype=bool)
    temporary = facts["temporary"].to_numpy()
    nonagri = kind == "nonagri"
    facility = (kind == "nongrain") & (facts["t1_code"].to_numpy() == "1202")
    new_farmland = np.isin(kind, ["supplement", "back_in"])
    reason = np.select(
        [
            nonagri & (plan == "full") & on_pbf,
            nonagri & (plan == "full"),
            nonagri & (plan == "none") & (temporary == "valid"),
            nonagri & (plan == "none") & (temporary == "expired"),
            nonagri & (plan == "none") & facts["in_erl"].to_numpy(dtype=bool),
            nonagri & on_pbf,
            nonagri,
            facility & facts["facility_filed"].to_numpy(dtype=bool),
            facility,
            (kind == "nongrain") & on_pbf,
            kind == "nongrain",
            new_farmland & facts["in_supplement"].to_numpy(dtype=bool),
            new_farmland,
            kind == "other",
        ],
        ["pbf_conversion_approved", "approved_conversion", "temporary_use_valid", "temporary_use_expired",
         "construction_in_erl", "unapproved_conversion_on_pbf", "unapproved_conversion", "facility_filed",
         "facility_unfiled", "nongrain_on_pbf", "nongrain_general", "supplement_project", "new_farmland",
         "farmland_to_other"],
        default="unchanged",
    ).astype(object)
    verdict = pd.Series(reason).map(REASONS).to_numpy().astype(object)
    return verdict, reason


def _pick(rng: np.random.Generator, idx: np.ndarray, share: float) -> np.ndarray:
    """About ``share`` of ``idx`` at random; with two or more, at least one is taken and one left."""
    if idx.size == 0:
        return idx.astype(np.int64)
    n = int(round(share * idx.size))
    n = min(max(n, 1), idx.size - 1) if idx.size >= 2 else int(rng.uniform() < share)
    return np.sort(idx[rng.permutation(idx.size)[:n]])


def _split_unapproved(rng: np.random.Generator, idx: np.ndarray, in_udb: np.ndarray):
    """Unapproved off-PBF construction: a third under a temporary permit (half valid, half expired), a
    handful inside the ERL (outside the UDB first), the rest plainly unapproved.

    Returns
    -------
    temporary, valid, in_erl : numpy.ndarray
        Pieces under a permit, whether each permit is valid, and the pieces inside the ERL.
    """
    order = idx[rng.permutation(idx.size)]
    c = order.size
    n_temp = min(max(int(round(c / 3)), 2), c - 2) if c >= 4 else min(c, 1)
    temporary = order[:n_temp]
    n_valid = (n_temp + 1) // 2
    valid = np.zeros(n_temp, dtype=bool)
    valid[rng.permutation(n_temp)[:n_valid]] = True
    rest = order[n_temp:]
    rest = rest[np.argsort(in_udb[rest], kind="stable")]
    n_erl = min(max(int(round(0.15 * c)), 1), rest.size - 1) if rest.size >= 2 else 0
    in_erl = np.sort(rest[:n_erl])
    keep = np.argsort(temporary)
    return temporary[keep], valid[keep], in_erl


def _cover(rng: np.random.Generator, pieces: np.ndarray, idx: np.ndarray, tree: shapely.STRtree,
           avoid: np.ndarray | None = None) -> np.ndarray:
    """Polygons covering ``pieces[idx]`` with a 3–10 m margin that keep :data:`GAP_M` off every other piece
    (and off ``avoid``), each still covering its whole piece.
    """
    grown = shapely.buffer(pieces[idx], rng.uniform(*MARGIN_M, idx.size), join_style="mitre", quad_segs=2)
    if idx.size == 0:
        return grown
    gi, pj = sorted_pairs(tree, shapely.buffer(grown, GAP_M, quad_segs=2))
    other = idx[gi] != pj
    gi, pj = gi[other], pj[other]
    if gi.size:
        keys, blockers = group_union(shapely.buffer(pieces[pj], GAP_M, quad_segs=2), gi)
        grown[keys] = shapely.difference(grown[keys], blockers)
    if avoid is not None and len(avoid):
        gi, aj = sorted_pairs(shapely.STRtree(avoid), grown)
        if gi.size:
            keys, blockers = group_union(avoid[aj], gi)
            grown[keys] = shapely.difference(grown[keys], blockers)
    return _clean(shapely.union(grown, pieces[idx]))


def _clean(geoms: np.ndarray) -> np.ndarray:
    """Polygonal part of each geometry as one Polygon or MultiPolygon (empty Polygon when none is left)."""
    geoms = np.asarray(geoms, dtype=object)
    out = np.array([shapely.Polygon()] * len(geoms), dtype=object)
    parts, index = polygons_only(geoms)
    if parts.size:
        keys = np.unique(index)
        out[keys] = shapely.multipolygons(parts, indices=np.searchsorted(keys, index))
        single = np.bincount(index, minlength=len(geoms))[keys] == 1
        out[keys[single]] = shapely.get_geometry(out[keys[single]], 0)
    return out


def _dates(rng: np.random.Generator, start: str, days: int, size: int) -> np.ndarray:
    """``size`` dates ``YYYY-MM-DD`` from ``start`` to ``days`` later."""
    offset = pd.to_timedelta(rng.integers(0, days + 1, size), unit="D")
    return (pd.Timestamp(start) + offset).strftime("%Y-%m-%d").to_numpy().astype(object)


def _numbers(rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` distinct document numbers (unique 文号 within a layer)."""
    return rng.choice(np.arange(1, 10 * size + 100), size=size, replace=False)


def _filings(rng, pieces, idx, tree, county, names) -> gpd.GeoDataFrame:
    """设施农用地备案 covering the filed facility pieces: BAH, BARQ, XZQDM."""
    dates = _dates(rng, "2022-06-01", 450, idx.size)
    numbers = _numbers(rng, idx.size)
    bah = [f"{short_name(names[c])}设施备〔{d[:4]}〕{n}号" for c, d, n in zip(county[idx], dates, numbers, strict=True)]
    return gpd.GeoDataFrame({"BAH": np.asarray(bah, dtype=object), "BARQ": dates, "XZQDM": county[idx],
                             "piece": idx}, geometry=_cover(rng, pieces, idx, tree), crs=CRS)


def _permits(rng, pieces, idx, valid, tree, county, t0, approvals) -> gpd.GeoDataFrame:
    """临时用地 covering the permitted pieces (JSRQ after 2023 when valid, before mid-2023 when expired),
    plus two permits with an unreadable end date on unchanged land: PZWH, QSRQ, JSRQ, XZQDM.
    """
    # valid: from mid-2022 … mid-2023 for 600–730 days (ends in 2024 or 2025); expired: ended 2022-10 … 2023-06
    start_valid = pd.to_datetime(_dates(rng, "2022-06-01", 364, idx.size))
    end_valid = start_valid + pd.to_timedelta(rng.integers(600, 731, idx.size), unit="D")
    end_expired = pd.to_datetime(_dates(rng, "2022-10-01", 270, idx.size))
    start_expired = end_expired - pd.to_timedelta(rng.integers(365, 731, idx.size), unit="D")
    spare = _spare_parcels(rng, t0, pieces, approvals, len(UNREADABLE_DATES))
    spare_geoms = _clean(shapely.buffer(np.asarray(t0.geometry.values, dtype=object)[spare], -2.0,
                                        join_style="mitre"))
    end = np.where(valid, end_valid.strftime("%Y-%m-%d"), end_expired.strftime("%Y-%m-%d")).astype(object)
    start = np.concatenate([np.where(valid, start_valid.strftime("%Y-%m-%d"), start_expired.strftime("%Y-%m-%d")),
                            _dates(rng, "2022-03-01", 450, spare.size)]).astype(object)
    numbers = _numbers(rng, idx.size + spare.size)
    pzwh = [f"昆临用〔{s[:4]}〕{n}号" for s, n in zip(start, numbers, strict=True)]
    return gpd.GeoDataFrame({
        "PZWH": np.asarray(pzwh, dtype=object),
        "QSRQ": start,
        "JSRQ": np.concatenate([end, np.asarray(UNREADABLE_DATES[: spare.size], dtype=object)]),
        "XZQDM": np.concatenate([county[idx], t0["XZQDM"].to_numpy()[spare]]).astype(object),
        "piece": np.concatenate([idx, np.full(spare.size, -1)]),
    }, geometry=np.concatenate([_cover(rng, pieces, idx, tree), spare_geoms]), crs=CRS)  # fmt: skip


def _spare_parcels(rng, t0, pieces, approvals, n: int) -> np.ndarray:
    """``n`` unchanged land parcels (not water or roads) that touch no change piece and no approval."""
    geoms = np.asarray(t0.geometry.values, dtype=object)
    area = shapely.area(geoms)
    ok = (area >= 2000.0) & ~np.isin(t0["DLBM"].to_numpy(), WATER_AND_ROADS)
    candidates = np.flatnonzero(ok)
    candidates = candidates[rng.permutation(candidates.size)][: 20 * n + 50]
    candidates = candidates[~_hits(geoms[candidates], pieces, GAP_M + 2.0)]
    candidates = candidates[~_hits(geoms[candidates], np.asarray(approvals.geometry.values, dtype=object), 1.0)]
    return np.sort(candidates[:n])


def _hits(geoms: np.ndarray, others: np.ndarray, distance: float) -> np.ndarray:
    """Which ``geoms`` come within ``distance`` of any of ``others``."""
    out = np.zeros(len(geoms), dtype=bool)
    if len(geoms) and len(others):
        left, _ = shapely.STRtree(others).query(geoms, predicate="dwithin", distance=distance)
        out[left] = True
    return out


def _projects(rng, pieces, idx, tree, county, names) -> gpd.GeoDataFrame:
    """土地整治/补充耕地项目 covering the chosen supplement pieces: XMBH, XMMC, YSRQ, XZQDM."""
    accepted = _dates(rng, "2022-12-01", 300, idx.size)
    years = rng.integers(2020, 2023, idx.size)
    numbers = _numbers(rng, idx.size)
    xmbh = [f"{c}{y}{n:04d}" for c, y, n in zip(county[idx], years, numbers, strict=True)]
    xmmc = [f"{short_name(names[c])}示例补充耕地项目{i + 1}号" for i, c in enumerate(county[idx])]
    return gpd.GeoDataFrame({"XMBH": np.asarray(xmbh, dtype=object), "XMMC": np.asarray(xmmc, dtype=object),
                             "YSRQ": accepted, "XZQDM": county[idx], "piece": idx},
                            geometry=_cover(rng, pieces, idx, tree), crs=CRS)


def _udb(t0: gpd.GeoDataFrame, model: pd.DataFrame, extent: Extent) -> gpd.GeoDataFrame:
    """城镇开发边界: the built-up cores of the land-use model, closed by 150 m, holes under 1 km² filled,
    without the lake; one feature per city centre of :data:`.geography.CITIES`: MC.
    """
    geoms = np.asarray(t0.geometry.values, dtype=object)
    hill = np.clip(model["hill"].to_numpy(dtype=float), 0.0, 1.0)
    built = (model["urban"].to_numpy(dtype=float) * (1.0 - 0.5 * hill) > 0.4) & (t0["DLBM"].to_numpy() != "1102")
    if not built.any():
        return gpd.GeoDataFrame({"MC": np.zeros(0, dtype=object)}, geometry=[], crs=CRS)
    core = shapely.union_all(geoms[built])
    closed = shapely.buffer(shapely.buffer(core, UDB_CLOSE_M, quad_segs=2), -UDB_CLOSE_M, quad_segs=2)
    closed = shapely.difference(shapely.intersection(closed, extent.area), extent.lake)
    parts, _ = polygons_only(np.array([closed], dtype=object))
    shells = shapely.polygons(shapely.get_exterior_ring(parts))  # small holes filled, big ones kept
    holes, owner = polygons_only(shapely.difference(shells, parts))
    big = shapely.area(holes) >= UDB_MIN_M2
    if big.any():
        keys, unions = group_union(holes[big], owner[big])
        shells[keys] = shapely.difference(shells[keys], unions)
    area = shapely.area(shells)
    keep = area >= UDB_MIN_M2
    if not keep.any():
        keep = area == area.max()
    shells = shells[keep]
    point = shapely.point_on_surface(shells)
    cx, cy = to_gk([c[1] for c in CITIES], [c[2] for c in CITIES])
    nearest = np.argmin(np.hypot(shapely.get_x(point)[:, None] - cx, shapely.get_y(point)[:, None] - cy), axis=1)
    cities, merged = group_union(shells, nearest)  # one feature per city, in the order of CITIES
    names = [f"{CITIES[i][0]}城镇开发边界（示例）" for i in cities]
    return gpd.GeoDataFrame({"MC": np.asarray(names, dtype=object)}, geometry=_clean(merged), crs=CRS)


def _erl(rng, pieces, idx, tree, county, names, t0, model, pbf, approvals, udb) -> gpd.GeoDataFrame:
    """生态保护红线: forest/grass parcels of the most hilly 3 km blocks away from the lake, and polygons
    covering the pieces ``idx`` (construction inside the ERL); never on PBF, the UDB or an approval: HXMC, HXLX.
    """
    geoms = np.asarray(t0.geometry.values, dtype=object)
    codes = t0["DLBM"].to_numpy().astype(str)
    hill = model["hill"].to_numpy(dtype=float)
    wild = (np.char.startswith(codes, "03") | np.char.startswith(codes, "04")) & (hill >= 0.55)
    wild &= model["lake_m"].to_numpy(dtype=float) >= 3000.0
    rows = np.flatnonzero(wild)
    avoid = np.concatenate([np.asarray(pbf.geometry.values, dtype=object), udb,
                            np.asarray(approvals.geometry.values, dtype=object)])
    hill_geoms = np.zeros(0, dtype=object)
    if rows.size:
        centre = shapely.centroid(geoms[rows])
        block = (np.floor(shapely.get_y(centre) / ERL_BLOCK_M).astype(np.int64) * 1_000_000
                 + np.floor(shapely.get_x(centre) / ERL_BLOCK_M).astype(np.int64))
        keys, block_of = np.unique(block, return_inverse=True)
        weight = np.bincount(block_of, weights=shapely.area(geoms[rows]) * hill[rows], minlength=keys.size)
        weight *= rng.uniform(0.8, 1.0, keys.size)
        chosen = np.sort(np.argsort(-weight, kind="stable")[:ERL_BLOCKS])
        sel = np.isin(block_of, chosen)
        _, hill_geoms = group_union(geoms[rows[sel]], block_of[sel])
        gap = shapely.buffer(pieces, GAP_M, quad_segs=2)
        for others in (gap, avoid):
            if len(others) and len(hill_geoms):
                hi, oj = sorted_pairs(shapely.STRtree(others), hill_geoms)
                if hi.size:
                    ukeys, unions = group_union(others[oj], hi)
                    hill_geoms[ukeys] = shapely.difference(hill_geoms[ukeys], unions)
        hill_geoms = _clean(hill_geoms)
        hill_geoms = hill_geoms[~shapely.is_empty(hill_geoms)]
    m = hill_geoms.size + idx.size
    kinds = choose(rng, ERL_TYPES, m)
    near = np.concatenate([_county_at(hill_geoms, t0), county[idx]]).astype(object)
    hxmc = [f"{short_name(names[c])}{k}生态保护红线（示例{i + 1}）"
            for i, (c, k) in enumerate(zip(near, kinds, strict=True))]
    return gpd.GeoDataFrame({"HXMC": np.asarray(hxmc, dtype=object), "HXLX": kinds,
                             "piece": np.concatenate([np.full(hill_geoms.size, -1), idx])},
                            geometry=np.concatenate([hill_geoms, _cover(rng, pieces, idx, tree,
                                                                        np.concatenate([avoid, hill_geoms]))]),
                            crs=CRS)


def _county_at(geoms: np.ndarray, t0: gpd.GeoDataFrame) -> np.ndarray:
    """County code of the 2022 parcel under a point inside each geometry."""
    if len(geoms) == 0:
        return np.zeros(0, dtype=object)
    left, right = sorted_pairs(shapely.STRtree(np.asarray(t0.geometry.values, dtype=object)),
                               shapely.point_on_surface(geoms), predicate="within")
    first = np.unique(left, return_index=True)[1]
    out = np.full(len(geoms), "", dtype=object)
    out[left[first]] = t0["XZQDM"].to_numpy()[right[first]]
    return out



def _decoys(rng, t0, truth, n: int, blockers: list[gpd.GeoDataFrame]) -> np.ndarray:
    """Rows of ``n`` unchanged farmland parcels that touch no change and lie on none of ``blockers`` (PBF is
    no blocker: unchanged farmland on PBF is the commonest decoy).
    """
    geoms = np.asarray(t0.geometry.values, dtype=object)
    touched = np.zeros(len(t0), dtype=bool)
    touched[truth["t0_bsm"].to_numpy() - 1] = True  # BSM = row + 1 in 2022
    farmland = np.isin(t0["DLBM"].to_numpy(), ["0101", "0102", "0103"]) & ~touched
    farmland &= shapely.area(geoms) >= 1200.0
    candidates = np.flatnonzero(farmland)
    candidates = candidates[rng.permutation(candidates.size)][: 5 * n + 50]
    candidates = candidates[~_hits(geoms[candidates], np.asarray(truth.geometry.values, dtype=object), GAP_M)]
    others = np.concatenate([np.asarray(b.geometry.values, dtype=object) for b in blockers])
    candidates = candidates[~_hits(geoms[candidates], others, 0.0)]
    return np.sort(candidates[:n])


def _patches(rng, t0, truth, on_pbf, visible, covered, temporary, valid, in_erl, permits, erl, names, *, blockers):
    """``monitoring_patches`` and ``truth_patches`` (same JCBH, same geometry, same order)."""
    real = np.flatnonzero(visible)
    pieces = np.asarray(truth.geometry.values, dtype=object)
    n_decoys = max(1, int(round(DECOY_SHARE * real.size))) if real.size else 0
    decoy = _decoys(rng, t0, truth, n_decoys, blockers)
    t0_geoms = np.asarray(t0.geometry.values, dtype=object)
    decoy_geoms = t0_geoms[decoy].copy()
    rect = rng.uniform(size=decoy.size) < 0.5
    if rect.any():
        parcel = decoy_geoms[rect]
        centre = shapely.point_on_surface(parcel)
        box = _rectangles(shapely.get_x(centre), shapely.get_y(centre),
                          shapely.area(parcel) * rng.uniform(0.3, 0.6, int(rect.sum())),
                          rng.uniform(0.6, 1.7, int(rect.sum())), rng.uniform(0, np.pi, int(rect.sum())))
        decoy_geoms[rect] = largest_part(shapely.intersection(parcel, box))
    shapes = largest_part(shapely.buffer(np.concatenate([pieces[real], decoy_geoms]), -SHRINK_M,
                                          join_style="mitre"))
    n_real = real.size

    facts = pd.DataFrame({
        "kind": np.concatenate([truth["kind"].to_numpy()[real], np.full(decoy.size, "decoy")]).astype(object),
        "planned_approval": np.concatenate([truth["planned_approval"].to_numpy()[real],
                                            np.full(decoy.size, "")]).astype(object),
        "on_pbf": np.concatenate([truth["on_pbf_m2"].to_numpy(dtype=float)[real] >= PBF_MIN_M2,
                                  np.asarray(on_pbf, dtype=bool)[decoy]]),
        "t1_code": np.concatenate([truth["t1_code"].to_numpy()[real], t0["DLBM"].to_numpy()[decoy]]).astype(object),
        "t0_bsm": np.concatenate([truth["t0_bsm"].to_numpy()[real], t0["BSM"].to_numpy()[decoy]]).astype(np.int64),
        "t1_bsm": np.concatenate([truth["t1_bsm"].to_numpy()[real], t0["BSM"].to_numpy()[decoy]]).astype(np.int64),
        "XZQDM": np.concatenate([truth["XZQDM"].to_numpy()[real], t0["XZQDM"].to_numpy()[decoy]]).astype(object),
    })  # fmt: skip
    position = np.full(len(truth), -1)
    position[real] = np.arange(n_real)
    document = np.full(len(facts), "", dtype=object)
    for column, (idx, docs) in covered.items():
        facts[column] = False
        mine = position[idx] >= 0
        facts.loc[position[idx[mine]], column] = True
        document[position[idx[mine]]] = np.asarray(docs, dtype=object)[mine]
    temp = np.full(len(facts), "", dtype=object)
    temp[position[temporary]] = np.where(valid, "valid", "expired")
    document[position[temporary]] = permits["PZWH"].to_numpy()[: temporary.size]
    facts["temporary"] = temp
    facts["in_erl"] = False
    facts.loc[position[in_erl], "in_erl"] = True
    erl_cover = erl[erl["piece"] >= 0]
    document[position[erl_cover["piece"].to_numpy()]] = erl_cover["HXMC"].to_numpy()
    facts["document"] = document
    facts["expected_verdict"], facts["expected_reason"] = expected_verdicts(facts)

    keep = ~shapely.is_empty(shapes)
    facts, shapes = facts[keep].reset_index(drop=True), shapes[keep]
    point = shapely.point_on_surface(shapes)
    order = np.lexsort((np.round(shapely.get_x(point), 3), -np.round(shapely.get_y(point), 3),
                        facts["XZQDM"].to_numpy().astype(str)))
    facts, shapes = facts.iloc[order].reset_index(drop=True), shapes[order]
    number = facts.groupby("XZQDM").cumcount().to_numpy() + 1
    facts.insert(0, "JCBH", [f"JC{c}-{i:04d}" for c, i in zip(facts["XZQDM"], number, strict=True)])
    m = len(facts)
    given = rng.uniform(size=m) < GIVEN_CODE_SHARE
    patches = gpd.GeoDataFrame({
        "JCBH": facts["JCBH"].to_numpy(),
        "XZQDM": facts["XZQDM"].to_numpy(),
        "XZQMC": facts["XZQDM"].map(names).to_numpy().astype(object),
        "QSX": _dates(rng, "2022-11-01", 29, m),
        "HSX": _dates(rng, "2023-09-01", 90, m),
        "BGHDL": np.where(given, facts["t1_code"].to_numpy(), "").astype(object),
        "JCMJ": np.round(shapely.area(shapes), 2),
    }, geometry=shapes, crs=CRS)  # fmt: skip
    truth_frame = gpd.GeoDataFrame(facts[TRUTH_PATCH_COLUMNS], geometry=shapes, crs=CRS)
    return patches, truth_frame


def _sorted(frame: gpd.GeoDataFrame, by: list[str]) -> gpd.GeoDataFrame:
    """Rows ordered by ``by`` (stable), without the helper column ``piece``."""
    return frame.drop(columns="piece").sort_values(by, kind="stable").reset_index(drop=True)
