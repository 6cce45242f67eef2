"""notebooks/08_web_maps.ipynb runs top to bottom (real GTK data, a real demo run, the portal)."""

from __future__ import annotations

import pytest
from test_notebooks import NOTEBOOKS, run_notebook

from conftest import require_shared


@pytest.mark.notebook
@pytest.mark.slow
def test_web_maps_notebook() -> None:
    require_shared("gtk_lapland_iocg")
    nb = run_notebook(NOTEBOOKS / "08_web_maps.ipynb")
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    printed = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "opens offline" in printed and "tiles, zoom levels" in printed
    assert "second call built: ()" in printed  # nothing rebuilt when nothing changed
    assert sum("text/html" in o.get("data", {}) for o in outputs) >= 2  # the map and the portal
