"""Checks of one vector layer, with every feature accounted for: kept, repaired or rejected.

features in = kept + rejected; repaired features are among the kept ones and counted as repaired.
CRS problems (none, mislabelled, outside the study area) stop the run with a clear error; feature
problems (null, empty, wrong type, invalid) are handled and reported per feature id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from . import crs as crs_rules
from . import landuse
from .degenerate import clean_degenerate, find_degenerate
from .errors import CrsError, LayerError
from .layers import FID, ReadResult
from .overlay import identical_twins, polygonal_parts, query_threaded, threaded
from .text import clean_frame

logger = logging.getLogger(__name__)

GEOMETRY_KINDS = ("polygon", "point", "any")


@dataclass
class LayerReport:
    """Accounting and findings of the checks of one layer.

    Attributes
    ----------
    role, source : str
        The layer's role and ``path (layer NAME)``.
    declared_crs : str or None
        CRS used to read the coordinates (file or config).
    n_in, n_kept, n_repaired, n_rejected : int
        Features in, kept, repaired (among the kept), rejected: ``n_in == n_kept + n_rejected``.
    rejected : DataFrame
        ``fid``, ``reason`` of every rejected feature.
    repaired : DataFrame
        ``fid``, ``reason``, ``area_before_m2``, ``area_after_m2`` of every repaired feature.
    duplicate_ids : DataFrame
        ``value``, ``count`` of ids used more than once.
    codes : dict
        Land-use code findings: ``fixes``, ``blanks``, ``level1_only``, ``unknown`` (records).
    warnings : list of str
    """

    role: str
    source: str
    declared_crs: str | None
    n_in: int = 0
    n_kept: int = 0
    n_repaired: int = 0
    n_rejected: int = 0
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["fid", "reason"]))
    repaired: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=["fid", "reason", "area_before_m2", "area_after_m2"]))
    duplicate_ids: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["value", "count"]))
    codes: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-serialisable form of the report."""
        return {
            "role": self.role, "source": self.source, "declared_crs": self.declared_crs, "n_in": self.n_in,
            "n_kept": self.n_kept, "n_repaired": self.n_repaired, "n_rejected": self.n_rejected,
            "rejected": self.rejected.to_dict("records"), "repaired": self.repaired.to_dict("records"),
            "duplicate_ids": self.duplicate_ids.to_dict("records"), "codes": self.codes, "warnings": self.warnings,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> LayerReport:
        """The report :meth:`to_dict` gave (e.g. kept with land-use partitions)."""
        frames = {key: pd.DataFrame(data.get(key) or [], columns=getattr(cls(role="", source="", declared_crs=None),
                                                                           key).columns)
                  for key in ("rejected", "repaired", "duplicate_ids")}
        return cls(role=data["role"], source=data["source"], declared_crs=data.get("declared_crs"),
                   n_in=data["n_in"], n_kept=data["n_kept"], n_repaired=data["n_repaired"],
                   n_rejected=data["n_rejected"], codes=data.get("codes") or {},
                   warnings=list(data.get("warnings") or []), **frames)

    def summary_lines(self, lang: str = "zh") -> list[str]:
        """A short human summary: the accounting line, then one line per finding."""
        if lang == "zh":
            lines = [f"[{self.role}] {self.source}：要素 {self.n_in}，保留 {self.n_kept}"
                     f"（其中修复 {self.n_repaired}），剔除 {self.n_rejected}"]
            if self.n_rejected:
                reasons = self.rejected["reason"].value_counts()
                lines.append("  剔除原因：" + "；".join(f"{r} ×{c}" for r, c in reasons.items()))
            if len(self.duplicate_ids):
                lines.append(f"  重复编号 {len(self.duplicate_ids)} 个：" + "、".join(
                    f"{v} ×{c}" for v, c in self.duplicate_ids.head(5).itertuples(index=False)))
            lines.extend(f"  注意：{w}" for w in self.warnings)
        else:
            lines = [f"[{self.role}] {self.source}: {self.n_in} features, kept {self.n_kept} (repaired "
                     f"{self.n_repaired}), rejected {self.n_rejected}"]
            if self.n_rejected:
                reasons = self.rejected["reason"].value_counts()
                lines.append("  rejected: " + "; ".join(f"{r} ×{c}" for r, c in reasons.items()))
            if len(self.duplicate_ids):
                lines.append(f"  {len(self.duplicate_ids)} duplicate ids: " + ", ".join(
                    f"{v} ×{c}" for v, c in self.duplicate_ids.head(5).itertuples(index=False)))
            lines.extend(f"  warning: {w}" for w in self.warnings)
        return lines


def _crs_error_fix(role: str) -> str:
    return (f"set the right CRS in the config, e.g. layers: {{{role}: {{path: ..., crs: EPSG:4543}}}}, or save the "
            "layer again with its true CRS")


def resolve_crs(read: ReadResult, *, role: str, crs: str | None, study_area: crs_rules.StudyArea) -> CRS:
    """The CRS of a layer's coordinates: the config's override, else the file's; checked against the data.

    Raises
    ------
    CrsError
        No CRS at all, or a CRS that does not fit the coordinates or the study area.
    """
    declared = CRS.from_user_input(crs) if crs else (CRS(read.frame.crs) if read.frame.crs is not None else None)
    if declared is None:
        if read.crs_fix:  # the source says how to set it (a PostGIS column without SRID)
            raise CrsError(f"{read.source} ({role}) has no CRS: {read.crs_fix}, e.g. layers: {{{role}: {{path: ..., "
                           "crs: EPSG:4543}}")
        raise CrsError(f"{read.source} ({role}) has no CRS; {_crs_error_fix(role)} (EPSG:4490 for lon/lat degrees, "
                       "EPSG:4543 for CGCS2000 3-degree Gauss-Kruger CM 102°E)")
    geoms = read.frame.geometry
    bounds = tuple(geoms.total_bounds) if len(geoms) and not geoms.isna().all() else None
    if bounds is not None and np.all(np.isfinite(bounds)):
        problem = crs_rules.diagnose_crs(bounds, declared, study_area=study_area)
        if problem:
            raise CrsError(f"{read.source} ({role}): {problem}; {_crs_error_fix(role)}")
    return declared


def check_vector(read: ReadResult, *, role: str, geometry: str = "polygon", crs: str | None = None,
                 target_crs: str, study_area: crs_rules.StudyArea | None = None, id_field: str | None = None,
                 code_field: str | None = None, required_fields: dict[str, str] | None = None,
                 classes: landuse.LanduseClasses = landuse.DEFAULT_CLASSES,
                 trusted: np.ndarray | None = None) -> tuple[gpd.GeoDataFrame, LayerReport]:
    """Check one layer, repair what can be repaired, reject the rest with reasons, reproject.

    Parameters
    ----------
    read : ReadResult
        The layer as read by :func:`kmrv_geo.layers.read_vector`.
    role : str
        Its role in the project (for messages).
    geometry : {"polygon", "point", "any"}
        Geometry the role needs; other types are rejected (``any``: polygons and points).
    crs : str, optional
        CRS override from the config.
    target_crs : str
        The analysis CRS; the output is in it.
    study_area : StudyArea, optional
        Default Kunming.
    id_field, code_field : str, optional
        Fields whose duplicates (id) or dirty and unknown values (land-use code) are reported; the code
        field adds columns ``code`` (normalised) and ``category``.
    required_fields : dict, optional
        ``{config key: field name}`` that must exist.
    classes : LanduseClasses
    trusted : numpy.ndarray of shapely geometries, optional
        Geometries of a layer that passed these checks, in ``target_crs`` (the other survey date's land use).
        A feature identical to one of them (:func:`~kmrv_geo.overlay.identical_twins`; only when the layer is
        already in ``target_crs``) is the same valid polygon without degenerate parts, so it is not tested
        again; the kept frame then has a column ``_twin``: each feature's twin in ``trusted`` (−1: none).

    Returns
    -------
    tuple
        (kept features in ``target_crs``, LayerReport).

    Raises
    ------
    LayerError
        A required field is missing (the message lists the fields there are).
    CrsError
        No CRS or a mislabelled CRS.
    """
    if geometry not in GEOMETRY_KINDS:
        raise ValueError(f"geometry must be one of {GEOMETRY_KINDS}, got {geometry!r}")
    study_area = study_area or crs_rules.StudyArea()
    frame = read.frame
    fields_there = [c for c in frame.columns if c not in (FID, frame.geometry.name)]
    wanted = dict(required_fields or {})
    if id_field:
        wanted.setdefault("id", id_field)
    if code_field:
        wanted.setdefault("code", code_field)
    missing = {k: f for k, f in wanted.items() if f not in frame.columns}
    if missing:
        listing = ", ".join(f"{k}: {f}" for k, f in missing.items())
        raise LayerError(f"{read.source} ({role}) lacks the field(s) {listing}; its fields are: "
                         f"{', '.join(map(str, fields_there)) or '(none)'}; fix the field names in the config")
    declared = resolve_crs(read, role=role, crs=crs, study_area=study_area)
    report = LayerReport(role=role, source=read.source, declared_crs=declared.to_string())
    frame, cleaned = clean_frame(frame)
    if cleaned:
        listing = ", ".join(f"{column} ×{count}" for column, count in cleaned.items())
        report.warnings.append(
            f"invisible control characters (e.g. \\x0b from Word/Excel) removed from text: {listing}")
    n_in = len(frame) + len(read.unreadable)
    rejected = [pd.DataFrame(read.unreadable, columns=["fid", "reason"])] if read.unreadable else []

    geoms = np.asarray(frame.geometry.values, dtype=object)
    fids = frame[FID].to_numpy()
    twin = None
    if trusted is not None and CRS.from_user_input(target_crs).equals(declared):
        twin = identical_twins(geoms, np.asarray(trusted, dtype=object))
    known = twin >= 0 if twin is not None else np.zeros(len(geoms), dtype=bool)
    reasons = np.full(len(geoms), None, dtype=object)
    missing_geom = shapely.is_missing(geoms)
    reasons[missing_geom] = "null geometry"
    empty = ~missing_geom & shapely.is_empty(geoms)
    reasons[empty] = "empty geometry"
    present = ~missing_geom & ~empty
    has_z = present & shapely.has_z(geoms)
    if has_z.any():
        geoms[has_z] = shapely.force_2d(geoms[has_z])
        report.warnings.append(f"Z coordinates dropped from {int(has_z.sum())} features")

    types = np.full(len(geoms), -1)
    types[present] = shapely.get_type_id(geoms[present])
    poly_types = [int(shapely.GeometryType.POLYGON), int(shapely.GeometryType.MULTIPOLYGON)]
    point_types = [int(shapely.GeometryType.POINT), int(shapely.GeometryType.MULTIPOINT)]
    collection = types == int(shapely.GeometryType.GEOMETRYCOLLECTION)
    repaired_rows = []
    if geometry in ("polygon", "any"):
        allowed = poly_types + (point_types if geometry == "any" else [])
        if collection.any() and geometry == "polygon":
            parts = polygonal_parts(geoms[collection])
            idx = np.flatnonzero(collection)
            ok = ~shapely.is_missing(parts)
            geoms[idx[ok]] = parts[ok]
            repaired_rows += [{"fid": fids[i], "reason": "geometry collection reduced to its polygons"}
                              for i in idx[ok]]
            types[idx[ok]] = shapely.get_type_id(parts[ok])
        wrong = present & ~np.isin(types, allowed)
    else:
        wrong = present & ~np.isin(types, point_types)
    type_names = np.asarray(shapely.get_type_id(geoms[wrong]), dtype=int) if wrong.any() else []
    names = {int(t): t.name.title() for t in shapely.GeometryType}
    reasons[np.flatnonzero(wrong)] = [f"{names.get(t, 'other').lower()} in a {geometry} layer" for t in type_names]

    valid_candidates = np.flatnonzero(present & ~wrong & np.isin(types, poly_types) & ~known)
    invalid = valid_candidates[~threaded(shapely.is_valid, geoms[valid_candidates])]
    if invalid.size:
        before = _planar_area(geoms[invalid], declared, target_crs)
        fixed = polygonal_parts(shapely.make_valid(geoms[invalid]))
        lost = shapely.is_missing(fixed)
        reasons[invalid[lost]] = "invalid polygon with no area left after repair"
        keep = ~lost
        geoms[invalid[keep]] = fixed[keep]
        after = _planar_area(fixed[keep], declared, target_crs)
        for i, b, a in zip(invalid[keep], before[keep], after, strict=True):
            repaired_rows.append({"fid": fids[i], "reason": "invalid polygon repaired (make_valid)",
                                  "area_before_m2": float(b), "area_after_m2": float(a)})
    _repair_degenerate(geoms, reasons, fids, declared, target_crs, repaired_rows, skip=known)
    bad = reasons != None  # noqa: E711 (element-wise on an object array)
    if bad.any():
        rejected.append(pd.DataFrame({"fid": fids[bad], "reason": reasons[bad]}))
    report.rejected = (pd.concat(rejected, ignore_index=True) if rejected
                       else pd.DataFrame(columns=["fid", "reason"]))
    report.repaired = pd.DataFrame(repaired_rows, columns=["fid", "reason", "area_before_m2", "area_after_m2"])

    kept = gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name)[~bad].reset_index(drop=True),
                            geometry=geoms[~bad], crs=declared)
    if twin is not None:
        kept["_twin"] = twin[~bad]
    if id_field:
        counts = kept[id_field].value_counts(dropna=False)
        dup = counts[counts > 1]
        report.duplicate_ids = pd.DataFrame({"value": dup.index.astype(str), "count": dup.to_numpy()})
        if len(dup):
            report.warnings.append(f"{len(dup)} ids in {id_field} are used more than once (kept, listed as "
                                   "duplicate_ids)")
    if code_field:
        result = landuse.normalise_codes(kept[code_field], classes)
        kept["code"] = result.codes.to_numpy()
        kept["category"] = classes.classify(kept["code"]).to_numpy()
        report.codes = {"fixes": result.fixes.to_dict("records"), "blanks": result.blanks,
                        "level1_only": result.level1_only.to_dict("records"),
                        "unknown": result.unknown.to_dict("records")}
        if len(result.unknown):
            listing = ", ".join(f"{r.value} ×{r.count}" for r in result.unknown.itertuples())
            report.warnings.append(
                f"unknown land-use codes in {code_field} (classed as unknown, never farmland): {listing}")
        if result.blanks:
            report.warnings.append(f"{result.blanks} features have no code in {code_field} (classed as unknown)")
        if len(result.level1_only):
            listing = ", ".join(f"{r.value} ×{r.count}" for r in result.level1_only.itertuples())
            report.warnings.append(f"level-1-only codes in {code_field}: {listing}")
        if len(result.fixes):
            listing = ", ".join(f"{r.raw}→{r.code} ×{r.count}" for r in result.fixes.itertuples())
            report.warnings.append(f"codes normalised in {code_field}: {listing}")
    if not CRS.from_user_input(target_crs).equals(declared):
        kept = kept.to_crs(target_crs)
    report.n_in = n_in
    report.n_rejected = len(report.rejected)
    report.n_kept = len(kept)
    report.n_repaired = int(report.repaired["fid"].nunique()) if len(report.repaired) else 0
    if report.n_in != report.n_kept + report.n_rejected:
        raise AssertionError(f"feature accounting of {read.source} does not add up: {report.to_dict()}")
    if report.n_in and not report.n_kept:
        reasons = report.rejected["reason"].value_counts()
        listing = "; ".join(f"{reason} ×{count}" for reason, count in reasons.head(3).items())
        raise LayerError(f"{read.source} ({role}): every one of its {report.n_in} features was rejected ({listing}); "
                         "nothing of this layer would be counted. Fix the file (for unreadable text set `encoding:` "
                         "in the config, e.g. GBK) and run again")
    return kept, report


