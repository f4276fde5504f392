"""Shapefile text encodings as Chinese survey exports ship them (field case gbk_fieldnames, issue 11).

The .dbf files are written byte by byte, as many Chinese GIS exports are: no code page mark, often no .cpg.
Parcels are 100 m × 100 m squares in EPSG:4543 (15 亩 each, planar), synthetic.
"""

from __future__ import annotations

import datetime
import struct
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from kmrv_geo import pipeline
from kmrv_geo.cli.main import cli
from kmrv_geo.errors import LayerError
from kmrv_geo.layers import detect_shapefile_encoding, read_vector
from kmrv_geo.units import M2_PER_MU

X0, Y0, SIZE, N = 575000.0, 2770000.0, 100.0, 10
CRS = "EPSG:4543"


def write_dbf(path: Path, fields, records) -> None:
    """DBASE III bytes: fields (name bytes, type, width, decimals), records of values (bytes for text)."""
    today = datetime.date.today()
    out = bytearray(struct.pack("<BBBBIHH20x", 0x03, today.year - 1900, today.month, today.day, len(records),
                                32 + 32 * len(fields) + 1, 1 + sum(f[2] for f in fields)))
    for name, typ, width, dec in fields:
        out += name[:10].ljust(11, b"\x00") + typ.encode("ascii") + b"\x00" * 4 + bytes([width, dec]) + b"\x00" * 14
    out += b"\x0d"
    for record in records:
        out += b" "
        for (_, typ, width, dec), value in zip(fields, record, strict=True):
            if typ == "C":
                out += value[:width].ljust(width, b" ")
            else:
                out += (f"{value:.{dec}f}" if dec else str(int(value))).encode("ascii").rjust(width, b" ")[:width]
    out += b"\x1a"
    path.write_bytes(bytes(out))


def grid(n=N):
    return gpd.GeoDataFrame(geometry=[box(X0 + i * SIZE, Y0 + j * SIZE, X0 + (i + 1) * SIZE, Y0 + (j + 1) * SIZE)
                                      for j in range(n) for i in range(n)], crs=CRS)


def shapefile(folder: Path, fields, records, *, cpg: str | None = None) -> Path:
    shp = folder / "landuse_t1.shp"
    grid().to_file(shp, engine="pyogrio")
    folder.joinpath("landuse_t1.cpg").unlink(missing_ok=True)
    write_dbf(folder / "landuse_t1.dbf", fields, records)
    if cpg is not None:
        folder.joinpath("landuse_t1.cpg").write_text(cpg, encoding="ascii")
    return shp


def gbk_names(folder: Path) -> Path:
    """The field case: GBK field names 标识码, 地类编码, 图斑面积, ASCII values; parcels 5 and 16 are 0702."""
    fields = [("标识码".encode("gbk"), "N", 10, 0), ("地类编码".encode("gbk"), "C", 4, 0),
              ("图斑面积".encode("gbk"), "N", 12, 2)]
    records = [[k + 1, b"0702" if k + 1 in (5, 16) else b"0103", 10000.0] for k in range(N * N)]
    return shapefile(folder, fields, records)


def test_gbk_field_names_with_ascii_values_are_detected(tmp_path):
    shp = gbk_names(tmp_path)
    assert detect_shapefile_encoding(shp) == ("GB18030", "detected")
    read = read_vector(shp)
    assert {"标识码", "地类编码", "图斑面积"} <= set(read.frame.columns)
    assert len(read.frame) == 100 and not read.unreadable


@pytest.mark.parametrize("role_args", [["--role", "landuse_t1", "--code", "地类编码", "--id", "标识码"],
                                       ["--role", "pbf"]])
