"""Parcels that tessellate the study area: carved features plus Voronoi cells of jittered-grid seeds,
cut at every admin zone boundary (county, township, village), as 三调 parcels never cross them.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._util import polygonal, polygons_only, sorted_pairs
from .geography import CRS, Extent, Terrain

logger = logging.getLogger(__name__)

SLIVER_M2 = 200.0
THIN_M = 12.0
"""Pieces thinner than this (mean width 2·area/perimeter, m) are merged too: the strips a road cut off a
cell are not fields of their own."""
"""Pieces smaller than this left by cutting cells at zone boundaries are merged into a neighbour."""
HILL_THINNING = 0.6
"""Seeds are thinned by up to this share on hills, so forest parcels are larger than basin parcels."""


def _seeds(land: shapely.Geometry, terrain: Terrain, n_target: int, rng: np.random.Generator) -> np.ndarray:
    """Jittered-grid seeds on land, thinned on hills, about ``n_target`` of them (south-north, west-east)."""
    shapely.prepare(land)
    minx, miny, maxx, maxy = shapely.bounds(land)
    area = shapely.area(land)
    # pilot grid to estimate the mean keep-probability
    ps = np.sqrt(area / 20_000)
    gx, gy = np.meshgrid(np.arange(minx, maxx, ps), np.arange(miny, maxy, ps))
    gx, gy = gx.ravel(), gy.ravel()
    on = shapely.contains_xy(land, gx, gy)
    keep_p = 1.0 - HILL_THINNING * np.clip(terrain.hill(gx[on], gy[on]), 0.0, 1.0)
    spacing = np.sqrt(area * keep_p.mean() / n_target)
    xs = np.arange(minx + spacing / 2, maxx, spacing)
    ys = np.arange(miny + spacing / 2, maxy, spacing)
    rows = []
    for y in ys:  # row by row keeps memory low at 1M seeds (a loop over grid rows, not parcels)
        x = xs + rng.uniform(-0.4, 0.4, xs.size) * spacing
        yy = y + rng.uniform(-0.4, 0.4, xs.size) * spacing
        u = rng.uniform(0.0, 1.0, xs.size)
        inside = shapely.contains_xy(land, x, yy)
        rows.append(np.column_stack([x, yy, u])[inside])
    pts = np.concatenate(rows)
    keep = pts[:, 2] < 1.0 - HILL_THINNING * np.clip(terrain.hill(pts[:, 0], pts[:, 1]), 0.0, 1.0)
    return pts[keep, :2]


def _seed_count(n_pieces: int, land_m2: float, cuts_m: float) -> int:
    """Seeds needed for about ``n_pieces`` pieces once cells are cut along ``cuts_m`` metres of zone
    boundaries and roads (each cut adds about kappa · length / cell spacing pieces; kappa fitted on
    1k–200k parcels).
    """
    seeds = max(n_pieces, 50)
    for _ in range(8):
        spacing = np.sqrt(land_m2 / seeds)
        kappa = 0.62 + 0.3 * np.log10(max(spacing, 100.0) / 100.0)
        b = kappa * cuts_m / np.sqrt(land_m2)
        root = (-b + np.sqrt(b * b + 4.0 * max(n_pieces, 1))) / 2.0
        seeds = max(50, int(round(root * root)))
    return seeds


def _cut(cells: np.ndarray, zones: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut cells at zone boundaries: (pieces, cell index, zone index), sorted by zone then cell."""
    tree = shapely.STRtree(zones)
    ci, zi = sorted_pairs(tree, cells)
    # a cell that only touches a zone has no piece in it: GEOS may return the whole cell for such a pair
    # (a village core against the township whose hole the village is), so never intersect those
    meets = shapely.touches(cells[ci], zones[zi])
    ci, zi = ci[~meets], zi[~meets]
    shapely.prepare(zones)
    whole = shapely.contains_properly(zones[zi], cells[ci])
    pieces = cells[ci].copy()
    cut = ~whole
    pieces[cut] = shapely.intersection(cells[ci[cut]], zones[zi[cut]])
    # The zones partition the land, so a cell's pieces add up to the cell. GEOS can break that (a piece
    # reaching over a neighbouring zone, a whole village core returned for the township around it):
    # such cells are cut again on a 1e-6 m grid.
    got = np.zeros(len(cells))
    np.add.at(got, ci, np.nan_to_num(shapely.area(pieces)))
    own = shapely.area(cells)
    bad = np.isin(ci, np.flatnonzero(got > own * (1 + 1e-9) + 1e-6))
    if bad.any():
        pieces[bad] = shapely.intersection(cells[ci[bad]], zones[zi[bad]], grid_size=1e-6)
    parts, index = polygons_only(pieces)
    ci, zi = ci[index], zi[index]
    order = np.lexsort((ci, zi))
    return parts[order], ci[order], zi[order]


