"""The web map's controls in real headless Chromium: measure, coordinates, opacity, swipe,
clusters, base maps, and every string in the page's language (one browser for the module)."""

from __future__ import annotations

import math
import re

import geopandas as gpd
import numpy as np
import pytest
import shapely
from test_webmap import CRS, X0, Y0, make_grid, vectors

from geosurvey.i18n import TEXT
from geosurvey.publish import save_web_map, web_map

from browser import popup_text

pytestmark = pytest.mark.browser

MAP = "window[document.querySelector('.folium-map').id]"


def many_occurrences(n: int = 300) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(1)
    return gpd.GeoDataFrame(
        {"name": [f"occ {k}" for k in range(n)], "commodity": ["Cu"] * n},
        geometry=[shapely.Point(X0 + 200 + rng.random() * 9000, Y0 - 200 - rng.random() * 7000)
                  for _ in range(n)],
        crs=CRS,
    )


def rich_map(lang: str, **kwargs):
    score = make_grid().assign_attrs(long_name="fuzzy gamma score", units="1")
    v = vectors()
    v["occurrences"] = many_occurrences()
    layers = {"mag_rtp_thg": (score * 3).assign_attrs(long_name="magnetic gradient", units="nT/m")}
    uncertainty = (score * 0.1).assign_attrs(units="1")
    targets = v["area"][["geometry"]].assign(rank=[1])
    return web_map(score, lang=lang, layers=layers, uncertainty=uncertainty, targets=targets,
                   titles={"mag_rtp_thg": "磁気勾配" if lang == "ja" else "Magnetic gradient (RTP)"},
                   attribution="GTK", **v, **kwargs)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("controls")
    return {
        "en": save_web_map(rich_map("en"), folder / "en.html"),
        "ja": save_web_map(rich_map("ja"), folder / "ja.html"),
        "basemaps": save_web_map(rich_map("en", basemaps=["osm", "gsi"]), folder / "basemaps.html"),
        "hostile": save_web_map(hostile_map(), folder / "hostile.html"),
    }


IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "</script><script>alert(1)</script>"


def hostile_map():
    v = vectors()
    sa = v["survey_areas"]
    sa.loc[2, "name_en"] = IMG
    sa.loc[2, "notes"] = SCRIPT
    sa.loc[2, "commodities"] = IMG
    v["occurrences"]["Name"] = [IMG, SCRIPT, "plain"]
    v["faults"]["name"] = [SCRIPT, IMG]
    score = make_grid(chunks=None).assign_attrs(long_name=IMG, units=SCRIPT)
    return web_map(score, title=SCRIPT, attribution=IMG, layers={IMG: score * 2}, **v)


def haversine(a, b, radius=6371000.0):
    """Great-circle distance (m) on Leaflet's sphere (L.CRS.Earth.R = 6371000 m)."""
    la1, lo1, la2, lo2 = map(math.radians, (a["lat"], a["lng"], b["lat"], b["lng"]))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(h))


def test_measure_gives_the_great_circle_distance(chromium_page, pages):
    page, console_errors, failed = chromium_page(pages["en"])
    assert page.get_attribute(".gs-measure", "title") == TEXT["en"]["measure"]
    page.click(".gs-measure")
    box = page.locator(".folium-map").bounding_box()
    points = [(400, 300), (700, 500), (900, 350)]
    for x, y in points:
        page.mouse.click(box["x"] + x, box["y"] + y)
    latlngs = [page.evaluate(f"() => {MAP}.containerPointToLatLng([{x}, {y}])") for x, y in points]
    expected = haversine(latlngs[0], latlngs[1]) + haversine(latlngs[1], latlngs[2])
    metres = float(page.get_attribute(".gs-measure-result", "data-metres"))
    assert metres == pytest.approx(expected, rel=1e-6)
    shown = page.inner_text(".gs-measure-result")
    assert shown == TEXT["en"]["measure_distance"].format(distance=f"{expected / 1000:.2f} km")
    page.click(".gs-measure")  # finish: the line and the result go away
    assert page.locator(".gs-measure-result").count() == 0
    assert console_errors == [] and failed == []


