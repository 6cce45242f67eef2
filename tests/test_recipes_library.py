"""The shipped critical-mineral recipes: they parse, serve known deposit models, cite their
sources, map every layer to a mineral-system stage, and start from bands that the catalogue
definitions provide — checked against recorded real STAC items of Earth Search and Planetary
Computer (``../shared/data/stac``) and the real GTK grids a partner ingests. ``recipes_for``
picks recipes for the registry's real survey areas.
"""

from __future__ import annotations

import re
from pathlib import Path

import pystac
import pytest

from geosurvey.aoi import Registry, commodities, deposit_models
from geosurvey.catalogs import get_source, resolve_band_map
from geosurvey.errors import InputError
from geosurvey.prospectivity import band_collections, load_recipe, recipes_for
from geosurvey.units import KNOWN_UNITS

REPO = Path(__file__).resolve().parents[1]

#: The systems of the issue and the recipes of this library that serve them.
SYSTEMS = {
    "carbonatite-ree": "carbonatite-ree",
    "ion-adsorption-clay-ree": "ion-adsorption-clay-ree",
    "seafloor-ree-mud": "seafloor-ree-mud",
    "lct-pegmatite-li": "li-pegmatite",
    "li-brine-closed-basin": "li-brine",
    "porphyry-cu-mo": "porphyry-cu-mo",
    "zn-pb-clastic-dominated": "sediment-hosted-zn-pb",
    "zn-pb-mvt": "sediment-hosted-zn-pb",
}
GEOCHEMISTRY = {"ion-adsorption-clay-ree", "lct-pegmatite-li", "seafloor-ree-mud",
                "zn-pb-clastic-dominated", "zn-pb-mvt"}

#: Centre wavelengths (µm) each optical common name must have in the real items' eo:bands.
WAVELENGTHS = {
    "blue": (0.45, 0.52), "green": (0.53, 0.59), "red": (0.63, 0.69), "rededge1": (0.69, 0.72),
    "rededge2": (0.73, 0.75), "rededge3": (0.77, 0.79), "nir": (0.77, 0.89), "nir08": (0.85, 0.88),
    "swir16": (1.55, 1.70), "swir22": (2.08, 2.32),
}
#: Which catalogue collection each kind of band is expected from.
ASTER = re.compile(r"(vnir|swir|tir)(\d+)")
GEOPHYSICS = {"mag_tmi", "k", "eth", "eu", "tc"}


def _expected(band: str) -> set[tuple[str, str]]:
    if ASTER.fullmatch(band) and not band.startswith("swir1") and not band.startswith("swir2"):
        return {("planetary-computer", "aster-l1t")}
    if band in WAVELENGTHS:
        return {("earth-search", "sentinel-2-l2a"), ("planetary-computer", "sentinel-2-l2a")}
    if band == "elevation":
        return {("earth-search", "cop-dem-glo-30")}
    if band in GEOPHYSICS:
        return {("partner-geophysics", "gtk-lapland-grids"), ("partner-geophysics", "ingest")}
    raise AssertionError(f"no expectation for band {band!r}")


@pytest.fixture(scope="module")
def real_items(shared_data):
    from stac_api import real_stac_documents

    docs = real_stac_documents(shared_data / "stac")
    return docs


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_recipe_parses_and_is_documented(name):
    recipe = load_recipe(name)
    assert recipe.id == name and recipe.title and recipe.title_ja and recipe.description
    assert SYSTEMS[name] in recipe.deposit_models
    assert set(recipe.deposit_models) <= set(deposit_models())
    assert recipe.commodities and set(recipe.commodities) <= set(commodities())
    # references: full citations with a year, and every layer's short reference cites one of them
    assert len(recipe.references) >= 3
    assert all(re.search(r"\((19|20)\d\d\)", ref) for ref in recipe.references), recipe.references
    surnames = {ref.split(",")[0].strip() for ref in recipe.references}
    for spec in recipe.evidence:
        assert spec.why and spec.why_ja and spec.reference, spec.layer
        assert any(s in spec.reference for s in surnames), (spec.layer, spec.reference)
        units = spec.units.replace("/", " ").split()
        assert all(u == "1" or u.rstrip("0123456789") in KNOWN_UNITS for u in units), spec.units
        assert spec.membership is not None  # knowledge-driven: every layer has its membership
    # the mappable-criteria table places every layer in a stage of the mineral system
    staged = {layer for c in recipe.criteria for layer in c.layers}
    assert staged == set(recipe.layers)
    assert {c.stage for c in recipe.criteria} & {"source", "pathway"}
    assert all(c.text for c in recipe.criteria)


