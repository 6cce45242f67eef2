"""Evaluating a prospectivity map against known occurrences: the reports survey agencies publish.

* ROC AUC with a bootstrap confidence interval;
* success-rate (training occurrences) and prediction-rate (held-out occurrences) curves;
* a capture table: the share of occurrences inside the top 1, 2, 5, 10, 15 and 20 % of the area,
  the area needed to hold 50 % and 90 % of them, and the normalised density (share of
  occurrences / share of area) of each;
* the prediction–area plot (Yousefi & Carranza 2015) and its intersection point;
* PNG plots and a JSON-able report (:func:`write_evaluation`).

The background is the whole valid area (every pixel with a score), the usual choice for
success-rate curves (Agterberg & Bonham-Carter 2005). With it the area under the success-rate
curve and the ROC AUC of "occurrence pixels vs. all pixels" are the same number: the probability
that an occurrence scores higher than a randomly chosen pixel of the area (ties count one half).

Occurrences outside the grid or on a pixel without a score are counted, reported and left out;
several occurrences on one pixel each count (a deposit is a deposit), and how many share a pixel
is reported. Nothing is dropped silently.

This module works at the edge of the lazy flow: :func:`evaluate` computes the score grid exactly
once (``.values``) to rank all valid pixels, which needs ``4 × n_pixels`` bytes for float32 scores
(400 MB for a 10,000 × 10,000 grid) plus a sorted float64 copy of the valid pixels.
:func:`evaluate_blockwise` (``evaluate(..., blockwise=True)``) gives the same numbers without ever
holding a grid: a few passes over its blocks count the values in radix bins, from which every
rank and order statistic is exact; its memory is one block.

References
----------
Agterberg, F. P., & Bonham-Carter, G. F. (2005). Measuring the performance of mineral-potential
maps. *Natural Resources Research*, 14(1), 1-17.
Efron, B., & Tibshirani, R. J. (1993). *An Introduction to the Bootstrap*. Chapman & Hall (the
percentile interval).
Fawcett, T. (2006). An introduction to ROC analysis. *Pattern Recognition Letters*, 27(8), 861-874.
Yousefi, M., & Carranza, E. J. M. (2015). Prediction–area (P–A) plot and C–A fractal analysis to
classify and evaluate evidential maps for mineral prospectivity modeling. *Computers &
Geosciences*, 79, 69-81.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr

from geosurvey.errors import InputError
from geosurvey.i18n import TEXT, Language, check_lang, japanese_font
from geosurvey.io import atomic_path, atomic_write_text
from geosurvey.occurrences import OccurrenceCells, locate_occurrences

__all__ = [
    "CAPTURE_FRACTIONS",
    "Evaluation",
    "PredictionArea",
    "bootstrap_interval",
    "capture_efficiency",
    "evaluate",
    "evaluate_blockwise",
    "occurrence_values",
    "plot_prediction_area",
    "plot_rate_curves",
    "roc_auc",
    "roc_auc_blockwise",
    "success_rate_curve",
    "write_evaluation",
]

#: Area fractions of the capture table (the top 1, 2, 5, 10, 15 and 20 % of the area).
CAPTURE_FRACTIONS: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2)
#: Shares of the occurrences for "the area needed to hold them".
HOLD_SHARES: tuple[float, ...] = (0.5, 0.9)
_PA_GRID = 10_001  # resolution of the prediction-area intersection search (1e-4 of the area)


def _warn_unused(
    report: Mapping[str, int], what: str = "the evaluation", *, stacklevel: int = 3
) -> None:
    off, nan, shared = report["outside_grid"], report["on_nodata"], report["sharing_a_cell"]
    if off or nan:
        warnings.warn(
            f"{off} occurrence(s) lie outside the grid and {nan} on pixels without a score; "
            f"they are left out of {what} ({report['on_valid']} kept)",
            stacklevel=stacklevel,
        )
    if shared:
        warnings.warn(
            f"{shared} occurrence(s) share a pixel with another; each is counted in {what}",
            stacklevel=stacklevel,
        )


def _score_array(score: xr.DataArray) -> np.ndarray:
    if score.ndim != 2 or set(score.dims) != {"y", "x"}:
        raise InputError(f"layer {score.name!r} must be 2-D (y, x) to evaluate, has {score.dims}")
    return np.asarray(score.transpose("y", "x").values, dtype=float)  # the one computation


def _sampled(
    array: np.ndarray, cells: OccurrenceCells
) -> tuple[np.ndarray, dict[str, int]]:
    values = cells.values(array)
    report = cells.report(values)
    return values[np.isfinite(values)], report


def occurrence_values(score: xr.DataArray, occurrences: gpd.GeoDataFrame) -> np.ndarray:
    """The score at each occurrence (its pixel); occurrences off the grid or on NaN are dropped.

    Parameters
    ----------
    score
        A 2-D ``(y, x)`` layer with a CRS (computed once).
    occurrences
        Points (any CRS; reprojected to the score's CRS). Non-point geometries use their centroid.

    Returns
    -------
    numpy.ndarray
        One float per occurrence kept. A warning says how many were dropped and why.

    Raises
    ------
    InputError
        If there are no occurrences, or none falls on a valid pixel.
    """
    cells = locate_occurrences(score, occurrences)
    values, report = _sampled(_score_array(score), cells)
    _warn_unused(report)
    if values.size == 0:
        raise InputError(
            "no occurrence falls on a pixel with a score; check the occurrences' CRS and extent"
        )
    return values


def _background(array: np.ndarray, name: object) -> _SortedBackground:
    values = array.ravel()
    values = np.sort(values[np.isfinite(values)])
    if values.size == 0:
        raise InputError(f"layer {name!r} has no valid pixels to evaluate")
    return _SortedBackground(values)


class _SortedBackground:
    """The valid pixels held sorted in memory: counts by binary search, order statistics by index."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.n = int(values.size)

    def less_equal(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How many pixels score below each value, and how many exactly at it."""
        below = np.searchsorted(self.values, values, side="left")
        return below, np.searchsorted(self.values, values, side="right") - below

    def order(self, ranks: np.ndarray) -> np.ndarray:
        """The valid pixels' values at 0-based ``ranks`` of the ascending order."""
        return self.values[ranks]


def _area_above(background: Any, values: np.ndarray) -> np.ndarray:
    """Fraction of the area scoring at least each value."""
    n = background.n
    return (n - background.less_equal(values)[0]) / n


def _auc_terms(background: Any, values: np.ndarray) -> np.ndarray:
    """Each occurrence's share of the area scoring below it (ties one half); their mean is the AUC."""
    below, ties = background.less_equal(values)
    return (below + 0.5 * ties) / background.n


def bootstrap_interval(
    terms: np.ndarray, *, n_boot: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``terms`` (Efron & Tibshirani 1993).

    The interval of the ROC AUC that :func:`evaluate` reports (each occurrence's AUC term,
    occurrences resampled with replacement, the area fixed), and the one
    :func:`geosurvey.prospectivity.cross_validate` gives to held-out occurrences pooled over
    folds. The resamples are drawn in batches of at most 2 million indices (memory about 16 MB),
    which gives the same draws as one batch.

    Parameters
    ----------
    terms
        One value per occurrence (for the AUC: its share of the area scoring below it).
    n_boot
        Resamples (0: no interval).
    confidence
        Level of the interval (0.95: the 2.5th to 97.5th percentiles of the resampled means).
    seed
        Seed of the resampling, for a reproducible interval.

    Returns
    -------
    tuple of float
        Lower and upper bounds, in the units of ``terms``; NaN with fewer than 2 terms or no
        resamples.
    """
    terms = np.asarray(terms, dtype=float)
    if n_boot == 0 or terms.size < 2:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // terms.size)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, terms.size, size=(stop - start, terms.size))
        means[start:stop] = terms[idx].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


@dataclass(frozen=True)
class PredictionArea:
    """The prediction–area plot (Yousefi & Carranza 2015) of a score.

    Attributes
    ----------
    threshold
        Score thresholds (the 0th, 1st, …, 100th percentiles of the valid pixels as order
        statistics, lowest first).
    area_above
        Fraction of the area scoring at least each threshold.
    occurrences_above
        Fraction of the occurrences scoring at least each threshold ("predicted").
    intersection
        Where the curves cross (occurrences predicted = 1 − area occupied): ``threshold``,
        ``occurrences`` (share predicted), ``area`` (share occupied), ``normalised_density``
        (occurrences / area) and ``weight`` (its natural logarithm, Yousefi & Carranza's
        evidential weight). Found on a grid of 10⁻⁴ of the area.
    """

    threshold: np.ndarray = field(repr=False)
    area_above: np.ndarray = field(repr=False)
    occurrences_above: np.ndarray = field(repr=False)
    intersection: Mapping[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON reports."""
        return {
            "threshold": [_num(v) for v in self.threshold],
            "area_above": [_num(v) for v in self.area_above],
            "occurrences_above": [_num(v) for v in self.occurrences_above],
            "intersection": {k: _num(v) for k, v in self.intersection.items()},
        }


def _num(value: float, digits: int = 6) -> float | None:
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _prediction_area(background: Any, values: np.ndarray, above: np.ndarray) -> PredictionArea:
    n = background.n
    # quantiles of the valid pixels, as order statistics (numpy's method="lower")
    thresholds = background.order((np.arange(101) * (n - 1)) // 100)
    area = _area_above(background, thresholds)
    occ_sorted = np.sort(values)
    occ = (occ_sorted.size - np.searchsorted(occ_sorted, thresholds, side="left")) / occ_sorted.size
    # intersection on the success-rate curve: captured(a) >= 1 - a, smallest such a
    grid = np.linspace(0, 1, _PA_GRID)
    captured = np.searchsorted(np.sort(above), grid, side="right") / above.size
    i = int(np.argmax(captured >= 1 - grid))
    a, c = float(grid[i]), float(captured[i])
    thr = float(background.order(np.array([math.floor((1 - a) * (n - 1))]))[0])
    density = c / a if a > 0 else math.inf
    return PredictionArea(
        threshold=thresholds, area_above=area, occurrences_above=occ,
        intersection={"threshold": thr, "occurrences": c, "area": a,
                      "normalised_density": density,
                      "weight": math.log(density) if 0 < density < math.inf else math.nan},
    )  # fmt: skip


@dataclass(frozen=True)
class Evaluation:
    """Performance of a score against occurrences (see :func:`evaluate`).

    Attributes
    ----------
    layer
        The score's name.
    n_occurrences, n_used
        Occurrences given, and those on a valid pixel (used).
    roc_auc
        ROC AUC against the whole valid area (= area under the success-rate curve).
    capture
        Share of occurrences in the top ``f`` of the area, for the ``fractions`` asked.
    curve_area, curve_captured
        The success-rate curve, from (0, 0) to (1, 1).
    roc_auc_ci
        Bootstrap percentile interval of the ROC AUC (occurrences resampled, the area fixed);
        NaN with fewer than 2 occurrences or ``bootstrap=0``.
    confidence
        Its confidence level.
    occurrences
        How the occurrences were used: ``given``, ``outside_grid``, ``on_nodata``, ``on_valid``,
        ``valid_cells``, ``sharing_a_cell``.
    capture_table
        Share of occurrences in the top 1, 2, 5, 10, 15, 20 % of the area.
    area_to_hold
        Fraction of the area (highest scores first) needed to hold 50 % and 90 % of the
        occurrences.
    normalised_density
        ``capture_table[f] / f`` for each fraction (1 = no better than random).
    prediction_area
        The prediction–area plot data.
    held_out
        The same evaluation of the held-out occurrences (its curve is the prediction-rate curve),
        or ``None``.
    """

    layer: str
    n_occurrences: int
    n_used: int
    roc_auc: float
    capture: dict[float, float]
    curve_area: np.ndarray = field(repr=False)
    curve_captured: np.ndarray = field(repr=False)
    roc_auc_ci: tuple[float, float] = (math.nan, math.nan)
    confidence: float = 0.95
    occurrences: Mapping[str, int] = field(default_factory=dict)
    capture_table: dict[float, float] = field(default_factory=dict)
    area_to_hold: dict[float, float] = field(default_factory=dict)
    normalised_density: dict[float, float] = field(default_factory=dict)
    prediction_area: PredictionArea | None = field(default=None, repr=False)
    held_out: Evaluation | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON reports (capture keys as percentages, e.g. ``"top_10pct"``).

        Non-finite numbers are written as ``None``.
        """
        out: dict[str, object] = {
            "layer": self.layer,
            "n_occurrences": self.n_occurrences,
            "n_used": self.n_used,
            "roc_auc": round(self.roc_auc, 6),
            "capture": {_pct_key(f): round(v, 6) for f, v in self.capture.items()},
            "success_rate_curve": {
                "area_fraction": [round(float(v), 6) for v in self.curve_area],
                "occurrences_captured": [round(float(v), 6) for v in self.curve_captured],
            },
            "roc_auc_ci": [_num(v) for v in self.roc_auc_ci],
            "confidence": self.confidence,
            "occurrences": dict(self.occurrences),
            "capture_table": {_pct_key(f): _num(v) for f, v in self.capture_table.items()},
            "area_to_hold": {
                _pct_key(f, "occurrences_"): _num(v) for f, v in self.area_to_hold.items()
            },
            "normalised_density": {_pct_key(f): _num(v) for f, v in self.normalised_density.items()},
            "prediction_area": None if self.prediction_area is None else self.prediction_area.to_dict(),
        }
        if self.held_out is not None:
            held = self.held_out.to_dict()
            held["prediction_rate_curve"] = held.pop("success_rate_curve")
            held.pop("prediction_area", None)
            out["held_out"] = held
        return out


def _pct_key(fraction: float, prefix: str = "top_") -> str:
    pct = fraction * 100
    text = f"{pct:.0f}" if abs(pct - round(pct)) < 1e-9 else f"{pct:g}".replace(".", "_")
    return f"{prefix}{text}pct"


def _evaluate_values(
    array: np.ndarray,
    background: Any,
    cells: OccurrenceCells,
    *,
    name: str,
    fractions: Sequence[float],
    bootstrap: int,
    confidence: float,
    seed: int,
    what: str,
    warn_unused: bool,
) -> Evaluation:
    values, report = _sampled(array, cells)
    return _evaluation_of(values, report, background, cells.n_given, name=name, fractions=fractions,
                          bootstrap=bootstrap, confidence=confidence, seed=seed, what=what,
                          warn_unused=warn_unused, stacklevel=5)  # fmt: skip


def _evaluation_of(
    values: np.ndarray,
    report: dict[str, int],
    background: Any,
    n_given: int,
    *,
    name: str,
    fractions: Sequence[float],
    bootstrap: int,
    confidence: float,
    seed: int,
    what: str,
    warn_unused: bool,
    stacklevel: int,
) -> Evaluation:
    if values.size == 0:
        if warn_unused:
            _warn_unused(report, what, stacklevel=stacklevel)
        raise InputError(
            f"no occurrence falls on a pixel with a score ({what}); check the occurrences' CRS "
            "and extent"
        )
    above = np.sort(_area_above(background, values))
    n = above.size
    terms = _auc_terms(background, values)
    prediction_area = _prediction_area(background, values, above)  # before the bootstrap: a
    # block-wise background may still need a pass for it
    if warn_unused:
        _warn_unused(report, what, stacklevel=stacklevel)  # the caller of evaluate
    table = {f: float(np.mean(above <= f)) for f in CAPTURE_FRACTIONS}
    hold = {p: float(above[max(0, math.ceil(p * n) - 1)]) for p in HOLD_SHARES}
    return Evaluation(
        layer=name,
        n_occurrences=n_given,
        n_used=n,
        roc_auc=float(terms.mean()),
        capture={float(f): float(np.mean(above <= f)) for f in fractions},
        curve_area=np.concatenate([[0.0], above, [1.0]]),
        curve_captured=np.concatenate([[0.0], np.arange(1, n + 1) / n, [1.0]]),
        roc_auc_ci=bootstrap_interval(terms, n_boot=bootstrap, confidence=confidence, seed=seed),
        confidence=confidence,
        occurrences=report,
        capture_table=table,
        area_to_hold=hold,
        normalised_density={f: v / f for f, v in table.items()},
        prediction_area=prediction_area,
    )


def _check_options(fractions: Sequence[float], confidence: float, bootstrap: int) -> None:
    for f in fractions:
        if not 0 < f <= 1:
            raise InputError(f"area fractions must be in (0, 1], got {f}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence}")
    if bootstrap < 0:
        raise InputError(f"bootstrap must be a number of resamples >= 0, got {bootstrap}")


def evaluate(
    score: xr.DataArray,
    occurrences: gpd.GeoDataFrame,
    *,
    fractions: Sequence[float] = (0.05, 0.1, 0.2),
    held_out: gpd.GeoDataFrame | None = None,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    blockwise: bool = False,
    warn_unused: bool = True,
) -> Evaluation:
    """ROC AUC, capture table, success-rate and prediction–area data of ``score``, in one pass.

    Parameters
    ----------
    score
        A 2-D ``(y, x)`` score or evidence layer with a CRS; higher means more prospective.
        Computed exactly once, whatever else is asked.
    occurrences
        Known (training) occurrences: points, any CRS.
    fractions
        Area fractions for :attr:`Evaluation.capture` (0.1 = the top 10 % of the area); the capture
        table always has 1, 2, 5, 10, 15 and 20 %.
    held_out
        Occurrences kept out of the model's making, for the prediction-rate curve
        (:attr:`Evaluation.held_out`).
    bootstrap
        Bootstrap resamples for the AUC's confidence interval (0: none).
    confidence
        Confidence level of the interval.
    seed
        Seed of the bootstrap.
    blockwise
        Read the score block by block in a few passes instead of whole (:func:`evaluate_blockwise`:
        the same numbers, memory bounded by a block), for grids too large for memory.
    warn_unused
        Warn when occurrences are left out (off the grid, on pixels without a score) or share a
        pixel. Callers that say so themselves (cross-validation folds, background draws) pass
        ``False``: never raising the warning is thread-safe, silencing it with
        ``warnings.catch_warnings`` is not. :attr:`Evaluation.occurrences` has the counts either way.

    Returns
    -------
    Evaluation

    Raises
    ------
    InputError
        No occurrences, none on a valid pixel, no valid pixel, or a fraction outside (0, 1].
    """
    _check_options(fractions, confidence, bootstrap)
    if blockwise:
        found, _ = evaluate_blockwise({str(score.name): score}, occurrences, fractions=fractions,
                                      held_out=held_out, bootstrap=bootstrap,
                                      confidence=confidence, seed=seed,
                                      warn_unused=warn_unused)  # fmt: skip
        return found[str(score.name)]
    cells = locate_occurrences(score, occurrences)
    held_cells = None if held_out is None else locate_occurrences(score, held_out)
    array = _score_array(score)
    background = _background(array, score.name)
    options = {"name": str(score.name), "fractions": fractions, "bootstrap": bootstrap,
               "confidence": confidence, "seed": seed, "warn_unused": warn_unused}  # fmt: skip
    result = _evaluate_values(array, background, cells, what="the evaluation", **options)  # type: ignore[arg-type]
    if held_cells is not None:
        held = _evaluate_values(array, background, held_cells, what="the held-out evaluation",
                                **options)  # type: ignore[arg-type]  # fmt: skip
        result = replace(result, held_out=held)
    return result


def roc_auc(score: xr.DataArray, occurrences: gpd.GeoDataFrame) -> float:
    """ROC AUC of the occurrences against the whole valid area (0.5 = random, 1 = perfect)."""
    return evaluate(score, occurrences, bootstrap=0).roc_auc


def capture_efficiency(
    score: xr.DataArray,
    occurrences: gpd.GeoDataFrame,
    *,
    fractions: Sequence[float] = (0.05, 0.1, 0.2),
) -> dict[float, float]:
    """Share of occurrences inside the top ``fraction`` of the area, for each fraction.

    An occurrence is inside the top fraction *f* when at most *f* of the valid area scores at least as
    high as it does.
    """
    return evaluate(score, occurrences, fractions=fractions, bootstrap=0).capture


def success_rate_curve(
    score: xr.DataArray, occurrences: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """The success-rate curve: (area fraction, fraction of occurrences captured), from (0, 0) to (1, 1)."""
    result = evaluate(score, occurrences, bootstrap=0)
    return result.curve_area, result.curve_captured


# --------------------------------------------------------------------------------------------
# block-wise evaluation: the same numbers with memory bounded by a block
#
# An exact rank needs every valid pixel, but not all of them at once. Each valid value is mapped to
# an unsigned integer key that sorts as the values do (a float's bits, sign-folded); the keys are
# then read 16 bits at a time (radix selection): one pass over the blocks counts the keys by their
# top 16 bits, the next counts, inside only the bins a question needs, the next 16 bits, and so on
# (2 levels for float32, 4 for float64). From these counts every question the evaluation asks is
# answered exactly: how many pixels score below / exactly at an occurrence's value, which value
# sits at a given rank (the prediction-area thresholds), and which value, if any, covers a given
# share of the area. Each pass is a Dask reduction over the grid's own blocks (on the workers with
# a cluster); its results are sparse counts (a few MiB), so the memory is one block and its keys.
# Hand-written because no library computes exact ranks of a chunked array (``dask.array.percentile``
# merges per-chunk percentiles approximately).

_DIGIT_BITS = 16
_DIGITS = 1 << _DIGIT_BITS
_DENSE_BINS = 1 << 22  # most bins counted by one bincount a block (32 MiB); else np.unique, also
# where there are more bins than keys (sorting uint32 keys beats zeroing and scanning the bins)
_DENSE_MERGE_BINS = 1 << 24  # a merge sums at most this many bins densely (128 MiB), else sorts
_TREE = 8  # partial results merged 8 at a time


class _Missing(Exception):  # control flow: a question needs another pass
    """A block-wise question needs counts that another pass over the blocks will bring."""


def _key_types(dtype: np.dtype) -> tuple[type, type, int]:
    if dtype == np.float32:
        return np.float32, np.uint32, 32
    return np.float64, np.uint64, 64  # float64, and integers / float16 (exact in float64)


def _to_keys(values: np.ndarray, ftype: type, utype: type) -> np.ndarray:
    """Order-preserving unsigned keys of finite values (−0 as +0)."""
    v = np.asarray(values, dtype=ftype).ravel()
    v = v[np.isfinite(v)] + ftype(0)
    u = v.view(utype)
    top = utype(1) << utype(8 * np.dtype(utype).itemsize - 1)
    return np.where((u & top) != 0, ~u, u | top)


def _from_keys(keys: np.ndarray, ftype: type, utype: type) -> np.ndarray:
    k = np.asarray(keys, dtype=utype)
    top = utype(1) << utype(8 * np.dtype(utype).itemsize - 1)
    return np.where((k & top) != 0, k & ~top, ~k).view(ftype).astype(float)


def _block_pass(block: np.ndarray, offset: tuple[int, int], requests: tuple[Any, ...],
                samples: tuple[tuple[np.ndarray, np.ndarray], ...], nbits: int,
                ftype: type, utype: type) -> tuple[list[Any], list[Any]]:
    """One block's share of a pass: sparse counts for each (level, prefixes) request, and the
    block's values at the sampled cells."""
    found = []
    for rows, cols in samples:
        r, c = rows - offset[0], cols - offset[1]
        inside = (r >= 0) & (r < block.shape[0]) & (c >= 0) & (c < block.shape[1])
        idx = np.flatnonzero(inside)
        found.append((idx, np.asarray(block[r[inside], c[inside]], dtype=float)))
    keys = _to_keys(block, ftype, utype) if requests else None
    counted = []
    for level, prefixes in requests:
        shift = nbits - _DIGIT_BITS * (level + 1)
        digits = (keys >> utype(shift)) & utype(_DIGITS - 1)
        # (slot, digit) -> one integer: uint32 where it fits (sorting it is 4x faster than int64)
        ctype = np.uint32 if prefixes.size * _DIGITS <= 1 << 32 else np.uint64
        if level == 0:
            combined = digits.astype(ctype)
        else:
            pref = keys >> utype(shift + _DIGIT_BITS)
            if level == 1:  # a 16-bit prefix: a look-up table, 20x faster than a binary search
                table = np.full(_DIGITS, -1, dtype=np.int64)
                table[prefixes] = np.arange(prefixes.size)
                slot = table[pref]
                hit = slot >= 0
            else:  # deeper (float64 keys): prefixes of 32 or 48 bits, searched
                slot = np.minimum(np.searchsorted(prefixes, pref), prefixes.size - 1)
                hit = prefixes[slot] == pref
            combined = slot[hit].astype(ctype) * ctype(_DIGITS) + digits[hit].astype(ctype)
        if prefixes.size * _DIGITS <= min(_DENSE_BINS, combined.size):  # fewer bins than keys
            counts = np.bincount(combined, minlength=prefixes.size * _DIGITS)
            nz = np.flatnonzero(counts)
            counted.append((nz, counts[nz]))
        else:
            counted.append(np.unique(combined, return_counts=True))
    return counted, found


def _merge_pass(*parts: tuple[list[Any], list[Any]]) -> tuple[list[Any], list[Any]]:
    """Sum the sparse counts of several partial passes (and gather their sampled values)."""
    counted = []
    for r in range(len(parts[0][0])):
        idx = np.concatenate([p[0][r][0] for p in parts]).astype(np.int64, copy=False)
        cnt = np.concatenate([p[0][r][1] for p in parts]).astype(np.int64, copy=False)
        space = int(idx.max()) + 1 if idx.size else 0
        if space <= min(_DENSE_MERGE_BINS, 8 * idx.size):  # bins few enough to count densely:
            total = np.zeros(space, dtype=np.int64)  # several times faster than sorting
            np.add.at(total, idx, cnt)
            uniq = np.flatnonzero(total.astype(bool))
            counted.append((uniq, total[uniq]))
        else:
            uniq, inverse = np.unique(idx, return_inverse=True)
            counted.append((uniq, np.bincount(inverse, weights=cnt, minlength=uniq.size).astype(np.int64)))
    found = [(np.concatenate([p[1][s][0] for p in parts]), np.concatenate([p[1][s][1] for p in parts]))
             for s in range(len(parts[0][1]))]  # fmt: skip
    return counted, found


class _BlockwiseBackground:
    """The valid pixels of a Dask-backed grid, known through radix counts gathered pass by pass.

    Offers what :class:`_SortedBackground` offers (``n``, ``less_equal``, ``order``); a question
    whose counts are not there yet records what it needs and raises :class:`_Missing`.
    """

    def __init__(self, data: Any, *, top_first: bool = True) -> None:
        self.data = data
        self.ftype, self.utype, self.nbits = _key_types(data.dtype)
        self.levels = self.nbits // _DIGIT_BITS
        self.hist: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        # the top-level counts in the first pass, or (``top_first=False``) only what is asked:
        # a first pass that only samples cells reads just the blocks that hold them
        self.wanted: set[tuple[int, int]] = {(0, 0)} if top_first else set()
        self.cells: list[OccurrenceCells] = []
        self.sampled: list[np.ndarray] = []

    # -- the passes
    def next_pass(self) -> Any:
        """A Delayed pass over the blocks for what is wanted (and the cells not yet sampled)."""
        import dask

        by_level: dict[int, set[int]] = {}
        for level, prefix in self.wanted - set(self.hist):
            by_level.setdefault(level, set()).add(prefix)
        requests = tuple((lv, np.array(sorted(p), dtype=self.utype)) for lv, p in sorted(by_level.items()))
        samples = tuple((c.row, c.col) for c in self.cells[len(self.sampled):])
        if not requests and not samples:
            return None
        starts = [np.concatenate([[0], np.cumsum(c)[:-1]]) for c in self.data.chunks]
        blocks = self.data.to_delayed()
        indices = [(i, j) for i in range(blocks.shape[0]) for j in range(blocks.shape[1])]
        if not requests:  # sampling only: the blocks that hold a cell
            indices = sorted(self._blocks_of(samples, starts))
            if not indices:  # every cell off the grid: nothing to read
                return (), dask.delayed(([], [(np.empty(0, np.int64), np.empty(0)) for _ in samples]))
        block_pass = dask.delayed(_block_pass, pure=True)
        parts = [block_pass(blocks[i, j], (int(starts[0][i]), int(starts[1][j])), requests, samples,
                            self.nbits, self.ftype, self.utype)
                 for i, j in indices]  # fmt: skip
        merge = dask.delayed(_merge_pass, pure=True)
        while len(parts) > 1:
            parts = [merge(*parts[k:k + _TREE]) if len(parts[k:k + _TREE]) > 1 else parts[k]
                     for k in range(0, len(parts), _TREE)]  # fmt: skip
        return requests, parts[0]

    def _blocks_of(self, samples: tuple[tuple[np.ndarray, np.ndarray], ...],
                   starts: list[np.ndarray]) -> set[tuple[int, int]]:
        """The (row, column) block indices that hold at least one of the sampled cells."""
        ny, nx = self.data.shape
        found: set[tuple[int, int]] = set()
        for rows, cols in samples:
            ok = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
            bi = np.searchsorted(starts[0], rows[ok], side="right") - 1
            bj = np.searchsorted(starts[1], cols[ok], side="right") - 1
            found.update(zip(bi.tolist(), bj.tolist(), strict=True))
        return found

    def take(self, requests: tuple[Any, ...], result: tuple[list[Any], list[Any]]) -> None:
        """Store a computed pass."""
        counted, found = result
        for (level, prefixes), (idx, cnt) in zip(requests, counted, strict=True):
            slot, digit = np.divmod(np.asarray(idx, dtype=np.int64), _DIGITS)  # idx ascending
            edges = np.searchsorted(slot, np.arange(prefixes.size + 1))
            for s, prefix in enumerate(prefixes):
                d, c = digit[edges[s]:edges[s + 1]], cnt[edges[s]:edges[s + 1]]
                self.hist[(level, int(prefix))] = (d, c, np.concatenate([[0], np.cumsum(c)]))
        for cells, (idx, vals) in zip(self.cells[len(self.sampled):], found, strict=False):
            values = np.full(cells.n_given, np.nan)
            values[idx] = vals
            values[~cells.inside] = np.nan
            self.sampled.append(values)

    # -- the questions
    def _bin(self, level: int, prefix: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        got = self.hist.get((level, prefix))
        if got is None:
            self.wanted.add((level, prefix))
        return got

    @property
    def n(self) -> int:
        top = self._bin(0, 0)
        if top is None:
            raise _Missing
        return int(top[2][-1])

    def want(self, cells: OccurrenceCells) -> None:
        """Read the grid's values at these cells in the next pass."""
        if not any(known is cells for known in self.cells):
            self.cells.append(cells)

    def sample(self, cells: OccurrenceCells) -> np.ndarray:
        """The grid's value at each cell (NaN outside), once a pass has read them."""
        for known, values in zip(self.cells, self.sampled, strict=False):
            if known is cells:
                return values
        self.want(cells)
        raise _Missing

    def _keys_of(self, values: np.ndarray) -> list[int]:
        return [int(k) for k in _to_keys(np.asarray(values), self.ftype, self.utype)]

    def less_equal(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """How many pixels score below each (finite) value, and how many exactly at it."""
        less = np.zeros(len(values), dtype=np.int64)
        equal = np.zeros(len(values), dtype=np.int64)
        keys = self._keys_of(values)
        # a key's path of bins (its prefixes) is known from the key alone: ask for all of them at
        # once, so one pass brings every level (a bin no pixel falls in comes back empty)
        missing = False
        for key in keys:
            for bin_ in self._path(key):
                missing |= self._bin(*bin_) is None
        if missing:
            raise _Missing
        for i, key in enumerate(keys):
            below = 0
            for level, prefix in self._path(key):
                digits, counts, cum = self.hist[(level, prefix)]
                digit = (key >> (self.nbits - _DIGIT_BITS * (level + 1))) & (_DIGITS - 1)
                pos = int(np.searchsorted(digits, digit))
                below += int(cum[pos])
                if pos == digits.size or digits[pos] != digit:
                    break  # no pixel shares this prefix: nothing is equal
                if level == self.levels - 1:
                    equal[i] = counts[pos]
            less[i] = below
        return less, equal

    def _path(self, key: int) -> list[tuple[int, int]]:
        """The (level, prefix) bins a key falls in, from the top: its leading 0, 16, 32, ... bits."""
        return [(level, key >> (self.nbits - _DIGIT_BITS * level) if level else 0)
                for level in range(self.levels)]  # fmt: skip

    def order(self, ranks: np.ndarray) -> np.ndarray:
        """The valid pixels' values at 0-based ``ranks`` of the ascending order."""
        keys, missing = [], False
        for rank in np.asarray(ranks).ravel():
            prefix, rest = 0, int(rank)
            for level in range(self.levels):
                got = self._bin(level, prefix)
                if got is None:
                    missing = True
                    break
                digits, _, cum = got
                pos = int(np.searchsorted(cum[1:], rest, side="right"))
                rest -= int(cum[pos])
                prefix = (prefix << _DIGIT_BITS) | int(digits[pos])
            keys.append(prefix)
        if missing:
            raise _Missing
        return _from_keys(np.array(keys, dtype=self.utype), self.ftype, self.utype)

    def modal(self, share: float) -> tuple[float, float] | None:
        """The most common valid value and its share of the valid pixels, if that share is at least
        ``share`` (ties: the smallest value), else ``None``."""
        n = self.n
        if n == 0:
            return None
        found: list[tuple[int, int]] = []
        missing = False
        stack = [(0, 0)]
        while stack:
            level, prefix = stack.pop()
            got = self._bin(level, prefix)
            if got is None:
                missing = True
                continue
            digits, counts, _ = got
            for d, c in zip(digits, counts, strict=True):
                if c / n >= share:  # a bin holds at least as many as any value in it
                    key = (prefix << _DIGIT_BITS) | int(d)
                    (found.append((int(c), key)) if level == self.levels - 1
                     else stack.append((level + 1, key)))  # fmt: skip
        if missing:
            raise _Missing
        if not found:
            return None
        count, key = max(found, key=lambda ck: (ck[0], -ck[1]))
        value = _from_keys(np.array([key], dtype=self.utype), self.ftype, self.utype)[0]
        return float(value), count / n


def _resolve(tasks: Mapping[str, Callable[[], Any]], grids: Sequence[_BlockwiseBackground]) -> dict[str, Any]:
    """Answer every task, computing the passes they need (one ``dask.compute`` per pass, all grids
    together)."""
    import dask

    done: dict[str, Any] = {}
    while True:
        for name, task in tasks.items():
            if name not in done:
                try:
                    done[name] = task()
                except _Missing:
                    pass
        if len(done) == len(tasks):
            return done
        passes = [(g, g.next_pass()) for g in grids]
        passes = [(g, p) for g, p in passes if p is not None]
        if not passes:  # pragma: no cover - a question that no pass can answer
            raise RuntimeError("block-wise evaluation made no progress")
        results = dask.compute(*[p[1] for _, p in passes])
        for (g, (requests, _)), result in zip(passes, results, strict=True):
            g.take(requests, result)


def _chunked_layer(name: str, layer: xr.DataArray) -> xr.DataArray:
    """A layer checked for the block-wise evaluations: 2-D ``(y, x)``, Dask-backed."""
    if layer.ndim != 2 or set(layer.dims) != {"y", "x"}:
        raise InputError(f"layer {name!r} must be 2-D (y, x) to evaluate, has {layer.dims}")
    layer = layer.transpose("y", "x")
    return layer.chunk("auto") if layer.chunks is None else layer


def evaluate_blockwise(
    layers: Mapping[str, xr.DataArray],
    occurrences: gpd.GeoDataFrame | None,
    *,
    fractions: Sequence[float] = (0.05, 0.1, 0.2),
    held_out: gpd.GeoDataFrame | None = None,
    bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    modal_share: float | None = None,
    warn_unused: bool = True,
) -> tuple[dict[str, Evaluation], dict[str, tuple[float, float] | None]]:
    """:func:`evaluate` of each layer, block by block: the same numbers in bounded memory.

    No grid is ever held whole: each layer is read block by block (its Dask chunks) in a few
    passes — 2 or 3 for float32 layers, up to 5 for float64 — that count its values in radix bins,
    all layers together in one ``dask.compute`` per pass (on the workers with a cluster). Every
    rank, count and order statistic is exact, so the result equals :func:`evaluate`'s (same
    floats). Memory: one block and its integer keys (12 bytes a pixel for float32) per task, and
    a few MiB of counts here.

    Parameters
    ----------
    layers
        2-D ``(y, x)`` layers with a CRS, by name (the :attr:`Evaluation.layer` given); NumPy-backed
        layers are chunked first.
    occurrences
        Known occurrences (any CRS), or ``None`` for no evaluation (only ``modal_share``).
    fractions, held_out, bootstrap, confidence, seed, warn_unused
        As for :func:`evaluate`.
    modal_share
        If given, also find each layer's most common valid value when it covers at least this share
        of the valid pixels (a "flat" score).

    Returns
    -------
    evaluations : dict
        :class:`Evaluation` by name (empty without occurrences).
    modal : dict
        ``(value, share)`` or ``None`` by name (empty without ``modal_share``).

    Raises
    ------
    InputError
        As for :func:`evaluate`.
    """
    _check_options(fractions, confidence, bootstrap)
    grids: dict[str, _BlockwiseBackground] = {}
    tasks: dict[str, Callable[[], Any]] = {}
    options = {"fractions": fractions, "bootstrap": bootstrap, "confidence": confidence, "seed": seed,
               "warn_unused": warn_unused}
    for name, layer in layers.items():
        layer = _chunked_layer(name, layer)
        grid = grids[name] = _BlockwiseBackground(layer.data)
        if occurrences is not None:
            cells = locate_occurrences(layer, occurrences)
            held = None if held_out is None else locate_occurrences(layer, held_out)
            for c in (cells, held):
                if c is not None:
                    grid.want(c)  # read in the first pass, with the top-level counts

            kept: dict[str, Evaluation] = {}

            def task(grid=grid, cells=cells, held=held, name=name, kept=kept) -> Evaluation:  # type: ignore[no-untyped-def]
                if grid.n == 0:
                    raise InputError(f"layer {name!r} has no valid pixels to evaluate")
                # a task is tried again after each pass; an evaluation warns only once it is
                # complete, so the main one is kept while the held-out one waits for its counts
                # (warnings.catch_warnings would do it, but threads undo it for each other)
                if "main" not in kept:
                    kept["main"] = _blockwise_evaluation(grid, cells, name, "the evaluation", options)
                if held is None:
                    return kept["main"]
                return replace(kept["main"], held_out=_blockwise_evaluation(
                    grid, held, name, "the held-out evaluation", options))  # fmt: skip

            tasks[f"evaluate:{name}"] = task
        if modal_share is not None:
            tasks[f"modal:{name}"] = lambda grid=grid: grid.modal(modal_share)
    done = _resolve(tasks, list(grids.values()))
    evaluations = {k.split(":", 1)[1]: v for k, v in done.items() if k.startswith("evaluate:")}
    modal = {k.split(":", 1)[1]: v for k, v in done.items() if k.startswith("modal:")}
    return evaluations, modal


def roc_auc_blockwise(
    layers: Mapping[str, xr.DataArray], occurrences: gpd.GeoDataFrame
) -> dict[str, float]:
    """The ROC AUC of each layer (:func:`roc_auc`'s number), block by block, in little more than
    one pass over each grid.

    Where only the AUC is wanted (each evidence layer of a large run), the counts it needs are
    known in advance: a first pass reads only the blocks that hold an occurrence (their values),
    and one full pass then counts, with the top-level bins, the finer bins of exactly those
    values (a value's bins follow from its bits). :func:`evaluate_blockwise`, which also needs
    the order statistics of the prediction–area plot, makes 2 or 3 full passes.

    Parameters
    ----------
    layers
        2-D ``(y, x)`` layers with a CRS, by name; NumPy-backed layers are chunked first.
    occurrences
        Known occurrences (any CRS).

    Returns
    -------
    dict
        ROC AUC by name (0.5 = random, 1 = perfect), equal to ``roc_auc(layer, occurrences)``.

    Raises
    ------
    InputError
        A layer not 2-D, or no occurrence on a pixel with a value.
    """
    grids: dict[str, _BlockwiseBackground] = {}
    tasks: dict[str, Callable[[], Any]] = {}
    for name, layer in layers.items():
        layer = _chunked_layer(name, layer)
        grid = grids[name] = _BlockwiseBackground(layer.data, top_first=False)
        cells = locate_occurrences(layer, occurrences)
        grid.want(cells)

        def task(grid=grid, cells=cells, name=name) -> float:  # type: ignore[no-untyped-def]
            sampled = grid.sample(cells)
            values, report = sampled[np.isfinite(sampled)], cells.report(sampled)
            if values.size == 0:
                _warn_unused(report, stacklevel=4)
                raise InputError(
                    f"no occurrence falls on a pixel of layer {name!r} with a value; check the "
                    "occurrences' CRS and extent"
                )
            below, ties = grid.less_equal(values)  # the one full pass (n >= 1: values exist)
            _warn_unused(report, stacklevel=4)
            return float(np.mean((below + 0.5 * ties) / grid.n))

        tasks[name] = task
    return _resolve(tasks, list(grids.values()))


def _blockwise_evaluation(grid: _BlockwiseBackground, cells: OccurrenceCells, name: str, what: str,
                          options: Mapping[str, Any]) -> Evaluation:
    sampled = grid.sample(cells)
    report = cells.report(sampled)
    values = sampled[np.isfinite(sampled)]
    n = grid.n
    missing = False
    for question in (lambda: grid.less_equal(values),  # ask every independent question first,
                     lambda: grid.order((np.arange(101) * (n - 1)) // 100)):  # so that one pass
        try:  # brings the counts of all of them
            question()
        except _Missing:
            missing = True
    if missing:
        raise _Missing
    return _evaluation_of(values, report, grid, cells.n_given, name=name, what=what,
                          stacklevel=6, **options)  # fmt: skip


# --------------------------------------------------------------------------------------------
# plots and the written report


def _figure() -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.5), dpi=110)
    FigureCanvasAgg(fig)  # no pyplot: no global state, safe in threads and headless
    return fig


def _font_family(lang: str) -> list[str] | None:
    """Fonts for ``lang``: an installed CJK font for Japanese (``None`` when there is none)."""
    if lang != "ja":
        return ["DejaVu Sans"]
    font = japanese_font()
    return None if font is None else [font, "DejaVu Sans"]


def _plot_language(lang: str) -> tuple[Language, list[str]]:
    """The language a plot in ``lang`` is labelled in, and its font family.

    The family is given to each text of the plot, not through matplotlib's ``rcParams``, which
    are one setting for the whole process (two reports drawn at once in a worker's threads, one
    English and one Japanese, would take each other's fonts). Japanese without a Japanese font
    would show as boxes: the plot is labelled in English instead, with a warning that says why.
    """
    checked = check_lang(lang)
    family = _font_family(checked)
    if family is None:
        warnings.warn(
            "no Japanese font is installed (e.g. the fonts-noto-cjk package): the evaluation "
            "plots are labelled in English",
            stacklevel=3,
        )
        return "en", ["DejaVu Sans"]
    return checked, family


def plot_rate_curves(evaluation: Evaluation, *, lang: str = "en", ax: Any = None) -> Any:
    """Success-rate (and, with held-out occurrences, prediction-rate) curves on a matplotlib axes.

    Parameters
    ----------
    evaluation
        From :func:`evaluate`.
    lang
        ``"en"`` or ``"ja"`` (labels from :mod:`geosurvey.i18n`, in a Japanese font for ``"ja"``;
        English, with a warning, where no Japanese font is installed).
    ax
        An axes to draw on (default: a new figure's).

    Returns
    -------
    matplotlib.axes.Axes
    """
    lang, family = _plot_language(lang)
    text = TEXT[lang]
    if ax is None:
        ax = _figure().add_subplot()
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", label=text["eval_random"])
    curves = [(evaluation, text["eval_success_rate"], "C0")]
    if evaluation.held_out is not None:
        curves.append((evaluation.held_out, text["eval_prediction_rate"], "C1"))
    for ev, label, colour in curves:
        auc = text["eval_auc"].format(auc=ev.roc_auc)
        if math.isfinite(ev.roc_auc_ci[0]):
            auc += " " + text["eval_auc_ci"].format(
                pct=round(ev.confidence * 100), lo=ev.roc_auc_ci[0], hi=ev.roc_auc_ci[1]
            )
        ax.step(ev.curve_area, ev.curve_captured, where="post", color=colour,
                label=f"{label}: {auc} (n = {ev.n_used})")  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(text["eval_area_fraction"], fontfamily=family)
    ax.set_ylabel(text["eval_captured"], fontfamily=family)
    ax.set_title(text["eval_rate_title"], fontfamily=family)
    ax.legend(loc="lower right", prop={"family": family, "size": "small"})
    ax.grid(alpha=0.3)
    return ax


def plot_prediction_area(evaluation: Evaluation, *, lang: str = "en", ax: Any = None) -> Any:
    """The prediction–area plot (Yousefi & Carranza 2015) on a matplotlib axes.

    Occurrences predicted (left axis, %) and area occupied (right axis, %) against the score
    threshold; the intersection is marked. Returns the left axes. ``lang`` and ``ax`` as for
    :func:`plot_rate_curves`.
    """
    lang, family = _plot_language(lang)
    text = TEXT[lang]
    pa = evaluation.prediction_area
    if pa is None:
        raise InputError("this evaluation has no prediction-area data; compute it with evaluate()")
    if ax is None:
        ax = _figure().add_subplot()
    ax.plot(pa.threshold, pa.occurrences_above * 100, color="C3", label=text["eval_pa_predicted"])
    right = ax.twinx()
    right.plot(pa.threshold, pa.area_above * 100, color="C0", label=text["eval_pa_area"])
    inter = pa.intersection
    ax.axvline(inter["threshold"], color="0.5", linestyle="--", linewidth=0.8)
    ax.set_xlabel(text["eval_pa_threshold"], fontfamily=family)
    ax.set_ylabel(text["eval_pa_predicted"], color="C3", fontfamily=family)
    right.set_ylabel(text["eval_pa_area"], color="C0", fontfamily=family)
    ax.set_ylim(0, 102)
    right.set_ylim(102, 0)  # inverted, as in Yousefi & Carranza (2015)
    ax.set_title(text["eval_pa_title"], fontfamily=family)
    ax.text(0.02, 0.04, text["eval_pa_intersection"].format(
        occ=inter["occurrences"] * 100, area=inter["area"] * 100,
        nd=inter["normalised_density"]), transform=ax.transAxes, fontsize="small",
        fontfamily=family)  # fmt: skip
    ax.grid(alpha=0.3)
    return ax


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    return path


def write_evaluation(
    evaluation: Evaluation | Mapping[str, Evaluation],
    folder: str | Path,
    *,
    lang: str = "en",
) -> dict[str, Path]:
    """Write an evaluation's report and plots into ``folder`` (which must exist).

    Parameters
    ----------
    evaluation
        One evaluation (written as ``evaluation.json``, ``success_rate.png``,
        ``prediction_area.png``), or several by name (e.g. ``{"score": ..., "mag": ...}``: written
        as ``evaluation.json`` holding all of them, and ``<name>_success_rate.png``,
        ``<name>_prediction_area.png``). Names must be plain file-name words.
    folder
        An existing folder (e.g. a run's temporary output folder); each file is written atomically.
    lang
        Language of the plot labels (``"en"`` or ``"ja"``).

    Returns
    -------
    dict
        ``{"json": path, "<name>_success_rate": path, ...}`` (``success_rate`` and
        ``prediction_area`` for a single evaluation).
    """
    check_lang(lang)
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"write_evaluation: {folder} is not an existing folder; create it first")
    single = isinstance(evaluation, Evaluation)
    items = {"": evaluation} if single else dict(evaluation)  # type: ignore[arg-type]
    for name in items:
        if name and not (name.replace("_", "").replace("-", "").isalnum() and name.isascii()):
            raise InputError(
                f"write_evaluation: {name!r} cannot name a file; use letters, digits, '-' or '_'"
            )
    lang = _plot_language(lang)[0]  # English if there is no Japanese font: said once, here
    written: dict[str, Path] = {}
    for name, ev in items.items():
        prefix = f"{name}_" if name else ""
        fig = _figure()
        plot_rate_curves(ev, lang=lang, ax=fig.add_subplot())
        written[f"{prefix}success_rate"] = _save(fig, folder / f"{prefix}success_rate.png")
        fig = _figure()
        plot_prediction_area(ev, lang=lang, ax=fig.add_subplot())
        written[f"{prefix}prediction_area"] = _save(fig, folder / f"{prefix}prediction_area.png")
    doc = items[""].to_dict() if single else {name: ev.to_dict() for name, ev in items.items()}
    written["json"] = atomic_write_text(
        folder / "evaluation.json", json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    )
    return written
