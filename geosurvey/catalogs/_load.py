"""STAC items → one Dask-backed datacube on a survey area's grid (odc-stac underneath).

:func:`load` is a short orchestration: plan the bands (pure, metadata only), check the items
(projection metadata, bands, local assets), call :func:`odc.stac.load` once, then apply
scale/offset, masks and an optional median composite lazily.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import numpy as np
import odc.stac
import pystac
import rasterio
import rasterio.errors
import xarray as xr
from odc.geo.geobox import GeoBox
from odc.loader import RioDriver, RioReader
from pystac.extensions.eo import EOExtension
from pystac.extensions.raster import RasterExtension

from geosurvey.catalogs._sources import CatalogSource, CollectionSpec, MaskRule, get_source
from geosurvey.errors import AssetError, BandError, CatalogError, InputError
from geosurvey.io import truncated_tiff
from geosurvey.provenance import annotate

__all__ = ["BandPlan", "LoadGroup", "LoadPlan", "load", "plan_load"]

_DEFAULT_CHUNKS = {"x": 2048, "y": 2048}


@dataclass(frozen=True)
class BandPlan:
    """How one common band is read from the items of one load group.

    ``key`` is the source band: an asset key, or ``"ASSET.N"`` for band ``N`` of a multi-band
    asset. ``scale``/``offset`` are applied after nodata became NaN.
    """

    name: str
    key: str
    scale: float
    offset: float
    units: str | None
    long_name: str
    nodata: float | None = None


@dataclass(frozen=True)
class LoadGroup:
    """Items that odc-stac loads in one call: one collection, the same bands, scales and offsets."""

    items: tuple[pystac.Item, ...]
    bands: tuple[BandPlan, ...]

    def stac_cfg(self) -> dict[str, Any]:
        """odc-stac configuration: common names as aliases of the source bands, fallback nodata."""
        cid = self.items[0].collection_id or "*"
        assets = {
            _asset_key(b.key)[0]: {"nodata": b.nodata} for b in self.bands if b.nodata is not None
        }
        return {cid: {"aliases": {b.name: b.key for b in self.bands}, "assets": assets}}


@dataclass(frozen=True)
class LoadPlan:
    """The whole load: groups, the output variables and the mask rule."""

    groups: tuple[LoadGroup, ...]
    names: tuple[str, ...]
    mask: MaskRule | None


# --------------------------------------------------------------------------------------------
# planning (metadata only)
# --------------------------------------------------------------------------------------------


def _asset_key(source_key: str) -> tuple[str, int]:
    """``"VNIR.2"`` → (``"VNIR"``, 1); ``"blue"`` → (``"blue"``, 0)."""
    if "." in source_key:
        asset, _, index = source_key.rpartition(".")
        if index.isdigit():
            return asset, int(index) - 1
    return source_key, 0


def _default_band_map(item: pystac.Item) -> dict[str, str]:
    """Asset key → common name for an item without a definition: keys of data assets, renamed
    to the eo ``common_name`` when a one-band asset declares one."""
    out: dict[str, str] = {}
    for key, asset in item.assets.items():
        roles = set(asset.roles or [])
        media = (asset.media_type or "").lower()
        if roles and "data" not in roles:
            continue
        if not roles and not (media.startswith("image/") or key.endswith((".tif", ".tiff"))):
            if not media.startswith("image/"):
                continue
        name = key
        try:
            eo_bands = EOExtension.ext(asset).bands
        except pystac.errors.ExtensionNotImplemented:
            eo_bands = None
        if eo_bands and len(eo_bands) == 1 and eo_bands[0].common_name:
            name = eo_bands[0].common_name
        out[key] = name
    return out


def _raster_band(item: pystac.Item, source_key: str) -> dict[str, Any]:
    asset_key, index = _asset_key(source_key)
    asset = item.assets[asset_key]
    try:
        bands = RasterExtension.ext(asset).bands
    except pystac.errors.ExtensionNotImplemented:
        bands = None
    if not bands and asset.extra_fields.get("raster:bands"):
        bands_raw = asset.extra_fields["raster:bands"]
        return dict(bands_raw[index]) if index < len(bands_raw) else {}
    if not bands or index >= len(bands):
        return {}
    return bands[index].to_dict()


def _check_projection(item: pystac.Item, asset_key: str) -> None:
    asset = item.assets[asset_key]
    fields = {**item.properties, **asset.extra_fields}
    has_crs = any(fields.get(k) is not None for k in ("proj:code", "proj:epsg", "proj:wkt2", "proj:projjson"))
    if not (has_crs and fields.get("proj:shape") and fields.get("proj:transform")):
        raise AssetError(
            f"item {item.id!r} asset {asset_key!r} has no usable projection metadata "
            "(needs proj:code/epsg/wkt2/projjson, proj:shape and proj:transform); without them odc-stac "
            "would guess the grid. Re-create the item with geosurvey.catalogs.create_item or add the "
            "proj extension"
        )


def _spec_for(item: pystac.Item, definition: CatalogSource | None) -> CollectionSpec | None:
    return definition.collection(item.collection_id) if definition is not None else None


def _band_plan(
    item: pystac.Item, name: str, key: str, spec: CollectionSpec | None, *, is_mask: bool
) -> BandPlan:
    _check_projection(item, _asset_key(key)[0])
    rb = _raster_band(item, key)

    def pick(field: str, default_key: str) -> Any:
        if rb.get(field) is not None:
            return rb[field]
        return spec.band_default(name, default_key) if spec is not None else None  # type: ignore[arg-type]

    scale, offset, units = pick("scale", "scale"), pick("offset", "offset"), pick("unit", "units")
    nodata = spec.band_default(name, "nodata") if spec is not None and rb.get("nodata") is None else None
    if rb.get("nodata") is None and nodata is None and not is_mask:
        dtype = str(rb.get("data_type") or "")
        if dtype and not dtype.startswith(("float", "cfloat")):
            warnings.warn(
                f"item {item.id!r} band {name!r} ({dtype}) declares no nodata: every pixel value "
                "is treated as data",
                stacklevel=4,
            )
    asset = item.assets[_asset_key(key)[0]]
    return BandPlan(
        name=name,
        key=key,
        scale=1.0 if is_mask or scale is None else float(scale),
        offset=0.0 if is_mask or offset is None else float(offset),
        units=None if is_mask else units,
        long_name=asset.title or name,
        nodata=nodata,
    )


def plan_load(
    items: Sequence[pystac.Item],
    *,
    bands: Sequence[str] | None = None,
    source: CatalogSource | None = None,
    mask: bool = True,
) -> LoadPlan:
    """Plan a load from metadata alone (no pixels): for every item, which source band gives each
    common band with what scale, offset, nodata and units; items that share all of these (and a
    collection) form one group, loaded by one :func:`odc.stac.load` call.

    Raises
    ------
    BandError
        A requested band is in none of the items (an item lacking a band that others have leaves
        NaN there), or two assets of one item map to the same band.
    AssetError
        A needed asset has no usable projection metadata.
    CatalogError
        Collections in one load have different mask rules.
    """
    available: list[dict[str, str]] = []
    specs: list[CollectionSpec | None] = []
    mask_rule: MaskRule | None = None
    for item in items:
        spec = _spec_for(item, source)
        band_map = dict(spec.bands) if spec is not None else _default_band_map(item)
        found: dict[str, str] = {}
        for key, name in band_map.items():
            if _asset_key(key)[0] not in item.assets:
                continue
            if name in found:
                raise BandError(
                    f"item {item.id!r}: assets {found[name]!r} and {key!r} both give band {name!r}; "
                    "fix the band map of its catalogue definition"
                )
            found[name] = key
        available.append(found)
        specs.append(spec)
        if mask and spec is not None and spec.mask is not None:
            if mask_rule is not None and mask_rule != spec.mask:
                raise CatalogError(
                    f"collections in one load have different mask rules ({mask_rule} vs {spec.mask}); "
                    "load them separately"
                )
            mask_rule = spec.mask

    everything = sorted({name for found in available for name in found})
    wanted = list(bands) if bands is not None else [
        n for n in everything if not (mask_rule is not None and n == mask_rule.band)
    ]
    if not wanted:
        raise BandError("the items hold no data bands; check their assets' roles and media types")
    missing = [b for b in wanted if b not in everything]
    if missing:
        raise BandError(f"band(s) {missing} are in none of the {len(items)} items; available: {everything}")
    if mask_rule is not None and mask_rule.band not in everything:
        raise BandError(f"the mask band {mask_rule.band!r} is in none of the items; pass mask=False")
    to_load = [*wanted, *([mask_rule.band] if mask_rule and mask_rule.band not in wanted else [])]

    groups: dict[tuple[Any, ...], tuple[list[pystac.Item], tuple[BandPlan, ...]]] = {}
    for item, found, spec in zip(items, available, specs, strict=True):
        plans = tuple(
            _band_plan(item, name, found[name], spec, is_mask=mask_rule is not None and name == mask_rule.band)
            for name in to_load
            if name in found
        )
        if not plans:
            continue
        signature = (
            item.collection_id,
            tuple((b.name, b.key, b.scale, b.offset, b.nodata) for b in plans),
        )
        groups.setdefault(signature, ([], plans))[0].append(item)
    return LoadPlan(
        groups=tuple(LoadGroup(items=tuple(members), bands=plans) for members, plans in groups.values()),
        names=tuple(wanted),
        mask=mask_rule,
    )


def _check_local_assets(plan: LoadPlan) -> None:
    """Open the header of every local asset (no pixels) so a missing, corrupt or truncated file is
    named now, not as a rasterio error deep inside a computation."""
    for group in plan.groups:
        for item in group.items:
            for band in group.bands:
                asset_key = _asset_key(band.key)[0]
                href = item.assets[asset_key].get_absolute_href() or item.assets[asset_key].href
                if "://" in href and not href.startswith("file://"):
                    continue
                path = Path(unquote(href.removeprefix("file://")))
                if not path.exists():
                    raise AssetError(
                        f"item {item.id!r} asset {asset_key!r}: {path} does not exist; "
                        "fix the item's href or restore the file"
                    )
                try:
                    with rasterio.open(path):
                        pass
                    truncated = truncated_tiff(path)
                except rasterio.errors.RasterioError as exc:
                    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                    raise AssetError(
                        f"item {item.id!r} asset {asset_key!r}: {path} is not a readable raster "
                        f"({reason}); re-create the COG"
                    ) from None
                if truncated:
                    raise AssetError(
                        f"item {item.id!r} asset {asset_key!r}: {path} is truncated ({truncated}); "
                        "copy it again or re-create the COG"
                    )


class _AssetReader(RioReader):
    """odc-loader's rasterio reader, whose read errors name the asset instead of surfacing as
    rasterio's ``RasterioIOError``/``WarpOperationError`` from deep inside a Dask computation."""

    def read(self, cfg: Any, dst_geobox: GeoBox, *, dst: Any = None, selection: Any = None) -> Any:
        try:
            return super().read(cfg, dst_geobox, dst=dst, selection=selection)
        except rasterio.errors.RasterioError as exc:
            cause = exc.__cause__ or exc.__context__
            text = str(cause if "previous exception" in str(exc) and cause is not None else exc)
            reason = text.splitlines()[0] if text else type(exc).__name__
            raise AssetError(
                f"asset {unquote(self._src.uri)} (band {self._src.band}) cannot be read ({reason}); the file is "
                "corrupt or truncated: re-create the COG or copy it again"
            ) from None


