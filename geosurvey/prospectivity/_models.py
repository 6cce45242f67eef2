"""Data-driven prospectivity: scikit-learn classifiers fitted on sampled cells, predicted lazily.

A model is any scikit-learn classifier (logistic regression, random forest, histogram gradient
boosting, a PU-bagging ensemble, a pipeline ...) wrapped in :class:`RasterClassifier`, which is
itself a scikit-learn estimator (``get_params``/``set_params``/``clone`` work, ``fit``/``predict_proba``
take ``(n_samples, n_layers)`` arrays), with two raster methods on top:

* :meth:`RasterClassifier.fit_raster` reads the sampled cells of the evidence stack in **one**
  compute (vectorised point indexing of the stacked Dask array) and fits on them;
* :meth:`RasterClassifier.predict_raster` builds the score lazily, block by block
  (:func:`xarray.apply_ufunc` over the stacked layers, no global step): building it computes nothing,
  and the chunked result equals the in-memory one (a pixel's prediction depends on that pixel only).

The score is the estimator's probability of the positive class (dimensionless, 0–1); it ranks ground
and, with background standing in for negatives, is not a calibrated probability of a deposit.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Literal

import dask
import numpy as np
import pandas as pd
import xarray as xr
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from geosurvey.errors import InputError
from geosurvey.grid import check_same_grid
from geosurvey.prospectivity._sampling import TrainingSample
from geosurvey.provenance import annotate

__all__ = [
    "MissingPolicy",
    "RasterClassifier",
    "data_availability",
    "sample_stack",
    "stack_layers",
]

MissingPolicy = Literal["nan", "estimator"]

PREDICT_PIXELS = 262_144
"""Pixels per ``predict_proba`` call inside a block of :meth:`RasterClassifier.predict_raster`.

