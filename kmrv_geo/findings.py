"""What each analysis contributes to an output folder: layers, tables, workbook sheets, summary lines.

:func:`collect` turns the :class:`Results` of a run into one :class:`Found` bundle that the pipeline
writes (``results.gpkg``, ``tables/*.csv``, ``report.xlsx``) and prints. Tables are localised here;
numbers are never rounded (Excel formats them).

Vector and raster change patches share the ``change_patches`` layer (column ``source``); their tables
stay apart (``violations_*`` from vector surveys, ``landcover_*`` from land-cover rasters), because the
two sources are alternative readings of the same change and must never be added up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import pandas as pd

from .analysis import steps as analysis_steps
from .analysis.abandonment import AbandonmentResult
from .analysis.balances import balances_table, judged, pbf_conversion_table, violations_table, with_total
from .analysis.coverage import CoverageResult
from .analysis.judge import JudgeResult, judged_by_county
from .analysis.village_plan import FINDINGS, VillageReview
from .analysis.violations import ViolationResult
from .project import Project
from .report import TOTAL_LABEL, localise, wpzf_judged_sheet, wpzf_sheet
from .units import AREA_KIND_LABELS


@dataclass
class Results:
    """The frames the analyses returned in one run (``None`` where a step did not run)."""

    violations: ViolationResult | None = None
    landcover: ViolationResult | None = None
    landcover_parcels: pd.DataFrame | None = None
    coverage: CoverageResult | None = None
    sites: gpd.GeoDataFrame | None = None
    fragmentation: pd.DataFrame | None = None
    abandonment: AbandonmentResult | None = None
    village_profiles: gpd.GeoDataFrame | None = None
    village_layout: gpd.GeoDataFrame | None = None
    judge: JudgeResult | None = None
    village_review: VillageReview | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class Found:
    """Everything a run writes: GeoPackage layers, localised tables and sheets, summary lines."""

    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    sheets: dict[str, pd.DataFrame] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    raw: dict[str, pd.DataFrame] = field(default_factory=dict)
    """Key tables with English column keys and numbers, no totals rows (for the run page)."""


def _t(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def violation_tables(result: ViolationResult, project: Project, *, lang: str = "zh") -> dict[str, pd.DataFrame]:
    """By county, by village and balances by county (numbers, English keys, totals rows)."""
    patches = result.patches
    by_county = violations_table(patches, ["county_code", "county_name"])
    by_village = violations_table(patches, ["county_code", "county_name", "township", "village_key", "village"])
    balances = balances_table(patches, rules=analysis_steps.balance_rules(project))
    total = TOTAL_LABEL[lang]
    return {
        "by_county": with_total(by_county, "county_name", total),
        "by_village": with_total(by_village, "village", total),
        "balances_by_county": with_total(balances, "county_name", total),
        "pbf_conversion_by_county": with_total(pbf_conversion_table(patches, ["county_code", "county_name"]),
                                               "county_name", total),
    }


MISSING_VERDICTS = {
    "zh": {"approvals": "无批准范围图层，非农化未判定合法/违法", "pbf": "无永久基本农田图层，未判定占永农"},
    "en": {"approvals": "no approvals layer: conversions not judged legal/illegal",
           "pbf": "no PBF layer: PBF verdicts not given"},
}
"""Summary lines for verdicts a run could not give (a layer was not configured)."""


def violation_summary(result: ViolationResult, by_county: pd.DataFrame, *, lang: str, source: str = "vector",
                      area_kind: str = "ellipsoidal") -> list[str]:
    """A few lines: illegal 亩 (net of 田坎 where known), its part on PBF, non-grain on PBF, the top counties,
    verdicts not given, and what the figures measure.
    """
    p = result.patches
    counties = by_county.iloc[:-1] if len(by_county) else by_county
    top = counties.sort_values("illegal_mu", ascending=False).head(3)
    illegal = p["illegal_mu"].sum()
    # net of 田坎 only where every illegal part's share is known: a sum skipping unknowns would print 0 for "unknown"
    with_illegal = p["illegal_mu"].fillna(0) > 0
    illegal_net = (p.loc[with_illegal, "illegal_net_mu"].sum() if "illegal_net_mu" in p and with_illegal.any()
                   and p.loc[with_illegal, "illegal_net_mu"].notna().all() else None)
    illegal_pbf = p["illegal_pbf_mu"].sum()
    nongrain_pbf = p.loc[p["status"] == "nongrain_on_pbf", "pbf_mu"].sum()
    raster = source == "raster"
    kind = AREA_KIND_LABELS[lang][area_kind]
    if not judged(p):  # no approvals layer: say what was converted, never "illegal 0"
        nonagri = p.loc[p["change_class"] == "nonagri", "area_mu"].sum()
        if lang == "zh":
            lead = "遥感监测（土地覆盖，需实地核实）：" if raster else ""
            lines = [f"{lead}耕地转为建设用地（非农化）{nonagri:.2f} 亩，无批准范围图层，未判定合法/违法；"
                     f"永久基本农田非粮化 {nongrain_pbf:.2f} 亩；变化图斑 {len(p)} 个，"
                     f"小于上图面积 {len(result.below_min)} 个；面积为{kind}"]
        else:
            lead = "land-cover rasters (screening, check in the field): " if raster else ""
            lines = [f"{lead}farmland to construction {nonagri:.2f} mu, not judged legal/illegal (no approvals "
                     f"layer); non-grain on PBF {nongrain_pbf:.2f} mu; {len(p)} change patches, "
                     f"{len(result.below_min)} below the minimum size; areas are {kind}"]
        return lines + ([] if raster else [MISSING_VERDICTS[lang][m] for m in result.missing_verdicts])
    if lang == "zh":
        lead = "遥感监测（土地覆盖，需实地核实）：疑似" if raster else ""
        net = f"，扣除田坎 {illegal_net:.2f} 亩" if illegal_net is not None else ""
        lines = [f"{lead}违法占用耕地 {illegal:.2f} 亩{net}（违法部分占永久基本农田 {illegal_pbf:.2f} 亩）；"
                 f"永久基本农田非粮化 {nongrain_pbf:.2f} 亩；变化图斑 {len(p)} 个，"
                 f"小于上图面积 {len(result.below_min)} 个；面积为{kind}",
                 ("遥感" if raster else "") + "违法面积前三区县："
                 + "、".join(f"{r.county_name} {r.illegal_mu:.2f} 亩" for r in top.itertuples())]
    else:
        lead = "land-cover rasters (screening, check in the field): suspected " if raster else ""
        net = f", {illegal_net:.2f} mu net of ridges" if illegal_net is not None else ""
        lines = [f"{lead}illegal conversion {illegal:.2f} mu{net} (its part on PBF {illegal_pbf:.2f} mu); non-grain on "
                 f"PBF {nongrain_pbf:.2f} mu; {len(p)} change patches, {len(result.below_min)} below the minimum size; "
                 f"areas are {kind}",
                 ("raster " if raster else "") + "top counties by illegal area: "
                 + ", ".join(f"{r.county_name} {r.illegal_mu:.2f} mu" for r in top.itertuples())]
    if not raster:
        lines += [MISSING_VERDICTS[lang][m] for m in result.missing_verdicts]
    return lines


def _violations(found: Found, result: ViolationResult, project: Project, lang: str) -> None:
    kind = project.measure.kind
    tables = violation_tables(result, project, lang=lang)
    layers = project.config.layers
    found.tables |= {
        "violations_by_county": localise(tables["by_county"], lang, area_kind=kind),
        "violations_by_village": localise(tables["by_village"], lang, area_kind=kind),
        "balances_by_county": localise(tables["balances_by_county"], lang, area_kind=kind),
        "pbf_conversion_by_county": localise(tables["pbf_conversion_by_county"], lang, area_kind=kind),
    }
    found.sheets |= {
        _t(lang, "区县汇总", "by county"): found.tables["violations_by_county"],
        _t(lang, "占用永久基本农田", "PBF converted"): found.tables["pbf_conversion_by_county"],
        _t(lang, "村汇总", "by village"): found.tables["violations_by_village"],
        _t(lang, "两平衡", "balances"): found.tables["balances_by_county"],
        _t(lang, "变化图斑", "change patches"): localise(result.patches.drop(columns="geometry"), lang, area_kind=kind),
        _t(lang, "卫片执法图斑", "enforcement list"): wpzf_sheet(
            result.patches, t0_year=getattr(layers["landuse_t0"], "year", None),
            t1_year=getattr(layers["landuse_t1"], "year", None)),
        _t(lang, "小于上图面积", "below minimum"): localise(
            result.below_min.drop(columns="geometry"), lang, area_kind=kind),
    }  # fmt: skip
    found.lines += violation_summary(result, tables["by_county"], lang=lang, area_kind=kind)
    found.lines += pbf_conversion_summary(tables["pbf_conversion_by_county"], lang=lang)
    found.raw["violations_by_county"] = _without_total(tables["by_county"], lang)
    found.raw["balances_by_county"] = _without_total(tables["balances_by_county"], lang)


def pbf_conversion_summary(table: pd.DataFrame, *, lang: str) -> list[str]:
    """一冻结: one line on all construction on PBF, approved or not (nothing when there is none)."""
    if table.empty:
        return []
    total = table.iloc[-1]
    if pd.isna(total["pbf_converted_approved_mu"]):
        return [_t(lang, f"一冻结：建设占用永久基本农田 {total['pbf_converted_mu']:.2f} 亩"
                         "（无批准范围图层，未区分已批/未批）",
                   f"PBF freeze: construction on PBF {total['pbf_converted_mu']:.2f} mu (no approvals layer)")]
    return [_t(lang, f"一冻结：建设占用永久基本农田 {total['pbf_converted_mu']:.2f} 亩，其中已批 "
                     f"{total['pbf_converted_approved_mu']:.2f} 亩（仍列出待核查）、未批 "
                     f"{total['illegal_pbf_mu']:.2f} 亩",
               f"PBF freeze: construction on PBF {total['pbf_converted_mu']:.2f} mu, of which approved "
               f"{total['pbf_converted_approved_mu']:.2f} mu (still listed) and unapproved "
               f"{total['illegal_pbf_mu']:.2f} mu")]


def judge_summary(result: JudgeResult, *, lang: str) -> list[str]:
    """Lines: patches by verdict with their 亩, the illegal part on PBF, patches not judged, field results."""
    p = result.patches
    n = {v: int((p["verdict"] == v).sum()) for v in ("illegal", "to_check", "legal")}
    illegal, on_pbf = p["illegal_mu"].sum(), p["illegal_pbf_mu"].sum()
    frozen = p["pbf_converted_approved_mu"].sum()
    if lang == "zh":
        lines = [f"监测图斑 {len(p)} 个：违法 {n['illegal']} 个（违法面积 {illegal:.2f} 亩，其中占永久基本农田 "
                 f"{on_pbf:.2f} 亩），待核实 {n['to_check']} 个，合法 {n['legal']} 个；已批占用永久基本农田 "
                 f"{frozen:.2f} 亩（一冻结，列为待核实）"]
        if len(result.not_judged):
            lines.append(f"未判定图斑 {len(result.not_judged)} 个"
                         "（不在研究区或前时相调查范围外，见 patches_not_judged）")
        if result.field_unmatched is not None:
            taken = int((p.get("field_verdict", pd.Series(dtype=object)).isin(["legal", "illegal", "to_check"])).sum())
            lines.append(f"外业核查结论已采用 {taken} 个，未匹配 {len(result.field_unmatched)} 行，未填写 "
                         f"{result.field_pending} 行")
    else:
        lines = [f"monitoring patches {len(p)}: illegal {n['illegal']} ({illegal:.2f} mu, {on_pbf:.2f} mu of it on "
                 f"PBF), to check {n['to_check']}, legal {n['legal']}; approved construction on PBF {frozen:.2f} mu "
                 "(PBF freeze: to check)"]
        if len(result.not_judged):
            lines.append(f"{len(result.not_judged)} patches not judged (outside the study area or the T0 survey)")
        if result.field_unmatched is not None:
            taken = int((p.get("field_verdict", pd.Series(dtype=object)).isin(["legal", "illegal", "to_check"])).sum())
            lines.append(f"field conclusions taken: {taken}; rows not matched: {len(result.field_unmatched)}; "
                         f"not filled in: {result.field_pending}")
    return lines


def _without_total(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A table without its totals row."""
    label = TOTAL_LABEL[lang]
    keep = ~table.apply(lambda row: any(isinstance(v, str) and v == label for v in row), axis=1) if len(table) \
        else pd.Series(dtype=bool)
    return table[keep].reset_index(drop=True) if len(table) else table


