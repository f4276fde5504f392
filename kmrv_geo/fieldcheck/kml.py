"""The field team's KML: one placemark per judged patch, for phone apps (两步路, 奥维, Google Earth…).

Written with :mod:`xml.etree.ElementTree` (every value escaped by it). No installed library fits: the
KML driver GDAL offers through pyogrio writes the fields but cannot give each placemark a style (pyogrio
sets no feature style string), and simplekml or fastkml are not dependencies of kmrv-geo. GDAL reads the
file back (``pyogrio.read_dataframe``), which the tests check.
"""

from __future__ import annotations

import html
import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from ..crs import WGS84, wgs84_to_gcj02
from .labels import (
    OTHER_COLOUR,
    SYNTHETIC,
    VERDICT_COLOURS,
    VERDICTS,
    all_refs,
    check_lang,
    text_of,
    verdict_words,
)

logger = logging.getLogger(__name__)

KML_NS = "http://www.opengis.net/kml/2.2"
SCHEMA_ID = "patch"
DECIMALS = 8
"""Coordinate decimals written (1e-8 degree ≈ 1 mm)."""
FIELDS = ("patch_id", "verdict", "reasons", "area_mu", "county", "township", "village", "refs")
TEXT = {
    "zh": {"fields": {"patch_id": "图斑编号", "verdict": "预判结论", "reasons": "预判依据", "area_mu": "面积亩",
                      "county": "区县", "township": "乡镇", "village": "村", "refs": "批准文号"},
           "title": "外业核查图斑", "wgs84": "坐标系：WGS84 经纬度（EPSG:4326），GPS 与奥维、两步路等默认坐标",
           "gcj02": "坐标系：GCJ-02（火星坐标），已由 WGS84 偏移，用于高德底图的手机应用；不要再做坐标转换",
           "patches": "{n} 个图斑"},
    "en": {"fields": {"patch_id": "patch_id", "verdict": "verdict", "reasons": "grounds", "area_mu": "area_mu",
                      "county": "county", "township": "township", "village": "village", "refs": "refs"},
           "title": "Field-check patches", "wgs84": "Coordinates: WGS84 lon/lat (EPSG:4326), as GPS records them",
           "gcj02": "Coordinates: GCJ-02, shifted from WGS84 for phone apps on the Gaode basemap; do not convert "
                    "them again",
           "patches": "{n} patches"},
}  # fmt: skip


def kml_colour(web: str, alpha: int) -> str:
    """A ``#rrggbb`` web colour as KML's ``aabbggrr``.

    Examples
    --------
    >>> kml_colour("#d7191c", 255)
    'ff1c19d7'
    """
    r, g, b = web[1:3], web[3:5], web[5:7]
    return f"{alpha:02x}{b}{g}{r}".lower()


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


def _ring(parent: ET.Element, tag: str, coords: np.ndarray) -> None:
    ring = _sub(_sub(parent, tag), "LinearRing")
    _sub(ring, "coordinates", " ".join(f"{x:.{DECIMALS}f},{y:.{DECIMALS}f}" for x, y in coords[:, :2]))


def _polygon(parent: ET.Element, polygon) -> None:
    element = _sub(parent, "Polygon")
    _sub(element, "tessellate", "1")
    _ring(element, "outerBoundaryIs", np.asarray(polygon.exterior.coords))
    for interior in polygon.interiors:
        _ring(element, "innerBoundaryIs", np.asarray(interior.coords))


def _geometry(parent: ET.Element, geom) -> None:
    parts = list(geom.geoms) if geom.geom_type == "MultiPolygon" else [geom]
    if len(parts) == 1:
        _polygon(parent, parts[0])
        return
    multi = _sub(parent, "MultiGeometry")
    for part in parts:
        _polygon(multi, part)


def _styles(document: ET.Element) -> None:
    for verdict, colour in [*VERDICT_COLOURS.items(), ("other", OTHER_COLOUR)]:
        style = _sub(document, "Style", id=f"verdict_{verdict}")
        line = _sub(style, "LineStyle")
        _sub(line, "color", kml_colour(colour, 255))
        _sub(line, "width", "3")
        _sub(_sub(style, "PolyStyle"), "color", kml_colour(colour, 0x59))
        # the balloon shows the description only: its text is HTML-escaped, the raw data is not
        _sub(_sub(style, "BalloonStyle"), "text", "$[description]")


