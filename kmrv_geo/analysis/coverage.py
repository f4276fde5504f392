"""High-standard farmland (高标准农田, HSF) coverage of permanent basic farmland (PBF) and farmland.

Policy: build all PBF into HSF step by step. Coverage = area(HSF ∩ PBF) / area(PBF) per county,
township and village. HSF lying outside current farmland and HSF converted to construction are
findings of their own; PBF not yet HSF (the gaps) is merged into contiguous blocks and ranked as the
candidate list for next year's HSF construction task.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import landuse
from ..overlay import (
    areas_by_zone,
    difference_from,
    intersect_pairs,
    label_by_zone,
    merge_contiguous,
    zones_of,
)
from ..ridges import RIDGE_SHARE
from ..units import M2_PER_MU, AreaMeasure, planar_measure
from .changes import NONAGRI


@dataclass
class CoverageResult:
    """What the coverage analysis found.

    Attributes
    ----------
    tables : dict of str to DataFrame
        ``coverage_by_county``, ``coverage_by_township``, ``coverage_by_village`` (those with zones).
    hsf_outside_farmland : GeoDataFrame
        HSF not on farmland: ``outside`` = ``t0`` (mapped onto non-farmland) or ``t1`` (farmland at T0
        but not at T1: occupied since), with ``area_mu``.
    hsf_to_construction : GeoDataFrame
        HSF on T0 farmland that became construction land at T1, with T0/T1 codes and ``area_mu``.
    hsf_gaps : GeoDataFrame
        PBF not yet HSF as contiguous blocks: ``rank``, ``area_mu``, ``compactness`` (Polsby-Popper,
        1 for a circle), ``county_code``, ``county_name``.
    """

    tables: dict[str, pd.DataFrame]
    hsf_outside_farmland: gpd.GeoDataFrame
    hsf_to_construction: gpd.GeoDataFrame
    hsf_gaps: gpd.GeoDataFrame
    warnings: list[str] = field(default_factory=list)


FIRST_HSF_YEAR = 1990
"""Earliest plausible HSF construction year; earlier (and future) years count as not given."""


def hsf_by_year(hsf: gpd.GeoDataFrame, year_field: str, *, current_year: int | None,
                measure: AreaMeasure | None = None) -> tuple[pd.DataFrame, list[str]]:
    """HSF features and area per construction year, and warnings about years missing or implausible.

    Parameters
    ----------
    hsf : GeoDataFrame
        HSF features (projected CRS).
    year_field : str
        Field holding the construction year (e.g. ``JSND``); values like ``2019``, ``"2019"``,
        ``"2019年"`` or ``2019.0`` are read as 2019.
    current_year : int or None
        The data's year (the latest land-use survey's); later construction years are implausible.
        ``None`` (no survey year known): no upper limit.
        Years after this one are implausible.

    Returns
    -------
    table : DataFrame
        ``hsf_year`` (int, or ``None`` where not given), ``hsf_features``, ``hsf_mu`` (sum of feature
        areas: overlapping projects count in each year), ascending by year with "not given" last.
    warnings : list of str
        One line when some features have no usable year: how many, their 亩, and the odd values seen.
    """
    raw = hsf[year_field] if year_field in hsf else pd.Series(pd.NA, index=hsf.index)
    text = raw.astype("string").str.strip().str.extract(r"^(\d{4})(?:\.0+)?\s*年?$", expand=False)
    year = pd.to_numeric(text, errors="coerce").astype("float64")
    upper = current_year if current_year is not None else 9999
    usable = year.between(FIRST_HSF_YEAR, upper).fillna(False).astype(bool)
    measure = measure or planar_measure(str(hsf.crs))
    area_mu = measure.m2(np.asarray(hsf.geometry.values, dtype=object)) / M2_PER_MU
    frame = pd.DataFrame({"hsf_year": year.where(usable).astype("Int64"), "area_mu": area_mu})
    table = (frame.groupby("hsf_year", dropna=False, sort=True)
             .agg(hsf_features=("area_mu", "size"), hsf_mu=("area_mu", "sum")).reset_index())
    table["hsf_year"] = table["hsf_year"].astype(object).where(table["hsf_year"].notna(), None)
    warnings = []
    if (~usable).any():
        odd = raw[~usable].astype("string").fillna("<空>").value_counts().head(5)
        shown = "、".join(f"{value} ×{count}" for value, count in odd.items())
        warnings.append(f"高标准农田 {int((~usable).sum())} 个图斑（{area_mu[~usable.to_numpy()].sum():.2f} 亩）"
                        f"无有效建设年度 {year_field}（{FIRST_HSF_YEAR}–{current_year or ''}），如 {shown}；"
                        "这些图斑仍计入覆盖率，但不计入分年度统计 / HSF features without a usable construction "
                        "year: still counted in coverage, not in the by-year table")
    return table, warnings


def compactness(geoms: np.ndarray) -> np.ndarray:
    """Polsby-Popper compactness 4πA/P² (1 for a circle, ≈0.785 for a square, → 0 for slivers)."""
    area = shapely.area(geoms)
    perimeter = shapely.length(geoms)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(perimeter > 0, 4 * np.pi * area / perimeter**2, 0.0)


def _farmland(layer: gpd.GeoDataFrame | None) -> np.ndarray:
    if layer is None:
        return np.zeros(0, dtype=object)
    mask = layer["category"].to_numpy() == landuse.FARMLAND
    return np.asarray(layer.geometry.values, dtype=object)[mask]


def _farmland_shares(layer: gpd.GeoDataFrame | None) -> np.ndarray | None:
    """田坎 shares of a layer's farmland parcels (None where the layer has no ridge data)."""
    if layer is None or RIDGE_SHARE not in layer or not layer[RIDGE_SHARE].notna().any():
        return None
    return layer[RIDGE_SHARE].to_numpy(dtype=float)[layer["category"].to_numpy() == landuse.FARMLAND]


