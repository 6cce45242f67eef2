"""``geosurvey demo``: the whole job on the embedded demo survey."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer


def demo(
    out: Annotated[Path, typer.Option(help="Output folder to create (must not exist).")] = Path(
        "geosurvey-demo"
    ),
    lang: Annotated[
        Literal["en", "ja"], typer.Option(help="Language of the web map and summary.")
    ] = "en",
    seed: Annotated[int, typer.Option(help="Seed of the demo data generator.")] = 0,
    resolution: Annotated[
        float | None,
        typer.Option(help="Grid pixel size, metres (default 100, or the system's own).", min=10.0),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing output folder.")] = False,
    scheduler: Annotated[
        str,
        typer.Option(
            help="Where Dask runs: 'threads', 'local' (a LocalCluster) or a scheduler address (tcp://HOST:PORT)."
        ),
    ] = "threads",
    system: Annotated[
        str | None,
        typer.Option(
            help="A mineral system to generate instead of the IOCG demo, run with its shipped "
            "recipe (e.g. carbonatite-ree; see geosurvey recipe list)."
        ),
    ] = None,
) -> None:
    """Run the whole job on generated demo data, offline.

    Generates a demo survey area (magnetics, radiometrics, a multispectral scene, faults and known
    occurrences), agrees it in a registry, writes a static STAC catalogue, loads it onto the area's
    grid with Dask, computes evidence layers, scores them with fuzzy logic, evaluates the score and
    publishes a web map (OUT/index.html), the score as a COG and an output STAC catalogue.
    """
    from geosurvey.demo import run_demo

    run_demo(
        out,
        lang=lang,
        seed=seed,
        resolution=resolution,
        overwrite=overwrite,
        scheduler=scheduler,
        system=system,
        echo=typer.echo,
    )


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""
    app.command("demo")(demo)