def test_the_library_covers_the_systems_and_uses_geochemistry():
    served = {m for name in SYSTEMS for m in load_recipe(name).deposit_models}
    assert served >= set(SYSTEMS.values())
    for name in GEOCHEMISTRY:
        steps = [s.fn for spec in load_recipe(name).evidence for s in spec.steps]
        assert "geochem_anomaly" in steps, name


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_recipe_bands_exist_in_the_catalogues_it_expects(name, real_items, shared_data):
    recipe = load_recipe(name)
    providers = band_collections(recipe)
    for band in recipe.bands:
        expected = _expected(band)
        assert expected & set(providers[band]), (band, providers[band])
        for source, collection in expected & set(providers[band]):
            definition = get_source(source)
            if collection == "ingest":
                stems = [s for s, info in definition.ingest_bands.items() if info.common_name == band]
                grids = shared_data / "gtk_lapland_iocg" / "grids_100m"
                assert any((grids / f"{stem}.tif").exists() for stem in stems), (band, stems)
                continue
            spec = definition.collections[collection]
            if source not in real_items:
                continue  # the partner catalogue: checked through its ingest names above
            docs = real_items[source]
            items = [pystac.Item.from_dict(d) for (c, _), d in docs["items"].items() if c == collection]
            if not items:  # Copernicus DEM: recorded as a collection with item_assets only
                keys = [k for k, common in spec.bands.items() if common == band]
                assert any(k in docs["collections"][collection]["item_assets"] for k in keys), band
                continue
            for item in items[:3]:
                mapped = {common: key for key, common in resolve_band_map(item, spec.bands).items()}
                assert band in mapped, (band, item.id)
                key = mapped[band]
                asset, _, index = key.partition(".")
                eo = item.assets[asset].extra_fields.get("eo:bands", [])
                if index:  # ASTER: band N of a multi-band asset, named <GROUP>_Band<N>
                    group, number = ASTER.fullmatch(band).groups()
                    assert eo[int(index) - 1]["name"].startswith(f"{group.upper()}_Band{number}")
                elif band in WAVELENGTHS and eo:
                    low, high = WAVELENGTHS[band]
                    assert low <= eo[0]["center_wavelength"] <= high, (band, item.id, eo[0])


def test_recipes_for_the_registry_areas():
    registry = Registry(REPO / "aoi")
    picks = {area.id: recipes_for(area) for area in registry}
    expected = {"mountain-pass": "carbonatite-ree", "searles-valley-li": "li-brine-closed-basin",
                "minamitorishima-ree-mud": "seafloor-ree-mud", "western-aleutians": "porphyry-cu-mo",
                "kolari-iocg": "demo-iocg"}
    for area_id, recipe_id in expected.items():
        models = set(registry.get(area_id).deposit_models)
        assert recipe_id in [r.id for r, _ in picks[area_id]], area_id
        assert all(models & set(r.deposit_models) for r, _ in picks[area_id]), area_id  # and only those
    (_, why), = [(r, w) for r, w in picks["mountain-pass"] if r.id == "carbonatite-ree"]
    assert why == "recipe carbonatite-ree serves deposit model carbonatite-ree of area mountain-pass"
    (_, why_ja), = [(r, w) for r, w in recipes_for(registry.get("mountain-pass"), lang="ja")
                    if r.id == "carbonatite-ree"]
    assert "carbonatite-ree" in why_ja and "鉱床モデル" in why_ja


def test_recipes_for_refuses_an_area_no_recipe_serves():
    from types import SimpleNamespace

    graphite = SimpleNamespace(id="graphite-belt", deposit_models=("flake-graphite",))
    with pytest.raises(InputError, match=r"no shipped recipe serves the deposit models of area "
                                         r"graphite-belt \(flake-graphite\); the shipped recipes serve: .*carbonatite-ree"):
        recipes_for(graphite)
    with pytest.raises(InputError, match="names no deposit models"):
        recipes_for(SimpleNamespace(id="blank", deposit_models=()))
    both = SimpleNamespace(id="zn-belt", deposit_models=("sediment-hosted-zn-pb", "flake-graphite"))
    assert {"zn-pb-clastic-dominated", "zn-pb-mvt"} <= {r.id for r, _ in recipes_for(both)}


def test_cli_recipe_list_and_show(capsys):
    from geosurvey.cli import main

    assert main(["recipe", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["recipe", "deposit", "models"]
    listed = {line.split()[0] for line in out[1:]}
    assert set(SYSTEMS) <= listed
    assert main(["recipe", "list", "--lang", "ja"]) == 0
    assert "イオン吸着型希土類鉱床システム（華南型）" in capsys.readouterr().out
    assert main(["recipe", "show", "lct-pegmatite-li"]) == 0
    out = capsys.readouterr().out
    assert "li_stream [units: 1]" in out and "geochem_anomaly(column='Li_ppm'" in out
    assert "Mappable criteria:" in out and "source: granite_distance" in out
    assert "Bradley, D. C., McCauley, A. D., & Stillings, L. M. (2017)" in out
    assert "earth-search/sentinel-2-l2a" in out  # where the SWIR bands come from
    assert main(["recipe", "show", "porphyry-cu-mo", "--lang", "ja"]) == 0
    out = capsys.readouterr().out
    assert "証拠レイヤー:" in out and "斑岩銅モリブデン鉱床" in out and "文献:" in out
    assert main(["recipe", "show", "no-such-recipe"]) == 1
    assert "no recipe named 'no-such-recipe'" in capsys.readouterr().err
