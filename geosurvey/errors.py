"""The one error hierarchy of geosurvey.

Every error subclasses :class:`GeosurveyError` and the builtin it matches, so
``except ValueError`` in a caller's code still works. Every message names the
file, item, layer or argument at fault and says what to do about it; the CLI
prints the message as a one-line reason and exits non-zero.
"""

from __future__ import annotations

__all__ = [
    "ApprovalError",
    "AssetError",
    "BandError",
    "CRSError",
    "CatalogError",
    "CatalogUnreachableError",
    "ClusterError",
    "GeometryError",
    "GeosurveyError",
    "InputError",
    "MissingInputError",
    "OutputError",
    "RecipeError",
    "RegistryError",
    "SignatureError",
]


class GeosurveyError(Exception):
    """Base class of every error geosurvey raises on purpose."""


class InputError(GeosurveyError, ValueError):
    """An argument, file or layer is not usable as given."""


class MissingInputError(GeosurveyError, FileNotFoundError):
    """A file or folder that was named does not exist."""


class OutputError(GeosurveyError, OSError):
    """An output cannot be written (unwritable folder, existing file, full disk)."""


class CRSError(InputError):
    """A coordinate reference system is missing, wrong or not in metres where metres are needed."""


class GeometryError(InputError):
    """A geometry is empty, invalid or out of range."""


class BandError(InputError):
    """A band (or a layer of a Dataset) that a computation needs is missing."""


class RecipeError(InputError):
    """A prospectivity recipe or a membership specification is malformed."""


class CatalogError(GeosurveyError, RuntimeError):
    """A catalogue, item or search is unusable."""


class CatalogUnreachableError(CatalogError, ConnectionError):
    """A STAC API or catalogue cannot be reached (after retries)."""


class AssetError(CatalogError):
    """An item's asset is missing, unreachable, corrupt or lacks projection metadata."""


class RegistryError(InputError):
    """The survey-area registry (``aoi/``) holds something invalid: schema, id, duplicate."""


class SignatureError(GeosurveyError, ValueError):
    """An approval's signature does not verify, or a key does not belong to its party."""


class ApprovalError(RegistryError):
    """An approval, withdrawal or closure cannot be made as asked."""


class ClusterError(GeosurveyError, ConnectionError):
    """A Dask scheduler cannot be reached or the cluster cannot run the work."""
