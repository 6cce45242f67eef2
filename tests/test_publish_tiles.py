"""Large rasters as XYZ tiles beside the page: pixels against independent computations, the
legend's colours, the embedding budget, and real Chromium loading deeper tiles when zoomed in."""

from __future__ import annotations

import base64
import io
import math
import re
import warnings
from pathlib import Path

import dask
import matplotlib
import numpy as np
import pytest
from affine import Affine
from PIL import Image
from pyproj import Transformer
from rasterio.crs import CRS as RioCRS
from test_webmap import CRS, RES, X0, Y0, make_grid

from geosurvey.publish import ColourScale, save_web_map, web_map
from geosurvey.publish._raster import encode_png
from geosurvey.publish._tiles import plan_pyramid, write_tiles
from geosurvey.publish._webmap import _tile_layers

ORIGIN = math.pi * 6378137.0


@pytest.fixture(scope="module")
def tiled(tmp_path_factory) -> dict:
    """A 300 x 400 ramp (NaN block in the north-west) published as tiles, and its page."""
    folder = tmp_path_factory.mktemp("tiles")
    da = make_grid(ny=300, nx=400, chunks=100)
    m = web_map(da, raster_mode="tiles", cmap="viridis")
    path = save_web_map(m, folder / "index.html")
    return {"da": da, "page": path, "tiles": folder / "index_tiles" / "score", "map": m}


def read_tiles(folder: Path, z: int) -> dict[tuple[int, int], np.ndarray]:
    out = {}
    for png in (folder / str(z)).glob("*/*.png"):
        out[(int(png.parent.name), int(png.stem))] = np.asarray(Image.open(png).convert("RGBA"))
    return out


