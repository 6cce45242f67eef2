"""Catalogue definitions: where data come from, parsed once from ``catalogs/*.toml``.

A definition names a source (a STAC API or a static catalogue), the collections of interest and,
per collection, the band map (asset key → geosurvey common band name), fallback scale, offset,
nodata and units for items that lack the ``raster`` extension, the cloud/quality mask rule,
request signing and the attribution a map must show. The format is documented in
``catalogs/README.md``.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from geosurvey.catalogs._bands import BandInfo
from geosurvey.errors import InputError, MissingInputError

__all__ = [
    "CatalogSource",
    "CollectionSpec",
    "MaskRule",
    "catalog_dir",
    "get_source",
    "list_sources",
    "parse_source",
]

_REPO_CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"


#: Where a (non-editable) install puts the definitions (pyproject's ``data-files``).
_INSTALLED_CATALOGS = Path(sys.prefix) / "share" / "geosurvey" / "catalogs"


def catalog_dir() -> Path:
    """The folder of definitions.

    ``$GEOSURVEY_CATALOGS`` if set; else ``catalogs/`` of the source tree (a checkout or an editable
    install); else the copy an installed geosurvey carries in ``<prefix>/share/geosurvey/catalogs``.
    """
    if "GEOSURVEY_CATALOGS" in os.environ:
        return Path(os.environ["GEOSURVEY_CATALOGS"])
    return _REPO_CATALOGS if _REPO_CATALOGS.is_dir() else _INSTALLED_CATALOGS


@dataclass(frozen=True)
class MaskRule:
    """Which pixels of a quality band mark a pixel as unusable (cloud, shadow, no data...).

    Parameters
    ----------
    band
        The common name of the quality band (e.g. ``"scl"``, ``"qa_pixel"``); it must be in the
        collection's band map. It is loaded as is (no scale/offset) and dropped after masking.
    kind
        ``"values"``: the listed class values are bad (Sentinel-2 SCL);
        ``"bits"``: a pixel is bad when any listed bit (0 = least significant) is set
        (Landsat QA_PIXEL).
    exclude
        The class values or bit positions.
    """

    band: str
    kind: Literal["values", "bits"]
    exclude: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.kind not in ("values", "bits"):
            raise InputError(f"mask rule kind must be 'values' or 'bits', not {self.kind!r}")
        if not self.exclude:
            raise InputError(f"mask rule on band {self.band!r} excludes nothing; list values or bits")
        if self.kind == "bits" and not all(0 <= b < 64 for b in self.exclude):
            raise InputError(f"mask rule on band {self.band!r}: bit positions must be 0–63")


@dataclass(frozen=True)
class CollectionSpec:
    """How to load one collection of a source.

    Parameters
    ----------
    id
        The collection id.
    bands
        ``{asset key: common name}``; ``"ASSET.N"`` names band ``N`` (1-based) of a multi-band
        asset (ASTER's ``VNIR``/``SWIR``/``TIR``).
    scale, offset, nodata, units
        Used for a band only when its item lacks ``raster:bands`` values for them; a per-band
        table ``[collections.ID.band_overrides.NAME]`` overrides them for one common name.
    mask
        The cloud/quality mask rule, if any.
    cloud_cover_property
        The item property holding cloud cover in percent (``eo:cloud_cover``).
    """

    id: str
    bands: Mapping[str, str]
    scale: float | None = None
    offset: float | None = None
    nodata: float | None = None
    units: str | None = None
    band_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    mask: MaskRule | None = None
    cloud_cover_property: str | None = "eo:cloud_cover"

    def band_default(self, name: str, key: Literal["scale", "offset", "nodata", "units"]) -> Any:
        """The fallback ``scale``/``offset``/``nodata``/``units`` for the common band ``name``."""
        override = self.band_overrides.get(name, {})
        return override[key] if key in override else getattr(self, key)


@dataclass(frozen=True)
class CatalogSource:
    """One data source: a STAC API or a static catalogue, and how to read its collections.

    Parameters
    ----------
    name
        The definition's name (its file stem in ``catalogs/``).
    kind
        ``"stac-api"`` (searched with pystac-client) or ``"static"`` (a ``catalog.json`` read with
        pystac).
    href
        The API root URL or the path of ``catalog.json`` (``${VAR}`` is taken from the
        environment when the definition is used).
    title, attribution
        What to call it and the attribution text a map must show.
    collections
        ``{collection id: CollectionSpec}``.
    signing
        ``"planetary-computer"`` to sign asset URLs with the ``planetary-computer`` package
        (Azure SAS tokens), else ``"none"``.
    max_items, page_size, timeout_s, retries
        Paging bounds and the retry policy for a STAC API (retries on 429/5xx and timeouts,
        exponential backoff).
    ingest_bands
        ``{file stem: BandInfo}``: how ``geosurvey catalog ingest`` names this source's files.
    """

    name: str
    kind: Literal["stac-api", "static"]
    href: str
    title: str = ""
    attribution: str = ""
    collections: Mapping[str, CollectionSpec] = field(default_factory=dict)
    signing: Literal["none", "planetary-computer"] = "none"
    max_items: int = 1000
    page_size: int = 100
    timeout_s: float = 30.0
    retries: int = 3
    ingest_bands: Mapping[str, BandInfo] = field(default_factory=dict)

    def resolved_href(self) -> str:
        """``href`` with ``${VAR}`` replaced from the environment.

        Raises
        ------
        InputError
            If a variable is not set (the message names it).
        """

        def sub(match: re.Match[str]) -> str:
            var = match.group(1)
            if var not in os.environ:
                raise InputError(
                    f"catalogue {self.name!r} reads its location from ${var}, which is not set; "
                    f"export {var}=<path of catalog.json> or pass the path itself as the source"
                )
            return os.environ[var]

        return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, self.href)

    def collection(self, collection_id: str | None) -> CollectionSpec | None:
        """The spec of ``collection_id`` (``None`` when the definition does not list it)."""
        return self.collections.get(collection_id) if collection_id else None


def _table(raw: Any, known: set[str], where: str) -> Mapping[str, Any]:
    """``raw`` as a TOML table whose keys are all ``known`` (the README promises unknown keys are refused)."""
    if not isinstance(raw, Mapping):
        raise InputError(f"{where} must be a table, not {type(raw).__name__} {raw!r}")
    extra = sorted(set(raw) - known)
    if extra:
        raise InputError(f"{where} has unknown keys {extra}; allowed: {sorted(known)}")
    return raw


def _value(raw: Mapping[str, Any], key: str, kind: Literal["str", "number", "int"], where: str,
           default: Any = None, *, positive: bool = False) -> Any:
    """``raw[key]`` checked to be text, a number or an integer (TOML booleans are not numbers)."""
    if key not in raw:
        return default
    value = raw[key]
    ok = {
        "str": isinstance(value, str),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
    }[kind]
    if not ok:
        wanted = {"str": "text in quotes", "number": "a number", "int": "a whole number"}[kind]
        raise InputError(f"{where}: {key} = {value!r} must be {wanted}")
    if kind != "str":
        import math

        if not math.isfinite(value) or (positive and value <= 0):
            raise InputError(f"{where}: {key} = {value!r} must be a finite number" + (" > 0" if positive else ""))
    return value


_COLLECTION_KEYS = {"bands", "scale", "offset", "nodata", "units", "band_overrides", "mask", "cloud_cover_property"}
_OVERRIDE_KEYS = {"scale", "offset", "nodata", "units"}


def _parse_collection(cid: str, raw: Any, where: str) -> CollectionSpec:
    here = f"{where} [collections.{cid}]"
    raw = _table(raw, _COLLECTION_KEYS, here)
    bands = raw.get("bands")
    if not isinstance(bands, Mapping) or not bands:
        raise InputError(f"{where}: collection {cid!r} needs a [bands] table of asset key = common name")
    for key, name in bands.items():
        if not isinstance(name, str):
            raise InputError(f"{here}.bands: {key} = {name!r} must be a common band name in quotes")
    names = list(bands.values())
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"{where}: collection {cid!r} maps several assets to {dupes}")
    mask = None
    if "mask" in raw:
        m = _table(raw["mask"], {"band", "kind", "exclude"}, f"{here}.mask")
        missing = [k for k in ("band", "kind", "exclude") if k not in m]
        if missing:
            raise InputError(f"{where}: mask of {cid!r} needs band, kind and exclude ({', '.join(missing)} missing)")
        exclude = m["exclude"]
        if not isinstance(exclude, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in exclude):
            raise InputError(f"{here}.mask: exclude = {exclude!r} must be a list of whole numbers")
        mask = MaskRule(band=_value(m, "band", "str", f"{here}.mask"), kind=m["kind"], exclude=tuple(exclude))
        if mask.band not in names:
            raise InputError(f"{where}: mask band {mask.band!r} of {cid!r} is not in its band map")
    overrides_raw = _table(raw.get("band_overrides", {}), set(names), f"{here}.band_overrides")
    overrides = {}
    for name, table in overrides_raw.items():
        at = f"{here}.band_overrides.{name}"
        table = _table(table, _OVERRIDE_KEYS, at)
        overrides[name] = {
            k: _value(table, k, "str" if k == "units" else "number", at) for k in table
        }
    cloud = _value(raw, "cloud_cover_property", "str", here, "eo:cloud_cover")
    return CollectionSpec(
        id=cid,
        bands=MappingProxyType(dict(bands)),
        scale=_value(raw, "scale", "number", here),
        offset=_value(raw, "offset", "number", here),
        nodata=_value(raw, "nodata", "number", here),
        units=_value(raw, "units", "str", here),
        band_overrides=MappingProxyType(overrides),
        mask=mask,
        cloud_cover_property=cloud or None,
    )


_TOP_KEYS = {"name", "title", "kind", "href", "signing", "attribution", "paging", "collections", "ingest"}
_PAGING_KEYS = {"max_items", "page_size", "timeout_s", "retries"}
_INGEST_BAND_KEYS = {"name", "description", "units", "center_wavelength", "full_width_half_max"}


def parse_source(path: str | Path) -> CatalogSource:
    """Read one definition file (TOML).

    Every table's keys are checked (an unknown key is refused, not ignored) and every value's
    type (text, number, whole number, table).

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        The file is not valid UTF-8 TOML, misses required keys, has an unknown key or a value of
        the wrong type (the message names the file, the table and the key).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"catalogue definition {path} does not exist")
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"catalogue definition {path} is not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"catalogue definition {path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise InputError(f"catalogue definition {path} is nested too deeply") from None
    where = str(path)
    _table(raw, _TOP_KEYS, where)
    for key in ("kind", "href"):
        if key not in raw:
            raise InputError(f"catalogue definition {path} needs {key!r}")
    if raw["kind"] not in ("stac-api", "static"):
        raise InputError(f"{path}: kind must be 'stac-api' or 'static', not {raw['kind']!r}")
    if raw.get("signing", "none") not in ("none", "planetary-computer"):
        raise InputError(f"{path}: signing must be 'none' or 'planetary-computer', not {raw.get('signing')!r}")
    href = _value(raw, "href", "str", where)
    if not href.strip():
        raise InputError(f"{path}: href is empty; give the API URL or the path of catalog.json")
    collections = {
        cid: _parse_collection(cid, spec, where)
        for cid, spec in _table(raw.get("collections", {}), set(raw.get("collections", {}) or {}),
                                f"{where} [collections]").items()
    }
    paging = _table(raw.get("paging", {}), _PAGING_KEYS, f"{where} [paging]")
    ingest = _table(raw.get("ingest", {}), {"bands"}, f"{where} [ingest]")
    ingest_bands = {}
    bands_table = _table(ingest.get("bands", {}), set(ingest.get("bands", {}) or {}), f"{where} [ingest.bands]")
    for stem, spec in bands_table.items():
        at = f"{where} [ingest.bands.{stem}]"
        spec = _table(spec, _INGEST_BAND_KEYS, at)
        if "name" not in spec:
            raise InputError(f"{path}: [ingest.bands.{stem}] needs a name")
        ingest_bands[stem] = BandInfo(
            _value(spec, "name", "str", at), description=_value(spec, "description", "str", at, ""),
            units=_value(spec, "units", "str", at),
            center_wavelength=_value(spec, "center_wavelength", "number", at),
            full_width_half_max=_value(spec, "full_width_half_max", "number", at),
        )
    at = f"{where} [paging]"
    if _value(paging, "retries", "int", at, 3) < 0:
        raise InputError(f"{at}: retries = {paging['retries']} must be 0 or more")
    return CatalogSource(
        name=_value(raw, "name", "str", where, path.stem),
        kind=raw["kind"],
        href=href,
        title=_value(raw, "title", "str", where, ""),
        attribution=_value(raw, "attribution", "str", where, ""),
        collections=MappingProxyType(collections),
        signing=raw.get("signing", "none"),
        max_items=_value(paging, "max_items", "int", at, 1000, positive=True),
        page_size=_value(paging, "page_size", "int", at, 100, positive=True),
        timeout_s=float(_value(paging, "timeout_s", "number", at, 30.0, positive=True)),
        retries=_value(paging, "retries", "int", at, 3),
        ingest_bands=MappingProxyType(ingest_bands),
    )


def list_sources() -> list[str]:
    """The names of the definitions in :func:`catalog_dir`."""
    folder = catalog_dir()
    return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []


def get_source(name: str) -> CatalogSource:
    """The definition called ``name`` (a file ``catalogs/<name>.toml``) or at path ``name``.

    Raises
    ------
    InputError
        No such definition (the message lists the known ones).
    """
    if name.endswith(".toml"):
        return parse_source(name)
    path = catalog_dir() / f"{name}.toml"
    if not path.is_file():
        raise InputError(
            f"no catalogue definition {name!r} in {catalog_dir()}; known: {', '.join(list_sources()) or 'none'}"
        )
    return parse_source(path)
