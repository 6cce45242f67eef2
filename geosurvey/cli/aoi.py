"""``geosurvey aoi ...``: the survey-area registry on the command line.

Each command parses its options, calls one function of :mod:`geosurvey.aoi`, prints, and returns.
Refusals are raised as :class:`~geosurvey.errors.GeosurveyError` and printed by the root ``main()``
as one line (exit code 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from geosurvey.errors import InputError, RegistryError
from geosurvey.text import printable

__all__ = ["app"]

app = typer.Typer(
    help="Survey areas: keys, propose, approve, amend, withdraw, close, list, show, validate, export, history.",
    no_args_is_help=True,
)

Registry_ = Annotated[
    Path,
    typer.Option(
        "--registry",
        "-r",
        help="Registry folder (parties.toml + <id>.geojson).",
        envvar="GEOSURVEY_AOI",
    ),
]
AreaId_ = Annotated[
    str, typer.Argument(help="The area's id (its file name in the registry without .geojson).")
]
Party_ = Annotated[str, typer.Option("--party", "-p", help="Code of the acting party, e.g. JP.")]
Key_ = Annotated[
    Path, typer.Option("--key", "-k", help="The party's Ed25519 private key (PEM file).")
]
Date_ = Annotated[
    str | None, typer.Option("--date", help="Date of the act, YYYY-MM-DD (default: today, UTC).")
]
Source_ = Annotated[
    Path | None,
    typer.Argument(
        help="Outline file: GeoJSON, GeoPackage, Shapefile, KML or FlatGeobuf.", show_default=False
    ),
]
Bbox_ = Annotated[
    str | None,
    typer.Option(
        "--bbox",
        help="Outline as WEST,SOUTH,EAST,NORTH in degrees (EPSG:4326); WEST > EAST crosses 180°.",
    ),
]
Crs_ = Annotated[
    str | None, typer.Option("--crs", help="CRS of the outline file when it is not EPSG:4326.")
]
Layer_ = Annotated[str | None, typer.Option("--layer", help="Layer of a multi-layer file.")]
Dissolve_ = Annotated[
    bool, typer.Option("--dissolve", help="Merge several features of the file into one area.")
]
Fix_ = Annotated[
    bool,
    typer.Option("--fix", help="Repair an invalid outline with shapely.make_valid (reported)."),
]
Status_ = Annotated[
    list[str] | None,
    typer.Option("--status", help="Keep areas with this status (repeatable).", show_default=False),
]
RegionFilter_ = Annotated[
    list[str] | None, typer.Option("--region", help="Keep areas in this country (ISO 3166-1).")
]
CommodityFilter_ = Annotated[
    str | None,
    typer.Option(
        "--commodity", help="Keep areas targeting this commodity (REE also finds Nd, Dy...)."
    ),
]
ModelFilter_ = Annotated[
    str | None, typer.Option("--deposit-model", help="Keep areas with this deposit model.")
]


def _registry(path: Path):
    from geosurvey.aoi import Registry

    return Registry(path)


def _geometry(source: Path | None, bbox: str | None, *, required: bool) -> object | None:
    if source is not None and bbox is not None:
        raise InputError("give either an outline file or --bbox, not both")
    if bbox is not None:
        from geosurvey.aoi import bbox_geometry

        return bbox_geometry(bbox, where="--bbox")
    if source is None and required:
        raise InputError(
            "give the area's outline: a file (GeoJSON, GeoPackage, Shapefile, KML, FlatGeobuf) or --bbox"
        )
    return source


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _period(start: str | None, end: str | None) -> tuple[str, str] | None:
    if (start is None) != (end is None):
        raise InputError("give both --start and --end of the survey period, or neither")
    return None if start is None else (start, end)  # type: ignore[return-value]


def _names(area) -> str:
    """``name_en / name_ja``, control characters escaped (a hand-edited file may hold some)."""
    return f"{printable(area.name_en)} / {printable(area.name_ja)}"


def _print_area(area) -> None:
    typer.echo(f"{area.id}: {area.status} ({_names(area)})")
    if area.pending_parties and area.status in {"proposed", "amended"}:
        typer.echo(f"  waiting for approval by: {', '.join(area.pending_parties)}")


@app.command()
def keygen(
    party: Party_,
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Where to write the private key (outside any repository)."
        ),
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing key file.")] = False,
) -> None:
    """Make an Ed25519 key pair for a party.

    The private key is written with permissions 0600 (outside any repository); the public key is
    printed, for the party's public_keys in parties.toml."""
    from geosurvey.aoi import generate_keypair, is_party_code, write_private_key

    if not is_party_code(party):
        raise InputError(
            f"party {party!r}: party codes are 2–16 upper-case letters, digits or hyphens (e.g. JP)"
        )
    pem, public = generate_keypair()
    path = write_private_key(out, pem, overwrite=force)
    typer.echo(
        f"private key of {party} written to {path} (mode 0600); keep it secret, never commit it"
    )
    typer.echo(f"public key of {party} (add it to {party}'s public_keys in parties.toml):")
    typer.echo(public)


