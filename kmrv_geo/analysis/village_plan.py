"""Village plan review (村庄规划审查): what is built and what is planned against the rules a planner checks.

Pure: frames and geometry arrays in, frames out. For each village (polygon) :func:`review_villages` finds

1. ``built_outside_boundary``: construction today (T1) outside the village construction boundary (村庄建设边界),
   roads and water works excepted (``boundary_exempt``); ``new_built_outside_boundary``: its part that was not
   construction at T0;
2. ``planned_on_pbf``, ``planned_in_erl``, ``planned_in_udb``: planned construction on PBF, inside the
   ecological red line, overlapping the urban development boundary;
3. ``planned_farmland_loss``: current (T1) farmland planned as non-agricultural use (its PBF part beside it);
4. ``new_built_in_lake_zone1``/``2``: construction new since T0 inside Dianchi protection zone 1 / 2;

and per village the planned against the current construction land (建设用地规模). Each finding is one
geometry per village, its area measured in the run's area kind. A village without a plan (or without a
construction boundary, or without lake zones) gets no figure for the findings that need it (NaN, never 0).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import landuse
from ..overlay import area_inside, difference_from, dissolve_zones, intersect_pairs, split_by_zones
from ..units import M2_PER_MU, AreaMeasure, planar_measure
from .keys import VILLAGE_KEY

logger = logging.getLogger(__name__)

DEFAULT_PLAN_CLASSES: dict[str, tuple[str, ...]] = {
    "construction": ("07", "08", "09", "10", "11", "12", "13", "14", "15", "16"),
    "agricultural": ("01", "02", "06"),
    "ecological": ("03", "04", "05"),
    "water": ("17", "18", "19", "20", "21", "22"),
    "other": ("23", "24", "25"),
}
"""用地用海分类 (2023) level-1 codes per class (``shared/DOMAIN.md``): 07–16 are construction; 01 耕地, 02 园地 and
06 农业设施建设用地 (乡村道路, 种植/养殖设施: managed as agricultural land, as 三调 counts 1006 农村道路 and 1202
设施农用地) agricultural; 03 林地, 04 草地 and 05 湿地 ecological; 17 陆地水域 (and the sea codes) water; 23 其他土地
other. Config ``village_planning.classes`` replaces a class's list (longest prefix wins)."""
FINDINGS = {
    "built_outside_boundary": ("村庄建设边界外现状建设", "built outside the village construction boundary"),
    "new_built_outside_boundary": ("村庄建设边界外新增建设",
                                   "new construction outside the village construction boundary"),
    "planned_on_pbf": ("规划建设占用永久基本农田", "planned construction on PBF"),
    "planned_in_erl": ("规划建设位于生态保护红线内", "planned construction inside the ecological red line"),
    "planned_in_udb": ("规划建设与城镇开发边界重叠", "planned construction overlapping the urban development boundary"),
    "planned_farmland_loss": ("现状耕地规划为非农用途", "current farmland planned as non-agricultural use"),
    "new_built_in_lake_zone1": ("滇池一级保护区内新增建设", "new construction in Dianchi protection zone 1"),
    "new_built_in_lake_zone2": ("滇池二级保护区内新增建设", "new construction in Dianchi protection zone 2"),
}  # fmt: skip
"""Finding code → (Chinese, English) text."""
NEEDS = {"built_outside_boundary": "boundary", "new_built_outside_boundary": "boundary", "planned_on_pbf": "plan",
         "planned_in_erl": "plan", "planned_in_udb": "plan", "planned_farmland_loss": "plan",
         "new_built_in_lake_zone1": "lake", "new_built_in_lake_zone2": "lake"}
"""What each finding needs of a village: its construction boundary, its plan, or the lake zones."""
REVIEW_COLUMNS = ["village_key", "village", "finding", "finding_text", "area_mu", "new_mu", "pbf_mu",
                  "lake_zone_source"]
