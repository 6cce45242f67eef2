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


def _parse_collection(cid: str, raw: Mapping[str, Any], where: str) -> CollectionSpec:
    known = {"bands", "scale", "offset", "nodata", "units", "band_overrides", "mask", "cloud_cover_property"}
    extra = sorted(set(raw) - known)
    if extra:
        raise InputError(f"{where}: collection {cid!r} has unknown keys {extra}; allowed: {sorted(known)}")
    bands = raw.get("bands")
    if not isinstance(bands, Mapping) or not bands:
        raise InputError(f"{where}: collection {cid!r} needs a [bands] table of asset key = common name")
    names = list(bands.values())
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise InputError(f"{where}: collection {cid!r} maps several assets to {dupes}")
    mask = None
    if "mask" in raw:
        m = raw["mask"]
        try:
            mask = MaskRule(band=m["band"], kind=m["kind"], exclude=tuple(int(v) for v in m["exclude"]))
        except KeyError as exc:
            raise InputError(f"{where}: mask of {cid!r} needs band, kind and exclude ({exc} missing)") from exc
        if mask.band not in names:
            raise InputError(f"{where}: mask band {mask.band!r} of {cid!r} is not in its band map")
    return CollectionSpec(
        id=cid,
        bands=MappingProxyType(dict(bands)),
        scale=raw.get("scale"),
        offset=raw.get("offset"),
        nodata=raw.get("nodata"),
        units=raw.get("units"),
        band_overrides=MappingProxyType({k: dict(v) for k, v in raw.get("band_overrides", {}).items()}),
        mask=mask,
        cloud_cover_property=raw.get("cloud_cover_property", "eo:cloud_cover") or None,
    )


def parse_source(path: str | Path) -> CatalogSource:
    """Read one definition file (TOML).

    Raises
    ------
    MissingInputError
        The file does not exist.
    InputError
        The file is not valid TOML or misses required keys (the message names them).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"catalogue definition {path} does not exist")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"catalogue definition {path} is not valid TOML: {exc}") from exc
    for key in ("kind", "href"):
        if key not in raw:
            raise InputError(f"catalogue definition {path} needs {key!r}")
    if raw["kind"] not in ("stac-api", "static"):
        raise InputError(f"{path}: kind must be 'stac-api' or 'static', not {raw['kind']!r}")
    if raw.get("signing", "none") not in ("none", "planetary-computer"):
        raise InputError(f"{path}: signing must be 'none' or 'planetary-computer'")
    collections = {
        cid: _parse_collection(cid, spec, str(path)) for cid, spec in raw.get("collections", {}).items()
    }
    paging = raw.get("paging", {})
    ingest_bands = {}
    for stem, spec in raw.get("ingest", {}).get("bands", {}).items():
        if "name" not in spec:
            raise InputError(f"{path}: [ingest.bands.{stem}] needs a name")
        ingest_bands[stem] = BandInfo(
            spec["name"], description=spec.get("description", ""), units=spec.get("units"),
            center_wavelength=spec.get("center_wavelength"),
            full_width_half_max=spec.get("full_width_half_max"),
        )
    return CatalogSource(
        name=raw.get("name", path.stem),
        kind=raw["kind"],
        href=raw["href"],
        title=raw.get("title", ""),
        attribution=raw.get("attribution", ""),
        collections=MappingProxyType(collections),
        signing=raw.get("signing", "none"),
        max_items=int(paging.get("max_items", 1000)),
        page_size=int(paging.get("page_size", 100)),
        timeout_s=float(paging.get("timeout_s", 30.0)),
        retries=int(paging.get("retries", 3)),
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
