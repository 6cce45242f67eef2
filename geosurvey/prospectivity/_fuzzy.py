"""Fuzzy memberships and fuzzy overlay operators (knowledge-driven prospectivity).

All functions take DataArrays and return DataArrays, element-wise, so Dask-backed input stays lazy
and chunked results equal in-memory ones. NaN (nodata) propagates: a pixel with any missing evidence
has no score, and is reported as such rather than guessed.

References
----------
Bonham-Carter, G. F. (1994). *Geographic Information Systems for Geoscientists: Modelling with GIS*.
Pergamon. Chapter 9 (fuzzy logic, the gamma operator).
An, P., Moon, W. M., & Rencz, A. (1991). Application of fuzzy set theory to integrated mineral
exploration. *Canadian Journal of Exploration Geophysics*, 27(1), 1-11.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Literal

import numba
import numpy as np
import xarray as xr
from scipy.special import expit

from geosurvey.errors import InputError, RecipeError
from geosurvey.grid import VALUE_ATTRS, check_same_grid, map_layer_blocks
from geosurvey.provenance import annotate

__all__ = [
    "MEMBERSHIP_PARAMETERS",
    "MembershipKind",
    "check_membership",
    "fuzzy_and",
    "fuzzy_gamma",
    "fuzzy_or",
    "fuzzy_product",
    "fuzzy_sum",
    "membership",
]

MembershipKind = Literal["linear", "sigmoid", "large", "small", "gaussian"]


_KIND_PARAMS: dict[str, tuple[str, ...]] = {
    "linear": ("low", "high"),
    "sigmoid": ("midpoint", "spread"),
    "large": ("midpoint", "spread"),
    "small": ("midpoint", "spread"),
    "gaussian": ("midpoint", "spread"),
}
#: Parameters each membership kind takes (``increasing`` only for linear and sigmoid).
MEMBERSHIP_PARAMETERS: dict[str, tuple[str, ...]] = {
    "linear": ("low", "high", "increasing"),
    "sigmoid": ("midpoint", "spread", "increasing"),
    "large": ("midpoint", "spread"),
    "small": ("midpoint", "spread"),
    "gaussian": ("midpoint", "spread"),
}


def check_membership(
    kind: str,
    *,
    low: float | None = None,
    high: float | None = None,
    midpoint: float | None = None,
    spread: float | None = None,
    increasing: bool = True,
    name: str = "evidence",
) -> None:
    """Refuse a membership that cannot be computed: unknown kind, missing or invalid parameters.

    The one check used both when a recipe is parsed and when :func:`membership` is called:
    ``low < high`` (linear), ``spread > 0`` (sigmoid, gaussian, large, small), ``midpoint > 0``
    (large, small), finite numbers, ``increasing`` a boolean.

    Raises
    ------
    RecipeError
        Naming the layer, the kind and the parameter at fault.
    """
    if kind not in _KIND_PARAMS:
        raise RecipeError(
            f"unknown membership kind {kind!r} for {name!r}; use one of "
            f"{', '.join(_KIND_PARAMS)}"
        )
    given = {"low": low, "high": high, "midpoint": midpoint, "spread": spread}
    missing = [k for k in _KIND_PARAMS[kind] if given[k] is None]
    if missing:
        raise RecipeError(f"membership kind {kind!r} for {name!r} needs {', '.join(missing)}")
    for key in _KIND_PARAMS[kind]:
        value = given[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            raise RecipeError(f"membership {kind!r} for {name!r}: {key} must be a finite number, got {value!r}")
    if not isinstance(increasing, bool | np.bool_):
        raise RecipeError(f"membership {kind!r} for {name!r}: increasing must be true or false, got {increasing!r}")
    if kind == "linear" and not high > low:  # type: ignore[operator]
        raise RecipeError(f"linear membership for {name!r} needs low < high (got {low}, {high})")
    if kind != "linear" and not spread > 0:  # type: ignore[operator]
        raise RecipeError(f"{kind} membership for {name!r} needs spread > 0 (got {spread})")
    if kind in ("large", "small") and not midpoint > 0:  # type: ignore[operator]
        raise RecipeError(f"{kind} membership for {name!r} needs midpoint > 0 (got {midpoint})")


def _membership_kernel(
    x: np.ndarray,
    *,
    kind: str,
    low: float | None,
    high: float | None,
    midpoint: float | None,
    spread: float | None,
    increasing: bool,
    dtype: np.dtype,
) -> np.ndarray:
    """The membership formulas of :func:`membership` on one NumPy block, in float64, returned as
    ``dtype``.

    Run block by block by Dask, so the floating-point state is set here, where the arithmetic
    happens (``np.errstate`` around graph construction does nothing at compute time): overflow of
    ``exp`` or a square for extreme evidence values gives the formula's limit (0 or 1), not a
    warning. The cast to ``dtype`` is done here too, not as a Dask step of its own: that would be
    one more task per block every time the membership is computed.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        if kind == "linear":
            mu = np.clip((x - low) / (high - low), 0.0, 1.0)  # type: ignore[operator]
            if not increasing:
                mu = 1.0 - mu
        elif kind == "sigmoid":
            z = (x - midpoint) / spread  # type: ignore[operator]
            mu = expit(z if increasing else -z)
        elif kind in ("large", "small"):
            # 1 / (1 + (x / m) ** ∓s) written as a logistic of s (ln x - ln m): no overflow
            positive = x > 0
            log_ratio = np.log(np.where(positive, x, 1.0)) - np.log(midpoint)  # type: ignore[arg-type]
            sign = 1.0 if kind == "large" else -1.0
            mu = np.where(positive, expit(sign * spread * log_ratio), 0.0 if kind == "large" else 1.0)  # type: ignore[operator]
        else:  # gaussian
            mu = np.exp(-0.5 * np.square((x - midpoint) / spread))  # type: ignore[operator]
    return np.where(np.isnan(x), np.nan, mu).astype(dtype, copy=False)