@app.command("add-key")
def add_key(
    party: Party_,
    public_key: Annotated[str, typer.Argument(help="The base64 public key printed by keygen.")],
    registry: Registry_ = Path("aoi"),
) -> None:
    """Add a party's public key to parties.toml."""
    _registry(registry).add_key(party, public_key)
    typer.echo(f"added a public key to {party} in {registry / 'parties.toml'}")


@app.command()
def propose(
    source: Source_ = None,
    area_id: Annotated[
        str, typer.Option("--id", help="Area id: lower-case letters, digits, hyphens.")
    ] = ...,
    name_en: Annotated[str, typer.Option("--name-en", help="Name in English.")] = ...,
    name_ja: Annotated[str, typer.Option("--name-ja", help="Name in Japanese.")] = ...,
    region: Annotated[
        list[str], typer.Option("--region", help="ISO 3166-1 code(s), e.g. US.")
    ] = ...,
    commodity: Annotated[
        list[str],
        typer.Option(
            "--commodity", "-c", help="Target commodity codes (repeatable or comma-separated)."
        ),
    ] = ...,
    proposer: Annotated[str, typer.Option("--proposer", help="Code of the proposing party.")] = ...,
    deposit_model: Annotated[
        list[str] | None, typer.Option("--deposit-model", "-m", help="Deposit model codes.")
    ] = None,
    method: Annotated[
        list[str] | None, typer.Option("--method", help="Planned survey methods.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--start", help="Survey period start, YYYY-MM-DD.")
    ] = None,
    end: Annotated[str | None, typer.Option("--end", help="Survey period end, YYYY-MM-DD.")] = None,
    priority: Annotated[str, typer.Option("--priority", help="high, medium or low.")] = "medium",
    notes: Annotated[str, typer.Option("--notes", help="Free-text notes.")] = "",
    analysis_crs: Annotated[
        str | None,
        typer.Option("--analysis-crs", help="Grid CRS (default: UTM zone or equal-area)."),
    ] = None,
    bbox: Bbox_ = None,
    crs: Crs_ = None,
    layer: Layer_ = None,
    dissolve: Dissolve_ = False,
    fix: Fix_ = False,
    date: Date_ = None,
    registry: Registry_ = Path("aoi"),
) -> None:
    """Propose a new survey area from an outline file or --bbox."""
    reg = _registry(registry)
    area = reg.propose(
        _geometry(source, bbox, required=True),
        id=area_id,
        name_en=name_en,
        name_ja=name_ja,
        region=_split(region),
        commodities=_split(commodity),
        deposit_models=_split(deposit_model),
        methods=_split(method),
        period=_period(start, end),
        priority=priority,
        notes=notes,
        analysis_crs=analysis_crs,
        proposer=proposer,
        crs=crs,
        layer=layer,
        dissolve=dissolve,
        fix=fix,
        date=date,
    )
    typer.echo(f"{printable(area.history[-1].summary)}: {reg.path / (area.id + '.geojson')}")
    typer.echo(
        f"  {area.area_km2:,.1f} km², analysis CRS {area.analysis_crs_string}, digest {area.digest}"
    )
    _print_area(area)


@app.command()
def approve(
    area_id: AreaId_,
    party: Party_,
    key: Key_,
    date: Date_ = None,
    registry: Registry_ = Path("aoi"),
) -> None:
    """Sign a party's approval of the current version of an area."""
    area = _registry(registry).approve(area_id, party=party, private_key=key, date=date)
    typer.echo(f"{party} approved {area_id} ({area.digest})")
    _print_area(area)


