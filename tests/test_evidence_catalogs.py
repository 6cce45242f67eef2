"""Evidence on datacubes from geosurvey.catalogs.load (odc-stac, (time, y, x), north-up) built
from STAC items over the real files, read in place: the same answers as on read_raster grids."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import rasterio

import geosurvey.evidence as ev
from geosurvey.catalogs import BandInfo, create_item, load
from geosurvey.io import read_raster
from geosurvey.testing import raise_if_dask_computes

from conftest import require_shared

S2 = "sentinel2_l2a_19UDP_20170729_900m"


def test_rtp_on_an_odc_stac_datacube_equals_rtp_on_the_geotiff(tmp_path):
    path = require_shared("gtk_lapland_iocg", "grids_100m", "mag_tmi_dgrf65_anomaly_nT.tif")
    item = create_item({"mag_tmi": path}, item_id="gtk-mag", datetime=dt.datetime(1972, 1, 1),
                       bands={"mag_tmi": BandInfo("mag_tmi", units="nT")})
    grid = read_raster(path)
    cube = load([item], geobox=grid.odc.geobox, chunks={"x": 300, "y": 300}, resampling="nearest")
    assert cube["mag_tmi"].dims == ("time", "y", "x") and cube["mag_tmi"].attrs["units"] == "nT"
    with raise_if_dask_computes():
        rtp = ev.reduction_to_pole(cube["mag_tmi"], inclination=77, declination=10)
    assert rtp.dims == ("time", "y", "x") and rtp.attrs["units"] == "nT"
    expected = ev.reduction_to_pole(grid, inclination=77, declination=10).values
    np.testing.assert_allclose(rtp.isel(time=0).values, expected, rtol=1e-5, atol=1e-3, equal_nan=True)
    assert rtp.odc.geobox == grid.odc.geobox


def test_clay_hydroxyl_on_an_odc_stac_datacube():
    folder = require_shared(S2)
    info = {"swir16": BandInfo("swir16", units="1", center_wavelength=1.61),
            "swir22": BandInfo("swir22", units="1", center_wavelength=2.19)}
    item = create_item({"swir16": folder / "B11.tif", "swir22": folder / "B12.tif"}, item_id="s2",
                       datetime=dt.datetime(2017, 7, 29), bands=info)
    gbox = read_raster(folder / "B11.tif").odc.geobox
    # the decimated scene's files declare no nodata: catalogs.load says so, and zeros stay data
    with pytest.warns(UserWarning, match="declares no nodata"):
        cube = load([item], geobox=gbox, resampling="nearest")
    with raise_if_dask_computes():
        index = ev.clay_hydroxyl(cube)
    with rasterio.open(folder / "B11.tif") as a, rasterio.open(folder / "B12.tif") as b:
        b11, b12 = a.read(1).astype("float64"), b.read(1).astype("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(b12 != 0, b11 / b12, np.nan)
    got = index.isel(time=0).values
    both = np.isfinite(got)
    assert both.sum() > 0.4 * got.size
    np.testing.assert_allclose(got[both], expected[both], rtol=1e-6)