def coverage_table(zones: gpd.GeoDataFrame, keys: list[str], *, pbf: np.ndarray, hsf: np.ndarray,
                   hsf_pbf: np.ndarray, farmland: np.ndarray, hsf_farmland: np.ndarray,
                   farmland_shares: np.ndarray | None = None, hsf_farmland_shares: np.ndarray | None = None,
                   measure: AreaMeasure | None = None) -> pd.DataFrame:
    """Coverage figures per zone (亩 and shares), each the area of the zone's part of the named geometry.

    Parameters
    ----------
    zones : GeoDataFrame
    keys : list of str
        Zone columns that identify a row.
    pbf, hsf, hsf_pbf, farmland, hsf_farmland : numpy.ndarray of geometries
        Non-overlapping PBF, HSF, HSF ∩ PBF, current farmland parcels, HSF ∩ farmland pieces.
    farmland_shares, hsf_farmland_shares : numpy.ndarray, optional
        田坎 share of each farmland parcel and of the parcel each HSF ∩ farmland piece lies on: the net
        columns are given with them.
    measure : AreaMeasure, optional
        The area kind (default planar).

    Returns
    -------
    DataFrame
        ``keys`` + ``pbf_mu``, ``hsf_mu``, ``hsf_on_pbf_mu``, ``pbf_coverage`` (share 0–1),
        ``pbf_gap_mu``, ``farmland_mu``, ``hsf_on_farmland_mu``, ``farmland_coverage``; with 田坎 shares also
        ``farmland_net_mu`` and ``hsf_on_farmland_net_mu``, and ``farmland_coverage`` is then their ratio.
    """
    zg = np.asarray(zones.geometry.values, dtype=object)
    table = zones[keys].reset_index(drop=True).copy()
    net = farmland_shares is not None and hsf_farmland_shares is not None
    # each geometry set overlaid with the zones once: its gross and (with 田坎 shares) net area
    figures = [(("pbf_mu",), pbf, [None]), (("hsf_mu",), hsf, [None]), (("hsf_on_pbf_mu",), hsf_pbf, [None]),
               (("farmland_mu", "farmland_net_mu") if net else ("farmland_mu",), farmland,
                [None, 1 - farmland_shares] if net else [None]),
               (("hsf_on_farmland_mu", "hsf_on_farmland_net_mu") if net else ("hsf_on_farmland_mu",), hsf_farmland,
                [None, 1 - hsf_farmland_shares] if net else [None])]
    for columns, geoms, weights in figures:
        for column, m2 in zip(columns, areas_by_zone(geoms, zg, measure=measure, weights=weights), strict=True):
            table[column] = m2 / M2_PER_MU
    table = table.groupby(keys, as_index=False, dropna=False).sum()
    farm, covered = ("farmland_net_mu", "hsf_on_farmland_net_mu") if net else ("farmland_mu", "hsf_on_farmland_mu")
    with np.errstate(divide="ignore", invalid="ignore"):
        table["pbf_coverage"] = np.where(table["pbf_mu"] > 0, table["hsf_on_pbf_mu"] / table["pbf_mu"], np.nan)
        table["farmland_coverage"] = np.where(table[farm] > 0, table[covered] / table[farm], np.nan)
    table["pbf_gap_mu"] = table["pbf_mu"] - table["hsf_on_pbf_mu"]
    order = keys + ["pbf_mu", "hsf_mu", "hsf_on_pbf_mu", "pbf_coverage", "pbf_gap_mu", "farmland_mu", "farmland_net_mu",
                    "hsf_on_farmland_mu", "hsf_on_farmland_net_mu", "farmland_coverage"]
    return table[[c for c in order if c in table]].sort_values(keys, ignore_index=True)


def _frame(geoms, crs, measure: AreaMeasure, **columns) -> gpd.GeoDataFrame:
    """A result layer with ``area_mu`` (the run's kind), ``area_mu_planar`` and ``area_mu_ellipsoidal``."""
    geoms = np.asarray(geoms, dtype=object)
    frame = gpd.GeoDataFrame(columns, geometry=geoms, crs=crs)
    frame["area_mu"] = measure.m2(geoms) / M2_PER_MU if len(geoms) else []
    frame["area_mu_planar"] = measure.planar_m2(geoms) / M2_PER_MU if len(geoms) else []
    frame["area_mu_ellipsoidal"] = measure.ellipsoidal_m2(geoms) / M2_PER_MU if len(geoms) else []
    return frame