def _schema(document: ET.Element, names: dict[str, str]) -> None:
    schema = _sub(document, "Schema", name=SCHEMA_ID, id=SCHEMA_ID)
    for field in FIELDS:
        simple = _sub(schema, "SimpleField", name=names[field], type="double" if field == "area_mu" else "string")
        _sub(simple, "displayName", names[field])


def lonlat_geometries(judged: gpd.GeoDataFrame, *, gcj02: bool = False) -> np.ndarray:
    """The patches' geometry in WGS84 lon/lat (EPSG:4326), shifted to GCJ-02 when ``gcj02``."""
    geoms = np.asarray(judged.to_crs(WGS84).geometry.values)
    if gcj02:
        geoms = shapely.transform(geoms, lambda xy: np.column_stack(wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    return geoms


def write_kml(path: str | Path, judged: gpd.GeoDataFrame, *, gcj02: bool = False, lang: str = "zh",
              title: str | None = None, synthetic: bool = False) -> Path:
    """Write the judged patches as KML for the field team's phones.

    Parameters
    ----------
    path : str or Path
        The ``.kml`` file to write (replaced if it exists).
    judged : GeoDataFrame
        One row per judged patch (``patch_id``, ``verdict``, ``verdict_text``, ``reason_text``, ``area_mu``,
        ``county_name``, ``township``, ``village``, the ``*_refs`` columns, geometry) in a projected CRS.
    gcj02 : bool, default False
        Shift the coordinates from WGS84 to GCJ-02, for phone apps drawn on a Gaode (高德) basemap. The
        document's description says which coordinates it holds.
    lang : {"zh", "en"}, default "zh"
        Language of the field names and the document's texts.
    title : str, optional
        Document name (default 外业核查图斑).
    synthetic : bool, default False
        The patches come from the synthetic sample: the document says 示例数据.

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    Each placemark is named by the patch number and styled by its verdict (违法 red, 待核实 orange, 合法
    green, anything else grey). Its ``ExtendedData/SchemaData`` holds the patch number, verdict, grounds,
    亩, county, township, village and every reference (approvals, facility filings, temporary use,
    supplement projects) as they are; its description repeats them HTML-escaped (apps render descriptions as
    HTML) and is all the balloon shows. Coordinates are written with 8
    decimals (≈ 1 mm).

    Examples
    --------
    >>> write_kml("out/核查图斑.kml", judged)  # doctest: +SKIP
    >>> write_kml("out/核查图斑_高德.kml", judged, gcj02=True)  # doctest: +SKIP
    """
    text = TEXT[check_lang(lang)]
    names = text["fields"]
    root = ET.Element("kml", xmlns=KML_NS)
    document = _sub(root, "Document", id="fieldcheck")
    _sub(document, "name", text_of(title) or text["title"])
    lines = [text["gcj02" if gcj02 else "wgs84"], text["patches"].format(n=len(judged))]
    if synthetic:
        lines.insert(0, SYNTHETIC[lang])
    _sub(document, "description", "\n".join(lines))
    _styles(document)
    _schema(document, names)
    folder = _sub(document, "Folder")
    _sub(folder, "name", text_of(title) or text["title"])
    geoms = lonlat_geometries(judged, gcj02=gcj02)
    for (_, row), geom in zip(judged.iterrows(), geoms, strict=True):
        if geom is None or geom.is_empty:
            logger.warning("patch %s has no geometry; it is left out of the KML", text_of(row.get("patch_id")))
            continue
        values = {
            "patch_id": text_of(row.get("patch_id")), "verdict": verdict_words(row, lang),
            "reasons": text_of(row.get("reason_text")), "area_mu": f"{float(row.get('area_mu', np.nan)):.2f}",
            "county": text_of(row.get("county_name")), "township": text_of(row.get("township")),
            "village": text_of(row.get("village")), "refs": all_refs(row),
        }  # fmt: skip
        placemark = _sub(folder, "Placemark")
        _sub(placemark, "name", values["patch_id"])
        _sub(placemark, "description", "<br/>".join(html.escape(f"{names[k]}: {v}") for k, v in values.items() if v))
        verdict = text_of(row.get("verdict"))
        _sub(placemark, "styleUrl", f"#verdict_{verdict if verdict in VERDICTS else 'other'}")
        data = _sub(_sub(placemark, "ExtendedData"), "SchemaData", schemaUrl=f"#{SCHEMA_ID}")
        for field in FIELDS:
            _sub(data, "SimpleData", values[field], name=names[field])
        _geometry(placemark, geom)
    tree = ET.ElementTree(root)
    ET.indent(tree, space=" ")
    path = Path(path)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
