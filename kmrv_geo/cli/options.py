"""Flags shared by every command: verbosity, --debug, --lang; and the error handling they drive."""

from __future__ import annotations

import functools
import logging

import click

from ..errors import KmrvError

LANGS = ("zh", "en")


def _settings(ctx: click.Context) -> dict:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = {"verbose": 0, "quiet": False, "debug": False, "lang": "zh"}
    return root.obj


def _store(key):
    def callback(ctx: click.Context, _param, value):
        settings = _settings(ctx)
        if value not in (None, False, 0) or key not in settings:
            settings[key] = value
        return value

    return callback


verbose_opt = click.option("-v", "--verbose", count=True, expose_value=False, callback=_store("verbose"),
                           help="More log output (-vv for debug messages).")
quiet_opt = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_store("quiet"),
                         help="No progress bars, only warnings and errors.")
debug_opt = click.option("--debug", is_flag=True, expose_value=False, callback=_store("debug"),
                         help="Show the full traceback on errors.")
lang_opt = click.option("--lang", type=click.Choice(LANGS), default=None, expose_value=False,
                        callback=_store("lang"), help="Language of summaries, tables and maps (default zh).")


def basemap_option(func):
    """Add ``--basemap`` (overrides the project file's ``basemap:``)."""
    from ..webmap.basemaps import BASEMAPS

    return click.option("--basemap", type=click.Choice(list(BASEMAPS)), default=None,
                        help="Basemap of the maps (default: the project file's basemap:, else osm); gaode shifts "
                             "every overlay to GCJ-02; tianditu needs KMRV_TIANDITU_KEY or tianditu_key:.")(func)


OUT_HELP = ("Output folder; or a PostGIS schema, postgresql://USER@HOST:5432/DB?schema=NAME, for the result layers "
            "and tables (no password: PGPASSWORD or ~/.pgpass), with --maps-out.")


def maps_out_option(func):
    """Add ``--maps-out`` (the local folder of maps, pages, report and manifest when ``--out`` is a database)."""
    return click.option("--maps-out", type=click.Path(file_okay=False), default=None,
                        help="With a database --out: the local folder for the maps, pages, report.xlsx, CSV tables "
                             "and manifest.json (required then).")(func)


def common_options(func):
    """Add -v/-q/--debug/--lang to a command."""
    for option in (lang_opt, debug_opt, quiet_opt, verbose_opt):
        func = option(func)
    return func


def engine_options(func):
    """Add --engine/--scheduler/--workers (where the change overlay runs) to a command."""
    func = click.option("--workers", type=click.IntRange(1, 256), default=2, show_default=True,
                        help="Worker processes of the LocalCluster started for --engine dask.")(func)
    func = click.option("--scheduler", default=None, metavar="ADDRESS",
                        help="Dask scheduler to use with --engine dask, e.g. tcp://10.0.0.5:8786 "
                             "(default: start a LocalCluster on this machine).")(func)
    func = click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
                        help="Run the change overlay here (local) or on a Dask cluster (dask).")(func)
    return func


def partitions_option(func):
    """Add ``--partitions DIR`` (land use read by the Dask workers from ``kmrv partition``'s folder)."""
    return click.option("--partitions", type=click.Path(file_okay=False), default=None, metavar="DIR",
                        help="With --engine dask: the workers read the land use from this folder written by "
                             "'kmrv partition' (the violation analysis only; this machine never holds the whole "
                             "land use).")(func)


def settings() -> dict:
    """The shared settings of the running command (verbose, quiet, debug, lang)."""
    return _settings(click.get_current_context())


def configure_logging() -> None:
    """Map -v/-q to a log level, once, for the whole program."""
    s = settings()
    level = logging.ERROR if s["quiet"] else (logging.WARNING, logging.INFO, logging.DEBUG)[min(s["verbose"], 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.captureWarnings(True)


def handle_errors(func):
    """Run a command; turn a KmrvError into one paragraph on stderr and exit code 2 (traceback with --debug)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        configure_logging()
        s = settings()
        try:
            return func(*args, **kwargs)
        except KmrvError as exc:
            if s["debug"]:
                raise
            label = "错误" if s["lang"] == "zh" else "Error"
            click.echo(f"{label}: {exc}", err=True)
            raise SystemExit(2) from None
        except (click.exceptions.Exit, click.ClickException, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if s["debug"]:
                raise
            label = "内部错误（请报告此问题）" if s["lang"] == "zh" else "Internal error (please report it)"
            click.echo(f"{label}: {type(exc).__name__}: {exc}\nRun again with --debug for the traceback.", err=True)
            raise SystemExit(1) from None

    return wrapper
