"""Why a cell scores high: per-pixel contributions of the evidence layers, and the drivers of targets.

For tree models (random forests, gradient boosting) the ``shap`` package's
:class:`shap.TreeExplainer` splits each cell's prediction into one contribution per evidence layer
that sum, with the explainer's expected value, to the model's output (Lundberg et al. 2020):

* ``method="treeshap"``: exact TreeSHAP (path-dependent), cost ~ trees × leaves × depth² per cell:
  a few milliseconds per cell for a 100-tree forest — use it on small grids or cropped targets;
* ``method="saabas"``: Saabas's approximation (``approximate=True``), the same additivity at about
  the cost of a prediction; fit for whole grids.

Contributions are in the model's output units: probability for random forests, log-odds for
histogram gradient boosting (shap explains its raw decision function). They are built lazily, block
by block (:func:`xarray.apply_ufunc`), like the score.

References
----------
Lundberg, S. M., et al. (2020). From local explanations to global understanding with explainable AI
for trees. *Nature Machine Intelligence*, 2, 56-67.
Saabas, A. (2014). Interpreting random forests. Blog post, http://blog.datadive.net/.
"""

from __future__ import annotations

from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from affine import Affine
from rasterio.features import rasterize
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.validation import check_is_fitted

from geosurvey.errors import CRSError, InputError
from geosurvey.grid import grid_crs
from geosurvey.prospectivity._models import RasterClassifier, check_stack
from geosurvey.provenance import annotate

__all__ = ["ContributionMethod", "drivers_table", "target_drivers", "top_layers", "tree_contributions"]

ContributionMethod = Literal["treeshap", "saabas"]

_TREE_MODELS = (RandomForestClassifier, ExtraTreesClassifier, GradientBoostingClassifier,
                HistGradientBoostingClassifier, DecisionTreeClassifier)


def _output_units(estimator: object) -> str:
    if isinstance(estimator, HistGradientBoostingClassifier | GradientBoostingClassifier):
        return "log-odds"
    return "1"


class _Explainer:
    """A TreeExplainer built once per model; picklable (rebuilt on a worker from the estimator)."""

    def __init__(self, estimator: object, method: ContributionMethod, rows_ok: object) -> None:
        self.estimator = estimator
        self.method = method
        self.rows_ok = rows_ok
        self._explainer = None

    def __getstate__(self) -> dict:
        return {"estimator": self.estimator, "method": self.method, "rows_ok": self.rows_ok,
                "_explainer": None}

    def explainer(self) -> object:
        if self._explainer is None:
            try:
                import shap
            except ImportError:
                raise InputError(
                    "per-pixel contributions of tree models need the optional package shap: "
                    "install geosurvey[explain] (or pip install shap), or ask for no contributions"
                ) from None

            self._explainer = shap.TreeExplainer(self.estimator)
        return self._explainer

    def expected_value(self) -> float:
        expected = np.ravel(self.explainer().expected_value)
        return float(expected[-1])  # the positive class (binary: one value, or one per class)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        shape = block.shape
        flat = block.reshape(-1, shape[-1])
        out = np.full(flat.shape, np.nan, dtype=np.float32)
        ok = self.rows_ok(flat)
        if ok.any():
            values = self.explainer().shap_values(flat[ok], approximate=self.method == "saabas",
                                                  check_additivity=False)
            values = np.asarray(values[1] if isinstance(values, list) else values)
            if values.ndim == 3:  # (cells, layers, classes)
                values = values[:, :, 1]
            out[ok] = values
        return out.reshape(shape)


def tree_contributions(
    model: RasterClassifier,
    stack: xr.DataArray,
    *,
    method: ContributionMethod = "saabas",
) -> xr.DataArray:
    """Per-pixel contribution of each evidence layer to a tree model's output, lazy.

    Parameters
    ----------
    model
        A fitted :class:`RasterClassifier` around a tree model (random forest, extra trees, gradient
        boosting, histogram gradient boosting, decision tree).
    stack
        The ``(layer, y, x)`` evidence stack it was fitted on.
    method
        ``"treeshap"`` (exact) or ``"saabas"`` (approximate, about the cost of a prediction).

    Returns
    -------
    xarray.DataArray
        ``(layer, y, x)`` float32 contributions; with ``attrs["expected_value"]`` they sum over
        ``layer`` to the model output (``attrs["units"]``: ``"1"`` probability or ``"log-odds"``).
        NaN where evidence is missing (``missing="nan"``).
    """
    check_is_fitted(model, "estimator_")
    check_stack(stack, "tree_contributions")
    if method not in ("treeshap", "saabas"):
        raise InputError(f"contribution method must be 'treeshap' or 'saabas', got {method!r}")
    estimator = model.estimator_
    if not isinstance(estimator, _TREE_MODELS):
        raise InputError(
            f"per-pixel contributions need a tree model; {type(estimator).__name__} is not one "
            "(use random-forest or hist-gradient-boosting, or permutation importance instead)"
        )
    explain = _Explainer(estimator, method, model.valid_rows)
    if stack.chunks is not None:
        stack = stack.chunk({"layer": -1})
    out = xr.apply_ufunc(explain, stack, input_core_dims=[["layer"]], output_core_dims=[["layer"]],
                         dask="parallelized", output_dtypes=[np.float32])
    units = _output_units(estimator)
    return annotate(
        out.transpose("layer", "y", "x").rename("contribution"),
        f"tree_contributions({type(estimator).__name__}, {method})",
        units=units,
        long_name="contribution of each evidence layer to the model output (SHAP)",
        expected_value=explain.expected_value(),
        method=method,
    )


