"""Attribute filters as data: a small stated grammar, parsed and checked, never evaluated as code.

A filter selects rows of a (Geo)DataFrame by their attributes: which faults count as shear zones,
which occurrences are the deposit type of a recipe. The text is parsed with Python's :mod:`ast`
module (the syntax users know from pandas queries) and every node is checked against the grammar
below; anything else — attribute access outside the string predicates, subscripts, calls of other
functions, names starting with ``_``, lambdas, comprehensions, arithmetic — is refused before
anything runs. The checked filter is a tree of frozen dataclasses evaluated with pandas
operations on the named columns; neither :func:`eval` nor :meth:`pandas.DataFrame.eval` ever sees
the text. (Hand-written because pandas' query language is evaluated code, and no well-kept library
offers a safe, pandas-compatible subset.)

Grammar
-------
::

    filter     := or
    or         := and ( ("or" | "|") and )*
    and        := not ( ("and" | "&") not )*
    not        := ("not" | "~") not | "(" filter ")" | predicate
    predicate  := operand cmp operand ( cmp operand )*      # a chain: 0 < AGE <= 10
                | column ("in" | "not in") list
                | column ".isin(" list ")"
                | column ".isna()" | column ".notna()"
                | column ".str." strfunc "(" string ( "," option )* ")"
                | column                                      # a boolean column
    cmp        := "==" | "!=" | "<" | "<=" | ">" | ">="
    operand    := column | literal
    column     := NAME | `any text in backticks`              # an existing column
    literal    := string | number | -number | True | False | None
    list       := "[" literal ( "," literal )* "]"           # or a tuple "(...)"
    strfunc    := "contains" | "startswith" | "endswith" | "fullmatch"
    option     := "case=" bool | "na=" bool | "regex=" bool   # contains: case, na, regex;
                                                              # fullmatch: case, na;
                                                              # startswith/endswith: na

A literal is compared with a column of its own kind: text (in quotes) with text columns,
numbers with numeric columns; a number compared with a text column (or the reverse) is refused,
since it would silently match nothing. Missing values never match (``na`` defaults to ``False`` in the string predicates, ordered
comparisons with a missing value are false) except under ``!=`` and ``not in``, where a missing
value differs from every literal, as in pandas.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"NAME": ["Shear zone A", "fault B", None], "AGE": [1800, 1900, 2000]})
>>> apply_filter(frame, "NAME.str.contains('shear', case=False) or AGE >= 2000").index.tolist()
[0, 2]
>>> parse_filter("NAME.__class__")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geosurvey.errors.InputError: filter 'NAME.__class__' is not allowed: attribute '__class__' ...
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd

from geosurvey.errors import InputError

__all__ = [
    "Filter",
    "apply_filter",
    "filter_mask",
    "parse_filter",
]

#: Longest filter text accepted (characters); a filter is a line, not a program.
MAX_LENGTH = 2000
#: Deepest nesting of the parsed tree.
MAX_DEPTH = 50

_HINT = (
    "write comparisons of columns and literals joined by and/or/not, e.g. "
    "\"TYPE == 'shear zone' and AGE > 1800\", \"NAME.str.contains('shear', case=False)\", "
    "\"CODE in ['a', 'b']\" (see geosurvey.filters)"
)

Scalar: TypeAlias = str | int | float | bool | None
CmpOp = Literal["==", "!=", "<", "<=", ">", ">="]
StrFunc = Literal["contains", "startswith", "endswith", "fullmatch"]


# ---------------------------------------------------------------------------------------------
# The parsed tree: frozen, hashable, printable
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of the frame, by name."""

    name: str


@dataclass(frozen=True)
class Value:
    """A literal: str, int, float, bool or None."""

    value: Scalar


Operand: TypeAlias = Column | Value


@dataclass(frozen=True)
class Compare:
    """``left op right``."""

    op: CmpOp
    left: Operand
    right: Operand


@dataclass(frozen=True)
class IsIn:
    """``column in [values]`` (``negate``: ``not in``)."""

    column: Column
    values: tuple[Scalar, ...]
    negate: bool = False


@dataclass(frozen=True)
class IsNull:
    """``column.isna()`` (``negate``: ``column.notna()``)."""

    column: Column
    negate: bool = False


@dataclass(frozen=True)
class StrMatch:
    """``column.str.<func>(pattern, case=..., na=..., regex=...)``."""

    column: Column
    func: StrFunc
    pattern: str
    case: bool = True
    na: bool = False
    regex: bool = True