def _repair_degenerate(geoms: np.ndarray, reasons: np.ndarray, fids: np.ndarray, declared: CRS, target_crs: str,
                       repaired_rows: list[dict], *, skip: np.ndarray | None = None) -> None:
    """Remove zero-width holes, sliver parts and spikes (in place) and report each repair with its areas.

    Such parts are valid for GEOS but make pairwise overlays lose whole parcels
    (:mod:`kmrv_geo.degenerate`). Widths are judged in the analysis CRS (metres). ``skip``: features known to
    have none (identical to checked ones).
    """
    todo = np.flatnonzero((reasons == None) & (True if skip is None else ~skip))  # noqa: E711 (element-wise)
    todo = todo[np.isin(shapely.get_type_id(geoms[todo]), [3, 6])]
    if todo.size == 0:
        return
    metric = geoms[todo]
    if not CRS.from_user_input(target_crs).equals(declared):
        metric = np.asarray(gpd.GeoSeries(metric, crs=declared).to_crs(target_crs).values, dtype=object)
    hit = threaded(find_degenerate, metric)  # per geometry: chunks on threads (numpy and GEOS drop the GIL)
    if not hit.any():
        return
    idx = todo[hit]
    before = shapely.area(metric[hit])
    cleaned = clean_degenerate(metric[hit])
    lost = shapely.is_missing(cleaned)
    reasons[idx[lost]] = "degenerate polygon (every part narrower than 1 mm) with no area"
    keep = ~lost
    fixed = gpd.GeoSeries(cleaned[keep], crs=target_crs)
    if not CRS.from_user_input(target_crs).equals(declared):
        fixed = fixed.to_crs(declared)
    geoms[idx[keep]] = np.asarray(fixed.values, dtype=object)
    for i, b, a in zip(idx[keep], before[keep], shapely.area(cleaned[keep]), strict=True):
        repaired_rows.append({"fid": fids[i], "reason": "degenerate ring, sliver or spike removed (narrower than 1 mm)",
                              "area_before_m2": float(b), "area_after_m2": float(a)})


