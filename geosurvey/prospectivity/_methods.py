"""Scoring methods: the one frozen table a recipe's ``method`` dispatches through.

Each :class:`Method` says which per-layer table its recipes carry (``[evidence.membership]`` for
knowledge-driven fuzzy methods, ``[evidence.weights]`` for weights of evidence, none for models),
parses its ``[scoring]`` table, and scores the evidence layers into a :class:`Scored`. A new method is
one module of its own plus one entry in :data:`METHODS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import geopandas as gpd
import xarray as xr

from geosurvey.errors import BandError, RecipeError
from geosurvey.grid import check_same_grid
from geosurvey.prospectivity._fuzzy import (
    fuzzy_and,
    fuzzy_gamma,
    fuzzy_or,
    fuzzy_product,
    fuzzy_sum,
    membership,
)
from geosurvey.prospectivity._model_method import parse_model_scoring, score_model  # issue 11
from geosurvey.prospectivity._recipe import Params, Recipe
from geosurvey.prospectivity._woe import (  # weights of evidence (issue 10)
    parse_weights_evidence,
    parse_weights_scoring,
    score_weights_of_evidence,
)
from geosurvey.units import check_layer_units

__all__ = ["METHODS", "Method", "Scored", "memberships", "score", "score_layers"]


@dataclass(frozen=True)
class Scored:
    """What a scoring method returns.

    Parameters
    ----------
    score
        The prospectivity score (dimensionless, higher is more prospective), lazy.
    layers
        Further rasters the method makes, by name (e.g. ``"uncertainty"``, ``"posterior_std"``,
        or the memberships of a fuzzy method), written by ``run`` as COGs beside the score.
    report
        JSON-able, method-specific results (weights tables, cross-validation scores...).
    """

    score: xr.DataArray
    layers: Mapping[str, xr.DataArray] = field(default_factory=dict)
    report: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """One scoring method (an entry of :data:`METHODS`)."""

    name: str
    evidence_table: Literal["membership", "weights"] | None
    parse_scoring: Callable[[Params], Params]
    score: Callable[..., Scored]
    parse_evidence: Callable[[Params, str], Params] | None = None
    needs_occurrences: bool = False


def _check_layers(evidence: Mapping[str, xr.DataArray], recipe: Recipe) -> list[xr.DataArray]:
    missing = [spec.layer for spec in recipe.evidence if spec.layer not in evidence]
    if missing:
        raise BandError(
            f"recipe {recipe.source or recipe.id} needs evidence layers {missing} that were not "
            f"computed; available: {sorted(evidence)}"
        )
    layers = [evidence[spec.layer] for spec in recipe.evidence]
    check_same_grid(layers, what=f"recipe {recipe.id}", names=list(recipe.layers))
    for spec, layer in zip(recipe.evidence, layers, strict=True):
        check_layer_units(
            layer.attrs.get("units"), spec.units, layer=spec.layer, recipe=recipe.source or recipe.id
        )
    return layers


def memberships(evidence: Mapping[str, xr.DataArray], recipe: Recipe) -> dict[str, xr.DataArray]:
    """The fuzzy membership of each evidence layer of a knowledge-driven recipe (lazy).

    Each layer is checked first: all on one grid, each in the units the recipe declares.
    """
    layers = _check_layers(evidence, recipe)
    out = {}
    for spec, layer in zip(recipe.evidence, layers, strict=True):
        if spec.membership is None:
            raise RecipeError(f"recipe {recipe.source or recipe.id}: layer {spec.layer!r} has no membership")
        out[spec.layer] = membership(
            layer, kind=spec.membership.kind, **spec.membership.params.to_dict()  # type: ignore[arg-type]
        )
    return out


def _parse_gamma(params: Params) -> Params:
    unknown = sorted(set(params) - {"gamma"})
    if unknown:
        raise RecipeError(f"unknown key(s) {unknown}; fuzzy-gamma takes: gamma")
    gamma = params.get("gamma", 0.8)
    if isinstance(gamma, bool) or not isinstance(gamma, int | float) or not 0 <= gamma <= 1:
        raise RecipeError(f"gamma must be a number in [0, 1], got {gamma!r}")
    return Params({"gamma": float(gamma)})


def _parse_none(params: Params) -> Params:
    if params:
        raise RecipeError(f"unknown key(s) {sorted(params)}; this method takes no parameters")
    return params


def _fuzzy(overlay: Callable[[list[xr.DataArray]], xr.DataArray]) -> Callable[..., Scored]:
    def scorer(evidence: Mapping[str, xr.DataArray], recipe: Recipe, *, occurrences: gpd.GeoDataFrame | None = None) -> Scored:
        mus = memberships(evidence, recipe)
        out = overlay(list(mus.values()))
        return Scored(out.rename("score").assign_attrs(recipe=recipe.id))

    return scorer


def _score_gamma(
    evidence: Mapping[str, xr.DataArray], recipe: Recipe, *, occurrences: gpd.GeoDataFrame | None = None
) -> Scored:
    gamma = recipe.scoring["gamma"]
    return _fuzzy(lambda mus: fuzzy_gamma(mus, gamma=gamma))(evidence, recipe)


def _checked(scorer: Callable[..., Scored]) -> Callable[..., Scored]:
    """A scorer that first checks the recipe's layers (present, one grid, declared units)."""

    def checked(evidence: Mapping[str, xr.DataArray], recipe: Recipe, *, occurrences: gpd.GeoDataFrame | None = None) -> Scored:
        _check_layers(evidence, recipe)
        return scorer(evidence, recipe, occurrences=occurrences)

    return checked


