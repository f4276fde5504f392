"""Benchmark: a large parcel layer as a kmrv compact layer vs plain ``folium.GeoJson``.

Builds the T1 land-use layer of the synthetic sample (default 200 000 parcels; the sample is made
once and kept in ``OUT/sample``) into two maps, side by side:

- **kmrv**: :func:`kmrv_geo.webmap.common.web_layer` (1 m topology-preserving simplification) and a
  compact layer (6-decimal quantised coordinates, only the shown columns, canvas, level of detail);
- **plain**: ``folium.GeoJson(frame)`` with a ``GeoJsonTooltip`` on the same parcels and columns
  (full coordinates), ``prefer_canvas=True``.

Both are saved offline (assets inlined, no basemap) so that both can render in a browser with no
network. Printed: HTML bytes, build time (Python, until the HTML string exists) and first render in
headless Chromium (``/usr/bin/chromium``; navigation until the map's layers are drawn), and the
ratios. Results also go to ``OUT/results.json``.

Usage::

    python scripts/bench_maps.py                       # 200k parcels, results in bench/maps
    python scripts/bench_maps.py --parcels 2000 --out /tmp/b --no-browser
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import folium
import geopandas as gpd

from kmrv_geo.crs import WGS84
from kmrv_geo.sample import make_sample
from kmrv_geo.webmap.assets import offline_html
from kmrv_geo.webmap.common import MapContext, add_layer, finish_map, new_map, web_layer
from kmrv_geo.webmap.encode import Field

COLUMNS = {"BSM": "标识码", "DLBM": "地类编码", "DLMC": "地类名称", "TBMJ": "图斑面积(平方米)", "XZQDM": "区县代码"}
CHROMIUM = "/usr/bin/chromium"


def parcels(out: Path, n_parcels: int, seed: int) -> gpd.GeoDataFrame:
    """The sample's T1 land use (made once into ``out/sample``), in EPSG:4543 metres."""
    sample = out / "sample"
    gpkg = sample / "demo.gpkg"
    marker = sample / f".parcels-{n_parcels}-{seed}"
    if not marker.exists():
        make_sample(sample, n_parcels=n_parcels, seed=seed, progress=True)
        marker.touch()
    return gpd.read_file(gpkg, layer="landuse_2023", engine="pyogrio").to_crs("EPSG:4543")


def build_kmrv(frame: gpd.GeoDataFrame) -> tuple[str, float]:
    """The compact map's HTML and its build time (s)."""
    start = time.perf_counter()
    ctx = MapContext(basemap="none", name="bench", synthetic=True)
    fmap = new_map(ctx)
    web = web_layer(frame, list(COLUMNS), simplify_m=1.0)
    fields = [Field(c, label, 1 if c == "TBMJ" else None) for c, label in COLUMNS.items()]
    layer = add_layer(fmap, web, ctx, key="parcels", name="parcels", fields=fields, tooltip=["BSM", "DLMC"],
                      search="BSM", styles=[{"color": "#444", "weight": 0.5, "fillColor": "#ffd700",
                                             "fillOpacity": 0.4}])
    finish_map(fmap, ctx, title="bench", layers=[layer], search=["parcels"])
    html = offline_html(fmap)
    return html, time.perf_counter() - start


def build_plain(frame: gpd.GeoDataFrame) -> tuple[str, float]:
    """The plain folium.GeoJson map's HTML and its build time (s) (assets inlined afterwards, not timed)."""
    start = time.perf_counter()
    fmap = folium.Map(location=[24.9, 102.7], zoom_start=9, tiles=None, prefer_canvas=True)
    data = frame[[*COLUMNS, frame.geometry.name]].to_crs(WGS84)
    folium.GeoJson(data, name="parcels", tooltip=folium.GeoJsonTooltip(["BSM", "DLMC"])).add_to(fmap)
    fmap.get_root().render()  # the HTML a plain folium map writes (its CDN links are inlined below, untimed)
    elapsed = time.perf_counter() - start
    fmap.get_root().script.add_child(folium.Element("window.kmrvPlainReady = true;"))
    return offline_html(fmap), elapsed


