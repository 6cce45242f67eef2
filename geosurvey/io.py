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
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
import rioxarray
import xarray as xr

from geosurvey.errors import InputError, MissingInputError, OutputError
from geosurvey.provenance import annotate

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "output_folder",
    "read_raster",
    "write_cog",
]


def _check_parent_writable(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"cannot write {path}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(
            f"cannot write {path}: folder {parent} is not writable; choose another --out"
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
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=path.suffix or ".tmp", dir=path.parent
    )
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
        If the parent folder is missing or not writable, or ``path`` exists and ``overwrite`` is
        false.
    """
    path = Path(path).absolute()
    _check_parent_writable(path)
    if path.exists() and not overwrite:
        raise OutputError(f"output folder {path} already exists; remove it or pass --overwrite")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    except OSError as exc:
        raise OutputError(
            f"cannot create output folder {path}: {exc.strerror}; choose another --out"
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
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"raster {path} does not exist; check the path")
    if chunks is not None and not isinstance(chunks, dict):  # rioxarray wants named dims
        chunks = {"band": 1, "y": chunks, "x": chunks}
    try:
        da = rioxarray.open_rasterio(path, masked=True, chunks=chunks)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(f"cannot read raster {path}: {exc}; is it a valid GeoTIFF?") from exc
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


def write_cog(
    da: xr.DataArray,
    path: str | Path,
    *,
    nodata: float | None = np.nan,
    compress: Literal["deflate", "zstd", "lzw"] = "deflate",
    blocksize: int = 256,
    overwrite: bool = True,
) -> Path:
    """Write a 2-D DataArray as a Cloud Optimized GeoTIFF (tiled, overviews), atomically.

    The array is computed chunk by chunk by rioxarray; units, long name and history are written
    as GeoTIFF tags. Float data keep NaN as nodata.

    Parameters
    ----------
    da
        A ``(y, x)`` array with a CRS (``da.rio.crs``).
    path
        The target file; its folder must exist.
    nodata
        The nodata value written to the file's metadata (NaN for floats).
    compress
        GDAL compression.
    blocksize
        Internal tile size in pixels.
    overwrite
        Replace an existing file.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; pass overwrite=True or choose another name")
    if da.ndim != 2:
        raise InputError(f"write_cog writes 2-D (y, x) arrays; {da.name!r} has dims {da.dims}")
    if da.rio.crs is None:
        raise InputError(f"layer {da.name!r} has no CRS; cannot write {path}")
    tags = {k: str(v) for k, v in da.attrs.items() if k in {"units", "long_name", "history", "source"}}
    out = da.copy(deep=False)  # never touch the caller's attributes
    if nodata is not None:
        out = out.rio.write_nodata(nodata, encoded=False)
    out.attrs = {}
    with atomic_path(path) as tmp:
        out.rio.to_raster(
            tmp,
            driver="COG",
            compress=compress.upper(),
            blocksize=blocksize,
            tags=tags,
            overviews="AUTO",
            windowed=False,  # numpy: one write (windowed writes are ~25x slower); Dask: stored chunk by chunk
        )
    return path
