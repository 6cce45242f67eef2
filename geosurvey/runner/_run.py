"""``run(area, recipe)``: the whole job for one survey area, one module-level function per stage.

The stages, each taking the previous stage's object (and each testable alone):

1. :func:`check_area` — the area from the registry; one that is not agreed is refused, naming the
   parties still pending (``allow_unagreed`` runs it anyway and stamps "NOT AGREED" on every
   output);
2. :func:`find_items` — search every source for the area;
3. :func:`load_datacube` — load the recipe's bands onto the area's grid (odc-stac, Dask);
4. :func:`resolve_context` — values that depend on the area: the geomagnetic field direction from
   IGRF for the area's centroid and the survey date (explicit values win);
5. :func:`compute_evidence` — the recipe's layers, built lazily, then computed once and kept
   (``dask.persist``) for the score, the evaluation and the outputs;
6. :func:`score_evidence` — the recipe's method (:data:`geosurvey.prospectivity.METHODS`);
7. :func:`evaluate_run` — ROC AUC and capture of the score and of each layer through its
   membership, and a warning when the score is flat over much of the area;
8. :func:`write_outputs` — score and evidence COGs, ``report.json``, ``manifest.json``, the web map
   and an output STAC catalogue, inside the all-or-nothing output folder.

:func:`run` composes them (:func:`plan_run` checks the inputs, :func:`execute_run` runs the
stages); :func:`run_from_manifest` repeats a run from its manifest, bit for bit.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import pystac
import xarray as xr
from odc.geo.geobox import GeoBox

from geosurvey.errors import ApprovalError, CatalogError, InputError, MissingInputError
from geosurvey.grid import average_down, downsample_factor
from geosurvey.i18n import TEXT, Language, check_lang
from geosurvey.io import atomic_write_text, output_folder, write_cog_task
from geosurvey.occurrences import locate_occurrences
from geosurvey.prospectivity import (
    EVIDENCE_FUNCTIONS,
    METHODS,
    EvidenceContext,
    Recipe,
    Scored,
    build_evidence,
    load_recipe,
    memberships,
    parse_recipe,
    score_layers,
)
from geosurvey.provenance import manifest as write_manifest
from geosurvey.runner._cluster import compute_each, dask_client, describe_scheduler
from geosurvey.scheduler import layer_task, worker_memory_limits
from geosurvey.vectors import file_checksum, read_vector

__all__ = [
    "RunEvaluation",
    "RunInputs",
    "RunResult",
    "check_area",
    "compute_evidence",
    "evaluate_run",
    "execute_run",
    "find_items",
    "load_datacube",
    "persist_budget",
    "plan_run",
    "resolve_context",
    "run",
    "run_from_manifest",
    "runs_sharing_workers",
    "score_evidence",
    "select_recipes",
    "write_outputs",
]

#: Share of the valid area over which one score value counts as "flat" and is reported.
FLAT_SHARE = 0.10
#: Targets: the top share of the score's area, and the smallest patch kept (km²), so that a noisy
#: score gives a few ranked targets rather than thousands of single pixels.
TARGET_TOP = 0.05
TARGET_MIN_KM2 = 0.25
#: Targets of a larger score (side in pixels) are found on its block-averaged overview (NaN-aware
#: means by the smallest whole factor that fits), so that finding them needs bounded memory.
TARGET_MAX_SIDE = 4096
#: Grids of at most this many pixels are evaluated in one task each (about 24 bytes a pixel: a
#: float copy, its sorted valid values, masks); larger ones block by block
#: (:func:`geosurvey.evaluation.evaluate_blockwise` for the score and
#: :func:`~geosurvey.evaluation.roc_auc_blockwise` for the layers: the same numbers, memory one
#: block a task).
EVALUATE_TASK_MAX_PIXELS = 64_000_000
#: The evidence layers (and the score) are kept in memory (``persist``) only when they fit in this
#: share of the memory of the Dask workers (the machine's, without a cluster): Dask starts
#: spilling to disk at 60 % of a worker's limit, and the later stages need room for their own
#: blocks. Larger ones stay lazy: each stage reads their sources again, block by block (a re-read
#: for block-wise evidence; whole-grid steps, which hold a plane anyway, are computed again).
PERSIST_SHARE = 0.4
_STAGES = ("area", "search", "load", "evidence", "score", "evaluate", "publish")


# ---------------------------------------------------------------------------------------------
# Results and inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """What :func:`run` produced.

    Parameters
    ----------
    out
        The output folder.
    area_id, status
        The survey area and its derived status when the run was made.
    agreed
        Whether the area was agreed (outputs of an unagreed run say "NOT AGREED").
    report
        The content of ``report.json``.
    timings
        Seconds per stage.
    """

    out: Path
    area_id: str
    status: str
    agreed: bool
    report: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def score_cog(self) -> Path:
        """The score as a Cloud Optimized GeoTIFF."""
        return self.out / "score.tif"

    @property
    def web_map(self) -> Path:
        """The web map, ``index.html``."""
        return self.out / "index.html"

    @property
    def report_json(self) -> Path:
        """The evaluation report."""
        return self.out / "report.json"

    @property
    def manifest_json(self) -> Path:
        """The manifest that reproduces the run."""
        return self.out / "manifest.json"


@dataclass(frozen=True, eq=False)
class VectorInput:
    """A vector input of a run: the frame and where it came from (for the manifest)."""

    frame: gpd.GeoDataFrame
    path: str | None = None
    where: str | None = None
    checksum: str | None = None

    def record(self) -> dict[str, Any]:
        """What the manifest records of it."""
        return {"path": self.path, "where": self.where, "checksum": self.checksum,
                "n_features": len(self.frame)}


def _vector(value: gpd.GeoDataFrame | str | Path, *, where: str | None, label: str) -> VectorInput:
    if isinstance(value, gpd.GeoDataFrame):
        from geosurvey.filters import apply_filter

        frame = apply_filter(value, where, label=label) if where else value
        if frame.crs is None:
            raise InputError(f"{label}: the GeoDataFrame has no CRS; set it with gdf.set_crs(...)")
        return VectorInput(frame, None, where, None)
    path = Path(value)
    frame = read_vector(path, where=where, label=label)
    return VectorInput(frame, str(path.absolute()), where, file_checksum(path))


@dataclass(frozen=True, eq=False)
class RunInputs:
    """The inputs of a run, normalised once (see :func:`run` for the meaning of each)."""

    area: Any
    recipe: Recipe
    sources: tuple[Any, ...]
    occurrences: VectorInput | None
    features: Mapping[str, VectorInput]
    resolution: float
    datetime: str | None
    inclination: float | None
    declination: float | None
    survey_date: str | None
    lang: Language
    item_ids: tuple[str, ...] | None = None
    registry: str | None = None
    allow_unagreed: bool = False
    chunks: int = 1024
    area_digest: str | None = None
    labels: Mapping[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Stages
# ---------------------------------------------------------------------------------------------


def check_area(area: Any, *, registry: str | Path = "aoi", allow_unagreed: bool = False) -> Any:
    """The survey area to run, from the registry; refused unless every party approved its version.

    Parameters
    ----------
    area
        An area id in ``registry``, or a :class:`geosurvey.aoi.SurveyArea` already read from one.
    registry
        The registry folder.
    allow_unagreed
        Run an area that is not agreed anyway (every output then says "NOT AGREED").

    Raises
    ------
    ApprovalError
        If the area is not agreed, naming its status and the parties still pending.
    """
    from geosurvey.aoi import Registry, SurveyArea

    if not isinstance(area, SurveyArea):
        area = Registry(registry).get(str(area))
    if area.status != "agreed" and not allow_unagreed:
        pending = ", ".join(area.pending_parties) or "none"
        raise ApprovalError(
            f"survey area {area.id!r} is {area.status}, not agreed (awaiting approval from: "
            f"{pending}); every party must approve its current version before it is run, or run "
            "it anyway with allow_unagreed, which marks every output NOT AGREED"
        )
    return area


def _source_label(source: Any) -> str:
    return source if isinstance(source, str) else str(getattr(source, "id", source))


def find_items(area: Any, sources: Sequence[Any], *, datetime: str | None = None,
               ids: Sequence[str] | None = None) -> pystac.ItemCollection:
    """Search every source for items over the area; items found in several sources count once.

    Parameters
    ----------
    area
        The survey area.
    sources
        Catalogue definition names, STAC API URLs or static ``catalog.json`` paths.
    datetime
        A STAC datetime or interval.
    ids
        Only these item ids (to repeat a run from its manifest).
    """
    from geosurvey import catalogs

    if not sources:
        raise InputError("a run needs at least one data source (a catalogue name, URL or catalog.json)")
    found: dict[tuple[str | None, str], pystac.Item] = {}
    for source in sources:
        source = str(source) if isinstance(source, Path) else source
        items = catalogs.search(source, area=area.geometry, datetime=datetime,
                                ids=list(ids) if ids else None)
        for item in items:
            item.extra_fields.setdefault("geosurvey:source", _source_label(source))
            found.setdefault((item.collection_id, item.id), item)
    if not found:
        raise CatalogError(
            f"no items over survey area {area.id!r} in {', '.join(map(_source_label, sources))}"
            + (f" for datetime {datetime}" if datetime else "")
            + "; check the sources cover the area (and the dates)"
        )
    return pystac.ItemCollection(list(found.values()))


def load_datacube(items: pystac.ItemCollection, area: Any, recipe: Recipe, *, resolution: float,
                  chunks: int = 1024) -> xr.Dataset:
    """Load the recipe's bands from the items onto the area's analysis grid (lazy, Dask).

    Only items holding at least one band the recipe needs are read; a band no item holds is
    refused naming the recipe and the items searched.
    """
    from geosurvey import catalogs
    from geosurvey.catalogs import resolve_band_map
    from geosurvey.grid import geobox_for

    wanted = set(recipe.bands)
    if not wanted:  # a recipe built from vector features only still needs the grid
        gbox = geobox_for(area.geometry, crs=area.analysis_crs, resolution=resolution)
        return xr.Dataset(coords=_empty_grid(gbox).coords)
    holders: dict[str, list[pystac.Item]] = {}
    for item in items:
        names = set(resolve_band_map(item, None).values())
        for band in wanted & names:
            holders.setdefault(band, []).append(item)
    missing = sorted(wanted - set(holders))
    if missing:
        raise CatalogError(
            f"recipe {recipe.source or recipe.id} needs band(s) {missing}, which none of the "
            f"{len(items)} item(s) found over area {area.id!r} hold "
            f"({', '.join(sorted({i.id for i in items}))}); add a source that provides them"
        )
    useful = list({id(i): i for band in holders.values() for i in band}.values())
    gbox = geobox_for(area.geometry, crs=area.analysis_crs, resolution=resolution)
    composite = recipe.inputs.get("composite", "median")
    return catalogs.load(
        useful, geobox=gbox, bands=sorted(wanted), chunks={"x": chunks, "y": chunks},
        composite=None if composite == "none" else "median",
    )


def _empty_grid(gbox: GeoBox) -> xr.DataArray:
    """A lazy array of zeros on ``gbox``: its coordinates and CRS, for a grid with no bands."""
    from odc.geo.xr import xr_zeros

    return xr_zeros(gbox, dtype="float32", chunks=(1024, 1024))


def _needs_field(recipe: Recipe) -> bool:
    for spec in recipe.evidence:
        for step in spec.steps:
            run_time = EVIDENCE_FUNCTIONS[step.fn].run_time
            if run_time and not run_time <= set(step.params):
                return True
    return False


def _survey_date(recipe: Recipe, items: pystac.ItemCollection, survey_date: str | None) -> tuple[str, str]:
    if survey_date:
        return str(survey_date)[:10], "given"
    if "survey_date" in recipe.inputs:
        return str(recipe.inputs["survey_date"]), "recipe"
    dates = []
    magnetic = {b for spec in recipe.evidence for b in spec.source.names
                if any(EVIDENCE_FUNCTIONS[s.fn].run_time for s in spec.steps)}
    from geosurvey.catalogs import resolve_band_map

    for item in items:
        if magnetic & set(resolve_band_map(item, None).values()) and item.datetime is not None:
            dates.append(item.datetime)
    if not dates:
        raise InputError(
            f"recipe {recipe.source or recipe.id} reduces a magnetic grid to the pole, but no item "
            "holding it has a datetime; give the survey date (survey_date), or the field "
            "direction (inclination, declination)"
        )
    dates.sort()
    return dates[len(dates) // 2].date().isoformat(), "items"


def _centre_lonlat(area: Any) -> tuple[float, float]:
    """The area's centre (degrees), taken in its analysis CRS so that an area split at 180° has
    its centre on the area, not half a world away; a point inside the area when the centroid is not."""
    import shapely
    from pyproj import Transformer

    to_grid = Transformer.from_crs("EPSG:4326", area.analysis_crs, always_xy=True)
    projected = shapely.ops.transform(to_grid.transform, area.geometry)
    centre = projected.centroid if projected.centroid.within(projected) else projected.representative_point()
    lon, lat = Transformer.from_crs(area.analysis_crs, "EPSG:4326", always_xy=True).transform(centre.x, centre.y)
    return float(lon), float(lat)


def resolve_context(area: Any, recipe: Recipe, items: pystac.ItemCollection, *,
                    inclination: float | None = None, declination: float | None = None,
                    survey_date: str | None = None) -> tuple[EvidenceContext, dict[str, Any]]:
    """Resolve the run-time values of the recipe's steps for the area.

    The geomagnetic inclination and declination come from IGRF for the area's centroid and the
    survey date (given, else the recipe's ``[inputs] survey_date``, else the median datetime of
    the items holding the magnetic band); an explicit ``inclination``/``declination`` wins.

    Returns
    -------
    EvidenceContext, dict
        The context for :func:`~geosurvey.prospectivity.build_evidence`, and what was resolved
        and how (for the manifest).
    """
    if not _needs_field(recipe):
        return EvidenceContext(), {}
    if (inclination is None) != (declination is None):
        raise InputError("give both inclination and declination, or neither (IGRF then gives them)")
    if inclination is not None:
        return (EvidenceContext(float(inclination), float(declination)),  # type: ignore[arg-type]
                {"inclination": float(inclination), "declination": float(declination),  # type: ignore[arg-type]
                 "field_source": "given"})
    from geosurvey.evidence import geomagnetic_field

    date, how = _survey_date(recipe, items, survey_date)
    lon, lat = _centre_lonlat(area)
    field = geomagnetic_field(lon, lat, date)
    resolved = {**field.to_dict(), "field_source": "IGRF", "survey_date_source": how}
    return EvidenceContext(field.inclination, field.declination), resolved


def _worker_memory() -> int:
    """Bytes of memory the Dask work may use: the sum of the workers' limits with a distributed
    client, else this machine's memory."""
    limits = worker_memory_limits()
    if limits and all(limits):
        return sum(limits)
    from distributed.system import MEMORY_LIMIT  # the machine's (or its cgroup's) memory

    return int(MEMORY_LIMIT)


