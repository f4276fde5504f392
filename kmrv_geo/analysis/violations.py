"""Change patches and their verdicts: 非农化 (approved or not), 非粮化 (on PBF or not), new farmland.

Pipeline of pure steps: :func:`~kmrv_geo.analysis.changes.change_pieces` → :func:`merge_patches`
(contiguous pieces of one class and one T0→T1 code pair) → minimum mapped size → :func:`locate`
(split at county / township / village boundaries) → :func:`give_verdicts` (approvals, PBF).
:func:`analyse_violations` runs them all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import landuse
from ..errors import LayerError
from ..layers import FID
from ..overlay import area_inside, difference_from, intersect_pairs, split_by_zones, zones_of
from ..ridges import net_area_m2
from ..units import ELLIPSOIDAL, ELLIPSOIDAL_M2_COLUMN, M2_PER_MU, AreaMeasure, planar_measure
from .changes import (
    CHANGE_CLASSES,
    FARMLAND_CLASSES,
    NO_T1_DATA,
    NONAGRI,
    NONGRAIN,
    OTHER,
    SUPPLEMENT,
    change_pieces,
    farmland_balance_sheet,
)  # fmt: skip
from .keys import VILLAGE_KEY, code_text, village_keys

logger = logging.getLogger(__name__)

ZERO_M2 = 0.01
"""Areas below this (m²) count as none when giving verdicts (float noise of overlays)."""
STATUSES = ("illegal", "partly_approved", "approved", "unverified", "nongrain_on_pbf", "nongrain", "supplement",
            "other")
"""Verdicts, most severe first. ``unverified``: a conversion to construction where no approvals layer was given."""
PATCH_COLUMNS = [
    "patch_id", "change_class", "status", "t0_code", "t0_name", "t1_code", "t1_name", "t0_category", "basis",
    "county_code", "county_name", "township", "village_key", "village", "area_m2", "area_mu", "area_mu_planar",
    "area_mu_ellipsoidal", "net_mu", "pbf_mu", "approved_mu", "approved_pbf_mu", "illegal_mu", "illegal_net_mu",
    "illegal_pbf_mu", "source",
]  # fmt: skip
"""Columns of ``change_patches``. Every 亩 figure is the area of the geometry it names, in the run's area kind
(``area_mu_planar`` and ``area_mu_ellipsoidal`` give both kinds of the whole patch):

