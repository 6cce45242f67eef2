"""Large rasters as a pyramid of XYZ PNG tiles in Web Mercator, written beside the page.

A grid too large to embed in a page (see :data:`MAX_EMBEDDED_BYTES`) is cut into the standard
256 × 256 "slippy map" tiles (``{z}/{x}/{y}.png``, x east from 180° W, y south from 85.05° N, as
Leaflet's ``L.tileLayer`` reads them). Leaflet loads them from the page's folder as the view
changes, from ``file://`` or any static web server. The deepest level has pixels no larger than
the data's (full resolution when zoomed in); each level above halves the resolution, down to the
level where the whole grid fits in about one tile. Every tile is coloured with the layer's one
:class:`~geosurvey.publish.ColourScale` (nodata transparent), like its legend.

Hand-written (with rasterio/GDAL doing the reprojection) rather than run through GDAL's
``gdal2tiles``: that script is not part of rasterio's wheels, it colours by averaging RGBA
(colours that are not in the legend), and it needs a GDAL command-line install. The deepest level
is warped once with ``nearest``; each coarser level is the NaN-aware mean of the *values* of the
level below, then coloured, so the colours stay the legend's (:func:`write_tiles`).
"""

from __future__ import annotations

import concurrent.futures
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import numpy as np
import rasterio.warp
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import Resampling

from geosurvey.errors import InputError
from geosurvey.publish._raster import ColourScale, encode_png
from geosurvey.scheduler import layer_task, on_cluster

__all__ = [
    "MAX_EMBEDDED_BYTES",
    "MAX_TILED_PIXELS",
    "TILE_SIZE",
    "TilePyramid",
    "TiledRaster",
    "plan_pyramid",
    "tile_bounds",
    "tile_tasks",
    "write_tiles",
]

TILE_SIZE = 256
"""Pixels along each side of a tile (Leaflet's default)."""

MAX_EMBEDDED_BYTES = 2_000_000
"""Most bytes of PNG imagery embedded in one page; larger rasters become tiles."""

MAX_TILED_PIXELS = 4096
"""Largest side, in pixels, of a raster drawn as tiles: larger grids are block-averaged to fit
first (a 20,000-pixel score is drawn from a 4,000-pixel overview, and its legend says so), so that
the tiles are made from a bounded array, in one task."""

_ORIGIN = math.pi * 6378137.0  # half the Web Mercator world's width (m)


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """``(left, bottom, right, top)`` of tile ``z/x/y`` in Web Mercator metres (EPSG:3857)."""
    size = 2 * _ORIGIN / 2**z
    return (
        -_ORIGIN + x * size,
        _ORIGIN - (y + 1) * size,
        -_ORIGIN + (x + 1) * size,
        _ORIGIN - y * size,
    )


@dataclass(frozen=True)
class TilePyramid:
    """Where a grid's tiles are and which zoom levels exist (what a Leaflet tile layer needs).

    Attributes
    ----------
    min_zoom, max_zoom
        The shallowest and deepest zoom levels written (Leaflet's ``minNativeZoom`` and
        ``maxNativeZoom``); ``max_zoom`` is the first level whose pixels are no larger than the
        data's.
    bounds
        ``((south, west), (north, east))`` in degrees: the grid's extent, where Leaflet requests
        tiles (every tile touching it is written).
    mercator_bounds
        ``(left, bottom, right, top)`` of the grid in EPSG:3857 metres.
    scale
        The colour scale of every tile.
    """

    min_zoom: int
    max_zoom: int
    bounds: tuple[tuple[float, float], tuple[float, float]]
    mercator_bounds: tuple[float, float, float, float]
    scale: ColourScale

    def tile_range(self, z: int) -> tuple[int, int, int, int]:
        """``(x_min, x_max, y_min, y_max)`` (inclusive) of the tiles written at zoom ``z``."""
        left, bottom, right, top = self.mercator_bounds
        size = 2 * _ORIGIN / 2**z
        n = 2**z - 1

        def clip(v: float) -> int:
            return min(max(math.floor(v), 0), n)

        return (
            clip((left + _ORIGIN) / size),
            clip((right + _ORIGIN) / size),
            clip((_ORIGIN - top) / size),
            clip((_ORIGIN - bottom) / size),
        )

    def tile_count(self) -> int:
        """How many tiles the pyramid has."""
        total = 0
        for z in range(self.min_zoom, self.max_zoom + 1):
            x0, x1, y0, y1 = self.tile_range(z)
            total += (x1 - x0 + 1) * (y1 - y0 + 1)
        return total


