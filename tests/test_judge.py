"""Judging monitoring patches (卫片执法): one hand-worked patch per verdict path.

The world: 100 m × 100 m T0 parcels (15 亩 each) in EPSG:4543; patches 40 m × 40 m (1,600 m² = 2.4 亩).
Areas are planar, so every expected figure is worked out by hand: 1 亩 = 10,000/15 m².
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from kmrv_geo.analysis.judge import PermitLayer, judge_patches, judged_by_county
from kmrv_geo.analysis.violations import Zones
from kmrv_geo.landuse import DEFAULT_CLASSES
from kmrv_geo.units import M2_PER_MU

CRS = "EPSG:4543"
X0, Y0 = 570_000.0, 2_770_000.0
PATCH = box(X0 + 30, Y0 + 30, X0 + 70, Y0 + 70)  # inside parcel 0 (farmland)
MU = 1600 / M2_PER_MU  # 2.4 亩


def _land(codes: list[str]) -> gpd.GeoDataFrame:
    """A row of 100 m squares with these codes, west to east."""
    geoms = [box(X0 + 100 * i, Y0, X0 + 100 * (i + 1), Y0 + 100) for i in range(len(codes))]
    frame = gpd.GeoDataFrame({"code": codes}, geometry=geoms, crs=CRS)
    frame["category"] = DEFAULT_CLASSES.classify(frame["code"]).to_numpy()
    return frame


def _patches(geoms, after=("",), numbers=None, dates=None) -> gpd.GeoDataFrame:
    n = len(geoms)
    after = list(after) * n if len(after) == 1 else list(after)
    return gpd.GeoDataFrame({
        "patch_no": numbers or [f"JC{i + 1:03d}" for i in range(n)], "after_code": after, "before_code": [""] * n,
        "image_date": np.array(dates or [None] * n, dtype="datetime64[D]"),
    }, geometry=list(geoms), crs=CRS)  # fmt: skip


def _permit(geoms, refs, ends=None) -> PermitLayer:
    return PermitLayer(np.asarray(geoms, dtype=object), np.asarray(refs, dtype=object),
                       None if ends is None else np.array(ends, dtype="datetime64[D]"))


def _one(result) -> pd.Series:
    assert len(result.patches) == 1, result.not_judged
    return result.patches.iloc[0]


def _arr(*geoms):
    return np.asarray(geoms, dtype=object)


def test_construction_on_farmland_without_approval_is_illegal():
    row = _one(judge_patches(_patches([PATCH], after=["0702"]), t0=_land(["0103"]), permits={
        "approvals": _permit([box(X0 + 500, Y0, X0 + 600, Y0 + 100)], ["云政地〔2023〕9号"])}))
    assert (row.verdict, row.reasons, row.verdict_text) == ("illegal", "unapproved_conversion", "违法")
    assert row.illegal_mu == pytest.approx(MU) and row.legal_mu == 0
    assert row.farmland_mu == pytest.approx(MU) and row.approved_mu == 0 and row.approval_refs == ""
    assert row.t0_classes == "0103:2.40" and row.after_source == "patch" and row.after_name == "农村宅基地"


def test_construction_inside_a_conversion_approval_is_legal_and_cites_it():
    approval = box(X0, Y0, X0 + 100, Y0 + 100)
    row = _one(judge_patches(_patches([PATCH], after=["0601"]), t0=_land(["0103"]),
                             permits={"approvals": _permit([approval], ["云政地〔2023〕1号"])}))
    assert (row.verdict, row.reasons) == ("legal", "approved_conversion")
    assert row.approved_mu == pytest.approx(MU) and row.approval_refs == "云政地〔2023〕1号"
    assert "云政地〔2023〕1号" in row.reason_text and row.partly is False or row.partly == np.False_


def test_patch_half_inside_an_approval_is_split_and_says_so():
    half = box(X0, Y0, X0 + 50, Y0 + 100)  # covers the west 20 m of the patch: 800 m² = 1.2 亩
    result = judge_patches(_patches([PATCH], after=["0601"]), t0=_land(["0103"]),
                           permits={"approvals": _permit([half], ["云政地〔2023〕2号"])})
    row = _one(result)
    assert row.verdict == "illegal" and bool(row.partly)
    assert row.reasons == "unapproved_conversion;approved_conversion"
    assert row.legal_mu == pytest.approx(1.2) and row.illegal_mu == pytest.approx(1.2)
    assert row.reason_text.startswith("图斑部分：违法 1.20 亩，合法 1.20 亩。")
    parts = result.parts
    assert list(parts["verdict"]) == ["illegal", "legal"] and list(parts["part"]) == [1, 2]
    assert parts["area_mu"].to_numpy() == pytest.approx([1.2, 1.2])
    assert list(parts["refs"]) == ["", "云政地〔2023〕2号"]


def test_construction_on_pbf_has_its_own_reason_and_approved_pbf_conversion_stays_flagged():
    pbf = _arr(box(X0, Y0, X0 + 100, Y0 + 100))
    row = _one(judge_patches(_patches([PATCH], after=["0702"]), t0=_land(["0101"]), pbf=pbf))
    assert (row.verdict, row.reasons) == ("illegal", "unapproved_conversion_on_pbf")
    assert row.illegal_pbf_mu == pytest.approx(MU) and row.pbf_converted_mu == pytest.approx(MU)
    approved = _one(judge_patches(_patches([PATCH], after=["0702"]), t0=_land(["0101"]), pbf=pbf,
                                  permits={"approvals": _permit([box(X0, Y0, X0 + 100, Y0 + 100)], ["A-1"])}))
    assert approved.verdict == "to_check"  # 一冻结: flagged whatever the approval says
    assert approved.reasons == "pbf_conversion_approved;approved_conversion"
    assert "占用永久基本农田（已批）" in approved.reason_text
    assert approved.pbf_converted_approved_mu == pytest.approx(MU) and approved.illegal_pbf_mu == 0
    table = judged_by_county(pd.concat([row.to_frame().T, approved.to_frame().T]))
    assert table["pbf_converted_mu"].sum() == pytest.approx(2 * MU)
    assert table["pbf_converted_approved_mu"].sum() == pytest.approx(MU)
    assert table["illegal_pbf_mu"].sum() == pytest.approx(MU)


@pytest.mark.parametrize(("end", "image_date", "as_of", "verdict", "reason"), [
    ("2024-06-30", "2023-10-01", None, "legal", "temporary_use_valid"),
    ("2023-06-30", "2023-10-01", None, "illegal", "temporary_use_expired"),
    ("2023-06-30", None, "2023-03-01", "legal", "temporary_use_valid"),  # no HSX: the config's as_of
    ("2023-06-30", None, None, "to_check", "temporary_use_date_unknown"),  # neither: left to the field check
    (None, "2023-10-01", None, "to_check", "temporary_use_date_unknown"),  # unreadable end date
])  # fmt: skip
def test_temporary_use_is_legal_until_its_end_date(end, image_date, as_of, verdict, reason):
    permit = _permit([box(X0, Y0, X0 + 100, Y0 + 100)], ["昆临用〔2022〕8号"], ends=[end])
    row = _one(judge_patches(_patches([PATCH], after=["0602"], dates=[image_date]), t0=_land(["0103"]),
                             permits={"temporary_use": permit}, as_of=np.datetime64(as_of) if as_of else None))
    assert (row.verdict, row.reasons) == (verdict, reason)
    assert row.temporary_mu == pytest.approx(MU) and row.temporary_refs == "昆临用〔2022〕8号"
    assert row.temporary_end == (end or "?")


def test_facility_agriculture_needs_a_filing():
    filing = _permit([box(X0 + 20, Y0 + 20, X0 + 80, Y0 + 80)], ["官渡设施备〔2023〕15号"])
    filed = _one(judge_patches(_patches([PATCH], after=["1202"]), t0=_land(["0103"]),
                               permits={"facility_filings": filing}))
    assert (filed.verdict, filed.reasons, filed.facility_refs) == ("legal", "facility_filed", "官渡设施备〔2023〕15号")
    unfiled = _one(judge_patches(_patches([PATCH], after=["1202"]), t0=_land(["0103"])))
    assert (unfiled.verdict, unfiled.reasons) == ("illegal", "facility_unfiled")


def test_non_grain_use_is_illegal_on_pbf_and_to_check_elsewhere_and_rules_are_configurable():
    pbf = _arr(box(X0, Y0, X0 + 100, Y0 + 100))
    on = _one(judge_patches(_patches([PATCH], after=["0201"]), t0=_land(["0103"]), pbf=pbf))
    assert (on.verdict, on.reasons, on.pbf_mu) == ("illegal", "nongrain_on_pbf", pytest.approx(MU))
    off = _one(judge_patches(_patches([PATCH], after=["0201"]), t0=_land(["0103"])))
    assert (off.verdict, off.reasons) == ("to_check", "nongrain_general")
    relaxed = _one(judge_patches(_patches([PATCH], after=["0201"]), t0=_land(["0103"]),
                                 verdicts={"nongrain_general": "legal"}))
    assert relaxed.verdict == "legal"


def test_construction_in_the_ecological_red_line():
    erl = _arr(box(X0, Y0 + 50, X0 + 100, Y0 + 100))  # the north half of the patch: 800 m²
    row = _one(judge_patches(_patches([PATCH], after=["0601"]), t0=_land(["0301"]), erl=erl))
    assert row.verdict == "illegal"
    assert row.reasons == "unapproved_construction;construction_in_erl"
    assert row.erl_mu == pytest.approx(1.2) and row.farmland_mu == 0
    approved = _one(judge_patches(_patches([PATCH], after=["0601"]), t0=_land(["0301"]), erl=erl,
                                  permits={"approvals": _permit([box(X0, Y0, X0 + 100, Y0 + 100)], ["A-9"])}))
    assert approved.verdict == "to_check" and approved.to_check_mu == pytest.approx(1.2)
    assert approved.legal_mu == pytest.approx(1.2) and bool(approved.partly)


def test_current_use_from_the_t1_survey_else_unknown():
    t1 = _land(["0702"])
    from_t1 = _one(judge_patches(_patches([PATCH]), t0=_land(["0103"]), t1=t1))
    assert (from_t1.after_code, from_t1.after_source, from_t1.verdict) == ("0702", "t1", "illegal")
    unknown = _one(judge_patches(_patches([PATCH]), t0=_land(["0103"])))
    assert (unknown.verdict, unknown.reasons, unknown.after_source) == ("to_check", "after_use_unknown", "unknown")


def test_what_it_was_by_t0_class_and_new_farmland_from_a_supplement_project():
    across = box(X0 + 70, Y0 + 30, X0 + 110, Y0 + 70)  # 30 m in 0103, 10 m in 0702
    row = _one(judge_patches(_patches([across], after=["0601"]), t0=_land(["0103", "0702"])))
    assert row.t0_classes == "0103:1.80;0702:0.60"
    assert row.reasons == "unapproved_conversion;was_construction" and row.illegal_mu == pytest.approx(1.8)
    project = _permit([box(X0, Y0, X0 + 100, Y0 + 100)], ["补充耕地项目2023-01"])
    new = _one(judge_patches(_patches([PATCH], after=["0103"]), t0=_land(["0404"]),
                             permits={"supplement_projects": project}))
    assert (new.verdict, new.reasons, new.supplement_refs) == ("legal", "supplement_project", "补充耕地项目2023-01")
    same = _one(judge_patches(_patches([PATCH], after=["0103"]), t0=_land(["0103"])))
    assert (same.verdict, same.reasons) == ("legal", "unchanged")


def test_slivers_below_min_part_do_not_decide_the_verdict():
    approval = box(X0, Y0, X0 + 69.99, Y0 + 100)  # leaves a 0.01 m × 40 m = 0.4 m² sliver of the patch
    row = _one(judge_patches(_patches([PATCH], after=["0601"]), t0=_land(["0103"]),
                             permits={"approvals": _permit([approval], ["A-2"])}))
    assert row.verdict == "legal" and not bool(row.partly)
    assert row.illegal_mu == pytest.approx(0.4 / M2_PER_MU)  # still counted


def test_patches_outside_the_survey_or_the_study_area_are_listed_not_judged():
    county = gpd.GeoDataFrame({"county_code": ["530112"], "county_name": ["西山区"]},
                              geometry=[box(X0 - 1000, Y0 - 1000, X0 + 1000, Y0 + 1000)], crs=CRS)
    away = box(X0 + 5000, Y0, X0 + 5040, Y0 + 40)
    no_survey = box(X0 + 300, Y0, X0 + 340, Y0 + 40)
    result = judge_patches(_patches([PATCH, away, no_survey], after=["0601"]), t0=_land(["0103"]),
                           zones=Zones(county=county))
    assert list(result.patches["patch_id"]) == ["JC001"]
    assert result.patches.iloc[0].county_name == "西山区"
    assert dict(zip(result.not_judged["patch_id"], result.not_judged["reason"], strict=True)) == {
        "JC002": "outside_study_area", "JC003": "outside_t0"}


def test_patch_numbers_generated_when_blank_and_repeats_made_unique():
    geoms = [PATCH, box(X0 + 130, Y0 + 30, X0 + 170, Y0 + 70), box(X0 + 230, Y0 + 30, X0 + 270, Y0 + 70)]
    result = judge_patches(_patches(geoms, after=["0601"], numbers=["JC7", "JC7", ""]),
                           t0=_land(["0103", "0103", "0103"]))
    assert sorted(result.patches["patch_id"]) == ["000000-J00001", "JC7", "JC7-2"]
    assert any("repeat" in w for w in result.warnings)


def test_parts_add_up_to_the_patch_in_both_area_kinds():
    from kmrv_geo.units import AreaMeasure

    measure = AreaMeasure(CRS, "ellipsoidal", (102.7, 25.0))
    across = box(X0 + 70, Y0 + 30, X0 + 110, Y0 + 70)
    result = judge_patches(_patches([across], after=["0601"]), t0=_land(["0103", "0702"]), measure=measure,
                           pbf=_arr(box(X0, Y0, X0 + 85, Y0 + 100)),
                           permits={"approvals": _permit([box(X0 + 60, Y0 + 50, X0 + 120, Y0 + 90)], ["A"])})
    row = _one(result)
    assert result.parts["area_mu"].sum() == pytest.approx(row.area_mu, rel=1e-9)
    assert row.legal_mu + row.illegal_mu + row.to_check_mu == pytest.approx(row.area_mu, rel=1e-9)
    assert row.area_mu == pytest.approx(row.area_mu_ellipsoidal) and row.area_mu_planar == pytest.approx(MU)


def test_a_t0_parcel_without_a_code_is_in_the_survey_not_outside_it():
    t0 = _land(["0103"])
    t0["code"] = [None]
    t0["category"] = ["unknown"]
    result = judge_patches(_patches([PATCH], after=["0702"]), t0=t0)
    row = _one(result)
    assert row.outside_t0_mu == 0 and row.t0_classes == "?:2.40"
    assert row.reasons == "unapproved_construction"  # not farmland as far as the survey says
