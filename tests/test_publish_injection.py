"""No text put on a web map is ever evaluated as a template (issue 9, item 1).

branca compiles each element's rendered output as a new Jinja template unless geosurvey renders
it verbatim (``geosurvey.publish._render``). Every text path of :func:`web_map` gets a payload
tagged with the path's name; each must come out literally, and the payload that would create a
folder must create nothing.
"""

from __future__ import annotations

import html
import json
import os
import re

import pytest
from test_webmap import make_grid, vectors

from geosurvey.publish import save_web_map, web_map
from geosurvey.publish._render import RawHTML, render_page

PAYLOADS = {
    "expression": "{{ 7*7 }}",
    "statement": "{% if 1 %}x{% endif %}",
    "stray": "{{ unclosed",
    "code": "{{ lipsum.__globals__.os.mkdir('PWNED') }}",
}
PATHS = (
    "title",
    "attribution",
    "layer",
    "long_name",
    "units",
    "occurrence_name",
    "occurrence_attr",
    "fault",
    "area",
    "sa_name_en",
    "sa_name_ja",
    "sa_region",
    "sa_commodities",
    "sa_models",
    "sa_party",
    "evidence_title",
    "vector_layer",
    "vector_attr",
    "target_attr",
    "uncertainty_long_name",
)


def tagged(payload: str, path: str) -> str:
    return f"{payload}#{path}"


def hostile_map(payload: str, lang: str = "en"):
    t = {path: tagged(payload, path) for path in PATHS}
    v = vectors()
    v["occurrences"]["Name"] = [t["occurrence_name"], "b", "c"]
    v["occurrences"]["Commodity"] = [t["occurrence_attr"], "Fe", "Fe"]
    v["faults"]["name"] = [t["fault"], "f"]
    v["area"]["name_en"] = [t["area"]]
    v["area"]["name_ja"] = [t["area"]]
    sa = v["survey_areas"]
    sa.loc[0, "name_en"] = t["sa_name_en"]
    sa.loc[0, "name_ja"] = t["sa_name_ja"]
    sa.loc[0, "region"] = t["sa_region"]
    sa.loc[0, "commodities"] = t["sa_commodities"]
    sa.loc[0, "deposit_models"] = t["sa_models"]
    sa.loc[0, "approvals"] = json.dumps([{"party": t["sa_party"], "date": "2025-01-01", "state": "valid"}])
    score = make_grid(chunks=None).assign_attrs(long_name=t["long_name"], units=t["units"])
    plain = score.copy()
    plain.attrs = {}
    extra = v["occurrences"][["geometry"]].assign(note=[t["vector_attr"], "x", "y"])
    targets = v["area"][["geometry"]].assign(rank=[t["target_attr"]])
    return web_map(
        score, lang=lang, title=t["title"], attribution=t["attribution"],
        layers={t["layer"]: plain, "titled": plain}, titles={"titled": t["evidence_title"]},
        vectors={t["vector_layer"]: extra}, targets=targets,
        uncertainty=plain.assign_attrs(long_name=t["uncertainty_long_name"]), **v,
    )


def unquote(page: str) -> str:
    """The page's text with JSON ``\\uXXXX`` escapes and HTML character references decoded."""
    page = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)
    return html.unescape(page)


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_every_text_path_renders_literally(kind, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where os.mkdir('PWNED') would land
    payload = PAYLOADS[kind]
    page = unquote(hostile_map(payload).get_root().render())
    missing = [p for p in PATHS if tagged(payload, p) not in page]
    assert missing == []
    assert "49#" not in page and "x#" not in page.replace("{% endif %}#", "")
    assert not (tmp_path / "PWNED").exists()
    assert os.listdir(tmp_path) == []


def test_japanese_map_and_saved_page_are_literal_too(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    path = save_web_map(hostile_map(PAYLOADS["code"], lang="ja"), out / "index.html")
    text = unquote(path.read_text("utf-8"))
    assert tagged(PAYLOADS["code"], "title") in text
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_the_issue_reproduction():
    page = web_map(make_grid(chunks=None), title="{{ 7*7 }}").get_root().render()
    assert "<title>{{ 7*7 }}</title>" in page


def test_every_element_of_a_rendered_page_is_verbatim():
    """After rendering, each piece of the page's header, body and script is raw text, so no
    compiled template of user text exists anywhere in the tree."""
    m = hostile_map(PAYLOADS["expression"])
    root = m.get_root()
    render_page(root)
    pieces = [
        child
        for section in (root.header, root.html, root.script)
        for child in section._children.values()
    ]
    assert len(pieces) > 10
    assert [type(c).__name__ for c in pieces if not isinstance(c, RawHTML)] == []


@pytest.mark.browser
def test_browser_shows_the_payloads_as_text(chromium_page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = PAYLOADS["code"]
    path = save_web_map(hostile_map(payload), tmp_path / "index.html")
    page, console_errors, failed = chromium_page(path)
    assert console_errors == [] and failed == []
    body = page.inner_text("body")
    for p in ("title", "attribution", "layer", "long_name", "units"):
        assert tagged(payload, p) in body, p
    assert page.title() == tagged(payload, "title")
    assert os.listdir(tmp_path) == ["index.html"]
