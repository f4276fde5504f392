r"""Attribute text every writer can store: control characters removed, what was removed counted.

Names copied from Word or Excel can carry invisible control characters (a vertical tab ``\x0b``,
``\x1a``, ``\x00`` …). openpyxl refuses them (IllegalCharacterError) and so does XML in general, a
GeoPackage string with ``\x00`` is cut there, and they are invisible on maps. Text is cleaned once at
load (:func:`clean_frame`, reported per layer) and again by every writer as a last guard, so a value
is the same in every output. Tab, line feed and carriage return are kept (Excel stores them).
"""

from __future__ import annotations

import html
import math
import re
import unicodedata

import pandas as pd

CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Characters removed from text: C0 controls except tab, line feed and carriage return, and DEL."""


def clean_text(value):
    """``value`` without control characters (non-strings unchanged)."""
    return CONTROL_RE.sub("", value) if isinstance(value, str) else value


def clean_frame(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Remove control characters from every text column (and column name).

    Returns
    -------
    frame : DataFrame
        The same frame when nothing needed cleaning, else a cleaned copy.
    cleaned : dict
        Column → number of values changed (only columns with changes).
    """
    cleaned: dict[str, int] = {}
    out = frame
    for column in frame.columns:
        series = frame[column]
        if column == getattr(frame, "_geometry_column_name", None) or not (
                pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        # a string column holds text or nothing; an object column may mix types
        is_text = series.notna() if pd.api.types.is_string_dtype(series) and not pd.api.types.is_object_dtype(
            series) else series.map(lambda v: isinstance(v, str))
        if not is_text.any():
            continue
        dirty = is_text & series.where(is_text, "").str.contains(CONTROL_RE, regex=True)
        if dirty.any():
            if out is frame:
                out = frame.copy()
            out[column] = series.map(clean_text)
            cleaned[str(column)] = int(dirty.sum())
    names = {c: clean_text(c) for c in out.columns if isinstance(c, str) and CONTROL_RE.search(c)}
    if names:
        out = out.rename(columns=names) if out is not frame else frame.rename(columns=names)
        cleaned["(field names)"] = len(names)
    return out, cleaned


def text_of(value) -> str:
    """A cell value as clean text: ``""`` for missing values, control characters removed."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return clean_text(str(value))


def escape_html(value) -> str:
    """A value as escaped HTML text (``""`` for missing values; control characters removed)."""
    return html.escape(text_of(value), quote=True)


def display_width(text) -> int:
    """Width of ``text`` in Latin characters (a Chinese character counts two), for column widths."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(text))
