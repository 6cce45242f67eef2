"""Test data for the batch runner: the demo survey split into agreed areas, and a small real job.

``demo_batch`` writes the demo survey's grids as COGs, its known occurrences as a GeoPackage and a
registry whose agreed areas are the quadrants of the demo square (two demo parties approve each).
``small_run`` is a per-area job with the signature of :func:`geosurvey.runner.run`: it reads the
magnetic grid over the area (lazily, chunked), reduces it to the pole, takes the tilt derivative
(an FFT global step), scores it with a fuzzy membership, evaluates it against the occurrences and
writes everything through :func:`geosurvey.io.output_folder`. It exercises the batch machinery
with real files and real Dask work in seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import shapely

from geosurvey.aoi import Registry
from geosurvey.demo import demo_registry, make_demo_survey
from geosurvey.io import atomic_write_text, output_folder, read_raster, write_cog


@dataclass(frozen=True)
class DemoBatch:
    registry: Path
    sources: Path  # folder of COGs
    occurrences: Path
    area_ids: tuple[str, ...]


def demo_batch(
    folder: Path, *, n_areas: int = 4, seed: int = 0, resolution: float = 200.0
) -> DemoBatch:
    survey = make_demo_survey(seed=seed, resolution=resolution)
    data = folder / "data"
    data.mkdir(parents=True)
    for band in ("mag_tmi", "k", "eth"):
        write_cog(survey.rasters[band], data / f"{band}.tif")
    inclination, declination = survey.field
    atomic_write_text(
        data / "field.json", json.dumps({"inclination": inclination, "declination": declination})
    )
    occurrences = data / "occurrences.gpkg"
    survey.occurrences.to_file(occurrences)
    registry, keys = demo_registry(folder / "aoi")
    west, south, east, north = survey.area.bounds
    cells = [(0, 0), (1, 0), (0, 1), (1, 1), (0.5, 0), (0.5, 1)][:n_areas]
    ids = []
    for i, (cx, cy) in enumerate(cells):
        w = west + cx * (east - west) / 2
        s = south + cy * (north - south) / 2
        geom = shapely.box(w, s, w + (east - west) / 2, s + (north - south) / 2)
        area_id = f"demo-q{i + 1}"
        registry.propose(
            geom,
            id=area_id,
            name_en=f"Demo quadrant {i + 1} (synthetic data)",
            name_ja=f"デモ区画 {i + 1}（合成データ）",
            region=["US"],
            commodities=["Cu"],
            deposit_models=["iocg"],
            proposer="US",
            analysis_crs="EPSG:32611",
        )
        for code, (private, _public) in keys.items():
            registry.approve(area_id, party=code, private_key=private)
        ids.append(area_id)
    return DemoBatch(folder / "aoi", data, occurrences, tuple(ids))


def small_run(
    area: str,
    recipe: Any,
    *,
    sources: Sequence[Path] | Path,
    out: Path,
    occurrences: Path | None = None,
    occurrence_filter: str | None = None,
    features: Any = None,
    registry: Path = Path("aoi"),
    resolution: float | None = None,
    lang: str = "en",
    scheduler: Any = None,
    overwrite: bool = False,
    echo: Any = print,
) -> SimpleNamespace:
    """A real, small per-area job with :func:`geosurvey.runner.run`'s signature (see the module)."""
    from geosurvey import evidence
    from geosurvey.evaluation import evaluate
    from geosurvey.prospectivity import membership
    from geosurvey.provenance import manifest

    the_area = Registry(registry).get(area)
    if isinstance(sources, list | tuple):
        sources = sources[0]
    field = json.loads((Path(sources) / "field.json").read_text())
    mag = read_raster(Path(sources) / "mag_tmi.tif", chunks=32)
    bounds = gpd.GeoSeries([the_area.geometry], crs=4326).to_crs(mag.rio.crs).total_bounds
    mag = mag.rio.clip_box(*bounds)
    echo("[1/2] evidence")
    tilt = evidence.tilt_derivative(evidence.reduction_to_pole(mag, **field)).rename("tilt")
    score = membership(tilt, kind="sigmoid", midpoint=0.0, spread=0.25).rename("score")
    with output_folder(out, overwrite=overwrite) as work:
        echo("[2/2] write")
        (work / "evidence").mkdir()
        write_cog(tilt, work / "evidence" / "tilt.tif")
        write_cog(score, work / "score.tif")
        occ = None
        if occurrences:
            occ = gpd.read_file(occurrences).to_crs(mag.rio.crs)
            occ = occ.cx[bounds[0] : bounds[2], bounds[1] : bounds[3]]
        report = {"area": {"id": area, "status": the_area.status}, "recipe": recipe.id}
        if occ is not None:
            report["score"] = {"roc_auc": evaluate(read_raster(work / "score.tif"), occ).roc_auc}
        atomic_write_text(work / "report.json", json.dumps(report, indent=2) + "\n")
        manifest(
            work / "manifest.json",
            inputs={
                "mag_tmi": {
                    "path": str((Path(sources) / "mag_tmi.tif").absolute()),
                    "sha256": hashlib.sha256(
                        (Path(sources) / "mag_tmi.tif").read_bytes()
                    ).hexdigest(),
                }
            },
            parameters={"resolution": resolution},
        )
    return SimpleNamespace(out=out, area_id=area, status=the_area.status, report=report)


# ------------------------------------------------------------------ real Dask processes on 127.0.0.1

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RealCluster:
    """A ``dask scheduler`` process and worker processes (``dask worker``, no nanny) on 127.0.0.1."""

    address: str
    logs: Path
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    def add_worker(
        self, *, prefix: Sequence[str] = (), memory_limit: str = "2GiB"
    ) -> subprocess.Popen:
        cmd = [
            *prefix,
            str(BIN / "dask"),
            "worker",
            self.address,
            "--nthreads",
            "1",
            "--no-nanny",
            "--memory-limit",
            memory_limit,
            "--host",
            "127.0.0.1",
            "--no-dashboard",
            "--local-directory",
            str(self.logs),
        ]
        log = open(self.logs / f"worker-{len(self.workers)}.log", "w")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(proc)
        return proc

    def wait_for_workers(self, n: int, timeout: float = 60) -> None:
        from distributed import Client

        deadline = time.monotonic() + timeout
        while True:
            try:
                with Client(self.address, timeout=5) as client:
                    client.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))
                return
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Dask cluster did not start; see {self.logs}") from None
                time.sleep(0.3)

    def stop(self) -> None:
        """SIGTERM every process, then SIGKILL whatever is still there after a few seconds."""
        procs = [*self.workers, self.scheduler]
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def start_cluster(logs: Path, *, n_workers: int = 2, port: int | None = None) -> RealCluster:
    """Start a real scheduler and ``n_workers`` worker processes; wait until they are connected."""
    port = port or free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs.mkdir(parents=True, exist_ok=True)
    scheduler = subprocess.Popen(
        [
            str(BIN / "dask"),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-dashboard",
        ],
        stdout=open(logs / "scheduler.log", "a"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster = RealCluster(address, logs, scheduler)
    try:
        for _ in range(n_workers):
            cluster.add_worker()
        cluster.wait_for_workers(n_workers)
    except BaseException:
        cluster.stop()
        raise
    return cluster
