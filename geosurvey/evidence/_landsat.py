"""Landsat Level-1 digital numbers → top-of-atmosphere reflectance and brightness temperature.

The rescaling coefficients and the sun elevation come from the scene's ``MTL`` metadata file
(the ODL text ``*_MTL.txt`` of Collections 1 and 2, or Collection 2's ``*_MTL.json``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from geosurvey.errors import BandError, InputError, MissingInputError
from geosurvey.evidence._common import check_yx, describe, layer_name

__all__ = [
    "LandsatMetadata",
    "landsat_brightness_temperature",
    "landsat_toa_reflectance",
    "read_mtl",
]


@dataclass(frozen=True)
class LandsatMetadata:
    """What TOA conversion needs from an MTL file.

    Attributes
    ----------
    product_id : str
        ``LANDSAT_PRODUCT_ID``.
    sun_elevation : float
        Sun elevation at the scene centre, degrees.
    earth_sun_distance : float
        Astronomical units (already folded into the reflectance coefficients; kept for reference).
    reflectance_mult, reflectance_add : dict[int, float]
        ``REFLECTANCE_MULT_BAND_n`` (M_ρ) and ``REFLECTANCE_ADD_BAND_n`` (A_ρ) per band number.
    radiance_mult, radiance_add : dict[int, float]
        ``RADIANCE_MULT_BAND_n`` (M_L, W m⁻² sr⁻¹ µm⁻¹ per DN) and ``RADIANCE_ADD_BAND_n`` (A_L).
    k1, k2 : dict[int, float]
        Thermal constants ``K1_CONSTANT_BAND_n`` (W m⁻² sr⁻¹ µm⁻¹) and ``K2_CONSTANT_BAND_n`` (K).
    source : str
        The file it was read from.
    """

    product_id: str
    sun_elevation: float
    earth_sun_distance: float
    reflectance_mult: dict[int, float] = field(default_factory=dict)
    reflectance_add: dict[int, float] = field(default_factory=dict)
    radiance_mult: dict[int, float] = field(default_factory=dict)
    radiance_add: dict[int, float] = field(default_factory=dict)
    k1: dict[int, float] = field(default_factory=dict)
    k2: dict[int, float] = field(default_factory=dict)
    source: str = ""


_ODL = re.compile(r"^\s*([A-Z0-9_]+)\s*=\s*(.+?)\s*$")
_PER_BAND = {
    "REFLECTANCE_MULT_BAND_": "reflectance_mult",
    "REFLECTANCE_ADD_BAND_": "reflectance_add",
    "RADIANCE_MULT_BAND_": "radiance_mult",
    "RADIANCE_ADD_BAND_": "radiance_add",
    "K1_CONSTANT_BAND_": "k1",
    "K2_CONSTANT_BAND_": "k2",
}


def _flatten_json(doc: object, out: dict[str, str]) -> None:
    if isinstance(doc, dict):
        for key, value in doc.items():
            if isinstance(value, dict | list):
                _flatten_json(value, out)
            else:
                out[str(key)] = str(value)
    elif isinstance(doc, list):
        for value in doc:
            _flatten_json(value, out)


def read_mtl(path: str | Path) -> LandsatMetadata:
    """Read a Landsat MTL metadata file (``*_MTL.txt`` ODL or ``*_MTL.json``).

    Parameters
    ----------
    path : str or pathlib.Path
        The MTL file delivered with the scene.

    Returns
    -------
    LandsatMetadata

    Raises
    ------
    geosurvey.errors.MissingInputError
        If the file does not exist.
    geosurvey.errors.InputError
        If it lacks the sun elevation or every reflectance coefficient, or a value is not a number.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"Landsat MTL file {path} is a folder; give the scene's *_MTL.txt or *_MTL.json in it")
    if not path.is_file():
        raise MissingInputError(f"Landsat MTL file {path} does not exist; it ships with the scene as *_MTL.txt")
    text = path.read_text(encoding="utf-8", errors="replace")
    values: dict[str, str] = {}
    if path.suffix.lower() == ".json":
        try:
            _flatten_json(json.loads(text), values)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path} is not valid JSON ({exc}); pass the scene's *_MTL.json or *_MTL.txt") from exc
        except RecursionError:
            raise InputError(f"{path} is nested too deeply to be an MTL file; pass the scene's *_MTL.json") from None
    else:
        for line in text.splitlines():
            match = _ODL.match(line)
            if match and match.group(1) not in {"GROUP", "END_GROUP"}:
                values[match.group(1)] = match.group(2).strip('"')
    def number(key: str) -> float:
        try:
            value = float(values[key])
        except ValueError:
            raise InputError(
                f"{path}: {key} = {values[key][:40]!r} is not a number; restore the scene's original MTL file"
            ) from None
        if not np.isfinite(value):
            raise InputError(f"{path}: {key} = {values[key]!r} is not finite; restore the scene's original MTL file")
        return value

    per_band: dict[str, dict[int, float]] = {name: {} for name in _PER_BAND.values()}
    for key in values:
        for prefix, attr in _PER_BAND.items():
            if key.startswith(prefix) and key[len(prefix):].isdigit():
                per_band[attr][int(key[len(prefix):])] = number(key)
    missing = [k for k in ("SUN_ELEVATION",) if k not in values]
    if missing or not per_band["reflectance_mult"]:
        raise InputError(
            f"{path} lacks {', '.join(missing) or 'REFLECTANCE_MULT_BAND_n'}; is it a Landsat "
            "Level-1 MTL file?"
        )
    return LandsatMetadata(
        product_id=values.get("LANDSAT_PRODUCT_ID", path.stem.removesuffix("_MTL")),
        sun_elevation=number("SUN_ELEVATION"),
        earth_sun_distance=number("EARTH_SUN_DISTANCE") if "EARTH_SUN_DISTANCE" in values else float("nan"),
        source=str(path),
        **per_band,
    )


