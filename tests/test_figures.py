"""Figures an official signs, on layers small enough to work out on paper (issue: numbers an official can sign).

Parcels are squares in EPSG:4543 metres: 100 m × 100 m = 10000 m² = 15 亩 exactly (planar). Each test
states the figure worked out by hand; where the analysis measures ellipsoidal areas the paper figure is
the planar one times the ellipsoidal/planar ratio of the same square, measured independently with
``pyproj.Geod`` (geodesic polygon area on GRS80).
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely import affinity
from shapely.geometry import Polygon, box

from kmrv_geo import landuse, pipeline
from kmrv_geo.analysis.balances import violations_table
from kmrv_geo.analysis.coverage import analyse_coverage
from kmrv_geo.analysis.violations import analyse_violations, build_zones
from kmrv_geo.checks import check_vector
from kmrv_geo.layers import FID, ReadResult
from kmrv_geo.overlay import intersect_pairs, recording_recomputes
from kmrv_geo.report import HEADINGS
from kmrv_geo.units import ELLIPSOIDAL, M2_PER_MU, PLANAR, AreaMeasure

X, Y = 560000.0, 2760000.0
CRS = "EPSG:4543"
MIN = {"construction": 200.0, "facility": 200.0, "agricultural": 400.0, "other": 600.0}
PLANAR_MEASURE = AreaMeasure(CRS, PLANAR)


def sq(x0, y0, x1, y1):
    return box(X + x0, Y + y0, X + x1, Y + y1)


def landuse_layer(rows, shares=None):
    frame = gpd.GeoDataFrame({"code": [c for c, _ in rows]}, geometry=[g for _, g in rows], crs=CRS)
    frame["category"] = landuse.DEFAULT_CLASSES.classify(frame["code"])
    if shares is not None:
        frame["ridge_share"] = np.asarray(shares, dtype=float)
    return frame


def polygons(*geoms):
    return gpd.GeoDataFrame(geometry=list(geoms), crs=CRS)


ONE_COUNTY = build_zones(gpd.GeoDataFrame({"XZQDM": ["530111"], "XZQMC": ["官渡区"]},
                                          geometry=[sq(-1000, -1000, 1000, 1000)], crs=CRS))


def run(t0, t1, *, zones=ONE_COUNTY, approvals=None, pbf=None, measure=PLANAR_MEASURE):
    return analyse_violations(t0, t1, zones=zones, approvals=approvals, pbf=pbf, min_patch_m2=MIN, measure=measure)


def geodesic_m2(geom) -> float:
    """Independent ellipsoidal area: pyproj.Geod on GRS80 of the polygon's vertices in lon/lat."""
    to_lonlat = Transformer.from_crs(CRS, "EPSG:4490", always_xy=True)
    area, _ = Geod(ellps="GRS80").geometry_area_perimeter(shapely.transform(geom, lambda c: np.column_stack(
        to_lonlat.transform(c[:, 0], c[:, 1]))))
    return abs(area)


# -- 1. a part of a patch is the area of that part's geometry ---------------------------------------------------


def test_partly_approved_patch_whose_approved_half_lies_on_pbf_has_no_illegal_pbf():
    # 0101 → 0601 on 100 × 100 m; approvals and PBF both cover the western half (x 0–50).
    # Paper: approved 7.5 亩, illegal 7.5 亩, illegal part on PBF 0 亩, the patch's PBF 7.5 亩.
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100))])
    t1 = landuse_layer([("0601", sq(0, 0, 100, 100))])
    result = run(t0, t1, approvals=polygons(sq(0, 0, 50, 100)), pbf=polygons(sq(0, 0, 50, 100)))
    patch = result.patches.iloc[0]
    assert patch.status == "partly_approved"
    assert patch.approved_mu == pytest.approx(7.5, rel=1e-12)
    assert patch.illegal_mu == pytest.approx(7.5, rel=1e-12)
    assert patch.pbf_mu == pytest.approx(7.5, rel=1e-12)
    assert patch.illegal_pbf_mu == pytest.approx(0.0, abs=1e-9)
    table = violations_table(result.patches, ["county_code", "county_name"]).iloc[0]
    assert table.illegal_on_pbf_mu == pytest.approx(0.0, abs=1e-9)
    assert table.changed_on_pbf_mu == pytest.approx(7.5, rel=1e-12)