@app.command()
def amend(
    area_id: AreaId_,
    party: Party_,
    source: Source_ = None,
    bbox: Bbox_ = None,
    name_en: Annotated[str | None, typer.Option("--name-en", help="New name in English.")] = None,
    name_ja: Annotated[str | None, typer.Option("--name-ja", help="New name in Japanese.")] = None,
    region: Annotated[
        list[str] | None,
        typer.Option("--region", help="New ISO 3166-1 code(s); a decision change (re-approve)."),
    ] = None,
    commodity: Annotated[
        list[str] | None,
        typer.Option(
            "--commodity", "-c", help="New target commodity codes; a decision change (re-approve)."
        ),
    ] = None,
    deposit_model: Annotated[
        list[str] | None,
        typer.Option(
            "--deposit-model", "-m", help="New deposit model codes; a decision change (re-approve)."
        ),
    ] = None,
    method: Annotated[
        list[str] | None,
        typer.Option(
            "--method", help="New planned survey methods; a decision change (re-approve)."
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="New survey period start, YYYY-MM-DD (with --end)."),
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="New survey period end, YYYY-MM-DD (with --start).")
    ] = None,
    priority: Annotated[
        str | None, typer.Option("--priority", help="New priority: high, medium or low.")
    ] = None,
    notes: Annotated[
        str | None, typer.Option("--notes", help="New free-text notes (replace the old ones).")
    ] = None,
    analysis_crs: Annotated[
        str | None,
        typer.Option("--analysis-crs", help="New grid CRS, projected in metres (e.g. EPSG:32611)."),
    ] = None,
    crs: Crs_ = None,
    layer: Layer_ = None,
    dissolve: Dissolve_ = False,
    fix: Fix_ = False,
    date: Date_ = None,
    registry: Registry_ = Path("aoi"),
) -> None:
    """Change an area's fields or outline.

    A change of its decision content (outline, region, commodities, deposit models, methods,
    period) makes earlier approvals stale: the parties approve the new version."""
    changes = {
        "name_en": name_en,
        "name_ja": name_ja,
        "region": _split(region) or None,
        "commodities": _split(commodity) or None,
        "deposit_models": _split(deposit_model) or None,
        "methods": _split(method) or None,
        "period": _period(start, end),
        "priority": priority,
        "notes": notes,
        "analysis_crs": analysis_crs,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    area = _registry(registry).amend(
        area_id,
        _geometry(source, bbox, required=False),
        party=party,
        crs=crs,
        layer=layer,
        dissolve=dissolve,
        fix=fix,
        date=date,
        **changes,
    )
    typer.echo(f"{area_id}: {printable(area.history[-1].summary)}")
    _print_area(area)


@app.command()
def withdraw(
    area_id: AreaId_,
    party: Party_,
    key: Key_,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the history).")] = "",
    date: Date_ = None,
    registry: Registry_ = Path("aoi"),
) -> None:
    """Sign a party's withdrawal from an area (the area becomes withdrawn)."""
    area = _registry(registry).withdraw(
        area_id, party=party, private_key=key, date=date, reason=reason
    )
    _print_area(area)


@app.command()
def close(
    area_id: AreaId_,
    party: Party_,
    key: Key_,
    date: Date_ = None,
    registry: Registry_ = Path("aoi"),
) -> None:
    """Sign a party's closure of an agreed area (closed once every party has signed)."""
    area = _registry(registry).close(area_id, party=party, private_key=key, date=date)
    _print_area(area)


@app.command("list")
def list_(
    status: Status_ = None,
    region: RegionFilter_ = None,
    commodity: CommodityFilter_ = None,
    deposit_model: ModelFilter_ = None,
    registry: Registry_ = Path("aoi"),
) -> None:
    """List the areas as a table, with filters."""
    areas = _registry(registry).areas(
        status=_split(status) or None,
        region=_split(region) or None,
        commodity=commodity,
        deposit_model=deposit_model,
    )
    header = f"{'ID':<28} {'STATUS':<10} {'REGION':<7} {'AREA_KM2':>12}  {'PENDING':<8} {'COMMODITIES':<24} NAME"
    typer.echo(header)
    for a in areas:
        pending = ",".join(a.pending_parties) if a.status in {"proposed", "amended"} else ""
        typer.echo(
            f"{a.id:<28} {a.status:<10} {','.join(a.region):<7} {a.area_km2:>12,.1f}  "
            f"{pending or '-':<8} {','.join(a.commodities):<24} {_names(a)}"
        )
    typer.echo(f"{len(areas)} area(s)")