VILLAGE_COLUMNS = ["village_key", "has_plan", "has_boundary", "lake_zone_source", *[f"{f}_mu" for f in FINDINGS],
                   "planned_construction_mu", "current_construction_mu", "construction_change_mu", "findings"]


@dataclass
class LakeZones:
    """Dianchi protection zones 1 and 2 as dissolved geometries, and where they come from.

    Attributes
    ----------
    zone1, zone2 : numpy.ndarray of geometries
    source : {"official", "approximation"}
        ``approximation``: buffers of the lake outline (config ``lake_zone_buffers_m``), said on every output.
    """

    zone1: np.ndarray
    zone2: np.ndarray
    source: str = "official"


@dataclass
class VillageReview:
    """What the plan review found.

    Attributes
    ----------
    findings : GeoDataFrame
        ``village_review``: one row per village and finding (:data:`REVIEW_COLUMNS`), its geometry;
        ``new_mu`` is the part not built today for the planned findings (the rest: existing construction the
        plan keeps), the whole for the new-construction findings, empty for the boundary finding.
    villages : DataFrame
        One row per village (:data:`VILLAGE_COLUMNS`): each finding's 亩 (NaN where it could not be computed),
        planned and current construction land and their difference, the number of findings (NaN where nothing
        could be checked); ``has_plan``/``has_boundary`` empty when the layer was not given at all.
    warnings : list of str
    """

    findings: gpd.GeoDataFrame
    villages: pd.DataFrame
    warnings: list[str] = field(default_factory=list)
    given: tuple[str, ...] = ()
    landuse: pd.DataFrame | None = None


def plan_classes(codes, overrides: dict[str, list[str]] | None = None) -> np.ndarray:
    """The class of each 用地用海 code (longest matching prefix; ``unknown`` when none matches).

    Examples
    --------
    >>> list(plan_classes(["0703", "0103", "0301", "1701", "9999"]))
    ['construction', 'agricultural', 'ecological', 'water', 'unknown']
    """
    table = {**DEFAULT_PLAN_CLASSES, **{k: tuple(v) for k, v in (overrides or {}).items()}}
    prefixes = sorted(((p, cls) for cls, ps in table.items() for p in ps), key=lambda x: -len(x[0]))

    def one(code) -> str:
        code = "" if code is None else str(code)
        return next((cls for p, cls in prefixes if code.startswith(p)), "unknown") if code else "unknown"

    distinct = {c: one(c) for c in pd.unique(pd.Series(list(codes), dtype=object))}
    return np.array([distinct[c] for c in codes], dtype=object)


def approximate_lake_zones(lake: np.ndarray, widths_m: tuple[float, float]) -> LakeZones:
    """Zone 1 = the lake and a belt of ``widths_m[0]`` around it; zone 2 = out to ``widths_m[1]`` (an approximation)."""
    outline = shapely.union_all(np.asarray(lake, dtype=object))
    zone1 = shapely.buffer(outline, widths_m[0])
    zone2 = shapely.difference(shapely.buffer(outline, widths_m[1]), zone1)
    return LakeZones(np.array([zone1], dtype=object), np.array([zone2], dtype=object), "approximation")


def _starts(codes: np.ndarray, prefixes) -> np.ndarray:
    codes = np.asarray([("" if c is None else str(c)) for c in codes], dtype=object)
    return np.array([c.startswith(tuple(prefixes)) for c in codes], dtype=bool) if len(prefixes) else \
        np.zeros(len(codes), dtype=bool)