#: Scoring methods by the name a recipe's ``method`` gives.
METHODS: Mapping[str, Method] = MappingProxyType(
    {
        "fuzzy-gamma": Method("fuzzy-gamma", "membership", _parse_gamma, _score_gamma),
        "fuzzy-and": Method("fuzzy-and", "membership", _parse_none, _fuzzy(fuzzy_and)),
        "fuzzy-or": Method("fuzzy-or", "membership", _parse_none, _fuzzy(fuzzy_or)),
        "fuzzy-product": Method("fuzzy-product", "membership", _parse_none, _fuzzy(fuzzy_product)),
        "fuzzy-sum": Method("fuzzy-sum", "membership", _parse_none, _fuzzy(fuzzy_sum)),
        "weights-of-evidence": Method(  # issue 10
            "weights-of-evidence", "weights", parse_weights_scoring,
            _checked(score_weights_of_evidence), parse_evidence=parse_weights_evidence,
            needs_occurrences=True,
        ),
        "model": Method(  # issue 11: a scikit-learn classifier on the evidence stack
            "model", None, parse_model_scoring, _checked(score_model), needs_occurrences=True,
        ),
    }
)


def score_layers(
    evidence: Mapping[str, xr.DataArray],
    recipe: Recipe,
    *,
    occurrences: gpd.GeoDataFrame | None = None,
) -> Scored:
    """Score evidence layers with the recipe's method (the dispatch ``run`` uses).

    Parameters
    ----------
    evidence
        Evidence layers by name, on one grid, in the units the recipe declares.
    recipe
        The recipe; its ``method`` picks the scorer from :data:`METHODS`.
    occurrences
        Training occurrences, for data-driven methods (ignored by knowledge-driven ones).
    """
    method = METHODS[recipe.method]
    if method.needs_occurrences and (occurrences is None or len(occurrences) == 0):
        raise RecipeError(
            f"recipe {recipe.source or recipe.id}: method {method.name!r} is data-driven and "
            "needs training occurrences"
        )
    return method.score(evidence, recipe, occurrences=occurrences)


def score(evidence: Mapping[str, xr.DataArray], recipe: Recipe) -> xr.DataArray:
    """Score evidence layers with a knowledge-driven recipe: memberships, then its overlay.

    Parameters
    ----------
    evidence
        Evidence layers by name, all on one grid (lazy Dask arrays stay lazy), each in the units
        the recipe declares.
    recipe
        The recipe naming the layers, their memberships and the overlay.

    Returns
    -------
    xarray.DataArray
        The prospectivity score in [0, 1] (dimensionless), named ``"score"``.
    """
    return score_layers(evidence, recipe).score
