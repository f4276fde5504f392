"""The project file: shape, relative paths and the errors users see."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmrv_geo.config import NdviSpec, RasterLayerSpec, VectorLayerSpec, load_config
from kmrv_geo.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, files: tuple[str, ...] = ()) -> Path:
    for name in files:
        (tmp_path / name).write_bytes(b"")
    path = tmp_path / "project.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_config_has_the_documented_shape():
    config = load_config(ROOT / "layers" / "demo.yml", check_files=False)
    assert config.crs == "auto" and config.synthetic
    assert isinstance(config.layers["landuse_t0"], VectorLayerSpec)
    assert config.layers["landuse_t0"].year == 2022 and config.layers["hsf"].year == "JSND"
    assert config.layers["hsf"].fields() == {"year": "JSND"}
    assert isinstance(config.layers["landcover_t0"], RasterLayerSpec)
    ndvi = config.layers["ndvi"]
    assert isinstance(ndvi, NdviSpec) and ndvi.paths()[2021] == "ndvi_2021.tif"
    assert config.thresholds.min_patch_m2.construction == 200
    assert config.thresholds.facility_site_min_mu == 30


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    sub = tmp_path / "data"
    sub.mkdir()
    path = write(tmp_path, "layers:\n  pbf: {path: data/pbf.gpkg}\n", files=("data/pbf.gpkg",))
    config = load_config(path)
    assert config.resolve(config.layers["pbf"].path) == (sub / "pbf.gpkg").resolve()


def test_every_problem_is_listed_at_once(tmp_path):
    path = write(
        tmp_path,
        "name: x\ncrss: auto\nlayers:\n"
        "  county: {path: c.gpkg, cod: XZQDM, name: XZQMC}\n"
        "  pbff: {path: p.gpkg}\n"
        "  ndvi: {path: 'n_{year}.tif', years: [2021, 2020]}\n"
        "thresholds: {facility_site_min_mu: -3}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "5 problem(s)" in message
    assert "layers.county.cod: unknown key (did you mean code?)" in message
    assert "allowed keys: path, layer, encoding, crs, id, code, name, category, year" in message
    assert "layers.pbff: unknown role (did you mean pbf?)" in message
    assert "years must be distinct and ascending" in message
    assert "thresholds.facility_site_min_mu" in message
    assert "crss: unknown key (did you mean crs?)" in message


def test_missing_files_are_named_with_what_is_there(tmp_path):
    path = write(tmp_path, "layers:\n  pbf: {path: pbf_2023.gpkg}\n", files=("pbf_2022.gpkg",))
    with pytest.raises(ConfigError, match=r"pbf_2023\.gpkg does not exist; files in .*pbf_2022\.gpkg"):
        load_config(path)


def test_missing_ndvi_year_file_is_named(tmp_path):
    path = write(tmp_path, "layers:\n  ndvi: {path: 'ndvi_{year}.tif', years: [2020, 2021]}\n",
                 files=("ndvi_2020.tif",))
    with pytest.raises(ConfigError, match=r"ndvi_2021\.tif does not exist"):
        load_config(path)


def test_required_field_mapping(tmp_path):
    path = write(tmp_path, "layers:\n  landuse_t0: {path: lu.gpkg}\n", files=("lu.gpkg",))
    with pytest.raises(ConfigError, match=r"layers.landuse_t0: needs the field mapping code"):
        load_config(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("layers: [1, 2", "not valid YAML"),
        ("- a\n- b\n", "must hold a mapping"),
        ("name: x\n", "layers: must be a mapping"),
        ("crs: EPSG:4490\nlayers:\n  pbf: {path: p.gpkg}\n", "must be projected in metres"),
        ("crs: EPSG:999999\nlayers:\n  pbf: {path: p.gpkg}\n", "not a CRS pyproj knows"),
        ("layers:\n  pbf: {path: p.gpkg, crs: nonsense}\n", r"layers.pbf.crs: 'nonsense' is not a CRS"),
        ("base_dir: /etc\nlayers:\n  pbf: {path: p.gpkg}\n", "base_dir: unknown key"),
        ("abandonment: {ndvi_max: 0.3, years: 2}\nlayers:\n  pbf: {path: p.gpkg}\n", "abandonment.years"),
        ("abandonment: {min_years: 0}\nlayers:\n  pbf: {path: p.gpkg}\n", "abandonment.min_years"),
        ("landcover: {min_pixels: 0}\nlayers:\n  pbf: {path: p.gpkg}\n", "landcover.min_pixels"),
        ("layers:\n  landcover_t0: {path: p.gpkg, classes: {1: cropland, 2: orchard}}\n",
         r"unknown class names \['orchard'\]"),
        ("layers:\n  landcover_t0: {path: p.gpkg, classes: {2: forest}}\n", "no 'cropland' value"),
    ],
)
def test_malformed_configs(tmp_path, text, match):
    path = write(tmp_path, text, files=("p.gpkg",))
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yml")


def test_landuse_classes_override(tmp_path):
    path = write(tmp_path, "layers:\n  pbf: {path: p.gpkg}\nlanduse_classes:\n  other_agricultural: ['02*', '1202']\n",
                 files=("p.gpkg",))
    classes = load_config(path).landuse_classes_model()
    assert classes.category_of("0301") == "unknown"
    assert classes.category_of("0201") == "other_agricultural"
    assert classes.category_of("0101") == "farmland"
