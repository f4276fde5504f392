"""Map search in a real browser with names that break quoting and escaping (issue 11, case folium_quotes).

Six villages are named with an apostrophe, double quotes, backslashes, a line break, a Jinja-looking
``{{ }}`` and a ``</script><b>``; the project name has an apostrophe and ``{{ }}``. ``kmrv map`` draws every
map of the project; each map is opened offline in Debian's headless Chromium (``/usr/bin/chromium``, driven
by Playwright, all network blocked, as in ``tests/test_maps_browser.py``). On every map with a search box,
each name typed in full (the one with a line break by typing its first character) must be offered as a tip,
and clicking the tip must open that feature's popup showing the name exactly as stored: no template
evaluated, no HTML from the data, no console error, ``document.title`` unchanged.

Skipped with the reason when /usr/bin/chromium or playwright is missing, except under CI (``CI`` set), where
that is a failure: ``.ci/run`` installs chromium.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from kmrv_geo.cli.main import cli

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
NAMES = ["大'河村", '小"河"村', "反\\斜\\村", "换\n行村", "{{ 7*7 }}村", "</script><b>粗村"]
PROJECT = "西山区'示例{{ 7*7 }}"
CRS = "EPSG:4543"
X0, Y0, SIZE = 575000.0, 2770000.0, 100.0
TITLES = {"overview": "总览", "coverage": "高标准农田覆盖率", "villages": "滇池沿岸村庄",
          "violations": "违法用地与非粮化图斑", "abandonment": "疑似撂荒耕地"}


def typed(name: str) -> str:
    """Return what a user types: the name in full, or up to its first line break (a box holds one line)."""
    return name.split("\n")[0]


def tip_text(name: str) -> str:
    """Return the tip offered for a name: a line break is shown as a space (a search box holds one line)."""
    return name.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")




def _grid(changes: dict) -> gpd.GeoDataFrame:
    """Make a 10 x 10 grid of 100 m parcels (BSM 1..100 by rows from the south-west), 0103 but ``changes``."""
    rows = []
    for j in range(10):
        for i in range(10):
            bsm = j * 10 + i + 1
            x, y = X0 + i * SIZE, Y0 + j * SIZE
            rows.append({"BSM": bsm, "DLBM": changes.get(bsm, "0103"),
                         "geometry": box(x, y, x + SIZE, y + SIZE)})
    return gpd.GeoDataFrame(rows, crs=CRS)


@pytest.fixture(scope="module")
def quotes_maps(tmp_path_factory) -> Path:
    """Run ``kmrv map`` on the field case folium_quotes: six villages of 150 m x 1000 m over the parcels."""
    folder = tmp_path_factory.mktemp("quotes")
    gpkg = folder / "base.gpkg"
    villages = gpd.GeoDataFrame(
        {"CMC": NAMES, "LX": ["重点村", "绿美村庄"] * 3},
        geometry=[box(X0 + i * 150, Y0, X0 + (i + 1) * 150, Y0 + 1000) for i in range(6)], crs=CRS)
    layers = {
        "county": gpd.GeoDataFrame({"XZQDM": ["530112"], "XZQMC": ["西山区"]},
                                   geometry=[box(X0 - 2000, Y0 - 2000, X0 + 3000, Y0 + 3000)], crs=CRS),
        "landuse_2022": _grid({}),
        "landuse_2023": _grid({5: "0702", 16: "0702", 57: "0301"}),
        "pbf": gpd.GeoDataFrame({"BSM": [1]}, geometry=[box(X0, Y0, X0 + 500, Y0 + 1000)], crs=CRS),
        "villages": villages,
    }
    for layer, frame in layers.items():
        frame.to_file(gpkg, layer=layer, driver="GPKG", engine="pyogrio")
    config = folder / "project.yml"
    config.write_text(f"""name: "{PROJECT}"
