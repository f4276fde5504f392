"""Compact layer data for web maps: quantised, delta-encoded geometry and column attributes.

A plain ``folium.GeoJson`` writes every coordinate with 15–17 digits and every property on every
feature; a map of 200k parcels becomes hundreds of megabytes that no browser opens. Here a layer is:

- **geometry**: coordinates quantised to integers at 10^-``decimals`` degrees (6 ≈ 0.1 m, 5 ≈ 1 m),
  the closing vertex of each ring dropped, delta-encoded and written as polyline strings (the Google
  encoded-polyline alphabet: a few ASCII characters per vertex). Features are sorted into grid cells
  and each cell has its own strings, so the browser decodes only the cells it shows;
- **attributes**: only the columns a map shows, one list per column; a text column with few distinct
  values is a dictionary plus codes. Every text value is HTML-escaped here — this is the one place
  where attribute text enters a map, and the browser inserts only escaped text;
- **level of detail**: a layer with more than :data:`LOD_FEATURES` features draws a density grid of
  its cells below ``min_zoom`` and its features only in the cells in view from ``min_zoom`` on.

``static/kmrv_layer.js`` reads what :func:`encode_layer` writes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from markupsafe import Markup

from ..errors import MapError

LOD_FEATURES = 20_000
"""Layers with more features than this get level of detail (features only from ``LOD_MIN_ZOOM`` on)."""
LOD_MIN_ZOOM = 13
LOD_CELL_DEG = 0.02
"""Grid cell size (degrees, ≈ 2 km) of a level-of-detail layer; cells are the units the browser makes."""
CELL_DEG = 0.1
"""Grid cell size of a small layer (all cells are made at once; cells only keep deltas small)."""
_POLYGONAL = {3, 6}  # shapely type ids: Polygon, MultiPolygon
_POINT = 0


@dataclass(frozen=True)
class WebLayer:
    """A small layer ready for a web map, held as arrays (no GeoDataFrame: a page set makes thousands).

    Attributes
    ----------
    geoms : numpy.ndarray of shapely geometries
        Polygons/multipolygons or points in lon/lat (WGS84, or GCJ-02 for Gaode); no missing or empty ones.
    columns : dict of str to numpy.ndarray
        Attribute values, one per geometry.
    """

    geoms: np.ndarray
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.geoms)


@dataclass(frozen=True)
class Field:
    """An attribute column a map carries.

    Attributes
    ----------
    column : str
        Column of the frame.
    label : str
        Label shown in popups and tooltips (escaped when encoded).
    digits : int, optional
        Decimals to keep and show for a number column.
    """

    column: str
    label: str
    digits: int | None = None


def escape_text(value) -> str | None:
    """Attribute value as escaped HTML text (``None`` for missing values).

    Examples
    --------
    >>> escape_text('<img src=x onerror="alert(1)">')
    '&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
    """
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    return html.escape(str(value), quote=True)


def encode_ints(values, *, signed: bool) -> tuple[str, np.ndarray]:
    """Encode integers in the polyline alphabet (5-bit groups, ASCII 63–126), vectorised.

    Parameters
    ----------
    values : array of int
    signed : bool
        Zig-zag the values first (deltas); counts are unsigned.

    Returns
    -------
    text : str
        The encoded characters.
    offsets : ndarray
        ``offsets[i]`` is where value ``i`` starts in ``text`` (length ``len(values) + 1``).

    Examples
    --------
    >>> encode_ints([1, -1, 1000], signed=True)[0]
    'A@oo@'
    """
    v = np.asarray(values, dtype=np.int64)
    if signed:
        v = np.where(v < 0, ~(v << 1), v << 1)
    elif (v < 0).any():
        raise ValueError("unsigned encoding of a negative value")
    nchunks = np.ones(len(v), dtype=np.int64)
    rest = v >> 5
    while (rest > 0).any():
        nchunks += rest > 0
        rest >>= 5
    offsets = np.concatenate([[0], np.cumsum(nchunks)])
    owner = np.repeat(np.arange(len(v)), nchunks)
    k = np.arange(offsets[-1]) - offsets[:-1][owner]
    chunk = (v[owner] >> (5 * k)) & 31
    more = (k < nchunks[owner] - 1).astype(np.int64) << 5
    return ((chunk | more) + 63).astype(np.uint8).tobytes().decode("ascii"), offsets


def decode_ints(text: str, *, signed: bool) -> np.ndarray:
    """Inverse of :func:`encode_ints` (used by tests; the browser has its own)."""
    out, result, shift = [], 0, 0
    for ch in text:
        b = ord(ch) - 63
        result |= (b & 31) << shift
        shift += 5
        if b < 32:
            out.append((~(result >> 1) if result & 1 else result >> 1) if signed else result)
            result, shift = 0, 0
    return np.asarray(out, dtype=np.int64)


def _column(values: pd.Series | np.ndarray, digits: int | None) -> dict:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64").round(digits if digits is not None else 6)
        return {"values": [None if np.isnan(x) else (int(x) if x.is_integer() and digits in (None, 0) else x)
                           for x in numbers.tolist()]}
    escaped: dict = {}  # each distinct value escaped once (a land-use layer repeats a few hundred codes)

    def escape_once(value):
        key = (type(value), value)  # 1, 1.0 and True are equal keys but different texts
        try:
            return escaped[key]
        except KeyError:
            escaped[key] = text = escape_text(value)
            return text
        except TypeError:  # an unhashable value
            return escape_text(value)

    texts = [escape_once(v) for v in values.tolist()]
    uniques = list(dict.fromkeys(t for t in texts if t is not None))
    if len(uniques) <= max(1, len(texts) // 2):
        index = {t: i + 1 for i, t in enumerate(uniques)}
        return {"dict": uniques, "codes": encode_ints([0 if t is None else index[t] for t in texts], signed=False)[0]}
    return {"values": texts}


def _cells(geoms: np.ndarray, cell_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Grid cell key per feature (by the centre of its bounds) and the order that sorts by cell."""
    b = shapely.bounds(geoms)
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    ix = np.floor((cx - np.nanmin(cx)) / cell_deg).astype(np.int64)
    iy = np.floor((cy - np.nanmin(cy)) / cell_deg).astype(np.int64)
    key = iy * (ix.max() + 1) + ix
    order = np.argsort(key, kind="stable")
    return key[order], order


