"""Batch runs: throughput and peak worker memory against a plain read-and-write pass; 2 workers
against 1 on a multi-area batch.

``python -m benchmarks.bench_batch [--quick]`` (or ``python -m benchmarks.run --only batch``).

* **demo areas**: :func:`geosurvey.demo.make_demo_areas` writes the demo survey (its static STAC
  catalogue, its occurrences and faults) and a registry whose agreed areas are parts of the demo square, so one
  catalogue serves every area, as a partner's catalogue serves many agreed areas.
* **throughput**: the batch (``geosurvey.runner.batch`` with the real ``run``) against a baseline
  that only reads every area's input rasters and writes them back as COGs on the same cluster
  (the I/O floor of any job), in Mpixel/s of analysis grid, with the peak memory (VmHWM) of every
  worker process.
* **scaling**: the same multi-area batch on a LocalCluster of 1 worker and of 2 workers
  (1 thread each), the fastest of 2 batches each; the goal is a speed-up of 1.7x or more. On a
  machine with 2 cores shared with other work the speed-up is bounded by the cores actually free;
  the row says how many there are.
* **two sizes**: 4 areas of 615² (25 m) and the same 4 areas on a 12.5 m grid, 1230² each (the
  demo rasters resampled: the pixel work of larger areas, such as a partner's 30-50 km survey
  blocks, from the same catalogue). ``--quick``: 2 areas on a 400 m grid, one batch each.
* **idle cluster**: the CPU seconds an idle LocalCluster of 2 workers uses in 5 s, as
  :func:`geosurvey.runner.dask_client` starts it against Dask's own settings (the CPU every batch
  on the embedded cluster shares the cores with).

Measured 2026-12-07 (2 vCPUs, 24 GiB), two full runs of the benchmark after the tasks that take
whole layers stopped copying their graphs (``scheduler.layer_task``), best of 2 batches each (the
host's own 2-process scaling, ``machine``, varied more between runs than anything measured here):

=========  ===========  ===========  ==========  ==========  ==========  ===============
areas      1 worker     2 workers    speed-up    ceiling     machine     client CPU (1w)
=========  ===========  ===========  ==========  ==========  ==========  ===============
4 x 615²   8.3-8.7 s    5.6-5.9 s    1.48x       1.62-1.66x  1.42-1.50x  2.5 s
4 x 1230²  25.2-25.3 s  14.2-14.8 s  1.70-1.78x  1.82-1.88x  1.62-1.80x  3.4-3.5 s
=========  ===========  ===========  ==========  ==========  ==========  ===============

Throughput on 2 workers: 0.26-0.27 Mpx/s at 615² and 0.41-0.43 Mpx/s at 1230², against 0.71-0.80
and 1.15-1.30 Mpx/s for the read-and-write pass (2.6-3.2x its time); peak worker memory 0.71-0.73
and 1.03-1.06 GiB; no worker lost. Idle cluster: 0.14-0.22 against 0.56 CPU s in 5 s.
Earlier the same day, with the fusable memberships alone: 4 x 615² 1.34-1.43x, 4 x 1230²
1.72-1.91x (27.6-30.0 s on 1 worker, 14.5-17.4 s on 2). On 2026-12-05, on a quieter host:
4 x 615² 1.47-1.49x (ceiling 1.62-1.67x), 4 x 1230² 1.74-1.77x (ceiling 1.82-1.85x).

The larger areas meet the goal (eight full runs of the last nine: 1.70x, 1.74x, 1.76x, 1.77x,
then 1.69x on a noisy host, 1.72x, 1.91x, 1.78x and 1.70x); the small ones do not, and the row's
``speedup_ceiling`` says why: the most 2 workers can gain is the 1-worker time over the 2-worker
batch's CPU seconds (workers and client) spread perfectly over the cores, 1.53-1.67x in these
runs. The client's work (each run's graphs, web map page,
manifests and records, and the embedded scheduler, which runs in the client's process) is
0.6-0.75 CPU s a job, growing little with its size: beside a worker's 2 s of a 615² job it takes
a quarter of a core, beside its 6 s of a 1230² job a tenth. With 1 worker the client has the second core to
itself; with 2 it takes its share from the workers. Where the client's time goes (py-spy,
samples holding the interpreter lock) is a long tail: the scheduler's event loop 20-30 %, graph
building of the stages 30 %, the web map page 15-20 %, no single step worth more than 0.1 s a
job. On a machine with a core free for the client, the small areas would scale as the large ones
do.

What moved the numbers (2-worker time of 4 x 1230², then the speed-up):

* client-side publishing made tasks, one worker per job while enough jobs are left (placement),
  the largest grids first: 29.9-30.9 s, 1.57-1.71x (2026-12-04);
* the embedded cluster quietened (``runner.LOCAL_CLUSTER_CONFIG``: no profiler in the workers,
  slower health ticks; idle 0.18 against 0.71 CPU s): 27.5-30.7 s, 1.59-1.72x;
* the workers' allocator (``runner.MALLOC_ENV``: Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` made
  every array over 128 KiB a fresh ``mmap``, a third of the workers' CPU system time):
  19.9-22.4 s, 1.61-1.80x;
* a coarse batch warming both workers before any clock (before it, the 2-worker batch paid the
  numba compilation and first imports of both workers and the 1-worker one of none);
* web map tiles only over the tiles the grid reaches (2026-12-05): 15.7 s, 1.70x;
* workers that import the run before the first job, and the long-lived objects of the client
  and of the workers kept out of full garbage collections (``gc.freeze``; 0.2 s a collection):
  14.4-14.7 s, 1.74-1.77x; client CPU at 615² 2.2-2.5 s to 1.9-2.1 s;
* memberships, the gamma operator and the median composite as one fusable block step each
  (``grid.map_layer_blocks``, 2026-12-07): 756 tasks instead of 1094 for 4 x 1230² (349 against
  400 at 615²), client CPU 4.1 against 4.7 s and workers' 30.9 against 33.4 s in one
  side-by-side pair; the host was too noisy that day to give a clean before-and-after speed-up;
* the tasks that take whole layers (COGs, web map images and tiles, evaluations, targets) take
  their blocks (``scheduler.layer_task``): ``dask.delayed`` gave each such task a copy of its
  layer's graph under new keys and a task assembling it, so two evaluations of one membership
  computed it twice: 225 tasks instead of 349 at 615², workers' CPU at 1230² 23.9-24.7 s
  against 30.9-33.4 s, client CPU 3.0 against 4.1-4.7 s, 2 workers 14.2-14.8 s.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._timing import best_of, peak_rss_mib
from geosurvey.demo import DemoAreas, make_demo_areas

# ------------------------------------------------------------------------------------ measuring


def _cpu_s() -> float:
    """On a worker (or here): CPU seconds (user + system) this process has used."""
    times = os.times()
    return times.user + times.system


def _args(data: DemoAreas, resolution: float) -> dict[str, Any]:
    return {
        "sources": [data.catalog],
        "occurrences": data.occurrences,
        "features": {"faults": data.faults},
        "registry": data.registry,
        "resolution": resolution,
    }


def _read_write(data: DemoAreas, out: Path, resolution: float, max_concurrent: int) -> int:
    """The baseline: load every area's recipe bands (as ``run`` loads them) and write them back
    as COGs, nothing else, ``max_concurrent`` areas at a time. Returns the grid pixels done."""
    from geosurvey.io import output_folder, write_cog
    from geosurvey.prospectivity import load_recipe
    from geosurvey.runner import check_area, find_items, load_datacube

    recipe = load_recipe("demo-iocg")
    out.mkdir(parents=True)

    def one(area_id: str) -> int:
        area = check_area(area_id, registry=data.registry)
        ds = load_datacube(find_items(area, [data.catalog]), area, recipe, resolution=resolution)
        with output_folder(out / area_id) as work:
            for name in ds.data_vars:
                write_cog(ds[name], work / f"{name}.tif")
        return int(ds.sizes["y"] * ds.sizes["x"])

    with concurrent.futures.ThreadPoolExecutor(max_concurrent) as pool:
        return sum(pool.map(one, data.area_ids))


def _batch(data: DemoAreas, out: Path, client: Any, *, resolution: float, max_concurrent: int):
    from geosurvey.runner import batch

    workers_cpu = client.run(_cpu_s)
    client_cpu = _cpu_s()
    start = time.perf_counter()
    result = batch(
        None,
        "demo-iocg",
        out_root=out,
        scheduler=client.scheduler.address,
        max_concurrent=max_concurrent,
        progress=False,
        echo=lambda _l: None,
        **_args(data, resolution),
    )
    seconds = time.perf_counter() - start
    # where the CPU went: this process (the runs' client-side stages, GIL-bound) vs the workers
    cpu = {
        "client_cpu_s": _cpu_s() - client_cpu,
        "workers_cpu_s": sum(
            now - workers_cpu.get(w, 0.0) for w, now in client.run(_cpu_s).items()
        ),
    }
    return result, seconds, cpu


def _fastest(data: DemoAreas, out: Path, client: Any, resolution: float, max_concurrent: int,
             repeats: int):
    """The fastest of ``repeats`` batches (each into its own folder: none resumes another), the
    least disturbed by other work on a shared machine."""
    runs = [
        _batch(data, out / str(i), client, resolution=resolution, max_concurrent=max_concurrent)
        for i in range(repeats)
    ]
    return min(runs, key=lambda r: r[1])


def _kernel(seed: int) -> float:
    """A fixed, memory-bound numpy task (element-wise on a 1024² float32 block, like a run's
    evidence and scoring blocks): the machine's own 2-process scaling, with no Dask graph, no
    client work and no data moving between workers."""
    import numpy as np

    block = np.random.default_rng(seed).random((1024, 1024), dtype=np.float32)
    total = 0.0
    for _ in range(12):
        total += float((np.sqrt(block) * np.log1p(block) + np.exp(-block)).sum())
    return total


def _kernel_s(client: Any, n_tasks: int = 8, repeats: int = 3) -> float:
    """Wall seconds for ``n_tasks`` kernel tasks on the client's workers (all at once), the
    best of ``repeats`` (the least disturbed by other work on a shared machine)."""
    import distributed

    def once() -> None:
        futures = client.map(_kernel, range(n_tasks), pure=False)
        distributed.wait(futures)
        client.cancel(futures)

    return best_of(once, repeats)


def _tree_cpu_s() -> float:
    """CPU seconds (user + system) of this process and every process it started (the embedded
    cluster's worker processes; its scheduler and nannies run in this one)."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:  # ended meanwhile
            continue
        total += times.user + times.system
    return total


def idle_cpu_s(seconds: float = 5.0) -> tuple[float, float]:
    """CPU seconds an idle LocalCluster of 2 workers uses in ``seconds``: as
    :func:`geosurvey.runner.dask_client` starts it (:data:`~geosurvey.runner.LOCAL_CLUSTER_CONFIG`)
    and, the baseline, the same cluster with Dask's own settings. CPU the workers of a batch
    share the cores with."""
    from distributed import Client, LocalCluster

    from geosurvey.runner import dask_client

    def idle() -> float:
        time.sleep(2.0)  # past the start
        start = _tree_cpu_s()
        time.sleep(seconds)
        return _tree_cpu_s() - start

    with dask_client("local", n_workers=2, memory_limit="1GiB"):
        ours = idle()
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, memory_limit="1GiB", host="127.0.0.1",
                     dashboard_address=None, processes=True) as cluster,
        Client(cluster),
    ):
        dasks = idle()
    return ours, dasks


