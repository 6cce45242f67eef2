"""Known occurrences on an analysis grid: which pixel each falls in, and which do not count.

The one place where point occurrences (deposits, prospects, showings) meet a raster, shared by
:mod:`geosurvey.evaluation`, weights of evidence and targets, so that every report counts the
same way: an occurrence outside the grid, on a pixel without data, or sharing a pixel with another
is counted and reported, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from geosurvey.errors import CRSError, InputError
from geosurvey.grid import grid_crs

__all__ = ["OccurrenceCells", "locate_occurrences"]


@dataclass(frozen=True, eq=False)
class OccurrenceCells:
    """Where each occurrence falls on a grid (see :func:`locate_occurrences`).

    Attributes
    ----------
    row, col
        Pixel row and column of each occurrence, in the order given; ``-1`` where it lies outside
        the grid.
    shape
        The grid's ``(ny, nx)``.
    """

    row: np.ndarray
    col: np.ndarray
    shape: tuple[int, int]

    @property
    def n_given(self) -> int:
        """Number of occurrences given."""
        return int(self.row.size)

    @property
    def inside(self) -> np.ndarray:
        """Boolean mask: the occurrence lies on the grid."""
        return self.row >= 0

    @property
    def n_outside(self) -> int:
        """Number of occurrences outside the grid."""
        return int((~self.inside).sum())

    @property
    def flat(self) -> np.ndarray:
        """Flat (row-major) pixel index of each occurrence; ``-1`` outside the grid."""
        return np.where(self.inside, self.row * self.shape[1] + self.col, -1)

    def values(self, array: np.ndarray) -> np.ndarray:
        """The value of an in-memory ``(ny, nx)`` array at each occurrence (NaN outside the grid)."""
        out = np.full(self.n_given, np.nan)
        inside = self.inside
        out[inside] = np.asarray(array, dtype=float)[self.row[inside], self.col[inside]]
        return out

    def report(self, values: np.ndarray | None = None) -> dict[str, int]:
        """Counts of how the occurrences were used, for reports.

        Parameters
        ----------
        values
            The value at each occurrence (from :meth:`values`); occurrences whose value is NaN are
            counted as ``on_nodata``. ``None``: no pixel is treated as nodata.

        Returns
        -------
        dict
            ``given``, ``outside_grid``, ``on_nodata``, ``on_valid`` (occurrences on a valid pixel),
            ``valid_cells`` (distinct valid pixels holding at least one), ``sharing_a_cell``
            (occurrences on a valid pixel that holds another one too).
        """
        valid = self.inside if values is None else self.inside & np.isfinite(values)
        cells = self.flat[valid]
        unique, counts = np.unique(cells, return_counts=True)
        return {
            "given": self.n_given,
            "outside_grid": self.n_outside,
            "on_nodata": int((self.inside & ~valid).sum()),
            "on_valid": int(valid.sum()),
            "valid_cells": int(unique.size),
            "sharing_a_cell": int(counts[counts > 1].sum()),
        }


def locate_occurrences(grid: xr.DataArray, occurrences: gpd.GeoDataFrame) -> OccurrenceCells:
    """Find the pixel of each occurrence on a north-up grid (nothing is computed).

    Parameters
    ----------
    grid
        A ``(y, x)`` layer with a CRS (Dask-backed layers stay lazy: only coordinates are read).
    occurrences
        Points in any CRS (reprojected to the grid's); other geometries use their centroid. A point
        on the edge between two pixels belongs to the one right of / below it; a point on the
        grid's outer right or bottom edge is outside.

    Returns
    -------
    OccurrenceCells

    Raises
    ------
    InputError
        If the occurrence set is empty or has no CRS, or the grid has no CRS.
    """
    if occurrences is None or len(occurrences) == 0:
        raise InputError(
            "the occurrence set is empty: give at least one known occurrence to evaluate against"
        )
    if occurrences.crs is None:
        raise CRSError(
            "the occurrences have no CRS; set it (GeoDataFrame.set_crs) before using them"
        )
    crs = grid_crs(grid)
    if crs is None:
        raise CRSError(
            f"layer {grid.name!r} has no CRS; load it with geosurvey.catalogs.load or set one"
        )
    pts = occurrences.to_crs(crs).geometry
    pts = pts.where(pts.geom_type == "Point", pts.centroid)
    transform = grid.rio.transform()
    ny, nx = grid.sizes["y"], grid.sizes["x"]
    with np.errstate(invalid="ignore"):
        col = np.floor((pts.x.to_numpy() - transform.c) / transform.a)
        row = np.floor((pts.y.to_numpy() - transform.f) / transform.e)
    inside = np.isfinite(col) & np.isfinite(row) & (col >= 0) & (col < nx) & (row >= 0) & (row < ny)
    row = np.where(inside, row, -1).astype(np.int64)
    col = np.where(inside, col, -1).astype(np.int64)
    return OccurrenceCells(row=row, col=col, shape=(ny, nx))
