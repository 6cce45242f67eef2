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
from geosurvey.prospectivity._methods import (
    METHODS,
    Method,
    Scored,
    memberships,
    score,
    score_layers,
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

__all__ = [
    "EVIDENCE_FUNCTIONS",
    "MEMBERSHIP_PARAMETERS",
    "METHODS",
    "Criterion",
    "EvidenceContext",
    "EvidenceFunction",
    "EvidenceSpec",
    "LayerSource",
    "Membership",
    "MembershipKind",
    "Method",
    "Params",
    "Recipe",
    "Scored",
    "Step",
    "build_evidence",
    "check_membership",
    "fuzzy_and",
    "fuzzy_gamma",
    "fuzzy_or",
    "fuzzy_product",
    "fuzzy_sum",
    "known_band_names",
    "load_recipe",
    "membership",
    "memberships",
    "parse_recipe",
    "score",
    "score_layers",
    "shipped_recipes",
]
