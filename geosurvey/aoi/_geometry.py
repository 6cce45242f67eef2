"""Survey-area geometry: reading, checking, antimeridian splitting, ellipsoidal area, analysis CRS.

Survey areas are stored as RFC 7946 GeoJSON: longitude/latitude on WGS 84 (EPSG:4326, easting
first), exterior rings counter-clockwise, holes clockwise, edges straight in longitude/latitude, and
an area that crosses the antimeridian cut into parts on either side of it (RFC 7946 §3.1.9).
Coordinates are kept to :data:`PRECISION` decimal places (about 1 cm), so that files diff cleanly
and a geometry's canonical form (and so its approval digest) does not depend on float noise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import CRS, Geod
from shapely.geometry import MultiPolygon, Polygon, box, mapping, shape

from geosurvey.errors import CRSError, GeometryError, InputError, MissingInputError
from geosurvey.grid import utm_crs

__all__ = [
    "PRECISION",
    "analysis_crs_for",
    "bbox_geometry",
    "geodesic_area_km2",
    "geometry_from_geojson",
    "geometry_to_geojson",
    "lonlat_bounds",
    "normalise_geometry",
    "overlaps",
    "read_geometry",
]

PRECISION = 7
"""Decimal places of stored longitudes and latitudes (1e-7° is about 1.1 cm)."""

_GRID = 10.0**-PRECISION
_GEOD = Geod(ellps="WGS84")
_WGS84 = CRS.from_epsg(4326)
_DENSIFY_DEG = 0.01  # edges are split to this length (degrees) before geodesic area
_DENSIFY_M = (
    1000.0  # edges of projected inputs are split to this length (metres) before reprojecting
)
_UTM_HALF_WIDTH_DEG = 4.5  # an area within this of a UTM central meridian uses that UTM zone


# ----------------------------------------------------------------------------------------------
# Normalisation


def _first_out_of_range(geom: shapely.Geometry) -> tuple[float, float] | None:
    coords = shapely.get_coordinates(geom)
    bad = ~np.isfinite(coords).all(axis=1)
    bad |= (np.abs(coords[:, 0]) > 180) | (np.abs(coords[:, 1]) > 90)
    if bad.any():
        lon, lat = coords[np.argmax(bad)]
        return float(lon), float(lat)
    return None


def _unwrap_ring(coords: np.ndarray) -> np.ndarray:
    """Unwrap a ring's longitudes so that no edge is longer than 180° (the shorter way round)."""
    lon = coords[:, 0].copy()
    step = np.diff(lon)
    step = (step + 180.0) % 360.0 - 180.0
    lon[1:] = lon[0] + np.cumsum(step)
    return np.column_stack([lon, coords[:, 1]])


def _split_polygon_at_antimeridian(poly: Polygon, where: str) -> shapely.Geometry:
    """Cut a polygon that crosses the antimeridian into parts within [-180, 180] (RFC 7946 §3.1.9).

    A ring crosses when one of its edges spans more than 180° of longitude: such an edge is taken
    the shorter way round, across ±180°. Hand-written because neither shapely nor pyproj does this
    (the ``antimeridian`` package does, but one unwrap and two clips do not warrant a dependency).
    """
    rings = [np.asarray(poly.exterior.coords), *(np.asarray(r.coords) for r in poly.interiors)]
    if not any((np.abs(np.diff(r[:, 0])) > 180).any() for r in rings):
        return poly
    unwrapped = []
    for ring in rings:
        u = _unwrap_ring(ring)
        if abs(u[-1, 0] - u[0, 0]) > 1e-9:
            raise GeometryError(
                f"{where}: a ring encircles a pole (its longitudes wind once around the globe); "
                "polar survey areas are not supported: split the area into parts that do not contain a pole"
            )
        unwrapped.append(u)
    # Holes go to the same side of the antimeridian as the exterior.
    ref = unwrapped[0][:, 0].mean()
    for i, u in enumerate(unwrapped[1:], start=1):
        u[:, 0] += 360.0 * round((ref - u[:, 0].mean()) / 360.0)
        unwrapped[i] = u
    whole = Polygon(unwrapped[0], unwrapped[1:])
    parts = []
    for shift in (-360.0, 0.0, 360.0):
        window = box(-180.0 - shift, -90.0, 180.0 - shift, 90.0)
        piece = whole.intersection(window)
        if not piece.is_empty:
            parts.append(shapely.affinity.translate(piece, xoff=shift))
    return shapely.union_all(parts)


