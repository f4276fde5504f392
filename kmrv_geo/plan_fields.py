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

from . import landuse
from .errors import LayerError

PLAN_CODE = "_plan_code"
LEVEL = "_level"
_LEVEL_WORDS = {"一": 1, "二": 2, "三": 3, "1": 1, "2": 2, "3": 3, "I": 1, "II": 2, "III": 3, "Ⅰ": 1, "Ⅱ": 2, "Ⅲ": 3}


def plan_codes(values: pd.Series) -> np.ndarray:
    """用地用海 codes as text: trimmed, full-width digits made plain, a lost leading zero restored ('' for blanks)."""
    return landuse.normalise_codes(values).codes.fillna("").to_numpy(dtype=object)


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
