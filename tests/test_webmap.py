"""The offline web map: pixels against independent computations, bad input, and real Chromium.

The browser tests open the saved page from disk (``file://``) in the system's headless Chromium
with every non-local request blocked (see ``tests/browser.py``).
"""

from __future__ import annotations

import base64
import io
import json
import re
import warnings
from importlib import resources
from pathlib import Path

import dask
import dask.array as dsa
import geopandas as gpd
import matplotlib
import numpy as np
import pytest
import rioxarray  # noqa: F401
import shapely
import xarray as xr
from PIL import Image
from pyproj import Transformer

from geosurvey.errors import CRSError, GeometryError, InputError, OutputError
from geosurvey.publish import TEXT, raster_image, save_web_map, web_map
from geosurvey.publish._assets import leaflet_css, leaflet_js

from browser import chromium_executable, image_stats, popup_text, screenshot_not_blank
from conftest import require_shared

CRS = "EPSG:32635"  # UTM 35N (northern Finland): a projected grid CRS like the survey areas'
RES = 100.0
X0, Y0 = 370_000.0, 7_520_000.0  # west edge, north edge (m)
XSS = "<script>alert(1)</script>"


# ---------------------------------------------------------------------------------- fixtures


def make_grid(ny: int = 80, nx: int = 100, *, chunks: int | None = 40, nan_block: bool = True) -> xr.DataArray:
    """A smooth ramp (easting and northing) with a NaN block in the north-west corner."""
    rows, cols = np.mgrid[0:ny, 0:nx]
    values = 0.01 * cols + 0.004 * rows
    if nan_block:
        values[: ny // 4, : nx // 4] = np.nan
    data = dsa.from_array(values, chunks=chunks) if chunks else values
    da = xr.DataArray(
        data,
        dims=("y", "x"),
        coords={"y": Y0 - RES * (np.arange(ny) + 0.5), "x": X0 + RES * (np.arange(nx) + 0.5)},
        name="score",
        attrs={"long_name": "fuzzy gamma score", "units": "1"},
    )
    return da.rio.write_crs(CRS)


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x1, y1)


def vectors() -> dict[str, gpd.GeoDataFrame]:
    """Faults, occurrences (one named like an injected script), the area and registry areas."""
    faults = gpd.GeoDataFrame(
        {"name": ["Kolari fault", "Äkäsjoki shear zone"]},
        geometry=[
            shapely.LineString([(X0 + 500, Y0 - 7500), (X0 + 9500, Y0 - 500)]),
            shapely.LineString([(X0 + 2000, Y0 - 1000), (X0 + 3000, Y0 - 7000)]),
        ],
        crs=CRS,
    )
    occurrences = gpd.GeoDataFrame(
        {"Name": [XSS, "Hannukainen", "Rautuvaara"], "Commodity": ["Fe", "Fe, Cu, Au", "Fe"],
         "kind": ["showing", "deposit", "deposit"]},
        geometry=[shapely.Point(X0 + 5000, Y0 - 4000), shapely.Point(X0 + 7000, Y0 - 2000),
                  shapely.Point(X0 + 8000, Y0 - 6000)],
        crs=CRS,
    )
    area = gpd.GeoDataFrame(
        {"id": ["kolari-iocg"], "name_en": ["Kolari IOCG"], "name_ja": ["コラリ IOCG"]},
        geometry=[box(X0 + 300, Y0 - 7700, X0 + 9700, Y0 - 300)], crs=CRS,
    )
    approvals = [
        [{"party": "JP", "date": "2025-10-28", "state": "valid"},
         {"party": "US", "date": "2025-10-29", "state": "valid"}],
        [{"party": "US", "date": "2025-11-02", "state": "valid"}],
        [{"party": "JP", "date": "2025-10-28", "state": "stale"},
         {"party": "US", "date": "2025-10-28", "state": "valid"}],
    ]
    survey_areas = gpd.GeoDataFrame(
        {
            "id": ["kolari-iocg", "muonio-ree", "pajala-fe"],
            "name_en": ["Kolari IOCG", "Muonio REE", "Pajala iron"],
            "name_ja": ["コラリ IOCG", "ムオニオ レアアース", "パヤラ 鉄"],
            "status": ["agreed", "proposed", "amended"],
            "region": ["FI", "FI", "SE,FI"],
            "commodities": ["Fe,Cu,Au", "REE-L,Nd", "Fe"],
            "deposit_models": ["iocg", "carbonatite-ree", "iocg"],
            "area_km2": [88.4, 12.0, 40.0],
            "analysis_crs": ["EPSG:32635"] * 3,
            "approvals": [json.dumps(a) for a in approvals],
        },
        geometry=[box(X0 + 300, Y0 - 7700, X0 + 9700, Y0 - 300),
                  box(X0 - 3000, Y0 - 3000, X0 - 500, Y0 - 500),
                  box(X0 + 10500, Y0 - 5000, X0 + 13000, Y0 - 1000)],
        crs=CRS,
    ).to_crs("EPSG:4326")  # the registry's own CRS; web_map accepts any
    return {"faults": faults, "occurrences": occurrences, "area": area, "survey_areas": survey_areas}


