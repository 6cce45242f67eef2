"""Weights of evidence (Bonham-Carter 1994, ch. 9; Agterberg, Bonham-Carter & Wright 1990).

For a binary pattern *B* on a study area of *N(T)* unit cells holding *N(D)* deposits, with
*N(B)* unit cells in the pattern and *N(B∩D)* deposits in it, the 2 × 2 table of unit cells is::

    a = N(B∩D)            b = N(B) − N(B∩D)
    c = N(D) − N(B∩D)     d = N(T) − N(B) − N(D) + N(B∩D)

and the weights, their variances and the contrast are (Bonham-Carter 1994, ch. 9)::

    W+ = ln[ (a / N(D)) / (b / (N(T) − N(D))) ]       s²(W+) = 1/a + 1/b
    W− = ln[ (c / N(D)) / (d / (N(T) − N(D))) ]       s²(W−) = 1/c + 1/d
    C  = W+ − W−        s(C) = sqrt(s²(W+) + s²(W−))        studentized C = C / s(C)

A weight that the formula leaves undefined (a zero in the table) is what IEEE arithmetic gives:
``−inf`` for W+ of a class without deposits, ``−inf`` for W− of a pattern holding every deposit,
NaN for 0/0; the ``undefined`` column of the table says why. Nothing is replaced by 0 (EIS Toolkit
returns 0 there; ArcSDM stops with a math domain error). An optional small-count correction
(``correction="haldane"``: 0.5 added to each of a, b, c, d, Haldane 1956) makes every weight finite.

Counting is in unit cells: ``N = pixels × pixel area / unit_cell_km2`` (the pixel area by default,
so that N counts pixels); a deposit is one unit cell, and several deposits on one pixel count once.

Classes are made in one linear pass over the pixels, never by a loop over thresholds (see
``geosurvey/prospectivity/_classing.py``).

References
----------
Agterberg, F. P., Bonham-Carter, G. F., & Wright, D. F. (1990). Statistical pattern integration for
mineral exploration. In G. Gaál & D. F. Merriam (Eds.), *Computer Applications in Resource
Estimation* (pp. 1-21). Pergamon.
Agterberg, F. P., & Cheng, Q. (2002). Conditional independence test for weights-of-evidence
modeling. *Natural Resources Research*, 11(4), 249-255.
Bonham-Carter, G. F. (1994). *Geographic Information Systems for Geoscientists: Modelling with
GIS*. Pergamon. Chapter 9.
Haldane, J. B. S. (1956). The estimation and significance of the logarithm of a ratio of
frequencies. *Annals of Human Genetics*, 20(4), 309-311.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

import dask
import dask.array as darr
import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from geosurvey.errors import InputError, RecipeError
from geosurvey.grid import check_metric_crs, check_same_grid, grid_crs, map_layer_blocks
from geosurvey.occurrences import locate_occurrences
from geosurvey.prospectivity._classing import (
    Classer,
    WeightsClassify,
    code_counts,
    data_edges,
    map_ranges,
)
from geosurvey.provenance import annotate

if TYPE_CHECKING:  # imported at run time inside the functions (_methods imports this module)
    from geosurvey.prospectivity._methods import Scored
    from geosurvey.prospectivity._recipe import Params, Recipe

__all__ = [
    "BinaryEvidence",
    "ConditionalIndependence",
    "Correction",
    "Generalisation",
    "Posterior",
    "WeightsClassify",
    "WeightsKind",
    "WeightsOfEvidence",
    "conditional_independence",
    "generalise",
    "pairwise_chi_square",
    "parse_weights_evidence",
    "parse_weights_scoring",
    "posterior",
    "score_weights_of_evidence",
    "weights_of_evidence",
]

WeightsKind = Literal["unique", "categorical", "ascending", "descending"]
Generalisation = Literal["max-contrast", "max-studentized-contrast", "threshold", "class"]
Correction = Literal["none", "haldane"]

TABLE_COLUMNS = (
    "class", "lower", "upper", "n_cells", "n_deposits", "w_plus", "s_w_plus", "w_minus",
    "s_w_minus", "contrast", "s_contrast", "studentized_contrast", "undefined",
)  # fmt: skip



# --------------------------------------------------------------------------------------------
# the formulas


def _weights(
    n_b: np.ndarray, n_bd: np.ndarray, n_t: float, n_d: float, correction: Correction
) -> dict[str, np.ndarray]:
    """Weights, variances and contrast of patterns (arrays of unit cells and deposits)."""
    a = np.asarray(n_bd, dtype=float)
    b = np.asarray(n_b, dtype=float) - a
    c = n_d - a
    d = n_t - np.asarray(n_b, dtype=float) - c
    if correction == "haldane":
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        w_plus = np.log((a / (a + c)) / (b / (b + d)))
        w_minus = np.log((c / (a + c)) / (d / (b + d)))
        var_plus = 1.0 / a + 1.0 / b
        var_minus = 1.0 / c + 1.0 / d
        contrast = w_plus - w_minus
        s_contrast = np.sqrt(var_plus + var_minus)
        studentized = contrast / s_contrast
    return {
        "w_plus": w_plus, "s_w_plus": np.sqrt(var_plus), "w_minus": w_minus,
        "s_w_minus": np.sqrt(var_minus), "contrast": contrast, "s_contrast": s_contrast,
        "studentized_contrast": studentized, "a": a, "b": b, "c": c, "d": d,
    }  # fmt: skip


def _reasons(w: Mapping[str, np.ndarray], n_pixels: np.ndarray, cumulative: bool) -> list[str]:
    """Why each row's weights are undefined ('' where every number is finite)."""
    what = "the cumulative class" if cumulative else "the class"
    out = []
    keys = ("w_plus", "s_w_plus", "w_minus", "s_w_minus", "contrast", "s_contrast",
            "studentized_contrast")  # fmt: skip
    for i in range(len(n_pixels)):
        if all(np.isfinite(w[k][i]) for k in keys):
            out.append("")
            continue
        why = []
        if n_pixels[i] == 0:
            why.append(f"{what} is empty")
        elif w["a"][i] <= 0:
            why.append(f"no deposits in {what}")
        if n_pixels[i] > 0 and w["b"][i] <= 0:
            why.append(f"every unit cell of {what} holds a deposit")
        if w["c"][i] <= 0:
            why.append(f"{what} holds every deposit")
        if w["d"][i] <= 0:
            why.append(f"{what} covers the whole study area outside the deposits")
        out.append("; ".join(why) or "a weight is not finite")
    return out


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True, eq=False)
class WeightsOfEvidence:
    """The weights of one evidence layer (see :func:`weights_of_evidence`).

    Attributes
    ----------
    layer
        The evidence layer's name.
    kind
        ``"unique"``, ``"categorical"``, ``"ascending"`` or ``"descending"``.
    table
        One row per class with exactly the columns ``class, lower, upper, n_cells, n_deposits,
        w_plus, s_w_plus, w_minus, s_w_minus, contrast, s_contrast, studentized_contrast,
        undefined``. For ``"ascending"`` row *k* describes the cumulative pattern "class ≤ k"
        (``lower`` is the first class's lower bound, ``n_cells``/``n_deposits`` are cumulative);
        for ``"descending"`` the pattern "class ≥ k". ``n_cells`` counts pixels; the weights use
        unit cells (``n_cells × pixel_km2 / unit_cell_km2``). ``undefined`` is empty or the reason.
    classify
        How classes were made: ``"quantile"``, ``"equal-interval"``, ``"natural-breaks"``,
        ``"edges"`` (given) or ``"codes"`` (the raster's own integer codes).
    class_cells, class_deposits
        Pixels and deposit cells in each class on its own (not cumulative), in table order.
    n_cells, n_deposits
        Valid pixels of the study area and deposit cells on them.
    pixel_km2, unit_cell_km2
        Pixel area and unit cell area (km²).
    occurrences
        How the occurrences were used (``given``, ``outside_grid``, ``on_nodata``, ``on_valid``,
        ``valid_cells``, ``sharing_a_cell``).
    correction
        ``"none"`` or ``"haldane"``.
    notes
        What was done to the data on the way (classing, merged edges, excluded pixels).
    """

    layer: str
    kind: WeightsKind
    table: pd.DataFrame
    classify: str
    class_cells: tuple[int, ...]
    class_deposits: tuple[int, ...]
    n_cells: int
    n_deposits: int
    pixel_km2: float
    unit_cell_km2: float
    occurrences: Mapping[str, int]
    correction: Correction
    notes: tuple[str, ...]
    evidence: xr.DataArray = field(repr=False)
    classer: Classer = field(repr=False)
    deposit_cells: np.ndarray = field(repr=False)  # flat pixel index of each deposit cell used
    deposit_classes: np.ndarray = field(repr=False)  # its class number (1..k)

    @property
    def n_unit_cells(self) -> float:
        """Size of the study area in unit cells, N(T)."""
        return self.n_cells * self.pixel_km2 / self.unit_cell_km2

    def generalise(
        self,
        *,
        by: Generalisation = "max-contrast",
        threshold: float = 2.0,
        classes: float | Sequence[float] | None = None,
    ) -> BinaryEvidence:
        """Generalise to a binary pattern; see :func:`generalise`."""
        return generalise(self, by=by, threshold=threshold, classes=classes)

    def classes_layer(self) -> xr.DataArray:
        """The class number (1..k; NaN for nodata) of each pixel, lazy on Dask."""
        classer = self.classer

        def block(x: np.ndarray) -> np.ndarray:
            idx = classer.index(x).astype(np.float32)
            idx[idx == 0] = np.nan
            return idx

        out = map_layer_blocks(block, self.evidence, dtype=np.float32)
        return annotate(out, f"weights_of_evidence classes ({self.classify})", units="1",
                        long_name=f"classes of {self.layer}", name=f"classes_{self.layer}")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON reports (non-finite numbers as ``None``, with the reason)."""
        return {
            "layer": self.layer,
            "kind": self.kind,
            "classify": self.classify,
            "correction": self.correction,
            "n_cells": self.n_cells,
            "n_deposits": self.n_deposits,
            "pixel_km2": self.pixel_km2,
            "unit_cell_km2": self.unit_cell_km2,
            "occurrences": dict(self.occurrences),
            "notes": list(self.notes),
            "table": _records(self.table),
        }


def _json_number(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _json_number(v) for k, v in row.items()} for row in table.to_dict("records")]


@dataclass(frozen=True, eq=False)
class BinaryEvidence:
    """A generalised (binary) evidence layer: inside the pattern (W+) or outside it (W−).

    Attributes
    ----------
    layer
        The evidence layer's name.
    by
        How it was generalised.
    classes
        The class values (the table's ``class`` column) making up the pattern.
    w_plus, s_w_plus, w_minus, s_w_minus, contrast, s_contrast, studentized_contrast
        The pattern's weights (dimensionless, natural logarithms of odds ratios).
    n_cells, n_deposits
        Pixels and deposit cells inside the pattern.
    source
        The multi-class weights it came from.
    """

    layer: str
    by: Generalisation
    classes: tuple[float, ...]
    w_plus: float
    s_w_plus: float
    w_minus: float
    s_w_minus: float
    contrast: float
    s_contrast: float
    studentized_contrast: float
    n_cells: int
    n_deposits: int
    source: WeightsOfEvidence = field(repr=False)

    @property
    def in_pattern(self) -> np.ndarray:
        """Boolean table over class numbers 0..k: whether the class is in the pattern (0: nodata)."""
        values = self.source.table["class"].to_numpy()
        mask = np.zeros(len(values) + 1, bool)
        mask[1:] = np.isin(values, self.classes)
        return mask

    def _mapped(self, inside: float, outside: float) -> xr.DataArray:
        lut = np.where(self.in_pattern, inside, outside).astype(np.float32)
        lut[0] = np.nan
        classer = self.source.classer
        return map_layer_blocks(lambda x: lut[classer.index(x)], self.source.evidence,
                                dtype=np.float32)

    def pattern(self) -> xr.DataArray:
        """1 inside the pattern, 0 outside, NaN on nodata (lazy on Dask)."""
        return annotate(self._mapped(1.0, 0.0), f"generalise({self.by}, classes={list(self.classes)})",
                        units="1", long_name=f"binary pattern of {self.layer}",
                        name=f"pattern_{self.layer}")  # fmt: skip

    def weights(self) -> xr.DataArray:
        """The weight of each pixel: W+ inside the pattern, W− outside, NaN on nodata (lazy).

        Higher is more favourable: the layer's contribution to the posterior logit.
        """
        return annotate(self._mapped(self.w_plus, self.w_minus),
                        f"weights of evidence (W+ {self.w_plus:.4g}, W- {self.w_minus:.4g})",
                        units="1", long_name=f"weight of evidence of {self.layer}",
                        name=f"weights_{self.layer}")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON reports."""
        keys = ("layer", "by", "w_plus", "s_w_plus", "w_minus", "s_w_minus", "contrast",
                "s_contrast", "studentized_contrast", "n_cells", "n_deposits")  # fmt: skip
        out = {k: _json_number(getattr(self, k)) for k in keys}
        out["classes"] = [_json_number(c) for c in self.classes]
        return out


# --------------------------------------------------------------------------------------------
# weights


def _pixel_km2(evidence: xr.DataArray, layer: str) -> float:
    crs = grid_crs(evidence)
    if crs is None:
        raise InputError(f"weights of evidence: layer {layer!r} has no CRS; set one first")
    check_metric_crs(crs, what=f"weights of evidence: layer {layer!r}",
                     fix="reproject it onto the area's analysis grid (unit cells are in km²)")  # fmt: skip
    t = evidence.rio.transform()
    return abs(t.a * t.e - t.b * t.d) / 1e6


def _check_classes_arg(
    classes: int | Sequence[float] | None, classify: WeightsClassify | None, layer: str
) -> tuple[int | None, np.ndarray | None]:
    if classify is not None:
        if classify not in get_args(WeightsClassify):
            raise InputError(
                f"weights of evidence, layer {layer!r}: unknown classify={classify!r}; use one of "
                f"{', '.join(get_args(WeightsClassify))}, or give explicit edges as classes"
            )
        k = 10 if classes is None else classes
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2:
            raise InputError(
                f"weights of evidence, layer {layer!r}: classify={classify!r} needs classes = a "
                f"number of classes >= 2, got {classes!r}"
            )
        return int(k), None
    if classes is None:
        return None, None
    if isinstance(classes, (int, np.integer)):
        raise InputError(
            f"weights of evidence, layer {layer!r}: classes={classes} is a number of classes; "
            "say how to class (classify='quantile', 'equal-interval' or 'natural-breaks'), or give "
            "the class edges as a sequence"
        )
    edges = np.asarray(classes, dtype=float)
    if edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges)) or np.any(
        np.diff(edges) <= 0
    ):
        raise InputError(
            f"weights of evidence, layer {layer!r}: class edges must be at least two finite, "
            f"strictly increasing numbers, got {list(classes)}"
        )
    return None, edges


