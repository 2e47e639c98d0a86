"""Provisions and change records stored in the archive, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from archive_fixtures import *  # noqa: F403
from sqlalchemy import select
from test_archive import T0, check, new_document

from clausewatch.archive.service import Archive
from clausewatch.changes.queries import change_detail, list_changes
from clausewatch.provisions.queries import (
    list_provisions,
    provision_detail,
    stability,
)
from clausewatch.provisions.service import build
from clausewatch.storage.models import ChangeRecord, Provision, ProvisionRevision, Version

V1 = """# Terms of Service

## 1. Changes to these terms

We will notify you at least 30 days before changes to these terms take effect, by email or
through the service.

## 2. Your content

You keep ownership of the content you post. You grant us a worldwide licence to host and display
it so that we can run the service.

## 3. Termination

We may suspend your account if you break these terms, after giving you notice and a chance to
respond, unless the law requires us to act at once.

## 4. Governing law

These terms are governed by the laws of Ireland.
"""

V2 = """# Terms of Service

## 1. Changes to these terms

We will notify you at least 7 days before changes to these terms take effect, by email or
through the service.

## 2. Governing law

These terms are governed by the laws of Ireland.

## 3. Your content

You keep ownership of the content you post. You grant us a worldwide licence to host and display
it so that we can run the service.

## 4. Artificial intelligence

We may use the content you post to train our artificial intelligence models, and you can opt
out of this use in your settings at any time.
"""

DAY = dt.timedelta(days=1)


def history(archive: Archive, *texts: str) -> int:
    doc = new_document(archive)
    for n, text in enumerate(texts):
        when = T0 + n * 30 * DAY
        check(archive, doc, text, when)
        if n:
            check(archive, doc, text, when + dt.timedelta(minutes=1))  # the confirming fetch
    return doc


def test_change_record_names_the_provisions_it_touches(archive: Archive) -> None:
    doc = history(archive, V1, V2)
    report = build(archive)
    assert report.versions == 2 and report.change_records == 1
    (row,) = list_changes(archive, doc)
    detail = change_detail(archive, int(row["id"][2:]))
    kinds = {item["kind"] for item in detail["items"]}
    assert {"modified", "added", "removed"} <= kinds
    assert detail["counts"]["added"] == 1 and detail["counts"]["removed"] == 1
    assert "notice period: 30 days → 7 days" in detail["summary"]
    assert detail["status"] == "substantive"
    modified = next(i for i in detail["items"] if i["kind"] == "modified")
    assert "[-30-]" in modified["redline"] and "{+7+}" in modified["redline"]
    assert modified["parameter_changes"] == ["notice period: 30 days → 7 days"]
    added = next(i for i in detail["items"] if i["kind"] == "added")
    assert "Artificial intelligence" in added["title"] or "train" in added["title"]
    removed = next(i for i in detail["items"] if i["kind"] == "removed")
    with archive.sessions() as session:
        gone = session.get(Provision, int(removed["provision"][2:]))
        assert gone is not None and "Termination" in " ".join(gone.heading_path)


def test_provision_ids_survive_moves_and_renumbering(archive: Archive) -> None:
    doc = history(archive, V1, V2)
    build(archive)
    with archive.sessions() as session:
        versions = list(session.scalars(select(Version).where(Version.document_id == doc)))
        law = session.scalars(
            select(ProvisionRevision).where(ProvisionRevision.version_id == versions[0].id)
        ).all()
    rows = {r["title"]: r["id"] for r in list_provisions(archive, doc, include_removed=True)}
    governing = [pid for title, pid in rows.items() if "Governing law" in title]
    assert len(governing) == 1, rows  # one provision, renumbered 4 → 2 and moved
    detail = provision_detail(archive, int(governing[0][2:]))
    assert detail["label"] in (None, "2", "2.")
    assert [r["version"] for r in detail["revisions"]] == [f"V-{versions[0].id:06d}"]
    assert law  # revisions were written for the first version


def test_quotes_and_parameters_are_exact_substrings_of_the_archive(archive: Archive) -> None:
    doc = history(archive, V1, V2)
    build(archive)
    for row in list_provisions(archive, doc, include_removed=True):
        detail = provision_detail(archive, int(row["id"][2:]))
        with archive.sessions() as session:
            revision = session.scalars(
                select(ProvisionRevision)
                .where(ProvisionRevision.provision_id == int(row["id"][2:]))
                .order_by(ProvisionRevision.version_id.desc())
            ).first()
            assert revision is not None
            version = session.get(Version, revision.version_id)
        assert version is not None
        text = archive.version_text(version)
        assert text[revision.start : revision.end] == detail["text"]
        for parameter in revision.parameters:
            assert text[parameter["start"] : parameter["end"]] == parameter["quote"]


def test_build_is_incremental_and_idempotent(archive: Archive) -> None:
    history(archive, V1, V2)
    first = build(archive)
    again = build(archive)
    assert first.versions == 2 and again.versions == 0 and again.change_records == 0


def test_noise_only_change_is_non_substantive(archive: Archive) -> None:
    noisy = V1.replace("by email or", "by email  or").replace("## 2. Your", "## 5. Your")
    noisy = noisy.replace("Ireland.", "Ireland")
    history(archive, V1, noisy)
    build(archive)
    (record,) = list_changes(archive, substantive_only=False)
    assert record["status"] == "non_substantive"
    assert list_changes(archive) == []


def test_technical_version_and_flip_flop_records(archive: Archive) -> None:
    doc = new_document(archive)
    check(archive, doc, V1, T0)
    check(archive, doc, V2, T0 + DAY)
    check(archive, doc, V2, T0 + DAY + dt.timedelta(minutes=1))
    build(archive)
    check(archive, doc, V1, T0 + 2 * DAY)  # flip back inside the window
    check(archive, doc, V1 + "\nMore text.\n", T0 + 40 * DAY, technical=True)
    build(archive)
    with archive.sessions() as session:
        statuses = list(session.scalars(select(ChangeRecord.status).order_by(ChangeRecord.id)))
    assert statuses == ["retracted", "technical"]
    assert list_changes(archive) == []


def test_stability_rule() -> None:
    assert stability(0, 40) == "Stable"
    assert stability(1, 3) == "Evolving"
    assert stability(2, 12) == "Evolving"
    assert stability(3, 12) == "Volatile"
    assert stability(5, 36) == "Evolving"


def test_pdf_documents_segment_into_provisions() -> None:
    from archive_fixtures import SHARED_DATA

    from clausewatch.extract import normalise_for_hash, pdf_to_markdown
    from clausewatch.provisions.segment import segment

    pdf = SHARED_DATA / "extraction" / "ChatGPT" / "Law Enforcement Guidelines" / "source-0.pdf"
    text = normalise_for_hash(pdf_to_markdown(pdf.read_bytes()))
    segments = segment(text)
    assert len(segments) > 10
    assert all(text[s.start : s.end] == s.text for s in segments)
    assert any(s.heading_path for s in segments), "the PDF's headings give provisions context"
