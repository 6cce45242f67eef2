"""``run(area, recipe)`` against the same stages called by hand, on a synthetic 4000 × 4000 area.

Six evidence layers (tilt and analytic signal of the reduced-to-pole field, gamma-ray K, eTh/K,
the SWIR clay ratio and the distance to faults) from a static STAC catalogue of synthetic COGs; the
area is agreed in a fresh registry. ``run`` is timed per stage; the baseline calls the same public
functions by hand in the same order (search, load, build evidence, persist, score, evaluate the
score and each layer, write the COGs, the web map, the output catalogue and a manifest). Each side
runs in a fresh process so its peak memory (``VmHWM``) is its own. The goal is run / by hand ≤ 1.05.

Measured (2 vCPUs, 2026-12-02, quiet machine): run 61.9 s (publish 46.3 s, of which the web map
about 36 s; evidence 11.0 s), by hand 63.0 s: ratio 0.98; peak memory 3.02 GB against 3.10 GB.
``run`` does more than the hand-written side (targets, evaluation plots, report); it was 1.14-1.17
before the targets were made 4x faster (scipy's per-label maximum sorted all 16 M pixels).

``python -m benchmarks.bench_run [--quick]`` (256 × 256 when quick).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from benchmarks._timing import peak_rss_mib

HERE = Path(__file__).resolve().parent
RESOLUTION = 25.0  # metres: 4000 px = 100 km
CRS = "EPSG:32611"
ORIGIN = (400_000.0, 4_300_000.0)  # west, north (m)

RECIPE = """
id = "bench-six"
title = "six-layer benchmark recipe"
method = "fuzzy-gamma"
[scoring]
gamma = 0.8
[[evidence]]
layer = "tilt"
units = "rad"
band = "mag_tmi"
steps = [{ fn = "reduction_to_pole", inclination = 60.0, declination = 10.0 }, { fn = "tilt_derivative" }]
[evidence.membership]
kind = "sigmoid"
midpoint = 0.0
spread = 0.3
[[evidence]]
layer = "mag_as"
units = "nT/m"
band = "mag_tmi"
steps = [{ fn = "reduction_to_pole", inclination = 60.0, declination = 10.0 }, { fn = "analytic_signal" }]
[evidence.membership]
kind = "sigmoid"
midpoint = 0.5
spread = 0.2
[[evidence]]
layer = "k"
units = "%"
band = "k"
[evidence.membership]
kind = "sigmoid"
midpoint = 2.0
spread = 0.3
[[evidence]]
layer = "eth_k"
units = "ppm/%"
bands = ["eth", "k"]
steps = [{ fn = "radiometric_ratio" }]
[evidence.membership]
kind = "sigmoid"
midpoint = 4.0
spread = 0.8
increasing = false
[[evidence]]
layer = "clay"
units = "1"
bands = ["swir16", "swir22"]
steps = [{ fn = "clay_hydroxyl" }]
[evidence.membership]
kind = "sigmoid"
midpoint = 1.3
spread = 0.1
[[evidence]]
layer = "fault_distance"
units = "m"
features = "faults"
steps = [{ fn = "distance_to_features" }]
[evidence.membership]
kind = "small"
midpoint = 2000.0
spread = 2.0
"""


def _smooth(rng: np.random.Generator, n: int, scale_px: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.standard_normal((n, n)).astype("float32"), scale_px, mode="wrap")
    return field / field.std()


def make_inputs(folder: Path, n: int) -> dict:
    """Synthetic COGs in a static catalogue, faults and occurrences, and an agreed area (registry)."""
    import geopandas as gpd
    import shapely
    from odc.geo.geobox import GeoBox

    from geosurvey.aoi import Registry, generate_keypair
    from geosurvey.catalogs import BandInfo, create_item, write_catalog
    from geosurvey.io import write_cog
    from geosurvey.testing import grid_like

    rng = np.random.default_rng(0)
    bands = {
        "mag_tmi": (200 * _smooth(rng, n, n / 60), "nT"),
        "k": (1.5 + 0.4 * _smooth(rng, n, n / 80), "%"),
        "eth": (8 + 2 * _smooth(rng, n, n / 80), "ppm"),
        "swir16": (0.3 + 0.03 * _smooth(rng, n, n / 100), "1"),
        "swir22": (0.25 + 0.02 * _smooth(rng, n, n / 100), "1"),
    }
    when = datetime(2025, 10, 28, tzinfo=UTC)
    groups = {"bench-mag": ("mag_tmi",), "bench-rad": ("k", "eth"), "bench-ms": ("swir16", "swir22")}
    items = []
    for item_id, names in groups.items():
        (folder / "catalog" / item_id).mkdir(parents=True)
        assets = {}
        for name in names:
            da = grid_like(bands[name][0], crs=CRS, resolution=RESOLUTION, origin=ORIGIN, name=name,
                           units=bands[name][1])
            assets[name] = write_cog(da, folder / "catalog" / item_id / f"{name}.tif")
        infos = {b: BandInfo(common_name=b, units=bands[b][1]) for b in names}
        items.append(create_item(assets, item_id=item_id, datetime=when, bands=infos, collection=item_id))
    catalog = write_catalog(items, folder / "catalog", catalog_id="bench", description="synthetic")
    side = n * RESOLUTION
    west, north = ORIGIN
    lines = []
    for _ in range(20):
        x0, y0 = west + rng.uniform(0, side), north - rng.uniform(0, side)
        angle = rng.uniform(0, np.pi)
        length = rng.uniform(0.2, 0.6) * side
        lines.append(shapely.LineString([(x0, y0), (x0 + length * np.cos(angle), y0 - length * np.sin(angle))]))
    faults = gpd.GeoDataFrame({"kind": ["fault"] * 20}, geometry=lines, crs=CRS)
    (folder / "data").mkdir()
    faults.to_file(folder / "data" / "faults.geojson")
    pts = gpd.points_from_xy(west + rng.uniform(0.05, 0.95, 50) * side,
                             north - rng.uniform(0.05, 0.95, 50) * side)
    gpd.GeoDataFrame(geometry=pts, crs=CRS).to_file(folder / "data" / "occurrences.geojson")
    gbox = GeoBox.from_bbox((west, north - side, west + side, north), crs=CRS, resolution=RESOLUTION)
    inner = gbox.extent.to_crs("EPSG:4326").geom.buffer(-1e-5)
    keys = {code: generate_keypair() for code in ("JP", "US")}
    registry = Registry.init(folder / "aoi", parties=[
        {"code": c, "name_en": c, "name_ja": c, "agency": "DEMO — benchmark key",
         "public_keys": [keys[c][1]], "demo_only": True} for c in keys])
    registry.propose(inner, id="bench-area", name_en="Benchmark area", name_ja="ベンチマーク地域",
                     region=["US"], commodities=["Cu"], deposit_models=["iocg"], proposer="US",
                     analysis_crs=CRS)
    for code, (private, _public) in keys.items():
        registry.approve("bench-area", party=code, private_key=private)
    (folder / "recipe.toml").write_text(RECIPE)
    return {"folder": str(folder), "catalog": str(catalog)}


def _case_run(folder: Path) -> dict:
    from geosurvey.runner import run

    start = time.perf_counter()
    result = run(
        "bench-area", folder / "recipe.toml", sources=[folder / "catalog" / "catalog.json"],
        registry=folder / "aoi", occurrences=folder / "data" / "occurrences.geojson",
        features={"faults": folder / "data" / "faults.geojson"}, resolution=RESOLUTION,
        out=folder / "out-run", scheduler="threads", echo=lambda _m: None,
    )
    return {"seconds": time.perf_counter() - start, "stages_s": result.timings,
            "shape": result.report["grid"]["shape"]}


def _case_hand(folder: Path) -> dict:
    """The same work through the public functions, called one after the other."""
    import dask

    from geosurvey import catalogs, publish
    from geosurvey.aoi import Registry
    from geosurvey.evaluation import evaluate
    from geosurvey.grid import geobox_for
    from geosurvey.io import output_folder, write_cog
    from geosurvey.prospectivity import build_evidence, load_recipe, membership, score
    from geosurvey.provenance import manifest
    from geosurvey.vectors import file_checksum, read_vector

    start = time.perf_counter()
    recipe = load_recipe(folder / "recipe.toml")
    occ = read_vector(folder / "data" / "occurrences.geojson")
    faults = read_vector(folder / "data" / "faults.geojson")
    with dask.config.set(scheduler="threads"), output_folder(folder / "out-hand") as work:
        area = Registry(folder / "aoi").get("bench-area")
        items = catalogs.search(folder / "catalog" / "catalog.json", area=area.geometry)
        gbox = geobox_for(area.geometry, crs=area.analysis_crs, resolution=RESOLUTION)
        ds = catalogs.load(items, geobox=gbox, bands=sorted(recipe.bands), composite="median",
                           chunks={"x": 1024, "y": 1024})
        lazy = build_evidence(ds, recipe, features={"faults": faults})
        layers = dict(zip(lazy, dask.persist(*lazy.values()), strict=True))
        prospectivity = score(layers, recipe).persist()
        evaluate(prospectivity, occ)
        for spec in recipe.evidence:
            evaluate(membership(layers[spec.layer], kind=spec.membership.kind,
                                **spec.membership.params.to_dict()), occ)
        cogs = {"score": write_cog(prospectivity, work / "score.tif")}
        (work / "evidence").mkdir()
        for name, layer in layers.items():
            cogs[name] = write_cog(layer, work / "evidence" / f"{name}.tif")
        fmap = publish.web_map(prospectivity, area=area.geometry, faults=faults, occurrences=occ,
                               survey_areas=Registry(folder / "aoi").to_geodataframe(), layers=layers)
        publish.save_web_map(fmap, work / "index.html")
        publish.write_outputs_catalog(cogs, work / "outputs", area_id=area.id, recipe=recipe.id,
                                      datetime=datetime.now(UTC))
        checksums = {item.id: {k: file_checksum(a.get_absolute_href()) for k, a in item.assets.items()}
                     for item in items}
        manifest(work / "manifest.json", inputs={"items": checksums}, parameters={}, recipe={})
    return {"seconds": time.perf_counter() - start}


def _in_subprocess(kind: str, folder: str) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_run", "--case", kind, folder]
    proc = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        print(f"  case {kind} failed: {last}", file=sys.stderr)
        return {"error": last[:60]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  {kind}: {result}", file=sys.stderr)
    return result


def run(quick: bool = False) -> list[dict]:
    """Both cases, each in a fresh process; rows for ``benchmarks/run.py`` (one per stage too)."""
    n = 256 if quick else 4000
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(Path(tmp), n)
        ours = _in_subprocess("run", inputs["folder"])
        theirs = _in_subprocess("hand", inputs["folder"])
    ok = "error" not in ours and "error" not in theirs
    rows = [{
        "benchmark": "run",
        "case": f"{n}² six layers vs stages by hand",
        "geosurvey_s": ours.get("seconds"),
        "baseline_s": theirs.get("seconds"),
        "ratio": ours["seconds"] / theirs["seconds"] if ok else None,
        "peak_mib": ours.get("peak_mib"),
        "baseline_peak_mib": theirs.get("peak_mib"),
    }]
    for stage, seconds in (ours.get("stages_s") or {}).items():
        rows.append({"benchmark": "run", "case": f"  stage {stage}", "geosurvey_s": seconds})
    return rows


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256 × 256 (smoke run)")
    parser.add_argument("--case", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.case:
        kind, folder = args.case
        result = (_case_run if kind == "run" else _case_hand)(Path(folder))
        result["peak_mib"] = peak_rss_mib()
        print(json.dumps(result))
        return 0
    for row in run(quick=args.quick):
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
