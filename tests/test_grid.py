"""``grid.map_layer_blocks``: an element-wise block kernel over layers on one grid, one fused
Dask step; and the median composite over time built on the same idea."""

import warnings

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from dask.base import collections_to_expr

from geosurvey.catalogs._load import _median_over_time
from geosurvey.errors import InputError
from geosurvey.grid import VALUE_ATTRS, map_layer_blocks
from geosurvey.io import overview_resampling_for
from geosurvey.prospectivity import fuzzy_gamma, membership
from geosurvey.testing import grid_like, raise_if_dask_computes

RNG = np.random.default_rng(3)


def n_tasks(*arrays: dsa.Array) -> int:
    """Tasks Dask runs to compute ``arrays`` together, after its graph optimisation (fusion)."""
    expr = collections_to_expr(list(arrays), optimize_graph=True)
    expr = expr.optimize() if hasattr(expr, "optimize") else expr
    return len(expr.__dask_graph__())


def test_values_equal_the_kernel_on_whole_arrays_for_mixed_inputs() -> None:
    a, b = RNG.random((40, 30)), RNG.random((40, 30))
    lazy = grid_like(a, name="a", chunks=16)
    eager = grid_like(b, name="b").transpose("x", "y")  # in memory, the other dimension order
    with raise_if_dask_computes():
        out = map_layer_blocks(lambda p, q: (2 * p + q).astype(np.float32), lazy, eager,
                               dtype="float32")
    assert out.dims == ("y", "x") and out.chunks == lazy.chunks and out.dtype == np.float32
    np.testing.assert_allclose(out.values, (2 * a + b).astype(np.float32))
    xr.testing.assert_identical(out.x, lazy.x)


def test_in_memory_layers_are_computed_at_once() -> None:
    a = RNG.random((5, 4))
    out = map_layer_blocks(np.sqrt, grid_like(a), dtype="float64")
    assert out.chunks is None
    np.testing.assert_array_equal(out.values, np.sqrt(a))


def test_name_and_attrs_kept_and_only_grid_mapping_of_the_encoding() -> None:
    layer = grid_like(RNG.random((8, 8)), name="tilt", units="rad", chunks=4)
    layer.encoding = {"grid_mapping": "spatial_ref", "dtype": "int16", "scale_factor": 0.1}
    out = map_layer_blocks(np.negative, layer, dtype=layer.dtype)
    assert out.name == "tilt" and out.attrs == {"units": "rad"}
    assert out.encoding == {"grid_mapping": "spatial_ref"}
    assert out.odc.crs == layer.odc.crs


def test_attrs_that_describe_the_old_values_are_not_carried() -> None:
    codes = grid_like(RNG.integers(0, 3, (8, 8)).astype(np.int16), name="lithology", chunks=4)
    codes.attrs.update(history="categorical_raster(unit)", nodata=-1, flag_values=[0, 1, 2],
                       flag_meanings="granite gabbro schist", valid_range=[0, 2],
                       categories=["granite", "gabbro", "schist"])  # fmt: skip
    out = map_layer_blocks(lambda x: (x == 1).astype(np.float32), codes, dtype="float32")
    assert out.attrs == {"units": "1", "history": "categorical_raster(unit)"}
    assert overview_resampling_for(out) == "average"
    mu = membership(codes, kind="linear", low=0, high=2)
    assert not VALUE_ATTRS & set(mu.attrs) and mu.attrs["history"].startswith("categorical_raster")


def test_no_layer_is_refused() -> None:
    with pytest.raises(InputError, match="at least one layer"):
        map_layer_blocks(np.negative, dtype="float32")


def test_a_membership_chain_is_one_task_a_block() -> None:
    # memberships of two layers combined by the gamma operator: Dask fuses the three block steps
    # into one task a block (xarray.apply_ufunc's gufunc steps did not fuse: twice the tasks)
    a = grid_like(RNG.random((64, 48)), name="a", chunks=16)
    b = grid_like(RNG.random((64, 48)), name="b", chunks=16)
    blocks = a.data.npartitions
    ma = membership(a, kind="linear", low=0.0, high=1.0)
    mb = membership(b, kind="sigmoid", midpoint=0.5, spread=0.1)
    score = fuzzy_gamma([ma, mb], gamma=0.8)
    sources = n_tasks(a.data, b.data)
    assert n_tasks(ma.data) == n_tasks(a.data) + blocks
    assert n_tasks(score.data) == sources + blocks
    # the same values as the formulas on the whole arrays
    mu_a = np.clip(a.values, 0, 1)
    mu_b = 1 / (1 + np.exp(-(b.values - 0.5) / 0.1))
    expected = (1 - (1 - mu_a) * (1 - mu_b)) ** 0.8 * (mu_a * mu_b) ** 0.2
    np.testing.assert_allclose(score.values, expected, rtol=1e-12)


def test_median_over_time_equals_nanmedian_lazily_and_in_memory() -> None:
    values = RNG.random((5, 30, 20)).astype(np.float32)
    values[RNG.random(values.shape) < 0.3] = np.nan
    values[:, 2, 3] = np.nan  # no valid value at any time
    base = grid_like(values[0], name="b8")
    stack = xr.concat([base.copy(data=v) for v in values], dim="time").assign_coords(
        time=np.arange(5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's warning for the all-NaN pixel
        expected = np.nanmedian(values, axis=0)
    lazy = stack.chunk({"time": 1, "y": 16, "x": 8})
    with raise_if_dask_computes():
        got = _median_over_time(lazy)
    assert got.dims == ("y", "x") and "time" not in got.coords and got.dtype == np.float32
    assert got.chunks == ((16, 14), (8, 8, 4))
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal(got.values, expected)
    np.testing.assert_array_equal(_median_over_time(stack).values, expected)
    assert np.isnan(got.values[2, 3])
