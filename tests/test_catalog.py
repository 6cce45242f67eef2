"""geosurvey.catalogs on small synthetic COGs: items, static catalogues, search, load.

Every expected number is computed independently here (NumPy on the arrays written, rasterio on
the files), never taken from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import dask
import numpy as np
import pystac
import pytest
import rasterio
import shapely
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_zeros

from geosurvey.catalogs import (
    BandInfo,
    create_item,
    load,
    raster_statistics,
    search,
    validate_stac,
    write_catalog,
)
from geosurvey.errors import (
    AssetError,
    BandError,
    CatalogError,
    InputError,
    MissingInputError,
    OutputError,
)
from geosurvey.io import write_cog

WAVELENGTHS = {"blue": 0.49, "green": 0.56, "red": 0.665, "nir": 0.842, "swir16": 1.61, "swir22": 2.19}
T0 = dt.datetime(2024, 7, 1, 10, 30, tzinfo=dt.UTC)
GRID = GeoBox.from_bbox((400_000, 7_500_000, 406_400, 7_505_120), crs="EPSG:32635", resolution=80)


def _no_compute(dsk, keys, **kwargs):  # a Dask scheduler that refuses to run anything
    raise AssertionError("something was computed eagerly")


def _write(path: Path, data: np.ndarray, *, units: str, gbox: GeoBox = GRID, nodata=np.nan) -> Path:
    da = xr_zeros(gbox, dtype=data.dtype).copy(data=data)
    da.attrs["units"] = units
    write_cog(da.rename(path.stem), path, nodata=nodata)
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The lead's demo path: 3 items (multispectral, magnetic, radiometric), one datetime."""
    root = tmp_path_factory.mktemp("demo")
    rng = np.random.default_rng(42)
    arrays: dict[str, np.ndarray] = {}
    for name in [*WAVELENGTHS, "mag_tmi", "k", "eth", "eu"]:
        a = rng.normal(100.0, 10.0, size=GRID.shape).astype("float32")
        a[:3, :5] = np.nan  # a nodata corner
        arrays[name] = a
    units = {**dict.fromkeys(WAVELENGTHS, "1"), "mag_tmi": "nT", "k": "%", "eth": "ppm", "eu": "ppm"}
    paths = {k: _write(root / f"{k}.tif", a, units=units[k]) for k, a in arrays.items()}
    ms = create_item(
        {k: paths[k] for k in WAVELENGTHS},
        item_id="scene",
        datetime=T0,
        bands={k: BandInfo(k, units="1", center_wavelength=w, full_width_half_max=0.05) for k, w in WAVELENGTHS.items()},
        collection="demo-multispectral",
    )
    mag = create_item(
        {"mag_tmi": paths["mag_tmi"]},
        item_id="magnetic",
        datetime=T0,
        bands={"mag_tmi": BandInfo("mag_tmi", description="Total magnetic intensity anomaly", units="nT")},
        collection="demo-magnetic",
    )
    rad = create_item(
        {k: paths[k] for k in ("k", "eth", "eu")},
        item_id="radiometric",
        datetime=T0,
        bands={"k": BandInfo("k", units="%"), "eth": BandInfo("eth", units="ppm"), "eu": BandInfo("eu", units="ppm")},
        collection="demo-radiometric",
    )
    catalog = write_catalog([ms, mag, rad], root / "stac", catalog_id="demo", description="demo catalogue")
    return {"root": root, "arrays": arrays, "paths": paths, "items": [ms, mag, rad], "catalog": catalog}


# ---------------------------------------------------------------------------------------------
# create_item
# ---------------------------------------------------------------------------------------------


