"""Weights of evidence against the textbook formulas (Bonham-Carter 1994, ch. 9), computed here
independently: hand-worked small tables, and the real GTK magnetic grid in 10 quantile classes."""

from __future__ import annotations

import math

import dask
import geopandas as gpd
import numpy as np
import pytest
import rasterio
from scipy import stats
from shapely.geometry import Point

from geosurvey.errors import InputError
from geosurvey.prospectivity import (
    conditional_independence,
    pairwise_chi_square,
    posterior,
    weights_of_evidence,
)
from geosurvey.testing import grid_like, raise_if_dask_computes

from conftest import require_shared

COLUMNS = ["class", "lower", "upper", "n_cells", "n_deposits", "w_plus", "s_w_plus", "w_minus",
           "s_w_minus", "contrast", "s_contrast", "studentized_contrast", "undefined"]  # fmt: skip

# 4 × 4 class codes; one nodata pixel; deposits at (0,0), (0,1), again (0,0), (1,2)
CODES = np.array([[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 3, np.nan], [3, 3, 3, 3]], float)
CELLS = [(0, 0), (0, 1), (0, 0), (1, 2)]


def _points(grid, cells, crs="EPSG:32611"):
    pts = [Point(float(grid.x[c]) + 10.0, float(grid.y[r]) - 10.0) for r, c in cells]
    return gpd.GeoDataFrame({"name": [f"d{i}" for i in range(len(pts))]}, geometry=pts, crs=crs)