def plan_pyramid(
    transform: Affine, shape: tuple[int, int], crs: CRS, scale: ColourScale
) -> TilePyramid:
    """The zoom levels and extent of the tile pyramid of a grid.

    Parameters
    ----------
    transform, shape, crs
        The grid's affine transform (pixel corners), ``(rows, columns)`` and CRS.
    scale
        The colour scale of its tiles.
    """
    rows, cols = shape
    left, top = transform * (0, 0)
    right, bottom = transform * (cols, rows)
    west_east = sorted((left, right))
    south_north = sorted((bottom, top))
    merc = rasterio.warp.transform_bounds(
        crs, "EPSG:3857", west_east[0], south_north[0], west_east[1], south_north[1], densify_pts=21
    )
    # GDAL's choice of pixel size for this grid in Web Mercator (about the same pixel count)
    _, width, height = rasterio.warp.calculate_default_transform(
        crs, "EPSG:3857", cols, rows, west_east[0], south_north[0], west_east[1], south_north[1]
    )
    pixel = min((merc[2] - merc[0]) / width, (merc[3] - merc[1]) / height)
    max_zoom = max(0, math.ceil(math.log2(2 * _ORIGIN / (TILE_SIZE * pixel)) - 1e-9))
    max_zoom = min(max_zoom, 24)
    extent = max(merc[2] - merc[0], merc[3] - merc[1])
    min_zoom = max(0, min(max_zoom, math.floor(math.log2(2 * _ORIGIN / extent))))
    to_ll = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    west, south = to_ll.transform(merc[0], merc[1])
    east, north = to_ll.transform(merc[2], merc[3])
    return TilePyramid(
        min_zoom=min_zoom,
        max_zoom=max_zoom,
        bounds=((float(south), float(west)), (float(north), float(east))),
        mercator_bounds=tuple(float(v) for v in merc),  # type: ignore[arg-type]
        scale=scale,
    )


def _warp_tiles(
    values: np.ndarray, transform: Affine, crs: CRS, z: int, x0: int, y0: int, nx: int, ny: int,
    threads: int,
) -> np.ndarray:
    """The grid warped (nearest neighbour) onto the ``nx × ny`` tiles from ``x0, y0`` at zoom ``z``."""
    size = 2 * _ORIGIN / 2**z
    res = size / TILE_SIZE
    dst = np.full((ny * TILE_SIZE, nx * TILE_SIZE), np.nan, dtype=np.float32)
    dst_transform = Affine(res, 0.0, -_ORIGIN + x0 * size, 0.0, -res, _ORIGIN - y0 * size)
    rasterio.warp.reproject(
        values,
        dst,
        src_transform=transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_transform=dst_transform,
        dst_crs="EPSG:3857",
        dst_nodata=np.nan,
        resampling=Resampling.nearest,
        num_threads=threads,
    )
    return dst


