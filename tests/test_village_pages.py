"""Village pages for the Dianchi village planner: one offline, printable page per village and an index page.

Three villages are built by hand in EPSG:4543 near Kunming (≈ 102.70°E, 25.04°N): a 重点村 with a theme, a
plan and two findings; a 重点村 keyed by row (``#2``) without a theme or a plan, named to break HTML, with
a finding in lake zone 1; a 绿美村庄 with a plan and no finding. The pages are opened in Debian's headless
Chromium (``browser`` fixture of ``conftest.py``) with every request that is not a file aborted and recorded.
"""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from kmrv_geo.errors import MapError
from kmrv_geo.webmap.assets import save_offline
from kmrv_geo.webmap.common import MapContext, add_layer, finish_map, new_map, web_layer
from kmrv_geo.webmap.encode import Field
from kmrv_geo.webmap.village_pages import VillagePageContext, village_page_name, write_village_pages
from kmrv_geo.webmap.villages import villages_map

CRS = "EPSG:4543"
X0, Y0 = 570000.0, 2770000.0
HOSTILE = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
APPROXIMATE = "湖区保护分区为按湖岸缓冲的近似范围，非官方划定"
NO_PLAN = "该村暂无村庄规划"
KEYS = ["530112101001", "#2", "530112101003"]
FINDING_CODES = ("built_outside_boundary", "new_built_outside_boundary", "planned_on_pbf", "planned_in_erl",
                 "planned_in_udb", "planned_farmland_loss", "new_built_in_lake_zone1", "new_built_in_lake_zone2")


@pytest.fixture
def profiles() -> gpd.GeoDataFrame:
    geoms = [box(X0, Y0, X0 + 600, Y0 + 500), box(X0 + 800, Y0, X0 + 1300, Y0 + 400),
             box(X0, Y0 + 700, X0 + 400, Y0 + 1100)]
    frame = gpd.GeoDataFrame({
        "village_key": KEYS, "village": ["大河村", HOSTILE, "小'河\"村"],
        "category": ["重点村", "重点村", "绿美村庄"], "theme": ["乡村旅游", "", None],
        "county_name": ["西山区", "官渡区", "西山区"], "township": ["碧鸡街道", SCRIPT, "碧鸡街道"],
        "area_mu": [450.0, 300.0, 240.0], "farmland_mu": [210.5, 120.0, 80.25], "pbf_mu": [95.0, 40.0, 0.0],
        "hsf_on_pbf_mu": [60.0, 10.0, 0.0], "pbf_coverage": [0.6316, 0.25, np.nan],
        "construction_t1_mu": [80.0, 60.0, 30.0], "new_construction_mu": [6.5, 4.0, 0.0],
        "illegal_mu": [1.2, 0.0, 0.0], "abandoned_mu": [3.0, 0.0, 1.0], "distance_to_shore_m": [1200.0, 0.0, 2100.0],
        "has_plan": [True, False, True], "planned_construction_mu": [95.0, np.nan, 31.0],
        "construction_change_mu": [15.0, np.nan, 1.0], "findings": [2, 1, 0],
    }, geometry=geoms, crs=CRS)  # fmt: skip
    for code in FINDING_CODES:
        frame[f"{code}_mu"] = [0.0, np.nan if code.startswith("planned") else 0.0, 0.0]
    frame.loc[0, "built_outside_boundary_mu"] = 1.2
    frame.loc[0, "planned_on_pbf_mu"] = 0.9
    frame.loc[1, "new_built_in_lake_zone1_mu"] = 3.75
    return frame


@pytest.fixture
def review() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({
        "village_key": ["530112101001", "530112101001", "#2"], "village": ["大河村", "大河村", HOSTILE],
        "finding": ["planned_on_pbf", "built_outside_boundary", "new_built_in_lake_zone1"],
        "finding_text": [f"规划宅基地占永久基本农田 {SCRIPT}", "现状建设用地在村庄建设边界外", "一级保护区内新增建设"],
        "area_mu": [0.9, 1.2, 3.75],
    }, geometry=[box(X0 + 150, Y0 + 150, X0 + 180, Y0 + 170), box(X0 + 500, Y0 + 400, X0 + 540, Y0 + 420),
                 box(X0 + 900, Y0 + 50, X0 + 950, Y0 + 100)], crs=CRS)  # fmt: skip


