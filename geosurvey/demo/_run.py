"""``geosurvey demo``: the whole job, top to bottom, on the generated demo survey.

Stages (each a call of a public function of the stage's module, in the order of DESIGN.md):

1. survey area: generate the demo survey (:func:`make_demo_survey`) and agree its area in a fresh
   registry under the output folder (two demo parties whose keys are generated at run time and never
   written anywhere);
2. catalogue: write the demo rasters as COGs and a static STAC catalogue (``proj``, ``raster``,
   ``eo``);
3. load: search the catalogue for the area and load the items with odc-stac onto the area's grid, as
   a Dask-backed Dataset;
4. evidence: four lazy evidence layers (SWIR ratio, tilt derivative of the reduced-to-pole field,
   eTh/K, distance to faults);
5. score: fuzzy memberships and the fuzzy gamma overlay of the ``demo-iocg`` recipe;
6. evaluate: ROC AUC and capture efficiency against the known occurrences (score and each layer);
7. publish: the score as a COG, an output STAC catalogue, the web map ``index.html``, a JSON report
   and a manifest.

The output folder is built in a temporary sibling and renamed into place only when every stage
succeeded, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import dask
import xarray as xr

from geosurvey import __version__
from geosurvey.errors import InputError
from geosurvey.io import atomic_write_text, output_folder, write_cog
from geosurvey.provenance import manifest
from geosurvey.runner import dask_client, describe_scheduler

__all__ = ["DemoResult", "run_demo"]

Lang = Literal["en", "ja"]
LANGS: tuple[str, ...] = ("en", "ja")

#: The evidence layers of the demo and how each is made (documentation for the report and map).
EVIDENCE_DESCRIPTIONS = {
    "clay_hydroxyl": "swir16 / swir22 reflectance ratio (AlOH clays and sericite)",
    "tilt": "tilt derivative of the reduced-to-pole magnetic anomaly, rad (z down)",
    "eth_k": "eTh / K radiometric ratio, ppm/% (potassic alteration lowers it)",
    "fault_distance": "Euclidean distance to the nearest mapped fault, m",
}

_MESSAGES = {
    "en": {
        "stage": "[{i}/{n}] {name}",
        "done": "      done in {s:.1f} s",
        "summary": "Demo survey {area} ({status}): ROC AUC {auc:.3f}; occurrences in the top 5/10/20% "
        "of the area: {c5:.0%} / {c10:.0%} / {c20:.0%}",
        "outputs": "Web map: {map}\nScore COG: {cog}\nReport: {report}",
        "stages": [
            "survey area (demo data, registry approval)",
            "static STAC catalogue",
            "search and load (odc-stac, Dask)",
            "evidence layers",
            "prospectivity score (fuzzy gamma)",
            "evaluation",
            "publish (COG, STAC, web map)",
        ],
    },
    "ja": {
        "stage": "[{i}/{n}] {name}",
        "done": "      {s:.1f} 秒で完了",
        "summary": "デモ調査地域 {area}（{status}）: ROC AUC {auc:.3f}、面積上位 5/10/20% に含まれる"
        "既知鉱徴地の割合: {c5:.0%} / {c10:.0%} / {c20:.0%}",
        "outputs": "ウェブ地図: {map}\nスコア COG: {cog}\nレポート: {report}",
        "stages": [
            "調査地域（デモデータ、登録簿での承認）",
            "静的 STAC カタログ",
            "検索と読み込み（odc-stac、Dask）",
            "証拠レイヤー",
            "有望度スコア（ファジィ・ガンマ）",
            "評価",
            "公開（COG、STAC、ウェブ地図）",
        ],
    },
}


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` produced."""

    out: Path
    area_id: str
    status: str
    metrics: dict[str, object]
    timings: dict[str, float] = field(default_factory=dict)

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


class _Stages:
    def __init__(self, lang: Lang, echo: Callable[[str], None]) -> None:
        self.msg = _MESSAGES[lang]
        self.echo = echo
        self.timings: dict[str, float] = {}
        self.i = 0

    @contextmanager
    def __call__(self, key: str) -> Iterator[None]:
        names = self.msg["stages"]
        self.echo(self.msg["stage"].format(i=self.i + 1, n=len(names), name=names[self.i]))
        start = time.perf_counter()
        yield
        self.timings[key] = time.perf_counter() - start
        self.echo(self.msg["done"].format(s=self.timings[key]))
        self.i += 1


