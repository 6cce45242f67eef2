"""Publishing a survey's results: offline web maps (English/Japanese), COG and STAC outputs.

The web map
    :func:`web_map` builds a folium map of a prospectivity score with its evidence, the survey
    area, faults, known occurrences and the registry's survey areas; :func:`save_web_map` writes
    it as one HTML file that opens from disk with no network. :data:`TEXT` holds its interface
    text per language; :func:`raster_image` colours one grid as a Web Mercator PNG.
    Large rasters become XYZ PNG tiles beside the page (:data:`MAX_EMBEDDED_BYTES`; from an
    overview of at most :data:`MAX_TILED_PIXELS` a side), coloured
    through one :class:`ColourScale` like their legends; :data:`BASEMAPS` are offered only when
    asked for. :func:`overview_map` maps the registry's areas alone.
The portal
    :func:`publish_site` builds the static site of every survey area and its published runs
    (``geosurvey publish``), rebuilding only what changed.
Outputs
    :func:`write_outputs_catalog` describes output COGs as a static STAC catalogue.
"""

from geosurvey.i18n import LANGUAGES, TEXT
from geosurvey.publish._outputs import write_outputs_catalog
from geosurvey.publish._portal import RunOutputs, SiteResult, publish_site, read_run
from geosurvey.publish._raster import MAX_PIXELS, ColourScale, RasterImage, raster_image
from geosurvey.publish._tiles import MAX_EMBEDDED_BYTES, MAX_TILED_PIXELS
from geosurvey.publish._vectors import SURVEY_AREA_STATUSES
from geosurvey.publish._webmap import BASEMAPS, overview_map, save_web_map, web_map

__all__ = [
    "BASEMAPS",
    "LANGUAGES",
    "MAX_EMBEDDED_BYTES",
    "MAX_PIXELS",
    "MAX_TILED_PIXELS",
    "SURVEY_AREA_STATUSES",
    "TEXT",
    "ColourScale",
    "RasterImage",
    "RunOutputs",
    "SiteResult",
    "overview_map",
    "publish_site",
    "raster_image",
    "read_run",
    "save_web_map",
    "web_map",
    "write_outputs_catalog",
]
