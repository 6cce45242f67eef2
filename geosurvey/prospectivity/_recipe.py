"""Mineral-system recipes: how each evidence layer is made, its units, and how it is scored.

A recipe is a TOML file parsed once into frozen, hashable dataclasses (no plain dicts inside)::

    id = "demo-iocg"
    title = "IOCG mineral system (demo recipe)"
    method = "fuzzy-gamma"              # how the layers are combined (see METHODS)
    deposit_models = ["iocg"]           # codes of geosurvey/data/deposit_models.toml
    references = ["Bonham-Carter, G. F. (1994). Geographic Information Systems for Geoscientists."]

    [scoring]                           # the method's own parameters
    gamma = 0.8

    [inputs]                            # optional run defaults
    resolution = 100.0                  # metres
    survey_date = 2010-06-01            # date of the magnetic survey, for IGRF

    [[evidence]]
    layer = "tilt"                      # the layer's name
    units = "rad"                       # the units it must have (checked before scoring)
    band = "mag_tmi"                    # its source: band = "NAME", bands = [...] or features = "NAME"
    steps = [                           # the chain of public geosurvey.evidence functions
                                        # (none: a single band as it is)
      { fn = "reduction_to_pole" },     # inclination/declination resolved at run time (IGRF)
      { fn = "tilt_derivative" },
    ]
    why = "positive tilt lies over magnetite-rich bodies (IOCG source)"
    reference = "Miller & Singh (1994)"
    [evidence.membership]               # knowledge-driven methods
    kind = "sigmoid"
    midpoint = 0.0
    spread = 0.25

Sources: ``band = "NAME"`` gives the first step one band (a DataArray); ``bands = [...]`` a
Dataset of those bands (spectral indices) or, for two-grid functions such as
``radiometric_ratio``, the two bands in order; ``features = "NAME"`` the vector features given to
the run under that name (first step ``distance_to_features``, ``line_density``, ...).

Everything is checked when the file is read, naming the file and the key: unknown keys, unknown
functions (they resolve through :data:`geosurvey.prospectivity.EVIDENCE_FUNCTIONS`), parameters a
function does not take, band names no catalogue definition knows, unknown units, and membership
parameters that cannot work (``spread <= 0``, ``low >= high``...). Recipes shipped with geosurvey
live in ``geosurvey/data/recipes/``; :func:`load_recipe` takes one of their names or a path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from geosurvey.errors import MissingInputError, RecipeError
from geosurvey.units import UnitsError, canonical_units

__all__ = [
    "Criterion",
    "EvidenceSpec",
    "LayerSource",
    "Membership",
    "Params",
    "Recipe",
    "Step",
    "load_recipe",
    "parse_recipe",
    "shipped_recipes",
]

_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_LAYER = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_TOP_KEYS = frozenset(
    {
        "id", "title", "title_ja", "method", "scoring", "inputs", "deposit_models", "commodities",
        "description", "description_ja", "references", "criteria", "evidence",
    }
)
_EVIDENCE_KEYS = frozenset(
    {"layer", "units", "band", "bands", "features", "steps", "membership", "weights", "why",
     "why_ja", "reference"}
)
_INPUT_KEYS = {
    "resolution": "a pixel size in metres (> 0)",
    "survey_date": "a date (e.g. 2010-06-01), the date of the magnetic survey for IGRF",
    "datetime": "a STAC datetime or interval for the search (e.g. '2017-07-01/2017-08-31')",
    "composite": "'median' or 'none'",
}
CRITERIA_STAGES = ("source", "pathway", "trap", "preservation", "modifier")


class Params(Mapping[str, Any]):
    """A frozen, hashable mapping of parameter names to TOML values (lists become tuples).

    Used for every table of a recipe (step parameters, memberships, the method's ``[scoring]``),
    so that a :class:`Recipe` is hashable and cannot be changed after it is parsed.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | Iterable[tuple[str, Any]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: tuple[tuple[str, Any], ...] = tuple(
            sorted((str(k), _freeze(v)) for k, v in pairs)
        )

    def __getitem__(self, key: str) -> Any:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Params):
            return self._items == other._items
        return isinstance(other, Mapping) and dict(self) == dict(other)

    def __repr__(self) -> str:
        return f"Params({dict(self._items)!r})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (tuples as lists, nested Params as dicts) for JSON and TOML."""
        return {k: _thaw(v) for k, v in self._items}


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return Params(value)
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Params):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


