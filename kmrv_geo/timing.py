"""Wall-clock time of each part of a run, for the manifest and the summary (what a run of a city costs)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

PART_LABELS = {
    "zh": {"load": "读取检查", "violations": "非农化/非粮化", "landcover": "遥感变化", "coverage": "高标准农田覆盖",
           "sites": "连片耕地", "abandonment": "撂荒", "judge": "卫片图斑判定", "villages": "村庄",
           "results": "写出结果", "fieldcheck": "核查包", "village_pages": "村庄页面", "maps": "地图",
           "run_page": "汇总页"},
    "en": {"load": "read and check", "results": "write results", "fieldcheck": "field-check package",
           "village_pages": "village pages", "run_page": "run page"},
}
"""How each part is named in the summary line (an analysis step's own name where none is given)."""


class Stopwatch:
    """Seconds spent in each named part, in the order the parts first ran.

    Examples
    --------
    >>> watch = Stopwatch()
    >>> with watch.part("load"):
    ...     pass
    >>> list(watch.seconds)
    ['load']
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Time the block and add it to ``name`` (a part that runs twice counts both times)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def rounded(self) -> dict[str, float]:
        """Seconds per part to 0.01 s, and ``total``."""
        out = {name: round(s, 2) for name, s in self.seconds.items()}
        out["total"] = round(sum(self.seconds.values()), 2)
        return out

    def summary_line(self, lang: str = "zh") -> str:
        """One line for the run's summary: seconds per part and in all."""
        labels = PART_LABELS.get(lang, {})
        parts = [f"{labels.get(name, name)} {s:.1f}" for name, s in self.seconds.items()]
        total = sum(self.seconds.values())
        if lang == "zh":
            return "用时（秒）：" + "，".join(parts) + f"；合计 {total:.1f}"
        return "time (s): " + ", ".join(parts) + f"; total {total:.1f}"
