"""Patch pages for the field team: one printable HTML page per patch, and an index page linking them.

One page per patch (with 上一个/下一个 links and a link back to the index), not one page holding every
patch: a page then carries only its own patch's surroundings (tens of kilobytes), opens quickly on a
phone and prints as one A4 sheet; a single page would carry every patch's land use at once and grow with
the number of patches.

Each page is offline: Leaflet and our scripts are files in ``assets/`` beside the pages, shared by all of them
(:func:`~kmrv_geo.webmap.assets.shared_assets_html`; inlined, each page would carry 300 kB of Leaflet and a
county's thousand patches 300 MB) — copy the whole ``fieldcheck`` folder, not a single page;
no tile basemap unless the context names one (its tiles then simply fail to load without a network).
Every text from the data is HTML-escaped (map attributes by :func:`~kmrv_geo.webmap.encode.encode_layer`).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm import tqdm

from ..landuse import code_name
from ..parallel import map_blocks
from ..text import escape_html as esc
from ..webmap.assets import shared_assets_html
from ..webmap.elements import RawHtml
from ..webmap.encode import to_script_json
from .labels import (
    OTHER_COLOUR,
    SYNTHETIC,
    VERDICT_COLOURS,
    VERDICTS,
    after_use,
    check_lang,
    field_entries,
    prefilled_words,
    text_of,
    verdict_words,
)  # fmt: skip
from .patchmap import PageContext, PageLayer, PagePatch, PatchLayers, map_of, nearby_layers, patch_layers

logger = logging.getLogger(__name__)

INDEX = "index.html"
ASSETS = "assets"
"""Folder (beside the pages) of the Leaflet and map scripts every page shares (offline, one copy)."""
MAP_HEIGHT_MM = 112
PAGE_BLOCK = 200
"""Pages one worker process writes at a time (:func:`~kmrv_geo.parallel.map_blocks`; fewer: no workers)."""
TEXT = {
    "zh": {"index": "图斑目录", "prev": "← 上一个", "next": "下一个 →", "title": "外业核查图斑", "no": "序号",
           "patch_id": "图斑编号", "location": "位置", "county": "区县", "township": "乡镇", "village": "村",
           "lonlat": "经纬度（WGS84）", "area": "面积", "mu": "亩", "land": "涉及", "farmland": "耕地",
           "pbf": "永久基本农田", "erl": "生态保护红线", "approved": "已批准", "verdict": "预判结论",
           "partly": "（图斑内各部分结论不同，见预判依据）", "reasons": "预判依据", "approval_refs": "批准文号",
           "facility_refs": "设施农用地备案", "temporary_refs": "临时用地", "supplement_refs": "补充耕地项目",
           "t0_classes": "前时相地类", "after": "现状地类", "image_date": "影像日期", "dates": "数据时相",
           "t0": "前时相 {year} 年", "t1": "后时相 {year} 年", "legend": "图例", "field": "外业核查（现场填写）",
           "field_use": "实际用途", "field_verdict": "核查结论", "choices": "□ 合法　□ 违法　□ 待核实",
           "photos": "照片编号", "checker": "核查人", "date": "核查日期", "count": "共 {n} 个图斑：{parts}",
           "sort": "点击表头排序", "ellipsoidal": "椭球", "planar": "平面"},
    "en": {"index": "Patch index", "prev": "← previous", "next": "next →", "title": "Field-check patches",
           "no": "no.", "patch_id": "patch id", "location": "location", "county": "county", "township": "township",
           "village": "village", "lonlat": "lon, lat (WGS84)", "area": "area", "mu": "mu", "land": "on",
           "farmland": "farmland", "pbf": "permanent basic farmland", "erl": "ecological red line",
           "approved": "approved", "verdict": "preliminary verdict",
           "partly": " (parts of the patch differ, see grounds)",
           "reasons": "grounds", "approval_refs": "approvals", "facility_refs": "facility filings",
           "temporary_refs": "temporary use", "supplement_refs": "supplement projects", "t0_classes": "use before (T0)",
           "after": "current use", "image_date": "image date", "dates": "data dates", "t0": "T0 {year}",
           "t1": "T1 {year}", "legend": "Legend", "field": "Field check (fill in on site)", "field_use": "actual use",
           "field_verdict": "field verdict", "choices": "□ legal　□ illegal　□ to check", "photos": "photo ids",
           "checker": "checked by", "date": "date", "count": "{n} patches: {parts}", "sort": "click a heading to sort",
           "ellipsoidal": "ellipsoidal", "planar": "planar"},
}  # fmt: skip

BASE_CSS = """
@page { size: A4 portrait; margin: 10mm; }
html, body { height: auto !important; width: auto !important; }
body { max-width: 190mm; margin: 0 auto !important; padding: 4px !important; color: #222;
  font: 13px/1.45 "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif; }
.fc-notice { color: #b00000; font-weight: bold; }
.fc-nav { margin: 4px 0; } .fc-nav a { margin-right: 1.5em; }
h1 { font-size: 17px; margin: 4px 0; }
table.fc { border-collapse: collapse; width: 100%; }
table.fc th, table.fc td { border: 1px solid #bbb; padding: 2px 5px; text-align: left; vertical-align: top; }
table.fc td { white-space: pre-wrap; word-break: break-word; }
table.fc th { background: #f0f0f0; font-weight: normal; color: #444; white-space: nowrap; }
.fc-verdict { font-weight: bold; }
@media print { .fc-nav { display: none !important; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""
PAGE_CSS = BASE_CSS + f"""
body {{ display: flex; flex-direction: column; }}
.fc-head {{ order: 0; }}
.folium-map {{ order: 1; position: relative !important; left: 0 !important; top: 0 !important;
  width: 100% !important; height: {MAP_HEIGHT_MM}mm !important; border: 1px solid #999; box-sizing: border-box; }}
.fc-info {{ order: 2; }}
table.fc-figures th {{ width: 26mm; }}
.fc-legend {{ margin: 3px 0; font-size: 12px; }}
.fc-legend span {{ margin-right: 1em; white-space: nowrap; }}
.fc-legend i {{ display: inline-block; width: 11px; height: 11px; margin-right: 3px; vertical-align: middle;
  border: 1px solid #555; opacity: .75; }}
table.fc-form th {{ width: 26mm; }}
table.fc-form td {{ height: 7mm; width: 35%; }}
@media print {{
  body {{ font-size: 10pt; padding: 0 !important; }}
  table.fc {{ font-size: 9pt; }}
  .leaflet-control-layers, .leaflet-control-zoom, .leaflet-bar, .leaflet-control-measure {{ display: none !important; }}
  .fc-head, .folium-map, .fc-info {{ break-inside: avoid; }}
}}
"""
INDEX_CSS = "#fc-index td:nth-child(-n+3), #fc-index td:nth-child(n+6):nth-child(-n+7) { white-space: nowrap; }"
SORT_JS = """
(function () {
  var table = document.getElementById("fc-index"), body = table.tBodies[0], heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.style.cursor = "pointer";
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows), num = th.classList.contains("num");
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-v"), y = b.cells[col].getAttribute("data-v");
        var r = num ? parseFloat(x) - parseFloat(y) : x.localeCompare(y, "zh");
        return asc ? r : -r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
})();
"""



def page_name(number: int, patch_id) -> str:
    """File name of a patch page: its number in the index and the patch number's safe characters.

    Examples
    --------
    >>> page_name(7, "JC530112-0007"), page_name(8, "<img src=x>")
    ('0007_JC530112-0007.html', '0008_img_src_x.html')
    """
    safe = re.sub(r"[^0-9A-Za-z_-]+", "_", text_of(patch_id)).strip("_")[:60]
    return f"{number:04d}_{safe}.html" if safe else f"{number:04d}.html"


def patch_order(judged: pd.DataFrame) -> list:
    """Index labels of the patches in page order: by county, township, village, then patch number (the
    order a field team visits them in).
    """
    keys = pd.DataFrame({c: judged[c].map(text_of) if c in judged else "" for c in
                         ("county_code", "township", "village", "patch_id")}, index=judged.index)
    return list(keys.sort_values(list(keys.columns), kind="stable").index)


def _number(value, digits: int = 2) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if number != number else f"{number:.{digits}f}"


def t0_classes_text(value, lang: str) -> str:
    """``0103:12.40;0702:0.80`` as ``0103 旱地 12.40 亩；0702 农村宅基地 0.80 亩`` (as written when not that form)."""
    raw = text_of(value)
    parts = [p.strip() for p in re.split(r"[;；]", raw) if p.strip()]
    out = []
    for part in parts:
        match = re.fullmatch(r"([0-9A-Za-z]+)\s*[:：]\s*([0-9.]+)", part)
        if not match:
            return raw
        code, mu = match.groups()
        name = code_name(code) if lang == "zh" else ""
        out.append(" ".join(p for p in (code, name, f"{float(mu):.2f}", TEXT[lang]["mu"]) if p))
    return "；".join(out) if lang == "zh" else "; ".join(out)


def figures(row, context: PageContext) -> list[tuple[str, str, str]]:
    """The rows of a patch's table: (label, escaped value HTML, CSS class)."""
    lang = context.lang
    text = TEXT[lang]
    mu = text["mu"]
    place = " ".join(t for t in (text_of(row.get("county_name")), text_of(row.get("township")),
                                 text_of(row.get("village"))) if t)
    area = f"{_number(row.get('area_mu'))} {mu}"
    kinds = [(text["ellipsoidal"], row.get("area_mu_ellipsoidal")), (text["planar"], row.get("area_mu_planar"))]
    kinds_text = "，".join(f"{k} {_number(v)}" for k, v in kinds if _number(v))
    if kinds_text:
        area += f"（{kinds_text}）" if lang == "zh" else f" ({kinds_text})"
    land = [(text[k], row.get(f"{k}_mu")) for k in ("farmland", "pbf", "erl", "approved")]
    land_text = ("；" if lang == "zh" else "; ").join(f"{k} {_number(v)} {mu}" for k, v in land if _number(v))
    verdict = prefilled_words(row, lang) + (text["partly"] if bool(row.get("partly", False)) else "")
    colour = VERDICT_COLOURS.get(text_of(row.get("verdict")), OTHER_COLOUR)
    lon, lat = _number(row.get("lon"), 6), _number(row.get("lat"), 6)
    dates = [text["t0"].format(year=esc(context.t0_year)) if context.t0_year else "",
             text["t1"].format(year=esc(context.t1_year)) if context.t1_year else ""]
    rows = [
        (text["patch_id"], esc(row.get("patch_id")), ""),
        (text["location"], esc(place), ""),
        (text["lonlat"], f"{lon}, {lat}" if lon and lat else "", ""),
        (text["area"], esc(area), ""),
        (text["land"], esc(land_text), ""),
        (text["verdict"], f'<span style="color:{colour}">{esc(verdict)}</span>', "fc-verdict"),
        (text["reasons"], esc(row.get("reason_text")), ""),
        *[(text[k], esc(row.get(k)), "") for k in ("approval_refs", "facility_refs", "temporary_refs",
                                                   "supplement_refs") if text_of(row.get(k))],
        (text["t0_classes"], esc(t0_classes_text(row.get("t0_classes"), lang)), ""),
        (text["after"], esc(after_use(row)), ""),
        (text["image_date"], esc(row.get("image_date")), ""),
        (text["dates"], "，".join(d for d in dates if d) if lang == "zh" else ", ".join(d for d in dates if d), ""),
    ]
    return rows


def _head_lines(context: PageContext, title: str) -> str:
    lines = [f"<h1>{esc(title)}</h1>"]
    notice = [t for t in (text_of(context.notice), SYNTHETIC[context.lang] if context.synthetic else "") if t]
    if notice:
        lines.append(f'<div class="fc-notice">{esc("　".join(notice))}</div>')
    return "".join(lines)


SLOT = "@@kmrv-fc-{}@@"
"""Placeholders of a page template, filled per page (:func:`_fill`)."""


def _layer_token(k: int) -> str:
    return str(to_script_json({"kmrv_slot": k}))


def _page_template(drawn: PatchLayers, context: PageContext) -> tuple[str, dict[str, str]]:
    """The HTML of every page whose map has ``drawn``'s shape, with placeholders for what differs per page.

    Folium renders one map per shape (which layers, in which order, named how); each page then takes its
    layers' data, view, title, heading and figures in place of the placeholders. Rendering every page's map
    took 40 ms a page (an hour for a province's 100k patches); filling a template takes well under one.

    Returns
    -------
    tuple
        (the template, ``{file name: text}`` of the shared assets it links).
    """
    slots = PatchLayers([PageLayer(layer.key, layer.name, layer.show, {"kmrv_slot": k})
                         for k, layer in enumerate(drawn.layers)], [], SLOT.format("bounds"))
    fmap = map_of(slots, context)
    root = fmap.get_root()
    root.title = SLOT.format("title")
    root.header.add_child(RawHtml(f"<style>{PAGE_CSS}</style>"), name="fc_css")
    root.html.add_child(RawHtml(SLOT.format("head")), name="fc_head")
    root.html.add_child(RawHtml(SLOT.format("info")), name="fc_info")
    html, files = shared_assets_html(fmap, ASSETS)
    needed = [_layer_token(k) for k in range(len(drawn.layers))] + [
        json.dumps(SLOT.format("bounds")), SLOT.format("title"), SLOT.format("head"), SLOT.format("info")]
    missing = [token for token in needed if html.count(token) != 1]
    if missing:
        raise AssertionError(f"patch page template: placeholders not found once: {missing}")
    return html, files


def _fill(template: str, values: dict[str, str]) -> str:
    """The template with each placeholder replaced by its value, in one pass (a value is never searched)."""
    pattern = re.compile("|".join(re.escape(token) for token in values))
    return pattern.sub(lambda match: values[match.group(0)], template)


def _patch_page(row, patch: PagePatch, context: PageContext, nearby: dict, templates: dict, *,
                prev: str | None, next_: str | None, number: int, total: int) -> tuple[str, dict[str, str]]:
    text = TEXT[context.lang]
    drawn = patch_layers(patch, context, nearby)
    if drawn.shape not in templates:
        templates[drawn.shape] = _page_template(drawn, context)
    template, files = templates[drawn.shape]
    title = " · ".join(t for t in (text_of(context.title), text_of(row.get("patch_id"))) if t)
    links = [f'<a class="fc-index-link" href="{INDEX}">{esc(text["index"])}（{number}/{total}）</a>']
    if prev:
        links.append(f'<a class="fc-prev" rel="prev" href="{esc(prev)}">{esc(text["prev"])}</a>')
    if next_:
        links.append(f'<a class="fc-next" rel="next" href="{esc(next_)}">{esc(text["next"])}</a>')
    head = (f'<div class="fc-head"><nav class="fc-nav">{"".join(links)}</nav>'
            f"{_head_lines(context, title or text['title'])}</div>")
    legend_html = "".join(f'<span><i style="background:{esc(c)}"></i>{esc(label)}</span>'
                          for c, label in drawn.legend)
    table = "".join(f'<tr><th>{esc(label)}</th><td class="{cls}">{value}</td></tr>'
                    for label, value, cls in figures(row, context))
    done = field_entries(row, context.lang)  # what a returned sheet said, else blanks to fill in
    form = (f'<table class="fc fc-form"><caption style="text-align:left">{esc(text["field"])}</caption>'
            f'<tr><th>{esc(text["field_use"])}</th><td colspan="3">{esc(done["field_use"])}</td></tr>'
            f'<tr><th>{esc(text["field_verdict"])}</th><td>{esc(done["field_verdict"] or text["choices"])}</td>'
            f'<th>{esc(text["photos"])}</th><td>{esc(done["photo_ids"])}</td></tr>'
            f'<tr><th>{esc(text["checker"])}</th><td>{esc(done["checker"])}</td><th>{esc(text["date"])}</th>'
            f'<td>{esc(done["check_date"])}</td></tr></table>')
    info = (f'<div class="fc-info"><div class="fc-legend">{esc(text["legend"])}：{legend_html}</div>'
            f'<table class="fc fc-figures">{table}</table>{form}</div>')
    values = {_layer_token(k): str(to_script_json(layer.spec)) for k, layer in enumerate(drawn.layers)}
    values |= {json.dumps(SLOT.format("bounds")): json.dumps(drawn.bounds), SLOT.format("title"): esc(title),
               SLOT.format("head"): head, SLOT.format("info"): info}
    return _fill(template, values), files


def _index_page(judged: pd.DataFrame, order: list, names: dict, context: PageContext) -> str:
    lang = context.lang
    text = TEXT[lang]
    rank = {v: i for i, v in enumerate(VERDICTS)}
    heads = [("no", "num"), ("patch_id", ""), ("county", ""), ("township", ""), ("village", ""), ("area", "num"),
             ("verdict", "num"), ("reasons", "")]
    rows = []
    for number, label in enumerate(order, start=1):
        row = judged.loc[label]
        verdict = text_of(row.get("verdict"))
        colour = VERDICT_COLOURS.get(verdict, OTHER_COLOUR)
        cells = [
            (str(number), str(number)),
            (esc(row.get("patch_id")), f'<a href="{esc(names[label])}">{esc(row.get("patch_id"))}</a>'),
            *[(esc(row.get(c)), esc(row.get(c))) for c in ("county_name", "township", "village")],
            (_number(row.get("area_mu")) or "0", _number(row.get("area_mu"))),
            (str(rank.get(verdict, len(VERDICTS))), f'<b style="color:{colour}">{esc(verdict_words(row, lang))}</b>'),
            (esc(row.get("reason_text")), esc(row.get("reason_text"))),
        ]
        rows.append("<tr>" + "".join(f'<td data-v="{v}">{shown}</td>' for v, shown in cells) + "</tr>")
    counts = judged["verdict"].map(text_of).value_counts() if "verdict" in judged else pd.Series(dtype=int)
    words = {v: verdict_words({"verdict": v}, lang) for v in counts.index}
    parts = ("，" if lang == "zh" else ", ").join(f"{words[v]} {n}" for v, n in counts.items())
    title = " · ".join(t for t in (text_of(context.title), text["title"]) if t)
    dates = [text["t0"].format(year=esc(context.t0_year)) if context.t0_year else "",
             text["t1"].format(year=esc(context.t1_year)) if context.t1_year else ""]
    date_line = f'<p>{esc(text["dates"])}：{"，".join(d for d in dates if d)}</p>' if any(dates) else ""
    head_cells = "".join(f'<th class="{cls}">{esc(text[key])}{"(" + esc(text["mu"]) + ")" if key == "area" else ""}'
                         "</th>" for key, cls in heads)
    return (f'<!DOCTYPE html><html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f"<style>{BASE_CSS} body {{ max-width: 277mm; }} @page {{ size: A4 landscape; }}"
            f"{INDEX_CSS}</style></head><body>"
            f"{_head_lines(context, title)}<p>{esc(text['count'].format(n=len(order), parts=parts))}"
            f'（{esc(text["sort"])}）</p>{date_line}'
            f'<table class="fc" id="fc-index"><thead><tr>{head_cells}</tr></thead><tbody>{"".join(rows)}</tbody>'
            f"</table><script>{SORT_JS}</script></body></html>")


def write_patch_pages(out_dir: str | Path, judged: gpd.GeoDataFrame, context: PageContext | None = None, *,
                      verbose: bool = False) -> list[Path]:
    """Write one offline, printable page per judged patch and the index page linking them.

    Parameters
    ----------
    out_dir : str or Path
        The folder of the pages (e.g. ``OUT/fieldcheck``; made if missing). Pages written there before
        under other names are left alone (a run writes into a fresh staging folder).
    judged : GeoDataFrame
        One row per judged patch (projected CRS): ``patch_id``, ``county_code``, ``county_name``,
        ``township``, ``village``, ``verdict``, ``verdict_text``, ``partly``, ``reason_text``, the 亩 columns,
        the ``*_refs`` columns, ``t0_classes``, ``after_code``, ``after_name``, ``image_date``, ``lon``, ``lat``.
    context : PageContext, optional
        The layers drawn around each patch and the pages' labels (default: the patch alone, in Chinese).
    verbose : bool, default False
        Show a progress bar.

    Returns
    -------
    list of Path
        ``index.html`` first, then the patch pages in index order (``0001_<patch number>.html``…), then the
        shared assets (``assets/…``).

    Notes
    -----
    Each page shows, on top, the links (index, previous, next), the project name, the notice and the
    示例数据 label; then the map (:func:`~kmrv_geo.fieldcheck.patchmap.patch_map`); then the legend, the
    patch's figures and an empty field-check form. The print style fits the page on one A4 sheet. Pages
    follow the index order: by county, township, village and patch number. The index table sorts by any
    column when its heading is clicked (by urgency for the verdict).

    Examples
    --------
    >>> ctx = PageContext(landuse_t0=t0, landuse_t1=t1, pbf=pbf, title="昆明市示范", t0_year=2022,
    ...                   t1_year=2023)  # doctest: +SKIP
    >>> write_patch_pages("out/fieldcheck", judged, ctx)  # doctest: +SKIP
    """
    context = context or PageContext()
    check_lang(context.lang)
    judged = judged.reset_index(drop=True)  # one row per label, whatever index the caller kept
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    order = patch_order(judged)
    names = {label: page_name(i, judged.loc[label, "patch_id"]) for i, label in enumerate(order, start=1)}
    nearby = nearby_layers(context)  # indexed once for every page
    geoms = np.asarray(judged.geometry.values, dtype=object)

    def write_block(start: int, stop: int) -> tuple[list[Path], dict[str, str]]:
        """Write the pages ``order[start:stop]``; their paths and the shared assets they link."""
        templates: dict[tuple, tuple[str, dict[str, str]]] = {}  # one rendered map per page shape
        written, linked = [], {}
        for i in range(start, stop):
            label = order[i]
            row = judged.loc[label]
            patch = PagePatch(geoms[label], judged.crs, row["patch_id"], str(row["verdict"]),
                              verdict_words(row, context.lang))
            page, files = _patch_page(row, patch, context, nearby, templates,
                                      prev=names[order[i - 1]] if i > 0 else None,
                                      next_=names[order[i + 1]] if i + 1 < len(order) else None, number=i + 1,
                                      total=len(order))
            linked.update(files)
            path = out / names[label]
            path.write_text(page, encoding="utf-8")
            written.append(path)
        return written, linked

    paths: list[Path] = []
    assets: dict[str, str] = {}
    with tqdm(total=len(order), disable=not verbose, desc="图斑核查页 patch pages") as bar:
        for written, linked in map_blocks(write_block, len(order), block=PAGE_BLOCK, bar=bar):
            paths += written
            assets.update(linked)
    index = out / INDEX
    index.write_text(_index_page(judged, order, names, context), encoding="utf-8")
    asset_paths = []
    for name, text in sorted(assets.items()):
        (out / ASSETS).mkdir(exist_ok=True)
        asset_paths.append(out / ASSETS / name)
        asset_paths[-1].write_text(text, encoding="utf-8")
    logger.info("wrote %d patch pages, %s and %d shared assets", len(paths), index, len(asset_paths))
    return [index, *paths, *asset_paths]
