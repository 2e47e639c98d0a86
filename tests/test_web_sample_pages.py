"""Every page of the bundled sample (the real pga history in src/clausewatch/data/) as a reader
sees it: no raw Markdown/HTML in the visible text, no fragment or repeated-label title, no row
twice in one list or table of a page.

- In real Chromium (``document.body.innerText``, so what CSS shows): every document page, every
  version page, the changes list, every change record page, search pages for real queries, and a
  deterministic sample of provision pages (every 40th). The document pages list every current
  provision with its title, so every provision title is also checked as Chromium shows it.
- In-process (Starlette TestClient, ``render_checks.visible_text``: the text of <main>): every
  current provision page, in four shards that xdist can spread. Chromium takes about 0.2 s a
  page, which for the ~1,600 provision pages is several minutes; the in-process walk reads the
  same HTML.

A failure names the URL and the offending snippet. Titles are judged by the library's own
definitions (``clausewatch.provisions.titles.is_fragment`` and ``has_repeated_label``, as in
bench/provision_titles.py); rows are compared outside archived text (a document may repeat
itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from browser_fixtures import NEEDS_CHROMIUM, archive_fixture, browser_fixture, server_fixture
from render_checks import ROWS_SKIP, artifacts, duplicate_rows, title_problems, visible_text
from sqlalchemy import select
from starlette.testclient import TestClient
from web_fixtures import BUNDLED_SAMPLE

from clausewatch.config import Settings
from clausewatch.provisions import queries
from clausewatch.storage.models import Provision

pytestmark = NEEDS_CHROMIUM

archive_dir = archive_fixture(BUNDLED_SAMPLE)
base_url = server_fixture()
browser = browser_fixture()

QUERIES = [
    "arbitration",
    "delete your account",
    "cookies",
    '"third parties"',
    "terminat*",
    "advertising OR ads",
    "children",
    "retain -cookies",
    "licence OR license",
    "governing law",
]
SHARDS = 4
BROWSER_SAMPLE_EVERY = 40

# Per page in Chromium: the visible text, rows repeated within one list or table (outside
# archived text), and the provision titles shown (provision page h1, document segments, search
# results, change record items) as [provision id, title].
PAGE_CHECK = """(skip) => {
  const one = (s) => s.replace(/\\s+/g, " ").trim();
  const rows = [];
  for (const list of document.querySelectorAll("main ul, main ol, main tbody")) {
    if (list.closest(skip)) continue;
    const seen = new Set();
    for (const row of list.children) {
      if (row.tagName !== "LI" && row.tagName !== "TR") continue;
      const text = one(row.innerText);
      if (text && seen.has(text)) rows.push(text);
      seen.add(text);
    }
  }
  const titles = [];
  const id = (a) => a.getAttribute("href").split("/").pop().split("#")[0];
  for (const head of document.querySelectorAll("main .segment-head")) {
    const a = head.querySelector("a"), meta = head.querySelector(".meta");
    if (a && meta) titles.push([id(a), one(meta.innerText)]);
  }
  for (const a of document.querySelectorAll("main ol.search-results li > p:first-child > a")) {
    titles.push([id(a), one(a.innerText)]);
  }
  for (const h of document.querySelectorAll("main article.change-item h4")) {
    const a = h.querySelector("a");
    titles.push([id(a), one(h.innerText).slice(one(a.innerText).length).trim()]);
  }
  if (location.pathname.startsWith("/provisions/")) {
    titles.push([location.pathname.split("/").pop(), one(document.querySelector("h1").innerText)]);
  }
  return {text: document.body.innerText, rows, titles};
}"""


@dataclass
class Site:
    """The pages of the archive, listed in-process; each current provision's source (heading
    path, text) for the fragment test."""

    documents: list[str] = field(default_factory=list)
    versions: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    provisions: dict[str, tuple[list[str], str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def client(archive_dir: Path) -> Iterator[TestClient]:
    from clausewatch.web import create_app

    with TestClient(create_app(Settings(data_dir=archive_dir))) as client:
        yield client


@pytest.fixture(scope="module")
def site(client: TestClient) -> Site:
    archive = client.app.state.archive  # type: ignore[attr-defined]
    site = Site()
    for doc in client.get("/api/v1/documents?limit=500").json()["items"]:
        site.documents.append(f"/documents/{doc['id']}")
        detail = client.get(f"/api/v1/documents/{doc['id']}").json()
        site.versions += [f"/versions/{v['id']}" for v in detail["versions"]]
        number = int(doc["id"].split("-")[1])
        for seg in queries.document_segments(archive, number)["segments"]:
            if seg["provision"]:
                site.provisions[seg["provision"]] = ([], seg["text"])
    with archive.sessions() as session:
        for pid, path in session.execute(select(Provision.id, Provision.heading_path)):
            key = f"P-{pid:06d}"
            if key in site.provisions:
                site.provisions[key] = (list(path or []), site.provisions[key][1])
    changes = client.get("/api/v1/changes?limit=500").json()
    assert changes["total"] == len(changes["items"]) > 0
    site.changes = [f"/changes/{c['id']}" for c in changes["items"]]
    assert len(site.documents) == 13 and len(site.versions) > 50 and len(site.provisions) > 1000
    return site


def check_page(
    url: str, text: str, rows: list[str], titles: list[tuple[str, str]], site: Site
) -> list[str]:
    """What is wrong with one page, each as "URL: what: snippet"."""
    problems = [f"{url}: raw {kind}: {snippets[0]!r}" for kind, snippets in artifacts(text).items()]
    problems += [f"{url}: row twice: {row[:200]!r}" for row in rows]
    for pid, title in titles:
        heading_path, source = site.provisions.get(pid, (None, None))
        problems += [f"{url}: {what} title {pid}: {title!r}" for what in title_problems(
            title, heading_path, source
        )]  # fmt: skip
    return problems


def walk(browser: Any, base_url: str, urls: list[str], site: Site) -> list[str]:
    page = browser.new_page(viewport={"width": 1100, "height": 1300})
    problems: list[str] = []
    for url in urls:
        response = page.goto(base_url + url)
        assert response is not None and response.status == 200, url
        seen = page.evaluate(PAGE_CHECK, ROWS_SKIP)
        problems += check_page(url, seen["text"], seen["rows"], seen["titles"], site)
    page.close()
    return problems


def report(problems: list[str]) -> str:
    return f"{len(problems)} problems:\n" + "\n".join(problems[:40])


def test_documents_and_versions_in_chromium(browser: Any, base_url: str, site: Site) -> None:
    """Every document page (and with it every current provision's title) and version page."""
    problems = walk(browser, base_url, site.documents + site.versions, site)
    assert not problems, report(problems)


def test_changes_search_and_provisions_in_chromium(browser: Any, base_url: str, site: Site) -> None:
    """The changes list, every change record, search pages and every 40th provision page."""
    searches = [f"/search?q={q}" for q in QUERIES]
    sample = [f"/provisions/{pid}" for pid in sorted(site.provisions)[::BROWSER_SAMPLE_EVERY]]
    problems = walk(browser, base_url, ["/changes", *site.changes, *searches, *sample], site)
    assert not problems, report(problems)


def test_search_queries_find_provisions(client: TestClient) -> None:
    """The queries are real: each finds current provisions of the sample."""
    for q in QUERIES:
        assert client.get("/api/v1/search", params={"q": q}).json()["total"] > 0, q


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_provision_page(client: TestClient, site: Site, shard: int) -> None:
    """Every current provision page, in-process: visible text, rows, the title (h1)."""
    from lxml import html as lxml_html

    problems: list[str] = []
    for pid in sorted(site.provisions)[shard::SHARDS]:
        url = f"/provisions/{pid}"
        response = client.get(url)
        assert response.status_code == 200, url
        h1 = lxml_html.fromstring(response.text).xpath("//main//h1")[0]
        title = " ".join(h1.text_content().split())
        problems += check_page(
            url,
            visible_text(response.text),
            duplicate_rows(response.text),
            [(pid, title)],
            site,
        )
    assert not problems, report(problems)


def test_version_page_footer_names_the_release(client: TestClient, site: Site) -> None:
    """The footer's release number is not shadowed by the version page's own ``version`` (it
    printed the whole version record, raw text included, under every version page)."""
    from lxml import html as lxml_html

    from clausewatch import __version__

    footer = lxml_html.fromstring(client.get(site.versions[0]).text).xpath("//footer")[0]
    text = " ".join(footer.text_content().split())
    assert text.startswith(f"clausewatch {__version__} ·") and "sha256" not in text


def test_the_checks_catch_what_they_look_for() -> None:
    """The walk is not vacuous: each kind of problem is found where it is."""
    page = (
        "<main><ul><li>GDPR Art. 6</li><li>GDPR  Art. 6</li></ul>"
        "<div class='archived'><ul><li>x</li><li>x</li></ul></div>"
        "<p>a [link](https://x.example) and **bold**</p></main>"
    )
    assert duplicate_rows(page) == ["GDPR Art. 6"]
    assert set(artifacts(visible_text(page))) == {"link", "bold"}
    assert title_problems("5. 5. Termination", [], "5. 5. Termination. We may end it.") == [
        "repeated label"
    ]
    assert title_problems("We share (with the", [], "We share (with the partners) data.") == [
        "fragment"
    ]
    assert title_problems("How We Interact With", ["How We Interact With"], "Text.") == []
    assert title_problems("Sharing…", None, None) == ["fragment"]
