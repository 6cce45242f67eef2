"""Point geochemistry as evidence: samples, below-detection values, compositional data, gridding.

Soil, till, stream-sediment and core samples come as points with one column per element. This
module reads them (:func:`read_geochemistry`: CSV with longitude/latitude or x/y columns,
GeoPackage, shapefile), replaces values below the detection limit by one stated rule
(:func:`replace_below_detection`), transforms compositions the way geochemists do (Aitchison's
compositional data analysis: :func:`closure`, :func:`clr`, :func:`ilr` with pivot coordinates,
and their inverses) and grids one element or component onto the analysis grid
(:func:`geochem_anomaly`) with a spatially cross-validated score.

The below-detection rule
------------------------
A reported value is *below detection* when it is

1. text ``"<x"`` (e.g. ``"<5"``): the detection limit is ``x``;
2. a negative number ``-x`` (the convention of many laboratory reports and the USGS National
   Geochemical Database: ``-5`` means "< 5"): the limit is ``x``;
3. flagged ``"<"`` in a qualifier column (e.g. GTK's ``Cu_511P_T``) or equal to 0, or text
   ``"nd"``/``"bdl"``: the limit is the ``detection_limit`` given, else (for a flagged positive
   value) the reported value itself, else the smallest positive value reported for that element
   (the lowest quantified value is at least the limit; a stated proxy, recorded in the history).

The sentinels ``-9999`` and ``-999`` (:data:`MISSING_CODES`) are missing values, not "< 9999".
A value below detection is replaced by half the detection limit (``"half-limit"``, the usual substitution for
exploration geochemistry; Farnham et al. 2002) or by NaN (``"nan"``: the sample is left out).
Text ``">x"`` (above the upper range) becomes ``x`` and is counted. Empty cells and ``"na"``,
``"n.a."``, ``"-"`` are missing (NaN); any other text is refused. How many values each rule
touched goes into the layer's history.

Hand-written parts, and why: the CoDA transforms are a few lines of NumPy each (the Python
packages that ship them, scikit-bio and pyrolite, are large for four formulas, and none offers
pivot coordinates by name); inverse-distance weighting is not in verde or scikit-learn as a
gridder that verde's cross-validation accepts, so :class:`InverseDistanceGridder` is a 30-line
:class:`verde.base.BaseGridder` on a :class:`scipy.spatial.cKDTree`.

References
----------
Aitchison, J. (1986). *The Statistical Analysis of Compositional Data*. Chapman & Hall.
Egozcue, J. J., Pawlowsky-Glahn, V., Mateu-Figueras, G., & Barceló-Vidal, C. (2003). Isometric
logratio transformations for compositional data analysis. *Mathematical Geology*, 35(3), 279–300.
Filzmoser, P., Hron, K., & Templ, M. (2018). *Applied Compositional Data Analysis*. Springer
(pivot coordinates, ch. 4).
Farnham, I. M., Singh, A. K., Stetzenbach, K. J., & Johannesson, K. H. (2002). Treatment of
nondetects in multivariate analysis of groundwater geochemistry data. *Chemometrics and
Intelligent Laboratory Systems*, 60, 265–281.
Reimann, C., Filzmoser, P., Garrett, R. G., & Dutter, R. (2008). *Statistical Data Analysis
Explained: Applied Environmental Statistics with R*. Wiley.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Literal

import dask.array
import geopandas as gpd
import numpy as np
import odc.geo.xr  # noqa: F401  (registers the .odc accessor)
import pandas as pd
import verde as vd
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords
from scipy.spatial import cKDTree

from geosurvey.errors import CRSError, InputError, MissingInputError
from geosurvey.evidence._common import cross_val_r2
from geosurvey.grid import target_grid
from geosurvey.provenance import annotate

__all__ = [
    "MISSING_CODES",
    "BelowDetectionRule",
    "CensoredValues",
    "GeochemGridder",
    "GeochemTransform",
    "InverseDistanceGridder",
    "closure",
    "clr",
    "clr_inverse",
    "geochem_anomaly",
    "ilr",
    "ilr_inverse",
    "pivot_basis",
    "read_geochemistry",
    "replace_below_detection",
]

BelowDetectionRule = Literal["half-limit", "nan"]
GeochemTransform = Literal["none", "log10", "clr", "ilr-pivot"]
GeochemGridder = Literal["idw", "spline"]

#: Numeric codes read as missing values (not as "less than" their magnitude).
MISSING_CODES: tuple[float, ...] = (-9999.0, -999.0)
#: Attribute of a samples GeoDataFrame (``gdf.attrs``) holding ``{column: units}``.
UNITS_ATTR = "geosurvey:units"
#: Attribute holding the history lines of a samples GeoDataFrame.
HISTORY_ATTR = "geosurvey:history"

_MISSING_TEXT = {"", "na", "n.a.", "n/a", "nan", "-", "--", "none"}
_NOT_DETECTED_TEXT = {"nd", "n.d.", "bdl", "<dl", "<lod", "bd"}
_NUMBER = re.compile(r"^[<>]?\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


# ---------------------------------------------------------------------------------------------
# Below-detection values
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CensoredValues:
    """The values of one element after the below-detection rule, and what the rule did.

    Attributes
    ----------
    values
        float64 values, one per sample (NaN where missing, or below detection under ``"nan"``).
    below
        Boolean mask of the values that were below detection.
    limits
        The detection limit used for each below-detection value (NaN elsewhere), in the
        element's units.
    n_above
        Values reported as ``">x"`` and taken as ``x``.
    n_missing
        Values missing in the input.
    note
        One line for the history: the rule, the counts and where the limits came from.
    """

    values: np.ndarray
    below: np.ndarray
    limits: np.ndarray
    n_above: int
    n_missing: int
    note: str

    @property
    def n_below(self) -> int:
        """How many values were below detection."""
        return int(self.below.sum())


def _parse_cells(values: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Numbers, below-limit text limits, above-limit mask, not-detected mask, missing mask."""
    n = len(values)
    number = np.full(n, np.nan)
    text_limit = np.full(n, np.nan)
    above = np.zeros(n, bool)
    not_detected = np.zeros(n, bool)
    if pd.api.types.is_numeric_dtype(values.dtype):
        number = np.array(values.to_numpy(dtype="float64", na_value=np.nan), dtype="float64")
        number[np.isin(number, MISSING_CODES)] = np.nan
        return number, text_limit, above, not_detected, ~np.isfinite(number)
    missing = np.zeros(n, bool)
    for i, cell in enumerate(values.to_numpy(dtype=object)):
        if cell is None or (isinstance(cell, float) and math.isnan(cell)):
            missing[i] = True
            continue
        if isinstance(cell, int | float | np.number):
            if float(cell) in MISSING_CODES:
                missing[i] = True
            else:
                number[i] = float(cell)
            continue
        text = str(cell).strip().lower().replace(",", ".")
        if text in _MISSING_TEXT:
            missing[i] = True
        elif text in _NOT_DETECTED_TEXT:
            not_detected[i] = True
        elif _NUMBER.match(text) and not text.startswith(("<", ">")) and float(text) in MISSING_CODES:
            missing[i] = True
        elif _NUMBER.match(text):
            if text.startswith("<"):
                text_limit[i] = abs(float(text[1:]))
            elif text.startswith(">"):
                number[i] = float(text[1:])
                above[i] = True
            else:
                number[i] = float(text)
        else:
            raise InputError(
                f"column {name!r}, row {values.index[i]!r}: cannot read {cell!r} as a value; use a "
                "number, '<x' below the detection limit x, '>x' above the range, or leave it empty"
            )
    return number, text_limit, above, not_detected, missing