synthetic: true
crs: EPSG:4543
layers:
  county:     {{path: base.gpkg, layer: county, code: XZQDM, name: XZQMC}}
  villages:   {{path: base.gpkg, layer: villages, name: CMC, category: LX}}
  landuse_t0: {{path: base.gpkg, layer: landuse_2022, code: DLBM, year: 2022, id: BSM}}
  landuse_t1: {{path: base.gpkg, layer: landuse_2023, code: DLBM, year: 2023, id: BSM}}
  pbf:        {{path: base.gpkg, layer: pbf}}
thresholds:
  min_patch_m2: {{construction: 200, agricultural: 400, other: 600}}
  facility_site_min_mu: 30
""", encoding="utf-8")
    out = folder / "out"
    result = CliRunner().invoke(cli, ["map", str(config), "--out", str(out), "--basemap", "none", "-q"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out


@pytest.fixture(scope="module")
def id_maps(quotes_maps, tmp_path_factory) -> Path:
    """Write the violations and abandonment maps with the six names as patch and parcel ids (search keys)."""
    from kmrv_geo.webmap.abandonment import abandonment_map
    from kmrv_geo.webmap.assets import save_offline
    from kmrv_geo.webmap.common import MapContext
    from kmrv_geo.webmap.violations import violations_map

    patches = gpd.read_file(quotes_maps / "results.gpkg", layer="change_patches", engine="pyogrio")
    patches = gpd.GeoDataFrame(patches.iloc[[i % len(patches) for i in range(6)]].reset_index(drop=True),
                               crs=patches.crs)
    patches["patch_id"] = NAMES
    patches["geometry"] = [box(X0 + i * 150, Y0 + 1200, X0 + i * 150 + 100, Y0 + 1300) for i in range(6)]
    parcels = gpd.GeoDataFrame(
        {"parcel_id": NAMES, "area_mu": [15.0] * 6, "years_low": ["2021,2022"] * 6,
         "county_name": ["西山区"] * 6, "village": NAMES, "on_pbf": [True, False] * 3},
        geometry=[box(X0 + i * 150, Y0, X0 + i * 150 + 100, Y0 + 100) for i in range(6)], crs=CRS)
    ctx = MapContext(basemap="none", name=PROJECT, synthetic=True)
    out = tmp_path_factory.mktemp("ids")
    save_offline(violations_map(patches, ctx), out / "violations.html")
    save_offline(abandonment_map(parcels, ctx), out / "abandonment.html")
    return out


class MapPage:
    """One map opened offline (every request that is not ``file:`` aborted), console errors recorded."""

    def __init__(self, browser, path: Path):
        self.url = path.resolve().as_uri()
        self.errors: list[str] = []
        self.page = page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        page.goto(self.url)
        page.wait_for_function("window.kmrv && window.kmrv.ready === true", timeout=30_000)
        self.title = page.title()

    def tips(self, text: str) -> list[str]:
        """Type ``text`` into the search box; the tips offered (their text as shown)."""
        box_ = self.page.locator("input.search-input")
        box_.fill(text)
        box_.dispatch_event("keyup")  # leaflet-search reacts to keyup (an IME sends one after each character)
        self.page.wait_for_selector(".search-tip", timeout=5_000)
        return self.page.locator(".search-tip").all_text_contents()

    def open_tip(self, tip: str, value: str) -> list[str]:
        """Click the tip ``tip``; the text of the opened popup's cells once one of them shows ``value``.

        Any popup open before is closed first (and gone), so the cells are those of the popup the tip opened.
        """
        self.page.evaluate("Object.values(kmrv.layers)[0]._map.closePopup()")
        self.page.wait_for_selector(".leaflet-popup", state="detached", timeout=5_000)
        tips = self.page.locator(".search-tip")
        tips.nth(tips.all_text_contents().index(tip)).click()
        self.page.wait_for_function(
            "v => [...document.querySelectorAll('.leaflet-popup-content td')].some(td => td.innerText === v)",
            arg=value, timeout=10_000)
        assert self.page.locator(".leaflet-popup").count() == 1
        return self.page.locator(".leaflet-popup-content td").all_inner_texts()

    def close(self) -> None:
        """Close the page."""
        self.page.close()


def _search_all(browser, path: Path, terms: list[tuple[str, str, str]], shot: str) -> int:
    """For each (typed, tip, shown): the tip is offered and clicking it opens a popup showing ``shown``.

    Returns how many succeeded (all, or the test fails on the first that does not).
    """
    page = MapPage(browser, path)
    found = 0
    try:
        notice = page.page.locator(".kmrv-notice").inner_text()
        assert PROJECT in notice and "49" not in notice  # verbatim, no template evaluated
        for text, tip, shown in terms:
            tips = page.tips(text)
            assert tip in tips, (text, tips)
            cells = page.open_tip(tip, shown)
            assert shown in cells and tip in [tip_text(c) for c in cells]  # the searched feature's popup
            found += 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.page.screenshot(path=str(ARTIFACTS / f"search-{shot}.png"))
        # no element made from the data, nothing evaluated, nothing logged
        made = "[...document.querySelectorAll('b')].filter(b => b.textContent === '粗村').length"
        assert page.page.evaluate(made) == 0
        assert "49村" not in page.page.locator("body").inner_text()
        assert page.page.title() == page.title == TITLES[shot.split("-")[0]]
        assert page.errors == []
    finally:
        page.close()
    return found


@pytest.mark.parametrize("name", ["overview", "coverage", "villages"])
def test_every_village_name_is_found_and_its_popup_shows_it(browser, quotes_maps, name):
    """Each of the six names typed in full is a tip; clicking it opens the popup showing the name."""
    terms = [(typed(n), tip_text(n), n) for n in NAMES]
    assert _search_all(browser, quotes_maps / "maps" / f"{name}.html", terms, name) == 6


def test_violations_map_finds_its_patches_and_shows_their_village_names(browser, quotes_maps):
    """Each patch id of the run is a tip; its popup shows the patch's village name as stored."""
    patches = gpd.read_file(quotes_maps / "results.gpkg", layer="change_patches", engine="pyogrio")
    assert len(patches) and set(patches["village"]) & set(NAMES)
    terms = [(pid, pid, v) for pid, v in zip(patches["patch_id"], patches["village"], strict=True)]
    path = quotes_maps / "maps" / "violations.html"
    assert _search_all(browser, path, terms, "violations-run") == len(patches)


