"""Fuzzy memberships, overlays and recipes against their formulas (Bonham-Carter 1994, ch. 9)."""

import numpy as np
import pytest
import xarray as xr

from geosurvey.errors import BandError, InputError, MissingInputError, RecipeError
from geosurvey.prospectivity import (
    fuzzy_and,
    fuzzy_gamma,
    fuzzy_or,
    fuzzy_product,
    fuzzy_sum,
    load_recipe,
    membership,
    score,
)
from geosurvey.testing import grid_like, raise_if_dask_computes

RNG = np.random.default_rng(42)


def layer(
    values: np.ndarray, name: str = "ev", chunks: int | None = None, units: str = "1"
) -> xr.DataArray:
    return grid_like(values.astype("float64"), name=name, chunks=chunks, units=units)


def test_linear_membership_matches_formula() -> None:
    x = np.array([[-1.0, 0.0, 2.5], [5.0, 7.0, np.nan]])
    mu = membership(layer(x), kind="linear", low=0.0, high=5.0).values
    expected = np.clip((x - 0) / 5, 0, 1)
    np.testing.assert_allclose(mu, expected)
    mu_dec = membership(layer(x), kind="linear", low=0.0, high=5.0, increasing=False).values
    np.testing.assert_allclose(mu_dec, 1 - expected)


def test_sigmoid_large_small_gaussian_match_formulas() -> None:
    x = RNG.uniform(-2, 10, size=(6, 7))
    ev = layer(x)
    np.testing.assert_allclose(
        membership(ev, kind="sigmoid", midpoint=1.0, spread=0.5).values,
        1 / (1 + np.exp(-(x - 1) / 0.5)),
    )
    pos = x > 0
    large = np.where(pos, 1 / (1 + (np.where(pos, x, 1) / 3.0) ** -2.0), 0.0)
    np.testing.assert_allclose(membership(ev, kind="large", midpoint=3.0, spread=2.0).values, large)
    small = 1 / (1 + (np.clip(x, 0, None) / 3.0) ** 2.0)
    np.testing.assert_allclose(membership(ev, kind="small", midpoint=3.0, spread=2.0).values, small)
    np.testing.assert_allclose(
        membership(ev, kind="gaussian", midpoint=4.0, spread=1.5).values,
        np.exp(-0.5 * ((x - 4) / 1.5) ** 2),
    )


def test_membership_keeps_nan_units_and_history() -> None:
    x = np.array([[1.0, np.nan]])
    mu = membership(layer(x), kind="small", midpoint=1.0, spread=2.0)
    assert np.isnan(mu.values[0, 1])
    assert mu.attrs["units"] == "1"
    assert "membership(small" in mu.attrs["history"]
    assert mu.odc.crs is not None


def test_membership_bad_parameters_are_refused() -> None:
    ev = layer(np.ones((2, 2)), name="tilt")
    with pytest.raises(InputError, match=r"'tilt'.*needs midpoint"):
        membership(ev, kind="sigmoid", spread=1.0)
    with pytest.raises(InputError, match="low < high"):
        membership(ev, kind="linear", low=2, high=1)
    with pytest.raises(InputError, match="unknown membership kind"):
        membership(ev, kind="cubic")  # type: ignore[arg-type]


