"""The violations map: change patches coloured by verdict, patches touching PBF outlined, search by id."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from ..analysis.violations import STATUSES
from .common import (
    MapContext,
    add_layer,
    finish_map,
    heading_fields,
    localised_values,
    start_map,
    web_layer,
)  # fmt: skip

TEXT = {
    "zh": {"title": "违法用地与非粮化图斑", "patches": "变化图斑", "below_min": "小于上图面积的图斑", "county": "区县",
           "raster": "遥感变化图斑（土地覆盖，需实地核实）",
           "pbf_flag": "粗深红边：涉及永久基本农田", "search": "搜索图斑编号", "name": "名称"},
    "en": {"title": "Violations", "patches": "Change patches", "below_min": "Patches below the minimum size",
           "raster": "Raster change patches (land cover, to be checked in the field)",
           "county": "Counties", "pbf_flag": "thick dark-red outline: on permanent basic farmland",
           "search": "Search patch id", "name": "Name"},
}  # fmt: skip
STATUS_COLOURS = {
    "illegal": "#d7191c", "partly_approved": "#fdae61", "approved": "#1a9641", "unverified": "#969696",
    "nongrain_on_pbf": "#7b3294", "nongrain": "#c2a5cf", "supplement": "#2b83ba", "other": "#bababa",
}  # fmt: skip
PBF_OUTLINE = "#67000d"
BELOW_MIN_STYLE = {"color": "#636363", "weight": 1, "fillColor": "#bdbdbd", "fillOpacity": 0.5, "dashArray": "3"}
POPUP_COLUMNS = ["patch_id", "status", "change_class", "t0_code", "t0_name", "t1_code", "t1_name", "county_name",
                 "township", "village", "area_mu", "net_mu", "pbf_mu", "approved_mu", "approved_pbf_mu", "illegal_mu",
                 "illegal_pbf_mu", "basis"]
SIMPLIFY_M = 0.5


def _patch_styles() -> list[dict]:
    """Two styles per status: plain, and outlined for patches touching PBF (index ``2 * status + pbf``)."""
    styles = []
    for status in STATUSES:
        fill = {"fillColor": STATUS_COLOURS[status], "fillOpacity": 0.65}
        styles += [{"color": STATUS_COLOURS[status], "weight": 1, **fill}, {"color": PBF_OUTLINE, "weight": 3, **fill}]
    return styles


def violations_map(patches: gpd.GeoDataFrame, ctx: MapContext, *, below_min: gpd.GeoDataFrame | None = None,
                   raster: gpd.GeoDataFrame | None = None, counties: gpd.GeoDataFrame | None = None,
                   county_name_field: str | None = None) -> folium.Map:
    """Build the violations map.

    Parameters
    ----------
    patches : GeoDataFrame
        ``change_patches`` (:data:`~kmrv_geo.analysis.violations.PATCH_COLUMNS`), projected CRS.
    ctx : MapContext
    below_min : GeoDataFrame, optional
        ``below_min_patches`` (a layer hidden when the map opens).
    raster : GeoDataFrame, optional
        Change patches from land-cover rasters (``source = raster``): a layer of its own, hidden when the
        map opens if there are survey patches, never mixed with them.
    counties : GeoDataFrame, optional
        County outlines for context, with ``county_name_field``.

    Returns
    -------
    folium.Map
        Patches coloured by verdict, patches touching PBF with a thick dark-red outline; popup: the
        patch record; search by patch id.
    """
    text = TEXT[ctx.lang]
    fmap, layers = start_map(ctx, counties, county_name_field)
    surveyed = patches is not None and not patches.empty
    for key, frame, show in (("patches", patches, True), ("below_min", below_min, False),
                             ("raster", raster, not surveyed)):
        if frame is None or frame.empty:
            continue
        web = web_layer(frame, POPUP_COLUMNS, simplify_m=SIMPLIFY_M, gcj02=ctx.gcj02)
        status_code = web["status"].map({s: i for i, s in enumerate(STATUSES)}).fillna(STATUSES.index("other"))
        on_pbf = (web["pbf_mu"].fillna(0.0) > 0).astype(int)
        for column in ("status", "change_class", "basis"):
            web[column] = localised_values(web[column], ctx.lang)
        fields = heading_fields(web, POPUP_COLUMNS, ctx.lang, area_kind=ctx.area_kind)
        if key in ("patches", "raster"):
            style = {"styles": _patch_styles(), "style_index": np.asarray(status_code, dtype=int) * 2 + on_pbf}
        else:
            style = {"styles": [BELOW_MIN_STYLE]}
        layers.append(add_layer(fmap, web, ctx, key=key, name=text[key], show=show, fields=fields,
                                tooltip=["patch_id", "status"], search="patch_id", search_zoom=16, **style))
    present = set().union(*(set(f["status"]) for f in (patches, raster) if f is not None and len(f)))
    labels = localised_values(pd.Series(list(STATUSES)), ctx.lang)
    legend = [(STATUS_COLOURS[s], label) for s, label in zip(STATUSES, labels, strict=True) if s in present]
    legend.append((PBF_OUTLINE, text["pbf_flag"]))
    return finish_map(fmap, ctx, title=text["title"], layers=layers, legend=legend,
                      search=[k for k in ("patches", "below_min", "raster") if any(layer.key == k for layer in layers)],
                      search_placeholder=text["search"],
                      notes=[ctx.text["simplified"].format(tol=SIMPLIFY_M)],
                      stats=patch_stats(patches if surveyed else raster, ctx.lang))


def patch_stats(patches: gpd.GeoDataFrame | None, lang: str) -> list[tuple[str, str]]:
    """Totals of the drawn change patches: count, converted 亩, illegal 亩 and its part on PBF, non-grain on PBF."""
    if patches is None or patches.empty:
        return []
    unit = "亩" if lang == "zh" else "mu"
    nonagri = patches.loc[patches["change_class"] == "nonagri", "area_mu"].sum()
    rows = [("变化图斑" if lang == "zh" else "change patches", f"{len(patches)}"),
            ("非农化" if lang == "zh" else "to construction", f"{nonagri:.2f} {unit}")]
    if patches["illegal_mu"].notna().any():
        rows += [("违法占用耕地" if lang == "zh" else "illegal", f"{patches['illegal_mu'].sum():.2f} {unit}"),
                 ("其中占永久基本农田" if lang == "zh" else "of it on PBF",
                  f"{patches['illegal_pbf_mu'].sum():.2f} {unit}")]
    nongrain = patches.loc[patches["status"] == "nongrain_on_pbf", "pbf_mu"].sum()
    rows.append(("永久基本农田非粮化" if lang == "zh" else "non-grain on PBF", f"{nongrain:.2f} {unit}"))
    return rows

