"""Rasters for the analyses: class maps, one aligned grid, block-wise reads, NDVI value checks.

Rasters can be far larger than memory (a 20000 × 20000 CLCD tile is 400 MB per band as bytes, more
as float). Nothing here reads a whole raster: the aligned grid is read through a ``WarpedVRT`` one
block (window) at a time, and value checks read a decimated overview.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from .errors import LayerError

CLCD_CLASSES = {1: "cropland", 2: "forest", 3: "shrub", 4: "grassland", 5: "water", 6: "snow/ice", 7: "barren",
                8: "impervious", 9: "wetland"}
"""CLCD (China Land Cover Dataset, 30 m, annual) pixel values → class names."""
CLASS_NAMES_ZH = {"cropland": "耕地", "forest": "林地", "shrub": "灌木", "grassland": "草地", "water": "水体",
                  "snow/ice": "冰雪", "barren": "裸地", "impervious": "不透水面", "wetland": "湿地"}
BLOCK = 2048
"""Rows and columns of one block read at a time (4 M pixels: 4 MB per uint8 array)."""
GDAL_CACHE_MB = 512
"""GDAL's block cache while kmrv reads rasters (GDAL's default is 5 % of RAM: 1.2 GB on a 24 GB machine)."""
MAX_CELLS_IN_MEMORY = 4_000_000
"""Raster cells exactextract may hold at once per feature (its default, 30 M, costs about a GB)."""
NODATA_CLASS = 0
"""Class index of "no class" (nodata, or a pixel value the class map does not know)."""


def class_map(classes: str | dict[int, str]) -> dict[int, str]:
    """Pixel value → class name for a config ``classes:`` entry (``clcd`` or a mapping)."""
    return dict(CLCD_CLASSES) if classes == "clcd" else {int(k): str(v) for k, v in classes.items()}


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid in a projected CRS.

    Attributes
    ----------
    crs : str
    transform : affine.Affine
    width, height : int
    """

    crs: str
    transform: Affine
    width: int
    height: int

    @property
    def res(self) -> float:
        """Pixel size (m)."""
        return float(self.transform.a)

    def windows(self, block: int = BLOCK) -> Iterator[Window]:
        """Windows of at most ``block`` × ``block`` pixels covering the grid, row by row."""
        for row in range(0, self.height, block):
            for col in range(0, self.width, block):
                yield Window(col, row, min(block, self.width - col), min(block, self.height - row))

    def window_transform(self, window: Window) -> Affine:
        """The affine transform of one window (computed here: the grid is north-up)."""
        t = self.transform
        return Affine(t.a, 0.0, t.c + t.a * window.col_off, 0.0, t.e, t.f + t.e * window.row_off)

    def window_bounds(self, window: Window) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) of one window."""
        t = self.window_transform(window)
        return t.c, t.f + t.e * window.height, t.c + t.a * window.width, t.f


def native_resolution_m(path: Path, crs: str, *, crs_override: str | None = None) -> float:
    """A raster's pixel size once warped into ``crs`` (metres): the shorter edge of its centre pixel there."""
    with rasterio.open(path) as src:
        src_crs = CRS.from_user_input(crs_override) if crs_override else src.crs
        t = src.transform
        col, row = src.width // 2, src.height // 2
        corners = [(col + dc, row + dr) for dc, dr in ((0, 0), (1, 0), (0, 1))]
        xs = [t.c + t.a * c + t.b * r for c, r in corners]
        ys = [t.f + t.d * c + t.e * r for c, r in corners]
    to_target = Transformer.from_crs(src_crs, crs, always_xy=True)
    x, y = to_target.transform(np.array(xs, dtype=float), np.array(ys, dtype=float))
    res = float(min(math.hypot(x[1] - x[0], y[1] - y[0]), math.hypot(x[2] - x[0], y[2] - y[0])))
    # Reprojection gives e.g. 30.02 m for a 30 m Albers grid: keep the round size the data was made at.
    return float(round(res)) if res >= 1 and abs(res - round(res)) < 0.01 * res else res


def grid_over(bounds: tuple[float, float, float, float], crs: str, res: float) -> Grid:
    """The grid of pixel size ``res`` whose pixel edges are multiples of ``res`` and that covers ``bounds``."""
    x0, y0, x1, y1 = bounds
    x0, y0 = math.floor(x0 / res) * res, math.floor(y0 / res) * res
    x1, y1 = math.ceil(x1 / res) * res, math.ceil(y1 / res) * res
    width, height = max(1, round((x1 - x0) / res)), max(1, round((y1 - y0) / res))
    return Grid(crs, Affine(res, 0.0, x0, 0.0, -res, y1), width, height)


