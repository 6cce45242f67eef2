"""Spectral indices and Landsat TOA conversion, on the real Sentinel-2 and Landsat 8 scenes,
checked against direct numpy on the GeoTIFF pixels; ASTER products against their formulas with
the band names of a real ASTER STAC item."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import rasterio
import xarray as xr

import geosurvey.evidence as ev
from geosurvey.errors import BandError, InputError, MissingInputError
from geosurvey.io import read_raster
from geosurvey.testing import grid_like, raise_if_dask_computes

from conftest import require_shared

S2 = "sentinel2_l2a_19UDP_20170729_900m"
S2_BANDS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "nir08": "B8A", "swir16": "B11", "swir22": "B12"}
L8 = "landsat8_l1tp_016037_20170813_900m"
L8_PREFIX = "LC08_L1TP_016037_20170813_20170814_01_RT"
L8_BANDS = {"blue": 2, "green": 3, "red": 4, "nir08": 5, "swir16": 6, "swir22": 7}


def pixels(path) -> np.ndarray:
    """The raw GeoTIFF pixels as float64 (the independent side of every comparison)."""
    with rasterio.open(path) as src:
        return src.read(1).astype("float64")


def ratio(a, b):
    """Reference ratio: NaN where the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1), np.nan)


@pytest.fixture(scope="module")
def s2_paths():
    folder = require_shared(S2)
    return {name: folder / f"{band}.tif" for name, band in S2_BANDS.items()}


@pytest.fixture(scope="module")
def s2(s2_paths) -> xr.Dataset:
    return xr.Dataset({name: read_raster(path, chunks={"y": 64, "x": 64}) for name, path in s2_paths.items()})


@pytest.fixture(scope="module")
def s2_px(s2_paths) -> dict[str, np.ndarray]:
    return {name: pixels(path) for name, path in s2_paths.items()}


@pytest.fixture(scope="module")
def l8_folder():
    return require_shared(L8)


# ---------------------------------------------------------------------------------------------
# Sentinel-2 (real pixels)
# ---------------------------------------------------------------------------------------------


def test_s2_indices_equal_numpy_on_the_geotiff_pixels(s2, s2_px):
    p = s2_px
    expected = {
        "clay_hydroxyl": ratio(p["swir16"], p["swir22"]),
        "ferric_iron": ratio(p["red"], p["green"]),
        "ferric_oxides": ratio(p["swir16"], p["nir"]),
        "gossan": ratio(p["swir16"], p["red"]),
        "ferrous_iron": ratio(p["swir22"], p["nir"]) + ratio(p["green"], p["red"]),
        "ndvi": ratio(p["nir"] - p["red"], p["nir"] + p["red"]),
    }
    for name, reference in expected.items():
        out = getattr(ev, name)(s2)
        assert out.name == name
        assert out.attrs["units"] == "1"
        assert out.rio.crs == s2["red"].rio.crs
        np.testing.assert_allclose(out.values, reference, rtol=1e-6, equal_nan=True, err_msg=name)
    # the scene has real zero-filled edges: ratios there are NaN, never inf
    assert np.isnan(ev.clay_hydroxyl(s2).values).any()
    assert not np.isinf(ev.gossan(s2).values).any()


def test_band_ratio_and_lazy(s2, s2_px):
    with raise_if_dask_computes():
        out = ev.band_ratio(s2, "nir08", "red", name="nir08_red")
        others = [f(s2) for f in (ev.clay_hydroxyl, ev.ferric_iron, ev.ferrous_iron, ev.ferric_oxides,
                                  ev.gossan, ev.ndvi, ev.vegetation_mask)]
    assert out.chunks is not None and all(o.chunks is not None for o in others)
    np.testing.assert_allclose(out.values, ratio(s2_px["nir08"], s2_px["red"]), rtol=1e-6, equal_nan=True)
    assert "nir08/red" in out.attrs["history"] and "read B8A.tif" in out.attrs["history"]


