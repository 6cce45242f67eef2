"""``run(area, recipe)`` and ``geosurvey run``: Kolari on real GTK data, reproducibility, refusals."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import dask
import geopandas as gpd
import numpy as np
import pytest
import rasterio
from dask.callbacks import Callback

from geosurvey.aoi import Registry
from geosurvey.cli import main
from geosurvey.demo import make_demo_data
from geosurvey.errors import ApprovalError, InputError
from geosurvey.evidence import geomagnetic_field
from geosurvey.prospectivity import EvidenceContext, build_evidence, load_recipe
from geosurvey.runner import (
    check_area,
    compute_evidence,
    evaluate_run,
    find_items,
    load_datacube,
    run,
    run_resolution,
    score_evidence,
)
from geosurvey.units import UnitsError
from geosurvey.vectors import read_vector

from conftest import REPO, require_shared

pytestmark = pytest.mark.slow


def test_run_is_reachable_from_import_geosurvey() -> None:
    import geosurvey

    assert geosurvey.run is run and geosurvey.runner.run is run
    assert "runner" in dir(geosurvey) and "build_evidence" in dir(geosurvey)


def _auc_and_top(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, frac: float = 0.05) -> tuple[float, int]:
    """ROC AUC (occurrence pixels vs the whole valid area, ties half) and the occurrences in the
    top ``frac`` of the area, recomputed with plain numpy."""
    background = np.sort(values[np.isfinite(values)])
    occ = values[rows, cols]
    n = background.size
    below = np.searchsorted(background, occ, side="left")
    ties = np.searchsorted(background, occ, side="right") - below
    auc = float(np.mean((below + 0.5 * ties) / n))
    area_above = (n - below) / n
    return auc, int(np.sum(area_above <= frac))


# ---------------------------------------------------------------------------------------------
# The demo data, run through run() (fast)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("demo-data")
    return make_demo_data(folder, seed=0)


def _demo_run(data, out: Path, **kw):
    inc, dec = data.field
    return run(
        data.area_id, "demo-iocg", sources=[data.catalog], registry=data.registry,
        occurrences=data.occurrences, features={"faults": data.faults}, out=out,
        inclination=inc, declination=dec, chunks=128, echo=lambda _m: None, **kw,
    )


def test_from_manifest_reproduces_the_score_bit_for_bit(demo_data, tmp_path: Path) -> None:
    first = _demo_run(demo_data, tmp_path / "first")
    assert main(["run", "--from-manifest", str(first.manifest_json), "--out", str(tmp_path / "again")]) == 0
    with rasterio.open(first.score_cog) as a, rasterio.open(tmp_path / "again" / "score.tif") as b:
        pa, pb = a.read(1), b.read(1)
        assert a.transform == b.transform and a.crs == b.crs
    assert pa.tobytes() == pb.tobytes()  # bit for bit, NaN included
    manifest = json.loads(first.manifest_json.read_text())
    # what the manifest records: area version, recipe text and hash, items with checksums
    area = Registry(demo_data.registry).get(demo_data.area_id)
    assert manifest["inputs"]["area"]["digest"] == area.digest
    recipe = load_recipe("demo-iocg")
    assert manifest["recipe"]["text"] == recipe.text
    assert manifest["recipe"]["sha256"] == hashlib.sha256(recipe.text.encode()).hexdigest()
    assets = [a for item in manifest["inputs"]["items"] for a in item["assets"].values()]
    assert assets and all(a["checksum"].startswith("sha256:") for a in assets)
    one = assets[0]
    assert one["checksum"] == "sha256:" + hashlib.sha256(Path(one["href"]).read_bytes()).hexdigest()
    assert manifest["inputs"]["occurrences"]["checksum"] == "sha256:" + hashlib.sha256(
        demo_data.occurrences.read_bytes()).hexdigest()
    assert manifest["parameters"]["inclination"] == demo_data.field[0]
    assert manifest["parameters"]["grid"]["shape"] == list(pa.shape)
    assert manifest["versions"]["geosurvey"]


def test_from_manifest_refuses_a_changed_input(demo_data, tmp_path: Path) -> None:
    first = _demo_run(demo_data, tmp_path / "first")
    doc = json.loads(first.manifest_json.read_text())
    doc["inputs"]["occurrences"]["checksum"] = "sha256:" + "0" * 64
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"occurrences file .* has changed since the manifest"):
        from geosurvey.runner import run_from_manifest

        run_from_manifest(changed, out=tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_every_output_and_units(demo_data, tmp_path: Path) -> None:
    result = _demo_run(demo_data, tmp_path / "out")
    out = result.out
    for name in ("score.tif", "report.json", "manifest.json", "index.html", "outputs/catalog.json"):
        assert (out / name).is_file(), name
    recipe = load_recipe("demo-iocg")
    for spec in recipe.evidence:
        with rasterio.open(out / "evidence" / f"{spec.layer}.tif") as src:
            assert src.tags()["units"] == spec.units
    report = result.report
    assert report["area"]["agreed"] and report["not_agreed"] is None
    assert set(report["evidence"]) == set(recipe.layers)
    assert all("roc_auc" in e and e["evaluated_as"] == "membership" for e in report["evidence"].values())
    assert report["best_layer"]["layer"] in recipe.layers
    assert report["score"]["n_used"] == 7
    # per-layer AUC through its membership: the distance to faults is ranked small-is-good
    with rasterio.open(out / "evidence" / "fault_distance.tif") as src:
        d = src.read(1).astype(float)
        occ = gpd.read_file(demo_data.occurrences).to_crs(src.crs)
        rows, cols = rasterio.transform.rowcol(src.transform, occ.geometry.x, occ.geometry.y)
    auc_small, _ = _auc_and_top(-d, np.asarray(rows), np.asarray(cols))
    assert report["evidence"]["fault_distance"]["roc_auc"] == pytest.approx(auc_small, abs=2e-3)
    # evaluation plots and ranked targets of the top 5 % of the score
    for name in ("evaluation.json", "success_rate.png", "prediction_area.png", "targets.gpkg"):
        assert (out / name).is_file(), name
    found = gpd.read_file(out / "targets.gpkg")
    assert len(found) == report["targets"]["n_targets"] >= 1
    assert (found.to_crs(found.estimate_utm_crs()).area / 1e6 >= 0.25 - 1e-6).all()
    occ_in = gpd.sjoin(gpd.read_file(demo_data.occurrences).to_crs(found.crs), found, predicate="within")
    assert occ_in.index.nunique() == report["targets"]["occurrences"]["in_targets"]


def test_each_evidence_layer_is_computed_once(demo_data) -> None:
    """Stages after compute_evidence read the kept layers: no evidence task runs a second time."""
    recipe = load_recipe("demo-iocg")
    area = check_area(demo_data.area_id, registry=demo_data.registry)
    items = find_items(area, [demo_data.catalog])
    ds = load_datacube(items, area, recipe, resolution=100.0, chunks=128)
    faults = read_vector(demo_data.faults)
    occurrences = read_vector(demo_data.occurrences)

    class Count(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.keys: list[object] = []

        def _posttask(self, key, result, dsk, state, worker_id):
            self.keys.append(key)

    with dask.config.set(scheduler="threads"), Count() as during:
        layers = compute_evidence(ds, recipe, features={"faults": faults},
                                  context=EvidenceContext(*demo_data.field))
    assert len(during.keys) == len(set(during.keys)) > 0  # each task once
    evidence_keys = set(during.keys)
    with dask.config.set(scheduler="threads"), Count() as after:
        scored = score_evidence(layers, recipe)
        evaluate_run(scored, layers, recipe, occurrences)
    assert evidence_keys.isdisjoint(after.keys)


def test_layers_too_large_for_memory_are_read_back_from_their_cogs(
        demo_data, tmp_path: Path, monkeypatch) -> None:
    """Layers that do not fit in the workers' memory are written to their COGs once and read back
    from there: no later stage computes them again from the sources, and the values are the kept
    layers', bit for bit."""
    from geosurvey.runner import _run

    recipe = load_recipe("demo-iocg")
    area = check_area(demo_data.area_id, registry=demo_data.registry)
    items = find_items(area, [demo_data.catalog])
    ds = load_datacube(items, area, recipe, resolution=100.0, chunks=128)
    faults = read_vector(demo_data.faults)
    context = EvidenceContext(*demo_data.field)
    with dask.config.set(scheduler="threads"):
        kept = compute_evidence(ds, recipe, features={"faults": faults}, context=context)
        kept_score = score_evidence(kept, recipe).score.values
        monkeypatch.setattr(_run, "PERSIST_SHARE", 0.0)
        spilled = compute_evidence(ds, recipe, features={"faults": faults}, context=context,
                                   spill=tmp_path / "evidence", source="test data")
        assert sorted(p.name for p in (tmp_path / "evidence").iterdir()) == sorted(
            f"{name}.tif" for name in recipe.layers)  # no part files left
        built = build_evidence(ds, recipe, features={"faults": faults}, context=context)
        source_keys = {key for layer in built.values() for key in layer.__dask_graph__()}
        for name, layer in spilled.items():
            assert source_keys.isdisjoint(layer.__dask_graph__()), name  # read from the COG only
            assert layer.attrs == kept[name].attrs and layer.dtype == kept[name].dtype
            np.testing.assert_array_equal(layer.values, kept[name].values, strict=True)
            with rasterio.open(tmp_path / "evidence" / f"{name}.tif") as src:
                assert src.tags()["source"] == "test data"
        scored = score_evidence(spilled, recipe, spill=tmp_path, source="test data")
        assert (tmp_path / "score.tif").is_file()
        assert scored.score.values.tobytes() == kept_score.tobytes()
        # without a folder to write to, layers too large for memory stay lazy
        lazy = compute_evidence(ds, recipe, features={"faults": faults}, context=context)
    assert all(not set(layer.__dask_graph__()).isdisjoint(source_keys) for layer in lazy.values())


