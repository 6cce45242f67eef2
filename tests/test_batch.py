"""runner.batch: many areas on real Dask processes; record, resume, isolation, retries, refusals."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import rasterio
from batch_data import DemoBatch, RealCluster, demo_batch, small_run, start_cluster

from geosurvey.aoi import Registry
from geosurvey.errors import InputError, OutputError
from geosurvey.prospectivity import load_recipe
from geosurvey.runner import batch
from geosurvey.runner._batch import is_transient

pytestmark = pytest.mark.slow
RECIPE = load_recipe("demo-iocg")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> DemoBatch:
    return demo_batch(tmp_path_factory.mktemp("batch-data"), n_areas=4)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    real = start_cluster(tmp_path_factory.mktemp("dask-logs"))
    try:
        yield real
    finally:
        real.stop()


def _batch(data: DemoBatch, out_root: Path, cluster: RealCluster, **kw):
    kw.setdefault("job", small_run)
    return batch(
        kw.pop("areas", None),
        kw.pop("recipe", RECIPE),
        out_root=out_root,
        sources=[data.sources],
        occurrences=data.occurrences,
        registry=data.registry,
        scheduler=kw.pop("scheduler", cluster.address),
        progress=False,
        echo=kw.pop("echo", lambda _line: None),
        **kw,
    )


def _sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _mtimes(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.mark.filterwarnings("error:Sending large graph")
def test_batch_records_every_area_and_resumes(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster
) -> None:
    lines: list[str] = []
    result = _batch(data, tmp_path / "out", cluster, echo=lines.append)
    assert result.ok and [j.status for j in result.jobs] == ["ok"] * 4
    assert [j.area_id for j in result.jobs] == list(data.area_ids)
    assert "2 workers" in result.dask
    doc = json.loads(result.manifest.read_text())
    registry = Registry(data.registry)
    for job in result.jobs:
        entry = doc["jobs"][job.key]
        assert entry["status"] == "ok"
        assert entry["area_digest"] == registry.get(job.area_id).digest
        # inputs digested independently: the folder of COGs and the occurrences file
        assert entry["inputs"]["occurrences"]["sha256"] == _sha(data.occurrences)
        [mag] = entry["run_inputs"]
        assert mag["sha256"] == _sha(data.sources / "mag_tmi.tif")
        assert set(entry["outputs"]) == {
            "score.tif",
            "evidence/tilt.tif",
            "report.json",
            "manifest.json",
        }
        for rel, meta in entry["outputs"].items():
            assert meta["sha256"] == _sha(job.out / rel)
        report = json.loads((job.out / "report.json").read_text())
        assert job.roc_auc == pytest.approx(report["score"]["roc_auc"], abs=1e-6)
        assert entry["versions"]["geosurvey"]
    # the final table names each area with its status and AUC
    table = "\n".join(lines)
    for job in result.jobs:
        assert job.area_id in table and f"{job.roc_auc:.3f}" in table
    assert "4 succeeded, 0 skipped, 0 failed" in table

    # re-run: everything skipped, nothing rewritten, no cluster needed
    before = _mtimes(tmp_path / "out")
    again = batch(
        None,
        RECIPE,
        out_root=tmp_path / "out",
        sources=[data.sources],
        occurrences=data.occurrences,
        registry=data.registry,
        scheduler="tcp://127.0.0.1:9",
        job=small_run,
        progress=False,
        echo=lambda _l: None,
    )
    assert [j.status for j in again.jobs] == ["skipped"] * 4 and again.ok
    assert [j.roc_auc for j in again.jobs] == [j.roc_auc for j in result.jobs]
    after = _mtimes(tmp_path / "out")
    assert {k: v for k, v in after.items() if not k.endswith("batch.json")} == {
        k: v for k, v in before.items() if not k.endswith("batch.json")
    }

    # one output removed: only that area is redone; a changed recipe: every area is redone
    (tmp_path / "out" / "demo-q2" / "demo-iocg" / "score.tif").unlink()
    third = _batch(data, tmp_path / "out", cluster)
    assert [j.status for j in third.jobs] == ["skipped", "ok", "skipped", "skipped"]
    assert "score.tif" in third.jobs[1].reason
    changed = tmp_path / "changed.toml"
    changed.write_text(
        RECIPE_TEXT.replace("gamma = 0.8", "gamma = 0.7")
        if "gamma = 0.8" in RECIPE_TEXT
        else RECIPE_TEXT + "\n# changed\n"
    )
    fourth = _batch(data, tmp_path / "out", cluster, recipe=load_recipe(changed), areas=["demo-q1"])
    # a recipe with the same id but other content redoes the area
    assert [j.status for j in fourth.jobs] == ["ok"] and "recipe" in fourth.jobs[0].reason


RECIPE_TEXT = (
    Path(__file__).resolve().parents[1] / "geosurvey" / "data" / "recipes" / "demo-iocg.toml"
).read_text()


def test_one_failing_area_does_not_stop_the_others(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster
) -> None:
    def flaky(area: str, recipe, **kw):
        if area == "demo-q2":
            raise InputError("raster mag_tmi.tif of demo-q2 is corrupt; re-download it")
        return small_run(area, recipe, **kw)

    result = _batch(data, tmp_path / "out", cluster, job=flaky)
    assert not result.ok
    status = {j.area_id: j for j in result.jobs}
    assert [status[a].status for a in data.area_ids] == ["ok", "failed", "ok", "ok"]
    assert status["demo-q2"].reason == "raster mag_tmi.tif of demo-q2 is corrupt; re-download it"
    assert "corrupt" in result.table()
    assert not (tmp_path / "out" / "demo-q2" / "demo-iocg").exists()
    record = json.loads(result.manifest.read_text())["jobs"]["demo-q2/demo-iocg"]
    assert record["status"] == "failed" and "corrupt" in record["reason"]
    # fixed: the next run redoes only the failed area
    again = _batch(data, tmp_path / "out", cluster)
    assert [j.status for j in again.jobs] == ["skipped", "ok", "skipped", "skipped"]
    assert again.ok


def test_transient_read_errors_are_retried_with_backoff(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster
) -> None:
    calls: dict[str, int] = {}
    lock = threading.Lock()

    def unreliable(area: str, recipe, **kw):
        with lock:
            calls[area] = calls.get(area, 0) + 1
            n = calls[area]
        if area == "demo-q1" and n == 1:
            raise ConnectionResetError("connection reset by peer reading mag_tmi.tif")
        if area == "demo-q3":
            raise TimeoutError("timed out reading mag_tmi.tif")
        return small_run(area, recipe, **kw)

    lines: list[str] = []
    result = _batch(
        data,
        tmp_path / "out",
        cluster,
        job=unreliable,
        areas=["demo-q1", "demo-q3"],
        attempts=3,
        retry_wait=0.05,
        echo=lines.append,
    )
    by_area = {j.area_id: j for j in result.jobs}
    assert by_area["demo-q1"].status == "ok" and by_area["demo-q1"].attempts == 2
    assert by_area["demo-q3"].status == "failed" and by_area["demo-q3"].attempts == 3
    assert calls == {"demo-q1": 2, "demo-q3": 3}
    assert "timed out" in by_area["demo-q3"].reason


def test_what_counts_as_transient() -> None:
    import rasterio.errors

    from geosurvey.errors import CatalogUnreachableError, ClusterError

    assert is_transient(ConnectionResetError("reset"))
    assert is_transient(CatalogUnreachableError("STAC API at http://x unreachable after retries"))
    assert is_transient(rasterio.errors.RasterioIOError("HTTP response code: 503"))
    assert not is_transient(
        rasterio.errors.RasterioIOError("not recognized as a supported file format")
    )
    assert not is_transient(ClusterError("cannot reach the Dask scheduler"))
    wrapped = InputError("cannot read raster a.tif")
    wrapped.__cause__ = TimeoutError("timed out")
    assert is_transient(wrapped)
    assert not is_transient(InputError("raster a.tif has no CRS"))


def test_one_batch_at_a_time_and_leftovers_removed(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster
) -> None:
    import filelock

    out = tmp_path / "out"
    leftover = out / "demo-q1" / ".demo-iocg.abc123.partial"
    leftover.mkdir(parents=True)
    (leftover / "score.tif").write_bytes(b"half")
    with filelock.FileLock(str(out / ".batch.lock")):
        with pytest.raises(OutputError, match="another batch is writing to"):
            _batch(data, out, cluster, areas=["demo-q1"])
        assert leftover.exists()
    result = _batch(data, out, cluster, areas=["demo-q1"])
    assert result.ok and not leftover.exists()
    assert not list(out.rglob("*.partial"))


def test_selection_is_checked_before_anything_runs(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster
) -> None:
    from geosurvey.errors import MissingInputError

    with pytest.raises(MissingInputError, match="no area 'nowhere'"):
        _batch(data, tmp_path / "out", cluster, areas=["demo-q1", "nowhere"])
    with pytest.raises(InputError, match="named more than once: demo-q1"):
        _batch(data, tmp_path / "out", cluster, areas=["demo-q1", "demo-q1"])
    with pytest.raises(InputError, match="is not an address"):
        _batch(data, tmp_path / "out", cluster, scheduler="localhost")
    assert not (tmp_path / "out").exists()


def test_scores_equal_a_direct_computation(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster
) -> None:
    """The batch's outputs are the job's own: equal to running the job in this process on threads."""
    result = _batch(data, tmp_path / "out", cluster, areas=["demo-q2"])
    small_run(
        "demo-q2",
        RECIPE,
        sources=data.sources,
        out=tmp_path / "direct",
        occurrences=data.occurrences,
        registry=data.registry,
        echo=lambda _l: None,
    )
    with (
        rasterio.open(result.jobs[0].out / "score.tif") as a,
        rasterio.open(tmp_path / "direct" / "score.tif") as b,
    ):
        np.testing.assert_array_equal(a.read(1), b.read(1))
