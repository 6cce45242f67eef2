"""Evaluating a prospectivity map against known occurrences, honestly.

The background is the whole valid area (every pixel with a score), the usual choice for
success-rate curves (Agterberg & Bonham-Carter 2005). With it the area under the success-rate
curve and the ROC AUC of "occurrence pixels vs. all pixels" are the same number: the probability
that an occurrence scores higher than a randomly chosen pixel of the area (ties count one half).

This module works at the edge of the lazy flow: it computes the score grid once (``.compute()``) to
rank all valid pixels, which needs ``4 × n_pixels`` bytes for float32 scores (400 MB for a
10,000 × 10,000 grid).

References
----------
Agterberg, F. P., & Bonham-Carter, G. F. (2005). Measuring the performance of mineral-potential
maps. *Natural Resources Research*, 14(1), 1-17.
Fawcett, T. (2006). An introduction to ROC analysis. *Pattern Recognition Letters*, 27(8), 861-874.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import odc.geo.xr  # noqa: F401  (registers the .odc accessor)
import xarray as xr

from geosurvey.errors import CRSError, InputError
from geosurvey.grid import grid_crs

__all__ = [
    "Evaluation",
    "capture_efficiency",
    "evaluate",
    "occurrence_values",
    "roc_auc",
    "success_rate_curve",
]


def _crs_of(grid: xr.DataArray) -> object:
    crs = grid_crs(grid)
    if crs is None:
        raise CRSError(
            f"layer {grid.name!r} has no CRS; load it with geosurvey.catalogs.load or set one"
        )
    return crs


def occurrence_values(score: xr.DataArray, occurrences: gpd.GeoDataFrame) -> np.ndarray:
    """The score at each occurrence (nearest pixel); occurrences off the grid or on NaN are dropped.

    Parameters
    ----------
    score
        A 2-D ``(y, x)`` layer with a CRS.
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
    if occurrences is None or len(occurrences) == 0:
        raise InputError(
            "the occurrence set is empty: give at least one known occurrence to evaluate against"
        )
    if occurrences.crs is None:
        raise CRSError(
            "the occurrences have no CRS; set it (GeoDataFrame.set_crs) before evaluating"
        )
    crs = _crs_of(score)
    pts = occurrences.to_crs(str(crs)).geometry
    pts = pts.where(pts.geom_type == "Point", pts.centroid)
    xs, ys = pts.x.to_numpy(), pts.y.to_numpy()
    xres = float(abs(score.x[1] - score.x[0])) if score.sizes["x"] > 1 else 0.0
    yres = float(abs(score.y[1] - score.y[0])) if score.sizes["y"] > 1 else 0.0
    xmin, xmax = float(score.x.min()) - xres / 2, float(score.x.max()) + xres / 2
    ymin, ymax = float(score.y.min()) - yres / 2, float(score.y.max()) + yres / 2
    inside = (xs >= xmin) & (xs <= xmax) & (ys >= ymin) & (ys <= ymax)
    values = np.full(len(xs), np.nan)
    if inside.any():
        sampled = score.sel(
            x=xr.DataArray(xs[inside], dims="pt"),
            y=xr.DataArray(ys[inside], dims="pt"),
            method="nearest",
        )
        values[inside] = np.asarray(sampled.values, dtype=float)
    off_grid = int((~inside).sum())
    on_nan = int((inside & np.isnan(values)).sum())
    if off_grid or on_nan:
        warnings.warn(
            f"{off_grid} occurrence(s) lie outside the grid and {on_nan} on pixels without a score; "
            f"they are left out of the evaluation ({len(xs) - off_grid - on_nan} kept)",
            stacklevel=2,
        )
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        raise InputError(
            "no occurrence falls on a pixel with a score; check the occurrences' CRS and extent"
        )
    return kept


def _background(score: xr.DataArray) -> np.ndarray:
    values = np.asarray(score.values, dtype=float).ravel()
    values = np.sort(values[np.isfinite(values)])
    if values.size == 0:
        raise InputError(f"layer {score.name!r} has no valid pixels to evaluate")
    return values


def _area_above(background_sorted: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Fraction of the area scoring at least each value."""
    n = background_sorted.size
    return (n - np.searchsorted(background_sorted, values, side="left")) / n


def _auc(background_sorted: np.ndarray, values: np.ndarray) -> float:
    n = background_sorted.size
    below = np.searchsorted(background_sorted, values, side="left")
    ties = np.searchsorted(background_sorted, values, side="right") - below
    return float(np.mean((below + 0.5 * ties) / n))


@dataclass(frozen=True)
class Evaluation:
    """Performance of a score against occurrences (see :func:`evaluate`)."""

    layer: str
    n_occurrences: int
    n_used: int
    roc_auc: float
    capture: dict[float, float]
    curve_area: np.ndarray = field(repr=False)
    curve_captured: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, object]:
        """Plain data for JSON reports (capture keys as percentages, e.g. ``"top_10pct"``)."""
        return {
            "layer": self.layer,
            "n_occurrences": self.n_occurrences,
            "n_used": self.n_used,
            "roc_auc": round(self.roc_auc, 6),
            "capture": {f"top_{round(f * 100):d}pct": round(v, 6) for f, v in self.capture.items()},
            "success_rate_curve": {
                "area_fraction": [round(float(v), 6) for v in self.curve_area],
                "occurrences_captured": [round(float(v), 6) for v in self.curve_captured],
            },
        }


def evaluate(
    score: xr.DataArray,
    occurrences: gpd.GeoDataFrame,
    *,
    fractions: Sequence[float] = (0.05, 0.1, 0.2),
) -> Evaluation:
    """ROC AUC, capture efficiency and success-rate curve of ``score`` in one pass over the grid.

    Parameters
    ----------
    score
        A 2-D ``(y, x)`` score or evidence layer with a CRS; higher means more prospective.
    occurrences
        Known occurrences (points, any CRS).
    fractions
        Area fractions for the capture efficiency (0.1 = the top 10 % of the area).
    """
    for f in fractions:
        if not 0 < f <= 1:
            raise InputError(f"area fractions must be in (0, 1], got {f}")
    background = _background(score)
    values = occurrence_values(score, occurrences)
    above = np.sort(_area_above(background, values))
    n = above.size
    return Evaluation(
        layer=str(score.name),
        n_occurrences=len(occurrences),
        n_used=n,
        roc_auc=_auc(background, values),
        capture={float(f): float(np.mean(above <= f)) for f in fractions},
        curve_area=np.concatenate([[0.0], above, [1.0]]),
        curve_captured=np.concatenate([[0.0], np.arange(1, n + 1) / n, [1.0]]),
    )


def roc_auc(score: xr.DataArray, occurrences: gpd.GeoDataFrame) -> float:
    """ROC AUC of the occurrences against the whole valid area (0.5 = random, 1 = perfect)."""
    return evaluate(score, occurrences).roc_auc


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
    return evaluate(score, occurrences, fractions=fractions).capture


def success_rate_curve(
    score: xr.DataArray, occurrences: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """The success-rate curve: (area fraction, fraction of occurrences captured), from (0, 0) to (1, 1)."""
    result = evaluate(score, occurrences)
    return result.curve_area, result.curve_captured