def _metadata(mtl: str | Path | LandsatMetadata) -> LandsatMetadata:
    return mtl if isinstance(mtl, LandsatMetadata) else read_mtl(mtl)


def _band_number(dn: xr.DataArray, band: int | None, func: str) -> int:
    if band is not None:
        return int(band)
    match = re.search(r"(?:^|_)B(\d{1,2})$", str(dn.name or ""))
    if match is None:
        raise InputError(
            f"{func}: cannot tell the Landsat band of layer {layer_name(dn)}; pass band=<number> "
            "(e.g. band=4 for OLI red)"
        )
    return int(match.group(1))


def _dn_float(dn: xr.DataArray) -> xr.DataArray:
    """DN as float with the Level-1 fill value 0 (and any declared nodata) as NaN."""
    values = dn.astype("float32") if not np.issubdtype(dn.dtype, np.floating) else dn
    nodata = dn.attrs.get("nodata", dn.attrs.get("_FillValue"))
    mask = values != 0
    if nodata is not None and not (isinstance(nodata, float) and np.isnan(nodata)):
        mask = mask & (values != nodata)
    return values.where(mask)


def landsat_toa_reflectance(
    dn: xr.DataArray,
    mtl: str | Path | LandsatMetadata,
    *,
    band: int | None = None,
) -> xr.DataArray:
    r"""Top-of-atmosphere reflectance of a Landsat 8/9 OLI band from its digital numbers.

    .. math:: \rho = \frac{M_\rho\, Q_{cal} + A_\rho}{\sin\theta_{SE}}

    with :math:`M_\rho`, :math:`A_\rho` the band's ``REFLECTANCE_MULT``/``REFLECTANCE_ADD`` and
    :math:`\theta_{SE}` the scene-centre sun elevation from the MTL file (the Earth–Sun distance is
    already in the coefficients). DN 0 is Level-1 fill and becomes NaN.

    Parameters
    ----------
    dn : xarray.DataArray
        Quantised calibrated DN (uint16), dims ``(..., y, x)``, e.g. ``read_raster("..._B4.TIF")``.
    mtl : str, pathlib.Path or LandsatMetadata
        The scene's MTL file or its parsed metadata.
    band : int, optional
        Band number; by default read from the layer's name ending in ``_B<n>`` (as
        :func:`geosurvey.io.read_raster` names a Landsat file).

    Returns
    -------
    xarray.DataArray
        float32 reflectance (units ``"1"``), same grid and CRS; lazy if the input is.

    References
    ----------
    USGS (2019). *Landsat 8 (L8) Data Users Handbook*, version 5.0, §5.1 "Conversion to TOA
    Reflectance". LSDS-1574.
    """
    func = "landsat_toa_reflectance"
    check_yx(dn, func)
    meta = _metadata(mtl)
    number = _band_number(dn, band, func)
    if number not in meta.reflectance_mult or number not in meta.reflectance_add:
        raise BandError(
            f"{func}: {meta.source or meta.product_id} has no reflectance coefficients for band "
            f"{number} (it has bands {sorted(meta.reflectance_mult)}); thermal bands need "
            "landsat_brightness_temperature"
        )
    mult, add = meta.reflectance_mult[number], meta.reflectance_add[number]
    sin_elev = np.sin(np.deg2rad(meta.sun_elevation))
    out = ((_dn_float(dn) * mult + add) / sin_elev).astype("float32")
    return describe(
        out, dn,
        f"landsat_toa_reflectance(band {number}, M={mult:g}, A={add:g}, sun elevation "
        f"{meta.sun_elevation:g} deg, {meta.product_id})",
        units="1", long_name=f"TOA reflectance, Landsat band {number}", name=f"toa_B{number}",
    )


