"""``index.html`` of an output folder: the run's headline figures, charts, county table, files and inputs.

One offline, self-contained page for the land officials (Chinese; English with ``lang="en"``): the project,
data dates, notice and 示例数据 label; the headline figures (illegal 亩 and its part on PBF, 非粮化 on PBF, the
two balances 达标/未达标 per county, HSF coverage of PBF against the goal of 100 %, abandoned 亩, judged
monitoring patches by verdict, village plan review findings) as figures and as charts; a county table that
sorts by any heading; relative links to every map, page, table, ``report.xlsx`` and ``results.gpkg``; the
run's inputs (sha256), versions and warnings.

Charts are Vega-Lite specs (altair) rendered to static SVG by vl-convert and inlined: no chart library and
no request at view time (vl-convert is refused any data URL, the SVG is checked to hold no script, link or
foreign element). Every text from the data is HTML-escaped; the page prints on A4 with the charts scaled
to the page width. :func:`run_page_html` is pure (data in, HTML out); :func:`run_page_data` gathers the
data of a pipeline run, :func:`write_run_page` writes the page into a folder.
"""

from __future__ import annotations

import logging
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from urllib.parse import quote

import altair as alt
import numpy as np
import pandas as pd
import vl_convert as vlc

from ..errors import MapError
from ..fieldcheck.labels import SYNTHETIC, VERDICT_COLOURS, VERDICT_TEXT, VERDICTS
from ..report import headings
from ..text import escape_html as esc
from ..text import text_of

__all__ = ["INDEX", "RunPageData", "output_files", "run_page_data", "run_page_html", "write_run_page"]

logger = logging.getLogger(__name__)

INDEX = "index.html"
"""Name of the page in the output folder."""
TABLE_NAMES = ("violations_by_county", "balances_by_county", "coverage_by_county", "abandoned_by_county",
               "judged_by_county", "village_review")
"""Tables the page reads (:attr:`RunPageData.tables`); any may be missing."""
FONT = '"Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif'
PASS_COLOURS = {True: "#1a9641", False: "#d7191c"}
MEASURE_COLOURS = ("#d7191c", "#fdae61", "#2c7bb6", "#7b3294")
BALANCE_OF = {"occupation_pass": "occupation_balance_mu", "in_out_pass": "in_out_balance_mu"}
"""The balance (亩) each pass flag judges."""
CHART_WIDTH = 440
"""Width of a chart's plot area in px (the SVG adds its labels; it scales down to the page)."""