def _pixels(result: Any) -> int:
    shapes = [
        json.loads((job.out / "manifest.json").read_text())["parameters"]["grid"]["shape"]
        for job in result.jobs
    ]
    return sum(ny * nx for ny, nx in shapes)


def measure(
    data: DemoAreas,
    out: Path,
    *,
    resolution: float,
    memory_limit: str = "4GiB",
    max_concurrent: int = 2,
    repeats: int = 1,
) -> dict[str, Any]:
    """On one LocalCluster of 2 single-threaded workers with ``memory_limit`` each: the
    read-and-write baseline (which also warms both workers up), a fixed numpy kernel and the batch
    on 2 workers, then one worker retired and the same batch and kernel on 1 worker. Each batch
    runs ``repeats`` times (into fresh folders) and the fastest counts, with its CPU seconds."""
    from geosurvey.runner import RUN_MODULES, dask_client

    row: dict[str, Any] = {}
    with dask_client("local", n_workers=2, memory_limit=memory_limit) as client:
        pids = client.run(os.getpid)
        # imports on the workers before any clock starts (the first batch would pay them alone)
        for module in RUN_MODULES:
            client.run(importlib.import_module, module)
        # and a coarse batch, so that both workers have compiled and cached what a run uses
        # (numba kernels, lazy imports) before the 2-worker batch, as the 1-worker one has after it
        _batch(data, out / "warm", client, resolution=resolution * 8, max_concurrent=max_concurrent)
        start = time.perf_counter()
        row["baseline_pixels"] = _read_write(data, out / "baseline", resolution, max_concurrent)
        row["baseline_s"] = time.perf_counter() - start
        row["kernel_two_s"] = _kernel_s(client)
        two, row["two_s"], row["two_cpu"] = _fastest(
            data, out / "two", client, resolution, max_concurrent, repeats
        )
        row["peak_mib"] = max(client.run(peak_rss_mib).values())
        row["workers_lost"] = len(set(pids.values()) - set(client.run(os.getpid).values()))
        client.retire_workers(workers=[sorted(client.scheduler_info()["workers"])[0]])
        client.wait_for_workers(1)
        assert len(client.scheduler_info()["workers"]) == 1
        one, row["one_s"], row["one_cpu"] = _fastest(
            data, out / "one", client, resolution, max_concurrent, repeats
        )
        row["kernel_one_s"] = _kernel_s(client)
    row["ok"] = two.ok and one.ok
    row["pixels"] = _pixels(two)
    return row


