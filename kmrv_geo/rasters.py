"""Rasters for the analyses: layouts, class maps, one aligned grid, block-wise reads, NDVI value checks.

Every raster input (land cover T0/T1, each NDVI year) is opened through :func:`raster_layout`, which
accepts any axis-aligned GDAL grid — any origin, north-up or south-up (positive y pixel size), either x
direction — and describes its cells as a north-up grid that is read with rows and columns put in
north-up order (:meth:`RasterLayout.read`): cell values are never resampled for that. Rotated or
sheared grids, and rasters georeferenced only by GCPs or RPCs, are refused with the ``gdalwarp``
command that fixes them.

A raster already in the analysis CRS is used on its own grid, whatever its origin (the land-cover grid
keeps its lattice, :func:`common_grid`); only a raster in another CRS is warped (nearest neighbour)
onto a grid in the analysis CRS.

Rasters can be far larger than memory (a 20000 × 20000 CLCD tile is 400 MB per band as bytes, more
as float). Nothing here reads a whole raster: grids are read one block (window) at a time, directly
or through a ``WarpedVRT``, and value checks read a decimated overview.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj
import rasterio
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning
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
        North-up: x pixel size ``transform.a`` > 0, y pixel size ``transform.e`` < 0, no rotation.
    width, height : int
    """

    crs: str
    transform: Affine
    width: int
    height: int

    @property
    def res(self) -> float:
        """Pixel width (m)."""
        return float(self.transform.a)

    @property
    def res_y(self) -> float:
        """Pixel height (m, positive)."""
        return float(-self.transform.e)

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


_SNAP = 1e-6
"""Pixel fractions closer than this to a whole pixel count as whole (float noise in origins and bounds)."""


def _floor(v: float) -> int:
    return math.floor(v + _SNAP)


def _ceil(v: float) -> int:
    return math.ceil(v - _SNAP)


def grid_over(bounds: tuple[float, float, float, float], crs: str, res: float | tuple[float, float], *,
              origin: tuple[float, float] = (0.0, 0.0)) -> Grid:
    """The grid of pixel size ``res`` on the lattice through ``origin`` that covers ``bounds``.

    Parameters
    ----------
    bounds : tuple of float
        (left, bottom, right, top) to cover.
    crs : str
    res : float or (float, float)
        Pixel size, or (width, height) of a pixel.
    origin : (float, float), default (0, 0)
        A pixel corner of the lattice: (0, 0) gives pixel edges at multiples of ``res``; a raster's
        own corner keeps its grid.
    """
    rx, ry = (float(res), float(res)) if np.isscalar(res) else (float(res[0]), float(res[1]))
    ox, oy = origin
    x0, y0, x1, y1 = bounds
    i0, i1 = _floor((x0 - ox) / rx), _ceil((x1 - ox) / rx)
    j0, j1 = _floor((y0 - oy) / ry), _ceil((y1 - oy) / ry)
    width, height = max(1, i1 - i0), max(1, j1 - j0)
    return Grid(crs, Affine(rx, 0.0, ox + i0 * rx, 0.0, -ry, oy + (j0 + height) * ry), width, height)


