"""Load a project: read every configured layer, check it, bring it into the analysis CRS.

This is the input edge of the flow (config → load → Layers → analyses → outputs). Analyses receive the
:class:`Project` and never read files themselves.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from pyproj import CRS
from rasterio.errors import RasterioIOError
from tqdm.auto import tqdm

from . import checks, landuse, permits, plan_fields, ridges
from . import crs as crs_rules
from . import layers as layer_io
from .analysis.changes import PLANTING_FIELD
from .analysis.keys import code_text
from .config import ROLE_LABELS, ProjectConfig, VectorLayerSpec
from .errors import CrsError, LayerError, join_problems
from .outputs import sha256_file
from .overlay import identical_twins, inverse_twins
from .postgis.connection import is_database
from .rasters import check_ndvi_values, raster_layout
from .units import APPROXIMATION_ERROR, ELLIPSOIDAL, ELLIPSOIDAL_M2_COLUMN

logger = logging.getLogger(__name__)

MAY_BE_EMPTY = (*permits.APPROVAL_ROLES, "erl", "udb")
"""Roles whose layer may hold no features (no filings, permits or projects in the area this year): read as
none, with a note in the layer's warnings. Every other empty layer is an error (usually the wrong layer)."""


@dataclass
class RasterInfo:
    """What the checks learned about one raster file.

    Attributes
    ----------
    role : str
    path : Path
    crs : str
        The raster's CRS (from the file or the config).
    bounds_lonlat : tuple of float
    shape : tuple of int
        (rows, columns).
    res : tuple of float
    dtype : str
    nodata : float or None
    count : int
        Number of bands.
    """

    role: str
    path: Path
    crs: str
    bounds_lonlat: tuple[float, float, float, float]
    shape: tuple[int, int]
    res: tuple[float, float]
    dtype: str
    nodata: float | None
    count: int

    def to_dict(self) -> dict:
        """JSON-serialisable summary."""
        return {
            "role": self.role, "path": str(self.path), "crs": self.crs, "bounds_lonlat": list(self.bounds_lonlat),
            "shape": list(self.shape), "res": list(self.res), "dtype": self.dtype, "nodata": self.nodata,
            "bands": self.count,
        }  # fmt: skip


