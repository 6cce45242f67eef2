"""The model benchmark runs (quick sizes) and returns the rows benchmarks/run.py prints."""

from __future__ import annotations

import math

import pytest


@pytest.mark.slow
def test_quick_model_benchmark_rows():
    from benchmarks.bench_models import run

    (row,) = run(quick=True)
    assert row["benchmark"] == "random forest predict" and "512²" in row["case"]
    assert {"benchmark", "case", "geosurvey_s", "baseline_s", "ratio", "peak_mib"} <= set(row)
    assert row["geosurvey_s"] > 0 and row["baseline_s"] > 0 and row["peak_mib"] > 0
    assert math.isclose(row["ratio"], row["geosurvey_s"] / row["baseline_s"])
    assert math.isclose(row["mpx_s"], 512 * 512 / row["geosurvey_s"] / 1e6)
