"""Survey-area geometry: ellipsoidal area against the closed-form zone area, antimeridian cuts,
validity, ranges, analysis CRS, and reading real vector files in several formats and CRSs."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Geod, Transformer
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from geosurvey.aoi import (
    analysis_crs_for,
    bbox_geometry,
    geodesic_area_km2,
    lonlat_bounds,
    normalise_geometry,
    overlaps,
    read_geometry,
)
from geosurvey.errors import CRSError, GeometryError, InputError, MissingInputError

from conftest import require_shared

# WGS 84
A = 6378137.0
F = 1 / 298.257223563
E2 = F * (2 - F)
E = math.sqrt(E2)
B = A * (1 - F)


def zone_area_km2(south: float, north: float, width_deg: float) -> float:
    """Closed-form area of a latitude-longitude box on the WGS 84 ellipsoid (authalic integral).

    S(phi) = pi b^2 [ sin(phi) / (1 - e^2 sin^2 phi) + ln((1 + e sin phi) / (1 - e sin phi)) / (2e) ]
    is the area from the equator to latitude phi over all longitudes.
    """

    def s(phi_deg: float) -> float:
        x = math.sin(math.radians(phi_deg))
        return (
            math.pi * B**2 * (x / (1 - E2 * x**2) + math.log((1 + E * x) / (1 - E * x)) / (2 * E))
        )

    return (s(north) - s(south)) * width_deg / 360.0 / 1e6


def to_projected(geom: shapely.Geometry, crs: object) -> shapely.Geometry:
    """``geom`` (lon/lat) with its vertices transformed to ``crs`` by pyproj."""
    transformer = Transformer.from_crs("EPSG:4326", CRS.from_user_input(crs), always_xy=True)
    return shapely.transform(geom, lambda x, y: transformer.transform(x, y), interleaved=False)


@pytest.mark.parametrize(
    ("west", "south", "east", "north"),
    [
        (-1, -1, 1, 1),
        (-115.64, 35.41, -115.42, 35.58),
        (23.5, 67.2, 25.0, 68.0),
        (10, -60, 30, -40),
    ],
)
def test_box_area_matches_closed_form(west: float, south: float, east: float, north: float) -> None:
    got = geodesic_area_km2(box(west, south, east, north))
    assert got == pytest.approx(zone_area_km2(south, north, east - west), rel=2e-6)


def test_bbox_across_antimeridian_is_cut_and_has_the_right_area() -> None:
    geom = bbox_geometry((177.0, 50.0, -177.0, 53.0))
    assert isinstance(geom, MultiPolygon) and len(geom.geoms) == 2
    for part in geom.geoms:
        xmin, _, xmax, _ = part.bounds
        assert -180 <= xmin and xmax <= 180
    assert {p.bounds[0] for p in geom.geoms} == {177.0, -180.0}
    assert geodesic_area_km2(geom) == pytest.approx(zone_area_km2(50, 53, 6), rel=2e-6)
    assert lonlat_bounds(geom) == (177.0, 50.0, -177.0, 53.0)


def test_polygon_drawn_across_antimeridian_is_cut_per_rfc7946() -> None:
    # Drawn the way a user clicks it: longitudes jump from 178 to -179.
    ring = [(178.0, 51.0), (-179.0, 51.2), (-179.5, 52.4), (178.5, 52.0)]
    geom, notes = normalise_geometry(Polygon(ring))
    assert isinstance(geom, MultiPolygon)
    assert any("antimeridian" in n for n in notes)
    coords = shapely.get_coordinates(geom)
    assert np.all(np.abs(coords[:, 0]) <= 180)
    # The same polygon, shifted to 0..360 so it does not cross, has the same shape and area.
    unwrapped = Polygon([(x % 360, y) for x, y in ring])
    rejoined = shapely.union_all(
        [shapely.affinity.translate(p, xoff=360.0 if p.bounds[0] < 0 else 0.0) for p in geom.geoms]
    )
    assert rejoined.symmetric_difference(unwrapped).area < 1e-7  # 1e-7° snapping along the edges
    lons, lats = np.asarray(shapely.segmentize(unwrapped, 0.01).exterior.coords).T
    expected = abs(Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)[0]) / 1e6
    assert geodesic_area_km2(geom) == pytest.approx(expected, rel=1e-6)


def test_exteriors_are_counter_clockwise_and_holes_clockwise() -> None:
    outer = [(0, 0), (0, 2), (2, 2), (2, 0)]  # clockwise
    hole = [(0.5, 0.5), (1.5, 0.5), (1.5, 1.5), (0.5, 1.5)]  # counter-clockwise
    geom, _ = normalise_geometry(Polygon(outer, [hole]))
    assert geom.exterior.is_ccw
    assert not geom.interiors[0].is_ccw
    assert geodesic_area_km2(geom) == pytest.approx(
        zone_area_km2(0, 2, 2) - zone_area_km2(0.5, 1.5, 1), rel=1e-5
    )


lon = st.floats(-179.0, 179.0)
lat = st.floats(-70.0, 70.0)


@settings(max_examples=40, deadline=None)
@given(west=lon, width=st.floats(0.01, 20.0), south=lat, height=st.floats(0.01, 15.0))
def test_bbox_area_and_normalisation_properties(
    west: float, width: float, south: float, height: float
) -> None:
    east = west + width
    east = east - 360 if east > 180 else east
    north = min(south + height, 80.0)
    geom, _ = normalise_geometry(bbox_geometry((west, south, east, north)))
    # closed-form area (the 7-decimal snapping moves edges by < 1.1 cm)
    assert geodesic_area_km2(geom) == pytest.approx(
        zone_area_km2(south, north, width), rel=1e-5, abs=1e-3
    )
    # normalising again changes nothing
    again, _ = normalise_geometry(geom)
    assert again.equals_exact(geom, tolerance=0.0)
    assert np.all(np.abs(shapely.get_coordinates(geom)[:, 0]) <= 180)


def test_invalid_geometry_is_refused_with_the_location() -> None:
    bowtie = Polygon([(10, 40), (11, 41), (11, 40), (10, 41)])
    with pytest.raises(
        GeometryError, match=r"self-intersection at longitude 10\.5, latitude 40\.5"
    ) as info:
        normalise_geometry(bowtie, where="outline.geojson")
    assert "outline.geojson" in str(info.value) and "--fix" in str(info.value)
    fixed, notes = normalise_geometry(bowtie, fix=True)
    assert fixed.is_valid and isinstance(fixed, MultiPolygon)
    assert any("make_valid" in n and "10.5" in n for n in notes)
    # the repaired bow-tie is its two triangles: a quarter of the 1°x1° cell each (in lon/lat)
    assert fixed.area == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (Polygon([(-181, 0), (-179, 0), (-179, 1)]), r"\(-181\.0, 0\.0\) is out of range"),
        (Polygon([(0, 0), (1, 95), (1, 0)]), r"\(1\.0, 95\.0\) is out of range"),
        (Polygon(), "empty"),
        ({"type": "Polygon", "coordinates": []}, "empty"),
        (LineString([(0, 0), (1, 1)]), "must be a Polygon or MultiPolygon, got LineString"),
        ({"type": "Point", "coordinates": [0, 0]}, "must be a Polygon or MultiPolygon"),
        (Polygon([(0, 80), (120, 80), (-120, 80)]), "encircles a pole"),
    ],
)
def test_bad_geometries_are_refused(geometry: object, message: str) -> None:
    with pytest.raises(GeometryError, match=message):
        normalise_geometry(geometry, where="test")


@pytest.mark.parametrize(
    ("bbox", "error", "message"),
    [
        ("1,2,3", InputError, "four numbers"),
        ("a,b,c,d", InputError, "four numbers"),
        ((0, 10, 1, 5), GeometryError, "south .* must be less than north"),
        ((0, -91, 1, 5), GeometryError, "south = -91.0 is out of range"),
        ((200, 0, 201, 1), GeometryError, "west = 200.0 is out of range"),
    ],
)
def test_bad_bbox_is_refused(bbox: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        bbox_geometry(bbox)


@pytest.mark.parametrize(
    ("bbox", "epsg"),
    [
        ((-115.64, 35.41, -115.42, 35.58), 32611),  # Mountain Pass: UTM 11N
        ((153.3, 22.6, 154.4, 23.7), 32656),  # Minamitorishima: UTM 56N
        ((23.5, 67.2, 25.0, 68.0), 32635),  # Kolari: UTM 35N
        ((-70.5, -33.8, -70.0, -33.2), 32719),  # central Chile: UTM 19S
        ((178.0, 51.0, -179.5, 52.0), 32660),  # small, across 180°: UTM 60N still fits
    ],
)
def test_analysis_crs_is_the_utm_zone(bbox: tuple, epsg: int) -> None:
    assert analysis_crs_for(bbox_geometry(bbox)).to_epsg() == epsg


@pytest.mark.parametrize(
    "bbox", [(176.0, 50.8, -177.0, 52.4), (120.0, 20.0, 135.0, 35.0), (10, 80.5, 20, 83)]
)
def test_large_areas_get_an_equal_area_crs(bbox: tuple) -> None:
    geom = bbox_geometry(bbox)
    crs = analysis_crs_for(geom)
    assert crs.to_epsg() is None
    assert crs.coordinate_operation.method_name == "Lambert Azimuthal Equal Area"
    # equal area: the planar area in the CRS equals the ellipsoidal area
    planar = sum(
        to_projected(shapely.segmentize(p, 0.01), crs).area for p in shapely.get_parts(geom)
    )
    assert planar / 1e6 == pytest.approx(geodesic_area_km2(geom), rel=1e-4)


def test_overlaps_are_measured_on_the_ellipsoid() -> None:
    found = overlaps(
        {
            "a": box(0, 0, 2, 2),
            "b": box(1, 1, 3, 3),  # overlaps a by 1° x 1°
            "c": box(2.5, 0, 4, 1.5),  # overlaps b by 0.5° x 0.5°
            "d": box(-1, 0, 0, 1),  # only touches a
            "e": box(10, 10, 11, 11),
        }
    )
    assert [(o.first, o.second) for o in found] == [("a", "b"), ("b", "c")]
    assert found[0].area_km2 == pytest.approx(zone_area_km2(1, 2, 1), rel=1e-5)
    assert found[1].area_km2 == pytest.approx(zone_area_km2(1, 1.5, 0.5), rel=1e-5)


# ----------------------------------------------------------------------------------------------
# Reading files


@pytest.fixture()
def outline() -> Polygon:
    return Polygon([(24.0, 67.5), (24.6, 67.45), (24.7, 67.8), (24.1, 67.85)])


@pytest.mark.parametrize(
    ("suffix", "driver"),
    [
        (".geojson", "GeoJSON"),
        (".gpkg", "GPKG"),
        (".fgb", "FlatGeobuf"),
        (".kml", "KML"),
        (".shp", "ESRI Shapefile"),
    ],
)
def test_read_each_format(tmp_path, outline: Polygon, suffix: str, driver: str) -> None:
    path = tmp_path / f"area{suffix}"
    gpd.GeoDataFrame({"name": ["x"]}, geometry=[outline], crs="EPSG:4326").to_file(
        path, driver=driver
    )
    geom = read_geometry(path)
    assert (
        geom.equals_exact(outline, tolerance=1e-9)
        or geom.symmetric_difference(outline).area < 1e-12
    )


def test_projected_file_needs_crs_and_is_reprojected(tmp_path, outline: Polygon) -> None:
    path = tmp_path / "area.gpkg"
    gpd.GeoDataFrame(geometry=[outline], crs="EPSG:4326").to_crs("EPSG:3067").to_file(path)
    with pytest.raises(CRSError, match=r"area\.gpkg is in EPSG:3067 .*pass crs='EPSG:3067' \(--crs EPSG:3067\)"):
        read_geometry(path)
    with pytest.raises(CRSError, match=r"but crs= \(--crs\) says EPSG:32635"):
        read_geometry(path, crs="EPSG:32635")
    back = read_geometry(path, crs="EPSG:3067")
    # every original vertex is kept ...
    for vertex in outline.exterior.coords:
        assert shapely.Point(vertex).distance(back.exterior) < 1e-7
    # ... and edges, straight in EPSG:3067, stay straight there (densified before reprojection)
    in_3067 = gpd.read_file(path).geometry.iloc[0]
    assert shapely.hausdorff_distance(to_projected(back, 3067), in_3067) < 1.0  # metres
    assert geodesic_area_km2(back) == pytest.approx(geodesic_area_km2(outline), rel=1e-3)


def test_file_without_crs_needs_crs(tmp_path, outline: Polygon) -> None:
    path = tmp_path / "area.shp"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        gpd.GeoDataFrame(geometry=[outline]).to_file(path)
    with pytest.raises(CRSError, match=r"area\.shp has no CRS; pass its CRS with crs= \(--crs\)"):
        read_geometry(path)
    assert (
        read_geometry(path, crs="EPSG:4326")
        .normalize()
        .equals_exact(outline.normalize(), tolerance=1e-9)
    )


def test_several_features_or_layers(tmp_path, outline: Polygon) -> None:
    path = tmp_path / "two.geojson"
    other = shapely.affinity.translate(outline, xoff=1.0)
    gpd.GeoDataFrame(geometry=[outline, other], crs="EPSG:4326").to_file(path)
    with pytest.raises(InputError, match=r"has 2 features.*--dissolve"):
        read_geometry(path)
    merged = read_geometry(path, dissolve=True)
    assert merged.area == pytest.approx(
        outline.area + other.area - outline.intersection(other).area
    )

    gpkg = tmp_path / "layers.gpkg"
    gpd.GeoDataFrame(geometry=[outline], crs="EPSG:4326").to_file(gpkg, layer="a")
    gpd.GeoDataFrame(geometry=[other], crs="EPSG:4326").to_file(gpkg, layer="b")
    with pytest.raises(InputError, match=r"has 2 layers \(a, b\); choose one with layer= \(--layer\)"):
        read_geometry(gpkg)
    assert read_geometry(gpkg, layer="b").equals_exact(other, tolerance=1e-9)


def test_unreadable_missing_and_non_polygon_files(tmp_path) -> None:
    bad = tmp_path / "broken.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(InputError, match=r"cannot read .*broken\.geojson"):
        read_geometry(bad)
    with pytest.raises(MissingInputError, match=r"nothing\.geojson does not exist"):
        read_geometry(tmp_path / "nothing.geojson")
    with pytest.raises(InputError, match=r"unsupported file type '\.txt'"):
        (tmp_path / "a.txt").write_text("x")
        read_geometry(tmp_path / "a.txt")
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=[shapely.Point(0, 0)], crs="EPSG:4326").to_file(points)
    with pytest.raises(GeometryError, match="the file has Point"):
        read_geometry(points)


def test_kolari_target_area_from_gtk_shapefile() -> None:
    shp = require_shared("gtk_lapland_iocg", "vector", "EIS_IOCG_target_area.shp")
    with pytest.raises(CRSError, match="EPSG:3067"):
        read_geometry(shp)
    geom, _ = normalise_geometry(read_geometry(shp, crs="EPSG:3067"))
    original = gpd.read_file(shp).geometry.iloc[0]
    # TM35FIN's scale factor near 24°E, 67.5°N is 0.9997–0.9998: planar and ellipsoidal areas agree
    # to better than 0.1 %.
    assert geodesic_area_km2(geom) == pytest.approx(original.area / 1e6, rel=1e-3)
    back = to_projected(geom, 3067)
    assert shapely.hausdorff_distance(back, original) < 2.0  # metres
