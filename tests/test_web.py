"""The web site and the JSON API, in-process (Starlette's TestClient) over a real archive: the OTA
sample imported and analysed once for the module (SQLite)."""

from __future__ import annotations

import html
import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from archive_fixtures import pg_server_url, snapshot_removed  # noqa: F401  (a fixture)
from fastapi.testclient import TestClient
from markupsafe import escape
from render_checks import visible_text
from web_fixtures import get_json, populate

from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.render import to_html, to_plain_line
from clausewatch.storage.db import transaction
from clausewatch.storage.models import Capture, Provision, ProvisionRevision, Version
from clausewatch.web import create_app
from clausewatch.web.app import SECURITY_HEADERS, web_threads
from clausewatch.web.pages import PROVISION_SECTIONS


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return populate(tmp_path_factory.mktemp("web") / "data")


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        yield client


def headings(page: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", h)).strip()
        for h in re.findall(r"<h2[^>]*>(.*?)</h2>", page, re.S)
    ]


def assert_accessible(page: str) -> None:
    assert '<html lang="en">' in page
    assert page.count("<h1") == 1
    assert "<main" in page and "<header" in page and "<footer" in page and "<nav" in page
    # every link has a label (text inside the anchor)
    for inner in re.findall(r"<a\b[^>]*>(.*?)</a>", page, re.S):
        assert re.sub(r"<[^>]+>", "", inner).strip(), f"unlabelled link: {inner!r}"
    assert "https://cdn" not in page and "<script" not in page


@pytest.fixture(scope="module")
def ids(client: TestClient) -> dict[str, Any]:
    provisions = get_json(client, "/api/v1/provisions?limit=500")["items"]
    changes = get_json(client, "/api/v1/changes?limit=500")["items"]
    documents = get_json(client, "/api/v1/documents")["items"]
    assert provisions and changes and len(documents) == 2
    typed = next(p for p in provisions if p["primary_type"] and p["primary_type"] != "boilerplate")
    return {
        "provision": typed,
        "change": changes[0],
        "document": documents[0],
        "type": typed["primary_type"],
        "platforms": sorted({d["platform_slug"] for d in documents}),
    }


def test_every_page_renders(client: TestClient, ids: dict[str, Any]) -> None:
    p, d, c, t = ids["provision"], ids["document"], ids["change"], ids["type"]
    pages = {
        "/": ["The archive now", "Latest change records"],
        "/platforms": [d["platform"]],
        f"/platforms/{d['platform_slug']}": [
            "Documents",
            "Current provisions",
            "Recent change records",
        ],
        f"/documents/{d['id']}": ["Current text", "Version history", "Change records"],
        f"/versions/{d['current_version']}": ["Archived text"],
        f"/provisions/{p['id']}": list(PROVISION_SECTIONS),
        "/changes": ["Change records"],
        f"/changes/{c['id']}": ["Summary", "Direction and assessment", "Provisions affected"],
        "/clause-types": ["Clause types"],
        f"/clause-types/{t}": ["Platforms with this clause type", "Severity mix", "Regulations"],
        f"/compare/{t}?platform={ids['platforms'][0]}&platform={ids['platforms'][1]}": [],
        "/matrix": ["Platform × clause type matrix"],
        "/methodology": ["Capture and evidence", "Change detection", "Classification"],
    }
    for url, expected in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("text/html")
        page = response.text
        assert_accessible(page)
        for text in expected:
            assert str(escape(text)) in page, (url, text)


def test_home_figures_are_live(client: TestClient) -> None:
    stats = get_json(client, "/api/v1/stats")
    page = client.get("/").text
    for key in ("platforms", "documents", "versions", "provisions", "changes_last_30_days"):
        assert f'data-figure="{key}">{stats[key]}<' in page
    assert stats["platforms"] == 2 and stats["versions"] > 2


