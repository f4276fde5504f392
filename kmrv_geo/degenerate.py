"""Near-degenerate polygon parts: zero-width rings, slivers and spikes that are valid but break overlays.

A polygon can be valid for GEOS and still carry a hole of 1e-7 m² along a neighbour's edge, a
sliver part a millimetre wide, or a spike (a vertex that shoots out and comes back along the same
line). Such parts hold no land, but they make GEOS's pairwise overlay return only lines for a pair
whose interiors overlap, so a whole parcel can be lost from a figure. They are removed at load
(reported as repairs with the area before and after, :mod:`kmrv_geo.checks`) and, should one reach
an overlay anyway, the overlay recomputes the pair without them (:mod:`kmrv_geo.overlay`).
"""

from __future__ import annotations

import numpy as np
import shapely

from .units import ring_areas

CHUNK = 50_000
"""Geometries :func:`find_degenerate` looks at a time."""
MIN_WIDTH_M = 1e-3
"""A ring whose mean width (2·area / perimeter) is below this (m) is degenerate; so is a spike whose two
sides come back to within this distance of each other."""


def _spike_vertices(coords: np.ndarray, tol: float) -> np.ndarray:
    """Positions (in a closed ring's coordinates, last = first) of spike tips: vertices B between A and C
    with |AC| < tol while B stands further from both.
    """
    ring = coords[:-1]
    n = len(ring)
    if n < 4:
        return np.zeros(0, dtype=int)
    a, c = np.roll(ring, 1, axis=0), np.roll(ring, -1, axis=0)
    ac = np.hypot(*(c - a).T)
    ab = np.hypot(*(ring - a).T)
    bc = np.hypot(*(c - ring).T)
    return np.flatnonzero((ac < tol) & (np.minimum(ab, bc) > ac))


def _clean_ring(ring, tol: float):
    coords = np.asarray(ring.coords)
    for _ in range(len(coords)):
        tips = _spike_vertices(coords, tol)
        if tips.size == 0:
            break
        inner = np.delete(coords[:-1], tips[:1], axis=0)
        coords = np.vstack([inner, inner[:1]])
        if len(coords) < 4:
            return None
    return coords


def _width(ring_coords: np.ndarray) -> float:
    """Mean width (2·area / perimeter) of one closed ring given as its coordinates (0 without length)."""
    ring = shapely.linearrings(np.asarray(ring_coords, dtype=float)[:, :2])
    length = shapely.length(ring)
    return float(2 * shapely.area(shapely.polygons(ring)) / length) if length > 0 else 0.0


def _clean_polygon(polygon, tol: float):
    shell = _clean_ring(polygon.exterior, tol)
    if shell is None or _width(shell) < tol:
        return None
    holes = [h for h in (_clean_ring(r, tol) for r in polygon.interiors) if h is not None]
    holes = [h for h in holes if _width(h) >= tol]
    return shapely.Polygon(shell, holes)


