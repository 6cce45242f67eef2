"""Help that helps (issue 9, item 10): every option and argument of every command has help text,
group help lists whole descriptions, usage lines name arguments plainly, and a bad option value is
one clear line.

The walk covers the whole typer app as it is built at test time, so commands that are added later
(``run``, ``batch``, new groups) are checked too.
"""

from __future__ import annotations

import re

import pytest
import typer
from typer.core import TyperArgument

from geosurvey.cli import app, main


def _walk(command, path: tuple[str, ...] = ("geosurvey",)):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))
LEAVES = [(" ".join(path), cmd) for path, cmd in COMMANDS if not hasattr(cmd, "commands")]
GROUPS = [path[1:] for path, cmd in COMMANDS if hasattr(cmd, "commands")]


def test_the_walk_sees_every_group_and_many_commands() -> None:
    names = {path for path, _ in LEAVES}
    assert {"geosurvey aoi amend", "geosurvey demo", "geosurvey catalog search"} <= names
    assert {("aoi",), ("catalog",), ("evidence",)} <= set(GROUPS)
    assert len(LEAVES) > 30


def test_every_option_and_argument_of_every_command_has_help() -> None:
    missing = []
    for path, command in LEAVES:
        for param in command.params:
            if param.name == "help":
                continue
            if not (getattr(param, "help", None) or "").strip():
                kind = "argument" if isinstance(param, TyperArgument) else "option"
                label = param.name if kind == "argument" else "/".join(param.opts)
                missing.append(f"{path}: {kind} {label}")
        if not (command.help or "").strip():
            missing.append(f"{path}: no description")
    assert not missing, "without help text:\n" + "\n".join(missing)


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: " ".join(g) or "geosurvey")
def test_group_help_never_cuts_descriptions_off(capsys, group: tuple[str, ...]) -> None:
    assert main([*group, "--help"]) == 0
    out = capsys.readouterr().out
    commands = out.split("Commands:", 1)[1]
    assert "..." not in commands, commands
    # each command's description is its docstring's whole first sentence
    command = typer.main.get_command(app)
    for name in group:
        command = command.commands[name]
    for name, sub in command.commands.items():
        first = sub.get_short_help_str(limit=10_000)
        shown = " ".join(commands.split(f"  {name}  ", 1)[1].split())
        assert shown.startswith(" ".join(first.split())), (name, first)


@pytest.mark.parametrize("path", [p for p, _ in LEAVES], ids=str)
def test_usage_lines_name_arguments_plainly(capsys, path: str) -> None:
    assert main([*path.split()[1:], "--help"]) == 0
    usage = capsys.readouterr().out.splitlines()[0]
    assert usage.startswith(f"Usage: {path}")
    assert not re.search(r"[{}]", usage), usage


BAD_VALUES = {
    "demo --lang fr": (["demo", "--lang", "fr"], "geosurvey: error: --lang: 'fr' is not one of 'en', 'ja'; see 'geosurvey demo --help'"),
    "aoi export --format xx": (["aoi", "export", "--format", "xx", "x.gpkg"], "geosurvey: error: --format: 'xx' is not one of"),
    "demo --resolution 1": (["demo", "--resolution", "1"], "geosurvey: error: --resolution: "),
    "aoi add-key without --party": (["aoi", "add-key", "KEY"], "geosurvey: error: Missing option '--party' / '-p'; see 'geosurvey aoi add-key --help'"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_a_bad_option_value_is_one_clear_line(capsys, tmp_path, case: str) -> None:
    args, expected = BAD_VALUES[case]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2 and not out
    assert len(err.strip().splitlines()) == 1 and err.startswith(expected), err
    assert "Value error" not in err and not list(tmp_path.iterdir())


def test_catalog_search_takes_the_registry_like_the_aoi_commands() -> None:
    command = typer.main.get_command(app).commands["catalog"].commands["search"]
    aoi = typer.main.get_command(app).commands["aoi"].commands["list"]
    (registry,) = [p for p in command.params if p.name == "registry"]
    (expected,) = [p for p in aoi.params if p.name == "registry"]
    assert set(registry.opts) == set(expected.opts) == {"--registry", "-r"}
    assert registry.envvar == expected.envvar == "GEOSURVEY_AOI"
