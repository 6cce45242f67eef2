"""Large rasters as a pyramid of XYZ PNG tiles in Web Mercator, written beside the page.

A grid too large to embed in a page (see :data:`MAX_EMBEDDED_BYTES`) is cut into the standard
256 × 256 "slippy map" tiles (``{z}/{x}/{y}.png``, x east from 180° W, y south from 85.05° N, as
Leaflet's ``L.tileLayer`` reads them). Leaflet loads them from the page's folder as the view
changes, from ``file://`` or any static web server. The deepest level has pixels no larger than
the data's (full resolution when zoomed in); each level above halves the resolution, down to the
level where the whole grid fits in about one tile. Every tile is coloured with the layer's one
:class:`~geosurvey.publish.ColourScale` (nodata transparent), like its legend.

Hand-written (with rasterio/GDAL doing every reprojection) rather than run through GDAL's
``gdal2tiles``: that script is not part of rasterio's wheels, it colours by averaging RGBA
(colours that are not in the legend), and it needs a GDAL command-line install. Levels coarser
than the data are resampled with GDAL's NaN-aware ``average`` of the values, then coloured, so
the colours stay the legend's; the deepest level uses ``nearest``.
"""

from __future__ import annotations

import concurrent.futures
import io
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio.warp
from affine import Affine
from PIL import Image
from pyproj import Transformer
from rasterio.crs import CRS
from rasterio.enums import Resampling

from geosurvey.errors import InputError
from geosurvey.publish._raster import ColourScale

__all__ = [
    "MAX_EMBEDDED_BYTES",
    "TILE_SIZE",
    "TilePyramid",
    "TiledRaster",
    "plan_pyramid",
    "tile_bounds",
    "write_tiles",
]

TILE_SIZE = 256
"""Pixels along each side of a tile (Leaflet's default)."""

MAX_EMBEDDED_BYTES = 2_000_000
"""Most bytes of PNG imagery embedded in one page; larger rasters become tiles."""

_ORIGIN = math.pi * 6378137.0  # half the Web Mercator world's width (m)
_WINDOW = 8  # tiles per side of the window reprojected at once (2048 × 2048 pixels)


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


def _encode(rgba: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba)).save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def _window_index(
    values: np.ndarray,
    transform: Affine,
    crs: CRS,
    pyramid: TilePyramid,
    z: int,
    xs: range,
    ys: range,
    threads: int,
) -> np.ndarray:
    """The colour index of the tiles ``xs × ys`` of zoom ``z`` (GDAL warps with ``threads``)."""
    size = 2 * _ORIGIN / 2**z
    res = size / TILE_SIZE
    dst = np.full((len(ys) * TILE_SIZE, len(xs) * TILE_SIZE), np.nan, dtype=np.float32)
    dst_transform = Affine(
        res, 0.0, -_ORIGIN + xs.start * size, 0.0, -res, _ORIGIN - ys.start * size
    )
    rasterio.warp.reproject(
        values,
        dst,
        src_transform=transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_transform=dst_transform,
        dst_crs="EPSG:3857",
        dst_nodata=np.nan,
        resampling=Resampling.nearest if z == pyramid.max_zoom else Resampling.average,
        num_threads=threads,
    )
    return pyramid.scale.index(dst)


def _write_window(
    index: np.ndarray, table: np.ndarray, z: int, xs: range, ys: range, folder: Path
) -> int:
    """Cut a window's colour index into tiles, colour and write them; returns how many."""
    for j, y in enumerate(ys):
        for i, x in enumerate(xs):
            tile = index[j * TILE_SIZE : (j + 1) * TILE_SIZE, i * TILE_SIZE : (i + 1) * TILE_SIZE]
            path = folder / str(z) / str(x) / f"{y}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(_encode(table[tile]))
    return len(xs) * len(ys)


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

    Windows of 8 × 8 tiles are reprojected one after the other in this thread (GDAL's warper
    itself uses ``threads``), while a pool of ``threads`` threads colours and encodes the
    previous windows' tiles (PNG encoding releases the GIL). GDAL is not called from the pool:
    rasterio's warp in worker threads runs without the caller's GDAL environment.

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
    total = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list[concurrent.futures.Future[int]] = []
        for z in range(pyramid.min_zoom, pyramid.max_zoom + 1):
            x0, x1, y0, y1 = pyramid.tile_range(z)
            for wy in range(y0, y1 + 1, _WINDOW):
                for wx in range(x0, x1 + 1, _WINDOW):
                    xs = range(wx, min(wx + _WINDOW, x1 + 1))
                    ys = range(wy, min(wy + _WINDOW, y1 + 1))
                    index = _window_index(values, transform, crs, pyramid, z, xs, ys, workers)
                    pending.append(pool.submit(_write_window, index, table, z, xs, ys, folder))
                    while len(pending) > 2 * workers:  # bound the windows held in memory
                        total += pending.pop(0).result()
        for future in pending:
            total += future.result()
    return total


@dataclass(frozen=True, eq=False)
class TiledRaster:
    """A computed grid to be written as tiles when its page is saved, and its pyramid.

    Attributes
    ----------
    values
        The grid, ``(rows, columns)`` float, NaN for nodata (in memory).
    transform, crs
        Its affine transform and CRS.
    pyramid
        The zoom levels, extent and colour scale of its tiles.
    """

    values: np.ndarray
    transform: Affine
    crs: CRS
    pyramid: TilePyramid

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

    @property
    def factor(self) -> int:
        """Always 1: tiles show the data at full resolution."""
        return 1

    def colours(self, n: int = 11) -> list[str]:
        """``n`` hex colours sampled evenly from ``vmin`` to ``vmax`` (a legend's bar)."""
        return self.pyramid.scale.colours(n)

    def write(self, folder: str | Path, *, threads: int | None = None) -> int:
        """Write the tiles into the existing empty ``folder``; returns how many."""
        return write_tiles(
            self.values,
            transform=self.transform,
            crs=self.crs,
            pyramid=self.pyramid,
            folder=folder,
            threads=threads,
        )