def test_provision_page_sections_in_seed_order(client: TestClient, ids: dict[str, Any]) -> None:
    pid = ids["provision"]["id"]
    page = client.get(f"/provisions/{pid}").text
    found = headings(page)
    assert [h for h in found if h in PROVISION_SECTIONS] == list(PROVISION_SECTIONS)
    record = get_json(client, f"/api/v1/provisions/{pid}")
    # the exact quote (verified against the archived text), rendered: formatted, never raw markup
    assert str(to_html(record["text"])) in page and "**" not in visible_text(page)
    assert "does not constitute a legal determination" in page
    assert "✓ Snapshot stored" in page and "✓ Hash verified" in page and "✗" not in page
    assert record["analysis"]["narrative"]["why_it_matters"]
    assert str(escape(to_plain_line(record["analysis"]["narrative"]["why_it_matters"]))) in page
    for field in (
        "Record ID",
        "Document ID",
        "First tracked",
        "Last verified",
        "Document last updated",
    ):
        assert f"<dt>{field}</dt>" in page
    assert "citation?format=bibtex" in page and "citation?format=csl-json" in page


def test_provision_rarity_equals_the_hub(client: TestClient, ids: dict[str, Any]) -> None:
    pid, type_id = ids["provision"]["id"], ids["type"]
    record = get_json(client, f"/api/v1/provisions/{pid}")
    hub = get_json(client, f"/api/v1/clause-types/{type_id}")
    rarity = record["analysis"]["rarity"]
    for key in ("platforms", "monitored_platforms", "percent"):
        assert rarity[key] == hub["rarity"][key]
    page, hub_page = (
        client.get(f"/provisions/{pid}").text,
        client.get(f"/clause-types/{type_id}").text,
    )
    found, monitored = hub["rarity"]["platforms"], hub["rarity"]["monitored_platforms"]
    badge = f'data-found="{found}" data-monitored="{monitored}"'
    assert badge in page and badge in hub_page
    others = sum(
        len(p["provisions"]) for p in hub["platforms"] if p["platform"] != record["platform"]
    )
    assert rarity["provisions_on_other_platforms"] == others
    assert f'data-other-provisions="{others}"' in page


def latest_revision(session: Any, provision_id: int) -> tuple[ProvisionRevision, Version]:
    """A provision's latest revision and the version its text comes from."""
    revision = (
        session.query(ProvisionRevision)
        .filter_by(provision_id=provision_id)
        .order_by(ProvisionRevision.version_id.desc())
        .first()
    )
    assert revision is not None
    version = session.get(Version, revision.version_id)
    assert version is not None
    return revision, version


def test_evidence_check_really_runs(data_dir: Path, ids: dict[str, Any]) -> None:
    """A missing snapshot shows ✗ with what failed, never a tick. (A snapshot that is the
    base of its version's text cannot go missing alone: the text would go with it; the text
    is stored whole while the snapshot is missing.)"""
    settings = Settings(data_dir=data_dir)
    archive = Archive.open(settings)
    with archive.sessions() as session:
        latest = {
            r.provision_id: r.version_id
            for r in session.query(ProvisionRevision).order_by(ProvisionRevision.version_id)
        }
        by_version: dict[int, list[str]] = {}
        for capture in session.query(Capture).filter(Capture.version_id.isnot(None)):
            assert capture.version_id is not None and capture.snapshot_sha256
            by_version.setdefault(capture.version_id, []).append(capture.snapshot_sha256)
    archive.close()
    pid, sha = next(
        (pid, sha)
        for pid, version_id in sorted(latest.items())
        for sha in by_version.get(version_id, [])
    )
    with snapshot_removed(data_dir, sha, detach=True), TestClient(create_app(settings)) as fresh:
        page = fresh.get(f"/provisions/P-{pid:06d}").text
    assert page.count("✗ Snapshot stored") == 1 and f"{sha} is missing from the store" in page
    assert page.count("✓ Snapshot stored") == len(by_version[latest[pid]]) - 1


