"""``geosurvey aoi ...`` on the command line: keys, the whole lifecycle, one-line refusals that
change nothing, validate's exit code, and concurrent approvals from real processes."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Polygon, box

from geosurvey.aoi import Registry, generate_keypair, load_private_key, public_key_b64
from geosurvey.cli import main

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ["keygen", "add-key", "propose", "approve", "amend", "withdraw", "close", "list", "show", "validate", "export", "history", "vocab"]  # fmt: skip


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["aoi", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != ".registry.lock"
    }


@pytest.fixture()
def keyfiles(tmp_path: Path) -> dict[str, Path]:
    """Private keys of JP, US and an outsider written the way `keygen` writes them."""
    out = {}
    for code in ("JP", "US", "XX"):
        pem, _ = generate_keypair()
        path = tmp_path / "keys" / f"{code}.pem"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(pem)
        out[code] = path
    return out


@pytest.fixture()
def registry(tmp_path: Path, keyfiles: dict[str, Path]) -> Path:
    def pub(code: str) -> list[str]:
        return [public_key_b64(load_private_key(keyfiles[code]))]

    Registry.init(
        tmp_path / "aoi",
        parties=[
            {"code": "JP", "name_en": "Japan", "name_ja": "日本", "agency": "GSJ", "public_keys": pub("JP")},
            {"code": "US", "name_en": "United States", "name_ja": "アメリカ合衆国", "agency": "USGS", "public_keys": pub("US")},
            {"code": "CA", "name_en": "Canada", "name_ja": "カナダ", "framework": False, "public_keys": []},
        ],
    )  # fmt: skip
    return tmp_path / "aoi"


PROPOSE = ["--name-en", "Mountain Pass", "--name-ja", "マウンテンパス", "--region", "US", "-c", "REE,Nd",
           "-m", "carbonatite-ree", "--method", "airborne-magnetics", "--start", "2026-01-01", "--end", "2026-12-31",
           "--proposer", "US"]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(capsys, command: str) -> None:
    code, out, _ = cli(capsys, command, "--help")
    assert code == 0 and "Usage:" in out and len(out.splitlines()) > 3


def test_keygen_writes_0600_outside_repositories(capsys, tmp_path: Path) -> None:
    out = tmp_path / "secret" / "JP.pem"
    code, text, _ = cli(capsys, "keygen", "--party", "JP", "--out", out)
    assert code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.parent.stat().st_mode) == 0o700
    printed = text.strip().splitlines()[-1]
    assert printed == public_key_b64(load_private_key(out))
    code, _, err = cli(capsys, "keygen", "--party", "JP", "--out", out)
    assert code == 1 and "exists; pass overwrite=True (--force)" in err
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    inside = tmp_path / "repo" / "keys" / "JP.pem"
    code, _, err = cli(capsys, "keygen", "--party", "JP", "--out", inside)
    assert code == 1 and "inside the git repository" in err and len(err.strip().splitlines()) == 1
    assert not inside.exists() and not inside.parent.exists()


def test_cli_lifecycle(capsys, tmp_path: Path, registry: Path, keyfiles) -> None:
    outline = tmp_path / "outline.geojson"
    gpd.GeoDataFrame(geometry=[box(-115.6, 35.4, -115.4, 35.6)], crs="EPSG:4326").to_file(outline)
    code, out, _ = cli(
        capsys, "propose", outline, "--id", "mountain-pass", *PROPOSE, "-r", registry
    )
    assert code == 0 and "EPSG:32611" in out and "waiting for approval by: JP, US" in out
    for party in ("US", "JP"):
        code, out, _ = cli(
            capsys,
            "approve",
            "mountain-pass",
            "--party",
            party,
            "--key",
            keyfiles[party],
            "-r",
            registry,
        )
        assert code == 0
    assert "mountain-pass: agreed" in out

    code, out, _ = cli(capsys, "list", "-r", registry)
    assert code == 0 and "mountain-pass" in out and "agreed" in out and "1 area(s)" in out
    for args, count in [(["--status", "proposed"], 0), (["--commodity", "LREE"], 1), (["--commodity", "Li"], 0),
                        (["--region", "JP"], 0), (["--deposit-model", "carbonatite-ree"], 1)]:  # fmt: skip
        code, out, _ = cli(capsys, "list", *args, "-r", registry)
        assert code == 0 and f"{count} area(s)" in out, args

    code, out, _ = cli(
        capsys,
        "amend",
        "mountain-pass",
        "--party",
        "JP",
        "--bbox=-115.7,35.4,-115.4,35.6",
        "-r",
        registry,
    )
    assert code == 0 and "amended" in out and "stale" in out
    code, out, _ = cli(capsys, "show", "mountain-pass", "-r", registry)
    assert code == 0 and out.count("stale") == 2 and "ネオジム" in out and "pending: JP, US" in out
    code, out, _ = cli(capsys, "history", "mountain-pass", "-r", registry)
    assert [line.split()[2] for line in out.splitlines()] == [
        "propose",
        "approve",
        "approve",
        "amend",
    ]

    code, out, _ = cli(capsys, "export", tmp_path / "areas.gpkg", "-r", registry)
    assert code == 0
    exported = gpd.read_file(tmp_path / "areas.gpkg")
    assert list(exported["status"]) == ["amended"] and list(exported["pending_parties"]) == [
        "JP,US"
    ]
    code, out, _ = cli(capsys, "validate", "-r", registry)
    assert code == 0 and "0 error(s)" in out
    code, _, err = cli(capsys, "validate", "--strict", "-r", registry)
    assert code == 1 and "failed validation" in err

    code, out, _ = cli(capsys, "withdraw", "mountain-pass", "--party", "US", "--key", keyfiles["US"], "--reason", "test", "-r", registry)  # fmt: skip
    assert code == 0 and "withdrawn" in out


def test_propose_from_a_projected_file_needs_crs(capsys, tmp_path: Path, registry: Path) -> None:
    utm = tmp_path / "utm.gpkg"
    gpd.GeoDataFrame(geometry=[box(600000, 3920000, 615000, 3935000)], crs="EPSG:32611").to_file(
        utm
    )
    code, _, err = cli(capsys, "propose", utm, "--id", "utm", *PROPOSE, "-r", registry)
    assert code == 1 and "utm.gpkg is in EPSG:32611" in err and "crs='EPSG:32611' (--crs EPSG:32611)" in err
    code, _, _ = cli(
        capsys, "propose", utm, "--crs", "EPSG:32611", "--id", "utm", *PROPOSE, "-r", registry
    )
    assert code == 0
    assert Registry(registry).get("utm").area_km2 == pytest.approx(
        225.0, rel=2e-3
    )  # 15 km x 15 km, k≈0.9996


def test_invalid_outline_is_refused_unless_fix(capsys, tmp_path: Path, registry: Path) -> None:
    bowtie = tmp_path / "bowtie.geojson"
    gpd.GeoDataFrame(geometry=[Polygon([(-115.6, 35.4), (-115.4, 35.6), (-115.4, 35.4), (-115.6, 35.6)])], crs=4326).to_file(bowtie)  # fmt: skip
    code, _, err = cli(capsys, "propose", bowtie, "--id", "bow", *PROPOSE, "-r", registry)
    assert (
        code == 1
        and "bowtie.geojson" in err
        and "self-intersection at longitude -115.5, latitude 35.5" in err
    )
    code, out, _ = cli(capsys, "propose", bowtie, "--fix", "--id", "bow", *PROPOSE, "-r", registry)
    assert code == 0 and "repaired with shapely.make_valid" in out
    assert "repaired" in Registry(registry).history("bow")[0].summary


BAD = {
    "unknown commodity": (["propose", "--bbox=-115.6,35.4,-115.4,35.6", "--id", "x", *PROPOSE[:8], "-c", "unobtainium",
                           *PROPOSE[10:]], "commodities: unknown commodity 'unobtainium'"),
    "missing party key": (["approve", "canada", "--party", "CA", "--key", "{XX}"], "party CA has no public key"),
    "key file missing": (["approve", "mountain-pass", "--party", "JP", "--key", "{tmp}/nokey.pem"], "nokey.pem does not exist"),
    "unparsable file": (["propose", "{tmp}/garbage.geojson", "--id", "x", *PROPOSE], "cannot read {tmp}/garbage.geojson"),
    "crs without --crs": (["propose", "{tmp}/utm.gpkg", "--id", "x", *PROPOSE], "utm.gpkg is in EPSG:32611"),
    "out of range": (["propose", "{tmp}/far.geojson", "--id", "x", *PROPOSE], "far.geojson: coordinate (-115.0, 95.0) is out of range"),
    "out of range bbox": (["propose", "--bbox=-200,35,-115,36", "--id", "x", *PROPOSE], "--bbox: west = -200.0 is out of range"),
    "empty geometry": (["propose", "{tmp}/empty.geojson", "--id", "x", *PROPOSE], "empty"),
    "duplicate id": (["propose", "--bbox=-115.6,35.4,-115.4,35.6", "--id", "mountain-pass", *PROPOSE], "an area with this id already exists"),
    "wrong party key": (["approve", "mountain-pass", "--party", "JP", "--key", "{US}"], "it is US's key"),
    "bad id": (["propose", "--bbox=-115.6,35.4,-115.4,35.6", "--id", "../../etc", *PROPOSE], "not a valid area id"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_clear_line_and_changes_nothing(
    capsys, tmp_path: Path, registry: Path, keyfiles, case: str
) -> None:
    reg = Registry(registry)
    reg.propose((-115.6, 35.4, -115.4, 35.6), id="mountain-pass", name_en="MP", name_ja="MP", region="US", commodities="REE", proposer="US")  # fmt: skip
    reg.propose((-80, 45, -79, 46), id="canada", name_en="C", name_ja="カナダ", region="CA", commodities="Ni", proposer="US")  # fmt: skip
    (tmp_path / "garbage.geojson").write_text("{ not json", encoding="utf-8")
    gpd.GeoDataFrame(geometry=[box(600000, 3920000, 615000, 3935000)], crs="EPSG:32611").to_file(
        tmp_path / "utm.gpkg"
    )
    far = {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[-116, 35], [-115, 35], [-115, 95], [-116, 35]]]}}  # fmt: skip
    (tmp_path / "far.geojson").write_text(json.dumps(far), encoding="utf-8")
    empty = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": []},
    }
    (tmp_path / "empty.geojson").write_text(json.dumps(empty), encoding="utf-8")
    args, message = BAD[case]
    fill = {"tmp": str(tmp_path), **{k: str(v) for k, v in keyfiles.items()}}
    args = [a.format(**fill) for a in args]
    before = snapshot(registry)
    code, _, err = cli(capsys, *args, "-r", registry)
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and err.startswith("geosurvey: error: ")
    assert message.format(**fill) in err
    assert snapshot(registry) == before


def test_validate_exit_code_in_a_real_process(tmp_path: Path, registry: Path, keyfiles) -> None:
    reg = Registry(registry)
    reg.propose((-115.6, 35.4, -115.4, 35.6), id="mp", name_en="MP", name_ja="MP", region="US", commodities="REE", proposer="US")  # fmt: skip
    reg.approve("mp", party="US", private_key=keyfiles["US"])
    command = [sys.executable, "-m", "geosurvey", "aoi", "validate", "-r", str(registry)]
    ok = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert ok.returncode == 0, ok.stderr
    path = registry / "mp.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["properties"]["acts"][0]["signature"] = doc["properties"]["acts"][0]["signature"][::-1]
    path.write_text(json.dumps(doc), encoding="utf-8")
    bad = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 1
    assert "error: " in bad.stdout and "does not verify" in bad.stdout
    assert bad.stderr.strip().splitlines()[-1].startswith("geosurvey: error: registry")


def test_concurrent_approvals_from_real_processes_all_land(
    tmp_path: Path, registry: Path, keyfiles
) -> None:
    """Two CLI processes approve one area at once; then two processes each approve 20 areas in the
    same order while this process keeps parsing the files (atomic writes: never a partial file)."""
    reg = Registry(registry)
    ids = [f"area-{i:02d}" for i in range(20)]
    for i, area_id in enumerate(["solo", *ids]):
        reg.propose((i, 0, i + 0.5, 0.5), id=area_id, name_en=area_id, name_ja=area_id, region="US", commodities="Li", proposer="US")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def approve_cli(party: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "geosurvey", "aoi", "approve", "solo", "--party", party, "--key", str(keyfiles[party]), "-r", str(registry)]  # fmt: skip
        return subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )

    procs = [approve_cli("JP"), approve_cli("US")]
    for p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
    solo = Registry(registry).get("solo")
    assert solo.status == "agreed" and sorted(c.act.party for c in solo.checks) == ["JP", "US"]

    # Both processes import everything, report ready, then start together on the same areas in the
    # same order, so their read-modify-write cycles collide (without the lock, approvals get lost).
    script = textwrap.dedent(
        """
        import sys, time
        from pathlib import Path
        from geosurvey.aoi import Registry
        registry, party, key, go, *ids = sys.argv[1:]
        reg = Registry(registry)
        print("ready", flush=True)
        while not Path(go).exists():
            time.sleep(0.001)
        for area_id in ids:
            reg.approve(area_id, party=party, private_key=key)
        """
    )
    go = tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(registry), party, str(keyfiles[party]), str(go), *ids],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for party in ("JP", "US")
    ]  # fmt: skip
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    go.touch()
    reads = 0
    deadline = time.monotonic() + 300
    while any(p.poll() is None for p in procs) and time.monotonic() < deadline:
        for area_id in ids:
            json.loads(
                (registry / f"{area_id}.geojson").read_text(encoding="utf-8")
            )  # never partial
            reads += 1
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert reads > 0
    final = Registry(registry)
    for area_id in ids:
        area = final.get(area_id)
        assert area.status == "agreed", area_id
        assert sorted(c.act.party for c in area.checks) == ["JP", "US"], area_id
        assert [h.action for h in area.history].count("approve") == 2
    assert not [p for p in registry.iterdir() if p.name.endswith(".tmp")]