_RUNS_SHARING: contextvars.ContextVar[int] = contextvars.ContextVar("runs_sharing", default=1)


@contextlib.contextmanager
def runs_sharing_workers(n: int) -> Iterator[None]:
    """Runs started in this block, in this thread, share the Dask workers with up to ``n - 1``
    other runs at a time (a batch's ``max_concurrent``): each keeps its layers in memory only when
    they fit in its part, :data:`PERSIST_SHARE` / ``n``, of the workers' memory, and otherwise
    takes the block-wise path (the same values), so that ``n`` runs together stay within the
    share one run may take alone.

    The setting belongs to the calling thread (a :mod:`contextvars` variable): a pool of threads
    that each run an area enters it in each thread, as :func:`~geosurvey.runner.batch` does.

    Parameters
    ----------
    n
        Runs at a time on the same workers, at least 1.

    Raises
    ------
    InputError
        If ``n`` is not a whole number of at least 1.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"runs sharing the workers must be a whole number >= 1, got {n!r}")
    token = _RUNS_SHARING.set(n)
    try:
        yield
    finally:
        _RUNS_SHARING.reset(token)


def persist_budget() -> int:
    """How much evidence and score a run in this thread may keep in the workers' memory.

    Returns
    -------
    int
        Bytes: :data:`PERSIST_SHARE` of the workers' memory (the machine's, without a cluster),
        divided among the runs sharing the workers (:func:`runs_sharing_workers`).
    """
    return int(PERSIST_SHARE * _worker_memory() / _RUNS_SHARING.get())


def _fits_in_memory(arrays: Sequence[xr.DataArray]) -> bool:
    """Whether the arrays fit in this run's :func:`persist_budget`."""
    return sum(a.nbytes for a in arrays) <= persist_budget()