class ClassReader:
    """A class raster read on a :class:`Grid` (nearest resampling), as class indices per block.

    Use :func:`open_classes`. Class indices: 0 = no class (nodata, outside the raster, or a value the
    class map does not know, counted in :attr:`unknown_values`), 1… = ``names[i - 1]``.
    """

    def __init__(self, vrt: WarpedVRT, lookup: np.ndarray, names: list[str], path: Path):
        self._vrt = vrt
        self._lookup = lookup
        self.names = names
        self.path = path
        self.unknown_values: dict[int, int] = {}

    def read(self, window: Window) -> np.ndarray:
        """Class indices (uint8) of one window of the grid."""
        raw = self._vrt.read(1, window=window)
        inside = raw != self._vrt.nodata
        if raw.dtype in (np.uint8, np.uint16):
            index = self._lookup[raw]  # the table spans every value of the dtype: no conversion, no copy of raw
        else:
            known = inside & (raw >= 0) & (raw < self._lookup.size)
            index = np.zeros(raw.shape, dtype=np.uint8)
            index[known] = self._lookup[raw[known]]
        strange = inside & (index == NODATA_CLASS)
        if strange.any():
            found, counts = np.unique(raw[strange], return_counts=True)
            for value, count in zip(found.tolist(), counts.tolist(), strict=True):
                self.unknown_values[value] = self.unknown_values.get(value, 0) + count
        return index


@contextmanager
def open_classes(path: Path, grid: Grid, classes: dict[int, str], *, names: list[str],
                 crs_override: str | None = None, role: str = "land cover") -> Iterator[ClassReader]:
    """Open a class raster warped onto ``grid`` (nearest neighbour), read block by block.

    Parameters
    ----------
    path : Path
    grid : Grid
    classes : dict
        Pixel value → class name.
    names : list of str
        Class names in index order (index = position + 1); every name in ``classes`` must be in it.
    crs_override : str, optional
        The raster's CRS when the file has none.
    role : str
        Named in errors.

    Raises
    ------
    LayerError
        If the raster does not hold integers, or no class value is small enough to be a pixel value.
    """
    with rasterio.open(path) as src:
        if not np.issubdtype(np.dtype(src.dtypes[0]), np.integer):
            raise LayerError(
                f"{role} raster {path} holds {src.dtypes[0]} values, but land-cover classes must be integers "
                f"(e.g. CLCD 1 cropland … 9 wetland); give a classified raster, not a continuous one"
            )
        nodata = src.nodata
        if nodata is None:
            nodata = next(v for v in (0, 255, 65535, -1) if v not in classes)
        dtype = np.dtype(src.dtypes[0])
        size = 1 << (8 * dtype.itemsize) if dtype in (np.uint8, np.uint16) else max(max(classes) + 1, 1)
        lookup = np.zeros(size, dtype=np.uint8)
        for value, name in classes.items():
            if 0 <= value < size and value != nodata:
                lookup[value] = names.index(name) + 1
        src_crs = CRS.from_user_input(crs_override) if crs_override else src.crs
        with WarpedVRT(src, src_crs=src_crs, crs=grid.crs, transform=grid.transform, width=grid.width,
                       height=grid.height, resampling=Resampling.nearest, src_nodata=nodata, nodata=nodata) as vrt:
            yield ClassReader(vrt, lookup, names, path)


def bounded_cache() -> rasterio.Env:
    """A rasterio environment whose GDAL block cache is at most :data:`GDAL_CACHE_MB`."""
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB)


def decimated(path: Path, band: int = 1, *, max_pixels: int = 1 << 20) -> np.ma.MaskedArray:
    """A band read at reduced resolution (at most ``max_pixels``), masked where nodata: for value checks."""
    with rasterio.open(path) as src:
        step = max(1, math.ceil(math.sqrt(src.width * src.height / max_pixels)))
        shape = (max(1, src.height // step), max(1, src.width // step))
        data = src.read(band, out_shape=shape, masked=True, resampling=Resampling.nearest)
    data = np.ma.masked_invalid(data.astype("float64"))
    return data


def check_ndvi_values(path: Path, band: int, *, scale: float | None, year: int) -> None:
    """Refuse NDVI values outside −1…1 after ``scale``, saying which scaling the values look like.

    Raises
    ------
    LayerError
        If the raster holds no valid value, or its values are outside −1…1 (e.g. 0–10000 scaling
        without ``scale: 0.0001``).
    """
    data = decimated(path, band)
    if data.count() == 0:
        raise LayerError(f"NDVI {year} ({path}, band {band}) holds no valid pixel (all nodata); check the file and "
                         "its nodata value")
    values = data.compressed() * (scale if scale is not None else 1.0)
    low, high = float(values.min()), float(values.max())
    if low >= -1.0001 and high <= 1.0001:
        return
    hint = ""
    if scale is None and high <= 10000 and low >= -10000 and high > 100:
        hint = "; the values look like NDVI × 10000 (e.g. MODIS MOD13): add 'scale: 0.0001' to the ndvi layer"
    elif scale is None and 0 <= low and high <= 255:
        hint = "; the values look like a byte scaling: add the 'scale:' that turns them into −1…1"
    raise LayerError(
        f"NDVI {year} ({path}, band {band}) has values {low:g}…{high:g}"
        + (f" after scale {scale:g}" if scale is not None else "")
        + f", but NDVI lies in −1…1{hint}"
    )
