"""The second slice of the site (issue 5): provision registry, regulation pages, platform vs
platform, document redlines, capture evidence, charts and share links; pages and API, over the
OTA sample imported and analysed once for the module. Chart builders are unit tested first."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from archive_fixtures import independent_snapshot, snapshot_removed
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select
from web_fixtures import get_json, populate

from clausewatch.analysis.queries import regulation_slug
from clausewatch.archive.service import Archive
from clausewatch.classify.taxonomy import default_taxonomy
from clausewatch.config import Settings
from clausewatch.storage.db import transaction
from clausewatch.storage.models import Version
from clausewatch.web import charts, create_app

# --- charts (pure functions) ------------------------------------------------------------------


def bars(svg: str) -> list[tuple[float, int]]:
    """(height or width, value) of each bar."""
    found = re.findall(r'<rect class="bar[^"]*"[^>]*?(?:height|width)="([\d.]+)"', svg)
    values = re.findall(r'data-value="(\d+)"', svg)
    return [(float(h), int(v)) for h, v in zip(found, values, strict=True)]


def test_bar_heights_are_proportional() -> None:
    data = [("2024-01", 2), ("2024-02", 4), ("2024-03", 0), ("2024-04", 8)]
    svg = str(charts.bar_chart(data, chart_id="c", title="Changes"))
    heights = [float(h) for h in re.findall(r'<rect class="bar"[^>]*height="([\d.]+)"', svg)]
    assert len(heights) == 4 and heights[2] == 0
    assert heights[0] * 2 == pytest.approx(heights[1]) and heights[0] * 4 == pytest.approx(
        heights[3]
    )
    # the text alternative carries the numbers
    assert 'role="img"' in svg and 'aria-labelledby="c-title c-desc"' in svg
    assert '<title id="c-title">Changes</title>' in svg
    assert "14 change records from Jan 2024 to Apr 2024" in svg
    assert (
        '<table class="visually-hidden"' in svg and '<th scope="row">Apr 2024</th><td>8</td>' in svg
    )
    assert "style=" not in svg and "<script" not in svg  # the CSP forbids inline styles


def test_severity_chart_widths_and_shares() -> None:
    svg = str(charts.severity_chart({"High": 5, "Medium": 10, "Low": 0}, chart_id="s", title="Mix"))
    widths = [float(w) for w in re.findall(r'<rect class="bar[^"]*"[^>]*width="([\d.]+)"', svg)]
    assert widths[0] * 2 == pytest.approx(widths[1]) and widths[2] == 0
    assert "High 5 (33%); Medium 10 (67%); Low 0 (0%)" in svg
    assert 'fill="#a3161a"' in svg and "style=" not in svg


def test_empty_charts_say_so() -> None:
    for chart in (
        charts.bar_chart([], chart_id="a", title="A"),
        charts.bar_chart([("2024-01", 0)], chart_id="b", title="B"),
        charts.severity_chart({}, chart_id="c", title="C"),
    ):
        assert "<svg" not in chart and "<figcaption>" in chart and 'class="note"' in chart


def test_chart_text_is_escaped() -> None:
    svg = str(charts.bar_chart([("<b>x</b>", 1)], chart_id='e"x', title="<script>"))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&lt;b&gt;x" in svg
    assert 'id="e&#34;x"' in svg


def test_monthly_series_fills_gaps_and_caps() -> None:
    assert charts.monthly_series({}) == []
    assert charts.monthly_series({"2023-11": 2, "2024-02": 5}) == [
        ("2023-11", 2),
        ("2023-12", 0),
        ("2024-01", 0),
        ("2024-02", 5),
    ]
    long = charts.monthly_series({"2020-01": 1, "2024-12": 3}, months=12)
    assert len(long) == 12 and long[0] == ("2024-01", 0) and long[-1] == ("2024-12", 3)
    assert charts.month_label("2024-03") == "Mar 2024"


# --- pages and API ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return populate(tmp_path_factory.mktemp("web-pages") / "data")


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        yield client


def page(client: TestClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    if status == 200:
        assert text.count("<h1") == 1 and "<script" not in text and "style=" not in text
        for inner in re.findall(r"<a\b[^>]*>(.*?)</a>", text, re.S):
            assert re.sub(r"<[^>]+>", "", inner).strip(), f"unlabelled link in {url}"
    return text


@pytest.fixture(scope="module")
def ids(client: TestClient) -> dict[str, Any]:
    documents = get_json(client, "/api/v1/documents")["items"]
    regs = get_json(client, "/api/v1/regulations")
    found = [r for j in regs["jurisdictions"] for r in j["regulations"] if r["provisions"]]
    assert found, "the sample has provisions with mapped regulations"
    multi = next(
        d
        for d in documents
        if len(get_json(client, f"/api/v1/documents/{d['id']}")["versions"]) > 1
    )
    return {
        "documents": documents,
        "document": multi,
        "platforms": sorted({d["platform_slug"] for d in documents}),
        "regulation": max(found, key=lambda r: r["provisions"]),
    }


def test_new_pages_render(client: TestClient, ids: dict[str, Any]) -> None:
    a, b = ids["platforms"]
    d = ids["document"]
    versions = get_json(client, f"/api/v1/documents/{d['id']}")["versions"]
    expected = {
        "/provisions": ["Provision registry"],
        "/provisions?severity=High&type=arbitration": ["Filtering:", "Clear all"],
        "/regulations": ["Regulations", "EU", "US"],
        f"/regulations/{ids['regulation']['slug']}": [
            "Articles per clause type",
            "Provisions found",
        ],
        f"/compare/platforms?a={a}&b={b}": ["Clause types found on either"],
        "/compare/platforms": ["Platform vs platform"],
        f"/documents/{d['id']}/redline?from={versions[0]['id']}&to={versions[-1]['id']}": [
            "Word-level redline"
        ],
    }
    for url, texts in expected.items():
        html = page(client, url)
        for text in texts:
            assert str(escape(text)) in html, (url, text)


def test_registry_filters_agree_with_counts_elsewhere(
    client: TestClient, ids: dict[str, Any]
) -> None:
    everything = get_json(client, "/api/v1/provisions?limit=500")
    html = page(client, "/provisions")
    assert f'data-total="{everything["total"]}"' in html
    by_severity = {
        s: get_json(client, f"/api/v1/provisions?severity={s}&limit=1")["total"]
        for s in ("High", "Medium", "Low")
    }
    mix = get_json(client, "/api/v1/stats/severity")
    rated = sum(1 for p in everything["items"] if p["severity"])
    assert mix == by_severity and sum(mix.values()) == rated
    # type: the same number as the clause-type hub
    type_id = next(p["primary_type"] for p in everything["items"] if p["primary_type"])
    hub = get_json(client, f"/api/v1/clause-types/{type_id}")
    typed = sum(len(p["provisions"]) for p in hub["platforms"])
    assert f'data-total="{typed}"' in page(client, f"/provisions?type={type_id}")
    # platform and category
    slug = ids["platforms"][0]
    mine = get_json(client, f"/api/v1/provisions?platform={slug}&limit=500")
    assert f'data-total="{mine["total"]}"' in page(client, f"/provisions?platform={slug}")
    category = get_json(client, f"/api/v1/platforms/{slug}")["category"]
    in_category = get_json(client, f"/api/v1/provisions?category={category}&limit=500")
    categories = get_json(client, "/api/v1/platforms?limit=500")["items"]
    slugs = {p["slug"] for p in categories if p["category"] == category}
    assert in_category["total"] == sum(
        get_json(client, f"/api/v1/provisions?platform={s}&limit=1")["total"] for s in slugs
    )
    assert all(p["platform_slug"] in slugs for p in in_category["items"])
    assert get_json(client, "/api/v1/provisions?category=no-such")["total"] == 0
    # filters combine (intersection) and paginate
    both = get_json(client, f"/api/v1/provisions?platform={slug}&severity=High&limit=500")
    assert both["total"] == sum(1 for p in mine["items"] if p["severity"] == "High")
    first = page(client, "/provisions?limit=5")
    assert 'rel="next"' in first and "offset=5" in first
    assert "1–5 of" in first


def test_regulation_filter_and_pages_agree(client: TestClient, ids: dict[str, Any]) -> None:
    reg = ids["regulation"]
    detail = get_json(client, f"/api/v1/regulations/{reg['slug']}")
    listed = get_json(client, f"/api/v1/provisions?regulation={reg['slug']}&limit=500")
    assert listed["total"] == detail["provisions"] == reg["provisions"] > 0
    assert len({p["platform_slug"] for p in listed["items"]}) == detail["platforms"]
    # the regulation's provisions are those of its clause types' hubs (prevalence, one path)
    from_hubs: set[str] = set()
    for row in detail["articles"]:
        hub = get_json(client, f"/api/v1/clause-types/{row['type']}")
        ids_here = {pid for p in hub["platforms"] for pid in p["provisions"]}
        assert row["provisions"] == len(ids_here)
        assert row["rarity"] == hub["rarity"]
        from_hubs |= ids_here
    assert {p["id"] for p in listed["items"]} == from_hubs
    html = page(client, f"/regulations/{reg['slug']}")
    assert f'data-provisions="{reg["provisions"]}"' in html
    assert f"/provisions?regulation={reg['slug']}" in html
    index = page(client, "/regulations")
    assert f'<td data-provisions="{reg["provisions"]}">' in index
    assert f'data-total="{listed["total"]}"' in page(
        client, f"/provisions?regulation={reg['slug']}"
    )


def test_every_taxonomy_regulation_is_listed(client: TestClient) -> None:
    regs = get_json(client, "/api/v1/regulations")
    listed = {r["slug"]: r for j in regs["jurisdictions"] for r in j["regulations"]}
    taxonomy = default_taxonomy()
    expected = {regulation_slug(r.name): r for t in taxonomy.types for r in t.regulations}
    assert set(listed) == set(expected) and regs["total"] == len(expected)
    for slug, row in listed.items():
        assert row["jurisdiction"] == expected[slug].jurisdiction
        assert row["clause_types"]
    assert [j["jurisdiction"] for j in regs["jurisdictions"]] == sorted(
        {r.jurisdiction for r in expected.values()}
    )
    assert regulation_slug("UK GDPR") == "uk-gdpr" and regulation_slug("FTC Act §5") == "ftc-act-5"


def test_compare_platforms_agrees_with_the_matrix(client: TestClient, ids: dict[str, Any]) -> None:
    a, b = ids["platforms"]
    result = get_json(client, f"/api/v1/compare/platforms?a={a}&b={b}")
    assert result["a"]["platform_slug"] == a and result["b"]["platform_slug"] == b
    matrix = get_json(client, f"/api/v1/matrix?platform={a}&platform={b}")
    cells = {row["platform_slug"]: row["cells"] for row in matrix["rows"]}
    assert result["types"]
    for row in result["types"]:
        assert row["a"]["provisions"] or row["b"]["provisions"]
        for side, slug in (("a", a), ("b", b)):
            cell = cells[slug][row["type"]]
            assert row[side]["state"] == cell["state"]
            assert row[side]["severity"] == cell["severity"]
            assert [p["id"] for p in row[side]["provisions"]] == cell["provisions"]
    summary = result["summary"]
    assert summary["both"] + summary["only_a"] + summary["only_b"] == len(result["types"])
    html = page(client, f"/compare/platforms?a={a}&b={b}")
    assert html.count('<tr data-type="') == len(result["types"])
    # errors
    assert (
        "different"
        in get_json(client, f"/api/v1/compare/platforms?a={a}&b={a}", 422)["error"]["message"]
    )
    assert get_json(client, f"/api/v1/compare/platforms?a={a}&b=nobody", 404)
    assert "b" in get_json(client, f"/api/v1/compare/platforms?a={a}", 422)["error"]["message"]
    page(client, f"/compare/platforms?a={a}&b=nobody", 404)


def test_redline_between_any_two_versions(client: TestClient, ids: dict[str, Any]) -> None:
    d = ids["document"]
    versions = get_json(client, f"/api/v1/documents/{d['id']}")["versions"]
    old, new = versions[0]["id"], versions[-1]["id"]
    diff = get_json(client, f"/api/v1/documents/{d['id']}/redline?from={old}&to={new}")
    old_text = get_json(client, f"/api/v1/versions/{old}")["text"]
    new_text = get_json(client, f"/api/v1/versions/{new}")["text"]
    assert "".join(t for op, t in diff["ops"] if op != "insert") == old_text
    assert "".join(t for op, t in diff["ops"] if op != "delete") == new_text
    assert not diff["identical"] and diff["words_inserted"] + diff["words_deleted"] > 0
    html = page(client, f"/documents/{d['id']}/redline?from={old}&to={new}")
    assert "<ins>" in html or "<del>" in html
    same = get_json(client, f"/api/v1/documents/{d['id']}/redline?from={new}&to={new}")
    assert same["identical"] and same["words_inserted"] == same["words_deleted"] == 0
    # the document page offers the two-select form (plain GET)
    doc_page = page(client, f"/documents/{d['id']}")
    assert re.search(rf'action="[^"]*/documents/{d["id"]}/redline"', doc_page)
    assert 'name="from"' in doc_page and 'name="to"' in doc_page
    # a version of another document is a clear 422; unknown 404; malformed 422
    other = next(x for x in ids["documents"] if x["id"] != d["id"])
    foreign = other["current_version"]
    err = get_json(client, f"/api/v1/documents/{d['id']}/redline?from={old}&to={foreign}", 422)
    assert f"{foreign} is a version of {other['id']}" in err["error"]["message"]
    page(client, f"/documents/{d['id']}/redline?from={old}&to={foreign}", 422)
    assert get_json(client, f"/api/v1/documents/{d['id']}/redline?from={old}&to=V-99999", 404)
    bad = get_json(client, f"/api/v1/documents/{d['id']}/redline?from=x&to={new}", 422)
    assert "from" in bad["error"]["message"]
    assert get_json(client, f"/api/v1/documents/{d['id']}/redline?from={old}", 422)
    page(client, f"/documents/D-99999/redline?from={old}&to={new}", 404)


def test_redline_escapes_archived_markup(data_dir: Path, ids: dict[str, Any]) -> None:
    d = ids["document"]
    settings = Settings(data_dir=data_dir)
    archive = Archive.open(settings)
    hostile = "Terms <script>alert(1)</script> and <img src=x onerror=alert(2)> end."
    sha = archive.store.put(hostile.encode())
    with archive.sessions() as session:
        versions = session.query(Version).filter_by(document_id=int(d["id"].split("-")[1])).all()
        target = versions[0]
    with transaction(archive.sessions) as session:
        row = session.get(Version, target.id)
        assert row is not None
        saved, row.text_sha256 = row.text_sha256, sha
    try:
        with TestClient(create_app(settings)) as fresh:
            html = page(
                fresh,
                f"/documents/{d['id']}/redline?from={target.public_id}&to={versions[-1].public_id}",
            )
        assert "<script>alert(1)" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html
    finally:
        with transaction(archive.sessions) as session:
            row = session.get(Version, target.id)
            assert row is not None
            row.text_sha256 = saved
        archive.close()


def test_document_page_shows_capture_evidence(
    client: TestClient, data_dir: Path, ids: dict[str, Any]
) -> None:
    d = ids["document"]
    detail = get_json(client, f"/api/v1/documents/{d['id']}")
    captures = get_json(client, f"/api/v1/documents/{d['id']}/captures?limit=500")
    assert captures["total"] == detail["captures"] > 0
    stamps = [c["captured_at"] for c in captures["items"]]
    assert stamps == sorted(stamps, reverse=True)
    first = captures["items"][0]
    assert first["snapshot_stored"] and first["hash_verified"] and first["problem"] is None
    html = page(client, f"/documents/{d['id']}")
    assert "Evidence of each capture" in html
    assert html.count("✓ Hash verified") == min(captures["total"], 50)
    if first["web_archive"]:
        assert first["web_archive"].startswith("https://web.archive.org/web/")
        assert str(escape(first["web_archive"])) in html
    # the check really runs: a missing snapshot shows ✗
    shown = [c["snapshot_sha256"] for c in captures["items"][:50]]
    first = next(
        c
        for c in captures["items"]
        if c["snapshot_sha256"] == independent_snapshot(data_dir, shown)
    )
    with (
        snapshot_removed(data_dir, first["snapshot_sha256"]),
        TestClient(create_app(Settings(data_dir=data_dir))) as fresh,
    ):
        again = get_json(fresh, f"/api/v1/documents/{d['id']}/captures?limit=500")
        html = page(fresh, f"/documents/{d['id']}")
    broken = [c for c in again["items"] if c["snapshot_sha256"] == first["snapshot_sha256"]]
    assert broken and not any(c["snapshot_stored"] for c in broken)
    assert "✗ Snapshot stored" in html and "missing from the store" in html


def test_charts_on_pages_carry_the_site_figures(client: TestClient, ids: dict[str, Any]) -> None:
    stats = get_json(client, "/api/v1/stats")
    activity = get_json(client, "/api/v1/stats/activity")
    assert sum(activity.values()) == stats["changes"]
    home = page(client, "/")
    assert home.count('role="img"') == 2
    mix = get_json(client, "/api/v1/stats/severity")
    total = sum(mix.values())
    assert f"{total} provisions: High {mix['High']}" in home
    last = max(activity)
    assert f'<th scope="row">{charts.month_label(last)}</th><td>{activity[last]}</td>' in home
    slug = ids["platforms"][0]
    platform = page(client, f"/platforms/{slug}")
    own = get_json(client, f"/api/v1/stats/activity?platform={slug}")
    assert (
        sum(own.values())
        == get_json(client, f"/api/v1/platforms/{slug}")["change_frequency"]["total"]
    )
    assert 'id="activity"' in platform and 'id="severity-mix"' in platform
    d = ids["document"]
    doc_mix = get_json(client, f"/api/v1/stats/severity?document={d['id']}")
    in_doc = get_json(client, f"/api/v1/provisions?document={d['id']}&limit=500")["items"]
    assert sum(doc_mix.values()) == sum(1 for p in in_doc if p["severity"])
    assert 'id="severity-mix"' in page(client, f"/documents/{d['id']}")
    type_id = get_json(client, "/api/v1/provisions?limit=1")["items"][0]["primary_type"]
    assert 'id="activity"' in page(client, f"/clause-types/{type_id}")


def test_provision_page_share_links(client: TestClient) -> None:
    p = get_json(client, "/api/v1/provisions?limit=1")["items"][0]
    html = page(client, f"/provisions/{p['id']}")
    share = re.search(r'<nav class="share" aria-label="Share">(.*?)</nav>', html, re.S)
    assert share
    links = re.findall(r'href="([^"]+)"', share.group(1))
    assert links[0].endswith(f"/provisions/{p['id']}")
    assert links[1].startswith("mailto:?subject=")
    assert links[2].startswith("https://twitter.com/intent/tweet?text=")
    assert links[3].startswith("https://www.linkedin.com/sharing/share-offsite/?url=")
    assert "%2Fprovisions%2F" + p["id"] in links[3]
    # nothing is loaded from the other sites
    assert not re.search(r"<(?:img|iframe|script|link)[^>]+(?:twitter|linkedin)", html)


def test_new_route_errors(client: TestClient) -> None:
    assert get_json(client, "/api/v1/regulations/no-such", 404)["error"]["message"] == (
        "unknown regulation: no-such"
    )
    assert get_json(client, "/api/v1/provisions?regulation=no-such", 404)
    page(client, "/regulations/no-such", 404)
    page(client, "/provisions?regulation=no-such", 404)
    page(client, "/provisions?severity=Extreme", 422)
    page(client, "/provisions?offset=-1", 422)
    assert get_json(client, "/api/v1/documents/D-99999/captures", 404)
    spec = get_json(client, "/api/v1/openapi.json")["paths"]
    for path in (
        "/api/v1/regulations",
        "/api/v1/regulations/{slug}",
        "/api/v1/compare/platforms",
        "/api/v1/documents/{document_id}/redline",
        "/api/v1/documents/{document_id}/captures",
        "/api/v1/stats/severity",
        "/api/v1/stats/activity",
    ):
        assert path in spec, path


def test_imported_history_without_a_declared_url(client: TestClient) -> None:
    """History imported with no registry entry has no web URL: the pages say so, and never show
    the import reference as if it were the original document's address."""
    p = get_json(client, "/api/v1/provisions?limit=1")["items"][0]
    record = get_json(client, f"/api/v1/provisions/{p['id']}")
    assert all(s.startswith("ota:") for s in record["document_info"]["sources"])
    captures = record["evidence"]["captures"]
    assert captures and all(c["source_url"] is None and c["web_archive"] is None for c in captures)
    html = page(client, f"/provisions/{p['id']}")
    crumb = re.search(r'<nav aria-label="Breadcrumb" class="breadcrumb">(.*?)</nav>', html, re.S)
    assert crumb and "ota:" not in crumb.group(1) and "original URL not declared" in crumb.group(1)
    assert "Original: ota:" not in html
    assert "not declared for this document" in html and "Imported record" in html


