"""``index.html`` of an output folder: headline figures, charts as inline SVG, the county table, links.

The tables are built by hand (three counties, one named to break HTML). The page is opened in Debian's
headless Chromium (``browser`` fixture of ``conftest.py``) with every request that is not the page's own
file aborted and recorded, as the field-check pages are (``tests/test_fieldcheck.py``).
"""

from __future__ import annotations

import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import unquote, urlparse

import altair as alt
import numpy as np
import pandas as pd
import pytest

from kmrv_geo.errors import MapError
from kmrv_geo.webmap.run_page import (
    RunPageData,
    _svg,
    output_files,
    run_page_data,
    run_page_html,
    write_run_page,
)

HOSTILE = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
CODES = ["530112", "530111", "530181"]
NAMES = ["西山区", HOSTILE, "安宁市"]
FILES = ["maps/violations.html", "maps/coverage.html", "tables/violations_by_county.csv",
         "tables/balances_by_county.csv", "report.xlsx", "results.gpkg", "manifest.json", "villages/index.html",
         "villages/v1.html", "villages/assets/kmrv_layer.js", "fieldcheck/index.html", "fieldcheck/图斑.kml",
         "fieldcheck/核查表.xlsx", "fieldcheck/1_JC1.html", "data/demo.gpkg"]
PRINT_WIDTH_PX = round((210 - 2 * 12) / 25.4 * 96)
"""The printable width of A4 with the page's 12 mm margins, in CSS px (≈ 703)."""


def tables() -> dict[str, pd.DataFrame]:
    return {
        "violations_by_county": pd.DataFrame({
            "county_code": CODES, "county_name": NAMES, "illegal_mu": [12.5, 3.25, 0.0],
            "illegal_on_pbf_mu": [2.0, 0.5, 0.0], "nongrain_on_pbf_mu": [4.0, 1.0, 7.75],
            "nonagri_mu": [20.0, 5.0, 1.0]}),
        "balances_by_county": pd.DataFrame({
            "county_code": CODES, "county_name": NAMES, "occupation_balance_mu": [-3.0, 2.0, 0.0],
            "occupation_pass": [False, True, True], "in_out_balance_mu": [1.0, -0.5, -2.0],
            "in_out_pass": [True, False, False]}),
        "coverage_by_county": pd.DataFrame({
            "county_code": CODES, "county_name": NAMES, "pbf_mu": [1000.0, 500.0, 800.0],
            "hsf_on_pbf_mu": [600.0, 500.0, 100.0], "pbf_coverage": [0.6, 1.0, 0.125]}),
        "abandoned_by_county": pd.DataFrame({
            "county_code": CODES[:2], "county_name": NAMES[:2], "abandoned_mu": [8.0, 2.5],
            "abandoned_on_pbf_mu": [1.0, 0.0]}),
        "judged_by_county": pd.DataFrame({
            "county_code": CODES, "county_name": NAMES, "patches": [5, 3, 2], "legal_patches": [1, 1, 2],
            "illegal_patches": [3, 1, 0], "to_check_patches": [1, 1, 0], "illegal_mu": [7.0, 1.5, 0.0],
            "illegal_pbf_mu": [1.0, 0.0, 0.0]}),
        "village_review": pd.DataFrame({
            "village_key": ["v1", "v1", "v2"], "village": ["大河村", "大河村", HOSTILE],
            "finding": ["planned_on_pbf", "built_outside_boundary", "planned_on_pbf"],
            "finding_text": ["规划建设占用永久基本农田", "村庄建设边界外现状建设", SCRIPT],
            "area_mu": [1.0, 2.0, 3.0]}),
    }  # fmt: skip


def page_data(**changes) -> RunPageData:
    data = RunPageData(project=f"昆明示范{HOSTILE}", synthetic=True, notice=f"内部资料 注意保密{SCRIPT}", lang="zh",
                       dates={"T0": "2022", "T1": "2023"}, area_label="椭球面积（CGCS2000 椭球，与三调统计口径一致）",
                       tables=tables(), files=[*FILES, "tables/gone.csv"],
                       inputs={f"/data/{HOSTILE}.gpkg": "ab" * 32, "/data/t1.gpkg": "cd" * 32},
                       versions={"kmrv-geo": "0.1.0", "geopandas": "1.0.1"},
                       warnings=[f"图层 {HOSTILE} 有 3 个要素被修复", "第二条"], area_kind="ellipsoidal")
    for key, value in changes.items():
        setattr(data, key, value)
    return data