@dataclass(frozen=True)
class Truth:
    """A boolean column used as a predicate."""

    column: Column


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Node: TypeAlias = Compare | IsIn | IsNull | StrMatch | Truth | And | Or | Not


@dataclass(frozen=True)
class Filter:
    """A parsed, checked filter.

    Attributes
    ----------
    text : str
        The filter as written.
    tree : Node
        The parsed predicate.
    columns : tuple of str
        The columns it names, in order of first use.
    """

    text: str
    tree: Node
    columns: tuple[str, ...]

    @property
    def shown(self) -> str:
        """The text for messages (quoted, cut after 120 characters)."""
        return _shown(self.text)

    def mask(self, frame: pd.DataFrame, *, label: str = "rows") -> pd.Series:
        """Boolean Series (``frame``'s index): which rows match. See :func:`filter_mask`."""
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise InputError(
                f"filter {self.shown} names {_names(missing)} that {label} do not have; "
                f"the columns are: {_columns(frame)}"
            )
        try:
            out = _evaluate(self.tree, frame, self.text)
        except InputError:
            raise
        except (TypeError, ValueError, AttributeError, re.error) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(
                f"filter {self.shown} cannot be applied to {label}: {reason}; check that each "
                "column is compared with values of its type (text in quotes, numbers without)"
            ) from None
        return out.fillna(False).astype(bool)


# ---------------------------------------------------------------------------------------------
# Parsing: ast, on a whitelist
# ---------------------------------------------------------------------------------------------

_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_STR_OPTIONS: dict[str, tuple[str, ...]] = {
    "contains": ("case", "na", "regex"),
    "fullmatch": ("case", "na"),
    "startswith": ("na",),
    "endswith": ("na",),
}
_BACKTICK = re.compile(r"`([^`]*)`")
_QUOTED = "_geosurvey_quoted_"


class _Refused(Exception):
    """Internal: the reason a filter is refused (turned into one InputError)."""


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 120 else repr(text[:117]) + "..."


def _names(names: list[str]) -> str:
    return ("column " if len(names) == 1 else "columns ") + ", ".join(repr(n) for n in names)


def _columns(frame: pd.DataFrame) -> str:
    geometry = getattr(frame, "_geometry_column_name", None)
    cols = [str(c) for c in frame.columns if c != geometry]
    return ", ".join(cols) if cols else "(none)"


def parse_filter(expr: str) -> Filter:
    """Parse and check a filter against the grammar of :mod:`geosurvey.filters`.

    Parameters
    ----------
    expr : str
        The filter, e.g. ``"TYPE == 'shear zone' and AGE > 1800"``.

    Returns
    -------
    Filter
        The checked filter (no column is looked up yet).

    Raises
    ------
    geosurvey.errors.InputError
        If the text is not a filter of the grammar: the message names the filter, what is not
        allowed, and how to write it.
    """
    if not isinstance(expr, str) or not expr.strip():
        raise InputError(f"filter {expr!r} is empty or not text; {_HINT}")
    if len(expr) > MAX_LENGTH:
        raise InputError(f"filter {_shown(expr)} is {len(expr)} characters long (at most {MAX_LENGTH}); {_HINT}")
    quoted: dict[str, str] = {}
    if _QUOTED in expr:
        raise InputError(f"filter {_shown(expr)} is not allowed: the name {_QUOTED!r} is reserved; {_HINT}")

    def _quote(match: re.Match) -> str:
        key = f"{_QUOTED}{len(quoted)}"
        quoted[key] = match.group(1)
        return key

    try:
        source = _pandas_operators(_quote_backticks(expr, _quote))
        body = ast.parse(source.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError, tokenize.TokenError) as exc:
        reason = getattr(exc, "msg", None) or type(exc).__name__
        raise InputError(f"filter {_shown(expr)} is not valid syntax ({reason}); {_HINT}") from None
    columns: list[str] = []
    try:
        tree = _Parser(quoted, columns).predicate(body, 0)
    except _Refused as exc:
        raise InputError(f"filter {_shown(expr)} is not allowed: {exc}; {_HINT}") from None
    except RecursionError:
        raise InputError(f"filter {_shown(expr)} is nested too deeply; {_HINT}") from None
    return Filter(text=expr, tree=tree, columns=tuple(columns))


