"""``scheduler.layer_task``: a task taking Dask-backed layers block by block, sharing their blocks
with the other tasks computed with it (``dask.delayed`` gives each its own copy of the graph)."""

import gc
import threading

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from dask.base import collections_to_expr

from geosurvey.scheduler import layer_task
from geosurvey.testing import grid_like

RNG = np.random.default_rng(11)


class Counter:
    """A block kernel that counts its calls (thread-safe)."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, block: np.ndarray) -> np.ndarray:
        with self._lock:
            self.calls += 1
        return block + 1.0


def lazy_layer(kernel: Counter) -> xr.DataArray:
    base = grid_like(RNG.random((12, 10)).astype(np.float32), name="tmi", units="nT", chunks=5)
    base.attrs["history"] = "read(mag)"
    return base.copy(data=base.data.map_blocks(kernel, dtype=np.float32)) * 2.0


def describe(layer: xr.DataArray, *, extra: dict | None = None) -> tuple:
    assert isinstance(layer, xr.DataArray) and isinstance(layer.data, np.ndarray)
    return (layer.values.copy(), layer.name, dict(layer.attrs), layer.odc.geobox, dict(layer.encoding),
            None if extra is None else {k: type(v).__name__ for k, v in extra.items()})  # fmt: skip


def n_tasks(*collections: object) -> int:
    return len(collections_to_expr(list(collections), optimize_graph=True).optimize().__dask_graph__())


def test_the_function_gets_the_layer_whole_with_its_grid_and_attributes() -> None:
    kernel = Counter()
    layer = lazy_layer(kernel)
    layer.encoding = {"grid_mapping": "spatial_ref"}
    expected = (layer.values, layer.name, dict(layer.attrs), layer.odc.geobox)
    kernel.calls = 0
    (values, name, attrs, geobox, encoding, extra), = dask.compute(
        layer_task(describe, layer, extra={"plain": layer.data, "numpy": np.ones(3), "n": 3}))
    np.testing.assert_array_equal(values, expected[0])
    assert (name, attrs, geobox) == expected[1:]
    assert encoding == {"grid_mapping": "spatial_ref"}
    assert extra == {"plain": "ndarray", "numpy": "ndarray", "n": "int"}
    assert kernel.calls == 6  # its 3 x 2 blocks, once each


def test_tasks_computed_together_share_the_blocks() -> None:
    """``dask.delayed`` computes a lazy layer again for every task given it; here once."""
    kernel = Counter()
    layer = lazy_layer(kernel)
    kernel.calls = 0
    with dask.config.set(scheduler="threads"):
        first, second = dask.compute(layer_task(np.sum, layer), layer_task(np.max, [layer, layer]))
    assert kernel.calls == 6
    assert first == pytest.approx(float(layer.sum())) and second == pytest.approx(float(layer.max()))
    kernel.calls = 0
    dask.compute(dask.delayed(np.sum)(layer), dask.delayed(np.max)(layer))
    assert kernel.calls > 6  # what this replaces (if Dask changes, layer_task may be retired)


def test_the_layers_tasks_one_assembly_and_one_task_a_function() -> None:
    """The layer's steps are fused as when it is computed alone (the kernel and the
    multiplication: one task a block); its blocks are assembled once for every task given it."""
    layer = lazy_layer(Counter())
    alone = n_tasks(layer.data)
    assert alone == 6 + 6  # a block of the NumPy source, a block of the fused steps
    assert n_tasks(layer_task(np.sum, layer), layer_task(np.max, layer)) == alone + 1 + 2
    assert n_tasks(dask.delayed(np.sum)(layer), dask.delayed(np.max)(layer)) > alone + 1 + 2


def test_a_layer_of_one_block_is_that_block() -> None:
    single = lazy_layer(Counter()).chunk({"y": -1, "x": -1})
    assert n_tasks(layer_task(np.sum, single)) == n_tasks(single.data) + 1
    assert n_tasks(dask.delayed(np.sum)(single)) == n_tasks(single.data) + 2


def test_layers_in_memory_and_other_values_pass_as_they_are() -> None:
    eager = grid_like(np.arange(6.0).reshape(2, 3), name="eager")
    got = dask.compute(layer_task(lambda a, b, c: (type(a.data).__name__, b, c), eager, (1, "x"),
                                  c={"k": [2]}))[0]  # fmt: skip
    assert got == ("ndarray", (1, "x"), {"k": [2]})


@pytest.mark.filterwarnings("ignore:Couldn't detect a suitable IP address:RuntimeWarning")
def test_kept_blocks_on_a_cluster_outlive_their_array() -> None:
    """A persisted (kept) layer whose only reference is the task: its futures must stay with the
    task until it runs (Dask's graph optimisation would drop them: "lost dependencies")."""
    from distributed import Client, LocalCluster

    values = RNG.random((12, 10)).astype(np.float32)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster):  # fmt: skip

        def tasks(chunks: int) -> tuple:
            (kept,) = dask.persist(grid_like(values, chunks=chunks) + 1.0)
            return layer_task(np.sum, kept), layer_task(np.sum, (kept * 2.0).data)

        made = [tasks(5), tasks(12)]  # blocks assembled, and a layer of one block
        gc.collect()
        got = dask.compute(*made)
    total = float((values + 1).sum())
    np.testing.assert_allclose(got, [(total, 2 * total)] * 2, rtol=1e-5)


def test_a_plain_dask_array_is_assembled_in_its_block_order() -> None:
    data = dsa.from_array(RNG.random((7, 9, 4)), chunks=(3, 4, 2))
    (got,) = dask.compute(layer_task(np.copy, data))
    np.testing.assert_array_equal(got, data.compute())