def analyse_coverage(*, pbf: gpd.GeoDataFrame | None, hsf: gpd.GeoDataFrame | None, landuse_t1: gpd.GeoDataFrame,
                     landuse_t0: gpd.GeoDataFrame | None = None, change_pieces: gpd.GeoDataFrame | None = None,
                     zone_levels: dict[str, tuple[gpd.GeoDataFrame, list[str]]],
                     measure: AreaMeasure | None = None) -> CoverageResult:
    """Coverage of PBF and farmland by HSF, HSF off farmland, HSF occupied by construction, and gaps.

    Parameters
    ----------
    pbf, hsf : GeoDataFrame or numpy.ndarray, optional
        Permanent basic farmland and high-standard farmland, or their dissolved geometries (a missing
        layer counts as empty).
    landuse_t1 : GeoDataFrame
        Current land use (``category`` column); its farmland is "current farmland".
    landuse_t0 : GeoDataFrame, optional
        Earlier land use: tells HSF mapped onto non-farmland from HSF occupied since T0.
    change_pieces : GeoDataFrame, optional
        From :func:`~kmrv_geo.analysis.changes.change_pieces`: its ``nonagri`` pieces are the farmland
        turned to construction.
    zone_levels : dict
        Level name (``county``, ``township``, ``village``) → (zones frame, key columns).
    measure : AreaMeasure, optional
        The area kind of every figure (default planar).

    Returns
    -------
    CoverageResult
    """
    crs = landuse_t1.crs
    measure = measure or planar_measure(str(crs))
    empty = np.zeros(0, dtype=object)
    pbf_d = zones_of(pbf) if pbf is not None else empty
    hsf_d = zones_of(hsf) if hsf is not None else empty
    farm_t1 = _farmland(landuse_t1)
    shares_t1 = _farmland_shares(landuse_t1)
    _, _, hsf_pbf = intersect_pairs(hsf_d, pbf_d)
    hsf_i, farm_i, hsf_farm = intersect_pairs(hsf_d, farm_t1)
    tables = {
        f"coverage_by_{level}": coverage_table(
            zones, keys, pbf=pbf_d, hsf=hsf_d, hsf_pbf=hsf_pbf, farmland=farm_t1, hsf_farmland=hsf_farm,
            farmland_shares=shares_t1, hsf_farmland_shares=shares_t1[farm_i] if shares_t1 is not None else None,
            measure=measure)
        for level, (zones, keys) in zone_levels.items() if zones is not None and not zones.empty
    }
    if hsf is None:  # no HSF layer: what is built is unknown, never 0 亩
        for table in tables.values():
            unknown = [c for c in table.columns if c.startswith("hsf_") or c.endswith("_coverage") or c == "pbf_gap_mu"]
            table[unknown] = np.nan

    # HSF outside current farmland, told apart by whether it was farmland at T0
    off_t1 = difference_from(hsf_d, farm_t1, pairs=(hsf_i, farm_i, hsf_farm))  # the overlay above, not again
    off_t1 = off_t1[~shapely.is_missing(off_t1)]
    if landuse_t0 is not None and len(off_t1):
        _, _, was_farm = intersect_pairs(off_t1, _farmland(landuse_t0))
        never = difference_from(off_t1, _farmland(landuse_t0))
        never = never[~shapely.is_missing(never)]
        outside = _frame(np.r_[never, was_farm], crs, measure, outside=["t0"] * len(never) + ["t1"] * len(was_farm))
    else:
        outside = _frame(off_t1, crs, measure, outside=["t1"] * len(off_t1))

    if change_pieces is not None and len(change_pieces) and len(hsf_d):
        nonagri = change_pieces[change_pieces["change_class"] == NONAGRI]
        pi, _hi, pieces = intersect_pairs(np.asarray(nonagri.geometry.values, dtype=object), hsf_d)
        occupied = _frame(pieces, crs, measure, t0_code=nonagri["t0_code"].to_numpy()[pi],
                          t1_code=nonagri["t1_code"].to_numpy()[pi])
    else:
        occupied = _frame(np.zeros(0, dtype=object), crs, measure, t0_code=[], t1_code=[])

    gaps = difference_from(pbf_d, hsf_d)
    gaps = gaps[~shapely.is_missing(gaps)]
    gaps = merge_contiguous(shapely.get_parts(gaps)) if len(gaps) else gaps  # PBF features side by side: one block
    gap_frame = _frame(gaps, crs, measure)
    gap_frame["compactness"] = compactness(np.asarray(gap_frame.geometry.values, dtype=object)) if len(gaps) else []
    county = zone_levels.get("county", (None, []))
    gap_frame = label_by_zone(gap_frame, county[0], list(county[1]))
    gap_frame = gap_frame.sort_values(["area_mu", "compactness"], ascending=False, ignore_index=True)
    gap_frame.insert(0, "rank", np.arange(1, len(gap_frame) + 1))
    return CoverageResult(tables=tables, hsf_outside_farmland=outside, hsf_to_construction=occupied,
                          hsf_gaps=gap_frame)
