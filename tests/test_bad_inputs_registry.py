"""Hostile and broken input to the survey-area registry and its command line (issue 9, items 4–6).

Every refusal is one line on stderr that names the file, item or argument and the fix, exit 1, and
leaves the registry (and any output) exactly as it was: each case is checked against a snapshot of
every file's bytes taken before the command ran.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import tomllib
from pathlib import Path

import pytest
import tomli_w

from geosurvey.aoi import (
    Act,
    Party,
    Registry,
    canonical_json,
    check_id,
    generate_keypair,
    load_private_key,
    public_key_b64,
)
from geosurvey.cli import main
from geosurvey.errors import InputError, RegistryError

ESC, RLO = "\x1b", "\u202e"
TODAY = dt.datetime.now(dt.UTC).date()


def cli(capsys, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (names included, hidden ones too) with its SHA-256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".registry.lock"
    }


def one_line_refusal(code: int, err: str, *needles: str) -> None:
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("geosurvey: error: "), err
    assert ESC not in err and RLO not in err  # never echoed raw to the terminal
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.fixture()
def keys(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for code in ("JP", "US"):
        pem, _ = generate_keypair()
        path = tmp_path / "keys" / f"{code}.pem"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(pem)
        out[code] = path
    return out


def _pub(path: Path) -> str:
    return public_key_b64(load_private_key(path))


@pytest.fixture()
def registry(tmp_path: Path, keys: dict[str, Path]) -> Path:
    reg = Registry.init(
        tmp_path / "aoi",
        parties=[
            {"code": "JP", "name_en": "Japan", "name_ja": "日本", "public_keys": [_pub(keys["JP"])]},
            {"code": "US", "name_en": "United States", "name_ja": "米国", "public_keys": [_pub(keys["US"])]},
        ],
    )  # fmt: skip
    reg.propose((-115.6, 35.4, -115.4, 35.6), id="mp", name_en="Mountain Pass", name_ja="マウンテンパス",
                region="US", commodities="REE", proposer="US", date="2026-03-01")  # fmt: skip
    return tmp_path / "aoi"


PROPOSE = ["--name-ja", "名前", "--region", "US", "-c", "REE", "--proposer", "US", "--bbox=-110,30,-109,31"]  # fmt: skip
FUTURE = (TODAY + dt.timedelta(days=3)).isoformat()

# Item 4: ids and text checked before anything is signed or written.
# case: (arguments after `geosurvey aoi`, substrings of the one-line error)
TEXT_CASES = {
    "withdraw reason with ESC": (["withdraw", "mp", "-p", "US", "-k", "{US}", "--reason", f"no{ESC}[31m"],
                                 ["withdraw 'mp' reason", "U+001B (ESCAPE)"]),
    "withdraw reason with U+202E": (["withdraw", "mp", "-p", "US", "-k", "{US}", "--reason", f"ok{RLO}kcab"],
                                    ["reason", "U+202E (RIGHT-TO-LEFT OVERRIDE)"]),
    "withdraw reason of two lines": (["withdraw", "mp", "-p", "US", "-k", "{US}", "--reason", "one\ntwo"],
                                     ["reason", "U+000A (LINE FEED)", "one line"]),
    "name with ESC": (["propose", "--id", "x", "--name-en", f"a{ESC}[2Jb", *PROPOSE], ["name_en", "U+001B"]),
    "name with a newline": (["propose", "--id", "x", "--name-en", "a\nb", *PROPOSE], ["name_en", "U+000A"]),
    "notes with U+202E": (["propose", "--id", "x", "--name-en", "X", "--notes", f"n{RLO}", *PROPOSE],
                          ["notes", "U+202E"]),
    "amended name with U+202E": (["amend", "mp", "-p", "JP", "--name-ja", f"名{RLO}前"], ["name_ja", "U+202E"]),
    "id with a trailing newline": (["propose", "--id", "abc\n", "--name-en", "X", *PROPOSE],
                                   ["'abc\\n' is not a valid area id"]),
    "party code with a trailing newline": (["propose", "--id", "x", "--name-en", "X", *PROPOSE[:-3],
                                            "--proposer", "US\n", PROPOSE[-1]], ["'US\\n'"]),
    "approval dated before the version existed": (["approve", "mp", "-p", "JP", "-k", "{JP}", "--date", "2026-02-01"],
                                                  ["approve 'mp' date: 2026-02-01 is before the version it signs was recorded (2026-03-01)"]),
    "approval dated in the future": (["approve", "mp", "-p", "JP", "-k", "{JP}", "--date", FUTURE],
                                     [f"approve 'mp' date: {FUTURE} is in the future"]),
    "proposal dated in the future": (["propose", "--id", "x", "--name-en", "X", *PROPOSE, "--date", FUTURE],
                                     ["propose 'x' date", "in the future"]),
    "amendment dated before the last change": (["amend", "mp", "-p", "JP", "--notes", "n", "--date", "2026-01-01"],
                                               ["amend 'mp' date: 2026-01-01 is before the area's last recorded change (2026-03-01)"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(TEXT_CASES))
def test_bad_text_ids_and_dates_are_refused_before_anything_is_written(
    capsys, tmp_path: Path, registry: Path, keys, case: str
) -> None:
    args, needles = TEXT_CASES[case]
    args = [a.format(**{k: str(v) for k, v in keys.items()}) for a in args]
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "aoi", *args, "-r", registry)
    one_line_refusal(code, err, *needles)
    assert snapshot(tmp_path) == before
    assert Registry(registry).ids() == ["mp"]


def test_ids_and_party_codes_are_full_matches() -> None:
    for bad in ("abc\n", "abc\n\n", "\nabc", "a/b", "a.b"):
        with pytest.raises(RegistryError, match="not a valid area id"):
            check_id(bad)
    assert check_id("mountain-pass") == "mountain-pass"
    with pytest.raises(RegistryError, match="party codes"):
        Party(code="JP\n", name_en="Japan", name_ja="日本")


def _hand_edit(path: Path, **props: object) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    for key, value in props.items():
        if key == "summary":
            doc["properties"]["history"][-1]["summary"] = value
        else:
            doc["properties"][key] = value
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def test_a_registry_holding_control_characters_still_lists_and_reads(
    capsys, registry: Path
) -> None:
    """A hand edit (or an older version) left ESC and U+202E in a file: the registry stays readable,
    the terminal never gets the raw characters, and validate reports each one as an error."""
    _hand_edit(
        registry / "mp.geojson",
        name_en=f"Mountain{ESC}[2J Pass",
        notes=f"a{RLO}b",
        summary=f"proposed{ESC}]0;owned\a",
    )
    code, out, err = cli(capsys, "aoi", "list", "-r", registry)
    assert code == 0, err
    assert "Mountain\\x1b[2J Pass" in out and ESC not in out
    code, out, _ = cli(capsys, "aoi", "show", "mp", "-r", registry)
    assert code == 0 and "a\\u202eb" in out and RLO not in out and ESC not in out
    code, out, _ = cli(capsys, "aoi", "history", "mp", "-r", registry)
    assert code == 0 and "proposed\\x1b]0;owned\\x07" in out and ESC not in out
    report = Registry(registry).validate()
    problems = [e for e in report.errors if "control character" in e]
    assert len(problems) == 3, report.errors
    assert any("name_en contains the control character U+001B (ESCAPE)" in e for e in problems)
    assert any("notes contains the control character U+202E" in e for e in problems)
    assert all(str(registry / "mp.geojson") in e for e in problems)
    code, out, _ = cli(capsys, "aoi", "validate", "-r", registry)
    assert code == 1 and ESC not in out and RLO not in out
    # nothing new is written while the bad text stays; replacing it makes the area clean again
    before = snapshot(registry)
    code, _, err = cli(
        capsys, "aoi", "amend", "mp", "-p", "JP", "--priority", "high", "-r", registry
    )
    one_line_refusal(code, err, "name_en: contains the control character U+001B")
    assert snapshot(registry) == before
    code, _, err = cli(capsys, "aoi", "amend", "mp", "-p", "JP", "--name-en", "Mountain Pass",
                       "--notes", "ab", "-r", registry)  # fmt: skip
    assert code == 0, err
    problems = [e for e in Registry(registry).validate().errors if "control character" in e]
    assert problems == [f"{registry / 'mp.geojson'}: history[0] summary contains the control "
                        "character U+001B (ESCAPE); remove it from the file (history is not signed)"]  # fmt: skip


def _parties_toml(registry: Path, line: str) -> None:
    """Set one TOML ``key = value`` line in the first party's table (JP: parties are sorted)."""
    path = registry / "parties.toml"
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    doc["parties"][0].update(tomllib.loads(line))
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")