TEXT = {
    "zh": {
        "title": "耕地变化核查成果", "dates": "数据时相", "area": "面积口径", "figures": "主要数字", "unit": "亩",
        "illegal": "违法占用耕地", "illegal_pbf": "其中占永久基本农田", "nongrain_pbf": "永久基本农田非粮化",
        "nonagri": "耕地转为建设用地（非农化）", "not_judged": "无批准范围数据，未判定合法/违法",
        "some_not_judged": "{n} 个区县未判定，未计入", "occupation": "占补平衡", "in_out": "进出平衡",
        "counties_pass": "达标 {p} 个区县，未达标 {f} 个区县", "pass": "达标", "fail": "未达标",
        "failing": "未达标：{names}", "coverage": "永久基本农田建成高标准农田",
        "goal": "目标：永久基本农田全部建成高标准农田（100%）", "gap": "尚未建成 {gap} 亩",
        "covered": "已建成 {hsf} 亩 / 永久基本农田 {pbf} 亩", "abandoned": "疑似撂荒耕地",
        "abandoned_pbf": "其中永久基本农田 {v} 亩", "judged": "卫片图斑判定", "patches": "图斑 {n} 个",
        "judged_illegal_mu": "违法面积 {v} 亩", "review": "村庄规划审查",
        "review_line": "{v} 个村有发现，共 {n} 项", "review_overlap": "各项发现可能重叠，面积不相加",
        "finding": "审查发现", "finding_villages": "涉及村数", "finding_count": "发现数",
        "finding_mu": "面积(亩)", "charts": "图表", "chart_violations": "违法占用与非粮化（按区县）",
        "chart_nonagri": "非农化与非粮化（按区县，未判定合法/违法）", "chart_balances": "两个平衡（按区县）",
        "chart_coverage": "永久基本农田高标准农田覆盖率（按区县，目标 100%）", "goal_label": "目标 100%",
        "chart_abandoned": "疑似撂荒（按区县）", "chart_judged": "卫片图斑判定结果（按区县，图斑数）",
        "chart_review": "村庄规划审查发现（发现数）", "share": "覆盖率", "count": "图斑数",
        "counties": "区县一览", "sort": "点击表头排序", "total": "合计", "files": "成果文件",
        "group_results": "汇总与图层", "group_maps": "地图", "group_pages": "页面与外业核查",
        "group_tables": "表格（CSV）", "group_other": "其他文件", "more_pages": "另有 {n} 个页面，从目录进入",
        "no_files": "无", "run": "运行信息", "inputs": "输入数据", "path": "路径", "versions": "软件版本",
        "package": "软件包", "version": "版本", "warnings": "提示与警告", "no_warnings": "无",
        "not_run": "本次运行未包含：{names}", "generated": "由 kmrv-geo 生成；离线页面，可在浏览器中打印为 PDF。",
        "none": "—", "sep": "、",
    },
    "en": {
        "title": "Farmland change findings", "dates": "data dates", "area": "areas", "figures": "Headline figures",
        "unit": "mu", "illegal": "Illegal conversion of farmland", "illegal_pbf": "of it on PBF",
        "nongrain_pbf": "Non-grain use of PBF", "nonagri": "Farmland to construction",
        "not_judged": "no approvals data: not judged legal/illegal",
        "some_not_judged": "{n} counties not judged, left out", "occupation": "Occupation balance",
        "in_out": "In/out balance", "counties_pass": "{p} counties pass, {f} fail", "pass": "pass",
        "fail": "fail", "failing": "failing: {names}", "coverage": "PBF built as HSF",
        "goal": "goal: all PBF built as HSF (100%)", "gap": "{gap} mu not yet built",
        "covered": "{hsf} mu built of {pbf} mu PBF", "abandoned": "Suspected abandoned farmland",
        "abandoned_pbf": "{v} mu of it on PBF", "judged": "Judged monitoring patches", "patches": "{n} patches",
        "judged_illegal_mu": "illegal {v} mu", "review": "Village plan review",
        "review_line": "{n} findings in {v} villages", "review_overlap": "findings may overlap: areas not added up",
        "finding": "finding", "finding_villages": "villages", "finding_count": "findings", "finding_mu": "area (mu)",
        "charts": "Charts", "chart_violations": "Illegal conversion and non-grain use by county",
        "chart_nonagri": "Conversion and non-grain use by county (not judged legal/illegal)",
        "chart_balances": "The two balances by county",
        "chart_coverage": "HSF coverage of PBF by county (goal 100%)", "goal_label": "goal 100%",
        "chart_abandoned": "Suspected abandoned farmland by county",
        "chart_judged": "Judged patches by county and verdict", "chart_review": "Village plan review findings",
        "share": "coverage", "count": "patches", "counties": "Counties", "sort": "click a heading to sort",
        "total": "Total", "files": "Files", "group_results": "Report and layers", "group_maps": "Maps",
        "group_pages": "Pages and field check", "group_tables": "Tables (CSV)", "group_other": "Other files",
        "more_pages": "and {n} more pages, reached from the index", "no_files": "none", "run": "Run",
        "inputs": "Inputs", "path": "path", "versions": "Versions", "package": "package", "version": "version",
        "warnings": "Warnings", "no_warnings": "none", "not_run": "Not in this run: {names}",
        "generated": "Written by kmrv-geo; an offline page, print it to PDF from the browser.", "none": "—",
        "sep": ", ",
    },
}  # fmt: skip
PART_NAMES = {
    "zh": {"violations_by_county": "违法占用耕地", "balances_by_county": "两个平衡",
           "coverage_by_county": "高标准农田覆盖", "abandoned_by_county": "撂荒", "judged_by_county": "卫片图斑判定",
           "village_review": "村庄规划审查"},
    "en": {"violations_by_county": "violations", "balances_by_county": "balances",
           "coverage_by_county": "HSF coverage", "abandoned_by_county": "abandonment",
           "judged_by_county": "judged patches", "village_review": "village plan review"},
}  # fmt: skip
FILE_LABELS = {
    "report.xlsx": ("汇总报告（Excel：中文表头、合计行、卫片执法图斑表）", "report (Excel workbook)"),
    "results.gpkg": ("成果图层（GeoPackage，可在 QGIS 中打开）", "result layers (GeoPackage, for QGIS)"),
    "manifest.json": ("运行清单（输入、版本、每个文件的校验值）", "manifest (inputs, versions, file hashes)"),
    "check_report.json": ("数据检查报告", "check report of every layer"),
    "maps/overview.html": ("总览图", "overview map"), "maps/violations.html": ("违法占用耕地图", "violations map"),
    "maps/coverage.html": ("高标准农田覆盖图", "HSF coverage map"), "maps/villages.html": ("村庄图", "villages map"),
    "maps/abandonment.html": ("撂荒图", "abandonment map"),
    "maps/judged_patches.html": ("卫片图斑判定图", "judged patches map"),
    "villages/index.html": ("村庄页面目录", "village pages"), "fieldcheck/index.html": ("外业核查图斑页面",
                                                                                   "field-check pages"),
}  # fmt: skip
"""Words for the files everyone looks for first (others are listed by their name)."""


@dataclass
class RunPageData:
    """What ``index.html`` shows: the project, the run's county tables, its files, inputs and versions.

    Attributes
    ----------
    project : str
        Project name.
    synthetic : bool
        The data are the synthetic sample (the page says 示例数据).
    notice : str or None
        The project's notice line (内部资料 注意保密 …).
    lang : {"zh", "en"}
    dates : dict of str to str
        Label → date, e.g. ``{"T0": "2022", "T1": "2023"}``.
    area_label : str
        What the 亩 figures measure (:meth:`kmrv_geo.units.AreaMeasure.label`).
    tables : dict of str to DataFrame
        English-keyed numeric tables (:data:`TABLE_NAMES`), any may be missing; rows with an empty
        ``county_code`` (totals rows) are left out: the page adds up the county rows itself.
        ``violations_by_county``: county_code, county_name, illegal_mu, illegal_on_pbf_mu, nongrain_on_pbf_mu,
        nonagri_mu (illegal_* NaN when not judged); ``balances_by_county``: county_code, county_name,
        occupation_balance_mu, occupation_pass, in_out_balance_mu, in_out_pass; ``coverage_by_county``:
        county_code, county_name, pbf_mu, hsf_on_pbf_mu, pbf_coverage; ``abandoned_by_county``: county_code,
        county_name, abandoned_mu, abandoned_on_pbf_mu; ``judged_by_county``: county_code, county_name,
        patches, legal_patches, illegal_patches, to_check_patches, illegal_mu, illegal_pbf_mu;
        ``village_review``: village_key, village, finding, finding_text, area_mu (one row per finding).
    files : list of str
        Files of the output folder, relative with ``/`` (``maps/violations.html`` …); each is linked.
    inputs : dict of str to str
        Input path → sha256.
    versions : dict of str to str
        Package → version.
    warnings : list of str
        The run's warnings.
    area_kind : {"ellipsoidal", "planar"}, optional
        The run's area kind: 亩 headings then name it (``(亩·椭球)``).
    """

    project: str
    synthetic: bool
    notice: str | None
    lang: str
    dates: dict[str, str]
    area_label: str
    tables: dict[str, pd.DataFrame]
    files: list[str] = field(default_factory=list)
    inputs: dict[str, str] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    area_kind: str | None = None


