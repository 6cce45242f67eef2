"""Where Dask computes now: the distributed client in charge, if any, and its workers' memory.

Every stage that adapts to the scheduler asks here, so that they all give one answer: the
whole-grid memory check of the FFT transforms, how much a run may persist, how many threads a
tile or COG task uses, and how the runner submits its groups of work. A distributed client
counts only while Dask's ``scheduler`` setting leaves it in charge: inside
``dask.config.set(scheduler="threads")`` the work runs in threads even with a client open.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dask
import dask.array as dsa
import numpy as np
import xarray as xr
from dask.utils import funcname

__all__ = ["current_client", "layer_task", "on_cluster", "on_worker", "worker_memory_limits"]


def current_client() -> Any:
    """The default distributed client Dask computes on now, or ``None`` (threads in this process).

    Returns
    -------
    distributed.Client or None
        ``None`` without dask.distributed, without a client, or when Dask's ``scheduler`` setting
        names another scheduler.
    """
    if dask.config.get("scheduler", None) not in (None, "dask.distributed", "distributed"):
        return None
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):  # no client
        return None


def on_worker() -> bool:
    """Whether this code runs in a task on a dask.distributed worker (where the worker's threads
    are the parallelism, whatever :func:`current_client` says there)."""
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):  # not in a worker's task
        return False
    return True


def on_cluster() -> bool:
    """Whether this work belongs to a cluster's workers: a client is in charge here, or this runs
    in a worker's task. Tasks then leave the parallelism to the workers' threads (one thread for
    a tile task, GDAL's own default for a COG)."""
    return current_client() is not None or on_worker()


def worker_memory_limits(client: Any = None) -> list[int]:
    """The memory limit of each worker of ``client`` (default: :func:`current_client`), bytes.

    Returns
    -------
    list of int
        One entry per worker, ``0`` for a worker without a limit; empty without a client.
    """
    if client is None:
        client = current_client()
    if client is None:
        return []
    workers = client.scheduler_info().get("workers", {}).values()
    return [int(w.get("memory_limit") or 0) for w in workers]


class _LayerArg:
    """A Dask-backed argument of :func:`layer_task`: where its values are among the task's
    arguments (``index``) and, for a DataArray, everything but its values (``coords``: a Dataset
    of the coordinates alone)."""

    def __init__(self, data: dsa.Array, refs: list[Any], like: xr.DataArray | None = None) -> None:
        self.index = len(refs)
        refs.append(_values_ref(data))
        self.like = None if like is None else (
            like.dims, like.coords.to_dataset(), like.name, dict(like.attrs), dict(like.encoding))

    def restore(self, values: Sequence[np.ndarray]) -> Any:
        if self.like is None:
            return values[self.index]
        dims, coords, name, attrs, encoding = self.like
        out = xr.DataArray(values[self.index], coords=coords.coords, dims=dims, name=name,
                           attrs=attrs)  # fmt: skip
        out.encoding = dict(encoding)
        return out


def _values_ref(data: dsa.Array) -> Any:
    """The one block of ``data``, or a task assembling its blocks, named for the array (so that
    every task given it shares it, and the blocks can go once it is made)."""
    # Dask's graph optimisation drops the futures of kept (persisted) blocks, which the task then
    # depends on without holding: the scheduler may release them first ("lost dependencies").
    # An array built on kept blocks keeps its graph as it is (its steps on them do not fuse).
    kept = False
    if "distributed" in sys.modules:  # else there are no futures (and no import of it here)
        from distributed import futures_of

        kept = bool(futures_of(data))
    blocks = data.to_delayed(optimize_graph=not kept)
    if blocks.size == 1:
        return blocks.ravel()[0]
    # the blocks as arguments of their own: in a list, Dask optimises each block's graph alone
    # and drops those futures
    return dask.delayed(_assemble, pure=True)(blocks.shape, *blocks.ravel(),
                                              dask_key_name=f"assemble-{data.name}")  # fmt: skip


def _assemble(shape: tuple[int, ...], *blocks: np.ndarray) -> np.ndarray:
    """The array of ``blocks`` (in C order over the block grid ``shape``)."""
    from dask.array.core import concatenate3

    def nested(shape: tuple[int, ...], flat: Sequence[np.ndarray]) -> list[Any]:
        if len(shape) == 1:
            return list(flat)
        step = len(flat) // shape[0]
        return [nested(shape[1:], flat[i * step:(i + 1) * step]) for i in range(shape[0])]

    return concatenate3(nested(shape, blocks))


def _detach(value: Any, refs: list[Any]) -> Any:
    if isinstance(value, xr.DataArray) and value.chunks is not None:
        return _LayerArg(value.data, refs, like=value)
    if isinstance(value, dsa.Array):
        return _LayerArg(value, refs)
    if isinstance(value, Mapping):
        return {k: _detach(v, refs) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_detach(v, refs) for v in value)
    return value


def _restore(value: Any, values: Sequence[np.ndarray]) -> Any:
    if isinstance(value, _LayerArg):
        return value.restore(values)
    if isinstance(value, Mapping):
        return {k: _restore(v, values) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_restore(v, values) for v in value)
    return value


def _call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
          *values: np.ndarray) -> Any:
    return fn(*_restore(args, values), **_restore(kwargs, values))


def layer_task(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` as one Dask task whose Dask-backed layers keep their own keys.

    Every Dask array or Dask-backed DataArray among the arguments (also inside lists, tuples and
    dicts) reaches ``fn`` whole and in memory, as it would through :func:`dask.delayed`. Dask's
    :func:`~dask.delayed.delayed` gives a collection argument a copy of its graph under new
    keys, and a task that assembles it: two tasks given one lazy layer each computed it again,
    and every layer cost one task more (a third of a small run's tasks). Here a layer of one
    block is that block (no task more, no copy), and a layer of several is assembled
    (:func:`dask.array.core.concatenate3`) by one task named for the layer, which every task
    computed with it shares; its blocks can go once it is made. A layer's own graph is optimised
    first (its element-wise steps fused) unless it is built on kept (persisted) blocks, whose
    futures the optimisation would drop. Hand-written because Dask has no public way to pass a
    collection to a task without that copy.

    Parameters
    ----------
    fn
        The function; its arguments as for :func:`dask.delayed` (Dask collections other than
        arrays, and ``Delayed`` values, are passed to it the same way).
    *args, **kwargs
        Its arguments.

    Returns
    -------
    dask.delayed.Delayed
        The task (impure: computed each time, as ``dask.delayed(fn, pure=False)``). Memory: the
        task holds each layer whole, as with :func:`dask.delayed`.
    """
    refs: list[Any] = []
    args, kwargs = _detach(args, refs), _detach(kwargs, refs)
    # the layers' values as arguments of their own: Dask keeps the futures of kept blocks only
    # there (in a list, a block's graph is optimised on its own and they are dropped)
    key = f"{funcname(fn)}-{uuid.uuid4().hex}"  # named for fn on the dashboard, not _call
    return dask.delayed(_call, pure=False)(fn, args, kwargs, *refs, dask_key_name=key)
