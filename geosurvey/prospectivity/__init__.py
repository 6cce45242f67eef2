"""Prospectivity: from evidence layers to a score of where a mineral system is likely.

Knowledge-driven methods (fuzzy memberships and overlays) and mineral-system recipes that name the
evidence, memberships and overlay. Scores are dimensionless in [0, 1]; higher is more prospective;
NaN where any evidence is missing. A score ranks ground; it is not a probability.
"""

from geosurvey.prospectivity._fuzzy import (
    MembershipKind,
    fuzzy_and,
    fuzzy_gamma,
    fuzzy_or,
    fuzzy_product,
    fuzzy_sum,
    membership,
)
from geosurvey.prospectivity._recipe import EvidenceSpec, Recipe, load_recipe, score

__all__ = [
    "EvidenceSpec",
    "MembershipKind",
    "Recipe",
    "fuzzy_and",
    "fuzzy_gamma",
    "fuzzy_or",
    "fuzzy_product",
    "fuzzy_sum",
    "load_recipe",
    "membership",
    "score",
]
