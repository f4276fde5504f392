"""The map of one patch page: the patch outline over both land-use dates, PBF, ERL and the approvals nearby.

Every layer is clipped to the patch's surroundings (its bounds grown by ``PageContext.margin_m``), so a page
carries only what lies around its patch. The map is an ordinary kmrv map (:func:`~kmrv_geo.webmap.common.
new_map`: compact layers, measure tool, full screen) saved offline by the page writer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.errors

from ..landuse import CATEGORIES, CATEGORY_LABELS, UNKNOWN, code_name
from ..overlay import polygonal_parts
from ..webmap.common import MapContext, layer_spec, new_map, web_geometries
from ..webmap.elements import CompactLayer, FitView, ReadyFlag
from ..webmap.encode import Field, WebLayer
from .labels import OTHER_COLOUR, VERDICT_COLOURS

CATEGORY_COLOURS = {"farmland": "#f2d94e", "other_agricultural": "#8fc46a", "construction": "#e06666",
                    "other": "#9fb3c8", "unknown": "#d9d9d9"}
"""Fill colour of each land-use category (耕地 yellow, 其他农用地 green, 建设用地 red, 其他土地 blue-grey)."""
ZONE_STYLES = {
    "pbf": {"color": "#67000d", "weight": 2, "dashArray": "6 3", "fillColor": "#67000d", "fillOpacity": 0.08},
    "erl": {"color": "#00441b", "weight": 2, "dashArray": "2 4", "fillColor": "#00441b", "fillOpacity": 0.08},
    "approvals": {"color": "#2166ac", "weight": 2, "fillColor": "#2166ac", "fillOpacity": 0.15},
    "facility_filings": {"color": "#7b3294", "weight": 2, "fillColor": "#7b3294", "fillOpacity": 0.15},
    "temporary_use": {"color": "#a6611a", "weight": 2, "fillColor": "#a6611a", "fillOpacity": 0.15},
    "supplement_projects": {"color": "#018571", "weight": 2, "fillColor": "#018571", "fillOpacity": 0.15},
}  # fmt: skip
APPROVAL_KINDS = ("approvals", "facility_filings", "temporary_use", "supplement_projects")
TEXT = {
    "zh": {"landuse_t0": "前时相地类", "landuse_t1": "后时相地类", "pbf": "永久基本农田", "erl": "生态保护红线",
           "approvals": "农用地转用批准", "facility_filings": "设施农用地备案", "temporary_use": "临时用地",
           "supplement_projects": "补充耕地项目", "patch": "监测图斑", "code": "地类编码", "name": "地类名称",
           "category": "类别", "ref": "文号", "patch_id": "图斑编号", "verdict": "预判结论", "year": "{year} 年"},
    "en": {"landuse_t0": "Land use before (T0)", "landuse_t1": "Land use after (T1)", "pbf": "Permanent basic farmland",
           "erl": "Ecological red line", "approvals": "Conversion approvals", "facility_filings": "Facility filings",
           "temporary_use": "Temporary use", "supplement_projects": "Supplement projects", "patch": "Monitoring patch",
           "code": "code", "name": "name", "category": "category", "ref": "reference", "patch_id": "patch id",
           "verdict": "verdict", "year": "{year}"},
}  # fmt: skip


@dataclass(frozen=True)
class PageContext:
    """What the patch pages show around each patch, and how they are labelled.

    Attributes
    ----------
    landuse_t0, landuse_t1 : GeoDataFrame, optional
        Land use at both dates (column ``code``; ``category`` in farmland/other_agricultural/construction/
        other/unknown), in the judged patches' projected CRS.
    pbf, erl : GeoDataFrame, optional
        Permanent basic farmland (永久基本农田) and the ecological red line (生态保护红线).
    approvals : dict of str to GeoDataFrame
        Kind (``approvals``, ``facility_filings``, ``temporary_use``, ``supplement_projects``) → layer with
        a ``ref`` column.
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
        A basemap of :data:`~kmrv_geo.webmap.basemaps.BASEMAPS`; ``none`` makes no request at all, a tiled
        one leaves the plain background where tiles do not load (offline).
    margin_m : float, default 100
        The surroundings drawn: the patch's bounds grown by this many metres.
    """

    landuse_t0: gpd.GeoDataFrame | None = None
    landuse_t1: gpd.GeoDataFrame | None = None
    pbf: gpd.GeoDataFrame | None = None
    erl: gpd.GeoDataFrame | None = None
    approvals: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    title: str = ""
    notice: str | None = None
    synthetic: bool = False
    t0_year: int | str | None = None
    t1_year: int | str | None = None
    lang: str = "zh"
    basemap: str = "none"
    margin_m: float = 100.0

    def map_context(self) -> MapContext:
        """The :class:`~kmrv_geo.webmap.common.MapContext` of the pages' maps."""
        return MapContext(lang=self.lang, basemap=self.basemap, name=self.title, notice=self.notice,
                          synthetic=self.synthetic)