def test_nir_preference_is_stated(s2):
    both = ev.ndvi(s2)
    assert "(nir - red)" in both.attrs["history"]
    only_nir08 = ev.ndvi(s2.drop_vars("nir"))
    assert "(nir08 - red)" in only_nir08.attrs["history"]
    assert not np.allclose(both.values, only_nir08.values, equal_nan=True)


def test_vegetation_mask_follows_ndvi(s2):
    index = ev.ndvi(s2).values
    mask = ev.vegetation_mask(s2, threshold=0.4).values
    valid = ~np.isnan(index)
    assert np.array_equal(np.isnan(mask), ~valid)
    assert np.array_equal(mask[valid] == 1, index[valid] > 0.4)
    assert 0 < np.nanmean(mask) < 1  # this real scene has both


def test_odc_stac_nodata_attribute_is_masked(s2_paths):
    """odc-stac gives integer bands with attrs['nodata']: those pixels become NaN."""
    import rioxarray

    bands = {}
    for name in ("swir16", "swir22"):
        raw = rioxarray.open_rasterio(s2_paths[name]).squeeze("band", drop=True)
        raw.attrs = {"nodata": 0}
        bands[name] = raw
    out = ev.clay_hydroxyl(xr.Dataset(bands)).values
    p16, p22 = pixels(s2_paths["swir16"]), pixels(s2_paths["swir22"])
    expected = ratio(p16, p22)
    expected[(p16 == 0) | (p22 == 0)] = np.nan
    np.testing.assert_allclose(out, expected, rtol=1e-6, equal_nan=True)


def test_missing_band_is_named(s2):
    with pytest.raises(BandError, match=r"clay_hydroxyl needs band swir22 .* blue, green"):
        ev.clay_hydroxyl(s2.drop_vars("swir22"))
    with pytest.raises(BandError, match="'nir' or 'nir08'"):
        ev.ndvi(s2.drop_vars(["nir", "nir08"]))
    with pytest.raises(InputError, match=r"xarray\.Dataset"):
        ev.clay_hydroxyl(s2["red"])
    with pytest.raises(InputError, match="threshold"):
        ev.vegetation_mask(s2, threshold=2)


# ---------------------------------------------------------------------------------------------
# Landsat 8: DN -> TOA reflectance / brightness temperature from the MTL file (real scene)
# ---------------------------------------------------------------------------------------------


def mtl_value(text: str, key: str) -> float:
    return float(re.search(rf"^\s*{key}\s*=\s*(\S+)", text, re.M).group(1))


def test_toa_reflectance_equals_the_usgs_formula(l8_folder):
    mtl = l8_folder / f"{L8_PREFIX}_MTL.txt"
    text = mtl.read_text()
    sun = np.radians(mtl_value(text, "SUN_ELEVATION"))
    for band in (2, 4, 6):
        path = l8_folder / f"{L8_PREFIX}_B{band}.TIF"
        dn = pixels(path)
        expected = (mtl_value(text, f"REFLECTANCE_MULT_BAND_{band}") * dn
                    + mtl_value(text, f"REFLECTANCE_ADD_BAND_{band}")) / np.sin(sun)
        expected[dn == 0] = np.nan
        da = read_raster(path, chunks={"y": 100, "x": 100})
        with raise_if_dask_computes():
            toa = ev.landsat_toa_reflectance(da, mtl)  # band number from the file name
        assert toa.name == f"toa_B{band}" and toa.attrs["units"] == "1"
        np.testing.assert_allclose(toa.values, expected, rtol=2e-6, atol=1e-7, equal_nan=True)
        # within the MTL's stated reflectance range (saturated clouds reach the maximum)
        top = mtl_value(text, f"REFLECTANCE_MAXIMUM_BAND_{band}") / np.sin(sun)
        assert np.nanmax(toa.values) <= top * (1 + 1e-6) and np.nanmin(toa.values) > -0.1


