"""Slope, aspect and hillshade against analytic surfaces (planes, a Gaussian hill), on north-up
and south-up grids, lazily with overlap."""

from __future__ import annotations

import numpy as np
import pytest

import geosurvey.evidence as ev
from geosurvey.errors import CRSError, InputError
from geosurvey.testing import grid_like, raise_if_dask_computes


def surface(func, shape=(60, 80), resolution=25.0):
    """A DEM z = func(easting, northing) with both relative to the grid's centre (metres)."""
    base = grid_like(np.zeros(shape), crs="EPSG:32633", resolution=resolution, origin=(500_000.0, 6_000_000.0),
                     name="dem", units="m")
    east, north = np.meshgrid(base.x.values - base.x.values.mean(), base.y.values - base.y.values.mean())
    return base.copy(data=func(east, north))


@pytest.mark.parametrize(("ge", "gn", "facing"), [
    (0.0, 0.1, 180.0),   # rising to the north: faces south
    (0.1, 0.0, 270.0),   # rising to the east: faces west
    (-0.2, -0.2, 45.0),  # falling to the north-east: faces north-east
])
def test_plane_slope_aspect_hillshade(ge, gn, facing):
    dem = surface(lambda e, n: 100 + ge * e + gn * n)
    expected_slope = np.degrees(np.arctan(np.hypot(ge, gn)))
    for grid in (dem, dem.sortby("y")):
        np.testing.assert_allclose(ev.slope(grid).values, expected_slope, rtol=1e-5)
        np.testing.assert_allclose(ev.aspect(grid).values, facing, atol=1e-3)
        # Lambert: cos of the angle between the normal and the sun
        az, alt = np.radians(315.0), np.radians(45.0)
        normal = np.array([-ge, -gn, 1.0]) / np.sqrt(ge**2 + gn**2 + 1)
        sun = np.array([np.sin(az) * np.cos(alt), np.cos(az) * np.cos(alt), np.sin(alt)])
        np.testing.assert_allclose(ev.hillshade(grid).values, max(0.0, normal @ sun), atol=1e-5)


def test_gaussian_hill_slopes_face_outwards():
    dem = surface(lambda e, n: 500 * np.exp(-(e**2 + n**2) / (2 * 400.0**2)), shape=(81, 81), resolution=25.0)
    asp = ev.aspect(dem).values
    slp = ev.slope(dem).values
    assert np.isnan(asp[40, 40]) and slp[40, 40] == pytest.approx(0, abs=1e-6)  # flat summit
    assert asp[40, 60] == pytest.approx(90, abs=1e-3)   # east flank faces east
    assert asp[20, 40] == pytest.approx(0, abs=1e-3)    # north flank (upper rows) faces north
    # the analytic slope at 400 m east of the summit (one sigma): |dz/de| = 500/400 * e^-1/2
    col = 40 + 16
    analytic = np.degrees(np.arctan(500 / 400 * np.exp(-0.5)))
    assert slp[40, col] == pytest.approx(analytic, rel=0.01)


def test_terrain_is_lazy_and_chunked_equals_in_memory():
    rng = np.random.default_rng(0)
    values = np.cumsum(np.cumsum(rng.normal(size=(90, 70)), axis=0), axis=1)
    values[40:43, 10:12] = np.nan
    dem = grid_like(values, crs="EPSG:32633", resolution=25.0, name="dem", units="m")
    chunked = dem.chunk({"y": 25, "x": 30})
    for func in (ev.slope, ev.aspect, ev.hillshade):
        with raise_if_dask_computes():
            lazy = func(chunked)
        np.testing.assert_array_equal(lazy.values, func(dem).values)
        assert lazy.rio.crs == dem.rio.crs and "history" in lazy.attrs
    assert np.isnan(ev.slope(dem).values[39:44, 9:13]).all()  # next to nodata


def test_terrain_refusals():
    dem = grid_like(np.zeros((5, 5)), crs="EPSG:4326", resolution=0.01, origin=(20.0, 60.0))
    with pytest.raises(CRSError):
        ev.slope(dem.rename(latitude="y", longitude="x"))
    ok = grid_like(np.zeros((5, 5)), crs="EPSG:32633")
    with pytest.raises(InputError, match="altitude"):
        ev.hillshade(ok, altitude=100)
    with pytest.raises(InputError, match="z_factor"):
        ev.slope(ok, z_factor=0)