PARTIES_CASES = {
    'framework = "false"': ("framework", "expected true or false, got the text 'false'"),
    "framework = 0": ("framework", "expected true or false, got 0"),
    'demo_only = "no"': ("demo_only", "expected true or false, got the text 'no'"),
    "countries = 5": ("countries", "expected a list of text values, got 5"),
    "public_keys = 5": ("public_keys", "expected a list of text values, got 5"),
    "countries = [1, 2]": ("countries", "expected a list of text values"),
}


@pytest.mark.parametrize("line", list(PARTIES_CASES))
def test_parties_toml_values_are_type_checked(capsys, registry: Path, line: str) -> None:
    key, message = PARTIES_CASES[line]
    _parties_toml(registry, line)
    toml_path = registry / "parties.toml"
    with pytest.raises(RegistryError) as info:
        Registry(registry)
    text = str(info.value)
    assert str(toml_path) in text and "parties[0]" in text and "party 'JP'" in text
    assert f"{key}: {message}" in text
    before = snapshot(registry)
    code, _, err = cli(capsys, "aoi", "list", "-r", registry)
    one_line_refusal(code, err, str(toml_path), f"party 'JP' {key}")
    assert snapshot(registry) == before


def test_party_fields_are_type_checked_in_python_too() -> None:
    with pytest.raises(RegistryError, match="framework: expected true or false"):
        Party(code="JP", name_en="Japan", name_ja="日本", framework="false")  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match=r"parties\[1\]: expected a table"):
        Party.from_mapping(5, where="parties[1]")  # type: ignore[arg-type]
    assert Party(
        code="FI", name_en="Finland", name_ja="フィンランド", framework=False
    ).countries == ("FI",)


