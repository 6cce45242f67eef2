"""``method = "model"`` recipes: the [scoring] table parsed and checked, the scorer's rasters and
report (held-out CV equal to cross_validate called directly, seeds recorded, bit-for-bit reruns),
and the shipped ``iocg-kolari-ml`` recipe run end to end on the real GTK Kolari data."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely

from geosurvey.errors import RecipeError
from geosurvey.prospectivity import (
    CVSpec,
    cross_validate,
    load_recipe,
    parse_recipe,
    sample_stack,
    score_layers,
    stack_layers,
    training_sample,
)
from geosurvey.prospectivity._model_method import build_model
from geosurvey.testing import grid_like

from conftest import require_shared

REPO = Path(__file__).resolve().parents[1]

HEAD = """id = "test-model"
title = "t"
method = "model"
deposit_models = ["iocg"]
"""
LAYERS = """
[[evidence]]
layer = "a"
units = "nT"
band = "mag_tmi"

[[evidence]]
layer = "b"
units = "%"
band = "k"
"""


def _recipe(scoring: str):
    return parse_recipe(HEAD + scoring + LAYERS, source="test.toml")


def test_shipped_recipe_parses_with_every_choice_explicit():
    recipe = load_recipe("iocg-kolari-ml")
    s = recipe.scoring
    assert recipe.method == "model" and s["estimator"] == "logistic-regression"
    assert s["seed"] == 0 and s["ensemble"]["members"] >= 20
    assert s["cv"]["scheme"] == "block" and s["cv"]["block_size"] == 10000.0
    assert [e.layer for e in recipe.evidence][:3] == ["mag_rtp", "mag_rtp_thg", "mag_rtp_as"]
    assert all(e.membership is None for e in recipe.evidence)
    model = build_model(s)
    assert model.estimator.steps[-1][1].get_params()["C"] == 1.0


@pytest.mark.parametrize(("scoring", "message"), [
    ('[scoring]\nestimator = "svm"\n', "unknown estimator 'svm'"),
    ('[scoring]\nestimator = "random-forest"\n[scoring.params]\nn_trees = 5\n', r"\['n_trees'\] are not parameters"),
    ('[scoring]\nestimator = "random-forest"\n[scoring.params]\nn_estimators = -3\n', "refused by random-forest"),
    ('[scoring]\n[scoring.params]\nrandom_state = 1\n', "random_state is set from"),
    ('[scoring]\n[scoring.cv]\nscheme = "spatial"\n', "scheme must be block, random or loo"),
    ('[scoring]\n[scoring.cv]\nblock_size = 0\n', "block_size must be a distance > 0"),
    ('[scoring]\n[scoring.sampling]\nbackground = 10\n', r"unknown key\(s\) \['background'\] in \[scoring.sampling\]"),
    ('[scoring]\n[scoring.ensemble]\nmembers = 2.5\n', "members must be an integer"),
])
def test_bad_scoring_tables_are_refused_naming_the_key(scoring, message):
    with pytest.raises(RecipeError, match=message):
        _recipe(scoring)



@pytest.mark.parametrize("estimator", ["logistic-regression", "random-forest", "extra-trees",
                                       "hist-gradient-boosting"])
def test_checking_an_estimators_parameters_warns_of_nothing_by_itself(estimator):
    # the check fits the estimator on a made-up sample: with the defaults, nothing to say
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recipe = _recipe(f'[scoring]\nestimator = "{estimator}"\n')
    assert recipe.scoring["estimator"] == estimator


def test_a_recipes_own_deprecated_parameter_is_not_hidden_and_the_filters_stay():
    # the parameter check leaves the process-wide warning filters alone (a batch's threads undo
    # each other's catch_warnings), so scikit-learn's word about the recipe's own parameter
    # reaches the user
    import warnings

    before = list(warnings.filters)
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        _recipe('[scoring]\nestimator = "logistic-regression"\n[scoring.params]\npenalty = "l2"\n')
    assert warnings.filters == before

def _evidence(n: int = 40):
    rng = np.random.default_rng(5)
    a = rng.normal(size=(n, n))
    b = rng.normal(size=(n, n))
    b[:2, :2] = np.nan
    layers = {"a": grid_like(a, name="a", units="nT", chunks=20),
              "b": grid_like(b, name="b", units="%", chunks=20)}
    rows, cols = np.unravel_index(np.argsort(a, axis=None)[-30:], a.shape)
    occ = gpd.GeoDataFrame(geometry=shapely.points(layers["a"].x.values[cols], layers["a"].y.values[rows]),
                           crs="EPSG:32611")
    return layers, occ


RF = """[scoring]
estimator = "random-forest"
seed = 7
[scoring.params]
n_estimators = 10
max_depth = 4
[scoring.sampling]
n_background = 200
[scoring.cv]
block_size = 1000.0
n_splits = 3
[scoring.ensemble]
members = 4
[scoring.explain]
contributions = "saabas"
top = 1
sensitivity_draws = 2
"""


def test_model_method_scores_with_uncertainty_contributions_and_held_out_cv():
    layers, occ = _evidence()
    recipe = _recipe(RF)
    scored = score_layers(layers, recipe, occurrences=occ)
    assert set(scored.layers) == {"data_availability", "uncertainty", "risk_return", "contribution_a"}
    for layer in scored.layers.values():
        assert layer.dims == ("y", "x") and "spatial_ref" in layer.coords
    assert scored.layers["data_availability"].values[0, 0] == 0.5
    report = scored.report
    assert report["seed"] == 7 and report["ensemble"]["seeds"] == [7, 8, 9, 10]
    assert report["contributions"]["top_layers"] == ["a"]
    drivers = report["contributions"]["target_drivers"]
    assert drivers and all(d["drivers"] in ([], ["a"]) for d in drivers)  # top = 1 layer each
    assert sum(d["drivers"] == ["a"] for d in drivers) >= len(drivers) / 2  # "a" made the targets
    assert set(report["cross_validation"]) == {"block", "random"}
    assert report["negative_sampling_sensitivity"]["n_draws"] == 2
    # the block CV in the report is cross_validate on the same sample, called here directly
    stack = stack_layers(layers)
    valid = np.isfinite(stack.values).all(axis=0)
    sample = training_sample(layers["a"], occ, n_background=200, valid=valid, class_weight="balanced",
                             seed=7)
    direct = cross_validate(build_model(recipe.scoring), stack, sample, values=sample_stack(stack, sample),
                            spec=CVSpec("block", n_splits=3, block_size=1000.0, seed=7), importance=True)
    assert report["cross_validation"]["block"]["roc_auc"] == round(direct.roc_auc, 6)
    assert report["cross_validation"]["block"]["n_held_out"] == 30
    json.dumps(report)  # JSON-able
    # bit for bit again: every random step is seeded from the recipe
    again = score_layers(layers, recipe, occurrences=occ)
    np.testing.assert_array_equal(scored.score.values, again.score.values)
    np.testing.assert_array_equal(scored.layers["uncertainty"].values, again.layers["uncertainty"].values)
    assert np.isnan(scored.score.values[0, 0]) and np.isfinite(scored.score.values[5:, 5:]).all()


@pytest.fixture(scope="module")
def gtk_run(tmp_path_factory):
    from geosurvey.catalogs import get_source, ingest
    from geosurvey.runner import run

    gtk = require_shared("gtk_lapland_iocg")
    src = tmp_path_factory.mktemp("gtk_src")
    for tif in (gtk / "grids_100m").glob("*.tif"):
        os.symlink(tif, src / tif.name)
    work = tmp_path_factory.mktemp("ml")
    catalog = ingest(src, work / "catalog", collection="gtk-lapland-grids",
                     datetime=dt.datetime(2010, 6, 1, tzinfo=dt.UTC),
                     bands=get_source("partner-geophysics").ingest_bands, license="CC-BY-4.0")
    # the shipped recipe with a smaller ensemble and no random k-fold, to keep the test short
    text = load_recipe("iocg-kolari-ml").text
    assert "members = 20" in text and "compare_random = true" in text
    path = work / "iocg-kolari-ml.toml"
    path.write_text(text.replace("members = 20", "members = 4").replace("compare_random = true",
                                                                         "compare_random = false"))
    deposits = gpd.read_file(gtk / "vector" / "IOCG_Deps_Prosp_Occs_2.shp")
    training = work / "training.gpkg"
    deposits.iloc[::2].to_file(training)  # any subset of the deposits trains it
    result = run("kolari-iocg", path, sources=[str(catalog)], out=work / "out", registry=REPO / "aoi",
                 occurrences=training, features={"faults": gtk / "vector" / "IOCG_CLB_Structures_1M.shp"},
                 survey_date="2010-06-01", echo=lambda line: None)
    return result, json.loads(result.report_json.read_text()), deposits


@pytest.mark.slow
def test_the_ml_recipe_runs_on_gtk_and_writes_its_rasters(gtk_run):
    result, report, deposits = gtk_run
    assert report["recipe"]["method"] == "model"
    for name in ("score", "uncertainty", "data_availability", "risk_return"):
        with rasterio.open(result.out / f"{name}.tif") as f:
            assert f.crs == rasterio.crs.CRS.from_user_input(report["grid"]["crs"])
            assert f.tags()["units"] == "1"
            band = f.read(1, masked=True)
        assert band.count() > 100_000
    method = report["method_report"]
    assert method["n_positive"] == report["score"]["n_used"] <= len(deposits.iloc[::2])
    cv = method["cross_validation"]["block"]
    assert cv["n_held_out"] == method["n_positive"]
    # held out by 10 km blocks, trained on every other deposit, the map still ranks them high
    assert cv["roc_auc"] > 0.9
    lo, hi = cv["roc_auc_ci"]
    assert lo <= cv["roc_auc"] <= hi
    assert set(cv["permutation_importance"]) == {e.layer for e in load_recipe("iocg-kolari-ml").evidence}
    manifest = json.loads(result.manifest_json.read_text())
    assert "seed = 0" in json.dumps(manifest)  # the recipe text with its seed travels in the manifest
