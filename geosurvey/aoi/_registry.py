"""The registry of survey areas: a folder of GeoJSON Features and ``parties.toml``.

Every change is a read–modify–write of one area file under a file lock (``.registry.lock`` in the
folder), and every write replaces the file atomically, so concurrent commands on one registry all
land and a failed command leaves the registry as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock
import shapely

from geosurvey.aoi._geometry import bbox_geometry, normalise_geometry, overlaps, read_geometry
from geosurvey.aoi._io import (
    dump_feature,
    export_format_for,
    load_feature,
    parties_toml,
    read_parties,
    write_layer,
)
from geosurvey.aoi._model import (
    Act,
    ActKind,
    HistoryEntry,
    Party,
    Status,
    SurveyArea,
    _as_date,
    _today,
    check_id,
    check_text,
    required_parties,
    text_problems,
    with_status,
)
from geosurvey.aoi._signing import (
    PrivateKeyLike,
    load_private_key,
    parse_public_key,
    public_key_b64,
    sign,
)
from geosurvey.aoi._vocab import (
    commodities,
    commodity_matches,
    normalise_deposit_models,
    normalise_regions,
)
from geosurvey.errors import (
    ApprovalError,
    GeosurveyError,
    InputError,
    MissingInputError,
    OutputError,
    RegistryError,
    SignatureError,
)
from geosurvey.io import atomic_write_text, output_folder

__all__ = ["GeometryLike", "Registry", "ValidationReport"]

GeometryLike = shapely.Geometry | Mapping[str, Any] | str | Path | Sequence[float]
"""A shapely (multi)polygon, a GeoJSON geometry or Feature, a vector file, or a bbox (W, S, E, N)."""

_PARTIES = "parties.toml"
_LOCK = ".registry.lock"
_AMENDABLE = {
    "name_en", "name_ja", "region", "commodities", "deposit_models", "methods", "period", "priority",
    "notes", "analysis_crs",
}  # fmt: skip
_DECISION_FIELDS = ("geometry", "region", "commodities", "deposit_models", "methods", "period")
# A date given for an act may be one day ahead of today in UTC: it is already that day east of UTC.
_DATE_SLACK = dt.timedelta(days=1)


def _act_date(
    date: dt.date | str | None, *, what: str, not_before: dt.date | None, since: str = ""
) -> dt.date:
    """The date of a change or act: today (UTC) by default; never in the future (beyond the
    date-line slack) nor before ``not_before`` (when the version it acts on was recorded)."""
    today = _today()
    when = _as_date(date, where=f"{what} date") if date is not None else today
    if when > today + _DATE_SLACK:
        raise InputError(
            f"{what} date: {when} is in the future (today is {today}, UTC); date it on the day "
            "it is made"
        )
    if not_before is not None and when < not_before:
        raise InputError(
            f"{what} date: {when} is before {since} ({not_before}); give a date on or after "
            f"{not_before}"
        )
    return when


def _recorded_on(area: SurveyArea, digest: str) -> dt.date | None:
    """The date the version ``digest`` of ``area`` was first recorded in its history, if it was."""
    dates = [
        h.date for h in area.history if h.digest == digest and h.action in {"propose", "amend"}
    ]
    return min(dates) if dates else None


@dataclass(frozen=True)
class ValidationReport:
    """What :meth:`Registry.validate` found.

    Attributes
    ----------
    errors
        Problems that make the registry untrustworthy (forged or corrupt acts, schema errors,
        duplicate ids, unreadable files): ``geosurvey aoi validate`` exits non-zero on any.
    warnings
        Things to look at that do not break trust: stale approvals, overlaps between agreed areas,
        hand edits not in an area's history, demo-only keys.
    statuses
        The derived status of every readable area, by id.
    """

    path: Path
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    statuses: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when there are no errors."""
        return not self.errors

    def __str__(self) -> str:
        lines = [
            f"registry {self.path}: {len(self.statuses)} area(s), {len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        ]
        lines += [f"error: {e}" for e in self.errors]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


class Registry:
    """The survey-area registry in a folder (by default ``aoi/``).

    Parameters
    ----------
    path
        The registry folder, holding ``parties.toml`` and one ``<area-id>.geojson`` per area.

    Examples
    --------
    >>> import tempfile
    >>> from geosurvey.aoi import Registry, generate_keypair
    >>> jp_key, jp_pub = generate_keypair()
    >>> us_key, us_pub = generate_keypair()
    >>> reg = Registry.init(tempfile.mkdtemp() + "/aoi", parties=[
    ...     {"code": "JP", "name_en": "Japan", "name_ja": "日本", "public_keys": [jp_pub]},
    ...     {"code": "US", "name_en": "United States", "name_ja": "アメリカ合衆国", "public_keys": [us_pub]}])
    >>> area = reg.propose((-115.6, 35.4, -115.4, 35.6), id="mountain-pass", name_en="Mountain Pass",
    ...                    name_ja="マウンテンパス", region="US", commodities="REE", proposer="US")
    >>> area.status, area.analysis_crs_string
    ('proposed', 'EPSG:32611')
    >>> _ = reg.approve("mountain-pass", party="US", private_key=us_key)
    >>> reg.approve("mountain-pass", party="JP", private_key=jp_key).status
    'agreed'
    """

    def __init__(self, path: str | Path = "aoi") -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise RegistryError(
                f"registry folder {self.path} is a file, not a folder; give the registry's folder "
                "(the one holding parties.toml)"
            )
        if not self.path.is_dir():
            raise MissingInputError(
                f"registry folder {self.path} does not exist; create one with Registry.init(path, parties=...)"
            )
        self._parties = read_parties(self.path / _PARTIES)

    def __repr__(self) -> str:
        return f"Registry({str(self.path)!r}: {len(self.ids())} areas, parties {', '.join(self._parties)})"

    # -- creation --------------------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        path: str | Path,
        *,
        parties: Iterable[Mapping[str, Any] | Party],
        overwrite: bool = False,
    ) -> Registry:
        """Create a new, empty registry folder with its ``parties.toml``.

        Parameters
        ----------
        path
            The folder to create; it must not exist (or be empty), unless ``overwrite``.
        parties
            Each party as a :class:`Party` or a mapping with ``code``, ``name_en``, ``name_ja``,
            ``agency``, ``public_keys`` and optionally ``framework`` (default true), ``countries``,
            ``agency_ja`` and ``demo_only``.
        overwrite
            Replace an existing registry folder.
        """
        path = Path(path)
        table: dict[str, Party] = {}
        for i, row in enumerate(parties):
            party = (
                row if isinstance(row, Party) else Party.from_mapping(row, where=f"parties[{i}]")
            )
            if party.code in table:
                raise RegistryError(f"parties[{i}]: party {party.code} is given twice")
            table[party.code] = party
        if not any(p.framework for p in table.values()):
            raise RegistryError(
                "parties: at least one party must be a framework party (framework = true)"
            )
        if path.exists() and any(path.iterdir()) and not overwrite:
            raise OutputError(
                f"{path} exists and is not empty; choose a new folder or pass overwrite=True"
            )
        with output_folder(path, overwrite=True) as tmp:
            atomic_write_text(tmp / _PARTIES, parties_toml(table))
            atomic_write_text(tmp / ".gitignore", f"{_LOCK}\n")
        return cls(path)

    # -- reading ---------------------------------------------------------------------------------

    @property
    def parties(self) -> dict[str, Party]:
        """The parties of ``parties.toml``, by code."""
        return dict(self._parties)

    def add_key(self, party: str, public_key: str) -> Party:
        """Add a public key to ``party`` in ``parties.toml`` (a new member of staff, a rotated key).

        Acts signed with the party's other keys stay valid; remove a key by editing the file.

        Raises
        ------
        RegistryError
            Unknown party, or the key is already listed (for this or another party).
        InputError
            ``public_key`` is not a base64 Ed25519 public key.
        """
        parse_public_key(public_key, where="public key")
        with self._lock():
            parties = read_parties(self.path / _PARTIES)
            member = parties.get(party)
            if member is None:
                raise RegistryError(
                    f"party {party!r} is not in {self.path / _PARTIES} (parties: {', '.join(parties)})"
                )
            owners = [code for code, p in parties.items() if public_key in p.public_keys]
            if owners:
                raise RegistryError(f"that public key is already listed for {', '.join(owners)}")
            parties[party] = dataclasses.replace(
                member, public_keys=(*member.public_keys, public_key)
            )
            self._write_text(self.path / _PARTIES, parties_toml(parties))
            self._parties = parties
        return parties[party]

    def ids(self) -> list[str]:
        """The ids of the areas in the registry, sorted."""
        return sorted(
            p.stem
            for p in self.path.glob("*.geojson")
            if not p.name.startswith(".") and p.is_file()
        )

    def __iter__(self) -> Iterator[SurveyArea]:
        return iter(self.areas())

    def __len__(self) -> int:
        return len(self.ids())

    def __contains__(self, area_id: object) -> bool:
        return isinstance(area_id, str) and area_id in self.ids()

    def _file(self, area_id: str) -> Path:
        return self.path / f"{check_id(area_id, where='area id')}.geojson"

    def _read(self, area_id: str) -> SurveyArea:
        path = self._file(area_id)
        if not path.is_file():
            known = ", ".join(self.ids()) or "none"
            raise MissingInputError(f"no area {area_id!r} in registry {self.path} (areas: {known})")
        area = SurveyArea.from_feature(load_feature(path), where=str(path))
        if area.id != area_id:
            raise RegistryError(
                f"{path}: the Feature's id is {area.id!r}, but the file is named for {area_id!r}"
            )
        return area

    def get(self, area_id: str) -> SurveyArea:
        """The area ``area_id`` with its derived status and the verification of its acts."""
        return with_status(self._read(area_id), self._parties)

    def status(self, area_id: str) -> Status:
        """The derived status of ``area_id``: proposed, agreed, amended, withdrawn or closed."""
        return self.get(area_id).status

    def history(self, area_id: str) -> list[HistoryEntry]:
        """The recorded changes of ``area_id``, oldest first."""
        return list(self._read(area_id).history)

    def areas(
        self,
        *,
        status: Status | Iterable[Status] | None = None,
        region: str | Iterable[str] | None = None,
        commodity: str | None = None,
        deposit_model: str | None = None,
    ) -> list[SurveyArea]:
        """The areas (with derived status), filtered.

        Parameters
        ----------
        status
            Keep areas with this status (or any of these).
        region
            Keep areas in this country (or any of these ISO 3166-1 codes).
        commodity
            Keep areas targeting this commodity, a member of it or a group holding it ("REE" finds an
            area for "Nd"; see :func:`commodity_matches`).
        deposit_model
            Keep areas with this deposit model.
        """
        statuses = _as_set(status)
        if statuses:
            from geosurvey.aoi._model import STATUSES

            bad = statuses - set(STATUSES)
            if bad:
                raise InputError(
                    f"status filter: {', '.join(sorted(bad))} is not one of {', '.join(STATUSES)}"
                )
        regions = set(normalise_regions(region, where="region filter")) if region else set()
        model = (
            normalise_deposit_models([deposit_model], where="deposit model filter")[0]
            if deposit_model
            else None
        )
        if commodity:
            commodity_matches((), commodity)  # refuses unknown codes even on an empty registry
        out = []
        for area_id in self.ids():
            area = self.get(area_id)
            if statuses and area.status not in statuses:
                continue
            if regions and not regions & set(area.region):
                continue
            if commodity and not commodity_matches(area.commodities, commodity):
                continue
            if model and model not in area.deposit_models:
                continue
            out.append(area)
        return out

    # -- changes ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Hold the registry's file lock; refuse clearly when it cannot be taken."""
        lock = filelock.FileLock(str(self.path / _LOCK), timeout=120)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise RegistryError(
                f"registry {self.path} is locked by another command (for over 120 s, "
                f"{self.path / _LOCK}); try again when it has finished"
            ) from None
        except OSError as exc:
            raise OutputError(
                f"cannot change registry {self.path}: the folder is not writable ({exc.strerror}); "
                "get write access to it, or work on a copy"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def _write_text(self, path: Path, text: str) -> None:
        try:
            atomic_write_text(path, text)
        except OutputError:
            raise
        except OSError as exc:
            raise OutputError(
                f"cannot write {path}: {exc.strerror}; the registry is unchanged"
            ) from None

    def _write(self, area: SurveyArea) -> None:
        self._write_text(self._file(area.id), dump_feature(area.to_feature()))

    def _party(self, code: str, *, role: str) -> Party:
        party = self._parties.get(code)
        if party is None:
            raise RegistryError(
                f"{role}: party {code!r} is not in {self.path / _PARTIES} (parties: {', '.join(self._parties)})"
            )
        return party

    def propose(
        self,
        area: SurveyArea | GeometryLike,
        /,
        *,
        proposer: str | None = None,
        date: dt.date | str | None = None,
        fix: bool = False,
        crs: Any = None,
        layer: str | int | None = None,
        dissolve: bool = False,
        **fields: Any,
    ) -> SurveyArea:
        """Add a new area to the registry (status ``proposed``).

        Parameters
        ----------
        area
            A :class:`SurveyArea`, or its geometry (shapely, GeoJSON geometry or Feature, a vector
            file path, or a bbox ``(west, south, east, north)``) with its fields in ``**fields``.
        proposer
            Code of the proposing party (overrides the area's ``proposer``).
        date
            Date of the proposal (default: today, UTC).
        fix
            Repair an invalid geometry with :func:`shapely.make_valid` (reported in the history).
        crs, layer, dissolve
            For a vector file: its CRS when it is not EPSG:4326, the layer, merging several features
            (see :func:`read_geometry`).
        **fields
            ``id``, ``name_en``, ``name_ja``, ``region``, ``commodities``, ``deposit_models``,
            ``methods``, ``period``, ``priority``, ``notes``, ``analysis_crs``.

        Raises
        ------
        RegistryError
            Duplicate id, unknown proposer, a region with no party to approve it.
        InputError, GeometryError, CRSError
            Bad fields or geometry (see :class:`SurveyArea`); nothing is written.
        """
        if isinstance(area, SurveyArea):
            if fields or fix or crs is not None or layer is not None or dissolve:
                raise InputError(
                    "propose: give either a SurveyArea or a geometry with fields, not both"
                )
            notes: list[str] = []
        else:
            geometry, notes = _coerce_geometry(
                area, fix=fix, crs=crs, layer=layer, dissolve=dissolve
            )
            unknown = set(fields) - _AMENDABLE - {"id"}
            if unknown:
                raise InputError(f"propose: unknown field(s) {', '.join(sorted(unknown))}")
            missing = {"id", "name_en", "name_ja", "region", "commodities"} - set(fields)
            if missing:
                raise InputError(f"propose: missing field(s) {', '.join(sorted(missing))}")
            area = SurveyArea(geometry=geometry, **fields)
        proposer = proposer or area.proposer
        if not proposer:
            raise InputError("propose: name the proposing party (proposer='US')")
        self._party(proposer, role="proposer")
        self._check_region_parties(area)
        parties_to_area = required_parties(area, self._parties)
        if proposer not in parties_to_area:
            raise RegistryError(
                f"proposer: party {proposer} is not a party to an area in {', '.join(area.region)} "
                f"(its parties would be {', '.join(parties_to_area)})"
            )
        when = _act_date(date, what=f"propose {area.id!r}", not_before=None)
        summary = "proposed" + "".join(f"; {n}" for n in notes)
        area = dataclasses.replace(
            area,
            proposer=proposer,
            acts=(),
            history=(HistoryEntry(when, proposer, "propose", area.digest, summary),),
        )
        with self._lock():
            if self._file(area.id).exists():
                raise RegistryError(
                    f"id {area.id!r}: an area with this id already exists in {self.path}; choose another id "
                    "or amend the existing area"
                )
            self._write(area)
        return self.get(area.id)

    def _check_region_parties(self, area: SurveyArea) -> None:
        covered = {c for p in self._parties.values() for c in (p.countries or ())}
        missing = [c for c in area.region if c not in covered]
        if missing:
            raise RegistryError(
                f"area {area.id!r} region: no party in {self.path / _PARTIES} covers "
                f"{', '.join(missing)}; add the partner country's party (with its public key) before "
                "proposing an area there"
            )

    def amend(
        self,
        area_id: str,
        /,
        geometry: GeometryLike | None = None,
        *,
        party: str,
        date: dt.date | str | None = None,
        fix: bool = False,
        crs: Any = None,
        layer: str | int | None = None,
        dissolve: bool = False,
        **changes: Any,
    ) -> SurveyArea:
        """Change an area. A change of decision content (geometry, region, commodities, deposit
        models, methods, period) makes earlier approvals stale: an agreed area becomes ``amended``
        until every required party approves the new version.

        Parameters
        ----------
        area_id
            The area to change.
        geometry
            A new outline (as for :meth:`propose`), or ``None`` to keep it.
        party
            Code of the party making the change (recorded in the history).
        **changes
            New values of ``name_en``, ``name_ja``, ``region``, ``commodities``, ``deposit_models``,
            ``methods``, ``period``, ``priority``, ``notes`` or ``analysis_crs``.
        """
        unknown = set(changes) - _AMENDABLE
        if unknown:
            raise InputError(
                f"amend: cannot change {', '.join(sorted(unknown))}; amendable: {', '.join(sorted(_AMENDABLE))}"
            )
        self._party(party, role="amending party")
        notes: list[str] = []
        if geometry is not None:
            new_geometry, notes = _coerce_geometry(
                geometry, fix=fix, crs=crs, layer=layer, dissolve=dissolve
            )
            changes["geometry"] = new_geometry
        _act_date(date, what=f"amend {area_id!r}", not_before=None)  # refuse before the lock
        with self._lock():
            current = self.get(area_id)
            when = _act_date(
                date,
                what=f"amend {area_id!r}",
                not_before=max((h.date for h in current.history), default=None),
                since="the area's last recorded change",
            )
            if current.status in {"withdrawn", "closed"}:
                raise ApprovalError(
                    f"area {area_id!r} is {current.status}; it cannot be amended (propose a new area)"
                )
            if party not in current.required_parties:
                raise ApprovalError(
                    f"party {party} is not a party to area {area_id!r} (its parties: {', '.join(current.required_parties)})"
                )
            if "geometry" in changes and "analysis_crs" not in changes:
                changes["analysis_crs"] = None  # derive it again from the new outline
            updated = dataclasses.replace(current, **changes)
            self._check_region_parties(updated)
            changed = [
                name
                for name in ("geometry", *sorted(_AMENDABLE))
                if _differs(getattr(current, name), getattr(updated, name))
            ]
            if not changed:
                raise InputError(
                    f"amend {area_id!r}: nothing changes; give a new value for at least one field"
                )
            decision = [name for name in changed if name in _DECISION_FIELDS]
            summary = "changed " + ", ".join(changed)
            if decision and updated.digest != current.digest:
                summary += "; approvals of the earlier version are now stale"
            summary += "".join(f"; {n}" for n in notes)
            entry = HistoryEntry(when, party, "amend", updated.digest, summary)
            updated = dataclasses.replace(updated, history=(*current.history, entry))
            self._write(updated)
        return self.get(area_id)

    def _act(
        self,
        kind: ActKind,
        area_id: str,
        *,
        party: str,
        private_key: PrivateKeyLike,
        date: dt.date | str | None,
        summary: str,
    ) -> SurveyArea:
        self._parties = read_parties(self.path / _PARTIES)  # another process may have added a key
        member = self._party(party, role=f"{kind} party")
        key = load_private_key(private_key, where=f"{kind} {area_id}: the private key")
        if not member.public_keys:
            raise SignatureError(
                f"party {party} has no public key in {self.path / _PARTIES}; add the key printed by "
                "`geosurvey aoi keygen` to its public_keys before it can sign"
            )
        public = public_key_b64(key)
        if public not in member.public_keys:
            owners = [code for code, p in self._parties.items() if public in p.public_keys]
            whose = (
                f"it is {', '.join(owners)}'s key" if owners else "it is not listed for any party"
            )
            raise SignatureError(
                f"the private key given for party {party} does not match any of {party}'s public keys in "
                f"{self.path / _PARTIES} ({whose}); use {party}'s own key"
            )
        _act_date(date, what=f"{kind} {area_id!r}", not_before=None)  # refuse before the lock
        with self._lock():
            current = self.get(area_id)
            when = _act_date(
                date,
                what=f"{kind} {area_id!r}",
                not_before=_recorded_on(current, current.digest),
                since="the version it signs was recorded",
            )
            if party not in current.required_parties:
                raise ApprovalError(
                    f"party {party} is not a party to area {area_id!r} (its parties: {', '.join(current.required_parties)})"
                )
            if current.status in {"withdrawn", "closed"}:
                raise ApprovalError(
                    f"area {area_id!r} is {current.status}; no further acts can be signed"
                )
            valid_now = {(c.act.act, c.act.party) for c in current.checks if c.state == "valid"}
            if (kind, party) in valid_now:
                raise ApprovalError(
                    f"party {party} has already signed '{kind}' for the current version of {area_id!r}"
                )
            if kind == "close" and current.status != "agreed":
                raise ApprovalError(
                    f"area {area_id!r} is {current.status}; only an agreed area can be closed"
                )
            unsigned = Act(kind, party, when, current.digest, public, "")
            act = dataclasses.replace(unsigned, signature=sign(key, unsigned.statement(area_id)))
            entry = HistoryEntry(when, party, kind, current.digest, summary)
            self._write(
                dataclasses.replace(
                    current, acts=(*current.acts, act), history=(*current.history, entry)
                )
            )
        return self.get(area_id)

    def approve(
        self,
        area_id: str,
        *,
        party: str,
        private_key: PrivateKeyLike,
        date: dt.date | str | None = None,
    ) -> SurveyArea:
        """Sign ``party``'s approval of the current version of ``area_id``.

        Parameters
        ----------
        area_id
            The area.
        party
            The approving party's code.
        private_key
            The party's Ed25519 private key (PEM bytes or text, a path to the PEM file, or a key).
        date
            Date of the approval (default: today, UTC).

        Raises
        ------
        SignatureError
            The key is not one of the party's public keys (another party's key), or the party has none.
        ApprovalError
            The party is not a party to this area, already approved this version, or the area is
            withdrawn or closed.
        """
        return self._act(
            "approve", area_id, party=party, private_key=private_key, date=date, summary="approved"
        )

    def withdraw(
        self,
        area_id: str,
        *,
        party: str,
        private_key: PrivateKeyLike,
        date: dt.date | str | None = None,
        reason: str = "",
    ) -> SurveyArea:
        """Sign ``party``'s withdrawal from ``area_id``: the area is ``withdrawn`` (unilateral, final).

        ``reason`` is one line of text (recorded in the history); one with a control character
        (ESC, U+202E, a newline) is refused before anything is signed.
        """
        reason = check_text(reason, where=f"withdraw {area_id!r} reason", required=False)
        summary = "withdrawn" + (f": {reason}" if reason else "")
        return self._act(
            "withdraw", area_id, party=party, private_key=private_key, date=date, summary=summary
        )

    def close(
        self,
        area_id: str,
        *,
        party: str,
        private_key: PrivateKeyLike,
        date: dt.date | str | None = None,
    ) -> SurveyArea:
        """Sign ``party``'s closure of an agreed area; it is ``closed`` once every required party has."""
        return self._act(
            "close", area_id, party=party, private_key=private_key, date=date, summary="closed"
        )

    # -- checking --------------------------------------------------------------------------------

    def validate(self) -> ValidationReport:
        """Check every file of the registry: schema, ids, geometry, signatures, overlaps.

        Every act's signature is verified against the public keys of ``parties.toml``; a forged or
        corrupted act (signed by another key, for another digest, for a party whose key did not sign
        it) is an error. Overlaps between agreed areas and stale approvals are warnings.
        """
        errors: list[str] = []
        warnings: list[str] = []
        statuses: dict[str, str] = {}
        seen: dict[str, Path] = {}
        agreed: dict[str, shapely.Geometry] = {}
        for party in self._parties.values():
            if party.demo_only:
                warnings.append(
                    f"parties.toml: {party.code}'s keys are demo-only keys; they prove no real decision"
                )
            if not party.public_keys:
                warnings.append(
                    f"parties.toml: party {party.code} has no public key; it cannot sign acts"
                )
        for path in sorted(self.path.iterdir()):
            if path.name.startswith(".") or path.name in {_PARTIES, "README.md"}:
                continue
            if path.suffix != ".geojson" or not path.is_file():
                what = "a folder" if path.is_dir() else "not an area file"
                warnings.append(f"{path}: {what} (areas are <id>.geojson files); ignored")
                continue
            try:
                check_id(path.stem, where=f"{path} file name")
                area = SurveyArea.from_feature(load_feature(path), where=str(path))
            except GeosurveyError as exc:
                errors.append(str(exc))
                continue
            if area.id in seen:
                errors.append(f"{path}: duplicate id {area.id!r} (also in {seen[area.id]})")
                continue
            seen[area.id] = path
            if area.id != path.stem:
                errors.append(
                    f"{path}: the Feature's id is {area.id!r}; the file must be named {area.id}.geojson"
                )
            area = with_status(area, self._parties)
            statuses[area.id] = area.status
            errors += [f"{path}: {problem}" for problem in text_problems(area)]
            for i, check in enumerate(area.checks):
                act = check.act
                label = f"{path}: acts[{i}] ({act.act} by {act.party} on {act.date})"
                recorded = _recorded_on(area, act.digest)
                if act.date > _today() + _DATE_SLACK:
                    errors.append(f"{label}: dated in the future (today is {_today()}, UTC)")
                elif recorded is not None and act.date < recorded:
                    errors.append(
                        f"{label}: dated before the version it signs was recorded ({recorded})"
                    )
                if check.state == "invalid":
                    errors.append(f"{label}: {check.reason}")
                elif (
                    check.state == "stale"
                    and act.party in area.pending_parties
                    and area.status != "withdrawn"
                ):
                    warnings.append(
                        f"{label}: stale, signed for an earlier version ({act.digest[:19]}…)"
                    )
            if area.proposer and area.proposer not in self._parties:
                errors.append(f"{path}: proposer {area.proposer!r} is not in parties.toml")
            if area.history and area.digest not in {h.digest for h in area.history}:
                warnings.append(
                    f"{path}: the decision content matches no recorded version (edited by hand after its "
                    "last recorded change); record changes with `geosurvey aoi amend`"
                )
            if area.status == "agreed":
                agreed[area.id] = area.geometry
        for ov in overlaps(agreed):
            warnings.append(
                f"agreed areas {ov.first} and {ov.second} overlap by {ov.area_km2:,.3f} km²"
            )
        return ValidationReport(self.path, tuple(errors), tuple(warnings), statuses)

    # -- layers ----------------------------------------------------------------------------------

    def to_geodataframe(self, **filters: Any) -> Any:
        """The areas as a GeoDataFrame in EPSG:4326, one row per area, with derived columns.

        Columns: ``id``, ``name_en``, ``name_ja``, ``status``, ``region`` (comma-separated ISO
        codes), ``commodities`` (comma-separated codes), ``commodities_en``, ``commodities_ja``,
        ``deposit_models``, ``methods``, ``proposer``, ``period_start``, ``period_end``,
        ``priority``, ``area_km2`` (float, WGS 84 ellipsoid), ``analysis_crs`` (e.g. ``"EPSG:32611"``),
        ``required_parties``, ``pending_parties``, ``approvals`` (JSON list of ``{"party", "date",
        "state"}``, state ``valid``/``stale``/``invalid``), ``digest``, ``notes``, ``geometry``.
        ``**filters`` are those of :meth:`areas`.
        """
        import geopandas as gpd

        rows = [_row(area) for area in self.areas(**filters)]
        columns = [
            "id", "name_en", "name_ja", "status", "region", "commodities", "commodities_en",
            "commodities_ja", "deposit_models", "methods", "proposer", "period_start", "period_end",
            "priority", "area_km2", "analysis_crs", "required_parties", "pending_parties", "approvals",
            "digest", "notes", "geometry",
        ]  # fmt: skip
        frame = gpd.GeoDataFrame(rows, columns=columns, geometry="geometry", crs="EPSG:4326")
        frame["area_km2"] = frame["area_km2"].astype(float)
        return frame

    def export(
        self,
        path: str | Path,
        *,
        format: str | None = None,
        overwrite: bool = False,
        **filters: Any,
    ) -> Path:
        """Export the areas (with status and approval columns) as one layer.

        Parameters
        ----------
        path
            The output file; its suffix names the format unless ``format`` is given.
        format
            ``"gpkg"``, ``"parquet"`` (GeoParquet), ``"fgb"``, ``"geojson"`` (RFC 7946) or ``"kml"``.
        overwrite
            Replace an existing file.
        **filters
            Those of :meth:`areas`.

        Raises
        ------
        OutputError
            ``path`` is in the registry folder (it could replace an area file or
            ``parties.toml``), is a folder, or exists and ``overwrite`` is false.
        InputError
            Unknown format, or no area matches the filters.
        """
        path = Path(path)
        if path.absolute().parent.resolve() == self.path.resolve():
            raise OutputError(
                f"export: {path} is inside the registry folder {self.path}; a layer written there "
                "could replace an area file or parties.toml: write it outside the registry"
            )
        fmt = export_format_for(path, format)
        frame = self.to_geodataframe(**filters)
        if frame.empty:
            raise InputError("export: no areas match the filters; nothing was written")
        return write_layer(frame, path, format=fmt, overwrite=overwrite)


# ----------------------------------------------------------------------------------------------
# Helpers


def _as_set(value: str | Iterable[str] | None) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, str):
        return {v.strip() for v in value.split(",") if v.strip()}
    return set(value)


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, shapely.Geometry) and isinstance(b, shapely.Geometry):
        return not a.equals_exact(b, tolerance=0.0) or a.geom_type != b.geom_type
    return a != b