def test_validate_flags_acts_dated_before_their_version_or_in_the_future(
    registry: Path, keys
) -> None:
    """Acts written by hand (signed with the party's real key, so the signature verifies) with
    impossible dates: validate reports both as errors naming the file and the act."""
    reg = Registry(registry)
    area = reg.get("mp")
    path = registry / "mp.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    for party, date in (("JP", dt.date(2026, 2, 1)), ("US", TODAY + dt.timedelta(days=30))):
        key = load_private_key(keys[party])
        unsigned = Act("approve", party, date, area.digest, public_key_b64(key), "")
        signature = base64.b64encode(key.sign(canonical_json(unsigned.statement("mp")))).decode()
        doc["properties"]["acts"].append({**unsigned.to_mapping(), "signature": signature})
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    report = reg.validate()
    assert all(c.state == "valid" for c in reg.get("mp").checks)  # the signatures do verify
    assert any(
        "acts[0] (approve by JP on 2026-02-01): dated before the version it signs was recorded (2026-03-01)"
        in e
        for e in report.errors
    ), report.errors
    assert any("acts[1] (approve by US" in e and "dated in the future" in e for e in report.errors)


def test_withdraw_with_a_clean_reason_still_works(capsys, registry: Path, keys) -> None:
    code, out, err = cli(capsys, "aoi", "withdraw", "mp", "-p", "US", "-k", keys["US"], "--reason", "budget", "-r", registry)  # fmt: skip
    assert code == 0, err
    assert Registry(registry).history("mp")[-1].summary == "withdrawn: budget"
    assert "withdrawn" in out


