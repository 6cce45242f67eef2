"""Benchmark: ``geosurvey.catalogs.load`` against a direct ``odc.stac.load`` on the same items.

Both build the same Dask graph over the same local COG items (written once, synthetic float32
grids with NaN nodata, items made by ``create_item``) on the same area GeoBox, and both compute
it in the same process with the same threaded scheduler. geosurvey's extra work is the load plan
(metadata), the header check of every local asset, and the attributes; the goal is a ratio
(geosurvey / odc-stac) of at most 1.10. Each side runs ``repeats`` times, alternating, and the
fastest run counts (the usual way to time I/O-bound code on a shared machine).

Run: ``python -m benchmarks.bench_catalog_load [--quick]``.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks._timing import best_of

__all__ = ["run"]


def _make_items(root: Path, *, n_items: int, size: int, bands: tuple[str, ...]) -> list:
    from odc.geo.geobox import GeoBox
    from odc.geo.xr import xr_zeros

    from geosurvey.catalogs import BandInfo, create_item
    from geosurvey.io import write_cog

    rng = np.random.default_rng(0)
    items = []
    for i in range(n_items):
        # a small shift per item so the items overlap but do not coincide
        x0, y0 = 400_000 + 300 * i, 7_500_000 + 200 * i
        gbox = GeoBox.from_bbox((x0, y0, x0 + 30 * size, y0 + 30 * size), crs="EPSG:32635", resolution=30)
        paths = {}
        for band in bands:
            data = rng.normal(100, 10, gbox.shape).astype("float32")
            path = root / f"item{i}_{band}.tif"
            write_cog(xr_zeros(gbox, dtype="float32").copy(data=data).rename(band), path)
            paths[band] = path
        items.append(
            create_item(
                paths,
                item_id=f"item{i}",
                datetime=dt.datetime(2024, 7, 1 + i, tzinfo=dt.UTC),
                bands={b: BandInfo(b, units="1") for b in bands},
                collection="bench",
            )
        )
    return items


def run(quick: bool = False) -> list[dict]:
    """Time both loads; return one row per case (see ``benchmarks/run.py``)."""
    import dask
    import odc.stac
    from odc.geo.geobox import GeoBox

    from geosurvey.catalogs import load

    cases = [("3 items x 2 bands, 256^2", 3, 256)] if quick else [
        ("8 items x 4 bands, 1024^2", 8, 1024),
        ("16 items x 4 bands, 512^2, median", 16, 512),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp, dask.config.set(scheduler="threads"):
        for name, n_items, size in cases:
            bands = ("red", "nir") if quick else ("blue", "red", "nir", "swir16")
            folder = Path(tmp) / name.split(",")[0].replace(" ", "_")
            folder.mkdir()
            items = _make_items(folder, n_items=n_items, size=size, bands=bands)
            # the area grid: 60 m, covering the middle of the items
            grid = GeoBox.from_bbox(
                (400_000 + 30 * size * 0.1, 7_500_000 + 30 * size * 0.1,
                 400_000 + 30 * size * 0.9, 7_500_000 + 30 * size * 0.9),
                crs="EPSG:32635", resolution=60,
            )
            median = "median" in name
            chunks = {"x": 1024, "y": 1024}

            def ours(items=items, grid=grid, median=median, chunks=chunks, bands=bands):
                ds = load(items, geobox=grid, bands=list(bands), chunks=chunks, groupby="time",
                          composite="median" if median else None)
                ds.compute()

            def baseline(items=items, grid=grid, median=median, chunks=chunks, bands=bands):
                ds = odc.stac.load(items, bands=list(bands), geobox=grid, chunks={**chunks, "time": 1},
                                   dtype="float32", groupby="time", resampling="bilinear")
                if median:
                    ds = ds.chunk({"time": -1}).median("time", skipna=True)
                ds.compute()

            repeats = 2 if quick else 3
            ours()  # warm GDAL's caches and imports for both sides
            baseline()
            t_ours = t_base = float("inf")
            for _ in range(repeats):
                t_base = min(t_base, best_of(baseline, 1))
                t_ours = min(t_ours, best_of(ours, 1))
            rows.append({
                "benchmark": "catalog load",
                "case": name,
                "geosurvey_s": round(t_ours, 4),
                "baseline_s": round(t_base, 4),
                "ratio": round(t_ours / t_base, 3),
                "peak_mib": None,
            })
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(
            f"{row['case']:<38} geosurvey {row['geosurvey_s']:.3f} s  odc.stac.load {row['baseline_s']:.3f} s  "
            f"overhead ratio {row['ratio']:.3f} (goal <= 1.10)"
        )