# --- small helpers -----------------------------------------------------------------------------------------


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float | np.floating) and math.isnan(value))


def _num(value, digits: int = 2, none: str = "—") -> str:
    if _missing(value):
        return none
    if digits == 0:
        return f"{int(round(float(value))):,}"
    return f"{float(value):,.{digits}f}"


def _pct(value, none: str = "—") -> str:
    return none if _missing(value) else f"{float(value):.1%}"


def _raw(value) -> str:
    """A number as the ``data-v``/``data-value`` attribute text (``""`` when missing)."""
    if _missing(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "1" if value else "0"
    return repr(float(value))


def _fill(template: str, **figures: str) -> str:
    """The template's text escaped, with the (already HTML) ``figures`` at their ``{name}`` places."""
    parts = re.split(r"\{(\w+)\}", template)
    return "".join(esc(part) if i % 2 == 0 else figures[part] for i, part in enumerate(parts))


def _figure(key: str, value, text: str, *, big: bool = True) -> str:
    """A figure as shown (``text``), its key and exact value in ``data-figure`` and ``data-value``."""
    return (f'<span class="rp-fig{" rp-big" if big else ""}" data-figure="{key}" data-value="{_raw(value)}">'
            f"{esc(text)}</span>")


def _sum(frame: pd.DataFrame, column: str):
    """Sum of a column over the county rows; 0 without rows; NaN when the column is missing or unknown
    throughout.
    """
    if column not in frame:
        return float("nan")
    if frame.empty:
        return 0.0
    return float(pd.to_numeric(frame[column], errors="coerce").sum(min_count=1))


def _counties(table: pd.DataFrame | None) -> pd.DataFrame | None:
    """A county table without totals rows (empty ``county_code``), codes as text (``None`` when not given;
    empty when the step ran and found nothing).
    """
    if table is None or "county_code" not in table:
        return None
    codes = table["county_code"].map(text_of)
    out = table[codes != ""].assign(county_code=codes[codes != ""])
    if "county_name" not in out:
        out = out.assign(county_name=out["county_code"])
    out = out.assign(county_name=out["county_name"].map(text_of))
    return out.reset_index(drop=True)


def _labels(frame: pd.DataFrame) -> pd.Series:
    """Chart labels of counties: the name, with the code where names repeat or are empty."""
    names = frame["county_name"]
    repeated = names.duplicated(keep=False) | (names == "")
    return pd.Series([f"{n} {c}".strip() if r else n for n, c, r in
                      zip(names, frame["county_code"], repeated, strict=True)], index=frame.index)


def _judged_violations(v: pd.DataFrame | None) -> bool:
    """Whether conversions were judged legal/illegal (``illegal_mu`` known somewhere, or no rows at all)."""
    if v is None or "illegal_mu" not in v:
        return False
    return v.empty or bool(pd.to_numeric(v["illegal_mu"], errors="coerce").notna().any())


# --- charts ------------------------------------------------------------------------------------------------

_VL_VERSION = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
_FORBIDDEN = {"script", "foreignobject", "iframe", "image", "a", "use", "animate", "set", "style"}


def _svg(chart: alt.TopLevelMixin, key: str) -> str:
    """The chart as inline SVG: no data URL allowed, ids made unique, nothing active in it."""
    spec = chart.configure(font=FONT, background="white").configure_view(stroke=None).to_dict()
    version = _VL_VERSION if _VL_VERSION in vlc.get_vegalite_versions() else None
    svg = vlc.vegalite_to_svg(spec, vl_version=version, allowed_base_urls=[])
    svg = re.sub(r'\bid="([^"]+)"', rf'id="rp-{key}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#rp-{key}-\1)", svg)
    root = ET.fromstring(svg)
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1].lower()
        bad = [a for a in element.attrib if a.rsplit("}", 1)[-1].lower().startswith("on")
               or a.rsplit("}", 1)[-1].lower() == "href"]
        if tag in _FORBIDDEN or bad:
            raise MapError(f"chart {key}: the rendered SVG holds <{tag}> {bad}; refusing to inline it")
    svg = svg[svg.index("<svg"):]
    return svg.replace("<svg ", f'<svg data-chart="{key}" role="img" ', 1)


def _long(frame: pd.DataFrame, measures: dict[str, str]) -> pd.DataFrame:
    parts = [pd.DataFrame({"label": _labels(frame), "series": name, "order": i,
                           "value": pd.to_numeric(frame[column], errors="coerce").fillna(0.0)})
             for i, (column, name) in enumerate(measures.items()) if column in frame]
    return pd.concat(parts, ignore_index=True)


def _bars(frame: pd.DataFrame, measures: dict[str, str], x_title: str, *, colours=MEASURE_COLOURS,
          stacked: bool = False, counts: bool = False) -> alt.Chart:
    """Horizontal bars per county: one bar per measure side by side (or stacked), legend below; ``counts``:
    whole numbers on the axis.
    """
    data = _long(frame, measures)
    names = list(dict.fromkeys(data["series"]))
    order = list(dict.fromkeys(data["label"]))
    colour = alt.Color("series:N", title=None, sort=names,
                       scale=alt.Scale(domain=names, range=list(colours)[:len(names)]),
                       legend=alt.Legend(orient="bottom", labelLimit=300))
    encoding = {"y": alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=180)),
                "x": alt.X("value:Q", title=x_title, stack="zero" if stacked else None,
                           axis=alt.Axis(tickMinStep=1, format="d") if counts else alt.Axis()),
                "color": colour}
    step = 18 if stacked or len(names) == 1 else 11  # with yOffset the step is one bar of the group
    if not stacked and len(names) > 1:
        encoding["yOffset"] = alt.YOffset("series:N", sort=names)
    return alt.Chart(data).mark_bar().encode(**encoding).properties(width=CHART_WIDTH, height={"step": step})


