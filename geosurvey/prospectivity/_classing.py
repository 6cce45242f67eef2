"""Classing pixel values in one linear pass, for weights of evidence.

Values are put into 65,536 fine bins by arithmetic (``(x − lo) · scale``, monotone in x), a
65,536-entry table gives each bin its class, and only the pixels of the few bins holding a class
edge are compared with the edges exactly. Hand-written because ``numpy.searchsorted`` /
``numpy.digitize`` is ~3× slower on 16 M pixels and 100 edges, and a loop over thresholds (EIS
Toolkit's way) is quadratic. Quantile edges are exact order statistics of the valid pixels
(numpy's ``method="lower"``), found from the fine-bin histogram plus a sort of the few pixels in
the bins that hold them. Integer class codes are counted with ``numpy.bincount``.

Numpy arrays are processed in strips of 2**20 pixels, so temporaries stay ~20 MB whatever the grid.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np

from geosurvey.errors import InputError

__all__ = ["Classer", "FineBins", "WeightsClassify", "code_counts", "data_edges", "map_ranges",
           "map_strips", "strips"]

WeightsClassify = Literal["quantile", "equal-interval", "natural-breaks"]
T = TypeVar("T")

_FINE_BINS = 1 << 16
_STRIP = 1 << 20  # pixels per numpy strip: bounds the temporaries to ~20 MB
_MAX_CODE_RANGE = 1 << 22
_NATURAL_BREAKS_SAMPLE = 2000


def strips(values: np.ndarray) -> Iterator[np.ndarray]:
    """Flat views of ``values``, ``_STRIP`` pixels each."""
    flat = values.reshape(-1)
    for start in range(0, flat.size, _STRIP):
        yield flat[start : start + _STRIP]


def map_ranges(fn: Callable[[int, int], T], size: int) -> list[T]:
    """``fn(start, stop)`` over consecutive ranges of ``_STRIP`` pixels, results in order.

    On all cores (threads: numpy's loops release the GIL) when called from the main thread
    on four or more strips, as for a whole in-memory grid; one after the other inside a Dask
    task (blocks are already spread over the cores) or for small arrays.
    """
    bounds = [(a, min(a + _STRIP, size)) for a in range(0, size, _STRIP)]
    workers = min(os.cpu_count() or 1, len(bounds))
    if workers < 2 or len(bounds) < 4 or threading.current_thread() is not threading.main_thread():
        return [fn(a, b) for a, b in bounds]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda ab: fn(*ab), bounds))


def map_strips(fn: Callable[[np.ndarray], T], values: np.ndarray) -> list[T]:
    """``fn(strip)`` over the strips of ``values`` (see :func:`map_ranges`)."""
    flat = np.asarray(values).reshape(-1)
    return map_ranges(lambda a, b: fn(flat[a:b]), flat.size)


@dataclass(frozen=True, eq=False)
class FineBins:
    """Monotone arithmetic binning of values between ``lo`` and ``hi`` into ``_FINE_BINS`` bins."""

    lo: float
    hi: float

    @property
    def scale(self) -> float:
        return _FINE_BINS / (self.hi - self.lo) if self.hi > self.lo else 0.0

    def bins(self, x: np.ndarray, *, check_range: bool = True) -> np.ndarray:
        """Bin of each value (``_FINE_BINS`` for NaN and, with ``check_range``, values outside
        [lo, hi]; without it the caller knows every value is inside)."""
        x = np.asarray(x)
        f = np.subtract(x, self.lo, dtype=np.float64)
        np.multiply(f, self.scale, out=f)
        np.clip(f, 0, _FINE_BINS - 1, out=f)
        if check_range:
            f[~((x >= self.lo) & (x <= self.hi))] = _FINE_BINS
        else:
            np.copyto(f, _FINE_BINS, where=np.isnan(f))
        return f.astype(np.int32)


@dataclass(frozen=True, eq=False)
class Classer:
    """Maps pixel values to class numbers 1..k (0: no class), from edges or from integer codes."""

    edges: np.ndarray | None = None  # k + 1 increasing edges: [e0, e1), ..., [e_{k-1}, e_k]
    codes: np.ndarray | None = None  # k sorted integer codes
    covers_data: bool = False  # edges from the data itself: every valid value is in [e0, ek]

    @property
    def k(self) -> int:
        return len(self.codes) if self.codes is not None else len(self.edges) - 1  # type: ignore[arg-type]

    def _tables(self) -> tuple[FineBins, np.ndarray, np.ndarray]:
        edges = self.edges
        assert edges is not None
        fb = FineBins(float(edges[0]), float(edges[-1]))
        inner = edges[1:-1]
        fe = fb.bins(inner) if inner.size else np.zeros(0, np.int32)
        # by monotonicity, a value in bin j that is no edge's bin is >= exactly the edges with
        # bin < j; only values in an edge's own bin need an exact comparison
        lut = (np.searchsorted(fe, np.arange(_FINE_BINS + 1), side="left") + 1).astype(np.int32)
        lut[_FINE_BINS] = 0
        ambiguous = np.zeros(_FINE_BINS + 1, bool)
        ambiguous[fe] = True
        ambiguous[_FINE_BINS] = False
        return fb, lut, ambiguous

    def index(self, values: np.ndarray) -> np.ndarray:
        """Class number (int32, 0 = nodata or outside every class) of each value, same shape."""
        values = np.asarray(values)
        out = np.empty(values.shape, np.int32)
        flat = out.reshape(-1)
        pos = 0
        if self.codes is not None:
            codes = self.codes
            lo, span = int(codes[0]), int(codes[-1] - codes[0])
            if span > _MAX_CODE_RANGE:  # sparse codes: binary search instead of a huge table
                for strip in strips(values):
                    x = strip.astype(np.float64)
                    i = np.searchsorted(codes, x)
                    i = np.minimum(i, codes.size - 1)
                    flat[pos : pos + strip.size] = np.where(codes[i] == x, i + 1, 0)
                    pos += strip.size
                return out
            lut = np.zeros(span + 3, np.int32)  # [span + 1]: above; [-1] (= span + 2): below / NaN
            lut[(codes - lo).astype(np.int64)] = np.arange(1, codes.size + 1)
            # float32 arithmetic is exact for integer codes below 2**24
            work = np.float32 if values.dtype == np.float32 and span < 2**24 else np.float64
            for strip in strips(values):
                f = np.subtract(strip, lo, dtype=work)
                np.fmax(f, -1.0, out=f)  # fmax takes -1 for NaN: the "no class" slot
                np.fmin(f, span + 1.0, out=f)
                i = f.astype(np.intp)  # truncation: -1 < f < 0 gives 0, caught below
                cls = lut[i]
                if not self.covers_data:  # values not seen when the codes were found
                    cls[i != f] = 0
                flat[pos : pos + strip.size] = cls
                pos += strip.size
            return out
        fb, lut, ambiguous = self._tables()
        inner = self.edges[1:-1]  # type: ignore[index]
        for strip in strips(values):
            bins = fb.bins(strip, check_range=not self.covers_data)
            cls = lut[bins]
            amb = ambiguous[bins]
            if amb.any():
                cls[amb] = np.searchsorted(inner, strip[amb].astype(np.float64), side="right") + 1
            flat[pos : pos + strip.size] = cls
            pos += strip.size
        return out

    def counts(self, values: np.ndarray) -> np.ndarray:
        """Pixels per class: index 0 unused, 1..k the classes, k + 1 valid values in no class."""
        def one(strip: np.ndarray) -> np.ndarray:
            part = np.zeros(self.k + 2, np.int64)
            idx = self.index(strip)
            part[: self.k + 1] = np.bincount(idx, minlength=self.k + 1)
            if not self.covers_data:
                part[self.k + 1] = int(np.count_nonzero(np.isfinite(strip) & (idx == 0)))
            return part

        total = np.sum(map_strips(one, values), axis=0)
        total[0] = 0
        return total


def code_counts(values: np.ndarray) -> dict[int, int]:
    """Pixels per integer code of a block (NaN ignored); refuses non-integer values.

    Float strips are counted without copying out their valid pixels: NaN goes to an extra bin
    below the smallest code (``fmin``/``fmax`` skip NaN), one ``bincount`` does the rest.
    """
    counts: dict[int, int] = {}
    for part in map_strips(_strip_code_counts, values):
        for code, n in part.items():
            counts[code] = counts.get(code, 0) + n
    return counts


def _strip_code_counts(strip: np.ndarray) -> dict[int, int]:
    counts: dict[int, int] = {}
    if strip.dtype.kind != "f":
        _add_codes(counts, strip.astype(np.int64, copy=False), 0)
        return counts
    lo, hi = float(np.fmin.reduce(strip)), float(np.fmax.reduce(strip))
    if np.isnan(lo):
        return counts  # all NaN
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi - lo > _MAX_CODE_RANGE:
        x = strip[np.isfinite(strip)]
        if not np.array_equal(x, np.floor(x)):
            raise InputError("non-integer")
        _add_codes(counts, x.astype(np.int64), 0)
        return counts
    if lo != np.floor(lo):
        raise InputError("non-integer")
    work = np.float32 if strip.dtype == np.float32 and hi - lo < 2**24 else np.float64  # exact
    f = np.subtract(strip, lo - 1.0, dtype=work)  # codes from 1
    np.fmax(f, 0.0, out=f)  # fmax takes 0 for NaN: bin 0
    i = f.astype(np.intp)
    if not np.array_equal(i, f):
        raise InputError("non-integer")
    cnt = np.bincount(i, minlength=int(hi - lo) + 2)
    for code in np.nonzero(cnt[1:])[0]:
        counts[int(code + lo)] = int(cnt[code + 1])
    return counts


def _add_codes(counts: dict[int, int], codes: np.ndarray, _: int) -> None:
    if codes.size == 0:
        return
    uniq, cnt = np.unique(codes, return_counts=True)
    for u, n in zip(uniq.tolist(), cnt.tolist(), strict=True):
        counts[u] = counts.get(u, 0) + n


def valid_values(values: np.ndarray) -> np.ndarray:
    flat = values.reshape(-1)
    return flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat


def quantile_edges(values: np.ndarray, k: int) -> np.ndarray:
    """Exact order statistics at ranks floor((n - 1) i / k), i = 0..k (numpy method='lower')."""
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    fb = FineBins(lo, hi)
    hist = np.sum(map_strips(
        lambda strip: np.bincount(fb.bins(strip, check_range=False), minlength=_FINE_BINS + 1),
        values), axis=0)  # fmt: skip
    cum = np.cumsum(hist[:_FINE_BINS])
    n = int(cum[-1])
    ranks = ((n - 1) * np.arange(k + 1)) // k
    bins = np.searchsorted(cum, ranks, side="right")
    needed = np.zeros(_FINE_BINS + 1, bool)
    needed[bins] = True
    needed[_FINE_BINS] = False
    picked = np.concatenate(
        map_strips(lambda strip: strip[needed[fb.bins(strip, check_range=False)]], values)
    ).astype(np.float64)
    picked_bins = fb.bins(picked, check_range=False)
    edges = np.empty(k + 1)
    for i, (rank, b) in enumerate(zip(ranks, bins, strict=True)):
        in_bin = np.sort(picked[picked_bins == b])
        edges[i] = in_bin[rank - (cum[b - 1] if b > 0 else 0)]
    return edges


def data_edges(
    values: np.ndarray, classify: WeightsClassify, k: int, layer: str
) -> tuple[np.ndarray, list[str]]:
    notes: list[str] = []
    if not np.isfinite(values).any():
        raise InputError(f"weights of evidence: layer {layer!r} has no valid pixels to class")
    if classify == "quantile":
        edges = quantile_edges(values, k)
        notes.append(
            f"{k} quantile classes: edges are order statistics of the valid pixels "
            "(numpy quantile method='lower')"
        )
    elif classify == "equal-interval":
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        edges = np.linspace(lo, hi, k + 1)
        notes.append(f"{k} equal-interval classes between {lo:g} and {hi:g}")
    else:
        import mapclassify

        valid = valid_values(values)
        rng = np.random.default_rng(0)
        sample = valid if valid.size <= _NATURAL_BREAKS_SAMPLE else rng.choice(
            valid, _NATURAL_BREAKS_SAMPLE, replace=False
        )
        bins = mapclassify.FisherJenks(sample.astype(np.float64), k=k).bins
        edges = np.concatenate([[float(valid.min())], bins[:-1], [float(valid.max())]])
        notes.append(
            f"{k} natural-breaks classes: Fisher-Jenks (mapclassify) on a random sample of "
            f"{min(valid.size, _NATURAL_BREAKS_SAMPLE)} of {valid.size} valid pixels (seed 0); "
            "the outer edges are the minimum and maximum of all pixels"
        )
    unique = np.unique(edges)
    if unique.size < edges.size:
        notes.append(
            f"{edges.size - unique.size} repeated class edge(s) merged (many equal values): "
            f"{unique.size - 1} classes instead of {k}"
        )
        warnings.warn(f"weights of evidence, layer {layer!r}: {notes[-1]}", stacklevel=3)
    if unique.size < 2:
        raise InputError(
            f"weights of evidence: layer {layer!r} has a single value; it cannot be classed"
        )
    return unique, notes