def test_partly_approved_patch_whose_illegal_part_lies_partly_on_pbf():
    # approvals x 0–50; PBF x 25–100 → illegal part (x 50–100) is all on PBF: 7.5 亩; PBF of the patch 11.25 亩.
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100))])
    t1 = landuse_layer([("0601", sq(0, 0, 100, 100))])
    result = run(t0, t1, approvals=polygons(sq(0, 0, 50, 100)), pbf=polygons(sq(25, 0, 100, 100)))
    patch = result.patches.iloc[0]
    assert patch.illegal_pbf_mu == pytest.approx(7.5, rel=1e-12)
    assert patch.pbf_mu == pytest.approx(11.25, rel=1e-12)


def test_pbf_freeze_lists_approved_conversion_on_pbf_per_county():
    # 一冻结: approvals x 0–50, PBF x 25–100. Paper: conversion on PBF 11.25 亩 = approved 3.75 (x 25–50)
    # + unapproved 7.5 (x 50–100); a second patch (x 200–300, off PBF) adds nothing.
    from kmrv_geo.analysis.balances import pbf_conversion_table

    t0 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0101", sq(200, 0, 300, 100))])
    t1 = landuse_layer([("0601", sq(0, 0, 100, 100)), ("0601", sq(200, 0, 300, 100))])
    result = run(t0, t1, approvals=polygons(sq(0, 0, 50, 100)), pbf=polygons(sq(25, 0, 100, 100)))
    on_pbf = result.patches.sort_values("pbf_mu").iloc[-1]
    assert on_pbf.approved_pbf_mu == pytest.approx(3.75, rel=1e-12)
    table = pbf_conversion_table(result.patches, ["county_code", "county_name"]).iloc[0]
    assert table.patches == 1
    assert table.pbf_converted_mu == pytest.approx(11.25, rel=1e-12)
    assert table.pbf_converted_approved_mu == pytest.approx(3.75, rel=1e-12)
    assert table.illegal_pbf_mu == pytest.approx(7.5, rel=1e-12)
    unjudged = pbf_conversion_table(run(t0, t1, pbf=polygons(sq(25, 0, 100, 100))).patches, ["county_code"]).iloc[0]
    assert unjudged.pbf_converted_unjudged_mu == pytest.approx(11.25, rel=1e-12)
    assert np.isnan(unjudged.pbf_converted_approved_mu) and np.isnan(unjudged.illegal_pbf_mu)


def test_illegal_patch_across_two_villages_and_two_pbf_parcels():
    # 0103 → 0702 on x 0–200 (30 亩); villages split at x = 100; PBF parcels x 0–50 (full height) and
    # x 150–200, y 0–50. No approvals. Paper, per village: illegal 15 亩 each; illegal on PBF 7.5 亩 (甲)
    # and 3.75 亩 (乙).
    t0 = landuse_layer([("0103", sq(0, 0, 200, 100))])
    t1 = landuse_layer([("0702", sq(0, 0, 200, 100))])
    villages = gpd.GeoDataFrame({"CMC": ["甲村", "乙村"]}, geometry=[sq(-100, -100, 100, 200), sq(100, -100, 300, 200)],
                                crs=CRS)
    zones = build_zones(gpd.GeoDataFrame({"XZQDM": ["530111"], "XZQMC": ["官渡区"]},
                                         geometry=[sq(-1000, -1000, 1000, 1000)], crs=CRS), village=villages)
    result = run(t0, t1, zones=zones, approvals=polygons(sq(900, 900, 950, 950)),
                 pbf=polygons(sq(0, 0, 50, 100), sq(150, 0, 200, 50)))
    by_village = violations_table(result.patches, ["village"]).set_index("village")
    assert by_village.loc["甲村", "illegal_mu"] == pytest.approx(15.0, rel=1e-12)
    assert by_village.loc["乙村", "illegal_mu"] == pytest.approx(15.0, rel=1e-12)
    assert by_village.loc["甲村", "illegal_on_pbf_mu"] == pytest.approx(7.5, rel=1e-12)
    assert by_village.loc["乙村", "illegal_on_pbf_mu"] == pytest.approx(3.75, rel=1e-12)
    assert by_village["illegal_on_pbf_mu"].sum() == pytest.approx(11.25, rel=1e-12)


