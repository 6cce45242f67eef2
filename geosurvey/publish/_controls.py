"""The web map's layers and controls that folium's offline core lacks, as small hand-written JS.

folium's own plugins (``Fullscreen``, ``MeasureControl``, ``MousePosition``, ``SideBySideLayers``,
``MarkerCluster``) load their JavaScript and CSS from CDNs (jsDelivr, cdnjs, unpkg), so a page
using them is blank or broken offline. None of geosurvey's dependencies ships those plugins'
files (``django-js-lib-leaflet`` has Leaflet alone), and adding a web-framework package only for
its bundled copies was not worth it for a few dozen lines each, so geosurvey writes what each
needs against plain Leaflet 1.9 (inlined by :mod:`geosurvey.publish._assets`):

* :class:`TileLayer` – an XYZ layer of the tiles written beside the page (``L.tileLayer``).
* :class:`Legends` – every legend in one box, in a fixed order, each shown while its layer is on,
  raster legends with an opacity slider.
* :class:`Tools` – zoom buttons, a metric scale bar, full screen (the browser's Fullscreen API),
  a distance measure (``map.distance``: great-circle metres on Leaflet's sphere) and the cursor's
  coordinates; plus the attribution line.
* :class:`Swipe` – a side-by-side comparison of two raster layers: each raster has its own map
  pane, and the two panes are clipped left and right of a divider (CSS ``clip``), the same
  technique as the ``leaflet-side-by-side`` plugin.
* :class:`PointClusters` – points merged into numbered circles where they would overlap on
  screen (a grid of 48 px cells, recomputed on zoom), when a layer has many points.

Every text these elements show comes from :data:`geosurvey.i18n.TEXT` and reaches the page as
a template *variable* passed through ``tojson`` (never as template source; see
:mod:`geosurvey.publish._render`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from folium.map import Layer
from folium.template import Template

from geosurvey.publish._render import VerbatimMacroElement

__all__ = ["CSS", "LegendEntry", "Legends", "PointClusters", "Swipe", "TileLayer", "Tools"]

CSS = """
.gs-legends { display: flex; flex-direction: column; gap: 6px; max-height: 60vh;
  overflow-y: auto; }