def _keep(arrays: Mapping[str, xr.DataArray], spill: Mapping[str, Path] | None = None,
          source: str | None = None, *, together: bool = False) -> dict[str, xr.DataArray]:
    """Keep the arrays for the later stages, so that each is computed once.

    ``dask.persist`` them if they fit in the run's :func:`persist_budget`. Else, with
    ``spill`` (a path for each array: its output COG), write each to its COG tagged ``source``
    (one submission an array, so that no graph is large; all in one with ``together``, for arrays
    made from the same blocks, such as a score and its uncertainty), and return them read back
    from the files
    (:func:`geosurvey.io.read_cog_like`: the same values). Else leave them lazy.
    """
    names = list(arrays)
    if _fits_in_memory(list(arrays.values())):
        return dict(zip(names, dask.persist(*arrays.values()), strict=True))
    if spill is None:
        return dict(arrays)
    from geosurvey.io import read_cog_like

    writes = {}
    for name, da in arrays.items():
        spill[name].parent.mkdir(exist_ok=True)
        writes[name] = write_cog_task(da.assign_attrs(source=source) if source else da, spill[name])
    compute_each([list(writes.values())] if together else [[w] for w in writes.values()])
    return {name: read_cog_like(spill[name], arrays[name]) for name in names}


def compute_evidence(ds: xr.Dataset, recipe: Recipe, *, features: Mapping[str, gpd.GeoDataFrame],
                     context: EvidenceContext, spill: str | Path | None = None,
                     source: str | None = None) -> dict[str, xr.DataArray]:
    """The recipe's evidence layers, built lazily and then computed once and kept (``persist``).

    Every later stage (score, per-layer evaluation, COGs, map) reads the kept layers, so each FFT
    and distance transform runs once. Memory: one float per pixel per layer. Layers that do not
    fit in the run's :func:`persist_budget` (:data:`PERSIST_SHARE` of the workers' memory; six
    20,000² float32 layers are 9.6 GB) are written instead, one by one, to their COGs
    ``<spill>/<layer>.tif`` (tagged ``source``), and the later stages read them from there, block
    by block; without ``spill`` they stay lazy and each later stage computes them again from
    their sources.
    """
    lazy = build_evidence(ds, recipe, features=features, context=context)
    paths = None if spill is None else {name: Path(spill) / f"{name}.tif" for name in lazy}
    return _keep(lazy, paths, source)


def score_evidence(layers: Mapping[str, xr.DataArray], recipe: Recipe, *,
                   occurrences: gpd.GeoDataFrame | None = None, spill: str | Path | None = None,
                   source: str | None = None) -> Scored:
    """Score the layers with the recipe's method; the score and its extra rasters are kept as
    :func:`compute_evidence` keeps the layers (too large for memory: written to
    ``<spill>/score.tif`` and ``<spill>/<name>.tif``, then read from there)."""
    scored = score_layers(layers, recipe, occurrences=occurrences)
    arrays = {"score": scored.score, **scored.layers}
    paths = None if spill is None else {name: Path(spill) / f"{name}.tif" for name in arrays}
    kept = _keep(arrays, paths, source, together=True)
    return Scored(kept.pop("score"), kept, scored.report)


def _flat_report(score: np.ndarray, mus: Mapping[str, xr.DataArray]) -> dict[str, Any] | None:
    valid = score[np.isfinite(score)]
    if valid.size == 0:
        return None
    values, counts = np.unique(valid, return_counts=True)
    top = int(np.argmax(counts))
    share = counts[top] / valid.size
    if share < FLAT_SHARE:
        return None
    flat = score == values[top]
    at_bounds = []
    for name, mu in mus.items():
        v = np.asarray(mu.values)[flat]
        if v.size and np.mean((v == 0) | (v == 1)) >= 0.5:
            at_bounds.append(name)
    return {"value": float(values[top]), "share": round(float(share), 6),
            "memberships_at_0_or_1": at_bounds}


def _flat_of(score: xr.DataArray, mus: Mapping[str, xr.DataArray]) -> dict[str, Any] | None:
    return _flat_report(np.asarray(score.values), mus)


