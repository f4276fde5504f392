"""The fields of approval-like layers and monitoring patches, found once at load.

Bureaus keep every kind of permission in a layer of its own: 农用地转用/土地征收 approvals, 设施农用地备案
(facility filings), 临时用地 (temporary-use permits with an end date) and 土地整治/补充耕地 projects. Each
names the document it rests on (批准文号 / 备案编号 / 项目编号; config key ``ref:``); a temporary permit
also its end date (``end_date:``). Monitoring patches (监测图斑) carry a patch number (``JCBH``), the
before/after land class (``BGQDL``/``BGHDL``; the annual change survey's ``BGQDLBM``/``BGHDLBM``) and the
image dates (``QSX``/``HSX``).

:func:`resolve_fields` finds these fields (configured, else by their standard names), and
:func:`parse_dates` reads dates written in any of the ways bureaus write them, listing what it cannot read.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from .errors import LayerError

APPROVAL_ROLES = ("approvals", "facility_filings", "temporary_use", "supplement_projects")
"""Layers that permit a use, each citing its document number (in the order verdicts consult them)."""
STANDARD_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "approvals": {"ref": ("PZWH", "批准文号", "WH", "文号", "PFWH")},
    "facility_filings": {"ref": ("BAH", "BABH", "备案编号", "备案号", "PZWH", "批准文号")},
    "temporary_use": {"ref": ("PZWH", "批准文号", "WH", "文号"),
                      "end_date": ("JSRQ", "DQRQ", "ZZRQ", "结束日期", "到期日期", "终止日期")},
    "supplement_projects": {"ref": ("XMBH", "项目编号", "PZWH", "批准文号", "YSWH")},
    "patches": {"id": ("JCBH", "TBBH", "BGTBBH", "图斑编号", "监测编号", "patch_id"),
                "code": ("BGHDLBM", "BGHDL", "HSDLBM", "变化后地类编码"),
                "before_code": ("BGQDLBM", "BGQDL", "QSDLBM", "变化前地类编码"),
                "date": ("HSX", "HSXSJ", "后时相")},
}  # fmt: skip
"""Standard field names per role and config key, searched (case-insensitively) when the config names none."""
REQUIRED = {"approvals": ("ref",), "facility_filings": ("ref",), "temporary_use": ("ref", "end_date"),
            "supplement_projects": ("ref",)}
"""Fields a judging run cannot do without (a verdict must cite its document; a permit needs its end)."""

REF = "_ref"
END_DATE = "_end_date"
PATCH_NO = "_patch_no"
BEFORE_CODE = "_before_code"
IMAGE_DATE = "_image_date"
"""Normalised columns added at load (the source fields stay as they are)."""


def resolve_fields(role: str, columns, configured: dict[str, str | None]) -> dict[str, str]:
    """The fields of ``role`` to use: configured ones, else the first standard name present.

    Returns
    -------
    dict
        ``{config key: field name}`` for the keys found (configured fields are checked at load).
    """
    present = {str(c).upper(): str(c) for c in columns}
    out = {}
    for key, names in STANDARD_FIELDS.get(role, {}).items():
        if configured.get(key):
            out[key] = configured[key]
            continue
        found = next((present[n.upper()] for n in names if n.upper() in present), None)
        if found is not None:
            out[key] = found
    return out


def require_fields(role: str, found: dict[str, str], columns, *, source: str) -> None:
    """Stop when a judging run would lack a field it needs (document number, end date).

    Raises
    ------
    LayerError
        Naming the layer, the fields it has and the config key that names the right one.
    """
    missing = [key for key in REQUIRED.get(role, ()) if key not in found]
    if not missing:
        return
    names = {key: "/".join(STANDARD_FIELDS[role][key][:3]) for key in missing}
    there = ", ".join(str(c) for c in columns if c not in ("_fid", "geometry")) or "(none)"
    wanted = "; ".join(f"{key} (e.g. {names[key]})" for key in missing)
    raise LayerError(
        f"{source}, role {role}, has no field for {wanted}: every verdict must cite the document it rests on"
        + (" and a temporary permit needs its end date" if "end_date" in missing else "")
        + f". Its fields are: {there}. Name the field in the config, e.g. layers: {{{role}: {{path: ..., "
        + ", ".join(f"{key}: FIELD" for key in missing) + "}}")


_DATE_PATTERNS = (
    (re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T].*)?$"), (1, 2, 3)),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), (1, 2, 3)),
)


def _one_date(value) -> tuple[np.datetime64, bool]:
    """(date or NaT, unreadable?) of one cell; blanks are NaT and not unreadable."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return np.datetime64("NaT"), False
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date, np.datetime64)):
        stamp = pd.Timestamp(value)
        return (np.datetime64("NaT"), False) if pd.isna(stamp) else (np.datetime64(stamp.date(), "D"), False)
    if isinstance(value, (int, np.integer, float, np.floating)):
        value = str(int(value)) if float(value).is_integer() else str(value)
    text = str(value).strip().translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if not text:
        return np.datetime64("NaT"), False
    for pattern, (y, m, d) in _DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            try:
                return np.datetime64(dt.date(int(match[y]), int(match[m]), int(match[d])), "D"), False
            except ValueError:
                return np.datetime64("NaT"), True
    return np.datetime64("NaT"), True


def parse_dates(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Read dates written as dates, ``2023-05-01``, ``2023/5/1``, ``2023.5.1``, ``2023年5月1日`` or ``20230501``.

    Returns
    -------
    tuple of numpy.ndarray
        (``datetime64[D]`` per value, NaT where blank or unreadable; bool per value: not blank but
        unreadable, e.g. ``待定`` or ``2023-13-45``).
    """
    parsed = [_one_date(v) for v in values.astype("object")]
    dates = np.array([p[0] for p in parsed], dtype="datetime64[D]")
    bad = np.array([p[1] for p in parsed], dtype=bool)
    return dates, bad


def unreadable_dates(frame: pd.DataFrame, field: str, bad: np.ndarray, *, role: str, id_field: str | None = None
                     ) -> pd.DataFrame:
    """The features whose date in ``field`` cannot be read: role, feature id, field, value."""
    rows = frame[bad]
    ids = rows[id_field] if id_field and id_field in rows else rows.get("_fid", pd.Series(rows.index))
    return pd.DataFrame({"role": role, "fid": ids.astype(str).to_numpy(), "field": field,
                         "value": rows[field].astype(str).to_numpy()})


def ref_text(values: pd.Series) -> np.ndarray:
    """Document numbers as trimmed text ('' for blanks; 12.0 → '12')."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v).strip()

    return np.array([one(v) for v in values.astype("object")], dtype=object)