#: The empty parameter table (immutable, so safe as a shared default).
EMPTY = Params()


@dataclass(frozen=True)
class LayerSource:
    """Where a layer's chain starts: one band, several bands, or named vector features."""

    kind: Literal["band", "bands", "features"]
    names: tuple[str, ...]

    def describe(self) -> str:
        """``band 'mag_tmi'``, ``bands 'swir16', 'swir22'`` or ``features 'faults'``."""
        return f"{self.kind} " + ", ".join(repr(n) for n in self.names)


@dataclass(frozen=True)
class Step:
    """One step of a layer's chain: a function of :data:`EVIDENCE_FUNCTIONS` and its parameters."""

    fn: str
    params: Params = EMPTY


@dataclass(frozen=True)
class Membership:
    """A fuzzy membership (see :func:`geosurvey.prospectivity.membership`)."""

    kind: str
    params: Params = EMPTY


@dataclass(frozen=True)
class EvidenceSpec:
    """One evidence layer of a recipe: its source, chain, units and how the method scores it."""

    layer: str
    units: str
    source: LayerSource
    steps: tuple[Step, ...]
    membership: Membership | None = None
    weights: Params | None = None
    why: str = ""
    why_ja: str = ""
    reference: str = ""

    @property
    def favours_small(self) -> bool:
        """Whether small values of the layer are favourable (from its membership)."""
        if self.membership is None:
            return False
        return self.membership.kind == "small" or self.membership.params.get("increasing") is False


@dataclass(frozen=True)
class Criterion:
    """One row of the mappable-criteria table: a mineral-system stage and the layers mapping it."""

    stage: str
    layers: tuple[str, ...]
    text: str = ""


@dataclass(frozen=True)
class Recipe:
    """A mineral-system recipe (see the module docstring for the file format)."""

    id: str
    title: str
    evidence: tuple[EvidenceSpec, ...]
    method: str = "fuzzy-gamma"
    scoring: Params = EMPTY
    inputs: Params = EMPTY
    deposit_models: tuple[str, ...] = ()
    commodities: tuple[str, ...] = ()
    title_ja: str = ""
    description: str = ""
    description_ja: str = ""
    references: tuple[str, ...] = ()
    criteria: tuple[Criterion, ...] = ()
    source: str = ""
    text: str = ""

    @property
    def sha256(self) -> str:
        """SHA-256 of the recipe's full text (what the manifest records)."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def layers(self) -> tuple[str, ...]:
        """The names of the recipe's evidence layers, in order."""
        return tuple(spec.layer for spec in self.evidence)

    @property
    def bands(self) -> tuple[str, ...]:
        """Every catalogue band the recipe's chains start from, in first-use order."""
        out: dict[str, None] = {}
        for spec in self.evidence:
            if spec.source.kind != "features":
                out.update(dict.fromkeys(spec.source.names))
        return tuple(out)

    @property
    def features(self) -> tuple[str, ...]:
        """The names of the vector feature sets the recipe's chains start from."""
        out: dict[str, None] = {}
        for spec in self.evidence:
            if spec.source.kind == "features":
                out.update(dict.fromkeys(spec.source.names))
        return tuple(out)

    def spec(self, layer: str) -> EvidenceSpec:
        """The evidence entry of ``layer``."""
        for spec in self.evidence:
            if spec.layer == layer:
                return spec
        raise KeyError(layer)

    def to_dict(self) -> dict[str, Any]:
        """The recipe as plain data (for reports)."""
        return {
            "id": self.id,
            "title": self.title,
            "method": self.method,
            "scoring": self.scoring.to_dict(),
            "layers": list(self.layers),
            "source": self.source,
            "sha256": self.sha256,
        }


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def _text(doc: Mapping[str, Any], key: str, fail: Any, default: str = "") -> str:
    value = doc.get(key, default)
    if not isinstance(value, str):
        raise fail(f"{key!r} must be a string, got {value!r}")
    return value


