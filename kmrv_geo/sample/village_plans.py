"""Synthetic village plans (实用性村庄规划) and Dianchi protection zones of the sample (示例数据，合成).

:func:`make_village_plans` adds to the sample, from the villages, the land use, the changes and the
ERL/UDB of :mod:`.enforcement` (reused, never redrawn):

- ``ZT`` (主题, "一村一特色") for about 40 of the 46 重点村 (:func:`village_themes`; blank elsewhere);
- ``village_plan`` (planned land use, 用地用海分类 2023): for all but :data:`N_WITHOUT_PLAN` villages, the
  2023 land use of the village mapped by :data:`FROM_GB` and dissolved per code, so plan and current use
  agree (2023 construction on PBF or inside the ERL is planned as its 2022 use: a plan does not legalise
  it). Then conflicts are carved out of it (the plan stays a partition of the village), each inside one
  unchanged 2023 parcel that is not construction now and at least :data:`GAP_M` from every change piece:
  homesteads 0703 on PBF farmland, a road strip 1207 inside the ERL, construction inside the UDB, industry
  1001 on farmland off PBF;
- ``village_boundary`` (村庄建设边界): per planned village, the 2023 buildings (三调 05–09) grown by
  :data:`BOUNDARY_GROW_M` and shrunk by :data:`BOUNDARY_SHRINK_M` (≈ 10 m margin), clipped to the village,
  with some old buildings and some buildings new since 2022 cut out exactly;
- ``lake_zones`` (滇池保护区 一级/二级/三级): the lake and its lakeside belt up to the 环湖路; out to
  :data:`ZONE2_M` from the shore plus :data:`RIVER_BELT_M` on each side of the main inflowing rivers; the rest;
- ``truth_village_review``: one row per finding (:data:`FINDINGS`); ``truth_village_plan_meta``: one row per
  village (has_plan, LX, ZT).

A finding about the plan is *planned new construction*: a plan polygon with a construction code
(用地用海 level 1 07–16, :data:`PLAN_CONSTRUCTION`) on land that is not construction in 2023. By
construction of the plan there is none but the injected ones, so the truth is what was injected. Each
injected polygon lies in one 2023 parcel, so its current use, PBF, ERL and UDB are known exactly; a polygon
on farmland off PBF is also ``planned_farmland_loss``. The lake findings are every new construction piece
(``truth_changes`` kind ``nonagri``, below the minimum size too) in a village, cut by zones 1 and 2.
Nothing here is real: codes, names, themes and zones are invented or approximate.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import landuse
from ._util import choose, group_union, largest_part, polygonal, sorted_pairs
from .changes import ZERO_M2, _rectangles
from .geography import CRS, LINES, RING_ROAD, VILLAGE_KINDS, Extent, to_gk

__all__ = ["LAYERS", "FINDINGS", "FROM_GB", "PLAN_NAMES", "PLAN_CONSTRUCTION", "BUILDING_PREFIXES",
           "make_village_plans", "village_themes", "plan_code"]

logger = logging.getLogger(__name__)

LAYERS = ("village_plan", "village_boundary", "lake_zones", "truth_village_review", "truth_village_plan_meta")
"""The layers :func:`make_village_plans` returns, in this order."""
FINDINGS = ("built_outside_boundary", "new_built_outside_boundary", "planned_on_pbf", "planned_in_erl",
            "planned_in_udb", "planned_farmland_loss", "new_built_in_lake_zone1", "new_built_in_lake_zone2")
"""Every finding of ``truth_village_review``."""

PLAN_NAMES = {
    "0101": "水田", "0102": "水浇地", "0103": "旱地",
    "0201": "果园", "0202": "茶园", "0203": "橡胶园地", "0205": "其他园地",
    "0301": "乔木林地", "0302": "竹林地", "0303": "灌木林地", "0304": "其他林地",
    "0401": "天然牧草地", "0402": "人工牧草地", "0403": "其他草地",
    "0501": "森林沼泽", "0502": "灌丛沼泽", "0503": "沼泽草地", "0504": "其他沼泽地", "0505": "沿海滩涂",
    "0506": "内陆滩涂", "0507": "红树林地",
    "0601": "乡村道路用地", "0602": "种植设施建设用地",
    "0701": "城镇住宅用地", "0703": "农村宅基地",
    "0801": "机关团体用地", "0802": "科研用地", "0803": "文化用地", "0804": "教育用地", "0805": "体育用地",
    "0806": "医疗卫生用地", "0807": "社会福利用地",
    "0901": "商业用地", "0902": "商务金融用地", "0903": "娱乐康体用地", "0904": "其他商业服务业用地",
    "1001": "工业用地", "1002": "采矿用地", "1003": "盐田",
    "1101": "物流仓储用地",
    "1201": "铁路用地", "1202": "公路用地", "1203": "机场用地", "1204": "港口码头用地", "1205": "管道运输用地",
    "1206": "城市轨道交通用地", "1207": "城镇村道路用地", "1208": "交通场站用地",
    "1311": "干渠", "1312": "水工设施用地", "1313": "其他公用设施用地",
    "1401": "公园绿地",
    "1501": "军事设施用地", "1502": "使领馆用地", "1503": "宗教用地", "1505": "监教场所用地", "1506": "殡葬用地",
    "1507": "其他特殊用地",
    "1701": "河流水面", "1702": "湖泊水面", "1703": "水库水面", "1704": "坑塘水面", "1705": "沟渠",
    "1706": "冰川及常年积雪",
    "2301": "空闲地", "2302": "田坎", "2304": "盐碱地", "2305": "沙地", "2306": "裸土地", "2307": "裸岩石砾地",
}  # fmt: skip
"""用地用海分类 (2023) codes the sample uses → names (a subset; level 2)."""

FROM_GB = {
    "0101": "0101", "0102": "0102", "0103": "0103",
    "0201": "0201", "0202": "0202", "0203": "0203", "0204": "0205",  # 2023: 0204 is 油料园地
    "0301": "0301", "0302": "0302", "0303": "0507", "0304": "0501", "0305": "0303", "0306": "0502", "0307": "0304",
    "0401": "0401", "0402": "0503", "0403": "0402", "0404": "0403",
    "0501": "0901", "0502": "0901", "0503": "0901", "0504": "0901", "0505": "0902", "0506": "0903", "0507": "0904",
    "0601": "1001", "0602": "1002", "0603": "1003", "0604": "1101",
    "0701": "0701", "0702": "0703",
    "0801": "0801", "0802": "0801", "0803": "0804", "0804": "0802", "0805": "0806", "0806": "0807", "0807": "0803",
    "0808": "0805", "0809": "1313", "0810": "1401",
    "0901": "1501", "0902": "1502", "0903": "1505", "0904": "1503", "0905": "1506", "0906": "1507",
    "1001": "1201", "1002": "1206", "1003": "1202", "1004": "1207", "1005": "1208", "1006": "0601", "1007": "1203",
    "1008": "1204", "1009": "1205",
    "1101": "1701", "1102": "1702", "1103": "1703", "1104": "1704", "1105": "0505", "1106": "0506", "1107": "1705",
    "1108": "0504", "1109": "1312", "1110": "1706",
    "1201": "2301", "1202": "0602", "1203": "2302", "1204": "2304", "1205": "2305", "1206": "2306", "1207": "2307",
}  # fmt: skip
"""三调 (GB/T 21010) code → 用地用海 code, as a plan takes over the current use (one sensible choice each).
Every 三调 construction code but 1201 空闲地 maps into :data:`PLAN_CONSTRUCTION`; nothing else does."""
PLAN_CONSTRUCTION = ("07", "08", "09", "10", "11", "12", "13", "14", "15", "16")
"""用地用海 level-1 codes counted as construction in a plan (06 农业设施建设用地 is not: it is 设施农用地)."""
BUILDING_PREFIXES = ("05", "06", "07", "08", "09")
"""三调 level-1 codes of buildings (the village construction boundary is drawn around them; not roads 10)."""

THEMES = {"乡村旅游": 0.25, "高原特色农业": 0.25, "花卉小镇": 0.15, "民俗文化": 0.15, "生态渔业": 0.12,
          "休闲康养": 0.08}
"""Village themes (主题, 一村一特色); 生态渔业 only within :data:`FISHING_M` of the shore."""
FISHING_M = 2000.0
N_UNTHEMED = 6
"""重点村 without a theme (blank ZT); 绿美村庄 have none."""
N_WITHOUT_PLAN = 13
"""Villages (绿美村庄, not meeting the ERL or the UDB) without a plan."""
N_CUT_VILLAGES = 20
N_NEW_CUT = 10
"""Villages whose boundary leaves an old building out, and how many of them also leave a new one out."""
N_CONFLICTS = {"planned_on_pbf": 8, "planned_in_erl": 3, "planned_in_udb": 4, "planned_farmland_loss": 8}
"""Injected plan conflicts (at most one per village and kind; fewer where there are not enough places)."""
CONFLICT_CODES = {"planned_on_pbf": {"0703": 1.0}, "planned_in_erl": {"1207": 1.0},
                  "planned_in_udb": {"0703": 0.4, "0901": 0.3, "1101": 0.3}, "planned_farmland_loss": {"1001": 1.0}}
CONFLICT_M2 = (1500.0, 6000.0)
STRIP_M = ((6.0, 9.0), (150.0, 400.0))
"""Area of a conflict patch (m²); width and length (m) of the road strip in the ERL."""
MIN_CONFLICT_M2 = 300.0
MIN_MEET_M2 = 1000.0
"""A village meets the ERL or the UDB when this much of it lies inside."""
GAP_M = 2.0
"""Conflict patches keep at least this far from every change piece."""
BOUNDARY_GROW_M = 15.0
BOUNDARY_SHRINK_M = 5.0
ZONE1_M = RING_ROAD[3] - RING_ROAD[2] / 2.0
"""Zone 1 (一级保护区): the lake and the lakeside belt (湖滨带) up to the lake side of the 环湖路 (790 m)."""
ZONE2_M = 3000.0
RIVER_BELT_M = 50.0
"""Zone 2 (二级保护区): out to this far from the shore (about to the 面山), plus this belt on each side of the
main inflowing rivers (盘龙江, 宝象河) of :data:`.geography.LINES`."""
ZONE_NAMES = {"一级": "滇池一级保护区（示例，近似）", "二级": "滇池二级保护区（示例，近似）",
              "三级": "滇池三级保护区（示例，近似）"}
REVIEW_COLUMNS = ["CUNDM", "CMC", "finding", "area_m2", "YDYHDM", "DLBM", "t1_bsm", "below_min"]


def plan_code(codes) -> np.ndarray:
    """用地用海 codes of 三调 codes (:data:`FROM_GB`; KeyError for a code the table lacks)."""
    return np.array([FROM_GB[c] for c in np.asarray(codes, dtype=object)], dtype=object)


def village_themes(villages: gpd.GeoDataFrame, lake: shapely.Geometry, rng: np.random.Generator) -> np.ndarray:
    """``ZT`` (主题) of each village: a theme for all but :data:`N_UNTHEMED` 重点村, blank for the rest.

    生态渔业 (ecological fishery) is given only to villages whose centre lies within :data:`FISHING_M` of the
    shore.
    """
    key = np.flatnonzero(villages["LX"].to_numpy() == VILLAGE_KINDS[0])
    themed = np.sort(key[rng.permutation(key.size)[: max(key.size - N_UNTHEMED, 0)]])
    out = np.full(len(villages), "", dtype=object)
    drawn = choose(rng, THEMES, themed.size)
    centre = shapely.points(villages["cx"].to_numpy()[themed], villages["cy"].to_numpy()[themed])
    far = shapely.distance(centre, shapely.boundary(lake)) > FISHING_M
    inland = {k: w for k, w in THEMES.items() if k != "生态渔业"}
    swap = far & (drawn == "生态渔业")
    drawn[swap] = choose(rng, inland, int(swap.sum()))
    out[themed] = drawn
    return out


def make_village_plans(villages: gpd.GeoDataFrame, t0: gpd.GeoDataFrame, t1: gpd.GeoDataFrame,
                       truth: gpd.GeoDataFrame, *, on_pbf: np.ndarray, ordinary: np.ndarray, erl: gpd.GeoDataFrame,
                       udb: gpd.GeoDataFrame, extent: Extent,
                       rng: np.random.Generator) -> tuple[dict[str, gpd.GeoDataFrame], np.ndarray]:
    """Make the village-plan layers of the sample, the Dianchi zones and their ground truth (示例数据).

    Parameters
    ----------
    villages : GeoDataFrame
        From :func:`.geography.make_villages` (``CMC``, ``LX``, ``CUNDM``, ``cx``, ``cy``).
    t0, t1 : GeoDataFrame
        2022 and 2023 land use (``BSM``, ``DLBM``, ``ZLDWDM``; rows of ``t1`` past ``len(t0)`` are split pieces).
    truth : GeoDataFrame
        The finished ``truth_changes``.
    on_pbf : numpy.ndarray of bool
        Which 2022 parcels are PBF (PBF is made of whole parcels).
    ordinary : numpy.ndarray of bool
        2022 parcels that are not carved features (lake, roads, rivers, airport, village cores).
    erl, udb : GeoDataFrame
        The sample's ERL and UDB (from :func:`.enforcement.make_enforcement`).
    extent : Extent
        The study area and the lake.
    rng : numpy.random.Generator
        Its own stream (``stream(seed, "village_plans")``), so the other layers do not move.

    Returns
    -------
    layers : dict of str to GeoDataFrame
        The layers of :data:`LAYERS`, in the analysis CRS.
    themes : numpy.ndarray of str
        ``ZT`` of each village, in the order of ``villages``.

    Examples
    --------
    >>> layers, zt = make_village_plans(villages, t0, t1, truth, on_pbf=on_pbf, ordinary=ordinary, erl=erl,
    ...                                 udb=udb, extent=extent, rng=stream(2023, "village_plans"))  # doctest: +SKIP
    >>> layers["truth_village_review"]["finding"].value_counts()  # doctest: +SKIP
    """
    themes = village_themes(villages, extent.lake, rng)
    land = _Land(villages, t0, t1, truth, on_pbf, ordinary, erl, udb)
    planned = _planned(rng, villages, land)
    conflicts = _conflicts(rng, land, planned)
    plan = _plan(land, planned, conflicts)
    boundary, cuts = _boundary(rng, land, planned)
    zones = lake_zones(extent)
    lake_rows = _lake_findings(land, zones)
    review = pd.concat([conflicts.drop(columns=["row", "geometry"]).assign(geometry=conflicts.geometry.values),
                        cuts, lake_rows], ignore_index=True)
    cmc = dict(zip(villages["CUNDM"], villages["CMC"], strict=True))
    review["CMC"] = review["CUNDM"].map(cmc).to_numpy().astype(object)
    review = gpd.GeoDataFrame(review[REVIEW_COLUMNS], geometry=review["geometry"].to_numpy(), crs=CRS)
    review = review.sort_values(["CUNDM", "finding", "t1_bsm", "area_m2"], kind="stable").reset_index(drop=True)
    meta = gpd.GeoDataFrame({
        "CUNDM": villages["CUNDM"].to_numpy(), "CMC": villages["CMC"].to_numpy(), "LX": villages["LX"].to_numpy(),
        "ZT": themes, "has_plan": planned,
    }, geometry=shapely.point_on_surface(np.asarray(villages.geometry.values, dtype=object)), crs=CRS)  # fmt: skip
    layers = {
        "village_plan": plan,
        "village_boundary": boundary,
        "lake_zones": zones,
        "truth_village_review": review,
        "truth_village_plan_meta": meta.sort_values("CUNDM").reset_index(drop=True),
    }
    logger.debug("village plans: %s; findings %s", {k: len(v) for k, v in layers.items()},
                 review["finding"].value_counts().to_dict())
    return layers, themes


class _Land:
    """What the steps share: the 2023 parcels of each village and their facts."""

    def __init__(self, villages, t0, t1, truth, on_pbf, ordinary, erl, udb):
        self.villages = villages
        self.village_geoms = np.asarray(villages.geometry.values, dtype=object)
        self.cundm = villages["CUNDM"].to_numpy().astype(object)
        n0 = len(t0)
        self.geoms = np.asarray(t1.geometry.values, dtype=object)
        self.codes = t1["DLBM"].to_numpy().astype(object)
        self.bsm = t1["BSM"].to_numpy().astype(np.int64)
        self.t0_codes = t0["DLBM"].to_numpy().astype(object)
        # 2022 row of each 2023 row (split pieces: the parcel they were cut from)
        parent = np.arange(len(t1))
        row_of_bsm = pd.Index(self.bsm)
        piece_rows = row_of_bsm.get_indexer(truth["t1_bsm"].to_numpy())
        parent[piece_rows] = truth["t0_bsm"].to_numpy() - 1  # BSM = row + 1 in 2022
        self.parent = parent
        self.piece_rows = piece_rows
        touched = np.zeros(len(t1), dtype=bool)
        touched[piece_rows] = True
        touched[truth["t0_bsm"].to_numpy() - 1] = True  # remainders of split parcels too
        touched[n0:] = True
        self.untouched = ~touched
        self.on_pbf = np.asarray(on_pbf, dtype=bool)[parent]
        self.ordinary = np.asarray(ordinary, dtype=bool)[parent]
        index = {c: i for i, c in enumerate(self.cundm)}
        self.village = t1["ZLDWDM"].map(index).fillna(-1).to_numpy().astype(np.int64)
        category = landuse.DEFAULT_CLASSES.classify(pd.Series(self.codes))
        self.construction = (category == landuse.CONSTRUCTION).to_numpy()
        self.farmland = np.isin(self.codes, landuse.DEFAULT_CLASSES.farmland)
        self.building = pd.Series(self.codes).str[:2].isin(BUILDING_PREFIXES).to_numpy()
        self.truth = truth
        self.pieces = np.asarray(truth.geometry.values, dtype=object)
        self.piece_tree = shapely.STRtree(self.pieces)
        self.erl = _dissolved(erl)
        self.udb = _dissolved(udb)
        in_village = np.flatnonzero(self.village >= 0)
        self.erl_m2 = self._inside(in_village, self.erl)
        self.udb_m2 = self._inside(in_village, self.udb)

    def _inside(self, rows: np.ndarray, zone: shapely.Geometry) -> np.ndarray:
        """Area of each 2023 parcel inside ``zone`` (0 outside ``rows``)."""
        out = np.zeros(len(self.geoms))
        if zone.is_empty or rows.size == 0:
            return out
        hit = rows[shapely.intersects(self.geoms[rows], zone)]
        out[hit] = shapely.area(shapely.intersection(self.geoms[hit], zone))
        return out

    def meets(self, zone_m2: np.ndarray) -> np.ndarray:
        """Which villages have at least :data:`MIN_MEET_M2` inside the zone (by their parcels' areas)."""
        rows = self.village >= 0
        total = np.bincount(self.village[rows], weights=zone_m2[rows], minlength=len(self.cundm))
        return total >= MIN_MEET_M2


def _dissolved(frame: gpd.GeoDataFrame) -> shapely.Geometry:
    """The union of a layer's polygons (an empty Polygon when none), prepared."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    out = polygonal(shapely.union_all(geoms))[0] if len(geoms) else shapely.Polygon()
    shapely.prepare(out)
    return out


def _planned(rng: np.random.Generator, villages: gpd.GeoDataFrame, land: _Land) -> np.ndarray:
    """Which villages have a plan: all but :data:`N_WITHOUT_PLAN` 绿美村庄 that meet neither ERL nor UDB."""
    green = villages["LX"].to_numpy() == VILLAGE_KINDS[1]
    free = np.flatnonzero(green & ~land.meets(land.erl_m2) & ~land.meets(land.udb_m2))
    planned = np.ones(len(villages), dtype=bool)
    planned[free[rng.permutation(free.size)[:N_WITHOUT_PLAN]]] = False
    return planned


def _near_pieces(geoms: np.ndarray, tree: shapely.STRtree, distance: float) -> np.ndarray:
    """Which geometries come within ``distance`` of a change piece."""
    out = np.zeros(len(geoms), dtype=bool)
    if len(geoms):
        left, _ = tree.query(geoms, predicate="dwithin", distance=distance)
        out[left] = True
    return out


def _conflicts(rng: np.random.Generator, land: _Land, planned: np.ndarray) -> gpd.GeoDataFrame:
    """The injected plan conflicts: one polygon per row, inside one unchanged 2023 parcel each.

    Returns
    -------
    GeoDataFrame
        ``CUNDM``, ``finding``, ``area_m2``, ``YDYHDM``, ``DLBM``, ``t1_bsm``, ``below_min``, ``row`` (the 2023
        row); a polygon on farmland off PBF has a second row ``planned_farmland_loss`` (same geometry).
    """
    v = land.village
    base = (v >= 0) & planned[np.maximum(v, 0)] & ~land.construction & land.ordinary
    base &= shapely.area(land.geoms) >= 2000.0
    untouched = base & land.untouched
    untouched[untouched] = ~_near_pieces(land.geoms[untouched], land.piece_tree, GAP_M)
    not_piece = base.copy()
    not_piece[land.piece_rows] = False
    udb, erl = land.udb, land.erl
    specs = [  # finding, candidate rows, zone to keep inside, zones to keep out of
        ("planned_in_erl", not_piece & (land.erl_m2 >= MIN_MEET_M2), erl, [udb]),
        ("planned_in_udb", not_piece & ~land.on_pbf & (land.udb_m2 >= MIN_MEET_M2), udb, [erl]),
        ("planned_on_pbf", untouched & land.on_pbf & land.farmland, None, [udb, erl]),
        ("planned_farmland_loss", untouched & ~land.on_pbf & land.farmland, None, [udb, erl]),
    ]
    used = np.zeros(len(land.geoms), dtype=bool)
    rows, shapes, findings = [], [], []
    for finding, mask, inside, outside in specs:
        idx = np.flatnonzero(mask & ~used)
        idx = idx[rng.permutation(idx.size)]
        idx = idx[np.argsort(land.farmland[idx], kind="stable")]  # zones: not on farmland first
        idx = idx[~pd.Series(v[idx]).duplicated().to_numpy()][: 4 * N_CONFLICTS[finding] + 10]
        region = land.geoms[idx]
        if inside is not None:
            region = shapely.intersection(region, inside)
        for zone in outside:
            if not zone.is_empty:
                region = shapely.difference(region, zone)
        region = shapely.difference(region, _gap_blockers(land, region))
        region = largest_part(region)
        shape = _patch(rng, region, strip=finding == "planned_in_erl")
        ok = np.flatnonzero(shapely.area(shape) >= MIN_CONFLICT_M2)[: N_CONFLICTS[finding]]
        used[idx[ok]] = True
        rows.append(idx[ok])
        shapes.append(shape[ok])
        findings.append(np.full(ok.size, finding, dtype=object))
    row = np.concatenate(rows)
    shape = np.concatenate(shapes)
    finding = np.concatenate(findings)
    code = np.empty(row.size, dtype=object)
    for name, table in CONFLICT_CODES.items():
        sel = finding == name
        code[sel] = choose(rng, table, int(sel.sum()))
    frame = pd.DataFrame({"CUNDM": land.cundm[v[row]], "finding": finding, "area_m2": shapely.area(shape),
                          "YDYHDM": code, "DLBM": land.codes[row], "t1_bsm": land.bsm[row], "below_min": False,
                          "row": row})
    also = (finding != "planned_farmland_loss") & land.farmland[row] & ~land.on_pbf[row]
    extra = frame[also].assign(finding="planned_farmland_loss")
    out = gpd.GeoDataFrame(pd.concat([frame, extra], ignore_index=True),
                           geometry=np.concatenate([shape, shape[also]]), crs=CRS)
    return out


def _gap_blockers(land: _Land, region: np.ndarray) -> np.ndarray:
    """Per region, the union of the change pieces within :data:`GAP_M`, grown by it (empty when none)."""
    out = np.array([shapely.Polygon()] * len(region), dtype=object)
    if len(region) == 0:
        return out
    left, right = sorted_pairs(land.piece_tree, shapely.buffer(region, GAP_M, quad_segs=2))
    if left.size:
        keys, unions = group_union(shapely.buffer(land.pieces[right], GAP_M, quad_segs=2), left)
        out[keys] = unions
    return out



def _patch(rng: np.random.Generator, region: np.ndarray, *, strip: bool) -> np.ndarray:
    """A rectangle (or a long strip) at a point inside each region, cut to the region (largest part)."""
    n = len(region)
    if n == 0:
        return np.zeros(0, dtype=object)
    centre = shapely.point_on_surface(np.where(shapely.is_empty(region), shapely.Point(0, 0), region))
    if strip:
        width, length = rng.uniform(*STRIP_M[0], n), rng.uniform(*STRIP_M[1], n)
        area, aspect = width * length, length / width
    else:
        area = np.minimum(rng.uniform(*CONFLICT_M2, n), 0.4 * shapely.area(region))
        aspect = rng.uniform(0.6, 1.7, n)
    rect = _rectangles(shapely.get_x(centre), shapely.get_y(centre), np.maximum(area, 1.0), aspect,
                       rng.uniform(0, np.pi, n))
    return largest_part(shapely.intersection(rect, region))


def _plan(land: _Land, planned: np.ndarray, conflicts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``village_plan``: the planned villages' 2023 use by 用地用海 code (dissolved), conflicts carved out."""
    rows = np.flatnonzero((land.village >= 0) & planned[np.maximum(land.village, 0)])
    codes = land.codes[rows].copy()
    keep_old = land.construction[rows] & (land.on_pbf[rows] | (land.erl_m2[rows] > 1.0))
    codes[keep_old] = land.t0_codes[land.parent[rows[keep_old]]]  # a plan does not legalise these
    ydyh = plan_code(codes)
    frame = pd.DataFrame({"v": land.village[rows], "code": ydyh})
    key, groups = np.unique(frame["v"].astype(str).str.zfill(4) + ":" + frame["code"], return_inverse=True)
    keys, unions = group_union(land.geoms[rows], groups)
    village = np.array([int(k.split(":")[0]) for k in key[keys]])
    code = np.array([k.split(":")[1] for k in key[keys]], dtype=object)
    geoms = unions.copy()
    # carve each conflict out of the plan polygon of its parcel (its village and derived code)
    shapes = conflicts.drop_duplicates("row")
    if len(shapes):
        derived = dict(zip(rows, ydyh, strict=True))
        owner_key = [f"{land.village[r]:04d}:{derived[r]}" for r in shapes["row"]]
        owner = np.searchsorted(key[keys], owner_key)
        cut_keys, cuts = group_union(np.asarray(shapes.geometry.values, dtype=object), owner)
        geoms[cut_keys] = shapely.difference(geoms[cut_keys], cuts)
        village = np.concatenate([village, land.village[shapes["row"].to_numpy()]])
        code = np.concatenate([code, shapes["YDYHDM"].to_numpy().astype(object)])
        geoms = np.concatenate([geoms, np.asarray(shapes.geometry.values, dtype=object)])
    geoms = polygonal(geoms)
    keep = ~shapely.is_empty(geoms)
    village, code, geoms = village[keep], code[keep], geoms[keep]
    out = gpd.GeoDataFrame({
        "YDYHDM": code,
        "YDYHMC": np.array([PLAN_NAMES[c] for c in code], dtype=object),
        "CMC": land.villages["CMC"].to_numpy()[village],
        "CUNDM": land.cundm[village],
    }, geometry=geoms, crs=CRS)  # fmt: skip
    return out.sort_values(["CUNDM", "YDYHDM"], kind="stable").reset_index(drop=True)


def _boundary(rng: np.random.Generator, land: _Land, planned: np.ndarray):
    """``village_boundary`` and the truth rows of the buildings it leaves out.

    Returns
    -------
    boundary : GeoDataFrame
        ``CMC``, ``CUNDM``; one feature per planned village with buildings.
    cuts : pandas.DataFrame
        Review rows (``built_outside_boundary`` for a 2022 building, ``new_built_outside_boundary`` for a
        change piece) with their geometry.
    """
    v = land.village
    in_plan = (v >= 0) & planned[np.maximum(v, 0)]
    rows = np.flatnonzero(in_plan & land.building)
    keys, unions = group_union(land.geoms[rows], v[rows])
    shape = shapely.buffer(shapely.buffer(unions, BOUNDARY_GROW_M, quad_segs=4), -BOUNDARY_SHRINK_M, quad_segs=4)
    shape = shapely.intersection(shape, land.village_geoms[keys])
    # buildings to leave out: 2022 buildings (not village cores, untouched) and new ones (visible change pieces)
    old = in_plan & land.building & land.untouched & land.ordinary
    truth = land.truth
    new_piece = ((truth["kind"].to_numpy() == "nonagri") & ~truth["below_min"].to_numpy(dtype=bool))
    new = np.zeros(len(land.geoms), dtype=bool)
    new[land.piece_rows[new_piece]] = True
    new &= in_plan & land.building
    has_old = np.zeros(len(land.cundm), dtype=bool)
    has_old[v[old]] = True
    has_new = np.zeros(len(land.cundm), dtype=bool)
    has_new[v[new]] = True
    with_new = np.flatnonzero(has_new)
    with_new = with_new[rng.permutation(with_new.size)]
    with_new = np.sort(with_new[np.argsort(~has_old[with_new], kind="stable")][:N_NEW_CUT])  # old ones too first
    only_old = np.setdiff1d(np.flatnonzero(has_old), with_new)
    n_old = max(N_CUT_VILLAGES - int(has_old[with_new].sum()), 0)
    only_old = only_old[rng.permutation(only_old.size)][:n_old]
    chosen_old = _one_per_village(rng, np.flatnonzero(old), v, np.concatenate([with_new, only_old]))
    chosen_new = _one_per_village(rng, np.flatnonzero(new), v, with_new)
    cut_rows = np.concatenate([chosen_old, chosen_new])
    findings = np.concatenate([np.full(chosen_old.size, "built_outside_boundary", dtype=object),
                               np.full(chosen_new.size, "new_built_outside_boundary", dtype=object)])
    if cut_rows.size:
        owner = np.searchsorted(keys, v[cut_rows])
        cut_keys, cut_unions = group_union(land.geoms[cut_rows], owner)
        shape[cut_keys] = shapely.difference(shape[cut_keys], cut_unions)
    shape = polygonal(shape)
    boundary = gpd.GeoDataFrame({"CMC": land.villages["CMC"].to_numpy()[keys], "CUNDM": land.cundm[keys]},
                                geometry=shape, crs=CRS)
    boundary = boundary[~boundary.geometry.is_empty].sort_values("CUNDM").reset_index(drop=True)
    cuts = pd.DataFrame({"CUNDM": land.cundm[v[cut_rows]], "finding": findings,
                         "area_m2": shapely.area(land.geoms[cut_rows]), "YDYHDM": "", "DLBM": land.codes[cut_rows],
                         "t1_bsm": land.bsm[cut_rows], "below_min": False, "geometry": land.geoms[cut_rows]})
    return boundary, cuts


def _one_per_village(rng: np.random.Generator, rows: np.ndarray, village: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """One random row of ``rows`` in each village of ``chosen`` (sorted)."""
    rows = rows[np.isin(village[rows], chosen)]
    rows = rows[rng.permutation(rows.size)]
    return np.sort(rows[~pd.Series(village[rows]).duplicated().to_numpy()])


def lake_zones(extent: Extent) -> gpd.GeoDataFrame:
    """``lake_zones``: 一级 (lake + belt to the 环湖路), 二级 (to :data:`ZONE2_M` + river belts), 三级 (the rest).

    The three zones partition the study area; ``BHJB`` (保护级别) and ``MC``.
    """
    z1 = shapely.intersection(shapely.buffer(extent.lake, ZONE1_M, quad_segs=8), extent.area)
    rivers = []
    for _name, code, width, coords in LINES:
        if code == "1101":
            x, y = to_gk(*zip(*coords, strict=True))
            rivers.append(shapely.buffer(shapely.LineString(np.column_stack([x, y])), width / 2 + RIVER_BELT_M,
                                         cap_style="flat", quad_segs=4))
    outer = shapely.union_all([shapely.buffer(extent.lake, ZONE2_M, quad_segs=8), *rivers])
    z2 = shapely.difference(shapely.intersection(outer, extent.area), z1)
    z3 = shapely.difference(extent.area, shapely.union(z1, z2))
    geoms = polygonal([z1, z2, z3])
    return gpd.GeoDataFrame({"BHJB": list(ZONE_NAMES), "MC": list(ZONE_NAMES.values())}, geometry=geoms, crs=CRS)


def _lake_findings(land: _Land, zones: gpd.GeoDataFrame) -> pd.DataFrame:
    """Every new construction piece in a village (``nonagri``, below the minimum too) cut by zones 1 and 2."""
    truth = land.truth
    sel = np.flatnonzero((truth["kind"].to_numpy() == "nonagri") & (land.village[land.piece_rows] >= 0))
    pieces = land.pieces[sel]
    frames = []
    for level, finding in (("一级", "new_built_in_lake_zone1"), ("二级", "new_built_in_lake_zone2")):
        zone = zones.geometry.values[list(ZONE_NAMES).index(level)]
        shapely.prepare(zone)
        hit = shapely.intersects(pieces, zone)
        part = np.where(shapely.within(pieces, zone), pieces, shapely.Polygon())
        some = hit & shapely.is_empty(part)
        part[some] = polygonal(shapely.intersection(pieces[some], zone))
        area = shapely.area(part)
        ok = hit & (area > ZERO_M2)
        rows = land.piece_rows[sel[ok]]
        frames.append(pd.DataFrame({
            "CUNDM": land.cundm[land.village[rows]], "finding": finding, "area_m2": area[ok], "YDYHDM": "",
            "DLBM": truth["t1_code"].to_numpy()[sel[ok]], "t1_bsm": truth["t1_bsm"].to_numpy()[sel[ok]],
            "below_min": truth["below_min"].to_numpy(dtype=bool)[sel[ok]], "geometry": part[ok],
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)