def test_brightness_temperature_equals_the_usgs_formula(l8_folder):
    mtl = l8_folder / f"{L8_PREFIX}_MTL.txt"
    text = mtl.read_text()
    path = l8_folder / f"{L8_PREFIX}_B10.TIF"
    dn = pixels(path)
    radiance = mtl_value(text, "RADIANCE_MULT_BAND_10") * dn + mtl_value(text, "RADIANCE_ADD_BAND_10")
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = mtl_value(text, "K2_CONSTANT_BAND_10") / np.log(mtl_value(text, "K1_CONSTANT_BAND_10") / radiance + 1)
    expected[dn == 0] = np.nan
    bt = ev.landsat_brightness_temperature(read_raster(path), ev.read_mtl(mtl))
    assert bt.attrs["units"] == "K"
    np.testing.assert_allclose(bt.values, expected, rtol=1e-6, equal_nan=True)
    assert 250 < np.nanmedian(bt.values) < 330  # a summer scene over the Carolinas


def test_read_mtl_json_matches_text(l8_folder, tmp_path):
    text_meta = ev.read_mtl(l8_folder / f"{L8_PREFIX}_MTL.txt")
    doc = {"LANDSAT_METADATA_FILE": {
        "PRODUCT_CONTENTS": {"LANDSAT_PRODUCT_ID": text_meta.product_id},
        "IMAGE_ATTRIBUTES": {"SUN_ELEVATION": str(text_meta.sun_elevation),
                             "EARTH_SUN_DISTANCE": str(text_meta.earth_sun_distance)},
        "LEVEL1_RADIOMETRIC_RESCALING": {
            **{f"REFLECTANCE_MULT_BAND_{b}": str(v) for b, v in text_meta.reflectance_mult.items()},
            **{f"REFLECTANCE_ADD_BAND_{b}": str(v) for b, v in text_meta.reflectance_add.items()},
        },
    }}
    path = tmp_path / "scene_MTL.json"
    path.write_text(json.dumps(doc))
    json_meta = ev.read_mtl(path)
    assert json_meta.reflectance_mult == text_meta.reflectance_mult
    assert json_meta.sun_elevation == text_meta.sun_elevation
    assert text_meta.k1[10] == pytest.approx(774.8853)


def test_landsat_indices_from_toa(l8_folder):
    mtl = ev.read_mtl(l8_folder / f"{L8_PREFIX}_MTL.txt")
    ds = xr.Dataset({name: ev.landsat_toa_reflectance(read_raster(l8_folder / f"{L8_PREFIX}_B{b}.TIF"), mtl)
                     for name, b in L8_BANDS.items()})
    out = ev.clay_hydroxyl(ds).values
    # same formula on the pixels; the common sun-elevation factor cancels in the ratio
    d6, d7 = (pixels(l8_folder / f"{L8_PREFIX}_B{b}.TIF") for b in (6, 7))
    r6 = mtl.reflectance_mult[6] * d6 + mtl.reflectance_add[6]
    r7 = mtl.reflectance_mult[7] * d7 + mtl.reflectance_add[7]
    expected = ratio(r6, r7)
    expected[(d6 == 0) | (d7 == 0)] = np.nan
    np.testing.assert_allclose(out, expected, rtol=1e-5, equal_nan=True)
    assert "nir08" in ev.ferrous_iron(ds).attrs["history"]  # Landsat has no 'nir', only 'nir08'


def test_landsat_refusals(l8_folder, tmp_path):
    mtl = l8_folder / f"{L8_PREFIX}_MTL.txt"
    da = read_raster(l8_folder / f"{L8_PREFIX}_B10.TIF")
    with pytest.raises(BandError, match="band 10"):
        ev.landsat_toa_reflectance(da, mtl)
    with pytest.raises(InputError, match="pass band="):
        ev.landsat_toa_reflectance(da.rename("thermal"), mtl)
    with pytest.raises(MissingInputError, match="does not exist"):
        ev.landsat_toa_reflectance(da, tmp_path / "nope_MTL.txt")
    bad = tmp_path / "bad_MTL.txt"
    bad.write_text("GROUP = L1_METADATA_FILE\nEND_GROUP = L1_METADATA_FILE\n")
    with pytest.raises(InputError, match="SUN_ELEVATION"):
        ev.read_mtl(bad)