def _starts(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _structure(geoms: np.ndarray, kind: str):
    """Counts (parts per feature, rings per part, vertices per ring) and lon/lat vertices."""
    if kind == "point":
        n = len(geoms)
        ones = np.ones(n, dtype=np.int64)
        return ones, ones, ones, shapely.get_coordinates(geoms)
    parts, part_of = shapely.get_parts(geoms, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    n_parts = np.bincount(part_of, minlength=len(geoms))
    n_rings = np.bincount(ring_of, minlength=len(parts))
    n_coords = shapely.get_num_coordinates(rings)
    coords = shapely.get_coordinates(rings)
    keep = np.ones(len(coords), dtype=bool)
    keep[np.cumsum(n_coords) - 1] = False  # the closing vertex repeats the first
    return n_parts, n_rings, n_coords - 1, coords[keep]


def _take(values: pd.Series | np.ndarray, order: np.ndarray) -> pd.Series | np.ndarray:
    """``values`` in ``order`` (a frame's column keeps its pandas dtype, e.g. nullable integers)."""
    return values.iloc[order] if isinstance(values, pd.Series) else np.asarray(values)[order]


def encode_layer(
    frame: gpd.GeoDataFrame | WebLayer,
    *,
    fields: Sequence[Field] = (),
    tooltip: Sequence[str] = (),
    popup: Sequence[str] = (),
    popup_title: str | None = None,
    styles: Sequence[dict] = ({"color": "#3388ff", "weight": 1, "fillOpacity": 0.4},),
    style_index=None,
    search: str | None = None,
    search_zoom: int = 15,
    decimals: int = 6,
    lod: bool | None = None,
    lod_label: str = "{n}",
    cluster: dict | None = None,
) -> dict:
    """Encode a lon/lat layer (polygons or points) for :class:`~kmrv_geo.webmap.elements.CompactLayer`.

    Parameters
    ----------
    frame : GeoDataFrame or WebLayer
        Polygons/multipolygons or points in lon/lat (WGS84, or GCJ-02 for Gaode); no empty geometries.
    fields : sequence of Field
        Columns to carry (only these leave Python).
    tooltip, popup : sequence of str
        Columns (of ``fields``) shown on hover and on click.
    popup_title : str, optional
        Heading of the popup (escaped).
    styles : sequence of dict
        Leaflet path styles; ``style_index`` picks one per feature (default: the first for all).
    style_index : array of int, optional
    search : str, optional
        Column (of ``fields``) the search box finds features by.
    search_zoom : int, default 15
        Zoom to show a feature found by the search.
    decimals : int, default 6
        Coordinate decimals (3–6; 6 ≈ 0.1 m, 5 ≈ 1 m).
    lod : bool, optional
        Level of detail; default: when the layer has more than :data:`LOD_FEATURES` features.
    lod_label : str
        Tooltip of a density cell below ``min_zoom``; ``{n}`` is replaced by its feature count.
    cluster : dict, optional
        Points only: Leaflet.markercluster options (the points are then clustered).

    Returns
    -------
    dict
        JSON-serialisable layer data (see ``static/kmrv_layer.js``).

    Raises
    ------
    MapError
        For geometry other than polygons or points, or ``decimals`` outside 3–6.
    """
    if not 3 <= decimals <= 6:
        raise MapError(f"map coordinate decimals must be 3–6 (6 ≈ 0.1 m, 5 ≈ 1 m), got {decimals}")
    if isinstance(frame, WebLayer):
        geoms, columns = np.asarray(frame.geoms, dtype=object), frame.columns
    else:
        geoms, columns = np.asarray(frame.geometry.values), frame
    types = set(shapely.get_type_id(geoms).tolist())
    if types and types <= {_POINT}:
        kind = "point"
    elif types <= _POLYGONAL:
        kind = "polygon"
    else:
        raise MapError(f"a compact map layer holds polygons or points only, got geometry type ids {sorted(types)}")
    n = len(geoms)
    lod = n > LOD_FEATURES if lod is None else lod
    if n:
        cell_key, order = _cells(geoms, LOD_CELL_DEG if lod else CELL_DEG)
    else:
        cell_key, order = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    geoms = geoms[order]
    names = [f.column for f in fields]
    n_parts, n_rings, n_verts, lonlat = _structure(geoms, kind)
    scale = 10**decimals
    q = np.round(lonlat[:, ::-1] * scale).astype(np.int64)  # lat, lng per vertex

    feature_starts = np.flatnonzero(np.r_[True, cell_key[1:] != cell_key[:-1]]) if n else np.zeros(0, np.int64)
    feature_ends = np.r_[feature_starts[1:], n].astype(np.int64)
    part_at, ring_at, vert_at = _starts(n_parts), _starts(n_rings), _starts(n_verts)
    deltas = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    cell_verts = vert_at[ring_at[part_at[feature_starts]]]
    deltas[cell_verts] = q[cell_verts]  # each cell starts from absolute coordinates
    coord_text, coord_at = encode_ints(deltas.ravel(), signed=True)
    part_text, part_off = encode_ints(n_parts, signed=False)
    ring_text, ring_off = encode_ints(n_rings, signed=False)
    vert_text, vert_off = encode_ints(n_verts, signed=False)
    cells = []
    for fs, fe in zip(feature_starts.tolist(), feature_ends.tolist(), strict=True):
        ps, pe = int(part_at[fs]), int(part_at[fe])
        rs, re_ = int(ring_at[ps]), int(ring_at[pe])
        vs, ve = int(vert_at[rs]), int(vert_at[re_])
        box = shapely.total_bounds(geoms[fs:fe])
        cell = {"b": [round(float(x), decimals) for x in box], "f": fs, "n": fe - fs,
                "c": coord_text[coord_at[2 * vs]:coord_at[2 * ve]]}
        if kind != "point":
            cell |= {"p": part_text[part_off[fs]:part_off[fe]], "r": ring_text[ring_off[ps]:ring_off[pe]],
                     "v": vert_text[vert_off[rs]:vert_off[re_]]}
        cells.append(cell)

    def refs(columns: Sequence[str]) -> list[dict]:
        by_name = {f.column: f for f in fields}
        return [{"column": names.index(c), "label": escape_text(by_name[c].label), "digits": by_name[c].digits}
                for c in columns]

    spec = {
        "kind": kind, "n": n, "decimals": decimals,
        "bounds": [round(float(x), decimals) for x in (shapely.total_bounds(geoms) if n else (0, 0, 0, 0))],
        "columns": [_column(_take(columns[f.column], order), f.digits) for f in fields],
        "styles": list(styles), "tooltip": refs(tooltip), "popup": refs(popup),
        "popup_title": escape_text(popup_title) if popup_title else None, "cells": cells,
        "lod": {"min_zoom": LOD_MIN_ZOOM, "color": styles[0].get("fillColor", styles[0].get("color", "#3388ff")),
                "label": escape_text(lod_label)} if lod else None,
        "cluster": cluster if kind == "point" else None,
    }  # fmt: skip
    if style_index is not None:
        spec["style_codes"] = encode_ints(np.asarray(style_index, dtype=np.int64)[order], signed=False)[0]
    if search is not None:
        points = geoms if kind == "point" else shapely.point_on_surface(geoms)
        pq = np.round(shapely.get_coordinates(points)[:, ::-1] * scale).astype(np.int64)
        pd_ = np.diff(pq, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
        spec["search"] = {"column": names.index(search), "points": encode_ints(pd_.ravel(), signed=True)[0],
                          "zoom": search_zoom}
    return spec


def to_script_json(spec: dict) -> Markup:
    r"""Compact JSON for a ``<script>``: UTF-8 kept, and ``< > & '`` written as ``\u`` escapes so no
    value can close the script element.
    """
    text = json.dumps(spec, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027")):
        text = text.replace(ch, esc)
    return Markup(text)