# -- 2. near-degenerate input: repaired at load, recomputed in the overlay ------------------------------------


def _degenerate_case():
    """A farmland parcel and an HSF polygon with a 1e-9 m wide hole along the parcel's west edge, rotated so
    that GEOS's plain intersection returns only lines (found by a search over rotations).
    """
    w, h, angle = 80.0, 120.0, 0.0
    for angle in np.linspace(1, 89, 400):
        parcel = affinity.translate(affinity.rotate(Polygon([(0, 0), (w, 0), (w, h), (0, h)]), angle, origin=(0, 0)),
                                    X + 300, Y + 300)
        hole = [(0, 30), (1e-9, 60), (0, 90)]
        hsf = Polygon([(-50, -50), (w + 50, -50), (w + 50, h + 50), (-50, h + 50)], [hole])
        hsf = affinity.translate(affinity.rotate(hsf, angle, origin=(0, 0)), X + 300, Y + 300)
        if hsf.is_valid and shapely.intersection(parcel, hsf).area < 1.0:
            return parcel, hsf
    pytest.skip("this GEOS build intersects every rotation correctly")


def test_overlay_recomputes_a_pair_geos_loses_and_records_it():
    parcel, hsf = _degenerate_case()
    with recording_recomputes() as recomputed:
        li, ri, pieces = intersect_pairs(np.array([parcel], dtype=object), np.array([hsf], dtype=object))
    assert len(pieces) == 1
    assert pieces[0].area == pytest.approx(parcel.area, rel=1e-9)  # the whole parcel: 9600 m²
    assert len(recomputed) == 1 and recomputed[0]["area_after_m2"] == pytest.approx(9600.0, rel=1e-9)


def test_coverage_keeps_a_parcel_under_hsf_with_a_degenerate_hole():
    # Paper: the parcel (80 × 120 m = 14.4 亩) is all HSF-covered farmland; nothing of the HSF around it
    # outside farmland is the parcel.
    parcel, hsf = _degenerate_case()
    t1 = landuse_layer([("0103", parcel)])
    county = gpd.GeoDataFrame({"county_code": ["530111"], "county_name": ["官渡区"]},
                              geometry=[sq(-1000, -1000, 1000, 1000)], crs=CRS)
    result = analyse_coverage(pbf=None, hsf=polygons(hsf), landuse_t1=t1,
                              zone_levels={"county": (county, ["county_code", "county_name"])}, measure=PLANAR_MEASURE)
    row = result.tables["coverage_by_county"].iloc[0]
    assert row.hsf_on_farmland_mu == pytest.approx(9600 / M2_PER_MU, rel=1e-9)
    outside = result.hsf_outside_farmland["area_mu"].sum()
    assert outside == pytest.approx((hsf.area - parcel.area) / M2_PER_MU, rel=1e-9)


def test_load_repairs_a_degenerate_hole_and_reports_areas_before_and_after():
    _parcel, hsf = _degenerate_case()
    frame = gpd.GeoDataFrame({FID: [7]}, geometry=[hsf], crs=CRS)
    kept, report = check_vector(ReadResult(frame=frame, path=Path("hsf.gpkg"), layer=None, driver="GPKG"), role="hsf",
                                target_crs=CRS)
    assert report.n_repaired == 1 and len(kept) == 1
    row = report.repaired.iloc[0]
    assert row.fid == 7 and "degenerate" in row.reason
    assert row.area_before_m2 == pytest.approx(hsf.area, rel=1e-12)
    assert row.area_after_m2 == pytest.approx(Polygon(hsf.exterior).area, rel=1e-12)
    assert len(kept.geometry.iloc[0].interiors) == 0


