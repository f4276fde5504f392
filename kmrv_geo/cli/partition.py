"""``kmrv partition CONFIG.yml --out DIR``: write the land use as spatially partitioned GeoParquet for Dask."""

from __future__ import annotations

import click

from ..config import load_config
from ..partitions import PARCELS_PER_PARTITION, write_partitions
from ..project import load_project
from .options import common_options, handle_errors, settings


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Partitions folder to write.")
@click.option("--overwrite", is_flag=True, help="Replace partitions written earlier into --out.")
@click.option("--parcels-per-partition", type=click.IntRange(1000), default=PARCELS_PER_PARTITION, show_default=True,
              help="Target parcels per GeoParquet file (one Dask task each).")
@common_options
@handle_errors
def partition(config: str, out: str, overwrite: bool, parcels_per_partition: int) -> None:
    """Check the project's layers and write its two land-use layers into --out as spatially partitioned
    GeoParquet (Hilbert order), for 'kmrv violations CONFIG --engine dask --partitions DIR'.
    """
    s = settings()
    zh = s["lang"] == "zh"
    project = load_project(load_config(config), progress=not s["quiet"])
    manifest = write_partitions(project, out, overwrite=overwrite, parcels_per_partition=parcels_per_partition)
    if s["quiet"]:
        return
    for report in project.reports.values():
        for line in report.summary_lines(s["lang"]):
            click.echo(line)
    for role, entry in manifest["roles"].items():
        click.echo(f"{role}: {entry['features']:,} {'个图斑，' if zh else 'parcels in '}{entry['partitions']} "
                   f"{'个分区' if zh else 'partitions'}")
    click.echo(("分区已写入 " if zh else "partitions written to ") + str(out))
