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
from tqdm.auto import tqdm

from . import findings, registry
from .config import ROLE_LABELS, ProjectConfig, load_config, with_patches
from .errors import ConfigError
from .fieldcheck.package import write_fieldcheck
from .findings import Results
from .memory import release_free_memory
from .outputs import OutputFolder
from .overlay import recording_recomputes
from .partitions import open_partitions
from .project import Project, load_project
from .registry import Engine, RunOptions
from .report import AREA_NOTE, localise, write_workbook
from .timing import Stopwatch
from .units import measured_before, measuring_once
from .webmap.build import map_context, write_maps
from .webmap.run_page import INDEX as RUN_PAGE
from .webmap.run_page import run_page_data, run_page_html
from .webmap.village_package import pages_possible, write_villages_folder

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
    database : str or None
        Where the result layers and tables went when ``--out`` was a database (connection without password
        and schema), else ``None``.
    warnings : list of str
        The warnings among the summary lines (the layer checks' and the analyses'), shown even with ``--quiet``.
    """

    out: Path
    project: Project
    files: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    database: str | None = None
    warnings: list[str] = field(default_factory=list)


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
            repaired.append(
                report.repaired.assign(role=role)[["role", "fid", "reason", "area_before_m2", "area_after_m2"]])

    def frame(parts, columns):
        data = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
        return data[columns].rename(columns=heads)

    return {
        "feature_accounting": pd.DataFrame(rows, columns=["role", "role_label", "source", "in", "kept", "repaired",
                                                          "rejected"]).rename(columns=heads),
        "rejected_features": frame(rejected, ["role", "fid", "reason"]),
        "repaired_features": frame(repaired, ["role", "fid", "reason", "area_before_m2", "area_after_m2"]),
    }


LOCAL = Engine()
"""The default engine: threads on this machine."""
STEPS = registry.NAMES
"""Steps of a full run, in order (checks always run first): the analyses of :data:`kmrv_geo.registry.STEPS`,
then the maps."""


def with_prerequisites(steps: tuple[str, ...]) -> tuple[str, ...]:
    """The steps asked for plus the steps they take results from (:attr:`Step.uses`), in pipeline order.

    Examples
    --------
    >>> with_prerequisites(("coverage",))
    ('violations', 'coverage')
    """
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise ValueError(f"unknown steps {unknown}; known: {', '.join(STEPS)}")
    wanted = set(steps)
    for step in steps:
        if step in registry.BY_NAME:
            wanted.update(registry.BY_NAME[step].uses)
    return tuple(step for step in STEPS if step in wanted)


def missing_roles(project: Project, step: str) -> list[str]:
    """Roles ``step`` needs that the project does not configure (empty: it can run)."""
    return registry.BY_NAME[step].missing_roles(project) if step in registry.BY_NAME else []


STEP_LABELS = {"violations": "非农化/非粮化", "landcover": "遥感变化", "coverage": "高标准农田覆盖",
               "sites": "连片耕地", "abandonment": "撂荒", "judge": "卫片图斑判定", "villages": "村庄"}
"""Chinese names of the steps, for the progress bar."""


def _run_analyses(project: Project, steps: tuple[str, ...], asked: tuple[str, ...], results: Results, *,
                  lang: str, options: RunOptions, progress: bool = False, watch: Stopwatch | None = None) -> list[str]:
    """Run the analyses in order (a progress bar over them unless quiet), each timed on ``watch``; return summary
    lines for asked-for steps skipped for missing roles.
    """
    watch = watch or Stopwatch()
    lines = []
    runnable = []
    for step in registry.STEPS:
        if step.name not in steps:
            continue
        missing = step.missing_roles(project)
        if missing:
            if step.name in asked:
                lines.append((f"跳过 {step.name}：未配置 " if lang == "zh"
                              else f"{step.name} skipped, not configured: ") + ", ".join(missing))
            continue
        runnable.append(step)
    bar = tqdm(runnable, desc="分析 analyses", unit="step", disable=not progress)
    with measured_before(project.measure, *project.measured_parcels()):  # every parcel measured is served
        for step in bar:
            bar.set_postfix_str(f"{STEP_LABELS.get(step.name, step.name)} {step.name}")
            logger.info("analysis: %s", step.name)
            with watch.part(step.name), measuring_once():
                step.run(project, results, options)
            release_free_memory()
    bar.close()
    return lines


def _write_results(project: Project, results: Results, folder: OutputFolder, *, lang: str) -> findings.Found:
    """Write results.gpkg, tables/*.csv and report.xlsx from whatever ran; return what was found.

    report.xlsx (Python work, seconds for a city) is written in a forked process meanwhile and waited for before the
    run page (:meth:`~kmrv_geo.outputs.OutputFolder.write_later`).
    """
    found = findings.collect(project, results, lang=lang)
    if found.sheets:
        note = AREA_NOTE[lang].format(kind=project.measure.label(lang))
        folder.write_later("report.xlsx", lambda tmp: write_workbook(tmp, found.sheets, note=note), kind="report")
    for name, table in found.tables.items():
        folder.write_table(f"tables/{name}.csv", table)
    if found.layers:
        folder.write_layers("results.gpkg", found.layers, styles_lang=lang)
    return found


def _write_tbmj_mismatch(project: Project, folder: OutputFolder, *, lang: str) -> None:
    """``tables/tbmj_mismatch.csv``: land-use parcels whose TBMJ is off their geometry (when any layer has TBMJ)."""
    parts = [table.assign(role=role) for role, table in project.tbmj_mismatch.items()]
    if not parts:
        return
    table = pd.concat(parts, ignore_index=True)
    table = table[["role", *[c for c in table.columns if c != "role"]]]
    folder.write_table("tables/tbmj_mismatch.csv", localise(table.rename(columns={"role": "layer_role"}), lang))


def _partitions_for(config: ProjectConfig, engine: Engine, steps: tuple[str, ...]):
    """The land-use partitions the engine reads (``None`` without ``--partitions``), opened and checked.

    Raises
    ------
    ConfigError
        ``--partitions`` without ``--engine dask``, or with steps other than the violation analysis (the other
        analyses need the whole land use on this machine).
    PartitionError
        The partitions do not match the project file (:func:`kmrv_geo.partitions.open_partitions`).
    """
    if not engine.partitions:
        return None
    if engine.name != "dask":
        raise ConfigError("--partitions is read by the Dask workers: add --engine dask (with --scheduler for a "
                          "cluster), or leave out --partitions to read the land use here")
    others = [step for step in steps if step != "violations"]
    if others:
        raise ConfigError(f"--partitions serves the violation analysis ('kmrv violations') only; the other steps "
                          f"asked for ({', '.join(others)}) need the whole land use on this machine: run them "
                          "without --partitions")
    return open_partitions(engine.partitions, config)


def run_into(config: ProjectConfig, folder: OutputFolder, *, progress: bool = False, lang: str = "zh",
             steps: tuple[str, ...] = STEPS, basemap: str | None = None,
             engine: Engine = LOCAL, field_results: str | Path | None = None, gcj02: bool = False) -> RunResult:
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
    engine : Engine
        Where the change overlay runs (default: locally).
    field_results : str or Path, optional
        A filled field-check sheet (核查表.xlsx) for the judging step.
    gcj02 : bool, default False
        Field-check KML in GCJ-02 instead of WGS84.

    Returns
    -------
    RunResult
    """
    options = RunOptions(engine=engine, lang=lang, field_results=Path(field_results) if field_results else None,
                         gcj02=gcj02)
    asked = tuple(steps)
    steps = with_prerequisites(asked)
    partitions = _partitions_for(config, engine, steps)
    watch = Stopwatch()
    with watch.part("load"):
        farmland_only = all(name in registry.BY_NAME and registry.BY_NAME[name].parcel_areas == "farmland"
                            for name in steps)  # else every parcel is measured at load, as the steps take them
        parcel_areas = "farmland" if farmland_only else "all"
        project = load_project(config, progress=progress, partitions=partitions, parcel_areas=parcel_areas)
        release_free_memory()  # the layers as read and the checks' arrays are gone
    maps_ctx = map_context(project, lang=lang, basemap=basemap) if "maps" in steps else None
    folder.write_json("check_report.json", project.check_report())
    for name, table in accounting_tables(project, lang=lang).items():
        folder.write_table(f"tables/{name}.csv", table)
    summary = [f"{'项目' if lang == 'zh' else 'project'}: {config.name}"
               + (" （示例数据，合成）" if config.synthetic and lang == "zh"
                  else " (synthetic sample)" if config.synthetic else ""),
               f"{'分析坐标系' if lang == 'zh' else 'analysis CRS'}: {project.analysis_crs}"]
    for report in project.reports.values():
        summary.extend(report.summary_lines(lang))
    measure = project.measure
    extra: dict = {"analysis_crs": project.analysis_crs, "synthetic": config.synthetic,
                   "area": {"kind": measure.kind, "label": measure.label("en"),
                            "ellipsoid": "GRS80 (CGCS2000)",
                            "equal_area_centre_lonlat": list(measure.centre)}}
    summary.append(("面积口径：" if lang == "zh" else "areas: ") + measure.label(lang))
    _write_tbmj_mismatch(project, folder, lang=lang)
    if project.date_problems:
        folder.write_table("tables/unreadable_dates.csv",
                           localise(pd.concat(project.date_problems, ignore_index=True).rename(
                               columns={"role": "layer_role"}), lang))
    results = Results()
    with recording_recomputes() as recomputed:
        skipped = _run_analyses(project, steps, asked, results, lang=lang, options=options, progress=progress,
                                watch=watch)
    if recomputed:
        folder.write_table("tables/overlay_recomputed.csv", localise(pd.DataFrame(recomputed), lang))
        results.warnings.append(
            f"{len(recomputed)} 处叠加结果因近退化几何被稳健重算（见 tables/overlay_recomputed.csv）"
            if lang == "zh" else
            f"{len(recomputed)} overlay results recomputed robustly on near-degenerate geometry "
            "(tables/overlay_recomputed.csv)")
    extra["overlay_recomputed"] = len(recomputed)
    summary.extend(skipped)
    with watch.part("results"):
        found = _write_results(project, results, folder, lang=lang)
    summary.extend(found.lines)
    judged = results.violations or results.landcover
    if results.violations is not None:
        extra["farmland_partition_m2"] = results.violations.farmland
    if judged is not None:
        extra["verdicts_not_given"] = judged.missing_verdicts
    extra["engine"] = {"name": engine.name, "scheduler": engine.scheduler, "workers": engine.workers}
    if partitions is not None:
        extra["engine"]["partitions"] = partitions.to_dict()
    if results.judge is not None:
        with watch.part("fieldcheck"):
            write_fieldcheck(folder, project, results.judge, lang=lang, gcj02=gcj02, progress=progress)
    if pages_possible(results):
        with watch.part("village_pages"):
            write_villages_folder(folder, project, results, lang=lang, progress=progress)
    if maps_ctx is not None:
        with watch.part("maps"):
            write_maps(folder, project, results, maps_ctx)
    # last: the run page links every file written before it and report.xlsx, made while that is being written
    with watch.part("run_page"):
        page = run_page_html(run_page_data(project, results, folder, lang=lang, tables=found.raw))
    with watch.part("results"):  # report.xlsx, written meanwhile
        folder.wait_pending()
    with watch.part("run_page"):
        folder.write_text(RUN_PAGE, page, kind="page")
    warnings = [folder.public(w) for w in project.layer_warnings() + list(results.warnings)]  # layers', steps'
    extra["warnings"] = warnings
    extra["timings_s"] = watch.rounded()
    summary.append(watch.summary_line(lang))
    staging = folder.root
    folder.finish(config=config.model_dump(mode="json"), inputs=project.inputs, counts=project.feature_counts(),
                  extra=extra)
    summary = [line.replace(str(staging), str(folder.root)) for line in summary] + folder.summary_lines(lang)
    return RunResult(out=folder.root, project=project, files=sorted(folder.files), summary=summary,
                     database=folder.database, warnings=warnings)


def open_output(out: str | Path, *, maps_out: str | Path | None = None, overwrite: bool = False) -> OutputFolder:
    """The output of a run: a folder, or for a database ``out`` the schema plus the local folder ``maps_out``.

    Parameters
    ----------
    out : str or Path
        An output folder, or ``postgresql://USER@HOST:PORT/DB?schema=NAME`` (result layers and tables go into
        that schema: :class:`kmrv_geo.postgis.write.DatabaseOutput`).
    maps_out : str or Path, optional
        The local folder of maps, pages, report and manifest; required with a database ``out``, refused without.
    overwrite : bool, default False

    Raises
    ------
    OutputError
        ``maps_out`` missing with a database ``out`` or given with a folder ``out``; the outputs' own refusals.
    """
    from .errors import OutputError
    from .postgis.connection import is_database

    if is_database(out):
        from .postgis.write import DatabaseOutput

        return DatabaseOutput(str(out), maps_out=maps_out, overwrite=overwrite)
    if maps_out is not None:
        raise OutputError(f"--maps-out is for a database --out (postgresql://…?schema=NAME); --out {out} is a folder "
                          "that holds the maps itself: leave --maps-out out")
    return OutputFolder(out, overwrite=overwrite)


def run(config_path: str | Path, out: str | Path, *, overwrite: bool = False, progress: bool = False,
        lang: str = "zh", steps: tuple[str, ...] = STEPS, basemap: str | None = None,
        engine: Engine = LOCAL, patches: str | Path | None = None, patches_layer: str | None = None,
        patches_crs: str | None = None, field_results: str | Path | None = None, gcj02: bool = False,
        maps_out: str | Path | None = None) -> RunResult:
    """Load a project file and run the whole pipeline into ``out``.

    Parameters
    ----------
    config_path : str or Path
        The project YAML.
    out : str or Path
        Output folder (refused if it holds results and ``overwrite`` is False), or a PostGIS schema
        ``postgresql://USER@HOST:PORT/DB?schema=NAME`` for the result layers and tables (with ``maps_out``).
    overwrite : bool, default False
    progress : bool, default False
    lang : {"zh", "en"}
    steps : tuple of str
        Which of :data:`STEPS` to run after the checks.
    basemap : str, optional
        Basemap of the maps (overrides the config's ``basemap:``).
    engine : Engine
        Where the change overlay runs (default: locally).
    patches, patches_layer, patches_crs : str or Path, optional
        Monitoring patches to judge (any polygon layer; replaces the project file's ``patches`` role), its
        layer and its CRS when the file has none.
    field_results, gcj02
        As for :func:`run_into`.
    maps_out : str or Path, optional
        With a database ``out``: the local folder of maps, pages, report, CSV tables and manifest.

    Returns
    -------
    RunResult
    """
    config = load_config(config_path)
    if patches is not None:
        config = with_patches(config, patches, layer=patches_layer, crs=patches_crs)
    folder = open_output(out, maps_out=maps_out, overwrite=overwrite)
    try:
        return run_into(config, folder, progress=progress, lang=lang, steps=steps, basemap=basemap, engine=engine,
                        field_results=field_results, gcj02=gcj02)
    except BaseException:
        folder.abandon()  # the previous results (or nothing) stay; never a mix
        raise


def run_demo(out: str | Path, *, n_parcels: int = 30_000, seed: int = 2023, overwrite: bool = False,
             progress: bool = False, lang: str = "zh", basemap: str | None = None,
             engine: Engine = LOCAL) -> RunResult:
    """Make the synthetic Kunming sample in ``out/data`` and run the whole pipeline on it into ``out``.

    Parameters
    ----------
    out : str or Path
        Output folder.
    n_parcels : int, default 30000
        Size of the sample (1k to 1M land-use parcels).
    seed : int, default 2023
        Seed of the sample generator: the same seed and size give the same layers.
    overwrite, progress, lang, basemap, engine
        As for :func:`run`.

    Returns
    -------
    RunResult
    """
    from .sample import make_sample

    folder = OutputFolder(out, overwrite=overwrite)
    try:
        info = make_sample(folder.root / "data", n_parcels=n_parcels, seed=seed, progress=progress)
        config = load_config(Path(info.config_path))
        return run_into(config, folder, progress=progress, lang=lang, basemap=basemap, engine=engine)
    except BaseException:
        folder.abandon()
        raise
