"""What a batch sets up in its processes: the run's modules imported once, and the objects they
hold kept out of Python's full garbage collections while the batch runs.

Python's full (generation-2) collection scans every container object the process holds. A
process that has imported what a run uses (xarray, dask, rasterio, geopandas, scipy, folium,
scikit-learn) holds about 400,000 of them, nearly all of them module-level and alive until the
process ends, so each full collection takes about 0.2 s (2 vCPUs, 2026-12-05) to find nothing in
them. :func:`gc.freeze` moves the objects a process holds to a permanent generation that
collections skip; :func:`gc.unfreeze` returns them. The batch freezes its own process (the client,
whose threads drive every job under one interpreter lock, and the embedded cluster's scheduler)
and, through :class:`FrozenImports`, every worker, after importing :data:`RUN_MODULES` there.
Objects made during the batch are collected as always.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import Iterator, Sequence
from typing import Any

from distributed import WorkerPlugin

from geosurvey.errors import ClusterError
from geosurvey.runner._cluster import RUN_MODULES

__all__ = ["FrozenImports", "frozen_imports"]


class FrozenImports(WorkerPlugin):
    """A Dask worker plugin: import ``modules``, then :func:`gc.freeze` what the worker holds
    (on every worker, those that join later too); :func:`gc.unfreeze` when the plugin is removed.
    A worker that froze its objects already (the freeze count is not 0) is left as it is."""

    name = "geosurvey-frozen-imports"

    def __init__(self, modules: Sequence[str] = RUN_MODULES) -> None:
        self.modules = tuple(modules)
        self.froze = False

    def setup(self, worker: Any) -> None:
        for module in self.modules:
            importlib.import_module(module)
        if not gc.get_freeze_count():
            gc.freeze()
            self.froze = True

    def teardown(self, worker: Any) -> None:
        if self.froze:
            gc.unfreeze()
            self.froze = False


@contextlib.contextmanager
def frozen_imports(client: Any, modules: Sequence[str] = RUN_MODULES) -> Iterator[None]:
    """For the block: :class:`FrozenImports` of ``modules`` on every worker of ``client``'s
    cluster, and the objects this process holds frozen (unless something froze them already).

    Raises
    ------
    ClusterError
        If a worker cannot import the run's modules (geosurvey or one of its dependencies
        missing there): before any job runs.
    """
    try:
        client.register_plugin(FrozenImports(modules), name=FrozenImports.name)
    except ImportError as exc:
        _unregister(client)  # else every worker that joins later would fail the same way
        raise ClusterError(
            f"a Dask worker at {client.scheduler.address} cannot import geosurvey ({exc}); install "
            "the same geosurvey and its dependencies in every worker's environment"
        ) from exc
    froze = not gc.get_freeze_count()
    if froze:
        gc.freeze()
    try:
        yield
    finally:
        if froze:
            gc.unfreeze()
        _unregister(client)


def _unregister(client: Any) -> None:
    # a scheduler that went away took the plugin with it
    with contextlib.suppress(Exception):
        client.unregister_worker_plugin(FrozenImports.name)