def test_template_links_are_the_routers_urls(client: TestClient) -> None:
    """The templates' ``url_for`` keeps the route per name and parameter names (issue #13):
    each link is still the router's own URL for its values, and an unknown name still fails."""
    from starlette.routing import NoMatchFound

    from clausewatch.web.app import _route_building

    app = client.app
    assert isinstance(app, FastAPI)
    asks = [
        ("provision_page", {"provision_id": "P-000001"}),
        ("provision_page", {"provision_id": "P-000002"}),
        ("static", {"path": "style.css"}),
        ("home", {}),
        ("regulation_page", {"slug": "gdpr"}),
    ]
    for name, params in asks:
        route = _route_building(app.router.routes, name, params)
        assert route.url_path_for(name, **params) == app.url_path_for(name, **params)
    with pytest.raises(NoMatchFound):
        _route_building(app.router.routes, "no_such_page", {})
    p = get_json(client, "/api/v1/provisions?limit=2")["items"]
    for item in p:  # two pages in a row: each links to its own document and PDF
        html = page(client, f"/provisions/{item['id']}")
        assert f'href="/provisions/{item["id"]}.pdf"' in html
        assert f'href="/documents/{item["document"]}#{item["id"]}"' in html


def test_provision_document_summary_follows_the_archive_state(
    data_dir: Path, tmp_path: Path
) -> None:
    """A provision's document summary is kept once per archive state (issue #13): a write
    that changes the document shows on the next read."""
    import datetime as dt
    import shutil

    from clausewatch.analysis.queries import provision_record
    from clausewatch.storage.models import Document, Provision

    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    archive = Archive.open(Settings(data_dir=copy))
    try:
        with archive.sessions() as session:
            provision = session.scalars(select(Provision).order_by(Provision.id)).first()
            assert provision is not None
            pid, doc_id = provision.id, provision.document_id
        before = provision_record(archive, pid)["document_info"]
        assert provision_record(archive, pid)["document_info"] is before  # kept
        when = dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
        with transaction(archive.sessions) as session:
            document = session.get(Document, doc_id)
            assert document is not None
            document.last_checked_at = when
        after = provision_record(archive, pid)["document_info"]
        assert after["last_checked"].startswith("2031-01-02T03:04:05")
        assert before["last_checked"] != after["last_checked"]
    finally:
        archive.close()


