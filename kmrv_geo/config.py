"""The project file: which layers play which role, the analysis CRS and the thresholds.

A project file is YAML (see ``layers/demo.yml``)::

    name: 昆明市示范
    crs: auto                 # or e.g. EPSG:4543; auto = CGCS2000 3-degree GK zone of the data's centre
    layers:                   # roles; each: path, optional layer, optional field mapping, optional encoding
      county:     {path: demo.gpkg, layer: county, code: XZQDM, name: XZQMC}
      landuse_t0: {path: demo.gpkg, layer: landuse_2022, code: DLBM, year: 2022}
      ndvi:       {path: "ndvi_{year}.tif", years: [2019, 2020, 2021, 2022, 2023]}
    thresholds:
      min_patch_m2: {construction: 200, agricultural: 400, other: 600}
      facility_site_min_mu: 30

Relative paths resolve against the folder of the config file. Unknown keys, unknown roles, missing
files and wrong types are collected and raised together as one :class:`~kmrv_geo.errors.ConfigError`
that lists what is accepted and what is there.
"""

from __future__ import annotations

import difflib
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pyproj import CRS
from pyproj.exceptions import CRSError as PyprojCRSError

from .crs import KUNMING_BBOX
from .errors import ConfigError, join_problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_crs_text(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        CRS.from_user_input(value)
    except PyprojCRSError as exc:
        raise ValueError(f"{value!r} is not a CRS pyproj knows (use e.g. EPSG:4543 or EPSG:4490): {exc}") from None
    return value


class VectorLayerSpec(_Strict):
    """A vector layer and the fields that hold what its role needs.

    Attributes
    ----------
    path : str
        File path (relative to the config file's folder): .gpkg, .shp, .geojson, .parquet, .gdb; or a PostGIS
        database, ``postgresql://USER@HOST:5432/DB`` or GDAL's ``PG:host=… dbname=… user=…`` — never with a
        password (libpq takes it from ``PGPASSWORD`` or ``~/.pgpass``; see :mod:`kmrv_geo.postgis`).
    layer : str, optional
        Layer name inside a multi-layer file (GeoPackage, FileGDB); for a database the table,
        ``schema.table``.
    encoding : str, optional
        Text encoding of a Shapefile without ``.cpg`` when detection is not wanted (e.g. GBK).
    crs : str, optional
        The layer's CRS when the file has none or a wrong one (e.g. ``EPSG:4543``).
    id, code, name, category : str, optional
        Field names of the feature id, the land-use or admin code, the name, and the village category.
    year : int or str, optional
        The layer's date (an int, e.g. 2022 for land use) or the field holding a year (e.g. ``JSND`` for
        HSF construction year).
    ridge_share, ridge_area, parcel_area, net_area : str, optional
        Land use only: the 三调 area fields behind net farmland figures — 扣除地类系数 (``KCXS``, 二调
        ``TKXS``), 扣除地类面积 (``KCMJ``/``TKMJ``), 图斑面积 (``TBMJ``, m², ellipsoidal) and 图斑地类面积
        (``TBDLMJ``). Found by these standard names when not given; ``false``-like empty string turns
        the search off. See :mod:`kmrv_geo.ridges`.
    ref : str, optional
        Approval-like layers (``approvals``, ``facility_filings``, ``temporary_use``,
        ``supplement_projects``): the document-number field (批准文号 ``PZWH``, 备案编号 ``BAH``, 项目编号
        ``XMBH``); found by these standard names when not given.
    end_date : str, optional
        ``temporary_use``: the field holding each permit's end date (``JSRQ``).
    level : str, optional
        ``lake_zones``: the field holding each zone's level (一级/二级/三级 or 1/2/3).
    theme : str, optional
        ``villages``: the field holding a village's theme (主题, "一村一特色").
    before_code, date : str, optional
        ``patches``: the before-use code field (``BGQDLBM``/``BGQDL``) and the after image date field
        (``HSX``); ``code`` is the after-use code (``BGHDLBM``/``BGHDL``) and ``id`` the patch number
        (``JCBH``). Found by these standard names when not given.
    """

    path: str
    layer: str | None = None
    encoding: str | None = None
    crs: str | None = None
    id: str | None = None
    code: str | None = None
    name: str | None = None
    category: str | None = None
    year: int | str | None = None
    ridge_share: str | None = None
    ridge_area: str | None = None
    parcel_area: str | None = None
    net_area: str | None = None
    ref: str | None = None
    end_date: str | None = None
    before_code: str | None = None
    date: str | None = None
    level: str | None = None
    theme: str | None = None

    _crs_ok = field_validator("crs")(_check_crs_text)

    def fields(self) -> dict[str, str]:
        """The field mapping given for this layer: ``{key: field name}`` for id, code, name, category, ref,
        end_date, before_code, date, level, theme and a string ``year``.
        """
        out = {k: getattr(self, k) for k in ("id", "code", "name", "category", "ref", "end_date", "before_code", "date",
                                             "level", "theme") if getattr(self, k)}
        if isinstance(self.year, str):
            out["year"] = self.year
        return out


LANDCOVER_CLASS_NAMES = ("cropland", "forest", "shrub", "grassland", "water", "snow/ice", "barren", "impervious",
                         "wetland")
"""Class names a land-cover ``classes:`` mapping may use (CLCD's, which ESA WorldCover/Dynamic World map onto)."""


class RasterLayerSpec(_Strict):
    """A classified land-cover raster.

    Attributes
    ----------
    path : str
        GeoTIFF (or any GDAL raster) path.
    classes : str or dict
        ``clcd`` (built in) or a mapping ``{pixel value: class name}``.
    crs : str, optional
        The raster's CRS when the file has none.
    """

    path: str
    classes: Literal["clcd"] | dict[int, str] = "clcd"
    crs: str | None = None
    _crs_ok = field_validator("crs")(_check_crs_text)

    @field_validator("classes")
    @classmethod
    def _known_class_names(cls, classes):
        if isinstance(classes, dict):
            unknown = sorted({name for name in classes.values() if name not in LANDCOVER_CLASS_NAMES})
            if unknown:
                raise ValueError(f"unknown class names {unknown}; use {', '.join(LANDCOVER_CLASS_NAMES)}")
            if "cropland" not in classes.values():
                raise ValueError("the classes mapping has no 'cropland' value: nothing to detect change from")
        return classes


class NdviSpec(_Strict):
    """Yearly NDVI rasters: a path template with ``{year}`` (one file per year) or one multi-band file.

    Attributes
    ----------
    path : str
        E.g. ``ndvi_{year}.tif``; without ``{year}``, band *i* holds ``years[i]``.
    years : list of int
        The years, ascending.
    scale : float, optional
        Multiply stored values by this to get NDVI in −1…1 (e.g. 0.0001 for 0–10000 scaling).
    crs : str, optional
        The rasters' CRS when the files have none.
    """

    path: str
    years: list[int] = Field(min_length=1)
    scale: float | None = None
    crs: str | None = None
    _crs_ok = field_validator("crs")(_check_crs_text)

    @field_validator("years")
    @classmethod
    def _ascending(cls, years: list[int]) -> list[int]:
        if sorted(set(years)) != years:
            raise ValueError(f"years must be distinct and ascending, got {years}")
        return years

    def paths(self) -> dict[int, str]:
        """Path per year (all the same path for a multi-band file)."""
        return {year: self.path.replace("{year}", str(year)) for year in self.years}


VECTOR_ROLES: dict[str, tuple[str, ...]] = {
    "county": ("code", "name"),
    "township": (),
    "villages": ("name",),
    "landuse_t0": ("code",),
    "landuse_t1": ("code",),
    "pbf": (),
    "hsf": (),
    "approvals": (),
    "facility_filings": (),
    "temporary_use": (),
    "supplement_projects": (),
    "erl": (),
    "udb": (),
    "patches": (),
    "village_plan": ("code",),
    "village_boundary": (),
    "lake_zones": ("level",),
    "lake": (),
    "protection_zones": (),
}
"""Vector roles and the field keys each one requires in the config."""
RASTER_ROLES = ("landcover_t0", "landcover_t1")
NDVI_ROLE = "ndvi"
ROLE_LABELS = {
    "county": "区县", "township": "乡镇", "villages": "村庄", "landuse_t0": "前时相地类", "landuse_t1": "后时相地类",
    "pbf": "永久基本农田", "hsf": "高标准农田", "approvals": "农用地转用/土地征收批准范围",
    "facility_filings": "设施农用地备案", "temporary_use": "临时用地", "supplement_projects": "补充耕地项目",
    "erl": "生态保护红线", "udb": "城镇开发边界", "patches": "监测图斑", "village_plan": "村庄规划用地",
    "village_boundary": "村庄建设边界",
    "lake_zones": "滇池保护分区", "lake": "滇池", "protection_zones": "保护区",
    "landcover_t0": "前时相土地覆盖", "landcover_t1": "后时相土地覆盖", "ndvi": "NDVI",
}  # fmt: skip


class MinPatch(_Strict):
    """Minimum mapped patch size (m², in the run's area kind) per class of the T1 use (三调 minimum mapping
    units): construction and facility agriculture land (设施农用地 1202) 200 m², other agricultural land
    400 m², other land 600 m².
    """

    construction: float = Field(200.0, ge=0)
    facility: float = Field(200.0, ge=0)
    agricultural: float = Field(400.0, ge=0)
    other: float = Field(600.0, ge=0)


class Thresholds(_Strict):
    """Thresholds of the analyses (defaults from ``shared/DOMAIN.md``).

    Attributes
    ----------
    min_patch_m2 : MinPatch
        Minimum mapped patch sizes; smaller change patches go to ``below_min_patches``.
    facility_site_min_mu : float
        Smallest contiguous farmland block (亩) that counts as a facility-agriculture site.
    site_join_width_m : float
        Farmland parcels separated by a ridge, ditch or rural road up to this width (m) are one block.
    min_overlap_share : float
        Smallest share of the smaller of T0/T1 land use that must overlap the other.
    tbmj_tolerance : float
        Land-use parcels whose recorded 图斑面积 (``TBMJ``) differs from the ellipsoidal area of their
        geometry by more than this share (default 0.001 = 0.1 %) are listed: the geometry was edited
        without updating the attributes, or the CRS is wrong.
    """

    min_patch_m2: MinPatch = MinPatch()
    facility_site_min_mu: float = Field(30.0, gt=0)
    site_join_width_m: float = Field(2.0, ge=0)
    min_overlap_share: float = Field(0.5, ge=0, le=1)
    tbmj_tolerance: float = Field(0.001, gt=0, lt=1)


class LandcoverSettings(_Strict):
    """Raster land-cover change detection.

    Attributes
    ----------
    min_pixels : int
        Changed-pixel clusters (8-connected) smaller than this are classification noise and are not
        turned into change patches (they still count in the per-parcel shares). Default 3: single
        mis-classified pixels and pairs are common in annual 30 m products.
    """

    min_pixels: int = Field(3, ge=1)


class AbandonmentSettings(_Strict):
    """撂荒 (abandoned farmland) from yearly growing-season NDVI.

    Attributes
    ----------
    ndvi_max : float
        A parcel-year is "low" when the parcel's growing-season mean NDVI is below this. Default 0.35:
        cropped fields in the growing season reach 0.5 and more, bare or fallow soil 0.1–0.3.
    min_years : int
        Abandoned = low for at least this many consecutive years (default 2; one low year is fallow,
        rotation or a failed crop).
    min_valid_share : float
        Share of a parcel's area that must have valid pixels for its yearly value to count; a parcel-
        year below it is "no data", which breaks a run of low years. Default 0.5.
    """

    ndvi_max: float = Field(0.35, gt=-1, lt=1)
    min_years: int = Field(2, ge=1)
    min_valid_share: float = Field(0.5, gt=0, le=1)


VERDICTS = ("legal", "illegal", "to_check")
"""Verdicts of judged monitoring patches (合法 / 违法 / 待核实), least severe first."""


class JudgeSettings(_Strict):
    """Judging monitoring patches (卫片执法, ``kmrv judge``).

    Attributes
    ----------
    as_of : date, optional
        The date temporary-use permits are judged at when a patch has no after image date (``HSX``);
        without either, a permit's validity is left to the field check. Never today's date: results
        must not change with the day they are run.
    verdicts : dict
        Reason code → verdict overrides of the default rules (:data:`kmrv_geo.analysis.judge_rules.REASONS`),
        e.g. ``{nongrain_general: legal, pbf_conversion_approved: illegal}``.
    min_part_m2 : float
        Parts of a patch smaller than this (m²) do not change its verdict (misaligned boundaries leave
        slivers); their area still counts in the figures. Default 1 m².
    """

    as_of: date | None = None
    verdicts: dict[str, Literal["legal", "illegal", "to_check"]] = {}
    min_part_m2: float = Field(1.0, ge=0)

    @field_validator("verdicts")
    @classmethod
    def _known_reasons(cls, verdicts: dict) -> dict:
        from .analysis.judge_rules import CONFIGURABLE

        unknown = sorted(set(verdicts) - set(CONFIGURABLE))
        if unknown:
            near = {code: difflib.get_close_matches(code, CONFIGURABLE, n=1) for code in unknown}
            hints = "; ".join(f"{code}: did you mean {m[0]}?" for code, m in near.items() if m)
            raise ValueError(f"unknown reason codes {unknown}" + (f" ({hints})" if hints else "")
                             + f"; the codes whose verdict can be set: {', '.join(CONFIGURABLE)}")
        return verdicts


PLAN_CLASSES = ("construction", "agricultural", "ecological", "water", "other")
"""What a village plan's 用地用海 code counts as for the review."""


class BoundaryFromPlan(_Strict):
    """Take the village construction boundary (村庄建设边界) from plan polygons instead of a layer of its own.

    Attributes
    ----------
    field : str, optional
        The plan field holding the flag (e.g. ``CZJSBJ``); default the plan's code field.
    values : list of str
        Values that mark a polygon as inside the boundary: with the code field, code prefixes (``["07", "08"]``);
        with another field, exact values (``["1", "是"]``).
    """

    field: str | None = None
    values: list[str] = Field(min_length=1)


class VillagePlanningSettings(_Strict):
    """The village plan review (``kmrv villages`` with ``village_plan``, ``village_boundary``, ``lake_zones``).

    Attributes
    ----------
    classes : dict, optional
        用地用海 code prefixes per class (construction, agricultural, ecological, water, other), replacing the
        defaults of :data:`kmrv_geo.analysis.village_plan.DEFAULT_PLAN_CLASSES` for the classes given.
    boundary_from_plan : BoundaryFromPlan, optional
        Take the construction boundary from the plan layer (when there is no ``village_boundary`` layer).
    boundary_exempt : list of str
        T1 (三调) code prefixes not counted as built for the boundary findings: roads and water works run
        outside village boundaries by design, and vacant land is no building (default 10 交通运输, 1109 水工建筑,
        1201 空闲地).
    lake_zone_buffers_m : list of float, optional
        Without a ``lake_zones`` layer: approximate zone 1 and zone 2 as the lake plus these widths (m) around
        its outline (``lake`` role). Every output then says the zones are an approximation.
    """

    classes: dict[Literal["construction", "agricultural", "ecological", "water", "other"], list[str]] = {}
    boundary_from_plan: BoundaryFromPlan | None = None
    boundary_exempt: list[str] = ["10", "1109", "1201"]
    lake_zone_buffers_m: tuple[float, float] | None = None

    @field_validator("lake_zone_buffers_m")
    @classmethod
    def _increasing(cls, widths):
        if widths is not None and not 0 <= widths[0] < widths[1]:
            raise ValueError(f"give [zone 1 width, zone 2 width] in metres, increasing, got {list(widths)}")
        return widths


class StudyAreaSpec(_Strict):
    """The lon/lat box every layer must touch (default Kunming); a layer far outside is mislabelled."""

    name: str = "昆明市 Kunming"
    bbox: tuple[float, float, float, float] = KUNMING_BBOX

    @model_validator(mode="after")
    def _ordered(self) -> StudyAreaSpec:
        minx, miny, maxx, maxy = self.bbox
        if not (minx < maxx and miny < maxy):
            raise ValueError(f"bbox must be [min lon, min lat, max lon, max lat], got {list(self.bbox)}")
        return self


class LanduseClassesSpec(_Strict):
    """Replacement code patterns per land-use category (see :class:`kmrv_geo.landuse.LanduseClasses`)."""

    farmland: list[str] | None = None
    other_agricultural: list[str] | None = None
    construction: list[str] | None = None
    other: list[str] | None = None


class BalancesSpec(_Strict):
    """Which T0 land-use categories of new farmland count for 占补平衡 and for 进出平衡 (project rule).

    Since 2026 Yunnan folds tree, fruit and tea planting into 占补平衡 ("以补定占"): add
    ``other_agricultural`` to ``supplement_sources`` to follow it.
    """

    supplement_sources: list[Literal["construction", "other", "unknown", "other_agricultural"]] = [
        "construction", "other", "unknown",
    ]
    back_in_sources: list[Literal["construction", "other", "unknown", "other_agricultural"]] = ["other_agricultural"]


class ProjectConfig(_Strict):
    """A validated project file. Build it with :func:`load_config`.

    Attributes
    ----------
    name : str
        Project name shown in maps and reports.
    synthetic : bool
        True for the generated sample: every map and report then says 示例数据 (synthetic).
    notice : str, optional
        Notice line on shared maps, e.g. 内部资料 注意保密.
    basemap : str
        Basemap of the maps: none, osm (default), tianditu, tianditu-img, gaode (overlays shifted to
        GCJ-02) or esri.
    tianditu_key : str, optional
        天地图 ``tk`` key (the environment variable ``KMRV_TIANDITU_KEY`` takes precedence).
    map_decimals : int
        Coordinate decimals written into maps, 3–6 (6 ≈ 0.1 m, 5 ≈ 1 m, 4 ≈ 10 m): fewer for maps
        shared outside the office.
    crs : str
        ``auto`` or a projected CRS in metres (the analysis CRS).
    area : {"ellipsoidal", "planar"}
        How every area figure is measured (default ``ellipsoidal``: on the CGCS2000 ellipsoid, as
        三调 and official statistics count; ``planar``: in the analysis CRS). Layers carry both.
    layers : dict
        Role → layer spec.
    thresholds : Thresholds
    study_area : StudyAreaSpec
    landuse_classes : LanduseClassesSpec, optional
    balances : BalancesSpec
    landcover : LandcoverSettings
    abandonment : AbandonmentSettings
    judge : JudgeSettings
    village_planning : VillagePlanningSettings
    base_dir : Path
        Folder of the config file (relative paths resolve against it); set by :func:`load_config`.
    source : Path, optional
        The config file itself.
    """

    name: str = "kmrv project"
    synthetic: bool = False
    notice: str | None = None
    basemap: str = "osm"
    tianditu_key: str | None = None
    map_decimals: int = Field(6, ge=3, le=6)
    crs: str = "auto"
    area: Literal["ellipsoidal", "planar"] = "ellipsoidal"
    layers: dict[str, VectorLayerSpec | RasterLayerSpec | NdviSpec]
    thresholds: Thresholds = Thresholds()
    study_area: StudyAreaSpec = StudyAreaSpec()
    landuse_classes: LanduseClassesSpec | None = None
    balances: BalancesSpec = BalancesSpec()
    landcover: LandcoverSettings = LandcoverSettings()
    abandonment: AbandonmentSettings = AbandonmentSettings()
    judge: JudgeSettings = JudgeSettings()
    village_planning: VillagePlanningSettings = VillagePlanningSettings()
    base_dir: Path = Field(default=Path("."), exclude=True)
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("basemap")
    @classmethod
    def _known_basemap(cls, value: str) -> str:
        from .webmap.basemaps import BASEMAPS

        if value not in BASEMAPS:
            raise ValueError(f"unknown basemap {value!r}; allowed: {', '.join(BASEMAPS)}")
        return value

    @field_validator("crs")
    @classmethod
    def _crs_auto_or_projected(cls, value: str) -> str:
        if value == "auto":
            return value
        _check_crs_text(value)
        crs = CRS.from_user_input(value)
        if not crs.is_projected:
            raise ValueError(
                f"the analysis CRS must be projected in metres, {value} is geographic; use auto or e.g. EPSG:4543"
            )
        return value

    def resolve(self, path: str) -> Path:
        """Absolute path of a config-relative path."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def vector_layers(self) -> dict[str, VectorLayerSpec]:
        """The vector roles that are configured, in the canonical role order."""
        return {r: self.layers[r] for r in VECTOR_ROLES if r in self.layers}

    def raster_layers(self) -> dict[str, RasterLayerSpec]:
        """The land-cover raster roles that are configured."""
        return {r: self.layers[r] for r in RASTER_ROLES if r in self.layers}

    def ndvi(self) -> NdviSpec | None:
        """The NDVI spec, if configured."""
        spec = self.layers.get(NDVI_ROLE)
        return spec if isinstance(spec, NdviSpec) else None

    def area_measure(self, analysis_crs: str):
        """The :class:`~kmrv_geo.units.AreaMeasure` of this project's figures (``area:``, centred on the
        study area).
        """
        from .units import AreaMeasure

        x0, y0, x1, y1 = self.study_area.bbox
        return AreaMeasure(analysis_crs, self.area, ((x0 + x1) / 2, (y0 + y1) / 2))

    def landuse_classes_model(self):
        """The :class:`~kmrv_geo.landuse.LanduseClasses` in force (defaults with config overrides)."""
        from .landuse import DEFAULT_CLASSES, LanduseClasses

        if self.landuse_classes is None:
            return DEFAULT_CLASSES
        overrides = {k: tuple(v) for k, v in self.landuse_classes.model_dump().items() if v is not None}
        return LanduseClasses(**overrides)


_ROLE_MODELS = {**{r: VectorLayerSpec for r in VECTOR_ROLES}, **{r: RasterLayerSpec for r in RASTER_ROLES}}
_ROLE_MODELS[NDVI_ROLE] = NdviSpec


_INTERNAL_KEYS = ("base_dir", "source")


def _model_keys(model: type[BaseModel]) -> str:
    return ", ".join(k for k in model.model_fields if k not in _INTERNAL_KEYS)


def _validate_layers(raw_layers: Any, problems: list[str]) -> dict[str, BaseModel]:
    """Validate the ``layers`` mapping role by role, collecting problems."""
    if not isinstance(raw_layers, dict) or not raw_layers:
        problems.append(
            "layers: must be a mapping of roles to layers with at least one role, e.g. "
            "'layers: {county: {path: counties.gpkg, code: XZQDM, name: XZQMC}}'"
        )
        return {}
    known = list(_ROLE_MODELS)
    layers: dict[str, BaseModel] = {}
    for role, raw in raw_layers.items():
        model = _ROLE_MODELS.get(role)
        if model is None:
            near = difflib.get_close_matches(str(role), known, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            problems.append(f"layers.{role}: unknown role{hint}; known roles: {', '.join(known)}")
            continue
        if isinstance(raw, str):
            raw = {"path": raw}
        if not isinstance(raw, dict):
            problems.append(f"layers.{role}: must be a mapping with at least 'path', got {raw!r}")
            continue
        try:
            spec = model.model_validate(raw)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, prefix=f"layers.{role}", model=model))
            continue
        problems.extend(_database_problems(role, spec))
        required = VECTOR_ROLES.get(role, ())
        missing = [key for key in required if not getattr(spec, key, None)]
        if missing:
            problems.append(
                f"layers.{role}: needs the field mapping {', '.join(missing)} (the name of the field in the "
                f"file holding it), e.g. {role}: {{path: {spec.path}, "
                + ", ".join(f"{k}: FIELD" for k in missing)
                + "}"
            )
        layers[role] = spec
    return layers


def _database_problems(role: str, spec: BaseModel) -> list[str]:
    """A database layer: a connection without password that libpq can read, and a table to read."""
    from .postgis.connection import is_database, parse

    if not isinstance(spec, VectorLayerSpec) or not is_database(spec.path):
        return []
    try:
        conn = parse(spec.path, where=f"layers.{role}.path")
    except ConfigError as exc:
        return [str(exc)]
    if not spec.layer and not conn.table:
        return [f"layers.{role}: a database layer needs the table, e.g. {role}: {{path: {conn.label}, layer: "
                "public.TABLE}"]
    return []


def _nested_model(model: type[BaseModel], loc) -> type[BaseModel]:
    """The model that holds the key at ``loc`` (e.g. ``village_planning`` → VillagePlanningSettings)."""
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            candidates = [a for a in getattr(annotation, "__args__", ()) if isinstance(a, type) and
                          issubclass(a, BaseModel)]
            if not candidates:
                break
            model = candidates[0]
    return model


def _pydantic_problems(exc: ValidationError, *, prefix: str, model: type[BaseModel]) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("function-", "literal")))
        where = f"{prefix}.{loc}" if loc else prefix
        if err["type"] == "extra_forbidden":
            key = str(err["loc"][-1])
            owner = _nested_model(model, err["loc"][:-1])
            near = difflib.get_close_matches(key, _model_keys(owner).split(", "), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            out.append(f"{where}: unknown key{hint}; allowed keys: {_model_keys(owner)}")
        elif err["type"] == "missing":
            out.append(f"{where}: required but missing")
        else:
            msg = re.sub(r"^Value error, ", "", err["msg"])
            got = "" if "got" in msg else f" (got {err.get('input')!r})"
            out.append(f"{where}: {msg}{got}")
    return out


def _check_files(config: ProjectConfig, problems: list[str]) -> None:
    """Add a problem for every configured file that does not exist."""
    from .postgis.connection import is_database

    for role, spec in config.layers.items():
        if is_database(spec.path):
            continue  # a database table is looked up when it is read
        paths = spec.paths().values() if isinstance(spec, NdviSpec) else [spec.path]
        for rel in dict.fromkeys(paths):
            path = config.resolve(rel)
            if not path.exists():
                folder = path.parent
                there = sorted(p.name for p in folder.iterdir())[:20] if folder.is_dir() else []
                listing = (f"; files in {folder}: {', '.join(there)}" if there
                           else f"; folder {folder} is missing or empty")
                problems.append(f"layers.{role}.path: file {path} does not exist{listing}")


def _planning_problems(config: ProjectConfig) -> list[str]:
    """Village-planning settings that contradict the layers (one of two sources given twice, or a source missing)."""
    settings, roles = config.village_planning, set(config.layers)
    problems = []
    if settings.boundary_from_plan is not None and "village_boundary" in roles:
        problems.append("village_planning.boundary_from_plan: a village_boundary layer is configured too; keep one "
                        "source of the construction boundary (remove one of them)")
    if settings.boundary_from_plan is not None and "village_plan" not in roles:
        problems.append("village_planning.boundary_from_plan: no village_plan layer to take the boundary from; "
                        "configure layers: {village_plan: {path: ..., code: YDYHDM}}")
    if settings.lake_zone_buffers_m is not None and "lake_zones" in roles:
        problems.append("village_planning.lake_zone_buffers_m: a lake_zones layer is configured too; the official "
                        "zones are used when given — remove lake_zone_buffers_m")
    if settings.lake_zone_buffers_m is not None and "lake" not in roles:
        problems.append("village_planning.lake_zone_buffers_m: the approximation buffers the lake outline, but no "
                        "lake layer is configured; add layers: {lake: {path: ..., layer: dianchi}}")
    return problems


def load_config(path: str | Path, *, check_files: bool = True) -> ProjectConfig:
    """Read and validate a project file.

    Parameters
    ----------
    path : str or Path
        The YAML project file.
    check_files : bool, default True
        Also check that every layer file exists.

    Returns
    -------
    ProjectConfig
        The validated config with ``base_dir`` set to the file's folder.

    Raises
    ------
    ConfigError
        Listing every problem found (unknown keys or roles, wrong types, missing files).
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; give the path of a project .yml (see layers/demo.yml)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    except ValueError as exc:  # YAML parses 2023-13-01 as a date and fails on it
        raise ConfigError(f"config file {path} holds a value YAML cannot read ({exc}); dates are written "
                          "YYYY-MM-DD, e.g. as_of: 2023-12-31") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {path} must hold a mapping (name:, crs:, layers:, thresholds:), got {raw!r}")
    return config_from_dict(raw, base_dir=path.resolve().parent, source=path, check_files=check_files)


