"""Mineral-system recipes: which evidence layers, which memberships, which overlay.

A recipe is a small TOML file parsed once into frozen dataclasses::

    id = "demo-iocg"
    title = "IOCG (demo)"
    method = "fuzzy-gamma"
    gamma = 0.8

    [[evidence]]
    layer = "tilt"                 # name of an evidence layer
    kind = "sigmoid"               # see geosurvey.prospectivity.membership
    midpoint = 0.0
    spread = 0.25
    why = "positive tilt lies over magnetic sources"

Recipes shipped with geosurvey live in ``geosurvey/data/recipes/``; :func:`load_recipe` takes a
name of one of those or a path.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import xarray as xr

from geosurvey.errors import BandError, MissingInputError, RecipeError
from geosurvey.prospectivity._fuzzy import MembershipKind, fuzzy_gamma, membership

__all__ = ["EvidenceSpec", "Recipe", "load_recipe", "score"]

Method = Literal["fuzzy-gamma"]
_MEMBERSHIP_PARAMS = ("low", "high", "midpoint", "spread", "increasing")


@dataclass(frozen=True)
class EvidenceSpec:
    """One evidence layer of a recipe and its fuzzy membership."""

    layer: str
    kind: MembershipKind
    params: Mapping[str, float | bool] = field(default_factory=dict)
    why: str = ""


@dataclass(frozen=True)
class Recipe:
    """A mineral-system recipe (see the module docstring for the file format)."""

    id: str
    title: str
    evidence: tuple[EvidenceSpec, ...]
    method: Method = "fuzzy-gamma"
    gamma: float = 0.8
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The recipe as plain data (for manifests)."""
        return asdict(self)


def _parse(doc: Mapping[str, Any], source: str) -> Recipe:
    def fail(msg: str) -> RecipeError:
        return RecipeError(f"recipe {source}: {msg}")

    for key in ("id", "evidence"):
        if key not in doc:
            raise fail(f"missing required key {key!r}")
    method = doc.get("method", "fuzzy-gamma")
    if method not in get_args(Method):
        raise fail(f"unknown method {method!r}; use one of {', '.join(get_args(Method))}")
    specs = []
    for i, ev in enumerate(doc["evidence"]):
        if "layer" not in ev or "kind" not in ev:
            raise fail(f"evidence #{i + 1} needs 'layer' and 'kind'")
        if ev["kind"] not in get_args(MembershipKind):
            raise fail(f"evidence {ev['layer']!r}: unknown kind {ev['kind']!r}")
        unknown = set(ev) - {"layer", "kind", "why", *_MEMBERSHIP_PARAMS}
        if unknown:
            raise fail(f"evidence {ev['layer']!r}: unknown keys {sorted(unknown)}")
        params = {k: ev[k] for k in _MEMBERSHIP_PARAMS if k in ev}
        specs.append(EvidenceSpec(ev["layer"], ev["kind"], params, ev.get("why", "")))
    if not specs:
        raise fail("no evidence layers")
    gamma = float(doc.get("gamma", 0.8))
    if not 0 <= gamma <= 1:
        raise fail(f"gamma must be in [0, 1], got {gamma}")
    return Recipe(
        str(doc["id"]), str(doc.get("title", doc["id"])), tuple(specs), method, gamma, source
    )


def load_recipe(name_or_path: str | Path) -> Recipe:
    """Read a recipe: a path to a TOML file, or the name of a recipe shipped with geosurvey."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.exists():
            raise MissingInputError(f"recipe file {path} does not exist")
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        res = resources.files("geosurvey") / "data" / "recipes" / f"{name_or_path}.toml"
        if not res.is_file():
            shipped = sorted(
                p.name.removesuffix(".toml")
                for p in (resources.files("geosurvey") / "data" / "recipes").iterdir()
            )
            raise MissingInputError(
                f"no recipe named {name_or_path!r}; shipped recipes: {', '.join(shipped)}"
            )
        text, source = res.read_text(encoding="utf-8"), f"geosurvey:{name_or_path}"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"recipe {source} is not valid TOML: {exc}") from exc
    return _parse(doc, source)


def score(evidence: Mapping[str, xr.DataArray], recipe: Recipe) -> xr.DataArray:
    """Score evidence layers with a recipe: memberships, then the recipe's overlay.

    Parameters
    ----------
    evidence
        Evidence layers by name, all on one grid (lazy Dask arrays stay lazy).
    recipe
        The recipe naming the layers and their memberships.

    Returns
    -------
    xarray.DataArray
        The prospectivity score in [0, 1] (dimensionless), named ``"score"``.
    """
    missing = [spec.layer for spec in recipe.evidence if spec.layer not in evidence]
    if missing:
        raise BandError(
            f"recipe {recipe.id!r} needs evidence layers {missing} that were not computed; "
            f"available: {sorted(evidence)}"
        )
    memberships = [
        membership(evidence[spec.layer], kind=spec.kind, **spec.params)  # type: ignore[arg-type]
        for spec in recipe.evidence
    ]
    out = fuzzy_gamma(memberships, gamma=recipe.gamma)
    out.attrs["recipe"] = recipe.id
    return out