def _grid(code_of) -> gpd.GeoDataFrame:
    cells = [(i, j) for i in range(-6, 32) for j in range(-6, 28)]
    codes = [code_of(i, j) for i, j in cells]
    category = {"0103": "farmland", "0301": "other_agricultural", "0702": "construction", "1101": "other"}
    return gpd.GeoDataFrame({"code": codes, "category": [category[c] for c in codes]},
                            geometry=[box(X0 + i * 50, Y0 + j * 50, X0 + (i + 1) * 50, Y0 + (j + 1) * 50)
                                      for i, j in cells], crs=CRS)


@pytest.fixture
def context() -> VillagePageContext:
    t0 = _grid(lambda i, j: "0702" if (i % 7 == 0 and j % 5 == 0) else ("0301" if j > 20 else "0103"))
    t1 = _grid(lambda i, j: "0702" if (i % 7 == 0 and j % 5 == 0) or (i, j) in {(10, 8), (18, 1)}
               else ("1101" if j < -3 else ("0301" if j > 20 else "0103")))
    zones = gpd.GeoDataFrame({"level": ["一级", "二级", "三级"]},
                             geometry=[box(X0 + 700, Y0 - 400, X0 + 2000, Y0 + 150),
                                       box(X0 - 400, Y0 - 400, X0 + 2000, Y0 + 800).difference(
                                           box(X0 + 700, Y0 - 400, X0 + 2000, Y0 + 150)),
                                       box(X0 - 400, Y0 + 800, X0 + 2000, Y0 + 1600)], crs=CRS)
    plan = gpd.GeoDataFrame({
        "code": ["0703", "0103", "0301", "1704", "0703", "0103"], "name": ["农村宅基地", "旱地", "乔木林地", "坑塘水面",
                                                                         "农村宅基地", HOSTILE],
        "plan_class": ["construction", "agricultural", "ecological", "water", "construction", "agricultural"],
    }, geometry=[box(X0, Y0, X0 + 300, Y0 + 250), box(X0 + 300, Y0, X0 + 600, Y0 + 250),
                 box(X0, Y0 + 250, X0 + 600, Y0 + 450), box(X0, Y0 + 450, X0 + 600, Y0 + 500),
                 box(X0, Y0 + 700, X0 + 200, Y0 + 1100), box(X0 + 200, Y0 + 700, X0 + 400, Y0 + 1100)],
        crs=CRS)  # fmt: skip
    boundary = gpd.GeoDataFrame({"village_key": ["530112101001", "530112101003"]},
                                geometry=[box(X0 + 20, Y0 + 20, X0 + 480, Y0 + 380),
                                          box(X0 + 20, Y0 + 720, X0 + 200, Y0 + 1000)], crs=CRS)
    change = pd.DataFrame({
        "village_key": ["530112101001"] * 3 + ["#2"] * 2 + ["530112101003"] * 2,
        "category": ["farmland", "other_agricultural", "construction", "farmland", "construction", "farmland",
                     "construction"],
        "t0_mu": [220.0, 150.0, 73.5, 124.0, 56.0, 81.0, 29.0], "t1_mu": [210.5, 150.0, 80.0, 120.0, 60.0, 80.25, 30.0],
    })  # fmt: skip
    return VillagePageContext(
        landuse_t0=t0, landuse_t1=t1,
        pbf=gpd.GeoDataFrame(geometry=[box(X0 + 100, Y0 + 100, X0 + 400, Y0 + 300)], crs=CRS),
        erl=gpd.GeoDataFrame(geometry=[box(X0 + 1000, Y0 + 200, X0 + 1500, Y0 + 600),
                                       box(X0 + 8000, Y0, X0 + 8500, Y0 + 500)], crs=CRS),
        udb=gpd.GeoDataFrame(geometry=[box(X0 - 300, Y0 + 900, X0 + 100, Y0 + 1300)], crs=CRS),
        lake_zones=zones, lake_zones_approximate=True, village_plan=plan, village_boundary=boundary,
        landuse_change=change, title=f"西山区'示例{{{{ 7*7 }}}}{HOSTILE}", notice="内部资料 注意保密",
        synthetic=True, t0_year=2022, t1_year=2023)


