"""The library of shipped mineral-system recipes: what each serves, where its bands come from,
and which recipes serve a survey area (``--recipe auto``).

Every recipe in ``geosurvey/data/recipes/`` names the deposit models of
``geosurvey/data/deposit_models.toml`` it serves (``deposit_models = [...]``). :func:`recipes_for`
picks, for an area, the recipes serving any of the area's ``deposit_models`` and says why;
an area that no recipe serves is refused, saying so. :func:`band_collections` says which
catalogue definitions (``catalogs/*.toml``) and collections provide each band a recipe starts
from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from geosurvey.errors import InputError
from geosurvey.i18n import TEXT, Language, check_lang
from geosurvey.prospectivity._recipe import Recipe, load_recipe, shipped_recipes

__all__ = ["band_collections", "recipe_library", "recipes_for"]


def recipe_library(names: Iterable[str] | None = None) -> list[Recipe]:
    """The shipped recipes (or those named), parsed and checked, in name order.

    Parameters
    ----------
    names
        Recipe names (see :func:`~geosurvey.prospectivity.shipped_recipes`); all by default.

    Returns
    -------
    list of Recipe
    """
    return [load_recipe(name) for name in (sorted(names) if names is not None else shipped_recipes())]


def band_collections(
    recipe: Recipe, *, sources: Sequence[str] | None = None
) -> dict[str, tuple[tuple[str, str], ...]]:
    """Which catalogue definitions and collections provide each band of ``recipe``.

    Parameters
    ----------
    recipe
        A recipe.
    sources
        Names of catalogue definitions to look in (default: every definition in ``catalogs/``
        except ``demo``, whose bands are the generated demo data's).

    Returns
    -------
    dict
        ``{band: ((source, collection), ...)}`` for every band the recipe's chains start from,
        in the recipe's order; an empty tuple for a band no definition maps (a partner must ingest
        such data, e.g. gravity). A static definition's ``[ingest.bands]`` names count, under
        the collection ``"ingest"``.
    """
    from geosurvey import catalogs

    names = list(sources) if sources is not None else [s for s in catalogs.list_sources() if s != "demo"]
    definitions = [catalogs.get_source(name) for name in names]
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    for band in recipe.bands:
        found: list[tuple[str, str]] = []
        for definition in definitions:
            for cid, spec in definition.collections.items():
                if band in spec.bands.values():
                    found.append((definition.name, cid))
            if any(info.common_name == band for info in definition.ingest_bands.values()):
                found.append((definition.name, "ingest"))
        out[band] = tuple(dict.fromkeys(found))
    return out


def _area_models(area: Any) -> tuple[str, tuple[str, ...]]:
    models = getattr(area, "deposit_models", None)
    if models is None:
        raise InputError(
            f"recipes_for takes a survey area (geosurvey.aoi.SurveyArea), got {type(area).__name__}"
        )
    return str(getattr(area, "id", "<area>")), tuple(models)


def recipes_for(
    area: Any, *, recipes: Sequence[Recipe] | None = None, lang: Language = "en"
) -> list[tuple[Recipe, str]]:
    """The recipes that serve an area's deposit models, each with the reason it was picked.

    Parameters
    ----------
    area
        A survey area (:class:`geosurvey.aoi.SurveyArea`; anything with ``id`` and
        ``deposit_models``).
    recipes
        The recipes to choose from (default: :func:`recipe_library`).
    lang
        Language of the reasons (``"en"`` or ``"ja"``).

    Returns
    -------
    list of (Recipe, str)
        In the order of the area's deposit models, then recipe id; the reason names the deposit
        models the recipe serves for that area.

    Raises
    ------
    geosurvey.errors.InputError
        If the area names no deposit model, or no recipe serves any of them (the message lists
        the area's models and the models the recipes serve).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> area = SimpleNamespace(id="mountain-pass", deposit_models=["carbonatite-ree"])
    >>> [(r.id, why) for r, why in recipes_for(area)]  # doctest: +NORMALIZE_WHITESPACE
    [('carbonatite-ree', 'recipe carbonatite-ree serves deposit model carbonatite-ree of area mountain-pass')]
    """
    lang = check_lang(lang)
    area_id, models = _area_models(area)
    text = TEXT[lang]
    pool = list(recipes) if recipes is not None else recipe_library()
    if not models:
        raise InputError(text["recipe_auto_no_models"].format(area=area_id))
    picked: dict[str, tuple[Recipe, list[str]]] = {}
    for model in models:
        for recipe in sorted(pool, key=lambda r: r.id):
            if model in recipe.deposit_models:
                picked.setdefault(recipe.id, (recipe, []))[1].append(model)
    if not picked:
        served = sorted({m for r in pool for m in r.deposit_models})
        raise InputError(
            text["recipe_auto_none"].format(
                area=area_id, models=", ".join(models), served=", ".join(served)
            )
        )
    return [
        (recipe, text["recipe_auto_reason"].format(recipe=recipe.id, models=", ".join(served), area=area_id))
        for recipe, served in picked.values()
    ]