def _textbook(n_b, n_bd, n_t, n_d):
    """Bonham-Carter (1994, ch. 9), written out with the conditional probabilities."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p_b_d = n_bd / n_d                          # P(B | D)
        p_b_nd = (n_b - n_bd) / (n_t - n_d)         # P(B | not D)
        p_nb_d = (n_d - n_bd) / n_d                 # P(not B | D)
        p_nb_nd = (n_t - n_b - n_d + n_bd) / (n_t - n_d)
        wp = np.log(p_b_d / p_b_nd)
        wm = np.log(p_nb_d / p_nb_nd)
        vp = 1 / n_bd + 1 / (n_b - n_bd)
        vm = 1 / (n_d - n_bd) + 1 / (n_t - n_b - n_d + n_bd)
        return {"w_plus": wp, "s_w_plus": np.sqrt(vp), "w_minus": wm, "s_w_minus": np.sqrt(vm),
                "contrast": wp - wm, "s_contrast": np.sqrt(vp + vm),
                "studentized_contrast": (wp - wm) / np.sqrt(vp + vm)}  # fmt: skip


def _assert_table(table, expected, rtol=1e-12):
    for key, want in expected.items():
        got = table[key].to_numpy(dtype=float)
        want = np.asarray(want, dtype=float)
        assert np.array_equal(np.isnan(got), np.isnan(want)), key
        assert np.array_equal(np.isinf(got) & (got > 0), np.isinf(want) & (want > 0)), key
        assert np.array_equal(np.isinf(got) & (got < 0), np.isinf(want) & (want < 0)), key
        ok = np.isfinite(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=rtol, atol=0, err_msg=key)


def test_unique_weights_by_hand() -> None:
    grid = grid_like(CODES, name="codes")
    with pytest.warns(UserWarning, match="2 share a pixel"):
        w = weights_of_evidence(grid, _points(grid, CELLS), kind="unique")
    t = w.table
    assert list(t.columns) == COLUMNS
    assert t["class"].tolist() == [1.0, 2.0, 3.0]
    assert t["n_cells"].tolist() == [4, 4, 7] and t["n_deposits"].tolist() == [2, 1, 0]
    assert w.n_cells == 15 and w.n_deposits == 3  # the shared pixel counts once
    assert w.occurrences == {"given": 4, "outside_grid": 0, "on_nodata": 0, "on_valid": 4,
                             "valid_cells": 3, "sharing_a_cell": 2}  # fmt: skip
    # class 1: a = 2, b = 2, c = 1, d = 10 (N(T) = 15, N(D) = 3), worked by hand:
    assert t.w_plus[0] == pytest.approx(math.log((2 / 3) / (2 / 12)), rel=1e-14)  # ln 4
    assert t.w_minus[0] == pytest.approx(math.log((1 / 3) / (10 / 12)), rel=1e-14)
    assert t.s_w_plus[0] == pytest.approx(math.sqrt(1 / 2 + 1 / 2), rel=1e-14)
    assert t.s_w_minus[0] == pytest.approx(math.sqrt(1 / 1 + 1 / 10), rel=1e-14)
    assert t.contrast[0] == pytest.approx(math.log(4) - math.log(0.4), rel=1e-14)
    # class 3 has no deposits: W+ = ln 0 = -inf, never a silent 0
    assert t.w_plus[2] == -np.inf and t.s_w_plus[2] == np.inf
    assert t.undefined[2] == "no deposits in the class" and t.undefined[0] == ""
    assert math.isnan(t.studentized_contrast[2])


def test_cumulative_weights_and_a_class_holding_every_deposit() -> None:
    grid = grid_like(CODES, name="codes")
    occ = _points(grid, CELLS[:2] + CELLS[3:])
    asc = weights_of_evidence(grid, occ, kind="ascending").table
    # "class <= 2" holds all 3 deposits: W- = ln(0) = -inf
    assert asc.n_cells.tolist() == [4, 8, 15] and asc.n_deposits.tolist() == [2, 3, 3]
    assert asc.lower.tolist() == [1, 1, 1] and asc.upper.tolist() == [1, 2, 3]
    assert asc.w_minus[1] == -np.inf
    assert asc.undefined[1] == "the cumulative class holds every deposit"
    _assert_table(asc, _textbook(np.array([4, 8, 15.0]), np.array([2, 3, 3.0]), 15.0, 3.0))
    desc = weights_of_evidence(grid, occ, kind="descending").table
    assert desc.n_cells.tolist() == [15, 11, 7] and desc.n_deposits.tolist() == [3, 1, 0]
    assert desc.undefined[2] == "no deposits in the cumulative class"
    _assert_table(desc, _textbook(np.array([15, 11, 7.0]), np.array([3, 1, 0.0]), 15.0, 3.0))
    # a unique class holding every deposit
    one = weights_of_evidence(grid, _points(grid, [(0, 0), (1, 1)]), kind="unique").table
    assert one.w_minus[0] == -np.inf and one.undefined[0] == "the class holds every deposit"


def test_an_empty_class_and_given_edges() -> None:
    values = np.array([[0.1, 0.5, 2.5, 2.9], [0.2, 0.7, 2.2, 2.4], [0.3, 0.9, 2.1, 9.0]])
    grid = grid_like(values, name="v")
    occ = _points(grid, [(0, 0), (1, 2)])
    with pytest.warns(UserWarning, match="1 pixel\\(s\\) with values outside the class edges"):
        w = weights_of_evidence(grid, occ, kind="unique", classes=[0.0, 1.0, 2.0, 3.0])
    t = w.table
    assert t.n_cells.tolist() == [6, 0, 5] and w.n_cells == 11 and w.classify == "edges"
    assert t.lower.tolist() == [0, 1, 2] and t.upper.tolist() == [1, 2, 3]
    assert math.isnan(t.w_plus[1]) and t.undefined[1] == "the class is empty"
    with pytest.warns(UserWarning, match="outside the class edges"):
        asc = weights_of_evidence(grid, occ, kind="ascending", classes=[0.0, 1.0, 2.0, 3.0]).table
    # an empty class leaves the cumulative pattern as it was: same (finite) weights as class 1
    assert asc.w_plus[1] == asc.w_plus[0] and asc.undefined[1] == ""


def test_haldane_correction_is_the_formula_with_half_counts() -> None:
    grid = grid_like(CODES, name="codes")
    occ = _points(grid, CELLS[:2] + CELLS[3:])
    t = weights_of_evidence(grid, occ, kind="unique", correction="haldane").table
    a = np.array([2, 1, 0.0]) + 0.5
    b = np.array([4, 4, 7.0]) - np.array([2, 1, 0.0]) + 0.5
    c = 3 - np.array([2, 1, 0.0]) + 0.5
    d = 15 - np.array([4, 4, 7.0]) - 3 + np.array([2, 1, 0.0]) + 0.5
    np.testing.assert_allclose(t.w_plus, np.log((a / (a + c)) / (b / (b + d))), rtol=1e-13)
    np.testing.assert_allclose(t.s_w_minus, np.sqrt(1 / c + 1 / d), rtol=1e-13)
    assert (t.undefined == "").all() and np.isfinite(t.w_plus).all()


def test_unit_cell_scales_the_cell_counts() -> None:
    grid = grid_like(CODES, name="codes")  # 100 m pixels: 0.01 km²
    occ = _points(grid, CELLS[:2] + CELLS[3:])
    w = weights_of_evidence(grid, occ, kind="unique", unit_cell_km2=0.005)
    assert w.pixel_km2 == pytest.approx(0.01) and w.n_unit_cells == pytest.approx(30)
    _assert_table(w.table, _textbook(np.array([8, 8, 14.0]), np.array([2, 1, 0.0]), 30.0, 3.0))


def test_dask_backed_layers_count_in_one_pass_and_equal_in_memory() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(1, 6, size=(90, 70)).astype(np.float32)
    codes[rng.random(codes.shape) < 0.05] = np.nan
    grid = grid_like(codes, name="litho")
    occ = _points(grid, list(zip(rng.integers(0, 90, 25), rng.integers(0, 70, 25), strict=True)))
    with pytest.warns(UserWarning):
        ref = weights_of_evidence(grid, occ, kind="categorical")
    lazy = grid.chunk({"y": 32, "x": 16})
    with raise_if_dask_computes(1), pytest.warns(UserWarning):
        got = weights_of_evidence(lazy, occ, kind="categorical")
    assert got.table.equals(ref.table)
    with raise_if_dask_computes(1), pytest.warns(UserWarning):
        edges = weights_of_evidence(lazy, occ, kind="descending", classes=[1, 2.5, 4, 5])
    with pytest.warns(UserWarning):
        assert edges.table.equals(
            weights_of_evidence(grid, occ, kind="descending", classes=[1, 2.5, 4, 5]).table
        )
    # quantile classes need the whole distribution: the layer is computed once, then classed
    with raise_if_dask_computes(1), pytest.warns(UserWarning):
        q = weights_of_evidence(lazy, occ, kind="ascending", classify="quantile", classes=4)
    with pytest.warns(UserWarning):
        assert q.table.equals(
            weights_of_evidence(grid, occ, kind="ascending", classify="quantile", classes=4).table
        )


def test_bad_input_is_refused_in_one_line() -> None:
    grid = grid_like(CODES + 0.5, name="v")
    occ = _points(grid, [(0, 0)])
    with pytest.raises(InputError, match="non-integer values; class it"):
        weights_of_evidence(grid, occ, kind="unique")
    with pytest.raises(InputError, match="unknown kind"):
        weights_of_evidence(grid, occ, kind="cumulative")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="categorical"):
        weights_of_evidence(grid, occ, kind="categorical", classify="quantile")
    with pytest.raises(InputError, match="strictly increasing"):
        weights_of_evidence(grid, occ, kind="ascending", classes=[3.0, 1.0])
    with pytest.raises(InputError, match="number of classes"):
        weights_of_evidence(grid, occ, kind="ascending", classes=5)
    far = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:32611")
    with pytest.warns(UserWarning), pytest.raises(InputError, match="no deposit falls"):
        weights_of_evidence(grid, far, kind="ascending", classify="quantile", classes=3)
    geographic = grid_like(CODES, name="c", crs="EPSG:4326", resolution=0.01, origin=(10, 50))
    geographic = geographic.rename({"latitude": "y", "longitude": "x"})
    with pytest.raises(InputError, match="not a projected CRS in metres"):
        weights_of_evidence(geographic, occ.to_crs("EPSG:4326"), kind="unique")


def test_generalisation() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(size=(120, 100))
    grid = grid_like(values, name="mag")
    # deposits favour high values
    flat = np.argsort(values.ravel())[-4000:]
    pick = np.r_[rng.choice(flat, 30, replace=False), rng.choice(values.size, 10, replace=False)]
    occ = _points(grid, [divmod(int(i), 100) for i in pick])
    w = weights_of_evidence(grid, occ, kind="descending", classify="quantile", classes=10)
    t = w.table
    finite = np.isfinite(t.contrast) & np.isfinite(t.studentized_contrast)
    best = int(np.argmax(np.where(finite, t.contrast, -np.inf)))
    b = w.generalise(by="max-contrast")
    assert b.classes == tuple(t["class"][best:].tolist())  # "class >= best"
    assert b.w_plus == pytest.approx(t.w_plus[best], rel=1e-12)
    assert b.n_cells == t.n_cells[best] and b.n_deposits == t.n_deposits[best]
    s = w.generalise(by="max-studentized-contrast")
    assert s.studentized_contrast == pytest.approx(np.nanmax(t.studentized_contrast[finite]))
    th = w.generalise(by="threshold", threshold=1.0)
    assert th.studentized_contrast >= 1.0
    c = w.generalise(by="class", classes=9)
    assert c.classes == (9.0, 10.0)
    with pytest.raises(InputError, match="no class"):
        w.generalise(by="class", classes=42)
    with pytest.raises(InputError, match="at least 99"):
        w.generalise(by="threshold", threshold=99)


def _two_layers():
    rng = np.random.default_rng(11)
    a = rng.integers(0, 2, size=(60, 80)).astype(float)
    b = rng.integers(1, 4, size=(60, 80)).astype(float)
    a[0, :5] = np.nan
    b[0, :5] = np.nan  # the same study area
    ga, gb = grid_like(a, name="a"), grid_like(b, name="b")
    cells = [divmod(int(i), 80) for i in rng.choice(np.arange(80, 60 * 80), 40, replace=False)]
    occ = _points(ga, cells)
    return a, b, ga, gb, occ


def test_posterior_and_its_std_follow_the_formula_lazily() -> None:
    a, b, ga, gb, occ = _two_layers()
    wa = weights_of_evidence(ga.chunk(20), occ, kind="unique").generalise(by="class", classes=1)
    wb = weights_of_evidence(gb.chunk(20), occ, kind="ascending").generalise(by="class", classes=1)
    with raise_if_dask_computes(0):
        post = posterior([wa, wb])  # builds the graph only
    p, s = (np.asarray(v) for v in dask.compute(post.probability.data, post.std.data))
    n_t, n_d = wa.source.n_cells, wa.source.n_deposits
    prior = n_d / n_t
    ina, inb = a == 1, b <= 1
    logit = (math.log(prior / (1 - prior)) + np.where(ina, wa.w_plus, wa.w_minus)
             + np.where(inb, wb.w_plus, wb.w_minus))  # fmt: skip
    want = 1 / (1 + np.exp(-logit))
    var = 1 / n_d + np.where(ina, wa.s_w_plus**2, wa.s_w_minus**2) + np.where(
        inb, wb.s_w_plus**2, wb.s_w_minus**2
    )
    valid = np.isfinite(a)
    np.testing.assert_allclose(p[valid], want[valid], rtol=1e-6)
    np.testing.assert_allclose(s[valid], (want * np.sqrt(var))[valid], rtol=1e-6)
    assert np.isnan(p[~valid]).all() and np.isnan(s[~valid]).all()
    assert post.prior == pytest.approx(prior)
    # one layer: P = logistic(logit(prior) + W)
    one = posterior([wa]).probability.values
    want_one = 1 / (1 + np.exp(-(math.log(prior / (1 - prior)) + np.where(ina, wa.w_plus, wa.w_minus))))
    np.testing.assert_allclose(one[valid], want_one[valid], rtol=1e-6)
    assert np.isnan(one[~valid]).all()


def test_conditional_independence_sums_variances() -> None:
    a, b, ga, gb, occ = _two_layers()
    wa = weights_of_evidence(ga, occ, kind="unique").generalise(by="class", classes=1)
    wb = weights_of_evidence(gb, occ, kind="ascending").generalise(by="class", classes=1)
    ci = conditional_independence([wa, wb])
    post = posterior([wa, wb])
    p, s = post.probability.values.astype(float), post.std.values.astype(float)
    # independent: group the pixels by unique condition and add A_k² s_k² (one P per condition)
    valid = np.isfinite(a)
    cond = (a == 1).astype(int) + 2 * (b <= 1).astype(int)
    t, var = 0.0, 0.0
    for k in range(4):
        sel = valid & (cond == k)
        if sel.any():
            t += float(p[sel].astype(np.float64).sum())
            var += (sel.sum() * float(s[sel][0])) ** 2
    assert ci.observed == wa.source.n_deposits
    assert ci.predicted == pytest.approx(t, rel=1e-6)
    assert ci.std == pytest.approx(math.sqrt(var), rel=1e-6)
    assert ci.z == pytest.approx((ci.predicted - ci.observed) / ci.std)
    assert ci.p_value == pytest.approx(stats.norm.sf(ci.z))
    assert ci.ratio == pytest.approx(ci.observed / ci.predicted)


def test_pairwise_chi_square_by_formula() -> None:
    a, b, ga, gb, occ = _two_layers()
    wa = weights_of_evidence(ga, occ, kind="unique").generalise(by="class", classes=1)
    wb = weights_of_evidence(gb, occ, kind="ascending").generalise(by="class", classes=2)
    row = pairwise_chi_square([wa, wb]).iloc[0]
    cells = sorted({(r, c) for r, c in zip(*_cells(ga, occ), strict=True) if np.isfinite(a[r, c])})
    ina = np.array([a[r, c] == 1 for r, c in cells])
    inb = np.array([b[r, c] <= 2 for r, c in cells])
    n11, n10 = np.sum(ina & inb), np.sum(ina & ~inb)
    n01, n00 = np.sum(~ina & inb), np.sum(~ina & ~inb)
    assert (row.n11, row.n10, row.n01, row.n00) == (n11, n10, n01, n00)
    n = n11 + n10 + n01 + n00
    chi2 = n * (n11 * n00 - n10 * n01) ** 2 / (
        (n11 + n10) * (n01 + n00) * (n11 + n01) * (n10 + n00)
    )
    assert row.chi2 == pytest.approx(chi2, rel=1e-12)
    assert row.p_value == pytest.approx(stats.chi2.sf(chi2, 1), rel=1e-9)


def _cells(grid, occ):
    t = grid.rio.transform()
    cols = np.floor((occ.geometry.x.values - t.c) / t.a).astype(int)
    rows = np.floor((occ.geometry.y.values - t.f) / t.e).astype(int)
    return rows, cols


def test_different_study_areas_are_refused() -> None:
    _, b, ga, _, occ = _two_layers()
    b2 = b.copy()
    b2[5, 5] = np.nan
    wa = weights_of_evidence(ga, occ, kind="unique").generalise(by="class", classes=1)
    wb = weights_of_evidence(grid_like(b2, name="b"), occ, kind="ascending").generalise(
        by="class", classes=1
    )
    with pytest.raises(InputError, match="different study areas"):
        posterior([wa, wb])


def test_natural_breaks_and_equal_interval() -> None:
    rng = np.random.default_rng(2)
    values = np.concatenate([rng.normal(0, 1, 3000), rng.normal(10, 1, 3000)]).reshape(60, 100)
    grid = grid_like(values, name="v")
    occ = _points(grid, [(1, 1), (40, 50)])
    nb = weights_of_evidence(grid, occ, kind="descending", classify="natural-breaks", classes=2)
    assert "Fisher-Jenks" in nb.notes[0] and "sample of 2000" in nb.notes[0]
    assert nb.table.n_cells[1] == pytest.approx(3000, abs=30)  # the break falls between the modes
    eq = weights_of_evidence(grid, occ, kind="descending", classify="equal-interval", classes=4)
    edges = np.linspace(values.min(), values.max(), 5)
    assert eq.table.lower.tolist() == pytest.approx(edges[:-1].tolist())


@pytest.fixture(scope="module")
def gtk_mag():
    path = require_shared("gtk_lapland_iocg", "grids_100m", "mag_tmi_dgrf65_anomaly_nT.tif")
    deposits = gpd.read_file(require_shared("gtk_lapland_iocg", "vector", "IOCG_Deps_Prosp_Occs_2.shp"))
    return path, deposits


def test_gtk_magnetics_in_ten_quantile_classes_equal_the_textbook(gtk_mag) -> None:
    from geosurvey.io import read_raster

    path, deposits = gtk_mag
    # the oracle reads the file with rasterio and applies the formulas itself
    with rasterio.open(path) as src:
        values = src.read(1, masked=True).filled(np.nan).astype(np.float64)
        t = src.transform
    cols = np.floor((deposits.geometry.x.values - t.c) / t.a).astype(int)
    rows = np.floor((deposits.geometry.y.values - t.f) / t.e).astype(int)
    ok = (rows >= 0) & (rows < values.shape[0]) & (cols >= 0) & (cols < values.shape[1])
    cells = {(r, c) for r, c in zip(rows[ok], cols[ok], strict=True) if np.isfinite(values[r, c])}
    assert len(cells) == 17
    valid = values[np.isfinite(values)]
    edges = np.quantile(valid, np.linspace(0, 1, 11), method="lower")
    cls_of = lambda v: np.minimum(np.searchsorted(edges, v, side="right"), 10)  # noqa: E731
    n_class = np.bincount(cls_of(valid), minlength=11)[1:]
    d_class = np.bincount(cls_of(np.array([values[r, c] for r, c in cells])), minlength=11)[1:]
    n_t, n_d = float(valid.size), 17.0

    layer = read_raster(path, chunks=256)
    with pytest.warns(UserWarning, match="outside the grid"):
        desc = weights_of_evidence(layer, deposits, kind="descending", classify="quantile", classes=10)
    assert desc.occurrences["given"] == len(deposits) and desc.n_deposits == 17
    np.testing.assert_array_equal(desc.table.lower.to_numpy(), edges[:-1])
    np.testing.assert_array_equal(desc.class_cells, n_class)
    n_b = np.cumsum(n_class[::-1])[::-1].astype(float)
    n_bd = np.cumsum(d_class[::-1])[::-1].astype(float)
    _assert_table(desc.table, _textbook(n_b, n_bd, n_t, n_d), rtol=1e-9)
    with pytest.warns(UserWarning):
        asc = weights_of_evidence(layer, deposits, kind="ascending", classify="quantile", classes=10)
        uniq = weights_of_evidence(layer, deposits, kind="unique", classify="quantile", classes=10)
    _assert_table(asc.table, _textbook(np.cumsum(n_class) * 1.0, np.cumsum(d_class) * 1.0, n_t, n_d), rtol=1e-9)
    _assert_table(uniq.table, _textbook(n_class * 1.0, d_class * 1.0, n_t, n_d), rtol=1e-9)
    # the top classes hold the deposits: positive contrast for the top of the anomaly
    assert desc.table.contrast.iloc[-1] > 1


def test_class_codes_negative_sparse_and_integer_typed() -> None:
    values = np.array([[-3, -3, 0, 7], [7, 7, 0, np.nan], [10_000_000, 10_000_000, -3, 0]])
    occ_cells = [(0, 0), (1, 0), (2, 0)]
    expected_cells = {-3.0: 3, 0.0: 3, 7.0: 3, 10_000_000.0: 2}
    for data in (values, np.nan_to_num(values, nan=0).astype(np.int32)):
        grid = grid_like(data, name="codes")
        w = weights_of_evidence(grid, _points(grid, occ_cells), kind="unique")
        got = dict(zip(w.table["class"], w.table["n_cells"], strict=True))
        want = dict(expected_cells)
        if data.dtype.kind == "i":
            want[0.0] += 1  # the NaN pixel became code 0
        assert got == want
        assert dict(zip(w.table["class"], w.table["n_deposits"], strict=True)) == {
            -3.0: 1, 0.0: 0, 7.0: 1, 10_000_000.0: 1}
        post = posterior([w.generalise(by="class", classes=[10_000_000.0, 7.0])]).probability.values
        assert np.isfinite(post).sum() == (12 if data.dtype.kind == "i" else 11)
        assert len(np.unique(post[np.isfinite(post)])) == 2


def test_large_in_memory_grid_counted_on_all_cores_equals_numpy() -> None:
    # > 4 strips of 2**20 pixels: the in-memory path splits the work over threads
    rng = np.random.default_rng(8)
    codes = rng.integers(1, 6, size=(2100, 2100)).astype(np.float32)
    codes[rng.random(codes.shape) < 0.02] = np.nan
    grid = grid_like(codes, name="big")
    flat = rng.choice(np.flatnonzero(np.isfinite(codes)), 60, replace=False)
    occ = _points(grid, [divmod(int(i), 2100) for i in flat])
    w = weights_of_evidence(grid, occ, kind="ascending")
    valid = codes[np.isfinite(codes)].astype(int)
    np.testing.assert_array_equal(w.class_cells, np.bincount(valid, minlength=6)[1:])
    np.testing.assert_array_equal(w.class_deposits, np.bincount(codes.ravel()[flat].astype(int), minlength=6)[1:])
    b = w.generalise(by="class", classes=2)
    p = posterior([b]).probability.values
    prior = w.n_deposits / w.n_cells
    want = 1 / (1 + np.exp(-(math.log(prior / (1 - prior)) + np.where(codes <= 2, b.w_plus, b.w_minus))))
    ok = np.isfinite(codes)
    np.testing.assert_allclose(p[ok], want[ok], rtol=1e-6)
    assert np.isnan(p[~ok]).all()
    with pytest.warns(UserWarning, match="3 repeated class edge"):  # 5 values, 7 quantiles
        q = weights_of_evidence(grid * 1.5 + 0.1, occ, kind="descending", classify="quantile", classes=7)
    assert len(q.table) == 4 and q.table["n_cells"].iloc[0] == ok.sum()


def test_classes_pattern_and_weights_carry_the_evidences_history_lazily() -> None:
    from geosurvey.provenance import annotate, history

    values = np.random.default_rng(2).normal(size=(40, 30))
    mag = annotate(grid_like(values, name="mag", units="nT", chunks=16), "reduced to the pole")
    occ = _points(mag, [(3, 4), (10, 12), (20, 7), (33, 25)])
    w = weights_of_evidence(mag, occ, kind="descending", classify="quantile", classes=4)
    b = w.generalise(by="max-contrast")
    with raise_if_dask_computes():
        layers = {"classes": w.classes_layer(), "pattern": b.pattern(), "weights": b.weights()}
    classes = np.asarray(w.classer.index(values), float)  # the classer's own numbers, in memory
    for name, layer in layers.items():
        assert layer.chunks == mag.chunks, name
        steps = history(layer)
        assert "reduced to the pole" in steps[0] and len(steps) == 2, (name, steps)
    np.testing.assert_array_equal(layers["classes"].values, classes)
    inside = np.isin(classes, b.classes)
    np.testing.assert_array_equal(layers["pattern"].values, inside.astype(float))
    np.testing.assert_allclose(layers["weights"].values,
                               np.where(inside, b.w_plus, b.w_minus), rtol=1e-6)
