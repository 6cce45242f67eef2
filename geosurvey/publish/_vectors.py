"""Vectors for the web map: check, convert to EPSG:4326, and build escaped, bilingual popups."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import shapely
import shapely.affinity

from geosurvey.errors import CRSError, GeometryError, InputError
from geosurvey.i18n import TEXT, Language

__all__ = ["SURVEY_AREA_STATUSES"]

SURVEY_AREA_STATUSES = ("proposed", "agreed", "amended", "withdrawn", "closed")
"""The derived statuses of a survey area (``geosurvey.aoi``), in the order the map's key lists them."""

_POINTS = ("Point", "MultiPoint")

_LINES = ("LineString", "MultiLineString")

_POLYGONS = ("Polygon", "MultiPolygon")

_APPROVAL_STATES = ("valid", "stale", "invalid")

# Where an occurrence's popup finds its fields (case-insensitive column names, first match wins):
# common names in deposit databases (USGS MRDS, GTK, the geosurvey demo).

_OCCURRENCE_COLUMNS = {
    "name": ("name", "name_en", "site_name", "dep_name", "deposit_name", "occurrence"),
    "commodity": (
        "commodity",
        "commodities",
        "commod1",
        "primary_commodity",
        "commod",
        "all_main_c",
    ),
    "deposit_type": ("deposit_type", "deposit_ty", "dep_type", "deposit_model", "model"),
    "kind": ("kind", "occurrence_type", "ocurrence_", "site_type", "type"),
}

_SURVEY_AREA_COLUMNS = ("id", "name_en", "name_ja", "status", "approvals")


def _e(value: object) -> str:
    """Escape text for HTML (element content and attribute values)."""
    return html.escape(str(value), quote=True)


# --------------------------------------------------------------------------------------------
# Vectors: check, convert to EPSG:4326, build escaped popups
# --------------------------------------------------------------------------------------------


def _vector_layer(gdf: object, what: str, kinds: tuple[str, ...]) -> gpd.GeoDataFrame:
    """Return ``gdf`` in EPSG:4326 after checking its CRS, emptiness and geometry types."""
    if isinstance(gdf, gpd.GeoSeries):
        gdf = gpd.GeoDataFrame(geometry=gdf)
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise InputError(
            f"{what} must be a geopandas GeoDataFrame (e.g. geopandas.read_file(...)), "
            f"got {type(gdf).__name__}"
        )
    if gdf.crs is None:
        raise CRSError(
            f"{what} has no CRS; set the CRS its coordinates are in with "
            f"{what}.set_crs('EPSG:XXXX') before mapping it"
        )
    if len(gdf) == 0:
        raise InputError(f"{what} has no features; pass {what}=None to leave the layer out")
    geoms = gdf.geometry
    missing = geoms.isna() | geoms.is_empty
    if missing.any():
        rows = list(gdf.index[missing.to_numpy()][:5])
        raise GeometryError(
            f"{what} has features without a geometry (rows {rows}); drop or fix them first, "
            f"e.g. {what}[~{what}.geometry.is_empty]"
        )
    wrong = ~geoms.geom_type.isin(kinds)
    if wrong.any():
        row = gdf.index[wrong.to_numpy()][0]
        raise GeometryError(
            f"{what} must hold {' or '.join(kinds)} geometries; row {row!r} is a "
            f"{geoms[row].geom_type}"
        )
    return _continuous_longitudes(gdf.to_crs("EPSG:4326"))


def _continuous_longitudes(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Draw antimeridian-split geometries in one piece: shift their western parts by +360°.

    RFC 7946 cuts a geometry that crosses 180° into parts on either side of it (as
    ``geosurvey.aoi`` stores the western Aleutians). Leaflet draws longitudes as given on one
    continuous axis, so such parts would land at opposite ends of the world; a multi-part
    geometry with parts touching both +180° and -180° has its western-hemisphere parts moved to
    longitudes above 180° (the same places on the globe) and polygons are dissolved across the
    seam. Other geometries are left as they are.
    """

    def continuous(geom: shapely.Geometry) -> shapely.Geometry:
        parts = list(getattr(geom, "geoms", []))
        if not (any(p.bounds[2] >= 180 for p in parts) and any(p.bounds[0] <= -180 for p in parts)):
            return geom
        moved = [shapely.affinity.translate(p, xoff=360) if p.bounds[2] <= 0 else p for p in parts]
        if geom.geom_type == "MultiPolygon":  # dissolve the seam at 180°
            return shapely.union_all(moved)
        return type(geom)(moved)

    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(
        [continuous(g) for g in gdf.geometry], index=gdf.index, crs="EPSG:4326"
    )
    return out


def _as_text(value: object) -> str | None:
    """A cell as display text, or ``None`` when it is missing (None, NaN, empty)."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else f"{value:g}"
    if not isinstance(value, str | list | tuple | dict) and pd.isna(value):
        return None
    text = str(value).strip()
    return text or None


def _table(rows: Sequence[tuple[str, str | None]]) -> str:
    cells = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows if v is not None)
    return f"<table>{cells}</table>" if cells else ""


