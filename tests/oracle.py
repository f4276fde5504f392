"""An independent recomputation of kmrv's county and village figures with plain geopandas.

This module is a test oracle: it shares **no code** with :mod:`kmrv_geo` (it imports nothing from it,
not even the units or the land-use code lists) and recomputes the figures of three kmrv tables from
the project's own files, with the plainest tools there are: ``geopandas.read_file``, ``gpd.overlay``,
``dissolve``, ``explode``, ``to_crs`` and ``.area``. Speed is not a goal; following the written
definitions one step at a time is.

Tables recomputed (one function each, the docstring states the definition):

- :func:`violations_by_county` — change patches (非农化, 非粮化, new farmland …) per county;
- :func:`coverage_by_county` — high-standard farmland (HSF) coverage of PBF and farmland per county;
- :func:`villages_profile` — the area figures of the Dianchi village profiles;
- :func:`village_review` — the village plan review's findings (planar m², per village).

Conventions (the contract kmrv implements):

- 1 亩 = 10000/15 m².
- Every 亩 figure is measured in the project's area kind (config ``area:``; ``ellipsoidal`` by default,
  or ``planar``). Overlays are done in the analysis CRS (the layers' projected CRS); only the measuring
  of each resulting piece differs: an ellipsoidal area is the area of the piece after reprojecting it to
  a Lambert azimuthal equal-area projection on GRS80 centred on the study area's bbox, its edges first
  split into pieces of at most :data:`MAX_SEGMENT_M` (see :func:`ellipsoidal_m2` for why).
- Land-use categories follow GB/T 21010-2017 (restated below).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import yaml
from pyproj import Transformer

# --------------------------------------------------------------------------------------------------
# Constants, restated here on purpose (never imported from kmrv_geo)
# --------------------------------------------------------------------------------------------------

M2_PER_MU = 10000.0 / 15.0
"""Square metres in one 亩."""

DEFAULT_BBOX = (102.1, 24.4, 103.7, 26.6)
"""Default study area (Kunming), [min lon, min lat, max lon, max lat]."""

DEFAULT_MIN_PATCH_M2 = {"construction": 200.0, "facility": 200.0, "agricultural": 400.0, "other": 600.0}
"""三调 minimum mapped patch sizes (m², in the area kind), overridable by ``thresholds.min_patch_m2``."""

MAX_SEGMENT_M = 20.0
"""Edges are split into equal pieces of at most this length (m, analysis CRS) before an ellipsoidal area is
measured (kmrv's measuring step, restated)."""

SLIVER_M2 = 1e-6
"""Overlay pieces of at most this planar area (m²) are floating-point slivers of shared edges, not land:
they are not counted as located patch parts."""

# GB/T 21010-2017 categories on the normalised code (DLBM)
FARMLAND = "farmland"
CONSTRUCTION = "construction"
OTHER_AGRICULTURAL = "other_agricultural"
OTHER = "other"
UNKNOWN = "unknown"

FARMLAND_CODES = frozenset({"0101", "0102", "0103"})
"""耕地: 水田, 水浇地, 旱地."""
CONSTRUCTION_LEVEL1 = ("05", "06", "07", "08", "09")
"""商服, 工矿仓储, 住宅, 公共管理与公共服务, 特殊用地: the level-1 code and all its level-2 codes."""
CONSTRUCTION_CODES = frozenset({
    "1001", "1002", "1003", "1004", "1005", "1007", "1008", "1009",  # 10xx 交通运输 except 1006 农村道路
    "1109",  # 水工建筑用地
    "1201",  # 空闲地
    "201", "202", "203", "204", "205",  # 三调 城镇村及工矿用地
})  # fmt: skip
OTHER_AGRICULTURAL_LEVEL1 = ("02", "03")
"""园地, 林地: the level-1 code and all its level-2 codes."""
OTHER_AGRICULTURAL_CODES = frozenset({"0401", "0403", "1006", "1103", "1104", "1107", "1202", "1203"})
"""天然/人工牧草地, 农村道路, 水库/坑塘水面, 沟渠, 设施农用地, 田坎."""
OTHER_CODES = frozenset({"0402", "0404", "1101", "1102", "1105", "1106", "1108", "1110",
                         "1204", "1205", "1206", "1207"})  # fmt: skip
"""Other known land: 沼泽草地, 其他草地, 河流/湖泊水面, 滩涂, 沼泽地, 冰川, 盐碱地, 沙地, 裸土地,
裸岩石砾地."""
FACILITY_CODE = "1202"
"""设施农用地: its change patches use the ``facility`` minimum size."""

NON_GRAIN_PLANTING = "FLS"
"""种植属性 ZZSXDM value for non-grain planting."""

RIDGE_SHARE_FIELDS = ("KCXS", "TKXS")
"""Standard names of the 扣除地类系数 (share of a parcel that is field ridges, 0..1)."""

CHANGE_CLASSES = ("nonagri", "nongrain", "other", "no_t1_data", "supplement")
"""Change classes that become patches (``kept`` does not)."""

_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")


def normalise_code(value) -> str | None:
    """A land-use code as normalised text: trimmed, half-width digits, upper case, a lost leading zero
    restored (``101`` → ``0101``; ``201``–``205`` stay), a 三调 letter suffix dropped (``0201K`` → ``0201``).
    None for blanks.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    whole_number = isinstance(value, (float, np.floating)) and float(value).is_integer()
    if isinstance(value, (int, np.integer)) or whole_number:
        text = str(int(value))
    else:
        text = str(value).strip().translate(_FULLWIDTH).upper()
    if text == "":
        return None
    digits = text.rstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if len(digits) == 4 and digits.isdigit():
        return digits
    if len(digits) == 3 and digits.isdigit() and digits not in {"201", "202", "203", "204", "205"}:
        return "0" + digits
    return text


def category(code: str | None) -> str:
    """GB/T 21010 category of a normalised code: farmland, construction, other_agricultural, other or
    unknown.
    """
    if code is None:
        return UNKNOWN
    if code in FARMLAND_CODES:
        return FARMLAND
    if code in CONSTRUCTION_CODES or (code[:2] in CONSTRUCTION_LEVEL1 and len(code) in (2, 4)):
        return CONSTRUCTION
    if code in OTHER_AGRICULTURAL_CODES or (code[:2] in OTHER_AGRICULTURAL_LEVEL1 and len(code) in (2, 4)):
        return OTHER_AGRICULTURAL
    if code in OTHER_CODES:
        return OTHER
    return UNKNOWN


CHANGE_CLASS_OF_T1 = {FARMLAND: "kept", CONSTRUCTION: "nonagri", OTHER_AGRICULTURAL: "nongrain",
                      OTHER: "other", UNKNOWN: "other"}
"""Class of a piece of T0 farmland by the category of its T1 use."""


# --------------------------------------------------------------------------------------------------
# The project: files, settings and the area measure
# --------------------------------------------------------------------------------------------------


@dataclass
class Project:
    """The layers and settings of a kmrv project file, read without kmrv.

    Attributes
    ----------
    layers : dict of str to GeoDataFrame
        Role → layer, in the analysis CRS, null/empty geometries dropped, invalid ones made valid.
    specs : dict of str to dict
        Role → the layer's entry in the YAML (path, layer, field names).
    crs : pyproj.CRS
        The analysis CRS (the land-use layers' projected CRS unless the config names one).
    area_kind : {"ellipsoidal", "planar"}
    centre : tuple of float
        (lon, lat) of the study area's bbox: centre of the equal-area projection.
    min_patch_m2 : dict
        Minimum mapped patch size per kind (construction, facility, agricultural, other).
    has_ridges : bool
        Whether both land-use layers carry a ridge share field (KCXS); without it the coefficient is 0
        and the net figures are not computed.
    max_segment_m : float or None
        Edge split before ellipsoidal measuring (None: vertices only).
    """

    layers: dict[str, gpd.GeoDataFrame]
    specs: dict[str, dict]
    crs: object
    area_kind: str = "ellipsoidal"
    centre: tuple[float, float] = (102.9, 25.5)
    min_patch_m2: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIN_PATCH_M2))
    has_ridges: bool = False
    max_segment_m: float | None = MAX_SEGMENT_M

    @property
    def equal_area_proj(self) -> str:
        """The PROJ string ellipsoidal areas are measured in."""
        lon, lat = self.centre
        return f"+proj=laea +lat_0={lat:.6f} +lon_0={lon:.6f} +ellps=GRS80 +units=m +no_defs"

    def m2(self, geoms) -> np.ndarray:
        """Area (m²) of each geometry (GeoSeries or GeoDataFrame in the analysis CRS) in the area kind."""
        series = geoms.geometry if isinstance(geoms, gpd.GeoDataFrame) else geoms
        if len(series) == 0:
            return np.zeros(0)
        if self.area_kind == "planar":
            return series.area.to_numpy(dtype=float)
        return ellipsoidal_m2(series, self.equal_area_proj, self.max_segment_m)

    def mu(self, geoms) -> np.ndarray:
        """Area (亩) of each geometry in the area kind."""
        return self.m2(geoms) / M2_PER_MU


def _densify(xy: np.ndarray, ring: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Split every edge into ceil(length / step) equal pieces.

    ``xy`` holds the vertices of closed rings one after another (``ring``: the ring of each vertex, last
    vertex = first). Returns the vertices of the split rings, without the closing vertex.
    """
    edge = ring[:-1] == ring[1:]
    start, delta, owner = xy[:-1][edge], (xy[1:] - xy[:-1])[edge], ring[:-1][edge]
    pieces = np.maximum(1, np.ceil(np.hypot(delta[:, 0], delta[:, 1]) / step)).astype(np.int64)
    k = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)  # 0 … pieces-1 per edge
    t = (k / np.repeat(pieces, pieces))[:, None]
    return np.repeat(start, pieces, axis=0) + t * np.repeat(delta, pieces, axis=0), np.repeat(owner, pieces)


def ellipsoidal_m2(series: gpd.GeoSeries, equal_area_proj: str, max_segment_m: float | None) -> np.ndarray:
    """Ellipsoidal area (m², GRS80) of each polygonal geometry given in a projected CRS.

    Each ring's edges are split into equal pieces of at most ``max_segment_m`` (they are straight in the
    CRS the land is drawn in), the vertices reprojected to the equal-area projection, and the area taken
    with the shoelace formula (exterior minus holes, per part).

    Why split: with the vertices alone, the measure depends on how the land is cut, not only on the
    land. A vertex on a straight Gauss-Kruger edge (a cut point, a T-junction between two PBF polygons)
    is not on the straight edge of the equal-area plane: a patch cut at a boundary, or PBF measured
    whole vs polygon by polygon, differ by up to ~1e-2 亩 per county, and a sliver with three nearly
    collinear vertices 300 m apart (planar area 1e-8 m²) gets 0.004 m². Split edges follow the curve, so
    parts add up to the whole and slivers stay slivers. The splitting is done here with numpy (GEOS
    ``segmentize`` repairs rings it thinks became invalid and can return nothing for a valid polygon).
    """
    geoms = np.asarray(series.values, dtype=object)
    area = np.zeros(len(geoms))
    present = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_empty(geoms))
    if present.size == 0:
        return area
    parts, part_owner = shapely.get_parts(geoms[present], return_index=True)
    while (multi := np.isin(shapely.get_type_id(parts), [6, 7])).any():  # MultiPolygon / collection in one
        inner, inner_owner = shapely.get_parts(parts[multi], return_index=True)
        parts = np.r_[parts[~multi], inner]
        part_owner = np.r_[part_owner[~multi], part_owner[multi][inner_owner]]
    polygon = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    parts, part_owner = parts[polygon], part_owner[polygon]
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, vertex_ring = shapely.get_coordinates(rings, return_index=True)
    if max_segment_m:
        xy, vertex_ring = _densify(xy, vertex_ring, max_segment_m)
    else:  # drop each ring's closing vertex
        last = np.r_[vertex_ring[1:] != vertex_ring[:-1], True]
        xy, vertex_ring = xy[~last], vertex_ring[~last]
    x, y = Transformer.from_crs(series.crs, equal_area_proj, always_xy=True).transform(xy[:, 0], xy[:, 1])
    # shoelace per ring around its first vertex (keeps the products small), the ring closed cyclically
    first = np.r_[0, np.flatnonzero(vertex_ring[1:] != vertex_ring[:-1]) + 1]
    origin = np.repeat(first, np.diff(np.r_[first, len(x)]))
    following = np.arange(1, len(x) + 1)
    following[np.r_[first[1:], len(x)] - 1] = first
    x0, y0 = x - x[origin], y - y[origin]
    cross = x0 * y0[following] - x0[following] * y0
    ring_area = np.abs(np.bincount(vertex_ring, weights=cross, minlength=len(rings))) / 2
    exterior = np.r_[True, ring_part[1:] != ring_part[:-1]]
    signed = np.where(exterior, ring_area, -ring_area)
    part_area = np.bincount(ring_part, weights=signed, minlength=len(parts))
    area[present] = np.bincount(part_owner, weights=part_area, minlength=len(present))
    return area


