"""The survey-area model: parties, areas, signed acts, history, and the derivation of status.

Status is never stored: :func:`derive_status` computes it from the area's decision content and the
signatures of its acts, checked against the parties' public keys.

* ``proposed``: not every required party holds a valid approval of the current version, and no
  earlier version was agreed.
* ``agreed``: every required party holds a valid approval of the current version.
* ``amended``: an earlier version was agreed and the decision content has changed since; the earlier
  approvals are *stale* until the parties approve the new version.
* ``withdrawn``: a required party has signed a withdrawal (unilateral: no party can be held to an area).
* ``closed``: the area is agreed and every required party has signed its closure (mutual).

The required parties are the framework parties (``framework = true`` in ``parties.toml``) plus every
party whose ``countries`` include one of the area's region codes (a third-country partner).
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import dataclasses
import datetime as dt
import html
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, get_args

import shapely
from pyproj import CRS
from shapely.geometry import MultiPolygon, Polygon

from geosurvey.aoi._geometry import (
    analysis_crs_for,
    geodesic_area_km2,
    geometry_from_geojson,
    geometry_to_geojson,
    lonlat_bounds,
    normalise_geometry,
)
from geosurvey.aoi._signing import digest_of, parse_public_key, verify
from geosurvey.aoi._vocab import (
    ISO_3166_ALPHA2,
    commodities,
    normalise_commodities,
    normalise_deposit_models,
    normalise_methods,
    normalise_regions,
)
from geosurvey.errors import CRSError, GeosurveyError, InputError, RegistryError
from geosurvey.grid import is_metric_crs
from geosurvey.text import control_characters, describe_character

__all__ = [
    "ACT_KINDS",
    "AREA_SCHEMA",
    "STATUSES",
    "Act",
    "ActCheck",
    "ActKind",
    "HistoryEntry",
    "Party",
    "Priority",
    "Status",
    "SurveyArea",
    "check_id",
    "check_text",
    "derive_status",
    "is_party_code",
    "required_parties",
    "text_problems",
    "with_status",
]

Status = Literal["proposed", "agreed", "amended", "withdrawn", "closed"]
ActKind = Literal["approve", "withdraw", "close"]
Priority = Literal["high", "medium", "low"]
CheckState = Literal["valid", "stale", "invalid"]
STATUSES: tuple[str, ...] = get_args(Status)
ACT_KINDS: tuple[str, ...] = get_args(ActKind)
AREA_SCHEMA = "geosurvey-aoi/1"
_DECISION_SCHEMA = "geosurvey-aoi-decision/1"
_ACT_SCHEMA = "geosurvey-aoi-act/1"

# Matched with re.fullmatch: "$" would let a trailing newline through ("abc\n").
_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
_PARTY = re.compile(r"[A-Z][A-Z0-9-]{1,15}")

# True while an area file is parsed: text read back from a file is kept as it is even when it holds
# control characters (so one hand edit cannot make the whole registry unreadable); validate()
# reports them and the command line prints them escaped. New text is always refused.
_READING_FILE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "geosurvey_aoi_reading_file", default=False
)


@contextlib.contextmanager
def _reading_file():
    token = _READING_FILE.set(True)
    try:
        yield
    finally:
        _READING_FILE.reset(token)


def is_party_code(code: object) -> bool:
    """Whether ``code`` is a party code: 2–16 upper-case letters, digits or hyphens (``"JP"``)."""
    return isinstance(code, str) and _PARTY.fullmatch(code) is not None


def check_id(area_id: object, *, where: str = "id") -> str:
    """Return ``area_id`` if it is a valid area id (a slug: ``[a-z0-9-]``, 1–64 characters).

    Ids name files in ``aoi/``, so they can hold no path separator, no dot and no upper case.
    """
    if not isinstance(area_id, str) or not _ID.fullmatch(area_id):
        raise RegistryError(
            f"{where}: {area_id!r} is not a valid area id; use 1–64 lower-case letters, digits and "
            "hyphens (no '/', '.', spaces), not starting or ending with a hyphen, e.g. 'mountain-pass'"
        )
    return area_id


def check_text(value: object, *, where: str, multiline: bool = False, required: bool = True) -> str:
    """Return ``value`` stripped and NFC-normalised if it is text without control characters.

    Parameters
    ----------
    value
        The text (a name, a note, a reason).
    where
        What to name in the error (``"area 'x' name_en"``).
    multiline
        Allow newlines and tabs (free text such as notes); names and reasons are one line.
    required
        Refuse empty text.

    Raises
    ------
    InputError
        Not text, empty when required, or holding a control character (see
        :func:`geosurvey.text.control_characters`).
    """
    if not isinstance(value, str):
        raise InputError(f"{where}: expected text, got {type(value).__name__}")
    text = unicodedata.normalize("NFC", value.strip())
    if required and not text:
        raise InputError(f"{where}: must not be empty")
    bad = control_characters(text, multiline=multiline)
    if bad and not _READING_FILE.get():
        kind = "text of several lines" if multiline else "one line of text"
        raise InputError(
            f"{where}: contains the control character {describe_character(bad[0])}; it must be "
            f"{kind} without control characters: remove it"
        )
    return text


def text_problems(area: SurveyArea) -> list[str]:
    """Where the text of a stored ``area`` holds control characters (hand edits, older files),
    each with its fix: ``["name_en contains the control character U+001B (ESCAPE); amend ...",
    ...]``, empty when there are none."""
    amend = "amend the area to replace it"
    fields = [("name_en", area.name_en, False, amend), ("name_ja", area.name_ja, False, amend),
              ("notes", area.notes, True, amend)]  # fmt: skip
    fields += [
        (
            f"history[{i}] summary",
            h.summary,
            False,
            "remove it from the file (history is not signed)",
        )
        for i, h in enumerate(area.history)
    ]
    out = []
    for name, value, multiline, fix in fields:
        bad = control_characters(value, multiline=multiline)
        if bad:
            out.append(f"{name} contains the control character {describe_character(bad[0])}; {fix}")
    return out


def _as_date(value: object, *, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise InputError(f"{where}: {value!r} is not a date; use YYYY-MM-DD") from exc


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


# ----------------------------------------------------------------------------------------------
# Parties


@dataclass(frozen=True)
class Party:
    """A government party to the survey framework, with the public keys that sign its acts.

    Attributes
    ----------
    code
        Short upper-case code (``"JP"``, ``"US"``, ``"FI"``).
    name_en, name_ja
        The party's name in English and Japanese.
    agency, agency_ja
        The agency that acts for it.
    public_keys
        Base64 Ed25519 public keys; an act verifies if one of them signed it.
    framework
        Whether the party must approve every area (the framework's parties); a partner party
        (``False``) must approve only areas in its ``countries``.
    countries
        ISO 3166-1 alpha-2 codes whose areas need this party's approval (default: its code, if that
        is a country code).
    demo_only
        Keys generated for demonstrations, whose private halves were thrown away: never evidence of
        a real decision.
    """

    code: str
    name_en: str
    name_ja: str
    agency: str = ""
    agency_ja: str = ""
    public_keys: tuple[str, ...] = ()
    framework: bool = True
    countries: tuple[str, ...] | None = None
    demo_only: bool = False

    def __post_init__(self) -> None:
        where = f"party {self.code!r}"
        if not is_party_code(self.code):
            raise RegistryError(
                f"{where}: party codes are 2–16 upper-case letters, digits or hyphens (e.g. JP)"
            )
        for name in ("framework", "demo_only"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                got = f"the text {value!r}" if isinstance(value, str) else f"{value!r}"
                raise RegistryError(
                    f"{where} {name}: expected true or false, got {got}; write {name} = true or "
                    f"{name} = false (a TOML boolean, no quotes)"
                )
        for name in ("public_keys", "countries"):
            value = getattr(self, name)
            if name == "countries" and value is None:
                continue
            ok = isinstance(value, str) or (
                isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
            )
            if not ok:
                raise RegistryError(
                    f"{where} {name}: expected a list of text values, got {value!r}; write e.g. "
                    + (
                        'countries = ["FI"]'
                        if name == "countries"
                        else 'public_keys = ["<base64 key>"]'
                    )
                )
        object.__setattr__(self, "name_en", check_text(self.name_en, where=f"{where} name_en"))
        object.__setattr__(self, "name_ja", check_text(self.name_ja, where=f"{where} name_ja"))
        object.__setattr__(
            self, "agency", check_text(self.agency, where=f"{where} agency", required=False)
        )
        object.__setattr__(
            self,
            "agency_ja",
            check_text(self.agency_ja, where=f"{where} agency_ja", required=False),
        )
        keys = (self.public_keys,) if isinstance(self.public_keys, str) else tuple(self.public_keys)
        for i, key in enumerate(keys):
            parse_public_key(key, where=f"{where} public_keys[{i}]")
        object.__setattr__(self, "public_keys", keys)
        countries = self.countries
        if countries is None:
            countries = (self.code,) if self.code in ISO_3166_ALPHA2 else ()
        elif countries:
            countries = normalise_regions(countries, where=f"{where} countries")
        object.__setattr__(self, "countries", tuple(countries))

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any], *, where: str = "parties") -> Party:
        """Build a party from a ``parties.toml`` table (or the dicts given to ``Registry.init``)."""
        if not isinstance(row, Mapping):
            raise RegistryError(
                f"{where}: expected a table of code, name_en, name_ja, ..., got {row!r}"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(row) - known
        if unknown:
            raise RegistryError(
                f"{where}: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}"
            )
        missing = {"code", "name_en", "name_ja"} - set(row)
        if missing:
            raise RegistryError(f"{where}: missing field(s) {', '.join(sorted(missing))}")
        try:
            return cls(**row)
        except GeosurveyError as exc:
            raise RegistryError(f"{where}: {exc}") from exc

    def to_mapping(self) -> dict[str, Any]:
        """The ``parties.toml`` table of this party (sorted keys)."""
        out = dataclasses.asdict(self)
        out["public_keys"] = list(self.public_keys)
        out["countries"] = list(self.countries or ())
        return dict(sorted(out.items()))


# ----------------------------------------------------------------------------------------------
# Acts and history


@dataclass(frozen=True)
class Act:
    """A signed act of a party on an area: an approval, a withdrawal or a closure.

    ``signature`` is the Ed25519 signature (base64) by ``key`` (a base64 public key, which must be
    listed for ``party``) of :meth:`statement`.
    """

    act: ActKind
    party: str
    date: dt.date
    digest: str
    key: str
    signature: str

    def statement(self, area_id: str) -> dict[str, str]:
        """What the signature covers: act, area id, party, date and the decision digest."""
        return {
            "act": self.act,
            "area": area_id,
            "date": self.date.isoformat(),
            "digest": self.digest,
            "party": self.party,
            "schema": _ACT_SCHEMA,
        }

    def to_mapping(self) -> dict[str, str]:
        return {
            "act": self.act,
            "date": self.date.isoformat(),
            "digest": self.digest,
            "key": self.key,
            "party": self.party,
            "signature": self.signature,
        }

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any], *, where: str) -> Act:
        required = {"act", "party", "date", "digest", "key", "signature"}
        if not isinstance(row, Mapping) or set(row) != required:
            got = sorted(row) if isinstance(row, Mapping) else type(row).__name__
            raise RegistryError(
                f"{where}: an act needs exactly the fields {sorted(required)}, got {got}"
            )
        if row["act"] not in ACT_KINDS:
            raise RegistryError(f"{where}: act {row['act']!r} is not one of {', '.join(ACT_KINDS)}")
        for name in ("party", "digest", "key", "signature"):
            if not isinstance(row[name], str):
                raise RegistryError(f"{where}: {name} must be text")
        return cls(
            act=row["act"],
            party=row["party"],
            date=_as_date(row["date"], where=f"{where} date"),
            digest=row["digest"],
            key=row["key"],
            signature=row["signature"],
        )


@dataclass(frozen=True)
class ActCheck:
    """The verification of one act: ``valid`` (signature verifies, current version), ``stale``
    (signature verifies, an earlier version) or ``invalid`` (with the reason)."""

    act: Act
    state: CheckState
    reason: str = ""

    def to_mapping(self) -> dict[str, str]:
        out = {
            "act": self.act.act,
            "party": self.act.party,
            "date": self.act.date.isoformat(),
            "state": self.state,
        }
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded change of an area: when, by which party, what, and the resulting digest."""

    date: dt.date
    party: str
    action: Literal["propose", "amend", "approve", "withdraw", "close"]
    digest: str
    summary: str = ""

    def __post_init__(self) -> None:
        # One line: summaries are printed one per line by `history` and `show`.
        object.__setattr__(
            self,
            "summary",
            check_text(self.summary, where=f"{self.action} summary", required=False),
        )

    def to_mapping(self) -> dict[str, str]:
        return {
            "action": self.action,
            "date": self.date.isoformat(),
            "digest": self.digest,
            "party": self.party,
            "summary": self.summary,
        }

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any], *, where: str) -> HistoryEntry:
        required = {"action", "date", "digest", "party", "summary"}
        if not isinstance(row, Mapping) or set(row) != required:
            raise RegistryError(
                f"{where}: a history entry needs exactly the fields {sorted(required)}"
            )
        if row["action"] not in {"propose", "amend", *ACT_KINDS}:
            raise RegistryError(f"{where}: unknown action {row['action']!r}")
        return cls(
            date=_as_date(row["date"], where=f"{where} date"),
            party=str(row["party"]),
            action=row["action"],
            digest=str(row["digest"]),
            summary=check_text(row["summary"], where=f"{where} summary", required=False),
        )


