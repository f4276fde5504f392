"""Printing a run's summary."""

from __future__ import annotations

import click

from ..pipeline import RunResult


def echo_result(result: RunResult, *, lang: str, quiet: bool) -> None:
    """Print the summary lines and where the outputs are (with ``--quiet`` just the warnings and the folder)."""
    if quiet:
        for warning in result.warnings:
            click.echo(("注意：" if lang == "zh" else "warning: ") + warning)
    else:
        for line in result.summary:
            click.echo(line)
        maps = [f for f in result.files if f.startswith("maps/")]
        if maps:
            click.echo(("地图" if lang == "zh" else "maps") + ": " + ", ".join(str(result.out / m) for m in maps))
    if quiet and result.database:  # the summary (not shown) says it otherwise
        click.echo(("成果图层和表已写入数据库" if lang == "zh" else "result layers and tables written to")
                   + f" {result.database}")
    click.echo(("结果已写入" if lang == "zh" else "results written to") + f" {result.out} "
               + (f"（{len(result.files)} 个文件，见 manifest.json）" if lang == "zh"
                  else f"({len(result.files)} files, see manifest.json)"))
