"""QGIS styles inside ``results.gpkg``: each result layer opens in QGIS coloured as on the HTML maps.

QGIS keeps a layer's styles in the GeoPackage table ``layer_styles`` (the table and columns QGIS itself
creates when one saves a style "in the database", registered in ``gpkg_contents`` as attributes); the row
marked ``useAsDefault`` is applied when the layer is opened. :func:`write_layer_styles` writes one default
style per layer, :func:`layer_style_qml` its QML.

The colours, classes and legend words are the HTML maps' (imported from the map modules, never re-typed):
change patches by verdict (``status``) with patches touching PBF outlined dark red, judged patches and their
parts by ``verdict``, villages by ``category``, the village review by ``finding``, abandoned parcels and the
village construction by their flag; any other layer gets a plain single symbol. Legend labels are Chinese
by default (``lang="en"``: English), and the layer's columns get the report's headings as aliases.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .analysis.judge_rules import VERDICT_TEXT
from .analysis.village_plan import FINDINGS
from .analysis.villages import GREEN, KEY
from .analysis.violations import STATUSES
from .fieldcheck.labels import check_lang
from .report import VALUES, headings
from .text import text_of
from .webmap import abandonment, coverage, judge, village_pagemap, villages, violations

TABLE = "layer_styles"
PX_MM = 0.26
"""Millimetres per screen pixel: a Leaflet line ``weight`` of 1 px is QGIS's default 0.26 mm."""
QGIS_VERSION = "3.22.0-Białowieża"
"""The QGIS version the QML is written for (older than any QGIS that reads it, so none converts it)."""
DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
PLAIN = {"color": "#3f3f3f", "weight": 1, "fillColor": "#9ecae1", "fillOpacity": 0.5}
"""A layer no map draws: a plain single symbol."""
PBF_EXPRESSION = 'coalesce("pbf_mu", 0) > 0'
"""Where the map outlines a patch dark red (it touches permanent basic farmland)."""

TEXT = {
    "zh": {"other_values": "其他值", "new": "新增建设用地（前时相非建设用地）", "old": "前时相已有建设用地",
           "construction": "村内建设用地", "description": "kmrv-geo 默认样式，配色同 HTML 地图：{title}",
           "plain": "kmrv-geo 默认样式（单一符号）：{title}",
           "pbf_note": "；{flag}"},
    "en": {"other_values": "other values", "new": "new construction (not construction at T0)",
           "old": "construction existing at T0", "construction": "Construction in villages",
           "description": "kmrv-geo default style, coloured as the HTML maps: {title}", "pbf_note": "; {flag}",
           "plain": "kmrv-geo default style (single symbol): {title}"},
}  # fmt: skip


@dataclass(frozen=True)
class Symbol:
    """How one class is drawn, in the HTML maps' terms (Leaflet path options).

    Attributes
    ----------
    fill : str or None
        Fill colour ``#rrggbb`` (``None``: outline only).
    fill_opacity : float
    stroke : str
        Outline colour.
    weight : float
        Outline width in screen pixels (Leaflet ``weight``).
    dashed : bool
    pbf_outline : bool
        Also draw the thick dark-red outline of the maps where ``pbf_mu > 0``.
    """

    fill: str | None
    fill_opacity: float = 1.0
    stroke: str = "#555555"
    weight: float = 1.0
    dashed: bool = False
    pbf_outline: bool = False

    @classmethod
    def leaflet(cls, style: dict, *, pbf_outline: bool = False) -> Symbol:
        """The symbol of a map's Leaflet style dict (``color``, ``weight``, ``fillColor``, ``fillOpacity`` …)."""
        fill = None if style.get("fill") is False else style.get("fillColor", style.get("color"))
        return cls(fill=fill, fill_opacity=float(style.get("fillOpacity", 0.2)), stroke=style.get("color", "#3388ff"),
                   weight=float(style.get("weight", 3)), dashed=bool(style.get("dashArray")), pbf_outline=pbf_outline)


@dataclass(frozen=True)
class Category:
    """One class: features whose field equals ``value`` (``""``: every value not listed, and empty ones)."""

    value: str
    label: str
    symbol: Symbol


@dataclass(frozen=True)
class LayerStyle:
    """A layer's style: categories of ``field``, or one symbol when ``field`` is ``None``."""

    title: str
    field: str | None = None
    categories: tuple[Category, ...] = ()
    single: Symbol | None = None
    note: str = ""


