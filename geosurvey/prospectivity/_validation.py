"""Honest validation of data-driven prospectivity: spatial block CV, random k-fold, buffered LOO.

Evidence is spatially autocorrelated, so a deposit held out by a random split usually has a
training deposit next door with nearly the same evidence, and random k-fold overstates skill
(Roberts et al. 2017; Airola et al. 2019). Spatial block cross-validation holds out whole blocks of
ground (verde's :class:`verde.BlockKFold` on easting/northing: every cell of a block falls in one
fold); a buffered leave-one-out holds out one deposit and drops every training cell within a buffer
of it, for areas with few deposits. Both are reported beside plain k-fold so the gap is visible.

How a fold is scored
--------------------
Each fold's model scores the **whole grid**; the fold's held-out occurrences are ranked against every
valid cell with :func:`geosurvey.evaluation.evaluate` (the same ROC AUC and capture definitions as
every other map of geosurvey). Pooled over folds, each held-out occurrence counts once: the pooled
AUC is the fold AUCs weighted by their held-out counts, and the prediction-rate curve is the sorted
area fractions above each held-out occurrence — built from held-out predictions only.

Permutation importance (scikit-learn's :func:`~sklearn.inspection.permutation_importance`, ROC AUC
on each fold's held-out cells) is computed inside the folds, so it measures what the model uses to
predict unseen ground; its spread over folds is reported.

References
----------
Roberts, D. R., et al. (2017). Cross-validation strategies for data with temporal, spatial,
hierarchical, or phylogenetic structure. *Ecography*, 40(8), 913-929.
Airola, A., et al. (2019). The spatial leave-pair-out cross-validation method for reliable AUC
estimation of spatial classifiers. *Data Mining and Knowledge Discovery*, 33, 730-747.
Uieda, L. (2018). Verde: Processing and gridding spatial data using Green's functions. *JOSS*,
3(29), 957.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely
import verde
import xarray as xr
from scipy.spatial import cKDTree
from sklearn.base import clone
from sklearn.inspection import permutation_importance
from sklearn.model_selection import StratifiedKFold

from geosurvey.errors import InputError
from geosurvey.evaluation import bootstrap_interval, evaluate
from geosurvey.grid import grid_crs
from geosurvey.prospectivity._models import RasterClassifier, sample_stack
from geosurvey.prospectivity._sampling import (
    ClassWeight,
    TrainingSample,
    background_cells,
    concat_samples,
)

__all__ = [
    "CVResult",
    "CVScheme",
    "CVSpec",
    "FoldScore",
    "SensitivityReport",
    "bootstrap_interval",
    "cell_points",
    "cross_validate",
    "cv_splits",
    "negative_sampling_sensitivity",
]

CVScheme = Literal["block", "random", "loo"]


@dataclass(frozen=True)
class CVSpec:
    """How to cross-validate (a recipe's ``[scoring.cv]`` table).

    Parameters
    ----------
    scheme
        ``"block"`` (verde BlockKFold on easting/northing), ``"random"`` (stratified k-fold on the
        cells, for comparison) or ``"loo"`` (buffered leave-one-occurrence-out).
    n_splits
        Number of folds (block and random).
    block_size
        Side of the square blocks in metres (block).
    buffer
        Metres: LOO drops every training cell within this distance of the held-out occurrence.
    seed
        Seed of the fold assignment.
    """

    scheme: CVScheme = "block"
    n_splits: int = 5
    block_size: float = 10_000.0
    buffer: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.scheme not in ("block", "random", "loo"):
            raise InputError(f"cross-validation scheme must be block, random or loo, got {self.scheme!r}")
        if self.scheme != "loo" and self.n_splits < 2:
            raise InputError(f"cross-validation needs n_splits >= 2, got {self.n_splits}")
        if self.scheme == "block" and not self.block_size > 0:
            raise InputError(f"the CV block size must be > 0 metres, got {self.block_size}")
        if not self.buffer >= 0:
            raise InputError(f"the LOO buffer must be >= 0 metres, got {self.buffer}")


def cv_splits(sample: TrainingSample, spec: CVSpec) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index arrays into ``sample`` for each fold of ``spec``.

    * ``block``: :class:`verde.BlockKFold` (``spacing=block_size``, shuffled with ``seed``, folds
      balanced by number of cells) on the cells' (easting, northing); a block is never split.
    * ``random``: :class:`sklearn.model_selection.StratifiedKFold` (shuffled), so every fold holds
      occurrences.
    * ``loo``: one fold per occurrence cell; its test set is that cell, and training drops every cell
      (occurrence or background) closer than ``buffer`` metres to it.
    """
    n = len(sample)
    if spec.scheme == "loo":
        tree = cKDTree(sample.coordinates())
        out = []
        for i in np.flatnonzero(sample.labels == 1):
            near = tree.query_ball_point(sample.coordinates()[i], r=spec.buffer) if spec.buffer > 0 else []
            drop = np.zeros(n, dtype=bool)
            drop[near] = True
            drop[i] = True
            out.append((np.flatnonzero(~drop), np.array([i])))
        return out
    if spec.scheme == "random":
        if sample.n_positive < spec.n_splits:
            raise InputError(
                f"random k-fold with {spec.n_splits} folds needs at least {spec.n_splits} "
                f"occurrences, got {sample.n_positive}; use fewer folds or scheme 'loo'"
            )
        kfold = StratifiedKFold(n_splits=spec.n_splits, shuffle=True, random_state=spec.seed)
        return list(kfold.split(np.zeros(n), sample.labels))
    kfold = verde.BlockKFold(spacing=spec.block_size, n_splits=spec.n_splits, shuffle=True,
                             random_state=spec.seed, balance=True)
    coordinates = (sample.easting, sample.northing)
    try:
        return list(kfold.split(np.column_stack(coordinates)))
    except ValueError as error:
        raise InputError(
            f"block cross-validation with {spec.block_size:g} m blocks and {spec.n_splits} folds "
            f"failed ({error}); use smaller blocks or fewer folds"
        ) from None


@dataclass(frozen=True)
class FoldScore:
    """One fold: sizes and the held-out evaluation (``None`` when it held out no occurrence)."""

    fold: int
    n_train_positive: int
    n_train_background: int
    n_test_positive: int
    roc_auc: float | None
    capture: dict[float, float] | None


@dataclass(frozen=True)
class CVResult:
    """Cross-validated skill on held-out occurrences only (see :func:`cross_validate`).

    Attributes
    ----------
    spec
        The scheme that made the folds.
    folds
        Per-fold scores.
    roc_auc
        Pooled held-out ROC AUC (each held-out occurrence once, against the whole valid area).
    capture
        Pooled share of held-out occurrences in the top fraction of the area.
    held_out_area
        Sorted fraction of the area scoring at least each held-out occurrence (its own fold's map).
    importance
        Layer → (mean, standard deviation over folds) of the permutation importance (drop in
        held-out ROC AUC), or empty when not asked for.
    auc_terms
        Each held-out occurrence's ROC AUC against the whole area in its own fold's map (their
        mean is :attr:`roc_auc`).
    roc_auc_ci
        Bootstrap percentile interval of :attr:`roc_auc` (held-out occurrences resampled).
    confidence
        Its level.
    """

    spec: CVSpec
    folds: tuple[FoldScore, ...]
    roc_auc: float
    capture: dict[float, float]
    held_out_area: np.ndarray = field(repr=False)
    importance: dict[str, tuple[float, float]] = field(default_factory=dict)
    auc_terms: np.ndarray = field(default_factory=lambda: np.array([]), repr=False)
    roc_auc_ci: tuple[float, float] = (float("nan"), float("nan"))
    confidence: float = 0.95

    @property
    def n_held_out(self) -> int:
        """Occurrences that were scored held out."""
        return int(self.held_out_area.size)

    def prediction_rate_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(area fraction, share of held-out occurrences captured), from (0, 0) to (1, 1)."""
        n = self.held_out_area.size
        return (np.concatenate([[0.0], self.held_out_area, [1.0]]),
                np.concatenate([[0.0], np.arange(1, n + 1) / n, [1.0]]))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON reports."""
        area, captured = self.prediction_rate_curve()
        return {
            "scheme": self.spec.scheme,
            "n_splits": self.spec.n_splits,
            "block_size_m": self.spec.block_size if self.spec.scheme == "block" else None,
            "buffer_m": self.spec.buffer if self.spec.scheme == "loo" else None,
            "seed": self.spec.seed,
            "n_held_out": self.n_held_out,
            "roc_auc": round(self.roc_auc, 6),
            "roc_auc_ci": [None if not np.isfinite(v) else round(float(v), 6) for v in self.roc_auc_ci],
            "confidence": self.confidence,
            "capture": {f"top_{round(f * 100):d}pct": round(v, 6) for f, v in self.capture.items()},
            "prediction_rate_curve": {
                "area_fraction": [round(float(v), 6) for v in area],
                "occurrences_captured": [round(float(v), 6) for v in captured],
            },
            "folds": [
                {
                    "fold": f.fold,
                    "n_train_positive": f.n_train_positive,
                    "n_train_background": f.n_train_background,
                    "n_test_positive": f.n_test_positive,
                    "roc_auc": None if f.roc_auc is None else round(f.roc_auc, 6),
                }
                for f in self.folds
            ],
            "permutation_importance": {
                k: {"mean": round(m, 6), "std": round(s, 6)} for k, (m, s) in self.importance.items()
            },
        }


def cell_points(like: xr.DataArray, sample: TrainingSample) -> gpd.GeoDataFrame:
    """The sample's cell centres as points in the grid's CRS (for :func:`geosurvey.evaluation.evaluate`)."""
    crs = grid_crs(like)
    return gpd.GeoDataFrame(
        geometry=shapely.points(sample.easting, sample.northing),
        crs=None if crs is None else crs.to_wkt(),
    )


def _held_out_area(evaluation: Any) -> np.ndarray:
    # evaluate's success-rate curve is (0, sorted area fractions above each occurrence..., 1)
    return np.asarray(evaluation.curve_area[1:-1], dtype=float)


def pooled_scores(
    areas: Sequence[np.ndarray], aucs: Sequence[float], counts: Sequence[int],
    fractions: Sequence[float],
) -> tuple[float, dict[float, float], np.ndarray]:
    """Pool fold evaluations: count-weighted AUC, capture of the pooled area fractions."""
    held = np.sort(np.concatenate(list(areas))) if areas else np.array([])
    if held.size == 0:
        raise InputError("no fold held out an occurrence on a valid cell; use fewer or larger folds")
    auc = float(np.average(aucs, weights=counts))
    capture = {float(f): float(np.mean(held <= f)) for f in fractions}
    return auc, capture, held


def cross_validate(
    model: RasterClassifier,
    stack: xr.DataArray,
    sample: TrainingSample,
    *,
    spec: CVSpec = CVSpec(),
    values: np.ndarray | None = None,
    fractions: Sequence[float] = (0.05, 0.1, 0.2),
    importance: bool = False,
    n_repeats: int = 5,
    bootstrap: int = 1000,
    confidence: float = 0.95,
) -> CVResult:
    """Fit ``model`` on each fold's training cells and score its held-out occurrences on the whole grid.

    Parameters
    ----------
    model
        An unfitted (or fitted: it is cloned) :class:`RasterClassifier`.
    stack
        ``(layer, y, x)`` evidence stack.
    sample
        Occurrence and background cells (:func:`geosurvey.prospectivity.training_sample`).
    spec
        The folds (:class:`CVSpec`).
    values
        The sample's evidence values if already read (:func:`sample_stack`); else read here in one
        compute.
    fractions
        Area fractions for the capture (0.05 = the top 5 % of the area).
    importance
        Also compute permutation importance on each fold's held-out cells (needs held-out
        occurrences and background in the fold).
    n_repeats
        Permutations per layer and fold.
    bootstrap, confidence
        Resamples and level of the pooled AUC's bootstrap interval (0: none).

    Notes
    -----
    Each fold computes one full-grid prediction (to rank its held-out occurrences against every
    valid cell), so the cost is ``n_folds`` predictions of the grid.
    """
    if values is None:
        values = sample_stack(stack, sample)
    layers = [str(v) for v in stack["layer"].values]
    folds: list[FoldScore] = []
    areas, aucs, counts = [], [], []
    per_fold_importance: list[np.ndarray] = []
    terms: list[float] = []
    for k, (train, test) in enumerate(cv_splits(sample, spec)):
        train_sample, test_sample = sample.subset(train), sample.subset(test)
        test_pos = test_sample.subset(test_sample.labels == 1)
        if train_sample.n_positive == 0 or train_sample.n_background == 0:
            folds.append(FoldScore(k, train_sample.n_positive, train_sample.n_background,
                                   test_pos.n_positive if len(test_pos) else 0, None, None))
            continue
        fitted = clone(model).fit_scored(  # cells with missing evidence: said once below
            values[train], sample.labels[train],
            sample_weight=None if sample.weight is None else sample.weight[train])
        fitted.layers_ = tuple(layers)
        if len(test_pos) == 0:
            folds.append(FoldScore(k, train_sample.n_positive, train_sample.n_background, 0, None, None))
            continue
        score = fitted.predict_raster(stack).compute()  # once per fold: ranked against every cell
        points = cell_points(stack, test_pos)
        try:  # held-out occurrences on missing evidence: counted in the fold, no warning
            result = evaluate(score, points, fractions=fractions, bootstrap=0, warn_unused=False)
        except InputError:
            result = None
        if result is not None:  # each held-out occurrence's own AUC term, same definition
            for i in range(len(points)):
                try:
                    terms.append(evaluate(score, points.iloc[[i]], bootstrap=0,
                                          warn_unused=False).roc_auc)
                except InputError:  # on missing evidence
                    pass
        if result is None:
            folds.append(FoldScore(k, train_sample.n_positive, train_sample.n_background,
                                   len(test_pos), None, None))
            continue
        folds.append(FoldScore(k, train_sample.n_positive, train_sample.n_background,
                               result.n_used, result.roc_auc, dict(result.capture)))
        areas.append(_held_out_area(result))
        aucs.append(result.roc_auc)
        counts.append(result.n_used)
        if importance:
            x_test, y_test = values[test], sample.labels[test]
            ok = np.isfinite(x_test).all(axis=1)
            if np.unique(y_test[ok]).size == 2:
                imp = permutation_importance(fitted, x_test[ok], y_test[ok], scoring="roc_auc",
                                             n_repeats=n_repeats, random_state=spec.seed + k)
                per_fold_importance.append(imp.importances_mean)
    auc, capture, held = pooled_scores(areas, aucs, counts, fractions)
    imp_summary: dict[str, tuple[float, float]] = {}
    if per_fold_importance:
        table = np.vstack(per_fold_importance)
        imp_summary = {
            name: (float(table[:, i].mean()), float(table[:, i].std(ddof=1) if len(table) > 1 else 0.0))
            for i, name in enumerate(layers)
        }
    return CVResult(spec=spec, folds=tuple(folds), roc_auc=auc, capture=capture,
                    held_out_area=held, importance=imp_summary, auc_terms=np.asarray(terms),
                    roc_auc_ci=bootstrap_interval(np.asarray(terms), n_boot=bootstrap,
                                                  confidence=confidence, seed=spec.seed),
                    confidence=confidence)


@dataclass(frozen=True)
class SensitivityReport:
    """How much a model's skill depends on the draw of its background cells.

    Attributes
    ----------
    seeds
        Seed of each background draw.
    roc_auc
        Per draw: ROC AUC of the occurrences (held out by ``cv`` if one was given, else the training
        occurrences: a success rate).
    capture
        Per draw and fraction: share of occurrences in the top fraction of the area.
    validation
        ``"training occurrences"`` or the CV scheme used.
    """

    seeds: tuple[int, ...]
    roc_auc: np.ndarray
    capture: dict[float, np.ndarray]
    validation: str

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean, standard deviation, minimum and maximum over the draws."""
        def stats(v: np.ndarray) -> dict[str, float]:
            return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
                    "min": float(v.min()), "max": float(v.max())}

        out = {"roc_auc": stats(self.roc_auc)}
        out.update({f"top_{round(f * 100):d}pct": stats(v) for f, v in self.capture.items()})
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON reports."""
        return {
            "n_draws": len(self.seeds),
            "seeds": list(self.seeds),
            "validation": self.validation,
            "roc_auc": [round(float(v), 6) for v in self.roc_auc],
            "summary": {k: {s: round(x, 6) for s, x in v.items()} for k, v in self.summary().items()},
        }


def negative_sampling_sensitivity(
    model: RasterClassifier,
    stack: xr.DataArray,
    positives: TrainingSample,
    *,
    n_draws: int = 20,
    n_background: int = 2000,
    buffer: float = 0.0,
    valid: np.ndarray | None = None,
    class_weight: ClassWeight = None,
    cv: CVSpec | None = None,
    seed: int = 0,
    fractions: Sequence[float] = (0.05, 0.1, 0.2),
) -> SensitivityReport:
    """Refit ``model`` on ``n_draws`` independent background draws and report the spread of skill.

    Every draw's cells are read together in one compute. With ``cv=None`` each draw's model scores
    the grid once and is evaluated on the training occurrences (success rate: cheap, and what the
    background draw changes); with a :class:`CVSpec` each draw is cross-validated (held-out AUC,
    ``n_folds`` predictions per draw).

    Parameters
    ----------
    positives
        The occurrence cells (:func:`geosurvey.prospectivity.occurrence_cells`).
    n_draws
        Number of background draws (Zuo & Wang 2020 use tens; at least 20 recommended).
    n_background, buffer, valid, class_weight
        As in :func:`geosurvey.prospectivity.training_sample`.
    seed
        Root seed; draw ``i`` uses ``seed + i``.
    """
    if n_draws < 2:
        raise InputError(f"a sensitivity report needs at least 2 background draws, got {n_draws}")
    seeds = tuple(seed + i for i in range(n_draws))
    draws = [background_cells(stack.isel(layer=0), n=n_background, exclude=positives,
                              buffer=buffer, valid=valid, seed=s) for s in seeds]
    union = concat_samples(positives.with_class_weight(None), *draws)
    values = sample_stack(stack, union)
    npos = len(positives)
    aucs, captures = [], {float(f): [] for f in fractions}
    points = cell_points(stack, positives)
    for i in range(n_draws):
        start = npos + i * n_background
        index = np.concatenate([np.arange(npos), np.arange(start, start + n_background)])
        sample = union.subset(index).with_class_weight(class_weight)
        if cv is not None:
            result = cross_validate(model, stack, sample, spec=cv, values=values[index],
                                    fractions=fractions)
            auc, cap = result.roc_auc, result.capture
        else:
            fitted = clone(model).fit_scored(values[index], sample.labels, sample_weight=sample.weight)
            fitted.layers_ = tuple(str(v) for v in stack["layer"].values)
            ev = evaluate(fitted.predict_raster(stack), points, fractions=fractions, bootstrap=0,
                          warn_unused=False)
            auc, cap = ev.roc_auc, ev.capture
        aucs.append(auc)
        for f in captures:
            captures[f].append(cap[f])
    return SensitivityReport(
        seeds=seeds,
        roc_auc=np.asarray(aucs),
        capture={f: np.asarray(v) for f, v in captures.items()},
        validation="training occurrences" if cv is None else f"{cv.scheme} cross-validation",
    )