def replace_below_detection(
    values: pd.Series | Sequence[object] | np.ndarray,
    *,
    flags: pd.Series | Sequence[object] | np.ndarray | None = None,
    detection_limit: float | None = None,
    rule: BelowDetectionRule = "half-limit",
    name: str = "values",
) -> CensoredValues:
    """Apply the below-detection rule of :mod:`geosurvey.evidence._geochem` to one element.

    Parameters
    ----------
    values
        The reported values: numbers, or text such as ``"<5"``, ``">1000"``, ``""``.
    flags
        A qualifier per value (e.g. GTK's ``*_T`` columns); a flag starting with ``"<"`` marks a
        below-detection value. Other flags (``"!"``) are kept as information only.
    detection_limit
        The laboratory's detection limit in the element's units, used for flagged, zero and
        ``"nd"`` values (text ``"<x"`` and negative numbers carry their own).
    rule
        ``"half-limit"``: replace by half the detection limit; ``"nan"``: replace by NaN.
    name
        The column's name, for messages and the note.

    Returns
    -------
    CensoredValues
        The values and the counts of what the rule did.

    Raises
    ------
    geosurvey.errors.InputError
        On unreadable text, an unknown rule or a non-positive ``detection_limit``.

    Examples
    --------
    >>> r = replace_below_detection(["12", "<5", -2, 0.0, ""], detection_limit=1.0)
    >>> r.values.tolist()[:4], r.n_below, r.n_missing
    ([12.0, 2.5, 1.0, 0.5], 3, 1)
    """
    if rule not in ("half-limit", "nan"):
        raise InputError(f"{name}: below-detection rule={rule!r} must be 'half-limit' or 'nan'")
    if detection_limit is not None and not (np.isfinite(detection_limit) and detection_limit > 0):
        raise InputError(f"{name}: detection_limit={detection_limit!r} must be a positive number")
    series = values if isinstance(values, pd.Series) else pd.Series(list(values) if not isinstance(values, np.ndarray) else values)
    number, text_limit, above, not_detected, missing = _parse_cells(series, name)
    flagged = np.zeros(len(series), bool)
    if flags is not None:
        flag_series = flags if isinstance(flags, pd.Series) else pd.Series(list(flags))
        if len(flag_series) != len(series):
            raise InputError(f"{name}: {len(flag_series)} flags for {len(series)} values")
        flagged = flag_series.astype("string").str.strip().str.startswith("<").fillna(False).to_numpy(bool)

    below = np.isfinite(text_limit) | not_detected | (number < 0) | (number == 0) | flagged
    limits = np.full(len(series), np.nan)
    limits[np.isfinite(text_limit)] = text_limit[np.isfinite(text_limit)]
    limits[number < 0] = -number[number < 0]
    positive = np.isfinite(number) & (number > 0) & ~below
    sources = []
    needs = below & ~np.isfinite(limits)
    if detection_limit is not None:
        limits[needs] = detection_limit
        if needs.any():
            sources.append(f"{int(needs.sum())} at the given limit {detection_limit:g}")
    else:
        own = needs & flagged & np.isfinite(number) & (number > 0)
        limits[own] = number[own]
        if own.any():
            sources.append(f"{int(own.sum())} flagged at their reported value")
        rest = needs & ~own
        if rest.any():
            if not positive.any():
                raise InputError(
                    f"{name}: {int(rest.sum())} values are below detection with no stated limit and "
                    "no quantified value to take it from; give detection_limit"
                )
            proxy = float(number[positive].min())
            limits[rest] = proxy
            sources.append(
                f"{int(rest.sum())} at the lowest quantified value {proxy:g} (no limit stated)"
            )
    missing = missing & ~below
    out = np.where(below, 0.5 * limits if rule == "half-limit" else np.nan, number)
    out[missing] = np.nan
    n_text = int(np.isfinite(text_limit).sum())
    n_negative = int((number < 0).sum())
    detail = ", ".join(
        part for part in (
            f"{n_text} as '<x'" if n_text else "",
            f"{n_negative} negative" if n_negative else "",
            *sources,
        ) if part
    )
    replaced = "half the detection limit" if rule == "half-limit" else "NaN"
    note = (
        f"{name}: {int(below.sum())} of {len(series)} values below detection -> {replaced}"
        + (f" ({detail})" if detail else "")
        + (f"; {int(above.sum())} '>x' taken as x" if above.any() else "")
        + (f"; {int(missing.sum())} missing" if missing.any() else "")
    )
    return CensoredValues(out.astype("float64"), below, limits, int(above.sum()), int(missing.sum()), note)


