"""Words the field-check outputs share: verdict names and colours, sheet headings, values of a judged row.

One place knows them, so the KML, the check sheet, the pages and the reader of the filled sheet call a
column and a verdict the same.
"""

from __future__ import annotations

from ..text import text_of

VERDICTS = ("illegal", "to_check", "legal")
"""Verdict codes in the order of urgency (the order of legends and of the index page)."""
VERDICT_TEXT = {
    "zh": {"illegal": "违法", "to_check": "待核实", "legal": "合法"},
    "en": {"illegal": "illegal", "to_check": "to check", "legal": "legal"},
}
VERDICT_COLOURS = {"illegal": "#d7191c", "to_check": "#fd8d3c", "legal": "#1a9641"}
"""违法 red, 待核实 orange, 合法 green (as web colours)."""
OTHER_COLOUR = "#969696"
SYNTHETIC = {"zh": "示例数据（合成）", "en": "Synthetic sample data (示例数据)"}

SHEET_COLUMNS = ("patch_id", "county_name", "township", "village", "lon", "lat", "area_mu", "verdict_text",
                 "reason_text", "refs", "t0_classes", "after_use")
"""Columns of the check sheet filled from the judged patches, in sheet order."""
FIELD_COLUMNS = ("field_use", "field_verdict", "photo_ids", "checker", "check_date")
"""Columns of the check sheet left empty for the field team, in sheet order."""

HEADINGS = {
    "zh": {"patch_id": "图斑编号", "county_name": "区县", "township": "乡镇", "village": "村", "lon": "经度",
           "lat": "纬度", "area_mu": "面积(亩)", "verdict_text": "预判结论", "reason_text": "预判依据",
           "refs": "批准文号", "t0_classes": "前时相地类", "after_use": "现状地类", "field_use": "实际用途",
           "field_verdict": "核查结论", "photo_ids": "照片编号", "checker": "核查人", "check_date": "核查日期"},
    "en": {"patch_id": "patch id", "county_name": "county", "township": "township", "village": "village",
           "lon": "longitude", "lat": "latitude", "area_mu": "area (mu)", "verdict_text": "preliminary verdict",
           "reason_text": "grounds", "refs": "approval refs", "t0_classes": "use before (T0)",
           "after_use": "current use", "field_use": "actual use", "field_verdict": "field verdict",
           "photo_ids": "photo ids", "checker": "checked by", "check_date": "check date"},
}  # fmt: skip

REF_COLUMNS = ("approval_refs", "facility_refs", "temporary_refs", "supplement_refs")



def verdict_words(row, lang: str) -> str:
    """The verdict of a judged row in words of ``lang`` (``verdict_text`` as written, in Chinese)."""
    verdict = text_of(row.get("verdict"))
    if lang == "zh" and text_of(row.get("verdict_text")):
        return text_of(row.get("verdict_text"))
    return VERDICT_TEXT[lang].get(verdict, verdict)


def prefilled_words(row, lang: str) -> str:
    """The machine's (prefilled) verdict in words: ``machine_verdict`` once field results were taken, else
    the verdict.
    """
    machine = text_of(row.get("machine_verdict"))
    return VERDICT_TEXT[lang].get(machine, machine) if machine else verdict_words(row, lang)


def field_entries(row, lang: str) -> dict[str, str]:
    """What the field team entered for a patch (empty strings before any field results were taken)."""
    verdict = text_of(row.get("field_verdict"))
    return {"field_use": text_of(row.get("field_use")), "field_verdict": VERDICT_TEXT[lang].get(verdict, verdict),
            "photo_ids": text_of(row.get("photo_ids")), "checker": text_of(row.get("checker")),
            "check_date": text_of(row.get("check_date"))}


def all_refs(row) -> str:
    """Every reference of a judged row (approvals, facility filings, temporary use, supplement projects),
    each once, joined by ``；``.
    """
    refs: list[str] = []
    for column in REF_COLUMNS:
        for ref in text_of(row.get(column)).replace(";", "；").split("；"):
            if ref.strip() and ref.strip() not in refs:
                refs.append(ref.strip())
    return "；".join(refs)


def after_use(row) -> str:
    """Current use of a judged row: code and name (``0702 农村宅基地``)."""
    return " ".join(p for p in (text_of(row.get("after_code")), text_of(row.get("after_name"))) if p)


def check_lang(lang: str) -> str:
    """``lang`` if it is ``"zh"`` or ``"en"``; a ValueError naming both otherwise."""
    if lang not in VERDICT_TEXT:
        raise ValueError(f"lang must be 'zh' or 'en', got {lang!r}")
    return lang
