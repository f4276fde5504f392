"""The sample's 卫片执法 layers: monitoring patches, what judges them, and their ground truth (示例数据).

The truth is derived from what was injected; these tests check it independently by overlaying the layers
the way an analysis would, and check that the new layers leave every other layer of the sample alone.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from kmrv_geo.sample import enforcement, make_sample
from kmrv_geo.sample.output import SYNTHETIC_NOTE

PARCELS, SEED = 3000, 2023
"""Small enough to build in a few seconds; this seed gives every reason at least once."""
FIELDS = {
    "facility_filings": ["BAH", "BARQ", "XZQDM"],
    "temporary_use": ["PZWH", "QSRQ", "JSRQ", "XZQDM"],
    "supplement_projects": ["XMBH", "XMMC", "YSRQ", "XZQDM"],
    "erl": ["HXMC", "HXLX"],
    "udb": ["MC"],
    "monitoring_patches": ["JCBH", "XZQDM", "XZQMC", "QSX", "HSX", "BGHDL", "JCMJ"],
    "truth_patches": ["JCBH", "kind", "expected_verdict", "expected_reason", "planned_approval", "on_pbf",
                      "facility_filed", "temporary", "in_erl", "in_supplement", "document", "t1_code", "t0_bsm",
                      "t1_bsm"],
}
COVERING = ["facility_filings", "temporary_use", "supplement_projects", "erl"]
OLD_LAYERS = ["county", "township", "villages", "landuse_2022", "landuse_2023", "pbf", "hsf", "approvals",
              "dianchi", "truth_changes", "truth_abandoned"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample at 3,000 parcels (seed 2023), built once for this module."""
    out = tmp_path_factory.mktemp("enforcement")
    make_sample(out, n_parcels=PARCELS, seed=SEED)
    return out


def read(folder, layer):
    return gpd.read_file(folder / "demo.gpkg", layer=layer, engine="pyogrio")


def same_layer(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, name: str) -> None:
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"), obj=name)
    assert shapely.equals_identical(a.geometry.values, b.geometry.values).all(), name


@pytest.fixture(scope="module")
def layers(built):
    names = [*FIELDS, "truth_changes", "landuse_2022", "landuse_2023", "pbf", "dianchi", "approvals"]
    return {name: read(built, name) for name in names}


def test_every_new_layer_has_its_fields_in_epsg_4543_and_says_synthetic(built):
    present = {name for name, _ in pyogrio.list_layers(built / "demo.gpkg")}
    assert set(FIELDS) <= present
    for name, fields in FIELDS.items():
        info = pyogrio.read_info(built / "demo.gpkg", layer=name)
        assert list(info["fields"]) == fields, name
        assert info["crs"] == "EPSG:4543", name
        assert info["features"] > 0, name
        assert SYNTHETIC_NOTE in info["layer_metadata"]["DESCRIPTION"], name
    for name in COVERING + ["udb"]:
        assert pyogrio.read_info(built / "demo.gpkg", layer=name)["geometry_type"] == "MultiPolygon", name


def test_every_reason_and_verdict_occurs(layers):
    truth = layers["truth_patches"]
    assert set(truth["expected_reason"]) == set(enforcement.REASONS)
    assert set(truth["expected_verdict"]) == {"legal", "illegal", "to_check"}
    assert (truth["expected_verdict"] == truth["expected_reason"].map(enforcement.REASONS)).all()
    assert set(truth["temporary"]) == {"", "valid", "expired"}
    assert truth["facility_filed"].any() and truth["in_erl"].any() and truth["in_supplement"].any()
    assert set(truth["kind"]) == {"nonagri", "nongrain", "supplement", "back_in", "other", "decoy"}


def test_one_patch_per_visible_change_plus_about_ten_percent_decoys(layers):
    changes, truth, patches = layers["truth_changes"], layers["truth_patches"], layers["monitoring_patches"]
    visible = changes[~changes["below_min"] & (changes["basis"] == "land_use")]
    real = truth[truth["kind"] != "decoy"]
    assert sorted(real["t1_bsm"]) == sorted(visible["t1_bsm"])
    n_decoys = (truth["kind"] == "decoy").sum()
    assert 1 <= n_decoys <= max(2, 0.15 * len(real))
    assert patches["JCBH"].tolist() == truth["JCBH"].tolist()  # same rows, same order
    assert patches["JCBH"].is_unique and patches["JCBH"].tolist() == sorted(patches["JCBH"])
    assert patches["JCBH"].str.fullmatch(r"JC\d{6}-\d{4}").all()
    assert (patches["JCBH"].str[2:8] == patches["XZQDM"]).all()
    number = patches["JCBH"].str[-4:].astype(int)
    assert (number.to_numpy() == patches.groupby("XZQDM").cumcount().to_numpy() + 1).all()
    assert shapely.equals_identical(patches.geometry.values, truth.geometry.values).all()