def _occurrence_columns(columns: Sequence[object], lang: Language) -> dict[str, str]:
    lower = {str(c).lower(): str(c) for c in columns if str(c) != "geometry"}
    picked = {}
    if lang == "ja" and "name_ja" in lower:
        picked["name"] = lower["name_ja"]
    for field, candidates in _OCCURRENCE_COLUMNS.items():
        if field in picked:
            continue
        for candidate in candidates:
            if candidate in lower:
                picked[field] = lower[candidate]
                break
    return picked


def _occurrence_popups(gdf: gpd.GeoDataFrame, lang: Language) -> list[dict[str, str]]:
    """Escaped popup and tooltip HTML for each occurrence, from its name/commodity/type columns."""
    text = TEXT[lang]
    columns = _occurrence_columns(list(gdf.columns), lang)
    out = []
    for index, row in gdf.iterrows():
        name = _as_text(row[columns["name"]]) if "name" in columns else None
        title = name if name is not None else f"{text['occurrences']} #{index}"
        rows = [(text[f], _as_text(row[c])) for f, c in columns.items() if f != "name"]
        popup = f'<div class="gs-popup"><div class="gs-popup-title">{_e(title)}</div>{_table(rows)}</div>'
        out.append({"gs_popup": popup, "gs_tooltip": _e(title)})
    return out


def _parse_approvals(value: object, area_id: str) -> list[dict[str, Any]]:
    if _as_text(value) is None and not isinstance(value, list):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"survey_areas: the approvals of area {area_id!r} are not valid JSON ({exc}); "
                "build the layer with Registry.to_geodataframe()"
            ) from exc
    if not isinstance(value, list) or not all(isinstance(a, dict) for a in value):
        raise InputError(
            f"survey_areas: the approvals of area {area_id!r} must be a JSON list of "
            '{"party", "date", "state"} objects'
        )
    return value


def _survey_area_popup(row: Mapping[str, Any], lang: Language) -> dict[str, str]:
    """Escaped popup/tooltip HTML for one registry area: names, status, commodities, approvals."""
    text = TEXT[lang]
    area_id = str(row["id"])
    status = str(row["status"])
    names = {code: _as_text(row.get(f"name_{code}")) for code in ("en", "ja")}
    title = names[lang] or names["en"] or names["ja"] or area_id
    area_km2 = row.get("area_km2")
    area_text = None
    if _as_text(area_km2) is not None:
        km2 = float(area_km2)
        area_text = f"{km2:,.0f} {text['km2']}" if km2 >= 100 else f"{km2:.3g} {text['km2']}"

    def listed(value: object) -> str | None:
        cell = _as_text(value)
        return None if cell is None else ", ".join(p.strip() for p in cell.split(",") if p.strip())

    rows = [
        ("ID", area_id),
        (text["name_en"], names["en"]),
        (text["name_ja"], names["ja"]),
        (text["status"], text[f"status_{status}"]),
        (text["region"], listed(row.get("region"))),
        # the registry's translated commodity names when it gives them, else the codes
        (
            text["commodities"],
            _as_text(row.get(f"commodities_{lang}")) or listed(row.get("commodities")),
        ),
        (text["deposit_models"], listed(row.get("deposit_models"))),
        (text["area_km2"], area_text),
        (text["pending_parties"], listed(row.get("pending_parties"))),
        (text["proposer"], _as_text(row.get("proposer"))),
        (text["notes"], _as_text(row.get("notes"))),
    ]
    approvals = _parse_approvals(row.get("approvals"), area_id)
    if approvals:
        lines = []
        for approval in approvals:
            state = str(approval.get("state", ""))
            label = text[f"approval_{state}"] if state in _APPROVAL_STATES else state
            lines.append(
                f'<tr class="gs-approval-{_e(state)}"><td>{_e(approval.get("party", ""))}</td>'
                f"<td>{_e(approval.get('date', ''))}</td><td>{_e(label)}</td></tr>"
            )
        approvals_html = (
            f'<table class="gs-approvals"><tr><th>{_e(text["party"])}</th><th>{_e(text["date"])}'
            f"</th><th>{_e(text['status'])}</th></tr>{''.join(lines)}</table>"
        )
    else:
        approvals_html = f"<div>{_e(text['no_approvals'])}</div>"
    popup = (
        f'<div class="gs-popup gs-popup-survey-area"><div class="gs-popup-title">{_e(title)}</div>'
        f'{_table(rows)}<div class="gs-popup-title">{_e(text["approvals"])}</div>{approvals_html}</div>'
    )
    tooltip = f"{_e(title)} ({_e(text[f'status_{status}'])})"
    return {"gs_popup": popup, "gs_tooltip": tooltip, "gs_status": status}