#: The full run's analysis pixel sizes, in metres: areas of 615² and of 1230² pixels. The demo
#: rasters are 25 m; the finer grid reads them resampled (the pixel work of a larger area, from
#: the same catalogue).
RESOLUTIONS = (25.0, 12.5)
#: The issue's goal for 2 workers over 1.
SPEEDUP_GOAL = 1.7


def _rows(m: dict[str, Any], n_areas: int, cores: int) -> list[dict[str, Any]]:
    mpix = m["pixels"] / 1e6
    side = round((m["pixels"] / n_areas) ** 0.5)
    speedup = m["one_s"] / m["two_s"]
    case = f"{n_areas} areas of {side}² ({mpix:.2f} Mpx)"
    return [
        {
            "benchmark": "batch",
            "case": f"{case}, vs read+write",
            "geosurvey_s": m["two_s"],
            "baseline_s": m["baseline_s"],
            "ratio": m["two_s"] / m["baseline_s"],
            "peak_mib": m["peak_mib"],
            "mpix_per_s": mpix / m["two_s"],
            "baseline_mpix_per_s": m["baseline_pixels"] / 1e6 / m["baseline_s"],
            "workers_lost": m["workers_lost"],
            "ok": m["ok"],
            **m["two_cpu"],
        },
        {
            "benchmark": "batch",
            "case": f"{case}, 2 workers vs 1 ({cores} cores)",
            "geosurvey_s": m["two_s"],
            "baseline_s": m["one_s"],
            "ratio": m["two_s"] / m["one_s"],
            "peak_mib": None,
            "speedup": speedup,
            "goal_met": speedup >= SPEEDUP_GOAL,
            # the most the 2-worker batch could gain here: its CPU seconds (workers and client,
            # which share the cores) spread perfectly over the cores
            "speedup_ceiling": m["one_s"] / (sum(m["two_cpu"].values()) / cores),
            # the same 2 workers against 1 on a plain numpy kernel: what this machine's cores
            # give memory-bound work with nothing else in the way
            "machine_speedup": m["kernel_one_s"] / m["kernel_two_s"],
            "cores": cores,
            "ok": m["ok"],
            "one_worker_client_cpu_s": m["one_cpu"]["client_cpu_s"],
            "one_worker_workers_cpu_s": m["one_cpu"]["workers_cpu_s"],
            # cores the 1-worker batch keeps busy (its worker, and the client beside it): 2
            # workers on `cores` cores can gain at most cores / this
            "one_worker_cores_busy": sum(m["one_cpu"].values()) / m["one_s"],
        },
    ]