def _cut_one(geom, window):
    try:
        return shapely.intersection(geom, window)
    except shapely.errors.GEOSException:  # a near-degenerate ring GEOS cannot cut: cut its valid form
        try:
            return shapely.intersection(shapely.make_valid(geom), window)
        except shapely.errors.GEOSException:
            return None


def _cut(geoms: np.ndarray, window) -> np.ndarray:
    """``geoms ∩ window``, one geometry at a time where GEOS fails on the whole array (clip_by_rect and
    intersection raise on some near-degenerate rings that pass every validity check).
    """
    try:
        return shapely.intersection(geoms, window)
    except shapely.errors.GEOSException:
        return np.array([_cut_one(g, window) for g in geoms], dtype=object)


def cut_to_window(geoms: np.ndarray, window, bounds: np.ndarray | None = None) -> np.ndarray:
    """``geoms`` cut to the rectangle ``window`` where they reach over its edge; those whose bounds lie inside
    it are returned whole (the same shape, their own vertices, no GEOS overlay).

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
    window : shapely Polygon
        A rectangle in the geometries' CRS.
    bounds : numpy.ndarray, shape (len(geoms), 4), optional
        Their bounds, when known (:func:`shapely.bounds`).

    Returns
    -------
    numpy.ndarray of shapely geometries
        Same length; a geometry cut to nothing is empty, one GEOS cannot cut even in its valid form missing.
    """
    bounds = shapely.bounds(geoms) if bounds is None else bounds
    x0, y0, x1, y1 = window.bounds
    inside = (bounds[:, 0] >= x0) & (bounds[:, 1] >= y0) & (bounds[:, 2] <= x1) & (bounds[:, 3] <= y1)
    if inside.all():
        return geoms
    out = np.array(geoms, dtype=object)
    out[~inside] = _cut(out[~inside], window)
    return out


def clip_rows(frame: gpd.GeoDataFrame | None, window) -> tuple[np.ndarray, np.ndarray] | None:
    """The polygons of ``frame`` that meet the rectangle ``window``, cut to it (:func:`cut_to_window`).

    Returns
    -------
    (numpy.ndarray of int, numpy.ndarray of shapely geometries) or None
        Their row positions in ``frame`` (ascending) and their polygonal parts in the window; ``None`` when
        none is left.
    """
    if frame is None or frame.empty:
        return None
    rows = frame.sindex.query(window, predicate="intersects")
    return _cut_rows(np.asarray(frame.geometry.values, dtype=object), rows, window)


def _cut_rows(geoms: np.ndarray, rows: np.ndarray, window, bounds: np.ndarray | None = None):
    """``geoms[rows]`` (rows sorted first) cut to ``window``, the empty ones left out: (rows, geometries), or
    ``None`` when none is left (:func:`clip_rows`, :meth:`NearbyLayer.around`).
    """
    rows = np.sort(rows)
    if not rows.size:
        return None
    cut = polygonal_parts(cut_to_window(geoms[rows], window, None if bounds is None else bounds[rows]))
    keep = ~shapely.is_missing(cut) & ~shapely.is_empty(cut)
    return (rows[keep], cut[keep]) if keep.any() else None