def test_provision_record_follows_the_archive_state(data_dir: Path, tmp_path: Path) -> None:
    """What a provision page keeps per archive state (issue #13: "how other platforms handle
    this" labels and excerpts, the document's other risks, its current provisions) shows a
    change on the next read: a renamed platform, a new title, a new supporting text."""
    import shutil

    from sqlalchemy import update

    from clausewatch.analysis.queries import provision_record
    from clausewatch.storage.models import Classification, Platform, Provision, ProvisionAnalysis

    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    archive = Archive.open(Settings(data_dir=copy))
    try:
        with archive.sessions() as session:
            current = session.scalars(
                select(ProvisionAnalysis.provision_id)
                .where(ProvisionAnalysis.current.is_(True))
                .order_by(ProvisionAnalysis.provision_id)
            ).all()
        records = (provision_record(archive, pid) for pid in current)
        record = next(r for r in records if r["analysis"]["how_others_handle"])
        pid = int(record["id"][2:])
        other = record["analysis"]["how_others_handle"][0]
        other_id = int(other["id"][2:])
        assert provision_record(archive, pid) == record  # read again: the same (kept)
        with transaction(archive.sessions) as session:
            session.execute(
                update(Platform)
                .where(Platform.slug == other["platform_slug"])
                .values(name="Renamed Platform")
            )
            session.execute(
                update(Provision).where(Provision.id == other_id).values(title="A new title")
            )
            session.execute(
                update(Classification)
                .where(Classification.provision_id == other_id)
                .values(supporting_text="new supporting words")
            )
        shown = provision_record(archive, pid)["analysis"]["how_others_handle"][0]
        assert shown["id"] == other["id"] and shown["platform"] == "Renamed Platform"
        assert shown["title"] == "A new title" and shown["excerpt"] == "new supporting words"
    finally:
        archive.close()