def test_create_item_reads_projection_and_raster_metadata(demo):
    ms = demo["items"][0]
    d = ms.to_dict()
    props = d["properties"]
    assert props["proj:code"] == "EPSG:32635"
    assert props["proj:shape"] == [GRID.shape[0], GRID.shape[1]]
    assert props["proj:transform"] == pytest.approx(list(GRID.transform)[:6])
    # geometry in EPSG:4326 contains the grid's centre transformed independently with pyproj
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(32635, 4326, always_xy=True).transform(403_200, 7_502_560)
    assert shapely.geometry.shape(d["geometry"]).contains(shapely.Point(lon, lat))
    w, s, e, n = d["bbox"]
    assert w < lon < e and s < lat < n
    swir = d["assets"]["swir16"]
    assert swir["eo:bands"][0]["common_name"] == "swir16"
    assert swir["eo:bands"][0]["center_wavelength"] == pytest.approx(1.61)
    rb = swir["raster:bands"][0]
    assert rb["data_type"] == "float32"
    assert rb["nodata"] == "nan"
    assert rb["unit"] == "1"
    a = demo["arrays"]["swir16"]
    valid = a[np.isfinite(a)]
    assert rb["statistics"]["mean"] == pytest.approx(float(valid.mean()), rel=1e-6)
    assert rb["statistics"]["stddev"] == pytest.approx(float(valid.std()), rel=1e-5)
    assert rb["statistics"]["minimum"] == pytest.approx(float(valid.min()))
    assert rb["statistics"]["maximum"] == pytest.approx(float(valid.max()))
    assert rb["statistics"]["valid_percent"] == pytest.approx(100 * valid.size / a.size)


def test_geophysics_items_have_no_eo_extension(demo):
    mag = demo["items"][1].to_dict()
    assert not any("/eo/" in e for e in mag["stac_extensions"])
    assert mag["assets"]["mag_tmi"]["raster:bands"][0]["unit"] == "nT"
    assert mag["assets"]["mag_tmi"]["title"] == "Total magnetic intensity anomaly"


def test_statistics_are_blockwise_exact(tmp_path):
    big = GeoBox.from_bbox((0, 0, 600 * 30, 520 * 30), crs="EPSG:32633", resolution=30)
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(big.shape) * 1e3 + 5e4).astype("float32")
    a[rng.random(big.shape) < 0.2] = np.nan
    path = _write(tmp_path / "big.tif", a, units="nT", gbox=big)
    stats = raster_statistics(path)
    valid = a[np.isfinite(a)].astype("float64")
    assert stats["mean"] == pytest.approx(valid.mean(), rel=1e-12)
    assert stats["stddev"] == pytest.approx(valid.std(), rel=1e-9)
    assert stats["valid_percent"] == pytest.approx(100 * valid.size / a.size)


def test_assets_on_different_grids_get_asset_level_projection(tmp_path):
    coarse = GeoBox.from_bbox(GRID.extent.boundingbox, crs=GRID.crs, resolution=160)
    p1 = _write(tmp_path / "a.tif", np.ones(GRID.shape, "float32"), units="1")
    p2 = _write(tmp_path / "b.tif", np.ones(coarse.shape, "float32"), units="1", gbox=coarse)
    d = create_item({"a": p1, "b": p2}, item_id="x", datetime=T0).to_dict()
    assert "proj:shape" not in d["properties"]
    assert d["assets"]["a"]["proj:shape"] == list(GRID.shape)
    assert d["assets"]["b"]["proj:shape"] == list(coarse.shape)
    validate_stac(d)


def test_create_item_errors(tmp_path):
    with pytest.raises(MissingInputError, match=r"nope\.tif"):
        create_item({"k": tmp_path / "nope.tif"}, item_id="x", datetime=T0)
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff at all")
    with pytest.raises(AssetError, match=r"bad\.tif"):
        create_item({"k": bad}, item_id="x", datetime=T0)
    with pytest.raises(InputError, match="no assets"):
        create_item({}, item_id="x", datetime=T0)
    with pytest.raises(InputError, match="letters, digits"):
        BandInfo("Mag TMI")


# ---------------------------------------------------------------------------------------------
# write_catalog and validation
# ---------------------------------------------------------------------------------------------