@dataclass
class Project:
    """A loaded, checked project: the one bundle analyses work on.

    Attributes
    ----------
    config : ProjectConfig
    analysis_crs : str
        Projected CRS (metres) every vector layer has been brought into.
    vectors : dict of str to GeoDataFrame
        Role → checked layer (columns ``_fid``, the source fields, ``code``/``category`` for land use).
    reports : dict of str to checks.LayerReport
        Role → accounting and findings of the checks.
    rasters : dict of str to RasterInfo
        Raster role (``landcover_t0``…, ``ndvi:YEAR``) → checked raster.
    inputs : dict of str to str
        Input file path → sha256; a database table as ``connection (table schema.table)`` (no password) → sha256
        of what was read.
    measure : AreaMeasure
        How every figure is measured (config ``area:``; ellipsoidal by default).
    ridge_fields : dict of str to RidgeFields
        Land-use role → the 三调 area fields found (田坎 share, TBMJ …).
    tbmj_mismatch : dict of str to DataFrame
        Land-use role → parcels whose TBMJ is off their geometry's ellipsoidal area.
    permit_fields : dict of str to dict
        Approval-like role or ``patches`` → the fields found (:func:`kmrv_geo.permits.resolve_fields`).
    date_problems : list of DataFrame
        Features whose date (a permit's end date, a patch's image date) cannot be read.
    """

    config: ProjectConfig
    analysis_crs: str
    vectors: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    reports: dict[str, checks.LayerReport] = field(default_factory=dict)
    rasters: dict[str, RasterInfo] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    ridge_fields: dict[str, ridges.RidgeFields] = field(default_factory=dict)
    tbmj_mismatch: dict = field(default_factory=dict)
    permit_fields: dict[str, dict[str, str]] = field(default_factory=dict)
    date_problems: list = field(default_factory=list)
    _landuse_twins: tuple | None = field(default=None, repr=False)
    partitions: object | None = None
    """The land-use partitions a dask run reads on its workers (:class:`kmrv_geo.partitions.Partitions`); the
    land-use layers are then not in :attr:`vectors`."""
    _dissolved: dict = field(default_factory=dict, repr=False)
    _approximate_m2: dict = field(default_factory=dict, repr=False)
    """Land-use role → approximate ellipsoidal area of each parcel the TBMJ check judged without measuring (NaN
    for the others): the other date's identical parcels take it."""
    derived: dict = field(default_factory=dict, repr=False)
    """Derived data computed once per project and shared by the steps (e.g. the admin zones)."""

    def remember_twins(self, twins: np.ndarray) -> None:
        """Keep each ``landuse_t0`` parcel's identical ``landuse_t1`` parcel, as matched at load, for the layers
        loaded now (:meth:`landuse_twins`).
        """
        self._landuse_twins = (self.vectors["landuse_t0"], self.vectors["landuse_t1"], np.asarray(twins))

    def landuse_twins(self) -> np.ndarray | None:
        """Each ``landuse_t0`` parcel's identical ``landuse_t1`` parcel (row positions, −1: none), matched at load
        (:func:`~kmrv_geo.overlay.identical_twins`), so that analyses need not match them again; ``None`` when
        not matched or when either layer has been replaced since (the rows would no longer be those matched).
        """
        if self._landuse_twins is None:
            return None
        t0, t1, twins = self._landuse_twins
        if self.vectors.get("landuse_t0") is not t0 or self.vectors.get("landuse_t1") is not t1:
            return None
        return twins

    def layer_warnings(self) -> list[str]:
        """Every layer's check warnings, each as ``[role] warning``, in the project file's order."""
        return [f"[{report.role}] {w}" for report in self.reports.values() for w in report.warnings]

    def measured_parcels(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The land-use parcels whose ellipsoidal area has been measured (by the TBMJ check at load, or
        :meth:`measure_all_parcels`), and those areas (m²): for :func:`~kmrv_geo.units.measured_before`.
        """
        frames = [self.vectors[role] for role in ("landuse_t0", "landuse_t1")
                  if role in self.vectors and ELLIPSOIDAL_M2_COLUMN in self.vectors[role]]
        measured = [np.isfinite(frame[ELLIPSOIDAL_M2_COLUMN].to_numpy(dtype=float)) for frame in frames]
        return ([np.asarray(frame.geometry.values, dtype=object)[ok] for frame, ok in zip(frames, measured,
                                                                                          strict=True)],
                [frame[ELLIPSOIDAL_M2_COLUMN].to_numpy(dtype=float)[ok] for frame, ok in zip(frames, measured,
                                                                                             strict=True)])

    def measure_all_parcels(self) -> None:
        """Measure the ellipsoidal area of every land-use parcel the load left unmeasured.

        A load with ``parcel_areas="farmland"`` measures farmland parcels and those whose TBMJ it had to judge on a
        measured area (:func:`~kmrv_geo.ridges.surely_within_tolerance`); the rest are NaN in
        :data:`~kmrv_geo.units.ELLIPSOIDAL_M2_COLUMN`. Before whole parcels of any class are taken from such a
        project (e.g. written as partitions for the workers), call this. A second-date parcel identical to a
        first-date one takes its area. Nothing is done for planar runs (their figures do not use these areas).
        """
        if self.measure.kind != ELLIPSOIDAL:
            return
        t0_m2 = None
        for role in ("landuse_t0", "landuse_t1"):
            frame = self.vectors.get(role)
            if frame is None or ELLIPSOIDAL_M2_COLUMN not in frame:
                continue
            m2 = frame[ELLIPSOIDAL_M2_COLUMN].to_numpy(dtype=float).copy()
            twins = self.landuse_twins()
            if role == "landuse_t1" and t0_m2 is not None and twins is not None:
                from_t0 = inverse_twins(twins, len(frame))
                take = np.isnan(m2) & (from_t0 >= 0)
                m2[take] = t0_m2[from_t0[take]]
            todo = np.isnan(m2)
            if todo.any():
                m2[todo] = self.measure.ellipsoidal_m2(np.asarray(frame.geometry.values, dtype=object)[todo])
            frame[ELLIPSOIDAL_M2_COLUMN] = m2
            if role == "landuse_t0":
                t0_m2 = m2

    @property
    def measure(self):
        """The :class:`~kmrv_geo.units.AreaMeasure` of this project's figures."""
        return self.config.area_measure(self.analysis_crs)

    def dissolved(self, role: str):
        """The layer's geometries made non-overlapping (:func:`~kmrv_geo.overlay.dissolve_zones`), computed
        once per project and shared by every step; ``None`` when the role is not configured.
        """
        if role not in self.vectors:
            return None
        if role not in self._dissolved:
            from .overlay import dissolve_zones

            self._dissolved[role] = dissolve_zones(np.asarray(self.vectors[role].geometry.values, dtype=object))
        return self._dissolved[role]

    def has_ridges(self, role: str) -> bool:
        """Whether land-use ``role`` carries 田坎 shares (net farmland figures can be given)."""
        fields = self.ridge_fields.get(role)
        return bool(fields and fields.has_ridges)

    def feature_counts(self) -> dict[str, dict[str, int]]:
        """Per role: features in, kept, repaired, rejected."""
        return {
            role: {"in": r.n_in, "kept": r.n_kept, "repaired": r.n_repaired, "rejected": r.n_rejected}
            for role, r in self.reports.items()
        }

    def check_report(self) -> dict:
        """The full check report (JSON-serialisable): per layer its accounting and findings, per raster its
        layout, and the whole lists the warnings name — land-use parcels whose TBMJ is off their geometry
        (``tbmj_mismatch``, by role) and dates that cannot be read (``unreadable_dates``) — which a run also writes
        as ``tables/tbmj_mismatch.csv`` and ``tables/unreadable_dates.csv``, and ``kmrv check`` writes nowhere else.
        """
        dates = [table for table in self.date_problems if len(table)]
        return {
            "project": self.config.name,
            "synthetic": self.config.synthetic,
            "analysis_crs": self.analysis_crs,
            "layers": {role: report.to_dict() for role, report in self.reports.items()},
            "rasters": {role: info.to_dict() for role, info in self.rasters.items()},
            "tbmj_mismatch": {role: table.to_dict("records") for role, table in self.tbmj_mismatch.items()
                              if len(table)},
            "unreadable_dates": pd.concat(dates, ignore_index=True).to_dict("records") if dates else [],
        }


def _declared_crs(read: layer_io.ReadResult, spec: VectorLayerSpec):
    return CRS.from_user_input(spec.crs) if spec.crs else read.frame.crs


def _source_label(spec: VectorLayerSpec, path: Path) -> str:
    return f"{path}" + (f" (layer {spec.layer})" if spec.layer else "")


def choose_analysis_crs(config: ProjectConfig, reads: dict[str, tuple[layer_io.ReadResult, VectorLayerSpec]],
                        rasters: dict[str, RasterInfo]) -> str:
    """The analysis CRS: the configured one, or for ``auto`` the GK zone of the data's centre.

    Only layers whose declared CRS fits their coordinates count towards the centre; the others fail
    their own checks later with a clear message.
    """
    if config.crs != "auto":
        return config.crs
    study_area = crs_rules.StudyArea(config.study_area.name, config.study_area.bbox)
    boxes = []
    for read, spec in reads.values():
        declared = _declared_crs(read, spec)
        frame = read.frame
        if declared is None or frame.geometry.isna().all():
            continue
        bounds = tuple(frame.geometry.total_bounds)
        if not np.all(np.isfinite(bounds)) or crs_rules.diagnose_crs(bounds, declared, study_area=study_area):
            continue
        boxes.append(crs_rules.lonlat_bounds(bounds, declared))
    boxes.extend(info.bounds_lonlat for info in rasters.values())
    if not boxes:
        x0, y0, x1, y1 = config.study_area.bbox
        boxes.append((x0, y0, x1, y1))
    arr = np.array(boxes)
    return crs_rules.auto_analysis_crs((arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max()))


def check_raster(role: str, path: Path, *, crs_override: str | None, study_area: crs_rules.StudyArea) -> RasterInfo:
    """Open a raster and check its grid, that it has a CRS and lies in the study area.

    Any axis-aligned grid is accepted (any origin, north-up or south-up); the analyses read every
    raster through the same :func:`kmrv_geo.rasters.raster_layout`, so this refuses exactly what they would.

    Raises
    ------
    LayerError
        If the file cannot be opened as a raster, or its grid is rotated or missing (GCPs only, no
        geotransform): the message gives the ``gdalwarp`` call that fixes it.
    CrsError
        If it has no CRS (and no ``crs:`` in the config) or lies outside the study area.
    """
    try:
        layout = raster_layout(path, crs_override=crs_override, role=role)
        with rasterio.open(path) as src:
            declared = CRS.from_user_input(crs_override) if crs_override else (CRS(src.crs) if src.crs else None)
            if declared is None:
                raise CrsError(
                    f"raster {path} ({ROLE_LABELS.get(role.split(':')[0], role)}) has no CRS; set it in the config, "
                    f"e.g. layers: {{{role.split(':')[0]}: {{path: {path.name}, crs: EPSG:4543}}}}, or write it "
                    "into the file (gdal_edit.py -a_srs)"
                )
            bounds = layout.bounds  # left < right, bottom < top also for south-up files
            problem = crs_rules.diagnose_crs(bounds, declared, study_area=study_area)
            if problem:
                raise CrsError(f"raster {path}: {problem}")
            return RasterInfo(
                role=role, path=path, crs=declared.to_string(),
                bounds_lonlat=crs_rules.lonlat_bounds(bounds, declared), shape=(src.height, src.width),
                res=tuple(src.res), dtype=src.dtypes[0], nodata=src.nodata, count=src.count,
            )  # fmt: skip
    except RasterioIOError as exc:
        raise LayerError(
            f"raster {path} cannot be read as a raster ({exc}); check the file is a complete GeoTIFF") from None


def _check_raster_values(config: ProjectConfig, role: str, info: RasterInfo) -> None:
    """What a raster's role needs of its values: integer classes for land cover, −1…1 (after ``scale``) for NDVI.

    Raises
    ------
    LayerError
        A land-cover raster of floating-point values, or NDVI outside −1…1 (the message names the scaling the
        values look like).
    """
    if role.startswith("landcover") and not np.issubdtype(np.dtype(info.dtype), np.integer):
        raise LayerError(f"land-cover raster {info.path} ({role}) holds {info.dtype} values, but a land-cover "
                         "classification holds integer class codes (CLCD 1–9, ESA WorldCover 10–100); give the "
                         "classified product, or convert it (gdal_translate -ot Byte)")
    if role.startswith("ndvi:"):
        spec = config.ndvi()
        year = int(role.split(":")[1])
        band = 1 if "{year}" in spec.path else spec.years.index(year) + 1
        check_ndvi_values(info.path, band, scale=spec.scale, year=year)


def load_project(config: ProjectConfig, *, progress: bool = False, partitions=None,
                 parcel_areas: str = "all") -> Project:
    """Read, check and reproject every configured layer.

    Parameters
    ----------
    config : ProjectConfig
        A validated project config (see :func:`kmrv_geo.config.load_config`).
    progress : bool, default False
        Show a progress bar over the layers.
    partitions : kmrv_geo.partitions.Partitions, optional
        Land use already checked and written as partitions (``kmrv partition``): the land-use layers are not
        read here (the dask workers read them); their reports, checksums and analysis CRS come from the
        partitions.
    parcel_areas : {"all", "farmland"}, default "all"
        Land-use parcels measured (ellipsoidal) at load, for the TBMJ check and the analyses that take them whole:
        every parcel, or farmland parcels and those whose TBMJ cannot be settled on an approximate area (the
        others stay NaN until :meth:`Project.measure_all_parcels`; for a run whose analyses take only farmland
        parcels whole, :attr:`kmrv_geo.registry.Step.parcel_areas`).

    Returns
    -------
    Project
        Checked layers in the analysis CRS, with their reports and the input checksums.

    Raises
    ------
    LayerError, CrsError
        For unreadable layers, missing fields, missing or wrong CRSs, and layers that do not overlap.
    """
    if parcel_areas not in ("all", "farmland"):
        raise ValueError(f"parcel_areas must be 'all' or 'farmland', got {parcel_areas!r}")
    study_area = crs_rules.StudyArea(config.study_area.name, config.study_area.bbox)
    classes = config.landuse_classes_model()
    inputs: dict[str, str] = {}

    rasters: dict[str, RasterInfo] = {}
    raster_specs: list[tuple[str, Path, str | None]] = [
        (role, config.resolve(spec.path), spec.crs) for role, spec in config.raster_layers().items()
    ]
    ndvi = config.ndvi()
    if ndvi is not None:
        raster_specs += [(f"ndvi:{year}", config.resolve(p), ndvi.crs) for year, p in ndvi.paths().items()]

    vector_specs = config.vector_layers()
    if partitions is not None:
        from .partitions import ROLES as PARTITIONED

        vector_specs = {role: spec for role, spec in vector_specs.items() if role not in PARTITIONED}
    steps = tqdm(total=len(vector_specs) * 2 + len(raster_specs), desc="检查图层 checking layers",
                 disable=not progress, unit="layer")
    reads: dict[str, tuple[layer_io.ReadResult, VectorLayerSpec]] = {}
    hashing = ThreadPoolExecutor(max_workers=1)  # files hashed while layers are read (hashlib drops the GIL)
    digests: dict[str, Future | str] = {}
    try:
        for role, spec in vector_specs.items():
            path = spec.path if is_database(spec.path) else config.resolve(spec.path)
            if not is_database(spec.path) and str(path) not in digests:  # one shared GeoPackage: hashed once
                digests[str(path)] = hashing.submit(sha256_file, path)
            read = layer_io.read_vector(path, layer=spec.layer, encoding=spec.encoding,
                                        allow_empty=role in MAY_BE_EMPTY)
            reads[role] = (read, spec)
            if read.checksum is not None:  # a database table: what was read (the connection without password)
                digests.setdefault(read.source, read.checksum)
            steps.update()
        for role, path, crs_override in raster_specs:
            if str(path) not in digests:
                digests[str(path)] = hashing.submit(sha256_file, path)
            rasters[role] = check_raster(role, path, crs_override=crs_override, study_area=study_area)
            _check_raster_values(config, role, rasters[role])
            steps.update()
    except BaseException:  # on an error the hashes are not waited for
        hashing.shutdown(wait=False, cancel_futures=True)
        raise
    inputs.update({source: d.result() if isinstance(d, Future) else d for source, d in digests.items()})
    hashing.shutdown()

    analysis_crs = partitions.analysis_crs if partitions is not None else choose_analysis_crs(config, reads, rasters)
    project = Project(config=config, analysis_crs=analysis_crs, rasters=rasters, inputs=inputs, partitions=partitions)
    if partitions is not None:  # checked when the partitions were written
        project.reports.update(partitions.reports())
        project.inputs.update(partitions.inputs())
        project.tbmj_mismatch.update(partitions.tbmj_mismatch())
    geometry_kind = {"villages": "any"}
    for role in list(reads):
        read, spec = reads.pop(role)  # the layer as read is let go once checked: one copy of a layer at a time
        # the other date's land use when it already passed its checks: unchanged parcels are not checked,
        # measured or tested for overlaps again
        checked = next((project.vectors[r] for r in ("landuse_t0", "landuse_t1") if r in project.vectors), None) \
            if role.startswith("landuse") else None
        frame, report = checks.check_vector(
            read, role=role, geometry=geometry_kind.get(role, "polygon"), crs=spec.crs, target_crs=analysis_crs,
            study_area=study_area, id_field=spec.id, code_field=spec.code if role.startswith("landuse") else None,
            required_fields=spec.fields(), classes=classes,
            trusted=np.asarray(checked.geometry.values, dtype=object) if checked is not None else None,
        )  # fmt: skip
        source = read.source
        del read
        twins = None
        if role.startswith("landuse"):
            frame = _standard_field_case(frame, spec, source)
            twin = None
            if checked is not None:  # twins of the features as read (a repaired feature has none: measured anew)
                twin = frame.pop("_twin").to_numpy() if "_twin" in frame else identical_twins(
                    np.asarray(frame.geometry.values, dtype=object), np.asarray(checked.geometry.values, dtype=object))
                twins = twin if role == "landuse_t0" else inverse_twins(twin, len(checked))
            _add_ridges(project, role, frame, report, spec, source, checked=checked, twin=twin,
                        measure_all=parcel_areas == "all")
            _refuse_self_overlaps(role, frame, spec, source,
                                  apart=checks.apart_by_twins(twin, len(checked)) if twin is not None else None)
        elif role in permits.APPROVAL_ROLES or role == "patches":
            _add_permit_fields(project, role, frame, report, spec, source)
        elif role == "village_plan":
            frame[plan_fields.PLAN_CODE] = plan_fields.plan_codes(frame[spec.code], source=source, field=spec.code)
        elif role == "lake_zones":
            frame[plan_fields.LEVEL] = plan_fields.zone_levels(frame[spec.level], source=source, field=spec.level)
        elif spec.code and spec.code in frame:  # admin and village codes are text, normalised once (530111.0 → 530111)
            frame[spec.code] = code_text(frame[spec.code])
        if report.n_in == 0:
            report.warnings.append(f"{source} has no features: no {ROLE_LABELS.get(role, role)} in the area")
        project.vectors[role] = frame
        project.reports[role] = report
        if twins is not None:  # both land-use layers are in: the rows the twins name
            project.remember_twins(twins)
        steps.update()
    steps.close()

    if partitions is not None:  # in the project file's order, as without partitions
        project.reports = {role: project.reports[role] for role in config.layers if role in project.reports}
    problems = checks.check_overlap(project.vectors)
    if problems:
        raise CrsError(join_problems("layers do not overlap each other; one of them probably has a wrong CRS:",
                                     problems))
    if {"landuse_t0", "landuse_t1"} <= set(project.vectors):
        check_t0_t1_overlap(project)
    logger.info("loaded %d vector and %d raster layers in %s", len(project.vectors), len(rasters), analysis_crs)
    return project


def _add_permit_fields(project: Project, role: str, frame: gpd.GeoDataFrame, report: checks.LayerReport,
                       spec: VectorLayerSpec, source: str) -> None:
    """Normalised document numbers and dates of an approval-like layer, or the fields of monitoring patches.

    Adds ``_ref`` and ``_end_date`` (approval-like) or ``_patch_no``, ``_after_code``, ``_before_code``,
    ``_image_date`` (patches); lists unreadable dates in ``project.date_problems`` and the layer's warnings.

    Raises
    ------
    LayerError
        When patches are to be judged and an approval-like layer has no document-number field (or a
        temporary-use layer no end-date field): the message names the fields it has.
    """
    configured = {key: getattr(spec, key) for key in ("id", "code", "ref", "end_date", "before_code", "date")}
    found = permits.resolve_fields(role, frame.columns, configured)
    project.permit_fields[role] = found
    if role in permits.APPROVAL_ROLES:
        if "patches" in project.config.layers or role != "approvals":
            permits.require_fields(role, found, frame.columns, source=f"{source}")
        frame[permits.REF] = permits.ref_text(frame[found["ref"]]) if "ref" in found else ""
        date_keys = {"end_date": permits.END_DATE}
    else:
        frame[permits.PATCH_NO] = permits.ref_text(frame[found["id"]]) if "id" in found else ""
        for key, column in (("code", "_after_code"), ("before_code", permits.BEFORE_CODE)):
            codes = landuse.normalise_codes(frame[found[key]]).codes if key in found else None
            frame[column] = codes.fillna("").to_numpy() if codes is not None else ""
        date_keys = {"date": permits.IMAGE_DATE}
    for key, column in date_keys.items():
        if key not in found:
            frame[column] = np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[D]")
            continue
        dates, bad = permits.parse_dates(frame[found[key]])
        frame[column] = dates
        if bad.any():
            table = permits.unreadable_dates(frame, found[key], bad, role=role, id_field=spec.id)
            project.date_problems.append(table)
            shown = ", ".join(f"{r.fid} ({r.value!r})" for r in table.head(5).itertuples())
            report.warnings.append(f"{int(bad.sum())} dates in {found[key]} cannot be read (listed in "
                                   f"tables/unreadable_dates.csv): {shown}; write them as YYYY-MM-DD")


SANDIAO_FIELDS = tuple(name for names in ridges.STANDARD_FIELDS.values() for name in names) + (PLANTING_FIELD,)
"""三调 field names analyses look for by name in a land-use layer (area figures, 种植属性)."""


def _standard_field_case(frame: gpd.GeoDataFrame, spec: VectorLayerSpec, source: str) -> gpd.GeoDataFrame:
    """Give the 三调 fields looked for by name (:data:`SANDIAO_FIELDS`) their standard upper-case names.

    Databases and tools fold names to lower case (ogr2ogr into PostgreSQL writes ``kcxs``, ``zzsxdm``); matched
    exactly, such fields were silently missed (no net-of-田坎 figures, no 种植属性 non-grain changes, no TBMJ
    check). A field whose upper-case form is standard is renamed, unless the layer also has the standard name or
    the project file names the field itself (its configured name stays as written).
    """
    configured = {v for v in spec.model_dump().values() if isinstance(v, str)}
    renames = {c: str(c).upper() for c in frame.columns
               if isinstance(c, str) and c != c.upper() and c.upper() in SANDIAO_FIELDS
               and c.upper() not in frame.columns and c not in configured}
    if renames:
        logger.info("%s: fields %s read as the 三调 names %s", source, ", ".join(renames), ", ".join(renames.values()))
        frame = frame.rename(columns=renames)
    return frame


def _refuse_self_overlaps(role: str, frame: gpd.GeoDataFrame, spec: VectorLayerSpec, source: str, *,
                          apart: np.ndarray | None = None) -> None:
    """A land-use layer whose parcels overlap would count land twice: stop, naming the parcels.

    ``apart``: parcels known not to overlap each other (unchanged copies of distinct parcels of the other date's
    land use, which passed; :func:`~kmrv_geo.checks.apart_by_twins`) are not tested against each other.
    """
    overlaps = checks.self_overlaps(frame, id_field=spec.id, known_apart=apart)
    if len(overlaps):
        shown = "; ".join(f"{r.id_a} and {r.id_b} ({r.overlap_m2:.2f} m²)" for r in overlaps.head(10).itertuples())
        id_name = spec.id or "feature id"
        raise LayerError(
            f"{source} ({role}): {len(overlaps)} pairs of parcels overlap each other, "
            f"{overlaps['overlap_m2'].sum():.2f} m² in all ({id_name}: {shown}); a land-use layer must cover each "
            "piece of land once, or it would be counted twice. Fix the overlaps (e.g. QGIS Topology Checker "
            "'must not overlap') and run again")


def _add_ridges(project: Project, role: str, frame: gpd.GeoDataFrame, report: checks.LayerReport,
                spec: VectorLayerSpec, source: str, *, checked: gpd.GeoDataFrame | None = None,
                twin: np.ndarray | None = None, measure_all: bool = True) -> None:
    """Add the 田坎 share column to a land-use layer and list parcels whose TBMJ is off their geometry.

    A parcel identical to parcel ``twin`` of the other date's land use (``checked``), already measured, takes
    that parcel's ellipsoidal area instead of being measured again. Without ``measure_all`` only farmland parcels
    and those whose TBMJ the approximate area cannot settle are measured (:func:`load_project`).
    """
    configured = {key: getattr(spec, key) for key in ridges.STANDARD_FIELDS}
    fields = ridges.find_fields(frame.columns, configured)
    farmland = frame["category"].to_numpy() == landuse.FARMLAND
    shares, warnings = ridges.ridge_shares(frame, fields, farmland=farmland, source=source, id_field=spec.id)
    frame[ridges.RIDGE_SHARE] = shares
    report.warnings.extend(warnings)
    project.ridge_fields[role] = fields
    if fields.parcel_area:
        geoms = np.asarray(frame.geometry.values, dtype=object)
        tolerance = project.config.thresholds.tbmj_tolerance
        ellipsoidal_m2 = np.full(len(frame), np.nan)
        approximate_m2 = np.full(len(frame), np.nan)
        if twin is not None and ELLIPSOIDAL_M2_COLUMN in checked:
            reuse = twin >= 0
            ellipsoidal_m2[reuse] = checked[ELLIPSOIDAL_M2_COLUMN].to_numpy(dtype=float)[twin[reuse]]
            other = next((r for r, f in project.vectors.items() if f is checked), None)
            if other in project._approximate_m2:
                approximate_m2[reuse] = project._approximate_m2[other][twin[reuse]]
        # Without measure_all, farmland parcels are measured (the violation step takes them whole), the others only
        # where their TBMJ could be off: the approximate area settles the rest (NaN until measure_all_parcels).
        screened = np.isnan(ellipsoidal_m2) & ~farmland & (not measure_all)
        approximate = screened & np.isnan(approximate_m2)
        approximate_m2[approximate] = project.measure.approximate_ellipsoidal_m2(geoms[approximate])
        approximate_m2[~screened] = np.nan
        settled = screened & ridges.surely_within_tolerance(ridges.recorded_area(frame, fields), approximate_m2,
                                                            tolerance=tolerance, relative_error=APPROXIMATION_ERROR)
        todo = np.isnan(ellipsoidal_m2) & ~settled
        ellipsoidal_m2[todo] = project.measure.ellipsoidal_m2(geoms[todo])
        project._approximate_m2[role] = np.where(settled, approximate_m2, np.nan)
        frame[ELLIPSOIDAL_M2_COLUMN] = ellipsoidal_m2  # measured once (NaN: not measured); whole pieces reuse it
        off = ridges.parcel_area_mismatches(frame, fields, np.where(settled, approximate_m2, ellipsoidal_m2),
                                            id_field=spec.id, tolerance=tolerance)
        project.tbmj_mismatch[role] = off
        if len(off):
            shown = ", ".join(f"{r.parcel_id} ({r.difference_share:+.2%})" for r in off.head(5).itertuples())
            report.warnings.append(
                f"{len(off)} parcels' {fields.parcel_area} differs from the ellipsoidal area of their geometry by "
                f"more than {tolerance:.1%} (listed in tables/tbmj_mismatch.csv): "
                f"{shown}; the geometry was edited without updating the attributes, or the CRS is wrong")


HULL_GRID = 256
"""Cells per side of the grid :func:`_hull` gathers bounding boxes in."""


def _hull(frame):
    """Convex hull of a layer, from its features' bounding boxes (fast; a hull slightly larger than the features'
    own is fine for an overlap check): the boxes are gathered in a grid of :data:`HULL_GRID` × :data:`HULL_GRID`
    cells by their lower-left corner, each cell's boxes joined into one box; the hull of those boxes' corners
    contains every feature (a million parcels: 50k boxes instead of a million, 0.1 s instead of 0.5).
    """
    bounds = shapely.bounds(np.asarray(frame.geometry.values, dtype=object))
    bounds = bounds[~np.isnan(bounds).any(axis=1)]
    if not len(bounds):
        return shapely.Polygon()
    x0, y0, x1, y1 = bounds.T

    def cell_of(v: np.ndarray) -> np.ndarray:
        span = v.max() - v.min()
        scaled = (v - v.min()) / span * HULL_GRID if span > 0 else np.zeros(len(v))
        return np.minimum(scaled.astype(np.int64), HULL_GRID - 1)

    cell = cell_of(x0) * HULL_GRID + cell_of(y0)
    order = np.argsort(cell, kind="stable")
    starts = np.r_[0, np.flatnonzero(np.diff(cell[order])) + 1]
    x0, y0 = np.minimum.reduceat(x0[order], starts), np.minimum.reduceat(y0[order], starts)
    x1, y1 = np.maximum.reduceat(x1[order], starts), np.maximum.reduceat(y1[order], starts)
    corners = np.column_stack([np.concatenate([x0, x0, x1, x1]), np.concatenate([y0, y1, y0, y1])])
    # One linestring through all corners (built from the array at once, unlike a multipoint): same hull.
    return shapely.convex_hull(shapely.linestrings(corners))


def check_t0_t1_overlap(project: Project) -> float:
    """Share of the smaller land-use layer's extent (convex hull) that the other one covers.

    Raises
    ------
    CrsError
        If the share is below ``thresholds.min_overlap_share``, naming both extents.
    """
    t0, t1 = project.vectors["landuse_t0"], project.vectors["landuse_t1"]
    h0, h1 = _hull(t0), _hull(t1)
    smaller = min(h0.area, h1.area)
    share = h0.intersection(h1).area / smaller if smaller > 0 else 0.0
    limit = project.config.thresholds.min_overlap_share
    if share < limit:
        def extent(frame):
            x0, y0, x1, y1 = frame.total_bounds
            return f"x {x0:.0f}…{x1:.0f}, y {y0:.0f}…{y1:.0f} ({project.analysis_crs})"

        raise CrsError(join_problems(
            f"land use T0 and T1 overlap on only {share:.1%} of the smaller one's extent (at least "
            f"{limit:.0%} is required, thresholds.min_overlap_share):",
            [f"landuse_t0 {project.reports['landuse_t0'].source}: {extent(t0)}",
             f"landuse_t1 {project.reports['landuse_t1'].source}: {extent(t1)}",
             "check that both layers cover the same area and carry the right CRS"],
        ))  # fmt: skip
    return share


def load_single_layer(path: str | Path, *, layer: str | None = None, role: str = "layer", encoding: str | None = None,
                      crs: str | None = None, code_field: str | None = None, id_field: str | None = None,
                      study_area: crs_rules.StudyArea | None = None):
    """Check one vector file without a project (``kmrv check FILE``).

    Returns
    -------
    tuple
        (checked GeoDataFrame in the auto analysis CRS, LayerReport, analysis CRS).
    """
    study_area = study_area or crs_rules.StudyArea()
    read = layer_io.read_vector(path if is_database(path) else Path(path), layer=layer, encoding=encoding)
    declared = CRS.from_user_input(crs) if crs else read.frame.crs
    target = crs_rules.auto_analysis_crs(study_area.bbox)
    if declared is not None and not read.frame.geometry.isna().all():
        bounds = tuple(read.frame.geometry.total_bounds)
        if np.all(np.isfinite(bounds)) and not crs_rules.diagnose_crs(bounds, declared, study_area=study_area):
            target = crs_rules.auto_analysis_crs(crs_rules.lonlat_bounds(bounds, declared))
    frame, report = checks.check_vector(
        read, role=role, geometry="any" if role == "villages" else "polygon", crs=crs, target_crs=target,
        study_area=study_area, id_field=id_field, code_field=code_field,
    )  # fmt: skip
    return frame, report, target
