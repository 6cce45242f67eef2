"""``method = "model"``: a data-driven recipe (a scikit-learn classifier on the evidence stack).

The recipe's ``[scoring]`` table names everything a run needs, and every seed, so the manifest
reproduces the run bit for bit::

    [scoring]
    estimator = "logistic-regression"   # logistic-regression | random-forest |
                                        # hist-gradient-boosting | extra-trees
    scaling = "quantile"                # none | standard | quantile (fitted on training cells)
    seed = 0                            # every random step derives from it
    [scoring.params]                    # the estimator's own keyword arguments
    C = 1.0
    [scoring.sampling]
    n_background = 3000                 # background cells
    buffer = 0.0                        # m: no background this close to an occurrence
    class_weight = "balanced"           # balanced | none
    pu_bags = 0                         # > 0: bagging PU learning with this many bags
    [scoring.cv]
    scheme = "block"                    # block | random | loo
    n_splits = 5
    block_size = 10000.0                # m
    buffer = 0.0                        # m (loo)
    compare_random = true               # also report random k-fold beside it
    importance = true                   # permutation importance inside the folds
    [scoring.ensemble]
    members = 20                        # bootstrap x background draws; >= 2 gives uncertainty
    [scoring.explain]
    contributions = "saabas"            # saabas | treeshap | none (tree models only)
    top = 3                             # contribution rasters written for the top layers
    sensitivity_draws = 0               # > 0: negative-sampling sensitivity report

What a run gets (:class:`~geosurvey.prospectivity.Scored`): the score (the ensemble mean, or the
single model when ``members`` < 2), and as extra rasters ``uncertainty`` (ensemble standard
deviation), ``data_availability`` (share of evidence present), ``risk_return`` (classes 1–4) and
``contribution_<layer>`` for the top layers of a tree model. The report holds the cross-validated
skill on held-out occurrences (block CV and random k-fold), the permutation importance, the seeds
and, if asked, the sensitivity to the background draw.

The cross-validation validates the model fitted on one background draw (the procedure), not the
ensemble mean itself (that would cost ``members`` times more); the ensemble mean is shown beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import dask
import geopandas as gpd
import numpy as np
import xarray as xr
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import QuantileTransformer, StandardScaler

from geosurvey.errors import InputError, RecipeError
from geosurvey.prospectivity._ensemble import (
    RISK_RETURN_CLASSES,
    fit_ensemble,
    risk_return_classes,
    risk_return_thresholds,
)
from geosurvey.prospectivity._explain import (
    drivers_table,
    target_drivers,
    top_layers,
    tree_contributions,
)
from geosurvey.prospectivity._models import (
    RasterClassifier,
    data_availability,
    sample_stack,
    stack_layers,
)
from geosurvey.prospectivity._recipe import Params, Recipe
from geosurvey.prospectivity._sampling import occurrence_cells, pu_bagging, training_sample
from geosurvey.prospectivity._targets import targets
from geosurvey.prospectivity._validation import (
    CVSpec,
    cross_validate,
    negative_sampling_sensitivity,
)

__all__ = ["ESTIMATORS", "build_model", "parse_model_scoring", "score_model"]

#: Estimators a recipe may name, and the scikit-learn class each stands for.
ESTIMATORS: Mapping[str, type[BaseEstimator]] = {
    "logistic-regression": LogisticRegression,
    "random-forest": RandomForestClassifier,
    "extra-trees": ExtraTreesClassifier,
    "hist-gradient-boosting": HistGradientBoostingClassifier,
}

_SCALING = ("none", "standard", "quantile")
_TOP_KEYS = {"estimator", "scaling", "seed", "params", "sampling", "cv", "ensemble", "explain"}
_SECTIONS: dict[str, dict[str, Any]] = {
    "sampling": {"n_background": 3000, "buffer": 0.0, "class_weight": "balanced", "pu_bags": 0},
    "cv": {"scheme": "block", "n_splits": 5, "block_size": 10_000.0, "buffer": 0.0,
           "compare_random": True, "importance": True},
    "ensemble": {"members": 20},
    "explain": {"contributions": "saabas", "top": 3, "sensitivity_draws": 0},
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _int(section: str, key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RecipeError(f"[scoring.{section}] {key} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _metres(section: str, key: str, value: Any, *, positive: bool = False) -> float:
    if not _is_number(value) or value < 0 or (positive and value == 0):
        raise RecipeError(
            f"[scoring.{section}] {key} must be a distance {'> 0' if positive else '>= 0'} in metres, "
            f"got {value!r}"
        )
    return float(value)


def _bool(section: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise RecipeError(f"[scoring.{section}] {key} must be true or false, got {value!r}")
    return value


def parse_model_scoring(params: Params) -> Params:
    """Check a ``method = "model"`` recipe's ``[scoring]`` table and fill every default.

    The result names every choice (and the seed) explicitly, so the recipe text in a manifest
    and the resolved parameters say the same thing.

    Raises
    ------
    RecipeError
        Unknown keys, an unknown estimator, estimator parameters scikit-learn refuses, or values
        out of range, each naming the key.
    """
    unknown = sorted(set(params) - _TOP_KEYS)
    if unknown:
        raise RecipeError(f"unknown key(s) {unknown}; method 'model' takes: {', '.join(sorted(_TOP_KEYS))}")
    name = params.get("estimator", "logistic-regression")
    if name not in ESTIMATORS:
        raise RecipeError(f"unknown estimator {name!r}; use one of {', '.join(ESTIMATORS)}")
    scaling = params.get("scaling", "quantile" if name == "logistic-regression" else "none")
    if scaling not in _SCALING:
        raise RecipeError(f"scaling must be one of {', '.join(_SCALING)}, got {scaling!r}")
    seed = _int("", "seed", params.get("seed", 0), 0)
    est_params = params.get("params", Params())
    if not isinstance(est_params, Mapping):
        raise RecipeError("[scoring.params] must be a table of the estimator's keyword arguments")
    est_params = est_params.to_dict() if isinstance(est_params, Params) else dict(est_params)
    valid = ESTIMATORS[name]().get_params()
    bad = sorted(set(est_params) - set(valid))
    if bad:
        raise RecipeError(f"[scoring.params] {bad} are not parameters of {name} "
                          f"({ESTIMATORS[name].__name__}); it takes {', '.join(sorted(valid))}")
    if "random_state" in est_params:
        raise RecipeError("[scoring.params] random_state is set from [scoring] seed; remove it")
    out: dict[str, Any] = {"estimator": name, "scaling": scaling, "seed": seed, "params": est_params}
    for section, defaults in _SECTIONS.items():
        given = params.get(section, Params())
        if not isinstance(given, Mapping):
            raise RecipeError(f"[scoring.{section}] must be a table")
        extra = sorted(set(given) - set(defaults))
        if extra:
            raise RecipeError(f"unknown key(s) {extra} in [scoring.{section}]; keys: {', '.join(defaults)}")
        out[section] = {**defaults, **dict(given)}
    s = out["sampling"]
    s["n_background"] = _int("sampling", "n_background", s["n_background"], 10)
    s["buffer"] = _metres("sampling", "buffer", s["buffer"])
    s["pu_bags"] = _int("sampling", "pu_bags", s["pu_bags"], 0)
    if s["class_weight"] not in ("balanced", "none"):
        raise RecipeError(f"[scoring.sampling] class_weight must be 'balanced' or 'none', got {s['class_weight']!r}")
    c = out["cv"]
    if c["scheme"] not in ("block", "random", "loo"):
        raise RecipeError(f"[scoring.cv] scheme must be block, random or loo, got {c['scheme']!r}")
    c["n_splits"] = _int("cv", "n_splits", c["n_splits"], 2)
    c["block_size"] = _metres("cv", "block_size", c["block_size"], positive=True)
    c["buffer"] = _metres("cv", "buffer", c["buffer"])
    c["compare_random"] = _bool("cv", "compare_random", c["compare_random"])
    c["importance"] = _bool("cv", "importance", c["importance"])
    out["ensemble"]["members"] = _int("ensemble", "members", out["ensemble"]["members"], 0)
    e = out["explain"]
    if e["contributions"] not in ("saabas", "treeshap", "none"):
        raise RecipeError(f"[scoring.explain] contributions must be saabas, treeshap or none, got {e['contributions']!r}")
    e["top"] = _int("explain", "top", e["top"], 1)
    e["sensitivity_draws"] = _int("explain", "sensitivity_draws", e["sensitivity_draws"], 0)
    if 0 < e["sensitivity_draws"] < 2:
        raise RecipeError("[scoring.explain] sensitivity_draws must be 0 or at least 2")
    # scikit-learn's own checks of the parameters, on a tiny made-up sample that no default
    # estimator warns about. What it does warn about is the recipe's own parameters (a deprecated
    # one, say), which the real fit repeats: it is not silenced, as warnings.catch_warnings
    # swaps the process-wide filters, and a batch's areas parse recipes in threads that undo
    # each other's swap (leaving "ignore" on for the whole process).
    try:
        probe = ESTIMATORS[name](**est_params)
        probe.fit(np.tile([[0.0], [1.0]], (10, 1)), np.tile([0, 1], 10))
    except (TypeError, ValueError) as exc:
        raise RecipeError(f"[scoring.params] refused by {name}: {exc}") from None
    return Params(out)


def build_model(scoring: Params) -> RasterClassifier:
    """The :class:`RasterClassifier` a parsed ``[scoring]`` table describes (seeded)."""
    cls = ESTIMATORS[scoring["estimator"]]
    params = dict(scoring["params"].to_dict() if isinstance(scoring["params"], Params) else scoring["params"])
    if "random_state" in cls().get_params():
        params["random_state"] = scoring["seed"]
    estimator: BaseEstimator = cls(**params)
    bags = scoring["sampling"]["pu_bags"]
    if bags:
        estimator = pu_bagging(estimator, n_bags=bags, bag_size=1.0, seed=scoring["seed"])
    scaling = scoring["scaling"]
    if scaling == "standard":
        estimator = make_pipeline(StandardScaler(), estimator)
    elif scaling == "quantile":
        estimator = make_pipeline(QuantileTransformer(n_quantiles=200), estimator)
    return RasterClassifier(estimator, missing="nan")


def _cv_spec(cv: Mapping[str, Any], seed: int, scheme: str | None = None) -> CVSpec:
    return CVSpec(scheme=scheme or cv["scheme"], n_splits=cv["n_splits"],  # type: ignore[arg-type]
                  block_size=cv["block_size"], buffer=cv["buffer"], seed=seed)


def _layer_file_name(layer: str) -> str:
    return "contribution_" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in layer)


def score_model(
    evidence: Mapping[str, xr.DataArray],
    recipe: Recipe,
    *,
    occurrences: gpd.GeoDataFrame | None = None,
) -> Any:
    """Score a ``method = "model"`` recipe: sample, cross-validate, fit the ensemble, explain.

    Computes, in this order (each a declared compute): the data-availability mask (to draw
    background only where every layer has data), the sampled cells (one compute for the training
    sample, one for the ensemble's draws), one full-grid prediction per CV fold (to rank the
    held-out occurrences), the ensemble's mean and standard deviation (kept in memory, 8 bytes a
    cell, for the risk–return thresholds and the run's outputs) and the top contribution layers;
    the contribution rasters returned stay lazy.

    Returns
    -------
    geosurvey.prospectivity.Scored
    """
    from geosurvey.prospectivity._methods import Scored

    if occurrences is None or len(occurrences) == 0:
        raise InputError(f"recipe {recipe.id}: method 'model' needs training occurrences")
    scoring = recipe.scoring
    seed = scoring["seed"]
    sampling, cv, ens, explain = (scoring[k] for k in ("sampling", "cv", "ensemble", "explain"))
    stack = stack_layers({spec.layer: evidence[spec.layer] for spec in recipe.evidence})
    availability = data_availability(stack)
    (valid,) = dask.compute(availability.data == 1)
    like = stack.isel(layer=0)
    positives = occurrence_cells(like, occurrences)
    class_weight = None if sampling["class_weight"] == "none" else "balanced"
    sample = training_sample(like, positives, n_background=sampling["n_background"],
                             buffer=sampling["buffer"], valid=np.asarray(valid),
                             class_weight=class_weight, seed=seed)
    values = sample_stack(stack, sample)
    model = build_model(scoring)
    report: dict[str, Any] = {
        "estimator": scoring["estimator"], "params": scoring["params"].to_dict()
        if isinstance(scoring["params"], Params) else dict(scoring["params"]),
        "scaling": scoring["scaling"], "seed": seed, "layers": list(stack["layer"].values),
        "n_positive": sample.n_positive, "n_background": sample.n_background,
        "sampling": sampling.to_dict() if isinstance(sampling, Params) else dict(sampling),
        "pu_learning": "pulearn.BaggingPuClassifier" if sampling["pu_bags"] else None,
    }
    cv_report: dict[str, Any] = {}
    schemes = [cv["scheme"]] + (["random"] if cv["compare_random"] and cv["scheme"] != "random" else [])
    for scheme in schemes:
        try:
            result = cross_validate(model, stack, sample, spec=_cv_spec(cv, seed, scheme), values=values,
                                    importance=cv["importance"] and scheme == cv["scheme"])
        except InputError as exc:  # e.g. too few occurrences for the folds: said in the report
            cv_report[scheme] = {"error": str(exc)}
            continue
        cv_report[scheme] = result.to_dict()
    report["cross_validation"] = cv_report
    layers: dict[str, xr.DataArray] = {"data_availability": availability}
    if ens["members"] >= 2:
        ensemble = fit_ensemble(model, stack, positives, n_members=ens["members"],
                                n_background=sampling["n_background"], buffer=sampling["buffer"],
                                valid=np.asarray(valid), class_weight=class_weight, seed=seed)
        # kept (8 bytes a cell): the thresholds, the run's COGs and its evaluation reuse them
        score, uncertainty = dask.persist(*ensemble.predict_raster(stack))
        s_thr, u_thr = risk_return_thresholds(score, uncertainty)
        layers["uncertainty"] = uncertainty
        layers["risk_return"] = risk_return_classes(score, uncertainty, score_threshold=s_thr,
                                                    uncertainty_threshold=u_thr)
        report["ensemble"] = {"members": ens["members"], "seeds": list(ensemble.seeds),
                              "bootstrap": "occurrences with replacement x one background draw each"}
        report["risk_return"] = {"score_threshold": s_thr, "uncertainty_threshold": u_thr,
                                 "score_quantile": 0.9,
                                 "uncertainty_quantile": "0.5 among the top 10 % of scores",
                                 "classes": {str(k): v for k, v in RISK_RETURN_CLASSES.items()}}
        single = None
    else:
        # cells with missing evidence: counted below
        single = model.fit_scored(values, sample.labels, sample_weight=sample.weight)
        single.layers_ = tuple(str(v) for v in stack["layer"].values)
        score = single.predict_raster(stack)
    if explain["contributions"] != "none" and scoring["estimator"] != "logistic-regression" \
            and not sampling["pu_bags"] and scoring["scaling"] == "none":
        if single is None:
            single = build_model(scoring).fit_scored(values, sample.labels, sample_weight=sample.weight)
            single.layers_ = tuple(str(v) for v in stack["layer"].values)
        contrib = tree_contributions(single, stack, method=explain["contributions"])
        top = top_layers(contrib, n=min(explain["top"], stack.sizes["layer"]))
        for name in top:
            layer = contrib.sel(layer=name, drop=True)
            layers[_layer_file_name(name)] = layer.rename(_layer_file_name(name)).assign_attrs(
                long_name=f"contribution of {name} to the model output (SHAP, {explain['contributions']})")
        contrib = contrib.persist()
        try:
            found = targets(single.predict_raster(stack), top=0.02)
            drivers = drivers_table(target_drivers(found.table.head(20), contrib, top=explain["top"]))
        except InputError as exc:  # e.g. a flat score: no target patch; said in the report
            drivers = [{"error": str(exc)}]
        report["contributions"] = {"method": explain["contributions"], "top_layers": top,
                                   "units": contrib.attrs["units"],
                                   "expected_value": contrib.attrs["expected_value"],
                                   "model": "the single model on the training sample",
                                   "targets": "the top 2 % of that model's score, best 20 by mean",
                                   "target_drivers": drivers}
    if explain["sensitivity_draws"]:
        sens = negative_sampling_sensitivity(
            model, stack, positives, n_draws=explain["sensitivity_draws"],
            n_background=sampling["n_background"], buffer=sampling["buffer"],
            valid=np.asarray(valid), class_weight=class_weight, seed=seed + 1000)
        report["negative_sampling_sensitivity"] = sens.to_dict()
    score = score.rename("score").assign_attrs(recipe=recipe.id)
    return Scored(score, layers=layers, report=report)