def config_from_dict(
    raw: dict, *, base_dir: str | Path, source: Path | None = None, check_files: bool = True
) -> ProjectConfig:
    """Validate a config given as a dict (see :func:`load_config`)."""
    where = str(source) if source else "config"
    problems: list[str] = []
    layers = _validate_layers(raw.get("layers"), problems)
    rest = {k: v for k, v in raw.items() if k != "layers" and k not in _INTERNAL_KEYS}
    problems.extend(
        f"{k}: unknown key; allowed keys: {_model_keys(ProjectConfig)}" for k in raw if k in _INTERNAL_KEYS
    )
    try:
        config = ProjectConfig.model_validate({**rest, "layers": {}, "base_dir": Path(base_dir), "source": source})
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, prefix="", model=ProjectConfig))
        config = None
    if problems:
        problems = [p.lstrip(".") for p in problems]
        raise ConfigError(join_problems(f"{where} has {len(problems)} problem(s):", problems))
    config = config.model_copy(update={"layers": layers})
    problems.extend(_planning_problems(config))
    if problems:
        raise ConfigError(join_problems(f"{where} has {len(problems)} problem(s):", problems))
    if check_files:
        _check_files(config, problems)
        if problems:
            raise ConfigError(join_problems(f"{where} has {len(problems)} problem(s):", problems))
    return config


