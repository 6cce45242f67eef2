"""Benchmark of publishing a score raster as a web map: time, page size, time to first render.

For score rasters of 1,000², 5,000² and 10,000² pixels (100 m, UTM 35N; ``--quick``: 400²):

* **publish**: :func:`geosurvey.publish.web_map` + :func:`~geosurvey.publish.save_web_map` with the
  default ``raster_mode="auto"`` (embedded while the imagery fits in 2 MB, else tiles): seconds,
  page size (the HTML file alone; tiles are beside it) and the number of tiles;
* **tile pyramid**: the same grid forced into tiles, against GDAL's own pipeline to the same
  product on the same COG and the same zoom levels — ``gdaldem color-relief -alpha`` (the same
  256-colour map, nodata transparent) then ``gdal2tiles.py --xyz`` (Debian's ``python3-gdal``; the
  baseline is left out, with a note, when ``gdal2tiles.py`` is not installed);
* **first render**: seconds from opening the page (``file://``) in headless Chromium until the score
  is drawn (the embedded image decoded, or the first tiles loaded).

Goals (issue 13): page under 3 MB and first render under 3 s at every size; the pyramid no
slower than the GDAL pipeline (ratio <= 1).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._timing import peak_rss_mib

SIZES = (1000, 5000, 10000)
QUICK_SIZES = (400,)


def _score_cog(n: int, path: Path) -> Path:
    """A smooth score in [0, 1] with a NaN corner, written as a COG."""
    import rioxarray  # noqa: F401
    import xarray as xr

    from geosurvey.io import write_cog

    rng = np.random.default_rng(0)
    rows = np.linspace(0, 6 * np.pi, n, dtype=np.float32)[:, None]
    cols = np.linspace(0, 4 * np.pi, n, dtype=np.float32)[None, :]
    values = (np.sin(rows) * np.cos(cols) + 1) / 2
    values += 0.05 * rng.random((n, n), dtype=np.float32)
    values[: n // 5, : n // 5] = np.nan
    x0, y0 = 300_000.0, 7_600_000.0
    da = xr.DataArray(
        np.clip(values, 0, 1),
        dims=("y", "x"),
        coords={"y": y0 - 100 * (np.arange(n) + 0.5), "x": x0 + 100 * (np.arange(n) + 0.5)},
        attrs={"long_name": "benchmark score", "units": "1"},
    ).rio.write_crs("EPSG:32635")
    return write_cog(da, path)


def _gdal_pipeline(
    cog: Path, out: Path, zooms: tuple[int, int], vmin: float, vmax: float
) -> float | None:
    """``gdaldem color-relief`` + ``gdal2tiles.py`` to the same tiles; seconds, or None."""
    import matplotlib

    gdal2tiles = shutil.which("gdal2tiles.py") or shutil.which("gdal2tiles")
    gdaldem = shutil.which("gdaldem")
    if gdal2tiles is None or gdaldem is None:
        return None
    cmap = matplotlib.colormaps["magma"]
    palette = out.parent / "palette.txt"
    lines = ["nv 0 0 0 0"]
    for i in range(256):
        r, g, b, _ = cmap(i, bytes=True)
        lines.append(f"{vmin + (vmax - vmin) * i / 255:.6f} {r} {g} {b} 255")
    palette.write_text("\n".join(lines) + "\n")
    rgba = out.parent / "rgba.tif"
    start = time.perf_counter()
    subprocess.run([gdaldem, "color-relief", "-alpha", "-nearest_color_entry", str(cog), str(palette),
                    str(rgba), "-co", "TILED=YES"], check=True, capture_output=True)  # fmt: skip
    subprocess.run(
        [gdal2tiles, "--xyz", "-z", f"{zooms[0]}-{zooms[1]}", "-w", "none", "-r", "near",
         "--processes=2", str(rgba), str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def _first_render(page: Path, browser: object | None) -> float:
    """Seconds from opening ``page`` until the score is drawn; ``browser``: a Playwright
    Chromium to use (one is started when ``None``)."""
    if browser is not None:
        return _time_render(browser, page)
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"]  # fmt: skip
    with sync_playwright() as pw:
        own = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=args)
        try:
            return _time_render(own, page)
        finally:
            own.close()


def _time_render(browser: object, page: Path) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    try:
        context.route(
            "**/*",
            lambda r: r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort(),
        )
        tab = context.new_page()
        start = time.perf_counter()
        tab.goto(page.as_uri(), wait_until="domcontentloaded", timeout=120_000)
        tab.wait_for_function(
            """() => { const img = document.querySelector('img.gs-score');
                if (img && img.complete && img.naturalWidth > 0) return true;
                return document.querySelectorAll('img.leaflet-tile-loaded').length > 0; }""",
            timeout=120_000,
        )
        tab.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        return time.perf_counter() - start
    finally:
        context.close()


def _case(n: int, tmp: Path, browser: object | None) -> list[dict[str, object]]:
    from geosurvey.io import read_raster
    from geosurvey.publish import save_web_map, web_map
    from geosurvey.publish._webmap import _tile_layers

    cog = _score_cog(n, tmp / f"score_{n}.tif")
    score = read_raster(cog, chunks=2048)

    start = time.perf_counter()
    page = save_web_map(web_map(score, title=f"{n}² score"), tmp / f"auto_{n}.html")
    publish_s = time.perf_counter() - start
    tiles_dir = tmp / f"auto_{n}_tiles"
    n_tiles = len(list(tiles_dir.rglob("*.png"))) if tiles_dir.exists() else 0
    page_mib = page.stat().st_size / 2**20
    first_s = _first_render(page, browser)

    start = time.perf_counter()
    tiled = web_map(score, raster_mode="tiles")
    plan_s = time.perf_counter() - start
    start = time.perf_counter()
    save_web_map(tiled, tmp / f"tiles_{n}.html")
    pyramid_s = time.perf_counter() - start
    pyramid = _tile_layers(tiled)[0].gs_tiles.pyramid
    gdal_s = _gdal_pipeline(
        cog,
        tmp / f"gdal_{n}",
        (pyramid.min_zoom, pyramid.max_zoom),
        pyramid.scale.vmin,
        pyramid.scale.vmax,
    )
    mode = f"{n_tiles} tiles" if n_tiles else "embedded"
    return [
        {"benchmark": "publish", "case": f"{n}² auto ({mode}, page {page_mib:.2f} MiB)",
         "geosurvey_s": publish_s, "baseline_s": None, "ratio": None, "peak_mib": peak_rss_mib(),
         "page_mib": page_mib, "tiles": n_tiles},
        {"benchmark": "first render", "case": f"{n}² in Chromium", "geosurvey_s": first_s,
         "baseline_s": None, "ratio": None, "peak_mib": None},
        {"benchmark": "tile pyramid", "case": f"{n}² z{pyramid.min_zoom}-{pyramid.max_zoom} vs gdal2tiles"
         + ("" if gdal_s is not None else " (gdal2tiles.py not installed)"),
         "geosurvey_s": pyramid_s, "baseline_s": gdal_s,
         "ratio": None if gdal_s is None else pyramid_s / gdal_s, "peak_mib": peak_rss_mib(),
         "plan_s": plan_s, "tiles": pyramid.tile_count()},
    ]  # fmt: skip


def run(quick: bool = False, *, browser: object | None = None) -> list[dict[str, object]]:
    """Rows for ``benchmarks/run.py`` (see the module docstring); ``browser``: a Playwright
    Chromium to time the first render in (default: one is started)."""
    rows: list[dict[str, object]] = []
    for n in QUICK_SIZES if quick else SIZES:
        with tempfile.TemporaryDirectory(prefix="geosurvey-bench-publish-") as tmp:
            rows.extend(_case(n, Path(tmp), browser))
    return rows


if __name__ == "__main__":
    import sys

    for row in run(quick="--quick" in sys.argv):
        print(row)