def full_map(lang: str = "en") -> tuple:
    score = make_grid()
    layers = {"k_th": (score * 10).assign_attrs(long_name="eTh/K <b>ratio</b>", units="ppm/%")}
    m = web_map(score, lang=lang, layers=layers, attribution="GTK open data, CC BY 4.0", **vectors())
    return m, score


@pytest.fixture(scope="module")
def saved_maps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("webmap")
    return {lang: save_web_map(full_map(lang)[0], folder / f"index_{lang}.html") for lang in ("en", "ja")}


def decode(image) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image.png)).convert("RGBA"))


def test_embedded_image_is_smaller_than_the_same_colours_as_rgba():
    """The page's budget holds more layers: the keyed RGB image against Pillow's RGBA PNG of the
    very pixels it decodes to, at the same zlib level."""
    da = make_grid(ny=400, nx=500, chunks=None)
    da = da + 0.05 * float(np.nanstd(da.values)) * np.random.default_rng(0).standard_normal(da.shape)
    image = raster_image(da, cmap="magma")
    rgba = io.BytesIO()
    Image.fromarray(decode(image)).save(rgba, format="PNG", compress_level=6)
    with Image.open(io.BytesIO(image.png)) as png:
        assert png.mode == "RGB"  # all 256 colours and nodata: keyed, three bytes a pixel
    assert len(image.png) < 0.95 * len(rgba.getvalue())  # about 0.91 for this grid


# --------------------------------------------------------------------- text and offline assets


def test_text_has_the_same_keys_in_both_languages():
    assert set(TEXT["en"]) == set(TEXT["ja"])
    japanese = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    for key in ("title", "score", "faults", "occurrences", "survey_areas", "status_agreed", "zoom_in"):
        assert japanese.search(TEXT["ja"][key]), key
        assert not japanese.search(TEXT["en"][key]), key


def test_leaflet_is_inlined_from_the_installed_package():
    static = resources.files("js_lib_leaflet").joinpath("static", "js_lib_leaflet")
    js = static.joinpath("leaflet.js").read_text("utf-8")
    assert leaflet_js().strip() == re.sub(r"//# sourceMappingURL=.*", "", js).strip()
    assert "Leaflet 1.9" in leaflet_js()[:300]
    css = leaflet_css()
    assert "images/" not in css
    for name in ("layers.png", "layers-2x.png", "marker-icon.png"):
        png = static.joinpath("images", name).read_bytes()
        assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in css, name


def test_page_references_nothing_online(saved_maps):
    text = saved_maps["en"].read_text("utf-8")
    assert leaflet_js() in text and leaflet_css() in text
    ours = text.replace(leaflet_js(), "").replace(leaflet_css(), "")
    assert re.findall(r"(?:https?:)?//[\w.-]+\.\w+/", ours) == []  # no URL of any host
    assert not re.search(r"<script[^>]+src=|<link\b|@import", text)
    for cdn in ("jsdelivr", "jquery", "bootstrap", "cloudflare", "fontawesome", "d3.min"):
        assert cdn not in text.lower(), cdn
    assert "L.tileLayer(" not in text  # no base tiles unless asked for


def test_basemap_is_opt_in():
    html = web_map(make_grid(chunks=None), basemap="OpenStreetMap.Mapnik").get_root().render()
    assert "L.tileLayer(" in html and "tile.openstreetmap.org" in html