@app.command()
def show(area_id: AreaId_, registry: Registry_ = Path("aoi")) -> None:
    """Show one area: fields, derived status and the verification of every act."""
    from geosurvey.aoi import SURVEY_METHODS, commodities, deposit_models

    reg = _registry(registry)
    a = reg.get(area_id)
    com, dep = commodities(), deposit_models()
    w, s, e, n = a.bounds
    lines = [
        f"id:             {a.id}",
        f"name:           {_names(a)}",
        f"status:         {a.status}",
        f"region:         {', '.join(a.region)}",
        f"proposer:       {a.proposer}",
        f"parties:        {', '.join(a.required_parties)} (pending: {', '.join(a.pending_parties) or 'none'})",
        "commodities:    "
        + "; ".join(f"{c} {com[c].name_en} / {com[c].name_ja}" for c in a.commodities),
        "deposit models: "
        + ("; ".join(f"{d} {dep[d].name_en} / {dep[d].name_ja}" for d in a.deposit_models) or "-"),
        "methods:        "
        + ("; ".join(f"{m} / {SURVEY_METHODS[m].name_ja}" for m in a.methods) or "-"),
        f"period:         {a.period[0]} to {a.period[1]}" if a.period else "period:         -",
        f"priority:       {a.priority}",
        f"area:           {a.area_km2:,.3f} km² (WGS 84 ellipsoid)",
        f"bounds:         W {w:.4f}, S {s:.4f}, E {e:.4f}, N {n:.4f}"
        + ("  (crosses 180°)" if w > e else ""),
        f"analysis CRS:   {a.analysis_crs_string}",
        f"digest:         {a.digest}",
        f"notes:          {printable(a.notes, multiline=True) or '-'}",
        "acts:",
    ]
    lines += [
        f"  {c.act.date} {c.act.party:<4} {c.act.act:<9} {c.state}"
        + (f": {c.reason}" if c.reason else "")
        for c in a.checks
    ] or ["  (none)"]
    typer.echo("\n".join(lines))


@app.command()
def validate(
    strict: Annotated[bool, typer.Option("--strict", help="Fail on warnings too.")] = False,
    registry: Registry_ = Path("aoi"),
) -> None:
    """Verify every file and signature of the registry; exit 1 on any error."""
    report = _registry(registry).validate()
    typer.echo(printable(report, multiline=True))
    if not report.ok or (strict and report.warnings):
        problems = len(report.errors) + (len(report.warnings) if strict else 0)
        raise RegistryError(
            f"registry {registry} failed validation with {problems} problem(s); see above"
        )


@app.command()
def export(
    out: Annotated[
        Path, typer.Argument(help="Output file: .gpkg, .parquet, .fgb, .geojson or .kml.")
    ],
    format: Annotated[
        Literal["gpkg", "parquet", "fgb", "geojson", "kml"] | None,
        typer.Option("--format", "-f", help="Format (default: from the file suffix)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing file.")
    ] = False,
    status: Status_ = None,
    region: RegionFilter_ = None,
    commodity: CommodityFilter_ = None,
    deposit_model: ModelFilter_ = None,
    registry: Registry_ = Path("aoi"),
) -> None:
    """Export the areas with their derived status and approvals as one vector layer."""
    path = _registry(registry).export(
        out,
        format=format,
        overwrite=overwrite,
        status=_split(status) or None,
        region=_split(region) or None,
        commodity=commodity,
        deposit_model=deposit_model,
    )
    typer.echo(f"wrote {path}")


@app.command()
def history(area_id: AreaId_, registry: Registry_ = Path("aoi")) -> None:
    """Print the recorded changes of an area, oldest first."""
    for h in _registry(registry).history(area_id):
        typer.echo(f"{h.date} {h.party:<4} {h.action:<8} {h.digest[:19]}…  {printable(h.summary)}")


@app.command()
def vocab(
    which: Annotated[
        Literal["commodities", "deposit-models", "methods"],
        typer.Argument(help="Which vocabulary to print."),
    ] = "commodities",
) -> None:
    """Print a controlled vocabulary (codes with English and Japanese names)."""
    from geosurvey.aoi import SURVEY_METHODS, commodities, deposit_models

    table = {
        "commodities": commodities(),
        "deposit-models": deposit_models(),
        "methods": SURVEY_METHODS,
    }[which]
    for code, item in table.items():
        typer.echo(f"{code:<28} {item.name_en} / {item.name_ja}")