def _coerce_geometry(
    value: GeometryLike, *, fix: bool, crs: Any, layer: str | int | None, dissolve: bool
) -> tuple[shapely.Geometry, list[str]]:
    """Normalise any accepted geometry input to a canonical (multi)polygon and notes."""
    if isinstance(value, str | Path) and not isinstance(value, shapely.Geometry):
        where = str(value)
        geometry = read_geometry(value, crs=crs, layer=layer, dissolve=dissolve)
    elif isinstance(value, Mapping):
        where = "geometry"
        geometry = value.get("geometry") if value.get("type") == "Feature" else value
        if geometry is None:
            raise InputError("geometry: the Feature has no geometry")
    elif isinstance(value, shapely.Geometry):
        where, geometry = "geometry", value
    elif isinstance(value, Sequence) and len(value) == 4:
        where = "bbox"
        geometry = bbox_geometry(value, where="bbox")
    else:
        raise InputError(
            f"geometry: expected a shapely polygon, a GeoJSON geometry, a file path or a bbox "
            f"(west, south, east, north); got {type(value).__name__}"
        )
    if crs is not None and not isinstance(value, str | Path):
        raise InputError(
            "crs: only a vector file's CRS can be given; other geometries are EPSG:4326"
        )
    return normalise_geometry(geometry, fix=fix, where=where)


def _row(area: SurveyArea) -> dict[str, Any]:
    table = commodities()
    return {
        "id": area.id,
        "name_en": area.name_en,
        "name_ja": area.name_ja,
        "status": area.status,
        "region": ",".join(area.region),
        "commodities": ",".join(area.commodities),
        "commodities_en": ", ".join(table[c].name_en for c in area.commodities),
        "commodities_ja": "、".join(table[c].name_ja for c in area.commodities),
        "deposit_models": ",".join(area.deposit_models),
        "methods": ",".join(area.methods),
        "proposer": area.proposer,
        "period_start": area.period[0].isoformat() if area.period else None,
        "period_end": area.period[1].isoformat() if area.period else None,
        "priority": area.priority,
        "area_km2": area.area_km2,
        "analysis_crs": area.analysis_crs_string,
        "required_parties": ",".join(area.required_parties),
        "pending_parties": ",".join(area.pending_parties),
        "approvals": json.dumps(
            [
                {"party": c.act.party, "date": c.act.date.isoformat(), "state": c.state}
                for c in area.checks
                if c.act.act == "approve"
            ],
            ensure_ascii=False,
        ),
        "digest": area.digest,
        "notes": area.notes,
        "geometry": area.geometry,
    }
