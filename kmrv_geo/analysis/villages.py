"""The Dianchi villages: one profile row per village, and the village layout review for planners.

The plan upgrades 183 villages along Dianchi: 46 重点村 (key villages, "一村一特色") and 137 绿美村庄
(green and beautiful villages). A villages layer that does not hold those numbers is reported, not
refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import landuse
from ..overlay import area_inside, difference_from, intersect_pairs, zones_of
from ..units import M2_PER_MU, AreaMeasure, planar_measure
from .keys import VILLAGE_CODE_FIELDS, VILLAGE_KEY, code_text, village_keys

KEY, GREEN = "重点村", "绿美村庄"
EXPECTED = {"total": 183, KEY: 46, GREEN: 137}
"""Villages along Dianchi in the 2023 plan, by category."""
AREA_FIELDS = ["area_mu", "farmland_mu", "farmland_net_mu", "pbf_mu", "hsf_on_pbf_mu", "pbf_coverage", "pbf_gap_mu",
               "construction_t1_mu", "new_construction_mu", "construction_on_pbf_mu"]
"""Profile fields measured inside the village boundary."""
BOUNDARY_FIELDS = AREA_FIELDS + ["illegal_mu", "nongrain_mu", "nongrain_on_pbf_mu", "abandoned_mu", "facility_sites",
                                 "facility_sites_mu", "rank_illegal", "rank_gap"]
"""Every profile field that needs a village boundary: empty (never 0) when villages are points."""
THEME_FIELDS = ("ZT", "主题", "TSZT", "CZZT")
"""Standard names of a village's theme field (一村一特色/一村一主题), searched when the config names none."""


@dataclass
class VillageInput:
    """A villages layer normalised to ``village``, ``category``, ``township`` columns, with findings.

    Attributes
    ----------
    frame : GeoDataFrame
    polygons : bool
        Whether the villages have boundaries (else points: location-only fields).
    warnings : list of str
    has_theme : bool
        Whether the layer has a theme field (主题): only then can 重点村 without a theme be listed.
    """

    frame: gpd.GeoDataFrame
    polygons: bool
    warnings: list[str] = field(default_factory=list)
    has_theme: bool = False


def normalise_villages(layer: gpd.GeoDataFrame, fields: dict[str, str], *, lang: str = "zh") -> VillageInput:
    """Pick name, category and township fields, and report counts, categories and duplicates.

    Parameters
    ----------
    layer : GeoDataFrame
        The checked villages layer (polygons or points).
    fields : dict
        Config field mapping: ``name`` (required), ``category``, ``code``, ``theme`` (主题; found as ``ZT`` …
        when not given); a ``XZMC``/``township`` field is used for the township when present.
    """
    warnings: list[str] = []
    name_field = fields.get("name")
    frame = gpd.GeoDataFrame(geometry=layer.geometry.to_numpy(), crs=layer.crs)
    frame["village"] = layer[name_field].astype("string").fillna("").str.strip().to_numpy()
    category_field = fields.get("category")
    if category_field and category_field in layer:
        frame["category"] = layer[category_field].astype("string").fillna("").str.strip().to_numpy()
    else:
        frame["category"] = ""
        warnings.append("villages: no category field given (config `category:`), so 重点村/绿美村庄 are unknown")
    theme_field = fields.get("theme") or next((f for f in THEME_FIELDS if f in layer.columns), None)
    frame["theme"] = layer[theme_field].astype("string").fillna("").str.strip().to_numpy() if theme_field else ""
    township_field = next((f for f in ("XZMC", "township", "TOWNSHIP") if f in layer.columns), None)
    frame["township"] = layer[township_field].astype("string").fillna("").to_numpy() if township_field else ""
    code_field = fields.get("code") or next((f for f in VILLAGE_CODE_FIELDS if f in layer.columns), None)
    frame["village_code"] = code_text(layer[code_field]) if code_field else ""
    keys, key_warnings = village_keys(layer, fields)
    frame.insert(0, VILLAGE_KEY, keys)
    warnings.extend(key_warnings)

    n = len(frame)
    key = int((frame["category"] == KEY).sum())
    green = int((frame["category"] == GREEN).sum())
    if (n, key, green) != (EXPECTED["total"], EXPECTED[KEY], EXPECTED[GREEN]):
        warnings.append(f"villages: the layer holds {n} villages, {key} {KEY} and {green} {GREEN}; the Dianchi "
                        f"plan has {EXPECTED['total']} ({EXPECTED[KEY]} {KEY}, {EXPECTED[GREEN]} {GREEN})")
    no_theme = frame.loc[(frame["category"] == KEY) & (frame["theme"] == ""), "village"]
    if theme_field and len(no_theme):
        warnings.append(f"villages: {len(no_theme)} {KEY} have no theme (一村一主题, field {theme_field}): "
                        + ", ".join(no_theme.head(10)))
    uncategorised = frame.loc[~frame["category"].isin([KEY, GREEN]), "category"].value_counts()
    if category_field and len(uncategorised):
        listing = ", ".join(f"{v or '(blank)'} ×{c}" for v, c in uncategorised.items())
        warnings.append(f"villages: category values other than {KEY}/{GREEN}: {listing}")
    types = set(frame.geometry.geom_type.dropna())
    polygons = types <= {"Polygon", "MultiPolygon"}
    if not polygons:
        warnings.append("villages: the layer holds points, not boundaries; profile fields that need a boundary are "
                        "left empty (需要村界) and the villages are not ranked: " + ", ".join(BOUNDARY_FIELDS))
    return VillageInput(frame=frame, polygons=polygons, warnings=warnings, has_theme=theme_field is not None)


