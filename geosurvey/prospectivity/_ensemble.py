"""Uncertainty of a data-driven map: an ensemble over occurrences and background draws.

Each member is the model refitted on a bootstrap of the occurrences (drawn with replacement) and a
fresh background draw; the mean of the members is the score, their standard deviation the
uncertainty. Both are built lazily, block by block, in one pass over the evidence stack (every member
predicts each block in turn). A risk–return classification then puts ground that scores high *and*
is certain first.

References
----------
Zuo, R., & Wang, Z. (2020). Effects of random negative training samples on mineral prospectivity
mapping. *Natural Resources Research*, 29, 3443-3455.
Lisitsin, V. A., González-Álvarez, I., & Porwal, A. (2013). Regional prospectivity analysis for
hydrothermal-remobilised nickel mineral systems in western Victoria, Australia. *Ore Geology
Reviews*, 52, 100-112 (uncertainty alongside prospectivity).
"""

from __future__ import annotations

from dataclasses import dataclass

import dask
import numpy as np
import xarray as xr
from sklearn.base import clone

from geosurvey.errors import InputError
from geosurvey.prospectivity._models import RasterClassifier, check_stack, sample_stack
from geosurvey.prospectivity._sampling import (
    ClassWeight,
    TrainingSample,
    background_cells,
    concat_samples,
)
from geosurvey.provenance import annotate

__all__ = [
    "RISK_RETURN_CLASSES",
    "Ensemble",
    "fit_ensemble",
    "risk_return_classes",
    "risk_return_thresholds",
]

#: Risk–return classes, best first (the values of :func:`risk_return_classes`).
RISK_RETURN_CLASSES: dict[int, str] = {
    1: "high score, low uncertainty",
    2: "high score, high uncertainty",
    3: "low score, low uncertainty",
    4: "low score, high uncertainty",
}


