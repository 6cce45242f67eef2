"""``notebooks/02_survey_areas.ipynb`` runs from top to bottom, walks the whole lifecycle, and leaves
the committed registry untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "02_survey_areas.ipynb"


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


@pytest.mark.notebook
@pytest.mark.slow
def test_survey_areas_notebook_runs(tmp_path: Path) -> None:
    before = _tree_digest(REPO / "aoi")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = "\n".join(
        output.get("text", "") + output.get("data", {}).get("text/plain", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    # propose -> approve -> agreed -> amend (stale approvals) -> re-approve -> agreed -> export
    assert "proposed" in text and "waiting for: ('JP', 'US')" in text
    assert "[('US', 'approve', 'valid'), ('JP', 'approve', 'valid')]" in text
    assert "amended" in text and text.count("'stale')") >= 2
    assert "approvals of the earlier version are now stale" in text
    assert "0 error(s)" in text
    assert "ボーカン山" in text
    assert _tree_digest(REPO / "aoi") == before
