"""``kmrv judge``: a hand-made project end to end — verdicts, tables, workbook, map, field package, field round trip.

The world (EPSG:4543): county 530112 of 4 × 100 m farmland parcels (15 亩 each, 0103), PBF over parcel 1,
a conversion approval over parcel 2, a temporary-use permit over parcel 3 that ended 2023-06-30, an ERL
over parcel 4. Five 40 m × 40 m patches (2.4 亩), one in each parcel and one in a 5th parcel without any
layer; T1 is construction (0702) under all of them. Areas planar (config ``area: planar``) so the
figures are worked by hand.
"""

from __future__ import annotations

from datetime import datetime

import geopandas as gpd
import openpyxl
import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from kmrv_geo.cli.main import cli
from kmrv_geo.units import M2_PER_MU

X0, Y0 = 570_000.0, 2_770_000.0
CRS = "EPSG:4543"
MU = 1600 / M2_PER_MU


def _parcel(i: int, inset: float = 0.0):
    return box(X0 + 100 * i + inset, Y0 + inset, X0 + 100 * (i + 1) - inset, Y0 + 100 - inset)


@pytest.fixture
def judge_project(tmp_path):
    gpkg = tmp_path / "data.gpkg"
    frames = {
        "county": gpd.GeoDataFrame({"XZQDM": ["530112"], "XZQMC": ["西山区"]},
                                   geometry=[box(X0 - 50, Y0 - 50, X0 + 600, Y0 + 150)], crs=CRS),
        "landuse_2022": gpd.GeoDataFrame({"BSM": [1, 2, 3, 4, 5], "DLBM": ["0103"] * 5},
                                         geometry=[_parcel(i) for i in range(5)], crs=CRS),
        "landuse_2023": gpd.GeoDataFrame({"BSM": [1, 2, 3, 4, 5], "DLBM": ["0702"] * 5},
                                         geometry=[_parcel(i) for i in range(5)], crs=CRS),
        "pbf": gpd.GeoDataFrame({"BH": ["P1"]}, geometry=[_parcel(0)], crs=CRS),
        "approvals": gpd.GeoDataFrame({"PZWH": ["云政地〔2023〕5号"]}, geometry=[_parcel(1)], crs=CRS),
        "temporary": gpd.GeoDataFrame({"PZWH": ["昆临用〔2022〕8号", "昆临用〔2022〕9号"],
                                       "JSRQ": ["2023/6/30", "待定"]},
                                      geometry=[_parcel(2), box(X0 + 900, Y0, X0 + 950, Y0 + 50)], crs=CRS),
        "erl": gpd.GeoDataFrame({"HXMC": ["示例红线"]}, geometry=[_parcel(3)], crs=CRS),
    }  # fmt: skip
    for name, frame in frames.items():
        frame.to_file(gpkg, layer=name, engine="pyogrio")
    patches = gpd.GeoDataFrame({
        "JCBH": ["JC-1", "JC-2", "JC-3", "JC-4", "JC-5<script>"], "BGHDL": ["0702", "", "0702", "0702", "0702"],
        "HSX": ["2023-10-01"] * 5,
    }, geometry=[_parcel(i, inset=30) for i in range(5)], crs=CRS).to_crs("EPSG:4326")  # another CRS: reprojected
    patches.to_file(tmp_path / "卫片图斑.gpkg", layer="图斑", engine="pyogrio")
    config = tmp_path / "project.yml"
    config.write_text(
        "name: 判定测试\nsynthetic: true\ncrs: EPSG:4543\narea: planar\nlayers:\n"
        "  county: {path: data.gpkg, layer: county, code: XZQDM, name: XZQMC}\n"
        "  landuse_t0: {path: data.gpkg, layer: landuse_2022, code: DLBM, id: BSM, year: 2022}\n"
        "  landuse_t1: {path: data.gpkg, layer: landuse_2023, code: DLBM, id: BSM, year: 2023}\n"
        "  pbf: {path: data.gpkg, layer: pbf}\n"
        "  approvals: {path: data.gpkg, layer: approvals, ref: PZWH}\n"
        "  temporary_use: {path: data.gpkg, layer: temporary, end_date: JSRQ}\n"
        "  erl: {path: data.gpkg, layer: erl}\n",
        encoding="utf-8",
    )
    return config


def _invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


EXPECTED = {  # patch → (verdict, reasons)
    "JC-1": ("illegal", "unapproved_conversion_on_pbf"),
    "JC-2": ("legal", "approved_conversion"),
    "JC-3": ("illegal", "temporary_use_expired"),
    "JC-4": ("illegal", "unapproved_conversion;construction_in_erl"),
    "JC-5<script>": ("illegal", "unapproved_conversion"),
}


