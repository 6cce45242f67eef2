"""One large area on workers with 4 GiB each: throughput and peak worker memory, against a plain
read-and-write pass of the same files.

``python -m benchmarks.bench_large [--n N] [--folder DIR] [--quick]`` (default N = 20,000: six
20,000² float32 layers, 9.6 GB). ``python -m benchmarks.run --only large`` runs it at N = 1024
with ``--quick`` (the tests run its path at 600²) and otherwise at ``GEOSURVEY_BENCH_LARGE_N`` (default 4000): the full size is
opt-in, it takes tens of minutes and about 30 GB of disk.

* **data**: six N² float32 tiled COGs at 10 m (smooth fields of a few plane waves plus white
  noise, in realistic units: K %, eTh ppm, eU ppm, total magnetic intensity nT, SWIR1 and SWIR2
  reflectance), written block by block (memory one block), a static STAC catalogue over them
  (:func:`geosurvey.catalogs.create_item` / :func:`~geosurvey.catalogs.write_catalog`), a
  registry with one area agreed by two demo parties (keys generated in memory, as
  :func:`geosurvey.demo.make_demo_areas` does) covering the grid, 50 occurrences (40 where the
  smooth fields favour them, 10 anywhere), and a recipe whose evidence is block-wise: the fuzzy
  membership of each band, combined by fuzzy gamma. Whole-grid steps (the FFT transforms of
  magnetic data) cannot fit 4 GiB at this size, and the run refuses them before starting
  (:func:`geosurvey.evidence.check_whole_grid_memory` states the memory they need); a recipe of
  memberships, distances and local filters is what a large area runs.
* **run**: :func:`geosurvey.runner.batch` for that one area on a LocalCluster of 2
  single-threaded workers with ``memory_limit="4GiB"``: the Mpixel/s of analysis grid, the peak
  resident memory (VmHWM) of the worker processes, workers lost (pids before and after), ok.
  The evidence (9.6 GB at N = 20,000) does not fit in :data:`geosurvey.runner._run.PERSIST_SHARE`
  of the workers' 8 GiB, so the run writes each layer to its output COG as it is made, and the
  later stages read the layers back from there block by block; the evaluation is block-wise
  (:func:`geosurvey.evaluation.evaluate_blockwise`).
* **baseline**: on a fresh cluster of the same size, read the six COGs and write them back as
  COGs (:func:`geosurvey.io.write_cog_task`), in Mpixel/s of grid.

Measured (2 vCPUs, 24 GiB, 2 workers × 4 GiB):

=========  ============  ==========  ==============  ============  ==========================
N          run           Mpixel/s    peak worker     workers lost  read+write baseline
=========  ============  ==========  ==============  ============  ==========================
1024       8.8 s         0.12        734 MiB         0             0.58 s, 1.80 Mpx/s
4000       77-80 s       0.20        1974-1994 MiB   0             7.1-10.0 s, 1.6-2.3 Mpx/s
20,000     1411 s        0.28        3457 MiB        0             205 s, 1.95 Mpx/s (868 MiB)
20,000     1189 s        0.34        2935 MiB        0             256 s, 1.56 Mpx/s (866 MiB)
20,000     724 s         0.55        3321 MiB        0             167 s, 2.39 Mpx/s (1086 MiB)
20,000     563 s         0.71        3143 MiB        0             137 s, 2.92 Mpx/s (1111 MiB)
=========  ============  ==========  ==============  ============  ==========================

At N = 20,000 (2026-12-02, commit 6eb175b, the machine otherwise idle): the run took 23.5 min, 6.9x the plain read-and-write pass
of the same six files, and succeeded (ROC AUC 0.874 on the 50 occurrences). The stages, from its
progress lines: evidence 430 s (each membership written to its COG as it is made, one
submission a layer), score 0.1 s (lazy: fuzzy gamma of the memberships read back), evaluation
418 s (the score written, then the block-wise passes over the seven grids), outputs 510 s (COGs
already written are kept; targets, plots, statistics, the web map's tiles from overviews, the
STAC catalogue). The workers' peak resident memory was 3457 MiB of the 4 GiB limit (one worker
paused for 0.1 s at 83 % during the evaluation, with 3.1 GiB of unmanaged memory), and no worker
was lost. One submission still triggered Dask's large-graph warning (11 MiB). It is not the
spilled score (1.3 MB at this size) nor a COG write (211 KiB a layer): a second run of
:func:`geosurvey.runner.run` at this size with a hook printing the warning's stack (10.66 MiB)
found it in ``write_outputs``' one ``dask.compute`` of the COGs still to write and the side
tasks (targets on the overview, the evaluation plots, the statistics); that run: evidence
332 s, score 114 s, evaluation 272 s. Since commit 09a9b00 that compute is one submission a COG
and a side task (:func:`geosurvey.runner.compute_each`), and the targets task takes the
averaged-down score and layers kept apart. The same hooked run at that commit (2026-12-02, with
the warning threshold lowered to 4 MB to see the margin) sent no graph over 10 MB: the largest
was 4.48 MiB (the web map's averaged-down rasters), and none came from ``write_outputs``'
compute. It took 1227 s (evidence 389 s, score 126 s, evaluation 305 s, outputs 406 s), ROC AUC
0.874, 138 targets holding 36 of the 50 occurrences; no worker was restarted. A plain
:func:`geosurvey.runner.run` at commit f9860ad (no hooks, the run's own choice of what to spill)
took 1050 s (evidence 325 s, score 0.1 s, evaluation 336 s, outputs 388 s), and its client
process, which holds the LocalCluster's scheduler too, peaked at 1304 MiB resident (sampled
every 0.5 s: 496 MiB after the evidence, 1244 MiB during the evaluation): the 5 GB seen in
this benchmark's process is not the run's.
On 2026-12-03 (machine otherwise idle, the same data): at 1cf4b73 (faster block-wise counting
and merging) the batch took 1334 s (run 1299 s: evidence 426 s, score 0.5 s, evaluation 389 s,
outputs 483 s), peak worker 2893 MiB, no large-graph warning, 0 lost, AUC 0.874; at aca9bc9 (the
layers' AUCs by :func:`geosurvey.evaluation.roc_auc_blockwise`, little more than one pass each
instead of 2-3, and the COGs written with GDAL's floating-point predictor) the run took 1130 s:
evidence 392 s, score 0.1 s, evaluation 231 s, outputs 504 s; AUC 0.874, best layer swir22_mu
0.758 as before (the batch 1189 s, peak worker 2935 MiB; its baseline took 256 s, against
205 s before, writing with the predictor: not looked into). The outputs stage is now the longest; at 9000² its largest part was the
single-threaded assembly of the COGs from their parts (GDAL's COG driver). Since 5cfdb55 the
outputs catalogue hard-links the COGs instead of copying them (6 GB at this size); not re-measured.
The earlier attempt (2026-12-01, evidence kept lazy and computed again by every stage) was
stopped after 33 min in its web map, its evaluation alone taking 843 s.
On 2026-12-04, with the embedded cluster's workers allocating from memory they keep
(:data:`geosurvey.runner.MALLOC_ENV`, instead of Dask's ``MALLOC_TRIM_THRESHOLD_=65536``, under
which every array over 128 KiB was a fresh ``mmap``): the batch took 724 s (run 701 s: evidence
283 s, score 0.1 s, evaluation 136 s, outputs 281 s), peak worker 3321 MiB of the 4 GiB, none
lost, no large-graph warning, AUC 0.874; its baseline 167 s. At N = 4000 the run took 54 s
(77-80 s before) with a peak worker of 2447 MiB (1974-1994 MiB before).
On 2026-12-07, with the fusable memberships (``grid.map_layer_blocks``) and the tasks that take
whole layers sharing their blocks (``scheduler.layer_task``, d254fab): the batch took 563 s (run
542 s: evidence 182 s, score 0.1 s, evaluation 114 s, outputs 246 s), peak worker 3143 MiB, none
lost, no large-graph warning, AUC 0.874; its baseline 137 s. At N = 4000, side by side: 42-43 s
and a peak worker of 2353-2396 MiB just before ``layer_task``, 40 s and 2106 MiB with it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._timing import peak_rss_mib

RESOLUTION = 10.0  # m
ORIGIN = (300_000.0, 4_400_000.0)  # top-left corner, EPSG:32611 (m)
CRS = "EPSG:32611"
BLOCK = 2048  # pixels a side of a block of the generated COGs
#: band: (units, mean, spread of the smooth field, noise sigma, membership midpoint, spread,
#: increasing)
BANDS: dict[str, tuple[str, float, float, float, float, float, bool]] = {
    "k": ("%", 1.8, 0.4, 0.1, 2.0, 0.2, True),
    "eth": ("ppm", 10.0, 2.5, 0.8, 9.0, 1.0, False),
    "eu": ("ppm", 2.5, 0.3, 0.3, 2.6, 0.15, True),
    "mag_tmi": ("nT", 50_000.0, 150.0, 2.0, 50_050.0, 40.0, True),
    "swir16": ("1", 0.34, 0.03, 0.005, 0.35, 0.01, True),
    "swir22": ("1", 0.30, 0.03, 0.005, 0.29, 0.01, False),
}
N_WAVES = 6


# ------------------------------------------------------------------------------------ the data


def _waves(seed: int) -> np.ndarray:
    """``(N_WAVES, 3)``: wave numbers (rad/m, wavelengths 3-60 km) and phases of a smooth field."""
    rng = np.random.default_rng(seed)
    length = rng.uniform(3_000.0, 60_000.0, N_WAVES)
    angle = rng.uniform(0, np.pi, N_WAVES)
    k = 2 * np.pi / length
    return np.stack([k * np.cos(angle), k * np.sin(angle), rng.uniform(0, 2 * np.pi, N_WAVES)], 1)


def _smooth(waves: np.ndarray, east: np.ndarray, north: np.ndarray) -> np.ndarray:
    """The smooth field (mean 0, about unit spread) on the outer grid ``north × east``:
    cos(a x + b y + p) = cos(a x) cos(b y + p) − sin(a x) sin(b y + p), so each wave costs two
    outer products rather than a cosine a pixel."""
    out = np.zeros((north.size, east.size), dtype=np.float32)
    for a, b, p in waves:
        ax, by = a * east, b * north + p
        out += np.outer(np.cos(by), np.cos(ax)).astype(np.float32)
        out -= np.outer(np.sin(by), np.sin(ax)).astype(np.float32)
    return out * np.float32(np.sqrt(2.0 / N_WAVES))


def _block(block_id: tuple[int, int], shape: tuple[int, int], band: int, n: int) -> np.ndarray:
    name = list(BANDS)[band]
    _, mean, spread, sigma, *_ = BANDS[name]
    row0, col0 = block_id[0] * BLOCK, block_id[1] * BLOCK
    east = ORIGIN[0] + (col0 + np.arange(shape[1]) + 0.5) * RESOLUTION
    north = ORIGIN[1] - (row0 + np.arange(shape[0]) + 0.5) * RESOLUTION
    rng = np.random.default_rng([band, block_id[0], block_id[1], n])
    noise = rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)
    return np.float32(mean) + np.float32(spread) * _smooth(_waves(band), east, north) + noise


def _layer(band: int, n: int) -> Any:
    import dask.array as da
    import xarray as xr

    name = list(BANDS)[band]
    data = da.map_blocks(
        lambda block_id=None, band=band, n=n, block_info=None: _block(
            block_id, block_info[None]["chunk-shape"], band, n),
        chunks=da.core.normalize_chunks(BLOCK, (n, n)), dtype=np.float32, meta=np.array((), np.float32),
    )  # fmt: skip
    east = ORIGIN[0] + (np.arange(n) + 0.5) * RESOLUTION
    north = ORIGIN[1] - (np.arange(n) + 0.5) * RESOLUTION
    out = xr.DataArray(data, dims=("y", "x"), coords={"y": north, "x": east}, name=name,
                       attrs={"units": BANDS[name][0], "long_name": f"synthetic {name}"})  # fmt: skip
    return out.rio.write_crs(CRS).rio.write_transform()


def _recipe_text() -> str:
    lines = [
        'id = "large-fuzzy"',
        'title = "Block-wise fuzzy recipe over six bands (benchmark)"',
        'method = "fuzzy-gamma"',
        'description = "Fuzzy memberships of six synthetic bands, combined by fuzzy gamma."',
        "",
        "[scoring]",
        "gamma = 0.8",
    ]
    for name, (units, _m, _s, _n, mid, spread, increasing) in BANDS.items():
        lines += [
            "",
            "[[evidence]]",
            f'layer = "{name}_mu"',
            f'units = "{units}"',
            f'band = "{name}"',
            f'why = "synthetic {name}: {"high" if increasing else "low"} values favoured"',
            "[evidence.membership]",
            'kind = "sigmoid"',
            f"midpoint = {mid!r}",
            f"spread = {spread!r}",
            f"increasing = {'true' if increasing else 'false'}",
        ]
    return "\n".join(lines) + "\n"


def _favour(east: np.ndarray, north: np.ndarray) -> np.ndarray:
    """How much the six smooth fields (without noise) favour each point, in the recipe's sense."""
    total = np.zeros(east.size)
    for band, (_name, spec) in enumerate(BANDS.items()):
        field = np.array([_smooth(_waves(band), np.array([e]), np.array([s]))[0, 0]
                          for e, s in zip(east, north, strict=True)])  # fmt: skip
        total += field if spec[-1] else -field
    return total


