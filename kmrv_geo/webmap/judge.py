"""The judged-patches map (卫片执法): monitoring patches coloured by verdict, split patches hatched by part."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np

from ..analysis.judge_rules import VERDICT_TEXT
from .common import MapContext, add_layer, finish_map, heading_fields, start_map, web_layer

TEXT = {
    "zh": {"title": "卫片图斑判定", "patches": "监测图斑（按判定结果）", "parts": "图斑分部判定", "county": "区县",
           "not_judged": "未判定图斑（研究区或前时相调查外）", "pbf_flag": "粗深红边：涉及永久基本农田",
           "search": "搜索图斑编号"},
    "en": {"title": "Judged monitoring patches", "patches": "Monitoring patches (by verdict)",
           "parts": "Parts of split patches", "county": "Counties",
           "not_judged": "Patches not judged (outside the study area or the T0 survey)",
           "pbf_flag": "thick dark-red outline: on permanent basic farmland", "search": "Search patch number"},
}  # fmt: skip
VERDICT_ORDER = ("illegal", "to_check", "legal")
VERDICT_COLOURS = {"illegal": "#d7191c", "to_check": "#fdae61", "legal": "#1a9641"}
PBF_OUTLINE = "#67000d"
NOT_JUDGED_STYLE = {"color": "#636363", "weight": 1, "fillColor": "#bdbdbd", "fillOpacity": 0.4, "dashArray": "3"}
POPUP_COLUMNS = ["patch_id", "verdict_text", "reason_text", "county_name", "township", "village", "area_mu",
                 "farmland_mu", "pbf_mu", "erl_mu", "illegal_mu", "approval_refs", "facility_refs", "temporary_refs",
                 "supplement_refs", "t0_classes", "after_code", "after_name", "image_date"]
PART_COLUMNS = ["patch_id", "part", "verdict_text", "reason_text", "refs", "area_mu", "t0_classes"]
SIMPLIFY_M = 0.5


def _styles(weight: float = 1) -> list[dict]:
    """Two styles per verdict: plain, and outlined for patches touching PBF (index ``2 * verdict + pbf``)."""
    styles = []
    for verdict in VERDICT_ORDER:
        fill = {"fillColor": VERDICT_COLOURS[verdict], "fillOpacity": 0.65}
        styles += [{"color": VERDICT_COLOURS[verdict], "weight": weight, **fill},
                   {"color": PBF_OUTLINE, "weight": 3, **fill}]
    return styles


def judge_map(judged: gpd.GeoDataFrame, ctx: MapContext, *, parts: gpd.GeoDataFrame | None = None,
              not_judged: gpd.GeoDataFrame | None = None, counties: gpd.GeoDataFrame | None = None,
              county_name_field: str | None = None) -> folium.Map:
    """Build the judged-patches map.

    Parameters
    ----------
    judged : GeoDataFrame
        ``judged_patches`` (:data:`~kmrv_geo.analysis.judge.JUDGED_COLUMNS`), projected CRS.
    ctx : MapContext
    parts : GeoDataFrame, optional
        ``judged_parts``: the parts of split patches are drawn as a layer of their own (hidden at first).
    not_judged : GeoDataFrame, optional
        Patches outside the study area or the T0 survey (grey, dashed).
    counties : GeoDataFrame, optional
        County outlines for context, with ``county_name_field``.

    Returns
    -------
    folium.Map
        Patches coloured by verdict (违法 red, 待核实 orange, 合法 green), those touching PBF outlined dark red;
        popup: the verdict, its reasons and the document numbers; search by patch number.
    """
    text = TEXT[ctx.lang]
    fmap, layers = start_map(ctx, counties, county_name_field)
    if judged is not None and len(judged):
        web = web_layer(judged, POPUP_COLUMNS, simplify_m=SIMPLIFY_M, gcj02=ctx.gcj02)
        index = np.asarray(web["verdict_text"].map({VERDICT_TEXT[ctx.lang][v]: i for i, v in
                                                    enumerate(VERDICT_ORDER)}).fillna(1), dtype=int)
        on_pbf = (judged["pbf_mu"].fillna(0.0).to_numpy() > 0).astype(int)
        fields = heading_fields(web, POPUP_COLUMNS, ctx.lang, area_kind=ctx.area_kind)
        layers.append(add_layer(fmap, web, ctx, key="patches", name=text["patches"], show=True, fields=fields,
                                tooltip=["patch_id", "verdict_text"], search="patch_id", search_zoom=17,
                                styles=_styles(), style_index=index * 2 + on_pbf))
    split = parts[parts["patch_id"].isin(judged.loc[judged["partly"].astype(bool), "patch_id"])] \
        if parts is not None and judged is not None and len(judged) else None
    if split is not None and len(split):
        web = web_layer(split, PART_COLUMNS, simplify_m=SIMPLIFY_M, gcj02=ctx.gcj02)
        index = np.asarray(web["verdict_text"].map({VERDICT_TEXT[ctx.lang][v]: i for i, v in
                                                    enumerate(VERDICT_ORDER)}).fillna(1), dtype=int)
        fields = heading_fields(web, PART_COLUMNS, ctx.lang, area_kind=ctx.area_kind)
        layers.append(add_layer(fmap, web, ctx, key="parts", name=text["parts"], show=False, fields=fields,
                                tooltip=["patch_id", "part"], styles=_styles(2), style_index=index * 2))
    if not_judged is not None and len(not_judged):
        web = web_layer(not_judged, ["patch_id", "reason_text", "area_mu"], simplify_m=SIMPLIFY_M, gcj02=ctx.gcj02)
        fields = heading_fields(web, ["patch_id", "reason_text", "area_mu"], ctx.lang, area_kind=ctx.area_kind)
        layers.append(add_layer(fmap, web, ctx, key="not_judged", name=text["not_judged"], show=True, fields=fields,
                                tooltip=["patch_id"], search="patch_id", styles=[NOT_JUDGED_STYLE]))
    present = set(judged["verdict"]) if judged is not None and len(judged) else set()
    legend = [(VERDICT_COLOURS[v], VERDICT_TEXT[ctx.lang][v]) for v in VERDICT_ORDER if v in present]
    legend.append((PBF_OUTLINE, text["pbf_flag"]))
    stats = []
    if judged is not None and len(judged):
        unit = "亩" if ctx.lang == "zh" else "mu"
        stats = [(VERDICT_TEXT[ctx.lang][v], f"{int((judged['verdict'] == v).sum())}") for v in VERDICT_ORDER]
        stats += [("违法面积" if ctx.lang == "zh" else "illegal", f"{judged['illegal_mu'].sum():.2f} {unit}"),
                  ("其中占永久基本农田" if ctx.lang == "zh" else "of it on PBF",
                   f"{judged['illegal_pbf_mu'].sum():.2f} {unit}")]
    return finish_map(fmap, ctx, title=text["title"], layers=layers, legend=legend,
                      search=[k for k in ("patches", "not_judged") if any(layer.key == k for layer in layers)],
                      search_placeholder=text["search"], notes=[ctx.text["simplified"].format(tol=SIMPLIFY_M)],
                      stats=stats)