def _other(symbol: Symbol, lang: str) -> Category:
    return Category("", TEXT[lang]["other_values"], symbol)


def _status_words(lang: str) -> dict[str, str]:
    """The verdict words of the violations map's legend (``localised_values`` of :mod:`kmrv_geo.webmap.common`)."""
    return {s: VALUES[lang].get(s, s.replace("_", " ") if lang == "en" else s) for s in STATUSES}


def _change_patches(frame, lang: str) -> LayerStyle:
    text = violations.TEXT[lang]
    words = _status_words(lang)

    def symbol(colour: str) -> Symbol:
        return Symbol(fill=colour, fill_opacity=0.65, stroke=colour, weight=1, pbf_outline=True)

    cats = [Category(s, words[s], symbol(violations.STATUS_COLOURS[s])) for s in STATUSES]
    cats.append(_other(symbol(violations.STATUS_COLOURS["other"]), lang))
    return LayerStyle(text["patches"], "status", tuple(cats), note=text["pbf_flag"])


def _verdicts(title: str, *, weight: float, pbf_outline: bool, lang: str) -> LayerStyle:
    def symbol(colour: str) -> Symbol:
        return Symbol(fill=colour, fill_opacity=0.65, stroke=colour, weight=weight, pbf_outline=pbf_outline)

    cats = [Category(v, VERDICT_TEXT[lang][v], symbol(judge.VERDICT_COLOURS[v])) for v in judge.VERDICT_ORDER]
    cats.append(_other(symbol(judge.VERDICT_COLOURS["to_check"]), lang))  # the map draws unknown verdicts so
    return LayerStyle(title, "verdict", tuple(cats), note=judge.TEXT[lang]["pbf_flag"] if pbf_outline else "")


def _judged_patches(frame, lang: str) -> LayerStyle:
    return _verdicts(judge.TEXT[lang]["patches"], weight=1, pbf_outline=True, lang=lang)


def _judged_parts(frame, lang: str) -> LayerStyle:
    return _verdicts(judge.TEXT[lang]["parts"], weight=2, pbf_outline=False, lang=lang)


def _villages_profile(frame, lang: str) -> LayerStyle:
    """By ``category``: 重点村 red, 绿美村庄 green, any other category blue; labelled with the value (as the map)."""
    present = [] if frame is None or "category" not in frame else [text_of(v) for v in frame["category"]]
    values = list(dict.fromkeys(v for v in (KEY, GREEN, *present) if v))

    def symbol(colour: str) -> Symbol:
        return Symbol(fill=colour, fill_opacity=0.35, stroke=colour, weight=2)

    cats = [Category(v, v, symbol(villages.category_colour(v))) for v in values]
    cats.append(Category("", villages.TEXT[lang]["other"], symbol(villages.OTHER_COLOUR)))
    return LayerStyle(villages.TEXT[lang]["villages"], "category", tuple(cats))


def _village_review(frame, lang: str) -> LayerStyle:
    def symbol(colour: str) -> Symbol:  # as the village pages draw a finding
        return Symbol(fill=colour, fill_opacity=0.25, stroke=colour, weight=4)

    cats = [Category(f, village_pagemap.finding_name(f, lang), symbol(village_pagemap.finding_colour(f)))
            for f in FINDINGS]
    cats.append(_other(symbol(village_pagemap.OTHER_FINDING_COLOUR), lang))
    return LayerStyle(village_pagemap.TEXT[lang]["findings"], "finding", tuple(cats))


def _abandoned(frame, lang: str) -> LayerStyle:
    text = abandonment.TEXT[lang]
    off, on = (Symbol.leaflet(s) for s in abandonment.STYLES)
    return LayerStyle(text["parcels"], "on_pbf", (Category("true", text["on_pbf"], on),
                                                  Category("false", text["off_pbf"], off), _other(off, lang)))


def _village_construction(frame, lang: str) -> LayerStyle:
    new = Symbol.leaflet(village_pagemap.STYLES["construction_t1"])
    old = Symbol.leaflet(village_pagemap.STYLES["construction_t0"])
    return LayerStyle(TEXT[lang]["construction"], "new", (Category("true", TEXT[lang]["new"], new),
                                                          Category("false", TEXT[lang]["old"], old),
                                                          _other(old, lang)))


def _single(title: Callable[[str], str], style: dict) -> Callable:
    return lambda frame, lang: LayerStyle(title(lang), single=Symbol.leaflet(style))