def _balance_chart(b: pd.DataFrame, lang: str) -> alt.Chart:
    """Both balances per county, bars coloured 达标/未达标, a rule at 0."""
    text, words = TEXT[lang], {True: TEXT[lang]["pass"], False: TEXT[lang]["fail"]}
    rows = []
    for kind, value, flag in (("occupation", "occupation_balance_mu", "occupation_pass"),
                              ("in_out", "in_out_balance_mu", "in_out_pass")):
        if value in b:
            rows.append(pd.DataFrame({"label": _labels(b), "balance": text[kind],
                                      "value": pd.to_numeric(b[value], errors="coerce").fillna(0.0),
                                      "result": [words[bool(v)] for v in b.get(flag, b[value] >= 0)]}))
    data = pd.concat(rows, ignore_index=True)
    order = list(dict.fromkeys(data["label"]))
    colour = alt.Color("result:N", title=None, legend=alt.Legend(orient="bottom"),
                       scale=alt.Scale(domain=[words[True], words[False]],
                                       range=[PASS_COLOURS[True], PASS_COLOURS[False]]))
    bars = alt.Chart().mark_bar().encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=150)),
        x=alt.X("value:Q", title=text["unit"]), color=colour)
    zero = alt.Chart().mark_rule(color="#333").encode(x=alt.datum(0))
    width = (CHART_WIDTH - 80) // 2
    return (alt.layer(bars, zero, data=data).properties(width=width, height={"step": 18})
            .facet(column=alt.Column("balance:N", title=None, sort=[text["occupation"], text["in_out"]])))


def _coverage_chart(c: pd.DataFrame, lang: str) -> alt.Chart:
    """PBF coverage per county against the goal of 100 % (a rule at 1)."""
    text = TEXT[lang]
    share = pd.to_numeric(c["pbf_coverage"], errors="coerce")
    data = pd.DataFrame({"label": _labels(c), "share": share.fillna(0.0),
                         "text": [_pct(v, text["none"]) for v in share]})
    order = list(dict.fromkeys(data["label"]))
    top = max(1.0, float(data["share"].max()) if len(data) else 1.0)
    x = alt.X("share:Q", title=text["share"], scale=alt.Scale(domain=[0, top]), axis=alt.Axis(format="%"))
    y = alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=180))
    bars = alt.Chart(data).mark_bar(color="#2c7bb6").encode(y=y, x=x)
    labels = alt.Chart(data).mark_text(align="left", dx=3, color="#222").encode(y=y, x=x, text="text:N")
    goal = pd.DataFrame({"share": [1.0], "goal": [text["goal_label"]]})
    rule = alt.Chart(goal).mark_rule(color="#d7191c", strokeDash=[6, 3], strokeWidth=2).encode(x="share:Q")
    note = alt.Chart(goal).mark_text(color="#d7191c", align="center", baseline="bottom", y=-3).encode(
        x="share:Q", text="goal:N")  # above the plot: never over a county's bar
    return alt.layer(bars, labels, rule, note).properties(width=CHART_WIDTH, height={"step": 20})


# --- the page ----------------------------------------------------------------------------------------------