def test_input_error_text_is_not_echoed_raw(capsys, registry: Path) -> None:
    """An error that quotes user input keeps to one line with the input escaped."""
    code, _, err = cli(capsys, "aoi", "show", f"x{ESC}[2J", "-r", registry)
    one_line_refusal(code, err, "not a valid area id")
    assert os.path.exists(registry / "mp.geojson")
    with pytest.raises(InputError):
        Registry(registry).withdraw("mp", party="US", private_key=b"", reason=f"{RLO}")


# Item 5: geometry says what it does.
BBOX_CASES = {
    "190° wide, W < E (was stored as its 170° complement)": (
        "-100,10,90,20", ["--bbox: -100,10,90,20 is 190° of longitude wide", "give 90,10,-100,20"]),
    "west and east swapped": ("20,10,10,20", ["did you swap west and east?", "10,10,20,20"]),
    "crossing 180° and wider than 180°": ("-10,0,-20,5", ["350° wide; did you swap west and east?"]),
}  # fmt: skip


@pytest.mark.parametrize("fix", [False, True], ids=["plain", "--fix"])
@pytest.mark.parametrize("case", list(BBOX_CASES))
def test_boxes_wider_than_180_degrees_are_refused_clearly(
    capsys, tmp_path: Path, registry: Path, case: str, fix: bool
) -> None:
    bbox, needles = BBOX_CASES[case]
    before = snapshot(tmp_path)
    extra = ["--fix"] if fix else []
    code, _, err = cli(capsys, "aoi", "propose", f"--bbox={bbox}", *extra, "--id", "wide", "--name-en", "W",
                       *PROPOSE[:-1], "-r", registry)  # fmt: skip
    one_line_refusal(code, err, *needles)
    assert "self-intersection" not in err
    code, _, err = cli(
        capsys, "aoi", "amend", "mp", "-p", "JP", f"--bbox={bbox}", *extra, "-r", registry
    )
    one_line_refusal(code, err, *needles)
    assert snapshot(tmp_path) == before


def test_a_box_across_180_degrees_is_stored_as_that_box(capsys, registry: Path) -> None:
    """170°E to 170°W is 20° wide: stored as two parts of 10° each, not as the 340° complement."""
    from pyproj import Geod

    code, _, err = cli(capsys, "aoi", "propose", "--bbox=170,10,-170,20", "--id", "across", "--name-en", "A",
                       *PROPOSE[:-1], "-r", registry)  # fmt: skip
    assert code == 0, err
    area = Registry(registry).get("across")
    assert area.bounds == (170.0, 10.0, -170.0, 20.0)
    # the area of a 20° x 10° lon/lat box on the ellipsoid, from pyproj's geodesics directly
    # (edges along parallels densified to 0.01°, as RFC 7946 edges are straight in lon/lat)
    lons = [170 + i * 0.01 for i in range(2001)]
    ring_lon = lons + lons[::-1]
    ring_lat = [10.0] * len(lons) + [20.0] * len(lons)
    expected = abs(Geod(ellps="WGS84").polygon_area_perimeter(ring_lon, ring_lat)[0]) / 1e6
    assert area.area_km2 == pytest.approx(expected, rel=1e-6)


# Item 6: no tracebacks on the registry side.
HUGE = "1" + "0" * 400  # a 400-digit coordinate


def _write_outline(path: Path, coordinates_text: str) -> Path:
    path.write_text('{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", '
                    f'"coordinates": {coordinates_text}}}}}', encoding="utf-8")  # fmt: skip
    return path


