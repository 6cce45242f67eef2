"""The embedded demo: a generated survey area, its static STAC catalogue and the whole job on it.

Everything here is DEMO data, generated deterministically from a seed; it stands for no real ground.
:func:`run_demo` is what ``geosurvey demo`` runs.
"""

from geosurvey.demo._areas import DemoAreas, demo_registry, make_demo_areas
from geosurvey.demo._run import DemoData, DemoResult, make_demo_data, run_demo
from geosurvey.demo._synthetic import DemoSurvey, make_demo_survey
from geosurvey.demo._systems import (
    SYSTEMS,
    SystemSpec,
    SystemSurvey,
    make_system_survey,
    write_survey_catalog,
)

__all__ = [
    "SYSTEMS",
    "DemoAreas",
    "DemoData",
    "DemoResult",
    "DemoSurvey",
    "SystemSpec",
    "SystemSurvey",
    "demo_registry",
    "make_demo_areas",
    "make_demo_data",
    "make_demo_survey",
    "make_system_survey",
    "run_demo",
    "write_survey_catalog",
]
