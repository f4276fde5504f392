"""The fields of village-plan layers, normalised once at load.

- ``village_plan``: the 用地用海 code (``code:``, e.g. ``YDYHDM``) as text with its leading zero (``703`` → ``0703``),
  in ``_plan_code``;
- ``lake_zones``: the protection level (``level:``: 一级/二级/三级, 一级保护区, 1/2/3, I/II/III) as 1, 2, 3 in
  ``_level``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .errors import LayerError

PLAN_CODE = "_plan_code"
LEVEL = "_level"
LEVEL_NAMES = {1: "一级", 2: "二级", 3: "三级"}
"""The Dianchi protection levels in words (一级保护区 …)."""
_LEVEL_WORDS = {"一": 1, "二": 2, "三": 3, "1": 1, "2": 2, "3": 3, "I": 1, "II": 2, "III": 3, "Ⅰ": 1, "Ⅱ": 2, "Ⅲ": 3}


def _plan_code(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating)) and float(value).is_integer()):
        text = str(int(value))
    else:
        text = str(value).strip().translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if text.isdigit() and len(text) % 2 == 1 and len(text) < 7:  # a number lost its leading zero: 703 → 0703
        text = "0" + text
    return text


def plan_codes(values: pd.Series, *, source: str = "village_plan", field: str = "code") -> np.ndarray:
    """用地用海 codes as text: trimmed, full-width digits made plain, a lost leading zero restored ('' for blanks).

    Names are not turned into codes (a 用地用海 name is no GB/T 21010 name).

    Raises
    ------
    LayerError
        When most values are no codes (2–6 digits, e.g. ``0703``): the field holds names or something else.
    """
    codes = np.array([_plan_code(v) for v in values.astype("object")], dtype=object)
    given = codes[codes != ""]
    not_codes = pd.Series([c for c in given if not re.fullmatch(r"\d{2,6}", c)])
    if len(given) == 0 or len(not_codes) > len(given) / 2:
        shown = ", ".join(f"{v!r} ×{n}" for v, n in not_codes.value_counts().head(5).items()) or "(all blank)"
        raise LayerError(f"{source} (village_plan): the code field {field} holds no 用地用海 codes ({shown}); name the "
                         "field holding the codes, e.g. layers: {village_plan: {path: ..., code: YDYHDM}} — codes are "
                         "2–6 digits such as 0703 (农村宅基地)")
    return codes


def _level_of(value) -> int | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating)) and float(value).is_integer()):
        return int(value) if int(value) in (1, 2, 3) else None
    text = str(value).strip().translate(str.maketrans("０１２３", "0123")).upper()
    match = re.match(r"^(III|II|I|Ⅲ|Ⅱ|Ⅰ|[一二三123])(?:级|类|号)?(?:保护区|保护范围|区)?$", text)
    return _LEVEL_WORDS[match.group(1)] if match else None


def zone_levels(values: pd.Series, *, source: str, field: str) -> np.ndarray:
    """Protection levels 1, 2, 3 of lake zones.

    Raises
    ------
    LayerError
        Naming the values that are no level (with their counts) and the ones accepted.
    """
    levels = [_level_of(v) for v in values.astype("object")]
    bad = pd.Series([str(v) for v, lv in zip(values, levels, strict=True) if lv is None])
    if len(bad):
        listing = ", ".join(f"{v!r} ×{n}" for v, n in bad.value_counts().head(10).items())
        raise LayerError(f"{source} (lake_zones): the level field {field} holds values that are no protection level: "
                         f"{listing}; write 一级, 二级 or 三级 (or 1, 2, 3) for the 滇池 一级/二级/三级保护区")
    return np.asarray(levels, dtype=int)