@dataclass(frozen=True, eq=False)
class Ensemble:
    """Fitted members and the seeds that made them (see :func:`fit_ensemble`)."""

    members: tuple[RasterClassifier, ...]
    seeds: tuple[int, ...]
    layers: tuple[str, ...]

    def _block(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shape = block.shape[:-1]
        flat = block.reshape(-1, block.shape[-1])
        preds = np.stack([m.predict_proba(flat)[:, 1] for m in self.members])
        mean = np.mean(preds, axis=0)  # NaN cells stay NaN, without a warning (>= 2 members)
        std = np.std(preds, axis=0, ddof=1)
        return mean.astype(np.float32).reshape(shape), std.astype(np.float32).reshape(shape)

    def predict_raster(self, stack: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
        """Mean score and standard deviation over the members, lazy and block by block.

        Returns
        -------
        (score, uncertainty)
            ``(y, x)`` float32, dimensionless: the members' mean probability and its sample standard
            deviation (``ddof=1``); NaN where evidence is missing.
        """
        check_stack(stack, "Ensemble.predict_raster")
        layers = tuple(str(v) for v in stack["layer"].values)
        if layers != self.layers:
            raise InputError(
                f"Ensemble.predict_raster: the stack has layers {list(layers)} but the ensemble was "
                f"fitted on {list(self.layers)}; stack the same layers in the same order"
            )
        if stack.chunks is not None:
            stack = stack.chunk({"layer": -1})
        mean, std = xr.apply_ufunc(
            self._block, stack, input_core_dims=[["layer"]], output_core_dims=[[], []],
            dask="parallelized", output_dtypes=[np.float32, np.float32],
        )
        n = len(self.members)
        name = type(self.members[0].estimator_).__name__
        mean = annotate(mean.transpose("y", "x").rename("score"),
                        f"Ensemble({n} x {name}).mean", units="1",
                        long_name=f"prospectivity score (mean of {n} ensemble members)")
        std = annotate(std.transpose("y", "x").rename("uncertainty"),
                       f"Ensemble({n} x {name}).std(ddof=1)", units="1",
                       long_name=f"uncertainty (standard deviation of {n} ensemble members)")
        return mean, std


def fit_ensemble(
    model: RasterClassifier,
    stack: xr.DataArray,
    positives: TrainingSample,
    *,
    n_members: int = 20,
    n_background: int = 2000,
    buffer: float = 0.0,
    valid: np.ndarray | None = None,
    class_weight: ClassWeight = None,
    seed: int = 0,
) -> Ensemble:
    """Fit ``n_members`` copies of ``model``, each on a bootstrap of the occurrences and its own
    background draw; every member's cells are read in one compute.

    Parameters
    ----------
    model
        The model to refit (cloned for each member).
    stack
        ``(layer, y, x)`` evidence stack.
    positives
        Occurrence cells (:func:`geosurvey.prospectivity.occurrence_cells`).
    n_members
        Ensemble size (at least 2; 20 or more for a stable standard deviation).
    n_background, buffer, valid, class_weight
        As in :func:`geosurvey.prospectivity.training_sample` (``buffer`` in metres).
    seed
        Member ``i`` uses seed ``seed + i`` for its bootstrap and its background draw.
    """
    if n_members < 2:
        raise InputError(f"an ensemble needs at least 2 members, got n_members={n_members}")
    check_stack(stack, "fit_ensemble")
    like = stack.isel(layer=0)
    seeds = tuple(seed + i for i in range(n_members))
    draws = [background_cells(like, n=n_background, exclude=positives, buffer=buffer, valid=valid,
                              seed=s) for s in seeds]
    union = concat_samples(positives.with_class_weight(None), *draws)
    values = sample_stack(stack, union)
    npos = len(positives)
    layers = tuple(str(v) for v in stack["layer"].values)
    members = []
    for i, s in enumerate(seeds):
        rng = np.random.default_rng(s)
        boot = rng.integers(0, npos, size=npos)
        start = npos + i * n_background
        index = np.concatenate([boot, np.arange(start, start + n_background)])
        sample = union.subset(index).with_class_weight(class_weight)
        member = clone(model)
        member.fit_scored(values[index], sample.labels, sample_weight=sample.weight)
        member.layers_ = layers
        members.append(member)
    return Ensemble(members=tuple(members), seeds=seeds, layers=layers)


def risk_return_thresholds(
    score: xr.DataArray,
    uncertainty: xr.DataArray,
    *,
    score_quantile: float = 0.9,
    uncertainty_quantile: float = 0.5,
) -> tuple[float, float]:
    """Thresholds of "high score" and "low uncertainty" (one compute of both grids).

    "High score" is the top ``1 - score_quantile`` of the valid area (default: the top 10 %). The
    uncertainty threshold is the ``uncertainty_quantile`` of the uncertainty **among the
    high-scoring cells** (default: their median), because the spread of an ensemble of
    probabilities grows with the probability itself: an area-wide median would call nearly every
    high-scoring cell uncertain. So half of the high-scoring ground is class 1 (high score, low
    uncertainty) and half class 2, ranked by how much the members agree.
    """
    for q in (score_quantile, uncertainty_quantile):
        if not 0 < q < 1:
            raise InputError(f"risk-return quantiles must be in (0, 1), got {q}")
    s, u = dask.compute(score.data, uncertainty.data)
    s, u = np.asarray(s, dtype=float), np.asarray(u, dtype=float)
    ok = np.isfinite(s) & np.isfinite(u)
    if not ok.any():
        raise InputError(f"layer {score.name!r} has no valid cells to classify")
    s_thr = float(np.quantile(s[ok], score_quantile))
    high = ok & (s >= s_thr)
    return s_thr, float(np.quantile(u[high], uncertainty_quantile))


def risk_return_classes(
    score: xr.DataArray,
    uncertainty: xr.DataArray,
    *,
    score_threshold: float,
    uncertainty_threshold: float,
) -> xr.DataArray:
    """Risk–return class of each cell (lazy): 1 high score / low uncertainty (first), 2 high / high,
    3 low / low, 4 low / high; NaN where either is missing (see :data:`RISK_RETURN_CLASSES`).

    "High score" is ``score >= score_threshold``; "low uncertainty" is
    ``uncertainty < uncertainty_threshold``.
    """
    high = score >= score_threshold
    certain = uncertainty < uncertainty_threshold
    classes = xr.where(high, xr.where(certain, 1.0, 2.0), xr.where(certain, 3.0, 4.0))
    classes = classes.where(score.notnull() & uncertainty.notnull()).astype(np.float32)
    if "spatial_ref" in score.coords:  # xarray.where keeps only the condition's coordinates
        classes = classes.assign_coords(spatial_ref=score["spatial_ref"])
    return annotate(
        classes.rename("risk_return"),
        f"risk_return_classes(score >= {score_threshold:.6g}, uncertainty < {uncertainty_threshold:.6g})",
        units="1",
        long_name="risk-return class (1 high score/low uncertainty ... 4 low score/high uncertainty)",
        classes="; ".join(f"{k}: {v}" for k, v in RISK_RETURN_CLASSES.items()),
    )