# ---------------------------------------------------------------------------------------------
# Reading samples
# ---------------------------------------------------------------------------------------------


_COORDINATE_PAIRS = (("longitude", "latitude"), ("lon", "lat"), ("x", "y"), ("easting", "northing"))


def read_geochemistry(
    path: str | Path,
    *,
    elements: Mapping[str, str] | Sequence[str],
    units: str | Mapping[str, str] = "ppm",
    flags: Mapping[str, str] | None = None,
    detection_limits: Mapping[str, float] | None = None,
    below_detection: BelowDetectionRule = "half-limit",
    coordinates: tuple[str, str] | None = None,
    crs: str | int | None = None,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    """Read geochemical samples with element columns and units, below-detection values replaced.

    Parameters
    ----------
    path : str or pathlib.Path
        A CSV file (one row per sample), a GeoPackage or a shapefile (anything GDAL/pyogrio reads).
    elements : mapping or sequence of str
        ``{element: column}`` (e.g. ``{"Cu": "Cu_ppm_511"}``) or the column names themselves.
        The result has one float64 column per element, under the element's name.
    units : str or mapping
        The units of the element columns (UDUNITS style: ``"ppm"``, ``"ppb"``, ``"%"``), one for
        all or ``{element: units}``.
    flags : mapping, optional
        ``{element: qualifier column}``; ``"<"`` there marks a below-detection value.
    detection_limits : mapping, optional
        ``{element: limit}`` in the element's units.
    below_detection : {"half-limit", "nan"}
        The rule of the module docstring.
    coordinates : (str, str), optional
        For CSV: the easting-like and northing-like columns. By default the first pair found of
        ``longitude/latitude``, ``lon/lat``, ``x/y``, ``easting/northing``.
    crs : str or int, optional
        For CSV: the CRS of the coordinates; EPSG:4326 for longitude/latitude, required for x/y.
    layer : str, optional
        The layer of a multi-layer GeoPackage.

    Returns
    -------
    geopandas.GeoDataFrame
        The samples' points and the element columns (other columns kept). ``attrs`` holds
        ``"geosurvey:units"`` (``{element: units}``) and ``"geosurvey:history"`` (one line per
        element saying what the below-detection rule did).

    Raises
    ------
    geosurvey.errors.MissingInputError
        If the file does not exist.
    geosurvey.errors.InputError
        If a column is missing, a value unreadable, or the coordinates or CRS are not given.
    """
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"geochemistry file {path} does not exist")
    element_columns = dict(elements) if isinstance(elements, Mapping) else {c: c for c in elements}
    if not element_columns:
        raise InputError(f"{path}: name at least one element column (elements=...)")
    if path.suffix.lower() in (".csv", ".txt"):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        pair = coordinates or next(
            (p for p in _COORDINATE_PAIRS if all(c in table.columns for c in p)), None
        )
        if pair is None or not all(c in table.columns for c in pair):
            raise InputError(
                f"{path}: no coordinate columns (looked for {', '.join('/'.join(p) for p in _COORDINATE_PAIRS)}); "
                f"name them with coordinates=(x, y); the columns are {list(table.columns)}"
            )
        geographic = pair[0].lower() in ("longitude", "lon")
        if crs is None and not geographic:
            raise CRSError(f"{path}: coordinates {pair} need their CRS (crs='EPSG:xxxx')")
        try:
            xy = table[list(pair)].apply(pd.to_numeric, errors="raise")
        except ValueError as exc:
            raise InputError(f"{path}: coordinate columns {pair} hold non-numbers: {exc}") from exc
        samples = gpd.GeoDataFrame(
            table, geometry=gpd.points_from_xy(xy[pair[0]], xy[pair[1]]), crs=crs or "EPSG:4326"
        )
    else:
        try:
            samples = gpd.read_file(path, layer=layer)
        except Exception as exc:
            raise InputError(f"cannot read geochemistry file {path}: {exc}") from exc
        if samples.crs is None:
            if crs is None:
                raise CRSError(f"{path} has no CRS; give crs='EPSG:xxxx'")
            samples = samples.set_crs(crs)
    bad_geom = samples.geometry.isna() | samples.geometry.is_empty
    if bad_geom.any() or not (samples.geometry.geom_type == "Point").all():
        raise InputError(f"{path}: every sample must be a point; {int((~(samples.geometry.geom_type == 'Point')).sum())} are not")
    missing = [c for c in element_columns.values() if c not in samples.columns]
    flags = dict(flags or {})
    missing += [c for c in flags.values() if c not in samples.columns]
    if missing:
        raise InputError(f"{path}: no column(s) {missing}; it has {list(samples.columns)}")
    unit_of = {el: (units if isinstance(units, str) else units.get(el)) for el in element_columns}
    no_units = [el for el, u in unit_of.items() if not u]
    if no_units:
        raise InputError(f"{path}: no units for {no_units}; give units={{element: 'ppm', ...}}")
    history = [f"read_geochemistry({path.name}: {len(samples)} samples)"]
    out = samples.copy()
    for el, col in element_columns.items():
        result = replace_below_detection(
            samples[col],
            flags=samples[flags[el]] if el in flags else None,
            detection_limit=(detection_limits or {}).get(el),
            rule=below_detection,
            name=el,
        )
        out[el] = result.values
        history.append(result.note)
    out.attrs = {UNITS_ATTR: unit_of, HISTORY_ATTR: history}
    return out