def _judge(found: Found, result: JudgeResult, lang: str, kind: str) -> None:
    total = TOTAL_LABEL[lang]
    found.raw["judged_by_county"] = judged_by_county(result.patches)
    found.layers["judged_patches"] = result.patches
    found.layers["judged_parts"] = result.parts
    found.layers["patches_not_judged"] = result.not_judged  # written when empty too: none were left out
    by_county = with_total(judged_by_county(result.patches), "county_name", total)
    pbf = by_county[["county_code", "county_name", "patches", "pbf_converted_mu", "pbf_converted_approved_mu",
                     "illegal_pbf_mu"]]
    found.tables |= {
        "judged_patches": localise(result.patches.drop(columns="geometry"), lang, area_kind=kind),
        "judged_parts": localise(result.parts.drop(columns="geometry"), lang, area_kind=kind),
        "judged_by_county": localise(by_county, lang, area_kind=kind),
        "judged_pbf_conversion_by_county": localise(pbf, lang, area_kind=kind),
    }
    found.tables["patches_not_judged"] = localise(result.not_judged.drop(columns="geometry"), lang, area_kind=kind)
    if result.field_unmatched is not None:
        found.tables["field_results_unmatched"] = localise(result.field_unmatched, lang)
    found.sheets |= {
        _t(lang, "卫片图斑判定", "judged patches"): wpzf_judged_sheet(result.patches),
        _t(lang, "图斑判定区县汇总", "judged by county"): found.tables["judged_by_county"],
        _t(lang, "图斑判定明细", "judged patch details"): found.tables["judged_patches"],
        _t(lang, "图斑占用永农", "judged PBF conversion"): found.tables["judged_pbf_conversion_by_county"],
    }
    found.lines += judge_summary(result, lang=lang)


