"""Land-cover change from two class rasters, inside T0 farmland (vector).

Both rasters (any CRS, resolution, extent and origin, north-up or south-up; CLCD ships in Albers) are
read on one grid in the analysis CRS over the T0 land use's extent, block by block, at the finer of
their resolutions (:func:`kmrv_geo.rasters.common_grid`): when the finer raster is already in the
analysis CRS the grid is its own lattice, whatever its origin, and its cells are used as they are;
otherwise the pixel edges are multiples of the pixel size. A raster not on the grid is warped onto it
(nearest neighbour). Cropland at T0 that is another class at T1 (on T0 farmland), and another class
at T0 that is cropland at T1 (off T0 farmland: new farmland), become change pieces: clusters of
changed pixels smaller than ``min_pixels`` are sieved away as classification noise, the rest is
polygonised (``rasterio.features.shapes``) and cut exactly to the T0 land-use parcels, so each piece
carries its parcel's land-use code. The pieces then take the same path as vector change pieces
(:func:`kmrv_geo.analysis.violations.patches_from_pieces`): verdicts, location, balances, report.

Per-parcel shares use exact coverage fractions (exactextract), not pixel centres, so parcels smaller
than a pixel still get their share.

Class → change class: ``impervious`` → ``nonagri``; ``forest``, ``shrub``, ``grassland``, ``water``,
``wetland`` → ``nongrain``; ``barren``, ``snow/ice`` → ``other``. A 30 m classification cannot tell a
fish pond from a river or a greenhouse from a building: raster patches are screening results for
field checks, and say so (``basis = land_cover``).
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

from .. import landuse
from ..config import LANDCOVER_CLASS_NAMES
from ..errors import LayerError
from ..overlay import intersect_pairs
from ..rasters import CLASS_NAMES_ZH, Grid, bounded_cache, common_grid, open_classes, raster_layout
from ..ridges import RIDGE_SHARE
from ..units import M2_PER_MU, AreaMeasure, planar_measure
from ..zonal import exact_stats
from .changes import NONAGRI, NONGRAIN, OTHER, PIECE_COLUMNS, SUPPLEMENT

logger = logging.getLogger(__name__)

CHANGE_CLASS_OF = {"impervious": NONAGRI, "forest": NONGRAIN, "shrub": NONGRAIN, "grassland": NONGRAIN,
                   "water": NONGRAIN, "wetland": NONGRAIN, "barren": OTHER, "snow/ice": OTHER}
"""What a pixel that was cropland at T0 has become, by its T1 class."""
T1_CATEGORY_OF = {NONAGRI: landuse.CONSTRUCTION, NONGRAIN: landuse.OTHER_AGRICULTURAL, OTHER: landuse.OTHER}
NAMES = list(LANDCOVER_CLASS_NAMES)
"""Class names in index order: the joint code of a pixel is ``16 × index(T0) + index(T1)``."""
CROPLAND = NAMES.index("cropland") + 1
JOINT_NODATA = 0


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
                if near.size:
                    touched = rasterio.features.rasterize(((g, 1) for g in near), all_touched=True, **burn) > 0
                    centred = rasterio.features.rasterize(((g, 1) for g in near), all_touched=False, **burn) > 0
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
        f"{role} 有 {sum(values.values())} 个像元的值不在类别表中（{', '.join(f'{v}×{c}' for v, c in sorted(values.items())[:5])}），"
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
    pieces = _pieces(landuse_t0, is_farm, polygons, classes)
    return LandcoverResult(pieces=pieces, parcels=parcels, grid=grid, warnings=warnings)


def _pieces(landuse_t0: gpd.GeoDataFrame, is_farm: np.ndarray, polygons: list, classes: list[str]) -> gpd.GeoDataFrame:
    """Changed-pixel polygons cut to T0 parcels: losses to farmland parcels, gains to the other parcels."""
    columns = PIECE_COLUMNS + ["geometry"]
    if not polygons:
        return gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=landuse_t0.crs)
    shapes_ = np.asarray(polygons, dtype=object)
    names = np.asarray(classes, dtype=object)
    gain = names == "cropland"
    frames = []
    for wanted, on_farm in ((~gain, True), (gain, False)):
        rows = np.flatnonzero(is_farm == on_farm)
        if not wanted.any() or rows.size == 0:
            continue
        sub_names = names[wanted]
        pi, fi, geoms = intersect_pairs(shapes_[wanted], np.asarray(landuse_t0.geometry.values, dtype=object)[rows])
        fi = rows[fi]
        if on_farm:
            change = pd.Series(sub_names[pi]).map(CHANGE_CLASS_OF).to_numpy()
            t1_category = pd.Series(change).map(T1_CATEGORY_OF).to_numpy()
        else:
            change = np.full(pi.size, SUPPLEMENT, dtype=object)
            t1_category = np.full(pi.size, landuse.FARMLAND, dtype=object)
        frames.append(gpd.GeoDataFrame({
            "t0_pos": fi,
            "t1_pos": -1,
            "t0_code": landuse_t0["code"].to_numpy()[fi],
            "t1_code": sub_names[pi],
            "t0_category": landuse_t0["category"].to_numpy()[fi],
            "t1_category": t1_category,
            "change_class": change,
            "basis": "land_cover",
            # losses inherit the T0 parcel's 田坎 share; a gain's future parcel is unknown (no share)
            "ridge_share": (landuse_t0[RIDGE_SHARE].to_numpy(dtype=float)[fi] if on_farm and RIDGE_SHARE in landuse_t0
                            else np.nan),
            "area_m2": shapely.area(geoms),
        }, geometry=geoms, crs=landuse_t0.crs))  # fmt: skip
    if not frames:
        return gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=landuse_t0.crs)
    return pd.concat(frames, ignore_index=True)[columns]


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


def class_name_zh(name: str) -> str:
    """Chinese name of a land-cover class, marked as from remote sensing."""
    return f"{CLASS_NAMES_ZH.get(name, name)}（遥感）"