def _flat_blockwise(score: xr.DataArray, mus: Mapping[str, xr.DataArray],
                    modal: tuple[float, float] | None) -> dict[str, Any] | None:
    """:func:`_flat_report` by Dask reductions, from the score's most common value (found block by
    block by :func:`geosurvey.evaluation.evaluate_blockwise`)."""
    if modal is None:
        return None
    value, share = modal
    flat = score == value
    sums = [flat.sum()] + [(flat & ((mu == 0) | (mu == 1))).sum() for mu in mus.values()]
    n_flat, *at = (int(v) for v in dask.compute(*[s.data for s in sums]))
    at_bounds = [name for name, k in zip(mus, at, strict=True) if n_flat and k / n_flat >= 0.5]
    return {"value": float(value), "share": round(float(share), 6),
            "memberships_at_0_or_1": at_bounds}


def _roc_auc_of(layer: xr.DataArray, occurrences: gpd.GeoDataFrame) -> float:
    from geosurvey.evaluation import evaluate

    return evaluate(layer, occurrences).roc_auc


@dataclass(frozen=True, eq=False)
class RunEvaluation:
    """What :func:`evaluate_run` found.

    Parameters
    ----------
    report
        JSON-able: ``score`` (the score's evaluation), ``evidence`` (each layer's units, chain,
        reason and ROC AUC), ``best_layer``, ``flat_score``.
    score
        The score's :class:`~geosurvey.evaluation.Evaluation` (for the plots), or ``None``
        without occurrences.
    memberships
        The fuzzy membership of each layer (lazy), for the targets; empty for other methods.
    """

    report: dict[str, Any]
    score: Any = None
    memberships: Mapping[str, xr.DataArray] = field(default_factory=dict)


def evaluate_run(scored: Scored, layers: Mapping[str, xr.DataArray], recipe: Recipe,
                 occurrences: gpd.GeoDataFrame | None) -> RunEvaluation:
    """Evaluate the score and each evidence layer against the occurrences.

    Each layer is evaluated through its membership where the recipe gives one (so a layer the
    recipe favours when small is ranked that way), else as it is. A score that takes one value
    over :data:`FLAT_SHARE` or more of the valid area is reported with the memberships that reach 0
    or 1 there (fuzzy products of such memberships collapse to ties, which no ranking can break).
    """
    from geosurvey.evaluation import evaluate

    out: dict[str, Any] = {"score": None, "evidence": {}}
    fuzzy = METHODS[recipe.method].evidence_table == "membership"
    mus = memberships(layers, recipe) if fuzzy else {}
    with_occurrences = occurrences is not None and len(occurrences) > 0
    # each evaluation is one task holding its grid whole (on a worker, with a cluster)
    jobs: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
        "flat": (_flat_of, (scored.score, mus))}
    for spec in recipe.evidence:
        if with_occurrences:
            ranked = mus.get(spec.layer, layers[spec.layer])
            jobs[f"layer:{spec.layer}"] = (_roc_auc_of, (ranked.rename(spec.layer), occurrences))
    if with_occurrences:
        jobs["score"] = (evaluate, (scored.score.rename("score"), occurrences))
    if scored.score.size <= EVALUATE_TASK_MAX_PIXELS:
        (found,) = dask.compute({k: layer_task(f, *a) for k, (f, a) in jobs.items()})
    else:  # too large for one task: block by block, every grid's passes computed together
        found = _evaluate_large(scored.score, mus, layers, recipe,
                                occurrences if with_occurrences else None)
    out["flat_score"] = found["flat"]
    for spec in recipe.evidence:
        layer = layers[spec.layer]
        entry: dict[str, Any] = {
            "units": layer.attrs.get("units"),
            "long_name": layer.attrs.get("long_name"),
            "why": spec.why,
            "reference": spec.reference,
            "chain": [step.fn for step in spec.steps],
            "source": spec.source.describe(),
        }
        if with_occurrences:
            entry["evaluated_as"] = "membership" if spec.layer in mus else "layer"
            entry["roc_auc"] = round(found[f"layer:{spec.layer}"], 6)
        out["evidence"][spec.layer] = entry
    result = None
    if with_occurrences:
        result = found["score"]
        out["score"] = result.to_dict()
        best = max(out["evidence"], key=lambda k: out["evidence"][k]["roc_auc"])
        out["best_layer"] = {"layer": best, "roc_auc": out["evidence"][best]["roc_auc"]}
    return RunEvaluation(out, result, mus)


def _evaluate_large(score: xr.DataArray, mus: Mapping[str, xr.DataArray],
                    layers: Mapping[str, xr.DataArray], recipe: Recipe,
                    occurrences: gpd.GeoDataFrame | None) -> dict[str, Any]:
    """The jobs of :func:`evaluate_run` for a grid above :data:`EVALUATE_TASK_MAX_PIXELS`, with
    memory bounded by a block (same numbers)."""
    from geosurvey.evaluation import evaluate_blockwise, roc_auc_blockwise

    evaluations, modal = evaluate_blockwise({"score": score.rename("score")}, occurrences,
                                            modal_share=FLAT_SHARE)  # fmt: skip
    found: dict[str, Any] = {"flat": _flat_blockwise(score, mus, modal["score"]), **evaluations}
    if occurrences is not None:  # the layers' AUCs alone: little more than one pass each
        ranked = {spec.layer: mus.get(spec.layer, layers[spec.layer]) for spec in recipe.evidence}
        aucs = roc_auc_blockwise(ranked, occurrences)
        found.update({f"layer:{name}": auc for name, auc in aucs.items()})
    return found


def _not_agreed_note(area: Any, lang: Language) -> str | None:
    """The "NOT AGREED" stamp of an area that is not agreed, in ``lang``; ``None`` when agreed."""
    if area.status == "agreed":
        return None
    stamp = {"area": area.id, "status": area.status, "pending": ", ".join(area.pending_parties) or "-"}
    return TEXT[lang]["not_agreed_note"].format(**stamp)


def _cog_source(inputs: RunInputs, area: Any, items: pystac.ItemCollection) -> str:
    """The ``source`` tag of every COG of a run: the data's attribution, and the "NOT AGREED"
    stamp of an area that is not agreed (in English whatever the map's language: other tools read
    the tags)."""
    note = _not_agreed_note(area, "en")
    return _attribution(inputs, items) + (f"; {note}" if note else "")


def _agreement(area: Any) -> dict[str, Any]:
    return {"status": area.status, "agreed": area.status == "agreed",
            "pending_parties": list(area.pending_parties)}


def _attribution(inputs: RunInputs, items: pystac.ItemCollection) -> str:
    from geosurvey import catalogs

    texts: dict[str, None] = {}
    collections = {i.collection_id for i in items}
    for name in catalogs.list_sources():
        try:
            definition = catalogs.get_source(name)
        except Exception:  # a broken definition is reported by `geosurvey catalog list`, not here
            continue
        if definition.attribution and (name in inputs.sources or collections & set(definition.collections)):
            texts[definition.attribution] = None
    return "; ".join(texts) or "geosurvey"


