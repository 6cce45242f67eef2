"""Evidence graphs run on a real dask.distributed cluster (worker processes): the filters,
block functions and features travel to the workers and give the same answers as in memory."""

from __future__ import annotations

import dask
import numpy as np
import pytest
from distributed import Client, LocalCluster

import geosurvey.evidence as ev
from geosurvey.io import read_raster
from geosurvey.scheduler import current_client, worker_memory_limits
from geosurvey.testing import grid_like

from conftest import require_shared


@pytest.fixture(scope="module")
def client():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


@pytest.mark.slow
def test_transforms_and_distance_on_worker_processes(client):
    import geopandas as gpd

    path = require_shared("gtk_lapland_iocg", "grids_100m", "mag_tmi_dgrf65_anomaly_nT.tif")
    faults = gpd.read_file(require_shared("gtk_lapland_iocg", "vector", "IOCG_CLB_Structures_1M.shp"))
    mag = read_raster(path, chunks={"y": 256, "x": 256})
    mag.attrs["units"] = "nT"
    rtp = ev.reduction_to_pole(mag, inclination=77, declination=10)
    layers = {
        "tilt": ev.tilt_derivative(rtp),
        "distance": ev.distance_to_features(faults, mag, where="NAME.str.contains('shear', na=False)"),
        "density": ev.line_density(faults, mag, radius=2000),
        "slope": ev.slope(mag),
    }
    futures = client.compute([layers[name].data for name in layers])
    results = dict(zip(layers, client.gather(futures), strict=True))
    assert len(client.scheduler_info()["workers"]) == 2
    local = mag.compute()
    expected = {
        "tilt": ev.tilt_derivative(ev.reduction_to_pole(local, inclination=77, declination=10)).values,
        "distance": ev.distance_to_features(faults, local, where="NAME.str.contains('shear', na=False)").values,
        "density": ev.line_density(faults, local, radius=2000).values,
        "slope": ev.slope(local).values,
    }
    for name, values in results.items():
        np.testing.assert_array_equal(values, expected[name], err_msg=name)


@pytest.mark.filterwarnings("ignore:Couldn't detect a suitable IP address:RuntimeWarning")
def test_a_whole_grid_step_too_big_for_the_workers_fails_early_with_the_numbers():
    """FFT transforms gather the grid on one worker: a too-small worker is refused before any work."""
    import re

    from geosurvey.errors import ClusterError

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, memory_limit="64MiB",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert current_client() is client and worker_memory_limits() == [64 * 2**20]
        grid = grid_like(np.zeros((1024, 1024), dtype="float32"), chunks=256, units="nT")
        with pytest.raises(ClusterError) as info:
            ev.tilt_derivative(grid)
        with dask.config.set(scheduler="threads"):  # the client is open but Dask computes in threads
            assert current_client() is None and worker_memory_limits() == []
            assert ev.tilt_derivative(grid).chunks is not None
    message = str(info.value)
    need = float(re.search(r"needs about ([0-9.]+) GiB", message).group(1))
    assert need == pytest.approx(1024 * 1024 * 150 / 2**30, abs=0.05)
    assert "1024×1024" in message and "smallest worker has 0.1 GiB" in message
    grid = grid_like(np.zeros((64, 64), dtype="float32"), chunks=32, units="nT")
    assert ev.tilt_derivative(grid).chunks is not None  # no client: no check, still lazy
