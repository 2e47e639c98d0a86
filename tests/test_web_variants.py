"""Variants of a version on the site and in the API (issue 11): texts kept as one version instead
of changes, recorded through the real check path (a page in two spelling locales, and an
A → B → A flip-flop), are listed on the version page with their sightings and a word-level diff,
marked in the document's version history, and returned by the API; a version without variants
shows none."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from archive_fixtures import *  # noqa: F403
from archive_fixtures import make_settings
from fastapi.testclient import TestClient
from lxml import html as lxml_html
from render_checks import artifacts, visible_text
from test_archive import BODY, T0, check, new_document
from web_fixtures import get_json

from clausewatch.archive.decide import Outcome
from clausewatch.archive.service import Archive
from clausewatch.extract.normalise import normalise_for_hash, text_sha256
from clausewatch.provisions import queries
from clausewatch.web import create_app

DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)
BRITISH = BODY + " We organise the centre of our licence programme."
AMERICAN = BODY + " We organize the center of our license program."
REGIONAL = BRITISH + " Residents of the region may ask us to erase their data."
CHANGED = BRITISH + " We may end your account without notice."


def sha(text: str) -> str:
    return text_sha256(normalise_for_hash(text))


def test_the_variant_query_on_each_backend(archive: Archive) -> None:
    doc = new_document(archive)
    check(archive, doc, BRITISH, T0)
    for at in (T0 + DAY, T0 + 2 * DAY):
        assert check(archive, doc, AMERICAN, at).outcome == Outcome.VARIANT
    (version,) = archive.versions(doc)
    (variant,) = queries.version_variants(archive, version.id)
    assert variant["kind"] == "equivalent" and variant["times_seen"] == 2
    assert variant["last_seen"] == (T0 + 2 * DAY).isoformat()
    detail = queries.version_variant(archive, version.id, sha(AMERICAN))
    assert detail["words_inserted"] == detail["words_deleted"] == 4
    with pytest.raises(LookupError):
        queries.version_variant(archive, version.id, sha(BRITISH))  # the version's own text


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One document: V1 (British spelling) served also in American spelling (a variant by the
    comparison key) and in alternation with a regional text (recorded as V2, folded back when
    V1's text returned); then a real change, V3, which has no variants."""
    tmp = tmp_path_factory.mktemp("variants")
    archive = Archive.open(make_settings(tmp))
    try:
        doc = new_document(archive)
        steps = [
            (BRITISH, T0, Outcome.FIRST_VERSION),
            (AMERICAN, T0 + DAY, Outcome.VARIANT),
            (REGIONAL, T0 + 2 * DAY, Outcome.CHANGE_DETECTED),
            (REGIONAL, T0 + 2 * DAY + MINUTE, Outcome.NEW_VERSION),
            (BRITISH, T0 + 3 * DAY, Outcome.FLIP_FLOP),
            (REGIONAL, T0 + 4 * DAY, Outcome.VARIANT),
            (AMERICAN, T0 + 5 * DAY, Outcome.VARIANT),
            (BRITISH, T0 + 6 * DAY, Outcome.VERIFIED),
            (CHANGED, T0 + 20 * DAY, Outcome.CHANGE_DETECTED),
            (CHANGED, T0 + 20 * DAY + MINUTE, Outcome.NEW_VERSION),
        ]
        for text, at, outcome in steps:
            assert check(archive, doc, text, at).outcome == outcome, (text[-60:], at)
        versions = [v.public_id for v in archive.versions(doc)]
        document = archive.document(doc).public_id
    finally:
        archive.close()
    assert len(versions) == 3
    return {"settings": make_settings(tmp), "versions": versions, "document": document}


@pytest.fixture(scope="module")
def client(built: dict[str, Any]) -> Iterator[TestClient]:
    with TestClient(create_app(built["settings"])) as client:
        yield client


