"""One test per kind of bad input: the message a user sees and the feature accounting."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import LineString, Point, Polygon, box

from kmrv_geo.checks import check_overlap, check_vector
from kmrv_geo.errors import CrsError, LayerError
from kmrv_geo.layers import read_vector
from tests.conftest import X0, Y0, square

GK = "EPSG:4543"


def check(path, **kwargs):
    kwargs.setdefault("role", "landuse_t0")
    kwargs.setdefault("target_crs", GK)
    return check_vector(read_vector(path, layer=kwargs.pop("layer", None)), **kwargs)


def accounting(report):
    return report.n_in, report.n_kept, report.n_repaired, report.n_rejected


def test_clean_layer_is_kept_whole(write_layer):
    frame = gpd.GeoDataFrame({"BSM": [1, 2]}, geometry=[square(0), square(1)], crs=GK)
    kept, report = check(write_layer(frame), id_field="BSM")
    assert accounting(report) == (2, 2, 0, 0)
    assert kept.crs.to_string() == GK and kept["_fid"].tolist() == [1, 2]


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_no_crs_says_how_to_set_it(write_layer):
    path = write_layer(gpd.GeoDataFrame({"a": [1]}, geometry=[square(0)]), "nocrs.shp")
    for suffix in (".prj",):
        path.with_suffix(suffix).unlink(missing_ok=True)
    with pytest.raises(CrsError, match=r"has no CRS; set the right CRS in the config, e\.g\. layers: "
                       r"\{pbf: \{path: \.\.\., crs: EPSG:4543\}\}"):
        check(path, role="pbf")
    kept, report = check(path, role="pbf", crs=GK)
    assert accounting(report) == (1, 1, 0, 0)


@pytest.mark.parametrize(
    ("geometry", "declared", "expected"),
    [
        (square(0), "EPSG:4490", "coordinates look like metres"),
        (box(102.6, 24.9, 102.61, 24.91), GK, "likely right CRS is EPSG:4490"),
        (box(34_560_000, Y0, 34_560_100, Y0 + 100), GK, "likely right CRS is EPSG:4522"),
        (box(24.9, 102.6, 24.91, 102.61), "EPSG:4490", "look swapped"),
        (box(116.3, 39.9, 116.4, 40.0), "EPSG:4490", "outside the study area"),
    ],
)
def test_mislabelled_crs_names_the_likely_right_one(write_layer, geometry, declared, expected):
    path = write_layer(gpd.GeoDataFrame({"a": [1]}, geometry=[geometry], crs=declared))
    with pytest.raises(CrsError, match=expected) as info:
        check(path, role="pbf")
    assert "layer.gpkg" in str(info.value) and "crs:" in str(info.value)


def test_null_and_empty_geometries_are_rejected_with_ids(write_layer):
    frame = gpd.GeoDataFrame({"BSM": [1, 2, 3]}, geometry=[square(0), None, Polygon()], crs=GK)
    kept, report = check(write_layer(frame))
    assert accounting(report) == (3, 1, 0, 2)
    assert report.rejected.to_dict("records") == [{"fid": 2, "reason": "null geometry"},
                                                  {"fid": 3, "reason": "empty geometry"}]


def test_points_and_lines_in_a_polygon_layer_are_rejected(write_layer):
    frame = gpd.GeoDataFrame({"BSM": [1, 2, 3]},
                             geometry=[square(0), Point(X0, Y0), LineString([(X0, Y0), (X0 + 5, Y0)])], crs=GK)
    kept, report = check(write_layer(frame, "mixed.geojson"))
    assert accounting(report) == (3, 1, 0, 2)
    assert set(report.rejected["reason"]) == {"point in a polygon layer", "linestring in a polygon layer"}


def test_bowtie_is_repaired_and_the_area_change_reported(write_layer):
    bowtie = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100), (X0, Y0)])
    frame = gpd.GeoDataFrame({"BSM": [1]}, geometry=[bowtie], crs=GK)
    kept, report = check(write_layer(frame))
    assert accounting(report) == (1, 1, 1, 0)
    row = report.repaired.iloc[0]
    assert row.area_before_m2 == pytest.approx(0.0)  # the two lobes cancel in the shoelace sum
    assert row.area_after_m2 == pytest.approx(5000.0)  # two triangles of 2500 m²
    assert kept.geometry.iloc[0].is_valid and kept.geometry.iloc[0].area == pytest.approx(5000.0)


def test_z_is_dropped_and_noted(write_layer):
    poly_z = Polygon([(X0, Y0, 5), (X0 + 10, Y0, 5), (X0 + 10, Y0 + 10, 5), (X0, Y0, 5)])
    frame = gpd.GeoDataFrame({"BSM": [1]}, geometry=[poly_z], crs=GK)
    kept, report = check(write_layer(frame))
    assert not kept.geometry.iloc[0].has_z
    assert "Z coordinates dropped from 1 features" in report.warnings
    assert accounting(report) == (1, 1, 0, 0)


def test_duplicate_ids_are_reported_not_rejected(write_layer):
    frame = gpd.GeoDataFrame({"BSM": [7, 7, 8, 7]}, geometry=[square(i) for i in range(4)], crs=GK)
    kept, report = check(write_layer(frame), id_field="BSM")
    assert accounting(report) == (4, 4, 0, 0)
    assert report.duplicate_ids.to_dict("records") == [{"value": "7", "count": 3}]


def test_unknown_and_dirty_codes_are_listed_with_counts(write_layer):
    frame = gpd.GeoDataFrame({"DLBM": ["0101", "101", "水田", "9999", "9999", None]},
                             geometry=[square(i) for i in range(6)], crs=GK)
    kept, report = check(write_layer(frame), code_field="DLBM")
    assert kept["code"].tolist()[:4] == ["0101", "0101", "0101", "9999"]
    assert kept["category"].tolist() == ["farmland"] * 3 + ["unknown"] * 3
    assert report.codes["unknown"] == [{"value": "9999", "count": 2}]
    assert report.codes["blanks"] == 1
    assert any("9999 ×2" in w for w in report.warnings)
    assert accounting(report) == (6, 6, 0, 0)


def test_missing_field_lists_the_fields_there_are(write_layer):
    frame = gpd.GeoDataFrame({"DLBM": ["0101"], "BSM": [1]}, geometry=[square(0)], crs=GK)
    with pytest.raises(LayerError, match=r"lacks the field\(s\) code: DL_BM; its fields are: DLBM, BSM"):
        check(write_layer(frame), code_field="DL_BM")


def test_reprojection_keeps_areas(write_layer):
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[square(0)], crs=GK).to_crs("EPSG:4490")
    kept, report = check(write_layer(frame))
    assert kept.crs.to_string() == GK
    assert kept.geometry.iloc[0].area == pytest.approx(10000.0, rel=1e-6)


def test_layers_that_do_not_overlap():
    a = gpd.GeoDataFrame(geometry=[square(0)], crs=GK)
    b = gpd.GeoDataFrame(geometry=[square(100)], crs=GK)
    problems = check_overlap({"landuse_t0": a, "pbf": b})
    assert (len(problems) == 1 and "landuse_t0" in problems[0] and "pbf" in problems[0]
            and "do not overlap" in problems[0])
    assert check_overlap({"a": a, "b": a}) == []


def test_accounting_holds_for_many_bad_features(write_layer):
    rng = np.random.default_rng(0)
    geoms = [square(i) if rng.random() > 0.3 else None for i in range(200)]
    frame = gpd.GeoDataFrame({"BSM": range(200)}, geometry=geoms, crs=GK)
    kept, report = check(write_layer(frame))
    assert report.n_in == 200 and report.n_kept + report.n_rejected == 200
    assert report.n_rejected == sum(g is None for g in geoms)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_features_identical_to_checked_ones_are_not_checked_again_the_rest_are(write_layer):
    """The second survey date: parcels identical to checked T0 parcels (as stored, or with their vertices from
    another start) keep their geometry and get their twin; a changed parcel that is invalid, or holds a spike,
    is repaired as ever; a parcel identical to the *raw* form of a repaired T0 parcel is repaired too.
    """
    bowtie = Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100), (X0, Y0)])
    t0 = gpd.GeoDataFrame({"BSM": [1, 2, 3]}, geometry=[square(0), square(1), bowtie], crs=GK)
    t0_kept, t0_report = check(write_layer(t0, name="t0.gpkg"))
    assert t0_report.n_repaired == 1
    trusted = np.asarray(t0_kept.geometry.values, dtype=object)
    x, y = X0 + 500, Y0
    spike = Polygon([(x, y), (x + 50, y), (x + 50, y + 50), (x + 25, y + 50), (x + 25, y + 90),
                     (x + 25.0000001, y + 50), (x, y + 50)])
    restart = Polygon(list(square(1).exterior.coords)[2:-1] + list(square(1).exterior.coords)[:3])
    t1 = gpd.GeoDataFrame({"BSM": [1, 2, 3, 4]}, geometry=[square(0), restart, bowtie, spike], crs=GK)
    kept, report = check(write_layer(t1, name="t1.gpkg"), role="landuse_t1", trusted=trusted)
    assert kept["_twin"].tolist() == [0, 1, -1, -1]
    assert kept.geometry.iloc[0].wkb == trusted[0].wkb  # unchanged, as stored
    assert kept.geometry.iloc[1].wkb != trusted[1].wkb and kept.geometry.iloc[1].normalize() == trusted[1].normalize()
    assert sorted(set(report.repaired["fid"])) == [3, 4]  # the bowtie (raw, not the repaired T0 form) and the spike
    assert kept.geometry.iloc[2].area == pytest.approx(5000.0) and kept.geometry.iloc[3].area == pytest.approx(2500.0)
    assert accounting(report) == (4, 4, 2, 0)
    # without trusted geometries, nothing changes but the twin column
    plain, plain_report = check(write_layer(t1, name="t1b.gpkg"), role="landuse_t1")
    assert "_twin" not in plain and plain_report.repaired["fid"].tolist() == report.repaired["fid"].tolist()


def test_self_overlaps_test_every_pair_but_those_known_apart():
    """Pairs whose interiors overlap, as a plain geopandas overlay finds them; features known apart are not tested
    against each other (even where, against the promise, they overlap) but against every other feature.
    """
    from kmrv_geo.checks import apart_by_twins, self_overlaps

    x, y = X0, Y0
    geoms = [box(x + 100 * k, y, x + 100 * (k + 1), y + 100) for k in range(5)]  # 0-4: a row, touching
    geoms += [box(x + 150, y + 50, x + 160, y + 60),   # 5: inside 1 (100 m²)
              box(x + 200, y, x + 300, y + 100),        # 6: a copy of 2 (10,000 m²)
              box(x + 390, y, x + 410, y + 100),        # 7: over the edge of 3 and 4 (1,000 m² each)
              box(x, y + 95, x + 50, y + 150)]          # 8: over 0 (250 m²), but both known apart
    frame = gpd.GeoDataFrame({"_fid": np.arange(len(geoms)) + 1}, geometry=geoms, crs="EPSG:4543")
    pieces = gpd.overlay(frame.rename(columns={"_fid": "a"}), frame.rename(columns={"_fid": "b"}),
                         keep_geom_type=True)
    pieces = pieces[(pieces["a"] < pieces["b"]) & (pieces.area >= 0.01)]
    independent = sorted(zip(pieces["a"], pieces["b"], pieces.area.round(6), strict=True))
    assert independent == [(1, 9, 250.0), (2, 6, 100.0), (3, 7, 10_000.0), (4, 8, 1_000.0), (5, 8, 1_000.0)]

    def found(**kwargs):
        table = self_overlaps(frame, **kwargs)
        return sorted(zip(table["id_a"], table["id_b"], table["overlap_m2"].round(6), strict=True))

    assert found() == independent
    apart = np.array([True] * 5 + [False] * 3 + [True])
    assert found(known_apart=apart) == [t for t in independent if t[:2] != (1, 9)]
    assert found(known_apart=np.ones(len(geoms), dtype=bool)) == []
    # features identical to distinct checked parcels are apart; two copies of one checked parcel are not
    assert apart_by_twins(np.array([0, 1, 1, -1, 2]), 3).tolist() == [True, False, False, False, True]
