"""The publishing benchmark runs (quick size) and returns the rows benchmarks/run.py prints."""

from __future__ import annotations

import math

import pytest


@pytest.mark.slow
@pytest.mark.browser
def test_quick_publish_benchmark_rows(chromium):  # chromium: fails with the install hint if absent
    from benchmarks.bench_publish import run

    rows = run(quick=True, browser=chromium)
    assert [r["benchmark"] for r in rows] == ["publish", "first render", "tile pyramid"]
    for row in rows:
        assert {"benchmark", "case", "geosurvey_s", "baseline_s", "ratio", "peak_mib"} <= set(row)
        assert row["geosurvey_s"] > 0
    publish, first, pyramid = rows
    assert publish["page_mib"] < 3 and first["geosurvey_s"] < 30
    assert pyramid["tiles"] > 0
    if pyramid["baseline_s"] is not None:
        assert math.isclose(pyramid["ratio"], pyramid["geosurvey_s"] / pyramid["baseline_s"])