class _Page:
    """Builds the page's parts from one :class:`RunPageData`."""

    def __init__(self, data: RunPageData):
        if data.lang not in TEXT:
            raise MapError(f"run page language {data.lang!r} is not one of {sorted(TEXT)}")
        self.data, self.lang, self.text = data, data.lang, TEXT[data.lang]
        self.heads = headings(data.lang, area_kind=data.area_kind)
        self.t = {name: _counties(data.tables.get(name)) for name in TABLE_NAMES if name != "village_review"}
        review = data.tables.get("village_review")
        self.review = None if review is None else review.reset_index(drop=True)
        self.charts: list[tuple[str, str, str]] = []  # key, caption, svg

    def card(self, title: str, body: str) -> str:
        return f'<div class="rp-card"><h3>{esc(title)}</h3>{body}</div>'

    def figures(self) -> list[str]:
        """Cards of the headline figures (each the sum of the county rows); the charts are made beside them."""
        cards: list[str] = []
        for part in (self._violations, self._balances, self._coverage, self._abandoned, self._judged,
                     self._review):
            cards += part()
        return cards

    def _mu(self, key: str, frame: pd.DataFrame, column: str | None = None) -> str:
        """A figure: the sum of ``column`` (default ``key``) over the county rows, in 亩."""
        total = _sum(frame, column or key)
        return f"{_figure(key, total, _num(total))} {esc(self.text['unit'])}"

    def _violations(self) -> list[str]:
        text, v = self.text, self.t["violations_by_county"]
        if v is None:
            return []
        if _judged_violations(v):
            unknown = int(pd.to_numeric(v["illegal_mu"], errors="coerce").isna().sum())
            body = (f"<p>{self._mu('illegal_mu', v)}</p>"
                    f"<p>{esc(text['illegal_pbf'])} {self._mu('illegal_on_pbf_mu', v)}</p>")
            if unknown:
                body += f'<p class="rp-note">{esc(text["some_not_judged"].format(n=unknown))}</p>'
            cards = [self.card(text["illegal"], body)]
            measures, caption = ("illegal_mu", "illegal_on_pbf_mu", "nongrain_on_pbf_mu"), "chart_violations"
        else:  # no approvals: say what was converted, never "illegal 0"
            cards = [self.card(text["nonagri"], f"<p>{self._mu('nonagri_mu', v)}</p>"
                                                f'<p class="rp-note">{esc(text["not_judged"])}</p>')]
            measures, caption = ("nonagri_mu", "nongrain_on_pbf_mu"), "chart_nonagri"
        cards.append(self.card(text["nongrain_pbf"], f"<p>{self._mu('nongrain_on_pbf_mu', v)}</p>"))
        self.chart("violations", text[caption], v,
                   lambda: _bars(v, {m: self.heads[m] for m in measures if m in v}, self.heads["area_mu"]))
        return cards

    def _balances(self) -> list[str]:
        text, b, cards = self.text, self.t["balances_by_county"], []
        if b is None:
            return []
        for kind, flag in (("occupation", "occupation_pass"), ("in_out", "in_out_pass")):
            if flag not in b:
                continue
            flags = b[flag].astype(bool)
            passed, failed = int(flags.sum()), int((~flags).sum())
            counts = _fill(text["counties_pass"], p=_figure(f"{kind}_pass_counties", passed, str(passed)),
                           f=_figure(f"{kind}_fail_counties", failed, str(failed)))
            body = (f'<p class="{"rp-pass" if failed == 0 else "rp-fail"}">'
                    f"{esc(text['pass'] if failed == 0 else text['fail'])}</p><p>{counts}</p>")
            if failed:
                names = text["sep"].join(b.loc[~flags, "county_name"])
                body += f'<p class="rp-note">{esc(text["failing"].format(names=names))}</p>'
            cards.append(self.card(text[kind], body))
        self.chart("balances", text["chart_balances"], b, lambda: _balance_chart(b, self.lang))
        return cards

    def _coverage(self) -> list[str]:
        text, c = self.text, self.t["coverage_by_county"]
        if c is None:
            return []
        pbf, hsf = _sum(c, "pbf_mu"), _sum(c, "hsf_on_pbf_mu")
        share = hsf / pbf if pbf and pbf > 0 else float("nan")
        covered = _fill(text["covered"], hsf=_figure("hsf_on_pbf_mu", hsf, _num(hsf), big=False),
                        pbf=_figure("pbf_mu", pbf, _num(pbf), big=False))
        body = (f"<p>{_figure('pbf_coverage', share, _pct(share))}</p><p>{covered}</p>"
                f"<p>{_fill(text['gap'], gap=_figure('pbf_gap_mu', pbf - hsf, _num(pbf - hsf), big=False))}</p>"
                f'<p class="rp-note">{esc(text["goal"])}</p>')
        if "pbf_coverage" not in c:
            c = self.t["coverage_by_county"] = c.assign(
                pbf_coverage=c["hsf_on_pbf_mu"] / c["pbf_mu"].where(c["pbf_mu"] > 0))
        self.chart("coverage", text["chart_coverage"], c, lambda: _coverage_chart(c, self.lang))
        return [self.card(text["coverage"], body)]

    def _abandoned(self) -> list[str]:
        text, a = self.text, self.t["abandoned_by_county"]
        if a is None:
            return []
        body = f"<p>{self._mu('abandoned_mu', a)}</p>"
        on_pbf = _sum(a, "abandoned_on_pbf_mu")
        if not _missing(on_pbf):
            body += f"<p>{_fill(text['abandoned_pbf'], v=_figure('abandoned_on_pbf_mu', on_pbf, _num(on_pbf)))}</p>"
        self.chart("abandoned", text["chart_abandoned"], a,
                   lambda: _bars(a, {m: self.heads[m] for m in ("abandoned_mu", "abandoned_on_pbf_mu") if m in a},
                                 self.heads["area_mu"], colours=("#a6611a", "#dfc27d")))
        return [self.card(text["abandoned"], body)]

    def _judged(self) -> list[str]:
        text, j = self.text, self.t["judged_by_county"]
        if j is None:
            return []
        words, verdicts = VERDICT_TEXT[self.lang], [k for k in VERDICTS if f"{k}_patches" in j]
        counts = {k: _sum(j, f"{k}_patches") for k in verdicts}
        parts = " · ".join(f"{esc(words[k])} {_figure(f'{k}_patches', n, _num(n, 0))}" for k, n in counts.items())
        total = _sum(j, "patches")
        body = f"<p>{parts}</p><p>{_fill(text['patches'], n=_figure('patches', total, _num(total, 0), big=False))}</p>"
        if "illegal_mu" in j:
            mu = _sum(j, "illegal_mu")
            body += f"<p>{_fill(text['judged_illegal_mu'], v=_figure('judged_illegal_mu', mu, _num(mu)))}</p>"
        self.chart("judged", text["chart_judged"], j,
                   lambda: _bars(j, {f"{k}_patches": words[k] for k in verdicts}, text["count"],
                                 colours=[VERDICT_COLOURS[k] for k in verdicts], stacked=True,
                                 counts=True))
        return [self.card(text["judged"], body)]

    def _review(self) -> list[str]:
        text, r = self.text, self.review
        if r is None:
            return []
        villages, n = int(r["village_key"].map(text_of).nunique()), len(r)
        line = _fill(text["review_line"], v=_figure("villages_with_findings", villages, str(villages)),
                     n=_figure("village_findings", n, str(n)))
        per = self.review_table()
        self.chart("review", text["chart_review"], per,
                   lambda: _bars(per.rename(columns={"name": "county_name", "finding": "county_code"}),
                                 {"count": text["finding_count"]}, text["finding_count"], colours=("#7b3294",),
                                 counts=True))
        return [self.card(text["review"], f'<p>{line}</p><p class="rp-note">{esc(text["review_overlap"])}</p>')]

    def review_table(self) -> pd.DataFrame:
        """Findings per kind: name, villages, findings, 亩 (in the order of the analysis' list)."""
        from ..analysis.village_plan import FINDINGS

        area = self.review["area_mu"] if "area_mu" in self.review else np.nan
        r = self.review.assign(finding=self.review["finding"].map(text_of),
                               area_mu=pd.to_numeric(area, errors="coerce"))
        per = (r.groupby("finding", sort=False)
               .agg(villages=("village_key", "nunique"), count=("finding", "size"), area_mu=("area_mu", "sum"),
                    text=("finding_text", "first") if "finding_text" in r else ("finding", "first"))
               .reset_index())
        known = list(FINDINGS)
        per["rank"] = [known.index(f) if f in known else len(known) for f in per["finding"]]
        per["name"] = [FINDINGS[f][0 if self.lang == "zh" else 1] if f in FINDINGS else (text_of(t) or f)
                       for f, t in zip(per["finding"], per["text"], strict=True)]
        return per.sort_values(["rank", "finding"], kind="stable", ignore_index=True)

    def chart(self, key: str, caption: str, rows: pd.DataFrame, make) -> None:
        """Render ``make()`` as inline SVG under ``caption`` (nothing to draw when ``rows`` is empty)."""
        if rows.empty:
            return
        chart = make()
        svg = _svg(chart, key).replace("<svg ", f'<svg aria-label="{esc(caption)}" ', 1)
        self.charts.append((key, caption, svg))

    def county_table(self) -> str:
        """One row per county (merged on the code) with the key figures; sortable; totals in the footer.

        A balance column shows the balance (亩) and 达标/未达标, and sorts by the balance.
        """
        wanted = {"violations_by_county": ("illegal_mu", "illegal_on_pbf_mu", "nonagri_mu", "nongrain_on_pbf_mu"),
                  "balances_by_county": ("occupation_pass", "in_out_pass"),
                  "coverage_by_county": ("pbf_coverage",), "abandoned_by_county": ("abandoned_mu",),
                  "judged_by_county": tuple(f"{k}_patches" for k in VERDICTS)}
        v = self.t["violations_by_county"]
        skip = {"nonagri_mu"} if _judged_violations(v) else {"illegal_mu", "illegal_on_pbf_mu"}
        keys: list[str] = []
        merged: pd.DataFrame | None = None
        for name, columns in wanted.items():
            frame = self.t[name]
            if frame is None:
                continue
            shown = [k for k in columns if k in frame and k not in skip]
            extra = [BALANCE_OF[k] for k in shown if BALANCE_OF.get(k) in frame]
            if not shown:
                continue
            keys += shown
            frame = frame[["county_code", "county_name", *shown, *extra]].drop_duplicates("county_code")
            if merged is None:
                merged = frame
                continue
            merged = merged.merge(frame, on="county_code", how="outer", suffixes=("", "_other"))
            other = merged.pop("county_name_other")
            merged["county_name"] = merged["county_name"].where(merged["county_name"].map(text_of) != "", other)
        if merged is None:
            return ""
        merged = merged.sort_values("county_code", kind="stable", ignore_index=True)
        head = [f'<th data-key="county_code">{esc(self.heads["county_code"])}</th>',
                f'<th data-key="county_name">{esc(self.heads["county_name"])}</th>']
        head += [f'<th class="num" data-key="{k}">{esc(self.heads.get(k, k))}</th>' for k in keys]
        rows = []
        for row in merged.to_dict("records"):
            cells = [f'<td data-v="{esc(row["county_code"])}">{esc(row["county_code"])}</td>',
                     f'<td data-v="{esc(row["county_name"])}">{esc(row["county_name"])}</td>']
            cells += [self.cell(k, row[k], row.get(BALANCE_OF.get(k))) for k in keys]
            rows.append(f'<tr data-county="{esc(row["county_code"])}">{"".join(cells)}</tr>')
        foot = [f'<td colspan="2">{esc(self.text["total"])}</td>']
        for k in keys:
            if k in BALANCE_OF:
                flags = merged[k].dropna().astype(bool)
                foot.append(f'<td class="num" data-v="{int(flags.sum())}">{esc(self.text["pass"])} '
                            f"{int(flags.sum())}/{len(flags)}</td>")
            elif k == "pbf_coverage":
                c = self.t["coverage_by_county"]
                pbf, hsf = _sum(c, "pbf_mu"), _sum(c, "hsf_on_pbf_mu")
                share = hsf / pbf if pbf and pbf > 0 else None
                foot.append(f'<td class="num" data-v="{_raw(share)}">{_pct(share)}</td>')
            else:
                total = _sum(merged, k)
                foot.append(f'<td class="num" data-v="{_raw(total)}">'
                            f'{_num(total, 0 if k.endswith("_patches") else 2)}</td>')
        return (f'<div class="rp-wide"><table class="rp" id="rp-counties"><thead><tr>{"".join(head)}</tr></thead>'
                f'<tbody>{"".join(rows)}</tbody><tfoot><tr>{"".join(foot)}</tr></tfoot></table></div>')

    def cell(self, key: str, value, balance=None) -> str:
        """A figure cell: ``data-v`` holds the number it sorts by (the balance of a pass flag)."""
        if key in BALANCE_OF:
            if _missing(value):
                return '<td class="num" data-v="">—</td>'
            ok = bool(value)
            word = esc(self.text["pass"] if ok else self.text["fail"])
            shown = f"{esc(_num(balance))}<br>{word}" if not _missing(balance) else word
            sort = balance if not _missing(balance) else ok
            return (f'<td class="num {"rp-pass" if ok else "rp-fail"}" data-pass="{_raw(ok)}" '
                    f'data-v="{_raw(sort)}">{shown}</td>')
        shown = _pct(value) if key == "pbf_coverage" else _num(value, 0 if key.endswith("_patches") else 2)
        return f'<td class="num" data-v="{_raw(value)}">{esc(shown)}</td>'

    def review_section(self) -> str:
        """Findings of the village plan review per kind (nothing when the review did not run or found nothing)."""
        if self.review is None or self.review.empty:
            return ""
        per, text = self.review_table(), self.text
        rows = "".join(f'<tr><td>{esc(r.name)}</td><td class="num">{r.villages}</td><td class="num">{r.count}</td>'
                       f'<td class="num">{_num(r.area_mu)}</td></tr>' for r in per.itertuples(index=False))
        return (f'<h3>{esc(text["review"])}</h3><table class="rp" id="rp-review"><thead><tr>'
                f'<th>{esc(text["finding"])}</th><th class="num">{esc(text["finding_villages"])}</th>'
                f'<th class="num">{esc(text["finding_count"])}</th><th class="num">{esc(text["finding_mu"])}</th>'
                f'</tr></thead><tbody>{rows}</tbody></table><p class="rp-note">{esc(text["review_overlap"])}</p>')

    def files_section(self) -> str:
        """Links to the files, grouped; pages inside a page folder are reached from its index."""
        zh = self.lang == "zh"
        groups: dict[str, list[str]] = {k: [] for k in ("group_results", "group_maps", "group_pages",
                                                         "group_tables", "group_other")}
        extra_pages: dict[str, int] = {}
        names = sorted(dict.fromkeys(f.replace("\\", "/").lstrip("/") for f in self.data.files))
        page_folders = {n.split("/")[0] for n in names if n.count("/") == 1 and n.endswith("/" + INDEX)}
        for name in names:
            parts = name.split("/")
            if name == INDEX or any(p.startswith(".") or p in ("", "..") for p in parts) or "assets" in parts[:-1]:
                continue
            if parts[0] == "maps" and name.endswith(".html"):
                groups["group_maps"].append(name)
            elif parts[0] == "tables":
                groups["group_tables"].append(name)
            elif len(parts) == 1:
                groups["group_results" if name in ("report.xlsx", "results.gpkg") else "group_other"].append(name)
            elif parts[0] not in page_folders:
                groups["group_other"].append(name)
            elif name.endswith(".html") and name != f"{parts[0]}/{INDEX}":
                extra_pages[parts[0]] = extra_pages.get(parts[0], 0) + 1  # reached from the folder's index
            else:
                groups["group_pages"].append(name)
        out = []
        for group, names in groups.items():
            if not names:
                continue
            items = []
            for name in names:
                label = FILE_LABELS.get(name, (None, None))[0 if zh else 1]
                more = extra_pages.get(name.split("/")[0], 0) if name.endswith("/" + INDEX) else 0
                note = f' <span class="rp-note">{esc(self.text["more_pages"].format(n=more))}</span>' if more else ""
                shown = f"{esc(label)} <code>{esc(name)}</code>" if label else f"<code>{esc(name)}</code>"
                items.append(f'<li><a href="{esc(quote(name))}">{shown}</a>{note}</li>')
            out.append(f'<h3>{esc(self.text[group])}</h3><ul>{"".join(items)}</ul>')
        return "".join(out) or f"<p>{esc(self.text['no_files'])}</p>"

    def run_section(self) -> str:
        text, d = self.text, self.data
        inputs = "".join(f'<tr><td><code>{esc(p)}</code></td><td class="rp-hash">{esc(h)}</td></tr>'
                         for p, h in d.inputs.items())
        versions = "".join(f"<tr><td>{esc(p)}</td><td>{esc(v)}</td></tr>" for p, v in d.versions.items())
        warnings = "".join(f"<li>{esc(w)}</li>" for w in d.warnings) or f"<li>{esc(text['no_warnings'])}</li>"
        out = [f'<h3>{esc(text["warnings"])}</h3><ul id="rp-warnings">{warnings}</ul>']
        if inputs:
            out.append(f'<h3>{esc(text["inputs"])}</h3><div class="rp-wide"><table class="rp" id="rp-inputs">'
                       f'<thead><tr><th>{esc(text["path"])}</th><th>SHA-256</th></tr></thead>'
                       f"<tbody>{inputs}</tbody></table></div>")
        if versions:
            out.append(f'<h3>{esc(text["versions"])}</h3><table class="rp" id="rp-versions"><thead><tr>'
                       f'<th>{esc(text["package"])}</th><th>{esc(text["version"])}</th></tr></thead>'
                       f"<tbody>{versions}</tbody></table>")
        return "".join(out)


