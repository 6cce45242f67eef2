"""ROC AUC, capture efficiency and success-rate curves against independent computations."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point
from sklearn.metrics import roc_auc_score

from geosurvey.errors import InputError
from geosurvey.evaluation import capture_efficiency, evaluate, roc_auc, success_rate_curve
from geosurvey.testing import grid_like

RNG = np.random.default_rng(7)


def _setup(n_occ: int = 12):
    values = RNG.normal(size=(50, 40))
    score = grid_like(values, name="score")
    iy = RNG.choice(50, n_occ, replace=False)
    ix = RNG.choice(40, n_occ, replace=False)
    pts = [Point(float(score.x[j]), float(score.y[i])) for i, j in zip(iy, ix, strict=True)]
    occ = gpd.GeoDataFrame(
        {"name": [f"occ{k}" for k in range(n_occ)]}, geometry=pts, crs="EPSG:32611"
    )
    return score, occ, values[iy, ix], values.ravel()


def test_roc_auc_matches_scikit_learn() -> None:
    score, occ, occ_values, background = _setup()
    # positives: occurrence pixels; negatives: every pixel of the area (the stated background)
    y_true = np.r_[np.ones(occ_values.size), np.zeros(background.size)]
    y_score = np.r_[occ_values, background]
    assert roc_auc(score, occ) == pytest.approx(roc_auc_score(y_true, y_score), abs=1e-12)


def test_capture_efficiency_by_brute_force() -> None:
    score, occ, occ_values, background = _setup(20)
    got = capture_efficiency(score, occ, fractions=(0.05, 0.1, 0.2, 0.5))
    for f, share in got.items():
        area_share = np.array([(background >= v).mean() for v in occ_values])
        assert share == pytest.approx(np.mean(area_share <= f))


def test_success_rate_curve_is_monotone_and_integrates_to_auc() -> None:
    score, occ, _, _ = _setup(15)
    area, captured = success_rate_curve(score, occ)
    assert area[0] == 0 and area[-1] == 1 and captured[0] == 0 and captured[-1] == 1
    assert np.all(np.diff(area) >= 0) and np.all(np.diff(captured) >= 0)
    # area above the success-rate step curve = mean area fraction above occurrences = 1 - AUC
    steps = area[1:-1]
    assert 1 - steps.mean() == pytest.approx(roc_auc(score, occ), abs=1 / score.size)


def test_perfect_and_inverted_scores() -> None:
    values = np.arange(100.0).reshape(10, 10)
    score = grid_like(values, name="s")
    top = [
        Point(float(score.x[j]), float(score.y[0])) for j in range(5, 10)
    ]  # row 0 holds 0..9: low
    bottom = [Point(float(score.x[j]), float(score.y[9])) for j in range(5, 10)]  # 95..99: highest
    hi = gpd.GeoDataFrame(geometry=bottom, crs="EPSG:32611")
    lo = gpd.GeoDataFrame(geometry=top, crs="EPSG:32611")
    assert evaluate(score, hi).capture[0.05] == 1.0
    assert roc_auc(score, hi) > 0.95 and roc_auc(score, lo) < 0.1


def test_occurrences_in_another_crs_are_reprojected() -> None:
    score, occ, _, _ = _setup()
    assert roc_auc(score, occ.to_crs("EPSG:4326")) == pytest.approx(roc_auc(score, occ), abs=1e-12)


def test_off_grid_and_nan_occurrences_warn_and_are_dropped() -> None:
    score, occ, _, _ = _setup(6)
    far = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:32611")
    both = gpd.GeoDataFrame(geometry=list(occ.geometry) + list(far.geometry), crs="EPSG:32611")
    with pytest.warns(UserWarning, match="1 occurrence\\(s\\) lie outside"):
        result = evaluate(score, both)
    assert result.n_occurrences == 7 and result.n_used == 6


def test_empty_or_unusable_occurrences_are_refused() -> None:
    score, occ, _, _ = _setup()
    with pytest.raises(InputError, match="empty"):
        evaluate(score, occ.iloc[:0])
    far = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:32611")
    with pytest.warns(UserWarning), pytest.raises(InputError, match="no occurrence falls"):
        evaluate(score, far)
    with pytest.raises(InputError, match="fractions"):
        evaluate(score, occ, fractions=(0.0,))


# -- the agency report (issue 10) ----------------------------------------------------------


def test_capture_table_area_to_hold_and_normalised_density_by_brute_force() -> None:
    score, occ, occ_values, background = _setup(25)
    result = evaluate(score, occ, bootstrap=0)
    share = np.sort([(background >= v).mean() for v in occ_values])
    for f in (0.01, 0.02, 0.05, 0.1, 0.15, 0.2):
        assert result.capture_table[f] == pytest.approx(np.mean(share <= f))
        assert result.normalised_density[f] == pytest.approx(np.mean(share <= f) / f)
    for p in (0.5, 0.9):
        # the smallest top-area fraction holding at least p of the occurrences
        need = min(a for a in share if np.mean(share <= a) >= p)
        assert result.area_to_hold[p] == pytest.approx(need)
    d = result.to_dict()
    assert set(d["capture_table"]) == {"top_1pct", "top_2pct", "top_5pct", "top_10pct",
                                       "top_15pct", "top_20pct"}  # fmt: skip
    assert set(d["area_to_hold"]) == {"occurrences_50pct", "occurrences_90pct"}


def test_bootstrap_interval_equals_resampled_scikit_learn_aucs() -> None:
    score, occ, occ_values, background = _setup(12)
    result = evaluate(score, occ, bootstrap=300, seed=4, confidence=0.9)
    rng = np.random.default_rng(4)
    idx = rng.integers(0, occ_values.size, size=(300, occ_values.size))
    aucs = []
    for row in idx:
        pos = occ_values[row]
        y = np.r_[np.ones(pos.size), np.zeros(background.size)]
        aucs.append(roc_auc_score(y, np.r_[pos, background]))
    lo, hi = np.quantile(aucs, [0.05, 0.95])
    assert result.roc_auc_ci == pytest.approx((lo, hi), abs=1e-12)
    assert lo <= result.roc_auc <= hi and result.confidence == 0.9


def test_bootstrap_interval_in_batches_is_the_one_draw_interval() -> None:
    """5000 terms: resamples drawn in batches of 400 (2 million indices), the same draws as one
    (1000, 5000) draw of numpy; the cross-validation's pooled interval is the same function."""
    from geosurvey.evaluation import bootstrap_interval
    from geosurvey.prospectivity import bootstrap_interval as pooled

    terms = np.random.default_rng(1).random(5000)
    idx = np.random.default_rng(7).integers(0, terms.size, size=(1000, terms.size))
    expected = np.quantile(terms[idx].mean(axis=1), [0.025, 0.975])
    assert bootstrap_interval(terms, seed=7) == pytest.approx(tuple(expected), abs=1e-15)
    assert pooled is bootstrap_interval
    assert all(np.isnan(bootstrap_interval(terms[:1])))
    assert all(np.isnan(bootstrap_interval(terms, n_boot=0)))


