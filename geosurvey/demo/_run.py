"""``geosurvey demo``: generated demo data, then :func:`geosurvey.runner.run`'s stages on them.

1. demo data: generate the demo survey (:func:`make_demo_survey`), agree its area in a fresh
   registry under the output folder (two demo parties whose keys are generated at run time and
   never written anywhere), write its rasters as COGs in a static STAC catalogue (``proj``,
   ``raster``, ``eo``) and its faults and known occurrences as GeoJSON;
2. the run: the same stages as ``geosurvey run demo-iocg --recipe demo-iocg ...`` (search, load,
   evidence, score, evaluate, publish), written into the same folder.

The output folder is built in a temporary sibling and renamed into place only when every stage
succeeded, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from geosurvey.i18n import TEXT, Language, check_lang
from geosurvey.io import atomic_write_text, output_folder, write_cog
from geosurvey.runner import RunResult, dask_client, execute_run, plan_run

__all__ = ["DemoData", "DemoResult", "make_demo_data", "run_demo"]

#: The language codes the demo speaks (those of :mod:`geosurvey.i18n`).
LANGS: tuple[str, ...] = tuple(TEXT)


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` produced: the run's result plus where the demo data went."""

    out: Path
    area_id: str
    status: str
    metrics: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    run: RunResult | None = None

    @property
    def web_map(self) -> Path:
        """The web map, ``index.html``."""
        return self.out / "index.html"

    @property
    def score_cog(self) -> Path:
        """The score as a Cloud Optimized GeoTIFF."""
        return self.out / "score.tif"

    @property
    def report(self) -> Path:
        """The evaluation report (JSON)."""
        return self.out / "report.json"


@dataclass(frozen=True)
class DemoData:
    """The demo's inputs on disk, as a real survey's would be: a registry, a catalogue, vectors.

    Parameters
    ----------
    registry
        The registry folder holding the agreed area ``area_id``.
    catalog
        The static STAC catalogue (``catalog.json``).
    occurrences
        GeoJSON file of the known occurrences.
    features
        GeoJSON files of the vector features by the names the recipe uses (``faults``...).
    area_id
        The agreed area.
    recipe
        The shipped recipe the data are made for (``demo-iocg``, or the system's).
    field
        The main-field inclination and declination (degrees) the synthetic anomaly was made with.
    resolution
        Pixel size of the generated rasters, metres.
    survey
        The generated survey (rasters, vectors, band descriptions).
    """

    registry: Path
    catalog: Path
    occurrences: Path
    features: Mapping[str, Path]
    area_id: str
    recipe: str
    field: tuple[float, float]
    resolution: float
    survey: Any

    @property
    def faults(self) -> Path:
        """The mapped faults (GeoJSON)."""
        return self.features["faults"]


def _agree_area(geometry: Any, registry_dir: Path, *, area_id: str, names: tuple[str, str],
                commodities: Any, deposit_models: Any, methods: Any) -> Any:
    """A fresh registry with two demo parties that both approve the demo area."""
    from geosurvey.aoi import Registry, generate_keypair

    parties_names = {
        "JP": ("Japan (demo party)", "日本（デモ当事者）"),
        "US": ("United States (demo party)", "米国（デモ当事者）"),
    }
    keys = {code: generate_keypair() for code in parties_names}  # (private PEM, public): in memory only
    parties = [
        {
            "code": code,
            "name_en": name_en,
            "name_ja": name_ja,
            "agency": "DEMO — not a real agency key",
            "public_keys": [keys[code][1]],
            "demo_only": True,
        }
        for code, (name_en, name_ja) in parties_names.items()
    ]
    registry = Registry.init(registry_dir, parties=parties)
    area = registry.propose(
        geometry,
        id=area_id,
        name_en=names[0],
        name_ja=names[1],
        region=["US"],
        commodities=list(commodities),
        deposit_models=list(deposit_models),
        methods=list(methods),
        proposer="US",
        notes="Generated demo data; stands for no real ground.",
    )
    for code, (private, _public) in keys.items():
        registry.approve(area.id, party=code, private_key=private)
    return registry


def _write_catalogue(survey: object, folder: Path) -> Path:
    """The demo rasters as COGs and a static STAC catalogue; returns the catalogue's path."""
    from geosurvey.catalogs import BandInfo, create_item, write_catalog

    when = datetime(2025, 10, 28, tzinfo=UTC)  # the day the framework was signed
    groups = {  # collection ids as in catalogs/demo.toml
        "demo-multispectral-scene": (
            "demo-multispectral",
            ("blue", "green", "red", "nir", "swir16", "swir22"),
        ),
        "demo-magnetics": ("demo-magnetic", ("mag_tmi",)),
        "demo-radiometrics": ("demo-radiometric", ("k", "eth", "eu")),
    }
    items = []
    for item_id, (collection, bands) in groups.items():
        (folder / item_id).mkdir(parents=True)
        assets, infos = {}, {}
        for band in bands:
            raster = survey.rasters[band]  # type: ignore[attr-defined]
            info = survey.band_info[band]  # type: ignore[attr-defined]
            assets[band] = write_cog(raster, folder / item_id / f"{band}.tif")
            infos[band] = BandInfo(
                common_name=band,
                description=info["description"],
                units=info["units"],
                center_wavelength=info.get("center_wavelength"),
            )
        items.append(
            create_item(
                assets,
                item_id=item_id,
                datetime=when,
                bands=infos,
                collection=collection,
                properties={"geosurvey:demo": True, "description": "DEMO (synthetic) data"},
            )
        )
    return write_catalog(
        items,
        folder,
        catalog_id="geosurvey-demo",
        title="geosurvey demo catalogue (synthetic data)",
        description="Synthetic demo survey data generated by geosurvey; stands for no real ground.",
    )


