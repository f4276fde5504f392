"""The map of one village page, and its two small before/after land-use pictures.

The map is an ordinary kmrv map (:func:`~kmrv_geo.webmap.common.new_map`: compact layers, measure tool, full
screen), fitted to the village and a margin; every context layer is clipped to that window
(:func:`~kmrv_geo.fieldcheck.patchmap.clip_to`), so a page carries only its own village's surroundings. The
before/after pictures are inline SVG drawn here in the projected CRS (north up): no second Leaflet map, no
script, a few kilobytes each, and they print as they show.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..analysis.village_plan import FINDINGS as FINDING_TEXT
from ..fieldcheck.patchmap import CATEGORY_COLOURS, ZONE_STYLES, clip_rows, clip_to
from ..landuse import CATEGORIES, CATEGORY_LABELS, CONSTRUCTION, UNKNOWN
from ..overlay import polygonal_parts
from ..report import headings
from ..text import text_of
from .common import MapContext, add_layer, new_map, web_layer
from .elements import FitView, ReadyFlag
from .encode import Field

PLAN_CLASSES = ("construction", "agricultural", "ecological", "water", "other")
"""``plan_class`` values of the village plan, in legend order (anything else is drawn as ``other``)."""
PLAN_COLOURS = {"construction": "#e7298a", "agricultural": "#e6c94c", "ecological": "#66a61e",
                "water": "#4eb3d3", "other": "#bdbdbd"}
LAKE_LEVELS = ("一级", "二级", "三级")
LAKE_COLOURS = ("#08306b", "#2171b5", "#9ecae1", "#969696")
"""Outline of 一级, 二级, 三级 and any other level of the Dianchi protection zones."""
FINDINGS = tuple(FINDING_TEXT)
"""Finding codes of the village review (:data:`kmrv_geo.analysis.village_plan.FINDINGS`), in list order."""
FINDING_COLOURS = {"built_outside_boundary": "#ff7f00", "new_built_outside_boundary": "#e31a1c",
                   "planned_on_pbf": "#7b3294", "planned_in_erl": "#1b7837", "planned_in_udb": "#2166ac",
                   "planned_farmland_loss": "#8c510a", "new_built_in_lake_zone1": "#c51b7d",
                   "new_built_in_lake_zone2": "#01665e"}
OTHER_FINDING_COLOUR = "#525252"
STYLES = {
    "village": {"color": "#111111", "weight": 2.5, "fill": False},
    "boundary": {"color": "#d95f0e", "weight": 2, "dashArray": "8 4", "fill": False},
    "construction_t0": {"color": "#7f7f7f", "weight": 0.5, "fillColor": "#a6a6a6", "fillOpacity": 0.55},
    "construction_t1": {"color": "#a50f15", "weight": 0.5, "fillColor": CATEGORY_COLOURS[CONSTRUCTION],
                        "fillOpacity": 0.55},
    "pbf": ZONE_STYLES["pbf"], "erl": ZONE_STYLES["erl"],
    "udb": {"color": "#54278f", "weight": 2, "dashArray": "4 4", "fillColor": "#54278f", "fillOpacity": 0.06},
}  # fmt: skip
TEXT = {
    "zh": {"village": "村界", "boundary": "村庄建设边界", "plan": "村庄规划（用地用海）",
           "construction_t0": "前时相建设用地", "construction_t1": "后时相建设用地", "pbf": "永久基本农田",
           "erl": "生态保护红线", "udb": "城镇开发边界", "lake_zones": "滇池保护分区", "findings": "问题图斑",
           "code": "用地用海编码", "name": "名称", "plan_class": "规划类别", "level": "保护分区",
           "lake_level": "{level}保护区", "no": "序号", "finding": "问题", "finding_text": "说明",
           "area": "面积", "year": "（{year} 年）", "approximate": "（近似）",
           "plan_class_names": {"construction": "规划建设用地", "agricultural": "规划农业用地",
                                "ecological": "规划生态用地", "water": "规划水域", "other": "规划其他用地"}},
    "en": {"village": "Village", "boundary": "Village construction boundary", "plan": "Village plan",
           "construction_t0": "Construction before (T0)", "construction_t1": "Construction after (T1)",
           "pbf": "Permanent basic farmland", "erl": "Ecological red line", "udb": "Urban development boundary",
           "lake_zones": "Dianchi protection zones", "findings": "Findings", "code": "plan code", "name": "name",
           "plan_class": "plan class", "level": "zone", "lake_level": "zone {level}", "no": "no.",
           "finding": "finding", "finding_text": "details", "area": "area", "year": " ({year})",
           "approximate": " (approximate)",
           "plan_class_names": {"construction": "planned construction", "agricultural": "planned agriculture",
                                "ecological": "planned ecological", "water": "planned water",
                                "other": "planned other"}},
}  # fmt: skip
LEVEL_EN = {"一级": "1", "二级": "2", "三级": "3"}


@dataclass(frozen=True)
class VillagePageContext:
    """What the village pages show around each village, and how they are labelled.

    Attributes
    ----------
    landuse_t0, landuse_t1 : GeoDataFrame, optional
        Land use at both dates (column ``code``, GB/T 21010; ``category`` in farmland/other_agricultural/
        construction/other/unknown), in the profiles' projected CRS.
    pbf, erl, udb : GeoDataFrame, optional
        Permanent basic farmland, the ecological red line and the urban development boundary.
    lake_zones : GeoDataFrame, optional
        Dianchi protection zones, column ``level`` (一级 / 二级 / 三级).
    lake_zones_approximate : bool, default False
        The zones are buffers of the lake outline, not the official layer: every page and the index say so.
    village_plan : GeoDataFrame, optional
        Planned land use (columns ``code`` of 用地用海, ``name``, ``plan_class`` in construction/agricultural/
        ecological/water/other).
    village_boundary : GeoDataFrame, optional
        村庄建设边界 (village construction boundaries), column ``village_key``.
    landuse_change : DataFrame, optional
        Land use by category at both dates inside each village: ``village_key``, ``category``, ``t0_mu``,
        ``t1_mu`` (the before/after table).
    title : str
        Project name (first line of every page).
    notice : str, optional
        Notice line, e.g. 内部资料 注意保密.
    synthetic : bool
        The data is the synthetic sample: every page says 示例数据（合成）.
    t0_year, t1_year : int or str, optional
        Years of the two land-use dates.
    lang : {"zh", "en"}
    basemap : str, default "none"
        A basemap of :data:`~kmrv_geo.webmap.basemaps.BASEMAPS`; ``none`` makes no request at all.
    margin_m : float, default 150
        The surroundings drawn: the village's bounds grown by this many metres.
    area_kind : {"ellipsoidal", "planar"}, optional
        How the run measured areas: the 亩 headings say 亩·椭球 or 亩·平面.
    """

    landuse_t0: gpd.GeoDataFrame | None = None
    landuse_t1: gpd.GeoDataFrame | None = None
    pbf: gpd.GeoDataFrame | None = None
    erl: gpd.GeoDataFrame | None = None
    udb: gpd.GeoDataFrame | None = None
    lake_zones: gpd.GeoDataFrame | None = None
    lake_zones_approximate: bool = False
    village_plan: gpd.GeoDataFrame | None = None
    village_boundary: gpd.GeoDataFrame | None = None
    landuse_change: pd.DataFrame | None = None
    title: str = ""
    notice: str | None = None
    synthetic: bool = False
    t0_year: int | str | None = None
    t1_year: int | str | None = None
    lang: str = "zh"
    basemap: str = "none"
    margin_m: float = 150.0
    area_kind: str | None = "ellipsoidal"

    def map_context(self) -> MapContext:
        """The :class:`~kmrv_geo.webmap.common.MapContext` of the pages' maps."""
        return MapContext(lang=self.lang, basemap=self.basemap, name=self.title, notice=self.notice,
                          synthetic=self.synthetic, area_kind=self.area_kind)


