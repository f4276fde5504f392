"""The raster edge: per-parcel values extracted from checked rasters, handed to the pure analyses as arrays.

Analyses open no file. This module reads rasters (block by block, through
:func:`kmrv_geo.rasters.raster_layout`, so any axis-aligned grid works) and returns arrays in parcel order.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.features
import shapely

from . import landuse
from .analysis.changes import NONAGRI, NONGRAIN, OTHER
from .analysis.landcover import CHANGE_CLASS_OF, CROPLAND, JOINT_NODATA, NAMES, landcover_pieces
from .errors import LayerError
from .parallel import forked_map
from .rasters import Grid, bounded_cache, common_grid, open_classes, raster_layout
from .units import M2_PER_MU, AreaMeasure, planar_measure
from .zonal import exact_stats

PARALLEL_MIN_PARCELS = 20_000
"""Parcels from which the years' NDVI statistics run in worker processes (fewer: here, one year after another)."""

logger = logging.getLogger(__name__)


@dataclass
class NdviSource:
    """Where one year's NDVI is: file, band, scale and CRS override."""

    year: int
    path: Path
    band: int = 1
    scale: float | None = None
    crs_override: str | None = None


@dataclass
class ParcelNdvi:
    """NDVI per parcel and year, as the abandonment analysis takes it.

    Attributes
    ----------
    years : list of int
        Ascending.
    values : numpy.ndarray
        Shape (parcels, years): the coverage-weighted median NDVI (NaN: no valid pixel).
    valid : numpy.ndarray
        Shape (parcels, years): the share of each parcel with valid pixels (0–1).
    """

    years: list[int]
    values: np.ndarray
    valid: np.ndarray


def parcel_means(parcels: gpd.GeoDataFrame, source: NdviSource, *,
                 stat: str = "median") -> tuple[np.ndarray, np.ndarray]:
    """Coverage-weighted median (or ``stat``) NDVI of each parcel for one year, and the share of it with valid pixels.

    Parameters
    ----------
    parcels : GeoDataFrame
        Polygons in a projected CRS.
    source : NdviSource
    stat : {"median", "mean"}
        The exactextract statistic (coverage-weighted).

    Returns
    -------
    value, valid_share : numpy.ndarray
        ``value`` is NaN where the parcel has no valid pixel; both in parcel order.

    Raises
    ------
    LayerError
        If the raster is rotated, has no geotransform or no CRS.
    """
    role = f"NDVI {source.year}"
    layout = raster_layout(source.path, crs_override=source.crs_override, role=role)
    if layout.crs is None:
        raise LayerError(f"{role} raster {source.path} has no CRS; set it in the config "
                         "(ndvi: crs: EPSG:4543) or write it into the file (gdal_edit.py -a_srs)")
    # The raster is used as it is, on its own grid (any origin, north-up or south-up): parcels in another
    # CRS are brought into the raster's, so its cell values are never resampled.
    on_raster = parcels if layout.same_crs(parcels.crs) else parcels.to_crs(layout.crs)
    stats = exact_stats(source.path, on_raster, [stat, "count"], band=source.band, role=role)
    count = stats["count"].to_numpy(dtype=float)
    value = np.where(count > 0, stats[stat].to_numpy(dtype=float), np.nan)
    return value * (source.scale if source.scale is not None else 1.0), stats["valid_share"].to_numpy()