def _planar_area(geoms: np.ndarray, declared: CRS, target_crs: str) -> np.ndarray:
    """Area in m² of geometries given in ``declared``, measured in the (metric) analysis CRS."""
    series = gpd.GeoSeries(geoms, crs=declared)
    if not CRS.from_user_input(target_crs).equals(declared):
        series = series.to_crs(target_crs)
    return np.nan_to_num(shapely.area(np.asarray(series.values, dtype=object)))


REFERENCE_ROLES = ("county", "township", "landuse_t0", "landuse_t1")
"""Layers that cover the whole study area; the other (sparse) layers need only touch their extent."""


def _box_problem(a: str, abox, b: str, bbox, min_share: float) -> str | None:
    ax0, ay0, ax1, ay1 = abox
    bx0, by0, bx1, by1 = bbox
    w = min(ax1, bx1) - max(ax0, bx0)
    h = min(ay1, by1) - max(ay0, by0)
    inter = max(w, 0) * max(h, 0)
    smaller = min((ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0))
    touching = w >= 0 and h >= 0
    if not touching or (smaller > 0 and inter / smaller < min_share):
        return (f"{a} (x {ax0:.0f}…{ax1:.0f}, y {ay0:.0f}…{ay1:.0f}) and {b} (x {bx0:.0f}…{bx1:.0f}, "
                f"y {by0:.0f}…{by1:.0f}) do not overlap")
    return None