class _AssetDriver(RioDriver):
    """odc-loader's rasterio driver with :class:`_AssetReader` (odc-stac's ``driver=`` hook)."""

    def open(self, src: Any, ctx: Any) -> _AssetReader:
        return _AssetReader(src, ctx)


# --------------------------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------------------------


def _apply_mask(ds: xr.Dataset, rule: MaskRule) -> xr.DataArray:
    """True where the quality band marks a pixel as bad (lazy)."""
    qa = ds[rule.band]
    if rule.kind == "values":
        bad = qa.isin(list(rule.exclude))
    else:
        bits = sum(1 << b for b in rule.exclude)
        as_int = qa.fillna(0).astype("uint64")
        bad = (as_int & np.uint64(bits)) != 0
    return bad | qa.isnull()


def load(
    items: Iterable[pystac.Item],
    *,
    geobox: GeoBox,
    bands: Sequence[str] | None = None,
    chunks: Mapping[str, int] | None = None,
    resampling: str = "bilinear",
    composite: Literal["median"] | None = None,
    source: str | CatalogSource | None = None,
    mask: bool = True,
    groupby: str = "solar_day",
    check_assets: Literal["local", "none"] = "local",
) -> xr.Dataset:
    """Load STAC items as one lazy datacube on ``geobox``.

    Parameters
    ----------
    items
        STAC items (from :func:`search`, :func:`create_item`...). Items in other CRSs or UTM zones
        are reprojected to ``geobox``.
    geobox
        The analysis grid (:func:`geosurvey.grid.geobox_for`): CRS, resolution and extent.
    bands
        Common band names to load (default: every band of the items, less the mask band).
    chunks
        Dask chunk sizes for ``x``/``y`` in pixels (default 2048 × 2048, one time step each).
    resampling
        ``"nearest"``, ``"bilinear"``, ``"cubic"``, ``"average"``... (GDAL's); quality bands are
        always read with ``"nearest"``.
    composite
        ``"median"``: the per-pixel median over time (NaN ignored); the result has no ``time``.
    source
        The catalogue definition (name or object) holding the band maps, fallback
        scale/offset/nodata and mask rules of the items' collections; ``None`` uses the asset keys
        (renamed to their eo ``common_name`` where one is declared).
    mask
        Apply the collection's cloud/quality mask rule (masked pixels become NaN).
    groupby
        How items become time steps (odc-stac): ``"solar_day"``, ``"time"`` or ``"id"``.
    check_assets
        ``"local"``: open the header of every local asset now and check that its TIFF directory
        points at no block past the end of the file (no pixels are read), so a missing, corrupt or
        truncated file is reported as an :class:`~geosurvey.errors.AssetError` naming its item and
        asset before anything is computed; ``"none"``: skip.

    Returns
    -------
    xarray.Dataset
        One float32 variable per common band, dims ``("time", "y", "x")`` (``("y", "x")`` with a
        composite; y is northing, x easting, in ``geobox.crs``), Dask-backed, NaN where there is no
        data, scale and offset applied; ``ds.odc.geobox == geobox``. Each variable has ``units``,
        ``long_name`` and ``history``.

    Raises
    ------
    InputError
        No items, or a bad argument.
    BandError
        A requested band is missing (the message lists those available).
    AssetError
        An asset lacks projection metadata, or a local asset is missing or unreadable.
    CatalogError
        Collections in one load have different mask rules (items whose scale or offset differ
        are loaded in separate groups, each with its own values, and joined on time).
    """
    items = list(items)
    if not items:
        raise InputError("no items to load; the search found nothing — widen it or check the area")
    if composite not in (None, "median"):
        raise InputError(f"composite must be None or 'median', not {composite!r}")
    definition = get_source(source) if isinstance(source, str) else source
    plan = plan_load(items, bands=bands, source=definition, mask=mask)
    if check_assets == "local":
        _check_local_assets(plan)
    chunks = {**_DEFAULT_CHUNKS, **(chunks or {}), "time": 1}
    parts = [
        _load_group(group, plan, geobox=geobox, chunks=chunks, resampling=resampling, groupby=groupby)
        for group in plan.groups
    ]
    return _combine(parts, plan, geobox=geobox, composite=composite)


