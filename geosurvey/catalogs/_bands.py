"""Band descriptions and band maps: asset keys of a source → geosurvey's common band names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pystac

from geosurvey.errors import BandError, InputError

__all__ = ["EO_COMMON_NAMES", "BandInfo", "resolve_band_map"]

#: The ``common_name`` values the STAC ``eo`` extension allows (eo v1.1.0).
EO_COMMON_NAMES = frozenset(
    {
        "coastal", "blue", "green", "red", "yellow", "pan", "rededge", "nir", "nir08", "nir09",
        "cirrus", "swir16", "swir22", "lwir", "lwir11", "lwir12",
    }
)

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class BandInfo:
    """One band (one asset of an item): its common name, units and, for optical bands, wavelengths.

    Parameters
    ----------
    common_name
        The name geosurvey gives the band and the asset key in items it writes: letters, digits
        and ``_`` (lower case by convention), e.g. ``"swir16"``, ``"mag_tmi"``, ``"k"``, ``"eu"``.
    description
        Free text, written as the asset title and band description.
    units
        UDUNITS-style unit written to ``raster:bands[].unit`` (``"nT"``, ``"%"``, ``"ppm"``,
        ``"1"`` for dimensionless reflectance).
    center_wavelength, full_width_half_max
        Micrometres. When ``center_wavelength`` is given the band is an optical band and is also
        described in ``eo:bands``; its ``common_name`` must then be one of the eo extension's
        names (:data:`EO_COMMON_NAMES`) or the eo entry gets no ``common_name``.
    """

    common_name: str
    description: str = ""
    units: str | None = None
    center_wavelength: float | None = None
    full_width_half_max: float | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.common_name):
            raise InputError(
                f"band name {self.common_name!r} is not usable: use letters, digits and '_' "
                "starting with a letter (e.g. 'swir16', 'mag_tmi', 'B04')"
            )
        for field in ("center_wavelength", "full_width_half_max"):
            value = getattr(self, field)
            if value is not None and not value > 0:
                raise InputError(f"band {self.common_name!r}: {field} must be > 0 micrometres")

    @property
    def is_eo(self) -> bool:
        """True when the band is an optical band (it has a centre wavelength)."""
        return self.center_wavelength is not None


def resolve_band_map(item: pystac.Item, band_map: Mapping[str, str] | None) -> dict[str, str]:
    """Map the asset keys of ``item`` to common band names.

    Parameters
    ----------
    item
        A STAC item.
    band_map
        ``{asset key (or "asset.N" for band N of a multi-band asset): common name}`` from a
        catalogue definition; ``None`` means the asset keys are the common names (items written
        by :func:`geosurvey.catalogs.create_item`).

    Returns
    -------
    dict
        ``{source band key: common name}`` for every entry whose asset exists in ``item``.

    Raises
    ------
    BandError
        If two source bands map to the same common name in the same item.
    """
    if band_map is None:
        return {key: key for key in item.assets}
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for key, name in band_map.items():
        asset_key = key.split(".")[0] if key not in item.assets else key
        if asset_key not in item.assets:
            continue
        if name in seen:
            raise BandError(
                f"item {item.id!r}: assets {seen[name]!r} and {key!r} both map to band {name!r}; "
                "fix the band map of its catalogue definition"
            )
        seen[name] = key
        out[key] = name
    return out