STYLES: dict[str, Callable] = {
    "change_patches": _change_patches,
    "below_min_patches": _single(lambda lang: violations.TEXT[lang]["below_min"], violations.BELOW_MIN_STYLE),
    "judged_patches": _judged_patches,
    "judged_parts": _judged_parts,
    "patches_not_judged": _single(lambda lang: judge.TEXT[lang]["not_judged"], judge.NOT_JUDGED_STYLE),
    "hsf_gaps": _single(lambda lang: coverage.TEXT[lang]["gaps"], coverage.GAP_STYLE),
    "abandoned_parcels": _abandoned,
    "villages_profile": _villages_profile,
    "village_construction": _village_construction,
    "village_review": _village_review,
}
"""Result layer → its style (``f(frame, lang) -> LayerStyle``); a layer not here gets :data:`PLAIN`."""


def layer_style(name: str, frame: pd.DataFrame | None = None, lang: str = "zh") -> LayerStyle:
    """The style of result layer ``name``: the map's classes, or one plain symbol.

    A categorized layer whose frame lacks the field is drawn with one symbol (its first class).
    """
    check_lang(lang)
    make = STYLES.get(name)
    style = make(frame, lang) if make else LayerStyle(name, single=Symbol.leaflet(PLAIN))
    if style.field and frame is not None and style.field not in frame:
        style = LayerStyle(style.title, single=style.categories[0].symbol)
    return style


# --- QML ---------------------------------------------------------------------------------------------------------

def _rgba(colour: str | None, opacity: float = 1.0) -> str:
    if not colour:
        return "0,0,0,0"
    c = colour.lstrip("#")
    return f"{int(c[0:2], 16)},{int(c[2:4], 16)},{int(c[4:6], 16)},{round(255 * opacity)}"


def _mm(px: float) -> str:
    return f"{px * PX_MM:.4g}"


def _properties(parent: ET.Element, props: dict[str, str]) -> None:
    """Symbol-layer properties both ways QGIS reads them (``<Option>`` map, and ``<prop>`` before 3.26)."""
    options = ET.SubElement(parent, "Option", type="Map")
    for key, value in props.items():
        ET.SubElement(options, "Option", type="QString", name=key, value=value)
    for key, value in props.items():
        ET.SubElement(parent, "prop", k=key, v=value)


def _data_defined(parent: ET.Element, enabled: str | None = None) -> None:
    box = ET.SubElement(ET.SubElement(parent, "data_defined_properties"), "Option", type="Map")
    ET.SubElement(box, "Option", type="QString", name="name", value="")
    props = ET.SubElement(box, "Option", name="properties", **({"type": "Map"} if enabled else {}))
    if enabled:
        prop = ET.SubElement(props, "Option", type="Map", name="enabled")
        ET.SubElement(prop, "Option", type="bool", name="active", value="true")
        ET.SubElement(prop, "Option", type="QString", name="expression", value=enabled)
        ET.SubElement(prop, "Option", type="int", name="type", value="3")
    ET.SubElement(box, "Option", type="QString", name="type", value="collection")