def _strings(doc: Mapping[str, Any], key: str, fail: Any) -> tuple[str, ...]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise fail(f"{key!r} must be a list of strings, got {value!r}")
    return tuple(value)


def _check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str, fail: Any) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise fail(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: "
                   f"{', '.join(sorted(allowed))}")


def _parse_source(ev: Mapping[str, Any], where: str, fail: Any) -> LayerSource:
    from geosurvey.prospectivity._chain import known_band_names

    given = [k for k in ("band", "bands", "features") if k in ev]
    if len(given) != 1:
        raise fail(f"{where}: give exactly one source: band = \"NAME\", bands = [...] or "
                   f"features = \"NAME\" (got {given or 'none'})")
    kind = given[0]
    value = ev[kind]
    names = tuple(value) if kind == "bands" and isinstance(value, list) else (value,)
    if not names or not all(isinstance(n, str) and _LAYER.fullmatch(n) for n in names):
        raise fail(f"{where}: {kind} must be {'a list of names' if kind == 'bands' else 'a name'} "
                   f"(letters, digits, '_'), got {value!r}")
    if kind != "features":
        known = known_band_names()
        unknown = [n for n in names if n not in known]
        if unknown:
            raise fail(f"{where}: unknown band(s) {', '.join(map(repr, unknown))}; bands are the "
                       "common names of the catalogue definitions (catalogs/*.toml), e.g. "
                       f"{', '.join(sorted(known)[:12])}, ...")
    return LayerSource(kind, names)  # type: ignore[arg-type]


def _parse_steps(ev: Mapping[str, Any], source: LayerSource, where: str, fail: Any) -> tuple[Step, ...]:
    from geosurvey.prospectivity._chain import check_step

    raw = ev.get("steps", [])
    if not isinstance(raw, list):
        raise fail(f"{where}: 'steps' must be a list of {{ fn = \"...\", ... }} tables")
    if not raw:
        if source.kind == "band":
            return ()  # the band as it is (e.g. gamma-ray K in %)
        raise fail(f"{where}: a layer from {source.describe()} needs at least one step "
                   "(only a single band may be used as it is)")
    steps = []
    for i, step in enumerate(raw):
        if not isinstance(step, dict) or "fn" not in step or not isinstance(step["fn"], str):
            raise fail(f"{where}: step {i + 1} must be a table with fn = \"<function>\"")
        params = {k: v for k, v in step.items() if k != "fn"}
        try:
            check_step(step["fn"], params, first=i == 0, source=source)
        except RecipeError as exc:
            raise fail(f"{where}, step {i + 1} ({step['fn']}): {exc}") from None
        steps.append(Step(step["fn"], Params(params)))
    return tuple(steps)


def _parse_membership(raw: Any, layer: str, where: str, fail: Any) -> Membership:
    from geosurvey.prospectivity._fuzzy import MEMBERSHIP_PARAMETERS, check_membership

    if not isinstance(raw, dict) or "kind" not in raw:
        raise fail(f"{where}: [evidence.membership] must be a table with kind = \"...\"")
    kind = raw["kind"]
    if kind not in MEMBERSHIP_PARAMETERS:
        raise fail(f"{where}: unknown membership kind {kind!r}; use one of "
                   f"{', '.join(MEMBERSHIP_PARAMETERS)}")
    params = {k: v for k, v in raw.items() if k != "kind"}
    _check_keys(params, MEMBERSHIP_PARAMETERS[kind], f"{where}, membership {kind!r}", fail)
    try:
        check_membership(kind, name=layer, **params)
    except RecipeError as exc:
        raise fail(f"{where}: {exc}") from None
    return Membership(kind, Params(params))


