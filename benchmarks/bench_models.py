"""Benchmark: lazy block-by-block random-forest prediction against one in-memory ``predict_proba``.

Six float32 evidence layers of N × N pixels (smooth sinusoidal fields with noise, written once as
tiled GeoTIFFs and read by both sides), a random forest fitted on 4,000 sampled cells, and the
positive-class probability of every pixel:

* **geosurvey**: :func:`geosurvey.prospectivity.stack_layers` over the layers opened lazily with
  :func:`geosurvey.io.read_raster` (1024² chunks), :meth:`RasterClassifier.predict_raster`, reduced
  block by block (sum and maximum of the score, so no whole-grid output is held), on Dask's
  threaded scheduler with every core; the forest predicts each block with ``n_jobs=1``.
* **baseline**: the same pixels read whole with rasterio into one in-memory ``(N², 6)`` float32
  array and one ``RandomForestClassifier.predict_proba`` call with ``n_jobs=-1`` (every core,
  scikit-learn's own threading) — what one writes without geosurvey, and the most memory it needs.

Reported at two sizes (4000² and 8000²): seconds (best of ``repeats``), Mpixel/s, the throughput
ratio (goal ≥ 0.8), and each side's peak memory (``VmHWM`` of a fresh process per case, imports
included; ``start_mib`` is that process before any pixel is read). Goal for geosurvey: bounded by
the chunks, not the grid, so the peak at 8000² (``peak_vs_smallest``) is about that at 4000². The
geosurvey case also runs once with GDAL's own cache size (``GDAL_CACHEMAX=5%``):
``peak_mib_gdal_default_cache``. Both sides get the same data and the same fitted forest (pickled
once).

Measured (2 cores, 24 GiB, 50 trees of depth 12, threaded scheduler, 1024² chunks)::

    size    geosurvey         baseline          throughput   peak MiB geosurvey   baseline
    4000²   12.1 s 1.32 Mpx/s  18.3 s 0.88 Mpx/s   1.51x      679 (1098 GDAL 5%)    1769
    8000²   44.8 s 1.43 Mpx/s  68.8 s 0.93 Mpx/s   1.54x      696 (2037 GDAL 5%)    5975

(each geosurvey process starts at 445 MiB: imports). Memory used to grow with the grid (1.4 GB at
4000², 2.1 GB at 8000²): GDAL's block cache, 5 % of the machine's memory by default, kept every
block the lazy read had read, up to 1.2 GB here — not a leak, but it tied memory to the grid.
:func:`geosurvey.io.read_raster` now bounds it (:data:`geosurvey.io.GDAL_CACHE_MIB`, 256 MiB,
unless ``GDAL_CACHEMAX`` is set), and :class:`~geosurvey.prospectivity.RasterClassifier` predicts
each block in strips of 262,144 pixels, so a forest's per-tree ``(pixels, 2)`` float64 temporaries
are 4 MiB instead of 16 MiB (one 1024² block's prediction: 81 → 28 MiB at its peak, by
tracemalloc; strips of 65,536 pixels: 10 MiB but 5-20 % slower, whole blocks no faster). Dask itself held at most 48 MiB of blocks at a time (6 layers × 2 threads
of 1024² float32). At 8000² the peak is 1.02x that at 4000² (4x the pixels).

Run: ``python -m benchmarks.bench_models [--quick] [--size N ...]`` (quick: 256² and 512², a smoke
run); ``run(quick)`` returns the rows for ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._timing import best_of, peak_rss_mib

__all__ = ["run"]

HERE = Path(__file__).resolve().parent
N_LAYERS = 6
CHUNK = 1024


def _make_inputs(folder: Path, n: int, *, n_trees: int, depth: int) -> None:
    """Six smooth float32 GeoTIFFs (``layer<i>.tif``, tiled) and a forest fitted on 4,000 of their cells."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window
    from sklearn.ensemble import RandomForestClassifier

    from geosurvey.prospectivity import RasterClassifier

    rng = np.random.default_rng(0)
    x = np.linspace(0, 1, n, dtype=np.float32)
    profile = {"driver": "GTiff", "width": n, "height": n, "count": 1, "dtype": "float32",
               "crs": "EPSG:32635", "transform": from_origin(500_000, 7_100_000, 10, 10),
               "tiled": True, "blockxsize": 512, "blockysize": 512, "nodata": float("nan")}
    rows, cols = rng.integers(0, n, 4000), rng.integers(0, n, 4000)
    X = np.empty((4000, N_LAYERS), dtype=np.float32)
    for i in range(N_LAYERS):
        fx, fy, phase = rng.uniform(2, 12), rng.uniform(2, 12), rng.uniform(0, np.pi)
        with rasterio.open(folder / f"layer{i}.tif", "w", **profile) as dst:
            for start in range(0, n, CHUNK):  # by rows, so making it needs little memory
                y = x[start:start + CHUNK, None]
                block = np.sin(2 * np.pi * fx * x[None, :] + phase) * np.cos(2 * np.pi * fy * y)
                block = (block + 0.1 * rng.normal(size=block.shape)).astype(np.float32)
                dst.write(block, 1, window=Window(0, start, n, block.shape[0]))
                here = (rows >= start) & (rows < start + block.shape[0])
                X[here, i] = block[rows[here] - start, cols[here]]
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=4000) > 1.0).astype(int)
    forest = RandomForestClassifier(n_estimators=n_trees, max_depth=depth, random_state=0, n_jobs=1)
    model = RasterClassifier(forest).fit(X, y)
    model.layers_ = tuple(f"l{i}" for i in range(N_LAYERS))
    (folder / "model.pkl").write_bytes(pickle.dumps(model))


