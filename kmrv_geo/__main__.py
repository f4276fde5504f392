"""``python -m kmrv_geo`` runs the ``kmrv`` command line."""

from __future__ import annotations

from .cli.main import cli

if __name__ == "__main__":
    cli(prog_name="kmrv")
