"""Evidence layers: every function takes a DataArray (or a Dataset of bands, or features) and
returns a DataArray on the same grid, lazy on Dask, with its CRS, ``units``, ``long_name`` and
``history``.

* Spectral indices by common band names (Sentinel-2, Landsat) and the ASTER mineral products of
  Geoscience Australia/CSIRO; Landsat L1 digital numbers to top-of-atmosphere reflectance.
* Potential-field transforms (z positive down): reduction to the pole, vertical and horizontal
  derivatives, total horizontal gradient, tilt derivative, analytic signal, upward continuation.
* Radiometric ratios, potassium anomaly, ternary composite.
* Mapped features: exact distance, line density, categorical and one-hot layers.
* Terrain: slope, aspect, hillshade. Gridding of airborne line data.
* Point geochemistry: samples with element columns and units, a stated below-detection rule,
  compositional transforms (closure, clr, ilr pivot coordinates) and anomaly layers gridded onto
  the analysis grid with a cross-validated score.

Conventions
-----------
* Grids are ``(..., y, x)``: ``y`` is northing, ``x`` easting, in a projected CRS in metres where
  distances or wavenumbers are needed; north-up (``y`` decreasing) as read from GeoTIFFs or loaded
  by odc-stac, or south-up — both give the same answer. NaN is nodata in every float result.
* Signs: ``z`` is positive **down** (Miller & Singh 1994) for vertical derivatives and the tilt.
* Laziness: pixel-wise layers (ratios, indices) and neighbourhood layers (terrain: ``map_overlap``;
  distance, line density, rasterisation: block by block) need no global step. FFT transforms and
  gradients of the NaN-filled grid gather each ``(y, x)`` plane into one chunk (an explicit global
  step, said in each docstring) and give back the input's chunks; the percentile stretch of the
  ternary and the K–eTh regression reduce over the whole grid lazily.

Units of the layers (``attrs["units"]``):

=======================================  ==================================================
layer                                    units
=======================================  ==================================================
band ratios, spectral/ASTER indices      ``1``
Landsat TOA reflectance / brightness T   ``1`` / ``K``
reduction to pole, upward continuation   input units (``nT``; ``mGal`` for gravity)
vertical / horizontal derivatives, THG,  input units per metre (``nT/m``; ``mGal/m``),
analytic signal                          ``/m2`` for second derivatives
tilt derivative                          ``rad``
radiometric ratios                       ``<numerator units>/<denominator units>``
potassium anomaly                        ``%`` (regression) or ``1`` (thorium-normalised)
ternary composite                        ``1`` (0–1, dims ``band, y, x``)
distance to features                     ``m``
line density                             ``km/km2``
categorical codes / one-hot layers       ``1``
slope / aspect / hillshade               ``degree`` / ``degree`` / ``1``
gridded line data                        as given (``nT``)
gridded geochemistry, no transform       the concentration units (``ppm``, ``ppb``, ``%``)
gridded log10 / clr / ilr / robust z     ``1`` (log10 of the concentration in its units)
=======================================  ==================================================
"""

from geosurvey.evidence._features import (
    categorical_raster,
    distance_to_features,
    filter_features,
    line_density,
    one_hot,
)
from geosurvey.evidence._geochem import (
    CensoredValues,
    InverseDistanceGridder,
    closure,
    clr,
    clr_inverse,
    geochem_anomaly,
    ilr,
    ilr_inverse,
    pivot_basis,
    read_geochemistry,
    replace_below_detection,
)
from geosurvey.evidence._gridding import grid_survey_lines
from geosurvey.evidence._igrf import GeomagneticField, geomagnetic_field
from geosurvey.evidence._landsat import (
    LandsatMetadata,
    landsat_brightness_temperature,
    landsat_toa_reflectance,
    read_mtl,
)
from geosurvey.evidence._potential import (
    analytic_signal,
    derivative_easting,
    derivative_northing,
    reduction_to_pole,
    tilt_derivative,
    total_horizontal_gradient,
    upward_continuation,
    vertical_derivative,
)
from geosurvey.evidence._radiometric import potassium_anomaly, radiometric_ratio, ternary_rgb
from geosurvey.evidence._spectral import (
    aster_aloh_group_composition,
    aster_aloh_group_content,
    aster_feoh_group_content,
    aster_ferric_oxide_composition,
    aster_ferric_oxide_content,
    aster_ferrous_iron_index,
    aster_green_vegetation,
    aster_gypsum_index,
    aster_kaolin_group_index,
    aster_mgoh_group_composition,
    aster_mgoh_group_content,
    aster_opaque_index,
    aster_quartz_index,
    aster_silica_index,
    band_ratio,
    clay_hydroxyl,
    ferric_iron,
    ferric_oxides,
    ferrous_iron,
    gossan,
    ndvi,
    vegetation_mask,
)
from geosurvey.evidence._terrain import aspect, hillshade, slope

__all__ = [
    "CensoredValues",
    "GeomagneticField",
    "InverseDistanceGridder",
    "LandsatMetadata",
    "analytic_signal",
    "aspect",
    "aster_aloh_group_composition",
    "aster_aloh_group_content",
    "aster_feoh_group_content",
    "aster_ferric_oxide_composition",
    "aster_ferric_oxide_content",
    "aster_ferrous_iron_index",
    "aster_green_vegetation",
    "aster_gypsum_index",
    "aster_kaolin_group_index",
    "aster_mgoh_group_composition",
    "aster_mgoh_group_content",
    "aster_opaque_index",
    "aster_quartz_index",
    "aster_silica_index",
    "band_ratio",
    "categorical_raster",
    "clay_hydroxyl",
    "closure",
    "clr",
    "clr_inverse",
    "derivative_easting",
    "derivative_northing",
    "distance_to_features",
    "ferric_iron",
    "ferric_oxides",
    "ferrous_iron",
    "filter_features",
    "geochem_anomaly",
    "geomagnetic_field",
    "gossan",
    "grid_survey_lines",
    "hillshade",
    "ilr",
    "ilr_inverse",
    "landsat_brightness_temperature",
    "landsat_toa_reflectance",
    "line_density",
    "ndvi",
    "one_hot",
    "pivot_basis",
    "potassium_anomaly",
    "radiometric_ratio",
    "read_geochemistry",
    "read_mtl",
    "reduction_to_pole",
    "replace_below_detection",
    "slope",
    "ternary_rgb",
    "tilt_derivative",
    "total_horizontal_gradient",
    "upward_continuation",
    "vegetation_mask",
    "vertical_derivative",
]
