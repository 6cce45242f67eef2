"""runner.batch through dask-jobqueue's own job machinery: dask_jobqueue.local.LocalCluster writes a
job script per job and starts it as a local process, as SLURMCluster/PBSCluster submit theirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geosurvey.demo import make_demo_areas
from geosurvey.runner import batch

pytestmark = pytest.mark.slow
jobqueue_local = pytest.importorskip(
    "dask_jobqueue.local", reason="this dask-jobqueue has no local job class (dask_jobqueue.local)"
)


def test_batch_on_dask_jobqueue_jobs(tmp_path: Path) -> None:
    import os

    from distributed import Client

    from geosurvey.runner import MALLOC_ENV

    data = make_demo_areas(tmp_path / "data", n_areas=2, resolution=400.0)
    # the README's job-script environment: GDAL's settings and the embedded cluster's allocator
    pushed = {"GDAL_CACHEMAX": "256", **{name: str(value) for name, value in MALLOC_ENV.items()}}
    with jobqueue_local.LocalCluster(
        name="geosurvey-job",
        cores=1,
        processes=1,
        memory="2GiB",
        walltime="00:30:00",
        # as on SLURM/PBS: workers retire before the job's walltime ends (see the README)
        worker_extra_args=["--lifetime", "25m", "--lifetime-stagger", "4m"],
        scheduler_options={"host": "127.0.0.1", "dashboard_address": None},
        # (the local job class runs its script's words as one command, without a shell: `env`
        # in place of the `export` lines a SLURM or PBS script has)
        job_script_prologue=["env " + " ".join(f"{name}={value}" for name, value in pushed.items())],
        local_directory=str(tmp_path / "scratch"),
        log_directory=str(tmp_path / "job-logs"),
    ) as cluster:
        script = cluster.job_script()
        assert "--lifetime 25m" in script and "--memory-limit 2.00GiB" in script
        cluster.scale(jobs=2)
        with Client(cluster) as client:
            client.wait_for_workers(2, timeout=120)
            names = sorted(w["name"] for w in client.scheduler_info()["workers"].values())
            # every worker runs with it (the nanny's own MALLOC_TRIM_THRESHOLD_ does not win)
            seen = client.run(lambda: {name: os.environ.get(name) for name in pushed})
            assert list(seen.values()) == [pushed, pushed]
            result = batch(
                None,
                "demo-iocg",
                out_root=tmp_path / "out",
                sources=[data.catalog],
                occurrences=data.occurrences,
                features={"faults": data.faults},
                registry=data.registry,
                resolution=400.0,
                scheduler=cluster.scheduler_address,
                progress=False,
                echo=lambda _l: None,
            )
    assert result.ok, result.table()
    assert names == ["geosurvey-job-0", "geosurvey-job-1"]  # the two jobs' workers
    assert "2 workers" in result.dask
    doc = json.loads(result.manifest.read_text())
    assert {e["status"] for e in doc["jobs"].values()} == {"ok"}