def _leaves(geom: shapely.Geometry) -> list[shapely.Geometry]:
    """Every non-collection part of ``geom`` (recursing into multi-part geometries and collections)."""
    out = []
    for part in shapely.get_parts(geom):
        if shapely.get_type_id(part) >= 4:  # Multi* or GeometryCollection
            out.extend(_leaves(part))
        elif not part.is_empty:
            out.append(part)
    return out


def _polygonal_parts(geom: shapely.Geometry) -> list[Polygon]:
    return [p for p in _leaves(geom) if isinstance(p, Polygon)]


def _as_polygonal(parts: Sequence[Polygon]) -> Polygon | MultiPolygon:
    return parts[0] if len(parts) == 1 else MultiPolygon(list(parts))


_LOCATION = re.compile(r"^(?P<what>[^\[]+)\[(?P<x>[-0-9.eE+]+) (?P<y>[-0-9.eE+]+)\]")


def _describe_invalidity(geom: shapely.Geometry) -> str:
    reason = shapely.is_valid_reason(geom)
    match = _LOCATION.match(reason)
    if match:
        lon = float(match["x"])
        lon = _wrap(lon) if abs(lon) > 180.0 else lon
        return f"{match['what'].strip().lower()} at longitude {lon:.7g}, latitude {float(match['y']):.7g}"
    return reason


def normalise_geometry(
    geometry: shapely.Geometry | Mapping[str, Any],
    *,
    fix: bool = False,
    where: str = "geometry",
) -> tuple[Polygon | MultiPolygon, list[str]]:
    """Check a survey-area geometry and bring it to its canonical stored form.

    Steps: refuse non-polygonal, empty and out-of-range geometries; drop Z; cut polygons that cross
    the antimeridian (an edge longer than 180° of longitude is taken the shorter way, across ±180°);
    refuse invalid geometries with the location of the problem, or repair them with
    :func:`shapely.make_valid` when ``fix``; snap coordinates to a 1e-7° grid
    (:func:`shapely.set_precision`, which keeps the result valid); put rings in GEOS's canonical
    order (:func:`shapely.normalize`) and orient them as RFC 7946 asks (exteriors counter-clockwise).

    Parameters
    ----------
    geometry
        A shapely Polygon/MultiPolygon or a GeoJSON geometry mapping, longitude/latitude in degrees
        on WGS 84 (EPSG:4326).
    fix
        Repair an invalid geometry instead of refusing it.
    where
        What to name in messages (a file, ``--bbox``, an area id).

    Returns
    -------
    geometry, notes
        The canonical Polygon or MultiPolygon and a list of what was changed (repairs, antimeridian
        cuts, dropped Z), for the caller to report.

    Raises
    ------
    GeometryError
        Non-polygonal, empty, out-of-range, encircling a pole, or invalid without ``fix``.
    """
    notes: list[str] = []
    if isinstance(geometry, Mapping):
        geometry = geometry_from_geojson(geometry, where=where)
    if not isinstance(geometry, shapely.Geometry):
        raise GeometryError(
            f"{where}: expected a shapely geometry or a GeoJSON mapping, got {type(geometry).__name__}"
        )
    if geometry.is_empty:
        raise GeometryError(f"{where}: the geometry is empty; a survey area needs a polygon")
    if isinstance(geometry, shapely.GeometryCollection):
        leaves = _leaves(geometry)
        if not leaves or not all(isinstance(p, Polygon) for p in leaves):
            raise GeometryError(
                f"{where}: a survey area must be a Polygon or MultiPolygon, got {geometry.geom_type}"
            )
        geometry = _as_polygonal(leaves)
    if not isinstance(geometry, Polygon | MultiPolygon):
        raise GeometryError(
            f"{where}: a survey area must be a Polygon or MultiPolygon, got {geometry.geom_type}; "
            "buffer points or lines into an outline first"
        )
    bad = _first_out_of_range(geometry)
    if bad is not None:
        raise GeometryError(
            f"{where}: coordinate ({bad[0]}, {bad[1]}) is out of range; survey areas are longitude "
            "-180..180, latitude -90..90 in EPSG:4326 (easting first): check the axis order or pass "
            "the source CRS (crs=, on the command line --crs)"
        )
    if geometry.has_z:
        geometry = shapely.force_2d(geometry)
        notes.append("dropped Z coordinates (areas are 2-D)")

    polys = list(shapely.get_parts(geometry))
    cut = [_split_polygon_at_antimeridian(p, where) for p in polys]
    if any(c is not p for c, p in zip(cut, polys, strict=True)):
        notes.append("cut at the antimeridian into parts east and west of 180° (RFC 7946 §3.1.9)")
    geometry = _as_polygonal([p for c in cut for p in _polygonal_parts(c)])

    if not geometry.is_valid:
        problem = _describe_invalidity(geometry)
        if not fix:
            raise GeometryError(
                f"{where}: invalid geometry: {problem}; correct the outline, or pass fix=True "
                "(--fix) to repair it with shapely.make_valid"
            )
        parts = _polygonal_parts(shapely.make_valid(geometry))
        if not parts:
            raise GeometryError(
                f"{where}: invalid geometry ({problem}) has no area left after repair"
            )
        geometry = shapely.union_all(parts)
        notes.append(
            f"repaired with shapely.make_valid: {problem}; the repaired area has "
            f"{len(_polygonal_parts(geometry))} part(s), {geodesic_area_km2(geometry):.3f} km²"
        )

    geometry = shapely.set_precision(geometry, _GRID)
    parts = _polygonal_parts(geometry)
    if not parts:
        raise GeometryError(f"{where}: the geometry has no area at a precision of {_GRID}°")
    geometry = shapely.orient_polygons(shapely.normalize(_as_polygonal(parts)), exterior_cw=False)
    return geometry, notes


