"""The large-area benchmark's path, small: a real batch on a LocalCluster whose evidence is not
persisted and whose evaluation is block-wise (as for a 20,000² area), checked against the
in-memory evaluation of the written score."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest

from benchmarks import bench_large
from geosurvey.evaluation import evaluate
from geosurvey.io import read_raster
from geosurvey.runner import _run


def test_large_area_path_on_a_cluster(tmp_path: Path, monkeypatch) -> None:
    calls: list[int] = []
    blockwise = _run._evaluate_large

    def counted(*args, **kwargs):
        calls.append(1)
        return blockwise(*args, **kwargs)

    # the decisions a 20,000² area makes, on a 600² one: lazy evidence, block-wise evaluation
    monkeypatch.setattr(_run, "EVALUATE_TASK_MAX_PIXELS", 0)
    monkeypatch.setattr(_run, "PERSIST_SHARE", 0.0)
    monkeypatch.setattr(_run, "_evaluate_large", counted)
    paths = bench_large.make_data(tmp_path / "data", 600)
    row = bench_large.measure_run(paths, tmp_path / "run", memory_limit="1GiB")
    assert row["ok"] and row["workers_lost"] == 0 and row["grid_shape"] == [600, 600]
    assert calls == [1]
    out = Path(row["out"])
    report = json.loads((out / "report.json").read_text())
    score = read_raster(out / "score.tif", chunks=None).rename("score")
    occ = gpd.read_file(paths["occurrences"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = evaluate(score, occ).to_dict()
    got = report["score"]
    for key in ("roc_auc", "capture", "capture_table", "area_to_hold", "success_rate_curve",
                "n_used", "occurrences", "roc_auc_ci"):
        assert got[key] == whole[key], key
    assert got["prediction_area"]["threshold"] == pytest.approx(
        whole["prediction_area"]["threshold"], abs=1e-6)
    # the score is the fuzzy gamma of the six memberships, whatever path computed it
    assert np.isfinite(score.values).all() and 0 < got["roc_auc"] <= 1
