"""The overview map: counties, Dianchi, villages, permanent basic farmland (PBF) and HSF."""

from __future__ import annotations

import folium

from ..project import Project
from .common import COUNTY_STYLE, MapContext, add_layer, finish_map, new_map, web_layer
from .encode import Field

TEXT = {
    "zh": {"title": "总览", "county": "区县", "lake": "滇池", "villages": "村庄", "pbf": "永久基本农田",
           "hsf": "高标准农田", "name": "名称", "code": "代码", "category": "类别", "year": "建设年度",
           "search": "搜索村名"},
    "en": {"title": "Overview", "county": "Counties", "lake": "Dianchi lake", "villages": "Villages",
           "pbf": "Permanent basic farmland", "hsf": "High-standard farmland", "name": "Name", "code": "Code",
           "category": "Category", "year": "Year built", "search": "Search village name"},
}  # fmt: skip
STYLE = {
    "county": COUNTY_STYLE,
    "lake": {"color": "#1f78b4", "weight": 1, "fillColor": "#a6cee3", "fillOpacity": 0.6},
    "villages": {"color": "#e31a1c", "weight": 1, "fillColor": "#fb9a99", "fillOpacity": 0.3},
    "pbf": {"color": "#b8860b", "weight": 0.5, "fillColor": "#ffd700", "fillOpacity": 0.45},
    "hsf": {"color": "#006d2c", "weight": 0.5, "fillColor": "#31a354", "fillOpacity": 0.4},
}
ROLES = ("county", "lake", "pbf", "hsf", "villages")
SIMPLIFY_M = 2.0
COUNTY_SIMPLIFY_M = 20.0


def overview_map(project: Project, ctx: MapContext | None = None, *, lang: str = "zh") -> folium.Map:
    """Build the overview map of a loaded project.

    Parameters
    ----------
    project : Project
        A loaded project; roles that are not configured are left out.
    ctx : MapContext, optional
        Basemap, language, notice (default: OpenStreetMap, ``lang``, the project's name and notice).
    lang : {"zh", "en"}
        Language of labels when no ``ctx`` is given.

    Returns
    -------
    folium.Map
        Counties, lake, villages (tooltip: name and category; search by name), PBF and HSF as toggleable
        layers with a legend and a notice line (示例数据 on synthetic data; simplification stated).
    """
    config = project.config
    ctx = ctx or MapContext(lang=lang, name=config.name, notice=config.notice, synthetic=config.synthetic)
    text = TEXT[ctx.lang]
    fmap = new_map(ctx)
    layers = []
    for role in ROLES:
        frame = project.vectors.get(role)
        if frame is None or frame.empty:
            continue
        spec = config.layers[role]
        mapping = spec.fields() if hasattr(spec, "fields") else {}
        fields = [Field(mapping[k], text[k]) for k in ("name", "code", "category", "year") if k in mapping]
        web = web_layer(frame, [f.column for f in fields], gcj02=ctx.gcj02,
                        simplify_m=COUNTY_SIMPLIFY_M if role == "county" else SIMPLIFY_M)
        names = [f.column for f in fields]
        search = mapping.get("name") if role == "villages" else None
        layers.append(add_layer(fmap, web, ctx, key=role, name=text[role], fields=fields, tooltip=names,
                                popup=names if role == "villages" else (), styles=[STYLE[role]], search=search))
    shown = [layer.key for layer in layers]
    legend = [(STYLE[r].get("fillColor", STYLE[r]["color"]), text[r]) for r in ROLES if r in shown]
    return finish_map(fmap, ctx, title=text["title"], layers=layers, legend=legend,
                      search=["villages"] if "villages" in shown else [], search_placeholder=text["search"],
                      notes=[ctx.text["simplified"].format(tol=SIMPLIFY_M)])
