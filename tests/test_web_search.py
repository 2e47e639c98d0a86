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