# ----------------------------------------------------------------------------------------------
# Survey areas


def _tuple_of(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SurveyArea:
    """A survey area: an outline on WGS 84 and what the parties decide to survey in it.

    The *decision content* (what approvals sign) is the id, the geometry, the region, the target
    commodities, the deposit models, the planned methods and the period. Names, priority, notes and
    the analysis CRS can change without new approvals.

    Parameters
    ----------
    id
        A slug, ``[a-z0-9-]``: the file name in ``aoi/``.
    name_en, name_ja
        Names in English and Japanese.
    geometry
        Polygon or MultiPolygon, longitude/latitude in degrees on WGS 84 (EPSG:4326), or a GeoJSON
        geometry mapping. It is normalised (see :func:`normalise_geometry`); an invalid one is
        refused (repair it first with ``normalise_geometry(..., fix=True)``).
    region
        ISO 3166-1 alpha-2 codes of the countries (incl. their EEZs) the area lies in.
    commodities, deposit_models, methods
        Codes from the controlled vocabularies (case-insensitive; a comma-separated string works).
    proposer
        Code of the proposing party (set by :meth:`Registry.propose`).
    period
        ``(start, end)`` dates of the planned survey, or ``None``.
    priority
        ``"high"``, ``"medium"`` or ``"low"``.
    notes
        Free text (stored as text, escaped wherever it is rendered).
    analysis_crs
        The CRS of the area's analysis grid; by default :func:`analysis_crs_for` of the geometry
        (its UTM zone, or a Lambert azimuthal equal-area CRS for large areas).
    acts, history
        Signed acts and the change log (kept by the :class:`Registry`).

    Attributes
    ----------
    status
        Derived by the :class:`Registry` from the verified acts (``"proposed"`` for an area that is
        not in a registry). Never read from a file.
    checks
        Verification of each act, as :class:`ActCheck`.
    required_parties, pending_parties
        Codes of the parties whose approval the area needs, and of those that have not yet given it
        for the current version.
    """

    id: str
    name_en: str
    name_ja: str
    geometry: Polygon | MultiPolygon
    region: tuple[str, ...]
    commodities: tuple[str, ...]
    deposit_models: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    proposer: str = ""
    period: tuple[dt.date, dt.date] | None = None
    priority: Priority = "medium"
    notes: str = ""
    analysis_crs: CRS | None = None
    acts: tuple[Act, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    status: Status = field(default="proposed", compare=False, repr=True)
    checks: tuple[ActCheck, ...] = field(default=(), compare=False, repr=False)
    required_parties: tuple[str, ...] = field(default=(), compare=False, repr=False)
    pending_parties: tuple[str, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        area = check_id(self.id)
        where = f"area {area!r}"
        set_ = object.__setattr__
        set_(self, "name_en", check_text(self.name_en, where=f"{where} name_en"))
        set_(self, "name_ja", check_text(self.name_ja, where=f"{where} name_ja"))
        geometry, _ = normalise_geometry(self.geometry, where=f"{where} geometry")
        set_(self, "geometry", geometry)
        set_(self, "region", normalise_regions(_tuple_of(self.region), where=f"{where} region"))
        codes = normalise_commodities(_tuple_of(self.commodities), where=f"{where} commodities")
        if not codes:
            raise InputError(
                f"{where} commodities: at least one target commodity is needed (e.g. REE)"
            )
        set_(self, "commodities", codes)
        set_(
            self,
            "deposit_models",
            normalise_deposit_models(
                _tuple_of(self.deposit_models), where=f"{where} deposit_models"
            ),
        )
        set_(self, "methods", normalise_methods(_tuple_of(self.methods), where=f"{where} methods"))
        if self.proposer and not is_party_code(self.proposer):
            raise InputError(f"{where} proposer: {self.proposer!r} is not a party code (e.g. US)")
        if self.period is not None:
            if isinstance(self.period, str) or len(self.period) != 2:
                raise InputError(
                    f"{where} period: expected (start, end) dates, got {self.period!r}"
                )
            start = _as_date(self.period[0], where=f"{where} period start")
            end = _as_date(self.period[1], where=f"{where} period end")
            if end < start:
                raise InputError(f"{where} period: the end {end} is before the start {start}")
            set_(self, "period", (start, end))
        if self.priority not in get_args(Priority):
            raise InputError(f"{where} priority: {self.priority!r} is not one of high, medium, low")
        set_(
            self,
            "notes",
            check_text(self.notes, where=f"{where} notes", multiline=True, required=False),
        )
        set_(
            self,
            "analysis_crs",
            _check_analysis_crs(self.analysis_crs, geometry, where=f"{where} analysis_crs"),
        )
        set_(self, "acts", tuple(self.acts))
        set_(self, "history", tuple(self.history))

    # -- derived values --------------------------------------------------------------------------

    @cached_property
    def area_km2(self) -> float:
        """Area on the WGS 84 ellipsoid, in km² (see :func:`geodesic_area_km2`)."""
        return geodesic_area_km2(self.geometry)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` in degrees; ``west > east`` across the antimeridian."""
        return lonlat_bounds(self.geometry)

    def decision_content(self) -> dict[str, Any]:
        """What approvals sign: id, geometry (canonical GeoJSON), region, commodities, deposit
        models, methods and period."""
        return {
            "commodities": list(self.commodities),
            "deposit_models": list(self.deposit_models),
            "geometry": geometry_to_geojson(self.geometry),
            "id": self.id,
            "methods": list(self.methods),
            "period": None
            if self.period is None
            else {"end": self.period[1].isoformat(), "start": self.period[0].isoformat()},
            "region": list(self.region),
            "schema": _DECISION_SCHEMA,
        }

    @cached_property
    def digest(self) -> str:
        """SHA-256 digest of the canonical JSON of :meth:`decision_content` (``"sha256:<hex>"``)."""
        return digest_of(self.decision_content())

    @property
    def analysis_crs_string(self) -> str:
        """The analysis CRS as text: ``"EPSG:<code>"`` where it has one, else its PROJ string."""
        return _crs_text(self.analysis_crs)

    # -- GeoJSON ---------------------------------------------------------------------------------

    def to_feature(self) -> dict[str, Any]:
        """The RFC 7946 Feature stored as ``aoi/<id>.geojson`` (derived values are not stored)."""
        props = {
            "acts": [a.to_mapping() for a in self.acts],
            "analysis_crs": self.analysis_crs_string,
            "commodities": list(self.commodities),
            "deposit_models": list(self.deposit_models),
            "history": [h.to_mapping() for h in self.history],
            "methods": list(self.methods),
            "name_en": self.name_en,
            "name_ja": self.name_ja,
            "notes": self.notes,
            "period": None
            if self.period is None
            else {"end": self.period[1].isoformat(), "start": self.period[0].isoformat()},
            "priority": self.priority,
            "proposer": self.proposer,
            "region": list(self.region),
            "schema": AREA_SCHEMA,
        }
        return {
            "geometry": geometry_to_geojson(self.geometry),
            "id": self.id,
            "properties": props,
            "type": "Feature",
        }

    @classmethod
    def from_feature(cls, feature: Mapping[str, Any], *, where: str = "feature") -> SurveyArea:
        """Parse a stored Feature, naming ``where`` (the file) in every error."""
        if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
            raise RegistryError(f'{where}: not a GeoJSON Feature ("type": "Feature" is missing)')
        props = feature.get("properties")
        if not isinstance(props, Mapping):
            raise RegistryError(f"{where}: the Feature has no properties object")
        if props.get("schema") != AREA_SCHEMA:
            raise RegistryError(
                f"{where}: properties.schema is {props.get('schema')!r}, expected {AREA_SCHEMA!r}"
            )
        expected = {
            "acts", "analysis_crs", "commodities", "deposit_models", "history", "methods", "name_en",
            "name_ja", "notes", "period", "priority", "proposer", "region", "schema",
        }  # fmt: skip
        missing, unknown = expected - set(props), set(props) - expected
        if missing or unknown:
            detail = "; ".join(
                part
                for part in (
                    f"missing {', '.join(sorted(missing))}" if missing else "",
                    f"unknown {', '.join(sorted(unknown))}" if unknown else "",
                )
                if part
            )
            raise RegistryError(f"{where}: properties do not match schema {AREA_SCHEMA}: {detail}")
        for name in ("acts", "history", "region", "commodities", "deposit_models", "methods"):
            if not isinstance(props[name], list):
                raise RegistryError(f"{where}: properties.{name} must be a list")
        period = props["period"]
        if period is not None:
            if not isinstance(period, Mapping) or set(period) != {"start", "end"}:
                raise RegistryError(
                    f'{where}: properties.period must be null or {{"start": ..., "end": ...}}'
                )
            period = (period["start"], period["end"])
        try:
            with _reading_file():
                return cls(
                    id=feature.get("id"),  # type: ignore[arg-type]
                    name_en=props["name_en"],
                    name_ja=props["name_ja"],
                    geometry=geometry_from_geojson(
                        feature.get("geometry") or {}, where=f"{where} geometry"
                    ),
                    region=tuple(props["region"]),
                    commodities=tuple(props["commodities"]),
                    deposit_models=tuple(props["deposit_models"]),
                    methods=tuple(props["methods"]),
                    proposer=props["proposer"],
                    period=period,
                    priority=props["priority"],
                    notes=props["notes"],
                    analysis_crs=props["analysis_crs"],
                    acts=tuple(
                        Act.from_mapping(a, where=f"{where} acts[{i}]")
                        for i, a in enumerate(props["acts"])
                    ),
                    history=tuple(
                        HistoryEntry.from_mapping(h, where=f"{where} history[{i}]")
                        for i, h in enumerate(props["history"])
                    ),
                )
        except RegistryError:
            raise
        except InputError as exc:  # name the file once
            text = str(exc)
            raise RegistryError(text if text.startswith(where) else f"{where}: {text}") from exc

    # -- rendering -------------------------------------------------------------------------------

    def commodity_names(self, language: Literal["en", "ja"] = "en") -> list[str]:
        """The target commodities' names in English or Japanese."""
        table = commodities()
        return [getattr(table[c], f"name_{language}") for c in self.commodities]

    def _repr_html_(self) -> str:
        e = html.escape
        rows = [
            ("id", self.id),
            ("name", f"{self.name_en} / {self.name_ja}"),
            ("status", self.status),
            ("region", ", ".join(self.region)),
            ("commodities", ", ".join(self.commodities)),
            ("deposit models", ", ".join(self.deposit_models)),
            ("area", f"{self.area_km2:,.1f} km²"),
            ("analysis CRS", self.analysis_crs_string),
            (
                "approvals",
                ", ".join(
                    f"{c.act.party} {c.act.date} ({c.state})"
                    for c in self.checks
                    if c.act.act == "approve"
                ),
            ),
        ]
        body = "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>" for k, v in rows)
        return f"<table class='geosurvey-area'>{body}</table>"


def _crs_text(crs: CRS) -> str:
    """``"EPSG:<code>"`` for a CRS with one, else the PROJ string it was made from, else WKT."""
    epsg = crs.to_epsg(min_confidence=100)
    if epsg:
        return f"EPSG:{epsg}"
    if crs.srs.startswith("+proj="):
        return crs.srs.replace(" +type=crs", "")
    return crs.to_wkt()


def _check_analysis_crs(value: object, geometry: shapely.Geometry, *, where: str) -> CRS:
    if value is None or value == "":
        return analysis_crs_for(geometry)
    try:
        crs = CRS.from_user_input(value)
    except Exception as exc:  # pyproj raises CRSError (not ours) and others
        raise CRSError(f"{where}: {value!r} is not a CRS pyproj understands ({exc})") from exc
    if not is_metric_crs(crs):
        raise CRSError(
            f"{where}: the analysis CRS must be projected in metres; {_crs_text(crs)} is not"
        )
    return crs


# ----------------------------------------------------------------------------------------------
# Status


def required_parties(area: SurveyArea, parties: Mapping[str, Party]) -> tuple[str, ...]:
    """Codes of the parties that must approve ``area``: the framework parties and the partners whose
    countries include one of its region codes."""
    region = set(area.region)
    return tuple(
        sorted(
            code for code, p in parties.items() if p.framework or region & set(p.countries or ())
        )
    )


def _check_act(act: Act, area: SurveyArea, parties: Mapping[str, Party]) -> ActCheck:
    party = parties.get(act.party)
    if party is None:
        return ActCheck(act, "invalid", f"party {act.party!r} is not in parties.toml")
    if act.key not in party.public_keys:
        owners = [code for code, p in parties.items() if act.key in p.public_keys]
        whose = f" (it is {', '.join(owners)}'s key)" if owners else ""
        return ActCheck(
            act, "invalid", f"the signing key is not one of party {act.party}'s public keys{whose}"
        )
    if not verify(act.key, act.statement(area.id), act.signature):
        return ActCheck(
            act, "invalid", "the signature does not verify (forged, corrupted or edited act)"
        )
    if act.digest != area.digest:
        return ActCheck(act, "stale", "signed for an earlier version of the area")
    return ActCheck(act, "valid")


def derive_status(
    area: SurveyArea, parties: Mapping[str, Party]
) -> tuple[Status, tuple[ActCheck, ...], tuple[str, ...], tuple[str, ...]]:
    """Derive an area's status from its verified acts.

    Returns
    -------
    status, checks, required, pending
        The status (see the module docstring), the verification of every act, the required parties
        and those of them without a valid approval of the current version.
    """
    checks = tuple(_check_act(a, area, parties) for a in area.acts)
    required = required_parties(area, parties)
    verified = [c.act for c in checks if c.state != "invalid" and c.act.party in required]
    current = [a for a in verified if a.digest == area.digest]
    approved = {a.party for a in current if a.act == "approve"}
    pending = tuple(p for p in required if p not in approved)
    status: Status
    if any(a.act == "withdraw" for a in verified):
        status = "withdrawn"
    elif not pending:
        closed = {a.party for a in current if a.act == "close"}
        status = "closed" if set(required) <= closed else "agreed"
    else:
        earlier: dict[str, set[str]] = {}
        for a in verified:
            if a.act == "approve" and a.digest != area.digest:
                earlier.setdefault(a.digest, set()).add(a.party)
        status = "amended" if any(set(required) <= ps for ps in earlier.values()) else "proposed"
    return status, checks, required, pending


def with_status(area: SurveyArea, parties: Mapping[str, Party]) -> SurveyArea:
    """``area`` with :attr:`SurveyArea.status` and the check attributes derived from ``parties``."""
    status, checks, required, pending = derive_status(area, parties)
    out = copy.copy(area)  # not dataclasses.replace: the area is valid, no need to check it again
    for name, value in (
        ("status", status),
        ("checks", checks),
        ("required_parties", required),
        ("pending_parties", pending),
    ):
        object.__setattr__(out, name, value)
    return out
