"""Shared pieces of every map: layers prepared for the web, text-only attributes, the notice line."""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import numpy as np
import shapely

from ..crs import WGS84

LABELS = {
    "zh": {"synthetic": "示例数据（合成，非真实调查数据）", "simplified": "图形已简化 {tol:g} 米显示", "notice": "说明"},
    "en": {"synthetic": "Synthetic sample data (not a real survey)", "simplified": "geometry simplified by {tol:g} m for display",
           "notice": "Notice"},
}  # fmt: skip


def web_layer(frame: gpd.GeoDataFrame, columns: list[str], *, simplify_m: float = 0.0) -> gpd.GeoDataFrame:
    """Prepare a layer for a web map: chosen columns only, text escaped, simplified, WGS84, 6 decimals.

    Parameters
    ----------
    frame : GeoDataFrame
        A layer in a projected CRS (metres).
    columns : list of str
        Attribute columns to keep (missing ones are skipped).
    simplify_m : float, default 0
        Topology-preserving simplification tolerance in metres (0: none).

    Returns
    -------
    GeoDataFrame
        In EPSG:4326 with coordinates rounded to 6 decimals (≈ 0.1 m); string values HTML-escaped so
        that a tooltip shows them as text and never runs them.
    """
    keep = [c for c in columns if c in frame.columns]
    out = frame[keep + [frame.geometry.name]].copy()
    geoms = np.asarray(out.geometry.values)
    if simplify_m > 0:
        geoms = shapely.simplify(geoms, simplify_m, preserve_topology=True)
    out = gpd.GeoDataFrame(out.drop(columns=frame.geometry.name), geometry=geoms, crs=frame.crs).to_crs(WGS84)
    # Round coordinates for display only (set_precision can raise TopologyException on slivers).
    out["geometry"] = shapely.transform(np.asarray(out.geometry.values), lambda xy: np.round(xy, 6))
    out = out[~out.geometry.is_empty & out.geometry.notna()]
    for column in keep:
        values = out[column]
        out[column] = values.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else html.escape(str(v)))
    return out


def add_notice(fmap: folium.Map, lines: list[str]) -> None:
    """Put a fixed notice box (bottom left) on the map; lines are escaped and shown as text."""
    body = "<br>".join(html.escape(line) for line in lines if line)
    if not body:
        return
    box = (
        '<div class="kmrv-notice" style="position:fixed;bottom:18px;left:10px;z-index:9999;background:rgba(255,255,255,.9);'
        'padding:4px 8px;border:1px solid #999;border-radius:4px;font:13px sans-serif;color:#b00;">' + body + "</div>"
    )
    fmap.get_root().html.add_child(folium.Element(box))


def add_legend(fmap: folium.Map, title: str, entries: list[tuple[str, str]]) -> None:
    """Put a legend box (bottom right): ``entries`` are (colour, label), labels escaped."""
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:14px;background:{html.escape(colour)};'
        f'opacity:.7;margin-right:6px;border:1px solid #555;vertical-align:middle"></span>{html.escape(label)}</div>'
        for colour, label in entries
    )
    box = (
        '<div class="kmrv-legend" style="position:fixed;bottom:18px;right:10px;z-index:9999;background:rgba(255,255,255,.9);'
        f'padding:6px 10px;border:1px solid #999;border-radius:4px;font:13px sans-serif;"><b>{html.escape(title)}</b>{rows}</div>'
    )
    fmap.get_root().html.add_child(folium.Element(box))
