"""``kmrv run``, ``kmrv map`` and one command per analysis step.

The steps: ``kmrv violations|landcover|coverage|sites|abandonment|villages``.

All take ``CONFIG.yml --out DIR``. ``run`` runs every step; ``map`` too, to draw every map the layers
allow (with ``--basemap``); a step command runs the checks, the step and the steps it takes results
from (see :data:`kmrv_geo.pipeline.PREREQUISITES`), and writes their outputs.
"""

from __future__ import annotations

import click

from .. import pipeline
from .options import basemap_option, common_options, engine_options, handle_errors, settings
from .summary import echo_result

STEP_HELP = {
    "violations": "非农化/非粮化 change patches with verdicts (illegal, approved, on PBF), per-county balances "
                  "(占补, 进出) and report.xlsx.",
    "landcover": "Land-cover change from two class rasters (CLCD or mapped classes) inside T0 farmland: change "
                 "patches with source=raster through the same verdicts and balances, per-parcel changed shares.",
    "abandonment": "撂荒: yearly growing-season NDVI per farmland parcel; parcels low for min_years consecutive "
                   "years (abandonment: ndvi_max, min_years in the config).",
    "coverage": "HSF coverage of PBF and farmland per county, township and village; HSF outside farmland or "
                "lost to construction; ranked PBF blocks not yet HSF (hsf_gaps). Runs the violation step too.",
    "sites": "Contiguous farmland blocks ≥ facility_site_min_mu (设施农业选址) and per-village fragmentation.",
    "villages": "One profile row per Dianchi village (farmland, PBF, HSF, illegal and non-grain 亩, abandoned 亩, "
                "sites, distance to the shore) and the layout review. Runs the steps it takes numbers from too.",
}  # fmt: skip


def pipeline_command(name: str, steps: tuple[str, ...], help_text: str) -> click.Command:
    """A click command ``name`` that runs ``steps`` (and their prerequisites) on a project file into ``--out``;
    with ``--basemap`` when the steps draw maps."""

    @click.command(name=name, help=help_text)
    @click.argument("config", type=click.Path(dir_okay=False))
    @click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Output folder.")
    @click.option("--overwrite", is_flag=True, help="Replace the results of an earlier run in --out.")
    @engine_options
    @common_options
    @handle_errors
    def command(config: str, out: str, overwrite: bool, engine: str, scheduler: str | None, workers: int,
                basemap: str | None = None) -> None:
        s = settings()
        result = pipeline.run(config, out, overwrite=overwrite, progress=not s["quiet"], lang=s["lang"],
                              steps=steps, basemap=basemap, engine=pipeline.Engine(engine, scheduler, workers))
        echo_result(result, lang=s["lang"], quiet=s["quiet"])

    return basemap_option(command) if "maps" in steps else command


run = pipeline_command("run", pipeline.STEPS, "Check every layer of CONFIG and write all findings, tables, "
                       "report.xlsx and maps into --out.")
STEP_COMMANDS = [pipeline_command(step, (step,), text) for step, text in STEP_HELP.items()]
map_command = pipeline_command(
    "map", pipeline.STEPS, "Write every map the layers allow into --out/maps (overview, violations, coverage, "
    "villages, abandonment): offline HTML files, Chinese labels (--lang en), basemap by --basemap. Runs the "
    "analyses the maps show.")