def check_overlap(frames: dict[str, gpd.GeoDataFrame], *, min_share: float = 0.0) -> list[str]:
    """Layers (same CRS) whose extents do not overlap; one problem sentence per pair.

    Layers of a project describe the same place: two that do not even share a bounding box mean one
    of them has a wrong CRS. The layers that cover the study area (:data:`REFERENCE_ROLES`: counties,
    townships, land use) must overlap each other; every other layer must overlap their joint extent —
    sparse layers (approvals in one town, the red line in the hills) need not overlap each other.
    Without reference layers every pair is compared. Returns an empty list when all is well.
    ``min_share`` is the least share of the smaller bounding box a pair must share.
    """
    boxes = {role: tuple(frame.total_bounds) for role, frame in frames.items()
             if len(frame) and np.all(np.isfinite(frame.total_bounds))}
    references = [role for role in boxes if role in REFERENCE_ROLES]
    problems = []
    if not references:
        roles = list(boxes)
        pairs = [(a, boxes[a], b, boxes[b]) for i, a in enumerate(roles) for b in roles[i + 1:]]
    else:
        pairs = [(a, boxes[a], b, boxes[b]) for i, a in enumerate(references) for b in references[i + 1:]]
        ref = np.array([boxes[r] for r in references])
        joint = (ref[:, 0].min(), ref[:, 1].min(), ref[:, 2].max(), ref[:, 3].max())
        label = " + ".join(references)
        pairs += [(role, boxes[role], label, joint) for role in boxes if role not in references]
    for a, abox, b, bbox in pairs:
        problem = _box_problem(a, abox, b, bbox, min_share)
        if problem:
            problems.append(problem)
    return problems


