"""``geosurvey map``: real GTK grids and vectors and the shipped registry, in real Chromium."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest

from geosurvey.aoi import Registry
from geosurvey.cli import main
from geosurvey.i18n import TEXT

from conftest import REPO, require_shared


@pytest.fixture(scope="module")
def gtk_page(tmp_path_factory) -> dict:
    folder = require_shared("gtk_lapland_iocg")
    out = tmp_path_factory.mktemp("cli") / "kolari.html"
    grids = folder / "grids_100m"
    args = [
        "map", str(grids / "mag_tmi_dgrf65_anomaly_nT.tif"), str(grids / "rad_K_pct.tif"),
        "--vectors", f"faults={folder / 'vector' / 'IOCG_CLB_Structures_1M.shp'}",
        "--vectors", f"occurrences={folder / 'vector' / 'IOCG_Deps_Prosp_Occs.shp'}",
        "--registry", str(REPO / "aoi"), "--lang", "ja", "--title", "コラリ <磁気>",
        "--attribution", "GTK, CC BY 4.0", "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    return {"page": out, "folder": folder}


@pytest.mark.browser
def test_map_command_makes_a_japanese_page_of_real_data(chromium_page, gtk_page):
    page, console_errors, failed = chromium_page(gtk_page["page"])
    assert console_errors == [] and failed == []
    assert page.title() == "コラリ <磁気>"
    labels = page.eval_on_selector_all(
        ".leaflet-control-layers-overlays label", "ls => ls.map(l => l.textContent.trim())")
    assert labels[:2] == ["mag_tmi_dgrf65_anomaly_nT", TEXT["ja"]["evidence"].format(name="rad_K_pct")]
    occurrences = gpd.read_file(gtk_page["folder"] / "vector" / "IOCG_Deps_Prosp_Occs.shp")
    assert page.locator("path.gs-occurrences").count() == len(occurrences)
    areas = Registry(REPO / "aoi").to_geodataframe()
    assert page.locator("path.gs-survey-areas").count() >= len(areas)
    assert TEXT["ja"]["score_hint"] not in page.inner_text("body")  # magnetics, not a score


def run(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err.strip()


def test_map_command_refuses_bad_input_in_one_line(tmp_path, capsys):
    folder = require_shared("gtk_lapland_iocg")
    mag = folder / "grids_100m" / "mag_tmi_dgrf65_anomaly_nT.tif"
    page = tmp_path / "p.html"
    cases = [
        (["map", str(tmp_path / "none.tif"), "--out", str(page)], "none.tif does not exist"),
        (["map", str(mag), "--vectors", "faults", "--out", str(page)], "must be NAME=FILE"),
        (["map", str(mag), "--vectors", f"x={tmp_path / 'no.shp'}", "--out", str(page)], "no.shp (layer 'x') does not exist"),
        (["map", str(mag), "--basemap", "google", "--out", str(page)], "unknown basemap 'google'"),
        (["map", str(mag), "--out", str(tmp_path / "p.png")], "must end in .html"),
    ]  # fmt: skip
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00not a tiff")
    cases.append((["map", str(bad), "--out", str(page)], "cannot read raster"))
    for args, message in cases:
        code, err = run(args, capsys)
        assert code == 1 and message in err and len(err.splitlines()) == 1, (args, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.tif"]  # nothing written
    page.write_text("mine")
    code, err = run(["map", str(mag), "--out", str(page)], capsys)
    assert code == 1 and "already exists" in err and page.read_text() == "mine"


def test_map_command_never_writes_over_its_input(tmp_path, capsys):
    folder = require_shared("gtk_lapland_iocg")
    copy = tmp_path / "grid.html"
    copy.write_bytes((folder / "grids_100m" / "rad_K_pct.tif").read_bytes())
    code, err = run(["map", str(copy), "--out", str(copy), "--overwrite"], capsys)
    assert code == 1 and "is one of the input rasters" in err
    assert copy.read_bytes()[:2] in (b"II", b"MM")  # still the GeoTIFF


def test_every_option_has_help():
    from typer.main import get_command

    from geosurvey.cli import app

    command = get_command(app).commands["map"]
    assert all(p.help for p in command.params if p.name != "help"), [p.name for p in command.params if not p.help]


def test_page_in_a_folder_that_does_not_exist(tmp_path, capsys):
    folder = require_shared("gtk_lapland_iocg")
    target = tmp_path / "missing" / "p.html"
    code, err = run(["map", str(folder / "grids_100m" / "rad_K_pct.tif"), "--out", str(target)], capsys)
    assert code == 1 and "does not exist" in err and not Path(tmp_path / "missing").exists()