def _pages(paths):
    return [p for p in paths if p.suffix == ".html" and p.parent.name != "assets"]


# --- without a browser -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("key", "name"), [
    ("530112101001", "530112101001.html"), ("#17", "row17.html"), ("530112-1_a", "530112-1_a.html")])
def test_page_names_of_codes_and_rows(key, name):
    assert village_page_name(key) == name


def test_page_names_are_safe_unique_and_deterministic():
    keys = ["#17", "#017", "row17", "index", "INDEX", "con", "ABC", "abc", HOSTILE, "a/b", "a\\b", "../x", "",
            "530112101001", "村?#1", "%2e%2e", "assets"]
    names = [village_page_name(k) for k in keys]
    assert names == [village_page_name(k) for k in keys]
    assert len({n.lower() for n in names}) == len(keys)  # unique, also on a case-insensitive file system
    assert all(re.fullmatch(r"[0-9A-Za-z_-]+\.html", n) for n in names)
    assert not {"index.html", "con.html", "assets.html"} & {n.lower() for n in names}
    assert names[:3] == ["row17.html", "row017.html", village_page_name("row17")] and names[2] != "row17.html"


def test_pages_are_written_offline_small_and_escaped(profiles, review, context, tmp_path):
    paths = write_village_pages(tmp_path / "villages", profiles, review, context)
    pages = _pages(paths)
    assets = [p for p in paths if p.parent.name == "assets"]
    assert paths[0].name == "index.html" and len(pages) == 1 + len(profiles)
    assert {p.name for p in pages[1:]} == {"530112101001.html", "row2.html", "530112101003.html"}
    assert any(p.name.endswith("_leaflet.js") for p in assets)  # Leaflet once, beside the pages
    assert all(p.stat().st_size < 120_000 for p in pages)
    for path in pages:
        page = path.read_text(encoding="utf-8")
        assert not re.search(r"""<(script|link|a|img|iframe)\b[^>]*(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
        assert HOSTILE not in page and SCRIPT not in page
        assert APPROXIMATE in page and "示例数据（合成）" in page and "内部资料 注意保密" in page
    by_name = {p.name: p.read_text(encoding="utf-8") for p in pages}
    first, second, third = by_name["530112101001.html"], by_name["row2.html"], by_name["530112101003.html"]
    assert "@page { size: A4" in first and "亩·椭球" in first and "前时相 2022 年" in first
    assert NO_PLAN in second and NO_PLAN not in first and NO_PLAN not in third
    assert "缺少主题" in second and "缺少主题" not in first and "缺少主题" not in third  # 绿美村庄 need no theme
    assert "规划建设占用永久基本农田" in first and "未发现问题" in third
    assert "+6.50" in first  # construction 73.50 → 80.00 亩 in the before/after table
    assert first.count("<svg") == 2  # land use before and after
    index = by_name["index.html"]
    assert APPROXIMATE in index and "缺少主题" in index and HOSTILE not in index
    assert 'href="row2.html"' in index and "面积(亩·椭球)" in index


def test_pages_in_english_without_context_and_for_point_villages(profiles, review, tmp_path):
    points = profiles.set_geometry(profiles.geometry.centroid)
    paths = write_village_pages(tmp_path / "en", points, review, VillagePageContext(lang="en", t1_year=2023,
                                                                                   area_kind="planar"))
    page = _pages(paths)[1].read_text(encoding="utf-8")
    assert "Findings" in page and "T1 2023" in page and "mu, planar" in page and "示例数据" not in page
    assert APPROXIMATE not in page
    written = write_village_pages(tmp_path / "zh", profiles.drop(columns=["theme", "has_plan"]), None)
    assert len(_pages(written)) == 1 + len(profiles)
    assert "缺少主题" not in written[1].read_text(encoding="utf-8")


def test_duplicate_or_missing_keys_are_a_clear_error(profiles, tmp_path):
    twice = profiles.assign(village_key=["1", "1", "2"])
    with pytest.raises(MapError, match="share keys.*make the village codes unique"):
        write_village_pages(tmp_path, twice, None)
    with pytest.raises(MapError, match="village_key"):
        write_village_pages(tmp_path, profiles.drop(columns="village_key"), None)


# --- in Chromium -----------------------------------------------------------------------------------------

class Page:
    """A page opened with every request recorded and every non-file request aborted."""

    def __init__(self, browser, path, *, ready: bool = True):
        self.url = path.resolve().as_uri()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        page.goto(self.url)
        if ready:
            self.ready()

    def ready(self):
        self.page.wait_for_function("window.kmrv && window.kmrv.ready === true", timeout=30_000)
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def layers(self) -> dict:
        return self.page.evaluate("Object.fromEntries(Object.entries(kmrv.layers).map(([k, l]) => "
                                  "[k, {total: l.total, rendered: l.rendered(), shown: !!l._map}]))")

    def outside(self, allowed) -> list[str]:
        return [u for u in self.requests if u not in allowed and not u.startswith("data:")]


def _visible_villages(page) -> list[str]:
    return [t.strip() for t in page.locator("#vp-index tbody tr:visible td:nth-child(1)").all_inner_texts()]


@pytest.mark.browser
def test_index_sorts_filters_and_links(browser, profiles, review, context, tmp_path):
    paths = write_village_pages(tmp_path / "villages", profiles, review, context)
    urls = {p.resolve().as_uri() for p in paths}
    view = Page(browser, paths[0], ready=False)
    page = view.page
    try:
        page.wait_for_selector("#vp-index")
        assert _visible_villages(page) == [HOSTILE, "大河村", "小'河\"村"]  # by county, township, name
        assert page.locator("#vp-shown").inner_text() == "显示 3 / 3 个村"
        assert APPROXIMATE in page.locator("body").inner_text()
        assert page.evaluate("document.querySelectorAll('img, script[src]').length") == 0
        # sort by area: ascending, then descending
        area = page.locator("#vp-index th").nth(5)
        area.click()
        assert [float(t) for t in page.locator("#vp-index tbody td:nth-child(6)").all_inner_texts()] == \
            [240.0, 300.0, 450.0]
        area.click()
        assert [float(t) for t in page.locator("#vp-index tbody td:nth-child(6)").all_inner_texts()] == \
            [450.0, 300.0, 240.0]
        page.locator("#vp-index th").nth(0).click()  # by name (text)
        assert len(_visible_villages(page)) == 3
        # filters
        page.select_option("#vp-filter-category", "重点村")
        assert sorted(_visible_villages(page)) == sorted(["大河村", HOSTILE])
        page.select_option("#vp-filter-township", SCRIPT)  # a hostile value is an option like any other
        assert _visible_villages(page) == [HOSTILE]
        page.select_option("#vp-filter-township", "")
        page.select_option("#vp-filter-category", "")
        page.check("#vp-has-findings")
        assert sorted(_visible_villages(page)) == sorted(["大河村", HOSTILE])
        assert page.locator("#vp-shown").inner_text() == "显示 2 / 3 个村"
        page.select_option("#vp-filter-county", "西山区")
        assert _visible_villages(page) == ["大河村"]
        page.uncheck("#vp-has-findings")
        assert sorted(_visible_villages(page)) == sorted(["大河村", "小'河\"村"])
        # a link opens the village page
        page.locator("#vp-index tbody a", has_text="大河村").click()
        page.wait_for_url(re.compile(r"530112101001\.html$"))
        view.ready()
        assert "大河村" in page.locator(".vp-head").inner_text()
        page.click("a.vp-index-link")
        page.wait_for_url(paths[0].resolve().as_uri())
        page.locator("#vp-index tbody a", has_text="img src").click()
        page.wait_for_url(re.compile(r"row2\.html$"))
        view.ready()
        assert view.outside(urls) == []
        assert view.errors == []
    finally:
        page.close()


@pytest.mark.browser
def test_village_page_draws_findings_offline_and_prints_on_one_sheet(browser, profiles, review, context, tmp_path):
    paths = write_village_pages(tmp_path / "villages", profiles, review, context)
    urls = {p.resolve().as_uri() for p in paths}
    pages = {p.name: p for p in _pages(paths)}
    view = Page(browser, pages["530112101001.html"])
    page = view.page
    try:
        assert page.locator(".folium-map").count() == 1
        assert page.locator(".folium-map").bounding_box()["height"] > 300
        layers = view.layers()
        assert layers["findings"]["total"] == 2 and layers["findings"]["rendered"] == 2
        assert layers["findings"]["shown"] and layers["village"]["shown"] and layers["boundary"]["total"] == 1
        assert layers["plan"]["total"] >= 4 and layers["pbf"]["shown"] and layers["lake_zones"]["shown"]
        assert not layers["construction_t0"]["shown"] and not layers["construction_t1"]["shown"]
        assert layers["erl"]["total"] == 1  # the red line's far part is cut off
        in_view = page.evaluate("(() => { const l = kmrv.layers.findings, m = l._map;"
                                " return Object.values(l._byIndex).every(f => m.getBounds().contains(f.getBounds()));"
                                " })()")
        assert in_view
        weights = page.evaluate("Object.values(kmrv.layers.findings._byIndex).map(f => f.options.weight)")
        assert weights == [4, 4]
        rows = page.locator("#vp-findings tbody tr")
        assert rows.count() == 2
        assert rows.nth(0).inner_text().startswith("1")
        assert "村庄建设边界外现状建设" in rows.nth(0).inner_text()  # by kind, in FINDINGS order
        assert SCRIPT in rows.nth(1).inner_text()  # shown as text
        body = page.locator("body").inner_text()
        for text in ("示例数据（合成）", "内部资料 注意保密", APPROXIMATE, "前时相 2022 年", "后时相 2023 年",
                     "乡村旅游", "土地利用变化", "永农高标覆盖率", "63.2%"):
            assert text in body, text
        assert NO_PLAN not in body
        # a click on a finding in the list shows it on the map
        rows.nth(1).click()
        page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
        popup = page.locator(".leaflet-popup-content").inner_text()
        assert "规划建设占用永久基本农田" in popup and SCRIPT in popup
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert "49" not in page.title() and "{{ 7*7 }}" in page.title()
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1  # map, tables and findings on one A4 sheet
        assert view.outside(urls) == []
        assert view.errors == []
    finally:
        page.close()

    view = Page(browser, pages["row2.html"])
    page = view.page
    try:
        body = page.locator("body").inner_text()
        assert NO_PLAN in body and "缺少主题" in body and HOSTILE in body and SCRIPT in body
        assert APPROXIMATE in body
        layers = view.layers()
        assert layers["findings"]["rendered"] == 1 and layers["lake_zones"]["total"] >= 1
        assert "plan" not in layers or layers["plan"]["total"] >= 0
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert "未核查" in body  # the plan findings were not computed (no plan)
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
        page.click("a.vp-next")
        page.wait_for_url(re.compile(r"\.html$"))
        view.ready()
        assert view.outside(urls) == [] and view.errors == []
    finally:
        page.close()


@pytest.mark.browser
def test_villages_map_popup_links_to_the_village_page(browser, profiles, review, context, tmp_path):
    paths = write_village_pages(tmp_path / "villages", profiles, review, context)
    (tmp_path / "maps").mkdir()
    linked = villages_map(profiles, MapContext(basemap="none"), page_links=True)
    save_offline(linked, tmp_path / "maps" / "villages.html")
    save_offline(villages_map(profiles, MapContext(basemap="none")), tmp_path / "maps" / "plain.html")
    view = Page(browser, tmp_path / "maps" / "villages.html")
    page = view.page
    try:
        page.evaluate("() => kmrv.layers.villages._map.setZoom(15, {animate: false})")  # no clusters from 13 on
        hrefs = page.evaluate(
            "() => { const l = kmrv.layers.villages, out = {};"
            " for (const i in l._byIndex) { const f = l._byIndex[i]; f.openPopup();"
            "   const c = f.getPopup().getElement(), a = c.querySelector('a.kmrv-link');"
            "   out[c.querySelector('td').textContent] = a && a.href; f.closePopup(); }"
            " return out; }")
        assert set(hrefs) == {"大河村", HOSTILE, "小'河\"村"}
        for href in hrefs.values():
            assert href.startswith("file://") and href.split("/")[-2] == "villages"
            assert any(p.resolve().as_uri() == href for p in paths)
        assert hrefs[HOSTILE].endswith("/villages/row2.html")
        assert page.locator('img[src="x"]').count() == 0
        page.wait_for_timeout(400)  # closed popups fade out
        page.evaluate("() => Object.values(kmrv.layers.villages._byIndex)[0].openPopup()")
        link = page.locator(".leaflet-popup-content a.kmrv-link")
        assert link.inner_text() == "打开村庄页面（图、问题清单，可打印）"
        link.click()
        page.wait_for_url(re.compile(r"/villages/[^/]+\.html$"))
        view.ready()
        assert page.locator("#vp-findings, .vp-count").count() >= 1
        assert view.errors == []
    finally:
        page.close()
    view = Page(browser, tmp_path / "maps" / "plain.html")
    try:
        view.page.evaluate("() => Object.values(kmrv.layers.villages._byIndex)[0].openPopup()")
        assert view.page.locator(".leaflet-popup-content td").count() > 0
        assert view.page.locator(".leaflet-popup-content a.kmrv-link").count() == 0  # no pages: no link
    finally:
        view.page.close()


@pytest.mark.browser
def test_a_link_column_makes_only_relative_page_links(browser, tmp_path):
    values = ["../villages/row2.html", "javascript:alert(1)//.html", "https://example.com/x.html",
              f"../{HOSTILE}.html", "//example.com/a.html", None]
    frame = gpd.GeoDataFrame({"name": [f"v{i}" for i in range(len(values))], "page": values},
                             geometry=[box(X0 + i * 200, Y0, X0 + i * 200 + 100, Y0 + 100)
                                       for i in range(len(values))], crs=CRS)
    ctx = MapContext(basemap="none")
    fmap = new_map(ctx)
    layer = add_layer(fmap, web_layer(frame, ["name", "page"]), ctx, key="v", name="V",
                      fields=[Field("name", "名称")], link={"column": "page", "label": HOSTILE})
    assert [c["label"] for c in layer.spec["popup"]] == ["名称"]  # the link column is not a popup row
    save_offline(finish_map(fmap, ctx, title="links", layers=[layer]), tmp_path / "links.html")
    view = Page(browser, tmp_path / "links.html")
    try:
        links = view.page.evaluate(
            "() => Object.values(kmrv.layers.v._byIndex).map(f => { f.openPopup();"
            " const c = f.getPopup().getElement(), a = c.querySelector('a.kmrv-link');"
            " const out = [c.querySelector('td').textContent, a && a.getAttribute('href'), a && a.textContent];"
            " f.closePopup(); return out; })")
        by_name = {name: (href, label) for name, href, label in links}
        assert by_name["v0"] == ("../villages/row2.html", HOSTILE)  # the label is text
        assert all(by_name[f"v{i}"] == (None, None) for i in range(1, len(values)))
        assert view.page.locator('img[src="x"]').count() == 0 and view.errors == []
    finally:
        view.page.close()


def test_svg_path_pixels_rings_and_holes_worked_out_by_hand():
    """Rings as whole pixels from the window's top-left, closing vertices dropped, repeated pixels merged, a
    ring left with fewer than three pixels not drawn; holes are rings of their own (even-odd fill).
    """
    from shapely.geometry import MultiPolygon, Polygon

    from kmrv_geo.webmap.village_pagemap import _svg_path

    holed = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(2, 2), (4, 2), (4, 4), (2, 4)]])
    tiny = Polygon([(20, 0), (20.1, 0), (20.1, 0.1)])  # one pixel at scale 1: not drawn
    near = Polygon([(30, 0), (30.2, 0), (32, 0), (32, 2)])  # the second vertex rounds onto the first
    geoms = np.array([holed, MultiPolygon([tiny, near])], dtype=object)
    assert _svg_path(geoms, 0.0, 10.0, 1.0) == "M0,10 10,10 10,0 0,0ZM2,8 4,8 4,6 2,6ZM30,10 32,10 32,8Z"
    assert _svg_path(geoms, 0.0, 10.0, 2.0).startswith("M0,20 20,20 20,0 0,0ZM4,16 8,16 8,12 4,12Z")
    assert _svg_path(np.array([Polygon()], dtype=object), 0.0, 0.0, 1.0) == ""
