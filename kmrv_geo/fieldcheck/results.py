"""Reading the filled check sheet back: the field team's conclusions per patch, and the rows that do not fit.

The sheet may come back re-saved by Excel or WPS: patch numbers typed as numbers, dates as date cells or
Excel serial numbers, blank rows, headings in either language, a title row above the headings.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd

from ..errors import LayerError
from ..text import clean_text
from .labels import FIELD_COLUMNS, HEADINGS, check_lang

logger = logging.getLogger(__name__)

HEADER_SEARCH_ROWS = 20
"""The headings are looked for in the first rows of each sheet (a title row may stand above them)."""
VERDICT_WORDS = {
    "合法": "legal", "违法": "illegal", "待核实": "to_check", "其他": "to_check", "其它": "to_check",
    "legal": "legal", "illegal": "illegal", "to_check": "to_check", "other": "to_check",
}  # fmt: skip
"""Conclusions accepted (after trimming, lower case, spaces as ``_``) → verdict code."""
REASONS = {
    "zh": {"unknown_id": "未知图斑编号", "no_id": "有核查内容但缺少图斑编号",
           "duplicate": "重复行：该图斑已在第 {row} 行填写",
           "unreadable_verdict": "核查结论无法识别：{value}（应填 合法、违法 或 待核实）"},
    "en": {"unknown_id": "unknown patch number", "no_id": "field entries without a patch number",
           "duplicate": "duplicate row: the patch is already filled in on row {row}",
           "unreadable_verdict": "unreadable conclusion: {value} (write legal, illegal or to check)"},
}  # fmt: skip
ROW_COLUMNS = ["patch_id", "field_use", "field_verdict", "photo_ids", "checker", "check_date", "sheet_row"]
UNMATCHED_COLUMNS = ["sheet_row", "patch_id", "reason_code", "reason"]
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T].*)?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


@dataclass(frozen=True)
class FieldResults:
    """What the field team wrote in the check sheet.

    Attributes
    ----------
    rows : DataFrame
        One row per checked patch: ``patch_id`` (as in ``known_ids``), ``field_use``, ``field_verdict``
        (``legal``/``illegal``/``to_check``, or missing when only other entries were made), ``photo_ids``,
        ``checker``, ``check_date`` (ISO ``YYYY-MM-DD``, or the text as written when it is no date) and
        ``sheet_row`` (the Excel row number).
    unmatched : DataFrame
        Rows with field entries that cannot be used: ``sheet_row``, ``patch_id`` as written, ``reason_code``
        (``unknown_id``, ``no_id``, ``duplicate``, ``unreadable_verdict``) and ``reason`` in words.
    not_checked : int
        Rows with a patch number and no field entry yet (neither matched nor unmatched).
    path : Path
        The sheet read.
    """

    rows: pd.DataFrame
    unmatched: pd.DataFrame
    not_checked: int
    path: Path


def _normal_heading(value) -> str:
    return re.sub(r"\s+", "", str(value)).lower() if value is not None else ""


HEADING_KEYS = {_normal_heading(text): key for lang in HEADINGS for key, text in HEADINGS[lang].items()}
"""Heading of either language (spaces ignored, any case) → column key."""


def id_text(value) -> str:
    """A patch number as text: a whole number typed as a number loses its ``.0``; spaces trimmed.

    Examples
    --------
    >>> id_text(530111000123.0), id_text(" JC530112-0007 ")
    ('530111000123', 'JC530112-0007')
    """
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return clean_text(str(value)).strip()


def entry_text(value) -> str:
    """A field entry as text (``""`` when empty); whole numbers without ``.0``."""
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return id_text(value)


def date_text(value) -> str:
    """A check date as ISO text (``YYYY-MM-DD``); a date cell, an Excel serial number, ``2024/5/3``,
    ``2024.5.3``, ``2024年5月3日`` or ``20240503`` are read; anything else is kept as written.
    """
    from openpyxl.utils.datetime import from_excel

    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20_000 <= value < 80_000:  # an Excel serial day number (1954–2119)
            return from_excel(value).date().isoformat()
        value = id_text(value)
    text = entry_text(value)
    match = _DATE.match(text) or _COMPACT_DATE.match(text)
    if match:
        try:
            return date(*(int(g) for g in match.groups())).isoformat()
        except ValueError:
            pass
    return text


def verdict_code(text: str) -> str | None:
    """The verdict code of a written conclusion (:data:`VERDICT_WORDS`), ``None`` when unreadable."""
    return VERDICT_WORDS.get(re.sub(r"\s+", "_", text.strip().lower()))


def _open(path: Path):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.is_file():
        raise LayerError(f"check sheet {path} does not exist; give the path of the filled 核查表.xlsx")
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise LayerError(
            f"check sheet {path} is not an Excel .xlsx workbook ({type(exc).__name__}: {exc}); open it in Excel "
            "or WPS and save it as an Excel workbook (*.xlsx), not .xls, .et or .csv"
        ) from exc


def _find_header(book, path: Path):
    """(sheet, header row number, column key → 0-based position) of the first sheet with a patch number column."""
    for sheet in book.worksheets:
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # read-only mode trusts the stored used range, which other tools get wrong
        for number, values in enumerate(sheet.iter_rows(max_row=HEADER_SEARCH_ROWS, values_only=True), start=1):
            keys: dict[str, int] = {}
            for position, value in enumerate(values):
                key = HEADING_KEYS.get(_normal_heading(value))
                if key and key not in keys:
                    keys[key] = position
            if "patch_id" in keys:
                return sheet, number, keys
    names = "、".join(s.title for s in book.worksheets)
    raise LayerError(
        f"check sheet {path} has no 图斑编号 (patch id) column: none of the first {HEADER_SEARCH_ROWS} rows of its "
        f"sheets ({names}) holds that heading; keep the heading row kmrv wrote (图斑编号 … 核查日期) and fill in "
        "the rows below it"
    )


def read_field_results(path: str | Path, known_ids: Iterable, *, lang: str = "zh") -> FieldResults:
    """Read the field team's entries from a filled check sheet.

    Parameters
    ----------
    path : str or Path
        The check sheet (:func:`~kmrv_geo.fieldcheck.sheet.write_check_sheet`), headings in Chinese or English.
    known_ids : iterable
        The patch numbers of the judged patches (``judged["patch_id"]``).
    lang : {"zh", "en"}, default "zh"
        Language of the ``unmatched`` reasons.

    Returns
    -------
    FieldResults
        ``rows`` (matched, one per patch), ``unmatched`` (with reasons) and ``not_checked`` (rows not
        filled in yet). A row with a patch number but none of 实际用途, 核查结论, 照片编号, 核查人, 核查日期 is
        not checked yet; a wholly blank row is skipped. A patch number typed as a number (Excel drops the
        text format), or without its leading zeros, still matches. When a patch is filled in twice, the
        first row counts and the later one is listed as a duplicate.

    Raises
    ------
    LayerError
        If the file is missing, is not an ``.xlsx`` workbook, or has no 图斑编号 (patch id) heading.

    Examples
    --------
    >>> results = read_field_results("核查表.xlsx", judged["patch_id"])  # doctest: +SKIP
    >>> results.rows.set_index("patch_id")["field_verdict"]  # doctest: +SKIP
    """
    reasons = REASONS[check_lang(lang)]
    path = Path(path)
    book = _open(path)
    try:
        sheet, header, keys = _find_header(book, path)
        known = {id_text(k): id_text(k) for k in known_ids}
        unpadded: dict[str, str | None] = {}
        folded: dict[str, str | None] = {}  # typed in another case (jc530112-0007): matched when unambiguous
        for k in known:
            if k.isdigit():
                short = k.lstrip("0")
                unpadded[short] = None if short in unpadded else k  # ambiguous: no match by value
            folded[k.casefold()] = None if k.casefold() in folded else k
        rows, unmatched, seen = [], [], {}
        not_checked = 0
        for number, values in enumerate(sheet.iter_rows(min_row=header + 1, values_only=True), start=header + 1):
            def cell(key, values=values):
                position = keys.get(key)
                return values[position] if position is not None and position < len(values) else None

            written = id_text(cell("patch_id"))
            entries = {key: entry_text(cell(key)) for key in FIELD_COLUMNS}
            entries["check_date"] = date_text(cell("check_date"))
            if not any(entries.values()):
                not_checked += bool(written)
                continue
            patch = (known.get(written) or (unpadded.get(written.lstrip("0")) if written.isdigit() else None)
                     or folded.get(written.casefold()))
            verdict = verdict_code(entries["field_verdict"]) if entries["field_verdict"] else None
            if not written:
                problem = ("no_id", {})
            elif patch is None:
                problem = ("unknown_id", {})
            elif patch in seen:
                problem = ("duplicate", {"row": seen[patch]})
            elif entries["field_verdict"] and verdict is None:
                problem = ("unreadable_verdict", {"value": entries["field_verdict"]})
            else:
                seen[patch] = number
                rows.append({**entries, "patch_id": patch, "field_verdict": verdict, "sheet_row": number})
                continue
            code, values_ = problem
            unmatched.append({"sheet_row": number, "patch_id": written, "reason_code": code,
                              "reason": reasons[code].format(**values_)})
    finally:
        book.close()
    if unmatched:
        logger.warning("check sheet %s: %d filled rows could not be used (unknown, duplicate or unreadable)",
                       path, len(unmatched))
    return FieldResults(rows=pd.DataFrame(rows, columns=ROW_COLUMNS),
                        unmatched=pd.DataFrame(unmatched, columns=UNMATCHED_COLUMNS),
                        not_checked=not_checked, path=path)
