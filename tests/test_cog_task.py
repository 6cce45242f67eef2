"""io.write_cog_task: the COG a Dask task writes (whole, or chunk by chunk) is write_cog's."""

from __future__ import annotations

from pathlib import Path

import dask
import dask.array
import numpy as np
import pytest
import rasterio
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_zeros

import geosurvey.io as gio
from geosurvey.scheduler import on_cluster, on_worker


def _layer(nodata_hole: bool = True) -> xr.DataArray:
    gbox = GeoBox.from_bbox((500_000, 7_000_000, 630_000, 7_090_000), "EPSG:32611", resolution=100)
    values = np.random.default_rng(0).random(gbox.shape).astype("float32")
    if nodata_hole:
        values[:50, :70] = np.nan
    da = xr_zeros(gbox, dtype="float32", chunks=(256, 256))
    da = da.copy(data=dask.array.from_array(values, chunks=(256, 300))).rename("layer")
    return da.assign_attrs(units="m", long_name="A test layer", attribution="Someone, CC BY 4.0")


def _read(path: Path) -> dict:
    with rasterio.open(path) as src:
        return {
            "pixels": src.read(1),
            "overview": src.read(1, out_shape=(src.height // 4, src.width // 4)),
            "tags": src.tags(), "nodata": src.nodata, "profile_transform": src.transform,
            "crs": src.crs, "overviews": src.overviews(1), "description": src.descriptions,
            "layout": src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT"), "blocks": src.block_shapes,
            "predictor": src.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR"),
        }


@pytest.mark.parametrize("whole_bytes", [gio.COG_WHOLE_BYTES, 0])
@pytest.mark.parametrize("nodata", [np.nan, -9999.0])
def test_task_writes_what_write_cog_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole_bytes: int, nodata: float
) -> None:
    da = _layer()
    gio.write_cog(da, tmp_path / "direct.tif", nodata=nodata)
    monkeypatch.setattr(gio, "COG_WHOLE_BYTES", whole_bytes)
    task = gio.write_cog_task(da, tmp_path / "task.tif", nodata=nodata)
    assert not (tmp_path / "task.tif").exists()  # nothing is written before the task runs
    (done,) = dask.compute(task)
    assert done == tmp_path / "task.tif"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["direct.tif", "task.tif"]  # no parts left
    a, b = _read(tmp_path / "direct.tif"), _read(tmp_path / "task.tif")
    np.testing.assert_array_equal(a.pop("pixels"), b.pop("pixels"))
    np.testing.assert_array_equal(a.pop("overview"), b.pop("overview"))
    if np.isnan(nodata):
        assert np.isnan(a.pop("nodata")) and np.isnan(b.pop("nodata"))
    assert a == b
    assert b["layout"] == "COG" and b["tags"]["units"] == "m" and "_FillValue" not in b["tags"]
    assert b["predictor"] == "3"  # floating-point predictor, both ways of writing
    assert b["tags"]["TIFFTAG_COPYRIGHT"] == "Someone, CC BY 4.0"
    with rasterio.open(tmp_path / "task.tif") as src:  # the hole is the nodata value, as declared
        hole = src.read(1)[:50, :70]
        assert (np.isnan(hole) if np.isnan(nodata) else hole == nodata).all()


@pytest.mark.parametrize("whole_bytes", [gio.COG_WHOLE_BYTES, 0])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "uint8"])
def test_cogs_are_lossless_with_their_predictor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole_bytes: int, dtype: str
) -> None:
    """Every pixel reads back as written, with the predictor GDAL picks for the type (3 for
    floats, 2 for integers), written whole or from parts."""
    monkeypatch.setattr(gio, "COG_WHOLE_BYTES", whole_bytes)
    da = _layer(nodata_hole=False)
    values = da.values
    if dtype.startswith(("int", "uint")):
        values = (values * 200).astype(dtype)
    else:
        values = (np.sin(values * 6) * 1e3).astype(dtype)  # mantissas in use to the last bit
    da = da.copy(data=dask.array.from_array(values, chunks=(256, 300)))
    (path,) = dask.compute(gio.write_cog_task(da, tmp_path / "layer.tif", nodata=None))
    with rasterio.open(path) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == ("3" if dtype.startswith("float") else "2")
        assert src.dtypes[0] == dtype
        np.testing.assert_array_equal(src.read(1), values)


@pytest.mark.filterwarnings("ignore:Couldn't detect a suitable IP address:RuntimeWarning")
def test_gdal_threads_change_no_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a client GDAL compresses with every CPU; on a cluster (a real worker process) with
    the worker's one thread: whole or from parts, the files are the same bytes."""
    from distributed import Client, LocalCluster

    da = _layer()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert client.submit(on_worker, pure=False).result() and not on_worker()
        assert on_cluster() and client.submit(on_cluster, pure=False).result()
        assert client.submit(gio._cog_threads, pure=False).result() is None  # a worker's own task
        for whole_bytes in (gio.COG_WHOLE_BYTES, 0):
            monkeypatch.setattr(gio, "COG_WHOLE_BYTES", whole_bytes)
            dask.compute(gio.write_cog_task(da, tmp_path / f"cluster{whole_bytes}.tif"))
    assert not on_cluster()
    for whole_bytes in (gio.COG_WHOLE_BYTES, 0):
        monkeypatch.setattr(gio, "COG_WHOLE_BYTES", whole_bytes)
        dask.compute(gio.write_cog_task(da, tmp_path / f"threads{whole_bytes}.tif"))
        threaded = (tmp_path / f"threads{whole_bytes}.tif").read_bytes()
        assert threaded == (tmp_path / f"cluster{whole_bytes}.tif").read_bytes(), whole_bytes
    gio.write_cog(da, tmp_path / "direct.tif")
    assert (tmp_path / "direct.tif").read_bytes() == threaded


def test_parts_written_in_many_threads_raise_no_georeferencing_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each part carries its window's geotransform, so GDAL has nothing to warn about. (Parts
    without one were silenced by ``warnings.catch_warnings``, which threads undo for each other:
    about every other write of these 1189 parts let a ``NotGeoreferencedWarning`` through.)"""
    import warnings

    monkeypatch.setattr(gio, "COG_WHOLE_BYTES", 0)
    da = _layer().chunk(32)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        (path,) = dask.compute(gio.write_cog_task(da, tmp_path / "layer.tif"),
                               scheduler="threads", num_workers=8)
    assert [w for w in seen if issubclass(w.category, rasterio.errors.NotGeoreferencedWarning)] == []
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(1), da.values)


def test_task_refuses_what_write_cog_refuses(tmp_path: Path) -> None:
    (tmp_path / "x.tif").write_bytes(b"")
    with pytest.raises(gio.OutputError, match="exists"):
        gio.write_cog_task(_layer(), tmp_path / "x.tif", overwrite=False)
    with pytest.raises(gio.InputError, match="has no CRS"):
        gio.write_cog_task(xr.DataArray(np.zeros((3, 3)), dims=("y", "x")), tmp_path / "y.tif")