@pytest.fixture()
def outlines(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    deep = folder / "deep.geojson"
    deep.write_text('{"type": "Feature", "geometry": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return {
        "plain": _write_outline(folder / "plain.geojson", "[[[-110, 30], [-109, 30], [-109, 31], [-110, 30]]]"),
        "huge": _write_outline(folder / "huge.geojson", f"[[[-110, 30], [{HUGE}, 30], [-109, 31], [-110, 30]]]"),
        "deep": deep,
    }  # fmt: skip


OUTLINE_CASES = {
    "--crs EPSG:99999": (["{plain}", "--crs", "EPSG:99999"], ["plain.geojson: crs 'EPSG:99999' is not a CRS pyproj knows"]),
    "400-digit coordinate in a file": (["{huge}"], ["huge.geojson", "out of range"]),
    "400-digit coordinate in --bbox": ([f"--bbox={HUGE},30,-109,31"], ["--bbox: west = inf is out of range"]),
    "deeply nested JSON outline": (["{deep}"], ["cannot read", "deep.geojson"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(OUTLINE_CASES))
def test_bad_outlines_are_one_line(
    capsys, tmp_path: Path, registry: Path, outlines, case: str
) -> None:
    args, needles = OUTLINE_CASES[case]
    args = [a.format(**{k: str(v) for k, v in outlines.items()}) for a in args]
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "aoi", "propose", *args, "--id", "x", "--name-en", "X", *PROPOSE[:-1], "-r", registry)  # fmt: skip
    one_line_refusal(code, err, *needles)
    assert snapshot(tmp_path) == before


STORED_CASES = {
    "400-digit coordinate": lambda text: text.replace("-115.6000000", HUGE, 1),
    "deeply nested JSON": lambda text: (
        '{"type": "Feature", "a": ' + "[" * 100_000 + "]" * 100_000 + "}"
    ),
    "not UTF-8": lambda text: text.replace("マウンテンパス", "\udcff", 1),
    "a JSON array": lambda text: "[1, 2, 3]",
}


@pytest.mark.parametrize("case", list(STORED_CASES))
def test_a_broken_area_file_is_one_line_naming_it(capsys, registry: Path, case: str) -> None:
    path = registry / "mp.geojson"
    text = STORED_CASES[case](path.read_text(encoding="utf-8"))
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
    before = snapshot(registry)
    for command in (["list"], ["show", "mp"], ["history", "mp"]):
        code, _, err = cli(capsys, "aoi", *command, "-r", registry)
        one_line_refusal(code, err, str(path))
    code, out, err = cli(capsys, "aoi", "validate", "-r", registry)
    assert code == 1 and f"error: {path}" in out and "Traceback" not in err
    assert snapshot(registry) == before


def test_a_folder_named_like_an_area_file_is_not_an_area(capsys, registry: Path) -> None:
    (registry / "x.geojson").mkdir()
    code, out, err = cli(capsys, "aoi", "list", "-r", registry)
    assert code == 0 and "1 area(s)" in out, err
    code, _, err = cli(capsys, "aoi", "show", "x", "-r", registry)
    one_line_refusal(code, err, "no area 'x'", "(areas: mp)")
    report = Registry(registry).validate()
    assert report.ok and any("x.geojson: a folder" in w for w in report.warnings), report


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]], ids=["plain", "--overwrite"])
def test_exporting_onto_a_folder_is_refused(
    capsys, tmp_path: Path, registry: Path, overwrite
) -> None:
    target = tmp_path / "areas.gpkg"
    target.mkdir()
    (target / "keep.txt").write_text("mine", encoding="utf-8")
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "aoi", "export", target, *overwrite, "-r", registry)
    one_line_refusal(code, err, f"{target} is a folder; give the name of a file")
    assert snapshot(tmp_path) == before


@pytest.fixture()
def read_only(registry: Path):
    """The registry folder made read-only: chmod for a normal user; for root (who ignores
    permissions), the immutable attribute (chattr +i)."""
    if os.geteuid() != 0:
        registry.chmod(0o555)
        yield registry
        registry.chmod(0o755)
        return
    import shutil
    import subprocess

    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a folder read-only")
    lock = registry / ".registry.lock"
    lock.unlink(missing_ok=True)
    if subprocess.run(["chattr", "+i", str(registry)], capture_output=True, check=False).returncode:
        pytest.skip("running as root and chattr +i is not permitted here")
    try:
        yield registry
    finally:
        subprocess.run(["chattr", "-i", str(registry)], check=True)


