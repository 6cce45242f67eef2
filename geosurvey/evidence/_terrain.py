"""Terrain from a digital elevation model: slope, aspect and hillshade.

Gradients use Horn's (1981) 3×3 weighted differences, as ``gdaldem`` does. At the grid's border
the missing neighbours are extrapolated linearly (``2·z_edge − z_inner``, like ``gdaldem
-compute_edges``), so a plane has the same slope everywhere. They are local: on Dask input they
run with :func:`dask.array.map_overlap` (one pixel of overlap between chunks), so there is no
global step and chunked results equal in-memory ones. A pixel next to nodata is NaN.
"""

from __future__ import annotations

import dask.array
import numpy as np
import xarray as xr

from geosurvey.errors import InputError
from geosurvey.evidence._common import describe, grid_spacing

__all__ = ["aspect", "hillshade", "slope"]


def _horn(block: np.ndarray, dy: float, dx: float) -> tuple[np.ndarray, np.ndarray]:
    """(∂z/∂northing, ∂z/∂easting) of a block, its border extended by linear extrapolation.

    With rows ``r-1, r, r+1`` and columns ``c-1, c, c+1`` of the 3×3 window::

        ∂z/∂x = [(z[r-1,c+1] + 2 z[r,c+1] + z[r+1,c+1]) - (z[r-1,c-1] + 2 z[r,c-1] + z[r+1,c-1])] / (8 dx)

    and likewise along rows with the signed row step ``dy`` (negative on north-up rasters).
    """
    z = np.pad(np.asarray(block, dtype="float64"), 1, mode="reflect", reflect_type="odd")
    left = z[:-2, :-2] + 2 * z[1:-1, :-2] + z[2:, :-2]
    right = z[:-2, 2:] + 2 * z[1:-1, 2:] + z[2:, 2:]
    top = z[:-2, :-2] + 2 * z[:-2, 1:-1] + z[:-2, 2:]
    bottom = z[2:, :-2] + 2 * z[2:, 1:-1] + z[2:, 2:]
    return (bottom - top) / (8 * dy), (right - left) / (8 * dx)


def _apply(dem: xr.DataArray, kernel, **kwargs) -> xr.DataArray:
    """Run ``kernel(block, **kwargs)`` on the ``(y, x)`` plane, with one pixel of overlap on Dask
    (none added at the grid's border, where the kernel extrapolates as in memory)."""
    if dem.ndim != 2:
        raise InputError(f"terrain functions take a 2-D (y, x) DEM; {dem.name!r} has dims {dem.dims}")
    dem = dem.transpose("y", "x")
    data = dem.data
    if isinstance(data, dask.array.Array):
        out = data.map_overlap(kernel, depth=1, boundary="none", dtype="float32", **kwargs)
    else:
        out = kernel(np.asarray(data), **kwargs)
    return dem.copy(data=out)


def _slope_kernel(block, *, dy, dx, z_factor):
    gy, gx = _horn(block, dy, dx)
    return np.degrees(np.arctan(z_factor * np.hypot(gx, gy))).astype("float32")


def _aspect_kernel(block, *, dy, dx):
    gy, gx = _horn(block, dy, dx)
    out = np.degrees(np.arctan2(-gx, -gy)) % 360.0
    out[(gx == 0) & (gy == 0)] = np.nan
    return out.astype("float32")


def _hillshade_kernel(block, *, dy, dx, z_factor, azimuth, altitude):
    gy, gx = _horn(block, dy, dx)
    gx, gy = z_factor * gx, z_factor * gy
    zenith = np.radians(90.0 - altitude)
    az = np.radians(azimuth)
    slope_rad = np.arctan(np.hypot(gx, gy))
    aspect_rad = np.arctan2(-gx, -gy)
    shade = np.cos(zenith) * np.cos(slope_rad) + np.sin(zenith) * np.sin(slope_rad) * np.cos(az - aspect_rad)
    return np.clip(shade, 0, 1).astype("float32")


