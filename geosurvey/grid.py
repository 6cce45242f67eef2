"""The analysis grid: one odc-geo :class:`~odc.geo.geobox.GeoBox` per survey area.

Every stage shares it: catalogues load onto it, evidence layers are computed on it, outputs are
written with it. A grid is a CRS (projected, in metres), a pixel size in metres and an extent
aligned to whole pixels. Bounds are given W, E, S, N in the grid's CRS where this module says
"region" (verde's convention) and as ``(west, south, east, north)`` where it says "bbox"
(GeoJSON's and STAC's convention).
"""

from __future__ import annotations

import math

import shapely
from odc.geo import geom as odc_geom
from odc.geo.geobox import GeoBox
from pyproj import CRS

from geosurvey.errors import CRSError, GeometryError

__all__ = ["geobox_for", "utm_crs"]


def utm_crs(longitude: float, latitude: float) -> CRS:
    """Return the WGS 84 / UTM CRS of the zone holding a point (degrees east, degrees north).

    Norway's and Svalbard's exceptions to the regular zones are not applied: the regular zone is
    what analysis grids in this project use.
    """
    if not (-180 <= longitude <= 180 and -80 <= latitude <= 84):
        raise GeometryError(
            f"no UTM zone for longitude {longitude}, latitude {latitude}; "
            "UTM covers 80°S to 84°N: use a polar stereographic or equal-area CRS"
        )
    zone = min(math.floor((longitude + 180) / 6) + 1, 60)
    return CRS.from_epsg((32600 if latitude >= 0 else 32700) + zone)


def geobox_for(
    geometry: shapely.Geometry,
    *,
    crs: str | int | CRS,
    resolution: float,
    geometry_crs: str | int | CRS = "EPSG:4326",
    pad: int = 0,
) -> GeoBox:
    """The analysis grid covering ``geometry``: pixels of ``resolution`` metres in ``crs``.

    Parameters
    ----------
    geometry
        The area (a shapely geometry) in ``geometry_crs``.
    crs
        The grid's CRS; must be projected with metre units.
    resolution
        Pixel size in metres (square pixels). Pixel edges are aligned to multiples of it.
    geometry_crs
        The CRS of ``geometry`` (EPSG:4326 for survey areas).
    pad
        Extra pixels added on every side (e.g. to give FFT filters room).

    Returns
    -------
    odc.geo.geobox.GeoBox
        A north-up grid (northing decreasing down the rows, as every GeoTIFF).
    """
    crs = CRS.from_user_input(crs)
    if not crs.is_projected or crs.axis_info[0].unit_name not in {"metre", "meter"}:
        raise CRSError(f"the analysis grid needs a projected CRS in metres; {crs.to_string()} is not")
    if not resolution > 0:
        raise GeometryError(f"resolution must be a positive number of metres, got {resolution}")
    if geometry is None or geometry.is_empty:
        raise GeometryError("cannot make a grid for an empty geometry")
    poly = odc_geom.Geometry(geometry, crs=CRS.from_user_input(geometry_crs)).to_crs(crs)
    gbox = GeoBox.from_geopolygon(poly, resolution=resolution, crs=crs)
    if pad:
        gbox = gbox.pad(pad)
    return gbox
