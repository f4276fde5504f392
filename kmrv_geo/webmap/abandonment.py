"""The abandonment map: farmland parcels whose NDVI stayed low (撂荒), those on PBF outlined."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np

from .common import MapContext, add_layer, finish_map, heading_fields, localised_values, start_map, web_layer

TEXT = {
    "zh": {"title": "疑似撂荒耕地", "parcels": "疑似撂荒地块", "county": "区县", "search": "搜索地块编号",
           "on_pbf": "位于永久基本农田", "off_pbf": "不在永久基本农田", "parcel_id": "地块编号",
           "years_low": "NDVI 持续偏低年份/年数"},
    "en": {"title": "Possibly abandoned farmland", "parcels": "Possibly abandoned parcels", "county": "Counties",
           "search": "Search parcel id", "on_pbf": "on PBF", "off_pbf": "not on PBF", "parcel_id": "parcel id",
           "years_low": "years of low NDVI"},
}  # fmt: skip
COLUMNS = ["parcel_id", "area_mu", "years_low", "county_name", "village", "on_pbf"]
STYLES = [
    {"color": "#e6550d", "weight": 1, "fillColor": "#fdae6b", "fillOpacity": 0.6},
    {"color": "#67000d", "weight": 2.5, "fillColor": "#e6550d", "fillOpacity": 0.7},
]
SIMPLIFY_M = 1.0


def abandonment_map(parcels: gpd.GeoDataFrame, ctx: MapContext, *, counties: gpd.GeoDataFrame | None = None,
                    county_name_field: str | None = None) -> folium.Map:
    """Build the abandonment map.

    Parameters
    ----------
    parcels : GeoDataFrame
        ``abandoned_parcels``: ``parcel_id``, ``area_mu``, ``years_low``, ``county_name``, ``village``,
        ``on_pbf`` (bool), projected CRS.
    ctx : MapContext
    counties : GeoDataFrame, optional
        County outlines for context.

    Returns
    -------
    folium.Map
        The parcels (on PBF: darker, outlined), popup with their record, search by parcel id; a large
        layer gets level of detail.
    """
    text = TEXT[ctx.lang]
    fmap, layers = start_map(ctx, counties, county_name_field)
    web = web_layer(parcels, COLUMNS, simplify_m=SIMPLIFY_M, gcj02=ctx.gcj02)
    on_pbf = web["on_pbf"].fillna(False).astype(bool) if "on_pbf" in web else None
    if on_pbf is not None:
        web["on_pbf"] = localised_values(on_pbf, ctx.lang)
    fields = heading_fields(web, COLUMNS, ctx.lang, area_kind=ctx.area_kind,
                            labels={k: text[k] for k in ("parcel_id", "years_low")})
    layers.append(add_layer(fmap, web, ctx, key="parcels", name=text["parcels"], fields=fields,
                            tooltip=[c for c in ("parcel_id", "area_mu") if c in web], styles=STYLES,
                            style_index=np.zeros(len(web), dtype=int) if on_pbf is None else on_pbf.astype(int),
                            search="parcel_id" if "parcel_id" in web else None, search_zoom=16))
    legend = [(STYLES[0]["fillColor"], text["off_pbf"]), (STYLES[1]["fillColor"], text["on_pbf"])]
    unit = "亩" if ctx.lang == "zh" else "mu"
    stats = [("疑似撂荒地块" if ctx.lang == "zh" else "abandoned parcels", f"{len(parcels)}"),
             ("面积" if ctx.lang == "zh" else "area", f"{parcels['area_mu'].sum():.2f} {unit}")]
    if "pbf_mu" in parcels:
        stats.append(("其中永久基本农田" if ctx.lang == "zh" else "of it on PBF",
                      f"{parcels['pbf_mu'].sum():.2f} {unit}"))
    return finish_map(fmap, ctx, title=text["title"], layers=layers, legend=legend,
                      search=["parcels"] if "parcel_id" in web else [], search_placeholder=text["search"],
                      notes=[ctx.text["simplified"].format(tol=SIMPLIFY_M)], stats=stats)
