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
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype, crs=CRS, transform=from_origin(500_000, 6_000_000, 25, 25),
                       nodata=nodata, tiled=tiled, blockxsize=128 if tiled else None,
                       blockysize=128 if tiled else None, compress="deflate" if tiled else None) as dst:
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