def finding_name(code, lang: str) -> str:
    """A finding code in words of ``lang`` (the code itself when unknown)."""
    code = text_of(code)
    words = FINDING_TEXT.get(code)
    return code if words is None else words[0 if lang == "zh" else 1]


def finding_colour(code) -> str:
    """Outline colour of a finding on the map and in the list."""
    return FINDING_COLOURS.get(text_of(code), OTHER_FINDING_COLOUR)


def lake_level_index(level) -> int:
    """0, 1, 2 for 一级, 二级, 三级 (also ``1``/``2``/``3`` and names starting so); 3 for anything else."""
    text = text_of(level).strip()
    for i, (zh, digit) in enumerate((("一", "1"), ("二", "2"), ("三", "3"))):
        if text.startswith(zh) or text.startswith(digit):
            return i
    return 3


def prepare_layers(context: VillagePageContext) -> dict[str, gpd.GeoDataFrame | None]:
    """The context layers a village map clips from, each filtered once for all pages, with only the columns
    a page shows.

    Returns
    -------
    dict
        ``construction_t0``, ``construction_t1`` (construction parcels of each date), ``plan``, ``boundary``
        (``village_key`` as text), ``pbf``, ``erl``, ``udb``, ``lake_zones``, ``landuse_t0``, ``landuse_t1``
        (``category``); ``None`` where missing.
    """

    def slim(frame, columns, rows=None):
        if frame is None:
            return None
        frame = frame if rows is None else frame[rows]
        return frame[[c for c in columns if c in frame] + [frame.geometry.name]]

    def built(frame):
        if frame is None or "category" not in frame:
            return None
        return slim(frame, ["code"], (frame["category"] == CONSTRUCTION).to_numpy())

    boundary = slim(context.village_boundary, ["village_key"])
    if boundary is not None and "village_key" in boundary:
        boundary = boundary.assign(village_key=boundary["village_key"].map(text_of))
    return {"construction_t0": built(context.landuse_t0), "construction_t1": built(context.landuse_t1),
            "plan": slim(context.village_plan, ["code", "name", "plan_class"]), "boundary": boundary,
            "pbf": slim(context.pbf, []), "erl": slim(context.erl, []), "udb": slim(context.udb, []),
            "lake_zones": slim(context.lake_zones, ["level"]), "landuse_t0": slim(context.landuse_t0, ["category"]),
            "landuse_t1": slim(context.landuse_t1, ["category"])}


