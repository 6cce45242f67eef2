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
import urllib3
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
    except (ValueError, KeyError, TypeError, pystac.STACError) as exc:  # HTML, JSON that is not STAC
        raise CatalogError(
            f"{url} did not answer with a STAC API landing page ({_reason(exc)}); check that the URL is "
            "the root of a STAC API (it answers JSON with 'conformsTo' and links)"
        ) from None


def _reason(exc: BaseException) -> str:
    """The first line of an exception's message (libraries' messages can span many lines)."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


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
    except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException) as exc:
        raise CatalogUnreachableError(
            f"static catalogue {href} cannot be reached ({_reason(exc)}); check the URL and that the "
            "server is running"
        ) from None
    except OSError as exc:
        raise CatalogError(f"static catalogue {href} cannot be read ({_reason(exc)})") from None
    except (ValueError, pystac.STACError, KeyError, TypeError, RecursionError) as exc:
        raise CatalogError(
            f"{href} is not a readable STAC catalogue ({_reason(exc)}); give the path of a catalog.json"
        ) from None
    if not isinstance(obj, pystac.Catalog):
        raise CatalogError(f"{href} is a STAC {type(obj).__name__}, not a catalogue or collection")
    return obj


# --------------------------------------------------------------------------------------------
# search
# --------------------------------------------------------------------------------------------


def _area_geometry(area: Any) -> dict[str, Any]:
    geom = getattr(area, "geometry", area)
    if isinstance(geom, Mapping):
        try:
            geom = shapely.geometry.shape(geom)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
            raise GeometryError(f"the search geometry is not valid GeoJSON ({_reason(exc)})") from None
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


def _check_bbox(bbox: Sequence[float] | None) -> tuple[float, ...] | None:
    """``(west, south, east, north)`` (or the 6-number 3-D form) as floats, checked.

    West > east is a box that crosses the antimeridian (180°), as in STAC and GeoJSON; south >
    north is refused (never swapped silently).
    """
    if bbox is None:
        return None
    hint = "give west, south, east, north in degrees (EPSG:4326), e.g. 24.0,67.0,25.5,67.8"
    try:
        values = tuple(float(v) for v in bbox)
    except (TypeError, ValueError):
        raise InputError(f"bbox {bbox!r} is not four numbers; {hint}") from None
    if len(values) == 6:
        west, south, _, east, north, _ = values
    elif len(values) == 4:
        west, south, east, north = values
    else:
        raise InputError(f"bbox has {len(values)} numbers, not 4; {hint}")
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"bbox {values} holds a value that is not a finite number; {hint}")
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise InputError(f"bbox west {west:g} / east {east:g} must be longitudes within -180..180; {hint}")
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise InputError(f"bbox south {south:g} / north {north:g} must be latitudes within -90..90; {hint}")
    if south > north:
        raise InputError(
            f"bbox south {south:g} is north of north {north:g}: did you swap south and north? "
            "The order is west, south, east, north"
        )
    return values


def _bbox_geometry(bbox: Sequence[float]) -> shapely.Geometry:
    """The ground a STAC bbox covers: two boxes when west > east (it crosses 180°)."""
    west, south, east, north = (bbox[0], bbox[1], bbox[2], bbox[3]) if len(bbox) == 4 else \
        (bbox[0], bbox[1], bbox[3], bbox[4])
    if west <= east:
        return shapely.box(west, south, east, north)
    return shapely.MultiPolygon([shapely.box(west, south, 180.0, north), shapely.box(-180.0, south, east, north)])


def _cql2_reason(exc: BaseException) -> str:
    """cql2's parse errors are a multi-line drawing: keep the position and what was expected."""
    lines = [line.strip(" |=") for line in str(exc).splitlines()]
    where = next((line.removeprefix("-->").strip() for line in lines if line.startswith("-->")), "")
    expected = next((line.strip() for line in lines if line.startswith("expected")), "")
    parts = [f"at {where}" if where else "", expected[:120]]
    return ", ".join(p for p in parts if p) or _reason(exc)


