"""The README's promises: its Python tour runs, and .ci/run runs exactly its test command."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def test_ci_runs_the_readme_test_command() -> None:
    quick_start = README[README.index("## Quick start") : README.index("## A short tour")]
    commands = [
        line
        for line in re.findall(r"```bash\n(.*?)```", quick_start, re.S)[0].splitlines()
        if line and not line.startswith("#")
    ]
    assert len(commands) == 2, (
        commands
    )  # one installs and runs the demo, one installs and runs the tests
    assert "geosurvey demo" in commands[0]
    ci = (REPO / ".ci" / "run").read_text()
    assert f"exec {commands[1]}" in ci


@pytest.mark.slow
def test_python_tour_runs(tmp_path: Path) -> None:
    code = re.findall(r"```python\n(.*?)```", README, re.S)[0]
    demo = subprocess.run(
        [sys.executable, "-m", "geosurvey", "demo", "--out", "geosurvey-demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert demo.returncode == 0, demo.stderr
    tour = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert tour.returncode == 0, tour.stderr
    auc = float(re.search(r"ROC AUC ([0-9.]+)", tour.stdout).group(1))
    report = json.loads((tmp_path / "geosurvey-demo" / "report.json").read_text())
    assert auc == pytest.approx(report["score"]["roc_auc"], abs=0.005)  # the tour reproduces the demo
    run_auc = float(re.search(r"run: ROC AUC ([0-9.]+)", tour.stdout).group(1))
    assert run_auc == pytest.approx(report["score"]["roc_auc"], abs=0.005)  # and so does run()
    assert 'lang="ja"' in (tmp_path / "map-ja.html").read_text()