def make_data(folder: Path, n: int) -> dict[str, Path]:
    """Write the benchmark's inputs into ``folder`` (reused when complete); returns their paths."""
    import dask
    import geopandas as gpd
    import shapely

    from geosurvey.catalogs import BandInfo, create_item, write_catalog
    from geosurvey.demo import demo_registry
    from geosurvey.io import write_cog_task

    folder.mkdir(parents=True, exist_ok=True)
    paths = {"catalog": folder / "stac" / "catalog.json", "registry": folder / "aoi",
             "occurrences": folder / "occurrences.gpkg", "recipe": folder / "large-fuzzy.toml"}  # fmt: skip
    done = folder / "complete.json"
    if done.is_file() and json.loads(done.read_text()).get("n") == n:
        return paths
    cogs = folder / "cogs"
    cogs.mkdir(exist_ok=True)
    tasks = [write_cog_task(_layer(b, n), cogs / f"{name}.tif") for b, name in enumerate(BANDS)]
    dask.compute(*tasks, scheduler="threads", num_workers=2)
    item = create_item(
        {name: cogs / f"{name}.tif" for name in BANDS}, item_id="large-survey",
        datetime=dt.datetime(2025, 10, 28, tzinfo=dt.UTC),
        bands={name: BandInfo(common_name=name, description=f"synthetic {name}", units=spec[0])
               for name, spec in BANDS.items()},
        collection="large-synthetic", properties={"description": "synthetic benchmark data"},
    )  # fmt: skip
    if paths["catalog"].parent.exists():
        import shutil

        shutil.rmtree(paths["catalog"].parent)
    write_catalog([item], paths["catalog"].parent, catalog_id="large-benchmark",
                  description="Synthetic benchmark data; stands for no real ground.")  # fmt: skip
    # the area: the grid inset by 1 m, in lon/lat with densified edges (the registry's CRS)
    side = n * RESOLUTION
    box = shapely.box(ORIGIN[0] + 1, ORIGIN[1] - side + 1,
                      ORIGIN[0] + side - 1, ORIGIN[1] - 1)  # fmt: skip
    box = gpd.GeoSeries([box], crs=CRS).segmentize(500.0).to_crs("EPSG:4326").iloc[0]
    if paths["registry"].exists():
        import shutil

        shutil.rmtree(paths["registry"])
    registry, keys = demo_registry(paths["registry"])  # keys in memory only
    registry.propose(box, id="large", name_en="Large benchmark area (synthetic data)",
                     name_ja="大規模ベンチマーク地域（合成データ）", region=["US"], commodities=["Cu"],
                     deposit_models=["iocg"], proposer="US", analysis_crs=CRS,
                     notes="Generated benchmark data; stands for no real ground.")  # fmt: skip
    for code, (private, _public) in keys.items():
        registry.approve("large", party=code, private_key=private)
    rng = np.random.default_rng(3)
    east = rng.uniform(ORIGIN[0] + 100, ORIGIN[0] + side - 100, 2000)
    north = rng.uniform(ORIGIN[1] - side + 100, ORIGIN[1] - 100, 2000)
    best = np.argsort(_favour(east, north))[-40:]
    pick = np.r_[best, np.setdiff1d(np.arange(2000), best)[:10]]
    gpd.GeoDataFrame({"name": [f"occ{i}" for i in range(pick.size)]},
                     geometry=gpd.points_from_xy(east[pick], north[pick]), crs=CRS
                     ).to_file(paths["occurrences"])  # fmt: skip
    paths["recipe"].write_text(_recipe_text(), encoding="utf-8")
    done.write_text(json.dumps({"n": n}))
    return paths