# ---------------------------------------------------------------------------------------------
# ASTER products (band names of a real ASTER L1T STAC item)
# ---------------------------------------------------------------------------------------------

ASTER_FORMULAS = {
    "aster_ferric_oxide_content": lambda b: b[4] / b[3],
    "aster_ferric_oxide_composition": lambda b: b[2] / b[1],
    "aster_ferrous_iron_index": lambda b: b[5] / b[4],
    "aster_opaque_index": lambda b: b[1] / b[4],
    "aster_aloh_group_content": lambda b: (b[5] + b[7]) / b[6],
    "aster_aloh_group_composition": lambda b: b[5] / b[7],
    "aster_kaolin_group_index": lambda b: b[6] / b[5],
    "aster_feoh_group_content": lambda b: (b[6] + b[8]) / b[7],
    "aster_mgoh_group_content": lambda b: (b[6] + b[9]) / (b[7] + b[8]),
    "aster_mgoh_group_composition": lambda b: b[7] / b[8],
    "aster_green_vegetation": lambda b: b[3] / b[2],
    "aster_silica_index": lambda b: b[13] / b[10],
    "aster_quartz_index": lambda b: b[11] / (b[10] + b[12]),
    "aster_gypsum_index": lambda b: (b[10] + b[12]) / b[11],
}


@pytest.fixture(scope="module")
def aster_names() -> dict[int, str]:
    """Band number -> eo:bands name, from the real ASTER L1T STAC item."""
    folder = require_shared("stac", "stactools_aster")
    item = json.loads(next(folder.glob("AST_L1T_*.json")).read_text())
    names = [b["name"] for b in item["assets"]["hdf"]["eo:bands"]]
    return {int(re.search(r"Band(\d+)", n).group(1)): n for n in names}


def aster_dataset(names: dict[int, str], rng) -> tuple[xr.Dataset, dict[int, np.ndarray]]:
    values = {k: rng.uniform(0.05, 0.6, size=(30, 40)) for k in range(1, 15)}
    values[6][0, 0] = 0.0  # a zero denominator for (B5+B7)/B6
    ds = xr.Dataset({names[k]: grid_like(v, name=names[k], chunks=16) for k, v in values.items()})
    return ds, values


def test_aster_products_follow_their_formulas(aster_names):
    assert sorted(aster_names) == list(range(1, 15))
    ds, b = aster_dataset(aster_names, np.random.default_rng(1))
    for name, formula in ASTER_FORMULAS.items():
        with raise_if_dask_computes():
            out = getattr(ev, name)(ds)
        with np.errstate(divide="ignore", invalid="ignore"):
            expected = formula(b)
        expected[~np.isfinite(expected)] = np.nan
        np.testing.assert_allclose(out.values, expected, rtol=1e-12, equal_nan=True, err_msg=name)
        assert out.name == name and out.attrs["units"] == "1"
    assert np.isnan(ev.aster_aloh_group_content(ds).values[0, 0])


def test_aster_short_band_names_and_refusals(aster_names):
    ds, b = aster_dataset(aster_names, np.random.default_rng(2))
    short = ds.rename({aster_names[k]: ("B3N" if k == 3 else f"B{k:02d}") for k in range(1, 15)})
    np.testing.assert_allclose(ev.aster_green_vegetation(short).values, b[3] / b[2])
    with pytest.raises(BandError, match="ASTER band 4 under several names"):
        ev.aster_ferric_oxide_content(short.assign(B4=short["B04"]))
    with pytest.raises(BandError, match="SWIR_Band8"):
        ev.aster_mgoh_group_composition(ds.drop_vars(aster_names[8]))