def write_outputs(work: Path, *, inputs: RunInputs, area: Any, items: pystac.ItemCollection,
                  layers: Mapping[str, xr.DataArray], scored: Scored,
                  evaluation: RunEvaluation, resolved: Mapping[str, Any],
                  registry_areas: gpd.GeoDataFrame | None, scheduler: str,
                  extra_report: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write every output of a run into ``work`` (the temporary output folder); returns the report.

    The one writer of a run's folder: ``score.tif``; ``evidence/<layer>.tif`` with each layer's
    units; the method's extra rasters as ``<name>.tif``; with occurrences, ``evaluation.json``,
    ``success_rate.png`` and ``prediction_area.png`` (:func:`geosurvey.evaluation.write_evaluation`)
    and the ranked targets of the top 5 % of the score, ``targets.gpkg``; ``report.json``;
    ``manifest.json``; the web map ``index.html``; the output STAC catalogue
    ``outputs/catalog.json``.
    """
    from geosurvey import __version__, publish
    from geosurvey.evaluation import write_evaluation

    text = TEXT[inputs.lang]
    agreement = _agreement(area)
    note = _not_agreed_note(area, inputs.lang)
    attribution = _attribution(inputs, items)
    source_tag = _cog_source(inputs, area, items)
    # the pixel work is Dask tasks (run by the workers, with a cluster): every COG, the
    # evaluation's plots and the targets, submitted at once but each as a graph of its own (they
    # share only kept layers, and one graph of them all is over Dask's large-graph warning at
    # 20,000²). A COG that is there already was written by the stage that made its layer (layers
    # too large to keep in memory).
    cogs = {"score": work / "score.tif"}
    cogs.update({name: work / "evidence" / f"{name}.tif" for name in layers})
    cogs.update({name: work / f"{name}.tif" for name in scored.layers})
    grids = {"score": scored.score, **layers, **scored.layers}
    (work / "evidence").mkdir(exist_ok=True)
    writes = {name: write_cog_task(grids[name].assign_attrs(source=source_tag), path)
              for name, path in cogs.items() if not path.exists()}
    gbox = scored.score.odc.geobox
    side: list[Any] = []
    if evaluation.score is not None:
        side.append(dask.delayed(write_evaluation, pure=False)(evaluation.score, work, lang=inputs.lang))
        # what raises a target, higher = more favourable: the memberships of a fuzzy recipe, the
        # weight maps (weights_<layer>) of weights of evidence, else the method's contributions
        if evaluation.memberships:
            raising = dict(evaluation.memberships)
        else:
            raising = {k.removeprefix("weights_"): v for k, v in scored.layers.items()
                       if k.startswith("weights_")} or None
        side.append(_targets_task(scored.score, raising, inputs.occurrences.frame,  # type: ignore[union-attr]
                                  work / "targets.gpkg"))
    done = compute_each([[w] for w in writes.values()] + [[task] for task in side])
    side_done = [group[0] for group in done[len(writes):]]
    found, no_targets, targets_factor = side_done[1] if len(side_done) > 1 else (None, None, 1)
    targets_report: dict[str, Any] | None = {"none": no_targets} if no_targets else None
    if found is not None:
        targets_report = {
            "file": "targets.gpkg", "top": found.top, "threshold": found.threshold,
            "min_area_km2": TARGET_MIN_KM2, "n_targets": len(found.table),
            "area_fraction": found.area_fraction, "occurrences": dict(found.occurrences),
            **({"overview_factor": targets_factor} if targets_factor > 1 else {}),
        }
    report = {
        "geosurvey": __version__,
        "area": {"id": area.id, "name_en": area.name_en, "name_ja": area.name_ja,
                 "digest": area.digest, "analysis_crs": area.analysis_crs_string, **agreement},
        "not_agreed": None if note is None else note,
        "recipe": {**inputs.recipe.to_dict(), "title_ja": inputs.recipe.title_ja},
        "grid": {"crs": str(gbox.crs), "resolution_m": inputs.resolution,
                 "shape": list(gbox.shape), "transform": list(gbox.affine)[:6]},
        "resolved": dict(resolved),
        "n_occurrences": None if inputs.occurrences is None else len(inputs.occurrences.frame),
        **evaluation.report,
        "targets": targets_report,
        "method_report": dict(scored.report),
        "lang": inputs.lang,
        "dask": scheduler,
        **(extra_report or {}),
        **inputs.labels,
    }
    atomic_write_text(work / "report.json", json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    title = area.name_ja if inputs.lang == "ja" else area.name_en
    if note:
        title = f"{text['not_agreed']} — {title}"
    faults = inputs.features.get("faults")
    extra = dict(scored.layers)
    uncertainty = extra.pop("uncertainty", None)
    if uncertainty is None:
        uncertainty = extra.pop("posterior_std", None)
    fmap = publish.web_map(
        scored.score, lang=inputs.lang, title=title, area=area.geometry,
        faults=None if faults is None else faults.frame,
        occurrences=None if inputs.occurrences is None else inputs.occurrences.frame,
        survey_areas=registry_areas, layers={**layers, **extra}, attribution=attribution,
        uncertainty=uncertainty, targets=None if found is None else found.table,
        vectors={name: v.frame for name, v in inputs.features.items() if name != "faults"} or None,
        titles={"score": inputs.recipe.title_ja if inputs.lang == "ja" and inputs.recipe.title_ja
                else inputs.recipe.title},
    )
    publish.save_web_map(fmap, work / "index.html")
    _write_run_manifest(work, inputs=inputs, area=area, items=items, resolved=resolved,
                        gbox=gbox, outputs={k: str(Path(v).relative_to(work)) for k, v in cogs.items()},
                        agreement=agreement)
    # tasks (on the workers with a cluster): each COG's statistics, then the catalogue with the
    # thumbnail
    from geosurvey.catalogs import raster_statistics

    statistics = {name: dask.delayed(raster_statistics, pure=False)(path) for name, path in cogs.items()}
    _in_one_task(
        publish.write_outputs_catalog,
        cogs, work / "outputs", area_id=area.id, recipe=inputs.recipe.id, statistics=statistics,
        datetime=dt.datetime.now(dt.UTC).replace(microsecond=0),
        description=(f"{note}. " if note else "") + f"Prospectivity outputs of geosurvey for survey "
        f"area {area.id} (recipe {inputs.recipe.id}); data: {attribution}.",
        manifest=work / "manifest.json",
    )
    return report


def _in_one_task(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run ``fn`` as one Dask task (on a worker, with a cluster). Any Dask work inside it is done
    by that task alone (the synchronous scheduler): it submits nothing to the cluster."""

    def alone(*a: Any, **k: Any) -> Any:
        with dask.config.set(scheduler="sync"):
            return fn(*a, **k)

    (result,) = dask.compute(dask.delayed(alone, pure=False)(*args, **kwargs))
    return result


def _targets_task(score: xr.DataArray, raising: Mapping[str, xr.DataArray] | None,
                  occurrences: gpd.GeoDataFrame, path: Path) -> Any:
    """A task finding the targets of the top of the score and writing them to ``path``.

    A score larger than :data:`TARGET_MAX_SIDE` a side is first block-averaged with the layers
    that raise the targets. The score and those layers (at most :data:`TARGET_MAX_SIDE` squared
    pixels each) are computed and kept first, each in a graph of its own (``dask.persist``, which
    with a distributed client returns at once): the task then takes only their kept blocks, where
    the graph of every read, membership and average behind them would be over Dask's large-graph
    warning for a large area. Computes to ``(targets or None, why none, factor)``.
    """
    factor = downsample_factor(score.shape, TARGET_MAX_SIDE)

    def down(da: xr.DataArray) -> xr.DataArray:
        if factor > 1:
            da = average_down(da, factor).rio.write_crs(da.rio.crs)
        (kept,) = dask.persist(da)
        return kept

    score = down(score).rename(score.name)
    raising = None if raising is None else {k: down(v) for k, v in raising.items()}
    res = score.rio.resolution()
    pixel_km2 = abs(res[0] * res[1]) / 1e6
    min_pixels = max(1, round(TARGET_MIN_KM2 / pixel_km2))
    return layer_task(_find_targets, score, raising, occurrences, min_pixels, path, factor)


def _find_targets(score: xr.DataArray, raising: Mapping[str, xr.DataArray] | None,
                  occurrences: gpd.GeoDataFrame, min_pixels: int, path: Path,
                  factor: int) -> tuple[Any, str | None, int]:
    from geosurvey.prospectivity import targets

    try:
        found = targets(score, top=TARGET_TOP, occurrences=occurrences, evidence=raising,
                        min_pixels=min_pixels)
    except InputError as exc:  # the top of the score is scattered: say so, write no targets
        return None, str(exc), factor
    found.to_file(path)
    return found, None, factor


def _asset_record(href: str) -> dict[str, Any]:
    path = Path(href[7:] if href.startswith("file://") else href)
    if "://" not in href or href.startswith("file://"):
        if path.is_file():
            return {"href": href, "checksum": file_checksum(path)}
    return {"href": href, "checksum": None}


def _write_run_manifest(work: Path, *, inputs: RunInputs, area: Any, items: pystac.ItemCollection,
                        resolved: Mapping[str, Any], gbox: GeoBox, outputs: Mapping[str, str],
                        agreement: Mapping[str, Any]) -> None:
    wanted = set(inputs.recipe.bands)
    from geosurvey.catalogs import resolve_band_map

    item_records = []
    for item in items:
        band_map = resolve_band_map(item, None)
        assets = {band: _asset_record(item.assets[key].get_absolute_href() or item.assets[key].href)
                  for key, band in band_map.items() if band in wanted and key in item.assets}
        item_records.append({"id": item.id, "collection": item.collection_id,
                             "source": item.extra_fields.get("geosurvey:source"),
                             "datetime": None if item.datetime is None else item.datetime.isoformat(),
                             "assets": assets})
    sources = [str(Path(s).absolute()) if isinstance(s, str | Path) and Path(s).exists() else str(s)
               for s in inputs.sources]
    write_manifest(
        work / "manifest.json",
        inputs={
            "registry": inputs.registry,
            "area": {"id": area.id, "digest": area.digest, **agreement},
            "sources": sources,
            "datetime": inputs.datetime,
            "items": item_records,
            "occurrences": None if inputs.occurrences is None else inputs.occurrences.record(),
            "features": {k: v.record() for k, v in inputs.features.items()},
        },
        parameters={
            "resolution_m": inputs.resolution,
            "lang": inputs.lang,
            **inputs.labels,
            "resolved": dict(resolved),
            "inclination": resolved.get("inclination"),
            "declination": resolved.get("declination"),
            "grid": {"crs": gbox.crs.to_wkt(), "shape": list(gbox.shape),
                     "transform": list(gbox.affine)[:6]},
        },
        recipe={"id": inputs.recipe.id, "source": inputs.recipe.source,
                "sha256": inputs.recipe.sha256, "text": inputs.recipe.text},
        outputs={**outputs, "report": "report.json", "web_map": "index.html",
                 "stac": "outputs/catalog.json",
                 **({"targets": "targets.gpkg"} if (work / "targets.gpkg").exists() else {}),
                 **({"evaluation": "evaluation.json"} if (work / "evaluation.json").exists() else {}),
                 **({"web_map_tiles": "index_tiles/"} if (work / "index_tiles").exists() else {})},
    )


# ---------------------------------------------------------------------------------------------
# The orchestrator
# ---------------------------------------------------------------------------------------------


class _Progress:
    """Prints ``[i/n] stage`` and ``done in s`` lines in the run's language; keeps the timings."""

    def __init__(self, lang: Language, echo: Callable[[str], None], method: str,
                 offset: int = 0) -> None:
        self.text, self.echo, self.method, self.offset = TEXT[lang], echo, method, offset
        self.timings: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, key: str) -> Iterator[None]:
        i = _STAGES.index(key) + 1 + self.offset
        name = self.text[f"run_stage_{key}"].format(method=self.method)
        self.echo(self.text["run_stage"].format(i=i, n=len(_STAGES) + self.offset, name=name))
        start = time.perf_counter()
        yield
        self.timings[key] = time.perf_counter() - start
        self.echo(self.text["run_done"].format(s=self.timings[key]))