- ``area_m2``/``area_mu``: the patch (this part of it, after splitting at admin boundaries);
- ``net_mu``: farmland of the patch net of 田坎 (each piece × (1 − its parcel's share); NaN without ridge data);
- ``pbf_mu``: patch ∩ PBF;
- ``approved_mu``: patch ∩ approvals; ``approved_pbf_mu``: that part ∩ PBF (一冻结: conversion of PBF stays
  flagged where approved); ``illegal_mu``: patch − approvals (``nonagri`` only);
- ``illegal_net_mu``: the illegal part net of 田坎; ``illegal_pbf_mu``: the illegal part ∩ PBF.
"""
MIN_SIZE_KIND = {NONAGRI: "construction", NONGRAIN: "agricultural", SUPPLEMENT: "agricultural", OTHER: "other",
                 NO_T1_DATA: "other"}
"""Which minimum mapped size (config ``min_patch_m2``) applies to a class: by its T1 use (facility agriculture
land, 设施农用地 1202, takes ``facility``: see :func:`min_size_kind`)."""


def min_size_kind(change_class: str, t1_code: str | None) -> str:
    """The ``min_patch_m2`` key of a patch: construction and facility land 200 m², agricultural 400, other 600."""
    if t1_code in landuse.FACILITY_CODES:
        return "facility"
    return MIN_SIZE_KIND[change_class]


@dataclass
class Zones:
    """Administrative zones used to locate patches: frames with normalised columns.

    Attributes
    ----------
    county : GeoDataFrame, optional
        Columns ``county_code``, ``county_name``.
    township : GeoDataFrame, optional
        Column ``township``.
    village : GeoDataFrame, optional
        Column ``village`` (polygons only; point villages cannot split patches).
    """

    county: gpd.GeoDataFrame | None = None
    township: gpd.GeoDataFrame | None = None
    village: gpd.GeoDataFrame | None = None


@dataclass
class ViolationResult:
    """Everything the violation analysis found.

    Attributes
    ----------
    patches : GeoDataFrame
        ``change_patches``: one row per patch (split at admin boundaries), :data:`PATCH_COLUMNS`.
    below_min : GeoDataFrame
        ``below_min_patches``: the same columns, patches smaller than the minimum mapped size.
    farmland : dict
        T0 farmland partition in m² (see :func:`~kmrv_geo.analysis.changes.farmland_balance_sheet`).
    missing_verdicts : list of str
        Verdicts that could not be given (no approvals or no PBF layer).
    pieces : GeoDataFrame, optional
        The change pieces the patches were built from (used by the coverage analysis).
    """

    patches: gpd.GeoDataFrame
    below_min: gpd.GeoDataFrame
    farmland: dict
    missing_verdicts: list[str] = field(default_factory=list)
    pieces: gpd.GeoDataFrame | None = None


def merge_patches(pieces: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Merge contiguous change pieces of the same class and the same T0→T1 codes into patches.

    Parameters
    ----------
    pieces : GeoDataFrame
        From :func:`~kmrv_geo.analysis.changes.change_pieces`; ``kept`` pieces are ignored.

    Returns
    -------
    GeoDataFrame
        Columns ``change_class``, ``t0_code``, ``t1_code``, ``t0_category``, ``basis`` and one polygon per
        patch (pieces sharing an edge are one patch).
    """
    keys = ["change_class", "t0_code", "t1_code", "t0_category", "basis"]
    changed = pieces[pieces["change_class"].isin(CHANGE_CLASSES)].copy()
    if changed.empty:
        return gpd.GeoDataFrame(columns=keys + ["geometry"], geometry="geometry", crs=pieces.crs)
    changed[keys] = changed[keys].astype("object").where(changed[keys].notna(), "")
    merged = changed[keys + ["geometry"]].dissolve(by=keys, as_index=False)
    # one patch per connected polygon: parts that touch only at a point stay separate patches
    merged = merged.explode(index_parts=False, ignore_index=True)
    return merged[keys + ["geometry"]]


def split_below_min(patches: gpd.GeoDataFrame, min_patch_m2: dict[str, float], *, measure: AreaMeasure | None = None):
    """Split patches into those at or above and those below the minimum mapped size of their T1 use.

    Parameters
    ----------
    patches : GeoDataFrame
        Merged patches (``change_class``, ``t1_code``).
    min_patch_m2 : dict
        ``construction``, ``facility``, ``agricultural``, ``other`` (m²; ``facility`` defaults to
        ``construction`` when missing).
    measure : AreaMeasure, optional
        The area kind sizes are judged in (default planar).

    Returns
    -------
    tuple of GeoDataFrame
        (large enough, below the minimum).
    """
    measure = measure or planar_measure(str(patches.crs))
    limits = {"facility": min_patch_m2.get("construction", 200.0), **min_patch_m2}
    area = measure.m2(np.asarray(patches.geometry.values, dtype=object))
    kinds = [min_size_kind(c, t) for c, t in zip(patches["change_class"], patches["t1_code"], strict=True)]
    limit = np.array([limits[k] for k in kinds], dtype=float)
    small = area < limit
    return patches[~small].reset_index(drop=True), patches[small].reset_index(drop=True)


def locate(patches: gpd.GeoDataFrame, zones: Zones) -> gpd.GeoDataFrame:
    """Give each patch its county, township and village, splitting it where it crosses a boundary.

    Pieces outside every county keep empty codes, so per-area totals always add up to the city total.
    """
    out = patches.copy()
    steps = ((zones.county, ["county_code", "county_name"]), (zones.township, ["township"]),
             (zones.village, [VILLAGE_KEY, "village"]))
    for zone_frame, columns in steps:
        if zone_frame is None or zone_frame.empty:
            for c in columns:
                out[c] = ""
            continue
        out = split_by_zones(out, zone_frame, columns, outside={c: "" for c in columns}).drop(columns="_src")
    return out


def _by_owner(owner: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    np.add.at(out, owner, values)
    return out


def give_verdicts(patches: gpd.GeoDataFrame, *, approvals: np.ndarray | None, pbf: np.ndarray | None,
                  measure: AreaMeasure | None = None, pieces: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Areas of each patch's parts (on PBF, approved, illegal, net of 田坎) and the status of each patch.

    Every figure is the area of the part's own geometry: the illegal part is the patch minus the
    approvals, and its PBF figure is that part ∩ PBF — never the whole patch's PBF.

    Parameters
    ----------
    patches : GeoDataFrame
        Located patches.
    approvals, pbf : numpy.ndarray of geometries, optional
        Dissolved (non-overlapping) approvals and PBF; ``None`` when the layer was not given (the
        verdicts that need it are then ``unverified`` / not on PBF, and the report says so).
    measure : AreaMeasure, optional
        The area kind of the figures (default planar).
    pieces : GeoDataFrame, optional
        The change pieces the patches were merged from, with ``ridge_share``: net figures come from them
        (NaN without).

    Returns
    -------
    GeoDataFrame
        With the area columns of :data:`PATCH_COLUMNS` and ``status``.
    """
    out = patches.copy()
    measure = measure or planar_measure(str(out.crs))
    geoms = np.asarray(out.geometry.values, dtype=object)
    n = len(out)
    area = measure.m2(geoms)
    out["area_m2"] = area
    out["area_mu"] = area / M2_PER_MU
    out["area_mu_planar"] = measure.planar_m2(geoms) / M2_PER_MU
    out["area_mu_ellipsoidal"] = measure.ellipsoidal_m2(geoms) / M2_PER_MU
    shares = pieces["ridge_share"].to_numpy(dtype=float) if pieces is not None and "ridge_share" in pieces else None
    with_net = shares is not None and bool(np.isfinite(shares).any())
    changed = np.asarray(pieces.geometry.values, dtype=object) if with_net else None

    def net(parts):
        if not with_net:
            return np.full(len(parts), np.nan)
        return net_area_m2(parts, changed, shares, measure=measure)

    out["net_mu"] = net(geoms) / M2_PER_MU
    pbf_m2 = area_inside(geoms, pbf, dissolved=True, measure=measure) if pbf is not None else np.full(n, np.nan)
    out["pbf_mu"] = pbf_m2 / M2_PER_MU
    nonagri = np.flatnonzero((out["change_class"] == NONAGRI).to_numpy())
    approved_m2 = np.zeros(n)
    approved_pbf = np.zeros(n)
    illegal_m2 = np.zeros(n)
    illegal_net = np.zeros(n)
    illegal_pbf = np.zeros(n)
    if approvals is not None and nonagri.size:
        pi, _ai, inside = intersect_pairs(geoms[nonagri], approvals)
        approved_m2[nonagri] = _by_owner(pi, measure.m2(inside), nonagri.size)
        if pbf is not None and len(inside):
            approved_pbf[nonagri] = _by_owner(pi, area_inside(inside, pbf, dissolved=True, measure=measure),
                                              nonagri.size)
        illegal_parts = difference_from(geoms[nonagri], approvals)
        has = ~shapely.is_missing(illegal_parts)
        part_geoms = illegal_parts[has]
        illegal_m2[nonagri[has]] = measure.m2(part_geoms)
        illegal_net[nonagri] = 0.0 if with_net else np.nan
        illegal_net[nonagri[has]] = net(part_geoms)
        if pbf is not None:
            illegal_pbf[nonagri[has]] = area_inside(part_geoms, pbf, dissolved=True, measure=measure)
    elif nonagri.size:  # no approvals layer: the whole conversion is unjudged
        approved_m2[nonagri] = illegal_m2[nonagri] = illegal_net[nonagri] = illegal_pbf[nonagri] = np.nan
        approved_pbf[nonagri] = np.nan
    if pbf is None:
        illegal_pbf[:] = np.nan
        approved_pbf[:] = np.nan
    out["approved_mu"] = approved_m2 / M2_PER_MU
    out["approved_pbf_mu"] = approved_pbf / M2_PER_MU
    out["illegal_mu"] = illegal_m2 / M2_PER_MU
    out["illegal_net_mu"] = illegal_net / M2_PER_MU
    out["illegal_pbf_mu"] = illegal_pbf / M2_PER_MU

    status = np.full(n, "other", dtype=object)
    cls = out["change_class"].to_numpy()
    status[cls == SUPPLEMENT] = "supplement"
    on_pbf = np.nan_to_num(pbf_m2) > ZERO_M2
    status[(cls == NONGRAIN) & on_pbf] = "nongrain_on_pbf"
    status[(cls == NONGRAIN) & ~on_pbf] = "nongrain"
    is_nonagri = cls == NONAGRI
    if approvals is None:
        status[is_nonagri] = "unverified"
    else:
        fully = is_nonagri & (illegal_m2 <= ZERO_M2)
        none = is_nonagri & (approved_m2 <= ZERO_M2)
        status[is_nonagri] = "partly_approved"
        status[fully] = "approved"
        status[none & ~fully] = "illegal"
    out["status"] = status
    return out


def _zones_from(frame: gpd.GeoDataFrame | None, columns: dict[str, str], role: str) -> gpd.GeoDataFrame | None:
    """Polygon zones with normalised text columns (codes via :func:`~kmrv_geo.analysis.keys.code_text`).

    Raises
    ------
    LayerError
        A field the zones need is not in the layer (a township layer without its name would give blank
        townships everywhere).
    """
    if frame is None or frame.empty:
        return None
    missing = [old for old in columns.values() if old not in frame.columns]
    if missing:
        there = [c for c in frame.columns if c not in (FID, frame.geometry.name)]
        raise LayerError(f"the {role} layer has no field {', '.join(missing)}; "
                         f"its fields are: {', '.join(map(str, there))}; "
                         f"name the right field in the config, e.g. layers: {{{role}: {{path: ..., name: FIELD}}}}")
    polygonal = frame[frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if polygonal.empty:
        return None
    return gpd.GeoDataFrame({new: code_text(polygonal[old]) for new, old in columns.items()},
                            geometry=polygonal.geometry.to_numpy(), crs=frame.crs)


def build_zones(county=None, county_fields=None, township=None, township_fields=None, village=None,
                village_fields=None) -> Zones:
    """Normalise admin layers to :class:`Zones` (field maps: ``{"code": ..., "name": ...}``).

    Villages get ``village_key`` (:func:`~kmrv_geo.analysis.keys.village_keys`) besides their name.
    """
    county_fields, township_fields, village_fields = county_fields or {}, township_fields or {}, village_fields or {}
    if village is not None and not village.empty:
        village = village.assign(**{VILLAGE_KEY: village_keys(village, village_fields)[0]})
    return Zones(
        county=_zones_from(county, {"county_code": county_fields.get("code", "XZQDM"),
                                    "county_name": county_fields.get("name", "XZQMC")}, "county"),
        township=_zones_from(township, {"township": township_fields.get("name", "XZQMC")}, "township"),
        village=_zones_from(village, {VILLAGE_KEY: VILLAGE_KEY, "village": village_fields.get("name", "CMC")},
                            "villages"),
    )


def _number(frame: gpd.GeoDataFrame, prefix: str) -> gpd.GeoDataFrame:
    """Sort patches deterministically (county, class, position) and give them ids like ``530111-00001``."""
    if frame.empty:
        frame["patch_id"] = pd.Series(dtype="object")
        return frame
    points = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object))
    order = frame.assign(
        _x=np.round(shapely.get_x(points), 2), _y=np.round(shapely.get_y(points), 2), _a=np.round(frame["area_m2"], 4)
    ).sort_values(["county_code", "change_class", "_y", "_x", "_a", "t0_code", "t1_code"],
                  ascending=[True, True, False, True, True, True, True])
    order = order.drop(columns=["_x", "_y", "_a"]).reset_index(drop=True)
    seq = order.groupby("county_code").cumcount() + 1
    code = order["county_code"].replace("", "000000")
    order["patch_id"] = code + f"-{prefix}" + seq.map("{:05d}".format)
    return order


def _finish(frame: gpd.GeoDataFrame, prefix: str, source: str) -> gpd.GeoDataFrame:
    frame = frame.copy()
    frame["t0_name"] = frame["t0_code"].map(lambda c: landuse.code_name(c) if c else "")
    frame["t1_name"] = frame["t1_code"].map(lambda c: landuse.code_name(c) if c else "")
    frame["source"] = source
    frame = _number(frame, prefix)
    return gpd.GeoDataFrame(frame[PATCH_COLUMNS + ["geometry"]], geometry="geometry", crs=frame.crs)


def analyse_violations(t0: gpd.GeoDataFrame, t1: gpd.GeoDataFrame, *, zones: Zones, approvals=None, pbf=None,
                       min_patch_m2: dict[str, float], source: str = "vector",
                       pieces_engine=change_pieces, measure: AreaMeasure | None = None) -> ViolationResult:
    """Run the whole violation analysis on checked layers.

    Parameters
    ----------
    t0, t1 : GeoDataFrame
        Checked land use at the two dates (columns ``code``, ``category``), same projected CRS.
    zones : Zones
        Counties, townships, villages (any may be missing).
    approvals, pbf : GeoDataFrame or numpy.ndarray, optional
        Approval areas and permanent basic farmland (or their dissolved geometries).
    min_patch_m2 : dict
        Minimum mapped size per kind: ``construction``, ``facility``, ``agricultural``, ``other``.
    source : str, default "vector"
        Value of the ``source`` column.
    pieces_engine : callable, default :func:`~kmrv_geo.analysis.changes.change_pieces`
        ``(t0, t1) → pieces``; e.g. :func:`kmrv_geo.dask_engine.dask_change_pieces` bound to a cluster.
        Every engine must give the same pieces in the same canonical order.
    measure : AreaMeasure, optional
        The area kind of every figure (default planar; a project passes its ``area:``).

    Returns
    -------
    ViolationResult

    Raises
    ------
    LayerError
        If the T0 farmland partition does not add up (relative error ≥ 1e-9): parcels of T1 (or T0)
        overlap each other, so a piece of farmland would be counted twice; the message names the T0
        parcels concerned. Never silently passed on.
    """
    pieces = pieces_engine(t0, t1)
    sheet = checked_balance_sheet(t0, pieces)
    result = patches_from_pieces(pieces, zones=zones, approvals=approvals, pbf=pbf, min_patch_m2=min_patch_m2,
                                 source=source, measure=measure)
    result.farmland = sheet | farmland_partition(t0, pieces, measure or planar_measure(str(t0.crs)))
    return result


def checked_balance_sheet(t0: gpd.GeoDataFrame, pieces: gpd.GeoDataFrame) -> dict:
    """The T0 farmland balance sheet (:func:`~kmrv_geo.analysis.changes.farmland_balance_sheet`), refused where
    land would be counted twice.

    Raises
    ------
    LayerError
        If the pieces of T0 farmland do not add up to it (relative error ≥ 1e-9), or new farmland pieces add up
        to more than their T0 parcel: land-use parcels overlap each other; the message names the T0 parcels.
    """
    sheet = farmland_balance_sheet(t0, pieces)
    if sheet["relative_error"] >= 1e-9:
        raise LayerError(_overlap_message(t0, pieces, sheet))
    if len(_overcounted(t0, pieces[pieces["change_class"] == SUPPLEMENT])):  # overlapping T1 farmland
        raise LayerError(_overlap_message(t0, pieces[pieces["change_class"] == SUPPLEMENT], {}))
    return sheet


def _overcounted(t0: gpd.GeoDataFrame, pieces: gpd.GeoDataFrame) -> pd.Series:
    """T0 parcels (positions) whose pieces add up to more than the parcel: m² counted twice."""
    got = pieces.groupby("t0_pos")["area_m2"].sum()
    own = pd.Series(shapely.area(np.asarray(t0.geometry.values, dtype=object))[got.index], index=got.index)
    excess = (got - own).sort_values(ascending=False)
    return excess[excess > np.maximum(1e-6, 1e-9 * own[excess.index])]


def _overlap_message(t0: gpd.GeoDataFrame, pieces: gpd.GeoDataFrame, sheet: dict) -> str:
    """Say which T0 parcels got more area in pieces than they have (overlapping land-use parcels)."""
    excess = _overcounted(t0, pieces)
    ids = t0[FID].to_numpy() if FID in t0 else np.arange(len(t0))
    shown = ", ".join(f"{ids[pos]} ({excess[pos]:.2f} m²)" for pos in excess.index[:5])
    if sheet:
        parts = sum(sheet[c] for c in FARMLAND_CLASSES)
        lead = (f"T0 farmland does not add up: its pieces cover {parts:.2f} m² but the farmland is "
                f"{sheet['total']:.2f} m² (relative error {sheet['relative_error']:.1e}). ")
    else:
        lead = f"New farmland would be counted twice ({excess.sum():.2f} m²). "
    return (
        lead + f"Parcels of landuse_t1 (or landuse_t0) overlap each other, so some land would be counted twice; "
        f"T0 parcels concerned ({len(excess)}): {shown or 'none found'}. "
        "Fix the overlaps in the land-use layers (e.g. QGIS 'Check validity' / topology checker) and run again"
    )


def pieces_m2(t0: gpd.GeoDataFrame, pieces: gpd.GeoDataFrame, measure: AreaMeasure) -> np.ndarray:
    """Measured area (m², ``measure``'s kind) of each change piece.

    A piece that is its whole T0 parcel (``t0_whole``) takes the parcel's ellipsoidal area where it was measured
    (:data:`~kmrv_geo.units.ELLIPSOIDAL_M2_COLUMN`: farmland parcels at load, every parcel after
    :meth:`~kmrv_geo.project.Project.measure_all_parcels`): the same geometry measured the same way, so the same
    number; the other pieces are measured.
    """
    geoms = np.asarray(pieces.geometry.values, dtype=object)
    area = np.empty(len(pieces))
    whole = np.zeros(len(pieces), dtype=bool)
    if measure.kind == ELLIPSOIDAL and ELLIPSOIDAL_M2_COLUMN in t0 and "t0_whole" in pieces:
        known = t0[ELLIPSOIDAL_M2_COLUMN].to_numpy(dtype=float)[pieces["t0_pos"].to_numpy()]
        whole = pieces["t0_whole"].to_numpy(dtype=bool) & ~np.isnan(known)  # (NaN: the load did not measure it)
        area[whole] = known[whole]
    area[~whole] = measure.m2(geoms[~whole])
    return area


def farmland_partition(t0: gpd.GeoDataFrame, pieces: gpd.GeoDataFrame, measure: AreaMeasure) -> dict:
    """T0 farmland by class in the run's area kind, gross and net of 田坎 (m²), for the manifest.

    Returns
    -------
    dict
        ``total_m2`` and ``{class}_m2`` per class of
        :data:`~kmrv_geo.analysis.changes.FARMLAND_CLASSES`; with ridge data also ``total_net_m2`` and
        ``{class}_net_m2``.
    """
    farm = pieces[pieces["change_class"].isin(FARMLAND_CLASSES)]
    area = pieces_m2(t0, farm, measure)
    out: dict = {"total_m2": float(area.sum())}
    share = farm["ridge_share"].to_numpy(dtype=float)
    with_net = bool(np.isfinite(share).any())
    if with_net:
        out["total_net_m2"] = float(np.nansum(area * (1 - share)))
    cls = farm["change_class"].to_numpy()
    for c in FARMLAND_CLASSES:
        out[f"{c}_m2"] = float(area[cls == c].sum())
        if with_net:
            out[f"{c}_net_m2"] = float(np.nansum(area[cls == c] * (1 - share[cls == c])))
    return out


def patches_from_pieces(pieces: gpd.GeoDataFrame, *, zones: Zones, approvals=None, pbf=None,
                        min_patch_m2: dict[str, float], source: str, id_prefix: str = "",
                        measure: AreaMeasure | None = None) -> ViolationResult:
    """Turn change pieces of any source into located patches with verdicts.

    The one path every source takes (vector overlay, raster land cover): merge contiguous pieces
    (:func:`merge_patches`), split off those below the minimum mapped size, locate (split at admin
    boundaries) and give verdicts.

    Parameters
    ----------
    pieces : GeoDataFrame
        Change pieces with ``change_class``, ``t0_code``, ``t1_code``, ``t0_category``, ``basis``.
    zones : Zones
    approvals, pbf : GeoDataFrame or numpy.ndarray, optional
        Layers, or their geometries already dissolved (:func:`~kmrv_geo.overlay.zones_of`).
    min_patch_m2 : dict
        Minimum mapped size per kind: ``construction``, ``facility``, ``agricultural``, ``other``.
    source : str
        Value of the ``source`` column (``vector``, ``raster``).
    id_prefix : str, default ""
        Put before the sequence number of patch ids (``R`` for raster: ``530111-R00001``), so that
        ids of different sources never clash.
    measure : AreaMeasure, optional
        The area kind of every figure and of the minimum mapped size (default planar).

    Returns
    -------
    ViolationResult
        With an empty ``farmland`` sheet (the caller fills it where a partition exists).
    """
    measure = measure or planar_measure(str(pieces.crs))
    patches = merge_patches(pieces)
    large, small = split_below_min(patches, min_patch_m2, measure=measure)
    approvals_geoms, pbf_geoms = zones_of(approvals), zones_of(pbf)
    missing = []
    if approvals is None:
        missing.append("approvals")
    if pbf is None:
        missing.append("pbf")
    changed = pieces[pieces["change_class"].isin(CHANGE_CLASSES)]
    located = [give_verdicts(locate(p, zones), approvals=approvals_geoms, pbf=pbf_geoms, measure=measure,
                             pieces=changed) for p in (large, small)]
    return ViolationResult(
        patches=_finish(located[0], id_prefix, source),
        below_min=_finish(located[1], id_prefix + "S", source),
        farmland={},
        missing_verdicts=missing,
        pieces=pieces,
    )
