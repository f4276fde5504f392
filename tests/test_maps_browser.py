"""The maps in a real browser: Debian's headless Chromium (/usr/bin/chromium) driven by Playwright.

All network is blocked (every request that is not ``file:`` is aborted, and host names do not
resolve); requests and console errors are recorded. Each demo map must draw Leaflet with the expected
number of features, log no console error, request nothing but basemap tiles (which fail), and find a
village or patch with its search box. The hostile-name maps must show ``<img src=x onerror=…>`` as
text everywhere and leave ``document.title`` alone. Screenshots go to ``tests/artifacts/``.

Skipped with the reason when /usr/bin/chromium or playwright is missing, except under CI (``CI`` set),
where that is a failure: ``.ci/run`` installs chromium.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from urllib.parse import urlparse

import geopandas as gpd
import pytest

from kmrv_geo.webmap import basemaps
from kmrv_geo.webmap.assets import save_offline
from kmrv_geo.webmap.common import MapContext

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"




def _is_tile(url: str) -> bool:
    host = urlparse(url).hostname or ""
    return any(host == h or host.endswith("." + h) for h in basemaps.TILE_HOSTS)


class MapPage:
    """One map opened offline, with every request and console error recorded."""

    def __init__(self, browser, path: Path):
        self.url = path.resolve().as_uri()
        self.requests: list[str] = []
        self.errors: list[tuple[str, str]] = []
        self.page = page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append((m.text, m.location.get("url", ""))) if m.type == "error"
                else None)
        page.on("pageerror", lambda e: self.errors.append((str(e), "")))
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
        page.goto(self.url)
        page.wait_for_function("window.kmrv && window.kmrv.ready === true", timeout=30_000)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def layers(self) -> dict:
        return self.page.evaluate(
            "() => Object.fromEntries(Object.entries(kmrv.layers).map(([k, l]) => "
            "[k, {total: l.total, rendered: l.rendered(), shown: !!l._map}]))")

    def search(self, text: str) -> list[str]:
        box = self.page.locator("input.search-input")
        box.fill(text)
        box.dispatch_event("keyup")  # leaflet-search reacts to keyup (an IME sends one after each character)
        self.page.wait_for_selector(".search-tip", timeout=5_000)
        return self.page.locator(".search-tip").all_inner_texts()

    def choose_first_tip(self) -> str:
        self.page.locator(".search-tip").first.click()
        self.page.wait_for_selector(".leaflet-popup-content", timeout=10_000)
        return self.page.locator(".leaflet-popup-content").inner_text()

    def non_tile_requests(self) -> list[str]:
        """Requests other than the page itself and basemap tiles (a file the page names is one too)."""
        return [u for u in self.requests if u != self.url and not u.startswith("data:") and not _is_tile(u)]

    def console_errors(self) -> list[tuple[str, str]]:
        """Console errors, except the failed loads of basemap tiles (there is no network)."""
        return [e for e in self.errors if not (_is_tile(e[1]) and "Failed to load resource" in e[0])]

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def close(self) -> None:
        self.page.close()


@pytest.fixture(scope="module")
def demo_counts(demo_out) -> dict:
    """Expected features per map layer, from the check report and results.gpkg (not from the maps)."""
    kept = {role: r["n_kept"] for role, r in
            json.loads((demo_out / "check_report.json").read_text(encoding="utf-8"))["layers"].items()}
    gpkg = demo_out / "results.gpkg"
    n = {name: gpd.read_file(gpkg, layer=name, engine="pyogrio") for name in
         ("change_patches", "villages_profile", "abandoned_parcels", "judged_patches")}
    vector = n["change_patches"][n["change_patches"]["source"] == "vector"]  # the map shows the survey's patches
    return {
        "overview": {r: kept[r] for r in ("county", "lake", "pbf", "hsf", "villages")},
        "violations": {"county": kept["county"], "patches": len(vector)},
        "coverage": {"county": kept["county"], "village": len(n["villages_profile"])},
        "villages": {"county": kept["county"], "villages": len(n["villages_profile"])},
        "abandonment": {"county": kept["county"], "parcels": len(n["abandoned_parcels"])},
        "judged_patches": {"county": kept["county"], "patches": len(n["judged_patches"])},
    }


def _search_term(demo_out, name: str) -> str:
    gpkg = demo_out / "results.gpkg"
    if name == "violations":
        return gpd.read_file(gpkg, layer="change_patches", engine="pyogrio")["patch_id"].iloc[0]
    if name == "abandonment":
        return str(gpd.read_file(gpkg, layer="abandoned_parcels", engine="pyogrio")["parcel_id"].iloc[0])
    if name == "judged_patches":
        return gpd.read_file(gpkg, layer="judged_patches", engine="pyogrio")["patch_id"].iloc[0]
    return gpd.read_file(gpkg, layer="villages_profile", engine="pyogrio")["village"].iloc[0]


@pytest.mark.parametrize("name", ["overview", "violations", "coverage", "villages", "abandonment",
                                  "judged_patches"])
def test_demo_map_renders_offline_and_searches(browser, demo_out, demo_counts, name):
    page = MapPage(browser, demo_out / "maps" / f"{name}.html")
    try:
        assert page.page.evaluate("typeof L !== 'undefined' && typeof L.Control.Search === 'function'")
        layers = page.layers()
        for key, expected in demo_counts[name].items():
            assert layers[key]["total"] == expected, key
            assert layers[key]["shown"] and layers[key]["rendered"] == expected, (key, layers[key])
        assert page.page.locator(".leaflet-control-layers").count() == 1
        assert page.page.locator(".leaflet-control-measure").count() == 1
        assert page.page.locator(".leaflet-control-zoom-fullscreen").count() == 1
        assert "示例数据" in page.page.locator(".kmrv-notice").inner_text()
        assert page.page.locator(".kmrv-legend").count() == 1
        page.screenshot(name)
        term = _search_term(demo_out, name)
        tips = page.search(term)
        assert term in tips
        assert term in page.choose_first_tip() or term in page.page.locator(".leaflet-popup-content").inner_text()
        page.screenshot(f"{name}-search")
        assert page.console_errors() == []
        assert page.non_tile_requests() == []
        assert any(_is_tile(u) for u in page.requests)  # the basemap asked for tiles, and the map works without
    finally:
        page.close()


@pytest.fixture(scope="module")
def hostile_maps(demo_out, abandoned_parcels, tmp_path_factory):
    """Villages, violations and coverage maps whose names, ids and categories are a script-running tag."""
    from kmrv_geo.webmap.abandonment import abandonment_map
    from kmrv_geo.webmap.coverage import coverage_map
    from kmrv_geo.webmap.judge import judge_map
    from kmrv_geo.webmap.villages import villages_map
    from kmrv_geo.webmap.violations import violations_map

    parcels = abandoned_parcels.copy()
    parcels["parcel_id"] = parcels["parcel_id"].astype(str)
    parcels.loc[0, ["parcel_id", "village"]] = HOSTILE
    gpkg = demo_out / "results.gpkg"
    profiles = gpd.read_file(gpkg, layer="villages_profile", engine="pyogrio")
    profiles.loc[0, ["village", "category"]] = HOSTILE
    patches = gpd.read_file(gpkg, layer="change_patches", engine="pyogrio")
    patches.loc[0, ["patch_id", "village", "t1_name"]] = HOSTILE
    judged = gpd.read_file(gpkg, layer="judged_patches", engine="pyogrio")
    judged.loc[0, ["patch_id", "village", "reason_text", "approval_refs"]] = HOSTILE
    ctx = MapContext(basemap="none", name=HOSTILE, notice=HOSTILE, synthetic=True)
    out = tmp_path_factory.mktemp("hostile")
    maps = {"villages": villages_map(profiles, ctx), "violations": violations_map(patches, ctx),
            "coverage": coverage_map(ctx, villages=profiles), "abandonment": abandonment_map(parcels, ctx),
            "judged_patches": judge_map(judged, ctx)}
    for name, fmap in maps.items():
        save_offline(fmap, out / f"{name}.html")
    return out


@pytest.mark.parametrize(("name", "key"), [("villages", "villages"), ("violations", "patches"),
                                           ("coverage", "village"), ("abandonment", "parcels"),
                                           ("judged_patches", "patches")])
def test_hostile_names_are_shown_as_text(browser, hostile_maps, name, key):
    page = MapPage(browser, hostile_maps / f"{name}.html")
    try:
        title = page.page.title()
        assert HOSTILE in page.page.locator(".kmrv-notice").inner_text()
        if name == "villages":
            assert HOSTILE in page.page.locator(".kmrv-legend").inner_text()
        tips = page.search("img src")
        assert tips == [HOSTILE]
        assert HOSTILE in page.choose_first_tip()
        page.page.evaluate("key => { Object.values(kmrv.layers[key]._byIndex).find(l => l.isPopupOpen())"
                           ".openTooltip(); }", key)
        page.page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
        assert HOSTILE in page.page.locator(".leaflet-tooltip").inner_text()
        page.page.wait_for_timeout(300)
        page.screenshot(f"hostile-{name}")
        assert page.page.title() == title != "pwned"
        assert page.page.locator('img[src="x"]').count() == 0
        assert page.console_errors() == [] and page.non_tile_requests() == []
    finally:
        page.close()


def test_large_layer_level_of_detail(browser, demo_out, tmp_path, monkeypatch):
    import kmrv_geo.webmap.encode as encode
    from kmrv_geo.webmap.coverage import coverage_map

    monkeypatch.setattr(encode, "LOD_FEATURES", 50)
    profiles = gpd.read_file(demo_out / "results.gpkg", layer="villages_profile", engine="pyogrio")
    save_offline(coverage_map(MapContext(basemap="none"), villages=profiles), tmp_path / "lod.html")
    page = MapPage(browser, tmp_path / "lod.html")
    try:
        layer = page.layers()["village"]
        assert layer["total"] == len(profiles) and layer["rendered"] == 0  # density grid at the opening zoom
        assert page.page.evaluate("kmrv.layers.village._summary.getLayers().length") > 0
        page.page.evaluate("() => { const l = kmrv.layers.village, c = l.spec.cells[0].b;"
                           " l._map.setView([(c[1] + c[3]) / 2, (c[0] + c[2]) / 2], 14, {animate: false}); }")
        page.page.wait_for_function("kmrv.layers.village.rendered() > 0", timeout=10_000)
        assert page.layers()["village"]["rendered"] < len(profiles)
        assert HOSTILE not in page.page.content()
        assert page.console_errors() == [] and page.non_tile_requests() == []
        assert "放大到 13 级" in page.page.locator(".kmrv-notice").inner_text()
    finally:
        page.close()


def test_bench_script_at_a_tiny_size(browser, sample_dir, tmp_path):
    spec = importlib.util.spec_from_file_location("bench_maps", ROOT / "scripts" / "bench_maps.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    frame = gpd.read_file(sample_dir / "demo.gpkg", layer="landuse_2023", engine="pyogrio").to_crs("EPSG:4543")
    sizes = {}
    for name, build, ready in (("kmrv", bench.build_kmrv, "window.kmrv && window.kmrv.ready"),
                               ("plain", bench.build_plain, "window.kmrvPlainReady === true")):
        html, seconds = build(frame)
        path = tmp_path / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        sizes[name] = path.stat().st_size
        assert seconds > 0
        assert bench.first_render(path, ready, timeout_s=30, browser=browser) is not None
    assert sizes["kmrv"] < sizes["plain"]


def _view_bounds(page) -> list[float]:
    """The map's first view as [west, south, east, north] (lon/lat)."""
    return page.page.evaluate("(() => { const m = Object.values(kmrv.layers).find(l => l._map)._map;"
                              " const b = m.getBounds(); return [b.getWest(), b.getSouth(), b.getEast(),"
                              " b.getNorth()]; })()")