def test_cursor_coordinates_follow_the_mouse(chromium_page, pages):
    page, console_errors, _ = chromium_page(pages["en"])
    box = page.locator(".folium-map").bounding_box()
    page.mouse.move(box["x"] + 500, box["y"] + 400)
    ll = page.evaluate(f"() => {MAP}.containerPointToLatLng([500, 400])")
    text = page.inner_text(".gs-coordinates")
    assert text == f"Lat {ll['lat']:.5f}°, Lon {ll['lng']:.5f}°"
    assert console_errors == []


def test_opacity_slider_sets_the_layers_opacity(chromium_page, pages):
    page, console_errors, _ = chromium_page(pages["en"])
    assert page.evaluate("getComputedStyle(document.querySelector('img.gs-score')).opacity") == "0.85"
    page.locator(".gs-legend-score input.gs-opacity").fill("30")
    assert page.evaluate("getComputedStyle(document.querySelector('img.gs-score')).opacity") == "0.3"
    assert console_errors == []


def test_swipe_clips_two_rasters_either_side_of_the_divider(chromium_page, pages):
    page, console_errors, _ = chromium_page(pages["en"])
    page.click(".gs-swipe-toggle")
    labels = page.eval_on_selector_all("select.gs-swipe-left option", "os => os.map(o => o.textContent)")
    assert labels == [TEXT["en"]["score"], TEXT["en"]["uncertainty"],
                      TEXT["en"]["evidence"].format(name="Magnetic gradient (RTP)")]
    page.select_option("select.gs-swipe-right", "2")
    page.locator("input.gs-swipe-range").fill("30")
    assert page.locator("img.gs-evidence").count() == 1  # the right layer was switched on
    width = page.evaluate(f"() => {MAP}.getSize().x")
    x = page.evaluate(f"() => {MAP}.containerPointToLayerPoint([{width} * 0.3, 0]).x")
    left = page.evaluate("document.querySelector('.leaflet-gs-raster-0-pane').style.clip")
    right = page.evaluate("document.querySelector('.leaflet-gs-raster-2-pane').style.clip")
    nums = lambda s: [float(v) for v in re.findall(r"-?[\d.]+", s)]  # noqa: E731
    assert nums(left)[1] == pytest.approx(x, abs=0.01) and nums(right)[3] == pytest.approx(x, abs=0.01)
    assert nums(left)[3] < x < nums(right)[1]
    page.click(".gs-swipe-toggle")
    assert page.evaluate("document.querySelector('.leaflet-gs-raster-0-pane').style.clip") == ""
    assert console_errors == []


def test_crowded_occurrences_are_clustered_and_split_when_zooming_in(chromium_page, pages):
    page, console_errors, _ = chromium_page(pages["en"])
    clusters = page.locator(".gs-cluster")
    assert clusters.count() > 0
    counts = [int(t) for t in clusters.all_inner_texts()]
    singles = page.locator("path.gs-occurrences").count()
    assert sum(counts) + singles == 300 + len(vectors()["occurrences"]) - 3  # every point once
    page.evaluate(f"() => {MAP}.setZoom({MAP}.getZoom() + 4, {{animate: false}})")
    page.wait_for_timeout(200)
    assert page.locator("path.gs-occurrences").count() > singles
    assert console_errors == []