def window_of(village: gpd.GeoDataFrame, margin_m: float):
    """The rectangle a page draws: the village's bounds grown by ``margin_m`` (at least 50 m each way)."""
    minx, miny, maxx, maxy = village.total_bounds
    m = max(float(margin_m), 50.0)
    return shapely.box(minx - m, miny - m, maxx + m, maxy + m)


def clip_window(window):
    """The rectangle context layers are cut to: ``window``'s centre ± its larger side, so the cut edges lie
    outside what the map shows once fitted to ``window`` (a wide map shows more than a tall window) and are
    not mistaken for zone boundaries.
    """
    minx, miny, maxx, maxy = window.bounds
    cx, cy, s = (minx + maxx) / 2, (miny + maxy) / 2, max(maxx - minx, maxy - miny)
    return shapely.box(cx - s, cy - s, cx + s, cy + s)


def _name(text: dict, key: str, year) -> str:
    return text[key] + (text["year"].format(year=year) if year else "")


def village_map(village: gpd.GeoDataFrame, findings: gpd.GeoDataFrame, context: VillagePageContext,
                layers: dict[str, gpd.GeoDataFrame | None]) -> tuple[folium.Map, list[tuple[str, str]]]:
    """The map of one village page.

    Parameters
    ----------
    village : GeoDataFrame
        The village's profile row (polygon or point, projected CRS) with ``village_key``.
    findings : GeoDataFrame
        The village's findings with ``no`` (their number in the page's list), ``finding``, ``finding_label``,
        ``finding_text``, ``area_mu``.
    context : VillagePageContext
    layers : dict
        :func:`prepare_layers` of ``context``.

    Returns
    -------
    (folium.Map, list of (colour, label))
        The map, fitted to the village and its margin, and its legend. Layers (each only where it has
        features near the village, cut to :func:`clip_window`): 滇池保护分区 by level, PBF, ERL, UDB, the
        plan by ``plan_class``, T0 and T1 construction (in the layer control, hidden), the 村庄建设边界 and the
        village outline, and the findings on top (thick outline in each finding's colour), registry key
        ``findings``.
    """
    ctx = context.map_context()
    text = TEXT[ctx.lang]
    view = window_of(village, context.margin_m)
    window = clip_window(view)
    key = text_of(village["village_key"].iloc[0]) if "village_key" in village else ""
    fmap = new_map(ctx)
    fmap.options.update(zoomSnap=0.25, zoomDelta=0.5)  # fit the village to the map closely (whole zooms: ½ size)
    legend: list[tuple[str, str]] = []

    zones = clip_to(layers["lake_zones"], window)
    if zones is not None:
        level = (zones["level"] if "level" in zones else pd.Series("", index=zones.index)).map(lake_level_index)
        words = [text["lake_level"].format(level=lv if ctx.lang == "zh" else LEVEL_EN[lv]) for lv in LAKE_LEVELS]
        web = web_layer(zones, ["level"], gcj02=ctx.gcj02)
        styles = [{"color": c, "weight": 2, "dashArray": "10 5", "fillColor": c, "fillOpacity": 0.06}
                  for c in LAKE_COLOURS]
        approx = text["approximate"] if context.lake_zones_approximate else ""
        add_layer(fmap, web, ctx, key="lake_zones", name=text["lake_zones"] + approx,
                  fields=[Field("level", text["level"])] if "level" in web else [],
                  tooltip=["level"] if "level" in web else [], styles=styles,
                  style_index=level.loc[web.index].to_numpy(dtype=int))
        legend += [(LAKE_COLOURS[i], words[i] + approx) for i in sorted(set(level)) if i < len(words)]

    for name in ("pbf", "erl", "udb"):
        part = clip_to(layers[name], window)
        if part is None:
            continue
        add_layer(fmap, web_layer(part, [], gcj02=ctx.gcj02), ctx, key=name, name=text[name], styles=[STYLES[name]])
        legend.append((STYLES[name]["color"], text[name]))

    plan = clip_to(layers["plan"], window)
    if plan is not None:
        plan_class = (plan["plan_class"] if "plan_class" in plan else pd.Series("other", index=plan.index))
        plan_class = plan_class.where(plan_class.isin(PLAN_CLASSES), "other")
        web = web_layer(plan, ["code", "name"], gcj02=ctx.gcj02)
        web["plan_class_label"] = plan_class.loc[web.index].map(text["plan_class_names"])
        styles = [{"color": "#555555", "weight": 0.6, "fillColor": PLAN_COLOURS[c], "fillOpacity": 0.45}
                  for c in PLAN_CLASSES]
        fields = [Field(c, text[lbl]) for c, lbl in (("code", "code"), ("name", "name"),
                                                      ("plan_class_label", "plan_class")) if c in web]
        add_layer(fmap, web, ctx, key="plan", name=text["plan"], fields=fields, tooltip=[f.column for f in fields],
                  styles=styles, style_index=plan_class.loc[web.index].map(PLAN_CLASSES.index).to_numpy(dtype=int))
        legend += [(PLAN_COLOURS[c], text["plan_class_names"][c]) for c in PLAN_CLASSES if c in set(plan_class)]

    for name, year in (("construction_t0", context.t0_year), ("construction_t1", context.t1_year)):
        part = clip_to(layers[name], window)
        if part is None:
            continue
        web = web_layer(part, ["code"], gcj02=ctx.gcj02)
        add_layer(fmap, web, ctx, key=name, name=_name(text, name, year), styles=[STYLES[name]], show=False,
                  fields=[Field("code", text["code"].replace("用地用海", "地类"))] if "code" in web else [],
                  tooltip=["code"] if "code" in web else [])
        legend.append((STYLES[name]["fillColor"], _name(text, name, year)))

    boundary = layers["boundary"]
    if boundary is not None and "village_key" in boundary and key:
        boundary = boundary[boundary["village_key"] == key]
    boundary = clip_to(boundary, window)
    if boundary is not None:
        add_layer(fmap, web_layer(boundary, [], gcj02=ctx.gcj02), ctx, key="boundary", name=text["boundary"],
                  styles=[STYLES["boundary"]])
        legend.append((STYLES["boundary"]["color"], text["boundary"]))

    outline = village.set_geometry(_outline_geoms(village))
    outline = outline[outline.geometry.notna()]
    if len(outline):
        web = web_layer(outline, ["village"], gcj02=ctx.gcj02)
        add_layer(fmap, web, ctx, key="village", name=text["village"], styles=[STYLES["village"]],
                  fields=[Field("village", text["village"])] if "village" in web else [], popup=())
        legend.append((STYLES["village"]["color"], text["village"]))

    drawn = findings.set_geometry(polygonal_parts(np.asarray(findings.geometry.values, dtype=object)))
    drawn = drawn[drawn.geometry.notna()]
    if len(drawn):
        codes = drawn["finding"].map(text_of)
        order = list(dict.fromkeys(c for c in (*FINDINGS, *codes) if c in set(codes)))
        styles = [{"color": finding_colour(c), "weight": 4, "fillColor": finding_colour(c), "fillOpacity": 0.25}
                  for c in order]
        web = web_layer(drawn, ["no", "finding_label", "finding_text", "area_mu"], gcj02=ctx.gcj02)
        area = headings(ctx.lang, area_kind=ctx.area_kind)["area_mu"]
        fields = [Field("no", text["no"]), Field("finding_label", text["finding"]),
                  Field("finding_text", text["finding_text"]), Field("area_mu", area, 2)]
        add_layer(fmap, web, ctx, key="findings", name=text["findings"], fields=fields,
                  tooltip=["finding_label"], styles=styles,
                  style_index=codes.loc[web.index].map(order.index).to_numpy(dtype=int), lod=False)
        legend += [(finding_colour(c), finding_name(c, ctx.lang)) for c in order]

    folium.LayerControl(collapsed=False).add_to(fmap)
    bounds = web_layer(gpd.GeoDataFrame(geometry=[view], crs=village.crs), [], gcj02=ctx.gcj02).total_bounds
    FitView([[float(bounds[1]), float(bounds[0])], [float(bounds[3]), float(bounds[2])]]).add_to(fmap)
    ReadyFlag().add_to(fmap)
    return fmap, legend


