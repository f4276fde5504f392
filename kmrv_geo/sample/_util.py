"""Small helpers of the sample generator: seeded streams, smooth random fields, vectorised geometry tools."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

ORIGIN = (575_000.0, 2_750_000.0)
"""A point near Dianchi in EPSG:4543; fields are evaluated relative to it (keeps phases precise)."""
SLIVER_AREA_M2 = 0.01
SLIVER_WIDTH_M = 0.01
"""Overlay leftovers smaller or thinner (mean width = 2·area/perimeter) than this are dropped."""


def stream(seed: int, stage: str) -> np.random.Generator:
    """An independent random generator for one stage of the generator.

    Each stage draws from its own stream, so changing one stage (or the number of parcels) does not
    shift the draws of another: villages and townships depend on the seed only.
    """
    return np.random.default_rng([int(seed), *stage.encode("utf-8")])


@dataclass(frozen=True)
class SmoothField:
    """A smooth random field: a normalised sum of plane waves (unit variance, zero mean).

    Attributes
    ----------
    kx, ky, phase : numpy.ndarray
        Wave vectors (rad/m) and phases of the waves.
    weight : numpy.ndarray
        Amplitude of each wave (their squares sum to 2, so the field has unit variance).
    """

    kx: np.ndarray
    ky: np.ndarray
    phase: np.ndarray
    weight: np.ndarray

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Evaluate the field at EPSG:4543 coordinates (metres)."""
        x = np.asarray(x, dtype="float64") - ORIGIN[0]
        y = np.asarray(y, dtype="float64") - ORIGIN[1]
        out = np.zeros(np.broadcast(x, y).shape)
        for kx, ky, ph, w in zip(self.kx, self.ky, self.phase, self.weight, strict=True):
            out += w * np.cos(kx * x + ky * y + ph)
        return out


def smooth_field(rng: np.random.Generator, *, shortest_m: float = 1500.0, longest_m: float = 12000.0,
                 n_waves: int = 24) -> SmoothField:
    """Draw a smooth random field whose features are ``shortest_m``…``longest_m`` across."""
    wavelength = np.exp(rng.uniform(np.log(shortest_m), np.log(longest_m), n_waves))
    angle = rng.uniform(0.0, np.pi, n_waves)
    k = 2.0 * np.pi / wavelength
    weight = np.sqrt(wavelength)
    weight = weight * np.sqrt(2.0 / np.sum(weight**2))
    return SmoothField(k * np.cos(angle), k * np.sin(angle), rng.uniform(0.0, 2.0 * np.pi, n_waves), weight)


def choose(rng: np.random.Generator, options: dict[str, float], size: int) -> np.ndarray:
    """Draw ``size`` keys of ``options`` with the given weights (keys kept in the order given)."""
    keys = np.array(list(options), dtype=object)
    weights = np.array(list(options.values()), dtype="float64")
    if size == 0:
        return np.zeros(0, dtype=object)
    return keys[rng.choice(len(keys), size=size, p=weights / weights.sum())]


def polygons_only(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Explode geometries into their polygon parts (lines and points left by overlays are dropped).

    Returns
    -------
    parts : numpy.ndarray of Polygon
    index : numpy.ndarray of int
        Position of the source geometry of each part.
    """
    geoms = np.asarray(geoms, dtype=object)
    parts, index = shapely.get_parts(geoms, return_index=True)
    # GeometryCollections hold their polygons one level down
    nested = shapely.get_type_id(parts) == int(shapely.GeometryType.MULTIPOLYGON)
    if nested.any():
        sub, sub_index = shapely.get_parts(parts[nested], return_index=True)
        owner = index[nested][sub_index]
        parts = np.concatenate([parts[~nested], sub])
        index = np.concatenate([index[~nested], owner])
        order = np.argsort(index, kind="stable")
        parts, index = parts[order], index[order]
    keep = (shapely.get_type_id(parts) == int(shapely.GeometryType.POLYGON)) & ~shapely.is_empty(parts)
    # needle slivers left by overlays (a few nm wide) make later GEOS overlays return wrong results
    area = shapely.area(parts)
    keep &= (area > SLIVER_AREA_M2) & (2.0 * area > SLIVER_WIDTH_M * shapely.length(parts))
    return parts[keep], index[keep]



def largest_part(geoms: np.ndarray) -> np.ndarray:
    """The largest polygon of each geometry (an empty Polygon when none)."""
    out = np.array([shapely.Polygon()] * len(geoms), dtype=object)
    parts, index = polygons_only(geoms)
    if parts.size:
        order = np.lexsort((-shapely.area(parts), index))
        first = order[np.unique(index[order], return_index=True)[1]]
        out[index[first]] = parts[first]
    return out

def sorted_pairs(tree: shapely.STRtree, geoms: np.ndarray,
                 predicate: str = "intersects") -> tuple[np.ndarray, np.ndarray]:
    """Bulk STRtree query with the result pairs sorted (input index, then tree index): deterministic."""
    left, right = tree.query(geoms, predicate=predicate)
    order = np.lexsort((right, left))
    return left[order], right[order]


def group_union(geoms: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union polygons per group (unary union: parcel edges cut separately are not exactly noded).

    Returns
    -------
    keys : numpy.ndarray
        The sorted distinct groups.
    unions : numpy.ndarray of geometries
        One (Multi)Polygon per group.
    """
    import geopandas as gpd

    frame = gpd.GeoDataFrame({"g": np.asarray(groups)}, geometry=np.asarray(geoms, dtype=object))
    merged = frame.dissolve(by="g", method="unary", sort=True)
    return merged.index.to_numpy(), np.asarray(merged.geometry.values, dtype=object)


def independent_subset(geoms: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """Keep the geometries that touch no other geometry of higher priority (lower value).

    One round of Luby's rule: the result is a set of pairwise non-touching geometries (vectorised).

    Returns
    -------
    numpy.ndarray of bool
    """
    geoms = np.asarray(geoms, dtype=object)
    keep = np.ones(len(geoms), dtype=bool)
    if len(geoms) < 2:
        return keep
    tree = shapely.STRtree(geoms)
    left, right = sorted_pairs(tree, geoms)
    other = left != right
    left, right = left[other], right[other]
    beaten = priority[right] < priority[left]
    keep[np.unique(left[beaten])] = False
    return keep


def first_per_group(values: pd.Series) -> np.ndarray:
    """Mask of the first row of each distinct value (in row order)."""
    return ~values.duplicated(keep="first").to_numpy()


def polygonal(geoms) -> np.ndarray:
    """Each geometry reduced to its polygonal part: a Polygon, or a MultiPolygon when it has several
    (GeometryCollections left by overlays break later overlays; an empty result is an empty Polygon).
    """
    geoms = np.atleast_1d(np.asarray(geoms, dtype=object))
    parts, index = polygons_only(geoms)
    counts = np.bincount(index, minlength=len(geoms))
    out = np.array([shapely.Polygon()] * len(geoms), dtype=object)
    single = counts == 1
    first = np.searchsorted(index, np.arange(len(geoms)))
    out[single] = parts[first[single]]
    multi = np.flatnonzero(counts > 1)
    if multi.size:
        sel = np.isin(index, multi)
        rebuilt = shapely.multipolygons(parts[sel], indices=np.searchsorted(multi, index[sel]))
        out[multi] = rebuilt
    return out
