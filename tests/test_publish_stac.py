"""Output STAC catalogues: true units, a thumbnail, the manifest, schema-valid on disk, and pushed
to the real pgstac STAC API through the Transactions extension."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import numpy as np
import pystac
import pytest
import rasterio
import requests
from PIL import Image
from test_portal import make_run

from geosurvey.catalogs import validate_stac, validate_stac_file
from geosurvey.errors import InputError, MissingInputError, OutputError
from geosurvey.publish import publish_site, write_outputs_catalog


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = make_run(tmp_path_factory.mktemp("stac") / "run", area_id="stac-area", recipe_id="stac-recipe")
    return folder


def write(run_folder, out, **kwargs):
    return write_outputs_catalog(
        {"score": run_folder / "score.tif", "mag": run_folder / "evidence" / "mag.tif"}, out,
        area_id="stac-area", recipe="stac-recipe", datetime=datetime(2025, 1, 1, tzinfo=UTC), **kwargs)


def test_assets_carry_the_cogs_own_units_thumbnail_and_manifest(run_folder, tmp_path):
    path = write(run_folder, tmp_path / "outputs", manifest=run_folder / "manifest.json")
    validate_stac_file(path)  # the files as written, against the STAC schemas (raises if not)
    item_path = next(tmp_path.glob("outputs/**/stac-area-stac-recipe.json"))
    doc = json.loads(item_path.read_text())
    for key, cog in (("score", "score.tif"), ("mag", "evidence/mag.tif")):
        with rasterio.open(run_folder / cog) as src:
            expected = src.tags().get("units")
        assert doc["assets"][key]["raster:bands"][0].get("unit") == expected
    assert doc["assets"]["mag"]["raster:bands"][0]["unit"] == "nT/m"  # not "1" any more
    assert "magnetic gradient" in doc["assets"]["mag"]["title"]
    thumb = doc["assets"]["thumbnail"]
    assert thumb["roles"] == ["thumbnail"] and thumb["type"] == "image/png"
    png = Image.open(io.BytesIO((item_path.parent / thumb["href"]).read_bytes()))
    assert max(png.size) <= 256 and np.asarray(png.convert("RGBA"))[..., 3].max() == 255
    manifest = doc["assets"]["manifest"]
    assert manifest["roles"] == ["metadata"]
    assert (item_path.parent / manifest["href"]).read_bytes() == (run_folder / "manifest.json").read_bytes()
    assert validate_stac(pystac.Item.from_file(str(item_path))) == ["stac-area-stac-recipe"]
    # the COGs are the run's own, on its file system: linked, not a second copy on disk
    score = item_path.parent / doc["assets"]["score"]["href"]
    assert score.stat().st_ino == (run_folder / "score.tif").stat().st_ino


def test_bad_arguments_write_nothing(run_folder, tmp_path):
    with pytest.raises(InputError, match="thumbnail='nope' names no output"):
        write(run_folder, tmp_path / "a", thumbnail="nope")
    with pytest.raises(MissingInputError, match="manifest"):
        write(run_folder, tmp_path / "b", manifest=tmp_path / "missing.json")
    (tmp_path / "c").mkdir()
    with pytest.raises(OutputError, match="exists already"):
        write(run_folder, tmp_path / "c")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


@pytest.mark.stac_api
def test_publish_pushes_outputs_to_a_stac_api(stac_api, run_folder, tmp_path):
    api = stac_api.urls["partner"]
    result = publish_site([run_folder], out=tmp_path / "site", stac_api=api)
    assert len(result.catalogs) == 1
    item = requests.get(f"{api}/collections/geosurvey-outputs/items/stac-area-stac-recipe", timeout=10)
    assert item.status_code == 200
    doc = item.json()
    assert doc["properties"]["geosurvey:area"] == "stac-area"
    assert doc["assets"]["mag"]["raster:bands"][0]["unit"] == "nT/m"
    search = requests.post(f"{api}/search", json={"collections": ["geosurvey-outputs"],
                                                         "ids": ["stac-area-stac-recipe"]}, timeout=10).json()
    assert [f["id"] for f in search["features"]] == ["stac-area-stac-recipe"]


def test_statistics_computed_elsewhere_are_used_and_the_others_computed(run_folder, tmp_path):
    from geosurvey.catalogs import raster_statistics

    given = {**raster_statistics(run_folder / "evidence" / "mag.tif"), "mean": 12.5}
    write(run_folder, tmp_path / "outputs", statistics={"mag": given})
    doc = json.loads(next(tmp_path.glob("outputs/**/stac-area-stac-recipe.json")).read_text())
    assert doc["assets"]["mag"]["raster:bands"][0]["statistics"]["mean"] == 12.5  # as given
    with rasterio.open(run_folder / "score.tif") as src:  # not given: computed from the file
        values = src.read(1, masked=True).astype(float).compressed()
    values = values[np.isfinite(values)]
    stats = doc["assets"]["score"]["raster:bands"][0]["statistics"]
    assert stats["mean"] == pytest.approx(values.mean(), rel=1e-12)
    assert stats["maximum"] == values.max() and stats["minimum"] == values.min()
