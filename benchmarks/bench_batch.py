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

Measured (2 vCPUs, 24 GiB, under the shared CPU lock; 4 demo areas of 615² at 25 m, 1.51 Mpx):

=====================================  ==========  =========  ===============  ================
run                                    1 worker    2 workers  client CPU (2w)  workers CPU (2w)
=====================================  ==========  =========  ===============  ================
client-side publish (2026-12-01)       15.5 s      ~12.1 s    16.5 s (1w)      5.0 s (1w)
pixel work as tasks                    17.1 s      12.9 s     3.2 s            19.6 s
+ one worker per job (placement)       16.4-17.1   10.8-11.7  2.5-2.8 s        17.3-18.6 s
=====================================  ==========  =========  ===============  ================

Speed-up now 1.41-1.49x (five runs; one outlier at 1.17x with the workers' CPU inflated by a
third), short of the 1.7x goal, and the row's ``speedup_ceiling`` says why: it divides the
1-worker time by the 2-worker batch's CPU seconds spread perfectly over the cores, and comes out
at 1.50-1.58x. On 2 cores the client (the scheduler runs in its process, and each run builds its
graphs there: about 0.6 CPU s an area) shares the cores with the two workers, and the workers'
CPU grows by 5-10 % when there are two of them (contention for cache and memory bandwidth: with
placement fewer than 40 chunks, 13 MB, travel between workers in the whole batch). 1.7x needs a
machine with a core free for the client. The baseline read-and-write pass: 2.2-2.4 s
(0.63-0.69 Mpx/s).

The row's ``machine_speedup`` is the same 2 workers against 1 on a fixed numpy kernel (element-wise
on 1024² float32 blocks, no graph, no client work, nothing moving between workers): what this
machine gives memory-bound work at all. Re-measured 2026-12-03 after the paletted tiles (the batch
is faster: 1 worker 13.2-17.6 s, 2 workers 10.5-12.4 s): batch 1.24-1.42x, ceiling 1.40-1.55x,
machine 1.36-1.61x in the same runs.

Those runs were unfair to 2 workers: the 2-worker batch came first after the read-and-write
warm-up, so both workers compiled the numba kernels and made their first imports inside its
clock, and the 1-worker batch, second, found its worker warm (2026-12-03, later: workers' CPU
19.2 s with 2 against 15.1 s with 1, speed-up 1.19x, while the kernel gave 1.74x). Since a coarse
batch (8x the pixel size) warms both workers up first, the workers' CPU is the same either way
(14.0 against 14.2 s) and the speed-up 1.50-1.56x (4 areas, ``max_concurrent`` 2 or 3; 8 areas:
1.56x), machine 1.77-1.84x in the same runs. What is left is the client: the 1-worker batch
already keeps 1.22-1.23 cores busy (``one_worker_cores_busy``: its worker, and beside it the
runs' client-side stages and the scheduler, about 0.6 CPU s an area), so 2 workers on 2 cores can
gain at most 2 / 1.22 = 1.63x. 1.7x needs a core for the client besides the workers' cores.

2026-12-04, both sizes, best of 2 batches each, four full runs of the benchmark:

=============  ============  ===========  ==========  ==================  ==========================
areas          1 worker      2 workers    speed-up    machine (same run)  client CPU, 1 worker
=============  ============  ===========  ==========  ==================  ==========================
4 x 615²       12.9-16.5 s   8.2-8.9 s    1.45-1.91x  1.13-1.98x          2.4-4.0 s of 15-20 s
4 x 1230²      47.7-52.5 s   29.9-30.9 s  1.57-1.71x  1.45-1.85x          5.7-6.8 s of 56-63 s
=============  ============  ===========  ==========  ==================  ==========================

The goal is met in 2 of the 4 runs on the larger areas and missed by up to 8 % in the others
(the 1.91x on the small areas came with a 1-worker batch slowed by other work, 16.5 s against
12.9 s in two other runs). The client's share does not shrink as the areas grow
(``one_worker_cores_busy`` 1.19-1.24 at both sizes): its work (the runs' graphs, and the
scheduler, which runs in the client's process: about 1,100 tasks for the 4 larger areas) grows
with the chunks. Where the client's time goes (py-spy, 1230², 2 workers, samples holding the
GIL): the scheduler's event loop 45 % (task transitions and messages; the 20 ms event-loop ticks
of the scheduler and the two nannies alone keep 4.6 % of a core busy when all is idle), the
runs' stages 35 % (graph building, the web map page, manifests), pickling 0.45 CPU s in all; no
single step is worth removing. The workers' CPU differs by -4 % to +21 % between the 1-worker
and the 2-worker batch of one run (other work on the host, or two areas' blocks interleaved in
one process), which is in every speed-up above. On this host 1.7x is within reach but not
assured; a machine with a core free for the client settles it.

