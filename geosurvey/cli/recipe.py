"""``geosurvey recipe ...``: the shipped mineral-system recipes, listed and shown in English or
Japanese."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Mineral-system recipes: list the shipped ones, show how each builds its evidence.",
    no_args_is_help=True,
)

Lang = Annotated[Literal["en", "ja"], typer.Option(help="Language of the text: en or ja.")]


def _step_text(step: object) -> str:
    params = ", ".join(f"{k}={v!r}" for k, v in step.params.to_dict().items())
    return f"{step.fn}({params})"


def _table(rows: list[list[str]]) -> list[str]:
    from unicodedata import east_asian_width

    def width(text: str) -> int:
        return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in text)

    widths = [max(width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell + " " * (w - width(cell)) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


@app.command("list")
def list_command(lang: Lang = "en") -> None:
    """List the recipes shipped with geosurvey: id, deposit models, method, layers, title."""
    from geosurvey.i18n import TEXT
    from geosurvey.prospectivity import recipe_library
    from geosurvey.text import printable

    text = TEXT[lang]
    rows = [[text["recipe_col_id"], text["recipe_col_models"], text["recipe_col_method"],
             text["recipe_col_layers"], text["recipe_col_title"]]]
    for recipe in recipe_library():
        title = recipe.title_ja if lang == "ja" and recipe.title_ja else recipe.title
        rows.append([recipe.id, ", ".join(recipe.deposit_models) or "-", recipe.method,
                     str(len(recipe.evidence)), printable(title)])
    for line in _table(rows):
        typer.echo(line)


@app.command("show")
def show_command(
    name: Annotated[str, typer.Argument(help="A shipped recipe's name (see 'recipe list') or the path of a .toml file.")],
    lang: Lang = "en",
) -> None:
    """Show a recipe: what it serves, each evidence layer's source, chain, units, membership and
    rationale, the mappable criteria and the references."""
    from geosurvey.aoi import deposit_models
    from geosurvey.i18n import TEXT
    from geosurvey.prospectivity import band_collections, load_recipe
    from geosurvey.text import printable

    text = TEXT[lang]
    recipe = load_recipe(name)
    ja = lang == "ja"
    models = deposit_models()

    def say(line: str = "") -> None:
        typer.echo(printable(line))

    say(f"{text['recipe_title']}: {recipe.id} — {recipe.title_ja if ja and recipe.title_ja else recipe.title}")
    say(f"{text['recipe_file']}: {recipe.source}")
    scoring = ", ".join(f"{k}={v!r}" for k, v in recipe.scoring.to_dict().items())
    say(f"{text['recipe_method']}: {recipe.method}" + (f" ({scoring})" if scoring else ""))
    names = [
        f"{code} ({(models[code].name_ja if ja else models[code].name_en) if code in models else '?'})"
        for code in recipe.deposit_models
    ]
    say(f"{text['recipe_models']}: {', '.join(names) or '-'}")
    if recipe.commodities:
        say(f"{text['recipe_commodities']}: {', '.join(recipe.commodities)}")
    description = recipe.description_ja if ja and recipe.description_ja else recipe.description
    if description:
        say(f"{text['recipe_description']}: {description}")
    say()
    say(f"{text['recipe_layers']}:")
    providers = band_collections(recipe)
    for spec in recipe.evidence:
        say(f"  {spec.layer} [{text['recipe_units']}: {spec.units}]")
        say(f"    {text['recipe_from']}: {spec.source.describe()}")
        if spec.source.kind == "features":
            say(f"    {text['recipe_catalogues']}: {text['recipe_features']}")
        else:
            cats = sorted({f"{s}/{c}" for band in spec.source.names for s, c in providers.get(band, ())})
            say(f"    {text['recipe_catalogues']}: {', '.join(cats) or text['recipe_no_catalogue']}")
        say(f"    {text['recipe_steps']}: {' -> '.join(_step_text(s) for s in spec.steps)}")
        if spec.membership is not None:
            params = ", ".join(f"{k}={v!r}" for k, v in spec.membership.params.to_dict().items())
            say(f"    {text['recipe_membership']}: {spec.membership.kind}({params})")
        why = spec.why_ja if ja and spec.why_ja else spec.why
        if why:
            say(f"    {text['recipe_why']}: {why}" + (f" ({spec.reference})" if spec.reference else ""))
    if recipe.criteria:
        say()
        say(f"{text['recipe_criteria']}:")
        for c in recipe.criteria:
            stage = text.get(f"recipe_stage_{c.stage}", c.stage)
            say(f"  {stage}: {', '.join(c.layers)}" + (f" — {c.text}" if c.text else ""))
    if recipe.references:
        say()
        say(f"{text['recipe_references']}:")
        for ref in recipe.references:
            say(f"  - {ref}")
