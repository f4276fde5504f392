"""Raster grids as users deliver them: any origin, south-up, another CRS — or refused (rotated, no grid).

Issue 11, part 3. The two field cases (``../shared/field-cases/tiny_parcel`` and ``southup_ndvi``) are
rebuilt here in ``tmp_path`` (invented 示例数据: a 10 × 10 grid of 100 m parcels, BSM 1…100 row by row
from the south-west corner, at x 575000…576000, y 2770000…2771000 in EPSG:4543) and run through the
command line; the other grids are checked against exactextract run on the source raster itself.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from affine import Affine
from click.testing import CliRunner
from exactextract import exact_extract
from rasterio.control import GroundControlPoint
from shapely.geometry import box

from kmrv_geo import landuse
from kmrv_geo.cli.main import cli
from kmrv_geo.crs import StudyArea
from kmrv_geo.errors import KmrvError, LayerError
from kmrv_geo.extract import ClassRaster, NdviSource, detect_landcover_change, parcel_means
from kmrv_geo.project import check_raster
from kmrv_geo.rasters import CLCD_CLASSES, common_grid, raster_layout
from kmrv_geo.zonal import exact_stats

CRS = "EPSG:4543"
X0, Y0, SIZE, N = 575000.0, 2770000.0, 100.0, 10
MU = 10000.0 / 15.0
ALBERS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"


# --- the field cases' inputs ---------------------------------------------------------------------------


def parcel_grid(code="0103") -> gpd.GeoDataFrame:
    """Make the 100 parcels: BSM 1…100 row by row from the south-west corner, 100 m × 100 m (15 亩)."""
    geoms = [
        box(X0 + i * SIZE, Y0 + j * SIZE, X0 + (i + 1) * SIZE, Y0 + (j + 1) * SIZE)
        for j in range(N)
        for i in range(N)
    ]
    return gpd.GeoDataFrame({"BSM": np.arange(1, N * N + 1), "DLBM": code}, geometry=geoms, crs=CRS)


def farmland(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add the checked-layer columns ``code`` and ``category`` (all 0103 旱地) and ``BSM``."""
    frame = frame.copy()
    frame["code"] = "0103"
    frame["category"] = landuse.DEFAULT_CLASSES.classify(frame["code"])
    if "BSM" not in frame:
        frame["BSM"] = np.arange(1, len(frame) + 1)
    return frame


def write_project(folder, landuse_t0: gpd.GeoDataFrame, raster_yaml: str, extra: str = ""):
    """Write base.gpkg (county, villages, T0/T1 land use, PBF on the western half) and project.yml."""
    halves = [box(X0, Y0, X0 + 500, Y0 + 1000), box(X0 + 500, Y0, X0 + 1000, Y0 + 1000)]
    layers = {
        "county": gpd.GeoDataFrame({"XZQDM": ["530112"], "XZQMC": ["西山区"]},
                                   geometry=[box(X0 - 2000, Y0 - 2000, X0 + 3000, Y0 + 3000)], crs=CRS),
        "villages": gpd.GeoDataFrame({"CMC": ["示例甲村", "示例乙村"], "LX": ["重点村", "绿美村庄"]},
                                     geometry=halves, crs=CRS),
        "landuse_2022": landuse_t0,
        "landuse_2023": parcel_grid(),
        "pbf": gpd.GeoDataFrame({"BSM": [1]}, geometry=halves[:1], crs=CRS),
    }  # fmt: skip
    for name, frame in layers.items():
        frame.to_file(folder / "base.gpkg", layer=name, driver="GPKG", engine="pyogrio")
    config = folder / "project.yml"
    config.write_text(
        "name: 示例项目（合成数据）\nsynthetic: true\ncrs: EPSG:4543\nlayers:\n"
        "  county:     {path: base.gpkg, layer: county, code: XZQDM, name: XZQMC}\n"
        "  villages:   {path: base.gpkg, layer: villages, name: CMC, category: LX}\n"
        "  landuse_t0: {path: base.gpkg, layer: landuse_2022, code: DLBM, year: 2022, id: BSM}\n"
        "  landuse_t1: {path: base.gpkg, layer: landuse_2023, code: DLBM, year: 2023, id: BSM}\n"
        "  pbf:        {path: base.gpkg, layer: pbf}\n"
        f"{raster_yaml}"
        "thresholds:\n  min_patch_m2: {construction: 200, agricultural: 400, other: 600}\n"
        f"  facility_site_min_mu: 30\n{extra}",
        encoding="utf-8",
    )
    return config