def _quote_backticks(expr: str, quote) -> str:
    """Replace each `back-ticked column` outside string literals by ``quote(match)``."""
    out, i, n = [], 0, len(expr)
    while i < n:
        ch = expr[i]
        if ch in "'\"":
            j = i + 1
            while j < n and expr[j] != ch:
                j += 2 if expr[j] == "\\" else 1
            out.append(expr[i : j + 1])
            i = j + 1
        elif ch == "`":
            match = _BACKTICK.match(expr, i)
            if match is None:
                raise SyntaxError("unclosed backtick")
            out.append(quote(match))
            i = match.end()
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _pandas_operators(source: str) -> str:
    """``&`` and ``|`` as ``and`` and ``or`` (token by token, not inside strings).

    pandas queries give ``&``/``|`` the precedence of ``and``/``or`` (``A > 1 & B < 2`` means
    ``(A > 1) and (B < 2)``); Python binds them tighter than comparisons, so they are rewritten
    before parsing, as pandas does.
    """
    tokens = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.OP and tok.string in ("&", "|"):
            tok = tok._replace(type=tokenize.NAME, string="and" if tok.string == "&" else "or")
        tokens.append((tok.type, tok.string))
    return tokenize.untokenize(tokens)


class _Parser:
    def __init__(self, quoted: dict[str, str], columns: list[str]) -> None:
        self.quoted = quoted
        self.columns = columns

    def _depth(self, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise _Refused(f"it is nested more than {MAX_DEPTH} levels deep")
        return depth + 1

    def predicate(self, node: ast.expr, depth: int) -> Node:
        depth = self._depth(depth)
        if isinstance(node, ast.BoolOp):
            items = tuple(self.predicate(v, depth) for v in node.values)
            return And(items) if isinstance(node.op, ast.And) else Or(items)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.Invert):
            return Not(self.predicate(node.operand, depth))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Name):
            return Truth(self.column(node))
        raise _Refused(f"{self.describe(node)} is not a condition")

    def compare(self, node: ast.Compare) -> Node:
        parts: list[Node] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                parts.append(IsIn(self.column(left), self.values(right), negate=isinstance(op, ast.NotIn)))
            elif type(op) in _CMP:
                a, b = self.operand(left), self.operand(right)
                if isinstance(a, Value) and isinstance(b, Value):
                    raise _Refused("a comparison must name a column")
                parts.append(Compare(_CMP[type(op)], a, b))
            else:
                raise _Refused(f"the operator {type(op).__name__!r} is not one of ==, !=, <, <=, >, >=, in, not in")
            left = right
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def call(self, node: ast.Call) -> Node:
        func = node.func
        if not isinstance(func, ast.Attribute):
            raise _Refused(f"{self.describe(func)} cannot be called; only the string predicates, isin, isna and notna")
        method = func.attr
        if method in ("isna", "notna", "isnull", "notnull"):
            if node.args or node.keywords:
                raise _Refused(f".{method}() takes no arguments")
            return IsNull(self.column(func.value), negate=method in ("notna", "notnull"))
        if method == "isin":
            if len(node.args) != 1 or node.keywords:
                raise _Refused(".isin() takes one list of values")
            return IsIn(self.column(func.value), self.values(node.args[0]))
        if method in _STR_OPTIONS:
            owner = func.value
            if not (isinstance(owner, ast.Attribute) and owner.attr == "str"):
                raise _Refused(f".{method}() must be called as COLUMN.str.{method}(...)")
            column = self.column(owner.value)
            if len(node.args) != 1:
                raise _Refused(f".str.{method}() takes one text pattern")
            pattern = self.literal(node.args[0])
            if not isinstance(pattern, str):
                raise _Refused(f".str.{method}() needs a text pattern in quotes, got {pattern!r}")
            options: dict[str, bool] = {}
            for kw in node.keywords:
                if kw.arg not in _STR_OPTIONS[method]:
                    allowed = ", ".join(f"{k}=" for k in _STR_OPTIONS[method])
                    raise _Refused(f".str.{method}() takes only {allowed} (got {kw.arg or '**'}=)")
                value = self.literal(kw.value)
                if not isinstance(value, bool):
                    raise _Refused(f"{kw.arg}= of .str.{method}() must be True or False, got {value!r}")
                options[kw.arg] = value
            if method in ("contains", "fullmatch") and options.get("regex", True):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise _Refused(f"the pattern {pattern!r} is not a regular expression ({exc}); pass regex=False") from None
            return StrMatch(column, method, pattern, **options)  # type: ignore[arg-type]
        raise _Refused(
            f"the method {method!r} is not allowed; use .str.contains/.str.startswith/.str.endswith/"
            ".str.fullmatch, .isin, .isna or .notna"
        )

    def column(self, node: ast.expr) -> Column:
        if not isinstance(node, ast.Name):
            raise _Refused(f"{self.describe(node)} is not a column name")
        name = self.quoted.get(node.id, node.id)
        if node.id not in self.quoted and node.id.startswith("_"):
            raise _Refused(f"the name {node.id!r} starts with '_'; quote such a column in backticks")
        if name not in self.columns:
            self.columns.append(name)
        return Column(name)

    def operand(self, node: ast.expr) -> Operand:
        if isinstance(node, ast.Name):
            return self.column(node)
        return Value(self.literal(node))

    def literal(self, node: ast.expr) -> Scalar:
        if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, str | int | float | bool)):
            value = node.value
            if isinstance(value, float) and not np.isfinite(value):
                raise _Refused(f"the number {value!r} is not finite")
            return value
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, int | float)
            and not isinstance(node.operand.value, bool)
        ):
            return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
        raise _Refused(f"{self.describe(node)} is not a literal (text in quotes, a number, True, False or None)")

    def values(self, node: ast.expr) -> tuple[Scalar, ...]:
        if not isinstance(node, ast.List | ast.Tuple):
            raise _Refused(f"'in' needs a list of literals such as ['a', 'b'], got {self.describe(node)}")
        return tuple(self.literal(v) for v in node.elts)

    def describe(self, node: ast.AST) -> str:
        if isinstance(node, ast.Attribute):
            return f"attribute {node.attr!r}"
        if isinstance(node, ast.Name):
            return f"the name {self.quoted.get(node.id, node.id)!r}"
        if isinstance(node, ast.Constant):
            return f"the literal {node.value!r}"
        return f"a {type(node).__name__} expression"