def _load_group(
    group: LoadGroup,
    plan: LoadPlan,
    *,
    geobox: GeoBox,
    chunks: Mapping[str, int],
    resampling: str,
    groupby: str,
) -> dict[str, xr.DataArray]:
    """One odc-stac call; scale/offset and mask applied; variables described. All lazy."""
    mask_band = plan.mask.band if plan.mask is not None else None
    ds = odc.stac.load(
        list(group.items),
        bands=[b.name for b in group.bands],
        geobox=geobox,
        chunks=dict(chunks),
        resampling={b.name: "nearest" if b.name == mask_band else resampling for b in group.bands},
        dtype="float32",
        groupby=groupby,
        stac_cfg=group.stac_cfg(),
        fail_on_error=True,
        driver=_AssetDriver(),
    )
    bad = _apply_mask(ds, plan.mask) if plan.mask is not None and mask_band in ds else None
    ids = ", ".join(item.id for item in group.items[:5])
    if len(group.items) > 5:
        ids += f" (+{len(group.items) - 5} more)"
    out: dict[str, xr.DataArray] = {}
    for band in group.bands:
        if band.name not in plan.names:
            continue  # the mask band, not asked for
        da = ds[band.name]
        step = f"load STAC items {ids} band {band.key!r} ({resampling})"
        fill = da.attrs.get("nodata")
        if fill is not None and not np.isnan(fill):
            # odc-stac keeps an integer band's nodata value as the float fill: make it NaN
            da = da.where(da != np.float32(fill))
            step += f", nodata {fill:g} → NaN"
        if band.scale != 1.0 or band.offset != 0.0:
            da = (da * np.float32(band.scale) + np.float32(band.offset)).astype("float32")
            step += f", value × {band.scale:g} + {band.offset:g}"
        if bad is not None and band.name != mask_band:
            da = da.where(~bad)
            step += f", masked where {mask_band} {plan.mask.kind} in {list(plan.mask.exclude)}"  # type: ignore[union-attr]
        da.attrs = {}
        out[band.name] = annotate(da, step, units=band.units or "unknown", long_name=band.long_name, name=band.name)
    return out


