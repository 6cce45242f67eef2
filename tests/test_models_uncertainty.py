"""Ensemble uncertainty, risk-return classes, per-pixel SHAP contributions and target drivers.

Checked against independent computations: the members refitted here with scikit-learn, numpy's mean
and standard deviation, SHAP additivity against the model's own output, hand-made zonal means."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from geosurvey.errors import InputError
from geosurvey.prospectivity import (
    RasterClassifier,
    background_cells,
    fit_ensemble,
    occurrence_cells,
    risk_return_classes,
    risk_return_thresholds,
    stack_layers,
    target_drivers,
    top_layers,
    training_sample,
    tree_contributions,
)
from geosurvey.testing import grid_like, raise_if_dask_computes


def _layers(n: int = 40, chunks: int = 16):
    rng = np.random.default_rng(11)
    a = rng.normal(size=(n, n))
    b = rng.normal(size=(n, n))
    c = rng.normal(size=(n, n))
    c[:3, :4] = np.nan
    return {k: grid_like(v, name=k, chunks=chunks) for k, v in {"a": a, "b": b, "c": c}.items()}


def _positives(layers, k: int = 20):
    a = layers["a"].values
    rows, cols = np.unravel_index(np.argsort(a, axis=None)[-k:], a.shape)
    occ = gpd.GeoDataFrame(
        geometry=shapely.points(layers["a"].x.values[cols], layers["a"].y.values[rows]), crs="EPSG:32611"
    )
    return occurrence_cells(layers["a"], occ)


@pytest.mark.filterwarnings("error::RuntimeWarning")  # NaN cells: no warning from any block
def test_ensemble_mean_and_std_equal_members_refitted_independently():
    layers = _layers()
    stack = stack_layers(layers)
    positives = _positives(layers)
    model = RasterClassifier(LogisticRegression())
    with raise_if_dask_computes(1):  # all members' cells read in one compute
        ens = fit_ensemble(model, stack, positives, n_members=20, n_background=150, seed=3)
    with raise_if_dask_computes(0):
        mean, std = ens.predict_raster(stack)
    assert len(ens.members) == 20 and ens.seeds == tuple(range(3, 23))
    cube = np.stack([layers[k].values for k in "abc"], axis=-1).reshape(-1, 3)
    ok = np.isfinite(cube).all(axis=1)
    preds = []
    for s in ens.seeds:  # bootstrap of occurrences x background draw, rebuilt here
        boot = np.random.default_rng(s).integers(0, len(positives), size=len(positives))
        bg = background_cells(layers["a"], n=150, exclude=positives, seed=s)
        rows = np.r_[positives.rows[boot], bg.rows]
        cols = np.r_[positives.cols[boot], bg.cols]
        X = np.stack([layers[k].values[rows, cols] for k in "abc"], axis=-1)
        y = np.r_[np.ones(len(boot)), np.zeros(150)]
        keep = np.isfinite(X).all(axis=1)
        ref = clone(model.estimator).fit(X[keep], y[keep])
        p = np.full(cube.shape[0], np.nan)
        p[ok] = ref.predict_proba(cube[ok])[:, 1]
        preds.append(p)
    preds = np.array(preds)
    np.testing.assert_allclose(mean.values.ravel(), np.mean(preds, axis=0), rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(std.values.ravel(), np.std(preds, axis=0, ddof=1), rtol=1e-4,
                               atol=1e-7, equal_nan=True)
    assert float(std.max()) > 0 and std.attrs["units"] == "1"

    s_thr, u_thr = risk_return_thresholds(mean, std, score_quantile=0.9, uncertainty_quantile=0.5)
    classes = risk_return_classes(mean, std, score_threshold=s_thr, uncertainty_threshold=u_thr).values
    m, u = mean.values, std.values
    expected = np.where(m >= s_thr, np.where(u < u_thr, 1, 2), np.where(u < u_thr, 3, 4)).astype(float)
    expected[np.isnan(m)] = np.nan
    np.testing.assert_array_equal(classes, expected.astype(np.float32))
    ok = np.isfinite(classes)
    assert np.mean(classes[ok] <= 2) == pytest.approx(0.1, abs=0.01)  # top 10% of the area is "high"
    high = ok & (m >= s_thr)
    assert u_thr == pytest.approx(np.median(u[high]))  # median uncertainty of the high-scoring cells
    assert np.mean(classes[high] == 1) == pytest.approx(0.5, abs=0.02)
    with pytest.raises(InputError, match="at least 2 members"):
        fit_ensemble(model, stack, positives, n_members=1)


@pytest.mark.parametrize("method", ["treeshap", "saabas"])
@pytest.mark.parametrize("kind", ["random-forest", "hist-gradient-boosting"])
def test_tree_contributions_add_up_to_the_model_output(kind, method):
    layers = _layers(n=24, chunks=8)
    stack = stack_layers(layers)
    estimator = (RandomForestClassifier(n_estimators=8, max_depth=4, random_state=0)
                 if kind == "random-forest" else HistGradientBoostingClassifier(max_iter=15))
    sample = training_sample(layers["a"], _positives(layers, 15), n_background=150, seed=0)
    with pytest.warns(UserWarning, match="missing evidence"):
        model = RasterClassifier(estimator).fit_raster(stack, sample)
    with raise_if_dask_computes(0):
        contrib = tree_contributions(model, stack, method=method)
    assert contrib.dims == ("layer", "y", "x") and contrib.chunks is not None
    values = contrib.values
    in_memory = tree_contributions(model, stack.compute(), method=method).values
    np.testing.assert_allclose(values, in_memory, rtol=1e-6, atol=1e-7, equal_nan=True)
    flat = np.stack([layers[k].values for k in "abc"], axis=-1).reshape(-1, 3)
    ok = np.isfinite(flat).all(axis=1)
    if kind == "random-forest":
        output = model.estimator_.predict_proba(flat[ok])[:, 1]
        assert contrib.attrs["units"] == "1"
    else:
        output = model.estimator_.decision_function(flat[ok])
        assert contrib.attrs["units"] == "log-odds"
    total = values.reshape(3, -1).sum(axis=0)[ok] + contrib.attrs["expected_value"]
    np.testing.assert_allclose(total, output, atol=1e-5)
    assert np.isnan(values[:, :3, :4]).all()
    assert top_layers(contrib, n=1) == ["a"]  # the layer the occurrences were picked on


def test_contributions_refuse_non_tree_models():
    layers = _layers(n=16, chunks=8)
    stack = stack_layers(layers)
    sample = training_sample(layers["a"], _positives(layers, 10), n_background=50, seed=0)
    with pytest.warns(UserWarning):
        model = RasterClassifier(LogisticRegression()).fit_raster(stack, sample)
    with pytest.raises(InputError, match="need a tree model"):
        tree_contributions(model, stack)


def test_target_drivers_name_the_layers_that_raise_each_polygon():
    ny, nx = 20, 30
    base = grid_like(np.zeros((ny, nx)), name="a")
    contrib = np.zeros((3, ny, nx))
    contrib[0, :, :15] = 0.3   # "mag" raises the west half
    contrib[1, :, 15:] = 0.2   # "em" raises the east half
    contrib[2, :, :] = -0.1    # "k" lowers everything
    contrib[1, 2:6, 2:6] = 0.5  # ... and "em" is strongest in a small western patch
    da = base.expand_dims(layer=["mag", "em", "k"]).copy(data=contrib)
    x, y = base.x.values, base.y.values
    west = shapely.box(x[0] - 50, y[9] - 50, x[9] + 50, y[0] + 50)      # rows 0-9, cols 0-9
    patch = shapely.box(x[2] - 50, y[5] - 50, x[5] + 50, y[2] + 50)     # rows 2-5, cols 2-5
    east = shapely.box(x[20] - 50, y[19] - 50, x[29] + 50, y[10] + 50)  # rows 10-19, cols 20-29
    targets = gpd.GeoDataFrame({"id": ["w", "p", "e"]}, geometry=[west, patch, east],
                               crs="EPSG:32611").set_index("id")
    table = target_drivers(targets.to_crs("EPSG:4326"), da, top=2)
    # zonal means by hand
    assert table.loc["w", "em"] == pytest.approx(contrib[1, 0:10, 0:10].mean())
    assert table.loc["w", "drivers"] == ["mag", "em"]
    assert table.loc["p", "drivers"] == ["em", "mag"]
    assert table.loc["e", "drivers"] == ["em"]  # "k" lowers the score: never named as a driver
    assert table.loc["e", "contributions"] == pytest.approx([0.2])
