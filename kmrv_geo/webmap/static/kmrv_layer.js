/* kmrv-geo compact map layers (kmrv_geo/webmap/encode.py writes the data this script reads).
 *
 * A layer's geometry is quantised (integer coordinates at 10^-decimals degrees), delta-encoded and
 * written as polyline strings, one per grid cell; attributes are columns (strings dictionary-encoded).
 * Features are made into Leaflet layers (canvas-rendered) cell by cell: all at once for a small layer;
 * for a large one only the cells in view and only from `minZoom` on (level of detail), with a density
 * grid below that zoom.
 *
 * Safety: every attribute string and label in the data was HTML-escaped in Python; this script puts
 * only those strings, numbers and its own markup into popups and tooltips, so an attribute is always
 * shown as text. A popup's page link (a layer's `link` column) is an anchor made with DOM calls, its
 * address set only when it is a plain relative `.html` path and its label a text node. The search works
 * on the raw text (the escaping undone, exactly, by `rawText`): that is what a user types, and its tips
 * are made as text nodes (`textContent`), never as HTML.
 */
(function () {
  "use strict";
  var kmrv = (window.kmrv = window.kmrv || {});
  kmrv.layers = kmrv.layers || {};

  function decodeInts(str, signed) {
    var out = [], i = 0, n = str ? str.length : 0;
    while (i < n) {
      var result = 0, shift = 0, b;
      do {
        b = str.charCodeAt(i++) - 63;
        result += (b & 31) * Math.pow(2, shift);
        shift += 5;
      } while (b >= 32);
      out.push(signed ? (result % 2 ? -(result + 1) / 2 : result / 2) : result);
    }
    return out;
  }
  kmrv.decodeInts = decodeInts;

  function column(col, n) {
    if (col.codes !== undefined) {
      var codes = decodeInts(col.codes, false), values = new Array(n);
      for (var i = 0; i < n; i++) values[i] = codes[i] === 0 ? null : col.dict[codes[i] - 1];
      return values;
    }
    return col.values;
  }

  function show(value, digits) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number") return digits === undefined || digits === null ? String(value) : value.toFixed(digits);
    return value; // already escaped text
  }

  var ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'" };

  /* The raw text of an escaped attribute string: the exact inverse of Python's html.escape(quote=True),
   * which encode.py applies (no other entity can occur, and no HTML is parsed). */
  function rawText(escaped) {
    return escaped.replace(/&(?:amp|lt|gt|quot|#x27);/g, function (e) { return ENTITIES[e]; });
  }
  kmrv.rawText = rawText;

  /* A search box holds one line (the browser drops CR and LF from what is put into it): the key of a
   * search record shows a line break as a space, and a text as typed or pasted is compared without them. */
  function oneLine(text) { return text.replace(/\r\n|\r|\n/g, " "); }
  function noBreaks(text) { return text.replace(/[\r\n]/g, ""); }

  /* A link a popup may carry: a relative path of a page (../villages/530112101001.html), nothing else. */
  var SAFE_LINK = /^(?:\.\.?\/)*[A-Za-z0-9_][A-Za-z0-9_.\/-]*\.html$/;

  function table(rows) {
    var html = '<table class="kmrv-table">';
    for (var i = 0; i < rows.length; i++) html += "<tr><th>" + rows[i][0] + "</th><td>" + rows[i][1] + "</td></tr>";
    return html + "</table>";
  }

  var Compact = L.Layer.extend({
    initialize: function (spec) {
      this.spec = spec;
      this.total = spec.n;
      this.scale = Math.pow(10, spec.decimals);
      this._columns = spec.columns.map(function (c) { return column(c, spec.n); });
      this._style = spec.style_codes ? decodeInts(spec.style_codes, false) : null;
      this._renderer = L.canvas({ padding: 0.3, tolerance: 4 });
      this._group = spec.cluster ? L.markerClusterGroup(spec.cluster) : L.featureGroup();
      this._made = {};
      this._byIndex = {};
      this._count = 0;
      this._summary = null;
    },

    onAdd: function (map) {
      this._map = map;
      map.addLayer(this._group);
      map.on("moveend", this._update, this);
      this._update();
    },

    onRemove: function (map) {
      map.off("moveend", this._update, this);
      map.removeLayer(this._group);
      if (this._summary) map.removeLayer(this._summary);
    },

    rendered: function () { return this._count; },

    getBounds: function () {
      var b = this.spec.bounds;
      return L.latLngBounds([b[1], b[0]], [b[3], b[2]]);
    },

    _cellBounds: function (cell) {
      return L.latLngBounds([cell.b[1], cell.b[0]], [cell.b[3], cell.b[2]]);
    },

    _update: function () {
      var map = this._map, cells = this.spec.cells, i;
      if (!map) return;
      if (!this.spec.lod) {
        for (i = 0; i < cells.length; i++) this._make(i);
        return;
      }
      if (map.getZoom() < this.spec.lod.min_zoom) {
        for (i in this._made) this._unmake(+i);
        this._showSummary(true);
        return;
      }
      this._showSummary(false);
      var view = map.getBounds().pad(0.25);
      for (i = 0; i < cells.length; i++) {
        if (view.intersects(this._cellBounds(cells[i]))) this._make(i);
        else if (this._made[i]) this._unmake(i);
      }
    },

    _showSummary: function (on) {
      var map = this._map, spec = this.spec;
      if (!on) {
        if (this._summary && map.hasLayer(this._summary)) map.removeLayer(this._summary);
        return;
      }
      if (!this._summary) {
        var group = L.featureGroup(), max = 1, i, cell;
        for (i = 0; i < spec.cells.length; i++) max = Math.max(max, spec.cells[i].n);
        for (i = 0; i < spec.cells.length; i++) {
          cell = spec.cells[i];
          L.rectangle(this._cellBounds(cell), {
            renderer: this._renderer, color: spec.lod.color, weight: 0.5,
            fillColor: spec.lod.color, fillOpacity: 0.15 + 0.6 * cell.n / max,
          }).bindTooltip(spec.lod.label.replace("{n}", String(cell.n))).addTo(group);
        }
        this._summary = group;
      }
      if (!map.hasLayer(this._summary)) map.addLayer(this._summary);
    },

    _styleOf: function (index) {
      var s = this.spec.styles[this._style ? this._style[index] : 0];
      return L.extend({ renderer: this._renderer }, s);
    },

    _make: function (ci) {
      if (this._made[ci]) return;
      var spec = this.spec, cell = spec.cells[ci], scale = this.scale, made = [];
      var coords = decodeInts(cell.c, true), k = 0, lat = 0, lng = 0;
      var parts = decodeInts(cell.p, false), rings = decodeInts(cell.r, false), verts = decodeInts(cell.v, false);
      var pi = 0, ri = 0, vi = 0;
      for (var j = 0; j < cell.n; j++) {
        var index = cell.f + j, layer;
        if (spec.kind === "point") {
          lat += coords[k++]; lng += coords[k++];
          var style = this._styleOf(index);
          layer = L.marker([lat / scale, lng / scale], {
            icon: L.divIcon({
              className: "kmrv-dot",
              html: '<span style="background:' + style.fillColor + ";border-color:" + style.color + '"></span>',
              iconSize: [14, 14],
            }),
          });
        } else {
          var polys = [], np = parts[pi++];
          for (var p = 0; p < np; p++) {
            var poly = [], nr = rings[ri++];
            for (var r = 0; r < nr; r++) {
              var ring = [], nv = verts[vi++];
              for (var v = 0; v < nv; v++) {
                lat += coords[k++]; lng += coords[k++];
                ring.push([lat / scale, lng / scale]);
              }
              poly.push(ring);
            }
            polys.push(poly);
          }
          layer = L.polygon(np === 1 ? polys[0] : polys, this._styleOf(index));
        }
        layer.kmrvIndex = index;
        this._bind(layer, index);
        made.push(layer);
        this._byIndex[index] = layer;
      }
      if (this._group.addLayers) this._group.addLayers(made);
      else for (var m = 0; m < made.length; m++) this._group.addLayer(made[m]);
      this._made[ci] = made;
      this._count += made.length;
    },

    _unmake: function (ci) {
      var made = this._made[ci];
      if (!made) return;
      for (var m = 0; m < made.length; m++) {
        this._group.removeLayer(made[m]);
        delete this._byIndex[made[m].kmrvIndex];
      }
      this._count -= made.length;
      delete this._made[ci];
    },

    _rows: function (fields, index) {
      var rows = [];
      for (var i = 0; i < fields.length; i++) {
        var f = fields[i], value = this._columns[f.column][index];
        rows.push([f.label, show(value, f.digits)]);
      }
      return rows;
    },

    _bind: function (layer, index) {
      var self = this, spec = this.spec;
      if (spec.tooltip && spec.tooltip.length) {
        layer.bindTooltip(function () {
          var rows = self._rows(spec.tooltip, index);
          return rows.length === 1 ? String(rows[0][1]) : table(rows);
        }, { sticky: spec.kind !== "point" });
      }
      if ((spec.popup && spec.popup.length) || spec.link) {
        layer.bindPopup(function () {
          var html = (spec.popup_title ? "<b>" + spec.popup_title + "</b>" : "") + table(self._rows(spec.popup || [], index));
          return spec.link ? self._withLink(html, index) : html;
        }, { maxWidth: 420, maxHeight: 360 });
      }
    },

    /* The popup (escaped markup) with the feature's link below it, made with DOM calls: the address is
     * the raw text of the link column, set as an attribute only when it is a plain relative .html path
     * (no scheme, no host, no query), and the label is a text node. */
    _withLink: function (html, index) {
      var box = L.DomUtil.create("div", "kmrv-popup");
      box.innerHTML = html;
      var value = this._columns[this.spec.link.column][index];
      var url = typeof value === "string" ? rawText(value) : "";
      if (SAFE_LINK.test(url)) {
        var a = L.DomUtil.create("a", "kmrv-link", L.DomUtil.create("div", "kmrv-link-row", box));
        a.setAttribute("href", url);
        a.textContent = rawText(this.spec.link.label || "");
      }
      return box;
    },

    /* Add this layer's search records to `records` (an object without prototype):
     * {key: L.LatLng with .kmrvLayer, .kmrvIndex, .kmrvText (the raw text) and .kmrvMatch (what a typed
     * text is compared with, lower case)}. The key is the raw text on one line, made unique with " (2)"… */
    searchRecords: function (records) {
      var s = this.spec.search;
      if (!s) return records;
      var titles = this._columns[s.column], pts = decodeInts(s.points, true), lat = 0, lng = 0;
      for (var i = 0; i < this.total; i++) {
        lat += pts[2 * i]; lng += pts[2 * i + 1];
        var title = titles[i];
        if (title === null || title === undefined || title === "") continue;
        var text = typeof title === "string" ? rawText(title) : String(title);
        var key = oneLine(text);
        if (key in records) {
          var k = 2;
          while (key + " (" + k + ")" in records) k++;
          key = key + " (" + k + ")";
        }
        var ll = L.latLng(lat / this.scale, lng / this.scale);
        ll.kmrvLayer = this;
        ll.kmrvIndex = i;
        ll.kmrvText = text;
        ll.kmrvMatch = [oneLine(text).toLowerCase(), noBreaks(text).toLowerCase()];
        records[key] = ll;
      }
      return records;
    },

    /* Show feature `index`: bring it into view, make its cell, open its popup. */
    reveal: function (index, latlng) {
      var map = this._map, self = this;
      if (!map) return;
      var zoom = Math.max(map.getZoom(), this.spec.lod ? this.spec.lod.min_zoom : 0, this.spec.search.zoom || 0);
      var open = function () {
        var layer = self._byIndex[index];
        if (!layer) return;
        if (self._group.zoomToShowLayer) self._group.zoomToShowLayer(layer, function () { layer.openPopup(); });
        else layer.openPopup(layer.getBounds ? layer.getBounds().getCenter() : undefined);
      };
      map.once("moveend", function () { self._update(); open(); });
      map.setView(latlng, zoom);
    },
  });

  kmrv.compact = function (key, spec) {
    var layer = new Compact(spec);
    kmrv.layers[key] = layer;
    return layer;
  };

  /* Records whose raw text contains `text` (case-insensitive, as plain text: no character is dropped
   * or read as a pattern; line breaks match a space or nothing). */
  function filterRecords(text, records) {
    var out = Object.create(null), q = text.toLowerCase();
    if (!q) return out;
    for (var key in records) {
      var m = records[key].kmrvMatch;
      if (m[0].indexOf(q) !== -1 || m[1].indexOf(q) !== -1) out[key] = records[key];
    }
    return out;
  }

  kmrv.addSearch = function (map, keys, options) {
    // no prototype: a name such as "__proto__" or "toString" is a record like any other
    var records = Object.create(null), pasted = Object.create(null), key;
    keys.forEach(function (k) { if (kmrv.layers[k]) kmrv.layers[k].searchRecords(records); });
    for (key in records) {  // a name with a line break, as it is in the box when pasted or typed without it
      var flat = noBreaks(records[key].kmrvText);
      if (!(flat in records) && !(flat in pasted)) pasted[flat] = key;
    }
    var control = new L.Control.Search({
      sourceData: function (text, callResponse) {
        callResponse(records);
        return { abort: function () {} };
      },
      formatData: function (data) { return data; },
      filterData: filterRecords,
      buildTip: function (text) {
        var tip = L.DomUtil.create("li", "");
        tip.textContent = text; // the raw text as text, never as HTML
        return tip;
      },
      marker: false,
      initial: false,
      collapsed: false,
      minLength: 1,
      position: "topleft",
      textPlaceholder: options.placeholder,
      textErr: options.not_found,
      textCancel: options.cancel,
      moveToLocation: function (latlng) { latlng.kmrvLayer.reveal(latlng.kmrvIndex, latlng); },
    });
    // the text in the box (a tip's key, or a name typed or pasted in full) → its record
    control._getLocation = function (text) {
      if (text in records) return records[text];
      return text in pasted ? records[pasted[text]] : false;
    };
    map.addControl(control);
    kmrv.search = control;
    return control;
  };
})();
