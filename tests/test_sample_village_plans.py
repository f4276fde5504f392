"""The sample's village plans, construction boundaries, Dianchi zones and their ground truth (示例数据).

The truth is what was injected; these tests find the same by overlaying the layers the way an analysis
would, check that each plan partitions its village, and that the new layers leave every other layer alone.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from kmrv_geo import landuse
from kmrv_geo.sample import make_sample, village_plans
from kmrv_geo.sample.output import SYNTHETIC_NOTE

PARCELS, SEED = 3000, 4
"""Small enough to build in a few seconds; at this size this seed gives every finding (with seed 2023 no
village meets the ERL at 3,000 parcels, so ``planned_in_erl`` cannot occur there)."""
FIELDS = {
    "village_plan": ["YDYHDM", "YDYHMC", "CMC", "CUNDM"],
    "village_boundary": ["CMC", "CUNDM"],
    "lake_zones": ["BHJB", "MC"],
    "truth_village_review": ["CUNDM", "CMC", "finding", "area_m2", "YDYHDM", "DLBM", "t1_bsm", "below_min"],
    "truth_village_plan_meta": ["CUNDM", "CMC", "LX", "ZT", "has_plan"],
}
OLD_LAYERS = ["county", "township", "landuse_2022", "landuse_2023", "pbf", "hsf", "approvals", "dianchi",
              "truth_changes", "truth_abandoned", "facility_filings", "temporary_use", "supplement_projects", "erl",
              "udb", "monitoring_patches", "truth_patches"]
PLAN_FINDINGS = {"planned_on_pbf": "pbf", "planned_in_erl": "erl", "planned_in_udb": "udb"}
MIN_M2 = 1.0
"""Overlay leftovers smaller than this are float noise along shared edges."""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample at 3,000 parcels (seed 4), built once for this module."""
    out = tmp_path_factory.mktemp("village_plans")
    info = make_sample(out, n_parcels=PARCELS, seed=SEED)
    return out, info


def read(folder, layer):
    return gpd.read_file(folder / "demo.gpkg", layer=layer, engine="pyogrio")


def same_layer(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, name: str) -> None:
    pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"), obj=name)
    assert shapely.equals_identical(a.geometry.values, b.geometry.values).all(), name


@pytest.fixture(scope="module")
def layers(built):
    names = [*FIELDS, "villages", "landuse_2022", "landuse_2023", "truth_changes", "pbf", "erl", "udb", "dianchi"]
    return {name: read(built[0], name) for name in names}


def union(frame: gpd.GeoDataFrame):
    return shapely.union_all(frame.geometry.values)


def test_every_new_layer_has_its_fields_in_epsg_4543_and_says_synthetic(built):
    folder, info = built
    for name, fields in FIELDS.items():
        meta = pyogrio.read_info(folder / "demo.gpkg", layer=name)
        assert list(meta["fields"]) == fields, name
        assert meta["crs"] == "EPSG:4543", name
        assert meta["features"] > 0, name
        assert SYNTHETIC_NOTE in meta["layer_metadata"]["DESCRIPTION"], name
        expected = "Point" if name == "truth_village_plan_meta" else "MultiPolygon"
        assert meta["geometry_type"] == expected, name
    assert set(info.village_findings) == set(village_plans.FINDINGS)
    assert list(pyogrio.read_info(folder / "demo.gpkg", layer="villages")["fields"])[-1] == "ZT"


def test_every_finding_occurs_and_the_counts_are_reported(built, layers):
    review = layers["truth_village_review"]
    assert set(review["finding"]) == set(village_plans.FINDINGS)
    assert review["finding"].value_counts().to_dict() == {k: v for k, v in built[1].village_findings.items() if v}
    assert review["CUNDM"].isin(layers["villages"]["CUNDM"]).all()
    names = dict(zip(layers["villages"]["CUNDM"], layers["villages"]["CMC"], strict=True))
    assert (review["CMC"] == review["CUNDM"].map(names)).all()
    np.testing.assert_allclose(review["area_m2"], review.area, rtol=1e-9)
    assert (review["area_m2"] > 0).all()
    plan_rows = review["finding"].str.startswith("planned_")
    assert (review.loc[plan_rows, "YDYHDM"] != "").all() and (review.loc[~plan_rows, "YDYHDM"] == "").all()
    assert (review["YDYHDM"].isin(["", *village_plans.PLAN_NAMES])).all()