def _agree_area(survey: object, registry_dir: Path) -> object:
    """A fresh registry with two demo parties that both approve the demo area."""
    from geosurvey.aoi import Registry, generate_keypair

    names = {
        "JP": ("Japan (demo party)", "日本（デモ当事者）"),
        "US": ("United States (demo party)", "米国（デモ当事者）"),
    }
    keys = {code: generate_keypair() for code in names}  # (private PEM, public): in memory only
    parties = [
        {
            "code": code,
            "name_en": name_en,
            "name_ja": name_ja,
            "agency": "DEMO — not a real agency key",
            "public_keys": [keys[code][1]],
            "demo_only": True,
        }
        for code, (name_en, name_ja) in names.items()
    ]
    registry = Registry.init(registry_dir, parties=parties)
    area = registry.propose(
        survey.area,  # type: ignore[attr-defined]
        id="demo-iocg",
        name_en="Demo IOCG survey area (synthetic data)",
        name_ja="デモ IOCG 調査地域（合成データ）",
        region=["US"],
        commodities=["Cu", "Au", "Co", "LREE"],
        deposit_models=["iocg"],
        methods=["airborne-magnetics", "airborne-radiometrics", "multispectral-imagery"],
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


def _evidence(ds: xr.Dataset, survey: object, recipe: object) -> dict[str, xr.DataArray]:
    from geosurvey.prospectivity import EvidenceContext, build_evidence

    inclination, declination = survey.field  # type: ignore[attr-defined]
    return build_evidence(
        ds,
        recipe,
        features={"faults": survey.faults},  # type: ignore[attr-defined]
        context=EvidenceContext(inclination=inclination, declination=declination),
    )


def run_demo(
    out: str | Path = "geosurvey-demo",
    *,
    lang: Lang = "en",
    seed: int = 0,
    resolution: float = 100.0,
    overwrite: bool = False,
    scheduler: str | None = None,
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
        Pixel size of the analysis grid, metres.
    overwrite
        Replace an existing output folder (only once the new one is complete).
    scheduler
        Where the Dask work runs: ``None``/``"threads"`` (this process), ``"local"`` (a LocalCluster
        of worker processes) or a scheduler address (see :func:`geosurvey.runner.dask_client`).
    echo
        Where progress lines go (``print`` by default).

    Returns
    -------
    DemoResult
        Paths, the area's derived status, metrics and per-stage timings (seconds).
    """
    if lang not in LANGS:
        raise InputError(f"unknown language {lang!r}; use one of: {', '.join(LANGS)}")
    from geosurvey import catalogs, publish
    from geosurvey.demo._synthetic import make_demo_survey
    from geosurvey.evaluation import evaluate
    from geosurvey.grid import geobox_for
    from geosurvey.prospectivity import load_recipe, score

    stage = _Stages(lang, echo)
    final = Path(out).absolute()
    recipe = load_recipe("demo-iocg")
    with output_folder(final, overwrite=overwrite) as work, dask_client(scheduler) as client:
        with stage("area"):
            survey = make_demo_survey(seed=seed, resolution=resolution)
            registry = _agree_area(survey, work / "aoi")
            area = registry.get("demo-iocg")
            status = area.status
        with stage("catalogue"):
            catalog_path = _write_catalogue(survey, work / "catalog")
        with stage("load"):
            items = catalogs.search(catalog_path, area=area)
            gbox = geobox_for(area.geometry, crs=area.analysis_crs, resolution=resolution)
            ds = catalogs.load(items, geobox=gbox, composite="median", chunks={"x": 256, "y": 256})
        with stage("evidence"):
            # built lazily, then computed once and kept (on the workers) for the score, the
            # per-layer evaluation and the map, instead of recomputing each FFT three times
            lazy_layers = _evidence(ds, survey, recipe)
            layers = dict(zip(lazy_layers, dask.persist(*lazy_layers.values()), strict=True))
        with stage("score"):
            prospectivity = score(layers, recipe).persist()
        with stage("evaluate"):
            result = evaluate(prospectivity, survey.occurrences)
            per_layer = {}
            for spec in recipe.evidence:
                # a layer the recipe favours when small (a distance, eTh/K) is ranked by its negative
                small = spec.favours_small
                layer = -layers[spec.layer] if small else layers[spec.layer]
                per_layer[spec.layer] = round(
                    evaluate(layer.rename(spec.layer), survey.occurrences).roc_auc, 4
                )
            metrics = {
                **result.to_dict(),
                "evidence_roc_auc": per_layer,
                "evidence": EVIDENCE_DESCRIPTIONS,
                "recipe": recipe.id,
            }
        with stage("publish"):
            write_cog(
                prospectivity.assign_attrs(source="DEMO (synthetic) data"), work / "score.tif"
            )
            publish.write_outputs_catalog(
                {"score": work / "score.tif"},
                work / "outputs",
                area_id=area.id,
                recipe=recipe.id,
                datetime=datetime(2025, 10, 28, tzinfo=UTC),
                description="DEMO (synthetic data): prospectivity score of the geosurvey demo area; "
                "stands for no real ground.",
            )
            fmap = publish.web_map(
                prospectivity,
                lang=lang,
                title=area.name_ja if lang == "ja" else area.name_en,
                area=area.geometry,
                faults=survey.faults,
                occurrences=survey.occurrences,
                survey_areas=registry.to_geodataframe(),
                layers=layers,
                attribution="geosurvey demo — synthetic data",
            )
            publish.save_web_map(fmap, work / "index.html")
            report = {
                "geosurvey": __version__,
                "area": {"id": area.id, "status": status, "analysis_crs": str(area.analysis_crs)},
                "grid": {
                    "crs": str(gbox.crs),
                    "resolution_m": resolution,
                    "shape": list(gbox.shape),
                },
                "seed": seed,
                "lang": lang,
                "dask": describe_scheduler(client),
                "demo": True,
                **metrics,
            }
            atomic_write_text(
                work / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n"
            )
            manifest(
                work / "manifest.json",
                inputs={"catalog": "catalog/catalog.json", "items": [item.id for item in items]},
                parameters={
                    "seed": seed,
                    "resolution_m": resolution,
                    "lang": lang,
                    "scheduler": scheduler or "threads",
                },
                recipe=recipe.to_dict(),
                outputs={
                    "score": "score.tif",
                    "web_map": "index.html",
                    "report": "report.json",
                    "stac": "outputs/catalog.json",
                },
            )
    msg = _MESSAGES[lang]
    echo(
        msg["summary"].format(
            area=area.id,
            status=status,
            auc=result.roc_auc,
            c5=result.capture[0.05],
            c10=result.capture[0.1],
            c20=result.capture[0.2],
        )
    )
    echo(
        msg["outputs"].format(
            map=final / "index.html", cog=final / "score.tif", report=final / "report.json"
        )
    )
    return DemoResult(final, area.id, status, metrics, stage.timings)