def output_folder(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    for name in FILES:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text("x", encoding="utf-8")
    return out


class Page:
    """A page opened with every request recorded and every non-file request aborted."""

    def __init__(self, browser, path, width=1100):
        self.url = path.resolve().as_uri()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = page = browser.new_page(viewport={"width": width, "height": 900})
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        page.goto(self.url)

    def figures(self) -> dict[str, tuple[str, str]]:
        """``data-figure`` → (text shown, ``data-value``)."""
        return self.page.evaluate("Object.fromEntries([...document.querySelectorAll('[data-figure]')].map("
                                  "e => [e.dataset.figure, [e.textContent, e.dataset.value]]))")

    def column(self, key: str, attribute: str = "data-v") -> list[str]:
        index = self.page.evaluate(f"[...document.querySelectorAll('#rp-counties thead th')]"
                                   f".findIndex(th => th.dataset.key === '{key}')")
        assert index >= 0, key
        return self.page.evaluate(f"[...document.querySelectorAll('#rp-counties tbody tr')]"
                                  f".map(tr => tr.cells[{index}].getAttribute('{attribute}'))")

    def footer(self, key: str) -> str:
        index = self.page.evaluate(f"[...document.querySelectorAll('#rp-counties thead th')]"
                                   f".findIndex(th => th.dataset.key === '{key}')")
        return self.page.evaluate(f"document.querySelector('#rp-counties tfoot tr').cells[{index - 1}].textContent")


def shown(text: str) -> float:
    """A figure as shown (``1,234.50``, ``52.2%``) as a number."""
    text = text.replace(",", "").strip()
    return float(text[:-1]) / 100 if text.endswith("%") else float(text)


@pytest.mark.browser
def test_page_offline_figures_equal_tables_charts_sort_links_print(browser, tmp_path):
    out = output_folder(tmp_path)
    path = write_run_page(out, page_data())
    assert path == out / "index.html"
    view = Page(browser, path)
    try:
        page, t = view.page, tables()
        assert [u for u in view.requests if u != view.url] == []
        body = page.locator("body").inner_text()
        assert "示例数据（合成）" in body and "内部资料 注意保密" + SCRIPT in body
        assert "T0 2022" in body and "T1 2023" in body and "椭球面积（CGCS2000" in body
        # hostile text shown as text, nothing made from it
        assert page.evaluate("document.querySelectorAll('img, script:not(:last-of-type)').length") == 0
        assert page.evaluate("document.scripts.length") == 1
        assert page.title() == f"昆明示范{HOSTILE} · 耕地变化核查成果"
        assert HOSTILE in page.locator("h1").inner_text()
        assert page.locator(f'#rp-counties tr[data-county="{CODES[1]}"] td').nth(1).inner_text() == HOSTILE
        assert f"图层 {HOSTILE} 有 3 个要素被修复" in page.locator("#rp-warnings").inner_text()
        assert f"/data/{HOSTILE}.gpkg" in page.locator("#rp-inputs").inner_text()
        assert "geopandas" in page.locator("#rp-versions").inner_text()

        # every headline figure is the sum of the county rows: of the input tables and of the table shown
        figures = view.figures()
        v, b, c, a, j = (t[k] for k in ("violations_by_county", "balances_by_county", "coverage_by_county",
                                         "abandoned_by_county", "judged_by_county"))
        for key, frame in (("illegal_mu", v), ("illegal_on_pbf_mu", v), ("nongrain_on_pbf_mu", v),
                           ("abandoned_mu", a), ("illegal_patches", j), ("to_check_patches", j),
                           ("legal_patches", j)):
            expected = frame[key].sum()
            assert shown(figures[key][0]) == pytest.approx(round(expected, 2)), key
            assert float(figures[key][1]) == pytest.approx(expected), key
            cells = [float(x) for x in view.column(key) if x]  # '' where a county has no figure
            assert sum(cells) == pytest.approx(expected), key
            assert shown(view.footer(key)) == pytest.approx(round(expected, 2)), key
        assert shown(figures["abandoned_on_pbf_mu"][0]) == a["abandoned_on_pbf_mu"].sum()
        assert shown(figures["judged_illegal_mu"][0]) == j["illegal_mu"].sum()
        assert shown(figures["patches"][0]) == j["patches"].sum()
        share = c["hsf_on_pbf_mu"].sum() / c["pbf_mu"].sum()
        assert float(figures["pbf_coverage"][1]) == pytest.approx(share)
        assert figures["pbf_coverage"][0] == f"{share:.1%}" == view.footer("pbf_coverage")
        assert shown(figures["pbf_gap_mu"][0]) == c["pbf_mu"].sum() - c["hsf_on_pbf_mu"].sum()
        coverage = dict(zip(view.column("county_code"), map(float, view.column("pbf_coverage")), strict=True))
        assert coverage == pytest.approx(dict(zip(c["county_code"], c["pbf_coverage"], strict=True)))
        for kind in ("occupation", "in_out"):
            flags = view.column(f"{kind}_pass", "data-pass")
            assert int(figures[f"{kind}_pass_counties"][0]) == flags.count("1") == b[f"{kind}_pass"].sum()
            assert int(figures[f"{kind}_fail_counties"][0]) == flags.count("0") == (~b[f"{kind}_pass"]).sum()
            assert sorted(float(x) for x in view.column(f"{kind}_pass")) == sorted(b[f"{kind}_balance_mu"])
        assert "未达标" in page.locator(f'#rp-counties tr[data-county="{CODES[0]}"]').inner_text()
        assert int(figures["village_findings"][0]) == 3 and int(figures["villages_with_findings"][0]) == 2
        review = page.locator("#rp-review tbody tr").all_inner_texts()
        assert len(review) == 2 and review[0].startswith("村庄建设边界外现状建设")  # in the analysis' order

        # charts are inline SVG with marks, one per part
        charts = page.evaluate("[...document.querySelectorAll('figure.rp-chart > svg')].map(s => "
                               "[s.dataset.chart, s.namespaceURI, s.querySelectorAll('path, rect').length])")
        assert [k for k, _, _ in charts] == ["violations", "balances", "coverage", "abandoned", "judged", "review"]
        assert all(ns == "http://www.w3.org/2000/svg" and marks > 3 for _, ns, marks in charts)
        ids = page.evaluate("[...document.querySelectorAll('[id]')].map(e => e.id)")
        assert len(ids) == len(set(ids))

        # sorting by a number, both ways; by the name
        page.locator('#rp-counties th[data-key="illegal_mu"]').click()
        assert [float(x) for x in view.column("illegal_mu")] == sorted(v["illegal_mu"])
        page.locator('#rp-counties th[data-key="illegal_mu"]').click()
        assert [float(x) for x in view.column("illegal_mu")] == sorted(v["illegal_mu"], reverse=True)
        assert view.column("county_code")[0] == "530112"
        page.locator('#rp-counties th[data-key="occupation_pass"]').click()
        assert [float(x) for x in view.column("occupation_pass")] == sorted(b["occupation_balance_mu"])
        page.locator('#rp-counties th[data-key="abandoned_mu"]').click()
        assert view.column("abandoned_mu")[-1] == ""  # a county without the figure sorts last
        page.locator('#rp-counties th[data-key="county_code"]').click()
        assert view.column("county_code") == sorted(CODES)

        # links: relative, each to a file that exists; pages inside a folder reached from its index
        hrefs = page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))")
        files = [unquote(h) for h in hrefs if not h.startswith("#")]
        assert all(not urlparse(h).scheme and not h.startswith("/") for h in files)
        assert all((out / f).is_file() for f in files)
        assert set(files) == set(FILES) - {"villages/v1.html", "villages/assets/kmrv_layer.js",
                                           "fieldcheck/1_JC1.html"}
        assert "tables/gone.csv" not in files
        group = "(a => a.closest('ul').previousElementSibling.textContent)"
        assert page.evaluate(f"{group}(document.querySelector('a[href=\"data/demo.gpkg\"]'))") == "其他文件"
        assert page.evaluate(f"{group}(document.querySelector('a[href=\"report.xlsx\"]'))") == "汇总与图层"
        villages = page.locator("#rp-files li", has_text="villages/index.html").inner_text()
        assert villages.endswith("另有 1 个页面，从目录进入")
        anchors = [h[1:] for h in hrefs if h.startswith("#")]
        assert all(page.locator(f"#{a}").count() == 1 for a in anchors)
        page.locator('a[href="maps/violations.html"]').click()
        page.wait_for_url((out / "maps/violations.html").as_uri())
        assert view.errors == []
    finally:
        view.page.close()


