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
from .analysis.violations import ViolationResult
from .config import ROLE_LABELS, ProjectConfig, load_config
from .outputs import OutputFolder
from .project import Project, load_project
from .report import TOTAL_LABEL, localise, write_workbook, wpzf_sheet
from .webmap.overview import overview_map

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


STEPS = ("violations", "maps")
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


def write_violations(result: ViolationResult, project: Project, folder: OutputFolder, *, lang: str) -> list[str]:
    """Write results.gpkg layers, the violation tables, report.xlsx; return summary lines."""
    folder.write_layers("results.gpkg", {"change_patches": result.patches, "below_min_patches": result.below_min})
    tables = violation_outputs(result, project, lang=lang)
    for name, table in tables.items():
        folder.write_table(f"tables/{name}.csv", localise(table, lang))
    layers = project.config.layers
    sheets = {
        ("区县汇总" if lang == "zh" else "by county"): localise(tables["violations_by_county"], lang),
        ("村汇总" if lang == "zh" else "by village"): localise(tables["violations_by_village"], lang),
        ("两平衡" if lang == "zh" else "balances"): localise(tables["balances_by_county"], lang),
        ("变化图斑" if lang == "zh" else "change patches"): localise(result.patches.drop(columns="geometry"), lang),
        ("卫片执法图斑" if lang == "zh" else "enforcement list"): wpzf_sheet(
            result.patches, t0_year=getattr(layers["landuse_t0"], "year", None),
            t1_year=getattr(layers["landuse_t1"], "year", None)),
        ("小于上图面积" if lang == "zh" else "below minimum"): localise(result.below_min.drop(columns="geometry"), lang),
    }  # fmt: skip
    folder.write_with("report.xlsx", lambda tmp: write_workbook(tmp, sheets), kind="report")
    return violation_summary(result, tables["violations_by_county"], lang=lang)


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


def run_into(config: ProjectConfig, folder: OutputFolder, *, progress: bool = False, lang: str = "zh",
             steps: tuple[str, ...] = STEPS) -> RunResult:
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

    Returns
    -------
    RunResult
    """
    project = load_project(config, progress=progress)
    folder.write_json("check_report.json", project.check_report())
    for name, table in accounting_tables(project, lang=lang).items():
        folder.write_table(f"tables/{name}.csv", table)
    summary = [f"{'项目' if lang == 'zh' else 'project'}: {config.name}"
               + (" （示例数据，合成）" if config.synthetic and lang == "zh" else " (synthetic sample)" if config.synthetic else ""),
               f"{'分析坐标系' if lang == 'zh' else 'analysis CRS'}: {project.analysis_crs}"]
    for report in project.reports.values():
        summary.extend(report.summary_lines(lang))
    extra: dict = {"analysis_crs": project.analysis_crs, "synthetic": config.synthetic}
    if "violations" in steps:
        missing = analysis_steps.missing_for_violations(project)
        if missing:
            note = ("未配置 " if lang == "zh" else "not configured: ") + ", ".join(missing)
            summary.append(("跳过违法分析：" if lang == "zh" else "violation analysis skipped: ") + note)
        else:
            logger.info("violation analysis")
            result = analysis_steps.run_violations(project)
            summary.extend(write_violations(result, project, folder, lang=lang))
            extra["farmland_partition_m2"] = result.farmland
            extra["verdicts_not_given"] = result.missing_verdicts
    if "maps" in steps:
        fmap = overview_map(project, lang=lang)
        folder.write_with("maps/overview.html", lambda tmp: fmap.save(str(tmp)), kind="map")
    folder.finish(config=config.model_dump(mode="json"), inputs=project.inputs, counts=project.feature_counts(),
                  extra=extra)
    return RunResult(out=folder.root, project=project, files=sorted(folder.files), summary=summary)


def run(config_path: str | Path, out: str | Path, *, overwrite: bool = False, progress: bool = False,
        lang: str = "zh", steps: tuple[str, ...] = STEPS) -> RunResult:
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

    Returns
    -------
    RunResult
    """
    config = load_config(config_path)
    folder = OutputFolder(out, overwrite=overwrite)
    return run_into(config, folder, progress=progress, lang=lang, steps=steps)


def run_demo(out: str | Path, *, n_parcels: int = 30_000, seed: int = 2023, overwrite: bool = False,
             progress: bool = False, lang: str = "zh") -> RunResult:
    """Make the synthetic Kunming sample in ``out/data`` and run the whole pipeline on it into ``out``.

    Parameters
    ----------
    out : str or Path
        Output folder.
    n_parcels : int, default 30000
        Size of the sample (1k to 1M land-use parcels).
    seed : int, default 2023
        Seed of the sample generator: the same seed and size give the same layers.
    overwrite, progress, lang
        As for :func:`run`.

    Returns
    -------
    RunResult
    """
    from .sample import make_sample

    folder = OutputFolder(out, overwrite=overwrite)
    info = make_sample(folder.root / "data", n_parcels=n_parcels, seed=seed, progress=progress)
    config = load_config(Path(info.config_path))
    return run_into(config, folder, progress=progress, lang=lang)
