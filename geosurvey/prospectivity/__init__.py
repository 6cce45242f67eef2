"""Prospectivity: from evidence layers to a score of where a mineral system is likely.

* Recipes (:func:`load_recipe`, :func:`parse_recipe`): TOML files that say how every evidence layer
  is made (a chain of :data:`EVIDENCE_FUNCTIONS` from catalogue bands or vector features), the
  units it must have, and how it is scored; :func:`build_evidence` builds their layers lazily.
* Scoring methods (:data:`METHODS`): knowledge-driven fuzzy memberships and overlays today; a
  recipe's ``method`` dispatches through :func:`score_layers`.

Scores are dimensionless in [0, 1]; higher is more prospective; NaN where any evidence is missing.
A score ranks ground; it is not a probability unless its method says so.
"""

from geosurvey.prospectivity._chain import (
    EVIDENCE_FUNCTIONS,
    EvidenceContext,
    EvidenceFunction,
    build_evidence,
    known_band_names,
)
from geosurvey.prospectivity._ensemble import (  # uncertainty (issue 11)
    RISK_RETURN_CLASSES,
    Ensemble,
    fit_ensemble,
    risk_return_classes,
    risk_return_thresholds,
)
from geosurvey.prospectivity._explain import (  # explanation (issue 11)
    ContributionMethod,
    target_drivers,
    top_layers,
    tree_contributions,
)
from geosurvey.prospectivity._fuzzy import (
    MEMBERSHIP_PARAMETERS,
    MembershipKind,
    check_membership,
    fuzzy_and,
    fuzzy_gamma,
    fuzzy_or,
    fuzzy_product,
    fuzzy_sum,
    membership,
)
from geosurvey.prospectivity._library import (  # the recipe library (issue 12)
    band_collections,
    recipe_library,
    recipes_for,
)
from geosurvey.prospectivity._methods import (
    METHODS,
    Method,
    Scored,
    memberships,
    score,
    score_layers,
)
from geosurvey.prospectivity._model_method import ESTIMATORS, build_model  # issue 11
from geosurvey.prospectivity._models import (  # data-driven models (issue 11)
    MissingPolicy,
    RasterClassifier,
    data_availability,
    sample_stack,
    stack_layers,
)
from geosurvey.prospectivity._recipe import (
    Criterion,
    EvidenceSpec,
    LayerSource,
    Membership,
    Params,
    Recipe,
    Step,
    load_recipe,
    parse_recipe,
    shipped_recipes,
)
from geosurvey.prospectivity._sampling import (  # training samples (issue 11)
    ClassWeight,
    TrainingSample,
    background_cells,
    occurrence_cells,
    pu_bagging,
    training_sample,
)
from geosurvey.prospectivity._targets import TargetRanking, Targets, targets  # issue 10
from geosurvey.prospectivity._validation import (  # spatial cross-validation (issue 11)
    CVResult,
    CVScheme,
    CVSpec,
    FoldScore,
    SensitivityReport,
    bootstrap_interval,
    cell_points,
    cross_validate,
    cv_splits,
    negative_sampling_sensitivity,
)
from geosurvey.prospectivity._woe import (  # weights of evidence (issue 10)
    BinaryEvidence,
    ConditionalIndependence,
    Posterior,
    WeightsOfEvidence,
    conditional_independence,
    generalise,
    pairwise_chi_square,
    posterior,
    weights_of_evidence,
)

__all__ = [
    "ESTIMATORS",
    "EVIDENCE_FUNCTIONS",
    "MEMBERSHIP_PARAMETERS",
    "METHODS",
    "RISK_RETURN_CLASSES",
    "BinaryEvidence",  # weights of evidence (issue 10)
    "CVResult",
    "CVScheme",
    "CVSpec",
    "ClassWeight",
    "ConditionalIndependence",  # weights of evidence (issue 10)
    "ContributionMethod",
    "Criterion",
    "Ensemble",
    "EvidenceContext",
    "EvidenceFunction",
    "EvidenceSpec",
    "FoldScore",
    "LayerSource",
    "Membership",
    "MembershipKind",
    "Method",
    "MissingPolicy",
    "Params",
    "Posterior",  # weights of evidence (issue 10)
    "RasterClassifier",
    "Recipe",
    "Scored",
    "SensitivityReport",
    "Step",
    "TargetRanking",
    "Targets",
    "TrainingSample",
    "WeightsOfEvidence",  # weights of evidence (issue 10)
    "background_cells",
    "band_collections",  # the recipe library (issue 12)
    "bootstrap_interval",
    "build_evidence",
    "build_model",
    "cell_points",
    "check_membership",
    "conditional_independence",  # weights of evidence (issue 10)
    "cross_validate",
    "cv_splits",
    "data_availability",
    "fit_ensemble",
    "fuzzy_and",
    "fuzzy_gamma",
    "fuzzy_or",
    "fuzzy_product",
    "fuzzy_sum",
    "generalise",  # weights of evidence (issue 10)
    "known_band_names",
    "load_recipe",
    "membership",
    "memberships",
    "negative_sampling_sensitivity",
    "occurrence_cells",
    "pairwise_chi_square",  # weights of evidence (issue 10)
    "parse_recipe",
    "posterior",  # weights of evidence (issue 10)
    "pu_bagging",
    "recipe_library",  # the recipe library (issue 12)
    "recipes_for",  # the recipe library (issue 12)
    "risk_return_classes",
    "risk_return_thresholds",
    "sample_stack",
    "score",
    "score_layers",
    "shipped_recipes",
    "stack_layers",
    "target_drivers",
    "targets",
    "top_layers",
    "training_sample",
    "tree_contributions",
    "weights_of_evidence",  # weights of evidence (issue 10)
]