def bbox_geometry(bbox: Sequence[float] | str, *, where: str = "--bbox") -> Polygon | MultiPolygon:
    """A survey-area polygon from a bounding box ``(west, south, east, north)`` in degrees (EPSG:4326).

    ``west > east`` means the box crosses the antimeridian (RFC 7946 §5.2); it is returned cut into
    its parts east and west of 180°. Edges follow parallels and meridians (straight in
    longitude/latitude, as RFC 7946 defines a GeoJSON edge).

    Raises
    ------
    InputError
        Not four numbers.
    GeometryError
        Out of range, south not below north, no width, or wider than 180° of longitude (an edge
        that long would be read the shorter way round, as the complement of the box); a box with
        west > east that would be wider than 180° is most likely west and east swapped, and the
        message says so.
    """
    if isinstance(bbox, str):
        try:
            bbox = [float(v) for v in bbox.replace(" ", "").split(",")]
        except ValueError as exc:
            raise InputError(
                f"{where}: expected four numbers WEST,SOUTH,EAST,NORTH in degrees, got {bbox!r}"
            ) from exc
    values = [float(v) for v in bbox]
    if len(values) != 4:
        raise InputError(
            f"{where}: expected four numbers WEST,SOUTH,EAST,NORTH in degrees, got {len(values)}"
        )
    west, south, east, north = values
    for name, value, limit in (
        ("west", west, 180),
        ("east", east, 180),
        ("south", south, 90),
        ("north", north, 90),
    ):
        if not (math.isfinite(value) and -limit <= value <= limit):
            raise GeometryError(
                f"{where}: {name} = {value} is out of range (longitude -180..180, latitude -90..90); "
                "the order is WEST,SOUTH,EAST,NORTH in EPSG:4326"
            )
    if not south < north:
        raise GeometryError(
            f"{where}: south ({south}) must be less than north ({north}); the order is W,S,E,N"
        )
    if west == east:
        raise GeometryError(f"{where}: west and east are equal ({west}); the box has no area")
    # A box spans east - west degrees of longitude, or east + 360 - west across 180°. Wider than
    # 180°, its edges along the parallels would be longer than half the globe, which GeoJSON
    # readers (and normalise_geometry) take the shorter way round: the complement of the box.
    width = east - west if west < east else east + 360.0 - west
    if width > 180.0:
        box_text = f"{west:g},{south:g},{east:g},{north:g}"
        if west > east:
            raise GeometryError(
                f"{where}: {box_text} has west ({west:g}) > east ({east:g}), which means a box "
                f"across 180° that is {width:g}° wide; did you swap west and east? The box from "
                f"{east:g} to {west:g} is {east:g},{south:g},{west:g},{north:g} (WEST,SOUTH,EAST,NORTH)"
            )
        raise GeometryError(
            f"{where}: {box_text} is {width:g}° of longitude wide; a survey-area box can be at most "
            f"180° wide. For the {360 - width:g}° box across 180° from {east:g} to {west:g}, give "
            f"{east:g},{south:g},{west:g},{north:g} (WEST > EAST crosses 180°)"
        )
    if west < east:
        return box(west, south, east, north)
    return MultiPolygon([box(west, south, 180.0, north), box(-180.0, south, east, north)])