def _merge_slivers(pieces: np.ndarray, zone: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Merge pieces below ``limit`` m² or thinner than :data:`THIN_M` into the neighbour of the same zone
    they share the longest edge with.

    Returns the new pieces and, for each, the index of the piece it grew from (order kept).
    """
    area = shapely.area(pieces)
    width = 2 * area / np.maximum(shapely.length(pieces), 1e-9)
    good = (area >= limit) & (width >= THIN_M)
    small = np.flatnonzero(~good)
    if small.size == 0:
        return pieces, np.arange(len(pieces))
    tree = shapely.STRtree(pieces)
    si, pj = sorted_pairs(tree, pieces[small])
    si = small[si]
    ok = (pj != si) & (zone[pj] == zone[si]) & good[pj]
    si, pj = si[ok], pj[ok]
    shared = shapely.length(shapely.intersection(shapely.boundary(pieces[si]), shapely.boundary(pieces[pj])))
    table = pd.DataFrame({"s": si, "t": pj, "len": shared})
    table = table[table["len"] > 1e-6].sort_values(["s", "len", "t"], ascending=[True, False, True])
    best = table.drop_duplicates("s")
    if best.empty:
        return pieces, np.arange(len(pieces))
    members = pd.DataFrame({"key": np.concatenate([best["t"].to_numpy(), best["t"].to_numpy()]),
                            "i": np.concatenate([best["t"].to_numpy(), best["s"].to_numpy()])})
    members = members.drop_duplicates("i")
    frame = gpd.GeoDataFrame({"key": members["key"].to_numpy()}, geometry=pieces[members["i"].to_numpy()])
    merged = frame.dissolve(by="key", method="unary", sort=True)
    out = pieces.copy()
    out[merged.index.to_numpy()] = np.asarray(merged.geometry.values, dtype=object)
    drop = np.zeros(len(pieces), dtype=bool)
    drop[best["s"].to_numpy()] = True
    keep = np.flatnonzero(~drop)
    return out[keep], keep


def tessellate(extent: Extent, zones: gpd.GeoDataFrame, carved: gpd.GeoDataFrame, terrain: Terrain,
               n_parcels: int, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Build the parcels of the study area.

    Parameters
    ----------
    extent : Extent
    zones : GeoDataFrame
        Admin zones partitioning the study area (see :func:`~kmrv_geo.sample.geography.make_zones`).
    carved : GeoDataFrame
        Features that are parcels of their own (``code``, ``kind``), non-overlapping.
    terrain : Terrain
    n_parcels : int
        Wanted number of parcels (the result is within a few per cent).
    rng : numpy.random.Generator

    Returns
    -------
    GeoDataFrame
        ``zone`` (row in ``zones``), ``carved`` (row in ``carved`` or -1), ``cell`` (seed index or -1),
        polygons that partition the study area; sorted by zone, then carved features, then cells.
    """
    zone_geoms = np.asarray(zones.geometry.values, dtype=object)
    carved_geoms = np.asarray(carved.geometry.values, dtype=object)
    # carved features cut at zone boundaries
    c_parts, c_cell, c_zone = _cut(carved_geoms, zone_geoms)
    carved_union = shapely.union_all(carved_geoms)
    land_zones = polygonal(shapely.difference(zone_geoms, carved_union))
    land = polygonal(shapely.difference(extent.area, carved_union))[0]
    cuts_m = shapely.length(zone_geoms).sum() / 2 + shapely.length(carved_geoms).sum()
    seeds = _seeds(land, terrain, _seed_count(n_parcels - len(c_parts), shapely.area(land), cuts_m), rng)
    logger.debug("%d seeds for %d parcels wanted", len(seeds), n_parcels)
    minx, miny, maxx, maxy = shapely.bounds(extent.area)
    envelope = shapely.box(minx - 1000, miny - 1000, maxx + 1000, maxy + 1000)
    cells = shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=envelope, ordered=True)
    cells = shapely.get_parts(cells)
    pieces, cell, zone = _cut(cells, land_zones)
    mean_cell = shapely.area(land) / max(len(seeds), 1)
    pieces, kept = _merge_slivers(pieces, zone, min(SLIVER_M2, 0.1 * mean_cell))
    cell, zone = cell[kept], zone[kept]
    # a merge can leave a multipart piece where a sliver touched its target at a point only
    pieces, index = polygons_only(pieces)
    cell, zone = cell[index], zone[index]
    frame = gpd.GeoDataFrame({
        "zone": np.concatenate([c_zone, zone]),
        "carved": np.concatenate([c_cell, np.full(len(pieces), -1)]),
        "cell": np.concatenate([np.full(len(c_parts), -1), cell]),
    }, geometry=np.concatenate([c_parts, pieces]), crs=CRS)  # fmt: skip
    frame = frame.sort_values(["zone", "carved", "cell"], kind="stable").reset_index(drop=True)
    return frame
