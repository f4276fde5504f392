"""The villages map: the Dianchi villages as clustered markers (重点村 vs 绿美村庄), popup = the profile."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np

from ..text import text_of
from .common import MapContext, add_layer, finish_map, heading_fields, start_map, web_layer
from .village_pages import FOLDER, village_page_name

TEXT = {
    "zh": {"title": "滇池沿岸村庄", "villages": "村庄", "county": "区县", "search": "搜索村名", "other": "其他",
           "page": "打开村庄页面（图、问题清单，可打印）"},
    "en": {"title": "Dianchi villages", "villages": "Villages", "county": "Counties", "search": "Search village name",
           "other": "other", "page": "Open the village page (map, findings, printable)"},
}  # fmt: skip
KEY_COLOUR, GREEN_COLOUR, OTHER_COLOUR = "#d7301f", "#1a9850", "#3182bd"
PROFILE_COLUMNS = [
    "village", "category", "township", "county_name", "village_code", "area_mu", "farmland_mu", "pbf_mu",
    "hsf_on_pbf_mu", "pbf_coverage", "pbf_gap_mu", "construction_t1_mu", "new_construction_mu",
    "construction_on_pbf_mu", "illegal_mu", "nongrain_mu", "nongrain_on_pbf_mu", "abandoned_mu", "facility_sites",
    "facility_sites_mu", "farmland_parcels", "mean_parcel_mu", "share_under_1mu", "parcels_per_100mu",
    "distance_to_shore_m", "protection_zone", "rank_illegal", "rank_gap",
]  # fmt: skip
PAGE_LINK = "page_link"
"""Column of the link from a village's popup to its page (``../villages/NAME.html``)."""
CLUSTER = {"maxClusterRadius": 40, "disableClusteringAtZoom": 13, "showCoverageOnHover": False}


def category_colour(category) -> str:
    """Marker colour of a village category: red for 重点村 (key villages), green for 绿美村庄."""
    text = "" if category is None else str(category)
    if "重点" in text or "key" in text.lower():
        return KEY_COLOUR
    if "绿美" in text or "green" in text.lower():
        return GREEN_COLOUR
    return OTHER_COLOUR


def _page_links(profiles, *, folder: str = f"../{FOLDER}"):
    """The address of each village's page from the map (``../villages/530112101001.html``), by ``village_key``
    (:func:`~kmrv_geo.webmap.village_pages.village_page_name`); ``None`` where a village has no key.
    """
    return profiles["village_key"].map(lambda k: f"{folder}/{village_page_name(k)}" if text_of(k) else None)


def villages_map(profiles: gpd.GeoDataFrame, ctx: MapContext, *, counties: gpd.GeoDataFrame | None = None,
                 county_name_field: str | None = None, page_links: bool = False) -> folium.Map:
    """Build the villages map.

    Parameters
    ----------
    profiles : GeoDataFrame
        ``villages_profile`` (one row per village; polygons or points, projected CRS).
    ctx : MapContext
    counties : GeoDataFrame, optional
        County outlines for context.
    county_name_field : str, optional
        Name column of ``counties``.
    page_links : bool, default False
        The village pages are written beside the maps (``OUT/villages``, by
        :func:`~kmrv_geo.webmap.village_pages.write_village_pages`): each popup links to its village's page.
        Needs ``village_key`` in ``profiles``.

    Returns
    -------
    folium.Map
        One marker per village (at a point inside it), coloured by category and clustered; the popup
        is the village profile (and the link to its page); search by village name.
    """
    text = TEXT[ctx.lang]
    fmap, layers = start_map(ctx, counties, county_name_field)
    points = profiles.set_geometry(profiles.geometry.representative_point())
    links = page_links and "village_key" in profiles
    if links:
        points = points.assign(**{PAGE_LINK: _page_links(profiles)})
    web = web_layer(points, PROFILE_COLUMNS + ([PAGE_LINK] if links else []), gcj02=ctx.gcj02)
    categories = list(dict.fromkeys(web["category"].fillna(text["other"]))) if "category" in web else [text["other"]]
    colours = [category_colour(c) for c in categories]
    styles = [{"color": "#ffffff", "fillColor": c} for c in colours]
    style_index = (web["category"].fillna(text["other"]).map({c: i for i, c in enumerate(categories)})
                   if "category" in web else np.zeros(len(web), dtype=int))
    fields = heading_fields(web, PROFILE_COLUMNS, ctx.lang, area_kind=ctx.area_kind)
    layers.append(add_layer(fmap, web, ctx, key="villages", name=text["villages"], fields=fields,
                            tooltip=["village"], styles=styles, style_index=np.asarray(style_index, dtype=int),
                            search="village", search_zoom=15, cluster=CLUSTER, lod=False, popup_title=None,
                            link={"column": PAGE_LINK, "label": text["page"]} if links else None))
    legend = list(zip(colours, [str(c) for c in categories], strict=True))
    zh = ctx.lang == "zh"
    stats = [("村庄" if zh else "villages", f"{len(profiles)}")]
    if "category" in profiles:
        stats += [(str(c), f"{n}") for c, n in profiles["category"].value_counts().items() if str(c)]
    if "findings" in profiles:
        stats.append(("有规划审查发现的村" if zh else "with plan findings", f"{int((profiles['findings'] > 0).sum())}"))
    return finish_map(fmap, ctx, title=text["title"], layers=layers, legend=legend, search=["villages"],
                      search_placeholder=text["search"], stats=stats)
