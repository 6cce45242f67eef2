"""Local rasters → COGs + STAC Items (``proj``, ``raster``, ``eo``) → a static STAC catalogue.

A partner agency publishes its survey grids with these functions: :func:`create_item` describes
one set of co-registered COGs as an Item, :func:`write_catalog` writes items as a self-contained
static catalogue (validated offline before anything is written), and :func:`ingest` does the whole
job for a folder of GeoTIFF/NetCDF grids.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC
from datetime import datetime as Datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pystac
import rasterio
import rasterio.errors
import shapely
from odc.geo.geobox import GeoBox
from pystac.extensions.eo import Band, EOExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import (
    DataType,
    NoDataStrings,
    RasterBand,
    RasterExtension,
    Statistics,
)

from geosurvey.catalogs._bands import EO_COMMON_NAMES, BandInfo
from geosurvey.catalogs._validate import validate_stac
from geosurvey.errors import AssetError, InputError, MissingInputError, OutputError

__all__ = ["check_stac_id", "create_item", "ingest", "raster_statistics", "write_catalog"]

_COG = pystac.MediaType.COG

# Matched with re.fullmatch ("$" would let "abc\n" through): ids become folder and file names.
_STAC_ID = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?")


def check_stac_id(value: object, *, what: str) -> str:
    """Return ``value`` if it can name a collection or item folder, else raise :class:`InputError`.

    Collection and item ids become folder and file names when a catalogue is written, so, like
    area ids, they are checked with a full match: 1–128 letters, digits, ``_``, ``-`` and ``.``,
    starting and ending with a letter or digit — no ``/``, ``\\``, ``..`` component, space,
    control character or absolute path. ``what`` names the id (``"collection id"``).
    """
    if not isinstance(value, str) or _STAC_ID.fullmatch(value) is None:
        raise InputError(
            f"{what} {value!r} cannot name a folder; use 1–128 letters, digits, '_', '-' and '.', "
            "starting and ending with a letter or digit (no '/', spaces or '..'), e.g. 'gtk-lapland-grids'"
        )
    return value


# --------------------------------------------------------------------------------------------
# reading one raster's metadata
# --------------------------------------------------------------------------------------------


def raster_statistics(path: str | Path, *, band: int = 1) -> dict[str, float]:
    """Exact statistics of one band over its valid pixels, read block by block.

    Nodata pixels and NaN are excluded. Blocks are combined with Chan et al.'s parallel update
    of the mean and the sum of squared deviations, so memory stays at one block and the result
    equals a one-pass NumPy computation on the whole array. Hand-written because GDAL's
    ``ComputeStatistics`` (rasterio's ``stats``) does not report the valid fraction.

    Returns
    -------
    dict
        ``minimum``, ``maximum``, ``mean``, ``stddev`` (population) in the band's units and
        ``valid_percent`` (0–100); only ``valid_percent`` when no pixel is valid.

    References
    ----------
    Chan, T. F., Golub, G. H., LeVeque, R. J. (1979). Updating formulae and a pairwise algorithm
    for computing sample variances. Stanford CS report STAN-CS-79-773.
    """
    n = 0
    mean = 0.0
    m2 = 0.0
    lo, hi = math.inf, -math.inf
    with rasterio.open(path) as src:
        total = src.width * src.height
        for _, window in src.block_windows(band):
            data = src.read(band, window=window, masked=True).astype("float64")
            values = data.compressed()
            values = values[np.isfinite(values)]
            if values.size == 0:
                continue
            nb = values.size
            mb = float(values.mean())
            m2b = float(((values - mb) ** 2).sum())
            delta = mb - mean
            tot = n + nb
            mean += delta * nb / tot
            m2 += m2b + delta**2 * n * nb / tot
            n = tot
            lo = min(lo, float(values.min()))
            hi = max(hi, float(values.max()))
    stats: dict[str, float] = {"valid_percent": 100.0 * n / total if total else 0.0}
    if n:
        stats.update(minimum=lo, maximum=hi, mean=mean, stddev=math.sqrt(m2 / n))
    return stats


def _open_meta(key: str, path: Path) -> dict[str, Any]:
    if not path.exists():
        raise MissingInputError(f"asset {key!r}: raster {path} does not exist; check the path")
    try:
        with rasterio.open(path) as src:
            if src.count != 1:
                raise InputError(
                    f"asset {key!r}: {path} has {src.count} bands; create_item takes one band "
                    "per file (write each band as its own COG)"
                )
            if src.crs is None:
                raise InputError(
                    f"asset {key!r}: {path} has no CRS; set one (gdal_edit.py -a_srs EPSG:XXXX)"
                )
            tags = src.tags()
            meta = {
                "crs": src.crs,
                "shape": [src.height, src.width],
                "transform": list(src.transform)[:6],
                "bounds": list(src.bounds),
                "dtype": src.dtypes[0],
                "nodata": src.nodata,
                "scale": src.scales[0],
                "offset": src.offsets[0],
                "units": src.units[0] or tags.get("units") or tags.get("UNITS"),
                "res": abs(src.transform.a),
            }
    except rasterio.errors.RasterioIOError as exc:
        raise AssetError(f"asset {key!r}: cannot read {path} ({exc}); is it a valid GeoTIFF?") from exc
    return meta


def _proj_fields(meta: Mapping[str, Any]) -> dict[str, Any]:
    crs = meta["crs"]
    epsg = crs.to_epsg()
    fields: dict[str, Any] = {"shape": meta["shape"], "transform": meta["transform"], "bbox": meta["bounds"]}
    if epsg is not None:
        fields["code"] = f"EPSG:{epsg}"
    else:
        fields["wkt2"] = crs.to_wkt()
    return fields


def _raster_band(meta: Mapping[str, Any], info: BandInfo, stats: Mapping[str, float]) -> RasterBand:
    nodata = meta["nodata"]
    if nodata is not None and math.isnan(nodata):
        nodata = NoDataStrings.NAN
    units = info.units if info.units is not None else meta["units"]
    scale, offset = meta["scale"], meta["offset"]
    return RasterBand.create(
        nodata=nodata,
        data_type=DataType(meta["dtype"]),
        spatial_resolution=meta["res"],
        statistics=Statistics.create(**stats),
        unit=units,
        scale=None if scale == 1.0 else scale,
        offset=None if offset == 0.0 else offset,
    )


def _footprint(meta: Mapping[str, Any]) -> shapely.Geometry:
    from affine import Affine

    h, w = meta["shape"]
    gbox = GeoBox((h, w), Affine(*meta["transform"]), meta["crs"])
    return gbox.extent.to_crs("EPSG:4326").geom


# --------------------------------------------------------------------------------------------
# create_item
# --------------------------------------------------------------------------------------------


def create_item(
    assets: Mapping[str, str | Path],
    *,
    item_id: str,
    datetime: Datetime,
    bands: Mapping[str, BandInfo] | None = None,
    collection: str | None = None,
    properties: Mapping[str, Any] | None = None,
    statistics: Mapping[str, Mapping[str, float]] | None = None,
) -> pystac.Item:
    """Describe co-registered single-band rasters (COGs) as one STAC Item.

    Each file is opened (not read whole) for the ``proj`` extension (``proj:code`` or
    ``proj:wkt2``, ``proj:shape``, ``proj:transform``, ``proj:bbox``), the ``raster`` extension
    (``data_type``, ``nodata``, ``unit``, ``scale``/``offset`` when not 1/0, ``spatial_resolution``
    and exact ``statistics``) and, for bands with a ``center_wavelength``, ``eo:bands``. Projection
    fields go on the item when every asset shares one grid and on each asset otherwise.

    Parameters
    ----------
    assets
        ``{band name: path of a one-band raster}``; the band name becomes the asset key.
    item_id
        The item's id.
    datetime
        Acquisition (or compilation) time. A naive datetime is taken as UTC.
    bands
        ``{band name: BandInfo}``; a missing entry means ``BandInfo(band name)`` (no units,
        not optical). Units given here override the file's own.
    collection
        The id of the collection the item belongs to (:func:`write_catalog` groups by it).
    properties
        Extra item properties (e.g. ``{"platform": "airborne"}``).
    statistics
        ``{band name: raster_statistics(path)}`` already computed (by parallel tasks, for large
        files); the bands not given are computed here, one after another.

    Returns
    -------
    pystac.Item
        Geometry and bbox in EPSG:4326 (the union of the assets' footprints, densified edges);
        asset hrefs are absolute paths (made relative by :func:`write_catalog`).

    Raises
    ------
    MissingInputError
        An asset file does not exist.
    InputError
        No assets, a bad band name, a multi-band or CRS-less file.
    AssetError
        A file GDAL cannot read.
    """
    if not assets:
        raise InputError(f"item {item_id!r}: no assets given; pass {{band name: COG path}}")
    bands = dict(bands or {})
    unknown = sorted(set(bands) - set(assets))
    if unknown:
        raise InputError(f"item {item_id!r}: bands {unknown} describe no asset; assets are {sorted(assets)}")
    if datetime.tzinfo is None:
        datetime = datetime.replace(tzinfo=UTC)

    metas: dict[str, dict[str, Any]] = {}
    infos: dict[str, BandInfo] = {}
    for key, href in assets.items():
        info = bands.get(key) or BandInfo(key)
        if info.common_name != key:
            raise InputError(
                f"item {item_id!r}: asset key {key!r} differs from its BandInfo common_name "
                f"{info.common_name!r}; use the common name as the key"
            )
        infos[key] = info
        metas[key] = _open_meta(key, Path(href))

    footprint = shapely.union_all([_footprint(m) for m in metas.values()])
    item = pystac.Item(
        id=item_id,
        geometry=shapely.geometry.mapping(footprint),
        bbox=list(footprint.bounds),
        datetime=datetime,
        properties=dict(properties or {}),
        collection=collection,
    )
    proj = {k: _proj_fields(m) for k, m in metas.items()}
    shared = all(p == next(iter(proj.values())) for p in proj.values())
    ProjectionExtension.add_to(item)
    RasterExtension.add_to(item)
    if shared:
        ProjectionExtension.ext(item).apply(**next(iter(proj.values())))

    any_eo = False
    for key, meta in metas.items():
        info = infos[key]
        path = Path(assets[key]).absolute()
        asset = pystac.Asset(
            href=str(path),
            media_type=_COG,
            roles=["data"],
            title=info.description or key,
            description=info.description or None,
        )
        item.add_asset(key, asset)
        if not shared:
            ProjectionExtension.ext(asset).apply(**proj[key])
        stats = dict((statistics or {}).get(key) or raster_statistics(path))
        RasterExtension.ext(asset).apply(bands=[_raster_band(meta, info, stats)])
        if info.is_eo:
            any_eo = True
            EOExtension.ext(asset, add_if_missing=True).apply(
                bands=[
                    Band.create(
                        name=key,
                        common_name=info.common_name if info.common_name in EO_COMMON_NAMES else None,
                        description=info.description or None,
                        center_wavelength=info.center_wavelength,
                        full_width_half_max=info.full_width_half_max,
                    )
                ]
            )
    if not any_eo:
        EOExtension.remove_from(item)
    return item


# --------------------------------------------------------------------------------------------
# write_catalog
# --------------------------------------------------------------------------------------------


def _is_within(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def write_catalog(
    items: Iterable[pystac.Item],
    out_dir: str | Path,
    *,
    catalog_id: str,
    description: str,
    title: str | None = None,
    license: str = "other",
    providers: Iterable[pystac.Provider] = (),
    overwrite: bool = False,
    link: bool = False,
) -> Path:
    """Write items as a self-contained static STAC catalogue, validated before it is written.

    Items are grouped into Collections by ``item.collection_id`` (spatial and temporal extents
    computed from the items); items without a collection sit directly under the catalogue. Asset
    files already inside ``out_dir`` stay where they are; others are copied in beside their item
    JSON (or hard-linked, with ``link``). Every href in the written catalogue is relative, so the
    folder can be moved or served as it is. The caller's items are not modified.

    Parameters
    ----------
    items
        STAC items whose asset hrefs are local files.
    out_dir
        The catalogue folder; created if missing (its parent must exist).
    catalog_id, description, title
        The root catalogue's metadata.
    license
        The collections' licence (an SPDX id such as ``"CC-BY-4.0"``, or ``"other"``).
    providers
        The collections' providers (who produced and licenses the data: the attribution).
    overwrite
        Replace an existing ``catalog.json`` in ``out_dir``.
    link
        Hard-link the asset files from outside ``out_dir`` where it is on their file system (no
        second copy on disk, none of the time to copy a 20,000² COG), copy them elsewhere. For
        files that are replaced rather than edited, as every geosurvey writer does (a rewrite of
        the original then leaves the catalogue's file as it was); a file edited in place would
        change in the catalogue too.

    Returns
    -------
    pathlib.Path
        The path of ``catalog.json``.

    Raises
    ------
    InputError
        No items, duplicate ids, an id that cannot name a folder (:func:`check_stac_id`), an asset
        that is not a local file.
    CatalogError
        An object is not valid against the STAC schemas (see :func:`validate_stac`); nothing is
        written.
    OutputError
        ``out_dir`` holds a catalogue already and ``overwrite`` is false, or is not writable.
    """
    out_dir = Path(out_dir).absolute()
    items = [item.clone() for item in items]
    if not items:
        raise InputError(f"no items to write to {out_dir}; search or create items first")
    for item in items:
        check_stac_id(item.id, what="item id")
        if item.collection_id is not None:
            check_stac_id(item.collection_id, what=f"collection id of item {item.id!r}")
    providers = list(providers)
    ids = [item.id for item in items]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(f"duplicate item ids {dupes}; item ids must be unique in a catalogue")
    if not out_dir.parent.is_dir():
        raise OutputError(f"cannot write {out_dir}: folder {out_dir.parent} does not exist")
    if (out_dir / "catalog.json").exists() and not overwrite:
        raise OutputError(f"{out_dir / 'catalog.json'} exists; pass overwrite=True or choose another folder")

    catalog = pystac.Catalog(id=catalog_id, description=description, title=title)
    groups: dict[str | None, list[pystac.Item]] = {}
    for item in items:
        groups.setdefault(item.collection_id, []).append(item)
    for cid, members in groups.items():
        if cid is None:
            for item in members:
                catalog.add_item(item)
            continue
        extent = pystac.Extent.from_items(members)
        coll = pystac.Collection(
            id=cid, description=f"{cid} ({len(members)} items)", extent=extent, license=license,
            providers=[pystac.Provider.from_dict(p.to_dict()) for p in providers] or None,
        )
        for item in members:
            coll.add_item(item)
        catalog.add_child(coll)

    # Stage everything in a sibling folder laid out exactly as out_dir will be, so relative hrefs
    # computed there hold after the move; assets already in out_dir are referred to by their
    # place-to-be in the staging folder.
    out_real = out_dir.resolve() if out_dir.exists() else out_dir
    stage_root = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    stage = stage_root / "catalog"  # no dot in the name: pystac takes "x.partial" for a file
    try:
        catalog.normalize_hrefs(str(stage))
        copies: list[tuple[Path, Path]] = []
        for item in catalog.get_items(recursive=True):
            item_dir = Path(item.get_self_href()).parent
            for key, asset in item.assets.items():
                href = asset.get_absolute_href() or asset.href
                src = Path(href.removeprefix("file://"))
                if "://" in href.removeprefix("file://") or not src.is_file():
                    raise InputError(
                        f"item {item.id!r} asset {key!r}: {asset.href} is not a local file; "
                        "write_catalog makes self-contained catalogues of local files"
                    )
                if _is_within(src, out_real):
                    asset.href = str(stage / src.resolve().relative_to(out_real))
                else:
                    dest = item_dir / src.name
                    copies.append((src, dest))
                    asset.href = str(dest)
        catalog.make_all_asset_hrefs_relative()
        validate_stac(catalog)
        catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
        for src, dest in copies:
            dest.parent.mkdir(parents=True, exist_ok=True)
            if link:
                _link_or_copy(src, dest)
            else:
                shutil.copy2(src, dest)
        for path in sorted(p for p in stage.rglob("*") if p.is_file()):
            final = out_dir / path.relative_to(stage)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, final)
    finally:
        shutil.rmtree(stage_root, ignore_errors=True)
    return out_dir / "catalog.json"


def _link_or_copy(src: Path, dest: Path) -> None:
    """``dest`` as a hard link to ``src`` where the file system allows (no second copy of a
    20,000² COG on disk, and no time spent copying it), else a copy."""
    try:
        os.link(src, dest)
    except OSError:  # another file system (EXDEV), or one without hard links
        shutil.copy2(src, dest)


# --------------------------------------------------------------------------------------------
# ingest: a folder of grids → COGs + items + catalogue
# --------------------------------------------------------------------------------------------

_RASTER_SUFFIXES = {".tif", ".tiff", ".nc", ".vrt", ".img"}


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "band"


def _same_or_inside(inner: Path, outer: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies inside it (both resolved)."""
    try:
        inner.resolve().relative_to(outer.resolve())
    except ValueError:
        return False
    return True


def _file_bands(path: Path, info: BandInfo | None) -> list[tuple[int, BandInfo]]:
    """The bands of one file as ``(1-based band index, BandInfo)``: every band of a multi-band file.

    A one-band file is named by ``info`` (or its stem); band ``i`` of an ``n``-band file is
    ``<name>_b<i>``, described by GDAL's band description when the file has one.
    """
    base = info or BandInfo(_slug(path.stem))
    try:
        with rasterio.open(path) as src:
            count, descriptions = src.count, src.descriptions
    except rasterio.errors.RasterioIOError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AssetError(f"cannot read {path} ({reason}); is it a valid GeoTIFF/NetCDF grid?") from None
    if count == 1:
        return [(1, base)]
    out = []
    for i in range(1, count + 1):
        text = descriptions[i - 1] or f"band {i}"
        out.append((i, BandInfo(
            f"{base.common_name}_b{i}", units=base.units,
            description=f"{base.description or path.stem}: {text}",
        )))
    return out


def ingest(
    folder: str | Path,
    out_dir: str | Path,
    *,
    collection: str,
    datetime: Datetime,
    bands: Mapping[str, BandInfo] | None = None,
    catalog_id: str | None = None,
    description: str | None = None,
    license: str = "other",
    attribution: str = "",
    compress: Literal["deflate", "zstd"] = "deflate",
    one_item: bool = True,
    overwrite: bool = False,
) -> Path:
    """Turn a folder of local grids (GeoTIFF, NetCDF) into COGs + STAC items + a static catalogue.

    Each band of each raster becomes a COG (tiled 256 × 256, overviews averaged, ``compress``;
    float data keep NaN as nodata) named after its band; band names are the file stems in lower
    case (``rad_K_pct.tif`` → ``rad_k_pct``) unless ``bands`` maps a file stem to a
    :class:`BandInfo`. Band ``i`` of a multi-band file is ``<name>_b<i>`` (nothing is dropped).
    The attribution reaches every COG (``attribution`` tag and TIFF Copyright) and the collection
    (``providers``). The whole output folder is built aside and renamed into place only when
    everything succeeded.

    Parameters
    ----------
    folder
        A folder of rasters (``.tif``, ``.tiff``, ``.nc``, ``.vrt``, ``.img``)
        (NetCDF: its first variable GDAL lists).
    out_dir
        The catalogue folder to create; it may not be ``folder`` or hold it.
    collection
        The collection id of the items (checked by :func:`check_stac_id`: it names a folder).
    datetime
        The survey time (naive: UTC).
    bands
        ``{file stem: BandInfo}`` to name bands and give units.
    catalog_id, description
        Catalogue metadata (default: from ``collection``).
    license
        Licence of the collection (SPDX id, e.g. ``"CC-BY-4.0"``).
    attribution
        Who the data come from and on what terms (e.g. a definition's ``attribution``,
        ``"Geological Survey of Finland (GTK), CC BY 4.0"``).
    compress
        COG compression.
    one_item
        One item holding every grid (they must share a grid for odc-stac to load them
        together cheaply; they need not) or one item per grid.
    overwrite
        Replace an existing ``out_dir``.

    Returns
    -------
    pathlib.Path
        The path of ``catalog.json``.

    Raises
    ------
    InputError
        A bad collection id, an output folder that is or holds the input folder, two files giving
        one band name, a raster with no valid pixel.
    AssetError
        A raster GDAL cannot read (corrupt or truncated).
    OutputError
        ``out_dir`` exists (unless ``overwrite``) or cannot be written.
    """
    from geosurvey.io import has_valid_pixels, output_folder, read_raster, write_cog

    check_stac_id(collection, what="collection id")
    if not isinstance(license, str) or not re.fullmatch(r"[\w\-.+]+", license):
        raise InputError(
            f"licence {license!r} is not an SPDX id (e.g. 'CC-BY-4.0'), 'other' or 'proprietary'"
        )
    if not isinstance(attribution, str) or any(unicodedata.category(ch)[0] == "C" for ch in attribution):
        raise InputError(f"attribution {attribution!r} must be printable text on one line")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} is a file, not a folder; give the folder that holds the grids")
    if not folder.is_dir():
        raise MissingInputError(f"folder {folder} does not exist; give a folder of GeoTIFF/NetCDF grids")
    out_dir = Path(out_dir).absolute()
    if _same_or_inside(folder, out_dir):
        raise InputError(
            f"output folder {out_dir} is or holds the input folder {folder}; writing it would replace "
            "the inputs: choose another output folder"
        )
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _RASTER_SUFFIXES and p.is_file())
    if not files:
        raise InputError(f"folder {folder} holds no rasters ({', '.join(sorted(_RASTER_SUFFIXES))})")
    bands = dict(bands or {})
    plan: list[tuple[Path, int, BandInfo]] = []
    for path in files:
        for index, info in _file_bands(path, bands.get(path.stem)):
            if any(info.common_name == other.common_name for _, _, other in plan):
                raise InputError(f"two files in {folder} give band {info.common_name!r}; rename one")
            plan.append((path, index, info))
    providers = (
        [pystac.Provider(name=attribution, roles=[pystac.ProviderRole.PRODUCER, pystac.ProviderRole.LICENSOR])]
        if attribution else []
    )
    with output_folder(out_dir, overwrite=overwrite) as tmp:
        cog_dir = tmp / collection / "cogs"
        cog_dir.mkdir(parents=True)
        written: dict[str, Path] = {}
        infos: dict[str, BandInfo] = {}
        for path, index, info in plan:
            da = read_raster(path, chunks={"x": 1024, "y": 1024}, band=index)
            if info.units and not da.attrs.get("units"):
                da.attrs["units"] = info.units
            if attribution:
                da.attrs["attribution"] = attribution
            if license != "other":
                da.attrs["license"] = license
            target = cog_dir / f"{info.common_name}.tif"
            try:
                write_cog(da, target, compress=compress)
            except rasterio.errors.RasterioError as exc:
                cause = exc.__cause__ or exc.__context__
                reason = str(cause if "previous exception" in str(exc) and cause is not None else exc)
                reason = reason.splitlines()[0] if reason else type(exc).__name__
                raise AssetError(
                    f"cannot read {path} ({reason}); is it a complete GeoTIFF/NetCDF grid? Nothing was written"
                ) from None
            if not has_valid_pixels(target):
                raise InputError(
                    f"{path}" + (f" band {index}" if index > 1 or len(plan) > len(files) else "")
                    + " holds no valid pixel (all nodata or NaN); remove it from the folder"
                )
            written[info.common_name] = target
            infos[info.common_name] = info
        if one_item:
            items = [
                create_item(written, item_id=f"{collection}", datetime=datetime, bands=infos, collection=collection)
            ]
        else:
            items = [
                create_item({k: p}, item_id=f"{collection}-{k}", datetime=datetime, bands={k: infos[k]},
                            collection=collection)
                for k, p in written.items()
            ]
        # write_catalog needs out_dir to be where the catalogue will live: write into tmp, which is
        # renamed to out_dir when the block ends; relative hrefs stay valid.
        catalog_path = write_catalog(
            items,
            tmp,
            catalog_id=catalog_id or collection,
            description=description or f"{collection}: grids ingested from {folder.name}",
            license=license,
            providers=providers,
            overwrite=True,
        )
    return out_dir / catalog_path.name