def first_render(path: Path, ready: str, *, timeout_s: float, browser=None) -> float | None:
    """Seconds from navigation until ``ready`` is true and two frames are painted (None: timed out).

    ``browser``: a running Playwright browser to use (default: launch headless /usr/bin/chromium).
    """
    from playwright.sync_api import Error, sync_playwright

    if browser is None:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=["--host-resolver-rules=MAP * ~NOTFOUND"])
            try:
                return first_render(path, ready, timeout_s=timeout_s, browser=chromium)
            finally:
                chromium.close()
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    start = time.perf_counter()
    try:
        page.goto(path.resolve().as_uri(), timeout=timeout_s * 1000, wait_until="commit")
        page.wait_for_function(ready, timeout=timeout_s * 1000, polling=100)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        return time.perf_counter() - start
    except Error:
        return None
    finally:
        page.close()


def zoom_in_render(path: Path, *, zoom: int = 14, timeout_s: float = 60.0) -> tuple[float | None, int]:
    """Kmrv map only: seconds to draw the parcels after zooming to ``zoom`` on the fullest grid cell, and
    how many parcels were drawn.
    """
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--host-resolver-rules=MAP * ~NOTFOUND"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        try:
            page.goto(path.resolve().as_uri(), timeout=timeout_s * 1000)
            page.wait_for_function("window.kmrv && window.kmrv.ready", timeout=timeout_s * 1000)
            start = time.perf_counter()
            page.evaluate("""zoom => { const l = kmrv.layers.parcels;
                const c = l.spec.cells.reduce((a, b) => (b.n > a.n ? b : a)).b;
                l._map.setView([(c[1] + c[3]) / 2, (c[0] + c[2]) / 2], zoom, {animate: false}); }""", zoom)
            page.wait_for_function("kmrv.layers.parcels.rendered() > 0", timeout=timeout_s * 1000)
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            return time.perf_counter() - start, page.evaluate("kmrv.layers.parcels.rendered()")
        except Error:
            return None, 0
        finally:
            browser.close()


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parcels", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--out", type=Path, default=Path("bench/maps"))
    parser.add_argument("--no-browser", action="store_true", help="skip the first-render measurement")
    parser.add_argument("--timeout", type=float, default=300.0, help="browser time limit per map (s)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    frame = parcels(args.out, args.parcels, args.seed)
    results = {"features": len(frame)}
    for name, build, ready in (("kmrv", build_kmrv, "window.kmrv && window.kmrv.ready"),
                               ("plain", build_plain, "window.kmrvPlainReady === true")):
        html, seconds = build(frame)
        path = args.out / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        results[name] = {"bytes": path.stat().st_size, "build_s": round(seconds, 2)}
        if not args.no_browser:
            render = first_render(path, ready, timeout_s=args.timeout)
            results[name]["first_render_s"] = None if render is None else round(render, 2)
        if name == "kmrv" and not args.no_browser:
            seconds, drawn = zoom_in_render(path)
            results[name]["zoom14_render_s"] = None if seconds is None else round(seconds, 2)
            results[name]["zoom14_parcels_drawn"] = drawn
        print(name, results[name], flush=True)
    k, p = results["kmrv"], results["plain"]
    results["ratio_bytes"] = round(k["bytes"] / p["bytes"], 4)
    results["ratio_build"] = round(k["build_s"] / p["build_s"], 4)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"{results['features']} parcels")
    print(f"{'':8}{'kmrv':>16}{'plain folium':>16}{'ratio':>10}")
    print(f"{'bytes':8}{k['bytes']:>16,}{p['bytes']:>16,}{results['ratio_bytes']:>10.3f}")
    print(f"{'build s':8}{k['build_s']:>16.2f}{p['build_s']:>16.2f}{results['ratio_build']:>10.3f}")
    if not args.no_browser:
        def fmt(v):
            return "timeout" if v is None else f"{v:.2f}"
        print(f"{'render s':8}{fmt(k.get('first_render_s')):>16}{fmt(p.get('first_render_s')):>16}")
        print(f"kmrv, zoom 14 on the fullest cell: {k['zoom14_parcels_drawn']} parcels drawn in "
              f"{fmt(k.get('zoom14_render_s'))} s")


if __name__ == "__main__":
    main()
