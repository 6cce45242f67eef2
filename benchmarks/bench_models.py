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

Reported: seconds (best of ``repeats``), Mpixel/s, the throughput ratio (goal ≥ 0.8), and each side's
peak memory (``VmHWM`` of a fresh process per case; goal for geosurvey: bounded by the chunks, not
the grid). Both sides get the same data and the same fitted forest (pickled once).

Run: ``python -m benchmarks.bench_models [--quick]`` (quick: 512², a smoke run); ``run(quick)``
returns the rows for ``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import json
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._timing import best_of

__all__ = ["run"]

HERE = Path(__file__).resolve().parent
N_LAYERS = 6
CHUNK = 1024


def _peak_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover


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

    seconds = best_of(fn, repeats)
    return {"seconds": seconds, "mpx_s": n * n / seconds / 1e6, "peak_mib": _peak_mib(), "n": n}


def _in_subprocess(side: str, folder: Path, repeats: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_models", "--case", side, str(folder), str(repeats)]
    proc = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        print(f"  case {side} failed: {last}", file=sys.stderr)
        return {"error": last[:60]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(quick: bool = False, *, n: int | None = None, repeats: int | None = None) -> list[dict]:
    """Both cases (each in its own process) on N² layers; rows for ``benchmarks/run.py``.

    ``n`` and ``repeats`` override the sizes (default 8000² best of 2; quick 512², once).
    """
    n = n or (512 if quick else 8000)
    repeats = repeats or (1 if quick else 2)
    n_trees, depth = (10, 8) if quick else (50, 12)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _make_inputs(folder, n, n_trees=n_trees, depth=depth)
        ours = _in_subprocess("geosurvey", folder, repeats)
        theirs = _in_subprocess("baseline", folder, repeats)
    ok = "error" not in ours and "error" not in theirs
    notes = "; ".join(f"{s}: {r['error']}" for s, r in (("geosurvey", ours), ("baseline", theirs)) if "error" in r)
    return [{
        "benchmark": "random forest predict",
        "case": f"{N_LAYERS} x {n}² float32, {n_trees} trees" + (f" ({notes})" if notes else ""),
        "geosurvey_s": ours.get("seconds"),
        "baseline_s": theirs.get("seconds"),
        "ratio": ours["seconds"] / theirs["seconds"] if ok else None,
        "peak_mib": ours.get("peak_mib"),
        "baseline_peak_mib": theirs.get("peak_mib"),
        "mpx_s": ours.get("mpx_s"),
        "baseline_mpx_s": theirs.get("mpx_s"),
        "throughput_vs_baseline": theirs["seconds"] / ours["seconds"] if ok else None,
    }]


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="512² layers (smoke run)")
    parser.add_argument("--size", type=int, help="side of the layers in pixels (default 8000)")
    parser.add_argument("--repeats", type=int, help="best of this many runs (default 2)")
    parser.add_argument("--case", nargs=3, metavar=("SIDE", "FOLDER", "REPEATS"),
                        help="run one case in this process and print JSON (used internally)")
    args = parser.parse_args(argv)
    if args.case:
        side, folder, repeats = args.case
        print(json.dumps(_case(side, Path(folder), int(repeats))))
        return 0
    for row in run(quick=args.quick, n=args.size, repeats=args.repeats):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
