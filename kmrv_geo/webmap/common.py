"""Shared pieces of every map: the map context, layers prepared for the web, notice, legend, controls."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from folium.plugins import Fullscreen, MeasureControl
from pyproj import CRS

from ..crs import WGS84, reproject, transformer, wgs84_to_gcj02
from .basemaps import add_basemap, shifts_to_gcj02
from .elements import CompactLayer, FitView, RawHtml, ReadyFlag, SearchControl, add_page_style
from .encode import LOD_MIN_ZOOM, Field, encode_layer, escape_text

LABELS = {
    "zh": {"synthetic": "示例数据（合成，非真实调查数据）", "simplified": "图形已简化 {tol:g} 米显示", "notice": "说明",
           "date": "数据日期：{date}", "gcj02": "已转换为 GCJ-02 坐标以叠加高德底图",
           "lod": "{layer}共 {n} 个图斑：放大到 {zoom} 级及以上显示图斑，之前显示密度格网",
           "lod_cell": "{n} 个图斑，放大查看", "search": "搜索", "not_found": "未找到", "cancel": "取消",
           "fullscreen": "全屏", "exit_fullscreen": "退出全屏", "legend": "图例", "stats": "统计", "yes": "是",
           "no": "否",
           "mu": "亩", "county": "区县"},
    "en": {"synthetic": "Synthetic sample data (not a real survey)",
           "simplified": "geometry simplified by {tol:g} m for display",
           "notice": "Notice", "date": "data date: {date}", "gcj02": "shifted to GCJ-02 to match the Gaode basemap",
           "lod": "{layer}: {n} features: drawn from zoom {zoom} on, a density grid before",
           "lod_cell": "{n} features, zoom in", "search": "Search", "not_found": "not found", "cancel": "cancel",
           "fullscreen": "Full screen", "exit_fullscreen": "Exit full screen", "legend": "Legend", "stats": "Totals",
           "yes": "yes", "no": "no", "mu": "mu", "county": "Counties"},
}  # fmt: skip
COUNTY_STYLE = {"color": "#333333", "weight": 2, "fill": False}
MU_PER_M2 = 0.0015
"""亩 per square metre (the measure tool's area unit)."""


@dataclass(frozen=True)
class MapContext:
    """What every map of a run shares.

    Attributes
    ----------
    lang : {"zh", "en"}
    basemap : str
        One of :data:`~kmrv_geo.webmap.basemaps.BASEMAPS`.
    key : str, optional
        Tianditu key.
    decimals : int
        Coordinate decimals written (6 ≈ 0.1 m; fewer for shared maps that need less precision).
    name : str
        Project name (first notice line).
    notice : str, optional
        The project's notice line, e.g. 内部资料 注意保密.
    data_date : str, optional
        Date of the data (e.g. the T1 land-use year).
    synthetic : bool
        The data is the synthetic sample (every map says 示例数据).
    area_kind : {"ellipsoidal", "planar"}, optional
        How the run measured areas: popups name it in their 亩 headings, as the tables do.
    """

    lang: str = "zh"
    basemap: str = "osm"
    key: str | None = None
    decimals: int = 6
    name: str = ""
    notice: str | None = None
    data_date: str | None = None
    synthetic: bool = False
    area_kind: str | None = None

    @property
    def gcj02(self) -> bool:
        """Overlays are shifted to GCJ-02 (Gaode basemap)."""
        return shifts_to_gcj02(self.basemap)

    @property
    def text(self) -> dict:
        """The shared labels in this map's language."""
        return LABELS[self.lang]


def web_layer(frame: gpd.GeoDataFrame, columns: Sequence[str], *, simplify_m: float = 0.0,
              gcj02: bool = False) -> gpd.GeoDataFrame:
    """Prepare a layer for a web map: chosen columns only, simplified, in lon/lat.

    Parameters
    ----------
    frame : GeoDataFrame
        A layer in a projected CRS (metres).
    columns : sequence of str
        Attribute columns to keep (missing ones are skipped).
    simplify_m : float, default 0
        Topology-preserving simplification tolerance in metres (0: none).
    gcj02 : bool, default False
        Shift WGS84 → GCJ-02 (for the Gaode basemap).

    Returns
    -------
    GeoDataFrame
        In EPSG:4326 (GCJ-02 lon/lat if shifted), without empty geometries. Text is escaped later, by
        :func:`~kmrv_geo.webmap.encode.encode_layer`, the one place attribute text enters a map.
    """
    keep = [c for c in dict.fromkeys(columns) if c in frame.columns]
    geoms = np.asarray(frame.geometry.values)
    if simplify_m > 0:
        geoms = shapely.simplify(geoms, simplify_m, preserve_topology=True)
    shown = web_geometries(geoms, frame.crs, gcj02=gcj02)
    out = gpd.GeoDataFrame(frame[keep].copy(), geometry=shown, crs=WGS84)
    return out[~shapely.is_missing(shown) & ~shapely.is_empty(shown)]


def web_geometries(geoms: np.ndarray, crs, *, gcj02: bool = False) -> np.ndarray:
    """Geometries in lon/lat for a web map (as ``GeoSeries.to_crs(WGS84)``, bit for bit), GCJ-02 if asked.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
        In ``crs``.
    crs : pyproj.CRS or str
        Their CRS.
    gcj02 : bool, default False
        Shift WGS84 → GCJ-02 (for the Gaode basemap).

    Returns
    -------
    numpy.ndarray of shapely geometries
        Same length; missing geometries stay missing. The transformer of a CRS is made once (a page set
        reprojects thousands of small layers).
    """
    out = reproject(geoms, transformer(CRS.from_user_input(crs), CRS.from_user_input(WGS84)))
    if gcj02:
        out = shapely.transform(out, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    return out


def new_map(ctx: MapContext) -> folium.Map:
    """A map with the basemap, page style, measure tool (m, km, 亩, ha) and full-screen button."""
    text = ctx.text
    # maxZoom as a map option (folium's max_zoom only reaches its own tile layer): marker clusters need it
    fmap = folium.Map(location=[24.9, 102.7], zoom_start=9, tiles=None, prefer_canvas=True, control_scale=True,
                      maxZoom=20)
    add_basemap(fmap, ctx.basemap, key=ctx.key, lang=ctx.lang)
    add_page_style(fmap)
    MeasureControl(position="topleft", primary_length_unit="meters", secondary_length_unit="kilometers",
                   primary_area_unit="mu", secondary_area_unit="hectares",
                   units={"mu": {"factor": MU_PER_M2, "display": text["mu"], "decimals": 2}}).add_to(fmap)
    Fullscreen(position="topleft", title=text["fullscreen"], title_cancel=text["exit_fullscreen"]).add_to(fmap)
    return fmap


def add_layer(fmap: folium.Map, frame: gpd.GeoDataFrame, ctx: MapContext, *, key: str, name: str,
              fields: Sequence[Field] = (), tooltip: Sequence[str] = (), popup: Sequence[str] | None = None,
              show: bool = True, link: dict | None = None, **encode) -> CompactLayer:
    """Encode a lon/lat layer and add it to the map.

    ``popup`` defaults to every field but the link's (with ``name`` as the popup's heading); other options
    go to :func:`~kmrv_geo.webmap.encode.encode_layer` (coordinate decimals and the density-cell label
    come from ``ctx``).

    ``link={"column": ..., "label": ...}`` ends each feature's popup with a link: its text is ``label``, its
    address the feature's value of ``column`` — a relative address of a page beside the map (such as
    ``../villages/530112101001.html``; ``kmrv_layer.js`` makes the anchor with DOM calls and leaves out any
    value that is not a plain relative ``.html`` path). Features without a value get no link.
    """
    layer = CompactLayer(layer_spec(frame, ctx, name=name, fields=fields, tooltip=tooltip, popup=popup, link=link,
                                    **encode), key=key, name=name, show=show)
    layer.add_to(fmap)
    return layer


def layer_spec(frame: gpd.GeoDataFrame, ctx: MapContext, *, name: str, fields: Sequence[Field] = (),
               tooltip: Sequence[str] = (), popup: Sequence[str] | None = None, link: dict | None = None,
               **encode) -> dict:
    """The encoded data of a layer as :func:`add_layer` adds it (for a :class:`CompactLayer` made elsewhere)."""
    encode = {"popup_title": name, "decimals": ctx.decimals, "lod_label": ctx.text["lod_cell"], **encode}
    fields = list(fields)
    link_column = None if link is None else link["column"]
    popup = [f.column for f in fields if f.column != link_column] if popup is None else popup
    if link_column is not None and link_column not in [f.column for f in fields]:
        fields.append(Field(link_column, link.get("label", link_column)))
    spec = encode_layer(frame, fields=fields, tooltip=tooltip, popup=popup, **encode)
    if link_column is not None:
        spec["link"] = {"column": [f.column for f in fields].index(link_column),
                        "label": escape_text(link.get("label", ""))}
    return spec


def start_map(ctx: MapContext, counties: gpd.GeoDataFrame | None = None, county_name_field: str | None = None,
              ) -> tuple[folium.Map, list[CompactLayer]]:
    """A new map (:func:`new_map`) with county outlines for context when ``counties`` is given.

    Returns
    -------
    (folium.Map, list of CompactLayer)
        The map and its layers so far (the outlines, if any).
    """
    fmap = new_map(ctx)
    county = county_outline(fmap, counties, county_name_field, ctx, ctx.text["county"])
    return fmap, [] if county is None else [county]


def county_outline(fmap: folium.Map, counties: gpd.GeoDataFrame | None, name_field: str | None, ctx: MapContext,
                   label: str):
    """Add county outlines (tooltip: the name) for context; ``None`` when there is no county layer."""
    if counties is None or counties.empty:
        return None
    columns = [name_field] if name_field else []
    web = web_layer(counties, columns, simplify_m=20.0, gcj02=ctx.gcj02)
    fields = [Field(name_field, label)] if name_field else []
    return add_layer(fmap, web, ctx, key="county", name=label, fields=fields, tooltip=columns, popup=(),
                     styles=[COUNTY_STYLE])


CONTEXT_LAYERS = ("county",)
"""Layers drawn for orientation only: the first view fits the layers the map is about, not these."""


def finish_map(fmap: folium.Map, ctx: MapContext, *, title: str, layers: Sequence[CompactLayer],
               legend: Sequence[tuple[str, str]] = (), search: Sequence[str] = (), notes: Sequence[str] = (),
               search_placeholder: str | None = None, stats: Sequence[tuple[str, str]] = (),
               fit_to: Sequence[str] | None = None) -> folium.Map:
    """Add the search box, layer control, legend, statistics and notice, and fit the view to the findings.

    The first view fits the layers the map is about (every layer but the county outlines of
    :data:`CONTEXT_LAYERS`; hidden layers too), so a map of a few local patches opens on them, not on the
    whole city; only a map with nothing else fits the counties.

    Parameters
    ----------
    fmap : folium.Map
    ctx : MapContext
    title : str
        Map title (notice line and page title).
    layers : sequence of CompactLayer
        The map's data layers (bounds, level-of-detail notes).
    legend : sequence of (colour, label)
    search : sequence of str
        Registry keys of the layers the search box searches (none: no search box).
    notes : sequence of str
        Extra notice lines (e.g. the simplification tolerance).
    search_placeholder : str, optional
        Text in the empty search box.
    stats : sequence of (label, value)
        A compact statistics panel (totals of what is drawn), bottom left; escaped.
    fit_to : sequence of str, optional
        Keys of the layers the first view fits (default: all but :data:`CONTEXT_LAYERS`).
    """
    text = ctx.text
    if search:
        SearchControl(list(search), placeholder=search_placeholder or text["search"], not_found=text["not_found"],
                      cancel=text["cancel"]).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    if legend:
        add_legend(fmap, text["legend"], list(legend))
    if stats:
        add_stats(fmap, text["stats"], list(stats))
    lines = [f"{ctx.name} · {title}" if ctx.name else title, ctx.notice or ""]
    if ctx.data_date:
        lines.append(text["date"].format(date=ctx.data_date))
    if ctx.synthetic:
        lines.append(text["synthetic"])
    lines += list(notes)
    if ctx.gcj02:
        lines.append(text["gcj02"])
    lines += [text["lod"].format(layer=layer.layer_name, n=layer.spec["n"], zoom=LOD_MIN_ZOOM)
              for layer in layers if layer.spec.get("lod")]
    add_notice(fmap, lines)
    focus = (lambda key: key in fit_to) if fit_to is not None else (lambda key: key not in CONTEXT_LAYERS)
    bounds = [layer.spec["bounds"] for layer in layers if layer.spec["n"] and focus(layer.key)]
    bounds = bounds or [layer.spec["bounds"] for layer in layers if layer.spec["n"]]
    if bounds:
        b = np.asarray(bounds)
        FitView([[float(b[:, 1].min()), float(b[:, 0].min())],
                 [float(b[:, 3].max()), float(b[:, 2].max())]]).add_to(fmap)
    fmap.get_root().title = html.escape(title)
    ReadyFlag().add_to(fmap)
    return fmap


def add_notice(fmap: folium.Map, lines: list[str]) -> None:
    """Put a fixed notice box (top centre) on the map; lines are escaped and shown as text."""
    body = "<br>".join(html.escape(line) for line in lines if line)
    if not body:
        return
    box = (
        '<div class="kmrv-notice" style="position:fixed;top:10px;left:50%;transform:translateX(-50%);z-index:9999;'
        'background:rgba(255,255,255,.9);padding:4px 8px;border:1px solid #999;border-radius:4px;font:13px sans-serif;'
        'color:#b00;max-width:44%;text-align:center;">'
        + body + "</div>"
    )
    fmap.get_root().html.add_child(RawHtml(box))


def add_legend(fmap: folium.Map, title: str, entries: list[tuple[str, str]]) -> None:
    """Put a legend box (bottom right): ``entries`` are (colour, label), colours and labels escaped."""
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:14px;background:{html.escape(colour)};'
        f'opacity:.7;margin-right:6px;border:1px solid #555;vertical-align:middle"></span>{html.escape(label)}</div>'
        for colour, label in entries
    )
    box = (
        '<div class="kmrv-legend" style="position:fixed;bottom:18px;right:10px;z-index:9999;'
        'background:rgba(255,255,255,.9);padding:6px 10px;border:1px solid #999;border-radius:4px;'
        f'font:13px sans-serif;"><b>{html.escape(title)}</b>{rows}</div>'
    )
    fmap.get_root().html.add_child(RawHtml(box))


def add_stats(fmap: folium.Map, title: str, rows: list[tuple[str, str]]) -> None:
    """Put a compact statistics box (bottom left, above the scale): (label, value) rows, escaped."""
    body = "".join(f'<tr><td>{html.escape(str(label))}</td><td style="text-align:right;padding-left:8px">'
                   f"<b>{html.escape(str(value))}</b></td></tr>" for label, value in rows)
    box = (
        '<div class="kmrv-stats" style="position:fixed;bottom:40px;left:10px;z-index:9999;'
        'background:rgba(255,255,255,.9);padding:4px 8px;border:1px solid #999;border-radius:4px;'
        f'font:12px sans-serif;"><b>{html.escape(title)}</b><table>{body}</table></div>'
    )
    fmap.get_root().html.add_child(RawHtml(box))


def heading_fields(frame, columns: Sequence[str], lang: str, *, labels: dict | None = None,
                   digits: int = 2, area_kind: str | None = None) -> list[Field]:
    """Fields for the columns of ``frame`` that exist, labelled with the report headings of ``lang``
    (or ``labels``), the 亩 headings naming ``area_kind`` as the tables do; number columns keep ``digits``
    decimals.
    """
    from ..report import headings

    heads = {**headings(lang, area_kind=area_kind), **(labels or {})}
    out = []
    for column in columns:
        if column not in frame.columns:
            continue
        numeric = pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column])
        whole = pd.api.types.is_integer_dtype(frame[column])
        out.append(Field(column, heads.get(column, column), digits if numeric and not whole else None))
    return out


def localised_values(values: pd.Series, lang: str) -> pd.Series:
    """Coded values (statuses, classes, booleans) in words of ``lang``, as the report tables show them."""
    from ..report import VALUES

    words = {**VALUES.get(lang, {}), **LABELS_VALUES[lang]}
    return values.map(lambda v: words.get(v, v.replace("_", " ") if isinstance(v, str) and lang == "en" else v))


LABELS_VALUES = {"zh": {True: "是", False: "否"}, "en": {True: "yes", False: "no"}}
