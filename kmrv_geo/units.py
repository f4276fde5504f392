"""Units and areas: m², 亩 (mu) and hectares; planar and ellipsoidal (CGCS2000/GRS80) polygon areas.

1 亩 = 10000/15 m² exactly; 1 ha = 15 亩. Full precision is kept everywhere; round only for display.

Planar areas are measured in the analysis CRS (a Gauss-Kruger projection: about +0.013 % too large at
102.7°E and +0.065 % at 103.6°E in the 102°E zone). Ellipsoidal areas, as 三调 reports them, are measured
on the GRS80 ellipsoid (CGCS2000 uses GRS80's axes) by projecting onto a Lambert azimuthal equal-area
plane centred on the data: that projection preserves ellipsoidal area exactly, and for parcel-sized
edges it agrees with ``pyproj.Geod(ellps="GRS80")`` geodesic areas to better than 1e-7 (see tests).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Proj, Transformer

from . import crs as crs_rules
from .parallel import CORES

M2_PER_MU: float = 10000.0 / 15.0
"""Square metres in one 亩 (666.666… m²)."""
M2_PER_HA: float = 10000.0
"""Square metres in one hectare."""
MU_PER_HA: float = 15.0
"""亩 in one hectare."""


def _floats(value) -> np.ndarray:
    """A scalar or array as a float64 array."""
    return np.asarray(value, dtype="float64")


def _out(result: np.ndarray):
    """Return 0-d results as Python floats, arrays unchanged."""
    return float(result) if result.ndim == 0 else result


def m2_to_mu(area_m2):
    """Convert square metres to 亩 (scalar or array), at full precision."""
    return _out(_floats(area_m2) / M2_PER_MU)


def mu_to_m2(area_mu):
    """Convert 亩 to square metres (scalar or array)."""
    return _out(_floats(area_mu) * M2_PER_MU)


def m2_to_ha(area_m2):
    """Convert square metres to hectares (scalar or array)."""
    return _out(_floats(area_m2) / M2_PER_HA)


def ha_to_mu(area_ha):
    """Convert hectares to 亩 (scalar or array)."""
    return _out(_floats(area_ha) * MU_PER_HA)


def planar_area_m2(geoseries) -> np.ndarray:
    """Planar area of each geometry in m², in the geoseries' own projected CRS.

    Parameters
    ----------
    geoseries : geopandas.GeoSeries
        Geometries in a projected CRS whose unit is the metre.

    Returns
    -------
    numpy.ndarray
        Area per geometry (0 for empty or missing geometries).

    Raises
    ------
    ValueError
        If the CRS is missing, geographic or not in metres.
    """
    crs = geoseries.crs
    if crs is None or not crs.is_projected:
        raise ValueError(f"planar areas need a projected CRS in metres, got {crs}")
    unit = crs.axis_info[0].unit_name if crs.axis_info else "metre"
    if unit not in ("metre", "meter"):
        raise ValueError(f"planar areas need a CRS in metres, {crs.to_string()} is in {unit}")
    return np.nan_to_num(shapely.area(np.asarray(geoseries.values)).astype("float64"), nan=0.0)


def equal_area_crs(lon: float, lat: float) -> CRS:
    """Lambert azimuthal equal-area CRS on the GRS80 ellipsoid centred at ``(lon, lat)``."""
    return CRS.from_proj4(f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +ellps=GRS80 +units=m +no_defs")


KUNMING_CENTRE: tuple[float, float] = (102.9, 25.5)
"""Centre (lon, lat) of the default study area (Kunming's box, 102.1–103.7°E, 24.4–26.6°N)."""


MAX_SEGMENT_M = 20.0
"""Edges are split into pieces of at most this length (m) before an ellipsoidal area is measured."""
MEASURE_CHUNK = 100_000
"""Geometries densified and reprojected at a time when measuring (bounds the memory of the copies)."""
APPROXIMATION_ERROR = 1e-5
"""Largest relative difference promised between :meth:`AreaMeasure.approximate_ellipsoidal_m2` and the measured
ellipsoidal area. Measured on the 1M-parcel bench layer (parcels up to 17.6 km across, Gauss-Kruger 3° zone): at
most 2.6e-7; the difference grows with the square of a geometry's size."""
APPROXIMATION_MAX_SIZE_M = 20_000.0
"""Geometries larger across than this (m, bounding-box diagonal) are not approximated."""
ELLIPSOIDAL_M2_COLUMN = "_ellipsoidal_m2"
"""Column of a checked land-use layer holding each parcel's ellipsoidal area (m²) where the load measured it
(the TBMJ check does): analyses reuse it for pieces that are a whole parcel instead of measuring again."""


def ellipsoidal_area_m2(geoseries, *, centre: tuple[float, float] = KUNMING_CENTRE,
                        max_segment_m: float = MAX_SEGMENT_M) -> np.ndarray:
    """Area of each geometry on the CGCS2000 (GRS80) ellipsoid in m², as 三调 reports official areas.

    The polygon's edges are straight in its own CRS (the Gauss-Kruger plane where parcels are drawn).
    They are split into pieces of at most ``max_segment_m`` there, projected onto a Lambert azimuthal
    equal-area plane on GRS80 and measured. Without the split, a long straight edge would be measured
    as straight in the equal-area plane too, and a polygon cut in two parts would not add up (a 400 m
    edge cut by an approval boundary: about 0.01 m²); with it, parts add up to the whole within
    1e-6 m².

    Parameters
    ----------
    geoseries : geopandas.GeoSeries
        Geometries in any CRS (must have one).
    centre : tuple of float, default :data:`KUNMING_CENTRE`
        (lon, lat) of the equal-area projection the area is measured in. Any centre gives the
        ellipsoidal area; a fixed one makes a geometry's area independent of what else is measured
        with it (for parcel-sized edges centres 1° apart agree to about 1e-9).
    max_segment_m : float, default :data:`MAX_SEGMENT_M`
        Longest edge piece (m; in degrees ÷ 111 000 for a geographic CRS).

    Returns
    -------
    numpy.ndarray
        Ellipsoidal area per geometry (0 for empty or missing geometries).
    """
    if geoseries.crs is None:
        raise ValueError("ellipsoidal areas need a CRS")
    if len(geoseries) == 0:
        return np.zeros(0)
    crs = CRS.from_user_input(geoseries.crs)
    step = max_segment_m if crs.is_projected else max_segment_m / 111_000.0
    geoms = np.asarray(geoseries.values, dtype=object)
    target = equal_area_crs(*centre)
    to_equal_area = crs_rules.transformer(crs, target)
    out = np.empty(len(geoms))

    def measure(start: int) -> None:  # the densified copies of one chunk at a time
        chunk = geoms[start:start + MEASURE_CHUNK]
        polygonal = np.isin(shapely.get_type_id(chunk), [3, 6]) & ~shapely.is_empty(chunk)
        area = np.zeros(len(chunk))
        area[polygonal] = _ring_wise_area(chunk[polygonal], step, to_equal_area)
        other = np.flatnonzero(~polygonal & ~shapely.is_missing(chunk))  # collections: their polygons, undensified
        if other.size:
            area[other] = shapely.area(np.asarray(gpd.GeoSeries(chunk[other], crs=crs).to_crs(target).values))
        out[start:start + len(chunk)] = area

    starts = range(0, len(geoms), MEASURE_CHUNK)
    if len(starts) > 1:  # GEOS and PROJ work without the GIL: chunks on threads, each its own slice of ``out``
        with ThreadPoolExecutor(max_workers=min(len(starts), CORES)) as pool:  # each holds one chunk's copy
            list(pool.map(measure, starts))
    else:
        for start in starts:
            measure(start)
    return np.nan_to_num(out, nan=0.0)


def _ring_wise_area(polygons: np.ndarray, step: float, transformer: Transformer) -> np.ndarray:
    """Area of (multi)polygons after their rings' edges are split into pieces of at most ``step`` and the rings
    projected with ``transformer``: per part its shell less its holes, per geometry the sum of its parts (as GEOS
    sums them, bit for bit). Rings are densified as rings and never rebuilt into polygons before they are
    projected: GEOS 3.14's polygon ``segmentize`` returns an empty or wrong polygon for some valid input (seen on
    the sample; ``tests/test_units.py``), ring ``segmentize`` is sound.

    A geometry whose planar area changes when densified (by more than 1e-9 of it, or 1e-9 m²) keeps its own
    vertices; the float noise of a sliver ring (1e-9 m² on 1e-7) is far within that of its geometry, and densified
    it measures right.
    """
    parts, owner = shapely.get_parts(polygons, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    shell = np.r_[True, ring_part[1:] != ring_part[:-1]] if len(ring_part) else np.zeros(0, dtype=bool)
    sign = np.where(shell, 1.0, -1.0)
    ring_owner = owner[ring_part]
    dense = shapely.segmentize(rings, step)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    dense_coords, dense_ring_of = shapely.get_coordinates(dense, return_index=True)
    before = np.bincount(ring_owner, sign * ring_areas(coords, ring_of, len(rings)), minlength=len(polygons))
    after_ring = ring_areas(dense_coords, dense_ring_of, len(rings))
    after = np.bincount(ring_owner, sign * after_ring, minlength=len(polygons))
    same = np.abs(after - before) <= 1e-9 * np.maximum(np.abs(before), 1.0)
    use_dense = same[ring_owner]
    if not use_dense.all():  # the rings of such a geometry are measured on their own vertices
        keep_dense = use_dense[dense_ring_of]
        dense_coords = np.concatenate([dense_coords[keep_dense], coords[~use_dense[ring_of]]])
        dense_ring_of = np.concatenate([dense_ring_of[keep_dense], ring_of[~use_dense[ring_of]]])
        order = np.argsort(dense_ring_of, kind="stable")  # each ring's vertices together, in their order
        dense_coords, dense_ring_of = dense_coords[order], dense_ring_of[order]
    x, y = transformer.transform(dense_coords[:, 0], dense_coords[:, 1])
    ring_area = np.nan_to_num(ring_areas(np.column_stack([x, y]), dense_ring_of, len(rings)))
    part_area = np.bincount(ring_part, weights=sign * ring_area, minlength=len(parts))
    return np.bincount(owner, weights=part_area, minlength=len(polygons))


def ring_areas(coords: np.ndarray, ring_of: np.ndarray, n_rings: int) -> np.ndarray:
    """Area enclosed by each closed ring, from its coordinates: GEOS's shoelace sum (``Area::ofRingSigned``:
    about the ring's first x, term by term in vertex order), so the same float as ``shapely.area`` of the ring's
    polygon, without making the polygon.

    Parameters
    ----------
    coords : numpy.ndarray, shape (n, 2)
        Vertices of the rings one after another, each ring closed (last vertex = first).
    ring_of : numpy.ndarray of int, shape (n,)
        Each vertex's ring (0 … n_rings − 1), ascending.
    n_rings : int

    Returns
    -------
    numpy.ndarray, shape (n_rings,)
        Areas (≥ 0; 0 for a ring of fewer than three vertices; NaN where a vertex is).
    """
    if not len(coords):
        return np.zeros(n_rings)
    starts = np.searchsorted(ring_of, np.arange(n_rings))
    ends = np.r_[starts[1:], len(ring_of)]
    inner = np.ones(len(coords), dtype=bool)  # each vertex but a ring's first and last carries one term
    inner[starts[ends > starts]] = False
    inner[ends[ends > starts] - 1] = False
    at = np.flatnonzero(inner)
    x0 = coords[starts[ring_of[at]], 0]
    terms = (coords[at, 0] - x0) * (coords[at - 1, 1] - coords[at + 1, 1])
    return np.abs(np.bincount(ring_of[at], terms, minlength=n_rings) / 2.0)


ELLIPSOIDAL, PLANAR = "ellipsoidal", "planar"
AREA_KINDS = (ELLIPSOIDAL, PLANAR)
AREA_KIND_LABELS = {
    "zh": {ELLIPSOIDAL: "椭球面积（CGCS2000 椭球，与三调统计口径一致）", PLANAR: "平面面积（高斯-克吕格投影）"},
    "en": {ELLIPSOIDAL: "ellipsoidal area (CGCS2000 ellipsoid, as 三调 statistics)",
           PLANAR: "planar area (Gauss-Kruger projection)"},
}
"""How each area kind is named on tables, sheets and summaries."""


@dataclass(frozen=True)
class AreaMeasure:
    """How every figure of a run is measured: planar or ellipsoidal, on geometries in the analysis CRS.

    Analyses call :meth:`m2` for every area a user sees, so a whole run counts one way: the config's
    ``area:`` (default ellipsoidal, as official statistics). Overlays are computed in the analysis CRS;
    only the measuring differs.

    Attributes
    ----------
    crs : str
        The analysis CRS (projected, metres) the geometries are in.
    kind : {"ellipsoidal", "planar"}
    centre : tuple of float
        (lon, lat) of the equal-area projection of ellipsoidal areas (the study area's centre).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> AreaMeasure("EPSG:4543", PLANAR).m2([box(0, 0, 100, 100)])[0]
    10000.0
    """

    crs: str
    kind: str = ELLIPSOIDAL
    centre: tuple[float, float] = KUNMING_CENTRE

    def __post_init__(self) -> None:
        if self.kind not in AREA_KINDS:
            raise ValueError(f"area kind must be one of {AREA_KINDS}, got {self.kind!r}")

    def planar_m2(self, geoms) -> np.ndarray:
        """Planar area (m²) in the analysis CRS; 0 for missing or empty geometries."""
        return np.nan_to_num(shapely.area(np.asarray(geoms, dtype=object)).astype("float64"), nan=0.0)

    def ellipsoidal_m2(self, geoms) -> np.ndarray:
        """Ellipsoidal area (m², GRS80) of geometries given in the analysis CRS."""
        geoms = np.asarray(geoms, dtype=object)
        if geoms.size == 0:
            return np.zeros(0)
        return ellipsoidal_area_m2(gpd.GeoSeries(geoms, crs=self.crs), centre=self.centre)

    def approximate_ellipsoidal_m2(self, geoms) -> np.ndarray:
        """Ellipsoidal area (m²) within :data:`APPROXIMATION_ERROR` of :meth:`ellipsoidal_m2`, about ten times
        cheaper: the planar area divided by the projection's areal scale factor (PROJ) at the geometry's
        centroid. For a screen only — a figure is always measured (:meth:`m2`).

        Returns
        -------
        numpy.ndarray
            One value per geometry; NaN where the bound is not promised: the analysis CRS is not projected, the
            geometry is more than :data:`APPROXIMATION_MAX_SIZE_M` across, missing or empty.
        """
        geoms = np.asarray(geoms, dtype=object)
        out = np.full(len(geoms), np.nan)
        crs = CRS.from_user_input(self.crs)
        if not len(geoms) or not crs.is_projected:
            return out
        bounds = shapely.bounds(geoms)
        size = np.hypot(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
        ok = np.isfinite(size) & (size <= APPROXIMATION_MAX_SIZE_M)
        if not ok.any():
            return out
        from .overlay import threaded  # (overlay imports this module through degenerate)

        centre = shapely.get_coordinates(threaded(shapely.centroid, geoms[ok]))  # the scale's slope cancels about it
        lon, lat = crs_rules.transformer(crs, crs.geodetic_crs).transform(centre[:, 0], centre[:, 1])
        scale = np.asarray(Proj(crs).get_factors(lon, lat).areal_scale, dtype=float)
        out[ok] = shapely.area(geoms[ok]) / scale
        return out

    def m2(self, geoms) -> np.ndarray:
        """Area (m²) of each geometry in this measure's kind.

        Inside :func:`measuring_once`, a geometry object measured before in the block (the same object, e.g. a
        parcel that is its own piece at every zone level) takes the area measured then.
        """
        if self.kind != ELLIPSOIDAL:
            return self.planar_m2(geoms)
        geoms = np.asarray(geoms, dtype=object)
        known = _KNOWN.get()
        if known is None or known.key != (self.crs, self.centre) or not len(geoms):
            return self._measured_once(geoms)
        out = np.empty(len(geoms))
        at = known.positions(geoms)
        found = at >= 0
        out[found] = known.m2[at[found]]
        if not found.all():
            out[~found] = self._measured_once(geoms[~found])
        return out

    def _measured_once(self, geoms: np.ndarray) -> np.ndarray:
        """Ellipsoidal areas, each geometry object measured once inside :func:`measuring_once`."""
        cache = _MEASURED.get()
        if cache is None:
            return self.ellipsoidal_m2(geoms)
        key = (self.crs, self.centre)
        out = np.empty(len(geoms))
        todo = []
        for k, geom in enumerate(geoms):
            hit = cache.get((key, id(geom)))
            if hit is not None and hit[0] is geom:
                out[k] = hit[1]
            else:
                todo.append(k)
        if todo:
            todo = np.asarray(todo)
            measured = self.ellipsoidal_m2(geoms[todo])
            out[todo] = measured
            for k, value in zip(todo, measured, strict=True):
                if geoms[k] is not None:
                    cache[(key, id(geoms[k]))] = (geoms[k], value)  # the reference keeps the id from being reused
        return out

    def mu(self, geoms) -> np.ndarray:
        """Area (亩) of each geometry in this measure's kind."""
        return self.m2(geoms) / M2_PER_MU

    def label(self, lang: str = "zh") -> str:
        """What the figures measure, for table notes and summaries."""
        return AREA_KIND_LABELS[lang][self.kind]


_MEASURED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("kmrv_measured", default=None)


@dataclass(frozen=True)
class _Known:
    """Areas measured before, looked up by geometry object (the objects are kept alive: their ids stay theirs)."""

    key: tuple
    ids: np.ndarray
    m2: np.ndarray
    keep: tuple

    def positions(self, geoms: np.ndarray) -> np.ndarray:
        """Position in :attr:`m2` of each geometry object, −1 for objects not measured before."""
        ids = np.fromiter((id(g) for g in geoms), dtype=np.int64, count=len(geoms))
        at = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
        return np.where(self.ids[at] == ids, at, -1)


_KNOWN: contextvars.ContextVar[_Known | None] = contextvars.ContextVar("kmrv_known_areas", default=None)


@contextmanager
def measured_before(measure: AreaMeasure, geoms: list[np.ndarray], m2: list[np.ndarray]) -> Iterator[None]:
    """Inside the block, :meth:`AreaMeasure.m2` takes these geometry objects' areas instead of measuring them.

    The load measures every land-use parcel's ellipsoidal area (the TBMJ check needs it,
    :data:`ELLIPSOIDAL_M2_COLUMN`); analyses then meet the same parcel objects again as whole pieces (a parcel
    inside a county, a farmland parcel in the abandonment table). Looked up by object, vectorised: the
    objects are kept alive while the block runs, so no other object can take their ids.

    Parameters
    ----------
    measure : AreaMeasure
        The measure the areas were taken with (ellipsoidal; other measures and kinds are not served).
    geoms, m2 : list of numpy.ndarray
        Geometry arrays (missing geometries are left out) and their areas (m²), array by array.
    """
    objects = np.concatenate([np.asarray(g, dtype=object) for g in geoms]) if geoms else np.zeros(0, dtype=object)
    areas = np.concatenate([np.asarray(a, dtype=float) for a in m2]) if m2 else np.zeros(0)
    present = ~shapely.is_missing(objects)
    objects, areas = objects[present], areas[present]
    ids = np.fromiter((id(g) for g in objects), dtype=np.int64, count=len(objects))
    order = np.argsort(ids, kind="stable")
    known = _Known((measure.crs, measure.centre), ids[order], areas[order], (objects,)) if len(objects) else None
    token = _KNOWN.set(known if measure.kind == ELLIPSOIDAL else None)
    try:
        yield
    finally:
        _KNOWN.reset(token)


@contextmanager
def measuring_once() -> Iterator[None]:
    """Measure each geometry object once while the block runs (:meth:`AreaMeasure.m2`, ellipsoidal kind).

    Analyses measure the same parcels again and again (a parcel inside a county is its own piece at the county,
    township and village level, for several figures); inside the block the first measurement is reused. The
    geometries measured are kept alive until the block ends (so their ids cannot be reused): wrap one analysis
    step, not a whole run.
    """
    token = _MEASURED.set({})
    try:
        yield
    finally:
        _MEASURED.reset(token)


def planar_measure(crs: str | None = None) -> AreaMeasure:
    """A planar :class:`AreaMeasure` (the default of analyses called without a project)."""
    return AreaMeasure(crs or "EPSG:4543", PLANAR)


def area_table(geoseries, *, prefix: str = "area") -> pd.DataFrame:
    """Planar and ellipsoidal areas of each geometry in m², 亩 and hectares.

    Parameters
    ----------
    geoseries : geopandas.GeoSeries
        Geometries in a projected CRS in metres (the analysis CRS).
    prefix : str, default "area"
        Column name prefix.

    Returns
    -------
    pandas.DataFrame
        Columns ``{prefix}_m2``, ``{prefix}_mu``, ``{prefix}_ha`` (planar) and
        ``{prefix}_m2_ellipsoidal``, ``{prefix}_mu_ellipsoidal`` (GRS80 ellipsoid), on the series' index.
    """
    planar = planar_area_m2(geoseries)
    ellipsoidal = ellipsoidal_area_m2(geoseries)
    return pd.DataFrame(
        {
            f"{prefix}_m2": planar,
            f"{prefix}_mu": planar / M2_PER_MU,
            f"{prefix}_ha": planar / M2_PER_HA,
            f"{prefix}_m2_ellipsoidal": ellipsoidal,
            f"{prefix}_mu_ellipsoidal": ellipsoidal / M2_PER_MU,
        },
        index=geoseries.index,
    )