def membership(
    evidence: xr.DataArray,
    *,
    kind: MembershipKind,
    low: float | None = None,
    high: float | None = None,
    midpoint: float | None = None,
    spread: float | None = None,
    increasing: bool = True,
) -> xr.DataArray:
    """Map an evidence layer to fuzzy membership values in [0, 1].

    Parameters
    ----------
    evidence
        Any evidence layer, in its own units (e.g. radians for a tilt derivative, metres for a
        distance).
    kind
        The membership function:

        ``"linear"``
            0 at ``low``, 1 at ``high``, linear in between, clipped outside (``increasing=False``
            reverses it).
        ``"sigmoid"``
            Logistic ``1 / (1 + exp(-(x - midpoint) / spread))``; ``spread`` in the evidence's units
            (``increasing=False`` reverses it). Works for negative evidence values.
        ``"large"``
            ArcGIS "Fuzzy Large", ``1 / (1 + (x / midpoint) ** -spread)`` for ``x > 0``, 0 for
            ``x <= 0``: large values are favourable.
        ``"small"``
            ArcGIS "Fuzzy Small", ``1 / (1 + (x / midpoint) ** spread)`` for ``x >= 0``: small values
            (e.g. short distances to faults) are favourable.
        ``"gaussian"``
            ``exp(-((x - midpoint) / spread) ** 2 / 2)``: values near ``midpoint`` are favourable.
    low, high
        Breakpoints of ``"linear"``, in the evidence's units.
    midpoint, spread
        Parameters of the other kinds, in the evidence's units (``spread`` is dimensionless for
        ``"large"``/``"small"``).
    increasing
        For ``"linear"`` and ``"sigmoid"``: whether membership grows with the evidence.

    Returns
    -------
    xarray.DataArray
        Membership in [0, 1] (units ``"1"``), NaN where the evidence is NaN.
    """
    name = str(evidence.name or "evidence")
    check_membership(
        kind, low=low, high=high, midpoint=midpoint, spread=spread, increasing=increasing, name=name
    )
    params = dict(low=low, high=high, midpoint=midpoint, spread=spread, increasing=increasing)
    dtype = evidence.dtype if np.issubdtype(evidence.dtype, np.floating) else np.dtype(np.float32)
    mu = map_layer_blocks(
        functools.partial(_membership_kernel, kind=kind, **params, dtype=dtype),
        evidence,
        dtype=dtype,
    )
    if kind == "linear":
        params = f"low={low}, high={high}, increasing={increasing}"
    elif kind == "sigmoid":
        params = f"midpoint={midpoint}, spread={spread}, increasing={increasing}"
    else:
        params = f"midpoint={midpoint}, spread={spread}"
    return annotate(
        mu,
        f"membership({kind}, {params})",
        units="1",
        long_name=f"fuzzy membership of {evidence.attrs.get('long_name', name)}",
        name=f"mu_{name}",
    )


