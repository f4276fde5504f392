"""Synthetic rasters: CLCD-style land cover for 2022/2023 and yearly growing-season NDVI 2019–2023.

- Land cover: the land use of the year rasterised (pixel centres) to CLCD classes on a 30 m grid in
  the CLCD Albers CRS, with 0.3 % salt noise per year (real classifications are never clean).
- NDVI: one growing-season value per pixel and year on a 30 m grid in EPSG:4543, from the land use of
  the year (2019–2022: 2022 land use; 2023: 2023 land use) + a per-parcel offset + a smooth yearly
  field + pixel noise. Injected abandoned farmland (撂荒): parcels of 5+ pixels whose NDVI drops to
  0.15–0.28 for the last 2 or 3 years; decoys (fallow, 休耕/轮作) are low in one year only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
from affine import Affine

from .. import landuse
from ._util import smooth_field
from .geography import CRS

logger = logging.getLogger(__name__)

CLCD_CRS = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
"""The CRS of CLCD (China Land Cover Dataset) rasters."""
CLCD_CLASSES = {1: "cropland", 2: "forest", 3: "shrub", 4: "grassland", 5: "water", 6: "snow/ice", 7: "barren",
                8: "impervious", 9: "wetland"}
CLCD_COLORS = {1: (250, 227, 156), 2: (68, 111, 51), 3: (51, 160, 44), 4: (171, 211, 123), 5: (30, 105, 180),
               6: (166, 206, 227), 7: (207, 189, 163), 8: (226, 66, 144), 9: (40, 154, 184)}
RESOLUTION_M = 30.0
NDVI_YEARS = (2019, 2020, 2021, 2022, 2023)
NDVI_NODATA = -9999.0
LANDCOVER_NOISE = 0.003
ABANDONED_SHARE = 0.015
"""Share of the farmland parcels made abandoned (only parcels of at least :data:`ABANDONED_MIN_PIXELS`)."""
DECOY_SHARE = 0.5
"""Decoys (low NDVI in one year only) per abandoned parcel."""
ABANDONED_MIN_PIXELS = 5
LOW_PATTERNS = ((2021, 2022, 2023), (2022, 2023))

_CLCD_BY_CODE = {"0305": 3, "0402": 9, "1006": 8, "1105": 9, "1106": 9, "1108": 9, "1109": 8, "1201": 7, "1202": 8,
                 "1203": 1}  # fmt: skip
_CLCD_BY_PREFIX = {"01": 1, "02": 2, "03": 2, "04": 4, "11": 5, "12": 7}
_NDVI_BY_CODE = {
    "0101": 0.66, "0102": 0.68, "0103": 0.62, "0202": 0.66, "0301": 0.80, "0302": 0.78, "0305": 0.68, "0307": 0.64,
    "0404": 0.45, "0702": 0.22, "0810": 0.50, "0906": 0.40, "1006": 0.30, "1007": 0.18, "1101": 0.0, "1102": -0.2,
    "1103": -0.1, "1104": -0.05, "1107": 0.30, "1201": 0.20, "1202": 0.25, "1203": 0.55, "1206": 0.12, "1207": 0.08,
}  # fmt: skip
_NDVI_BY_PREFIX = {"02": 0.70, "03": 0.78, "04": 0.55, "10": 0.10, "11": -0.05, "12": 0.15}


def clcd_class(codes) -> np.ndarray:
    """CLCD class of each land-use code (construction → 8 impervious; unknown → 7 barren)."""
    series = pd.Series(np.asarray(codes, dtype=object))
    lookup = {}
    for code in pd.unique(series):
        category = landuse.DEFAULT_CLASSES.category_of(code)
        if code in _CLCD_BY_CODE:
            lookup[code] = _CLCD_BY_CODE[code]
        elif category == landuse.CONSTRUCTION:
            lookup[code] = 8
        else:
            lookup[code] = _CLCD_BY_PREFIX.get(code[:2], 7)
    return series.map(lookup).to_numpy(dtype=np.uint8)


def ndvi_base(codes) -> np.ndarray:
    """Typical growing-season NDVI of each land-use code."""
    series = pd.Series(np.asarray(codes, dtype=object))
    lookup = {}
    for code in pd.unique(series):
        if code in _NDVI_BY_CODE:
            lookup[code] = _NDVI_BY_CODE[code]
        elif landuse.DEFAULT_CLASSES.category_of(code) == landuse.CONSTRUCTION:
            lookup[code] = 0.15
        else:
            lookup[code] = _NDVI_BY_PREFIX.get(code[:2], 0.3)
    return series.map(lookup).to_numpy(dtype="float64")


def _grid(bounds, resolution: float = RESOLUTION_M):
    """Transform and shape of a grid snapped to multiples of ``resolution`` that covers ``bounds``."""
    minx, miny, maxx, maxy = bounds
    x0 = np.floor(minx / resolution) * resolution
    y1 = np.ceil(maxy / resolution) * resolution
    width = int(np.ceil((maxx - x0) / resolution))
    height = int(np.ceil((y1 - miny) / resolution))
    return Affine(resolution, 0.0, x0, 0.0, -resolution, y1), (height, width)


def _burn(geoms, values, transform, shape, *, fill, dtype, out=None) -> np.ndarray:
    """Rasterise (pixel centres) ``values`` of ``geoms``; onto ``out`` when given."""
    shapes = zip(geoms, values, strict=True)
    if out is not None:
        return rasterio.features.rasterize(shapes, out=out, transform=transform, all_touched=False)
    return rasterio.features.rasterize(shapes, out_shape=shape, transform=transform, fill=fill, dtype=dtype,
                                       all_touched=False)


def _profile(transform, shape, crs, dtype, nodata) -> dict:
    predictor = 3 if dtype == "float32" else 2
    return {"driver": "GTiff", "height": shape[0], "width": shape[1], "count": 1, "dtype": dtype, "crs": crs,
            "transform": transform, "nodata": nodata, "tiled": True, "blockxsize": 256, "blockysize": 256,
            "compress": "deflate", "predictor": predictor, "zlevel": 6}


def write_landcover(t0: gpd.GeoDataFrame, t1: gpd.GeoDataFrame, changed_rows: np.ndarray, out_dir: Path,
                    rng: np.random.Generator, note: str) -> dict[str, Path]:
    """Write ``landcover_2022.tif`` and ``landcover_2023.tif`` (uint8 CLCD classes, nodata 0).

    Parameters
    ----------
    t0, t1 : GeoDataFrame
        Land use; the first ``len(t0)`` rows of ``t1`` are the 2022 parcels (remainders where split).
    changed_rows : numpy.ndarray of int
        Rows of ``t1`` whose use differs from 2022 (whole changes and new pieces).
    """
    albers0 = t0.geometry.to_crs(CLCD_CRS)
    transform, shape = _grid(albers0.total_bounds)
    grids = {}
    base = _burn(np.asarray(albers0.values, dtype=object), clcd_class(t0["DLBM"]), transform, shape, fill=0,
                 dtype="uint8")
    grids[2022] = base
    later = base.copy()
    changed = t1.iloc[changed_rows]
    if len(changed):
        albers1 = changed.geometry.to_crs(CLCD_CRS)
        _burn(np.asarray(albers1.values, dtype=object), clcd_class(changed["DLBM"]), transform, shape, fill=0,
              dtype="uint8", out=later)
    grids[2023] = later
    paths = {}
    classes = np.array([1, 2, 4, 8], dtype=np.uint8)
    for year, grid in grids.items():
        noisy = grid.copy()
        valid = noisy > 0
        flip = valid & (rng.uniform(size=noisy.shape) < LANDCOVER_NOISE)
        noisy[flip] = classes[rng.integers(0, classes.size, int(flip.sum()))]
        path = out_dir / f"landcover_{year}.tif"
        with rasterio.open(path, "w", **_profile(transform, shape, CLCD_CRS, "uint8", 0)) as dst:
            dst.write(noisy, 1)
            dst.write_colormap(1, {0: (0, 0, 0, 0), **{k: (*v, 255) for k, v in CLCD_COLORS.items()}})
            dst.update_tags(SYNTHETIC=note, YEAR=str(year), CLASSES=str(CLCD_CLASSES),
                            SOURCE=f"land use {year} rasterised to CLCD classes")
            dst.set_band_description(1, f"CLCD-style land cover {year} (synthetic)")
        paths[f"landcover_{year}"] = path
    return paths


def write_ndvi(t0: gpd.GeoDataFrame, t1: gpd.GeoDataFrame, new_rows: np.ndarray, unchanged_farmland: np.ndarray,
               out_dir: Path, rng: np.random.Generator, note: str):
    """Write ``ndvi_2019.tif`` … ``ndvi_2023.tif`` with injected abandoned farmland and decoys.

    Parameters
    ----------
    t0, t1 : GeoDataFrame
        Land use (the first ``len(t0)`` rows of ``t1`` are the 2022 parcels).
    new_rows : numpy.ndarray of int
        Rows of ``t1`` that are new pieces (burnt over the 2022 parcel ids for 2023).
    unchanged_farmland : numpy.ndarray of bool
        2022 parcels that are farmland in both years and not touched by any change (may be abandoned).

    Returns
    -------
    paths : dict
    abandoned : pandas.DataFrame
        ``row`` (2022 parcel row), ``years_low`` (e.g. "2021,2022,2023"), ``first_low_year``, ``abandoned``
        (False for decoys), ``pixels``.
    """
    n0 = len(t0)
    transform, shape = _grid(t0.total_bounds)
    ids0 = _burn(np.asarray(t0.geometry.values, dtype=object), np.arange(n0, dtype=np.int32), transform, shape,
                 fill=-1, dtype="int32")
    ids1 = ids0.copy()
    if len(new_rows):
        _burn(np.asarray(t1.geometry.values, dtype=object)[new_rows], new_rows.astype(np.int32), transform, shape,
              fill=-1, dtype="int32", out=ids1)
    pixels = np.bincount(ids0[ids0 >= 0], minlength=n0)

    # abandoned parcels and decoys
    eligible = np.flatnonzero(unchanged_farmland & (pixels >= ABANDONED_MIN_PIXELS))
    n_farm = int(np.isin(t0["DLBM"].to_numpy(), ["0101", "0102", "0103"]).sum())
    n_abandoned = min(len(eligible), max(3, int(round(ABANDONED_SHARE * n_farm))))
    n_decoys = min(len(eligible) - n_abandoned, max(2, int(round(DECOY_SHARE * n_abandoned))))
    chosen = rng.permutation(eligible)[: n_abandoned + n_decoys]
    low = np.zeros((len(NDVI_YEARS), n0), dtype=bool)
    pattern = rng.integers(0, len(LOW_PATTERNS), n_abandoned)
    rows_a, rows_d = chosen[:n_abandoned], chosen[n_abandoned:]
    decoy_year = rng.choice(NDVI_YEARS, size=len(rows_d))
    years_low = [LOW_PATTERNS[p] for p in pattern] + [(int(y),) for y in decoy_year]  # the few chosen parcels
    rows = np.concatenate([rows_a, rows_d])
    for i, year in enumerate(NDVI_YEARS):
        hit = np.array([year in ys for ys in years_low], dtype=bool)
        low[i, rows[hit]] = True
    table = pd.DataFrame({
        "row": rows,
        "years_low": [",".join(str(y) for y in ys) for ys in years_low],
        "first_low_year": [int(ys[0]) for ys in years_low],
        "abandoned": np.arange(len(rows)) < n_abandoned,
        "pixels": pixels[rows],
    })  # fmt: skip

    # NDVI per parcel and year, then per pixel
    n1 = len(t1)
    base0 = ndvi_base(t0["DLBM"])
    base1 = ndvi_base(t1["DLBM"])
    offset1 = rng.normal(0.0, 0.035, n1)
    offset0 = offset1[:n0]
    height, width = shape
    cols = transform.c + (np.arange(width) + 0.5) * transform.a
    rows_y = transform.f + (np.arange(height) + 0.5) * transform.e
    paths = {}
    for i, year in enumerate(NDVI_YEARS):
        yrng = np.random.default_rng(rng.integers(0, 2**63))
        field = smooth_field(yrng, shortest_m=3000, longest_m=20000, n_waves=12)
        shift = yrng.normal(0.0, 0.02)
        ids = ids1 if year == 2023 else ids0
        base = (base1 + offset1) if year == 2023 else (base0 + offset0)
        parcel_value = base + shift  # a new array: rows 0…n0-1 are the 2022 parcels in both years
        parcel_value[:n0][low[i]] = yrng.uniform(0.15, 0.28, int(low[i].sum()))
        valid = ids >= 0
        out = np.full(shape, NDVI_NODATA, dtype=np.float32)
        smooth = 0.03 * field(cols[None, :], rows_y[:, None])
        value = parcel_value[np.where(valid, ids, 0)] + smooth + yrng.normal(0.0, 0.03, shape)
        value = np.round(np.clip(value, -1.0, 1.0), 3)
        out[valid] = value[valid].astype(np.float32)
        path = out_dir / f"ndvi_{year}.tif"
        with rasterio.open(path, "w", **_profile(transform, shape, CRS, "float32", NDVI_NODATA)) as dst:
            dst.write(out, 1)
            dst.update_tags(SYNTHETIC=note, YEAR=str(year), PRODUCT="growing-season NDVI (synthetic)")
            dst.set_band_description(1, f"NDVI {year} growing season (synthetic)")
        paths[f"ndvi_{year}"] = path
    return paths, table
