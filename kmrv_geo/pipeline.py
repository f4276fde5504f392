"""``run``: load → checks → analyses → outputs, in order, into one output folder.

Each step reads the loaded :class:`~kmrv_geo.project.Project` and returns frames; only this module and
:mod:`kmrv_geo.outputs` touch the output folder. Later analyses (violations, coverage, villages,
rasters) add their steps here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .analysis import steps as analysis_steps
from .analysis.balances import balances_table, violations_table, with_total
from .analysis.coverage import CoverageResult
from .analysis.violations import ViolationResult
from .config import ROLE_LABELS, ProjectConfig, load_config
from .outputs import OutputFolder
from .project import Project, load_project
from .report import TOTAL_LABEL, localise, write_workbook, wpzf_sheet
from .webmap.build import map_context, write_maps

logger = logging.getLogger(__name__)

ACCOUNTING_HEADINGS = {
    "zh": {"role": "图层角色", "role_label": "图层", "source": "来源", "in": "输入要素", "kept": "保留",
           "repaired": "修复", "rejected": "剔除", "fid": "要素编号", "reason": "原因",
           "area_before_m2": "修复前面积(平方米)", "area_after_m2": "修复后面积(平方米)"},
    "en": {"role": "role", "role_label": "layer", "source": "source", "in": "features in", "kept": "kept",
           "repaired": "repaired", "rejected": "rejected", "fid": "feature id", "reason": "reason",
           "area_before_m2": "area before (m²)", "area_after_m2": "area after (m²)"},
}  # fmt: skip


@dataclass
class RunResult:
    """What a run wrote and found.

    Attributes
    ----------
    out : Path
        The output folder.
    project : Project
        The loaded project.
    files : list of str
        Files written, relative to ``out``.
    summary : list of str
        Short human summary lines (in the run's language).
    """

    out: Path
    project: Project
    files: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)


def accounting_tables(project: Project, *, lang: str = "zh") -> dict[str, pd.DataFrame]:
    """Per-layer feature accounting, rejected features and repaired features as tables.

    Returns
    -------
    dict
        ``feature_accounting``, ``rejected_features``, ``repaired_features`` with headings in ``lang``.
    """
    heads = ACCOUNTING_HEADINGS[lang]
    rows, rejected, repaired = [], [], []
    for role, report in project.reports.items():
        label = ROLE_LABELS.get(role, role) if lang == "zh" else role
        rows.append({"role": role, "role_label": label, "source": report.source, "in": report.n_in,
                     "kept": report.n_kept, "repaired": report.n_repaired, "rejected": report.n_rejected})
        if len(report.rejected):
            rejected.append(report.rejected.assign(role=role)[["role", "fid", "reason"]])
        if len(report.repaired):
            repaired.append(report.repaired.assign(role=role)[["role", "fid", "reason", "area_before_m2", "area_after_m2"]])

    def frame(parts, columns):
        data = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
        return data[columns].rename(columns=heads)

    return {
        "feature_accounting": pd.DataFrame(rows, columns=["role", "role_label", "source", "in", "kept", "repaired",
                                                          "rejected"]).rename(columns=heads),
        "rejected_features": frame(rejected, ["role", "fid", "reason"]),
        "repaired_features": frame(repaired, ["role", "fid", "reason", "area_before_m2", "area_after_m2"]),
    }


STEPS = ("violations", "coverage", "sites", "villages", "maps")
PREREQUISITES = {"coverage": ("violations",), "villages": ("violations", "sites")}
"""Steps whose results feed another step: coverage takes HSF lost to construction from the change pieces;
a village profile takes illegal/non-grain 亩 from the violations and facility sites from the sites step."""


def with_prerequisites(steps: tuple[str, ...]) -> tuple[str, ...]:
    """The steps asked for plus the steps they take results from, in pipeline order.

    Examples
    --------
    >>> with_prerequisites(("villages",))
    ('violations', 'sites', 'villages')
    """
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise ValueError(f"unknown steps {unknown}; known: {', '.join(STEPS)}")
    wanted = set(steps)
    for step in steps:
        wanted.update(PREREQUISITES.get(step, ()))
    return tuple(step for step in STEPS if step in wanted)
"""Analysis steps of a full run, in order (checks always run first)."""


def violation_outputs(result: ViolationResult, project: Project, *, lang: str = "zh") -> dict[str, pd.DataFrame]:
    """The violation tables: by county, by village, balances by county (numbers, English keys)."""
    patches = result.patches
    by_county = violations_table(patches, ["county_code", "county_name"])
    by_village = violations_table(patches, ["county_code", "county_name", "township", "village"])
    rules = analysis_steps.balance_rules(project)
    balances = balances_table(patches, rules=rules)
    total = TOTAL_LABEL[lang]
    return {
        "violations_by_county": with_total(by_county, "county_name", total),
        "violations_by_village": with_total(by_village, "village", total),
        "balances_by_county": with_total(balances, "county_name", total),
    }


def violation_sheets(result: ViolationResult, project: Project, tables: dict, *, lang: str) -> dict:
    """Workbook sheets of the violation analysis (localised)."""
    layers = project.config.layers
    return {
        ("区县汇总" if lang == "zh" else "by county"): localise(tables["violations_by_county"], lang),
        ("村汇总" if lang == "zh" else "by village"): localise(tables["violations_by_village"], lang),
        ("两平衡" if lang == "zh" else "balances"): localise(tables["balances_by_county"], lang),
        ("变化图斑" if lang == "zh" else "change patches"): localise(result.patches.drop(columns="geometry"), lang),
        ("卫片执法图斑" if lang == "zh" else "enforcement list"): wpzf_sheet(
            result.patches, t0_year=getattr(layers["landuse_t0"], "year", None),
            t1_year=getattr(layers["landuse_t1"], "year", None)),
        ("小于上图面积" if lang == "zh" else "below minimum"): localise(result.below_min.drop(columns="geometry"), lang),
    }  # fmt: skip


def violation_summary(result: ViolationResult, by_county: pd.DataFrame, *, lang: str) -> list[str]:
    """A few lines: illegal 亩, on PBF, non-grain on PBF, the top counties, verdicts not given."""
    p = result.patches
    counties = by_county.iloc[:-1] if len(by_county) else by_county
    top = counties.sort_values("illegal_mu", ascending=False).head(3)
    illegal = p["illegal_mu"].sum()
    illegal_pbf = p.loc[p["status"].isin(["illegal", "partly_approved"]), "pbf_mu"].sum()
    nongrain_pbf = p.loc[p["status"] == "nongrain_on_pbf", "pbf_mu"].sum()
    if lang == "zh":
        lines = [f"违法占用耕地 {illegal:.2f} 亩（其中占永久基本农田 {illegal_pbf:.2f} 亩）；永久基本农田非粮化 "
                 f"{nongrain_pbf:.2f} 亩；变化图斑 {len(p)} 个，小于上图面积 {len(result.below_min)} 个",
                 "违法面积前三区县：" + "、".join(f"{r.county_name} {r.illegal_mu:.2f} 亩" for r in top.itertuples())]
        missing = {"approvals": "无批准范围图层，非农化未判定合法/违法", "pbf": "无永久基本农田图层，未判定占永农"}
    else:
        lines = [f"illegal conversion {illegal:.2f} mu (on PBF {illegal_pbf:.2f} mu); non-grain on PBF "
                 f"{nongrain_pbf:.2f} mu; {len(p)} change patches, {len(result.below_min)} below the minimum size",
                 "top counties by illegal area: " + ", ".join(f"{r.county_name} {r.illegal_mu:.2f} mu"
                                                             for r in top.itertuples())]
        missing = {"approvals": "no approvals layer: conversions not judged legal/illegal",
                   "pbf": "no PBF layer: PBF verdicts not given"}
    lines += [missing[m] for m in result.missing_verdicts]
    return lines


@dataclass
class Results:
    """The frames the analyses returned in one run (``None`` where a step did not run)."""

    violations: ViolationResult | None = None
    coverage: CoverageResult | None = None
    sites: object = None
    fragmentation: object = None
    village_profiles: object = None
    village_layout: object = None
    warnings: list[str] = field(default_factory=list)


NEEDS = {"violations": ("landuse_t0", "landuse_t1"), "coverage": ("landuse_t1",), "sites": ("landuse_t1",),
         "villages": ("villages",)}
"""Roles each step cannot run without."""


def _run_analyses(project: Project, steps: tuple[str, ...], results: Results, *, lang: str) -> list[str]:
    """Run the requested analyses in order; return summary lines for steps skipped for missing roles."""
    lines = []
    for step in ("violations", "coverage", "sites", "villages"):
        if step not in steps:
            continue
        missing = [r for r in NEEDS[step] if r not in project.vectors]
        if missing:
            lines.append((f"跳过 {step}：未配置 " if lang == "zh" else f"{step} skipped, not configured: ")
                         + ", ".join(missing))
            continue
        logger.info("analysis: %s", step)
        if step == "violations":
            results.violations = analysis_steps.run_violations(project)
        elif step == "coverage":
            results.coverage = analysis_steps.run_coverage(project, results.violations)
            results.warnings.extend(results.coverage.warnings)
        elif step == "sites":
            results.sites, results.fragmentation = analysis_steps.run_sites(project)
        elif step == "villages":
            profiles, layout, warnings = analysis_steps.run_villages(
                project, violations=results.violations, sites=results.sites, frag=results.fragmentation)
            results.village_profiles, results.village_layout = profiles, layout
            results.warnings.extend(warnings)
    return lines


def _write_results(project: Project, results: Results, folder: OutputFolder, *, lang: str) -> list[str]:
    """Write results.gpkg, tables/*.csv and report.xlsx from whatever ran; return summary lines."""
    layers: dict = {}
    sheets: dict = {}
    lines: list[str] = []
    if results.violations is not None:
        v = results.violations
        layers |= {"change_patches": v.patches, "below_min_patches": v.below_min}
        tables = violation_outputs(v, project, lang=lang)
        for name, table in tables.items():
            folder.write_table(f"tables/{name}.csv", localise(table, lang))
        sheets |= violation_sheets(v, project, tables, lang=lang)
        lines += violation_summary(v, tables["violations_by_county"], lang=lang)
    if results.coverage is not None:
        c = results.coverage
        layers |= {"hsf_gaps": c.hsf_gaps, "hsf_outside_farmland": c.hsf_outside_farmland,
                   "hsf_to_construction": c.hsf_to_construction}
        for name, table in c.tables.items():
            folder.write_table(f"tables/{name}.csv", localise(table, lang))
        for name, frame in (("hsf_gaps", c.hsf_gaps), ("hsf_outside_farmland", c.hsf_outside_farmland),
                            ("hsf_to_construction", c.hsf_to_construction)):
            folder.write_table(f"tables/{name}.csv", localise(frame.drop(columns="geometry"), lang))
        if "coverage_by_county" in c.tables:
            sheets["高标准农田覆盖" if lang == "zh" else "HSF coverage"] = localise(c.tables["coverage_by_county"], lang)
        lines += coverage_summary(c, lang=lang)
    if results.sites is not None:
        layers["facility_sites"] = results.sites
        folder.write_table("tables/facility_sites.csv", localise(results.sites.drop(columns="geometry"), lang))
        sheets["设施农业连片地块" if lang == "zh" else "facility sites"] = localise(results.sites.drop(columns="geometry"), lang)
        if results.fragmentation is not None:
            folder.write_table("tables/fragmentation_by_village.csv", localise(results.fragmentation, lang))
        lines.append((f"≥{project.config.thresholds.facility_site_min_mu:g} 亩连片耕地 {len(results.sites)} 块"
                      if lang == "zh" else f"{len(results.sites)} contiguous farmland blocks ≥ "
                      f"{project.config.thresholds.facility_site_min_mu:g} mu"))
    if results.village_profiles is not None:
        profiles = results.village_profiles
        layers["villages_profile"] = profiles
        table = localise(profiles.drop(columns="geometry"), lang)
        folder.write_table("tables/villages_profile.csv", table)
        sheets["村庄档案" if lang == "zh" else "village profiles"] = table
        if results.village_layout is not None:
            layers["village_construction"] = results.village_layout
    lines += results.warnings
    if layers:
        folder.write_layers("results.gpkg", layers)
    if sheets:
        folder.write_with("report.xlsx", lambda tmp: write_workbook(tmp, sheets), kind="report")
    return lines


def coverage_summary(result: CoverageResult, *, lang: str) -> list[str]:
    """One line: PBF, HSF on PBF and the coverage share, city-wide."""
    table = result.tables.get("coverage_by_county")
    if table is None or table.empty:
        return []
    pbf, covered = table["pbf_mu"].sum(), table["hsf_on_pbf_mu"].sum()
    share = covered / pbf if pbf > 0 else float("nan")
    if lang == "zh":
        return [f"永久基本农田 {pbf:.2f} 亩，已建成高标准农田 {covered:.2f} 亩（{share:.1%}）；待建候选地块 "
                f"{len(result.hsf_gaps)} 块"]
    return [f"PBF {pbf:.2f} mu, built as HSF {covered:.2f} mu ({share:.1%}); {len(result.hsf_gaps)} gap blocks"]


def run_into(config: ProjectConfig, folder: OutputFolder, *, progress: bool = False, lang: str = "zh",
             steps: tuple[str, ...] = STEPS, basemap: str | None = None) -> RunResult:
    """Run the pipeline on a validated config into an open output folder.

    Parameters
    ----------
    config : ProjectConfig
    folder : OutputFolder
    progress : bool, default False
        Show progress bars.
    lang : {"zh", "en"}
        Language of tables, maps and the summary.
    steps : tuple of str
        Which of :data:`STEPS` to run after the checks (default all).
    basemap : str, optional
        Basemap of the maps (overrides the config's ``basemap:``).

    Returns
    -------
    RunResult
    """
    project = load_project(config, progress=progress)
    steps = with_prerequisites(steps)
    maps_ctx = map_context(project, lang=lang, basemap=basemap) if "maps" in steps else None
    folder.write_json("check_report.json", project.check_report())
    for name, table in accounting_tables(project, lang=lang).items():
        folder.write_table(f"tables/{name}.csv", table)
    summary = [f"{'项目' if lang == 'zh' else 'project'}: {config.name}"
               + (" （示例数据，合成）" if config.synthetic and lang == "zh" else " (synthetic sample)" if config.synthetic else ""),
               f"{'分析坐标系' if lang == 'zh' else 'analysis CRS'}: {project.analysis_crs}"]
    for report in project.reports.values():
        summary.extend(report.summary_lines(lang))
    extra: dict = {"analysis_crs": project.analysis_crs, "synthetic": config.synthetic}
    results = Results()
    skipped = _run_analyses(project, steps, results, lang=lang)
    summary.extend(skipped)
    summary.extend(_write_results(project, results, folder, lang=lang))
    if results.violations is not None:
        extra["farmland_partition_m2"] = results.violations.farmland
        extra["verdicts_not_given"] = results.violations.missing_verdicts
    extra["warnings"] = results.warnings
    if maps_ctx is not None:
        write_maps(folder, project, results, maps_ctx)
    folder.finish(config=config.model_dump(mode="json"), inputs=project.inputs, counts=project.feature_counts(),
                  extra=extra)
    return RunResult(out=folder.root, project=project, files=sorted(folder.files), summary=summary)


def run(config_path: str | Path, out: str | Path, *, overwrite: bool = False, progress: bool = False,
        lang: str = "zh", steps: tuple[str, ...] = STEPS, basemap: str | None = None) -> RunResult:
    """Load a project file and run the whole pipeline into ``out``.

    Parameters
    ----------
    config_path : str or Path
        The project YAML.
    out : str or Path
        Output folder (refused if it holds results and ``overwrite`` is False).
    overwrite : bool, default False
    progress : bool, default False
    lang : {"zh", "en"}
    steps : tuple of str
        Which of :data:`STEPS` to run after the checks.
    basemap : str, optional
        Basemap of the maps (overrides the config's ``basemap:``).

    Returns
    -------
    RunResult
    """
    config = load_config(config_path)
    folder = OutputFolder(out, overwrite=overwrite)
    return run_into(config, folder, progress=progress, lang=lang, steps=steps, basemap=basemap)


def run_demo(out: str | Path, *, n_parcels: int = 30_000, seed: int = 2023, overwrite: bool = False,
             progress: bool = False, lang: str = "zh", basemap: str | None = None) -> RunResult:
    """Make the synthetic Kunming sample in ``out/data`` and run the whole pipeline on it into ``out``.

    Parameters
    ----------
    out : str or Path
        Output folder.
    n_parcels : int, default 30000
        Size of the sample (1k to 1M land-use parcels).
    seed : int, default 2023
        Seed of the sample generator: the same seed and size give the same layers.
    overwrite, progress, lang, basemap
        As for :func:`run`.

    Returns
    -------
    RunResult
    """
    from .sample import make_sample

    folder = OutputFolder(out, overwrite=overwrite)
    info = make_sample(folder.root / "data", n_parcels=n_parcels, seed=seed, progress=progress)
    config = load_config(Path(info.config_path))
    return run_into(config, folder, progress=progress, lang=lang, basemap=basemap)
