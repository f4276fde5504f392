"""Reading every supported format, encodings, and the errors for files that cannot be read."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from shapely.errors import GEOSException

from kmrv_geo.checks import check_vector
from kmrv_geo.errors import LayerError
from kmrv_geo.layers import detect_shapefile_encoding, read_vector, read_with_fiona
from tests.conftest import square

GK = "EPSG:4543"


@pytest.fixture
def parcels():
    return gpd.GeoDataFrame({"DLBM": ["0101", "0702"], "QSDWMC": ["官渡区示例村", "西山区示例村"]},
                            geometry=[square(0), square(1)], crs=GK)


@pytest.mark.parametrize("name", ["p.gpkg", "p.shp", "p.geojson", "p.parquet", "p.gdb"])
def test_every_format_reads_the_same(write_layer, parcels, name):
    kwargs = {"layer": "parcels"} if name.endswith((".gpkg", ".gdb")) else {}
    path = write_layer(parcels, name, **kwargs)
    result = read_vector(path, **kwargs)
    assert result.frame["DLBM"].tolist() == ["0101", "0702"]
    assert result.frame["QSDWMC"].tolist() == ["官渡区示例村", "西山区示例村"]
    assert result.frame.crs.equals(GK)
    assert result.frame.geometry.area.tolist() == pytest.approx([10000.0, 10000.0])
    assert len(result.frame["_fid"].unique()) == 2


def test_gbk_shapefile_without_cpg_is_detected(write_layer, parcels):
    path = write_layer(parcels, "gbk.shp", encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    assert detect_shapefile_encoding(path) == ("GB18030", "detected")
    result = read_vector(path)
    assert result.frame["QSDWMC"].tolist() == ["官渡区示例村", "西山区示例村"]
    assert result.encoding == "GB18030 (detected)"


def test_utf8_shapefile_without_cpg_is_detected(write_layer, parcels):
    path = write_layer(parcels, "utf8.shp", encoding="UTF-8")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    assert detect_shapefile_encoding(path) == ("UTF-8", "detected")
    assert read_vector(path).frame["QSDWMC"].iloc[0] == "官渡区示例村"


def test_cpg_wins_and_the_config_encoding_wins_over_it(write_layer, parcels):
    path = write_layer(parcels, "cpg.shp", encoding="GBK")
    path.with_suffix(".cpg").write_text("GBK", encoding="ascii")
    assert detect_shapefile_encoding(path) == ("GB18030", "cpg")
    assert read_vector(path).frame["QSDWMC"].iloc[0] == "官渡区示例村"
    path.with_suffix(".cpg").write_text("UTF-8", encoding="ascii")  # a wrong .cpg
    assert read_vector(path, encoding="GBK").frame["QSDWMC"].iloc[0] == "官渡区示例村"


def test_missing_file_lists_what_is_there(tmp_path, write_layer, parcels):
    write_layer(parcels, "landuse_2022.gpkg")
    with pytest.raises(LayerError, match=r"landuse_2023\.gpkg does not exist; in .* there are: landuse_2022\.gpkg"):
        read_vector(tmp_path / "landuse_2023.gpkg")


def test_missing_layer_lists_the_layers(write_layer, parcels):
    path = write_layer(parcels, "two.gpkg", layer="landuse_2022")
    parcels.to_file(path, layer="pbf", engine="pyogrio")
    with pytest.raises(LayerError, match=r"has no layer 'landuse_2023'; its layers are: landuse_2022, pbf"):
        read_vector(path, layer="landuse_2023")


def test_corrupt_file(tmp_path):
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"this is not a geopackage" * 100)
    with pytest.raises(LayerError, match=r"broken\.gpkg cannot be read as a vector layer"):
        read_vector(path)


def test_empty_layer(write_layer, parcels):
    path = write_layer(parcels.iloc[:0], "empty.gpkg", layer="empty")
    with pytest.raises(LayerError, match="has no features"):
        read_vector(path, layer="empty")


def test_empty_file(tmp_path):
    path = tmp_path / "zero.geojson"
    path.write_bytes(b"")
    with pytest.raises(LayerError, match="cannot be read"):
        read_vector(path)


def test_non_spatial_table(tmp_path, write_layer, parcels):
    path = write_layer(parcels, "mixed.gpkg", layer="parcels")
    pyogrio.write_dataframe(pd.DataFrame({"XMMC": ["项目"], "JSND": [2020]}), path, layer="attributes")
    with pytest.raises(LayerError, match=r"table without geometry \(fields: XMMC, JSND\)"):
        read_vector(path, layer="attributes")
    csv = tmp_path / "table.csv"
    csv.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(LayerError, match="table without geometry"):
        read_vector(csv)


def test_plain_parquet_without_geometry(tmp_path):
    path = tmp_path / "plain.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(path)
    with pytest.raises(LayerError, match="without GeoParquet geometry"):
        read_vector(path)


def test_partly_corrupt_file_keeps_the_readable_features(write_layer, parcels):
    path = write_layer(parcels, "partly.gpkg", layer="parcels")
    with sqlite3.connect(path) as db:  # break the geometry blob of feature 2 (drop the R-tree triggers first)
        for (name,) in list(db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")):
            db.execute(f'DROP TRIGGER "{name}"')
        db.execute("UPDATE parcels SET geom = X'4750000100000000DEADBEEF' WHERE fid = 2")
    with pytest.raises(GEOSException):  # the fast path gives up on the whole layer
        pyogrio.read_dataframe(path, layer="parcels", use_arrow=True)
    frame, unreadable = read_with_fiona(path, layer="parcels")
    assert frame["_fid"].tolist() == [1, 2] and unreadable == []
    assert frame.geometry.iloc[0].area == pytest.approx(10000.0) and frame.geometry.iloc[1] is None
    result = read_vector(path, layer="parcels")
    kept, report = check_vector(result, role="pbf", target_crs=GK)
    assert (report.n_in, report.n_kept, report.n_rejected) == (2, 1, 1)
    assert report.rejected.to_dict("records") == [{"fid": 2, "reason": "null geometry"}]