def top_layers(contributions: xr.DataArray, *, n: int = 3) -> list[str]:
    """The ``n`` layers with the largest mean absolute contribution over the grid (one compute)."""
    mean_abs = np.abs(contributions).mean(("y", "x")).compute()
    order = np.argsort(-np.nan_to_num(mean_abs.values, nan=-1.0))
    return [str(contributions["layer"].values[i]) for i in order[:n]]


def target_drivers(
    targets: gpd.GeoDataFrame,
    contributions: xr.DataArray,
    *,
    top: int = 3,
) -> pd.DataFrame:
    """For each target polygon, the evidence layers that raise its score most.

    The contributions of each layer are averaged over the cells whose centre lies inside the
    polygon (``rasterio.features.rasterize``, one polygon at a time; a polygon smaller than a cell takes the cell holding
    its centroid).

    Parameters
    ----------
    targets
        Target polygons (any CRS; reprojected to the grid's).
    contributions
        ``(layer, y, x)`` contributions (:func:`tree_contributions`).
    top
        How many layers to name per target.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``targets``: ``drivers`` (the ``top`` layer names, largest positive mean
        contribution first; layers that lower the score are not named), ``contributions`` (their
        mean contributions, in the contributions' units) and one column per layer with its mean.
    """
    if contributions.dims != ("layer", "y", "x"):
        raise InputError(f"contributions have dims {contributions.dims}; give (layer, y, x)")
    if targets.crs is None:
        raise CRSError("the target polygons have no CRS; set it before naming their drivers")
    crs = grid_crs(contributions)
    if crs is None:
        raise CRSError("the contribution rasters have no CRS")
    geoms = targets.to_crs(crs.to_wkt()).geometry
    values = np.asarray(contributions.values, dtype=float)
    layers = [str(v) for v in contributions["layer"].values]
    ny, nx = values.shape[1:]
    xs, ys = contributions["x"].values, contributions["y"].values
    if nx < 2 or ny < 2:
        raise InputError("the contribution rasters need at least 2 x 2 cells")
    dx, dy = float(xs[1] - xs[0]), float(ys[1] - ys[0])
    transform = Affine(dx, 0.0, float(xs[0]) - dx / 2, 0.0, dy, float(ys[0]) - dy / 2)
    rows = []
    for geom in geoms:
        # one mask per polygon, so overlapping targets each keep all their cells
        mask = np.zeros((ny, nx), dtype=bool)
        if geom is not None and not geom.is_empty:
            mask = rasterize([(geom, 1)], out_shape=(ny, nx), transform=transform, fill=0,
                             dtype="uint8").astype(bool)
        if not mask.any() and geom is not None and not geom.is_empty:
            c = geom.centroid
            col, row = ~transform * (c.x, c.y)
            row, col = int(np.floor(row)), int(np.floor(col))
            if 0 <= row < ny and 0 <= col < nx:
                mask[row, col] = True
        with np.errstate(invalid="ignore"):
            means = np.array([np.nanmean(v[mask]) if mask.any() and np.isfinite(v[mask]).any()
                              else np.nan for v in values])
        order = [j for j in np.argsort(-np.nan_to_num(means, nan=-np.inf)) if means[j] > 0][:top]
        rows.append({"drivers": [layers[j] for j in order],
                     "contributions": [float(means[j]) for j in order],
                     **{layer: float(means[j]) for j, layer in enumerate(layers)}})
    return pd.DataFrame(rows, index=targets.index)


def drivers_table(drivers: pd.DataFrame) -> list[dict[str, object]]:
    """JSON-able rows of :func:`target_drivers` (target index, layers, mean contributions)."""
    return [
        {"target": str(idx), "drivers": list(row["drivers"]),
         "contributions": [round(v, 6) for v in row["contributions"]]}
        for idx, row in drivers.iterrows()
    ]
