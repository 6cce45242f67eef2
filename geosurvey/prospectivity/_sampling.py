"""Training samples for data-driven prospectivity: occurrence cells, background cells, PU bagging.

Known deposits are positives; nothing is a known negative. The usual stand-in is *background*:
cells drawn at random from the area, which are unlabelled rather than barren (some of them may hold
undiscovered deposits). This module draws them reproducibly (a seed), keeps them away from known
occurrences (a buffer in metres), weighs the classes, and offers bagging positive-unlabelled
learning (Mordelet & Vert 2014) for the case where the background is treated as unlabelled.

Cells are addressed by ``(row, col)`` on the analysis grid; only positions are drawn here, no pixel
is read. The values of the sampled cells are read in one compute by
:func:`geosurvey.prospectivity.sample_stack`.

References
----------
Mordelet, F., & Vert, J.-P. (2014). A bagging SVM to learn from positive and unlabeled examples.
*Pattern Recognition Letters*, 37, 201-209.
Alfonso, P., et al. (2024). Positive-unlabelled learning for porphyry copper prospectivity.
Zuo, R., & Wang, Z. (2020). Effects of random negative training samples on mineral prospectivity
mapping. *Natural Resources Research*, 29, 3443-3455.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import xarray as xr
from scipy.spatial import cKDTree
from sklearn.base import BaseEstimator
from sklearn.utils.class_weight import compute_sample_weight

from geosurvey.errors import CRSError, InputError
from geosurvey.grid import grid_crs

__all__ = [
    "ClassWeight",
    "TrainingSample",
    "background_cells",
    "occurrence_cells",
    "pu_bagging",
    "training_sample",
]

ClassWeight = Literal["balanced"] | None


@dataclass(frozen=True, eq=False)
class TrainingSample:
    """Cells of the analysis grid with labels: 1 for an occurrence, 0 for background.

    Attributes
    ----------
    rows, cols
        Integer positions on the ``(y, x)`` grid, one per cell.
    labels
        ``1`` (occurrence) or ``0`` (background / unlabelled), ``int8``.
    easting, northing
        Cell-centre coordinates in the grid's CRS (metres), for spatial cross-validation.
    weight
        Sample weights (``None``: all equal).
    group
        For occurrences, the index of the occurrence in the input table; ``-1`` for background.
    """

    rows: np.ndarray
    cols: np.ndarray
    labels: np.ndarray
    easting: np.ndarray
    northing: np.ndarray
    weight: np.ndarray | None = None
    group: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.labels.size)

    @property
    def n_positive(self) -> int:
        """Number of occurrence cells."""
        return int(np.count_nonzero(self.labels == 1))

    @property
    def n_background(self) -> int:
        """Number of background cells."""
        return int(np.count_nonzero(self.labels == 0))

    def subset(self, index: np.ndarray) -> TrainingSample:
        """The cells at ``index`` (integer positions or a boolean mask), weights kept."""
        return TrainingSample(
            rows=self.rows[index],
            cols=self.cols[index],
            labels=self.labels[index],
            easting=self.easting[index],
            northing=self.northing[index],
            weight=None if self.weight is None else self.weight[index],
            group=None if self.group is None else self.group[index],
        )

    def with_class_weight(self, class_weight: ClassWeight) -> TrainingSample:
        """Weights that balance the two classes (scikit-learn's ``compute_sample_weight``)."""
        if class_weight is None:
            return TrainingSample(self.rows, self.cols, self.labels, self.easting, self.northing,
                                  None, self.group)
        weight = compute_sample_weight(class_weight, self.labels)
        return TrainingSample(self.rows, self.cols, self.labels, self.easting, self.northing,
                              weight, self.group)

    def coordinates(self) -> np.ndarray:
        """``(n, 2)`` array of (easting, northing) in metres."""
        return np.column_stack([self.easting, self.northing])


def concat_samples(*samples: TrainingSample) -> TrainingSample:
    """One sample holding the cells of several (weights dropped unless all have them)."""
    weights = [s.weight for s in samples]
    groups = [s.group for s in samples]
    return TrainingSample(
        rows=np.concatenate([s.rows for s in samples]),
        cols=np.concatenate([s.cols for s in samples]),
        labels=np.concatenate([s.labels for s in samples]),
        easting=np.concatenate([s.easting for s in samples]),
        northing=np.concatenate([s.northing for s in samples]),
        weight=None if any(w is None for w in weights) else np.concatenate(weights),
        group=None if any(g is None for g in groups) else np.concatenate(groups),
    )


def _axes(like: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    if "y" not in like.dims or "x" not in like.dims:
        raise InputError(f"layer {like.name!r} has dims {like.dims}; give a (y, x) grid")
    return np.asarray(like["y"].values, dtype=float), np.asarray(like["x"].values, dtype=float)


def _nearest_index(axis: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest index on a regular axis and whether the value lies inside the axis' pixels."""
    step = axis[1] - axis[0] if axis.size > 1 else 1.0
    index = np.rint((values - axis[0]) / step).astype(np.int64)
    inside = (index >= 0) & (index < axis.size)
    return np.clip(index, 0, axis.size - 1), inside


def occurrence_cells(like: xr.DataArray, occurrences: gpd.GeoDataFrame) -> TrainingSample:
    """The grid cell (nearest pixel centre) of each occurrence, labelled 1.

    Parameters
    ----------
    like
        A ``(y, x)`` layer of the analysis grid, with a CRS.
    occurrences
        Points (any CRS; reprojected to the grid's). Non-point geometries use their centroid.

    Returns
    -------
    TrainingSample
        One cell per occurrence inside the grid, in input order (``group`` = input position).
        Occurrences off the grid are dropped with a warning saying how many.

    Raises
    ------
    InputError
        If there are no occurrences or none is on the grid.
    """
    if occurrences is None or len(occurrences) == 0:
        raise InputError("the occurrence set is empty: give at least one known occurrence to train on")
    if occurrences.crs is None:
        raise CRSError("the occurrences have no CRS; set it (GeoDataFrame.set_crs) before sampling")
    crs = grid_crs(like)
    if crs is None:
        raise CRSError(f"layer {like.name!r} has no CRS; load it with geosurvey.catalogs.load or set one")
    pts = occurrences.to_crs(crs.to_wkt()).geometry
    pts = pts.where(pts.geom_type == "Point", pts.centroid)
    xs, ys = pts.x.to_numpy(dtype=float), pts.y.to_numpy(dtype=float)
    yaxis, xaxis = _axes(like)
    rows, in_y = _nearest_index(yaxis, ys)
    cols, in_x = _nearest_index(xaxis, xs)
    inside = in_y & in_x & np.isfinite(xs) & np.isfinite(ys)
    if not inside.any():
        raise InputError("no occurrence lies on the grid; check the occurrences' CRS and extent")
    if not inside.all():
        warnings.warn(
            f"{int((~inside).sum())} occurrence(s) lie outside the grid and are left out of the "
            f"training sample ({int(inside.sum())} kept)",
            stacklevel=2,
        )
    rows, cols = rows[inside], cols[inside]
    return TrainingSample(
        rows=rows,
        cols=cols,
        labels=np.ones(rows.size, dtype=np.int8),
        easting=xaxis[cols],
        northing=yaxis[rows],
        group=np.flatnonzero(inside),
    )


def background_cells(
    like: xr.DataArray,
    *,
    n: int,
    exclude: TrainingSample | None = None,
    buffer: float = 0.0,
    valid: np.ndarray | None = None,
    seed: int | np.random.Generator = 0,
) -> TrainingSample:
    """Draw ``n`` distinct background cells at random, none within ``buffer`` metres of ``exclude``.

    Drawn by rejection (random flat indices in batches, cells near an occurrence or outside
    ``valid`` thrown back), so no list of every allowed cell is ever built: memory stays
    proportional to ``n`` on grids of any size. Only positions are drawn; no pixel is read.

    Parameters
    ----------
    like
        A ``(y, x)`` layer of the analysis grid.
    n
        Number of background cells.
    exclude
        Occurrence cells; their own cells are never drawn, nor any cell whose centre lies closer than
        ``buffer`` metres to one of them.
    buffer
        Exclusion radius around each occurrence, in metres (``0``: only the occurrence cells).
    valid
        Optional boolean ``(y, x)`` array: draw only where it is true (e.g. where every evidence layer
        has data). Without it, cells with missing evidence are dropped later, when the stack is
        sampled.
    seed
        Seed (or generator) of the draw; the same seed draws the same cells.

    Raises
    ------
    InputError
        If ``n`` < 1, ``buffer`` < 0, or fewer than ``n`` cells are allowed.
    """
    if n < 1:
        raise InputError(f"the number of background cells must be at least 1, got {n}")
    if not np.isfinite(buffer) or buffer < 0:
        raise InputError(f"the background buffer must be a distance >= 0 in metres, got {buffer}")
    yaxis, xaxis = _axes(like)
    ny, nx = yaxis.size, xaxis.size
    rng = np.random.default_rng(seed)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != (ny, nx):
            raise InputError(f"the valid-cell mask has shape {valid.shape}; the grid is {(ny, nx)}")
    tree = None
    taken = set()
    if exclude is not None and len(exclude):
        taken = set((exclude.rows * nx + exclude.cols).tolist())
        if buffer > 0:
            tree = cKDTree(exclude.coordinates())
    allowed_total = ny * nx if valid is None else int(valid.sum())
    if allowed_total - len(taken) < n:
        raise InputError(
            f"asked for {n} background cells but the grid has only {allowed_total - len(taken)} "
            "allowed cells; ask for fewer"
        )
    chosen: list[np.ndarray] = []
    seen: set[int] = set()
    count, tries = 0, 0
    while count < n:
        tries += 1
        if tries > 200:
            raise InputError(
                f"could draw only {count} of {n} background cells outside the {buffer:g} m buffer; "
                "use a smaller buffer or fewer cells"
            )
        batch = rng.integers(0, ny * nx, size=max(2 * (n - count), 64))
        _, first = np.unique(batch, return_index=True)
        batch = batch[np.sort(first)]  # distinct, in drawn order (reproducible)
        keep = np.fromiter((int(b) not in seen and int(b) not in taken for b in batch),
                           dtype=bool, count=batch.size)
        batch = batch[keep]
        r, c = np.divmod(batch, nx)
        ok = np.ones(batch.size, dtype=bool)
        if valid is not None:
            ok &= valid[r, c]
        if tree is not None and batch.size:
            dist, _ = tree.query(np.column_stack([xaxis[c], yaxis[r]]), k=1)
            ok &= dist >= buffer
        batch = batch[ok][: n - count]
        seen.update(batch.tolist())
        chosen.append(batch)
        count += batch.size
    flat = np.concatenate(chosen)
    rows, cols = np.divmod(flat, nx)
    return TrainingSample(
        rows=rows,
        cols=cols,
        labels=np.zeros(rows.size, dtype=np.int8),
        easting=xaxis[cols],
        northing=yaxis[rows],
        group=np.full(rows.size, -1, dtype=np.int64),
    )


def training_sample(
    like: xr.DataArray,
    occurrences: gpd.GeoDataFrame | TrainingSample,
    *,
    n_background: int,
    buffer: float = 0.0,
    valid: np.ndarray | None = None,
    class_weight: ClassWeight = None,
    seed: int | np.random.Generator = 0,
) -> TrainingSample:
    """Occurrence cells (label 1) followed by random background cells (label 0).

    Parameters
    ----------
    like
        A ``(y, x)`` layer of the analysis grid.
    occurrences
        Known occurrences (points) or their cells from :func:`occurrence_cells`.
    n_background, buffer, valid, seed
        As in :func:`background_cells` (``buffer`` in metres).
    class_weight
        ``"balanced"``: weights ``n / (2 n_class)`` so both classes weigh the same in the fit
        (scikit-learn's definition); ``None``: equal weights.
    """
    positives = occurrences if isinstance(occurrences, TrainingSample) else occurrence_cells(
        like, occurrences
    )
    background = background_cells(like, n=n_background, exclude=positives, buffer=buffer,
                                  valid=valid, seed=seed)
    return concat_samples(positives.with_class_weight(None), background).with_class_weight(
        class_weight
    )


def pu_bagging(
    estimator: BaseEstimator,
    *,
    n_bags: int = 50,
    bag_size: int | float = 1.0,
    seed: int = 0,
) -> BaseEstimator:
    """Bagging positive-unlabelled classifier (Mordelet & Vert 2014) around ``estimator``.

    Uses :class:`pulearn.BaggingPuClassifier` (pulearn 0.2, maintained, works with current
    scikit-learn — checked by the tests): each of ``n_bags`` base classifiers is fitted on every
    positive against a bootstrap of ``bag_size`` unlabelled cells (background, label 0), and the
    score is the average of the bags' probabilities. Labels: 1 positive, 0 unlabelled.

    Parameters
    ----------
    estimator
        A scikit-learn classifier (e.g. a decision tree, as in Mordelet & Vert's trees variant).
    n_bags
        Number of bags (base classifiers).
    bag_size
        Unlabelled cells per bag: an integer count, or a fraction of the unlabelled cells.
        Mordelet & Vert recommend about as many as there are positives.
    seed
        Random state of the bagging.
    """
    from pulearn import BaggingPuClassifier

    if n_bags < 1:
        raise InputError(f"PU bagging needs at least one bag, got n_bags={n_bags}")
    return BaggingPuClassifier(
        estimator=estimator, n_estimators=n_bags, max_samples=bag_size, oob_score=False,
        random_state=seed, n_jobs=1,
    )
