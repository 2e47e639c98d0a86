"""One number per fact (issue 12, item 4): over the OTA sample imported and analysed once for the
module, every list a page shows has each row once, the counts a page shows agree with each other
and with the API, and the methodology's claims hold for what the code does."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import html as lxml_html
from web_fixtures import get_json, populate

from clausewatch.classify.taxonomy import default_taxonomy
from clausewatch.config import Settings
from clausewatch.web import create_app, filters

ROOT = Path(__file__).resolve().parents[1]
PROVISION_PAGES = 40  # provision pages walked (the most severe first, then the untyped ones)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir = populate(tmp_path_factory.mktemp("web-consistency") / "data")
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        yield client


def page(client: TestClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text[:300])
    root = lxml_html.fromstring(response.text)
    return (root.xpath("//main") or [root])[0]


def text(node: Any) -> str:
    return " ".join(str(node.text_content()).split())


def duplicate_rows(main: Any) -> list[tuple[str, str, int]]:
    """Rows of a list or table body that repeat: by their visible text, and by the page each
    row links to first (a regulation cited twice with two articles is still the same row)."""
    found: list[tuple[str, str, int]] = []
    for container in main.xpath(".//ul|.//ol|.//tbody"):
        rows = container.xpath("./li|./tr")
        by_text = Counter(text(r) for r in rows)
        by_link = Counter(href[0] for r in rows if (href := r.xpath(".//a/@href")))
        found += [("text", t, n) for t, n in by_text.items() if n > 1 and t]
        found += [("link", h, n) for h, n in by_link.items() if n > 1]
    for section in main.xpath(".//section"):
        found += [
            ("heading", h, n) for h, n in Counter(text(x) for x in section.xpath("./h3")).items()
        ]
    return [f for f in found if f[2] > 1]


@pytest.fixture(scope="module")
def site(client: TestClient) -> dict[str, Any]:
    platforms = [
        p for p in get_json(client, "/api/v1/platforms?limit=200")["items"] if p["documents"]
    ]
    listed = get_json(client, "/api/v1/provisions?limit=500")["items"]
    untyped = [p for p in listed if p["primary_type"] is None]
    chosen = listed[: PROVISION_PAGES - 5] + untyped[:5]
    types = [t for t in get_json(client, "/api/v1/clause-types") if t["provisions"]]
    regs = get_json(client, "/api/v1/regulations")
    return {
        "platforms": platforms,
        "provisions": listed,
        "walked": list({p["id"]: p for p in chosen}.values()),
        "types": types,
        "regulations": [r for j in regs["jurisdictions"] for r in j["regulations"]],
        "documents": get_json(client, "/api/v1/documents?limit=200")["items"],
    }


def test_no_page_lists_a_row_twice(client: TestClient, site: dict[str, Any]) -> None:
    slugs = [p["slug"] for p in site["platforms"]]
    urls = ["/", "/platforms", "/provisions", "/clause-types", "/regulations", "/matrix"]
    urls += ["/methodology", f"/compare/platforms?a={slugs[0]}&b={slugs[1]}"]
    urls += [f"/platforms/{s}" for s in slugs]
    urls += [f"/documents/{d['id']}" for d in site["documents"]]
    urls += [f"/regulations/{r['slug']}" for r in site["regulations"]]
    for t in site["types"]:
        urls += [f"/clause-types/{t['type']}", f"/compare/{t['type']}"]
    urls += [f"/provisions/{p['id']}" for p in site["walked"]]
    problems = {url: found for url in urls if (found := duplicate_rows(page(client, url)))}
    assert not problems, problems


def test_api_lists_have_each_row_once(client: TestClient, site: dict[str, Any]) -> None:
    for p in site["walked"]:
        a = get_json(client, f"/api/v1/provisions/{p['id']}")["analysis"]
        regs = [(r["name"], r["jurisdiction"]) for r in a["regulations"]]
        assert len(regs) == len(set(regs)), (p["id"], regs)
        for r in a["regulations"]:
            assert r["article"] == "; ".join(r["articles"])
            assert len(r["articles"]) == len(set(r["articles"]))
        risks = [r["type"] for r in a["other_risks"]]
        assert len(risks) == len(set(risks)), (p["id"], risks)
        for r in a["other_risks"]:
            assert r["id"] == r["provisions"][0]["id"]
            assert len({x["id"] for x in r["provisions"]}) == len(r["provisions"])
        faq = [q for q, _ in a["narrative"]["faq"]]
        assert len(faq) == len(set(faq))
    for t in site["types"]:
        hub = get_json(client, f"/api/v1/clause-types/{t['type']}")
        regs = [(r["name"], r["jurisdiction"]) for r in hub["regulations"]]
        assert len(regs) == len(set(regs)), (t["type"], regs)
        ids = [pid for row in hub["platforms"] for pid in row["provisions"]]
        assert len(ids) == len(set(ids)) == t["provisions"]
    for r in site["regulations"]:
        detail = get_json(client, f"/api/v1/regulations/{r['slug']}")
        types = [a["type"] for a in detail["articles"]]
        assert len(types) == len(set(types)), (r["slug"], types)


def test_compare_lists_each_platform_and_provision_once(
    client: TestClient, site: dict[str, Any]
) -> None:
    a, b = (p["slug"] for p in site["platforms"][:2])
    for t in site["types"]:
        result = get_json(
            client, f"/api/v1/compare/{t['type']}?platform={a}&platform={a}&platform={b}"
        )
        assert [c["platform_slug"] for c in result["platforms"]] == [a, b]
        hub = get_json(client, f"/api/v1/clause-types/{t['type']}")
        per_platform = {row["platform_slug"]: row["provisions"] for row in hub["platforms"]}
        for column in result["platforms"]:
            ids = [pr["id"] for pr in column["provisions"]]
            assert ids == per_platform.get(column["platform_slug"], [])
            assert len(ids) == len(set(ids))
        main = page(client, f"/compare/{t['type']}?platform={a}&platform={a}&platform={b}")
        assert len(main.xpath(".//section[contains(@class, 'column')]")) == 2


def chart_note(main: Any) -> tuple[int, int] | None:
    note = main.xpath(".//figure[@id='severity-mix']//p[contains(@class, 'chart-note')]")
    if not note:
        return None
    m = re.match(r"(\d+) of (\d+) current provisions carry a clause type", text(note[0]))
    assert m, text(note[0])
    return int(m.group(1)), int(m.group(2))


def chart_total(main: Any) -> int:
    cells = main.xpath(".//figure[@id='severity-mix']//table//td")
    return sum(int(text(c)) for c in cells)


def test_platform_counts_agree_with_the_api_and_the_chart(
    client: TestClient, site: dict[str, Any]
) -> None:
    for p in site["platforms"]:
        main = page(client, f"/platforms/{p['slug']}")
        shown = re.search(
            r"(\d+) provisions?\.", text(main.xpath(".//section[@aria-labelledby='provisions']")[0])
        )
        assert shown, p["slug"]
        listed = int(shown.group(1))
        api = get_json(client, f"/api/v1/provisions?platform={p['slug']}&limit=1")["total"]
        mix = get_json(client, f"/api/v1/stats/severity?platform={p['slug']}")
        typed = sum(mix.values())
        assert listed == api
        assert chart_total(main) == typed
        # the chart covers the typed provisions and says how many of the listed ones they are
        assert chart_note(main) == (None if typed == api else (typed, api))
        untyped = get_json(client, f"/api/v1/provisions?platform={p['slug']}&limit=500")
        assert api - typed == sum(1 for x in untyped["items"] if x["severity"] is None)
        # each document's count on the platform page is the API's count of its provisions
        for d in get_json(client, f"/api/v1/platforms/{p['slug']}")["documents_list"]:
            in_doc = get_json(client, f"/api/v1/provisions?document={d['id']}&limit=1")["total"]
            assert d["current_provisions"] == in_doc, d["id"]
            doc_main = page(client, f"/documents/{d['id']}")
            doc_typed = sum(get_json(client, f"/api/v1/stats/severity?document={d['id']}").values())
            assert chart_note(doc_main) == (None if doc_typed == in_doc else (doc_typed, in_doc))


def test_home_figures_agree(client: TestClient) -> None:
    stats = get_json(client, "/api/v1/stats")
    total = get_json(client, "/api/v1/provisions?limit=1")["total"]
    typed = sum(get_json(client, "/api/v1/stats/severity").values())
    main = page(client, "/")
    figures = {str(n.get("data-figure")): int(text(n)) for n in main.xpath(".//dd[@data-figure]")}
    for key in ("platforms", "documents", "versions", "provisions"):
        assert figures[key] == stats[key]
    assert stats["current_provisions"] == total
    assert chart_total(main) == typed
    assert chart_note(main) == (None if typed == total else (typed, total))


def test_similar_provisions_and_their_count_come_from_one_population(
    client: TestClient, site: dict[str, Any]
) -> None:
    checked = 0
    for p in site["walked"]:
        a = get_json(client, f"/api/v1/provisions/{p['id']}")["analysis"]
        others, rarity = a["how_others_handle"], a["rarity"]
        main = page(client, f"/provisions/{p['id']}")
        section = text(main.xpath(".//section[@aria-labelledby='others']")[0])
        if rarity is None:
            assert others == [] and "no substantive clause type" in section
            continue
        checked += 1
        platforms = [o["platform_slug"] for o in others]
        assert len(platforms) == len(set(platforms)) and p["platform_slug"] not in platforms
        assert len(others) == min(3, rarity["other_platforms"]), (p["id"], rarity)
        assert ("No other monitored platform" in section) == (rarity["other_platforms"] == 0)
        sims = [o["similarity"] for o in others if o["similarity"] is not None]
        assert sims == sorted(sims, reverse=True)
        assert rarity["provisions_on_other_platforms"] >= rarity["other_platforms"]
    assert checked


def test_untyped_provisions_are_shown_as_the_methodology_says(
    client: TestClient, site: dict[str, Any]
) -> None:
    taxonomy = default_taxonomy()
    methodology = text(page(client, "/methodology"))
    assert f"{len(taxonomy.types)}-type taxonomy" in methodology
    assert "unknown" not in taxonomy.by_id and "no clause type" in methodology
    gold = [json.loads(line) for line in (ROOT / "gold" / "provisions.jsonl").open()]
    gold_platforms = len({g["platform"] for g in gold})
    assert f"trained on {len(gold):,} real provisions of {gold_platforms} platforms" in methodology
    # no type <=> no severity; such provisions exist, are listed and say "no clause type"
    untyped = [p for p in site["provisions"] if p["primary_type"] is None]
    assert untyped, "the sample has provisions that no type's threshold admits"
    assert all((p["severity"] is None) == (p["primary_type"] is None) for p in site["provisions"])
    p = untyped[-1]
    total = get_json(client, f"/api/v1/provisions?platform={p['platform_slug']}&limit=1")["total"]
    last = page(client, f"/platforms/{p['platform_slug']}?offset={(total - 1) // 50 * 50}")
    rows = {
        r.xpath(".//span[@class='record-id']/text()")[0]: text(r)
        for r in last.xpath(".//ul[@class='provisions']/li")
    }
    assert "no clause type" in rows[p["id"]]  # untyped provisions are listed last
    main = page(client, f"/provisions/{p['id']}")
    badges = text(main.xpath(".//p[@class='badges']")[0])
    assert "No clause type" in badges and "Not analysed" not in badges
    # rarity counts: the clause-type index and each hub count the same provisions
    for t in get_json(client, "/api/v1/clause-types"):
        hub = get_json(client, f"/api/v1/clause-types/{t['type']}")
        assert t["provisions"] == sum(len(r["provisions"]) for r in hub["platforms"])
        assert t["platforms"] == hub["rarity"]["platforms"] == len(hub["platforms"])


def test_months_monitored_reads_as_a_duration(client: TestClient, site: dict[str, Any]) -> None:
    assert filters.months(0.0) == filters.months(0.4) == "less than a month"
    assert filters.months(1.0) == "1 month" and filters.months(3.5) == "3.5 months"
    for p in site["walked"][:10]:
        main = page(client, f"/provisions/{p['id']}")
        shown = text(main.xpath(".//section[@aria-labelledby='stability']")[0])
        assert "0.0" not in shown and "Monitored for" in shown


@pytest.mark.slow
def test_readme_sample_figures_are_what_the_site_shows(tmp_path: Path) -> None:
    """The README's figures of the bundled sample: its records, and the versions, documents and
    platforms the site shows once it is imported (as `clausewatch run` does offline)."""
    from clausewatch.archive.service import Archive
    from clausewatch.importers.sample import import_sample

    readme = (ROOT / "README.md").read_text()
    m = re.search(
        r"\((\d+) records of (\d+) documents of (\d+) platforms,[^:]*:\s+(\d+) versions", readme
    )
    assert m, "the README states the bundled sample's figures"
    records, documents, platforms, versions = (int(x) for x in m.groups())
    archive = Archive.open(Settings(data_dir=tmp_path / "data"))
    try:
        report = import_sample(archive)
        counts = archive.counts()
    finally:
        archive.close()
    assert report.records == records
    assert (counts["versions"], counts["documents"], counts["platforms"]) == (
        versions,
        documents,
        platforms,
    )
