"""ROC AUC, capture efficiency and success-rate curves against independent computations."""

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point
from sklearn.metrics import roc_auc_score

from geosurvey.errors import InputError
from geosurvey.evaluation import capture_efficiency, evaluate, roc_auc, success_rate_curve
from geosurvey.testing import grid_like

RNG = np.random.default_rng(7)


def _setup(n_occ: int = 12):
    values = RNG.normal(size=(50, 40))
    score = grid_like(values, name="score")
    iy = RNG.choice(50, n_occ, replace=False)
    ix = RNG.choice(40, n_occ, replace=False)
    pts = [Point(float(score.x[j]), float(score.y[i])) for i, j in zip(iy, ix, strict=True)]
    occ = gpd.GeoDataFrame(
        {"name": [f"occ{k}" for k in range(n_occ)]}, geometry=pts, crs="EPSG:32611"
    )
    return score, occ, values[iy, ix], values.ravel()


def test_roc_auc_matches_scikit_learn() -> None:
    score, occ, occ_values, background = _setup()
    # positives: occurrence pixels; negatives: every pixel of the area (the stated background)
    y_true = np.r_[np.ones(occ_values.size), np.zeros(background.size)]
    y_score = np.r_[occ_values, background]
    assert roc_auc(score, occ) == pytest.approx(roc_auc_score(y_true, y_score), abs=1e-12)


def test_capture_efficiency_by_brute_force() -> None:
    score, occ, occ_values, background = _setup(20)
    got = capture_efficiency(score, occ, fractions=(0.05, 0.1, 0.2, 0.5))
    for f, share in got.items():
        area_share = np.array([(background >= v).mean() for v in occ_values])
        assert share == pytest.approx(np.mean(area_share <= f))


def test_success_rate_curve_is_monotone_and_integrates_to_auc() -> None:
    score, occ, _, _ = _setup(15)
    area, captured = success_rate_curve(score, occ)
    assert area[0] == 0 and area[-1] == 1 and captured[0] == 0 and captured[-1] == 1
    assert np.all(np.diff(area) >= 0) and np.all(np.diff(captured) >= 0)
    # area above the success-rate step curve = mean area fraction above occurrences = 1 - AUC
    steps = area[1:-1]
    assert 1 - steps.mean() == pytest.approx(roc_auc(score, occ), abs=1 / score.size)


def test_perfect_and_inverted_scores() -> None:
    values = np.arange(100.0).reshape(10, 10)
    score = grid_like(values, name="s")
    top = [
        Point(float(score.x[j]), float(score.y[0])) for j in range(5, 10)
    ]  # row 0 holds 0..9: low
    bottom = [Point(float(score.x[j]), float(score.y[9])) for j in range(5, 10)]  # 95..99: highest
    hi = gpd.GeoDataFrame(geometry=bottom, crs="EPSG:32611")
    lo = gpd.GeoDataFrame(geometry=top, crs="EPSG:32611")
    assert evaluate(score, hi).capture[0.05] == 1.0
    assert roc_auc(score, hi) > 0.95 and roc_auc(score, lo) < 0.1


def test_occurrences_in_another_crs_are_reprojected() -> None:
    score, occ, _, _ = _setup()
    assert roc_auc(score, occ.to_crs("EPSG:4326")) == pytest.approx(roc_auc(score, occ), abs=1e-12)


def test_off_grid_and_nan_occurrences_warn_and_are_dropped() -> None:
    score, occ, _, _ = _setup(6)
    far = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:32611")
    both = gpd.GeoDataFrame(geometry=list(occ.geometry) + list(far.geometry), crs="EPSG:32611")
    with pytest.warns(UserWarning, match="1 occurrence\\(s\\) lie outside"):
        result = evaluate(score, both)
    assert result.n_occurrences == 7 and result.n_used == 6


def test_empty_or_unusable_occurrences_are_refused() -> None:
    score, occ, _, _ = _setup()
    with pytest.raises(InputError, match="empty"):
        evaluate(score, occ.iloc[:0])
    far = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:32611")
    with pytest.warns(UserWarning), pytest.raises(InputError, match="no occurrence falls"):
        evaluate(score, far)
    with pytest.raises(InputError, match="fractions"):
        evaluate(score, occ, fractions=(0.0,))