# ------------------------------------------------------------------------------------ measuring


def _echo(line: str) -> None:
    """The run's progress lines, with the time, on stderr (the result goes to stdout)."""
    import sys

    print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)


def _warm(client: Any) -> None:
    import importlib

    from geosurvey.runner import RUN_MODULES

    for module in RUN_MODULES:
        client.run(importlib.import_module, module)


def measure_run(paths: dict[str, Path], out: Path, *, memory_limit: str = "4GiB") -> dict[str, Any]:
    """The batch of the one area on 2 single-threaded workers with ``memory_limit`` each."""
    from geosurvey.runner import batch, dask_client

    with dask_client("local", n_workers=2, memory_limit=memory_limit) as client, \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _warm(client)
        pids = client.run(os.getpid)
        start = time.perf_counter()
        result = batch(["large"], str(paths["recipe"]), out_root=out, sources=[paths["catalog"]],
                       occurrences=paths["occurrences"], registry=paths["registry"],
                       resolution=RESOLUTION, scheduler=client.scheduler.address,
                       max_concurrent=1, progress=False, echo=_echo)  # fmt: skip
        seconds = time.perf_counter() - start
        peak = client.run(peak_rss_mib)
        lost = len(set(pids.values()) - set(client.run(os.getpid).values()))
    job = result.jobs[0]
    shape = None
    if job.status == "ok":
        shape = json.loads((job.out / "manifest.json").read_text())["parameters"]["grid"]["shape"]
    large_graphs = [str(w.message).split(".")[0] for w in caught if "large graph" in str(w.message)]
    return {"run_s": seconds, "peak_worker_mib": max(peak.values()), "workers_lost": lost,
            "large_graph_warnings": large_graphs,
            "ok": result.ok, "status": job.status, "reason": job.reason, "roc_auc": job.roc_auc,
            "grid_shape": shape, "out": str(job.out)}  # fmt: skip


