"""Outputs as a STAC catalogue: the score (and any other layer written as a COG) described as items.

A partner finds a survey's outputs exactly as it finds its inputs: with
:func:`geosurvey.catalogs.search` over this static catalogue (or after
``geosurvey catalog publish`` / ``geosurvey publish --stac-api`` to a STAC API).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from geosurvey.errors import InputError, MissingInputError, OutputError

__all__ = ["write_outputs_catalog"]


def _cog_tags(path: Path) -> dict[str, str]:
    """The GeoTIFF's dataset tags (``units``, ``long_name``, ...) and its band's units."""
    import rasterio

    from geosurvey.errors import AssetError

    try:
        with rasterio.open(path) as src:
            tags = dict(src.tags())
            if src.units and src.units[0]:
                tags.setdefault("units", src.units[0])
    except rasterio.errors.RasterioIOError as exc:
        raise AssetError(
            f"output COG {path} cannot be read ({exc}); was it written completely?"
        ) from exc
    return tags


def write_outputs_catalog(
    cogs: Mapping[str, str | Path],
    folder: str | Path,
    *,
    area_id: str,
    recipe: str,
    datetime: datetime,
    description: str | None = None,
    manifest: str | Path | None = None,
    thumbnail: str | None = "score",
    statistics: Mapping[str, Mapping[str, float]] | None = None,
) -> Path:
    """Describe output COGs as one STAC item in a static catalogue.

    Parameters
    ----------
    cogs
        Output name → COG path (e.g. ``{"score": "out/score.tif"}``); each becomes an asset whose
        ``raster:bands`` carry the layer's true units (the COG's ``units`` tag, as
        :func:`geosurvey.io.write_cog` writes it; none when the file has none) and statistics,
        titled by its ``long_name`` tag.
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
    manifest
        The run's ``manifest.json``, added as the item's ``manifest`` asset (role ``metadata``)
        so that a partner can reproduce the outputs.
    thumbnail
        The output whose colour map becomes the item's ``thumbnail`` asset (a PNG of at most
        256 pixels a side, coloured as on the web map); ``None`` for no thumbnail.
    statistics
        The outputs' :func:`~geosurvey.catalogs.raster_statistics`, where already computed (by
        parallel tasks); the others are computed here.

    Returns
    -------
    pathlib.Path
        The catalogue's ``catalog.json`` (valid against the STAC schemas: it is validated before
        it is written).

    Raises
    ------
    InputError
        ``thumbnail`` names no output.
    MissingInputError
        ``manifest`` does not exist.
    OutputError
        ``folder`` exists. Nothing is written when anything fails.
    """
    import pystac

    from geosurvey.catalogs import BandInfo, create_item, write_catalog
    from geosurvey.io import read_raster
    from geosurvey.publish._raster import raster_image

    folder = Path(folder)
    if thumbnail is not None and thumbnail not in cogs:
        raise InputError(f"thumbnail={thumbnail!r} names no output; choose one of {sorted(cogs)}")
    if manifest is not None and not Path(manifest).is_file():
        raise MissingInputError(f"manifest {manifest} does not exist; write the run manifest first")
    if folder.exists():
        raise OutputError(f"output catalogue folder {folder} exists already; choose a new folder")
    bands = {}
    for name, path in cogs.items():
        tags = _cog_tags(Path(path))
        long_name = tags.get("long_name") or name
        bands[name] = BandInfo(
            common_name=name, description=f"geosurvey output: {long_name}", units=tags.get("units")
        )
    item = create_item(
        {name: Path(path) for name, path in cogs.items()},
        item_id=f"{area_id}-{recipe}",
        datetime=datetime,
        bands=bands,
        collection="geosurvey-outputs",
        properties={"geosurvey:area": area_id, "geosurvey:recipe": recipe},
        statistics=statistics,
    )
    with tempfile.TemporaryDirectory(prefix=".geosurvey-thumbnail-") as tmp:
        if thumbnail is not None:
            image = raster_image(read_raster(Path(cogs[thumbnail]), chunks=1024), max_pixels=256)
            png = Path(tmp) / "thumbnail.png"
            png.write_bytes(image.png)
            item.add_asset(
                "thumbnail",
                pystac.Asset(href=str(png), media_type=pystac.MediaType.PNG, roles=["thumbnail"],
                             title=f"{thumbnail} ({image.cmap}, {image.vmin:.4g} to {image.vmax:.4g})"),
            )  # fmt: skip
        if manifest is not None:
            item.add_asset(
                "manifest",
                pystac.Asset(href=str(Path(manifest).absolute()), media_type=pystac.MediaType.JSON,
                             roles=["metadata"], title="run manifest (inputs, parameters, versions)"),
            )  # fmt: skip
        return write_catalog(
            [item],
            folder,
            catalog_id=f"{area_id}-outputs",
            title=f"geosurvey outputs for {area_id}",
            description=description
            or f"Prospectivity outputs of geosurvey for survey area {area_id} (recipe {recipe}).",
            link=True,  # the run's own COGs, written atomically: linked, not copied
        )