def test_load_removes_a_spike():
    spiked = Polygon([(X, Y), (X + 100, Y), (X + 100, Y + 50), (X + 150, Y + 50 + 1e-7), (X + 100, Y + 50 + 2e-7),
                      (X + 100, Y + 100), (X, Y + 100)])
    frame = gpd.GeoDataFrame({FID: [1]}, geometry=[spiked], crs=CRS)
    kept, report = check_vector(ReadResult(frame=frame, path=Path("t.gpkg"), layer=None, driver="GPKG"), role="pbf",
                                target_crs=CRS)
    assert report.n_repaired == 1
    assert kept.geometry.iloc[0].area == pytest.approx(10000.0, rel=1e-9)
    assert shapely.get_num_coordinates(kept.geometry.iloc[0]) < shapely.get_num_coordinates(spiked)


# -- 3. facility agriculture land gets the 200 m² minimum -------------------------------------------------------


def test_300_m2_facility_patch_on_pbf_is_a_nongrain_finding():
    # 0103 → 1202 on 15 × 20 m = 300 m² (0.45 亩) inside PBF: above the facility minimum (200 m²), below the
    # agricultural one (400 m²). Paper: one nongrain_on_pbf patch of 0.45 亩, all of it on PBF.
    t0 = landuse_layer([("0103", sq(0, 0, 100, 100))])
    t1 = landuse_layer([("1202", sq(0, 0, 15, 20)), ("0103", sq(0, 0, 100, 100).difference(sq(0, 0, 15, 20)))])
    result = run(t0, t1, approvals=polygons(sq(900, 900, 950, 950)), pbf=polygons(sq(0, 0, 100, 100)))
    assert len(result.below_min) == 0
    patch = result.patches.iloc[0]
    assert (patch.status, patch.t1_code) == ("nongrain_on_pbf", "1202")
    assert patch.area_mu == pytest.approx(0.45, rel=1e-12) and patch.pbf_mu == pytest.approx(0.45, rel=1e-12)
    # a 300 m² orchard is below its 400 m² minimum
    t1b = landuse_layer([("0201", sq(0, 0, 15, 20)), ("0103", sq(0, 0, 100, 100).difference(sq(0, 0, 15, 20)))])
    other = run(t0, t1b, approvals=polygons(sq(900, 900, 950, 950)), pbf=polygons(sq(0, 0, 100, 100)))
    assert len(other.patches) == 0 and len(other.below_min) == 1


# -- 4. net of field ridges (田坎) and ellipsoidal areas --------------------------------------------------------


def test_parcel_with_ridge_share_012_gross_and_net():
    # 0103 (KCXS 0.12) → 0702 on 100 × 100 m, half approved (x 0–50). Paper: gross 15 亩, net 15 × 0.88 = 13.2 亩;
    # illegal gross 7.5, net 6.6 亩.
    t0 = landuse_layer([("0103", sq(0, 0, 100, 100))], shares=[0.12])
    t1 = landuse_layer([("0702", sq(0, 0, 100, 100))], shares=[0.0])
    result = run(t0, t1, approvals=polygons(sq(0, 0, 50, 100)), pbf=polygons(sq(900, 900, 950, 950)))
    patch = result.patches.iloc[0]
    assert patch.area_mu == pytest.approx(15.0, rel=1e-12) and patch.net_mu == pytest.approx(13.2, rel=1e-12)
    assert patch.illegal_net_mu == pytest.approx(6.6, rel=1e-12)
    table = violations_table(result.patches, ["county_code"]).iloc[0]
    assert table.nonagri_net_mu == pytest.approx(13.2, rel=1e-12) and table.illegal_net_mu == pytest.approx(6.6)
    assert result.farmland["nonagri_net_m2"] == pytest.approx(8800.0, rel=1e-12)


def test_new_farmland_net_uses_the_t1_parcels_share():
    # 0204 → 0103 (T1 KCXS 0.10) on 100 × 100 m: new farmland 15 亩 gross, 13.5 亩 net.
    t0 = landuse_layer([("0204", sq(0, 0, 100, 100))], shares=[0.0])
    t1 = landuse_layer([("0103", sq(0, 0, 100, 100))], shares=[0.10])
    patch = run(t0, t1).patches.iloc[0]
    assert patch.change_class == "supplement" and patch.net_mu == pytest.approx(13.5, rel=1e-12)


