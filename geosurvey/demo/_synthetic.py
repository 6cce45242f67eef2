"""The demo survey: a deterministic, synthetic IOCG-style survey area (DEMO DATA, not real).

Everything this module makes is **synthetic demo data** and is labelled so in every layer's
``long_name`` and ``source`` attribute. It sits on real geography only so that maps look right:
a 30 x 30 km square centred near longitude -115.9°, latitude 38.2° (central Nevada, USA), gridded
in WGS 84 / UTM zone 11N (EPSG:32611). Nothing in it describes the real geology there.

The geology, in the order it is generated (all distances horizontal, in metres, in EPSG:32611)
------------------------------------------------------------------------------------------------
Bodies
    4 to 6 buried, magnetite-rich bodies (iron-oxide copper-gold, IOCG, style), each a
    right-rectangular prism 800–2,000 m wide east–west and north–south and 1,500–3,000 m tall.
    Their centres lie at least 5 km inside the area and at least 6 km apart. All but one have
    tops 150–400 m below the (flat) ground surface; the remaining one, the *blind* body, is
    deeper (top 600–900 m down) and is kept more than 3 km from every mapped fault.
Magnetisation
    Induced by the main field plus a weak remanence: susceptibility 0.03–0.15 SI, induced
    magnetisation :math:`M_i = \\chi F / \\mu_0` (about 1.2–5.8 A/m for :data:`FIELD_INTENSITY`),
    and remanence of Koenigsberger ratio :math:`Q` = 0–0.4 pointing within 15° of the present
    field (viscous remanence), so the total magnetisation stays close to the field direction.
Main field
    :data:`FIELD_INTENSITY` = 49,000 nT, inclination :data:`FIELD_INCLINATION` = 61.5° (down,
    positive), declination :data:`FIELD_DECLINATION` = 11.5° (east of north): rounded values of the
    order of the IGRF main field over central Nevada in the 2020s (stated, not computed from the
    IGRF model). The survey is flown at :data:`SURVEY_HEIGHT`
    = 100 m above a flat ground surface (upward coordinate 0 m).
Total-field anomaly
    The three components of the bodies' magnetic field at every pixel centre at survey height are
    forward-modelled with :func:`harmonica.prism_magnetic` and projected onto the main-field
    direction with :func:`harmonica.total_field_anomaly` (the usual small-anomaly approximation
    :math:`\\Delta T \\approx \\mathbf{B} \\cdot \\hat{\\mathbf{F}}`). Gaussian noise of 1 nT is added.
    In the northern hemisphere the positive lobe of each anomaly therefore lies on the southern
    (equatorward) side of its body, the negative lobe on the northern side.
Faults
    One fault passes within 700 m of each non-blind body (fault-controlled mineralisation, as in a
    mineral-systems model), plus one or two regional faults anywhere; every fault is a gently bent
    line 12–30 km long, clipped to the area. Strikes are NNW–NNE (±30° of north, "normal fault",
    Basin-and-Range style) or, for about a third, NW (40–60° west of north, "strike-slip fault",
    Walker-Lane style). A body is *fault-related* when its centre lies within
    :data:`FAULT_DISTANCE` = 2 km of a fault (measured on the mapped lines, after clipping).
Alteration
    Every fault-related body has a potassic / sericitic and iron-oxide alteration halo at the
    surface: a Gaussian ellipse centred over the body, elongated along the strike of the nearest
    fault (semi-axes 1,800–2,800 m along and 700–1,200 m across strike), peak intensity 0.8–1.0.
    The alteration intensity ``A`` (0..1) is the maximum of the halos. The blind body, being deep
    and away from structure, has no surface expression at all.
Radiometrics (airborne gamma-ray)
    A smooth lithological background (correlation length about 2.5 km): K 1.8 ± 0.4 %, eTh
    10 ± 2.5 ppm (correlated with K, as in felsic rocks), eU 2.5 ± 0.3 ppm. Over alteration
    potassium is added and thorium leached: K × (1 + 1.2 A), eTh × (1 − 0.3 A), eU × (1 + 0.35 A),
    so K rises, eTh/K falls and eU rises a little (uranium is a common minor passenger of IOCG
    fluids; Dickson & Scott, 1997). Counting noise of
    0.1 %, 0.8 ppm and 0.3 ppm is added and values are clipped at zero.
Multispectral scene (surface reflectance, Sentinel-2-like bands)
    A bright arid soil (blue 0.12, green 0.16, red 0.22, NIR 0.27, SWIR1 0.34, SWIR2 0.30) mixed
    linearly with sparse shrub vegetation (0.04, 0.08, 0.05, 0.35, 0.20, 0.10) at a cover of
    15 ± 8 % (0–50 %), times a soil-brightness field of 1 ± 0.08. Over alteration the soil's
    spectrum changes: AlOH clays and sericite absorb near 2.2 µm, so SWIR2 (2.19 µm) × (1 − 0.25 A)
    and swir16/swir22 rises; ferric iron oxides absorb in the blue and brighten the red, so
    blue × (1 − 0.3 A), red × (1 + 0.15 A) and red/blue rises (Sabins, 1999). Noise of 0.005 is
    added and reflectance clipped to 0–1.
Known occurrences (the rule)
    Every fault-related body has one known occurrence ("prospect", commodity "Fe-Cu-Au") at the
    surface projection of its centre, moved in a random direction by up to :data:`JITTER` = 300 m.
    Bodies farther than 2 km from every fault (at least the blind one) have none. Two barren
    showings ("showing", commodity "Cu") are added at random places at least
    :data:`BARREN_CLEARANCE` = 3 km from every body's outline and at least 1 km inside the area.
    So the evidence (magnetics, radiometrics, spectra and faults together) predicts most known
    occurrences but not the barren showings, and flags one blind body that no occurrence marks.

Determinism
    One seed drives everything through :class:`numpy.random.SeedSequence` streams: the same seed
    gives byte-identical arrays and identical vectors; different seeds give different layouts and
    noise. The geology (bodies, faults, occurrences, halos) is drawn in metres before any pixel
    exists, so the same seed gives the same geology at every resolution; only the noise fields
    depend on the resolution.

References
----------
Blakely, R. J. (1995). *Potential Theory in Gravity and Magnetic Applications*. Cambridge
University Press.

Dickson, B. L., & Scott, K. M. (1997). Interpretation of aerial gamma-ray surveys – adding the
geochemical factors. *AGSO Journal of Australian Geology & Geophysics*, 17(2), 187–200.

Fatiando a Terra Project (2024). Harmonica v0.7: forward modelling, inversion, and processing
gravity and magnetic data. Zenodo.

Groves, D. I., Bierlein, F. P., Meinert, L. D., & Hitzman, M. W. (2010). Iron oxide copper-gold
(IOCG) deposits through Earth history. *Economic Geology*, 105(3), 641–654.

IAEA (2003). *Guidelines for radioelement mapping using gamma ray spectrometry data*.
IAEA-TECDOC-1363.

Sabins, F. F. (1999). Remote sensing for mineral exploration. *Ore Geology Reviews*, 14, 157–183.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import harmonica as hm
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import wrap_xr
from pyproj import Transformer
from scipy import ndimage

from geosurvey.errors import InputError
from geosurvey.grid import geobox_for
from geosurvey.provenance import annotate

__all__ = [
    "BARREN_CLEARANCE",
    "CENTRE_LONLAT",
    "CRS",
    "FAULT_DISTANCE",
    "FIELD_DECLINATION",
    "FIELD_INCLINATION",
    "FIELD_INTENSITY",
    "JITTER",
    "SIZE",
    "SURVEY_HEIGHT",
    "DemoSurvey",
    "forward_total_field",
    "make_demo_survey",
    "pixel_centres",
    "smooth_field",
]

#: Where the demo area is centred (degrees east, degrees north): central Nevada, USA.
CENTRE_LONLAT: tuple[float, float] = (-115.9, 38.2)
#: The grid CRS: WGS 84 / UTM zone 11N.
CRS = "EPSG:32611"
#: Side of the square demo area in metres.
SIZE = 30_000.0
#: Main-field intensity (nT), inclination and declination (degrees; see the module docstring).
FIELD_INTENSITY = 49_000.0
FIELD_INCLINATION = 61.5
FIELD_DECLINATION = 11.5
#: Survey height above the flat ground surface, metres.
SURVEY_HEIGHT = 100.0
#: A body is fault-related (and has a known occurrence) within this distance of a fault, metres.
FAULT_DISTANCE = 2_000.0
#: Occurrences lie within this distance of their body's surface projection, metres.
JITTER = 300.0
#: Barren showings lie at least this far from every body's outline, metres.
BARREN_CLEARANCE = 3_000.0

_MU0 = 4e-7 * math.pi
_DEMO = "DEMO (synthetic)"
_BODY_COLUMNS = ("west", "east", "south", "north", "bottom", "top",
                 "magnetization", "inclination", "declination")

# name: (units, description, centre wavelength µm, full width at half maximum µm)
_BANDS: dict[str, tuple[str, str, float | None, float | None]] = {
    "mag_tmi": ("nT", "total-field magnetic anomaly", None, None),
    "k": ("%", "potassium concentration (airborne gamma-ray)", None, None),
    "eth": ("ppm", "equivalent thorium concentration (airborne gamma-ray)", None, None),
    "eu": ("ppm", "equivalent uranium concentration (airborne gamma-ray)", None, None),
    "blue": ("1", "surface reflectance, blue (Sentinel-2 B02-like)", 0.490, 0.065),
    "green": ("1", "surface reflectance, green (Sentinel-2 B03-like)", 0.560, 0.035),
    "red": ("1", "surface reflectance, red (Sentinel-2 B04-like)", 0.665, 0.030),
    "nir": ("1", "surface reflectance, near infrared (Sentinel-2 B08-like)", 0.842, 0.115),
    "swir16": ("1", "surface reflectance, SWIR 1.6 µm (Sentinel-2 B11-like)", 1.610, 0.090),
    "swir22": ("1", "surface reflectance, SWIR 2.2 µm (Sentinel-2 B12-like)", 2.190, 0.180),
}
_SPECTRAL = ("blue", "green", "red", "nir", "swir16", "swir22")
_SOIL = np.array([0.12, 0.16, 0.22, 0.27, 0.34, 0.30])
_SHRUB = np.array([0.04, 0.08, 0.05, 0.35, 0.20, 0.10])


@dataclass(frozen=True)
class DemoSurvey:
    """A generated demo survey area (synthetic data; see :mod:`geosurvey.demo._synthetic`).

    Attributes
    ----------
    geobox
        The analysis grid: EPSG:32611 (UTM 11N, metres), square pixels of ``resolution`` metres,
        north-up (northing decreasing down the rows).
    area
        The survey-area outline in EPSG:4326 (longitude, latitude), densified every 500 m.
    rasters
        float32, numpy-backed ``(y, x)`` DataArrays on ``geobox`` with the CRS in ``spatial_ref``
        and ``units``, ``long_name``, ``history``, ``source`` attributes: ``mag_tmi`` (nT),
        ``k`` (%), ``eth`` and ``eu`` (ppm), and surface reflectance ``blue``, ``green``,
        ``red``, ``nir``, ``swir16``, ``swir22`` (dimensionless, ``"1"``, 0–1).
    band_info
        Per raster: ``units``, ``description``, ``center_wavelength`` (µm; ``None`` for the
        geophysical grids) and ``full_width_half_max`` (µm; ``None`` likewise).
    faults
        Mapped faults: LineStrings in EPSG:32611; columns ``name``, ``kind``, ``strike``
        (degrees clockwise from grid north).
    occurrences
        Known occurrences: Points in EPSG:32611; columns ``name``, ``commodity``, ``kind``
        (``"prospect"`` over a body, ``"showing"`` when barren) and ``body`` (the body's name, or
        ``None`` for barren showings).
    bodies
        The buried prisms: ``name``, ``west``, ``east``, ``south``, ``north`` (EPSG:32611 metres),
        ``bottom``, ``top`` (metres, upward, ground at 0), ``susceptibility`` (SI),
        ``koenigsberger`` (Q), total ``magnetization`` (A/m), its ``inclination`` and
        ``declination`` (degrees), ``fault_distance`` (metres from the centre to the nearest
        fault), ``fault_related`` (bool) and ``blind`` (bool).
    alteration
        Surface alteration intensity, 0..1 (dimensionless), the truth behind the halos.
    field
        Main-field inclination and declination in degrees.
    seed
        The seed it was made from.
    """

    geobox: GeoBox
    area: shapely.Polygon
    rasters: dict[str, xr.DataArray]
    band_info: dict[str, dict]
    faults: gpd.GeoDataFrame
    occurrences: gpd.GeoDataFrame
    bodies: pd.DataFrame
    alteration: xr.DataArray
    field: tuple[float, float]
    seed: int


def make_demo_survey(*, seed: int = 0, resolution: float = 100.0) -> DemoSurvey:
    """Generate the demo survey: buried magnetic bodies, halos, faults, occurrences and grids.

    All of it is synthetic demo data, generated by the rules in the module docstring of
    :mod:`geosurvey.demo._synthetic` (the physics, the geology and the rule that places the known
    occurrences). The result is deterministic in ``seed``.

    Parameters
    ----------
    seed
        A non-negative integer. The same seed gives byte-identical arrays; the geology drawn from
        it does not depend on ``resolution``.
    resolution
        Pixel size in metres, 20 to 1,000 (300 x 300 pixels at the default 100 m).

    Returns
    -------
    DemoSurvey
        Rasters as float32 numpy-backed ``(y, x)`` DataArrays on a north-up EPSG:32611 grid;
        vectors in EPSG:32611; the area outline in EPSG:4326.

    Raises
    ------
    InputError
        If ``seed`` is not a non-negative integer or ``resolution`` is outside 20–1,000 m.

    Examples
    --------
    >>> survey = make_demo_survey(seed=0, resolution=500.0)
    >>> survey.rasters["mag_tmi"].shape, survey.rasters["mag_tmi"].attrs["units"]
    ((60, 60), 'nT')
    """
    _check_arguments(seed, resolution)
    geology_ss, mag_ss, gamma_ss, spectral_ss = np.random.SeedSequence(seed).spawn(4)
    geology = np.random.default_rng(geology_ss)

    square = _square()
    area = _to_lonlat(shapely.segmentize(square, 500.0))
    geobox = geobox_for(area, crs=CRS, resolution=resolution)

    bodies = _place_bodies(geology, square)
    faults = _draw_faults(geology, bodies, square)
    bodies = _relate_to_faults(bodies, faults)
    occurrences = _place_occurrences(geology, bodies, square)
    halos = _draw_halos(geology, bodies, faults)

    easting, northing = pixel_centres(geobox)
    alteration = _alteration(halos, easting, northing)
    tmi = _forward_tmi(bodies, easting, northing, height=SURVEY_HEIGHT,
                       inclination=FIELD_INCLINATION, declination=FIELD_DECLINATION)
    tmi = tmi + np.random.default_rng(mag_ss).normal(0.0, 1.0, tmi.shape)
    arrays = {"mag_tmi": tmi}
    arrays |= _radiometrics(np.random.default_rng(gamma_ss), alteration, resolution=resolution)
    arrays |= _reflectance(np.random.default_rng(spectral_ss), alteration, resolution=resolution)

    step = f"make_demo_survey(seed={seed}, resolution={resolution:g}): {_DEMO} demo data"
    rasters = {
        name: _layer(arr, geobox, name=name, step=step, units=_BANDS[name][0],
                     long_name=f"{_DEMO} {_BANDS[name][1]}")
        for name, arr in arrays.items()
    }
    truth = _layer(alteration, geobox, name="alteration", step=step, units="1",
                   long_name=f"{_DEMO} surface alteration intensity (truth)")
    band_info = {
        name: {"units": units, "description": f"{_DEMO} {text}",
               "center_wavelength": centre, "full_width_half_max": fwhm}
        for name, (units, text, centre, fwhm) in _BANDS.items()
    }
    return DemoSurvey(
        geobox=geobox, area=area, rasters=rasters, band_info=band_info, faults=faults,
        occurrences=occurrences, bodies=bodies, alteration=truth,
        field=(FIELD_INCLINATION, FIELD_DECLINATION), seed=seed,
    )


def forward_total_field(
    bodies: pd.DataFrame,
    geobox: GeoBox,
    *,
    height: float = SURVEY_HEIGHT,
    inclination: float = FIELD_INCLINATION,
    declination: float = FIELD_DECLINATION,
) -> xr.DataArray:
    """Total-field magnetic anomaly of magnetised prisms at every pixel centre of ``geobox``.

    The field of each prism is computed with :func:`harmonica.prism_magnetic` (all three
    components, in nT) at the pixel centres, at ``height`` metres upward, and projected onto the
    main-field direction with :func:`harmonica.total_field_anomaly`:
    :math:`\\Delta T = \\mathbf{B} \\cdot \\hat{\\mathbf{F}}`, the usual approximation for anomalies
    much smaller than the main field (Blakely, 1995).

    Parameters
    ----------
    bodies
        One prism per row with columns ``west``, ``east``, ``south``, ``north`` (metres, in the
        grid's CRS), ``bottom``, ``top`` (metres, upward), ``magnetization`` (A/m),
        ``inclination`` and ``declination`` (degrees, of the magnetisation vector).
    geobox
        The grid (projected CRS in metres, north-up).
    height
        Observation height in metres, upward, in the same vertical datum as ``bottom``/``top``.
    inclination, declination
        Main-field direction in degrees (inclination positive down, declination east of north).

    Returns
    -------
    xarray.DataArray
        float32 ``(y, x)`` anomaly in nT on ``geobox`` with its CRS.

    Raises
    ------
    InputError
        If a column is missing or a prism has no volume.

    References
    ----------
    Blakely, R. J. (1995). *Potential Theory in Gravity and Magnetic Applications*. Cambridge
    University Press.
    """
    missing = [c for c in _BODY_COLUMNS if c not in bodies.columns]
    if missing:
        raise InputError(f"bodies lacks columns {missing}; give one prism per row with {_BODY_COLUMNS}")
    bad = bodies[(bodies.west >= bodies.east) | (bodies.south >= bodies.north)
                 | (bodies.bottom >= bodies.top)]
    if len(bad):
        raise InputError(f"bodies rows {list(bad.index)} have no volume: need west < east, "
                         "south < north and bottom < top")
    easting, northing = pixel_centres(geobox)
    tmi = _forward_tmi(bodies, easting, northing, height=height,
                       inclination=inclination, declination=declination)
    step = (f"forward_total_field(height={height:g} m, inclination={inclination:g}, "
            f"declination={declination:g}) of {len(bodies)} prisms")
    return _layer(tmi, geobox, name="mag_tmi", step=step, units="nT",
                  long_name="total-field magnetic anomaly (forward-modelled)")


# --- pure helpers -------------------------------------------------------------------------------


def _check_arguments(seed: object, resolution: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}; pass e.g. seed=0")
    if (isinstance(resolution, bool) or not isinstance(resolution, int | float | np.number)
            or not math.isfinite(resolution) or not 20 <= resolution <= 1000):
        raise InputError(f"resolution must be 20 to 1000 metres, got {resolution!r}; "
                         "pass e.g. resolution=100.0")


def _square() -> shapely.Polygon:
    """The demo area in EPSG:32611: a SIZE square centred on CENTRE_LONLAT, snapped to 1 km."""
    to_utm = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    e0, n0 = (round(v, -3) for v in to_utm.transform(*CENTRE_LONLAT))
    half = SIZE / 2
    return shapely.box(e0 - half, n0 - half, e0 + half, n0 + half)


def _to_lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    to_lonlat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1])))


def pixel_centres(geobox: GeoBox) -> tuple[np.ndarray, np.ndarray]:
    """Easting and northing (metres) of every pixel centre of ``geobox``, each shaped ``(y, x)``."""
    coords = geobox.coordinates
    easting, northing = np.meshgrid(coords["x"].values, coords["y"].values)
    return easting, northing


def _layer(arr: np.ndarray, geobox: GeoBox, *, name: str, step: str, units: str,
           long_name: str) -> xr.DataArray:
    da = wrap_xr(np.ascontiguousarray(arr, dtype=np.float32), geobox)
    da.attrs.pop("nodata", None)  # no nodata in generated grids (NaN would mean nodata)
    da.name = name
    demo = long_name.startswith(_DEMO)
    extra = {"source": f"{_DEMO}: geosurvey.demo.make_demo_survey"} if demo else {}
    return annotate(da, step, units=units, long_name=long_name, **extra)


def _place_bodies(rng: np.random.Generator, square: shapely.Polygon) -> pd.DataFrame:
    """4–6 prisms at least 5 km inside the area and 6 km apart (rejection sampling)."""
    w, s, e, n = square.bounds
    count = int(rng.integers(4, 7))
    centres: list[tuple[float, float]] = []
    while len(centres) < count:
        c = (rng.uniform(w + 5000, e - 5000), rng.uniform(s + 5000, n - 5000))
        if all(math.dist(c, other) >= 6000 for other in centres):
            centres.append(c)
        elif rng.random() < 0.01:  # an unlucky packing: start again
            centres = []
    blind = int(rng.integers(count))
    rows = []
    induced_dir = np.array(hm.magnetic_angles_to_vec(1.0, FIELD_INCLINATION, FIELD_DECLINATION))
    for i, (cx, cy) in enumerate(centres):
        half_e, half_n = rng.uniform(400, 1000, size=2)
        top = -rng.uniform(600, 900) if i == blind else -rng.uniform(150, 400)
        bottom = top - rng.uniform(1500, 3000)
        chi = rng.uniform(0.03, 0.15)
        q = rng.uniform(0.0, 0.4)
        induced = chi * FIELD_INTENSITY * 1e-9 / _MU0  # A/m
        rem_inc = FIELD_INCLINATION + rng.uniform(-15, 15)
        rem_dec = FIELD_DECLINATION + rng.uniform(-15, 15)
        remanent = np.array(hm.magnetic_angles_to_vec(q * induced, rem_inc, rem_dec))
        total = induced * induced_dir + remanent
        intensity, inc, dec = hm.magnetic_vec_to_angles(*total)
        rows.append({
            "name": f"B{i + 1}", "west": cx - half_e, "east": cx + half_e,
            "south": cy - half_n, "north": cy + half_n, "bottom": bottom, "top": top,
            "susceptibility": chi, "koenigsberger": q, "magnetization": float(intensity),
            "inclination": float(inc), "declination": float(dec), "blind": i == blind,
        })
    return pd.DataFrame(rows)


def _centres(bodies: pd.DataFrame) -> np.ndarray:
    return np.column_stack([(bodies.west + bodies.east) / 2, (bodies.south + bodies.north) / 2])


def _fault_line(rng: np.random.Generator, through: np.ndarray, strike: float) -> shapely.LineString:
    """A gently bent line through a point: ends 6–15 km away along strike, bent up to 400 m."""
    along = np.array([math.sin(math.radians(strike)), math.cos(math.radians(strike))])
    across = np.array([along[1], -along[0]])
    ends = [through - rng.uniform(6000, 15000) * along + rng.uniform(-400, 400) * across,
            through + rng.uniform(6000, 15000) * along + rng.uniform(-400, 400) * across]
    return shapely.LineString([ends[0], through, ends[1]])


def _draw_strike(rng: np.random.Generator) -> tuple[float, str]:
    if rng.random() < 1 / 3:
        return -rng.uniform(40, 60), "strike-slip fault"
    return rng.uniform(-30, 30), "normal fault"


def _draw_faults(rng: np.random.Generator, bodies: pd.DataFrame,
                 square: shapely.Polygon) -> gpd.GeoDataFrame:
    """A fault within 700 m of every non-blind body plus 1–2 regional faults, clipped to the area.

    Drawn again until the blind body is more than 3 km from every fault and every fault is at
    least 3 km long inside the area.
    """
    centres = _centres(bodies)
    blind_centre = shapely.Point(centres[bodies.blind.to_numpy()][0])
    w, s, e, n = square.bounds
    for _ in range(10_000):
        rows = []
        for c in centres[~bodies.blind.to_numpy()]:
            strike, kind = _draw_strike(rng)
            along = np.array([math.sin(math.radians(strike)), math.cos(math.radians(strike))])
            across = np.array([along[1], -along[0]])
            through = c + rng.uniform(-700, 700) * across + rng.uniform(-2000, 2000) * along
            rows.append((_fault_line(rng, through, strike), strike, kind))
        for _ in range(int(rng.integers(1, 3))):
            strike, kind = _draw_strike(rng)
            through = np.array([rng.uniform(w, e), rng.uniform(s, n)])
            rows.append((_fault_line(rng, through, strike), strike, kind))
        lines = [line.intersection(square) for line, _, _ in rows]
        if all(line.geom_type == "LineString" and line.length >= 3000
               and line.distance(blind_centre) > 3000 for line in lines):
            break
    else:  # pragma: no cover  (never seen: each draw succeeds with a fair probability)
        raise RuntimeError("could not draw demo faults that keep clear of the blind body")
    order = np.argsort([line.centroid.x for line in lines], kind="stable")  # name west to east
    return gpd.GeoDataFrame(
        {"name": [f"F{i + 1}" for i in range(len(lines))],
         "kind": [rows[j][2] for j in order],
         "strike": [float(rows[j][1]) for j in order]},
        geometry=[lines[j] for j in order], crs=CRS,
    )


def _relate_to_faults(bodies: pd.DataFrame, faults: gpd.GeoDataFrame) -> pd.DataFrame:
    """Add each body's distance to the nearest fault and whether it is within FAULT_DISTANCE."""
    points = shapely.points(_centres(bodies))
    distance = np.array([faults.distance(p).min() for p in points])
    return bodies.assign(fault_distance=distance, fault_related=distance <= FAULT_DISTANCE)


def _place_occurrences(rng: np.random.Generator, bodies: pd.DataFrame,
                       square: shapely.Polygon) -> gpd.GeoDataFrame:
    """The occurrence rule of the module docstring: jittered prospects plus two barren showings."""
    rows = []
    for (cx, cy), (_, body) in zip(_centres(bodies), bodies.iterrows(), strict=True):
        if not body.fault_related:
            continue
        r, theta = JITTER * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        rows.append(({"commodity": "Fe-Cu-Au", "kind": "prospect", "body": body["name"]},
                     shapely.Point(cx + r * math.cos(theta), cy + r * math.sin(theta))))
    footprints = shapely.box(bodies.west, bodies.south, bodies.east, bodies.north)
    w, s, e, n = square.bounds
    showings = 0
    while showings < 2:
        p = shapely.Point(rng.uniform(w + 1000, e - 1000), rng.uniform(s + 1000, n - 1000))
        if shapely.distance(footprints, p).min() >= BARREN_CLEARANCE:
            rows.append(({"commodity": "Cu", "kind": "showing", "body": None}, p))
            showings += 1
    table = pd.DataFrame([attrs for attrs, _ in rows])
    table.insert(0, "name", [f"{_DEMO} occurrence {i + 1}" for i in range(len(rows))])
    return gpd.GeoDataFrame(table, geometry=[p for _, p in rows], crs=CRS)


@dataclass(frozen=True)
class _Halo:
    easting: float
    northing: float
    strike: float  # degrees clockwise from north
    along: float  # semi-axis, metres
    across: float
    peak: float


def _draw_halos(rng: np.random.Generator, bodies: pd.DataFrame,
                faults: gpd.GeoDataFrame) -> list[_Halo]:
    halos = []
    for (cx, cy), (_, body) in zip(_centres(bodies), bodies.iterrows(), strict=True):
        if not body.fault_related:
            continue
        nearest = int(np.argmin(faults.distance(shapely.Point(cx, cy)).to_numpy()))
        halos.append(_Halo(cx, cy, float(faults.strike.iloc[nearest]), rng.uniform(1800, 2800),
                           rng.uniform(700, 1200), rng.uniform(0.8, 1.0)))
    return halos


def _alteration(halos: list[_Halo], easting: np.ndarray, northing: np.ndarray) -> np.ndarray:
    """Maximum of Gaussian elliptical halos, 0..1."""
    out = np.zeros(easting.shape)
    for h in halos:
        sin, cos = math.sin(math.radians(h.strike)), math.cos(math.radians(h.strike))
        de, dn = easting - h.easting, northing - h.northing
        u = de * sin + dn * cos  # along strike
        v = de * cos - dn * sin  # across strike
        out = np.maximum(out, h.peak * np.exp(-0.5 * ((u / h.along) ** 2 + (v / h.across) ** 2)))
    return out


def _forward_tmi(bodies: pd.DataFrame, easting: np.ndarray, northing: np.ndarray, *,
                 height: float, inclination: float, declination: float) -> np.ndarray:
    """Harmonica prisms → (b_e, b_n, b_u) in nT → projection on the main field."""
    prisms = bodies[["west", "east", "south", "north", "bottom", "top"]].to_numpy(float)
    magnetization = hm.magnetic_angles_to_vec(
        bodies.magnetization.to_numpy(float), bodies.inclination.to_numpy(float),
        bodies.declination.to_numpy(float),
    )
    upward = np.full(easting.shape, float(height))
    b = hm.prism_magnetic((easting, northing, upward), prisms, magnetization, field="b")
    return hm.total_field_anomaly(b, inclination, declination)


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], *, length: float,
                 resolution: float) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian random field with correlation length ``length`` metres
    on a grid of ``shape`` pixels of ``resolution`` metres (shared by the demo generators).

    Hand-written (white noise smoothed by :func:`scipy.ndimage.gaussian_filter`) because it is a
    few lines and none of the stack's libraries ships a seeded random-field generator.
    """
    field = ndimage.gaussian_filter(rng.standard_normal(shape), length / resolution, mode="reflect")
    return (field - field.mean()) / field.std()


def _radiometrics(rng: np.random.Generator, alteration: np.ndarray, *,
                  resolution: float) -> dict[str, np.ndarray]:
    shape = alteration.shape
    g1, g2, g3 = (smooth_field(rng, shape, length=2500, resolution=resolution) for _ in range(3))
    k = np.maximum(1.8 + 0.4 * g1, 0.3) * (1 + 1.2 * alteration)
    eth = np.maximum(10 + 1.5 * g1 + 2.0 * g2, 2.0) * (1 - 0.3 * alteration)
    eu = np.maximum(2.5 + 0.3 * g3, 0.5) * (1 + 0.35 * alteration)
    noise = rng.standard_normal((3, *shape))
    return {
        "k": np.maximum(k + 0.1 * noise[0], 0.0),
        "eth": np.maximum(eth + 0.8 * noise[1], 0.0),
        "eu": np.maximum(eu + 0.3 * noise[2], 0.0),
    }


def _reflectance(rng: np.random.Generator, alteration: np.ndarray, *,
                 resolution: float) -> dict[str, np.ndarray]:
    shape = alteration.shape
    cover = np.clip(0.15 + 0.08 * smooth_field(rng, shape, length=1500, resolution=resolution),
                    0.0, 0.5)
    brightness = 1 + 0.08 * smooth_field(rng, shape, length=3000, resolution=resolution)
    # soil spectrum altered band by band: iron oxides (blue down, red up), AlOH clays (swir22 down)
    factor = {"blue": 1 - 0.3 * alteration, "red": 1 + 0.15 * alteration,
              "swir22": 1 - 0.25 * alteration}
    noise = rng.standard_normal((len(_SPECTRAL), *shape))
    out = {}
    for i, band in enumerate(_SPECTRAL):
        soil = _SOIL[i] * brightness * factor.get(band, 1.0)
        out[band] = np.clip((1 - cover) * soil + cover * _SHRUB[i] + 0.005 * noise[i], 0.0, 1.0)
    return out