Later on 2026-12-04 the embedded cluster was quietened (``runner.LOCAL_CLUSTER_CONFIG``: no
profiler in the workers, slower health ticks and system samples; it has no dashboard to feed):
idle, 0.18 against 0.71 CPU s in 5 s. In a timeline of the 2-worker batch of 4 x 1230² (task
stream and per-process CPU, 0.25 s samples) the cores are 92-97 % busy: the first second goes to
building the first two runs' graphs, and the last job, held on one worker, leaves the other idle
for its last 1-3 s (its web map tiles). Two runs each of the larger case, alternating: quiet
1.70x and 1.59x (client CPU with 1 worker 5.6 and 5.1 s), Dask's settings 1.63x and 1.72x (6.6
and 5.9 s); the 2-worker times, 27.5-30.7 s, vary more between runs than the settings move them.
A full run of the benchmark after it: 615² 1.48x (machine 1.39x), 1230² 1.67x (machine 1.53x,
ceiling 1.79x), the 1-worker batch's cores busy 1.20 and 1.15 (client CPU at 1230² 4.4 s, 5.7-6.8
before), idle cluster 0.16 against 0.55 CPU s; throughput 1230² 0.22 Mpx/s (read-and-write 1.04),
peak worker 1.34 GiB. The batch now scales better than the machine's own kernel in the same run;
the goal is still missed by 2 % on the larger areas.

Then the workers' allocator (``runner.MALLOC_ENV``: Dask's ``MALLOC_TRIM_THRESHOLD_=65536`` made
every array over 128 KiB a fresh ``mmap``; a third of the workers' CPU was system time). A full
run after it: 615² 1 worker 10.5 s, 2 workers 6.4 s, 1.64x (machine 1.80x); 1230² 1 worker
37.9 s, 2 workers 22.4 s (27.8 s in the run above), 1.69x (ceiling 1.80x; machine 1.08x, the
host busy with other work); throughput 1230² 0.27 Mpx/s, 3.0x the read-and-write pass (which
gains less: 7.4 s, 0.82 Mpx/s); peak worker 1.36 GiB; idle cluster 0.21 against 0.74 CPU s. The
goal is missed by 1 % on the larger areas: a faster batch, its speed-up as before. A second full
run: 615² 10.7 s and 6.6 s, 1.62x (machine 1.64x); 1230² 37.4 s and 20.8 s, **1.80x** (ceiling
1.92x, machine 1.68x), 0.29 Mpx/s, peak worker 1.37 GiB; idle 0.18 against 0.63 CPU s. The
larger areas now meet the goal in one run of two, the smaller ones in none. A third run, on a
quieter host: 615² 9.2 s and 6.3 s, 1.46x (machine 1.73x); 1230² 32.1 s and 19.9 s, 1.61x
(ceiling 1.74x: the 1-worker batch kept 1.12 cores busy, the client's graphs beside the
worker), 0.30 Mpx/s, peak worker 1.43 GiB; idle 0.15 against 0.41 CPU s. Both batches were
the fastest yet; the 1-worker one gained more. Pinning a job only while more jobs are
unfinished than workers (the last one spreading) made no difference: 20.1-20.8 s against
20.1-21.0 s, three batches each.
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
    from geosurvey.runner import dask_client

    row: dict[str, Any] = {}
    with dask_client("local", n_workers=2, memory_limit=memory_limit) as client:
        pids = client.run(os.getpid)
        # imports on the workers before any clock starts (the first batch would pay them alone)
        for module in ("geosurvey.runner", "geosurvey.evidence", "geosurvey.publish"):
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
