"""folium elements of our maps: compact layers, the search box, page style, the ready flag.

They are ordinary folium elements (``JSCSSMixin`` declares the assets they need, which
:mod:`~kmrv_geo.webmap.assets` inlines when the map is saved).
"""

from __future__ import annotations

import html

import folium
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.plugins import MarkerCluster, Search
from folium.template import Template

from .assets import LOCAL_SCHEME
from .encode import to_script_json

KMRV_JS = [("kmrv_layer", LOCAL_SCHEME + "kmrv_layer.js")]

CSS = """<style>
html body .leaflet-container { background: #f2f1ec; }
.kmrv-table { border-collapse: collapse; font: 12px sans-serif; }
.kmrv-table th { text-align: left; padding: 1px 8px 1px 0; color: #555; font-weight: normal; white-space: nowrap; }
.kmrv-table td { padding: 1px 0; white-space: pre-wrap; }
.kmrv-dot span { display: block; width: 10px; height: 10px; border-radius: 50%; border: 2px solid; }
.leaflet-control-search .search-tooltip { max-height: 260px; }
</style>"""


class RawHtml(Element):
    """Markup written as is.

    branca compiles the text of an ordinary ``Element`` (and the script a ``MacroElement`` renders) as a
    Jinja template: attribute text holding ``{{ … }}`` would be evaluated when the map is saved, and
    the polyline alphabet contains ``{``. Data, notices and legends therefore go in as ``RawHtml``.
    """

    def __init__(self, text: str):
        super().__init__()
        self._name = "RawHtml"
        self.text = text

    def render(self, **kwargs) -> str:
        """The text, untouched."""
        return self.text


class CompactLayer(JSCSSMixin, Layer):
    """A layer drawn from :func:`~kmrv_geo.webmap.encode.encode_layer` data by ``kmrv_layer.js``.

    Parameters
    ----------
    spec : dict
        The encoded layer.
    key : str
        Registry key: the page's ``kmrv.layers[key]`` is this layer (used by the search and by tests).
    name : str
        Name in the layer control.
    show : bool, default True
        Shown when the map opens.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = kmrv.compact({{ this.key|tojson }}, {{ this.get_name() }}_data);
        {% endmacro %}
        """
    )

    def __init__(self, spec: dict, *, key: str, name: str, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CompactLayer"
        self.key = key
        self.spec = spec
        self.default_js = (list(MarkerCluster.default_js) if spec.get("cluster") is not None else []) + KMRV_JS
        self.default_css = list(MarkerCluster.default_css) if spec.get("cluster") is not None else []

    def render(self, **kwargs):
        """Write the layer data (raw, before the layer's script), then the layer."""
        data = f"var {self.get_name()}_data = {to_script_json(self.spec)};"
        self.get_root().script.add_child(RawHtml(data), name=self.get_name() + "_data")
        super().render(**kwargs)


class SearchControl(JSCSSMixin, MacroElement):
    """The search box (leaflet-search, as folium's ``Search`` plugin) over compact layers.

    ``kmrv.addSearch`` (``static/kmrv_layer.js``) searches the raw text of the layers' search column (the
    escaping of :func:`~kmrv_geo.webmap.encode.escape_text` undone exactly): what is typed is compared as
    plain, case-insensitive text (no character dropped or read as a pattern), a line break matches a space
    or nothing, tips are made as text nodes, and a chosen tip opens its feature's popup.

    Parameters
    ----------
    keys : list of str
        Registry keys of the layers searched (each needs ``search=`` when encoded).
    placeholder, not_found, cancel : str
        Texts of the box (escaped here).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        kmrv.addSearch({{ this._parent.get_name() }}, {{ this.keys|tojson }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )
    default_js = list(Search.default_js) + KMRV_JS
    default_css = list(Search.default_css)

    def __init__(self, keys: list[str], *, placeholder: str, not_found: str, cancel: str):
        super().__init__()
        self._name = "SearchControl"
        self.keys = keys
        self.options = {k: html.escape(v) for k, v in
                        (("placeholder", placeholder), ("not_found", not_found), ("cancel", cancel))}


class FitView(MacroElement):
    """Fit the map to ``bounds`` ([[south, west], [north, east]]) when it opens, without animation (an
    opening zoom animation would swallow the first zoom a user or the search asks for).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.fitBounds({{ this.bounds|tojson }}, {animate: false});
        {% endmacro %}
        """
    )

    def __init__(self, bounds: list):
        super().__init__()
        self._name = "FitView"
        self.bounds = bounds


class ReadyFlag(MacroElement):
    """Sets ``kmrv.ready = true`` once every layer and control of the page has been added."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.kmrv = window.kmrv || {}; kmrv.ready = true;
        {% endmacro %}
        """
    )


def add_page_style(fmap: folium.Map) -> None:
    """Our CSS (popup tables, point markers, the background shown where no basemap tile loads)."""
    fmap.get_root().header.add_child(RawHtml(CSS), name="kmrv_css")
