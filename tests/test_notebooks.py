"""Every notebook in notebooks/ runs top to bottom (nbclient, a real Jupyter kernel)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def run_notebook(
    path: Path, *, timeout: int = 600, env_cwd: Path | None = None
) -> nbformat.NotebookNode:
    """Execute a notebook in a fresh kernel; a failing cell fails with its traceback."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(env_cwd or path.parent)}},
    )
    client.execute()
    return nb


@pytest.mark.notebook
@pytest.mark.slow
def test_quickstart_notebook() -> None:
    nb = run_notebook(NOTEBOOKS / "01_quickstart.ipynb")
    outputs = [
        out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    ]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    # the plots were drawn and the map rendered
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 4
    assert any("text/html" in o.get("data", {}) for o in outputs)


@pytest.mark.notebook
@pytest.mark.slow
def test_mineral_systems_notebook() -> None:
    """07: the recipe library, one synthetic run per system, GTK till geochemistry as evidence."""
    from geosurvey.demo import SYSTEMS

    from conftest import SHARED_DATA

    nb = run_notebook(NOTEBOOKS / "07_mineral_systems.ipynb")
    outputs = [
        out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    ]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    texts = "\n".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    assert all(name in texts for name in SYSTEMS)  # the library table and the runs' AUC table
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 1
    if (SHARED_DATA / "gtk_lapland_iocg").exists():
        assert "clr" in texts and "ROC AUC" in texts  # the till layers against the GTK deposits
        assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2


@pytest.mark.notebook
@pytest.mark.slow
def test_batch_cluster_notebook() -> None:
    """09: a batch of two demo areas on a LocalCluster, its table, a re-run that skips them."""
    nb = run_notebook(NOTEBOOKS / "09_batch_cluster.ipynb")
    outputs = [
        out for cell in nb.cells if cell.cell_type == "code" for out in cell.get("outputs", [])
    ]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    texts = "\n".join(o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "demo-a1" in texts and "skipped" in texts and "outputs missing or changed" in texts
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 1