def _outline_geoms(village: gpd.GeoDataFrame) -> np.ndarray:
    """The village's polygons as they are; a point village as a point (drawn as a dot)."""
    geoms = np.asarray(village.geometry.values, dtype=object)
    poly = polygonal_parts(geoms)
    points = shapely.get_type_id(geoms) == int(shapely.GeometryType.POINT)
    poly[points] = geoms[points]
    return poly


def _svg_path(geoms: np.ndarray, minx: float, maxy: float, scale: float) -> str:
    """Polygon rings as one SVG path (whole pixels, closing vertices dropped, repeated pixels merged; a ring
    left with fewer than three is not drawn).
    """
    rings = shapely.get_rings(shapely.get_parts(geoms))
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    if not len(xy):
        return ""
    closing = np.r_[ring_of[1:] != ring_of[:-1], True]
    xy, ring_of = xy[~closing], ring_of[~closing]
    px = np.round((xy[:, 0] - minx) * scale).astype(int)
    py = np.round((maxy - xy[:, 1]) * scale).astype(int)
    first = np.r_[True, ring_of[1:] != ring_of[:-1]]
    keep = first | np.r_[True, (np.diff(px) != 0) | (np.diff(py) != 0)]
    points = [f"{x},{y}" for x, y in zip(px[keep].tolist(), py[keep].tolist(), strict=True)]
    starts = np.flatnonzero(first[keep])
    ends = np.r_[starts[1:], len(points)]
    return "".join(f"M{' '.join(points[s:e])}Z" for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
                   if e - s >= 3)


