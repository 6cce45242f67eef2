"""Survey areas: the registry of mutually decided areas in ``aoi/``, with signed approvals.

Each area is one RFC 7946 GeoJSON Feature (``aoi/<id>.geojson``); ``aoi/parties.toml`` names the
parties and their Ed25519 public keys. An area is *agreed* only while every required party holds a
valid signature over the digest of its current decision content; its status is always derived,
never stored.

>>> from geosurvey.aoi import Registry, SurveyArea, generate_keypair   # doctest: +SKIP
>>> reg = Registry("aoi")                                             # doctest: +SKIP
>>> reg.get("mountain-pass").status                                    # doctest: +SKIP
'agreed'
"""

from geosurvey.aoi._geometry import (
    PRECISION,
    Overlap,
    analysis_crs_for,
    bbox_geometry,
    geodesic_area_km2,
    lonlat_bounds,
    normalise_geometry,
    overlaps,
    read_geometry,
)
from geosurvey.aoi._model import (
    STATUSES,
    Act,
    ActCheck,
    HistoryEntry,
    Party,
    Status,
    SurveyArea,
    check_id,
    derive_status,
    is_party_code,
    required_parties,
)
from geosurvey.aoi._registry import Registry, ValidationReport
from geosurvey.aoi._signing import (
    canonical_json,
    generate_keypair,
    load_private_key,
    public_key_b64,
    write_private_key,
)
from geosurvey.aoi._vocab import (
    SURVEY_METHODS,
    Commodity,
    DepositModel,
    SurveyMethod,
    commodities,
    commodity_matches,
    critical_mineral_lists,
    deposit_models,
)

__all__ = [
    "PRECISION",
    "STATUSES",
    "SURVEY_METHODS",
    "Act",
    "ActCheck",
    "Commodity",
    "DepositModel",
    "HistoryEntry",
    "Overlap",
    "Party",
    "Registry",
    "Status",
    "SurveyArea",
    "SurveyMethod",
    "ValidationReport",
    "analysis_crs_for",
    "bbox_geometry",
    "canonical_json",
    "check_id",
    "commodities",
    "commodity_matches",
    "critical_mineral_lists",
    "deposit_models",
    "derive_status",
    "generate_keypair",
    "geodesic_area_km2",
    "is_party_code",
    "load_private_key",
    "lonlat_bounds",
    "normalise_geometry",
    "overlaps",
    "public_key_b64",
    "read_geometry",
    "required_parties",
    "write_private_key",
]