def test_judge_end_to_end(judge_project, tmp_path):
    out = tmp_path / "out"
    result = _invoke("judge", judge_project, tmp_path / "卫片图斑.gpkg", "--layer", "图斑", "--out", out, "-q")
    assert result.exit_code == 0, result.output
    judged = gpd.read_file(out / "results.gpkg", layer="judged_patches")
    got = {r.patch_id: (r.verdict, r.reasons) for r in judged.itertuples()}
    assert got == EXPECTED
    row = judged.set_index("patch_id")
    assert row.loc["JC-2", "approval_refs"] == "云政地〔2023〕5号"
    assert row.loc["JC-2", "after_source"] == "t1" and row.loc["JC-1", "after_source"] == "patch"
    assert row.loc["JC-3", "temporary_refs"] == "昆临用〔2022〕8号" and row.loc["JC-3", "temporary_end"] == "2023-06-30"
    assert row["area_mu"].to_numpy() == pytest.approx([MU] * 5, rel=1e-6)  # reprojected from EPSG:4326
    assert row.loc["JC-1", "illegal_pbf_mu"] == pytest.approx(MU, rel=1e-6)
    assert row.loc["JC-4", "erl_mu"] == pytest.approx(MU, rel=1e-6)
    by_county = pd.read_csv(out / "tables" / "judged_by_county.csv")
    assert by_county["违法图斑数"].iloc[0] == 4 and by_county["违法面积(亩·平面)"].iloc[0] == pytest.approx(4 * MU)
    unreadable = pd.read_csv(out / "tables" / "unreadable_dates.csv")
    assert list(unreadable["值"]) == ["待定"]
    sheets = openpyxl.load_workbook(out / "report.xlsx").sheetnames
    assert {"卫片图斑判定", "图斑判定区县汇总", "图斑占用永农"} <= set(sheets)
    assert (out / "maps" / "judged_patches.html").exists()
    kml = pyogrio.read_dataframe(out / "fieldcheck" / "图斑.kml")
    assert len(kml) == 5
    assert (out / "fieldcheck" / "核查表.xlsx").exists() and (out / "fieldcheck" / "index.html").exists()


def _fill(sheet_path, conclusions: dict[str, str], extra_ids=()):
    book = openpyxl.load_workbook(sheet_path)
    ws = book.worksheets[0]
    header_row = next(r for r in range(1, 6) if any(c.value == "图斑编号" for c in ws[r]))
    heads = {c.value: c.column for c in ws[header_row]}
    for r in range(header_row + 1, ws.max_row + 1):
        pid = ws.cell(r, heads["图斑编号"]).value
        if pid in conclusions:
            ws.cell(r, heads["核查结论"]).value = conclusions[pid]
            ws.cell(r, heads["实际用途"]).value = "临时工棚"
            ws.cell(r, heads["核查人"]).value = "张三"
            ws.cell(r, heads["核查日期"]).value = datetime(2024, 5, 3)
    for k, pid in enumerate(extra_ids):
        ws.cell(ws.max_row + 1 + k, heads["图斑编号"]).value = pid
        ws.cell(ws.max_row, heads["核查结论"]).value = "违法"
    book.save(sheet_path)