def write_raster(path, data, transform, *, crs=CRS, nodata=0):
    """Write a GeoTIFF of ``data`` (2-D, or bands × rows × columns) exactly as given."""
    data = np.asarray(data)
    data = data[None] if data.ndim == 2 else data
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=data.shape[2],
        height=data.shape[1],
        count=data.shape[0],
        dtype=data.dtype,
        crs=crs,
        transform=transform,
        nodata=nodata,
    ) as dst:
        dst.write(data)
    return path


LANDCOVER_YAML = (
    "  landcover_t0: {path: landcover_2022.tif, classes: clcd}\n"
    "  landcover_t1: {path: landcover_2023.tif, classes: clcd}\n"
)
TINY = box(575002, 2770012, 575012, 2770022)
"""BSM 101: a 10 m × 10 m parcel inside one 30 m pixel, away from its centre, cut out of BSM 1."""


@pytest.fixture
def tiny_parcel(tmp_path):
    """Field case tiny_parcel: 30 m CLCD in EPSG:4543, origin (575000, 2771000) off the 30 m lattice."""
    t0 = parcel_grid()
    t0.loc[0, "geometry"] = t0.geometry.iloc[0].difference(TINY)
    tiny = gpd.GeoDataFrame({"BSM": [101], "DLBM": ["0103"]}, geometry=[TINY], crs=CRS)
    t0 = pd.concat([t0, tiny], ignore_index=True)
    before = np.ones((34, 34), dtype="uint8")
    after = before.copy()
    after[31:33, 0:2] = 8  # rows 31-32: y 2770010…2770070; columns 0-1: x 575000…575060 → impervious
    transform = Affine(30, 0, X0, 0, -30, Y0 + 1000)
    write_raster(tmp_path / "landcover_2022.tif", before, transform)
    write_raster(tmp_path / "landcover_2023.tif", after, transform)
    return write_project(tmp_path, t0, LANDCOVER_YAML)


@pytest.fixture
def southup_ndvi(tmp_path):
    """Field case southup_ndvi: 10 m NDVI, positive y pixel size (row 0 = southern edge), 0.2 on BSM 1."""
    arr = np.full((100, 100), 0.7, dtype="float32")
    arr[0:10, 0:10] = 0.2  # south-up: row 0 is the southernmost row → BSM 1, the south-west parcel
    for year in (2022, 2023):
        write_raster(tmp_path / f"ndvi_{year}.tif", arr, Affine(10, 0, X0, 0, 10, Y0), nodata=-9999)
    return write_project(
        tmp_path,
        parcel_grid(),
        '  ndvi:       {path: "ndvi_{year}.tif", years: [2022, 2023]}\n',
        extra="abandonment: {ndvi_max: 0.35, min_years: 2, min_valid_share: 0.5}\n",
    )


