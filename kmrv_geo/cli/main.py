"""The ``kmrv`` click group; each command lives in its own module."""

from __future__ import annotations

import click

from .. import __version__
from ..memory import limit_arenas
from .check import check
from .demo import demo
from .judge import judge
from .partition import partition
from .steps import STEP_COMMANDS, map_command, run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kmrv")
def cli() -> None:
    """kmrv-geo: farmland change, PBF, HSF and Dianchi village findings for Kunming (昆明).

    Start with `kmrv demo --out demo_out` to see every output on synthetic sample data.
    """
    limit_arenas()  # before any worker thread: resident memory close to what the run holds


cli.add_command(demo)
cli.add_command(check)
cli.add_command(run)
cli.add_command(map_command)
cli.add_command(judge)
cli.add_command(partition)
for command in STEP_COMMANDS:
    cli.add_command(command)
