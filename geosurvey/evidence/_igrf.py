"""The geomagnetic field direction of an area at a date, from IGRF (offline, with ``ppigrf``).

Reduction to the pole needs the inclination and declination of the inducing field where and when
the magnetic survey was flown. ``run`` resolves them here for the survey area's centroid and the
survey date unless a recipe or the caller gives explicit values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from geosurvey.errors import InputError

__all__ = ["GeomagneticField", "geomagnetic_field"]

#: IGRF-14 covers 1900 to 2030 (its secular-variation terms extrapolate the last five years).
_FIRST, _LAST = dt.date(1900, 1, 1), dt.date(2030, 1, 1)


@dataclass(frozen=True)
class GeomagneticField:
    """The main field at a place and date (IGRF).

    Parameters
    ----------
    inclination
        Degrees below the horizontal (positive down: the northern hemisphere).
    declination
        Degrees east of geographic north.
    intensity
        Total intensity, nT.
    longitude, latitude, height_km, date
        Where and when it was computed.
    model
        The model (``"IGRF-14 (ppigrf <version>)"``).
    """

    inclination: float
    declination: float
    intensity: float
    longitude: float
    latitude: float
    height_km: float
    date: str
    model: str

    def to_dict(self) -> dict[str, float | str]:
        """Plain data for manifests."""
        return dict(self.__dict__)


def geomagnetic_field(
    longitude: float, latitude: float, date: dt.date | dt.datetime | str, *, height_km: float = 0.0
) -> GeomagneticField:
    """The IGRF main-field direction and intensity at a place and date.

    Parameters
    ----------
    longitude, latitude
        Degrees east and north (WGS 84).
    date
        The survey date (a date, datetime or ISO string such as ``"2010-06-01"``).
    height_km
        Height above the WGS 84 ellipsoid in km (survey flight height is a few tens of metres:
        its effect on the direction is far below a tenth of a degree).

    Returns
    -------
    GeomagneticField

    Examples
    --------
    >>> field = geomagnetic_field(24.0, 67.8, "2010-06-01")   # Kolari, northern Finland
    >>> round(field.inclination, 1), round(field.declination, 1)
    (77.4, 9.4)
    """
    from importlib.metadata import version

    import ppigrf

    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date[:10])
        except ValueError:
            raise InputError(f"survey date {date!r} is not an ISO date such as 2010-06-01") from None
    day = date.date() if isinstance(date, dt.datetime) else date
    if not _FIRST <= day < _LAST:
        raise InputError(
            f"survey date {day} is outside IGRF-14 (1900–2029); give the field direction "
            "(inclination, declination) explicitly"
        )
    if not (-180 <= longitude <= 360 and -90 <= latitude <= 90):
        raise InputError(f"no IGRF field at longitude {longitude}, latitude {latitude}")
    when = dt.datetime(day.year, day.month, day.day)
    be, bn, bu = (float(np.ravel(c)[0]) for c in ppigrf.igrf(longitude, latitude, height_km, when))
    horizontal = float(np.hypot(be, bn))
    return GeomagneticField(
        inclination=float(np.degrees(np.arctan2(-bu, horizontal))),
        declination=float(np.degrees(np.arctan2(be, bn))),
        intensity=float(np.sqrt(be**2 + bn**2 + bu**2)),
        longitude=float(longitude),
        latitude=float(latitude),
        height_km=float(height_km),
        date=day.isoformat(),
        model=f"IGRF-14 (ppigrf {version('ppigrf')})",
    )
