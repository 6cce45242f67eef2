"""``geosurvey demo``: the whole job on the embedded demo survey."""

from __future__ import annotations

from pathlib import Path

import click
import typer


def demo(
    out: Path = typer.Option(Path("geosurvey-demo"), "--out", help="Output folder to create (must not exist)."),
    lang: str = typer.Option(
        "en", "--lang", click_type=click.Choice(["en", "ja"]), help="Language of the web map and summary."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the demo data generator."),
    resolution: float = typer.Option(100.0, "--resolution", help="Grid pixel size, metres.", min=10.0),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
) -> None:
    """Run the whole job on generated demo data, offline.

    Generates a demo survey area (magnetics, radiometrics, a multispectral scene, faults and known
    occurrences), agrees it in a registry, writes a static STAC catalogue, loads it onto the area's
    grid with Dask, computes evidence layers, scores them with fuzzy logic, evaluates the score and
    publishes a web map (OUT/index.html), the score as a COG and an output STAC catalogue.
    """
    from geosurvey.demo import run_demo

    run_demo(out, lang=lang, seed=seed, resolution=resolution, overwrite=overwrite, echo=typer.echo)  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""
    app.command("demo")(demo)
