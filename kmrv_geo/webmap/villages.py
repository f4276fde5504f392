"""The villages map: the Dianchi villages as clustered markers (重点村 vs 绿美村庄), popup = the profile."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np

from .common import MapContext, add_layer, finish_map, heading_fields, start_map, web_layer

TEXT = {
    "zh": {"title": "滇池沿岸村庄", "villages": "村庄", "county": "区县", "search": "搜索村名", "other": "其他"},
    "en": {"title": "Dianchi villages", "villages": "Villages", "county": "Counties", "search": "Search village name",
           "other": "other"},
}  # fmt: skip
KEY_COLOUR, GREEN_COLOUR, OTHER_COLOUR = "#d7301f", "#1a9850", "#3182bd"
PROFILE_COLUMNS = [
    "village", "category", "township", "county_name", "village_code", "area_mu", "farmland_mu", "pbf_mu",
    "hsf_on_pbf_mu", "pbf_coverage", "pbf_gap_mu", "construction_t1_mu", "new_construction_mu",
    "construction_on_pbf_mu", "illegal_mu", "nongrain_mu", "nongrain_on_pbf_mu", "abandoned_mu", "facility_sites",
    "facility_sites_mu", "farmland_parcels", "mean_parcel_mu", "share_under_1mu", "parcels_per_100mu",
    "distance_to_shore_m", "protection_zone", "rank_illegal", "rank_gap",
]  # fmt: skip
CLUSTER = {"maxClusterRadius": 40, "disableClusteringAtZoom": 13, "showCoverageOnHover": False}


def category_colour(category) -> str:
    """Marker colour of a village category: red for 重点村 (key villages), green for 绿美村庄."""
    text = "" if category is None else str(category)
    if "重点" in text or "key" in text.lower():
        return KEY_COLOUR
    if "绿美" in text or "green" in text.lower():
        return GREEN_COLOUR
    return OTHER_COLOUR


def villages_map(profiles: gpd.GeoDataFrame, ctx: MapContext, *, counties: gpd.GeoDataFrame | None = None,
                 county_name_field: str | None = None) -> folium.Map:
    """Build the villages map.

    Parameters
    ----------
    profiles : GeoDataFrame
        ``villages_profile`` (one row per village; polygons or points, projected CRS).
    ctx : MapContext
    counties : GeoDataFrame, optional
        County outlines for context.

    Returns
    -------
    folium.Map
        One marker per village (at a point inside it), coloured by category and clustered; the popup
        is the village profile; search by village name.
    """
    text = TEXT[ctx.lang]
    fmap, layers = start_map(ctx, counties, county_name_field)
    points = profiles.set_geometry(profiles.geometry.representative_point())
    web = web_layer(points, PROFILE_COLUMNS, gcj02=ctx.gcj02)
    categories = list(dict.fromkeys(web["category"].fillna(text["other"]))) if "category" in web else [text["other"]]
    colours = [category_colour(c) for c in categories]
    styles = [{"color": "#ffffff", "fillColor": c} for c in colours]
    style_index = (web["category"].fillna(text["other"]).map({c: i for i, c in enumerate(categories)})
                   if "category" in web else np.zeros(len(web), dtype=int))
    fields = heading_fields(web, PROFILE_COLUMNS, ctx.lang, area_kind=ctx.area_kind)
    layers.append(add_layer(fmap, web, ctx, key="villages", name=text["villages"], fields=fields,
                            tooltip=["village"], styles=styles, style_index=np.asarray(style_index, dtype=int),
                            search="village", search_zoom=15, cluster=CLUSTER, lod=False, popup_title=None))
    legend = list(zip(colours, [str(c) for c in categories], strict=True))
    return finish_map(fmap, ctx, title=text["title"], layers=layers, legend=legend, search=["villages"],
                      search_placeholder=text["search"])
