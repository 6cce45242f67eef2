"""The model benchmark runs (quick sizes) and returns the rows benchmarks/run.py prints."""

from __future__ import annotations

import math

import pytest


@pytest.mark.slow
def test_quick_model_benchmark_rows():
    from benchmarks.bench_models import run

    small, large = run(quick=True)
    assert "256²" in small["case"] and "512²" in large["case"]
    for row, n in ((small, 256), (large, 512)):
        assert row["benchmark"] == "random forest predict"
        assert {"benchmark", "case", "geosurvey_s", "baseline_s", "ratio", "peak_mib"} <= set(row)
        assert row["geosurvey_s"] > 0 and row["baseline_s"] > 0
        assert row["peak_mib"] >= row["start_mib"] > 0 and row["peak_mib_gdal_default_cache"] > 0
        assert math.isclose(row["ratio"], row["geosurvey_s"] / row["baseline_s"])
        assert math.isclose(row["mpx_s"], n * n / row["geosurvey_s"] / 1e6)
    assert math.isclose(large["peak_vs_smallest"], large["peak_mib"] / small["peak_mib"])