def test_kmrv_check_keeps_all_100_parcels_in_either_role(tmp_path, role_args):
    shp = gbk_names(tmp_path)
    result = CliRunner().invoke(cli, ["check", str(shp), *role_args, "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "100 features, kept 100" in result.output


def test_gbk_values_are_read_as_chinese(tmp_path):
    fields = [(b"BSM", "N", 10, 0), (b"DLMC", "C", 10, 0)]
    records = [[k + 1, "旱地".encode("gbk")] for k in range(N * N)]
    shp = shapefile(tmp_path, fields, records)
    assert detect_shapefile_encoding(shp) == ("GB18030", "detected")
    assert set(read_vector(shp).frame["DLMC"]) == {"旱地"}


def test_utf8_values_are_read_as_utf8(tmp_path):
    fields = [(b"BSM", "N", 10, 0), (b"DLMC", "C", 12, 0)]
    shp = shapefile(tmp_path, fields, [[k + 1, "水浇地".encode()] for k in range(N * N)])
    assert detect_shapefile_encoding(shp) == ("UTF-8", "detected")
    assert set(read_vector(shp).frame["DLMC"]) == {"水浇地"}


def test_a_cpg_that_disagrees_with_the_bytes_is_a_clear_error(tmp_path):
    fields = [(b"BSM", "N", 10, 0), (b"DLMC", "C", 10, 0)]
    shp = shapefile(tmp_path, fields, [[k + 1, "旱地".encode("gbk")] for k in range(N * N)], cpg="UTF-8")
    with pytest.raises(LayerError,
                       match=r"landuse_t1.cpg says the text .* is UTF-8, but its bytes are not valid") as err:
        detect_shapefile_encoding(shp)
    message = str(err.value)
    assert "records" in message and "bytes" in message and "encoding: GBK" in message
    assert "旱地" in message  # the sample as GBK would read it
    # a .cpg that fits the bytes is used
    tmp_path.joinpath("landuse_t1.cpg").write_text("GBK", encoding="ascii")
    assert detect_shapefile_encoding(shp) == ("GB18030", "cpg")


def test_bytes_valid_in_neither_encoding_stop_with_the_fix(tmp_path):
    fields = [(b"BSM", "N", 10, 0), (b"NAME", "C", 4, 0)]
    shp = shapefile(tmp_path, fields, [[k + 1, b"\xff\xfe\xff\xfe"] for k in range(N * N)])
    with pytest.raises(LayerError, match="cannot be told") as err:
        detect_shapefile_encoding(shp)
    assert "encoding:" in str(err.value) and "ff fe" in str(err.value)


def test_coverage_counts_the_gbk_layer_as_pbf(tmp_path):
    """Field case gbk_fieldnames: PBF 1500 亩 (100 × 15 亩, planar) for 西山区 530112, never a silent 0."""
    shp = gbk_names(tmp_path)
    gpkg = tmp_path / "base.gpkg"
    parcels = grid().assign(DLBM="0103", BSM=range(1, 101))
    county = gpd.GeoDataFrame({"XZQDM": ["530112"], "XZQMC": ["西山区"]},
                              geometry=[box(X0 - 2000, Y0 - 2000, X0 + 3000, Y0 + 3000)], crs=CRS)
    for name, frame in (("county", county), ("landuse_2023", parcels)):
        frame.to_file(gpkg, layer=name, driver="GPKG")
    config = tmp_path / "project_pbf.yml"
    config.write_text(f"""name: 示例项目（合成数据）
synthetic: true
crs: EPSG:4543
area: planar
layers:
  county: {{path: base.gpkg, layer: county, code: XZQDM, name: XZQMC}}
  landuse_t1: {{path: base.gpkg, layer: landuse_2023, code: DLBM, id: BSM}}
  pbf: {{path: {shp.name}}}
""", encoding="utf-8")
    pipeline.run(config, tmp_path / "out", steps=("coverage",), lang="en")
    table = pd.read_csv(tmp_path / "out" / "tables" / "coverage_by_county.csv", dtype={"county code": str})
    row = table[table["county code"] == "530112"].iloc[0]
    assert row["PBF (mu, planar)"] == pytest.approx(1500.0, rel=1e-12)
    assert row["PBF (mu, planar)"] == pytest.approx(100 * 10000 / M2_PER_MU, rel=1e-12)


def test_a_layer_whose_every_feature_is_rejected_stops(tmp_path):
    path = tmp_path / "pbf.gpkg"
    frame = gpd.GeoDataFrame({"BSM": [1, 2]}, geometry=[box(X0, Y0, X0 + 100, Y0 + 100)] * 2, crs=CRS)
    frame.to_file(path, layer="pbf", driver="GPKG")
    gpd.GeoDataFrame({"BSM": [1, 2]}, geometry=[None, None], crs=CRS).to_file(path, layer="pbf", driver="GPKG")
    result = CliRunner().invoke(cli, ["check", str(path), "--role", "pbf", "--lang", "en"])
    assert result.exit_code == 2, result.output
    assert "every one of its 2 features was rejected" in result.output and "内部错误" not in result.output


def test_a_utf8_cpg_on_gbk_field_names_is_a_clear_error_not_a_corrupt_file(tmp_path):
    shp = gbk_names(tmp_path)
    tmp_path.joinpath("landuse_t1.cpg").write_text("UTF-8", encoding="ascii")
    result = CliRunner().invoke(cli, ["check", str(shp), "--role", "pbf"])
    assert result.exit_code == 2, result.output
    assert "says the text" in result.output and "标识码" in result.output and "encoding: GBK" in result.output
    assert "corrupt" not in result.output


@pytest.mark.parametrize(("given", "expected"), [("UTF-8", "is not valid UTF-8; they are valid GBK/GB18030"),
                                                 ("GBKK", "'GBKK' (for landuse_t1.shp) is not a known text encoding")])
def test_a_wrong_encoding_given_by_the_user_is_named(tmp_path, given, expected):
    shp = gbk_names(tmp_path)
    result = CliRunner().invoke(cli, ["check", str(shp), "--role", "pbf", "--encoding", given])
    assert result.exit_code == 2 and expected in result.output, result.output
    assert "(none)" not in result.output


@pytest.mark.parametrize("cpg", ["ANSI 936", "936", "CP936", "GB2312"])
def test_code_page_forms_of_a_cpg_are_understood(tmp_path, cpg):
    shp = gbk_names(tmp_path)
    tmp_path.joinpath("landuse_t1.cpg").write_text(cpg, encoding="ascii")
    assert detect_shapefile_encoding(shp) == ("GB18030", "cpg")
    assert {"标识码", "地类编码"} <= set(read_vector(shp).frame.columns)