def _check_arguments(
    *,
    datetime: Any,
    filter: Any,
    query: Any,
) -> None:
    """Refuse a datetime, CQL2 filter or query that pystac-client cannot turn into a search."""
    if datetime is not None:
        try:
            interval = ItemSearch("http://127.0.0.1/unused", datetime=datetime).get_parameters().get("datetime")
        except Exception as exc:  # pystac-client raises bare Exception for bad dates
            raise InputError(
                f"datetime {datetime!r} is not a date or range ({_reason(exc)}); use ISO 8601, e.g. "
                "2023-06-01, 2023-06, 2023-06-01/2023-08-31 or 2023-06-01/.."
            ) from None
        if interval and "/" in interval:
            from pystac.utils import str_to_datetime

            lo, _, hi = interval.partition("/")
            if lo not in ("", "..") and hi not in ("", "..") and str_to_datetime(lo) > str_to_datetime(hi):
                raise InputError(f"datetime range {datetime!r} ends before it starts; swap the two dates")
    if filter is not None:
        try:
            ItemSearch("http://127.0.0.1/unused", filter=filter).get_parameters()
        except Exception as exc:  # cql2 raises bare Exception on syntax errors
            raise InputError(
                f"CQL2 filter {filter!r} is not valid ({_cql2_reason(exc)}); e.g. "
                "\"eo:cloud_cover < 10 AND platform = 'sentinel-2a'\""
            ) from None
    if query is not None and not isinstance(query, Mapping):
        for one in [query] if isinstance(query, str) else query:
            try:
                parsed = ItemSearch("http://127.0.0.1/unused", query=[one]).get_parameters().get("query")
            except Exception:
                parsed = None
            if not parsed:
                raise InputError(f"query {one!r} is not PROPERTY OP VALUE (OP one of = != < <= > >=), e.g. 'eo:cloud_cover<10'")


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
        ``(west, south, east, north)`` in degrees (EPSG:4326); west > east is a box across the
        antimeridian (180°), as in STAC. South > north, or values out of range, are refused.
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
    bbox = _check_bbox(bbox)
    _check_arguments(datetime=datetime, filter=filter, query=query)
    if max_items is not None and (isinstance(max_items, bool) or not isinstance(max_items, int) or max_items < 1):
        raise InputError(f"max_items={max_items!r} must be a whole number of at least 1")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InputError(f"limit={limit!r} must be a whole number of at least 1")
    for cid in [collections] if isinstance(collections, str) else (collections or []):
        if not isinstance(cid, str) or not cid.strip():
            raise InputError(f"collection id {cid!r} is empty; give the id of a collection")
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
        if bbox is not None and _bbox_geometry(bbox).geom_type == "MultiPolygon":
            # across 180°: sent as the two boxes it means, since servers differ on W > E bboxes
            crossing = _bbox_geometry(bbox)
            if intersects is not None:
                crossing = crossing.intersection(shapely.geometry.shape(intersects))
            bbox, intersects = None, shapely.geometry.mapping(crossing)
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
        raise cls(f"STAC API {url} refused the search (HTTP {status}): {_reason(exc)}") from exc
    except (ValueError, KeyError, TypeError, AttributeError, pystac.STACError) as exc:
        raise CatalogError(
            f"STAC API {url} answered its search with something that is not STAC items after {len(items)} "
            f"items ({_reason(exc)}); the server or a proxy in front of it is misbehaving"
        ) from None
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
        geom = _bbox_geometry(params["bbox"])
    if "intersects" in params:
        shape = shapely.geometry.shape(params["intersects"])
        geom = shape if geom is None else geom.intersection(shape)
    try:
        expr = cql2.Expr(params["filter"]) if "filter" in params else None
    except Exception as exc:  # cql2 raises bare Exception
        raise InputError(f"CQL2 filter {params['filter']!r} is not valid ({_cql2_reason(exc)})") from None
    source = catalog.get_self_href() or catalog.id
    query = params.get("query")
    interval = params.get("datetime")

    found: list[pystac.Item] = []
    for item in _walk_items(catalog):
        if collections and item.collection_id not in collections:
            continue
        if ids and item.id not in ids:
            continue
        try:
            if geom is not None and (item.geometry is None or not geom.intersects(shapely.geometry.shape(item.geometry))):
                continue
            if interval and not _in_datetime(item, interval):
                continue
            if query and not _query_matches(item.properties, query):
                continue
            if expr is not None:
                try:
                    matched = expr.matches(item.to_dict(include_self_link=False))
                except Exception as exc:  # cql2 raises bare Exception
                    raise InputError(
                        f"CQL2 filter {params['filter']!r} cannot be evaluated on item {item.id!r} "
                        f"({_reason(exc)}); static catalogues evaluate the standard CQL2 operators"
                    ) from None
                if not matched:
                    continue
        except InputError:
            raise
        except Exception as exc:  # shapely, dateutil, cql2 on a malformed item
            raise CatalogError(
                f"item {item.id!r} of static catalogue {source} is malformed ({_reason(exc)}); repair "
                "or re-create it (geosurvey.catalogs.validate_stac_file names what is wrong)"
            ) from None
        found.append(item)
    for spec in reversed(params.get("sortby", [])):
        found.sort(key=_sort_key(spec["field"]), reverse=spec.get("direction") == "desc")
    if max_items is not None:
        found = found[:max_items]
    return pystac.ItemCollection(found, clone_items=False)


