"""Synthetic permanent basic farmland (PBF, 永久基本农田) and high-standard farmland (HSF, 高标准农田).

Both are unions of whole 2022 parcels, so their boundaries follow parcel edges as real 划定 data do:

- PBF: about 70 % of the farmland area, in contiguous clusters (a smooth random field picks them,
  away from the cities), dissolved per admin zone and 800 m block into polygons.
- HSF: projects on 2 km blocks, chosen until they hold about 60 % of the PBF area; a project takes
  most PBF parcels of its block, about half of the other farmland and a few non-farmland parcels
  (HSF off PBF and HSF on non-farmland are findings the analyses must show).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._util import group_union, smooth_field
from .geography import CRS, short_name

PBF_SHARE = 0.70
HSF_SHARE_OF_PBF = 0.60
PBF_BLOCK_M = 800.0
HSF_BLOCK_M = 2000.0
HSF_NON_FARMLAND_CODES = ("0201", "0204", "0301", "0307", "0404", "1006", "1107", "1104", "1203")
"""Non-farmland uses that a HSF project may take in (ridges, ditches, roads, a few orchards or woods)."""


def _blocks(x: np.ndarray, y: np.ndarray, size: float) -> np.ndarray:
    """Integer id of the ``size`` grid block of each point."""
    return (np.floor((y - 2_700_000.0) / size).astype(np.int64) * 100_000
            + np.floor((x - 500_000.0) / size).astype(np.int64))  # fmt: skip


def _sorted_parts(groups: np.ndarray, geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Explode grouped unions into polygons, ordered north to south, west to east (stable)."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    points = shapely.point_on_surface(parts)
    order = np.lexsort((np.round(shapely.get_x(points), 3), -np.round(shapely.get_y(points), 3), groups[index]))
    return parts[order], index[order]


def make_pbf(parcels: gpd.GeoDataFrame, farmland: np.ndarray, urban: np.ndarray, rng: np.random.Generator):
    """Choose the PBF parcels and dissolve them.

    Parameters
    ----------
    parcels : GeoDataFrame
        2022 parcels with ``DLBM``, ``XZQDM``, ``ZLDWDM``.
    farmland : numpy.ndarray of bool
        Which parcels are farmland.
    urban : numpy.ndarray
        Urban intensity of each parcel (PBF avoids the cities).
    rng : numpy.random.Generator

    Returns
    -------
    on_pbf : numpy.ndarray of bool
        Which parcels are PBF.
    pbf : GeoDataFrame
        ``BSM``, ``XZQDM``, ``ZLDWDM``, ``MJ`` (planar m²), polygons.
    """
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    centre = shapely.centroid(geoms)
    x, y = shapely.get_x(centre), shapely.get_y(centre)
    field = smooth_field(rng, shortest_m=1500, longest_m=6000)
    good = np.isin(parcels["DLBM"].to_numpy(), ["0101", "0102"])
    score = field(x, y) - 2.0 * urban + 0.3 * good + 0.3 * rng.gumbel(size=len(x))
    area = shapely.area(geoms)
    idx = np.flatnonzero(farmland)
    idx = idx[np.lexsort((idx, -score[idx]))]
    cum = np.cumsum(area[idx])
    chosen = idx[: int(np.searchsorted(cum, PBF_SHARE * cum[-1])) + 1] if idx.size else idx
    on_pbf = np.zeros(len(geoms), dtype=bool)
    on_pbf[chosen] = True
    zone = parcels["ZLDWDM"].to_numpy()[chosen]
    key = pd.factorize(pd.Series(zone).astype(str) + ":"
                       + pd.Series(_blocks(x[chosen], y[chosen], PBF_BLOCK_M)).astype(str), sort=True)[0]
    keys, unions = group_union(geoms[chosen], key)
    first = pd.Series(np.arange(len(key))).groupby(key).first().reindex(keys).to_numpy()
    parts, owner = _sorted_parts(keys, unions)
    src = chosen[first[owner]]
    pbf = gpd.GeoDataFrame({
        "BSM": np.arange(1, len(parts) + 1, dtype=np.int64),
        "XZQDM": parcels["XZQDM"].to_numpy()[src],
        "ZLDWDM": parcels["ZLDWDM"].to_numpy()[src],
        "MJ": shapely.area(parts),
    }, geometry=parts, crs=CRS)  # fmt: skip
    return on_pbf, pbf


def make_hsf(parcels: gpd.GeoDataFrame, farmland: np.ndarray, on_pbf: np.ndarray, county_names: dict[str, str],
             rng: np.random.Generator):
    """Choose HSF projects and their parcels.

    Returns
    -------
    on_hsf : numpy.ndarray of bool
        Which parcels are HSF.
    hsf : GeoDataFrame
        ``XMMC`` (project name), ``JSND`` (construction year), ``XZQDM``, ``MJ``, polygons.
    """
    geoms = np.asarray(parcels.geometry.values, dtype=object)
    centre = shapely.centroid(geoms)
    x, y = shapely.get_x(centre), shapely.get_y(centre)
    area = shapely.area(geoms)
    county = parcels["XZQDM"].to_numpy()
    block = pd.factorize(pd.Series(county).astype(str) + ":" + pd.Series(_blocks(x, y, HSF_BLOCK_M)).astype(str),
                         sort=True)[0]
    n_blocks = block.max() + 1 if block.size else 0
    pbf_area = np.bincount(block, weights=area * on_pbf, minlength=n_blocks)
    # projects in random order, denser PBF first; take them until ~60 % of the PBF area is inside
    order = np.lexsort((np.arange(n_blocks), -(pbf_area * rng.uniform(0.3, 1.0, n_blocks))))
    order = order[pbf_area[order] > 0]
    cum = np.cumsum(pbf_area[order] * 0.92)
    chosen_blocks = order[: int(np.searchsorted(cum, HSF_SHARE_OF_PBF * pbf_area.sum())) + 1]
    in_project = np.isin(block, chosen_blocks)
    draw = rng.uniform(size=len(geoms))
    codes = parcels["DLBM"].to_numpy()
    take = in_project & (
        (on_pbf & (draw < 0.92))
        | (farmland & ~on_pbf & (draw < 0.55))
        | (~farmland & np.isin(codes, HSF_NON_FARMLAND_CODES) & (draw < 0.12))
    )
    on_hsf = take
    idx = np.flatnonzero(take)
    keys, unions = group_union(geoms[idx], block[idx])
    first = pd.Series(idx).groupby(block[idx]).first().reindex(keys).to_numpy()
    year = rng.integers(2011, 2023, size=len(keys))
    seq = pd.Series(county[first]).groupby(county[first]).cumcount().to_numpy() + 1
    names = [f"{short_name(county_names[c])}{y}年高标准农田建设示例项目{k}"
             for c, y, k in zip(county[first], year, seq, strict=True)]  # one name per project, not per parcel
    parts, owner = _sorted_parts(keys, unions)
    hsf = gpd.GeoDataFrame({
        "XMMC": np.array(names, dtype=object)[owner],
        "JSND": year[owner].astype(np.int64),
        "XZQDM": county[first][owner],
        "MJ": shapely.area(parts),
    }, geometry=parts, crs=CRS)  # fmt: skip
    return on_hsf, hsf
