"""Spectral indices: band ratios by common band names, ASTER mineral products, Sentinel-2/Landsat.

Every index takes an :class:`xarray.Dataset` of bands (e.g. from :func:`geosurvey.catalogs.load`)
and returns a lazy ``(..., y, x)`` DataArray on the same grid. Bands are found by name:

* **Sentinel-2 and Landsat** indices use the STAC ``eo`` common names (``blue``, ``green``,
  ``red``, ``nir``/``nir08``, ``swir16``, ``swir22``), so one function serves Sentinel-2 (B02,
  B03, B04, B08/B8A, B11, B12), Landsat 8/9 OLI (B2, B3, B4, B5, B6, B7) and ASTER VNIR/SWIR
  (B1 green, B2 red, B3N nir08, B4 swir16; B5 is ASTER's ``swir22`` analogue) where the bands
  exist. Where a function accepts ``nir`` or ``nir08`` it uses ``nir`` (Sentinel-2 B08) when both
  are present and records the choice in the history.
* **ASTER** products (Geoscience Australia/CSIRO) use ASTER band numbers, because several ASTER
  SWIR and TIR bands share a common name. Band *k* is found as ``B{k}``, ``B{k:02d}`` or the
  STAC ``eo:bands`` name (``VNIR_Band1`` … ``TIR_Band14``; band 3 is ``B3N``/``VNIR_Band3N``).

Inputs should be reflectance (VNIR/SWIR) or emissivity/radiance (TIR), or digital numbers
proportional to them (no additive offset): every index is a ratio, so a common scale cancels.
Integer bands are converted to float32 with their ``nodata`` attribute (odc-stac sets it) as NaN.
A zero or NaN denominator gives NaN, never infinity. Units of every index: ``"1"``.

References
----------
Cudahy, T. (2012). *Satellite ASTER Geoscience Product Notes for Australia*, v1. CSIRO,
EP-30-07-12-44.
Kalinowski, A. & Oliver, S. (2004). *ASTER Mineral Index Processing Manual*. Geoscience
Australia, Record 2004/GA7833.
van der Meer, F. D., van der Werff, H. M. A. & van Ruitenbeek, F. J. A. (2014). Potential of
ESA's Sentinel-2 for geological applications. *Remote Sensing of Environment*, 148, 124–133.
Sabins, F. F. (1999). Remote sensing for mineral exploration. *Ore Geology Reviews*, 14, 157–183.
Rouse, J. W., Haas, R. H., Schell, J. A. & Deering, D. W. (1974). Monitoring vegetation systems in
the Great Plains with ERTS. *NASA SP-351*, 309–317.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import xarray as xr

from geosurvey.errors import BandError, InputError
from geosurvey.evidence._common import describe, require_bands, safe_divide

__all__ = [
    "aster_aloh_group_composition",
    "aster_aloh_group_content",
    "aster_feoh_group_content",
    "aster_ferric_oxide_composition",
    "aster_ferric_oxide_content",
    "aster_ferrous_iron_index",
    "aster_green_vegetation",
    "aster_gypsum_index",
    "aster_kaolin_group_index",
    "aster_mgoh_group_composition",
    "aster_mgoh_group_content",
    "aster_opaque_index",
    "aster_quartz_index",
    "aster_silica_index",
    "band_ratio",
    "clay_hydroxyl",
    "ferric_iron",
    "ferric_oxides",
    "ferrous_iron",
    "gossan",
    "ndvi",
    "vegetation_mask",
]

_NIR = ("nir", "nir08")


@dataclass(frozen=True)
class _Index:
    """A ratio index: ``numerator`` / ``denominator``, each a sum of bands."""

    name: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    long_name: str
    formula: str


def _aster_aliases(k: int) -> tuple[str, ...]:
    """Names under which ASTER band ``k`` may appear in a Dataset."""
    if k == 3:
        return ("B3N", "B03N", "B3", "B03", "VNIR_Band3N", "vnir3")
    group = "VNIR" if k <= 3 else "SWIR" if k <= 9 else "TIR"
    # the last alias is the catalogue definitions' common name (vnir1..3, swir4..9, tir10..14)
    return (f"B{k}", f"B{k:02d}", f"{group}_Band{k}", f"{group.lower()}{k}")


def _pick_aster(data: xr.Dataset, k: int, func: str) -> tuple[str, xr.DataArray]:
    aliases = _aster_aliases(k)
    present = [a for a in aliases if a in data.data_vars]
    if len(present) > 1:
        raise BandError(
            f"{func}: the Dataset has ASTER band {k} under several names ({', '.join(present)}); "
            "drop all but one"
        )
    (name, band), = require_bands(data, [aliases], func).items()
    return name, band


def _sum(bands: Sequence[xr.DataArray]) -> xr.DataArray:
    total = bands[0]
    for band in bands[1:]:
        total = total + band
    return total


def _ratio_index(
    data: xr.Dataset,
    spec: _Index,
    pick: Callable[[str], tuple[str, xr.DataArray]],
    *,
    reference: str,
) -> xr.DataArray:
    used: dict[str, str] = {}
    arrays: dict[str, xr.DataArray] = {}
    for band in dict.fromkeys(spec.numerator + spec.denominator):
        used[band], arrays[band] = pick(band)
    numerator = _sum([arrays[b] for b in spec.numerator])
    denominator = _sum([arrays[b] for b in spec.denominator])
    out = safe_divide(numerator, denominator)
    like = arrays[spec.numerator[0]]
    bands = ", ".join(f"{k}={v}" for k, v in used.items() if k != v) or "by name"
    return describe(
        out, like, f"{spec.name} = {spec.formula} (bands {bands}; {reference})",
        units="1", long_name=spec.long_name, name=spec.name,
    )


def _aster(data: xr.Dataset, spec: _Index) -> xr.DataArray:
    def pick(band: str) -> tuple[str, xr.DataArray]:
        return _pick_aster(data, int(band), spec.name)

    return _ratio_index(data, spec, pick, reference="Cudahy 2012")


def _common_names(data: xr.Dataset, spec: _Index, reference: str) -> xr.DataArray:
    def pick(band: str) -> tuple[str, xr.DataArray]:
        aliases = _NIR if band == "nir" else (band,)
        (name, array), = require_bands(data, [aliases], spec.name).items()
        return name, array

    return _ratio_index(data, spec, pick, reference=reference)


# ---------------------------------------------------------------------------------------------
# Generic band ratio
# ---------------------------------------------------------------------------------------------


def band_ratio(data: xr.Dataset, numerator: str, denominator: str, *, name: str | None = None) -> xr.DataArray:
    """Ratio of two bands of a Dataset, ``data[numerator] / data[denominator]``.

    Parameters
    ----------
    data : xarray.Dataset
        Bands on one grid, dims ``(..., y, x)``, e.g. from :func:`geosurvey.catalogs.load`.
    numerator, denominator : str
        Band (variable) names, e.g. ``"swir16"`` and ``"swir22"``.
    name : str, optional
        Name of the result (default ``"<numerator>_<denominator>"``).

    Returns
    -------
    xarray.DataArray
        Dimensionless (units ``"1"``), lazy if the bands are; NaN where the denominator is 0 or
        either band is nodata.

    Raises
    ------
    geosurvey.errors.BandError
        If a band is missing (the message lists the bands the Dataset has).
    """
    for arg, value in (("numerator", numerator), ("denominator", denominator)):
        if not isinstance(value, str) or not value:
            raise InputError(f"band_ratio: {arg} must be a band name, got {value!r}")
    name = name or f"{numerator}_{denominator}"
    spec = _Index(name, (numerator,), (denominator,), f"band ratio {numerator}/{denominator}",
                  f"{numerator}/{denominator}")

    def pick(band: str) -> tuple[str, xr.DataArray]:
        (found, array), = require_bands(data, [band], "band_ratio").items()
        return found, array

    return _ratio_index(data, spec, pick, reference="band ratio")


# ---------------------------------------------------------------------------------------------
# Sentinel-2 / Landsat (common band names)
# ---------------------------------------------------------------------------------------------

_VDM = "van der Meer et al. 2014"


def clay_hydroxyl(data: xr.Dataset) -> xr.DataArray:
    """Clay/hydroxyl (Al-OH, Mg-OH) ratio ``swir16 / swir22``.

    High where hydroxyl-bearing minerals (clays, micas) absorb near 2.2 µm: Sentinel-2 B11/B12,
    Landsat 8/9 B6/B7 (Landsat TM 5/7 of Sabins 1999). Dimensionless; NaN where ``swir22`` is 0.

    Parameters
    ----------
    data : xarray.Dataset
        Bands ``swir16`` and ``swir22`` (common names), dims ``(..., y, x)``.

    Returns
    -------
    xarray.DataArray
        Units ``"1"``.

    References
    ----------
    Sabins, F. F. (1999). Remote sensing for mineral exploration. *Ore Geology Reviews*, 14,
    157–183.
    """
    spec = _Index("clay_hydroxyl", ("swir16",), ("swir22",), "clay/hydroxyl ratio (SWIR1/SWIR2)",
                  "swir16/swir22")
    return _common_names(data, spec, "Sabins 1999")


def ferric_iron(data: xr.Dataset) -> xr.DataArray:
    """Ferric iron (Fe³⁺) index ``red / green`` (ASTER 2/1 → Sentinel-2 B4/B3, Landsat 8 B4/B3).

    Parameters
    ----------
    data : xarray.Dataset
        Bands ``red`` and ``green``.

    Returns
    -------
    xarray.DataArray
        Units ``"1"``.

    References
    ----------
    van der Meer, F. D. et al. (2014). Potential of ESA's Sentinel-2 for geological applications.
    *Remote Sensing of Environment*, 148, 124–133 (Table 2).
    """
    spec = _Index("ferric_iron", ("red",), ("green",), "ferric iron (Fe3+) index", "red/green")
    return _common_names(data, spec, _VDM)


def ferrous_iron(data: xr.Dataset) -> xr.DataArray:
    """Ferrous iron (Fe²⁺) index ``swir22/nir + green/red``.

    ASTER 5/3 + 1/2 → Sentinel-2 B12/B8 + B3/B4, Landsat 8 B7/B5 + B3/B4. ``nir`` is Sentinel-2
    B08 if present, else ``nir08`` (B8A, Landsat B5).

    Parameters
    ----------
    data : xarray.Dataset
        Bands ``swir22``, ``nir`` or ``nir08``, ``green``, ``red``.

    Returns
    -------
    xarray.DataArray
        Units ``"1"``; NaN where ``nir`` or ``red`` is 0.

    References
    ----------
    van der Meer, F. D. et al. (2014), Table 2.
    """
    func = "ferrous_iron"
    picked = require_bands(data, ["swir22", _NIR, "green", "red"], func)
    swir22, nir, green, red = picked.values()
    out = safe_divide(swir22, nir) + safe_divide(green, red)
    nir_name = list(picked)[1]
    return describe(
        out, swir22, f"ferrous_iron = swir22/{nir_name} + green/red ({_VDM})", units="1",
        long_name="ferrous iron (Fe2+) index", name=func,
    )


def ferric_oxides(data: xr.Dataset) -> xr.DataArray:
    """Ferric oxides index ``swir16 / nir`` (ASTER 4/3 → Sentinel-2 B11/B8, Landsat 8 B6/B5).

    Parameters
    ----------
    data : xarray.Dataset
        Bands ``swir16`` and ``nir`` (or ``nir08``).

    Returns
    -------
    xarray.DataArray
        Units ``"1"``.

    References
    ----------
    van der Meer, F. D. et al. (2014), Table 2.
    """
    spec = _Index("ferric_oxides", ("swir16",), ("nir",), "ferric oxides index", "swir16/nir")
    return _common_names(data, spec, _VDM)


def gossan(data: xr.Dataset) -> xr.DataArray:
    """Gossan index ``swir16 / red`` (ASTER 4/2 → Sentinel-2 B11/B4, Landsat 8 B6/B4).

    Parameters
    ----------
    data : xarray.Dataset
        Bands ``swir16`` and ``red``.

    Returns
    -------
    xarray.DataArray
        Units ``"1"``.

    References
    ----------
    van der Meer, F. D. et al. (2014), Table 2.
    """
    spec = _Index("gossan", ("swir16",), ("red",), "gossan index", "swir16/red")
    return _common_names(data, spec, _VDM)


def ndvi(data: xr.Dataset) -> xr.DataArray:
    """Normalised difference vegetation index ``(nir − red) / (nir + red)``.

    Parameters
    ----------
    data : xarray.Dataset
        Bands ``nir`` (or ``nir08``) and ``red``.

    Returns
    -------
    xarray.DataArray
        Units ``"1"``, in [-1, 1] for non-negative reflectance; NaN where ``nir + red`` is 0.

    References
    ----------
    Rouse, J. W. et al. (1974). Monitoring vegetation systems in the Great Plains with ERTS.
    *NASA SP-351*, 309–317.
    """
    picked = require_bands(data, [_NIR, "red"], "ndvi")
    nir, red = picked.values()
    out = safe_divide(nir - red, nir + red)
    return describe(
        out, nir, f"ndvi = ({next(iter(picked))} - red)/({next(iter(picked))} + red) (Rouse et al. 1974)",
        units="1", long_name="normalised difference vegetation index", name="ndvi",
    )


def vegetation_mask(data: xr.Dataset, *, threshold: float = 0.3) -> xr.DataArray:
    """Vegetation mask: 1 where NDVI > ``threshold``, 0 where not, NaN where NDVI is undefined.

    Use it to drop vegetated pixels before reading mineral indices, e.g.
    ``index.where(vegetation_mask(ds) == 0)``.

    Parameters
    ----------
    data : xarray.Dataset
        Bands ``nir`` (or ``nir08``) and ``red``.
    threshold : float
        NDVI above which a pixel counts as vegetated (0.3 by default).

    Returns
    -------
    xarray.DataArray
        float32 (1, 0 or NaN), units ``"1"``.
    """
    if not -1 <= threshold <= 1:
        raise InputError(f"vegetation_mask: threshold={threshold} must be an NDVI value in [-1, 1]")
    index = ndvi(data)
    out = (index > threshold).astype("float32").where(index.notnull())
    return describe(
        out, index, f"vegetation_mask(ndvi > {threshold})", units="1",
        long_name="vegetation mask (1 = vegetated)", name="vegetation_mask",
    )


# ---------------------------------------------------------------------------------------------
# ASTER mineral products (Geoscience Australia / CSIRO)
# ---------------------------------------------------------------------------------------------

_ASTER: Mapping[str, _Index] = {
    spec.name: spec
    for spec in (
        _Index("aster_ferric_oxide_content", ("4",), ("3",), "ferric oxide content", "B4/B3"),
        _Index("aster_ferric_oxide_composition", ("2",), ("1",), "ferric oxide composition", "B2/B1"),
        _Index("aster_ferrous_iron_index", ("5",), ("4",), "ferrous iron index", "B5/B4"),
        _Index("aster_opaque_index", ("1",), ("4",), "opaque index", "B1/B4"),
        _Index("aster_aloh_group_content", ("5", "7"), ("6",), "AlOH group content", "(B5+B7)/B6"),
        _Index("aster_aloh_group_composition", ("5",), ("7",), "AlOH group composition", "B5/B7"),
        _Index("aster_kaolin_group_index", ("6",), ("5",), "kaolin group index", "B6/B5"),
        _Index("aster_feoh_group_content", ("6", "8"), ("7",), "FeOH group content", "(B6+B8)/B7"),
        _Index("aster_mgoh_group_content", ("6", "9"), ("7", "8"), "MgOH group content",
               "(B6+B9)/(B7+B8)"),
        _Index("aster_mgoh_group_composition", ("7",), ("8",), "MgOH group composition", "B7/B8"),
        _Index("aster_green_vegetation", ("3",), ("2",), "green vegetation content", "B3/B2"),
        _Index("aster_silica_index", ("13",), ("10",), "silica index", "B13/B10"),
        _Index("aster_quartz_index", ("11",), ("10", "12"), "quartz index", "B11/(B10+B12)"),
        _Index("aster_gypsum_index", ("10", "12"), ("11",), "gypsum index", "(B10+B12)/B11"),
    )
}


def _aster_doc(spec: _Index, what: str) -> str:
    return f"""ASTER {spec.long_name}: ``{spec.formula}`` (Cudahy 2012; Kalinowski & Oliver 2004).

    {what}

    Parameters
    ----------
    data : xarray.Dataset
        ASTER bands (reflectance for VNIR/SWIR, emissivity or radiance for TIR) named ``B<k>``,
        ``B<kk>`` or by their STAC ``eo:bands`` name, dims ``(..., y, x)``.

    Returns
    -------
    xarray.DataArray
        Units ``"1"``; NaN where the denominator is 0 or a band is nodata.

    References
    ----------
    Cudahy, T. (2012). *Satellite ASTER Geoscience Product Notes for Australia*. CSIRO.
    Kalinowski, A. & Oliver, S. (2004). *ASTER Mineral Index Processing Manual*. Geoscience
    Australia.
    """


def _make_aster(key: str, what: str) -> Callable[[xr.Dataset], xr.DataArray]:
    spec = _ASTER[key]

    def index(data: xr.Dataset) -> xr.DataArray:
        return _aster(data, spec)

    index.__name__ = index.__qualname__ = key
    index.__doc__ = _aster_doc(spec, what)
    return index


aster_ferric_oxide_content = _make_aster(
    "aster_ferric_oxide_content", "Abundance of ferric oxides (hematite, goethite) from the 0.9 µm crystal-field edge.")
aster_ferric_oxide_composition = _make_aster(
    "aster_ferric_oxide_composition", "Hematite (high) versus goethite (low).")
aster_ferrous_iron_index = _make_aster(
    "aster_ferrous_iron_index", "Ferrous iron in silicates and carbonates (1.65 → 2.16 µm slope).")
aster_opaque_index = _make_aster(
    "aster_opaque_index", "Dark, opaque materials (magnetite, carbon, dark soils): low values.")
aster_aloh_group_content = _make_aster(
    "aster_aloh_group_content", "Abundance of Al-OH minerals (white mica, kaolin, smectite) from the 2.2 µm absorption.")
aster_aloh_group_composition = _make_aster(
    "aster_aloh_group_composition", "Al-rich (low) versus Al-poor, phengitic (high) white mica.")
aster_kaolin_group_index = _make_aster(
    "aster_kaolin_group_index", "Kaolin-group minerals (kaolinite, halloysite, dickite).")
aster_feoh_group_content = _make_aster(
    "aster_feoh_group_content", "Fe-OH minerals (chlorite, epidote, jarosite, nontronite) from the 2.26 µm absorption.")
aster_mgoh_group_content = _make_aster(
    "aster_mgoh_group_content", "Mg-OH minerals and carbonates (chlorite, amphibole, talc, calcite, dolomite) from the 2.33 µm absorption.")
aster_mgoh_group_composition = _make_aster(
    "aster_mgoh_group_composition", "Calcite/epidote/amphibole (high) versus dolomite/chlorite/talc (low).")
aster_green_vegetation = _make_aster(
    "aster_green_vegetation", "Green vegetation (the red edge): use it to mask vegetated pixels.")
aster_silica_index = _make_aster(
    "aster_silica_index", "Silica content of silicate rocks and soils from TIR emissivity.")
aster_quartz_index = _make_aster(
    "aster_quartz_index", "Quartz from the 8.6 µm reststrahlen feature in TIR emissivity.")
aster_gypsum_index = _make_aster(
    "aster_gypsum_index", "Gypsum (sulphate) from TIR emissivity.")
