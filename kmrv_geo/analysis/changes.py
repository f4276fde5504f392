"""Change pieces: T0 land use overlaid with T1 land use, each piece of T0 farmland classed by its T1 use.

Classes (``change_class``):

- ``kept``: still farmland at T1;
- ``nonagri`` (非农化): T1 is construction land;
- ``nongrain`` (非粮化): T1 is other agricultural land, or still farmland whose 种植属性 (``ZZSXDM``)
  became non-grain (``FLS``) where both layers carry it;
- ``other``: T1 is other land (water, unused land) or an unknown code (never counted as farmland);
- ``no_t1_data``: T1 does not cover the piece (never counted as a conversion);
- ``supplement``: T0 non-farmland that is farmland at T1 (new farmland).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import landuse
from ..overlay import MIN_PIECE_M2, identical_twins, intersect_pairs, intersect_partitions, polygonal_parts
from ..ridges import RIDGE_SHARE

KEPT, NONAGRI, NONGRAIN, OTHER, NO_T1_DATA, SUPPLEMENT = (
    "kept", "nonagri", "nongrain", "other", "no_t1_data", "supplement",
)  # fmt: skip
FARMLAND_CLASSES = (KEPT, NONAGRI, NONGRAIN, OTHER, NO_T1_DATA)
"""The classes that partition T0 farmland."""
CHANGE_CLASSES = (NONAGRI, NONGRAIN, OTHER, NO_T1_DATA, SUPPLEMENT)
"""The classes that become change patches."""
PLANTING_FIELD = "ZZSXDM"
NON_GRAIN_PLANTING = "FLS"

_T1_CLASS = {
    landuse.FARMLAND: KEPT,
    landuse.CONSTRUCTION: NONAGRI,
    landuse.OTHER_AGRICULTURAL: NONGRAIN,
    landuse.OTHER: OTHER,
    landuse.UNKNOWN: OTHER,
}
PIECE_COLUMNS = ["t0_pos", "t1_pos", "t0_code", "t1_code", "t0_category", "t1_category", "change_class",
                 "basis", "ridge_share", "area_m2", "t0_whole"]


def _pieces_frame(t0: gpd.GeoDataFrame, t1: gpd.GeoDataFrame, li, ri, t0_pos, t1_pos, geoms) -> pd.DataFrame:
    i0, i1 = t0_pos[li], t1_pos[ri]
    return pd.DataFrame({
        "t0_pos": i0,
        "t1_pos": i1,
        "t0_code": t0["code"].to_numpy()[i0],
        "t1_code": t1["code"].to_numpy()[i1],
        "t0_category": t0["category"].to_numpy()[i0],
        "t1_category": t1["category"].to_numpy()[i1],
        "geometry": geoms,
    })  # fmt: skip


def change_pieces(t0: gpd.GeoDataFrame, t1: gpd.GeoDataFrame, *, partitions: bool = False,
                  twins: np.ndarray | None = None) -> gpd.GeoDataFrame:
    """Overlay T0 and T1 land use and class every piece of T0 farmland and of new farmland.

    Parameters
    ----------
    t0, t1 : GeoDataFrame
        Checked land-use layers in the same projected CRS, with columns ``code`` and ``category``
        (see :func:`kmrv_geo.checks.check_vector`); ``ZZSXDM`` is used where both carry it, and
        ``ridge_share`` (田坎 share, :mod:`kmrv_geo.ridges`) where present.
    partitions : bool, default False
        Both layers are known to cover land once (the load checks refused self-overlaps): parcels identical
        at both dates are then matched first and skip the overlay (:func:`~kmrv_geo.overlay.intersect_partitions`;
        the same pieces). Without that guarantee every parcel goes through the overlay, so that overlapping
        parcels show up as land counted twice.
    twins : numpy.ndarray of int, optional
        With ``partitions``: each T0 parcel's identical T1 parcel (−1: none) when already matched
        (:attr:`~kmrv_geo.project.Project.landuse_twins`); matched here when not given.

    Returns
    -------
    GeoDataFrame
        One row per piece with :data:`PIECE_COLUMNS`, in :func:`canonical_order`. The pieces of T0 farmland (classes
        :data:`FARMLAND_CLASSES`) partition T0 farmland exactly; ``supplement`` pieces are T0
        non-farmland that is farmland at T1. ``t0_pos``/``t1_pos`` are row positions (``-1``: none).
        ``ridge_share`` is the 田坎 share of the farmland parcel the piece belongs to (T0 parcel; T1
        parcel for ``supplement``), NaN where the layer has none; ``area_m2`` is planar. ``t0_whole`` is
        True where the piece is its T0 parcel's own geometry (the parcel lies whole in one T1 parcel): its
        measured area is the parcel's (:func:`~kmrv_geo.analysis.violations.farmland_partition` reuses it).
    """
    crs = t0.crs
    t0_geoms = np.asarray(t0.geometry.values, dtype=object)
    t1_geoms = np.asarray(t1.geometry.values, dtype=object)
    t0_farm = np.flatnonzero(t0["category"].to_numpy() == landuse.FARMLAND)
    t0_non = np.flatnonzero(t0["category"].to_numpy() != landuse.FARMLAND)
    t1_all = np.arange(len(t1))
    t1_farm = np.flatnonzero(t1["category"].to_numpy() == landuse.FARMLAND)

    if partitions:  # match identical parcels of the whole layers once; both overlays take their share
        if twins is not None and len(twins) != len(t0):
            raise ValueError(f"twins has {len(twins)} values for {len(t0)} T0 parcels")
        twin = identical_twins(t0_geoms, t1_geoms) if twins is None else np.asarray(twins, dtype=np.intp)
        t1_twinned = np.zeros(len(t1), dtype=bool)
        t1_twinned[twin[twin >= 0]] = True
        t1_farm_pos = np.full(len(t1), -1, dtype=np.intp)
        t1_farm_pos[t1_farm] = np.arange(len(t1_farm))

        def farm_overlay(left, right):
            return intersect_partitions(left, right, left_twin=twin[t0_farm], right_twinned=t1_twinned)

        # a T0 parcel whose twin is not T1 farmland shares no area with T1 farmland: no supplement to look for
        t0_non = t0_non[(twin[t0_non] < 0) | (t1_farm_pos[np.maximum(twin[t0_non], 0)] >= 0)]

        def supplement_overlay(left, right):
            own = twin[t0_non]
            return intersect_partitions(left, right, left_twin=np.where(own >= 0, t1_farm_pos[np.maximum(own, 0)], -1),
                                        right_twinned=t1_twinned[t1_farm])
    else:
        farm_overlay = supplement_overlay = intersect_pairs
    li, ri, geoms = farm_overlay(t0_geoms[t0_farm], t1_geoms)
    farm = _pieces_frame(t0, t1, li, ri, t0_farm, t1_all, geoms)
    farm["change_class"] = farm["t1_category"].map(_T1_CLASS).fillna(OTHER)
    farm["basis"] = "land_use"
    if PLANTING_FIELD in t0.columns and PLANTING_FIELD in t1.columns:
        p0 = t0[PLANTING_FIELD].astype("string").str.strip().str.upper().to_numpy()[farm["t0_pos"].to_numpy()]
        p1 = t1[PLANTING_FIELD].astype("string").str.strip().str.upper().to_numpy()[farm["t1_pos"].to_numpy()]
        became_non_grain = (farm["change_class"] == KEPT).to_numpy() & (p1 == NON_GRAIN_PLANTING) & (
            p0 != NON_GRAIN_PLANTING)
        became_non_grain = np.asarray(pd.array(became_non_grain, dtype="boolean").fillna(False), dtype=bool)
        farm.loc[became_non_grain, "change_class"] = NONGRAIN
        farm.loc[became_non_grain, "basis"] = "planting_attribute"

    # T0 farmland that no T1 parcel covers
    covered = np.zeros(len(t0))
    np.add.at(covered, farm["t0_pos"].to_numpy(), shapely.area(farm["geometry"].to_numpy()))
    farm_area = shapely.area(t0_geoms[t0_farm])
    gap = t0_farm[farm_area - covered[t0_farm] > np.maximum(MIN_PIECE_M2, farm_area * 1e-9)]
    missing = pd.DataFrame(columns=farm.columns)
    if gap.size:
        t1_union_near = _union_by_owner(farm, gap, len(t0))
        rest = polygonal_parts(shapely.difference(t0_geoms[gap], t1_union_near))
        ok = ~shapely.is_missing(rest) & (np.nan_to_num(shapely.area(rest)) > MIN_PIECE_M2)
        gap, rest = gap[ok], rest[ok]
        missing = pd.DataFrame({
            "t0_pos": gap, "t1_pos": -1, "t0_code": t0["code"].to_numpy()[gap], "t1_code": None,
            "t0_category": landuse.FARMLAND, "t1_category": None, "change_class": NO_T1_DATA,
            "basis": "no_t1_data", "geometry": rest,
        })  # fmt: skip

    li, ri, geoms = supplement_overlay(t0_geoms[t0_non], t1_geoms[t1_farm])
    supplement = _pieces_frame(t0, t1, li, ri, t0_non, t1_farm, geoms)
    supplement["change_class"] = SUPPLEMENT
    supplement["basis"] = "land_use"

    farm["ridge_share"] = _shares(t0, farm["t0_pos"].to_numpy())
    if len(missing):
        missing["ridge_share"] = _shares(t0, missing["t0_pos"].to_numpy())
    supplement["ridge_share"] = _shares(t1, supplement["t1_pos"].to_numpy())
    parts = [p for p in (farm, missing, supplement) if len(p)]
    pieces = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=farm.columns)
    result = gpd.GeoDataFrame(pieces, geometry="geometry", crs=crs)
    piece_geoms = np.asarray(result.geometry.values, dtype=object)
    result["area_m2"] = shapely.area(piece_geoms) if len(result) else []
    result["t0_whole"] = _same_objects(piece_geoms, t0_geoms[result["t0_pos"].to_numpy(dtype=np.intp)])
    result["t0_pos"] = result["t0_pos"].astype("int64")
    result["t1_pos"] = result["t1_pos"].astype("int64")
    return canonical_order(result[PIECE_COLUMNS + ["geometry"]])


def _same_objects(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise ``a[k] is b[k]`` (the same geometry object, not merely an equal one)."""
    if not len(a):
        return np.zeros(0, dtype=bool)
    return np.fromiter((x is y for x, y in zip(a, b, strict=True)), dtype=bool, count=len(a))


