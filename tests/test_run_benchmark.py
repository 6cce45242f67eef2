"""The run benchmark runs (quick size): run() and the stages by hand on the same synthetic area."""

from __future__ import annotations

import math

import pytest


@pytest.mark.slow
def test_quick_run_benchmark_rows():
    from benchmarks.bench_run import run

    rows = run(quick=True)
    head, *stages = rows
    assert head["benchmark"] == "run" and "six layers" in head["case"]
    assert head["geosurvey_s"] > 0 and head["baseline_s"] > 0 and head["peak_mib"] > 0
    assert math.isclose(head["ratio"], head["geosurvey_s"] / head["baseline_s"])
    names = [row["case"].split()[-1] for row in stages]
    assert names == ["area", "search", "load", "evidence", "score", "evaluate", "publish"]
    # the stages add up to (nearly) the whole run: no hidden work outside them
    assert sum(row["geosurvey_s"] for row in stages) <= head["geosurvey_s"]