def test_no_basemap_no_request_and_basemaps_credited(chromium_page, pages):
    page, _, failed = chromium_page(pages["en"])
    assert failed == []
    assert page.locator("meta[name=viewport]").count() == 1
    page, _, failed = chromium_page(pages["basemaps"])
    attribution = page.inner_text(".leaflet-control-attribution")
    assert TEXT["en"]["attribution_osm"] in attribution
    assert failed and all("tile.openstreetmap.org" in f for f in failed)  # blocked by the test
    bases = page.eval_on_selector_all(".leaflet-control-layers-base label", "ls => ls.map(l => l.textContent.trim())")
    assert bases == [TEXT["en"]["basemap_osm"], TEXT["en"]["basemap_gsi"], TEXT["en"]["no_basemap"]]
    page.get_by_label(TEXT["en"]["basemap_gsi"]).check()
    page.wait_for_timeout(200)
    assert any("cyberjapandata.gsi.go.jp" in f for f in failed)
    assert TEXT["en"]["attribution_gsi"] in page.inner_text(".leaflet-control-attribution")


def visible_strings(page) -> str:
    """Everything a reader can see or hear: text, titles, ARIA labels, alt texts."""
    return page.evaluate("""() => {
        const out = [document.body.innerText, document.title];
        document.querySelectorAll('[title], [aria-label], [alt]').forEach(e => {
            out.push(e.getAttribute('title') || ''); out.push(e.getAttribute('aria-label') || '');
            out.push(e.getAttribute('alt') || ''); });
        return out.join('\\n'); }""")


def test_japanese_page_has_no_english_interface_string(chromium_page, pages):
    page, console_errors, _ = chromium_page(pages["ja"])
    page.click(".gs-swipe-toggle")  # open every panel
    page.click(".gs-measure")
    for label in (TEXT["ja"]["uncertainty"], TEXT["ja"]["evidence"].format(name="磁気勾配")):
        page.get_by_role("checkbox", name=label).check()
    strings = visible_strings(page)
    english = {k: s for k, s in TEXT["en"].items() if s != TEXT["ja"][k] and "{" not in s}
    leaked = {k: s for k, s in english.items() if re.search(rf"(?<![\w]){re.escape(s)}(?![\w])", strings)}
    assert leaked == {}
    for key in ("opacity", "swipe", "swipe_left", "measure", "fullscreen", "uncertainty", "targets"):
        assert TEXT["ja"][key] in strings, key
    assert console_errors == []


def test_both_tables_have_the_same_keys_and_fields():
    assert list(TEXT["en"]) == list(TEXT["ja"]) or set(TEXT["en"]) == set(TEXT["ja"])
    for key in TEXT["en"]:
        fields_en = set(re.findall(r"{(\w+)}", TEXT["en"][key]))
        assert fields_en == set(re.findall(r"{(\w+)}", TEXT["ja"][key])), key


def test_hostile_names_render_as_text_in_popups_and_run_nothing(chromium_page, pages):
    page, console_errors, failed = chromium_page(pages["hostile"])
    assert page.title() == SCRIPT and SCRIPT in page.inner_text(".gs-title")
    assert IMG in page.inner_text(".leaflet-control-attribution")
    assert IMG in page.inner_text(".gs-legend-score")  # long_name
    page.get_by_label(TEXT["en"]["score"]).uncheck()
    amended = page.locator("path.gs-status-amended")
    box = amended.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    popup = popup_text(page)
    assert IMG in popup and SCRIPT in popup and TEXT["en"]["notes"] in popup
    page.mouse.click(5, 5)
    shown = []
    markers = page.locator("path.gs-occurrences")
    for k in range(markers.count()):
        # the event goes to this marker's own path: a click at its position could land on a
        # neighbour drawn over it and show that one's popup twice
        markers.nth(k).dispatch_event("click")
        shown.append(popup_text(page))
    assert sorted(t.splitlines()[0] for t in shown) == sorted([IMG, SCRIPT, "plain"])  # names first
    assert page.locator(".leaflet-popup-content img, .leaflet-popup-content script, "
                        ".leaflet-control-layers img, .gs-legends img").count() == 0
    assert console_errors == [] and failed == []  # an alert() would be listed as a dialog