# ---------------------------------------------------------------------------------------------
# Compositional data analysis
# ---------------------------------------------------------------------------------------------


def _parts(parts: pd.DataFrame | np.ndarray, what: str) -> tuple[np.ndarray, pd.DataFrame | None]:
    frame = parts if isinstance(parts, pd.DataFrame) else None
    arr = np.asarray(parts.to_numpy(dtype="float64") if frame is not None else parts, dtype="float64")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise InputError(f"{what}: a composition needs at least 2 parts (columns), got shape {arr.shape}")
    return arr, frame


def _check_positive(arr: np.ndarray, frame: pd.DataFrame | None, what: str) -> None:
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        col = int(np.argwhere(bad.any(axis=0))[0][0])
        label = repr(frame.columns[col]) if frame is not None else f"#{col}"
        raise InputError(
            f"{what}: part {label} has {int(bad[:, col].sum())} zero, negative or missing values; "
            "log-ratios need positive parts: replace below-detection values first "
            "(geosurvey.evidence.replace_below_detection) and drop incomplete samples"
        )


def _wrap(arr: np.ndarray, frame: pd.DataFrame | None, columns: Sequence[str] | None, ndim: int) -> pd.DataFrame | np.ndarray:
    if frame is not None:
        return pd.DataFrame(arr, index=frame.index, columns=list(columns) if columns is not None else frame.columns)
    return arr if ndim == 2 else arr[0]


