"""Controlled vocabularies of survey areas: commodities, deposit models, survey methods, regions.

Commodities and deposit models ship with the package as TOML (``geosurvey/data/commodities.toml``
and ``geosurvey/data/deposit_models.toml``) so that geologists can read and review them; survey
methods and ISO 3166-1 country codes are short fixed lists kept here.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from geosurvey.errors import InputError

__all__ = [
    "ISO_3166_ALPHA2",
    "SURVEY_METHODS",
    "Commodity",
    "CriticalMineralList",
    "DepositModel",
    "SurveyMethod",
    "commodities",
    "commodity_matches",
    "critical_mineral_lists",
    "deposit_models",
    "normalise_commodities",
    "normalise_deposit_models",
    "normalise_methods",
    "normalise_regions",
]


@dataclass(frozen=True)
class Commodity:
    """A target commodity (an element, a group of elements or a mineral commodity).

    Attributes
    ----------
    code
        The code survey areas store: an element symbol (``"Nd"``), a group (``"REE"``, ``"HREE"``)
        or a word (``"graphite"``).
    name_en, name_ja
        Names in English and Japanese.
    kind
        ``"element"``, ``"group"`` or ``"mineral"``.
    parent
        The group it belongs to (``"LREE"`` for neodymium, ``"REE"`` for ``"LREE"``), or ``None``.
    lists
        Keys of the critical-mineral lists that name it (see :func:`critical_mineral_lists`).
    """

    code: str
    name_en: str
    name_ja: str
    kind: Literal["element", "group", "mineral"]
    parent: str | None = None
    lists: tuple[str, ...] = ()


@dataclass(frozen=True)
class CriticalMineralList:
    """A government list of critical minerals that commodities refer to."""

    key: str
    name_en: str
    name_ja: str
    reference: str


@dataclass(frozen=True)
class DepositModel:
    """A mineral deposit model: code, English and Japanese names, typical commodities, reference."""

    code: str
    name_en: str
    name_ja: str
    commodities: tuple[str, ...]
    reference: str


@dataclass(frozen=True)
class SurveyMethod:
    """A planned survey method with its English and Japanese names."""

    code: str
    name_en: str
    name_ja: str


SURVEY_METHODS: dict[str, SurveyMethod] = {
    m.code: m
    for m in (
        SurveyMethod("geological-mapping", "Geological mapping", "地質図作成（地表地質調査）"),
        SurveyMethod("airborne-magnetics", "Airborne magnetic survey", "空中磁気探査"),
        SurveyMethod("airborne-radiometrics", "Airborne gamma-ray spectrometry", "空中放射能探査"),
        SurveyMethod("airborne-em", "Airborne electromagnetic survey", "空中電磁探査"),
        SurveyMethod("ground-magnetics", "Ground magnetic survey", "地上磁気探査"),
        SurveyMethod("gravity", "Gravity survey", "重力探査"),
        SurveyMethod("magnetotellurics", "Magnetotelluric survey", "MT法電磁探査"),
        SurveyMethod(
            "induced-polarisation", "Induced polarisation survey", "IP法（強制分極法）探査"
        ),
        SurveyMethod("seismic-reflection", "Seismic reflection survey", "反射法地震探査"),
        SurveyMethod(
            "multispectral-imagery",
            "Multispectral satellite imagery",
            "マルチスペクトル衛星画像解析",
        ),
        SurveyMethod(
            "hyperspectral-imagery", "Hyperspectral imagery", "ハイパースペクトル画像解析"
        ),
        SurveyMethod(
            "stream-sediment-geochemistry", "Stream-sediment geochemistry", "河川堆積物地球化学探査"
        ),
        SurveyMethod("soil-geochemistry", "Soil geochemistry", "土壌地球化学探査"),
        SurveyMethod("till-geochemistry", "Till geochemistry", "氷河堆積物（ティル）地球化学探査"),
        SurveyMethod("drilling", "Drilling", "ボーリング調査"),
        SurveyMethod("bathymetry", "Multibeam bathymetry", "マルチビーム海底地形調査"),
        SurveyMethod("marine-magnetics", "Marine magnetic survey", "海上磁気探査"),
        SurveyMethod(
            "sub-bottom-profiling", "Sub-bottom profiling", "サブボトムプロファイラー探査"
        ),
        SurveyMethod(
            "seafloor-sampling", "Seafloor sampling (piston cores)", "海底試料採取（ピストンコア）"
        ),
    )
}

# ISO 3166-1 alpha-2 codes (the 249 assigned codes, as in the IANA time-zone database's
# iso3166.tab); kept here so that no extra dependency is needed to check a region.
ISO_3166_ALPHA2: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW
    """.split()
)


def _load(name: str) -> dict:
    text = resources.files("geosurvey").joinpath("data", name).read_text(encoding="utf-8")
    return tomllib.loads(text)


@functools.cache
def critical_mineral_lists() -> dict[str, CriticalMineralList]:
    """The critical-mineral lists that ``commodities.toml`` refers to, by key."""
    raw = _load("commodities.toml")["lists"]
    return {key: CriticalMineralList(key=key, **value) for key, value in raw.items()}


