"""Helpers shared by the evidence functions: grid checks, lazy whole-grid steps, safe arithmetic.

Nothing here is public. Every evidence function follows the same pattern: check the input once
(:func:`grid_spacing`, :func:`require_bands`), build the result with xarray/Dask operations or
:func:`apply_whole_grid`, then describe it with :func:`geosurvey.provenance.annotate`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import odc.geo.xr  # noqa: F401  (registers the .odc accessor)
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from pyproj import CRS

from geosurvey import grid as _grid
from geosurvey.errors import BandError, ClusterError, CRSError, InputError
from geosurvey.grid import grid_crs
from geosurvey.scheduler import worker_memory_limits

__all__: list[str] = []

#: Relative tolerance when checking that coordinates are evenly spaced.
_SPACING_RTOL = 1e-6


def layer_name(da: xr.DataArray | xr.Dataset) -> str:
    """A name for messages: the DataArray's name or ``"<unnamed layer>"``."""
    name = getattr(da, "name", None)
    return repr(name) if name is not None else "<unnamed layer>"


def check_metric_crs(grid: xr.DataArray, func: str) -> CRS:
    """Refuse grids without a projected CRS in metres (distances and wavenumbers need metres)."""
    crs = grid_crs(grid)
    if crs is None:
        raise CRSError(
            f"{func}: layer {layer_name(grid)} has no CRS (no 'spatial_ref' coordinate); "
            "read it with geosurvey.io.read_raster or set one with da.rio.write_crs(...)"
        )
    return _grid.check_metric_crs(
        crs,
        what=f"{func}: layer {layer_name(grid)}",
        fix="reproject it first (e.g. da.rio.reproject('EPSG:326xx') or load it on the area's "
        "analysis grid)",
    )


def check_yx(grid: xr.DataArray, func: str) -> None:
    """Require the ``y`` and ``x`` dimensions (northing, easting) of odc-stac and rioxarray."""
    if not isinstance(grid, xr.DataArray):
        raise InputError(f"{func} takes an xarray.DataArray, got {type(grid).__name__}")
    if "y" not in grid.dims or "x" not in grid.dims:
        raise InputError(
            f"{func}: layer {layer_name(grid)} has dims {grid.dims}; it needs 'y' (northing) and "
            "'x' (easting) as from geosurvey.io.read_raster or geosurvey.catalogs.load "
            "(rename others with da.rename(...))"
        )


def grid_spacing(grid: xr.DataArray, func: str) -> tuple[float, float]:
    """Signed pixel spacing ``(dy, dx)`` in metres from the ``y``/``x`` coordinates.

    ``dy`` is negative on north-up rasters (northing decreasing down the rows), as every GeoTIFF
    and every odc-stac load is. Transforms use the signed spacing, so results are right for either
    orientation without flipping the array.
    """
    check_yx(grid, func)
    check_metric_crs(grid, func)
    out = []
    for dim in ("y", "x"):
        if grid.sizes[dim] < 2:
            raise InputError(f"{func}: layer {layer_name(grid)} has only {grid.sizes[dim]} {dim} pixel(s)")
        coord = np.asarray(grid[dim].values, dtype="float64")
        steps = np.diff(coord)
        step = float(steps.mean())
        if step == 0 or not np.allclose(steps, step, rtol=_SPACING_RTOL, atol=0):
            raise InputError(
                f"{func}: the {dim!r} coordinate of layer {layer_name(grid)} is not evenly spaced; "
                "resample it onto a regular grid first (e.g. da.rio.reproject or odc-geo)"
            )
        out.append(step)
    return out[0], out[1]


def float_dtype(dtype: np.dtype) -> np.dtype:
    """The float dtype results are returned in: float32 stays float32, everything else float64."""
    return np.dtype("float32") if np.dtype(dtype) == np.float32 else np.dtype("float64")


