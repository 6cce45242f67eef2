"""One search call over STAC APIs (pystac-client) and static catalogues (pystac).

Search arguments are normalised once by pystac-client's own :class:`~pystac_client.ItemSearch`
(bbox, datetime ranges and partial dates, ``query`` shorthands, CQL2 text → JSON, ``sortby``), so
a static catalogue is filtered with exactly the parameters an API would receive.
"""

from __future__ import annotations

import json
import math
import operator
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime as Datetime
from pathlib import Path
from typing import Any

import pystac
import pystac_client
import requests
import shapely
from pystac_client.exceptions import APIError
from pystac_client.item_search import ItemSearch
from pystac_client.stac_api_io import StacApiIO
from urllib3.util.retry import Retry

from geosurvey.catalogs._sources import CatalogSource, get_source
from geosurvey.errors import (
    CatalogError,
    CatalogUnreachableError,
    GeometryError,
    InputError,
    MissingInputError,
)

__all__ = ["open_source", "save_items", "search"]

#: What requests raises when a server cannot be reached or stops answering (after retries).
NETWORK_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.RetryError,
)

SourceLike = str | Path | pystac_client.Client | pystac.Catalog | CatalogSource

_RETRY_STATUS = (429, 500, 502, 503, 504)


# --------------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------------


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _api_client(url: str, *, timeout_s: float, retries: int, signing: str) -> pystac_client.Client:
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=0.5,
        status_forcelist=_RETRY_STATUS,
        allowed_methods=None,  # POST searches are retried too: they are reads
        raise_on_status=False,
    )
    stac_io = StacApiIO(timeout=timeout_s, max_retries=retry)
    modifier = _signer(signing)
    try:
        return pystac_client.Client.open(url, stac_io=stac_io, modifier=modifier)
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        raise CatalogUnreachableError(
            f"STAC API {url} cannot be reached after {retries} retries ({type(exc).__name__}); "
            "check the URL and that the server is running"
        ) from exc
    except APIError as exc:
        if _is_connection_failure(exc):
            raise CatalogUnreachableError(
                f"STAC API {url} cannot be reached after {retries} retries; check the URL and that "
                "the server is running"
            ) from exc
        raise CatalogUnreachableError(f"STAC API {url} answered with an error: {exc}") from exc


