"""The analysis steps, declared once: name, what each needs, whose results it uses, how it runs.

Adding a step touches this module only (plus what it writes, in :mod:`kmrv_geo.findings`): the
pipeline's order, prerequisites and required roles, and the CLI's commands and help, all come from
:data:`STEPS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .analysis import steps as analysis_steps
from .findings import Results, abandoned_by_village
from .project import Project


@dataclass(frozen=True)
class Engine:
    """Where the heavy overlay runs: ``local`` (threads on this machine) or ``dask`` (a cluster).

    Attributes
    ----------
    name : {"local", "dask"}
    scheduler : str, optional
        Dask scheduler address (``tcp://host:8786``); default a LocalCluster of ``workers`` processes.
    workers : int
    partitions : str, optional
        A land-use partitions folder (``kmrv partition``) the dask workers read the land use from; the
        client then never holds the land-use layers (violation analysis only).
    """

    name: str = "local"
    scheduler: str | None = None
    workers: int = 2
    partitions: str | None = None


@dataclass(frozen=True)
class RunOptions:
    """What a run was asked for beyond the project file, as the steps read it.

    Attributes
    ----------
    engine : Engine
        Where the change overlay runs.
    lang : {"zh", "en"}
        Language of texts the analyses write into their frames (verdict and reason texts).
    field_results : Path, optional
        A filled field-check sheet (核查表.xlsx) whose conclusions the judging step takes.
    gcj02 : bool
        Write the field-check KML in GCJ-02 (for Gaode-based phone apps) instead of WGS84.
    """

    engine: Engine = field(default_factory=Engine)
    lang: str = "zh"
    field_results: Path | None = None
    gcj02: bool = False


@dataclass(frozen=True)
class Step:
    """One analysis step of a run.

    Attributes
    ----------
    name : str
        Step and CLI command name.
    run : callable
        ``run(project, results, options)``: fills its part of ``results`` (and ``results.warnings``);
        ``options`` is the :class:`RunOptions` of the run.
    needs : tuple of str
        Roles it cannot run without.
    needs_one_of : tuple of str
        Roles of which it needs at least one (empty: no such condition).
    uses : tuple of str
        Steps whose results it takes (run first when their roles are configured, left out quietly
        otherwise).
    help : str
        The CLI command's help.
    parcel_areas : {"all", "farmland"}
        Land-use parcels whose ellipsoidal areas it takes whole: a run of only ``"farmland"`` steps measures only
        farmland parcels (and those the TBMJ check needs) at load; any ``"all"`` step has every parcel measured
        there, once (:func:`kmrv_geo.project.load_project`).
    """

    name: str
    run: Callable
    needs: tuple[str, ...] = ()
    needs_one_of: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    help: str = ""
    parcel_areas: str = "all"

    def missing_roles(self, project: Project) -> list[str]:
        """Roles this step needs that the project does not configure (empty: it can run)."""
        have = set(project.vectors) | set(project.config.layers)
        missing = [role for role in self.needs if role not in have]
        if self.needs_one_of and not set(self.needs_one_of) & have:
            missing.append(" / ".join(self.needs_one_of))
        return missing


def _violations(project, results, options: RunOptions) -> None:
    engine = options.engine
    results.violations = analysis_steps.run_violations(project, engine=engine.name, scheduler=engine.scheduler,
                                                       n_workers=engine.workers)


def _landcover(project, results, options) -> None:
    results.landcover, found = analysis_steps.run_landcover(project)
    results.landcover_parcels = found.parcels
    results.warnings.extend(found.warnings)


def _coverage(project, results, options) -> None:
    results.coverage = analysis_steps.run_coverage(project, results.violations)
    results.warnings.extend(results.coverage.warnings)


def _sites(project, results, options) -> None:
    results.sites, results.fragmentation = analysis_steps.run_sites(project)


def _abandonment(project, results, options) -> None:
    results.abandonment = analysis_steps.run_abandonment(project)
    results.warnings.extend(results.abandonment.warnings)


def _villages(project, results: Results, options) -> None:
    profiles, layout, warnings, review = analysis_steps.run_villages(
        project, violations=results.violations or results.landcover, sites=results.sites,
        frag=results.fragmentation, abandoned=abandoned_by_village(results.abandonment),
        coverage_result=results.coverage, lang=options.lang)
    results.village_profiles, results.village_layout, results.village_review = profiles, layout, review
    results.warnings.extend(warnings)


def _judge(project, results: Results, options: RunOptions) -> None:
    from .fieldcheck import read_field_results

    judged = analysis_steps.run_judge(project, lang=options.lang)
    if options.field_results is not None:
        returned = read_field_results(options.field_results, judged.patches["patch_id"])
        judged = analysis_steps.take_field_results(judged, returned, lang=options.lang)
    results.judge = judged
    results.warnings.extend(judged.warnings)


STEPS: tuple[Step, ...] = (
    Step("violations", _violations, needs=("landuse_t0", "landuse_t1"),
         help="非农化/非粮化 change patches with verdicts (illegal, approved, on PBF), per-county balances "
              "(占补, 进出) and report.xlsx.", parcel_areas="farmland"),
    Step("landcover", _landcover, needs=("landuse_t0", "landcover_t0", "landcover_t1"),
         help="Land-cover change from two class rasters (CLCD or mapped classes) inside T0 farmland: change "
              "patches with source=raster through the same verdicts and balances, per-parcel changed shares."),
    Step("coverage", _coverage, needs=("landuse_t1",), uses=("violations",),
         help="HSF coverage of PBF and farmland per county, township and village; HSF outside farmland or "
              "lost to construction; ranked PBF blocks not yet HSF (hsf_gaps). Runs the violation step too."),
    Step("sites", _sites, needs=("landuse_t1",),
         help="Contiguous farmland blocks ≥ facility_site_min_mu (设施农业选址) and per-village fragmentation."),
    Step("abandonment", _abandonment, needs=("ndvi",), needs_one_of=("landuse_t1", "landuse_t0"),
         help="撂荒: yearly growing-season NDVI per farmland parcel; parcels low for min_years consecutive "
              "years (abandonment: ndvi_max, min_years in the config)."),
    Step("judge", _judge, needs=("landuse_t0", "patches"),
         help="卫片执法: judge monitoring patches (any polygon layer; role patches) against the T0/T1 surveys, PBF, "
              "the ecological red line and every approval-like layer: verdict legal/illegal/to_check with reasons "
              "and document numbers, per-county tables, and a field-check package (KML, 核查表.xlsx, pages)."),
    Step("villages", _villages, needs=("villages",), uses=("violations", "landcover", "sites", "abandonment"),
         help="One profile row per Dianchi village (farmland, PBF, HSF, illegal and non-grain 亩, abandoned 亩, "
              "sites, distance to the shore) and the layout review. Runs the steps it takes numbers from too."),
)
"""Every analysis step, in the order a run takes them (checks always run first, maps last)."""
BY_NAME: dict[str, Step] = {step.name: step for step in STEPS}
MAPS = "maps"
"""Not an analysis: drawing every map the results allow, after the analyses."""
NAMES: tuple[str, ...] = tuple(BY_NAME) + (MAPS,)