def invoke(*args):
    """Run the kmrv command line in this process."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_tiny_parcel_field_case(tiny_parcel):
    """The raster is read on its own grid: no shift, no blank first column, BSM 101 fully changed."""
    out = tiny_parcel.parent / "out"
    result = invoke("landcover", tiny_parcel, "--out", out, "--lang", "en", "-q")
    assert result.exit_code == 0, result.output + repr(result.exception)
    shares = pd.read_csv(out / "tables" / "landcover_parcels.csv", encoding="utf-8-sig").set_index(
        "parcel id"
    )
    assert len(shares) == 101
    valid, changed = shares["valid pixel share"], shares["changed share"]
    np.testing.assert_allclose(valid, 1.0, rtol=1e-6)  # the raster's first column is read: no blank column
    assert changed[101] == pytest.approx(
        1.0, rel=1e-6
    )  # 100 m² inside the changed pixel, no pixel centre in it
    assert shares.loc[101, "to construction share"] == pytest.approx(1.0, rel=1e-6)
    assert changed[1] == pytest.approx(3500 / 9900, rel=1e-6)
    assert (changed.drop([1, 101]) == 0).all()
    patches = gpd.read_file(out / "results.gpkg", layer="change_patches")
    assert len(patches) == 1
    patch = patches.iloc[0]
    assert patch["source"] == "raster" and patch["change_class"] == "nonagri"
    assert tuple(patches.total_bounds) == pytest.approx((575000, 2770010, 575060, 2770070), abs=1e-6)
    assert patches.geometry.area.sum() == pytest.approx(3600.0, rel=1e-9)  # planar m²
    assert patch["area_mu_planar"] == pytest.approx(3600 / MU, rel=1e-9) == pytest.approx(5.4)
    # The run's kind is ellipsoidal by default: slightly less than planar, within 0.1 %.
    assert patch["area_mu"] == pytest.approx(patch["area_mu_ellipsoidal"])
    assert patch["area_mu_ellipsoidal"] == pytest.approx(5.4, rel=1e-3)


def test_southup_ndvi_field_case(southup_ndvi):
    """The south-up NDVI is checked, read right side up, and BSM 1 (not BSM 91) is abandoned."""
    check = invoke("check", southup_ndvi, "-q")
    assert check.exit_code == 0, check.output
    out = southup_ndvi.parent / "out"
    result = invoke("abandonment", southup_ndvi, "--out", out, "--lang", "en", "-q")
    assert result.exit_code == 0, result.output + repr(result.exception)
    abandoned = gpd.read_file(out / "results.gpkg", layer="abandoned_parcels")
    assert abandoned["parcel_id"].tolist() == [1]  # the south-west parcel; a flipped read would flag BSM 91
    row = abandoned.iloc[0]
    assert row["area_mu"] == pytest.approx(15.0, rel=1e-3)
    assert row["ndvi_2022"] == pytest.approx(0.2, abs=1e-6) and row["ndvi_2023"] == pytest.approx(
        0.2, abs=1e-6
    )
    assert row["valid_2022"] == pytest.approx(1.0) and row["years_low"] == "2022,2023"


def test_southup_ndvi_values_per_parcel(southup_ndvi):
    """Mean NDVI: 0.2 on BSM 1 (south-west), 0.7 on every other parcel, BSM 91 (north-west) included."""
    value, valid = parcel_means(
        parcel_grid(), NdviSource(2022, southup_ndvi.parent / "ndvi_2022.tif"), stat="mean"
    )
    assert value[0] == pytest.approx(0.2, abs=1e-6)
    assert value[90] == pytest.approx(0.7, abs=1e-6)
    np.testing.assert_allclose(np.delete(value, 0), 0.7, atol=1e-6)
    np.testing.assert_allclose(valid, 1.0)


def test_check_raster_gives_south_up_bounds_in_order(southup_ndvi):
    """``kmrv check`` places a south-up raster where it is (bottom < top)."""
    path = southup_ndvi.parent / "ndvi_2022.tif"
    info = check_raster("ndvi:2022", path, crs_override=None, study_area=StudyArea())
    lon0, lat0, lon1, lat1 = info.bounds_lonlat
    assert lon0 < lon1 and lat0 < lat1
    assert raster_layout(path).bounds == pytest.approx((X0, Y0, X0 + 1000, Y0 + 1000))


# --- NDVI on other grids, against exactextract on the source raster --------------------------------------


def scattered_parcels(rng, n=60):
    """Make small parcels anywhere over the 1 km square, two larger ones, and one off every raster."""
    xs, ys = rng.uniform(0, 950, n), rng.uniform(0, 950, n)
    geoms = [
        box(X0 + x, Y0 + y, X0 + x + rng.uniform(3, 60), Y0 + y + rng.uniform(3, 60))
        for x, y in zip(xs, ys, strict=True)
    ]
    geoms += [
        box(X0 + 20, Y0 + 30, X0 + 870, Y0 + 940),
        box(X0 + 300, Y0 + 300, X0 + 700, Y0 + 650),
        box(X0 - 5000, Y0 - 5000, X0 - 4000, Y0 - 4000),
    ]
    return farmland(gpd.GeoDataFrame(geometry=geoms, crs=CRS))


def reference(path, parcels, ops):
    """Run exactextract on the raster file itself (parcels in its CRS); rows in parcel order."""
    vec = parcels[["geometry"]].assign(_row=np.arange(len(parcels)))
    stats = exact_extract(str(path), vec, ops, include_cols=["_row"], output="pandas")
    return stats.set_index("_row").reindex(range(len(parcels)))


def assert_same_stats(got, want, ops):
    """Assert kmrv's statistics equal exactextract's."""
    np.testing.assert_allclose(got["count"], want["count"].fillna(0), rtol=1e-7, atol=1e-9)
    for op in ops:
        if op != "count":
            np.testing.assert_allclose(
                got[op].astype(float), want[op].astype(float), rtol=1e-7, equal_nan=True
            )


def ndvi_values(rng, shape):
    """Make random NDVI with a nodata patch."""
    values = rng.uniform(-0.1, 0.9, shape).astype("float32")
    values[5:9, 10:20] = -9999
    return values


@pytest.mark.parametrize("block", [16, 2048])  # 16: parcels over several blocks and too big for one
def test_shifted_origin_ndvi_equals_exactextract_on_the_source(tmp_path, block):
    """Exactly the statistics of exactextract on a raster whose origin is off the pixel-size lattice."""
    rng = np.random.default_rng(11)
    path = write_raster(
        tmp_path / "ndvi.tif",
        ndvi_values(rng, (40, 40)),
        Affine(30, 0, X0 - 7.3, 0, -30, Y0 + 1013.1),
        nodata=-9999,
    )
    parcels = scattered_parcels(rng)
    ops = ["median", "mean", "count"]
    got = exact_stats(path, parcels, ops, block=block)
    assert_same_stats(got, reference(path, parcels, ops), ops)
    value, _valid = parcel_means(parcels, NdviSource(2022, path))
    np.testing.assert_allclose(value, got["median"].astype(float), rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("flip", ["rows", "columns", "both"])
@pytest.mark.parametrize("block", [16, 2048])
def test_flipped_ndvi_equals_exactextract_on_the_same_cells_north_up(tmp_path, flip, block):
    """Read south-up (and east-to-west) files as the same cells north-up: the same statistics.

    exactextract cannot read such a file itself ("Incompatible extents"): the reference is the
    north-up file holding the same cells.
    """
    rng = np.random.default_rng(12)
    north_up = ndvi_values(rng, (40, 40))
    left, top, res = X0 - 7.3, Y0 + 1013.1, 30.0
    ref_path = write_raster(
        tmp_path / "north_up.tif", north_up, Affine(res, 0, left, 0, -res, top), nodata=-9999
    )
    right, bottom = left + 40 * res, top - 40 * res
    stored, transform = {
        "rows": (north_up[::-1], Affine(res, 0, left, 0, res, bottom)),
        "columns": (north_up[:, ::-1], Affine(-res, 0, right, 0, -res, top)),
        "both": (north_up[::-1, ::-1], Affine(-res, 0, right, 0, res, bottom)),
    }[flip]
    path = write_raster(tmp_path / "flipped.tif", np.ascontiguousarray(stored), transform, nodata=-9999)
    layout = raster_layout(path)
    assert layout.transform == Affine(res, 0, left, 0, -res, top)
    assert layout.flip_rows == (flip != "columns") and layout.flip_cols == (flip != "rows")
    parcels = scattered_parcels(rng)
    ops = ["median", "mean", "count"]
    got = exact_stats(path, parcels, ops, block=block)
    assert_same_stats(got, reference(ref_path, parcels, ops), ops)


@pytest.mark.parametrize("raster_crs", ["EPSG:4326", ALBERS])
def test_ndvi_in_another_crs_equals_exactextract_on_the_source(tmp_path, raster_crs):
    """Never resample NDVI: the parcels are brought into the raster's CRS and read on its own grid."""
    rng = np.random.default_rng(13)
    corners = gpd.GeoSeries([box(X0 - 200, Y0 - 200, X0 + 1200, Y0 + 1200)], crs=CRS).to_crs(raster_crs)
    x0, y0, x1, y1 = corners.total_bounds
    res = 0.0003 if raster_crs == "EPSG:4326" else 30.0
    width, height = int(np.ceil((x1 - x0) / res)), int(np.ceil((y1 - y0) / res))
    path = write_raster(
        tmp_path / "ndvi.tif",
        ndvi_values(rng, (height, width)),
        Affine(res, 0, x0, 0, -res, y1),
        crs=raster_crs,
        nodata=-9999,
    )
    parcels = scattered_parcels(rng)
    value, valid = parcel_means(parcels, NdviSource(2022, path))
    on_raster = parcels.to_crs(raster_crs)
    want = reference(path, on_raster, ["median", "count"])
    np.testing.assert_allclose(
        value, np.where(want["count"] > 0, want["median"], np.nan), rtol=1e-7, equal_nan=True
    )
    share = np.minimum(want["count"].fillna(0) * res * res / shapely.area(on_raster.geometry.values), 1.0)
    np.testing.assert_allclose(valid, share, rtol=1e-7, atol=1e-12)
    assert valid[-1] == 0 and np.isnan(value[-1])  # the parcel off the raster
    assert (valid > 0.9).sum() >= 55


