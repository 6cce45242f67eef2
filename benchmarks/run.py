"""Run every geosurvey benchmark and print a table: ``python -m benchmarks.run [--quick]``.

* the demo (``bench_demo``): time of each stage and peak memory, in a fresh process;
* every other ``benchmarks/bench_*.py`` module with a ``run(quick)`` function returning rows
  ``{"benchmark", "case", "geosurvey_s", "baseline_s", "ratio", "peak_mib"}``: geosurvey against a
  baseline measured in the same run (ratio = geosurvey / baseline; below 1 is faster).

``--quick`` uses small sizes (a smoke run for CI); the numbers to report come from a full run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _demo(quick: bool) -> None:
    cmd = [sys.executable, "-m", "benchmarks.bench_demo", *(["--quick"] if quick else [])]
    proc = subprocess.run(cmd, cwd=HERE.parent, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"demo benchmark failed (exit {proc.returncode})")
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    print("== geosurvey demo" + (" (quick: 200 m grid)" if quick else " (100 m grid)"))
    for stage, seconds in doc["stages_s"].items():
        print(f"  {stage:<12} {seconds:8.2f} s")
    print(
        f"  {'total':<12} {doc['total_s']:8.2f} s   peak RSS {doc['peak_rss_mib']:.0f} MiB   ROC AUC {doc['roc_auc']:.3f}"
    )


def _fmt(value: object, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--only", help="run only benchmarks whose module name contains this")
    args = parser.parse_args(argv)
    if not args.only or args.only in "bench_demo":
        _demo(args.quick)
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem
        if name == "bench_demo" or (args.only and args.only not in name):
            continue
        module = importlib.import_module(f"benchmarks.{name}")
        rows = module.run(quick=args.quick)
        print(f"== {name}")
        print(f"  {'case':<36} {'geosurvey s':>12} {'baseline s':>11} {'ratio':>7} {'peak MiB':>9}")
        for row in rows:
            print(
                f"  {row['benchmark'] + ': ' + row['case']:<36} {_fmt(row['geosurvey_s'], '12.3f')} "
                f"{_fmt(row.get('baseline_s'), '11.3f')} {_fmt(row.get('ratio'), '7.2f')} "
                f"{_fmt(row.get('peak_mib'), '9.0f')}"
            )
            extra = {k: v for k, v in row.items() if k not in _COLUMNS}  # e.g. Mpx/s, speed-up
            if extra:
                print("    " + ", ".join(f"{k}={_fmt(v, '.3g') if isinstance(v, float) else v}" for k, v in extra.items()))
    return 0


_COLUMNS = {"benchmark", "case", "geosurvey_s", "baseline_s", "ratio", "peak_mib"}


if __name__ == "__main__":
    raise SystemExit(main())