def tile_pixels_to_source(z: int, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractional (row, column) in the source grid of each pixel centre of tile z/x/y.

    Independent of the code: the slippy-map tile formulas, then pyproj, then index arithmetic.
    """
    res = 2 * ORIGIN / 2**z / 256
    px = np.arange(256) + 0.5
    mx = -ORIGIN + x * 256 * res + px * res
    my = ORIGIN - y * 256 * res - px * res
    MX, MY = np.meshgrid(mx, my)
    sx, sy = Transformer.from_crs("EPSG:3857", CRS, always_xy=True).transform(MX, MY)
    return (Y0 - sy) / RES, (sx - X0) / RES


def test_pyramid_levels_reach_the_data_resolution(tiled):
    pyramid = _tile_layers(tiled["map"])[0].gs_tiles.pyramid
    # pixel size of the data in Web Mercator at the grid's latitude: 100 m / cos(lat)
    (south, _), (north, _) = pyramid.bounds
    merc_pixel = RES / math.cos(math.radians((south + north) / 2))
    deepest = 2 * ORIGIN / 2**pyramid.max_zoom / 256
    assert deepest <= merc_pixel < 2 * deepest  # the first level at least as fine as the data
    zooms = sorted(int(p.name) for p in tiled["tiles"].iterdir())
    assert zooms == list(range(pyramid.min_zoom, pyramid.max_zoom + 1))
    top = list((tiled["tiles"] / str(pyramid.min_zoom)).glob("*/*.png"))
    assert 1 <= len(top) <= 4  # the whole grid in about one tile at the top


def test_deepest_tiles_show_the_source_colours_and_transparent_nodata(tiled):
    da = tiled["da"]
    values = da.values
    pyramid = _tile_layers(tiled["map"])[0].gs_tiles.pyramid
    z = pyramid.max_zoom
    vmin, vmax = np.nanmin(values), np.nanmax(values)
    cm = matplotlib.colormaps["viridis"]
    ny, nx = values.shape
    checked = nan_checked = 0
    for (x, y), rgba in read_tiles(tiled["tiles"], z).items():
        fi, fj = tile_pixels_to_source(z, x, y)
        i, j = np.floor(fi).astype(int), np.floor(fj).astype(int)
        inside = (fi > 1) & (fi < ny - 1) & (fj > 1) & (fj < nx - 1)
        in_nan = (fi > 1) & (fi < ny // 4 - 1) & (fj > 1) & (fj < nx // 4 - 1)
        off_nan = inside & ~((fi < ny // 4 + 1) & (fj < nx // 4 + 1))
        outside = (fi < -1) | (fi > ny + 1) | (fj < -1) | (fj > nx + 1)
        expected = cm((values[i[off_nan], j[off_nan]] - vmin) / (vmax - vmin), bytes=True)
        assert np.abs(rgba[off_nan].astype(int) - expected.astype(int)).max() <= 4
        assert (rgba[in_nan][:, 3] == 0).all() and (rgba[outside][:, 3] == 0).all()
        checked += off_nan.sum()
        nan_checked += in_nan.sum()
    assert checked > 0.8 * values.size and nan_checked > 1000


def test_tiles_use_the_legends_colours(tiled):
    """Where a tile pixel's value falls in the colour bin of a legend stop, it has that stop's
    colour exactly (the legend's hex colours are read from the page)."""
    html = tiled["page"].read_text("utf-8")
    gradient = re.search(r"linear-gradient\(to right, ([^)]*)\)", html).group(1)
    stops = re.findall(r"(#[0-9a-f]{6}) (\d+)%", gradient)
    assert len(stops) == 11
    da = tiled["da"]
    values = da.values
    vmin, vmax = np.nanmin(values), np.nanmax(values)
    pyramid = _tile_layers(tiled["map"])[0].gs_tiles.pyramid
    z = pyramid.max_zoom
    n = 256
    found = set()
    for (x, y), rgba in read_tiles(tiled["tiles"], z).items():
        fi, fj = tile_pixels_to_source(z, x, y)
        # pixels well inside one source cell (nearest neighbour picks that cell for sure)
        sure = (np.abs(fi - np.floor(fi) - 0.5) < 0.3) & (np.abs(fj - np.floor(fj) - 0.5) < 0.3)
        sure &= (fi > 0) & (fi < values.shape[0]) & (fj > 0) & (fj < values.shape[1])
        sure[sure] = np.isfinite(values[np.floor(fi[sure]).astype(int), np.floor(fj[sure]).astype(int)])
        v = values[np.floor(fi[sure]).astype(int), np.floor(fj[sure]).astype(int)]
        colour_bin = np.minimum(((v - vmin) / (vmax - vmin) * n).astype(int), n - 1)
        for hex_colour, percent in stops:
            stop_bin = min(int(int(percent) / 100 * n), n - 1)
            hit = colour_bin == stop_bin
            if hit.any():
                rgb = tuple(int(hex_colour[k : k + 2], 16) for k in (1, 3, 5))
                got = rgba[sure][hit][:, :3]
                assert (got == rgb).all(), (percent, hex_colour, got[:3])
                found.add(percent)
    assert len(found) >= 8  # most stops occur in the ramp (its corner is NaN)


def test_colour_scale_equals_matplotlib():
    scale = ColourScale("magma", -2.0, 3.0)
    values = np.array([-5, -2, -1.9999, 0, 0.5, 2.99999, 3, 7, np.nan])
    expected = matplotlib.colormaps["magma"](np.clip((values + 2) / 5, 0, 1), bytes=True)
    expected[-1] = 0
    assert (scale.rgba(values) == expected).all()


def test_tiles_are_paletted_pngs(tiled):
    """Every tile of the 256-colour ramp uses at most 256 of the 257 table entries (colours and
    the transparent one), so each is a paletted PNG: one byte a pixel."""
    pngs = list(tiled["tiles"].glob("*/*/*.png"))
    assert len(pngs) > 10
    for png in pngs:
        with Image.open(png) as image:
            assert image.mode == "P", (png, image.mode)


def test_every_level_of_a_pyramid_that_straddles_windows_equals_a_numpy_pyramid(tmp_path):
    """A grid in Web Mercator on the zoom-12 tile pixels (nearest neighbour copies it exactly),
    starting part-way into tile 1613/1615 (odd: inside a 16-tile window, across its edge) and
    10 x 6 tiles wide, with a NaN block. The oracle: the grid placed in a NaN array aligned on
    the whole pyramid, halved level by level with ``np.nanmean`` over 2 x 2 blocks, coloured with
    matplotlib. Every tile of every level is written, no other, each with the oracle's colours."""
    z, tx, ty = 12, 1613, 1615
    res = 2 * ORIGIN / 2**z / 256
    rng = np.random.default_rng(7)
    off_x, off_y, ny, nx = 100, 37, 6 * 256 - 90, 10 * 256 - 180
    values = rng.random((ny, nx), dtype=np.float32)
    values[200:700, 900:1500] = np.nan
    transform = Affine(res, 0, -ORIGIN + (tx * 256 + off_x) * res, 0, -res, ORIGIN - (ty * 256 + off_y) * res)
    crs = RioCRS.from_epsg(3857)
    scale = ColourScale("viridis", 0.0, 1.0)
    pyramid = plan_pyramid(transform, values.shape, crs, scale)
    assert (pyramid.max_zoom, pyramid.min_zoom) == (z, z - 4)
    assert pyramid.tile_range(z) == (tx, tx + 9, ty, ty + 5)
    count = write_tiles(values, transform=transform, crs=crs, pyramid=pyramid, folder=tmp_path, threads=2)

    depth = z - pyramid.min_zoom
    ax, ay = tx >> depth << depth, ty >> depth << depth  # the pyramid's aligned origin
    level = np.full((32 * 256, 32 * 256), np.nan)
    top, left = (ty - ay) * 256 + off_y, (tx - ax) * 256 + off_x
    level[top : top + ny, left : left + nx] = values
    cm = matplotlib.colormaps["viridis"]
    written = 0
    for zoom in range(z, pyramid.min_zoom - 1, -1):
        x0, x1, y0, y1 = pyramid.tile_range(zoom)
        shift = z - zoom
        on_disk = {(int(png.parent.name), int(png.stem)) for png in (tmp_path / str(zoom)).glob("*/*.png")}
        assert on_disk == {(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)}, zoom
        for x, y in on_disk:
            r, c = (y - (ay >> shift)) * 256, (x - (ax >> shift)) * 256
            want = level[r : r + 256, c : c + 256]
            got = np.asarray(Image.open(tmp_path / str(zoom) / str(x) / f"{y}.png").convert("RGBA"))
            clear = ~np.isfinite(want)
            assert (got[clear][:, 3] == 0).all() and (got[~clear][:, 3] == 255).all(), (zoom, x, y)
            expected = cm(np.clip(want[~clear], 0, 1), bytes=True)
            assert np.abs(got[~clear][:, :3].astype(int) - expected[:, :3].astype(int)).max(initial=0) <= 4
        written += len(on_disk)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks stay NaN
            rows, cols = level.shape
            level = np.nanmean(level.reshape(rows // 2, 2, cols // 2, 2), axis=(1, 3))
    assert count == written == pyramid.tile_count()


def _indices(n_entries: int, colours: int, seed: int) -> np.ndarray:
    """A 256² grid of ``colours`` distinct entries of an ``n_entries`` table, the last (nodata)
    among them, each used at least once."""
    rng = np.random.default_rng(seed)
    entries = rng.choice(n_entries - 1, size=colours - 1, replace=False)
    entries = np.append(entries, n_entries - 1)
    index = rng.choice(entries, size=(256, 256)).astype(np.uint16)
    index.flat[: len(entries)] = entries
    return index


@pytest.mark.parametrize(("colours", "mode"), [(1, "P"), (40, "P"), (256, "P"), (257, "RGB")])
def test_a_png_decodes_to_the_colours_of_its_indices(colours, mode):
    """Against numpy's ``table[index]``: a grid of 1 to 256 distinct entries is paletted (with
    the transparent entry's alpha), one of all 257 entries is RGB keyed on black (magma has no
    black); all decode to exactly the same RGBA pixels."""
    table = ColourScale("magma", 0.0, 1.0).lookup_table()  # 256 colours, then transparent
    index = _indices(len(table), colours, seed=colours)
    for level in (3, 6):
        with Image.open(io.BytesIO(encode_png(index, table, compress_level=level))) as image:
            assert image.mode == mode
            decoded = np.asarray(image.convert("RGBA"))
        assert np.array_equal(decoded, table[index])


def test_a_keyed_png_picks_a_key_colour_no_pixel_has():
    """``gray`` has black among its 256 colours, so black cannot mark nodata: another key is
    used, black pixels stay opaque black and nodata pixels are transparent."""
    table = ColourScale("gray", 0.0, 1.0).lookup_table()
    assert (table[:-1, :3] == 0).all(axis=1).any()  # black is a colour here
    index = _indices(len(table), 257, seed=1)
    with Image.open(io.BytesIO(encode_png(index, table))) as image:
        assert image.mode == "RGB"
        decoded = np.asarray(image.convert("RGBA"))
    expected = table[index]
    assert np.array_equal(decoded[..., 3], expected[..., 3])
    opaque = expected[..., 3] == 255
    assert np.array_equal(decoded[opaque], expected[opaque])


def test_partly_transparent_colours_are_written_as_rgba():
    table = ColourScale("magma", 0.0, 1.0).lookup_table()
    table[:128, 3] = 128  # half-transparent colours: no key can stand for them
    index = _indices(len(table), 257, seed=2)
    with Image.open(io.BytesIO(encode_png(index, table))) as image:
        assert image.mode == "RGBA"
        assert np.array_equal(np.asarray(image), table[index])


def test_chromium_draws_every_png_kind_with_the_colours_of_its_indices(chromium_page, tmp_path):
    """What a browser shows, not only what Pillow decodes: paletted, keyed RGB (black, and
    another key for ``gray``) and RGBA PNGs drawn on a canvas give the table's colours where
    opaque and alpha 0 at nodata."""
    cases = {
        "paletted": ("magma", 40, False),
        "keyed": ("magma", 257, False),
        "keyed_gray": ("gray", 257, False),
        "rgba": ("magma", 257, True),
    }
    expected, uris = {}, {}
    for name, (cmap, colours, partial) in cases.items():
        table = ColourScale(cmap, 0.0, 1.0).lookup_table()
        if partial:
            table[:128, 3] = 128
        index = _indices(len(table), colours, seed=colours)[:64, :64]
        expected[name] = table[index]
        uris[name] = "data:image/png;base64," + base64.b64encode(encode_png(index, table)).decode()
    page_file = tmp_path / "pngs.html"
    page_file.write_text("<!doctype html><title>pngs</title>", encoding="utf-8")
    page, console_errors, failed = chromium_page(page_file)
    drawn = page.evaluate(
        """async (uris) => {
            const out = {};
            for (const [name, uri] of Object.entries(uris)) {
                const img = new Image(); img.src = uri; await img.decode();
                const canvas = document.createElement('canvas');
                canvas.width = img.width; canvas.height = img.height;
                const ctx = canvas.getContext('2d');
                ctx.drawImage(img, 0, 0);
                out[name] = Array.from(ctx.getImageData(0, 0, img.width, img.height).data);
            }
            return out;
        }""",
        uris,
    )
    for name, want in expected.items():
        got = np.asarray(drawn[name], dtype=np.uint8).reshape(want.shape)
        assert np.array_equal(got[..., 3], want[..., 3]), name
        opaque = want[..., 3] == 255
        assert opaque.any() and (~opaque).any(), name
        assert np.array_equal(got[opaque], want[opaque]), name
    assert console_errors == [] and failed == []


def test_auto_mode_embeds_within_the_byte_budget_and_tiles_the_rest(tmp_path):
    da = make_grid(ny=120, nx=150, chunks=None)
    other = (da * 3).assign_attrs(long_name="other")
    embedded = web_map(da, layers={"o": other}, raster_mode="embed")
    sizes = [len(layer.url) for layer in embedded._children.values() if type(layer).__name__ == "ImageOverlay"]
    assert len(sizes) == 2
    budget = sizes[0]  # room for the score's data URI only
    m = web_map(da, layers={"o": other}, max_embedded_bytes=budget)
    kinds = [type(c).__name__ for c in m._children.values() if type(c).__name__ in {"ImageOverlay", "TileLayer"}]
    assert kinds == ["ImageOverlay", "TileLayer"]
    # a grid larger than max_pixels becomes tiles instead of being averaged down
    big = web_map(make_grid(ny=300, nx=200, chunks=100), max_pixels=100)
    assert [type(c).__name__ for c in big._children.values() if "Overlay" in type(c).__name__ or type(c).__name__ == "TileLayer"] == ["TileLayer"]
    path = save_web_map(big, tmp_path / "big.html")
    assert (tmp_path / "big_tiles" / "score").is_dir()
    assert path.stat().st_size < 400_000  # Leaflet (~150 kB) and the page: no imagery inlined
    assert "big_tiles/score/{z}/{x}/{y}.png" in path.read_text("utf-8")


def test_saving_again_replaces_the_tiles_whole(tmp_path):
    m = web_map(make_grid(ny=200, nx=220, chunks=None), raster_mode="tiles")
    save_web_map(m, tmp_path / "a.html")
    stray = tmp_path / "a_tiles" / "score" / "99"
    stray.mkdir()
    save_web_map(m, tmp_path / "a.html")
    assert not stray.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "a_tiles"]  # no temporaries


def test_a_tiled_grid_is_computed_once_for_its_legend_and_its_tiles(tmp_path):
    calls: list[tuple[int, ...]] = []

    def double(block: np.ndarray) -> np.ndarray:  # counts the blocks it computes
        calls.append(block.shape)
        return block * 2

    grid = make_grid(ny=300, nx=400, chunks=100)  # 3 x 4 blocks
    da = grid.copy(data=grid.data.map_blocks(double, meta=np.array((), grid.dtype)))
    with dask.config.set(scheduler="threads"):
        m = web_map(da, raster_mode="tiles", cmap="viridis")
        save_web_map(m, tmp_path / "index.html")
    assert len(calls) == 12  # every block once: not again for the tiles
    assert any((tmp_path / "index_tiles" / "score").rglob("*.png"))


LOADED_TILES = "img.leaflet-tile.leaflet-tile-loaded"


def zoom_and_list_tiles(page, zoom: int) -> set[int]:
    page.evaluate(f"""() => {{ const map = window[document.querySelector('.folium-map').id];
        map.setZoom({zoom}, {{animate: false}}); }}""")
    page.wait_for_function(f"""() => {{
        const imgs = Array.from(document.querySelectorAll('img.leaflet-tile'));
        return imgs.length > 0 && imgs.every(img => img.complete)
            && imgs.some(img => img.src.includes('/score/{zoom}/')); }}""")
    page.wait_for_timeout(200)
    srcs = page.eval_on_selector_all(LOADED_TILES, "els => els.map(e => e.src)")
    assert srcs and all(u.startswith("file:") and "/index_tiles/score/" in u for u in srcs)
    return {int(u.split("/")[-3]) for u in srcs}


@pytest.mark.browser
def test_browser_loads_the_tiles_and_deeper_ones_after_zooming_in(chromium_page, tiled):
    page, console_errors, failed = chromium_page(tiled["page"])
    page.wait_for_function(f"document.querySelectorAll('{LOADED_TILES}').length > 0")
    assert page.locator(f"{LOADED_TILES}").count() > 0
    pyramid = _tile_layers(tiled["map"])[0].gs_tiles.pyramid
    assert zoom_and_list_tiles(page, pyramid.min_zoom) == {pyramid.min_zoom}
    assert zoom_and_list_tiles(page, pyramid.max_zoom) == {pyramid.max_zoom}  # deeper tiles
    # beyond the deepest level Leaflet enlarges the deepest tiles (no request for missing ones)
    page.evaluate("""() => { const map = window[document.querySelector('.folium-map').id];
        map.setZoom(map.getZoom() + 2, {animate: false}); }""")
    page.wait_for_timeout(300)
    srcs = page.eval_on_selector_all(LOADED_TILES, "els => els.map(e => e.src)")
    assert {int(u.split("/")[-3]) for u in srcs} == {pyramid.max_zoom}
    assert console_errors == [] and failed == []


def decode_png(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def test_coarser_levels_show_the_mean_of_the_data_and_every_tile_exists(tiled):
    """Coarser levels are 2 x 2 means: on the (linear) ramp, the mean over a pixel's footprint is
    the value at its centre, so each interior pixel has the colour of the source there."""
    da = tiled["da"]
    values = da.values
    pyramid = _tile_layers(tiled["map"])[0].gs_tiles.pyramid
    assert len(list(tiled["tiles"].rglob("*.png"))) == pyramid.tile_count()
    vmin, vmax = np.nanmin(values), np.nanmax(values)
    cm = matplotlib.colormaps["viridis"]
    ny, nx = values.shape
    for z in range(pyramid.min_zoom, pyramid.max_zoom):
        checked = 0
        margin = 2 ** (pyramid.max_zoom - z) + 2  # source cells under one coarse pixel, and more
        for (x, y), rgba in read_tiles(tiled["tiles"], z).items():
            fi, fj = tile_pixels_to_source(z, x, y)
            inside = (fi > margin) & (fi < ny - margin) & (fj > margin) & (fj < nx - margin)
            inside &= ~((fi < ny // 4 + margin) & (fj < nx // 4 + margin))  # away from the NaN block
            # the ramp's value at each pixel centre (bilinear = exact on a linear ramp)
            expected_value = 0.01 * (fj[inside] - 0.5) + 0.004 * (fi[inside] - 0.5)
            expected = cm((expected_value - vmin) / (vmax - vmin), bytes=True)
            assert np.abs(rgba[inside].astype(int) - expected.astype(int)).max() <= 12, z
            checked += inside.sum()
        assert checked > 0, z
