"""Tables for handing over: headings, the 卫片执法 sheet, the workbook."""

from __future__ import annotations

import zipfile

import numpy as np
import openpyxl
import pandas as pd

from kmrv_geo.report import localise, wpzf_sheet, write_workbook


def patches():
    return pd.DataFrame({
        "patch_id": ["530111-00001", "530111-00002", "530112-00001", "530112-00002"],
        "change_class": ["nonagri", "nongrain", "nonagri", "supplement"],
        "status": ["partly_approved", "nongrain_on_pbf", "approved", "supplement"],
        "county_code": ["530111", "530111", "530112", "530112"],
        "county_name": ["官渡区", "官渡区", "西山区", "西山区"],
        "t0_code": ["0101", "0103", "0102", "0404"], "t1_code": ["0702", "0201", "0601", "0101"],
        "area_m2": [1000.0, 2000.0, 3000.0, 666.6666666666666],
        "area_mu": [1.5, 3.0, 4.5, 1.0], "pbf_mu": [0.75, 1.5, 0.0, 0.0],
        "approved_mu": [0.5, 0.0, 4.5, 0.0], "illegal_mu": [1.0, 0.0, 0.0, 0.0],
        "approved_pbf_mu": [0.25, 0.0, 0.0, 0.0],
    })  # fmt: skip


def test_wpzf_sheet_has_the_enforcement_shape():
    sheet = wpzf_sheet(patches(), t0_year=2022, t1_year=2023)
    assert list(sheet.columns) == ["XZQDM", "XZQMC", "JCBH", "QSX", "HSX", "BGQDL", "BGHDL", "SFYN", "MJ", "面积(亩)",
                                   "违法面积(亩)", "判定", "占用永农已批(一冻结)"]
    assert len(sheet) == 3  # new farmland is not an enforcement patch
    first, second, third = sheet.to_dict("records")
    assert ((first["BGQDL"], first["BGHDL"], first["SFYN"], first["判定"])
            == ("0101 水田", "0702 农村宅基地", "是", "违法"))
    assert first["违法面积(亩)"] == 1.0 and first["占用永农已批(一冻结)"] == "是"  # its approved part is on PBF
    assert (second["判定"], second["违法面积(亩)"]) == ("违法", 1.5)  # non-grain on PBF: the PBF part
    assert (third["判定"], third["SFYN"], third["QSX"], third["HSX"]) == ("合法", "否", "2022", "2023")


def test_localise_headings_and_values():
    zh = localise(patches(), "zh")
    assert "面积(亩)" in zh.columns and "违法面积(亩)" in zh.columns and "区县" in zh.columns
    assert zh["判定"].tolist()[:3] == ["部分批准", "永久基本农田非粮化", "已批准"]
    en = localise(patches(), "en")
    assert "illegal (mu)" in en.columns and en["verdict"].iloc[0] == "partly_approved"


def test_workbook_sheets(tmp_path):
    path = tmp_path / "report.xlsx"
    write_workbook(path, {"卫片执法图斑": wpzf_sheet(patches()), "变化图斑": localise(patches())})
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["卫片执法图斑", "变化图斑"]
    sheet = book["卫片执法图斑"]
    assert [c.value for c in sheet[1]][:3] == ["XZQDM", "XZQMC", "JCBH"]
    assert sheet.freeze_panes == "A2" and sheet.max_row == 4


def test_workbook_reads_well(tmp_path):
    """Number formats (亩 2 decimals, shares %), frozen header, autofilter, widths, bold totals, the area note."""
    from kmrv_geo.report import AREA_NOTE

    table = pd.DataFrame({"区县": ["官渡区", "合计"], "违法面积(亩·椭球)": [1.234567, 1.234567],
                          "永农高标覆盖率": [0.5, 0.5], "违法图斑数": [3, 3]})
    path = tmp_path / "r.xlsx"
    note = AREA_NOTE["zh"].format(kind="椭球面积")
    write_workbook(path, {"区县汇总": table}, note=note)
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["说明", "区县汇总"] and "椭球面积" in book["说明"]["A2"].value
    sheet = book["区县汇总"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:D3"
    assert sheet["B2"].number_format == "#,##0.00" and sheet["C2"].number_format == "0.0%"
    assert sheet["B2"].value == 1.234567  # full precision kept, only the display is rounded
    assert sheet["A3"].font.bold and not sheet["A2"].font.bold  # the totals row
    assert sheet.column_dimensions["B"].width >= 18  # 违法面积(亩·椭球): Chinese characters count double
    assert "椭球面积" in sheet.oddHeader.center.text


def test_workbook_keeps_text_as_text_and_missing_values_empty(tmp_path):
    """A village or document named like a formula stays text (stored as a string, quote-prefixed so editing the
    cell keeps it text); NaN and None are empty cells; numbers, booleans and dates keep their types.
    """
    table = pd.DataFrame({"村": ["=1+2", "+86", "@SUM(A1)", "-x", "", "合计"],
                          "面积(亩)": [1.5, np.nan, 2.0, -1.7e-13, 3, 6.5],
                          "有批文": [True, False, True, False, True, None],
                          "日期": pd.to_datetime(["2023-05-01", None, "2023-06-30", None, None, None])})
    path = tmp_path / "r.xlsx"
    write_workbook(path, {"表": table})
    book = openpyxl.load_workbook(path)
    sheet = book["表"]
    assert [sheet.cell(r, 1).value for r in range(2, 8)] == ["=1+2", "+86", "@SUM(A1)", "-x", None, "合计"]
    assert all(sheet.cell(r, 1).data_type == "s" for r in (2, 3, 4, 5, 7))  # never a formula; "" left empty
    assert sheet["A2"].quotePrefix and sheet["A3"].quotePrefix and not sheet["A6"].quotePrefix
    assert [sheet.cell(r, 2).value for r in range(2, 8)] == [1.5, None, 2.0, 0, 3, 6.5]  # float noise: 0, not -0.00
    assert sheet["B7"].font.bold and sheet["B7"].number_format == "#,##0.00"  # totals: bold and still 2 decimals
    assert sheet["C2"].value is True and sheet["C3"].value is False
    assert sheet["D2"].value.date().isoformat() == "2023-05-01" and sheet["D3"].value is None
    with zipfile.ZipFile(path) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode()