def test_write_catalog_is_self_contained_and_valid(demo):
    root = demo["catalog"].parent
    cat = pystac.Catalog.from_file(str(demo["catalog"]))
    assert cat.catalog_type == pystac.CatalogType.SELF_CONTAINED
    assert {c.id for c in cat.get_children()} == {"demo-multispectral", "demo-magnetic", "demo-radiometric"}
    for item_path in root.rglob("*.json"):
        doc = json.loads(item_path.read_text())
        for link in doc.get("links", []):
            assert "://" not in link["href"] and not link["href"].startswith("/"), link
        for asset in doc.get("assets", {}).values():
            assert not asset["href"].startswith("/"), asset["href"]
            assert (item_path.parent / asset["href"]).is_file()
    # the source COGs sat outside the catalogue folder: they were linked (or copied) in
    assert (root / "demo-magnetic" / "magnetic" / "mag_tmi.tif").is_file()
    coll = pystac.Collection.from_file(str(root / "demo-radiometric" / "collection.json"))
    assert coll.extent.temporal.intervals[0][0] == T0
    ids = validate_stac(cat)
    assert {"demo", "scene", "magnetic", "radiometric"} <= set(ids)


def test_write_catalog_links_assets_on_the_same_file_system_and_copies_across(tmp_path, demo):
    """An asset outside the catalogue folder is copied by default; with ``link`` it is a hard
    link when both are on one file system (one file on disk), a copy on another (tmpfs
    /dev/shm, a real second file system here)."""
    item = demo["items"][1]
    src = Path(item.assets["mag_tmi"].get_absolute_href())
    out = write_catalog([item], tmp_path / "copy", catalog_id="c", description="d")
    assert next(out.parent.rglob("mag_tmi.tif")).stat().st_ino != src.stat().st_ino  # default
    out = write_catalog([item], tmp_path / "linked", catalog_id="c", description="d", link=True)
    linked = next(out.parent.rglob("mag_tmi.tif"))
    assert linked.stat().st_ino == src.stat().st_ino and src.stat().st_nlink >= 2
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second file system (/dev/shm) to copy across to")
    with tempfile.TemporaryDirectory(dir=shm) as other:
        out = write_catalog([item], Path(other) / "copied", catalog_id="c", description="d",
                            link=True)
        copied = next(out.parent.rglob("mag_tmi.tif"))
        assert copied.stat().st_ino != src.stat().st_ino
        assert copied.read_bytes() == src.read_bytes()


def _saved_item(demo, item_id: str) -> dict:
    cat = pystac.Catalog.from_file(str(demo["catalog"]))
    return next(i for i in cat.get_items(recursive=True) if i.id == item_id).to_dict()


def test_validation_catches_bad_extension_fields(demo):
    validate_stac(_saved_item(demo, "scene"))  # the saved item is valid as it is
    d = _saved_item(demo, "scene")
    d["assets"]["blue"]["raster:bands"][0]["data_type"] = "float33"
    with pytest.raises(CatalogError, match=r"(?s)'scene'.*raster/v1.1.0.*float33"):
        validate_stac(d)
    d = _saved_item(demo, "scene")
    d["properties"]["proj:shape"] = [10]
    with pytest.raises(CatalogError, match=r"(?s)'scene'.*projection/v2.0.0"):
        validate_stac(d)
    d = _saved_item(demo, "scene")
    d["assets"]["red"]["eo:bands"][0]["common_name"] = "infrared-ish"
    with pytest.raises(CatalogError, match=r"(?s)eo/v1.1.0.*infrared-ish"):
        validate_stac(d)
    d = _saved_item(demo, "scene")
    d["stac_extensions"].append("https://stac-extensions.github.io/sat/v1.0.0/schema.json")
    with pytest.raises(CatalogError, match=r"no offline JSON Schema.*sat/v1\.0\.0"):
        validate_stac(d)