def _by_village(geoms: np.ndarray, villages: gpd.GeoDataFrame, crs) -> gpd.GeoDataFrame:
    """The parts of ``geoms`` inside each village, one (dissolved) geometry per village."""
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)] if len(geoms) else geoms
    if not len(geoms):
        return gpd.GeoDataFrame({VILLAGE_KEY: []}, geometry=[], crs=crs)
    pieces = split_by_zones(gpd.GeoDataFrame(geometry=geoms, crs=crs), villages[[VILLAGE_KEY, "geometry"]],
                            [VILLAGE_KEY], outside={VILLAGE_KEY: None}, search_from="right")
    pieces = pieces[pieces[VILLAGE_KEY].notna()]
    if pieces.empty:
        return gpd.GeoDataFrame({VILLAGE_KEY: []}, geometry=[], crs=crs)
    return pieces[[VILLAGE_KEY, "geometry"]].dissolve(by=VILLAGE_KEY, as_index=False, sort=True)


def _inside(geoms: np.ndarray, zones: np.ndarray | None) -> np.ndarray:
    """``geoms ∩ zones`` as pieces (zones dissolved)."""
    if zones is None or not len(zones) or not len(geoms):
        return np.array([], dtype=object)
    return intersect_pairs(np.asarray(geoms, dtype=object), np.asarray(zones, dtype=object))[2]


def _union(geoms: np.ndarray) -> np.ndarray:
    return dissolve_zones(np.asarray(geoms, dtype=object)) if len(geoms) else np.array([], dtype=object)


