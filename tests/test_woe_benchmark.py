"""The weights-of-evidence / fuzzy-gamma benchmark runs (quick sizes) and returns the rows
benchmarks/run.py prints."""

from __future__ import annotations

import math

import pytest


@pytest.mark.slow
def test_quick_benchmark_rows():
    from benchmarks.bench_woe import run

    rows = run(quick=True)
    assert [r["benchmark"] for r in rows] == ["woe", "woe", "fuzzy gamma"]
    for row in rows:
        assert {"benchmark", "case", "geosurvey_s", "baseline_s", "ratio", "peak_mib"} <= set(row)
        assert row["geosurvey_s"] > 0 and row["baseline_s"] > 0 and row["peak_mib"] > 0
        assert math.isclose(row["ratio"], row["geosurvey_s"] / row["baseline_s"])
