"""Coordinate reference systems for Kunming: CGCS2000, 3-degree Gauss-Kruger zones, mislabel detection,
and the WGS84 ↔ GCJ-02 shift used by Chinese web maps (高德/Gaode).

One place knows these rules; layers, checks and maps ask it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import CRS, Transformer

CGCS2000_GEOGRAPHIC = "EPSG:4490"
"""CGCS2000 geographic (lon/lat), ≈ WGS84 for mapping (offset < 1 m)."""
WGS84 = "EPSG:4326"

GK3_ZONES: dict[int, str] = {102: "EPSG:4543", 105: "EPSG:4544"}
"""CGCS2000 3-degree Gauss-Kruger, by central meridian, false easting 500000 (no zone prefix)."""
GK3_ZONES_PREFIXED: dict[int, str] = {102: "EPSG:4522", 105: "EPSG:4523"}
"""The same zones with the zone number prefixed to the easting (zone 34: 34500000, zone 35: 35500000)."""

KUNMING_BBOX: tuple[float, float, float, float] = (102.1, 24.4, 103.7, 26.6)
"""Kunming's extent in lon/lat (min lon, min lat, max lon, max lat), DOMAIN.md."""


@dataclass(frozen=True)
class StudyArea:
    """A lon/lat box that every layer must touch; defaults to Kunming with a small margin.

    Attributes
    ----------
    name : str
        Human name used in messages.
    bbox : tuple of float
        (min lon, min lat, max lon, max lat) in CGCS2000/WGS84 degrees.
    """

    name: str = "昆明市 Kunming"
    bbox: tuple[float, float, float, float] = KUNMING_BBOX

    def contains_box(self, box: tuple[float, float, float, float], *, margin_deg: float = 0.2) -> bool:
        """Whether ``box`` (lon/lat) overlaps this study area grown by ``margin_deg``."""
        minx, miny, maxx, maxy = self.bbox
        bx0, by0, bx1, by1 = box
        return not (
            bx1 < minx - margin_deg or bx0 > maxx + margin_deg or by1 < miny - margin_deg or by0 > maxy + margin_deg
        )


def central_meridian_3deg(lon: float) -> int:
    """Central meridian (degrees) of the 3-degree Gauss-Kruger zone containing ``lon``."""
    return int(3 * round(lon / 3.0))


def gk3_crs_for_lon(lon: float) -> str:
    """EPSG code of the CGCS2000 3-degree GK zone (no prefix) for a longitude.

    Parameters
    ----------
    lon : float
        Longitude in degrees east.

    Returns
    -------
    str
        ``"EPSG:4543"`` for 100.5–103.5°E (CM 102°E), ``"EPSG:4544"`` for 103.5–106.5°E, otherwise
        the generic CGCS2000 3-degree GK code for that central meridian (EPSG:4534 + zone offset).
    """
    cm = central_meridian_3deg(lon)
    if cm in GK3_ZONES:
        return GK3_ZONES[cm]
    # EPSG:4534 is CM 75°E; codes step by one per 3-degree zone up to CM 135°E (EPSG:4554).
    if 75 <= cm <= 135:
        return f"EPSG:{4534 + (cm - 75) // 3}"
    raise ValueError(f"longitude {lon} lies outside China's CGCS2000 3-degree GK zones (75–135°E)")


def lonlat_bounds(bounds: tuple[float, float, float, float], crs) -> tuple[float, float, float, float]:
    """Transform a bounding box to CGCS2000 lon/lat (densified, so curved edges are respected)."""
    crs = CRS.from_user_input(crs)
    if crs.equals(CGCS2000_GEOGRAPHIC) or crs.equals(WGS84):
        return tuple(float(v) for v in bounds)
    transformer = Transformer.from_crs(crs, CGCS2000_GEOGRAPHIC, always_xy=True)
    return tuple(float(v) for v in transformer.transform_bounds(*bounds, densify_pts=21))


def auto_analysis_crs(lonlat_box: tuple[float, float, float, float]) -> str:
    """The analysis CRS for ``crs: auto``: the CGCS2000 3-degree GK zone of the data's centre."""
    minx, _, maxx, _ = lonlat_box
    return gk3_crs_for_lon((minx + maxx) / 2.0)