def layout_review(villages: gpd.GeoDataFrame, *, landuse_t0: gpd.GeoDataFrame | None, landuse_t1: gpd.GeoDataFrame,
                  pbf: gpd.GeoDataFrame | None, measure: AreaMeasure | None = None) -> gpd.GeoDataFrame:
    """Construction land inside each village boundary at T1, split into what existed at T0 and what is new.

    ``measure`` is the area kind of the figures (default planar).

    Returns
    -------
    GeoDataFrame
        Pieces with ``village_index`` (row position in ``villages``), ``new`` (not construction at T0),
        ``area_mu`` and ``pbf_mu`` (part on permanent basic farmland).
    """
    crs = landuse_t1.crs
    empty = gpd.GeoDataFrame({"village_index": [], "new": [], "area_mu": [], "pbf_mu": []}, geometry=[], crs=crs)
    if villages.empty:
        return empty
    built = np.asarray(landuse_t1.geometry.values, dtype=object)[landuse_t1["category"].to_numpy() ==
                                                                  landuse.CONSTRUCTION]
    vi, _bi, pieces = intersect_pairs(np.asarray(villages.geometry.values, dtype=object), built)
    if pieces.size == 0:
        return empty
    if landuse_t0 is not None:
        old_built = np.asarray(landuse_t0.geometry.values, dtype=object)[landuse_t0["category"].to_numpy() ==
                                                                         landuse.CONSTRUCTION]
        new_parts = difference_from(pieces, old_built)
        oi, _o, old_parts = intersect_pairs(pieces, old_built)
        has_new = ~shapely.is_missing(new_parts)
        geoms = np.r_[new_parts[has_new], old_parts]
        owner = np.r_[vi[has_new], vi[oi]]
        new = np.r_[np.ones(has_new.sum(), bool), np.zeros(len(old_parts), bool)]
    else:
        geoms, owner, new = pieces, vi, np.zeros(len(pieces), bool)
    frame = gpd.GeoDataFrame({"village_index": owner, "new": new}, geometry=geoms, crs=crs)
    measure = measure or planar_measure(str(crs))
    frame["area_mu"] = measure.m2(geoms) / M2_PER_MU
    if pbf is not None:
        frame["pbf_mu"] = area_inside(geoms, zones_of(pbf), dissolved=True,
                                      measure=measure) / M2_PER_MU
    else:
        frame["pbf_mu"] = np.nan
    return frame.sort_values(["village_index", "new"], ignore_index=True)


RANK_DECIMALS = 4
"""Villages are ranked on their 亩 rounded to this many decimals (0.0001 亩 ≈ 0.07 m²): equal land, equal rank."""


