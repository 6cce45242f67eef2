"""Where Dask work runs: in threads, on a LocalCluster, or on an existing cluster.

Every entry point (``geosurvey run``, ``geosurvey demo``, notebooks, batch jobs) picks its scheduler
through :func:`dask_client`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import dask

from geosurvey.errors import ClusterError, InputError
from geosurvey.scheduler import current_client

__all__ = [
    "LOCAL_CLUSTER_CONFIG",
    "MALLOC_ENV",
    "RUN_MODULES",
    "compute_each",
    "dask_client",
    "describe_scheduler",
]

#: The modules a run's tasks use on a worker (and what they import: the scientific stack), which a
#: batch imports on every worker before its first job (:class:`~geosurvey.runner._workers.FrozenImports`).
RUN_MODULES = (
    "geosurvey.runner",
    "geosurvey.catalogs",
    "geosurvey.evidence",
    "geosurvey.prospectivity",
    "geosurvey.evaluation",
    "geosurvey.publish",
)

#: glibc's allocator in the workers of the LocalCluster :func:`dask_client` starts: arrays up to
#: 32 MiB (a 1024² float64 chunk is 8 MiB) come from memory the process already has, and up to
#: 64 MiB of freed memory is kept for them. Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536``,
#: which returns every freed page to the system at once and, as any setting does, turns off
#: glibc's own adaptive threshold, so every array over 128 KiB is a fresh ``mmap`` whose pages
#: fault in one by one: a third of a batch's worker CPU was system time. These two values are
#: glibc's adaptive behaviour at its ceiling, fixed. Measured on 2 vCPUs, 2026-12-04: 4 demo
#: areas of 1230², workers' system time 18.4 s to 9.1 s, the batch 27.4 s to 22.0 s on 2 workers
#: and 45.8 s to 38.7 s on 1, peak worker memory 1.28 to 1.40 GiB; one 20,000² area of six
#: layers on 2 workers of 4 GiB (``benchmarks.bench_large``), 724 s instead of 1189-1411 s, peak
#: worker 3.24 GiB (2.83-3.38 before), none lost. Variables already set in the environment win
#: (Dask reads them first).
MALLOC_ENV: Mapping[str, int] = MappingProxyType({
    "MALLOC_MMAP_THRESHOLD_": 32 * 2**20,
    "MALLOC_TRIM_THRESHOLD_": 64 * 2**20,
})

#: Dask settings of the LocalCluster :func:`dask_client` starts, which has no dashboard to show
#: what most of these feed: no statistical profiler in the workers (Dask's default samples every
#: thread's stack 100 times a second), event-loop health checks every 200 ms instead of 20 ms (a
#: loop blocked for 3 s is still reported) and system samples (CPU, memory, network for the
#: dashboard) every 2 s instead of 0.5 s; the memory limits read the workers' memory afresh and
#: are not affected. An idle cluster of 2 workers then keeps 0.035 cores busy instead of 0.15
#: (2 vCPUs, 2026-12-04; ``benchmarks.bench_batch`` measures it), CPU the workers of a batch
#: get back. And the workers' allocator, :data:`MALLOC_ENV`. A cluster started any other way
#: keeps its own settings.
LOCAL_CLUSTER_CONFIG: Mapping[str, Any] = MappingProxyType({
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "200ms",
    "distributed.admin.system-monitor.interval": "2s",
    **{f"distributed.nanny.pre-spawn-environ.{name}": value for name, value in MALLOC_ENV.items()},
})


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None,
    *,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    memory_limit: str = "auto",
    timeout: float = 10.0,
) -> Iterator[Any]:
    """Run the enclosed Dask work on the chosen scheduler.

    Parameters
    ----------
    scheduler
        ``None`` or ``"threads"``: Dask's threaded scheduler in this process (no client).
        ``"local"``: a :class:`distributed.LocalCluster` of ``n_workers`` worker processes on
        127.0.0.1 (no dashboard, :data:`LOCAL_CLUSTER_CONFIG`), closed when the block ends;
        their GDAL block cache is :data:`geosurvey.io.GDAL_CACHE_MIB` unless ``GDAL_CACHEMAX``
        is set. For a dashboard or the workers' profiles, start a cluster yourself and pass its
        address.
        ``"tcp://HOST:PORT"`` (or any address ``distributed.Client`` accepts): an existing cluster,
        e.g. started with ``dask scheduler`` / ``dask worker``, dask-jobqueue or dask-gateway.
    n_workers, threads_per_worker, memory_limit
        Size of the ``"local"`` cluster.
    timeout
        Seconds to wait for a remote scheduler before giving up.

    Yields
    ------
    distributed.Client or None
        The client (``None`` for the threaded scheduler).

    Raises
    ------
    ClusterError
        If the scheduler at the address cannot be reached in ``timeout`` seconds.
    """
    if scheduler in (None, "threads"):
        with dask.config.set(scheduler="threads"):
            yield None
        return
    from distributed import Client, LocalCluster

    if scheduler == "local":
        from geosurvey.io import GDAL_CACHE_MIB

        # GDAL's block cache in every worker: bounded as in this process (GDAL's default, 5 % of
        # the machine's memory per worker, would count against each worker's memory limit)
        env = {} if "GDAL_CACHEMAX" in os.environ else {"GDAL_CACHEMAX": str(GDAL_CACHE_MIB)}
        # the settings are read as the scheduler, the nannies and the workers start (the nannies
        # hand theirs to the worker processes): set for the start only, not for the caller's work
        with _environ_kept(MALLOC_ENV):
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                cluster = LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=threads_per_worker,
                    memory_limit=memory_limit,
                    host="127.0.0.1",
                    dashboard_address=None,
                    processes=True,
                    env=env,
                )
            with cluster, Client(cluster) as client:
                yield client
        return
    if "://" not in scheduler:
        raise InputError(
            f"unknown scheduler {scheduler!r}: use 'threads', 'local' or a scheduler address such as "
            "tcp://127.0.0.1:8786"
        )
    try:
        client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({exc}); "
            "check that it is running (dask scheduler) and the address, or start a local cluster "
            "instead (scheduler 'local')"
        ) from exc
    with client:
        yield client


@contextlib.contextmanager
def _environ_kept(names: Iterable[str]) -> Iterator[None]:
    """Restore these environment variables of this process when the block ends: Dask's nanny sets
    its workers' pre-spawn variables in the process that starts them, where a cluster the caller
    starts later would inherit them."""
    saved = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def describe_scheduler(client: Any) -> str:
    """One line naming where Dask work runs (for progress output and manifests).

    ``client=None`` names the scheduler Dask uses now: the default distributed client when one is
    active and Dask's scheduler is not set to something else (as when :func:`geosurvey.runner.batch`
    runs areas on its client), else threads in this process.
    """
    if client is None:
        client = current_client()
    if client is None:
        return "threads in this process"
    workers = client.scheduler_info().get("workers", {})
    threads = sum(w.get("nthreads", 0) for w in workers.values())
    return f"{client.scheduler.address} ({len(workers)} workers, {threads} threads)"


def compute_each(groups: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Compute groups of Dask collections, each group submitted as a graph of its own.

    With a distributed client every group is submitted at once (so that the workers stay busy
    while a group's last task runs) and the results are gathered; without, the groups are
    computed one after another. A large job cut into groups never sends Dask one large graph.

    Parameters
    ----------
    groups
        Each a sequence of Dask collections (or ``Delayed``) computed together (their shared
        keys computed once).

    Returns
    -------
    list of list
        The computed values, group by group.
    """
    client = current_client()
    if client is None:
        return [list(dask.compute(*group)) for group in groups]
    futures = [client.compute(list(group)) for group in groups]
    return [list(values) for values in client.gather(futures)]