def _is_connection_failure(exc: BaseException) -> bool:
    """pystac-client wraps transport errors in APIError (implicitly chained): find them."""
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        if isinstance(seen, requests.exceptions.ConnectionError | requests.exceptions.Timeout
                      | requests.exceptions.RetryError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _signer(signing: str) -> Callable[[Any], None] | None:
    if signing != "planetary-computer":
        return None
    try:
        import planetary_computer
    except ImportError:
        warnings.warn(
            "Planetary Computer assets need signed URLs but the planetary-computer package is not "
            "installed: searching works, loading pixels will fail; pip install planetary-computer",
            stacklevel=3,
        )
        return None
    return planetary_computer.sign_inplace


def open_source(
    source: SourceLike,
) -> tuple[pystac_client.Client | pystac.Catalog, CatalogSource | None]:
    """Open ``source`` for searching.

    Parameters
    ----------
    source
        A definition name from ``catalogs/`` (``"earth-search"``, ``"demo"``...), a
        :class:`CatalogSource`, a STAC API URL, the path of a static ``catalog.json`` (or its
        folder), an open :class:`pystac_client.Client` or :class:`pystac.Catalog`.

    Returns
    -------
    (client or catalogue, definition or None)
    """
    if isinstance(source, pystac_client.Client | pystac.Catalog):
        return source, None
    definition: CatalogSource | None = None
    if isinstance(source, CatalogSource):
        definition = source
    elif isinstance(source, str) and not _is_url(source) and not source.endswith(".json") \
            and not Path(source).exists():
        definition = get_source(source)
    if definition is not None:
        href = definition.resolved_href()
        if definition.kind == "stac-api":
            client = _api_client(
                href, timeout_s=definition.timeout_s, retries=definition.retries, signing=definition.signing
            )
            return client, definition
        return _open_static(href), definition
    text = str(source)
    if _is_url(text) and not text.endswith(".json"):
        return _api_client(text, timeout_s=30.0, retries=3, signing="none"), None
    return _open_static(text), None


def _open_static(href: str) -> pystac.Catalog:
    path = Path(href)
    if not _is_url(href):
        if path.is_dir():
            path = path / "catalog.json"
        if not path.is_file():
            raise MissingInputError(f"static catalogue {path} does not exist; give the path of catalog.json")
        href = str(path.absolute())
    try:
        obj = pystac.read_file(href)
    except (json.JSONDecodeError, pystac.STACError, KeyError) as exc:
        raise CatalogError(f"{href} is not a readable STAC catalogue: {exc}") from exc
    if not isinstance(obj, pystac.Catalog):
        raise CatalogError(f"{href} is a STAC {type(obj).__name__}, not a catalogue or collection")
    return obj


# --------------------------------------------------------------------------------------------
# search
# --------------------------------------------------------------------------------------------


def _area_geometry(area: Any) -> dict[str, Any]:
    geom = getattr(area, "geometry", area)
    if isinstance(geom, Mapping):
        geom = shapely.geometry.shape(geom)
    if not isinstance(geom, shapely.Geometry):
        raise InputError(
            f"area must be a SurveyArea or a shapely geometry in EPSG:4326, not {type(area).__name__}"
        )
    if geom.is_empty or not geom.is_valid:
        raise GeometryError("the search area is empty or invalid; fix it with shapely.make_valid")
    w, s, e, n = geom.bounds
    if w < -180 or e > 180 or s < -90 or n > 90:
        raise GeometryError(
            f"the search area's bounds {geom.bounds} are not longitude/latitude; "
            "areas must be in EPSG:4326"
        )
    return shapely.geometry.mapping(geom)


def search(
    source: SourceLike,
    *,
    bbox: Sequence[float] | None = None,
    intersects: Any = None,
    area: Any = None,
    collections: str | Sequence[str] | None = None,
    datetime: str | Datetime | Sequence[str | Datetime | None] | None = None,
    filter: str | Mapping[str, Any] | None = None,
    query: Mapping[str, Any] | Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    cloud_cover: float | None = None,
    sortby: str | Sequence[str] | Sequence[Mapping[str, str]] | None = None,
    max_items: int | None = None,
    limit: int | None = None,
    registry: str | Path = "aoi",
) -> pystac.ItemCollection:
    """Search a STAC API or a static catalogue with the same call.

    Parameters
    ----------
    source
        A definition name from ``catalogs/`` (``"demo"``, ``"earth-search"``,
        ``"planetary-computer"``, ``"partner-geophysics"``), a STAC API URL, the path of a static
        ``catalog.json``, or an open :class:`pystac_client.Client` / :class:`pystac.Catalog`.
    bbox
        ``(west, south, east, north)`` in degrees (EPSG:4326).
    intersects
        A GeoJSON dict or shapely geometry in EPSG:4326.
    area
        A :class:`geosurvey.aoi.SurveyArea` (its ``.geometry``), the id of an area in
        ``registry``, or a shapely geometry, in EPSG:4326; used as ``intersects``.
    collections
        Collection ids; default for a STAC API definition: the collections it lists; otherwise
        all.
    datetime
        A datetime, ``"2017-07-01/2017-08-31"``, a partial date (``"2017-07"``) or a
        ``(start, end)`` pair, open ends as ``None`` or ``".."``.
    filter
        A CQL2 filter, text or JSON.
    query
        The STAC ``query`` extension: ``{"eo:cloud_cover": {"lt": 10}}`` or ``["eo:cloud_cover<10"]``.
    ids
        Item ids.
    cloud_cover
        Keep items whose cloud cover (percent, the definition's ``cloud_cover_property``,
        ``eo:cloud_cover`` by default) is at most this.
    sortby
        ``"-properties.datetime"``, ``["+id"]`` or ``[{"field": ..., "direction": ...}]``.
    max_items
        Stop after this many items (default: the definition's bound, 1000).
    limit
        Page size for an API (default: the definition's, 100).
    registry
        The survey-area registry folder used when ``area`` is an id.

    Returns
    -------
    pystac.ItemCollection
        The items found, in the order the source returns them (sorted when ``sortby``).

    Raises
    ------
    CatalogUnreachableError
        The API cannot be reached or stopped answering (after retries with backoff on 429/5xx and
        timeouts).
    CatalogError
        The API refused the search (the message carries its reason) or a catalogue is unreadable.
    InputError, GeometryError
        Conflicting or malformed arguments.
    """
    if area is not None and intersects is not None:
        raise InputError("give either area= or intersects=, not both")
    if isinstance(area, str):
        from geosurvey.aoi import Registry

        area = Registry(registry).get(area)
    if area is not None:
        intersects = _area_geometry(area)
    elif intersects is not None:
        intersects = _area_geometry(intersects)
    client, definition = open_source(source)
    if collections is None and definition is not None and definition.kind == "stac-api":
        collections = list(definition.collections) or None
    if isinstance(collections, str):
        collections = [collections]
    query = _merge_cloud_cover(query, cloud_cover, definition, collections)
    if max_items is None:
        max_items = definition.max_items if definition is not None else 1000
    if limit is None:
        limit = definition.page_size if definition is not None else 100
    if isinstance(client, pystac_client.Client):
        return _search_api(
            client, bbox=bbox, intersects=intersects, collections=collections, datetime=datetime,
            filter=filter, query=query, ids=ids, sortby=sortby, max_items=max_items, limit=limit,
        )
    params = ItemSearch(
        "http://127.0.0.1/unused-static-search", bbox=bbox, intersects=intersects,
        collections=collections, datetime=datetime, filter=filter, query=query, ids=ids,
        sortby=sortby, max_items=max_items,
    ).get_parameters()
    return _search_static(client, params, max_items=max_items)


def _merge_cloud_cover(
    query: Mapping[str, Any] | Sequence[str] | None,
    cloud_cover: float | None,
    definition: CatalogSource | None,
    collections: Sequence[str] | None,
) -> Mapping[str, Any] | Sequence[str] | None:
    if cloud_cover is None:
        return query
    if not 0 <= cloud_cover <= 100:
        raise InputError(f"cloud_cover is a percentage (0–100), got {cloud_cover}")
    prop = "eo:cloud_cover"
    if definition is not None:
        props = {
            spec.cloud_cover_property
            for cid, spec in definition.collections.items()
            if spec.cloud_cover_property and (collections is None or cid in collections)
        }
        if len(props) == 1:
            prop = props.pop()
    merged: dict[str, Any]
    if query is None:
        merged = {}
    elif isinstance(query, Mapping):
        merged = {k: dict(v) for k, v in query.items()}
    else:
        merged = dict(ItemSearch("http://127.0.0.1/unused", query=list(query)).get_parameters()["query"])
    merged.setdefault(prop, {})["lte"] = cloud_cover
    return merged


def _search_api(client: pystac_client.Client, *, max_items: int, **kwargs: Any) -> pystac.ItemCollection:
    url = client.get_self_href() or "the STAC API"
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    items: list[pystac.Item] = []
    try:
        found = client.search(max_items=max_items, **kwargs)
        for item in found.items():
            items.append(item)
    except NETWORK_ERRORS as exc:
        raise CatalogUnreachableError(
            f"STAC API {url} stopped answering after {len(items)} items ({type(exc).__name__}, "
            "after retries); try again later or narrow the search"
        ) from exc
    except APIError as exc:
        if _is_connection_failure(exc):
            raise CatalogUnreachableError(
                f"STAC API {url} stopped answering after {len(items)} items (after retries); "
                "try again later or narrow the search"
            ) from exc
        status = getattr(exc, "status_code", None)
        cls = CatalogUnreachableError if status in _RETRY_STATUS else CatalogError
        raise cls(f"STAC API {url} refused the search (HTTP {status}): {str(exc)[:500]}") from exc
    return pystac.ItemCollection(items, clone_items=False)


# -- static catalogues ------------------------------------------------------------------------

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "neq": operator.ne, "lt": operator.lt, "lte": operator.le,
    "gt": operator.gt, "gte": operator.ge,
    "startsWith": lambda a, b: str(a).startswith(str(b)),
    "endsWith": lambda a, b: str(a).endswith(str(b)),
    "contains": lambda a, b: str(b) in str(a),
    "in": lambda a, b: a in b,
}


