"""The evidence benchmark runs (quick sizes) and returns the rows benchmarks/run.py prints."""

from __future__ import annotations

import math

import pytest

from conftest import require_shared


@pytest.mark.slow
def test_quick_benchmark_rows():
    require_shared("gtk_lapland_iocg")
    from benchmarks.bench_evidence import run

    rows = run(quick=True)
    assert [r["benchmark"] for r in rows] == ["rtp+tilt+analytic signal"] * 2 + ["distance_to_features"]
    for row in rows:
        assert {"benchmark", "case", "geosurvey_s", "baseline_s", "ratio", "peak_mib"} <= set(row)
        assert row["geosurvey_s"] > 0 and row["baseline_s"] > 0 and row["peak_mib"] > 0
        assert math.isclose(row["ratio"], row["geosurvey_s"] / row["baseline_s"])