def test_a_read_only_registry_is_refused_in_one_line_and_still_reads(
    capsys, tmp_path: Path, read_only: Path, keys
) -> None:
    before = snapshot(tmp_path)
    for args in (
        ["amend", "mp", "-p", "JP", "--notes", "n"],
        ["approve", "mp", "-p", "JP", "-k", keys["JP"]],
        ["propose", "--id", "x", "--name-en", "X", *PROPOSE],
        ["add-key", "-p", "JP", public_key_b64(load_private_key(generate_keypair()[0]))],
    ):
        code, _, err = cli(capsys, "aoi", *args, "-r", read_only)
        one_line_refusal(code, err, f"cannot change registry {read_only}", "not writable")
    assert snapshot(tmp_path) == before
    code, out, _ = cli(capsys, "aoi", "list", "-r", read_only)
    assert code == 0 and "1 area(s)" in out


def test_demo_out_onto_a_file_with_overwrite_is_refused(capsys, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text('{"mine": true}', encoding="utf-8")
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "demo", "--out", target, "--overwrite")
    one_line_refusal(code, err, f"output folder {target} is an existing file, not a folder")
    assert snapshot(tmp_path) == before


PARTIES_FILE_CASES = {
    "not UTF-8": (lambda path: path.write_bytes(path.read_bytes() + b"\xff\xfe"), "not valid TOML"),
    "nested too deeply": (lambda path: path.write_text("a = " + "[" * 50_000 + "]" * 50_000), "nested too deeply"),
    "a folder": (lambda path: (path.unlink(), path.mkdir()), "parties.toml does not exist"),
    "an array of numbers": (lambda path: path.write_text('schema = "geosurvey-parties/1"\nparties = [5]\n'), "parties[0]: expected a table"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(PARTIES_FILE_CASES))
def test_a_broken_parties_toml_is_one_line(capsys, registry: Path, case: str) -> None:
    breaker, needle = PARTIES_FILE_CASES[case]
    breaker(registry / "parties.toml")
    before = snapshot(registry)
    code, _, err = cli(capsys, "aoi", "list", "-r", registry)
    one_line_refusal(code, err, str(registry / "parties.toml"), needle)
    assert snapshot(registry) == before


def test_registry_keygen_and_party_paths_that_are_the_wrong_kind(
    capsys, tmp_path: Path, registry: Path
) -> None:
    code, _, err = cli(capsys, "aoi", "list", "-r", registry / "mp.geojson")
    one_line_refusal(code, err, "is a file, not a folder")
    folder = tmp_path / "keys-folder"
    folder.mkdir()
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "aoi", "keygen", "-p", "JP", "--out", folder, "--force")
    one_line_refusal(code, err, f"{folder} is a folder; give the key's file name")
    code, _, err = cli(capsys, "aoi", "keygen", "-p", "JP\n", "--out", tmp_path / "k.pem")
    one_line_refusal(code, err, "party 'JP\\n': party codes are")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["mp.geojson", "parties.toml", "areas.gpkg"])
def test_export_never_writes_into_the_registry(
    capsys, tmp_path: Path, registry: Path, name: str
) -> None:
    """An export onto an area file (or parties.toml) with --overwrite would replace an input."""
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "aoi", "export", registry / name, "--format", "geojson", "--overwrite", "-r", registry)  # fmt: skip
    one_line_refusal(
        code, err, f"is inside the registry folder {registry}", "write it outside the registry"
    )
    assert snapshot(tmp_path) == before


def test_a_key_that_is_a_folder_is_named_as_such(capsys, tmp_path: Path, registry: Path) -> None:
    before = snapshot(tmp_path)
    code, _, err = cli(capsys, "aoi", "approve", "mp", "-p", "JP", "-k", registry, "-r", registry)
    one_line_refusal(code, err, f"{registry} is a folder; give the party's private key file")
    assert snapshot(tmp_path) == before


def test_text_helpers_examples_run() -> None:
    import doctest

    import geosurvey.text

    result = doctest.testmod(geosurvey.text)
    assert result.attempted >= 3 and result.failed == 0