def test_parcel_within_one_pixel_row_over_nodata_has_no_value(tmp_path):
    """Never take no data for a value (exactextract 0.3 ignores masks for polygons within one cell row)."""
    values = np.full((10, 10), 0.6, dtype="float32")
    values[3:6, 2:8] = -9999
    path = write_raster(tmp_path / "ndvi.tif", values, Affine(30, 0, X0, 0, -30, Y0 + 300), nodata=-9999)
    inside_one_row = box(X0 + 70, Y0 + 185, X0 + 170, Y0 + 205)  # row 3, columns 2-5
    across_rows = box(X0 + 70, Y0 + 155, X0 + 170, Y0 + 205)  # rows 3-4
    parcels = gpd.GeoDataFrame({"code": ["0103", "0103"]}, geometry=[inside_one_row, across_rows], crs=CRS)
    for block in (2048, 1):  # 1: both parcels too big for a block, read through exactextract's own windows
        stats = exact_stats(path, parcels, ["median", "count"], block=block)
        assert stats["count"].tolist() == [0.0, 0.0] and stats["median"].isna().all()
    value, valid = parcel_means(parcels, NdviSource(2022, path))
    assert np.isnan(value).all() and (valid == 0).all()


@pytest.mark.parametrize("block", [2048, 1])
def test_cells_masked_by_a_mask_band_without_nodata_are_no_data(tmp_path, block):
    """Treat gaps of an integer NDVI (× 10000) marked only by an internal mask band as no data."""
    values = np.full((10, 10), 6000, dtype="int16")
    mask = np.full((10, 10), 255, dtype="uint8")
    mask[3:6, 2:8] = 0
    path = tmp_path / "ndvi_masked.tif"
    profile = {
        "driver": "GTiff",
        "width": 10,
        "height": 10,
        "count": 1,
        "dtype": "int16",
        "crs": CRS,
        "transform": Affine(30, 0, X0, 0, -30, Y0 + 300),
    }
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
        dst.write_mask(mask)
    gap = box(X0 + 70, Y0 + 185, X0 + 170, Y0 + 205)
    half = box(X0, Y0 + 180, X0 + 120, Y0 + 210)  # row 3, columns 0-3: half in the gap
    stats = exact_stats(path, gpd.GeoDataFrame(geometry=[gap, half], crs=CRS), ["mean", "count"], block=block)
    assert stats["count"].tolist() == [0.0, 2.0]
    assert np.isnan(stats["mean"].iloc[0]) and stats["mean"].iloc[1] == pytest.approx(6000)


