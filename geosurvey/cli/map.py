"""``geosurvey map RASTER.tif [RASTER.tif ...] --out PAGE.html``: an offline web map of any grids.

The first raster is the main layer (a prospectivity score when its file is ``score.tif`` or its
tags say so, else named by its ``long_name`` tag or file name); the others are overlays
(``uncertainty.tif`` as the uncertainty layer). Vector files and a survey-area registry can be
added. Calls :func:`geosurvey.publish.web_map` and :func:`geosurvey.publish.save_web_map`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from geosurvey.errors import InputError, MissingInputError, OutputError

__all__ = ["register"]

_SPECIAL_VECTORS = ("area", "faults", "occurrences", "targets")


def _read_raster(path: Path):
    import rasterio

    from geosurvey.io import read_raster

    if not path.is_file():
        raise MissingInputError(f"raster {path} does not exist; check the path")
    try:
        return read_raster(path, chunks=1024)
    except (rasterio.errors.RasterioError, OSError, ValueError) as exc:
        raise InputError(f"cannot read raster {path} ({exc}); give a GeoTIFF or COG") from exc


def _read_vectors(specs: list[str]) -> dict[str, object]:
    import geopandas as gpd

    out: dict[str, object] = {}
    for spec in specs:
        name, sep, file = spec.partition("=")
        name = name.strip()
        if not sep or not name or not file:
            raise InputError(
                f"vector layer {spec!r} must be NAME=FILE (e.g. faults=faults.shp); NAME "
                f"{', '.join(_SPECIAL_VECTORS)} get their own styles, any other is a plain layer"
            )
        if name in out:
            raise InputError(f"vector layer name {name!r} is given twice; use distinct names")
        path = Path(file)
        if not path.exists():
            raise MissingInputError(f"vector file {path} (layer {name!r}) does not exist")
        try:
            out[name] = gpd.read_file(path)
        except Exception as exc:  # pyogrio raises its own DataSourceError and friends
            raise InputError(f"cannot read vector file {path} (layer {name!r}): {exc}") from exc
    return out


def map_command(
    rasters: Annotated[
        list[Path],
        typer.Argument(
            help="GeoTIFF/COG files: the first is the main layer, the others overlays.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The page to write (.html); tiles go beside it.")
    ],
    registry: Annotated[
        Path | None,
        typer.Option(
            "--registry",
            "-r",
            help="Survey-area registry folder to show (parties.toml + <id>.geojson).",
            envvar="GEOSURVEY_AOI",
        ),
    ] = None,
    vectors: Annotated[
        list[str] | None,
        typer.Option(
            "--vectors",
            help="A vector layer NAME=FILE (repeatable); NAME faults, occurrences, targets or area "
            "get their own styles.",
        ),
    ] = None,
    lang: Annotated[
        Literal["en", "ja"], typer.Option(help="Language of every label, legend and popup.")
    ] = "en",
    title: Annotated[str | None, typer.Option(help="The map's title.")] = None,
    attribution: Annotated[
        str | None, typer.Option(help="Credits for the data, shown on the map.")
    ] = None,
    basemap: Annotated[
        list[str] | None,
        typer.Option(
            help="An online base map to offer (repeatable): osm, gsi, usgs or esri-imagery. "
            "None by default: the page then needs no network."
        ),
    ] = None,
    tiles: Annotated[
        Literal["auto", "embed", "tiles"],
        typer.Option(help="Embed rasters in the page, write them as tiles, or decide by size."),
    ] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace PAGE.html if it exists.")] = False,
) -> None:
    """Write an offline web map (English or Japanese) of GeoTIFF/COG grids and vector layers."""
    from geosurvey import publish

    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputError(f"{out} already exists; remove it or pass --overwrite")
    resolved = {p.resolve() for p in rasters}
    if out.resolve() in resolved:
        raise OutputError(f"{out} is one of the input rasters; choose another page name")
    grids = [(p, _read_raster(p)) for p in rasters]
    main_path, main = grids[0]
    is_score = main_path.stem == "score" or "score" in str(main.attrs.get("long_name", "")).lower()
    score_title = None if is_score else str(main.attrs.get("long_name") or main_path.stem)
    layers = {}
    uncertainty = None
    for path, da in grids[1:]:
        if path.stem == "uncertainty" and uncertainty is None:
            uncertainty = da
        elif path.stem in layers:
            raise InputError(f"two rasters are named {path.stem!r}; rename one of them")
        else:
            layers[path.stem] = da
    named = _read_vectors(vectors or [])
    special = {k: named.pop(k) for k in _SPECIAL_VECTORS if k in named}
    survey_areas = None
    if registry is not None:
        from geosurvey.aoi import Registry

        survey_areas = Registry(registry).to_geodataframe()
        if len(survey_areas) == 0:
            survey_areas = None
    m = publish.web_map(
        main,
        lang=lang,
        title=title,
        layers=layers,
        uncertainty=uncertainty,
        survey_areas=survey_areas,
        vectors=named,
        attribution=attribution,
        basemaps=tuple(basemap or ()),  # type: ignore[arg-type]  (checked by web_map)
        raster_mode=tiles,
        score_title=score_title,
        area=special.get("area"),
        faults=special.get("faults"),  # type: ignore[arg-type]
        occurrences=special.get("occurrences"),  # type: ignore[arg-type]
        targets=special.get("targets"),  # type: ignore[arg-type]
    )
    publish.save_web_map(m, out)
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add the ``map`` command to ``app``."""
    app.command("map")(map_command)
