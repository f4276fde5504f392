"""Area conversions and planar/ellipsoidal areas against hand-computed values."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.ops
from pyproj import Geod, Transformer
from shapely.geometry import box

from kmrv_geo import units


def test_mu_constants():
    assert units.M2_PER_MU == pytest.approx(666.6666666666666, rel=1e-15)
    assert units.m2_to_mu(10000.0) == pytest.approx(15.0, rel=1e-15)
    assert units.mu_to_m2(1.0) == pytest.approx(10000 / 15, rel=1e-15)
    assert units.m2_to_ha(25000.0) == pytest.approx(2.5, rel=1e-15)
    assert units.ha_to_mu(2.0) == pytest.approx(30.0, rel=1e-15)
    # 30 亩 facility-site threshold is 20000 m²
    assert units.mu_to_m2(30.0) == pytest.approx(20000.0, rel=1e-15)
    assert isinstance(units.m2_to_mu(1.0), float)
    np.testing.assert_allclose(units.m2_to_mu([666.6666666666666, 1333.3333333333333]), [1.0, 2.0], rtol=1e-15)


def test_planar_area_of_a_square_in_gk():
    square = gpd.GeoSeries([box(560000, 2760000, 560100, 2760100)], crs="EPSG:4543")
    table = units.area_table(square)
    assert table.loc[0, "area_m2"] == pytest.approx(10000.0, rel=1e-12)
    assert table.loc[0, "area_mu"] == pytest.approx(15.0, rel=1e-12)
    assert table.loc[0, "area_ha"] == pytest.approx(1.0, rel=1e-12)


def test_planar_area_refuses_degrees():
    with pytest.raises(ValueError, match="projected CRS"):
        units.planar_area_m2(gpd.GeoSeries([box(102, 25, 102.01, 25.01)], crs="EPSG:4490"))


def _parcels_around(lon: float, lat: float, n: int = 20) -> gpd.GeoSeries:
    rng = np.random.default_rng(7)
    to_gk = Transformer.from_crs("EPSG:4490", "EPSG:4543", always_xy=True)
    x0, y0 = to_gk.transform(lon, lat)
    polys = []
    for _ in range(n):
        cx, cy = x0 + rng.uniform(-2000, 2000), y0 + rng.uniform(-2000, 2000)
        angles = np.sort(rng.uniform(0, 2 * np.pi, 7))
        radii = rng.uniform(20, 80, 7)
        polys.append(shapely.Polygon(np.c_[cx + radii * np.cos(angles), cy + radii * np.sin(angles)]))
    return gpd.GeoSeries(polys, crs="EPSG:4543")


@pytest.mark.parametrize("lon", [102.7, 103.4])
def test_ellipsoidal_area_matches_geodesic(lon):
    parcels = _parcels_around(lon, 25.0)
    ours = units.ellipsoidal_area_m2(parcels)
    geod = Geod(ellps="GRS80")
    # the parcels' edges are straight on the Gauss-Kruger plane: follow them in 1 m steps, then measure
    # geodesically on GRS80 (independent of kmrv's equal-area projection)
    lonlat = parcels.segmentize(1.0).to_crs("EPSG:4490")
    reference = np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in lonlat])
    np.testing.assert_allclose(ours, reference, rtol=1e-7)


def test_ellipsoidal_areas_of_parts_add_up_to_the_whole():
    # A 600 m × 400 m block 140 km east of the central meridian, cut by a slanted line into two parts.
    # Measured with straight edges in the equal-area plane the parts would miss the whole by ~1e-4 m²
    # (long GK-straight edges are curved there); the edges are followed, so they add up.
    x, y = 640000.0, 2800000.0
    whole = box(x, y, x + 600, y + 400)
    cut = shapely.LineString([(x + 100, y - 1), (x + 450, y + 401)])
    parts = gpd.GeoSeries(list(shapely.ops.split(whole, cut).geoms), crs="EPSG:4543")
    total = units.ellipsoidal_area_m2(gpd.GeoSeries([whole], crs="EPSG:4543"))[0]
    assert units.ellipsoidal_area_m2(parts).sum() == pytest.approx(total, abs=1e-6)


@pytest.mark.parametrize(("lon", "low", "high"), [(102.7, 1.1e-4, 1.4e-4), (103.6, 6.2e-4, 6.8e-4)])
def test_gk_planar_area_is_larger_than_ellipsoidal_as_domain_says(lon, low, high):
    # DOMAIN.md: planar GK area is about +0.013 % at 102.7°E and +0.065 % at 103.6°E (CM 102°E zone).
    parcels = _parcels_around(lon, 25.0)
    table = units.area_table(parcels)
    excess = (table["area_m2"] / table["area_m2_ellipsoidal"] - 1).to_numpy()
    assert np.all((excess > low) & (excess < high))


def test_empty_and_missing_geometries_have_zero_area():
    series = gpd.GeoSeries([box(560000, 2760000, 560010, 2760010), shapely.Polygon(), None], crs="EPSG:4543")
    table = units.area_table(series)
    assert table["area_m2"].tolist() == pytest.approx([100.0, 0.0, 0.0])
    assert table["area_m2_ellipsoidal"].iloc[1:].tolist() == [0.0, 0.0]


# A farmland piece of the 1,500-parcel sample whose polygon segmentize comes back empty on GEOS 3.14:
# measured as 0 亩 it made a village's farmland vanish (caught by the independent check, tests/test_oracle.py).
SEGMENTIZE_BREAKER = (
    "POLYGON ((563338.0745892164 2774715.7394919507, 563405.3741780737 2774736.154599039, "
    "563447.9220490314 2774667.342397564, 563557.6861707203 2774414.7101735654, 563620.948302552 2774004.85276846, "
    "563679.021937763 2773928.3912217743, 563893.3437804388 2773776.249668242, "
    "563747.1357435499 2773880.038986183, 563732.1216572557 2773884.574623476, "
    "563669.1502515721 2773840.5119384006, 563625.8241457746 2773771.6316858735, "
    "563592.9859433132 2773697.728427065, 563616.5114436811 2773633.5047298213, "
    "563626.7646911931 2773570.00995714, 563655.2974127943 2773507.9949008455, "
    "563725.6747636102 2773532.239013211, 563783.7449317512 2773529.4098925483, "
    "563798.2805020538 2773537.82119859, 563717.3521823161 2773334.8446575496, 563565.37058005 2773367.5089518894, "
    "563240.1063683549 2774663.374386931, 563338.0745892164 2774715.7394919507))"
)


def test_a_polygon_geos_segmentize_breaks_is_measured_ring_by_ring():
    geom = shapely.from_wkt(SEGMENTIZE_BREAKER)
    ring = shapely.get_exterior_ring(geom)
    dense = shapely.segmentize(ring, 20.0)  # the ring densifies soundly where the polygon does not
    assert shapely.area(shapely.polygons(dense)) == pytest.approx(geom.area, rel=1e-12)
    assert shapely.get_num_coordinates(dense) > shapely.get_num_coordinates(ring)
    series = gpd.GeoSeries([geom], crs="EPSG:4543")
    assert units.ellipsoidal_area_m2(series)[0] == pytest.approx(geom.area, rel=1e-3)


def test_measuring_once_reuses_the_area_of_the_same_geometry_object(monkeypatch):
    """Inside ``measuring_once`` a geometry object is measured once (an equal but other object is measured);
    the numbers are those measuring gives; outside the block nothing is kept.
    """
    import numpy as np
    from shapely.geometry import box

    from kmrv_geo import units

    measure = units.AreaMeasure("EPSG:4543")
    a, b = box(560_000, 2_760_000, 560_100, 2_760_100), box(560_100, 2_760_000, 560_300, 2_760_100)
    twin_of_a = box(560_000, 2_760_000, 560_100, 2_760_100)
    expected = measure.ellipsoidal_m2([a, b])
    measured = []
    original = units.AreaMeasure.ellipsoidal_m2
    monkeypatch.setattr(units.AreaMeasure, "ellipsoidal_m2",
                        lambda self, geoms: measured.append(len(geoms)) or original(self, geoms))
    with units.measuring_once():
        first = measure.m2(np.array([a, b], dtype=object))
        again = measure.m2(np.array([b, twin_of_a, a], dtype=object))
    assert first.tolist() == expected.tolist() and again.tolist() == [expected[1], expected[0], expected[0]]
    assert measured == [2, 1]  # only the other object equal to a was measured again
    measure.m2(np.array([a], dtype=object))
    assert measured == [2, 1, 1]
    assert units.AreaMeasure("EPSG:4543", units.PLANAR).m2([a]).tolist() == [10_000.0]


def test_areas_measured_before_are_taken_by_object_and_only_for_that_measure():
    """Geometry objects the load measured are not measured again inside ``measured_before``; an equal but other
    object, a missing geometry and another measure are measured as ever.
    """
    from shapely.geometry import box

    from kmrv_geo.units import ELLIPSOIDAL, PLANAR, AreaMeasure, measured_before

    measure = AreaMeasure("EPSG:4543", ELLIPSOIDAL)
    a, b = box(500_000, 2_700_000, 500_100, 2_700_100), box(500_100, 2_700_000, 500_200, 2_700_100)
    a_copy = box(500_000, 2_700_000, 500_100, 2_700_100)
    true_a = measure.m2([a])[0]
    with measured_before(measure, [np.array([a, None], dtype=object)], [np.array([123.0, 7.0])]):
        got = measure.m2(np.array([a, b, a_copy, None], dtype=object))
        assert got[0] == 123.0  # taken, not measured
        assert got[1] == measure.ellipsoidal_m2([b])[0] and got[2] == true_a and got[3] == 0.0
        assert AreaMeasure("EPSG:4543", PLANAR).m2([a])[0] == 10_000.0
        assert AreaMeasure("EPSG:4543", ELLIPSOIDAL, centre=(103.0, 25.0)).m2([a])[0] != 123.0
    assert measure.m2([a])[0] == true_a  # the block has ended


def test_a_sliver_hole_measures_as_nothing_and_parts_with_holes_add_up():
    """Rings are densified and projected as rings: a hole 1e-8 m wide along 280 m holds 1.4e-6 m² (undensified, its
    edges would bow apart in the equal-area plane: about 2e-5 m²), and a part with a hole measures as its shell
    less the hole; a sliver part of a multipolygon likewise.
    """
    import geopandas as gpd
    from shapely.geometry import MultiPolygon, Polygon, box

    from kmrv_geo.units import ellipsoidal_area_m2

    x0, y0 = 570000.0, 2766000.0
    shell = [(x0, y0), (x0 + 400, y0), (x0 + 400, y0 + 300), (x0, y0 + 300)]
    sliver = [(x0 + 50, y0 + 10), (x0 + 50, y0 + 290), (x0 + 50 + 1e-8, y0 + 150)]
    square_hole = [(x0 + 100, y0 + 100), (x0 + 200, y0 + 100), (x0 + 200, y0 + 200), (x0 + 100, y0 + 200)]
    geoms = gpd.GeoSeries([Polygon(shell), Polygon(shell, [sliver]), Polygon(shell, [square_hole]),
                           box(x0 + 100, y0 + 100, x0 + 200, y0 + 200),
                           MultiPolygon([Polygon(shell, [square_hole]), box(x0 + 1000, y0, x0 + 1100, y0 + 100)]),
                           box(x0 + 1000, y0, x0 + 1100, y0 + 100)], crs="EPSG:4543")
    whole, slivered, holed, hole, multi, other = ellipsoidal_area_m2(geoms)
    assert slivered == pytest.approx(whole - 0.5 * 280 * 1e-8, abs=1e-7)  # the hole: 1.4e-6 m²
    # a sliver part beside a large one (a site cut by a village boundary): densified with its geometry
    sliver_part = Polygon([(x0 + 500, y0 + 10), (x0 + 500, y0 + 290), (x0 + 500 + 1e-8, y0 + 150)])
    with_sliver, = ellipsoidal_area_m2(gpd.GeoSeries([MultiPolygon([Polygon(shell), sliver_part])], crs="EPSG:4543"))
    assert with_sliver == pytest.approx(whole + 0.5 * 280 * 1e-8, abs=1e-7)
    assert holed == pytest.approx(whole - hole, abs=1e-6) and multi == pytest.approx(holed + other, abs=1e-6)


def test_ring_areas_are_the_floats_geos_gives_the_rings_polygons():
    """The shoelace sum over flat coordinates equals shapely's polygon area bit for bit (Gauss-Kruger sized
    coordinates, random rings of 4 to 40 vertices, holes and a ring of two vertices), NaN vertices give NaN.
    """
    import shapely

    from kmrv_geo.units import ring_areas

    rng = np.random.default_rng(7)
    rings = []
    for n in rng.integers(3, 40, 500):
        angle = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = rng.uniform(5, 500, n)
        x0, y0 = rng.uniform(400_000, 700_000), rng.uniform(2_500_000, 3_000_000)
        rings.append(shapely.LinearRing(np.column_stack([x0 + radius * np.cos(angle), y0 + radius * np.sin(angle)])))
    rings = np.array(rings, dtype=object)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    assert ring_areas(coords, ring_of, len(rings)).tolist() == shapely.area(shapely.polygons(rings)).tolist()
    holed = shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (2, 4), (4, 4), (4, 2)]])
    coords, ring_of = shapely.get_coordinates(shapely.get_rings(holed), return_index=True)
    assert ring_areas(coords, ring_of, 2).tolist() == [100.0, 4.0]
    two = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0], [np.nan, 5.0], [6.0, 6.0], [5.0, 5.0]])
    area = ring_areas(two, np.array([0, 0, 1, 1, 1, 1]), 3)
    assert area[0] == 0.0 and np.isnan(area[1]) and area[2] == 0.0
    assert ring_areas(np.zeros((0, 2)), np.zeros(0, dtype=int), 2).tolist() == [0.0, 0.0]


def test_approximate_ellipsoidal_area_is_within_its_promised_error_and_refuses_what_it_cannot_promise():
    """Parcels from 10 m to 15 km across, from the zone's centre to its edge (1.5° off the central meridian), are
    within APPROXIMATION_ERROR of the measured ellipsoidal area (in fact 20 times closer); a geometry larger than
    APPROXIMATION_MAX_SIZE_M, an empty one and a geographic CRS get NaN.
    """
    import shapely

    from kmrv_geo.units import APPROXIMATION_ERROR, APPROXIMATION_MAX_SIZE_M, AreaMeasure

    rng = np.random.default_rng(11)
    geoms = []
    for size in np.geomspace(10, 15_000, 300):  # EPSG:4543: CM 102°E, false easting 500 km; x 350–650 km
        x, y = rng.uniform(350_000, 650_000), rng.uniform(2_600_000, 2_900_000)
        angle = np.sort(rng.uniform(0, 2 * np.pi, 9))
        geoms.append(shapely.Polygon(np.column_stack([x + size / 2 * np.cos(angle), y + size / 2 * np.sin(angle)])))
    measure = AreaMeasure("EPSG:4543")
    geoms = np.array(geoms, dtype=object)
    relative = np.abs(measure.approximate_ellipsoidal_m2(geoms) / measure.ellipsoidal_m2(geoms) - 1)
    assert relative.max() < APPROXIMATION_ERROR / 20
    big = shapely.box(500_000, 2_700_000, 500_000 + APPROXIMATION_MAX_SIZE_M, 2_700_100)
    assert np.isnan(measure.approximate_ellipsoidal_m2([big, shapely.Polygon(), None])).all()
    assert np.isnan(AreaMeasure("EPSG:4490").approximate_ellipsoidal_m2([shapely.box(102, 25, 102.001, 25.001)])).all()


def test_tbmj_settled_on_an_approximate_area_only_with_margin():
    """ε = 1e-5, tolerance 0.1 %: a share against the approximation below 0.1 % − 3ε(1.001) = 0.09697 % settles the
    parcel; at 0.0970 % or over, or with no usable approximation, the parcel must be measured; no TBMJ settles it.
    """
    from kmrv_geo.ridges import surely_within_tolerance

    approx = np.array([1000.0, 1000.0, 1000.0, 1000.0, np.nan, 0.0, 1000.0])
    recorded = np.array([1000.0, 1000.9696, 1000.9700, 998.0, 1000.0, 1000.0, np.nan])
    settled = surely_within_tolerance(recorded, approx, tolerance=0.001, relative_error=1e-5)
    assert settled.tolist() == [True, True, False, False, False, False, True]
