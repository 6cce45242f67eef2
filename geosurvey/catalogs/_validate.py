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
from typing import Any

import pystac
from pystac.errors import STACValidationError
from pystac.validation.stac_validator import JsonSchemaSTACValidator

from geosurvey.errors import CatalogError

__all__ = ["OFFLINE_EXTENSION_SCHEMAS", "validate_stac"]

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
                f"STAC {stac_dict.get('type', 'object')} {ident!r} is not valid: {exc}"
            ) from exc
        checked.append(ident)
    return checked
