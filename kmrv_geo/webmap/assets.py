"""Offline maps: every JS/CSS asset inlined, so a saved map is one self-contained HTML file.

A default folium map loads Leaflet, jQuery, Bootstrap and Font Awesome from CDNs (cdn.jsdelivr.net is
blocked in mainland China, government networks often have no internet) and opens as a blank page
there. Here the map keeps folium as its API, and when it is saved every ``<script src>`` and
``<link href>`` folium wrote is replaced by the file's text, taken from installed packages, never
downloaded:

- the files of Leaflet and of the folium plugins we use (Search, MeasureControl, Fullscreen,
  MarkerCluster) come from the ``folium-offline`` package (module ``offlinefolium``), which ships them
  keyed by the very CDN URL folium links to (images inside its CSS are already ``data:`` URIs);
- our own script (``static/kmrv_layer.js``) comes from this package, under the ``kmrv-asset:`` scheme.

An asset found in neither raises :class:`~kmrv_geo.errors.MapError` rather than leaving a link.
jQuery, Bootstrap, Font Awesome and Awesome Markers are not used by our maps and are left out.
"""

from __future__ import annotations

import functools
import hashlib
import re
from importlib import resources
from pathlib import Path

import folium

from ..errors import MapError

LOCAL_SCHEME = "kmrv-asset:"
"""Pseudo-URL prefix of assets shipped inside ``kmrv_geo/webmap/static``."""
LEAFLET_JS = [js for js in folium.Map.default_js if js[0] == "leaflet"]
LEAFLET_CSS = [css for css in folium.Map.default_css if css[0] == "leaflet_css"]
"""The only folium.Map defaults our maps need (no jQuery, Bootstrap, Font Awesome, Awesome Markers)."""

