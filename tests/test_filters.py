"""geosurvey.filters: a stated grammar, parsed and checked; code in a filter is refused, never run."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import geosurvey.evidence as ev
from geosurvey.cli import main
from geosurvey.errors import InputError
from geosurvey.filters import apply_filter, filter_mask, parse_filter


@pytest.fixture()
def frame():
    return pd.DataFrame({
        "NAME": ["Shear zone A", "fault B", None, "shear zone C", "Thrust D"],
        "AGE": [1800, 1900, 2000, 1850, np.nan],
        "FLAG": [True, False, True, False, True],
        "rock type": ["granite", "gneiss", "granite", "schist", "basalt"],
    })


# Filters of the grammar, checked against pandas' own query engine (trusted text only here) so the
# meaning is pandas' meaning: precedence of & and |, chains, `in`, NaN handling, backticks.
AGREES_WITH_PANDAS = [
    "NAME == 'fault B'",
    "NAME != 'fault B'",
    "AGE > 1850",
    "AGE >= 1850 and AGE < 2000",
    "1800 < AGE <= 1900",
    "AGE > 1850 & FLAG",
    "AGE > 1850 | NAME == 'fault B'",
    "AGE > 1850 & NAME != 'x' | FLAG",
    "not FLAG",
    "~FLAG",
    "~(AGE == 1800)",
    "NAME in ['fault B', 'Thrust D']",
    "NAME not in ['fault B']",
    "`rock type` == 'granite' or AGE == -1",
    "AGE.isin([1800, 2000])",
    "NAME.str.contains('shear', case=False, na=False)",
    "NAME.str.contains('zone', na=False) and not FLAG",
    "NAME.str.startswith('Sh', na=False)",
    "NAME.str.endswith('D', na=False)",
    "NAME.str.contains('a.e', regex=False, na=False)",
    "NAME.str.fullmatch('fault [A-Z]', na=False)",
    "AGE.notna() and AGE != 1900",
    "AGE.isna()",
    "(NAME == 'a&b') or (AGE == 1800)",
]


@pytest.mark.parametrize("expr", AGREES_WITH_PANDAS)
def test_grammar_selects_what_pandas_selects(frame, expr):
    got = filter_mask(frame, expr).to_numpy()
    expected = frame.query(expr, engine="python").index
    np.testing.assert_array_equal(np.flatnonzero(got), expected.to_numpy())


def test_missing_values_never_match_unless_asked(frame):
    # na defaults to False in the string predicates (pandas would return NaN and fail the mask)
    assert apply_filter(frame, "NAME.str.contains('shear', case=False)").index.tolist() == [0, 3]
    assert apply_filter(frame, "NAME == None").index.tolist() == [2]
    assert apply_filter(frame, "NAME in ['fault B', None]").index.tolist() == [1, 2]
    assert filter_mask(frame, "NAME.str.contains('shear', na=True)").tolist() == [False, False, True, True, False]


def test_parsed_filter_is_data(frame):
    parsed = parse_filter("AGE >= 1850 and NAME.str.contains('zone')")
    assert parsed.columns == ("AGE", "NAME")
    assert hash(parsed) == hash(parse_filter("AGE >= 1850 and NAME.str.contains('zone')"))
    assert apply_filter(frame, parsed).index.tolist() == [3]


# Code in a filter: every one is refused at parse time, before any column is looked up.
HOSTILE = [
    "NAME.str.contains.__func__.__globals__['os'].system('touch {marker}')",
    "__import__('os').system('touch {marker}')",
    "NAME.__class__.__mro__[1].__subclasses__()",
    "@pd.io.common.os.system('touch {marker}')",
    "open('{marker}', 'w')",
    "NAME.str.contains('x') or exec('open(\"{marker}\", \"w\")')",
    "[c for c in ().__class__.__bases__[0].__subclasses__()]",
    "(lambda: 1)()",
    "getattr(NAME, 'str')",
    "NAME.str.lower() == 'x'",
    "NAME.apply(print)",
    "AGE + 1 > 2",
    "NAME[0] == 'S'",
    "f'{{AGE}}' == 'x'",
    "_private == 1",
    "AGE == 1e999",
    "AGE == 1; import os",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_code_in_a_filter_is_refused_and_never_runs(frame, tmp_path, template):
    marker = tmp_path / "pwned"
    expr = template.format(marker=marker)
    with pytest.raises(InputError) as info:
        apply_filter(frame, expr, label="faults")
    message = str(info.value)
    assert "\n" not in message and message.startswith("filter ")
    assert "see geosurvey.filters" in message  # the fix: the grammar
    assert not marker.exists()


@pytest.mark.parametrize(("expr", "reason"), [
    ("", "empty"),
    ("AGE >", "not valid syntax"),
    ("NAME == 'x", "not valid syntax"),
    ("`rock type == 'x'", "unclosed backtick"),
    ("not " * 60 + "FLAG", "nested"),
    ("AGE > 1 and " * 400 + "FLAG", "characters long"),
    ("1 == 1", "must name a column"),
    ("NAME.str.contains('(')", "not a regular expression"),
    ("NAME.str.contains('x', flags=2)", "takes only case=, na=, regex="),
    ("NAME.str.startswith('x', case=False)", "takes only na="),
    ("NAME.str.contains(5)", "text pattern"),
    ("NAME in 'abc'", "list of literals"),
])
def test_malformed_filters_are_one_line_errors(frame, expr, reason):
    with pytest.raises(InputError, match=reason) as info:
        apply_filter(frame, expr)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("expr", "reason"), [
    ("NOSUCH == 1", "names column 'NOSUCH' that faults do not have; the columns are: NAME, AGE"),
    ("AGE > 'old'", "holds numbers, compared with the text 'old'"),
    ("AGE.str.contains('1')", "column 'AGE' is not text"),
    ("NAME", "column 'NAME' is not true/false"),
    ("AGE > None", "use COLUMN.isna"),
    ("NAME == 'nowhere'", "selects none of the 5 faults"),
])
def test_filters_that_do_not_fit_the_data(frame, expr, reason):
    with pytest.raises(InputError, match=reason):
        apply_filter(frame, expr, label="faults")


def test_evidence_functions_take_only_the_grammar(tmp_path):
    from odc.geo.geobox import GeoBox

    gbox = GeoBox.from_bbox((0, 0, 1000, 1000), crs="EPSG:3067", resolution=100)
    faults = gpd.GeoDataFrame(
        {"NAME": ["shear zone", "fault"]},
        geometry=[shapely.LineString([(0, 500), (1000, 500)]), shapely.LineString([(500, 0), (500, 1000)])],
        crs="EPSG:3067",
    )
    dist = ev.distance_to_features(faults, gbox, where="NAME.str.contains('shear')").compute()
    # only the horizontal fault at northing 500: distance is |northing - 500| at pixel centres
    expected = np.abs(dist.y.values - 500)[:, None] * np.ones((1, dist.sizes["x"]))
    np.testing.assert_allclose(dist.values, expected, atol=1e-3)
    marker = tmp_path / "pwned"
    for func in (
        lambda w: ev.distance_to_features(faults, gbox, where=w),
        lambda w: ev.line_density(faults, gbox, radius=200, where=w),
        lambda w: ev.categorical_raster(faults.buffer(10).to_frame("geometry").assign(NAME=faults.NAME), gbox,
                                        column="NAME", where=w),
        lambda w: ev.filter_features(faults, w),
    ):
        with pytest.raises(InputError, match="not allowed"):
            func(f"NAME.str.contains.__func__.__globals__['os'].system('touch {marker}')")
    assert not marker.exists()


def test_cli_where_refuses_code(tmp_path, capsys):
    import rasterio
    from rasterio.transform import from_origin

    like = tmp_path / "grid.tif"
    with rasterio.open(like, "w", driver="GTiff", width=10, height=10, count=1, dtype="float32",
                       crs="EPSG:3067", transform=from_origin(0, 1000, 100, 100)) as dst:
        dst.write(np.zeros((1, 10, 10), "float32"))
    faults = tmp_path / "faults.geojson"
    gpd.GeoDataFrame({"NAME": ["shear"]}, geometry=[shapely.LineString([(0, 500), (1000, 500)])],
                     crs="EPSG:3067").to_file(faults)
    marker = tmp_path / "pwned"
    out = tmp_path / "dist.tif"
    code = main(["evidence", "distance", str(faults), str(like), str(out), "--where",
                 f"NAME.str.contains.__func__.__globals__['os'].system('touch {marker}')"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and err.startswith("geosurvey: error: filter") and "\n" not in err
    assert not marker.exists() and not out.exists() and not out.with_suffix(".json").exists()


@pytest.mark.parametrize("dtype", [object, "string", "category"])
def test_missing_values_behave_alike_in_every_dtype(dtype):
    frame = pd.DataFrame({"N": pd.Series(["a", None, "b"], dtype=dtype),
                          "A": pd.array([1, None, 3], dtype="Int64"), "F": [1.0, np.nan, 3.0]})
    assert filter_mask(frame, "N != 'b'").tolist() == [True, True, False]
    assert filter_mask(frame, "A != 1").tolist() == filter_mask(frame, "F != 1").tolist() == [False, True, True]
    assert filter_mask(frame, "A < 2").tolist() == [True, False, False]
    assert filter_mask(frame, "N not in ['b']").tolist() == [True, True, False]
    assert filter_mask(frame, "N.str.contains('a')").tolist() == [True, False, False]


@pytest.mark.parametrize(("expr", "reason"), [
    ("AGE == '1800'", "column 'AGE' holds numbers, compared with the text '1800'; write the number without quotes"),
    ("AGE in [1800, '1900']", "holds numbers"),
    ("NAME == 5", "column 'NAME' holds text, compared with the number 5; put the value in quotes"),
    ("`rock type` != 1", "holds text"),
])
def test_a_literal_of_the_wrong_kind_is_refused_not_matched_silently(frame, expr, reason):
    with pytest.raises(InputError, match=reason.replace("(", r"\(").replace("[", r"\[")):
        filter_mask(frame, expr)
