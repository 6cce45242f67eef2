"""Outputs as a STAC catalogue: the score (and any other layer written as a COG) described as items.

A partner finds a survey's outputs exactly as it finds its inputs: with
:func:`geosurvey.catalogs.search` over this static catalogue (or after
``geosurvey catalog publish`` to a STAC API).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

__all__ = ["write_outputs_catalog"]


def write_outputs_catalog(
    cogs: Mapping[str, str | Path],
    folder: str | Path,
    *,
    area_id: str,
    recipe: str,
    datetime: datetime,
    description: str | None = None,
) -> Path:
    """Describe output COGs as one STAC item in a static catalogue.

    Parameters
    ----------
    cogs
        Output name → COG path (e.g. ``{"score": "out/score.tif"}``); each becomes an asset whose
        ``raster:bands`` carry the layer's units and statistics.
    folder
        Where the catalogue is written (created; must not exist).
    area_id
        The survey area the outputs belong to (item id ``<area_id>-<recipe>``, property
        ``geosurvey:area``).
    recipe
        The recipe that made the score (property ``geosurvey:recipe``).
    datetime
        The item's datetime (the survey's nominal date).
    description
        The catalogue's description.

    Returns
    -------
    pathlib.Path
        The catalogue's ``catalog.json``.
    """
    from geosurvey.catalogs import BandInfo, create_item, write_catalog

    folder = Path(folder)
    folder.mkdir(parents=False, exist_ok=False)
    bands = {
        name: BandInfo(common_name=name, description=f"geosurvey output: {name}", units="1")
        for name in cogs
    }
    item = create_item(
        {name: Path(path) for name, path in cogs.items()},
        item_id=f"{area_id}-{recipe}",
        datetime=datetime,
        bands=bands,
        collection="geosurvey-outputs",
        properties={"geosurvey:area": area_id, "geosurvey:recipe": recipe},
    )
    return write_catalog(
        [item],
        folder,
        catalog_id=f"{area_id}-outputs",
        title=f"geosurvey outputs for {area_id}",
        description=description
        or f"Prospectivity outputs of geosurvey for survey area {area_id} (recipe {recipe}).",
    )