@pytest.mark.browser
def test_page_prints_with_charts_and_table_inside_the_page(browser, tmp_path):
    path = write_run_page(output_folder(tmp_path), page_data())
    view = Page(browser, path, width=PRINT_WIDTH_PX)
    try:
        page = view.page
        page.emulate_media(media="print")
        boxes = page.evaluate("[...document.querySelectorAll('figure.rp-chart > svg, #rp-counties')].map(e => {"
                              " const r = e.getBoundingClientRect(); return [r.left, r.right, r.width]; })")
        assert len(boxes) == 7
        assert all(left >= 0 and right <= PRINT_WIDTH_PX + 0.5 and width > 200 for left, right, width in boxes)
        assert page.evaluate("document.documentElement.scrollWidth") <= PRINT_WIDTH_PX
        breaks = page.evaluate("[...document.querySelectorAll('figure.rp-chart')]"
                               ".map(f => getComputedStyle(f).breakInside)")
        assert set(breaks) == {"avoid"}
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", pdf)) >= 2
        assert view.errors == [] and [u for u in view.requests if u != view.url] == []
    finally:
        view.page.close()


@pytest.mark.browser
def test_only_violations_in_english(browser, tmp_path):
    only = {"violations_by_county": tables()["violations_by_county"]}
    data = page_data(lang="en", tables=only, synthetic=False, notice=None, files=["maps/violations.html"])
    path = write_run_page(tmp_path, data)
    html = path.read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "示例数据" not in html and "内部资料" not in html
    assert "Illegal conversion of farmland" in html and "Not in this run: balances, HSF coverage" in html
    assert "illegal (mu, ellipsoidal)" in html  # headings name the area kind
    view = Page(browser, path)
    try:
        page = view.page
        assert page.evaluate("document.querySelectorAll('figure.rp-chart > svg').length") == 1
        keys = page.evaluate("[...document.querySelectorAll('#rp-counties thead th')].map(th => th.dataset.key)")
        assert keys == ["county_code", "county_name", "illegal_mu", "illegal_on_pbf_mu", "nongrain_on_pbf_mu"]
        figures = view.figures()
        assert set(figures) == {"illegal_mu", "illegal_on_pbf_mu", "nongrain_on_pbf_mu"}
        assert shown(figures["illegal_mu"][0]) == 15.75
        assert page.locator("#rp-warnings").inner_text().count("\n") == 1
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert page.locator("a[href='maps/violations.html']").count() == 0  # not in the folder: not linked
        assert view.errors == [] and [u for u in view.requests if u != view.url] == []
    finally:
        view.page.close()