def parcel_ndvi(parcels: gpd.GeoDataFrame, sources: list[NdviSource]) -> ParcelNdvi:
    """NDVI of every parcel in every year of ``sources`` (one :func:`parcel_means` per year).

    Parameters
    ----------
    parcels : GeoDataFrame
        Farmland parcels (projected CRS).
    sources : list of NdviSource
        One per year, ascending.

    Returns
    -------
    ParcelNdvi

    Raises
    ------
    LayerError
        If a year's NDVI has no valid pixel on any parcel (it does not cover the farmland).
    """
    n = len(parcels)
    values = np.full((n, len(sources)), np.nan)
    valid = np.zeros((n, len(sources)))
    # one year per worker process (exactextract calls back into Python for every parcel: threads would queue)
    yearly = forked_map(lambda source: parcel_means(parcels, source), [(source,) for source in sources],
                        workers=None if n >= PARALLEL_MIN_PARCELS else 1)
    for j, (source, (value, share)) in enumerate(zip(sources, yearly, strict=True)):
        logger.info("NDVI %d: %s", source.year, source.path)
        values[:, j], valid[:, j] = value, share
        if n and not (valid[:, j] > 0).any():
            raise LayerError(
                f"NDVI {source.year} ({source.path}, band {source.band}) has no valid pixel on any of the {n} "
                "farmland parcels: it does not cover them (check its extent and CRS, or set crs: on the ndvi "
                "layer if the file's CRS is wrong)"
            )
    return ParcelNdvi(years=[s.year for s in sources], values=values, valid=valid)


# -- land cover: the rasters read block by block into changed-pixel polygons and per-parcel shares ------------

@dataclass
class ClassRaster:
    """One land-cover raster of the analysis: file, class map, CRS override."""

    path: Path
    classes: dict[int, str]
    crs_override: str | None = None


@dataclass
class LandcoverResult:
    """What the land-cover change detection found.

    Attributes
    ----------
    pieces : GeoDataFrame
        Change pieces (:data:`~kmrv_geo.analysis.changes.PIECE_COLUMNS`) cut to T0 land-use parcels
        (losses on farmland, ``supplement`` off it), ``basis = "land_cover"``, ``t1_code`` the T1 class name.
    parcels : DataFrame
        One row per T0 farmland parcel: ``parcel_id``, ``t0_code``, ``area_mu``, ``valid_share``
        (share of the parcel with valid pixels in both years), ``changed_share``, ``to_nonagri_share``,
        ``to_nongrain_share``, ``to_other_share`` (shares of the valid part), ``no_valid_pixels``.
    grid : Grid
    warnings : list of str
    """

    pieces: gpd.GeoDataFrame
    parcels: pd.DataFrame
    grid: Grid
    warnings: list[str] = field(default_factory=list)


def _joint_block(i0: np.ndarray, i1: np.ndarray) -> np.ndarray:
    joint = (i0.astype(np.uint16) * 16 + i1).astype(np.uint8)
    joint[(i0 == 0) | (i1 == 0)] = JOINT_NODATA
    return joint


def _changed_labels(joint: np.ndarray, farmland_touched: np.ndarray, farmland_centred: np.ndarray,
                    min_pixels: int) -> tuple[np.ndarray, np.ndarray]:
    """Changed pixels of one block, noise sieved away.

    Returns
    -------
    loss : numpy.ndarray
        T1 class index where cropland turned into something else, on pixels touching T0 farmland.
    gain : numpy.ndarray
        1 where another class turned into cropland, on pixels whose centre is off T0 farmland.
    """
    t0, t1 = joint // 16, joint % 16
    valid = joint != JOINT_NODATA
    lost = valid & (t0 == CROPLAND) & (t1 != CROPLAND) & farmland_touched
    gained = valid & (t0 != CROPLAND) & (t1 == CROPLAND) & ~farmland_centred
    out = []
    for mask in (lost, gained):
        if min_pixels > 1 and mask.any():
            # Sieve the change mask (not the classes) so a cluster mixing two T1 classes counts as one.
            mask = mask & (rasterio.features.sieve(mask.astype(np.uint8), size=min_pixels, connectivity=8) > 0)
        out.append(mask)
    loss = np.where(out[0], t1, 0).astype(np.uint8)
    return loss, out[1].astype(np.uint8)


