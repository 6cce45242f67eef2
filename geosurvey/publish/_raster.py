"""Rasters for the web map: check, average down, compute (the edge), reproject to Web Mercator,
colour with a matplotlib colormap (NaN transparent) and encode as PNG."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import matplotlib
import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from matplotlib.colors import to_hex
from PIL import Image
from pyproj import Transformer
from rasterio.enums import Resampling

from geosurvey.errors import CRSError, InputError
from geosurvey.grid import average_down, downsample_factor

__all__ = ["MAX_PIXELS", "ColourScale", "RasterImage", "encode_png", "raster_image"]

MAX_PIXELS = 2048
"""Largest side, in pixels, of a raster shown on a web map; larger grids are averaged down."""

# --------------------------------------------------------------------------------------------
# Rasters: check, average down, compute (the edge), reproject to Web Mercator, colour, encode
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColourScale:
    """One fixed colour map: values ``vmin..vmax`` → the ``N`` colours of a matplotlib colour map.

    The embedded image, every tile and the legend are coloured through :meth:`lookup_table`
    and :meth:`index`, so a value has the same colour everywhere. The mapping is matplotlib's
    own (``cmap((v - vmin) / (vmax - vmin), bytes=True)``: colour ``floor(x N)``, clipped),
    done here as an integer look-up so that it can be applied tile by tile. Values outside
    ``vmin..vmax`` take the end colours; NaN is fully transparent.

    Attributes
    ----------
    cmap
        The matplotlib colour map's name.
    vmin, vmax
        The values at the two ends of the colour map (same units as the grid).
    """

    cmap: str
    vmin: float
    vmax: float

    @property
    def n(self) -> int:
        """The number of colours of the colour map (256 for the usual ones)."""
        return int(matplotlib.colormaps[self.cmap].N)

    def lookup_table(self) -> np.ndarray:
        """``(N + 1, 4)`` uint8 RGBA: the ``N`` colours, then a transparent entry for NaN."""
        colours = matplotlib.colormaps[self.cmap](np.arange(self.n), bytes=True)
        return np.vstack([colours, np.zeros((1, 4), np.uint8)])

    def index(self, values: np.ndarray) -> np.ndarray:
        """The colour index (``uint16``) of each value; ``N`` (transparent) where not finite."""
        values = np.asarray(values, dtype=np.float64)
        finite = np.isfinite(values)
        if self.vmax > self.vmin:
            scaled = (np.where(finite, values, self.vmin) - self.vmin) / (self.vmax - self.vmin)
        else:  # a constant grid: the middle colour
            scaled = np.full(values.shape, 0.5)
        index = (np.clip(scaled, 0.0, 1.0) * self.n).astype(np.uint16)
        index[index == self.n] = self.n - 1
        index[~finite] = self.n
        return index

    def rgba(self, values: np.ndarray) -> np.ndarray:
        """``(rows, columns, 4)`` uint8 RGBA of ``values`` (NaN transparent)."""
        return self.lookup_table()[self.index(values)]

    def colours(self, n: int = 11) -> list[str]:
        """``n`` hex colours at evenly spaced values from ``vmin`` to ``vmax`` (a legend's bar)."""
        table = self.lookup_table()
        picks = np.minimum((np.arange(n) / (n - 1) * self.n).astype(int), self.n - 1)
        return [to_hex(table[i, :3] / 255) for i in picks]


@dataclass(frozen=True)
class RasterImage:
    """A grid coloured for a web map: a PNG in Web Mercator (EPSG:3857) and where it goes.

    Attributes
    ----------
    png
        The PNG bytes (paletted or colour-keyed RGB, see :func:`encode_png`; NaN pixels fully
        transparent).
    bounds
        ``((south, west), (north, east))`` in degrees (EPSG:4326), Leaflet's bounds order. Web
        Mercator is separable (easting depends on longitude only, northing on latitude only), so
        an image that is a rectangle in EPSG:3857 is placed exactly by these two corners.
    vmin, vmax
        The values at the two ends of the colour map (values outside are clipped to the ends).
    cmap
        The matplotlib colour map's name.
    factor
        How many data pixels were averaged into one along each axis before display (1: none).
    shape
        ``(rows, columns)`` of the PNG.
    """

    png: bytes
    bounds: tuple[tuple[float, float], tuple[float, float]]
    vmin: float
    vmax: float
    cmap: str
    factor: int
    shape: tuple[int, int]

    @property
    def data_uri(self) -> str:
        """The PNG as a ``data:image/png;base64,...`` URI."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")

    @property
    def scale(self) -> ColourScale:
        """The colour scale the image was coloured with (shared with its legend)."""
        return ColourScale(self.cmap, self.vmin, self.vmax)

    def colours(self, n: int = 11) -> list[str]:
        """``n`` hex colours sampled evenly from ``vmin`` to ``vmax`` (for a legend's colour bar)."""
        return self.scale.colours(n)


def check_grid(da: object, what: str) -> xr.DataArray:
    """Return ``da`` as a ``(y, x)`` DataArray with a CRS, or raise naming ``what`` and the fix."""
    if not isinstance(da, xr.DataArray):
        raise InputError(
            f"{what} must be an xarray.DataArray with dims ('y', 'x'), got {type(da).__name__}; "
            "select one variable of a Dataset first (e.g. ds['score'])"
        )
    label = f"{what} ({da.name!r})" if da.name is not None else what
    if set(da.dims) != {"y", "x"}:
        raise InputError(
            f"{label} has dims {da.dims}; a web map shows 2-D ('y', 'x') grids: select or reduce "
            "the other dimensions first (e.g. da.sel(band=1) or da.squeeze())"
        )
    if da.rio.crs is None:
        raise CRSError(
            f"{label} has no CRS; set the CRS of its coordinates with da.rio.write_crs('EPSG:XXXX') "
            "(geosurvey.io.read_raster and catalogs.load keep it for you)"
        )
    if da.sizes["y"] < 2 or da.sizes["x"] < 2:
        raise InputError(
            f"{label} is an empty or degenerate grid (shape {dict(da.sizes)}); a web map needs at "
            "least 2 x 2 pixels: check the area and the resolution that made it"
        )
    if not (np.issubdtype(da.dtype, np.number) and not np.issubdtype(da.dtype, np.complexfloating)):
        raise InputError(f"{label} has dtype {da.dtype}; a web map colours real numbers only")
    return da.transpose("y", "x")


def check_cmap(cmap: str, what: str) -> str:
    """Return ``cmap`` if matplotlib knows it, else raise :class:`InputError` naming ``what``."""
    if cmap not in matplotlib.colormaps:
        raise InputError(
            f"unknown colour map {what}={cmap!r}; use a matplotlib colour map name such as "
            "'magma', 'viridis' or 'cividis'"
        )
    return cmap


def value_range(
    values: np.ndarray, attrs: Mapping[str, Any], vmin: float | None, vmax: float | None, what: str
) -> tuple[float, float]:
    """The colour map's range: given ``vmin``/``vmax``, else CF ``valid_range``, else the data's."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise InputError(
            f"{what} has no finite values (every pixel is NaN/nodata); nothing to map: check the "
            "inputs that made it (coverage of the area, masks)"
        )
    valid_range = attrs.get("valid_range")
    if valid_range is not None and len(valid_range) == 2:
        lo, hi = (float(v) for v in valid_range)
    else:
        lo, hi = float(finite.min()), float(finite.max())
    lo = lo if vmin is None else float(vmin)
    hi = hi if vmax is None else float(vmax)
    if not lo <= hi:
        raise InputError(f"the colour range of {what} is empty: vmin={lo} is above vmax={hi}")
    return lo, hi


def _to_web_mercator(da: xr.DataArray) -> xr.DataArray:
    """Reproject an in-memory grid to EPSG:3857 with nearest-neighbour resampling.

    Nearest neighbour shows only values that are in the data (no blending across nodata edges);
    GDAL chooses the output pixel size so that the pixel count stays about the same.
    """
    floats = da.astype(np.float64) if not np.issubdtype(da.dtype, np.floating) else da
    floats = floats.rio.write_nodata(np.nan, encoded=False)
    return floats.rio.reproject("EPSG:3857", resampling=Resampling.nearest, nodata=np.nan)


def encode_png(index: np.ndarray, table: np.ndarray, *, compress_level: int = 6) -> bytes:
    """A grid of colour indices as a PNG of the colours ``table[index]``.

    The one PNG encoder of the web maps: their embedded images and every tile.

    Parameters
    ----------
    index
        ``(rows, columns)`` integer indices into ``table`` (:meth:`ColourScale.index`).
    table
        ``(N, 4)`` uint8 RGBA colours (:meth:`ColourScale.lookup_table`).
    compress_level
        zlib level, 0-9: 6 (Pillow's default) for an embedded image, whose bytes count against
        the page's budget; the tiles use 3 (several times faster, a few per cent larger).

    Returns
    -------
    bytes
        A PNG that every decoder reads as ``table[index]``: paletted (PNG colour type 3, one
        byte a pixel; the palette holds the table's entries the grid uses, their alpha in a
        ``tRNS`` chunk) where it uses at most 256 of them, as a tile of a 256-colour map
        nearly always does. A grid with all 256 colours and nodata (a whole area's embedded
        image, as a rule) is RGB with its transparent pixels keyed by one colour no opaque pixel
        has (``tRNS`` again, three bytes a pixel); RGBA only if some colour is partly
        transparent.

    Notes
    -----
    Encoding is most of the cost of a tile pyramid. A 256 × 256 tile of a noisy score encodes
    as a paletted PNG in about 1 ms and 56 kB, as RGBA in about 6.6 ms and 157 kB (zlib level 3
    both, on this project's 2-vCPU test machine); the colours decoded are the same. A smooth
    1531 × 1850 image with all 256 colours and nodata: 184 kB as keyed RGB, 258 kB as RGBA.
    """
    present = np.bincount(index.ravel(), minlength=len(table)) > 0
    buffer = io.BytesIO()
    if np.count_nonzero(present) <= 256:
        palette = table[present]
        compact = (np.cumsum(present) - 1).astype(np.uint8)  # table entry -> palette entry
        image = Image.fromarray(compact[index])  # mode "L" (a new, contiguous array)
        image.putpalette(palette[:, :3].tobytes(), rawmode="RGB")  # now mode "P"
        image.save(buffer, format="PNG", compress_level=compress_level,
                   transparency=palette[:, 3].tobytes())  # fmt: skip
    elif np.isin(table[present, 3], (0, 255)).all():  # opaque colours and fully clear ones
        rgb, key = _colour_keyed(table, present)
        Image.fromarray(rgb[index]).save(buffer, format="PNG", compress_level=compress_level,
                                         **({} if key is None else {"transparency": key}))  # fmt: skip
    else:
        Image.fromarray(table[index]).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def _colour_keyed(
    table: np.ndarray, present: np.ndarray
) -> tuple[np.ndarray, tuple[int, int, int] | None]:
    """An RGB table whose clear entries all take one key colour that no opaque entry in use has
    (PNG's ``tRNS`` for truecolour: that colour is drawn transparent), and the key (``None`` if
    none is clear). The key is the clear entries' own colour where it is free (black for a
    :meth:`ColourScale.lookup_table`), so the PNG decodes to ``table[index]`` exactly; otherwise
    the first free colour, and the clear pixels decode as that colour with alpha 0."""
    rgb = np.ascontiguousarray(table[:, :3])
    clear = table[:, 3] == 0
    if not (clear & present).any():
        return rgb, None
    taken = {tuple(int(v) for v in c) for c in rgb[present & ~clear]}
    own = {tuple(int(v) for v in c) for c in rgb[present & clear]}
    if len(own) == 1 and not own & taken:
        key = own.pop()
    else:  # at most len(taken) + 1 tries
        key = next(k for n in range(len(taken) + 1)
                   if (k := (n >> 16, (n >> 8) & 255, n & 255)) not in taken)  # fmt: skip
    rgb = rgb.copy()
    rgb[clear] = key
    return rgb, key


def _latlon_bounds(merc: xr.DataArray) -> tuple[tuple[float, float], tuple[float, float]]:
    left, bottom, right, top = merc.rio.bounds()
    to_lonlat = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
    west, south = to_lonlat.transform(left, bottom)
    east, north = to_lonlat.transform(right, top)
    return (float(south), float(west)), (float(north), float(east))


def _raster_images(
    grids: Sequence[tuple[str, xr.DataArray, str, float | None, float | None]], *, max_pixels: int
) -> list[RasterImage]:
    """Colour several checked grids; their Dask graphs are computed together, once.

    ``grids`` holds ``(what, da, cmap, vmin, vmax)``. This is the edge where data are computed:
    each grid is first averaged down lazily to at most ``max_pixels`` a side, then all of them
    are computed in one :func:`dask.compute` (a score and the evidence it was made from share
    most of their graph).
    """
    factors = [downsample_factor(da.shape, max_pixels) for _, da, *_ in grids]
    small = [average_down(da, f) for (_, da, *_), f in zip(grids, factors, strict=True)]
    computed = dask.compute(*small)
    images = []
    for (what, da, cmap, vmin, vmax), factor, values in zip(grids, factors, computed, strict=True):
        lo, hi = value_range(np.asarray(values.data), da.attrs, vmin, vmax, what)
        images.append(image_from(values, ColourScale(cmap, lo, hi), factor=factor))
    return images


def image_from(values: xr.DataArray, scale: ColourScale, *, factor: int = 1) -> RasterImage:
    """Colour an in-memory grid with ``scale`` as a Web Mercator PNG (nearest neighbour)."""
    merc = _to_web_mercator(values)
    index = scale.index(np.asarray(merc.data))
    return RasterImage(
        png=encode_png(index, scale.lookup_table()),
        bounds=_latlon_bounds(merc),
        vmin=scale.vmin,
        vmax=scale.vmax,
        cmap=scale.cmap,
        factor=factor,
        shape=(int(index.shape[0]), int(index.shape[1])),
    )


def raster_image(
    da: xr.DataArray,
    *,
    cmap: str = "magma",
    vmin: float | None = None,
    vmax: float | None = None,
    max_pixels: int = MAX_PIXELS,
) -> RasterImage:
    """Colour a grid as a PNG in Web Mercator, ready for a Leaflet image overlay.

    Parameters
    ----------
    da
        A ``(y, x)`` grid (northing, easting) in any CRS that has one (``da.rio.crs``), NaN for
        nodata; Dask-backed or in memory.
    cmap
        A matplotlib colour map name.
    vmin, vmax
        The values at the ends of the colour map. Default: ``da.attrs["valid_range"]`` (CF) if
        present, else the finite minimum and maximum of the displayed data.
    max_pixels
        Grids larger than this on either side are block-averaged (NaN-aware mean) by the smallest
        whole factor that fits before they are computed; :attr:`RasterImage.factor` says by how much.

    Returns
    -------
    RasterImage
        The PNG (NaN transparent), its EPSG:4326 bounds and the colour range used.

    Notes
    -----
    This computes ``da`` (averaged down first, lazily): it is one of the edges where geosurvey
    turns a lazy grid into pixels. The image is reprojected with nearest-neighbour resampling
    (rioxarray/GDAL) to EPSG:3857, in which Leaflet draws image overlays linearly, so it lies
    exactly where the data are.

    References
    ----------
    .. [1] IOGP, *Coordinate Conversions and Transformations including Formulas*, Guidance Note
       7-2, section 1.3.3.2 (Popular Visualisation Pseudo-Mercator, EPSG:3857).

    Examples
    --------
    >>> import numpy as np, xarray as xr, rioxarray
    >>> grid = xr.DataArray(
    ...     np.arange(12.0).reshape(3, 4), dims=("y", "x"),
    ...     coords={"y": [7_500_250.0, 7_500_150.0, 7_500_050.0], "x": 380_050 + 100 * np.arange(4)},
    ... ).rio.write_crs("EPSG:3067")
    >>> image = raster_image(grid, cmap="viridis")
    >>> image.vmin, image.vmax, image.factor
    (0.0, 11.0, 1)
    >>> image.data_uri.startswith("data:image/png;base64,")
    True
    """
    if not (isinstance(max_pixels, int) and max_pixels >= 2):
        raise InputError(f"max_pixels must be a whole number of pixels >= 2, got {max_pixels!r}")
    checked = check_grid(da, "da")
    return _raster_images(
        [("da", checked, check_cmap(cmap, "cmap"), vmin, vmax)], max_pixels=max_pixels
    )[0]
