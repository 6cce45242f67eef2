"""Timing helper shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` runs of ``fn``, in seconds (the least disturbed by other work)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def peak_rss_mib() -> float:
    """The peak resident memory of this process so far (``VmHWM``), MiB; NaN off Linux.

    ``VmHWM`` counts this program only; ``ru_maxrss`` would also count the memory its parent had
    when it forked (kept across ``exec``).

    Run on a Dask worker with ``client.run(peak_rss_mib)`` for the workers' peaks.
    """
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:  # pragma: no cover - not Linux
        return float("nan")
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover
