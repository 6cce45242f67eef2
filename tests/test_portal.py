"""The survey portal (``geosurvey publish``): pages, downloads, plots, rebuild-only-what-changed,
hostile area names, and real Chromium from ``file://``.

Runs are made the way ``geosurvey.runner.run`` writes them (COGs by ``geosurvey.io.write_cog``,
the evaluation by ``geosurvey.evaluation.evaluate``, the catalogue by
``geosurvey.publish.write_outputs_catalog``) on small grids, so that the tests stay fast.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rioxarray  # noqa: F401
import shapely
import xarray as xr

from geosurvey.cli import main
from geosurvey.errors import InputError, MissingInputError
from geosurvey.evaluation import evaluate
from geosurvey.i18n import TEXT
from geosurvey.io import write_cog
from geosurvey.publish import publish_site, write_outputs_catalog

from conftest import REPO

CRS = "EPSG:32635"
XSS = "<img src=x onerror=alert(1)>"
SCRIPT = "</script><script>alert(1)</script>"


def make_run(folder: Path, *, area_id: str, recipe_id: str = "iocg-test", name_en: str = "Test area",
             name_ja: str = "試験地域", seed: int = 0) -> Path:
    """A run's output folder as geosurvey.runner.run writes it (score, evidence, report, ...)."""
    rng = np.random.default_rng(seed)
    ny, nx = 60, 80
    y = 7_520_000 - 100 * (np.arange(ny) + 0.5)
    x = 370_000 + 100 * (np.arange(nx) + 0.5)
    base = np.add.outer(np.linspace(0, 1, ny), np.linspace(0, 1, nx)) / 2 + 0.05 * rng.random((ny, nx))
    grid = lambda v, **attrs: xr.DataArray(v, dims=("y", "x"), coords={"y": y, "x": x},  # noqa: E731
                                           attrs=attrs).rio.write_crs(CRS)
    score = grid(base, long_name="fuzzy gamma score", units="1")
    folder.mkdir(parents=True)
    (folder / "evidence").mkdir()
    write_cog(score, folder / "score.tif")
    write_cog(grid(base * 40, long_name="magnetic gradient", units="nT/m"), folder / "evidence" / "mag.tif")
    occ = gpd.GeoDataFrame({"name": [f"o{k}" for k in range(8)]},
                           geometry=[shapely.Point(370_000 + 100 * (70 + k % 5), 7_520_000 - 100 * (50 + k))
                                     for k in range(8)], crs=CRS)
    (folder / "data").mkdir()
    occ.to_file(folder / "data" / "occurrences.geojson")
    result = evaluate(score, occ, bootstrap=50)
    report = {
        "area": {"id": area_id, "name_en": name_en, "name_ja": name_ja, "status": "agreed"},
        "recipe": {"id": recipe_id, "title": "IOCG test recipe", "title_ja": "IOCG 試験レシピ",
                   "method": "fuzzy-gamma", "layers": ["mag"]},
        "score": result.to_dict(),
        "evidence": {"mag": {"units": "nT/m", "long_name": "magnetic gradient", "why": XSS, "roc_auc": 0.7}},
    }
    (folder / "report.json").write_text(json.dumps(report), "utf-8")
    (folder / "manifest.json").write_text(json.dumps({"inputs": {}, "outputs": {"score": "score.tif"}}))
    write_outputs_catalog({"score": folder / "score.tif", "mag": folder / "evidence" / "mag.tif"},
                          folder / "outputs", area_id=area_id, recipe=recipe_id,
                          datetime=datetime(2025, 1, 1, tzinfo=UTC))
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("portal")
    kolari = make_run(root / "runs" / "kolari", area_id="kolari-iocg")
    hostile = make_run(root / "runs" / "hostile", area_id="hostile-area", name_en=XSS, name_ja=SCRIPT, seed=1)
    result = publish_site([kolari, hostile], out=root / "site", registry=REPO / "aoi")
    return {"root": root, "site": root / "site", "result": result, "runs": [kolari, hostile]}


def test_site_layout_and_downloads(site):
    s = site["site"]
    assert site["result"].built == ("hostile-area/iocg-test", "kolari-iocg/iocg-test")
    for page in ("index.html", "index.ja.html", "overview.html", "overview.ja.html"):
        assert (s / page).is_file(), page
    run = s / "areas" / "kolari-iocg" / "iocg-test"
    for name in ("index.html", "index.ja.html", "map.html", "map.ja.html", "thumbnail.png",
                 "success.en.png", "roc.ja.png", "capture.en.png", "files/score.tif",
                 "files/evidence/mag.tif", "files/report.json", "files/manifest.json",
                 "files/outputs/catalog.json"):
        assert (run / name).is_file(), name
    assert (run / "files" / "score.tif").read_bytes() == (site["runs"][0] / "score.tif").read_bytes()
    # every area of the registry is listed, published or not, with its status
    index = (s / "index.html").read_text("utf-8")
    from geosurvey.aoi import Registry

    for _, row in Registry(REPO / "aoi").to_geodataframe().iterrows():
        assert f'data-area="{row["id"]}"' in index
        assert (s / "areas" / row["id"] / "index.ja.html").is_file()
    # every link of every page points at a file of the site
    for page in s.rglob("*.html"):
        for href in re.findall(r'(?:href|src)="([^"#:]+)"', page.read_text("utf-8")):
            assert (page.parent / href).exists(), (page, href)


def test_hostile_names_are_text_everywhere(site):
    for page in site["site"].rglob("*.html"):
        text = page.read_text("utf-8")
        assert XSS not in text and SCRIPT not in text, page


def test_bad_runs_are_refused_before_anything_is_written(tmp_path):
    out = tmp_path / "site"
    with pytest.raises(MissingInputError, match="is not a run's output folder"):
        publish_site([tmp_path], out=out)
    bad = make_run(tmp_path / "bad", area_id="ok-area")
    report = json.loads((bad / "report.json").read_text())
    report["area"]["id"] = "../../etc"
    (bad / "report.json").write_text(json.dumps(report))
    with pytest.raises(InputError, match=r"area id '../../etc' is not a valid id"):
        publish_site([bad], out=out)
    twin = make_run(tmp_path / "twin", area_id="ok-area")
    other = make_run(tmp_path / "other", area_id="ok-area")
    with pytest.raises(InputError, match="two runs publish area 'ok-area'"):
        publish_site([twin, other], out=out)
    assert not out.exists()


