"""2023 land use: the 2022 parcels with injected changes of every kind, approvals, and the ground truth.

What is injected (kinds as in ``shared/DOMAIN.md``; ``truth_changes`` has one row per changed piece):

- ``nonagri``: farmland → construction (0601/0702/1003/05xx/…), approved fully, half or not at all,
  on PBF and off PBF;
- ``nongrain``: farmland → garden/forest/pond/facility land (0201/0202/0301/1104/1202), on and off PBF,
  plus a few parcels whose 种植属性 ZZSXDM turns LS → FLS (``basis = planting_attribute``);
- ``supplement`` (占补, new farmland from 0404/1206/1201/0702) and ``back_in`` (进出, farmland regained
  from 0201/0204/0301/0307/1104);
- ``other``: farmland → 1206 bare land / 1101 river;
- below-minimum specks: small rectangles inside a farmland parcel (50–150 m² construction,
  150–380 m² non-grain, 300–550 m² other).

Each change takes a whole parcel, or part of one: a straight cut (a half-plane through the parcel,
placed to take 30–70 % of it), a rectangle inside it, or a speck. A split parcel keeps its BSM for the
remainder; the changed piece is a new 2023 parcel with a new BSM. Changed parcels never touch each
other, so each truth piece is exactly one change patch of an analysis (no merging across pieces).
"""

from __future__ import annotations

import logging
from itertools import product

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import landuse
from ..units import ellipsoidal_area_m2
from ._util import choose, independent_subset, polygons_only, sorted_pairs
from .geography import CRS

logger = logging.getLogger(__name__)

CHANGE_SHARE = 0.03
"""Share of the farmland parcels that change (partial changes take only part of theirs)."""
WHOLE_MAX_M2 = 150_000.0
"""Largest parcel changed as a whole; larger ones change in part only."""
PIECE_CAP_M2 = 60_000.0
"""Largest changed piece cut from a parcel."""
MIN_PATCH_M2 = {"construction": 200.0, "facility": 200.0, "agricultural": 400.0, "other": 600.0}
"""三调 minimum mapped sizes (DOMAIN.md; the demo config uses the same)."""
MIN_KIND = {"nonagri": "construction", "nongrain": "agricultural", "supplement": "agricultural",
            "back_in": "agricultural", "other": "other"}
ZERO_M2 = 0.01
"""Areas below this count as none when the expected status is given (float noise)."""

T1_CODES = {
    "nonagri": {"0601": 0.2, "0702": 0.3, "1003": 0.15, "0501": 0.1, "0505": 0.05, "0701": 0.1, "0604": 0.05,
                "1201": 0.05},
    "nongrain": {"0201": 0.3, "0202": 0.1, "0301": 0.2, "1104": 0.2, "1202": 0.2},
    "supplement": {"0103": 0.6, "0101": 0.2, "0102": 0.2},
    "back_in": {"0103": 0.5, "0102": 0.3, "0101": 0.2},
    "other": {"1206": 0.6, "1101": 0.4},
}  # fmt: skip
SPECK_CODES = {"nonagri": {"0702": 0.6, "0601": 0.2, "0501": 0.2}, "nongrain": {"1202": 0.4, "0201": 0.3, "1104": 0.3},
               "other": {"1206": 1.0}}
SPECK_M2 = {"nonagri": (50.0, 150.0), "nongrain": (150.0, 380.0), "other": (300.0, 550.0)}
SOURCES = {"supplement": ("0404", "1206", "1201", "0702"), "back_in": ("0201", "0204", "0301", "0307", "1104")}
"""T0 codes that new farmland is made from (``supplement``: 占补; ``back_in``: 进出)."""
SHAPES = {"whole": 0.5, "cut": 0.25, "rect": 0.25}
TRUTH_COLUMNS = ["kind", "basis", "shape", "t0_code", "t1_code", "t0_bsm", "t1_bsm", "XZQDM", "area_m2",
                 "on_pbf_m2", "on_hsf_m2", "approved_m2", "illegal_m2", "planned_approval", "status", "below_min"]
APPROVAL_TYPES = {"农用地转用": 0.7, "土地征收": 0.3}