def _coerce(value: Any, like: Any) -> Any:
    if isinstance(like, int | float) and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _query_matches(props: Mapping[str, Any], query: Mapping[str, Mapping[str, Any]]) -> bool:
    for name, conditions in query.items():
        if name not in props or props[name] is None:
            return False
        have = props[name]
        for op, want in conditions.items():
            if op not in _OPS:
                raise InputError(f"query operator {op!r} on {name!r} is not one of {sorted(_OPS)}")
            want = [_coerce(w, have) for w in want] if op == "in" else _coerce(want, have)
            if not _OPS[op](have, want):
                return False
    return True


def _time_range(item: pystac.Item) -> tuple[Datetime, Datetime]:
    start = item.common_metadata.start_datetime or item.datetime
    end = item.common_metadata.end_datetime or item.datetime
    return start, end  # type: ignore[return-value]


def _in_datetime(item: pystac.Item, interval: str) -> bool:
    from pystac.utils import str_to_datetime

    lo_text, _, hi_text = interval.partition("/")
    hi_text = hi_text or lo_text
    start, end = _time_range(item)
    if lo_text not in ("", "..") and end < str_to_datetime(lo_text):
        return False
    return not (hi_text not in ("", "..") and start > str_to_datetime(hi_text))


def _sort_key(field: str) -> Callable[[pystac.Item], Any]:
    path = field.split(".")
    if path[0] == "properties":
        path = path[1:]

    def key(item: pystac.Item) -> Any:
        if path == ["id"]:
            return (0, item.id)
        if path == ["collection"]:
            return (0, item.collection_id or "")
        value: Any = item.properties
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        return (1, "") if value is None else (0, value)

    return key


