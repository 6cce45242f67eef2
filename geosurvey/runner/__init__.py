"""Running geosurvey's work: one area end to end, many areas on a cluster, and where Dask runs.

* :func:`run` does the whole job for one survey area (``geosurvey run``), one stage function
  each (:func:`check_area`, :func:`find_items`, :func:`load_datacube`, :func:`resolve_context`,
  :func:`compute_evidence`, :func:`score_evidence`, :func:`evaluate_run`, :func:`write_outputs`);
  :func:`run_from_manifest` repeats a run bit for bit.
* :func:`dask_client` picks the scheduler (threads, a LocalCluster, or an existing cluster) the same
  way for every entry point: ``geosurvey run``, ``geosurvey demo``, notebooks and batch jobs.
* :func:`batch` runs many areas on a Dask cluster, resumable and fault-tolerant
  (``geosurvey batch``).
"""

from geosurvey.runner._batch import BatchJobResult, BatchResult, batch, check_shared_storage
from geosurvey.runner._cluster import (
    LOCAL_CLUSTER_CONFIG,
    MALLOC_ENV,
    RUN_MODULES,
    dask_client,
    describe_scheduler,
)
from geosurvey.runner._run import (
    RunEvaluation,
    RunInputs,
    RunResult,
    check_area,
    compute_evidence,
    evaluate_run,
    execute_run,
    find_items,
    load_datacube,
    persist_budget,
    plan_run,
    resolve_context,
    run,
    run_from_manifest,
    run_resolution,
    runs_sharing_workers,
    score_evidence,
    select_recipes,
    write_outputs,
)

__all__ = [
    "LOCAL_CLUSTER_CONFIG",
    "MALLOC_ENV",
    "RUN_MODULES",
    "BatchJobResult",
    "BatchResult",
    "RunEvaluation",
    "RunInputs",
    "RunResult",
    "batch",
    "check_area",
    "check_shared_storage",
    "compute_evidence",
    "dask_client",
    "describe_scheduler",
    "evaluate_run",
    "execute_run",
    "find_items",
    "load_datacube",
    "persist_budget",
    "plan_run",
    "resolve_context",
    "run",
    "run_from_manifest",
    "run_resolution",
    "runs_sharing_workers",
    "score_evidence",
    "select_recipes",
    "write_outputs",
]