def test_held_out_occurrences_give_the_prediction_rate_curve() -> None:
    score, occ, occ_values, background = _setup(20)
    train, test = occ.iloc[:12], occ.iloc[12:]
    result = evaluate(score, train, held_out=test)
    y = np.r_[np.ones(8), np.zeros(background.size)]
    assert result.held_out.roc_auc == pytest.approx(roc_auc_score(y, np.r_[occ_values[12:], background]))
    assert result.held_out.n_used == 8 and result.n_used == 12
    d = result.to_dict()
    assert "prediction_rate_curve" in d["held_out"] and d["held_out"]["n_used"] == 8


def test_prediction_area_intersection() -> None:
    score, occ, occ_values, background = _setup(30)
    pa = evaluate(score, occ, bootstrap=0).prediction_area
    assert pa.threshold[0] == background.min() and pa.threshold[-1] == background.max()
    for t, a, o in zip(pa.threshold, pa.area_above, pa.occurrences_above, strict=True):
        assert a == pytest.approx((background >= t).mean()) and o == pytest.approx((occ_values >= t).mean())
    inter = pa.intersection
    # the crossing: occurrences predicted = 1 - area occupied (to the step of the curve)
    assert abs(inter["occurrences"] - (1 - inter["area"])) <= 1 / 30 + 1e-4
    assert inter["normalised_density"] == pytest.approx(inter["occurrences"] / inter["area"])
    assert inter["weight"] == pytest.approx(np.log(inter["normalised_density"]))