def make_demo_data(folder: str | Path, *, seed: int = 0, resolution: float | None = None,
                   area_id: str | None = None, system: str | None = None) -> DemoData:
    """Generate a demo survey and write it as a survey's inputs into ``folder`` (which must exist).

    Writes ``folder/aoi`` (a registry where two demo parties agree the area), ``folder/catalog``
    (the rasters as COGs in a static STAC catalogue) and ``folder/data`` (``occurrences.geojson``
    and one GeoJSON per feature set the recipe uses).

    Parameters
    ----------
    folder
        An existing, writable folder.
    seed
        Seed of the generator (the same seed gives the same data).
    resolution
        Pixel size of the generated rasters, metres (default: 100 m for the IOCG demo, the
        system's own for a mineral system).
    area_id
        The id under which the area is agreed (default ``demo-iocg`` or ``demo-<system>``).
    system
        A mineral system of :data:`geosurvey.demo.SYSTEMS` (named as the recipe it serves), or
        ``None`` for the IOCG demo survey.
    """
    folder = Path(folder)
    if system is None:
        from geosurvey.demo._synthetic import make_demo_survey

        survey = make_demo_survey(seed=seed, resolution=100.0 if resolution is None else resolution)
        area_id = area_id or "demo-iocg"
        _agree_area(survey.area, folder / "aoi", area_id=area_id,
                    names=("Demo IOCG survey area (synthetic data)", "デモ IOCG 調査地域（合成データ）"),
                    commodities=["Cu", "Au", "Co", "LREE"], deposit_models=["iocg"],
                    methods=["airborne-magnetics", "airborne-radiometrics", "multispectral-imagery"])
        catalog = _write_catalogue(survey, folder / "catalog")
        feature_frames = {"faults": survey.faults}
        recipe = "demo-iocg"
    else:
        from geosurvey.demo._systems import make_system_survey, write_survey_catalog

        survey = make_system_survey(system, seed=seed, resolution=resolution)
        spec = survey.system
        area_id = area_id or f"demo-{system}"
        _agree_area(survey.area, folder / "aoi", area_id=area_id,
                    names=(spec.title_en, spec.title_ja), commodities=spec.commodities,
                    deposit_models=spec.deposit_models, methods=spec.methods)
        catalog = write_survey_catalog(survey, folder / "catalog")
        feature_frames = dict(survey.features)
        recipe = system
    (folder / "data").mkdir()
    occurrences = atomic_write_text(folder / "data" / "occurrences.geojson",
                                    survey.occurrences.to_json(drop_id=True))
    features = {name: atomic_write_text(folder / "data" / f"{name}.geojson", frame.to_json(drop_id=True))
                for name, frame in feature_frames.items()}
    res = 100.0 if system is None and resolution is None else float(
        resolution if resolution is not None else abs(survey.geobox.resolution.x))
    return DemoData(folder / "aoi", catalog, occurrences, features, area_id, recipe,
                    tuple(survey.field), res, survey)


def run_demo(
    out: str | Path = "geosurvey-demo",
    *,
    lang: Language = "en",
    seed: int = 0,
    resolution: float | None = None,
    overwrite: bool = False,
    scheduler: str | None = None,
    system: str | None = None,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Run the whole geosurvey job on the generated demo survey.

    Parameters
    ----------
    out
        The output folder to create. It must not exist unless ``overwrite``; its parent must exist
        and be writable.
    lang
        Language of the web map and the printed summary: ``"en"`` or ``"ja"``.
    seed
        Seed of the demo data generator (the same seed gives the same data).
    resolution
        Pixel size of the analysis grid, metres (default: 100 m, or the system's own).
    overwrite
        Replace an existing output folder (only once the new one is complete).
    scheduler
        Where the Dask work runs: ``None``/``"threads"`` (this process), ``"local"`` (a LocalCluster
        of worker processes) or a scheduler address (see :func:`geosurvey.runner.dask_client`).
    system
        A mineral system of :data:`geosurvey.demo.SYSTEMS` (e.g. ``"carbonatite-ree"``): its
        synthetic survey, run with the shipped recipe of the same name. ``None``: the IOCG demo.
    echo
        Where progress lines go (``print`` by default).

    Returns
    -------
    DemoResult
        Paths, the area's derived status, metrics and per-stage timings (seconds).
    """
    lang = check_lang(lang)
    text = TEXT[lang]
    final = Path(out).absolute()
    with output_folder(final, overwrite=overwrite) as work, dask_client(scheduler) as client:
        echo(text["run_stage"].format(i=1, n=8, name=text["demo_stage_data"]))
        start = time.perf_counter()
        data = make_demo_data(work, seed=seed, resolution=resolution, system=system)
        data_s = time.perf_counter() - start
        echo(text["run_done"].format(s=data_s))
        inclination, declination = data.field
        inputs = plan_run(
            data.area_id, data.recipe, sources=[data.catalog], registry=data.registry,
            occurrences=data.occurrences, features=dict(data.features),
            resolution=data.resolution, inclination=inclination, declination=declination,
            lang=lang, chunks=256, labels={"demo": True, "seed": seed, "system": data.recipe},
        )
        result = execute_run(inputs, work, echo=echo, client=client, final=final, stages_before=1)
    return DemoResult(final, result.area_id, result.status, result.report,
                      {"data": data_s, **result.timings}, result)
