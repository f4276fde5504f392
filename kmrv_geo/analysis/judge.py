"""Judge monitoring patches (卫片执法): cut each patch into parts, give each part its reasons, sum per patch.

Pure: frames and geometry arrays in, frames out (no file I/O). :func:`judge_patches` cuts every patch
at the T0 survey parcels (what it was), the T1 survey parcels (what it is now, where the patch carries
no after-use code), PBF, the ecological red line (ERL), the urban development boundary (UDB) and each
approval-like layer; each piece gets its reasons by :func:`~kmrv_geo.analysis.judge_rules.part_reasons`
and the document numbers of the permits covering it. Pieces of one patch with the same verdict,
reasons and documents form a part (``judged_parts``); a patch's figures are sums over its pieces, each
measured in the run's area kind, so that the parts of a patch add up to the patch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import landuse
from ..overlay import intersect_pairs, label_by_zone, split_by_zones
from ..units import M2_PER_MU, AreaMeasure, planar_measure
from .judge_rules import REASON_ORDER, REASONS, SEVERITY, VERDICT_TEXT, Part, part_reasons, verdict_of
from .keys import VILLAGE_KEY
from .violations import ZERO_M2, Zones

logger = logging.getLogger(__name__)

PERMIT_KINDS = {"approvals": "approved", "facility_filings": "facility", "temporary_use": "temporary",
                "supplement_projects": "supplement_project"}
"""Approval-like role → the name of its columns (``approved_mu``/``approval_refs``, ``facility_mu`` …)."""
REF_COLUMNS = {"approvals": "approval_refs", "facility_filings": "facility_refs", "temporary_use": "temporary_refs",
               "supplement_projects": "supplement_refs"}
REF_REASONS = {"approved_conversion": "approvals", "pbf_conversion_approved": "approvals",
               "erl_construction_approved": "approvals", "facility_filed": "facility_filings",
               "temporary_use_valid": "temporary_use", "temporary_use_expired": "temporary_use",
               "temporary_use_date_unknown": "temporary_use", "supplement_project": "supplement_projects"}
"""Reasons that rest on a document, and the layer it comes from."""
JUDGED_COLUMNS = [
    "patch_id", "county_code", "county_name", "township", "village_key", "village", "verdict", "verdict_text",
    "partly", "reasons", "reason_text", "area_mu", "area_mu_planar", "area_mu_ellipsoidal", "farmland_mu",
    "farmland_net_mu", "pbf_mu", "erl_mu", "udb_mu", "legal_mu", "illegal_mu", "to_check_mu", "illegal_pbf_mu",
    "pbf_converted_mu", "pbf_converted_approved_mu", "approved_mu", "approval_refs", "facility_mu", "facility_refs",
    "temporary_mu", "temporary_refs", "temporary_end", "supplement_project_mu", "supplement_refs", "outside_t0_mu",
    "t0_classes", "before_code", "after_code", "after_name", "after_source", "image_date", "judged_at", "lon", "lat",
]  # fmt: skip
"""Columns of ``judged_patches`` (every 亩 figure in the run's area kind except the ``_planar``/``_ellipsoidal``
pair; each is the area of the pieces it names):

- ``farmland_mu`` (``_net_mu``: net of 田坎 where the T0 survey has KCXS): the part that was farmland at T0;
- ``pbf_mu``, ``erl_mu``, ``udb_mu``: the parts inside PBF, the ecological red line, the urban development
  boundary;
- ``legal_mu``, ``illegal_mu``, ``to_check_mu``: the parts by their own verdict; ``illegal_pbf_mu``: the
  illegal parts inside PBF;
- ``pbf_converted_mu``: construction on PBF that was not construction before; ``pbf_converted_approved_mu``:
  its part an approval or permit covers (一冻结: still flagged);
- ``approved_mu``/``facility_mu``/``temporary_mu``/``supplement_project_mu``: the parts each approval-like layer
  covers, with the document numbers (``*_refs``) of the features that cover them;