def run(quick: bool = False) -> list[dict[str, Any]]:
    """The rows of ``benchmarks.run``: throughput against read-and-write, 2 workers against 1,
    for each of :data:`RESOLUTIONS` (one coarse grid with ``quick``)."""
    n_areas = 2 if quick else 4
    data_resolution = 400.0 if quick else 25.0
    resolutions = (data_resolution,) if quick else RESOLUTIONS
    repeats = 1 if quick else 2
    cores = len(os.sched_getaffinity(0))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="geosurvey-bench-batch-") as tmp:
        data = make_demo_areas(Path(tmp) / "data", n_areas=n_areas, resolution=data_resolution)
        for i, resolution in enumerate(resolutions):
            m = measure(data, Path(tmp) / f"case{i}", resolution=resolution, repeats=repeats)
            rows += _rows(m, n_areas, cores)
    idle_s = 2.0 if quick else 5.0
    ours, dasks = idle_cpu_s(idle_s)
    rows.append({
        "benchmark": "batch",
        "case": f"idle 2-worker cluster, CPU s in {idle_s:g} s",
        "geosurvey_s": ours,
        "baseline_s": dasks,
        "ratio": ours / dasks if dasks else None,
        "peak_mib": None,
    })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    args = parser.parse_args(argv)
    for row in run(quick=args.quick):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