@pytest.mark.parametrize("name", ["violations", "abandonment"])
def test_ids_with_quotes_and_line_breaks_are_found(browser, id_maps, name):
    """The same on the maps searched by patch id and parcel id, with the six names as ids."""
    terms = [(typed(n), tip_text(n), n) for n in NAMES]
    assert _search_all(browser, id_maps / f"{name}.html", terms, f"{name}-ids") == 6


def test_line_break_name_is_found_as_pasted_and_as_shown(browser, quotes_maps):
    """A name with a line break is found as pasted (the box drops it), as its tip shows it and by a part."""
    page = MapPage(browser, quotes_maps / "maps" / "villages.html")
    try:
        for text in ("换行村", "换 行村", "行村"):
            assert page.tips(text) == ["换 行村"], text
        assert "换\n行村" in page.open_tip("换 行村", "换\n行村")
        assert page.errors == []
    finally:
        page.close()


def test_names_that_are_object_properties_are_found(browser, tmp_path):
    """Names that are properties of every JavaScript object are records like any other."""
    from kmrv_geo.webmap.assets import save_offline
    from kmrv_geo.webmap.common import MapContext
    from kmrv_geo.webmap.villages import villages_map

    names = ["__proto__", "toString", "constructor", "hasOwnProperty"]
    geometry = [box(X0 + i * 150, Y0, X0 + (i + 1) * 150, Y0 + 1000) for i in range(4)]
    profiles = gpd.GeoDataFrame({"village": names, "category": ["重点村"] * 4}, geometry=geometry, crs=CRS)
    save_offline(villages_map(profiles, MapContext(basemap="none")), tmp_path / "villages.html")
    page = MapPage(browser, tmp_path / "villages.html")
    try:
        for name in names:
            assert page.tips(name) == [name]
            assert name in page.open_tip(name, name)
        assert page.errors == []
    finally:
        page.close()