# --- land cover on other grids ---------------------------------------------------------------------------


def detect(t0_path, t1_path, parcels, **kw):
    """Run the land-cover change detection on two CLCD rasters, every change kept."""
    return detect_landcover_change(
        parcels,
        ClassRaster(t0_path, CLCD_CLASSES),
        ClassRaster(t1_path, CLCD_CLASSES),
        analysis_crs=CRS,
        min_pixels=1,
        id_column="BSM",
        **kw,
    )


def changed_landcover(rng, shape):
    """Make cropland with 20 % scattered impervious pixels and a forest block."""
    after = np.ones(shape, dtype="uint8")
    after[rng.random(shape) < 0.2] = 8
    after[10:14, 3:9] = 2
    return after


def changed_share(want) -> np.ndarray:
    """Share of each parcel on pixels that are not cropland, from exactextract ``unique`` and ``frac``."""
    out = []
    for values, fracs in zip(want["unique"], want["frac"], strict=True):
        ok = isinstance(values, list | np.ndarray)
        out.append(sum(f for v, f in zip(values, fracs, strict=True) if v != 1) if ok else 0.0)
    return np.asarray(out)


def test_shifted_origin_landcover_is_read_on_its_own_grid(tmp_path):
    """Shares equal exactextract on the source T1 raster (T0 all cropland); pieces keep its pixel edges."""
    rng = np.random.default_rng(21)
    after = changed_landcover(rng, (40, 40))
    transform = Affine(30, 0, X0 - 17.5, 0, -30, Y0 + 1011.25)
    t0 = write_raster(tmp_path / "t0.tif", np.ones_like(after), transform)
    t1 = write_raster(tmp_path / "t1.tif", after, transform)
    parcels = scattered_parcels(rng)
    result = detect(t0, t1, parcels)
    g = result.grid.transform
    assert (g.a, g.e) == (30, -30)
    assert (g.c - transform.c) / 30 == pytest.approx(round((g.c - transform.c) / 30), abs=1e-9)
    assert (transform.f - g.f) / 30 == pytest.approx(round((transform.f - g.f) / 30), abs=1e-9)
    want = reference(t1, parcels, ["unique", "frac", "count"])
    on = want["count"].fillna(0).to_numpy() > 0
    np.testing.assert_allclose(
        result.parcels["changed_share"].to_numpy()[on], changed_share(want)[on], rtol=1e-6, atol=1e-9
    )
    assert result.parcels["no_valid_pixels"].tolist() == (~on).tolist()
    # Every piece's x coordinates lie on the raster's own pixel edges or on parcel edges.
    x = shapely.get_coordinates(result.pieces.geometry.values)[:, 0]
    in_pixels = (x - transform.c) / 30
    parcel_x = np.round(shapely.get_coordinates(parcels.geometry.values)[:, 0], 6)
    assert (np.isclose(in_pixels, np.round(in_pixels), atol=1e-6) | np.isin(np.round(x, 6), parcel_x)).all()