- ``outside_t0_mu``: the part the T0 survey does not cover (to be checked).
"""
PART_COLUMNS = ["patch_id", "part", "verdict", "verdict_text", "reasons", "reason_text", "refs", "area_mu",
                "t0_classes", "after_code", "in_pbf", "in_erl"]
NOT_JUDGED_COLUMNS = ["patch_id", "reason", "reason_text", "area_mu", "county_code", "county_name"]
NOT_JUDGED_REASONS = {"outside_study_area": ("不在研究区（区县图层）内", "outside the study area (county layer)"),
                      "outside_t0": ("前时相调查未覆盖", "not covered by the T0 survey")}


@dataclass
class PermitLayer:
    """An approval-like layer ready for judging.

    Attributes
    ----------
    geoms : numpy.ndarray of shapely geometries
        Its features (may overlap each other).
    refs : numpy.ndarray of str
        Document number per feature.
    end_dates : numpy.ndarray of datetime64[D], optional
        End date per feature (temporary use; NaT where blank or unreadable).
    union : numpy.ndarray of shapely geometries, optional
        The features dissolved into non-overlapping polygons (computed when not given).
    """

    geoms: np.ndarray
    refs: np.ndarray
    end_dates: np.ndarray | None = None
    union: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.union is None:
            from ..overlay import dissolve_zones

            self.union = dissolve_zones(np.asarray(self.geoms, dtype=object))


@dataclass
class JudgeResult:
    """What judging found.

    Attributes
    ----------
    patches : GeoDataFrame
        ``judged_patches``: :data:`JUDGED_COLUMNS` and the patch geometry.
    parts : GeoDataFrame
        ``judged_parts``: one row per part of a patch with its own verdict (:data:`PART_COLUMNS`).
    not_judged : GeoDataFrame
        Patches outside the study area or the T0 survey (:data:`NOT_JUDGED_COLUMNS`).
    warnings : list of str
    field_unmatched : DataFrame, optional
        Rows of a returned field-check sheet that match no patch (or cannot be read), with the reason.
    field_pending : int
        Patches of a returned sheet without any field entry yet.
    """

    patches: gpd.GeoDataFrame
    parts: gpd.GeoDataFrame
    not_judged: gpd.GeoDataFrame
    warnings: list[str] = field(default_factory=list)
    field_unmatched: pd.DataFrame | None = None
    field_pending: int = 0


def _patch_ids(numbers: np.ndarray, county: np.ndarray, geoms: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Patch numbers as given (made unique with ``-2``, ``-3`` … where repeated), else generated per county
    in a fixed order (north to south, west to east): ``530111-J00001``.
    """
    ids = np.array([str(n) for n in numbers], dtype=object)
    warnings = []
    blank = ids == ""
    if blank.any():
        points = shapely.point_on_surface(geoms[blank])
        order = pd.DataFrame({"pos": np.flatnonzero(blank), "c": county[blank],
                              "y": -np.round(shapely.get_y(points), 2), "x": np.round(shapely.get_x(points), 2),
                              }).sort_values(["c", "y", "x", "pos"])
        seq = order.groupby("c").cumcount() + 1
        code = order["c"].replace("", "000000")
        ids[order["pos"].to_numpy()] = (code + "-J" + seq.map("{:05d}".format)).to_numpy()
    counts: dict[str, int] = {}
    repeated = []
    for i, value in enumerate(ids):
        counts[value] = counts.get(value, 0) + 1
        if counts[value] > 1:
            ids[i] = f"{value}-{counts[value]}"
            repeated.append(value)
    if repeated:
        shown = ", ".join(sorted(set(repeated))[:10])
        warnings.append(f"{len(repeated)} patch numbers repeat ({shown}); the repeats got -2, -3 … appended")
    return ids, warnings


def _flag_split(pieces: gpd.GeoDataFrame, union: np.ndarray | None, flag: str) -> gpd.GeoDataFrame:
    """Cut pieces at a dissolved layer's edges; column ``flag`` says inside (False everywhere without it)."""
    if union is None or len(union) == 0:
        pieces[flag] = False
        return pieces
    zones = gpd.GeoDataFrame({flag: np.ones(len(union), dtype=bool)}, geometry=np.asarray(union, dtype=object),
                             crs=pieces.crs)
    return split_by_zones(pieces, zones, [flag], outside={flag: False}).drop(columns="_src")


def _covering(pieces: np.ndarray, inside: np.ndarray, layer: PermitLayer):
    """For each piece inside a permit layer: the features covering more than 0.01 m² of it.

    Returns
    -------
    list of numpy.ndarray
        Feature positions per piece (empty outside).
    """
    out = [np.array([], dtype=int)] * len(pieces)
    rows = np.flatnonzero(inside)
    if not rows.size:
        return out
    pi, fi, overlap = intersect_pairs(pieces[rows], np.asarray(layer.geoms, dtype=object))
    keep = shapely.area(overlap) > ZERO_M2
    pi, fi = pi[keep], fi[keep]
    for k in np.unique(pi):
        out[rows[k]] = np.unique(fi[pi == k])
    return out


def _temporary_state(features: np.ndarray, layer: PermitLayer, at: np.datetime64) -> str:
    """``valid`` if a covering permit runs to ``at`` or later, else ``unknown`` where a date is missing, else
    ``expired`` ('' without permits).
    """
    if not features.size:
        return ""
    if np.isnat(at):
        return "unknown"
    ends = layer.end_dates[features] if layer.end_dates is not None else np.full(features.size, np.datetime64("NaT"))
    if (ends[~np.isnat(ends)] >= at).any():
        return "valid"
    return "unknown" if np.isnat(ends).any() else "expired"