# ---------------------------------------------------------------------------------------------
# Evaluation: pandas operations on the named columns
# ---------------------------------------------------------------------------------------------

_OPS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _operand(node: Operand, frame: pd.DataFrame) -> Any:
    return frame[node.name] if isinstance(node, Column) else node.value


def _as_mask(values: Any, frame: pd.DataFrame) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.astype("boolean").fillna(False).astype(bool)
    return pd.Series(bool(values), index=frame.index)


def _kind(column: pd.Series) -> Literal["number", "text", "other"]:
    if pd.api.types.is_bool_dtype(column):
        return "other"
    if pd.api.types.is_numeric_dtype(column):
        return "number"
    present = column.dropna()
    if pd.api.types.is_string_dtype(column) or (len(present) and all(isinstance(v, str) for v in present)):
        return "text"
    return "other"


def _check_literal(column: pd.Series, name: str, value: Scalar, text: str) -> None:
    """Refuse a literal of the wrong kind for its column, which would silently match nothing."""
    if value is None or isinstance(value, bool):
        return
    kind = _kind(column)
    if kind == "number" and isinstance(value, str):
        raise InputError(
            f"filter {_shown(text)}: column {name!r} holds numbers, compared with the text {value!r}; "
            "write the number without quotes"
        )
    if kind == "text" and isinstance(value, int | float):
        raise InputError(
            f"filter {_shown(text)}: column {name!r} holds text, compared with the number {value!r}; "
            "put the value in quotes"
        )