def test_publish_command(site, tmp_path, capsys):
    kolari = site["runs"][0]
    code = main(["publish", str(kolari), "--out", str(tmp_path / "s")])
    assert code == 0 and "1 run(s) built" in capsys.readouterr().out
    assert (tmp_path / "s" / "areas" / "kolari-iocg" / "iocg-test" / "map.ja.html").is_file()
    code = main(["publish", str(tmp_path), "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "is not a run's output folder" in err and len(err.splitlines()) == 1


@pytest.mark.browser
def test_portal_in_chromium(chromium_page, site):
    s = site["site"]
    for name in ("index.html", "index.ja.html"):
        page, console_errors, failed = chromium_page(s / name)
        assert console_errors == [] and failed == []
        assert page.locator("table.areas tr[data-area]").count() >= 6
        frame = page.frame_locator("iframe.overview")
        assert frame.locator("path.gs-survey-areas").count() >= 5
    assert TEXT["ja"]["portal_title"] in page.inner_text("header")
    # the interface text, without the data (area ids are shown as they are)
    body = page.evaluate("""() => { const c = document.body.cloneNode(true);
        c.querySelectorAll('small').forEach(e => e.remove()); document.body.appendChild(c);
        const t = c.innerText; c.remove(); return t; }""")
    english = [v for k, v in TEXT["en"].items() if v != TEXT["ja"][k] and "{" not in v and len(v) > 3]
    assert [v for v in english if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", body)] == []
    page.click("a.lang-switch")
    assert page.evaluate("document.documentElement.lang") == "en"
    # the hostile area's pages and map show its name as text and run no script
    run = s / "areas" / "hostile-area" / "iocg-test"
    for name in ("index.html", "index.ja.html", "map.html", "map.ja.html"):
        page, console_errors, failed = chromium_page(run / name)
        assert console_errors == [] and failed == []  # a dialog would be listed here
        assert page.locator("img[src=x]").count() == 0
        assert page.evaluate("Array.from(document.scripts).some(s => s.text.trim() === 'alert(1)')") is False
    page, console_errors, _ = chromium_page(run / "index.html")
    assert XSS in page.inner_text("header")
    page, console_errors, _ = chromium_page(run / "map.ja.html")
    assert SCRIPT in page.inner_text(".gs-title")
    page, console_errors, _ = chromium_page(s / "areas" / "hostile-area" / "iocg-test" / "index.ja.html")
    assert SCRIPT in page.inner_text("header")
    assert page.locator("img[src='thumbnail.png']").evaluate("img => img.naturalWidth") > 50
    assert all(page.locator(".plots img").evaluate_all("imgs => imgs.map(i => i.naturalWidth > 100)"))
    assert os.path.exists(run / "files" / "outputs" / "catalog.json")
    # the score's legend names the recipe in the page's language, not the overlay's layer names
    kolari = s / "areas" / "kolari-iocg" / "iocg-test"
    page, _, _ = chromium_page(kolari / "map.html")
    assert "IOCG test recipe" in page.inner_text(".gs-legend-score")
    page, _, _ = chromium_page(kolari / "map.ja.html")
    legend = page.inner_text(".gs-legend-score")
    assert "IOCG 試験レシピ" in legend and "fuzzy gamma score" not in legend


@pytest.mark.browser
def test_portal_from_a_static_web_server(chromium, site):
    """The same site served over HTTP (a plain static server on 127.0.0.1) works too."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site["site"]))
    handler.log_message = lambda *args: None  # type: ignore[assignment]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    context = chromium.new_context()
    try:
        requests_seen, errors = [], []
        context.route("**/*", lambda r: (requests_seen.append(r.request.url), r.continue_()
                                         if r.request.url.startswith((base, "data:")) else r.abort()))
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/index.html", wait_until="load")
        page.click("tr[data-area='kolari-iocg'] td:last-child a >> nth=0")
        page.wait_for_load_state("load")
        assert page.url.endswith("/areas/kolari-iocg/iocg-test/index.html")
        page.click("a.map-link")
        page.wait_for_selector("img.gs-score")
        assert errors == []
        assert all(u.startswith((base, "data:")) for u in requests_seen)
    finally:
        context.close()
        server.shutdown()
        server.server_close()


def test_rebuilds_only_what_changed(site, tmp_path):
    """Last in the module: it changes the shared site."""
    s = site["site"]
    kolari, hostile = site["runs"]
    page = s / "areas" / "kolari-iocg" / "iocg-test" / "index.html"
    before = page.stat().st_mtime_ns
    again = publish_site([kolari, hostile], out=s, registry=REPO / "aoi")
    assert again.built == () and set(again.skipped) == {"kolari-iocg/iocg-test", "hostile-area/iocg-test"}
    assert page.stat().st_mtime_ns == before
    report = json.loads((hostile / "report.json").read_text("utf-8"))
    report["recipe"]["title"] = "a new title"
    (hostile / "report.json").write_text(json.dumps(report), "utf-8")
    changed = publish_site([kolari, hostile], out=s, registry=REPO / "aoi")
    assert changed.built == ("hostile-area/iocg-test",) and changed.skipped == ("kolari-iocg/iocg-test",)
    assert "a new title" in (s / "areas" / "hostile-area" / "iocg-test" / "index.html").read_text("utf-8")
    assert page.stat().st_mtime_ns == before
    fewer = publish_site([kolari], out=s, registry=REPO / "aoi")
    assert fewer.removed == ("hostile-area/iocg-test",)
    assert not (s / "areas" / "hostile-area" / "iocg-test").exists()
