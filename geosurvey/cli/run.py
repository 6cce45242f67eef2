"""``geosurvey run``: the whole job for one agreed survey area (a thin layer over ``runner.run``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from geosurvey.errors import InputError


def parse_features(values: list[str] | None) -> dict[str, str]:
    """``NAME=FILE`` options as ``{NAME: FILE}`` (``geosurvey run`` and ``geosurvey batch``)."""
    out: dict[str, str] = {}
    for value in values or []:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--features {value!r}: give NAME=FILE, e.g. faults=faults.shp")
        if name in out:
            raise InputError(f"--features names {name!r} twice; give each feature set once")
        out[name] = path
    return out


def run(
    area: Annotated[
        str | None,
        typer.Argument(help="Id of the agreed survey area in the registry (not with --from-manifest)."),
    ] = None,
    recipe: Annotated[
        str | None,
        typer.Option(
            help="A shipped recipe's name (see geosurvey recipe list), a recipe TOML file, or "
            "'auto': every shipped recipe serving the area's deposit models that the sources can "
            "feed, each into OUT/<recipe>."
        ),
    ] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            help="Where the data come from: a catalogue definition name, a STAC API URL or a "
            "catalog.json path; repeat for several.",
        ),
    ] = None,
    occurrences: Annotated[
        Path | None,
        typer.Option(
            help="Known occurrences to evaluate against: any vector file OGR reads, or a CSV with "
            "longitude/latitude columns."
        ),
    ] = None,
    occurrence_filter: Annotated[
        str | None,
        typer.Option(help="Keep the occurrences matching this filter, e.g. \"DEP_TYPE == 'skarn'\"."),
    ] = None,
    features: Annotated[
        list[str] | None,
        typer.Option(
            "--features",
            help="Vector features a recipe builds layers from, as NAME=FILE (e.g. faults=faults.shp); "
            "repeat for several.",
        ),
    ] = None,
    registry: Annotated[
        Path,
        typer.Option("--registry", "-r", help="Registry folder of the survey areas.", envvar="GEOSURVEY_AOI"),
    ] = Path("aoi"),
    resolution: Annotated[
        float | None,
        typer.Option(help="Pixel size of the analysis grid, metres (default: the recipe's, else 100).", min=1.0),
    ] = None,
    datetime: Annotated[
        str | None, typer.Option(help="STAC datetime or interval of the search, e.g. 2017-07/2017-08.")
    ] = None,
    inclination: Annotated[
        float | None,
        typer.Option(help="Geomagnetic inclination, degrees (default: IGRF for the area and survey date)."),
    ] = None,
    declination: Annotated[
        float | None,
        typer.Option(help="Geomagnetic declination, degrees east (default: IGRF for the area and date)."),
    ] = None,
    survey_date: Annotated[
        str | None,
        typer.Option(help="Date of the magnetic survey for IGRF, e.g. 2010-06-01 (default: the items')."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder to create (must not exist).")] = None,
    lang: Annotated[
        Literal["en", "ja"], typer.Option(help="Language of the web map, report text and progress.")
    ] = "en",
    scheduler: Annotated[
        str,
        typer.Option(
            help="Where Dask runs: 'threads', 'local' (a LocalCluster) or a scheduler address "
            "(tcp://HOST:PORT)."
        ),
    ] = "threads",
    allow_unagreed: Annotated[
        bool,
        typer.Option(help="Run an area that is not agreed; every output is marked NOT AGREED."),
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
    from_manifest: Annotated[
        Path | None,
        typer.Option(help="Repeat the run recorded in this manifest.json, bit for bit, into --out."),
    ] = None,
) -> None:
    """Score prospectivity for one agreed survey area and publish the outputs.

    Searches the sources for the area, loads the recipe's bands onto the area's grid, builds the
    recipe's evidence layers, scores them, evaluates the score and every layer against the known
    occurrences, and writes OUT/score.tif, OUT/evidence/*.tif, OUT/report.json,
    OUT/manifest.json, the web map OUT/index.html and an output STAC catalogue.
    """
    from geosurvey.runner import run as run_area
    from geosurvey.runner import run_from_manifest

    if out is None:
        raise InputError("say where the outputs go: --out DIR")
    if from_manifest is not None:
        given = [name for name, value in (("AREA", area), ("--recipe", recipe), ("--source", source),
                                          ("--occurrences", occurrences), ("--features", features))
                 if value]
        if given:
            raise InputError(f"--from-manifest repeats the recorded run; drop {', '.join(given)}")
        run_from_manifest(from_manifest, out=out, overwrite=overwrite, scheduler=scheduler,
                          echo=typer.echo)
        return
    if area is None or recipe is None or not source:
        missing = [n for n, v in (("AREA", area), ("--recipe", recipe), ("--source", source)) if not v]
        raise InputError(f"geosurvey run needs {', '.join(missing)} (or --from-manifest)")
    run_area(
        area, recipe, sources=source, out=out, occurrences=occurrences,
        occurrence_filter=occurrence_filter, features=parse_features(features), registry=registry,
        resolution=resolution, datetime=datetime, inclination=inclination,
        declination=declination, survey_date=survey_date, lang=lang, scheduler=scheduler,
        allow_unagreed=allow_unagreed, overwrite=overwrite, echo=typer.echo,
    )


def register(app: typer.Typer) -> None:
    """Add the ``run`` command to ``app``."""
    app.command("run")(run)