def detect_landcover_change(landuse_t0: gpd.GeoDataFrame, t0: ClassRaster, t1: ClassRaster, *, analysis_crs: str,
                            min_pixels: int = 3, id_column: str | None = None,
                            workdir: Path | None = None, measure: AreaMeasure | None = None) -> LandcoverResult:
    """Find cropland loss on T0 farmland and cropland gain off it between two land-cover rasters.

    Parameters
    ----------
    landuse_t0 : GeoDataFrame
        Checked T0 land use in ``analysis_crs`` with columns ``code`` and ``category``.
    t0, t1 : ClassRaster
        The two land-cover rasters.
    analysis_crs : str
        Projected CRS of the grid (the project's analysis CRS).
    min_pixels : int, default 3
        Changed clusters smaller than this (pixels, 8-connected) are noise.
    id_column : str, optional
        Column of ``landuse_t0`` holding the parcel id (default: row position + 1).
    workdir : Path, optional
        Where the temporary joint-class raster goes (default: the system temp folder); it is deleted.
    measure : AreaMeasure, optional
        The area kind of the parcels' ``area_mu`` (default planar).

    Returns
    -------
    LandcoverResult

    Raises
    ------
    LayerError
        If a raster does not hold integer classes, its grid is rotated or it has no geotransform, or
        neither raster has a valid pixel on the farmland.
    """
    for raster in (t0, t1):
        unknown = sorted({n for n in raster.classes.values() if n not in NAMES})
        if unknown:
            raise LayerError(f"land cover {raster.path}: unknown class names {unknown}; use {', '.join(NAMES)}")
    is_farm = (landuse_t0["category"] == landuse.FARMLAND).to_numpy()
    farmland = landuse_t0[is_farm]
    if farmland.empty:
        raise LayerError("landuse_t0 holds no farmland: there is nothing for land-cover change to be checked on")
    layouts = [raster_layout(r.path, crs_override=r.crs_override, role=role)
               for r, role in ((t0, "landcover_t0"), (t1, "landcover_t1"))]
    geoms = np.asarray(landuse_t0.geometry.values, dtype=object)
    farm_geoms = geoms[is_farm]
    grid = common_grid(layouts, tuple(landuse_t0.total_bounds), analysis_crs)
    logger.info("land cover grid %d × %d pixels of %g × %g m in %s, origin (%.3f, %.3f)", grid.width,
                grid.height, grid.res, grid.res_y, analysis_crs, grid.transform.c, grid.transform.f)
    tree = shapely.STRtree(farm_geoms)
    polygons, classes = [], []
    with bounded_cache(), tempfile.TemporaryDirectory(dir=workdir, prefix="kmrv-landcover-") as tmp:
        joint_path = Path(tmp) / "joint.tif"
        profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1, "dtype": "uint8",
                   "crs": grid.crs, "transform": grid.transform, "nodata": JOINT_NODATA, "tiled": True,
                   "blockxsize": 256, "blockysize": 256, "compress": "deflate", "BIGTIFF": "IF_SAFER"}
        with open_classes(t0.path, grid, t0.classes, names=NAMES, crs_override=t0.crs_override,
                          role="landcover_t0") as r0, \
             open_classes(t1.path, grid, t1.classes, names=NAMES, crs_override=t1.crs_override,
                          role="landcover_t1") as r1, \
             rasterio.open(joint_path, "w", **profile) as out:  # fmt: skip
            for window in grid.windows():
                transform = grid.window_transform(window)
                joint = _joint_block(r0.read(window), r1.read(window))
                out.write(joint, 1, window=window)
                if not joint.any():
                    continue
                box = shapely.box(*grid.window_bounds(window))
                near = farm_geoms[tree.query(box, predicate="intersects")]
                burn = {"out_shape": joint.shape, "transform": transform, "dtype": "uint8"}
                touched = centred = np.zeros(joint.shape, dtype=bool)
                if near.size:  # GeoJSON-like shapes made once for both burns (rasterio would make them twice)
                    shapes = [(g.__geo_interface__, 1) for g in near]
                    touched = rasterio.features.rasterize(shapes, all_touched=True, **burn) > 0
                    centred = rasterio.features.rasterize(shapes, all_touched=False, **burn) > 0
                loss, gain = _changed_labels(joint, touched, centred, min_pixels)
                for labels, name_of in ((loss, lambda v: NAMES[int(v) - 1]), (gain, lambda _v: "cropland")):
                    if labels.any():
                        for geom, value in rasterio.features.shapes(labels, mask=labels > 0, transform=transform,
                                                                    connectivity=4):
                            polygons.append(shapely.geometry.shape(geom))
                            classes.append(name_of(value))
            unknown = {"landcover_t0": r0.unknown_values, "landcover_t1": r1.unknown_values}
            for role, reader in (("landcover_t0", r0), ("landcover_t1", r1)):
                logger.info("%s %s: %s", role, reader.path, "warped onto the grid (nearest neighbour)"
                            if reader.resampled else "read on its own grid, cell for cell")
        parcels = _parcel_shares(farmland, joint_path, id_column, measure or planar_measure(analysis_crs))
    warnings = [
        f"{role} 有 {sum(values.values())} 个像元的值不在类别表中"
        f"（{', '.join(f'{v}×{c}' for v, c in sorted(values.items())[:5])}），"
        f"按无数据处理 / {role}: pixel values not in the class map, treated as nodata"
        for role, values in unknown.items() if values
    ]  # fmt: skip
    if parcels["no_valid_pixels"].all():
        raise LayerError(
            f"the land-cover rasters {t0.path} and {t1.path} have no valid pixel in both years on any of the "
            f"{len(farmland)} T0 farmland parcels; check that they cover the farmland (CRS, extent) and their nodata"
        )
    missing = int(parcels["no_valid_pixels"].sum())
    if missing:
        warnings.append(f"{missing} 个耕地图斑没有两期都有效的像元，未能判断变化（见 landcover_parcels 表）/ "
                        f"{missing} farmland parcels have no valid pixels in both years")
    pieces = landcover_pieces(landuse_t0, is_farm, polygons, classes)
    return LandcoverResult(pieces=pieces, parcels=parcels, grid=grid, warnings=warnings)


