"""Land-use codes (GB/T 21010-2017, as used by 三调 and the annual change surveys).

One place knows which codes are farmland, other agricultural land, construction land or other land;
every analysis asks :class:`LanduseClasses`. The lists follow ``shared/DOMAIN.md`` and can be replaced
in the project config (``landuse_classes:``), e.g. when a province changes what counts as what.

Codes arrive dirty: numbers that lost their leading zero (101), names instead of codes (水田), level-1
codes only (01), blanks. :func:`normalise_codes` turns what it safely can into 4-character codes and
reports the rest; nothing unknown is ever classed as farmland.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

FARMLAND = "farmland"
OTHER_AGRICULTURAL = "other_agricultural"
CONSTRUCTION = "construction"
OTHER = "other"
UNKNOWN = "unknown"
CATEGORIES = (FARMLAND, OTHER_AGRICULTURAL, CONSTRUCTION, OTHER, UNKNOWN)
"""Land-use categories, in report order."""

FACILITY_CODES = ("1202",)
"""设施农用地 (facility agriculture land): other agricultural land with the construction land's minimum mapped
size (200 m², 三调 minimum mapping units)."""

CATEGORY_LABELS = {
    "zh": {
        FARMLAND: "耕地",
        OTHER_AGRICULTURAL: "其他农用地",
        CONSTRUCTION: "建设用地",
        OTHER: "其他土地",
        UNKNOWN: "未知地类",
    },
    "en": {
        FARMLAND: "farmland",
        OTHER_AGRICULTURAL: "other agricultural land",
        CONSTRUCTION: "construction land",
        OTHER: "other land",
        UNKNOWN: "unknown code",
    },
}

CODE_NAMES: dict[str, str] = {
    "0101": "水田", "0102": "水浇地", "0103": "旱地",
    "0201": "果园", "0202": "茶园", "0203": "橡胶园", "0204": "其他园地",
    "0301": "乔木林地", "0302": "竹林地", "0303": "红树林地", "0304": "森林沼泽", "0305": "灌木林地",
    "0306": "灌丛沼泽", "0307": "其他林地",
    "0401": "天然牧草地", "0402": "沼泽草地", "0403": "人工牧草地", "0404": "其他草地",
    "0501": "零售商业用地", "0502": "批发市场用地", "0503": "餐饮用地", "0504": "旅馆用地", "0505": "商务金融用地",
    "0506": "娱乐用地", "0507": "其他商服用地",
    "0601": "工业用地", "0602": "采矿用地", "0603": "盐田", "0604": "仓储用地",
    "0701": "城镇住宅用地", "0702": "农村宅基地",
    "0801": "机关团体用地", "0802": "新闻出版用地", "0803": "教育用地", "0804": "科研用地", "0805": "医疗卫生用地",
    "0806": "社会福利用地", "0807": "文化设施用地", "0808": "体育用地", "0809": "公用设施用地", "0810": "公园与绿地",
    "0901": "军事设施用地", "0902": "使领馆用地", "0903": "监教场所用地", "0904": "宗教用地", "0905": "殡葬用地",
    "0906": "风景名胜设施用地",
    "1001": "铁路用地", "1002": "轨道交通用地", "1003": "公路用地", "1004": "城镇村道路用地",
    "1005": "交通服务场站用地", "1006": "农村道路", "1007": "机场用地", "1008": "港口码头用地", "1009": "管道运输用地",
    "1101": "河流水面", "1102": "湖泊水面", "1103": "水库水面", "1104": "坑塘水面", "1105": "沿海滩涂",
    "1106": "内陆滩涂", "1107": "沟渠", "1108": "沼泽地", "1109": "水工建筑用地", "1110": "冰川及永久积雪",
    "1201": "空闲地", "1202": "设施农用地", "1203": "田坎", "1204": "盐碱地", "1205": "沙地", "1206": "裸土地",
    "1207": "裸岩石砾地",
    "201": "城市", "202": "建制镇", "203": "村庄", "204": "采矿用地", "205": "风景名胜及特殊用地",
}  # fmt: skip
"""Level-2 code → Chinese name (GB/T 21010-2017 and the 三调 work classification)."""

LEVEL1_NAMES = {
    "01": "耕地", "02": "园地", "03": "林地", "04": "草地", "05": "商服用地", "06": "工矿仓储用地",
    "07": "住宅用地", "08": "公共管理与公共服务用地", "09": "特殊用地", "10": "交通运输用地",
    "11": "水域及水利设施用地", "12": "其他土地",
}  # fmt: skip

_NAME_TO_CODE = {name: code for code, name in CODE_NAMES.items() if len(code) == 4}
_NAME_TO_CODE.update({"耕地": "01", "园地": "02", "林地": "03"})


@dataclass(frozen=True)
class LanduseClasses:
    """Which land-use codes belong to which category.

    Each list holds code patterns: an exact code (``"0101"``) or a prefix followed by ``*`` (``"05*"``).
    A code is put in the first category, in the order construction, farmland, other agricultural, other,
    whose ``exclude`` list does not hold it and whose patterns match it; anything unmatched is
    ``unknown``.

    Attributes
    ----------
    farmland, other_agricultural, construction, other : tuple of str
        Code patterns per category (defaults: ``shared/DOMAIN.md``).
    """

    farmland: tuple[str, ...] = ("0101", "0102", "0103", "01")
    other_agricultural: tuple[str, ...] = (
        "02", "02*", "03", "03*", "0401", "0403", "1006", "1103", "1104", "1107", "1202", "1203",
    )  # fmt: skip
    construction: tuple[str, ...] = (
        "05", "05*", "06", "06*", "07", "07*", "08", "08*", "09", "09*", "1001", "1002", "1003", "1004", "1005", "1007",
        "1008", "1009", "1109", "1201", "201", "202", "203", "204", "205",
    )  # fmt: skip
    other: tuple[str, ...] = (
        "0402", "0404", "1101", "1102", "1105", "1106", "1108", "1110", "1204", "1205", "1206", "1207",
    )  # fmt: skip
    _order: tuple[str, ...] = field(default=(CONSTRUCTION, FARMLAND, OTHER_AGRICULTURAL, OTHER), repr=False)

    def patterns(self, category: str) -> tuple[str, ...]:
        """The code patterns of one category."""
        return getattr(self, category)

    def category_of(self, code: str | None) -> str:
        """Category of one normalised code (``unknown`` for None or unmatched codes)."""
        if code is None or (isinstance(code, float) and np.isnan(code)):
            return UNKNOWN
        exact = {}
        for category in self._order:
            for pattern in self.patterns(category):
                if pattern.endswith("*"):
                    if code.startswith(pattern[:-1]) and len(code) > len(pattern) - 1:
                        return category
                else:
                    exact.setdefault(pattern, category)
                    if code == pattern:
                        return category
        return UNKNOWN

    def classify(self, codes: pd.Series) -> pd.Series:
        """Category of each normalised code, vectorised over the distinct values.

        Parameters
        ----------
        codes : pandas.Series
            Normalised codes (see :func:`normalise_codes`); missing values allowed.

        Returns
        -------
        pandas.Series
            One of :data:`CATEGORIES` per row, same index.
        """
        position, distinct = pd.factorize(codes)  # (missing values: −1), no Python object per row
        categories = np.array([self.category_of(code) for code in distinct] + [UNKNOWN], dtype=object)
        return pd.Series(categories[position], index=codes.index, dtype="object")

    def codes_in(self, category: str, codes) -> list[str]:
        """The distinct codes from ``codes`` that belong to ``category`` (sorted)."""
        return sorted({c for c in codes if c is not None and self.category_of(c) == category})


DEFAULT_CLASSES = LanduseClasses()


@dataclass
class CodeNormalisation:
    """Result of :func:`normalise_codes`.

    Attributes
    ----------
    codes : pandas.Series
        Normalised codes (str) or None where nothing usable was given.
    fixes : pandas.DataFrame
        One row per distinct raw value that was changed: ``raw``, ``code``, ``reason``, ``count``.
    blanks : int
        Rows whose raw value was missing or blank.
    level1_only : pandas.DataFrame
        Distinct level-1-only codes (e.g. ``01``) with counts: classed by level 1 where that is
        unambiguous, but reported.
    unknown : pandas.DataFrame
        Distinct values that match no category, with counts (``value``, ``count``).
    """

    codes: pd.Series
    fixes: pd.DataFrame
    blanks: int
    level1_only: pd.DataFrame
    unknown: pd.DataFrame


_CODE_RE = re.compile(r"^(\d{2,4})([A-Z]\d?[A-Z]?)?$")


def _normalise_one(raw, numeric_field: bool) -> tuple[str | None, str | None]:
    """Normalise one raw value; returns (code, reason for change or None)."""
    if _is_missing(raw):
        return None, "blank"
    if isinstance(raw, (int, np.integer)) or (isinstance(raw, (float, np.floating)) and float(raw).is_integer()):
        text = str(int(raw))
        numeric_field = True
    else:
        text = str(raw)
    cleaned = text.strip().translate(str.maketrans("０１２３４５６７８９", "0123456789")).upper()
    if cleaned.endswith(".0") and cleaned[:-2].isdigit():
        cleaned = cleaned[:-2]
    if cleaned == "":
        return None, "blank"
    if cleaned in _NAME_TO_CODE:
        return _NAME_TO_CODE[cleaned], "name instead of code"
    match = _CODE_RE.match(cleaned)
    if not match:
        # "0101 水田" or "0101水田": a code followed by its name
        lead = re.match(r"^(\d{4})\s*\D", cleaned)
        if lead and cleaned[len(lead.group(1)) :].strip() in _NAME_TO_CODE:
            return lead.group(1), "code with name"
        return cleaned, None
    digits, suffix = match.group(1), match.group(2) or ""
    if len(digits) == 2 and suffix:
        return cleaned, None  # 三调 letter codes such as 08H2 (科教文卫用地) are complete codes
    if len(digits) == 3 and not (digits in ("201", "202", "203", "204", "205") and not numeric_field):
        digits = "0" + digits
        reason = "leading zero restored"
    elif len(digits) == 1:
        digits = "0" + digits
        reason = "leading zero restored"
    else:
        reason = None
    if suffix and len(digits) == 4:
        # 三调 suffixes such as K (可调整地类) do not change the class
        reason = reason or f"suffix {suffix} dropped for classification"
    code = digits
    if code != text.strip() and reason is None:
        reason = "whitespace or full-width digits"
    return code, reason


def normalise_codes(values: pd.Series, classes: LanduseClasses = DEFAULT_CLASSES) -> CodeNormalisation:
    """Turn raw land-use codes into normalised 4-character codes and report what was dirty.

    Parameters
    ----------
    values : pandas.Series
        Raw values of the code field (strings or numbers).
    classes : LanduseClasses
        Which codes are known; anything no category matches is reported as unknown.

    Returns
    -------
    CodeNormalisation
        Normalised codes and the reports of fixes, blanks, level-1-only and unknown values.
    """
    numeric_field = pd.api.types.is_numeric_dtype(values.dtype)
    distinct = pd.unique(values.astype("object"))
    counts = values.astype("object").value_counts(dropna=False)
    mapping: dict = {}
    fixes, level1, unknown = [], [], []
    blanks = 0
    if values.isna().any():  # None, NaN and pd.NA alike: counted once
        blanks += int(values.isna().sum())
    for raw in distinct:
        if _is_missing(raw):
            continue
        code, reason = _normalise_one(raw, numeric_field)
        key_count = int(counts.get(raw, 0))
        mapping[raw] = code
        if code is None:
            blanks += key_count
            continue
        if reason is not None:
            fixes.append({"raw": str(raw), "code": code, "reason": reason, "count": key_count})
        if len(code) == 2 and code != "09":  # 09 特殊用地 is a complete 三调 code
            level1.append({"value": code, "count": key_count})
        if classes.category_of(code) == UNKNOWN:
            unknown.append({"value": str(raw), "count": key_count})
    # each row takes its distinct value's code (a million parcels share a few hundred values)
    position, factorised = pd.factorize(values.astype("object"))  # −1: missing
    normal = np.array([*(mapping.get(v) for v in factorised), None], dtype=object)
    codes = pd.Series(normal[position], index=values.index, name=values.name, dtype=object)

    def frame(rows, columns):
        return pd.DataFrame(rows, columns=columns).sort_values(columns[0], ignore_index=True)

    return CodeNormalisation(
        codes=codes,
        fixes=frame(fixes, ["raw", "code", "reason", "count"]),
        blanks=blanks,
        level1_only=frame(level1, ["value", "count"]),
        unknown=frame(unknown, ["value", "count"]),
    )


def _is_missing(value) -> bool:
    """None, NaN and pandas' NA (a nullable string column's missing value)."""
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def code_name(code: str | None) -> str:
    """Chinese name of a code (level 2, else level 1), or '' when unknown."""
    if code is None:
        return ""
    return CODE_NAMES.get(code[:4], CODE_NAMES.get(code, LEVEL1_NAMES.get(code[:2], "") if len(code) == 2 else ""))