def _check_dem(dem: xr.DataArray, func: str, z_factor: float) -> tuple[float, float]:
    dy, dx = grid_spacing(dem, func)
    if not (np.isfinite(z_factor) and z_factor > 0):
        raise InputError(f"{func}: z_factor={z_factor} must be a positive number")
    return dy, dx


def slope(dem: xr.DataArray, *, z_factor: float = 1.0) -> xr.DataArray:
    """Slope in degrees from the horizontal (0–90), by Horn's method.

    Parameters
    ----------
    dem : xarray.DataArray
        Elevation, dims ``(y, x)``, projected CRS in metres; NaN is nodata.
    z_factor : float
        Multiplier turning elevation units into metres (1 for metres, 0.3048 for feet).

    Returns
    -------
    xarray.DataArray
        float32 degrees, same grid and CRS; lazy (map_overlap) on Dask input.

    References
    ----------
    Horn, B. K. P. (1981). Hill shading and the reflectance map. *Proceedings of the IEEE*, 69(1),
    14–47.
    """
    dy, dx = _check_dem(dem, "slope", z_factor)
    out = _apply(dem, _slope_kernel, dy=dy, dx=dx, z_factor=z_factor)
    return describe(out, dem, f"slope(Horn 1981, z_factor={z_factor})", units="degree",
                    long_name="slope", name="slope")


def aspect(dem: xr.DataArray) -> xr.DataArray:
    """Aspect: the compass direction the slope faces (downhill), degrees clockwise from north.

    0 = facing north, 90 = east, 180 = south, 270 = west; NaN on flat ground.

    Parameters
    ----------
    dem : xarray.DataArray
        Elevation, dims ``(y, x)``, projected CRS in metres; NaN is nodata.

    Returns
    -------
    xarray.DataArray
        float32 degrees in [0, 360), same grid and CRS; lazy on Dask input.

    References
    ----------
    Horn, B. K. P. (1981). Hill shading and the reflectance map. *Proceedings of the IEEE*, 69(1),
    14–47.
    """
    dy, dx = _check_dem(dem, "aspect", 1.0)
    out = _apply(dem, _aspect_kernel, dy=dy, dx=dx)
    return describe(out, dem, "aspect(Horn 1981, clockwise from north, downslope)", units="degree",
                    long_name="aspect (clockwise from north)", name="aspect")


def hillshade(
    dem: xr.DataArray, *, azimuth: float = 315.0, altitude: float = 45.0, z_factor: float = 1.0
) -> xr.DataArray:
    """Hillshade: the cosine of the angle between the surface normal and the sun (0–1).

    ``cos(zenith) cos(slope) + sin(zenith) sin(slope) cos(azimuth − aspect)``, clipped at 0
    (self-shadowed slopes), as ``gdaldem hillshade`` computes it before scaling to 0–255.

    Parameters
    ----------
    dem : xarray.DataArray
        Elevation, dims ``(y, x)``, projected CRS in metres; NaN is nodata.
    azimuth : float
        Sun azimuth, degrees clockwise from north (315 = north-west, the cartographic default).
    altitude : float
        Sun elevation above the horizon, degrees.
    z_factor : float
        Vertical exaggeration / unit conversion of the elevations.

    Returns
    -------
    xarray.DataArray
        float32 in [0, 1], same grid and CRS; lazy on Dask input.

    References
    ----------
    Horn, B. K. P. (1981). Hill shading and the reflectance map. *Proceedings of the IEEE*, 69(1),
    14–47.
    """
    dy, dx = _check_dem(dem, "hillshade", z_factor)
    if not 0 <= altitude <= 90:
        raise InputError(f"hillshade: altitude={altitude} must be between 0 and 90 degrees")
    out = _apply(dem, _hillshade_kernel, dy=dy, dx=dx, z_factor=z_factor, azimuth=azimuth, altitude=altitude)
    return describe(out, dem, f"hillshade(azimuth={azimuth}, altitude={altitude}, z_factor={z_factor})",
                    units="1", long_name="hillshade", name="hillshade")