def _quiet_nanmedian(values: np.ndarray, axis: int) -> np.ndarray:
    """NaN-ignoring median over ``axis``; a pixel with no valid value at any time is NaN.

    All-NaN pixels are expected (outside the items) and are set aside before ``np.nanmedian`` so
    that NumPy does not warn for each (warning filters are not thread-safe under Dask).
    """
    valid = np.isfinite(values).any(axis=axis)
    filled = np.where(np.expand_dims(valid, axis), values, np.float32(0))
    out = np.nanmedian(filled, axis=axis).astype("float32")
    out[~valid] = np.nan
    return out


def _median_over_time(da: xr.DataArray) -> xr.DataArray:
    """Per-pixel median over ``time`` (lazy: time in one chunk, space chunks kept).

    One :func:`dask.array.map_blocks` step (one task a block, fused with the masking before it),
    not :func:`xarray.apply_ufunc`, whose core-dimension path adds a step that does not fuse.
    """
    axis = da.dims.index("time")
    if da.chunks is None:
        median = _quiet_nanmedian(da.values, axis=axis)
    else:
        median = da.chunk({"time": -1}).data.map_blocks(_quiet_nanmedian, axis=axis, drop_axis=axis, dtype=np.float32,
                                 meta=np.empty((0,) * (da.ndim - 1), np.float32))
    return da.isel(time=0, drop=True).copy(data=median)