def _pad_even(a: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """``a`` (tiles from ``x0, y0``) with transparent tiles added on the sides where it starts or
    ends on an odd tile, so that every 2 × 2 block of its tiles has one parent tile."""
    ny, nx = a.shape[0] // TILE_SIZE, a.shape[1] // TILE_SIZE
    left, top = x0 % 2, y0 % 2
    right, bottom = (x0 + nx) % 2, (y0 + ny) % 2
    if not (left or top or right or bottom):
        return a
    out = np.full(((ny + top + bottom) * TILE_SIZE, (nx + left + right) * TILE_SIZE), np.nan,
                  dtype=np.float32)  # fmt: skip
    out[top * TILE_SIZE : (top + ny) * TILE_SIZE, left * TILE_SIZE : (left + nx) * TILE_SIZE] = a
    return out


def _halve(a: np.ndarray) -> np.ndarray:
    """NaN-aware mean of each 2 × 2 block (the next coarser zoom level); all-NaN stays NaN.

    Four strided views added together: several times faster than a reduction over a reshaped
    ``(rows/2, 2, columns/2, 2)`` array.
    """
    finite = np.isfinite(a)
    filled = np.where(finite, a, np.float32(0))
    total = filled[0::2, 0::2] + filled[1::2, 0::2] + filled[0::2, 1::2] + filled[1::2, 1::2]
    count = (
        finite[0::2, 0::2].view(np.uint8)
        + finite[1::2, 0::2].view(np.uint8)
        + finite[0::2, 1::2].view(np.uint8)
        + finite[1::2, 1::2].view(np.uint8)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / count
    out[count == 0] = np.nan
    return out.astype(np.float32, copy=False)


def _write_tiles_of(
    a: np.ndarray,
    scale: ColourScale,
    table: np.ndarray,
    z: int,
    x0: int,
    y0: int,
    keep: tuple[int, int, int, int],
    folder: Path,
) -> int:
    """Colour, encode and write the tiles of ``a`` (tile ``x0, y0`` at its top left) that lie in
    ``keep`` = ``(x_min, x_max, y_min, y_max)``; returns how many."""
    index = scale.index(a)
    ny, nx = a.shape[0] // TILE_SIZE, a.shape[1] // TILE_SIZE
    written = 0
    for j in range(ny):
        for i in range(nx):
            x, y = x0 + i, y0 + j
            if not (keep[0] <= x <= keep[1] and keep[2] <= y <= keep[3]):
                continue
            tile = index[j * TILE_SIZE : (j + 1) * TILE_SIZE, i * TILE_SIZE : (i + 1) * TILE_SIZE]
            path = folder / str(z) / str(x) / f"{y}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode_png(tile, table, compress_level=3))
            written += 1
    return written


def write_tiles(
    values: np.ndarray,
    *,
    transform: Affine,
    crs: CRS,
    pyramid: TilePyramid,
    folder: str | Path,
    threads: int | None = None,
) -> int:
    """Write the tile pyramid of an in-memory grid into ``folder`` (``{z}/{x}/{y}.png``).

    The grid is warped once, at the deepest level, with nearest-neighbour resampling (GDAL,
    ``threads`` warp threads), in windows of 16 × 16 tiles aligned on multiples of 16, each
    only over the tiles the grid reaches (a small area's tiles straddle up to four windows; the
    rest of them would be warped, halved and coloured for nothing); each coarser level is the
    NaN-aware mean of 2 × 2 pixels of the level below (the usual pyramid, as GDAL builds
    overviews), computed within the window down to one tile per window, then across windows. Colouring and PNG encoding run in a pool of ``threads`` threads (PNG
    encoding releases the GIL); GDAL is only called from this thread.

    Parameters
    ----------
    values
        The grid, ``(rows, columns)``, NaN for nodata.
    transform, crs
        Its affine transform and CRS.
    pyramid
        What to write (from :func:`plan_pyramid`).
    folder
        An existing, empty folder.
    threads
        Threads for warping and for encoding; default: the CPU count.

    Returns
    -------
    int
        The number of tiles written.
    """
    values = np.ascontiguousarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise InputError(f"tiles are made from 2-D grids, got shape {values.shape}")
    folder = Path(folder)
    workers = threads or os.cpu_count() or 1
    table = pyramid.scale.lookup_table()
    zmax, zmin = pyramid.max_zoom, pyramid.min_zoom
    depth = min(4, zmax - zmin)  # levels made inside one window (16 tiles -> 1 tile)
    window = 2**depth
    total = 0
    # tiles of level zmax - depth, one per window, for the levels above it
    coarse: dict[tuple[int, int], np.ndarray] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list[concurrent.futures.Future[int]] = []

        def emit(a: np.ndarray, z: int, x0: int, y0: int) -> None:
            nonlocal total
            pending.append(
                pool.submit(_write_tiles_of, a, pyramid.scale, table, z, x0, y0,
                            pyramid.tile_range(z), folder)
            )  # fmt: skip
            while len(pending) > 2 * workers:  # bound the windows held in memory
                total += pending.pop(0).result()

        x0, x1, y0, y1 = pyramid.tile_range(zmax)
        for wy in range(y0 - y0 % window, y1 + 1, window):
            for wx in range(x0 - x0 % window, x1 + 1, window):
                # only the window's tiles that the grid reaches (the rest of it is transparent)
                tx, ty = max(wx, x0), max(wy, y0)
                nx, ny = min(wx + window - 1, x1) - tx + 1, min(wy + window - 1, y1) - ty + 1
                a = _warp_tiles(values, transform, crs, zmax, tx, ty, nx, ny, workers)
                z = zmax
                emit(a, z, tx, ty)
                while z > zmax - depth:
                    a, z, tx, ty = _halve(_pad_even(a, tx, ty)), z - 1, tx // 2, ty // 2
                    emit(a, z, tx, ty)
                coarse[(tx, ty)] = a  # one tile: the window at zoom zmax - depth
        z = zmax - depth
        while z > zmin:
            parents: dict[tuple[int, int], np.ndarray] = {}
            for px, py in {(x // 2, y // 2) for x, y in coarse}:
                block = np.full((2 * TILE_SIZE, 2 * TILE_SIZE), np.nan, dtype=np.float32)
                for dy in (0, 1):
                    for dx in (0, 1):
                        child = coarse.get((2 * px + dx, 2 * py + dy))
                        if child is not None:
                            block[dy * TILE_SIZE : (dy + 1) * TILE_SIZE,
                                  dx * TILE_SIZE : (dx + 1) * TILE_SIZE] = child  # fmt: skip
                parents[(px, py)] = _halve(block)
            z -= 1
            for (px, py), a in parents.items():
                emit(a, z, px, py)
            coarse = parents
        for future in pending:
            total += future.result()
    return total


@dataclass(frozen=True, eq=False)
class TiledRaster:
    """A computed grid to be written as tiles when its page is saved, and its pyramid.

    Attributes
    ----------
    values
        The grid, ``(rows, columns)`` float, NaN for nodata: in memory, or a Dask array computed
        by the task that writes the tiles.
    transform, crs
        Its affine transform and CRS.
    pyramid
        The zoom levels, extent and colour scale of its tiles.
    factor
        By how much the data were block-averaged before tiling (1: full resolution).
    """

    values: Any
    transform: Affine
    crs: CRS
    pyramid: TilePyramid
    factor: int = 1

    @property
    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """``((south, west), (north, east))`` in degrees."""
        return self.pyramid.bounds

    @property
    def scale(self) -> ColourScale:
        """The colour scale of its tiles and legend."""
        return self.pyramid.scale

    @property
    def vmin(self) -> float:
        return self.pyramid.scale.vmin

    @property
    def vmax(self) -> float:
        return self.pyramid.scale.vmax

    def colours(self, n: int = 11) -> list[str]:
        """``n`` hex colours sampled evenly from ``vmin`` to ``vmax`` (a legend's bar)."""
        return self.pyramid.scale.colours(n)

    def write(self, folder: str | Path, *, threads: int | None = None) -> int:
        """Write the tiles into the existing empty ``folder``; returns how many."""
        (count,) = dask.compute(*tile_tasks([(self, Path(folder))], threads=threads))
        return int(count)


def tile_tasks(
    rasters: Sequence[tuple[TiledRaster, Path]], *, threads: int | None = None
) -> list[Any]:
    """Dask tasks that write each raster's tiles into its (existing, empty) folder.

    Each task computes its raster's values (a Dask array, or in memory) and calls
    :func:`write_tiles`; computed to the number of tiles written. Where a distributed client is
    active they run on its workers, one encoding thread each (a worker's own threads are the
    parallelism), so the folders must be on storage the workers see.

    Parameters
    ----------
    rasters
        ``(raster, folder)`` pairs.
    threads
        Threads per task for warping and encoding (default: 1 on a cluster, else the CPU count).
    """
    if threads is None and on_cluster():
        threads = 1
    return [
        layer_task(
            write_tiles,
            raster.values, transform=raster.transform, crs=raster.crs, pyramid=raster.pyramid,
            folder=folder, threads=threads,
        )
        for raster, folder in rasters
    ]