def _counted_blob_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The digests `check_blob` re-hashes from now on, in order (it still checks)."""
    from clausewatch.archive import evidence

    calls: list[str] = []
    real = evidence.check_blob

    def counted(store: Any, digest: str) -> dict[str, Any]:
        calls.append(digest)
        return real(store, digest)

    monkeypatch.setattr(evidence, "check_blob", counted)
    return calls


def test_evidence_checks_rerun_once_per_interval(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A blob is re-hashed at most once per ``http_cache_seconds`` (issue #13); the record
    says when its checks ran (the oldest of them), and an interval of 0 checks every time."""
    import datetime as dt

    from clausewatch.archive.evidence import checked_blob

    archive = Archive.open(Settings(data_dir=data_dir))
    try:
        with archive.sessions() as session:
            sha = session.scalars(select(Version.text_sha256).limit(1)).one()
        calls = _counted_blob_checks(monkeypatch)
        times: list[dt.datetime] = []
        first = checked_blob(archive.store, sha, 3600, times)
        again = checked_blob(archive.store, sha, 3600, times)
        assert first == again == {"stored": True, "verified": True, "problem": None}
        assert calls == [sha] and times[0] == times[1]  # kept: checked once, at one time
        checked_blob(archive.store, sha, 0, times)
        assert calls == [sha, sha] and times[2] >= times[1]  # interval 0: every time
        again["verified"] = False  # the caller's copy, not the kept check
        assert checked_blob(archive.store, sha, 3600, [])["verified"]
    finally:
        archive.close()


