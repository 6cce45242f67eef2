"""``geosurvey demo`` end to end: outputs, numbers checked independently, the map in Chromium, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
import xarray as xr

from geosurvey import catalogs, evidence
from geosurvey.cli import main
from geosurvey.demo import make_demo_survey, run_demo
from geosurvey.evaluation import evaluate
from geosurvey.grid import geobox_for
from geosurvey.prospectivity import load_recipe, score
from geosurvey.testing import raise_if_dask_computes

from browser import screenshot_not_blank

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    lines: list[str] = []
    run_demo(out, seed=0, echo=lines.append)
    stages = [line.split("]")[0] + "]" for line in lines if line.startswith("[")]
    assert stages == [f"[{i}/8]" for i in range(1, 9)]  # progress for every stage, in order
    return out


def test_demo_writes_every_output(demo_out: Path) -> None:
    for name in (
        "index.html",
        "score.tif",
        "report.json",
        "manifest.json",
        "catalog/catalog.json",
        "outputs/catalog.json",
        "aoi/parties.toml",
        "aoi/demo-iocg.geojson",
    ):
        assert (demo_out / name).is_file(), name
    leftovers = [p.name for p in demo_out.parent.iterdir() if p.name.endswith(".partial")]
    assert leftovers == []
    report = json.loads((demo_out / "report.json").read_text())
    assert report["area"]["status"] == "agreed"
    assert set(report["score"]["capture"]) == {"top_5pct", "top_10pct", "top_20pct"}
    manifest = json.loads((demo_out / "manifest.json").read_text())
    assert manifest["parameters"]["seed"] == 0 and manifest["recipe"]["id"] == "demo-iocg"


def test_report_numbers_match_an_independent_evaluation(demo_out: Path) -> None:
    """Recompute ROC AUC and capture from the written score COG with plain numpy."""
    report = json.loads((demo_out / "report.json").read_text())
    survey = make_demo_survey(seed=0)
    with rasterio.open(demo_out / "score.tif") as src:
        values = src.read(1).astype(float)
        rows, cols = rasterio.transform.rowcol(
            src.transform, survey.occurrences.geometry.x, survey.occurrences.geometry.y
        )
    occ = values[np.asarray(rows), np.asarray(cols)]
    background = values[np.isfinite(values)]
    auc = np.mean([(background < v).mean() + 0.5 * (background == v).mean() for v in occ])
    assert report["score"]["roc_auc"] == pytest.approx(auc, abs=1e-5)
    area_above = np.array([(background >= v).mean() for v in occ])
    assert report["score"]["capture"]["top_10pct"] == pytest.approx(
        np.mean(area_above <= 0.10), abs=1e-6
    )
    # the demo's evidence really predicts its occurrences (they are placed by a stated rule)
    assert report["score"]["roc_auc"] > 0.7


def test_stac_catalogues_are_valid_and_searchable(demo_out: Path) -> None:
    for path in (demo_out / "catalog" / "catalog.json", demo_out / "outputs" / "catalog.json"):
        cat = pystac.Catalog.from_file(str(path))
        items = list(cat.get_items(recursive=True))
        assert items
        validated = catalogs.validate_stac(
            cat
        )  # core 1.1.0 + proj/raster/eo schemas; raises if invalid
        assert {item.id for item in items} <= set(validated)
        for item in items:
            assert any("projection" in uri for uri in item.stac_extensions)
            assert any("raster" in uri for uri in item.stac_extensions)
            for asset in item.assets.values():
                assert Path(asset.get_absolute_href()).is_file()
    scene = pystac.Item.from_file(
        str(next((demo_out / "catalog").rglob("demo-multispectral-scene.json")))
    )
    swir = scene.assets["swir16"].extra_fields
    assert swir["eo:bands"][0]["center_wavelength"] == pytest.approx(1.61)


def test_band_ratio_equals_numpy_on_the_cog_pixels(demo_out: Path) -> None:
    folder = demo_out / "catalog" / "demo-multispectral-scene"
    with rasterio.open(folder / "swir16.tif") as a, rasterio.open(folder / "swir22.tif") as b:
        expected = a.read(1).astype("float64") / b.read(1).astype("float64")
        transform = a.transform
    items = catalogs.search(demo_out / "catalog" / "catalog.json")
    survey = make_demo_survey(seed=0)
    gbox = geobox_for(survey.area, crs="EPSG:32611", resolution=100)
    ds = catalogs.load(items, geobox=gbox, composite="median", chunks={"x": 64, "y": 64})
    ratio = evidence.clay_hydroxyl(ds)
    assert ratio.chunks is not None  # lazy
    assert gbox.transform == transform  # the COG grid is the area's grid
    np.testing.assert_allclose(ratio.values, expected, rtol=1e-6)


def test_chunked_pipeline_equals_in_memory(demo_out: Path) -> None:
    survey = make_demo_survey(seed=0)
    gbox = geobox_for(survey.area, crs="EPSG:32611", resolution=100)
    items = catalogs.search(demo_out / "catalog" / "catalog.json")
    lazy = catalogs.load(items, geobox=gbox, composite="median", chunks={"x": 64, "y": 64})
    eager = lazy.compute()
    recipe = load_recipe("demo-iocg")

    def pipeline(ds: xr.Dataset) -> xr.DataArray:
        inc, dec = survey.field
        layers = {
            "clay_hydroxyl": evidence.clay_hydroxyl(ds),
            "tilt": evidence.tilt_derivative(
                evidence.reduction_to_pole(ds["mag_tmi"], inclination=inc, declination=dec)
            ),
            "eth_k": evidence.radiometric_ratio(ds["eth"], ds["k"], name="eth_k"),
            "fault_distance": evidence.distance_to_features(survey.faults, like=ds["mag_tmi"]),
        }
        return score(layers, recipe)

    with raise_if_dask_computes():  # evidence and score are built without reading a pixel
        chunked = pipeline(lazy)
    assert chunked.chunks is not None
    assert eager["mag_tmi"].chunks is None
    in_memory = pipeline(eager).compute()
    xr.testing.assert_allclose(chunked.compute(), in_memory, rtol=1e-5, atol=1e-6)
    with rasterio.open(demo_out / "score.tif") as src:
        np.testing.assert_allclose(src.read(1), in_memory.values, rtol=1e-5, atol=1e-6)
    assert evaluate(in_memory, survey.occurrences).roc_auc > 0.7


def test_web_map_in_chromium(demo_out: Path, chromium_page, tmp_path: Path) -> None:
    page, console_errors, failed = chromium_page(demo_out / "index.html")
    assert console_errors == [] and failed == []
    for selector in (
        ".gs-score",
        ".gs-area",
        ".gs-faults",
        ".gs-occurrences",
        ".gs-legend",
        ".leaflet-control-layers",
    ):
        assert page.locator(selector).count() > 0, selector
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert any("Prospectivity score" in text for text in labels)
    screenshot_not_blank(page, tmp_path / "demo.png")


def test_cli_demo_in_japanese(tmp_path: Path, chromium_page) -> None:
    out = tmp_path / "ja"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "geosurvey",
            "demo",
            "--out",
            str(out),
            "--lang",
            "ja",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "[8/8]" in proc.stdout and "ROC AUC" in proc.stdout and "既知鉱徴地" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["seed"] == 1 and report["lang"] == "ja"
    page, console_errors, _ = chromium_page(out / "index.html")
    assert console_errors == []
    assert page.locator("html").get_attribute("lang") == "ja"
    assert "有望度" in page.locator("body").inner_text()


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_bad_input_is_refused_without_partial_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _listing(tmp_path)
    # a missing parent folder
    assert main(["demo", "--out", str(tmp_path / "missing" / "out")]) == 1
    assert "does not exist" in capsys.readouterr().err
    # an unwritable output (a path under a regular file is unwritable for everyone, root included)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    before = _listing(tmp_path)
    assert main(["demo", "--out", str(blocker / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("geosurvey: error:") and "a-file" in err and err.count("\n") == 1
    # an unknown language: a usage error before anything runs
    assert main(["demo", "--out", str(tmp_path / "x"), "--lang", "xx"]) == 2
    assert "'xx' is not one of 'en', 'ja'" in capsys.readouterr().err
    assert _listing(tmp_path) == before
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert main(["demo", "--out", str(locked / "out")]) == 1
        assert "not writable" in capsys.readouterr().err


def test_existing_output_is_kept_unless_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["demo", "--out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert _listing(tmp_path) == ["out", "out/keep.txt"]


def test_failure_midway_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stage that fails (here: the score) removes everything the earlier stages wrote."""
    import geosurvey.runner._run as run_module

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("scoring failed")

    monkeypatch.setattr(run_module, "score_layers", broken)  # inject a failure in stage 6
    with pytest.raises(RuntimeError, match="scoring failed"):
        run_demo(tmp_path / "out", echo=lambda _m: None)
    assert _listing(tmp_path) == []