def _case(side: str, folder: Path, repeats: int) -> dict:
    model = pickle.loads((folder / "model.pkl").read_bytes())
    paths = [folder / f"layer{i}.tif" for i in range(N_LAYERS)]
    if side == "geosurvey":
        import dask

        from geosurvey.io import read_raster
        from geosurvey.prospectivity import stack_layers

        stack = stack_layers({f"l{i}": read_raster(path, chunks={"y": CHUNK, "x": CHUNK}, name=f"l{i}")
                              for i, path in enumerate(paths)})
        n = stack.sizes["x"]
        score = model.predict_raster(stack)

        def fn():
            return dask.compute(score.sum(), score.max(), scheduler="threads")
    else:
        import rasterio

        forest = model.estimator_
        forest.set_params(n_jobs=-1)
        with rasterio.open(paths[0]) as src:
            n = src.width

        def fn():
            X = np.empty((n * n, N_LAYERS), dtype=np.float32)
            for i, path in enumerate(paths):
                with rasterio.open(path) as src:
                    X[:, i] = src.read(1).reshape(-1)
            p = forest.predict_proba(X)[:, 1]
            return p.sum(), p.max()

    start = peak_rss_mib()  # imports, model and (lazy) graph: before any pixel is read
    seconds = best_of(fn, repeats)
    return {"seconds": seconds, "mpx_s": n * n / seconds / 1e6, "peak_mib": peak_rss_mib(),
            "start_mib": start, "n": n}


def _in_subprocess(side: str, folder: Path, repeats: int, *, gdal_cache: str | None = None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_models", "--case", side, str(folder), str(repeats)]
    env = dict(os.environ)
    env.pop("GDAL_CACHEMAX", None)
    if gdal_cache is not None:
        env["GDAL_CACHEMAX"] = gdal_cache
    proc = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        print(f"  case {side} failed: {last}", file=sys.stderr)
        return {"error": last[:60]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _one_size(n: int, repeats: int, n_trees: int, depth: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _make_inputs(folder, n, n_trees=n_trees, depth=depth)
        ours = _in_subprocess("geosurvey", folder, repeats)
        gdal_default = _in_subprocess("geosurvey", folder, 1, gdal_cache="5%")  # memory only
        theirs = _in_subprocess("baseline", folder, repeats)
    ok = "error" not in ours and "error" not in theirs
    notes = "; ".join(f"{s}: {r['error']}" for s, r in (("geosurvey", ours), ("baseline", theirs)) if "error" in r)
    return {
        "benchmark": "random forest predict",
        "case": f"{N_LAYERS} x {n}² float32, {n_trees} trees" + (f" ({notes})" if notes else ""),
        "geosurvey_s": ours.get("seconds"),
        "baseline_s": theirs.get("seconds"),
        "ratio": ours["seconds"] / theirs["seconds"] if ok else None,
        "peak_mib": ours.get("peak_mib"),
        "start_mib": ours.get("start_mib"),
        "peak_mib_gdal_default_cache": gdal_default.get("peak_mib"),
        "baseline_peak_mib": theirs.get("peak_mib"),
        "mpx_s": ours.get("mpx_s"),
        "baseline_mpx_s": theirs.get("mpx_s"),
        "throughput_vs_baseline": theirs["seconds"] / ours["seconds"] if ok else None,
    }


def run(quick: bool = False, *, sizes: tuple[int, ...] | None = None,
        repeats: int | None = None) -> list[dict]:
    """Every case (each in its own process) at each size; one row per size for ``benchmarks/run.py``.

    ``sizes`` and ``repeats`` override the defaults (4000² and 8000², best of 2; quick: 256² and
    512², once). The last row also has ``peak_vs_smallest``: its peak memory over that of the
    first size (1 when memory is bounded by the chunks, 4 when it grows with the pixels).
    """
    sizes = sizes or ((256, 512) if quick else (4000, 8000))
    repeats = repeats or (1 if quick else 2)
    n_trees, depth = (10, 8) if quick else (50, 12)
    rows = [_one_size(n, repeats, n_trees, depth) for n in sizes]
    if len(rows) > 1 and rows[0]["peak_mib"] and rows[-1]["peak_mib"]:
        rows[-1]["peak_vs_smallest"] = rows[-1]["peak_mib"] / rows[0]["peak_mib"]
    return rows


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256² and 512² layers (smoke run)")
    parser.add_argument("--size", type=int, nargs="+",
                        help="sides of the layers in pixels (default 4000 8000)")
    parser.add_argument("--repeats", type=int, help="best of this many runs (default 2)")
    parser.add_argument("--case", nargs=3, metavar=("SIDE", "FOLDER", "REPEATS"),
                        help="run one case in this process and print JSON (used internally)")
    args = parser.parse_args(argv)
    if args.case:
        side, folder, repeats = args.case
        print(json.dumps(_case(side, Path(folder), int(repeats))))
        return 0
    for row in run(quick=args.quick, sizes=tuple(args.size or ()) or None, repeats=args.repeats):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
