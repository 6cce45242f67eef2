"""Units, names and a short history that travel with every layer; manifests for every output.

Conventions (see the README): every :class:`xarray.DataArray` that geosurvey returns carries
``attrs["units"]`` (a UDUNITS-style string, ``"1"`` for dimensionless), ``attrs["long_name"]`` and
``attrs["history"]``: one line per processing step, oldest first, each ``"geosurvey <version>: <step>"``.
The CRS travels as odc-geo/rioxarray's ``spatial_ref`` coordinate and is not touched here.
"""

from __future__ import annotations

import functools
import json
import platform
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import xarray as xr

__all__ = ["annotate", "history", "manifest", "versions"]


def history(da: xr.DataArray | xr.Dataset) -> list[str]:
    """Return the processing history of ``da`` as a list of steps, oldest first."""
    text = da.attrs.get("history", "")
    return [line for line in str(text).splitlines() if line.strip()]


def annotate(
    da: xr.DataArray,
    step: str,
    *,
    units: str | None = None,
    long_name: str | None = None,
    name: str | None = None,
    **attrs: Any,
) -> xr.DataArray:
    """Return ``da`` (not copied, data untouched) with units, long name and one more history step.

    Parameters
    ----------
    da
        The layer to describe. Dask-backed arrays stay lazy: only attributes change.
    step
        What was done, e.g. ``"tilt_derivative(z positive down)"``.
    units, long_name, name
        New values; ``None`` keeps the current ones.
    **attrs
        Further attributes to set (e.g. ``source="demo"``).
    """
    from geosurvey import __version__

    out = da.copy(deep=False)
    out.attrs = dict(da.attrs)
    lines = [*history(da), f"geosurvey {__version__}: {step}"]
    out.attrs["history"] = "\n".join(lines)
    if units is not None:
        out.attrs["units"] = units
    if long_name is not None:
        out.attrs["long_name"] = long_name
    out.attrs.update(attrs)
    if name is not None:
        out.name = name
    return out


_PACKAGES = (
    "numpy", "scipy", "xarray", "dask", "distributed", "rasterio", "rioxarray", "odc-stac",
    "odc-geo", "geopandas", "shapely", "pyogrio", "pyproj", "pystac", "pystac-client",
    "harmonica", "verde", "scikit-learn", "folium", "branca",
)


def versions() -> dict[str, str]:
    """Versions of Python, geosurvey and the libraries it stands on (for manifests and bug reports).

    Read once a process (:func:`_versions`: parsing the packages' metadata costs about 40 ms, paid
    by every run's manifest otherwise, on the client of a batch): the versions of what this
    process imported, which is what produced its outputs. A fresh copy each call.
    """
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    from geosurvey import __version__

    out = {"python": sys.version.split()[0], "platform": platform.platform(), "geosurvey": __version__}
    for pkg in _PACKAGES:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    try:
        import rasterio

        out["gdal"] = rasterio.__gdal_version__
    except ImportError:  # pragma: no cover
        pass
    return out


def manifest(
    path: str | Path,
    *,
    inputs: Mapping[str, Any],
    parameters: Mapping[str, Any],
    outputs: Mapping[str, Any] | None = None,
    recipe: Mapping[str, Any] | None = None,
) -> Path:
    """Write a JSON manifest next to an output so that a partner can reproduce it exactly.

    The manifest records the inputs (paths, item ids, checksums as given), the parameters, the
    recipe, the outputs, the time (UTC) and :func:`versions`.
    """
    path = Path(path)
    doc = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": dict(inputs),
        "parameters": dict(parameters),
        "recipe": dict(recipe) if recipe is not None else None,
        "outputs": dict(outputs) if outputs is not None else {},
        "versions": versions(),
    }
    from geosurvey.io import atomic_write_text

    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n")
    return path
