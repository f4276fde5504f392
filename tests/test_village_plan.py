"""Village plan review on a hand-made village (planar 亩: 1 亩 = 10000/15 m²).

Village A (x 0–300, y 0–100) and village B (x 300–600, no plan, no construction boundary).
T0: 0103 at x 0–100 and 200–300, an old house 0702 at x 100–200. T1: a new house 0702 in the corner
x 0–20, y 0–20 (400 m² = 0.6 亩). Construction boundary: x 100–180 (the old house's east 20 m lies outside:
2000 m² = 3 亩). Plan: 0103 at x 0–50, homesteads 0703 at x 50–200, industry 1001 at x 200–300.
PBF x 0–100; ERL x 250–300; UDB x 150–200; lake zone 1 x 0–50, zone 2 x 50–300.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from kmrv_geo.analysis.village_plan import LakeZones, approximate_lake_zones, plan_classes, review_villages
from kmrv_geo.landuse import DEFAULT_CLASSES

CRS = "EPSG:4543"
X, Y = 570_000.0, 2_770_000.0


def sq(x0, y0, x1, y1):
    return box(X + x0, Y + y0, X + x1, Y + y1)


def land(rows):
    frame = gpd.GeoDataFrame({"code": [c for c, _ in rows]}, geometry=[g for _, g in rows], crs=CRS)
    frame["category"] = DEFAULT_CLASSES.classify(frame["code"]).to_numpy()
    return frame


def arr(*geoms):
    return np.asarray(geoms, dtype=object)


VILLAGES = gpd.GeoDataFrame({"village_key": ["530112001", "530112002"], "village": ["甲村", "乙村"]},
                            geometry=[sq(0, 0, 300, 100), sq(300, 0, 600, 100)], crs=CRS)
T0 = land([("0103", sq(0, 0, 100, 100)), ("0702", sq(100, 0, 200, 100)), ("0103", sq(200, 0, 300, 100)),
           ("0103", sq(300, 0, 600, 100))])
HOUSE = sq(0, 0, 20, 20)
T1 = land([("0702", HOUSE), ("0103", sq(0, 0, 100, 100).difference(HOUSE)), ("0702", sq(100, 0, 200, 100)),
           ("0103", sq(200, 0, 300, 100)), ("0103", sq(300, 0, 600, 100))])
PLAN = gpd.GeoDataFrame({"plan_code": ["0103", "0703", "1001"]},
                        geometry=[sq(0, 0, 50, 100), sq(50, 0, 200, 100), sq(200, 0, 300, 100)], crs=CRS)
MU = 10_000 / 15


def review(**kw):
    args = dict(t0=T0, t1=T1, plan=PLAN, boundary=arr(sq(100, 0, 180, 100)), pbf=arr(sq(0, 0, 100, 100)),
                erl=arr(sq(250, 0, 300, 100)), udb=arr(sq(150, 0, 200, 100)),
                lake_zones=LakeZones(arr(sq(0, 0, 50, 100)), arr(sq(50, 0, 300, 100))))
    return review_villages(VILLAGES, **{**args, **kw})


def test_every_finding_by_hand():
    result = review()
    got = {(r.village_key, r.finding): r.area_mu for r in result.findings.itertuples()}
    assert got == pytest.approx({
        ("530112001", "built_outside_boundary"): (400 + 2000) / MU,  # the new house and the old house's east end
        ("530112001", "new_built_outside_boundary"): 400 / MU,
        ("530112001", "planned_on_pbf"): 5000 / MU,  # homesteads x 50–100 on PBF
        ("530112001", "planned_in_erl"): 5000 / MU,  # industry x 250–300
        ("530112001", "planned_in_udb"): 5000 / MU,  # homesteads x 150–200
        ("530112001", "planned_farmland_loss"): 15000 / MU,  # farmland x 50–100 and 200–300
        ("530112001", "new_built_in_lake_zone1"): 400 / MU,
    })
    new = result.findings.set_index("finding")["new_mu"]
    assert new["planned_on_pbf"] == pytest.approx(5000 / MU)  # farmland today: all of it would be new building
    assert new["planned_in_udb"] == pytest.approx(0.0, abs=1e-9)  # the old house: existing construction kept
    assert new["new_built_in_lake_zone1"] == pytest.approx(400 / MU) and np.isnan(new["built_outside_boundary"])
    loss = result.findings.set_index("finding").loc["planned_farmland_loss"]
    assert loss.pbf_mu == pytest.approx(5000 / MU) and loss.village == "甲村"
    a, b = result.villages.set_index("village_key").loc[["530112001", "530112002"]].to_dict("records")
    assert a["planned_construction_mu"] == pytest.approx(25000 / MU)
    assert a["current_construction_mu"] == pytest.approx(10400 / MU)
    assert a["construction_change_mu"] == pytest.approx(14600 / MU)
    assert a["new_built_in_lake_zone2_mu"] == 0 and a["findings"] == 7
    # village B: no plan, no construction boundary → not computed (never 0); the lake finding is computed
    assert not b["has_plan"] and not b["has_boundary"]
    assert np.isnan(b["planned_on_pbf_mu"]) and np.isnan(b["built_outside_boundary_mu"])
    assert b["new_built_in_lake_zone1_mu"] == 0 and np.isnan(b["planned_construction_mu"])
    assert any("乙村" in w for w in result.warnings)


def test_without_layers_the_findings_they_need_are_not_given():
    result = review(plan=None, boundary=None, lake_zones=None)
    assert result.findings.empty
    assert result.villages["has_plan"].isna().all() and result.villages["findings"].isna().all()
    assert result.villages[[c for c in result.villages if c.endswith("_mu") and "construction" not in c]
                           ].isna().all().all()


def test_plan_code_mapping_and_overrides():
    codes = ["0703", "0601", "1001", "0103", "0201", "0301", "0501", "1701", "2302", "", "9x"]
    assert list(plan_classes(codes)) == ["construction", "agricultural", "construction", "agricultural", "agricultural",
                                         "ecological", "ecological", "water", "other", "unknown", "unknown"]
    # planned rural roads (0601) counted as construction instead: the longest prefix wins
    assert list(plan_classes(["0601", "0602"], {"construction": ["07", "0601"]})) == ["construction",
                                                                                    "agricultural"]


def test_lake_zone_approximation_is_labelled():
    zones = approximate_lake_zones(arr(sq(-500, 0, -100, 100)), (100.0, 2000.0))
    assert zones.source == "approximation"
    result = review(lake_zones=zones)
    lake = result.findings[result.findings["finding"].str.startswith("new_built_in_lake")]
    assert (lake["lake_zone_source"] == "approximation").all() and len(lake) == 1
    assert lake.iloc[0].finding == "new_built_in_lake_zone2"  # the new house is 100–120 m from the lake
    assert (result.villages["lake_zone_source"] == "approximation").all()


def test_landuse_before_and_after_per_village():
    from kmrv_geo.analysis.village_plan import landuse_by_village

    table = landuse_by_village(VILLAGES, t0=T0, t1=T1).set_index(["village_key", "category"])
    a = table.loc["530112001"]
    assert a.loc["farmland", "t0_mu"] == pytest.approx(20000 / MU)
    assert a.loc["farmland", "t1_mu"] == pytest.approx(19600 / MU)
    assert a.loc["construction", "change_mu"] == pytest.approx(400 / MU)
    assert table.loc[("530112002", "farmland"), "change_mu"] == 0


def test_lake_zone_levels_are_read_in_any_usual_form_and_others_refused():
    import pandas as pd

    from kmrv_geo.errors import LayerError
    from kmrv_geo.plan_fields import plan_codes, zone_levels

    levels = zone_levels(pd.Series(["一级", "二级保护区", 3, "Ⅱ", "1", 2.0]), source="zones.shp", field="BHJB")
    assert list(levels) == [1, 2, 3, 2, 1, 2]
    with pytest.raises(LayerError, match=r"BHJB.*'核心区' ×2.*一级, 二级 or 三级"):
        zone_levels(pd.Series(["核心区", "一级", "核心区"]), source="zones.shp", field="BHJB")
    assert list(plan_codes(pd.Series([703, "0103", " ０７０３ ", None]))) == ["0703", "0103", "0703", ""]
    with pytest.raises(LayerError, match=r"YDYHMC holds no 用地用海 codes.*'农村宅基地' ×2"):
        plan_codes(pd.Series(["农村宅基地", "河流水面", "农村宅基地"]), source="plan.gpkg", field="YDYHMC")


def test_village_pages_in_the_demo(demo_out):
    import json

    from kmrv_geo.webmap.village_pages import village_page_name

    profile = gpd.read_file(demo_out / "results.gpkg", layer="villages_profile", engine="pyogrio")
    pages = demo_out / "villages"
    assert (pages / "index.html").exists()
    assert all((pages / village_page_name(k)).exists() for k in profile["village_key"])
    written = json.loads((demo_out / "manifest.json").read_text(encoding="utf-8"))["outputs"]
    assert "villages/index.html" in written
    map_html = (demo_out / "maps" / "villages.html").read_text(encoding="utf-8")
    assert village_page_name(profile["village_key"].iloc[0]) in map_html  # the popups link to the pages
