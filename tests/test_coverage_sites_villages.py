"""HSF coverage, facility sites and village profiles on layers small enough to check on paper.

Squares in EPSG:4543 metres; 100 m × 100 m = 15 亩.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point, box

from kmrv_geo import landuse
from kmrv_geo.analysis.changes import change_pieces
from kmrv_geo.analysis.coverage import analyse_coverage
from kmrv_geo.analysis.sites import facility_sites, fragmentation
from kmrv_geo.analysis.villages import layout_review, normalise_villages, village_profiles

X, Y = 560000.0, 2760000.0
CRS = "EPSG:4543"
MU = 10000 / 15


def sq(x0, y0, x1, y1):
    return box(X + x0, Y + y0, X + x1, Y + y1)


def landuse_layer(rows):
    frame = gpd.GeoDataFrame({"code": [c for c, _ in rows]}, geometry=[g for _, g in rows], crs=CRS)
    frame["category"] = landuse.DEFAULT_CLASSES.classify(frame["code"])
    return frame


def polygons(*geoms, **columns):
    return gpd.GeoDataFrame(columns, geometry=list(geoms), crs=CRS)


COUNTY = polygons(sq(-1000, -1000, 2000, 2000), county_code=["530111"], county_name=["官渡区"])


@pytest.fixture
def layers():
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0101", sq(100, 0, 200, 100)), ("0404", sq(200, 0, 300, 100))])
    t1 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0702", sq(100, 0, 200, 100)), ("0404", sq(200, 0, 300, 100))])
    pbf = polygons(sq(0, 0, 200, 100))
    # HSF: 50 m on the kept parcel, 50 m on the occupied parcel, 50 m on grassland that never was farmland
    hsf = polygons(sq(0, 0, 50, 100), sq(150, 0, 250, 100))
    return t0, t1, pbf, hsf


def test_coverage_share_and_gaps(layers):
    t0, t1, pbf, hsf = layers
    result = analyse_coverage(pbf=pbf, hsf=hsf, landuse_t1=t1, landuse_t0=t0, change_pieces=change_pieces(t0, t1),
                              zone_levels={"county": (COUNTY, ["county_code", "county_name"])})
    row = result.tables["coverage_by_county"].iloc[0]
    assert row.pbf_mu == pytest.approx(30.0) and row.hsf_mu == pytest.approx(22.5)
    assert row.hsf_on_pbf_mu == pytest.approx(15.0) and row.pbf_coverage == pytest.approx(0.5)
    assert row.farmland_mu == pytest.approx(15.0) and row.farmland_coverage == pytest.approx(0.5)
    gaps = result.hsf_gaps
    assert len(gaps) == 1 and gaps.iloc[0].area_mu == pytest.approx(15.0) and gaps.iloc[0]["rank"] == 1
    assert gaps.iloc[0].compactness == pytest.approx(np.pi / 4)


def test_hsf_outside_farmland_at_t0_vs_t1_and_occupied_by_construction(layers):
    t0, t1, pbf, hsf = layers
    result = analyse_coverage(pbf=pbf, hsf=hsf, landuse_t1=t1, landuse_t0=t0, change_pieces=change_pieces(t0, t1),
                              zone_levels={})
    outside = result.hsf_outside_farmland.set_index("outside")["area_mu"]
    assert outside["t0"] == pytest.approx(7.5)  # mapped onto grassland: never farmland
    assert outside["t1"] == pytest.approx(7.5)  # farmland at T0, construction at T1
    occupied = result.hsf_to_construction.iloc[0]
    assert (occupied.t0_code, occupied.t1_code) == ("0101", "0702") and occupied.area_mu == pytest.approx(7.5)


def test_gaps_ranked_largest_first():
    t1 = landuse_layer([("0101", sq(0, 0, 400, 100))])
    pbf = polygons(sq(0, 0, 100, 100), sq(200, 0, 400, 100))
    result = analyse_coverage(pbf=pbf, hsf=None, landuse_t1=t1, zone_levels={})
    assert result.hsf_gaps["area_mu"].tolist() == pytest.approx([30.0, 15.0])
    assert result.hsf_gaps["rank"].tolist() == [1, 2]


def test_blocks_join_across_a_ridge_but_not_across_a_road():
    t1 = landuse_layer([
        ("0101", sq(0, 0, 100, 100)), ("1203", sq(100, 0, 101.5, 100)), ("0103", sq(101.5, 0, 201.5, 100)),
        ("0101", sq(0, 500, 100, 600)), ("1006", sq(100, 500, 105, 600)), ("0101", sq(105, 500, 205, 600)),
    ])  # fmt: skip
    sites = facility_sites(t1, min_mu=30.0, pbf=polygons(sq(0, 0, 50, 100)), county=COUNTY)
    assert len(sites) == 1
    site = sites.iloc[0]
    assert site.area_mu == pytest.approx(30.0) and site.parcels == 2  # the ridge itself is not counted
    assert site.pbf_mu == pytest.approx(7.5) and site.on_pbf and site.pbf_share == pytest.approx(0.25)
    assert site.county_name == "官渡区" and site.site_id == "FS0001"


def test_a_block_of_29_9_mu_is_not_a_site():
    width = 29.9 * MU / 100  # 100 m deep
    t1 = landuse_layer([("0101", sq(0, 0, width / 2, 100)), ("0101", sq(width / 2, 0, width, 100))])
    assert facility_sites(t1, min_mu=30.0).empty
    assert len(facility_sites(t1, min_mu=29.9 - 1e-9)) == 1


def test_blocks_under_the_site_size_are_left_out_before_the_union():
    """Only blocks that can be sites are unioned: the same blocks, areas and shapes as from all blocks."""
    from kmrv_geo.analysis.sites import farmland_blocks

    t1 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0103", sq(100, 0, 200, 100)),  # 30 亩 in two parcels
                        ("0101", sq(0, 500, 50, 600)),  # 7.5 亩 alone
                        ("0101", sq(300, 0, 400, 100)), ("0702", sq(400, 0, 500, 100))])  # 15 亩 and construction
    every = farmland_blocks(t1)
    large = farmland_blocks(t1, min_mu=15.0)
    assert (every["area_m2"] / MU).tolist() == pytest.approx([30.0, 7.5, 15.0])
    assert (large["area_m2"] / MU).tolist() == pytest.approx([30.0, 15.0]) and large["parcels"].tolist() == [2, 1]
    assert all(a.equals(b) for a, b in zip(large.geometry, every.geometry.iloc[[0, 2]], strict=True))
    assert farmland_blocks(t1, min_mu=30.0 + 1e-9).empty


def test_fragmentation_per_village():
    t1 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0101", sq(100, 0, 120, 20)), ("0101", sq(120, 0, 140, 20)),
                        ("0702", sq(200, 0, 300, 100))])
    villages = polygons(sq(-10, -10, 400, 200), village=["甲村"], village_key=["530112001001"])
    row = fragmentation(t1, villages).iloc[0]
    assert row.farmland_parcels == 3
    assert row.farmland_mu == pytest.approx(15.0 + 2 * 400 / MU)
    assert row.share_under_1mu == pytest.approx(2 / 3)
    assert row.parcels_per_100mu == pytest.approx(3 / row.farmland_mu * 100)


def test_village_profile_distance_to_shore_and_layout():
    lake = polygons(sq(-1000, 0, -500, 500))
    t0 = landuse_layer([("0702", sq(0, 0, 50, 50)), ("0101", sq(50, 0, 100, 50))])
    t1 = landuse_layer([("0702", sq(0, 0, 50, 50)), ("0702", sq(50, 0, 100, 50))])
    layer = polygons(sq(-20, -20, 120, 120), sq(-480, 0, -400, 80), CMC=["甲村", "乙村"], LX=["重点村", "绿美村庄"])
    villages = normalise_villages(layer, {"name": "CMC", "category": "LX"})
    assert any("holds 2 villages, 1 重点村 and 1 绿美村庄" in w for w in villages.warnings)
    layout = layout_review(villages.frame, landuse_t0=t0, landuse_t1=t1, pbf=polygons(sq(50, 0, 75, 50)))
    profiles = village_profiles(villages, coverage=None, layout=layout, patches=None, sites=None, fragmentation=None,
                                lake=lake, county=COUNTY)
    first, second = profiles.iloc[0], profiles.iloc[1]
    assert first.distance_to_shore_m == pytest.approx(480.0) and second.distance_to_shore_m == pytest.approx(20.0)
    assert first.construction_t1_mu == pytest.approx(5000 / MU)
    assert first.new_construction_mu == pytest.approx(2500 / MU)
    assert first.construction_on_pbf_mu == pytest.approx(1250 / MU)
    assert first.county_name == "官渡区" and second.area_mu == pytest.approx(6400 / MU)


def test_point_villages_duplicates_and_missing_category_are_reported():
    layer = polygons(Point(X, Y), Point(X + 10, Y), CMC=["甲村", "甲村"])
    villages = normalise_villages(layer, {"name": "CMC"})
    text = " ".join(villages.warnings)
    assert "no category field" in text and "duplicate names" in text and "甲村 ×2" in text
    assert "holds points" in text and "area_mu" in text
    profiles = village_profiles(villages, coverage=None, layout=None, patches=None, sites=None, fragmentation=None,
                                lake=polygons(sq(100, -50, 200, 50)))
    assert profiles["area_mu"].isna().all()
    assert profiles["distance_to_shore_m"].tolist() == pytest.approx([100.0, 90.0])


def test_a_site_spanning_two_villages_counts_in_each_with_its_part():
    # One 300 m × 100 m farmland block (45 亩); 甲村 holds 100 m of it (15 亩), 乙村 200 m (30 亩).
    t1 = landuse_layer([("0101", sq(0, 0, 150, 100)), ("0101", sq(150, 0, 300, 100))])
    sites = facility_sites(t1, min_mu=30.0)
    assert len(sites) == 1 and sites["area_mu"].iloc[0] == pytest.approx(45.0)
    layer = polygons(sq(-50, -50, 100, 150), sq(100, -50, 350, 150), CMC=["甲村", "乙村"], LX=["重点村", "绿美村庄"])
    villages = normalise_villages(layer, {"name": "CMC", "category": "LX"})
    profiles = village_profiles(villages, coverage=None, layout=None, patches=None, sites=sites, fragmentation=None,
                                lake=None)
    assert profiles["facility_sites"].tolist() == [1, 1]
    assert profiles["facility_sites_mu"].tolist() == pytest.approx([15.0, 30.0])


def test_hsf_years_missing_or_odd_are_reported_not_dropped():
    from kmrv_geo.analysis.coverage import hsf_by_year

    # 15 亩 built 2019 (as int and as "2019年"), 7.5 亩 with no year, 15 亩 with a typo year 219.
    hsf = polygons(sq(0, 0, 100, 100), sq(100, 0, 200, 100), sq(200, 0, 250, 100), sq(300, 0, 400, 100),
                   JSND=["2019", "2019年", None, "219"])
    table, warnings = hsf_by_year(hsf, "JSND", current_year=2023)
    assert table["hsf_year"].tolist() == [2019, None]
    assert table["hsf_features"].tolist() == [2, 2]
    assert table["hsf_mu"].tolist() == pytest.approx([30.0, 22.5])
    assert len(warnings) == 1
    assert "2 个图斑（22.50 亩）" in warnings[0] and "JSND" in warnings[0] and "219 ×1" in warnings[0]
    _, none = hsf_by_year(hsf.iloc[:2], "JSND", current_year=2023)
    assert none == []


def test_villages_with_the_same_gap_to_the_mu_share_a_rank_whatever_float_noise_says():
    """Three villages whose PBF is all HSF (gap 0, one of them 1e-13 亩 by float noise) share the last rank; the
    village with a real gap ranks first.
    """
    import pandas as pd

    from kmrv_geo.analysis.keys import VILLAGE_KEY

    layer = polygons(*(sq(200 * k, 0, 200 * k + 100, 100) for k in range(4)), CMC=["甲村", "乙村", "丙村", "丁村"])
    villages = normalise_villages(layer, {"name": "CMC"})
    coverage = pd.DataFrame({VILLAGE_KEY: villages.frame[VILLAGE_KEY], "farmland_mu": [12.0] * 4,
                             "pbf_mu": [10.0, 10.0, 10.0, 10.0], "pbf_coverage": [1.0, 1.0, 1.0, 0.4],
                             "hsf_on_pbf_mu": [10.0, 10.0 - 1e-13, 10.0, 4.0], "pbf_gap_mu": [0.0, 1e-13, 0.0, 6.0]})
    profiles = village_profiles(villages, coverage=coverage, layout=None, patches=None, sites=None,
                                fragmentation=None, lake=None)
    assert profiles["rank_gap"].tolist() == [2, 2, 2, 1]
