"""Spatial block CV, random k-fold and buffered LOO on raster models; negative-sampling sensitivity.

Fold scores are checked against scikit-learn's ``roc_auc_score`` on independently fitted models and
whole-grid predictions; the synthetic test shows random k-fold overstating skill on spatially
autocorrelated evidence that carries no information about the (clustered) occurrences."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
import verde
from scipy.ndimage import gaussian_filter
from scipy.spatial.distance import cdist
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from geosurvey.errors import InputError
from geosurvey.prospectivity import (
    CVSpec,
    RasterClassifier,
    cross_validate,
    cv_splits,
    negative_sampling_sensitivity,
    occurrence_cells,
    sample_stack,
    stack_layers,
    training_sample,
)
from geosurvey.testing import grid_like


def _autocorrelated(n: int = 100, n_layers: int = 4, seed: int = 42):
    """Smooth random fields (Gaussian-filtered noise, ~600 m correlation) and 8 clusters of 5
    occurrences placed independently of them: the true skill of any model is chance (AUC 0.5)."""
    rng = np.random.default_rng(seed)
    layers = {}
    for i in range(n_layers):
        f = gaussian_filter(rng.normal(size=(n, n)), 6)
        layers[f"l{i}"] = grid_like((f - f.mean()) / f.std(), name=f"l{i}", chunks=50)
    x, y = layers["l0"].x.values, layers["l0"].y.values
    points = []
    for r, c in rng.integers(10, n - 10, size=(8, 2)):
        points += [(x[c] + rng.normal(0, 250), y[r] + rng.normal(0, 250)) for _ in range(5)]
    occ = gpd.GeoDataFrame(geometry=shapely.points(np.array(points)), crs="EPSG:32611")
    return layers, occ


def _informative(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    a = gaussian_filter(rng.normal(size=(n, n)), 2)
    b = rng.normal(size=(n, n))
    layers = {"a": grid_like(a, name="a", chunks=30), "b": grid_like(b, name="b", chunks=30)}
    rows, cols = np.unravel_index(np.argsort(a, axis=None)[-200:][::10], a.shape)
    occ = gpd.GeoDataFrame(
        geometry=shapely.points(layers["a"].x.values[cols], layers["a"].y.values[rows]), crs="EPSG:32611"
    )
    return layers, occ


def test_random_kfold_overstates_auc_against_block_cv():
    layers, occ = _autocorrelated()
    stack = stack_layers(layers)
    sample = training_sample(layers["l0"], occ, n_background=400, seed=0)
    model = RasterClassifier(RandomForestClassifier(n_estimators=40, random_state=0))
    values = sample_stack(stack, sample)
    random = cross_validate(model, stack, sample, values=values, spec=CVSpec("random", n_splits=5))
    block = cross_validate(model, stack, sample, values=values,
                           spec=CVSpec("block", n_splits=5, block_size=3000.0))
    assert random.n_held_out == block.n_held_out == 40  # every occurrence scored held out once
    # the evidence says nothing about where the clusters are: held-out blocks see chance...
    assert block.roc_auc < 0.62
    # ...while a random split leaks each cluster's neighbours into training
    assert random.roc_auc > block.roc_auc + 0.15
    assert random.capture[0.1] > block.capture[0.1]


def test_block_folds_never_split_a_block():
    layers, occ = _autocorrelated()
    sample = training_sample(layers["l0"], occ, n_background=400, seed=0)
    spec = CVSpec("block", n_splits=4, block_size=2500.0, seed=3)
    folds = cv_splits(sample, spec)
    _, labels = verde.block_split((sample.easting, sample.northing), spacing=2500.0)
    seen: dict[int, int] = {}
    for k, (train, test) in enumerate(folds):
        assert not set(train) & set(test)
        for block in np.unique(labels[test]):
            assert seen.setdefault(int(block), k) == k  # a block is in one test fold only
        assert not set(labels[test]) & set(labels[train])
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(len(sample)))


def test_fold_scores_equal_scikit_learn_auc_on_held_out_occurrences():
    layers, occ = _informative()
    stack = stack_layers(layers)
    sample = training_sample(layers["a"], occ, n_background=300, seed=1)
    model = RasterClassifier(LogisticRegression())
    spec = CVSpec("block", n_splits=3, block_size=1500.0, seed=0)
    result = cross_validate(model, stack, sample, spec=spec, importance=True, n_repeats=3)

    cube = np.stack([layers["a"].values, layers["b"].values], axis=-1).reshape(-1, 2)
    X = cube.reshape(60, 60, 2)[sample.rows, sample.cols]
    aucs, counts, held = [], [], []
    for train, test in cv_splits(sample, spec):
        test_pos = test[sample.labels[test] == 1]
        if test_pos.size == 0:
            continue
        reference = LogisticRegression().fit(X[train], sample.labels[train])
        grid_score = reference.predict_proba(cube)[:, 1].astype(np.float32)
        pos = grid_score.reshape(60, 60)[sample.rows[test_pos], sample.cols[test_pos]]
        labels = np.r_[np.ones(pos.size), np.zeros(grid_score.size)]
        aucs.append(roc_auc_score(labels, np.r_[pos, grid_score]))
        counts.append(pos.size)
        held += [np.mean(grid_score >= p) for p in pos]
    assert result.roc_auc == pytest.approx(np.average(aucs, weights=counts), abs=1e-9)
    assert result.auc_terms.mean() == pytest.approx(result.roc_auc, abs=1e-12)
    lo, hi = result.roc_auc_ci
    assert lo < result.roc_auc < hi and hi - lo < 0.2
    assert [f.roc_auc for f in result.folds if f.roc_auc is not None] == pytest.approx(aucs, abs=1e-9)
    # prediction-rate curve from held-out predictions: area above each held-out occurrence
    np.testing.assert_allclose(result.held_out_area, np.sort(held), atol=1e-12)
    assert result.capture[0.1] == pytest.approx(np.mean(np.array(held) <= 0.1))
    area, captured = result.prediction_rate_curve()
    assert area[0] == 0 and area[-1] == 1 and captured[-1] == 1
    # the informative layer matters, the noise layer does not
    assert result.importance["a"][0] > 0.1 > abs(result.importance["b"][0])
    assert result.importance["a"][1] >= 0
    report = result.to_dict()
    assert report["scheme"] == "block" and len(report["folds"]) == 3


def test_buffered_leave_one_out_drops_training_cells_near_the_held_out_deposit():
    layers, occ = _informative()
    sample = training_sample(layers["a"], occ, n_background=300, seed=1)
    folds = cv_splits(sample, CVSpec("loo", buffer=800.0))
    assert len(folds) == sample.n_positive
    xy = sample.coordinates()
    for train, test in folds:
        assert test.size == 1 and sample.labels[test[0]] == 1
        assert cdist(xy[train], xy[test]).min() >= 800.0
    result = cross_validate(RasterClassifier(LogisticRegression()), stack_layers(layers), sample,
                            spec=CVSpec("loo", buffer=800.0))
    assert result.n_held_out == sample.n_positive and result.roc_auc > 0.8


def test_cv_refuses_impossible_folds():
    layers, occ = _informative()
    sample = training_sample(layers["a"], occ.iloc[:3], n_background=50, seed=1)
    with pytest.raises(InputError, match="at least 5 occurrences"):
        cv_splits(sample, CVSpec("random", n_splits=5))
    with pytest.raises(InputError, match="block size"):
        CVSpec("block", block_size=0.0)


def test_negative_sampling_sensitivity_over_twenty_draws():
    layers, occ = _informative(n=40)
    stack = stack_layers(layers)
    positives = occurrence_cells(layers["a"], occ)
    model = RasterClassifier(RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0))
    report = negative_sampling_sensitivity(model, stack, positives, n_draws=20, n_background=60,
                                           seed=5)
    assert len(report.seeds) == 20 and report.roc_auc.shape == (20,)
    summary = report.summary()
    assert summary["roc_auc"]["std"] > 0  # the background draw changes the map
    assert 0.5 < summary["roc_auc"]["min"] <= summary["roc_auc"]["max"] <= 1
    # draw 3, refitted here independently, gives the same success-rate AUC
    from geosurvey.prospectivity import background_cells

    bg = background_cells(layers["a"], n=60, exclude=positives, seed=report.seeds[3])
    cube = np.stack([layers["a"].values, layers["b"].values], axis=-1)
    X = np.r_[cube[positives.rows, positives.cols], cube[bg.rows, bg.cols]]
    y = np.r_[np.ones(len(positives)), np.zeros(60)]
    ref = clone(model.estimator).fit(X, y)
    grid_score = ref.predict_proba(cube.reshape(-1, 2))[:, 1].astype(np.float32)
    pos = grid_score.reshape(40, 40)[positives.rows, positives.cols]
    expected = roc_auc_score(np.r_[np.ones(pos.size), np.zeros(grid_score.size)], np.r_[pos, grid_score])
    assert report.roc_auc[3] == pytest.approx(expected, abs=1e-9)
    assert report.to_dict()["n_draws"] == 20


def test_folds_in_threads_leave_the_warnings_machinery_as_it_was():
    """A batch cross-validates its areas' models in threads of one process: folds with missing
    evidence must not swap the process's warning filters (``warnings.catch_warnings`` in threads
    can leave one thread's filters installed for good), and say nothing the fold counts."""
    import concurrent.futures
    import warnings

    layers, occ = _informative(n=40)
    layers["b"] = layers["b"].where(layers["b"].x > layers["b"].x[6])  # a strip without evidence
    stack = stack_layers(layers)
    sample = training_sample(layers["a"], occurrence_cells(layers["a"], occ), n_background=80, seed=2)
    model = RasterClassifier(LogisticRegression())
    values = sample_stack(stack, sample)
    assert not np.isfinite(values).all()  # some training and held-out cells lack evidence

    def folds(seed: int) -> float:
        return cross_validate(model, stack, sample, values=values,
                              spec=CVSpec("random", n_splits=4, seed=seed)).roc_auc

    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        filters = list(warnings.filters)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            aucs = list(pool.map(folds, range(16)))
        assert warnings.filters == filters  # checked before this block puts its own back
    assert all(0 < a <= 1 for a in aucs)
    assert [str(w.message) for w in said if "evidence" in str(w.message)] == []


def test_fit_scored_is_fit_without_the_warning():
    layers, occ = _informative(n=40)
    stack = stack_layers(layers)
    sample = training_sample(layers["a"], occurrence_cells(layers["a"], occ), n_background=80, seed=2)
    values = sample_stack(stack, sample)
    values[:5, 1] = np.nan
    model = RasterClassifier(LogisticRegression())
    with pytest.warns(UserWarning, match="5 training cell"):
        said = clone(model).fit(values, sample.labels)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        quiet = clone(model).fit_scored(values, sample.labels)
    np.testing.assert_array_equal(quiet.predict_proba(values), said.predict_proba(values))