def test_ellipsoidal_figures_equal_the_geodesic_area_of_the_part():
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100))])
    t1 = landuse_layer([("0601", sq(0, 0, 100, 100))])
    result = run(t0, t1, approvals=polygons(sq(0, 0, 50, 100)), pbf=polygons(sq(0, 0, 50, 100)),
                 measure=AreaMeasure(CRS, ELLIPSOIDAL))
    patch = result.patches.iloc[0]
    assert patch.area_mu == pytest.approx(geodesic_m2(sq(0, 0, 100, 100)) / M2_PER_MU, rel=1e-8)
    assert patch.illegal_mu == pytest.approx(geodesic_m2(sq(50, 0, 100, 100)) / M2_PER_MU, rel=1e-8)
    assert patch.area_mu_planar == pytest.approx(15.0, rel=1e-12)
    assert patch.area_mu < patch.area_mu_planar  # GK planar overstates near 102.6°E


def _write_project(tmp_path, *, t0_extra=None, area="ellipsoidal"):
    """A one-county project on disk: T0 0103 with KCXS 0.12 and TBMJ, T1 0702 on the western parcel."""
    parcels = [sq(0, 0, 100, 100), sq(100, 0, 200, 100)]
    tbmj = [round(geodesic_m2(g), 2) for g in parcels]
    t0 = gpd.GeoDataFrame({"BSM": [1, 2], "DLBM": ["0103", "0103"], "KCXS": [0.12, 0.05], "TBMJ": tbmj},
                          geometry=parcels, crs=CRS)
    if t0_extra:
        for column, values in t0_extra.items():
            t0[column] = values
    t1 = t0.copy()
    t1.loc[0, "DLBM"] = "0702"
    t1.loc[0, "KCXS"] = 0.0
    county = gpd.GeoDataFrame({"XZQDM": ["530111"], "XZQMC": ["官渡区"]}, geometry=[sq(-1000, -1000, 1000, 1000)],
                              crs=CRS)
    pbf = gpd.GeoDataFrame({"BSM": [1]}, geometry=[sq(0, 0, 200, 100)], crs=CRS)
    approvals = gpd.GeoDataFrame({"PZWH": ["云政土〔2023〕1号"]}, geometry=[sq(150, 0, 200, 100)], crs=CRS)
    gpkg = tmp_path / "data.gpkg"
    for name, frame in (("county", county), ("t0", t0), ("t1", t1), ("pbf", pbf), ("approvals", approvals)):
        frame.to_file(gpkg, layer=name, driver="GPKG")
    config = tmp_path / "project.yml"
    config.write_text(f"""name: 手算项目（合成数据）
synthetic: true
crs: EPSG:4543
area: {area}
layers:
  county: {{path: data.gpkg, layer: county, code: XZQDM, name: XZQMC}}
  landuse_t0: {{path: data.gpkg, layer: t0, code: DLBM, year: 2022, id: BSM}}
  landuse_t1: {{path: data.gpkg, layer: t1, code: DLBM, year: 2023, id: BSM}}
  pbf: {{path: data.gpkg, layer: pbf}}
  approvals: {{path: data.gpkg, layer: approvals}}
""", encoding="utf-8")
    return config, parcels


def test_project_tables_are_ellipsoidal_and_net_by_default(tmp_path):
    config, parcels = _write_project(tmp_path)
    result = pipeline.run(config, tmp_path / "out", steps=("violations", "coverage"), lang="en")
    county = pd.read_csv(tmp_path / "out" / "tables" / "violations_by_county.csv").iloc[0]
    gross = geodesic_m2(parcels[0]) / M2_PER_MU
    assert county["to construction (mu, ellipsoidal)"] == pytest.approx(gross, rel=1e-8)
    assert county["to construction net of ridges (mu, ellipsoidal)"] == pytest.approx(gross * 0.88, rel=1e-8)
    assert county["illegal on PBF (mu, ellipsoidal)"] == pytest.approx(gross, rel=1e-8)
    coverage = pd.read_csv(tmp_path / "out" / "tables" / "coverage_by_county.csv").iloc[0]
    farm = geodesic_m2(parcels[1]) / M2_PER_MU
    assert coverage["farmland (mu, ellipsoidal)"] == pytest.approx(farm, rel=1e-8)
    assert coverage["farmland net of ridges (mu, ellipsoidal)"] == pytest.approx(farm * 0.95, rel=1e-8)
    assert any("ellipsoidal" in line for line in result.summary)
    import json
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert json.dumps(manifest, ensure_ascii=False).count('"kind": "ellipsoidal"') >= 1