def with_patches(config: ProjectConfig, path: str | Path, *, layer: str | None = None,
                 crs: str | None = None) -> ProjectConfig:
    """The config with its ``patches`` role set to ``path`` (``kmrv judge CONFIG PATCHES``).

    The patch fields (number, after-use code, image date) are found by their standard names; a
    ``patches`` role in the project file keeps its field mapping (and ``crs:``) when it names the same
    file; ``crs`` gives the layer's CRS when the file has none or a wrong one.

    Raises
    ------
    ConfigError
        If the file does not exist (or a database connection holds a password).
    """
    from .postgis.connection import is_database, parse

    if is_database(path):
        parse(str(path), where="patches")
        old = config.layers.get("patches")
        keep = old.model_dump(exclude={"path", "layer"}) if isinstance(old, VectorLayerSpec) and \
            old.path == str(path) and old.layer == layer else {}
        if crs is not None:
            keep["crs"] = crs
        spec = VectorLayerSpec(path=str(path), layer=layer, **keep)
        return config.model_copy(update={"layers": {**config.layers, "patches": spec}})
    target = Path(path).expanduser().resolve()
    if not target.exists():
        raise ConfigError(f"patch layer {target} does not exist; give the path of the monitoring patches "
                          "(GeoPackage, Shapefile, GeoJSON …), e.g. kmrv judge project.yml 卫片图斑.shp --out out")
    old = config.layers.get("patches")
    keep = old.model_dump(exclude={"path", "layer"}) if isinstance(old, VectorLayerSpec) and \
        config.resolve(old.path).resolve() == target else {}
    if crs is not None:
        keep["crs"] = crs
    try:
        spec = VectorLayerSpec(path=str(target), layer=layer, **keep)
    except ValidationError as exc:
        raise ConfigError(join_problems("patches:", _pydantic_problems(exc, prefix="patches",
                                                                        model=VectorLayerSpec))) from None
    return config.model_copy(update={"layers": {**config.layers, "patches": spec}})