def test_not_judged_violations_say_so_and_totals_rows_are_left_out():
    v = tables()["violations_by_county"].assign(illegal_mu=np.nan, illegal_on_pbf_mu=np.nan)
    total = {c: v[c].sum() for c in ("nonagri_mu", "nongrain_on_pbf_mu")} | {"county_code": "", "county_name": "合计"}
    v = pd.concat([v, pd.DataFrame([total])], ignore_index=True)
    html = run_page_html(page_data(tables={"violations_by_county": v}))
    assert 'data-figure="illegal_mu"' not in html and "未判定合法/违法" in html
    assert re.search(r'data-figure="nonagri_mu" data-value="26\.0">26\.00<', html)
    assert re.search(r'data-figure="nongrain_on_pbf_mu" data-value="12\.75">12\.75<', html)
    assert html.count("<tr data-county=") == 3 and 'data-key="nonagri_mu"' in html
    assert "未包含：两个平衡、高标准农田覆盖、撂荒、卫片图斑判定、村庄规划审查" in html


def test_steps_that_found_nothing_show_zero_not_missing():
    empty = {name: frame.iloc[0:0] for name, frame in tables().items()
             if name in ("abandoned_by_county", "judged_by_county", "village_review")}
    html = run_page_html(page_data(tables={"violations_by_county": tables()["violations_by_county"], **empty}))
    assert re.search(r'data-figure="abandoned_mu" data-value="0\.0">0\.00<', html)
    assert re.search(r'data-figure="illegal_patches" data-value="0\.0">0<', html)
    assert re.search(r'data-figure="village_findings" data-value="0\.0">0<', html)
    assert "本次运行未包含：两个平衡、高标准农田覆盖<" in html
    assert re.findall(r'<svg aria-label="[^"]*" data-chart="(\w+)"', html) == ["violations"]
    assert html.count("<tr data-county=") == 3


def test_escaped_everywhere_and_nothing_loaded():
    html = run_page_html(page_data())
    assert HOSTILE not in html and SCRIPT not in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") > 3
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "default-src 'none'" in html  # the page may load nothing
    with pytest.raises(MapError, match="language"):
        run_page_html(page_data(lang="fr"))