def _classes_text(codes, area_m2: np.ndarray) -> str:
    """``0103:12.40;0702:0.80`` — 亩 per code, largest first, ties by code (codes of no survey as ``none``)."""
    mu = _summed((code or "none" for code in codes), area_m2 / M2_PER_MU)
    shown = sorted((code for code in mu if mu[code] >= 0.005), key=lambda code: (-mu[code], code))
    return ";".join(f"{code}:{mu[code]:.2f}" for code in shown)


def _reason_text(reason_mu: dict[str, float], refs: dict[str, list[str]], lang: str) -> str:
    """``违法占用永久基本农田建设 3.75 亩；已批准农用地转用/征收 3.75 亩（云政地〔2022〕12号）``."""
    unit = " 亩" if lang == "zh" else " mu"
    parts = []
    for code in sorted(reason_mu, key=REASON_ORDER.__getitem__):
        text = getattr(REASONS[code], lang) + f" {reason_mu[code]:.2f}{unit}"
        documents = refs.get(REF_REASONS.get(code, ""), [])
        if documents:
            text += ("（" + "、".join(documents) + "）") if lang == "zh" else " (" + ", ".join(documents) + ")"
        parts.append(text)
    return ("；" if lang == "zh" else "; ").join(parts)


def judge_patches(patches: gpd.GeoDataFrame, *, t0: gpd.GeoDataFrame, t1: gpd.GeoDataFrame | None = None,
                  pbf: np.ndarray | None = None, erl: np.ndarray | None = None, udb: np.ndarray | None = None,
                  permits: dict[str, PermitLayer] | None = None, zones: Zones | None = None,
                  as_of: np.datetime64 | None = None, verdicts: dict[str, str] | None = None,
                  min_part_m2: float = 1.0, measure: AreaMeasure | None = None,
                  classes: landuse.LanduseClasses = landuse.DEFAULT_CLASSES, lang: str = "zh") -> JudgeResult:
    """Judge every monitoring patch: parts, reasons, verdicts, the documents cited.

    Parameters
    ----------
    patches : GeoDataFrame
        Polygons in the analysis CRS with columns ``patch_no`` (may be blank), ``after_code`` (normalised
        land-use code or blank), ``before_code`` and ``image_date`` (``datetime64``, NaT when unknown).
    t0 : GeoDataFrame
        The T0 survey: ``code``, ``category`` and optionally ``ridge_share`` (田坎 share of farmland).
    t1 : GeoDataFrame, optional
        The T1 survey (``code``, ``category``): what a patch without an after-use code is now.
    pbf, erl, udb : numpy.ndarray of geometries, optional
        Dissolved (non-overlapping) PBF, ecological red line, urban development boundary.
    permits : dict, optional
        Approval-like role (``approvals``, ``facility_filings``, ``temporary_use``, ``supplement_projects``)
        → :class:`PermitLayer`.
    zones : Zones, optional
        Counties, townships, villages: each patch is located by its representative point; with a county
        layer, patches outside every county are not judged.
    as_of : numpy.datetime64, optional
        Date temporary permits are judged at where a patch has no ``image_date``.
    verdicts : dict, optional
        Reason code → verdict overrides (config ``judge.verdicts``).
    min_part_m2 : float, default 1.0
        Parts smaller than this do not decide a patch's verdict (their area still counts).
    measure : AreaMeasure, optional
        The area kind (default planar).
    classes : LanduseClasses
        What each after-use code counts as (the project's ``landuse_classes``).
    lang : {"zh", "en"}
        Language of ``verdict_text`` and ``reason_text``.

    Returns
    -------
    JudgeResult
    """
    measure = measure or planar_measure(str(patches.crs))
    permits = {role: layer for role, layer in (permits or {}).items() if layer is not None}
    zones = zones or Zones()
    as_of = np.datetime64(as_of, "D") if as_of is not None else np.datetime64("NaT")
    geoms = np.asarray(patches.geometry.values, dtype=object)
    frame = gpd.GeoDataFrame({"_pos": np.arange(len(patches))}, geometry=geoms, crs=patches.crs)
    located = frame.copy()
    for zone, columns in ((zones.county, ["county_code", "county_name"]), (zones.township, ["township"]),
                          (zones.village, [VILLAGE_KEY, "village"])):
        located = label_by_zone(located, zone, columns)
    ids, warnings = _patch_ids(patches["patch_no"].fillna("").to_numpy(), located["county_code"].to_numpy(), geoms)
    located["patch_id"] = ids
    area = measure.m2(geoms)

    # not judged: outside every county, or no T0 survey under it
    reason = np.full(len(patches), "", dtype=object)
    if zones.county is not None and len(zones.county):
        tree = shapely.STRtree(np.asarray(zones.county.geometry.values, dtype=object))
        hit = np.zeros(len(patches), dtype=bool)
        hit[np.unique(tree.query(geoms, predicate="intersects")[0])] = True
        reason[~hit] = "outside_study_area"
    t0_codes = t0["code"].fillna("").replace("", "?")  # a parcel without a code is in the survey: '?', not outside
    t0z = gpd.GeoDataFrame({"t0_code": t0_codes.to_numpy(),
                            "t0_category": t0["category"].to_numpy(),
                            "ridge_share": t0["ridge_share"].to_numpy(dtype=float) if "ridge_share" in t0
                            else np.full(len(t0), np.nan)}, geometry=t0.geometry.values, crs=t0.crs)
    pieces = split_by_zones(frame[reason == ""], t0z, ["t0_code", "t0_category", "ridge_share"],
                            outside={"t0_code": "", "t0_category": "none", "ridge_share": np.nan}).drop(columns="_src")
    covered = pieces[pieces["t0_code"] != ""].groupby("_pos").size()
    no_t0 = np.setdiff1d(np.flatnonzero(reason == ""), covered.index.to_numpy())
    reason[no_t0] = "outside_t0"
    pieces = pieces[~pieces["_pos"].isin(no_t0)]

    after_given = patches["after_code"].fillna("").to_numpy(dtype=object)
    if t1 is not None:
        t1z = gpd.GeoDataFrame({"t1_code": t1["code"].fillna("").to_numpy()}, geometry=t1.geometry.values, crs=t1.crs)
        pieces = split_by_zones(pieces, t1z, ["t1_code"], outside={"t1_code": ""}).drop(columns="_src")
    else:
        pieces["t1_code"] = ""
    pos = pieces["_pos"].to_numpy()
    given = after_given[pos]
    pieces["after_code"] = np.where(given != "", given, pieces["t1_code"].to_numpy())
    for union, flag in ((pbf, "in_pbf"), (erl, "in_erl"), (udb, "in_udb")):
        pieces = _flag_split(pieces, union, flag)
    for role, kind in PERMIT_KINDS.items():
        layer = permits.get(role)
        pieces = _flag_split(pieces, layer.union if layer is not None else None, f"in_{kind}")
    pieces = pieces.sort_values("_pos", kind="stable").reset_index(drop=True)
    piece_geoms = np.asarray(pieces.geometry.values, dtype=object)
    pos = pieces["_pos"].to_numpy()
    image_date = patches["image_date"].to_numpy(dtype="datetime64[D]")
    at = np.where(np.isnat(image_date[pos]), as_of, image_date[pos])

    covering = {role: _covering(piece_geoms, pieces[f"in_{PERMIT_KINDS[role]}"].to_numpy(), layer)
                for role, layer in permits.items()}
    temporary = np.full(len(pieces), "", dtype=object)
    if "temporary_use" in permits:
        layer = permits["temporary_use"]
        temporary = np.array([_temporary_state(f, layer, a) for f, a in zip(covering["temporary_use"], at,
                                                                            strict=True)], dtype=object)
    codes = pieces["after_code"].to_numpy(dtype=object)
    after_category = classes.classify(pd.Series(np.where(codes == "", None, codes), dtype=object)).to_numpy()
    facts = pd.DataFrame({
        "t0_code": pieces["t0_code"].to_numpy(), "t0_category": pieces["t0_category"].to_numpy(),
        "after_code": pieces["after_code"].to_numpy(), "after_category": after_category,
        "in_pbf": pieces["in_pbf"].to_numpy(bool), "in_erl": pieces["in_erl"].to_numpy(bool),
        "approved": pieces["in_approved"].to_numpy(bool), "facility": pieces["in_facility"].to_numpy(bool),
        "supplement": pieces["in_supplement_project"].to_numpy(bool), "temporary": temporary,
    })  # fmt: skip
    rule_cache: dict[tuple, tuple[str, str]] = {}
    reasons, verdict = [], []
    for row in facts.itertuples(index=False, name=None):
        if row not in rule_cache:
            codes = part_reasons(Part(*row))
            rule_cache[row] = (";".join(codes), verdict_of(codes, verdicts))
        reasons.append(rule_cache[row][0])
        verdict.append(rule_cache[row][1])
    pieces["reasons"] = reasons
    pieces["verdict"] = verdict
    pieces["converted"] = (after_category == landuse.CONSTRUCTION) & ~np.isin(
        facts["t0_category"].to_numpy(), [landuse.CONSTRUCTION, "none"])
    piece_m2 = measure.m2(piece_geoms)
    pieces["m2"] = piece_m2
    refs_text = np.full(len(pieces), "", dtype=object)
    for role, features in covering.items():
        refs = permits[role].refs
        texts = np.array(["、".join(sorted(set(refs[f]) - {""})) if f.size else "" for f in features], dtype=object)
        pieces[f"refs_{role}"] = texts
        refs_text = np.where(texts != "", np.where(refs_text != "", refs_text + "；" + texts, texts), refs_text)
    pieces["refs"] = refs_text

    judged_pos = np.flatnonzero(reason == "")
    table = pd.DataFrame(_patch_rows(pieces, judged_pos, patches, located, area, min_part_m2, permits, covering,
                                     as_of, lang))
    judged = gpd.GeoDataFrame(table, geometry=geoms[judged_pos] if len(judged_pos) else [], crs=patches.crs)
    if len(judged):
        judged["area_mu_planar"] = measure.planar_m2(geoms[judged_pos]) / M2_PER_MU
        judged["area_mu_ellipsoidal"] = measure.ellipsoidal_m2(geoms[judged_pos]) / M2_PER_MU
        points = gpd.GeoSeries(shapely.point_on_surface(geoms[judged_pos]), crs=patches.crs).to_crs("EPSG:4326")
        judged["lon"], judged["lat"] = points.x.to_numpy(), points.y.to_numpy()
    judged = _ordered(judged.reindex(columns=JUDGED_COLUMNS + ["geometry"]), patches.crs)
    parts = _parts(pieces, located, measure, lang)
    not_judged = _not_judged(reason, located, area, geoms, patches.crs, lang)
    if len(not_judged):
        warnings.append(f"{len(not_judged)} patches lie outside the study area or the T0 survey and were not judged "
                        "(listed in patches_not_judged)")
    return JudgeResult(patches=judged, parts=parts, not_judged=not_judged, warnings=warnings)