def _static(name: str) -> str:
    return resources.files("kmrv_geo.webmap").joinpath("static", name).read_text(encoding="utf-8")


CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
       "font-src 'none'; connect-src 'none'")
"""The page may load nothing: its style and script are inline, charts are inline SVG."""


def run_page_html(data: RunPageData) -> str:
    """The ``index.html`` of an output folder as one self-contained HTML string.

    Parameters
    ----------
    data : RunPageData

    Returns
    -------
    str
        The page: headline figures (``data-figure``/``data-value`` attributes: the sums of the county rows),
        charts as inline SVG, the county table (``#rp-counties``, sortable), links to ``data.files``, the run's
        inputs, versions and warnings.

    Raises
    ------
    MapError
        Unknown language, or a chart that would not render as plain SVG.
    """
    page = _Page(data)
    text, lang = page.text, data.lang
    cards = page.figures()
    missing = [PART_NAMES[lang][n] for n in TABLE_NAMES
               if (page.review if n == "village_review" else page.t[n]) is None]
    dates = " · ".join(f"{esc(k)} {esc(v)}" for k, v in data.dates.items())
    head = [f"<h1>{esc(data.project)}</h1>", f'<p class="rp-sub">{esc(text["title"])}</p><p>']
    if data.synthetic:
        head.append(f'<span class="rp-synthetic">{esc(SYNTHETIC[lang])}</span>')
    if text_of(data.notice):
        head.append(f'<span class="rp-notice">{esc(data.notice)}</span>')
    head.append("</p>")
    if dates:
        head.append(f'<p class="rp-meta">{esc(text["dates"])}：{dates}</p>' if lang == "zh"
                    else f'<p class="rp-meta">{esc(text["dates"])}: {dates}</p>')
    if text_of(data.area_label):
        head.append(f'<p class="rp-meta">{esc(text["area"])}{"：" if lang == "zh" else ": "}'
                    f"{esc(data.area_label)}</p>")
    nav = " ".join(f'<a href="#{k}">{esc(text[w])}</a>' for k, w in
                   (("rp-figures", "figures"), ("rp-county-section", "counties"), ("rp-files", "files"),
                    ("rp-run", "run")))
    body = [f'<header>{"".join(head)}</header><nav class="rp-nav">{nav}</nav>',
            f'<section id="rp-figures" class="rp-figures"><h2>{esc(text["figures"])}</h2>'
            f'<div class="rp-cards">{"".join(cards)}</div>']
    if missing:
        body.append(f'<p class="rp-note">{esc(text["not_run"].format(names=text["sep"].join(missing)))}</p>')
    body.append("</section>")
    if page.charts:
        figures = "".join(f'<figure class="rp-chart" data-chart="{key}"><figcaption>{esc(caption)}</figcaption>'
                          f"{svg}</figure>" for key, caption, svg in page.charts)
        body.append(f'<section id="rp-charts"><h2>{esc(text["charts"])}</h2>'
                    f'<div class="rp-charts">{figures}</div></section>')
    table = page.county_table()
    if table or page.review is not None:
        hint = f'<p class="rp-note rp-sort-hint">{esc(text["sort"])}</p>' if table else ""
        body.append(f'<section id="rp-county-section"><h2>{esc(text["counties"])}</h2>{hint}{table}'
                    f"{page.review_section()}</section>")
    body.append(f'<section id="rp-files" class="rp-files"><h2>{esc(text["files"])}</h2>{page.files_section()}'
                "</section>")
    body.append(f'<section id="rp-run"><h2>{esc(text["run"])}</h2>{page.run_section()}</section>')
    body.append(f'<footer>{esc(text["generated"])}</footer>')
    title = f"{text_of(data.project)} · {text['title']}" if text_of(data.project) else text["title"]
    return ("<!DOCTYPE html>\n"
            f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{_static('run_page.css')}</style></head>"
            f'<body>{"".join(body)}<script>{_static("run_page.js")}</script></body></html>\n')


