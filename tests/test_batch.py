"""runner.batch: many areas on real Dask processes; record, resume, isolation, retries, refusals."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import rasterio
from batch_data import DemoBatch, RealCluster, demo_batch, small_run, start_cluster

from geosurvey.aoi import Registry
from geosurvey.cli import main
from geosurvey.demo import DemoAreas, make_demo_areas
from geosurvey.errors import InputError, OutputError
from geosurvey.prospectivity import load_recipe
from geosurvey.runner import batch
from geosurvey.runner._batch import is_transient

pytestmark = pytest.mark.slow
RECIPE = load_recipe("demo-iocg")
RECIPE_TEXT = RECIPE.text


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


@pytest.fixture(scope="module")
def areas(tmp_path_factory: pytest.TempPathFactory) -> DemoAreas:
    """Two agreed demo areas on the demo catalogue and one outside it (400 m grids: fast)."""
    return make_demo_areas(
        tmp_path_factory.mktemp("areas"), n_areas=2, resolution=400.0, outside=True
    )


def _real(demo: DemoAreas, out_root: Path, cluster: RealCluster, **kw):
    return batch(
        kw.pop("areas", None),
        kw.pop("recipe", "demo-iocg"),
        out_root=out_root,
        sources=[demo.catalog],
        occurrences=demo.occurrences,
        features={"faults": demo.faults},
        registry=demo.registry,
        resolution=400.0,
        scheduler=cluster.address,
        progress=False,
        echo=kw.pop("echo", lambda _line: None),
        **kw,
    )


@pytest.mark.filterwarnings("error:Sending large graph")
def test_batch_of_real_runs_records_isolates_and_resumes(
    tmp_path: Path, areas: DemoAreas, cluster: RealCluster
) -> None:
    lines: list[str] = []
    out = tmp_path / "out"
    result = _real(areas, out, cluster, echo=lines.append)
    by_area = {j.area_id: j for j in result.jobs}
    assert [j.area_id for j in result.jobs] == ["demo-a1", "demo-a2", "demo-outside"]
    assert by_area["demo-a1"].status == by_area["demo-a2"].status == "ok"
    # the area the catalogue does not cover fails with the run's own reason; the others go on
    outside = by_area["demo-outside"]
    assert outside.status == "failed" and "demo-outside" in outside.reason
    assert not outside.out.exists() and not result.ok
    assert "2 workers" in result.dask
    doc = json.loads(result.manifest.read_text())
    registry = Registry(areas.registry)
    recipe = load_recipe("demo-iocg")
    for job in (by_area["demo-a1"], by_area["demo-a2"]):
        entry = doc["jobs"][job.key]
        assert entry["status"] == "ok"
        assert entry["area_digest"] == registry.get(job.area_id).digest
        assert entry["recipe_sha256"].removeprefix("sha256:") == recipe.sha256.removeprefix(
            "sha256:"
        )
        assert entry["inputs"]["occurrences"]["sha256"] == _sha(areas.occurrences)
        assert entry["inputs"]["features"]["faults"]["sha256"] == _sha(areas.faults)
        # every input the run's manifest lists with a checksum, re-digested here independently
        recorded = {Path(i["path"]).name: i["sha256"] for i in entry["run_inputs"]}
        assert {"mag_tmi.tif", "swir16.tif", "occurrences.geojson", "faults.geojson"} <= set(
            recorded
        )
        for item in entry["run_inputs"]:
            assert item["sha256"] == _sha(Path(item["path"]))
        files = {p.relative_to(job.out).as_posix() for p in job.out.rglob("*") if p.is_file()}
        assert (
            set(entry["outputs"]) == files and {"score.tif", "report.json", "index.html"} <= files
        )
        for rel, meta in entry["outputs"].items():
            assert meta["sha256"] == _sha(job.out / rel)
        report = json.loads((job.out / "report.json").read_text())
        assert job.roc_auc == pytest.approx(report["score"]["roc_auc"], abs=1e-6)
        assert report["dask"].startswith(cluster.address)  # the run says it ran on the cluster
        assert entry["versions"]["geosurvey"] and entry["versions"]["distributed"]
    table = "\n".join(lines)
    for job in result.jobs:
        assert job.area_id in table
    assert f"{by_area['demo-a1'].roc_auc:.3f}" in table
    assert "2 succeeded, 0 skipped, 1 failed" in table
    assert not list(out.rglob("*.partial"))

    # re-run: the complete areas are skipped and not rewritten, the failed one is tried again
    before = _mtimes(out / "demo-a1")
    again = _real(areas, out, cluster)
    assert [j.status for j in again.jobs] == ["skipped", "skipped", "failed"]
    assert [j.roc_auc for j in again.jobs[:2]] == [j.roc_auc for j in result.jobs[:2]]
    assert _mtimes(out / "demo-a1") == before
    # one output gone: only that area is redone, and the reason says which file
    (out / "demo-a2" / "demo-iocg" / "score.tif").unlink()
    third = _real(areas, out, cluster, areas=["demo-a1", "demo-a2"])
    assert [j.status for j in third.jobs] == ["skipped", "ok"] and third.ok
    assert "score.tif" in third.jobs[1].reason


def test_cli_batch_exit_code_and_recipe_auto(
    tmp_path: Path, areas: DemoAreas, cluster: RealCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [
        "batch",
        "--registry",
        str(areas.registry),
        "--source",
        str(areas.catalog),
        "--occurrences",
        str(areas.occurrences),
        "--features",
        f"faults={areas.faults}",
        "--resolution",
        "400",
        "--scheduler",
        cluster.address,
        "--no-progress",
    ]
    code = main(
        [*common, "--area", "demo-a1", "--recipe", "demo-iocg", "--out-root", str(tmp_path / "one")]
    )
    assert code == 0, capsys.readouterr()
    assert "1 succeeded" in capsys.readouterr().out
    # auto: every recipe that serves the area's deposit model (iocg); exit 1 unless all succeed
    from geosurvey.prospectivity import recipes_for

    expected = [r.id for r, _why in recipes_for(Registry(areas.registry).get("demo-a1"))]
    code = main(
        [*common, "--area", "demo-a1", "--recipe", "auto", "--out-root", str(tmp_path / "auto")]
    )
    printed = capsys.readouterr().out
    doc = json.loads((tmp_path / "auto" / "batch.json").read_text())
    assert sorted(doc["jobs"]) == sorted(f"demo-a1/{r}" for r in expected)
    statuses = {k: v["status"] for k, v in doc["jobs"].items()}
    assert code == (0 if set(statuses.values()) == {"ok"} else 1)
    for recipe_id in expected:
        assert recipe_id in printed
    # usage errors: both a scheduler and a LocalCluster size
    assert main([*common, "--workers", "2", "--out-root", str(tmp_path / "x")]) == 2
    assert "--workers" in capsys.readouterr().err


def test_cli_batch_options_all_have_help() -> None:
    from typer.main import get_command

    from geosurvey.cli import app

    command = get_command(app).commands["batch"]
    for param in command.params:
        if param.name != "help":
            assert getattr(param, "help", None), param.name


def test_small_job_recipe_change_redoes_the_area(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster
) -> None:
    first = _batch(data, tmp_path / "out", cluster, areas=["demo-q1"])
    assert first.ok
    changed = tmp_path / "changed.toml"
    changed.write_text(RECIPE_TEXT + "\n# the same recipe id, other content\n")
    again = _batch(data, tmp_path / "out", cluster, recipe=load_recipe(changed), areas=["demo-q1"])
    assert [j.status for j in again.jobs] == ["ok"] and again.jobs[0].reason == "the recipe changed"


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



def _sized_registry(folder: Path) -> Path:
    """Agreed areas ``a-small`` (0.1° square), ``b-large`` (0.2°), ``c-small`` (0.1°) and
    ``d-mid`` (0.1° × 0.15°), given in that (the registry's) order; the jobs ignore their data."""
    import shapely

    from geosurvey.demo import demo_registry

    registry, keys = demo_registry(folder)
    for i, (area_id, dx, dy) in enumerate(
        [("a-small", 0.1, 0.1), ("b-large", 0.2, 0.2), ("c-small", 0.1, 0.1), ("d-mid", 0.1, 0.15)]
    ):
        west = -117.0 + 0.3 * i
        registry.propose(
            shapely.box(west, 35.0, west + dx, 35.0 + dy), id=area_id, name_en=area_id,
            name_ja=area_id, region=["US"], commodities=["Cu"], deposit_models=["iocg"],
            proposer="US", analysis_crs="EPSG:32611",
        )  # fmt: skip
        for code, (private, _public) in keys.items():
            registry.approve(area_id, party=code, private_key=private)
    return folder


def test_grid_pixels_is_the_geodesic_area_over_the_pixel(tmp_path: Path) -> None:
    from pyproj import Geod

    from geosurvey.runner._batch import grid_pixels

    area = Registry(_sized_registry(tmp_path / "aoi")).get("d-mid")
    m2, _perimeter = Geod(ellps="WGS84").geometry_area_perimeter(area.geometry)
    assert grid_pixels(area, RECIPE, 50.0) == float(f"{abs(m2) / 50.0**2:.2g}")
    assert grid_pixels(area, RECIPE) == float(f"{abs(m2) / 100.0**2:.2g}")  # the recipe's 100 m
    with pytest.raises(InputError, match="resolution must be a positive number of metres"):
        grid_pixels(area, RECIPE, -5.0)


def test_the_largest_areas_start_first_and_the_table_keeps_the_order(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster
) -> None:
    # Graham's rule: with a bounded number in flight, the longest jobs first; areas of the
    # same size in the order given
    started: list[str] = []

    def recording(area: str, recipe, *, out: Path, **_kw):
        started.append(area)
        out.mkdir(parents=True)
        (out / "done.txt").write_text(area, encoding="utf-8")
        return SimpleNamespace(report={"score": {"roc_auc": 0.5}})

    registry = _sized_registry(tmp_path / "aoi")
    result = batch(
        None, RECIPE, out_root=tmp_path / "out", sources=[data.sources], registry=registry,
        scheduler=cluster.address, progress=False, echo=lambda _line: None, job=recording,
        max_concurrent=1,
    )  # fmt: skip
    assert result.ok
    assert started == ["b-large", "d-mid", "a-small", "c-small"]
    assert [j.area_id for j in result.jobs] == ["a-small", "b-large", "c-small", "d-mid"]
    with pytest.raises(InputError, match="resolution must be a positive number of metres"):
        batch(None, RECIPE, out_root=tmp_path / "bad", registry=registry, resolution=0,
              scheduler=cluster.address, progress=False, job=recording)  # fmt: skip
    assert not (tmp_path / "bad").exists()

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


def test_a_foreign_folder_in_the_way_is_never_replaced(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster
) -> None:
    mine = tmp_path / "out" / "demo-q1" / "demo-iocg"
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("my own notes")
    result = _batch(data, tmp_path / "out", cluster, areas=["demo-q1", "demo-q2"])
    assert [j.status for j in result.jobs] == ["failed", "ok"]
    assert "is not the output of a geosurvey run" in result.jobs[0].reason
    assert (mine / "notes.txt").read_text() == "my own notes"


def test_progress_bar_and_per_area_lines(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    result = batch(
        ["demo-q1", "demo-q2"],
        RECIPE,
        out_root=tmp_path / "out",
        sources=[data.sources],
        occurrences=data.occurrences,
        registry=data.registry,
        scheduler=cluster.address,
        job=small_run,
        progress=True,
    )
    assert result.ok
    captured = capsys.readouterr()
    assert "areas: 100%" in captured.err and "2/2" in captured.err  # the overall bar (tqdm)
    for area in ("demo-q1", "demo-q2"):  # each area's own stage lines, prefixed with its job
        assert f"[{area}/demo-iocg] [1/2] evidence" in captured.out
        assert f"[{area}/demo-iocg] done in" in captured.out
    assert "2 succeeded, 0 skipped" in captured.out


def test_workers_dying_under_a_task_are_retried_once_with_a_memory_hint(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster
) -> None:
    from distributed import KilledWorker

    calls: list[str] = []

    def too_big(area: str, recipe, **kw):
        calls.append(area)
        raise KilledWorker("fft-whole-grid", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)

    result = _batch(
        data,
        tmp_path / "out",
        cluster,
        job=too_big,
        areas=["demo-q1"],
        attempts=4,
        retry_wait=0.01,
    )
    [job] = result.jobs
    assert job.status == "failed" and job.attempts == 2 and calls == ["demo-q1", "demo-q1"]
    assert "ran out of memory" in job.reason and "bytes per pixel" in job.reason


def test_jobs_in_flight_share_the_workers_memory(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster
) -> None:
    """Each run's budget for keeping layers in memory is its part of the one-run share: the
    workers' limits (as the scheduler reports them) x PERSIST_SHARE / the jobs in flight."""
    from distributed import Client

    from geosurvey.runner import _run, persist_budget

    with Client(cluster.address) as client:
        limits = sum(w["memory_limit"] for w in client.scheduler_info()["workers"].values())
    seen: list[int] = []

    def probing(area: str, recipe, **kw):
        seen.append(persist_budget())
        return small_run(area, recipe, **kw)

    result = _batch(data, tmp_path / "three", cluster, job=probing, max_concurrent=3)
    assert result.ok and seen == [int(_run.PERSIST_SHARE * limits / 3)] * len(result.jobs)
    seen.clear()  # fewer jobs than max_concurrent: they share among themselves only
    result = _batch(data, tmp_path / "one", cluster, job=probing, areas=["demo-q1"], max_concurrent=3)
    assert result.ok and seen == [int(_run.PERSIST_SHARE * limits)]


def test_each_job_prefers_its_own_worker_while_enough_jobs_are_left(cluster: RealCluster) -> None:
    # a job's tasks on one worker (no chunks travelling between them) while at least as many
    # jobs are unfinished as there are workers; a lone last job spreads over all of them
    import dask.array as dsa
    from distributed import Client, wait

    from geosurvey.runner._batch import _Batch

    with Client(cluster.address, timeout=10) as client:
        workers = sorted(client.scheduler_info()["workers"])
        assert len(workers) == 2
        state = _Batch(
            record=None, job_fn=small_run, run_kwargs={}, input_args={}, client=client,  # type: ignore[arg-type]
            dask="test", attempts=1, retry_wait=0.0, lang="en", say=lambda _l: None,
        )  # fmt: skip
        state.unfinished = 2
        chosen: dict[str, str | None] = {}
        ran: dict[str, set[str]] = {}
        entered = threading.Barrier(2)

        def job(key: str) -> None:
            with state.placement(key) as worker:
                chosen[key] = worker
                entered.wait(timeout=10)  # both jobs in flight at once
                x = (dsa.random.random((400, 400), chunks=100) + 1).persist()
                wait(x)
                ran[key] = {w for held in client.who_has(x).values() for w in held}

        threads = [threading.Thread(target=job, args=(k,)) for k in ("a", "b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert {chosen["a"], chosen["b"]} == set(workers)  # one worker each
        assert ran["a"] == {chosen["a"]} and ran["b"] == {chosen["b"]}
        assert not state.placed  # released when the jobs ended
        state.unfinished = 1
        with state.placement("c") as worker:
            assert worker is None


def test_workers_import_the_run_and_keep_it_out_of_full_collections(
    tmp_path: Path, data: DemoBatch, cluster: RealCluster
) -> None:
    """While a batch runs, this process and every worker hold their long-lived objects frozen
    (skipped by full garbage collections), the workers with the run's modules imported; when it
    ends, nothing is frozen and the workers no longer have the plugin."""
    import gc
    import sys

    from distributed import Client, get_client

    from geosurvey.runner import RUN_MODULES
    from geosurvey.runner._workers import FrozenImports

    def state() -> tuple[int, list[str]]:
        return gc.get_freeze_count(), [m for m in RUN_MODULES if m in sys.modules]

    during: list[tuple[int, dict[str, tuple[int, list[str]]]]] = []

    def probing(area: str, recipe, **kw):
        during.append((gc.get_freeze_count(), get_client().run(state)))
        return small_run(area, recipe, **kw)

    assert gc.get_freeze_count() == 0
    result = _batch(data, tmp_path / "b", cluster, job=probing, areas=["demo-q1", "demo-q2"])
    assert result.ok and len(during) == 2
    for here, workers in during:
        assert here > 10_000  # the client's modules, registry and catalogues
        assert len(workers) == 2
        assert all(n > 10_000 and mods == list(RUN_MODULES) for n, mods in workers.values())
    assert gc.get_freeze_count() == 0
    with Client(cluster.address) as client:
        assert all(n == 0 for n, _ in client.run(state).values())
        plugins = client.run(lambda dask_worker: list(dask_worker.plugins))
        assert not any(FrozenImports.name in names for names in plugins.values())


def test_workers_that_cannot_import_the_run_stop_it_before_anything_runs(
    cluster: RealCluster,
) -> None:
    import gc

    from distributed import Client

    from geosurvey.errors import ClusterError
    from geosurvey.runner._workers import FrozenImports, frozen_imports

    with Client(cluster.address) as client:
        with pytest.raises(ClusterError, match=r"cannot import geosurvey.*every worker"):
            with frozen_imports(client, modules=("geosurvey_not_installed_here",)):
                pytest.fail("the block ran")
        assert gc.get_freeze_count() == 0
        assert all(n == 0 for n in client.run(gc.get_freeze_count).values())
        # not left on the scheduler for workers that join later
        held = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.worker_plugins))
        assert FrozenImports.name not in held
