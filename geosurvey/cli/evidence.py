"""``geosurvey evidence <name> IN OUT [options]``: evidence layers for GeoTIFF/COG files.

Each command reads its input raster(s) lazily, calls one function of :mod:`geosurvey.evidence`,
writes the result as a COG on the input's grid and CRS (float input keeps its nodata value,
other input gets NaN) with a JSON manifest beside it (``OUT`` with suffix ``.json``), and prints
one line. Refusals are :class:`~geosurvey.errors.GeosurveyError` and print as one line (exit 1).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from geosurvey.errors import InputError, MissingInputError

__all__ = ["app"]

app = typer.Typer(
    help="Evidence layers from GeoTIFF/COG files: potential-field transforms, ratios, distance, terrain.",
    no_args_is_help=True,
)

In_ = Annotated[Path, typer.Argument(help="Input GeoTIFF/COG (first band).", show_default=False)]
Out_ = Annotated[Path, typer.Argument(help="Output COG (its folder must exist).", show_default=False)]
Pad_ = Annotated[float, typer.Option(help="FFT padding on each side, fraction of the grid size.")]
Units_ = Annotated[
    str | None, typer.Option(help="Units of the input when the file does not say (e.g. nT, mGal).")
]


def _nodata(path: Path) -> float | None:
    import numpy as np
    import rasterio

    with rasterio.open(path) as src:
        if np.issubdtype(np.dtype(src.dtypes[0]), np.floating) and src.nodata is not None:
            return float(src.nodata)
    return float("nan")


def _read(path: Path, units: str | None = None):
    from geosurvey.io import read_raster

    da = read_raster(path)
    if units:
        da.attrs["units"] = units
    return da


def _write(result, out: Path, *, inputs: dict[str, Path], parameters: dict, nodata_from: Path | None) -> None:
    from geosurvey.io import write_cog
    from geosurvey.provenance import manifest

    if out.suffix.lower() not in {".tif", ".tiff"}:
        raise InputError(f"output {out} must end in .tif (a COG is written)")
    if any(out.resolve() == p.resolve() for p in inputs.values()):
        raise InputError(f"output {out} is also an input; choose another name")
    nodata = _nodata(nodata_from) if nodata_from is not None else float("nan")
    write_cog(result, out, nodata=nodata)  # the Dask graph runs here, once, chunk by chunk
    manifest(
        out.with_suffix(".json"),
        inputs={k: str(v) for k, v in inputs.items()},
        parameters=parameters,
        outputs={"layer": str(out), "units": result.attrs.get("units"), "history": result.attrs.get("history")},
    )
    typer.echo(f"wrote {out} ({result.attrs.get('long_name', result.name)}, {result.attrs.get('units')})")


def _one_grid(src: Path, out: Path, func: Callable, *, units: str | None = None, **options) -> None:
    if not src.exists():
        raise MissingInputError(f"input raster {src} does not exist; check the path")
    result = func(_read(src, units), **options)
    _write(result, out, inputs={"grid": src}, parameters={"function": func.__name__, **options}, nodata_from=src)


@app.command("reduction-to-pole")
def reduction_to_pole(
    src: In_,
    out: Out_,
    inclination: Annotated[float, typer.Option(help="Geomagnetic inclination, degrees (positive down).")],
    declination: Annotated[float, typer.Option(help="Geomagnetic declination, degrees east of north.")],
    magnetization_inclination: Annotated[float | None, typer.Option(help="Magnetisation inclination (remanence).")] = None,
    magnetization_declination: Annotated[float | None, typer.Option(help="Magnetisation declination (remanence).")] = None,
    pseudo_inclination: Annotated[float, typer.Option(help="Low-latitude amplitude-correction inclination, degrees.")] = 20.0,
    pad: Pad_ = 0.25,
    units: Units_ = None,
) -> None:
    """Reduce a total-field magnetic anomaly grid to the pole (FFT)."""
    from geosurvey.evidence import reduction_to_pole as func

    _one_grid(src, out, func, units=units, inclination=inclination, declination=declination,
              magnetization_inclination=magnetization_inclination,
              magnetization_declination=magnetization_declination,
              pseudo_inclination=pseudo_inclination, pad=pad)


@app.command("vertical-derivative")
def vertical_derivative(
    src: In_, out: Out_,
    order: Annotated[int, typer.Option(help="Order of the derivative.", min=1)] = 1,
    pad: Pad_ = 0.25, units: Units_ = None,
) -> None:
    """Vertical derivative, z positive down (FFT)."""
    from geosurvey.evidence import vertical_derivative as func

    _one_grid(src, out, func, units=units, order=order, pad=pad)


@app.command("derivative-easting")
def derivative_easting(
    src: In_, out: Out_, order: Annotated[int, typer.Option(help="Order.", min=1)] = 1, units: Units_ = None,
) -> None:
    """Derivative towards the east (central differences)."""
    from geosurvey.evidence import derivative_easting as func

    _one_grid(src, out, func, units=units, order=order)


@app.command("derivative-northing")
def derivative_northing(
    src: In_, out: Out_, order: Annotated[int, typer.Option(help="Order.", min=1)] = 1, units: Units_ = None,
) -> None:
    """Derivative towards the north (central differences)."""
    from geosurvey.evidence import derivative_northing as func

    _one_grid(src, out, func, units=units, order=order)


@app.command("total-horizontal-gradient")
def total_horizontal_gradient(src: In_, out: Out_, units: Units_ = None) -> None:
    """Total horizontal gradient (central differences)."""
    from geosurvey.evidence import total_horizontal_gradient as func

    _one_grid(src, out, func, units=units)


@app.command("tilt-derivative")
def tilt_derivative(src: In_, out: Out_, pad: Pad_ = 0.25) -> None:
    """Tilt derivative in radians, z positive down."""
    from geosurvey.evidence import tilt_derivative as func

    _one_grid(src, out, func, pad=pad)


@app.command("analytic-signal")
def analytic_signal(src: In_, out: Out_, pad: Pad_ = 0.25, units: Units_ = None) -> None:
    """Analytic signal amplitude (total gradient amplitude)."""
    from geosurvey.evidence import analytic_signal as func

    _one_grid(src, out, func, units=units, pad=pad)


@app.command("upward-continuation")
def upward_continuation(
    src: In_, out: Out_,
    height: Annotated[float, typer.Option(help="Continuation height, metres (> 0).")],
    pad: Pad_ = 0.25, units: Units_ = None,
) -> None:
    """Upward continuation by HEIGHT metres (FFT)."""
    from geosurvey.evidence import upward_continuation as func

    _one_grid(src, out, func, units=units, height=height, pad=pad)


@app.command("slope")
def slope(src: In_, out: Out_, z_factor: Annotated[float, typer.Option(help="Elevation-to-metres factor.")] = 1.0) -> None:
    """Slope in degrees from a DEM (Horn 1981)."""
    from geosurvey.evidence import slope as func

    _one_grid(src, out, func, z_factor=z_factor)


@app.command("aspect")
def aspect(src: In_, out: Out_) -> None:
    """Aspect in degrees clockwise from north from a DEM."""
    from geosurvey.evidence import aspect as func

    _one_grid(src, out, func)


@app.command("hillshade")
def hillshade(
    src: In_, out: Out_,
    azimuth: Annotated[float, typer.Option(help="Sun azimuth, degrees from north.")] = 315.0,
    altitude: Annotated[float, typer.Option(help="Sun altitude, degrees.")] = 45.0,
    z_factor: Annotated[float, typer.Option(help="Vertical exaggeration.")] = 1.0,
) -> None:
    """Hillshade (0-1) from a DEM."""
    from geosurvey.evidence import hillshade as func

    _one_grid(src, out, func, azimuth=azimuth, altitude=altitude, z_factor=z_factor)


@app.command("landsat-toa")
def landsat_toa(
    src: In_, out: Out_,
    mtl: Annotated[Path, typer.Option(help="The scene's *_MTL.txt or *_MTL.json file.")],
    band: Annotated[int | None, typer.Option(help="Band number (default: from the file name _B<n>).")] = None,
) -> None:
    """Landsat 8/9 L1 DN to top-of-atmosphere reflectance."""
    from geosurvey.evidence import landsat_toa_reflectance as func

    if not src.exists():
        raise MissingInputError(f"input raster {src} does not exist; check the path")
    result = func(_read(src), mtl, band=band)
    _write(result, out, inputs={"grid": src, "mtl": mtl}, parameters={"function": func.__name__, "band": band},
           nodata_from=None)


@app.command("ratio")
def ratio(
    numerator: Annotated[Path, typer.Argument(help="Numerator raster.", show_default=False)],
    denominator: Annotated[Path, typer.Argument(help="Denominator raster.", show_default=False)],
    out: Out_,
    radiometric: Annotated[bool, typer.Option(help="Radiometric rules: NaN where denominator <= 0 or numerator < 0.")] = False,
) -> None:
    """Ratio of two rasters on the same grid (band ratio, or eTh/K-style radiometric ratio)."""
    import xarray as xr

    from geosurvey.evidence import band_ratio, radiometric_ratio

    for path in (numerator, denominator):
        if not path.exists():
            raise MissingInputError(f"input raster {path} does not exist; check the path")
    num, den = _read(numerator), _read(denominator)
    if radiometric:
        result = radiometric_ratio(num, den)
    else:
        from geosurvey.grid import check_same_grid

        check_same_grid([num, den], what="ratio", names=(str(numerator), str(denominator)))
        result = band_ratio(xr.Dataset({"numerator": num, "denominator": den}), "numerator", "denominator",
                            name=f"{num.name}_over_{den.name}")
    _write(result, out, inputs={"numerator": numerator, "denominator": denominator},
           parameters={"radiometric": radiometric}, nodata_from=numerator)


def _features(path: Path, layer: str | None):
    import geopandas as gpd
    import pyogrio

    if not path.exists():
        raise MissingInputError(f"features file {path} does not exist; check the path")
    try:
        return gpd.read_file(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise InputError(f"cannot read features from {path}: {exc}") from exc


Where_ = Annotated[str | None, typer.Option(
    help="Attribute filter (grammar of geosurvey.filters: columns, ==/</in, and/or/not, .str.contains), "
    "e.g. \"NAME.str.contains('shear', case=False)\".")]
Layer_ = Annotated[str | None, typer.Option(help="Layer of a multi-layer features file.")]


@app.command("distance")
def distance(
    features: Annotated[Path, typer.Argument(help="Vector file (faults, contacts, intrusions).", show_default=False)],
    like: Annotated[Path, typer.Argument(help="A raster on the analysis grid.", show_default=False)],
    out: Out_,
    where: Where_ = None,
    layer: Layer_ = None,
    to_boundary: Annotated[bool, typer.Option(help="Distance to polygon boundaries (0 only on them).")] = False,
) -> None:
    """Exact distance in metres from every pixel of LIKE's grid to the nearest feature."""
    from geosurvey.evidence import distance_to_features

    if not like.exists():
        raise MissingInputError(f"grid raster {like} does not exist; check the path")
    result = distance_to_features(_features(features, layer), _read(like), where=where,
                                  to="boundary" if to_boundary else "geometry")
    _write(result, out, inputs={"features": features, "like": like},
           parameters={"where": where, "layer": layer, "to_boundary": to_boundary}, nodata_from=None)


@app.command("line-density")
def line_density(
    features: Annotated[Path, typer.Argument(help="Vector file of lines.", show_default=False)],
    like: Annotated[Path, typer.Argument(help="A raster on the analysis grid.", show_default=False)],
    out: Out_,
    radius: Annotated[float, typer.Option(help="Search radius, metres.")],
    where: Where_ = None,
    layer: Layer_ = None,
) -> None:
    """Line density (km/km²) within RADIUS metres of every pixel."""
    from geosurvey.evidence import line_density as func

    if not like.exists():
        raise MissingInputError(f"grid raster {like} does not exist; check the path")
    result = func(_features(features, layer), _read(like), radius=radius, where=where)
    _write(result, out, inputs={"features": features, "like": like},
           parameters={"radius": radius, "where": where, "layer": layer}, nodata_from=None)
