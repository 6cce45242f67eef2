"""write_cog: overviews resampled by the layer's nature, nodata written explicitly, tags kept.

Overviews are read back by GDAL itself (rasterio's ``overview_level``), and compared with
independent NumPy block averages.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401
import xarray as xr

from geosurvey.errors import InputError
from geosurvey.io import has_valid_pixels, overview_resampling_for, write_cog

N = 1024  # two overview levels at 256-pixel tiles (512, 256)


def layer(values: np.ndarray, **attrs) -> xr.DataArray:
    n = values.shape[0]
    da = xr.DataArray(values, dims=("y", "x"), attrs=attrs,
                      coords={"y": 6e6 - 10 * np.arange(n) - 5, "x": 5e5 + 10 * np.arange(values.shape[1]) + 5})
    return da.rio.write_crs("EPSG:32633")


def overview(path, level=0):
    with rasterio.open(path, overview_level=level) as src:
        return src.read(1), src.nodata


def block_nanmean(a: np.ndarray, f: int) -> np.ndarray:
    blocks = a.reshape(a.shape[0] // f, f, a.shape[1] // f, f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks
        return np.nanmean(blocks, axis=(1, 3))


def test_score_overviews_are_averages_within_0_1_and_nodata_does_not_spread(tmp_path):
    rng = np.random.default_rng(0)
    score = (rng.random((N, N)) > 0.5).astype("float32")  # sharp 0/1 edges: cubic overshoots on them
    score[:101] = np.nan  # a band of nodata whose edge cuts through overview blocks
    path = write_cog(layer(score, units="1", long_name="score"), tmp_path / "score.tif")
    with rasterio.open(path) as src:
        assert src.overviews(1) == [2, 4]
    expected = score
    for level in (0, 1):
        # GDAL computes each level from the one before: the mean of the valid pixels of 2x2 blocks
        expected = block_nanmean(expected, 2)
        got, nodata = overview(path, level)
        assert np.isnan(nodata)
        assert np.nanmin(got) >= 0 and np.nanmax(got) <= 1
        np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True)
        # nodata does not spread: an overview pixel is nodata only where its whole block is
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.isnan(overview(path, 0)[0][:50]).all() and not np.isnan(overview(path, 0)[0][50:]).any()


def test_cubic_would_have_left_the_range(tmp_path):
    """The check above can fail: GDAL's default (cubic) puts this score below 0 in the overviews."""
    rng = np.random.default_rng(0)
    score = (rng.random((N, N)) > 0.5).astype("float32")
    da = layer(score).rio.write_nodata(np.nan, encoded=False)
    da.rio.to_raster(tmp_path / "cubic.tif", driver="COG", overviews="AUTO", overview_resampling="CUBIC")
    got, _ = overview(tmp_path / "cubic.tif")
    assert np.nanmin(got) < 0 or np.nanmax(got) > 1