def diagnose_crs(
    bounds: tuple[float, float, float, float], crs, *, study_area: StudyArea | None = None
) -> str | None:
    """Find a mislabelled or wrong CRS from a layer's bounds.

    Parameters
    ----------
    bounds : tuple of float
        Layer bounds (minx, miny, maxx, maxy) in the layer's declared CRS.
    crs : pyproj.CRS or str
        The declared CRS.
    study_area : StudyArea, optional
        The area every layer must touch (default Kunming).

    Returns
    -------
    str or None
        A sentence saying what is wrong and naming the likely right CRS, or ``None`` when the bounds fit
        the declared CRS and the study area.
    """
    study_area = study_area or StudyArea()
    crs = CRS.from_user_input(crs)
    minx, miny, maxx, maxy = (float(v) for v in bounds)
    looks_like_degrees = -180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90
    sx0, sy0, sx1, sy1 = study_area.bbox
    code = crs.to_string()
    if crs.is_geographic:
        if sy0 - 1 <= minx and maxx <= sy1 + 1 and sx0 - 1 <= miny and maxy <= sx1 + 1:
            return (
                f"longitude and latitude look swapped (x {minx:.3f}…{maxx:.3f} reads like Kunming's latitude, "
                f"y {miny:.3f}…{maxy:.3f} like its longitude); write the layer again with x = longitude "
                "and y = latitude"
            )
        if not looks_like_degrees:
            guess = _guess_projected(minx, maxx)
            return (
                f"coordinates look like metres (x {minx:.0f}…{maxx:.0f}, y {miny:.0f}…{maxy:.0f}) but the "
                f"layer says {code}, a degree-based CRS; the likely right CRS is {guess}"
            )
        box = (minx, miny, maxx, maxy)
    else:
        if looks_like_degrees and maxx - minx < 20:
            return (
                f"coordinates look like degrees (x {minx:.4f}…{maxx:.4f}, y {miny:.4f}…{maxy:.4f}) but the "
                f"layer says {code}, a projected CRS in metres; the likely right CRS is "
                f"{CGCS2000_GEOGRAPHIC} (CGCS2000 geographic)"
            )
        prefixed = _zone_prefix(minx, maxx)
        if prefixed is not None and not _has_zone_prefix(crs):
            zone, right = prefixed
            return (
                f"eastings {minx:.0f}…{maxx:.0f} carry the zone prefix {zone} but the layer says {code}, "
                f"whose false easting is 500000; the likely right CRS is {right}"
            )
        try:
            box = lonlat_bounds((minx, miny, maxx, maxy), crs)
        except Exception:  # pyproj raises several types for points outside the projection's domain
            box = (float("nan"),) * 4
        if not np.all(np.isfinite(box)):
            return (f"coordinates x {minx:.0f}…{maxx:.0f}, y {miny:.0f}…{maxy:.0f} "
                    f"cannot be placed on the earth with {code}")
    if not study_area.contains_box(box):
        return (
            f"the layer lies at lon {box[0]:.3f}…{box[2]:.3f}, lat {box[1]:.3f}…{box[3]:.3f} under {code}, "
            f"outside the study area {study_area.name} (lon {sx0}…{sx1}, lat {sy0}…{sy1}); check the CRS "
            "(or the study_area setting)"
        )
    return None


def _guess_projected(minx: float, maxx: float) -> str:
    """Name the GK CRS that metre coordinates most likely use."""
    prefixed = _zone_prefix(minx, maxx)
    if prefixed is not None:
        return prefixed[1]
    return f"{GK3_ZONES[102]} (CGCS2000 3-degree GK, CM 102°E) or {GK3_ZONES[105]} (CM 105°E)"


def _zone_prefix(minx: float, maxx: float) -> tuple[int, str] | None:
    """The 3-degree zone number if eastings carry a zone prefix (e.g. 34xxxxxx), with its EPSG code."""
    if minx < 1_000_000:
        return None
    zone = int(minx // 1_000_000)
    if zone != int(maxx // 1_000_000):
        return None
    cm = zone * 3
    code = GK3_ZONES_PREFIXED.get(cm)
    if code is None and 25 <= zone <= 45:
        # EPSG:4513 is zone 25 (CM 75°E) with prefix; codes step by one per zone up to zone 45 (EPSG:4533).
        code = f"EPSG:{4513 + zone - 25}"
    return (zone, code) if code else None


def _has_zone_prefix(crs: CRS) -> bool:
    """Whether a projected CRS's false easting carries a zone prefix (≥ 1,000,000 m)."""
    operation = crs.coordinate_operation
    if operation is None:
        return False
    for param in operation.params:
        if param.name.lower() == "false easting":
            return float(param.value) >= 1_000_000
    return False


# --- WGS84 <-> GCJ-02 -------------------------------------------------------------------------------------
# GCJ-02 is the obfuscated datum that Chinese web maps (高德/Gaode, Tencent) use by law. The forward
# shift is a published closed formula (the Krasovsky-ellipsoid offset polynomial); the inverse has no
# closed form and is solved by fixed-point iteration. Outside China no shift is applied.

_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323


def _outside_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _shift_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    r += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    r += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    r += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return r


def _shift_lon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    r += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    r += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    r += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return r


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS84 (≈ CGCS2000) lon/lat to GCJ-02 (Gaode's datum); arrays or scalars."""
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    x, y = lon - 105.0, lat - 35.0
    dlat = _shift_lat(x, y)
    dlon = _shift_lon(x, y)
    radlat = lat / 180.0 * np.pi
    magic = 1 - _GCJ_EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_GCJ_A * (1 - _GCJ_EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_GCJ_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = _outside_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def gcj02_to_wgs84(lon, lat, *, tolerance_deg: float = 1e-10, max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Invert :func:`wgs84_to_gcj02` by fixed-point iteration (converges to < 1 mm in a few steps)."""
    glon = np.asarray(lon, dtype="float64")
    glat = np.asarray(lat, dtype="float64")
    wlon, wlat = glon.copy(), glat.copy()
    for _ in range(max_iter):
        slon, slat = wgs84_to_gcj02(wlon, wlat)
        dlon, dlat = slon - glon, slat - glat
        wlon, wlat = wlon - dlon, wlat - dlat
        if np.all(np.abs(dlon) < tolerance_deg) and np.all(np.abs(dlat) < tolerance_deg):
            break
    return wlon, wlat


@functools.lru_cache(maxsize=16)
def transformer(source: CRS, target: CRS) -> Transformer:
    """The pyproj transformer from ``source`` to ``target`` (x, y order), made once per pair of CRSs (page sets and
    measuring reproject thousands of small arrays).
    """
    return Transformer.from_crs(source, target, always_xy=True)


def reproject(geoms: np.ndarray, by: Transformer) -> np.ndarray:
    """Geometries with every vertex transformed ``by`` (as ``GeoSeries.to_crs``, bit for bit); same length,
    missing geometries stay missing.
    """
    return shapely.transform(np.asarray(geoms, dtype=object),
                             lambda xy: np.column_stack(by.transform(xy[:, 0], xy[:, 1])))
