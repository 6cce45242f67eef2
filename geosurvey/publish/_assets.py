"""Leaflet for offline web maps, read from the installed ``django-js-lib-leaflet`` package.

A folium map loads Leaflet, jQuery, Bootstrap and Font Awesome from CDNs by default, so a map
handed to a colleague on a plane (or opened inside an agency network) shows an empty grey box.
geosurvey's maps load only Leaflet, and load it from the page itself: :func:`use_offline_leaflet`
removes every CDN link from a :class:`folium.Map` and inlines Leaflet's JavaScript and CSS (with the
CSS's images as ``data:`` URIs) into the page header. The files come from the PyPI package
``django-js-lib-leaflet`` (Leaflet 1.9.4, BSD-2-Clause), a declared dependency found with
:mod:`importlib.resources`; nothing is copied into this repository and nothing is fetched.

Only plain-Leaflet elements work in such a page: ``CircleMarker``, ``GeoJson``, ``ImageOverlay``,
``LayerControl``, controls built from ``L.control``. folium's ``Popup`` with HTML and
``Icon``/awesome-markers need jQuery or Font Awesome and are not used.
"""

from __future__ import annotations

import base64
import functools
import re
from importlib import resources

import folium

from geosurvey.errors import GeosurveyError
from geosurvey.publish._render import RawHTML

__all__ = ["LEAFLET_PACKAGE", "leaflet_css", "leaflet_js", "leaflet_version", "use_offline_leaflet"]

LEAFLET_PACKAGE = "js_lib_leaflet"
"""The import name of the PyPI package ``django-js-lib-leaflet`` that ships Leaflet's files."""

_STATIC = ("static", "js_lib_leaflet")
_IMAGES = (
    "layers.png",
    "layers-2x.png",
    "marker-icon.png",
    "marker-icon-2x.png",
    "marker-shadow.png",
)


def _static(name: str) -> bytes:
    try:
        root = resources.files(LEAFLET_PACKAGE).joinpath(*_STATIC)
        return root.joinpath(*name.split("/")).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:  # pragma: no cover - broken install
        raise GeosurveyError(
            f"Leaflet's {name} was not found in the package django-js-lib-leaflet; "
            "reinstall it with `pip install --force-reinstall django-js-lib-leaflet`"
        ) from exc


@functools.cache
def leaflet_js() -> str:
    """Leaflet's minified JavaScript, ready to inline in a ``<script>`` element.

    The ``sourceMappingURL`` comment is removed (the map file is not inlined, and a browser's
    developer tools would try to fetch it).
    """
    text = _static("leaflet.js").decode("utf-8").replace("\r\n", "\n")
    text = re.sub(r"^//# sourceMappingURL=.*$", "", text, flags=re.MULTILINE)
    if "</script" in text.lower():  # pragma: no cover - would end the inline element early
        raise GeosurveyError("leaflet.js contains '</script' and cannot be inlined")
    return text


@functools.cache
def leaflet_css() -> str:
    """Leaflet's CSS with every ``url(images/...)`` replaced by a ``data:image/png`` URI."""
    text = _static("leaflet.css").decode("utf-8").replace("\r\n", "\n")

    def inline(match: re.Match[str]) -> str:
        name = match.group(1)
        data = base64.b64encode(_static(f"images/{name}")).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    text = re.sub(r"url\(\s*['\"]?images/([\w.-]+\.png)['\"]?\s*\)", inline, text)
    if "images/" in text or "</style" in text.lower():  # pragma: no cover - a new Leaflet layout
        raise GeosurveyError("leaflet.css references files that could not be inlined")
    return text


@functools.cache
def leaflet_version() -> str:
    """The version of the inlined Leaflet, read from its banner (e.g. ``"1.9.4"``)."""
    match = re.search(r"Leaflet (\d+\.\d+\.\d+)", leaflet_js()[:400])
    return match.group(1) if match else "unknown"


def _icon_defaults() -> str:
    """Point ``L.Icon.Default`` at inlined images (its path detection cannot read a data URI)."""
    uri = {
        name: "data:image/png;base64," + base64.b64encode(_static(f"images/{name}")).decode("ascii")
        for name in ("marker-icon.png", "marker-icon-2x.png", "marker-shadow.png")
    }
    return (
        "<script>\n"
        'L.Icon.Default.imagePath = "";\n'
        "L.Icon.Default.mergeOptions({"
        f'iconUrl: "{uri["marker-icon.png"]}", '
        f'iconRetinaUrl: "{uri["marker-icon-2x.png"]}", '
        f'shadowUrl: "{uri["marker-shadow.png"]}"'
        "});\n"
        "</script>"
    )


def use_offline_leaflet(m: folium.Map) -> folium.Map:
    """Make ``m`` load nothing from the network: drop folium's CDN assets, inline Leaflet.

    Parameters
    ----------
    m
        A map; it is changed in place (its ``default_js``/``default_css`` become empty and its
        page header gets Leaflet's CSS and JavaScript) and returned.

    Returns
    -------
    folium.Map
        ``m``, whose saved page needs no network.
    """
    m.default_js = []
    m.default_css = []
    header = m.get_root().header
    header.add_child(RawHTML(f"<style>\n{leaflet_css()}\n</style>"), name="gs_leaflet_css")
    header.add_child(RawHTML(f"<script>\n{leaflet_js()}\n</script>"), name="gs_leaflet_js")
    header.add_child(RawHTML(_icon_defaults()), name="gs_leaflet_icons")
    return m
