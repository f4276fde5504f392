"""``kmrv run CONFIG.yml --out DIR``: the whole pipeline."""

from __future__ import annotations

import click

from .. import pipeline
from .options import common_options, handle_errors, settings
from .summary import echo_result


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace the results of an earlier run in --out.")
@common_options
@handle_errors
def run(config: str, out: str, overwrite: bool) -> None:
    """Check every layer of CONFIG and write all findings, tables and maps into --out."""
    s = settings()
    result = pipeline.run(config, out, overwrite=overwrite, progress=not s["quiet"], lang=s["lang"])
    echo_result(result, lang=s["lang"], quiet=s["quiet"])
