"""Tests of the synthetic demo survey (geosurvey.demo._synthetic).

The magnetic forward model is checked against physics written out here, independently of
harmonica: a small cube far away against the closed-form field of a point dipole of equal moment,
a vertically magnetised body at the pole (symmetric anomaly centred over the body on the north-up
grid), and the equatorward shift of the positive lobe in an inclined field. The halos, the
occurrence rule, determinism and metadata are checked against the rules stated in the module
docstring.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import shapely
from odc.geo.geobox import GeoBox
from pyproj import CRS as ProjCRS

from geosurvey.demo._synthetic import (
    BARREN_CLEARANCE,
    FAULT_DISTANCE,
    JITTER,
    SURVEY_HEIGHT,
    forward_total_field,
    make_demo_survey,
)
from geosurvey.errors import GeosurveyError, InputError

MU0 = 4e-7 * math.pi
E0, N0 = 500_000.0, 4_200_000.0  # a grid origin in EPSG:32611, metres


def unit_vector(inclination: float, declination: float) -> np.ndarray:
    """(east, north, up) unit vector of a direction: inclination positive down, declination east."""
    inc, dec = math.radians(inclination), math.radians(declination)
    return np.array([math.cos(inc) * math.sin(dec), math.cos(inc) * math.cos(dec), -math.sin(inc)])


def one_prism(centre: tuple[float, float], *, half: float, top: float, bottom: float,
              magnetization: float, inclination: float, declination: float) -> pd.DataFrame:
    cx, cy = centre
    return pd.DataFrame([{
        "west": cx - half, "east": cx + half, "south": cy - half, "north": cy + half,
        "bottom": bottom, "top": top, "magnetization": magnetization,
        "inclination": inclination, "declination": declination,
    }])


def grid(width: float, *, resolution: float = 100.0) -> GeoBox:
    return GeoBox.from_bbox((E0, N0, E0 + width, N0 + width), crs="EPSG:32611",
                            resolution=resolution)


def pixel_of_extreme(da, which: str) -> tuple[float, float]:
    """(easting, northing) of the pixel holding the maximum or minimum."""
    values = da.to_numpy()
    i, j = np.unravel_index(np.argmax(values) if which == "max" else np.argmin(values), values.shape)
    return float(da.x[j]), float(da.y[i])


@pytest.fixture(scope="module")
def survey():
    return make_demo_survey(seed=0)


# --- magnetic physics ------------------------------------------------------------------------


def test_small_cube_far_away_matches_point_dipole() -> None:
    """A 50 m cube 1–4 km away: harmonica's prism field vs the closed-form dipole field.

    The dipole of moment m = M V gives B = μ0 / (4π r³) (3 (m·r̂) r̂ − m). A uniformly magnetised
    cube has no quadrupole term (cubic symmetry), so its field differs from the dipole's by terms of
    relative order (side / distance)⁴, below 1e-5 here; the tolerance, 1e-4 of the peak, leaves
    room for float32 output. The magnetisation and field directions are oblique, so a swapped or
    flipped axis would fail.
    """
    gbox = grid(6000.0)
    side, depth = 50.0, -1000.0
    centre = (E0 + 3050.0, N0 + 2950.0)  # on a pixel centre
    m_int, m_inc, m_dec = 10.0, 40.0, -20.0
    f_inc, f_dec = 61.5, 11.5
    body = one_prism(centre, half=side / 2, top=depth + side / 2, bottom=depth - side / 2,
                     magnetization=m_int, inclination=m_inc, declination=m_dec)
    tmi = forward_total_field(body, gbox, height=0.0, inclination=f_inc, declination=f_dec)

    moment = m_int * side**3 * unit_vector(m_inc, m_dec)  # A m²
    east, north = np.meshgrid(tmi.x.to_numpy(), tmi.y.to_numpy())
    r = np.stack([east - centre[0], north - centre[1], np.full(east.shape, 0.0 - depth)], axis=-1)
    dist = np.linalg.norm(r, axis=-1, keepdims=True)
    rhat = r / dist
    b = MU0 / (4 * math.pi) * (3 * (rhat @ moment)[..., None] * rhat - moment) / dist**3  # tesla
    expected = (b @ unit_vector(f_inc, f_dec)) * 1e9  # nT

    scale = np.abs(expected).max()
    assert scale > 0.1  # the test means something: ~1 nT signal
    np.testing.assert_allclose(tmi.to_numpy(), expected, rtol=0, atol=1e-4 * scale)


def test_vertical_body_at_pole_is_symmetric_and_centred_on_north_up_grid() -> None:
    """Vertical field and magnetisation: the anomaly peaks over the body and is 4-fold symmetric.

    The body sits off-centre (north-east quadrant), so a grid flipped north–south or east–west
    would put the peak at the mirrored place.
    """
    gbox = grid(10_000.0)
    centre = (E0 + 7050.0, N0 + 6850.0)  # pixel centre, north-east of the grid centre
    body = one_prism(centre, half=300.0, top=-200.0, bottom=-1500.0, magnetization=5.0,
                     inclination=90.0, declination=0.0)
    tmi = forward_total_field(body, gbox, height=SURVEY_HEIGHT, inclination=90.0, declination=0.0)

    assert pixel_of_extreme(tmi, "max") == pytest.approx(centre)
    assert float(tmi.max()) > 100.0  # a strong positive anomaly at the pole
    window = tmi.sel(x=slice(centre[0] - 2500, centre[0] + 2500),
                     y=slice(centre[1] + 2500, centre[1] - 2500)).to_numpy()
    assert window.shape == (51, 51)
    tol = 1e-4 * np.abs(window).max()
    np.testing.assert_allclose(window, window[::-1, :], atol=tol)  # north–south mirror
    np.testing.assert_allclose(window, window[:, ::-1], atol=tol)  # east–west mirror
    np.testing.assert_allclose(window, window.T, atol=tol)  # square body: diagonal mirror
    # the value at a given offset north equals the value at the same offset east
    north = float(tmi.sel(x=centre[0], y=centre[1] + 800))
    east = float(tmi.sel(x=centre[0] + 800, y=centre[1]))
    assert north == pytest.approx(east, rel=1e-4)


@pytest.mark.parametrize("declination", [0.0, 30.0, -30.0])
def test_inclined_field_puts_positive_lobe_equatorward(declination: float) -> None:
    """Induced magnetisation, inclination 61.5° (northern hemisphere): the positive lobe lies to
    the south of the body (towards azimuth declination + 180°), the negative lobe to the north."""
    gbox = grid(16_000.0)
    centre = (E0 + 8050.0, N0 + 7950.0)
    body = one_prism(centre, half=400.0, top=-300.0, bottom=-2000.0, magnetization=4.0,
                     inclination=61.5, declination=declination)
    tmi = forward_total_field(body, gbox, height=SURVEY_HEIGHT, inclination=61.5,
                              declination=declination)
    (xmax, ymax), (xmin, ymin) = pixel_of_extreme(tmi, "max"), pixel_of_extreme(tmi, "min")
    assert ymax < centre[1] < ymin
    assert math.dist((xmax, ymax), centre) < 1000  # the peak is near the body, not far off
    assert float(tmi.max()) > 2 * abs(float(tmi.min()))  # steep field: positive lobe dominates
    if declination == 0.0:
        assert xmax == pytest.approx(centre[0])
        values = tmi.sel(x=slice(centre[0] - 3000, centre[0] + 3000)).to_numpy()
        np.testing.assert_allclose(values, values[:, ::-1], atol=1e-4 * np.abs(values).max())
    else:  # the lobe turns with the field: towards south-south-west for an eastward declination
        assert np.sign(xmax - centre[0]) == -np.sign(declination)
        assert np.sign(xmin - centre[0]) == np.sign(declination)


def test_demo_anomalies_peak_south_of_each_body(survey) -> None:
    tmi = survey.rasters["mag_tmi"]
    for body in survey.bodies.itertuples():
        cx, cy = (body.west + body.east) / 2, (body.south + body.north) / 2
        near = tmi.sel(x=slice(cx - 2500, cx + 2500), y=slice(cy + 2500, cy - 2500))
        xmax, ymax = pixel_of_extreme(near, "max")
        assert ymax < cy, body.name
        assert math.dist((xmax, ymax), (cx, cy)) < 1500, body.name
        assert float(near.max()) > 50.0, body.name


def test_demo_magnetics_are_the_forward_model_plus_one_nt_noise(survey) -> None:
    clean = forward_total_field(survey.bodies, survey.geobox, height=SURVEY_HEIGHT,
                                inclination=survey.field[0], declination=survey.field[1])
    residual = (survey.rasters["mag_tmi"] - clean).to_numpy().astype(float)
    assert abs(residual.mean()) < 0.05
    assert 0.95 < residual.std() < 1.05


def test_demo_field_is_steep_and_northern(survey) -> None:
    inclination, declination = survey.field
    assert 55 < inclination < 70  # central Nevada
    assert 5 < declination < 20
    induced = survey.bodies.magnetization / (survey.bodies.susceptibility * 49_000e-9 / MU0)
    assert ((induced >= 1.0 - 1e-9) & (induced < 1.41)).all()  # plus remanence of Q <= 0.4, near-parallel


# --- radiometrics and reflectance ------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_halos_over_alteration(seed: int) -> None:
    survey = make_demo_survey(seed=seed)
    r = {name: da.to_numpy().astype(float) for name, da in survey.rasters.items()}
    alteration = survey.alteration.to_numpy()
    inside, outside = alteration > 0.5, alteration < 0.05
    assert inside.sum() > 200 and outside.sum() > 20_000

    def ratio_of_means(values: np.ndarray) -> float:
        return values[inside].mean() / values[outside].mean()

    # margins hold for seeds 0-39 (the lithological background varies from seed to seed)
    assert ratio_of_means(r["k"]) > 1.25  # potassic alteration: K up
    assert ratio_of_means(r["eth"] / r["k"]) < 0.7  # eTh/K down
    assert 1.05 < ratio_of_means(r["eu"]) < ratio_of_means(r["k"])  # eU up, less than K
    assert ratio_of_means(r["swir16"] / r["swir22"]) > 1.1  # AlOH absorption at 2.2 µm
    assert ratio_of_means(r["red"] / r["blue"]) > 1.2  # ferric iron oxides
    # the vegetation cover is drawn independently of the alteration
    assert abs(r["nir"][inside].mean() / r["nir"][outside].mean() - 1) < 0.1


def test_value_ranges_are_physical(survey) -> None:
    r = {name: da.to_numpy() for name, da in survey.rasters.items()}
    for name, values in r.items():
        assert np.isfinite(values).all(), name
    for name in ("k", "eth", "eu"):
        assert (r[name] >= 0).all(), name
    assert 1.0 < r["k"].mean() < 3.0
    assert 5.0 < r["eth"].mean() < 15.0
    assert 1.0 < r["eu"].mean() < 4.0
    for name in ("blue", "green", "red", "nir", "swir16", "swir22"):
        assert ((r[name] >= 0) & (r[name] <= 1)).all(), name
    assert r["nir"].mean() > r["red"].mean()  # vegetation red edge in the mixture
    assert 0.0 <= float(survey.alteration.min()) and float(survey.alteration.max()) <= 1.0


# --- vectors and the occurrence rule ---------------------------------------------------------


def test_occurrences_follow_the_stated_rule(survey) -> None:
    bodies, occ, faults = survey.bodies, survey.occurrences, survey.faults
    assert 4 <= len(bodies) <= 6 and 3 <= len(faults)
    all_faults = shapely.union_all(faults.geometry.to_numpy())
    prospects = occ[occ.kind == "prospect"]
    for body in bodies.itertuples():
        centre = shapely.Point((body.west + body.east) / 2, (body.south + body.north) / 2)
        mine = prospects[prospects.body == body.name]
        if centre.distance(all_faults) <= FAULT_DISTANCE:
            assert len(mine) == 1, body.name
            assert mine.geometry.iloc[0].distance(centre) <= JITTER
        else:
            assert len(mine) == 0, body.name
    assert (bodies.blind & (bodies.fault_distance > 3000)).sum() == 1  # one blind target
    assert len(prospects) >= 3  # the evidence predicts most occurrences...
    showings = occ[occ.kind == "showing"]
    assert len(showings) == 2 and showings.body.isna().all()  # ...but not the barren showings
    footprints = [shapely.box(b.west, b.south, b.east, b.north) for b in bodies.itertuples()]
    area = shapely.box(*survey.geobox.boundingbox)
    for point in showings.geometry:
        assert min(point.distance(f) for f in footprints) >= BARREN_CLEARANCE
        assert area.buffer(-1000).contains(point)
    assert set(occ.columns) >= {"name", "commodity", "kind", "geometry"}
    assert occ.name.str.contains("DEMO").all()


def test_faults_are_mapped_lines_inside_the_area(survey) -> None:
    faults = survey.faults
    assert set(faults.columns) >= {"name", "kind", "geometry"}
    assert (faults.geom_type == "LineString").all()
    area = shapely.box(*survey.geobox.boundingbox).buffer(1e-6)
    assert all(area.contains(line) for line in faults.geometry)
    assert faults.length.min() >= 3000
    assert set(faults.kind) <= {"normal fault", "strike-slip fault"}
    # some faults pass near bodies: every non-blind body has one within 700 m (plus bends)
    assert (survey.bodies.fault_distance[~survey.bodies.blind] < 1000).all()


def test_geometry_crs_and_area(survey) -> None:
    gbox = survey.geobox
    assert gbox.crs.epsg == 32611
    assert tuple(gbox.shape) == (300, 300)
    assert gbox.resolution.x == 100 and gbox.resolution.y == -100  # north-up
    assert survey.faults.crs == ProjCRS.from_epsg(32611)
    assert survey.occurrences.crs == ProjCRS.from_epsg(32611)
    lon, lat = survey.area.centroid.x, survey.area.centroid.y
    assert abs(lon + 115.9) < 0.1 and abs(lat - 38.2) < 0.1  # central Nevada, in lon/lat
    # the outline, taken to UTM, is the grid's 30 x 30 km extent
    from pyproj import Transformer

    to_utm = Transformer.from_crs(4326, 32611, always_xy=True)
    utm = shapely.transform(survey.area, lambda xy: np.column_stack(to_utm.transform(*xy.T)))
    np.testing.assert_allclose(utm.bounds, tuple(gbox.boundingbox), atol=0.01)
    assert utm.area == pytest.approx(30_000.0**2, rel=1e-6)


def test_rasters_carry_dtype_crs_units_and_demo_labels(survey) -> None:
    expected_units = {"mag_tmi": "nT", "k": "%", "eth": "ppm", "eu": "ppm"}
    # Sentinel-2 MSI band centres (ESA Sentinel-2 User Handbook), micrometres
    s2_centres = {"blue": 0.490, "green": 0.560, "red": 0.665, "nir": 0.842,
                  "swir16": 1.610, "swir22": 2.190}
    assert set(survey.rasters) == set(expected_units) | set(s2_centres)
    assert set(survey.band_info) == set(survey.rasters)
    for name, da in [*survey.rasters.items(), ("alteration", survey.alteration)]:
        assert da.dims == ("y", "x"), name
        assert da.dtype == np.float32, name
        assert isinstance(da.data, np.ndarray), name
        assert da.rio.crs.to_epsg() == 32611, name
        assert "spatial_ref" in da.coords, name
        assert da.odc.geobox == survey.geobox, name
        assert "DEMO (synthetic)" in da.attrs["long_name"], name
        assert "DEMO (synthetic)" in da.attrs["source"], name
        assert da.attrs["history"].strip(), name
        assert float(da.y[0]) > float(da.y[-1]) and float(da.x[0]) < float(da.x[-1]), name
    for name, units in expected_units.items():
        assert survey.rasters[name].attrs["units"] == units
        assert survey.band_info[name]["units"] == units
        assert survey.band_info[name]["center_wavelength"] is None
    for name, centre in s2_centres.items():
        assert survey.rasters[name].attrs["units"] == "1"
        assert survey.band_info[name]["center_wavelength"] == pytest.approx(centre, abs=0.01)
    assert survey.alteration.attrs["units"] == "1"


# --- determinism, speed and bad input --------------------------------------------------------


def test_same_seed_is_byte_identical_and_other_seeds_differ(survey) -> None:
    again = make_demo_survey(seed=0)
    for name, da in survey.rasters.items():
        assert da.to_numpy().tobytes() == again.rasters[name].to_numpy().tobytes(), name
    assert survey.alteration.to_numpy().tobytes() == again.alteration.to_numpy().tobytes()
    pd.testing.assert_frame_equal(survey.bodies, again.bodies)
    assert survey.faults.geom_equals_exact(again.faults, tolerance=0).all()
    assert survey.occurrences.geom_equals_exact(again.occurrences, tolerance=0).all()

    other = make_demo_survey(seed=1)
    assert not np.array_equal(survey.rasters["mag_tmi"], other.rasters["mag_tmi"])
    assert not np.array_equal(survey.rasters["k"], other.rasters["k"])
    assert not np.allclose(survey.bodies[["west", "south"]].to_numpy()[:4],
                           other.bodies[["west", "south"]].to_numpy()[:4])
    assert other.seed == 1


def test_geology_does_not_depend_on_resolution(survey) -> None:
    coarse = make_demo_survey(seed=0, resolution=500.0)
    assert tuple(coarse.geobox.shape) == (60, 60)
    pd.testing.assert_frame_equal(survey.bodies, coarse.bodies)
    assert survey.occurrences.geom_equals_exact(coarse.occurrences, tolerance=0).all()
    assert survey.faults.geom_equals_exact(coarse.faults, tolerance=0).all()


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": True}, "seed"),
        ({"seed": "0"}, "seed"),
        ({"resolution": 0.0}, "resolution"),
        ({"resolution": 5.0}, "resolution"),
        ({"resolution": 5000.0}, "resolution"),
        ({"resolution": float("nan")}, "resolution"),
    ],
)
def test_bad_arguments_are_refused_clearly(kwargs: dict, word: str) -> None:
    with pytest.raises(InputError, match=word) as info:
        make_demo_survey(**kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, GeosurveyError)
    assert "pass e.g." in str(info.value)


def test_forward_model_refuses_bad_bodies() -> None:
    gbox = grid(2000.0)
    body = one_prism((E0 + 1000, N0 + 1000), half=100.0, top=-100.0, bottom=-500.0,
                     magnetization=1.0, inclination=60.0, declination=0.0)
    with pytest.raises(InputError, match="magnetization"):
        forward_total_field(body.drop(columns="magnetization"), gbox)
    flat = body.assign(bottom=-100.0)
    with pytest.raises(InputError, match="no volume"):
        forward_total_field(flat, gbox)