def test_user_text_is_escaped_in_the_html(saved_maps):
    text = saved_maps["en"].read_text("utf-8")
    assert XSS not in text
    assert "<b>ratio</b>" not in text


# ------------------------------------------------------------------- the score overlay's pixels


def test_overlay_colours_match_an_independent_computation():
    """Each PNG pixel shows the colour of the source pixel under its centre (nearest neighbour).

    Independent of the code's path: PNG pixel centres → EPSG:3857 (from the overlay's corners) →
    the grid's CRS with pyproj → the source cell by index arithmetic → matplotlib's colour map.
    """
    da = make_grid(ny=60, nx=90, chunks=None)
    image = raster_image(da, cmap="viridis")
    rgba = decode(image)
    values = da.values
    with Image.open(io.BytesIO(image.png)) as png:
        assert png.mode in {"P", "RGB"}  # transparency in tRNS, never a full alpha channel
    assert (image.vmin, image.vmax) == (np.nanmin(values), np.nanmax(values))
    assert rgba.shape[:2] == image.shape

    (south, west), (north, east) = image.bounds
    to_merc = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    left, bottom = to_merc.transform(west, south)
    right, top = to_merc.transform(east, north)
    rows, cols = image.shape
    mx = left + (np.arange(cols) + 0.5) * (right - left) / cols
    my = top - (np.arange(rows) + 0.5) * (top - bottom) / rows
    MX, MY = np.meshgrid(mx, my)
    sx, sy = Transformer.from_crs("EPSG:3857", CRS, always_xy=True).transform(MX, MY)
    fj, fi = (sx - X0) / RES, (Y0 - sy) / RES  # fractional column, row in the source grid
    j, i = np.floor(fj).astype(int), np.floor(fi).astype(int)
    ny, nx = values.shape
    inside = (fi > 1) & (fi < ny - 1) & (fj > 1) & (fj < nx - 1)
    outside = (fi < -1) | (fi > ny + 1) | (fj < -1) | (fj > nx + 1)
    in_nan = (fi > 1) & (fi < ny // 4 - 1) & (fj > 1) & (fj < nx // 4 - 1)
    off_nan = inside & ~((fi < ny // 4 + 1) & (fj < nx // 4 + 1))

    expected = matplotlib.colormaps["viridis"](
        (values[i[off_nan], j[off_nan]] - image.vmin) / (image.vmax - image.vmin), bytes=True
    )
    got = rgba[off_nan]
    assert off_nan.sum() > 0.5 * rgba.shape[0] * rgba.shape[1]
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 4  # at worst a neighbour cell
    assert (got[:, 3] == 255).all()
    assert in_nan.sum() > 50 and (rgba[in_nan][:, 3] == 0).all()  # NaN is transparent
    assert (rgba[outside][:, 3] == 0).all()


def test_overlay_bounds_hold_the_grid():
    da = make_grid(chunks=None, nan_block=False)
    image = raster_image(da)
    (south, west), (north, east) = image.bounds
    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    ny, nx = da.shape
    lon, lat = to_ll.transform([X0, X0 + nx * RES, X0, X0 + nx * RES], [Y0, Y0, Y0 - ny * RES, Y0 - ny * RES])
    pixel_deg = (east - west) / image.shape[1]
    assert west <= min(lon) + 1e-9 and east >= max(lon) - 1e-9
    assert south <= min(lat) + 1e-9 and north >= max(lat) - 1e-9
    assert west > min(lon) - 2 * pixel_deg and east < max(lon) + 2 * pixel_deg


def test_chunked_equals_in_memory():
    lazy, eager = raster_image(make_grid(chunks=25)), raster_image(make_grid(chunks=None))
    assert lazy == eager


def test_large_grids_are_averaged_down_with_a_note():
    da = make_grid(ny=300, nx=200, chunks=100)
    image = raster_image(da, max_pixels=100)
    # independent block means (3 x 3, the last 2 columns trimmed) with numpy
    values = da.values[:, : 198].reshape(100, 3, 66, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks
        means = np.nanmean(values, axis=(1, 3))
    assert image.factor == 3
    assert (image.vmin, image.vmax) == pytest.approx((np.nanmin(means), np.nanmax(means)))
    assert max(image.shape) <= 110
    html = web_map(da, max_pixels=100, raster_mode="embed").get_root().render()
    note = TEXT["en"]["downsampled"].format(factor=3, max_pixels=100)
    assert json.dumps(note)[1:-1] in html  # inside the legend's (JSON-escaped) HTML


def test_colour_range_from_valid_range_or_arguments():
    da = make_grid(chunks=None)
    assert (raster_image(da.assign_attrs(valid_range=(0.0, 2.0))).vmin, raster_image(
        da.assign_attrs(valid_range=(0.0, 2.0))).vmax) == (0.0, 2.0)
    image = raster_image(da, vmin=0.5, vmax=0.6)
    rgba = decode(image)
    opaque = rgba[rgba[..., 3] == 255][:, :3]
    ends = matplotlib.colormaps["magma"]([0.0, 1.0], bytes=True)[:, :3]
    # values outside [vmin, vmax] are clipped to the end colours, so both ends occur
    assert (opaque == ends[0]).all(axis=1).any() and (opaque == ends[1]).all(axis=1).any()
    with pytest.raises(InputError, match=r"vmin=0\.7 is above vmax=0\.6"):
        raster_image(da, vmin=0.7, vmax=0.6)


def test_grids_are_computed_once_together_at_the_edge():
    calls = []

    def counting_scheduler(dsk, keys, **kwargs):
        calls.append(keys)
        return dask.get(dsk, keys, **kwargs)

    score = make_grid()
    with dask.config.set(scheduler=counting_scheduler):
        web_map(score, layers={"a": score * 2, "b": score + 1})
    assert len(calls) == 1


def test_bad_input_is_refused_before_anything_computes():
    def forbid(dsk, keys, **kwargs):
        raise AssertionError("something was computed")

    v = vectors()
    with dask.config.set(scheduler=forbid):
        with pytest.raises(CRSError, match="faults has no CRS"):
            web_map(make_grid(), faults=v["faults"].set_crs(None, allow_override=True))
        with pytest.raises(InputError, match="unknown map language"):
            web_map(make_grid(), lang="fr")


# --------------------------------------------------------------------------------- bad input


def no_crs() -> xr.DataArray:
    return xr.DataArray(np.ones((4, 5)), dims=("y", "x"), coords={"y": np.arange(4.0), "x": np.arange(5.0)})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"score": no_crs()}, CRSError, r"score has no CRS; set .*write_crs"),
        ({"lang": "xx"}, InputError, r"lang='xx'; choose one of 'en', 'ja'"),
        ({"score": make_grid(chunks=None).isel(y=slice(0, 0))}, InputError, r"empty or degenerate grid"),
        ({"score": make_grid(chunks=None) * np.nan}, InputError, r"score has no finite values"),
        ({"score": make_grid(chunks=None).expand_dims(band=[1])}, InputError, r"dims \('band', 'y', 'x'\).*sel\(band=1\)"),
        ({"score": make_grid(chunks=None).to_dataset()}, InputError, r"must be an xarray.DataArray"),
        ({"cmap": "no-such-map"}, InputError, r"unknown colour map cmap='no-such-map'"),
        ({"layers": {"k": no_crs()}}, CRSError, r"layers\['k'\] has no CRS"),
        ({"faults": "faults.shp"}, InputError, r"faults must be a geopandas GeoDataFrame"),
        ({"faults": vectors()["area"]}, GeometryError, r"faults must hold LineString or MultiLineString"),
        ({"occurrences": vectors()["occurrences"].iloc[:0]}, InputError, r"occurrences has no features; pass occurrences=None"),
        ({"occurrences": vectors()["occurrences"].assign(geometry=[None, shapely.Point(0, 0), None])},
         GeometryError, r"occurrences has features without a geometry \(rows \[0, 2\]\)"),
        ({"survey_areas": vectors()["survey_areas"].drop(columns="approvals")}, InputError,
         r"survey_areas lacks the column\(s\) \['approvals'\].*to_geodataframe"),
        ({"survey_areas": vectors()["survey_areas"].assign(status=["agreed", "approved", "agreed"])},
         InputError, r"area 'muonio-ree' has status 'approved'"),
        ({"survey_areas": vectors()["survey_areas"].assign(approvals=["[]", "{not json", "[]"])},
         InputError, r"approvals of area 'muonio-ree' are not valid JSON"),
        ({"area": box(X0, Y0 - 5000, X0 + 5000, Y0)}, CRSError, r"not longitude/latitude degrees"),
        ({"area": "kolari"}, InputError, r"area must be a shapely Polygon"),
        ({"basemap": "https://tiles.example/{z}/{x}/{y}.png"}, InputError, r"also pass attribution="),
        ({"basemap": "NoSuchProvider"}, InputError, r"unknown basemap 'NoSuchProvider'"),
        ({"max_pixels": 0}, InputError, r"max_pixels must be"),
    ],
)
def test_bad_input_is_refused_clearly(kwargs, error, match):
    kwargs = {"score": make_grid(chunks=None), **kwargs}
    with pytest.raises(error, match=match):
        web_map(kwargs.pop("score"), **kwargs)