def _search_static(catalog: pystac.Catalog, params: Mapping[str, Any], *, max_items: int | None) -> pystac.ItemCollection:
    import cql2

    collections = set(params.get("collections", ()))
    ids = set(params.get("ids", ()))
    geom = None
    if "bbox" in params:
        b = params["bbox"]
        geom = shapely.box(b[0], b[1], b[2], b[3]) if len(b) == 4 else shapely.box(b[0], b[1], b[3], b[4])
    if "intersects" in params:
        shape = shapely.geometry.shape(params["intersects"])
        geom = shape if geom is None else geom.intersection(shape)
    expr = cql2.Expr(params["filter"]) if "filter" in params else None
    query = params.get("query")
    interval = params.get("datetime")

    found: list[pystac.Item] = []
    for item in _walk_items(catalog):
        if collections and item.collection_id not in collections:
            continue
        if ids and item.id not in ids:
            continue
        if geom is not None and (item.geometry is None or not geom.intersects(shapely.geometry.shape(item.geometry))):
            continue
        if interval and not _in_datetime(item, interval):
            continue
        if query and not _query_matches(item.properties, query):
            continue
        if expr is not None and not expr.matches(item.to_dict(include_self_link=False)):
            continue
        found.append(item)
    for spec in reversed(params.get("sortby", [])):
        found.sort(key=_sort_key(spec["field"]), reverse=spec.get("direction") == "desc")
    if max_items is not None:
        found = found[:max_items]
    return pystac.ItemCollection(found, clone_items=False)


def _walk_items(catalog: pystac.Catalog) -> Iterable[pystac.Item]:
    try:
        yield from catalog.get_items(recursive=True)
    except FileNotFoundError as exc:
        raise CatalogError(
            f"static catalogue {catalog.get_self_href()} links to a missing file ({exc.filename}); "
            "re-create or repair the catalogue"
        ) from exc


# --------------------------------------------------------------------------------------------
# saving results
# --------------------------------------------------------------------------------------------


def save_items(
    items: pystac.ItemCollection | Iterable[pystac.Item],
    path: str | Path,
    *,
    geoparquet: str | Path | None = None,
) -> Path:
    """Save search results as a GeoJSON ItemCollection (and optionally GeoParquet), atomically.

    The GeoParquet table has one row per item: ``id``, ``collection``, ``datetime`` (UTC),
    the scalar item properties as columns, ``assets`` (JSON text) and the footprint geometry
    (EPSG:4326). It is written with geopandas/pyarrow.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from geosurvey.io import atomic_write_text

    collection = items if isinstance(items, pystac.ItemCollection) else pystac.ItemCollection(list(items))
    doc = collection.to_dict(transform_hrefs=False)
    atomic_write_text(path, json.dumps(doc, indent=1, allow_nan=False) + "\n")
    if geoparquet is not None:
        _write_geoparquet(collection, Path(geoparquet))
    return Path(path)


def _write_geoparquet(collection: pystac.ItemCollection, path: Path) -> None:
    import os
    import tempfile

    import geopandas as gpd
    import pandas as pd

    rows = []
    for item in collection:
        row: dict[str, Any] = {
            "id": item.id,
            "collection": item.collection_id,
            "datetime": pd.Timestamp(item.datetime) if item.datetime else pd.NaT,
            "assets": json.dumps({k: a.to_dict() for k, a in item.assets.items()}),
            "geometry": shapely.geometry.shape(item.geometry) if item.geometry else None,
        }
        for key, value in item.properties.items():
            if key != "datetime" and isinstance(value, str | int | float | bool) and \
                    not (isinstance(value, float) and math.isnan(value)):
                row[key] = value
        rows.append(row)
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".parquet", dir=path.parent)
    os.close(fd)
    try:
        frame.to_parquet(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
