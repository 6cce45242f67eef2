"""`geosurvey evidence ...`: real files in, COGs on the same grid out, one-line refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

import geosurvey.evidence as ev
from geosurvey.cli import main
from geosurvey.io import read_raster

from conftest import require_shared

GRIDS = ("gtk_lapland_iocg", "grids_100m")
COMMANDS = ["reduction-to-pole", "vertical-derivative", "derivative-easting", "derivative-northing",
            "total-horizontal-gradient", "tilt-derivative", "analytic-signal", "upward-continuation",
            "slope", "aspect", "hillshade", "landsat-toa", "ratio", "distance", "line-density"]


@pytest.fixture(scope="module")
def mag_path():
    return require_shared(*GRIDS, "mag_tmi_dgrf65_anomaly_nT.tif")


def profile(path):
    with rasterio.open(path) as src:
        return {"crs": src.crs, "transform": src.transform, "shape": src.shape, "nodata": src.nodata,
                "layout": src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT"), "tags": src.tags()}


def test_reduction_to_pole_writes_a_cog_on_the_input_grid(mag_path, tmp_path, capsys):
    out = tmp_path / "rtp.tif"
    code = main(["evidence", "reduction-to-pole", str(mag_path), str(out), "--inclination", "77",
                 "--declination", "10", "--units", "nT"])
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    got, src = profile(out), profile(mag_path)
    assert got["layout"] == "COG"
    assert (got["crs"], got["shape"]) == (src["crs"], src["shape"])
    # the same grid (rioxarray rewrites the transform from the coordinates: equal to ~1e-13 m)
    assert got["transform"].almost_equals(src["transform"], precision=1e-6)
    assert np.isnan(got["nodata"]) and np.isnan(src["nodata"])
    assert got["tags"]["units"] == "nT" and "reduction_to_pole" in got["tags"]["history"]
    with rasterio.open(out) as f:
        written = f.read(1)
    expected = ev.reduction_to_pole(read_raster(mag_path), inclination=77, declination=10).values
    np.testing.assert_array_equal(written, expected)
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["parameters"]["inclination"] == 77 and manifest["inputs"]["grid"] == str(mag_path)


def test_numeric_nodata_of_float_input_is_kept(tmp_path):
    dem = np.cumsum(np.random.default_rng(0).normal(size=(40, 50)), axis=0).astype("float32")
    dem[5:8, 5:8] = -9999
    src = tmp_path / "dem.tif"
    with rasterio.open(src, "w", driver="GTiff", width=50, height=40, count=1, dtype="float32",
                       crs="EPSG:32633", transform=from_origin(500_000, 6_000_000, 25, 25), nodata=-9999) as dst:
        dst.write(dem, 1)
    out = tmp_path / "slope.tif"
    assert main(["evidence", "slope", str(src), str(out)]) == 0
    with rasterio.open(out) as f:
        values, nodata = f.read(1), f.nodata
    assert nodata == -9999
    # the hole grows by one pixel (Horn's 3x3 window) and is written as -9999, not NaN
    assert (values == -9999).sum() == 25 and not np.isnan(values).any()


def test_distance_and_ratio_commands(mag_path, tmp_path):
    faults = require_shared("gtk_lapland_iocg", "vector", "IOCG_CLB_Structures_1M.shp")
    out = tmp_path / "dist.tif"
    assert main(["evidence", "distance", str(faults), str(mag_path), str(out),
                 "--where", "NAME.str.contains('shear', na=False)"]) == 0
    assert profile(out)["tags"]["units"] == "m"
    k, th = (require_shared(*GRIDS, f) for f in ("rad_K_pct.tif", "rad_eTh_ppm.tif"))
    ratio = tmp_path / "th_k.tif"
    assert main(["evidence", "ratio", str(th), str(k), str(ratio), "--radiometric"]) == 0
    with rasterio.open(ratio) as f, rasterio.open(th) as a, rasterio.open(k) as b:
        got, num, den = f.read(1), a.read(1).astype("float64"), b.read(1).astype("float64")
        assert f.transform.almost_equals(a.transform, precision=1e-6)
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where((den > 0) & (num >= 0), num / den, np.nan)
    np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True)


def test_refusals_are_one_line_and_leave_no_output(mag_path, tmp_path, capsys):
    out = tmp_path / "bad.tif"
    assert main(["evidence", "reduction-to-pole", str(mag_path), str(out), "--inclination", "120",
                 "--declination", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("geosurvey: error:") and "inclination" in err and "\n" not in err
    assert not out.exists() and not list(tmp_path.iterdir())
    assert main(["evidence", "tilt-derivative", str(tmp_path / "missing.tif"), str(out)]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["evidence", "tilt-derivative", str(mag_path), str(tmp_path / "out.png")]) == 1
    assert ".tif" in capsys.readouterr().err
    assert main(["evidence", "upward-continuation", str(mag_path), str(out), "--height", "-5"]) == 1
    assert not list(tmp_path.iterdir())


def test_every_command_has_help():
    result = subprocess.run([sys.executable, "-m", "geosurvey", "evidence", "--help"], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    for command in COMMANDS:
        assert main(["evidence", command, "--help"]) == 0


# every command, on a float grid whose nodata is -9999 and which has a hole: each output declares a
# nodata value and every missing pixel holds exactly it (never NaN under a numeric nodata)
NODATA_RUNS = {
    "reduction-to-pole": ["--inclination", "70", "--declination", "5", "--units", "nT"],
    "vertical-derivative": ["--units", "nT"],
    "derivative-easting": ["--units", "nT"],
    "derivative-northing": ["--units", "nT"],
    "total-horizontal-gradient": ["--units", "nT"],
    "tilt-derivative": [],
    "analytic-signal": ["--units", "nT"],
    "upward-continuation": ["--height", "100", "--units", "nT"],
    "slope": [],
    "aspect": [],
    "hillshade": [],
    "landsat-toa": ["--mtl", "{mtl}", "--band", "4"],
    "ratio": ["{grid}"],
    "distance": [],
    "line-density": ["--radius", "100"],
}


def test_nodata_is_written_explicitly_by_every_command(tmp_path):
    assert sorted(NODATA_RUNS) == sorted(COMMANDS)
    rng = np.random.default_rng(3)
    values = (100 + np.cumsum(rng.normal(size=(48, 64)), axis=0)).astype("float32")
    values[10:14, 20:25] = -9999
    grid = tmp_path / "grid.tif"
    with rasterio.open(grid, "w", driver="GTiff", width=64, height=48, count=1, dtype="float32",
                       crs="EPSG:32633", transform=from_origin(500_000, 6_000_000, 50, 50), nodata=-9999) as dst:
        dst.write(values, 1)
    mtl = tmp_path / "scene_MTL.txt"
    mtl.write_text("GROUP = L1_METADATA_FILE\n  SUN_ELEVATION = 45.0\n  REFLECTANCE_MULT_BAND_4 = 2.0E-05\n"
                   "  REFLECTANCE_ADD_BAND_4 = -0.1\nEND_GROUP = L1_METADATA_FILE\n")
    faults = tmp_path / "faults.geojson"
    import geopandas as gpd
    import shapely

    gpd.GeoDataFrame(geometry=[shapely.LineString([(500_500, 5_998_000), (503_000, 5_999_000)])],
                     crs="EPSG:32633").to_file(faults)
    for command, extra in NODATA_RUNS.items():
        out = tmp_path / f"{command}.tif"
        head = [str(faults), str(grid)] if command in ("distance", "line-density") else [str(grid)]
        argv = ["evidence", command, *head, *(a.format(mtl=mtl, grid=grid) for a in extra), str(out)]
        if command == "ratio":
            argv = ["evidence", command, str(grid), str(grid), str(out)]
        assert main(argv) == 0, command
        with rasterio.open(out) as f:
            data, nodata = f.read(1), f.nodata
        assert nodata is not None, command
        if np.isnan(nodata):  # outputs of grids without a float nodata (features, DN) use NaN
            assert command in ("distance", "line-density", "landsat-toa"), command
        else:
            assert nodata == -9999 and not np.isnan(data).any(), command
            assert (data == -9999).sum() >= 20, command  # the hole (it may grow by the stencil)