# ----------------------------------------------------------------------------------------------
# Measures


def geodesic_area_km2(geometry: shapely.Geometry) -> float:
    """Area of a longitude/latitude (multi)polygon on the WGS 84 ellipsoid, in km².

    Edges are straight in longitude/latitude (RFC 7946), so they are first split to at most 0.01°
    and then measured as geodesics by :meth:`pyproj.Geod.polygon_area_perimeter` (Karney's
    algorithm): the error of that approximation is far below 1 m² per km². Holes are subtracted
    whatever the ring orientation.

    References
    ----------
    Karney, C.F.F., 2013, Algorithms for geodesics: Journal of Geodesy 87, 43–55.
    """
    total = 0.0
    for poly in shapely.get_parts(shapely.segmentize(geometry, _DENSIFY_DEG)):
        if not isinstance(poly, Polygon) or poly.is_empty:
            continue
        rings = [poly.exterior, *poly.interiors]
        areas = [abs(_GEOD.polygon_area_perimeter(*np.asarray(r.coords).T)[0]) for r in rings]
        total += areas[0] - sum(areas[1:])
    return total / 1e6


def _crosses_antimeridian(geometry: shapely.Geometry) -> bool:
    xmin, _, xmax, _ = geometry.bounds
    return xmin <= -180.0 + 1e-9 and xmax >= 180.0 - 1e-9


