"""Potential-field transforms: against harmonica on the real GTK grid, against analytic dipole
(sphere) and prism anomalies, on north-up and south-up grids, with NaN, lazily on Dask."""

from __future__ import annotations

import warnings

import harmonica as hm
import numpy as np
import pytest
import xarray as xr

import geosurvey.evidence as ev
from geosurvey.errors import CRSError, InputError
from geosurvey.io import read_raster
from geosurvey.testing import grid_like, raise_if_dask_computes

from conftest import require_shared

MAG = ("gtk_lapland_iocg", "grids_100m", "mag_tmi_dgrf65_anomaly_nT.tif")
INC, DEC = 77.0, 10.0  # approximate geomagnetic field over Kolari (the brief's example)


# ---------------------------------------------------------------------------------------------
# Helpers: the real grid, harmonica as an oracle, analytic anomalies
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gtk_mag() -> xr.DataArray:
    """The GTK magnetic grid as read from the GeoTIFF (north-up, 17 % NaN), in memory."""
    da = read_raster(require_shared(*MAG), chunks=None)
    da.attrs["units"] = "nT"
    return da


@pytest.fixture(scope="module")
def gtk_window(gtk_mag) -> xr.DataArray:
    """A NaN-free, odd-sized window of the real grid (odd sizes have no Nyquist ambiguity)."""
    win = gtk_mag.isel(y=slice(300, 555), x=slice(200, 457)).astype("float64")
    assert not win.isnull().any(), "the chosen window of the GTK grid should hold no NaN"
    return win


def harmonica_oracle(func, grid: xr.DataArray, **kwargs) -> np.ndarray:
    """Run a harmonica transform with its coordinates handled correctly and return our row order.

    harmonica wants ``(northing, easting)`` dims with ascending coordinates and no NaN: sort the
    north-up grid south-up, transform, and reindex back to the input's rows.
    """
    asc = grid.sortby("y").rename(y="northing", x="easting").drop_vars("spatial_ref")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # xrft's own deprecation warnings
        out = func(asc, **kwargs)
    return out.rename(northing="y", easting="x").reindex(y=grid.y, x=grid.x).values


def dipole_tmi(grid: xr.DataArray, *, inclination, declination, depth, moment=1e11, height=0.0):
    """Total-field anomaly (nT) of a uniformly magnetised sphere (a dipole) below the grid centre.

    Induced magnetisation parallel to the field; the anomaly is the projection of the dipole's
    field on the field direction (Blakely 1995, eq. 4.14 / 12.x).
    """
    east, north = np.meshgrid(grid.x.values, grid.y.values)
    up = np.full_like(east, height)
    centre = (float(grid.x.mean()), float(grid.y.mean()), -depth)
    m = np.array(hm.magnetic_angles_to_vec(moment, inclination, declination))
    be, bn, bu = hm.dipole_magnetic((east, north, up), centre, m, field="b")
    f = np.array(hm.magnetic_angles_to_vec(1.0, inclination, declination))
    return f[0] * be + f[1] * bn + f[2] * bu


def synthetic(values: np.ndarray, *, resolution=100.0, name="tmi", units="nT", chunks=None):
    return grid_like(values, crs="EPSG:32633", resolution=resolution, origin=(400_000.0, 7_000_000.0),
                     name=name, units=units, chunks=chunks)


# ---------------------------------------------------------------------------------------------
# Real GTK grid against harmonica (an independent implementation)
# ---------------------------------------------------------------------------------------------


def test_rtp_matches_harmonica_on_real_north_up_grid(gtk_window):
    ours = ev.reduction_to_pole(gtk_window, inclination=INC, declination=DEC, pad=0).values
    theirs = harmonica_oracle(hm.reduction_to_pole, gtk_window, inclination=INC, declination=DEC)
    # harmonica zeroes the mean (k = 0); ours keeps it
    ours, theirs = ours - ours.mean(), theirs - theirs.mean()
    np.testing.assert_allclose(ours, theirs, atol=1e-6 * np.abs(theirs).max())


