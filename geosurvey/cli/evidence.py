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

from geosurvey.errors import GeosurveyError, InputError, MissingInputError, OutputError

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


Overwrite_ = Annotated[bool, typer.Option(help="Replace OUT and its manifest if they exist.")]


def _nodata(path: Path) -> float | None:
    import numpy as np
    import rasterio

    with rasterio.open(path) as src:
        if np.issubdtype(np.dtype(src.dtypes[0]), np.floating) and src.nodata is not None:
            return float(src.nodata)
    return float("nan")


def _read(path: Path, units: str | None = None, *, what: str = "input raster"):
    from geosurvey.io import read_raster

    if not path.exists():
        raise MissingInputError(f"{what} {path} does not exist; check the path")
    da = read_raster(path)
    if units:
        import unicodedata

        if any(unicodedata.category(ch)[0] == "C" for ch in units) or len(units) > 64:
            raise InputError(f"--units {units!r} must be short printable text, e.g. nT, mGal, ppm")
        da.attrs["units"] = units
    return da


def _same_file(a: Path, b: Path) -> bool:
    import os

    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _check_outputs(out: Path, inputs: dict[str, Path], overwrite: bool) -> Path:
    """Refuse an output that is not a .tif, would replace an input, or exists (unless overwrite).

    Returns the manifest path (OUT with suffix .json).
    """
    if out.suffix.lower() not in {".tif", ".tiff"}:
        raise InputError(f"output {out} must end in .tif (a COG is written)")
    manifest_path = out.with_suffix(".json")
    for target in (out, manifest_path):
        for role, path in inputs.items():
            if _same_file(target, path):
                raise InputError(
                    f"output {target} would replace the input {role} {path}; choose another OUT"
                )
        if target.is_dir():
            raise OutputError(f"output {target} is a folder; choose another OUT")
        if target.exists() and not overwrite:
            raise OutputError(f"output {target} exists; remove it, choose another OUT or pass --overwrite")
    return manifest_path


def _write(result, out: Path, *, inputs: dict[str, Path], parameters: dict, nodata_from: Path | None,
           overwrite: bool) -> None:
    """Write the COG and its manifest all-or-nothing (both appear, or neither)."""
    import rasterio.errors

    from geosurvey.io import atomic_path, has_valid_pixels, write_cog
    from geosurvey.provenance import manifest

    manifest_path = _check_outputs(out, inputs, overwrite)
    units = str(result.attrs.get("units") or "unknown")
    if "unknown" in units:
        typer.echo(
            f"geosurvey: warning: {', '.join(str(p) for p in inputs.values())} has no units tag, so "
            f"{out} is in {units!r}; pass --units (e.g. nT, mGal)", err=True,
        )
    nodata = _nodata(nodata_from) if nodata_from is not None else float("nan")
    try:
        with atomic_path(out) as tmp_cog:
            write_cog(result, tmp_cog, nodata=nodata)  # the Dask graph runs here, once, chunk by chunk
            if not has_valid_pixels(tmp_cog):
                raise InputError(
                    f"the {result.attrs.get('long_name', result.name)} of "
                    f"{', '.join(str(p) for p in inputs.values())} has no valid pixel (is the input all "
                    "nodata?); nothing was written"
                )
            with atomic_path(manifest_path, create=True) as tmp_json:
                manifest(
                    tmp_json,
                    inputs={k: str(v) for k, v in inputs.items()},
                    parameters=parameters,
                    outputs={"layer": str(out), "units": units, "history": result.attrs.get("history")},
                )
    except rasterio.errors.RasterioError as exc:  # a corrupt or truncated block met while computing
        cause = exc.__cause__ or exc.__context__
        reason = str(cause if "previous exception" in str(exc) and cause is not None else exc)
        reason = reason.splitlines()[0] if reason else type(exc).__name__
        raise InputError(
            f"cannot read {', '.join(str(p) for p in inputs.values())} ({reason}); is each a valid, "
            "complete GeoTIFF? Nothing was written"
        ) from None
    except OSError as exc:
        if isinstance(exc, GeosurveyError):
            raise
        raise OutputError(f"cannot write {out} or {manifest_path}: {exc.strerror or exc}; nothing was written") from None
    typer.echo(f"wrote {out} ({result.attrs.get('long_name', result.name)}, {units})")