def landsat_brightness_temperature(
    dn: xr.DataArray,
    mtl: str | Path | LandsatMetadata,
    *,
    band: int | None = None,
) -> xr.DataArray:
    r"""At-sensor brightness temperature (K) of a Landsat 8/9 TIRS band (10 or 11).

    .. math:: L = M_L Q_{cal} + A_L, \qquad T = \frac{K_2}{\ln(K_1 / L + 1)}

    Parameters
    ----------
    dn : xarray.DataArray
        Thermal band DN, dims ``(..., y, x)``.
    mtl : str, pathlib.Path or LandsatMetadata
        The scene's MTL file or its parsed metadata.
    band : int, optional
        Band number (10 or 11); by default read from the layer name's ``_B<n>`` suffix.

    Returns
    -------
    xarray.DataArray
        float32 kelvin; NaN for fill (DN 0) and non-positive radiance.

    References
    ----------
    USGS (2019). *Landsat 8 (L8) Data Users Handbook*, version 5.0, §5.2. LSDS-1574.
    """
    func = "landsat_brightness_temperature"
    check_yx(dn, func)
    meta = _metadata(mtl)
    number = _band_number(dn, band, func)
    if number not in meta.k1 or number not in meta.radiance_mult:
        raise BandError(
            f"{func}: {meta.source or meta.product_id} has no thermal constants for band {number} "
            f"(thermal bands: {sorted(meta.k1)})"
        )
    radiance = _dn_float(dn) * meta.radiance_mult[number] + meta.radiance_add[number]
    radiance = radiance.where(radiance > 0)
    out = (meta.k2[number] / np.log(meta.k1[number] / radiance + 1)).astype("float32")
    return describe(
        out, dn, f"landsat_brightness_temperature(band {number}, K1={meta.k1[number]:g}, "
        f"K2={meta.k2[number]:g}, {meta.product_id})",
        units="K", long_name=f"brightness temperature, Landsat band {number}", name=f"bt_B{number}",
    )