def test_write_catalog_refuses_invalid_and_leaves_nothing(tmp_path, demo):
    bad = demo["items"][1].clone()
    bad.assets["mag_tmi"].extra_fields["raster:bands"][0]["nodata"] = "missing"
    out = tmp_path / "cat"
    with pytest.raises(CatalogError, match=r"(?s)'magnetic'.*raster/v1.1.0.*missing"):
        write_catalog([bad], out, catalog_id="c", description="d")
    assert not out.exists()
    assert not list(tmp_path.glob(".cat*"))
    write_catalog([demo["items"][1]], out, catalog_id="c", description="d")
    with pytest.raises(OutputError, match="exists"):
        write_catalog([demo["items"][1]], out, catalog_id="c", description="d")
    with pytest.raises(InputError, match="duplicate"):
        write_catalog([demo["items"][1]] * 2, tmp_path / "dup", catalog_id="c", description="d")


# ---------------------------------------------------------------------------------------------
# search on a static catalogue
# ---------------------------------------------------------------------------------------------


def _area_of(gbox: GeoBox) -> shapely.Geometry:
    return gbox.extent.to_crs("EPSG:4326").geom


def test_search_static_by_area_bbox_datetime_and_filter(demo):
    cat = demo["catalog"]
    found = search(cat, area=_area_of(GRID))
    assert sorted(i.id for i in found) == ["magnetic", "radiometric", "scene"]
    far = shapely.box(10, 10, 11, 11)
    assert len(search(cat, area=far)) == 0
    assert len(search(cat, bbox=far.bounds)) == 0
    assert [i.id for i in search(cat, collections=["demo-magnetic"])] == ["magnetic"]
    assert len(search(cat, datetime="2024-07-01")) == 3
    assert len(search(cat, datetime="2023-01-01/2023-12-31")) == 0
    assert len(search(cat, datetime=("2024-06-30", None))) == 3
    assert [i.id for i in search(cat, filter="collection = 'demo-radiometric'")] == ["radiometric"]
    assert [i.id for i in search(cat, ids=["scene"])] == ["scene"]
    assert [i.id for i in search(cat, sortby="-id")] == ["scene", "radiometric", "magnetic"]
    assert len(search(cat, max_items=2)) == 2


def test_search_by_definition_name_reads_env(demo, monkeypatch):
    monkeypatch.delenv("GEOSURVEY_DEMO_CATALOG", raising=False)
    with pytest.raises(InputError, match="GEOSURVEY_DEMO_CATALOG"):
        search("demo")
    monkeypatch.setenv("GEOSURVEY_DEMO_CATALOG", str(demo["catalog"]))
    assert len(search("demo", area=_area_of(GRID))) == 3
    with pytest.raises(InputError, match="no catalogue definition"):
        search("no-such-source")


def test_search_static_errors(tmp_path):
    with pytest.raises(MissingInputError, match=r"catalog\.json"):
        search(tmp_path / "catalog.json")
    with pytest.raises(InputError, match="SurveyArea"):
        search(tmp_path, area=42)


# ---------------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------------


def test_demo_path_search_then_median_load(demo):
    found = search(demo["catalog"], area=_area_of(GRID))
    with dask.config.set(scheduler=_no_compute):
        ds = load(found, geobox=GRID, composite="median")
    names = [*WAVELENGTHS, "mag_tmi", "k", "eth", "eu"]
    assert sorted(ds.data_vars) == sorted(names)
    assert ds.odc.geobox == GRID
    for name in names:
        da = ds[name]
        assert da.dims == ("y", "x")
        assert da.dtype == np.float32
        assert isinstance(da.data, dask.array.Array)
        assert "history" in da.attrs and da.attrs["long_name"]
    assert ds["mag_tmi"].attrs["units"] == "nT"
    assert ds["eth"].attrs["units"] == "ppm"
    values = ds.compute()
    for name in names:
        np.testing.assert_array_equal(values[name].values, demo["arrays"][name])  # NaN == NaN here


def test_load_time_series_is_lazy_and_chunking_does_not_change_values(demo):
    found = search(demo["catalog"], collections=["demo-magnetic", "demo-radiometric"])
    with dask.config.set(scheduler=_no_compute):
        ds = load(found, geobox=GRID, chunks={"x": 32, "y": 16})
    assert ds["k"].dims == ("time", "y", "x")
    assert ds["k"].data.chunksize == (1, 16, 32)
    whole = load(found, geobox=GRID, chunks={"x": 4096, "y": 4096}).compute()
    xr.testing.assert_equal(ds.compute(), whole)