#: Peak memory of one whole-grid FFT step per pixel of the (y, x) plane, bytes: measured 127–146 B
#: for a reduction to the pole then a tilt derivative with the default 25 % padding (1024² and
#: 2048² grids); the padded spectrum, its filters and the float64 planes make it up.
WHOLE_GRID_BYTES_PER_PIXEL = 150


def check_whole_grid_memory(shape: tuple[int, int], step: str) -> int:
    """The memory (bytes) one worker needs for a whole-grid step on a plane of ``shape``.

    When a distributed Client is active, its smallest worker memory limit is compared with it
    before any work is submitted, so a too-small cluster fails at once with both numbers instead of
    a worker being killed after minutes.

    Raises
    ------
    ClusterError
        If a worker's memory limit is below the need.
    """
    need = int(shape[0] * shape[1] * WHOLE_GRID_BYTES_PER_PIXEL)
    limits = [m for m in worker_memory_limits() if m > 0]  # none: threads in this process
    if limits and min(limits) < need:
        raise ClusterError(
            f"{step} is a whole-grid step: it needs about {need / 2**30:.1f} GiB on one worker for "
            f"the {shape[0]}×{shape[1]} grid, but the smallest worker has "
            f"{min(limits) / 2**30:.1f} GiB; give the workers more memory or use a coarser resolution"
        )
    return need


def apply_whole_grid(
    func: Callable[..., np.ndarray],
    grid: xr.DataArray,
    *,
    kwargs: dict[str, Any] | None = None,
    dtype: np.dtype | None = None,
) -> xr.DataArray:
    """Apply ``func(values_2d, **kwargs) -> values_2d`` to every ``(y, x)`` slice of ``grid``.

    This is the explicit *global step* of transforms that need the whole grid (FFT filters): on Dask
    input the ``(y, x)`` plane is rechunked into a single chunk, ``func`` runs lazily once per plane
    (holding that plane and its padded spectrum in one worker's memory: about
    :data:`WHOLE_GRID_BYTES_PER_PIXEL` bytes a pixel, checked against the workers of an active
    distributed Client by :func:`check_whole_grid_memory`), and the result is rechunked back to the
    input's chunks. Leading dimensions (e.g. time) are looped over. Coordinates, the CRS and
    attributes are kept.
    """
    kwargs = kwargs or {}
    out_dtype = dtype or float_dtype(grid.dtype)
    chunks = grid.chunksizes if grid.chunks is not None else None
    if chunks is not None:
        check_whole_grid_memory((grid.sizes["y"], grid.sizes["x"]), getattr(func, "__name__", "FFT step").removeprefix("_kernel_"))
        grid = grid.chunk({"y": -1, "x": -1})
    def typed(values: np.ndarray, **kw: Any) -> np.ndarray:
        return np.asarray(func(values, **kw)).astype(out_dtype, copy=False)

    result = xr.apply_ufunc(
        typed,
        grid,
        input_core_dims=[["y", "x"]],
        output_core_dims=[["y", "x"]],
        kwargs=kwargs,
        dask="parallelized",
        vectorize=grid.ndim > 2,
        output_dtypes=[out_dtype],
        keep_attrs=True,
    )
    result = result.transpose(*grid.dims)
    if chunks is not None:
        result = result.chunk(chunks)
    return result