def test_rtp_with_remanence_matches_harmonica(gtk_window):
    ours = ev.reduction_to_pole(gtk_window, inclination=INC, declination=DEC, magnetization_inclination=-40,
                                magnetization_declination=150, pad=0).values
    theirs = harmonica_oracle(hm.reduction_to_pole, gtk_window, inclination=INC, declination=DEC,
                              magnetization_inclination=-40, magnetization_declination=150)
    ours, theirs = ours - ours.mean(), theirs - theirs.mean()
    np.testing.assert_allclose(ours, theirs, atol=1e-6 * np.abs(theirs).max())


@pytest.mark.parametrize("order", [1, 2])
def test_vertical_derivative_is_harmonica_upward_derivative_with_z_down_sign(gtk_window, order):
    ours = ev.vertical_derivative(gtk_window, order=order, pad=0).values
    theirs = harmonica_oracle(hm.derivative_upward, gtk_window, order=order)
    # d/dz (down) = (-1)^n d/dz (up)
    np.testing.assert_allclose(ours, (-1) ** order * theirs, atol=1e-9 * np.abs(theirs).max())


def test_upward_continuation_matches_harmonica(gtk_window):
    ours = ev.upward_continuation(gtk_window, height=500, pad=0).values
    theirs = harmonica_oracle(hm.upward_continuation, gtk_window, height_displacement=500)
    ours, theirs = ours - ours.mean(), theirs - theirs.mean()
    np.testing.assert_allclose(ours, theirs, atol=1e-9 * np.abs(theirs).max())


def test_tilt_is_harmonica_tilt_with_z_down(gtk_window):
    ours = ev.tilt_derivative(gtk_window, pad=0).values
    # harmonica's tilt uses the upward derivative: with z down the tilt changes sign
    theirs = harmonica_oracle(hm.tilt_angle, gtk_window)
    np.testing.assert_allclose(ours, -theirs, atol=1e-9)


def test_analytic_signal_matches_harmonica_total_gradient_amplitude(gtk_window):
    ours = ev.analytic_signal(gtk_window, pad=0).values
    theirs = harmonica_oracle(hm.total_gradient_amplitude, gtk_window)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9 * theirs.max())


def test_horizontal_derivatives_match_harmonica_finite_differences(gtk_window):
    for ours_func, theirs_func in ((ev.derivative_easting, hm.derivative_easting),
                                   (ev.derivative_northing, hm.derivative_northing)):
        ours = ours_func(gtk_window).values
        theirs = harmonica_oracle(theirs_func, gtk_window)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9 * np.abs(theirs).max())


def test_whole_real_grid_with_nan_keeps_mask_grid_and_crs(gtk_mag):
    rtp = ev.reduction_to_pole(gtk_mag, inclination=INC, declination=DEC)
    valid = gtk_mag.notnull().values
    assert (~valid).sum() > 0.1 * valid.size  # the real grid really has holes
    out = rtp.values
    assert np.array_equal(np.isnan(out), ~valid)
    assert np.isfinite(out[valid]).all()
    assert rtp.rio.crs == gtk_mag.rio.crs
    assert rtp.rio.transform() == gtk_mag.rio.transform()
    assert rtp.dtype == np.float32
    assert rtp.attrs["units"] == "nT"
    assert "reduction_to_pole" in rtp.attrs["history"] and "read mag_tmi" in rtp.attrs["history"]


def test_rtp_on_real_grid_moves_anomalies_over_their_sources(gtk_mag):
    """At I = 77° the RTP of a real anomaly is more symmetric: its negative lobe (north of the
    source in the northern hemisphere) is weaker relative to the positive peak."""
    win = gtk_mag.isel(y=slice(300, 555), x=slice(200, 457))
    rtp = ev.reduction_to_pole(win, inclination=INC, declination=DEC)
    ratio_before = -float(win.min() - win.mean()) / float(win.max() - win.mean())
    ratio_after = -float(rtp.min() - rtp.mean()) / float(rtp.max() - rtp.mean())
    assert ratio_after < ratio_before


# ---------------------------------------------------------------------------------------------
# Analytic anomalies: sphere (dipole) and prism
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sphere_grid():
    n = 257
    return synthetic(np.zeros((n, n)), resolution=100.0)


