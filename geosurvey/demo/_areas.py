"""Several agreed demo areas over one demo catalogue: the inputs of a demo batch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely

__all__ = ["AREA_CELLS", "DemoAreas", "demo_registry", "make_demo_areas"]

#: Lower-left corners of the demo areas, in half sides of the demo square from its south-west
#: corner: its four quadrants, then its centre and the middles of its sides.
AREA_CELLS: tuple[tuple[float, float], ...] = (
    (0, 0), (1, 0), (0, 1), (1, 1), (0.5, 0.5), (0.5, 0), (0, 0.5), (1, 0.5),
)


def demo_registry(folder: str | Path) -> tuple[Any, dict[str, tuple[str, str]]]:
    """A new survey-area registry in ``folder`` with two demo-only parties, ``JP`` and ``US``.

    Their signing keys are generated here and exist only in memory (they are marked demo-only in
    the registry): pass them to :meth:`~geosurvey.aoi.Registry.approve` to agree demo areas.

    Parameters
    ----------
    folder
        The registry folder to create (it must not hold a registry yet).

    Returns
    -------
    tuple
        The :class:`~geosurvey.aoi.Registry` and ``{party code: (private key, public key)}``.
    """
    from geosurvey.aoi import Registry, generate_keypair

    keys = {code: generate_keypair() for code in ("JP", "US")}
    registry = Registry.init(
        folder,
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
    return registry, keys


@dataclass(frozen=True)
class DemoAreas:
    """Inputs of a demo batch (from :func:`make_demo_areas`).

    Attributes
    ----------
    registry
        The survey-area registry folder, whose areas are agreed by two demo parties.
    catalog
        The demo survey's static STAC ``catalog.json`` (one catalogue serves every area).
    occurrences, faults
        The demo occurrences and faults (GeoPackage files).
    area_ids
        The ids of the areas, in order (``demo-a1``, ``demo-a2``, ...; ``demo-outside`` last).
    field
        The demo's geomagnetic field direction, ``(inclination, declination)`` in degrees.
    """

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
    """Write the demo survey's inputs into ``folder`` and a registry of ``n_areas`` agreed areas.

    Each area is a square half the side of the demo square (its quadrants, then its centre and
    the middles of its sides: :data:`AREA_CELLS`), agreed by two demo parties (``JP``, ``US``)
    whose keys exist only in memory here. Everything is DEMO data; it stands for no real ground.

    Parameters
    ----------
    folder
        A folder to create the data in (``demo/`` and the registry ``aoi/``); it may exist but
        must not hold them yet.
    n_areas
        How many areas, 1 to 8.
    seed
        Seed of the demo data (:func:`~geosurvey.demo.make_demo_data`).
    resolution
        Pixel size of the demo rasters, in metres.
    outside
        Also agree an area ``demo-outside`` half a degree east of the demo square, where the
        demo catalogue has no data (a run there fails: what a batch must survive).

    Returns
    -------
    DemoAreas

    Raises
    ------
    ValueError
        If ``n_areas`` is not 1 to 8.
    """
    from geosurvey.demo._run import make_demo_data

    if not 1 <= n_areas <= len(AREA_CELLS):
        raise ValueError(f"n_areas must be 1 to {len(AREA_CELLS)}, got {n_areas}")
    folder = Path(folder)
    (folder / "demo").mkdir(parents=True)
    data = make_demo_data(folder / "demo", seed=seed, resolution=resolution)
    registry, keys = demo_registry(folder / "aoi")
    west, south, east, north = data.survey.area.bounds
    half_x, half_y = (east - west) / 2, (north - south) / 2
    cells = [(f"demo-a{i + 1}", cx, cy) for i, (cx, cy) in enumerate(AREA_CELLS[:n_areas])]
    if outside:
        cells.append(("demo-outside", (east - west + 0.5) / half_x, 0))  # 0.5° east of it
    ids = []
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
