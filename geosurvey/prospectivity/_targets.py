"""Targets: the most prospective ground as ranked polygons, written as GeoPackage.

The top fraction of the area by score (or every pixel at or above a threshold, e.g. a posterior
probability) is cut into connected patches (4-connected pixels: ``scipy.ndimage.label``), each
made a polygon by ``rasterio.features.shapes`` with the same connectivity, so that one patch is one
polygon (holes kept). Each target lists the occurrences inside it and the evidence layers that
raise it most: for every layer (given so that higher values are more favourable, e.g. fuzzy
memberships or weights-of-evidence weights), the target's mean minus the area's mean, in standard
deviations of the area.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import dask
import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely.geometry
import xarray as xr
from rasterio import features
from scipy import ndimage

from geosurvey.errors import InputError, OutputError
from geosurvey.grid import check_same_grid, grid_crs
from geosurvey.io import atomic_path
from geosurvey.occurrences import locate_occurrences

__all__ = ["TargetRanking", "Targets", "targets"]

TargetRanking = Literal["mean", "max", "area"]
_NAME_COLUMNS = ("name", "Name", "NAME", "id", "ID")


@dataclass(frozen=True, eq=False)
class Targets:
    """Ranked target polygons (see :func:`targets`).

    Attributes
    ----------
    table
        One row per target, best first by ``ranked_by``: ``rank``, ``area_km2``, ``n_pixels``,
        ``mean_score``, ``max_score``, ``rank_area``, ``rank_mean``, ``rank_max`` (1 = best by that
        measure), ``n_occurrences``, ``occurrences`` (names, ``"; "``-separated), ``evidence``
        (the layers raising it most, e.g. ``"mag (+2.1 sd); faults (+0.8 sd)"``), and the polygon
        ``geometry`` in the score's CRS.
    threshold
        The score at or above which pixels are in a target.
    top
        The fraction of the valid area asked for (``None`` when a threshold was given).
    area_fraction
        The fraction of the valid area the targets cover (ties at the threshold can make it a
        little more than ``top``).
    ranked_by
        ``"mean"``, ``"max"`` or ``"area"``.
    """

    table: gpd.GeoDataFrame
    threshold: float
    top: float | None
    area_fraction: float
    ranked_by: TargetRanking
    occurrences: Mapping[str, int] = field(default_factory=dict)

    def to_file(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the targets as a GeoPackage (layer ``targets``), atomically."""
        path = Path(path)
        if path.suffix.lower() != ".gpkg":
            raise OutputError(f"targets are written as GeoPackage: give a .gpkg path, not {path}")
        if path.exists() and not overwrite:
            raise OutputError(f"{path} exists; pass overwrite=True or choose another name")
        with atomic_path(path) as tmp:
            self.table.to_file(tmp, driver="GPKG", layer="targets")
        return path


def _names(occurrences: gpd.GeoDataFrame, name_column: str | None) -> list[str]:
    if name_column is not None:
        if name_column not in occurrences.columns:
            raise InputError(
                f"targets: the occurrences have no column {name_column!r}; "
                f"columns: {', '.join(map(str, occurrences.columns))}"
            )
        return [str(v) for v in occurrences[name_column]]
    for col in _NAME_COLUMNS:
        if col in occurrences.columns:
            return [str(v) for v in occurrences[col]]
    return [str(v) for v in occurrences.index]


