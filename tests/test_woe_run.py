"""A weights-of-evidence recipe runs through geosurvey.runner.run on the real GTK Kolari data, and
its score is the posterior recomputed here from the run's own evidence layers with the textbook
formulas (Bonham-Carter 1994, ch. 9)."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio

from geosurvey.catalogs import BandInfo, ingest
from geosurvey.prospectivity import load_recipe
from geosurvey.runner import run

from conftest import require_shared

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def woe_run(tmp_path_factory):
    gtk = require_shared("gtk_lapland_iocg")
    src = tmp_path_factory.mktemp("gtk_src")
    os.symlink(gtk / "grids_100m" / "mag_tmi_dgrf65_anomaly_nT.tif", src / "mag_tmi_dgrf65_anomaly_nT.tif")
    work = tmp_path_factory.mktemp("woe")
    catalog = ingest(
        src, work / "catalog", collection="gtk-lapland-grids",
        datetime=dt.datetime(2010, 1, 1, tzinfo=dt.UTC),
        bands={"mag_tmi_dgrf65_anomaly_nT": BandInfo("mag_tmi", units="nT")}, license="CC-BY-4.0",
    )  # fmt: skip
    lithology = gpd.read_file(gtk / "vector" / "IOCG_CLB_Lith_Asstn_1M.shp")
    lithology["geometry"] = lithology.geometry.make_valid()  # one self-intersecting polygon in the 1:1M map
    result = run(
        "kolari-iocg", "iocg-kolari-woe", sources=[str(catalog)], out=work / "out",
        registry=REPO / "aoi", occurrences=gtk / "vector" / "IOCG_Deps_Prosp_Occs_2.shp",
        features={"faults": gtk / "vector" / "IOCG_CLB_Structures_1M.shp", "lithology": lithology},
        survey_date="2010-06-01", echo=lambda line: None,
    )  # fmt: skip
    return result, json.loads(result.report_json.read_text())


def _read(path):
    with rasterio.open(path) as f:
        return f.read(1, masked=True).astype(np.float64).filled(np.nan), f.transform, f.tags()


@pytest.mark.slow
def test_the_run_writes_a_weights_of_evidence_report(woe_run) -> None:
    result, report = woe_run
    assert report["recipe"]["id"] == "iocg-kolari-woe" and report["recipe"]["method"] == "weights-of-evidence"
    method = report["method_report"]
    assert set(method["weights"]) == {"mag_rtp", "fault_distance", "lithology"}
    for table in method["weights"].values():
        assert list(table["table"][0]) == ["class", "lower", "upper", "n_cells", "n_deposits", "w_plus",
                                           "s_w_plus", "w_minus", "s_w_minus", "contrast", "s_contrast",
                                           "studentized_contrast", "undefined"]  # fmt: skip
        assert table["n_deposits"] == 17  # the 17 in-grid deposits, each on its own pixel
    ci = method["conditional_independence"]
    assert ci["observed"] == 17 and ci["ratio"] == pytest.approx(17 / ci["predicted"])
    assert len(ci["pairwise"]) == 3
    assert (result.out / "posterior_std.tif").exists()
    # a strong map: the README's magnetic baseline is AUC ~0.95
    assert report["score"]["roc_auc"] > 0.9
    assert report["score"]["capture_table"]["top_20pct"] > 0.8


@pytest.mark.slow
def test_the_score_is_the_posterior_of_the_runs_evidence_layers(woe_run) -> None:
    result, report = woe_run
    recipe = load_recipe("iocg-kolari-woe")
    layers = {spec.layer: _read(result.out / "evidence" / f"{spec.layer}.tif")[0] for spec in recipe.evidence}
    layers["lithology"][layers["lithology"] == -1] = np.nan
    valid = np.logical_and.reduce([np.isfinite(v) for v in layers.values()])
    score, transform, _ = _read(result.score_cog)
    std, _, _ = _read(result.out / "posterior_std.tif")
    deposits = gpd.read_file(require_shared("gtk_lapland_iocg", "vector", "IOCG_Deps_Prosp_Occs_2.shp"))
    cols = np.floor((deposits.geometry.x.values - transform.c) / transform.a).astype(int)
    rows = np.floor((deposits.geometry.y.values - transform.f) / transform.e).astype(int)
    ny, nx = score.shape
    ok = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
    cells = sorted({(r, c) for r, c in zip(rows[ok], cols[ok], strict=True) if valid[r, c]})
    n_t, n_d = float(valid.sum()), float(len(cells))
    assert n_d == 17
    method = report["method_report"]
    logit = np.full(score.shape, math.log((n_d / n_t) / (1 - n_d / n_t)))
    var = np.full(score.shape, 1 / n_d)
    for spec in recipe.evidence:
        table = method["weights"][spec.layer]["table"]
        chosen = method["generalised"][spec.layer]["classes"]
        values = layers[spec.layer]
        rows_chosen = [r for r in table if r["class"] in chosen]
        if spec.weights["kind"] in ("ascending", "descending"):
            (row,) = rows_chosen  # the cumulative pattern of one row
            low, high = row["lower"], row["upper"]
            top = high == max(r["upper"] for r in table)
            inside = (values >= low) & ((values <= high) if top else (values < high))
        else:
            inside = np.isin(values, chosen)
        inside &= valid
        n_b = float(inside.sum())
        n_bd = float(sum(inside[r, c] for r, c in cells))
        wp = math.log((n_bd / n_d) / ((n_b - n_bd) / (n_t - n_d)))
        wm = math.log(((n_d - n_bd) / n_d) / ((n_t - n_b - n_d + n_bd) / (n_t - n_d)))
        got = method["generalised"][spec.layer]
        assert got["w_plus"] == pytest.approx(wp, rel=1e-9) and got["w_minus"] == pytest.approx(wm, rel=1e-9)
        weights_map, _, _ = _read(result.out / f"weights_{spec.layer}.tif")
        np.testing.assert_allclose(weights_map[valid], np.where(inside, wp, wm)[valid], rtol=1e-6)
        logit += np.where(inside, wp, wm)
        var += np.where(inside, 1 / n_bd + 1 / (n_b - n_bd), 1 / (n_d - n_bd) + 1 / (n_t - n_b - n_d + n_bd))
    p = 1 / (1 + np.exp(-logit))
    np.testing.assert_allclose(score[valid], p[valid], rtol=2e-6)
    np.testing.assert_allclose(std[valid], (p * np.sqrt(var))[valid], rtol=2e-6)
    assert np.isnan(score[~valid]).all()


RECIPE = """
id = "woe-test"
title = "t"
title_ja = "t"
method = "weights-of-evidence"
deposit_models = ["iocg"]
[scoring]
{scoring}
[[evidence]]
layer = "mag"
units = "nT"
band = "mag_tmi"
[evidence.weights]
{weights}
"""


@pytest.mark.parametrize(
    ("scoring", "weights", "message"),
    [
        ("", 'kind = "cumulative"', "weights kind must be one of"),
        ("", 'kind = "ascending"\nbins = 3', "unknown key"),
        ("", 'kind = "ascending"\nclassify = "quantile"\nclasses = [1, 2]', "number of classes"),
        ("", 'kind = "ascending"\nclasses = [3, 1]', "increasing edges"),
        ("", 'kind = "categorical"\nclassify = "quantile"', "drop classify"),
        ("", 'kind = "unique"\ngeneralise = "class"', "needs class"),
        ("", 'kind = "unique"\ngeneralise = "best"', "generalise must be one of"),
        ('correction = "laplace"', 'kind = "unique"', "correction must be"),
        ("unit_cell_km2 = -1", 'kind = "unique"', "unit_cell_km2 must be a positive"),
    ],
)
def test_bad_weights_tables_are_refused_in_one_line(scoring, weights, message) -> None:
    from geosurvey.errors import RecipeError
    from geosurvey.prospectivity import parse_recipe

    with pytest.raises(RecipeError, match=message) as info:
        parse_recipe(RECIPE.format(scoring=scoring, weights=weights), source="woe-test.toml")
    assert "\n" not in str(info.value) and "woe-test.toml" in str(info.value)


def test_a_weights_recipe_without_occurrences_is_refused() -> None:
    from geosurvey.errors import RecipeError
    from geosurvey.prospectivity import score_layers
    from geosurvey.testing import grid_like

    recipe = load_recipe("iocg-kolari-woe")
    layers = {spec.layer: grid_like(np.ones((4, 4)), name=spec.layer, units=spec.units) for spec in recipe.evidence}
    with pytest.raises(RecipeError, match="needs training occurrences"):
        score_layers(layers, recipe)