def _first_pass(
    data: Any, classer: Classer | None, deposit_rows: np.ndarray, deposit_cols: np.ndarray
) -> tuple[np.ndarray | dict[int, int], np.ndarray]:
    """One pass over the pixels: counts per class (or per code), and the values at the deposits."""
    if isinstance(data, darr.Array):
        blocks = data.to_delayed().ravel()
        fn = (lambda b: classer.counts(b)) if classer is not None else code_counts
        parts = [dask.delayed(fn)(b) for b in blocks]
        if deposit_rows.size:
            at = data.vindex[deposit_rows, deposit_cols]
        else:
            at = np.zeros(0, data.dtype)
        parts_done, at = dask.compute(parts, at)
        if classer is not None:
            counts: Any = np.sum(parts_done, axis=0)
        else:
            counts = {}
            for part in parts_done:
                for code, n in part.items():
                    counts[code] = counts.get(code, 0) + n
        return counts, np.asarray(at, dtype=float)
    values = np.asarray(data)
    counts = classer.counts(values) if classer is not None else code_counts(values)
    return counts, values[deposit_rows, deposit_cols].astype(float)


def weights_of_evidence(
    evidence: xr.DataArray,
    occurrences: gpd.GeoDataFrame,
    *,
    kind: WeightsKind,
    classes: int | Sequence[float] | None = None,
    classify: WeightsClassify | None = None,
    unit_cell_km2: float | None = None,
    correction: Correction = "none",
) -> WeightsOfEvidence:
    """Weights of evidence of every class of an evidence layer, in one pass over the pixels.

    Parameters
    ----------
    evidence
        A 2-D ``(y, x)`` layer on a grid in metres (NaN = nodata, outside the study area): either a
        raster of class codes (integer values, even stored as float with NaN nodata; used as they
        are when ``classify`` and ``classes`` are ``None``) or a continuous layer to be classed.
    occurrences
        Known deposits (points, any CRS). Deposits outside the grid or on nodata are left out and
        counted in ``.occurrences``; several on one pixel count once.
    kind
        ``"unique"`` or ``"categorical"``: each class against the rest of the area (categorical
        refuses ``classify``: categories have no order). ``"ascending"``: cumulative patterns
        "class ≤ k" (small values favourable, e.g. distance to faults); ``"descending"``:
        "class ≥ k" (large values favourable).
    classes
        With ``classify``: the number of classes (default 10). Without: explicit class edges
        (increasing; classes are ``[e0, e1), …, [e(k-1), ek]``; pixels outside ``[e0, ek]`` are
        left out of the study area, with a warning).
    classify
        ``"quantile"`` (equal pixel counts; edges are exact order statistics), ``"equal-interval"``,
        or ``"natural-breaks"`` (Fisher-Jenks by mapclassify on a seeded random sample of 2,000
        pixels). These need the whole distribution: a Dask-backed layer is computed once, then
        classed in memory (4 bytes a pixel for float32). Explicit edges and class codes are counted
        block by block without holding the layer.
    unit_cell_km2
        Unit cell area (km²); default: the pixel area.
    correction
        ``"none"`` (undefined weights stay NaN/±inf) or ``"haldane"`` (0.5 added to each cell of
        every 2 × 2 table; all weights finite, biased towards 0 for small counts).

    Returns
    -------
    WeightsOfEvidence

    Raises
    ------
    InputError
        Wrong ``kind``/``classes``/``classify``; a class-code raster with non-integer values; no
        deposit on a valid pixel; a grid not in metres.
    """
    layer = str(evidence.name or "evidence")
    if kind not in get_args(WeightsKind):
        raise InputError(
            f"weights of evidence, layer {layer!r}: unknown kind={kind!r}; use one of "
            f"{', '.join(get_args(WeightsKind))}"
        )
    if correction not in get_args(Correction):
        raise InputError(
            f"weights of evidence, layer {layer!r}: unknown correction={correction!r}; use "
            "'none' or 'haldane'"
        )
    if evidence.ndim != 2 or set(evidence.dims) != {"y", "x"}:
        raise InputError(
            f"weights of evidence: layer {layer!r} must be 2-D (y, x), has dims {evidence.dims}"
        )
    if kind == "categorical" and classify is not None:
        raise InputError(
            f"weights of evidence, layer {layer!r}: kind='categorical' takes the raster's own "
            "category codes; classify applies to ordered (continuous) layers only"
        )
    k, edges = _check_classes_arg(classes, classify, layer)
    pixel_km2 = _pixel_km2(evidence, layer)
    unit = pixel_km2 if unit_cell_km2 is None else float(unit_cell_km2)
    if not unit > 0:
        raise InputError(f"weights of evidence: unit_cell_km2 must be > 0, got {unit_cell_km2}")
    cells = locate_occurrences(evidence, occurrences)
    inside = cells.inside
    rows, cols = cells.row[inside], cells.col[inside]
    notes: list[str] = []

    data = evidence.data
    method = "codes"
    if k is not None:
        values = np.asarray(evidence.values)  # the one computation of a Dask-backed layer
        edges, notes = data_edges(values, classify, k, layer)  # type: ignore[arg-type]
        data, method = values, str(classify)
    elif edges is not None:
        method = "edges"
    classer = None if edges is None else Classer(edges=edges, covers_data=method != "edges")
    try:
        counts, at_deposits = _first_pass(data, classer, rows, cols)
    except InputError as exc:
        raise InputError(
            f"weights of evidence: layer {layer!r} is used as class codes but holds non-integer "
            "values; class it (classify='quantile', 'equal-interval' or 'natural-breaks', or "
            "explicit edges as classes)"
        ) from exc
    if classer is None:
        if not counts:
            raise InputError(f"weights of evidence: layer {layer!r} has no valid pixels")
        codes = np.array(sorted(counts), dtype=float)
        classer = Classer(codes=codes, covers_data=True)  # every valid value is one of them
        class_cells = np.array([counts[int(c)] for c in codes], np.int64)
        lower = upper = codes
        class_values = codes
    else:
        class_cells = np.asarray(counts[1:], np.int64)
        lower, upper = edges[:-1], edges[1:]  # type: ignore[index]
        class_values = np.arange(1, classer.k + 1, dtype=float)
        if counts[-1]:
            notes.append(
                f"{int(counts[-1])} pixel(s) with values outside the class edges "
                f"[{edges[0]:g}, {edges[-1]:g}] left out of the study area"  # type: ignore[index]
            )
            warnings.warn(f"weights of evidence, layer {layer!r}: {notes[-1]}", stacklevel=2)
        class_cells = class_cells[:-1]
    dep_class = classer.index(at_deposits) if at_deposits.size else np.zeros(0, np.int32)
    # deposits counted once per cell
    flat = rows * evidence.sizes["x"] + cols
    valid_dep = dep_class > 0
    flat_valid, first = np.unique(flat[valid_dep], return_index=True)
    dep_class_unique = dep_class[valid_dep][first]
    values_at = np.full(cells.n_given, np.nan)
    values_at[np.nonzero(inside)[0][valid_dep]] = 1.0
    report = cells.report(values_at)
    if method == "edges":
        outside_edges = int(np.sum(np.isfinite(at_deposits) & (dep_class == 0)))
        if outside_edges:
            notes.append(f"{outside_edges} deposit(s) on values outside the class edges left out")
    class_deposits = np.bincount(dep_class_unique, minlength=classer.k + 1)[1:]
    n_cells = int(class_cells.sum())
    n_dep = int(class_deposits.sum())
    if n_dep == 0:
        raise InputError(
            f"weights of evidence: no deposit falls on a valid pixel of layer {layer!r} "
            f"({report['given']} given, {report['outside_grid']} outside the grid, "
            f"{report['on_nodata']} on nodata); check the deposits' CRS and extent"
        )
    if report["outside_grid"] or report["on_nodata"] or report["sharing_a_cell"]:
        warnings.warn(
            f"weights of evidence, layer {layer!r}: of {report['given']} deposits, "
            f"{report['outside_grid']} lie outside the grid and {report['on_nodata']} on nodata "
            f"(left out); {report['sharing_a_cell']} share a pixel with another (counted once): "
            f"{n_dep} deposit cells used",
            stacklevel=2,
        )

    table = _table(
        kind, class_values, lower, upper, class_cells, class_deposits, pixel_km2 / unit,
        n_cells, n_dep, correction,
    )  # fmt: skip
    return WeightsOfEvidence(
        layer=layer, kind=kind, table=table, classify=method,
        class_cells=tuple(int(v) for v in class_cells),
        class_deposits=tuple(int(v) for v in class_deposits), n_cells=n_cells, n_deposits=n_dep,
        pixel_km2=pixel_km2, unit_cell_km2=unit, occurrences=report, correction=correction,
        notes=tuple(notes), evidence=evidence, classer=classer, deposit_cells=flat_valid,
        deposit_classes=dep_class_unique,
    )  # fmt: skip


