"""``aoi export`` writes layers that other tools read right (issue 9, item 9), checked with GDAL's
own command-line tools (``ogrinfo``, ``ogr2ogr``; ``scripts/test.sh`` installs ``gdal-bin``) and
with pyogrio: the layer is named ``survey_areas``, never after the temporary file, a FlatGeobuf or
GeoJSON export copies into a GeoPackage, and two exports of one registry are the same bytes."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pyogrio
import pytest
import shapely
from shapely.geometry import MultiPolygon

from geosurvey.aoi import Registry
from geosurvey.cli import main

REPO = Path(__file__).resolve().parents[1]
REGISTRY = REPO / "aoi"  # the example registry shipped with the repository
DETERMINISTIC = ["fgb", "geojson", "kml", "parquet"]  # a GeoPackage records when it was written


def export(tmp: Path, name: str) -> Path:
    out = tmp / name
    assert main(["aoi", "export", str(out), "-r", str(REGISTRY)]) == 0
    return out


@pytest.mark.parametrize("fmt", [*DETERMINISTIC, "gpkg"])
def test_the_layer_is_named_survey_areas_not_after_the_temporary_file(
    tmp_path: Path, fmt: str
) -> None:
    out = export(tmp_path, f"areas.{fmt}")
    if fmt == "parquet":  # GeoParquet has no layer name; check it reads back whole
        import geopandas as gpd

        assert sorted(gpd.read_parquet(out)["id"]) == Registry(REGISTRY).ids()
        return
    layers = [str(name) for name, _ in pyogrio.list_layers(out)]
    assert layers == ["survey_areas"], layers
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary file left


@pytest.mark.parametrize("fmt", DETERMINISTIC)
def test_two_exports_of_one_registry_are_the_same_bytes(tmp_path: Path, fmt: str) -> None:
    a, b = export(tmp_path, f"a.{fmt}"), export(tmp_path, f"b.{fmt}")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()


@pytest.mark.skipif(
    shutil.which("ogr2ogr") is None or shutil.which("ogrinfo") is None,
    reason="GDAL's command-line tools are not installed (apt-get install gdal-bin; scripts/test.sh does)",
)
@pytest.mark.parametrize("fmt", ["fgb", "geojson"])
def test_ogr2ogr_copies_an_export_into_a_geopackage(tmp_path: Path, fmt: str) -> None:
    src = export(tmp_path, f"areas.{fmt}")
    info = subprocess.run(["ogrinfo", "-so", "-al", str(src)], capture_output=True, text=True,
                          check=True, timeout=60)  # fmt: skip
    assert "Layer name: survey_areas" in info.stdout
    assert f"Feature Count: {len(Registry(REGISTRY).ids())}" in info.stdout
    gpkg = tmp_path / "copy.gpkg"
    done = subprocess.run(["ogr2ogr", "-f", "GPKG", str(gpkg), str(src)], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0 and "ERROR" not in done.stderr, done.stderr
    # (FlatGeobuf's spatial index orders features along a Hilbert curve: compare by id)
    copied = pyogrio.read_dataframe(gpkg, layer="survey_areas").sort_values("id")
    original = Registry(REGISTRY).to_geodataframe().sort_values("id")
    assert list(copied["id"]) == list(original["id"])
    assert list(copied["status"]) == list(original["status"])

    # the outlines survive the trip within the stored precision (1e-7°)
    # (the copy's layer is Multi Polygon: compare each as a normalised multipolygon)
    def multi(geom):
        return shapely.normalize(MultiPolygon(list(shapely.get_parts(geom))))

    for got, want in zip(copied.geometry, original.geometry, strict=True):
        assert multi(got).equals_exact(multi(want), tolerance=1e-7)
