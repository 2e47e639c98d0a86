"""The search page and `/api/v1/search`, in-process over the analysed OTA sample (SQLite): results,
filters, pagination, and hostile input answered with 200 and escaped output."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_fixtures import populate

from clausewatch.config import Settings
from clausewatch.web import create_app

HOSTILE = [
    '"',
    "(",
    ")",
    "*",
    "NEAR(",
    "NEAR(a b",
    "^x",
    "a:b",
    '"unclosed',
    "-",
    "OR",
    "<script>alert(1)</script>",
    "\x00",
    "'; DROP TABLE provisions; --",
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir: Path = populate(tmp_path_factory.mktemp("search") / "data")
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        yield client


def api(client: TestClient, **params: Any) -> Any:
    response = client.get("/api/v1/search", params=params)
    assert response.status_code == 200, response.text[:500]
    return response.json()


def test_api_finds_and_paginates(client: TestClient) -> None:
    everything = api(client, q="terms OR privacy OR data OR account", limit=500)
    assert everything["total"] >= 10
    first = everything["items"][0]
    assert set(first) >= {"id", "title", "platform", "platform_slug", "document", "severity"}
    assert first["snippet"] == "".join(part["text"] for part in first["snippet_parts"])
    page = api(client, q="terms OR privacy OR data OR account", limit=3, offset=3)
    assert page["total"] == everything["total"] and (page["limit"], page["offset"]) == (3, 3)
    assert [i["id"] for i in page["items"]] == [i["id"] for i in everything["items"][3:6]]
    slug = first["platform_slug"]
    only = api(client, q="terms OR privacy OR data OR account", platform=slug, limit=500)
    assert 0 < only["total"] <= everything["total"]
    assert {i["platform_slug"] for i in only["items"]} == {slug}
    matched = [p["text"] for i in everything["items"] for p in i["snippet_parts"] if p["match"]]
    assert matched


def test_api_filters_by_severity_and_type(client: TestClient) -> None:
    query = "terms OR privacy OR data OR account"
    high = api(client, q=query, severity="High", limit=500)
    assert all(i["severity"] == "High" for i in high["items"])
    typed = next(i for i in api(client, q=query, limit=500)["items"] if i["primary_type"])
    same = api(client, q=query, type=typed["primary_type"], limit=500)
    assert typed["id"] in {i["id"] for i in same["items"]}
    assert api(client, q=query, type="no-such-type")["total"] == 0
    bad = client.get("/api/v1/search", params={"q": "x", "severity": "Extreme"})
    assert bad.status_code == 422 and "error" in bad.json()


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_input_is_answered(client: TestClient, query: str) -> None:
    assert api(client, q=query)["total"] >= 0
    response = client.get("/search", params={"q": query})
    assert response.status_code == 200
    page = response.text
    assert "<script>alert" not in page
    if "script" in query:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_page_marks_matches_escaped(client: TestClient) -> None:
    found = api(client, q="privacy", limit=5)
    assert found["total"] > 0
    response = client.get("/search", params={"q": "privacy"})
    assert response.status_code == 200
    page = response.text
    assert page.count("<h1") == 1 and 'role="search"' in page
    assert f"{found['total']} provision" in page
    marks = re.findall(r"<mark>(.*?)</mark>", page, re.S)
    assert marks and all(html.unescape(m).lower().startswith("privac") for m in marks)
    assert found["items"][0]["id"] in page
    # the only markup inside a snippet is <mark>
    for snippet in re.findall(r'<p class="snippet">(.*?)</p>', page, re.S):
        assert not re.search(r"<(?!/?mark>)", snippet)


def test_every_page_has_the_search_box(client: TestClient) -> None:
    for url in ("/", "/platforms", "/search"):
        page = client.get(url).text
        assert re.search(r'action="[^"]*/search"', page) and 'name="q"' in page


def test_empty_query_shows_the_form(client: TestClient) -> None:
    response = client.get("/search")
    assert response.status_code == 200
    assert "Type some words" in response.text
    assert api(client)["total"] == 0


def test_filter_options_list_every_platform_in_order(client: TestClient) -> None:
    """The platform and clause-type options (escaped once per archive state, not per page:
    issue #13) are the platform list's, in its order, with the chosen one selected."""
    platforms = client.get("/api/v1/platforms", params={"limit": 500}).json()["items"]
    page = client.get("/search", params={"q": "privacy", "platform": platforms[1]["slug"]}).text
    select = page[page.index('<select id="search-platform"') : page.index("</select>")]
    options = re.findall(r'<option value="([^"]*)" ?(selected)?>([^<]*)</option>', select)
    assert [(v, html.unescape(n)) for v, _, n in options] == [("", "All platforms")] + [
        (p["slug"], p["name"]) for p in platforms
    ]
    assert [v for v, chosen, _ in options if chosen] == [platforms[1]["slug"]]
    types = page[page.index('<select id="search-type"') :]
    types = types[: types.index("</select>")]
    assert 'value="arbitration" >' in types and "selected" not in types
    chosen = client.get("/search", params={"q": "privacy", "type": "arbitration"}).text
    assert 'value="arbitration" selected>' in chosen


def test_options_markup_is_the_templates() -> None:
    """options_html writes what the template's loop wrote, escaped, whatever the names hold."""
    from jinja2 import Environment

    from clausewatch.web.search import _option, options_html

    loop = Environment(autoescape=True).from_string(
        '{% for v, n in items %}<option value="{{ v }}" '
        "{% if v == chosen %}selected{% endif %}>{{ n }}</option>{% endfor %}"
    )
    items = [("a", "Alpha"), ('x"><script>', "<b>{0} & {x}</b>"), ("é-1", "Ünïcode’s")]
    options = [_option(v, n) for v, n in items]
    for chosen in (None, "a", 'x"><script>', "é-1", "nope"):
        assert str(options_html(options, chosen)) == loop.render(items=items, chosen=chosen)


def test_api_body_is_the_search_json(client: TestClient) -> None:
    """The API answers search_json's dict as JSON directly (no encoder walk): the same body."""
    import json

    from clausewatch import search as fulltext

    archive = client.app.state.archive  # type: ignore[attr-defined]
    cases: list[tuple[str, int, int]] = [("privacy data", 7, 3), ("café OR “x”", 20, 0)]
    for q, limit, offset in cases:
        response = client.get("/api/v1/search", params={"q": q, "limit": limit, "offset": offset})
        assert response.headers["content-type"] == "application/json"
        expected = fulltext.search_json(archive, q, limit=limit, offset=offset)
        assert response.json() == json.loads(json.dumps(expected))
        assert (
            response.content
            == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode()
        )
