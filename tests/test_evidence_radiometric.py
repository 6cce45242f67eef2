"""Radiometric ratios, potassium anomaly and ternary composite on the real GTK gamma-ray grids
(which hold zeros, negative values and NaN), against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import geosurvey.evidence as ev
from geosurvey.errors import InputError
from geosurvey.io import read_raster
from geosurvey.testing import grid_like, raise_if_dask_computes

from conftest import require_shared

GRIDS = ("gtk_lapland_iocg", "grids_100m")


def load(name: str, units: str) -> xr.DataArray:
    da = read_raster(require_shared(*GRIDS, f"{name}.tif"), chunks={"y": 200, "x": 200})
    da.attrs["units"] = units
    return da


@pytest.fixture(scope="module")
def rad() -> dict[str, xr.DataArray]:
    return {"K": load("rad_K_pct", "%"), "eTh": load("rad_eTh_ppm", "ppm"), "eU": load("rad_eU_ppm", "ppm")}


def test_ratios_on_real_grids_are_safe_with_zeros_negatives_and_nan(rad):
    k, th = rad["K"].values.astype("float64"), rad["eTh"].values.astype("float64")
    assert (k <= 0).any() and np.isnan(k).any()  # the real grid has all three cases
    with raise_if_dask_computes():
        out = ev.radiometric_ratio(rad["eTh"], rad["K"])
    assert out.name == "rad_eTh_ppm_over_rad_K_pct" and out.attrs["units"] == "ppm/%"
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where((k > 0) & (th >= 0), th / k, np.nan)
    values = out.values
    np.testing.assert_allclose(values, expected, rtol=1e-6, equal_nan=True)
    assert np.isfinite(values[~np.isnan(values)]).all() and (values[~np.isnan(values)] >= 0).all()
    same_units = ev.radiometric_ratio(rad["eU"], rad["eTh"], name="u_th")
    assert same_units.attrs["units"] == "1" and same_units.name == "u_th"


def test_potassium_anomaly_is_the_residual_of_the_least_squares_fit(rad):
    with raise_if_dask_computes():
        anomaly = ev.potassium_anomaly(rad["K"], rad["eTh"])
    k, th = rad["K"].values.astype("float64"), rad["eTh"].values.astype("float64")
    valid = ~np.isnan(k) & ~np.isnan(th)
    slope, intercept = np.polyfit(th[valid], k[valid], 1)
    expected = np.where(valid, k - (intercept + slope * th), np.nan)
    np.testing.assert_allclose(anomaly.values, expected, rtol=1e-4, atol=1e-5, equal_nan=True)
    assert anomaly.attrs["units"] == "%"
    assert abs(np.nanmean(anomaly.values)) < 1e-4  # OLS residuals have zero mean


def test_thorium_normalised_potassium(rad):
    kd = ev.potassium_anomaly(rad["K"], rad["eTh"], method="thorium-normalised")
    k, th = rad["K"].values.astype("float64"), rad["eTh"].values.astype("float64")
    valid = ~np.isnan(k) & ~np.isnan(th)
    ks = k[valid].mean() / th[valid].mean() * th
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(valid & (ks > 0), (k - ks) / ks, np.nan)
    np.testing.assert_allclose(kd.values, expected, rtol=1e-4, atol=1e-6, equal_nan=True)
    assert kd.attrs["units"] == "1"
    with pytest.raises(InputError, match="method"):
        ev.potassium_anomaly(rad["K"], rad["eTh"], method="ratio")


def test_ternary_rgb_stretches_each_element_between_percentiles(rad):
    with raise_if_dask_computes():
        rgb = ev.ternary_rgb(rad["K"], rad["eTh"], rad["eU"], percentiles=(2, 98))
    assert rgb.dims == ("band", "y", "x") and list(rgb["band"].values) == ["red", "green", "blue"]
    values = rgb.values
    arrays = [rad[n].values.astype("float64") for n in ("K", "eTh", "eU")]
    valid = np.all([~np.isnan(a) for a in arrays], axis=0)
    for i, a in enumerate(arrays):
        lo, hi = np.percentile(a[valid], [2, 98])
        expected = np.where(valid, np.clip((a - lo) / (hi - lo), 0, 1), np.nan)
        np.testing.assert_allclose(values[i], expected, atol=1e-6, equal_nan=True)
    assert rgb.rio.crs == rad["K"].rio.crs


def test_refuses_layers_on_different_grids(rad):
    mag = read_raster(require_shared(*GRIDS, "mag_tmi_dgrf65_anomaly_nT.tif"))
    # the GTK magnetic grid is offset by ~6 m from the radiometric grids: not the same grid
    with pytest.raises(InputError, match="not on the same grid"):
        ev.radiometric_ratio(rad["K"], mag)
    with pytest.raises(InputError, match="percentiles"):
        ev.ternary_rgb(rad["K"], rad["eTh"], rad["eU"], percentiles=(90, 10))


def test_synthetic_zero_and_nan_cases():
    num = grid_like(np.array([[1.0, 2.0, np.nan, -1.0, 0.0]]), units="ppm")
    den = grid_like(np.array([[0.0, 4.0, 1.0, 2.0, -3.0]]), units="%")
    out = ev.radiometric_ratio(num, den).values
    np.testing.assert_array_equal(out, [[np.nan, 0.5, np.nan, np.nan, np.nan]])
