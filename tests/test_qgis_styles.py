"""QGIS styles in results.gpkg: the table QGIS reads, and real QGIS opening each layer styled as the HTML maps.

The QGIS checks run Debian's ``python3-qgis`` (``/usr/bin/python3``, headless) in a subprocess; they are
skipped, saying so, only where that Python cannot import ``qgis`` (``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from kmrv_geo.analysis.judge_rules import VERDICT_TEXT
from kmrv_geo.analysis.village_plan import FINDINGS
from kmrv_geo.analysis.violations import STATUSES
from kmrv_geo.outputs import OutputFolder
from kmrv_geo.qgis_styles import CREATE_TABLE, PLAIN, TABLE, layer_style, layer_style_qml, write_layer_styles
from kmrv_geo.report import headings
from kmrv_geo.webmap import abandonment, coverage, judge, village_pagemap, villages, violations
from kmrv_geo.webmap.common import localised_values

SYSTEM_PYTHON = "/usr/bin/python3"
HOSTILE = 'x"<&>\'；\n村\x01'
"""Quotes, markup, a newline and a control character (removed when written) in a category value."""
QGIS_COLUMNS = ["id", "f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName",
                "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time"]


def _boxes(n: int) -> list:
    return [box(2 * i, 0, 2 * i + 1, 1) for i in range(n)]


@pytest.fixture
def layers() -> dict[str, gpd.GeoDataFrame]:
    crs = "EPSG:4547"
    statuses = [*STATUSES, HOSTILE, None]
    verdicts = [*judge.VERDICT_ORDER, HOSTILE]
    findings = [*FINDINGS, "unknown_finding"]
    return {
        "change_patches": gpd.GeoDataFrame({
            "patch_id": [f"图斑{i}" for i in range(len(statuses))], "status": statuses,
            "pbf_mu": [1.5 if i % 2 else 0.0 for i in range(len(statuses) - 1)] + [None]},
            geometry=_boxes(len(statuses)), crs=crs),
        "below_min_patches": gpd.GeoDataFrame({"patch_id": ["小"], "status": ["illegal"]}, geometry=_boxes(1), crs=crs),
        "judged_patches": gpd.GeoDataFrame({
            "patch_id": [f"J{i}" for i in range(len(verdicts))], "verdict": verdicts,
            "verdict_text": ["违法", "待核实", "合法", "？"], "pbf_mu": [2.0, 0.0, 0.0, 1.0]},
            geometry=_boxes(len(verdicts)), crs=crs),
        "judged_parts": gpd.GeoDataFrame({"patch_id": ["J0", "J0"], "part": [1, 2], "verdict": ["illegal", "legal"]},
                                         geometry=_boxes(2), crs=crs),
        "patches_not_judged": gpd.GeoDataFrame({"patch_id": ["N1"]}, geometry=_boxes(1), crs=crs),
        "hsf_gaps": gpd.GeoDataFrame({"rank": [1], "area_mu": [3.0]}, geometry=_boxes(1), crs=crs),
        "facility_sites": gpd.GeoDataFrame({"site_id": ["S1"]}, geometry=_boxes(1), crs=crs),
        "abandoned_parcels": gpd.GeoDataFrame({"parcel_id": ["P1", "P2"], "on_pbf": [True, False]},
                                              geometry=_boxes(2), crs=crs),
        "villages_profile": gpd.GeoDataFrame({"village": ["甲村", "乙村", "丙村", "丁村"],
                                              "category": ["重点村", "绿美村庄", HOSTILE, None]},
                                             geometry=[Point(i, i) for i in range(4)], crs=crs),
        "village_construction": gpd.GeoDataFrame({"village_index": [0, 0], "new": [True, False]},
                                                 geometry=_boxes(2), crs=crs),
        "village_review": gpd.GeoDataFrame({"village": ["甲村"] * len(findings), "finding": findings},
                                           geometry=_boxes(len(findings)), crs=crs),
    }  # fmt: skip


def _write(tmp_path: Path, layers: dict, lang: str) -> Path:
    folder = OutputFolder(tmp_path / "out")
    folder.write_layers("results.gpkg", layers, styles_lang=lang)
    folder.finish()
    return tmp_path / "out" / "results.gpkg"


def _hex(colour: str) -> str:
    return colour.lower()


def expected(lang: str) -> dict[str, list[tuple[str, str, str]]]:
    """(value, label, colour) of each categorized layer, straight from the HTML maps' constants and words."""
    other = {"zh": "其他值", "en": "other values"}[lang]
    words = localised_values(pd.Series(list(STATUSES)), lang)
    clean_hostile = 'x"<&>\'；\n村'
    return {
        "change_patches": [*((s, w, violations.STATUS_COLOURS[s]) for s, w in zip(STATUSES, words, strict=True)),
                           ("", other, violations.STATUS_COLOURS["other"])],
        "judged_patches": [*((v, VERDICT_TEXT[lang][v], judge.VERDICT_COLOURS[v]) for v in judge.VERDICT_ORDER),
                           ("", other, judge.VERDICT_COLOURS["to_check"])],
        "judged_parts": [*((v, VERDICT_TEXT[lang][v], judge.VERDICT_COLOURS[v]) for v in judge.VERDICT_ORDER),
                         ("", other, judge.VERDICT_COLOURS["to_check"])],
        "villages_profile": [("重点村", "重点村", villages.KEY_COLOUR), ("绿美村庄", "绿美村庄", villages.GREEN_COLOUR),
                             (clean_hostile, clean_hostile, villages.OTHER_COLOUR),
                             ("", villages.TEXT[lang]["other"], villages.OTHER_COLOUR)],
        "village_review": [*((f, FINDINGS[f][0 if lang == "zh" else 1], village_pagemap.FINDING_COLOURS[f])
                             for f in FINDINGS), ("", other, village_pagemap.OTHER_FINDING_COLOUR)],
        "abandoned_parcels": [("true", abandonment.TEXT[lang]["on_pbf"], abandonment.STYLES[1]["fillColor"]),
                              ("false", abandonment.TEXT[lang]["off_pbf"], abandonment.STYLES[0]["fillColor"]),
                              ("", other, abandonment.STYLES[0]["fillColor"])],
        "village_construction": [
            ("true", {"zh": "新增建设用地（前时相非建设用地）",
                      "en": "new construction (not construction at T0)"}[lang],
             village_pagemap.STYLES["construction_t1"]["fillColor"]),
            ("false", {"zh": "前时相已有建设用地", "en": "construction existing at T0"}[lang],
             village_pagemap.STYLES["construction_t0"]["fillColor"]),
            ("", other, village_pagemap.STYLES["construction_t0"]["fillColor"])],
    }  # fmt: skip


