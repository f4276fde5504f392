"""Basemaps: none, OpenStreetMap, 天地图 (vector, imagery), 高德 (Gaode, GCJ-02) and Esri imagery.

Tiles are the only thing a saved map loads from the network, and a map works without them: every
map also offers a blank base (无底图), and the page background stays plain where no tile loads.

- 天地图 (Tianditu) needs a ``tk`` key: ``KMRV_TIANDITU_KEY`` in the environment, else
  ``tianditu_key:`` in the project file. Its tiles are CGCS2000 ≈ WGS84: no shift. The key is written
  into the saved HTML (as every web map using Tianditu does); use a browser key.
- 高德 (Gaode) tiles are drawn in GCJ-02: every overlay is shifted WGS84 → GCJ-02 before it is
  written (:func:`shifts_to_gcj02`), or fields would land some hundreds of metres off.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import folium

from ..errors import MapError

KEY_ENV = "KMRV_TIANDITU_KEY"
_TDT = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
        "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=")


@dataclass(frozen=True)
class Basemap:
    """One basemap choice.

    Attributes
    ----------
    name : str
        The ``--basemap`` / ``basemap:`` value.
    label : dict
        Name in the layer control per language.
    layers : tuple of str
        Tile URL templates drawn together (e.g. Tianditu's base and its annotation); ``{layer}`` and
        ``{lang}`` are filled in here, ``{s}``, ``{z}``, ``{x}``, ``{y}`` by Leaflet.
    attribution : str
    subdomains : str
    max_native_zoom : int
    gcj02 : bool
        Tiles in GCJ-02 (overlays must be shifted).
    needs_key : bool
        Needs a Tianditu key.
    """

    name: str
    label: dict
    layers: tuple[str, ...] = ()
    attribution: str = ""
    subdomains: str = "abc"
    max_native_zoom: int = 18
    gcj02: bool = False
    needs_key: bool = False


BASEMAPS: dict[str, Basemap] = {b.name: b for b in (
    Basemap("none", {"zh": "无底图", "en": "No basemap"}),
    Basemap("osm", {"zh": "OpenStreetMap", "en": "OpenStreetMap"}, ("https://tile.openstreetmap.org/{z}/{x}/{y}.png",),
            "&copy; OpenStreetMap contributors", max_native_zoom=19),
    Basemap("tianditu", {"zh": "天地图 矢量", "en": "Tianditu vector"},
            (_TDT.replace("{layer}", "vec"), _TDT.replace("{layer}", "{lang}va")), "天地图 Tianditu",
            subdomains="01234567", needs_key=True),
    Basemap("tianditu-img", {"zh": "天地图 影像", "en": "Tianditu imagery"},
            (_TDT.replace("{layer}", "img"), _TDT.replace("{layer}", "{lang}ia")), "天地图 Tianditu",
            subdomains="01234567", needs_key=True),
    Basemap("gaode", {"zh": "高德地图", "en": "Gaode (Amap)"},
            ("https://webrd0{s}.is.autonavi.com/appmaptile?lang={lang}&size=1&scale=1&style=8&x={x}&y={y}&z={z}",),
            "高德地图 AutoNavi (GCJ-02)", subdomains="1234", gcj02=True),
    Basemap("esri", {"zh": "Esri 影像", "en": "Esri imagery"},
            ("https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/{z}/{y}/{x}",),
            "Tiles &copy; Esri", subdomains="", max_native_zoom=19),
)}  # fmt: skip
"""Basemap name → definition; the keys are the accepted ``--basemap`` / ``basemap:`` values."""
TILE_HOSTS = ("tile.openstreetmap.org", "tianditu.gov.cn", "is.autonavi.com", "server.arcgisonline.com")
"""Hosts of tile requests (the only network requests a saved map makes)."""


def shifts_to_gcj02(name: str) -> bool:
    """Whether overlays must be shifted WGS84 → GCJ-02 for basemap ``name``."""
    return get_basemap(name).gcj02


def get_basemap(name: str) -> Basemap:
    """The basemap called ``name``; :class:`MapError` listing the accepted names otherwise."""
    if name not in BASEMAPS:
        raise MapError(f"unknown basemap {name!r}; accepted: {', '.join(BASEMAPS)}")
    return BASEMAPS[name]


def tianditu_key(config_key: str | None = None) -> str | None:
    """The Tianditu key: ``KMRV_TIANDITU_KEY`` from the environment, else the project file's."""
    return os.environ.get(KEY_ENV) or config_key or None


def check_basemap(name: str, key: str | None) -> Basemap:
    """The basemap ``name``, checked: known, and with a usable key if it needs one.

    Raises
    ------
    MapError
        Unknown basemap, or a Tianditu basemap without a usable key.
    """
    basemap = get_basemap(name)
    if basemap.needs_key:
        if not key:
            raise MapError(f"basemap {name} (天地图) needs a Tianditu key: set the environment variable {KEY_ENV} "
                           "or tianditu_key: in the project file, or choose another basemap (e.g. --basemap osm)")
        if not re.fullmatch(r"[A-Za-z0-9]{8,64}", key):
            raise MapError(f"the Tianditu key must be letters and digits only (a 32-character tk), got {key!r}")
    return basemap


def add_basemap(fmap: folium.Map, name: str, *, key: str | None = None, lang: str = "zh") -> None:
    """Add basemap ``name`` (shown) and a blank base (无底图) to choose in the layer control.

    Parameters
    ----------
    fmap : folium.Map
        A map made with ``tiles=None``.
    name : str
        One of :data:`BASEMAPS`.
    key : str, optional
        Tianditu key (see :func:`tianditu_key`).
    lang : {"zh", "en"}
        Language of the basemap labels where the provider has one (Tianditu annotation, Gaode).

    Raises
    ------
    MapError
        Unknown basemap, or a Tianditu basemap without a usable key.
    """
    basemap = check_basemap(name, key)
    blank = BASEMAPS["none"].label[lang]
    if basemap.layers:
        group = folium.FeatureGroup(name=basemap.label[lang], overlay=False, control=True, show=True)
        provider_lang = {"tianditu": "c" if lang == "zh" else "e", "gaode": "zh_cn" if lang == "zh" else "en"}
        for template in basemap.layers:
            url = template.replace("{lang}", provider_lang["gaode" if basemap.gcj02 else "tianditu"])
            if basemap.needs_key:
                url += key
            folium.TileLayer(tiles=url, attr=basemap.attribution, name=basemap.label[lang], overlay=False,
                             control=False, subdomains=basemap.subdomains or "abc",
                             max_native_zoom=basemap.max_native_zoom, max_zoom=20).add_to(group)
        group.add_to(fmap)
    folium.FeatureGroup(name=blank, overlay=False, control=True, show=not basemap.layers).add_to(fmap)
