"""Recipes say how every layer is made: parsing, refusals naming file and key, units, the builder."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import xarray as xr

from geosurvey import evidence
from geosurvey.errors import BandError, InputError, MissingInputError, RecipeError
from geosurvey.prospectivity import (
    EVIDENCE_FUNCTIONS,
    EvidenceContext,
    Params,
    build_evidence,
    load_recipe,
    membership,
    parse_recipe,
    score,
    shipped_recipes,
)
from geosurvey.runner import evaluate_run, score_evidence
from geosurvey.testing import grid_like, raise_if_dask_computes
from geosurvey.units import UnitsError, canonical_units, check_layer_units

RNG = np.random.default_rng(7)

BASE = """
id = "t"
method = "fuzzy-gamma"
[scoring]
gamma = 0.8
[[evidence]]
layer = "tilt"
units = "rad"
band = "mag_tmi"
steps = [{ fn = "reduction_to_pole" }, { fn = "tilt_derivative" }]
[evidence.membership]
kind = "sigmoid"
midpoint = 0.0
spread = 0.25
"""


def write(tmp_path: Path, text: str, name: str = "r.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_shipped_recipe_parses_and_is_frozen_and_hashable() -> None:
    names = shipped_recipes()
    assert {"demo-iocg", "iocg-kolari"} <= set(names)
    for name in names:
        recipe = load_recipe(name)
        assert recipe.source == f"geosurvey:{name}" and recipe.text
        assert hash(recipe) == hash(load_recipe(name))  # no dicts inside: hashable, stable
        for spec in recipe.evidence:
            assert canonical_units(spec.units) == spec.units
            for step in spec.steps:
                assert step.fn in EVIDENCE_FUNCTIONS
    recipe = load_recipe("iocg-kolari")
    with pytest.raises(TypeError):
        recipe.scoring["gamma"] = 0.1  # type: ignore[index]
    with pytest.raises(AttributeError):
        recipe.method = "fuzzy-or"  # type: ignore[misc]
    assert recipe.bands == ("mag_tmi", "k", "aem_resistivity")
    assert recipe.features == ("faults",)
    assert all(spec.why and spec.reference for spec in recipe.evidence)


def test_params_behave_as_a_frozen_mapping() -> None:
    p = Params({"b": [1, 2], "a": {"x": 1.5}})
    assert p["b"] == (1, 2) and p["a"]["x"] == 1.5 and list(p) == ["a", "b"]
    assert p == Params({"a": {"x": 1.5}, "b": [1, 2]}) and hash(p) == hash(Params(p.to_dict()))
    assert p.to_dict() == {"a": {"x": 1.5}, "b": [1, 2]}


def test_recipe_hash_is_the_sha256_of_its_text(tmp_path: Path) -> None:
    import hashlib

    path = write(tmp_path, BASE)
    assert load_recipe(path).sha256 == hashlib.sha256(BASE.encode()).hexdigest()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('id = "t"', 'id = "t"\nbogus = 1', r"top level: unknown key\(s\) 'bogus'"),
        ('layer = "tilt"', 'layer = "tilt"\ncolour = "red"', r"evidence 'tilt': unknown key\(s\) 'colour'"),
        ('{ fn = "tilt_derivative" }', '{ fn = "tilt_derivativ" }', r"step 2 \(tilt_derivativ\): unknown function 'tilt_derivativ'"),
        ('{ fn = "tilt_derivative" }', '{ fn = "tilt_derivative", order = 2 }', r"tilt_derivative takes no parameter\(s\) 'order'"),
        ('{ fn = "tilt_derivative" }', '{ fn = "upward_continuation" }', "upward_continuation needs parameter"),
        ('band = "mag_tmi"', 'band = "mag_tmx"', r"unknown band\(s\) 'mag_tmx'"),
        ('units = "rad"', 'units = "radz"', r"evidence 'tilt': unknown units 'radz'"),
        ('band = "mag_tmi"', 'features = "faults"', "reduction_to_pole takes grid input and cannot be used as the first step on features 'faults'"),
        ('band = "mag_tmi"', 'band = "mag_tmi"\nbands = ["k"]', "give exactly one source"),
        ("spread = 0.25", "spread = 0.0", "needs spread > 0"),
        ('kind = "sigmoid"\nmidpoint = 0.0\nspread = 0.25', 'kind = "linear"\nlow = 2.0\nhigh = 1.0', "needs low < high"),
        ('kind = "sigmoid"', 'kind = "cubic"', "unknown membership kind 'cubic'"),
        ("spread = 0.25", "spread = 0.25\nlow = 1.0", r"membership 'sigmoid': unknown key\(s\) 'low'"),
        ("gamma = 0.8", "gamma = 1.5", r"\[scoring\]: gamma must be a number in \[0, 1\]"),
        ('method = "fuzzy-gamma"', 'method = "neural"', "unknown method 'neural'"),
        ("[evidence.membership]", "[evidence.weights]\nkind = 'ascending'\n[evidence.membership]", r"\[evidence.weights\] does not apply to method 'fuzzy-gamma'"),
        ("steps = [", "steps = 3\nx = [", r"unknown key\(s\) 'x'"),
    ],
)
def test_bad_recipes_are_refused_naming_the_file_and_the_key(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in BASE
    path = write(tmp_path, BASE.replace(old, new, 1), "bad-recipe.toml")
    with pytest.raises(RecipeError, match=message) as info:
        load_recipe(path)
    assert f"recipe {path}" in str(info.value) and "\n" not in str(info.value)


def test_band_ratio_needs_its_bands_and_a_layer_needs_units(tmp_path: Path) -> None:
    ratio = BASE.replace('band = "mag_tmi"', 'bands = ["swir16", "swir22"]').replace(
        'steps = [{ fn = "reduction_to_pole" }, { fn = "tilt_derivative" }]',
        'steps = [{ fn = "band_ratio", numerator = "swir16", denominator = "nir" }]',
    )
    with pytest.raises(RecipeError, match="band_ratio's denominator 'nir' must be one of the bands"):
        load_recipe(write(tmp_path, ratio))
    with pytest.raises(RecipeError, match="missing 'units'"):
        load_recipe(write(tmp_path, BASE.replace('units = "rad"\n', "")))
    with pytest.raises(RecipeError, match="not valid TOML"):
        load_recipe(write(tmp_path, "id = \n"))
    with pytest.raises(MissingInputError, match=r"shipped recipes: .*iocg-kolari"):
        load_recipe("no-such-recipe")
    with pytest.raises(MissingInputError, match="does not exist"):
        load_recipe(tmp_path / "missing.toml")


def test_units_are_canonical_and_mismatches_refused() -> None:
    assert canonical_units("metres") == "m"
    assert canonical_units("nT / m") == "nT/m"
    assert canonical_units("nT/m2") == "nT/m2"
    assert canonical_units("ohm.m") == "ohm m"
    assert canonical_units("dimensionless") == "1"
    assert canonical_units("ppm/%") == "ppm/%" != canonical_units("%/ppm")
    with pytest.raises(UnitsError, match="unknown units 'furlong'"):
        canonical_units("furlong")
    with pytest.raises(
        UnitsError, match=r"recipe my\.toml: layer 'fault_distance' is in 'km' but the recipe expects 'm'"
    ):
        check_layer_units("km", "m", layer="fault_distance", recipe="my.toml")
    check_layer_units("metre", "m", layer="d", recipe="r")  # same units, other spelling
    with pytest.raises(UnitsError, match="has no units"):
        check_layer_units("unknown", "m", layer="d", recipe="r")


def _dataset(chunks: int | None = 16) -> xr.Dataset:
    ny, nx = 48, 40
    yy, xx = np.mgrid[0:ny, 0:nx]
    mag = 200 * np.exp(-((yy - 20) ** 2 + (xx - 18) ** 2) / 40.0) + RNG.normal(0, 1, (ny, nx))
    ds = xr.Dataset(
        {
            "mag_tmi": grid_like(mag, name="mag_tmi", units="nT", chunks=chunks),
            "eth": grid_like(RNG.uniform(5, 15, (ny, nx)), name="eth", units="ppm", chunks=chunks),
            "k": grid_like(RNG.uniform(0.5, 3, (ny, nx)), name="k", units="%", chunks=chunks),
        }
    )
    for name in ds.data_vars:
        ds[name].attrs["units"] = {"mag_tmi": "nT", "eth": "ppm", "k": "%"}[name]
    return ds


def _faults(ds: xr.Dataset) -> gpd.GeoDataFrame:
    x, y = ds.x.values, ds.y.values
    line = shapely.LineString([(x[5], y[3]), (x[30], y[40])])
    return gpd.GeoDataFrame({"kind": ["fault"]}, geometry=[line], crs="EPSG:32611")


def test_build_evidence_equals_the_functions_called_by_hand_and_stays_lazy() -> None:
    recipe = load_recipe("demo-iocg")
    ds = _dataset()
    ds["swir16"] = grid_like(RNG.uniform(0.2, 0.4, (48, 40)), name="swir16", units="1", chunks=16)
    ds["swir22"] = grid_like(RNG.uniform(0.15, 0.3, (48, 40)), name="swir22", units="1", chunks=16)
    faults = _faults(ds)
    with raise_if_dask_computes():
        layers = build_evidence(ds, recipe, features={"faults": faults},
                                context=EvidenceContext(inclination=60.0, declination=10.0))
    assert list(layers) == ["tilt", "clay_hydroxyl", "eth_k", "fault_distance"]
    by_hand = {
        "tilt": evidence.tilt_derivative(
            evidence.reduction_to_pole(ds["mag_tmi"], inclination=60.0, declination=10.0)
        ),
        "clay_hydroxyl": evidence.clay_hydroxyl(ds),
        "eth_k": evidence.radiometric_ratio(ds["eth"], ds["k"]),
        "fault_distance": evidence.distance_to_features(faults, like=ds["mag_tmi"]),
    }
    for name, layer in layers.items():
        assert layer.name == name and layer.attrs["units"] == recipe.spec(name).units
        np.testing.assert_array_equal(layer.values, by_hand[name].values)


def test_build_evidence_refuses_missing_bands_features_and_field(tmp_path: Path) -> None:
    recipe = load_recipe("demo-iocg")
    ds = _dataset()
    with pytest.raises(BandError, match=r"layer 'clay_hydroxyl' needs band\(s\) \['swir16', 'swir22'\]"):
        build_evidence(ds, recipe, features={"faults": _faults(ds)},
                       context=EvidenceContext(60.0, 10.0))
    one = parse_recipe(BASE, source="one.toml")
    with pytest.raises(InputError, match="step reduction_to_pole needs declination"):
        build_evidence(ds, one)
    km = BASE.replace('band = "mag_tmi"\nsteps = [{ fn = "reduction_to_pole" }, { fn = "tilt_derivative" }]',
                      'features = "faults"\nsteps = [{ fn = "distance_to_features" }]').replace(
        'units = "rad"', 'units = "km"').replace('kind = "sigmoid"\nmidpoint = 0.0\nspread = 0.25',
                                                 'kind = "small"\nmidpoint = 1.5\nspread = 2.0')
    km_recipe = load_recipe(write(tmp_path, km, "km.toml"))
    with pytest.raises(UnitsError, match=rf"recipe {tmp_path / 'km.toml'}: layer 'tilt' is in 'm' but the recipe expects 'km'"):
        build_evidence(ds, km_recipe, features={"faults": _faults(ds)})
    with pytest.raises(InputError, match="features 'faults', which were not given"):
        build_evidence(ds, km_recipe)


def test_score_refuses_layers_in_other_units() -> None:
    recipe = load_recipe("demo-iocg")
    layers = {spec.layer: grid_like(RNG.uniform(0, 1, (8, 8)), name=spec.layer, units=spec.units)
              for spec in recipe.evidence}
    score(layers, recipe)  # the declared units pass
    layers["fault_distance"] = layers["fault_distance"].assign_attrs(units="km")
    with pytest.raises(UnitsError, match="layer 'fault_distance' is in 'km' but the recipe expects 'm'"):
        score(layers, recipe)


def test_memberships_raise_no_warning_at_compute_time_on_dask() -> None:
    values = np.array([[0.0, -1.0, 1e-300, 5.0], [1e300, np.nan, 3.0, 1e5]] * 8)
    grid = grid_like(values, chunks=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # np.errstate at graph time would not cover compute time
        for kind, params in (
            ("large", {"midpoint": 2.0, "spread": 3.0}),
            ("small", {"midpoint": 2.0, "spread": 3.0}),
            ("sigmoid", {"midpoint": 0.0, "spread": 1e-3}),
            ("gaussian", {"midpoint": 0.0, "spread": 1e-3}),
        ):
            mu = membership(grid, kind=kind, **params).compute().values  # type: ignore[arg-type]
            finite = np.isfinite(values)
            assert np.all((mu[finite] >= 0) & (mu[finite] <= 1)) and np.all(np.isnan(mu[~finite]))
    # the closed forms (ArcGIS fuzzy large/small) at ordinary values
    x = np.array([[1.0, 2.0, 4.0]])
    np.testing.assert_allclose(
        membership(grid_like(x), kind="large", midpoint=2.0, spread=3.0).values,
        1 / (1 + (x / 2.0) ** -3.0),
    )
    np.testing.assert_allclose(
        membership(grid_like(x), kind="small", midpoint=2.0, spread=3.0).values,
        1 / (1 + (x / 2.0) ** 3.0),
    )


def test_a_flat_score_is_reported_with_the_memberships_that_reach_zero_or_one() -> None:
    text = """
