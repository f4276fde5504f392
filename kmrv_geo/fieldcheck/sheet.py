"""The check sheet (核查表.xlsx): one row per judged patch, with empty columns the field team fills in.

:func:`write_check_sheet` writes it; :func:`~kmrv_geo.fieldcheck.results.read_field_results` reads it back
once filled (in Excel or WPS, or on paper and typed in).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..text import clean_text, display_width
from .labels import (
    FIELD_COLUMNS,
    HEADINGS,
    SHEET_COLUMNS,
    SYNTHETIC,
    VERDICT_TEXT,
    VERDICTS,
    after_use,
    all_refs,
    check_lang,
    field_entries,
    prefilled_words,
    text_of,
)
from .pages import patch_order

SHEET_NAME = {"zh": "核查表", "en": "field check"}
TITLE = {"zh": "卫片执法图斑外业核查表", "en": "Field check of monitoring patches"}
HEADER_ROW = 2
"""Row of the headings (row 1 holds the title, notice and the 示例数据 label)."""
NUMBER_FORMATS = {"lon": "0.000000", "lat": "0.000000", "area_mu": "0.00", "check_date": "yyyy-mm-dd"}
WRAPPED = {"reason_text": 48, "refs": 30, "t0_classes": 24}
"""Long text columns: wrapped at this width (characters of Latin width)."""
FIELD_WIDTHS = {"field_use": 20, "field_verdict": 12, "photo_ids": 16, "checker": 10, "check_date": 13}
FORMULA_START = ("=", "+", "-", "@")
"""A text starting with one of these would be read as a formula when edited in Excel/WPS: written as text
with Excel's quote prefix."""



