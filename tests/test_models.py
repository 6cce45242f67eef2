"""Models on raster stacks: fit on sampled cells (one compute), lazy block-by-block prediction equal to
scikit-learn's own predict_proba on the same pixels; training samples (buffer, class weights, PU)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from scipy.spatial.distance import cdist
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.tree import DecisionTreeClassifier

from geosurvey.errors import InputError
from geosurvey.prospectivity import (
    RasterClassifier,
    background_cells,
    data_availability,
    occurrence_cells,
    pu_bagging,
    sample_stack,
    stack_layers,
    training_sample,
)
from geosurvey.testing import grid_like, raise_if_dask_computes

ESTIMATORS = {
    "logistic": LogisticRegression(max_iter=500),
    "random-forest": RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0),
    "hist-gradient-boosting": HistGradientBoostingClassifier(max_iter=30, random_state=0),
}


def _layers(chunks: int | None = 16, nan: bool = True) -> dict:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(48, 64))
    b = rng.normal(size=(48, 64))
    c = a * 0.5 + rng.normal(size=(48, 64))
    if nan:
        c[:5, :7] = np.nan
    return {
        "a": grid_like(a, name="a", units="nT", chunks=chunks),
        "b": grid_like(b, name="b", units="1", chunks=chunks),
        "c": grid_like(c, name="c", units="m", chunks=chunks),
    }


def _occurrences(like, rows, cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        geometry=shapely.points(like.x.values[cols], like.y.values[rows]), crs="EPSG:32611"
    )


def _positives_where_a_is_high(layers) -> gpd.GeoDataFrame:
    a = layers["a"].values
    rows, cols = np.unravel_index(np.argsort(a, axis=None)[-25:], a.shape)
    return _occurrences(layers["a"], rows, cols)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_predict_raster_equals_sklearn_on_the_same_pixels(name):
    layers = _layers()
    stack = stack_layers(layers)
    sample = training_sample(layers["a"], _positives_where_a_is_high(layers), n_background=300,
                             seed=1, class_weight="balanced")
    model = RasterClassifier(ESTIMATORS[name])
    with raise_if_dask_computes(1), pytest.warns(UserWarning, match="4 training cell.*missing"):
        model.fit_raster(stack, sample)  # the one declared compute: the sampled cells
    with raise_if_dask_computes(0):  # building the prediction computes nothing
        lazy = model.predict_raster(stack)
    assert lazy.chunks is not None and lazy.dims == ("y", "x")
    chunked = lazy.compute().values
    in_memory = model.predict_raster(stack.compute()).values

    # independent: numpy indexing of the in-memory layers, scikit-learn fitted directly
    cube = np.stack([layers[k].values for k in ("a", "b", "c")], axis=-1)
    X = cube[sample.rows, sample.cols]
    ok = np.isfinite(X).all(axis=1)
    reference = clone(ESTIMATORS[name]).fit(X[ok], sample.labels[ok], sample_weight=sample.weight[ok])
    flat = cube.reshape(-1, 3)
    valid = np.isfinite(flat).all(axis=1)
    expected = np.full(flat.shape[0], np.nan, dtype=np.float32)
    expected[valid] = reference.predict_proba(flat[valid])[:, 1]
    expected = expected.reshape(cube.shape[:2])

    np.testing.assert_array_equal(np.isnan(chunked), np.isnan(expected))
    assert np.isnan(chunked[:5, :7]).all() and np.isfinite(chunked[5:, 7:]).all()
    if name == "logistic":  # BLAS may sum the few products in another order for another batch size
        np.testing.assert_allclose(chunked, expected, rtol=1e-6, equal_nan=True)
        np.testing.assert_allclose(chunked, in_memory, rtol=1e-6, equal_nan=True)
    else:
        np.testing.assert_array_equal(chunked, expected)
        np.testing.assert_array_equal(chunked, in_memory)
    # the model learnt something: the high-"a" occurrences score above the background
    assert roc_auc_score(sample.labels[ok], model.predict_proba(X[ok])[:, 1]) > 0.8
    assert lazy.attrs["units"] == "1"


def test_sample_stack_reads_the_cells_by_point_indexing():
    layers = _layers()
    stack = stack_layers(layers)
    sample = background_cells(layers["a"], n=50, seed=4)
    with raise_if_dask_computes(1):
        values = sample_stack(stack, sample)
    for j, k in enumerate(("a", "b", "c")):
        np.testing.assert_array_equal(values[:, j], layers[k].values[sample.rows, sample.cols])


def test_raster_classifier_composes_with_scikit_learn_tools():
    layers = _layers(chunks=None, nan=False)
    sample = training_sample(layers["a"], _positives_where_a_is_high(layers), n_background=200, seed=0)
    X = sample_stack(stack_layers(layers), sample)
    search = GridSearchCV(RasterClassifier(LogisticRegression()), {"estimator__C": [0.01, 1.0]},
                          scoring="roc_auc", cv=3)
    search.fit(X, sample.labels)
    assert search.best_params_["estimator__C"] in (0.01, 1.0)
    assert clone(search.best_estimator_).get_params()["estimator__C"] == search.best_params_["estimator__C"]


def test_predict_raster_refuses_other_layers_and_nan_policy_estimator_keeps_pixels():
    layers = _layers()
    sample = training_sample(layers["a"], _positives_where_a_is_high(layers), n_background=200, seed=0)
    model = RasterClassifier(HistGradientBoostingClassifier(max_iter=10), missing="estimator")
    model.fit_raster(stack_layers(layers), sample)
    swapped = stack_layers({"b": layers["b"], "a": layers["a"], "c": layers["c"]})
    with pytest.raises(InputError, match="same layers in the same order"):
        model.predict_raster(swapped)
    # HGB handles NaN itself: with missing="estimator" the NaN corner is scored too
    assert np.isfinite(model.predict_raster(stack_layers(layers)).values).all()
    with pytest.raises(InputError, match=r"not on the same grid"):
        shifted = layers["b"].assign_coords(x=layers["b"].x + 50.0)
        stack_layers({"a": layers["a"], "b": shifted})


def test_data_availability_is_the_share_of_layers_present():
    layers = _layers()
    share = data_availability(stack_layers(layers)).values
    assert share[0, 0] == pytest.approx(2 / 3) and share[-1, -1] == 1.0


def test_background_respects_the_buffer_and_is_reproducible():
    layers = _layers(chunks=None)
    like = layers["a"]
    occ = occurrence_cells(like, _occurrences(like, np.array([10, 30]), np.array([10, 40])))
    bg = background_cells(like, n=400, exclude=occ, buffer=900.0, seed=7)
    again = background_cells(like, n=400, exclude=occ, buffer=900.0, seed=7)
    other = background_cells(like, n=400, exclude=occ, buffer=900.0, seed=8)
    np.testing.assert_array_equal(bg.rows, again.rows)
    assert not np.array_equal(bg.rows, other.rows)
    assert len(set(zip(bg.rows.tolist(), bg.cols.tolist(), strict=True))) == 400  # distinct
    distance = cdist(bg.coordinates(), occ.coordinates()).min(axis=1)
    assert distance.min() >= 900.0
    # coordinates are the cell centres of the grid
    np.testing.assert_array_equal(bg.easting, like.x.values[bg.cols])
    with pytest.raises(InputError, match="smaller buffer"):
        background_cells(like, n=2000, exclude=occ, buffer=50_000.0, seed=0)


def test_class_weights_balance_the_classes():
    layers = _layers(chunks=None)
    s = training_sample(layers["a"], _positives_where_a_is_high(layers), n_background=500,
                        class_weight="balanced", seed=0)
    w = s.weight
    assert w[s.labels == 1].sum() == pytest.approx(w[s.labels == 0].sum())
    assert w[s.labels == 1][0] == pytest.approx(len(s) / (2 * 25))


def test_occurrences_off_the_grid_are_dropped_with_a_warning():
    like = _layers(chunks=None)["a"]
    occ = gpd.GeoDataFrame(geometry=shapely.points([like.x.values[3], 0.0], [like.y.values[4], 0.0]),
                           crs="EPSG:32611")
    with pytest.warns(UserWarning, match="1 occurrence"):
        cells = occurrence_cells(like, occ)
    assert cells.rows.tolist() == [4] and cells.cols.tolist() == [3]
    with pytest.raises(InputError, match="empty"):
        occurrence_cells(like, occ.iloc[:0])


def test_pu_bagging_with_pulearn_ranks_hidden_positives_high():
    layers = _layers(chunks=16, nan=False)
    stack = stack_layers(layers)
    a = layers["a"].values
    hot = np.argsort(a, axis=None)[-60:]
    rows, cols = np.unravel_index(hot, a.shape)
    known = _occurrences(layers["a"], rows[::2], cols[::2])  # half the "deposits" are known
    sample = training_sample(layers["a"], known, n_background=800, seed=2)
    model = RasterClassifier(pu_bagging(DecisionTreeClassifier(max_depth=4), n_bags=15,
                                        bag_size=30, seed=0))
    score = model.fit_raster(stack, sample).predict_raster(stack).values
    hidden = np.zeros(a.shape, dtype=bool)
    hidden[rows[1::2], cols[1::2]] = True
    # the hidden half (never labelled) ranks far above the rest of the grid
    assert roc_auc_score(hidden.ravel(), score.ravel()) > 0.9
    assert type(model.estimator_).__module__.startswith("pulearn")
