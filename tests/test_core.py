"""The shared foundations: safe I/O, the analysis grid, provenance and the command line's contract."""

import os
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from shapely.geometry import box

import geosurvey
from geosurvey.cli import main
from geosurvey.errors import CRSError, GeometryError, InputError, MissingInputError, OutputError
from geosurvey.grid import geobox_for, target_grid, utm_crs
from geosurvey.io import atomic_write_text, output_folder, read_raster, write_cog
from geosurvey.provenance import annotate, history, manifest
from geosurvey.testing import grid_like

ROOT = os.geteuid() == 0


def test_write_cog_round_trip(tmp_path) -> None:
    values = np.arange(600, dtype="float32").reshape(20, 30)
    values[3, 4] = np.nan
    da = annotate(
        grid_like(values, name="mag", units="nT", chunks=8), "made up", long_name="magnetic"
    )
    path = write_cog(da, tmp_path / "mag.tif")
    with rasterio.open(path) as src:
        assert src.driver == "GTiff" and src.profile.get("tiled")
        assert src.crs.to_epsg() == 32611
        assert src.transform.a == 100 and src.transform.e == -100
        assert np.isnan(src.nodata)
        assert src.tags()["units"] == "nT"
        assert "made up" in src.tags()["history"]
        np.testing.assert_array_equal(src.read(1), values)
    back = read_raster(path)
    assert back.attrs["units"] == "nT"
    np.testing.assert_array_equal(back.values, values)
    steps = history(back)  # the history travels through the file
    assert "made up" in steps[0] and "read mag.tif" in steps[-1]


def test_write_cog_refuses_bad_layers(tmp_path) -> None:
    da = grid_like(np.zeros((4, 4)))
    with pytest.raises(InputError, match="2-D"):
        write_cog(da.expand_dims(band=[1]), tmp_path / "x.tif")
    with pytest.raises(OutputError, match="does not exist"):
        write_cog(da, tmp_path / "missing" / "x.tif")
    assert list(tmp_path.iterdir()) == []


def test_read_raster_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(MissingInputError, match=r"nope\.tif"):
        read_raster(tmp_path / "nope.tif")
    bad = tmp_path / "corrupt.tif"
    bad.write_bytes(b"II*\x00 not really a tiff")
    with pytest.raises(InputError, match=r"corrupt\.tif"):
        read_raster(bad)


def test_output_folder_is_all_or_nothing(tmp_path) -> None:
    target = tmp_path / "out"
    with pytest.raises(RuntimeError), output_folder(target) as work:
        (work / "half.txt").write_text("half")
        raise RuntimeError("stage failed")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with output_folder(target) as work:
        (work / "done.txt").write_text("ok")
    assert (target / "done.txt").read_text() == "ok"
    with pytest.raises(OutputError, match="already exists"), output_folder(target):
        pass
    with output_folder(target, overwrite=True) as work:
        (work / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]


def test_unwritable_parent_is_refused(tmp_path) -> None:
    with pytest.raises(OutputError, match="does not exist"), output_folder(tmp_path / "a" / "b"):
        pass
    if ROOT:
        # root can write anywhere; a path under a regular file is unwritable for everyone
        blocker = tmp_path / "file"
        blocker.write_text("x")
        with pytest.raises(OutputError), output_folder(blocker / "out"):
            pass
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(OutputError, match="not writable"), output_folder(locked / "out"):
            pass


def test_atomic_write_text_leaves_no_temporary_files(tmp_path) -> None:
    atomic_write_text(tmp_path / "a.json", "{}")
    atomic_write_text(tmp_path / "a.json", '{"b": 1}')
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
    assert (tmp_path / "a.json").read_text() == '{"b": 1}'
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "b.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "b.json").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


def test_manifest_records_versions_and_parameters(tmp_path) -> None:
    import json

    manifest(tmp_path / "m.json", inputs={"a": "x.tif"}, parameters={"seed": 3}, recipe={"id": "r"})
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["parameters"] == {"seed": 3} and doc["recipe"] == {"id": "r"}
    assert doc["versions"]["geosurvey"] == geosurvey.__version__
    assert doc["versions"]["xarray"] != "not installed"