def _parcel_shares(farmland: gpd.GeoDataFrame, joint_path: Path, id_column: str | None,
                   measure: AreaMeasure) -> pd.DataFrame:
    """Exact-coverage shares of each parcel by joint class (exactextract ``frac``/``unique``/``count``)."""
    ids = farmland[id_column].to_numpy() if id_column and id_column in farmland else np.arange(1, len(farmland) + 1)
    area = measure.m2(np.asarray(farmland.geometry.values, dtype=object))
    stats = exact_stats(joint_path, farmland, ["unique", "frac", "count"])
    stats["_row"] = np.arange(len(farmland))
    shares = {k: np.zeros(len(farmland)) for k in ("changed", NONAGRI, NONGRAIN, OTHER)}
    for row, values, fracs in zip(stats["_row"], stats["unique"], stats["frac"], strict=True):
        if not isinstance(values, list | np.ndarray):  # off the raster: no pixel at all
            continue
        for value, frac in zip(np.asarray(values, dtype=int), np.asarray(fracs, dtype=float), strict=True):
            c0, c1 = NAMES[value // 16 - 1], NAMES[value % 16 - 1]
            if c0 != c1:
                shares["changed"][row] += frac
            if c0 == "cropland" and c1 != "cropland":
                shares[CHANGE_CLASS_OF[c1]][row] += frac
    valid_share = stats["valid_share"].to_numpy()
    no_valid = stats["count"].to_numpy(dtype=float) <= 0
    return pd.DataFrame({
        "parcel_id": ids,
        "t0_code": farmland["code"].to_numpy(),
        "area_mu": area / M2_PER_MU,
        "valid_share": valid_share,
        "changed_share": np.where(no_valid, np.nan, shares["changed"]),
        "to_nonagri_share": np.where(no_valid, np.nan, shares[NONAGRI]),
        "to_nongrain_share": np.where(no_valid, np.nan, shares[NONGRAIN]),
        "to_other_share": np.where(no_valid, np.nan, shares[OTHER]),
        "no_valid_pixels": no_valid,
    })  # fmt: skip