def clip_to(frame: gpd.GeoDataFrame | None, window) -> gpd.GeoDataFrame | None:
    """The polygons of ``frame`` that meet the rectangle ``window``, cut to it, with their attributes
    (``None`` when none; :func:`clip_rows`).
    """
    clipped = clip_rows(frame, window)
    if clipped is None:
        return None
    rows, geoms = clipped
    return gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name).iloc[rows], geometry=geoms, crs=frame.crs)


@dataclass(frozen=True)
class NearbyLayer:
    """A layer of the page context ready to be cut around each patch (index and arrays made once per page set).

    Attributes
    ----------
    geoms : numpy.ndarray of shapely geometries
        In ``crs`` (projected).
    columns : dict of str to numpy.ndarray
        The attributes a page shows, one value per geometry.
    crs : pyproj.CRS
    tree : shapely.STRtree
    bounds : numpy.ndarray of float, shape (n, 4)
        Each geometry's ``minx, miny, maxx, maxy``.
    """

    geoms: np.ndarray
    columns: dict[str, np.ndarray]
    crs: object
    tree: shapely.STRtree
    bounds: np.ndarray

    @classmethod
    def of(cls, frame: gpd.GeoDataFrame | None, columns: list[str]) -> NearbyLayer | None:
        """The layer's geometries and ``columns`` (those it has), or ``None`` for a missing or empty layer."""
        if frame is None or frame.empty:
            return None
        geoms = np.asarray(frame.geometry.values, dtype=object)
        return cls(geoms, {c: frame[c].to_numpy() for c in columns if c in frame}, frame.crs, shapely.STRtree(geoms),
                   shapely.bounds(geoms))

    def around(self, window, *, gcj02: bool = False) -> WebLayer | None:
        """The features meeting the rectangle ``window``, cut to it, in lon/lat (as :func:`clip_to` then
        :func:`~kmrv_geo.webmap.common.web_layer`); ``None`` when none.
        """
        clipped = _cut_rows(self.geoms, self.tree.query(window, predicate="intersects"), window, self.bounds)
        if clipped is None:
            return None
        rows, geoms = clipped
        shown = web_geometries(geoms, self.crs, gcj02=gcj02)
        visible = ~shapely.is_missing(shown) & ~shapely.is_empty(shown)
        return WebLayer(shown[visible], {c: values[rows[visible]] for c, values in self.columns.items()})


def _landuse_shown(frame: gpd.GeoDataFrame | None, lang: str) -> gpd.GeoDataFrame | None:
    """A land-use layer with what its pages show, worked out once for every parcel: ``code`` (text, blank where
    none), ``name``, ``category`` (as given), ``category_label`` and ``style`` (the category's style position).
    """
    if frame is None or frame.empty:
        return None
    # worked out per distinct code (a city has a few hundred codes and a million parcels)
    position, distinct = pd.factorize(frame["code"])  # −1: no code
    texts = np.array([*pd.Series(distinct, dtype=object).astype("string").tolist(), ""], dtype=object)
    names = np.array([code_name(t) for t in texts], dtype=object)
    category = frame["category"] if "category" in frame else pd.Series(UNKNOWN, index=frame.index)
    known = category.where(category.isin(CATEGORIES), UNKNOWN)
    return gpd.GeoDataFrame({"code": texts[position], "name": names[position],
                             "category": category.to_numpy(dtype=object),
                             "category_label": known.map(CATEGORY_LABELS[lang]).to_numpy(dtype=object),
                             "style": known.map(CATEGORIES.index).to_numpy(dtype=int)},
                            geometry=frame.geometry.values, crs=frame.crs)


def nearby_layers(context: PageContext) -> dict[str, NearbyLayer | None]:
    """Every layer a patch page draws around its patch, ready to be cut (:class:`NearbyLayer`), by key."""
    shown = ["code", "name", "category", "category_label", "style"]
    out = {"landuse_t0": NearbyLayer.of(_landuse_shown(context.landuse_t0, context.lang), shown),
           "landuse_t1": NearbyLayer.of(_landuse_shown(context.landuse_t1, context.lang), shown),
           "pbf": NearbyLayer.of(context.pbf, ["ref"]), "erl": NearbyLayer.of(context.erl, ["ref"])}
    out |= {kind: NearbyLayer.of(context.approvals.get(kind), ["ref"]) for kind in APPROVAL_KINDS}
    return out


