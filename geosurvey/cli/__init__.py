"""The ``geosurvey`` command line: a thin layer over the public functions.

Every command parses its arguments, calls one public function, prints, and returns an exit code:
0 on success, 1 when geosurvey refused the input (the reason is printed as one line on stderr),
2 for a usage error, 130 on Ctrl-C (SIGINT) and 143 on SIGTERM: an interrupted command removes its
partial outputs (every writer is all-or-nothing) and prints ``geosurvey: interrupted``.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from geosurvey import __version__
from geosurvey.errors import GeosurveyError
from geosurvey.text import printable

__all__ = ["GeosurveyCommand", "GeosurveyGroup", "app", "main"]


class GeosurveyGroup(TyperGroup):
    """A command group whose list of commands shows each one's whole first sentence (wrapped),
    never cut off with "..." (click cuts it to fit one line)."""

    def format_commands(self, ctx: typer.Context, formatter: Any) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class GeosurveyCommand(TyperCommand):
    """A command whose usage line names its arguments the usual way: ``FEATURES LIKE OUT``, with
    optional ones in brackets (typer 0.29 writes ``{features} {like} {out}``)."""

    def collect_usage_pieces(self, ctx: typer.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = (param.metavar or param.name or "").upper()
                name = name if param.required else f"[{name}]"
                pieces.append(name + ("..." if param.nargs != 1 else ""))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces


app = typer.Typer(
    name="geosurvey",
    cls=GeosurveyGroup,
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
    "recipe": "geosurvey.cli.recipe",
}
_COMMANDS = ("geosurvey.cli.demo", "geosurvey.cli.run", "geosurvey.cli.batch", "geosurvey.cli.map", "geosurvey.cli.publish")

for _name, _module in _GROUPS.items():
    app.add_typer(importlib.import_module(_module).app, name=_name)
for _module in _COMMANDS:
    importlib.import_module(_module).register(app)


def _use_geosurvey_classes(typer_app: typer.Typer) -> None:
    """Give every group and command of ``typer_app`` (and its sub-groups) the classes above, unless
    one asked for its own (typer's documented ``cls`` hook)."""

    def default(cls: object, base: type) -> bool:  # unset: None, typer's placeholder or base
        return getattr(cls, "value", cls) in (None, base)

    if default(typer_app.info.cls, TyperGroup):
        typer_app.info.cls = GeosurveyGroup
    for info in typer_app.registered_commands:
        if default(info.cls, TyperCommand):
            info.cls = GeosurveyCommand
    for group in typer_app.registered_groups:
        if default(group.cls, TyperGroup):
            group.cls = GeosurveyGroup
        if group.typer_instance is not None:
            _use_geosurvey_classes(group.typer_instance)


_use_geosurvey_classes(app)


class _Interrupted(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM (as Ctrl-C raises KeyboardInterrupt), so that the
    all-or-nothing writers (``output_folder``, ``atomic_path``) remove their partial outputs."""


_REDELIVER_S = 0.01
"""Delay (s) before a signal whose exception was lost in a callback from C is sent again."""


@contextlib.contextmanager
def _interrupts() -> Iterator[list[int]]:
    """Turn SIGINT and SIGTERM into exceptions while a command runs; yield the signals received.

    Python runs a signal's handler between bytecodes of the main thread, which may be inside a
    callback from C (llvmlite calls one as numba compiles, for one): ctypes reports an exception
    raised there as "Exception ignored" (through :data:`sys.unraisablehook`) and the C code goes
    on, so the command would finish and commit its output though interrupted. Such a lost
    interrupt is sent again to the main thread shortly after, once it is likely back in Python,
    until it is raised where it propagates.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():  # signals need the main thread
        yield received
        return
    main_thread = threading.main_thread().ident
    timers: list[threading.Timer] = []
    previous_hook = sys.unraisablehook

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        raise _Interrupted(signal.Signals(signum).name)

    def unraisable(info: Any) -> None:
        if not isinstance(info.exc_value, _Interrupted):
            previous_hook(info)
            return
        timer = threading.Timer(_REDELIVER_S, signal.pthread_kill, (main_thread, received[-1]))
        timer.daemon = True
        timers.append(timer)
        timer.start()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    sys.unraisablehook = unraisable
    try:
        yield received
    finally:
        for timer in timers:
            timer.cancel()
        sys.unraisablehook = previous_hook
        for sig, old in previous.items():
            signal.signal(sig, old)


def _bad_parameter(exc: typer.BadParameter) -> str:
    """One line for a bad option value: ``--lang: 'fr' is not one of 'en', 'ja'; see ...``."""
    param, ctx = exc.param, exc.ctx
    see = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
    if not exc.message:  # a missing option or argument (click's MissingParameter)
        return f"geosurvey: error: {printable(exc.format_message()).rstrip('.')}{see}"
    where = ""
    if param is not None:
        opts = list(getattr(param, "opts", None) or [])
        long = [o for o in opts if o.startswith("--")]
        if isinstance(param, TyperArgument):
            long = [str(param.metavar or param.name).upper()]
        where = (long or opts or [str(param.name)])[0] + ": "
    message = exc.message.removeprefix("Value error, ").rstrip(".")
    return f"geosurvey: error: {where}{printable(message)}{see}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code instead of raising ``SystemExit``."""
    with _interrupts() as received:
        try:
            code = _run(argv)
        except KeyboardInterrupt:  # a signal between _run's handlers and the end of the block
            code = 130
        if received:
            typer.echo("geosurvey: interrupted", err=True)
            return 128 + received[0]
    return code


def _run(argv: list[str] | None) -> int:
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
    except typer.BadParameter as exc:  # a bad option value: one line, with the option's name
        typer.echo(_bad_parameter(exc), err=True)
        return 2
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