def test_patches_lie_inside_their_truth_pieces_and_decoys_in_unchanged_farmland(layers):
    changes, truth, patches = layers["truth_changes"], layers["truth_patches"], layers["monitoring_patches"]
    assert (patches.geom_type == "Polygon").all() and patches.is_valid.all()
    np.testing.assert_allclose(patches["JCMJ"], patches.area.round(2), atol=0.006)
    real = truth["kind"] != "decoy"
    piece = changes.set_index("t1_bsm").loc[truth.loc[real, "t1_bsm"]]
    assert (piece["kind"].to_numpy() == truth.loc[real, "kind"].to_numpy()).all()
    assert (piece["t1_code"].to_numpy() == truth.loc[real, "t1_code"].to_numpy()).all()
    assert shapely.within(patches.geometry.values[real], piece.geometry.values).all()
    # shrunk 0.3 m: each patch keeps off its piece's edge
    assert (shapely.distance(shapely.boundary(piece.geometry.values), patches.geometry.values[real]) > 0.29).all()
    t0 = layers["landuse_2022"].set_index("BSM")
    t1 = layers["landuse_2023"].set_index("BSM")
    decoy = truth[~real]
    before, after = t0.loc[decoy["t0_bsm"]], t1.loc[decoy["t0_bsm"]]
    assert before["DLBM"].isin(["0101", "0102", "0103"]).all()
    assert (before["DLBM"].to_numpy() == after["DLBM"].to_numpy()).all()
    assert shapely.equals_identical(before.geometry.values, after.geometry.values).all()
    assert shapely.within(patches.geometry.values[~real], before.geometry.values).all()
    assert not set(decoy["t0_bsm"]) & set(changes["t0_bsm"])


def test_after_code_is_given_for_about_two_thirds_and_is_the_truth(layers):
    patches, truth = layers["monitoring_patches"], layers["truth_patches"]
    given = patches["BGHDL"] != ""
    assert 0.45 < given.mean() < 0.85
    assert (patches.loc[given, "BGHDL"] == truth.loc[given, "t1_code"]).all()
    assert (patches["QSX"].str.startswith("2022-11-")).all() and (patches["HSX"].str.startswith("2023-")).all()
    assert pd.to_datetime(patches["HSX"], format="%Y-%m-%d").notna().all()


@pytest.mark.parametrize("layer", COVERING)
def test_a_covering_polygon_reaches_only_the_piece_it_covers(layers, layer):
    changes, truth = layers["truth_changes"], layers["truth_patches"]
    frame = layers[layer]
    pieces = changes.geometry.values
    left, right = shapely.STRtree(frame.geometry.values).query(pieces, predicate="intersects")
    # no feature reaches two pieces, no piece is reached by two features of the layer
    assert not pd.Series(right).duplicated().any(), layer
    assert not pd.Series(left).duplicated().any(), layer
    # the feature covers its whole piece (margin 3–10 m)
    covered = shapely.difference(pieces[left], frame.geometry.values[right])
    assert (shapely.area(covered) < 1e-6).all(), layer
    flag = {"facility_filings": "facility_filed", "supplement_projects": "in_supplement", "erl": "in_erl",
            "temporary_use": "temporary"}[layer]
    flagged = truth.loc[truth[flag].astype(bool) & (truth[flag] != ""), "t1_bsm"]
    reached = changes["t1_bsm"].to_numpy()[left]
    visible = ~changes["below_min"].to_numpy()[left]
    assert sorted(reached[visible]) == sorted(flagged), layer
    kind = changes["kind"].to_numpy()[left]
    if layer == "facility_filings":
        assert (kind == "nongrain").all() and (changes["t1_code"].to_numpy()[left] == "1202").all()
    elif layer == "supplement_projects":
        assert (kind == "supplement").all()
    else:
        assert (kind == "nonagri").all() and (changes["planned_approval"].to_numpy()[left] == "none").all()
        assert (changes["on_pbf_m2"].to_numpy()[left] < 0.01).all()