def _ordered(frame: gpd.GeoDataFrame, crs) -> gpd.GeoDataFrame:
    if frame.empty:
        return gpd.GeoDataFrame(frame, geometry="geometry", crs=crs)
    return gpd.GeoDataFrame(frame.sort_values(["county_code", "patch_id"], kind="stable").reset_index(drop=True),
                            geometry="geometry", crs=crs)


@dataclass(frozen=True)
class _PieceArrays:
    """The columns of the judged pieces as arrays (pieces sorted by patch), sliced per patch."""

    m2: np.ndarray
    farm: np.ndarray
    share: np.ndarray
    converted: np.ndarray
    in_pbf: np.ndarray
    in_erl: np.ndarray
    in_udb: np.ndarray
    frozen: np.ndarray
    verdict: np.ndarray
    reasons: np.ndarray
    t0_code: np.ndarray
    t1_code: np.ndarray
    flags: dict[str, np.ndarray]
    refs: dict[str, np.ndarray]

    @classmethod
    def of(cls, pieces: pd.DataFrame, permits: dict) -> _PieceArrays:
        reasons = pieces["reasons"].to_numpy(dtype=object)
        return cls(
            m2=pieces["m2"].to_numpy(dtype=float), farm=(pieces["t0_category"] == landuse.FARMLAND).to_numpy(),
            share=pieces["ridge_share"].to_numpy(dtype=float), converted=pieces["converted"].to_numpy(bool),
            in_pbf=pieces["in_pbf"].to_numpy(bool), in_erl=pieces["in_erl"].to_numpy(bool),
            in_udb=pieces["in_udb"].to_numpy(bool),
            frozen=np.array(["pbf_conversion_approved" in c for c in reasons], dtype=bool),
            verdict=pieces["verdict"].to_numpy(dtype=object), reasons=reasons,
            t0_code=pieces["t0_code"].to_numpy(dtype=object), t1_code=pieces["t1_code"].to_numpy(dtype=object),
            flags={role: pieces[f"in_{kind}"].to_numpy(bool) for role, kind in PERMIT_KINDS.items() if role in permits},
            refs={role: pieces[f"refs_{role}"].to_numpy(dtype=object) for role in permits},
        )  # fmt: skip