def test_the_api_lists_a_versions_variants(client: TestClient, built: dict[str, Any]) -> None:
    v1, v2, v3 = built["versions"]
    variants = get_json(client, f"/api/v1/versions/{v1}")["variants"]
    by_kind = {v["kind"]: v for v in variants}
    assert len(variants) == 2 and set(by_kind) == {"equivalent", "flip_flop"}
    spelling, flip = by_kind["equivalent"], by_kind["flip_flop"]
    assert spelling["sha256"] == sha(AMERICAN) and spelling["recorded_as"] is None
    assert spelling["times_seen"] == 2
    assert spelling["first_seen"] == (T0 + DAY).isoformat()
    assert spelling["last_seen"] == (T0 + 5 * DAY).isoformat()
    assert "layout, links and spelling" in spelling["reason"]
    # the regional text: seen when it was detected, confirmed (as V2) and again as a variant
    assert flip["sha256"] == sha(REGIONAL) and flip["recorded_as"] == v2
    assert flip["times_seen"] == 3
    assert flip["first_seen"] == (T0 + 2 * DAY).isoformat()
    assert flip["last_seen"] == (T0 + 4 * DAY).isoformat()
    assert variants[0] == spelling  # most recently seen first
    # each names where its diff is, and those answer
    diff = get_json(client, flip["redline"])
    assert diff["version"] == v1 and diff["sha256"] == sha(REGIONAL)
    inserted = " ".join(text for op, text in diff["ops"] if op == "insert")
    assert "erase their data" in inserted and diff["words_deleted"] == 0
    assert client.get(flip["page"]).status_code == 200
    # a version without variants has an empty list; the flip-flop version too
    assert get_json(client, f"/api/v1/versions/{v3}")["variants"] == []
    assert get_json(client, f"/api/v1/versions/{v2}")["variants"] == []
    # the document's version history counts them
    history = get_json(client, f"/api/v1/documents/{built['document']}")["versions"]
    assert [v["variants"] for v in history] == [2, 0, 0]


def test_unknown_variants_are_404(client: TestClient, built: dict[str, Any]) -> None:
    v1, _, v3 = built["versions"]
    for url in (
        f"/api/v1/versions/{v3}/variants/{sha(AMERICAN)}",  # a variant of another version
        f"/api/v1/versions/{v1}/variants/{'0' * 64}",
        f"/api/v1/versions/V-999999/variants/{sha(AMERICAN)}",
    ):
        assert get_json(client, url, 404)["error"]["status"] == 404
    assert client.get(f"/versions/{v1}/variants/nope").status_code == 404


def test_the_version_page_shows_its_variants(client: TestClient, built: dict[str, Any]) -> None:
    v1, v2, v3 = built["versions"]
    page = client.get(f"/versions/{v1}").text
    root = lxml_html.fromstring(page)
    (section,) = root.xpath("//section[@aria-labelledby='variants']")
    text = " ".join(section.text_content().split())
    assert (
        "This version was also served as 1 variant — the same text once layout, links and "
        "spelling are set aside" in text
    )
    assert "1 text served in alternation with this version" in text
    assert "seen 2 times, first 2026-01-02 12:00 UTC, last 2026-01-06 12:00 UTC" in text
    assert "seen 3 times" in text and f"briefly recorded as {v2}" in text
    links = section.xpath(".//a/@href")
    assert any(link.endswith(f"/versions/{v1}/variants/{sha(AMERICAN)}") for link in links)
    assert any(link.endswith(f"/versions/{v2}") for link in links)
    for other in (v2, v3):
        page = client.get(f"/versions/{other}").text
        assert 'id="variants"' not in page and "variant" not in visible_text(page).lower()


def test_the_variant_page_shows_a_word_diff(client: TestClient, built: dict[str, Any]) -> None:
    v1 = built["versions"][0]
    response = client.get(f"/versions/{v1}/variants/{sha(AMERICAN)}")
    assert response.status_code == 200
    root = lxml_html.fromstring(response.text)
    (diff,) = root.xpath("//div[contains(@class, 'redline')]")
    assert {"organise", "centre", "licence", "programme"} <= {
        w for d in diff.xpath(".//del") for w in d.text_content().split()
    }
    assert {"organize", "center", "license", "program"} <= {
        w for i in diff.xpath(".//ins") for w in i.text_content().split()
    }
    text = " ".join(visible_text(response.text).split())
    assert "a variant of " + v1 in text and "2 times, first 2026-01-02 12:00 UTC" in text
    assert sha(AMERICAN) in text and not artifacts(text)


def test_the_document_history_marks_versions_with_variants(
    client: TestClient, built: dict[str, Any]
) -> None:
    v1, v2, v3 = built["versions"]
    page = client.get(f"/documents/{built['document']}").text
    root = lxml_html.fromstring(page)
    (history,) = root.xpath("//section[@aria-labelledby='history']")
    items = {
        re.match(r"V-\d+", " ".join(li.text_content().split())).group(0): li  # type: ignore[union-attr]
        for li in history.xpath(".//li")
    }
    assert set(items) == {v1, v2, v3}
    marked = items[v1].xpath(".//a[@class='variants']")
    assert [a.text_content() for a in marked] == ["2 variants"]
    assert marked[0].get("href").endswith(f"/versions/{v1}#variants")
    assert not items[v2].xpath(".//a[@class='variants']")
    assert not items[v3].xpath(".//a[@class='variants']")
