"""Where Dask computes now: the distributed client in charge, if any, and its workers' memory.

Every stage that adapts to the scheduler asks here, so that they all give one answer: the
whole-grid memory check of the FFT transforms, how much a run may persist, how many threads a
tile or COG task uses, and how the runner submits its groups of work. A distributed client
counts only while Dask's ``scheduler`` setting leaves it in charge: inside
``dask.config.set(scheduler="threads")`` the work runs in threads even with a client open.
"""

from __future__ import annotations

from typing import Any

import dask

__all__ = ["current_client", "on_cluster", "on_worker", "worker_memory_limits"]


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