def test_api_lists_paginate_and_filter(client: TestClient, ids: dict[str, Any]) -> None:
    everything = get_json(client, "/api/v1/provisions?limit=500")
    first = get_json(client, "/api/v1/provisions?limit=5")
    second = get_json(client, "/api/v1/provisions?limit=5&offset=5")
    assert first["total"] == second["total"] == everything["total"] > 10
    assert [p["id"] for p in first["items"] + second["items"]] == [
        p["id"] for p in everything["items"][:10]
    ]
    high = get_json(client, "/api/v1/provisions?severity=High&limit=500")
    assert high["items"] and all(p["severity"] == "High" for p in high["items"])
    slug = ids["platforms"][0]
    mine = get_json(client, f"/api/v1/provisions?platform={slug}&limit=500")
    assert mine["total"] and all(p["platform_slug"] == slug for p in mine["items"])
    typed = get_json(client, f"/api/v1/provisions?type={ids['type']}&limit=500")
    hub = get_json(client, f"/api/v1/clause-types/{ids['type']}")
    assert typed["total"] == sum(len(p["provisions"]) for p in hub["platforms"])
    doc = ids["document"]["id"]
    in_doc = get_json(client, f"/api/v1/provisions?document={doc}&limit=500")
    assert in_doc["total"] and all(p["document"] == doc for p in in_doc["items"])
    platforms = get_json(client, "/api/v1/platforms?limit=1")
    assert platforms["total"] == 2 and len(platforms["items"]) == 1
    assert get_json(client, "/api/v1/platforms?category=no-such")["total"] == 0
    changes = get_json(client, "/api/v1/changes?limit=3")
    assert len(changes["items"]) == 3 and changes["total"] >= 3
    assert get_json(client, f"/api/v1/changes?platform={slug}")["total"] <= changes["total"]


def test_api_details(client: TestClient, ids: dict[str, Any]) -> None:
    d = ids["document"]
    doc = get_json(client, f"/api/v1/documents/{d['id']}")
    assert doc["versions"] and doc["current_version"] == d["current_version"]
    version = get_json(client, f"/api/v1/versions/{d['current_version']}")
    assert version["text"] and version["current"]
    text = get_json(client, f"/api/v1/documents/{d['id']}/text")
    segments = [s for s in text["segments"] if s["provision"]]
    assert segments and all(version["text"][s["start"] : s["end"]] == s["text"] for s in segments)
    platform = get_json(client, f"/api/v1/platforms/{d['platform_slug']}")
    assert platform["documents_list"][0]["id"] == d["id"]
    change = get_json(client, f"/api/v1/changes/{ids['change']['id']}")
    assert change["items"] and "assessment" in change
    assert any(i["redline_ops"] for i in change["items"]) or all(
        i["kind"] in ("added", "removed") for i in change["items"]
    )
    assert get_json(client, "/api/v1/clause-types")
    a, b = ids["platforms"]
    compared = get_json(client, f"/api/v1/compare/{ids['type']}?platform={a}&platform={b}")
    assert [c["platform_slug"] for c in compared["platforms"]] == [a, b]
    assert len(get_json(client, "/api/v1/matrix")["rows"]) == 2
    spec = get_json(client, "/api/v1/openapi.json")
    assert "/api/v1/provisions/{provision_id}" in spec["paths"]
    assert not any(not path.startswith("/api/v1") for path in spec["paths"])


def test_api_errors_are_json(client: TestClient, ids: dict[str, Any]) -> None:
    assert get_json(client, "/api/v1/provisions/P-999999", 404) == {
        "error": {"status": 404, "message": "no provision P-999999"}
    }
    assert get_json(client, "/api/v1/provisions/not-an-id", 404)["error"]["status"] == 404
    assert get_json(client, "/api/v1/documents/P-000001", 404)["error"]["status"] == 404
    assert get_json(client, "/api/v1/nothing-here", 404)["error"]["status"] == 404
    bad = get_json(client, "/api/v1/provisions?limit=abc", 422)["error"]
    assert bad["status"] == 422 and "limit" in bad["message"]
    assert bad["details"][0]["parameter"] == "limit"
    assert (
        "severity"
        in get_json(client, "/api/v1/provisions?severity=Extreme", 422)["error"]["message"]
    )
    assert "offset" in get_json(client, "/api/v1/changes?offset=-1", 422)["error"]["message"]
    assert get_json(client, "/api/v1/provisions?type=no-such-type", 404)["error"]["message"]
    one = get_json(client, f"/api/v1/compare/{ids['type']}?platform={ids['platforms'][0]}", 422)
    assert "2 to 4 platforms" in one["error"]["message"]
    assert "platform" in get_json(client, f"/api/v1/compare/{ids['type']}", 422)["error"]["message"]
    assert get_json(client, "/api/v1/docs", 404)  # the CDN-based docs page is off


