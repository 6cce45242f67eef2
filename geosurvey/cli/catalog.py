"""``geosurvey catalog ...``: list and show sources, search, ingest, validate and publish."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from geosurvey.errors import InputError
from geosurvey.text import printable

__all__ = ["app"]

app = typer.Typer(
    help="Data catalogues: search STAC APIs and static catalogues, ingest and publish grids.",
    no_args_is_help=True,
)


def _bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise InputError(f"--bbox must be W,S,E,N in degrees, e.g. 24.0,67.0,25.5,67.8; got {text!r}") from exc
    return west, south, east, north


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"--datetime must be ISO 8601, e.g. 2010-06-01 or 2010-06-01T00:00:00Z; got {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _location(href: str) -> str:
    """A definition's location for ``list``: ``${VAR}`` parts shown as what to set when unset."""
    import os
    import re

    unset = [v for v in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", href) if v not in os.environ]
    if unset:
        return f"(set ${unset[0]} to {'its URL' if href.startswith('http') else 'the path of catalog.json'})"
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: os.environ[m.group(1)], href)


@app.command("list")
def list_command() -> None:
    """List the catalogue definitions in catalogs/ (or $GEOSURVEY_CATALOGS)."""
    import os

    from geosurvey.catalogs import catalog_dir, get_source, list_sources
    from geosurvey.errors import GeosurveyError, MissingInputError

    folder = catalog_dir()
    origin = " (from $GEOSURVEY_CATALOGS)" if "GEOSURVEY_CATALOGS" in os.environ else ""
    if "GEOSURVEY_CATALOGS" in os.environ and not os.environ["GEOSURVEY_CATALOGS"].strip():
        raise InputError("$GEOSURVEY_CATALOGS is set but empty; unset it or set it to a folder of *.toml definitions")
    if not folder.is_dir():
        raise MissingInputError(f"catalogue definition folder {folder}{origin} does not exist; create it or "
                                "point $GEOSURVEY_CATALOGS at a folder of *.toml definitions")
    names = list_sources()
    if not names:
        typer.echo(f"no catalogue definitions (*.toml) in {folder}{origin}", err=True)
        return
    bad = 0
    for name in names:
        try:
            source = get_source(name)
        except GeosurveyError as exc:
            bad += 1
            typer.echo(f"{name:<20} INVALID: {printable(exc)}")
            continue
        typer.echo(f"{name:<20} {source.kind:<9} {printable(_location(source.href))}  "
                   f"({', '.join(map(printable, source.collections))})")
    if bad:
        raise InputError(f"{bad} of {len(names)} definitions in {folder} are invalid (see above); fix them")


@app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="A definition name, e.g. earth-search.")],
) -> None:
    """Show one definition: collections, band maps, masks, attribution."""
    from geosurvey.catalogs import get_source

    source = get_source(name)
    typer.echo(f"{source.name}: {source.title} [{source.kind}] {source.href}")
    typer.echo(f"attribution: {source.attribution}")
    for cid, spec in source.collections.items():
        bands = ", ".join(f"{k}→{v}" for k, v in spec.bands.items())
        typer.echo(f"  {cid}: {bands}")
        if spec.mask is not None:
            typer.echo(f"    mask: {spec.mask.band} {spec.mask.kind} {list(spec.mask.exclude)}")


