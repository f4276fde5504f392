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

CHUNK = 50_000
"""Geometries :func:`find_degenerate` looks at a time."""
MIN_WIDTH_M = 1e-3
"""A ring whose mean width (2·area / perimeter) is below this (m) is degenerate; so is a spike whose two
sides come back to within this distance of each other."""


def _mean_width(rings: np.ndarray) -> np.ndarray:
    polygons = shapely.polygons(rings)
    length = shapely.length(rings)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(length > 0, 2 * shapely.area(polygons) / length, 0.0)


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


def _clean_polygon(polygon, tol: float):
    shell = _clean_ring(polygon.exterior, tol)
    if shell is None or _mean_width(np.array([shapely.linearrings(shell)]))[0] < tol:
        return None
    holes = [h for h in (_clean_ring(r, tol) for r in polygon.interiors) if h is not None]
    holes = [h for h in holes if _mean_width(np.array([shapely.linearrings(h)]))[0] >= tol]
    return shapely.Polygon(shell, holes)


def find_degenerate(geoms: np.ndarray, *, tol: float = MIN_WIDTH_M) -> np.ndarray:
    """Which polygonal geometries hold a degenerate ring (hole or part) or a spike.

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
    parts, part_owner = shapely.get_parts(geoms[idx], return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    thin = _mean_width(rings) < tol
    out[idx[np.unique(part_owner[ring_part[thin]])]] = True
    # spikes: vectorised over every vertex of every ring
    coords, vertex_ring = shapely.get_coordinates(rings, return_index=True)
    starts = np.r_[0, np.flatnonzero(np.diff(vertex_ring)) + 1]
    ends = np.r_[starts[1:], len(coords)]
    # drop each ring's closing vertex, then look at neighbours within the ring
    keep = np.ones(len(coords), dtype=bool)
    keep[ends - 1] = False
    ring_coords, ring_of = coords[keep], vertex_ring[keep]
    first = np.r_[0, np.flatnonzero(np.diff(ring_of)) + 1]
    last = np.r_[first[1:], len(ring_of)] - 1
    prev_pos = np.arange(len(ring_of)) - 1
    next_pos = np.arange(len(ring_of)) + 1
    prev_pos[first] = last
    next_pos[last] = first
    a, b, c = ring_coords[prev_pos], ring_coords, ring_coords[next_pos]
    ac = np.hypot(*(c - a).T)
    spike = (ac < tol) & (np.minimum(np.hypot(*(b - a).T), np.hypot(*(c - b).T)) > ac)
    if spike.any():
        out[idx[np.unique(part_owner[ring_part[np.unique(ring_of[spike])]])]] = True
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