def _patterns(kind: WeightsKind, k: int) -> list[np.ndarray]:
    """For each table row, the boolean mask over classes 0..k-1 making up its pattern."""
    eye = np.arange(k)
    if kind == "ascending":
        return [eye <= i for i in range(k)]
    if kind == "descending":
        return [eye >= i for i in range(k)]
    return [eye == i for i in range(k)]


def _table(
    kind: WeightsKind,
    class_values: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    class_cells: np.ndarray,
    class_deposits: np.ndarray,
    cell_to_unit: float,
    n_cells: int,
    n_dep: int,
    correction: Correction,
) -> pd.DataFrame:
    k = len(class_values)
    if kind == "ascending":
        n_pix, n_bd = np.cumsum(class_cells), np.cumsum(class_deposits)
        lo, hi = np.full(k, lower[0]), upper
    elif kind == "descending":
        n_pix = np.cumsum(class_cells[::-1])[::-1]
        n_bd = np.cumsum(class_deposits[::-1])[::-1]
        lo, hi = lower, np.full(k, upper[-1])
    else:
        n_pix, n_bd, lo, hi = class_cells, class_deposits, lower, upper
    w = _weights(n_pix * cell_to_unit, n_bd, n_cells * cell_to_unit, float(n_dep), correction)
    table = pd.DataFrame(
        {
            "class": class_values,
            "lower": np.asarray(lo, float),
            "upper": np.asarray(hi, float),
            "n_cells": np.asarray(n_pix, np.int64),
            "n_deposits": np.asarray(n_bd, np.int64),
            **{key: w[key] for key in TABLE_COLUMNS[5:12]},
            "undefined": _reasons(w, n_pix, kind in ("ascending", "descending")),
        }
    )
    return table[list(TABLE_COLUMNS)]