def _layer(parent: ET.Element, cls: str, props: dict[str, str], *, enabled: str | None = None) -> None:
    layer = ET.SubElement(parent, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"})
    _properties(layer, props)
    _data_defined(layer, enabled)


def _line_props(colour: str, weight: float, dashed: bool) -> dict[str, str]:
    return {"line_color": _rgba(colour), "line_style": "dash" if dashed else "solid", "line_width": _mm(weight),
            "line_width_unit": "MM", "capstyle": "round", "joinstyle": "round"}


def _symbol(parent: ET.Element, index: int, symbol: Symbol, kind: str) -> None:
    """A ``<symbol>`` of ``kind`` fill, marker or line drawn as the map draws ``symbol``."""
    el = ET.SubElement(parent, "symbol", type=kind, name=str(index), alpha="1", clip_to_extent="1", force_rhr="0")
    _data_defined(el)
    if kind == "marker":
        _layer(el, "SimpleMarker", {
            "name": "circle", "color": _rgba(symbol.fill or symbol.stroke, max(symbol.fill_opacity, 0.8)),
            "outline_color": _rgba("#ffffff"), "outline_style": "solid", "outline_width": "0.4",
            "outline_width_unit": "MM", "size": "3.2", "size_unit": "MM"})  # fmt: skip
        return
    if kind == "line":
        _layer(el, "SimpleLine", _line_props(symbol.stroke, symbol.weight, symbol.dashed))
    else:
        _layer(el, "SimpleFill", {
            "color": _rgba(symbol.fill, symbol.fill_opacity), "style": "solid" if symbol.fill else "no",
            "outline_color": _rgba(symbol.stroke), "outline_style": "dash" if symbol.dashed else "solid",
            "outline_width": _mm(symbol.weight), "outline_width_unit": "MM", "joinstyle": "round"})  # fmt: skip
    if symbol.pbf_outline:
        _layer(el, "SimpleLine", _line_props(violations.PBF_OUTLINE, 3, False), enabled=PBF_EXPRESSION)


GEOMETRY_KINDS = {"POINT": ("marker", "0"), "MULTIPOINT": ("marker", "0"), "LINESTRING": ("line", "1"),
                  "MULTILINESTRING": ("line", "1"), "POLYGON": ("fill", "2"), "MULTIPOLYGON": ("fill", "2")}
"""GeoPackage geometry type → QGIS symbol type and ``layerGeometryType`` (0 point, 1 line, 2 polygon)."""


def geometry_kind(frame: pd.DataFrame | None, geometry_type: str | None = None) -> str:
    """``"fill"``, ``"marker"`` or ``"line"``: from the GeoPackage's geometry type, else the frame's geometries."""
    kind = GEOMETRY_KINDS.get((geometry_type or "").upper())
    if kind:
        return kind[0]
    types = getattr(frame, "geom_type", None)
    first = types.dropna().iloc[0] if types is not None and types.notna().any() else "Polygon"
    return GEOMETRY_KINDS.get(str(first).upper(), ("fill", "2"))[0]


def layer_style_qml(name: str, frame: pd.DataFrame | None = None, lang: str = "zh", *,
                    geometry_type: str | None = None) -> str:
    """The QML of result layer ``name``'s default style.

    Parameters
    ----------
    name : str
        The layer's name in ``results.gpkg`` (e.g. ``change_patches``).
    frame : GeoDataFrame, optional
        The layer: its geometry type (points or polygons), its fields (aliases) and open classes (village
        categories).
    lang : {"zh", "en"}, default "zh"
        Language of the legend labels and field aliases.
    geometry_type : str, optional
        The GeoPackage's geometry type of the layer (``MULTIPOLYGON`` …), known once it is written.

    Returns
    -------
    str
        A QGIS style document: a ``categorizedSymbol`` renderer on the layer's field (or ``singleSymbol``),
        with the HTML maps' colours and labels.

    Examples
    --------
    >>> "categorizedSymbol" in layer_style_qml("change_patches")
    True
    """
    style = layer_style(name, frame, lang)
    kind = geometry_kind(frame, geometry_type)
    root = ET.Element("qgis", version=QGIS_VERSION, styleCategories="Symbology|Fields")
    if kind_code := GEOMETRY_KINDS.get((geometry_type or "").upper()):
        ET.SubElement(root, "layerGeometryType").text = kind_code[1]
    if style.field:
        renderer = ET.SubElement(root, "renderer-v2", type="categorizedSymbol", attr=style.field,
                                 enableorderby="0", forceraster="0", symbollevels="0", referencescale="-1")
        categories = ET.SubElement(renderer, "categories")
        for i, cat in enumerate(style.categories):
            ET.SubElement(categories, "category", value=cat.value, symbol=str(i), label=cat.label, render="true")
        symbols = ET.SubElement(renderer, "symbols")
        for i, cat in enumerate(style.categories):
            _symbol(symbols, i, cat.symbol, kind)
    else:
        renderer = ET.SubElement(root, "renderer-v2", type="singleSymbol", enableorderby="0", forceraster="0",
                                 symbollevels="0", referencescale="-1")
        _symbol(ET.SubElement(renderer, "symbols"), 0, style.single, kind)
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    if frame is not None:
        words = headings(lang)
        aliases = ET.SubElement(root, "aliases")
        fields = [c for c in frame.columns if c != getattr(frame, "_geometry_column_name", None)]
        for i, column in enumerate(fields, start=1):  # QGIS's field 0 is the GeoPackage's fid
            if column in words:
                ET.SubElement(aliases, "alias", field=str(column), index=str(i), name=words[column])
    return DOCTYPE + "\n" + ET.tostring(root, encoding="unicode") + "\n"


def describe(name: str, frame: pd.DataFrame | None = None, lang: str = "zh") -> str:
    """The style's description in ``layer_styles``: what it is and the layer's title (and the PBF outline)."""
    style = layer_style(name, frame, lang)
    text = TEXT[lang]["description" if name in STYLES else "plain"].format(title=style.title)
    return text + (TEXT[lang]["pbf_note"].format(flag=style.note) if style.note else "")


# --- the layer_styles table --------------------------------------------------------------------------------------

CREATE_TABLE = (
    f'CREATE TABLE "{TABLE}" ( "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, "f_table_catalog" TEXT(256), '
    '"f_table_schema" TEXT(256), "f_table_name" TEXT(256), "f_geometry_column" TEXT(256), "styleName" TEXT(30), '
    '"styleQML" TEXT, "styleSLD" TEXT, "useAsDefault" BOOLEAN, "description" TEXT, "owner" TEXT(30), '
    '"ui" TEXT(30), "update_time" DATETIME DEFAULT (strftime(\'%Y-%m-%dT%H:%M:%fZ\',\'now\')))'
)
"""``layer_styles`` exactly as QGIS creates it in a GeoPackage (through GDAL: FID ``id``, ``useAsDefault``
a boolean, ``update_time`` defaulting to now)."""
COUNT_TRIGGERS = (
    f'CREATE TRIGGER "trigger_insert_feature_count_{TABLE}" AFTER INSERT ON "{TABLE}" BEGIN UPDATE '
    f"gpkg_ogr_contents SET feature_count = feature_count + 1 WHERE lower(table_name) = lower('{TABLE}'); END",
    f'CREATE TRIGGER "trigger_delete_feature_count_{TABLE}" AFTER DELETE ON "{TABLE}" BEGIN UPDATE '
    f"gpkg_ogr_contents SET feature_count = feature_count - 1 WHERE lower(table_name) = lower('{TABLE}'); END",
)  # fmt: skip
"""GDAL's feature-count triggers, so GDAL and QGIS count the styles right."""


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone() is not None


def _create_table(db: sqlite3.Connection) -> None:
    db.execute(CREATE_TABLE)
    db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change, srs_id) "
               "VALUES (?, 'attributes', ?, '', strftime('%Y-%m-%dT%H:%M:%fZ','now'), 0)", (TABLE, TABLE))
    if _has_table(db, "gpkg_ogr_contents"):
        db.execute("INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES (?, 0)", (TABLE,))
        for trigger in COUNT_TRIGGERS:
            db.execute(trigger)