def _summed(keys, values) -> dict:
    """Sum of ``values`` per key, keys in the order they first appear."""
    out: dict = {}
    for key, value in zip(keys, values, strict=True):
        out[key] = out.get(key, 0.0) + value
    return out


def _patch_rows(pieces: pd.DataFrame, judged_pos: np.ndarray, patches, located, area_m2: np.ndarray,
                min_part_m2: float, permits: dict, covering: dict, as_of: np.datetime64, lang: str) -> list[dict]:
    """The rows of ``judged_patches``: one per judged patch, from its pieces (``pieces`` sorted by ``_pos``).

    Each patch's pieces are a slice of the piece arrays (no per-patch frames: 100k patches take seconds).
    """
    arrays = _PieceArrays.of(pieces, permits)
    pos = pieces["_pos"].to_numpy()
    starts = np.searchsorted(pos, judged_pos, side="left")
    ends = np.searchsorted(pos, judged_pos, side="right")
    after_given = patches["after_code"].fillna("").to_numpy(dtype=object)
    before_code = patches["before_code"].fillna("").to_numpy(dtype=object)
    image_dates = patches["image_date"].to_numpy(dtype="datetime64[D]")
    place = {c: located[c].to_numpy(dtype=object) for c in ("patch_id", "county_code", "county_name", "township",
                                                            VILLAGE_KEY, "village")}
    return [_patch_row(arrays, slice(a, b), after_given[p], before_code[p], image_dates[p],
                       {c: values[p] for c, values in place.items()}, area_m2[p], min_part_m2, permits, covering,
                       as_of, lang)
            for p, a, b in zip(judged_pos, starts, ends, strict=True)]