# --------------------------------------------------------------------------------------------
# generalisation


def generalise(
    weights: WeightsOfEvidence,
    *,
    by: Generalisation = "max-contrast",
    threshold: float = 2.0,
    classes: float | Sequence[float] | None = None,
) -> BinaryEvidence:
    """Generalise multi-class weights to a binary pattern (present / absent).

    Parameters
    ----------
    weights
        From :func:`weights_of_evidence`.
    by
        ``"max-contrast"``: the row with the largest finite contrast; ``"max-studentized-contrast"``:
        the row with the largest finite studentized contrast; ``"threshold"``: for ascending /
        descending, the row with the largest contrast among those whose studentized contrast is at
        least ``threshold``; for unique / categorical, every class whose studentized contrast is at
        least ``threshold`` joins the pattern; ``"class"``: the given ``classes`` (for ascending /
        descending one class value: the cumulative pattern of that row; for unique / categorical,
        one or more class values).
    threshold
        Studentized-contrast threshold for ``by="threshold"`` (2 ≈ 97.7 % one-sided confidence).
    classes
        Class value(s) (the table's ``class`` column) for ``by="class"``.

    Returns
    -------
    BinaryEvidence
        The pattern's weights, recomputed from its cell and deposit counts.
    """
    if by not in get_args(Generalisation):
        raise InputError(
            f"generalise {weights.layer!r}: unknown by={by!r}; use one of "
            f"{', '.join(get_args(Generalisation))}"
        )
    table = weights.table
    cumulative = weights.kind in ("ascending", "descending")
    k = len(table)
    finite = np.isfinite(table["contrast"].to_numpy()) & np.isfinite(
        table["studentized_contrast"].to_numpy()
    )
    masks = _patterns(weights.kind, k)
    values = table["class"].to_numpy()

    def none_left(what: str) -> InputError:
        return InputError(
            f"generalise {weights.layer!r}: {what}; look at the weights table (its 'undefined' "
            "column), choose a class with by='class', or use correction='haldane'"
        )

    if by in ("max-contrast", "max-studentized-contrast"):
        column = "contrast" if by == "max-contrast" else "studentized_contrast"
        score = np.where(finite, table[column].to_numpy(), -np.inf)
        if not finite.any():
            raise none_left("no class has a finite contrast")
        pattern = masks[int(np.argmax(score))]
    elif by == "threshold":
        ok = finite & (table["studentized_contrast"].to_numpy() >= threshold)
        if not ok.any():
            raise none_left(f"no class has a studentized contrast of at least {threshold}")
        if cumulative:
            score = np.where(ok, table["contrast"].to_numpy(), -np.inf)
            pattern = masks[int(np.argmax(score))]
        else:
            pattern = ok
    else:
        if classes is None:
            raise InputError(f"generalise {weights.layer!r}: by='class' needs classes")
        wanted = np.atleast_1d(np.asarray(classes, dtype=float))
        missing = [float(c) for c in wanted if c not in values]
        if missing:
            raise InputError(
                f"generalise {weights.layer!r}: no class {missing} in the table (classes: "
                f"{[float(v) for v in values]})"
            )
        if cumulative:
            if wanted.size != 1:
                raise InputError(
                    f"generalise {weights.layer!r}: a cumulative ({weights.kind}) layer is cut at "
                    "one class; give one class value"
                )
            pattern = masks[int(np.nonzero(values == wanted[0])[0][0])]
        else:
            pattern = np.isin(values, wanted)
    cells = np.asarray(weights.class_cells)
    deps = np.asarray(weights.class_deposits)
    n_b, n_bd = int(cells[pattern].sum()), int(deps[pattern].sum())
    unit = weights.pixel_km2 / weights.unit_cell_km2
    w = _weights(np.array([n_b * unit]), np.array([n_bd]), weights.n_unit_cells,
                 float(weights.n_deposits), weights.correction)  # fmt: skip
    return BinaryEvidence(
        layer=weights.layer, by=by, classes=tuple(float(v) for v in values[pattern]),
        w_plus=float(w["w_plus"][0]), s_w_plus=float(w["s_w_plus"][0]),
        w_minus=float(w["w_minus"][0]), s_w_minus=float(w["s_w_minus"][0]),
        contrast=float(w["contrast"][0]), s_contrast=float(w["s_contrast"][0]),
        studentized_contrast=float(w["studentized_contrast"][0]), n_cells=n_b, n_deposits=n_bd,
        source=weights,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# posterior probability, conditional independence


def _check_layers(layers: Sequence[BinaryEvidence], what: str) -> list[BinaryEvidence]:
    layers = list(layers)
    if not layers:
        raise InputError(f"{what} needs at least one generalised evidence layer")
    names = [b.layer for b in layers]
    if len(set(names)) != len(names):
        raise InputError(f"{what}: layer names repeat ({names}); give each layer once")
    for b in layers:
        bad = [k for k in ("w_plus", "w_minus", "s_w_plus", "s_w_minus") if not math.isfinite(getattr(b, k))]
        if bad:
            raise InputError(
                f"{what}: layer {b.layer!r} generalised at classes {list(b.classes)} has undefined "
                f"{', '.join(bad)}; generalise it at another class or use correction='haldane'"
            )
    check_same_grid([b.source.evidence for b in layers], what=what, names=names)
    first = layers[0].source
    for b in layers[1:]:
        s = b.source
        if (s.n_cells != first.n_cells or s.unit_cell_km2 != first.unit_cell_km2
                or not np.array_equal(s.deposit_cells, first.deposit_cells)):  # fmt: skip
            raise InputError(
                f"{what}: layers {first.layer!r} and {b.layer!r} have different study areas "
                f"({first.n_cells} and {s.n_cells} valid pixels, {first.n_deposits} and "
                f"{s.n_deposits} deposit cells); mask every layer to the pixels where all are "
                "valid (layer.where(...)) and compute the weights again"
            )
    return layers


def _condition_tables(
    layers: list[BinaryEvidence],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Posterior probability and its s.d. for each unique condition (bit j: inside pattern j)."""
    m = len(layers)
    src = layers[0].source
    n_t, n_d = src.n_unit_cells, float(src.n_deposits)
    prior = n_d / n_t
    logit = np.full(1 << m, math.log(prior / (1.0 - prior)))
    var = np.full(1 << m, 1.0 / n_d)
    codes = np.arange(1 << m)
    for j, b in enumerate(layers):
        present = (codes >> j) & 1 == 1
        logit += np.where(present, b.w_plus, b.w_minus)
        var += np.where(present, b.s_w_plus**2, b.s_w_minus**2)
    odds = np.exp(logit)
    p = odds / (1.0 + odds)
    return codes, p, p * np.sqrt(var), prior


def _condition_code(layers: list[BinaryEvidence]) -> xr.DataArray:
    """Unique-condition code of each pixel (int32; −1 where any layer is nodata), lazy on Dask."""
    classers = [b.source.classer for b in layers]
    luts = [b.in_pattern.astype(np.int32) for b in layers]

    def block(*arrays: np.ndarray) -> np.ndarray:
        code = np.zeros(arrays[0].shape, np.int32)
        missing = np.zeros(arrays[0].shape, bool)
        for j, (x, classer, lut) in enumerate(zip(arrays, classers, luts, strict=True)):
            idx = classer.index(x)
            missing |= idx == 0
            code |= lut[idx] << j
        code[missing] = -1
        return code

    return map_layer_blocks(block, *[b.source.evidence for b in layers], dtype=np.int32)


def _posterior_kernel(
    layers: list[BinaryEvidence], p: np.ndarray, sd: np.ndarray
) -> Any:
    """Per block: P and s(P) of each pixel from its unique condition, strip by strip (small
    temporaries), both outputs from one reading of the evidence."""
    classers = [b.source.classer for b in layers]
    m = len(layers)
    p_lut = np.append(p, np.nan).astype(np.float32)  # code 2**m: nodata
    s_lut = np.append(sd, np.nan).astype(np.float32)
    if m == 1:  # class number → output directly
        inside = layers[0].in_pattern
        p_lut = np.where(inside, p_lut[1], p_lut[0]).astype(np.float32)
        s_lut = np.where(inside, s_lut[1], s_lut[0]).astype(np.float32)
        p_lut[0] = s_lut[0] = np.nan
    bits = [b.in_pattern.astype(np.int32) for b in layers]
    for j, lut in enumerate(bits):
        lut[0] = 1 << m  # nodata: pushes the code past every condition
        lut[1:] <<= j

    def block(*arrays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shape = arrays[0].shape
        prob, std = np.empty(shape, np.float32), np.empty(shape, np.float32)
        flat_p, flat_s = prob.reshape(-1), std.reshape(-1)
        flats = [np.ascontiguousarray(a).reshape(-1) for a in arrays]

        def one(a: int, b: int) -> None:
            if m == 1:
                code = classers[0].index(flats[0][a:b])
            else:
                code = np.zeros(b - a, np.int32)
                for x, classer, lut in zip(flats, classers, bits, strict=True):
                    code |= lut[classer.index(x[a:b])]
                np.minimum(code, 1 << m, out=code)
            # mode="clip": no bounds-check buffer (every code indexes the tables)
            np.take(p_lut, code, out=flat_p[a:b], mode="clip")
            np.take(s_lut, code, out=flat_s[a:b], mode="clip")

        map_ranges(one, flat_p.size)
        return prob, std

    return block


@dataclass(frozen=True, eq=False)
class Posterior:
    """Posterior probability of a deposit per unit cell, and its standard deviation.

    Attributes
    ----------
    probability, std
        Lazy ``(y, x)`` layers (dimensionless; NaN where any layer is nodata).
    prior
        Prior probability N(D) / N(T).
    layers
        Names of the generalised layers combined.
    conditions
        One row per unique condition (which patterns are present): ``probability``, ``std``.
    """

    probability: xr.DataArray
    std: xr.DataArray
    prior: float
    layers: tuple[str, ...]
    conditions: pd.DataFrame


def posterior(layers: Sequence[BinaryEvidence]) -> Posterior:
    """Posterior probability and its standard deviation, block by block (no global step).

    ``logit P = logit(prior) + Σⱼ Wⱼ`` with ``Wⱼ = W+`` inside pattern *j* and ``W−`` outside,
    ``prior = N(D) / N(T)`` (Bonham-Carter 1994, ch. 9). The variance due to the weights and to
    the prior is (Bonham-Carter 1994, ch. 9; Agterberg, Bonham-Carter & Wright 1990)::

        s²(P) = P² · [ 1/N(D) + Σⱼ s²(Wⱼ) ]

    (the delta method on ``ln O``, with the factor ``(1 − P)²`` taken as 1, as in the textbook;
    valid for P ≪ 1). It ignores the variance from missing patterns and from violations of
    conditional independence (see :func:`conditional_independence`).

    Parameters
    ----------
    layers
        Generalised layers (:meth:`WeightsOfEvidence.generalise`) on one grid and one study area
        (same valid pixels, same deposit cells), each with finite weights.

    Returns
    -------
    Posterior
        Lazy layers: a Dask-backed input stays lazy, computed per block from the weights alone.
    """
    layers = _check_layers(layers, "posterior")
    codes, p, sd, prior = _condition_tables(layers)
    prob, std = xr.apply_ufunc(
        _posterior_kernel(layers, p, sd), *[b.source.evidence for b in layers],
        dask="parallelized", output_dtypes=[np.float32, np.float32], output_core_dims=[[], []],
    )  # fmt: skip
    names = tuple(b.layer for b in layers)
    attrs = {k: v for k, v in layers[0].source.evidence.attrs.items() if k in ("history",)}
    prob.attrs, std.attrs = dict(attrs), dict(attrs)
    step = f"weights-of-evidence posterior({', '.join(names)})"
    prob = annotate(prob, step, units="1", name="posterior",
                    long_name="posterior probability of a deposit per unit cell")  # fmt: skip
    std = annotate(std, step, units="1", name="posterior_std",
                   long_name="standard deviation of the posterior probability")  # fmt: skip
    cond = pd.DataFrame({b.layer: (codes >> j) & 1 == 1 for j, b in enumerate(layers)})
    cond["probability"], cond["std"] = p, sd
    return Posterior(probability=prob, std=std, prior=prior, layers=names, conditions=cond)


@dataclass(frozen=True, eq=False)
class ConditionalIndependence:
    """The Agterberg–Cheng conditional-independence test (see :func:`conditional_independence`).

    Attributes
    ----------
    observed
        N(D): deposit cells.
    predicted
        T = Σₖ Aₖ Pₖ: deposits predicted by the posterior model (Aₖ in unit cells).
    std
        s(T) = sqrt(Σₖ Aₖ² s²(Pₖ)).
    ratio
        N(D) / T (Bonham-Carter 1994: below ~0.85 suggests a conditional-independence problem).
    z, p_value
        ``(T − N(D)) / s(T)`` and its one-sided p-value (small: reject conditional independence).
    pairwise
        The pairwise chi-square tests (:func:`pairwise_chi_square`).
    """

    observed: int
    predicted: float
    std: float
    ratio: float
    z: float
    p_value: float
    pairwise: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON reports."""
        out = {k: _json_number(getattr(self, k))
               for k in ("observed", "predicted", "std", "ratio", "z", "p_value")}  # fmt: skip
        out["pairwise"] = _records(self.pairwise)
        return out


def _code_bincount(code: xr.DataArray, n: int) -> np.ndarray:
    data = code.data

    def count(block: np.ndarray) -> np.ndarray:
        return np.bincount(block.reshape(-1) + 1, minlength=n + 1)

    if isinstance(data, darr.Array):
        parts = [dask.delayed(count)(b) for b in data.to_delayed().ravel()]
        return np.sum(dask.compute(*parts), axis=0)
    return count(np.asarray(data))


def conditional_independence(layers: Sequence[BinaryEvidence]) -> ConditionalIndependence:
    """Agterberg & Cheng's (2002) test of conditional independence, one pass over the pixels.

    With unique conditions *k* (combinations of present/absent patterns) of Aₖ unit cells and
    posterior probability Pₖ, the model predicts ``T = Σₖ Aₖ Pₖ`` deposits, with variance
    ``s²(T) = Σₖ Aₖ² s²(Pₖ)`` (Agterberg & Cheng 2002): the cells of one condition share one Pₖ,
    so their errors add in full inside a condition (Aₖ² s²), and the *variances* of the
    conditions add. Under conditional independence ``T − N(D)`` is about 0; the one-sided
    p-value of ``z = (T − N(D)) / s(T)`` is reported (``z > 1.645``: rejected at 95 %).

    Where this differs from EIS Toolkit (``agterberg_cheng_CI_test``): it takes
    ``s(T) = sqrt(Σᵢ s(Pᵢ))`` over the pixels — it adds standard deviations where variances add
    (its s(T) is in √deposits, not deposits), and it adds them
    pixel by pixel, as if the pixels of one condition had independent errors although they share
    one Pₖ. Both slips change s(T), and so the verdict, by amounts that depend on the grid's size.

    Parameters
    ----------
    layers
        Generalised layers on one grid and study area.

    Returns
    -------
    ConditionalIndependence
    """
    layers = _check_layers(layers, "conditional independence test")
    codes, p, sd, _ = _condition_tables(layers)
    counts = _code_bincount(_condition_code(layers), codes.size)[1:]  # index 0: nodata
    src = layers[0].source
    area = counts * (src.pixel_km2 / src.unit_cell_km2)
    t = float(np.sum(area * p))
    s_t = float(np.sqrt(np.sum(area**2 * sd**2)))
    n = src.n_deposits
    z = (t - n) / s_t
    return ConditionalIndependence(
        observed=n, predicted=t, std=s_t, ratio=n / t, z=z, p_value=float(stats.norm.sf(z)),
        pairwise=pairwise_chi_square(layers),
    )  # fmt: skip


def pairwise_chi_square(layers: Sequence[BinaryEvidence]) -> pd.DataFrame:
    """Pairwise chi-square tests of conditional independence between binary layers.

    For each pair, the 2 × 2 table of the *deposit* cells (inside/outside each pattern) is tested
    against independence (Bonham-Carter 1994, ch. 9), by ``scipy.stats.chi2_contingency``
    without continuity correction (1 degree of freedom). An expected count below 5 makes the
    test unreliable: ``min_expected`` says so; a table with an empty row or column has no test
    (NaN, with the reason in ``note``).

    Returns
    -------
    pandas.DataFrame
        Columns ``layer_a, layer_b, n11, n10, n01, n00, chi2, p_value, min_expected, note``
        (``n10``: deposits inside a and outside b).
    """
    layers = _check_layers(layers, "pairwise chi-square test")
    inside = [b.in_pattern[b.source.deposit_classes] for b in layers]
    rows = []
    for i in range(len(layers)):
        for j in range(i + 1, len(layers)):
            a, b = inside[i], inside[j]
            table = np.array([[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]])
            note, chi2, pval, min_exp = "", np.nan, np.nan, np.nan
            if (table.sum(axis=0) == 0).any() or (table.sum(axis=1) == 0).any():
                note = "a pattern holds all or none of the deposits: no test"
            else:
                res = stats.chi2_contingency(table, correction=False)
                chi2, pval = float(res.statistic), float(res.pvalue)
                min_exp = float(res.expected_freq.min())
                if min_exp < 5:
                    note = "an expected count is below 5: the test is unreliable"
            rows.append({
                "layer_a": layers[i].layer, "layer_b": layers[j].layer,
                "n11": int(table[0, 0]), "n10": int(table[0, 1]), "n01": int(table[1, 0]),
                "n00": int(table[1, 1]), "chi2": chi2, "p_value": pval,
                "min_expected": min_exp, "note": note,
            })  # fmt: skip
    columns = ["layer_a", "layer_b", "n11", "n10", "n01", "n00", "chi2", "p_value",
               "min_expected", "note"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------------------------
# the "weights-of-evidence" method of recipes (an entry of METHODS)

_SCORING_KEYS = ("unit_cell_km2", "correction")
_WEIGHTS_KEYS = ("kind", "classify", "classes", "generalise", "threshold", "class", "nodata")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_weights_scoring(params: Params) -> Params:
    """Check a weights-of-evidence recipe's ``[scoring]`` table.

    Keys: ``unit_cell_km2`` (a positive number; default the pixel area) and ``correction``
    (``"none"`` or ``"haldane"``; default ``"none"``).
    """
    from geosurvey.prospectivity._recipe import Params

    unknown = sorted(set(params) - set(_SCORING_KEYS))
    if unknown:
        raise RecipeError(f"unknown key(s) {unknown}; weights-of-evidence takes: {', '.join(_SCORING_KEYS)}")
    out: dict[str, Any] = {"correction": params.get("correction", "none")}
    if out["correction"] not in get_args(Correction):
        raise RecipeError(f"correction must be 'none' or 'haldane', got {out['correction']!r}")
    if "unit_cell_km2" in params:
        unit = params["unit_cell_km2"]
        if not _number(unit) or not unit > 0:
            raise RecipeError(f"unit_cell_km2 must be a positive number (km²), got {unit!r}")
        out["unit_cell_km2"] = float(unit)
    return Params(out)


def parse_weights_evidence(params: Params, layer: str) -> Params:
    """Check one ``[evidence.weights]`` table of a weights-of-evidence recipe.

    Keys: ``kind`` (required: unique, categorical, ascending, descending); ``classify``
    (quantile, equal-interval, natural-breaks) with ``classes`` a number of classes, or
    ``classes`` a list of increasing edges, or neither (the layer's own integer codes);
    ``generalise`` (max-contrast (default), max-studentized-contrast, threshold, class) with
    ``threshold`` (default 2) or ``class`` (a class value, or a list for unique/categorical);
    ``nodata`` (a code that means "no data", e.g. -1 outside every polygon).
    """
    from geosurvey.prospectivity._recipe import Params

    unknown = sorted(set(params) - set(_WEIGHTS_KEYS))
    if unknown:
        raise RecipeError(f"unknown key(s) {unknown} in [evidence.weights]; keys: {', '.join(_WEIGHTS_KEYS)}")
    kind = params.get("kind")
    if kind not in get_args(WeightsKind):
        raise RecipeError(f"weights kind must be one of {', '.join(get_args(WeightsKind))}, got {kind!r}")
    classify = params.get("classify")
    if classify is not None and classify not in get_args(WeightsClassify):
        raise RecipeError(f"classify must be one of {', '.join(get_args(WeightsClassify))}, got {classify!r}")
    classes = params.get("classes")
    if classify is not None and classes is not None and (not isinstance(classes, int) or isinstance(classes, bool) or classes < 2):
        raise RecipeError(f"with classify, classes is a number of classes >= 2, got {classes!r}")
    if classify is None and classes is not None:
        if not isinstance(classes, tuple | list) or len(classes) < 2 or not all(_number(v) for v in classes) \
                or any(b <= a for a, b in itertools.pairwise(classes)):
            raise RecipeError(
                f"classes without classify must be a list of at least two increasing edges, got {classes!r}"
            )
    if kind == "categorical" and classify is not None:
        raise RecipeError("kind 'categorical' takes the layer's own codes; drop classify")
    by = params.get("generalise", "max-contrast")
    if by not in get_args(Generalisation):
        raise RecipeError(f"generalise must be one of {', '.join(get_args(Generalisation))}, got {by!r}")
    if by == "class" and "class" not in params:
        raise RecipeError("generalise = 'class' needs class = <a class value>")
    if "threshold" in params and not _number(params["threshold"]):
        raise RecipeError(f"threshold must be a number, got {params['threshold']!r}")
    if "nodata" in params and not _number(params["nodata"]):
        raise RecipeError(f"nodata must be a number, got {params['nodata']!r}")
    return Params({**dict(params), "generalise": by})


def score_weights_of_evidence(
    evidence: Mapping[str, xr.DataArray], recipe: Recipe, *, occurrences: gpd.GeoDataFrame | None = None
) -> Scored:
    """Score a weights-of-evidence recipe: weights of each layer, generalised, then the posterior.

    Every layer is first masked to the pixels where all of them have data (one study area, as the
    posterior needs). The score is the posterior probability of a deposit per unit cell; the
    report holds every weights table, the generalised weights, the prior and the
    conditional-independence tests. The extra rasters
    are ``posterior_std`` and each layer's weight map ``weights_<layer>`` (W+ / W−: what raises
    a target).
    """
    from geosurvey.prospectivity._methods import Scored

    if occurrences is None or len(occurrences) == 0:
        raise RecipeError(f"recipe {recipe.source or recipe.id}: weights of evidence needs training occurrences")
    layers = {}
    for spec in recipe.evidence:
        layer = evidence[spec.layer]
        if "nodata" in spec.weights:
            layer = layer.where(layer != spec.weights["nodata"])
        layers[spec.layer] = layer
    valid = None
    for layer in layers.values():
        valid = layer.notnull() if valid is None else valid & layer.notnull()
    scoring = recipe.scoring
    generalised, tables = [], {}
    for spec in recipe.evidence:
        w = spec.weights
        masked = layers[spec.layer].where(valid).rename(spec.layer)
        masked.attrs = dict(evidence[spec.layer].attrs)
        classes = w.get("classes")
        weights = weights_of_evidence(
            masked, occurrences, kind=w["kind"], classify=w.get("classify"),
            classes=list(classes) if isinstance(classes, tuple) else classes,
            unit_cell_km2=scoring.get("unit_cell_km2"), correction=scoring.get("correction", "none"),
        )  # fmt: skip
        cls = w.get("class")
        binary = weights.generalise(by=w["generalise"], threshold=float(w.get("threshold", 2.0)),
                                    classes=list(cls) if isinstance(cls, tuple) else cls)  # fmt: skip
        tables[spec.layer] = weights.to_dict()
        generalised.append(binary)
    post = posterior(generalised)
    ci = conditional_independence(generalised)
    report = {
        "prior": post.prior,
        "weights": tables,
        "generalised": {b.layer: b.to_dict() for b in generalised},
        "conditional_independence": ci.to_dict(),
        "posterior_variance": "s²(P) = P² · [1/N(D) + Σ s²(W)] (Bonham-Carter 1994; Agterberg, "
                              "Bonham-Carter & Wright 1990)",
    }
    score = post.probability.rename("score").assign_attrs(recipe=recipe.id)
    extra = {"posterior_std": post.std, **{f"weights_{b.layer}": b.weights() for b in generalised}}
    return Scored(score, layers=extra, report=report)
