"""Gridding of the real Osborne airborne magnetic line data (Geoscience Australia, 1990)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer

import geosurvey.evidence as ev
from geosurvey.errors import InputError
from geosurvey.testing import raise_if_dask_computes

from conftest import require_shared

VALUE = "total_field_anomaly_nt"


@pytest.fixture(scope="module")
def osborne() -> pd.DataFrame:
    return pd.read_csv(require_shared("airborne_geophysics", "osborne-magnetic.csv.xz"))


@pytest.fixture(scope="module")
def held_out(osborne):
    """Every 4th flight line held out of the gridding, to check the grid against real readings."""
    lines = np.sort(osborne["flight_line"].unique())
    out = np.isin(osborne["flight_line"], lines[::4])
    return osborne[~out], osborne[out]


@pytest.fixture(scope="module")
def grid(held_out):
    train, _ = held_out
    with raise_if_dask_computes():  # the fit reads points; the prediction stays lazy
        out = ev.grid_survey_lines(train, value=VALUE, spacing=1000, height="height_orthometric_m")
    return out


def test_grid_is_a_north_up_utm_grid_with_a_cv_score(grid, osborne):
    assert grid.chunks is not None
    assert grid.rio.crs.to_epsg() == 32754  # Mt Isa, Queensland: UTM 54 S
    assert grid.dims == ("y", "x")
    assert (np.diff(grid.y.values) == -1000).all() and (np.diff(grid.x.values) == 1000).all()
    assert np.allclose((grid.x.values - 500) % 1000, 0)  # pixel edges on multiples of the spacing
    assert 0.5 < grid.attrs["cv_r2"] <= 1 and len(grid.attrs["cv_r2_folds"]) == 5
    assert grid.attrs["units"] == "nT" and "EquivalentSources" in grid.attrs["history"]
    # the grid covers the survey
    east, north = Transformer.from_crs(4326, 32754, always_xy=True).transform(
        osborne.longitude.values, osborne.latitude.values)
    assert grid.x.min() - 500 <= east.min() and grid.x.max() + 500 >= east.max()
    assert grid.y.min() - 500 <= north.min() and grid.y.max() + 500 >= north.max()


def test_grid_predicts_held_out_flight_lines(grid, held_out):
    _, test = held_out
    values = grid.compute()
    east, north = Transformer.from_crs(4326, 32754, always_xy=True).transform(
        test.longitude.values, test.latitude.values)
    sampled = values.interp(x=("p", east), y=("p", north), method="linear").values
    keep = np.isfinite(sampled)
    assert keep.mean() > 0.9
    observed = test[VALUE].to_numpy()[keep]
    residual = observed - sampled[keep]
    r2 = 1 - residual.var() / observed.var()
    assert r2 > 0.6, f"held-out R² {r2:.2f}"


def test_grid_is_masked_far_from_data(osborne):
    """A 10 km gap cut out of the survey is NaN at its centre (more than 2 km from any block)."""
    east, north = Transformer.from_crs(4326, 32754, always_xy=True).transform(
        osborne.longitude.values, osborne.latitude.values)
    ce, cn = np.median(east), np.median(north)
    gap = (np.abs(east - ce) < 5000) & (np.abs(north - cn) < 5000)
    out = ev.grid_survey_lines(osborne[~gap].iloc[::4], value=VALUE, spacing=1000, max_distance=2000).compute()
    assert np.isnan(out.sel(x=ce, y=cn, method="nearest"))
    assert np.isfinite(out.values).mean() > 0.9


def test_spline_and_refusals(osborne):
    sample = osborne.iloc[::20]
    spline = ev.grid_survey_lines(sample, value=VALUE, spacing=2000, method="spline")
    assert "Spline" in spline.attrs["history"] and np.isfinite(spline.attrs["cv_r2"])
    with pytest.raises(InputError, match="too many for a spline"):
        ev.grid_survey_lines(osborne, value=VALUE, spacing=200, method="spline")
    with pytest.raises(InputError, match="no column"):
        ev.grid_survey_lines(osborne, value="tmi", spacing=1000)
    with pytest.raises(InputError, match="spacing"):
        ev.grid_survey_lines(osborne, value=VALUE, spacing=-5)
    with pytest.raises(InputError, match="projected CRS in metres"):
        ev.grid_survey_lines(sample, value=VALUE, spacing=1000, crs="EPSG:4326")