SINGLE = {"below_min_patches": violations.BELOW_MIN_STYLE["fillColor"],
          "patches_not_judged": judge.NOT_JUDGED_STYLE["fillColor"], "hsf_gaps": coverage.GAP_STYLE["fillColor"],
          "facility_sites": PLAIN["fillColor"]}


# --- the table, without QGIS -------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_layer_styles_table_as_qgis_makes_it(tmp_path, layers, lang):
    path = _write(tmp_path, layers, lang)
    with sqlite3.connect(path) as db:
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({TABLE})")]
        assert columns == QGIS_COLUMNS
        assert db.execute("SELECT data_type FROM gpkg_contents WHERE table_name = ?", (TABLE,)).fetchone() == (
            "attributes",)
        assert db.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?",
                          (TABLE,)).fetchone() == (len(layers),)
        rows = db.execute(f"SELECT f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName, "
                          f"styleQML, useAsDefault, update_time FROM {TABLE}").fetchall()
    assert sorted(r[2] for r in rows) == sorted(layers)
    for catalog, schema, table, column, name, qml, default, updated in rows:
        assert (catalog, schema, column, name, default) == ("", "", "geom", table, 1)
        assert updated  # filled by the column default, which QGIS orders by
        root = ET.fromstring(qml.split("\n", 1)[1])  # after the DOCTYPE line
        renderer = root.find("renderer-v2")
        if table in SINGLE:
            assert renderer.get("type") == "singleSymbol"
            continue
        assert renderer.get("type") == "categorizedSymbol"
        got = [(c.get("value"), c.get("label")) for c in renderer.iter("category")]
        assert got == [(v, label) for v, label, _ in expected(lang)[table]]


def test_styles_rewritten_keep_one_default(tmp_path, layers):
    path = _write(tmp_path, layers, "zh")
    with sqlite3.connect(path) as db:  # a style the user saved in QGIS, marked default
        db.execute(f"INSERT INTO {TABLE} (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                   "styleName, styleQML, styleSLD, useAsDefault, description, owner) "
                   "VALUES ('', '', 'hsf_gaps', 'geom', 'mine', '<qgis/>', '', 1, '', '')")
    assert write_layer_styles(path, {"hsf_gaps": layers["hsf_gaps"], "not_there": layers["hsf_gaps"]}, "en") == 1
    with sqlite3.connect(path) as db:
        rows = db.execute(f"SELECT styleName, useAsDefault FROM {TABLE} WHERE f_table_name = 'hsf_gaps' "
                          "ORDER BY styleName").fetchall()
        total = db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
        count = db.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?", (TABLE,)).fetchone()
    assert rows == [("hsf_gaps", 1), ("mine", 0)]
    assert count == (total,)


def test_create_table_is_qgis_schema():
    assert all(f'"{c}"' in CREATE_TABLE for c in QGIS_COLUMNS)