@dataclass(frozen=True)
class PageLayer:
    """One layer of a patch page's map: where it sits in the layer control, and its encoded data.

    Attributes
    ----------
    key : str
        Registry key (``kmrv.layers[key]`` in the page).
    name : str
        Name in the layer control.
    show : bool
        Shown when the page opens.
    spec : dict
        The layer's data (:func:`~kmrv_geo.webmap.common.layer_spec`).
    """

    key: str
    name: str
    show: bool
    spec: dict


@dataclass(frozen=True)
class PatchLayers:
    """What a patch page's map draws: its layers, legend and view.

    Attributes
    ----------
    layers : list of PageLayer
        Bottom to top.
    legend : list of (colour, label)
    bounds : list
        The first view, ``[[south, west], [north, east]]`` in the map's lon/lat.
    """

    layers: list[PageLayer]
    legend: list[tuple[str, str]]
    bounds: list

    @property
    def shape(self) -> tuple:
        """What the map's HTML depends on besides the layers' data (pages of one shape share a template)."""
        return tuple((layer.key, layer.name, layer.show) for layer in self.layers)


def _landuse_spec(web: WebLayer, ctx: MapContext, *, name: str) -> dict:
    """A land-use layer of a page (its columns as :func:`_landuse_shown` made them)."""
    text = TEXT[ctx.lang]
    styles = [{"color": "#666666", "weight": 0.5, "fillColor": CATEGORY_COLOURS[c], "fillOpacity": 0.55}
              for c in CATEGORIES]
    fields = [Field("code", text["code"]), Field("name", text["name"]), Field("category_label", text["category"])]
    return layer_spec(web, ctx, name=name, fields=fields, tooltip=["code", "name", "category_label"], styles=styles,
                      style_index=np.asarray(web.columns["style"], dtype=int))


@dataclass(frozen=True)
class PagePatch:
    """The judged patch a page is about, as its map draws it.

    Attributes
    ----------
    geometry : shapely geometry
        In ``crs`` (projected).
    crs : pyproj.CRS
    patch_id : str
    verdict : str
        The verdict's code (its colour).
    verdict_words : str
        The verdict in the page's language.
    """

    geometry: object
    crs: object
    patch_id: object
    verdict: str
    verdict_words: str

    @classmethod
    def of(cls, patch: gpd.GeoDataFrame) -> PagePatch:
        """The first row of ``patch`` (``patch_id``, ``verdict``, ``verdict_words``)."""
        row = patch.iloc[0]
        return cls(patch.geometry.iloc[0], patch.crs, row["patch_id"], str(row["verdict"]), row["verdict_words"])

    def shown(self, *, gcj02: bool) -> WebLayer:
        """Its outline in lon/lat with ``patch_id`` and ``verdict_words`` (empty when it has no geometry)."""
        web = web_geometries(np.array([self.geometry], dtype=object), self.crs, gcj02=gcj02)
        visible = ~shapely.is_missing(web) & ~shapely.is_empty(web)
        columns = {"patch_id": np.array([self.patch_id], dtype=object),
                   "verdict_words": np.array([self.verdict_words], dtype=object)}
        return WebLayer(web[visible], {c: values[visible] for c, values in columns.items()})


