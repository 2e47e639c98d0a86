"""Browsing the site (issue 12, items 3, 6 and 7): platforms with data first and the declared
ones marked, category names, platform names in filters, compare defaults, clause excerpts with
the full provision one click away, evidence links of imported history, the monitor call to
action, and chart labels that do not overlap. Over the starter registry synced and the OTA
sample imported and analysed once for the module (2 of its platforms have data)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from lxml import html as lxml_html
from typer.testing import CliRunner
from web_fixtures import SAMPLE, get_json

from clausewatch.accounts import service
from clausewatch.archive.evidence import source_links, wayback_url
from clausewatch.cli import app as cli
from clausewatch.config import Settings
from clausewatch.web import charts, create_app
from clausewatch.web.filters import category_name
from clausewatch.web.pages import EXCERPT_MIN_WORDS, key_sentences

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("browsing") / "data"
    runner = CliRunner()
    for command in (["sync"], ["import", str(SAMPLE)], ["analyse"]):
        result = runner.invoke(cli, [*command, "--data-dir", str(data)])
        assert result.exit_code == 0, result.output
    return data


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        yield client


def tree(client: TestClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text[:300])
    return lxml_html.fromstring(response.text)


def text_of(node: Any) -> str:
    return " ".join(node.text_content().split())


# --- pure helpers ------------------------------------------------------------------------------


def test_category_names() -> None:
    assert category_name("health-tech") == "Health tech"
    assert category_name("ai-services") == "AI services"
    assert category_name("e-commerce") == "E-commerce"
    assert category_name("social-media") == "Social media"
    assert category_name("") == ""


def test_source_links_of_live_and_imported_captures() -> None:
    import datetime as dt

    at = dt.datetime(2024, 3, 5, 6, 7, 8, tzinfo=dt.UTC)
    live = "https://example.org/terms"
    assert source_links(live, ["https://other.example/"], at) == (live, wayback_url(live, at))
    imported = "ota:pga/Example/Terms of Service@abc123"
    source, web = source_links(imported, [None, "ota:x", live], at)
    assert source == live and web == "https://web.archive.org/web/20240305060708/" + live
    assert source_links(imported, ["ota:pga/Example/Terms of Service"], at) == (None, None)


def test_month_labels_never_overlap() -> None:
    for months in (1, 2, 5, 12, 13, 23, 24):
        data = [(f"{2020 + i // 12}-{i % 12 + 1:02d}", i % 3 + 1) for i in range(months)]
        svg = str(charts.bar_chart(data, chart_id="c", title="t"))
        ticks = re.findall(r'<text class="tick" x="([\d.]+)" y="174"[^>]*>([^<]+)</text>', svg)
        assert ticks[-1][1] == charts.month_label(data[-1][0])  # the last month is labelled
        xs = [float(x) for x, _ in ticks]
        width = max(len(t) for _, t in ticks) * charts.TICK_FONT * charts.CHAR_WIDTH
        assert all(b - a >= width for a, b in itertools.pairwise(xs)), (months, xs)
        assert xs[0] - width / 2 >= 0 and xs[-1] + width / 2 <= 640  # none is cut off


def test_key_sentences_only_for_long_provisions() -> None:
    sentence = "We may use your content to train our models without asking you first."
    filler = " ".join(["Other words follow here and say little of note."] * 10)
    text = f"{filler} {sentence} {filler}"
    start = text.index(sentence)
    analysis = {
        "classifications": [
            {
                "type": "ai-training",
                "name": "AI training",
                "supporting_text": sentence,
                "start": start,
                "end": start + len(sentence),
            }
        ]
    }
    found = key_sentences(text, analysis)
    assert found and found["text"] == sentence and found["cut_before"] and found["cut_after"]
    assert found["total_words"] == len(text.split()) > EXCERPT_MIN_WORDS
    short = sentence + " " + " ".join(["word"] * 20)
    assert key_sentences(short, {**analysis}) is None  # short: shown whole
    assert key_sentences(text, None) is None  # not analysed
    table = "| **Purpose** | " + text + " |"
    assert key_sentences(table, analysis) is None  # a table row only reads as a table
    whole = {"classifications": [{**analysis["classifications"][0], "start": 0, "end": len(text)}]}
    whole["classifications"][0]["supporting_text"] = text
    assert key_sentences(text, whole) is None  # the key words are the whole provision


# --- platforms list, filters, compare ----------------------------------------------------------


def test_platforms_with_data_first_and_declared_ones_marked(client: TestClient) -> None:
    listed = get_json(client, "/api/v1/platforms?limit=500")
    items = listed["items"]
    captured = [p for p in items if p["captured"]]
    assert len(captured) == listed["with_data"] == 2 and listed["total"] > 2
    assert items[: len(captured)] == captured  # data first, then the declared ones
    assert [p["name"] for p in captured] == sorted(p["name"] for p in captured)
    for p in captured:
        detail = get_json(client, f"/api/v1/platforms/{p['slug']}")
        assert p["provisions"] == sum(d["current_provisions"] for d in detail["documents_list"])
        assert p["provisions"] > 0 and p["versions"] > 0
    assert all(p["versions"] == p["provisions"] == 0 for p in items if not p["captured"])

    root = tree(client, "/platforms")
    rows = root.xpath("//table[@class='platforms']/tbody/tr[td]")
    names = [text_of(r.xpath("td[1]/a")[0]) for r in rows]
    assert names[:2] == [p["name"] for p in captured]
    for row, p in zip(rows, items, strict=False):
        cells = [text_of(c) for c in row.xpath("td")]
        if p["captured"]:
            assert row.get("data-captured") == "yes" and "not yet captured" not in cells[0]
            assert cells[2:5] == [str(p["documents"]), str(p["versions"]), str(p["provisions"])]
        else:
            assert row.get("data-captured") == "no"
            assert cells[0].endswith("declared, not yet captured")
    section = root.xpath("//tr[@class='section']")
    assert len(section) == 1 and "Declared, not yet captured" in text_of(section[0])
    summary = text_of(root.xpath("//p[@class='platform-counts']")[0])
    assert f"{listed['total']} platforms: 2 with archived documents" in summary
    # category names, never slugs
    assert "Health tech" in text_of(root) and ">health-tech<" not in lxml_html.tostring(
        root, encoding="unicode"
    )
    options = root.xpath("//select[@id='category']/option[@value='health-tech']")
    assert options and text_of(options[0]) == "Health tech"


def test_platform_page_category_name_and_declared_note(client: TestClient) -> None:
    items = get_json(client, "/api/v1/platforms?limit=500")["items"]
    captured = next(p for p in items if p["captured"])
    declared = next(p for p in items if not p["captured"])
    root = tree(client, f"/platforms/{captured['slug']}")
    crumb = text_of(root.xpath("//nav[@class='breadcrumb']")[0])
    assert category_name(captured["category"]) in crumb and captured["category"] not in crumb
    assert not root.xpath("//p[@class='status-declared']")
    root = tree(client, f"/platforms/{declared['slug']}")
    assert "Declared, not yet captured" in text_of(root.xpath("//p[@class='status-declared']")[0])


def test_filters_offer_platform_names(client: TestClient) -> None:
    items = get_json(client, "/api/v1/platforms?limit=500")["items"]
    captured = [p for p in items if p["captured"]]
    root = tree(client, "/changes")
    assert "Platform (slug)" not in text_of(root)
    options = root.xpath("//select[@id='platform']/option")
    assert [(o.get("value"), text_of(o)) for o in options] == [("", "Any platform")] + [
        (p["slug"], p["name"]) for p in captured
    ]
    slug = captured[0]["slug"]
    chosen = tree(client, f"/changes?platform={slug}").xpath(
        "//select[@id='platform']/option[@selected]"
    )
    assert [o.get("value") for o in chosen] == [slug]


def test_compare_defaults_to_platforms_with_data(client: TestClient) -> None:
    items = get_json(client, "/api/v1/platforms?limit=500")["items"]
    captured = [p["slug"] for p in items if p["captured"]]
    root = tree(client, "/compare/platforms")
    a = root.xpath("//select[@id='cmp-a']//option[@selected]/@value")
    b = root.xpath("//select[@id='cmp-b']//option[@selected]/@value")
    assert a == [captured[0]] and b == [captured[1]]
    groups = root.xpath("//select[@id='cmp-a']/optgroup/@label")
    assert groups == ["With archived documents", "Declared, not yet captured"]
    type_id = get_json(client, "/api/v1/provisions?limit=1")["items"][0]["primary_type"]
    boxes = tree(client, f"/compare/{type_id}").xpath("//input[@name='platform']/@value")
    assert set(boxes) <= set(captured)


def test_record_ids_do_not_wrap(client: TestClient) -> None:
    css = client.get("/static/style.css").text
    rule = re.search(r"([^{}]*)\{\s*white-space: nowrap;\s*\}", css[css.index("issue 12") :])
    assert rule and ".record-id" in rule.group(1) and "ul.changes > li > a" in rule.group(1)
    p = get_json(client, "/api/v1/provisions?limit=1")["items"][0]
    root = tree(client, f"/provisions/{p['id']}")
    assert root.xpath(f"//dd[@class='record-id'][normalize-space()='{p['id']}']")


# --- provision page: excerpt, evidence, call to action ------------------------------------------


def long_provision(client: TestClient) -> tuple[dict[str, Any], Any]:
    for item in get_json(client, "/api/v1/provisions?limit=500")["items"]:
        record = get_json(client, f"/api/v1/provisions/{item['id']}")
        if len(record["text"].split()) <= EXCERPT_MIN_WORDS or record["text"].startswith("|"):
            continue
        if key_sentences(record["text"], record["analysis"]):
            return record, tree(client, f"/provisions/{item['id']}")
    raise AssertionError("the sample has a long provision with key sentences")


def test_long_provision_opens_on_its_key_sentences(client: TestClient) -> None:
    record, root = long_provision(client)
    section = root.xpath("//section[@aria-labelledby='original']")[0]
    main = record["analysis"]["classifications"][0]
    excerpt = section.xpath(".//div[contains(@class, 'excerpt')]")
    assert len(excerpt) == 1
    # the supporting words of the main clause type, rendered (no raw Markdown), before the rest
    unmarked = re.sub(r"\[([^\]]*)\]\([^)]*\)|[*_`#>|]", r"\1", main["supporting_text"])
    assert text_of(excerpt[0]) == " ".join(unmarked.split())
    label = text_of(section.xpath(".//p[contains(@class, 'excerpt-label')]")[0])
    words = len(record["text"].split())
    assert main["name"] in label and f"of the provision's {words} words" in label
    # the full provision is one click away: a <details> with the verified quote inside
    details = section.xpath(".//details[@class='full-provision']")
    assert len(details) == 1 and details[0].get("open") is None
    assert "Show the full provision" in text_of(details[0].xpath("summary")[0])
    assert details[0].xpath(".//blockquote[contains(@class, 'quote')]")
    assert not root.xpath("//script")


def test_short_provision_is_quoted_whole(client: TestClient) -> None:
    for item in get_json(client, "/api/v1/provisions?limit=100")["items"]:
        record = get_json(client, f"/api/v1/provisions/{item['id']}")
        if len(record["text"].split()) < 40:
            break
    root = tree(client, f"/provisions/{record['id']}")
    section = root.xpath("//section[@aria-labelledby='original']")[0]
    assert not section.xpath(".//details|.//*[contains(@class, 'excerpt')]")
    assert section.xpath("blockquote[contains(@class, 'quote')]")


def test_imported_capture_links_source_and_web_archive(client: TestClient) -> None:
    p = next(
        p
        for p in get_json(client, "/api/v1/provisions?limit=500")["items"]
        if p["platform_slug"] == "linkedin"
    )
    record = get_json(client, f"/api/v1/provisions/{p['id']}")
    source = next(s for s in record["document_info"]["sources"] if s.startswith("https://"))
    captures = record["evidence"]["captures"]
    assert captures and all(c["url"].startswith("ota:") for c in captures)  # imported history
    for c in captures:
        assert c["source_url"] == source
        stamp = c["captured_at"][:19].replace("-", "").replace(":", "").replace("T", "")
        assert c["web_archive"] == f"https://web.archive.org/web/{stamp}/{source}"
    root = tree(client, f"/provisions/{p['id']}")
    evidence = root.xpath("//section[@aria-labelledby='evidence']")[0]
    assert evidence.xpath(f".//a[@class='source-url'][@href='{source}']")
    archived = evidence.xpath(".//a[@class='web-archive']/@href")
    assert archived == [c["web_archive"] for c in captures]
    assert "not applicable" not in text_of(evidence)
    # the breadcrumb links to the original document
    crumb = root.xpath("//nav[@class='breadcrumb']")[0]
    assert crumb.xpath(f".//a[@href='{source}']") and "ota:" not in text_of(crumb)
    # and the document's capture table too
    doc = get_json(client, f"/api/v1/documents/{record['document']}/captures")
    assert all(c["source_url"] == source and c["web_archive"] for c in doc["items"])
    table = tree(client, f"/documents/{record['document']}").xpath("//table[@class='captures']")[0]
    assert table.xpath(f".//td[@class='url']/a[@href='{source}']")
    assert len(table.xpath(".//a[starts-with(@href, 'https://web.archive.org/web/')]")) == len(
        doc["items"]
    )


def cta(root: Any) -> list[Any]:
    return root.xpath("//aside[@class='monitor-cta']")


def test_call_to_action_for_anonymous_readers(client: TestClient) -> None:
    p = get_json(client, "/api/v1/provisions?limit=1")["items"][0]
    root = tree(client, f"/provisions/{p['id']}")
    asides = cta(root)
    assert len(asides) == 2  # as on the seed page: near the top and before the quote
    for aside in asides:
        signup = aside.xpath(".//a[@href][normalize-space()='Sign up to get alerts']")
        assert signup and signup[0].get("href").endswith("/signup")
        assert not aside.xpath(".//form")


_READERS = itertools.count()  # one account per test: the archive is shared by the module


@pytest.fixture
def signed_in(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(service, "hasher", PasswordHasher(time_cost=1, memory_cost=8192))
    service._dummy_hash.cache_clear()
    archive = client.app.state.archive  # type: ignore[attr-defined]
    account = service.sign_up(archive, f"reader{next(_READERS)}@example.org", PASSWORD, "pro")
    token, _session = service.start_session(archive, account)
    client.cookies.set("cw_session", token)
    try:
        yield client
    finally:
        client.cookies.clear()
        service._dummy_hash.cache_clear()


def test_call_to_action_watches_for_signed_in_readers(signed_in: TestClient) -> None:
    client = signed_in
    p = get_json(client, "/api/v1/provisions?limit=1")["items"][0]
    page = client.get(f"/provisions/{p['id']}").text
    root = lxml_html.fromstring(page)
    asides = cta(root)
    assert len(asides) == 2
    forms = asides[0].xpath(".//form")
    assert [f.get("method") for f in forms] == ["post", "post"]
    fields = [{i.get("name"): i.get("value") for i in f.xpath(".//input")} for f in forms]
    assert [(f["kind"], f["target"]) for f in fields] == [
        ("provision", p["id"]),
        ("platform", p["platform_slug"]),
    ]
    assert all(f["csrf_token"] for f in fields)
    buttons = [text_of(b) for b in asides[0].xpath(".//button")]
    assert buttons == ["Watch this provision", f"Watch {p['platform']}"]
    assert not asides[0].xpath(".//a[normalize-space()='Sign up to get alerts']")
    # the forms work: they post to the watch routes with the session's CSRF token
    action = forms[0].get("action")
    assert action.endswith("/account/watches")
    done = client.post(action, data={k: v for k, v in fields[0].items() if v is not None})
    assert done.status_code == 201 and f"Now watching {p['id']}" in done.text
    done = client.post(forms[1].get("action"), data=fields[1])
    assert done.status_code == 201 and f"Now watching {p['platform_slug']}" in done.text
    watched = get_json(client, "/api/v1/watches")["items"]
    assert {(w["kind"], w["target"]) for w in watched} >= {
        ("provision", p["id"]),
        ("platform", p["platform_slug"]),
    }
    assert quote(p["id"]) in page


def test_platform_page_offers_to_watch_the_platform(signed_in: TestClient) -> None:
    """The platform page has the seed's call to action too: one watch form for the platform,
    none for a provision; anonymous readers get the sign-up link instead."""
    client = signed_in
    p = get_json(client, "/api/v1/provisions?limit=1")["items"][0]
    asides = cta(tree(client, f"/platforms/{p['platform_slug']}"))
    assert len(asides) == 1
    forms = asides[0].xpath(".//form")
    fields = [{i.get("name"): i.get("value") for i in f.xpath(".//input")} for f in forms]
    assert [(f["kind"], f["target"]) for f in fields] == [("platform", p["platform_slug"])]
    done = client.post(forms[0].get("action"), data=fields[0])
    assert done.status_code == 201 and f"Now watching {p['platform_slug']}" in done.text
    client.cookies.clear()
    anonymous = cta(tree(client, f"/platforms/{p['platform_slug']}"))[0]
    assert anonymous.xpath(".//a[normalize-space()='Sign up to get alerts']")
    assert not anonymous.xpath(".//form")


def test_change_lists_show_the_lead_sentence_only(client: TestClient) -> None:
    """In lists (home, platform, document) a record reads as its lead sentence, not the whole
    multi-line reader text joined into one line."""
    from clausewatch.changes.summary import summary_lead, summary_lines

    records = get_json(client, "/api/v1/changes?limit=200")["items"]
    record = next(r for r in records if len(summary_lines(r["summary"])) > 1)
    items = tree(client, f"/documents/{record['document']}").xpath("//ul[@class='changes']/li")
    shown = {li.xpath("./a")[0].text: text_of(li.xpath("./p")[0]) for li in items}
    assert shown[record["id"]] == summary_lead(record["summary"])
    assert summary_lines(record["summary"])[1] not in shown[record["id"]]
