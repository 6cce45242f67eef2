"""Targets: ranked polygons of the top of a score, checked against the pixels that make them."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import Point

from geosurvey.errors import InputError, OutputError
from geosurvey.prospectivity import targets
from geosurvey.testing import grid_like, raise_if_dask_computes


def _scene():
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 0.3, size=(50, 60))
    values[5:10, 5:15] = 0.9      # A: 50 pixels
    values[7, 8] = 0.97           # A's maximum
    values[30:35, 30:34] = 0.95   # B: 20 pixels
    values[20:22, 50:52] = 0.6    # C: 4 pixels
    values[45, 2] = np.nan
    score = grid_like(values, name="score")
    e_a = np.zeros_like(values)
    e_a[5:10, 5:15] = 1.0
    e_b = np.zeros_like(values)
    e_b[30:35, 30:34] = 1.0
    evidence = {"e_a": grid_like(e_a, name="e_a"), "e_b": grid_like(e_b, name="e_b")}
    x, y = score.x.values, score.y.values
    occ = gpd.GeoDataFrame(
        {"Name": ["in A", "also in A", "in B", "nowhere"]},
        geometry=[Point(x[6], y[6]), Point(x[13], y[9]), Point(x[31], y[33]), Point(x[40], y[2])],
        crs="EPSG:32611",
    )
    return values, score, evidence, occ


def test_targets_above_a_threshold_are_the_patches_of_pixels() -> None:
    values, score, evidence, occ = _scene()
    result = targets(score, threshold=0.5, occurrences=occ, evidence=evidence)
    t = result.table
    assert len(t) == 3 and result.threshold == 0.5 and result.top is None
    # ranked by mean score: B (0.95), A (~0.9014), C (0.6)
    assert t["mean_score"].tolist() == pytest.approx([0.95, (49 * 0.9 + 0.97) / 50, 0.6])
    assert t["max_score"].tolist() == pytest.approx([0.95, 0.97, 0.6])
    assert t["n_pixels"].tolist() == [20, 50, 4]
    assert t["area_km2"].tolist() == pytest.approx([0.20, 0.50, 0.04])
    assert t["rank_area"].tolist() == [2, 1, 3] and t["rank_max"].tolist() == [2, 1, 3]
    # the polygons are the pixel rectangles
    west, north = 500_000.0, 4_200_000.0
    a = shapely.box(west + 500, north - 1000, west + 1500, north - 500)
    assert t.geometry[1].equals(a) and t.geometry[1].area == pytest.approx(50 * 100 * 100)
    assert t["occurrences"].tolist() == ["in B", "in A; also in A", ""]
    assert t["n_occurrences"].tolist() == [1, 2, 0]
    assert t["evidence"][1].startswith("e_a (+") and "e_b" not in t["evidence"][1]
    assert t["evidence"][0].startswith("e_b (+")
    assert result.occurrences["in_targets"] == 3 and result.occurrences["given"] == 4
    assert result.area_fraction == pytest.approx(74 / (values.size - 1))
    by_area = targets(score, threshold=0.5, ranked_by="area").table
    assert by_area["n_pixels"].tolist() == [50, 20, 4] and by_area["rank"].tolist() == [1, 2, 3]
    assert len(targets(score, threshold=0.5, min_pixels=10).table) == 2


def test_top_fraction_of_the_area() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=(80, 70))
    result = targets(grid_like(values, name="s"), top=0.05)
    n = values.size
    k = int(np.ceil(0.05 * n))
    assert result.threshold == np.sort(values.ravel())[n - k]
    assert int(result.table["n_pixels"].sum()) == k
    assert result.area_fraction == pytest.approx(k / n)


def test_dask_score_and_evidence_are_computed_once() -> None:
    _, score, evidence, occ = _scene()
    lazy = {k: v.chunk(16) for k, v in evidence.items()}
    with raise_if_dask_computes(1):
        result = targets(score.chunk(16), threshold=0.5, evidence=lazy, occurrences=occ)
    assert len(result.table) == 3


def test_geopackage_round_trip(tmp_path) -> None:
    _, score, evidence, occ = _scene()
    result = targets(score, threshold=0.5, occurrences=occ, evidence=evidence)
    path = result.to_file(tmp_path / "targets.gpkg")
    back = gpd.read_file(path, layer="targets")
    assert back.crs == result.table.crs and len(back) == 3
    assert back["occurrences"].tolist() == result.table["occurrences"].tolist()
    assert back.geometry.area.tolist() == pytest.approx(result.table.geometry.area.tolist())
    with pytest.raises(OutputError, match="exists"):
        result.to_file(path)
    with pytest.raises(OutputError, match="GeoPackage"):
        result.to_file(tmp_path / "targets.shp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["targets.gpkg"]


def test_bad_input_is_refused() -> None:
    _, score, _, occ = _scene()
    with pytest.raises(InputError, match="top must be"):
        targets(score, top=0)
    with pytest.raises(InputError, match="no patch"):
        targets(score, threshold=2.0)
    with pytest.raises(InputError, match="no column"):
        targets(score, threshold=0.5, occurrences=occ, name_column="nom")
    shifted = grid_like(np.zeros((50, 60)), name="e", origin=(500_100.0, 4_200_000.0))
    with pytest.raises(InputError, match="not on the same grid"):
        targets(score, threshold=0.5, evidence={"e": shifted})


def test_ties_are_broken_by_area_then_maximum() -> None:
    values = np.zeros((20, 20))
    values[1:3, 1:3] = 1.0     # 4 pixels
    values[10:15, 10:15] = 1.0  # 25 pixels, same mean and max
    values[5, 18] = 1.0        # 1 pixel
    t = targets(grid_like(values, name="s"), threshold=0.5).table
    assert t["n_pixels"].tolist() == [25, 4, 1]