def test_a_chart_that_would_load_or_link_is_refused():
    frame = pd.DataFrame({"x": [1], "y": [1], "u": ["https://example.com/x.png"]})
    with pytest.raises(MapError, match="refusing"):
        _svg(alt.Chart(frame).mark_image(width=10, height=10).encode(x="x:Q", y="y:Q", url="u:N"), "t")
    with pytest.raises(MapError, match="refusing"):
        _svg(alt.Chart(frame).mark_point().encode(x="x:Q", y="y:Q", href="u:N"), "t")
    with pytest.raises(Exception, match="not allowed"):  # vl-convert is refused any data URL
        _svg(alt.Chart(alt.UrlData("https://example.com/x.csv")).mark_bar().encode(x="a:Q"), "t")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) is not installed")
def test_charts_render_without_network(tmp_path):
    script = ("import pickle, sys; from kmrv_geo.webmap.run_page import run_page_html; "
              "sys.stdout.write(run_page_html(pickle.load(open(sys.argv[1], 'rb'))))")
    data = tmp_path / "data.pickle"
    data.write_bytes(pickle.dumps(page_data()))
    probe = subprocess.run(["unshare", "-rn", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"no network namespace here: {probe.stderr.decode(errors='replace').strip()}")
    done = subprocess.run(["unshare", "-rn", sys.executable, "-c", script, str(data)], capture_output=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert len(re.findall(r'<svg aria-label="[^"]*" data-chart="', done.stdout.decode("utf-8"))) == 6


def test_output_files_and_run_page_data(tmp_path):
    out = output_folder(tmp_path)
    (out / ".hidden").write_text("x")
    (out / "index.html").write_text("old")
    files = output_files(out)
    assert files == sorted(FILES) and "index.html" not in files
    judged = pd.DataFrame({
        "county_code": ["530112", "530112", "530111"], "county_name": ["西山区", "西山区", HOSTILE],
        "verdict": ["illegal", "legal", "to_check"], "area_mu": [3.0, 2.0, 1.0], "legal_mu": [0.0, 2.0, 0.0],
        "illegal_mu": [3.0, 0.0, 0.0], "to_check_mu": [0.0, 0.0, 1.0], "illegal_pbf_mu": [1.0, 0.0, 0.0],
        "pbf_converted_mu": [1.0, 0.0, 0.0], "pbf_converted_approved_mu": [0.0, 0.0, 0.0]})
    abandoned = pd.DataFrame({"parcel_id": ["a", "b"], "county_code": ["530112", "530111"],
                              "county_name": ["西山区", HOSTILE], "area_mu": [4.0, 1.5], "pbf_mu": [1.0, 0.0],
                              "still_low": [True, False]})
    years = {"landuse_t0": SimpleNamespace(year=2022), "landuse_t1": SimpleNamespace(year=2023)}
    config = SimpleNamespace(name="示范", synthetic=True, notice=None, layers=years,
                             ndvi=lambda: SimpleNamespace(years=[2019, 2023]))
    # ``out`` stands for the staging folder: inputs made inside the run are named where they end up
    project = SimpleNamespace(config=config, inputs={f"{out}/sample/demo.gpkg": "ef" * 32},
                              measure=SimpleNamespace(kind="ellipsoidal", label=lambda lang: "椭球面积"),
                              layer_warnings=lambda: [f"[landuse_t0] 8 parcels' TBMJ … ({out}/sample/demo.gpkg)"])
    results = SimpleNamespace(violations=None, coverage=None, abandonment=SimpleNamespace(abandoned=abandoned),
                              judge=SimpleNamespace(patches=judged), village_review=None, warnings=["w"])
    folder = SimpleNamespace(root=out, target=tmp_path / "final", pending_files=list)
    data = run_page_data(project, results, folder, lang="zh")
    assert data.dates == {"T0": "2022", "T1": "2023", "NDVI": "2019–2023"}
    assert list(data.inputs) == [str(tmp_path / "final/sample/demo.gpkg")]
    assert data.files == sorted(FILES) and "python" in data.versions
    # the layers' check warnings first, then the steps'; paths named where they end up
    assert data.warnings == [f"[landuse_t0] 8 parcels' TBMJ … ({tmp_path / 'final'}/sample/demo.gpkg)", "w"]
    assert set(data.tables) == {"abandoned_by_county", "judged_by_county"}
    assert data.tables["judged_by_county"]["illegal_patches"].sum() == 1
    html = run_page_html(data)
    assert re.search(r'data-figure="abandoned_mu" data-value="5\.5">5\.50<', html)
    assert re.search(r'data-figure="to_check_patches" data-value="1\.0">1<', html)