def test_html_errors_are_friendly(client: TestClient) -> None:
    for url in (
        "/provisions/P-999999",
        "/provisions/garbage",
        "/documents/D-x",
        "/changes/C-",
        "/clause-types/no-such-type",
        "/platforms/nobody",
        "/no/such/page",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.headers["content-type"].startswith("text/html")
        assert "<h1>Not found</h1>" in response.text
    bad = client.get("/platforms/linkedin?severity=Extreme")
    assert bad.status_code == 422 and "severity" in bad.text


def test_citation_formats(client: TestClient, ids: dict[str, Any]) -> None:
    pid = ids["provision"]["id"]
    text = client.get(f"/api/v1/provisions/{pid}/citation").text
    assert f"Record ID: {pid}" in text and "SHA-256:" in text and "Accessed: " in text
    bib = client.get(f"/api/v1/provisions/{pid}/citation?format=bibtex")
    assert bib.status_code == 200
    entries = re.findall(r"@(\w+)\{([^,]+),", bib.text)
    assert entries == [("misc", f"clausewatch-{pid}")]
    body = bib.text[bib.text.index("{") :].strip()
    depth = 0
    for i, char in enumerate(body):  # braces balance and the entry closes at the end
        if char == "{" and body[i - 1 : i] != "\\":
            depth += 1
        elif char == "}" and body[i - 1 : i] != "\\":
            depth -= 1
        assert depth >= 0
    assert depth == 0
    fields = dict(re.findall(r"^\s+(\w+) = \{(.*)\},?$", bib.text, re.M))
    assert {"title", "author", "year", "url", "urldate", "note"} <= set(fields)
    assert pid in fields["note"]
    csl = client.get(f"/api/v1/provisions/{pid}/citation?format=csl-json")
    item = json.loads(csl.text)[0]
    assert item["id"] == pid and item["title"] and item["URL"].endswith(f"/provisions/{pid}")
    assert item["accessed"]["date-parts"][0][0] >= 2025
    bad = get_json(client, f"/api/v1/provisions/{pid}/citation?format=word", 422)
    assert "format" in bad["error"]["message"]


def test_security_headers_everywhere(client: TestClient, ids: dict[str, Any]) -> None:
    for url in (
        "/",
        f"/provisions/{ids['provision']['id']}",
        "/static/style.css",
        "/api/v1/stats",
        "/api/v1/openapi.json",
        "/api/v1/provisions/P-999999",
        "/no/such/page",
        "/api/v1/provisions?limit=abc",
    ):
        response = client.get(url)
        for key, value in SECURITY_HEADERS.items():
            assert response.headers.get(key) == value, (url, key)


def test_a_server_process_works_on_web_threads_requests_at_once(data_dir: Path) -> None:
    """Sync routes share ``web_threads`` worker threads: a burst is worked through a few at a
    time, in order, instead of by 40 threads taking turns at the GIL (issue #13)."""
    app = create_app(Settings(data_dir=data_dir, web_threads=3))
    lock, active, most = threading.Lock(), [0], [0]

    @app.get("/test-slow")
    def slow() -> dict[str, int]:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        time.sleep(0.2)
        with lock:
            active[0] -= 1
        return {"ok": 1}

    with TestClient(app) as client, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: client.get("/test-slow").status_code, range(8)))
    assert answers == [200] * 8
    assert most[0] == 3


def test_web_threads_default_follows_the_database(
    tmp_path: Path,
    pg_server_url: str,  # noqa: F811
) -> None:
    """4 threads on SQLite (CPU work under one GIL), 16 on PostgreSQL (statements wait on the
    network); a configured number wins on either."""
    sqlite = Archive.open(Settings(data_dir=tmp_path / "s"))
    postgres = Archive.open(Settings(data_dir=tmp_path / "p", database_url=pg_server_url))
    configured = Archive.open(Settings(data_dir=tmp_path / "c", web_threads=7))
    try:
        assert [web_threads(a) for a in (sqlite, postgres, configured)] == [4, 16, 7]
    finally:
        for archive in (sqlite, postgres, configured):
            archive.close()


