"""The analysis grid: one odc-geo :class:`~odc.geo.geobox.GeoBox` per survey area.

Every stage shares it: catalogues load onto it, evidence layers are computed on it, outputs are
written with it. A grid is a CRS (projected, in metres), a pixel size in metres and an extent
aligned to whole pixels. Bounds are given W, E, S, N in the grid's CRS where this module says
"region" (verde's convention) and as ``(west, south, east, north)`` where it says "bbox"
(GeoJSON's and STAC's convention).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import odc.geo.xr  # noqa: F401  (registers the .odc accessor)
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import xarray as xr
from odc.geo import geom as odc_geom
from odc.geo.geobox import GeoBox
from pyproj import CRS

from geosurvey.errors import CRSError, GeometryError, InputError

__all__ = [
    "VALUE_ATTRS",
    "average_down",
    "check_metric_crs",
    "check_same_grid",
    "downsample_factor",
    "geobox_for",
    "grid_crs",
    "is_metric_crs",
    "map_layer_blocks",
    "target_grid",
    "utm_crs",
]


def is_metric_crs(crs: Any) -> bool:
    """Whether ``crs`` (anything pyproj reads) is a projected CRS whose first axis is in metres."""
    crs = CRS.from_user_input(crs)
    return bool(crs.is_projected and crs.axis_info[0].unit_name in {"metre", "meter"})


def check_metric_crs(crs: Any, *, what: str, fix: str) -> CRS:
    """Return ``crs`` as a pyproj CRS, or raise :class:`CRSError` if it is not projected in metres.

    The one check of "distances need metres" shared by the analysis grid, the survey areas, the
    evidence functions and gridding. ``what`` names the thing at fault (``"distance_to_features:
    the grid"``), ``fix`` says what to do.
    """
    crs = CRS.from_user_input(crs)
    if not is_metric_crs(crs):
        raise CRSError(f"{what} is in {crs.to_string()}, not a projected CRS in metres; {fix}")
    return crs


def grid_crs(grid: xr.DataArray | xr.Dataset) -> CRS | None:
    """The grid's CRS from its ``spatial_ref`` coordinate (rioxarray or odc-geo), or ``None``."""
    crs = grid.rio.crs
    if crs is None:
        odc_crs = getattr(grid.odc, "crs", None)
        return None if odc_crs is None else CRS.from_user_input(odc_crs.to_wkt())
    return CRS.from_user_input(crs.to_wkt())


def _layer_label(da: xr.DataArray) -> str:
    name = getattr(da, "name", None)
    return repr(name) if name is not None else "<unnamed layer>"


def check_same_grid(
    layers: Sequence[xr.DataArray], *, what: str, names: Sequence[str] | None = None
) -> None:
    """Refuse layers that are not on one grid (same CRS, same ``y``/``x`` coordinates).

    xarray aligns on coordinates, so arithmetic on two layers of one shape but shifted coordinates
    silently inner-joins them to a smaller grid; every stage that combines layers calls this first.
    Coordinates must agree to a millionth of a pixel (coordinates recomputed from a transform may
    differ in the last bits).

    Parameters
    ----------
    layers
        Two or more ``(..., y, x)`` layers.
    what
        The function or stage, for the message.
    names
        Names of the layers for the message (default: their ``.name``).
    """
    layers = list(layers)
    labels = list(names) if names is not None else [_layer_label(da) for da in layers]
    first, first_crs = layers[0], grid_crs(layers[0])
    for other, label in zip(layers[1:], labels[1:], strict=True):
        for dim in ("y", "x"):
            if dim in first.dims and dim in other.dims:
                ca, cb = first[dim].values, other[dim].values
                tolerance = 1e-6 * (abs(ca[1] - ca[0]) if ca.size > 1 else 1.0)
                if ca.shape != cb.shape or not np.allclose(ca, cb, rtol=0, atol=tolerance):
                    raise InputError(
                        f"{what}: {labels[0]} and {label} are not on the same grid ({dim} "
                        "differs); load or reproject both onto the area's analysis grid first"
                    )
            elif (dim in first.dims) != (dim in other.dims):
                raise InputError(
                    f"{what}: {labels[0]} has dims {first.dims} but {label} has {other.dims}; "
                    "give every layer 'y' and 'x' dims on one grid"
                )
        other_crs = grid_crs(other)
        if first_crs is not None and other_crs is not None and first_crs != other_crs:
            raise InputError(
                f"{what}: {labels[0]} is in {first_crs.to_string()} but {label} is in "
                f"{other_crs.to_string()}; reproject one onto the other's grid first"
            )


def utm_crs(longitude: float, latitude: float) -> CRS:
    """Return the WGS 84 / UTM CRS of the zone holding a point (degrees east, degrees north).

    Norway's and Svalbard's exceptions to the regular zones are not applied: the regular zone is
    what analysis grids in this project use.
    """
    if not (-180 <= longitude <= 180 and -80 <= latitude <= 84):
        raise GeometryError(
            f"no UTM zone for longitude {longitude}, latitude {latitude}; "
            "UTM covers 80°S to 84°N: use a polar stereographic or equal-area CRS"
        )
    zone = min(math.floor((longitude + 180) / 6) + 1, 60)
    return CRS.from_epsg((32600 if latitude >= 0 else 32700) + zone)


def target_grid(
    like: xr.DataArray | xr.Dataset | GeoBox, *, what: str
) -> tuple[GeoBox, tuple[tuple[int, ...], tuple[int, ...]] | None]:
    """The grid a layer is to be made on, from a layer on it or from its GeoBox.

    Parameters
    ----------
    like
        A ``(y, x)`` DataArray or Dataset on the grid (read with :func:`geosurvey.io.read_raster`
        or loaded with :func:`geosurvey.catalogs.load`), or an odc-geo GeoBox.
    what
        What asks (e.g. the function's name), for the messages.

    Returns
    -------
    tuple
        The GeoBox (north-up, metric CRS) and, when ``like`` is Dask-backed, its ``(y, x)`` chunks
        (None otherwise), so a layer made on it can be chunked the same way.

    Raises
    ------
    InputError
        ``like`` is neither, has no ``y``/``x`` dims, or is rotated.
    CRSError
        The grid has no CRS, or its CRS is not projected in metres.
    """
    if isinstance(like, GeoBox):
        gbox, chunks = like, None
    elif isinstance(like, xr.DataArray | xr.Dataset):
        if "y" not in like.dims or "x" not in like.dims:
            raise InputError(f"{what}: the grid 'like' needs 'y' and 'x' dims, has {tuple(like.dims)}")
        gbox = like.odc.geobox
        if gbox is None:
            raise CRSError(
                f"{what}: the grid 'like' has no CRS or is not a regular grid; read it with "
                "geosurvey.io.read_raster or pass an odc.geo GeoBox"
            )
        chunks = (like.chunksizes["y"], like.chunksizes["x"]) if like.chunks else None
    else:
        raise InputError(f"{what}: 'like' must be a DataArray or an odc.geo GeoBox, got {type(like).__name__}")
    check_metric_crs(
        gbox.crs.to_wkt(), what=f"{what}: the grid", fix="use the area's analysis grid (geosurvey.grid.geobox_for)"
    )
    if gbox.affine.b != 0 or gbox.affine.d != 0:
        raise InputError(f"{what}: rotated grids are not supported; resample onto a north-up grid")
    return gbox, chunks


def downsample_factor(shape: tuple[int, ...], max_pixels: int) -> int:
    """The smallest whole factor that brings the larger side of ``shape`` to ``max_pixels``.

    Parameters
    ----------
    shape
        The grid's shape in pixels.
    max_pixels
        The largest side wanted, in pixels.
    """
    return max(1, math.ceil(max(shape) / max_pixels))


def average_down(da: xr.DataArray, factor: int) -> xr.DataArray:
    """Block-average ``da`` by ``factor`` along both axes, lazily (NaN-aware mean).

    The last ``shape % factor`` rows and columns (fewer than ``factor``, so under 0.05 % of a
    grid with 2048 pixels a side) are dropped rather than averaged from partial blocks.
    """
    if factor == 1:
        return da
    out = da.coarsen(y=factor, x=factor, boundary="trim").mean()
    return out.rio.write_transform(out.rio.transform(recalc=True))


#: Attributes that describe a layer's values rather than what it is (CF's valid range and flags,
#: :func:`geosurvey.evidence.categorical_raster`'s categories, a nodata or fill value, packing):
#: not carried to new values made from them (:func:`map_layer_blocks`). A web map would colour a
#: membership by its evidence's valid range, and write it with nearest-neighbour overviews.
VALUE_ATTRS = frozenset({
    "valid_range", "valid_min", "valid_max", "actual_range", "flag_values", "flag_masks",
    "flag_meanings", "categories", "nodata", "_FillValue", "missing_value", "scale_factor",
    "add_offset",
})  # fmt: skip


def map_layer_blocks(
    kernel: Callable[..., np.ndarray], *layers: xr.DataArray, dtype: Any
) -> xr.DataArray:
    """Apply an element-wise NumPy kernel to layers on one grid, block by block (lazily on Dask).

    ``kernel(*blocks)`` gets the layers' matching blocks (NumPy arrays of one shape, in the first
    layer's dimension order) and returns the output block, of that shape, in ``dtype``. On
    Dask-backed layers this is one :func:`dask.array.map_blocks` step, which Dask fuses with the
    element-wise steps before and after it: one task a block for the whole chain.

    Written in place of :func:`xarray.apply_ufunc` with ``dask="parallelized"``, which goes
    through :func:`dask.array.apply_gufunc`: its extra steps (a selection of the output and a
    transpose) do not fuse, and cost two more tasks a block each time the result is computed.

    Parameters
    ----------
    kernel
        The block function; it must not change the shape.
    *layers
        Layers with the same dimensions on one grid (at least one). Layers without Dask are
        chunked like the first Dask-backed one; with none, ``kernel`` runs at once.
    dtype
        The output's NumPy dtype.

    Returns
    -------
    xarray.DataArray
        The first layer's dimensions, coordinates, name and attributes (its history and units
        among them), with the kernel's values. The attributes in :data:`VALUE_ATTRS` (a valid
        range, class codes, a nodata value) are dropped, and of the encoding only ``grid_mapping``
        is kept (where rioxarray finds the CRS): they describe the old values, not the new ones.
    """
    if not layers:
        raise InputError("map_layer_blocks needs at least one layer")
    ref = layers[0]
    aligned = [layer.transpose(*ref.dims) for layer in layers]
    dtype = np.dtype(dtype)
    lazy = next((layer for layer in aligned if layer.chunks is not None), None)
    if lazy is None:
        data = np.asarray(kernel(*[layer.values for layer in aligned]), dtype=dtype)
    else:
        import dask.array as dsa

        data = dsa.map_blocks(
            kernel,
            *[(layer if layer.chunks is not None else layer.chunk(lazy.chunksizes)).data
              for layer in aligned],
            dtype=dtype,
            meta=np.empty((0,) * ref.ndim, dtype=dtype),
        )
    out = ref.copy(data=data)
    out.attrs = {k: v for k, v in ref.attrs.items() if k not in VALUE_ATTRS}
    out.encoding = {k: v for k, v in ref.encoding.items() if k == "grid_mapping"}
    return out


def geobox_for(
    geometry: shapely.Geometry,
    *,
    crs: str | int | CRS,
    resolution: float,
    geometry_crs: str | int | CRS = "EPSG:4326",
    pad: int = 0,
) -> GeoBox:
    """The analysis grid covering ``geometry``: pixels of ``resolution`` metres in ``crs``.

    Parameters
    ----------
    geometry
        The area (a shapely geometry) in ``geometry_crs``.
    crs
        The grid's CRS; must be projected with metre units.
    resolution
        Pixel size in metres (square pixels). Pixel edges are aligned to multiples of it.
    geometry_crs
        The CRS of ``geometry`` (EPSG:4326 for survey areas).
    pad
        Extra pixels added on every side (e.g. to give FFT filters room).

    Returns
    -------
    odc.geo.geobox.GeoBox
        A north-up grid (northing decreasing down the rows, as every GeoTIFF).
    """
    crs = check_metric_crs(
        crs, what="the analysis grid", fix="give a UTM or equal-area CRS (geosurvey.grid.utm_crs)"
    )
    if not resolution > 0:
        raise GeometryError(f"resolution must be a positive number of metres, got {resolution}")
    if geometry is None or geometry.is_empty:
        raise GeometryError("cannot make a grid for an empty geometry")
    poly = odc_geom.Geometry(geometry, crs=CRS.from_user_input(geometry_crs)).to_crs(crs)
    gbox = GeoBox.from_geopolygon(poly, resolution=resolution, crs=crs)
    if pad:
        gbox = gbox.pad(pad)
    return gbox
