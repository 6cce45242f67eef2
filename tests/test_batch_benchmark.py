"""The batch benchmark's quick smoke run: it runs, and its numbers are sane."""

from __future__ import annotations

import pytest

from benchmarks import bench_batch

pytestmark = pytest.mark.slow


def test_batch_benchmark_quick() -> None:
    throughput, scaling, idle = bench_batch.run(quick=True)
    assert throughput["ok"] and scaling["ok"]
    assert throughput["workers_lost"] == 0  # 4 GiB workers: none killed
    assert throughput["mpix_per_s"] > 0 and throughput["baseline_mpix_per_s"] > 0
    assert 0 < throughput["peak_mib"] < 4096
    assert throughput["ratio"] == pytest.approx(throughput["geosurvey_s"] / throughput["baseline_s"])
    assert scaling["speedup"] == pytest.approx(scaling["baseline_s"] / scaling["geosurvey_s"])
    assert scaling["cores"] >= 1
    assert scaling["machine_speedup"] > 0
    assert 0 < scaling["one_worker_cores_busy"] <= scaling["cores"] * 1.05  # CPU seconds / wall
    # the idle cluster's CPU: seconds this process tree used, both clusters measured
    assert idle["geosurvey_s"] >= 0 and idle["baseline_s"] > 0
    assert idle["ratio"] == pytest.approx(idle["geosurvey_s"] / idle["baseline_s"])