def test_southup_landcover_equals_the_same_cells_north_up(tmp_path):
    """A south-up T0 or T1 gives exactly the result of the same cells stored north-up."""
    rng = np.random.default_rng(22)
    after = changed_landcover(rng, (40, 40))
    left, top = X0 - 17.5, Y0 + 1011.25
    north = Affine(30, 0, left, 0, -30, top)
    south = Affine(30, 0, left, 0, 30, top - 40 * 30)
    parcels = scattered_parcels(rng)
    want = detect(
        write_raster(tmp_path / "a0.tif", np.ones_like(after), north),
        write_raster(tmp_path / "a1.tif", after, north),
        parcels,
    )
    for name, (t0_tf, t1_tf, t1_data) in {
        "mixed": (south, north, after),
        "both": (south, south, after[::-1]),
    }.items():
        t0 = write_raster(tmp_path / f"{name}0.tif", np.ones_like(after), t0_tf)
        t1 = write_raster(tmp_path / f"{name}1.tif", np.ascontiguousarray(t1_data), t1_tf)
        got = detect(t0, t1, parcels)
        assert got.grid == want.grid
        pd.testing.assert_frame_equal(got.parcels, want.parcels)
        assert got.pieces["area_m2"].sum() == pytest.approx(want.pieces["area_m2"].sum(), rel=1e-12)
        assert shapely.equals(
            shapely.union_all(got.pieces.geometry.values), shapely.union_all(want.pieces.geometry.values)
        )


