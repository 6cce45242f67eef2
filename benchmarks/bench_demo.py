"""Benchmark of ``geosurvey demo``: the time of each stage and the peak memory of the process.

Run alone (``python -m benchmarks.bench_demo``) it prints one JSON document; ``benchmarks/run.py``
runs it in a fresh process so that the peak resident memory is the demo's own.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path


def main(quick: bool = False) -> dict[str, object]:
    """Run the demo once into a temporary folder; return stage timings (s) and peak RSS (MiB)."""
    from geosurvey.demo import run_demo

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_demo(
            Path(tmp) / "out", seed=0, resolution=200.0 if quick else 100.0, echo=lambda _msg: None
        )
        total = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {
        "stages_s": {k: round(v, 3) for k, v in result.timings.items()},
        "total_s": round(total, 3),
        "peak_rss_mib": round(peak_mib, 1),
        "roc_auc": result.metrics["roc_auc"],
    }


if __name__ == "__main__":
    print(json.dumps(main(quick="--quick" in sys.argv)))
