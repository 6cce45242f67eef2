"""A table-driven corpus of bad inputs to the data commands (evidence, catalogues, search, ingest).

Every case is a real file or argument a user could give; every refusal must be one line on stderr
starting ``geosurvey: error:``, exit 1, no traceback, and nothing written (the output folder is
compared before and after).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geosurvey.cli import main

CRS = "EPSG:32633"


def write_grid(path: Path, data: np.ndarray, *, nodata=None, units: str | None = None, tiled=False) -> Path:
    layout = {"tiled": True, "blockxsize": 128, "blockysize": 128, "compress": "deflate"} if tiled else {}
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype, crs=CRS, transform=from_origin(500_000, 6_000_000, 25, 25),
                       nodata=nodata, **layout) as dst:
        dst.write(data, 1)
        if units:
            dst.update_tags(units=units)
    return path


@pytest.fixture()
def files(tmp_path):
    """A folder of good and bad inputs (all small)."""
    rng = np.random.default_rng(0)
    d = tmp_path / "in"
    d.mkdir()
    good = write_grid(d / "mag.tif", rng.normal(size=(256, 384)).astype("float32"), units="nT", tiled=True)
    data = good.read_bytes()
    (d / "truncated.tif").write_bytes(data[: len(data) // 2])
    (d / "header.tif").write_bytes(data[:200])
    (d / "garbage.tif").write_bytes(b"this is not a GeoTIFF\n" * 20)
    (d / "empty.tif").write_bytes(b"")
    write_grid(d / "allnan.tif", np.full((40, 50), np.nan, "float32"), units="nT")
    write_grid(d / "allnodata.tif", np.full((40, 50), -9999, "float32"), nodata=-9999, units="nT")
    with rasterio.open(d / "nocrs.tif", "w", driver="GTiff", width=10, height=10, count=1, dtype="float32",
                       transform=from_origin(0, 10, 1, 1)) as dst:
        dst.write(np.zeros((1, 10, 10), "float32"))
    (d / "faults.json").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"NAME": "shear"},
         "geometry": {"type": "LineString", "coordinates": [[500_000, 5_997_000], [509_000, 5_996_000]]}}],
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32633"}}}))
    (d / "broken.json").write_text('{"type": "FeatureCollection", "features": [')
    (d / "bad_MTL.txt").write_text(
        'GROUP = L1_METADATA_FILE\n  SUN_ELEVATION = "high"\n  REFLECTANCE_MULT_BAND_4 = 2.0E-05\n'
        "  REFLECTANCE_ADD_BAND_4 = -0.1\nEND_GROUP = L1_METADATA_FILE\n"
    )
    (d / "nested_MTL.json").write_text("[" * 100_000 + "]" * 100_000)
    (d / "folder.json").mkdir()
    return d


def tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))}


# (id, argv with {in} for the input folder and {out} for the output folder, words the error must hold)
EVIDENCE_CASES = [
    ("truncated raster", ["evidence", "vertical-derivative", "{in}/truncated.tif", "{out}/o.tif"], "cannot read"),
    ("truncated raster, slope", ["evidence", "slope", "{in}/truncated.tif", "{out}/o.tif"], "cannot read"),
    ("truncated raster, ratio", ["evidence", "ratio", "{in}/truncated.tif", "{in}/mag.tif", "{out}/o.tif"],
     "cannot read"),
    ("header only", ["evidence", "tilt-derivative", "{in}/header.tif", "{out}/o.tif"], "cannot read raster"),
    ("not a raster", ["evidence", "analytic-signal", "{in}/garbage.tif", "{out}/o.tif"], "cannot read raster"),
    ("empty file", ["evidence", "hillshade", "{in}/empty.tif", "{out}/o.tif"], "cannot read raster"),
    ("no CRS", ["evidence", "aspect", "{in}/nocrs.tif", "{out}/o.tif"], "has no CRS"),
    ("all NaN", ["evidence", "total-horizontal-gradient", "{in}/allnan.tif", "{out}/o.tif"], "no valid pixel"),
    ("all nodata", ["evidence", "slope", "{in}/allnodata.tif", "{out}/o.tif"], "no valid pixel"),
    ("missing input", ["evidence", "slope", "{in}/nope.tif", "{out}/o.tif"], "does not exist"),
    ("output not .tif", ["evidence", "slope", "{in}/mag.tif", "{out}/o.png"], "must end in .tif"),
    ("output is the input", ["evidence", "slope", "{in}/mag.tif", "{in}/mag.tif"], "would replace the input"),
    # the manifest OUT.json would replace the features file: refused, faults.json kept
    ("manifest onto input", ["evidence", "distance", "{in}/faults.json", "{in}/mag.tif", "{in}/faults.tif"],
     "would replace the input features"),
    ("manifest is a folder", ["evidence", "slope", "{in}/mag.tif", "{in}/folder.tif"], "is a folder"),
    ("output folder missing", ["evidence", "slope", "{in}/mag.tif", "{out}/no/such/o.tif"], "does not exist"),
    ("broken features", ["evidence", "distance", "{in}/broken.json", "{in}/mag.tif", "{out}/o.tif"],
     "cannot read features"),
    ("hostile where", ["evidence", "line-density", "{in}/faults.json", "{in}/mag.tif", "{out}/o.tif",
                       "--radius", "100", "--where", "NAME.__class__.__init__.__globals__"], "is not allowed"),
    ("where selects nothing", ["evidence", "distance", "{in}/faults.json", "{in}/mag.tif", "{out}/o.tif",
                               "--where", "NAME == 'none'"], "selects none"),
    ("non-numeric MTL", ["evidence", "landsat-toa", "{in}/mag.tif", "{out}/o.tif", "--mtl", "{in}/bad_MTL.txt",
                         "--band", "4"], "SUN_ELEVATION = 'high' is not a number"),
    ("MTL is a folder", ["evidence", "landsat-toa", "{in}/mag.tif", "{out}/o.tif", "--mtl", "{in}/folder.json",
                         "--band", "4"], "is a folder"),
    ("control characters in units", ["evidence", "vertical-derivative", "{in}/mag.tif", "{out}/o.tif",
                                     "--units", "\x1b[31mnT"], "must be short printable text"),
    ("nested MTL JSON", ["evidence", "landsat-toa", "{in}/mag.tif", "{out}/o.tif", "--mtl",
                         "{in}/nested_MTL.json", "--band", "4"], "MTL"),
]


@pytest.mark.parametrize(("argv", "words"), [c[1:] for c in EVIDENCE_CASES], ids=[c[0] for c in EVIDENCE_CASES])
def test_evidence_refusals(files, tmp_path, capsys, argv, words):
    out = tmp_path / "out"
    out.mkdir()
    before_in, before_out = tree(files), tree(out)
    code = main([a.format(**{"in": files, "out": out}) for a in argv])
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert err.startswith("geosurvey: error:") and "\n" not in err and "Traceback" not in err
    assert words in err
    assert tree(out) == before_out and tree(files) == before_in  # nothing written, no input replaced


def test_existing_output_needs_overwrite(files, tmp_path, capsys):
    out = tmp_path / "slope.tif"
    assert main(["evidence", "slope", str(files / "mag.tif"), str(out)]) == 0
    first = out.read_bytes()
    assert main(["evidence", "slope", str(files / "mag.tif"), str(out), "--z-factor", "2"]) == 1
    assert "exists" in capsys.readouterr().err and out.read_bytes() == first
    out.with_suffix(".json").unlink()  # the COG alone is enough to refuse
    assert main(["evidence", "slope", str(files / "mag.tif"), str(out), "--z-factor", "2"]) == 1
    assert main(["evidence", "slope", str(files / "mag.tif"), str(out), "--z-factor", "2", "--overwrite"]) == 0
    assert out.read_bytes() != first and out.with_suffix(".json").is_file()


def test_a_failing_manifest_leaves_no_cog(files, tmp_path, capsys, monkeypatch):
    """The COG and its manifest appear together or not at all (a disk error injected at the manifest)."""
    import geosurvey.provenance

    def full_disk(path, **_):
        Path(path).write_text("{")  # a partial write, then the error
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(geosurvey.provenance, "manifest", full_disk)
    out = tmp_path / "o.tif"
    assert main(["evidence", "slope", str(files / "mag.tif"), str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert "No space left on device" in err and "nothing was written" in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no COG, no manifest, no temporary file


def test_missing_units_warn_and_units_option(files, tmp_path, capsys):
    bare = write_grid(files / "bare.tif", np.random.default_rng(1).normal(size=(64, 64)).astype("float32"))
    out = tmp_path / "vd.tif"
    assert main(["evidence", "vertical-derivative", str(bare), str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "no units" in err and "--units" in err
    with rasterio.open(out) as f:
        assert f.tags()["units"] == "unknown/m"
    for command in ("vertical-derivative", "tilt-derivative", "slope", "analytic-signal"):
        target = tmp_path / f"{command}.tif"
        assert main(["evidence", command, str(bare), str(target), "--units", "nT"]) == 0, command
        assert "warning" not in capsys.readouterr().err
    with rasterio.open(tmp_path / "vertical-derivative.tif") as f:
        assert f.tags()["units"] == "nT/m"


# ---------------------------------------------------------------------------------------------
# catalogues: static catalogues written by hand (so each can hold exactly one fault)
# ---------------------------------------------------------------------------------------------


def item_doc(item_id: str, box=(24.0, 67.0, 24.5, 67.5), when="2020-06-01T00:00:00Z", **extra) -> dict:
    w, s, e, n = box
    doc = {
        "type": "Feature", "stac_version": "1.1.0", "id": item_id,
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "bbox": [w, s, e, n], "properties": {"datetime": when}, "links": [], "assets": {},
    }
    doc.update(extra)
    return doc


def static_catalog(folder: Path, items: dict[str, dict | str | bytes]) -> Path:
    """catalog.json linking one file per item; a value that is text or bytes is written as is."""
    folder.mkdir(parents=True, exist_ok=True)
    links = [{"rel": "root", "href": "./catalog.json", "type": "application/json"}]
    for name, doc in items.items():
        path = folder / f"{name}.json"
        if isinstance(doc, bytes):
            path.write_bytes(doc)
        else:
            path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
        links.append({"rel": "item", "href": f"./{name}.json", "type": "application/geo+json"})
    catalog = {"type": "Catalog", "stac_version": "1.1.0", "id": "test", "description": "test", "links": links}
    (folder / "catalog.json").write_text(json.dumps(catalog))
    return folder / "catalog.json"


@pytest.fixture()
def catalogs(tmp_path):
    good = item_doc("good")
    out = {"good": static_catalog(tmp_path / "good", {"good": good})}
    out["truncated item"] = static_catalog(tmp_path / "trunc", {"a": json.dumps(good)[:80]})
    out["unparsable datetime"] = static_catalog(tmp_path / "date", {"a": item_doc("a", when="yesterday")})
    two_point = item_doc("a")
    two_point["geometry"]["coordinates"] = [[[24, 67], [25, 68]]]
    out["2-point ring"] = static_catalog(tmp_path / "ring", {"a": two_point})
    no_coordinates = item_doc("a")
    del no_coordinates["geometry"]["coordinates"]
    out["malformed feature"] = static_catalog(tmp_path / "feature", {"a": no_coordinates})
    out["JSON array item"] = static_catalog(tmp_path / "array", {"a": "[1, 2]"})
    out["non-UTF-8 item"] = static_catalog(tmp_path / "latin1", {"a": json.dumps(good).replace(
        '"good"', '"g\u00e9"').encode("latin-1")})
    no_assets = item_doc("a")
    del no_assets["assets"]
    out["item without assets"] = static_catalog(tmp_path / "assets", {"a": no_assets})
    out["missing item file"] = static_catalog(tmp_path / "missing", {"a": good})
    (tmp_path / "missing" / "a.json").unlink()
    return out


SEARCH_CASES = [
    ("truncated item", [], "is not readable STAC JSON"),
    ("unparsable datetime", [], "a.json"),
    ("2-point ring", ["--bbox", "20,60,30,70"], "item 'a'"),
    ("malformed feature", ["--bbox", "20,60,30,70"], "item 'a'"),
    ("JSON array item", [], "a.json"),
    ("non-UTF-8 item", [], "a.json"),
    ("missing item file", [], "links to a missing file"),
    ("good", ["--datetime", "not-a-date"], "datetime 'not-a-date' is not a date or range"),
    ("good", ["--datetime", "2020-02-30"], "is not a date or range"),
    ("good", ["--datetime", "2021-01-01/2020-01-01"], "ends before it starts"),
    ("good", ["--filter", "eo:cloud_cover < "], "CQL2 filter 'eo:cloud_cover < ' is not valid (at 1:"),
    ("good", ["--filter", "platform = 'x"], "CQL2 filter"),
    ("good", ["--bbox", "24,68,25,67"], "did you swap south and north"),
    ("good", ["--bbox", "24,67,25"], "--bbox must be W,S,E,N"),
    ("good", ["--bbox", "24,67,200,68"], "within -180..180"),
    ("good", ["--bbox", "24,-95,25,68"], "within -90..90"),
    ("good", ["--bbox", "24,67,25," + "9" * 400], "not a finite number"),
    ("good", ["--out", "{cat}"], "exists"),
    ("good", ["--out", "{cat.parent}/no/such/found.json"], "does not exist; create it first"),
    ("good", ["--max-items", "-5"], "max_items=-5 must be a whole number of at least 1"),
    ("good", ["--collection", ""], "collection id '' is empty"),
    ("good", ["--filter", "nosuchfunction(a)"], "cannot be evaluated on item 'good'"),
]


@pytest.mark.parametrize(("which", "args", "words"), SEARCH_CASES,
                         ids=[f"{c[0]}: {' '.join(c[1]) or 'search'}"[:60] for c in SEARCH_CASES])
def test_search_refusals(catalogs, capsys, which, args, words):
    cat = catalogs[which]
    before = tree(cat.parent)
    code = main(["catalog", "search", str(cat), *(a.format(cat=cat) for a in args)])
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert err.startswith("geosurvey: error:") and "\n" not in err and "Traceback" not in err
    assert words in err
    assert tree(cat.parent) == before


VALIDATE_CASES = [
    ("truncated item", "is not valid JSON"),
    ("JSON array item", "holds a JSON list, not a STAC object"),
    ("non-UTF-8 item", "is not UTF-8 text"),
    ("missing item file", "does not exist"),
    ("item without assets", "'assets' is a required property"),
]


@pytest.mark.parametrize(("which", "words"), VALIDATE_CASES, ids=[c[0] for c in VALIDATE_CASES])
def test_validate_checks_the_files_as_written(catalogs, capsys, which, words):
    assert main(["catalog", "validate", str(catalogs[which])]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("geosurvey: error:") and "\n" not in err and words in err
    assert main(["catalog", "validate", str(catalogs["good"])]) == 0


def test_validate_a_truncated_catalog_file(tmp_path, capsys):
    (tmp_path / "catalog.json").write_text('{"type": "Catalog", "id": ')
    assert main(["catalog", "validate", str(tmp_path / "catalog.json")]) == 1
    assert "is not valid JSON" in capsys.readouterr().err
    (tmp_path / "catalog.json").write_text("[" * 100_000)
    assert main(["catalog", "validate", str(tmp_path / "catalog.json")]) == 1
    assert "geosurvey: error:" in capsys.readouterr().err


def test_bbox_west_of_east_crosses_the_antimeridian(tmp_path, capsys):
    cat = static_catalog(tmp_path / "c", {
        "fiji": item_doc("fiji", box=(179.2, -18.0, 179.8, -17.0)),
        "samoa": item_doc("samoa", box=(-172.5, -14.0, -171.5, -13.5)),
        "greenwich": item_doc("greenwich", box=(-0.5, -17.5, 0.5, -16.5)),
    })
    from geosurvey.catalogs import search

    # 170°E..-170°W is a 20° box across 180°: Fiji in, Samoa (-172°) in, Greenwich (0°) out
    assert sorted(i.id for i in search(cat, bbox=(170, -20, -170, -10))) == ["fiji", "samoa"]
    # the same numbers the other way round: the 340° box that does not cross 180° (Samoa is at -172°)
    assert sorted(i.id for i in search(cat, bbox=(-170, -20, 170, -10))) == ["greenwich"]


def test_search_prints_ids_without_control_characters(tmp_path, capsys):
    hostile = "x\x1b[2J\x1b]0;pwned\x07\u202eevil"
    cat = static_catalog(tmp_path / "c", {"a": item_doc(hostile, collection="c\x1b[31m")})
    assert main(["catalog", "search", str(cat)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "x\\x1b[2J" in out and "\\u202eevil" in out


def test_search_out_overwrite(catalogs, tmp_path, capsys):
    out = tmp_path / "found.json"
    assert main(["catalog", "search", str(catalogs["good"]), "--out", str(out)]) == 0
    assert main(["catalog", "search", str(catalogs["good"]), "--out", str(out)]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["catalog", "search", str(catalogs["good"]), "--out", str(out), "--overwrite"]) == 0
    assert json.loads(out.read_text())["features"][0]["id"] == "good"


# ---------------------------------------------------------------------------------------------
# ingest
# ---------------------------------------------------------------------------------------------


@pytest.fixture()
def grids(tmp_path):
    d = tmp_path / "grids"
    d.mkdir()
    write_grid(d / "rad_K_pct.tif", np.random.default_rng(2).random((64, 80)).astype("float32"), units="%")
    return d


INGEST_CASES = [
    ("absolute collection id", ["--collection", "/tmp/evil"], "cannot name a folder"),
    ("dot-dot collection id", ["--collection", "../evil"], "cannot name a folder"),
    ("newline collection id", ["--collection", "abc\n"], "cannot name a folder"),
    ("empty collection id", ["--collection", ""], "cannot name a folder"),
    ("output is the input", ["--collection", "p", "--out", "{grids}"], "is or holds the input folder"),
    ("output holds the input", ["--collection", "p", "--out", "{grids}/..", "--overwrite"],
     "is or holds the input folder"),
    ("not a date", ["--collection", "p", "--datetime", "not-a-date"], "ISO 8601"),
    ("input is a file", ["--collection", "p", "--in", "{grids}/rad_K_pct.tif"], "is a file, not a folder"),
    ("bad compression", ["--collection", "p", "--compress", "jpeg"], "deflate or zstd"),
    ("licence not an SPDX id", ["--collection", "p", "--license", "CC BY"], "is not an SPDX id"),
    ("attribution with escapes", ["--collection", "p", "--attribution", "\x1b[2JGTK"], "must be printable text"),
]


@pytest.mark.parametrize(("args", "words"), [c[1:] for c in INGEST_CASES], ids=[c[0] for c in INGEST_CASES])
def test_ingest_refusals(grids, tmp_path, capsys, args, words):
    before = tree(tmp_path)
    out = tmp_path / "cat"
    source = str(grids)
    if "--in" in args:
        i = args.index("--in")
        source, args = args[i + 1].format(grids=grids), args[:i] + args[i + 2:]
    argv = ["catalog", "ingest", source]
    if "--out" in args:
        i = args.index("--out")
        out_arg, args = args[i + 1].format(grids=grids), args[:i] + args[i + 2:]
    else:
        out_arg = str(out)
    argv += [out_arg, *args]
    if "--datetime" not in args:
        argv += ["--datetime", "2010-06-01"]
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 1, err
    assert err.startswith("geosurvey: error:") and "\n" not in err and words in err
    assert tree(tmp_path) == before and not Path("/tmp/evil").exists()


@pytest.mark.parametrize(("name", "make", "words"), [
    ("all NaN", lambda p: write_grid(p, np.full((20, 20), np.nan, "float32")), "holds no valid pixel"),
    ("all nodata", lambda p: write_grid(p, np.full((20, 20), -1, "int16"), nodata=-1), "holds no valid pixel"),
    ("truncated", lambda p: p.write_bytes(
        write_grid(p.with_suffix(".tmp"), np.random.default_rng(0).random((256, 384)).astype("float32"),
                   tiled=True).read_bytes()[:20_000]), "is truncated"),
    ("garbage", lambda p: p.write_bytes(b"\x00" * 500), "cannot read"),
])
def test_ingest_refuses_bad_grids(grids, tmp_path, capsys, name, make, words):
    make(grids / "bad.tif")
    for extra in grids.glob("*.tmp"):
        extra.unlink()
    before = tree(tmp_path)
    assert main(["catalog", "ingest", str(grids), str(tmp_path / "cat"), "--collection", "p",
                 "--datetime", "2010-06-01"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("geosurvey: error:") and "\n" not in err and words in err and "bad.tif" in err
    assert tree(tmp_path) == before


def test_ingest_keeps_every_band_and_the_attribution(grids, tmp_path, capsys):
    rng = np.random.default_rng(5)
    bands = rng.random((3, 40, 50)).astype("float32")
    with rasterio.open(grids / "rgb.tif", "w", driver="GTiff", width=50, height=40, count=3, dtype="float32",
                       crs=CRS, transform=from_origin(500_000, 6_000_000, 25, 25)) as dst:
        dst.write(bands)
        dst.set_band_description(2, "green band")
    out = tmp_path / "cat"
    assert main(["catalog", "ingest", str(grids), str(out), "--collection", "gtk-grids", "--datetime",
                 "2010-06-01", "--definition", "partner-geophysics", "--license", "CC-BY-4.0"]) == 0, \
        capsys.readouterr().err
    import pystac

    cat = pystac.Catalog.from_file(str(out / "catalog.json"))
    (item,) = cat.get_items(recursive=True)
    assert sorted(item.assets) == ["k", "rgb_b1", "rgb_b2", "rgb_b3"]
    assert "green band" in item.assets["rgb_b2"].title
    for i in range(3):
        with rasterio.open(item.assets[f"rgb_b{i + 1}"].get_absolute_href()) as src:
            np.testing.assert_array_equal(src.read(1), bands[i])
            tags = src.tags()
        attribution = "Geological Survey of Finland (GTK), CC BY 4.0"  # the definition's
        assert tags["attribution"] == attribution and tags["TIFFTAG_COPYRIGHT"] == attribution
        assert tags["license"] == "CC-BY-4.0"
    collection = json.loads((out / "gtk-grids" / "collection.json").read_text())
    assert collection["providers"] == [{"name": attribution, "roles": ["producer", "licensor"]}]
    assert main(["catalog", "validate", str(out / "catalog.json")]) == 0


def test_write_catalog_checks_item_ids(tmp_path):
    from geosurvey.catalogs import create_item, write_catalog
    from geosurvey.errors import InputError
    from geosurvey.io import read_raster, write_cog

    cog = write_cog(read_raster(write_grid(tmp_path / "g.tif", np.ones((8, 8), "float32"))), tmp_path / "c.tif")
    import datetime as dt

    for bad in ("../up", "a/b", "x\n", ".hidden"):
        item = create_item({"g": cog}, item_id=bad, datetime=dt.datetime(2020, 1, 1))
        with pytest.raises(InputError, match="cannot name a folder"):
            write_catalog([item], tmp_path / "out", catalog_id="c", description="d")
    assert not (tmp_path / "out").exists() and not (tmp_path / "up").exists()


def test_load_refuses_a_truncated_asset(tmp_path):
    import datetime as dt

    from odc.geo.geobox import GeoBox

    from geosurvey.catalogs import create_item, load
    from geosurvey.errors import AssetError
    from geosurvey.io import read_raster, write_cog

    src = write_grid(tmp_path / "g.tif", np.random.default_rng(0).random((512, 512)).astype("float32"))
    cog = write_cog(read_raster(src), tmp_path / "mag.tif")
    item = create_item({"mag": cog}, item_id="m", datetime=dt.datetime(2020, 1, 1))
    cog.write_bytes(cog.read_bytes()[: cog.stat().st_size * 2 // 3])
    grid = GeoBox.from_bbox((500_000, 5_987_200, 512_800, 6_000_000), crs=CRS, resolution=100)
    with pytest.raises(AssetError, match=r"item 'm' asset 'mag'.*is truncated"):
        load([item], geobox=grid)


# ---------------------------------------------------------------------------------------------
# definitions and catalog list
# ---------------------------------------------------------------------------------------------

GOOD_DEFINITION = 'kind = "static"\nhref = "./catalog.json"\n'

DEFINITION_CASES = [
    ("unknown top-level key", GOOD_DEFINITION + "bogus_key = 1\n", "unknown keys ['bogus_key']"),
    ("unknown paging key", GOOD_DEFINITION + "[paging]\ntimeout = 5\n", "[paging] has unknown keys ['timeout']"),
    ("paging as text", GOOD_DEFINITION + '[paging]\nmax_items = "10"\n', "max_items = '10' must be a whole number"),
    ("paging negative", GOOD_DEFINITION + "[paging]\npage_size = -5\n", "must be a finite number > 0"),
    ("boolean timeout", GOOD_DEFINITION + "[paging]\ntimeout_s = true\n", "must be a number"),
    ("href a number", 'kind = "static"\nhref = 5\n', "href = 5 must be text"),
    ("attribution a list", GOOD_DEFINITION + "attribution = ['a']\n", "attribution = ['a'] must be text"),
    ("bands value a number", GOOD_DEFINITION + "[collections.c.bands]\nB04 = 4\n", "B04 = 4 must be a common band"),
    ("collection unknown key", GOOD_DEFINITION + "[collections.c]\nscaling = 2\n[collections.c.bands]\nB04 = 'red'\n",
     "unknown keys ['scaling']"),
    ("scale as text", GOOD_DEFINITION + "[collections.c]\nscale = '0.1'\n[collections.c.bands]\nB04 = 'red'\n",
     "scale = '0.1' must be a number"),
    ("mask exclude text", GOOD_DEFINITION + "[collections.c.bands]\nSCL = 'scl'\n[collections.c.mask]\n"
     "band = 'scl'\nkind = 'values'\nexclude = ['3']\n", "exclude = ['3'] must be a list of whole numbers"),
    ("ingest band unknown key", GOOD_DEFINITION + "[ingest.bands.x]\nname = 'x'\nunit = 'nT'\n", "unknown keys ['unit']"),
    ("not UTF-8", None, "is not UTF-8"),
    ("not TOML", "kind = \n", "is not valid TOML"),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in DEFINITION_CASES], ids=[c[0] for c in DEFINITION_CASES])
def test_definitions_refuse_unknown_keys_and_bad_types(tmp_path, capsys, text, words):
    path = tmp_path / "bad.toml"
    if text is None:
        path.write_bytes(GOOD_DEFINITION.encode() + b"title = '\xff'\n")
    else:
        path.write_text(text)
    assert main(["catalog", "show", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("geosurvey: error:") and "\n" not in err and words in err and "bad.toml" in err


def test_catalog_list_says_what_is_missing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GEOSURVEY_CATALOGS", str(tmp_path / "nowhere"))
    assert main(["catalog", "list"]) == 1
    assert "does not exist" in capsys.readouterr().err
    monkeypatch.setenv("GEOSURVEY_CATALOGS", "")
    assert main(["catalog", "list"]) == 1
    assert "set but empty" in capsys.readouterr().err
    folder = tmp_path / "defs"
    folder.mkdir()
    monkeypatch.setenv("GEOSURVEY_CATALOGS", str(folder))
    assert main(["catalog", "list"]) == 0
    assert "no catalogue definitions" in capsys.readouterr().err
    (folder / "partner.toml").write_text('kind = "static"\nhref = "${GEOSURVEY_TEST_UNSET_VAR}"\n')
    (folder / "broken.toml").write_text(GOOD_DEFINITION + "bogus = 1\n")
    monkeypatch.delenv("GEOSURVEY_TEST_UNSET_VAR", raising=False)
    assert main(["catalog", "list"]) == 1
    captured = capsys.readouterr()
    assert "set $GEOSURVEY_TEST_UNSET_VAR to the path of catalog.json" in captured.out
    assert "broken" in captured.out and "INVALID" in captured.out and "1 of 2 definitions" in captured.err
    monkeypatch.setenv("GEOSURVEY_TEST_UNSET_VAR", "/data/catalog.json")
    (folder / "broken.toml").unlink()
    assert main(["catalog", "list"]) == 0
    assert "/data/catalog.json" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# servers that are not STAC APIs (a real HTTP server on 127.0.0.1)
# ---------------------------------------------------------------------------------------------


@pytest.fixture()
def http_server():
    """A real HTTP server on 127.0.0.1 answering each path with a body given by the test."""
    import http.server
    import socketserver
    import threading

    pages: dict[str, tuple[str, bytes]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            kind, body = pages.get(self.path.split("?")[0], ("text/html", b"<html>Sign in</html>"))
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = _answer

        def log_message(self, *args):
            pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()


def test_servers_that_are_not_stac_apis(http_server, catalogs, tmp_path, capsys):
    url, pages = http_server
    # a login page answering 200 with HTML
    assert main(["catalog", "search", url + "/"]) == 1
    err = capsys.readouterr().err.strip()
    assert "did not answer with a STAC API landing page" in err and "\n" not in err
    assert main(["catalog", "search", url + "/catalog.json"]) == 1
    assert "is not a readable STAC catalogue" in capsys.readouterr().err
    # a landing page that is STAC, and a search answered with HTML, then with a malformed Feature
    pages["/"] = ("application/json", json.dumps({
        "type": "Catalog", "id": "api", "description": "d", "stac_version": "1.1.0",
        "conformsTo": ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search"],
        "links": [{"rel": "self", "href": url + "/"}, {"rel": "root", "href": url + "/"},
                  {"rel": "search", "href": url + "/search", "type": "application/geo+json", "method": "GET"},
                  {"rel": "search", "href": url + "/search", "type": "application/geo+json", "method": "POST"}],
    }).encode())
    assert main(["catalog", "search", url + "/", "--bbox", "24,67,25,68"]) == 1
    err = capsys.readouterr().err.strip()
    assert "answered its search with something that is not STAC items" in err and "\n" not in err
    bad_feature = item_doc("x")
    del bad_feature["geometry"]["coordinates"], bad_feature["properties"]
    pages["/search"] = ("application/geo+json", json.dumps(
        {"type": "FeatureCollection", "features": [bad_feature], "links": []}).encode())
    assert main(["catalog", "search", url + "/", "--bbox", "24,67,25,68"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("geosurvey: error:") and "not STAC items" in err and "\n" not in err
    # an unreachable static catalogue URL
    from stac_api import free_port

    dead = f"http://127.0.0.1:{free_port()}/catalog.json"
    assert main(["catalog", "search", dead]) == 1
    err = capsys.readouterr().err.strip()
    assert "cannot be reached" in err and "\n" not in err


def test_publish_checks_the_landing_page(http_server, grids, tmp_path, capsys):
    url, pages = http_server
    out = tmp_path / "cat"
    assert main(["catalog", "ingest", str(grids), str(out), "--collection", "p", "--datetime", "2010-06-01"]) == 0
    capsys.readouterr()
    assert main(["catalog", "publish", str(out), "--api", url]) == 1  # HTML with status 200
    err = capsys.readouterr().err.strip()
    assert "answered text/html, not a STAC API landing page" in err and "\n" not in err
    pages["/"] = ("application/json", json.dumps({
        "type": "Catalog", "id": "api", "description": "read-only", "stac_version": "1.1.0", "links": [],
        "conformsTo": ["https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search"],
    }).encode())
    assert main(["catalog", "publish", str(out), "--api", url]) == 1
    err = capsys.readouterr().err.strip()
    assert "does not declare the Transactions extension" in err
    pages["/"] = ("application/json", b'{"links": []}')
    assert main(["catalog", "publish", str(out), "--api", url]) == 1
    assert "declares no conformance classes" in capsys.readouterr().err
    assert main(["catalog", "publish", str(out), "--api", "ftp://example"]) == 1
    assert "must start with http" in capsys.readouterr().err


def test_load_names_a_corrupt_asset_when_computing(tmp_path):
    """A block whose bytes are garbage passes every header check; reading it raises AssetError."""
    import datetime as dt

    from odc.geo.geobox import GeoBox

    from geosurvey.catalogs import create_item, load
    from geosurvey.errors import AssetError
    from geosurvey.io import read_raster, write_cog

    src = write_grid(tmp_path / "g.tif", np.random.default_rng(0).random((512, 512)).astype("float32"))
    cog = write_cog(read_raster(src), tmp_path / "mag.tif")
    item = create_item({"mag": cog}, item_id="m", datetime=dt.datetime(2020, 1, 1))
    with rasterio.open(cog) as f:
        offset = int(f.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
    data = bytearray(cog.read_bytes())
    data[offset : offset + 2000] = b"\xff" * 2000  # deflate stream destroyed, file size unchanged
    cog.write_bytes(bytes(data))
    grid = GeoBox.from_bbox((500_000, 5_987_200, 512_800, 6_000_000), crs=CRS, resolution=25)
    ds = load([item], geobox=grid, chunks={"x": 256, "y": 256})  # headers are fine: nothing raised yet
    with pytest.raises(AssetError, match=r"mag\.tif \(band 1\) cannot be read"):
        ds["mag"].compute()


# every evidence command on a truncated raster and on an all-NaN raster: one line, nothing written
EVERY_COMMAND = {
    "reduction-to-pole": ["--inclination", "70", "--declination", "5"],
    "vertical-derivative": [], "derivative-easting": [], "derivative-northing": [],
    "total-horizontal-gradient": [], "tilt-derivative": [], "analytic-signal": [],
    "upward-continuation": ["--height", "100"], "slope": [], "aspect": [], "hillshade": [],
    "landsat-toa": ["--mtl", "{in}/good_MTL.txt", "--band", "4"],
    "ratio": ["{grid}"],
    "distance": [], "line-density": ["--radius", "100"],
}


# distance and density read only the grid's geometry, not its values: an all-NaN grid is fine there
BAD_GRID_RUNS = [(c, g) for c in sorted(EVERY_COMMAND) for g in ("truncated.tif", "allnan.tif")
                 if not (g == "allnan.tif" and c in ("distance", "line-density"))]


@pytest.mark.parametrize(("command", "grid"), BAD_GRID_RUNS)
def test_every_evidence_command_refuses_bad_grids(files, tmp_path, capsys, command, grid):
    (files / "good_MTL.txt").write_text("GROUP = L1_METADATA_FILE\n  SUN_ELEVATION = 45.0\n"
                                        "  REFLECTANCE_MULT_BAND_4 = 2.0E-05\n  REFLECTANCE_ADD_BAND_4 = -0.1\n"
                                        "END_GROUP = L1_METADATA_FILE\n")
    out = tmp_path / "out"
    out.mkdir()
    path = str(files / grid)
    head = [str(files / "faults.json"), path] if command in ("distance", "line-density") else [path]
    extra = [a.format(**{"in": files, "grid": path}) for a in EVERY_COMMAND[command]]
    code = main(["evidence", command, *head, *extra, str(out / "o.tif"), "--overwrite"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 or (len(err) == 2 and "warning" in err[0]), err
    assert err[-1].startswith("geosurvey: error:")
    # a truncated GeoTIFF fails at open (its directory is cut off) or at the block check
    words = ("is truncated", "cannot read raster") if grid == "truncated.tif" else ("no valid pixel",)
    assert any(w in err[-1] for w in words), err[-1]
    assert not list(out.iterdir())


def test_saved_results_appear_together_or_not_at_all(catalogs, tmp_path, capsys):
    out = tmp_path / "found.json"
    before = tree(tmp_path)
    code = main(["catalog", "search", str(catalogs["good"]), "--out", str(out),
                 "--geoparquet", str(tmp_path / "no" / "such" / "found.parquet")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("geosurvey: error:") and "does not exist" in err[-1]
    assert tree(tmp_path) == before  # not even the JSON
    assert main(["catalog", "search", str(catalogs["good"]), "--out", str(out),
                 "--geoparquet", str(tmp_path / "found.parquet")]) == 0
    import geopandas as gpd

    assert gpd.read_parquet(tmp_path / "found.parquet")["id"].tolist() == ["good"]
    assert main(["catalog", "search", str(catalogs["good"]), "--out", str(out), "--geoparquet", str(out),
                 "--overwrite"]) == 1
    assert "same file" in capsys.readouterr().err
