"""The indexed, vectorised overlay every analysis uses.

All functions work on shapely 2 geometry arrays with a bulk STRtree query and vectorised GEOS calls:
no Python loop over features. Results keep polygonal parts only (an intersection of two parcels that
share only an edge is a line and is dropped).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .degenerate import clean_degenerate, find_degenerate
from .parallel import CORES

logger = logging.getLogger(__name__)

POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
MIN_PIECE_M2 = 1e-6
"""Pieces smaller than this (m²) are floating-point slivers of shared edges, not land."""


def polygonal_parts(geoms: np.ndarray) -> np.ndarray:
    """Keep the polygonal parts of each geometry (None where nothing polygonal is left).

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries

    Returns
    -------
    numpy.ndarray
        Polygons and MultiPolygons unchanged; GeometryCollections reduced to their polygons
        (a MultiPolygon); lines, points and empties → None.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    types = shapely.get_type_id(geoms)
    simple = np.isin(types, [int(t) for t in POLYGONAL]) & ~shapely.is_empty(geoms)
    out[~simple] = None
    mixed = np.flatnonzero(types == int(shapely.GeometryType.GEOMETRYCOLLECTION))
    if mixed.size:
        parts, index = shapely.get_parts(geoms[mixed], return_index=True)
        keep = shapely.get_type_id(parts) == int(shapely.GeometryType.POLYGON)
        if keep.any():
            # shapely wants consecutive output indices: renumber the owners 0..k-1.
            owners, dense = np.unique(index[keep], return_inverse=True)
            out[mixed[owners]] = shapely.multipolygons(parts[keep], indices=dense)
    return out


WORKERS = CORES
"""Threads for the vectorised GEOS calls (shapely releases the GIL while GEOS works)."""
CHUNK_MIN = 20_000
"""Arrays shorter than this are not split across threads (the overhead would not pay)."""


def threaded(func, *arrays: np.ndarray, workers: int | None = None, groups: np.ndarray | None = None) -> np.ndarray:
    """Apply an element-wise vectorised function to ``arrays`` in contiguous chunks on several threads.

    The result is the same as ``func(*arrays)`` element for element (chunks are concatenated in order),
    so the answer never depends on the number of threads.

    GEOS prepared geometries build their indexes lazily and are not thread-safe (libgeos/geos#825): a prepared
    geometry must be used by one thread only. ``groups`` (sorted, one value per element, e.g. the position of
    the prepared geometry of each pair) moves the chunk edges to group starts, so that each group is in one
    chunk; without it no geometry passed may be prepared.
    """
    workers = WORKERS if workers is None else workers
    n = len(arrays[0]) if arrays else 0
    if workers <= 1 or n < CHUNK_MIN:
        return func(*arrays)
    edges = np.linspace(0, n, workers + 1).astype(int)
    if groups is not None:  # each edge back to the start of its group: no group in two chunks
        inner = np.searchsorted(groups, groups[edges[1:-1]], side="left")
        edges = np.unique(np.r_[0, inner, n])
        workers = len(edges) - 1
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(lambda k: func(*(a[edges[k]:edges[k + 1]] for a in arrays)), range(workers)))
    return np.concatenate(parts)


def query_threaded(tree: shapely.STRtree, geoms: np.ndarray, *, workers: int | None = None,
                   **query) -> tuple[np.ndarray, np.ndarray]:
    """``tree.query(geoms, **query)`` with the input in contiguous chunks on several threads.

    The same pairs in the same order as one call (each chunk's input positions shifted back); an input geometry is
    in one chunk only, so a predicate's prepared input is used by one thread.

    Returns
    -------
    (numpy.ndarray of int, numpy.ndarray of int)
        Input positions and tree positions of the pairs.
    """
    geoms = np.asarray(geoms, dtype=object)
    workers = WORKERS if workers is None else workers
    if workers <= 1 or len(geoms) < CHUNK_MIN:
        return tree.query(geoms, **query)
    edges = np.linspace(0, len(geoms), workers + 1).astype(int)

    def chunk(k: int) -> np.ndarray:
        pairs = tree.query(geoms[edges[k]:edges[k + 1]], **query)
        pairs[0] += edges[k]
        return pairs

    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(chunk, range(workers)))
    pairs = np.concatenate(parts, axis=1)
    return pairs[0], pairs[1]


