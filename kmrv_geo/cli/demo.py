"""``kmrv demo [--out DIR]``: make the synthetic sample and run the whole pipeline on it."""

from __future__ import annotations

import click

from .. import pipeline
from ..sample import MAX_PARCELS, MIN_PARCELS
from .options import basemap_option, common_options, engine_options, handle_errors, settings
from .summary import echo_result


@click.command()
@click.option("--out", "-o", default="demo_out", show_default=True, type=click.Path(file_okay=False),
              help="Output folder (the sample layers go to OUT/data).")
@click.option("--parcels", default=30_000, show_default=True, type=click.IntRange(MIN_PARCELS, MAX_PARCELS),
              help="Number of land-use parcels in the sample.")
@click.option("--seed", default=2023, show_default=True, type=int, help="Seed of the sample generator.")
@click.option("--overwrite", is_flag=True, help="Replace the results of an earlier run in --out.")
@basemap_option
@engine_options
@common_options
@handle_errors
def demo(out: str, parcels: int, seed: int, overwrite: bool, basemap: str | None, engine: str, scheduler: str | None,
         workers: int) -> None:
    """Make synthetic Kunming sample layers (示例数据) and run the whole pipeline on them."""
    s = settings()
    result = pipeline.run_demo(out, n_parcels=parcels, seed=seed, overwrite=overwrite, progress=not s["quiet"],
                               lang=s["lang"], basemap=basemap, engine=pipeline.Engine(engine, scheduler, workers))
    echo_result(result, lang=s["lang"], quiet=s["quiet"])
