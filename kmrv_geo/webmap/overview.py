"""The overview map: counties, Dianchi, villages, permanent basic farmland (PBF) and HSF."""

from __future__ import annotations

import folium

from ..project import Project
from .common import LABELS, add_legend, add_notice, web_layer

TEXT = {
    "zh": {"title": "总览", "county": "区县", "lake": "滇池", "villages": "村庄", "pbf": "永久基本农田", "hsf": "高标准农田",
           "name": "名称", "code": "代码", "category": "类别", "year": "建设年度", "legend": "图例"},
    "en": {"title": "Overview", "county": "Counties", "lake": "Dianchi lake", "villages": "Villages",
           "pbf": "Permanent basic farmland", "hsf": "High-standard farmland", "name": "Name", "code": "Code",
           "category": "Category", "year": "Year built", "legend": "Legend"},
}  # fmt: skip
STYLE = {
    "county": {"color": "#333333", "weight": 2, "fill": False},
    "lake": {"color": "#1f78b4", "weight": 1, "fillColor": "#a6cee3", "fillOpacity": 0.6},
    "villages": {"color": "#e31a1c", "weight": 1, "fillColor": "#fb9a99", "fillOpacity": 0.3},
    "pbf": {"color": "#b8860b", "weight": 0.5, "fillColor": "#ffd700", "fillOpacity": 0.45},
    "hsf": {"color": "#006d2c", "weight": 0.5, "fillColor": "#31a354", "fillOpacity": 0.4},
}
SIMPLIFY_M = 2.0


def overview_map(project: Project, *, lang: str = "zh") -> folium.Map:
    """Build the overview map of a loaded project.

    Parameters
    ----------
    project : Project
        A loaded project; roles that are not configured are left out.
    lang : {"zh", "en"}
        Language of labels.

    Returns
    -------
    folium.Map
        Counties, lake, villages (tooltip: name and category), PBF and HSF as toggleable layers with a
        legend and a notice line (示例数据 on synthetic data; simplification stated).
    """
    text = TEXT[lang]
    config = project.config
    fmap = folium.Map(location=[24.9, 102.7], zoom_start=10, tiles="OpenStreetMap", control_scale=True,
                      prefer_canvas=True)
    bounds = None
    spec_fields = {role: config.layers[role].fields() for role in project.vectors if hasattr(config.layers[role], "fields")}
    for role in ("county", "lake", "pbf", "hsf", "villages"):
        frame = project.vectors.get(role)
        if frame is None or frame.empty:
            continue
        fields = spec_fields.get(role, {})
        tooltip_fields = [(fields[k], text[label]) for k, label in
                          (("name", "name"), ("code", "code"), ("category", "category"), ("year", "year")) if k in fields]
        layer = web_layer(frame, [f for f, _ in tooltip_fields], simplify_m=SIMPLIFY_M if role != "county" else 20.0)
        style = STYLE[role]
        geojson = folium.GeoJson(
            layer.to_json(drop_id=True), name=text[role], style_function=lambda _f, s=style: s,
            tooltip=folium.GeoJsonTooltip([f for f, _ in tooltip_fields], aliases=[a for _, a in tooltip_fields])
            if tooltip_fields else None,
            marker=folium.CircleMarker(radius=5, color=style["color"], fill=True, fill_opacity=0.8),
        )  # fmt: skip
        geojson.add_to(fmap)
        b = layer.total_bounds
        bounds = b if bounds is None else [min(bounds[0], b[0]), min(bounds[1], b[1]), max(bounds[2], b[2]),
                                           max(bounds[3], b[3])]
    if bounds is not None:
        fmap.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    folium.LayerControl(collapsed=False).add_to(fmap)
    add_legend(fmap, text["legend"], [(STYLE[r].get("fillColor", STYLE[r]["color"]), text[r]) for r in
                                      ("county", "lake", "villages", "pbf", "hsf") if r in project.vectors])
    notice = [f"{config.name} · {text['title']}"]
    if config.notice:
        notice.append(config.notice)
    if config.synthetic:
        notice.append(LABELS[lang]["synthetic"])
    notice.append(LABELS[lang]["simplified"].format(tol=SIMPLIFY_M))
    add_notice(fmap, notice)
    return fmap