def _one_grid(src: Path, out: Path, func: Callable, *, units: str | None = None, overwrite: bool = False,
              **options) -> None:
    _check_outputs(out, {"grid": src}, overwrite)
    result = func(_read(src, units), **options)
    _write(result, out, inputs={"grid": src}, parameters={"function": func.__name__, "units": units, **options},
           nodata_from=src, overwrite=overwrite)


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
    overwrite: Overwrite_ = False,
) -> None:
    """Reduce a total-field magnetic anomaly grid to the pole (FFT)."""
    from geosurvey.evidence import reduction_to_pole as func

    _one_grid(src, out, func, units=units, overwrite=overwrite, inclination=inclination, declination=declination,
              magnetization_inclination=magnetization_inclination,
              magnetization_declination=magnetization_declination,
              pseudo_inclination=pseudo_inclination, pad=pad)


@app.command("vertical-derivative")
def vertical_derivative(
    src: In_, out: Out_,
    order: Annotated[int, typer.Option(help="Order of the derivative.", min=1)] = 1,
    pad: Pad_ = 0.25, units: Units_ = None, overwrite: Overwrite_ = False,
) -> None:
    """Vertical derivative, z positive down (FFT)."""
    from geosurvey.evidence import vertical_derivative as func

    _one_grid(src, out, func, units=units, overwrite=overwrite, order=order, pad=pad)


@app.command("derivative-easting")
def derivative_easting(
    src: In_, out: Out_, order: Annotated[int, typer.Option(help="Order.", min=1)] = 1, units: Units_ = None,
    overwrite: Overwrite_ = False,
) -> None:
    """Derivative towards the east (central differences)."""
    from geosurvey.evidence import derivative_easting as func

    _one_grid(src, out, func, units=units, overwrite=overwrite, order=order)


@app.command("derivative-northing")
def derivative_northing(
    src: In_, out: Out_, order: Annotated[int, typer.Option(help="Order.", min=1)] = 1, units: Units_ = None,
    overwrite: Overwrite_ = False,
) -> None:
    """Derivative towards the north (central differences)."""
    from geosurvey.evidence import derivative_northing as func

    _one_grid(src, out, func, units=units, overwrite=overwrite, order=order)


@app.command("total-horizontal-gradient")
def total_horizontal_gradient(src: In_, out: Out_, units: Units_ = None, overwrite: Overwrite_ = False) -> None:
    """Total horizontal gradient (central differences)."""
    from geosurvey.evidence import total_horizontal_gradient as func

    _one_grid(src, out, func, units=units, overwrite=overwrite)


@app.command("tilt-derivative")
def tilt_derivative(src: In_, out: Out_, pad: Pad_ = 0.25, units: Units_ = None, overwrite: Overwrite_ = False) -> None:
    """Tilt derivative in radians, z positive down."""
    from geosurvey.evidence import tilt_derivative as func

    _one_grid(src, out, func, units=units, overwrite=overwrite, pad=pad)


@app.command("analytic-signal")
def analytic_signal(src: In_, out: Out_, pad: Pad_ = 0.25, units: Units_ = None, overwrite: Overwrite_ = False) -> None:
    """Analytic signal amplitude (total gradient amplitude)."""
    from geosurvey.evidence import analytic_signal as func

    _one_grid(src, out, func, units=units, overwrite=overwrite, pad=pad)


@app.command("upward-continuation")
def upward_continuation(
    src: In_, out: Out_,
    height: Annotated[float, typer.Option(help="Continuation height, metres (> 0).")],
    pad: Pad_ = 0.25, units: Units_ = None, overwrite: Overwrite_ = False,
) -> None:
    """Upward continuation by HEIGHT metres (FFT)."""
    from geosurvey.evidence import upward_continuation as func

    _one_grid(src, out, func, units=units, overwrite=overwrite, height=height, pad=pad)


DemUnits_ = Annotated[
    str | None, typer.Option(help="Units of the elevations when the file does not say (e.g. m).")
]


@app.command("slope")
def slope(
    src: In_, out: Out_,
    z_factor: Annotated[float, typer.Option(help="Elevation-to-metres factor.")] = 1.0,
    units: DemUnits_ = None, overwrite: Overwrite_ = False,
) -> None:
    """Slope in degrees from a DEM (Horn 1981)."""
    from geosurvey.evidence import slope as func

    _one_grid(src, out, func, units=units, overwrite=overwrite, z_factor=z_factor)


@app.command("aspect")
def aspect(src: In_, out: Out_, units: DemUnits_ = None, overwrite: Overwrite_ = False) -> None:
    """Aspect in degrees clockwise from north from a DEM."""
    from geosurvey.evidence import aspect as func

    _one_grid(src, out, func, units=units, overwrite=overwrite)


@app.command("hillshade")
def hillshade(
    src: In_, out: Out_,
    azimuth: Annotated[float, typer.Option(help="Sun azimuth, degrees from north.")] = 315.0,
    altitude: Annotated[float, typer.Option(help="Sun altitude, degrees.")] = 45.0,
    z_factor: Annotated[float, typer.Option(help="Vertical exaggeration.")] = 1.0,
    units: DemUnits_ = None, overwrite: Overwrite_ = False,
) -> None:
    """Hillshade (0-1) from a DEM."""
    from geosurvey.evidence import hillshade as func

    _one_grid(src, out, func, units=units, overwrite=overwrite, azimuth=azimuth, altitude=altitude, z_factor=z_factor)