def test_the_truth_matches_an_independent_overlay_of_the_layers(layers):
    """What an analysis would find by overlay equals the facts the truth was derived from."""
    truth, changes = layers["truth_patches"], layers["truth_changes"]
    patches = truth.geometry.values

    def inside(layer, **where):
        frame = layers[layer]
        for column, test in where.items():
            frame = frame[test(frame[column])]
        hit = np.zeros(len(patches), dtype=bool)
        left, right = shapely.STRtree(frame.geometry.values).query(patches, predicate="intersects")
        hit[left[shapely.area(shapely.intersection(patches[left], frame.geometry.values[right])) > 1.0]] = True
        return hit

    assert (inside("facility_filings") == truth["facility_filed"]).all()
    assert (inside("supplement_projects") == truth["in_supplement"]).all()
    assert (inside("erl") == truth["in_erl"]).all()
    end = lambda s: pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")  # noqa: E731
    valid = inside("temporary_use", JSRQ=lambda s: end(s) > pd.Timestamp("2023-12-31"))
    expired = inside("temporary_use", JSRQ=lambda s: end(s) < pd.Timestamp("2023-06-30"))
    assert (valid == (truth["temporary"] == "valid")).all() and (expired == (truth["temporary"] == "expired")).all()
    assert (inside("pbf") == truth["on_pbf"]).all()
    # the inputs the truth names are those of truth_changes
    real = truth[truth["kind"] != "decoy"]
    piece = changes.set_index("t1_bsm").loc[real["t1_bsm"]]
    assert (piece["planned_approval"].to_numpy() == real["planned_approval"].to_numpy()).all()
    # the approvals: full → covered, none → untouched (half: partly)
    approved = inside("approvals")
    assert approved[(truth["planned_approval"] == "full").to_numpy()].all()
    assert not approved[truth["planned_approval"].isin(["none", ""]).to_numpy()].any()


def test_temporary_permits_valid_expired_and_two_unreadable_on_spare_land(layers):
    permits, changes = layers["temporary_use"], layers["truth_changes"]
    assert permits["PZWH"].is_unique and permits["PZWH"].str.fullmatch(r"昆临用〔20\d\d〕\d+号").all()
    end = pd.to_datetime(permits["JSRQ"], format="%Y-%m-%d", errors="coerce")
    start = pd.to_datetime(permits["QSRQ"], format="%Y-%m-%d", errors="coerce")
    assert start.notna().all() and (start < pd.Timestamp("2023-07-01")).all()
    unreadable = permits[end.isna()]
    assert sorted(unreadable["JSRQ"]) == sorted(enforcement.UNREADABLE_DATES)
    near = shapely.STRtree(changes.geometry.values).query(unreadable.geometry.values, predicate="dwithin",
                                                          distance=1.0)
    assert near.size == 0
    readable = end.dropna()
    assert ((readable > pd.Timestamp("2023-12-31")) | (readable < pd.Timestamp("2023-06-30"))).all()
    assert (end[readable.index] > start[readable.index]).all()


def test_document_numbers_are_unique_and_cited_by_the_truth(layers):
    truth = layers["truth_patches"]
    filings, projects = layers["facility_filings"], layers["supplement_projects"]
    assert filings["BAH"].is_unique and filings["BAH"].str.fullmatch(r"\w{2}设施备〔20\d\d〕\d+号").all()
    assert projects["XMBH"].is_unique and projects["XMBH"].str.fullmatch(r"\d{14}").all()
    assert pd.to_datetime(filings["BARQ"], format="%Y-%m-%d").notna().all()
    assert pd.to_datetime(projects["YSRQ"], format="%Y-%m-%d").notna().all()
    cited = truth["document"]
    assert set(cited[truth["facility_filed"]]) <= set(filings["BAH"])
    assert set(cited[truth["in_supplement"]]) <= set(projects["XMBH"])
    assert set(cited[truth["temporary"] != ""]) <= set(layers["temporary_use"]["PZWH"])
    assert set(cited[truth["in_erl"]]) <= set(layers["erl"]["HXMC"])


