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

from .config import ROLE_LABELS, ProjectConfig, load_config
from .outputs import OutputFolder
from .project import Project, load_project
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


def run_into(config: ProjectConfig, folder: OutputFolder, *, progress: bool = False, lang: str = "zh") -> RunResult:
    """Run the whole pipeline on a validated config into an open output folder.

    Parameters
    ----------
    config : ProjectConfig
    folder : OutputFolder
    progress : bool, default False
        Show progress bars.
    lang : {"zh", "en"}
        Language of tables, maps and the summary.

    Returns
    -------
    RunResult
    """
    project = load_project(config, progress=progress)
    folder.write_json("check_report.json", project.check_report())
    for name, table in accounting_tables(project, lang=lang).items():
        folder.write_table(f"tables/{name}.csv", table)
    fmap = overview_map(project, lang=lang)
    folder.write_with("maps/overview.html", lambda tmp: fmap.save(str(tmp)), kind="map")
    summary = [f"{'项目' if lang == 'zh' else 'project'}: {config.name}"
               + (" （示例数据，合成）" if config.synthetic and lang == "zh" else " (synthetic sample)" if config.synthetic else ""),
               f"{'分析坐标系' if lang == 'zh' else 'analysis CRS'}: {project.analysis_crs}"]
    for report in project.reports.values():
        summary.extend(report.summary_lines(lang))
    folder.finish(
        config=config.model_dump(mode="json"),
        inputs=project.inputs,
        counts=project.feature_counts(),
        extra={"analysis_crs": project.analysis_crs, "synthetic": config.synthetic},
    )
    return RunResult(out=folder.root, project=project, files=sorted(folder.files), summary=summary)


def run(config_path: str | Path, out: str | Path, *, overwrite: bool = False, progress: bool = False,
        lang: str = "zh") -> RunResult:
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

    Returns
    -------
    RunResult
    """
    config = load_config(config_path)
    folder = OutputFolder(out, overwrite=overwrite)
    return run_into(config, folder, progress=progress, lang=lang)


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