def test_rtp_of_sphere_equals_its_anomaly_at_the_pole(sphere_grid):
    depth = 1500.0
    tmi = sphere_grid.copy(data=dipole_tmi(sphere_grid, inclination=55, declination=25, depth=depth))
    pole = dipole_tmi(sphere_grid, inclination=90, declination=0, depth=depth)
    rtp = ev.reduction_to_pole(tmi, inclination=55, declination=25).values
    peak = np.abs(pole).max()
    err = np.abs((rtp - rtp.mean()) - (pole - pole.mean()))
    assert err.max() < 0.02 * peak
    # the maximum sits right above the sphere (grid centre), as at the pole
    iy, ix = np.unravel_index(np.argmax(rtp), rtp.shape)
    assert (iy, ix) == (128, 128)


def test_rtp_of_sphere_is_right_on_south_up_grids_too(sphere_grid):
    depth = 1500.0
    tmi = sphere_grid.copy(data=dipole_tmi(sphere_grid, inclination=55, declination=25, depth=depth))
    north_up = ev.reduction_to_pole(tmi, inclination=55, declination=25)
    south_up = ev.reduction_to_pole(tmi.sortby("y"), inclination=55, declination=25)
    # equal up to the padding's odd extra row, which falls on the other side when flipped
    np.testing.assert_allclose(south_up.reindex(y=tmi.y).values, north_up.values,
                               atol=1e-3 * float(np.abs(north_up).max()))
    # and the transform did not just flip the anomaly: check against the pole anomaly
    pole = dipole_tmi(sphere_grid, inclination=90, declination=0, depth=depth)
    asc_pole = pole[::-1]
    err = np.abs((south_up.values - south_up.values.mean()) - (asc_pole - asc_pole.mean()))
    assert err.max() < 0.02 * np.abs(pole).max()


def test_vertical_derivative_and_upward_continuation_of_sphere(sphere_grid):
    depth, h = 1200.0, 1.0
    args = {"inclination": 90, "declination": 0, "depth": depth}
    tmi = sphere_grid.copy(data=dipole_tmi(sphere_grid, **args))
    # z down: the field 1 m below minus 1 m above, over 2 m
    analytic_dz = (dipole_tmi(sphere_grid, height=-h, **args) - dipole_tmi(sphere_grid, height=h, **args)) / (2 * h)
    dz = ev.vertical_derivative(tmi).values
    assert np.abs(dz - analytic_dz).max() < 0.01 * np.abs(analytic_dz).max()
    assert dz[128, 128] > 0  # positive above the source with z down
    analytic_up = dipole_tmi(sphere_grid, height=400.0, **args)
    up = ev.upward_continuation(tmi, height=400.0).values
    assert np.abs((up - up.mean()) - (analytic_up - analytic_up.mean())).max() < 0.01 * np.abs(analytic_up).max()


def test_tilt_is_positive_over_a_sphere_and_negative_far_away(sphere_grid):
    tmi = sphere_grid.copy(data=dipole_tmi(sphere_grid, inclination=90, declination=0, depth=1000.0))
    tilt = ev.tilt_derivative(tmi)
    assert tilt.attrs["units"] == "rad"
    values = tilt.values
    assert values[128, 128] == pytest.approx(np.pi / 2, abs=0.05)  # no horizontal gradient at the apex
    assert values[128, 128 + 60] < 0  # 6 km away, outside the source
    # Miller & Singh: for a vertical contact/sphere the zero contour lies near the source edge
    assert (np.abs(values) <= np.pi / 2 + 1e-9).all()


def test_vertical_derivative_of_prism_gravity_matches_analytic(sphere_grid):
    """Gravity equivalent: the z-down derivative of a prism's g_z (mGal) in mGal/m."""
    east, north = np.meshgrid(sphere_grid.x.values, sphere_grid.y.values)
    cx, cy = float(sphere_grid.x.mean()), float(sphere_grid.y.mean())
    prism = [cx - 1500, cx + 1500, cy - 1000, cy + 1000, -3000, -800]

    def g_z(height):
        return hm.prism_gravity((east, north, np.full_like(east, height)), prism, 500.0, field="g_z")

    gz = sphere_grid.copy(data=g_z(0.0))
    gz.attrs["units"] = "mGal"
    analytic = (g_z(-1.0) - g_z(1.0)) / 2.0  # harmonica's g_z is positive down
    dz = ev.vertical_derivative(gz)
    assert dz.attrs["units"] == "mGal/m"
    assert np.abs(dz.values - analytic).max() < 0.02 * np.abs(analytic).max()
    thg = ev.total_horizontal_gradient(gz).values
    # Cordell & Grauch: maxima of the horizontal gradient over the prism's edges
    row = thg[128]
    edge_col = int(np.argmax(row[:128]))
    assert abs(sphere_grid.x.values[edge_col] - (cx - 1500)) <= 300