def test_field_results_round_trip(judge_project, tmp_path):
    out = tmp_path / "out"
    patches = tmp_path / "卫片图斑.gpkg"
    assert _invoke("judge", judge_project, patches, "--layer", "图斑", "--out", out, "-q").exit_code == 0
    filled = tmp_path / "核查表_已填.xlsx"
    filled.write_bytes((out / "fieldcheck" / "核查表.xlsx").read_bytes())
    _fill(filled, {"JC-3": "合法", "JC-1": "违法"}, extra_ids=["JC-99"])
    result = _invoke("judge", judge_project, patches, "--layer", "图斑", "--out", out, "--overwrite",
                     "--field-results", filled)
    assert result.exit_code == 0, result.output
    judged = gpd.read_file(out / "results.gpkg", layer="judged_patches").set_index("patch_id")
    assert judged.loc["JC-3", "verdict"] == "legal" and judged.loc["JC-3", "machine_verdict"] == "illegal"
    assert judged.loc["JC-3", "field_use"] == "临时工棚" and "field_check" in judged.loc["JC-3", "reasons"]
    assert judged.loc["JC-1", "verdict"] == "illegal" and "field_check" not in judged.loc["JC-1", "reasons"]
    assert judged.loc["JC-2", "verdict"] == "legal" and judged.loc["JC-2", "field_verdict"] == ""
    unmatched = pd.read_csv(out / "tables" / "field_results_unmatched.csv")
    assert "JC-99" in unmatched.to_string()
    assert "未匹配 1 行" in result.output
    # the field team judged the whole patch: its 亩 follow their verdict everywhere
    assert judged.loc["JC-3", "illegal_mu"] == 0 and judged.loc["JC-3", "legal_mu"] == pytest.approx(MU, rel=1e-6)
    assert judged.loc["JC-3", "machine_illegal_mu"] == pytest.approx(MU, rel=1e-6)
    by_county = pd.read_csv(out / "tables" / "judged_by_county.csv")
    assert by_county["违法图斑数"].iloc[0] == 3 and by_county["违法面积(亩·平面)"].iloc[0] == pytest.approx(3 * MU)
    assert "违法 3 个（违法面积 7.20 亩" in result.output
    # the sheet written again keeps the team's entries beside the machine's verdict
    sheet = openpyxl.load_workbook(out / "fieldcheck" / "核查表.xlsx").worksheets[0]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=3, values_only=True)}
    heads = [c.value for c in sheet[2]]
    jc3 = dict(zip(heads, rows["JC-3"], strict=True))
    assert (jc3["预判结论"], jc3["核查结论"], jc3["实际用途"], jc3["核查人"]) == ("违法", "合法", "临时工棚", "张三")
    assert jc3["核查日期"] == datetime(2024, 5, 3)  # a date entered comes back a date, not text
    from kmrv_geo.fieldcheck.pages import page_name

    pages = sorted(p.name for p in (out / "fieldcheck").glob("[0-9]*_*.html"))
    sheet_ids = [r for r in rows if r]
    assert [page_name(k, pid) for k, pid in enumerate(sheet_ids, start=1)] == pages  # rows in the pages' order
    assert "卫片执法图斑外业核查表" in sheet["A1"].value  # the project's name and what the sheet is
    # every column of the patch table has its Chinese heading (the prefilled illegal 亩 had none)
    table = pd.read_csv(out / "tables" / "judged_patches.csv", nrows=1)
    assert "预判违法面积(亩·平面)" in table.columns
    assert not [c for c in table.columns if c.isascii() and c.replace("_", "").isalpha()]


def test_approval_layer_without_document_numbers_is_an_error_naming_its_fields(judge_project, tmp_path):
    text = judge_project.read_text(encoding="utf-8").replace(
        "approvals: {path: data.gpkg, layer: approvals, ref: PZWH}", "approvals: {path: data.gpkg, layer: pbf}")
    judge_project.write_text(text, encoding="utf-8")
    result = _invoke("judge", judge_project, tmp_path / "卫片图斑.gpkg", "--layer", "图斑", "--out", tmp_path / "o")
    assert result.exit_code == 2
    assert "approvals" in result.output and "BH" in result.output and "ref: FIELD" in result.output
    assert "Traceback" not in result.output


def test_missing_patch_file_is_a_clear_error(judge_project, tmp_path):
    result = _invoke("judge", judge_project, tmp_path / "nope.shp", "--out", tmp_path / "o")
    assert result.exit_code == 2 and "nope.shp" in result.output


def test_empty_permit_layer_means_none_and_bad_dates_and_crs_are_clear(judge_project, tmp_path):
    gpkg = tmp_path / "data.gpkg"
    gpd.GeoDataFrame({"BAH": []}, geometry=[], crs=CRS).to_file(gpkg, layer="filings", engine="pyogrio")
    text = judge_project.read_text(encoding="utf-8")
    judge_project.write_text(text + "  facility_filings: {path: data.gpkg, layer: filings}\n", encoding="utf-8")
    patches = tmp_path / "卫片图斑.gpkg"
    result = _invoke("judge", judge_project, patches, "--layer", "图斑", "--out", tmp_path / "a")
    assert result.exit_code == 0, result.output
    assert "has no features: no 设施农用地备案 in the area" in result.output
    # a date YAML cannot read is a config error, not an internal one
    bad = tmp_path / "bad.yml"
    bad.write_text(text + "judge: {as_of: 2023-13-01}\n", encoding="utf-8")
    result = _invoke("judge", bad, patches, "--layer", "图斑", "--out", tmp_path / "b")
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output and "内部错误" not in result.output
    # a Shapefile without .prj: --crs says what it is
    shp = tmp_path / "nocrs.shp"
    gpd.read_file(patches, layer="图斑").to_crs(CRS).to_file(shp, engine="pyogrio")
    shp.with_suffix(".prj").unlink()
    assert _invoke("judge", judge_project, shp, "--out", tmp_path / "c").exit_code == 2
    result = _invoke("judge", judge_project, shp, "--crs", "EPSG:4543", "--out", tmp_path / "c")
    assert result.exit_code == 0, result.output
    judged = gpd.read_file(tmp_path / "c" / "results.gpkg", layer="judged_patches")
    assert {r.patch_id: r.verdict for r in judged.itertuples()} == {k: v for k, (v, _) in EXPECTED.items()}
