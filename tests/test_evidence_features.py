"""Mapped features: exact distance against shapely, line density against its definition,
categorical/one-hot layers against point-in-polygon tests; real GTK faults and lithology."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from odc.geo.geobox import GeoBox

import geosurvey.evidence as ev
from geosurvey.errors import CRSError, GeometryError, InputError
from geosurvey.io import read_raster
from geosurvey.testing import grid_like, raise_if_dask_computes

from conftest import require_shared

GTK = "gtk_lapland_iocg"


@pytest.fixture(scope="module")
def mag():
    return read_raster(require_shared(GTK, "grids_100m", "mag_tmi_dgrf65_anomaly_nT.tif"), chunks={"y": 256, "x": 256})


@pytest.fixture(scope="module")
def faults():
    return gpd.read_file(require_shared(GTK, "vector", "IOCG_CLB_Structures_1M.shp"))


@pytest.fixture(scope="module")
def lithology():
    lith = gpd.read_file(require_shared(GTK, "vector", "IOCG_CLB_Lith_Asstn_1M.shp"))
    lith.geometry = shapely.make_valid(lith.geometry.values, method="structure", keep_collapsed=False)
    return lith


def centres(grid: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(grid.x.values, grid.y.values)


def shapely_distance(geoms, x, y) -> np.ndarray:
    """Reference: shapely's exact distance from each point to the union of the geometries."""
    union = shapely.union_all(np.asarray(geoms))
    return shapely.distance(shapely.points(x, y), union)


# ---------------------------------------------------------------------------------------------
# Distance
# ---------------------------------------------------------------------------------------------


def test_distance_to_real_faults_equals_shapely(mag, faults):
    with raise_if_dask_computes():
        dist = ev.distance_to_features(faults, mag)
    assert dist.chunks == mag.chunks
    assert dist.attrs["units"] == "m" and dist.rio.crs == mag.rio.crs
    assert dist.rio.transform() == mag.rio.transform()
    values = dist.values
    x, y = centres(mag)
    rng = np.random.default_rng(0)
    idx = rng.choice(values.size, 3000, replace=False)
    expected = shapely_distance(faults.geometry.values, x.ravel()[idx], y.ravel()[idx])
    np.testing.assert_allclose(values.ravel()[idx], expected, rtol=1e-6, atol=1e-3)
    # the rasterise + EDT shortcut is not this exact: it differs by up to ~half a pixel diagonal
    assert values.max() > 10_000


def test_distance_chunked_equals_in_memory_and_geobox(mag, faults):
    a = ev.distance_to_features(faults, mag.chunk({"y": 100, "x": 300})).values
    b = ev.distance_to_features(faults, mag.compute()).values
    c = ev.distance_to_features(faults, mag.odc.geobox).values
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(b, c)


def test_distance_with_attribute_filter_and_other_crs(mag, faults):
    shear = faults[faults["NAME"].str.contains("shear", na=False)]
    dist = ev.distance_to_features(faults, mag, where="NAME.str.contains('shear', na=False)")
    assert f"{len(shear)} features" in dist.attrs["history"]
    x, y = centres(mag)
    expected = shapely_distance(shear.geometry.values, x[::40, ::40].ravel(), y[::40, ::40].ravel())
    np.testing.assert_allclose(dist.values[::40, ::40].ravel(), expected, rtol=1e-6, atol=1e-3)
    # features given in WGS 84 are reprojected to the grid's CRS
    wgs = ev.distance_to_features(faults.to_crs("EPSG:4326"), mag).values[::40, ::40]
    native = ev.distance_to_features(faults, mag).values[::40, ::40]
    np.testing.assert_allclose(wgs, native, atol=0.05)  # the round trip through WGS 84 moves mm


def test_distance_to_polygons_and_to_their_boundaries(mag, lithology):
    grid = mag.isel(y=slice(0, 300), x=slice(0, 300))
    granitoids = lithology[lithology["ROCK_CLA_1"] == "Plutonic rock"]
    inside = ev.distance_to_features(granitoids, grid).values
    boundary = ev.distance_to_features(granitoids, grid, to="boundary").values
    x, y = centres(grid)
    sel = (slice(None, None, 7), slice(None, None, 7))
    px, py = x[sel].ravel(), y[sel].ravel()
    np.testing.assert_allclose(inside[sel].ravel(), shapely_distance(granitoids.geometry.values, px, py),
                               rtol=1e-6, atol=1e-3)
    rings = shapely.boundary(granitoids.geometry.values)
    np.testing.assert_allclose(boundary[sel].ravel(), shapely_distance(rings, px, py), rtol=1e-6, atol=1e-3)
    assert (inside == 0).sum() > 100 and (boundary > 0).all()


def test_distance_to_points(mag):
    deposits = gpd.read_file(require_shared(GTK, "vector", "IOCG_Deps_Prosp_Occs.shp"))
    dist = ev.distance_to_features(deposits, mag).values
    x, y = centres(mag)
    px, py = deposits.geometry.x.values, deposits.geometry.y.values
    expected = np.sqrt(((x[..., None] - px) ** 2 + (y[..., None] - py) ** 2).min(axis=-1))
    np.testing.assert_allclose(dist, expected, rtol=1e-6, atol=1e-3)


