"""Synthetic surveys per mineral system (DEMO DATA, not real): the bands and features each
shipped recipe of :mod:`geosurvey.prospectivity` needs, with deposits where its rationale says.

:func:`make_system_survey` builds, for one of :data:`SYSTEMS` (named as the recipe it serves),
a square area on real geography (so that maps look right; nothing in it describes the real
geology there), a truth field ``A`` (0..1) of Gaussian halos around 3–5 deposits, and from it:

* the catalogue bands the recipe starts from, by common name, each the background the
  recipe's layer is read against, changed over the halos the way the recipe's ``why`` says
  (e.g. ``eth`` × (1 + 1.5 A) and ``k`` × (1 − 0.4 A) over carbonatite; ``swir22`` × (1 − 0.3 A)
  over AlOH clays or micas; ``tir14`` × (1 − 0.08 A) over carbonate; a flatter DEM over preserved
  regolith or playas) plus noise;
* the vector features it names: faults through the deposits (and regional ones), granites,
  carbonates, shales, volcanic fields or seamounts placed by the system's rule, and point samples
  (soil, stream sediments, cores) whose element values are log-normal backgrounds enriched by
  ``A`` at the sample, some reported below detection as ``"<x"`` text;
* the known occurrences: one per deposit (moved up to 300 m) plus one barren showing at least
  5 km from every deposit.

Magnetic anomalies are forward-modelled with harmonica (prisms under the deposits) in the IGRF
main field at the area's centre on 2025-10-28 (:func:`geosurvey.evidence.geomagnetic_field`),
the datetime the demo catalogue gives its items, so a run resolves the same field direction.

Everything is labelled "DEMO (synthetic)" in every layer's ``long_name`` and ``source``. One
seed drives everything (:class:`numpy.random.SeedSequence`): the same seed and resolution give
identical arrays and vectors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.geo.xr import wrap_xr
from pyproj import Transformer

from geosurvey.demo._synthetic import forward_total_field, pixel_centres, smooth_field
from geosurvey.errors import InputError
from geosurvey.grid import geobox_for
from geosurvey.provenance import annotate

__all__ = ["SYSTEMS", "SystemSpec", "SystemSurvey", "make_system_survey", "write_survey_catalog"]

_DEMO = "DEMO (synthetic)"
#: The datetime the demo catalogues give their items (the day the framework was signed).
SURVEY_DATE = "2025-10-28"

#: Sentinel-2-like band centres (µm) and a bright arid soil and a shrub spectrum for each.
_S2 = {
    "blue": (0.490, 0.12, 0.04), "green": (0.560, 0.16, 0.08), "red": (0.665, 0.22, 0.05),
    "rededge1": (0.705, 0.24, 0.15), "rededge2": (0.740, 0.25, 0.28),
    "rededge3": (0.783, 0.26, 0.33), "nir": (0.842, 0.27, 0.35), "nir08": (0.865, 0.275, 0.36),
    "swir16": (1.610, 0.34, 0.20), "swir22": (2.190, 0.30, 0.10),
}
#: ASTER TIR bands: centre wavelength (µm) and the unit conversion coefficient of ASTER L1T
#: (W m-2 sr-1 µm-1 per DN; radiance = (DN - 1) x UCC; ASTER User Handbook v2).
_TIR = {"tir10": (8.291, 0.006822), "tir11": (8.634, 0.006780), "tir12": (9.075, 0.006590),
        "tir13": (10.657, 0.005693), "tir14": (11.318, 0.005225)}


@dataclass(frozen=True)
class SystemSpec:
    """One synthetic system: where it sits, how big it is, what it yields.

    Attributes
    ----------
    name
        The system, named as the recipe it serves (``geosurvey recipe list``).
    title_en, title_ja
        The demo area's names.
    centre
        Longitude and latitude of the area's centre (degrees).
    crs
        The analysis grid's CRS (a UTM zone).
    size
        Side of the square area, metres.
    resolution
        Default pixel size, metres.
    deposit_models, commodities
        What the area is surveyed for (codes of the registry's vocabularies).
    commodity
        The commodity text of its known occurrences.
    methods
        The survey methods that produce its data (codes of the registry's vocabulary).
    halo
        Range of the halos' standard deviations, metres.
    """

    name: str
    title_en: str
    title_ja: str
    centre: tuple[float, float]
    crs: str
    size: float
    resolution: float
    deposit_models: tuple[str, ...]
    commodities: tuple[str, ...]
    commodity: str
    methods: tuple[str, ...]
    halo: tuple[float, float] = (900.0, 1600.0)


SYSTEMS: Mapping[str, SystemSpec] = MappingProxyType({s.name: s for s in (
    SystemSpec("carbonatite-ree", "Demo carbonatite REE area (synthetic data)",
               "デモ カーボナタイト型希土類 調査地域（合成データ）", (-115.53, 35.48), "EPSG:32611",
               30_000.0, 100.0, ("carbonatite-ree",), ("LREE", "Nd", "Pr", "barite"), "REE-Ba",
               ("airborne-magnetics", "airborne-radiometrics", "multispectral-imagery")),
    SystemSpec("ion-adsorption-clay-ree", "Demo ion-adsorption clay REE area (synthetic data)",
               "デモ イオン吸着型希土類 調査地域（合成データ）", (115.0, 25.0), "EPSG:32650",
               30_000.0, 100.0, ("ion-adsorption-clay-ree",), ("HREE", "Dy", "Tb", "Y"), "HREE",
               ("soil-geochemistry", "airborne-radiometrics", "multispectral-imagery", "geological-mapping")),
    SystemSpec("seafloor-ree-mud", "Demo seafloor REY mud area (synthetic data)",
               "デモ 海底レアアース泥 調査地域（合成データ）", (153.98, 24.28), "EPSG:32656",
               200_000.0, 1000.0, ("seafloor-ree-mud",), ("REE", "HREE", "Y"), "REY",
               ("bathymetry", "seafloor-sampling"), halo=(7000.0, 12000.0)),
    SystemSpec("lct-pegmatite-li", "Demo LCT pegmatite lithium area (synthetic data)",
               "デモ LCT型ペグマタイト・リチウム 調査地域（合成データ）", (-81.35, 35.24), "EPSG:32617",
               30_000.0, 100.0, ("li-pegmatite",), ("Li", "Cs", "Ta"), "Li-Cs-Ta",
               ("stream-sediment-geochemistry", "airborne-radiometrics", "multispectral-imagery", "geological-mapping")),
    SystemSpec("li-brine-closed-basin", "Demo closed-basin lithium brine area (synthetic data)",
               "デモ 塩湖かん水型リチウム 調査地域（合成データ）", (-117.4, 35.75), "EPSG:32611",
               30_000.0, 100.0, ("li-brine",), ("Li", "B", "potash"), "Li-B",
               ("multispectral-imagery", "geological-mapping"), halo=(1500.0, 2500.0)),
    SystemSpec("porphyry-cu-mo", "Demo porphyry Cu-Mo area (synthetic data)",
               "デモ 斑岩銅モリブデン 調査地域（合成データ）", (-110.9, 32.0), "EPSG:32612",
               30_000.0, 100.0, ("porphyry-cu-mo",), ("Cu", "Mo", "Re"), "Cu-Mo",
               ("airborne-magnetics", "airborne-radiometrics", "multispectral-imagery", "geological-mapping")),
    SystemSpec("zn-pb-clastic-dominated", "Demo clastic-dominated Zn-Pb area (synthetic data)",
               "デモ 砕屑岩優勢型亜鉛鉛 調査地域（合成データ）", (136.1, -16.4), "EPSG:32753",
               30_000.0, 100.0, ("sediment-hosted-zn-pb",), ("Zn", "Pb", "Ag"), "Zn-Pb-Ag",
               ("stream-sediment-geochemistry", "multispectral-imagery", "geological-mapping")),
    SystemSpec("zn-pb-mvt", "Demo MVT Zn-Pb area (synthetic data)",
               "デモ MVT型亜鉛鉛 調査地域（合成データ）", (-90.9, 37.5), "EPSG:32615",
               30_000.0, 100.0, ("sediment-hosted-zn-pb",), ("Zn", "Pb", "Ge"), "Zn-Pb",
               ("stream-sediment-geochemistry", "multispectral-imagery", "geological-mapping")),
)})


@dataclass(frozen=True)
class SystemSurvey:
    """A generated survey of one mineral system (synthetic data; see the module docstring).

    Attributes
    ----------
    system
        The :class:`SystemSpec` it was made from (``system.name`` is the recipe it serves).
    geobox
        The analysis grid (the system's UTM zone, north-up).
    area
        The area outline in EPSG:4326, densified.
    rasters
        float32 numpy-backed ``(y, x)`` DataArrays by common band name, with CRS, ``units``,
        ``long_name``, ``history`` and ``source``.
    band_info
        Per raster: ``units``, ``description``, ``center_wavelength`` (µm or ``None``) and
        ``collection`` (the demo collection it belongs to: ``demo-multispectral``,
        ``demo-aster-tir``, ``demo-magnetic``, ``demo-radiometric``, ``demo-elevation``).
    features
        The vector features by the names the recipe uses (``faults``, ``granites``, ``soil``...),
        in the grid's CRS.
    occurrences
        Known occurrences: ``name``, ``commodity``, ``kind`` (``"deposit"`` or ``"showing"``).
    deposits
        The deposits' centres (``easting``, ``northing``, metres), halo ``sigma`` and ``peak``.
    truth
        The halo intensity ``A`` (0..1), the truth the bands were made from.
    field
        IGRF inclination and declination (degrees) of the magnetic forward model.
    seed
        The seed.
    """

    system: SystemSpec
    geobox: GeoBox
    area: shapely.Polygon
    rasters: Mapping[str, xr.DataArray]
    band_info: Mapping[str, Mapping[str, object]]
    features: Mapping[str, gpd.GeoDataFrame]
    occurrences: gpd.GeoDataFrame
    deposits: pd.DataFrame
    truth: xr.DataArray
    field: tuple[float, float]
    seed: int

    @property
    def faults(self) -> gpd.GeoDataFrame | None:
        """The mapped faults, if the system has any (as :class:`DemoSurvey` has)."""
        return self.features.get("faults")


def write_survey_catalog(survey: SystemSurvey, folder: str | Path) -> Path:
    """Write a system survey's rasters as COGs in a static STAC catalogue (one item per demo
    collection of ``band_info``), as a partner would publish them; returns ``catalog.json``.

    Parameters
    ----------
    survey
        From :func:`make_system_survey`.
    folder
        A folder that does not exist yet (its parent must); it is created.

    Returns
    -------
    pathlib.Path
        The catalogue, searchable with :func:`geosurvey.catalogs.search` and loadable by
        :func:`geosurvey.runner.run` (items dated :data:`SURVEY_DATE`).
    """
    from datetime import UTC, datetime

    from geosurvey.catalogs import BandInfo, create_item, write_catalog
    from geosurvey.io import write_cog

    folder = Path(folder)
    groups: dict[str, list[str]] = {}
    for band, info in survey.band_info.items():
        groups.setdefault(str(info["collection"]), []).append(band)
    when = datetime.fromisoformat(SURVEY_DATE).replace(tzinfo=UTC)
    items = []
    for collection, bands in sorted(groups.items()):
        item_id = f"{survey.system.name}-{collection}"
        (folder / item_id).mkdir(parents=True)
        assets = {b: write_cog(survey.rasters[b], folder / item_id / f"{b}.tif") for b in bands}
        infos = {
            b: BandInfo(common_name=b, description=str(survey.band_info[b]["description"]),
                        units=str(survey.band_info[b]["units"]),
                        center_wavelength=survey.band_info[b]["center_wavelength"])  # type: ignore[arg-type]
            for b in bands
        }
        items.append(create_item(assets, item_id=item_id, datetime=when, bands=infos,
                                 collection=collection,
                                 properties={"geosurvey:demo": True, "description": f"{_DEMO} data"}))
    return write_catalog(items, folder, catalog_id=f"geosurvey-demo-{survey.system.name}",
                         title=f"geosurvey demo catalogue: {survey.system.name} (synthetic data)",
                         description="Synthetic survey data generated by geosurvey; stands for no real ground.")


# ---------------------------------------------------------------------------------------------
# the generator
# ---------------------------------------------------------------------------------------------


@dataclass
class _Context:
    spec: SystemSpec
    rng: np.random.Generator
    square: shapely.Polygon
    geobox: GeoBox
    easting: np.ndarray
    northing: np.ndarray
    deposits: pd.DataFrame
    truth: np.ndarray
    field: tuple[float, float]
    resolution: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.truth.shape

    def smooth(self, length: float) -> np.ndarray:
        return smooth_field(self.rng, self.shape, length=length, resolution=self.resolution)

    def noise(self, sigma: float) -> np.ndarray:
        return self.rng.normal(0.0, sigma, self.shape)

    def truth_at(self, east: np.ndarray, north: np.ndarray) -> np.ndarray:
        return _halos(self.deposits, east, north)


def make_system_survey(system: str, *, seed: int = 0, resolution: float | None = None) -> SystemSurvey:
    """Generate a synthetic survey for one mineral system (DEMO data).

    Parameters
    ----------
    system
        One of :data:`SYSTEMS` (the name of the recipe it serves, e.g. ``"carbonatite-ree"``).
    seed
        A non-negative integer; the same seed gives the same data.
    resolution
        Pixel size in metres (default the system's: 100 m, 1,000 m for the seafloor). At most
        a tenth of the area's side and at least 20 m.

    Returns
    -------
    SystemSurvey

    Raises
    ------
    InputError
        For an unknown system, a bad seed or resolution.

    Examples
    --------
    >>> s = make_system_survey("carbonatite-ree", resolution=1000.0)
    >>> {"mag_tmi", "eth", "k", "tir14", "rededge2"} <= set(s.rasters), sorted(s.features)
    (True, ['faults'])
    """
    if system not in SYSTEMS:
        raise InputError(f"unknown demo system {system!r}; choose one of {', '.join(SYSTEMS)}")
    spec = SYSTEMS[system]
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    resolution = float(spec.resolution if resolution is None else resolution)
    if not math.isfinite(resolution) or not 20 <= resolution <= spec.size / 10:
        raise InputError(f"resolution must be 20 to {spec.size / 10:g} metres for {system}, "
                         f"got {resolution!r}")
    geology_ss, data_ss = np.random.SeedSequence([seed, _stable_id(system)]).spawn(2)
    geology = np.random.default_rng(geology_ss)
    to_utm = Transformer.from_crs("EPSG:4326", spec.crs, always_xy=True)
    e0, n0 = (round(v, -3) for v in to_utm.transform(*spec.centre))
    half = spec.size / 2
    square = shapely.box(e0 - half, n0 - half, e0 + half, n0 + half)
    to_lonlat = Transformer.from_crs(spec.crs, "EPSG:4326", always_xy=True)
    area = shapely.transform(shapely.segmentize(square, spec.size / 60),
                             lambda xy: np.column_stack(to_lonlat.transform(xy[:, 0], xy[:, 1])))
    geobox = geobox_for(area, crs=spec.crs, resolution=resolution)
    easting, northing = pixel_centres(geobox)
    deposits = _place_deposits(geology, square, spec)
    from geosurvey.evidence import geomagnetic_field

    igrf = geomagnetic_field(*spec.centre, SURVEY_DATE)
    ctx = _Context(spec, np.random.default_rng(data_ss), square, geobox, easting, northing,
                   deposits, _halos(deposits, easting, northing),
                   (float(igrf.inclination), float(igrf.declination)), resolution)
    arrays, features = _BUILDERS[system](ctx, geology)
    occurrences = _occurrences(geology, ctx)
    step = f"make_system_survey({system!r}, seed={seed}, resolution={resolution:g}): {_DEMO} demo data"
    rasters, band_info = {}, {}
    for name, (arr, units, text, centre, collection) in arrays.items():
        rasters[name] = _layer(arr, geobox, name=name, step=step, units=units, long_name=f"{_DEMO} {text}")
        band_info[name] = MappingProxyType({"units": units, "description": f"{_DEMO} {text}",
                                            "center_wavelength": centre, "collection": collection})
    truth = _layer(ctx.truth, geobox, name="truth", step=step, units="1",
                   long_name=f"{_DEMO} halo intensity of the {system} deposits (truth)")
    return SystemSurvey(spec, geobox, area, MappingProxyType(rasters), MappingProxyType(band_info),
                        MappingProxyType(features), occurrences, deposits, truth, ctx.field, int(seed))


def _stable_id(name: str) -> int:
    return int.from_bytes(name.encode("utf-8")[:8].ljust(8, b"\0"), "little")


def _layer(arr: np.ndarray, geobox: GeoBox, *, name: str, step: str, units: str, long_name: str) -> xr.DataArray:
    da = wrap_xr(np.ascontiguousarray(arr, dtype=np.float32), geobox)
    da.attrs.pop("nodata", None)
    da.name = name
    return annotate(da, step, units=units, long_name=long_name,
                    source=f"{_DEMO}: geosurvey.demo.make_system_survey")


def _place_deposits(rng: np.random.Generator, square: shapely.Polygon, spec: SystemSpec) -> pd.DataFrame:
    """3–5 deposits at least a sixth of the side inside the area and a fifth of it apart."""
    w, s, e, n = square.bounds
    margin, gap = spec.size / 6, spec.size / 5
    count = int(rng.integers(3, 6))
    centres: list[tuple[float, float]] = []
    while len(centres) < count:
        c = (rng.uniform(w + margin, e - margin), rng.uniform(s + margin, n - margin))
        if all(math.dist(c, other) >= gap for other in centres):
            centres.append(c)
        elif rng.random() < 0.01:
            centres = []
    return pd.DataFrame({
        "name": [f"D{i + 1}" for i in range(count)],
        "easting": [c[0] for c in centres], "northing": [c[1] for c in centres],
        "sigma": rng.uniform(*spec.halo, size=count), "peak": rng.uniform(0.85, 1.0, size=count),
    })


def _halos(deposits: pd.DataFrame, east: np.ndarray, north: np.ndarray) -> np.ndarray:
    out = np.zeros(np.shape(east))
    for d in deposits.itertuples():
        r2 = (east - d.easting) ** 2 + (north - d.northing) ** 2
        out = np.maximum(out, d.peak * np.exp(-0.5 * r2 / d.sigma**2))
    return out


def _occurrences(rng: np.random.Generator, ctx: _Context) -> gpd.GeoDataFrame:
    rows, points = [], []
    for d in ctx.deposits.itertuples():
        r, theta = 300.0 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
        rows.append({"commodity": ctx.spec.commodity, "kind": "deposit", "deposit": d.name})
        points.append(shapely.Point(d.easting + r * math.cos(theta), d.northing + r * math.sin(theta)))
    w, s, e, n = ctx.square.bounds
    margin = ctx.spec.size / 30
    while True:
        p = (rng.uniform(w + margin, e - margin), rng.uniform(s + margin, n - margin))
        if all(math.dist(p, (d.easting, d.northing)) >= ctx.spec.size / 6 for d in ctx.deposits.itertuples()):
            break
    rows.append({"commodity": ctx.spec.commodity, "kind": "showing", "deposit": None})
    points.append(shapely.Point(p))
    table = pd.DataFrame(rows)
    table.insert(0, "name", [f"{_DEMO} {ctx.spec.name} occurrence {i + 1}" for i in range(len(rows))])
    return gpd.GeoDataFrame(table, geometry=points, crs=ctx.spec.crs)


# --- bands --------------------------------------------------------------------------------------


def _optical(ctx: _Context, factors: Mapping[str, np.ndarray]) -> dict[str, tuple]:
    """Sentinel-2-like surface reflectance: soil × brightness × factors mixed with sparse shrubs."""
    cover = np.clip(0.12 + 0.06 * ctx.smooth(1500), 0.0, 0.4)
    brightness = 1 + 0.06 * ctx.smooth(3000)
    out = {}
    for band, (centre, soil, shrub) in _S2.items():
        value = (1 - cover) * soil * brightness * factors.get(band, 1.0) + cover * shrub + ctx.noise(0.004)
        out[band] = (np.clip(value, 0.0, 1.0), "1", f"surface reflectance, {band} (Sentinel-2-like)",
                     centre, "demo-multispectral")
    return out


def _planck(wavelength_um: float, kelvin: np.ndarray) -> np.ndarray:
    """Black-body spectral radiance, W m-2 sr-1 µm-1 (Planck's law; two lines, hence by hand)."""
    from scipy.constants import Boltzmann as k
    from scipy.constants import Planck as h
    from scipy.constants import speed_of_light as c

    lam = wavelength_um * 1e-6
    return 2 * h * c**2 / lam**5 / np.expm1(h * c / (lam * k * kelvin)) * 1e-6


def _tir(ctx: _Context, factors: Mapping[str, np.ndarray]) -> dict[str, tuple]:
    """ASTER L1T TIR digital numbers, as Planetary Computer serves them (no scale):
    DN = ε B(λ, T) / UCC + 1 with a silicate emissivity ε = 0.95 × ``factors``, a surface
    temperature of 300 ± 3 K and 2 DN of noise."""
    kelvin = 300.0 + 3.0 * ctx.smooth(3000)
    out = {}
    for band, (centre, ucc) in _TIR.items():
        emissivity = 0.95 * (1 + 0.003 * ctx.smooth(2000)) * factors.get(band, 1.0)
        dn = emissivity * _planck(centre, kelvin) / ucc + 1 + ctx.noise(2.0)
        out[band] = (dn, "1", f"thermal infrared DN, ASTER L1T band {band[3:]}-like", centre, "demo-aster-tir")
    return out


def _radiometrics(ctx: _Context, *, k: np.ndarray | float = 1.0, eth: np.ndarray | float = 1.0,
                  eu: np.ndarray | float = 1.0) -> dict[str, tuple]:
    g1, g2, g3 = ctx.smooth(2500), ctx.smooth(2500), ctx.smooth(2500)
    k0 = np.maximum(1.8 + 0.3 * g1, 0.3) * k
    eth0 = np.maximum(10 + 1.2 * g1 + 1.5 * g2, 2.0) * eth
    eu0 = np.maximum(2.5 + 0.3 * g3, 0.5) * eu
    return {
        "k": (np.maximum(k0 + ctx.noise(0.08), 0.05), "%", "potassium (airborne gamma-ray)", None, "demo-radiometric"),
        "eth": (np.maximum(eth0 + ctx.noise(0.6), 0.2), "ppm", "equivalent thorium (airborne gamma-ray)", None, "demo-radiometric"),
        "eu": (np.maximum(eu0 + ctx.noise(0.25), 0.05), "ppm", "equivalent uranium (airborne gamma-ray)", None, "demo-radiometric"),
    }


def _magnetics(ctx: _Context, rng: np.random.Generator, *, susceptibility: tuple[float, float]) -> dict[str, tuple]:
    """Prisms under the deposits (tops 150–400 m down) in the IGRF field, plus 1 nT noise."""
    intensity = 50_000e-9 / (4e-7 * math.pi)  # A/m per unit susceptibility (a 50,000 nT field)
    rows = []
    for d in ctx.deposits.itertuples():
        half = rng.uniform(500, 900)
        top = -rng.uniform(150, 400)
        rows.append({"west": d.easting - half, "east": d.easting + half, "south": d.northing - half,
                     "north": d.northing + half, "bottom": top - rng.uniform(1500, 3000), "top": top,
                     "magnetization": rng.uniform(*susceptibility) * intensity,
                     "inclination": ctx.field[0], "declination": ctx.field[1]})
    tmi = forward_total_field(pd.DataFrame(rows), ctx.geobox, height=100.0,
                              inclination=ctx.field[0], declination=ctx.field[1])
    return {"mag_tmi": (np.asarray(tmi.values, dtype="float64") + ctx.noise(1.0), "nT",
                        "total-field magnetic anomaly", None, "demo-magnetic")}


def _elevation(ctx: _Context, *, base: float, relief: float, flatten: np.ndarray) -> dict[str, tuple]:
    """Rolling terrain (slopes of 10–25°) flattened where ``flatten`` is 1."""
    terrain = base + relief * ctx.smooth(1200) * (1 - 0.9 * flatten)
    return {"elevation": (terrain, "m", "elevation (Copernicus DEM-like)", None, "demo-elevation")}


# --- features -----------------------------------------------------------------------------------


def _faults(ctx: _Context, rng: np.random.Generator, *, through: str = "deposits",
            kind: str = "fault", regional_kind: str | None = None) -> gpd.GeoDataFrame:
    """A fault within 600 m of each deposit (``through="deposits"``) and two regional faults."""
    lines, kinds = [], []
    w, s, e, n = ctx.square.bounds
    anchors = [(d.easting, d.northing) for d in ctx.deposits.itertuples()] if through == "deposits" else []
    for x, y in anchors:
        strike = math.radians(rng.uniform(-40, 40))
        along, across = np.array([math.sin(strike), math.cos(strike)]), np.array([math.cos(strike), -math.sin(strike)])
        c = np.array([x, y]) + rng.uniform(-600, 600) * across
        lines.append(shapely.LineString([c - 12_000 * along, c + 12_000 * along]))
        kinds.append(kind)
    while len(lines) < len(anchors) + 2:
        strike = math.radians(rng.uniform(0, 180))
        c = np.array([rng.uniform(w, e), rng.uniform(s, n)])
        line = shapely.LineString([c - 20_000 * np.array([math.sin(strike), math.cos(strike)]),
                                   c + 20_000 * np.array([math.sin(strike), math.cos(strike)])])
        if all(line.distance(shapely.Point(d.easting, d.northing)) > ctx.spec.size / 10
               for d in ctx.deposits.itertuples()):
            lines.append(line)
            kinds.append(regional_kind or kind)
    clipped = [line.intersection(ctx.square) for line in lines]
    keep = [i for i, g in enumerate(clipped) if not g.is_empty and g.geom_type == "LineString"]
    return gpd.GeoDataFrame({"name": [f"F{i + 1}" for i in range(len(keep))], "kind": [kinds[i] for i in keep]},
                            geometry=[clipped[i] for i in keep], crs=ctx.spec.crs)


def _blob(rng: np.random.Generator, x: float, y: float, radius: float) -> shapely.Polygon:
    """An irregular polygon of about ``radius`` metres around a point."""
    angles = np.linspace(0, 2 * math.pi, 24, endpoint=False)
    radii = radius * (1 + 0.25 * np.sin(3 * angles + rng.uniform(0, 6)) + rng.uniform(-0.1, 0.1, 24))
    return shapely.Polygon(np.column_stack([x + radii * np.cos(angles), y + radii * np.sin(angles)]))


def _polygons(ctx: _Context, rng: np.random.Generator, *, offset: tuple[float, float],
              radius: tuple[float, float], kind: str) -> gpd.GeoDataFrame:
    """One polygon per deposit, its centre ``offset`` metres (range) from the deposit."""
    polys = []
    for d in ctx.deposits.itertuples():
        r, theta = rng.uniform(*offset), rng.uniform(0, 2 * math.pi)
        polys.append(_blob(rng, d.easting + r * math.cos(theta), d.northing + r * math.sin(theta),
                           rng.uniform(*radius)))
    geoms = [p.intersection(ctx.square) for p in polys]
    return gpd.GeoDataFrame({"kind": [kind] * len(geoms)}, geometry=geoms, crs=ctx.spec.crs)


def _samples(ctx: _Context, rng: np.random.Generator, *, count: int,
             columns: Mapping[str, tuple[float, float, float]],
             detection: Mapping[str, float] | None = None) -> gpd.GeoDataFrame:
    """Point samples: ``column -> (median, log-sd, enrichment)``; value = median × lognormal ×
    (1 + enrichment × A); values under ``detection[column]`` reported as ``"<limit"`` text."""
    w, s, e, n = ctx.square.bounds
    east, north = rng.uniform(w, e, count), rng.uniform(s, n, count)
    a = ctx.truth_at(east, north)
    data: dict[str, object] = {"sample": [f"S{i + 1:04d}" for i in range(count)]}
    for col, (median, sd, enrich) in columns.items():
        values = median * np.exp(rng.normal(0, sd, count)) * np.maximum(1 + enrich * a, 0.05)
        values = np.round(values, 3)
        limit = (detection or {}).get(col)
        if limit is not None:
            data[col] = [f"<{limit:g}" if v < limit else f"{v:g}" for v in values]
        else:
            data[col] = values
    return gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(east, north), crs=ctx.spec.crs)


# --- the systems ----------------------------------------------------------------------------


def _carbonatite(ctx: _Context, rng: np.random.Generator):
    a = ctx.truth
    arrays = {**_magnetics(ctx, rng, susceptibility=(0.03, 0.08)),
              **_radiometrics(ctx, k=1 - 0.4 * a, eth=1 + 1.5 * a, eu=1 + 0.5 * a),
              **_optical(ctx, {"rededge2": 1 - 0.15 * a}),
              **_tir(ctx, {"tir14": 1 - 0.08 * a})}
    return arrays, {"faults": _faults(ctx, rng)}


def _ion_adsorption(ctx: _Context, rng: np.random.Generator):
    a = ctx.truth
    arrays = {**_radiometrics(ctx, k=1 - 0.5 * a, eth=1 + 0.6 * a),
              **_optical(ctx, {"swir22": 1 - 0.3 * a}),
              **_elevation(ctx, base=250.0, relief=450.0, flatten=a)}
    granites = _polygons(ctx, rng, offset=(0, 1500), radius=(4000, 6000), kind="granite")
    soil = _samples(ctx, rng, count=500, columns={
        "Y_ppm": (25.0, 0.3, 4.0), "Dy_ppm": (4.0, 0.3, 4.0), "La_ppm": (40.0, 0.3, 1.0),
        "Al_ppm": (80_000.0, 0.15, 0.0), "Fe_ppm": (30_000.0, 0.2, 0.0), "K_ppm": (20_000.0, 0.2, -0.5),
    }, detection={"Dy_ppm": 2.0})
    return arrays, {"granites": granites, "soil": soil}


def _seafloor(ctx: _Context, rng: np.random.Generator):
    depth = -5600.0 + 150.0 * ctx.smooth(20_000)
    seamounts = []
    for d in ctx.deposits.itertuples():  # seamounts 15-30 km from each deposit
        r, theta = rng.uniform(15_000, 30_000), rng.uniform(0, 2 * math.pi)
        seamounts.append(_blob(rng, d.easting + r * math.cos(theta), d.northing + r * math.sin(theta),
                               rng.uniform(3000, 6000)))
    for shape in seamounts:
        ctx_dist = shapely.distance(shape, shapely.points(np.column_stack([ctx.easting.ravel(), ctx.northing.ravel()])))
        depth = np.maximum(depth, -1500.0 - 0.8 * ctx_dist.reshape(ctx.shape))
    arrays = {"elevation": (depth, "m", "bathymetry (partner multibeam-like)", None, "demo-elevation")}
    mounts = gpd.GeoDataFrame({"name": [f"SM{i + 1}" for i in range(len(seamounts))]},
                              geometry=[g.intersection(ctx.square) for g in seamounts], crs=ctx.spec.crs)
    mounts = mounts[~mounts.geometry.is_empty].reset_index(drop=True)
    cores = _samples(ctx, rng, count=160, columns={"REY_ppm": (400.0, 0.25, 9.0), "P2O5_wt": (0.5, 0.25, 5.0)})
    return arrays, {"seamounts": mounts, "cores": cores}


def _pegmatite(ctx: _Context, rng: np.random.Generator):
    a = ctx.truth
    arrays = {**_radiometrics(ctx, k=1 + 0.8 * a, eth=1 - 0.5 * a),
              **_optical(ctx, {"swir22": 1 - 0.3 * a})}
    granites = _polygons(ctx, rng, offset=(3500, 4500), radius=(2000, 2500), kind="peraluminous granite")
    streams = _samples(ctx, rng, count=450, columns={
        "Li_ppm": (30.0, 0.25, 5.0), "Cs_ppm": (3.0, 0.3, 6.0)}, detection={"Cs_ppm": 1.5})
    return arrays, {"granites": granites, "stream_sediments": streams}


def _brine(ctx: _Context, rng: np.random.Generator):
    a = ctx.truth
    arrays = {**_elevation(ctx, base=600.0, relief=220.0, flatten=np.clip(1.3 * a, 0, 1)),
              **_tir(ctx, {"tir11": 1 - 0.1 * a})}
    volcanics = _polygons(ctx, rng, offset=(4000, 6000), radius=(1500, 2500), kind="rhyolite tuff")
    return arrays, {"volcanics": volcanics, "faults": _faults(ctx, rng)}


def _porphyry(ctx: _Context, rng: np.random.Generator):
    a = ctx.truth
    arrays = {**_magnetics(ctx, rng, susceptibility=(0.03, 0.08)),
              **_radiometrics(ctx, k=1 + 0.8 * a, eth=1 - 0.1 * a),
              **_optical(ctx, {"swir22": 1 - 0.3 * a, "red": 1 + 0.35 * a}),
              **_tir(ctx, {"tir11": 1 + 0.08 * a})}
    return arrays, {"faults": _faults(ctx, rng)}


def _zn_pb_cd(ctx: _Context, rng: np.random.Generator):
    a = ctx.truth
    arrays = _optical(ctx, {"swir16": 1 + 0.3 * a, "red": 1 - 0.1 * a})
    shales = _polygons(ctx, rng, offset=(0, 1000), radius=(3000, 4500), kind="carbonaceous shale")
    streams = _samples(ctx, rng, count=450, columns={
        "Zn_ppm": (80.0, 0.3, 6.0), "Pb_ppm": (20.0, 0.3, 5.0), "Fe_ppm": (30_000.0, 0.2, 0.3),
        "Mn_ppm": (600.0, 0.25, 0.0), "Al_ppm": (60_000.0, 0.15, 0.0)}, detection={"Pb_ppm": 8.0})
    faults = _faults(ctx, rng, kind="growth fault", regional_kind="normal fault")
    return arrays, {"faults": faults, "shales": shales, "stream_sediments": streams}


def _zn_pb_mvt(ctx: _Context, rng: np.random.Generator):
    a = ctx.truth
    carbonates = _polygons(ctx, rng, offset=(0, 1500), radius=(4000, 6000), kind="dolostone")
    inside = shapely.contains_xy(shapely.union_all(carbonates.geometry.to_numpy()), ctx.easting, ctx.northing)
    arrays = _tir(ctx, {"tir14": 1 - 0.05 * inside - 0.03 * a})
    streams = _samples(ctx, rng, count=450, columns={"Zn_ppm": (60.0, 0.3, 8.0)})
    return arrays, {"carbonates": carbonates, "faults": _faults(ctx, rng), "stream_sediments": streams}


_BUILDERS: Mapping[str, Callable[[_Context, np.random.Generator], tuple[dict, dict]]] = MappingProxyType({
    "carbonatite-ree": _carbonatite,
    "ion-adsorption-clay-ree": _ion_adsorption,
    "seafloor-ree-mud": _seafloor,
    "lct-pegmatite-li": _pegmatite,
    "li-brine-closed-basin": _brine,
    "porphyry-cu-mo": _porphyry,
    "zn-pb-clastic-dominated": _zn_pb_cd,
    "zn-pb-mvt": _zn_pb_mvt,
})
