"""Offline validation of STAC objects against JSON Schemas.

What is validated, and against what:

* **Core** (Item, Catalog, Collection, STAC 1.1.0): the official JSON Schemas that pystac ships
  (``pystac/validation/jsonschemas``), including the GeoJSON Feature/Geometry schemas.
* **Extensions** ``proj`` v2.0.0, ``raster`` v1.1.0 and ``eo`` v1.1.0: geosurvey's own JSON Schema
  transcriptions of those extensions' field tables (``geosurvey/catalogs/schemas/``), registered
  under the extensions' schema URIs. The official extension schema files are fetched from the web
  by pystac and by every validator package on PyPI; none ships them, so geosurvey carries its own.
  They check the same fields, types, ranges, enumerations and where each field may appear.

Nothing is fetched: an object that declares an extension geosurvey has no schema for is refused
(:class:`~geosurvey.errors.CatalogError` naming the object and the extension), never passed
silently.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pystac
from pystac.errors import STACValidationError
from pystac.validation.stac_validator import JsonSchemaSTACValidator

from geosurvey.errors import CatalogError, MissingInputError

__all__ = ["OFFLINE_EXTENSION_SCHEMAS", "validate_stac", "validate_stac_file"]

#: Extension schema URI → the file in ``geosurvey/catalogs/schemas`` that validates it.
OFFLINE_EXTENSION_SCHEMAS: dict[str, str] = {
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json": "projection-v2.0.0.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json": "raster-v1.1.0.json",
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json": "eo-v1.1.0.json",
}


class _OfflineValidator(JsonSchemaSTACValidator):
    """pystac's JSON Schema validator restricted to schemas on disk: it never fetches a schema."""

    def __init__(self) -> None:
        super().__init__()
        files = resources.files("geosurvey.catalogs") / "schemas"
        for uri, name in OFFLINE_EXTENSION_SCHEMAS.items():
            self.schema_cache[uri] = json.loads((files / name).read_text(encoding="utf-8"))

    def _get_schema(self, schema_uri: str) -> dict[str, Any]:
        if schema_uri not in self.schema_cache:
            known = ", ".join(sorted(OFFLINE_EXTENSION_SCHEMAS))
            raise CatalogError(
                f"no offline JSON Schema for {schema_uri}; geosurvey validates the STAC 1.1.0 core "
                f"and these extensions: {known}. Remove the extension or validate online "
                "with stac-validator"
            )
        return self.schema_cache[schema_uri]


@cache
def _validator() -> _OfflineValidator:
    return _OfflineValidator()


def _what_failed(exc: STACValidationError) -> str:
    """One line: the schema, where in the object (``assets.blue.raster:bands.0.data_type``) and
    jsonschema's reason, from the deepest error (``anyOf`` errors hold their causes in ``context``)."""
    schema = str(exc).splitlines()[0].rpartition("against schema at ")[2].strip() or "its schema"
    errors = list(exc.source) if isinstance(exc.source, list) else []
    leaves = []
    while errors:
        error = errors.pop()
        if error.context:
            errors.extend(error.context)
        else:
            leaves.append(error)
    if not leaves:
        return f"against {schema}: {str(exc).splitlines()[-1][:300]}"
    deepest = max(leaves, key=lambda e: len(e.absolute_path))
    where = ".".join(str(p) for p in deepest.absolute_path) or "the object"
    return f"against {schema}: {where}: {deepest.message[:300]}"


def validate_stac(obj: pystac.STACObject | dict[str, Any], *, recursive: bool = True) -> list[str]:
    """Validate a STAC object (and, for a catalogue, everything under it) without the network.

    Parameters
    ----------
    obj
        An Item, Collection or Catalog (pystac object or its JSON as a dict).
    recursive
        For a catalogue or collection, also validate every child and item under it.

    Returns
    -------
    list of str
        The ids of the objects validated.

    Raises
    ------
    CatalogError
        Naming the object and the schema it fails, or an extension without an offline schema.
    """
    validator = _validator()
    objects: list[pystac.STACObject | dict[str, Any]] = [obj]
    if recursive and isinstance(obj, pystac.Catalog):
        for _, children, items in obj.walk():
            objects += [*children, *items]
    checked: list[str] = []
    seen: set[int] = set()
    for one in objects:
        if id(one) in seen:
            continue
        seen.add(id(one))
        stac_dict = one if isinstance(one, dict) else one.to_dict(include_self_link=False)
        ident = stac_dict.get("id", "<no id>")
        try:
            pystac.validation.validate_dict(stac_dict, validator=validator)
        except STACValidationError as exc:
            raise CatalogError(
                f"STAC {stac_dict.get('type', 'object')} {ident!r} is not valid: {_what_failed(exc)}"
            ) from exc
        checked.append(ident)
    return checked


def _read_json(path: Path, *, linked_from: Path | None) -> dict[str, Any]:
    via = f" (linked from {linked_from})" if linked_from is not None else ""
    if not path.is_file():
        raise (CatalogError if linked_from is not None else MissingInputError)(
            f"{path}{via} does not exist" + ("; repair or re-create the catalogue" if linked_from else "")
        )
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path}{via} is not UTF-8 text (byte {exc.start}); STAC JSON is UTF-8") from None
    except json.JSONDecodeError as exc:
        raise CatalogError(f"{path}{via} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                           "is it truncated?") from None
    except RecursionError:
        raise CatalogError(f"{path}{via} is nested too deeply to be STAC JSON") from None
    if not isinstance(doc, dict):
        raise CatalogError(f"{path}{via} holds a JSON {type(doc).__name__}, not a STAC object (a JSON object)")
    return doc


def _local_href(href: Any, base: Path) -> Path | None:
    if not isinstance(href, str):
        return None
    parsed = urlparse(href)
    if parsed.scheme in ("http", "https", "s3", "gs", "az"):
        return None  # a remote link: not part of the files on disk
    path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(href)
    return path if path.is_absolute() else (base.parent / path)


def validate_stac_file(path: str | Path) -> list[str]:
    """Validate STAC JSON files as they are written on disk, following child and item links.

    Unlike validating objects read with pystac (which fills in what a file lacks, e.g. an empty
    ``assets``), each file's own JSON is checked against the schemas (:func:`validate_stac`), and
    every local ``child`` and ``item`` link is followed and checked the same way.

    Parameters
    ----------
    path
        A catalogue, collection or item JSON file.

    Returns
    -------
    list of str
        The ids of the objects validated.

    Raises
    ------
    MissingInputError
        ``path`` does not exist.
    CatalogError
        A file is not UTF-8 JSON of an object, a linked file is missing, or an object is not
        valid STAC (the message names the file).
    """
    start = Path(path).absolute()
    todo: list[tuple[Path, Path | None]] = [(start, None)]
    seen: set[Path] = set()
    checked: list[str] = []
    while todo:
        file, parent = todo.pop(0)
        real = file.resolve()
        if real in seen:
            continue
        seen.add(real)
        doc = _read_json(file, linked_from=parent)
        try:
            checked += validate_stac(doc, recursive=False)
        except CatalogError as exc:
            raise CatalogError(f"{file}: {exc}") from None
        for link in doc.get("links", []) if isinstance(doc.get("links"), list) else []:
            if isinstance(link, dict) and link.get("rel") in ("child", "item"):
                target = _local_href(link.get("href"), file)
                if target is not None:
                    todo.append((target, file))
    return checked