def union_runs(geoms: np.ndarray, starts: np.ndarray, *, workers: int | None = None) -> np.ndarray:
    """The union of each run of consecutive geometries, runs on several threads.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
        Grouped: the members of a run side by side.
    starts : numpy.ndarray of int
        Where each run starts (ascending, the first 0); the last run ends at ``len(geoms)``.
    workers : int, optional
        Threads (default :data:`WORKERS`).

    Returns
    -------
    numpy.ndarray of shapely geometries
        One per run: ``shapely.union_all`` of its members in their order (the same geometry whatever the
        number of threads).
    """
    geoms = np.asarray(geoms, dtype=object)
    ends = np.r_[starts[1:], len(geoms)].astype(int)
    starts = np.asarray(starts, dtype=int)
    out = np.empty(len(starts), dtype=object)

    def unite(first: int, stop: int) -> None:  # runs first…stop-1, each its own slot of ``out``
        for k in range(first, stop):
            out[k] = shapely.union_all(geoms[starts[k]:ends[k]])

    workers = WORKERS if workers is None else workers
    if workers <= 1 or len(starts) < 2:
        unite(0, len(starts))
        return out
    # chunks of runs holding about the same number of geometries
    edges = np.unique(np.r_[0, np.searchsorted(starts, np.linspace(0, len(geoms), workers + 1)[1:-1]), len(starts)])
    with ThreadPoolExecutor(max_workers=len(edges) - 1) as pool:
        list(pool.map(unite, edges[:-1], edges[1:]))
    return out


SYMMETRIC_PREDICATES = ("intersects", "overlaps", "touches", "crosses")
"""Predicates for which ``a pred b`` is ``b pred a``: a pair search may start from either side."""


def intersect_pairs(left: np.ndarray, right: np.ndarray, *, predicate: str = "intersects",
                    min_area: float = MIN_PIECE_M2, search_from: str = "left"):
    """Intersect every left geometry with every right geometry it overlaps.

    Parameters
    ----------
    left, right : numpy.ndarray of shapely geometries
        Polygonal geometries in the same projected CRS.
    predicate : str, default "intersects"
        STRtree predicate used to find candidate pairs.
    min_area : float
        Pieces with a smaller area (m²) are dropped as slivers.
    search_from : {"left", "right"}
        The side whose geometries are prepared to find the pairs (the other is indexed). ``right`` where the
        right geometries are few and large (counties, townships) and the left ones many and small (parcels):
        each zone is prepared once instead of every parcel testing the whole zone outline (at 1M parcels
        ×14 counties: 4 s → under 1 s). Pairs are then ordered by left position, then right position;
        ``predicate`` must be one of :data:`SYMMETRIC_PREDICATES`.

    Returns
    -------
    left_index, right_index : numpy.ndarray of int
        Positions of each pair in ``left`` and ``right`` (grouped by left position, as STRtree.query gives them).
    pieces : numpy.ndarray of shapely geometries
        The polygonal intersection of each pair.

    Notes
    -----
    Two surveys of the same land are mostly the same parcels: nearly every candidate pair is a parcel
    and itself (the right one covers the left: the piece is the left geometry, nothing computed) or a
    parcel and a neighbour that only shares its edges (``touches``: no piece, nothing computed); a large left
    geometry (a village, a dissolved zone) covering a right parcel gives that parcel whole. Only the few
    pairs whose interiors overlap otherwise go through GEOS intersection — on 200k parcels about 1 % of
    the candidates. The GEOS calls run on several threads.

    Area is conserved: where GEOS returns only lines (or fails) for a pair whose interiors overlap and
    one of which holds degenerate parts — a hole of 1e-7 m² along the other polygon's edge makes it
    lose the whole pair — the pair is recomputed without the degenerate parts
    (:func:`kmrv_geo.degenerate.clean_degenerate`), else on a 1e-6 m precision grid, and recorded
    (:func:`recording_recomputes`). Pairs without degenerate parts that give no area are float slivers
    of a shared edge and stay dropped.
    """
    left = np.asarray(left, dtype=object)
    right = np.asarray(right, dtype=object)
    empty = np.zeros(0, dtype=np.intp)
    if len(left) == 0 or len(right) == 0:
        return empty, empty, np.zeros(0, dtype=object)
    if search_from == "right":
        if predicate not in SYMMETRIC_PREDICATES:
            raise ValueError(f"a pair search from the right needs a symmetric predicate, not {predicate!r}")
        ri, li = query_threaded(shapely.STRtree(left), right, predicate=predicate)
        by_left = np.lexsort((ri, li))
        li, ri = li[by_left], ri[by_left]
    elif search_from == "left":
        li, ri = query_threaded(shapely.STRtree(right), left, predicate=predicate)
    else:
        raise ValueError(f"search_from must be 'left' or 'right', not {search_from!r}")
    if li.size == 0:
        return empty, empty, np.zeros(0, dtype=object)
    # The right geometries are prepared for the predicates; a prepared geometry is not thread-safe
    # (libgeos/geos#825), so the pairs are taken in right order and each right geometry's pairs go to one thread
    # (a parcel in pairs of two threads crashed 1 run in 2 at 200k parcels); results return to query order.
    shapely.prepare(right)
    order = np.argsort(ri, kind="stable")
    a, b, groups = left[li[order]], right[ri[order]], ri[order]
    covered = threaded(shapely.covers, b, a, groups=groups)
    pieces = np.empty(li.size, dtype=object)
    pieces[covered] = a[covered]
    todo = np.flatnonzero(~covered)
    shapely.destroy_prepared(right)
    if todo.size:
        # the other way round: a large left geometry (a dissolved zone, a village) covering a right one (a
        # parcel) gives the right one whole; the left ones are prepared, their pairs grouped by left position.
        # Before the touches test: a prepared covers is cheap, a touches test against a large zone is not.
        by_left = todo[np.argsort(li[order][todo], kind="stable")]
        owners = left[np.unique(li[order][by_left])]
        shapely.prepare(owners)
        inside = threaded(shapely.covers, a[by_left], b[by_left], groups=li[order][by_left])
        shapely.destroy_prepared(owners)
        pieces[by_left[inside]] = b[by_left[inside]]
        todo = np.sort(by_left[~inside])
    if todo.size:
        shapely.prepare(right)
        meets = threaded(shapely.touches, b[todo], a[todo], groups=groups[todo])
        shapely.destroy_prepared(right)  # intersection does not use it; the geometries go back as they came
        todo = todo[~meets]
    if todo.size:
        pieces[todo] = _robust_intersection(a[todo], b[todo], min_area)
    in_query_order = np.empty(li.size, dtype=object)
    in_query_order[order] = pieces
    area = threaded(shapely.area, in_query_order)
    keep = ~shapely.is_missing(in_query_order) & (np.nan_to_num(area) > min_area)
    return li[keep], ri[keep], in_query_order[keep]