def test_save_web_map_writes_atomically_or_not_at_all(tmp_path):
    m = web_map(make_grid(chunks=None))
    target = tmp_path / "index.html"
    target.write_text("old page")
    assert save_web_map(m, target) == target
    assert target.read_text("utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.html"]  # no temporary left
    with pytest.raises(OutputError, match="does not exist"):
        save_web_map(m, tmp_path / "missing" / "index.html")
    with pytest.raises(OutputError, match=r"is a folder; give the page's file name"):
        save_web_map(m, tmp_path)
    with pytest.raises(OutputError, match=r"must end in .html"):
        save_web_map(m, tmp_path / "map.png")
    assert not (tmp_path / "missing").exists() and not (tmp_path / "map.png").exists()


def test_browser_helper_fails_rather_than_skips_without_chromium():
    with pytest.raises(pytest.fail.Exception, match=r"apt-get install -y chromium"):
        chromium_executable(["/nonexistent/chromium", None])


# -------------------------------------------------------------------------- real Chromium


def labels(page) -> list[str]:
    return [t.strip() for t in page.eval_on_selector_all(
        ".leaflet-control-layers-overlays label", "els => els.map(e => e.textContent)")]


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_page_loads_offline_with_every_layer(chromium_page, saved_maps, lang):
    page, console_errors, failed_requests = chromium_page(saved_maps[lang])
    text = TEXT[lang]
    assert console_errors == [] and failed_requests == []
    assert page.get_attribute("html", "lang") == lang

    score = page.query_selector("img.gs-score")
    assert score is not None and score.is_visible()
    assert score.get_attribute("src").startswith("data:image/png;base64,")
    assert page.evaluate("document.querySelector('img.gs-score').naturalWidth") > 50
    v = vectors()
    assert page.locator("path.gs-faults").count() == len(v["faults"])
    assert page.locator("path.gs-occurrences").count() == len(v["occurrences"])
    assert page.locator("path.gs-area").count() == 1
    assert page.locator("path.gs-survey-areas").count() == len(v["survey_areas"])
    assert labels(page) == [
        text["score"], text["evidence"].format(name="eTh/K <b>ratio</b>"), text["survey_areas"],
        text["area"], text["faults"], text["occurrences"],
    ]
    legend = page.inner_text(".gs-legend-score")
    assert text["score"] in legend and "fuzzy gamma score" in legend
    assert "0" in legend and "1.31" in legend  # the ramp's range: 0 to 0.01*99 + 0.004*79
    assert page.locator(".gs-legend-status").count() == 1
    assert page.get_attribute(".leaflet-control-zoom-in", "title") == text["zoom_in"]