def write_layer_styles(gpkg_path: str | Path, layers: dict[str, pd.DataFrame], lang: str = "zh") -> int:
    """Write a default QGIS style for every layer of ``layers`` found in the GeoPackage, in one transaction.

    Parameters
    ----------
    gpkg_path : str or Path
        A GeoPackage whose layers are already written (e.g. the temporary ``results.gpkg``).
    layers : dict
        Layer name → the frame written (its fields and geometries shape the style).
    lang : {"zh", "en"}, default "zh"

    Returns
    -------
    int
        The number of styles written.

    Notes
    -----
    ``layer_styles`` is created as QGIS creates it; an existing one keeps its other rows, but our style
    (named as the layer) replaces an earlier one of that name and becomes the only default of the layer.
    """
    check_lang(lang)
    db = sqlite3.connect(str(gpkg_path))
    try:
        with db:
            geometry = {row[0]: (row[1], row[2]) for row in db.execute(
                "SELECT table_name, column_name, geometry_type_name FROM gpkg_geometry_columns")}
            tables = {row[0] for row in db.execute("SELECT table_name FROM gpkg_contents")}
            if not _has_table(db, TABLE):
                _create_table(db)
            written = 0
            for name, frame in layers.items():
                if name not in tables:
                    continue
                column, geometry_type = geometry.get(name, ("", None))
                qml = layer_style_qml(name, frame, lang, geometry_type=geometry_type)
                db.execute(f'DELETE FROM "{TABLE}" WHERE f_table_name = ? AND styleName = ?', (name, name))
                db.execute(f'UPDATE "{TABLE}" SET useAsDefault = 0 WHERE f_table_name = ?', (name,))
                db.execute(
                    f'INSERT INTO "{TABLE}" (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, '
                    "styleName, styleQML, styleSLD, useAsDefault, description, owner) "
                    "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '')",
                    (name, column, name, qml, describe(name, frame, lang)))
                written += 1
    finally:
        db.close()
    return written