@app.command("landsat-toa")
def landsat_toa(
    src: In_, out: Out_,
    mtl: Annotated[Path, typer.Option(help="The scene's *_MTL.txt or *_MTL.json file.")],
    band: Annotated[int | None, typer.Option(help="Band number (default: from the file name _B<n>).")] = None,
    units: Annotated[str | None, typer.Option(
        help="Units of the input when the file does not say (Level-1 digital numbers: DN).")] = None,
    overwrite: Overwrite_ = False,
) -> None:
    """Landsat 8/9 L1 DN to top-of-atmosphere reflectance."""
    from geosurvey.evidence import landsat_toa_reflectance as func

    inputs = {"grid": src, "mtl": mtl}
    _check_outputs(out, inputs, overwrite)
    result = func(_read(src, units), mtl, band=band)
    _write(result, out, inputs=inputs, parameters={"function": func.__name__, "band": band, "units": units},
           nodata_from=None, overwrite=overwrite)


@app.command("ratio")
def ratio(
    numerator: Annotated[Path, typer.Argument(help="Numerator raster.", show_default=False)],
    denominator: Annotated[Path, typer.Argument(help="Denominator raster.", show_default=False)],
    out: Out_,
    radiometric: Annotated[bool, typer.Option(help="Radiometric rules: NaN where denominator <= 0 or numerator < 0.")] = False,
    units: Annotated[str | None, typer.Option(
        help="Units of both inputs when the files do not say (e.g. ppm for eTh and eU, % for K).")] = None,
    overwrite: Overwrite_ = False,
) -> None:
    """Ratio of two rasters on the same grid (band ratio, or eTh/K-style radiometric ratio)."""
    import xarray as xr

    from geosurvey.evidence import band_ratio, radiometric_ratio

    inputs = {"numerator": numerator, "denominator": denominator}
    _check_outputs(out, inputs, overwrite)
    num, den = _read(numerator, units), _read(denominator, units)
    if radiometric:
        result = radiometric_ratio(num, den)
    else:
        from geosurvey.grid import check_same_grid

        check_same_grid([num, den], what="ratio", names=(str(numerator), str(denominator)))
        result = band_ratio(xr.Dataset({"numerator": num, "denominator": den}), "numerator", "denominator",
                            name=f"{num.name}_over_{den.name}")
    _write(result, out, inputs=inputs, parameters={"radiometric": radiometric, "units": units},
           nodata_from=numerator, overwrite=overwrite)


def _features(path: Path, layer: str | None):
    import geopandas as gpd
    import pyogrio

    if not path.exists():
        raise MissingInputError(f"features file {path} does not exist; check the path")
    try:
        return gpd.read_file(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FieldError,
            pyogrio.errors.GeometryError, pyogrio.errors.CRSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read features from {path}: {reason}; is it a vector file GDAL reads?") from None


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
    overwrite: Overwrite_ = False,
) -> None:
    """Exact distance in metres from every pixel of LIKE's grid to the nearest feature."""
    from geosurvey.evidence import distance_to_features

    inputs = {"features": features, "like": like}
    _check_outputs(out, inputs, overwrite)
    grid = _read(like, what="grid raster")
    result = distance_to_features(_features(features, layer), grid, where=where,
                                  to="boundary" if to_boundary else "geometry")
    _write(result, out, inputs=inputs, parameters={"where": where, "layer": layer, "to_boundary": to_boundary},
           nodata_from=None, overwrite=overwrite)


@app.command("line-density")
def line_density(
    features: Annotated[Path, typer.Argument(help="Vector file of lines.", show_default=False)],
    like: Annotated[Path, typer.Argument(help="A raster on the analysis grid.", show_default=False)],
    out: Out_,
    radius: Annotated[float, typer.Option(help="Search radius, metres.")],
    where: Where_ = None,
    layer: Layer_ = None,
    overwrite: Overwrite_ = False,
) -> None:
    """Line density (km/km²) within RADIUS metres of every pixel."""
    from geosurvey.evidence import line_density as func

    inputs = {"features": features, "like": like}
    _check_outputs(out, inputs, overwrite)
    grid = _read(like, what="grid raster")
    result = func(_features(features, layer), grid, radius=radius, where=where)
    _write(result, out, inputs=inputs, parameters={"radius": radius, "where": where, "layer": layer},
           nodata_from=None, overwrite=overwrite)
