"""Land-cover change from two class rasters, inside T0 farmland (vector): the pure part.

The rasters are read by the edge, :func:`kmrv_geo.extract.detect_landcover_change`, which turns them into
changed-pixel polygons and per-parcel shares; this module classes the change and cuts the polygons to the
T0 parcels (:func:`landcover_pieces`). It opens no file.

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

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import landuse
from ..config import LANDCOVER_CLASS_NAMES
from ..overlay import intersect_pairs
from ..rasters import CLASS_NAMES_ZH
from ..ridges import RIDGE_SHARE
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


def landcover_pieces(landuse_t0: gpd.GeoDataFrame, is_farm: np.ndarray, polygons: list,
                     classes: list[str]) -> gpd.GeoDataFrame:
    """Changed-pixel polygons cut to T0 parcels: losses to farmland parcels, gains to the other parcels.

    Parameters
    ----------
    landuse_t0 : GeoDataFrame
        Checked T0 land use (``code``, ``category``, optionally ``ridge_share``).
    is_farm : numpy.ndarray of bool
        Which T0 parcels are farmland.
    polygons : list of shapely polygons
        Changed-pixel clusters (from :func:`kmrv_geo.extract.detect_landcover_change`).
    classes : list of str
        The T1 class of each polygon (``cropland`` for gains).

    Returns
    -------
    GeoDataFrame
        Change pieces with :data:`~kmrv_geo.analysis.changes.PIECE_COLUMNS`, ``basis = land_cover``.
    """
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
            "t0_whole": False,  # cut out of land-cover polygons: measured, never a parcel's own geometry
        }, geometry=geoms, crs=landuse_t0.crs))  # fmt: skip
    if not frames:
        return gpd.GeoDataFrame(columns=columns, geometry="geometry", crs=landuse_t0.crs)
    return pd.concat(frames, ignore_index=True)[columns]


def class_name_zh(name: str) -> str:
    """Chinese name of a land-cover class, marked as from remote sensing."""
    return f"{CLASS_NAMES_ZH.get(name, name)}（遥感）"