@dataclass(frozen=True)
class RasterLayout:
    """Where a raster file's cells lie, described as a north-up grid.

    GDAL allows a geotransform of either sign: a "south-up" raster (positive y pixel size; gdal_grid
    and some interpolation tools write them) stores its southern row first, a negative x pixel size
    stores the eastern column first. ``transform`` describes the same cells north-up, and
    :meth:`read` returns any window of them with the file's rows and columns put in north-up order:
    the same cell values, never resampled. Use :func:`raster_layout`.

    Attributes
    ----------
    path : Path
    crs : rasterio.crs.CRS or None
        The config's ``crs:`` if given, else the file's (None if it has none).
    transform : affine.Affine
        North-up transform of the cells (x size > 0, y size < 0).
    width, height : int
    flip_rows : bool
        The file stores the southern row first (south-up).
    flip_cols : bool
        The file stores the eastern column first.
    """

    path: Path
    crs: CRS | None
    transform: Affine
    width: int
    height: int
    flip_rows: bool = False
    flip_cols: bool = False

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top), left < right and bottom < top whatever the file's orientation."""
        t = self.transform
        return t.c, t.f + t.e * self.height, t.c + t.a * self.width, t.f

    @property
    def flipped(self) -> bool:
        """The file's rows or columns are not stored in north-up order."""
        return self.flip_rows or self.flip_cols

    @property
    def cell_area(self) -> float:
        """Area of one cell in the raster's CRS units."""
        return abs(self.transform.a * self.transform.e)

    def same_crs(self, crs) -> bool:
        """Whether the raster is in ``crs`` (any spelling of the same CRS)."""
        if self.crs is None or crs is None:
            return False
        return pyproj.CRS.from_user_input(self.crs.to_wkt()).equals(pyproj.CRS.from_user_input(crs),
                                                                    ignore_axis_order=True)

    def lattice_over(self, bounds: tuple[float, float, float, float], crs: str) -> Grid:
        """The grid of this raster's own cells (origin and pixel size) extended or cut to cover ``bounds``."""
        t = self.transform
        return grid_over(bounds, crs, (t.a, -t.e), origin=(t.c, t.f))

    def offset_in(self, grid: Grid) -> tuple[int, int] | None:
        """(column, row) of ``grid``'s first cell among this raster's cells, if it is a window of its lattice.

        None when the grid needs resampling: another CRS, pixel size or a lattice shifted by part of a pixel.
        """
        t, g = self.transform, grid.transform
        if g.b != 0 or g.d != 0 or not self.same_crs(grid.crs):
            return None
        if not (math.isclose(t.a, g.a, rel_tol=1e-9) and math.isclose(t.e, g.e, rel_tol=1e-9)):
            return None
        dc, dr = (g.c - t.c) / t.a, (g.f - t.f) / t.e
        if abs(dc - round(dc)) > _SNAP or abs(dr - round(dr)) > _SNAP:
            return None
        return round(dc), round(dr)

    def file_window(self, window: Window) -> Window:
        """The file's window holding the cells of a north-up ``window`` (inside the raster)."""
        col, row, w, h = int(window.col_off), int(window.row_off), int(window.width), int(window.height)
        if self.flip_cols:
            col = self.width - col - w
        if self.flip_rows:
            row = self.height - row - h
        return Window(col, row, w, h)

    def read(self, src, band: int, window: Window, *, masked: bool = False, fill=None) -> np.ndarray:
        """Cells of a north-up ``window`` of this raster, in north-up order.

        Parameters
        ----------
        src : rasterio dataset
            This raster, open.
        band : int
        window : Window
            In north-up cells; may reach outside the raster when ``fill`` is given.
        masked : bool, default False
            Return a masked array (nodata and the file's mask masked).
        fill : scalar, optional
            Value of cells outside the raster (then required for windows reaching outside).
        """
        col, row, w, h = int(window.col_off), int(window.row_off), int(window.width), int(window.height)
        c0, r0 = max(col, 0), max(row, 0)
        c1, r1 = min(col + w, self.width), min(row + h, self.height)
        inside = Window(c0, r0, max(c1 - c0, 0), max(r1 - r0, 0))
        if (c0, r0, c1, r1) == (col, row, col + w, row + h):
            return self._read_inside(src, band, inside, masked)
        if fill is None:
            raise ValueError(f"window {window} reaches outside the {self.width} × {self.height} raster "
                             f"{self.path}")
        dtype = np.dtype(src.dtypes[band - 1])
        out = np.full((h, w), fill, dtype=dtype)
        if masked:
            out = np.ma.masked_array(out, mask=np.ones((h, w), dtype=bool))
        if inside.width and inside.height:
            out[r0 - row:r1 - row, c0 - col:c1 - col] = self._read_inside(src, band, inside, masked)
        return out

    def _read_inside(self, src, band: int, window: Window, masked: bool) -> np.ndarray:
        data = src.read(band, window=self.file_window(window), masked=masked)
        if self.flip_rows:
            data = data[::-1]
        if self.flip_cols:
            data = data[:, ::-1]
        return data.copy() if self.flipped else data  # C-contiguous, as exactextract and GDAL want it

    def resolution_in(self, crs: str) -> float:
        """The pixel size once warped into ``crs`` (metres): the shorter edge of the centre pixel there."""
        t = self.transform
        if self.same_crs(crs):
            return float(min(t.a, -t.e))
        col, row = self.width // 2, self.height // 2
        xs = np.array([t.c + t.a * c for c in (col, col + 1, col)], dtype=float)
        ys = np.array([t.f + t.e * r for r in (row, row, row + 1)], dtype=float)
        x, y = Transformer.from_crs(self.crs, crs, always_xy=True).transform(xs, ys)
        res = float(min(math.hypot(x[1] - x[0], y[1] - y[0]), math.hypot(x[2] - x[0], y[2] - y[0])))
        # Reprojection gives e.g. 30.02 m for a 30 m Albers grid: keep the round size the data was made at.
        return float(round(res)) if res >= 1 and abs(res - round(res)) < 0.01 * res else res