def test_plain_style_and_missing_field():
    frame = gpd.GeoDataFrame({"a": [1]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4547")
    assert layer_style("hsf_to_construction", frame).field is None
    assert layer_style("change_patches", frame).field is None  # no status column: one symbol, never nothing drawn
    assert 'type="singleSymbol"' in layer_style_qml("change_patches", frame)
    with pytest.raises(ValueError, match="lang must be"):
        layer_style("change_patches", frame, "fr")


def test_aliases_are_report_headings(layers):
    qml = layer_style_qml("change_patches", layers["change_patches"], "zh", geometry_type="POLYGON")
    root = ET.fromstring(qml.split("\n", 1)[1])
    aliases = {a.get("field"): a.get("name") for a in root.iter("alias")}
    assert aliases["status"] == headings("zh")["status"] and aliases["pbf_mu"] == headings("zh")["pbf_mu"]
    assert root.findtext("layerGeometryType") == "2"


# --- real QGIS ---------------------------------------------------------------------------------------------------

def _qgis_python() -> str | None:
    """Why QGIS's Python cannot be used here (``None``: it can)."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    proc = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    if proc.returncode:
        last = (proc.stderr.strip().splitlines() or [""])[-1]
        return f"{SYSTEM_PYTHON} cannot import qgis (install Debian's python3-qgis, as .ci/run does): {last}"
    return None


QGIS_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    from qgis.core import QgsApplication, QgsRenderContext, QgsSymbolLayer, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    app = QgsApplication([], False)
    app.initQgis()
    path, names = sys.argv[1], json.loads(sys.argv[2])
    out = {}
    for name in names:
        layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
        renderer = layer.renderer()
        info = {"valid": layer.isValid(), "type": renderer.type() if renderer else None,
                "aliases": {f.name(): layer.attributeAlias(i) for i, f in enumerate(layer.fields())}}
        if info["type"] == "categorizedSymbol":
            info["attr"] = renderer.classAttribute()
            categories = renderer.categories()  # kept: each symbol lives as long as its category
            info["categories"] = [[str(c.value()), c.label(), c.symbol().color().name()] for c in categories]
            symbol = categories[0].symbol()
            info["pbf_outline"] = [
                [symbol.symbolLayer(i).color().name(),
                 symbol.symbolLayer(i).dataDefinedProperties().property(QgsSymbolLayer.PropertyLayerEnabled)
                 .expressionString()] for i in range(1, symbol.symbolLayerCount())]
            context = QgsRenderContext()
            renderer.startRender(context, layer.fields())
            field = layer.fields().indexOf(renderer.classAttribute())
            info["features"] = []
            for feature in layer.getFeatures():
                drawn = renderer.symbolForFeature(feature, context)
                value = feature.attributes()[field]
                if value is None or (isinstance(value, QVariant) and value.isNull()):
                    value = None
                elif isinstance(value, bool):
                    value = "true" if value else "false"
                info["features"].append([None if value is None else str(value),
                                         drawn.color().name() if drawn else None])
            renderer.stopRender(context)
        elif info["type"] == "singleSymbol":
            info["colour"] = renderer.symbol().color().name()
        out[name] = info
    print("RESULT" + json.dumps(out, ensure_ascii=False), flush=True)
    os._exit(0)  # QGIS's own teardown of a headless app can abort ("pure virtual method called")
    """
)


@pytest.fixture(scope="module")
def qgis_python() -> str:
    reason = _qgis_python()
    if reason:
        pytest.skip(reason)
    return SYSTEM_PYTHON


def _open_in_qgis(python: str, path: Path, names: list[str]) -> dict:
    runtime = path.parent.parent / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime)}
    proc = subprocess.run([python, "-c", QGIS_SCRIPT, str(path), json.dumps(names)], capture_output=True,
                          text=True, timeout=300, env=env, cwd=path.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT"))
    return json.loads(line[len("RESULT"):])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_qgis_opens_results_styled(tmp_path, layers, lang, qgis_python):
    path = _write(tmp_path, layers, lang)
    got = _open_in_qgis(qgis_python, path, list(layers))
    want = expected(lang)
    for name, info in got.items():
        assert info["valid"], name
        if name in SINGLE:
            assert info["type"] == "singleSymbol", name
            assert info["colour"] == _hex(SINGLE[name]), name
            continue
        assert info["type"] == "categorizedSymbol", name
        assert info["categories"] == [[v, label, _hex(c)] for v, label, c in want[name]], name
        colours = {v: _hex(c) for v, _, c in want[name]}
        for value, drawn in info["features"]:  # every feature drawn, unknown values in the "other" colour
            assert drawn == colours.get("" if value is None else value, colours[""]), (name, value)
    assert got["change_patches"]["attr"] == "status" and got["judged_patches"]["attr"] == "verdict"
    assert got["villages_profile"]["attr"] == "category" and got["village_review"]["attr"] == "finding"
    pbf = [[_hex(violations.PBF_OUTLINE), 'coalesce("pbf_mu", 0) > 0']]
    assert got["change_patches"]["pbf_outline"] == pbf and got["judged_patches"]["pbf_outline"] == pbf
    assert got["judged_parts"]["pbf_outline"] == []
    assert got["change_patches"]["aliases"]["status"] == headings(lang)["status"]
    # the hostile value was written without its control character and drawn in the "other villages" colour
    villages_drawn = dict(got["villages_profile"]["features"][i] for i in range(2))
    assert villages_drawn == {"重点村": _hex(villages.KEY_COLOUR), "绿美村庄": _hex(villages.GREEN_COLOUR)}