def cross_val_r2(make_gridder: Callable[[], Any], coordinates: Sequence[np.ndarray], data: np.ndarray,
                 cv: Any) -> np.ndarray:
    """R² of a gridder on each fold of ``cv``, a fresh gridder from ``make_gridder()`` per fold.

    :func:`verde.cross_val_score` with ``scoring="r2"`` computes the same numbers (its loop: split on
    the first two coordinates, fit on the training points, R² on the test points); it is written
    out here because verde copies the gridder with :func:`sklearn.base.clone`, which re-passes
    ``verde.Spline``'s deprecated ``mindist`` and so warns at every fold, and the only way to hide
    that warning, :class:`warnings.catch_warnings`, is undone by other threads (a batch grids
    several areas' samples at once).

    Parameters
    ----------
    make_gridder
        Makes an unfitted verde-style gridder (``fit(coordinates, data)``, ``predict(coordinates)``).
    coordinates
        Easting, northing (and any further coordinates the gridder takes), metres, 1-D.
    data
        The values at the points, 1-D.
    cv
        A cross-validator with ``split(features)`` (e.g. :class:`verde.BlockKFold`).

    Returns
    -------
    numpy.ndarray
        One R² per fold, float64.
    """
    from sklearn.metrics import r2_score

    coords = tuple(np.ravel(c) for c in coordinates)
    values = np.ravel(data)
    features = np.transpose(coords[:2])
    scores = []
    for train, test in cv.split(features):
        gridder = make_gridder()
        gridder.fit(tuple(c[train] for c in coords), values[train])
        predicted = np.ravel(gridder.predict(tuple(c[test] for c in coords)))
        scores.append(r2_score(values[test], predicted))
    return np.asarray(scores, dtype="float64")


def require_bands(
    data: xr.Dataset, bands: Sequence[str | Sequence[str]], func: str
) -> dict[str, xr.DataArray]:
    """Pick the named bands from ``data``, accepting listed aliases, with a clear error otherwise.

    Each entry of ``bands`` is a band name or a tuple of aliases in order of preference; the first
    alias present is used (the choice is reported back in the returned key order so that callers
    can record it in the history). A missing band raises :class:`~geosurvey.errors.BandError`
    naming it and the bands the Dataset has.
    """
    if not isinstance(data, xr.Dataset):
        raise InputError(
            f"{func} takes an xarray.Dataset of bands (e.g. from geosurvey.catalogs.load), "
            f"got {type(data).__name__}"
        )
    picked: dict[str, xr.DataArray] = {}
    for entry in bands:
        aliases = (entry,) if isinstance(entry, str) else tuple(entry)
        found = [a for a in aliases if a in data.data_vars]
        if not found:
            have = ", ".join(sorted(map(str, data.data_vars))) or "none"
            wanted = aliases[0] if len(aliases) == 1 else " or ".join(repr(a) for a in aliases)
            raise BandError(
                f"{func} needs band {wanted!s} but the Dataset has only: {have}; load that band "
                "(by its common name) or rename the variable"
            )
        picked[found[0]] = as_reflectance_float(data[found[0]])
    return picked


def as_reflectance_float(band: xr.DataArray) -> xr.DataArray:
    """Float version of a band with its declared ``nodata`` value (odc-stac's attribute) as NaN."""
    out = band
    nodata = band.attrs.get("nodata", band.attrs.get("_FillValue"))
    if not np.issubdtype(band.dtype, np.floating):
        out = band.astype("float32")
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        out = out.where(band != nodata)
    out.attrs = dict(band.attrs)
    out.attrs.pop("nodata", None)
    out.attrs.pop("_FillValue", None)
    return out


def safe_divide(numerator: xr.DataArray, denominator: xr.DataArray) -> xr.DataArray:
    """``numerator / denominator`` with NaN (never ±inf) where the denominator is 0 or NaN."""
    return numerator / denominator.where(denominator != 0)


def keep_coords(result: xr.DataArray, like: xr.DataArray) -> xr.DataArray:
    """Carry ``like``'s ``spatial_ref`` coordinate over to ``result`` if arithmetic dropped it."""
    if "spatial_ref" in like.coords and "spatial_ref" not in result.coords:
        result = result.assign_coords(spatial_ref=like.coords["spatial_ref"])
    return result


def describe(
    result: xr.DataArray,
    like: xr.DataArray,
    step: str,
    *,
    units: str,
    long_name: str,
    name: Hashable | None,
    **attrs: Any,
) -> xr.DataArray:
    """Give ``result`` the history of ``like`` plus ``step``, and its units, long name and name."""
    from geosurvey.provenance import annotate

    result = keep_coords(result, like)
    result.attrs = {k: v for k, v in like.attrs.items() if k in {"history"}}
    return annotate(result, step, units=units, long_name=long_name, name=name, **attrs)