def _combine(
    parts: Sequence[Mapping[str, xr.DataArray]],
    plan: LoadPlan,
    *,
    geobox: GeoBox,
    composite: Literal["median"] | None,
) -> xr.Dataset:
    """Join the groups' variables on time (outer join: NaN where a group has no data) and
    optionally take the median over time."""
    variables: dict[str, xr.DataArray] = {}
    for name in plan.names:
        pieces = [part[name] for part in parts if name in part]
        if len(pieces) == 1:
            da = pieces[0]
        else:
            attrs = pieces[0].attrs
            da = xr.concat(pieces, dim="time", join="outer").sortby("time")
            da.attrs = attrs
        if composite == "median":
            n = da.sizes.get("time", 1)
            da = annotate(_median_over_time(da), f"median composite over {n} time steps (NaN ignored)")
        variables[name] = da
    ds = xr.merge(
        list(variables.values()), join="outer", compat="no_conflicts", combine_attrs="drop_conflicts"
    )
    for name, da in variables.items():
        ds[name].attrs = dict(da.attrs)
    ds = ds[list(plan.names)]
    if ds.odc.geobox != geobox:  # pragma: no cover - odc-stac honours geobox exactly
        raise CatalogError("the loaded grid differs from the requested GeoBox; report this as a bug")
    return ds