def sheet_table(judged: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The sheet's columns for each patch, as values: the data columns
    (:data:`~kmrv_geo.fieldcheck.labels.SHEET_COLUMNS`; 预判结论 is the machine's verdict) and the field team's
    (:data:`~kmrv_geo.fieldcheck.labels.FIELD_COLUMNS`: empty, or what a returned sheet said, so a sheet
    written after ``--field-results`` keeps the team's entries).

    Longitude and latitude (WGS84, the patch's interior point) are rounded to 6 decimals, 亩 to 2.
    """
    rows = []
    for _, row in judged.iterrows():
        rows.append({
            "patch_id": text_of(row.get("patch_id")), "county_name": text_of(row.get("county_name")),
            "township": text_of(row.get("township")), "village": text_of(row.get("village")),
            "lon": _rounded(row.get("lon"), 6), "lat": _rounded(row.get("lat"), 6),
            "area_mu": _rounded(row.get("area_mu"), 2), "verdict_text": prefilled_words(row, lang),
            "reason_text": text_of(row.get("reason_text")), "refs": all_refs(row),
            "t0_classes": text_of(row.get("t0_classes")), "after_use": after_use(row),
            **field_entries(row, lang),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=[*SHEET_COLUMNS, *FIELD_COLUMNS])


def _rounded(value, digits: int):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(number) else round(number, digits)


def _iso_day(value) -> datetime.datetime | None:
    """A ``YYYY-MM-DD`` text as a date (midnight), else ``None``."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return datetime.datetime.combine(datetime.date.fromisoformat(value), datetime.time())
    except ValueError:
        return None


def write_check_sheet(path: str | Path, judged: gpd.GeoDataFrame | pd.DataFrame, *, lang: str = "zh",
                      title: str | None = None, notice: str | None = None, synthetic: bool = False) -> Path:
    """Write the check sheet: one row per patch, the field team's columns left empty.

    Parameters
    ----------
    path : str or Path
        The ``.xlsx`` to write (e.g. ``核查表.xlsx``; replaced if it exists).
    judged : GeoDataFrame or DataFrame
        One row per judged patch with ``patch_id``, ``county_name``, ``township``, ``village``, ``lon``,
        ``lat``, ``area_mu``, ``verdict``, ``verdict_text``, ``reason_text``, the ``*_refs`` columns,
        ``t0_classes``, ``after_code`` and ``after_name`` (missing columns are left empty).
    lang : {"zh", "en"}, default "zh"
        Language of the headings, the verdicts and the conclusion list.
    title : str, optional
        The project's name: the first line of the sheet is it, 卫片执法图斑外业核查表, the notice and the
        示例数据 label.
    notice : str, optional
        Notice written after the title, e.g. 内部资料 注意保密.
    synthetic : bool, default False
        The patches come from the synthetic sample: the title line says 示例数据（合成）.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    Row 1 holds the title (and notice), row 2 the headings, the patches follow in the order of the patch pages
    (:func:`~kmrv_geo.fieldcheck.pages.patch_order`: county, township, village, patch number). Headings and the patch
    number column stay in view (frozen), the headings carry a filter, the field team's columns (实际用途,
    核查结论, 照片编号, 核查人, 核查日期) are shaded and 核查结论 offers 合法/违法/待核实 in a list. Text is
    written as text: a value starting with ``=``, ``+``, ``-`` or ``@`` is never a formula.

    Examples
    --------
    >>> write_check_sheet("out/核查表.xlsx", judged, notice="内部资料 注意保密")  # doctest: +SKIP
    """
    import xlsxwriter

    lang = check_lang(lang)
    heads = HEADINGS[lang]
    judged = judged.reset_index(drop=True)
    table = sheet_table(judged.loc[patch_order(judged)], lang)  # the rows follow the pages' numbers
    columns = [*SHEET_COLUMNS, *FIELD_COLUMNS]
    path = Path(path)
    # text is always written as text (strings_to_*: off); a text starting like a formula gets the quote prefix
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    with xlsxwriter.Workbook(str(path), options) as book:
        sheet = book.add_worksheet(SHEET_NAME[lang])
        formats: dict[tuple, object] = {}

        def style(**properties):
            key = tuple(sorted(properties.items()))
            if key not in formats:
                formats[key] = book.add_format(properties)
            return formats[key]

        def text(value: str) -> tuple[str, dict]:
            value = clean_text(value)
            return value, {"quote_prefix": True} if value.startswith(FORMULA_START) else {}

        line, quote = text(" · ".join(dict.fromkeys(t for t in (text_of(title), TITLE[lang], text_of(notice),
                                                                SYNTHETIC[lang] if synthetic else "") if t)))
        title_style = style(bold=True, font_size=13, font_color="#B00000" if notice or synthetic else "#000000",
                            **quote)
        sheet.merge_range(0, 0, 0, len(columns) - 1, "", title_style)
        sheet.write_string(0, 0, line, title_style)  # the merged cell's text, written as text
        for j, column in enumerate(columns):
            heading, quote = text(heads[column])
            sheet.write_string(HEADER_ROW - 1, j, heading, style(
                bold=True, pattern=1, bg_color="#FFF2CC" if column in FIELD_COLUMNS else "#E7E6E6", valign="vcenter",
                text_wrap=True, **quote))

        first = HEADER_ROW + 1
        cell_styles = [{"num_format": NUMBER_FORMATS.get(column, "@"), "valign": "top",
                        **({"text_wrap": True} if column in WRAPPED else {})} for column in columns]
        for i, record in enumerate(table.itertuples(index=False), start=first - 1):
            for j, column in enumerate(columns):
                value = getattr(record, column)
                day = _iso_day(value) if column == "check_date" else None
                if day is not None:  # a check date read from a returned sheet: a date again, not text
                    sheet.write_datetime(i, j, day, style(**cell_styles[j]))
                elif isinstance(value, str) and value != "":
                    value, quote = text(value)
                    sheet.write_string(i, j, value, style(**cell_styles[j], **quote))
                elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
                        and np.isfinite(value):
                    sheet.write_number(i, j, float(value), style(**cell_styles[j]))
                else:  # empty (the field team's columns): a blank cell in the column's format
                    sheet.write_blank(i, j, None, style(**cell_styles[j]))
        last = max(first, HEADER_ROW + len(table))

        for j, column in enumerate(columns):
            if column in FIELD_WIDTHS:
                width = FIELD_WIDTHS[column]
            else:
                values = [heads[column], *(str(v) for v in table[column].head(500) if v is not None)]
                width = min(max(display_width(v) for v in values) + 2, WRAPPED.get(column, 40))
            sheet.set_column(j, j, max(width, display_width(heads[column]) + 2, 8))

        sheet.freeze_panes(first - 1, 1)  # B3: the headings and the patch number stay in view
        sheet.autofilter(HEADER_ROW - 1, 0, last - 1, len(columns) - 1)
        words = VERDICT_TEXT[lang]
        verdict_column = columns.index("field_verdict")
        sheet.data_validation(first - 1, verdict_column, last - 1, verdict_column, {
            "validate": "list", "source": [words[v] for v in VERDICTS], "ignore_blank": True,
            "error_type": "warning", "error_title": heads["field_verdict"],
            "error_message": "、".join(words[v] for v in VERDICTS) if lang == "zh"
            else ", ".join(words[v] for v in VERDICTS)})
        sheet.repeat_rows(HEADER_ROW - 1)
        sheet.set_landscape()
        sheet.set_paper(9)  # A4
        sheet.fit_to_pages(1, 0)
    return path
