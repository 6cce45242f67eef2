"""`geosurvey aoi ...` commands."""

from __future__ import annotations

import typer

app = typer.Typer(help="aoi commands.", no_args_is_help=True)