def test_about_170_villages_have_a_plan_and_the_rest_are_listed(layers):
    meta, plan, villages = layers["truth_village_plan_meta"], layers["village_plan"], layers["villages"]
    assert len(meta) == 183 and meta["CUNDM"].is_unique
    assert meta["has_plan"].sum() == 183 - village_plans.N_WITHOUT_PLAN
    assert set(plan["CUNDM"]) == set(meta.loc[meta["has_plan"], "CUNDM"])
    assert set(layers["village_boundary"]["CUNDM"]) == set(plan["CUNDM"])
    assert (meta.loc[~meta["has_plan"], "LX"] == "绿美村庄").all()
    merged = meta.merge(villages[["CUNDM", "CMC", "LX", "ZT"]], on="CUNDM", suffixes=("", "_v"))
    for column in ("CMC", "LX", "ZT"):
        assert (merged[column] == merged[f"{column}_v"]).all(), column
    # the review only names planned villages for plan and boundary findings
    review = layers["truth_village_review"]
    about_plan = ~review["finding"].str.startswith("new_built_in_lake")
    assert review.loc[about_plan, "CUNDM"].isin(plan["CUNDM"]).all()


def test_themes_given_for_40_key_villages_only(layers):
    villages = layers["villages"]
    key = villages["LX"] == "重点村"
    assert (villages.loc[key, "ZT"] != "").sum() == 46 - village_plans.N_UNTHEMED
    assert (villages.loc[~key, "ZT"] == "").all()
    assert set(villages["ZT"]) - {""} <= set(village_plans.THEMES)


def test_each_plan_partitions_its_village(layers):
    plan, villages = layers["village_plan"], layers["villages"].set_index("CUNDM")
    assert plan.is_valid.all()
    assert plan["YDYHDM"].isin(list(village_plans.PLAN_NAMES)).all()
    assert (plan["YDYHMC"] == plan["YDYHDM"].map(village_plans.PLAN_NAMES)).all()
    for code, group in plan.groupby("CUNDM"):
        village = villages.geometry[code]
        whole = union(group)
        assert group.area.sum() == pytest.approx(village.area, rel=1e-7), code  # no gaps …
        assert whole.area == pytest.approx(group.area.sum(), rel=1e-7), code  # … no overlaps …
        assert whole.symmetric_difference(village).area < 1.0, code  # … nothing outside
        assert (group["CMC"] == villages["CMC"][code]).all()


def test_plan_mostly_agrees_with_2023_use(layers):
    plan, t1 = layers["village_plan"], layers["landuse_2023"]
    t1 = t1[t1["ZLDWDM"].isin(plan["CUNDM"])]
    left, right = shapely.STRtree(plan.geometry.values).query(t1.geometry.values, predicate="intersects")
    overlap = shapely.area(shapely.intersection(t1.geometry.values[left], plan.geometry.values[right]))
    same = village_plans.plan_code(t1["DLBM"].to_numpy()[left]) == plan["YDYHDM"].to_numpy()[right]
    assert overlap[same].sum() / overlap.sum() > 0.97


def planned_new_construction(layers) -> gpd.GeoDataFrame:
    """Plan polygons with a construction code over 2023 land that is not construction (by overlay)."""
    plan, t1 = layers["village_plan"], layers["landuse_2023"]
    built_plan = plan[plan["YDYHDM"].str[:2].isin(village_plans.PLAN_CONSTRUCTION)]
    category = landuse.DEFAULT_CLASSES.classify(t1["DLBM"])
    open_land = t1[(category != landuse.CONSTRUCTION).to_numpy()]
    left, right = shapely.STRtree(open_land.geometry.values).query(built_plan.geometry.values,
                                                                  predicate="intersects")
    pieces = shapely.intersection(built_plan.geometry.values[left], open_land.geometry.values[right])
    keep = shapely.area(pieces) > MIN_M2
    return gpd.GeoDataFrame({
        "CUNDM": built_plan["CUNDM"].to_numpy()[left[keep]], "YDYHDM": built_plan["YDYHDM"].to_numpy()[left[keep]],
        "DLBM": open_land["DLBM"].to_numpy()[right[keep]], "t1_bsm": open_land["BSM"].to_numpy()[right[keep]],
    }, geometry=pieces[keep], crs="EPSG:4543")  # fmt: skip


def key(frame: pd.DataFrame) -> list[tuple]:
    return sorted(zip(frame["CUNDM"], frame["t1_bsm"], frame["YDYHDM"], np.round(frame["area_m2"], 1), strict=True))