def measure_baseline(paths: dict[str, Path], out: Path, *, memory_limit: str = "4GiB") -> dict[str, Any]:
    """Read the six COGs and write them back as COGs, on a fresh cluster of the same size."""
    import dask

    from geosurvey.io import read_raster, write_cog_task
    from geosurvey.runner import dask_client

    out.mkdir(parents=True)
    cogs = paths["catalog"].parent.parent / "cogs"
    with dask_client("local", n_workers=2, memory_limit=memory_limit) as client:
        _warm(client)
        start = time.perf_counter()
        layers = {name: read_raster(cogs / f"{name}.tif", chunks=1024) for name in BANDS}
        dask.compute(*[write_cog_task(da, out / f"{name}.tif") for name, da in layers.items()])
        seconds = time.perf_counter() - start
        peak = client.run(peak_rss_mib)
    pixels = int(next(iter(layers.values())).size)
    return {"baseline_s": seconds, "baseline_pixels": pixels,
            "baseline_peak_worker_mib": max(peak.values())}  # fmt: skip


def measure(n: int, folder: Path | None = None, *, memory_limit: str = "4GiB") -> dict[str, Any]:
    """Build (or reuse, in ``folder``) the data for ``n``, then the run and the baseline."""
    with tempfile.TemporaryDirectory(prefix="geosurvey-bench-large-") as tmp:
        data_dir = Path(folder) if folder is not None else Path(tmp) / "data"
        start = time.perf_counter()
        paths = make_data(data_dir, n)
        build_s = time.perf_counter() - start
        runs = Path(tempfile.mkdtemp(prefix="runs-", dir=data_dir))
        try:
            row = measure_run(paths, runs / "run", memory_limit=memory_limit)
            row.update(measure_baseline(paths, runs / "baseline", memory_limit=memory_limit))
        finally:
            import shutil

            shutil.rmtree(runs, ignore_errors=True)
    pixels = (row["grid_shape"][0] * row["grid_shape"][1]) if row["grid_shape"] else n * n
    row.update({"n": n, "build_s": build_s, "memory_limit": memory_limit,
                "mpix_per_s": pixels / 1e6 / row["run_s"],
                "baseline_mpix_per_s": row["baseline_pixels"] / 1e6 / row["baseline_s"]})  # fmt: skip
    return row