def _survey_area_properties(gdf: gpd.GeoDataFrame, lang: Language) -> list[dict[str, str]]:
    missing = [c for c in _SURVEY_AREA_COLUMNS if c not in gdf.columns]
    if missing:
        raise InputError(
            f"survey_areas lacks the column(s) {missing}; pass the layer made by "
            "geosurvey.aoi.Registry.to_geodataframe()"
        )
    out = []
    for _, row in gdf.iterrows():
        status = row["status"]
        if status not in SURVEY_AREA_STATUSES:
            raise InputError(
                f"survey_areas: area {row['id']!r} has status {status!r}; expected one of "
                f"{', '.join(SURVEY_AREA_STATUSES)}"
            )
        out.append(_survey_area_popup(row, lang))
    return out


def _area_layer(area: object, lang: Language) -> tuple[gpd.GeoDataFrame, str | None]:
    """The survey area as a one-or-more-row GeoDataFrame in EPSG:4326, and its name if known.

    ``area`` may be a shapely (Multi)Polygon in EPSG:4326, a GeoDataFrame/GeoSeries in any CRS, or
    an object with a shapely ``geometry`` attribute in EPSG:4326 (a ``geosurvey.aoi.SurveyArea``).
    """
    names: dict[str, object] = {}
    if isinstance(area, gpd.GeoDataFrame | gpd.GeoSeries):
        gdf = _vector_layer(area, "area", _POLYGONS)
        if isinstance(area, gpd.GeoDataFrame) and len(gdf) == 1:
            names = {c: gdf.iloc[0][c] for c in ("name_en", "name_ja", "id") if c in gdf.columns}
        return gdf, _pick_name(names, lang)
    geometry = area if isinstance(area, shapely.Geometry) else getattr(area, "geometry", None)
    if not isinstance(geometry, shapely.Geometry):
        raise InputError(
            "area must be a shapely Polygon in EPSG:4326, a GeoDataFrame (any CRS) or a SurveyArea, "
            f"got {type(area).__name__}"
        )
    if geometry is not area:
        names = {c: getattr(area, c, None) for c in ("name_en", "name_ja", "id")}
    if geometry.is_empty or geometry.geom_type not in _POLYGONS:
        raise GeometryError(
            f"area must be a non-empty Polygon or MultiPolygon, got {geometry.geom_type}"
        )
    west, south, east, north = geometry.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise CRSError(
            f"area's coordinates {geometry.bounds} are not longitude/latitude degrees; a shapely "
            "area must be in EPSG:4326: pass a GeoDataFrame with its CRS instead"
        )
    gdf = gpd.GeoDataFrame(geometry=[geometry], crs="EPSG:4326")
    return _continuous_longitudes(gdf), _pick_name(names, lang)


def _pick_name(names: Mapping[str, object], lang: Language) -> str | None:
    for key in (f"name_{lang}", "name_en", "name_ja", "id"):
        name = _as_text(names.get(key))
        if name is not None:
            return name
    return None


def _feature_collection(gdf: gpd.GeoDataFrame, properties: Sequence[Mapping[str, Any]]) -> dict:
    """GeoJSON with only the given properties (user columns never reach the page unescaped)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": str(i),
                "geometry": shapely.geometry.mapping(geom),
                "properties": dict(props),
            }
            for i, (geom, props) in enumerate(zip(gdf.geometry, properties, strict=True))
        ],
    }