def test_class_codes_use_nearest(tmp_path):
    rng = np.random.default_rng(1)
    codes = rng.integers(-1, 6, size=(N, N)).astype("int16")
    da = layer(codes, nodata=-1, flag_values=[0, 1, 2, 3, 4, 5], units="1")
    assert overview_resampling_for(da) == "nearest"
    path = write_cog(da, tmp_path / "codes.tif")
    got, nodata = overview(path)
    assert nodata == -1
    assert set(np.unique(got)) <= set(range(-1, 6))
    # nearest: each overview pixel is one of the four pixels of its block
    blocks = codes.reshape(N // 2, 2, N // 2, 2).transpose(0, 2, 1, 3).reshape(N // 2, N // 2, 4)
    assert (blocks == got[..., None]).any(axis=-1).all()
    # a float layer of class codes (a one-hot indicator, say) can ask for nearest too
    flags = layer((codes > 2).astype("float32"))
    assert overview_resampling_for(flags) == "average"
    path = write_cog(flags, tmp_path / "flags.tif", overview_resampling="nearest")
    assert set(np.unique(overview(path)[0])) <= {0.0, 1.0}


def test_nan_is_written_as_the_declared_nodata(tmp_path):
    values = np.arange(64 * 64, dtype="float32").reshape(64, 64)
    values[5:9, 5:9] = np.nan
    path = write_cog(layer(values).chunk(16), tmp_path / "filled.tif", nodata=-9999)
    with rasterio.open(path) as src:
        data = src.read(1)
        assert src.nodata == -9999
    assert not np.isnan(data).any() and (data == -9999).sum() == 16
    np.testing.assert_array_equal(data[~(data == -9999)], values[~np.isnan(values)])
    with pytest.raises(InputError, match="does not fit"):
        write_cog(layer(np.zeros((8, 8), "uint8"), nodata=-1), tmp_path / "bad.tif")
    assert not (tmp_path / "bad.tif").exists()


def test_attribution_and_licence_become_tags(tmp_path):
    da = layer(np.ones((32, 32), "float32"), units="nT", attribution="GTK, CC BY 4.0", license="CC-BY-4.0")
    path = write_cog(da, tmp_path / "a.tif")
    with rasterio.open(path) as src:
        tags = src.tags()
    assert tags["attribution"] == "GTK, CC BY 4.0" and tags["license"] == "CC-BY-4.0"
    assert tags["TIFFTAG_COPYRIGHT"] == "GTK, CC BY 4.0"
    assert da.attrs["attribution"] == "GTK, CC BY 4.0"  # the caller's attributes untouched


def test_has_valid_pixels(tmp_path):
    assert has_valid_pixels(write_cog(layer(np.ones((8, 8), "float32")), tmp_path / "one.tif"))
    assert not has_valid_pixels(write_cog(layer(np.full((8, 8), np.nan, "float32")), tmp_path / "nan.tif"))


def test_gdal_tools_read_the_cog_as_written(tmp_path):
    """GDAL's own command-line tools (gdal-bin) see the COG layout, the overviews, their range and
    the attribution."""
    import json
    import shutil
    import subprocess

    if shutil.which("gdalinfo") is None or shutil.which("gdal_translate") is None:
        pytest.skip("GDAL's command-line tools are not installed (apt-get install gdal-bin)")
    rng = np.random.default_rng(0)
    score = (rng.random((N, N)) > 0.5).astype("float32")
    score[:101] = np.nan
    path = write_cog(layer(score, units="1", attribution="GTK, CC BY 4.0"), tmp_path / "score.tif")
    info = json.loads(subprocess.run(["gdalinfo", "-json", str(path)], capture_output=True, text=True,
                                     check=True).stdout)
    assert info["metadata"]["IMAGE_STRUCTURE"]["LAYOUT"] == "COG"
    assert info["metadata"][""]["TIFFTAG_COPYRIGHT"] == "GTK, CC BY 4.0"
    assert [o["size"] for o in info["bands"][0]["overviews"]] == [[512, 512], [256, 256]]
    nan_rows, rows = 101, N
    for level in (0, 1):
        # each level averages 2x2 blocks of the one before, leaving out nodata: a row pair is nodata
        # only when both rows are (cubic or nearest-with-nodata would differ)
        nan_rows, rows = nan_rows // 2, rows // 2
        ovr = tmp_path / f"ovr{level}.tif"
        subprocess.run(["gdal_translate", "-q", "-ovr", str(level), str(path), str(ovr)], check=True)
        stats = json.loads(subprocess.run(["gdalinfo", "-json", "-stats", str(ovr)], capture_output=True,
                                          text=True, check=True).stdout)["bands"][0]
        assert 0 <= stats["minimum"] and stats["maximum"] <= 1, stats
        valid = float(stats["metadata"][""]["STATISTICS_VALID_PERCENT"])
        assert valid == pytest.approx(100 * (1 - nan_rows / rows), abs=0.01)  # nodata did not spread
