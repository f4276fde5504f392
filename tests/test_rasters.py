"""Land-cover change and abandonment on tiny hand-made rasters whose answers can be worked out on paper.

Rasters are 30 m pixels in EPSG:4543 starting at (X0, Y0) unless said otherwise; one pixel = 900 m².
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from shapely.geometry import box

from kmrv_geo import landuse
from kmrv_geo.analysis.abandonment import find_abandoned
from kmrv_geo.errors import LayerError
from kmrv_geo.extract import ClassRaster, NdviSource, detect_landcover_change, parcel_ndvi
from kmrv_geo.rasters import CLCD_CLASSES, check_ndvi_values

X0, Y0 = 560010.0, 2760000.0  # a multiple of 30 m, so the analysis grid matches the rasters exactly
CRS = "EPSG:4543"
ALBERS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
PX = 30.0


def px(col0, row0, col1, row1):
    """A box over pixel columns col0…col1 and rows row0…row1 (row 0 at the top, 3-row rasters)."""
    return box(X0 + col0 * PX, Y0 + (3 - row1) * PX, X0 + col1 * PX, Y0 + (3 - row0) * PX)


def write_raster(path, data, *, crs=CRS, transform=None, nodata=0, dtype=None):
    data = np.asarray(data)
    data = data[None] if data.ndim == 2 else data
    transform = transform or Affine(PX, 0, X0, 0, -PX, Y0 + data.shape[1] * PX)
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                       dtype=dtype or data.dtype, crs=crs, transform=transform, nodata=nodata) as dst:
        dst.write(data.astype(dtype or data.dtype))
    return path


def parcels(*rows):
    """Land use from (code, geometry) rows, checked-style: ``code``, ``category``, ``BSM``."""
    frame = gpd.GeoDataFrame({"code": [c for c, _ in rows]}, geometry=[g for _, g in rows], crs=CRS)
    frame["category"] = landuse.DEFAULT_CLASSES.classify(frame["code"])
    frame["BSM"] = np.arange(1, len(frame) + 1)
    return frame


def detect(tmp_path, t0, t1, land, *, min_pixels=1, t0_kw=None, t1_kw=None):
    a = write_raster(tmp_path / "t0.tif", t0, **(t0_kw or {}))
    b = write_raster(tmp_path / "t1.tif", t1, **(t1_kw or {}))
    return detect_landcover_change(land, ClassRaster(a, CLCD_CLASSES), ClassRaster(b, CLCD_CLASSES),
                                   analysis_crs=CRS, min_pixels=min_pixels, id_column="BSM")


CROP = np.ones((3, 3), dtype=np.uint8)


def test_one_pixel_changed(tmp_path):
    t1 = CROP.copy()
    t1[1, 1] = 8  # the centre pixel became impervious
    result = detect(tmp_path, CROP, t1, parcels(("0101", px(0, 0, 3, 3))))
    assert len(result.pieces) == 1
    piece = result.pieces.iloc[0]
    assert piece.change_class == "nonagri" and piece.t1_code == "impervious" and piece.t0_code == "0101"
    assert piece.area_m2 == pytest.approx(900.0)
    share = result.parcels.iloc[0]
    assert share.changed_share == pytest.approx(1 / 9) and share.to_nonagri_share == pytest.approx(1 / 9)
    assert share.valid_share == pytest.approx(1.0) and not share.no_valid_pixels


def test_parcel_half_covered_by_a_changed_pixel(tmp_path):
    t1 = CROP.copy()
    t1[1, 1] = 8
    # A 30 m × 30 m parcel from the middle of pixel (1, 0) to the middle of pixel (1, 1): half changed.
    # Pixel-centre counting would give it either 0 % or 100 %; coverage fractions give 50 %.
    parcel = box(X0 + 15, Y0 + 30, X0 + 45, Y0 + 60)
    result = detect(tmp_path, CROP, t1, parcels(("0101", parcel)))
    assert result.parcels.iloc[0].changed_share == pytest.approx(0.5)
    # The change piece is the changed pixel cut to the parcel: 15 m × 30 m.
    assert result.pieces["area_m2"].sum() == pytest.approx(450.0)


def test_a_parcel_smaller_than_a_pixel_keeps_its_share(tmp_path):
    t1 = CROP.copy()
    t1[1, 1] = 2  # forest: non-grain
    small = box(X0 + 40, Y0 + 40, X0 + 50, Y0 + 50)  # 100 m² inside the changed pixel, off its centre
    result = detect(tmp_path, CROP, t1, parcels(("0103", small)))
    row = result.parcels.iloc[0]
    assert row.to_nongrain_share == pytest.approx(1.0) and row.valid_share == pytest.approx(1.0)
    assert result.pieces.iloc[0].change_class == "nongrain"
    assert result.pieces.iloc[0].area_m2 == pytest.approx(100.0)


def test_nodata_parcels_are_listed_not_judged(tmp_path):
    t0 = CROP.copy()
    t0[:, 2] = 0  # the right column has no data at T0
    result = detect(tmp_path, t0, CROP, parcels(("0101", px(0, 0, 2, 3)), ("0101", px(2, 0, 3, 3))))
    ok, blind = result.parcels.iloc[0], result.parcels.iloc[1]
    assert ok.changed_share == 0 and not ok.no_valid_pixels
    assert blind.no_valid_pixels and np.isnan(blind.changed_share) and blind.valid_share == 0
    assert any("1 farmland parcels have no valid pixels" in w for w in result.warnings)


def test_noise_is_sieved_from_patches_but_kept_in_shares(tmp_path):
    t1 = CROP.copy()
    t1[0, 0] = 8  # one isolated pixel
    t1[2, 1:3] = 4  # a pair of grassland pixels
    land = parcels(("0101", px(0, 0, 3, 3)))
    assert detect(tmp_path, CROP, t1, land, min_pixels=3).pieces.empty
    result = detect(tmp_path, CROP, t1, land, min_pixels=2)
    assert result.pieces["t1_code"].tolist() == ["grassland"]
    assert result.pieces["area_m2"].sum() == pytest.approx(1800.0)
    assert result.parcels.iloc[0].changed_share == pytest.approx(3 / 9)


def test_new_farmland_off_t0_farmland_is_supplement(tmp_path):
    t0 = CROP.copy()
    t0[:, 2] = 4  # grassland at T0 …
    result = detect(tmp_path, t0, CROP, parcels(("0101", px(0, 0, 2, 3)), ("0404", px(2, 0, 3, 3))))
    piece = result.pieces.iloc[0]  # … cropland at T1
    assert len(result.pieces) == 1 and piece.change_class == "supplement" and piece.t0_code == "0404"
    assert piece.area_m2 == pytest.approx(2700.0)


def test_albers_and_gk_rasters_are_aligned(tmp_path):
    # T0: all cropland, 30 m pixels in CLCD's Albers CRS, well around the farmland.
    to_albers = Transformer.from_crs(CRS, ALBERS, always_xy=True)
    ax, ay = to_albers.transform(X0 - 300, Y0 + 400)
    albers = Affine(PX, 0, np.floor(ax / PX) * PX, 0, -PX, np.ceil(ay / PX) * PX)
    t0 = np.ones((40, 40), dtype=np.uint8)
    # T1: on the GK grid, a 5 × 5 pixel block became impervious.
    t1 = np.ones((9, 9), dtype=np.uint8)
    t1[2:7, 2:7] = 8
    land = parcels(("0101", box(X0, Y0, X0 + 9 * PX, Y0 + 9 * PX)))
    result = detect(tmp_path, t0, t1, land, t0_kw={"crs": ALBERS, "transform": albers}, min_pixels=3)
    assert result.grid.res == 30.0 and result.grid.crs == CRS
    assert result.pieces["area_m2"].sum() == pytest.approx(25 * 900.0)
    x0, y0, x1, y1 = result.pieces.total_bounds
    assert (x0, y0, x1, y1) == pytest.approx((X0 + 60, Y0 + 60, X0 + 210, Y0 + 210))


def test_float_landcover_is_refused(tmp_path):
    with pytest.raises(LayerError, match="must be integers"):
        detect(tmp_path, CROP.astype("float32"), CROP, parcels(("0101", px(0, 0, 3, 3))))


def test_rasters_not_covering_the_farmland_are_refused(tmp_path):
    far = Affine(PX, 0, X0 + 50_000, 0, -PX, Y0 + 90)
    with pytest.raises(LayerError, match="no valid pixel in both years"):
        detect(tmp_path, CROP, CROP, parcels(("0101", px(0, 0, 3, 3))), t0_kw={"transform": far},
               t1_kw={"transform": far})


def test_ndvi_in_0_10000_scaling_is_detected_and_scale_honoured(tmp_path):
    path = write_raster(tmp_path / "ndvi.tif", np.full((3, 3), 6500, dtype=np.int16), nodata=-32768)
    with pytest.raises(LayerError, match=r"scale: 0\.0001"):
        check_ndvi_values(path, 1, scale=None, year=2021)
    check_ndvi_values(path, 1, scale=0.0001, year=2021)
    means, valid = find_parcel_means(path, scale=0.0001)
    assert means == pytest.approx([0.65])


def find_parcel_means(path, *, scale=None, band=1):
    from kmrv_geo.extract import parcel_means

    return parcel_means(parcels(("0101", px(0, 0, 3, 3))), NdviSource(2021, path, band=band, scale=scale))


def test_all_nodata_ndvi_is_refused(tmp_path):
    path = write_raster(tmp_path / "ndvi.tif", np.full((3, 3), -9999, dtype="float32"), nodata=-9999)
    with pytest.raises(LayerError, match="all nodata"):
        check_ndvi_values(path, 1, scale=None, year=2020)


def ndvi_series(tmp_path, values_by_year, *, multi_band=False):
    """NDVI rasters (one per year, or one multi-band file) with a value per pixel column (3 columns)."""
    sources = []
    bands = []
    for _i, (year, columns) in enumerate(values_by_year.items()):
        grid = np.tile(np.asarray(columns, dtype="float32"), (3, 1))
        if multi_band:
            bands.append(grid)
            continue
        path = write_raster(tmp_path / f"ndvi_{year}.tif", grid, nodata=-9999)
        sources.append(NdviSource(year, path))
    if multi_band:
        path = write_raster(tmp_path / "ndvi.tif", np.stack(bands), nodata=-9999)
        sources = [NdviSource(year, path, band=i + 1) for i, year in enumerate(values_by_year)]
    return sources


@pytest.mark.parametrize("multi_band", [False, True])
def test_abandonment_needs_consecutive_low_years(tmp_path, multi_band):
    # Column 0: low 2022–2023 (abandoned); column 1: low 2020 and 2022 (not consecutive);
    # column 2: low 2021 and 2023 with no data in 2022 in between (the run is broken).
    years = {2020: [0.6, 0.2, 0.6], 2021: [0.6, 0.7, 0.2], 2022: [0.2, 0.2, -9999], 2023: [0.25, 0.6, 0.2]}
    land = parcels(("0101", px(0, 0, 1, 3)), ("0101", px(1, 0, 2, 3)), ("0102", px(2, 0, 3, 3)))
    result = find_abandoned(land, parcel_ndvi(land, ndvi_series(tmp_path, years, multi_band=multi_band)),
                            id_column="BSM")
    p = result.parcels
    assert p["abandoned"].tolist() == [True, False, False]
    assert p["years_low"].tolist() == ["2022,2023", "2020", "2021"]
    assert p["n_years_low"].tolist() == [2, 1, 1]
    assert p["still_low"].tolist() == [True, False, False]
    assert p["years_no_data"].tolist() == ["", "", "2022"]
    assert p.loc[0, "ndvi_2023"] == pytest.approx(0.25) and p.loc[0, "area_mu"] == pytest.approx(2700 / (10000 / 15))
    assert any("lack valid NDVI pixels" in w for w in result.warnings)


def test_yearly_ndvi_from_worker_processes_equals_ndvi_read_here(tmp_path, monkeypatch):
    """Each year's statistics run in a forked worker on a city's farmland: the same values, in year order; a
    year that covers no parcel is still refused by name.
    """
    from kmrv_geo import extract

    years = {2020: [0.6, 0.2, 0.6], 2021: [0.6, 0.7, 0.2], 2022: [0.2, 0.2, -9999], 2023: [0.25, 0.6, 0.2]}
    land = parcels(("0101", px(0, 0, 1, 3)), ("0101", px(1, 0, 2, 3)), ("0102", px(2, 0, 3, 3)))
    sources = ndvi_series(tmp_path, years)
    here = parcel_ndvi(land, sources)
    monkeypatch.setattr(extract, "PARALLEL_MIN_PARCELS", 0)
    forked = parcel_ndvi(land, sources)
    assert forked.years == here.years == [2020, 2021, 2022, 2023]
    np.testing.assert_array_equal(forked.values, here.values)
    np.testing.assert_array_equal(forked.valid, here.valid)
    far = parcels(("0101", box(X0 + 50_000, Y0, X0 + 50_090, Y0 + 90)))
    with pytest.raises(LayerError, match="NDVI 2020 .* has no valid pixel on any of the 1"):
        parcel_ndvi(far, sources)


def test_abandonment_uses_coverage_weighted_medians(tmp_path):
    # A low parcel (0.20, 0.21) over two pixel columns whose edge reaches 1/4 into its cropped
    # neighbour's column (0.6): the mean (0.249) is dragged towards the neighbour, the median stays
    # between the parcel's own values (exactextract interpolates between distinct values).
    years = {2022: [0.2, 0.21, 0.6], 2023: [0.2, 0.21, 0.6]}
    land = parcels(("0101", box(X0, Y0, X0 + 67.5, Y0 + 90)))
    sources = ndvi_series(tmp_path, years)
    result = find_abandoned(land, parcel_ndvi(land, sources), ndvi_max=0.22, id_column="BSM")
    assert 0.2 <= result.parcels.loc[0, "ndvi_2022"] <= 0.21
    assert result.parcels.loc[0, "abandoned"]
    from kmrv_geo.extract import parcel_means

    mean, valid = parcel_means(land, sources[0], stat="mean")
    assert mean == pytest.approx([(3 * 0.2 + 3 * 0.21 + 0.75 * 0.6) / 6.75]) and valid == pytest.approx([1.0])


def test_new_farmland_is_not_abandoned_for_its_years_before(tmp_path):
    years = {2021: [0.1, 0.1, 0.1], 2022: [0.1, 0.1, 0.1], 2023: [0.6, 0.6, 0.6]}
    land = parcels(("0101", px(0, 0, 3, 3)))
    sources = ndvi_series(tmp_path, years)
    assert find_abandoned(land, parcel_ndvi(land, sources)).parcels.loc[0, "abandoned"]
    reclaimed = find_abandoned(land, parcel_ndvi(land, sources), farmland_since=np.array([2023])).parcels
    assert not reclaimed.loc[0, "abandoned"] and reclaimed.loc[0, "years_no_data"] == ""


def test_raster_without_crs_says_how_to_set_it(tmp_path):
    from kmrv_geo.crs import StudyArea
    from kmrv_geo.errors import CrsError
    from kmrv_geo.project import check_raster

    path = write_raster(tmp_path / "nocrs.tif", CROP, crs=None)
    with pytest.raises(CrsError, match=r"has no CRS; set it in the config.*crs: EPSG:4543"):
        check_raster("landcover_t0", path, crs_override=None, study_area=StudyArea())
    info = check_raster("landcover_t0", path, crs_override="EPSG:4543", study_area=StudyArea())
    assert info.crs == "EPSG:4543"


def test_benchmark_script_runs_at_a_tiny_size(tmp_path, capsys):
    import importlib.util
    import json
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("bench_rasters",
                                                  Path(__file__).parents[1] / "scripts" / "bench_rasters.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--size", "1000", "--parcels", "100", "--workdir", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["changed_m2"] == pytest.approx(summary["expected_changed_m2"])


def test_blockwise_zonal_stats_equal_one_call_on_the_whole_raster(tmp_path):
    from exactextract import exact_extract

    from kmrv_geo.zonal import exact_stats

    rng = np.random.default_rng(5)
    values = rng.uniform(-0.2, 0.9, (60, 80)).astype("float32")
    values[10:14, 20:30] = -9999  # a nodata patch
    path = write_raster(tmp_path / "ndvi.tif", values, nodata=-9999,
                        transform=Affine(PX, 0, X0, 0, -PX, Y0 + 60 * PX))
    # Small parcels scattered over several 16-pixel blocks, one spanning many blocks, one off the raster.
    xs, ys = rng.uniform(0, 75 * PX, 40), rng.uniform(0, 55 * PX, 40)
    geoms = [box(X0 + x, Y0 + y, X0 + x + rng.uniform(5, 120), Y0 + y + rng.uniform(5, 120))
             for x, y in zip(xs, ys, strict=True)]
    geoms += [box(X0 + 10, Y0 + 10, X0 + 70 * PX, Y0 + 50 * PX), box(X0 - 900, Y0 - 900, X0 - 600, Y0 - 600)]
    land = gpd.GeoDataFrame(geometry=geoms, crs=CRS)
    got = exact_stats(path, land, ["median", "mean", "count"], block=16)
    want = exact_extract(str(path), land.assign(_row=range(len(land))), ["median", "mean", "count"],
                         include_cols=["_row"], output="pandas").sort_values("_row").reset_index(drop=True)
    np.testing.assert_allclose(got["count"], want["count"].fillna(0), rtol=1e-12)
    np.testing.assert_allclose(got["mean"], want["mean"], rtol=1e-9, equal_nan=True)
    np.testing.assert_allclose(got["median"], want["median"], rtol=1e-9, equal_nan=True)
    assert got.loc[len(land) - 1, "count"] == 0 and np.isnan(got.loc[len(land) - 1, "mean"])


def test_ndvi_not_covering_the_farmland_is_refused(tmp_path):
    far = Affine(PX, 0, X0 + 50_000, 0, -PX, Y0 + 90)
    path = write_raster(tmp_path / "ndvi.tif", np.full((3, 3), 0.5, dtype="float32"), nodata=-9999, transform=far)
    with pytest.raises(LayerError, match=r"NDVI 2022 .* no valid pixel on any of the 1 farmland parcels"):
        parcel_ndvi(parcels(("0101", px(0, 0, 3, 3))), [NdviSource(2022, path)])


def test_nan_pixels_count_as_no_data(tmp_path):
    from kmrv_geo.zonal import exact_stats

    values = np.full((3, 3), 0.5, dtype="float32")
    values[:, 2] = np.nan  # a raster without a nodata value that marks gaps as NaN
    path = write_raster(tmp_path / "nan.tif", values, nodata=None)
    stats = exact_stats(path, parcels(("0101", px(0, 0, 2, 3)), ("0101", px(2, 0, 3, 3))), ["mean", "count"])
    assert stats["mean"].iloc[0] == pytest.approx(0.5) and stats["count"].tolist() == [6.0, 0.0]


def test_the_bounded_gdal_cache_is_megabytes_not_bytes():
    """Rasterio passes an integer GDAL_CACHEMAX to GDAL as bytes: the bounded cache must be given in bytes
    (512 given as is was a 512-byte cache that made rasterising parcels 30× slower).
    """
    from rasterio._env import get_gdal_config

    from kmrv_geo.rasters import GDAL_CACHE_MB, bounded_cache

    with bounded_cache():
        assert int(get_gdal_config("GDAL_CACHEMAX")) == GDAL_CACHE_MB * 1024 * 1024 >= 100 * 1024 * 1024