def _on_grid(frame: gpd.GeoDataFrame, gbox: GeoBox) -> tuple[gpd.GeoDataFrame, int]:
    """The occurrences on the pixels of ``gbox`` (as the evaluation places them,
    :func:`geosurvey.occurrences.locate_occurrences`) and how many lie outside. The grid is a
    lazy array of the geobox (a recipe of vector evidence alone loads no bands)."""
    if frame.empty:
        return frame, 0
    cells = locate_occurrences(_empty_grid(gbox), frame)
    return frame[cells.inside], cells.n_outside


def run_resolution(recipe: Recipe, resolution: float | None = None) -> float:
    """The pixel size of a run's grid, in metres: ``resolution`` if given, else the recipe's
    ``[inputs] resolution``, else 100 m.

    Raises
    ------
    InputError
        If it is not a positive number of metres.
    """
    value = recipe.inputs.get("resolution", 100.0) if resolution is None else resolution
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) or not (
        0 < value < np.inf
    ):
        raise InputError(f"resolution must be a positive number of metres, got {value!r}")
    return float(value)


def plan_run(
    area: Any,
    recipe: Recipe | str | Path,
    *,
    sources: Sequence[Any],
    occurrences: gpd.GeoDataFrame | str | Path | None = None,
    occurrence_filter: str | None = None,
    features: Mapping[str, gpd.GeoDataFrame | str | Path] | None = None,
    registry: str | Path = "aoi",
    resolution: float | None = None,
    datetime: str | None = None,
    inclination: float | None = None,
    declination: float | None = None,
    survey_date: str | None = None,
    lang: Language = "en",
    allow_unagreed: bool = False,
    chunks: int = 1024,
    item_ids: Sequence[str] | None = None,
    area_digest: str | None = None,
    labels: Mapping[str, Any] | None = None,
) -> RunInputs:
    """Check and normalise the inputs of a run, reading nothing but the recipe and vector files.

    Every refusal of bad input happens here, before any output is created. The parameters are
    those of :func:`run`, plus ``labels``: values recorded as they are in the report and the
    manifest (the demo's ``{"demo": True, "seed": 0}``).
    """
    lang = check_lang(lang)
    recipe = recipe if isinstance(recipe, Recipe) else load_recipe(recipe)
    resolution = run_resolution(recipe, resolution)
    if not sources:
        raise InputError("a run needs at least one data source (a catalogue name, URL or catalog.json)")
    if isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 64:
        raise InputError(f"chunks must be a whole number of pixels >= 64, got {chunks!r}")
    occ_input = None if occurrences is None else _vector(occurrences, where=occurrence_filter,
                                                         label="occurrences")
    missing = [name for name in recipe.features if name not in (features or {})]
    if missing:
        raise InputError(
            f"recipe {recipe.source or recipe.id} builds layers from the features {missing}; "
            f"give them as features={{'{missing[0]}': <file>}} (given: {sorted(features or {}) or 'none'})"
        )
    feature_inputs = {name: _vector(value, where=None, label=f"features {name!r}")
                      for name, value in (features or {}).items()}
    return RunInputs(
        area=area, recipe=recipe, sources=tuple(sources), occurrences=occ_input,
        features=feature_inputs, resolution=resolution,
        datetime=datetime or recipe.inputs.get("datetime"), inclination=inclination,
        declination=declination, survey_date=survey_date, lang=lang,
        item_ids=tuple(item_ids) if item_ids else None, registry=str(Path(registry).absolute()),
        allow_unagreed=allow_unagreed, chunks=chunks, area_digest=area_digest,
        labels=dict(labels or {}),
    )