def _evaluate(node: Node, frame: pd.DataFrame, text: str) -> pd.Series:
    if isinstance(node, And | Or):
        masks = [_evaluate(item, frame, text) for item in node.items]
        out = masks[0]
        for m in masks[1:]:
            out = (out & m) if isinstance(node, And) else (out | m)
        return out
    if isinstance(node, Not):
        return ~_evaluate(node.item, frame, text)
    if isinstance(node, Compare):
        a, b = _operand(node.left, frame), _operand(node.right, frame)
        for col, lit in ((node.left, node.right), (node.right, node.left)):
            if isinstance(col, Column) and isinstance(lit, Value):
                _check_literal(frame[col.name], col.name, lit.value, text)
        if node.op not in ("==", "!=") and (
            (isinstance(node.left, Value) and node.left.value is None)
            or (isinstance(node.right, Value) and node.right.value is None)
        ):
            raise InputError(f"filter {_shown(text)}: None cannot be ordered; use COLUMN.isna() or COLUMN.notna()")
        if isinstance(node.right, Value) and node.right.value is None:
            result = a.isna() if node.op == "==" else a.notna()
        elif isinstance(node.left, Value) and node.left.value is None:
            result = b.isna() if node.op == "==" else b.notna()
        else:
            result = _as_mask(_OPS[node.op](a, b), frame)
            # a missing value (None, NaN, pd.NA in any dtype) matches no comparison but "!="
            missing = pd.Series(False, index=frame.index)
            for side in (a, b):
                if isinstance(side, pd.Series):
                    missing |= side.isna().to_numpy()
            return result.where(~missing, node.op == "!=")
        return _as_mask(result, frame)
    if isinstance(node, IsIn):
        for value in node.values:
            _check_literal(frame[node.column.name], node.column.name, value, text)
        result = frame[node.column.name].isin(list(node.values))
        if any(v is None for v in node.values):
            result = result | frame[node.column.name].isna()
        return ~_as_mask(result, frame) if node.negate else _as_mask(result, frame)
    if isinstance(node, IsNull):
        result = frame[node.column.name].isna()
        return ~result if node.negate else result
    if isinstance(node, StrMatch):
        column = frame[node.column.name]
        present = column.dropna()
        if len(present) and not all(isinstance(v, str) for v in present):
            raise InputError(
                f"filter {_shown(text)}: column {node.column.name!r} is not text (it holds "
                f"{column.dtype}); compare it with ==, <, ... instead of .str.{node.func}()"
            )
        text_values = column.astype("object").where(column.notna(), None)
        accessor = text_values.str
        if node.func == "contains":
            result = accessor.contains(node.pattern, case=node.case, regex=node.regex, na=node.na)
        elif node.func == "fullmatch":
            result = accessor.fullmatch(node.pattern, case=node.case, na=node.na)
        else:
            result = getattr(accessor, node.func)(node.pattern, na=node.na)
        return _as_mask(result.where(column.notna(), node.na), frame)
    if isinstance(node, Truth):
        column = frame[node.column.name]
        if not (pd.api.types.is_bool_dtype(column) or column.dropna().map(type).eq(bool).all()):
            raise InputError(
                f"filter {_shown(text)}: column {node.column.name!r} is not true/false; compare it, "
                f"e.g. {node.column.name} == 'value'"
            )
        return _as_mask(column, frame)
    raise AssertionError(f"unknown filter node {node!r}")  # pragma: no cover (parse_filter builds the tree)


def filter_mask(frame: pd.DataFrame, expr: str | Filter, *, label: str = "rows") -> pd.Series:
    """Which rows of ``frame`` match the filter ``expr`` (see the grammar of :mod:`geosurvey.filters`).

    Parameters
    ----------
    frame : pandas.DataFrame or geopandas.GeoDataFrame
        The rows.
    expr : str or Filter
        The filter text, or one parsed by :func:`parse_filter`.
    label : str
        What the rows are (``"faults"``, ``"occurrences"``), for messages.

    Returns
    -------
    pandas.Series
        bool, on ``frame``'s index.

    Raises
    ------
    geosurvey.errors.InputError
        If the filter is not of the grammar, names a missing column, or compares values of the
        wrong type.
    """
    parsed = expr if isinstance(expr, Filter) else parse_filter(expr)
    return parsed.mask(frame, label=label)


def apply_filter(
    frame: pd.DataFrame, expr: str | Filter, *, label: str = "rows", allow_empty: bool = False
) -> pd.DataFrame:
    """The rows of ``frame`` that match the filter ``expr`` (a new frame of the same type).

    Parameters
    ----------
    frame : pandas.DataFrame or geopandas.GeoDataFrame
        The rows.
    expr : str or Filter
        The filter (grammar in :mod:`geosurvey.filters`).
    label : str
        What the rows are, for messages.
    allow_empty : bool
        Return an empty frame instead of refusing a filter that matches nothing.

    Raises
    ------
    geosurvey.errors.InputError
        As :func:`filter_mask`; also when nothing matches (unless ``allow_empty``).
    """
    parsed = expr if isinstance(expr, Filter) else parse_filter(expr)
    mask = parsed.mask(frame, label=label)
    out = frame[mask.to_numpy(dtype=bool)]
    if out.empty and not allow_empty:
        raise InputError(
            f"filter {parsed.shown} selects none of the {len(frame)} {label}; check the values "
            "(text comparisons are case-sensitive unless .str.contains(..., case=False))"
        )
    return out