def _stack(layers: Sequence[xr.DataArray]) -> list[xr.DataArray]:
    layers = list(layers)
    if not layers:
        raise InputError("a fuzzy overlay needs at least one membership layer")
    check_same_grid(layers, what="fuzzy overlay")
    return layers


def _finish(out: xr.DataArray, layers: list[xr.DataArray], step: str, name: str) -> xr.DataArray:
    out.attrs = {k: v for k, v in layers[0].attrs.items() if k != "history" and k not in VALUE_ATTRS}
    names = ", ".join(str(layer.name) for layer in layers)
    return annotate(
        out, f"{step}({names})", units="1", long_name=f"fuzzy {step} of {names}", name=name
    )


def _pairwise(layers: list[xr.DataArray], ufunc: np.ufunc) -> xr.DataArray:
    """Fold ``ufunc`` (``np.fmin``/``np.fmax``) over the layers, keeping NaN where any layer is NaN."""
    out = layers[0]
    for layer in layers[1:]:
        out = ufunc(out, layer).where(out.notnull() & layer.notnull())
    return out


def _product(layers: list[xr.DataArray]) -> xr.DataArray:
    out = layers[0]
    for layer in layers[1:]:
        out = out * layer
    return out


def _algebraic_sum(layers: list[xr.DataArray]) -> xr.DataArray:
    return 1.0 - _product([1.0 - layer for layer in layers])


def fuzzy_and(layers: Sequence[xr.DataArray]) -> xr.DataArray:
    """Fuzzy AND: the minimum membership at each pixel."""
    layers = _stack(layers)
    return _finish(_pairwise(layers, np.fmin), layers, "and", "fuzzy_and")


def fuzzy_or(layers: Sequence[xr.DataArray]) -> xr.DataArray:
    """Fuzzy OR: the maximum membership at each pixel."""
    layers = _stack(layers)
    return _finish(_pairwise(layers, np.fmax), layers, "or", "fuzzy_or")


def fuzzy_product(layers: Sequence[xr.DataArray]) -> xr.DataArray:
    """Fuzzy algebraic product ``Π μᵢ`` (decreasive: never above the smallest membership)."""
    layers = _stack(layers)
    return _finish(_product(layers), layers, "product", "fuzzy_product")


def fuzzy_sum(layers: Sequence[xr.DataArray]) -> xr.DataArray:
    """Fuzzy algebraic sum ``1 − Π (1 − μᵢ)`` (increasive: never below the largest membership)."""
    layers = _stack(layers)
    return _finish(_algebraic_sum(layers), layers, "sum", "fuzzy_sum")


def fuzzy_gamma(layers: Sequence[xr.DataArray], *, gamma: float = 0.8) -> xr.DataArray:
    """Fuzzy gamma operator: ``(fuzzy sum) ** gamma * (fuzzy product) ** (1 - gamma)``.

    ``gamma = 0`` is the product, ``gamma = 1`` the sum; values around 0.7-0.9 are usual in
    mineral prospectivity (Bonham-Carter 1994, p. 298).

    Parameters
    ----------
    layers
        Membership layers in [0, 1] on one grid.
    gamma
        The gamma exponent, in [0, 1].

    Returns
    -------
    xarray.DataArray
        The combined membership in [0, 1], named ``"score"``; NaN where any layer is NaN.
    """
    if not 0.0 <= gamma <= 1.0:
        raise InputError(f"gamma must be between 0 and 1, got {gamma}")
    layers = _stack(layers)
    dtype = np.result_type(*[layer.dtype for layer in layers], np.float32)
    out = map_layer_blocks(_gamma_kernel(float(gamma), dtype), *layers, dtype=dtype)
    return _finish(out, layers, f"gamma[{gamma}]", "score")


