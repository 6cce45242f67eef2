"""geosurvey: joint geological surveys of critical minerals and rare earths.

The flow, top to bottom (see the README): survey areas (:mod:`geosurvey.aoi`) → catalogues and
datacubes (:mod:`geosurvey.catalogs`) → the analysis grid (:mod:`geosurvey.grid`) → evidence layers
(:mod:`geosurvey.evidence`) → prospectivity (:mod:`geosurvey.prospectivity`) and its evaluation
(:mod:`geosurvey.evaluation`) → outputs (:mod:`geosurvey.publish`). :mod:`geosurvey.demo` runs it
all on generated demo data.
"""

__version__ = "0.1.0"

from geosurvey import errors, grid, io, provenance  # noqa: E402
from geosurvey.provenance import versions as show_versions  # noqa: E402

__all__ = ["__version__", "errors", "grid", "io", "provenance", "show_versions"]
