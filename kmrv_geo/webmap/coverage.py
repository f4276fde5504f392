"""The coverage map: HSF coverage of PBF as a choropleth by county and by village, and the PBF gaps."""

from __future__ import annotations

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from .common import MapContext, add_layer, finish_map, heading_fields, new_map, web_layer

TEXT = {
    "zh": {"title": "高标准农田覆盖率", "county": "区县覆盖率", "village": "村覆盖率",
           "gaps": "永农未建高标地块（候选）", "pct": "永农高标覆盖率(%)", "no_pbf": "无永久基本农田",
           "search": "搜索村名", "name": "名称"},
    "en": {"title": "HSF coverage of PBF", "county": "Coverage by county", "village": "Coverage by village",
           "gaps": "PBF not yet HSF (candidates)", "pct": "PBF coverage (%)", "no_pbf": "no PBF",
           "search": "Search village name", "name": "Name"},
}  # fmt: skip
BINS = (0, 20, 40, 60, 80, 100.0001)
COLOURS = ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641")
NO_DATA = "#d9d9d9"
GAP_STYLE = {"color": "#e6550d", "weight": 1, "fillColor": "#fd8d3c", "fillOpacity": 0.55}
COLUMNS = ["pbf_mu", "hsf_on_pbf_mu", "pct", "pbf_gap_mu"]
SIMPLIFY_M = {"county": 20.0, "village": 5.0, "gaps": 1.0}


def coverage_class(share: pd.Series) -> np.ndarray:
    """Class index of a coverage share (0–1): 0–20 %, 20–40 %, … 80–100 %; ``len(COLOURS)`` where no PBF.

    Examples
    --------
    >>> coverage_class(pd.Series([0.0, 0.5, 1.0, float("nan")])).tolist()
    [0, 2, 4, 5]
    """
    pct = share.astype("float64").to_numpy() * 100
    index = np.digitize(pct, BINS[1:-1])
    return np.where(np.isfinite(pct), index, len(COLOURS))


def _styles(weight: float) -> list[dict]:
    return [{"color": "#555555", "weight": weight, "fillColor": c, "fillOpacity": 0.7} for c in (*COLOURS, NO_DATA)]


def coverage_map(ctx: MapContext, *, counties: gpd.GeoDataFrame | None = None, county_table: pd.DataFrame | None = None,
                 county_code_field: str | None = None, county_name_field: str | None = None,
                 villages: gpd.GeoDataFrame | None = None, gaps: gpd.GeoDataFrame | None = None) -> folium.Map:
    """Build the coverage map.

    Parameters
    ----------
    ctx : MapContext
    counties : GeoDataFrame, optional
        County polygons with ``county_code_field`` and ``county_name_field``.
    county_table : DataFrame, optional
        ``coverage_by_county`` (``county_code``, ``pbf_mu``, ``hsf_on_pbf_mu``, ``pbf_coverage``, …).
    villages : GeoDataFrame, optional
        ``villages_profile`` (``village``, ``township``, ``pbf_mu``, ``hsf_on_pbf_mu``, ``pbf_coverage``…).
    gaps : GeoDataFrame, optional
        ``hsf_gaps`` (``rank``, ``area_mu``, ``county_name``), hidden when the map opens.

    Returns
    -------
    folium.Map
        Choropleths of PBF coverage (5 classes, grey where there is no PBF), search by village name.
    """
    text = TEXT[ctx.lang]
    labels = {"pct": text["pct"]}
    fmap = new_map(ctx)
    layers = []
    if counties is not None and county_table is not None and county_code_field and not counties.empty:
        table = county_table.drop(columns=["county_name"], errors="ignore")
        joined = counties[[county_code_field, county_name_field or county_code_field, counties.geometry.name]].merge(
            table, left_on=county_code_field, right_on="county_code", how="left")
        joined = gpd.GeoDataFrame(joined, geometry=counties.geometry.name, crs=counties.crs)
        joined["county_name"] = joined[county_name_field or county_code_field]
        joined["pct"] = (joined["pbf_coverage"] * 100).round(1)
        web = web_layer(joined, ["county_name", *COLUMNS, "pbf_coverage"], simplify_m=SIMPLIFY_M["county"],
                        gcj02=ctx.gcj02)
        fields = heading_fields(web, ["county_name", *COLUMNS], ctx.lang, area_kind=ctx.area_kind, labels=labels)
        layers.append(add_layer(fmap, web, ctx, key="county", name=text["county"], fields=fields,
                                tooltip=["county_name", "pct"], styles=_styles(2),
                                style_index=coverage_class(web["pbf_coverage"])))
    if villages is not None and not villages.empty:
        data = villages.assign(pct=(villages["pbf_coverage"] * 100).round(1))
        web = web_layer(data, ["village", "township", "county_name", *COLUMNS, "pbf_coverage"],
                        simplify_m=SIMPLIFY_M["village"], gcj02=ctx.gcj02)
        fields = heading_fields(web, ["village", "township", "county_name", *COLUMNS], ctx.lang,
                                area_kind=ctx.area_kind, labels=labels)
        layers.append(add_layer(fmap, web, ctx, key="village", name=text["village"], fields=fields,
                                tooltip=["village", "pct"], styles=_styles(0.8),
                                style_index=coverage_class(web["pbf_coverage"]), search="village"))
    if gaps is not None and not gaps.empty:
        web = web_layer(gaps, ["rank", "area_mu", "county_name"], simplify_m=SIMPLIFY_M["gaps"], gcj02=ctx.gcj02)
        fields = heading_fields(web, ["rank", "area_mu", "county_name"], ctx.lang, area_kind=ctx.area_kind)
        layers.append(add_layer(fmap, web, ctx, key="gaps", name=text["gaps"], show=False, fields=fields,
                                tooltip=["rank", "area_mu"], styles=[GAP_STYLE]))
    bins = [f"{BINS[i]:g}–{min(BINS[i + 1], 100):g} %" for i in range(len(COLOURS))]
    legend = [*zip(COLOURS, bins, strict=True), (NO_DATA, text["no_pbf"]), (GAP_STYLE["fillColor"], text["gaps"])]
    notes = [ctx.text["simplified"].format(tol=SIMPLIFY_M["village"])]
    stats = []
    if county_table is not None and len(county_table) and "pbf_mu" in county_table:
        unit = "亩" if ctx.lang == "zh" else "mu"
        pbf, hsf = county_table["pbf_mu"].sum(), county_table["hsf_on_pbf_mu"].sum()
        stats = [("永久基本农田" if ctx.lang == "zh" else "PBF", f"{pbf:.2f} {unit}"),
                 ("已建高标准农田" if ctx.lang == "zh" else "built as HSF", f"{hsf:.2f} {unit}"),
                 ("覆盖率" if ctx.lang == "zh" else "coverage", f"{hsf / pbf:.1%}" if pbf > 0 else "—")]
    return finish_map(fmap, ctx, title=text["title"], layers=layers, legend=legend,
                      search=["village"] if any(layer.key == "village" for layer in layers) else [],
                      search_placeholder=text["search"], notes=notes, stats=stats,
                      fit_to=("county",) if any(layer.key == "county" for layer in layers) else None)