def _edges(coords: np.ndarray, ring_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edges of closed rings stored one after another (``coords[ring_offsets[r]:ring_offsets[r + 1]]``, last
    vertex = first): each edge's start position in ``coords``, its vector and its ring, ring by ring in order.
    """
    per_ring = np.maximum(np.diff(ring_offsets) - 1, 0)
    ring_of = np.repeat(np.arange(len(per_ring)), per_ring)
    start = np.arange(len(ring_of)) + ring_of  # each ring before this one left out its closing vertex
    return start, coords[start + 1] - coords[start], ring_of


def _ring_widths(coords: np.ndarray, ring_offsets: np.ndarray, edges: tuple | None = None) -> np.ndarray:
    """Mean width (2·area / perimeter) of each closed ring of a ragged coordinate array (0 for a ring with no
    length); the area as GEOS measures a ring (:func:`kmrv_geo.units.ring_areas`).
    """
    _start, vector, ring_of = _edges(coords, ring_offsets) if edges is None else edges
    n_rings = len(ring_offsets) - 1
    area = ring_areas(coords, np.repeat(np.arange(n_rings), np.diff(ring_offsets)), n_rings)
    perimeter = np.bincount(ring_of, np.hypot(vector[:, 0], vector[:, 1]), minlength=n_rings)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(perimeter > 0, 2 * area / perimeter, 0.0)


def _ragged_rings(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates (x, y) of the rings of non-empty (multi)polygons as flat arrays: ``(coords, ring_offsets,
    ring_geom)``. A polygon without holes is its one ring: read with :func:`shapely.get_coordinates` (the
    cheap path most parcels take); the others through :func:`shapely.to_ragged_array`.
    """
    simple = (shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    pos_simple, pos_other = np.flatnonzero(simple), np.flatnonzero(~simple)
    coords = [shapely.get_coordinates(geoms[pos_simple])]
    counts = [shapely.get_num_coordinates(geoms[pos_simple])]
    ring_geom = [pos_simple]
    if pos_other.size:
        _kind, other, offsets = shapely.to_ragged_array(geoms[pos_other])
        coords.append(other[:, :2])
        counts.append(np.diff(offsets[0]))
        parts = np.diff(offsets[2]) if len(offsets) > 2 else np.ones(len(pos_other), dtype=np.intp)
        ring_geom.append(np.repeat(np.repeat(pos_other, parts), np.diff(offsets[1])))
    counts = np.concatenate(counts)
    return np.concatenate(coords), np.r_[0, np.cumsum(counts)], np.concatenate(ring_geom)


def find_degenerate(geoms: np.ndarray, *, tol: float = MIN_WIDTH_M) -> np.ndarray:
    """Which polygonal geometries hold a degenerate ring (hole or part) or a spike.

    Worked on the layer's coordinates as flat arrays, vectorised over every ring and edge: no geometry
    objects are made for parts or rings.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
        Any geometries; only Polygons and MultiPolygons can be degenerate.
    tol : float, default :data:`MIN_WIDTH_M`
        Width (m, in the geometries' CRS) below which a ring or spike is degenerate.

    Returns
    -------
    numpy.ndarray of bool
    """
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) > CHUNK:  # every vertex gets a few float arrays: a chunk at a time bounds them (~60 MB)
        return np.concatenate([find_degenerate(geoms[k:k + CHUNK], tol=tol) for k in range(0, len(geoms), CHUNK)])
    out = np.zeros(len(geoms), dtype=bool)
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6]) & ~shapely.is_empty(geoms)
    if not polygonal.any():
        return out
    idx = np.flatnonzero(polygonal)
    coords, ring_offsets, ring_geom = _ragged_rings(geoms[idx])
    edges = _edges(coords, ring_offsets)
    thin = _ring_widths(coords, ring_offsets, edges) < tol
    out[idx[ring_geom[thin]]] = True
    # spikes: a vertex B between edges A→B and B→C (the ring's last edge before its first) with |AC| < tol while
    # both edges are longer than AC
    _start, vector, ring_of = edges
    length = np.hypot(vector[:, 0], vector[:, 1])
    before = np.arange(len(ring_of)) - 1
    first = np.r_[0, np.flatnonzero(np.diff(ring_of)) + 1] if len(ring_of) else np.zeros(0, dtype=np.intp)
    before[first] = np.r_[first[1:], len(ring_of)] - 1
    across = np.hypot(*(vector[before] + vector).T)
    spike = (across < tol) & (np.minimum(length[before], length) > across)
    if spike.any():
        out[idx[ring_geom[ring_of[spike]]]] = True
    return out


def clean_degenerate(geoms: np.ndarray, *, tol: float = MIN_WIDTH_M) -> np.ndarray:
    """Remove degenerate holes, parts and spikes; other geometries are returned unchanged.

    Returns
    -------
    numpy.ndarray
        Same length; a geometry whose every part was degenerate becomes None.
    """
    geoms = np.array(geoms, dtype=object)
    for i in np.flatnonzero(find_degenerate(geoms, tol=tol)):
        kept = [p for p in (_clean_polygon(part, tol) for part in shapely.get_parts(geoms[i])) if p is not None]
        if not kept:
            geoms[i] = None
            continue
        cleaned = kept[0] if len(kept) == 1 else shapely.MultiPolygon(kept)
        if not cleaned.is_valid:
            fixed = shapely.get_parts(shapely.make_valid(cleaned))
            fixed = fixed[np.isin(shapely.get_type_id(fixed), [3, 6])]
            cleaned = shapely.union_all(fixed) if len(fixed) else None
        geoms[i] = cleaned
    return geoms
