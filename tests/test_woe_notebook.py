"""notebooks/05_weights_of_evidence_gtk.ipynb runs top to bottom on the real GTK data (a real
Jupyter kernel); its magnetic weights agree with the textbook formulas applied here to the class
counts it reports, and its AUC with scikit-learn on the posterior it computed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from conftest import SHARED_DATA, require_shared

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_weights_of_evidence_gtk.ipynb"

EXPORT = """
import json
from sklearn.metrics import roc_auc_score
v = prob.values
t = prob.rio.transform()  # the test locates the deposits itself, by the grid's transform
r = np.floor((deposits.geometry.y.values - t.f) / t.e).astype(int)
c = np.floor((deposits.geometry.x.values - t.c) / t.a).astype(int)
ok = (r >= 0) & (r < v.shape[0]) & (c >= 0) & (c < v.shape[1])
pos = v[r[ok], c[ok]]
pos = pos[np.isfinite(pos)]
bg = v[np.isfinite(v)]
print("WOE=" + json.dumps({
    "cells": list(w_mag.class_cells), "deposits": list(w_mag.class_deposits),
    "table": {k: [None if not np.isfinite(x) else float(x) for x in w_mag.table[k]]
              for k in ("w_plus", "s_w_plus", "w_minus", "s_w_minus", "contrast")},
    "auc": result.roc_auc, "n_used": result.n_used, "n_targets": len(found.table),
    "sklearn_auc": roc_auc_score(np.r_[np.ones(pos.size), np.zeros(bg.size)], np.r_[pos, bg]),
}))
"""


@pytest.fixture(scope="module")
def executed():
    require_shared("gtk_lapland_iocg")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(EXPORT))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GEOSURVEY_SHARED_DATA", os.environ.get("GEOSURVEY_SHARED_DATA", str(SHARED_DATA)))
        NotebookClient(nb, timeout=600, kernel_name="python3",
                       resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    return nb, json.loads(text.split("WOE=", 1)[1])


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_runs_and_draws(executed):
    nb, out = executed
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= 2
    html = " ".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "studentized_contrast" in html and "the cumulative class holds every deposit" in html
    assert out["n_used"] == 17 and sum(out["deposits"]) == 17 and out["n_targets"] > 0


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_weights_follow_the_formulas(executed):
    _, out = executed
    cells, deps = np.array(out["cells"], float), np.array(out["deposits"], float)
    n_t, n_d = cells.sum(), deps.sum()
    n_b, n_bd = np.cumsum(cells[::-1])[::-1], np.cumsum(deps[::-1])[::-1]  # descending patterns
    with np.errstate(divide="ignore", invalid="ignore"):
        wp = np.log((n_bd / n_d) / ((n_b - n_bd) / (n_t - n_d)))
        wm = np.log(((n_d - n_bd) / n_d) / ((n_t - n_b - n_d + n_bd) / (n_t - n_d)))
        swp = np.sqrt(1 / n_bd + 1 / (n_b - n_bd))
    for key, want in (("w_plus", wp), ("w_minus", wm), ("s_w_plus", swp)):
        got = np.array([np.nan if v is None else v for v in out["table"][key]])
        finite = np.isfinite(want)
        assert np.array_equal(np.isfinite(got), finite), key
        np.testing.assert_allclose(got[finite], want[finite], rtol=1e-9, err_msg=key)
    # the report's AUC is scikit-learn's on the notebook's posterior (deposits vs all pixels)
    assert out["auc"] == pytest.approx(out["sklearn_auc"], abs=1e-9)
    assert 0.85 < out["auc"] <= 1.0