def test_versions_read_once_and_handed_out_as_copies() -> None:
    from importlib import metadata

    from geosurvey.provenance import versions

    first = versions()
    assert first["dask"] == metadata.version("dask")  # the installed distribution's own record
    first["dask"] = "changed by a caller"
    assert versions()["dask"] == metadata.version("dask")


def test_utm_zone() -> None:
    assert utm_crs(-115.9, 38.2).to_epsg() == 32611
    assert utm_crs(24.0, 67.8).to_epsg() == 32635
    assert utm_crs(139.7, -35.0).to_epsg() == 32754
    with pytest.raises(GeometryError, match="UTM covers"):
        utm_crs(0, 85)


def test_geobox_covers_the_area_aligned_to_pixels() -> None:
    area = box(-116.0, 38.1, -115.8, 38.3)
    gbox = geobox_for(area, crs="EPSG:32611", resolution=100)
    assert gbox.crs.epsg == 32611
    assert gbox.resolution.x == 100 and gbox.resolution.y == -100  # north-up
    west, south, east, north = gbox.boundingbox
    assert west % 100 == 0 and north % 100 == 0
    from pyproj import Transformer

    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32611", always_xy=True)
    for lon, lat in area.exterior.coords:
        x, y = to_utm.transform(lon, lat)
        assert west <= x <= east and south <= y <= north
    with pytest.raises(CRSError, match="projected CRS in metres"):
        geobox_for(area, crs="EPSG:4326", resolution=0.001)
    with pytest.raises(GeometryError, match="positive"):
        geobox_for(area, crs="EPSG:32611", resolution=0)


def test_target_grid_takes_a_layer_or_a_geobox_and_refuses_what_is_not_a_metric_grid() -> None:
    from affine import Affine
    from odc.geo.geobox import GeoBox

    layer = grid_like(np.zeros((6, 8)), resolution=50.0, crs="EPSG:32633", chunks=4)
    gbox, chunks = target_grid(layer, what="f")
    assert gbox.shape.yx == (6, 8) and gbox.resolution.x == 50 and gbox.crs.epsg == 32633
    assert chunks == ((4, 2), (4, 4))
    assert target_grid(gbox, what="f") == (gbox, None)
    assert target_grid(layer.compute(), what="f")[1] is None
    with pytest.raises(InputError, match="f: the grid 'like' needs 'y' and 'x' dims"):
        target_grid(layer.rename(y="row"), what="f")
    with pytest.raises(InputError, match="f: 'like' must be a DataArray or an odc\\.geo GeoBox"):
        target_grid(np.zeros((2, 2)), what="f")  # type: ignore[arg-type]
    with pytest.raises(CRSError, match="f: the grid"):
        target_grid(GeoBox((4, 4), Affine(0.001, 0, 25, 0, -0.001, 67), "EPSG:4326"), what="f")
    rotated = GeoBox((4, 4), Affine(50, 10, 4e5, 10, -50, 7e6), "EPSG:32633")
    with pytest.raises(InputError, match="rotated grids are not supported"):
        target_grid(rotated, what="f")


def test_cli_version_and_help() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "geosurvey", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == f"geosurvey {geosurvey.__version__}"
    for args in ([], ["demo"], ["aoi"], ["catalog"], ["evidence"], ["show-versions"]):
        proc = subprocess.run(
            [sys.executable, "-m", "geosurvey", *args, "--help"], capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        assert "Usage:" in proc.stdout


def test_cli_usage_error_exits_2_with_one_line(capsys) -> None:
    assert main(["demo", "--lang", "xx"]) == 2
    err = capsys.readouterr().err
    assert "'xx' is not one of 'en', 'ja'" in err
    assert "Traceback" not in err


def test_cli_show_versions(capsys) -> None:
    assert main(["show-versions"]) == 0
    out = capsys.readouterr().out
    assert "geosurvey" in out and "odc-stac" in out


def test_flat_public_api_resolves() -> None:
    for name in geosurvey.__all__:
        assert getattr(geosurvey, name) is not None, name
    assert geosurvey.score is geosurvey.prospectivity.score
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = geosurvey.nope