def review_villages(villages: gpd.GeoDataFrame, *, t0: gpd.GeoDataFrame | None, t1: gpd.GeoDataFrame,
                    plan: gpd.GeoDataFrame | None = None, boundary: np.ndarray | None = None,
                    pbf: np.ndarray | None = None, erl: np.ndarray | None = None, udb: np.ndarray | None = None,
                    lake_zones: LakeZones | None = None, classes: dict[str, list[str]] | None = None,
                    boundary_exempt=("10", "1109", "1201"), min_finding_m2: float = 1.0,
                    measure: AreaMeasure | None = None, lang: str = "zh") -> VillageReview:
    """Review every village against its plan, its construction boundary, 三区三线 and the lake zones.

    Parameters
    ----------
    villages : GeoDataFrame
        Village polygons with ``village_key`` and ``village``.
    t0, t1 : GeoDataFrame
        Land use (``code``, ``category``) at both dates; without T0 the "new since T0" findings are not given.
    plan : GeoDataFrame, optional
        Planned land use with ``plan_code`` (用地用海 code, text).
    boundary : numpy.ndarray of geometries, optional
        The village construction boundaries (dissolved or not).
    pbf, erl, udb : numpy.ndarray of geometries, optional
        Dissolved PBF, ecological red line, urban development boundary.
    lake_zones : LakeZones, optional
    classes : dict, optional
        Plan class overrides (config ``village_planning.classes``).
    boundary_exempt : sequence of str
        T1 code prefixes not counted as built for the boundary findings.
    min_finding_m2 : float, default 1.0
        Findings smaller than this (slivers of misaligned layers) are not listed (they count 0).
    measure : AreaMeasure, optional
        The area kind (default planar).
    lang : {"zh", "en"}
        Language of ``finding_text``.

    Returns
    -------
    VillageReview
    """
    measure = measure or planar_measure(str(villages.crs))
    crs = villages.crs
    warnings: list[str] = []
    villages = villages[villages.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].reset_index(drop=True)
    village_geoms = np.asarray(villages.geometry.values, dtype=object)
    village_area = shapely.area(village_geoms)
    keys = villages[VILLAGE_KEY].to_numpy()
    t1_codes = t1["code"].fillna("").to_numpy(dtype=object)
    t1_geoms = np.asarray(t1.geometry.values, dtype=object)
    t1_construction = (t1["category"] == landuse.CONSTRUCTION).to_numpy()
    # T0 construction parcels cut directly (a land-use layer's parcels do not overlap: the load refused overlaps);
    # dissolving a city's construction land first took most of this step
    t0_construction = (np.asarray(t0.geometry.values, dtype=object)[(t0["category"] == landuse.CONSTRUCTION)
                                                                     .to_numpy()] if t0 is not None else None)
    found: dict[str, gpd.GeoDataFrame] = {}
    extra_pbf: dict[str, gpd.GeoDataFrame] = {}

    # 1. built outside the construction boundary (and its part new since T0)
    has_boundary = np.zeros(len(villages), dtype=bool)
    if boundary is not None and len(boundary):
        boundary = _union(boundary)
        has_boundary = area_inside(village_geoms, boundary, dissolved=True) > min_finding_m2
        built = t1_geoms[t1_construction & ~_starts(t1_codes, boundary_exempt)]
        outside = difference_from(built, boundary)
        outside = outside[~shapely.is_missing(outside)]
        found["built_outside_boundary"] = _by_village(outside, villages, crs)
        if t0_construction is not None:
            new = difference_from(outside, t0_construction) if len(outside) else outside
            found["new_built_outside_boundary"] = _by_village(new[~shapely.is_missing(new)], villages, crs)
        else:
            warnings.append("no T0 land use: construction new since T0 outside the boundaries is not given")

    # 2., 3. the plan
    has_plan = np.zeros(len(villages), dtype=bool)
    planned_construction = None
    if plan is not None and len(plan):
        plan_geoms = np.asarray(plan.geometry.values, dtype=object)
        plan_class = plan_classes(plan["plan_code"].to_numpy(), classes)
        unknown = pd.Series(plan["plan_code"].to_numpy()[plan_class == "unknown"]).value_counts()
        if (plan_class == "unknown").all():
            from ..errors import LayerError

            listing = ", ".join(f"{c or '(blank)'} ×{n}" for c, n in unknown.head(5).items())
            raise LayerError(f"no code of the village plan belongs to a class of the 用地用海 classification "
                             f"({listing}); check the plan's code field, or map the codes with "
                             "village_planning.classes")
        if len(unknown):
            listing = ", ".join(f"{c or '(blank)'} ×{n}" for c, n in unknown.head(10).items())
            warnings.append(f"plan codes of no class (not counted as construction or as non-agricultural use): "
                            f"{listing}; map them with village_planning.classes")
        has_plan = area_inside(village_geoms, _union(plan_geoms), dissolved=True) >= 0.5 * village_area
        planned_construction = plan_geoms[plan_class == "construction"]
        for finding, zones in (("planned_on_pbf", pbf), ("planned_in_erl", erl), ("planned_in_udb", udb)):
            if zones is not None:
                found[finding] = _by_village(_inside(planned_construction, zones), villages, crs)
        non_agricultural = plan_geoms[np.isin(plan_class, ["construction", "ecological", "water", "other"])]
        farmland = t1_geoms[(t1["category"] == landuse.FARMLAND).to_numpy()]
        loss = _by_village(_inside(farmland, _union(non_agricultural)), villages, crs)
        found["planned_farmland_loss"] = loss
        if pbf is not None:
            extra_pbf["planned_farmland_loss"] = loss

    # 4. new construction in lake zones 1 and 2
    if lake_zones is not None and t0_construction is not None:
        built = t1_geoms[t1_construction]
        zones = np.concatenate([np.asarray(lake_zones.zone1, dtype=object), np.asarray(lake_zones.zone2, dtype=object)])
        near = np.unique(shapely.STRtree(zones).query(built, predicate="intersects")[0]) if len(zones) else []
        new_built = difference_from(built[near], t0_construction)  # only construction meeting a zone can be in it
        new_built = new_built[~shapely.is_missing(new_built)]
        for level, zone in ((1, lake_zones.zone1), (2, lake_zones.zone2)):
            found[f"new_built_in_lake_zone{level}"] = _by_village(_inside(new_built, _union(zone)), villages, crs)
    elif lake_zones is not None:
        warnings.append("no T0 land use: new construction in the lake zones is not given")

    # T1 construction parcels as they are, like T0's above: they do not overlap, so they need no dissolve
    t1_built = t1_geoms[t1_construction] if found else None

    # the findings, one row per village and finding — only for villages where the finding can be computed
    computable = {"plan": has_plan, "boundary": has_boundary,
                  "lake": np.full(len(keys), lake_zones is not None and t0_construction is not None)}
    rows = []
    for finding, frame in found.items():
        frame = frame[frame[VILLAGE_KEY].isin(keys[computable[NEEDS[finding]]])]
        if frame.empty:
            continue
        geoms = np.asarray(frame.geometry.values, dtype=object)
        m2 = measure.m2(geoms)
        pbf_m2 = (area_inside(geoms, pbf, dissolved=True, measure=measure) if finding in extra_pbf
                  else np.full(len(frame), np.nan))
        keep = m2 >= min_finding_m2
        if finding.startswith("planned_"):  # planned on land not built today (the rest is existing construction)
            new_m2 = m2 - area_inside(geoms, t1_built, dissolved=True, measure=measure)
        elif finding.startswith("new_"):
            new_m2 = m2
        else:
            new_m2 = np.full(len(frame), np.nan)
        rows.append(gpd.GeoDataFrame({
            VILLAGE_KEY: frame[VILLAGE_KEY].to_numpy()[keep], "finding": finding,
            "finding_text": FINDINGS[finding][0 if lang == "zh" else 1], "area_mu": m2[keep] / M2_PER_MU,
            "new_mu": np.maximum(new_m2[keep], 0.0) / M2_PER_MU, "pbf_mu": pbf_m2[keep] / M2_PER_MU,
        }, geometry=geoms[keep], crs=crs))  # fmt: skip
    names = dict(zip(keys, villages["village"].to_numpy(), strict=True))
    review = (pd.concat(rows, ignore_index=True) if rows else
              gpd.GeoDataFrame({c: [] for c in REVIEW_COLUMNS}, geometry=[], crs=crs))
    review = gpd.GeoDataFrame(review, geometry="geometry", crs=crs)
    review["village"] = review[VILLAGE_KEY].map(names)
    review["lake_zone_source"] = np.where(review["finding"].astype(str).str.startswith("new_built_in_lake"),
                                          lake_zones.source if lake_zones is not None else "", "")
    order = {f: i for i, f in enumerate(FINDINGS)}
    review = review.assign(_o=review["finding"].map(order)).sort_values([VILLAGE_KEY, "_o"], kind="stable")
    review = gpd.GeoDataFrame(review[REVIEW_COLUMNS + ["geometry"]].reset_index(drop=True), geometry="geometry",
                              crs=crs)

    # per village: each finding's 亩 (NaN where not computed), construction land planned vs current
    plan_given = plan is not None and len(plan) > 0
    boundary_given = boundary is not None and len(boundary) > 0
    table = pd.DataFrame({VILLAGE_KEY: keys,  # unknown (empty) where the layer was not given at all
                          "has_plan": pd.array(has_plan, dtype="boolean") if plan_given else pd.NA,
                          "has_boundary": pd.array(has_boundary, dtype="boolean") if boundary_given else pd.NA,
                          "lake_zone_source": lake_zones.source if lake_zones is not None else ""})
    for finding in FINDINGS:
        mine = review[review["finding"] == finding].set_index(VILLAGE_KEY)["area_mu"]
        values = pd.Series(keys).map(mine).fillna(0.0).to_numpy()
        ok = computable[NEEDS[finding]] & (finding in found)
        table[f"{finding}_mu"] = np.where(ok, values, np.nan)
    reviewed = has_plan | has_boundary | computable["lake"]
    counts = pd.Series(keys).map(review.groupby(VILLAGE_KEY).size()).fillna(0).to_numpy(dtype=float)
    table["findings"] = np.where(reviewed, counts, np.nan)  # a village nothing could be checked in: unknown, not 0
    current = t1_geoms[t1_construction]
    table["current_construction_mu"] = _mu_by_village(current, villages, measure)
    if planned_construction is not None:
        planned = _mu_by_village(planned_construction, villages, measure)
        table["planned_construction_mu"] = np.where(has_plan, planned, np.nan)
    else:
        table["planned_construction_mu"] = np.nan
    table["construction_change_mu"] = table["planned_construction_mu"] - table["current_construction_mu"]
    missing = int((~has_plan).sum()) if plan is not None else len(keys)
    if plan is not None and missing:
        names_missing = villages["village"].to_numpy()[~has_plan]
        shown = ", ".join(map(str, names_missing[:10])) + (" …" if len(names_missing) > 10 else "")
        warnings.append(f"{missing} villages have no plan (plan findings not given): {shown}")
    given = tuple(k for k, v in (("plan", plan_given), ("boundary", boundary_given),
                                 ("lake", lake_zones is not None)) if v)
    return VillageReview(findings=review, villages=table[VILLAGE_COLUMNS], warnings=warnings, given=given)