def test_a_run_too_large_for_memory_writes_the_same_outputs(demo_data, tmp_path: Path,
                                                             monkeypatch) -> None:
    from geosurvey.runner import _run

    kept = _demo_run(demo_data, tmp_path / "kept")
    monkeypatch.setattr(_run, "PERSIST_SHARE", 0.0)
    spilled = _demo_run(demo_data, tmp_path / "spilled")
    names = sorted(p.relative_to(kept.out).as_posix() for p in kept.out.rglob("*.tif"))
    assert names == sorted(p.relative_to(spilled.out).as_posix() for p in spilled.out.rglob("*.tif"))
    for name in names:
        with rasterio.open(kept.out / name) as a, rasterio.open(spilled.out / name) as b:
            assert a.read(1).tobytes() == b.read(1).tobytes(), name
            assert a.tags() == b.tags(), name
    assert kept.report["score"] == spilled.report["score"]
    assert kept.report["targets"] == spilled.report["targets"]


def test_targets_of_a_large_score_are_found_on_its_block_average_computed_apart(
        tmp_path: Path, monkeypatch) -> None:
    """A score over TARGET_MAX_SIDE a side is block-averaged (with the layers raising the
    targets) and kept before the targets task is built, so the task's graph holds none of the
    work behind the score (it stays small for a large area); its targets are those of a numpy
    block mean of the same score."""
    import dask.array as dsa
    import shapely
    import xarray as xr

    from geosurvey.prospectivity import targets
    from geosurvey.runner import _run

    n, factor, res = 64, 4, 100.0
    yy, xx = np.mgrid[0:n, 0:n].astype("float32")
    field = (np.exp(-((yy - 20) ** 2 + (xx - 40) ** 2) / 60)
             + 0.6 * np.exp(-((yy - 48) ** 2 + (xx - 12) ** 2) / 40)).astype("float32")
    calls: list[int] = []

    def counted(block: np.ndarray) -> np.ndarray:  # the work behind the score, one call a block
        calls.append(1)
        return block.copy()

    coords = {"y": 7_000_000 - res * (np.arange(n) + 0.5), "x": 400_000 + res * (np.arange(n) + 0.5)}
    data = dsa.from_array(field, chunks=16).map_blocks(counted, dtype="float32")
    score = xr.DataArray(data, dims=("y", "x"), coords=coords, name="score").rio.write_crs("EPSG:3067")
    raising = {"mag": (score * 2.0).rio.write_crs("EPSG:3067")}
    occurrences = gpd.GeoDataFrame({"name": ["A"]}, geometry=[shapely.Point(
        float(coords["x"][40]), float(coords["y"][20]))], crs="EPSG:3067")
    monkeypatch.setattr(_run, "TARGET_MAX_SIDE", n // factor)
    with dask.config.set(scheduler="threads"):
        task = _run._targets_task(score, raising, occurrences, tmp_path / "targets.gpkg")
        before = len(calls)
        found, why_none, got_factor = task.compute()
    assert before > 0 and len(calls) == before  # the task computed none of the score's blocks
    assert why_none is None and got_factor == factor
    mean = field.reshape(n // factor, factor, n // factor, factor).mean(axis=(1, 3))
    down = xr.DataArray(mean, dims=("y", "x"), name="score", coords={
        "y": coords["y"].reshape(-1, factor).mean(axis=1),
        "x": coords["x"].reshape(-1, factor).mean(axis=1)}).rio.write_crs("EPSG:3067")
    pixel_km2 = (res * factor) ** 2 / 1e6
    expected = targets(down, top=_run.TARGET_TOP, occurrences=occurrences,
                       evidence={"mag": down * 2.0},
                       min_pixels=max(1, round(_run.TARGET_MIN_KM2 / pixel_km2)))
    assert found.threshold == pytest.approx(expected.threshold, rel=1e-6)
    assert len(found.table) == len(expected.table) == 2
    np.testing.assert_allclose(found.table["mean_score"], expected.table["mean_score"], rtol=1e-6)
    assert list(found.table["n_pixels"]) == list(expected.table["n_pixels"])
    assert list(found.table["occurrences"]) == list(expected.table["occurrences"])
    assert gpd.read_file(tmp_path / "targets.gpkg").shape[0] == 2


def test_an_unagreed_area_is_refused_naming_the_pending_parties(demo_data, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(demo_data.registry, tmp_path / "aoi-copy")
    registry = Registry(tmp_path / "aoi-copy")
    area = registry.get(demo_data.area_id)
    registry.propose(area.geometry, id="demo-pending", name_en="Pending area", name_ja="保留地域",
                     region=["US"], commodities=["Cu"], deposit_models=["iocg"], proposer="US")
    inc, dec = demo_data.field
    kw = dict(sources=[demo_data.catalog], registry=registry.path, occurrences=demo_data.occurrences,
              features={"faults": demo_data.faults}, inclination=inc, declination=dec,
              echo=lambda _m: None)
    with pytest.raises(ApprovalError, match=r"'demo-pending' is proposed, not agreed \(awaiting approval from: JP, US\)"):
        run("demo-pending", "demo-iocg", out=tmp_path / "refused", **kw)
    assert not (tmp_path / "refused").exists()
    code = main(["run", "demo-pending", "--recipe", "demo-iocg", "--source", str(demo_data.catalog),
                 "-r", str(registry.path), "--out", str(tmp_path / "cli-refused")])
    assert code == 1 and not (tmp_path / "cli-refused").exists()
    result = run("demo-pending", "demo-iocg", out=tmp_path / "stamped", allow_unagreed=True, **kw)
    assert not result.agreed and "NOT AGREED" in result.report["not_agreed"]
    with rasterio.open(result.score_cog) as src:
        assert "NOT AGREED" in src.tags()["source"]
    assert "NOT AGREED" in (result.out / "index.html").read_text()
    assert "NOT AGREED" in (result.out / "outputs" / "catalog.json").read_text()
    assert json.loads(result.manifest_json.read_text())["inputs"]["area"]["agreed"] is False


def test_bad_input_is_refused_in_one_line_with_no_output(demo_data, tmp_path: Path, capsys) -> None:
    base = ["run", demo_data.area_id, "--recipe", "demo-iocg", "--source", str(demo_data.catalog),
            "-r", str(demo_data.registry), "--occurrences", str(demo_data.occurrences)]
    cases = [
        (["--features", f"faults{demo_data.faults}"], "give NAME=FILE"),
        ([], "builds layers from the features ['faults']"),
        (["--features", "faults=/no/such/file.shp"], "does not exist"),
        (["--features", f"faults={demo_data.faults}", "--occurrence-filter", "__import__('os')"], "filter"),
        (["--features", f"faults={demo_data.faults}", "--occurrence-filter", "kind == 'no such kind'"], "occurrences"),
    ]
    for extra, message in cases:
        out = tmp_path / "out"
        capsys.readouterr()
        assert main([*base, *extra, "--out", str(out)]) == 1, extra
        err = capsys.readouterr().err.strip()
        assert err.startswith("geosurvey: error:") and message in err and "\n" not in err, (extra, err)
        assert not out.exists() and not list(tmp_path.glob(".out.*"))
    capsys.readouterr()
    assert main(["run", demo_data.area_id, "--recipe", "no-such-recipe", "--source", "x", "--out",
                 str(tmp_path / "o")]) == 1
    assert "no recipe named 'no-such-recipe'" in capsys.readouterr().err



def test_the_runs_pixel_size_is_the_one_given_else_the_recipes_else_100_m() -> None:
    from geosurvey.prospectivity import parse_recipe

    demo = load_recipe("demo-iocg")
    assert "resolution" not in demo.inputs and run_resolution(demo) == 100.0
    assert run_resolution(demo, 25) == 25.0 and isinstance(run_resolution(demo, 25), float)
    assert "[inputs]" not in demo.text
    own = parse_recipe(demo.text + "\n[inputs]\nresolution = 40\n", source="own.toml")
    assert own.inputs["resolution"] == 40.0 and run_resolution(own) == 40.0
    assert run_resolution(own, 12.5) == 12.5
    for bad in (0, -5, float("nan"), float("inf"), True, "10"):
        with pytest.raises(InputError, match="resolution must be a positive number of metres"):
            run_resolution(demo, bad)

def test_a_layer_in_other_units_is_refused_before_scoring(demo_data, tmp_path: Path) -> None:
    text = load_recipe("demo-iocg").text.replace('units = "m"', 'units = "km"')
    recipe_file = tmp_path / "km-recipe.toml"
    recipe_file.write_text(text)
    inc, dec = demo_data.field
    with pytest.raises(UnitsError, match=rf"recipe {recipe_file}: layer 'fault_distance' is in 'm' but the recipe expects 'km'"):
        run(demo_data.area_id, recipe_file, sources=[demo_data.catalog], registry=demo_data.registry,
            features={"faults": demo_data.faults}, inclination=inc, declination=dec,
            out=tmp_path / "never", echo=lambda _m: None)
    assert not (tmp_path / "never").exists()


# ---------------------------------------------------------------------------------------------
# Occurrence files: any OGR vector or a CSV with longitude/latitude (real USGS compilations)
# ---------------------------------------------------------------------------------------------


def test_usgs_csv_compilations_load_with_filters() -> None:
    mrds = require_shared("usgs_deposits", "tungsten_great_basin", "GBW_MRDS.csv")
    all_sites = read_vector(mrds)
    assert len(all_sites) == 764 and all_sites.crs.to_epsg() == 4326
    lon = np.asarray(all_sites.geometry.x)
    assert np.all((lon > -121) & (lon < -114))  # W Nevada / E California
    skarn = read_vector(mrds, where="DEP_TYPE.str.contains('skarn', case=False)")
    assert 0 < len(skarn) < len(all_sites)
    assert all("skarn" in str(v).lower() for v in skarn["DEP_TYPE"])
    lithium = require_shared("usgs_deposits", "lithium_us", "Loc_Pt.csv")
    sites = read_vector(lithium)
    assert {"Site_ID", "Commodity", "Lat_WGS84"} <= set(sites.columns)  # " *" stripped from headers
    li = read_vector(lithium, where="Commodity.str.contains('lithium', case=False)")
    assert 0 < len(li) <= len(sites)
    np.testing.assert_allclose(li.geometry.y, li["Lat_WGS84"].astype(float))


# ---------------------------------------------------------------------------------------------
# Kolari: the agreed area, GTK's grids ingested as a partner catalogue, the iocg-kolari recipe
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kolari_run(tmp_path_factory: pytest.TempPathFactory):
    grids = require_shared("gtk_lapland_iocg", "grids_100m")
    vector = require_shared("gtk_lapland_iocg", "vector")
    work = tmp_path_factory.mktemp("kolari")
    catalog = work / "catalog"
    assert main(["catalog", "ingest", str(grids), str(catalog), "--definition", "partner-geophysics",
                 "--collection", "gtk-lapland-grids", "--datetime", "2010-06-01"]) == 0
    out = work / "out"
    cwd = os.getcwd()
    os.chdir(REPO)  # the registry aoi/ of the repository, as in the README
    try:
        code = main([
            "run", "kolari-iocg", "--recipe", "iocg-kolari", "--source", str(catalog / "catalog.json"),
            "--occurrences", str(vector / "IOCG_Deps_Prosp_Occs_2.shp"),
            "--features", f"faults={vector / 'IOCG_CLB_Structures_1M.shp'}", "--out", str(out),
        ])
    finally:
        os.chdir(cwd)
    assert code == 0
    return out, vector, catalog


def test_kolari_end_to_end_on_gtk_data(kolari_run) -> None:
    out, vector, _catalog = kolari_run
    report = json.loads((out / "report.json").read_text())
    assert report["n_occurrences_on_grid"] == 17 and report["n_occurrences_outside_grid"] == 9
    occ = gpd.read_file(vector / "IOCG_Deps_Prosp_Occs_2.shp")

    def sample(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with rasterio.open(path) as src:
            values = src.read(1).astype(float)
            pts = occ.to_crs(src.crs)
            rows, cols = rasterio.transform.rowcol(src.transform, pts.geometry.x, pts.geometry.y)
        rows, cols = np.asarray(rows), np.asarray(cols)
        inside = (rows >= 0) & (rows < values.shape[0]) & (cols >= 0) & (cols < values.shape[1])
        return values, rows[inside], cols[inside]

    values, rows, cols = sample(out / "score.tif")
    assert rows.size == 17
    auc, top5 = _auc_and_top(values, rows, cols)
    assert report["score"]["roc_auc"] == pytest.approx(auc, abs=1e-5)
    assert report["score"]["capture"]["top_5pct"] == pytest.approx(top5 / 17, abs=1e-6)
    # the best single layer: the total gradient (analytic signal) of the reduced-to-pole field
    as_values, r2, c2 = sample(out / "evidence" / "mag_rtp_as.tif")
    as_auc, as_top5 = _auc_and_top(as_values, r2, c2)
    assert as_auc > 0.95 and as_top5 >= 12
    assert report["evidence"]["mag_rtp_as"]["roc_auc"] == pytest.approx(as_auc, abs=2e-3)
    assert report["best_layer"]["layer"] == "mag_rtp_as"
    # every layer's own AUC beside the score's; the combination carries the map at least as well
    assert set(report["evidence"]) == {"mag_rtp_as", "mag_rtp", "k", "aem_resistivity", "fault_distance"}
    assert report["score"]["roc_auc"] >= as_auc - 0.01 and top5 >= as_top5
    with rasterio.open(out / "evidence" / "mag_rtp_as.tif") as src:
        assert src.tags()["units"] == "nT/m"


def test_kolari_field_direction_comes_from_igrf(kolari_run) -> None:
    out, _vector, _catalog = kolari_run
    manifest = json.loads((out / "manifest.json").read_text())
    resolved = manifest["parameters"]["resolved"]
    area = Registry(REPO / "aoi").get("kolari-iocg")
    point = area.geometry.centroid
    field = geomagnetic_field(point.x, point.y, "2010-06-01")  # the items' datetime (ingest)
    assert resolved["field_source"] == "IGRF" and resolved["survey_date_source"] == "items"
    assert resolved["longitude"] == pytest.approx(point.x, abs=0.01)
    assert resolved["latitude"] == pytest.approx(point.y, abs=0.01)
    assert resolved["inclination"] == pytest.approx(field.inclination, abs=0.01)
    assert resolved["declination"] == pytest.approx(field.declination, abs=0.01)
    assert 77.0 < resolved["inclination"] < 78.0 and 9.0 < resolved["declination"] < 10.0
    assert manifest["inputs"]["area"]["digest"] == area.digest
    assert manifest["inputs"]["features"]["faults"]["checksum"].startswith("sha256:")


def test_demo_of_a_mineral_system_runs_its_recipe(tmp_path: Path, capsys) -> None:
    out = tmp_path / "li"
    assert main(["demo", "--system", "lct-pegmatite-li", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["recipe"]["id"] == "lct-pegmatite-li" and report["demo"] is True
    assert set(report["evidence"]) == set(load_recipe("lct-pegmatite-li").layers)
    capsys.readouterr()
    assert main(["demo", "--system", "no-such-system", "--out", str(tmp_path / "x")]) == 1
    err = capsys.readouterr().err
    assert "no-such-system" in err and err.count("\n") == 1 and not (tmp_path / "x").exists()


def test_recipe_auto_picks_the_recipes_the_area_and_sources_can_run(kolari_run) -> None:
    from geosurvey.runner import select_recipes

    _out, vector, catalog = kolari_run
    picked, skipped = select_recipes(
        "kolari-iocg", sources=[catalog / "catalog.json"], registry=REPO / "aoi",
        features={"faults": vector / "IOCG_CLB_Structures_1M.shp"},
    )
    ids = [r.id for r, _why in picked]
    assert "iocg-kolari" in ids
    assert all("iocg" in r.deposit_models for r, _why in picked)
    why = dict((r.id, w) for r, w in [*picked, *skipped])
    assert "serves deposit model iocg of area kolari-iocg" in why["iocg-kolari"]
    assert "demo-iocg" not in ids and "swir16" in why["demo-iocg"]  # no imagery in GTK's grids
    with pytest.raises(InputError, match="no recipe serving area 'kolari-iocg' can run"):
        select_recipes("kolari-iocg", sources=[catalog / "catalog.json"], registry=REPO / "aoi")


def test_igrf_is_taken_on_an_area_split_at_180_degrees() -> None:
    """The Western Aleutians area crosses the antimeridian: its field is taken near 179.5° E, where
    the area is, not at the mean of its two halves' longitudes (about 25° E, in Europe)."""
    import pystac

    from geosurvey.runner import resolve_context

    area = Registry(REPO / "aoi").get("western-aleutians")
    context, resolved = resolve_context(area, load_recipe("demo-iocg"), pystac.ItemCollection([]),
                                        survey_date="2020-01-01")
    assert resolved["longitude"] > 179 or resolved["longitude"] < -179
    assert shapely_contains(area.geometry, resolved["longitude"], resolved["latitude"])
    field = geomagnetic_field(resolved["longitude"], resolved["latitude"], "2020-01-01")
    assert context.inclination == pytest.approx(field.inclination, abs=1e-9)
    given, how = resolve_context(area, load_recipe("demo-iocg"), pystac.ItemCollection([]),
                                 inclination=60.0, declination=-5.0)
    assert (given.inclination, given.declination) == (60.0, -5.0) and how["field_source"] == "given"


def shapely_contains(geometry, lon: float, lat: float) -> bool:
    import shapely

    lon = lon - 360 if lon > 180 else lon
    return bool(geometry.buffer(1e-6).contains(shapely.Point(lon, lat)))


def test_runs_sharing_the_workers_split_the_persist_share() -> None:
    """Without a cluster the budget is PERSIST_SHARE of the machine's memory (Dask's own reading
    of it); n runs sharing the workers get an n-th each, in the thread that said so only."""
    import threading

    import dask.array as dsa
    import xarray as xr
    from distributed.system import MEMORY_LIMIT

    from geosurvey.runner import _run, persist_budget, runs_sharing_workers

    alone = int(_run.PERSIST_SHARE * MEMORY_LIMIT)
    assert persist_budget() == alone
    # lazy: nothing of this size is ever allocated
    layer = xr.DataArray(dsa.zeros((alone // 4 // 3, 3), dtype="float32", chunks=(1024, 3)))
    assert layer.nbytes <= alone and _run._fits_in_memory([layer])
    other: list[int] = []
    with runs_sharing_workers(3):
        assert persist_budget() == int(_run.PERSIST_SHARE * MEMORY_LIMIT / 3)
        assert not _run._fits_in_memory([layer])  # so it takes the block-wise path
        thread = threading.Thread(target=lambda: other.append(persist_budget()))
        thread.start()
        thread.join()
    assert other == [alone]  # a thread of its own is not one of the sharing runs
    assert persist_budget() == alone
    for bad in (0, 1.5, True):
        with pytest.raises(InputError, match="whole number >= 1"):
            with runs_sharing_workers(bad):
                pass