SELF_OVERLAP_MIN_M2 = 0.01
"""Overlaps between parcels of one land-use layer at least this large (m²) are errors; smaller ones are
float slivers of shared edges."""


def apart_by_twins(twin: np.ndarray, n_checked: int) -> np.ndarray:
    """Features identical to distinct features of a layer known to have no overlaps (``checked``).

    Two such features are copies of two parcels that do not overlap, so they do not overlap each other
    either; features identical to the same parcel (duplicates of each other) are not counted.

    Parameters
    ----------
    twin : numpy.ndarray of int
        Each feature's identical twin in ``checked`` (−1: none; :func:`kmrv_geo.overlay.identical_twins`).
    n_checked : int
        Features in ``checked``.

    Returns
    -------
    numpy.ndarray of bool, shape (len(twin),)
    """
    matched = twin >= 0
    once = np.bincount(twin[matched], minlength=n_checked) == 1
    return matched & once[np.maximum(twin, 0)]


def self_overlaps(frame: gpd.GeoDataFrame, *, id_field: str | None = None,
                  min_m2: float = SELF_OVERLAP_MIN_M2, known_apart: np.ndarray | None = None) -> pd.DataFrame:
    """Pairs of features of one layer whose interiors overlap (a land-use layer must partition the land).

    Parameters
    ----------
    frame : GeoDataFrame
        A checked layer in a projected CRS (metres).
    id_field : str, optional
        Feature id field shown (default the source feature id ``_fid``).
    min_m2 : float
        Smallest overlap (m²) reported.
    known_apart : numpy.ndarray of bool, optional
        Features known not to overlap each other, so pairs of two of them are not tested: e.g. parcels
        identical to distinct parcels of the other survey date, whose layer passed this check
        (:func:`apart_by_twins`). Pairs with one other feature are tested as ever.

    Returns
    -------
    DataFrame
        ``id_a``, ``id_b``, ``overlap_m2`` (planar), largest first.
    """
    geoms = np.asarray(frame.geometry.values, dtype=object)
    # candidates: pairs whose boxes meet; kept where the interiors meet (DE-9IM T********: overlapping,
    # one inside the other, duplicates, and the float slivers along shared edges), then measured. Vectorised
    # on threads; nothing is prepared for the whole layer (that took 2 GB at 200k parcels).
    tested = np.arange(len(geoms)) if known_apart is None else np.flatnonzero(~known_apart)
    i, j = query_threaded(shapely.STRtree(geoms), geoms[tested])  # only features not known apart ask
    i = tested[i]
    keep = i < j  # a pair of two asking features is found twice: once kept; one with a feature known apart once
    if known_apart is not None:
        keep |= known_apart[j]
    i, j = np.minimum(i[keep], j[keep]), np.maximum(i[keep], j[keep])
    order = np.lexsort((j, i))
    i, j = i[order], j[order]
    inner = threaded(lambda a, b: shapely.relate_pattern(a, b, "T********"), geoms[i], geoms[j]) if i.size \
        else np.zeros(0, dtype=bool)
    li, ri = i[inner], j[inner]
    area = threaded(lambda a, b: shapely.area(shapely.intersection(a, b)), geoms[li], geoms[ri]) if li.size \
        else np.zeros(0)
    big = np.nan_to_num(area) >= min_m2
    ids = frame[id_field].to_numpy() if id_field and id_field in frame else frame[FID].to_numpy()
    table = pd.DataFrame({"id_a": ids[li[big]], "id_b": ids[ri[big]], "overlap_m2": area[big]})
    return table.sort_values("overlap_m2", ascending=False, ignore_index=True, kind="stable")