def execute_run(inputs: RunInputs, work: str | Path, *, echo: Callable[[str], None] = print,
                client: Any = None, final: str | Path | None = None,
                stages_before: int = 0) -> RunResult:
    """Run the stages of a planned run, writing into the existing (temporary) folder ``work``.

    :func:`run` calls it inside :func:`geosurvey.io.output_folder`; the demo calls it on the folder
    where it has just written its data. Dask work runs wherever Dask is set to run.

    Parameters
    ----------
    inputs
        From :func:`plan_run`.
    work
        The folder to write into (it exists).
    echo
        Where progress lines go.
    client
        The Dask client the work runs on, if any (named in the report).
    final
        Where ``work`` will end up (for the paths printed at the end).
    stages_before
        Stages a caller ran before (the demo's data stage), for the ``[i/n]`` numbering.
    """
    from geosurvey.aoi import Registry

    work = Path(work)
    final = Path(final) if final is not None else work
    recipe, lang = inputs.recipe, inputs.lang
    progress = _Progress(lang, echo, recipe.method, stages_before)
    with progress("area"):
        checked = check_area(inputs.area, registry=inputs.registry or "aoi",
                             allow_unagreed=inputs.allow_unagreed)
        if inputs.area_digest is not None and checked.digest != inputs.area_digest:
            raise InputError(
                f"survey area {checked.id!r} has changed since the manifest was written (digest "
                f"{checked.digest}, manifest {inputs.area_digest}); the run cannot be reproduced "
                "from this registry"
            )
        try:
            registry_areas = Registry(inputs.registry or "aoi").to_geodataframe()
        except (MissingInputError, InputError, OSError):
            registry_areas = None
    with progress("search"):
        items = find_items(checked, inputs.sources, datetime=inputs.datetime, ids=inputs.item_ids)
    with progress("load"):
        ds = load_datacube(items, checked, recipe, resolution=inputs.resolution, chunks=inputs.chunks)
        context, resolved = resolve_context(
            checked, recipe, items, inclination=inputs.inclination,
            declination=inputs.declination, survey_date=inputs.survey_date)
    occ_frame, n_outside = (None, 0)
    if inputs.occurrences is not None:
        occ_frame, n_outside = _on_grid(inputs.occurrences.frame, ds.odc.geobox)
        if occ_frame.empty:
            raise InputError(
                f"none of the {len(inputs.occurrences.frame)} occurrences lies on the grid of "
                f"area {checked.id!r}; check the occurrence file and its filter"
            )
    # layers too large to keep in memory are written to their COGs as they are made, and read
    # from there by the later stages
    source = _cog_source(inputs, checked, items)
    with progress("evidence"):
        layers = compute_evidence(ds, recipe, context=context,
                                  features={k: v.frame for k, v in inputs.features.items()},
                                  spill=work / "evidence", source=source)
    with progress("score"):
        scored = score_evidence(layers, recipe, occurrences=occ_frame, spill=work, source=source)
    with progress("evaluate"):
        evaluation = evaluate_run(scored, layers, recipe, occ_frame)
        if evaluation.report.get("flat_score"):
            flat = evaluation.report["flat_score"]
            echo("geosurvey: warning: " + TEXT[lang]["flat_score"].format(
                value=flat["value"], share=flat["share"],
                layers=", ".join(flat["memberships_at_0_or_1"]) or "-"))
    with progress("publish"):
        report = write_outputs(
            work, inputs=inputs, area=checked, items=items, layers=layers,
            scored=scored, evaluation=evaluation, resolved=resolved,
            registry_areas=registry_areas, scheduler=describe_scheduler(client),
            extra_report={"n_occurrences_outside_grid": n_outside,
                          "n_occurrences_on_grid": None if occ_frame is None else len(occ_frame)},
        )
    text = TEXT[lang]
    if report.get("score"):
        cap = report["score"]["capture"]
        echo(text["run_summary"].format(
            area=checked.id, status=checked.status, recipe=recipe.id,
            auc=report["score"]["roc_auc"], c5=cap.get("top_5pct", float("nan")),
            c10=cap.get("top_10pct", float("nan")), c20=cap.get("top_20pct", float("nan")),
            n=report["score"]["n_used"]))
        echo(text["run_best_layer"].format(layer=report["best_layer"]["layer"],
                                           auc=report["best_layer"]["roc_auc"]))
    echo(text["run_outputs"].format(map=final / "index.html", cog=final / "score.tif",
                                    report=final / "report.json"))
    return RunResult(final, checked.id, checked.status, checked.status == "agreed", report,
                     progress.timings)


