"""Benchmark: evidence layers against the libraries a geophysicist would otherwise use.

* ``potential``: reduction to the pole, then the tilt derivative and the analytic signal of the
  reduced grid, with geosurvey (``scipy.fft`` real transforms on all the process's cores) and with
  harmonica 0.7 (``xrft``/numpy complex transforms) on the same synthetic north-up grid of
  magnetic dipoles, N × N pixels at 50 m. Two cases per size: no padding (both treat the grid as
  periodic) and 25 % padding on each side (geosurvey's default mirror padding + taper; harmonica's
  grid padded beforehand by ``xrft.pad`` with the same width, as its documentation advises).
  Goal: ratio geosurvey / harmonica ≤ 1.0.
* ``distance``: exact distance to the 85 GTK 1:1M faults on a 10,000 × 10,000 grid over the GTK
  area (~7 m pixels), computed block by block and reduced (max and mean), so memory stays per
  block. Baseline: rasterise the lines (all touched) and run ``scipy.ndimage.distance_transform_edt``
  on the whole grid — the usual shortcut, approximate to half a pixel diagonal and held in memory.

Every case runs in a fresh Python process so that its peak memory (``VmHWM``) is its own, under an
address-space limit (``MAX_MIB``, 12 GiB: the machine is shared) — a case that exceeds it is
reported as failed (ratio ``None``, the reason in the case name) instead of taking the machine down.
Times are the best of ``repeats`` runs inside that process (wall clock, after a warm-up on a small
grid).

Run: ``python -m benchmarks.bench_evidence [--quick]``; ``run(quick)`` returns the rows for
``benchmarks/run.py``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._timing import best_of, peak_rss_mib

__all__ = ["run"]

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
INC, DEC = 65.0, 12.0
MAX_MIB = 12 * 1024


def _wrap(values: np.ndarray, spacing: float = 50.0):
    from geosurvey.testing import grid_like

    return grid_like(values, crs="EPSG:32633", resolution=spacing, origin=(400_000.0, 7_000_000.0),
                     name="tmi", units="nT")


def _magnetic_grid(n: int):
    """A north-up TMI grid (nT) of 40 induced dipoles at 300–3000 m depth, float64."""
    import harmonica as hm

    rng = np.random.default_rng(42)
    base = _wrap(np.zeros((n, n)))
    east, north = np.meshgrid(base.x.values, base.y.values)
    m = 40
    sources = (rng.uniform(base.x.min(), base.x.max(), m), rng.uniform(base.y.min(), base.y.max(), m),
               -rng.uniform(300, 3000, m))
    moments = np.array(hm.magnetic_angles_to_vec(rng.uniform(1e9, 1e11, m), INC, DEC))
    b = hm.dipole_magnetic((east, north, np.zeros_like(east)), sources, moments, field="b")
    f = np.array(hm.magnetic_angles_to_vec(1.0, INC, DEC))
    return base.copy(data=f[0] * b[0] + f[1] * b[1] + f[2] * b[2])


def _geosurvey_potential(grid, pad: float):
    import geosurvey.evidence as ev

    rtp = ev.reduction_to_pole(grid, inclination=INC, declination=DEC, pad=pad)
    return ev.tilt_derivative(rtp, pad=pad).values, ev.analytic_signal(rtp, pad=pad).values


def _harmonica_potential(grid, pad: float):
    import warnings

    import harmonica as hm
    import xrft

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # xrft's deprecation warnings
        asc = grid.sortby("y").rename(y="northing", x="easting").drop_vars("spatial_ref")
        if pad:
            width = {"northing": int(np.ceil(pad * asc.sizes["northing"])),
                     "easting": int(np.ceil(pad * asc.sizes["easting"]))}
            asc = xrft.pad(asc, width)
        rtp = hm.reduction_to_pole(asc, inclination=INC, declination=DEC)
        tilt = hm.tilt_angle(rtp)
        tga = hm.total_gradient_amplitude(rtp)
        if pad:
            rtp, tilt, tga = (xrft.unpad(a, width) for a in (rtp, tilt, tga))
        return tilt.values, tga.values


def _case_potential(side: str, path: str, pad: float, repeats: int) -> dict:
    small = _magnetic_grid(64)
    grid = _wrap(np.load(path))
    fn = _geosurvey_potential if side == "geosurvey" else _harmonica_potential
    fn(small, pad)  # warm-up: imports, FFT plans
    seconds = best_of(lambda: fn(grid, pad), repeats)
    return {"seconds": seconds}


def _case_distance(side: str, n: int, repeats: int) -> dict:
    import geopandas as gpd
    from odc.geo.geobox import GeoBox

    faults = gpd.read_file(SHARED / "gtk_lapland_iocg" / "vector" / "IOCG_CLB_Structures_1M.shp")
    gbox = GeoBox.from_bbox((345975, 7458025, 414025, 7540125), crs="EPSG:3067", shape=(n, n))
    if side == "geosurvey":
        import dask

        import geosurvey.evidence as ev

        def fn():
            dist = ev.distance_to_features(faults, gbox)
            return dask.compute(dist.max(), dist.mean())
    else:
        import rasterio.features
        from scipy import ndimage

        def fn():
            lines = rasterio.features.rasterize(((g, 1) for g in faults.geometry), out_shape=gbox.shape.yx,
                                                transform=gbox.affine, all_touched=True, dtype="uint8")
            dist = ndimage.distance_transform_edt(lines == 0, sampling=(abs(gbox.affine.e), gbox.affine.a))
            return dist.max(), dist.mean()

    seconds = best_of(fn, repeats)
    return {"seconds": seconds}


def _in_subprocess(args: list[str]) -> dict:
    """Run one case in a fresh process; ``{"error": reason}`` if it failed (e.g. out of memory)."""
    cmd = [sys.executable, "-m", "benchmarks.bench_evidence", "--case", *args]
    proc = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        reason = "out of memory" if "MemoryError" in proc.stderr or "Unable to allocate" in proc.stderr else last
        print(f"  case {args[:2]} failed: {last}", file=sys.stderr)
        return {"error": reason[:60]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {args[0]} {args[1]} {Path(args[2]).name} pad {args[3]}: {result}", file=sys.stderr)
    return result


def _row(benchmark: str, case: str, ours: dict, theirs: dict) -> dict:
    notes = [f"{side}: {r['error']}" for side, r in (("geosurvey", ours), ("baseline", theirs)) if "error" in r]
    ok = not notes
    return {
        "benchmark": benchmark,
        "case": case + (f" ({'; '.join(notes)})" if notes else ""),
        "geosurvey_s": ours.get("seconds"),
        "baseline_s": theirs.get("seconds"),
        "ratio": ours["seconds"] / theirs["seconds"] if ok else None,
        "peak_mib": ours.get("peak_mib"),
        "baseline_peak_mib": theirs.get("peak_mib"),
    }


def run(quick: bool = False) -> list[dict]:
    """Run every case (each in its own process) and return the rows for ``benchmarks/run.py``."""
    sizes = (512,) if quick else (4096, 8192)
    distance_n = 1000 if quick else 10_000
    repeats = "1" if quick else "2"
    rows = []
    for n in sizes:
        # the grid is made once here and read by each case, so its making is not in their memory
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / f"tmi{n}.npy")
            np.save(path, _magnetic_grid(n).values)
            for pad in (0.0, 0.25):
                ours = _in_subprocess(["potential", "geosurvey", path, str(pad), repeats])
                theirs = _in_subprocess(["potential", "harmonica", path, str(pad), repeats])
                rows.append(_row("rtp+tilt+analytic signal", f"{n}² pad {pad:g}", ours, theirs))
    if (SHARED / "gtk_lapland_iocg").exists():
        ours = _in_subprocess(["distance", "geosurvey", str(distance_n), "0", "1"])
        theirs = _in_subprocess(["distance", "edt", str(distance_n), "0", "1"])
        rows.append(_row("distance_to_features", f"{distance_n}² exact vs EDT", ours, theirs))
    return rows


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--case", nargs=5, metavar=("KIND", "SIDE", "N_OR_GRID", "PAD", "REPEATS"),
                        help="run one case in this process and print JSON (used internally)")
    args = parser.parse_args(argv)
    if args.case:
        limit = MAX_MIB * 1024**2
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        kind, side, n, pad, repeats = args.case
        if kind == "potential":
            result = _case_potential(side, n, float(pad), int(repeats))
        else:
            result = _case_distance(side, int(n), int(repeats))
        result["peak_mib"] = peak_rss_mib()
        print(json.dumps(result))
        return 0
    rows = run(quick=args.quick)
    print(f"{'benchmark':<26} {'case':<22} {'geosurvey s':>12} {'baseline s':>11} {'ratio':>6} "
          f"{'peak MiB':>9} {'baseline MiB':>13}")
    def fmt(value, spec):
        return "-" if value is None else format(value, spec)

    for row in rows:
        print(f"{row['benchmark']:<26} {row['case']:<22} {fmt(row['geosurvey_s'], '12.3f')} "
              f"{fmt(row['baseline_s'], '11.3f')} {fmt(row['ratio'], '6.2f')} {fmt(row['peak_mib'], '9.0f')} "
              f"{fmt(row['baseline_peak_mib'], '13.0f')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