# --- gathering and writing ----------------------------------------------------------------------------------

def output_files(root: str | Path) -> list[str]:
    """Every file under ``root`` as a relative path with ``/`` (hidden files and ``index.html`` left out)."""
    root = Path(root)
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel != INDEX and not any(p.startswith(".") for p in rel.split("/")):
            out.append(rel)
    return out


def write_run_page(folder: str | Path, data: RunPageData) -> Path:
    """Write ``folder/index.html``, linking only those of ``data.files`` that exist in ``folder``."""
    folder = Path(folder)
    present = [f for f in data.files if (folder / f).is_file()]
    path = folder / INDEX
    path.write_text(run_page_html(replace(data, files=present)), encoding="utf-8")
    return path


def _tables_of(project, results) -> dict[str, pd.DataFrame]:
    """The key tables computed from a run's results (for callers without :attr:`kmrv_geo.findings.Found.raw`)."""
    from ..analysis import steps as analysis_steps
    from ..analysis.balances import balances_table, violations_table
    from ..analysis.judge import judged_by_county
    from ..findings import abandonment_table

    keys = ["county_code", "county_name"]
    tables: dict[str, pd.DataFrame] = {}
    if results.violations is not None and keys[0] in results.violations.patches:
        patches = results.violations.patches
        tables["violations_by_county"] = violations_table(patches, keys)
        tables["balances_by_county"] = balances_table(patches, rules=analysis_steps.balance_rules(project))
    if results.coverage is not None and "coverage_by_county" in results.coverage.tables:
        tables["coverage_by_county"] = results.coverage.tables["coverage_by_county"]
    if results.abandonment is not None and keys[0] in results.abandonment.abandoned:
        tables["abandoned_by_county"] = abandonment_table(results.abandonment.abandoned, keys)
    if results.judge is not None and keys[0] in results.judge.patches:
        tables["judged_by_county"] = judged_by_county(results.judge.patches)
    if results.village_review is not None:
        tables["village_review"] = pd.DataFrame(results.village_review.findings.drop(columns="geometry",
                                                                                      errors="ignore"))
    return tables