def _patch_row(arrays: _PieceArrays, rows: slice, after_given: str, before_code: str,
               image_date: np.datetime64, place: dict, area_m2: float, min_part_m2: float, permits: dict,
               covering: dict, as_of: np.datetime64, lang: str) -> dict:
    """One row of ``judged_patches`` from the pieces ``rows`` of one patch."""
    m2 = arrays.m2[rows]
    farm = arrays.farm[rows]
    share = arrays.share[rows]
    in_pbf = arrays.in_pbf[rows]
    verdicts = arrays.verdict[rows]
    # a part: pieces with the same verdict and reasons; small parts do not decide the verdict
    groups = _summed(zip(verdicts, arrays.reasons[rows], strict=True), m2)
    significant = {key: value for key, value in groups.items() if value >= min_part_m2}
    if not significant:
        largest = max(groups.values())
        significant = {key: value for key, value in groups.items() if value == largest}
    verdict = max((v for v, _ in significant), key=SEVERITY.__getitem__)
    part_verdicts = {v for v, _ in significant}
    reason_mu: dict[str, float] = {}
    for (_v, codes), value in significant.items():
        for code in codes.split(";"):
            reason_mu[code] = reason_mu.get(code, 0.0) + value / M2_PER_MU
    refs = {role: sorted({r for text in arrays.refs[role][rows] for r in text.split("、") if r}) for role in permits}
    text = _reason_text(reason_mu, refs, lang)
    if len(part_verdicts) > 1:
        by_verdict = {v: total / M2_PER_MU for v, total in _summed((v for v, _ in significant),
                                                                   significant.values()).items()}
        order = sorted(by_verdict, key=SEVERITY.__getitem__, reverse=True)
        if lang == "zh":
            lead = "图斑部分：" + "，".join(f"{VERDICT_TEXT['zh'][v]} {by_verdict[v]:.2f} 亩" for v in order) + "。"
        else:
            lead = "split: " + ", ".join(f"{VERDICT_TEXT['en'][v]} {by_verdict[v]:.2f} mu" for v in order) + ". "
        text = lead + text
    if after_given:
        after_code, source = after_given, "patch"
    else:
        t1_codes = arrays.t1_code[rows]
        known = t1_codes != ""
        if known.any():
            by_code = _summed(t1_codes[known], m2[known])
            after_code, source = max(sorted(by_code), key=by_code.__getitem__), "t1"  # largest; ties: lowest code
        else:
            after_code, source = "", "unknown"
    end = ""
    if "temporary_use" in permits:
        layer = permits["temporary_use"]
        found = [covering["temporary_use"][i] for i in range(rows.start, rows.stop)]
        idx = np.unique(np.concatenate(found or [np.array([], int)]))
        if idx.size and layer.end_dates is not None:
            end = "、".join(sorted({str(d) if not np.isnat(d) else "?" for d in layer.end_dates[idx.astype(int)]}))
    t0_codes = arrays.t0_code[rows]
    row = {
        **place,
        "verdict": verdict, "verdict_text": VERDICT_TEXT[lang][verdict], "partly": len(part_verdicts) > 1,
        "reasons": ";".join(sorted(reason_mu, key=REASON_ORDER.__getitem__)), "reason_text": text,
        "area_mu": area_m2 / M2_PER_MU,
        "farmland_mu": m2[farm].sum() / M2_PER_MU,
        "farmland_net_mu": (np.nansum(m2[farm] * (1 - share[farm])) / M2_PER_MU
                            if np.isfinite(share[farm]).any() else np.nan),
        "pbf_mu": m2[in_pbf].sum() / M2_PER_MU, "erl_mu": m2[arrays.in_erl[rows]].sum() / M2_PER_MU,
        "udb_mu": m2[arrays.in_udb[rows]].sum() / M2_PER_MU,
        **{f"{v}_mu": m2[verdicts == v].sum() / M2_PER_MU for v in ("legal", "illegal", "to_check")},
        "illegal_pbf_mu": m2[(verdicts == "illegal") & in_pbf].sum() / M2_PER_MU,
        "pbf_converted_mu": m2[arrays.converted[rows] & in_pbf].sum() / M2_PER_MU,
        "pbf_converted_approved_mu": m2[arrays.frozen[rows]].sum() / M2_PER_MU,
        "outside_t0_mu": m2[t0_codes == ""].sum() / M2_PER_MU,
        "t0_classes": _classes_text(t0_codes, m2),
        "before_code": before_code,
        "after_code": after_code, "after_name": landuse.code_name(after_code) if after_code else "",
        "after_source": source, "image_date": "" if np.isnat(image_date) else str(image_date),
        "judged_at": "", "temporary_end": end,
    }  # fmt: skip
    for role, kind in PERMIT_KINDS.items():
        row[f"{kind}_mu"] = m2[arrays.flags[role][rows]].sum() / M2_PER_MU if role in permits else np.nan
        row[REF_COLUMNS[role]] = "；".join(refs.get(role, []))
    at = image_date if not np.isnat(image_date) else as_of
    row["judged_at"] = "" if np.isnat(at) else str(at)
    return row