@pytest.mark.browser
def test_layer_control_toggles_overlays_and_legends(chromium_page, saved_maps):
    page, console_errors, _ = chromium_page(saved_maps["en"])
    assert page.locator("img.gs-evidence").count() == 0  # evidence is off at first
    assert page.locator(".gs-legend-evidence").is_hidden()
    page.get_by_label(TEXT["en"]["evidence"].format(name="eTh/K <b>ratio</b>")).check()
    assert page.locator("img.gs-evidence").count() == 1
    legend = page.inner_text(".gs-legend-evidence")
    assert "Evidence: eTh/K <b>ratio</b>" in legend and "[ppm/%]" in legend  # title and units
    assert page.locator(".leaflet-control-layers b, .gs-legends b").count() == 0  # stayed text
    # legends keep their order (score first) however the layers were switched on
    order = page.eval_on_selector_all(
        ".gs-legends > .gs-legend", "els => els.filter(e => e.style.display !== 'none').map(e => e.className)")
    assert [c.split()[-1] for c in order] == ["gs-legend-score", "gs-legend-evidence", "gs-legend-status"]
    page.get_by_label(TEXT["en"]["score"]).uncheck()
    assert page.locator("img.gs-score").count() == 0 and page.locator(".gs-legend-score").is_hidden()
    page.get_by_label(TEXT["en"]["score"]).check()
    order = page.eval_on_selector_all(
        ".gs-legends > .gs-legend", "els => els.filter(e => e.style.display !== 'none').map(e => e.className)")
    assert [c.split()[-1] for c in order] == ["gs-legend-score", "gs-legend-evidence", "gs-legend-status"]
    assert console_errors == []