def _plan(n_changes: int) -> pd.DataFrame:
    """The changes to inject: one row per change with kind, shape, PBF wish and approval."""
    rows = []

    def add(weight, **spec):
        rows.append({**spec, "n": max(1, int(round(n_changes * weight)))})

    for (approval, wa), (pbf, wp), (shape, ws) in product(
        [("full", 0.35), ("half", 0.2), ("none", 0.45)], [("on", 0.3), ("off", 0.7)], SHAPES.items()
    ):
        add(0.40 * wa * wp * ws, kind="nonagri", approval=approval, pbf=pbf, shape=shape, basis="land_use")
    for (pbf, wp), (shape, ws) in product([("on", 0.4), ("off", 0.6)], SHAPES.items()):
        add(0.28 * wp * ws, kind="nongrain", approval="", pbf=pbf, shape=shape, basis="land_use")
    add(0.03, kind="nongrain", approval="", pbf="any", shape="whole", basis="planting_attribute")
    for kind, share in (("supplement", 0.10), ("back_in", 0.09), ("other", 0.06)):
        for shape, ws in SHAPES.items():
            add(share * ws, kind=kind, approval="", pbf="any", shape=shape, basis="land_use")
    for kind, share in (("nonagri", 0.03), ("nongrain", 0.03), ("other", 0.01)):
        add(share, kind=kind, approval="none" if kind == "nonagri" else "", pbf="any", shape="speck", basis="land_use")
    return pd.DataFrame(rows)


def _pool_mask(spec, codes, farmland, on_pbf, planting, area, ordinary) -> np.ndarray:
    """Which parcels can take a change of this spec."""
    if spec["kind"] in SOURCES:
        mask = np.isin(codes, SOURCES[spec["kind"]]) & ordinary
    else:
        mask = farmland & ordinary
    if spec["pbf"] == "on":
        mask &= on_pbf
    elif spec["pbf"] == "off":
        mask &= ~on_pbf
    if spec["basis"] == "planting_attribute":
        mask &= np.isin(planting, ["LS", "LYFL"])
    if spec["shape"] == "whole":
        mask &= (area >= 1200.0) & (area <= WHOLE_MAX_M2)
    elif spec["shape"] == "speck":
        mask &= area >= 1500.0
    else:
        mask &= area >= 2500.0
    return mask


def _halfplanes(cx, cy, angle, offset, reach) -> np.ndarray:
    """Half-planes {p : (p − c)·n ≤ offset}, n = (cos angle, sin angle), as big rectangles."""
    nx, ny, dx, dy = np.cos(angle), np.sin(angle), -np.sin(angle), np.cos(angle)
    ax, ay = cx + offset * nx, cy + offset * ny
    bx, by = ax - 2 * reach * nx, ay - 2 * reach * ny
    ring = np.stack([
        np.column_stack([ax + reach * dx, ay + reach * dy]), np.column_stack([ax - reach * dx, ay - reach * dy]),
        np.column_stack([bx - reach * dx, by - reach * dy]), np.column_stack([bx + reach * dx, by + reach * dy]),
        np.column_stack([ax + reach * dx, ay + reach * dy]),
    ], axis=1)  # fmt: skip
    return shapely.polygons(ring)


def _rectangles(cx, cy, area, aspect, angle) -> np.ndarray:
    """Rotated rectangles of the given area and aspect ratio centred at (cx, cy)."""
    a = np.sqrt(area * aspect) / 2
    b = area / (4 * a)
    corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)], dtype=float)
    ex = corners[:, 0][None, :] * a[:, None]
    ey = corners[:, 1][None, :] * b[:, None]
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x = cx[:, None] + ex * cos - ey * sin
    y = cy[:, None] + ex * sin + ey * cos
    return shapely.polygons(np.stack([x, y], axis=-1))


def _cut_pieces(geoms: np.ndarray, target: np.ndarray, rng: np.random.Generator):
    """Cut each parcel with a straight line so the piece on one side has about ``target`` m²
    (vectorised bisection on the line's offset). Returns (pieces, remainders).
    """
    centre = shapely.centroid(geoms)
    cx, cy = shapely.get_x(centre), shapely.get_y(centre)
    bounds = shapely.bounds(geoms)
    reach = np.hypot(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]) + 10.0
    angle = rng.uniform(0, np.pi, len(geoms))
    lo, hi = -reach, reach.copy()
    for _ in range(40):
        mid = (lo + hi) / 2
        got = shapely.area(shapely.intersection(geoms, _halfplanes(cx, cy, angle, mid, reach)))
        small = got < target
        lo = np.where(small, mid, lo)
        hi = np.where(small, hi, mid)
    planes = _halfplanes(cx, cy, angle, (lo + hi) / 2, reach)
    return shapely.intersection(geoms, planes), shapely.difference(geoms, planes)