def _mu_by_village(geoms: np.ndarray, villages: gpd.GeoDataFrame, measure: AreaMeasure) -> np.ndarray:
    """亩 of ``geoms`` (not overlapping each other) inside each village, in village order."""
    frame = _by_village(geoms, villages, villages.crs)
    values = pd.Series(measure.m2(np.asarray(frame.geometry.values, dtype=object)) / M2_PER_MU,
                       index=frame[VILLAGE_KEY].to_numpy()) if len(frame) else pd.Series(dtype=float)
    return pd.Series(villages[VILLAGE_KEY].to_numpy()).map(values).fillna(0.0).to_numpy()


def landuse_by_village(villages: gpd.GeoDataFrame, *, t0: gpd.GeoDataFrame | None, t1: gpd.GeoDataFrame,
                       measure: AreaMeasure | None = None) -> pd.DataFrame:
    """Land use by category inside each village at T0 and T1 — the before/after table of a village page.

    Returns
    -------
    DataFrame
        ``village_key``, ``category`` (farmland, other_agricultural, construction, other, unknown), ``t0_mu``
        (NaN without T0), ``t1_mu``, ``change_mu``; every village × category that occurs at either date.
    """
    measure = measure or planar_measure(str(villages.crs))
    zones = villages[villages.geometry.geom_type.isin(["Polygon", "MultiPolygon"])][[VILLAGE_KEY, "geometry"]]

    def by_category(land: gpd.GeoDataFrame | None, column: str) -> pd.Series:
        if land is None or zones.empty:
            return pd.Series(dtype=float, name=column)
        pieces = split_by_zones(land[["category", "geometry"]], zones, [VILLAGE_KEY], outside={VILLAGE_KEY: None},
                                search_from="right")  # each village finds its parcels
        pieces = pieces[pieces[VILLAGE_KEY].notna()]
        mu = measure.m2(np.asarray(pieces.geometry.values, dtype=object)) / M2_PER_MU
        return pd.Series(mu).groupby([pieces[VILLAGE_KEY].to_numpy(), pieces["category"].to_numpy()]).sum() \
            .rename(column)

    table = pd.concat([by_category(t0, "t0_mu"), by_category(t1, "t1_mu")], axis=1)
    table.index.names = [VILLAGE_KEY, "category"]
    table = table.reset_index()
    if t0 is not None:
        table["t0_mu"] = table["t0_mu"].fillna(0.0)
    table["t1_mu"] = table["t1_mu"].fillna(0.0)
    table["change_mu"] = table["t1_mu"] - table["t0_mu"]
    order = {c: i for i, c in enumerate(landuse.CATEGORIES)}
    return (table.assign(_o=table["category"].map(order)).sort_values([VILLAGE_KEY, "_o"])
            .drop(columns="_o").reset_index(drop=True))
