"""runner.batch under faults, with real processes: a worker SIGKILLed mid-batch, the batch itself
interrupted (SIGINT), the scheduler gone, an out_root that a worker cannot see."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from batch_data import RealCluster, start_cluster

from geosurvey.demo import DemoAreas, make_demo_areas
from geosurvey.errors import ClusterError, OutputError
from geosurvey.prospectivity import load_recipe
from geosurvey.runner import batch

pytestmark = pytest.mark.slow
RECIPE = load_recipe("demo-iocg")
TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> DemoAreas:
    return make_demo_areas(tmp_path_factory.mktemp("areas"), n_areas=2, resolution=400.0)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    """A real scheduler and two worker processes; a test that kills a worker adds a new one."""
    real = start_cluster(tmp_path_factory.mktemp("dask-logs"))
    try:
        yield real
    finally:
        real.stop()


def _args(data: DemoAreas) -> dict:
    return {
        "sources": [data.catalog],
        "occurrences": data.occurrences,
        "features": {"faults": data.faults},
        "registry": data.registry,
        "resolution": 400.0,
    }


def _run(data: DemoAreas, out: Path, address: str, **kw):
    return batch(
        kw.pop("areas", None),
        RECIPE,
        out_root=out,
        scheduler=address,
        progress=False,
        echo=lambda _l: None,
        **_args(data),
        **kw,
    )


def _statuses(out: Path) -> dict[str, str]:
    doc = json.loads((out / "batch.json").read_text())
    return {key: entry["status"] for key, entry in doc["jobs"].items()}


def _wait(predicate, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _one_done_one_running(out: Path) -> bool:
    try:
        st = _statuses(out)
    except (OSError, ValueError):
        return False
    return "ok" in st.values() and "running" in st.values()


def _no_partial(out: Path) -> None:
    hidden = [p for p in out.rglob(".*") if p.name not in (".batch.lock",)]
    assert hidden == [], hidden


def _assert_complete(out: Path) -> None:
    """Every output folder left holds exactly the outputs its record lists, readable."""
    doc = json.loads((out / "batch.json").read_text())
    for key, entry in doc["jobs"].items():
        folder = out / key
        if entry["status"] == "ok":
            assert {
                p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()
            } == set(entry["outputs"])
            with rasterio.open(folder / "score.tif") as src:
                assert np.isfinite(src.read(1)).any()
        else:
            assert not folder.exists(), f"{key} is {entry['status']} but has an output folder"


def test_worker_killed_mid_batch(tmp_path: Path, data: DemoAreas, cluster: RealCluster) -> None:
    from distributed import Client

    try:
        clean = _run(data, tmp_path / "clean", cluster.address)
        assert clean.ok
        box: dict[str, object] = {}
        thread = threading.Thread(
            target=lambda: box.setdefault(
                "result", _run(data, tmp_path / "faulty", cluster.address)
            )
        )
        with Client(cluster.address, timeout=5) as watcher:
            pids = watcher.run(os.getpid)
            thread.start()
            # kill the worker that is computing something, while a job is in flight
            _wait(lambda: any(watcher.processing().values()), what="tasks on a worker")
            busy = next(w for w, keys in watcher.processing().items() if keys)
            os.kill(pids[busy], signal.SIGKILL)
            killed_at = time.monotonic()
            thread.join(timeout=120)
            assert len(watcher.scheduler_info()["workers"]) == 1
        result = box["result"]
        assert result.ok, result.table()
        assert any(
            json.loads((tmp_path / "faulty" / "batch.json").read_text())["jobs"][j.key]["finished"]
            for j in result.jobs
        )
        assert time.monotonic() - killed_at < 120
        for a, b in zip(clean.jobs, result.jobs, strict=True):
            for rel in ("score.tif", "evidence/tilt.tif", "evidence/fault_distance.tif"):
                with rasterio.open(a.out / rel) as x, rasterio.open(b.out / rel) as y:
                    np.testing.assert_array_equal(x.read(1), y.read(1))
                    assert x.transform == y.transform
        _no_partial(tmp_path / "faulty")
        _assert_complete(tmp_path / "faulty")
    finally:
        cluster.add_worker()  # back to two workers for the next test
        cluster.wait_for_workers(2)


def test_sigint_leaves_complete_outputs_and_the_next_run_resumes(
    tmp_path: Path, data: DemoAreas, cluster: RealCluster
) -> None:
    """``geosurvey batch`` in its own process, interrupted with SIGINT while an area is in flight."""
    out = tmp_path / "out"
    cmd = [
        str(Path(sys.executable).parent / "geosurvey"),
        "batch",
        "--registry",
        str(data.registry),
        "--source",
        str(data.catalog),
        "--occurrences",
        str(data.occurrences),
        "--features",
        f"faults={data.faults}",
        "--resolution",
        "400",
        "--recipe",
        "demo-iocg",
        "--scheduler",
        cluster.address,
        "--max-concurrent",
        "1",
        "--no-progress",
        "--out-root",
        str(out),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


    _wait(lambda: _one_done_one_running(out), timeout=120, what="one finished area and one in flight")
    time.sleep(0.5)  # into the run's stages
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, output
    assert "geosurvey: interrupted" in output
    st = _statuses(out)
    assert "running" not in st.values(), st  # the area in flight is recorded as interrupted
    assert list(st.values()).count("ok") == 1 and "interrupted" in st.values(), st
    _no_partial(out)
    _assert_complete(out)
    done = {k for k, v in st.items() if v == "ok"}
    again = _run(data, out, cluster.address)
    assert again.ok
    assert {j.key for j in again.jobs if j.status == "skipped"} == done
    assert {j.key for j in again.jobs if j.status == "ok"} == {j.key for j in again.jobs} - done


def test_scheduler_gone_mid_batch_gives_a_clear_error_and_a_resumable_state(
    tmp_path: Path, data: DemoAreas
) -> None:
    cluster = start_cluster(tmp_path / "logs")
    out = tmp_path / "out"
    port = int(cluster.address.rsplit(":", 1)[1])
    try:
        box: dict[str, BaseException] = {}

        def target() -> None:
            try:
                _run(data, out, cluster.address, max_concurrent=1, timeout=3)
            except BaseException as exc:
                box["error"] = exc

        thread = threading.Thread(target=target)
        thread.start()
        # kill while the second area is in flight (else a fast machine finishes the batch first)
        _wait(lambda: _one_done_one_running(out), what="a finished job and one in flight")
        os.killpg(cluster.scheduler.pid, signal.SIGKILL)
        thread.join(timeout=90)
        assert not thread.is_alive()
        error = box.get("error")
        assert isinstance(error, ClusterError), repr(error)
        assert "lost the Dask scheduler" in str(error) and "re-run the batch to resume" in str(
            error
        )
        st = _statuses(out)
        assert "running" not in st.values() and "ok" in st.values()
        _no_partial(out)
        _assert_complete(out)
    finally:
        cluster.stop()
    done = {k for k, v in st.items() if v == "ok"}
    fresh = start_cluster(tmp_path / "logs2", port=port)  # the scheduler back at its address
    try:
        again = _run(data, out, fresh.address)
        assert again.ok
        assert {j.key for j in again.jobs if j.status == "skipped"} == done
    finally:
        fresh.stop()


def _can_unshare() -> bool:
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0
    except OSError:
        return False


@pytest.mark.skipif(
    not _can_unshare(),
    reason="needs 'unshare -m' (a mount namespace) to give a worker its own view of the disk",
)
def test_out_root_that_a_worker_cannot_see_is_refused(
    tmp_path: Path, data: DemoAreas, cluster: RealCluster
) -> None:
    """A worker in its own mount namespace, with an empty tmpfs over the batch's folder, stands for
    a worker on another host that does not mount the client's disk."""
    shared = tmp_path / "site"
    shared.mkdir()
    blind = cluster.add_worker(
        prefix=["unshare", "-m", "sh", "-c", f'mount -t tmpfs tmpfs "{shared}" && exec "$0" "$@"']
    )
    try:
        cluster.wait_for_workers(3)
        with pytest.raises(OutputError, match=r"not visible to 1 of 3 Dask workers .*cannot read"):
            _run(data, shared / "out", cluster.address)
        assert [p.name for p in (shared / "out").iterdir()] == [".batch.lock"]
    finally:
        os.killpg(blind.pid, signal.SIGTERM)
        blind.wait(timeout=30)
        cluster.workers.remove(blind)
