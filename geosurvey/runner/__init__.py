"""Running geosurvey's work: one area end to end, many areas on a cluster, and where Dask runs.

* :func:`dask_client` picks the scheduler (threads, a LocalCluster, or an existing cluster) the same
  way for every entry point: ``geosurvey run``, ``geosurvey demo``, notebooks and batch jobs.
* :func:`batch` runs many areas on a Dask cluster, resumable and fault-tolerant
  (``geosurvey batch``).
"""

from geosurvey.runner._batch import BatchJobResult, BatchResult, batch, check_shared_storage
from geosurvey.runner._cluster import dask_client, describe_scheduler

__all__ = [
    "BatchJobResult",
    "BatchResult",
    "batch",
    "check_shared_storage",
    "dask_client",
    "describe_scheduler",
]