def lonlat_bounds(geometry: shapely.Geometry) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of a stored area; ``west > east`` when it crosses the antimeridian."""
    if not _crosses_antimeridian(geometry):
        return tuple(float(v) for v in geometry.bounds)  # type: ignore[return-value]
    coords = shapely.get_coordinates(geometry)
    lon = np.where(coords[:, 0] < 0, coords[:, 0] + 360.0, coords[:, 0])
    west, east = float(lon.min()), float(lon.max())
    east = east - 360.0 if east > 180.0 else east
    return west, float(coords[:, 1].min()), east, float(coords[:, 1].max())


def analysis_crs_for(geometry: shapely.Geometry) -> CRS:
    """The analysis CRS an area proposes for its grid: its UTM zone, or an equal-area CRS if large.

    The UTM zone (WGS 84, EPSG:326xx/327xx) of the area's centre is used when every vertex lies within
    4.5° of longitude of that zone's central meridian (scale error under 0.3 %) and within UTM's
    latitudes (80°S–84°N). Otherwise the area gets a Lambert azimuthal equal-area projection on
    WGS 84 centred on the area (centre rounded to 0.1°, so small amendments keep the same CRS).

    Parameters
    ----------
    geometry
        The stored area (longitude/latitude, EPSG:4326; cut at the antimeridian if it crosses it).

    Returns
    -------
    pyproj.CRS
        Projected, in metres.
    """
    west, south, east, north = lonlat_bounds(geometry)
    if west > east:
        east += 360.0
    lon_c = (west + east) / 2.0
    lat_c = (south + north) / 2.0
    lon_c_wrapped = (lon_c + 180.0) % 360.0 - 180.0
    if south >= -80.0 and north <= 84.0:
        utm = utm_crs(lon_c_wrapped, lat_c)
        meridian = -183.0 + 6.0 * (utm.to_epsg() % 100)
        if max(abs(_wrap(west - meridian)), abs(_wrap(east - meridian))) <= _UTM_HALF_WIDTH_DEG:
            return utm
    lat0 = round(lat_c, 1)
    lon0 = round(lon_c_wrapped, 1)
    return CRS.from_proj4(
        f"+proj=laea +lat_0={lat0:g} +lon_0={lon0:g} +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )


def _wrap(delta: float) -> float:
    return (delta + 180.0) % 360.0 - 180.0


@dataclass(frozen=True)
class Overlap:
    """Two areas whose interiors overlap, and by how much (km² on the WGS 84 ellipsoid)."""

    first: str
    second: str
    area_km2: float


def overlaps(geometries: Mapping[str, shapely.Geometry], *, min_km2: float = 1e-6) -> list[Overlap]:
    """Pairs of areas (by id) whose interiors overlap by more than ``min_km2``; touching edges do not count."""
    ids = sorted(geometries)
    if len(ids) < 2:
        return []
    geoms = np.array([geometries[i] for i in ids], dtype=object)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    out = []
    for i, j in zip(left, right, strict=True):
        if i >= j:
            continue
        inter = geoms[i].intersection(geoms[j])
        km2 = geodesic_area_km2(inter) if not inter.is_empty else 0.0
        if km2 > min_km2:
            out.append(Overlap(ids[i], ids[j], km2))
    return out


# ----------------------------------------------------------------------------------------------
# GeoJSON


def _round_coords(obj: Any) -> Any:
    if isinstance(obj, list | tuple):
        if obj and isinstance(obj[0], int | float):
            return [round(float(v), PRECISION) + 0.0 for v in obj[:2]]
        return [_round_coords(v) for v in obj]
    return obj


def geometry_to_geojson(geometry: shapely.Geometry) -> dict[str, Any]:
    """A GeoJSON geometry mapping with lists (not tuples) and coordinates rounded to 7 decimals."""
    geo = mapping(geometry)
    return {"type": geo["type"], "coordinates": _round_coords(geo["coordinates"])}


def geometry_from_geojson(geo: Mapping[str, Any], *, where: str = "geometry") -> shapely.Geometry:
    """Parse a GeoJSON geometry mapping, naming ``where`` if it is malformed."""
    if not isinstance(geo, Mapping) or "type" not in geo:
        raise GeometryError(f"{where}: not a GeoJSON geometry (no 'type')")
    if geo["type"] not in {"Polygon", "MultiPolygon"}:
        raise GeometryError(
            f"{where}: a survey area must be a Polygon or MultiPolygon, got {geo['type']!r}"
        )
    try:
        return shape(geo)
    except OverflowError:  # an integer coordinate with hundreds of digits
        raise GeometryError(
            f"{where}: a coordinate of the {geo['type']} is too large to be a number of degrees; "
            "survey areas are longitude -180..180, latitude -90..90"
        ) from None
    except RecursionError:
        raise GeometryError(
            f"{where}: the {geo['type']} coordinates are nested too deeply to be a polygon"
        ) from None
    except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.GEOSException) as exc:
        raise GeometryError(f"{where}: malformed {geo['type']} coordinates ({exc})") from exc


# ----------------------------------------------------------------------------------------------
# Reading vector files

_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".kml", ".fgb", ".zip"}


def _same_crs(a: CRS, b: CRS) -> bool:
    if a.equals(b, ignore_axis_order=True):
        return True
    ea, eb = a.to_epsg(min_confidence=70), b.to_epsg(min_confidence=70)
    return ea is not None and ea == eb


def _crs_name(crs: CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg} ({crs.name})" if epsg else crs.name


def read_geometry(
    path: str | Path,
    *,
    crs: str | int | CRS | None = None,
    layer: str | int | None = None,
    dissolve: bool = False,
) -> shapely.Geometry:
    """Read a survey-area outline from a vector file and return it in EPSG:4326 (not yet normalised).

    Parameters
    ----------
    path
        GeoJSON, GeoPackage, Shapefile, KML or FlatGeobuf (anything pyogrio reads).
    crs
        The file's CRS. Required when the file's CRS is not EPSG:4326 (to confirm the reprojection)
        or when the file has none (a shapefile without ``.prj``). It must agree with a CRS the file
        declares. Projected inputs are densified to 1 km edges before reprojection, so straight
        edges in the source CRS keep their shape.
    layer
        The layer to read from a multi-layer file (GeoPackage, KML).
    dissolve
        Merge several features into one area; without it a file must hold exactly one feature.

    Raises
    ------
    MissingInputError, InputError, CRSError, GeometryError
        A missing or unreadable file, several layers or features without ``layer``/``dissolve``,
        a CRS that is not EPSG:4326 without ``crs``, non-polygonal features.
    """
    import geopandas as gpd
    import pyogrio

    path = Path(path)
    if not path.exists():
        raise MissingInputError(
            f"{path} does not exist; give a GeoJSON, GeoPackage, Shapefile, KML or FlatGeobuf file"
        )
    if path.suffix.lower() not in _SUFFIXES:
        raise InputError(
            f"{path}: unsupported file type {path.suffix!r}; give .geojson, .gpkg, .shp, .kml or .fgb"
        )
    try:
        layers = pyogrio.list_layers(path)
        if layer is None and len(layers) > 1:
            names = ", ".join(str(n) for n in layers[:, 0])
            raise InputError(f"{path} has {len(layers)} layers ({names}); choose one with layer= (--layer)")
        frame = gpd.read_file(path, layer=layer, engine="pyogrio")
    except InputError:
        raise
    except Exception as exc:  # pyogrio/GDAL raise many types for unparsable files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"cannot read {path}: {reason}; is it a valid vector file?") from exc
    frame = frame[~frame.geometry.isna()]
    if frame.empty:
        raise GeometryError(f"{path}: no features with a geometry; a survey area needs one polygon")
    if len(frame) > 1 and not dissolve:
        raise InputError(
            f"{path} has {len(frame)} features; a survey area is one outline: pass dissolve=True "
            "(--dissolve) to merge them, or keep one feature in the file"
        )
    types = set(frame.geometry.geom_type)
    if not types <= {"Polygon", "MultiPolygon"}:
        raise GeometryError(
            f"{path}: a survey area must be a Polygon or MultiPolygon; the file has {', '.join(sorted(types))}"
        )
    given = None
    if crs is not None:
        try:
            given = CRS.from_user_input(crs)
        except Exception as exc:  # pyproj raises its own CRSError (not ours) and others
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CRSError(
                f"{path}: crs {crs!r} is not a CRS pyproj knows ({reason}); give an EPSG code "
                "such as EPSG:32611, or WKT or PROJ text"
            ) from None
    if frame.crs is None:
        if given is None:
            raise CRSError(
                f"{path} has no CRS; pass its CRS with crs= (--crs), e.g. EPSG:4326"
            )
        frame = frame.set_crs(given)
    elif given is not None and not _same_crs(frame.crs, given):
        raise CRSError(
            f"{path} is in {_crs_name(frame.crs)}, but crs= (--crs) says {_crs_name(given)}; "
            "pass the file's own CRS or fix its metadata"
        )
    elif given is None and not _same_crs(frame.crs, _WGS84):
        code = _crs_name(frame.crs).split(" ")[0]
        raise CRSError(
            f"{path} is in {_crs_name(frame.crs)}, not EPSG:4326; pass crs={code!r} "
            f"(--crs {code}) to confirm it and reproject to EPSG:4326"
        )
    if not _same_crs(frame.crs, _WGS84):
        geoms = frame.geometry
        if frame.crs.is_projected:
            geoms = geoms.segmentize(_DENSIFY_M)
        frame = frame.set_geometry(geoms).to_crs(_WGS84)
    return shapely.union_all(frame.geometry.values) if len(frame) > 1 else frame.geometry.iloc[0]
