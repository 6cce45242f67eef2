"""``geosurvey publish [RUN_DIR ...] [--registry DIR] --out SITE``: the static survey portal.

Calls :func:`geosurvey.publish.publish_site`: an index of every survey area of the registry
(overview map by status, table of status, commodities, parties and links), one page and web map
per published run, downloads and evaluation plots, in English and Japanese; only what changed is
rebuilt. With ``--stac-api`` each run's output catalogue is pushed to a STAC API (Transactions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register"]


def publish_command(
    runs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Output folders of runs (geosurvey run / demo) to publish.", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="The site's folder (created or updated).")
    ] = Path("site"),
    registry: Annotated[
        Path | None,
        typer.Option(
            "--registry",
            "-r",
            help="Survey-area registry folder: every area is listed, published or not.",
            envvar="GEOSURVEY_AOI",
        ),
    ] = None,
    stac_api: Annotated[
        str | None,
        typer.Option(help="A STAC API URL (with Transactions) to push each run's outputs to."),
    ] = None,
) -> None:
    """Build or update the static survey portal (English and Japanese) from runs and a registry."""
    from geosurvey.publish import publish_site

    result = publish_site(
        runs or [], out=out, registry=registry, stac_api=stac_api, echo=typer.echo
    )
    typer.echo(
        f"site {result.index}: {len(result.built)} run(s) built, {len(result.skipped)} unchanged, "
        f"{len(result.removed)} removed"
    )


def register(app: typer.Typer) -> None:
    """Add the ``publish`` command to ``app``."""
    app.command("publish")(publish_command)
