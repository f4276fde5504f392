"""The WGS84 → GCJ-02 shift agrees with an independent implementation (eviltransform) around Kunming."""

from __future__ import annotations

import numpy as np
import pytest

from kmrv_geo.crs import KUNMING_BBOX, gcj02_to_wgs84, wgs84_to_gcj02

eviltransform = pytest.importorskip("eviltransform",
                                    reason="eviltransform is a test dependency (pip install -e .[dev])")

M_PER_DEG_LAT = 111_320.0


def _metres(lon0, lat0, lon1, lat1) -> np.ndarray:
    """Distance in metres between lon/lat points a few metres apart (local equirectangular)."""
    dx = (np.asarray(lon1) - lon0) * M_PER_DEG_LAT * np.cos(np.radians(lat0))
    dy = (np.asarray(lat1) - lat0) * M_PER_DEG_LAT
    return np.hypot(dx, dy)


@pytest.fixture(scope="module")
def kunming_points():
    rng = np.random.default_rng(2023)
    lon0, lat0, lon1, lat1 = KUNMING_BBOX
    lon = np.r_[rng.uniform(lon0, lon1, 400), 102.7, 102.1, 103.7]
    lat = np.r_[rng.uniform(lat0, lat1, 400), 24.9, 24.4, 26.6]
    return lon, lat


def test_forward_shift_matches_eviltransform_within_a_centimetre(kunming_points):
    lon, lat = kunming_points
    glon, glat = wgs84_to_gcj02(lon, lat)
    ref = np.array([eviltransform.wgs2gcj(a, o) for o, a in zip(lon, lat, strict=True)])  # (lat, lon) in and out
    error = _metres(ref[:, 1], ref[:, 0], glon, glat)
    assert error.max() < 0.01
    shift = _metres(lon, lat, glon, glat)
    assert 100 < shift.min() and shift.max() < 1000  # the offset is some hundreds of metres around Kunming


def test_inverse_round_trips_within_half_a_metre(kunming_points):
    lon, lat = kunming_points
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(lon, lat, back_lon, back_lat).max() < 0.5


def test_inverse_agrees_with_eviltransform_exact_inverse(kunming_points):
    lon, lat = kunming_points
    glon, glat = wgs84_to_gcj02(lon, lat)
    ours = np.column_stack(gcj02_to_wgs84(glon, glat))
    ref = np.array([eviltransform.gcj2wgs_exact(a, o) for o, a in zip(glon, glat, strict=True)])
    assert _metres(ref[:, 1], ref[:, 0], ours[:, 0], ours[:, 1]).max() < 0.5
