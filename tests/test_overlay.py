"""The overlay engine's building blocks, on geometries small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point, box

from kmrv_geo.overlay import intersect_pairs, outside_of, polygonal_parts


def test_polygonal_parts_keeps_polygons_of_collections_in_any_position():
    # Collections with polygons at positions 1 and 3, one without polygons at 2: shapely needs
    # consecutive owner indices, so the owners must be renumbered (this crashed on the demo once).
    mixed_a = shapely.GeometryCollection([box(0, 0, 1, 1), LineString([(0, 0), (5, 5)])])
    lines_only = shapely.GeometryCollection([LineString([(0, 0), (1, 1)]), Point(3, 3)])
    mixed_b = shapely.GeometryCollection([box(0, 0, 2, 2), box(5, 5, 6, 6), Point(9, 9)])
    geoms = np.array([box(0, 0, 3, 3), mixed_a, lines_only, mixed_b, LineString([(0, 0), (1, 0)])], dtype=object)
    out = polygonal_parts(geoms)
    assert out[0].area == 9
    assert out[1].area == 1 and out[1].geom_type == "MultiPolygon"
    assert out[2] is None
    assert out[3].area == 5 and len(out[3].geoms) == 2
    assert out[4] is None


def test_intersect_pairs_drops_edge_contacts_and_shortcuts_covered_parcels():
    left = np.array([box(0, 0, 10, 10), box(10, 0, 20, 10)], dtype=object)
    right = np.array([box(-1, -1, 11, 11), box(15, 0, 30, 10)], dtype=object)
    li, ri, pieces = intersect_pairs(left, right)
    got = sorted(zip(li.tolist(), ri.tolist(), np.round(shapely.area(pieces), 9).tolist(), strict=True))
    # left 0 is covered by right 0 (100 m²); left 1 meets right 0 on 1 m strip (10 m²) and right 1 (50 m²).
    assert got == [(0, 0, 100.0), (1, 0, 10.0), (1, 1, 50.0)]
    assert pieces[(li == 0) & (ri == 0)][0] is left[0]


def test_dissolve_zones_unions_only_overlapping_groups():
    from kmrv_geo.overlay import dissolve_zones

    a, b = box(0, 0, 10, 10), box(5, 0, 15, 10)  # overlap by 50 m²
    c, d = box(20, 0, 30, 10), box(30, 0, 40, 10)  # edge neighbours: kept apart, nothing to union
    out = dissolve_zones(np.array([a, b, c, d], dtype=object))
    assert sorted(np.round(shapely.area(out), 9).tolist()) == [100.0, 100.0, 150.0]
    assert sum(shapely.area(out)) == shapely.union_all([a, b, c, d]).area


def test_dissolve_zones_takes_multipolygons_part_by_part():
    """Two plan multipolygons whose parts interleave: only the two parts that overlap are united; the union is
    the same as of the whole multipolygons.
    """
    from shapely.geometry import MultiPolygon

    from kmrv_geo.overlay import dissolve_zones

    first = MultiPolygon([box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10)])
    second = MultiPolygon([box(10, 0, 20, 10), box(25, 0, 35, 10)])  # edge neighbour; overlaps 20-30 by 50 m²
    out = dissolve_zones(np.array([first, second], dtype=object))
    assert sorted(np.round(shapely.area(out), 9).tolist()) == [100.0, 100.0, 100.0, 150.0]
    assert shapely.area(out).sum() == pytest.approx(shapely.union_all([first, second]).area)
    assert all(shapely.get_type_id(out) == 3)


def test_merge_contiguous_joins_edge_neighbours_not_corner_neighbours():
    from kmrv_geo.overlay import merge_contiguous

    a, b = box(0, 0, 10, 10), box(10, 0, 20, 10)  # share an edge: one block of 200 m²
    c = box(20, 10, 30, 20)  # touches b at a corner only: its own block
    d = box(50, 50, 60, 60)
    out = merge_contiguous(np.array([a, b, c, d], dtype=object))
    assert sorted(np.round(shapely.area(out), 9).tolist()) == [100.0, 100.0, 200.0]


def test_identical_parcel_matching_gives_exactly_the_pieces_of_the_full_overlay():
    """Four T0 farmland parcels: identical at T1; identical with its ring started elsewhere and turned the
    other way; with an extra vertex on a straight edge (the same land, not the same bytes); truly changed.
    """
    import geopandas as gpd
    from shapely.geometry import Polygon, box

    from kmrv_geo.analysis.changes import change_pieces
    from kmrv_geo.landuse import DEFAULT_CLASSES
    from kmrv_geo.overlay import identical_pairs

    x, y = 570_000.0, 2_770_000.0
    a = box(x, y, x + 100, y + 100)
    b = box(x + 100, y, x + 200, y + 100)
    c = box(x + 200, y, x + 300, y + 100)
    d = box(x + 300, y, x + 400, y + 100)
    b_turned = Polygon([(x + 200, y + 100), (x + 200, y), (x + 100, y), (x + 100, y + 100)])  # other start, cw
    c_extra = Polygon([(x + 200, y), (x + 250, y), (x + 300, y), (x + 300, y + 100), (x + 200, y + 100)])
    d_changed = [box(x + 300, y, x + 350, y + 100), box(x + 350, y, x + 400, y + 100)]

    def layer(codes, geoms):
        frame = gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs="EPSG:4543")
        frame["category"] = DEFAULT_CLASSES.classify(frame["code"]).to_numpy()
        return frame

    t0 = layer(["0101"] * 4, [a, b, c, d])
    t1 = layer(["0101", "0102", "0103", "0702", "0103"], [a, b_turned, c_extra, *d_changed])
    li, ri = identical_pairs(t0.geometry.values, t1.geometry.values)
    assert list(zip(li, ri, strict=True)) == [(0, 0), (1, 1)]  # the extra vertex is not the same bytes
    fast = change_pieces(t0, t1, partitions=True)
    full = change_pieces(t0, t1)
    assert list(zip(fast["t0_pos"], fast["t1_pos"], strict=True)) == list(zip(full["t0_pos"], full["t1_pos"],
                                                                           strict=True))
    assert list(fast["change_class"]) == list(full["change_class"]) == ["kept", "kept", "kept", "nonagri", "kept"]
    assert fast["area_m2"].to_numpy() == pytest.approx(full["area_m2"].to_numpy(), abs=1e-9)
    assert all(g1.equals(g2) for g1, g2 in zip(fast.geometry, full.geometry, strict=True))
    # the twins the load matched (second date against the first, turned round) give the same pieces
    from kmrv_geo.overlay import identical_twins, inverse_twins

    at_load = inverse_twins(identical_twins(t1.geometry.values, t0.geometry.values), len(t0))
    assert at_load.tolist() == [0, 1, -1, -1]
    reused = change_pieces(t0, t1, partitions=True, twins=at_load)
    assert reused.drop(columns="geometry").equals(fast.drop(columns="geometry"))
    assert shapely.equals_identical(reused.geometry.values, fast.geometry.values).all()
    with pytest.raises(ValueError, match="3 values for 4 T0 parcels"):
        change_pieces(t0, t1, partitions=True, twins=at_load[:3])


def test_inverse_twins_take_the_first_copy():
    from kmrv_geo.overlay import inverse_twins

    assert inverse_twins(np.array([2, -1, 2, 0]), 4).tolist() == [3, -1, 0, -1]
    assert inverse_twins(np.array([], dtype=int), 2).tolist() == [-1, -1]


def test_identical_twins_are_found_as_stored_and_normalised():
    """Bit-identical parcels match first; the rest match after normalising; an extra vertex is another shape."""
    from shapely.geometry import Polygon, box

    from kmrv_geo.overlay import identical_twins

    a, b, c = box(0, 0, 10, 10), box(10, 0, 20, 10), box(20, 0, 30, 10)
    b_turned = Polygon([(20, 10), (20, 0), (10, 0), (10, 10)])
    c_extra = Polygon([(20, 0), (25, 0), (30, 0), (30, 10), (20, 10)])
    left = np.array([a, b, c, None, Polygon()], dtype=object)
    right = np.array([c_extra, b_turned, shapely.Polygon(a.exterior.coords), Polygon()], dtype=object)
    assert identical_twins(left, right).tolist() == [2, 1, -1, -1, -1]


def test_unchanged_non_farmland_skips_the_new_farmland_overlay_and_gives_the_same_pieces():
    """Whole-layer twins serve both overlays: a non-farmland parcel that stays non-farmland (same shape) is
    looked at by neither; one that becomes farmland in the same shape is its own supplement piece; one
    reshaped into farmland goes through GEOS. Pieces, classes and the whole-parcel flag equal the full overlay's.
    """
    import geopandas as gpd
    from shapely.geometry import box

    from kmrv_geo.analysis.changes import change_pieces
    from kmrv_geo.landuse import DEFAULT_CLASSES

    x, y = 570_000.0, 2_770_000.0
    cells = [box(x + 100 * k, y, x + 100 * (k + 1), y + 100) for k in range(4)]
    split = [box(x + 300, y, x + 340, y + 100), box(x + 340, y, x + 400, y + 100)]

    def layer(codes, geoms):
        frame = gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs="EPSG:4543")
        frame["category"] = DEFAULT_CLASSES.classify(frame["code"]).to_numpy()
        return frame

    t0 = layer(["0101", "0702", "0301", "0702"], cells)
    t1 = layer(["0101", "0702", "0103", "0101", "0702"], cells[:3] + split)
    fast = change_pieces(t0, t1, partitions=True)
    full = change_pieces(t0, t1)
    assert list(zip(fast["t0_pos"], fast["t1_pos"], fast["change_class"], strict=True)) == [
        (0, 0, "kept"), (2, 2, "supplement"), (3, 3, "supplement")]
    assert fast.drop(columns="geometry").equals(full.drop(columns="geometry"))
    assert shapely.equals_identical(fast.geometry.values, full.geometry.values).all()
    assert fast["t0_whole"].tolist() == [True, True, False]
    assert fast["area_m2"].tolist() == [10_000.0, 10_000.0, 4_000.0]


def test_threads_never_share_a_prepared_geometry(monkeypatch):
    """GEOS prepared geometries are not thread-safe: with ``groups`` every group's elements go to one chunk, and
    the result is element for element the unthreaded one.
    """
    from kmrv_geo import overlay

    monkeypatch.setattr(overlay, "CHUNK_MIN", 1)
    groups = np.repeat(np.arange(5), [3, 1, 4, 4, 2])  # 14 elements; plain edges would cut groups 2 and 3
    seen = []

    def record(values):
        seen.append(values.copy())
        return values * 2

    out = overlay.threaded(record, groups.astype(float), workers=3, groups=groups)
    assert out.tolist() == (groups * 2).tolist()
    assert sum(len(chunk) for chunk in seen) == len(groups) and len(seen) >= 2
    owners = [set(chunk.tolist()) for chunk in seen]
    assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1:])  # no group in two chunks


def test_intersect_pairs_keeps_query_order_when_pairs_run_grouped_by_right(monkeypatch):
    """Pairs run in right-geometry order on several threads, yet come back in the STRtree query's order with the
    same pieces as one thread gives.
    """
    from shapely.geometry import box

    from kmrv_geo import overlay

    zones = np.array([box(0, 0, 50, 100), box(50, 0, 100, 100)], dtype=object)
    parcels = np.array([box(x, y, x + 10, y + 10) for x in range(-5, 100, 10) for y in range(0, 100, 10)],
                       dtype=object)
    monkeypatch.setattr(overlay, "WORKERS", 1)
    one = overlay.intersect_pairs(parcels, zones)
    monkeypatch.setattr(overlay, "WORKERS", 3)
    monkeypatch.setattr(overlay, "CHUNK_MIN", 1)
    many = overlay.intersect_pairs(parcels, zones)
    assert one[0].tolist() == many[0].tolist() and one[1].tolist() == many[1].tolist()
    assert shapely.equals_identical(one[2], many[2]).all()
    assert one[0].tolist() == sorted(one[0].tolist())  # grouped by the parcel, as the query gives them
    assert shapely.area(many[2]).sum() == pytest.approx(100 * 100, abs=1e-9)  # the zones' land, once


def test_outside_of_takes_away_only_the_zones_each_geometry_meets():
    square = shapely.box(0, 0, 90, 90)  # 8,100 m²
    zones = np.array([shapely.box(-10, -10, 30, 100), shapely.box(60, -10, 100, 100),  # its left and right thirds
                      shapely.box(30, 80, 60, 120),  # a strip along its top, between the two
                      shapely.box(500, 500, 600, 600)], dtype=object)  # far away
    alone = shapely.box(1000, 0, 1010, 10)
    half_in = shapely.box(560, 560, 640, 640)
    rest = outside_of(np.array([square, alone, half_in], dtype=object), zones)
    assert rest[0].area == pytest.approx(30 * 80)  # the middle third below the strip
    assert shapely.equals(rest[0], shapely.box(30, 0, 60, 80))
    assert rest[1] is alone  # meets no zone: unchanged
    assert rest[2].area == pytest.approx(80 * 80 - 40 * 40)


def test_areas_by_zone_weights_one_overlay_as_area_by_zone_does_each():
    from kmrv_geo.overlay import area_by_zone, areas_by_zone

    geoms = np.array([box(0, 0, 10, 10), box(10, 0, 30, 10), box(30, 0, 35, 10)], dtype=object)
    zones = np.array([box(0, 0, 20, 10), box(20, 0, 40, 10)], dtype=object)
    net = np.array([0.9, 0.5, 1.0])
    gross, weighted = areas_by_zone(geoms, zones, weights=[None, net])
    assert gross.tolist() == [200.0, 150.0] == area_by_zone(geoms, zones).tolist()
    assert weighted.tolist() == pytest.approx([90.0 + 50.0, 50.0 + 50.0])
    assert weighted.tolist() == area_by_zone(geoms, zones, weights=net).tolist()


def test_pairs_searched_from_the_large_side_are_the_same_pairs_and_pieces():
    """Zones (few, large) finding the parcels they meet give the pairs and pieces a search from every parcel
    gives, ordered by parcel then zone; only symmetric predicates may be searched the other way.
    """
    from shapely.geometry import box

    from kmrv_geo.overlay import intersect_pairs

    parcels = np.array([box(x, y, x + 10, y + 10) for x in range(0, 100, 10) for y in range(0, 50, 10)], dtype=object)
    zones = np.array([box(-5, -5, 42, 60), box(42, -5, 200, 25), box(42, 25, 200, 60)], dtype=object)
    li, ri, pieces = intersect_pairs(parcels, zones)
    sl, sr, spieces = intersect_pairs(parcels, zones, search_from="right")
    # 50 parcels; the column x = 40…50 is cut at x = 42 (5 more pieces), the row y = 20…30 at y = 25 east of x = 42
    # (6 more)
    assert list(zip(sl, sr, strict=True)) == sorted(zip(li, ri, strict=True)) and len(sl) == 50 + 5 + 6
    by_pair = {(a, b): p for a, b, p in zip(li, ri, pieces, strict=True)}
    assert all(shapely.equals(p, by_pair[a, b]) for a, b, p in zip(sl, sr, spieces, strict=True))
    assert sum(shapely.area(spieces)) == pytest.approx(100 * 50)
    with pytest.raises(ValueError, match="symmetric"):
        intersect_pairs(parcels, zones, predicate="within", search_from="right")


def test_union_runs_on_threads_equals_each_run_united_here():
    from shapely.geometry import box

    from kmrv_geo.overlay import union_runs

    geoms = np.array([box(x, 0, x + 10, 10) for x in range(0, 500, 10)] + [box(0, 100, 5, 105)], dtype=object)
    starts = np.array([0, 3, 4, 40, 50])
    threads = union_runs(geoms, starts, workers=2)
    here = union_runs(geoms, starts, workers=1)
    assert len(threads) == 5 and all(a.equals_exact(b, 0) for a, b in zip(threads, here, strict=True))
    assert shapely.area(threads).tolist() == [300.0, 100.0, 3600.0, 1000.0, 25.0]
    assert threads[0].equals(box(0, 0, 30, 10))


def test_query_on_threads_gives_the_pairs_of_one_query_in_its_order(monkeypatch):
    from kmrv_geo import overlay

    monkeypatch.setattr(overlay, "CHUNK_MIN", 10)
    rng = np.random.default_rng(1)
    geoms = shapely.buffer(shapely.points(rng.random((3000, 2)) * 300), rng.random(3000) * 5)
    tree = shapely.STRtree(geoms)
    for query in ({}, {"predicate": "intersects"}, {"predicate": "dwithin", "distance": 2.0}):
        i, j = tree.query(geoms, **query)
        ti, tj = overlay.query_threaded(tree, geoms, workers=3, **query)
        assert np.array_equal(i, ti) and np.array_equal(j, tj) and len(i) > 3000


def test_difference_of_a_geometry_inside_one_cutter_is_nothing_and_the_rest_is_cut():
    from kmrv_geo.overlay import difference_from

    cutters = np.array([box(0, 0, 10, 10), box(10, 0, 20, 10)], dtype=object)
    geoms = np.array([box(2, 2, 8, 8),  # inside the first cutter
                      box(0, 0, 10, 10),  # the first cutter itself (an unchanged parcel)
                      box(5, 5, 15, 15),  # half out
                      box(30, 30, 31, 31)], dtype=object)  # meets no cutter
    out = difference_from(geoms, cutters)
    assert out[0] is None and out[1] is None
    assert out[2].area == pytest.approx(50.0) and out[2].equals(box(5, 10, 15, 15))
    assert out[3] is geoms[3]


def test_identical_twins_confirm_every_hash_match_exactly(monkeypatch):
    """The coordinate hash only proposes twins: with every hash equal (the worst collisions) the answer is the
    same, shapes with the same coordinates in another structure are no twins as stored, copies take the first.
    """
    from shapely.geometry import MultiPolygon, Polygon, box

    from kmrv_geo import overlay

    holed = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (2, 4), (4, 4), (4, 2)]])
    split = MultiPolygon([Polygon([(0, 0), (10, 0), (10, 10), (0, 10)]),
                          Polygon([(2, 2), (2, 4), (4, 4), (4, 2)])])  # the same coordinates in the same order
    a, b = box(20, 0, 30, 10), box(30, 0, 40, 10)
    left = np.array([holed, split, a, b, None], dtype=object)
    right = np.array([split, a, shapely.Polygon(a.exterior.coords), holed, Polygon()], dtype=object)
    expected = [3, 0, 1, -1, -1]
    assert overlay.identical_twins(left, right).tolist() == expected
    assert overlay._coordinate_hashes(np.array([holed]))[0] != overlay._coordinate_hashes(np.array([split]))[0]
    monkeypatch.setattr(overlay, "_coordinate_hashes", lambda geoms: np.zeros(len(geoms), dtype=np.uint64))
    assert overlay.identical_twins(left, right).tolist() == expected
