"""``kmrv run``, ``kmrv map`` and one command per analysis step.

The steps: ``kmrv violations|landcover|coverage|sites|abandonment|villages`` (``kmrv judge`` has a module of
its own: it takes the patch layer as an argument).

All take ``CONFIG.yml --out DIR``. ``run`` runs every step; ``map`` too, to draw every map the layers
allow (with ``--basemap``); a step command runs the checks, the step and the steps it takes results
from (``uses`` in :data:`kmrv_geo.registry.STEPS`), and writes their outputs.
"""

from __future__ import annotations

import click

from .. import pipeline, registry
from .options import (
    OUT_HELP,
    basemap_option,
    common_options,
    engine_options,
    handle_errors,
    maps_out_option,
    partitions_option,
    settings,
)
from .summary import echo_result


def pipeline_command(name: str, steps: tuple[str, ...], help_text: str) -> click.Command:
    """A click command ``name`` that runs ``steps`` (and their prerequisites) on a project file into ``--out``;
    with ``--basemap`` when the steps draw maps.
    """

    @click.command(name=name, help=help_text)
    @click.argument("config", type=click.Path(dir_okay=False))
    @click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help=OUT_HELP)
    @maps_out_option
    @click.option("--overwrite", is_flag=True, help="Replace the results of an earlier run in --out.")
    @engine_options
    @partitions_option
    @common_options
    @handle_errors
    def command(config: str, out: str, maps_out: str | None, overwrite: bool, engine: str, scheduler: str | None,
                workers: int, partitions: str | None, basemap: str | None = None) -> None:
        s = settings()
        result = pipeline.run(config, out, overwrite=overwrite, progress=not s["quiet"], lang=s["lang"],
                              steps=steps, basemap=basemap,
                              engine=pipeline.Engine(engine, scheduler, workers, partitions), maps_out=maps_out)
        echo_result(result, lang=s["lang"], quiet=s["quiet"])

    return basemap_option(command) if "maps" in steps else command


CUSTOM_COMMANDS = ("judge",)
"""Steps whose command takes more than CONFIG (``kmrv judge CONFIG PATCHES``; :mod:`kmrv_geo.cli.judge`)."""
run = pipeline_command("run", pipeline.STEPS, "Check every layer of CONFIG and write all findings, tables, "
                       "report.xlsx and maps into --out.")
STEP_COMMANDS = [pipeline_command(step.name, (step.name,), step.help) for step in registry.STEPS
                 if step.name not in CUSTOM_COMMANDS]
map_command = pipeline_command(
    "map", pipeline.STEPS, "Write every map the layers allow into --out/maps (overview, violations, coverage, "
    "villages, abandonment): offline HTML files, Chinese labels (--lang en), basemap by --basemap. Runs the "
    "analyses the maps show.")