def _single(geoms: np.ndarray) -> np.ndarray:
    """Mask of geometries that are one non-degenerate Polygon, and their cleaned form."""
    parts, index = polygons_only(geoms)
    counts = np.bincount(index, minlength=len(geoms))
    ok = counts == 1
    out = np.array([None] * len(geoms), dtype=object)
    first = np.searchsorted(index, np.arange(len(geoms)))
    out[ok] = parts[first[ok]]
    return ok, out


def _area_inside(geoms: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """Area of each geometry inside the union of ``zones`` (overlapping zones count once)."""
    out = np.zeros(len(geoms))
    if len(geoms) == 0 or len(zones) == 0:
        return out
    gi, zi = sorted_pairs(shapely.STRtree(zones), geoms)
    if gi.size == 0:
        return out
    pieces = shapely.intersection(geoms[gi], zones[zi])
    table = gpd.GeoDataFrame({"g": gi}, geometry=pieces)
    many = table["g"].duplicated(keep=False).to_numpy()
    np.add.at(out, gi[~many], shapely.area(pieces[~many]))
    if many.any():
        merged = table[many].dissolve(by="g", method="unary")
        np.add.at(out, merged.index.to_numpy(), shapely.area(np.asarray(merged.geometry.values, dtype=object)))
    return out


def inject_changes(t0: gpd.GeoDataFrame, *, on_pbf: np.ndarray, ordinary: np.ndarray, rng: np.random.Generator):
    """Make the 2023 land use, the approvals and the truth of every injected change.

    Parameters
    ----------
    t0 : GeoDataFrame
        2022 land use (``BSM``, ``DLBM``, ``DLMC``, ``ZZSXDM``, ``XZQDM``, ``ZLDWDM``).
    on_pbf : numpy.ndarray of bool
        Which 2022 parcels are PBF.
    ordinary : numpy.ndarray of bool
        Parcels that may change (not the lake, roads, rivers, airport or village cores).
    rng : numpy.random.Generator

    Returns
    -------
    t1 : GeoDataFrame
        2023 land use: rows ``0…len(t0)-1`` are the 2022 parcels (remainders where split), new pieces follow.
    approvals : GeoDataFrame
        ``PZWH``, ``PZRQ``, ``PZLX``, ``XMMC``, ``XZQDM``.
    truth : GeoDataFrame
        One row per changed piece (see :data:`TRUTH_COLUMNS`), without the PBF/HSF/approval areas
        (filled by :func:`finish_truth`).
    """
    geoms = np.asarray(t0.geometry.values, dtype=object)
    n = len(geoms)
    codes = t0["DLBM"].to_numpy().astype(object)
    planting = t0["ZZSXDM"].to_numpy().astype(object)
    farmland = np.isin(codes, ["0101", "0102", "0103"])
    area = shapely.area(geoms)
    plan = _plan(max(20, int(round(CHANGE_SHARE * farmland.sum()))))
    masks = [_pool_mask(spec, codes, farmland, on_pbf, planting, area, ordinary) for spec in plan.to_dict("records")]

    # candidates: for each kind of pool, the first parcels in a random order; then keep a set that never touches
    rank = rng.permutation(n)
    candidates = []
    for mask, need in zip(masks, plan["n"], strict=True):
        idx = np.flatnonzero(mask)
        candidates.append(idx[np.argsort(rank[idx], kind="stable")][: 6 * need + 20])
    spare = np.flatnonzero(ordinary & (area >= 2000.0) & ~np.isin(codes, ["1101", "1102", "1103", "1104", "1107"]))
    candidates.append(spare[np.argsort(rank[spare], kind="stable")][: plan["n"].sum() + 20])
    pool = np.unique(np.concatenate(candidates))
    pool = pool[independent_subset(geoms[pool], rank[pool])]
    pool = pool[np.argsort(rank[pool], kind="stable")]
    used = np.zeros(n, dtype=bool)
    picks = []
    for row, mask in zip(plan.to_dict("records"), masks, strict=True):
        free = pool[mask[pool] & ~used[pool]][: row["n"]]
        used[free] = True
        picks.append(pd.DataFrame({"parcel": free, **{k: row[k] for k in ("kind", "approval", "shape", "basis")}}))
    changes = pd.concat(picks, ignore_index=True)
    logger.debug("%d changes planned, %d placed", plan["n"].sum(), len(changes))

    # T1 codes
    k = len(changes)
    t1_code = np.empty(k, dtype=object)
    for kind in T1_CODES:
        for shape_is_speck, table in ((False, T1_CODES[kind]), (True, SPECK_CODES.get(kind))):
            sel = ((changes["kind"] == kind) & ((changes["shape"] == "speck") == shape_is_speck)).to_numpy()
            if table and sel.any():
                t1_code[sel] = choose(rng, table, int(sel.sum()))
    planting_change = (changes["basis"] == "planting_attribute").to_numpy()
    t1_code[planting_change] = codes[changes["parcel"].to_numpy()[planting_change]]

    # geometry of each changed piece
    parent = changes["parcel"].to_numpy()
    pieces = geoms[parent].copy()
    remainders = np.array([None] * k, dtype=object)
    shape = changes["shape"].to_numpy()
    target = np.minimum(area[parent] * rng.uniform(0.3, 0.7, k), PIECE_CAP_M2)
    cut = np.flatnonzero(shape == "cut")
    if cut.size:
        pieces[cut], remainders[cut] = _cut_pieces(geoms[parent[cut]], target[cut], rng)
    boxed = np.flatnonzero((shape == "rect") | (shape == "speck"))
    if boxed.size:
        speck_lo = changes["kind"].map({kk: v[0] for kk, v in SPECK_M2.items()}).to_numpy()[boxed]
        speck_hi = changes["kind"].map({kk: v[1] for kk, v in SPECK_M2.items()}).to_numpy()[boxed]
        is_speck = shape[boxed] == "speck"
        box_area = np.where(is_speck,
                            rng.uniform(0, 1, boxed.size) * (np.nan_to_num(speck_hi) - np.nan_to_num(speck_lo))
                            + np.nan_to_num(speck_lo), target[boxed])
        centre = shapely.point_on_surface(geoms[parent[boxed]])
        rect = _rectangles(shapely.get_x(centre), shapely.get_y(centre), box_area, rng.uniform(0.6, 1.7, boxed.size),
                           rng.uniform(0, np.pi, boxed.size))
        pieces[boxed] = shapely.intersection(geoms[parent[boxed]], rect)
        remainders[boxed] = shapely.difference(geoms[parent[boxed]], rect)
    partial = shape != "whole"
    ok_piece, clean_piece = _single(pieces)
    ok_rest, clean_rest = _single(np.where(partial, remainders, shapely.Polygon()))
    piece_area = np.where(ok_piece, shapely.area(clean_piece.astype(object)), 0.0)
    good = np.where(partial, ok_piece & ok_rest & (piece_area > 20.0), True)
    # a failed split (a piece or remainder in several parts) becomes a whole change where the parcel is small
    fallback = partial & ~good & (area[parent] <= WHOLE_MAX_M2) & (shape != "speck")
    keep = good | fallback
    changes, t1_code, parent = changes[keep].reset_index(drop=True), t1_code[keep], parent[keep]
    pieces = np.where(fallback[keep], geoms[parent], np.where(partial[keep], clean_piece[keep], geoms[parent]))
    remainders = clean_rest[keep]
    changes.loc[fallback[keep], "shape"] = "whole"
    partial = (changes["shape"] != "whole").to_numpy()
    logger.debug("%d changes (%d partial), %d dropped", len(changes), partial.sum(), (~keep).sum())

    # 2023 land use
    t1 = t0.copy()
    t1_geoms = geoms.copy()
    t1_codes = codes.copy()
    t1_planting = planting.copy()
    whole = ~partial
    t1_codes[parent[whole]] = t1_code[whole]
    new_farm = np.isin(t1_code, ["0101", "0102", "0103"])
    t1_planting[parent[whole]] = np.where(new_farm[whole], "LS", "")
    t1_planting[parent[(changes["basis"] == "planting_attribute").to_numpy()]] = "FLS"
    t1_geoms[parent[partial]] = remainders[partial]
    max_bsm = int(t0["BSM"].max())
    new_bsm = max_bsm + 1 + np.arange(int(partial.sum()))
    added = t0.iloc[parent[partial]].copy()
    added["BSM"] = new_bsm
    added["DLBM"] = t1_code[partial]
    added["ZZSXDM"] = np.where(new_farm[partial], "LS", "")
    t1["DLBM"] = t1_codes
    t1["ZZSXDM"] = t1_planting
    t1 = gpd.GeoDataFrame(pd.concat([t1.drop(columns="geometry"), added.drop(columns="geometry")], ignore_index=True),
                          geometry=np.concatenate([t1_geoms, pieces[partial]]), crs=CRS)
    t1_bsm = t0["BSM"].to_numpy()[parent].copy()
    t1_bsm[partial] = new_bsm

    truth = gpd.GeoDataFrame({
        "kind": changes["kind"].to_numpy(),
        "basis": changes["basis"].to_numpy(),
        "shape": changes["shape"].to_numpy(),
        "t0_code": codes[parent],
        "t1_code": t1_code,
        "t0_bsm": t0["BSM"].to_numpy()[parent],
        "t1_bsm": t1_bsm,
        "XZQDM": t0["XZQDM"].to_numpy()[parent],
        "planned_approval": changes["approval"].to_numpy(),
    }, geometry=pieces, crs=CRS)  # fmt: skip
    approvals = _approvals(truth, t0, used, pool, geoms, area, codes, rng)
    return t1, approvals, truth


def _approvals(truth, t0, used, pool, geoms, area, codes, rng) -> gpd.GeoDataFrame:
    """Approval polygons: covering fully approved changes, half of the half-approved ones, and some
    approvals where nothing was built (inside unchanged parcels that touch no change).
    """
    plan = truth["planned_approval"].to_numpy()
    pieces = np.asarray(truth.geometry.values, dtype=object)
    full = np.flatnonzero(plan == "full")
    half = np.flatnonzero(plan == "half")
    margin = rng.uniform(3.0, 12.0, len(pieces))
    grown = shapely.buffer(pieces, margin, join_style="mitre", quad_segs=2)
    shapes = np.array([None] * len(pieces), dtype=object)
    shapes[full] = grown[full]
    if half.size:
        centre = shapely.centroid(pieces[half])
        bounds = shapely.bounds(grown[half])
        reach = np.hypot(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]) + 10.0
        planes = _halfplanes(shapely.get_x(centre), shapely.get_y(centre), rng.uniform(0, np.pi, half.size), 0.0, reach)
        shapes[half] = shapely.intersection(grown[half], planes)
    owners = np.concatenate([full, half])
    owners.sort()
    shapes = shapes[owners]
    # an approval never reaches another change
    ai, pj = sorted_pairs(shapely.STRtree(pieces), shapes)
    other = owners[ai] != pj
    ai, pj = ai[other], pj[other]
    if ai.size:
        blockers = gpd.GeoDataFrame({"a": ai}, geometry=pieces[pj]).dissolve(by="a", method="unary")
        hit = blockers.index.to_numpy()
        shapes[hit] = shapely.difference(shapes[hit], np.asarray(blockers.geometry.values, dtype=object))
    built_county = truth["XZQDM"].to_numpy()[owners]
    # approvals where nothing was built: unchanged parcels of the non-touching pool
    spare = pool[~used[pool] & (area[pool] >= 2000.0) & ~np.isin(codes[pool], ["1101", "1102", "1103", "1104", "1107"])]
    n_unbuilt = min(len(spare), max(1, int(round(0.25 * len(full)))))
    unbuilt = spare[:n_unbuilt]
    unbuilt_shapes = shapely.buffer(geoms[unbuilt], -2.0, join_style="mitre")
    all_shapes = np.concatenate([shapes, unbuilt_shapes])
    parts, index = polygons_only(all_shapes)
    # one feature per approval (a MultiPolygon where the subtraction split it)
    counties = np.concatenate([built_county, t0["XZQDM"].to_numpy()[unbuilt]])
    merged = gpd.GeoDataFrame({"i": index}, geometry=parts).dissolve(by="i", method="unary", sort=True)
    idx = merged.index.to_numpy()
    m = len(idx)
    days = rng.integers(0, 760, m)
    dates = (pd.Timestamp("2021-06-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d").to_numpy()
    numbers = rng.choice(np.arange(1, 10 * m + 1000), size=m, replace=False)  # unique 文号 numbers
    years = pd.Series(dates).str[:4].to_numpy()
    built = idx < len(owners)
    frame = gpd.GeoDataFrame({
        "PZWH": (pd.Series(years).str.cat(pd.Series(numbers).astype(str), sep="〕")
                 .radd("云政地〔").add("号").to_numpy()),
        "PZRQ": dates,
        "PZLX": choose(rng, APPROVAL_TYPES, m),
        "XMMC": pd.Series(np.arange(1, m + 1)).map("示例建设项目{:d}".format).to_numpy(),
        "XZQDM": counties[idx],
        "built": built,
    }, geometry=_multi(np.asarray(merged.geometry.values, dtype=object)), crs=CRS)  # fmt: skip
    return frame.sort_values(["PZRQ", "PZWH"]).reset_index(drop=True)


def _multi(geoms: np.ndarray) -> np.ndarray:
    """Every geometry as a MultiPolygon (one geometry type per layer)."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    return shapely.multipolygons(parts, indices=index)


def finish_truth(truth: gpd.GeoDataFrame, *, pbf: np.ndarray, hsf: np.ndarray, approvals: np.ndarray,
                 min_patch_m2: dict[str, float] = MIN_PATCH_M2) -> gpd.GeoDataFrame:
    """Add the areas on PBF, on HSF and inside approvals, the expected status and the below-minimum flag.

    ``approved_m2`` and ``illegal_m2`` are given for ``nonagri`` pieces only (0 for the other kinds), as
    the analyses do. The status follows the analysis rules: ``illegal`` (nothing approved), ``approved``
    (less than 0.01 m² unapproved), ``partly_approved``; ``nongrain_on_pbf`` (more than 0.01 m² on PBF)
    or ``nongrain``; ``supplement`` for new farmland (supplement and back_in); ``other``.
    """
    out = truth.copy()
    geoms = np.asarray(out.geometry.values, dtype=object)
    area = shapely.area(geoms)
    kind = out["kind"].to_numpy()
    nonagri = kind == "nonagri"
    out["area_m2"] = area
    out["on_pbf_m2"] = _area_inside(geoms, pbf)
    out["on_hsf_m2"] = _area_inside(geoms, hsf)
    approved = np.where(nonagri, np.minimum(_area_inside(geoms, approvals), area), 0.0)
    out["approved_m2"] = approved
    out["illegal_m2"] = np.where(nonagri, area - approved, 0.0)
    status = np.full(len(out), "other", dtype=object)
    status[np.isin(kind, ["supplement", "back_in"])] = "supplement"
    on_pbf = out["on_pbf_m2"].to_numpy() > ZERO_M2
    status[(kind == "nongrain") & on_pbf] = "nongrain_on_pbf"
    status[(kind == "nongrain") & ~on_pbf] = "nongrain"
    status[nonagri] = "partly_approved"
    status[nonagri & (out["illegal_m2"].to_numpy() <= ZERO_M2)] = "approved"
    status[nonagri & (approved <= ZERO_M2)] = "illegal"
    out["status"] = status
    limit = pd.Series(kind).map({k: min_patch_m2[v] for k, v in MIN_KIND.items()}).to_numpy(dtype=float)
    limit = np.where(np.isin(out["t1_code"].to_numpy(), landuse.FACILITY_CODES), min_patch_m2["facility"], limit)
    # sizes are judged as the demo's tables count them: ellipsoidal (config area: default)
    out["below_min"] = ellipsoidal_area_m2(gpd.GeoSeries(geoms, crs=CRS)) < limit
    return out[TRUTH_COLUMNS + ["geometry"]]


def name_codes(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Fill ``DLMC`` from ``DLBM`` (names via :func:`kmrv_geo.landuse.code_name`)."""
    series = frame["DLBM"].astype(object)
    distinct = {c: landuse.code_name(c) for c in pd.unique(series)}
    frame["DLMC"] = series.map(distinct).to_numpy()
    return frame