def _match_keys(left_keys: np.ndarray, right_keys: np.ndarray) -> np.ndarray:
    """For each left key, the position of the first equal right key (−1: none); ``None`` keys never match."""
    found = np.full(len(left_keys), -1, dtype=np.intp)
    lk, rk = pd.Series(left_keys, dtype=object), pd.Series(right_keys, dtype=object)
    right_ok = rk.notna().to_numpy()
    left_ok = lk.notna().to_numpy()
    if not right_ok.any() or not left_ok.any():
        return found
    positions = np.flatnonzero(right_ok)
    unique = ~rk[right_ok].duplicated(keep="first").to_numpy()
    index = pd.Index(rk[right_ok].to_numpy()[unique])
    hit = index.get_indexer(lk[left_ok].to_numpy())
    found[left_ok] = np.where(hit >= 0, positions[unique][np.maximum(hit, 0)], -1)
    return found


def _normalised_wkb(geoms: np.ndarray) -> np.ndarray:
    """WKB of each geometry's normalised form (:func:`shapely.normalize`); ``None`` for missing and empty ones."""
    ok = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    out = np.full(len(geoms), None, dtype=object)
    if ok.any():
        out[ok] = threaded(shapely.to_wkb, shapely.normalize(geoms[ok]))
    return out


_HASH_MULTIPLIERS = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9], dtype=np.uint64)