def test_planar_config_gives_planar_tables(tmp_path):
    config, _ = _write_project(tmp_path, area="planar")
    pipeline.run(config, tmp_path / "out", steps=("violations",), lang="en")
    county = pd.read_csv(tmp_path / "out" / "tables" / "violations_by_county.csv").iloc[0]
    assert county["to construction (mu, planar)"] == pytest.approx(15.0, rel=1e-12)
    assert county["to construction net of ridges (mu, planar)"] == pytest.approx(13.2, rel=1e-12)


def test_parcel_whose_tbmj_is_one_percent_off_is_listed(tmp_path):
    parcels = [sq(0, 0, 100, 100), sq(100, 0, 200, 100)]
    tbmj = [round(geodesic_m2(parcels[0]) * 1.01, 2), round(geodesic_m2(parcels[1]), 2)]
    config, _ = _write_project(tmp_path, t0_extra={"TBMJ": tbmj})
    result = pipeline.run(config, tmp_path / "out", steps=("violations",), lang="en")
    listed = pd.read_csv(tmp_path / "out" / "tables" / "tbmj_mismatch.csv")
    # parcel 1 in both surveys (T1 kept the attribute while the geometry stayed); parcel 2 is right
    assert list(listed["parcel id"]) == [1, 1] and list(listed["layer role"]) == ["landuse_t0", "landuse_t1"]
    assert listed["difference share"].iloc[0] == pytest.approx(0.01, abs=2e-6)
    assert any("TBMJ" in line and "0.1%" in line for line in result.summary)


# -- 5. one heading per meaning ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_two_columns_share_a_heading(lang):
    headings = pd.Series(HEADINGS[lang])
    shared = headings[headings.duplicated(keep=False)]
    assert shared.empty, shared.sort_values().to_dict()


def test_degenerate_finder_reads_every_ring_of_simple_holed_and_multi_polygons_alike():
    """Each kind of degenerate part is found whichever way the geometry's rings are read (a polygon without holes
    as its one ring, the others through their parts and holes), next to clean geometries of every kind, in one
    array with missing, empty and point geometries; widths agree with GEOS's area and length.
    """
    from shapely.geometry import MultiPolygon, Point, Polygon, box

    from kmrv_geo.degenerate import _ring_widths, find_degenerate

    x, y = 570_000.0, 2_770_000.0
    clean = box(x, y, x + 50, y + 50)
    sliver = box(x, y, x + 50, y + 0.0004)                                   # 0.4 mm wide: degenerate
    spike = Polygon([(x, y), (x + 50, y), (x + 50, y + 50), (x + 25, y + 50), (x + 25.0002, y + 90),
                     (x + 24.9999, y + 50), (x, y + 50)])                    # a spike 40 m long, 0.3 mm wide
    holed = Polygon(clean.exterior.coords, [box(x + 10, y + 10, x + 20, y + 20).exterior.coords])
    thin_hole = Polygon(clean.exterior.coords, [box(x + 10, y + 10, x + 20, y + 10.0001).exterior.coords])
    multi = MultiPolygon([clean, box(x + 60, y, x + 70, y + 10)])
    thin_part = MultiPolygon([clean, box(x + 60, y, x + 60.0002, y + 10)])
    geoms = np.array([clean, sliver, spike, holed, thin_hole, multi, thin_part, None, Polygon(), Point(x, y)],
                     dtype=object)
    assert find_degenerate(geoms).tolist() == [False, True, True, False, True, False, True, False, False, False]
    rings = shapely.get_rings(np.array([clean, sliver, spike, thin_hole], dtype=object))
    coords = shapely.get_coordinates(rings)
    offsets = np.r_[0, np.cumsum(shapely.get_num_coordinates(rings))]
    geos = 2 * shapely.area(shapely.polygons(rings)) / shapely.length(rings)
    assert _ring_widths(coords, offsets) == pytest.approx(geos, rel=1e-9)