def test_overlays_match_formulas() -> None:
    a, b, c = (RNG.uniform(0, 1, size=(5, 5)) for _ in range(3))
    layers = [layer(v, name=n) for v, n in zip((a, b, c), "abc", strict=True)]
    prod = a * b * c
    fsum = 1 - (1 - a) * (1 - b) * (1 - c)
    np.testing.assert_allclose(fuzzy_and(layers).values, np.minimum(np.minimum(a, b), c))
    np.testing.assert_allclose(fuzzy_or(layers).values, np.maximum(np.maximum(a, b), c))
    np.testing.assert_allclose(fuzzy_product(layers).values, prod)
    np.testing.assert_allclose(fuzzy_sum(layers).values, fsum)
    np.testing.assert_allclose(fuzzy_gamma(layers, gamma=0.7).values, fsum**0.7 * prod**0.3)
    np.testing.assert_allclose(fuzzy_gamma(layers, gamma=0.0).values, prod)
    np.testing.assert_allclose(fuzzy_gamma(layers, gamma=1.0).values, fsum)
    # the gamma operator lies between product and sum
    g = fuzzy_gamma(layers, gamma=0.8).values
    assert np.all(g >= prod - 1e-12) and np.all(g <= fsum + 1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gamma_kernel_equals_the_formula_on_chunks_views_nan_and_zeros(dtype: str) -> None:
    # the hand-written kernel (numba fold, one power) against the textbook expression in float64:
    # NaN where any layer is NaN, 0 where every membership is 0, chunk edges that are views into
    # a wider array (copied strip by strip), a float32 layer mixed with float64 ones
    rng = np.random.default_rng(7)
    values = [rng.uniform(0, 1, size=(70, 45)) for _ in range(4)]
    values[1][3, 4] = np.nan
    for v in values:
        v[5, :] = 0.0
    values[2][9, :] = 1.0  # a certain layer: the sum is 1, the product the others'
    values[0] = values[0].astype("float32").astype("float64")  # given as float32 below
    stack = np.stack(values)
    expected = (1 - np.prod(1 - stack, axis=0)) ** 0.8 * np.prod(stack, axis=0) ** 0.2
    layers = [
        grid_like(v.astype(dtype if i else "float32"), name=f"m{i}", chunks=32, units="1")
        for i, v in enumerate(values)
    ]
    got = fuzzy_gamma(layers, gamma=0.8)
    assert got.dtype == np.dtype(dtype) and got.chunks == layers[1].chunks
    got = got.values
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.isnan(got[3, 4]) and np.all(got[5, :] == 0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == "float32" else 1e-12)


def test_overlays_refuse_mismatched_grids_and_bad_gamma() -> None:
    with pytest.raises(InputError, match="not on the same grid"):
        fuzzy_gamma([layer(np.ones((2, 2)), "a"), layer(np.ones((3, 2)), "b")])
    # same shape, coordinates shifted by one pixel: xarray would inner-join them to a smaller score
    a, b = layer(np.ones((4, 4)), "a"), layer(np.ones((4, 4)), "b")
    b = b.assign_coords(x=b.x + float(b.x[1] - b.x[0]))
    with pytest.raises(InputError, match="'a' and 'b' are not on the same grid"):
        fuzzy_gamma([a, b])
    with pytest.raises(InputError, match="gamma must be between"):
        fuzzy_gamma([layer(np.ones((2, 2)))], gamma=1.5)
    with pytest.raises(InputError, match="at least one"):
        fuzzy_gamma([])


def test_scoring_is_lazy_and_chunked_equals_in_memory() -> None:
    recipe = load_recipe("demo-iocg")
    data = {spec.layer: RNG.uniform(-1, 3000, size=(40, 30)) for spec in recipe.evidence}
    units = {spec.layer: spec.units for spec in recipe.evidence}
    eager = score({k: layer(v, name=k, units=units[k]) for k, v in data.items()}, recipe)
    with raise_if_dask_computes():
        lazy = score(
            {k: layer(v, name=k, chunks=16, units=units[k]) for k, v in data.items()}, recipe
        )
    assert lazy.chunks is not None
    xr.testing.assert_allclose(lazy.compute(), eager)
    assert float(eager.min()) >= 0 and float(eager.max()) <= 1
    assert eager.attrs["recipe"] == "demo-iocg"


def test_score_names_missing_evidence() -> None:
    recipe = load_recipe("demo-iocg")
    with pytest.raises(BandError, match="needs evidence layers"):
        score({"nothing": layer(np.ones((2, 2)))}, recipe)


def test_recipe_errors_name_the_file(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'id = "x"\n[[evidence]]\nlayer = "a"\nunits = "1"\nband = "k"\n'
        'steps = [{ fn = "tilt_derivative" }]\n[evidence.membership]\nkind = "cubic"\n'
    )
    with pytest.raises(RecipeError, match=r"bad\.toml.*unknown membership kind 'cubic'"):
        load_recipe(bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("id = \n")
    with pytest.raises(RecipeError, match="not valid TOML"):
        load_recipe(broken)
    with pytest.raises(MissingInputError, match="shipped recipes"):
        load_recipe("no-such-recipe")
