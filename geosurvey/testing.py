"""Helpers for testing code built on geosurvey (used by geosurvey's own tests too)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dask
import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import wrap_xr

__all__ = ["DaskComputeError", "grid_like", "raise_if_dask_computes"]


class DaskComputeError(RuntimeError):
    """Raised by :func:`raise_if_dask_computes` when something computed."""


@contextlib.contextmanager
def raise_if_dask_computes(max_computes: int = 0) -> Iterator[None]:
    """Fail if Dask computes more than ``max_computes`` times inside the block (cf. xarray's test helper)."""
    count = 0

    def scheduler(dsk: object, keys: object, **kwargs: object) -> object:
        nonlocal count
        count += 1
        if count > max_computes:
            raise DaskComputeError(
                f"Dask computed {count} time(s); at most {max_computes} allowed here"
            )
        return dask.get(dsk, keys, **kwargs)

    with dask.config.set(scheduler=scheduler):
        yield


def grid_like(
    data: np.ndarray,
    *,
    crs: str = "EPSG:32611",
    resolution: float = 100.0,
    origin: tuple[float, float] = (500_000.0, 4_200_000.0),
    name: str = "layer",
    units: str = "1",
    chunks: int | None = None,
) -> xr.DataArray:
    """Wrap a 2-D array as a north-up ``(y, x)`` DataArray with a CRS.

    ``origin`` is the (easting, northing) of the top-left corner in metres.
    """
    ny, nx = data.shape
    west, north = origin
    gbox = GeoBox.from_bbox(
        (west, north - ny * resolution, west + nx * resolution, north),
        crs=crs,
        resolution=resolution,
    )
    da = wrap_xr(data, gbox).rename(name)
    da.attrs = {"units": units}
    if chunks is not None:
        da = da.chunk({"y": chunks, "x": chunks})
    return da