def _walk_items(catalog: pystac.Catalog) -> Iterable[pystac.Item]:
    """Every item under ``catalog`` (its own items, then each child's, depth first, as pystac's
    ``get_items(recursive=True)``), naming the file at fault when one cannot be read."""
    root = catalog.get_root() or catalog
    source = catalog.get_self_href() or catalog.id
    children: list[pystac.Catalog] = []
    for link in list(catalog.links):
        if link.rel not in ("item", "child"):
            continue
        href = link.get_absolute_href() or link.href
        try:
            target = link.resolve_stac_object(root=root).target
        except FileNotFoundError:
            raise CatalogError(
                f"static catalogue {source} links to a missing file ({href}); re-create or repair the catalogue"
            ) from None
        except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException) as exc:
            raise CatalogUnreachableError(f"{href} of static catalogue {source} cannot be reached ({_reason(exc)})") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError,
                pystac.STACError) as exc:
            local = href.removeprefix("file://")
            if "://" not in local and not Path(local).exists():
                raise CatalogError(
                    f"static catalogue {source} links to a missing file ({href}); re-create or repair the catalogue"
                ) from None
            raise CatalogError(
                f"{href} (an {link.rel} of static catalogue {source}) is not readable STAC JSON ({_reason(exc)}); "
                "repair or re-create it"
            ) from None
        if link.rel == "item":
            if not isinstance(target, pystac.Item):
                raise CatalogError(f"{href} is linked as an item of {source} but is a {type(target).__name__}")
            yield target
        elif isinstance(target, pystac.Catalog):
            children.append(target)
    for child in children:
        yield from _walk_items(child)


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
    from geosurvey.io import atomic_path

    path = Path(path)
    if geoparquet is not None and Path(geoparquet).absolute() == path.absolute():
        raise InputError(f"the ItemCollection and the GeoParquet table are both {path}; give two names")
    collection = items if isinstance(items, pystac.ItemCollection) else pystac.ItemCollection(list(items))
    doc = collection.to_dict(transform_hrefs=False)
    with atomic_path(path, create=True) as tmp:  # both files appear, or neither
        tmp.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n", encoding="utf-8")
        if geoparquet is not None:
            with atomic_path(geoparquet) as tmp_parquet:
                _geoparquet_frame(collection).to_parquet(tmp_parquet)
    return path


def _geoparquet_frame(collection: pystac.ItemCollection):
    """One row per item: id, collection, datetime, scalar properties, assets (JSON), footprint."""
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
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")