def _sum_by(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    if len(index):
        np.add.at(out, np.asarray(index, dtype=np.intp), np.nan_to_num(np.asarray(values, dtype=float)))
    return out


def village_profiles(villages: VillageInput, *, coverage: pd.DataFrame | None, layout: gpd.GeoDataFrame | None,
                     patches: gpd.GeoDataFrame | None, sites: gpd.GeoDataFrame | None,
                     fragmentation: pd.DataFrame | None, lake: gpd.GeoDataFrame | None,
                     protection_zones: gpd.GeoDataFrame | None = None, zone_name_field: str | None = None,
                     county: gpd.GeoDataFrame | None = None, abandoned: pd.DataFrame | None = None,
                     measure: AreaMeasure | None = None) -> gpd.GeoDataFrame:
    """One profile row per village, ranked by illegal 亩 and by HSF coverage gap.

    Parameters
    ----------
    villages : VillageInput
    coverage : DataFrame, optional
        ``coverage_by_village`` from the coverage analysis, computed on this villages layer (same row order).
    layout : GeoDataFrame, optional
        From :func:`layout_review`.
    patches : GeoDataFrame, optional
        ``change_patches`` (their ``village_key`` column names the village: joins are by key, never by name).
    sites : GeoDataFrame, optional
        Facility sites. With village polygons, ``facility_sites`` counts the sites reaching into each
        village and ``facility_sites_mu`` is their area inside it; with points, the sites labelled with
        the village (``village`` column) and their whole area.
    fragmentation : DataFrame, optional
        Fragmentation table (``village`` column).
    lake : GeoDataFrame, optional
        Dianchi: distance from each village to the shore.
    protection_zones : GeoDataFrame, optional
        Dianchi protection zones; ``zone_name_field`` names the zone.
    county : GeoDataFrame, optional
        Counties with ``county_code``/``county_name``.
    abandoned : DataFrame, optional
        Abandoned farmland 亩 per village (``village_key``, ``abandoned_mu``), once the raster analysis ran.
    measure : AreaMeasure, optional
        The area kind of the village area and of facility sites inside it (default planar).

    Returns
    -------
    GeoDataFrame
        One row per village, in the layer's order, with ``rank_illegal`` and ``rank_gap`` (1 = most).
    """
    frame = villages.frame.copy()
    n = len(frame)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    nan = np.full(n, np.nan)
    measure = measure or planar_measure(str(frame.crs))
    if villages.polygons:
        frame["area_mu"] = measure.m2(geoms) / M2_PER_MU
    else:
        frame["area_mu"] = nan
    for column in ("farmland_mu", "farmland_net_mu", "pbf_mu", "hsf_on_pbf_mu", "pbf_coverage", "pbf_gap_mu"):
        if column == "farmland_net_mu" and (coverage is None or column not in coverage):
            continue  # no 田坎 data: no net column
        frame[column] = coverage[column].to_numpy() if coverage is not None and villages.polygons else nan
    if layout is not None and villages.polygons:
        idx = layout["village_index"].to_numpy()
        frame["construction_t1_mu"] = _sum_by(idx, layout["area_mu"], n)
        frame["new_construction_mu"] = _sum_by(idx[layout["new"].to_numpy(bool)],
                                               layout.loc[layout["new"].to_numpy(bool), "area_mu"], n)
        frame["construction_on_pbf_mu"] = _sum_by(idx, layout["pbf_mu"], n)
    else:
        frame["construction_t1_mu"] = frame["new_construction_mu"] = frame["construction_on_pbf_mu"] = nan

    def per_village(table, column, how="sum"):
        """Sum (or count) of a table's rows per village, joined by key; empty for point villages."""
        if not villages.polygons:
            return pd.Series(np.nan, index=frame.index)
        if table is None or table.empty or VILLAGE_KEY not in table:
            return pd.Series(0.0, index=frame.index)
        grouped = getattr(table.groupby(VILLAGE_KEY)[column], how)()
        return frame[VILLAGE_KEY].map(grouped).fillna(0.0)

    if patches is not None:
        nonagri = patches[patches["change_class"] == "nonagri"]
        # without approvals nothing is judged: illegal 亩 is unknown (empty, unranked), never 0
        unjudged = len(nonagri) and nonagri["illegal_mu"].isna().all()
        frame["illegal_mu"] = nan if unjudged else per_village(patches, "illegal_mu").to_numpy()
        nongrain = patches[patches["change_class"] == "nongrain"]
        frame["nongrain_mu"] = per_village(nongrain, "area_mu").to_numpy()
        frame["nongrain_on_pbf_mu"] = per_village(nongrain, "pbf_mu").to_numpy()
    else:
        frame["illegal_mu"] = frame["nongrain_mu"] = frame["nongrain_on_pbf_mu"] = nan
    frame["abandoned_mu"] = per_village(abandoned, "abandoned_mu").to_numpy() if abandoned is not None else nan
    if sites is not None and villages.polygons and not sites.empty:
        # A block often spans several villages: count it in each village it reaches into, with the
        # part of it inside that village (so the 亩 never exceed the village's farmland).
        vi, _, pieces = intersect_pairs(geoms, np.asarray(sites.geometry.values, dtype=object))
        frame["facility_sites"] = np.bincount(vi, minlength=n).astype(int)
        frame["facility_sites_mu"] = _sum_by(vi, measure.m2(pieces) / M2_PER_MU, n)
    elif sites is not None and villages.polygons:  # no sites at all
        frame["facility_sites"] = 0
        frame["facility_sites_mu"] = 0.0
    else:
        frame["facility_sites"] = pd.array([pd.NA] * n, dtype="Int64")
        frame["facility_sites_mu"] = nan
    if fragmentation is not None:
        frag = fragmentation.set_index(VILLAGE_KEY)
        for column in ("farmland_parcels", "mean_parcel_mu", "share_under_1mu", "parcels_per_100mu"):
            frame[column] = frame[VILLAGE_KEY].map(frag[column]).to_numpy()
    if lake is not None and not lake.empty:
        shore = shapely.union_all(np.asarray(lake.geometry.values, dtype=object))
        frame["distance_to_shore_m"] = shapely.distance(geoms, shore)
    else:
        frame["distance_to_shore_m"] = nan
    frame["protection_zone"] = _zone_of(geoms, protection_zones, zone_name_field)
    frame["county_code"], frame["county_name"] = _county_of(geoms, county)
    # rankings only among villages with the figure (points, which have none, are left out)
    # ranked on 亩 to 4 decimals: float noise (a gap of 1e-13 亩 where PBF and HSF coincide) is no rank apart
    frame["rank_illegal"] = frame["illegal_mu"].round(RANK_DECIMALS).rank(method="min", ascending=False).astype("Int64")
    frame["rank_gap"] = frame["pbf_gap_mu"].round(RANK_DECIMALS).rank(method="min", ascending=False).astype("Int64")
    return frame


def _zone_of(geoms: np.ndarray, zones: gpd.GeoDataFrame | None, name_field: str | None) -> np.ndarray:
    """Name of the zone overlapping each village most (containing it, for points); '' when none."""
    out = np.full(len(geoms), "", dtype=object)
    if zones is None or zones.empty:
        return out
    names = zones[name_field].astype("string").fillna("").to_numpy() if name_field and name_field in zones else \
        np.array([f"zone {i + 1}" for i in range(len(zones))], dtype=object)
    zg = np.asarray(zones.geometry.values, dtype=object)
    vi, zi = shapely.STRtree(zg).query(geoms, predicate="intersects")
    if vi.size == 0:
        return out
    overlap = shapely.area(shapely.intersection(geoms[vi], zg[zi]))
    order = np.lexsort((-overlap, vi))
    vi, zi = vi[order], zi[order]
    first = np.unique(vi, return_index=True)[1]
    out[vi[first]] = names[zi[first]]
    return out


def _county_of(geoms: np.ndarray, county: gpd.GeoDataFrame | None):
    codes = np.full(len(geoms), "", dtype=object)
    names = codes.copy()
    if county is None or county.empty:
        return codes, names
    points = shapely.point_on_surface(geoms)
    vi, ci = shapely.STRtree(np.asarray(county.geometry.values, dtype=object)).query(points, predicate="within")
    first = np.unique(vi, return_index=True)[1]
    codes[vi[first]] = county["county_code"].to_numpy()[ci[first]]
    names[vi[first]] = county["county_name"].to_numpy()[ci[first]]
    return codes, names