def test_load_reprojects_to_another_utm_zone(demo):
    """Items in zone 35N loaded on a zone 34N grid: compare with rasterio's own reprojection."""
    from rasterio.warp import Resampling, reproject

    target = GeoBox.from_bbox(GRID.extent.to_crs("EPSG:32634").boundingbox, crs="EPSG:32634", resolution=80)
    found = search(demo["catalog"], collections=["demo-magnetic"])
    got = load(found, geobox=target, resampling="nearest", composite="median")["mag_tmi"].values
    expected = np.full(target.shape, np.nan, dtype="float32")
    with rasterio.open(demo["paths"]["mag_tmi"]) as src:
        reproject(
            rasterio.band(src, 1), expected, dst_transform=target.transform, dst_crs=target.crs.to_wkt(),
            dst_nodata=np.nan, resampling=Resampling.nearest,
        )
    both = np.isfinite(got) & np.isfinite(expected)
    assert both.sum() > 0.8 * np.isfinite(expected).sum()
    assert np.mean(got[both] == expected[both]) > 0.98  # nearest picks can differ on pixel edges


def test_load_errors_name_item_and_asset(demo, tmp_path):
    found = search(demo["catalog"])
    with pytest.raises(BandError, match="gravity"):
        load(found, geobox=GRID, bands=["gravity"])
    with pytest.raises(InputError, match="no items"):
        load([], geobox=GRID)
    noproj = demo["items"][1].clone()
    for key in [k for k in noproj.properties if k.startswith("proj:")]:
        del noproj.properties[key]
    with pytest.raises(AssetError, match=r"'magnetic'.*'mag_tmi'.*projection"):
        load([noproj], geobox=GRID)
    gone = demo["items"][1].clone()
    gone.assets["mag_tmi"].href = str(tmp_path / "vanished.tif")
    with pytest.raises(AssetError, match=r"'magnetic'.*'mag_tmi'.*vanished.tif"):
        load([gone], geobox=GRID)
    corrupt = demo["items"][1].clone()
    broken = tmp_path / "broken.tif"
    broken.write_bytes(Path(demo["paths"]["mag_tmi"]).read_bytes()[:200])
    corrupt.assets["mag_tmi"].href = str(broken)
    with pytest.raises(AssetError, match=r"broken.tif"):
        load([corrupt], geobox=GRID)


# ---------------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------------


def test_cli_list_show_search_validate(demo, tmp_path, capsys):
    from geosurvey.cli import main

    assert main(["catalog", "list"]) == 0
    listed = capsys.readouterr().out
    assert "earth-search" in listed and "planetary-computer" in listed and "partner-geophysics" in listed
    assert main(["catalog", "show", "planetary-computer"]) == 0
    assert "B8A→nir08" in capsys.readouterr().out
    out = tmp_path / "found.json"
    code = main(["catalog", "search", str(demo["catalog"]), "-c", "demo-radiometric",
                 "--out", str(out), "--geoparquet", str(tmp_path / "found.parquet")])
    assert code == 0
    assert "radiometric" in capsys.readouterr().out
    assert [f["id"] for f in json.loads(out.read_text())["features"]] == ["radiometric"]
    import geopandas as gpd

    assert list(gpd.read_parquet(tmp_path / "found.parquet")["id"]) == ["radiometric"]
    assert main(["catalog", "validate", str(demo["catalog"])]) == 0
    assert "valid: 7 STAC objects" in capsys.readouterr().out  # catalogue, 3 collections, 3 items