def run(quick: bool = False) -> list[dict[str, Any]]:
    """The row of ``benchmarks.run``: N = 1024 with ``quick``, else ``GEOSURVEY_BENCH_LARGE_N``
    (default 4000; the issue's 20,000 is opt-in)."""
    n = 1024 if quick else int(os.environ.get("GEOSURVEY_BENCH_LARGE_N", "4000"))
    m = measure(n)
    return [{
        "benchmark": "large",
        "case": f"one area {n}² × 6 float32, 2 workers × {m['memory_limit']}, vs read+write",
        "geosurvey_s": m["run_s"], "baseline_s": m["baseline_s"],
        "ratio": m["run_s"] / m["baseline_s"], "peak_mib": m["peak_worker_mib"],
        "mpix_per_s": m["mpix_per_s"], "baseline_mpix_per_s": m["baseline_mpix_per_s"],
        "workers_lost": m["workers_lost"], "ok": m["ok"],
    }]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="pixels a side (default 20000)")
    parser.add_argument("--quick", action="store_true", help="N = 1024 (smoke run)")
    parser.add_argument("--folder", type=Path, help="keep (and reuse) the generated data here")
    parser.add_argument("--memory-limit", default="4GiB", help="per worker (default 4GiB)")
    args = parser.parse_args(argv)
    n = 1024 if args.quick else args.n
    print(json.dumps(measure(n, args.folder, memory_limit=args.memory_limit), default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