def _parse_evidence(ev: Any, i: int, method: Any, fail: Any) -> EvidenceSpec:
    if not isinstance(ev, dict):
        raise fail(f"evidence #{i + 1} must be a table ([[evidence]])")
    layer = ev.get("layer")
    if not isinstance(layer, str) or not _LAYER.fullmatch(layer):
        raise fail(f"evidence #{i + 1}: 'layer' must be a name (letters, digits, '_'), got {layer!r}")
    where = f"evidence {layer!r}"
    _check_keys(ev, _EVIDENCE_KEYS, where, fail)
    if "units" not in ev:
        raise fail(f"{where}: missing 'units' (the units the layer must have, e.g. \"m\", \"nT/m\", \"1\")")
    try:
        units = canonical_units(ev["units"])
    except UnitsError as exc:
        raise fail(f"{where}: {exc}") from None
    source = _parse_source(ev, where, fail)
    steps = _parse_steps(ev, source, where, fail)
    membership = weights = None
    table = method.evidence_table
    for key in ("membership", "weights"):
        if key in ev and key != table:
            raise fail(f"{where}: [evidence.{key}] does not apply to method {method.name!r}"
                       + (f" (it takes [evidence.{table}])" if table else ""))
    if table == "membership":
        if "membership" not in ev:
            raise fail(f"{where}: method {method.name!r} needs an [evidence.membership] table")
        membership = _parse_membership(ev["membership"], layer, where, fail)
    elif table == "weights":
        if "weights" not in ev or not isinstance(ev["weights"], dict):
            raise fail(f"{where}: method {method.name!r} needs an [evidence.weights] table")
        try:
            weights = method.parse_evidence(Params(ev["weights"]), layer)
        except RecipeError as exc:
            raise fail(f"{where}: {exc}") from None
    return EvidenceSpec(
        layer=layer,
        units=units,
        source=source,
        steps=steps,
        membership=membership,
        weights=weights,
        why=_text(ev, "why", fail),
        why_ja=_text(ev, "why_ja", fail),
        reference=_text(ev, "reference", fail),
    )


def _parse_inputs(raw: Any, fail: Any) -> Params:
    if not isinstance(raw, dict):
        raise fail("[inputs] must be a table")
    _check_keys(raw, _INPUT_KEYS, "[inputs]", fail)
    out = dict(raw)
    if "resolution" in raw:
        res = raw["resolution"]
        if isinstance(res, bool) or not isinstance(res, int | float) or not res > 0:
            raise fail(f"[inputs] resolution must be {_INPUT_KEYS['resolution']}, got {res!r}")
        out["resolution"] = float(res)
    if "survey_date" in raw:
        value = raw["survey_date"]
        if isinstance(value, dt.datetime):
            value = value.date()
        if isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                raise fail(f"[inputs] survey_date must be {_INPUT_KEYS['survey_date']}, "
                           f"got {value!r}") from None
        if not isinstance(value, dt.date):
            raise fail(f"[inputs] survey_date must be {_INPUT_KEYS['survey_date']}, got {value!r}")
        out["survey_date"] = value.isoformat()
    if "datetime" in raw and not isinstance(raw["datetime"], str):
        raise fail(f"[inputs] datetime must be {_INPUT_KEYS['datetime']}")
    if "composite" in raw and raw["composite"] not in ("median", "none"):
        raise fail(f"[inputs] composite must be {_INPUT_KEYS['composite']}, got {raw['composite']!r}")
    return Params(out)


def _parse_criteria(raw: Any, layers: set[str], fail: Any) -> tuple[Criterion, ...]:
    if not isinstance(raw, list):
        raise fail("'criteria' must be a list of [[criteria]] tables")
    out = []
    for i, row in enumerate(raw):
        where = f"criteria #{i + 1}"
        if not isinstance(row, dict):
            raise fail(f"{where} must be a table")
        _check_keys(row, ("stage", "layers", "text"), where, fail)
        stage = row.get("stage")
        if stage not in CRITERIA_STAGES:
            raise fail(f"{where}: stage must be one of {', '.join(CRITERIA_STAGES)}, got {stage!r}")
        names = _strings(row, "layers", fail)
        missing = [n for n in names if n not in layers]
        if missing:
            raise fail(f"{where}: layers {missing} are not evidence layers of the recipe")
        out.append(Criterion(stage, names, _text(row, "text", fail)))
    return tuple(out)