def test_unused_occurrences_are_counted_and_reported() -> None:
    values = RNG.normal(size=(30, 30))
    values[5, 5] = np.nan
    score = grid_like(values, name="s")
    x, y = score.x.values, score.y.values
    pts = [Point(x[1], y[1]), Point(x[1] + 5, y[1] - 5), Point(x[5], y[5]), Point(0, 0), Point(x[9], y[3])]
    occ = gpd.GeoDataFrame(geometry=pts, crs="EPSG:32611")
    with pytest.warns(UserWarning) as record:
        result = evaluate(score, occ, bootstrap=0)
    messages = " ".join(str(w.message) for w in record)
    assert "1 occurrence(s) lie outside the grid and 1 on pixels without a score" in messages
    assert "2 occurrence(s) share a pixel" in messages
    assert result.occurrences == {"given": 5, "outside_grid": 1, "on_nodata": 1, "on_valid": 3,
                                  "valid_cells": 2, "sharing_a_cell": 2}  # fmt: skip
    assert result.n_used == 3 and result.n_occurrences == 5
    # a caller that says so itself (a cross-validation fold) asks for no warning: the same result
    import warnings

    from geosurvey.evaluation import evaluate_blockwise

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        quiet = evaluate(score, occ, bootstrap=0, warn_unused=False)
        blocks, _ = evaluate_blockwise({"s": score.chunk(10)}, occ, bootstrap=0, warn_unused=False)
        with pytest.raises(InputError, match="no occurrence falls"):
            evaluate(score, occ.iloc[[3]], bootstrap=0, warn_unused=False)  # off the grid alone
    assert quiet.to_dict() == result.to_dict() == blocks["s"].to_dict()


def test_evaluate_computes_a_dask_score_exactly_once() -> None:
    from geosurvey.testing import raise_if_dask_computes

    score, occ, _, _ = _setup(15)
    lazy = (score.chunk({"y": 16, "x": 16}) * 2.0).rename("score")
    with raise_if_dask_computes(1):
        result = evaluate(lazy, occ.iloc[:10], held_out=occ.iloc[10:])
    assert result.roc_auc == pytest.approx(evaluate(score, occ.iloc[:10]).roc_auc)


def test_a_japanese_font_installed_after_matplotlibs_font_cache_is_found(monkeypatch) -> None:
    """matplotlib's cached font list predates the font (``geosurvey demo`` ran before it was
    installed): the system's font folders are searched and the font registered."""
    import copy

    from matplotlib import font_manager

    from geosurvey.i18n import JAPANESE_FONTS, japanese_font

    on_system = [p for p in font_manager.findSystemFonts()
                 if Path(p).stem.startswith(tuple(s for v in JAPANESE_FONTS.values() for s in v))]
    if not on_system:
        pytest.skip("no Japanese font file on this system (fonts-noto-cjk): scripts/test.sh installs one")
    stale = copy.copy(font_manager.fontManager)
    stale.ttflist = [f for f in font_manager.fontManager.ttflist if f.name not in JAPANESE_FONTS]
    monkeypatch.setattr(font_manager, "fontManager", stale)
    font = japanese_font.__wrapped__()
    assert font in JAPANESE_FONTS
    assert font in {f.name for f in stale.ttflist}  # registered where matplotlib looks
    assert not {f.name for f in font_manager.fontManager.ttflist} - {f.name for f in stale.ttflist}


