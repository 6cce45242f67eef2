"""The registry: lifecycle and derived status, signatures checked independently, validation of
forged and corrupt files, bad input that changes nothing on disk, layers and exports."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from shapely.geometry import box

from geosurvey.aoi import (
    Registry,
    SurveyArea,
    commodities,
    commodity_matches,
    critical_mineral_lists,
    deposit_models,
    generate_keypair,
    geodesic_area_km2,
)
from geosurvey.errors import (
    ApprovalError,
    CRSError,
    GeometryError,
    InputError,
    MissingInputError,
    RegistryError,
    SignatureError,
)

FIELDS = {
    "name_en": "Test area",
    "name_ja": "試験地域",
    "region": "US",
    "commodities": ["REE", "Nd"],
    "deposit_models": ["carbonatite-ree"],
    "methods": ["airborne-magnetics"],
    "period": ("2026-01-01", "2026-12-31"),
}


@pytest.fixture()
def keys() -> dict[str, tuple[bytes, str]]:
    return {code: generate_keypair() for code in ("JP", "US", "FI", "XX")}


@pytest.fixture()
def reg(tmp_path: Path, keys) -> Registry:
    return Registry.init(
        tmp_path / "aoi",
        parties=[
            {
                "code": "JP",
                "name_en": "Japan",
                "name_ja": "日本",
                "agency": "GSJ",
                "public_keys": [keys["JP"][1]],
            },
            {
                "code": "US",
                "name_en": "United States",
                "name_ja": "アメリカ合衆国",
                "agency": "USGS",
                "public_keys": [keys["US"][1]],
            },
            {
                "code": "FI",
                "name_en": "Finland",
                "name_ja": "フィンランド",
                "agency": "GTK",
                "framework": False,
                "public_keys": [keys["FI"][1]],
            },
            {
                "code": "CA",
                "name_en": "Canada",
                "name_ja": "カナダ",
                "agency": "GSC",
                "framework": False,
                "public_keys": [],
            },
        ],
    )


def propose(
    reg: Registry,
    area_id: str = "test-area",
    bbox=(-115.6, 35.4, -115.4, 35.6),
    geometry=None,
    **fields,
) -> SurveyArea:
    """Propose a test area from ``bbox`` (or any ``geometry`` input) with :data:`FIELDS`."""
    source = bbox if geometry is None else geometry
    fields.setdefault("date", "2025-11-01")  # before the approvals the tests date in 2025-11
    return reg.propose(
        source, id=area_id, proposer=fields.pop("proposer", "US"), **{**FIELDS, **fields}
    )


def approve_all(reg: Registry, keys, area_id: str, parties=("US", "JP")) -> SurveyArea:
    for party in parties:
        area = reg.approve(area_id, party=party, private_key=keys[party][0])
    return area


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (the lock file aside) by name, with its SHA-256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".registry.lock"
    }


def edit_file(reg: Registry, area_id: str, change) -> None:
    path = reg.path / f"{area_id}.geojson"
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")


# ----------------------------------------------------------------------------------------------
# Vocabularies


def test_vocabularies_ship_with_english_and_japanese_names() -> None:
    table = commodities()
    assert table["REE"].name_ja.startswith("希土類")
    assert table["LREE"].name_ja == "軽希土類元素" and table["HREE"].name_ja == "重希土類元素"
    assert (table["Li"].name_ja, table["Co"].name_ja, table["Ni"].name_ja) == (
        "リチウム",
        "コバルト",
        "ニッケル",
    )
    assert table["graphite"].name_ja.startswith("黒鉛")
    light = {c for c, v in table.items() if v.parent == "LREE"}
    heavy = {c for c, v in table.items() if v.parent == "HREE"}
    assert light == {"La", "Ce", "Pr", "Nd", "Sm", "Eu"}
    assert heavy == {"Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y"}
    # every REE element of the USGS list is individually on it; the 2025 list has the 2022 list
    usgs2022 = {c for c, v in table.items() if "us-usgs-2022" in v.lists}
    usgs2025 = {c for c, v in table.items() if "us-usgs-2025" in v.lists}
    assert len(usgs2022) == 50 and usgs2022 < usgs2025 and len(usgs2025) == 60
    assert {
        "Cu",
        "Ag",
        "U",
        "Pb",
        "Re",
        "Si",
        "B",
        "phosphate",
        "potash",
        "met-coal",
    } <= usgs2025 - usgs2022
    assert set(critical_mineral_lists()) == {"us-usgs-2022", "us-usgs-2025", "jp-meti-rare-metals"}
    for value in table.values():
        assert value.name_en and value.name_ja and set(value.lists) <= set(critical_mineral_lists())
        assert value.parent is None or value.parent in table
    for model in deposit_models().values():
        assert model.name_ja and model.reference and set(model.commodities) <= set(table)
    assert {"carbonatite-ree", "ion-adsorption-clay-ree", "seafloor-ree-mud", "ree-placer", "li-pegmatite",
            "li-brine", "li-clay", "iocg", "porphyry-cu-mo", "sediment-hosted-zn-pb"} <= set(deposit_models())  # fmt: skip


@pytest.mark.parametrize(
    ("area", "query", "expected"),
    [
        (["Nd"], "REE", True),
        (["Nd"], "LREE", True),
        (["Nd"], "HREE", False),
        (["REE"], "dy", True),
        (["Cu"], "REE", False),
    ],
)
def test_commodity_filter_follows_the_groups(area: list[str], query: str, expected: bool) -> None:
    assert commodity_matches(area, query) is expected


# ----------------------------------------------------------------------------------------------
# Lifecycle and derived status


def test_propose_approve_amend_reapprove_close(reg: Registry, keys) -> None:
    area = propose(reg)
    assert (area.status, area.required_parties, area.pending_parties) == (
        "proposed",
        ("JP", "US"),
        ("JP", "US"),
    )
    assert area.analysis_crs.to_epsg() == 32611
    assert reg.approve("test-area", party="US", private_key=keys["US"][0]).status == "proposed"
    agreed = reg.approve("test-area", party="JP", private_key=keys["JP"][0], date="2025-11-12")
    assert agreed.status == "agreed" and agreed.pending_parties == ()

    # a change of notes is not a change of decision: still agreed
    assert reg.amend("test-area", party="JP", notes="camp at the pass").status == "agreed"
    # a change of geometry is: amended, with both approvals stale
    amended = reg.amend("test-area", box(-115.7, 35.4, -115.4, 35.6), party="JP")
    assert amended.status == "amended"
    assert [(c.act.party, c.state) for c in amended.checks] == [("US", "stale"), ("JP", "stale")]
    assert "approvals of the earlier version are now stale" in amended.history[-1].summary
    assert reg.approve("test-area", party="JP", private_key=keys["JP"][0]).status == "amended"
    assert reg.approve("test-area", party="US", private_key=keys["US"][0]).status == "agreed"

    reg.close("test-area", party="US", private_key=keys["US"][0])
    assert reg.status("test-area") == "agreed"
    assert reg.close("test-area", party="JP", private_key=keys["JP"][0]).status == "closed"
    with pytest.raises(ApprovalError, match="closed"):
        reg.amend("test-area", party="US", notes="again")
    actions = [h.action for h in reg.history("test-area")]
    assert actions == [
        "propose",
        "approve",
        "approve",
        "amend",
        "amend",
        "approve",
        "approve",
        "close",
        "close",
    ]


def test_changing_decision_content_changes_the_digest_only_for_decision_fields(
    reg: Registry,
) -> None:
    area = propose(reg)
    same = [
        ("name_en", "Other"),
        ("notes", "x"),
        ("priority", "high"),
        ("analysis_crs", "EPSG:32612"),
    ]
    for field, value in same:
        assert SurveyArea(**{**_fields(area), field: value}).digest == area.digest, field
    changed = [("commodities", ["REE"]), ("region", "JP"), ("methods", ["gravity"]), ("period", None),
               ("deposit_models", []), ("geometry", box(-115.6, 35.4, -115.4, 35.61))]  # fmt: skip
    for field, value in changed:
        assert SurveyArea(**{**_fields(area), field: value}).digest != area.digest, field
    # ring orientation, start vertex and float noise below 1e-7° do not matter
    ring = [(-115.4, 35.6), (-115.6, 35.6), (-115.6, 35.4), (-115.4, 35.4)]
    noisy = [(x + 1e-9, y - 1e-9) for x, y in reversed(ring)]
    assert SurveyArea(**{**_fields(area), "geometry": shapely.Polygon(noisy)}).digest == area.digest


def _fields(area: SurveyArea) -> dict:
    return {k: getattr(area, k) for k in ("id", "name_en", "name_ja", "geometry", "region", "commodities",
            "deposit_models", "methods", "proposer", "period", "priority", "notes", "analysis_crs")}  # fmt: skip


def test_signature_verifies_independently_over_the_documented_statement(
    reg: Registry, keys
) -> None:
    propose(reg)
    area = reg.approve("test-area", party="JP", private_key=keys["JP"][0], date="2025-11-12")
    act = area.acts[-1]
    statement = {"act": "approve", "area": "test-area", "date": "2025-11-12", "digest": area.digest,
                 "party": "JP", "schema": "geosurvey-aoi-act/1"}  # fmt: skip
    message = json.dumps(
        statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(keys["JP"][1]))
    public.verify(base64.b64decode(act.signature), message)  # raises if it does not verify
    # the digest is SHA-256 of the canonical decision content
    content = json.dumps(
        area.decision_content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert area.digest == "sha256:" + hashlib.sha256(content.encode()).hexdigest()


def test_third_country_area_needs_its_partner(reg: Registry, keys) -> None:
    area = propose(reg, "kolari", bbox=(23.5, 67.2, 25.0, 68.0), region="FI", proposer="FI")
    assert area.required_parties == ("FI", "JP", "US")
    assert approve_all(reg, keys, "kolari").status == "proposed"
    assert reg.approve("kolari", party="FI", private_key=keys["FI"][0]).status == "agreed"
    # FI is no party to a US area
    propose(reg)
    with pytest.raises(ApprovalError, match="FI is not a party to area 'test-area'"):
        reg.approve("test-area", party="FI", private_key=keys["FI"][0])


def test_withdrawal_is_unilateral_and_final(reg: Registry, keys) -> None:
    propose(reg)
    approve_all(reg, keys, "test-area")
    area = reg.withdraw("test-area", party="JP", private_key=keys["JP"][0], reason="budget")
    assert area.status == "withdrawn"
    assert area.history[-1].summary == "withdrawn: budget"
    with pytest.raises(ApprovalError, match="withdrawn"):
        reg.approve("test-area", party="JP", private_key=keys["JP"][0])


def test_repeated_or_premature_acts_are_refused(reg: Registry, keys) -> None:
    propose(reg)
    reg.approve("test-area", party="US", private_key=keys["US"][0])
    with pytest.raises(ApprovalError, match="already signed 'approve'"):
        reg.approve("test-area", party="US", private_key=keys["US"][0])
    with pytest.raises(ApprovalError, match="only an agreed area can be closed"):
        reg.close("test-area", party="US", private_key=keys["US"][0])
    with pytest.raises(InputError, match="nothing changes"):
        reg.amend("test-area", party="US", notes="")


# ----------------------------------------------------------------------------------------------
# Validation: forged, corrupted and hand-edited files


def test_seeded_registry_validates(reg: Registry, keys) -> None:
    propose(reg)
    approve_all(reg, keys, "test-area")
    report = reg.validate()
    assert report.ok, report
    assert report.statuses == {"test-area": "agreed"}


def _resign(act: dict, area_id: str, private_pem: bytes, **changes) -> dict:
    """Re-sign ``act`` with other fields and key, the way a forger with that key would."""
    from geosurvey.aoi import load_private_key, public_key_b64

    key = load_private_key(private_pem)
    act = {**act, **changes, "key": public_key_b64(key)}
    statement = {"act": act["act"], "area": area_id, "date": act["date"], "digest": act["digest"],
                 "party": act["party"], "schema": "geosurvey-aoi-act/1"}  # fmt: skip
    message = json.dumps(
        statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    act["signature"] = base64.b64encode(key.sign(message)).decode()
    return act


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("signed by another key", "not one of party JP's public keys"),
        ("claimed for another party", "not one of party JP's public keys (it is US's key)"),
        ("signed for another digest", "does not verify"),
        ("corrupted signature", "does not verify"),
        ("edited date", "does not verify"),
        ("unknown party", "party 'ZZ' is not in parties.toml"),
    ],
)
def test_validate_rejects_forged_or_corrupt_acts(
    reg: Registry, keys, case: str, reason: str
) -> None:
    propose(reg)
    approve_all(reg, keys, "test-area")

    def forge(doc: dict) -> None:
        acts = doc["properties"]["acts"]
        jp = acts[1]
        assert jp["party"] == "JP"
        if case == "signed by another key":  # an outsider's key, listed nowhere
            acts[1] = _resign(jp, "test-area", keys["XX"][0])
        elif case == "claimed for another party":  # US signs an approval in JP's name
            acts[1] = _resign(jp, "test-area", keys["US"][0])
        elif case == "signed for another digest":  # a JP signature of another version, relabelled
            other = _resign(jp, "test-area", keys["JP"][0], digest="sha256:" + "0" * 64)
            acts[1] = {**jp, "signature": other["signature"]}
        elif case == "corrupted signature":
            sig = bytearray(base64.b64decode(jp["signature"]))
            sig[10] ^= 0xFF
            jp["signature"] = base64.b64encode(bytes(sig)).decode()
        elif case == "edited date":
            jp["date"] = "2020-01-01"
        elif case == "unknown party":
            jp["party"] = "ZZ"

    edit_file(reg, "test-area", forge)
    report = reg.validate()
    assert not report.ok
    assert any(reason in e and "acts[1]" in e for e in report.errors), report
    area = reg.get("test-area")
    assert area.status == "proposed" and area.pending_parties == ("JP",)
    assert [c.state for c in area.checks] == ["valid", "invalid"]


def test_a_stale_approval_relabelled_as_current_is_invalid(reg: Registry, keys) -> None:
    propose(reg)
    approve_all(reg, keys, "test-area")
    reg.amend("test-area", party="US", commodities=["REE", "Nd", "Pr"])
    current = reg.get("test-area").digest
    edit_file(
        reg, "test-area", lambda doc: [a.update(digest=current) for a in doc["properties"]["acts"]]
    )
    area = reg.get("test-area")
    assert area.status == "proposed"
    assert {c.state for c in area.checks} == {"invalid"}


def test_hand_edit_of_an_agreed_geometry_shows_as_amended(reg: Registry, keys) -> None:
    propose(reg)
    approve_all(reg, keys, "test-area")

    def move_vertex(doc: dict) -> None:
        doc["geometry"]["coordinates"][0][1][0] += 0.01

    edit_file(reg, "test-area", move_vertex)
    area = reg.get("test-area")
    assert area.status == "amended"
    assert [c.state for c in area.checks] == ["stale", "stale"]
    report = reg.validate()
    assert report.ok  # a hand edit is not a forgery ...
    assert sum("stale" in w for w in report.warnings) == 2  # ... but its stale approvals are listed
    assert any("edited by hand" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["properties"].pop("region"), "missing region"),
        (lambda d: d["properties"].update(colour="red"), "unknown colour"),
        (
            lambda d: d["properties"].update(commodities=["unobtainium"]),
            "unknown commodity 'unobtainium'",
        ),
        (lambda d: d["properties"].update(status="agreed"), "unknown status"),
        (lambda d: d.update(type="FeatureCollection"), "not a GeoJSON Feature"),
        (
            lambda d: d["properties"].update(period={"start": "2027-01-01", "end": "2026-01-01"}),
            "before the start",
        ),
        (
            lambda d: d["properties"]["acts"][0].pop("signature"),
            r"acts\[0\]: an act needs exactly the fields",
        ),
        (lambda d: d["geometry"].update(type="LineString"), "must be a Polygon or MultiPolygon"),
        (lambda d: d["properties"].update(name_en="bad\x1b[31m"), "control character"),
    ],
)
def test_validate_reports_schema_errors(reg: Registry, keys, change, message: str) -> None:
    propose(reg)
    approve_all(reg, keys, "test-area")
    edit_file(reg, "test-area", change)
    report = reg.validate()
    assert not report.ok
    assert any("test-area.geojson" in e and re.search(message, e) for e in report.errors), report


def test_validate_reports_duplicate_ids_and_broken_json(reg: Registry) -> None:
    propose(reg)
    (reg.path / "copy.geojson").write_text(
        (reg.path / "test-area.geojson").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (reg.path / "broken.geojson").write_text('{"type": "Feature",\n  "id": ', encoding="utf-8")
    report = reg.validate()
    assert any("duplicate id 'test-area'" in e for e in report.errors), report
    assert any("broken.geojson: not valid JSON" in e and "line 2" in e for e in report.errors), (
        report
    )


def test_validate_reports_overlapping_agreed_areas(reg: Registry, keys) -> None:
    propose(reg, "a", bbox=(0, 0, 2, 2))
    propose(reg, "b", bbox=(1, 1, 3, 3))
    propose(reg, "c", bbox=(1.5, 1.5, 4, 4))  # overlaps too, but only proposed
    approve_all(reg, keys, "a")
    approve_all(reg, keys, "b")
    overlaps = [w for w in reg.validate().warnings if "overlap" in w]
    assert len(overlaps) == 1 and "agreed areas a and b overlap" in overlaps[0]


# ----------------------------------------------------------------------------------------------
# Bad input: a clear error naming the file/field, and nothing changes on disk


def test_bad_input_changes_nothing(reg: Registry, keys, tmp_path: Path) -> None:
    propose(reg)
    propose(reg, "canada", bbox=(-80, 45, -79, 46), region="CA")
    before = snapshot(reg.path)
    garbage = tmp_path / "garbage.geojson"
    garbage.write_text("this is not json", encoding="utf-8")
    projected = tmp_path / "utm.gpkg"
    gpd.GeoDataFrame(geometry=[box(600000, 3900000, 610000, 3910000)], crs="EPSG:32611").to_file(
        projected
    )
    cases = [
        (InputError, "commodities: unknown commodity 'unobtainium'", lambda: propose(reg, "x", commodities=["unobtainium"])),
        (SignatureError, "party CA has no public key", lambda: reg.approve("canada", party="CA", private_key=keys["XX"][0])),
        (MissingInputError, "key file .*missing.pem does not exist", lambda: reg.approve("test-area", party="JP", private_key=tmp_path / "missing.pem")),
        (InputError, r"cannot read .*garbage\.geojson", lambda: propose(reg, "x", geometry=garbage)),
        (CRSError, r"utm\.gpkg is in EPSG:32611", lambda: propose(reg, "x", geometry=projected)),
        (GeometryError, r"coordinate \(-200\.0, 35\.0\) is out of range", lambda: propose(reg, "x", geometry=shapely.Polygon([(-200, 35), (-115, 35), (-115, 36)]))),
        (GeometryError, "the geometry is empty", lambda: propose(reg, "x", geometry={"type": "Polygon", "coordinates": []})),
        (RegistryError, "id 'test-area': an area with this id already exists", lambda: propose(reg)),
        (SignatureError, "does not match any of JP's public keys .*it is US's key", lambda: reg.approve("test-area", party="JP", private_key=keys["US"][0])),
        (RegistryError, "region: no party .* covers BR", lambda: propose(reg, "x", region="BR")),
        (RegistryError, "not a valid area id", lambda: propose(reg, "../escape")),
        (RegistryError, "party FI is not a party to an area in US", lambda: propose(reg, "x", proposer="FI")),
    ]  # fmt: skip
    for error, message, call in cases:
        with pytest.raises(error, match=message):
            call()
        assert snapshot(reg.path) == before, message
    assert not (reg.path.parent / "escape.geojson").exists()


def test_ids_cannot_escape_the_registry(reg: Registry) -> None:
    for bad in ["../x", "a/b", "..", ".hidden", "UPPER", "a.b", "", "-x", "x-", "a b", "a\\b"]:
        with pytest.raises(RegistryError, match="not a valid area id"):
            reg.get(bad)
    with pytest.raises(MissingInputError, match="no area 'nowhere'"):
        reg.get("nowhere")


# ----------------------------------------------------------------------------------------------
# Layers


def test_to_geodataframe_columns(reg: Registry, keys) -> None:
    propose(reg)
    approve_all(reg, keys, "test-area")
    reg.amend("test-area", party="US", commodities=["REE", "Nd", "Dy"])
    reg.approve("test-area", party="US", private_key=keys["US"][0])
    propose(
        reg, "across", bbox=(177.0, 51.0, -177.0, 53.0), name_en="Across <180>", commodities="Cu"
    )
    frame = reg.to_geodataframe()
    assert frame.crs.to_epsg() == 4326
    assert list(frame["id"]) == ["across", "test-area"]
    row = frame.set_index("id").loc["test-area"]
    assert row["status"] == "amended" and row["region"] == "US"
    assert (
        row["commodities"] == "Dy,Nd,REE"
        and row["commodities_ja"] == "ジスプロシウム、ネオジム、希土類元素（レアアース）"
    )
    assert row["analysis_crs"] == "EPSG:32611" and row["pending_parties"] == "JP"
    approvals = json.loads(row["approvals"])
    assert [(a["party"], a["state"]) for a in approvals] == [
        ("US", "stale"),
        ("JP", "stale"),
        ("US", "valid"),
    ]
    assert frame["area_km2"].dtype == float
    across = frame.set_index("id").loc["across"]
    assert across["area_km2"] == pytest.approx(geodesic_area_km2(box(-3, 51, 3, 53)), rel=1e-9)
    assert len(reg.to_geodataframe(status="amended")) == 1
    assert len(reg.to_geodataframe(commodity="HREE")) == 1  # Dy is a heavy rare earth
    assert len(reg.to_geodataframe(region="JP")) == 0


@pytest.mark.parametrize("suffix", [".gpkg", ".parquet", ".fgb", ".geojson", ".kml"])
def test_export_round_trip(reg: Registry, keys, tmp_path: Path, suffix: str) -> None:
    propose(reg, name_en='Pass <b>&amp; "quoted"')
    approve_all(reg, keys, "test-area")
    propose(reg, "across", bbox=(177.0, 51.0, -177.0, 53.0))
    out = reg.export(tmp_path / f"areas{suffix}")
    frame = gpd.read_parquet(out) if suffix == ".parquet" else gpd.read_file(out)
    assert frame.crs.to_epsg() == 4326
    frame = frame.set_index("area_id" if suffix == ".kml" else "id")  # KML readers own "id"
    assert set(frame.index) == {"across", "test-area"}
    name = frame.loc["test-area", "Name" if suffix == ".kml" else "name_en"]
    assert name == 'Pass <b>&amp; "quoted"'  # text stays text through every format
    if suffix != ".kml":
        assert (
            frame.loc["test-area", "status"] == "agreed"
            and frame.loc["across", "status"] == "proposed"
        )
        assert frame.loc["test-area", "name_ja"] == "試験地域"
        approvals = frame.loc["test-area", "approvals"]  # GDAL's GeoJSON writes it as a JSON array
        approvals = approvals if isinstance(approvals, list) else json.loads(approvals)
        assert [(a["party"], a["state"]) for a in approvals] == [("US", "valid"), ("JP", "valid")]
    across = frame.loc["across", "geometry"]
    assert across.geom_type == "MultiPolygon"
    assert abs(shapely.get_coordinates(across)[:, 0]).max() <= 180
    assert geodesic_area_km2(across) == pytest.approx(
        geodesic_area_km2(box(-3, 51, 3, 53)), rel=1e-6
    )
    with pytest.raises(Exception, match="exists"):
        reg.export(out)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_export_refuses_unknown_format_and_empty_selection(reg: Registry, tmp_path: Path) -> None:
    propose(reg)
    with pytest.raises(InputError, match="cannot tell the export format"):
        reg.export(tmp_path / "areas.xyz")
    with pytest.raises(InputError, match="no areas match"):
        reg.export(tmp_path / "areas.gpkg", status="closed")
    assert list(tmp_path.glob("areas*")) == []


def test_text_is_escaped_in_html(reg: Registry) -> None:
    area = propose(reg, name_en="<script>alert(1)</script>", notes="a & b")
    html = area._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    stored = json.loads((reg.path / "test-area.geojson").read_text(encoding="utf-8"))
    assert stored["properties"]["name_en"] == "<script>alert(1)</script>"  # stored as text


def test_init_refuses_bad_parties_and_existing_folders(tmp_path: Path, keys) -> None:
    good = {"code": "JP", "name_en": "Japan", "name_ja": "日本", "public_keys": [keys["JP"][1]]}
    with pytest.raises(InputError, match=r"public_keys\[0\].*not a base64 Ed25519 public key"):
        Registry.init(tmp_path / "a", parties=[{**good, "public_keys": ["not-a-key"]}])
    with pytest.raises(RegistryError, match="unknown field"):
        Registry.init(tmp_path / "a", parties=[{**good, "colour": "red"}])
    with pytest.raises(RegistryError, match="given twice"):
        Registry.init(tmp_path / "a", parties=[good, good])
    assert not (tmp_path / "a").exists()
    Registry.init(tmp_path / "a", parties=[good])
    with pytest.raises(Exception, match="not empty"):
        Registry.init(tmp_path / "a", parties=[good])
    with pytest.raises(MissingInputError, match="does not exist"):
        Registry(tmp_path / "missing")


def test_add_key_lets_a_partner_sign(reg: Registry, keys) -> None:
    propose(reg, "canada", bbox=(-80, 45, -79, 46), region="CA")
    before = snapshot(reg.path)
    with pytest.raises(RegistryError, match="already listed for JP"):
        reg.add_key("CA", keys["JP"][1])
    with pytest.raises(InputError, match="not a base64 Ed25519 public key"):
        reg.add_key("CA", "abc")
    with pytest.raises(RegistryError, match="party 'ZZ' is not in"):
        reg.add_key("ZZ", keys["XX"][1])
    assert snapshot(reg.path) == before
    assert reg.add_key("CA", keys["XX"][1]).public_keys == (keys["XX"][1],)
    approve_all(reg, keys, "canada")
    assert (
        Registry(reg.path).approve("canada", party="CA", private_key=keys["XX"][0]).status
        == "agreed"
    )


def test_docstring_example_runs() -> None:
    import doctest

    import geosurvey.aoi._registry as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0