def targets(
    score: xr.DataArray,
    *,
    top: float | None = 0.05,
    threshold: float | None = None,
    occurrences: gpd.GeoDataFrame | None = None,
    evidence: Mapping[str, xr.DataArray] | None = None,
    name_column: str | None = None,
    min_pixels: int = 1,
    n_evidence: int = 3,
    ranked_by: TargetRanking = "mean",
) -> Targets:
    """The top of a score (or the ground above a threshold) as ranked target polygons.

    Parameters
    ----------
    score
        A 2-D ``(y, x)`` score with a CRS; higher is more prospective. Computed once, together
        with ``evidence``.
    top
        Fraction of the valid area to make targets of (0.05 = the top 5 %); ignored when
        ``threshold`` is given.
    threshold
        A score value (e.g. a posterior probability): pixels at or above it are targets.
    occurrences
        Known occurrences (points, any CRS), listed in the target holding them.
    evidence
        Layers on the score's grid, higher = more favourable (memberships, weights), to say which
        raise each target most.
    name_column
        The occurrences' column naming them (default: the first of name, Name, NAME, id, ID, else
        the index).
    min_pixels
        Patches smaller than this (in pixels) are left out.
    n_evidence
        How many layers to list per target (only those above the area's mean).
    ranked_by
        Order of the table: by mean score, maximum score or area (largest first), ties broken
        by the other two.

    Returns
    -------
    Targets
    """
    if ranked_by not in ("mean", "max", "area"):
        raise InputError(f"targets: ranked_by must be 'mean', 'max' or 'area', got {ranked_by!r}")
    if threshold is None and (top is None or not 0 < top <= 1):
        raise InputError(f"targets: top must be a fraction of the area in (0, 1], got {top}")
    if score.ndim != 2 or set(score.dims) != {"y", "x"}:
        raise InputError(f"targets: layer {score.name!r} must be 2-D (y, x), has {score.dims}")
    if grid_crs(score) is None:
        raise InputError(f"targets: layer {score.name!r} has no CRS; set one first")
    evidence = dict(evidence or {})
    if evidence:
        check_same_grid([score, *evidence.values()], what="targets",
                        names=[str(score.name), *evidence])  # fmt: skip
    arrays = dask.compute(score.transpose("y", "x").data,
                          *[e.transpose("y", "x").data for e in evidence.values()])  # fmt: skip
    values = np.asarray(arrays[0], dtype=float)
    # the evidence stays in its own dtype (float32 layers are not copied to float64: the sums
    # below accumulate in float64 anyway)
    layers = {name: np.asarray(a) for name, a in zip(evidence, arrays[1:], strict=True)}
    valid = np.isfinite(values)
    n_valid = int(valid.sum())
    if n_valid == 0:
        raise InputError(f"targets: layer {score.name!r} has no valid pixels")
    if threshold is None:
        kth = n_valid - max(1, math.ceil(top * n_valid))  # type: ignore[operator]
        threshold = float(np.partition(values[valid], kth)[kth])  # the kth of the sorted values
        asked = top
    else:
        asked = None
    mask = valid & (values >= threshold)
    labels, n = ndimage.label(mask)  # 4-connected, as rasterio.features.shapes below
    counts = np.bincount(labels.ravel(), minlength=n + 1)
    keep = np.nonzero(counts[1:] >= min_pixels)[0] + 1
    if keep.size == 0:
        raise InputError(
            f"targets: no patch of at least {min_pixels} pixel(s) scores {threshold:g} or more; "
            "lower the threshold or min_pixels"
        )
    # per patch, over the patches' own pixels only (labels are 0 outside the mask)
    patch_labels, patch_values = labels[mask], values[mask]
    sums = np.bincount(patch_labels, weights=patch_values, minlength=n + 1)
    maxima = np.full(n + 1, -np.inf)
    np.maximum.at(maxima, patch_labels, patch_values)
    transform = score.rio.transform()
    t = transform
    pixel_km2 = abs(t.a * t.e - t.b * t.d) / 1e6
    polygons: dict[int, list] = {}
    for geom, value in features.shapes(labels.astype(np.int32), mask=mask, transform=transform,
                                       connectivity=4):  # fmt: skip
        polygons.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    # evidence: each target's mean against the area's, in standard deviations of the area
    raise_text: dict[int, str] = {}
    if layers:
        z = {}
        for name, arr in layers.items():
            ok = np.isfinite(arr)
            known = arr[ok]
            mu, sd = float(known.mean(dtype=np.float64)), float(known.std(dtype=np.float64))
            del known
            inside = ok & mask  # the patches' means need their pixels only
            s = np.bincount(labels[inside], weights=arr[inside], minlength=n + 1)
            c = np.bincount(labels[inside], minlength=n + 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                z[name] = (s / c - mu) / sd if sd > 0 else np.zeros(n + 1)
        for lab in keep:
            ranked = sorted(((z[name][lab], name) for name in layers if np.isfinite(z[name][lab])),
                            reverse=True)  # fmt: skip
            raise_text[lab] = "; ".join(f"{name} ({value:+.1f} sd)"
                                        for value, name in ranked[:n_evidence] if value > 0)  # fmt: skip
    inside_names: dict[int, list[str]] = {}
    report: dict[str, int] = {}
    if occurrences is not None and len(occurrences):
        cells = locate_occurrences(score, occurrences)
        names = _names(occurrences, name_column)
        lab_at = np.zeros(cells.n_given, np.int64)
        ins = cells.inside
        lab_at[ins] = labels[cells.row[ins], cells.col[ins]]
        for i in np.nonzero(lab_at)[0]:
            inside_names.setdefault(int(lab_at[i]), []).append(names[i])
        report = {**cells.report(cells.values(values)),
                  "in_targets": int(np.isin(lab_at, keep).sum())}  # fmt: skip
    rows = []
    for lab in keep:
        geom = shapely.union_all(polygons[int(lab)]) if len(polygons[int(lab)]) > 1 else polygons[int(lab)][0]
        found = inside_names.get(int(lab), [])
        rows.append({
            "label": int(lab), "area_km2": counts[lab] * pixel_km2, "n_pixels": int(counts[lab]),
            "mean_score": sums[lab] / counts[lab], "max_score": float(maxima[lab]),
            "n_occurrences": len(found), "occurrences": "; ".join(found),
            "evidence": raise_text.get(int(lab), ""), "geometry": geom,
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    frame["rank_area"] = frame["area_km2"].rank(ascending=False, method="min").astype(int)
    frame["rank_mean"] = frame["mean_score"].rank(ascending=False, method="min").astype(int)
    frame["rank_max"] = frame["max_score"].rank(ascending=False, method="min").astype(int)
    # ties (a posterior of few unique conditions has many) are broken by the other two measures
    keys = {"mean": ["mean_score", "area_km2", "max_score"], "max": ["max_score", "mean_score", "area_km2"],
            "area": ["area_km2", "mean_score", "max_score"]}[ranked_by]  # fmt: skip
    frame = frame.sort_values([*keys, "label"], ascending=[False, False, False, True])
    frame = frame.reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    frame = frame.drop(columns="label")
    table = gpd.GeoDataFrame(frame, geometry="geometry", crs=grid_crs(score))
    return Targets(
        table=table, threshold=float(threshold), top=asked,
        area_fraction=float(counts[keep].sum() / n_valid), ranked_by=ranked_by, occurrences=report,
    )  # fmt: skip
