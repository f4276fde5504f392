"""``kmrv violations CONFIG.yml --out DIR``: farmland change patches, verdicts, balances."""

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
def violations(config: str, out: str, overwrite: bool) -> None:
    """非农化/非粮化 change patches with verdicts, per-county balances and report.xlsx, into --out."""
    s = settings()
    result = pipeline.run(config, out, overwrite=overwrite, progress=not s["quiet"], lang=s["lang"],
                          steps=("violations",))
    echo_result(result, lang=s["lang"], quiet=s["quiet"])