@pytest.mark.parametrize("raster_crs", ["EPSG:4326", ALBERS])
def test_landcover_in_another_crs_is_warped(tmp_path, raster_crs):
    """Warp a changed block in lon/lat or Albers: as exactextract on the source, away from its edges."""
    region = box(X0 + 200, Y0 + 250, X0 + 700, Y0 + 650)  # the impervious block, in the analysis CRS
    area = gpd.GeoSeries([box(X0 - 200, Y0 - 200, X0 + 1200, Y0 + 1200), region], crs=CRS).to_crs(raster_crs)
    x0, y0, x1, y1 = area.iloc[0].bounds
    res = 0.0003 if raster_crs == "EPSG:4326" else 30.0
    width, height = int(np.ceil((x1 - x0) / res)), int(np.ceil((y1 - y0) / res))
    transform = Affine(res, 0, x0, 0, -res, y1)
    rows, cols = np.indices((height, width))
    cx, cy = x0 + (cols + 0.5) * res, y1 - (rows + 0.5) * res  # pixel centres
    after = np.where(shapely.contains_xy(area.iloc[1], cx, cy), 8, 1).astype("uint8")
    t0 = write_raster(tmp_path / "t0.tif", np.ones_like(after), transform, crs=raster_crs)
    t1 = write_raster(tmp_path / "t1.tif", after, transform, crs=raster_crs)
    parcels = farmland(parcel_grid())
    result = detect(t0, t1, parcels)
    assert result.grid.crs == CRS and result.grid.res == 30.0
    ref = changed_share(reference(t1, parcels.to_crs(raster_crs), ["frac", "unique"]))
    got = result.parcels["changed_share"].to_numpy()
    # Nearest neighbour moves edges by up to half a pixel: parcels 40 m from the block's edge agree exactly.
    far = ~shapely.intersects(parcels.geometry.values, region.boundary.buffer(40))
    assert far.sum() >= 60 and ((ref[far] < 1e-6) | (ref[far] > 1 - 1e-6)).all()
    np.testing.assert_allclose(got[far], np.round(ref[far]), atol=1e-9)
    np.testing.assert_allclose(got, ref, atol=0.35)
    np.testing.assert_allclose(result.parcels["valid_share"], 1.0, rtol=1e-6)
    assert result.pieces["area_m2"].sum() == pytest.approx((ref * parcels.area).sum(), rel=0.05)