def test_erl_keeps_off_pbf_udb_and_the_lake_and_udb_holds_the_city(layers):
    erl, udb, pbf = layers["erl"], layers["udb"], layers["pbf"]
    lake = layers["dianchi"].geometry.iloc[0]
    erl_all, udb_all = shapely.union_all(erl.geometry.values), shapely.union_all(udb.geometry.values)
    assert shapely.intersection(erl_all, shapely.union_all(pbf.geometry.values)).area < 1.0
    assert shapely.intersection(erl_all, udb_all).area < 1.0
    assert shapely.intersection(udb_all, lake).area < 1.0
    # the hill part (features covering no change) lies away from the lake
    hill = erl[~erl["HXMC"].isin(layers["truth_patches"]["document"])]
    assert len(hill) >= 1 and (hill.distance(lake) > 1000.0).all()
    assert udb["MC"].str.contains("昆明主城").any() and udb_all.area > 5e7


def test_verdict_rules_on_a_hand_table():
    cases = [
        # kind, approval, on_pbf, filed, temporary, erl, supplement, t1_code → reason
        ("nonagri", "full", True, False, "", False, False, "0702", "pbf_conversion_approved"),
        ("nonagri", "full", False, False, "", False, False, "0702", "approved_conversion"),
        ("nonagri", "half", True, False, "", False, False, "0702", "unapproved_conversion_on_pbf"),
        ("nonagri", "half", False, False, "", False, False, "0702", "unapproved_conversion"),
        ("nonagri", "none", False, False, "valid", False, False, "0601", "temporary_use_valid"),
        ("nonagri", "none", False, False, "expired", False, False, "0601", "temporary_use_expired"),
        ("nonagri", "none", False, False, "", True, False, "0601", "construction_in_erl"),
        ("nonagri", "none", True, False, "", False, False, "0601", "unapproved_conversion_on_pbf"),
        ("nongrain", "", True, True, "", False, False, "1202", "facility_filed"),
        ("nongrain", "", False, False, "", False, False, "1202", "facility_unfiled"),
        ("nongrain", "", True, False, "", False, False, "0201", "nongrain_on_pbf"),
        ("nongrain", "", False, False, "", False, False, "0301", "nongrain_general"),
        ("supplement", "", False, False, "", False, True, "0103", "supplement_project"),
        ("back_in", "", False, False, "", False, False, "0101", "new_farmland"),
        ("other", "", True, False, "", False, False, "1206", "farmland_to_other"),
        ("decoy", "", True, False, "", False, False, "0101", "unchanged"),
    ]
    facts = pd.DataFrame(cases, columns=["kind", "planned_approval", "on_pbf", "facility_filed", "temporary",
                                         "in_erl", "in_supplement", "t1_code", "reason"])
    verdict, reason = enforcement.expected_verdicts(facts)
    assert reason.tolist() == facts["reason"].tolist()
    assert verdict.tolist() == facts["reason"].map(enforcement.REASONS).tolist()


@pytest.mark.slow
def test_same_seed_same_enforcement_layers(built, tmp_path):
    again = make_sample(tmp_path, n_parcels=PARCELS, seed=SEED)
    for name in FIELDS:
        same_layer(read(built, name), read(again.out_dir, name), name)


@pytest.mark.slow
def test_the_hook_leaves_every_other_layer_unchanged(built, tmp_path, monkeypatch):
    """A build without the 卫片执法 layers writes byte-for-byte the same older layers."""
    def without(*args, **kwargs):  # the hook still needs the truth table for SampleInfo's counts
        empty = gpd.GeoDataFrame({"kind": [], "expected_verdict": []}, geometry=[], crs="EPSG:4543")
        none = gpd.GeoDataFrame(geometry=[], crs="EPSG:4543")  # the village plans reuse ERL and UDB
        return {"truth_patches": empty, "erl": none, "udb": none}

    monkeypatch.setattr(enforcement, "make_enforcement", without)
    info = make_sample(tmp_path, n_parcels=PARCELS, seed=SEED)
    assert info.patches == {"legal": 0, "illegal": 0, "to_check": 0, "decoys": 0}
    for name in OLD_LAYERS:
        same_layer(read(built, name), read(tmp_path, name), name)
