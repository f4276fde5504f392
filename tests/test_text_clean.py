"""Text a writer cannot store (field case excel_ctrl, issue 11): control characters in any text column.

A small synthetic project (示例数据): 4 × 4 parcels of 100 m × 100 m in EPSG:4543, two villages whose names
carry a vertical tab and a SUB character, as names copied from Word or Excel do.
"""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from shapely.geometry import box

from kmrv_geo.cli.main import cli
from kmrv_geo.outputs import OutputFolder
from kmrv_geo.report import write_workbook
from kmrv_geo.text import clean_frame

X0, Y0, CRS = 575000.0, 2770000.0, "EPSG:4543"
DIRTY = ["示例\x0b甲村", "示例乙村\x1a"]
CLEAN = ["示例甲村", "示例乙村"]


def test_clean_frame_removes_controls_and_keeps_tabs_and_line_breaks():
    frame = pd.DataFrame({"name": ["a\x00b", "c\td\ne", None, 5], "n": [1, 2, 3, 4]})
    out, cleaned = clean_frame(frame)
    assert out["name"].tolist()[:2] == ["ab", "c\td\ne"] and cleaned == {"name": 1}
    assert frame["name"].iloc[0] == "a\x00b"  # the input is not changed


@pytest.fixture
def project(tmp_path):
    parcels = gpd.GeoDataFrame({"BSM": range(1, 17), "DLBM": ["0103"] * 16},
                               geometry=[box(X0 + i * 100, Y0 + j * 100, X0 + (i + 1) * 100, Y0 + (j + 1) * 100)
                                         for j in range(4) for i in range(4)], crs=CRS)
    t1 = parcels.copy()
    t1.loc[t1["BSM"] == 1, "DLBM"] = "0702"
    layers = {
        "county": gpd.GeoDataFrame({"XZQDM": ["530112"], "XZQMC": ["西山区"]},
                                   geometry=[box(X0 - 2000, Y0 - 2000, X0 + 3000, Y0 + 3000)], crs=CRS),
        "villages": gpd.GeoDataFrame({"CMC": DIRTY, "LX": ["重点村", "绿美村庄"]},
                                     geometry=[box(X0, Y0, X0 + 200, Y0 + 400), box(X0 + 200, Y0, X0 + 400, Y0 + 400)],
                                     crs=CRS),
        "landuse_2022": parcels, "landuse_2023": t1,
        "pbf": gpd.GeoDataFrame({"BSM": [1]}, geometry=[box(X0, Y0, X0 + 200, Y0 + 400)], crs=CRS),
    }
    for name, frame in layers.items():
        frame.to_file(tmp_path / "base.gpkg", layer=name, driver="GPKG")
    config = tmp_path / "project.yml"
    config.write_text("""name: 示例项目（合成数据）
synthetic: true
crs: EPSG:4543
layers:
  county:     {path: base.gpkg, layer: county, code: XZQDM, name: XZQMC}
  villages:   {path: base.gpkg, layer: villages, name: CMC, category: LX}
  landuse_t0: {path: base.gpkg, layer: landuse_2022, code: DLBM, year: 2022, id: BSM}
  landuse_t1: {path: base.gpkg, layer: landuse_2023, code: DLBM, year: 2023, id: BSM}
  pbf:        {path: base.gpkg, layer: pbf}
""", encoding="utf-8")
    return config


def test_villages_with_control_characters_reach_every_sheet_clean(project, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["villages", str(project), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "control characters" in result.output and "CMC ×2" in result.output  # reported
    assert (out / "report.xlsx").exists() and (out / "manifest.json").exists()
    profile = pd.read_csv(out / "tables" / "villages_profile.csv", encoding="utf-8-sig")
    assert profile["村"].tolist() == CLEAN
    book = load_workbook(out / "report.xlsx", read_only=True)
    seen = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str):
                    assert "\x0b" not in value and "\x1a" not in value
                    seen.update(v for v in CLEAN if v == value)
    book.close()
    assert seen == set(CLEAN)
    layer = gpd.read_file(out / "results.gpkg", layer="villages_profile")
    assert layer["village"].tolist() == CLEAN
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert "report.xlsx" in json.dumps(manifest)


def test_every_writer_stores_dirty_text_made_after_load(tmp_path):
    table = pd.DataFrame({"名称": ["甲\x0b", "乙\x00"], "n": [1, 2]})
    folder = OutputFolder(tmp_path / "out")
    folder.write_table("tables/t.csv", table)
    frame = gpd.GeoDataFrame(table, geometry=[box(0, 0, 1, 1)] * 2, crs=CRS)
    folder.write_layers("results.gpkg", {"t": frame})
    folder.write_with("report.xlsx", lambda tmp: write_workbook(tmp, {"表\x0b": table}), kind="report")
    folder.finish()
    assert pd.read_csv(tmp_path / "out" / "tables" / "t.csv", encoding="utf-8-sig")["名称"].tolist() == ["甲", "乙"]
    assert gpd.read_file(tmp_path / "out" / "results.gpkg", layer="t")["名称"].tolist() == ["甲", "乙"]
    book = load_workbook(tmp_path / "out" / "report.xlsx", read_only=True)
    sheet = book.worksheets[0]
    assert [r[0] for r in sheet.iter_rows(values_only=True)] == ["名称", "甲", "乙"] and sheet.title == "表"
    book.close()