segment = st.tuples(*(st.floats(-500, 2500, allow_nan=False) for _ in range(4)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(segment, min_size=1, max_size=6), st.integers(1, 40), st.integers(1, 40))
def test_distance_is_exact_for_random_segments(segments, ny, nx):
    grid = grid_like(np.zeros((ny, nx)), crs="EPSG:32633", resolution=50.0, origin=(0.0, 2000.0))
    lines = [shapely.LineString([(a, b), (c, d)]) if (a, b) != (c, d) else shapely.Point(a, b)
             for a, b, c, d in segments]
    gdf = gpd.GeoDataFrame(geometry=lines, crs="EPSG:32633")
    out = ev.distance_to_features(gdf, grid).values
    x, y = centres(grid)
    np.testing.assert_allclose(out.ravel(), shapely_distance(lines, x.ravel(), y.ravel()), rtol=1e-6, atol=1e-3)


def test_distance_refusals(mag, faults, tmp_path):
    with pytest.raises(CRSError, match="no CRS"):
        ev.distance_to_features(faults.set_crs(None, allow_override=True), mag)
    with pytest.raises(InputError, match="selects none"):
        ev.distance_to_features(faults, mag, where="NAME == 'nowhere'")
    with pytest.raises(InputError, match="columns are: OBJECTID"):
        ev.distance_to_features(faults, mag, where="NOSUCH > 1")
    bowtie = shapely.Polygon([(0, 0), (1000, 1000), (1000, 0), (0, 1000)])
    with pytest.raises(GeometryError, match="invalid"):
        ev.distance_to_features(gpd.GeoDataFrame(geometry=[bowtie], crs=3067), mag)
    geographic = GeoBox.from_bbox((20, 67, 21, 68), crs="EPSG:4326", resolution=0.01)
    with pytest.raises(CRSError, match="metres"):
        ev.distance_to_features(faults, geographic)
    with pytest.raises(InputError, match="'geometry' or 'boundary'"):
        ev.distance_to_features(faults, mag, to="edges")


# ---------------------------------------------------------------------------------------------
# Line density
# ---------------------------------------------------------------------------------------------


def test_line_density_of_a_straight_line_matches_its_definition():
    grid = grid_like(np.zeros((200, 200)), crs="EPSG:32633", resolution=100.0, origin=(0.0, 20_000.0), chunks=64)
    line = gpd.GeoDataFrame(geometry=[shapely.LineString([(2_000, 10_030), (18_000, 10_030)])], crs="EPSG:32633")
    radius = 1_000.0
    with raise_if_dask_computes():
        density = ev.line_density(line, grid, radius=radius)
    values = density.values
    assert density.attrs["units"] == "km/km2"
    # on the line, far from its ends: 2r km of line in a disc of π r² km² (r = 1 km)
    row = int(np.argmin(np.abs(grid.y.values - 10_030)))
    assert values[row, 100] == pytest.approx(2 / np.pi, rel=0.1)
    # nothing farther than the radius (plus a pixel) from the line
    far = np.abs(grid.y.values - 10_030) > radius + 100
    assert (values[far, :] == 0).all()
    # total length is conserved: Σ density · pixel area · (disc area / disc pixels area) = 16 km
    disc_pixels = np.count_nonzero(np.hypot(*np.mgrid[-10:11, -10:11] * 100.0) <= radius)
    total = values.sum() * 0.01 * (np.pi * 1.0) / (disc_pixels * 0.01)
    assert total == pytest.approx(16.0, rel=1e-3)
    np.testing.assert_allclose(values, ev.line_density(line, grid.compute(), radius=radius).values, rtol=1e-6)


def test_line_density_of_real_faults(mag, faults):
    density = ev.line_density(faults, mag, radius=2_000)
    values = density.values
    assert values.shape == mag.shape and np.isfinite(values).all() and values.max() > 0
    with pytest.raises(InputError, match="at least one pixel"):
        ev.line_density(faults, mag, radius=10)


# ---------------------------------------------------------------------------------------------
# Categorical and one-hot
# ---------------------------------------------------------------------------------------------


def test_categorical_raster_is_the_polygon_holding_each_pixel_centre(mag, lithology):
    with raise_if_dask_computes():
        cats = ev.categorical_raster(lithology, mag, column="ROCK_CLA_1")
    codes = cats.values
    names = cats.attrs["categories"]
    assert names == sorted(lithology["ROCK_CLA_1"].unique())
    x, y = centres(mag)
    rng = np.random.default_rng(3)
    idx = rng.choice(codes.size, 2000, replace=False)
    pts = shapely.points(x.ravel()[idx], y.ravel()[idx])
    tree = shapely.STRtree(lithology.geometry.values)
    hits = tree.query(pts, predicate="within")
    expected = np.full(idx.size, -1)
    expected[hits[0]] = [names.index(v) for v in lithology["ROCK_CLA_1"].values[hits[1]]]
    agree = codes.ravel()[idx] == expected
    assert agree.mean() > 0.999  # a pixel centre exactly on a shared boundary may go either way


def test_one_hot_layers(mag, lithology):
    cats = ev.categorical_raster(lithology, mag, column="ROCK_CLA_1", where="ROCK_CLA_1 != 'Volcanic rock'")
    with raise_if_dask_computes():
        hot = ev.one_hot(cats)
    values = hot.values
    codes = cats.values
    assert hot.dims == ("category", "y", "x") and list(hot["category"].values) == cats.attrs["categories"]
    assert np.isnan(values[:, codes < 0]).all()
    assert (values[:, codes >= 0].sum(axis=0) == 1).all()
    one = ev.one_hot(cats, values=["Plutonic rock"])
    np.testing.assert_array_equal(one.sel(category="Plutonic rock").values == 1,
                                  codes == cats.attrs["categories"].index("Plutonic rock"))
    with pytest.raises(InputError, match="no categories"):
        ev.one_hot(cats, values=["Volcanic rock"])
    with pytest.raises(InputError, match="no column"):
        ev.categorical_raster(lithology, mag, column="NOPE")
