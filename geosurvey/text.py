"""Checks of user text: control characters that must never be stored, signed or printed raw.

A name, a note or a reason is *data*. Control characters in it (ESC, which starts terminal escape
sequences; U+202E RIGHT-TO-LEFT OVERRIDE, which makes text read backwards; a newline where one line
is meant; an unpaired surrogate, which cannot even be written as UTF-8) turn data into something
that acts on whoever reads it. :func:`control_characters` finds them, and :func:`printable` shows
text with them escaped, for terminals and logs.

Hand-written because it is a few lines over :func:`unicodedata.category`; no library does exactly
this.
"""

from __future__ import annotations

import unicodedata

__all__ = ["CONTROL_CATEGORIES", "control_characters", "describe_character", "printable"]

CONTROL_CATEGORIES: frozenset[str] = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""Unicode general categories refused in stored text: controls (``Cc``: ESC, NUL, newline...),
format characters (``Cf``: U+202E and the other bidirectional overrides, zero-width characters),
surrogates (``Cs``) and the line and paragraph separators (``Zl``, ``Zp``)."""

# Controls (category Cc) have no name in unicodedata; these are the ones people meet.
_CONTROL_NAMES = {
    "\x00": "NULL", "\t": "CHARACTER TABULATION", "\n": "LINE FEED", "\r": "CARRIAGE RETURN",
    "\x1b": "ESCAPE", "\x7f": "DELETE", "\x85": "NEXT LINE", "\x9b": "CONTROL SEQUENCE INTRODUCER",
}  # fmt: skip


def control_characters(text: str, *, multiline: bool = False) -> list[str]:
    """The control characters of ``text``, in order (see :data:`CONTROL_CATEGORIES`).

    Parameters
    ----------
    text
        The text to check.
    multiline
        Allow newline (``"\\n"``) and tab, for free text such as notes.

    Examples
    --------
    >>> control_characters("Mountain Pass\\x1b[31m")
    ['\\x1b']
    >>> control_characters("line 1\\nline 2", multiline=True)
    []
    """
    allowed = {"\n", "\t"} if multiline else set()
    return [
        ch for ch in text if ch not in allowed and unicodedata.category(ch) in CONTROL_CATEGORIES
    ]


def describe_character(ch: str) -> str:
    """``"U+001B"`` followed by the character's Unicode name where it has one, e.g. ``"U+202E
    (RIGHT-TO-LEFT OVERRIDE)"``."""
    name = unicodedata.name(ch, "") or _CONTROL_NAMES.get(ch, "")
    code = f"U+{ord(ch):04X}"
    return f"{code} ({name})" if name else code


def printable(text: object, *, multiline: bool = False) -> str:
    """``text`` with every control character shown as an escape (``\\x1b``, ``\\u202e``), so
    that printing it to a terminal cannot move the cursor, recolour the screen or reorder text.

    Examples
    --------
    >>> printable("bad\\x1b[2Jname")
    'bad\\\\x1b[2Jname'
    """
    text = str(text)
    bad = set(control_characters(text, multiline=multiline))
    if not bad:
        return text
    return "".join(ascii(ch)[1:-1] if ch in bad else ch for ch in text)
