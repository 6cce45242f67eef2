"""A ``method = "model"`` run repeated from its manifest (``geosurvey run --from-manifest``) gives
the same rasters and the same held-out scores, bit for bit: every random step of the model
(background draw, forest, ensemble bootstrap, CV folds, permutation importance, sensitivity draws)
is seeded from the recipe text the manifest carries. A second seed changes them, so the equality is
not that of a run without randomness."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rasterio

from geosurvey.cli import main
from geosurvey.demo import make_demo_data
from geosurvey.prospectivity import load_recipe
from geosurvey.runner import run

pytestmark = pytest.mark.slow

SCORING = """
[scoring]
estimator = "random-forest"
seed = {seed}
[scoring.params]
n_estimators = 15
max_depth = 6
[scoring.sampling]
n_background = 400
[scoring.cv]
scheme = "block"
n_splits = 3
block_size = 3000.0
compare_random = true
importance = true
[scoring.ensemble]
members = 3
[scoring.explain]
contributions = "saabas"
top = 2
sensitivity_draws = 2
"""

RASTERS = ("score", "uncertainty", "data_availability", "risk_return")


def _model_recipe(path: Path, seed: int) -> Path:
    """The demo recipe's evidence (memberships dropped) under a seeded random forest."""
    text = load_recipe("demo-iocg").text
    head, rest = text.split("[scoring]", 1)
    evidence = rest[rest.index("[[evidence]]"):]
    blocks = [b.split("[evidence.membership]")[0] for b in evidence.split("[[evidence]]")[1:]]
    head = head.replace('id = "demo-iocg"', 'id = "demo-iocg-rf"').replace(
        'method = "fuzzy-gamma"', 'method = "model"')
    path.write_text(head + SCORING.format(seed=seed) + "".join("\n[[evidence]]" + b for b in blocks))
    return path


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory):
    return make_demo_data(tmp_path_factory.mktemp("demo-data"), seed=0)


def _run(data, recipe: Path, out: Path):
    inc, dec = data.field
    return run(data.area_id, recipe, sources=[data.catalog], registry=data.registry,
               occurrences=data.occurrences, features={"faults": data.faults}, out=out,
               inclination=inc, declination=dec, chunks=128, echo=lambda _m: None)


def _bytes(folder: Path, name: str) -> bytes:
    with rasterio.open(folder / f"{name}.tif") as src:
        return src.read().tobytes()


def test_model_run_reproduces_from_its_manifest_bit_for_bit(demo_data, tmp_path: Path):
    recipe = _model_recipe(tmp_path / "demo-iocg-rf.toml", seed=3)
    first = _run(demo_data, recipe, tmp_path / "first")
    assert main(["run", "--from-manifest", str(first.manifest_json), "--out", str(tmp_path / "again")]) == 0
    again = tmp_path / "again"
    written = sorted(p.stem for p in first.out.glob("*.tif"))
    assert set(RASTERS) <= set(written) and any(n.startswith("contribution_") for n in written)
    assert written == sorted(p.stem for p in again.glob("*.tif"))
    for name in written:
        assert _bytes(first.out, name) == _bytes(again, name), name  # NaN included
    report = json.loads(first.report_json.read_text())["method_report"]
    repeat = json.loads((again / "report.json").read_text())["method_report"]
    assert report["seed"] == 3 and "seed = 3" in json.loads(first.manifest_json.read_text())["recipe"]["text"]
    assert report["cross_validation"] == repeat["cross_validation"]  # held-out AUC, capture, importance
    assert report["negative_sampling_sensitivity"] == repeat["negative_sampling_sensitivity"]
    assert report["ensemble"]["seeds"] == repeat["ensemble"]["seeds"] == [3, 4, 5]
    # another seed gives another background draw and forest: other pixels
    other = _run(demo_data, _model_recipe(tmp_path / "seed4.toml", seed=4), tmp_path / "seed4")
    assert _bytes(first.out, "score") != _bytes(other.out, "score")