#: Rows of pixels per strip of the fuzzy gamma kernel: about 256 k values (1 MiB of float32), so a
#: strip's accumulators and any copied inputs stay in the CPU cache between the passes over them.
_STRIP_VALUES = 262_144


@numba.njit(nogil=True, cache=True)
def _gamma_fold(mus: tuple, prod: np.ndarray, comp: np.ndarray, one: float) -> None:
    """Row by row: ``prod = Πμ / s`` and ``comp = s = 1 − Π(1 − μ)``, each layer read once.

    ``one`` is 1 in the accumulators' dtype (a literal 1 is int64 and would promote float32 to
    float64). Where ``s`` is 0 (every μ is 0, or below the float resolution) the product is kept:
    the caller's ``s · ratio**(1 − γ)`` then gives the formula's 0. NaN fails ``s > 0`` and stays.
    """
    for i in range(prod.shape[0]):
        p, c, first = prod[i], comp[i], mus[0][i]
        for j in range(p.shape[0]):  # one row of accumulators lives in the L1 cache
            p[j] = first[j]
            c[j] = one - first[j]
        for k in range(1, len(mus)):
            mu = mus[k][i]
            for j in range(p.shape[0]):
                p[j] *= mu[j]
                c[j] *= one - mu[j]
        for j in range(p.shape[0]):
            s = one - c[j]
            c[j] = s
            if s > 0:
                p[j] = p[j] / s


def _gamma_kernel(gamma: float, dtype: np.dtype) -> object:
    """``(1 − Π(1 − μ))**γ · (Πμ)**(1 − γ)`` on one block, each layer read once.

    Written by hand because the xarray expression makes ~3 whole-block temporaries a layer and
    two powers, and even in-place numpy needs ~4 passes a layer over its accumulators. Here one
    numba loop (compiled once per dtype and cached on disk; the GIL released, so Dask's threads
    run in parallel) folds every layer into two accumulators a row at a time, and the identity
    ``s**γ · p**(1−γ) = s · (p / s)**(1−γ)`` leaves one power, taken by numpy's vectorised
    ``power`` over strips of rows that stay in the cache. No ``fastmath``: NaN must propagate
    exactly as in the formula, and the products keep the formula's order.
    """
    exponent, one = dtype.type(1.0 - gamma), dtype.type(1.0)

    def block(*mus: np.ndarray) -> np.ndarray:
        shape = np.broadcast_shapes(*(m.shape for m in mus))
        out = np.empty(shape, dtype=dtype)
        flat_out = out.reshape(-1, shape[-1]) if out.ndim > 1 else out.reshape(1, -1)
        flat_in = [
            (m if m.shape == shape else np.broadcast_to(m, shape)).reshape(flat_out.shape)
            for m in mus
        ]
        rows = min(flat_out.shape[0], max(1, _STRIP_VALUES // max(1, flat_out.shape[1])))
        scratch = np.empty((1 + len(mus), rows, flat_out.shape[1]), dtype=dtype)
        for r0 in range(0, flat_out.shape[0], rows):
            r1 = min(r0 + rows, flat_out.shape[0])
            prod, comp = flat_out[r0:r1], scratch[0, : r1 - r0]
            _gamma_fold(_strips(flat_in, r0, r1, scratch[1:], dtype), prod, comp, one)
            np.power(prod, exponent, out=prod)
            np.multiply(prod, comp, out=prod)
        return out

    return block


def _strips(
    arrays: list[np.ndarray], r0: int, r1: int, scratch: np.ndarray, dtype: np.dtype
) -> tuple[np.ndarray, ...]:
    """Rows ``r0:r1`` of each array as writable, C-contiguous arrays of ``dtype`` — one numba
    type for all, so the kernel can index them as one tuple. A strip that is already so is used
    as it is; others (a view into a wider grid, another dtype, a broadcast) are copied into
    ``scratch``, which stays in the cache."""
    out = []
    for array, spare in zip(arrays, scratch, strict=True):
        part = array[r0:r1]
        if not (part.dtype == dtype and part.flags.c_contiguous and part.flags.writeable):
            np.copyto(spare[: r1 - r0], part, casting="unsafe")
            part = spare[: r1 - r0]
        out.append(part)
    return tuple(out)