Bounds the estimator's temporaries per thread (a random forest allocates a ``(pixels, 2)``
float64 array per tree: 4 MiB a strip instead of 16 MiB for a 1024² block); measured no slower
than whole blocks, and faster than strips of 65,536 pixels (``benchmarks/bench_models.py``).
"""


def stack_layers(layers: Mapping[str, xr.DataArray]) -> xr.DataArray:
    """Stack named ``(y, x)`` evidence layers into one ``(layer, y, x)`` array (lazy on Dask).

    The layers must share one grid (:func:`geosurvey.grid.check_same_grid`); the ``layer`` dimension
    is one chunk, the spatial chunks are those of the first layer. Values keep their common float
    type (``float32`` layers stay ``float32``: half the memory, and scikit-learn's trees work in
    ``float32`` anyway); integer layers become floats.

    Parameters
    ----------
    layers
        Layer name → ``(y, x)`` DataArray (units may differ; the model does not mix them).
    """
    if not layers:
        raise InputError("no evidence layers to stack: give at least one (y, x) layer")
    names = list(layers)
    arrays = [layers[name] for name in names]
    for name, da in zip(names, arrays, strict=True):
        if set(da.dims) != {"y", "x"}:
            raise InputError(f"evidence layer {name!r} has dims {da.dims}; give 2-D (y, x) layers")
    check_same_grid(arrays, what="stack_layers", names=[repr(n) for n in names])
    first = arrays[0]
    dtype = np.result_type(np.float32, *[da.dtype for da in arrays])
    arrays = [da.transpose("y", "x").astype(dtype, copy=False) for da in arrays]
    arrays = [da.assign_coords(y=first["y"], x=first["x"]) for da in arrays]
    stacked = xr.concat(arrays, dim=pd.Index(names, name="layer", dtype=object), join="override",
                        coords="minimal", compat="override", combine_attrs="drop")
    if stacked.chunks is not None:
        stacked = stacked.chunk({"layer": -1})
    if "spatial_ref" in first.coords:
        stacked = stacked.assign_coords(spatial_ref=first["spatial_ref"])
    stacked.name = "evidence"
    stacked.attrs = {"units": "mixed (see each layer)"}
    return stacked


def check_stack(stack: xr.DataArray, what: str) -> None:
    """Refuse anything but a ``(layer, y, x)`` evidence stack (from :func:`stack_layers`)."""
    if stack.dims != ("layer", "y", "x"):
        raise InputError(
            f"{what}: the evidence stack has dims {stack.dims}; build it with stack_layers"
        )


def sample_stack(stack: xr.DataArray, sample: TrainingSample) -> np.ndarray:
    """The evidence values at the sample's cells, ``(n_cells, n_layers)``: one compute.

    Vectorised point indexing of the stacked array (Dask's ``vindex`` under xarray), so only the
    chunks holding a sampled cell are read.
    """
    check_stack(stack, "sample_stack")
    picked = stack.isel(
        y=xr.DataArray(sample.rows, dims="cell"), x=xr.DataArray(sample.cols, dims="cell")
    ).transpose("cell", "layer")
    (values,) = dask.compute(picked.data)
    return np.asarray(values, dtype=np.float64)


def data_availability(stack: xr.DataArray) -> xr.DataArray:
    """Share of the evidence layers that have data at each cell (0–1), lazy.

    1 where every layer has a value, 0 where none has; dimensionless.
    """
    check_stack(stack, "data_availability")
    share = stack.notnull().mean("layer").astype(np.float32)
    return annotate(
        share.rename("data_availability"),
        f"data_availability(share of {stack.sizes['layer']} layers present)",
        units="1",
        long_name="share of evidence layers with data",
    )


class RasterClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier that fits on sampled cells and predicts a whole grid lazily.

    Parameters
    ----------
    estimator
        Any scikit-learn classifier with ``predict_proba`` (default: ``LogisticRegression()``).
        It is cloned in ``fit``; the fitted copy is ``estimator_``.
    missing
        ``"nan"``: rows with any missing evidence are dropped from the fit and get a NaN score
        (the convention of the fuzzy methods); ``"estimator"``: NaN is passed to the estimator,
        for those that handle it (histogram gradient boosting, random forests in scikit-learn ≥ 1.4).

    Attributes
    ----------
    estimator_
        The fitted estimator.
    classes_
        ``[0, 1]``.
    layers_
        Names of the evidence layers, in the order of the columns, once fitted on a stack.
    n_features_in_
        Number of evidence layers.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> model = RasterClassifier(RandomForestClassifier(n_estimators=5, random_state=0))
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]])
    >>> model.fit(X, [0, 1, 0, 1]).predict(X).tolist()
    [0, 1, 0, 1]
    """

    def __init__(self, estimator: BaseEstimator | None = None, *, missing: MissingPolicy = "nan"):
        self.estimator = estimator
        self.missing = missing

    def valid_rows(self, X: np.ndarray) -> np.ndarray:
        """Which rows of ``X`` the model scores (all, or those without missing evidence)."""
        if self.missing == "estimator":
            return np.ones(X.shape[0], dtype=bool)
        return np.isfinite(X).all(axis=1)

    def fit(
        self,
        X: np.ndarray,
        y: Sequence[int] | np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> RasterClassifier:
        """Fit on ``(n_samples, n_layers)`` evidence values and 0/1 labels.

        Rows with missing values are dropped (``missing="nan"``) with a warning saying how many.
        """
        if self.missing not in ("nan", "estimator"):
            raise InputError(f"missing must be 'nan' or 'estimator', got {self.missing!r}")
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if X.ndim != 2 or X.shape[0] != y.shape[0]:
            raise InputError(
                f"the training values have shape {X.shape} for {y.shape[0]} labels; give one row "
                "of layer values per label"
            )
        ok = self.valid_rows(X)
        if not ok.all():
            warnings.warn(
                f"{int((~ok).sum())} training cell(s) have missing evidence and are left out of "
                f"the fit ({int(ok.sum())} kept)",
                stacklevel=2,
            )
        X, y = X[ok], y[ok]
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)[ok]
        labels = np.unique(y)
        if not set(labels.tolist()) <= {0, 1} or labels.size != 2:
            raise InputError(
                f"training labels must hold both 1 (occurrence) and 0 (background), got "
                f"{labels.tolist()}; give occurrences and background cells with evidence"
            )
        estimator = clone(self.estimator if self.estimator is not None else LogisticRegression())
        if weight is None:
            estimator.fit(X, y)
        elif isinstance(estimator, Pipeline):  # weights go to the final step
            estimator.fit(X, y, **{f"{estimator.steps[-1][0]}__sample_weight": weight})
        else:
            estimator.fit(X, y, sample_weight=weight)
        self.estimator_ = estimator
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        return self

    def fit_scored(
        self,
        X: np.ndarray,
        y: Sequence[int] | np.ndarray,
        sample_weight: np.ndarray | None = None,
    ) -> RasterClassifier:
        """:meth:`fit` on the rows the model scores (:meth:`valid_rows`) only, without the warning
        about the others.

        For callers that report the cells without evidence themselves (a run's model, a fold, an
        ensemble member): the warning is never raised, rather than silenced with
        ``warnings.catch_warnings``, which threads (a batch's areas) undo for each other. The
        fitted model is the one :meth:`fit` gives.
        """
        X = np.asarray(X, dtype=np.float64)
        ok = self.valid_rows(X)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)[ok]
        return self.fit(X[ok], np.asarray(y)[ok], sample_weight=weight)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """``(n_samples, 2)`` probabilities of background and occurrence; NaN rows stay NaN."""
        check_is_fitted(self, "estimator_")
        X = np.asarray(X)
        if X.dtype.kind != "f":
            X = X.astype(np.float64)
        out = np.full((X.shape[0], 2), np.nan)
        ok = self.valid_rows(X)
        if ok.any():
            proba = self.estimator_.predict_proba(X[ok])
            column = list(self.estimator_.classes_).index(1)
            out[ok, 1] = proba[:, column]
            out[ok, 0] = 1.0 - proba[:, column]
        return out

    def predict(self, X: np.ndarray) -> np.ndarray:
        """0/1 labels at probability 0.5 (rows with missing evidence: 0)."""
        return (np.nan_to_num(self.predict_proba(X)[:, 1], nan=0.0) >= 0.5).astype(int)

    def _block_score(self, block: np.ndarray) -> np.ndarray:
        """Score of one ``(..., layer)`` block: the positive-class probability, float32.

        Predicted in strips of rows of about :data:`PREDICT_PIXELS` pixels, so the estimator's
        temporaries (a forest's ``(pixels, 2)`` float64 per tree, the float64 copy of the values,
        the ``(pixels, 2)`` result) are bounded by the strip, not the block: the block itself is
        never copied whole (a ``(y, x, layer)`` block is a strided view of the stack's chunk, and
        flattening it would copy it).
        """
        if block.ndim == 1:
            return self.predict_proba(block[None])[0, 1].astype(np.float32)
        shape, n_layers = block.shape[:-1], block.shape[-1]
        per_row = int(np.prod(shape[1:], dtype=np.int64)) or 1
        step = max(1, PREDICT_PIXELS // per_row)
        out = np.empty(shape, dtype=np.float32)
        for start in range(0, shape[0], step):
            part = block[start:start + step]
            proba = self.predict_proba(part.reshape(-1, n_layers))[:, 1]
            out[start:start + step] = proba.reshape(part.shape[:-1])
        return out

    def fit_raster(self, stack: xr.DataArray, sample: TrainingSample) -> RasterClassifier:
        """Fit on the sample's cells of a ``(layer, y, x)`` stack (one compute: the sampled cells)."""
        values = sample_stack(stack, sample)
        self.fit(values, sample.labels, sample_weight=sample.weight)
        self.layers_ = tuple(str(v) for v in stack["layer"].values)
        return self

    def predict_raster(self, stack: xr.DataArray, *, name: str = "score") -> xr.DataArray:
        """The score of every cell, lazy and block by block (no global step; nothing computes).

        Parameters
        ----------
        stack
            ``(layer, y, x)`` evidence stack with the layers the model was fitted on, in that order.
        name
            Name of the result.

        Returns
        -------
        xarray.DataArray
            ``(y, x)`` float32, dimensionless 0–1; NaN where evidence is missing (``missing="nan"``).
        """
        check_is_fitted(self, "estimator_")
        check_stack(stack, "predict_raster")
        layers = tuple(str(v) for v in stack["layer"].values)
        expected = getattr(self, "layers_", None)
        if expected is not None and layers != expected:
            raise InputError(
                f"predict_raster: the stack has layers {list(layers)} but the model was fitted on "
                f"{list(expected)}; stack the same layers in the same order"
            )
        if stack.sizes["layer"] != self.n_features_in_:
            raise InputError(
                f"predict_raster: the stack has {stack.sizes['layer']} layers but the model was "
                f"fitted on {self.n_features_in_}"
            )
        if stack.chunks is not None:
            stack = stack.chunk({"layer": -1})
        score = xr.apply_ufunc(
            self._block_score,
            stack,
            input_core_dims=[["layer"]],
            dask="parallelized",
            output_dtypes=[np.float32],
        )
        return annotate(
            score.transpose("y", "x").rename(name),
            f"RasterClassifier({type(self.estimator_).__name__}).predict_raster",
            units="1",
            long_name="prospectivity score (model probability of the occurrence class)",
        )