def test_common_grid_keeps_the_finest_raster_in_the_analysis_crs(tmp_path):
    """Keep the lattice of the finest raster in the analysis CRS; snap to multiples for other CRSs."""
    ones = np.ones((20, 20), dtype="uint8")
    coarse = write_raster(tmp_path / "coarse.tif", ones, Affine(30, 0, X0 + 7, 0, -30, Y0 + 607))
    fine = write_raster(tmp_path / "fine.tif", ones, Affine(10, 0, X0 + 3, 0, 10, Y0 + 1))  # south-up
    albers = write_raster(tmp_path / "albers.tif", ones, Affine(30, 0, -300000, 0, -30, 2800000), crs=ALBERS)
    bounds = (X0, Y0, X0 + 100, Y0 + 100)
    grid = common_grid([raster_layout(coarse), raster_layout(fine)], bounds, CRS)
    assert grid.transform == Affine(10, 0, X0 - 7, 0, -10, Y0 + 101) and (grid.width, grid.height) == (11, 11)
    grid = common_grid([raster_layout(albers), raster_layout(coarse)], bounds, CRS)
    assert grid.transform == Affine(30, 0, X0 - 23, 0, -30, Y0 + 127) and (grid.width, grid.height) == (5, 5)
    albers_10 = write_raster(
        tmp_path / "albers10.tif", ones, Affine(10, 0, -300000, 0, -10, 2800000), crs=ALBERS
    )
    grid = common_grid([raster_layout(coarse), raster_layout(albers_10)], bounds, CRS)
    assert grid.transform == Affine(10, 0, X0, 0, -10, Y0 + 100)  # multiples of 10 m


# --- refused grids ---------------------------------------------------------------------------------------


def rotated_raster(path):
    """Write a raster whose rows run 15° off east-west."""
    transform = Affine(30, 0, X0, 0, -30, Y0 + 900) @ Affine.rotation(15)
    return write_raster(path, np.ones((30, 30), dtype="uint8"), transform)


def test_rotated_grid_is_refused_everywhere_with_the_fix(tmp_path):
    """Refuse a rotated grid in land cover, NDVI, zonal statistics and the load check; name gdalwarp."""
    path = rotated_raster(tmp_path / "rotated_lc.tif")
    ok = write_raster(
        tmp_path / "ok.tif", np.ones((30, 30), dtype="uint8"), Affine(30, 0, X0, 0, -30, Y0 + 900)
    )
    parcels = farmland(parcel_grid())
    pattern = (
        r"rotated_lc\.tif has a rotated .*geotransform is .*gdalwarp .*rotated_lc\.tif rotated_lc_grid\.tif"
    )
    with pytest.raises(LayerError, match=pattern):
        detect(ok, path, parcels)
    with pytest.raises(LayerError, match=pattern):
        parcel_means(parcels, NdviSource(2022, path))
    with pytest.raises(LayerError, match=pattern):
        exact_stats(path, parcels, ["mean"])
    with pytest.raises(KmrvError, match=r"landcover_t1 raster .*rotated"):
        check_raster("landcover_t1", path, crs_override=None, study_area=StudyArea())


def test_rotated_raster_fails_kmrv_check_with_exit_2(tmp_path):
    """``kmrv check`` stops on a rotated raster with one paragraph, before any analysis."""
    rotated_raster(tmp_path / "landcover_2023.tif")
    write_raster(
        tmp_path / "landcover_2022.tif",
        np.ones((34, 34), dtype="uint8"),
        Affine(30, 0, X0, 0, -30, Y0 + 1000),
    )
    config = write_project(tmp_path, parcel_grid(), LANDCOVER_YAML)
    result = invoke("check", config, "-q")
    assert result.exit_code == 2, result.output
    assert (
        "landcover_2023.tif" in result.output and "rotated" in result.output and "gdalwarp" in result.output
    )
    assert "Traceback" not in result.output


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # rasterio, writing the file
def test_gcp_only_raster_is_refused(tmp_path):
    """Refuse a raster placed only by ground control points, naming gdalwarp."""
    path = tmp_path / "gcps.tif"
    gcps = [
        GroundControlPoint(row=r, col=c, x=X0 + 30 * c, y=Y0 + 900 - 30 * r)
        for r, c in ((0, 0), (0, 30), (30, 0))
    ]
    with rasterio.open(
        path, "w", driver="GTiff", width=30, height=30, count=1, dtype="uint8", nodata=0
    ) as dst:
        dst.write(np.ones((1, 30, 30), dtype="uint8"))
        dst.gcps = (gcps, rasterio.crs.CRS.from_user_input(CRS))
    with pytest.raises(LayerError, match=r"gcps\.tif is georeferenced by ground control points .*gdalwarp"):
        raster_layout(path, role="landcover_t0")