id = "flat"
method = "fuzzy-product"
[[evidence]]
layer = "a"
units = "1"
band = "k"
[evidence.membership]
kind = "linear"
low = 0.5
high = 1.0
[[evidence]]
layer = "b"
units = "1"
band = "eth"
[evidence.membership]
kind = "sigmoid"
midpoint = 0.5
spread = 0.1
"""
    recipe = parse_recipe(text, source="flat.toml")
    a = RNG.uniform(0, 1, (30, 30))  # half of it below low = 0.5: membership 0, product 0
    layers = {"a": grid_like(a, name="a", units="1"), "b": grid_like(RNG.uniform(0, 1, (30, 30)), name="b", units="1")}
    scored = score_evidence(layers, recipe)
    x, y = layers["a"].x.values, layers["a"].y.values
    occ = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x[[3, 10, 20]], y[[4, 12, 25]]), crs="EPSG:32611")
    report = evaluate_run(scored, layers, recipe, occ).report
    flat = report["flat_score"]
    assert flat["value"] == 0.0 and flat["share"] == pytest.approx(np.mean(a <= 0.5), abs=1e-6)
    assert flat["memberships_at_0_or_1"] == ["a"]
    assert set(report["evidence"]) == {"a", "b"} and report["evidence"]["a"]["evaluated_as"] == "membership"


def test_igrf_field_direction_at_kolari() -> None:
    import datetime as dt

    import ppigrf

    field = evidence.geomagnetic_field(24.0, 67.8, "2010-06-01")
    assert field.inclination == pytest.approx(77.4, abs=0.05)  # RECIPES.md: 77.4°, 9.4°
    assert field.declination == pytest.approx(9.4, abs=0.05)
    be, bn, bu = ppigrf.igrf(24.0, 67.8, 0.0, dt.datetime(2010, 6, 1))
    with warnings.catch_warnings():  # ppigrf's own helper warns about np.divide(where=) here
        warnings.simplefilter("ignore", UserWarning)
        inc, dec = ppigrf.get_inclination_declination(be, bn, bu)
    assert field.inclination == pytest.approx(float(np.ravel(inc)[0]), abs=1e-9)
    assert field.declination == pytest.approx(float(np.ravel(dec)[0]), abs=1e-9)
    with pytest.raises(InputError, match="outside IGRF"):
        evidence.geomagnetic_field(24.0, 67.8, "1850-01-01")
    with pytest.raises(InputError, match="not an ISO date"):
        evidence.geomagnetic_field(24.0, 67.8, "June 2010")
