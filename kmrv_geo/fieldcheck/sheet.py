"""The check sheet (核查表.xlsx): one row per judged patch, with empty columns the field team fills in.

:func:`write_check_sheet` writes it; :func:`~kmrv_geo.fieldcheck.results.read_field_results` reads it back
once filled (in Excel or WPS, or on paper and typed in).
"""

from __future__ import annotations

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


def _put(cell, value) -> None:
    """Write ``value``; text stays text (never a formula), control characters removed."""
    if isinstance(value, str):
        value = clean_text(value)
        cell.value = value
        cell.data_type = "s"  # openpyxl would store a text starting with "=" as a formula
        if value.startswith(FORMULA_START):
            cell.quotePrefix = True  # Excel/WPS keep it text when the cell is edited
    else:
        cell.value = value


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
        First line of the sheet (default 卫片执法图斑外业核查表).
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
    Row 1 holds the title (and notice), row 2 the headings, the patches follow. Headings and the patch
    number column stay in view (frozen), the headings carry a filter, the field team's columns (实际用途,
    核查结论, 照片编号, 核查人, 核查日期) are shaded and 核查结论 offers 合法/违法/待核实 in a list. Text is
    written as text: a value starting with ``=``, ``+``, ``-`` or ``@`` is never a formula.

    Examples
    --------
    >>> write_check_sheet("out/核查表.xlsx", judged, notice="内部资料 注意保密")  # doctest: +SKIP
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    lang = check_lang(lang)
    heads = HEADINGS[lang]
    table = sheet_table(judged, lang)
    columns = [*SHEET_COLUMNS, *FIELD_COLUMNS]
    letters = {c: get_column_letter(i + 1) for i, c in enumerate(columns)}
    book = Workbook()
    sheet = book.active
    sheet.title = SHEET_NAME[lang]

    line = " · ".join(t for t in (text_of(title) or TITLE[lang], text_of(notice),
                                  SYNTHETIC[lang] if synthetic else "") if t)
    _put(sheet.cell(1, 1), line)
    sheet.cell(1, 1).font = Font(bold=True, size=13, color="B00000" if notice or synthetic else "000000")
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(columns))

    data_fill, field_fill = PatternFill("solid", fgColor="E7E6E6"), PatternFill("solid", fgColor="FFF2CC")
    for j, column in enumerate(columns, start=1):
        cell = sheet.cell(HEADER_ROW, j)
        _put(cell, heads[column])
        cell.font = Font(bold=True)
        cell.fill = field_fill if column in FIELD_COLUMNS else data_fill
        cell.alignment = Alignment(vertical="center", wrap_text=True)

    first = HEADER_ROW + 1
    for i, record in enumerate(table.itertuples(index=False), start=first):
        for j, column in enumerate(columns, start=1):
            cell = sheet.cell(i, j)
            value = getattr(record, column)
            _put(cell, value if value != "" else None)
            cell.number_format = NUMBER_FORMATS.get(column, "@")
            if column in WRAPPED:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
            else:
                cell.alignment = Alignment(vertical="top")
    last = max(first, HEADER_ROW + len(table))

    for column in columns:
        letter = letters[column]
        if column in FIELD_WIDTHS:
            width = FIELD_WIDTHS[column]
        else:
            values = [heads[column], *(str(v) for v in table[column].head(500) if v is not None)]
            width = min(max(display_width(v) for v in values) + 2, WRAPPED.get(column, 40))
        sheet.column_dimensions[letter].width = max(width, display_width(heads[column]) + 2, 8)

    sheet.freeze_panes = f"B{first}"
    sheet.auto_filter.ref = f"A{HEADER_ROW}:{letters[columns[-1]]}{last}"
    words = VERDICT_TEXT[lang]
    validation = DataValidation(type="list", formula1='"' + ",".join(words[v] for v in VERDICTS) + '"',
                                allow_blank=True, showErrorMessage=True, errorStyle="warning",
                                errorTitle=heads["field_verdict"],
                                error="、".join(words[v] for v in VERDICTS) if lang == "zh"
                                else ", ".join(words[v] for v in VERDICTS))
    validation.add(f"{letters['field_verdict']}{first}:{letters['field_verdict']}{last}")
    sheet.add_data_validation(validation)
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True

    path = Path(path)
    book.save(path)
    return path