def run(
    area: Any,
    recipe: Recipe | str | Path,
    *,
    sources: Sequence[Any],
    out: str | Path,
    occurrences: gpd.GeoDataFrame | str | Path | None = None,
    occurrence_filter: str | None = None,
    features: Mapping[str, gpd.GeoDataFrame | str | Path] | None = None,
    registry: str | Path = "aoi",
    resolution: float | None = None,
    datetime: str | None = None,
    inclination: float | None = None,
    declination: float | None = None,
    survey_date: str | None = None,
    lang: Language = "en",
    scheduler: str | None = None,
    allow_unagreed: bool = False,
    overwrite: bool = False,
    chunks: int = 1024,
    echo: Callable[[str], None] = print,
    item_ids: Sequence[str] | None = None,
    area_digest: str | None = None,
) -> RunResult:
    """Run the whole job for one survey area: search, load, evidence, score, evaluate, publish.

    A short orchestrator: :func:`plan_run` checks every input (nothing is written on bad input),
    then :func:`execute_run` runs the stages inside an all-or-nothing output folder.

    Parameters
    ----------
    area
        The id of an agreed area in ``registry`` (or a :class:`~geosurvey.aoi.SurveyArea`).
    recipe
        A :class:`~geosurvey.prospectivity.Recipe`, the name of a shipped recipe, or a path.
    sources
        Where the data come from: catalogue definition names (``"partner-geophysics"``), STAC
        API URLs or static ``catalog.json`` paths.
    out
        The output folder to create (all-or-nothing: built beside it, renamed when complete).
    occurrences
        Known occurrences to evaluate against (and to train data-driven methods): a GeoDataFrame
        or a vector file / CSV with longitude and latitude (see :func:`geosurvey.vectors.read_vector`).
    occurrence_filter
        A filter on the occurrences' attributes (grammar of :mod:`geosurvey.filters`).
    features
        Vector features by the names the recipe uses (e.g. ``{"faults": "faults.shp"}``).
    registry
        The survey-area registry folder.
    resolution
        Pixel size in metres (default: the recipe's ``[inputs] resolution``, else 100 m).
    datetime
        A STAC datetime or interval for the search (default: the recipe's, else any).
    inclination, declination
        The geomagnetic field direction in degrees; by default from IGRF for the area's centroid
        and the survey date.
    survey_date
        The survey date for IGRF (default: the recipe's, else the items' datetime).
    lang
        Language of the map and progress text (``"en"`` or ``"ja"``).
    scheduler
        ``None``: whatever Dask uses now (a current distributed Client if one is active, else
        threads); ``"threads"``, ``"local"`` or a scheduler address (see
        :func:`geosurvey.runner.dask_client`).
    allow_unagreed
        Run an area that is not agreed; every output then says "NOT AGREED".
    overwrite
        Replace an existing output folder (only once the new one is complete).
    chunks
        Dask chunk size in pixels (both dimensions).
    echo
        Where progress lines go.
    item_ids
        Use only these items (what :func:`run_from_manifest` passes).
    area_digest
        Refuse the run unless the area's current version has this digest (``"sha256:..."``).

    Returns
    -------
    RunResult
    """
    inputs = plan_run(
        area, recipe, sources=sources, occurrences=occurrences,
        occurrence_filter=occurrence_filter, features=features, registry=registry,
        resolution=resolution, datetime=datetime, inclination=inclination,
        declination=declination, survey_date=survey_date, lang=lang,
        allow_unagreed=allow_unagreed, chunks=chunks, item_ids=item_ids, area_digest=area_digest,
    )
    final = Path(out).absolute()
    with output_folder(final, overwrite=overwrite) as work, \
            (contextlib.nullcontext(None) if scheduler is None else dask_client(scheduler)) as client:
        return execute_run(inputs, work, echo=echo, client=client, final=final)


def select_recipes(
    area: Any,
    *,
    sources: Sequence[Any],
    features: Mapping[str, Any] | None = None,
    registry: str | Path = "aoi",
    datetime: str | None = None,
    lang: Language = "en",
) -> tuple[list[tuple[Recipe, str]], list[tuple[Recipe, str]]]:
    """The shipped recipes to run for an area (what ``--recipe auto`` runs), and those left out.

    A recipe is picked when it serves one of the area's deposit models
    (:func:`geosurvey.prospectivity.recipes_for`) and the sources hold every band it starts from
    and every feature set it uses was given.

    Returns
    -------
    picked, skipped
        ``(recipe, why)`` pairs: why each was picked, and why each serving recipe was left out.

    Raises
    ------
    InputError
        If no recipe serves the area's deposit models, or none of those can run on the sources.
    """
    from geosurvey.catalogs import resolve_band_map
    from geosurvey.prospectivity import recipes_for

    checked = check_area(area, registry=registry, allow_unagreed=True)
    candidates = recipes_for(checked, lang=lang)
    items = find_items(checked, sources, datetime=datetime)
    have = {band for item in items for band in resolve_band_map(item, None).values()}
    picked, skipped = [], []
    for recipe, why in candidates:
        missing_bands = sorted(set(recipe.bands) - have)
        missing_features = sorted(set(recipe.features) - set(features or {}))
        if missing_bands or missing_features:
            reasons = ([f"the sources hold no band {', '.join(missing_bands)}"] if missing_bands else []) + (
                [f"no features {', '.join(missing_features)} were given"] if missing_features else [])
            skipped.append((recipe, f"recipe {recipe.id} left out: {'; '.join(reasons)}"))
        else:
            picked.append((recipe, why))
    if not picked:
        raise InputError(
            f"no recipe serving area {checked.id!r} can run on the sources given: "
            + "; ".join(reason for _r, reason in skipped)
        )
    return picked, skipped


def run_from_manifest(
    manifest: str | Path,
    *,
    out: str | Path,
    overwrite: bool = False,
    scheduler: str | None = None,
    echo: Callable[[str], None] = print,
) -> RunResult:
    """Repeat a run from its ``manifest.json``: same area version, recipe text, items, inputs and
    resolved parameters, so the score COG's pixels come out the same, bit for bit.

    Local inputs (occurrence and feature files, item assets) are checked against the checksums
    the manifest recorded; a changed file or a changed area is refused, naming it.
    """
    path = Path(manifest)
    if not path.is_file():
        raise MissingInputError(f"manifest {path} does not exist")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        inputs, params, rec = doc["inputs"], doc["parameters"], doc["recipe"]
        recipe = parse_recipe(rec["text"], source=rec.get("source") or str(path))
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not a geosurvey run manifest ({exc})") from None
    if recipe.sha256 != rec.get("sha256"):
        raise InputError(f"{path}: the recipe text does not match its recorded hash")

    def checked(record: Mapping[str, Any] | None, label: str) -> str | None:
        if record is None:
            return None
        if record.get("path") is None:
            raise InputError(f"{path}: the {label} were given in memory, not as a file; they "
                             "cannot be re-read from the manifest")
        if file_checksum(record["path"]) != record["checksum"]:
            raise InputError(f"{label} file {record['path']} has changed since the manifest was "
                             "written (checksum differs); the run cannot be reproduced")
        return record["path"]

    for item in inputs["items"]:
        for band, asset in item["assets"].items():
            if asset.get("checksum") and _asset_record(asset["href"])["checksum"] != asset["checksum"]:
                raise InputError(f"item {item['id']}, asset {band}: {asset['href']} has changed "
                                 "since the manifest was written (checksum differs)")
    occ = inputs.get("occurrences")
    features = {name: checked(rec_, f"features {name!r}") for name, rec_ in inputs["features"].items()}
    return run(
        inputs["area"]["id"], recipe, sources=inputs["sources"], out=out,
        occurrences=checked(occ, "occurrences"), occurrence_filter=None if occ is None else occ.get("where"),
        features=features, registry=inputs["registry"], resolution=params["resolution_m"],
        datetime=inputs.get("datetime"), inclination=params.get("inclination"),
        declination=params.get("declination"), lang=params.get("lang", "en"),
        scheduler=scheduler, allow_unagreed=not inputs["area"].get("agreed", True),
        overwrite=overwrite, echo=echo, item_ids=[i["id"] for i in inputs["items"]],
        area_digest=inputs["area"]["digest"],
    )
