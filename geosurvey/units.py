"""Units of evidence layers: the vocabulary recipes may name, and the check before a layer is scored.

Units travel in ``attrs["units"]`` as UDUNITS-style strings (see the README's conventions): a
product of known symbols with optional integer powers, divided by others, e.g. ``"nT"``,
``"nT/m"``, ``"nT/m2"``, ``"km/km2"``, ``"ppm/%"``, ``"1"`` for dimensionless. A recipe states the
units each of its layers must have; :func:`check_layer_units` compares them with the layer's own
before any membership is applied, so a distance in km is never scored by memberships written for
metres.

Hand-written rather than with ``pint`` or ``cf-units``: geosurvey never converts units (a mismatch
is refused, not silently rescaled), so it needs only a closed vocabulary and a canonical spelling,
not a units algebra with a database behind it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from geosurvey.errors import InputError

__all__ = ["KNOWN_UNITS", "UnitsError", "canonical_units", "check_layer_units"]


class UnitsError(InputError):
    """A units string is unknown, or a layer's units are not the ones a recipe expects."""


#: Unit symbols geosurvey knows, with their meaning (for messages and docs).
KNOWN_UNITS: Mapping[str, str] = MappingProxyType(
    {
        "1": "dimensionless (ratios, reflectance, memberships, scores)",
        "m": "metre",
        "km": "kilometre",
        "nT": "nanotesla (magnetic field)",
        "mGal": "milligal (gravity)",
        "uGal": "microgal (gravity)",
        "rad": "radian",
        "degree": "degree of angle",
        "%": "percent (e.g. gamma-ray K)",
        "ppm": "parts per million (e.g. eTh, eU, geochemistry)",
        "ppb": "parts per billion (geochemistry)",
        "K": "kelvin (brightness temperature)",
        "S": "siemens (conductance)",
        "mS": "millisiemens",
        "ohm": "ohm (resistance; resistivity is ohm m)",
        "cps": "counts per second (gamma-ray total count)",
        "Hz": "hertz (EM frequency)",
        "s": "second",
        "ms": "millisecond (EM time gates)",
        "mg": "milligram",
        "kg": "kilogram",
        "g": "gram",
        "wt%": "weight percent (geochemistry)",
    }
)

_ALIASES = {
    "dimensionless": "1",
    "": "1",
    "-": "1",
    "meter": "m",
    "metre": "m",
    "meters": "m",
    "metres": "m",
    "kilometre": "km",
    "kilometer": "km",
    "radian": "rad",
    "radians": "rad",
    "degrees": "degree",
    "deg": "degree",
    "percent": "%",
    "pct": "%",
    "nanotesla": "nT",
    "µGal": "uGal",
    "ohm.m": "ohm m",
    "ohm-m": "ohm m",
    "ohmm": "ohm m",
    "Ωm": "ohm m",
    "Ω m": "ohm m",
}
_TERM = re.compile(r"^(?P<symbol>[A-Za-z%]+%?)(?P<power>-?[0-9]+)?$")


def _canonical_product(text: str, original: str) -> list[str]:
    out = []
    for word in text.replace(".", " ").split():
        match = _TERM.match(word)
        if match is None or match["symbol"] not in KNOWN_UNITS or match["symbol"] == "1":
            raise UnitsError(
                f"unknown units {original!r} (symbol {word!r}); use UDUNITS-style symbols such as "
                f"{', '.join(k for k in KNOWN_UNITS if k != '1')} (powers as 'm2', quotients with "
                "'/'), or '1' for dimensionless"
            )
        power = match["power"]
        out.append(match["symbol"] + (power if power not in (None, "1") else ""))
    return out


def canonical_units(text: str) -> str:
    """The canonical spelling of a units string, or :class:`UnitsError` if it is not known.

    ``"metres"`` → ``"m"``, ``"nT / m"`` → ``"nT/m"``, ``"ohm.m"`` → ``"ohm m"``,
    ``"dimensionless"`` → ``"1"``. Quotients keep their order (``"ppm/%"`` is not ``"%/ppm"``).

    Parameters
    ----------
    text
        A UDUNITS-style units string.

    Returns
    -------
    str
        The canonical spelling.
    """
    if not isinstance(text, str):
        raise UnitsError(f"units must be a string such as 'nT' or '1', got {text!r}")
    raw = " ".join(text.strip().split())
    raw = _ALIASES.get(raw, raw)
    if raw == "1":
        return "1"
    parts = [part.strip() for part in raw.split("/")]
    numerator = parts[0]
    if numerator in ("", "1") and len(parts) > 1:
        head: list[str] = []
    else:
        head = _canonical_product(_ALIASES.get(numerator, numerator), text)
    tail = []
    for part in parts[1:]:
        if not part:
            raise UnitsError(f"unknown units {text!r}: an empty quotient")
        tail.append(" ".join(_canonical_product(_ALIASES.get(part, part), text)))
    return "/".join([" ".join(head), *tail]) if tail else " ".join(head)


def check_layer_units(actual: str | None, expected: str, *, layer: str, recipe: str) -> None:
    """Refuse a layer whose units are not those a recipe expects (before its membership is applied).

    Parameters
    ----------
    actual
        The layer's ``attrs["units"]`` (``None`` or ``"unknown"`` when it has none).
    expected
        The units the recipe declares for the layer.
    layer, recipe
        The layer's name and the recipe's file (or id), for the message.

    Raises
    ------
    UnitsError
        If the units differ (no conversion is attempted: a distance in km scored by memberships
        written for metres would be wrong by a factor of 1000).
    """
    want = canonical_units(expected)
    if actual is None or str(actual).strip() in ("unknown", ""):
        raise UnitsError(
            f"recipe {recipe}: layer {layer!r} has no units, the recipe expects {want!r}; set "
            "attrs['units'] on the layer (or give the source band its units in the catalogue)"
        )
    try:
        have = canonical_units(str(actual))
    except UnitsError:
        have = str(actual)
    if have != want:
        raise UnitsError(
            f"recipe {recipe}: layer {layer!r} is in {have!r} but the recipe expects {want!r}; "
            "convert the layer or write the recipe's memberships for its units"
        )
