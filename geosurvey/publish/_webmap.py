"""The offline web map: a prospectivity score, its evidence and the survey's vectors in one page.

:func:`web_map` builds a :class:`folium.Map` that works from disk with no network (Leaflet is
inlined by :mod:`geosurvey.publish._assets`; no base tiles unless asked for), in English or
Japanese. Rasters are coloured in Python and shown as PNG image overlays in Web Mercator, the
projection Leaflet draws in; vectors are GeoJSON layers whose popups are built here from escaped
text (:mod:`geosurvey.publish._raster`, :mod:`geosurvey.publish._vectors`). Every layer has a stable CSS class (``gs-score``, ``gs-evidence``, ``gs-area``,
``gs-survey-areas``, ``gs-faults``, ``gs-occurrences``; controls ``gs-title``, ``gs-legend``) so
that tests and stylesheets can find it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, get_args
from urllib.parse import quote

import dask
import folium
import geopandas as gpd
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from branca.element import MacroElement
from folium.map import Layer
from folium.template import Template
from folium.utilities import JsCode

from geosurvey.errors import InputError, OutputError
from geosurvey.grid import average_down, downsample_factor
from geosurvey.i18n import TEXT, Language, check_lang
from geosurvey.io import atomic_write_text, output_folder
from geosurvey.publish._assets import leaflet_version, use_offline_leaflet
from geosurvey.publish._controls import CSS as _CONTROLS_CSS
from geosurvey.publish._controls import (
    LegendEntry,
    Legends,
    PointClusters,
    Swipe,
    TileLayer,
    Tools,
)
from geosurvey.publish._raster import (
    MAX_PIXELS,
    ColourScale,
    RasterImage,
    check_cmap,
    check_grid,
    image_from,
    value_range,
)
from geosurvey.publish._render import RawHTML, VerbatimFigure, VerbatimMacroElement
from geosurvey.publish._tiles import (
    MAX_EMBEDDED_BYTES,
    MAX_TILED_PIXELS,
    TiledRaster,
    plan_pyramid,
    tile_tasks,
)
from geosurvey.publish._vectors import (
    _LINES,
    _POINTS,
    _POLYGONS,
    SURVEY_AREA_STATUSES,
    _area_layer,
    _as_text,
    _e,
    _feature_collection,
    _occurrence_popups,
    _survey_area_properties,
    _table,
    _vector_layer,
)
from geosurvey.scheduler import layer_task

__all__ = ["BASEMAPS", "Basemap", "RasterMode", "overview_map", "save_web_map", "web_map"]


# Vector symbology (Leaflet path options). Faults and occurrences must read on both the dark and
# the bright end of "magma"/"viridis": light lines, white dots with a dark rim.
_AREA_STYLE = {"color": "#00c8ff", "weight": 3, "opacity": 1.0, "fill": False}
_FAULT_STYLE = {"color": "#e8f4ff", "weight": 2, "opacity": 0.95}
_FAULT_CASING = "#1b2a3a"
_OCCURRENCE_STYLE = {
    "radius": 6,
    "color": "#111111",
    "weight": 1.5,
    "fill": True,
    "fillColor": "#ffffff",
    "fillOpacity": 1.0,
}
_STATUS_STYLE: dict[str, dict[str, Any]] = {
    "agreed": {"color": "#1a9641", "weight": 3, "dashArray": None},
    "proposed": {"color": "#f29e0c", "weight": 2.5, "dashArray": "8 6"},
    "amended": {"color": "#d7191c", "weight": 2.5, "dashArray": "4 4"},
    "withdrawn": {"color": "#8c8c8c", "weight": 2, "dashArray": "2 6"},
    "closed": {"color": "#8c8c8c", "weight": 2, "dashArray": None},
}

# Panes fix the drawing order however layers are toggled: rasters (each in a pane of its own,
# gs-raster-<k>, z-index 350 + k, so that the swipe can clip it) under every vector, points on top.
_PANES = {
    "gs-survey-areas": 410,
    "gs-area": 420,
    "gs-faults": 430,
    "gs-points": 440,
}


_FONT = (
    'system-ui, -apple-system, "Segoe UI", "Helvetica Neue", Arial, "Noto Sans CJK JP", '
    '"Hiragino Sans", "Yu Gothic", Meiryo, sans-serif'
)
_CSS = f"""<style>
.leaflet-container {{ background: #e9eaec; font-family: {_FONT}; }}
.gs-control {{ background: rgba(255, 255, 255, 0.93); color: #222; padding: 6px 10px;
  border-radius: 5px; box-shadow: 0 1px 5px rgba(0, 0, 0, 0.4); font: 13px/1.4 {_FONT}; }}
.leaflet-control-layers {{ font: 13px/1.5 {_FONT}; }}
.leaflet-interactive:focus {{ outline: none; }}
.gs-title {{ font-size: 16px; font-weight: 600; max-width: 40vw; }}
.gs-legend {{ width: 220px; }}
.gs-legend-title {{ font-weight: 600; }}
.gs-legend-sub, .gs-legend-note {{ font-size: 11px; color: #555; }}
.gs-legend-bar {{ height: 12px; margin: 4px 0 2px; border: 1px solid #777; }}
.gs-legend-ticks {{ display: flex; justify-content: space-between; font-size: 12px;
  font-variant-numeric: tabular-nums; }}
.gs-legend-status div {{ white-space: nowrap; }}
.gs-swatch {{ vertical-align: middle; margin-right: 4px; }}
.gs-popup {{ font: 13px/1.4 {_FONT}; }}
.gs-popup-title {{ font-weight: 600; font-size: 14px; margin-bottom: 4px; }}
.gs-popup table {{ border-collapse: collapse; }}
.gs-popup th {{ text-align: left; vertical-align: top; padding: 1px 8px 1px 0; color: #555;
  font-weight: 600; }}
.gs-popup td {{ padding: 1px 8px 1px 0; }}
.gs-approvals {{ margin-top: 4px; }}
.gs-approval-valid {{ color: #1a7f37; }}
.gs-approval-stale, .gs-approval-invalid {{ color: #c62828; }}
{_CONTROLS_CSS}</style>"""

# Binds the popup and tooltip HTML built (and escaped) in Python to each GeoJSON feature.
_BIND_POPUPS = JsCode(
    """function (feature, layer) {
        var p = feature.properties || {};
        if (p.gs_popup) { layer.bindPopup(p.gs_popup, {maxWidth: 380}); }
        if (p.gs_tooltip) { layer.bindTooltip(p.gs_tooltip, {sticky: true}); }
    }"""
)


# --------------------------------------------------------------------------------------------
# Page, controls and legends (plain Leaflet: no jQuery, no Bootstrap, no CDN)
# --------------------------------------------------------------------------------------------


class _Page(VerbatimFigure):
    """folium's page with ``<html lang>`` and an escaped ``<title>``, rendered verbatim."""

    _template = Template(
        "<!DOCTYPE html>\n"
        '<html lang="{{ this.lang }}">\n'
        "<head>\n"
        "<title>{{ this.title|e }}</title>\n"
        "    {{ this.header.render(**kwargs) }}\n"
        "</head>\n"
        "<body>\n"
        "    {{ this.html.render(**kwargs) }}\n"
        "</body>\n"
        "<script>\n"
        "    {{ this.script.render(**kwargs) }}\n"
        "</script>\n"
        "</html>\n"
    )

    def __init__(self, *, lang: Language, title: str) -> None:
        super().__init__(title=title)
        self.lang = lang


class _Control(VerbatimMacroElement):
    """A Leaflet control holding HTML; with ``layer``, shown only while that layer is on."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
        {{ this.get_name() }}.onAdd = function (map) {
            var div = L.DomUtil.create("div", {{ this.class_name|tojson }});
            div.innerHTML = {{ this.html|tojson }};
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
            return div;
        };
        {%- if this.layer is not none %}
        if ({{ this._parent.get_name() }}.hasLayer({{ this.layer.get_name() }})) {
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        }
        {{ this._parent.get_name() }}.on("overlayadd", function (e) {
            if (e.layer === {{ this.layer.get_name() }}) {
                {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
            }
        });
        {{ this._parent.get_name() }}.on("overlayremove", function (e) {
            if (e.layer === {{ this.layer.get_name() }}) { {{ this.get_name() }}.remove(); }
        });
        {%- else %}
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(
        self, html_text: str, *, class_name: str, position: str, layer: MacroElement | None = None
    ) -> None:
        super().__init__()
        self._name = "Control"
        self.html = html_text
        self.class_name = class_name
        self.position = position
        self.layer = layer


def _format_value(value: float) -> str:
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3g}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _legend_html(
    title: str, image: RasterImage | TiledRaster, *, subtitle: str | None, notes: Sequence[str]
) -> str:
    colours = image.colours()
    stops = ", ".join(f"{c} {100 * i / (len(colours) - 1):.0f}%" for i, c in enumerate(colours))
    middle = (image.vmin + image.vmax) / 2
    ticks = "".join(
        f"<span>{_e(_format_value(v))}</span>" for v in (image.vmin, middle, image.vmax)
    )
    parts = [f'<div class="gs-legend-title">{_e(title)}</div>']
    if subtitle:
        parts.append(f'<div class="gs-legend-sub">{_e(subtitle)}</div>')
    parts.append(
        f'<div class="gs-legend-bar" style="background: linear-gradient(to right, {stops})"></div>'
    )
    parts.append(f'<div class="gs-legend-ticks">{ticks}</div>')
    parts.extend(f'<div class="gs-legend-note">{_e(note)}</div>' for note in notes)
    return "".join(parts)


def _swatch_line(style: Mapping[str, Any], *, casing: str | None = None) -> str:
    dash = f' stroke-dasharray="{style["dashArray"]}"' if style.get("dashArray") else ""
    under = (
        f'<line x1="1" y1="6" x2="25" y2="6" stroke="{casing}" stroke-width="{style["weight"] + 2}"/>'
        if casing
        else ""
    )
    return (
        '<svg class="gs-swatch" width="26" height="12" aria-hidden="true">'
        f'{under}<line x1="1" y1="6" x2="25" y2="6" stroke="{style["color"]}" '
        f'stroke-width="{style["weight"]}"{dash}/></svg>'
    )


def _swatch_point(style: Mapping[str, Any]) -> str:
    return (
        '<svg class="gs-swatch" width="16" height="14" aria-hidden="true">'
        f'<circle cx="8" cy="7" r="5" fill="{style["fillColor"]}" stroke="{style["color"]}" '
        f'stroke-width="{style["weight"]}"/></svg>'
    )


def _label(swatch: str, name: str) -> str:
    """A layer-control label: Leaflet inserts it as HTML, so the name is escaped here."""
    return f'{swatch}<span class="gs-layer-name">{_e(name)}</span>'


def _basemap_layer(
    basemap: str, attribution: str | None, text: Mapping[str, str]
) -> folium.TileLayer:
    is_url = basemap.lower().startswith(("http://", "https://"))
    if is_url and not attribution:
        raise InputError(
            f"basemap={basemap!r} is a tile URL: also pass attribution='...' crediting its "
            "provider, or give an xyzservices name such as 'OpenStreetMap.Mapnik'"
        )
    try:
        return folium.TileLayer(
            basemap,
            attr=attribution if is_url else None,
            name=_e(text["basemap"]),
            overlay=False,
            control=True,
        )
    except ValueError as exc:
        raise InputError(
            f"unknown basemap {basemap!r}: give an xyzservices provider name such as "
            "'OpenStreetMap.Mapnik' or a tile URL template with {z}/{x}/{y}"
        ) from exc


# --------------------------------------------------------------------------------------------
# Base maps (online: only when asked for)
# --------------------------------------------------------------------------------------------

BASEMAPS: Mapping[str, tuple[str, int]] = MappingProxyType(
    {
        "osm": ("https://tile.openstreetmap.org/{z}/{x}/{y}.png", 19),
        "gsi": ("https://cyberjapandata.gsi.go.jp/xyz/std/{z}/{x}/{y}.png", 18),
        "usgs": (
            "https://basemap.nationalmap.gov/arcgis/rest/services/USGSTopo/MapServer/tile/"
            "{z}/{y}/{x}",
            16,
        ),
        "esri-imagery": (
            "https://server.arcgisonline.com/ArcGIS/rest/services/World_Imagery/MapServer/tile/"
            "{z}/{y}/{x}",
            19,
        ),
    }
)
"""Base maps offered by name: tile URL template and deepest zoom (their names and credits are in
:data:`geosurvey.i18n.TEXT`, keys ``basemap_<name>`` and ``attribution_<name>``)."""

Basemap = Literal["osm", "gsi", "usgs", "esri-imagery"]
RasterMode = Literal["auto", "embed", "tiles"]


def _basemap_layers(basemaps: Sequence[str], text: Mapping[str, str]) -> list[folium.TileLayer]:
    layers = []
    for k, name in enumerate(basemaps):
        if name not in BASEMAPS:
            raise InputError(
                f"unknown basemap {name!r}; choose from {', '.join(BASEMAPS)} "
                "(or leave it out: the map then needs no network)"
            )
        url, max_zoom = BASEMAPS[name]
        key = name.replace("-imagery", "")
        layers.append(
            folium.TileLayer(
                url,
                attr=_e(text[f"attribution_{key}"]),
                name=_e(text[f"basemap_{key}"]),
                overlay=False,
                control=True,
                show=k == 0,
                max_zoom=max_zoom,
                max_native_zoom=max_zoom,
            )
        )
    return layers


# --------------------------------------------------------------------------------------------
# The entry points
# --------------------------------------------------------------------------------------------


def web_map(
    score: xr.DataArray,
    *,
    lang: Language = "en",
    title: str | None = None,
    area: object | None = None,
    faults: gpd.GeoDataFrame | None = None,
    occurrences: gpd.GeoDataFrame | None = None,
    survey_areas: gpd.GeoDataFrame | None = None,
    layers: Mapping[str, xr.DataArray] | None = None,
    cmap: str = "magma",
    attribution: str | None = None,
    basemap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    layer_cmap: str = "viridis",
    max_pixels: int = MAX_PIXELS,
    uncertainty: xr.DataArray | None = None,
    uncertainty_cmap: str = "cividis",
    titles: Mapping[str, str] | None = None,
    targets: gpd.GeoDataFrame | None = None,
    vectors: Mapping[str, gpd.GeoDataFrame] | None = None,
    basemaps: Sequence[Basemap] = (),
    raster_mode: RasterMode = "auto",
    max_embedded_bytes: int = MAX_EMBEDDED_BYTES,
    cluster_points: int = 200,
    score_title: str | None = None,
) -> folium.Map:
    """An interactive map of a prospectivity score that works offline, in English or Japanese.

    The page shows the score as a coloured overlay with a colour-bar legend, optional
    uncertainty and evidence overlays (off at first, each with its own legend while shown, each
    legend with an opacity slider), the survey area's outline, targets, mapped faults and other
    vectors, known occurrences (with popups; merged into numbered circles where more than
    ``cluster_points`` crowd), the registry's survey areas styled by status (with popups), a
    layer control, a title, a scale bar, full screen, a distance measure, the cursor's
    coordinates, a side-by-side swipe between two rasters and an attribution line; all
    interface text is in ``lang``. It loads nothing from the network: Leaflet is inlined from the
    ``django-js-lib-leaflet`` package, the controls are written for plain Leaflet
    (:mod:`geosurvey.publish._controls`), and there are no base tiles unless asked for.

    Parameters
    ----------
    score
        The prospectivity score: a ``(y, x)`` grid (northing, easting) in any CRS it carries
        (``score.rio.crs``), NaN for nodata, Dask-backed or in memory. Its ``long_name`` and
        ``units`` appear under the legend.
    lang
        ``"en"`` or ``"ja"``: the language of every label, legend, popup and tooltip.
    title
        The map's title (default: ``TEXT[lang]["title"]``); also the page's ``<title>``.
    area
        The survey area's outline: a shapely (Multi)Polygon in EPSG:4326, a GeoDataFrame or
        GeoSeries in any CRS, or a ``SurveyArea`` (anything with a shapely ``geometry`` in
        EPSG:4326, and ``name_en``/``name_ja`` for its tooltip).
    faults
        Mapped faults: LineStrings/MultiLineStrings in any CRS.
    occurrences
        Known occurrences: Points/MultiPoints in any CRS. Popups show, where present, the columns
        named (case-insensitively) like a name (``name``; ``name_ja`` first on a Japanese map),
        a commodity (``commodity``, ``commodities``, ``commod1``, ...), a deposit type and a kind.
    survey_areas
        The registry's areas, as made by ``geosurvey.aoi.Registry.to_geodataframe()`` (columns
        ``id, name_en, name_ja, status, approvals`` required; ``region``, ``commodities`` (or
        ``commodities_en``/``commodities_ja``), ``deposit_models``, ``area_km2`` and
        ``pending_parties`` shown when present), any CRS. Styled by status: agreed solid
        green, proposed dashed amber, amended dashed red, withdrawn and closed grey.
    layers
        Evidence grids to offer as overlays (name → ``(y, x)`` grid, like ``score``), hidden at
        first, coloured with ``layer_cmap`` over each one's own range. Each is labelled
        "Evidence: <title>", the title being ``titles[name]``, else the grid's ``long_name``,
        else ``name``; its legend shows the grid's units.
    cmap
        The score's matplotlib colour map.
    attribution
        Credits for the data (e.g. ``"Geological Survey of Finland (GTK), CC BY 4.0"``), shown in
        the attribution line after "Made with geosurvey".
    basemap
        An online base map given as an xyzservices name (e.g. ``"OpenStreetMap.Mapnik"``) or a
        tile URL template (then ``attribution`` is required). See also ``basemaps``.
    vmin, vmax
        The score values at the ends of the colour map. Default: the score's CF ``valid_range``
        attribute if it has one, else its finite minimum and maximum.
    layer_cmap
        The colour map of the ``layers`` overlays.
    max_pixels
        Largest side of an embedded raster, in pixels. With ``raster_mode="embed"``, larger grids
        are block-averaged by the smallest whole factor that fits (stated in their legend); with
        ``"auto"`` they become tiles.
    uncertainty
        A grid of the score's uncertainty (e.g. a posterior standard deviation), shown as its own
        overlay (hidden at first) with ``uncertainty_cmap``.
    uncertainty_cmap
        The colour map of ``uncertainty``.
    titles
        Display titles of the ``layers`` (name → title), in the map's language, e.g.
        ``{"mag_rtp_thg": "Magnetic gradient (RTP)"}``. ``titles["score"]`` replaces the score's
        ``long_name`` under its legend.
    targets
        Exploration targets (polygons or points in any CRS); popups list their attributes.
    vectors
        Other vector layers (layer name → GeoDataFrame of any geometry, any CRS); popups list
        their attributes (the first 12 columns).
    basemaps
        Base maps offered in the layer control, the first shown: any of ``"osm"``
        (OpenStreetMap), ``"gsi"`` (GSI Japan tiles), ``"usgs"`` (USGS National Map) and
        ``"esri-imagery"`` (Esri World Imagery), each with its attribution. None by default:
        the page then makes no network request at all.
    raster_mode
        ``"auto"``: rasters are embedded in the page while their PNGs (as base64 data URIs) fit
        in ``max_embedded_bytes`` together and each is at most ``max_pixels`` a side; others become
        tiles. ``"embed"``: all embedded (averaged down to ``max_pixels``). ``"tiles"``: all
        tiles. Tiles are written by :func:`save_web_map` beside the page.
    max_embedded_bytes
        Most bytes of PNG imagery embedded in the page in ``"auto"`` mode.
    cluster_points
        Occurrence layers with more points than this are clustered on screen.
    score_title
        The first raster's name in the layer control and legend when it is not a prospectivity
        score (e.g. ``"Magnetic anomaly"``); default ``TEXT[lang]["score"]`` with the hint
        "higher is more prospective".

    Returns
    -------
    folium.Map
        Save it with :func:`save_web_map` (which writes any tiles); in a notebook it displays
        itself (tiled rasters only show once saved).

    Raises
    ------
    InputError
        An unknown ``lang``, colour map, base map or raster mode, a grid that is not ``(y, x)``,
        empty or all NaN, a layer with no features or missing registry columns, an unknown
        survey-area status.
    CRSError
        A grid or a GeoDataFrame without a CRS, or a shapely ``area`` not in degrees.
    GeometryError
        Features without geometry or of the wrong type (e.g. polygons given as faults).

    Notes
    -----
    Every input is checked before anything is computed. The grids are then computed once,
    together (:func:`dask.compute`), after being averaged down lazily where they are embedded:
    this is one of geosurvey's edges, where a lazy grid becomes pixels. Every raster is coloured
    through one :class:`~geosurvey.publish.ColourScale` shared by its image or tiles and its
    legend. Embedded rasters are reprojected to Web Mercator (EPSG:3857) with nearest-neighbour
    resampling and placed at their EPSG:4326 bounds; Leaflet draws image overlays linearly in
    Web Mercator, so they are exact. Tiles: see :mod:`geosurvey.publish._tiles`.

    References
    ----------
    .. [1] Leaflet 1.9 API reference, ``L.ImageOverlay``, ``L.TileLayer``, ``L.GeoJSON``,
       ``L.Control.Layers``: https://leafletjs.com/reference.html
    .. [2] IOGP, *Coordinate Conversions and Transformations including Formulas*, Guidance Note
       7-2, section 1.3.3.2 (Popular Visualisation Pseudo-Mercator, EPSG:3857).

    Examples
    --------
    >>> import numpy as np, xarray as xr, rioxarray
    >>> score = xr.DataArray(
    ...     np.random.default_rng(0).random((50, 60)), dims=("y", "x"),
    ...     coords={"y": 7_500_050 - 100 * np.arange(50), "x": 380_050 + 100 * np.arange(60)},
    ... ).rio.write_crs("EPSG:3067")
    >>> m = web_map(score, lang="ja", title="コラリ IOCG")
    >>> type(m).__name__
    'Map'

    Then ``save_web_map(m, "out/index.html")`` and open the file in any browser.
    """
    lang = check_lang(lang)
    text = TEXT[lang]
    if not (isinstance(max_pixels, int) and max_pixels >= 2):
        raise InputError(f"max_pixels must be a whole number of pixels >= 2, got {max_pixels!r}")
    if raster_mode not in get_args(RasterMode):
        raise InputError(
            f"unknown raster_mode={raster_mode!r}; choose one of {', '.join(get_args(RasterMode))}"
        )
    if not (isinstance(max_embedded_bytes, int) and max_embedded_bytes >= 0):
        raise InputError(
            f"max_embedded_bytes must be a whole number >= 0, got {max_embedded_bytes!r}"
        )
    titles = dict(titles or {})
    # 1. check every input before computing anything
    rasters = [
        _RasterSpec("score", score_title or text["score"], check_grid(score, "score"),
                    check_cmap(cmap, "cmap"), vmin, vmax, "gs-score", True)
    ]  # fmt: skip
    if uncertainty is not None:
        rasters.append(
            _RasterSpec("uncertainty", text["uncertainty"], check_grid(uncertainty, "uncertainty"),
                        check_cmap(uncertainty_cmap, "uncertainty_cmap"), None, None,
                        "gs-uncertainty", False)
        )  # fmt: skip
    for name, da in (layers or {}).items():
        what = f"layers[{name!r}]"
        checked = check_grid(da, what)
        label = titles.get(name) or _as_text(checked.attrs.get("long_name")) or str(name)
        rasters.append(
            _RasterSpec(what, text["evidence"].format(name=label), checked,
                        check_cmap(layer_cmap, "layer_cmap"), None, None, "gs-evidence", False,
                        from_long_name=name not in titles and bool(checked.attrs.get("long_name")))
        )  # fmt: skip
    area_gdf, area_name = _area_layer(area, lang) if area is not None else (None, None)
    fault_gdf = _vector_layer(faults, "faults", _LINES) if faults is not None else None
    occ_gdf = (
        _vector_layer(occurrences, "occurrences", _POINTS) if occurrences is not None else None
    )
    target_gdf = (
        _vector_layer(targets, "targets", _POINTS + _POLYGONS) if targets is not None else None
    )
    other = {
        str(name): _vector_layer(gdf, f"vectors[{name!r}]", _POINTS + _LINES + _POLYGONS)
        for name, gdf in (vectors or {}).items()
    }
    if survey_areas is not None:
        sa_gdf = _vector_layer(survey_areas, "survey_areas", _POLYGONS)
        sa_props = _survey_area_properties(sa_gdf, lang)
    title = text["title"] if title is None else str(title)
    m = _new_map(lang=lang, title=title)
    base_layers = _basemap_layers(basemaps, text)
    if basemap is not None:
        base_layers.append(_basemap_layer(basemap, attribution, text))
    for layer in base_layers:
        layer.add_to(m)
    if base_layers:
        folium.FeatureGroup(name=_e(text["no_basemap"]), overlay=False, show=False).add_to(m)

    # 2. the edge: compute and colour every grid (embedded images or tile pyramids)
    shown = _compute_rasters(
        rasters, max_pixels=max_pixels, mode=raster_mode, budget=max_embedded_bytes
    )

    # 3. layers, bottom to top, then their legends and the layer control
    legends: list[LegendEntry] = []
    swipe: list[tuple[str, Layer, str]] = []
    for k, (spec, raster) in enumerate(zip(rasters, shown, strict=True)):
        pane = f"gs-raster-{k}"
        folium.map.CustomPane(pane, z_index=350 + k, pointer_events=False).add_to(m)
        if isinstance(raster, TiledRaster):
            layer: Layer = TileLayer(
                name=_e(spec.label), bounds=raster.bounds, min_zoom=raster.pyramid.min_zoom,
                max_zoom=raster.pyramid.max_zoom, pane=pane, class_name=spec.class_name,
                opacity=_OPACITY, show=spec.show,
            )  # fmt: skip
            layer.gs_tiles = raster  # type: ignore[attr-defined]  (written by save_web_map)
            layer.gs_slug = "score" if k == 0 else f"layer-{k}"  # type: ignore[attr-defined]
            notes = [text["tiled"], *_downsample_note(raster, MAX_TILED_PIXELS, text)]
        else:
            layer = _image_layer(
                raster, name=spec.label, class_name=spec.class_name, show=spec.show, pane=pane
            )
            notes = _downsample_note(raster, max_pixels, text)
        layer.add_to(m)
        swipe.append((spec.label, layer, pane))
        hint = [text["score_hint"]] if k == 0 and score_title is None else []
        legends.append(
            LegendEntry(
                _legend_html(
                    spec.label,
                    raster,
                    subtitle=_legend_subtitle(spec, titles.get("score") if k == 0 else None),
                    notes=[*hint, text["nodata"], *notes],
                ),
                layer=layer,
                class_name=f"gs-legend-{spec.class_name.removeprefix('gs-')}",
                opacity=_OPACITY,
            )
        )
    if survey_areas is not None:
        sa_layer = _survey_areas_layer(sa_gdf, sa_props, text)
        sa_layer.add_to(m)
        statuses = [s for s in SURVEY_AREA_STATUSES if any(p["gs_status"] == s for p in sa_props)]
        key = "".join(
            f"<div>{_swatch_line(_STATUS_STYLE[s])}{_e(text[f'status_{s}'])}</div>"
            for s in statuses
        )
        legends.append(
            LegendEntry(
                f'<div class="gs-legend-title">{_e(text["survey_areas"])}</div>{key}',
                layer=sa_layer,
                class_name="gs-legend-status",
            )
        )
    if area_gdf is not None:
        props = [{"gs_tooltip": _e(area_name or text["area"])}] * len(area_gdf)
        folium.GeoJson(
            _feature_collection(area_gdf, props),
            name=_label(_swatch_line(_AREA_STYLE), text["area"]),
            style_function=lambda _: {**_AREA_STYLE, "className": "gs-area", "pane": "gs-area"},
            on_each_feature=_BIND_POPUPS,
        ).add_to(m)
    if target_gdf is not None:
        _attribute_layer(target_gdf, text["targets"], _TARGET_STYLE, "gs-targets").add_to(m)
    if fault_gdf is not None:
        _faults_layer(fault_gdf, text).add_to(m)
    for k, (name, gdf) in enumerate(other.items()):
        style = {**_VECTOR_STYLE, "color": _VECTOR_COLOURS[k % len(_VECTOR_COLOURS)]}
        _attribute_layer(gdf, name, style, f"gs-vector gs-vector-{k}").add_to(m)
    if occ_gdf is not None:
        occ_gdf = occ_gdf.explode(index_parts=False)
        occ_layer = folium.GeoJson(
            _feature_collection(occ_gdf, _occurrence_popups(occ_gdf, lang)),
            name=_label(_swatch_point(_OCCURRENCE_STYLE), text["occurrences"]),
            marker=folium.CircleMarker(radius=_OCCURRENCE_STYLE["radius"]),
            style_function=lambda _: {
                **_OCCURRENCE_STYLE,
                "className": "gs-occurrences",
                "pane": "gs-points",
            },
            on_each_feature=_BIND_POPUPS,
        )
        occ_layer.add_to(m)
        if len(occ_gdf) > cluster_points:
            PointClusters(title=text["cluster"]).add_to(occ_layer)
    Legends(legends, opacity_label=text["opacity"]).add_to(m)
    if len(swipe) >= 2:
        Swipe(swipe, text=text).add_to(m)
    folium.LayerControl(position="topright", collapsed=False).add_to(m)
    credits = [_e(text["made_with"])] + ([_e(attribution)] if attribution else [])
    Tools(text=text, prefix=_e(f"Leaflet {leaflet_version()}"), attributions=credits).add_to(m)
    m.fit_bounds(_fit_bounds(shown[0].bounds, area_gdf))
    return m


_OPACITY = 0.85

_TARGET_STYLE = {"color": "#00e676", "weight": 2.5, "opacity": 1.0, "fill": True,
                 "fillColor": "#00e676", "fillOpacity": 0.15, "radius": 7}  # fmt: skip
_VECTOR_STYLE = {"weight": 2, "opacity": 0.95, "fill": True, "fillOpacity": 0.1, "radius": 5}
_VECTOR_COLOURS = ("#ffd600", "#ff6d00", "#d500f9", "#00b0ff", "#76ff03")


@dataclass(frozen=True, eq=False)
class _RasterSpec:
    """One raster of the map, checked: what it is called, how it is coloured, whether shown."""

    what: str
    label: str
    da: xr.DataArray
    cmap: str
    vmin: float | None
    vmax: float | None
    class_name: str
    show: bool
    from_long_name: bool = False


def _legend_subtitle(spec: _RasterSpec, score_title: str | None) -> str | None:
    """Under a legend's title: the grid's description (unless it is the title) and units."""
    long_name = score_title or _as_text(spec.da.attrs.get("long_name"))
    units = _as_text(spec.da.attrs.get("units"))
    units = None if units in {None, "1", "-"} else units
    if spec.from_long_name:
        long_name = None
    if long_name and units:
        return f"{long_name} [{units}]"
    return long_name or (f"[{units}]" if units else None)


def _compute_rasters(
    rasters: Sequence[_RasterSpec], *, max_pixels: int, mode: str, budget: int
) -> list[RasterImage | TiledRaster]:
    """Compute every grid once and make each an embedded image or a tile pyramid.

    The pixel work (averaging down, the colour range, reprojecting, colouring and PNG encoding)
    runs as Dask tasks, one per grid, computed together: on the workers where a distributed
    client is active. When a grid is tiled, the grids averaged down (a tiled one to at most
    :data:`~geosurvey.publish.MAX_TILED_PIXELS` a side) are computed first and kept
    (``persist``: memory of at most that many pixels a grid) until the page is saved, when a
    task writes each tiled one's tiles from it: no grid is computed twice.
    """
    tiled = [
        mode == "tiles" or (mode == "auto" and max(spec.da.shape) > max_pixels) for spec in rasters
    ]
    factors = [
        downsample_factor(spec.da.shape, MAX_TILED_PIXELS if t else max_pixels)
        for spec, t in zip(rasters, tiled, strict=True)
    ]
    small = [average_down(spec.da, f) for spec, f in zip(rasters, factors, strict=True)]
    if any(tiled):  # computed once, for both the colouring here and the tiles written later
        small = list(dask.persist(*small))
    rendered = dask.compute(*[
        layer_task(_render, values, dict(spec.da.attrs), spec.vmin, spec.vmax, spec.what, spec.cmap,
                   factor, not t)
        for spec, t, factor, values in zip(rasters, tiled, factors, small, strict=True)
    ])  # fmt: skip
    out: list[RasterImage | TiledRaster] = []
    used = 0
    for t, factor, values, (scale, image) in zip(tiled, factors, small, rendered, strict=True):
        if not t:
            size = len(image.data_uri)  # what the page really holds (base64)
            if mode == "embed" or used + size <= budget:
                used += size
                out.append(image)
                continue
        transform, crs = values.rio.transform(), values.rio.crs
        out.append(
            TiledRaster(
                values=values.data.astype(np.float32),
                transform=transform,
                crs=crs,
                pyramid=plan_pyramid(transform, values.shape, crs, scale),
                factor=factor,
            )
        )
    return out


def _render(
    values: xr.DataArray, attrs: Mapping[str, Any], vmin: float | None, vmax: float | None,
    what: str, cmap: str, factor: int, image: bool,
) -> tuple[ColourScale, RasterImage | None]:
    """A task: the colour scale of a computed grid and, if ``image``, its embedded image."""
    lo, hi = value_range(np.asarray(values.data), attrs, vmin, vmax, what)
    scale = ColourScale(cmap, lo, hi)
    return scale, image_from(values, scale, factor=factor) if image else None


def _attribute_layer(
    gdf: gpd.GeoDataFrame, name: str, style: Mapping[str, Any], class_name: str
) -> folium.GeoJson:
    """A vector layer whose popups list its attributes (escaped), tooltips its name column."""
    gdf = gdf.explode(index_parts=False) if gdf.geom_type.isin(_POINTS).any() else gdf
    columns = [c for c in gdf.columns if c != gdf.geometry.name][:12]
    name_column = next((c for c in columns if str(c).lower() in {"name", "name_en", "id"}), None)
    props = []
    for index, row in gdf.iterrows():
        heading = _as_text(row[name_column]) if name_column is not None else None
        heading = heading or f"{name} #{index}"
        rows = [(str(c), _as_text(row[c])) for c in columns]
        popup = (
            f'<div class="gs-popup"><div class="gs-popup-title">{_e(heading)}</div>'
            f"{_table(rows)}</div>"
        )
        props.append({"gs_popup": popup, "gs_tooltip": _e(heading)})
    is_points = gdf.geom_type.isin(_POINTS).all()
    swatch = (
        _swatch_point({**style, "fillColor": style["color"]}) if is_points else _swatch_line(style)
    )
    return folium.GeoJson(
        _feature_collection(gdf, props),
        name=_label(swatch, name),
        marker=folium.CircleMarker(radius=style.get("radius", 5)) if is_points else None,
        style_function=lambda _: {
            **style,
            "className": class_name,
            "pane": "gs-points" if is_points else "gs-faults",
        },
        on_each_feature=_BIND_POPUPS,
    )


def _new_map(*, lang: Language, title: str) -> folium.Map:
    """An empty offline map on a page with ``<html lang>``, panes and the title."""
    m = folium.Map(location=None, tiles=None, zoom_control=False, prefer_canvas=False)
    _Page(lang=lang, title=title).add_child(m)
    use_offline_leaflet(m)
    m.get_root().header.add_child(RawHTML(_CSS), name="gs_css")
    for pane, z_index in _PANES.items():
        folium.map.CustomPane(pane, z_index=z_index, pointer_events=True).add_to(m)
    _Control(
        f"<div>{_e(title)}</div>", class_name="gs-control gs-title", position="topleft"
    ).add_to(m)
    return m


def _image_layer(
    image: RasterImage, *, name: str, class_name: str, show: bool, pane: str
) -> folium.raster_layers.ImageOverlay:
    return folium.raster_layers.ImageOverlay(
        image.data_uri,
        bounds=[list(image.bounds[0]), list(image.bounds[1])],
        name=_e(name),
        opacity=_OPACITY,
        show=show,
        pixelated=True,
        className=class_name,
        pane=pane,
        alt=name,
        interactive=False,
    )


def _downsample_note(image: RasterImage | TiledRaster, max_pixels: int, text: Mapping[str, str]) -> list[str]:
    if image.factor == 1:
        return []
    return [text["downsampled"].format(factor=image.factor, max_pixels=max_pixels)]


def _survey_areas_layer(
    gdf: gpd.GeoDataFrame, props: list[dict[str, str]], text: Mapping[str, str]
) -> folium.GeoJson:
    def style(feature: dict) -> dict:
        status = feature["properties"]["gs_status"]
        return {
            **_STATUS_STYLE[status],
            "fill": True,
            "fillColor": _STATUS_STYLE[status]["color"],
            "fillOpacity": 0.08,
            "className": f"gs-survey-areas gs-status-{status}",
            "pane": "gs-survey-areas",
        }

    return folium.GeoJson(
        _feature_collection(gdf, props),
        name=_label(_swatch_line(_STATUS_STYLE["agreed"]), text["survey_areas"]),
        style_function=style,
        on_each_feature=_BIND_POPUPS,
    )


def _faults_layer(gdf: gpd.GeoDataFrame, text: Mapping[str, str]) -> folium.FeatureGroup:
    """Faults as light lines over a dark casing, so they read on dark and bright colours alike."""
    group = folium.FeatureGroup(
        name=_label(_swatch_line(_FAULT_STYLE, casing=_FAULT_CASING), text["faults"])
    )
    name_column = next((c for c in gdf.columns if str(c).lower() == "name"), None)
    names = (
        [_as_text(n) for n in gdf[name_column]] if name_column is not None else [None] * len(gdf)
    )
    props = [{"gs_tooltip": _e(n)} if n is not None else {} for n in names]
    casing = {
        **_FAULT_STYLE,
        "color": _FAULT_CASING,
        "weight": _FAULT_STYLE["weight"] + 2,
        "opacity": 0.8,
        "interactive": False,
        "className": "gs-faults-casing",
        "pane": "gs-faults",
    }
    folium.GeoJson(
        _feature_collection(gdf, [{}] * len(gdf)), style_function=lambda _: casing, control=False
    ).add_to(group)
    folium.GeoJson(
        _feature_collection(gdf, props),
        style_function=lambda _: {**_FAULT_STYLE, "className": "gs-faults", "pane": "gs-faults"},
        on_each_feature=_BIND_POPUPS,
        control=False,
    ).add_to(group)
    return group


def _fit_bounds(
    bounds: tuple[tuple[float, float], tuple[float, float]], area: gpd.GeoDataFrame | None
) -> list[list[float]]:
    (south, west), (north, east) = bounds
    if area is not None:
        a_west, a_south, a_east, a_north = area.total_bounds
        south, west = min(south, a_south), min(west, a_west)
        north, east = max(north, a_north), max(east, a_east)
    return [[float(south), float(west)], [float(north), float(east)]]


def _tile_layers(m: folium.Map) -> list[TileLayer]:
    return [c for c in m._children.values() if isinstance(c, TileLayer) and hasattr(c, "gs_tiles")]


def save_web_map(m: folium.Map, path: str | Path, *, threads: int | None = None) -> Path:
    """Write a map made by :func:`web_map` as an HTML file (and its tiles), atomically.

    Parameters
    ----------
    m
        The map.
    path
        The ``.html`` file to write (its folder must exist); an existing file is replaced only
        once the new page is completely written. Rasters shown as tiles are written to the
        folder ``<stem>_tiles/`` beside it (``score/`` and ``layer-<k>/``, each
        ``{z}/{x}/{y}.png``), replaced as a whole; the page loads them by relative URLs, so keep
        the page and that folder together.
    threads
        Threads that write tiles (default: the CPU count).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    if not isinstance(m, folium.Map):
        raise InputError(f"save_web_map needs a folium.Map (from web_map), got {type(m).__name__}")
    if path.is_dir():
        raise OutputError(
            f"{path} is a folder; give the page's file name, e.g. {path / 'index.html'}"
        )
    if path.suffix.lower() not in {".html", ".htm"}:
        raise OutputError(f"{path} must end in .html so that browsers open it as a web page")
    if not path.absolute().parent.is_dir():
        raise OutputError(f"the folder of {path} does not exist; create it first")
    tiled = _tile_layers(m)
    if not tiled:
        return atomic_write_text(path, m.get_root().render())
    folder = path.absolute().parent / f"{path.stem}_tiles"
    with output_folder(folder, overwrite=True) as work:
        for layer in tiled:
            (work / layer.gs_slug).mkdir()
            layer.url = f"{quote(folder.name)}/{layer.gs_slug}/{{z}}/{{x}}/{{y}}.png"
        # one task per layer, computed together (on the workers where a distributed client is
        # active: the folder must be on storage they see)
        dask.compute(*tile_tasks([(layer.gs_tiles, work / layer.gs_slug) for layer in tiled],
                                 threads=threads))
        page = m.get_root().render()
    return atomic_write_text(path, page)


def overview_map(
    survey_areas: gpd.GeoDataFrame,
    *,
    lang: Language = "en",
    title: str | None = None,
    links: Mapping[str, str] | None = None,
    basemaps: Sequence[Basemap] = (),
) -> folium.Map:
    """A map of the registry's survey areas alone, coloured by status (the portal's overview).

    Parameters
    ----------
    survey_areas
        As for :func:`web_map` (``Registry.to_geodataframe()``).
    lang
        ``"en"`` or ``"ja"``.
    title
        The map's title (default: ``TEXT[lang]["survey_areas"]``).
    links
        Area id → a relative URL shown in its popup ("Results and downloads"), opened in the
        top window (the overview may sit in an ``<iframe>``).
    basemaps
        As for :func:`web_map`; none by default (no network request).

    Returns
    -------
    folium.Map
        Save it with :func:`save_web_map`.
    """
    lang = check_lang(lang)
    text = TEXT[lang]
    gdf = _vector_layer(survey_areas, "survey_areas", _POLYGONS)
    props = _survey_area_properties(gdf, lang)
    for prop, area_id in zip(props, gdf["id"], strict=True):
        url = (links or {}).get(str(area_id))
        if url is not None:
            link = (
                f'<div class="gs-popup-link"><a href="{_e(url)}" target="_top">'
                f"{_e(text['link_details'])}</a></div>"
            )
            prop["gs_popup"] = prop["gs_popup"].removesuffix("</div>") + link + "</div>"
    m = _new_map(lang=lang, title=text["survey_areas"] if title is None else str(title))
    base_layers = _basemap_layers(basemaps, text)
    for layer in base_layers:
        layer.add_to(m)
    if base_layers:
        folium.FeatureGroup(name=_e(text["no_basemap"]), overlay=False, show=False).add_to(m)
    layer = _survey_areas_layer(gdf, props, text)
    layer.add_to(m)
    statuses = [s for s in SURVEY_AREA_STATUSES if any(p["gs_status"] == s for p in props)]
    key = "".join(
        f"<div>{_swatch_line(_STATUS_STYLE[s])}{_e(text[f'status_{s}'])}</div>" for s in statuses
    )
    Legends(
        [
            LegendEntry(
                f'<div class="gs-legend-title">{_e(text["survey_areas"])}</div>{key}',
                layer=layer,
                class_name="gs-legend-status",
            )
        ],
        opacity_label=text["opacity"],
    ).add_to(m)
    folium.LayerControl(position="topright", collapsed=True).add_to(m)
    Tools(
        text=text, prefix=_e(f"Leaflet {leaflet_version()}"), attributions=[_e(text["made_with"])]
    ).add_to(m)
    west, south, east, north = gdf.total_bounds
    m.fit_bounds([[float(south), float(west)], [float(north), float(east)]])
    return m
