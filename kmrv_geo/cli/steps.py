"""``kmrv run``, ``kmrv map`` and one command per analysis step (``kmrv violations|coverage|sites|villages``).

All take ``CONFIG.yml --out DIR``. ``run`` runs every step; ``map`` too, to draw every map the layers
allow (with ``--basemap``); a step command runs the checks, the step and the steps it takes results
from (see :data:`kmrv_geo.pipeline.PREREQUISITES`), and writes their outputs.
"""

from __future__ import annotations

import click

from .. import pipeline
from .options import basemap_option, common_options, handle_errors, settings
from .summary import echo_result

STEP_HELP = {
    "violations": "非农化/非粮化 change patches with verdicts (illegal, approved, on PBF), per-county balances "
                  "(占补, 进出) and report.xlsx.",
    "coverage": "HSF coverage of PBF and farmland per county, township and village; HSF outside farmland or "
                "lost to construction; ranked PBF blocks not yet HSF (hsf_gaps). Runs the violation step too.",
    "sites": "Contiguous farmland blocks ≥ facility_site_min_mu (设施农业选址) and per-village fragmentation.",
    "villages": "One profile row per Dianchi village (farmland, PBF, HSF, illegal and non-grain 亩, sites, "
                "distance to the shore) and the layout review. Runs the violation and sites steps too.",
}  # fmt: skip


def pipeline_command(name: str, steps: tuple[str, ...], help_text: str) -> click.Command:
    """A click command ``name`` that runs ``steps`` (and their prerequisites) on a project file into ``--out``;
    with ``--basemap`` when the steps draw maps."""

    @click.command(name=name, help=help_text)
    @click.argument("config", type=click.Path(dir_okay=False))
    @click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Output folder.")
    @click.option("--overwrite", is_flag=True, help="Replace the results of an earlier run in --out.")
    @common_options
    @handle_errors
    def command(config: str, out: str, overwrite: bool, basemap: str | None = None) -> None:
        s = settings()
        result = pipeline.run(config, out, overwrite=overwrite, progress=not s["quiet"], lang=s["lang"],
                              steps=steps, basemap=basemap)
        echo_result(result, lang=s["lang"], quiet=s["quiet"])

    return basemap_option(command) if "maps" in steps else command


run = pipeline_command("run", pipeline.STEPS, "Check every layer of CONFIG and write all findings, tables, "
                       "report.xlsx and maps into --out.")
STEP_COMMANDS = [pipeline_command(step, (step,), text) for step, text in STEP_HELP.items()]
map_command = pipeline_command(
    "map", pipeline.STEPS, "Write every map the layers allow into --out/maps (overview, violations, coverage, "
    "villages, abandonment): offline HTML files, Chinese labels (--lang en), basemap by --basemap. Runs the "
    "analyses the maps show.")