def landuse_svg(frame: gpd.GeoDataFrame | None, window, outline: gpd.GeoDataFrame, *, width_px: int = 320,
                label: str = "", lang: str = "zh") -> str:
    """A small north-up picture of land use by category in ``window``, the village outline on top.

    Parameters
    ----------
    frame : GeoDataFrame, optional
        Land use (``category``) in the window's projected CRS; ``None``: an empty frame with the outline.
    window : shapely Polygon
        The rectangle drawn (projected metres).
    outline : GeoDataFrame
        The village (drawn as a black outline).
    width_px : int, default 320
        Width of the picture's coordinate space (coordinates are whole units of it).
    label : str
        Accessible name of the picture (escaped here).
    lang : {"zh", "en"}
        Language of the categories' hover titles.

    Returns
    -------
    str
        An ``<svg>`` element, scaled by CSS to its box.
    """
    minx, miny, maxx, maxy = window.bounds
    scale = width_px / max(maxx - minx, 1e-9)
    height = max(int(round((maxy - miny) * scale)), 1)
    tolerance = 0.6 / scale
    parts = [f'<svg class="vp-svg" viewBox="0 0 {width_px} {height}" preserveAspectRatio="xMidYMid meet" '
             f'role="img" aria-label="{html.escape(label, quote=True)}" xmlns="http://www.w3.org/2000/svg">'
             f'<rect width="{width_px}" height="{height}" fill="#f2f1ec"/>']
    clipped = clip_rows(frame, window)
    if clipped is not None:
        rows, geoms = clipped
        category = frame["category"].iloc[rows] if "category" in frame else pd.Series(UNKNOWN, index=rows)
        category = category.where(category.isin(CATEGORIES), UNKNOWN).to_numpy()
        geoms = shapely.simplify(geoms, tolerance)
        for name in CATEGORIES:
            mask = category == name
            if not mask.any():
                continue
            d = _svg_path(geoms[mask], minx, maxy, scale)
            if d:
                parts.append(f'<path d="{d}" fill="{CATEGORY_COLOURS[name]}" fill-opacity=".8" fill-rule="evenodd" '
                             f'stroke="#777" stroke-width=".4"><title>{html.escape(CATEGORY_LABELS[lang][name])}'
                             "</title></path>")
    polys = polygonal_parts(np.asarray(outline.geometry.values, dtype=object))
    polys = polys[~pd.isna(polys)]
    if len(polys):
        d = _svg_path(shapely.simplify(polys, tolerance), minx, maxy, scale)
        parts.append(f'<path d="{d}" fill="none" stroke="#111" stroke-width="2"/>')
    else:  # a point village: a ring around it
        for point in shapely.get_coordinates(np.asarray(outline.geometry.values, dtype=object)):
            cx, cy = (point[0] - minx) * scale, (maxy - point[1]) * scale
            parts.append(f'<circle cx="{cx:.0f}" cy="{cy:.0f}" r="6" fill="none" stroke="#111" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)
