"""Errors raised by kmrv-geo.

Every error a user can cause derives from :class:`KmrvError`. Messages name the file, layer or field,
say what is wrong (the value received and the values accepted) and how to fix it. The CLI turns a
``KmrvError`` into exit code 2 and one paragraph, without a traceback unless ``--debug`` is given.
"""

from __future__ import annotations


class KmrvError(Exception):
    """Base class of every error a user can cause or fix."""


class ConfigError(KmrvError, ValueError):
    """The project configuration file is missing, malformed or inconsistent."""


class LayerError(KmrvError, ValueError):
    """An input layer is missing, unreadable, empty, non-spatial or lacks a required field."""


class CrsError(KmrvError, ValueError):
    """A layer has no CRS, a mislabelled CRS, or lies outside the study area."""


class OutputError(KmrvError, OSError):
    """An output folder or file cannot be written (exists without ``--overwrite``, no permission...)."""


def join_problems(header: str, problems: list[str]) -> str:
    """Build one message from a header and a list of collected problems.

    Parameters
    ----------
    header : str
        First sentence, e.g. ``"config demo.yml has 2 problems:"``.
    problems : list of str
        One line per problem; each should say what, where and how to fix it.

    Returns
    -------
    str
        The header followed by the problems as a bulleted list.
    """
    return header + "".join(f"\n  - {p}" for p in problems)


class MapError(KmrvError, ValueError):
    """A map cannot be made: unknown basemap, a basemap key missing, an asset no installed package ships."""


class DatabaseError(KmrvError, ConnectionError):
    """A PostgreSQL server cannot be reached, refuses the login, or lacks the database or PostGIS."""