def test_analytic_signal_of_sphere_is_nearly_independent_of_inclination(sphere_grid):
    a = []
    for inc in (90, 30):
        tmi = sphere_grid.copy(data=dipole_tmi(sphere_grid, inclination=inc, declination=0, depth=1000.0))
        a.append(ev.analytic_signal(tmi).values)
    # the peak of |A| stays within 2 pixels of the source for both
    for amp in a:
        iy, ix = np.unravel_index(np.argmax(amp), amp.shape)
        assert abs(iy - 128) <= 3 and abs(ix - 128) <= 3


# ---------------------------------------------------------------------------------------------
# Orientation, NaN, low latitudes
# ---------------------------------------------------------------------------------------------


def test_horizontal_derivatives_of_a_plane_on_both_orientations():
    ny, nx = 40, 50
    base = synthetic(np.zeros((ny, nx)))
    east, north = np.meshgrid(base.x.values, base.y.values)
    plane = base.copy(data=0.002 * (east - east.mean()) - 0.005 * (north - north.mean()))
    for grid in (plane, plane.sortby("y")):
        np.testing.assert_allclose(ev.derivative_easting(grid).values, 0.002, rtol=1e-9)
        np.testing.assert_allclose(ev.derivative_northing(grid).values, -0.005, rtol=1e-9)
        np.testing.assert_allclose(ev.total_horizontal_gradient(grid).values, np.hypot(0.002, 0.005), rtol=1e-9)


def test_nan_holes_are_restored_and_barely_disturb_the_rest(sphere_grid):
    tmi = dipole_tmi(sphere_grid, inclination=90, declination=0, depth=1000.0)
    holed = tmi.copy()
    holed[10:20, 200:215] = np.nan
    full = ev.vertical_derivative(sphere_grid.copy(data=tmi)).values
    out = ev.vertical_derivative(sphere_grid.copy(data=holed)).values
    assert np.isnan(out[10:20, 200:215]).all()
    assert np.isfinite(np.delete(out.ravel(), np.flatnonzero(np.isnan(holed)))).all()
    # far from the hole (the anomaly's centre) the result is unchanged to 0.1 %
    assert abs(out[128, 128] - full[128, 128]) < 1e-3 * abs(full[128, 128])


def test_all_nan_grid_gives_all_nan():
    grid = synthetic(np.full((20, 30), np.nan))
    assert np.isnan(ev.tilt_derivative(grid).values).all()


def test_low_latitude_rtp_is_bounded_by_the_pseudo_inclination():
    rng = np.random.default_rng(0)
    noise = synthetic(rng.normal(size=(128, 128)))
    stable = ev.reduction_to_pole(noise, inclination=3, declination=0).values
    plain = ev.reduction_to_pole(noise, inclination=3, declination=0, pseudo_inclination=0).values
    # gain of the corrected filter is at most 1/sin²(20°) ≈ 8.5
    assert stable.std() < 1 / np.sin(np.radians(20)) ** 2 * noise.values.std()
    assert plain.std() > 5 * stable.std()
    assert "pseudo-inclination" in ev.reduction_to_pole(noise, inclination=3, declination=0).attrs["history"]


def test_pseudo_inclination_does_not_touch_high_latitudes(gtk_window):
    a = ev.reduction_to_pole(gtk_window, inclination=INC, declination=DEC).values
    b = ev.reduction_to_pole(gtk_window, inclination=INC, declination=DEC, pseudo_inclination=0).values
    np.testing.assert_array_equal(a, b)