@pytest.mark.browser
def test_japanese_page_shows_japanese_interface_text(chromium_page, saved_maps):
    page, console_errors, _ = chromium_page(saved_maps["ja"])
    visible = page.inner_text("body")
    assert TEXT["ja"]["title"] in page.inner_text(".gs-title")
    assert page.title() == TEXT["ja"]["title"]
    for key in ("score", "score_hint", "nodata", "faults", "occurrences", "status_agreed"):
        assert TEXT["ja"][key] in visible, key
    english = [s for k, s in TEXT["en"].items() if s != TEXT["ja"][k] and "{" not in s]
    assert [s for s in english if s in visible] == []
    assert console_errors == []


@pytest.mark.browser
def test_screenshot_is_not_blank_and_shows_the_score(chromium_page, saved_maps, tmp_path):
    page, _, _ = chromium_page(saved_maps["en"])
    with_score = screenshot_not_blank(page, tmp_path / "map.png")
    page.get_by_label(TEXT["en"]["score"]).uncheck()
    without = image_stats(page.screenshot())
    assert with_score["coverage"] > without["coverage"] + 0.05  # the overlay is what was drawn


@pytest.mark.browser
def test_popups_render_user_text_as_text(chromium_page, saved_maps):
    page, console_errors, failed = chromium_page(saved_maps["en"])
    markers = page.locator("path.gs-occurrences")
    for k in range(markers.count()):
        markers.nth(k).click()
        content = popup_text(page)
        if XSS in content:
            break
    else:
        pytest.fail("no popup showed the occurrence named like a script")
    assert page.locator(".leaflet-popup-content script").count() == 0
    assert "Fe" in content and TEXT["en"]["commodity"] in content
    assert console_errors == [] and failed == []  # no alert() dialog ran


@pytest.mark.browser
def test_survey_areas_are_styled_by_status_with_bilingual_popups(chromium_page, saved_maps):
    page, console_errors, _ = chromium_page(saved_maps["ja"])
    agreed = page.locator("path.gs-status-agreed")
    proposed = page.locator("path.gs-status-proposed")
    amended = page.locator("path.gs-status-amended")
    assert agreed.get_attribute("stroke") == "#1a9641" and agreed.get_attribute("stroke-dasharray") is None
    assert proposed.get_attribute("stroke") == "#f29e0c" and proposed.get_attribute("stroke-dasharray") == "8 6"
    assert amended.get_attribute("stroke") == "#d7191c" and amended.get_attribute("stroke-dasharray") == "4 4"

    page.get_by_label(TEXT["ja"]["score"]).uncheck()  # nothing above the polygons but their edges
    box = amended.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = popup_text(page)
    for expected in ("Pajala iron", "パヤラ 鉄", TEXT["ja"]["status_amended"], "SE, FI", "Fe",
                     "JP", "2025-10-28", TEXT["ja"]["approval_stale"], TEXT["ja"]["approval_valid"]):
        assert expected in popup, expected
    assert console_errors == []


@pytest.mark.browser
def test_real_gtk_data_map(chromium_page, tmp_path):
    folder = require_shared("gtk_lapland_iocg")
    from geosurvey.io import read_raster

    mag = read_raster(folder / "grids_100m" / "mag_tmi_dgrf65_anomaly_nT.tif", chunks=256)
    faults = gpd.read_file(folder / "vector" / "IOCG_CLB_Structures_1M.shp")
    occurrences = gpd.read_file(folder / "vector" / "IOCG_Deps_Prosp_Occs.shp")
    m = web_map(mag, faults=faults, occurrences=occurrences, lang="en",
                attribution="Geological Survey of Finland (GTK), CC BY 4.0")
    page, console_errors, failed = chromium_page(save_web_map(m, tmp_path / "index.html"))
    assert console_errors == [] and failed == []
    assert page.locator("path.gs-occurrences").count() == len(occurrences) == 13
    assert page.locator("path.gs-faults").count() == len(faults)
    legend = page.inner_text(".gs-legend-score")
    lo, hi = float(mag.min().compute()), float(mag.max().compute())
    assert f"{lo:,.0f}" in legend and f"{hi:,.0f}" in legend  # nT, from the data's own range
    assert "Hannukainen" in page.content()
    screenshot_not_blank(page, tmp_path / "gtk.png")