def _landcover(found: Found, result: ViolationResult, parcels: pd.DataFrame | None, project: Project,
               lang: str) -> None:
    kind = project.measure.kind
    tables = violation_tables(result, project, lang=lang)
    found.tables |= {
        "landcover_by_county": localise(tables["by_county"], lang, area_kind=kind),
        "landcover_by_village": localise(tables["by_village"], lang, area_kind=kind),
        "landcover_balances_by_county": localise(tables["balances_by_county"], lang, area_kind=kind),
    }
    if parcels is not None:
        found.tables["landcover_parcels"] = localise(parcels, lang, area_kind=kind)
    found.sheets |= {
        _t(lang, "遥感变化区县汇总", "raster change by county"): found.tables["landcover_by_county"],
        _t(lang, "遥感变化图斑", "raster change patches"): localise(
            result.patches.drop(columns="geometry"), lang, area_kind=kind),
    }
    found.lines += violation_summary(result, tables["by_county"], lang=lang, source="raster", area_kind=kind)


def coverage_summary(result: CoverageResult, *, lang: str, has_hsf: bool = True) -> list[str]:
    """One line: PBF, HSF on PBF and the coverage share, city-wide (without an HSF layer: that it is unknown)."""
    table = result.tables.get("coverage_by_county")
    if table is None or table.empty:
        return []
    pbf, covered = table["pbf_mu"].sum(), table["hsf_on_pbf_mu"].sum()
    if not has_hsf:  # never "built 0 亩" for "not known"
        if lang == "zh":
            return [f"永久基本农田 {pbf:.2f} 亩；未配置高标准农田图层（hsf），建成情况未统计"]
        return [f"PBF {pbf:.2f} mu; no HSF layer configured (hsf): what is built is not known"]
    share = covered / pbf if pbf > 0 else float("nan")
    if lang == "zh":
        return [f"永久基本农田 {pbf:.2f} 亩，已建成高标准农田 {covered:.2f} 亩（{share:.1%}）；待建候选地块 "
                f"{len(result.hsf_gaps)} 块"]
    return [f"PBF {pbf:.2f} mu, built as HSF {covered:.2f} mu ({share:.1%}); {len(result.hsf_gaps)} gap blocks"]