def _coordinate_hashes(geoms: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each geometry's type and coordinates in their stored order (bits of the floats).

    Equal geometries (:func:`shapely.equals_identical`) have equal hashes; unequal ones almost never do — a
    match is only a candidate, confirmed exactly by the caller. Computed on the coordinate arrays with numpy
    (no per-geometry Python objects): about ten times cheaper than WKB bytes hashed by pandas.
    """
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    bits = np.ascontiguousarray(coords).view(np.uint64)
    counts = np.bincount(owner, minlength=len(geoms))
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    position = (np.arange(len(owner), dtype=np.uint64) - starts[owner].astype(np.uint64)) + np.uint64(1)
    with np.errstate(over="ignore"):
        x, y, k = _HASH_MULTIPLIERS
        mixed = bits[:, 0] * x ^ (bits[:, 1] * y) ^ (position * k)
        mixed ^= mixed >> np.uint64(31)
        mixed *= x
        mixed ^= mixed >> np.uint64(29)
        summed = np.zeros(len(geoms), dtype=np.uint64)
        present = counts > 0  # each geometry's coordinates are one run of ``mixed``
        if present.any():
            summed[present] = np.add.reduceat(mixed, starts[present])
        kind = shapely.get_type_id(geoms).astype(np.int64).astype(np.uint64)
        return summed ^ (counts.astype(np.uint64) * y) ^ (kind * k)


def _match_as_stored(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """For each left geometry, the first right geometry equal to it coordinate for coordinate in stored order
    (−1: none; missing and empty geometries never match): candidates by :func:`_coordinate_hashes`, confirmed
    by :func:`shapely.equals_identical` (same type, structure and coordinates — what equal WKB means).
    """
    found = np.full(len(left), -1, dtype=np.intp)
    left_ok = np.flatnonzero(~shapely.is_missing(left) & ~shapely.is_empty(left))
    right_ok = np.flatnonzero(~shapely.is_missing(right) & ~shapely.is_empty(right))
    if not left_ok.size or not right_ok.size:
        return found
    right_keys = pd.Series(_coordinate_hashes(right[right_ok]))
    first = ~right_keys.duplicated(keep="first").to_numpy()
    hit = pd.Index(right_keys.to_numpy()[first]).get_indexer(_coordinate_hashes(left[left_ok]))
    candidate = hit >= 0
    at_left, at_right = left_ok[candidate], right_ok[first][hit[candidate]]
    same = threaded(shapely.equals_identical, left[at_left], right[at_right])
    found[at_left[same]] = at_right[same]
    return found


def identical_twins(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The identical twin in ``right`` of each ``left`` geometry: the same shape, compared exactly.

    Geometries are compared first as they are stored (two surveys of the same land mostly store an unchanged
    parcel bit for bit: type, structure and every coordinate equal, :func:`_match_as_stored`) and then, for
    the rest, by the WKB of their normalised form (ring start and orientation, part and hole order) — exact,
    no tolerance.

    Parameters
    ----------
    left, right : numpy.ndarray of shapely geometries

    Returns
    -------
    numpy.ndarray of int, shape (len(left),)
        Position in ``right`` of each left geometry's twin, −1 where it has none. Each left geometry has
        at most one twin (the first of equal right ones); missing and empty geometries have none.
    """
    left = np.asarray(left, dtype=object)
    right = np.asarray(right, dtype=object)
    twin = _match_as_stored(left, right)
    rest_l = np.flatnonzero(twin < 0)
    unmatched_right = np.ones(len(right), dtype=bool)
    unmatched_right[twin[twin >= 0]] = False  # (np.setdiff1d hashes: ten times slower on a million)
    rest_r = np.flatnonzero(unmatched_right)
    if rest_l.size and rest_r.size:
        found = _match_keys(_normalised_wkb(left[rest_l]), _normalised_wkb(right[rest_r]))
        twin[rest_l[found >= 0]] = rest_r[found[found >= 0]]
    return twin


def inverse_twins(twin: np.ndarray, n_right: int) -> np.ndarray:
    """The twins the other way round: for each right geometry, its identical left one (−1: none).

    Parameters
    ----------
    twin : numpy.ndarray of int
        :func:`identical_twins` ``(left, right)``.
    n_right : int
        Number of right geometries.

    Returns
    -------
    numpy.ndarray of int, shape (n_right,)
        Where several left geometries have the same twin (copies of one shape), the first of them.
    """
    matched = np.flatnonzero(twin >= 0)
    out = np.full(n_right, len(twin), dtype=np.intp)
    np.minimum.at(out, twin[matched], matched)
    out[out == len(twin)] = -1
    return out


def identical_pairs(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of geometries that are the same shape (:func:`identical_twins`), as two position arrays.

    Returns
    -------
    left_index, right_index : numpy.ndarray of int
        Each left geometry matched to at most one right geometry, in left order.
    """
    twin = identical_twins(left, right)
    matched = np.flatnonzero(twin >= 0)
    return matched, twin[matched]


def intersect_partitions(left: np.ndarray, right: np.ndarray, *, min_area: float = MIN_PIECE_M2,
                         left_twin: np.ndarray | None = None, right_twinned: np.ndarray | None = None):
    """:func:`intersect_pairs` for two layers that each cover land once (no overlaps within a layer), with
    identical parcels matched first.

    Two surveys of the same land keep most parcels unchanged: a parcel of ``left`` identical to one of
    ``right`` (:func:`identical_twins`) is its own piece, and since neither layer overlaps itself no other
    parcel of the other layer shares area with either of the two — so only the remaining parcels go
    through the spatial index and GEOS. The pieces are the same as :func:`intersect_pairs` gives (an
    identical pair's intersection is the left geometry itself); the land-use checks at load refuse
    self-overlapping layers, which this relies on.

    Parameters
    ----------
    left, right : numpy.ndarray of shapely geometries
    min_area : float
        Pieces with a smaller area (m²) are dropped as slivers.
    left_twin : numpy.ndarray of int, optional
        Position in ``right`` of each left geometry's identical twin (−1: none) when the caller matched
        whole layers once and passes subsets; default computed here.
    right_twinned : numpy.ndarray of bool, optional
        Right geometries that have an identical twin anywhere in the left geometries' whole layer (they
        share area with nothing else); default: those that are some left geometry's twin.

    Returns
    -------
    left_index, right_index, pieces
        As :func:`intersect_pairs`, the identical pairs first.
    """
    left = np.asarray(left, dtype=object)
    right = np.asarray(right, dtype=object)
    twin = identical_twins(left, right) if left_twin is None else np.asarray(left_twin, dtype=np.intp)
    if right_twinned is None:
        right_twinned = np.zeros(len(right), dtype=bool)
        right_twinned[twin[twin >= 0]] = True
    same_l = np.flatnonzero(twin >= 0)
    same_r = twin[same_l]
    rest_l = np.flatnonzero(twin < 0)
    rest_r = np.flatnonzero(~np.asarray(right_twinned, dtype=bool))
    li, ri, pieces = intersect_pairs(left[rest_l], right[rest_r], min_area=min_area)
    keep = np.nan_to_num(shapely.area(left[same_l])) > min_area if same_l.size else np.zeros(0, dtype=bool)
    return (np.concatenate([same_l[keep], rest_l[li]]), np.concatenate([same_r[keep], rest_r[ri]]),
            np.concatenate([left[same_l][keep], pieces]))


_RECOMPUTED: contextvars.ContextVar[list | None] = contextvars.ContextVar("kmrv_overlay_recomputed", default=None)
ROBUST_GRID_M = 1e-6
"""Precision grid (m) of the last-resort recomputation of a pair GEOS could not intersect."""


@contextmanager
def recording_recomputes() -> Iterator[list[dict]]:
    """Collect the overlay pairs recomputed robustly while the block runs.

    Yields
    ------
    list of dict
        One record per recomputed pair: ``operation``, ``area_before_m2`` (what GEOS gave),
        ``area_after_m2``, ``method`` (``degenerate parts removed`` or ``precision grid``) and ``x``/``y``
        of a point inside the piece (analysis CRS).
    """
    records: list[dict] = []
    token = _RECOMPUTED.set(records)
    try:
        yield records
    finally:
        _RECOMPUTED.reset(token)


def _record(operation: str, before: float, after, method: str) -> None:
    point = shapely.point_on_surface(after) if after is not None and not after.is_empty else None
    record = {"operation": operation, "area_before_m2": float(before),
              "area_after_m2": float(after.area) if after is not None else 0.0, "method": method,
              "x": point.x if point is not None else np.nan, "y": point.y if point is not None else np.nan}
    logger.warning("overlay %s recomputed robustly (%s): %.6f m² → %.6f m² at (%.2f, %.2f)", operation, method,
                   record["area_before_m2"], record["area_after_m2"], record["x"], record["y"])
    records = _RECOMPUTED.get()
    if records is not None:
        records.append(record)


def _robust_one(a, b, operation: str, *, cleaned: tuple | None = None):
    """``a ∩ b`` (or ``a − b``) without degenerate parts, else on a precision grid.

    ``cleaned``: ``a`` and ``b`` already without their degenerate parts (:func:`_cleaned_once`).
    """
    func = shapely.intersection if operation == "intersection" else shapely.difference
    pair = cleaned if cleaned is not None else clean_degenerate(np.array([a, b], dtype=object))
    x, y = (g if g is not None else shapely.Polygon() for g in pair)
    for method, args in (("degenerate parts removed", {}), ("precision grid", {"grid_size": ROBUST_GRID_M})):
        try:
            result = polygonal_parts(np.array([func(x, y, **args)], dtype=object))[0]
        except shapely.errors.GEOSException:
            continue
        # an intersection that still has no area is tried on the grid; a difference may be empty
        if result is not None and (operation == "difference" or result.area > MIN_PIECE_M2):
            return result, method
    return None, "failed"


def _once_per_object(func, geoms: np.ndarray) -> np.ndarray:
    """``func(geoms)`` (element-wise) computed for each distinct geometry object once: a parcel or a dissolved
    zone recurs in many pairs.
    """
    ids = np.fromiter((id(g) for g in geoms), dtype=np.int64, count=len(geoms))
    _unique, first, back = np.unique(ids, return_index=True, return_inverse=True)
    return func(geoms[first])[back]


def _degenerate_once(geoms: np.ndarray) -> np.ndarray:
    """:func:`find_degenerate` of each distinct geometry object once."""
    return _once_per_object(find_degenerate, geoms)


def _cleaned_once(geoms: np.ndarray) -> np.ndarray:
    """:func:`clean_degenerate` of each distinct geometry object once."""
    return _once_per_object(clean_degenerate, geoms)


def _robust_intersection(a: np.ndarray, b: np.ndarray, min_area: float) -> np.ndarray:
    """Polygonal ``a ∩ b`` of pairs whose interiors overlap; pairs that lose their area are recomputed."""
    try:
        pieces = polygonal_parts(threaded(shapely.intersection, a, b))
    except shapely.errors.GEOSException:  # one bad pair fails the whole vectorised call
        pieces = np.empty(len(a), dtype=object)
        for k in range(len(a)):
            try:
                pieces[k] = polygonal_parts(np.array([shapely.intersection(a[k], b[k])], dtype=object))[0]
            except shapely.errors.GEOSException:
                pieces[k], method = _robust_one(a[k], b[k], "intersection")
                _record("intersection", 0.0, pieces[k], method)
    lost = np.flatnonzero(np.nan_to_num(shapely.area(pieces)) <= min_area)
    # Neighbours that share an edge often overlap by a float sliver (no area either): only pairs where a
    # polygon has degenerate parts can have lost real area, so only they are recomputed.
    if lost.size:
        lost = lost[_degenerate_once(a[lost]) | _degenerate_once(b[lost])]
    clean_a, clean_b = (_cleaned_once(a[lost]), _cleaned_once(b[lost])) if lost.size else ((), ())
    for k, x, y in zip(lost, clean_a, clean_b, strict=True):  # interiors overlap, yet no area: GEOS lost it
        result, method = _robust_one(a[k], b[k], "intersection", cleaned=(x, y))
        if result is not None and result.area > min_area:
            _record("intersection", 0.0 if pieces[k] is None else pieces[k].area, result, method)
            pieces[k] = result
    return pieces


def difference_from(geoms: np.ndarray, cutters: np.ndarray, *, pairs: tuple | None = None) -> np.ndarray:
    """Each geometry minus the union of the cutters it overlaps (polygonal parts; None if nothing left).

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
    cutters : numpy.ndarray of shapely geometries
        Non-overlapping polygons (e.g. parcels of one layer, dissolved zones).
    pairs : tuple, optional
        ``intersect_pairs(geoms, cutters)`` when the caller already has it (not computed again).

    Returns
    -------
    numpy.ndarray
        Same length as ``geoms``.

    Notes
    -----
    Area is conserved: for every geometry, area(rest) + Σ area(geometry ∩ cutter) must equal its area
    (within 1e-9 relative, or 1e-6 m²); where GEOS breaks that on near-degenerate input, the
    difference is recomputed robustly and recorded (see :func:`intersect_pairs`).
    """
    geoms = np.asarray(geoms, dtype=object)
    cutters = np.asarray(cutters, dtype=object)
    out = np.array(geoms, dtype=object)
    gi, ci, inside = intersect_pairs(geoms, cutters) if pairs is None else pairs
    if gi.size:
        order = np.argsort(gi, kind="stable")
        gi, ci, inside = gi[order], ci[order], inside[order]
        # a geometry lying inside one cutter (intersect_pairs gave the geometry itself as that pair's piece) has
        # nothing left: no union, no difference (unchanged parcels of two dates, PBF inside HSF)
        inside_one = np.fromiter((piece is geom for piece, geom in zip(inside, geoms[gi], strict=True)), dtype=bool,
                                 count=gi.size)
        gone = np.unique(gi[inside_one])
        out[gone] = None
        rest = ~np.isin(gi, gone)
        gi_rest, ci_rest = gi[rest], ci[rest]
        if gi_rest.size:
            starts = np.flatnonzero(np.r_[True, gi_rest[1:] != gi_rest[:-1]])
            owners = gi_rest[starts]
            out[owners] = threaded(shapely.difference, geoms[owners], union_runs(cutters[ci_rest], starts))
    out = polygonal_parts(out)
    keep = ~shapely.is_missing(out)
    out[keep] = np.where(np.nan_to_num(shapely.area(out[keep])) > MIN_PIECE_M2, out[keep], None)
    if gi.size:
        inside_m2 = np.zeros(len(geoms))
        np.add.at(inside_m2, gi, shapely.area(inside))
        total = shapely.area(geoms)
        gap = np.abs(total - inside_m2 - np.nan_to_num(shapely.area(out)))
        for k in np.flatnonzero(gap > np.maximum(1e-6, 1e-9 * total)):
            cut = shapely.union_all(cutters[ci[gi == k]])
            result, method = _robust_one(geoms[k], cut, "difference")
            before = 0.0 if out[k] is None else out[k].area
            out[k] = result if result is not None and result.area > MIN_PIECE_M2 else None
            _record("difference", before, out[k], method)
    return out


def dissolve_zones(zones: np.ndarray) -> np.ndarray:
    """Make possibly overlapping zones (e.g. approvals) non-overlapping polygons with the same union.

    Only zones (parts of zones) that overlap another one are unioned (group by group); the others are kept as
    they are.
    PBF or approval layers are mostly free of overlaps, so this costs an indexed self-overlay instead of
    a union of the whole layer (on the 200k-parcel sample's PBF: 1 s instead of 3 s).
    """
    zones = np.asarray(zones, dtype=object)
    zones = zones[~shapely.is_missing(zones) & ~shapely.is_empty(zones)]
    if zones.size == 0:
        return zones
    # part by part: parts of neighbouring multipolygons mostly just touch, where the whole multipolygons (a
    # village plan's 17 parts) overlay slowly; the parts of one valid multipolygon never overlap
    zones = shapely.get_parts(zones)
    li, ri, _pieces = intersect_pairs(zones, zones)
    overlapping = li < ri
    li, ri = li[overlapping], ri[overlapping]
    groups = connected_components(len(zones), li, ri)
    shared = np.zeros(len(zones), dtype=bool)
    shared[li] = shared[ri] = True
    members = np.flatnonzero(shared)  # only the few groups of overlapping zones, united group by group
    members = members[np.argsort(groups[members], kind="stable")]
    labels = groups[members]
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]]) if members.size else np.zeros(0, dtype=int)
    parts = shapely.get_parts(np.concatenate([zones[~shared], union_runs(zones[members], starts)]))
    return parts[shapely.get_type_id(parts) == int(shapely.GeometryType.POLYGON)]


def zones_of(layer) -> np.ndarray | None:
    """Non-overlapping zone geometries of a layer: an array is taken as already dissolved (e.g. from
    :meth:`kmrv_geo.project.Project.dissolved`, computed once per run); a GeoDataFrame is dissolved
    (:func:`dissolve_zones`); ``None`` stays ``None``.
    """
    if layer is None:
        return None
    if isinstance(layer, np.ndarray):
        return layer
    return dissolve_zones(np.asarray(layer.geometry.values, dtype=object))


def merge_contiguous(geoms: np.ndarray) -> np.ndarray:
    """Merge polygons that overlap or share an edge into one polygon per contiguous block.

    Polygons that meet only at a point stay apart (as a union would leave them: separate parts).

    Returns
    -------
    numpy.ndarray
        Polygons, one per contiguous block (blocks that were already single polygons unchanged).
    """
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)]
    if geoms.size == 0:
        return geoms
    i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pair = i < j
    i, j = i[pair], j[pair]
    if i.size:
        # DE-9IM: interiors meet (overlap), or boundaries meet along a line (a shared edge).
        codes = shapely.relate(geoms[i], geoms[j]).astype("U9").view("U1").reshape(-1, 9)
        joined = (codes[:, 0] != "F") | (codes[:, 4] == "1")
        i, j = i[joined], j[joined]
    groups = connected_components(len(geoms), i, j)
    single = np.bincount(groups, minlength=len(geoms))[groups] == 1
    out = [geoms[single]]
    for label in np.unique(groups[~single]):
        out.append(np.array([shapely.union_all(geoms[groups == label])], dtype=object))
    parts = shapely.get_parts(np.concatenate(out))
    return parts[shapely.get_type_id(parts) == int(shapely.GeometryType.POLYGON)]


def _measured(pieces: np.ndarray, measure) -> np.ndarray:
    """Areas (m²) of pieces: ``measure.m2`` (an :class:`~kmrv_geo.units.AreaMeasure`) or planar."""
    return measure.m2(pieces) if measure is not None else shapely.area(pieces)


def area_inside(geoms: np.ndarray, zones: np.ndarray, *, dissolved: bool = False, measure=None) -> np.ndarray:
    """Area (m²) of each geometry that lies inside the union of ``zones``; overlapping zones count once.

    Parameters
    ----------
    geoms : numpy.ndarray of shapely geometries
    zones : numpy.ndarray of shapely geometries
        E.g. approvals or PBF parcels.
    dissolved : bool, default False
        Whether ``zones`` are already non-overlapping (skips the union).
    measure : AreaMeasure, optional
        How to measure the pieces (default planar in the geometries' CRS).

    Returns
    -------
    numpy.ndarray
        One area per geometry (0 where none of it is inside): the area of the geometry ∩ zones.
    """
    geoms = np.asarray(geoms, dtype=object)
    zones = np.asarray(zones, dtype=object) if dissolved else dissolve_zones(zones)
    result = np.zeros(len(geoms))
    li, _ri, pieces = intersect_pairs(geoms, zones)
    if li.size:
        np.add.at(result, li, _measured(pieces, measure))
    return result


def outside_of(geoms: np.ndarray, zones: np.ndarray) -> np.ndarray:
    """Each geometry minus every zone: ``geom − ∪ zones``, with only the zones it meets.

    The zones each geometry intersects are united (one zone: none to unite) and taken away; a geometry that
    meets no zone comes back as it is. Uniting a whole zone layer (a county's PBF) once per call and cutting
    every geometry by it took seconds where these unions take milliseconds.

    Parameters
    ----------
    geoms, zones : numpy.ndarray of shapely geometries
        Polygonal geometries in the same projected CRS.

    Returns
    -------
    numpy.ndarray of shapely geometries
        Same length as ``geoms`` (GEOS's difference: may be empty or a collection).
    """
    geoms = np.asarray(geoms, dtype=object)
    zones = np.asarray(zones, dtype=object)
    out = geoms.copy()
    if not len(geoms) or not len(zones):
        return out
    gi, zi = shapely.STRtree(zones).query(geoms, predicate="intersects")
    if not gi.size:
        return out
    order = np.lexsort((zi, gi))
    gi, zi = gi[order], zi[order]
    hit, first, count = np.unique(gi, return_index=True, return_counts=True)
    single = count == 1
    if single.any():
        out[hit[single]] = shapely.difference(geoms[hit[single]], zones[zi[first[single]]])
    for g, start, n in zip(hit[~single], first[~single], count[~single], strict=True):
        out[g] = shapely.difference(geoms[g], shapely.union_all(zones[zi[start:start + n]]))
    return out


def split_by_zones(frame: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, columns: list[str], *,
                   outside: dict | None = None, search_from: str = "left") -> gpd.GeoDataFrame:
    """Cut each feature at zone boundaries and give each piece the attributes of its zone.

    Pieces outside every zone are kept with the ``outside`` values, so piece areas always add up to
    the feature's area (nothing is lost at a boundary or outside the zones).

    Parameters
    ----------
    frame : GeoDataFrame
        Features to cut (projected CRS); all its columns are carried to the pieces.
    zones : GeoDataFrame
        Non-overlapping zones (counties, townships, villages) in the same CRS.
    columns : list of str
        Zone columns copied to the pieces.
    outside : dict, optional
        Values for pieces outside every zone (default: missing values).
    search_from : {"left", "right"}
        ``right`` where the zones are few and large (villages) and the features many (parcels)
        (:func:`intersect_pairs`).

    Returns
    -------
    GeoDataFrame
        One row per piece, with the frame's columns plus ``columns`` and ``_src`` (the frame position
        of the feature the piece came from), ordered by ``_src``.
    """
    outside = outside or {}
    geoms = np.asarray(frame.geometry.values, dtype=object)
    zone_geoms = np.asarray(zones.geometry.values, dtype=object)
    li, ri, pieces = intersect_pairs(geoms, zone_geoms, search_from=search_from)
    inside = pd.DataFrame({"_src": li, **{c: zones[c].to_numpy()[ri] for c in columns}})
    inside_geoms = list(pieces)
    # the remainder of each feature outside every zone
    covered = np.zeros(len(geoms))
    np.add.at(covered, li, shapely.area(pieces))
    total = shapely.area(geoms)
    leftover = np.flatnonzero(total - covered > np.maximum(MIN_PIECE_M2, total * 1e-12))
    out_rows, out_geoms = [], []
    if leftover.size:
        rest = polygonal_parts(outside_of(geoms[leftover], zone_geoms))
        ok = ~shapely.is_missing(rest) & (np.nan_to_num(shapely.area(rest)) > MIN_PIECE_M2)
        out_rows = pd.DataFrame({"_src": leftover[ok], **{c: outside.get(c) for c in columns}})
        out_geoms = list(rest[ok])
    pieces_table = pd.concat([inside, out_rows], ignore_index=True) if len(out_geoms) else inside
    attrs = frame.drop(columns=frame.geometry.name).reset_index(drop=True)
    result = pieces_table.join(attrs, on="_src")
    result = gpd.GeoDataFrame(result, geometry=inside_geoms + out_geoms, crs=frame.crs)
    return result.sort_values("_src", kind="stable").reset_index(drop=True)


def connected_components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Label the connected components of a graph of ``n`` nodes with edges ``(i[k], j[k])``.

    Vectorised label propagation with pointer jumping (no Python loop over nodes or edges).

    Returns
    -------
    numpy.ndarray of int
        For each node, the smallest node index of its component.
    """
    labels = np.arange(n)
    i = np.asarray(i, dtype=np.intp)
    j = np.asarray(j, dtype=np.intp)
    while True:
        smaller = np.minimum(labels[i], labels[j])
        before = labels.copy()
        np.minimum.at(labels, i, smaller)
        np.minimum.at(labels, j, smaller)
        labels = labels[labels]
        labels = labels[labels]
        if np.array_equal(labels, before):
            return labels


def area_by_zone(geoms: np.ndarray, zones: np.ndarray, *, measure=None,
                 weights: np.ndarray | None = None) -> np.ndarray:
    """Area (m²) of ``geoms`` inside each zone; ``geoms`` must not overlap each other (dissolve first).

    Parameters
    ----------
    geoms, zones : numpy.ndarray of shapely geometries
    measure : AreaMeasure, optional
        How to measure the pieces (default planar).
    weights : numpy.ndarray, optional
        A factor per geometry applied to its pieces (e.g. 1 − 田坎 share for net farmland).

    Returns
    -------
    numpy.ndarray
        Σ area(geom ∩ zone) × weight, one value per zone.
    """
    return areas_by_zone(geoms, zones, measure=measure, weights=[weights])[0]


def areas_by_zone(geoms: np.ndarray, zones: np.ndarray, *, measure=None,
                  weights: list[np.ndarray | None]) -> list[np.ndarray]:
    """:func:`area_by_zone` for several weightings of the same geometries, overlaid and measured once.

    Parameters
    ----------
    geoms, zones : numpy.ndarray of shapely geometries
    measure : AreaMeasure, optional
    weights : list of (numpy.ndarray or None)
        One weighting per result (``None``: gross area).

    Returns
    -------
    list of numpy.ndarray
        One array per weighting, one value per zone.
    """
    results = [np.zeros(len(zones)) for _ in weights]
    # zones on the prepared side: each finds the geometries it meets, and most lie inside one zone (a fast
    # prepared covers)
    gi, zi, pieces = intersect_pairs(np.asarray(geoms, dtype=object), np.asarray(zones, dtype=object),
                                     search_from="right")
    if zi.size:
        area = _measured(pieces, measure)
        for result, weight in zip(results, weights, strict=True):
            np.add.at(result, zi, area if weight is None else area * np.asarray(weight, dtype=float)[gi])
    return results


def label_by_zone(frame: gpd.GeoDataFrame, zones: gpd.GeoDataFrame | None, columns: list[str]) -> gpd.GeoDataFrame:
    """Give each feature the attributes (``columns``) of the zone holding its representative point ( if none).

    Whole features are labelled, not split: for lists of parcels or sites, where one row per feature
    is wanted. Use :func:`split_by_zones` where areas must add up per zone.
    """
    for c in columns:
        frame[c] = ""
    if zones is None or zones.empty or frame.empty:
        return frame
    points = shapely.point_on_surface(np.asarray(frame.geometry.values, dtype=object))
    fi, zi = shapely.STRtree(np.asarray(zones.geometry.values, dtype=object)).query(points, predicate="within")
    first = np.unique(fi, return_index=True)[1]
    for c in columns:
        values = frame[c].to_numpy(dtype=object)
        values[fi[first]] = zones[c].to_numpy()[zi[first]]
        frame[c] = values
    return frame