def parse_recipe(text: str, *, source: str = "<string>") -> Recipe:
    """Parse a recipe from its TOML text.

    Parameters
    ----------
    text
        The TOML text (see the module docstring).
    source
        Where it came from (a path or ``geosurvey:<name>``): every error names it.

    Returns
    -------
    Recipe

    Raises
    ------
    RecipeError
        On invalid TOML, unknown keys, functions, bands, units or parameters, naming ``source``
        and the key.
    """
    from geosurvey.prospectivity._methods import METHODS

    def fail(msg: str) -> RecipeError:
        return RecipeError(f"recipe {source}: {msg}")

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"recipe {source} is not valid TOML: {exc}") from None
    _check_keys(doc, _TOP_KEYS, "top level", fail)
    for key in ("id", "evidence"):
        if key not in doc:
            raise fail(f"missing required key {key!r}")
    rid = doc["id"]
    if not isinstance(rid, str) or not _ID.fullmatch(rid):
        raise fail(f"id must be lower-case letters, digits and '-', got {rid!r}")
    method_name = doc.get("method", "fuzzy-gamma")
    if method_name not in METHODS:
        raise fail(f"unknown method {method_name!r}; use one of {', '.join(METHODS)}")
    method = METHODS[method_name]
    scoring_raw = doc.get("scoring", {})
    if not isinstance(scoring_raw, dict):
        raise fail("[scoring] must be a table")
    try:
        scoring = method.parse_scoring(Params(scoring_raw))
    except RecipeError as exc:
        raise fail(f"[scoring]: {exc}") from None
    raw_evidence = doc["evidence"]
    if not isinstance(raw_evidence, list) or not raw_evidence:
        raise fail("no evidence layers ([[evidence]] tables)")
    evidence = tuple(_parse_evidence(ev, i, method, fail) for i, ev in enumerate(raw_evidence))
    names = [spec.layer for spec in evidence]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise fail(f"evidence layers {dupes} are defined more than once")
    return Recipe(
        id=rid,
        title=_text(doc, "title", fail, default=rid),
        title_ja=_text(doc, "title_ja", fail),
        evidence=evidence,
        method=method_name,
        scoring=scoring,
        inputs=_parse_inputs(doc.get("inputs", {}), fail),
        deposit_models=_strings(doc, "deposit_models", fail),
        commodities=_strings(doc, "commodities", fail),
        description=_text(doc, "description", fail),
        description_ja=_text(doc, "description_ja", fail),
        references=_strings(doc, "references", fail),
        criteria=_parse_criteria(doc.get("criteria", []), set(names), fail),
        source=source,
        text=text,
    )


def _recipes_folder() -> Any:
    return resources.files("geosurvey") / "data" / "recipes"


def shipped_recipes() -> list[str]:
    """Names of the recipes shipped with geosurvey (``geosurvey/data/recipes/*.toml``)."""
    return sorted(
        p.name.removesuffix(".toml") for p in _recipes_folder().iterdir() if p.name.endswith(".toml")
    )


def load_recipe(name_or_path: str | Path) -> Recipe:
    """Read a recipe: a path to a TOML file, or the name of a recipe shipped with geosurvey.

    Parameters
    ----------
    name_or_path
        ``"iocg-kolari"`` (see :func:`shipped_recipes`) or a path such as ``"my-recipe.toml"``.

    Returns
    -------
    Recipe
        Parsed and checked (see :func:`parse_recipe`); ``recipe.text`` holds the full text.
    """
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists() or len(path.parts) > 1:
        if not path.is_file():
            raise MissingInputError(f"recipe file {path} does not exist; check the path")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RecipeError(f"recipe {path} cannot be read as UTF-8 text ({exc})") from None
        return parse_recipe(text, source=str(path))
    name = str(name_or_path)
    res = _recipes_folder() / f"{name}.toml"
    if not _ID.fullmatch(name) or not res.is_file():
        raise MissingInputError(
            f"no recipe named {name!r}; shipped recipes: {', '.join(shipped_recipes())} "
            "(or give the path of a .toml file)"
        )
    return parse_recipe(res.read_text(encoding="utf-8"), source=f"geosurvey:{name}")
