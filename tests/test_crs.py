"""CRS rules: GK zone choice, mislabel detection, the WGS84/GCJ-02 shift round trip."""

from __future__ import annotations

import numpy as np
import pytest

from kmrv_geo import crs


@pytest.mark.parametrize(("lon", "code"), [(102.7, "EPSG:4543"), (101.0, "EPSG:4543"), (103.6, "EPSG:4544"),
                                           (99.0, "EPSG:4542")])
def test_gk_zone_for_longitude(lon, code):
    assert crs.gk3_crs_for_lon(lon) == code


def test_auto_crs_uses_the_centre():
    assert crs.auto_analysis_crs((102.5, 24.6, 103.0, 25.2)) == "EPSG:4543"
    assert crs.auto_analysis_crs((103.3, 25.0, 103.9, 25.6)) == "EPSG:4544"


@pytest.mark.parametrize(
    ("bounds", "declared", "expected"),
    [
        ((34560000, 2700000, 34580000, 2800000), "EPSG:4543", "EPSG:4522"),
        ((560000, 2700000, 580000, 2800000), "EPSG:4490", "EPSG:4543"),
        ((102.5, 24.8, 102.9, 25.1), "EPSG:4543", "EPSG:4490"),
        ((24.8, 102.5, 25.1, 102.9), "EPSG:4490", "swapped"),
        ((116.0, 39.0, 117.0, 40.0), "EPSG:4490", "outside the study area"),
    ],
)
def test_diagnose_mislabels(bounds, declared, expected):
    message = crs.diagnose_crs(bounds, declared)
    assert message is not None and expected in message


@pytest.mark.parametrize(("bounds", "declared"), [((560000, 2720000, 580000, 2780000), "EPSG:4543"),
                                                  ((34560000, 2720000, 34580000, 2780000), "EPSG:4522"),
                                                  ((102.5, 24.8, 102.9, 25.1), "EPSG:4490")])
def test_diagnose_accepts_right_labels(bounds, declared):
    assert crs.diagnose_crs(bounds, declared) is None


def test_gcj02_round_trip_and_offset_size():
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(102.1, 103.7, 500), rng.uniform(24.4, 26.6, 500)
    glon, glat = crs.wgs84_to_gcj02(lon, lat)
    # the shift in Kunming is some hundreds of metres
    shift_m = np.hypot((glon - lon) * 111320 * np.cos(np.radians(lat)), (glat - lat) * 110540)
    assert 100 < shift_m.min() and shift_m.max() < 1000
    wlon, wlat = crs.gcj02_to_wgs84(glon, glat)
    err_m = np.hypot((wlon - lon) * 111320 * np.cos(np.radians(lat)), (wlat - lat) * 110540)
    assert err_m.max() < 0.01