@app.command("search")
def search_command(
    source: Annotated[str, typer.Argument(help="Definition name, STAC API URL or path of catalog.json.")],
    area: Annotated[str | None, typer.Option(help="Survey area id (from --registry) to search within.")] = None,
    registry: Annotated[Path, typer.Option("--registry", "-r", envvar="GEOSURVEY_AOI", help="Survey-area registry folder (parties.toml + <id>.geojson).")] = Path("aoi"),
    bbox: Annotated[str | None, typer.Option(help="W,S,E,N in degrees (EPSG:4326).")] = None,
    collection: Annotated[list[str] | None, typer.Option("--collection", "-c", help="Collection id (repeatable).")] = None,
    when: Annotated[str | None, typer.Option("--datetime", help="e.g. 2023-06-01/2023-08-31.")] = None,
    cloud_cover: Annotated[float | None, typer.Option(help="Maximum cloud cover, percent.")] = None,
    cql2: Annotated[str | None, typer.Option("--filter", help="CQL2 text filter.")] = None,
    max_items: Annotated[int | None, typer.Option(help="Stop after this many items.")] = None,
    out: Annotated[Path | None, typer.Option(help="Save the results as an ItemCollection (JSON).")] = None,
    geoparquet: Annotated[Path | None, typer.Option(help="Also save them as GeoParquet.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace --out / --geoparquet files that exist.")] = False,
) -> None:
    """Search a catalogue; print one line per item and optionally save the results."""
    from geosurvey.catalogs import save_items, search
    from geosurvey.errors import OutputError

    if geoparquet is not None and out is None:
        raise InputError("--geoparquet needs --out for the ItemCollection JSON as well")
    for target in (out, geoparquet):
        if target is not None and target.is_dir():
            raise OutputError(f"output {target} is a folder; give a file name")
        if target is not None and not target.absolute().parent.is_dir():
            raise OutputError(f"cannot write {target}: folder {target.absolute().parent} does not exist; create it first")
        if target is not None and target.exists() and not overwrite:
            raise OutputError(f"output {target} exists; remove it, choose another name or pass --overwrite")
        if target is not None and Path(str(source)).exists() and target.resolve() == Path(str(source)).resolve():
            raise InputError(f"output {target} would replace the catalogue searched; choose another name")
    if out is not None and geoparquet is not None and out.resolve() == geoparquet.resolve():
        raise InputError("--out and --geoparquet name the same file; give two names")
    items = search(
        source, area=area, registry=registry, bbox=_bbox(bbox), collections=collection or None,
        datetime=when, cloud_cover=cloud_cover, filter=cql2, max_items=max_items,
    )
    for item in items:
        typer.echo(f"{printable(item.collection_id or '-')}  {printable(item.id)}  "
                   f"{item.datetime.isoformat() if item.datetime else ''}")
    typer.echo(f"{len(items)} items", err=True)
    if out is not None:
        save_items(items, out, geoparquet=geoparquet)
        typer.echo(f"saved {out}" + (f" and {geoparquet}" if geoparquet else ""), err=True)


@app.command("ingest")
def ingest_command(
    folder: Annotated[Path, typer.Argument(help="Folder of GeoTIFF/NetCDF grids.")],
    out: Annotated[Path, typer.Argument(help="Catalogue folder to create.")],
    collection: Annotated[str, typer.Option(help="Collection id of the items.")],
    when: Annotated[str, typer.Option("--datetime", help="Survey date, ISO 8601 (UTC if no zone).")],
    definition: Annotated[str | None, typer.Option(help="Definition whose [ingest.bands] names the files.")] = None,
    license: Annotated[str, typer.Option(help="SPDX licence id, e.g. CC-BY-4.0.")] = "other",
    attribution: Annotated[str | None, typer.Option(
        help="Who the data come from, on what terms (default: the --definition's attribution).")] = None,
    compress: Annotated[str, typer.Option(help="COG compression: deflate or zstd.")] = "deflate",
    one_item: Annotated[bool, typer.Option(help="One item for all grids (else one per grid).")] = True,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
) -> None:
    """Turn a folder of grids into COGs + STAC items + a static catalogue (validated)."""
    from geosurvey.catalogs import get_source, ingest

    if compress not in ("deflate", "zstd"):
        raise InputError(f"--compress must be deflate or zstd, not {compress!r}")
    source = get_source(definition) if definition else None
    bands = dict(source.ingest_bands) if source is not None else None
    if attribution is None:
        attribution = source.attribution if source is not None else ""
    path = ingest(
        folder, out, collection=collection, datetime=_when(when), bands=bands, license=license,
        attribution=attribution,
        compress=compress, one_item=one_item, overwrite=overwrite,  # type: ignore[arg-type]
    )
    typer.echo(str(path))


@app.command("validate")
def validate_command(
    path: Annotated[Path, typer.Argument(help="A STAC catalogue, collection or item JSON.")],
) -> None:
    """Validate STAC JSON files as written, offline (core 1.1.0 + proj, raster, eo)."""
    from geosurvey.catalogs import validate_stac_file

    ids = validate_stac_file(path)
    typer.echo(f"valid: {len(ids)} STAC objects")


@app.command("publish")
def publish_command(
    catalog: Annotated[Path, typer.Argument(help="catalog.json (or its folder) to publish.")],
    api: Annotated[str, typer.Option(help="STAC API root URL with the Transactions extension.")],
    upsert: Annotated[bool, typer.Option(help="Replace collections and items that exist.")] = True,
) -> None:
    """Push a catalogue's collections and items to a STAC API."""
    from geosurvey.catalogs import publish

    counts = publish(catalog, api, upsert=upsert)
    typer.echo(f"published {counts['collections']} collections, {counts['items']} items to {api}")