.gs-legends:empty, .gs-legends.gs-none { display: none; }
.gs-legend input.gs-opacity { width: 100%; margin: 4px 0 0; }
.gs-legend label.gs-opacity-label { font-size: 11px; color: #555; display: block; }
.gs-tools a { display: block; width: 30px; height: 30px; line-height: 30px; text-align: center;
  background: #fff; color: #222; cursor: pointer; font-size: 17px; text-decoration: none; }
.gs-tools a + a { border-top: 1px solid #ccc; }
.gs-tools a.gs-active { background: #ffe08a; }
.gs-measure-result { margin-top: 4px; font-size: 12px; }
.gs-coordinates { font-variant-numeric: tabular-nums; font-size: 12px; min-width: 15em; }
.gs-swipe select { max-width: 14em; }
.gs-swipe input[type=range] { width: 100%; }
.gs-swipe-divider { position: absolute; top: 0; bottom: 0; width: 3px; margin-left: -1px;
  background: #fff; box-shadow: 0 0 3px rgba(0, 0, 0, 0.7); z-index: 800; pointer-events: none; }
.gs-tiles img { image-rendering: pixelated; }
.gs-cluster { background: rgba(255, 255, 255, 0.92); border: 2px solid #111; border-radius: 50%;
  text-align: center; font: 600 12px/26px sans-serif; color: #111; }
"""

_SVG_FULLSCREEN = (
    '<svg width="16" height="16" viewBox="0 0 16 16" aria-hidden="true"><path d="M1 6V1h5M10 1h5v5'
    'M15 10v5h-5M6 15H1v-5" fill="none" stroke="#222" stroke-width="2"/></svg>'
)
_SVG_MEASURE = (
    '<svg width="18" height="16" viewBox="0 0 18 16" aria-hidden="true"><path d="M1 12L12 1l5 5'
    'L6 17zM4 9l2 2M6.5 6.5l2 2M9 4l2 2" fill="none" stroke="#222" stroke-width="1.6"/></svg>'
)
_SVG_SWIPE = (
    '<svg width="18" height="16" viewBox="0 0 18 16" aria-hidden="true"><rect x="1" y="1" width="16"'
    ' height="14" fill="none" stroke="#222" stroke-width="1.6"/><rect x="1" y="1" width="8" '
    'height="14" fill="#888"/><path d="M9 0v16" stroke="#222" stroke-width="2"/></svg>'
)


class TileLayer(Layer):
    """An overlay of the XYZ PNG tiles written beside the page (``L.tileLayer``).

    ``url`` is relative to the page (e.g. ``index_tiles/score/{z}/{x}/{y}.png``);
    :func:`geosurvey.publish.save_web_map` sets it when it writes the tiles.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.tileLayer({{ this.url|tojson }}, {{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        *,
        name: str,
        bounds: tuple[tuple[float, float], tuple[float, float]],
        min_zoom: int,
        max_zoom: int,
        pane: str,
        class_name: str,
        opacity: float,
        show: bool,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "TileLayer"
        self.url = "tiles/{z}/{x}/{y}.png"
        self.options = {
            "bounds": [list(bounds[0]), list(bounds[1])],
            "minNativeZoom": min_zoom,
            "maxNativeZoom": max_zoom,
            "maxZoom": 24,
            "tileSize": 256,
            "noWrap": True,
            "pane": pane,
            "className": f"gs-tiles {class_name}",
            "opacity": opacity,
            "keepBuffer": 1,
        }


@dataclass(frozen=True)
class LegendEntry:
    """One legend: its HTML (already escaped), the layer it belongs to, its kind's CSS class."""

    html: str
    layer: Layer | None
    class_name: str
    opacity: float | None = None


class Legends(VerbatimMacroElement):
    """All legends in one box (bottom right), in the order given; each shown while its layer is.

    A raster legend with an ``opacity`` gets a slider that sets its layer's opacity.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            var control = L.control({position: "bottomright"});
            control.onAdd = function () {
                var div = L.DomUtil.create("div", "gs-legends");
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            control.addTo(map);
            var box = control.getContainer();
            var entries = [
            {%- for entry in this.entries %}
                {html: {{ entry.html|tojson }}, cls: {{ entry.class_name|tojson }},
                 layer: {{ entry.layer.get_name() if entry.layer is not none else "null" }},
                 opacity: {{ entry.opacity|tojson }}},
            {%- endfor %}
            ];
            entries.forEach(function (e, i) {
                var div = L.DomUtil.create("div", "gs-control gs-legend " + e.cls, box);
                div.setAttribute("data-gs-legend", String(i));
                div.innerHTML = e.html;
                if (e.layer && e.opacity !== null) {
                    var label = L.DomUtil.create("label", "gs-opacity-label", div);
                    label.textContent = {{ this.opacity_label|tojson }};
                    var input = L.DomUtil.create("input", "gs-opacity", label);
                    input.type = "range"; input.min = "0"; input.max = "100"; input.step = "5";
                    input.value = String(Math.round(e.opacity * 100));
                    input.setAttribute("aria-label", {{ this.opacity_label|tojson }});
                    input.addEventListener("input", function () {
                        e.layer.setOpacity(Number(input.value) / 100);
                    });
                }
                e.div = div;
            });
            function update() {
                var any = false;
                entries.forEach(function (e) {
                    var on = !e.layer || map.hasLayer(e.layer);
                    e.div.style.display = on ? "" : "none";
                    any = any || on;
                });
                box.classList.toggle("gs-none", !any);
            }
            map.on("layeradd layerremove", update);
            update();
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, entries: Sequence[LegendEntry], *, opacity_label: str) -> None:
        super().__init__()
        self._name = "Legends"
        self.entries = list(entries)
        self.opacity_label = opacity_label


class Tools(VerbatimMacroElement):
    """Zoom, scale bar, full screen, distance measure, cursor coordinates and attribution."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            var T = {{ this.text|tojson }};
            L.control.zoom({position: "topleft", zoomInTitle: T.zoom_in,
                            zoomOutTitle: T.zoom_out}).addTo(map);
            L.control.scale({position: "bottomleft", imperial: false}).addTo(map);
            map.attributionControl.setPrefix({{ this.prefix|tojson }});
            {%- for text in this.attributions %}
            map.attributionControl.addAttribution({{ text|tojson }});
            {%- endfor %}

            function button(bar, cls, svg, title) {
                var a = L.DomUtil.create("a", cls, bar);
                a.href = "#"; a.setAttribute("role", "button");
                a.title = title; a.setAttribute("aria-label", title);
                a.innerHTML = svg;
                return a;
            }
            var tools = L.control({position: "topleft"});
            tools.onAdd = function () {
                var bar = L.DomUtil.create("div", "leaflet-bar gs-tools");
                L.DomEvent.disableClickPropagation(bar);
                var full = button(bar, "gs-fullscreen", {{ this.svg_fullscreen|tojson }}, T.fullscreen);
                L.DomEvent.on(full, "click", function (ev) {
                    L.DomEvent.preventDefault(ev);
                    var el = map.getContainer();
                    if (document.fullscreenElement) { document.exitFullscreen(); }
                    else if (el.requestFullscreen) { el.requestFullscreen(); }
                });
                document.addEventListener("fullscreenchange", function () {
                    var on = !!document.fullscreenElement;
                    full.title = on ? T.fullscreen_exit : T.fullscreen;
                    full.classList.toggle("gs-active", on);
                    map.invalidateSize();
                });
                var measure = button(bar, "gs-measure", {{ this.svg_measure|tojson }}, T.measure);
                var points = [], line = null, result = null, active = false;
                function fmt(m) {
                    return m >= 1000 ? (m / 1000).toFixed(m >= 100000 ? 0 : 2) + " km"
                                     : m.toFixed(0) + " m";
                }
                function redraw() {
                    var total = 0;
                    for (var i = 1; i < points.length; i++) {
                        total += map.distance(points[i - 1], points[i]);
                    }
                    if (line) { line.setLatLngs(points); }
                    result.textContent = points.length
                        ? T.measure_distance.replace("{distance}", fmt(total)) : T.measure_start;
                    result.setAttribute("data-metres", String(total));
                }
                // "preclick" reaches the map even where a feature is clicked (a feature's own
                // "click" opens its popup and stops there); popups stay closed while measuring
                function onClick(e) {
                    points.push(e.latlng); redraw();
                    setTimeout(function () { map.closePopup(); }, 0);
                }
                L.DomEvent.on(measure, "click", function (ev) {
                    L.DomEvent.preventDefault(ev);
                    active = !active;
                    measure.classList.toggle("gs-active", active);
                    if (active) {
                        points = [];
                        line = L.polyline([], {color: "#ff3d00", weight: 3, dashArray: "6 4",
                                               pane: "gs-points", interactive: false}).addTo(map);
                        result = L.DomUtil.create("div", "gs-control gs-measure-result",
                                                  bar.parentNode);
                        map.doubleClickZoom.disable();
                        map.getContainer().style.cursor = "crosshair";
                        map.on("preclick", onClick);
                        redraw();
                    } else {
                        map.off("preclick", onClick);
                        map.doubleClickZoom.enable();
                        map.getContainer().style.cursor = "";
                        if (line) { line.remove(); line = null; }
                        if (result) { result.remove(); result = null; }
                    }
                });
                return bar;
            };
            tools.addTo(map);

            var coords = L.control({position: "bottomleft"});
            coords.onAdd = function () {
                var div = L.DomUtil.create("div", "gs-control gs-coordinates");
                div.title = T.coordinates;
                div.textContent = "\u00a0";
                map.on("mousemove", function (e) {
                    var ll = e.latlng.wrap();
                    div.textContent = T.lat + " " + ll.lat.toFixed(5) + "\u00b0, " + T.lon + " "
                        + ll.lng.toFixed(5) + "\u00b0";
                });
                return div;
            };
            coords.addTo(map);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self, *, text: Mapping[str, str], prefix: str, attributions: Sequence[str]
    ) -> None:
        super().__init__()
        self._name = "Tools"
        keys = (
            "zoom_in", "zoom_out", "fullscreen", "fullscreen_exit", "measure",
            "measure_distance", "measure_start", "coordinates", "lat", "lon",
        )  # fmt: skip
        self.text = {key: text[key] for key in keys}
        self.prefix = prefix
        self.attributions = list(attributions)
        self.svg_fullscreen = _SVG_FULLSCREEN
        self.svg_measure = _SVG_MEASURE


class Swipe(VerbatimMacroElement):
    """A side-by-side comparison of two raster layers, each in its own map pane.

    ``layers`` are ``(label, layer, pane)`` for every raster; the control (top right) chooses the
    left and the right layer and moves the divider.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map) {
            var T = {{ this.text|tojson }};
            var rasters = [
            {%- for label, layer, pane in this.layers %}
                {label: {{ label|tojson }}, layer: {{ layer.get_name() }}, pane: {{ pane|tojson }}},
            {%- endfor %}
            ];
            var control = L.control({position: "topleft"});
            var state = {on: false, left: 0, right: Math.min(1, rasters.length - 1), pos: 50};
            var divider = null, panel = null;
            function pane(i) { return map.getPane(rasters[i].pane); }
            function clip() {
                rasters.forEach(function (r, i) { pane(i).style.clip = ""; });
                if (!state.on) { return; }
                var size = map.getSize();
                var nw = map.containerPointToLayerPoint([0, 0]);
                var se = map.containerPointToLayerPoint(size);
                var x = map.containerPointToLayerPoint([size.x * state.pos / 100, 0]).x;
                divider.style.left = (size.x * state.pos / 100) + "px";
                if (state.left !== state.right) {
                    pane(state.left).style.clip =
                        "rect(" + nw.y + "px, " + x + "px, " + se.y + "px, " + nw.x + "px)";
                    pane(state.right).style.clip =
                        "rect(" + nw.y + "px, " + se.x + "px, " + se.y + "px, " + x + "px)";
                }
            }
            function select(label, key) {
                var wrap = L.DomUtil.create("label", "", panel);
                wrap.textContent = label + " ";
                var s = L.DomUtil.create("select", "gs-swipe-" + key, wrap);
                rasters.forEach(function (r, i) {
                    var o = document.createElement("option");
                    o.value = String(i); o.textContent = r.label; s.appendChild(o);
                });
                s.value = String(state[key]);
                s.addEventListener("change", function () {
                    state[key] = Number(s.value);
                    map.addLayer(rasters[state[key]].layer);
                    clip();
                });
                L.DomUtil.create("br", "", panel);
            }
            control.onAdd = function () {
                var outer = L.DomUtil.create("div", "gs-swipe-control");
                var bar = L.DomUtil.create("div", "leaflet-bar gs-tools", outer);
                var a = L.DomUtil.create("a", "gs-swipe-toggle", bar);
                a.href = "#"; a.title = T.swipe; a.setAttribute("aria-label", T.swipe);
                a.setAttribute("role", "button");
                a.innerHTML = {{ this.svg|tojson }};
                L.DomEvent.disableClickPropagation(outer);
                L.DomEvent.disableScrollPropagation(outer);
                L.DomEvent.on(a, "click", function (ev) {
                    L.DomEvent.preventDefault(ev);
                    state.on = !state.on;
                    a.classList.toggle("gs-active", state.on);
                    a.title = state.on ? T.swipe_off : T.swipe;
                    if (state.on) {
                        panel = L.DomUtil.create("div", "gs-control gs-swipe", outer);
                        L.DomUtil.create("div", "gs-legend-title", panel).textContent = T.swipe;
                        select(T.swipe_left, "left");
                        select(T.swipe_right, "right");
                        var range = L.DomUtil.create("input", "gs-swipe-range", panel);
                        range.type = "range"; range.min = "0"; range.max = "100";
                        range.value = String(state.pos);
                        range.setAttribute("aria-label", T.swipe_position);
                        range.title = T.swipe_position;
                        range.addEventListener("input", function () {
                            state.pos = Number(range.value); clip();
                        });
                        divider = L.DomUtil.create("div", "gs-swipe-divider", map.getContainer());
                        map.addLayer(rasters[state.left].layer);
                        map.addLayer(rasters[state.right].layer);
                    } else {
                        if (panel) { panel.remove(); panel = null; }
                        if (divider) { divider.remove(); divider = null; }
                    }
                    clip();
                });
                return outer;
            };
            control.addTo(map);
            map.on("move zoom resize viewreset", clip);
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self, layers: Sequence[tuple[str, Layer, str]], *, text: Mapping[str, str]
    ) -> None:
        super().__init__()
        self._name = "Swipe"
        self.layers = list(layers)
        keys = ("swipe", "swipe_left", "swipe_right", "swipe_position", "swipe_off")
        self.text = {key: text[key] for key in keys}
        self.svg = _SVG_SWIPE


class PointClusters(VerbatimMacroElement):
    """Merge the markers of a GeoJSON point layer into numbered circles where they crowd.

    Markers are binned on a 48-pixel screen grid at each zoom level; a cell with several
    markers shows one circle with their count (a click zooms in on them); single markers are
    shown as they are. Hand-written: ``Leaflet.markercluster`` is not shipped by any PyPI
    package, and folium's ``MarkerCluster`` loads it from a CDN.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map, source) {
            var title = {{ this.title|tojson }};
            var markers = [];
            source.eachLayer(function (m) { markers.push(m); });
            var group = L.layerGroup();
            function rebuild() {
                group.clearLayers();
                if (!map.hasLayer(source) && !map.hasLayer(group)) { return; }
                var cells = {};
                markers.forEach(function (m) {
                    var p = map.project(m.getLatLng()).divideBy(48).floor();
                    var key = p.x + ":" + p.y;
                    (cells[key] = cells[key] || []).push(m);
                });
                Object.keys(cells).forEach(function (key) {
                    var ms = cells[key];
                    if (ms.length === 1) { group.addLayer(ms[0]); return; }
                    var bounds = L.latLngBounds(ms.map(function (m) { return m.getLatLng(); }));
                    var icon = L.divIcon({className: "gs-cluster", html: String(ms.length),
                                          iconSize: [30, 30]});
                    var c = L.marker(bounds.getCenter(), {icon: icon, pane: "gs-points",
                        title: title.replace("{count}", String(ms.length))});
                    c.on("click", function () { map.fitBounds(bounds.pad(0.2)); });
                    group.addLayer(c);
                });
            }
            source.clearLayers();
            source.addLayer(group);
            map.on("zoomend", rebuild);
            source.on("add", rebuild);
            rebuild();
        })({{ this._parent._parent.get_name() }}, {{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, *, title: str) -> None:
        super().__init__()
        self._name = "PointClusters"
        self.title = title