def _coverage(found: Found, c: CoverageResult, lang: str, kind: str, *, has_hsf: bool = True) -> None:
    found.layers |= {"hsf_gaps": c.hsf_gaps, "hsf_outside_farmland": c.hsf_outside_farmland,
                     "hsf_to_construction": c.hsf_to_construction}
    for name, table in c.tables.items():
        found.tables[name] = localise(table, lang, area_kind=kind)
    for name in ("hsf_gaps", "hsf_outside_farmland", "hsf_to_construction"):
        found.tables[name] = localise(found.layers[name].drop(columns="geometry"), lang, area_kind=kind)
    if "coverage_by_county" in c.tables:
        found.sheets[_t(lang, "高标准农田覆盖", "HSF coverage")] = found.tables["coverage_by_county"]
        found.raw["coverage_by_county"] = _without_total(c.tables["coverage_by_county"], lang)
    found.lines += coverage_summary(c, lang=lang, has_hsf=has_hsf)


def _sites(found: Found, results: Results, project: Project, lang: str) -> None:
    kind = project.measure.kind
    sites = results.sites
    found.layers["facility_sites"] = sites
    found.tables["facility_sites"] = localise(sites.drop(columns="geometry"), lang, area_kind=kind)
    found.sheets[_t(lang, "设施农业连片地块", "facility sites")] = found.tables["facility_sites"]
    if results.fragmentation is not None:
        found.tables["fragmentation_by_village"] = localise(results.fragmentation, lang, area_kind=kind)
    min_mu = project.config.thresholds.facility_site_min_mu
    found.lines.append(_t(lang, f"≥{min_mu:g} 亩连片耕地 {len(sites)} 块",
                          f"{len(sites)} contiguous farmland blocks ≥ {min_mu:g} mu"))


