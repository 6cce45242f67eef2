"""geosurvey: joint geological surveys of critical minerals and rare earths.

The flow, top to bottom (see the README): survey areas (:mod:`geosurvey.aoi`) → catalogues and
datacubes (:mod:`geosurvey.catalogs`) → the analysis grid (:mod:`geosurvey.grid`) → evidence layers
(:mod:`geosurvey.evidence`) → prospectivity (:mod:`geosurvey.prospectivity`) and its evaluation
(:mod:`geosurvey.evaluation`) → outputs (:mod:`geosurvey.publish`). :mod:`geosurvey.demo` runs it
all on generated demo data.

The names below are the flat public API. They are imported on first use (PEP 562), so that
``import geosurvey`` and the command line start quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "aoi",
    "catalogs",
    "demo",
    "errors",
    "evaluation",
    "evidence",
    "grid",
    "i18n",
    "io",
    "prospectivity",
    "provenance",
    "publish",
    "runner",
    "testing",
)
_NAMES = {
    "Registry": "aoi",
    "SurveyArea": "aoi",
    "search": "catalogs",
    "load": "catalogs",
    "ingest": "catalogs",
    "run_demo": "demo",
    "evaluate": "evaluation",
    "geobox_for": "grid",
    "read_raster": "io",
    "write_cog": "io",
    "load_recipe": "prospectivity",
    "score": "prospectivity",
    "web_map": "publish",
    "dask_client": "runner",
    "run": "runner",
    "build_evidence": "prospectivity",
    "save_web_map": "publish",
}

__all__ = ["__version__", "show_versions", *_SUBMODULES, *_NAMES]


def show_versions() -> dict[str, str]:
    """Versions of Python, geosurvey and its libraries (for bug reports); also printed by the CLI."""
    from geosurvey.provenance import versions

    return versions()


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"geosurvey.{name}")
    if name in _NAMES:
        return getattr(importlib.import_module(f"geosurvey.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'geosurvey' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