@functools.cache
def commodities() -> dict[str, Commodity]:
    """The commodity vocabulary, by code (in the order of ``commodities.toml``)."""
    out: dict[str, Commodity] = {}
    for row in _load("commodities.toml")["commodity"]:
        item = Commodity(**{**row, "lists": tuple(row.get("lists", ()))})
        out[item.code] = item
    return out


@functools.cache
def deposit_models() -> dict[str, DepositModel]:
    """The deposit-model vocabulary, by code (in the order of ``deposit_models.toml``)."""
    out: dict[str, DepositModel] = {}
    for row in _load("deposit_models.toml")["model"]:
        item = DepositModel(**{**row, "commodities": tuple(row["commodities"])})
        out[item.code] = item
    return out


@functools.cache
def _commodity_by_folded_code() -> dict[str, str]:
    return {code.casefold(): code for code in commodities()}


def _as_list(values: str | Iterable[str]) -> list[str]:
    if isinstance(values, str):
        values = values.split(",")
    return [str(v).strip() for v in values if str(v).strip()]


def _suggest(value: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(value, list(known), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def normalise_commodities(
    values: str | Iterable[str], *, where: str = "commodities"
) -> tuple[str, ...]:
    """Return the canonical commodity codes of ``values`` (case-insensitive), unique and sorted.

    Parameters
    ----------
    values
        Codes, as a list or a comma-separated string (``"ree, nd,Dy"``).
    where
        What to name in the error message (a file and field, a CLI option).

    Raises
    ------
    InputError
        If a code is not in the vocabulary; the message names ``where`` and close matches.
    """
    folded = _commodity_by_folded_code()
    out = _canonical(
        values,
        lambda value: folded.get(value.casefold()),
        lambda value: (
            f"{where}: unknown commodity {value!r}{_suggest(value, commodities())}; use a code "
            "from geosurvey/data/commodities.toml (see `geosurvey aoi vocab commodities`)"
        ),
    )
    return tuple(sorted(out, key=str.casefold))


def normalise_deposit_models(
    values: str | Iterable[str], *, where: str = "deposit_models"
) -> tuple[str, ...]:
    """Return the deposit-model codes of ``values``, unique and sorted; unknown codes are refused."""
    known = deposit_models()
    out = _canonical(
        values,
        lambda value: value.lower() if value.lower() in known else None,
        lambda value: (
            f"{where}: unknown deposit model {value!r}{_suggest(value.lower(), known)}; use a "
            "code from geosurvey/data/deposit_models.toml (see `geosurvey aoi vocab deposit-models`)"
        ),
    )
    return tuple(sorted(out))


def normalise_methods(values: str | Iterable[str], *, where: str = "methods") -> tuple[str, ...]:
    """Return the survey-method codes of ``values``, unique and sorted; unknown codes are refused."""
    out = _canonical(
        values,
        lambda value: value.lower() if value.lower() in SURVEY_METHODS else None,
        lambda value: (
            f"{where}: unknown survey method {value!r}{_suggest(value.lower(), SURVEY_METHODS)}; "
            f"known methods: {', '.join(SURVEY_METHODS)}"
        ),
    )
    return tuple(sorted(out))


def normalise_regions(values: str | Iterable[str], *, where: str = "region") -> tuple[str, ...]:
    """Return ISO 3166-1 alpha-2 codes of ``values`` (upper case, unique, sorted); others are refused."""
    out = _canonical(
        values,
        lambda value: value.upper() if value.upper() in ISO_3166_ALPHA2 else None,
        lambda value: (
            f"{where}: {value!r} is not an ISO 3166-1 alpha-2 country code; use e.g. US, JP, FI"
        ),
    )
    if not out:
        raise InputError(f"{where}: at least one ISO 3166-1 country code is needed (e.g. US)")
    return tuple(sorted(out))


def _canonical(
    values: str | Iterable[str], lookup: Callable[[str], str | None], refusal: Callable[[str], str]
) -> set[str]:
    """The canonical codes of ``values`` (``lookup`` gives ``None`` for unknown ones, refused with
    the message ``refusal`` builds)."""
    out = set()
    for value in _as_list(values):
        code = lookup(value)
        if code is None:
            raise InputError(refusal(value))
        out.add(code)
    return out


def _lineage(code: str) -> set[str]:
    """``code`` and every group above it (``"Nd"`` → Nd, LREE, REE)."""
    table = commodities()
    out = {code}
    while table[code].parent is not None:
        code = table[code].parent
        out.add(code)
    return out


def commodity_matches(area_codes: Iterable[str], query: str) -> bool:
    """Whether an area targeting ``area_codes`` matches a commodity filter ``query``.

    A filter matches the code itself, anything it contains and any group containing it: "REE" finds
    areas listing "Nd" (neodymium is a rare earth) and "Nd" finds areas listing "REE" (an area
    for all rare earths also targets neodymium); "HREE" does not find an area listing only "LREE".
    """
    (query_code,) = normalise_commodities([query], where="commodity filter")
    for code in area_codes:
        if query_code in _lineage(code) or code in _lineage(query_code):
            return True
    return False
