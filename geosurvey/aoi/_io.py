"""Registry files on disk: area Features (diff-friendly GeoJSON), ``parties.toml``, exported layers."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import tomli_w

from geosurvey.aoi._geometry import PRECISION
from geosurvey.aoi._model import Party
from geosurvey.errors import InputError, MissingInputError, OutputError, RegistryError
from geosurvey.io import atomic_path

__all__ = [
    "EXPORT_FORMATS",
    "PARTIES_SCHEMA",
    "ExportFormat",
    "dump_feature",
    "export_format_for",
    "load_feature",
    "parties_toml",
    "read_parties",
    "write_layer",
]

PARTIES_SCHEMA = "geosurvey-parties/1"
ExportFormat = Literal["gpkg", "parquet", "fgb", "geojson", "kml"]
EXPORT_FORMATS: dict[str, str] = {
    ".gpkg": "gpkg",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
    ".fgb": "fgb",
    ".geojson": "geojson",
    ".json": "geojson",
    ".kml": "kml",
}
_MARK = "@@coordinates@@"


def _format_coords(value: list, indent: int) -> str:
    pad = " " * indent
    if value and isinstance(value[0], int | float):
        return "[" + ", ".join(f"{v:.{PRECISION}f}" for v in value) + "]"
    inner = ",\n".join(pad + "  " + _format_coords(v, indent + 2) for v in value)
    return "[\n" + inner + "\n" + pad + "]"


def dump_feature(feature: Mapping[str, Any]) -> str:
    """The text of an area file: sorted keys, 2-space indents, one position per line, fixed
    precision (7 decimals), UTF-8 text as is (Japanese stays readable in diffs)."""
    geometry = feature["geometry"]
    shell = {**feature, "geometry": {"coordinates": _MARK, "type": geometry["type"]}}
    text = json.dumps(shell, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if f'"{_MARK}"' in line:
            indent = len(line) - len(line.lstrip())
            lines[i] = line.replace(f'"{_MARK}"', _format_coords(geometry["coordinates"], indent))
            break
    return "\n".join(lines) + "\n"


def load_feature(path: Path) -> dict[str, Any]:
    """Parse an area file, naming the file and the line of a JSON error."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:  # a folder named <id>.geojson, an unreadable file
        raise RegistryError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RegistryError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from exc
    except RecursionError:
        raise RegistryError(
            f"{path}: not an area file: its JSON is nested too deeply to read (an area file is "
            "one GeoJSON Feature)"
        ) from None


def read_parties(path: Path) -> dict[str, Party]:
    """Read ``parties.toml``: the parties by code."""
    if not path.is_file():
        raise MissingInputError(
            f"{path} does not exist; a registry folder needs parties.toml (create one with Registry.init)"
        )
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: not valid TOML ({exc})") from exc
    except RecursionError:
        raise RegistryError(f"{path}: not valid TOML (nested too deeply to read)") from None
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read it ({exc.strerror})") from None
    if doc.get("schema") != PARTIES_SCHEMA:
        raise RegistryError(f"{path}: schema is {doc.get('schema')!r}, expected {PARTIES_SCHEMA!r}")
    rows = doc.get("parties")
    if not isinstance(rows, list) or not rows:
        raise RegistryError(f"{path}: no [[parties]] tables; name at least the framework parties")
    parties: dict[str, Party] = {}
    for i, row in enumerate(rows):
        party = Party.from_mapping(row, where=f"{path} parties[{i}]")
        if party.code in parties:
            raise RegistryError(f"{path}: party {party.code} is listed twice")
        parties[party.code] = party
    seen: dict[str, str] = {}
    for party in parties.values():
        for key in party.public_keys:
            if key in seen and seen[key] != party.code:
                raise RegistryError(
                    f"{path}: the same public key is listed for {seen[key]} and {party.code}"
                )
            seen[key] = party.code
    return parties


def parties_toml(parties: Mapping[str, Party]) -> str:
    """The text of ``parties.toml`` (sorted keys; a warning header when any key is demo-only)."""
    doc = {
        "parties": [p.to_mapping() for p in sorted(parties.values(), key=lambda p: p.code)],
        "schema": PARTIES_SCHEMA,
    }
    header = "# Parties to the survey framework and the Ed25519 public keys that sign their acts.\n"
    demo = sorted(p.code for p in parties.values() if p.demo_only)
    if demo:
        header += (
            f"# DEMO KEYS ONLY ({', '.join(demo)}): generated for the example registry; their private\n"
            "# halves were discarded. They prove nothing about any real decision.\n"
        )
    return header + "\n" + tomli_w.dumps(doc)


def export_format_for(path: Path, format: str | None) -> str:
    """The export format named by ``format`` or by the file suffix."""
    if format is not None:
        fmt = format.lower()
        if fmt not in set(EXPORT_FORMATS.values()):
            raise InputError(
                f"unknown export format {format!r}; use one of gpkg, parquet, fgb, geojson, kml"
            )
        return fmt
    fmt = EXPORT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"cannot tell the export format of {path}; use a .gpkg, .parquet, .fgb, .geojson or .kml "
            "name or pass format= (--format)"
        )
    return fmt


def write_layer(
    frame: Any, path: Path, *, format: str, overwrite: bool = False, layer: str = "survey_areas"
) -> Path:
    """Write a GeoDataFrame as one layer, atomically (temporary file beside ``path``, then rename).

    The layer is named ``layer`` in every format that names layers (GeoPackage, FlatGeobuf,
    GeoJSON's ``"name"``, KML), never after the temporary file, so that two exports of one
    registry are the same bytes (except GeoPackage, which records when it was written) and
    ``ogr2ogr`` can copy the layer into a GeoPackage.
    """
    if path.is_dir():
        raise OutputError(
            f"{path} is a folder; give the name of a file to write, e.g. {path / ('survey_areas' + path.suffix)}"
        )
    if path.exists() and not overwrite:
        raise OutputError(
            f"{path} exists; pass overwrite=True (--overwrite) or choose another name"
        )
    with atomic_path(path) as tmp:
        if format == "parquet":
            frame.to_parquet(tmp, index=False)
        elif format == "geojson":
            frame.to_file(
                tmp,
                driver="GeoJSON",
                layer=layer,
                engine="pyogrio",
                RFC7946="YES",
                COORDINATE_PRECISION=PRECISION,
            )
        elif format == "gpkg":
            frame.to_file(tmp, driver="GPKG", layer=layer, engine="pyogrio")
        elif format == "fgb":
            frame.to_file(tmp, driver="FlatGeobuf", layer=layer, engine="pyogrio")
        elif format == "kml":
            # The KML driver takes each placemark's <name> and <description> from these columns;
            # "id" is renamed because KML readers report the <Placemark id> under that name.
            kml = frame.rename(columns={"id": "area_id"}).assign(
                Name=frame["name_en"], Description=frame["name_ja"] + " — " + frame["status"]
            )
            kml.to_file(tmp, driver="KML", layer=layer, engine="pyogrio")
        else:  # pragma: no cover - export_format_for checked it
            raise InputError(f"unknown export format {format!r}")
    return path