def test_plan_conflicts_found_by_overlay_are_exactly_the_injected_ones(layers):
    found = planned_new_construction(layers)
    found["area_m2"] = found.area
    review = layers["truth_village_review"]
    for finding, layer in PLAN_FINDINGS.items():
        zone = union(layers[layer])
        hit = found[shapely.area(shapely.intersection(found.geometry.values, zone)) > MIN_M2]
        assert key(hit) == key(review[review["finding"] == finding]), finding
        # by construction the patch lies wholly inside its zone
        assert (shapely.area(shapely.difference(hit.geometry.values, zone)) < MIN_M2).all(), finding
    on_pbf = shapely.area(shapely.intersection(found.geometry.values, union(layers["pbf"]))) > MIN_M2
    loss = found[found["DLBM"].isin(["0101", "0102", "0103"]) & ~on_pbf]
    assert key(loss) == key(review[review["finding"] == "planned_farmland_loss"])
    injected = review[review["finding"].str.startswith("planned_")]
    assert set(injected["t1_bsm"]) == set(found["t1_bsm"])  # nothing else is planned new construction
    assert (review.loc[review["finding"] == "planned_on_pbf", "YDYHDM"] == "0703").all()
    assert (review.loc[review["finding"] == "planned_in_erl", "YDYHDM"] == "1207").all()


def test_plan_conflicts_keep_off_change_pieces(layers):
    review, changes = layers["truth_village_review"], layers["truth_changes"]
    conflicts = review[review["finding"].str.startswith("planned_")]
    near = shapely.STRtree(changes.geometry.values).query(conflicts.geometry.values, predicate="dwithin",
                                                          distance=village_plans.GAP_M - 0.01)
    assert near.size == 0


def test_boundary_leaves_out_exactly_the_injected_buildings(layers):
    boundary, t1, changes = layers["village_boundary"], layers["landuse_2023"], layers["truth_changes"]
    review = layers["truth_village_review"]
    assert boundary["CUNDM"].is_unique and boundary.is_valid.all()
    villages = layers["villages"].set_index("CUNDM")
    assert (shapely.area(shapely.difference(boundary.geometry.values,
                                            villages.geometry[boundary["CUNDM"]].values)) < MIN_M2).all()
    buildings = t1[t1["ZLDWDM"].isin(boundary["CUNDM"]) & t1["DLBM"].str[:2].isin(village_plans.BUILDING_PREFIXES)]
    own = boundary.set_index("CUNDM").geometry[buildings["ZLDWDM"]].values
    outside = shapely.area(shapely.difference(buildings.geometry.values, own))
    out = outside > MIN_M2
    np.testing.assert_allclose(outside[out], buildings.area.to_numpy()[out], rtol=1e-9)  # wholly outside
    new = buildings["BSM"].isin(changes.loc[changes["kind"] == "nonagri", "t1_bsm"]).to_numpy()
    for finding, mask in (("built_outside_boundary", out & ~new), ("new_built_outside_boundary", out & new)):
        expected = review[review["finding"] == finding]
        assert sorted(buildings["BSM"].to_numpy()[mask]) == sorted(expected["t1_bsm"]), finding
        assert sorted(buildings["ZLDWDM"].to_numpy()[mask]) == sorted(expected["CUNDM"]), finding
    n_old = (review["finding"] == "built_outside_boundary").sum()
    assert n_old == village_plans.N_CUT_VILLAGES
    assert 1 <= (review["finding"] == "new_built_outside_boundary").sum() <= village_plans.N_NEW_CUT
    cut = review[review["finding"].str.contains("outside_boundary")]
    assert not cut.duplicated(["CUNDM", "finding"]).any()  # one of each kind per village
    # the boundary keeps about 10 m around every other building
    kept = buildings[~out]
    inner = shapely.buffer(kept.geometry.values, 9.0)
    own_kept = boundary.set_index("CUNDM").geometry[kept["ZLDWDM"]].values
    village_of = villages.geometry[kept["ZLDWDM"]].values
    spill = shapely.difference(shapely.intersection(inner, village_of), own_kept)
    gone = shapely.union_all(t1[t1["BSM"].isin(cut["t1_bsm"])].geometry.values)
    assert (shapely.area(shapely.difference(spill, shapely.buffer(gone, 10.0))) < MIN_M2).all()


