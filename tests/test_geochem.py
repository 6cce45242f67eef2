"""Point geochemistry: the below-detection rule, CoDA transforms against their definitions,
reading CSV / GeoPackage / shapefile samples, and gridding checked on held-out samples.

Expected values are computed here from the formulas (Aitchison 1986; Filzmoser et al. 2018) or
with scikit-learn / verde directly, never from the code under test.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import verde as vd
from odc.geo.geobox import GeoBox
from sklearn.metrics import r2_score
from sklearn.neighbors import KNeighborsRegressor

from geosurvey import evidence as ev
from geosurvey.errors import CRSError, InputError, MissingInputError
from geosurvey.testing import raise_if_dask_computes

TILL = ("gtk_lapland_iocg", "vector", "IOCG_CLB_Till_Geochem_reg_511p.shp")


# ---------------------------------------------------------------------------------------------
# below detection
# ---------------------------------------------------------------------------------------------


def test_below_detection_rule_text_negative_flags_zero():
    values = pd.Series(["12.5", "<5", "-2", "0", "", "n.a.", ">1000", "3,5", "nd"])
    result = ev.replace_below_detection(values, detection_limit=0.4)
    expected = [12.5, 2.5, 1.0, 0.2, np.nan, np.nan, 1000.0, 3.5, 0.2]
    np.testing.assert_allclose(result.values, expected, equal_nan=True)
    assert result.below.tolist() == [False, True, True, True, False, False, False, False, True]
    np.testing.assert_allclose(result.limits[result.below], [5.0, 2.0, 0.4, 0.4])
    assert (result.n_below, result.n_above, result.n_missing) == (4, 1, 2)
    assert "4 of 9 values below detection -> half the detection limit" in result.note
    # the sentinels -9999 / -999 are missing values, not "< 9999"
    codes = ev.replace_below_detection(pd.Series([-9999.0, -999.0, -5.0, 7.0]))
    np.testing.assert_allclose(codes.values, [np.nan, np.nan, 2.5, 7.0], equal_nan=True)
    assert (codes.n_below, codes.n_missing) == (1, 2)
    assert np.isnan(ev.replace_below_detection(["-9999", "3"]).values[0])
    # the "nan" rule drops them instead
    dropped = ev.replace_below_detection(values, detection_limit=0.4, rule="nan")
    assert np.isnan(dropped.values[result.below]).all()
    assert dropped.values[0] == 12.5


def test_below_detection_flags_and_the_stated_fallback():
    # GTK style: the value is 0 and a qualifier column says "<"; no limit is stated
    values = pd.Series([0.0, 4.0, 0.7, 0.0, 9.0])
    flags = pd.Series([np.nan, "<", None, "<", "!"])
    result = ev.replace_below_detection(values, flags=flags, name="Th")
    # flagged 4.0 is taken at its reported value; the zeros at the lowest quantified value (0.7)
    np.testing.assert_allclose(result.values, [0.35, 2.0, 0.7, 0.35, 9.0])
    assert "lowest quantified value 0.7 (no limit stated)" in result.note
    assert "1 flagged at their reported value" in result.note


def test_below_detection_refusals():
    with pytest.raises(InputError, match=r"column 'Cu', row 1: cannot read 'abc'"):
        ev.replace_below_detection(["1", "abc"], name="Cu")
    with pytest.raises(InputError, match="give detection_limit"):
        ev.replace_below_detection([0.0, -0.0], name="Au")
    with pytest.raises(InputError, match="rule='zero'"):
        ev.replace_below_detection([1.0], rule="zero")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# compositional data analysis
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def comps():
    rng = np.random.default_rng(3)
    return rng.lognormal(mean=3, sigma=1.2, size=(50, 6))


def test_closure_and_clr_definitions(comps):
    closed = ev.closure(comps, total=100.0)
    np.testing.assert_allclose(closed.sum(axis=1), 100.0)
    z = ev.clr(comps)
    gmean = np.exp(np.log(comps).mean(axis=1, keepdims=True))
    np.testing.assert_allclose(z, np.log(comps / gmean), rtol=1e-12)
    np.testing.assert_allclose(z.sum(axis=1), 0.0, atol=1e-12)           # clr sums to zero
    np.testing.assert_allclose(ev.clr(closed), z, atol=1e-12)              # scale invariant
    np.testing.assert_allclose(ev.clr_inverse(z, total=100.0), closed, rtol=1e-10)  # round trip


def test_pivot_basis_is_orthonormal_and_gives_pivot_coordinates(comps):
    d = comps.shape[1]
    v = ev.pivot_basis(d)
    assert v.shape == (d - 1, d)
    np.testing.assert_allclose(v @ v.T, np.eye(d - 1), atol=1e-12)         # orthonormal
    np.testing.assert_allclose(v.sum(axis=1), 0.0, atol=1e-12)             # in the clr plane
    z = ev.ilr(comps)
    for i in range(d - 1):                                                 # Filzmoser et al. 2018
        rest = comps[:, i + 1:]
        g = np.exp(np.log(rest).mean(axis=1))
        expected = math.sqrt((d - i - 1) / (d - i)) * np.log(comps[:, i] / g)
        np.testing.assert_allclose(z[:, i], expected, rtol=1e-10, atol=1e-12)
    # isometry: Aitchison distances are Euclidean distances of ilr coordinates
    a, b = ev.clr(comps[:1]), ev.clr(comps[1:2])
    np.testing.assert_allclose(np.linalg.norm(a - b), np.linalg.norm(z[0] - z[1]), rtol=1e-12)
    back = ev.ilr_inverse(z, total=1.0)
    np.testing.assert_allclose(back, ev.closure(comps), rtol=1e-10)        # round trip
    one = comps[0]                                                         # one composition (1-D)
    np.testing.assert_allclose(ev.ilr_inverse(ev.ilr(one), total=100), ev.closure(one, total=100))
    two = comps[:, :2]                                                     # D = 2: ln(x1/x2)/sqrt(2)
    np.testing.assert_allclose(ev.ilr(two)[:, 0], np.log(two[:, 0] / two[:, 1]) / math.sqrt(2))


def test_coda_on_dataframes_and_refusals(comps):
    frame = pd.DataFrame(comps[:, :3], columns=["Cu", "Zn", "Pb"], index=range(10, 60))
    z = ev.ilr(frame)
    assert list(z.columns) == ["pivot_Cu", "pivot_Zn"] and list(z.index) == list(frame.index)
    assert list(ev.clr(frame).columns) == ["Cu", "Zn", "Pb"]
    bad = frame.copy()
    bad.iloc[4, 1] = 0.0
    with pytest.raises(InputError, match="part 'Zn' has 1 zero"):
        ev.clr(bad)
    with pytest.raises(InputError, match="orthonormal"):
        ev.ilr(frame, basis=np.ones((2, 3)))


# ---------------------------------------------------------------------------------------------
# reading samples
# ---------------------------------------------------------------------------------------------


def test_read_csv_lonlat_and_xy(tmp_path):
    path = tmp_path / "soil.csv"
    path.write_text(
        "sample,longitude,latitude,La_ppm,Ce_ppm\n"
        "S1,24.0,67.8,30,<2\nS2,24.1,67.85,-1,55\nS3,24.2,67.9,41,60\n",
        encoding="utf-8",
    )
    samples = ev.read_geochemistry(path, elements={"La": "La_ppm", "Ce": "Ce_ppm"})
    assert samples.crs.to_epsg() == 4326 and len(samples) == 3
    np.testing.assert_allclose(samples["La"], [30, 0.5, 41])
    np.testing.assert_allclose(samples["Ce"], [1.0, 55, 60])
    assert samples.attrs["geosurvey:units"] == {"La": "ppm", "Ce": "ppm"}
    assert any("Ce_ppm" not in line and "Ce: 1 of 3" in line for line in samples.attrs["geosurvey:history"])
    xy = tmp_path / "xy.csv"
    xy.write_text("x,y,Li\n400000,7500000,12\n401000,7501000,13\n", encoding="utf-8")
    with pytest.raises(CRSError, match="need their CRS"):
        ev.read_geochemistry(xy, elements=["Li"])
    assert ev.read_geochemistry(xy, elements=["Li"], crs="EPSG:3067").crs.to_epsg() == 3067
    with pytest.raises(InputError, match=r"no column\(s\) \['Cs'\]"):
        ev.read_geochemistry(xy, elements=["Cs"], crs="EPSG:3067")
    with pytest.raises(MissingInputError):
        ev.read_geochemistry(tmp_path / "nope.gpkg", elements=["Li"])


def test_read_gtk_till_shapefile_and_geopackage(shared_data, tmp_path):
    path = shared_data.joinpath(*TILL)
    samples = ev.read_geochemistry(
        path, elements={"Cu": "Cu_ppm_511", "Th": "Th_ppm_511", "Zr": "Zr_ppm_511"},
        flags={"Th": "Th_511P_T", "Zr": "Zr_511P_T"},
    )
    raw = gpd.read_file(path)
    assert len(samples) == 1112 and samples.crs == raw.crs
    th_below = (raw["Th_ppm_511"] == 0) | (raw["Th_511P_T"] == "<")
    assert int(th_below.sum()) == 26
    proxy = raw.loc[raw["Th_ppm_511"] > 0, "Th_ppm_511"].min()
    np.testing.assert_allclose(samples.loc[th_below, "Th"], proxy / 2)
    np.testing.assert_allclose(samples.loc[~th_below, "Th"], raw.loc[~th_below, "Th_ppm_511"])
    assert any("Th: 26 of 1112 values below detection" in h for h in samples.attrs["geosurvey:history"])
    # the same samples through a GeoPackage
    gpkg = tmp_path / "till.gpkg"
    raw[["Cu_ppm_511", "geometry"]].to_file(gpkg, layer="till", driver="GPKG")
    again = ev.read_geochemistry(gpkg, elements={"Cu": "Cu_ppm_511"}, layer="till")
    np.testing.assert_allclose(again["Cu"], samples["Cu"])


# ---------------------------------------------------------------------------------------------
# gridding
# ---------------------------------------------------------------------------------------------


def _truth(e, n):
    return 2.0 + np.sin(e / 7000.0) + np.cos(n / 9000.0)


@pytest.fixture(scope="module")
def synthetic_samples():
    rng = np.random.default_rng(7)
    e = rng.uniform(400_000, 430_000, 600)
    n = rng.uniform(7_500_000, 7_530_000, 600)
    conc = 10 ** _truth(e, n)                             # ppm, log-normal-like
    return gpd.GeoDataFrame({"Cu": conc}, geometry=gpd.points_from_xy(e, n), crs="EPSG:32635")


@pytest.mark.parametrize("method", ["idw", "spline"])
def test_gridded_geochemistry_predicts_held_out_samples(synthetic_samples, method):
    train, test = synthetic_samples.iloc[:500], synthetic_samples.iloc[500:]
    gbox = GeoBox.from_bbox((400_000, 7_500_000, 430_000, 7_530_000), crs="EPSG:32635", resolution=250)
    with raise_if_dask_computes():
        layer = ev.geochem_anomaly(train, gbox, column="Cu", units="ppm", transform="log10", method=method)
    assert layer.attrs["units"] == "1" and layer.attrs["concentration_units"] == "ppm"
    grid = layer.compute()
    sampled = grid.sel(x=xr_points(test.geometry.x), y=xr_points(test.geometry.y), method="nearest")
    pred = sampled.values
    ok = np.isfinite(pred)
    assert ok.mean() > 0.95
    truth = np.log10(test["Cu"].to_numpy())
    assert r2_score(truth[ok], pred[ok]) > (0.9 if method == "spline" else 0.8)
    assert 0.5 < layer.attrs["cv_r2"] <= 1.0
    assert "BlockKFold" in layer.attrs["history"]


def xr_points(values):
    import xarray as xr

    return xr.DataArray(np.asarray(values), dims="pt")


@pytest.mark.filterwarnings("error::FutureWarning")  # the blocks' predictions warn of nothing
def test_idw_and_spline_equal_independent_fits(synthetic_samples):
    gbox = GeoBox.from_bbox((400_000, 7_500_000, 430_000, 7_530_000), crs="EPSG:32635", resolution=1000)
    e, n = synthetic_samples.geometry.x.to_numpy(), synthetic_samples.geometry.y.to_numpy()
    data = np.log10(synthetic_samples["Cu"].to_numpy())
    gx, gy = np.meshgrid(gbox.coordinates["x"].values, gbox.coordinates["y"].values)
    knn = KNeighborsRegressor(n_neighbors=12, weights=lambda d: 1.0 / d**2).fit(np.column_stack([e, n]), data)
    expected = knn.predict(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    idw = ev.geochem_anomaly(synthetic_samples, gbox, column="Cu", units="ppm", max_distance=1e9).values
    np.testing.assert_allclose(idw, expected, rtol=2e-6)
    spline = vd.Spline(damping=1e-6).fit((e, n), data).predict((gx, gy))
    got = ev.geochem_anomaly(synthetic_samples, gbox, column="Cu", units="ppm", method="spline",
                             max_distance=1e9).values
    np.testing.assert_allclose(got, spline, rtol=1e-4, atol=1e-5)


def test_fold_scores_equal_verde_cross_val_score_and_warn_of_nothing(synthetic_samples):
    """The per-fold R² (a fresh gridder a fold) equal verde's own cross_val_score, which clones
    the gridder instead; made with every warning an error (no catch_warnings to hide any)."""
    import warnings

    import harmonica as hm

    from geosurvey.evidence._common import cross_val_r2
    from geosurvey.evidence._geochem import InverseDistanceGridder

    e, n = synthetic_samples.geometry.x.to_numpy(), synthetic_samples.geometry.y.to_numpy()
    data = np.log10(synthetic_samples["Cu"].to_numpy())
    up = np.full_like(e, 100.0)
    cases = [
        (lambda: vd.Spline(damping=1e-6), (e, n)),
        (lambda: InverseDistanceGridder(power=2.0, neighbours=12), (e, n)),
        (lambda: hm.EquivalentSources(depth=2000.0, damping=1.0), (e, n, up)),
    ]
    for make, coords in cases:
        cv = vd.BlockKFold(spacing=4000.0, n_splits=4, shuffle=True, random_state=0)
        with warnings.catch_warnings():  # the test's main thread only; verde's clone warns
            warnings.simplefilter("ignore", FutureWarning)
            expected = vd.cross_val_score(make(), coords, data, cv=cv, scoring="r2")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = cross_val_r2(make, coords, data, cv)
        assert got.shape == (4,) and got.dtype == np.float64
        np.testing.assert_allclose(got, expected, rtol=1e-10)
        assert np.ptp(got) > 0  # the folds differ: a real split, not one fit scored four times


def test_clr_pivot_and_robust_z_layers(synthetic_samples):
    rng = np.random.default_rng(1)
    samples = synthetic_samples.assign(Zn=rng.lognormal(3, 0.5, len(synthetic_samples)),
                                       Pb=rng.lognormal(2, 0.5, len(synthetic_samples)))
    gbox = GeoBox.from_bbox((400_000, 7_500_000, 430_000, 7_530_000), crs="EPSG:32635", resolution=1000)
    parts = ["Cu", "Zn", "Pb"]
    clr_layer = ev.geochem_anomaly(samples, gbox, column="Cu", units="ppm", transform="clr",
                                   components=parts, max_distance=1e9)
    pivot = ev.geochem_anomaly(samples, gbox, column="Cu", units="ppm", transform="ilr-pivot",
                               components=parts, max_distance=1e9)
    # IDW is linear in the data: the pivot layer is sqrt(D/(D-1)) x the clr layer
    np.testing.assert_allclose(pivot.values, math.sqrt(3 / 2) * clr_layer.values, rtol=1e-5)
    assert clr_layer.attrs["units"] == "1"
    z = ev.geochem_anomaly(samples, gbox, column="Cu", units="ppm", transform="log10",
                           standardize="robust-z", max_distance=1e9)
    logs = np.log10(samples["Cu"].to_numpy())
    med = np.median(logs)
    mad = 1.4826 * np.median(np.abs(logs - med))
    plain = ev.geochem_anomaly(samples, gbox, column="Cu", units="ppm", max_distance=1e9)
    np.testing.assert_allclose(z.values, (plain.values - med) / mad, rtol=1e-4, atol=1e-5)
    with pytest.raises(InputError, match="needs components"):
        ev.geochem_anomaly(samples, gbox, column="Cu", units="ppm", transform="clr")
    with pytest.raises(InputError, match="units of 'Cu' are unknown"):
        ev.geochem_anomaly(samples, gbox, column="Cu")
    with pytest.raises(InputError, match=r"no column\(s\) \['Ni'\]"):
        ev.geochem_anomaly(samples, gbox, column="Ni", units="ppm")


def test_mask_beyond_max_distance_and_chunks(synthetic_samples):
    import dask.array as da
    import xarray as xr
    from odc.geo.xr import xr_coords

    gbox = GeoBox.from_bbox((380_000, 7_500_000, 430_000, 7_530_000), crs="EPSG:32635", resolution=500)
    like = xr.DataArray(da.zeros(gbox.shape.yx, chunks=(20, 30)), coords=xr_coords(gbox, crs_coord_name="spatial_ref"), dims=("y", "x"))
    layer = ev.geochem_anomaly(synthetic_samples, like, column="Cu", units="ppm", max_distance=2000)
    assert layer.chunks == like.chunks
    values = layer.values
    from scipy.spatial import distance_matrix

    gx, gy = np.meshgrid(gbox.coordinates["x"].values, gbox.coordinates["y"].values)
    pts = np.column_stack([synthetic_samples.geometry.x, synthetic_samples.geometry.y])
    near = distance_matrix(np.column_stack([gx.ravel(), gy.ravel()]), pts).min(axis=1) <= 2000
    np.testing.assert_array_equal(np.isfinite(values).ravel(), near)
    assert (~near).sum() > 1000  # the western strip (no samples west of 400 km) is masked


def test_gtk_till_geochemistry_as_evidence(shared_data):
    from geosurvey.evaluation import evaluate

    till = gpd.read_file(shared_data.joinpath(*TILL))
    deposits = gpd.read_file(shared_data / "gtk_lapland_iocg" / "vector" / "IOCG_Deps_Prosp_Occs_2.shp")
    gbox = GeoBox.from_bbox((345975, 7458025, 414025, 7540125), crs="EPSG:3067", resolution=500)
    # hold out every fifth sample: the grid of the others must predict them better than their mean
    held = np.arange(len(till)) % 5 == 0
    layer = ev.geochem_anomaly(till[~held], gbox, column="La_ppm_511", units="ppm")
    test = till[held]
    pred = layer.compute().sel(x=xr_points(test.geometry.x), y=xr_points(test.geometry.y), method="nearest").values
    ok = np.isfinite(pred)
    assert ok.mean() > 0.9
    assert r2_score(np.log10(test["La_ppm_511"].to_numpy()[ok]), pred[ok]) > 0.2
    # the clr of La in a major-element composition, with GTK's qualifier flags, as evidence
    parts = ["La_ppm_511", "Fe_ppm_511", "Al_ppm_511", "Mg_ppm_511", "Ca_ppm_511", "Th_ppm_511"]
    flags = ["", "", "", "", "", "Th_511P_T"]
    clr_la = ev.geochem_anomaly(till, gbox, column="La_ppm_511", units="ppm", transform="clr",
                                components=parts, flags=flags)
    assert "Th_ppm_511: 26 of 1112 values below detection" in clr_la.attrs["history"]
    with pytest.warns(UserWarning, match="outside the grid"):
        result = evaluate(clr_la.compute(), deposits)
    assert 0.0 <= result.roc_auc <= 1.0


def test_geochem_anomaly_in_a_recipe_chain_on_gtk_till(shared_data):
    """A recipe's ``features = "till"`` layer calls geochem_anomaly(features, like, ...) exactly
    as a direct call does."""
    from odc.geo.xr import xr_zeros

    from geosurvey.prospectivity import build_evidence, parse_recipe

    recipe = parse_recipe('''
id = "till-test"
method = "fuzzy-gamma"
[[evidence]]
layer = "la_till"
units = "1"
features = "till"
steps = [
  { fn = "geochem_anomaly", column = "La_ppm_511", units = "ppm", transform = "clr", components = ["La_ppm_511", "Fe_ppm_511", "Th_ppm_511"], flags = ["", "", "Th_511P_T"] },
]
[evidence.membership]
kind = "linear"
low = 0.0
high = 1.0
''', source="test")
    till = gpd.read_file(shared_data.joinpath(*TILL))
    gbox = GeoBox.from_bbox((345975, 7458025, 414025, 7540125), crs="EPSG:3067", resolution=1000)
    ds = xr_zeros(gbox, dtype="float32", chunks=(40, 40)).to_dataset(name="mag_tmi")
    with raise_if_dask_computes():
        layers = build_evidence(ds, recipe, features={"till": till})
    direct = ev.geochem_anomaly(till, ds["mag_tmi"], column="La_ppm_511", units="ppm", transform="clr",
                                components=["La_ppm_511", "Fe_ppm_511", "Th_ppm_511"],
                                flags=["", "", "Th_511P_T"])
    np.testing.assert_allclose(layers["la_till"].values, direct.values, equal_nan=True)
    assert layers["la_till"].attrs["units"] == "1" and layers["la_till"].chunks == ds["mag_tmi"].chunks