def raster_layout(path: Path, *, crs_override: str | None = None, role: str = "raster") -> RasterLayout:
    """The layout of a raster file; refuses georeferencing that is not an axis-aligned grid.

    Parameters
    ----------
    path : Path
    crs_override : str, optional
        The raster's CRS when the file has none or a wrong one (config ``crs:``).
    role : str
        Named in errors (e.g. ``landcover_t0``, ``ndvi 2022``).

    Returns
    -------
    RasterLayout

    Raises
    ------
    LayerError
        If the grid is rotated or sheared, or the raster has no geotransform (none at all, or only
        GCPs or RPCs): each message names the file and the ``gdalwarp`` call that makes it a grid.
    """
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # refused below, with a better message
        with rasterio.open(path) as src:
            t = src.transform
            file_crs, width, height = src.crs, src.width, src.height
            has_gcps, has_rpcs = bool(src.gcps[0]), src.rpcs is not None
    crs = CRS.from_user_input(crs_override) if crs_override else file_crs
    target = crs.to_string() if crs else "EPSG:4543"
    warp = (f"gdalwarp -t_srs {target} -r near {path.name} {path.stem}_grid.tif (-r near for land-cover "
            f"classes, -r bilinear for NDVI) and point the config at {path.stem}_grid.tif")
    if t.b != 0 or t.d != 0:
        raise LayerError(
            f"{role} raster {path} has a rotated (or sheared) grid: its geotransform is "
            f"({t.c:g}, {t.a:g}, {t.b:g}, {t.f:g}, {t.d:g}, {t.e:g}), and kmrv reads only grids whose rows "
            f"run east-west (rotation terms 0). Warp it onto a north-up grid first: {warp}"
        )
    if t == Affine.identity() or t.a == 0 or t.e == 0:
        how = ("is georeferenced by ground control points (GCPs) only" if has_gcps
               else "is georeferenced by RPCs only" if has_rpcs
               else "has no geotransform (no georeferencing)")
        raise LayerError(
            f"{role} raster {path} {how}: kmrv needs a grid (a geotransform) to place its pixels. "
            + (f"Warp it onto a grid first: {warp}" if has_gcps or has_rpcs
               else "Export it again with its georeferencing, or set it with gdal_edit.py -a_ullr "
                    "<left> <top> <right> <bottom> -a_srs EPSG:4543 " + path.name)
        )
    flip_cols, flip_rows = t.a < 0, t.e > 0
    left = t.c + t.a * width if flip_cols else t.c
    top = t.f + t.e * height if flip_rows else t.f
    north_up = Affine(abs(t.a), 0.0, left, 0.0, -abs(t.e), top)
    return RasterLayout(path, crs, north_up, width, height, flip_rows=flip_rows, flip_cols=flip_cols)


def native_resolution_m(path: Path, crs: str, *, crs_override: str | None = None) -> float:
    """A raster's pixel size once warped into ``crs`` (metres): the shorter edge of its centre pixel there."""
    return raster_layout(path, crs_override=crs_override).resolution_in(crs)