def test_padding_reduces_edge_effects(sphere_grid):
    """A sphere near the edge: mirror padding + taper beats none against the analytic answer."""
    grid = synthetic(np.zeros((101, 101)))
    east, north = np.meshgrid(grid.x.values, grid.y.values)
    centre = (float(grid.x.values[15]), float(grid.y.values[50]), -800.0)
    m = np.array(hm.magnetic_angles_to_vec(1e10, 90, 0))

    def tmi(height):
        *_, b_up = hm.dipole_magnetic((east, north, np.full_like(east, height)), centre, m, field="b")
        return -b_up

    data = grid.copy(data=tmi(0.0))
    analytic = (tmi(-1.0) - tmi(1.0)) / 2.0
    err = {pad: np.abs(ev.vertical_derivative(data, pad=pad).values - analytic).max() for pad in (0.0, 0.5)}
    assert err[0.5] < err[0.0]


# ---------------------------------------------------------------------------------------------
# Dask: lazy, chunked == in memory
# ---------------------------------------------------------------------------------------------

TRANSFORMS = {
    "rtp": lambda g: ev.reduction_to_pole(g, inclination=INC, declination=DEC),
    "dz": lambda g: ev.vertical_derivative(g),
    "dzz": lambda g: ev.vertical_derivative(g, order=2),
    "de": ev.derivative_easting,
    "dn": ev.derivative_northing,
    "thg": ev.total_horizontal_gradient,
    "tilt": ev.tilt_derivative,
    "as": ev.analytic_signal,
    "up": lambda g: ev.upward_continuation(g, height=300),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transforms_are_lazy_and_chunked_equals_in_memory(gtk_mag, name):
    chunked = gtk_mag.chunk({"y": 200, "x": 256})
    with raise_if_dask_computes():
        out = TRANSFORMS[name](chunked)
    assert out.chunks == chunked.chunks  # back to the input's chunks after the global step
    np.testing.assert_array_equal(out.values, TRANSFORMS[name](gtk_mag).values)


def test_leading_dimensions_are_transformed_plane_by_plane(gtk_window):
    stack = xr.concat([gtk_window, 2 * gtk_window], dim="time").chunk({"time": 1})
    out = ev.vertical_derivative(stack, pad=0).compute()
    single = ev.vertical_derivative(gtk_window, pad=0).values
    np.testing.assert_allclose(out.isel(time=1).values, 2 * single, rtol=1e-9, atol=1e-12)
    assert out.dims == ("time", "y", "x")


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------


def test_refuses_grid_without_crs():
    base = synthetic(np.zeros((10, 10)))
    grid = xr.DataArray(np.zeros((10, 10)), coords={"y": base.y.values, "x": base.x.values}, dims=("y", "x"))
    with pytest.raises(CRSError, match="no CRS"):
        ev.vertical_derivative(grid)


def test_refuses_geographic_grid():
    grid = grid_like(np.zeros((10, 10)), crs="EPSG:4326", resolution=0.01, origin=(20.0, 68.0))
    grid = grid.rename(latitude="y", longitude="x")
    with pytest.raises(CRSError, match="not a projected CRS in metres"):
        ev.tilt_derivative(grid)


def test_refuses_uneven_coordinates():
    grid = synthetic(np.zeros((10, 10)))
    x = grid.x.values.copy()
    x[5:] += 7.0
    with pytest.raises(InputError, match="not evenly spaced"):
        ev.analytic_signal(grid.assign_coords(x=x))


def test_refuses_bad_options():
    grid = synthetic(np.zeros((10, 10)))
    with pytest.raises(InputError, match="inclination"):
        ev.reduction_to_pole(grid, inclination=120, declination=0)
    with pytest.raises(InputError, match="both magnetization"):
        ev.reduction_to_pole(grid, inclination=60, declination=0, magnetization_inclination=10)
    with pytest.raises(InputError, match="positive number of metres"):
        ev.upward_continuation(grid, height=-100)
    with pytest.raises(InputError, match="order"):
        ev.vertical_derivative(grid, order=0)
    with pytest.raises(InputError, match="pad"):
        ev.tilt_derivative(grid, pad=-1)
    with pytest.raises(InputError, match="'y'"):
        ev.vertical_derivative(grid.rename(y="northing"))
    with pytest.raises(InputError, match="too close to 0"):
        ev.reduction_to_pole(grid, inclination=0.5, declination=0, pseudo_inclination=0)
