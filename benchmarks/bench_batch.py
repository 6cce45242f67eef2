"""Batch runs: throughput and peak worker memory against a plain read-and-write pass; 2 workers
against 1 on a multi-area batch.

``python -m benchmarks.bench_batch [--quick]`` (or ``python -m benchmarks.run --only batch``).

* **demo areas**: :func:`make_demo_areas` writes the demo survey (its static STAC catalogue, its
  occurrences and faults) and a registry whose agreed areas are parts of the demo square, so one
  catalogue serves every area, as a partner's catalogue serves many agreed areas.
* **throughput**: the batch (``geosurvey.runner.batch`` with the real ``run``) against a baseline
  that only reads every area's input rasters and writes them back as COGs on the same cluster
  (the I/O floor of any job), in Mpixel/s of analysis grid, with the peak memory (VmHWM) of every
  worker process.
* **scaling**: the same multi-area batch on a LocalCluster of 1 worker and of 2 workers
  (1 thread each); the goal is a speed-up of 1.7x or more. On a machine with 2 cores shared with
  other work the speed-up is bounded by the cores actually free; the row says how many there are.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely

from benchmarks._timing import best_of  # noqa: F401  (kept for the common timing helper)

AREA_CELLS = ((0, 0), (1, 0), (0, 1), (1, 1), (0.5, 0.5), (0.5, 0), (0, 0.5), (1, 0.5))


@dataclass(frozen=True)
class DemoAreas:
    """Inputs of a demo batch: a registry of agreed areas and the demo catalogue and vectors."""

    registry: Path
    catalog: Path
    occurrences: Path
    faults: Path
    area_ids: tuple[str, ...]
    field: tuple[float, float]


def make_demo_areas(
    folder: str | Path,
    *,
    n_areas: int = 4,
    seed: int = 0,
    resolution: float = 100.0,
    outside: bool = False,
) -> DemoAreas:
    """The demo survey's inputs in ``folder`` and a registry of ``n_areas`` agreed demo areas.

    Each area is a square half the side of the demo square (its quadrants, then its centre and
    the middles of its sides), agreed by two demo parties whose keys exist only in memory here.
    ``outside`` adds an agreed area ``demo-outside`` half a degree east of the demo square, where
    the demo catalogue has no data (a run there fails, as a batch must survive).
    """
    from geosurvey.aoi import Registry, generate_keypair
    from geosurvey.demo import make_demo_data

    if not 1 <= n_areas <= len(AREA_CELLS):
        raise ValueError(f"n_areas must be 1 to {len(AREA_CELLS)}")
    folder = Path(folder)
    (folder / "demo").mkdir(parents=True)
    data = make_demo_data(folder / "demo", seed=seed, resolution=resolution)
    keys = {code: generate_keypair() for code in ("JP", "US")}
    registry = Registry.init(
        folder / "aoi",
        parties=[
            {
                "code": code,
                "name_en": f"{code} (demo party)",
                "name_ja": f"{code}（デモ当事者）",
                "agency": "DEMO — not a real agency key",
                "public_keys": [keys[code][1]],
                "demo_only": True,
            }
            for code in keys
        ],
    )
    west, south, east, north = data.survey.area.bounds
    half_x, half_y = (east - west) / 2, (north - south) / 2
    ids = []
    cells = [(f"demo-a{i + 1}", cx, cy) for i, (cx, cy) in enumerate(AREA_CELLS[:n_areas])]
    if outside:
        cells.append(("demo-outside", (east - west + 0.5) / half_x, 0))  # 0.5° east of it
    for area_id, cx, cy in cells:
        w, s = west + cx * half_x, south + cy * half_y
        registry.propose(
            shapely.box(w, s, w + half_x, s + half_y),
            id=area_id,
            name_en=f"Demo area {area_id} (synthetic data)",
            name_ja=f"デモ地域 {area_id}（合成データ）",
            region=["US"],
            commodities=["Cu", "Au"],
            deposit_models=["iocg"],
            proposer="US",
            analysis_crs="EPSG:32611",
            notes="Generated demo data; stands for no real ground.",
        )
        for code, (private, _public) in keys.items():
            registry.approve(area_id, party=code, private_key=private)
        ids.append(area_id)
    return DemoAreas(
        folder / "aoi", data.catalog, data.occurrences, data.faults, tuple(ids), tuple(data.field)
    )