def test_archived_markup_is_escaped(data_dir: Path, ids: dict[str, Any]) -> None:
    """A provision whose archived text carries markup renders it as text, on every page."""
    hostile = "Terms <script>alert(1)</script> and <img src=x onerror=alert(2)> end."
    settings = Settings(data_dir=data_dir)
    archive = Archive.open(settings)
    pid = int(ids["provision"]["id"].split("-")[1])
    with transaction(archive.sessions) as session:
        provision = session.get(Provision, pid)
        assert provision is not None
        revision, version = latest_revision(session, pid)
        original_title = provision.title
        provision.title = hostile
        text = archive.version_text(version)
    # a version text that contains the markup inside the provision's span
    new_text = text[: revision.start] + hostile + text[revision.end :]
    new_sha = archive.store.put(new_text.encode())
    with transaction(archive.sessions) as session:
        row = session.get(ProvisionRevision, revision.id)
        version_row = session.get(Version, revision.version_id)
        assert row is not None and version_row is not None
        old = (version_row.text_sha256, row.end)
        version_row.text_sha256 = new_sha
        row.end = revision.start + len(hostile)
    try:
        with TestClient(create_app(settings)) as fresh:
            for url in (f"/provisions/{ids['provision']['id']}", f"/versions/{version.public_id}"):
                page = fresh.get(url).text
                assert "<script>alert(1)" not in page and "<img src=x" not in page
                assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
                assert "&lt;img src=x onerror=alert(2)&gt;" in page
    finally:
        with transaction(archive.sessions) as session:
            row = session.get(ProvisionRevision, revision.id)
            version_row = session.get(Version, revision.version_id)
            provision = session.get(Provision, pid)
            assert row is not None and version_row is not None and provision is not None
            version_row.text_sha256, row.end = old
            provision.title = original_title
        archive.close()


def test_unanalysed_provision_still_renders(tmp_path: Path) -> None:
    from typer.testing import CliRunner
    from web_fixtures import SAMPLE

    from clausewatch.cli import app as cli

    data = tmp_path / "data"
    assert CliRunner().invoke(cli, ["import", str(SAMPLE), "--data-dir", str(data)]).exit_code == 0
    with TestClient(create_app(Settings(data_dir=data))) as fresh:
        doc = fresh.get("/api/v1/documents").json()["items"][0]
        text = fresh.get(f"/api/v1/documents/{doc['id']}/text").json()
        pid = next(s["provision"] for s in text["segments"] if s["provision"])
        response = fresh.get(f"/provisions/{pid}")
        assert response.status_code == 200
        page = response.text
        assert "Not analysed yet" in page and "✓ Hash verified" in page
        assert [h for h in headings(page) if h in PROVISION_SECTIONS] == list(PROVISION_SECTIONS)
        assert fresh.get(f"/api/v1/provisions/{pid}").json()["analysis"] is None
        assert fresh.get("/").status_code == 200
        assert fresh.get(f"/documents/{doc['id']}").status_code == 200


def test_classify_api_quotes_exactly(client: TestClient) -> None:
    text = (
        "Any dispute arising out of these terms shall be resolved by binding arbitration "
        "administered by the American Arbitration Association."
    )
    answer = client.post(
        "/api/v1/classify", json={"items": [{"text": text, "heading": "Disputes"}, {"text": " "}]}
    )
    assert answer.status_code == 200, answer.text
    first, empty = answer.json()["results"]
    top = first["predictions"][0]
    assert top["type_id"] == "arbitration" and 0 < top["confidence"] <= 1
    assert text[top["start"] : top["end"]] == top["supporting_text"]
    assert empty["predictions"] == []
    too_many = client.post("/api/v1/classify", json={"items": [{"text": "x"}] * 257})
    assert too_many.status_code == 422 and "items" in too_many.json()["error"]["message"]


def test_a_damaged_version_text_is_named_not_a_bad_request(
    data_dir: Path, ids: dict[str, Any]
) -> None:
    """The text a provision is sliced from cannot be read (its snapshot keyframe is gone): the
    page says the archive's copy is damaged and how to find out more (500), not 'invalid
    request'."""
    settings = Settings(data_dir=data_dir)
    archive = Archive.open(settings)
    pid = int(ids["provision"]["id"].split("-")[1])
    with archive.sessions() as session:
        _, version = latest_revision(session, pid)
        text_sha = version.text_sha256
    archive.close()
    with snapshot_removed(data_dir, text_sha), TestClient(create_app(settings)) as fresh:
        response = fresh.get(f"/provisions/{ids['provision']['id']}")
    assert response.status_code == 500
    assert "stored copy is damaged" in response.text and text_sha in response.text
    assert "clausewatch verify" in response.text
