"""Block-wise evaluation (memory one block) gives exactly the in-memory evaluation's numbers."""

from __future__ import annotations

import warnings

import dask
import geopandas as gpd
import numpy as np
import pytest
from dask.callbacks import Callback
from shapely.geometry import Point

from geosurvey import evaluation
from geosurvey.errors import InputError
from geosurvey.evaluation import evaluate, evaluate_blockwise, roc_auc, roc_auc_blockwise
from geosurvey.prospectivity import parse_recipe
from geosurvey.runner import _run, evaluate_run, score_evidence
from geosurvey.testing import grid_like

RNG = np.random.default_rng(11)


def _grid(dtype: type, shape: tuple[int, int] = (97, 83)):
    v = RNG.normal(size=shape).astype(dtype)
    v[RNG.random(shape) < 0.05] = np.nan  # nodata
    v[:10, :20] = 0.5  # a block of ties
    v[10, :5] = -0.0  # -0 and +0 are one value
    v[11, :5] = 0.0
    v[12, :3] = -1e30 if dtype == np.float64 else -3e38  # extremes of the key range
    v[13, :3] = np.inf  # not a score: left out as NaN is
    return v


def _points(score, rows, cols):
    pts = [Point(float(score.x[j]), float(score.y[i])) for i, j in zip(rows, cols, strict=True)]
    return gpd.GeoDataFrame(geometry=pts, crs="EPSG:32611")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_blockwise_equals_in_memory_evaluation(dtype) -> None:
    v = _grid(dtype)
    score = grid_like(v, name="s")
    rows, cols = RNG.integers(0, 97, 45), RNG.integers(0, 83, 45)
    rows[:3], cols[:3] = 2, 3  # three on the tied block, sharing a pixel
    occ, held = _points(score, rows[:35], cols[:35]), _points(score, rows[35:], cols[35:])
    with warnings.catch_warnings(record=True) as w_mem:
        warnings.simplefilter("always")
        a = evaluate(score, occ, held_out=held)
    with warnings.catch_warnings(record=True) as w_blk:
        warnings.simplefilter("always")
        found, _ = evaluate_blockwise({"s": score.chunk({"y": 20, "x": 17})}, occ, held_out=held)
    b = found["s"]
    assert a.to_dict() == b.to_dict()  # AUC, CI, capture table, hold, curves, P-A, counts
    assert a.roc_auc == b.roc_auc and a.roc_auc_ci == b.roc_auc_ci  # the same floats, not close
    for x, y in ((a, b), (a.held_out, b.held_out)):
        assert np.array_equal(x.curve_area, y.curve_area)
        assert np.array_equal(x.curve_captured, y.curve_captured)
    pa, pb = a.prediction_area, b.prediction_area
    assert np.array_equal(pa.threshold, pb.threshold) and np.array_equal(pa.area_above, pb.area_above)
    assert pa.intersection == pb.intersection
    assert [str(w.message) for w in w_mem] == [str(w.message) for w in w_blk]  # each said once
    # independently: the thresholds are the order statistics of the finite pixels (-0 as 0)
    finite = np.sort(v[np.isfinite(v)].astype(float))
    n = finite.size
    assert np.array_equal(pb.threshold, finite[(np.arange(101) * (n - 1)) // 100])
    occ_v = v[rows[:35], cols[:35]].astype(float)
    occ_v = occ_v[np.isfinite(occ_v)]
    auc = np.mean([(np.sum(finite < o) + 0.5 * np.sum(finite == o)) / n for o in occ_v])
    assert b.roc_auc == pytest.approx(auc, abs=1e-12)
    top10 = np.mean([np.sum(finite >= o) / n <= 0.1 for o in occ_v])
    assert b.capture_table[0.1] == top10


def test_evaluations_in_threads_leave_the_warnings_machinery_as_it_was() -> None:
    """A batch evaluates areas in threads of one process: no evaluation may swap the process's
    warning filters or handler (``warnings.catch_warnings`` in threads leaves one thread's
    recorder installed for good, and every later warning of the process lost in it)."""
    import concurrent.futures

    score = grid_like(_grid(np.float32), name="s").chunk({"y": 20, "x": 17})
    rows, cols = RNG.integers(0, 97, 45), RNG.integers(0, 83, 45)
    occ, held = _points(score, rows[:35], cols[:35]), _points(score, rows[35:], cols[35:])
    handler, filters = warnings._showwarnmsg_impl, list(warnings.filters)  # type: ignore[attr-defined]

    def evaluate_three_times(_: int) -> None:
        for _ in range(3):
            evaluate_blockwise({"s": score}, occ, held_out=held, bootstrap=200)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(evaluate_three_times, range(8)))
    assert warnings._showwarnmsg_impl is handler  # type: ignore[attr-defined]
    assert warnings.filters == filters


@pytest.mark.parametrize("block", [300, 150, 64])
def test_blockwise_counting_paths_give_the_same_numbers(block) -> None:
    """Blocks of more pixels than a level's bins are counted by bincount, smaller ones by
    sorting: both give the in-memory evaluation's numbers (300² = 90,000 pixels: the top level's
    65,536 bins by bincount; 150² and 64²: by sorting)."""
    rng = np.random.default_rng(block)
    v = rng.gamma(2.0, 1.0, size=(300, 300)).astype(np.float32)
    v[rng.random(v.shape) < 0.03] = np.nan
    score = grid_like(v, name="s")
    rows, cols = rng.integers(0, 300, 60), rng.integers(0, 300, 60)
    occ = _points(score, rows, cols)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # occurrences on nodata: said by both, compared above
        a = evaluate(score, occ)
        found, _ = evaluate_blockwise({"s": score.chunk({"y": block, "x": block})}, occ)
    assert a.to_dict() == found["s"].to_dict()
    assert a.roc_auc == found["s"].roc_auc


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_roc_auc_blockwise_equals_roc_auc_in_one_full_pass(dtype, monkeypatch) -> None:
    """The same float as the in-memory ROC AUC (ties, -0, extremes, NaN, inf, occurrences off
    the grid and on nodata, with the same warnings), from a pass over only the blocks holding
    an occurrence and then one full pass, whatever the number of levels (2 for float32, 4 for
    float64)."""
    v = _grid(dtype)
    score = grid_like(v, name="s")
    rows, cols = RNG.integers(0, 97, 30), RNG.integers(0, 40, 30)  # the left half of the grid
    rows[:3], cols[:3] = 2, 3  # on the tied block
    occ = _points(score, rows, cols)
    off = gpd.GeoDataFrame(geometry=[Point(float(score.x[0]) - 1e4, float(score.y[0]))], crs=occ.crs)
    occ = gpd.GeoDataFrame(geometry=list(occ.geometry) + list(off.geometry), crs=occ.crs)
    calls: list[bool] = []  # one per block read: did it count (True) or only sample (False)?
    original = evaluation._block_pass

    def counting(block, offset, requests, *args):
        calls.append(bool(requests))
        return original(block, offset, requests, *args)

    monkeypatch.setattr(evaluation, "_block_pass", counting)
    chunked = score.chunk({"y": 20, "x": 17})  # 5 x 5 blocks
    with warnings.catch_warnings(record=True) as w_blk:
        warnings.simplefilter("always")
        found = roc_auc_blockwise({"s": chunked}, occ)
    with warnings.catch_warnings(record=True) as w_mem:
        warnings.simplefilter("always")
        expected = roc_auc(score, occ)
    assert found["s"] == expected  # the same float
    assert [str(w.message) for w in w_blk] == [str(w.message) for w in w_mem]
    assert any("outside the grid" in str(w.message) for w in w_blk)
    holding = {(int(r) // 20, int(c) // 17) for r, c in zip(rows, cols, strict=True)}
    assert calls == [False] * len(holding) + [True] * 25  # sampled blocks, then one full pass
    assert len(holding) < 25


def test_roc_auc_blockwise_refuses_occurrences_on_no_value() -> None:
    v = np.full((30, 30), np.nan, dtype=np.float32)
    v[:, 15:] = 1.0
    score = grid_like(v, name="s")
    occ = _points(score, [3, 4], [2, 5])  # both on nodata
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(InputError, match="no occurrence falls on a pixel of layer 's'"):
            roc_auc_blockwise({"s": score.chunk(10)}, occ)
        off = gpd.GeoDataFrame(geometry=[Point(float(score.x[0]) - 1e4, float(score.y[0]))],
                               crs=occ.crs)  # off the grid: no block to read at all
        with pytest.raises(InputError, match="no occurrence falls on a pixel of layer 's'"):
            roc_auc_blockwise({"s": score.chunk(10)}, off)


def test_blockwise_evaluate_switch_and_modal_value() -> None:
    v = _grid(np.float32)
    v[20:40, :] = 0.25  # the most common value: 20 × 83 pixels
    score = grid_like(v, name="s", chunks=16)
    occ = _points(score, [50, 60, 70], [5, 6, 7])
    assert evaluate(score, occ, blockwise=True).to_dict() == evaluate(score, occ).to_dict()
    _, modal = evaluate_blockwise({"s": score}, None, modal_share=0.1)
    finite = v[np.isfinite(v)]
    values, counts = np.unique(finite, return_counts=True)
    assert modal["s"] == (float(values[np.argmax(counts)]), counts.max() / finite.size)
    assert modal["s"][0] == 0.25
    _, none = evaluate_blockwise({"s": score}, None, modal_share=0.5)  # no value covers half
    assert none["s"] is None


def test_blockwise_tasks_hold_one_block() -> None:
    """No task of a block-wise evaluation handles an array the size of the grid."""
    score = grid_like(RNG.normal(size=(120, 100)).astype(np.float32), name="s", chunks=25)
    occ = _points(score, [3, 50, 90], [4, 60, 70])

    class Largest(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.largest = 0

        def _posttask(self, key, result, dsk, state, worker_id):
            stack = [result]
            while stack:
                item = stack.pop()
                if isinstance(item, np.ndarray):
                    self.largest = max(self.largest, item.size)
                elif isinstance(item, tuple | list):
                    stack.extend(item)

    with dask.config.set(scheduler="threads"), Largest() as seen:
        found, _ = evaluate_blockwise({"s": score}, occ)
    assert found["s"].roc_auc == evaluate(score, occ).roc_auc
    # blocks (625 pixels) and sparse counts of the bins asked for, never the grid's 12,000 pixels
    assert 625 <= seen.largest < score.size / 4


def test_evaluate_run_above_the_task_limit_is_block_wise_and_equal(monkeypatch) -> None:
    recipe = parse_recipe(
        """
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
""",
        source="flat.toml",
    )
    a = RNG.uniform(0, 1, (60, 50))  # below 0.5: membership 0, product 0 (a flat score)
    layers = {"a": grid_like(a, name="a", units="1", chunks=16),
              "b": grid_like(RNG.uniform(0, 1, (60, 50)), name="b", units="1", chunks=16)}
    scored = score_evidence(layers, recipe)
    occ = _points(layers["a"], [4, 12, 25, 40, 55], [3, 10, 20, 30, 45])
    whole = evaluate_run(scored, layers, recipe, occ)
    monkeypatch.setattr(_run, "EVALUATE_TASK_MAX_PIXELS", 0)
    blockwise = evaluate_run(scored, layers, recipe, occ)
    assert blockwise.report == whole.report
    flat = blockwise.report["flat_score"]
    assert flat["value"] == 0.0 and flat["memberships_at_0_or_1"] == ["a"]
    assert flat["share"] == pytest.approx(np.mean(a <= 0.5), abs=1e-6)