def _clean(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Drop null and empty geometries; make invalid ones valid (keeping their polygonal parts)."""
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty].copy()
    bad = ~frame.geometry.is_valid
    if bad.any():
        parts = frame.geometry[bad].make_valid().explode()  # a repair may give lines too: keep polygons
        fixed = parts[parts.geom_type == "Polygon"].to_frame("geometry").dissolve(level=0).geometry
        frame.loc[fixed.index, frame.geometry.name] = fixed
        frame = frame[frame.geometry.is_valid & ~frame.geometry.is_empty]
    return frame.reset_index(drop=True)


def _planting(value) -> str | None:
    """A 种植属性 value as trimmed upper-case text (None when not given)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value).strip().upper()


def _landuse(frame: gpd.GeoDataFrame, spec: dict) -> gpd.GeoDataFrame:
    """A land-use layer reduced to ``code``, ``category``, ``planting`` (ZZSXDM, None where not given) and
    ``ridge`` (the 田坎 share KCXS; 0 where not given or when the layer has no such field).
    """
    codes = [normalise_code(v) for v in frame[spec.get("code", "DLBM")].astype(object)]
    ridge_field = spec.get("ridge_share") or next((f for f in RIDGE_SHARE_FIELDS if f in frame.columns), None)
    has_ridges = bool(ridge_field) and ridge_field in frame.columns
    has_planting = "ZZSXDM" in frame.columns
    out = gpd.GeoDataFrame({
        "code": np.array([c or "" for c in codes], dtype=object),
        "category": np.array([category(c) for c in codes], dtype=object),
        "planting": np.array([_planting(v) for v in frame["ZZSXDM"].astype(object)] if has_planting
                             else [None] * len(frame), dtype=object),
        "ridge": (pd.to_numeric(frame[ridge_field], errors="coerce").fillna(0.0).to_numpy(dtype=float)
                  if has_ridges else np.zeros(len(frame))),
    }, geometry=frame.geometry.to_numpy(), crs=frame.crs)  # fmt: skip
    out.attrs["ridge_field"] = ridge_field if has_ridges else None
    out.attrs["has_planting"] = has_planting
    return out


