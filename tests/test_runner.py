"""Dask schedulers: the demo on real `dask scheduler` / `dask worker` processes equals the threaded run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio

from geosurvey.cli import main
from geosurvey.demo import run_demo
from geosurvey.errors import ClusterError, InputError
from geosurvey.runner import dask_client

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real scheduler process and a worker process (2 worker processes × 1 thread) on 127.0.0.1."""
    from distributed import Client

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask-logs")
    procs = [
        subprocess.Popen(
            [
                BIN / "dask",
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            stdout=open(logs / "scheduler.log", "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        subprocess.Popen(
            [
                BIN / "dask",
                "worker",
                address,
                "--nworkers",
                "2",
                "--nthreads",
                "1",
                "--memory-limit",
                "2GiB",
                "--host",
                "127.0.0.1",
                "--no-dashboard",
                "--local-directory",
                str(logs),
            ],
            stdout=open(logs / "worker.log", "w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
    ]
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout=5) as client:
                    client.wait_for_workers(2, timeout=max(1.0, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Dask cluster did not start; see {logs}") from None
                time.sleep(0.5)
        yield address
    finally:
        for proc in reversed(procs):
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def test_demo_on_real_scheduler_and_workers_equals_threads(
    tmp_path: Path, dask_cluster: str
) -> None:
    threads = run_demo(tmp_path / "threads", echo=lambda _m: None)
    cluster = run_demo(tmp_path / "cluster", scheduler=dask_cluster, echo=lambda _m: None)
    with rasterio.open(threads.score_cog) as a, rasterio.open(cluster.score_cog) as b:
        np.testing.assert_allclose(a.read(1), b.read(1), rtol=1e-6, atol=1e-7)
    report = json.loads(cluster.report.read_text())
    assert report["dask"].startswith(dask_cluster) and "2 workers" in report["dask"]
    assert json.loads(threads.report.read_text())["dask"] == "threads in this process"
    assert report["score"]["roc_auc"] == pytest.approx(
        json.loads(threads.report.read_text())["score"]["roc_auc"], abs=1e-9
    )


def test_unreachable_scheduler_is_refused_without_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    with (
        pytest.raises(ClusterError, match="cannot reach the Dask scheduler"),
        dask_client(address, timeout=2),
    ):
        pass
    assert main(["demo", "--out", str(tmp_path / "out"), "--scheduler", address]) == 1
    assert "cannot reach the Dask scheduler" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unknown_scheduler_name() -> None:
    with pytest.raises(InputError, match="unknown scheduler 'clusterr'"), dask_client("clusterr"):
        pass


def test_local_cluster_workers_have_a_bounded_gdal_cache(monkeypatch) -> None:
    from geosurvey.io import GDAL_CACHE_MIB

    monkeypatch.delenv("GDAL_CACHEMAX", raising=False)
    with dask_client("local", n_workers=1, memory_limit="1GiB") as client:
        (seen,) = client.run(lambda: os.environ.get("GDAL_CACHEMAX")).values()
    assert seen == str(GDAL_CACHE_MIB)
    monkeypatch.setenv("GDAL_CACHEMAX", "64")  # the user's choice is the workers' too
    with dask_client("local", n_workers=1, memory_limit="1GiB") as client:
        (seen,) = client.run(lambda: os.environ.get("GDAL_CACHEMAX")).values()
    assert seen == "64"


def test_local_cluster_runs_quiet_and_leaves_the_callers_config() -> None:
    """The embedded cluster starts with runner.LOCAL_CLUSTER_CONFIG (no dashboard to feed): its
    workers have no profiler, its scheduler checks its event loop every 200 ms; the caller's
    Dask settings are untouched, inside the block and after it."""
    import dask
    import distributed  # noqa: F401 - its settings loaded into Dask's

    from geosurvey.runner import LOCAL_CLUSTER_CONFIG

    def settings() -> dict[str, object]:
        return {key: dask.config.get(key, None) for key in LOCAL_CLUSTER_CONFIG}

    before = settings()
    assert before["distributed.worker.profile.enabled"] is True  # Dask's default here
    with dask_client("local", n_workers=1, memory_limit="1GiB") as client:
        assert settings() == before
        (profiling,) = client.run(
            lambda dask_worker: (
                dask.config.get("distributed.worker.profile.enabled"),
                "profile" in dask_worker.periodic_callbacks,
            )
        ).values()
        tick = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler._tick_interval)
    assert profiling == (False, False)
    assert tick == pytest.approx(0.2)
    assert settings() == before


def test_local_cluster_workers_allocate_from_kept_memory(monkeypatch) -> None:
    """The embedded cluster's workers start with runner.MALLOC_ENV (glibc keeps freed memory for
    the next arrays instead of Dask's trim-everything default); a value the user set wins; this
    process's environment is as it was once the block ends."""
    from geosurvey.runner import MALLOC_ENV

    def malloc_env() -> dict[str, str | None]:
        return {name: os.environ.get(name) for name in MALLOC_ENV}

    for name in MALLOC_ENV:
        monkeypatch.delenv(name, raising=False)
    with dask_client("local", n_workers=1, memory_limit="1GiB") as client:
        (seen,) = client.run(malloc_env).values()
    assert seen == {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(64 * 2**20)}
    assert malloc_env() == {name: None for name in MALLOC_ENV}

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # the user's choice is the workers' too
    with dask_client("local", n_workers=1, memory_limit="1GiB") as client:
        (seen,) = client.run(malloc_env).values()
    assert seen["MALLOC_TRIM_THRESHOLD_"] == "65536"
    assert os.environ["MALLOC_TRIM_THRESHOLD_"] == "65536"
    assert "MALLOC_MMAP_THRESHOLD_" not in os.environ