def closure(parts: pd.DataFrame | np.ndarray, *, total: float = 1.0) -> pd.DataFrame | np.ndarray:
    """Rescale each composition (row) to sum to ``total``: :math:`C(x) = total \\cdot x / \\sum x`.

    Parameters
    ----------
    parts : pandas.DataFrame or numpy.ndarray
        Samples by parts (``(n, D)``; a 1-D array is one composition), positive.
    total : float
        The constant sum (1, 100 for per cent, 1e6 for ppm).

    Returns
    -------
    Same type and shape as ``parts``.
    """
    arr, frame = _parts(parts, "closure")
    _check_positive(arr, frame, "closure")
    return _wrap(total * arr / arr.sum(axis=1, keepdims=True), frame, None, np.ndim(parts))


def clr(parts: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
    """Centred log-ratio: :math:`\\mathrm{clr}(x)_i = \\ln(x_i / g(x))`, ``g`` the geometric mean.

    Each row sums to zero; the transform does not depend on the closure constant (ppm, %, or
    closed to 1 give the same coordinates). Columns of a DataFrame keep their names.

    Parameters
    ----------
    parts : pandas.DataFrame or numpy.ndarray
        Samples by parts, positive (replace below-detection values first).

    Returns
    -------
    Same type and shape as ``parts`` (dimensionless).
    """
    arr, frame = _parts(parts, "clr")
    _check_positive(arr, frame, "clr")
    logs = np.log(arr)
    return _wrap(logs - logs.mean(axis=1, keepdims=True), frame, None, np.ndim(parts))


def clr_inverse(coords: pd.DataFrame | np.ndarray, *, total: float = 1.0) -> pd.DataFrame | np.ndarray:
    """Inverse of :func:`clr`: :math:`C(\\exp(z))`, closed to ``total``."""
    arr, frame = _parts(coords, "clr_inverse")
    e = np.exp(arr - arr.max(axis=1, keepdims=True))
    return _wrap(total * e / e.sum(axis=1, keepdims=True), frame, None, np.ndim(coords))


def pivot_basis(n_parts: int) -> np.ndarray:
    """The orthonormal basis of pivot coordinates, ``(D - 1, D)``, in clr space.

    Row ``i`` (0-based) is :math:`\\sqrt{(D-i-1)/(D-i)}\\,(0,\\dots,0,1,-\\tfrac{1}{D-i-1},\\dots)`
    with the 1 at column ``i``; so the ``i``-th pivot coordinate is
    :math:`\\sqrt{(D-i-1)/(D-i)}\\ln\\left(x_i / g(x_{i+1},\\dots,x_D)\\right)` (Filzmoser et al. 2018):
    the first coordinate holds all the relative information about the first part. Rows are
    orthonormal and orthogonal to ``(1, ..., 1)``.
    """
    if isinstance(n_parts, bool) or not isinstance(n_parts, int | np.integer) or n_parts < 2:
        raise InputError(f"pivot_basis: n_parts={n_parts!r} must be an integer of at least 2")
    d = int(n_parts)
    basis = np.zeros((d - 1, d))
    for i in range(d - 1):
        rest = d - i - 1
        basis[i, i] = 1.0
        basis[i, i + 1:] = -1.0 / rest
        basis[i] *= math.sqrt(rest / (rest + 1))
    return basis


def _basis(basis: np.ndarray | None, d: int, what: str) -> np.ndarray:
    if basis is None:
        return pivot_basis(d)
    basis = np.asarray(basis, dtype="float64")
    if basis.shape != (d - 1, d):
        raise InputError(f"{what}: basis has shape {basis.shape}; it must be ({d - 1}, {d}) for {d} parts")
    if not np.allclose(basis @ basis.T, np.eye(d - 1), atol=1e-9) or not np.allclose(basis.sum(axis=1), 0, atol=1e-9):
        raise InputError(f"{what}: basis rows must be orthonormal and sum to zero (a clr-space basis)")
    return basis


def ilr(parts: pd.DataFrame | np.ndarray, *, basis: np.ndarray | None = None) -> pd.DataFrame | np.ndarray:
    """Isometric log-ratio coordinates: :math:`\\mathrm{ilr}(x) = \\mathrm{clr}(x)\\,V^T`.

    Parameters
    ----------
    parts : pandas.DataFrame or numpy.ndarray
        Samples by ``D`` parts, positive.
    basis : numpy.ndarray, optional
        ``(D - 1, D)`` orthonormal contrast matrix; default :func:`pivot_basis` (pivot
        coordinates, named ``pivot_<part>`` in a DataFrame result).

    Returns
    -------
    ``(n, D - 1)`` coordinates (dimensionless), a DataFrame if ``parts`` is one.
    """
    arr, frame = _parts(parts, "ilr")
    v = _basis(basis, arr.shape[1], "ilr")
    z = np.asarray(clr(arr)) @ v.T
    names = None
    if frame is not None:
        names = [f"pivot_{c}" for c in frame.columns[:-1]] if basis is None else [f"ilr{i + 1}" for i in range(v.shape[0])]
    return _wrap(z, frame, names, np.ndim(parts))


def ilr_inverse(
    coords: pd.DataFrame | np.ndarray, *, basis: np.ndarray | None = None, total: float = 1.0
) -> np.ndarray:
    """Inverse of :func:`ilr`: the composition closed to ``total``, ``(n, D)`` (``D - 1`` coordinates
    give ``D`` parts; one coordinate gives a two-part composition)."""
    values = coords.to_numpy(dtype="float64") if isinstance(coords, pd.DataFrame) else coords
    arr = np.atleast_2d(np.asarray(values, dtype="float64"))
    if arr.ndim != 2:
        raise InputError(f"ilr_inverse: coordinates must be (n, D - 1), got shape {arr.shape}")
    v = _basis(basis, arr.shape[1] + 1, "ilr_inverse")
    out = np.asarray(clr_inverse(arr @ v, total=total))
    return out if np.ndim(coords) == 2 else out[0]


# ---------------------------------------------------------------------------------------------
# Gridding onto the analysis grid
# ---------------------------------------------------------------------------------------------


class InverseDistanceGridder(vd.base.BaseGridder):
    """Inverse-distance weighting as a verde gridder (so verde's cross-validation scores it).

    The prediction at a point is :math:`\\sum_k w_k d_k / \\sum_k w_k` over its ``neighbours``
    nearest samples, :math:`w_k = 1 / r_k^{p}`; a point on a sample takes that sample's value.

    Parameters
    ----------
    power : float
        The exponent ``p`` (2 is Shepard's choice).
    neighbours : int
        How many nearest samples enter each prediction.
    """

    def __init__(self, power: float = 2.0, neighbours: int = 12) -> None:
        self.power = power
        self.neighbours = neighbours

    def fit(self, coordinates, data, weights=None):
        easting, northing = (np.asarray(c, dtype="float64").ravel() for c in coordinates[:2])
        self.tree_ = cKDTree(np.column_stack([easting, northing]))
        self.data_ = np.asarray(data, dtype="float64").ravel()
        self.region_ = vd.get_region((easting, northing))
        return self

    def predict(self, coordinates):
        easting, northing = (np.asarray(c, dtype="float64") for c in coordinates[:2])
        shape = np.broadcast(easting, northing).shape
        pts = np.column_stack([np.broadcast_to(easting, shape).ravel(), np.broadcast_to(northing, shape).ravel()])
        k = min(int(self.neighbours), len(self.data_))
        dist, idx = self.tree_.query(pts, k=k)
        dist, idx = dist.reshape(len(pts), k), idx.reshape(len(pts), k)
        with np.errstate(divide="ignore"):
            w = 1.0 / dist ** float(self.power)
        exact = dist[:, 0] == 0
        w[exact] = 0.0
        w[exact, 0] = 1.0
        pred = (w * self.data_[idx]).sum(axis=1) / w.sum(axis=1)
        return pred.reshape(shape)


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def geochem_anomaly(
    features: gpd.GeoDataFrame,
    like: xr.DataArray | GeoBox,
    *,
    column: str,
    units: str | None = None,
    components: Sequence[str] | None = None,
    transform: GeochemTransform = "log10",
    method: GeochemGridder = "idw",
    flags: str | Sequence[str] | None = None,
    detection_limit: float | None = None,
    below_detection: BelowDetectionRule = "half-limit",
    standardize: Literal["none", "robust-z"] = "none",
    power: float = 2.0,
    neighbours: int = 12,
    damping: float | None = None,
    cv_block: float | None = None,
    n_splits: int = 5,
    max_distance: float | None = None,
    name: str | None = None,
) -> xr.DataArray:
    """One element (or compositional component) of point samples, gridded onto the analysis grid.

    1. Read ``column`` (and every part of ``components``) and apply the below-detection rule of
       the module docstring to each (``flags``, ``detection_limit``, ``below_detection``);
       samples with a missing part are dropped.
    2. Transform: ``"none"`` (the concentration), ``"log10"`` (geochemical concentrations are
       close to log-normal), ``"clr"`` (the centred log-ratio of ``column`` within the
       composition ``components``: its enrichment relative to the geometric mean of the parts,
       free of the closure effect) or ``"ilr-pivot"`` (the first pivot coordinate with ``column``
       as the pivot, :math:`\\sqrt{D/(D-1)}` times its clr).
    3. Optionally standardise: ``"robust-z"`` = (value − median) / (1.4826 × MAD) over the
       samples, a dimensionless anomaly score (Reimann et al. 2008).
    4. Fit the gridder: ``"idw"`` (:class:`InverseDistanceGridder`: ``neighbours`` nearest
       samples, weights :math:`1/r^{power}`) or ``"spline"`` (:class:`verde.Spline`, bi-harmonic,
       ``damping`` default 1e-6); score it with spatially blocked ``n_splits``-fold
       cross-validation (:class:`verde.BlockKFold`, blocks of ``cv_block`` metres, default four
       median sample spacings): the mean R² goes to ``attrs["cv_r2"]``.
    5. Predict lazily on ``like``'s grid, block by block; NaN farther than ``max_distance``
       (default three median sample spacings) from every sample.

    The fit is an edge step (the samples are read into memory, as points are small); the grid
    is a lazy Dask array with no global step.

    Parameters
    ----------
    features : geopandas.GeoDataFrame
        The samples (points, any CRS: reprojected to the grid's).
    like : xarray.DataArray or odc.geo.geobox.GeoBox
        The analysis grid (projected CRS in metres). A Dask-backed DataArray's chunks are reused.
    column : str
        The element column to grid, e.g. ``"Cu_ppm_511"``.
    units : str, optional
        Its units (``"ppm"``); default from ``features.attrs["geosurvey:units"]`` as set by
        :func:`read_geochemistry`.
    components : sequence of str, optional
        The parts of the composition (``column`` among them), for ``"clr"`` and ``"ilr-pivot"``.
    transform : {"none", "log10", "clr", "ilr-pivot"}
        See step 2.
    method : {"idw", "spline"}
        The gridder.
    flags : str or sequence of str, optional
        Qualifier column(s) marking below-detection values with ``"<"``: one for ``column`` or, with
        ``components``, one per part in the same order (``""`` for a part without one).
    detection_limit : float, optional
        The detection limit of ``column`` (units of ``column``).
    below_detection : {"half-limit", "nan"}
        The rule for values below detection.
    standardize : {"none", "robust-z"}
        See step 3.
    power, neighbours : float, int
        Inverse-distance exponent and neighbour count.
    damping : float, optional
        Spline damping.
    cv_block, max_distance : float, optional
        Cross-validation block size and mask distance, metres.
    n_splits : int
        Cross-validation folds.
    name : str, optional
        The layer's name (default ``"<column>_<transform>"``).

    Returns
    -------
    xarray.DataArray
        float32 ``(y, x)`` on the grid: units ``units`` for ``"none"``, else ``"1"`` (``"log10"``
        is :math:`\\log_{10}(c / 1\\,\\mathrm{units})`, a pure number; the concentration units are
        kept in ``attrs["concentration_units"]``); attributes
        ``cv_r2``, ``cv_r2_folds``, ``n_samples``, ``n_below_detection``, ``long_name`` and a
        ``history`` line per step.

    Raises
    ------
    geosurvey.errors.InputError
        On a missing column, too few samples (fewer than 10), no units, or bad options.
    """
    func = "geochem_anomaly"
    if not isinstance(features, gpd.GeoDataFrame):
        raise InputError(f"{func}: features must be a geopandas.GeoDataFrame of samples, got {type(features).__name__}")
    if features.crs is None:
        raise CRSError(f"{func}: the samples have no CRS; set it with gdf.set_crs('EPSG:xxxx')")
    for option, value, allowed in (
        ("transform", transform, ("none", "log10", "clr", "ilr-pivot")),
        ("method", method, ("idw", "spline")),
        ("standardize", standardize, ("none", "robust-z")),
    ):
        if value not in allowed:
            raise InputError(f"{func}: {option}={value!r} must be one of {', '.join(map(repr, allowed))}")
    parts = _as_list(components)
    if transform in ("clr", "ilr-pivot"):
        if len(parts) < 2 or column not in parts:
            raise InputError(
                f"{func}: transform={transform!r} needs components=[...] of at least 2 columns "
                f"including {column!r}"
            )
    else:
        parts = [column]
    missing = [c for c in parts if c not in features.columns]
    flag_cols = _as_list(flags)
    if flag_cols and len(flag_cols) != len(parts):
        raise InputError(f"{func}: {len(flag_cols)} flag columns for {len(parts)} value columns {parts}; give one per column ('' for none)")
    missing += [f for f in flag_cols if f and f not in features.columns]
    if missing:
        raise InputError(f"{func}: the samples have no column(s) {missing}; they have {list(features.columns)}")
    units = units or features.attrs.get(UNITS_ATTR, {}).get(column)
    if not units:
        raise InputError(f"{func}: the units of {column!r} are unknown; give units='ppm' (or read the samples with read_geochemistry)")
    if not (isinstance(neighbours, int) and neighbours >= 1) or not power > 0 or not (isinstance(n_splits, int) and n_splits >= 2):
        raise InputError(f"{func}: neighbours={neighbours!r} and n_splits={n_splits!r} must be integers >= 1 and >= 2, power={power!r} > 0")

    gbox, chunks = target_grid(like, what=func)
    samples = features.to_crs(gbox.crs.to_wkt())
    steps = []
    table = {}
    n_below = 0
    for i, col in enumerate(parts):
        result = replace_below_detection(
            samples[col],
            flags=samples[flag_cols[i]] if flag_cols and flag_cols[i] else None,
            detection_limit=detection_limit if col == column else None,
            rule=below_detection,
            name=col,
        )
        table[col] = result.values
        n_below += result.n_below if col == column else 0
        steps.append(result.note)
    values = pd.DataFrame(table, index=samples.index)
    complete = values.notna().all(axis=1).to_numpy()
    values = values[complete]
    east = samples.geometry.x.to_numpy()[complete]
    north = samples.geometry.y.to_numpy()[complete]
    if len(values) < 10:
        raise InputError(f"{func}: only {len(values)} samples with every value of {parts}; need at least 10")

    if transform == "none":
        data, out_units, what = values[column].to_numpy(), units, f"{column} ({units})"
    elif transform == "log10":
        if (values[column] <= 0).any():
            raise InputError(f"{func}: {column!r} has zero or negative values after the below-detection rule; log10 needs positive values")
        data, out_units, what = np.log10(values[column].to_numpy()), "1", f"log10 of {column} in {units}"
    else:
        z = np.asarray(clr(values[parts]))[:, parts.index(column)]
        if transform == "ilr-pivot":
            z = z * math.sqrt(len(parts) / (len(parts) - 1))
        data, out_units = z, "1"
        what = f"{transform} of {column} in ({', '.join(parts)})"
    steps.append(f"{transform} transform" if transform != "none" else "no transform")
    if standardize == "robust-z":
        median = float(np.median(data))
        mad = 1.4826 * float(np.median(np.abs(data - median)))
        if not mad > 0:
            raise InputError(f"{func}: {column!r} has no spread (MAD 0); robust-z is undefined")
        data = (data - median) / mad
        out_units = "1"
        what = f"robust z-score of {what}"
        steps.append(f"robust-z (median {median:.4g}, 1.4826 MAD {mad:.4g})")

    spacing = float(np.median(cKDTree(np.column_stack([east, north])).query(np.column_stack([east, north]), k=2)[0][:, 1]))
    spacing = spacing if spacing > 0 else float(gbox.resolution.x)
    cv_block = float(4 * spacing if cv_block is None else cv_block)
    max_distance = float(3 * spacing if max_distance is None else max_distance)
    if method == "idw":
        make_gridder = partial(InverseDistanceGridder, power=power, neighbours=neighbours)
        label = f"inverse distance (power {power:g}, {neighbours} neighbours)"
    else:
        damping = 1e-6 if damping is None else float(damping)
        make_gridder = partial(vd.Spline, damping=damping)
        label = f"verde.Spline(damping={damping:g})"
    cv = vd.BlockKFold(spacing=cv_block, n_splits=n_splits, shuffle=True, random_state=0)
    scores = cross_val_r2(make_gridder, (east, north), data, cv)
    gridder = make_gridder()
    gridder.fit((east, north), data)
    tree = cKDTree(np.column_stack([east, north]))
    xs = np.asarray(gbox.coordinates["x"].values)
    ys = np.asarray(gbox.coordinates["y"].values)

    def predict(block_info=None):
        (r0, r1), (c0, c1) = block_info[None]["array-location"]
        gx, gy = np.meshgrid(xs[c0:c1], ys[r0:r1])
        # no warnings.catch_warnings here: blocks run in threads, which undo it for each other
        pred = np.asarray(gridder.predict((gx, gy)), dtype="float64")
        dist, _ = tree.query(np.column_stack([gx.ravel(), gy.ravel()]), distance_upper_bound=max_distance)
        return np.where(np.isfinite(dist).reshape(gx.shape), pred, np.nan).astype("float32")

    ny, nx = gbox.shape.yx
    block_chunks = chunks or dask.array.core.normalize_chunks((1024, 1024), (ny, nx))
    grid = dask.array.map_blocks(predict, chunks=block_chunks, dtype="float32", meta=np.empty((0, 0), dtype="float32"))
    out = xr.DataArray(grid, coords=xr_coords(gbox, crs_coord_name="spatial_ref"), dims=("y", "x"),
                       name=name or f"{column}_{transform}".replace("-", "_"))
    for line in features.attrs.get(HISTORY_ATTR, []):
        out = annotate(out, line)
    step = (
        f"geochem_anomaly({len(values)} samples of {len(features)}; " + "; ".join(steps)
        + f"; {label}, BlockKFold({cv_block:.0f} m, {n_splits}) R2={scores.mean():.3f}; "
        f"NaN beyond {max_distance:.0f} m of a sample)"
    )
    out = annotate(out, step, units=out_units, long_name=f"{what}, gridded by {label}")
    out.attrs.update(
        cv_r2=float(scores.mean()), cv_r2_folds=[float(s) for s in scores],
        n_samples=len(values), n_below_detection=int(n_below), concentration_units=units,
    )
    return out
