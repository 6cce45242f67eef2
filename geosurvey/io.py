"""Reading and writing rasters and files safely: COGs, atomic writes, whole output folders.

Every writer here either leaves a complete output or nothing: files are written to a temporary
name beside the target and renamed into place, and :func:`output_folder` builds a whole folder in a
temporary sibling and renames it only when the job succeeded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any, Literal

import dask
import numpy as np
import rasterio
import rasterio.shutil
import rioxarray
import xarray as xr
from affine import Affine

from geosurvey.errors import InputError, MissingInputError, OutputError
from geosurvey.provenance import annotate
from geosurvey.scheduler import layer_task, on_cluster

__all__ = [
    "COG_PREDICTOR",
    "COG_WHOLE_BYTES",
    "GDAL_CACHE_MIB",
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "has_valid_pixels",
    "output_folder",
    "overview_resampling_for",
    "read_cog_like",
    "read_raster",
    "truncated_tiff",
    "write_cog",
    "write_cog_task",
]

GDAL_CACHE_MIB = 256
"""GDAL's block cache (MiB) that :func:`read_raster` sets when ``GDAL_CACHEMAX`` is not set.

GDAL's default is 5 % of the machine's memory, per process: a lazy read keeps every block it has
read in that cache until it is full, so a block-by-block computation's memory grows with the grid
(1.2 GB on a 24 GiB machine, far more on a large node) though no block is read twice. Set the
environment variable ``GDAL_CACHEMAX`` (e.g. ``512`` for MiB, in every Dask worker's environment)
to choose another size; :func:`read_raster` then leaves it alone.
"""


def _bound_gdal_cache() -> None:
    """Set GDAL's cache to :data:`GDAL_CACHE_MIB` unless the environment or a rasterio Env sets it."""
    chosen = "GDAL_CACHEMAX" in os.environ or (
        rasterio.env.hasenv() and "GDAL_CACHEMAX" in rasterio.env.getenv()
    )
    if not chosen:  # process-wide (GDALSetCacheMax), also for Dask's worker threads
        rasterio.env.set_gdal_config("GDAL_CACHEMAX", GDAL_CACHE_MIB)


def _check_parent_writable(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write {path}: folder {parent} is not writable; choose another output folder"
        )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path, *, create: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    On any error the temporary file is removed and ``path`` is left as it was. With
    ``create=False`` the temporary path does not exist yet (for writers, such as GDAL drivers, that
    create their file themselves); with ``create=True`` it is an empty file.
    """
    path = Path(path)
    _check_parent_writable(path)
    try:
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent
        )
    except OSError as exc:
        raise OutputError(
            f"cannot write {path}: {exc.strerror or exc}; choose another place for it"
        ) from None
    os.close(fd)
    if not create:
        os.unlink(tmp)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, *, mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically and durably (fsync), with ``mode`` (default: per umask)."""
    path = Path(path)
    with atomic_path(path, create=True) as tmp:
        fd = os.open(tmp, os.O_WRONLY)
        os.fchmod(fd, mode if mode is not None else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def atomic_write_text(path: str | Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder, then rename)."""
    return atomic_write_bytes(path, text.encode(encoding))


@contextlib.contextmanager
def output_folder(path: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Build an output folder all-or-nothing.

    Yields a temporary folder beside ``path``; when the ``with`` block ends without an error the
    temporary folder is renamed to ``path`` (replacing an existing one only if ``overwrite``). On
    any error the temporary folder is removed and ``path`` is left as it was.

    Raises
    ------
    OutputError
        If the parent folder is missing or not writable, ``path`` exists and ``overwrite`` is
        false, or ``path`` is a file (never replaced by a folder, even with ``overwrite``).
    """
    path = Path(path).absolute()
    _check_parent_writable(path)
    if path.exists() and not path.is_dir():  # never replace a file (an input?) with a folder
        raise OutputError(
            f"output folder {path} is an existing file, not a folder; choose another name "
            "(overwriting replaces folders only)"
        )
    if path.exists() and not overwrite:
        raise OutputError(f"output folder {path} already exists; remove it, choose another or allow overwriting it")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    except OSError as exc:
        raise OutputError(
            f"cannot create output folder {path}: {exc.strerror}; choose another output folder"
        ) from exc
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders; outputs are for sharing
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_raster(
    path: str | Path,
    *,
    chunks: int | dict | Literal["auto"] | None = "auto",
    band: int | None = 1,
    name: str | None = None,
) -> xr.DataArray:
    """Open a GeoTIFF/COG as a lazy, Dask-backed DataArray with NaN for nodata.

    Parameters
    ----------
    path
        A raster file GDAL can read.
    chunks
        Dask chunks (``None`` reads into memory).
    band
        The 1-based band to return as a 2-D ``(y, x)`` array; ``None`` keeps the ``band`` dimension.
    name
        Name of the returned DataArray (default: the file's stem).

    Returns
    -------
    xarray.DataArray
        Float data, nodata replaced by NaN, CRS in ``spatial_ref``, ``units`` from the file's
        metadata if it has them.

    Notes
    -----
    Unless ``GDAL_CACHEMAX`` is set, GDAL's block cache of this process is bounded to
    :data:`GDAL_CACHE_MIB` (not GDAL's 5 % of the machine's memory), so computing a lazy result block
    by block needs memory bounded by the chunks, not by the grid.
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"raster {path} does not exist; check the path")
    _bound_gdal_cache()
    if chunks is not None and not isinstance(chunks, dict):  # rioxarray wants named dims
        chunks = {"band": 1, "y": chunks, "x": chunks}
    try:
        da = rioxarray.open_rasterio(path, masked=True, chunks=chunks)
        truncated = truncated_tiff(path)
    except rasterio.errors.RasterioIOError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read raster {path}: {reason}; is it a valid GeoTIFF?") from None
    if truncated:
        raise InputError(f"raster {path} is truncated ({truncated}); copy or download it again")
    if band is not None:
        if band not in da["band"].values:
            raise InputError(f"raster {path} has no band {band} (it has {da.sizes['band']})")
        da = da.sel(band=band, drop=True)
    if da.rio.crs is None:
        raise InputError(f"raster {path} has no CRS; set one with gdal_edit.py -a_srs EPSG:XXXX")
    units = da.attrs.get("units") or da.attrs.get("UNITS")
    da.attrs = {
        k: v for k, v in da.attrs.items() if k not in {"_FillValue", "scale_factor", "add_offset"}
    }
    if units:
        da.attrs["units"] = units
    da.name = name or path.stem
    return annotate(da, f"read {path.name}")


def read_cog_like(path: str | Path, like: xr.DataArray) -> xr.DataArray:
    """The COG written from ``like`` (by :func:`write_cog` or :func:`write_cog_task`), read back.

    What a large run keeps instead of an array that does not fit in memory: the result has
    ``like``'s coordinates, attributes, name, dtype and chunks, and its blocks are read from the
    file (lazily, one Dask task a chunk) instead of being computed again from their sources.
    The stored values are read as they are (no masking): NaN holes come back as NaN and integer
    class codes with their own nodata code, so the values equal ``like``'s, bit for bit.

    Parameters
    ----------
    path
        The COG.
    like
        The 2-D ``(y, x)`` array it was written from (Dask-backed, or in memory).

    Raises
    ------
    geosurvey.errors.InputError
        If the file's grid does not have ``like``'s shape (it was written from another array).
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"raster {path} does not exist; check the path")
    _bound_gdal_cache()
    chunks = like.chunks or ((like.shape[0],), (like.shape[1],))
    stored = rioxarray.open_rasterio(
        path, masked=False, chunks={"band": 1, "y": chunks[0][0], "x": chunks[1][0]}
    ).isel(band=0, drop=True)
    if stored.shape != like.shape:
        raise InputError(
            f"raster {path} is {stored.shape[0]} x {stored.shape[1]} pixels, not the "
            f"{like.shape[0]} x {like.shape[1]} of layer {like.name!r} it should hold; write it again"
        )
    data = stored.data if stored.dtype == like.dtype else stored.data.astype(like.dtype)
    return like.copy(data=data.rechunk(chunks))


def has_valid_pixels(path: str | Path, *, band: int = 1) -> bool:
    """Whether a raster holds at least one valid pixel (not nodata, not NaN).

    Reads block by block and stops at the first valid one, so a normal grid costs one block.
    """
    with rasterio.open(path) as src:
        for _, window in src.block_windows(band):
            data = src.read(band, window=window, masked=True)
            valid = ~np.ma.getmaskarray(data)
            if np.issubdtype(data.dtype, np.floating):
                valid &= np.isfinite(np.ma.getdata(data))
            if valid.any():
                return True
    return False


def truncated_tiff(path: str | Path) -> str | None:
    """Why a (Geo)TIFF is cut short, or ``None`` when every block lies inside the file.

    A truncated GeoTIFF opens (its header is at the start) and fails only when a missing block is
    read, deep inside a computation. This check reads no pixels: it compares each block's offset
    and size in the TIFF directory (GDAL's ``TIFF`` metadata domain: ``BLOCK_OFFSET_x_y``,
    ``BLOCK_SIZE_x_y``) of every band and overview with the file's size. Other formats answer
    ``None``.
    """
    path = Path(path)
    size = path.stat().st_size
    with rasterio.open(path) as src:
        if src.driver not in ("GTiff", "COG"):
            return None
        for bidx in src.indexes:
            for ovr in [None, *range(len(src.overviews(bidx)))]:
                by = 0
                while True:  # blocks row by row until the directory has no such block
                    bx = 0
                    while True:
                        offset = src.get_tag_item(f"BLOCK_OFFSET_{bx}_{by}", "TIFF", bidx=bidx, ovr=ovr)
                        nbytes = src.get_tag_item(f"BLOCK_SIZE_{bx}_{by}", "TIFF", bidx=bidx, ovr=ovr)
                        if offset is None or nbytes is None:
                            break
                        if int(offset) + int(nbytes) > size:
                            what = f"overview {ovr + 1}" if ovr is not None else "the full-resolution image"
                            return (f"block ({bx}, {by}) of band {bidx} ({what}) ends at byte "
                                    f"{int(offset) + int(nbytes)} but the file has {size} bytes")
                        bx += 1
                    if bx == 0:
                        break
                    by += 1
    return None


#: Attributes written as GeoTIFF tags (``attribution`` also as the TIFF Copyright tag).
_TAG_ATTRS = ("units", "long_name", "history", "source", "attribution", "license")


def overview_resampling_for(da: xr.DataArray) -> Literal["average", "nearest"]:
    """The overview resampling a layer's nature calls for.

    ``"nearest"`` for class codes — integer or boolean data, or a layer that carries CF
    ``flag_values`` or ``categories`` (:func:`geosurvey.evidence.categorical_raster`) — whose
    averages would be codes that mean nothing; ``"average"`` for continuous values (scores,
    memberships, distances, field values), which keeps every overview within the range of the data
    (cubic, GDAL's default, overshoots: a score in [0, 1] gets values below 0).
    """
    if not np.issubdtype(da.dtype, np.floating) or "flag_values" in da.attrs or "categories" in da.attrs:
        return "nearest"
    return "average"


def write_cog(
    da: xr.DataArray,
    path: str | Path,
    *,
    nodata: float | None = np.nan,
    compress: Literal["deflate", "zstd", "lzw"] = "deflate",
    blocksize: int = 256,
    overwrite: bool = True,
    overview_resampling: Literal["auto", "average", "nearest"] = "auto",
) -> Path:
    """Write a 2-D DataArray as a Cloud Optimized GeoTIFF (tiled, overviews), atomically.

    The array is computed chunk by chunk by rioxarray; units, long name, history, source,
    attribution and licence are written as GeoTIFF tags (the attribution also as the TIFF
    Copyright tag, which GDAL reports as ``TIFFTAG_COPYRIGHT``). Missing values (NaN) are written
    as the declared ``nodata`` value itself, so a reader that honours the nodata value sees every
    hole. Overviews are resampled by the layer's nature (see :func:`overview_resampling_for`);
    GDAL leaves nodata pixels out of the average, so holes do not spread into the overviews.
    Without a distributed client in charge GDAL compresses with every CPU of this machine; on a
    cluster with the workers' ``GDAL_NUM_THREADS`` (unset: one thread per file).

    Parameters
    ----------
    da
        A ``(y, x)`` array with a CRS (``da.rio.crs``).
    path
        The target file; its folder must exist.
    nodata
        The nodata value of floating-point data (NaN, or e.g. -9999: NaN pixels are then written
        as -9999). Integer data use their own ``attrs["nodata"]`` (e.g. -1 of
        :func:`~geosurvey.evidence.categorical_raster`) when ``nodata`` is NaN. ``None`` writes
        no nodata value.
    compress
        GDAL compression (lossless), with the predictor :data:`COG_PREDICTOR`.
    blocksize
        Internal tile size in pixels.
    overwrite
        Replace an existing file.
    overview_resampling
        ``"average"`` (continuous values), ``"nearest"`` (class codes) or ``"auto"`` (chosen from
        the dtype and attributes by :func:`overview_resampling_for`).

    Raises
    ------
    geosurvey.errors.InputError
        If the array is not 2-D, has no CRS, or its nodata value does not fit its dtype.
    geosurvey.errors.OutputError
        If ``path`` exists and ``overwrite`` is false, or its folder is missing or not writable.
    """
    path = Path(path)
    out, tags, resampling = _cog_plan(da, path, nodata, overwrite, overview_resampling)
    with atomic_path(path) as tmp:
        _to_cog(out, tmp, tags, compress, blocksize, resampling, _cog_threads())
    return path


def _cog_plan(
    da: xr.DataArray, path: Path, nodata: float | None, overwrite: bool, overview_resampling: str
) -> tuple[xr.DataArray, dict[str, str], str]:
    """Check a layer for :func:`write_cog`; the array to write (lazy), its tags and resampling."""
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; pass overwrite=True or choose another name")
    if da.ndim != 2:
        raise InputError(f"write_cog writes 2-D (y, x) arrays; {da.name!r} has dims {da.dims}")
    if da.rio.crs is None:
        raise InputError(f"layer {da.name!r} has no CRS; cannot write {path}")
    if overview_resampling not in ("auto", "average", "nearest"):
        raise InputError(
            f"overview_resampling={overview_resampling!r} must be 'auto', 'average' or 'nearest'"
        )
    resampling = overview_resampling_for(da) if overview_resampling == "auto" else overview_resampling
    tags = {k: str(da.attrs[k]) for k in _TAG_ATTRS if da.attrs.get(k) not in (None, "")}
    if "attribution" in tags:
        tags["TIFFTAG_COPYRIGHT"] = tags["attribution"]
    out = da.copy(deep=False)  # never touch the caller's attributes
    floating = np.issubdtype(out.dtype, np.floating)
    if nodata is not None and not floating and np.isnan(nodata):
        nodata = out.attrs.get("nodata")  # integer codes: their own nodata value, if any
    if nodata is not None:
        info = None if floating or out.dtype == bool else np.iinfo(out.dtype)
        if info is not None and not (float(nodata).is_integer() and info.min <= nodata <= info.max):
            raise InputError(f"nodata {nodata} of layer {da.name!r} does not fit its dtype {out.dtype}")
        if floating and not np.isnan(nodata):
            # NaN holes written as the declared value (rioxarray would leave them NaN)
            out = out.where(out.notnull(), np.asarray(nodata, dtype=out.dtype))
        out = out.rio.write_nodata(nodata, encoded=False)
    # rioxarray writes the encoded nodata value if there is one, else the attribute: keep the
    # attribute (a copy of the array made by a task has no cached nodata), nothing else
    keep = () if "_FillValue" in out.encoding else ("_FillValue",)
    out.attrs = {k: v for k, v in out.attrs.items() if k in keep}
    return out, tags, resampling


def _to_cog(
    out: xr.DataArray, tmp: Path, tags: dict[str, str], compress: str, blocksize: int,
    resampling: str, threads: int | None,
) -> None:
    out.rio.to_raster(
        tmp,
        driver="COG",
        compress=compress.upper(),
        predictor=COG_PREDICTOR,
        blocksize=blocksize,
        tags=tags,
        overviews="AUTO",
        overview_resampling=resampling.upper(),
        windowed=False,  # numpy: one write (windowed writes are ~25x slower); Dask: stored chunk by chunk
        **({} if threads is None else {"num_threads": threads}),
    )


def _cog_threads() -> int | None:
    """The threads GDAL compresses a COG with (its ``NUM_THREADS``), decided where the graph is made.

    Off a cluster (:func:`geosurvey.scheduler.on_cluster`: no distributed client in charge, not
    in a worker's task), every CPU of this machine: a COG's last step (compressing its tiles and
    overviews) is otherwise one thread, the tail of a run's outputs (8192² float32, 2 CPUs: 9.7
    against 6.6 s for one layer, 22.7 against 17.9 s for three). GDAL shares one pool of threads
    among the files it writes, so layers written at once do not multiply them. On a cluster
    ``None``: a worker's own threads are the parallelism, and the workers' ``GDAL_NUM_THREADS``
    (unset: one thread) is left to rule.
    """
    return None if on_cluster() else (os.cpu_count() or 1)


#: The COGs' TIFF predictor: GDAL's choice, horizontal differencing (2) for integers and the
#: floating-point predictor (3) for floats. Lossless; on smooth float32 layers (memberships,
#: scores) the files are 20-60 % smaller and DEFLATE writes them 15-30 % faster than without a
#: predictor (4000² float32, level 6: 26.6 against 65.6 MiB, 1.25 against 1.78 s; with 1 % noise
#: 54 against 67 MiB). On pure white noise it costs time instead (3000² uniform noise: 1.12
#: against 0.78 s, 5 % smaller). GDAL and libtiff have read both since long before COG existed.
COG_PREDICTOR = "YES"

#: Layers up to this many bytes are written by one task that holds the whole array (one GDAL
#: write, the fastest); larger ones chunk by chunk, so that no task holds more than a chunk.
COG_WHOLE_BYTES = 256 * 2**20

_GDAL_TYPES = {"uint8": "Byte", "int8": "Int8", "int16": "Int16", "uint16": "UInt16",
               "int32": "Int32", "uint32": "UInt32", "float32": "Float32", "float64": "Float64"}


def write_cog_task(
    da: xr.DataArray,
    path: str | Path,
    *,
    nodata: float | None = np.nan,
    compress: Literal["deflate", "zstd", "lzw"] = "deflate",
    blocksize: int = 256,
    overwrite: bool = True,
    overview_resampling: Literal["auto", "average", "nearest"] = "auto",
) -> Any:
    """:func:`write_cog` as a Dask task: the COG is written where the task runs, when computed.

    With a distributed client the workers write the file, so ``path`` must be on storage they
    see at the same path. The layer is checked now (the same refusals as :func:`write_cog`); the
    file is written atomically by the task. A layer of at most :data:`COG_WHOLE_BYTES` is written
    by one task holding it whole; a larger Dask-backed one chunk by chunk: one task per chunk
    writes it as an uncompressed GeoTIFF in the folder ``.<name>.parts`` beside ``path`` (memory:
    one chunk), and a last task makes the COG from their mosaic (a GDAL VRT) with GDAL's COG
    driver, which streams block by block, then removes the folder. The pixels, tags, nodata value
    and overviews are those :func:`write_cog` writes.

    Parameters
    ----------
    da, path, nodata, compress, blocksize, overwrite, overview_resampling
        As for :func:`write_cog`.

    Returns
    -------
    dask.delayed.Delayed
        Computes to ``path`` (a :class:`~pathlib.Path`) once the file is complete.
    """
    path = Path(path).absolute()
    out, tags, resampling = _cog_plan(da, path, nodata, overwrite, overview_resampling)
    options = {"tags": tags, "compress": compress, "blocksize": blocksize, "resampling": resampling,
               "threads": _cog_threads()}
    chunked = (
        out.chunks is not None
        and out.nbytes > COG_WHOLE_BYTES
        and str(out.dtype) in _GDAL_TYPES
        and out.dims == ("y", "x")
    )
    if not chunked:
        return layer_task(_write_cog_whole, out, path, **options)
    parts = path.parent / f".{path.name}.parts"
    transform = out.rio.transform()
    blocks = out.data
    row_offsets = np.cumsum((0, *blocks.chunks[0]))
    col_offsets = np.cumsum((0, *blocks.chunks[1]))
    # one graph for every chunk, not a graph a chunk; unoptimised, so that arrays computed with it
    # keep sharing their tasks
    chunk_tasks = blocks.to_delayed(optimize_graph=False)
    written = []
    for iy in range(blocks.numblocks[0]):
        for ix in range(blocks.numblocks[1]):
            window = (int(row_offsets[iy]), int(col_offsets[ix]),
                      int(blocks.chunks[0][iy]), int(blocks.chunks[1][ix]))
            written.append(dask.delayed(_write_part, pure=False)(
                chunk_tasks[iy, ix], parts / f"{iy}_{ix}.tif", window, transform))
    return dask.delayed(_write_cog_parts, pure=False)(
        written, path, parts=parts, shape=out.shape, transform=tuple(transform)[:6],
        crs=out.rio.crs.to_wkt(), dtype=str(out.dtype), nodata=out.rio.nodata,
        description=None if out.name is None else str(out.name), **options)


def _write_cog_whole(out: xr.DataArray, path: Path, *, tags: dict[str, str], compress: str,
                     blocksize: int, resampling: str, threads: int | None) -> Path:
    with atomic_path(path) as tmp:
        _to_cog(out, tmp, tags, compress, blocksize, resampling, threads)
    return path


def _write_part(
    block: np.ndarray, part: Path, window: tuple[int, int, int, int], transform: Affine
) -> tuple[Path, tuple[int, int, int, int]]:
    """Write one chunk as an uncompressed tiled GeoTIFF at its place on the grid.

    The mosaic places the parts by their windows alone; the part's own geotransform is there so
    that GDAL has no reason to warn (rasterio's ``NotGeoreferencedWarning``, which
    ``warnings.catch_warnings`` could not silence reliably in a worker's threads).
    """
    part.parent.mkdir(exist_ok=True)
    rows, cols = block.shape
    row, col = window[:2]
    with rasterio.open(part, "w", driver="GTiff", width=cols, height=rows, count=1,
                       dtype=block.dtype, transform=transform @ Affine.translation(col, row),
                       tiled=True, blockxsize=256, blockysize=256) as dst:
        dst.write(block, 1)
    return part, window


def _write_cog_parts(written: list[tuple[Path, tuple[int, int, int, int]]], path: Path, *,
                     parts: Path, shape: tuple[int, int], transform: tuple[float, ...], crs: str,
                     dtype: str, nodata: float | None, description: str | None,
                     tags: dict[str, str], compress: str,
                     blocksize: int, resampling: str, threads: int | None) -> Path:
    a, b, c, d, e, f = transform
    sources = "".join(
        f'<SimpleSource><SourceFilename relativeToVRT="1">{escape(part.name)}</SourceFilename>'
        f'<SourceBand>1</SourceBand><SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
        f'<DstRect xOff="{col}" yOff="{row}" xSize="{w}" ySize="{h}"/></SimpleSource>'
        for part, (row, col, h, w) in written
    )
    metadata = "".join(f'<MDI key="{escape(k)}">{escape(v)}</MDI>' for k, v in tags.items())
    no_value = "" if nodata is None else f"<NoDataValue>{'nan' if np.isnan(nodata) else repr(float(nodata))}</NoDataValue>"
    vrt = (
        f'<VRTDataset rasterXSize="{shape[1]}" rasterYSize="{shape[0]}">'
        f"<SRS>{escape(crs)}</SRS><GeoTransform>{c!r}, {a!r}, {b!r}, {f!r}, {d!r}, {e!r}</GeoTransform>"
        f"<Metadata>{metadata}</Metadata>"
        f'<VRTRasterBand dataType="{_GDAL_TYPES[dtype]}" band="1">'
        + ("" if description is None else f"<Description>{escape(description)}</Description>")
        + f"{no_value}{sources}</VRTRasterBand>"
        "</VRTDataset>"
    )
    mosaic = parts / "mosaic.vrt"
    try:
        mosaic.write_text(vrt, encoding="utf-8")
        with atomic_path(path) as tmp:
            rasterio.shutil.copy(mosaic, tmp, driver="COG", COMPRESS=compress.upper(),
                                 PREDICTOR=COG_PREDICTOR, BLOCKSIZE=blocksize, OVERVIEWS="AUTO",
                                 OVERVIEW_RESAMPLING=resampling.upper(),
                                 **({} if threads is None else {"NUM_THREADS": threads}))
    finally:
        shutil.rmtree(parts, ignore_errors=True)
    return path
