"""Village pages for the Dianchi village planner: one printable page per village, and an index page.

A planner takes a village's page to the village committee: the village on one map (its outline, the 村庄
建设边界, the plan by class, construction at both dates, PBF, ERL, UDB, the Dianchi protection zones and
every finding drawn highlighted), land use before and after (two small pictures and the table by category),
the profile figures, and every finding listed with its 亩 (a click on a finding shows it on the map). The
index lists every village with its key figures, sorts by any column and filters by category, county,
township and "has findings".

As the field-check pages (:mod:`kmrv_geo.fieldcheck.pages`), each page is offline and prints on one A4 sheet;
Leaflet and our scripts are files in ``assets/`` beside the pages, shared by all of them
(:func:`~kmrv_geo.webmap.assets.shared_assets_html`) — copy the whole ``villages`` folder, not one page.
Every text from the data is HTML-escaped (map attributes by :func:`~kmrv_geo.webmap.encode.encode_layer`).
The villages map links each village's popup to its page (:func:`village_page_name`, ``page_links=True`` of
:func:`~kmrv_geo.webmap.villages.villages_map`).
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm import tqdm

from ..errors import MapError
from ..fieldcheck.labels import SYNTHETIC, check_lang
from ..landuse import CATEGORIES, CATEGORY_LABELS
from ..parallel import map_blocks
from ..report import AREA_KIND_SUFFIX, headings
from ..text import escape_html as esc
from ..text import text_of
from .assets import shared_assets_html
from .elements import RawHtml
from .village_pagemap import (
    FINDINGS,
    VillagePageContext,
    finding_colour,
    finding_name,
    landuse_svg,
    prepare_layers,
    village_map,
    window_of,
)  # fmt: skip

__all__ = ["FOLDER", "INDEX", "ASSETS", "VillagePageContext", "village_page_name", "write_village_pages"]

logger = logging.getLogger(__name__)

FOLDER = "villages"
"""Folder of the village pages in an output folder (beside ``maps/``)."""
INDEX = "index.html"
ASSETS = "assets"
PAGE_BLOCK = 25
"""Village pages one worker process writes at a time (:func:`~kmrv_geo.parallel.map_blocks`)."""
"""Folder (beside the pages) of the Leaflet and map scripts every page shares (offline, one copy)."""
MAP_HEIGHT_MM = 98
FIGURE_COLUMNS = ("county_name", "township", "category", "theme", "area_mu", "farmland_mu", "pbf_mu",
                  "hsf_on_pbf_mu", "pbf_coverage", "construction_t1_mu", "new_construction_mu", "illegal_mu",
                  "abandoned_mu", "distance_to_shore_m", "has_plan", "planned_construction_mu",
                  "construction_change_mu", "findings")
"""Profile columns a village page shows, in order (those missing from the profiles are left out)."""
LABELS = {
    "zh": {"theme": "主题", "has_plan": "村庄规划", "planned_construction_mu": "规划建设用地(亩)",
           "construction_change_mu": "规划较现状建设用地增减(亩)", "findings": "问题数",
           "village": "村", "village_key": "村标识"},
    "en": {"theme": "theme", "has_plan": "village plan", "planned_construction_mu": "planned construction (mu)",
           "construction_change_mu": "planned minus current construction (mu)", "findings": "findings",
           "village": "village", "village_key": "village key"},
}  # fmt: skip
"""Headings of the profile columns :func:`kmrv_geo.report.headings` does not name."""
TEXT = {
    "zh": {"title": "滇池沿岸村庄规划核查", "index": "村庄目录", "prev": "← 上一村", "next": "下一村 →",
           "approximate": "湖区保护分区为按湖岸缓冲的近似范围，非官方划定",
           "dates": "数据时相", "t0": "前时相 {year} 年", "t1": "后时相 {year} 年", "legend": "图例",
           "figures": "村庄概况", "change": "土地利用变化", "category": "地类",
           "before": "前时相", "after": "后时相", "delta": "变化", "total": "合计", "no_change": "无土地利用统计",
           "findings": "问题清单", "n_findings": "共 {n} 项（各项可能重叠，不相加；点击一行在地图上查看）",
           "no_findings": "未发现问题", "not_checked": "未核查：{names}", "no": "序号", "finding": "问题",
           "finding_text": "说明", "no_plan": "该村暂无村庄规划：规划冲突（占永农、红线、开发边界、耕地）未核查",
           "missing_theme": "缺少主题", "yes": "有", "none": "无", "all": "全部", "has_findings": "只看有问题的村",
           "shown": "显示 {shown} / {n} 个村", "sort": "点击表头排序", "filter": "筛选",
           "county": "区县", "township": "乡镇", "ellipsoidal": "亩·椭球", "planar": "亩·平面", "mu": "亩",
           "picture": "{when}土地利用", "year": "（{year} 年）", "sep": "，"},
    "en": {"title": "Dianchi village plan review", "index": "Village index", "prev": "← previous",
           "next": "next →",
           "approximate": "Lake protection zones are approximate (buffers of the lake shore), not the official "
                          "zones",
           "dates": "data dates", "t0": "T0 {year}", "t1": "T1 {year}", "legend": "Legend",
           "figures": "Village profile", "change": "Land use before and after", "category": "category",
           "before": "before (T0)", "after": "after (T1)", "delta": "change", "total": "Total",
           "no_change": "no land-use figures", "findings": "Findings",
           "n_findings": "{n} findings (they may overlap and are not added up; click a row to see it on the map)",
           "no_findings": "no findings", "not_checked": "not checked: {names}", "no": "no.", "finding": "finding",
           "finding_text": "details",
           "no_plan": "This village has no plan yet: plan conflicts (PBF, red line, urban boundary, farmland) "
                      "were not checked",
           "missing_theme": "theme missing", "yes": "yes", "none": "no", "all": "all",
           "has_findings": "only villages with findings", "shown": "{shown} of {n} villages shown",
           "sort": "click a heading to sort", "filter": "filter", "county": "county", "township": "township",
           "ellipsoidal": "mu, ellipsoidal", "planar": "mu, planar", "mu": "mu", "picture": "land use {when}",
           "year": " ({year})", "sep": ", "},
}  # fmt: skip

BASE_CSS = """
@page { size: A4 portrait; margin: 9mm; }
html, body { height: auto !important; width: auto !important; }
body { max-width: 192mm; margin: 0 auto !important; padding: 4px !important; color: #222;
  font: 13px/1.4 "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; }
h1 { font-size: 17px; margin: 2px 0; } h2 { font-size: 14px; margin: 5px 0 2px; } p { margin: 2px 0; }
.vp-notice { color: #b00000; font-weight: bold; }
.vp-flag { color: #b00000; font-weight: bold; }
.vp-nav { margin: 3px 0; } .vp-nav a { margin-right: 1.5em; }
table.vp { border-collapse: collapse; width: 100%; }
table.vp th, table.vp td { border: 1px solid #bbb; padding: 1px 5px; text-align: left; vertical-align: top; }
table.vp td { word-break: break-word; }
table.vp th { background: #f0f0f0; font-weight: normal; color: #444; }
table.vp td.num, table.vp th.num { text-align: right; white-space: nowrap; }
.vp-swatch { display: inline-block; width: 11px; height: 11px; margin-right: 4px; vertical-align: middle;
  border: 2px solid; box-sizing: border-box; }
@media print { .vp-nav, .vp-filters { display: none !important; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""
PAGE_CSS = BASE_CSS + f"""
body {{ display: flex; flex-direction: column; }}
.vp-head {{ order: 0; }}
.folium-map {{ order: 1; position: relative !important; left: 0 !important; top: 0 !important;
  width: 100% !important; height: {MAP_HEIGHT_MM}mm !important; border: 1px solid #999; box-sizing: border-box; }}
.vp-info {{ order: 2; }}
.vp-legend {{ margin: 2px 0; font-size: 11px; line-height: 1.3; }}
.vp-legend span {{ margin-right: .9em; white-space: nowrap; }}
.vp-legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 3px; vertical-align: middle;
  border: 1px solid #555; opacity: .8; }}
.vp-noplan {{ margin: 3px 0; padding: 2px 6px; border: 1px solid #b00000; color: #b00000; font-weight: bold; }}
table.vp-figures th {{ width: 29%; }} table.vp-figures td {{ width: 21%; }}
table.vp-change td:first-child, table.vp-change th {{ white-space: nowrap; }}
table.vp caption {{ text-align: left; font-weight: bold; }}
.vp-compare {{ display: flex; gap: 3mm; align-items: flex-start; margin-top: 4px; }}
.vp-compare figure {{ margin: 0; flex: 0 0 40mm; text-align: center; font-size: 11px; }}
.vp-compare .vp-svg {{ display: block; width: 40mm; height: 40mm; border: 1px solid #999; }}
.vp-compare table {{ flex: 1 1 auto; }}
#vp-findings tbody tr {{ cursor: pointer; }}
#vp-findings tbody tr:hover {{ background: #fff3d6; }}
.leaflet-control-layers {{ font-size: 11px; line-height: 1.2; }}
@media print {{
  body {{ font-size: 9pt; line-height: 1.3; padding: 0 !important; }}
  table.vp {{ font-size: 8.5pt; }} table.vp th, table.vp td {{ padding: 0 4px; }}
  .leaflet-control-layers, .leaflet-control-zoom, .leaflet-bar, .leaflet-control-measure {{ display: none !important; }}
  .vp-head, .folium-map, .vp-compare {{ break-inside: avoid; }}
}}
"""
FINDINGS_JS = """
(function () {
  Array.prototype.forEach.call(document.querySelectorAll("#vp-findings tbody tr[data-no]"), function (row) {
    row.addEventListener("click", function () {
      var map = window[%s], layer = window.kmrv && kmrv.layers.findings, no = +row.getAttribute("data-no");
      if (!layer || !map) return;
      for (var i in layer._byIndex) {
        if (layer._columns[0][i] === no) {
          var feature = layer._byIndex[i];
          map.fitBounds(feature.getBounds(), {maxZoom: 19, padding: [30, 30], animate: false});
          feature.openPopup(feature.getBounds().getCenter());
          return;
        }
      }
    });
  });
})();
"""
INDEX_JS = """
(function () {
  var table = document.getElementById("vp-index"), body = table.tBodies[0], heads = table.tHead.rows[0].cells;
  var selects = Array.prototype.slice.call(document.querySelectorAll("select.vp-filter"));
  var only = document.getElementById("vp-has-findings"), shown = document.getElementById("vp-shown");
  var template = shown.getAttribute("data-template"), total = body.rows.length;
  function apply() {
    var n = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      var ok = selects.every(function (s) { return !s.value || row.getAttribute("data-" + s.name) === s.value; });
      if (only.checked && row.getAttribute("data-findings") === "0") ok = false;
      row.hidden = !ok;
      if (ok) n++;
    });
    shown.textContent = template.replace("{shown}", String(n)).replace("{n}", String(total));
  }
  selects.forEach(function (s) { s.addEventListener("change", apply); });
  only.addEventListener("change", apply);
  Array.prototype.forEach.call(heads, function (th, col) {
    th.style.cursor = "pointer";
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows), num = th.classList.contains("num");
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
        var r = num ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y, "zh");
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  apply();
})();
"""
_SAFE_KEY = re.compile(r"[0-9a-z][0-9a-z_-]{0,63}")
_RESERVED = re.compile(r"(index|assets|row\d+|con|prn|aux|nul|com\d|lpt\d)", re.IGNORECASE)


def village_page_name(key) -> str:
    """Safe, unique file name of a village's page, from its ``village_key``.

    A village code of lower-case letters, digits, ``_`` and ``-`` is the name as it is; a key ``#17`` (a
    village without a usable code, keyed by row) is ``row17``; any other key (upper case, other characters,
    names Windows reserves, ``index``) is ``_`` + its safe characters + a hash of the key. No name holds
    ``#``, ``?``, ``%`` or a path separator, names of different keys differ (also on a case-insensitive
    file system), and a key always gives the same name.

    Examples
    --------
    >>> village_page_name("530112101001"), village_page_name("#17"), village_page_name("index")
    ('530112101001.html', 'row17.html', '_index_e540cdd132.html')
    >>> village_page_name("<img src=x>")
    '_img_src_x_f4285014f2.html'
    """
    text = text_of(key).strip()
    row = re.fullmatch(r"#(\d{1,9})", text)
    if row:
        return f"row{row.group(1)}.html"
    if _SAFE_KEY.fullmatch(text) and not _RESERVED.fullmatch(text):
        return f"{text}.html"
    safe = re.sub(r"[^0-9A-Za-z_-]+", "_", text).strip("_-")[:40]
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
    return f"_{safe}_{digest}.html" if safe else f"_{digest}.html"



def _number(value, digits: int = 2, *, sign: bool = False) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    if number != number:
        return ""
    return f"{number:+.{digits}f}" if sign else f"{number:.{digits}f}"


def _flag(value) -> bool | None:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "是", "有")
    return bool(value)


def is_key_village(category) -> bool:
    """The category is 重点村 (a key village), which should have a theme (主题)."""
    text = text_of(category)
    return "重点" in text or "key" in text.lower()


def _heads(lang: str, area_kind: str | None) -> dict[str, str]:
    """Column headings: :func:`~kmrv_geo.report.headings`, completed by :data:`LABELS`, 亩 naming the kind."""
    extra = dict(LABELS[lang])
    if area_kind is not None:
        plain, marked = AREA_KIND_SUFFIX[lang][area_kind]
        extra = {k: v.replace(plain, marked) if k.endswith("_mu") else v for k, v in extra.items()}
    return {**extra, **headings(lang, area_kind=area_kind)}


def _mu_word(context: VillagePageContext) -> str:
    text = TEXT[context.lang]
    return text.get(context.area_kind or "", text["mu"])


def figure_rows(row, context: VillagePageContext) -> list[tuple[str, str, bool]]:
    """The profile figures of a village: (escaped label, value HTML, is a number), for the columns the row
    has.
    """
    lang = context.lang
    text, heads = TEXT[lang], _heads(lang, context.area_kind)
    out = []
    for column in FIGURE_COLUMNS:
        if column not in row.index:
            continue
        value = row.get(column)
        if column == "theme":
            shown = esc(value)
            if not text_of(value).strip() and is_key_village(row.get("category")):
                shown = f'<span class="vp-flag">{esc(text["missing_theme"])}</span>'
        elif column == "has_plan":
            flag = _flag(value)
            shown = "" if flag is None else esc(text["yes"] if flag else text["none"])
        elif column == "pbf_coverage":
            shown = f"{float(value) * 100:.1f}%" if _number(value) else ""
        elif column == "distance_to_shore_m":
            shown = _number(value, 0)
        elif column == "findings":
            shown = _number(value, 0)
        elif column == "construction_change_mu":
            shown = _number(value, sign=True)
        elif column.endswith("_mu"):
            shown = _number(value)
        else:
            shown = esc(value)
        numeric = column not in ("county_name", "township", "category", "theme", "has_plan")
        out.append((esc(heads.get(column, column)), shown, numeric))
    return out


def _figures_table(row, context: VillagePageContext) -> str:
    rows = figure_rows(row, context)
    half = (len(rows) + 1) // 2
    left, right = rows[:half], rows[half:] + [("", "", False)] * (half - len(rows[half:]))

    def cells(label: str, value: str, numeric: bool) -> str:
        return f'<th>{label}</th><td{" class=num" if numeric else ""}>{value}</td>'

    body = "".join(f"<tr>{cells(*a)}{cells(*b)}</tr>" for a, b in zip(left, right, strict=True))
    return f'<table class="vp vp-figures">{body}</table>'


def _change_table(key: str, context: VillagePageContext) -> str:
    text = TEXT[context.lang]
    mu = _mu_word(context)
    change = context.landuse_change
    if change is None or "village_key" not in change:
        return f'<p class="vp-no-change">{esc(text["no_change"])}</p>'
    part = change[change["village_key"].map(text_of) == key]
    if part.empty:
        return f'<p class="vp-no-change">{esc(text["no_change"])}</p>'
    sums = part.groupby(part["category"].map(text_of), sort=False)[["t0_mu", "t1_mu"]].sum(min_count=1)
    order = [c for c in CATEGORIES if c in sums.index] + [c for c in sums.index if c not in CATEGORIES]
    labels = CATEGORY_LABELS[context.lang]
    rows = []
    for category in order:
        t0, t1 = sums.loc[category, "t0_mu"], sums.loc[category, "t1_mu"]
        delta = t1 - t0 if pd.notna(t0) and pd.notna(t1) else np.nan
        rows.append((labels.get(category, category), t0, t1, delta))
    t0_all, t1_all = sums["t0_mu"].sum(), sums["t1_mu"].sum()
    rows.append((text["total"], t0_all, t1_all, t1_all - t0_all))
    body = "".join(f'<tr><td>{esc(name)}</td><td class="num">{_number(a)}</td><td class="num">{_number(b)}</td>'
                   f'<td class="num">{_number(d, sign=True)}</td></tr>' for name, a, b, d in rows)
    t0 = text["t0"].format(year=text_of(context.t0_year)) if context.t0_year else text["before"]
    t1 = text["t1"].format(year=text_of(context.t1_year)) if context.t1_year else text["after"]
    caption = f"{text['change']}（{mu}）" if context.lang == "zh" else f"{text['change']} ({mu})"
    return (f'<table class="vp vp-change"><caption>{esc(caption)}</caption>'
            f'<thead><tr><th>{esc(text["category"])}</th><th class="num">{esc(t0)}</th>'
            f'<th class="num">{esc(t1)}</th><th class="num">{esc(text["delta"])}</th>'
            f"</tr></thead><tbody>{body}</tbody></table>")


def village_findings(review: gpd.GeoDataFrame | None, key: str, lang: str) -> gpd.GeoDataFrame:
    """The findings of one village in list order (by finding kind, then largest first), numbered ``no``
    1…n, with ``finding_label`` in words of ``lang``.
    """
    if review is None or review.empty or "village_key" not in review:
        return gpd.GeoDataFrame({"no": [], "finding": [], "finding_label": [], "finding_text": [], "area_mu": []},
                                geometry=[], crs=None if review is None else review.crs)
    part = review[review["village_key"].map(text_of) == key].copy()
    codes = part["finding"].map(text_of) if "finding" in part else pd.Series("", index=part.index)
    rank = codes.map({c: i for i, c in enumerate(FINDINGS)}).fillna(len(FINDINGS))
    area = pd.to_numeric(part["area_mu"], errors="coerce") if "area_mu" in part else pd.Series(np.nan, part.index)
    part = part.assign(finding=codes, area_mu=area, _rank=rank).sort_values(["_rank", "area_mu"],
                                                                         ascending=[True, False], kind="stable")
    part = part.drop(columns="_rank")
    part["no"] = np.arange(1, len(part) + 1)
    part["finding_label"] = part["finding"].map(lambda c: finding_name(c, lang))
    if "finding_text" not in part:
        part["finding_text"] = ""
    return part


def _findings_section(row, findings: gpd.GeoDataFrame, context: VillagePageContext) -> str:
    lang = context.lang
    text = TEXT[lang]
    mu = _mu_word(context)
    parts = [f'<h2>{esc(text["findings"])}</h2>']
    not_checked = [finding_name(c, lang) for c in FINDINGS
                   if f"{c}_mu" in row.index and not _number(row.get(f"{c}_mu"))]
    if len(findings):
        parts.append(f'<p class="vp-count">{esc(text["n_findings"].format(n=len(findings)))}</p>')
        body = "".join(
            f'<tr data-no="{int(f.no)}"><td class="num">{int(f.no)}</td>'
            f'<td><span class="vp-swatch" style="border-color:{finding_colour(f.finding)};background:'
            f'{finding_colour(f.finding)}40"></span>{esc(f.finding_label)}</td><td>{esc(f.finding_text)}</td>'
            f'<td class="num">{_number(f.area_mu)}</td></tr>' for f in findings.itertuples())
        parts.append(f'<table class="vp" id="vp-findings"><thead><tr><th class="num">{esc(text["no"])}</th>'
                     f'<th>{esc(text["finding"])}</th><th>{esc(text["finding_text"])}</th>'
                     f'<th class="num">{esc(mu)}</th></tr></thead><tbody>{body}</tbody></table>')
    else:
        parts.append(f'<p class="vp-count">{esc(text["no_findings"])}</p>')
    if not_checked:
        parts.append(f'<p class="vp-not-checked">{esc(text["not_checked"].format(names=text["sep"].join(not_checked)))}'
                     "</p>")
    return "".join(parts)


def _notices(context: VillagePageContext) -> list[str]:
    lang = context.lang
    return [t for t in (text_of(context.notice), SYNTHETIC[lang] if context.synthetic else "",
                        TEXT[lang]["approximate"] if context.lake_zones_approximate else "") if t]


def _dates(context: VillagePageContext) -> str:
    text = TEXT[context.lang]
    dates = [text["t0"].format(year=text_of(context.t0_year)) if context.t0_year else "",
             text["t1"].format(year=text_of(context.t1_year)) if context.t1_year else ""]
    dates = [d for d in dates if d]
    return f'<p class="vp-dates">{esc(text["dates"])}：{esc(text["sep"].join(dates))}</p>' if dates else ""


def _head(context: VillagePageContext, title: str) -> str:
    notices = _notices(context)
    line = f'<div class="vp-notice">{esc("　".join(notices))}</div>' if notices else ""
    return f"<h1>{esc(title)}</h1>{line}"


def _village_page(row, village: gpd.GeoDataFrame, findings: gpd.GeoDataFrame, context: VillagePageContext,
                  layers: dict, *, prev: str | None, next_: str | None, number: int, total: int
                  ) -> tuple[str, dict[str, str]]:
    lang = context.lang
    text = TEXT[lang]
    key = text_of(row.get("village_key"))
    fmap, legend = village_map(village, findings, context, layers)
    root = fmap.get_root()
    name = text_of(row.get("village")) or key
    title = " · ".join(t for t in (text_of(context.title), name) if t)
    root.title = esc(title)
    root.header.add_child(RawHtml(f"<style>{PAGE_CSS}</style>"), name="vp_css")
    links = [f'<a class="vp-index-link" href="{INDEX}">{esc(text["index"])}（{number}/{total}）</a>']
    if prev:
        links.append(f'<a class="vp-prev" rel="prev" href="{esc(prev)}">{esc(text["prev"])}</a>')
    if next_:
        links.append(f'<a class="vp-next" rel="next" href="{esc(next_)}">{esc(text["next"])}</a>')
    place = " ".join(text_of(row.get(c)) for c in ("county_name", "township") if text_of(row.get(c)))
    category = " · ".join(t for t in (text_of(row.get("category")), text_of(row.get("theme"))) if t)
    sub = " ".join(t for t in (place, name, f"（{key}）" if key and lang == "zh" else f"({key})" if key else "",
                               category) if t)
    head = (f'<div class="vp-head"><nav class="vp-nav">{"".join(links)}</nav>{_head(context, title)}'
            f'<div class="vp-sub">{esc(sub)}</div>{_dates(context)}</div>')
    has_plan = _flag(row.get("has_plan")) if "has_plan" in row.index else None
    no_plan = f'<div class="vp-noplan">{esc(text["no_plan"])}</div>' if has_plan is False else ""
    legend_html = "".join(f'<span><i style="background:{esc(c)}"></i>{esc(label)}</span>' for c, label in legend)
    window = window_of(village, context.margin_m)
    pictures = "".join(
        f'<figure>{landuse_svg(layers[k], window, village, label=text["picture"].format(when=when), lang=lang)}'
        f"<figcaption>{esc(when)}</figcaption></figure>"
        for k, when in (("landuse_t0", text["t0"].format(year=text_of(context.t0_year)) if context.t0_year
                         else text["before"]),
                        ("landuse_t1", text["t1"].format(year=text_of(context.t1_year)) if context.t1_year
                         else text["after"]))
        if layers[k] is not None)
    info = (f'<div class="vp-info"><div class="vp-legend">{esc(text["legend"])}：{legend_html}</div>{no_plan}'
            f'{_figures_table(row, context)}<div class="vp-compare">{pictures}{_change_table(key, context)}</div>'
            f"{_findings_section(row, findings, context)}</div>")
    root.html.add_child(RawHtml(head), name="vp_head")
    root.html.add_child(RawHtml(info), name="vp_info")
    # a map variable name is an identifier folium made; json-quoted for the script
    root.script.add_child(RawHtml(FINDINGS_JS % f'"{fmap.get_name()}"'), name="vp_findings_js")
    return shared_assets_html(fmap, ASSETS)


def village_order(profiles: pd.DataFrame) -> list:
    """Index labels of the villages in page order: by county, township, village name, then key."""
    keys = pd.DataFrame({c: profiles[c].map(text_of) if c in profiles else "" for c in
                         ("county_name", "township", "village", "village_key")}, index=profiles.index)
    return list(keys.sort_values(list(keys.columns), kind="stable").index)


def _options(name: str, label: str, values, all_label: str) -> str:
    uniques = sorted({text_of(v) for v in values if text_of(v)})
    options = "".join(f'<option value="{esc(v)}">{esc(v)}</option>' for v in uniques)
    return (f'<label>{esc(label)} <select class="vp-filter" name="{name}" id="vp-filter-{name}">'
            f'<option value="">{esc(all_label)}</option>{options}</select></label>')


def _index_page(profiles: gpd.GeoDataFrame, order: list, names: dict, counts: dict,
                context: VillagePageContext) -> str:
    lang = context.lang
    text = TEXT[lang]
    heads = _heads(lang, context.area_kind)
    columns = [("village", ""), ("county_name", ""), ("township", ""), ("category", ""), ("theme", ""),
               ("area_mu", "num"), ("farmland_mu", "num"), ("pbf_mu", "num"), ("has_plan", ""),
               ("findings", "num")]
    rows = []
    for label in order:
        row = profiles.loc[label]
        theme = text_of(row.get("theme"))
        flagged = not theme.strip() and is_key_village(row.get("category"))
        plan = _flag(row.get("has_plan"))
        n = counts[label]
        shown_name = text_of(row.get("village")) or text_of(row.get("village_key"))
        cells = [
            (esc(row.get("village")), f'<a href="{esc(names[label])}">{esc(shown_name)}</a>'),
            *[(esc(row.get(c)), esc(row.get(c))) for c in ("county_name", "township", "category")],
            (esc(theme), f'<span class="vp-flag">{esc(text["missing_theme"])}</span>' if flagged else esc(theme)),
            *[(_number(row.get(c)) or "0", _number(row.get(c))) for c in ("area_mu", "farmland_mu", "pbf_mu")],
            ("" if plan is None else esc(text["yes"] if plan else text["none"]),) * 2,
            (str(n), str(n)),
        ]
        data = "".join(f' data-{k}="{esc(row.get(c))}"' for k, c in (("category", "category"),
                                                                      ("county", "county_name"),
                                                                      ("township", "township")))
        rows.append(f'<tr{data} data-findings="{n}">'
                    + "".join(f'<td data-v="{v}"{" class=num" if cls else ""}>{shown}</td>'
                              for (v, shown), (_, cls) in zip(cells, columns, strict=True)) + "</tr>")
    head_cells = "".join(f'<th class="{cls}">{esc(heads.get(c, c))}</th>' for c, cls in columns)
    title = " · ".join(t for t in (text_of(context.title), text["title"]) if t)
    filters = (f'<div class="vp-filters">{esc(text["filter"])}：'
               + _options("category", heads["category"], profiles.get("category", []), text["all"])
               + " " + _options("county", text["county"], profiles.get("county_name", []), text["all"])
               + " " + _options("township", text["township"], profiles.get("township", []), text["all"])
               + f' <label><input type="checkbox" id="vp-has-findings"> {esc(text["has_findings"])}</label>'
               f' <span id="vp-shown" data-template="{esc(text["shown"])}"></span>'
               f'（{esc(text["sort"])}）</div>')
    return (f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f"<style>{BASE_CSS} body {{ max-width: 277mm; }} @page {{ size: A4 landscape; }}"
            ".vp-filters { margin: 4px 0; } .vp-filters label { margin-right: 1em; white-space: nowrap; }"
            "#vp-index td:nth-child(-n+3) { white-space: nowrap; }</style></head><body>"
            f"{_head(context, title)}{_dates(context)}{filters}"
            f'<table class="vp" id="vp-index"><thead><tr>{head_cells}</tr></thead><tbody>{"".join(rows)}</tbody>'
            f"</table><script>{INDEX_JS}</script></body></html>")


def write_village_pages(out_dir: str | Path, profiles: gpd.GeoDataFrame, review: gpd.GeoDataFrame | None,
                        context: VillagePageContext | None = None, *, verbose: bool = False) -> list[Path]:
    """Write one offline, printable page per village and the index page linking them.

    Parameters
    ----------
    out_dir : str or Path
        The folder of the pages (``OUT/villages``, beside ``OUT/maps``; made if missing).
    profiles : GeoDataFrame
        One row per village (polygons or points, projected CRS): ``village_key``, ``village``, ``category``
        (重点村/绿美村庄), ``theme``, ``county_name``, ``township`` and the profile figures (``area_mu``,
        ``farmland_mu``, ``pbf_mu``, ``hsf_on_pbf_mu``, ``pbf_coverage``, ``construction_t1_mu``,
        ``new_construction_mu``, ``illegal_mu``, ``abandoned_mu``, ``distance_to_shore_m``, ``has_plan``,
        ``planned_construction_mu``, ``construction_change_mu``, ``findings`` and ``<finding>_mu`` per
        finding code, NaN where not computed); missing columns are left out of the pages.
    review : GeoDataFrame, optional
        The findings: ``village_key``, ``village``, ``finding`` (a code of
        :data:`~kmrv_geo.webmap.village_pagemap.FINDINGS`), ``finding_text``, ``area_mu``, geometry.
    context : VillagePageContext, optional
        The layers drawn around each village and the pages' labels (default: the village alone, in Chinese).
    verbose : bool, default False
        Show a progress bar.

    Returns
    -------
    list of Path
        ``index.html`` first, then the village pages in index order (:func:`village_page_name`), then the
        shared assets (``assets/…``).

    Raises
    ------
    MapError
        If two villages have the same ``village_key`` (their pages would be one file), or it is missing.

    Notes
    -----
    A page shows on top the links (index, previous, next village), the project name, the notice, the
    示例数据 label, the approximate-zones label when the lake zones are buffers, the village and the data
    dates; then the map (:func:`~kmrv_geo.webmap.village_pagemap.village_map`); then the legend, the
    "no plan" notice, the profile figures (a 重点村 without a theme says 缺少主题), land use before and
    after (two pictures and the table by category from ``context.landuse_change``) and the findings list.
    The index sorts by any column when its heading is clicked and filters by category, county, township
    and "has findings".

    Examples
    --------
    >>> ctx = VillagePageContext(landuse_t0=t0, landuse_t1=t1, pbf=pbf, village_plan=plan, title="滇池示范",
    ...                          t0_year=2022, t1_year=2023)  # doctest: +SKIP
    >>> write_village_pages("out/villages", profiles, review, ctx)  # doctest: +SKIP
    """
    context = context or VillagePageContext()
    check_lang(context.lang)
    if "village_key" not in profiles:
        raise MapError("village pages need the profiles' village_key column (the village code or #row); "
                       f"the profiles have {', '.join(map(str, profiles.columns))}")
    profiles = profiles.reset_index(drop=True)
    keys = profiles["village_key"].map(text_of)
    names_of = keys.map(village_page_name)
    dup = names_of[names_of.duplicated(keep=False)]
    if len(dup):
        raise MapError(f"village pages need one village per village_key; {dup.size} villages share keys "
                       f"({', '.join(sorted(set(keys[dup.index]))[:5])}): make the village codes unique")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    order = village_order(profiles)
    names = names_of.to_dict()
    layers = prepare_layers(context)
    if review is not None and review.crs is not None and profiles.crs is not None and review.crs != profiles.crs:
        review = review.to_crs(profiles.crs)

    def write_block(start: int, stop: int) -> tuple[list[Path], dict, dict[str, str]]:
        """Write the pages ``order[start:stop]``; their paths, finding counts and the shared assets they link."""
        written, found, linked = [], {}, {}
        for i in range(start, stop):
            label = order[i]
            row = profiles.loc[label]
            findings = village_findings(review, keys[label], context.lang)
            found[label] = len(findings) if review is not None else int(_number(row.get("findings"), 0) or 0)
            page, files = _village_page(row, profiles.loc[[label]], findings, context, layers,
                                        prev=names[order[i - 1]] if i > 0 else None,
                                        next_=names[order[i + 1]] if i + 1 < len(order) else None,
                                        number=i + 1, total=len(order))
            linked.update(files)
            path = out / names[label]
            path.write_text(page, encoding="utf-8")
            written.append(path)
        return written, found, linked

    paths: list[Path] = []
    counts: dict = {}
    assets: dict[str, str] = {}
    with tqdm(total=len(order), disable=not verbose, desc="村庄页面 village pages") as bar:
        for written, found, linked in map_blocks(write_block, len(order), block=PAGE_BLOCK, bar=bar):
            paths += written
            counts |= found
            assets.update(linked)
    index = out / INDEX
    index.write_text(_index_page(profiles, order, names, counts, context), encoding="utf-8")
    asset_paths = []
    for name, text in sorted(assets.items()):
        (out / ASSETS).mkdir(exist_ok=True)
        asset_paths.append(out / ASSETS / name)
        asset_paths[-1].write_text(text, encoding="utf-8")
    logger.info("wrote %d village pages, %s and %d shared assets", len(paths), index, len(asset_paths))
    return [index, *paths, *asset_paths]