_SCRIPT_SRC = re.compile(r'<script\s+src="([^"]+)"\s*>\s*</script>')
_CSS_LINK = re.compile(r'<link\s+rel="stylesheet"\s+href="([^"]+)"\s*/?>')
_RELATIVE_URL = re.compile(r"""url\(\s*(?!["']?(?:data:|#))[^)]*\)""")
_EMPTY_GIF = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"
_ANY_EXTERNAL = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["\']?(?:https?:)?//', re.IGNORECASE)


@functools.cache
def _packaged_resources() -> dict[str, str]:
    """URL → text of the assets that ``folium-offline`` ships (imported once, on first use)."""
    try:
        from offlinefolium import elements
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise MapError(
            "the package folium-offline (module offlinefolium) is missing: it holds the Leaflet and plugin "
            "files that saved maps inline; install it with `pip install folium-offline`"
        ) from exc
    return dict(elements._res)


def asset_text(url: str) -> str:
    """The text of one asset, from folium-offline's resources or this package's ``static`` folder.

    Parameters
    ----------
    url : str
        The CDN URL folium links to, or ``kmrv-asset:NAME`` for a file of ``kmrv_geo/webmap/static``.

    Returns
    -------
    str

    Raises
    ------
    MapError
        If no installed package ships the asset.
    """
    if url.startswith(LOCAL_SCHEME):
        name = url[len(LOCAL_SCHEME):]
        path = resources.files("kmrv_geo.webmap").joinpath("static", name)
        if not path.is_file():
            raise MapError(f"asset {name} is missing from kmrv_geo/webmap/static; reinstall kmrv-geo")
        return path.read_text(encoding="utf-8")
    table = _packaged_resources()
    if url not in table:
        raise MapError(
            f"no installed package ships the map asset {url}, so the map cannot be made offline; the installed "
            "folium may be newer than folium-offline (install matching versions, e.g. folium 0.20 with "
            "folium-offline 0.20)"
        )
    return table[url]


def _inline_script(match: re.Match) -> str:
    # A script must not close its own element: "</script" inside the code is written "<\/script".
    code = re.sub(r"</(script)", r"<\\/\1", asset_text(match.group(1)), flags=re.IGNORECASE)
    return f"<script>{code}</script>"


def _inline_css(match: re.Match) -> str:
    css = re.sub(r"</(style)", r"<\\/\1", asset_text(match.group(1)), flags=re.IGNORECASE)
    # A file the CSS names by a relative path (leaflet-search's loader.gif) is not in the page: an empty image.
    css = _RELATIVE_URL.sub(f'url("{_EMPTY_GIF}")', css)
    return f"<style>{css}</style>"


def inline_assets(html: str) -> str:
    """Replace every ``<script src>`` and stylesheet ``<link>`` of a rendered page by the asset's text.

    Raises
    ------
    MapError
        If an asset is not shipped by an installed package, or an external script or stylesheet is left.
    """
    html = _SCRIPT_SRC.sub(_inline_script, html)
    html = _CSS_LINK.sub(_inline_css, html)
    left = _ANY_EXTERNAL.search(html)
    if left:
        raise MapError(f"the map still links an external asset ({left.group(0)[:120]}…); it would not open offline")
    return html


def offline_html(fmap: folium.Map) -> str:
    """Render a folium map as one self-contained HTML page (no asset from the network).

    Parameters
    ----------
    fmap : folium.Map
        Any map; its jQuery/Bootstrap/Font Awesome defaults are dropped (our maps do not use them).

    Returns
    -------
    str
        The page, with every script and stylesheet inlined; tile URL templates stay (tiles are the
        only requests the page makes, and it works without them).
    """
    fmap.default_js = list(LEAFLET_JS)
    fmap.default_css = list(LEAFLET_CSS)
    return inline_assets(fmap.get_root().render())


def _asset_file_name(url: str, suffix: str) -> str:
    """A file name for an asset: its own base name, prefixed by a short hash of the URL (no clashes)."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", url.rstrip("/").rsplit("/", 1)[-1].split(":")[-1]) or "asset"
    if not base.endswith(suffix):
        base += suffix
    return f"{hashlib.sha1(url.encode('utf-8')).hexdigest()[:8]}_{base}"


def shared_assets_html(fmap: folium.Map, folder: str = "assets") -> tuple[str, dict[str, str]]:
    """Render a map whose scripts and stylesheets are files in a folder beside it, for sets of many pages.

    Each of a thousand field-check pages would otherwise carry its own copy of Leaflet (about 300 kB);
    here they share one. The pages stay offline: every asset is a local file, taken from installed
    packages like :func:`offline_html`'s.

    Parameters
    ----------
    fmap : folium.Map
    folder : str, default "assets"
        The folder, relative to the page, that the files are written to by the caller.

    Returns
    -------
    tuple
        (the page's HTML, ``{file name: text}`` of the assets it links).

    Raises
    ------
    MapError
        As :func:`inline_assets`.
    """
    fmap.default_js = list(LEAFLET_JS)
    fmap.default_css = list(LEAFLET_CSS)
    files: dict[str, str] = {}

    def script(match: re.Match) -> str:
        name = _asset_file_name(match.group(1), ".js")
        files[name] = asset_text(match.group(1))
        return f'<script src="{folder}/{name}"></script>'

    def css(match: re.Match) -> str:
        name = _asset_file_name(match.group(1), ".css")
        files[name] = _RELATIVE_URL.sub(f'url("{_EMPTY_GIF}")', asset_text(match.group(1)))
        return f'<link rel="stylesheet" href="{folder}/{name}"/>'

    html = _CSS_LINK.sub(css, _SCRIPT_SRC.sub(script, fmap.get_root().render()))
    left = _ANY_EXTERNAL.search(html)
    if left:
        raise MapError(f"the map still links an external asset ({left.group(0)[:120]}…); it would not open offline")
    return html, files


def save_offline(fmap: folium.Map, path: str | Path) -> None:
    """Write :func:`offline_html` of ``fmap`` to ``path`` (UTF-8)."""
    Path(path).write_text(offline_html(fmap), encoding="utf-8")