def _shares(layer: gpd.GeoDataFrame, positions: np.ndarray) -> np.ndarray:
    """The 田坎 share of the parcels at ``positions`` (NaN where the layer carries none)."""
    if RIDGE_SHARE not in layer:
        return np.full(len(positions), np.nan)
    return layer[RIDGE_SHARE].to_numpy(dtype=float)[positions]


def canonical_order(pieces: pd.DataFrame) -> pd.DataFrame:
    """Pieces sorted by (T0 position, T1 position): one order whatever engine or partitioning made them.

    Each (T0, T1) pair gives at most one piece (``no_t1_data`` pieces have T1 position −1, one per T0
    parcel), so the order is total and everything built from the pieces is reproducible.
    """
    return pieces.sort_values(["t0_pos", "t1_pos"], kind="stable").reset_index(drop=True)


def _union_by_owner(pieces: pd.DataFrame, owners: np.ndarray, n: int) -> np.ndarray:
    """For each owner (T0 position), the union of its pieces (empty polygon where it has none)."""
    sub = pieces[pieces["t0_pos"].isin(owners)]
    unions = np.array([shapely.Polygon()] * n, dtype=object)
    if len(sub):
        grouped = gpd.GeoSeries(sub["geometry"].to_numpy(), index=sub["t0_pos"].to_numpy()).groupby(level=0)
        for pos, geoms in grouped:  # only the few T0 parcels with a gap
            unions[pos] = shapely.union_all(np.asarray(geoms.values, dtype=object))
    return unions[owners]


def farmland_balance_sheet(t0: gpd.GeoDataFrame, pieces: gpd.GeoDataFrame) -> dict[str, float]:
    """Totals (m²) of T0 farmland by class, and the relative error of the partition.

    Returns
    -------
    dict
        ``total`` (area of T0 farmland), one entry per class in :data:`FARMLAND_CLASSES`, and
        ``relative_error`` = |sum of classes − total| / total (0 when there is no farmland).
    """
    farm = t0["category"].to_numpy() == landuse.FARMLAND
    total = float(shapely.area(np.asarray(t0.geometry.values, dtype=object)[farm]).sum())
    sums = pieces.groupby("change_class")["area_m2"].sum()
    out = {"total": total, **{c: float(sums.get(c, 0.0)) for c in FARMLAND_CLASSES}}
    parts = sum(out[c] for c in FARMLAND_CLASSES)
    out["relative_error"] = abs(parts - total) / total if total > 0 else 0.0
    return out