def _parts(pieces: gpd.GeoDataFrame, located, measure: AreaMeasure, lang: str) -> gpd.GeoDataFrame:
    """``judged_parts``: the pieces of each patch dissolved by verdict, reasons and documents."""
    if pieces.empty:
        return gpd.GeoDataFrame(columns=PART_COLUMNS + ["geometry"], geometry="geometry", crs=pieces.crs)
    keys = ["_pos", "verdict", "reasons", "refs"]
    merged = pieces[keys + ["geometry"]].dissolve(by=keys, as_index=False, sort=True)
    geoms = np.asarray(merged.geometry.values, dtype=object)
    m2 = measure.m2(geoms)
    grouped = pieces.groupby(keys, sort=True)
    flags = grouped[["in_pbf", "in_erl"]].any()
    # per part (the groups in dissolve's order): its T0 classes and its largest after-use code (ties: lowest)
    group = grouped.ngroup().to_numpy()
    order = np.argsort(group, kind="stable")
    bounds = np.r_[0, np.flatnonzero(np.diff(group[order])) + 1, len(order)]
    piece_m2 = pieces["m2"].to_numpy(dtype=float)[order]
    t0_codes = pieces["t0_code"].to_numpy(dtype=object)[order]
    after_codes = pieces["after_code"].to_numpy(dtype=object)[order]
    t0_text, after = [], []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        t0_text.append(_classes_text(t0_codes[a:b], piece_m2[a:b]))
        by_code = _summed(after_codes[a:b], piece_m2[a:b])
        after.append(max(sorted(by_code), key=by_code.__getitem__))
    t0_text, after = np.array(t0_text, dtype=object), np.array(after, dtype=object)
    out = gpd.GeoDataFrame({
        "patch_id": located["patch_id"].to_numpy()[merged["_pos"].to_numpy()],
        "verdict": merged["verdict"].to_numpy(),
        "verdict_text": merged["verdict"].map(VERDICT_TEXT[lang]).to_numpy(),
        "reasons": merged["reasons"].to_numpy(),
        "reason_text": [("；" if lang == "zh" else "; ").join(getattr(REASONS[c], lang) for c in r.split(";"))
                        for r in merged["reasons"]],
        "refs": merged["refs"].to_numpy(), "area_mu": m2 / M2_PER_MU,
        "t0_classes": t0_text, "after_code": after,
        "in_pbf": flags["in_pbf"].to_numpy(), "in_erl": flags["in_erl"].to_numpy(),
    }, geometry=geoms, crs=pieces.crs)  # fmt: skip
    order = out.assign(_s=out["verdict"].map(SEVERITY)).sort_values(["patch_id", "_s", "area_mu"],
                                                                     ascending=[True, False, False], kind="stable")
    order["part"] = order.groupby("patch_id").cumcount() + 1
    return gpd.GeoDataFrame(order[PART_COLUMNS + ["geometry"]].reset_index(drop=True), geometry="geometry",
                            crs=pieces.crs)


def _not_judged(reason: np.ndarray, located, area: np.ndarray, geoms: np.ndarray, crs, lang: str) -> gpd.GeoDataFrame:
    rows = np.flatnonzero(reason != "")
    texts = {code: (zh if lang == "zh" else en) for code, (zh, en) in NOT_JUDGED_REASONS.items()}
    return gpd.GeoDataFrame({
        "patch_id": located["patch_id"].to_numpy()[rows], "reason": reason[rows],
        "reason_text": [texts[r] for r in reason[rows]], "area_mu": area[rows] / M2_PER_MU,
        "county_code": located["county_code"].to_numpy()[rows], "county_name": located["county_name"].to_numpy()[rows],
    }, geometry=geoms[rows] if rows.size else [], crs=crs)  # fmt: skip


