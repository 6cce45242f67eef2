"""Publish a static catalogue's collections and items to a STAC API (Transactions extension)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pystac
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from geosurvey.catalogs._search import NETWORK_ERRORS
from geosurvey.catalogs._validate import validate_stac, validate_stac_file
from geosurvey.errors import CatalogError, CatalogUnreachableError, InputError, MissingInputError

__all__ = ["publish"]

_STRUCTURAL = {"self", "root", "parent", "child", "item", "items", "collection"}


def _session(retries: int) -> requests.Session:
    retry = Retry(
        total=retries, backoff_factor=0.5, status_forcelist=(429, 502, 503, 504),
        allowed_methods=None, raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def _api_doc(obj: pystac.Collection | pystac.Item) -> dict[str, Any]:
    """The JSON an API stores: absolute asset hrefs (``file://`` URIs for local files), no
    structural links (the API makes its own)."""
    if isinstance(obj, pystac.Item):
        obj = obj.clone()
        obj.make_asset_hrefs_absolute()
        for asset in obj.assets.values():
            if asset.href.startswith("/"):  # a local file: as a URI, or a client would resolve it
                asset.href = Path(asset.href).as_uri()  # against the API's own URL
    doc = obj.to_dict(include_self_link=False, transform_hrefs=False)
    doc["links"] = [link for link in doc.get("links", []) if link.get("rel") not in _STRUCTURAL]
    return doc


def _collections(source: str | Path | pystac.Catalog) -> Iterator[pystac.Collection]:
    if isinstance(source, str | Path):
        path = Path(source)
        if path.is_dir():
            path = path / "catalog.json"
        if not path.is_file():
            raise MissingInputError(f"catalogue {path} does not exist; give the path of catalog.json")
        try:
            source = pystac.read_file(str(path.absolute()))  # type: ignore[assignment]
        except (OSError, ValueError, KeyError, TypeError, RecursionError, pystac.STACError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CatalogError(
                f"{path} is not a readable STAC catalogue ({reason}); "
                "validate it with geosurvey.catalogs.validate_stac_file"
            ) from None
    if isinstance(source, pystac.Collection):
        yield source
        return
    if not isinstance(source, pystac.Catalog):
        raise InputError(f"publish takes a catalogue or collection, not {type(source).__name__}")
    loose = list(source.get_items())
    if loose:
        raise InputError(
            f"catalogue {source.id!r} has items outside any collection ({loose[0].id!r}...); a STAC API "
            "stores items in collections: give them a collection id and re-write the catalogue"
        )
    yield from source.get_all_collections()


def _send(session: requests.Session, method: str, url: str, doc: dict[str, Any], timeout_s: float) -> requests.Response:
    try:
        return session.request(method, url, json=doc, timeout=timeout_s)
    except NETWORK_ERRORS as exc:
        raise CatalogUnreachableError(
            f"STAC API {url} cannot be reached ({type(exc).__name__}, after retries); "
            "check the URL and that the server is running"
        ) from exc


def _raise_for(response: requests.Response, what: str) -> None:
    if response.ok:
        return
    if response.status_code in (404, 405):
        raise CatalogError(
            f"{response.request.method} {response.url} answered HTTP {response.status_code}: the API does "
            f"not accept {what} — it needs the Transactions extension enabled "
            "(stac-fastapi: ENABLE_TRANSACTIONS_EXTENSIONS=true)"
        )
    raise CatalogError(
        f"the STAC API refused {what} (HTTP {response.status_code}): {response.text[:500]}"
    )


_TRANSACTIONS = ("/extensions/transaction", "ogcapi-features-4", "create-replace-delete")


def _check_transactions(session: requests.Session, api: str, timeout_s: float) -> None:
    """Refuse a URL that is not a STAC API landing page declaring the Transactions extension."""
    url = f"{api}/"
    try:
        response = session.get(url, timeout=timeout_s, headers={"Accept": "application/json"})
    except NETWORK_ERRORS as exc:
        raise CatalogUnreachableError(
            f"STAC API {api} cannot be reached ({type(exc).__name__}, after retries); "
            "check the URL and that the server is running"
        ) from None
    if not response.ok:
        raise CatalogError(f"GET {url} answered HTTP {response.status_code}; give the root URL of a STAC API")
    try:
        landing = response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        raise CatalogError(
            f"{url} answered {kind}, not a STAC API landing page (JSON); give the root URL of a STAC API"
        ) from None
    if not isinstance(landing, dict) or not isinstance(landing.get("links"), list):
        raise CatalogError(f"{url} answered JSON that is not a STAC API landing page (no links); check the URL")
    conforms = landing.get("conformsTo")
    if not isinstance(conforms, list):  # OGC API: the classes may only be at /conformance
        try:
            conformance = session.get(f"{api}/conformance", timeout=timeout_s).json()
        except (ValueError, *NETWORK_ERRORS):
            conformance = {}
        conforms = conformance.get("conformsTo") if isinstance(conformance, dict) else None
    if not isinstance(conforms, list):
        raise CatalogError(f"{url} declares no conformance classes (conformsTo); it is not a STAC API")
    if not any(isinstance(c, str) and any(t in c for t in _TRANSACTIONS) for c in conforms):
        raise CatalogError(
            f"STAC API {api} does not declare the Transactions extension in conformsTo, so it cannot "
            "store collections and items; enable it (stac-fastapi: ENABLE_TRANSACTIONS_EXTENSIONS=true)"
        )


def publish(
    source: str | Path | pystac.Catalog | pystac.Collection,
    api_url: str,
    *,
    upsert: bool = True,
    batch_size: int = 100,
    timeout_s: float = 60.0,
    retries: int = 3,
) -> dict[str, int]:
    """Push every collection of a static catalogue, and its items, to a STAC API.

    Objects are validated offline first (:func:`validate_stac`); asset hrefs are made absolute
    (an API has no folder to be relative to), and structural links are left to the API. Items
    go as FeatureCollections of ``batch_size`` to ``POST /collections/{id}/items``.

    Parameters
    ----------
    source
        The path of ``catalog.json`` (or its folder), a :class:`pystac.Catalog` or a
        :class:`pystac.Collection`.
    api_url
        The STAC API root, e.g. ``http://127.0.0.1:8080``.
    upsert
        Replace collections and items that exist already (``PUT``); otherwise such a conflict
        is an error.
    batch_size
        Items per request.
    timeout_s, retries
        Per-request timeout and retries (with backoff) on connection errors and 429/502/503/504.

    Returns
    -------
    dict
        ``{"collections": n, "items": m}`` published.

    Raises
    ------
    CatalogUnreachableError
        The API cannot be reached.
    CatalogError
        The URL is not a STAC API (its landing page is not JSON with ``conformsTo``), the API does
        not declare Transactions, or it refused an object (its reason is in the message).
    """
    api = api_url.rstrip("/")
    if not api.startswith(("http://", "https://")):
        raise InputError(f"STAC API URL {api_url!r} must start with http:// or https://")
    session = _session(retries)
    if isinstance(source, str | Path):  # the files as written, before pystac fills anything in
        path = Path(source) / "catalog.json" if Path(source).is_dir() else Path(source)
        validate_stac_file(path)
    collections = list(_collections(source))
    for collection in collections:
        validate_stac(collection)
    _check_transactions(session, api, timeout_s)
    counts = {"collections": 0, "items": 0}
    for collection in collections:
        doc = _api_doc(collection)
        response = _send(session, "POST", f"{api}/collections", doc, timeout_s)
        if response.status_code == 409 and upsert:
            response = _send(session, "PUT", f"{api}/collections/{collection.id}", doc, timeout_s)
        _raise_for(response, f"collection {collection.id!r}")
        counts["collections"] += 1
        items = list(collection.get_items(recursive=True))
        for start in range(0, len(items), batch_size):
            batch = [_api_doc(item) for item in items[start : start + batch_size]]
            url = f"{api}/collections/{collection.id}/items"
            response = _send(session, "POST", url, {"type": "FeatureCollection", "features": batch}, timeout_s)
            if response.status_code == 409 and upsert:
                for doc_item in batch:
                    one = _send(session, "POST", url, doc_item, timeout_s)
                    if one.status_code == 409:
                        one = _send(session, "PUT", f"{url}/{doc_item['id']}", doc_item, timeout_s)
                    _raise_for(one, f"item {doc_item['id']!r}")
            else:
                _raise_for(response, f"items of {collection.id!r}")
            counts["items"] += len(batch)
    return counts
