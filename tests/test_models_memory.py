"""What keeps a lazy prediction's memory bounded by the chunks (measured in
benchmarks/bench_models.py): blocks predicted in strips of rows give exactly scikit-learn's own
prediction, and read_raster bounds GDAL's block cache unless GDAL_CACHEMAX says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from sklearn.ensemble import RandomForestClassifier

from geosurvey.io import GDAL_CACHE_MIB
from geosurvey.prospectivity import RasterClassifier, stack_layers
from geosurvey.testing import grid_like


def test_strips_of_rows_give_scikit_learns_prediction(monkeypatch):
    rng = np.random.default_rng(8)
    cube = rng.normal(size=(45, 31, 3))
    cube[7, 3, 1] = np.nan  # one missing value inside a strip: NaN there only
    layers = {k: grid_like(cube[..., i], name=k, units="1", chunks=20) for i, k in enumerate("abc")}
    X = rng.normal(size=(300, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0).fit(X, y)
    model = RasterClassifier(RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0)).fit(X, y)
    monkeypatch.setattr("geosurvey.prospectivity._models.PREDICT_PIXELS", 100)  # 3 rows of 31 a strip
    got = model.predict_raster(stack_layers(layers)).values  # 20-row chunks: strips 3,3,...,2
    flat = cube.reshape(-1, 3)
    ok = np.isfinite(flat).all(axis=1)
    expected = np.full(flat.shape[0], np.nan, dtype=np.float32)
    expected[ok] = forest.predict_proba(flat[ok])[:, 1]
    np.testing.assert_array_equal(got, expected.reshape(45, 31))
    assert np.isnan(got[7, 3]) and np.isfinite(got).sum() == 45 * 31 - 1


CHECK = """
import sys, rasterio.env
from geosurvey.io import read_raster
before = rasterio.env.get_gdal_config("GDAL_CACHEMAX")
read_raster(sys.argv[1])
print(before, rasterio.env.get_gdal_config("GDAL_CACHEMAX"))
"""


@pytest.mark.parametrize("setting", [None, "100"])
def test_read_raster_bounds_gdals_cache_unless_it_is_set(tmp_path, setting):
    path = tmp_path / "one.tif"
    with rasterio.open(path, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       crs="EPSG:3067", transform=from_origin(0, 40, 10, 10)) as dst:
        dst.write(np.ones((1, 4, 4), dtype=np.float32))
    env = {k: v for k, v in os.environ.items() if k != "GDAL_CACHEMAX"}
    if setting:
        env["GDAL_CACHEMAX"] = setting
    out = subprocess.run([sys.executable, "-c", CHECK, str(path)], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    before, after = (int(v) for v in out)
    if setting is None:  # GDAL's default is 5 % of the memory (bytes); ours is a size in MiB
        assert before != after == GDAL_CACHE_MIB
    else:  # the user's choice (MiB, which GDAL reports in bytes) is left alone
        assert before == after == 100 * 2**20