def test_a_documents_captures_are_checked_once_per_interval_and_say_when(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The captures list (the document page, its API) re-hashes each snapshot at most once per
    ``http_cache_seconds``, as the provision page does, and says when the shown checks ran."""
    from clausewatch.provisions.queries import document_captures

    archive = Archive.open(Settings(data_dir=data_dir, http_cache_seconds=3600))
    try:
        with archive.sessions() as session:
            doc = session.scalars(select(Version.document_id).limit(1)).one()
        calls = _counted_blob_checks(monkeypatch)
        first = document_captures(archive, doc)
        hashed = len(calls)
        assert hashed == len({c["snapshot_sha256"] for c in first["items"]}) > 0
        assert first["checked_at"] and all(c["hash_verified"] for c in first["items"])
        again = document_captures(archive, doc)
        assert len(calls) == hashed and again == first  # kept: nothing re-hashed
    finally:
        archive.close()
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        html = page(client, f"/documents/D-{doc:05d}")
    assert "the checks shown ran at " in html and " UTC." in html


def test_a_cold_provision_record_takes_one_pooled_connection(
    data_dir: Path, tmp_path: Path
) -> None:
    """A provision record reads in one session, the per-state figures it computes included
    (issue #13): a second pooled connection per request deadlocks the pool when every worker
    thread holds one and waits for another (32 requests in flight)."""
    import shutil

    from sqlalchemy import event, update

    from clausewatch.analysis.queries import provision_record
    from clausewatch.storage.models import Document, ProvisionAnalysis

    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    archive = Archive.open(Settings(data_dir=copy))
    held, most = [0], [0]

    def checkout(*_: Any) -> None:
        held[0] += 1
        most[0] = max(most[0], held[0])

    def checkin(*_: Any) -> None:
        held[0] -= 1

    try:
        with archive.sessions() as session:
            pid = session.scalars(
                select(ProvisionAnalysis.provision_id).where(ProvisionAnalysis.current.is_(True))
            ).first()
        with transaction(archive.sessions) as session:  # a new archive state: nothing kept
            session.execute(update(Document).values(last_checked_at=Document.created_at))
        event.listen(archive.engine, "checkout", checkout)
        event.listen(archive.engine, "checkin", checkin)
        record = provision_record(archive, pid)
        assert record["analysis"] is not None and most[0] == 1
    finally:
        event.remove(archive.engine, "checkout", checkout)
        event.remove(archive.engine, "checkin", checkin)
        archive.close()


def test_the_table_label_names_the_columns_or_the_one_heading(client: TestClient) -> None:
    label = client.app.state.templates.env.get_template("macros.html").module.table_label
    # ota pga Spotify/Privacy Policy: a header row with one filled cell heads its table
    assert str(label("Third party sources that we receive your data from")) == (
        "A row of the table headed “Third party sources that we receive your data from”:"
    )
    assert str(label("Categories | Purpose | Legal basis")) == (
        "A row of the table with the columns “Categories”, “Purpose” and “Legal basis”:"
    )


def test_a_list_item_page_quotes_its_lead_in_and_a_table_row_its_columns(
    client: TestClient, data_dir: Path, tmp_path: Path
) -> None:
    """The classifier reads a list item with its lead-in ("We may share … with:") and a table
    row with its header row; the page shows them too, the lead-in as an exact slice of the
    archived text, so a reader sees why an item is what it is. Revisions built before migration
    0016 get theirs from `clausewatch provisions fill-contexts`."""
    import shutil

    from sqlalchemy import update

    from clausewatch.provisions.service import fill_contexts
    from clausewatch.storage.models import ProvisionRevision

    copy = tmp_path / "data"
    shutil.copytree(data_dir, copy)
    archive = Archive.open(Settings(data_dir=copy))
    try:
        with archive.sessions() as session:
            rows = session.execute(
                select(
                    ProvisionRevision.provision_id,
                    ProvisionRevision.kind,
                    ProvisionRevision.context_start,
                    ProvisionRevision.context_end,
                ).where(ProvisionRevision.context_start.is_not(None))
            ).all()
        assert {r.kind for r in rows} == {"list_item", "table_row"}, "the sample has both"
        item = next(r for r in rows if r.kind == "list_item")
        row = next(r for r in rows if r.kind == "table_row")

        record = get_json(client, f"/api/v1/provisions/P-{item.provision_id:06d}")
        context = record["context"]
        assert context["kind"] == "lead-in" and context["text"].endswith(":")
        version = get_json(client, f"/api/v1/versions/{record['revisions'][-1]['version']}")
        assert version["text"][context["start"] : context["end"]] == context["quote"]
        html = page(client, f"/provisions/P-{item.provision_id:06d}")
        lead = re.search(r'<div class="archived lead-in">(.*?)</div>', html, re.S)
        assert lead and context["text"][:40] in re.sub(r"<[^>]+>", "", lead.group(1))
        assert html.index("lead-in") < html.index('class="archived quote"')

        table = get_json(client, f"/api/v1/provisions/P-{row.provision_id:06d}")["context"]
        assert table["kind"] == "table header" and " | " in table["text"]
        columns = " and ".join(f"“{escape(c)}”" for c in table["text"].split(" | "))
        assert f"A row of the table with the columns {columns}:" in page(
            client, f"/provisions/P-{row.provision_id:06d}"
        )  # the sample's tables have two columns

        with transaction(archive.sessions) as session:  # as built before migration 0016
            session.execute(update(ProvisionRevision).values(context_start=None, context_end=None))
        assert fill_contexts(archive) == len(rows)
        assert fill_contexts(archive) == 0  # idempotent
        with archive.sessions() as session:
            again = session.execute(
                select(
                    ProvisionRevision.provision_id,
                    ProvisionRevision.kind,
                    ProvisionRevision.context_start,
                    ProvisionRevision.context_end,
                ).where(ProvisionRevision.context_start.is_not(None))
            ).all()
        assert sorted(again) == sorted(rows)
    finally:
        archive.close()