def test_maps_open_on_their_findings_with_totals(browser, demo_out, tmp_path):
    """A violations map of a few local patches opens on them, not on the whole city; the statistics panel
    gives their totals.
    """
    from kmrv_geo.webmap.violations import violations_map

    gpkg = demo_out / "results.gpkg"
    patches = gpd.read_file(gpkg, layer="change_patches", engine="pyogrio")
    patches = patches[patches["source"] == "vector"]
    local = patches[patches["county_code"] == patches["county_code"].mode().iloc[0]].head(3)
    counties = gpd.read_file(demo_out / "data" / "demo.gpkg", layer="county", engine="pyogrio").to_crs(patches.crs)
    fmap = violations_map(local, MapContext(basemap="none", synthetic=True), counties=counties,
                          county_name_field="XZQMC")
    save_offline(fmap, tmp_path / "local.html")
    page = MapPage(browser, tmp_path / "local.html")
    try:
        west, south, east, north = _view_bounds(page)
        x0, y0, x1, y1 = local.to_crs(4326).total_bounds
        assert west <= x0 and south <= y0 and east >= x1 and north >= y1  # the findings are in view
        cx0, cy0, cx1, cy1 = counties.to_crs(4326).total_bounds
        assert (east - west) * (north - south) < 0.25 * (cx1 - cx0) * (cy1 - cy0)  # not the whole city
        panel = page.page.locator(".kmrv-stats").inner_text()
        assert "3" in panel and f"{local.loc[local['change_class'] == 'nonagri', 'area_mu'].sum():.2f}" in panel
    finally:
        page.close()
    for name, layer in (("judged_patches", "judged_patches"), ("villages", "villages_profile")):
        found = gpd.read_file(gpkg, layer=layer, engine="pyogrio").to_crs(4326)
        page = MapPage(browser, demo_out / "maps" / f"{name}.html")
        try:
            west, south, east, north = _view_bounds(page)
            x0, y0, x1, y1 = found.total_bounds
            pad = 0.01  # the view fits the findings with Leaflet's padding
            assert west <= x0 + pad and south <= y0 + pad and east >= x1 - pad and north >= y1 - pad, name
            assert page.page.locator(".kmrv-stats").count() == 1
        finally:
            page.close()