def run_page_data(project, results, folder, *, lang: str = "zh",
                  tables: dict[str, pd.DataFrame] | None = None) -> RunPageData:
    """The data of ``index.html`` for a pipeline run, read from the run's results (English-keyed tables).

    Parameters
    ----------
    project : kmrv_geo.project.Project
    results : kmrv_geo.findings.Results
    folder : kmrv_geo.outputs.OutputFolder
        The open output folder (its files so far and those still being written are linked; input paths inside
        the staging folder are named where they end up, as in the manifest).
    lang : {"zh", "en"}
    tables : dict, optional
        The key tables the run already made (:attr:`kmrv_geo.findings.Found.raw`: English keys, no totals
        rows); computed from ``results`` when not given.
    """
    from ..outputs import package_versions

    config = project.config
    tables = ({name: table for name, table in tables.items() if name in TABLE_NAMES} if tables is not None
              else _tables_of(project, results))
    dates = {}
    for label, role in (("T0", "landuse_t0"), ("T1", "landuse_t1")):
        year = getattr(config.layers.get(role), "year", None)
        if isinstance(year, int):
            dates[label] = str(year)
    years = list(getattr(config.ndvi(), "years", None) or [])
    if years:
        dates["NDVI"] = f"{min(years)}–{max(years)}" if len(years) > 1 else str(years[0])
    root, target = str(folder.root), str(getattr(folder, "target", folder.root))
    return RunPageData(project=config.name, synthetic=bool(config.synthetic), notice=config.notice, lang=lang,
                       dates=dates, area_label=project.measure.label(lang), area_kind=project.measure.kind,
                       tables=tables, files=sorted({*output_files(folder.root), *folder.pending_files()}),
                       inputs={k.replace(root, target): v for k, v in project.inputs.items()},
                       versions=package_versions(),
                       warnings=[w.replace(root, target) for w in project.layer_warnings() + list(results.warnings)])
