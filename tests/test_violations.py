"""Violation analysis on layers small enough to check on paper.

Parcels are squares in EPSG:4543 metres; 100 m × 100 m = 10000 m² = 15 亩 exactly.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from kmrv_geo import landuse
from kmrv_geo.analysis.balances import balances_table, violations_table, with_total
from kmrv_geo.analysis.changes import change_pieces, farmland_balance_sheet
from kmrv_geo.analysis.violations import analyse_violations, build_zones

X, Y = 560000.0, 2760000.0
MIN = {"construction": 200.0, "agricultural": 400.0, "other": 600.0}
CRS = "EPSG:4543"


def sq(x0, y0, x1, y1):
    """A box in metres relative to (X, Y)."""
    return box(X + x0, Y + y0, X + x1, Y + y1)


def landuse_layer(rows):
    frame = gpd.GeoDataFrame({"code": [c for c, _ in rows]}, geometry=[g for _, g in rows], crs=CRS)
    frame["category"] = landuse.DEFAULT_CLASSES.classify(frame["code"])
    return frame


def zones_layer(rows, code="XZQDM", name="XZQMC"):
    return gpd.GeoDataFrame({code: [r[0] for r in rows], name: [r[1] for r in rows]},
                            geometry=[r[2] for r in rows], crs=CRS)


def polygons(*geoms):
    return gpd.GeoDataFrame(geometry=list(geoms), crs=CRS)


ONE_COUNTY = build_zones(zones_layer([("530111", "官渡区", sq(-1000, -1000, 1000, 1000))]))


def run(t0, t1, *, zones=ONE_COUNTY, approvals=None, pbf=None):
    return analyse_violations(t0, t1, zones=zones, approvals=approvals, pbf=pbf, min_patch_m2=MIN)


def test_whole_parcel_conversion_is_illegal():
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0103", sq(100, 0, 200, 100))])
    t1 = landuse_layer([("0702", sq(0, 0, 100, 100)), ("0103", sq(100, 0, 200, 100))])
    result = run(t0, t1, approvals=polygons(sq(500, 500, 600, 600)), pbf=polygons(sq(500, 500, 600, 600)))
    patch = result.patches.iloc[0]
    assert len(result.patches) == 1
    assert (patch.change_class, patch.status, patch.t0_code, patch.t1_code) == ("nonagri", "illegal", "0101", "0702")
    assert patch.area_m2 == pytest.approx(10000.0, rel=1e-12)
    assert patch.area_mu == pytest.approx(15.0, rel=1e-12)
    assert patch.illegal_mu == pytest.approx(15.0, rel=1e-12) and patch.approved_mu == 0.0 and patch.pbf_mu == 0.0
    assert patch.county_name == "官渡区" and patch.patch_id == "530111-00001"
    # ellipsoidal area is a little smaller than GK planar area at ~102.6°E
    assert 0.9998 < patch.area_mu_ellipsoidal / patch.area_mu < 1.0


def test_half_approved_conversion():
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100))])
    t1 = landuse_layer([("0601", sq(0, 0, 100, 100))])
    result = run(t0, t1, approvals=polygons(sq(0, 0, 50, 100)), pbf=polygons(sq(500, 500, 600, 600)))
    patch = result.patches.iloc[0]
    assert patch.status == "partly_approved"
    assert patch.approved_mu == pytest.approx(7.5, rel=1e-12)
    assert patch.illegal_mu == pytest.approx(7.5, rel=1e-12)
    assert patch.approved_mu + patch.illegal_mu == pytest.approx(patch.area_mu, rel=1e-12)


def test_fully_approved_conversion_with_overlapping_approvals_counts_once():
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100))])
    t1 = landuse_layer([("0601", sq(0, 0, 100, 100))])
    result = run(t0, t1, approvals=polygons(sq(0, 0, 100, 100), sq(0, 0, 60, 100)),
                 pbf=polygons(sq(500, 500, 510, 510)))
    patch = result.patches.iloc[0]
    assert patch.status == "approved"
    assert patch.approved_mu == pytest.approx(15.0, rel=1e-12) and patch.illegal_mu == pytest.approx(0.0, abs=1e-9)


def test_nongrain_on_pbf_is_a_violation_whatever_approvals_say():
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0102", sq(100, 0, 200, 100))])
    t1 = landuse_layer([("0201", sq(0, 0, 100, 100)), ("1104", sq(100, 0, 200, 100))])
    result = run(t0, t1, approvals=polygons(sq(0, 0, 200, 100)), pbf=polygons(sq(0, 0, 100, 40)))
    by_code = result.patches.set_index("t1_code")
    assert by_code.loc["0201", "status"] == "nongrain_on_pbf"
    assert by_code.loc["0201", "pbf_mu"] == pytest.approx(6.0, rel=1e-12)  # 100 × 40 m = 4000 m² = 6 亩
    assert by_code.loc["1104", "status"] == "nongrain"
    assert by_code.loc["0201", "illegal_mu"] == 0.0


def test_conversion_straddling_a_county_line_is_split_and_adds_up():
    zones = build_zones(zones_layer([("530111", "官渡区", sq(-1000, -1000, 30, 1000)),
                                     ("530112", "西山区", sq(30, -1000, 1000, 1000))]))
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100))])
    t1 = landuse_layer([("0702", sq(0, 0, 100, 100))])
    result = run(t0, t1, zones=zones, approvals=polygons(sq(0, 0, 100, 50)), pbf=polygons(sq(900, 900, 910, 910)))
    p = result.patches.set_index("county_name")
    assert p.loc["官渡区", "area_m2"] == pytest.approx(3000.0, rel=1e-12)
    assert p.loc["西山区", "area_m2"] == pytest.approx(7000.0, rel=1e-12)
    assert p.loc["官渡区", "illegal_mu"] == pytest.approx(1500 / (10000 / 15), rel=1e-12)
    assert p.loc["西山区", "approved_mu"] == pytest.approx(3500 / (10000 / 15), rel=1e-12)
    table = violations_table(result.patches, ["county_code", "county_name"])
    assert table["illegal_mu"].sum() == pytest.approx(7.5, rel=1e-12)
    assert table["nonagri_mu"].sum() == pytest.approx(result.patches["area_mu"].sum(), rel=1e-12)


def test_one_construction_patch_straddling_two_pbf_parcels():
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0101", sq(100, 0, 200, 100))])
    t1 = landuse_layer([("0101", sq(0, 0, 60, 100)), ("0601", sq(60, 0, 140, 100)), ("0101", sq(140, 0, 200, 100))])
    # two PBF parcels, one per T0 parcel; the 80 m wide factory covers 40 m of each
    result = run(t0, t1, approvals=polygons(sq(900, 900, 910, 910)),
                 pbf=polygons(sq(0, 0, 100, 100), sq(100, 0, 200, 100)))
    assert len(result.patches) == 1  # pieces from two T0 parcels merge into one patch
    patch = result.patches.iloc[0]
    assert patch.area_m2 == pytest.approx(8000.0, rel=1e-12)
    assert patch.pbf_mu == pytest.approx(12.0, rel=1e-12)
    assert patch.status == "illegal" and patch.illegal_mu == pytest.approx(12.0, rel=1e-12)


def test_speck_below_the_minimum_goes_to_its_own_layer():
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100))])
    t1 = landuse_layer([("0101", sq(0, 0, 100, 100).difference(sq(0, 0, 10, 15))), ("0702", sq(0, 0, 10, 15))])
    result = run(t0, t1)
    assert result.patches.empty
    speck = result.below_min.iloc[0]
    assert speck.area_m2 == pytest.approx(150.0, rel=1e-12) and speck.change_class == "nonagri"
    assert speck.patch_id == "530111-S00001"
    assert speck.status == "unverified"  # no approvals layer given
    assert result.missing_verdicts == ["approvals", "pbf"]


def test_new_farmland_and_the_balances():
    t0 = landuse_layer([("0404", sq(0, 0, 100, 100)), ("0201", sq(100, 0, 200, 100)), ("0101", sq(200, 0, 300, 100)),
                        ("0103", sq(300, 0, 400, 100))])
    t1 = landuse_layer([("0103", sq(0, 0, 100, 100)), ("0101", sq(100, 0, 200, 50)), ("0201", sq(100, 50, 200, 100)),
                        ("0702", sq(200, 0, 300, 100)), ("0301", sq(300, 0, 400, 100))])
    result = run(t0, t1, approvals=polygons(sq(200, 0, 300, 100)), pbf=polygons(sq(900, 900, 910, 910)))
    supplement = result.patches[result.patches["change_class"] == "supplement"].set_index("t0_code")
    assert supplement.loc["0404", "area_mu"] == pytest.approx(15.0, rel=1e-12)
    assert supplement.loc["0201", "area_mu"] == pytest.approx(7.5, rel=1e-12)
    balances = balances_table(result.patches).iloc[0]
    assert balances.occupied_mu == pytest.approx(15.0) and balances.supplemented_mu == pytest.approx(15.0)
    assert balances.occupation_balance_mu == pytest.approx(0.0, abs=1e-9) and balances.occupation_pass
    assert balances.out_mu == pytest.approx(15.0) and balances.back_in_mu == pytest.approx(7.5)
    assert balances.in_out_balance_mu == pytest.approx(-7.5) and not balances.in_out_pass
    total = with_total(balances_table(result.patches), "county_name")
    assert total.iloc[-1]["county_name"] == "合计"


def test_t1_missing_part_of_the_area_is_never_a_conversion():
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0103", sq(100, 0, 200, 100))])
    t1 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0103", sq(100, 0, 130, 100))])
    pieces = change_pieces(t0, t1)
    sheet = farmland_balance_sheet(t0, pieces)
    assert sheet["no_t1_data"] == pytest.approx(7000.0, rel=1e-12)
    assert sheet["kept"] == pytest.approx(13000.0, rel=1e-12)
    assert sheet["relative_error"] < 1e-9
    result = run(t0, t1)
    gap = result.patches.iloc[0]
    assert gap.change_class == "no_t1_data" and gap.status == "other" and gap.illegal_mu == 0.0


def test_unknown_t1_codes_are_other_never_farmland():
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100))])
    t1 = landuse_layer([("XX99", sq(0, 0, 100, 100))])
    result = run(t0, t1)
    assert result.patches.iloc[0].change_class == "other"


def test_planting_attribute_turns_kept_farmland_into_nongrain():
    t0 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0101", sq(100, 0, 200, 100))])
    t1 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0101", sq(100, 0, 200, 100))])
    t0["ZZSXDM"] = ["LS", "FLS"]
    t1["ZZSXDM"] = ["FLS", "FLS"]
    result = run(t0, t1, pbf=polygons(sq(0, 0, 200, 100)), approvals=polygons(sq(900, 900, 910, 910)))
    assert len(result.patches) == 1  # the parcel that was already non-grain at T0 is not a change
    patch = result.patches.iloc[0]
    assert (patch.change_class, patch.basis, patch.status) == ("nongrain", "planting_attribute", "nongrain_on_pbf")


def test_farmland_partition_invariant_on_random_layers():
    rng = np.random.default_rng(3)
    codes = np.array(["0101", "0103", "0201", "0702", "1101", "0404"])
    t0 = landuse_layer([(codes[rng.integers(0, 6)], sq(i * 50, j * 50, i * 50 + 50, j * 50 + 50))
                        for i in range(10) for j in range(10)])
    t1 = landuse_layer([(codes[rng.integers(0, 6)], sq(i * 35, j * 35, i * 35 + 35, j * 35 + 35))
                        for i in range(13) for j in range(13)])
    pieces = change_pieces(t0, t1)
    sheet = farmland_balance_sheet(t0, pieces)
    assert sheet["relative_error"] < 1e-9 and sheet["no_t1_data"] > 0
    result = run(t0, t1, approvals=polygons(sq(0, 0, 200, 500)), pbf=polygons(sq(0, 0, 500, 200)))
    everything = pd.concat([result.patches, result.below_min])
    nonagri = everything[everything["change_class"] == "nonagri"]
    np.testing.assert_allclose(nonagri["approved_mu"] + nonagri["illegal_mu"], nonagri["area_mu"], rtol=1e-9)
    changed = sum(sheet[c] for c in ("nonagri", "nongrain", "other", "no_t1_data"))
    farm_changes = everything[everything["change_class"] != "supplement"]["area_m2"].sum()
    assert farm_changes == pytest.approx(changed, rel=1e-9)
    assert result.patches["patch_id"].is_unique


def test_overlapping_t1_parcels_are_a_clear_error_not_double_counting():
    from kmrv_geo.errors import LayerError

    t0 = landuse_layer([("0101", sq(0, 0, 100, 100))])
    # Two T1 parcels both claim the left half: that half would be counted twice.
    t1 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0702", sq(0, 0, 50, 100))])
    with pytest.raises(LayerError, match=r"overlap each other.*T0 parcels concerned \(1\): 0 \(5000\.00 m²\)"):
        run(t0, t1)


def test_overlapping_new_farmland_parcels_are_a_clear_error():
    from kmrv_geo.errors import LayerError

    t0 = landuse_layer([("0404", sq(0, 0, 100, 100))])  # grassland at T0
    # Two T1 farmland parcels overlap on a 20 m × 100 m strip: 2000 m² of new farmland counted twice.
    t1 = landuse_layer([("0101", sq(0, 0, 60, 100)), ("0103", sq(40, 0, 100, 100))])
    with pytest.raises(LayerError, match=r"New farmland would be counted twice \(2000\.00 m²\)"):
        run(t0, t1)


def test_whole_parcel_pieces_reuse_the_parcel_area_measured_at_load():
    """Pieces that are their whole T0 parcel take the parcel's ellipsoidal area the load measured (TBMJ check),
    bit for bit what measuring the piece gives; cut pieces are measured.
    """
    from kmrv_geo.analysis.violations import farmland_partition, pieces_m2
    from kmrv_geo.units import ELLIPSOIDAL_M2_COLUMN, AreaMeasure

    t0 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0101", sq(100, 0, 200, 100)), ("0103", sq(200, 0, 300, 100))])
    t1 = landuse_layer([("0101", sq(0, 0, 100, 100)), ("0702", sq(100, 0, 160, 100)), ("0101", sq(160, 0, 200, 100)),
                        ("0103", sq(200, 0, 300, 100))])
    measure = AreaMeasure(CRS)
    pieces = change_pieces(t0, t1, partitions=True)
    assert pieces["t0_whole"].tolist() == [True, False, False, True]
    measured = measure.m2(pieces.geometry.values)
    cached = t0.assign(**{ELLIPSOIDAL_M2_COLUMN: measure.ellipsoidal_m2(t0.geometry.values)})
    assert pieces_m2(cached, pieces, measure).tolist() == measured.tolist()  # the same numbers, exactly
    assert farmland_partition(cached, pieces, measure) == farmland_partition(t0, pieces, measure)
    marked = cached.assign(**{ELLIPSOIDAL_M2_COLUMN: [1.0, 2.0, 3.0]})  # the cache is what whole pieces take
    assert pieces_m2(marked, pieces, measure).tolist() == [1.0, *measured[1:3], 3.0]
