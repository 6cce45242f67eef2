"""Reading vector inputs of a run: occurrences and mapped features, from any file OGR reads or a CSV.

Occurrence compilations come as shapefiles and GeoPackages (GTK's deposits) and as CSV tables
with longitude/latitude columns (the USGS MRDS and lithium compilations). :func:`read_vector`
reads either into a GeoDataFrame with a CRS, and :func:`file_checksum` gives the checksum the run
manifest records for it (a shapefile's sidecar files included).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geosurvey.errors import CRSError, InputError, MissingInputError

__all__ = ["file_checksum", "read_vector"]

#: Column names taken as longitude / latitude in CSV files (case-insensitive, in this order).
LONGITUDE_COLUMNS = ("longitude", "long_wgs84", "lon_wgs84", "lon", "long", "lng", "x")
LATITUDE_COLUMNS = ("latitude", "lat_wgs84", "lat", "y")
_NULLS = ("", "<Null>", "<null>", "NULL", "null", "NA", "N/A", "nan", "NaN")
_SIDECARS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def _find(columns: list[str], names: tuple[str, ...], path: Path, what: str, option: str | None) -> str:
    if option is not None:
        if option not in columns:
            raise InputError(f"{path}: no column {option!r} for the {what}; columns: {', '.join(columns)}")
        return option
    lower = {c.lower(): c for c in columns}
    for name in names:
        if name in lower:
            return lower[name]
    raise InputError(
        f"{path}: no {what} column (looked for {', '.join(names)}); columns: "
        f"{', '.join(columns)}; name the column explicitly"
    )


def _read_csv(path: Path, longitude: str | None, latitude: str | None) -> gpd.GeoDataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="latin-1")
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"{path} is not a readable CSV table ({exc})") from None
    # USGS tables mark required fields with " *" in the header ("Site_ID *")
    table.columns = [str(c).strip().removesuffix("*").strip() for c in table.columns]
    table = table.replace(list(_NULLS), np.nan)
    columns = list(table.columns)
    lon_col = _find(columns, LONGITUDE_COLUMNS, path, "longitude", longitude)
    lat_col = _find(columns, LATITUDE_COLUMNS, path, "latitude", latitude)
    lon = pd.to_numeric(table[lon_col], errors="coerce")
    lat = pd.to_numeric(table[lat_col], errors="coerce")
    bad = lon.isna() | lat.isna() | ~lon.between(-180, 360) | ~lat.between(-90, 90)
    if bad.all():
        raise InputError(f"{path}: no row has a valid longitude ({lon_col}) and latitude ({lat_col})")
    table = table[~bad].copy()
    for column in table.columns:  # numbers stay numbers for filters such as "PROD_t > 1000"
        converted = pd.to_numeric(table[column], errors="coerce")
        if converted.notna().sum() == table[column].notna().sum():
            table[column] = converted
    frame = gpd.GeoDataFrame(
        table, geometry=gpd.points_from_xy(lon[~bad], lat[~bad]), crs="EPSG:4326"
    )
    frame.attrs["geosurvey:dropped_rows"] = int(bad.sum())
    return frame


def read_vector(
    path: str | Path,
    *,
    where: str | None = None,
    label: str | None = None,
    layer: str | None = None,
    longitude: str | None = None,
    latitude: str | None = None,
) -> gpd.GeoDataFrame:
    """Read occurrences or features: any vector file OGR reads, or a CSV with longitude/latitude.

    Parameters
    ----------
    path
        A shapefile, GeoPackage, GeoJSON, FlatGeobuf... or a ``.csv`` table. CSV coordinates are
        WGS 84 degrees (EPSG:4326); the columns are found by name (``longitude``/``latitude``,
        ``Long_WGS84``/``Lat_WGS84``, ``lon``/``lat``...) unless given. Rows without valid
        coordinates are left out and counted in ``attrs["geosurvey:dropped_rows"]``.
    where
        An attribute filter in the grammar of :mod:`geosurvey.filters`, e.g.
        ``"DEP_TYPE.str.contains('skarn', case=False)"``.
    label
        What the file holds, for messages (default: the file name).
    layer
        The layer of a multi-layer file (GeoPackage).
    longitude, latitude
        CSV column names, when they are not found by name.

    Returns
    -------
    geopandas.GeoDataFrame
        With a CRS; empty geometries removed.

    Raises
    ------
    MissingInputError
        If the file does not exist.
    InputError
        If it cannot be read, has no CRS, no coordinates, or the filter matches nothing.
    """
    from geosurvey.filters import apply_filter

    path = Path(path)
    label = label or path.name
    if not path.exists():
        raise MissingInputError(f"{label}: file {path} does not exist; check the path")
    if path.is_dir() and path.suffix.lower() not in (".gdb",):
        raise InputError(f"{label}: {path} is a folder; give a vector file (shapefile, GeoPackage, CSV)")
    if path.suffix.lower() in (".csv", ".txt"):
        frame = _read_csv(path, longitude, latitude)
    else:
        try:
            frame = gpd.read_file(path, layer=layer)
        except Exception as exc:  # pyogrio raises DataSourceError and others
            raise InputError(f"{label}: cannot read {path} as a vector file ({exc})") from None
        if frame.crs is None:
            raise CRSError(f"{label}: {path} has no CRS (a shapefile needs its .prj); add one")
        frame = frame[~(frame.geometry.isna() | frame.geometry.is_empty)]
    if frame.empty:
        raise InputError(f"{label}: {path} holds no features")
    if where:
        frame = apply_filter(frame, where, label=label)
    return frame


def file_checksum(path: str | Path) -> str:
    """``"sha256:<hex>"`` of a file; for a shapefile, of its ``.shp``, ``.shx``, ``.dbf``, ``.prj``
    and ``.cpg`` together (in that order), since all of them make its content."""
    path = Path(path)
    digest = hashlib.sha256()
    parts = [path.with_suffix(s) for s in _SIDECARS] if path.suffix.lower() == ".shp" else [path]
    for part in parts:
        if part.is_file():
            with part.open("rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(block)
    return "sha256:" + digest.hexdigest()
