"""The synthetic Kunming sample: real counties, the 183 villages, full coverage, truth, rasters, determinism."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
import shapely
from conftest import SAMPLE_PARCELS, SAMPLE_SEED

from kmrv_geo.config import load_config
from kmrv_geo.sample import make_sample
from kmrv_geo.sample.geography import make_extent
from kmrv_geo.sample.output import SYNTHETIC_NOTE
from kmrv_geo.units import M2_PER_MU, ellipsoidal_area_m2

LAYERS = ["county", "township", "villages", "landuse_2022", "landuse_2023", "pbf", "hsf", "approvals",
          "dianchi", "truth_changes", "truth_abandoned", "facility_filings", "temporary_use", "supplement_projects",
          "erl", "udb", "monitoring_patches", "truth_patches", "village_plan", "village_boundary", "lake_zones",
          "truth_village_review", "truth_village_plan_meta"]
KUNMING_COUNTIES = {"530102": "五华区", "530103": "盘龙区", "530111": "官渡区", "530112": "西山区", "530113": "东川区",
                    "530114": "呈贡区", "530115": "晋宁区", "530124": "富民县", "530125": "宜良县",
                    "530126": "石林彝族自治县", "530127": "嵩明县", "530128": "禄劝彝族苗族自治县",
                    "530129": "寻甸回族彝族自治县", "530181": "安宁市"}


def read(sample_dir, layer):
    return gpd.read_file(sample_dir / "demo.gpkg", layer=layer, engine="pyogrio")


def test_every_layer_is_there_in_epsg_4543_and_labelled_synthetic(sample_dir):
    names = [name for name, _ in pyogrio.list_layers(sample_dir / "demo.gpkg")]
    assert sorted(names) == sorted(LAYERS)
    for name in LAYERS:
        info = pyogrio.read_info(sample_dir / "demo.gpkg", layer=name)
        assert info["crs"] == "EPSG:4543", name
        assert SYNTHETIC_NOTE in info["layer_metadata"]["DESCRIPTION"], name


def test_counties_are_the_14_real_kunming_districts(sample_dir):
    county = read(sample_dir, "county")
    assert dict(zip(county["XZQDM"], county["XZQMC"], strict=True)) == KUNMING_COUNTIES
    # Dianchi lies in 西山, 官渡, 呈贡 and 晋宁 — the real outlines must put the lake there.
    lake = read(sample_dir, "dianchi").geometry.iloc[0]
    on_lake = county[county.intersection(lake).area > 1e6]["XZQMC"]
    assert {"西山区", "官渡区", "呈贡区", "晋宁区"} <= set(on_lake)
    assert 2.5e8 < lake.area < 3.5e8  # about 300 km²


def test_183_villages_46_key_137_green_unique_names(sample_dir):
    villages = read(sample_dir, "villages")
    assert len(villages) == 183
    assert villages["LX"].value_counts().to_dict() == {"绿美村庄": 137, "重点村": 46}
    assert villages["CMC"].is_unique and villages["CUNDM"].is_unique
    assert villages.geometry.is_valid.all()
    assert set(villages.geom_type) <= {"Polygon", "MultiPolygon"}


@pytest.mark.parametrize("layer", ["landuse_2022", "landuse_2023"])
def test_land_use_covers_the_counties_without_overlaps(sample_dir, layer):
    parcels = read(sample_dir, layer)
    study_area = make_extent().area  # the sample box clipped to the real county outlines
    assert parcels.geometry.is_valid.all()
    assert parcels["BSM"].is_unique
    total = parcels.area.sum()
    union = shapely.union_all(parcels.geometry.values)
    # A partition: the parcels' areas add up to the area of their union (no overlaps) …
    assert total == pytest.approx(union.area, rel=1e-9)
    # … and to the study area (no gaps, nothing outside).
    assert total == pytest.approx(study_area.area, rel=1e-6)
    assert union.symmetric_difference(study_area).area < 1e-6 * study_area.area
    # TBMJ is the ellipsoidal area (to 0.01 m²), a little smaller than the planar GK area at 102.7°E.
    np.testing.assert_allclose(parcels["TBMJ"], ellipsoidal_area_m2(parcels.geometry), rtol=1e-7, atol=0.006)
    assert (parcels["TBMJ"] <= parcels.area + 0.005).all()


def test_size_follows_n_parcels(sample_dir):
    t0 = read(sample_dir, "landuse_2022")
    assert 0.9 * SAMPLE_PARCELS <= len(t0) <= 1.25 * SAMPLE_PARCELS


def test_truth_changes_are_in_the_2023_layer(sample_dir):
    truth = read(sample_dir, "truth_changes")
    t1 = read(sample_dir, "landuse_2023")
    assert set(truth["kind"]) >= {"nonagri", "nongrain", "supplement", "other"}
    assert set(truth["status"]) >= {"illegal", "approved", "partly_approved", "nongrain_on_pbf", "supplement"}
    # Every truth piece lies in the 2023 parcel it names, which carries its t1 code.
    by_bsm = t1.set_index("BSM")
    land_use_based = truth[truth["basis"] == "land_use"]
    parcel = by_bsm.loc[land_use_based["t1_bsm"].to_numpy()]
    assert (parcel["DLBM"].to_numpy() == land_use_based["t1_code"].to_numpy()).all()
    inside = shapely.area(shapely.intersection(land_use_based.geometry.values, parcel.geometry.values))
    np.testing.assert_allclose(inside, land_use_based.area.to_numpy(), rtol=1e-6)
    # Verdict areas add up: approved + illegal = area for construction, 0 otherwise.
    nonagri = truth[truth["kind"] == "nonagri"]
    np.testing.assert_allclose(nonagri["approved_m2"] + nonagri["illegal_m2"], nonagri["area_m2"], rtol=1e-6)
    assert (truth.loc[truth["kind"] != "nonagri", "illegal_m2"] == 0).all()
    assert truth["below_min"].any()


def test_rasters_land_cover_in_albers_ndvi_in_gk(sample_dir):
    for year in (2022, 2023):
        with rasterio.open(sample_dir / f"landcover_{year}.tif") as src:
            assert src.dtypes == ("uint8",) and src.nodata == 0
            assert src.crs.to_dict().get("proj") == "aea" and src.res == (30.0, 30.0)
            assert SYNTHETIC_NOTE in src.tags()["SYNTHETIC"]
            values = np.unique(src.read(1))
            assert set(values) <= set(range(10)) and 1 in values and 8 in values
    for year in range(2019, 2024):
        with rasterio.open(sample_dir / f"ndvi_{year}.tif") as src:
            assert src.dtypes == ("float32",) and src.nodata == -9999 and src.crs.to_epsg() == 4543
            data = src.read(1, masked=True)
            assert -1 <= data.min() and data.max() <= 1


def test_truth_abandoned_has_abandoned_parcels_and_decoys(sample_dir):
    truth = read(sample_dir, "truth_abandoned")
    assert truth["abandoned"].any() and (~truth["abandoned"].astype(bool)).any()
    assert (truth.loc[truth["abandoned"].astype(bool), "n_years_low"] >= 2).all()


def test_demo_config_loads_against_the_sample(sample_dir):
    config = load_config(sample_dir / "demo.yml")
    assert config.synthetic is True
    assert config.resolve(config.layers["landuse_t0"].path) == sample_dir / "demo.gpkg"


@pytest.mark.slow
def test_same_seed_same_layers_other_seed_other_layers(sample_dir, tmp_path):
    again = make_sample(tmp_path / "again", n_parcels=SAMPLE_PARCELS, seed=SAMPLE_SEED)
    for layer in LAYERS:
        a, b = read(sample_dir, layer), read(again.out_dir, layer)
        pd.testing.assert_frame_equal(a.drop(columns="geometry"), b.drop(columns="geometry"), obj=layer)
        assert shapely.equals_identical(a.geometry.values, b.geometry.values).all(), layer
    for name in ["landcover_2023", "ndvi_2021"]:
        with rasterio.open(sample_dir / f"{name}.tif") as x, rasterio.open(again.rasters[name]) as y:
            assert np.array_equal(x.read(), y.read())
    other = make_sample(tmp_path / "other", n_parcels=SAMPLE_PARCELS, seed=SAMPLE_SEED + 1)
    a, b = read(other.out_dir, "landuse_2022"), read(sample_dir, "landuse_2022")
    assert len(a) != len(b) or not shapely.equals_identical(a.geometry.values, b.geometry.values).all()


def test_bad_size_is_refused(tmp_path):
    with pytest.raises(ValueError, match="n_parcels"):
        make_sample(tmp_path, n_parcels=10)


def test_mu_constant():
    assert M2_PER_MU == pytest.approx(666.6667, abs=1e-4)
