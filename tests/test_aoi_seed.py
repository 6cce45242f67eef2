"""The committed example registry ``aoi/``: it validates, lies on the real geography it names,
holds a mix of statuses, carries only public demo keys, and is what ``scripts/seed_aoi.py`` makes."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Point

from geosurvey.aoi import Registry
from geosurvey.cli import main

from conftest import require_shared

REPO = Path(__file__).resolve().parents[1]
AOI = REPO / "aoi"
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def reg() -> Registry:
    return Registry(AOI)


def test_seed_registry_validates(reg: Registry, capsys) -> None:
    report = reg.validate()
    assert report.ok, report
    assert main(["aoi", "validate", "-r", str(AOI)]) == 0
    capsys.readouterr()


def test_seed_registry_has_a_mix_of_statuses(reg: Registry) -> None:
    statuses = {a.id: a.status for a in reg.areas()}
    assert len(statuses) >= 4
    assert {"agreed", "proposed", "amended"} <= set(statuses.values())
    assert statuses["mountain-pass"] == "agreed"
    assert statuses["kolari-iocg"] == "agreed"
    assert statuses["minamitorishima-ree-mud"] == "amended"
    assert statuses["western-aleutians"] == "proposed"
    assert reg.get("kolari-iocg").required_parties == ("FI", "JP", "US")  # a third-country area


def test_areas_lie_on_their_real_geography(reg: Registry) -> None:
    # the Mountain Pass mine (35.478 N, 115.532 W) is inside the Mountain Pass area
    assert reg.get("mountain-pass").geometry.contains(Point(-115.532, 35.478))
    # the Minamitorishima area is inside Japan's EEZ: every vertex within 200 nautical miles of the island
    island_lon, island_lat = 153.9807, 24.2867
    coords = shapely.get_coordinates(reg.get("minamitorishima-ree-mud").geometry)
    _, _, dist = GEOD.inv(
        np.full(len(coords), island_lon),
        np.full(len(coords), island_lat),
        coords[:, 0],
        coords[:, 1],
    )
    assert dist.max() < 200 * 1852
    # the western Aleutians cross the antimeridian: stored as parts on both sides (RFC 7946)
    aleutians = reg.get("western-aleutians")
    assert aleutians.geometry.geom_type == "MultiPolygon"
    lons = shapely.get_coordinates(aleutians.geometry)[:, 0]
    assert lons.max() == 180.0 and lons.min() == -180.0 and np.abs(lons).max() <= 180
    west, _, east, _ = aleutians.bounds
    assert west > east  # crosses 180°
    assert aleutians.geometry.contains(Point(178.6, 51.6))  # Amchitka Island
    assert "laea" in aleutians.analysis_crs_string  # 7° wide: a stated equal-area CRS
    assert reg.get("mountain-pass").analysis_crs_string == "EPSG:32611"


def test_kolari_outline_is_gtks_target_area() -> None:
    shp = require_shared("gtk_lapland_iocg", "vector", "EIS_IOCG_target_area.shp")
    original = gpd.read_file(shp).geometry.iloc[0]
    geom = Registry(AOI).get("kolari-iocg").geometry
    to_3067 = Transformer.from_crs("EPSG:4326", "EPSG:3067", always_xy=True)
    projected = shapely.transform(geom, lambda x, y: to_3067.transform(x, y), interleaved=False)
    assert shapely.hausdorff_distance(projected, original) < 2.0  # metres
    assert projected.symmetric_difference(original).area / original.area < 1e-5


def test_only_public_demo_keys_are_committed() -> None:
    parties = tomllib.loads((AOI / "parties.toml").read_text(encoding="utf-8"))["parties"]
    assert {p["code"] for p in parties} == {"JP", "US", "FI"}
    assert all(p["demo_only"] for p in parties)
    assert "DEMO KEYS ONLY" in (AOI / "parties.toml").read_text(encoding="utf-8")
    for path in [*AOI.iterdir(), REPO / "scripts" / "seed_aoi.py"]:
        if path.is_file():
            assert "PRIVATE KEY" not in path.read_text(encoding="utf-8"), path
    names = {p["code"]: (p["name_en"], p["name_ja"]) for p in parties}
    assert names["JP"] == ("Japan", "日本") and names["US"][1] == "アメリカ合衆国"


def test_files_are_diff_friendly() -> None:
    for path in AOI.glob("*.geojson"):
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text)
        assert list(doc) == sorted(doc) and list(doc["properties"]) == sorted(doc["properties"])
        assert doc["type"] == "Feature" and doc["id"] == path.stem
        assert "status" not in doc["properties"]  # derived, never stored
        positions = [
            line.strip()
            for line in text.splitlines()
            if line.strip().startswith("[") and "," in line
        ]
        assert positions and all(len(p.split(",")[0].split(".")[1]) == 7 for p in positions)


def test_seed_script_reproduces_the_committed_decisions(tmp_path: Path, reg: Registry) -> None:
    out = tmp_path / "aoi"
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "seed_aoi.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    fresh = Registry(out)
    assert fresh.validate().ok
    assert {a.id: (a.status, a.digest) for a in fresh.areas()} == {
        a.id: (a.status, a.digest) for a in reg.areas()
    }
    # new keys each time: the fresh signatures do not verify against the committed keys
    assert fresh.parties["JP"].public_keys != reg.parties["JP"].public_keys
