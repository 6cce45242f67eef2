"""``geosurvey demo``: the whole job on the embedded demo area (filled in by the demo work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""
