"""Benchmark: weights of evidence and fuzzy gamma against minimal numpy passes over the same arrays.

* ``woe ascending + posterior``: ascending weights of a 4000 × 4000 raster of 10 class codes
  (float32, 1 % NaN) with 200 deposits, generalised, and the posterior probability and its standard
  deviation computed into memory, with geosurvey. Baseline: the minimal numpy ``bincount`` pass
  over the same arrays (class counts of the raster and of the deposit pixels) — the least any
  implementation must do. Goal: ratio ≤ 2.0, peak memory ≤ 300 MiB above the inputs (numpy's
  allocations as tracemalloc sees them, outputs included).
* ``woe 100 quantiles``: weights of a continuous 4000 × 4000 float32 raster in 100 quantile
  classes (descending). Baseline: ``numpy.quantile`` + ``numpy.digitize`` + ``bincount``. Goal:
  under 1 s.
* ``fuzzy gamma``: :func:`geosurvey.prospectivity.fuzzy_gamma` over five 4000 × 4000 float32
  memberships (Dask, 1024² chunks, the threaded scheduler on all cores) against the same formula as
  one single-threaded numpy expression. Goal: ratio ≤ 0.6. Measured on the 2-core development
  machine (2026-12): 0.44–0.52 (five runs), from 0.60–0.80 with the earlier all-numpy kernel. About
  half of geosurvey's time is outside the kernel: Dask assembling the 64 MB result and the first
  touch of its pages (the ``.values`` the baseline gets for free), which varies from 20 to 180 ms
  from run to run on this VM (page faults of freshly mapped memory).

Times are the best of ``repeats`` runs (wall clock) after a warm-up on small arrays.

Run: ``python -m benchmarks.bench_woe [--quick]``; ``run(quick)`` returns the rows for
``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import json
import tracemalloc

import numpy as np

from benchmarks._timing import best_of

__all__ = ["run"]


def _grid(values: np.ndarray, name: str):
    from geosurvey.testing import grid_like

    return grid_like(values, crs="EPSG:32633", resolution=50.0, origin=(400_000.0, 7_000_000.0),
                     name=name)  # fmt: skip


def _deposits(grid, n: int, rng: np.random.Generator):
    import geopandas as gpd
    import shapely

    ny, nx = grid.shape
    flat = rng.choice(ny * nx, n, replace=False)
    rows, cols = np.divmod(flat, nx)
    pts = shapely.points(grid.x.values[cols], grid.y.values[rows])
    return gpd.GeoDataFrame(geometry=pts, crs="EPSG:32633"), rows, cols


def _peak_mib(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def _row(benchmark: str, case: str, ours: float, base: float | None, peak: float | None) -> dict:
    return {"benchmark": benchmark, "case": case, "geosurvey_s": ours, "baseline_s": base,
            "ratio": None if base is None else ours / base, "peak_mib": peak}  # fmt: skip


def _ascending(n: int, repeats: int) -> dict:
    import warnings

    from geosurvey.prospectivity import posterior, weights_of_evidence

    rng = np.random.default_rng(0)
    codes = rng.integers(1, 11, size=(n, n)).astype(np.float32)
    codes[rng.random((n, n)) < 0.01] = np.nan
    grid = _grid(codes, "classes")
    occ, rows, cols = _deposits(grid, 200, rng)

    def ours() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deposits on NaN pixels are reported, not an error
            w = weights_of_evidence(grid, occ, kind="ascending")
        post = posterior([w.generalise(by="max-contrast")])
        post.probability.values, post.std.values  # noqa: B018  (into memory)

    def baseline() -> None:
        valid = np.isfinite(codes)
        c = np.where(valid, codes, 0).astype(np.intp)
        np.bincount(c.ravel(), minlength=11)
        np.bincount(c[rows, cols], minlength=11)

    ours()
    t_ours, t_base = best_of(ours, repeats), best_of(baseline, repeats)
    return _row("woe", f"ascending + posterior {n}²", t_ours, t_base, _peak_mib(ours))


def _quantiles(n: int, repeats: int) -> dict:
    from geosurvey.prospectivity import weights_of_evidence

    rng = np.random.default_rng(1)
    values = rng.normal(size=(n, n)).astype(np.float32)
    grid = _grid(values, "continuous")
    occ, rows, cols = _deposits(grid, 200, rng)

    def ours() -> None:
        weights_of_evidence(grid, occ, kind="descending", classify="quantile", classes=100)

    def baseline() -> None:
        edges = np.quantile(values, np.linspace(0, 1, 101))
        cls = np.digitize(values, edges[1:-1])
        np.bincount(cls.ravel(), minlength=100)
        np.bincount(cls[rows, cols], minlength=100)

    ours()
    t_ours, t_base = best_of(ours, repeats), best_of(baseline, repeats)
    return _row("woe", f"100 quantiles {n}²", t_ours, t_base, _peak_mib(ours))


def _gamma(n: int, repeats: int) -> dict:
    import dask

    from geosurvey.prospectivity import fuzzy_gamma

    rng = np.random.default_rng(2)
    arrays = [rng.random((n, n), dtype=np.float32) for _ in range(5)]
    chunk = min(1024, n)
    layers = [_grid(a, f"mu{i}").chunk({"y": chunk, "x": chunk}) for i, a in enumerate(arrays)]
    gamma = 0.8

    def ours() -> None:
        with dask.config.set(scheduler="threads"):
            fuzzy_gamma(layers, gamma=gamma).values  # noqa: B018

    def baseline() -> None:
        # one numpy expression, single-threaded (numpy's element-wise loops use one core)
        a, b, c, d, e = arrays
        ((1 - (1 - a) * (1 - b) * (1 - c) * (1 - d) * (1 - e)) ** gamma
         * (a * b * c * d * e) ** (1 - gamma))  # fmt: skip

    ours()
    t_ours, t_base = best_of(ours, repeats), best_of(baseline, repeats)
    return _row("fuzzy gamma", f"5 layers {n}²", t_ours, t_base, _peak_mib(ours))


def run(quick: bool = False) -> list[dict]:
    """The benchmark rows (``quick``: 500² instead of 4000²)."""
    n, repeats = (500, 2) if quick else (4000, 3)
    return [_ascending(n, repeats), _quantiles(n, repeats), _gamma(n, repeats)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for row in run(quick=args.quick):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
