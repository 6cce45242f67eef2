"""Building a recipe's evidence layers: the one frozen table of evidence functions, and the builder.

:data:`EVIDENCE_FUNCTIONS` maps every name a recipe's ``steps`` may use to a public
:mod:`geosurvey.evidence` function and the kind of input it takes:

``grid``
    one ``(y, x)`` DataArray (potential-field transforms, terrain): any step of a chain;
``dataset``
    a Dataset of bands (spectral indices, ``band_ratio``): first step of a ``bands = [...]`` chain;
``grid_pair``
    two DataArrays (``radiometric_ratio``, ``potassium_anomaly``): first step of a
    ``bands = [a, b]`` chain, in that order;
``features``
    a GeoDataFrame and the analysis grid as ``like`` (``distance_to_features``, ``line_density``,
    ``categorical_raster``): first step of a ``features = "NAME"`` chain.

The parameters a step may give are the function's keyword-only parameters (less ``name``, which
is the layer's); values that depend on the area are *run-time* parameters, filled from the
:class:`EvidenceContext` when the recipe leaves them out (the geomagnetic field direction of
``reduction_to_pole``, from IGRF for the area and survey date).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd
import xarray as xr

from geosurvey import evidence as ev
from geosurvey.errors import BandError, InputError, RecipeError
from geosurvey.units import check_layer_units

__all__ = [
    "EVIDENCE_FUNCTIONS",
    "EvidenceContext",
    "EvidenceFunction",
    "build_evidence",
    "build_layer",
    "check_step",
    "known_band_names",
]

InputKind = Literal["grid", "dataset", "grid_pair", "features"]

#: Band names that are geophysical or terrain bands rather than optical ones (besides those of the
#: catalogue definitions): total-field magnetics, gamma-ray channels, gravity, EM, elevation.
_GEOPHYSICS_BANDS = frozenset(
    {
        "mag_tmi", "mag_rtp", "k", "eth", "eu", "tc", "gravity", "gravity_bouguer",
        "gravity_free_air", "aem_inphase", "aem_quadrature", "aem_ratio", "aem_resistivity",
        "aem_conductivity", "elevation", "dem",
    }
)


@dataclass(frozen=True)
class EvidenceFunction:
    """One entry of :data:`EVIDENCE_FUNCTIONS`."""

    name: str
    func: Callable[..., xr.DataArray]
    input: InputKind
    params: frozenset[str]
    required: frozenset[str]
    run_time: frozenset[str] = frozenset()


def _entry(func: Callable[..., xr.DataArray], kind: InputKind, run_time: frozenset[str] = frozenset()) -> EvidenceFunction:
    sig = inspect.signature(func)
    params, required = set(), set()
    for p in sig.parameters.values():
        if p.name in {"name", "like"} or p.kind is not inspect.Parameter.KEYWORD_ONLY:
            # band_ratio's numerator/denominator are positional-or-keyword: allow them by name
            if func is ev.band_ratio and p.name in {"numerator", "denominator"}:
                params.add(p.name)
                required.add(p.name)
            continue
        params.add(p.name)
        if p.default is inspect.Parameter.empty and p.name not in run_time:
            required.add(p.name)
    return EvidenceFunction(func.__name__, func, kind, frozenset(params), frozenset(required), run_time)


_GRID = (
    ev.analytic_signal, ev.derivative_easting, ev.derivative_northing, ev.tilt_derivative,
    ev.total_horizontal_gradient, ev.upward_continuation, ev.vertical_derivative, ev.slope,
    ev.aspect, ev.hillshade,
)
_DATASET = (
    ev.band_ratio, ev.clay_hydroxyl, ev.ferric_iron, ev.ferric_oxides, ev.ferrous_iron, ev.gossan,
    ev.ndvi, ev.vegetation_mask, ev.aster_aloh_group_composition, ev.aster_aloh_group_content,
    ev.aster_feoh_group_content, ev.aster_ferric_oxide_composition, ev.aster_ferric_oxide_content,
    ev.aster_ferrous_iron_index, ev.aster_green_vegetation, ev.aster_gypsum_index,
    ev.aster_kaolin_group_index, ev.aster_mgoh_group_composition, ev.aster_mgoh_group_content,
    ev.aster_opaque_index, ev.aster_quartz_index, ev.aster_silica_index,
)
# A new public evidence function becomes usable in recipes by adding it to the tuple of its input.
_PAIR = (ev.radiometric_ratio, ev.potassium_anomaly)
_FEATURES = (ev.distance_to_features, ev.line_density, ev.categorical_raster, ev.geochem_anomaly)


def _table() -> Mapping[str, EvidenceFunction]:
    entries = [_entry(ev.reduction_to_pole, "grid", frozenset({"inclination", "declination"}))]
    entries += [_entry(f, "grid") for f in _GRID]
    entries += [_entry(f, "dataset") for f in _DATASET]
    entries += [_entry(f, "grid_pair") for f in _PAIR]
    entries += [_entry(f, "features") for f in _FEATURES]
    return MappingProxyType({e.name: e for e in sorted(entries, key=lambda e: e.name)})


#: The frozen table of evidence functions a recipe's steps resolve through (name → entry).
EVIDENCE_FUNCTIONS: Mapping[str, EvidenceFunction] = _table()


@functools.cache
def known_band_names() -> frozenset[str]:
    """Every band name a recipe may start from: the common names of all catalogue definitions
    (``catalogs/*.toml``, bands and ingest names), the STAC ``eo`` common names, and the usual
    geophysical bands (``mag_tmi``, ``k``, ``eth``, ``eu``, ``gravity``, ``elevation``...)."""
    from geosurvey import catalogs

    names = set(catalogs.EO_COMMON_NAMES) | _GEOPHYSICS_BANDS
    for source in catalogs.list_sources():
        try:
            definition = catalogs.get_source(source)
        except Exception:
            continue
        for spec in definition.collections.values():
            names.update(spec.bands.values())
        names.update(info.common_name for info in definition.ingest_bands.values())
    return frozenset(names)


def check_step(fn: str, params: Mapping[str, Any], *, first: bool, source: Any) -> EvidenceFunction:
    """Check one step of a chain against :data:`EVIDENCE_FUNCTIONS` (used when parsing a recipe).

    Raises
    ------
    RecipeError
        For an unknown function, a parameter it does not take, a missing required parameter, or a
        function whose input does not fit its place in the chain.
    """
    entry = EVIDENCE_FUNCTIONS.get(fn)
    if entry is None:
        raise RecipeError(
            f"unknown function {fn!r}; recipe steps use these geosurvey.evidence functions: "
            f"{', '.join(EVIDENCE_FUNCTIONS)}"
        )
    unknown = sorted(set(params) - entry.params)
    if unknown:
        raise RecipeError(
            f"{fn} takes no parameter(s) {', '.join(map(repr, unknown))}; it takes: "
            f"{', '.join(sorted(entry.params)) or 'none'}"
        )
    missing = sorted(entry.required - set(params))
    if missing:
        raise RecipeError(f"{fn} needs parameter(s) {', '.join(missing)}")
    expected: tuple[str, ...]
    if not first:
        expected = ("grid",)
    else:
        expected = {"band": ("grid",), "bands": ("dataset", "grid_pair"), "features": ("features",)}[
            source.kind
        ]
    if entry.input not in expected:
        where = "after another step" if not first else f"as the first step on {source.describe()}"
        raise RecipeError(f"{fn} takes {entry.input.replace('_', ' ')} input and cannot be used {where}")
    if first and entry.input == "grid_pair" and len(source.names) != 2:
        raise RecipeError(f"{fn} takes exactly two bands (numerator first), got {list(source.names)}")
    if entry.name == "band_ratio":
        for key in ("numerator", "denominator"):
            if params.get(key) not in source.names:
                raise RecipeError(f"band_ratio's {key} {params.get(key)!r} must be one of the bands {list(source.names)}")
    return entry


@dataclass(frozen=True)
class EvidenceContext:
    """Values a run resolves for the area and hands to :func:`build_evidence`.

    Parameters
    ----------
    inclination, declination
        The geomagnetic field direction in degrees (inclination positive down, declination east
        of north) for ``reduction_to_pole`` steps that do not give their own; ``None`` when no
        step needs it.
    """

    inclination: float | None = None
    declination: float | None = None

    def run_time_value(self, name: str) -> Any:
        """The context's value for a run-time parameter (``None`` when it has none)."""
        return getattr(self, name, None)


def _first_input(spec: Any, ds: xr.Dataset, features: Mapping[str, gpd.GeoDataFrame], kind: InputKind, recipe_source: str) -> tuple[Any, ...]:
    where = f"recipe {recipe_source}: layer {spec.layer!r}"
    if spec.source.kind == "features":
        name = spec.source.names[0]
        if name not in features:
            raise InputError(
                f"{where} is built from the features {name!r}, which were not given; pass them "
                f"as features={{'{name}': <GeoDataFrame or file>}} (given: {sorted(features) or 'none'})"
            )
        return (features[name],)
    missing = [b for b in spec.source.names if b not in ds.data_vars]
    if missing:
        raise BandError(
            f"{where} needs band(s) {missing} that the loaded data do not have (it has "
            f"{sorted(map(str, ds.data_vars))}); add a source whose catalogue provides them"
        )
    if kind == "grid":
        return (ds[spec.source.names[0]],)
    if kind == "grid_pair":
        return tuple(ds[b] for b in spec.source.names)
    return (ds[list(spec.source.names)],)


def build_layer(spec: Any, ds: xr.Dataset, *, features: Mapping[str, gpd.GeoDataFrame], context: EvidenceContext, recipe_source: str = "") -> xr.DataArray:
    """Build one evidence layer from its recipe entry (lazy); see :func:`build_evidence`."""
    # the analysis grid features are rasterised on: a band (its chunks are reused) or the GeoBox
    like = next(iter(ds.data_vars.values())) if ds.data_vars else ds.odc.geobox
    out: Any = None
    if not spec.steps:  # the band as it is
        out = _first_input(spec, ds, features, "grid", recipe_source)[0]
    for i, step in enumerate(spec.steps):
        entry = EVIDENCE_FUNCTIONS[step.fn]
        kwargs = dict(step.params.to_dict())
        for name in sorted(entry.run_time):
            if name not in kwargs:
                value = context.run_time_value(name)
                if value is None:
                    raise InputError(
                        f"recipe {recipe_source}: layer {spec.layer!r}, step {step.fn} needs "
                        f"{name}; give it in the step, or let the run resolve it (IGRF for the "
                        "area and survey date)"
                    )
                kwargs[name] = value
        if i == 0:
            args = _first_input(spec, ds, features, entry.input, recipe_source)
        else:
            args = (out,)
        if entry.input == "features":
            if like is None:
                raise InputError(f"recipe {recipe_source}: layer {spec.layer!r} needs a grid to rasterise on")
            kwargs["like"] = like
        out = entry.func(*args, **kwargs)
    out = out.rename(spec.layer)
    check_layer_units(out.attrs.get("units"), spec.units, layer=spec.layer, recipe=recipe_source)
    return out


def build_evidence(
    ds: xr.Dataset,
    recipe: Any,
    *,
    features: Mapping[str, gpd.GeoDataFrame] | None = None,
    context: EvidenceContext | None = None,
) -> dict[str, xr.DataArray]:
    """The evidence layers of a recipe, built lazily from a loaded Dataset and vector features.

    Parameters
    ----------
    ds
        The bands on the area's grid (from :func:`geosurvey.catalogs.load`), Dask-backed.
    recipe
        A :class:`~geosurvey.prospectivity.Recipe`: each evidence entry's chain is applied to
        its source.
    features
        Vector features by the names the recipe's ``features = "..."`` sources use (any CRS;
        reprojected onto the grid by the evidence functions).
    context
        Run-time values (the geomagnetic field direction); see :class:`EvidenceContext`.

    Returns
    -------
    dict of str to xarray.DataArray
        One lazy layer per evidence entry, in recipe order, named after it, each with the units
        the recipe declares (checked: a layer in other units is refused) and its history.

    Raises
    ------
    BandError
        If a band the recipe needs is not in ``ds``.
    geosurvey.units.UnitsError
        If a layer's units are not the recipe's.
    InputError
        If features are missing, or a run-time value is needed but not resolved.
    """
    features = dict(features or {})
    context = context or EvidenceContext()
    return {
        spec.layer: build_layer(spec, ds, features=features, context=context, recipe_source=recipe.source or recipe.id)
        for spec in recipe.evidence
    }
