"""Stable keys and codes: joins use keys (village code or row), never display names; codes are text.

Two villages may share a name (in different townships, or by mistake in one register); a sum keyed by
name would give each the other's figures. Codes read from a file may arrive as numbers (``530111.0``).
Both are normalised here, once, for every analysis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

VILLAGE_KEY = "village_key"
"""Column holding a village's key: its code (config ``code:``, else a ``CUNDM`` field), else ``#row``."""
VILLAGE_CODE_FIELDS = ("CUNDM", "code")
"""Village code fields looked for when the config names none."""


def code_text(values) -> np.ndarray:
    """Codes as text: integral numbers without ``.0`` (530111.0 → ``530111``), text stripped, missing → ``""``.

    Parameters
    ----------
    values : array-like
        A code column as read (numbers, text or a mix).

    Returns
    -------
    numpy.ndarray of str
    """
    def one(value) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            return ""
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            return str(int(value))
        if isinstance(value, (float, np.floating)):
            return str(int(value)) if float(value).is_integer() else repr(float(value))
        text = str(value).strip()
        if text.endswith(".0") and text[:-2].isdigit():
            return text[:-2]
        return text

    return np.array([one(v) for v in pd.Series(values, dtype=object)], dtype=object)


def village_keys(layer: pd.DataFrame, fields: dict[str, str] | None) -> tuple[np.ndarray, list[str]]:
    """One unique key per village row: its code where the codes are usable, else ``#row`` (1-based).

    Parameters
    ----------
    layer : DataFrame
        The villages layer, in its own row order.
    fields : dict
        Config field mapping (``code``, ``name``).

    Returns
    -------
    keys : numpy.ndarray of str
    warnings : list of str
        Duplicate or blank codes (those rows are keyed by row), duplicate names (told apart by key).
    """
    fields = fields or {}
    rows = np.array([f"#{i + 1}" for i in range(len(layer))], dtype=object)
    warnings: list[str] = []
    code_field = fields.get("code") or next((f for f in VILLAGE_CODE_FIELDS if f in layer.columns), None)
    keys = rows.copy()
    if code_field and code_field in layer.columns:
        codes = code_text(layer[code_field])
        counts = pd.Series(codes).value_counts()
        usable = (codes != "") & (pd.Series(codes).map(counts).to_numpy() == 1)
        keys[usable] = codes[usable]
        if (~usable).any():
            bad = pd.Series(codes[~usable]).replace("", "(blank)").value_counts()
            warnings.append(f"villages: {int((~usable).sum())} villages have a blank or duplicate {code_field} "
                            f"({', '.join(f'{v} ×{c}' for v, c in bad.head(5).items())}); they are keyed by row")
    name_field = fields.get("name")
    if name_field and name_field in layer.columns:
        names = layer[name_field].astype("string").fillna("").str.strip()
        dup = names.value_counts()
        dup = dup[dup > 1]
        if len(dup):
            warnings.append("villages: duplicate names, kept apart by their key (" + ", ".join(
                f"{v} ×{c}: " + "/".join(keys[(names == v).to_numpy()]) for v, c in dup.head(5).items()) + ")")
    return keys, warnings