VECTOR_ROLES = ("county", "township", "villages", "landuse_t0", "landuse_t1", "pbf", "hsf", "approvals",
                "village_plan", "village_boundary", "udb", "erl", "lake_zones")


def load_project(config_path: str | Path) -> Project:
    """Read a kmrv project file (YAML) and its vector layers with pyyaml and geopandas only.

    Relative paths resolve against the YAML's folder. The analysis CRS is the config's ``crs`` when it
    names one, else the land-use T0 layer's own CRS; every layer is brought into it.

    Raises
    ------
    NotImplementedError
        If the config replaces the land-use code lists (``landuse_classes:``): this oracle only knows
        the GB/T 21010 defaults.
    """
    config_path = Path(config_path)
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    if config.get("landuse_classes"):
        raise NotImplementedError("the oracle knows only the default GB/T 21010 code lists")
    folder = config_path.parent
    specs = {role: dict(spec) for role, spec in config["layers"].items() if role in VECTOR_ROLES}
    raw = {}
    for role, spec in specs.items():
        frame = gpd.read_file(folder / spec["path"], layer=spec.get("layer"), engine="pyogrio")
        if spec.get("crs"):
            frame = frame.set_crs(spec["crs"], allow_override=True)
        raw[role] = frame
    wanted = config.get("crs", "auto")
    crs = raw["landuse_t0"].crs if wanted in (None, "auto") else wanted
    layers = {role: _clean(frame.to_crs(crs) if frame.crs != crs else frame) for role, frame in raw.items()}
    layers["landuse_t0"] = _landuse(layers["landuse_t0"], specs["landuse_t0"])
    layers["landuse_t1"] = _landuse(layers["landuse_t1"], specs["landuse_t1"])
    bbox = (config.get("study_area") or {}).get("bbox", DEFAULT_BBOX)
    thresholds = (config.get("thresholds") or {}).get("min_patch_m2") or {}
    return Project(
        layers=layers, specs=specs, crs=layers["landuse_t0"].crs, area_kind=config.get("area", "ellipsoidal"),
        centre=((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2),
        min_patch_m2={**DEFAULT_MIN_PATCH_M2, **{k: float(v) for k, v in thresholds.items()}},
        has_ridges=all(layers[r].attrs["ridge_field"] is not None for r in ("landuse_t0", "landuse_t1")),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# Small geometry helpers (all plain geopandas)
# --------------------------------------------------------------------------------------------------


def _union_frame(frame: gpd.GeoDataFrame | None, crs) -> gpd.GeoDataFrame | None:
    """The union (dissolve) of a layer as a one-row GeoDataFrame; None when the layer is missing."""
    if frame is None:
        return None
    return gpd.GeoDataFrame(geometry=[frame.geometry.union_all()], crs=crs)


def _overlay(left: gpd.GeoDataFrame, right: gpd.GeoDataFrame | None, how: str) -> gpd.GeoDataFrame:
    """``gpd.overlay`` keeping polygons only; an absent right layer acts as an empty one."""
    if right is None or len(right) == 0 or len(left) == 0:
        if how in ("difference", "identity"):
            return left.copy()
        return left.iloc[0:0].copy()
    return gpd.overlay(left, right, how=how, keep_geom_type=True)


def _sum_by(keys: pd.Series, values, index) -> pd.Series:
    """Sum of ``values`` grouped by ``keys``, reindexed on ``index`` (0 where no value)."""
    return pd.Series(np.asarray(values, dtype=float), index=keys.to_numpy()).groupby(level=0).sum() \
        .reindex(index, fill_value=0.0)


# --------------------------------------------------------------------------------------------------
# Change pieces, patches and their located parts
# --------------------------------------------------------------------------------------------------


def change_pieces(project: Project) -> gpd.GeoDataFrame:
    """T0 land use overlaid with T1 land use; every piece classed.

    - T0 farmland ∩ T1 parcel, classed by the T1 category: farmland → ``kept``, construction →
      ``nonagri`` (非农化), other agricultural → ``nongrain`` (非粮化), other or unknown → ``other``.
      A ``kept`` piece whose 种植属性 ZZSXDM went from not-FLS (T0) to FLS (T1) is ``nongrain`` with basis
      ``planting_attribute`` (only where both layers carry ZZSXDM and both values are given).
    - T0 farmland not covered by any T1 parcel → ``no_t1_data``.
    - T0 non-farmland ∩ T1 farmland → ``supplement`` (new farmland).

    Returns
    -------
    GeoDataFrame
        ``change_class``, ``t0_code``, ``t1_code`` ("" when none), ``t0_category``, ``basis``.
    """
    t0, t1 = project.layers["landuse_t0"], project.layers["landuse_t1"]
    a = t0[["code", "category", "planting", "geometry"]].rename(
        columns={"code": "t0_code", "category": "t0_category", "planting": "t0_planting"})
    b = t1[["code", "category", "planting", "geometry"]].rename(
        columns={"code": "t1_code", "category": "t1_category", "planting": "t1_planting"})
    farm0 = a[a["t0_category"] == FARMLAND]

    farm = _overlay(farm0, b, "intersection")
    farm["change_class"] = farm["t1_category"].map(CHANGE_CLASS_OF_T1)
    farm["basis"] = "land_use"
    if t0.attrs["has_planting"] and t1.attrs["has_planting"]:
        p0, p1 = farm["t0_planting"], farm["t1_planting"]
        given = p0.notna() & p1.notna()
        became_fls = (farm["change_class"] == "kept") & given & (p1 == NON_GRAIN_PLANTING) & (
            p0 != NON_GRAIN_PLANTING)
        farm.loc[became_fls, "change_class"] = "nongrain"
        farm.loc[became_fls, "basis"] = "planting_attribute"

    gap = _overlay(farm0, b[["geometry"]], "difference")
    gap = gap[gap.area > SLIVER_M2].copy()
    gap["t1_code"] = ""
    gap["change_class"] = "no_t1_data"
    gap["basis"] = "no_t1_data"

    supplement = _overlay(a[a["t0_category"] != FARMLAND], b[b["t1_category"] == FARMLAND], "intersection")
    supplement["change_class"] = "supplement"
    supplement["basis"] = "land_use"

    columns = ["change_class", "t0_code", "t1_code", "t0_category", "basis", "geometry"]
    pieces = pd.concat([farm[columns], gap[columns], supplement[columns]], ignore_index=True)
    return gpd.GeoDataFrame(pieces, geometry="geometry", crs=project.crs)


def min_size_kind(change_class: str, t1_code: str) -> str:
    """Which minimum mapped size applies: construction for ``nonagri``, facility for ``nongrain`` onto
    设施农用地 1202, agricultural for other ``nongrain`` and ``supplement``, other for ``other`` and
    ``no_t1_data``.
    """
    if change_class == "nonagri":
        return "construction"
    if change_class == "nongrain" and t1_code == FACILITY_CODE:
        return "facility"
    if change_class in ("nongrain", "supplement"):
        return "agricultural"
    return "other"


def patches(project: Project, pieces: gpd.GeoDataFrame | None = None) -> gpd.GeoDataFrame:
    """Change patches at or above the minimum mapped size.

    The pieces of each change class are dissolved by (change_class, t0_code, t1_code, t0_category,
    basis) and exploded into single polygons; a patch whose area (area kind) is below the minimum mapped
    size of its kind (:func:`min_size_kind`) is left out.
    """
    pieces = change_pieces(project) if pieces is None else pieces
    keys = ["change_class", "t0_code", "t1_code", "t0_category", "basis"]
    changed = pieces[pieces["change_class"].isin(CHANGE_CLASSES)]
    merged = changed.dissolve(by=keys, as_index=False).explode(index_parts=False, ignore_index=True)
    limit = np.array([project.min_patch_m2[min_size_kind(c, t)]
                      for c, t in zip(merged["change_class"], merged["t1_code"], strict=True)], dtype=float)
    keep = project.m2(merged) >= limit
    out = merged[keep].reset_index(drop=True)
    out["patch"] = np.arange(len(out))
    return out


def _county_zones(project: Project) -> gpd.GeoDataFrame | None:
    """The county polygons with ``county_code`` and ``county_name`` (fields from the project file)."""
    county = project.layers.get("county")
    if county is None:
        return None
    spec = project.specs["county"]
    return gpd.GeoDataFrame({"county_code": county[spec.get("code", "XZQDM")].astype(str).to_numpy(),
                             "county_name": county[spec.get("name", "XZQMC")].astype(str).to_numpy()},
                            geometry=county.geometry.to_numpy(), crs=project.crs)


def _township_zones(project: Project) -> gpd.GeoDataFrame | None:
    township = project.layers.get("township")
    if township is None:
        return None
    return gpd.GeoDataFrame({"township_row": np.arange(len(township))}, geometry=township.geometry.to_numpy(),
                            crs=project.crs)


def _village_zones(project: Project) -> gpd.GeoDataFrame | None:
    """The village polygons with ``village_row`` (position in the layer); None for point villages."""
    villages = project.layers.get("villages")
    if villages is None or not villages.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        return None
    return gpd.GeoDataFrame({"village_row": np.arange(len(villages))}, geometry=villages.geometry.to_numpy(),
                            crs=project.crs)


def _numbered(parts: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    parts = parts[parts.area > SLIVER_M2].reset_index(drop=True)
    parts["part"] = np.arange(len(parts))
    return parts


def county_parts(project: Project, patch_frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each patch split by the county polygons (``gpd.overlay(how="identity")``): one part per patch
    and county, plus the part outside every county (``county_code`` = ``county_name`` = "").
    """
    parts = _overlay(patch_frame, _county_zones(project), "identity")
    for column in ("county_code", "county_name"):
        if column not in parts:
            parts[column] = ""
        parts[column] = parts[column].astype(object).where(parts[column].notna(), "")
    return _numbered(parts)


def village_parts(project: Project, patch_frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Each patch split by the village polygons: one part per patch and village it reaches into
    (``village_row``).
    """
    return _numbered(_overlay(patch_frame, _village_zones(project), "intersection"))


def located_rows(project: Project, patch_frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The rows kmrv lists for the patches: each patch split at the county, then township, then village
    boundaries (identity overlays, so parts outside every zone stay), parts of at most
    :data:`SLIVER_M2` dropped. Only used to count patches per county.
    """
    rows = county_parts(project, patch_frame).drop(columns="part")
    rows = _overlay(rows, _township_zones(project), "identity")
    zones = _village_zones(project)
    rows = _overlay(rows, zones, "identity")
    return _numbered(rows)


def part_figures(project: Project, parts: gpd.GeoDataFrame) -> pd.DataFrame:
    """The figures (亩, area kind) of each located part, indexed by its ``part`` number.

    - ``area_mu`` = area(part);
    - ``approved_mu`` = area(part ∩ ∪approvals), ``illegal_mu`` = area(part − ∪approvals) — for
      ``nonagri`` parts, 0 for the others (NaN for both without an approvals layer);
    - ``illegal_on_pbf_mu`` = area((part − ∪approvals) ∩ ∪PBF) (``nonagri`` parts);
    - ``pbf_mu`` = area(part ∩ ∪PBF);
    - ``net_mu`` = Σ_p area(part ∩ p) × (1 − KCXS_p) over the T0 farmland parcels p, over the T1 parcels
      for ``supplement`` parts; ``illegal_net_mu`` the same for part − ∪approvals.
    """
    crs = project.crs
    index = parts["part"].to_numpy()
    approvals = _union_frame(project.layers.get("approvals"), crs)
    pbf = _union_frame(project.layers.get("pbf"), crs)
    slim = parts[["part", "change_class", "geometry"]]
    nonagri = slim[slim["change_class"] == "nonagri"]

    fig = pd.DataFrame(index=index)
    fig["area_mu"] = project.mu(parts)
    if approvals is not None:
        inside = _overlay(nonagri, approvals, "intersection")
        illegal = _overlay(nonagri, approvals, "difference")
        fig["approved_mu"] = _sum_by(inside["part"], project.mu(inside), index)
        fig["illegal_mu"] = _sum_by(illegal["part"], project.mu(illegal), index)
    else:
        illegal = nonagri
        fig["approved_mu"] = fig["illegal_mu"] = np.nan
    on_pbf = _overlay(slim, pbf, "intersection")
    fig["pbf_mu"] = _sum_by(on_pbf["part"], project.mu(on_pbf), index)
    illegal_pbf = _overlay(illegal[["part", "geometry"]], pbf, "intersection")
    fig["illegal_on_pbf_mu"] = _sum_by(illegal_pbf["part"], project.mu(illegal_pbf), index)

    t0, t1 = project.layers["landuse_t0"], project.layers["landuse_t1"]
    farm0 = t0.loc[t0["category"] == FARMLAND, ["ridge", "geometry"]]
    from_t0 = _overlay(slim[slim["change_class"] != "supplement"], farm0, "intersection")
    from_t1 = _overlay(slim[slim["change_class"] == "supplement"], t1[["ridge", "geometry"]], "intersection")
    net = pd.concat([from_t0, from_t1], ignore_index=True)
    fig["net_mu"] = _sum_by(net["part"], project.mu(net) * (1.0 - net["ridge"].to_numpy(dtype=float)), index)
    illegal_net = _overlay(illegal[["part", "geometry"]], farm0, "intersection")
    fig["illegal_net_mu"] = _sum_by(illegal_net["part"], project.mu(illegal_net) * (
        1.0 - illegal_net["ridge"].to_numpy(dtype=float)), index)
    return fig


@dataclass
class Located:
    """The patches located three ways: ``by_county`` and ``by_village`` (parts with ``figures``),
    ``rows`` (kmrv's listing, for counting).
    """

    by_county: gpd.GeoDataFrame
    county_figures: pd.DataFrame
    by_village: gpd.GeoDataFrame
    village_figures: pd.DataFrame
    rows: gpd.GeoDataFrame


def locate_patches(project: Project) -> Located:
    """Pieces → patches (at or above the minimum size) → parts by county, by village, kmrv rows."""
    patch_frame = patches(project)
    by_county = county_parts(project, patch_frame)
    by_village = village_parts(project, patch_frame)
    return Located(by_county=by_county, county_figures=part_figures(project, by_county),
                   by_village=by_village, village_figures=part_figures(project, by_village),
                   rows=located_rows(project, patch_frame))


# --------------------------------------------------------------------------------------------------
# The tables
# --------------------------------------------------------------------------------------------------

VIOLATION_COLUMNS = ["patches", "nonagri_mu", "approved_mu", "illegal_mu", "illegal_on_pbf_mu", "nongrain_mu",
                     "nongrain_on_pbf_mu", "supplement_mu", "other_mu", "no_t1_data_mu", "changed_on_pbf_mu",
                     "nonagri_net_mu", "illegal_net_mu", "nongrain_net_mu", "supplement_net_mu"]
NET_COLUMNS = {"nonagri_net_mu", "illegal_net_mu", "nongrain_net_mu", "supplement_net_mu", "farmland_net_mu",
               "hsf_on_farmland_net_mu"}
"""Columns net of ridges (KCXS): left out when the land-use layers do not carry it (``farmland_coverage``
stays: with the coefficient taken as 0 it is hsf_on_farmland / farmland)."""


def violations_by_county(project: Project, located: Located | None = None) -> pd.DataFrame:
    """Change patches per county (``county_code``, ``county_name``; one row per county that has parts,
    "" for parts outside every county).

    Patches (see :func:`patches`) are split by the county polygons; a county's figures are the areas of
    the parts inside it (:func:`part_figures`):

    - ``patches``: number of located rows in the county (split at county, township and village
      boundaries, as kmrv lists them: :func:`located_rows`);
    - ``nonagri_mu``, ``nongrain_mu``, ``supplement_mu``, ``other_mu``, ``no_t1_data_mu``: area of the
      parts of each class;
    - ``approved_mu`` = area(nonagri part ∩ ∪approvals); ``illegal_mu`` = area(nonagri part − ∪approvals);
    - ``illegal_on_pbf_mu`` = area((nonagri part − ∪approvals) ∩ ∪PBF): only the illegal part on PBF;
    - ``nongrain_on_pbf_mu`` = area(nongrain part ∩ ∪PBF);
    - ``changed_on_pbf_mu`` = area(part ∩ ∪PBF) over every class except supplement;
    - ``nonagri_net_mu``, ``illegal_net_mu``, ``nongrain_net_mu`` = Σ over T0 farmland parcels p of
      area(part ∩ p) × (1 − KCXS_p) (for illegal: of (part − ∪approvals) ∩ p); ``supplement_net_mu`` the
      same with the T1 parcels' KCXS (net of field ridges 田坎; only when the layers carry KCXS).
    """
    located = locate_patches(project) if located is None else located
    table = located.by_county[["part", "county_code", "county_name", "change_class"]].join(
        located.county_figures, on="part")
    cls = table["change_class"]

    def only(mask, column):
        return table[column].where(mask, 0.0)

    per_part = pd.DataFrame({
        "county_code": table["county_code"], "county_name": table["county_name"],
        "nonagri_mu": only(cls == "nonagri", "area_mu"),
        "approved_mu": only(cls == "nonagri", "approved_mu"),
        "illegal_mu": only(cls == "nonagri", "illegal_mu"),
        "illegal_on_pbf_mu": only(cls == "nonagri", "illegal_on_pbf_mu"),
        "nongrain_mu": only(cls == "nongrain", "area_mu"),
        "nongrain_on_pbf_mu": only(cls == "nongrain", "pbf_mu"),
        "supplement_mu": only(cls == "supplement", "area_mu"),
        "other_mu": only(cls == "other", "area_mu"),
        "no_t1_data_mu": only(cls == "no_t1_data", "area_mu"),
        "changed_on_pbf_mu": only(cls != "supplement", "pbf_mu"),
        "nonagri_net_mu": only(cls == "nonagri", "net_mu"),
        "illegal_net_mu": only(cls == "nonagri", "illegal_net_mu"),
        "nongrain_net_mu": only(cls == "nongrain", "net_mu"),
        "supplement_net_mu": only(cls == "supplement", "net_mu"),
    })  # fmt: skip
    keys = ["county_code", "county_name"]
    out = per_part.groupby(keys).sum()
    counts = located.rows.groupby(keys).size().rename("patches")
    out = out.join(counts, how="outer").fillna(0.0).reset_index()
    out["patches"] = out["patches"].astype(int)
    columns = [c for c in VIOLATION_COLUMNS if project.has_ridges or c not in NET_COLUMNS]
    return out[keys + columns].sort_values(keys, ignore_index=True)


def _coverage_figures(project: Project, zones: gpd.GeoDataFrame, key: str) -> pd.DataFrame:
    """The coverage figures of each zone (rows: the distinct values of ``zones[key]``)."""
    crs = project.crs
    index = pd.unique(zones[key])
    pbf = _union_frame(project.layers.get("pbf"), crs)
    hsf = _union_frame(project.layers.get("hsf"), crs)
    t1 = project.layers["landuse_t1"]
    farm1 = t1.loc[t1["category"] == FARMLAND, ["ridge", "geometry"]]
    slim = zones[[key, "geometry"]]

    def area(frame, weight=None):
        values = project.mu(frame)
        if weight is not None:
            values = values * (1.0 - frame[weight].to_numpy(dtype=float))
        return _sum_by(frame[key], values, index)

    out = pd.DataFrame(index=index)
    out["pbf_mu"] = area(_overlay(slim, pbf, "intersection"))
    out["hsf_mu"] = area(_overlay(slim, hsf, "intersection"))
    hsf_pbf = _overlay(hsf, pbf, "intersection") if hsf is not None and pbf is not None else None
    out["hsf_on_pbf_mu"] = area(_overlay(slim, hsf_pbf, "intersection"))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pbf_coverage"] = np.where(out["pbf_mu"] > 0, out["hsf_on_pbf_mu"] / out["pbf_mu"], np.nan)
    out["pbf_gap_mu"] = out["pbf_mu"] - out["hsf_on_pbf_mu"]
    farm_in = _overlay(farm1, slim, "intersection")
    out["farmland_mu"] = area(farm_in)
    out["farmland_net_mu"] = area(farm_in, "ridge")
    hsf_farm = _overlay(farm_in, hsf, "intersection")
    out["hsf_on_farmland_mu"] = area(hsf_farm)
    out["hsf_on_farmland_net_mu"] = area(hsf_farm, "ridge")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["farmland_coverage"] = np.where(out["farmland_net_mu"] > 0,
                                            out["hsf_on_farmland_net_mu"] / out["farmland_net_mu"], np.nan)
    if not project.has_ridges:
        out = out.drop(columns=[c for c in out.columns if c in NET_COLUMNS])
    return out


COVERAGE_COLUMNS = ["pbf_mu", "hsf_mu", "hsf_on_pbf_mu", "pbf_coverage", "pbf_gap_mu", "farmland_mu",
                    "farmland_net_mu", "hsf_on_farmland_mu", "hsf_on_farmland_net_mu", "farmland_coverage"]


def coverage_by_county(project: Project) -> pd.DataFrame:
    """HSF coverage per county (every county of the layer; PBF and HSF dissolved first).

    - ``pbf_mu`` = area(∪PBF ∩ county); ``hsf_mu`` = area(∪HSF ∩ county);
    - ``hsf_on_pbf_mu`` = area(∪HSF ∩ ∪PBF ∩ county); ``pbf_coverage`` = hsf_on_pbf / pbf;
      ``pbf_gap_mu`` = pbf − hsf_on_pbf;
    - ``farmland_mu`` = Σ area(T1 farmland parcel ∩ county); ``farmland_net_mu`` = Σ area(T1 farmland
      parcel ∩ county) × (1 − KCXS);
    - ``hsf_on_farmland_mu`` = Σ area(∪HSF ∩ T1 farmland parcel ∩ county), ``hsf_on_farmland_net_mu`` the
      same net of ridges (T1 KCXS); ``farmland_coverage`` = hsf_on_farmland_net / farmland_net.
    """
    zones = _county_zones(project)
    zones["county"] = zones["county_code"] + "\x1f" + zones["county_name"]
    figures = _coverage_figures(project, zones, "county")
    keys = pd.Series(figures.index, dtype=object).str.split("\x1f", n=1, expand=True)
    out = figures.reset_index(drop=True)
    out.insert(0, "county_name", keys[1].to_numpy())
    out.insert(0, "county_code", keys[0].to_numpy())
    columns = [c for c in COVERAGE_COLUMNS if c in out.columns]
    return out[["county_code", "county_name"] + columns].sort_values(["county_code", "county_name"],
                                                                     ignore_index=True)


VILLAGE_COLUMNS = ["area_mu", "farmland_mu", "farmland_net_mu", "pbf_mu", "hsf_on_pbf_mu", "pbf_gap_mu",
                   "construction_t1_mu", "new_construction_mu", "illegal_mu", "nongrain_mu",
                   "nongrain_on_pbf_mu"]


def villages_profile(project: Project, located: Located | None = None) -> pd.DataFrame:
    """The area figures of each village (one row per village polygon, in layer order; ``village``
    holds the name).

    - ``area_mu``: the village polygon;
    - ``farmland_mu``, ``farmland_net_mu``, ``pbf_mu``, ``hsf_on_pbf_mu``, ``pbf_gap_mu``: as in
      :func:`coverage_by_county`, with the village polygon as the zone;
    - ``construction_t1_mu`` = Σ area(T1 construction parcel ∩ village);
      ``new_construction_mu`` = Σ area((T1 construction parcel ∩ village) − ∪T0 construction);
    - ``illegal_mu``, ``nongrain_mu``, ``nongrain_on_pbf_mu``: as in :func:`violations_by_county`,
      summed over the patch parts inside the village (patches split by the village polygons; patches
      below the minimum size left out).
    """
    villages = _village_zones(project)
    if villages is None:
        raise ValueError("the villages layer holds no polygons: no area profile")
    spec = project.specs["villages"]
    index = villages["village_row"].to_numpy()
    names = project.layers["villages"][spec.get("name", "CMC")].astype(str).to_numpy()
    out = pd.DataFrame({"village": names}, index=index)
    out["area_mu"] = project.mu(villages)
    out = out.join(_coverage_figures(project, villages, "village_row"))

    t0, t1 = project.layers["landuse_t0"], project.layers["landuse_t1"]
    built1 = t1.loc[t1["category"] == CONSTRUCTION, ["geometry"]]
    built0 = _union_frame(t0[t0["category"] == CONSTRUCTION], project.crs)
    inside = _overlay(built1, villages, "intersection")
    out["construction_t1_mu"] = _sum_by(inside["village_row"], project.mu(inside), index)
    new = _overlay(inside, built0, "difference")
    out["new_construction_mu"] = _sum_by(new["village_row"], project.mu(new), index)

    located = locate_patches(project) if located is None else located
    table = located.by_village[["part", "village_row", "change_class"]].join(located.village_figures,
                                                                             on="part")
    rows, cls = table["village_row"], table["change_class"]
    out["illegal_mu"] = _sum_by(rows, table["illegal_mu"].where(cls == "nonagri", 0.0), index)
    out["nongrain_mu"] = _sum_by(rows, table["area_mu"].where(cls == "nongrain", 0.0), index)
    out["nongrain_on_pbf_mu"] = _sum_by(rows, table["pbf_mu"].where(cls == "nongrain", 0.0), index)
    columns = [c for c in VILLAGE_COLUMNS if c in out.columns]
    return out[["village"] + columns].reset_index(drop=True)


def all_tables(config_path: str | Path) -> dict[str, pd.DataFrame]:
    """The three tables of a project file: ``violations_by_county``, ``coverage_by_county``,
    ``villages_profile`` (the change patches are computed once for both that use them).
    """
    project = load_project(config_path)
    located = locate_patches(project)
    return {
        "violations_by_county": violations_by_county(project, located),
        "coverage_by_county": coverage_by_county(project),
        "villages_profile": villages_profile(project, located),
    }


# --------------------------------------------------------------------------------------------------
# Village plan review
# --------------------------------------------------------------------------------------------------

PLAN_CONSTRUCTION = tuple(f"{n:02d}" for n in range(7, 17))
"""用地用海 level-1 codes of planned construction (07–16)."""
PLAN_NON_AGRICULTURAL = PLAN_CONSTRUCTION + ("03", "04", "05") + tuple(f"{n}" for n in range(17, 26))
"""Plan codes of a non-agricultural class (construction, ecological, water, other); 01, 02, 06 are agricultural."""
BUILT_EXEMPT = ("10", "1109", "1201")
"""T1 codes not counted as built for the construction-boundary finding (roads, water works, vacant land)."""


def village_review(project: Project) -> pd.DataFrame:
    """Planar m² per village (``village_key`` = the village code) and finding, for three findings.

    - ``built_outside_boundary``: T1 construction (codes not starting with 10, 1109 or 1201) inside a
      village reached by a construction boundary, minus every boundary;
    - ``planned_in_udb``: plan polygons coded 07–16 ∩ the urban development boundary, in villages whose plan
      covers at least half of them;
    - ``planned_farmland_loss``: T1 farmland ∩ plan polygons of a non-agricultural code, same villages.

    Returns
    -------
    DataFrame
        ``village_key``, ``finding``, ``area_m2`` (rows above 1 m²).
    """
    layers, crs = project.layers, project.crs
    code_field = project.specs["villages"].get("code", "CUNDM")
    villages = gpd.GeoDataFrame({"village_key": layers["villages"][code_field].astype(str).to_numpy()},
                                geometry=layers["villages"].geometry.to_numpy(), crs=crs)
    t1 = layers["landuse_t1"]
    plan = layers["village_plan"]
    plan_code = plan[project.specs["village_plan"]["code"]].astype(str).str.strip()
    rows = []

    def add(finding: str, pieces: gpd.GeoDataFrame, eligible: set) -> None:
        located = _overlay(pieces[["geometry"]], villages, "intersection")
        located = located[located["village_key"].isin(eligible)]
        for key, area in located.groupby("village_key").apply(lambda g: g.area.sum(), include_groups=False).items():
            if area > 1.0:
                rows.append({"village_key": key, "finding": finding, "area_m2": float(area)})

    boundary = _union_frame(layers["village_boundary"], crs)
    reached = _overlay(villages, boundary, "intersection")
    with_boundary = set(reached.loc[reached.area > 1.0, "village_key"])
    codes = t1["code"].fillna("")
    built = t1[(t1["category"] == CONSTRUCTION) & ~codes.str.startswith(BUILT_EXEMPT)]
    add("built_outside_boundary", _overlay(built[["geometry"]], boundary, "difference"), with_boundary)

    covered = _overlay(villages, _union_frame(plan, crs), "intersection")
    share = covered.set_index("village_key").area / villages.set_index("village_key").area.reindex(
        covered["village_key"]).to_numpy()
    with_plan = set(share[share >= 0.5].index)
    construction = plan[plan_code.str.startswith(PLAN_CONSTRUCTION).to_numpy()]
    add("planned_in_udb", _overlay(construction[["geometry"]], _union_frame(layers["udb"], crs), "intersection"),
        with_plan)
    non_agricultural = _union_frame(plan[plan_code.str.startswith(PLAN_NON_AGRICULTURAL).to_numpy()], crs)
    farmland = t1[t1["category"] == FARMLAND]
    add("planned_farmland_loss", _overlay(farmland[["geometry"]], non_agricultural, "intersection"), with_plan)
    return pd.DataFrame(rows, columns=["village_key", "finding", "area_m2"])