def patch_layers(patch: PagePatch | gpd.GeoDataFrame, context: PageContext,
                 nearby: dict[str, NearbyLayer | None] | None = None) -> PatchLayers:
    """The layers, legend and first view of one patch page's map.

    Parameters
    ----------
    patch : PagePatch or GeoDataFrame
        One judged patch (or one row, projected CRS, with ``patch_id``, ``verdict`` and ``verdict_words``,
        the verdict in the page's language).
    context : PageContext
    nearby : dict, optional
        :func:`nearby_layers` of ``context``, made once for a set of pages (made here when not given).

    Returns
    -------
    PatchLayers
        Layers: 前时相地类 (shown), 后时相地类 (in the layer control), PBF, ERL and each approval kind that has
        features nearby, each clipped to the surroundings, and the patch outline in its verdict's colour, on top.
    """
    ctx = context.map_context()
    text = TEXT[ctx.lang]
    nearby = nearby_layers(context) if nearby is None else nearby
    patch = patch if isinstance(patch, PagePatch) else PagePatch.of(patch)
    minx, miny, maxx, maxy = shapely.bounds(patch.geometry)
    m = context.margin_m
    window = shapely.box(minx - m, miny - m, maxx + m, maxy + m)
    layers: list[PageLayer] = []
    legend: list[tuple[str, str]] = []
    landuse = [("landuse_t0", context.t0_year, True), ("landuse_t1", context.t1_year, False)]
    shown_categories: set[str] = set()
    for key, year, show in landuse:
        web = nearby[key].around(window, gcj02=ctx.gcj02) if nearby[key] is not None else None
        if web is None:
            continue
        name = text[key] + (f"（{text['year'].format(year=year)}）" if year and ctx.lang == "zh"
                            else f" ({year})" if year else "")
        if "category" in web.columns:
            shown_categories |= {c for c in web.columns["category"] if isinstance(c, str)}
        layers.append(PageLayer(key, name, show, _landuse_spec(web, ctx, name=name)))
    legend += [(CATEGORY_COLOURS[c], CATEGORY_LABELS[ctx.lang][c]) for c in CATEGORIES if c in shown_categories]
    for key in ("pbf", "erl", *APPROVAL_KINDS):
        web = nearby[key].around(window, gcj02=ctx.gcj02) if nearby[key] is not None else None
        if web is None:
            continue
        fields = [Field("ref", text["ref"])] if "ref" in web.columns else []
        layers.append(PageLayer(key, text[key], True, layer_spec(
            web, ctx, name=text[key], fields=fields, tooltip=[f.column for f in fields], styles=[ZONE_STYLES[key]])))
        legend.append((ZONE_STYLES[key]["color"], text[key]))
    colour = VERDICT_COLOURS.get(patch.verdict, OTHER_COLOUR)
    web = patch.shown(gcj02=ctx.gcj02)
    layers.append(PageLayer("patch", text["patch"], True, layer_spec(
        web, ctx, name=text["patch"], fields=[Field("patch_id", text["patch_id"]),
                                              Field("verdict_words", text["verdict"])],
        tooltip=["patch_id", "verdict_words"],
        styles=[{"color": colour, "weight": 4, "fillColor": colour, "fillOpacity": 0.12}])))
    legend.append((colour, f"{text['patch']}（{patch.verdict_words}）" if ctx.lang == "zh"
                   else f"{text['patch']} ({patch.verdict_words})"))
    bounds = shapely.total_bounds(web_geometries(np.array([window], dtype=object), patch.crs, gcj02=ctx.gcj02))
    return PatchLayers(layers, legend, [[float(bounds[1]), float(bounds[0])], [float(bounds[3]), float(bounds[2])]])


def map_of(drawn: PatchLayers, context: PageContext) -> folium.Map:
    """The folium map of a patch page: its layers, the layer control, the first view (:func:`patch_layers`)."""
    fmap = new_map(context.map_context())
    for layer in drawn.layers:
        CompactLayer(layer.spec, key=layer.key, name=layer.name, show=layer.show).add_to(fmap)
    folium.LayerControl(collapsed=False).add_to(fmap)
    FitView(drawn.bounds).add_to(fmap)
    ReadyFlag().add_to(fmap)
    return fmap


def patch_map(patch: gpd.GeoDataFrame, context: PageContext) -> tuple[folium.Map, list[tuple[str, str]]]:
    """The map of one patch page.

    Parameters
    ----------
    patch : GeoDataFrame
        One judged patch (one row, projected CRS) with ``patch_id``, ``verdict`` and ``verdict_words``.
    context : PageContext

    Returns
    -------
    (folium.Map, list of (colour, label))
        The map, fitted to the surroundings, and its legend (layers as :func:`patch_layers`).
    """
    drawn = patch_layers(patch, context)
    return map_of(drawn, context), drawn.legend
