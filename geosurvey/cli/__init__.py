"""The ``geosurvey`` command line: a thin layer over the public functions.

Every command parses its arguments, calls one public function, prints, and returns an exit code:
0 on success, 1 when geosurvey refused the input (the reason is printed as one line on stderr),
2 for a usage error.
"""

from __future__ import annotations

import importlib
import sys

import typer

from geosurvey import __version__
from geosurvey.errors import GeosurveyError
from geosurvey.text import printable

__all__ = ["app", "main"]

app = typer.Typer(
    name="geosurvey",
    rich_markup_mode=None,
    help="Joint geological surveys of critical minerals and rare earths.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"geosurvey {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version_callback,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Joint geological surveys of critical minerals and rare earths."""


@app.command("show-versions")
def show_versions() -> None:
    """Print the versions of geosurvey and its libraries (paste them into bug reports)."""
    from geosurvey.provenance import versions

    for name, version in versions().items():
        typer.echo(f"{name:>14}: {version}")


# Sub-command groups and single commands live in modules of their own; each defines `app`
# (a group, added under its name) or `register(app)` (top-level commands).
_GROUPS = {
    "aoi": "geosurvey.cli.aoi",
    "catalog": "geosurvey.cli.catalog",
    "evidence": "geosurvey.cli.evidence",
}
_COMMANDS = ("geosurvey.cli.demo",)

for _name, _module in _GROUPS.items():
    app.add_typer(importlib.import_module(_module).app, name=_name)
for _module in _COMMANDS:
    importlib.import_module(_module).register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code instead of raising ``SystemExit``."""
    try:
        result = app(args=argv, prog_name="geosurvey", standalone_mode=False)
    except GeosurveyError as exc:
        # One line, and no terminal escapes from user text quoted in the message.
        typer.echo(f"geosurvey: error: {printable(exc)}", err=True)
        return 1
    except KeyboardInterrupt:
        typer.echo("geosurvey: interrupted", err=True)
        return 130
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("geosurvey: aborted", err=True)
        return 1
    except typer.TyperException as exc:  # usage errors: bad option values, missing arguments
        show = getattr(exc, "show", None)
        if show is not None:
            show(file=sys.stderr)
        else:  # pragma: no cover
            typer.echo(f"geosurvey: error: {exc}", err=True)
        return int(getattr(exc, "exit_code", 2))
    except SystemExit as exc:
        return int(exc.code or 0)
    return int(result) if isinstance(result, int) else 0