def test_lake_zones_partition_the_area_and_follow_the_lake(layers):
    zones, lake = layers["lake_zones"], layers["dianchi"].geometry.iloc[0]
    assert zones["BHJB"].tolist() == ["一级", "二级", "三级"]
    assert zones["MC"].str.contains("示例").all()
    area = union(layers["landuse_2022"])
    assert zones.area.sum() == pytest.approx(area.area, rel=1e-8)
    assert union(zones).symmetric_difference(area).area < 1e-6 * area.area
    z1, z2 = zones.geometry.iloc[0], zones.geometry.iloc[1]
    assert shapely.difference(lake, z1).area < 1.0
    assert z1.area > lake.area and z1.intersection(z2).area < 1.0
    assert shapely.hausdorff_distance(shapely.boundary(lake), shapely.boundary(z1)) > village_plans.ZONE1_M - 1.0


def test_new_construction_in_zones_1_and_2_is_in_the_truth(layers):
    changes, zones, review = layers["truth_changes"], layers["lake_zones"], layers["truth_village_review"]
    t0 = layers["landuse_2022"]
    new = changes[changes["kind"] == "nonagri"]
    village = t0.set_index("BSM")["ZLDWDM"][new["t0_bsm"]].to_numpy()
    in_village = np.isin(village, layers["villages"]["CUNDM"])
    new = new[in_village].assign(CUNDM=village[in_village])
    for level, finding in (("一级", "new_built_in_lake_zone1"), ("二级", "new_built_in_lake_zone2")):
        zone = zones.loc[zones["BHJB"] == level].geometry.iloc[0]
        part = shapely.intersection(new.geometry.values, zone)
        hit = shapely.area(part) > 0.01
        found = new[hit].assign(area_m2=shapely.area(part[hit]), YDYHDM="")
        found = found.rename(columns={"t1_code": "DLBM"})
        expected = review[review["finding"] == finding]
        assert key(found) == key(expected), finding
        assert sorted(found["DLBM"]) == sorted(expected["DLBM"]), finding
    assert (review["finding"] == "new_built_in_lake_zone1").any()
    assert (review["finding"] == "new_built_in_lake_zone2").any()


def test_planned_in_erl_occurs_where_a_planned_village_meets_the_erl(sample_dir):
    """Any sample: the ERL road strip is drawn if and only if a planned village meets the ERL."""
    plan, erl = read(sample_dir, "village_plan"), read(sample_dir, "erl")
    review = read(sample_dir, "truth_village_review")
    villages = read(sample_dir, "villages")
    planned = villages[villages["CUNDM"].isin(plan["CUNDM"])]
    meets = shapely.area(shapely.intersection(planned.geometry.values, union(erl))) >= village_plans.MIN_MEET_M2
    assert meets.any() == (review["finding"] == "planned_in_erl").any()
    assert set(review["finding"]) >= {"built_outside_boundary", "planned_on_pbf", "planned_farmland_loss"}


def test_plan_code_table_keeps_construction_apart():
    """Every 三调 construction code but 1201 空闲地 is planned as construction, nothing else is."""
    codes = [c for c in landuse.CODE_NAMES if len(c) == 4]
    assert set(codes) == set(village_plans.FROM_GB)
    planned = pd.Series(village_plans.plan_code(codes), index=codes)
    assert set(planned) <= set(village_plans.PLAN_NAMES)
    construction = pd.Series([landuse.DEFAULT_CLASSES.category_of(c) == landuse.CONSTRUCTION for c in codes],
                             index=codes)
    planned_construction = planned.str[:2].isin(village_plans.PLAN_CONSTRUCTION)
    assert (planned_construction == (construction & (planned.index != "1201"))).all()


@pytest.mark.slow
def test_same_seed_same_village_layers(built, tmp_path):
    again = make_sample(tmp_path, n_parcels=PARCELS, seed=SEED)
    assert again.village_findings == built[1].village_findings
    for name in [*FIELDS, "villages"]:
        same_layer(read(built[0], name), read(again.out_dir, name), name)


@pytest.mark.slow
def test_the_hook_leaves_every_other_layer_unchanged(built, tmp_path, monkeypatch):
    """A build without the village-plan layers writes the same older layers (villages: all but ZT)."""
    def without(villages, *args, **kwargs):
        empty = gpd.GeoDataFrame({"finding": []}, geometry=[], crs="EPSG:4543")
        return {"truth_village_review": empty}, np.full(len(villages), "", dtype=object)

    monkeypatch.setattr(village_plans, "make_village_plans", without)
    info = make_sample(tmp_path, n_parcels=PARCELS, seed=SEED)
    assert sum(info.village_findings.values()) == 0
    for name in OLD_LAYERS:
        same_layer(read(built[0], name), read(tmp_path, name), name)
    same_layer(read(built[0], "villages").drop(columns="ZT"), read(tmp_path, "villages").drop(columns="ZT"),
               "villages")
