"""Web maps without a browser: encoding, offline assets, basemaps, escaping, the demo's map files, CLI."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import MultiPolygon, Point, Polygon

from kmrv_geo.cli.main import cli
from kmrv_geo.config import config_from_dict
from kmrv_geo.errors import ConfigError, MapError
from kmrv_geo.webmap import assets, basemaps
from kmrv_geo.webmap.common import MapContext, add_layer, finish_map, new_map
from kmrv_geo.webmap.encode import Field, WebLayer, decode_ints, encode_ints, encode_layer, escape_text

HOSTILE = "<img src=x onerror=\"document.title='pwned'\">"
DEMO_MAPS = ("overview", "violations", "coverage", "villages", "abandonment")
EXTERNAL_ASSET = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE)


@pytest.mark.parametrize("signed", [True, False])
def test_polyline_integers_round_trip(signed):
    rng = np.random.default_rng(1)
    values = rng.integers(-(10**8) if signed else 0, 10**8, 500)
    values[:5] = [0, 1, 31, 32, 10**8 - 1] if not signed else [0, -1, 1, -(10**8), 10**8 - 1]
    text, offsets = encode_ints(values, signed=signed)
    assert set(map(ord, text)) <= set(range(63, 127))
    assert decode_ints(text, signed=signed).tolist() == values.tolist()
    assert decode_ints(text[offsets[3]:offsets[7]], signed=signed).tolist() == values[3:7].tolist()


def _decode_polygons(spec) -> list:
    """Rebuild the polygons of an encoded layer (feature order of the spec) from its cells."""
    scale = 10 ** spec["decimals"]
    out = []
    for cell in spec["cells"]:
        coords = decode_ints(cell["c"], signed=True).reshape(-1, 2).cumsum(axis=0) / scale
        parts, rings, verts = (decode_ints(cell[k], signed=False).tolist() for k in ("p", "r", "v"))
        k = 0
        for n_parts in parts:
            polys = []
            for _ in range(n_parts):
                ring_list = []
                for _ in range(rings.pop(0)):
                    n = verts.pop(0)
                    ring_list.append(coords[k:k + n, ::-1])
                    k += n
                polys.append(Polygon(ring_list[0], ring_list[1:]))
            out.append(polys[0] if len(polys) == 1 else MultiPolygon(polys))
    return out


def test_encode_layer_geometry_round_trip_and_cells():
    square = Polygon([(102.7, 24.9), (102.701, 24.9), (102.701, 24.901), (102.7, 24.901)],
                     [[(102.7002, 24.9002), (102.7004, 24.9002), (102.7004, 24.9004)]])
    far = shapely.affinity.translate(square, 0.5, 0.3)
    multi = MultiPolygon([shapely.affinity.translate(square, 0.002, 0), shapely.affinity.translate(square, 0.004, 0)])
    frame = gpd.GeoDataFrame({"name": ["a", "b", "c"], "mu": [1.234, np.nan, 3]}, geometry=[far, square, multi],
                             crs="EPSG:4326")
    spec = encode_layer(frame, fields=[Field("name", "名称"), Field("mu", "亩", 2)], tooltip=["name"], search="name")
    assert spec["n"] == 3 and spec["lod"] is None and len(spec["cells"]) == 2
    decoded = _decode_polygons(spec)
    by_name = dict(zip(spec["columns"][0]["values"], decoded, strict=True))  # distinct names: a plain list
    for name, original in zip(["a", "b", "c"], [far, square, multi], strict=True):
        assert by_name[name].symmetric_difference(original).area < 1e-12
    assert spec["columns"][1]["values"].count(None) == 1


def test_encode_layer_escapes_text_and_dictionary_encodes():
    frame = gpd.GeoDataFrame({"v": [HOSTILE, "重点村", "重点村", "重点村"]},
                             geometry=[Point(102.7 + i / 100, 24.9) for i in range(4)], crs="EPSG:4326")
    spec = encode_layer(frame, fields=[Field("v", "<b>label</b>")], tooltip=["v"], search="v")
    column = spec["columns"][0]
    assert column["dict"] == [escape_text(HOSTILE), "重点村"]
    assert "<" not in json.dumps(spec, ensure_ascii=False).replace("\\u003c", "")
    assert spec["tooltip"][0]["label"] == "&lt;b&gt;label&lt;/b&gt;"
    assert spec["kind"] == "point"


def test_a_layer_held_as_arrays_encodes_as_the_same_frame_does():
    """Page sets encode thousands of small layers from arrays (:class:`WebLayer`): the same data as a frame."""
    geoms = [Point(102.7 + i / 100, 24.9 + i / 300).buffer(0.001 * (i + 1)) for i in range(6)]
    columns = {"name": np.array([HOSTILE, "重点村", "重点村", None, "a", "b"], dtype=object),
               "mu": np.array([1.234, np.nan, 3.0, 4.5, 0.0, 2.0]), "style": np.array([0, 1, 0, 1, 1, 0])}
    frame = gpd.GeoDataFrame(columns, geometry=geoms, crs="EPSG:4326")
    fields = [Field("name", "名称"), Field("mu", "亩", 2)]
    kwargs = {"fields": fields, "tooltip": ["name"], "popup": ["mu"], "search": "name",
              "styles": [{"color": "#000"}, {"color": "#fff"}]}
    from_arrays = encode_layer(WebLayer(np.array(geoms, dtype=object), columns), style_index=columns["style"], **kwargs)
    assert from_arrays == encode_layer(frame, style_index=frame["style"].to_numpy(), **kwargs)
    assert from_arrays["columns"][1]["values"] == [1.23, None, 3, 4.5, 0, 2]  # numbers stay numbers
    assert len(WebLayer(np.array(geoms, dtype=object), columns)) == 6
    values = np.array([1, 1.0, True, "<a>", "<a>", None], dtype=object)  # equal as keys, each its own text
    mixed = encode_layer(WebLayer(np.array(geoms, dtype=object), {"v": values}), fields=[Field("v", "v")])
    assert mixed["columns"][0]["values"] == ["1", "1.0", "True", "&lt;a&gt;", "&lt;a&gt;", None]


def test_level_of_detail_above_the_threshold(monkeypatch):
    import kmrv_geo.webmap.encode as encode

    monkeypatch.setattr(encode, "LOD_FEATURES", 3)
    frame = gpd.GeoDataFrame(geometry=[Point(102.7 + i / 10, 24.9).buffer(0.001) for i in range(5)], crs="EPSG:4326")
    spec = encode.encode_layer(frame)
    assert spec["lod"]["min_zoom"] == encode.LOD_MIN_ZOOM and len(spec["cells"]) == 5


def test_assets_are_shipped_by_installed_packages():
    assert "L.Control.Search" in assets.asset_text("https://cdn.jsdelivr.net/npm/leaflet-search@2.9.7/dist/leaflet-search.min.js")
    assert "kmrv.compact" in assets.asset_text("kmrv-asset:kmrv_layer.js")
    with pytest.raises(MapError, match="no installed package ships"):
        assets.asset_text("https://example.invalid/x.js")
    with pytest.raises(MapError, match="external asset"):
        assets.inline_assets('<script src="//cdn.example/x.js" async></script>')


def test_template_text_in_attributes_is_not_evaluated(tmp_path):
    # branca compiles element text as Jinja: attribute text must never be evaluated when the map is saved
    ctx = MapContext(basemap="none")
    fmap = new_map(ctx)
    frame = gpd.GeoDataFrame({"v": ["{{ 7*7 }}{% if true %}x{% endif %}"]}, geometry=[Point(102.7, 24.9)],
                             crs="EPSG:4326")
    layer = add_layer(fmap, frame, ctx, key="p", name="p", fields=[Field("v", "v")], tooltip=["v"])
    finish_map(fmap, ctx, title="t", layers=[layer], legend=[("#fff", "{{ 6*7 }}")], notes=["{{ 5*7 }}"])
    html = assets.offline_html(fmap)
    assert "{{ 7*7 }}{% if true %}x{% endif %}" in html and "{{ 6*7 }}" in html and "{{ 5*7 }}" in html


@pytest.mark.parametrize("name", DEMO_MAPS)
def test_demo_maps_are_self_contained(demo_out, name):
    html = (demo_out / "maps" / f"{name}.html").read_text(encoding="utf-8")
    assert not EXTERNAL_ASSET.search(html)
    assert "示例数据" in html and "2023 年" in html
    assert "window.kmrv" in html and "L.Control.Search" in html and "L.Control.Measure" in html
    assert "L.control.fullscreen" in html
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html))
    tile_urls = {u for u in urls if any(host in u for host in basemaps.TILE_HOSTS)}
    assert tile_urls, "the demo maps use the OpenStreetMap basemap"


def test_demo_manifest_lists_the_maps(demo_out):
    manifest = json.loads((demo_out / "manifest.json").read_text(encoding="utf-8"))
    for name in DEMO_MAPS:
        assert manifest["outputs"][f"maps/{name}.html"]["kind"] == "map"


def _project(demo_out, **extra):
    from kmrv_geo.config import load_config
    from kmrv_geo.project import load_project

    config = load_config(demo_out / "data" / "demo.yml")
    return load_project(config.model_copy(update=extra))


def test_gaode_shifts_overlays_and_tianditu_needs_a_key(demo_out, monkeypatch):
    from kmrv_geo.webmap.build import map_context
    from kmrv_geo.webmap.overview import overview_map

    project = _project(demo_out)
    plain = overview_map(project, map_context(project, basemap="osm"))
    shifted = overview_map(project, map_context(project, basemap="gaode"))
    b0 = np.asarray(next(c for c in plain._children.values() if getattr(c, "key", "") == "lake").spec["bounds"])
    b1 = np.asarray(next(c for c in shifted._children.values() if getattr(c, "key", "") == "lake").spec["bounds"])
    shift_m = np.abs(b1 - b0)[:2] * 111_320
    assert 100 < shift_m.max() < 1000
    assert "GCJ-02" in assets.offline_html(shifted) and "autonavi.com" in assets.offline_html(shifted)
    monkeypatch.delenv(basemaps.KEY_ENV, raising=False)
    with pytest.raises(MapError, match="needs a Tianditu key"):
        map_context(project, basemap="tianditu")
    monkeypatch.setenv(basemaps.KEY_ENV, "0123456789abcdef0123456789abcdef")
    html = assets.offline_html(overview_map(project, map_context(project, basemap="tianditu-img", lang="en")))
    assert "tianditu.gov.cn/img_w/" in html and "tianditu.gov.cn/eia_w/" in html
    assert "tk=0123456789abcdef0123456789abcdef" in html


def test_config_basemap_is_validated(tmp_path):
    with pytest.raises(ConfigError, match=r"basemap: unknown basemap 'google'; allowed: none, osm, tianditu"):
        config_from_dict({"layers": {"lake": "x.gpkg"}, "basemap": "google"}, base_dir=tmp_path, check_files=False)
    with pytest.raises(ConfigError, match="map_decimals"):
        config_from_dict({"layers": {"lake": "x.gpkg"}, "map_decimals": 9}, base_dir=tmp_path, check_files=False)


def test_map_command_writes_every_map_in_english(demo_out, tmp_path, monkeypatch):
    monkeypatch.delenv(basemaps.KEY_ENV, raising=False)
    config = demo_out / "data" / "demo.yml"
    out = tmp_path / "maps_en"
    result = CliRunner().invoke(cli, ["map", str(config), "--out", str(out), "--basemap", "esri", "--lang", "en", "-q"])
    assert result.exit_code == 0, result.output
    for name in DEMO_MAPS:
        html = (out / "maps" / f"{name}.html").read_text(encoding="utf-8")
        assert "arcgisonline.com" in html and "Synthetic sample data" in html
    refused = CliRunner().invoke(cli, ["map", str(config), "--out", str(tmp_path / "t"), "--basemap", "tianditu"])
    assert refused.exit_code == 2 and "KMRV_TIANDITU_KEY" in refused.output


def test_abandonment_map_when_the_results_carry_abandoned_parcels(demo_out, abandoned_parcels):
    from types import SimpleNamespace

    from kmrv_geo.webmap.build import build_maps, map_context

    project = _project(demo_out)
    parcels = abandoned_parcels
    results = SimpleNamespace(violations=None, coverage=None, village_profiles=None,
                              abandonment=SimpleNamespace(abandoned=parcels))
    maps = build_maps(project, results, map_context(project))
    assert set(maps) == {"overview", "abandonment"}
    layer = next(c for c in maps["abandonment"]._children.values() if getattr(c, "key", "") == "parcels")
    assert layer.spec["n"] == len(parcels) and layer.spec["search"] is not None
    assert "疑似撂荒" in assets.offline_html(maps["abandonment"])
    nothing = SimpleNamespace(violations=None, coverage=None, village_profiles=None, abandonment=None)
    assert "abandonment" not in build_maps(project, nothing, map_context(project))


def test_violations_map_shows_raster_patches_as_their_own_hidden_layer(demo_out):
    from types import SimpleNamespace

    from kmrv_geo.webmap.build import build_maps, map_context

    project = _project(demo_out)
    patches = gpd.read_file(demo_out / "results.gpkg", layer="change_patches", engine="pyogrio")
    vector, raster = patches[patches["source"] == "vector"], patches[patches["source"] == "raster"]
    both = SimpleNamespace(violations=SimpleNamespace(patches=vector, below_min=None), landcover=SimpleNamespace(
        patches=raster), coverage=None, village_profiles=None, abandonment=None)
    layers = {c.key: c for c in build_maps(project, both, map_context(project))["violations"]._children.values()
              if hasattr(c, "key")}
    assert layers["patches"].spec["n"] == len(vector) and layers["raster"].spec["n"] == len(raster)
    only_raster = SimpleNamespace(violations=None, landcover=SimpleNamespace(patches=raster), coverage=None,
                                  village_profiles=None, abandonment=None)
    fmap = build_maps(project, only_raster, map_context(project))["violations"]
    assert any(getattr(c, "key", "") == "raster" for c in fmap._children.values())
