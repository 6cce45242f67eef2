"""Catalogues: find data for a survey area, load it as one Dask datacube, publish grids as STAC.

* :func:`search` — one call over STAC APIs (pystac-client) and static catalogues (pystac), by
  survey area, bbox, collections, datetime, cloud cover, ``query`` and CQL2 filters.
* :func:`load` — items → a Dask-backed :class:`xarray.Dataset` on an area's
  :class:`~odc.geo.geobox.GeoBox` (odc-stac), common band names, scale/offset, nodata → NaN,
  cloud masks, optional median composite.
* :func:`create_item`, :func:`write_catalog`, :func:`ingest` — local grids → COGs + STAC items +
  a static catalogue valid against the STAC schemas (:func:`validate_stac`, offline).
* :func:`publish` — push a collection and its items to a STAC API with Transactions.

Definitions of sources live in ``catalogs/*.toml`` (:func:`get_source`, :func:`list_sources`).
"""

from geosurvey.catalogs._bands import EO_COMMON_NAMES, BandInfo, resolve_band_map
from geosurvey.catalogs._ingest import (
    check_stac_id,
    create_item,
    ingest,
    raster_statistics,
    write_catalog,
)
from geosurvey.catalogs._load import load
from geosurvey.catalogs._publish import publish
from geosurvey.catalogs._search import open_source, save_items, search
from geosurvey.catalogs._sources import (
    CatalogSource,
    CollectionSpec,
    MaskRule,
    catalog_dir,
    get_source,
    list_sources,
    parse_source,
)
from geosurvey.catalogs._validate import (
    OFFLINE_EXTENSION_SCHEMAS,
    validate_stac,
    validate_stac_file,
)

__all__ = [
    "EO_COMMON_NAMES",
    "OFFLINE_EXTENSION_SCHEMAS",
    "BandInfo",
    "CatalogSource",
    "CollectionSpec",
    "MaskRule",
    "catalog_dir",
    "check_stac_id",
    "create_item",
    "get_source",
    "ingest",
    "list_sources",
    "load",
    "open_source",
    "parse_source",
    "publish",
    "raster_statistics",
    "resolve_band_map",
    "save_items",
    "search",
    "validate_stac",
    "validate_stac_file",
    "write_catalog",
]