def judged_by_county(judged: pd.DataFrame) -> pd.DataFrame:
    """Per county: patches and 亩 by verdict, the illegal part on PBF and the conversion of PBF.

    Returns
    -------
    DataFrame
        ``county_code``, ``county_name``, ``patches``, ``legal_patches``, ``illegal_patches``,
        ``to_check_patches``, ``area_mu``, ``legal_mu``, ``illegal_mu``, ``to_check_mu``, ``illegal_pbf_mu``,
        ``pbf_converted_mu``, ``pbf_converted_approved_mu`` (sums of the patch columns; a patch counts under
        its verdict, its 亩 under each part's own verdict).
    """
    keys = ["county_code", "county_name"]
    columns = ["area_mu", "legal_mu", "illegal_mu", "to_check_mu", "illegal_pbf_mu", "pbf_converted_mu",
               "pbf_converted_approved_mu"]
    if judged.empty:
        return pd.DataFrame(columns=keys + ["patches", "legal_patches", "illegal_patches", "to_check_patches"]
                            + columns)
    frame = judged.assign(**{f"{v}_patches": (judged["verdict"] == v).astype(int)
                             for v in ("legal", "illegal", "to_check")}, patches=1)
    table = frame.groupby(keys, as_index=False, sort=True)[
        ["patches", "legal_patches", "illegal_patches", "to_check_patches"] + columns].sum()
    return table


FIELD_COLUMNS = ["machine_verdict", "field_verdict", "field_use", "photo_ids", "checker", "check_date",
                 "machine_illegal_mu"]
"""Columns a returned field-check sheet adds to ``judged_patches``; ``verdict`` becomes the field conclusion
where one was given, ``machine_verdict`` and ``machine_illegal_mu`` keep the prefilled verdict and its illegal 亩."""


def take_field_results(result: JudgeResult, rows: pd.DataFrame, unmatched: pd.DataFrame, *, pending: int = 0,
                       lang: str = "zh") -> JudgeResult:
    """Take the field team's conclusions: the verdict becomes theirs where given, the prefilled one stays beside it.

    Parameters
    ----------
    result : JudgeResult
    rows : DataFrame
        Matched sheet rows: ``patch_id``, ``field_verdict`` (legal/illegal/to_check or blank),
        ``field_use``, ``photo_ids``, ``checker``, ``check_date``.
    unmatched : DataFrame
        Sheet rows that match no patch, with their reason (kept in ``result.field_unmatched``).
    pending : int
        Rows without any field entry.
    lang : {"zh", "en"}

    Returns
    -------
    JudgeResult
        With :data:`FIELD_COLUMNS` in ``patches`` and the reason ``field_check`` added where the field
        conclusion differs from the prefilled one. Where the field team gave a conclusion it covers the
        whole patch: ``legal_mu``/``illegal_mu``/``to_check_mu`` hold the patch's area under that verdict
        and ``illegal_pbf_mu`` its PBF part when illegal (``judged_parts`` keeps the machine's parts).
    """
    patches = result.patches.copy()
    patches["machine_verdict"] = patches["verdict"]
    patches["machine_illegal_mu"] = patches["illegal_mu"]
    taken = rows.drop_duplicates("patch_id", keep="first").set_index("patch_id")
    for column in FIELD_COLUMNS[1:-1]:
        values = taken[column] if column in taken else pd.Series(dtype=object)
        patches[column] = patches["patch_id"].map(values).fillna("").astype(str).to_numpy()
    given = patches["field_verdict"].isin(list(SEVERITY))
    changed = given & (patches["field_verdict"] != patches["machine_verdict"])
    patches.loc[given, "verdict"] = patches.loc[given, "field_verdict"]
    # the field team judged the whole patch: its 亩 move under their verdict (the parts keep the machine's)
    for verdict in SEVERITY:
        patches.loc[given, f"{verdict}_mu"] = patches.loc[given, "area_mu"].where(
            patches.loc[given, "verdict"] == verdict, 0.0)
    patches.loc[given, "illegal_pbf_mu"] = patches.loc[given, "pbf_mu"].where(
        patches.loc[given, "verdict"] == "illegal", 0.0)
    patches["verdict_text"] = patches["verdict"].map(VERDICT_TEXT[lang])
    patches.loc[changed, "reasons"] = patches.loc[changed, "reasons"] + ";field_check"
    note = "外业核查结论：" if lang == "zh" else "field check: "
    patches.loc[given, "reason_text"] = (note + patches.loc[given, "verdict_text"]
                                         + ("；预判：" if lang == "zh" else "; prefilled: ")
                                         + patches.loc[given, "machine_verdict"].map(VERDICT_TEXT[lang])
                                         + ("。" if lang == "zh" else ". ") + patches.loc[given, "reason_text"])
    warnings = list(result.warnings)
    if len(unmatched):
        shown = ", ".join(f"row {r.sheet_row}: {r.patch_id} ({r.reason})" for r in unmatched.head(5).itertuples())
        warnings.append(f"{len(unmatched)} rows of the field-check sheet were not taken "
                        f"(tables/field_results_unmatched.csv): {shown}")
    return JudgeResult(patches=patches, parts=result.parts, not_judged=result.not_judged, warnings=warnings,
                       field_unmatched=unmatched, field_pending=pending)