ABANDONED_COLUMNS = ["parcel_id", "code", "county_code", "county_name", "village_key", "village", "area_mu", "pbf_mu",
                     "on_pbf", "years_low", "n_years_low", "first_low_year", "still_low"]


def abandoned_by_village(result: AbandonmentResult | None) -> pd.DataFrame | None:
    """Abandoned 亩 per village (``village_key``, ``abandoned_mu``) for the village profiles."""
    if result is None:
        return None
    ab = result.abandoned
    if "village_key" not in ab:
        return None
    return ab.groupby("village_key", as_index=False)["area_mu"].sum().rename(columns={"area_mu": "abandoned_mu"})


def abandonment_table(abandoned: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Abandoned parcels, 亩, 亩 on PBF and 亩 still low in the last year, per ``keys``."""
    if abandoned.empty:
        return pd.DataFrame(columns=keys + ["abandoned_parcels", "abandoned_mu", "abandoned_on_pbf_mu",
                                            "still_low_mu"])
    frame = abandoned.assign(still_mu=abandoned["area_mu"].where(abandoned["still_low"], 0.0))
    return (frame.groupby(keys, as_index=False)
            .agg(abandoned_parcels=("parcel_id", "size"), abandoned_mu=("area_mu", "sum"),
                 abandoned_on_pbf_mu=("pbf_mu", "sum"), still_low_mu=("still_mu", "sum")))


def _abandonment(found: Found, result: AbandonmentResult, lang: str, kind: str) -> None:
    ab = result.abandoned
    year_columns = [c for y in result.years for c in (f"ndvi_{y}", f"valid_{y}")]
    layer = ab[ABANDONED_COLUMNS + year_columns + ["geometry"]]
    found.layers["abandoned_parcels"] = layer
    total = TOTAL_LABEL[lang]
    found.raw["abandoned_by_county"] = abandonment_table(ab, ["county_code", "county_name"])
    by_county = with_total(found.raw["abandoned_by_county"], "county_name", total)
    by_village = with_total(abandonment_table(ab, ["county_code", "county_name", "village_key", "village"]),
                            "village", total)
    parcels = result.parcels
    no_data = parcels.loc[parcels["years_no_data"] != "", ["parcel_id", "code", "area_mu", "years_no_data"]]
    found.tables |= {
        "abandoned_parcels": localise(layer.drop(columns="geometry"), lang, area_kind=kind),
        "abandoned_by_county": localise(by_county, lang, area_kind=kind),
        "abandoned_by_village": localise(by_village, lang, area_kind=kind),
        "ndvi_no_data_parcels": localise(no_data, lang, area_kind=kind),
    }
    found.sheets |= {
        _t(lang, "撂荒区县汇总", "abandoned by county"): found.tables["abandoned_by_county"],
        _t(lang, "撂荒地块", "abandoned parcels"): found.tables["abandoned_parcels"],
    }
    mu, on_pbf = ab["area_mu"].sum(), ab["pbf_mu"].sum()
    found.lines.append(_t(lang, f"疑似撂荒耕地 {len(ab)} 块 {mu:.2f} 亩（其中永久基本农田 {on_pbf:.2f} 亩）",
                          f"suspected abandoned farmland: {len(ab)} parcels, {mu:.2f} mu ({on_pbf:.2f} mu on PBF)"))


def village_review_summary(review: VillageReview, profiles: pd.DataFrame, *, lang: str) -> list[str]:
    """Lines: villages with findings, 亩 per finding, villages without a plan, key villages without a theme."""
    f = review.findings
    per = f.groupby("finding")["area_mu"].sum()
    with_findings = f["village_key"].nunique()
    no_plan = int((~profiles["has_plan"].fillna(False).astype(bool)).sum()) if "has_plan" in profiles else 0
    no_theme = int(profiles["theme_missing"].sum()) if "theme_missing" in profiles else 0
    approx = (review.villages["lake_zone_source"] == "approximation").any()
    new = f.groupby("finding")["new_mu"].sum()
    unit = "亩" if lang == "zh" else "mu"

    def part(k: str) -> str:
        text = f"{FINDINGS[k][0 if lang == 'zh' else 1]} {per[k]:.2f} {unit}"
        if k.startswith("planned_"):  # existing construction the plan keeps vs land it would newly build on
            text += f"（其中规划新增 {new[k]:.2f} 亩）" if lang == "zh" else f" ({new[k]:.2f} mu of it not built today)"
        return text

    parts = [part(k) for k in FINDINGS if k in per.index]
    missing = [k for k in ("plan", "boundary", "lake") if k not in review.given]
    names = {"zh": {"plan": "村庄规划", "boundary": "村庄建设边界", "lake": "滇池保护分区"},
             "en": {"plan": "village plans", "boundary": "construction boundaries", "lake": "lake zones"}}[lang]
    if lang == "zh":
        lines = [f"村庄规划审查：{with_findings} 个村有发现" + ("：" + "；".join(parts) if parts else ""),
                 (f"无村庄规划的村 {no_plan} 个；" if "plan" in review.given else "")
                 + f"缺少主题的重点村 {no_theme} 个"
                 + ("；未配置" + "、".join(names[k] for k in missing) + "，相关审查未做" if missing else "")]
        if approx:
            lines.append("注意：滇池保护分区为按湖岸缓冲的近似范围，非官方划定")
    else:
        lines = [f"village plan review: {with_findings} villages with findings" + (": " + "; ".join(parts)
                                                                                  if parts else ""),
                 (f"villages without a plan: {no_plan}; " if "plan" in review.given else "")
                 + f"key villages without a theme: {no_theme}"
                 + ("; not configured (findings not given): " + ", ".join(names[k] for k in missing)
                    if missing else "")]
        if approx:
            lines.append("note: the Dianchi protection zones are an approximation (buffers of the shore), not the "
                         "official zones")
    return lines


def _villages(found: Found, results: Results, lang: str, kind: str) -> None:
    profiles = results.village_profiles
    found.layers["villages_profile"] = profiles
    found.tables["villages_profile"] = localise(profiles.drop(columns="geometry"), lang, area_kind=kind)
    found.sheets[_t(lang, "村庄档案", "village profiles")] = found.tables["villages_profile"]
    if results.village_layout is not None:
        found.layers["village_construction"] = results.village_layout
    review = results.village_review
    if review is not None:
        found.raw["village_review"] = review.findings.drop(columns="geometry")
        found.layers["village_review"] = review.findings
        found.tables["village_review"] = localise(review.findings.drop(columns="geometry"), lang, area_kind=kind)
        found.sheets[_t(lang, "村庄规划审查", "village plan review")] = found.tables["village_review"]
        if review.landuse is not None:
            found.tables["village_landuse_change"] = localise(review.landuse, lang, area_kind=kind)
        found.lines += village_review_summary(review, profiles, lang=lang)


def collect(project: Project, results: Results, *, lang: str) -> Found:
    """Assemble what every analysis that ran contributes; the warnings of the run come last."""
    found = Found()
    patch_sources = [r for r in (results.violations, results.landcover) if r is not None]
    if patch_sources:
        found.layers["change_patches"] = pd.concat([r.patches for r in patch_sources], ignore_index=True)
        found.layers["below_min_patches"] = pd.concat([r.below_min for r in patch_sources], ignore_index=True)
    if results.violations is not None:
        _violations(found, results.violations, project, lang)
    if results.landcover is not None:
        _landcover(found, results.landcover, results.landcover_parcels, project, lang)
    if results.coverage is not None:
        _coverage(found, results.coverage, lang, project.measure.kind, has_hsf="hsf" in project.vectors)
    if results.sites is not None:
        _sites(found, results, project, lang)
    if results.abandonment is not None:
        _abandonment(found, results.abandonment, lang, project.measure.kind)
    if results.judge is not None:
        _judge(found, results.judge, lang, project.measure.kind)
    if results.village_profiles is not None:
        _villages(found, results, lang, project.measure.kind)
    found.lines += results.warnings
    return found
