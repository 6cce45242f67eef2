"""geosurvey.catalogs against a real stac-fastapi-pgstac server on 127.0.0.1 (tests/stac_api.py).

Expected results are computed independently from the real JSON the server was loaded with
(shapely on the item geometries, plain Python on their properties) and, for pixels, from the
source rasters read with rasterio.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import signal

import dask
import numpy as np
import pystac
import pystac_client
import pytest
import rasterio
import shapely
from odc.geo.geobox import GeoBox

from geosurvey.catalogs import (
    BandInfo,
    get_source,
    ingest,
    load,
    publish,
    save_items,
    search,
)
from geosurvey.catalogs._load import plan_load
from geosurvey.errors import AssetError, CatalogError, CatalogUnreachableError

from conftest import require_shared
from stac_api import free_port

pytestmark = [pytest.mark.stac_api, pytest.mark.slow]

GTK_FILES = {
    "mag_tmi_dgrf65_anomaly_nT": BandInfo("mag_tmi", units="nT", description="Magnetic anomaly"),
    "rad_K_pct": BandInfo("k", units="%"),
    "rad_eTh_ppm": BandInfo("eth", units="ppm"),
    "rad_eU_ppm": BandInfo("eu", units="ppm"),
}
# Wavelength ranges (micrometres) of the eo extension's common names: an independent check that a
# band map names each source band for what it measures.
COMMON_RANGES = {
    "coastal": (0.40, 0.45), "blue": (0.45, 0.53), "green": (0.51, 0.60), "red": (0.60, 0.70),
    "rededge1": (0.69, 0.72), "rededge2": (0.72, 0.75), "rededge3": (0.76, 0.80),
    "nir": (0.75, 1.00), "nir08": (0.85, 0.90), "nir09": (0.93, 0.97), "swir16": (1.55, 1.75),
    "swir22": (2.08, 2.35), "lwir11": (10.5, 11.5),
}


def _no_compute(dsk, keys, **kwargs):
    raise AssertionError("something was computed eagerly")


def _docs(stac_api, api: str, collection: str) -> list[dict]:
    return [d for (c, _), d in stac_api.documents[api]["items"].items() if c == collection]


def _when(doc: dict) -> dt.datetime:
    return pystac.utils.str_to_datetime(doc["properties"]["datetime"])


# ---------------------------------------------------------------------------------------------
# search features against the Planetary Computer and Earth Search mirrors
# ---------------------------------------------------------------------------------------------


def test_bbox_and_datetime(stac_api):
    url = stac_api.urls["planetary-computer"]
    docs = _docs(stac_api, "planetary-computer", "sentinel-2-l2a")
    first = shapely.geometry.shape(docs[0]["geometry"])
    box = shapely.box(*first.centroid.buffer(0.05).bounds)
    expected = {d["id"] for d in docs if shapely.geometry.shape(d["geometry"]).intersects(box)}
    found = search(url, collections="sentinel-2-l2a", bbox=box.bounds)
    assert {i.id for i in found} == expected and expected
    everything = list(stac_api.documents["planetary-computer"]["items"].values())
    lo, hi = dt.datetime(2015, 1, 1, tzinfo=dt.UTC), dt.datetime(2020, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    expected = {d["id"] for d in everything if lo <= _when(d) <= hi}
    found = search(url, datetime="2015-01-01/2020-12-31")
    assert {i.id for i in found} == expected
    assert 0 < len(expected) < len(everything)
    expected = {d["id"] for d in everything if _when(d) >= lo}
    assert {i.id for i in search(url, datetime=("2015-01-01", None))} == expected


def test_bbox_across_the_antimeridian(stac_api):
    """West > east means the box crosses 180° (STAC): the API and a static catalogue agree."""
    url = stac_api.urls["planetary-computer"]
    docs = _docs(stac_api, "planetary-computer", "sentinel-2-l2a")
    w, _, e, _ = shapely.geometry.shape(docs[0]["geometry"]).bounds
    world_but_the_item = (e + 1, -90, w - 1, 90)  # from e+1 east across 180° to w-1
    expected = {d["id"] for d in docs
                if shapely.geometry.shape(d["geometry"]).intersects(
                    shapely.MultiPolygon([shapely.box(e + 1, -90, 180, 90), shapely.box(-180, -90, w - 1, 90)]))}
    found = {i.id for i in search(url, collections="sentinel-2-l2a", bbox=world_but_the_item)}
    assert found == expected and docs[0]["id"] not in found
    everything_across = (w - 1, -90, w - 2, 90)  # all longitudes but a 1° band west of the item
    assert docs[0]["id"] in {i.id for i in search(url, collections="sentinel-2-l2a", bbox=everything_across)}


def test_intersects_area(stac_api):
    url = stac_api.urls["planetary-computer"]
    docs = _docs(stac_api, "planetary-computer", "naip")
    shapes = [shapely.geometry.shape(d["geometry"]) for d in docs]
    area = shapely.Point(shapes[0].centroid.x, shapes[0].centroid.y).buffer(0.02)
    expected = {d["id"] for d, s in zip(docs, shapes, strict=True) if s.intersects(area)}
    assert {i.id for i in search(url, collections=["naip"], area=area)} == expected
    assert 0 < len(expected) < len(docs)


def test_cql2_filters_and_cloud_cover(stac_api):
    url = stac_api.urls["planetary-computer"]
    docs = _docs(stac_api, "planetary-computer", "sentinel-2-l2a")
    cover = sorted(d["properties"]["eo:cloud_cover"] for d in docs)
    limit = cover[len(cover) // 2]
    expected = {d["id"] for d in docs if d["properties"]["eo:cloud_cover"] < limit}
    text = search(url, collections=["sentinel-2-l2a"], filter=f'"eo:cloud_cover" < {limit}')
    assert {i.id for i in text} == expected
    js = search(
        url, collections=["sentinel-2-l2a"],
        filter={"op": "<", "args": [{"property": "eo:cloud_cover"}, limit]},
    )
    assert {i.id for i in js} == expected
    at_most = {d["id"] for d in docs if d["properties"]["eo:cloud_cover"] <= limit}
    assert {i.id for i in search(url, collections=["sentinel-2-l2a"], cloud_cover=limit)} == at_most
    assert 0 < len(expected) < len(docs)


def test_paging_and_sorting(stac_api):
    url = stac_api.urls["planetary-computer"]
    docs = _docs(stac_api, "planetary-computer", "sentinel-2-l2a")
    found = search(url, collections=["sentinel-2-l2a"], sortby=["-properties.datetime", "+id"], limit=5, max_items=12)
    ordered = sorted(docs, key=lambda d: d["id"])
    ordered = sorted(ordered, key=_when, reverse=True)
    assert [i.id for i in found] == [d["id"] for d in ordered[:12]]
    everything = search(url, collections=["sentinel-2-l2a"], limit=7)
    assert len(everything) == len(docs) > 7  # several pages were followed


def test_search_with_a_definition_defaults_to_its_collections(stac_api):
    local = dataclasses.replace(get_source("earth-search"), href=stac_api.urls["earth-search"])
    found = search(local)
    wanted = set(local.collections)
    expected = {d["id"] for (c, _), d in stac_api.documents["earth-search"]["items"].items() if c in wanted}
    assert {i.id for i in found} == expected
    assert {i.collection_id for i in found} <= wanted  # Sentinel-1 and L1C are not asked for


def test_results_saved_as_itemcollection_and_geoparquet(stac_api, tmp_path):
    import geopandas as gpd

    found = search(stac_api.urls["planetary-computer"], collections=["aster-l1t"])
    path = save_items(found, tmp_path / "aster.json", geoparquet=tmp_path / "aster.parquet")
    back = pystac.ItemCollection.from_file(str(path))
    assert [i.id for i in back] == [i.id for i in found]
    table = gpd.read_parquet(tmp_path / "aster.parquet")
    assert list(table["id"]) == [i.id for i in found]
    assert table.crs.to_epsg() == 4326
    assert table.geometry.iloc[0].equals_exact(shapely.geometry.shape(found[0].geometry), 1e-9)


# ---------------------------------------------------------------------------------------------
# band maps on the real Earth Search / Planetary Computer / ASTER items
# ---------------------------------------------------------------------------------------------


def _eo_wavelength(item: pystac.Item, key: str) -> float | None:
    asset, _, index = key.partition(".")
    bands = item.assets[asset].extra_fields.get("eo:bands") or []
    i = int(index) - 1 if index else 0
    return bands[i].get("center_wavelength") if i < len(bands) else None


@pytest.mark.parametrize(
    ("api", "collection", "scale", "offset"),
    [
        ("earth-search", "sentinel-2-l2a", 0.0001, -0.1),
        ("earth-search", "landsat-c2-l2", 2.75e-05, -0.2),
        ("planetary-computer", "sentinel-2-l2a", 0.0001, 0.0),
    ],
)
def test_band_maps_resolve_common_names(stac_api, api, collection, scale, offset):
    definition = dataclasses.replace(get_source(api), href=stac_api.urls[api], signing="none")
    items = list(search(definition, collections=[collection], max_items=3))
    assert items
    plan = plan_load(items, source=definition)
    for group in plan.groups:
        by_name = {b.name: b for b in group.bands}
        for name in ("blue", "green", "red", "swir16", "swir22"):
            band = by_name[name]
            low, high = COMMON_RANGES[name]
            wavelength = _eo_wavelength(group.items[0], band.key)
            assert wavelength is not None and low <= wavelength <= high, (name, band.key, wavelength)
            assert band.scale == pytest.approx(scale) and band.offset == pytest.approx(offset)
        if api == "planetary-computer":
            # PC's own metadata calls B8A "rededge"; its wavelength says nir08, as the map does
            assert by_name["nir08"].key == "B8A"
            assert COMMON_RANGES["nir08"][0] <= _eo_wavelength(group.items[0], "B8A") <= COMMON_RANGES["nir08"][1]
            assert group.stac_cfg()["sentinel-2-l2a"]["assets"]["B02"] == {"nodata": 0}
    assert plan.mask is not None and plan.mask.band in {"scl", "qa_pixel"}


def test_aster_band_map(stac_api):
    definition = dataclasses.replace(
        get_source("planetary-computer"), href=stac_api.urls["planetary-computer"], signing="none"
    )
    items = list(search(definition, collections=["aster-l1t"], max_items=4))
    plan = plan_load(items, source=definition)
    band_keys = {b.name: b.key for g in plan.groups for b in g.bands}
    for name, key in band_keys.items():
        number = int(name.removeprefix("vnir").removeprefix("swir").removeprefix("tir"))
        asset, _, index = key.partition(".")
        eo_name = items[0].assets[asset].extra_fields["eo:bands"][int(index) - 1]["name"]
        # the real metadata names the bands VNIR_Band1..3N, SWIR_Band4..9, TIR_Band10..14
        assert eo_name.startswith(f"{asset}_Band{number}"), (name, key, eo_name)
    assert len(band_keys) == 14


def test_lazy_load_of_real_items_touches_no_asset(stac_api):
    """Building the datacube of real (remote) items reads no pixel and opens no URL."""
    definition = dataclasses.replace(get_source("earth-search"), href=stac_api.urls["earth-search"])
    items = list(search(definition, collections=["sentinel-2-l2a"], max_items=2))
    epsg = int(items[0].properties["proj:code"].removeprefix("EPSG:"))  # pystac migrates proj:epsg
    centre = shapely.geometry.shape(items[0].geometry).centroid
    from pyproj import Transformer

    x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(centre.x, centre.y)
    grid = GeoBox.from_bbox((x - 3000, y - 3000, x + 3000, y + 3000), crs=f"EPSG:{epsg}", resolution=60)
    with dask.config.set(scheduler=_no_compute):
        ds = load(items, geobox=grid, bands=["red", "nir"], source=definition, check_assets="none")
    assert ds.odc.geobox == grid
    assert ds["red"].dims == ("time", "y", "x") and ds["red"].attrs["units"] == "1"
    assert "masked where scl" in ds["red"].attrs["history"]


# ---------------------------------------------------------------------------------------------
# ingest the GTK grids, publish through Transactions, search, load, compare pixels
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gtk_catalog(tmp_path_factory):
    grids = require_shared("gtk_lapland_iocg", "grids_100m")
    src = tmp_path_factory.mktemp("gtk_src")
    for stem in GTK_FILES:
        os.symlink(grids / f"{stem}.tif", src / f"{stem}.tif")
    out = tmp_path_factory.mktemp("gtk") / "catalog"
    path = ingest(
        src, out, collection="gtk-lapland-grids", datetime=dt.datetime(2010, 1, 1, tzinfo=dt.UTC),
        bands=GTK_FILES, license="CC-BY-4.0",
    )
    return path, grids


def test_publish_then_search_and_load_equals_source(stac_api, gtk_catalog):
    path, grids = gtk_catalog
    url = stac_api.urls["partner"]
    counts = publish(path, url)
    assert counts == {"collections": 1, "items": 1}
    assert publish(path, url) == counts  # again: upserted, not refused
    with rasterio.open(grids / "rad_K_pct.tif") as src:
        grid = GeoBox(src.shape, src.transform, src.crs)
        expected_k = src.read(1)
    area = grid.extent.to_crs("EPSG:4326").geom.buffer(-0.05)
    found = search(url, area=area, collections=["gtk-lapland-grids"])
    assert [i.id for i in found] == ["gtk-lapland-grids"]
    with dask.config.set(scheduler=_no_compute):
        ds = load(found, geobox=grid, resampling="nearest", composite="median")
    assert ds["k"].attrs["units"] == "%" and ds["mag_tmi"].attrs["units"] == "nT"
    got = ds.compute()
    np.testing.assert_array_equal(got["k"].values, expected_k)
    with rasterio.open(grids / "mag_tmi_dgrf65_anomaly_nT.tif") as src:
        np.testing.assert_array_equal(got["mag_tmi"].values, src.read(1))
    # the published asset is the local COG, absolute
    href = found[0].assets["k"].href
    assert href.startswith("file:///") and href.endswith("/k.tif") and ".partial" not in href


def test_missing_asset_is_named(stac_api, gtk_catalog, tmp_path):
    path, _ = gtk_catalog
    publish(path, stac_api.urls["partner"])
    item = search(stac_api.urls["partner"], collections=["gtk-lapland-grids"])[0]
    item.assets["eu"].href = (tmp_path / "gone" / "eu.tif").as_uri()
    grid = GeoBox.from_bbox((350_000, 7_460_000, 360_000, 7_470_000), crs="EPSG:3067", resolution=500)
    with pytest.raises(AssetError, match=r"'gtk-lapland-grids'.*'eu'.*gone/eu\.tif"):
        load([item], geobox=grid)


def test_publish_refusals(stac_api, gtk_catalog):
    path, _ = gtk_catalog
    with pytest.raises(CatalogUnreachableError, match=r"127\.0\.0\.1"):
        publish(path, f"http://127.0.0.1:{free_port()}", retries=0)
    with pytest.raises(CatalogError, match=r"no-such-prefix/ answered HTTP 404; give the root URL of a STAC API"):
        publish(path, stac_api.urls["partner"] + "/no-such-prefix", retries=0)
    # the mirrors' landing pages declare Transactions (ENABLE_TRANSACTIONS_EXTENSIONS=true)
    import requests

    landing = requests.get(stac_api.urls["partner"] + "/", timeout=10).json()
    assert any("/extensions/transaction" in c for c in landing["conformsTo"])


# ---------------------------------------------------------------------------------------------
# failures of the server itself
# ---------------------------------------------------------------------------------------------


def test_nothing_listening(stac_api):
    dead = f"http://127.0.0.1:{free_port()}"
    quick = dataclasses.replace(get_source("earth-search"), href=dead, retries=1)
    with pytest.raises(CatalogUnreachableError, match=r"127\.0\.0\.1.*cannot be reached"):
        search(quick)
    with pytest.raises(ConnectionError):  # the builtin a caller may catch
        search(quick)


def test_server_stopped_during_a_search(stac_api):
    url, proc = stac_api.start_app("planetary_computer", name="doomed")
    requests_seen = []

    def stop_after_first_page(request):
        requests_seen.append(request.url)
        if "/search" in request.url and sum("/search" in u for u in requests_seen) == 2:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        return request

    client = pystac_client.Client.open(url, request_modifier=stop_after_first_page)
    try:
        with pytest.raises(CatalogUnreachableError, match=r"stopped answering after 5 items"):
            search(client, collections=["sentinel-2-l2a"], limit=5)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.poll() is not None


def test_documents_are_the_real_ones(stac_api):
    """The mirrors hold what the recordings hold (guards the fixture itself)."""
    n_es = len(stac_api.documents["earth-search"]["items"])
    body = json.loads(
        __import__("requests").post(stac_api.urls["earth-search"] + "/search", json={"limit": 1}, timeout=10).text
    )
    assert body["numberMatched"] == n_es


def test_cli_publish_and_search(stac_api, gtk_catalog, capsys):
    from geosurvey.cli import main

    path, _ = gtk_catalog
    url = stac_api.urls["partner"]
    assert main(["catalog", "publish", str(path), "--api", url]) == 0
    assert "published 1 collections, 1 items" in capsys.readouterr().out
    assert main(["catalog", "search", url, "-c", "gtk-lapland-grids", "--bbox", "24.0,67.0,25.5,67.8"]) == 0
    assert "gtk-lapland-grids  gtk-lapland-grids" in capsys.readouterr().out
    assert main(["catalog", "search", url, "-c", "gtk-lapland-grids", "--bbox", "10,10,11,11"]) == 0
    assert "0 items" in capsys.readouterr().err


@pytest.mark.notebook
def test_notebook_against_the_api(stac_api, gtk_catalog, monkeypatch):
    from test_catalog import NOTEBOOK, run_notebook

    from conftest import SHARED_DATA

    path, _ = gtk_catalog
    publish(path, stac_api.urls["partner"])
    monkeypatch.setenv("GEOSURVEY_STAC_API", stac_api.urls["partner"])
    monkeypatch.setenv("GEOSURVEY_SHARED_DATA", str(SHARED_DATA))
    outputs = run_notebook(NOTEBOOK)
    text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    assert f"searching {stac_api.urls['partner']}" in text
    assert "1 items: ['gtk-lapland-grids']" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)


def test_retries_with_backoff_on_503(stac_api):
    """A real HTTP server on 127.0.0.1 that answers 503 to the first two searches, then forwards
    to the STAC API: the search succeeds, after exactly those retries."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import requests

    upstream = stac_api.urls["planetary-computer"]
    seen: list[int] = []

    class Flaky(BaseHTTPRequestHandler):
        def _forward(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
            if self.path.startswith("/search") and len([s for s in seen if s == 503]) < 2:
                seen.append(503)
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            answer = requests.request(method, upstream + self.path, data=body, timeout=30,
                                      headers={"Content-Type": "application/json"})
            text = answer.content.replace(upstream.encode(), f"http://127.0.0.1:{self.server.server_port}".encode())
            seen.append(answer.status_code)
            self.send_response(answer.status_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

        def do_GET(self) -> None:
            self._forward("GET")

        def do_POST(self) -> None:
            self._forward("POST")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        flaky = dataclasses.replace(get_source("planetary-computer"), href=f"http://127.0.0.1:{server.server_port}",
                                    signing="none", retries=3)
        found = search(flaky, collections=["aster-l1t"])
        assert len(found) == len(_docs(stac_api, "planetary-computer", "aster-l1t"))
        assert seen.count(503) == 2
    finally:
        server.shutdown()
        server.server_close()