@pytest.mark.browser
def test_survey_areas_from_a_real_registry(chromium_page, tmp_path):
    """The layer made by geosurvey.aoi's Registry.to_geodataframe() maps as the registry says."""
    from geosurvey.aoi import Registry, generate_keypair

    jp_key, jp_pub = generate_keypair()
    us_key, us_pub = generate_keypair()
    reg = Registry.init(tmp_path / "aoi", parties=[
        {"code": "JP", "name_en": "Japan", "name_ja": "日本", "public_keys": [jp_pub]},
        {"code": "US", "name_en": "United States", "name_ja": "アメリカ合衆国", "public_keys": [us_pub]},
    ])
    reg.propose((-115.6, 35.4, -115.4, 35.6), id="mountain-pass", name_en="Mountain Pass",
                name_ja="マウンテンパス", region="US", commodities="REE", proposer="US")
    reg.propose((-115.9, 35.1, -115.7, 35.3), id="ivanpah", name_en="Ivanpah <REE>",
                name_ja="アイバンパ", region="US", commodities="REE", proposer="US")
    reg.propose((179.0, 51.0, -179.5, 52.0), id="western-aleutians", name_en="Western Aleutians",
                name_ja="西アリューシャン", region="US", commodities="REE", proposer="US")
    reg.approve("mountain-pass", party="US", private_key=us_key)
    reg.approve("mountain-pass", party="JP", private_key=jp_key)
    reg.approve("ivanpah", party="US", private_key=us_key)
    layer = reg.to_geodataframe()
    assert dict(zip(layer["id"], layer["status"], strict=True)) == {
        "mountain-pass": "agreed", "ivanpah": "proposed", "western-aleutians": "proposed"}
    assert layer.set_index("id").loc["western-aleutians", "geometry"].geom_type == "MultiPolygon"

    y = 3_940_000 - 1000 * (np.arange(30) + 0.5)
    x = 590_000 + 1000 * (np.arange(40) + 0.5)
    score = xr.DataArray(np.add.outer(y, x) % 7.0, dims=("y", "x"), coords={"y": y, "x": x}).rio.write_crs("EPSG:32611")
    html = save_web_map(web_map(score, lang="ja", survey_areas=layer), tmp_path / "index.html")
    page, console_errors, _ = chromium_page(html)
    assert page.locator("path.gs-status-agreed").count() == 1
    assert page.locator("path.gs-status-proposed").count() == 2
    # the area cut at 180° (RFC 7946) is drawn in one piece, 1.5° wide, not across the world
    spans = page.evaluate("""() => {
        const map = window[document.querySelector(".folium-map").id];
        const spans = {};
        map.eachLayer(l => { if (l.feature && l.feature.properties.gs_status) {
            const b = l.getBounds(); spans[l.feature.properties.gs_tooltip] = b.getEast() - b.getWest(); } });
        return spans; }""")
    assert [round(w, 6) for k, w in spans.items() if "アリューシャン" in k] == [1.5]
    page.get_by_label(TEXT["ja"]["score"]).uncheck()
    boxes = [page.locator("path.gs-status-proposed").nth(k).bounding_box() for k in range(2)]
    box = next(b for b in boxes if b and b["width"] > 0 and 0 < b["x"] < 1280 and 0 < b["y"] < 800)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = popup_text(page)
    expected_commodities = layer.set_index("id").loc["ivanpah", "commodities_ja"]
    for expected in ("Ivanpah <REE>", "アイバンパ", TEXT["ja"]["status_proposed"], expected_commodities,
                     TEXT["ja"]["pending_parties"], "JP", TEXT["ja"]["approval_valid"]):
        assert expected in popup, expected
    assert console_errors == []