def common_grid(layouts: Sequence[RasterLayout], bounds: tuple[float, float, float, float], crs: str) -> Grid:
    """The one grid in ``crs`` over ``bounds`` that several rasters are read on together.

    The finest raster sets the pixel size. If a raster of that size is already in ``crs``, the grid
    is its own lattice (origin and pixel size), so it is read cell for cell whatever its origin
    (the first such raster given wins). Otherwise the pixel edges are multiples of the pixel size
    and every raster is warped onto it.
    """
    sizes = [layout.resolution_in(crs) for layout in layouts]
    finest = min(sizes)
    for layout, size in zip(layouts, sizes, strict=True):
        if size <= finest * (1 + 1e-9) and layout.same_crs(crs):
            return layout.lattice_over(bounds, crs)
    return grid_over(bounds, crs, finest)


class ClassReader:
    """A class raster read on a :class:`Grid`, as class indices per block.

    Use :func:`open_classes`. Class indices: 0 = no class (nodata, outside the raster, or a value the
    class map does not know, counted in :attr:`unknown_values`), 1… = ``names[i - 1]``.

    Attributes
    ----------
    names : list of str
    path : Path
    layout : RasterLayout
    resampled : bool
        False when the grid is a window of the raster's own cells (read as they are), True when the
        raster is warped onto it (another CRS, pixel size or lattice; nearest neighbour).
    unknown_values : dict of int to int
        Pixel values the class map does not know → pixel count.
    """

    def __init__(self, read_raw, lookup: np.ndarray, names: list[str], path: Path, *, layout: RasterLayout,
                 resampled: bool):
        self._read_raw = read_raw
        self._lookup = lookup
        self.names = names
        self.path = path
        self.layout = layout
        self.resampled = resampled
        self.unknown_values: dict[int, int] = {}

    def read(self, window: Window) -> np.ndarray:
        """Class indices (uint8) of one window of the grid."""
        raw, inside = self._read_raw(window)
        if raw.dtype in (np.uint8, np.uint16):
            index = self._lookup[raw]  # the table spans every value of the dtype: no conversion, no copy of raw
            index[~inside] = NODATA_CLASS
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
    """Open a class raster on ``grid``, read block by block.

    A grid that is a window of the raster's own cells (same CRS, pixel size and lattice, any origin,
    north-up or south-up) is read cell for cell; any other is warped onto it with nearest-neighbour
    resampling (``WarpedVRT``).

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
        If the raster does not hold integers, or its georeferencing is not an axis-aligned grid
        (:func:`raster_layout`).
    """
    layout = raster_layout(path, crs_override=crs_override, role=role)
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
        offset = layout.offset_in(grid)
        if offset is not None:
            dc, dr = offset
            limits = np.iinfo(dtype)
            fill = nodata if limits.min <= nodata <= limits.max else 0

            def read_own(window: Window) -> tuple[np.ndarray, np.ndarray]:
                col, row = int(window.col_off) + dc, int(window.row_off) + dr
                w, h = int(window.width), int(window.height)
                raw = layout.read(src, 1, Window(col, row, w, h), fill=fill)
                on = np.zeros((h, w), dtype=bool)  # cells on the raster
                rows = slice(max(0, -row), max(0, min(h, layout.height - row)))
                on[rows, max(0, -col):max(0, min(w, layout.width - col))] = True
                return raw, on & (raw != nodata)

            yield ClassReader(read_own, lookup, names, path, layout=layout, resampled=False)
            return
        with WarpedVRT(src, src_crs=layout.crs, crs=grid.crs, transform=grid.transform, width=grid.width,
                       height=grid.height, resampling=Resampling.nearest, src_nodata=nodata,
                       nodata=nodata) as vrt:

            def read_warped(window: Window) -> tuple[np.ndarray, np.ndarray]:
                raw = vrt.read(1, window=window)
                return raw, raw != vrt.nodata

            yield ClassReader(read_warped, lookup, names, path, layout=layout, resampled=True)


def bounded_cache() -> rasterio.Env:
    """A rasterio environment whose GDAL block cache is at most :data:`GDAL_CACHE_MB`.

    rasterio hands an integer ``GDAL_CACHEMAX`` to GDAL as bytes: the value given to it before this round
    (512) was a 512-byte cache, with which GDAL rasterised 76,725 parcels in 34 s instead of 1 s (the land-cover
    step at 200k parcels took 78 s).
    """
    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB * 1024 * 1024)


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