def test_plots_carry_their_own_fonts_in_threads_and_fall_back_to_english(monkeypatch, tmp_path) -> None:
    """Each plot names its font on its texts (matplotlib's rcParams stay as they were), so an
    English and a Japanese plot drawn at once in threads keep theirs; without a Japanese font
    a Japanese plot says so once and is labelled in English rather than in boxes."""
    import threading
    import warnings

    import matplotlib

    from geosurvey import evaluation as evaluation_module
    from geosurvey.evaluation import _font_family, plot_prediction_area, plot_rate_curves
    from geosurvey.i18n import TEXT

    jp_font = _font_family("ja")
    if jp_font is None:
        pytest.skip("no Japanese font installed (fonts-noto-cjk): scripts/test.sh installs one")
    score, occ, _, _ = _setup(20)
    result = evaluate(score, occ.iloc[:14], held_out=occ.iloc[14:])
    before = list(matplotlib.rcParams["font.family"])
    drawn: dict[str, list] = {"en": [], "ja": []}

    def draw(lang: str) -> None:
        for _ in range(5):
            drawn[lang].append(plot_rate_curves(result, lang=lang))
            drawn[lang].append(plot_prediction_area(result, lang=lang))

    threads = [threading.Thread(target=draw, args=(lang,)) for lang in ("en", "ja")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for lang, family in (("en", ["DejaVu Sans"]), ("ja", jp_font)):
        for ax in drawn[lang]:
            texts = [ax.title, ax.xaxis.label, ax.yaxis.label]
            assert all(t.get_fontfamily() == family for t in texts), lang
            assert ax.get_title() in (TEXT[lang]["eval_rate_title"], TEXT[lang]["eval_pa_title"])
    legend = drawn["ja"][0].get_legend()
    assert all(t.get_fontfamily() == jp_font for t in legend.get_texts())
    assert list(matplotlib.rcParams["font.family"]) == before

    monkeypatch.setattr(evaluation_module, "_font_family",
                        lambda lang: None if lang == "ja" else ["DejaVu Sans"])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ax = plot_rate_curves(result, lang="ja")
    assert ax.get_title() == TEXT["en"]["eval_rate_title"]
    assert [str(w.message) for w in record if "font" in str(w.message)] == [
        "no Japanese font is installed (e.g. the fonts-noto-cjk package): the evaluation plots "
        "are labelled in English"
    ]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        paths = evaluation_module.write_evaluation({"a": result, "b": result}, tmp_path, lang="ja")
    assert len([w for w in record if "font" in str(w.message)]) == 1  # once for the whole report
    assert paths["a_success_rate"].is_file() and paths["b_prediction_area"].is_file()


def test_write_evaluation_writes_json_and_plots(tmp_path) -> None:
    import json
    import warnings

    from PIL import Image

    from geosurvey.evaluation import write_evaluation

    score, occ, _, _ = _setup(20)
    result = evaluate(score, occ.iloc[:14], held_out=occ.iloc[14:])
    paths = write_evaluation(result, tmp_path, lang="en")
    assert set(paths) == {"json", "success_rate", "prediction_area"}
    doc = json.loads(paths["json"].read_text())  # strict JSON: no NaN
    assert doc["roc_auc"] == pytest.approx(result.roc_auc, abs=1e-6)
    for key in ("success_rate", "prediction_area"):
        with Image.open(paths[key]) as img:
            assert img.format == "PNG" and img.width > 300
    ja = tmp_path / "ja"
    ja.mkdir()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        both = write_evaluation({"score": result, "mag": result}, ja, lang="ja")
    # at most one warning (no Japanese font here), never one per missing glyph
    assert len([w for w in record if "font" in str(w.message)]) <= 1
    assert {"score_success_rate", "mag_prediction_area", "json"} <= set(both)
    assert set(json.loads(both["json"].read_text())) == {"score", "mag"}
    with pytest.raises(InputError, match="cannot name a file"):
        write_evaluation({"../x": result}, ja)
    with pytest.raises(InputError, match="not an existing folder"):
        write_evaluation(result, tmp_path / "missing")
    assert not list(tmp_path.glob("*.tmp*")) and not list(ja.glob(".*"))
