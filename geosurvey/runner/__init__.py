"""Running geosurvey's work: one area end to end, many areas on a cluster, and where Dask runs.

* :func:`dask_client` picks the scheduler (threads, a LocalCluster, or an existing cluster) the same
  way for every entry point: ``geosurvey run``, ``geosurvey demo``, notebooks and batch jobs.
"""

from geosurvey.runner._cluster import dask_client, describe_scheduler

__all__ = ["dask_client", "describe_scheduler"]