def test_cli_ingest_and_refusals(tmp_path, capsys):
    from geosurvey.cli import main

    grids = tmp_path / "grids"
    grids.mkdir()
    a = np.arange(GRID.shape[0] * GRID.shape[1], dtype="float32").reshape(GRID.shape)
    _write(grids / "rad_K_pct.tif", a, units="%")
    out = tmp_path / "cat"
    code = main(["catalog", "ingest", str(grids), str(out), "--collection", "partner",
                 "--datetime", "2010-06-01", "--definition", "partner-geophysics", "--license", "CC-BY-4.0"])
    assert code == 0, capsys.readouterr().err
    cat = pystac.Catalog.from_file(str(out / "catalog.json"))
    item = next(cat.get_items(recursive=True))
    assert list(item.assets) == ["k"]  # named by the definition's [ingest.bands]
    assert item.assets["k"].extra_fields["raster:bands"][0]["unit"] == "%"
    cog = item.assets["k"].get_absolute_href()
    with rasterio.open(cog) as src:
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        np.testing.assert_array_equal(src.read(1), a)
    capsys.readouterr()
    assert main(["catalog", "ingest", str(grids), str(out), "--collection", "p", "--datetime", "2010-01-01"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("geosurvey: error:") and "exists" in err and len(err.strip().splitlines()) == 1
    assert main(["catalog", "ingest", str(grids), str(tmp_path / "x"), "--collection", "p", "--datetime", "2010"]) == 1
    assert "ISO 8601" in capsys.readouterr().err
    assert main(["catalog", "search", str(tmp_path), "--bbox", "1,2,3"]) == 1
    assert "W,S,E,N" in capsys.readouterr().err
    assert main(["catalog", "search", "no-such-definition"]) == 1
    assert "known:" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# the notebook, on a static catalogue (tests/test_catalog_api.py runs it against the API)
# ---------------------------------------------------------------------------------------------

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_stac_datacube.ipynb"


def run_notebook(path: Path) -> list[dict]:
    """Execute a notebook in its folder; return its code cells' outputs (raise on any error)."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_on_a_static_catalogue(monkeypatch):
    from conftest import SHARED_DATA, require_shared

    require_shared("gtk_lapland_iocg", "grids_100m")
    monkeypatch.delenv("GEOSURVEY_STAC_API", raising=False)
    monkeypatch.setenv("GEOSURVEY_SHARED_DATA", str(SHARED_DATA))
    outputs = run_notebook(NOTEBOOK)
    text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    assert "gtk-catalog/catalog.json" in text  # it made and searched a static catalogue
    assert "1 items: ['gtk-lapland-grids']" in text
    assert "mag_tmi: mean" in text and " nT" in text and " %" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plot


# ---------------------------------------------------------------------------------------------
# scale/offset, nodata and masks; mixed UTM zones
# ---------------------------------------------------------------------------------------------


def _write_int(path: Path, data: np.ndarray, gbox: GeoBox, *, nodata=None, scale=1.0, offset=0.0) -> Path:
    profile = {
        "driver": "GTiff", "height": gbox.shape[0], "width": gbox.shape[1], "count": 1,
        "dtype": data.dtype.name, "crs": gbox.crs.to_wkt(), "transform": gbox.transform,
        "tiled": True, "blockxsize": 256, "blockysize": 256, "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
        dst.scales, dst.offsets = (scale,), (offset,)
    return path


def test_scale_offset_and_integer_nodata_from_the_raster_extension(tmp_path):
    rng = np.random.default_rng(3)
    dn = rng.integers(1, 10_000, size=GRID.shape, dtype="uint16")
    dn[10:20, 10:30] = 0  # nodata
    path = _write_int(tmp_path / "red.tif", dn, GRID, nodata=0, scale=0.0001, offset=-0.1)
    item = create_item({"red": path}, item_id="dn", datetime=T0, bands={"red": BandInfo("red", units="1")})
    rb = item.assets["red"].extra_fields["raster:bands"][0]
    assert (rb["scale"], rb["offset"], rb["nodata"], rb["data_type"]) == (0.0001, -0.1, 0, "uint16")
    got = load([item], geobox=GRID, resampling="nearest")["red"].isel(time=0).values
    expected = np.where(dn == 0, np.nan, dn.astype("float32") * np.float32(0.0001) + np.float32(-0.1))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-7)
    assert np.isnan(got[10:20, 10:30]).all()


def test_values_mask_from_a_definition(tmp_path):
    from geosurvey.catalogs import CatalogSource, CollectionSpec, MaskRule

    rng = np.random.default_rng(4)
    dn = rng.integers(1, 10_000, size=GRID.shape, dtype="uint16")
    scl = rng.integers(0, 12, size=GRID.shape, dtype="uint8")
    paths = {"B04": _write_int(tmp_path / "B04.tif", dn, GRID), "SCL": _write_int(tmp_path / "SCL.tif", scl, GRID)}
    item = create_item(paths, item_id="s2", datetime=T0, collection="s2")
    source = CatalogSource(
        name="test", kind="static", href=str(tmp_path),
        collections={"s2": CollectionSpec(
            id="s2", bands={"B04": "red", "SCL": "scl"}, scale=0.0001, nodata=0, units="1",
            mask=MaskRule(band="scl", kind="values", exclude=(0, 1, 3, 8, 9, 10)),
        )},
    )
    ds = load([item], geobox=GRID, source=source, resampling="nearest")
    assert list(ds.data_vars) == ["red"]  # the quality band is used, not returned
    expected = np.where(np.isin(scl, [0, 1, 3, 8, 9, 10]), np.nan, dn * np.float32(0.0001)).astype("float32")
    np.testing.assert_allclose(ds["red"].isel(time=0).values, expected, rtol=1e-6)
    assert ds["red"].attrs["units"] == "1"
    unmasked = load([item], geobox=GRID, source=source, resampling="nearest", mask=False)
    assert np.isfinite(unmasked["red"].values).all()


def test_bits_mask_on_real_landsat_quality_flags(tmp_path):
    """Landsat 8 Collection 1 BQA: bit 0 designated fill, bit 4 cloud (real flags)."""
    from geosurvey.catalogs import CatalogSource, CollectionSpec, MaskRule

    folder = require_landsat()
    b4, bqa = folder / "LC08_L1TP_016037_20170813_20170814_01_RT_B4.TIF", folder / "LC08_L1TP_016037_20170813_20170814_01_RT_BQA.TIF"
    with pytest.warns(UserWarning, match="declares no nodata"):
        item = create_item({"B4": b4, "BQA": bqa}, item_id="lc08", datetime=T0, collection="l8")
        load([item], geobox=_grid_of(b4), bands=["B4"])
    with rasterio.open(b4) as src:
        dn = src.read(1)
    with rasterio.open(bqa) as src:
        qa = src.read(1)
    source = CatalogSource(
        name="test", kind="static", href=str(folder),
        collections={"l8": CollectionSpec(
            id="l8", bands={"B4": "red", "BQA": "qa"}, nodata=0, units="1",
            mask=MaskRule(band="qa", kind="bits", exclude=(0, 4)),
        )},
    )
    got = load([item], geobox=_grid_of(b4), source=source, resampling="nearest")["red"].isel(time=0).values
    bad = ((qa & 0b10001) != 0) | (dn == 0)
    assert 0.05 < bad.mean() < 0.95  # the scene has fill and clouds: the test means something
    np.testing.assert_array_equal(np.isnan(got), bad)
    np.testing.assert_array_equal(got[~bad], dn[~bad].astype("float32"))


def require_landsat() -> Path:
    from conftest import require_shared

    return require_shared("landsat8_l1tp_016037_20170813_900m")


def _grid_of(path: Path) -> GeoBox:
    with rasterio.open(path) as src:
        return GeoBox(src.shape, src.transform, src.crs)


def test_items_in_two_utm_zones_load_onto_one_grid(tmp_path):
    """Two grids either side of 24°E (zones 34 and 35) loaded together on a zone-35 grid."""
    from rasterio.warp import Resampling, reproject

    west = GeoBox.from_bbox((560_000, 7_490_000, 590_000, 7_515_000), crs="EPSG:32634", resolution=250)
    east = GeoBox.from_bbox((400_000, 7_490_000, 430_000, 7_515_000), crs="EPSG:32635", resolution=250)
    rng = np.random.default_rng(5)
    data = {n: rng.normal(0, 1, g.shape).astype("float32") for n, g in (("west", west), ("east", east))}
    items = [
        create_item({"mag_tmi": _write(tmp_path / f"{n}.tif", data[n], units="nT", gbox=g)},
                    item_id=n, datetime=T0, collection="mag")
        for n, g in (("west", west), ("east", east))
    ]
    w, s_, e, n = west.extent.to_crs("EPSG:32635").geom.union(east.extent.geom).bounds
    target = GeoBox.from_bbox((w - 5000, s_ - 5000, e + 5000, n + 5000), crs="EPSG:32635", resolution=250)
    ds = load(items, geobox=target, groupby="id", resampling="nearest")
    assert ds.sizes["time"] == 2
    slices = [ds["mag_tmi"].isel(time=i).values for i in range(2)]
    matched = []
    for name, gbox in (("west", west), ("east", east)):
        expected = np.full(target.shape, np.nan, dtype="float32")
        reproject(data[name], expected, src_transform=gbox.transform, src_crs=gbox.crs.to_wkt(),
                  dst_transform=target.transform, dst_crs=target.crs.to_wkt(), src_nodata=np.nan,
                  dst_nodata=np.nan, resampling=Resampling.nearest)
        # the time step that holds this item (odc-stac orders same-time items its own way)
        index = int(np.argmax([np.isfinite(got[np.isfinite(expected)]).sum() for got in slices]))
        matched.append(index)
        got = slices[index]
        both = np.isfinite(got) & np.isfinite(expected)
        assert both.sum() > 0.9 * np.isfinite(expected).sum() > 1000
        assert np.mean(got[both] == expected[both]) > 0.98
    assert sorted(matched) == [0, 1]


def test_items_with_different_offsets_are_loaded_in_their_own_groups(tmp_path):
    """Sentinel-2 before/after processing baseline 04.00: same band, offsets 0 and -0.1."""
    rng = np.random.default_rng(6)
    dn = {k: rng.integers(1000, 10_000, size=GRID.shape, dtype="uint16") for k in ("old", "new")}
    items = []
    for day, (key, offset) in enumerate((("old", 0.0), ("new", -0.1))):
        path = _write_int(tmp_path / f"{key}.tif", dn[key], GRID, nodata=0, scale=0.0001, offset=offset)
        items.append(create_item({"red": path}, item_id=key, datetime=T0 + dt.timedelta(days=day), collection="s2"))
    ds = load(items, geobox=GRID, resampling="nearest")
    assert ds.sizes["time"] == 2
    for index, (key, offset) in enumerate((("old", 0.0), ("new", -0.1))):
        expected = dn[key].astype("float32") * np.float32(0.0001) + np.float32(offset)
        np.testing.assert_allclose(ds["red"].isel(time=index).values, expected, atol=1e-7)


def test_search_by_survey_area_object_and_id(demo, tmp_path):
    from geosurvey.aoi import Registry, generate_keypair

    parties = []
    for code, en, ja in (("JP", "Japan", "日本"), ("US", "United States", "アメリカ合衆国"),
                         ("FI", "Finland", "フィンランド")):
        _, public = generate_keypair()
        parties.append({"code": code, "name_en": en, "name_ja": ja, "public_keys": [public]})
    registry = Registry.init(tmp_path / "aoi", parties=parties)
    w, s, e, n = _area_of(GRID).bounds
    inside = registry.propose((w, s, e, n), id="lapland-demo", name_en="Lapland demo", name_ja="ラップランド",
                              region="FI", commodities="Cu", proposer="US")
    far = registry.propose((w + 5, s, e + 5, n), id="far-away", name_en="Far", name_ja="遠い",
                           region="FI", commodities="Cu", proposer="US")
    assert len(search(demo["catalog"], area=inside)) == 3
    assert len(search(demo["catalog"], area="lapland-demo", registry=tmp_path / "aoi")) == 3
    assert len(search(demo["catalog"], area=far)) == 0
