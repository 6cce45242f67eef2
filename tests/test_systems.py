"""Synthetic surveys per mineral system: each shipped recipe runs end to end through
``geosurvey.runner.run`` on the datacube generated for it (registry approval, static STAC
catalogue of COGs, odc-stac load, evidence, score, evaluation, outputs), and its map finds the
generated deposits.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from geosurvey.demo import SYSTEMS, make_system_survey, write_survey_catalog
from geosurvey.errors import InputError
from geosurvey.prospectivity import load_recipe

#: Coarse grids keep the eight runs fast.
RESOLUTION = {name: spec.resolution * 5 for name, spec in SYSTEMS.items()}


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """One registry where two demo parties agree every system's demo area."""
    from geosurvey.aoi import Registry, generate_keypair

    keys = {code: generate_keypair() for code in ("JP", "US")}
    folder = tmp_path_factory.mktemp("systems") / "aoi"
    reg = Registry.init(folder, parties=[
        {"code": code, "name_en": f"{code} demo party", "name_ja": f"{code} デモ当事者",
         "agency": "DEMO", "public_keys": [pub], "demo_only": True}
        for code, (_priv, pub) in keys.items()
    ])
    surveys = {}
    for name, spec in SYSTEMS.items():
        survey = make_system_survey(name, seed=1, resolution=RESOLUTION[name])
        area = reg.propose(survey.area, id=f"demo-{name}", name_en=spec.title_en, name_ja=spec.title_ja,
                           region=["US"], commodities=list(spec.commodities),
                           deposit_models=list(spec.deposit_models), proposer="US",
                           methods=list(spec.methods), notes="Generated demo data.")
        for code, (private, _pub) in keys.items():
            reg.approve(area.id, party=code, private_key=private)
        surveys[name] = survey
    return folder, surveys


@pytest.mark.parametrize("name", sorted(SYSTEMS))
def test_recipe_runs_end_to_end_on_its_synthetic_datacube(name, registry, tmp_path):
    from geosurvey.runner import run

    folder, surveys = registry
    survey = surveys[name]
    recipe = load_recipe(name)
    catalog = write_survey_catalog(survey, tmp_path / "catalog")
    assert set(recipe.bands) <= set(survey.rasters)
    assert set(recipe.features) <= set(survey.features)
    result = run(f"demo-{name}", recipe, sources=[catalog], registry=folder, out=tmp_path / "out",
                 occurrences=survey.occurrences, features=dict(survey.features),
                 resolution=RESOLUTION[name], echo=lambda _line: None)
    report = json.loads(result.report_json.read_text())
    assert result.score_cog.exists() and result.web_map.exists()
    assert set(report["evidence"]) == set(recipe.layers)
    for spec in recipe.evidence:
        assert report["evidence"][spec.layer]["units"] == spec.units
        assert (result.out / "evidence" / f"{spec.layer}.tif").exists()
    # the synthetic deposits were placed where the recipe's rationale says: the map finds them
    assert report["score"]["roc_auc"] > 0.8, report["score"]


def test_system_surveys_are_deterministic_and_labelled():
    a = make_system_survey("lct-pegmatite-li", seed=3, resolution=1000.0)
    b = make_system_survey("lct-pegmatite-li", seed=3, resolution=1000.0)
    c = make_system_survey("lct-pegmatite-li", seed=4, resolution=1000.0)
    for band in a.rasters:
        np.testing.assert_array_equal(a.rasters[band].values, b.rasters[band].values)
        assert a.rasters[band].attrs["long_name"].startswith("DEMO (synthetic)")
    assert a.features["stream_sediments"].equals(b.features["stream_sediments"])
    assert not np.array_equal(a.rasters["k"].values, c.rasters["k"].values)
    # some caesium values are reported below detection, as a laboratory would
    assert a.features["stream_sediments"]["Cs_ppm"].str.startswith("<").any()
    # the deposits sit in the halos' peaks and the known occurrences within 300 m of them
    deposits = a.occurrences[a.occurrences.kind == "deposit"]
    centres = np.column_stack([a.deposits.easting, a.deposits.northing])
    xy = np.column_stack([deposits.geometry.x, deposits.geometry.y])
    assert np.all(np.linalg.norm(xy - centres, axis=1) <= 300)


def test_unknown_system_and_bad_resolution_are_refused():
    with pytest.raises(InputError, match="unknown demo system 'gold'; choose one of carbonatite-ree"):
        make_system_survey("gold")
    with pytest.raises(InputError, match="resolution must be 20 to 3000"):
        make_system_survey("porphyry-cu-mo", resolution=5000.0)
