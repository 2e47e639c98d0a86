"""The archive's write path, versioning rule, hash chain and evidence, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
from contextlib import closing

import pytest
import zstandard
from archive_fixtures import *  # noqa: F403
from archive_fixtures import make_settings
from sqlalchemy import delete, select, text, update

from clausewatch.archive.decide import DocumentState, Outcome, decide
from clausewatch.archive.evidence import export_warc, verify_archive, wayback_url
from clausewatch.archive.service import Archive, CheckInput, SourceCapture
from clausewatch.archive.snapshots import LocalSnapshotStore, sha256_hex
from clausewatch.extract import normalise_for_hash, text_sha256
from clausewatch.ids import format_id, parse_id
from clausewatch.registry.models import DocumentDeclaration, PlatformDeclaration, SourceDeclaration
from clausewatch.storage.models import Capture, Platform, Version

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
URL = "https://example.com/terms"
BODY = " ".join(
    f"Clause {i}: the service may process your data for purpose {i}." for i in range(40)
)


def platform_decl(
    slug: str = "example", *, url: str = URL, doc_type: str = "Terms of Service"
) -> PlatformDeclaration:
    return PlatformDeclaration(
        slug=slug,
        name=slug.title(),
        category="social-media",
        website=f"https://{slug}.com",
        documents=(DocumentDeclaration(type=doc_type, sources=(SourceDeclaration(url=url),)),),
    )


def new_document(archive: Archive) -> int:
    archive.sync_registry([platform_decl()])
    return archive.documents()[0].id


def check(
    archive: Archive,
    doc_id: int,
    body: str | None,
    at: dt.datetime,
    *,
    url: str = URL,
    final_url: str | None = None,
    **kw: object,
):
    raw = (body or "").encode()
    snapshot = archive.store.put(raw) if raw else None
    capture = SourceCapture(
        url=url,
        final_url=final_url or url,
        fetcher="http",
        started_at=at,
        status_code=200,
        headers={"content-type": "text/html"},
        snapshot_sha256=snapshot,
        size=len(raw),
    )
    if body is None:
        return archive.record_check(
            CheckInput(
                document_id=doc_id,
                captures=[capture],
                checked_at=at,
                failure=kw.pop("failure", Outcome.FAILED),
                reason="boom",
                **kw,
            )
        )
    txt = normalise_for_hash(body)
    archive.store.put(txt.encode())
    return archive.record_check(
        CheckInput(
            document_id=doc_id,
            captures=[capture],
            checked_at=at,
            text=txt,
            text_sha256=text_sha256(txt),
            extractor_version="test",
            **kw,
        )
    )


# -- IDs and the snapshot store -----------------------------------------------------------------


def test_ids_round_trip_and_name_what_is_wrong() -> None:
    assert format_id("D", 90) == "D-00090"
    assert format_id("P", 3974) == "P-003974"
    assert parse_id("c-002783") == 2783
    with pytest.raises(ValueError, match="not a clausewatch ID"):
        parse_id("X12")
    with pytest.raises(ValueError, match="is not a D- ID"):
        parse_id("V-000001", "D")


def test_ids_are_never_reused_after_a_delete(archive: Archive) -> None:
    bare = [platform_decl(s).model_copy(update={"documents": ()}) for s in ("one", "two", "three")]
    archive.sync_registry(bare[:2])
    with archive.sessions() as session, session.begin():
        top = session.scalars(select(Platform).order_by(Platform.id.desc())).first()
        assert top is not None
        top_id = top.id
        session.execute(delete(Platform).where(Platform.id == top_id))
    archive.sync_registry(bare[2:])
    with archive.sessions() as session:
        new = session.scalars(select(Platform).where(Platform.slug == "three")).one()
    assert new.id > top_id


def test_snapshot_store_is_content_addressed_compressed_and_atomic(tmp_path) -> None:
    store = LocalSnapshotStore(tmp_path / "s")
    data = b"<html>" + b"policy text " * 500_000 + b"</html>"
    sha = store.put(data)
    assert sha == sha256_hex(data) and store.put(data) == sha
    assert store.get(sha) == data
    assert list(store.iter_hashes()) == [sha]
    store.close()  # the pack's write-ahead log folded in
    assert store.stored_bytes() < len(data) / 10
    assert not list((tmp_path / "s").rglob(".tmp-*"))
    with pytest.raises(KeyError):
        store.get("0" * 64)
    with pytest.raises(ValueError, match="not a SHA-256"):
        store.get("../../etc/passwd")


# -- the versioning rule ------------------------------------------------------------------------

WEEK = dt.timedelta(days=7)


@pytest.mark.parametrize(
    ("state", "sha", "expected"),
    [
        (DocumentState(), "a", Outcome.FIRST_VERSION),
        (DocumentState(current_sha="a"), "a", Outcome.VERIFIED),
        (DocumentState(current_sha="a", variants=frozenset({"b"})), "b", Outcome.VARIANT),
        (DocumentState(current_sha="a"), "b", Outcome.CHANGE_DETECTED),
        (DocumentState(current_sha="a", pending_sha="b"), "b", Outcome.NEW_VERSION),
        (DocumentState(current_sha="a", pending_sha="b"), "a", Outcome.UNCONFIRMED),
        (DocumentState(current_sha="a", pending_sha="b"), "c", Outcome.CHANGE_DETECTED),
        (DocumentState("b", T0, previous_sha="a"), "a", Outcome.FLIP_FLOP),
        (DocumentState("b", T0 - 2 * WEEK, previous_sha="a"), "a", Outcome.CHANGE_DETECTED),
    ],
)
def test_decide(state: DocumentState, sha: str, expected: Outcome) -> None:
    assert decide(state, sha, T0, flipflop_window=WEEK) == expected


# -- record_check on both backends --------------------------------------------------------------


def test_change_needs_a_confirming_fetch(archive: Archive) -> None:
    doc = new_document(archive)
    first = check(archive, doc, BODY, T0)
    assert first.outcome == Outcome.FIRST_VERSION and first.version_id
    assert check(archive, doc, BODY, T0 + dt.timedelta(days=1)).outcome == Outcome.VERIFIED
    changed = BODY + " A new clause about arbitration."
    detected = check(archive, doc, changed, T0 + dt.timedelta(days=2))
    assert detected.outcome == Outcome.CHANGE_DETECTED and detected.version_id is None
    confirmed = check(archive, doc, changed, T0 + dt.timedelta(days=2, minutes=1))
    assert confirmed.outcome == Outcome.NEW_VERSION
    versions = archive.versions(doc)
    assert [v.kind for v in versions] == ["first", "change"]
    assert versions[1].predecessor_id == versions[0].id
    assert archive.version_text(versions[1]) == normalise_for_hash(changed)
    assert archive.document(doc).last_verified_at == T0 + dt.timedelta(days=2, minutes=1)


def test_unconfirmed_change_is_no_version(archive: Archive) -> None:
    doc = new_document(archive)
    check(archive, doc, BODY, T0)
    check(archive, doc, BODY + " banner", T0 + dt.timedelta(hours=1))
    back = check(archive, doc, BODY, T0 + dt.timedelta(hours=1, minutes=1))
    assert back.outcome == Outcome.UNCONFIRMED
    assert len(archive.versions(doc)) == 1


def test_flip_flop_inside_window_is_folded_into_a_variant(archive: Archive) -> None:
    doc = new_document(archive)
    a, b = BODY, BODY + " Limited offer banner text."
    check(archive, doc, a, T0)
    check(archive, doc, b, T0 + dt.timedelta(days=1))
    assert (
        check(archive, doc, b, T0 + dt.timedelta(days=1, minutes=1)).outcome == Outcome.NEW_VERSION
    )
    assert check(archive, doc, a, T0 + dt.timedelta(days=2)).outcome == Outcome.FLIP_FLOP
    # from now on both texts verify the document; no further versions
    assert check(archive, doc, b, T0 + dt.timedelta(days=3)).outcome == Outcome.VARIANT
    assert check(archive, doc, a, T0 + dt.timedelta(days=4)).outcome == Outcome.VERIFIED
    versions = archive.versions(doc)
    assert [(v.kind, v.status) for v in versions] == [("first", "active"), ("change", "flip_flop")]
    assert archive.document(doc).current_version_id == versions[0].id


def test_failures_never_make_versions_and_keep_the_current_one(archive: Archive) -> None:
    doc = new_document(archive)
    check(archive, doc, BODY, T0)
    for outcome in (Outcome.FAILED, Outcome.SUSPICIOUS):
        rec = check(archive, doc, None, T0 + dt.timedelta(days=1), failure=outcome)
        assert rec.outcome == outcome and rec.version_id is None
    assert len(archive.versions(doc)) == 1
    assert archive.document(doc).last_verified_at == T0
    assert len(archive.captures(doc)) == 3


def test_technical_reextraction_is_not_a_change(archive: Archive) -> None:
    doc = new_document(archive)
    check(archive, doc, BODY, T0)
    rec = check(archive, doc, BODY + " reformatted", T0 + dt.timedelta(days=1), technical=True)
    assert rec.outcome == Outcome.TECHNICAL
    assert [v.kind for v in archive.versions(doc)] == ["first", "technical"]


# -- evidence -----------------------------------------------------------------------------------


def _archive_with_history(archive: Archive) -> int:
    doc = new_document(archive)
    check(archive, doc, BODY, T0)
    for day in range(1, 4):
        check(archive, doc, BODY, T0 + dt.timedelta(days=day))
    check(archive, doc, None, T0 + dt.timedelta(days=5))
    return doc


def test_verify_passes_on_an_intact_archive(archive: Archive) -> None:
    _archive_with_history(archive)
    with archive.sessions() as session:
        report = verify_archive(session, archive.store)
    assert report.ok, report.problems
    assert report.captures == 5 and report.versions == 1


@pytest.mark.parametrize("tamper", ["alter", "remove_middle", "remove_last", "reorder", "blob"])
def test_verify_names_every_tampered_record(archive: Archive, tamper: str) -> None:
    _archive_with_history(archive)
    with archive.sessions() as session, session.begin():
        ids = list(session.scalars(select(Capture.id).order_by(Capture.id)))
        if tamper == "alter":
            session.execute(update(Capture).where(Capture.id == ids[2]).values(status_code=404))
        elif tamper == "remove_middle":
            session.execute(delete(Capture).where(Capture.id == ids[2]))
        elif tamper == "remove_last":
            session.execute(delete(Capture).where(Capture.id == ids[-1]))
        elif tamper == "reorder":
            a, b = (session.get(Capture, i) for i in ids[1:3])
            assert a is not None and b is not None
            a.started_at, b.started_at = b.started_at, a.started_at
        elif tamper == "blob":
            sha = session.get(Capture, ids[0]).snapshot_sha256  # type: ignore[union-attr]
    if tamper == "blob":
        forged = zstandard.ZstdCompressor().compress(b"forged")
        pack = archive.store.pack_path  # type: ignore[attr-defined]
        with closing(sqlite3.connect(pack, isolation_level=None)) as db:
            db.execute(
                "UPDATE objects SET frame = ? WHERE sha256 = ?", (forged, bytes.fromhex(sha))
            )
    with archive.sessions() as session:
        report = verify_archive(session, archive.store)
    assert not report.ok
    named = {p.record for p in report.problems}
    expected = {
        "alter": {format_id("CAP", ids[2])},
        "remove_middle": {format_id("CAP", ids[3])},
        "remove_last": {"log head"},
        "reorder": {format_id("CAP", ids[1]), format_id("CAP", ids[2])},
        "blob": {format_id("CAP", ids[0])},
    }[tamper]
    assert expected <= named


def test_verify_catches_a_version_row_pointing_at_other_text(archive: Archive) -> None:
    doc = _archive_with_history(archive)
    other = archive.store.put(b"some other text")
    with archive.sessions() as session, session.begin():
        session.execute(update(Version).where(Version.document_id == doc).values(text_sha256=other))
    with archive.sessions() as session:
        report = verify_archive(session, archive.store)
    assert any(p.record.startswith("V-") and "differs" in p.what for p in report.problems)


def test_verify_names_duplicated_captures(archive: Archive) -> None:
    """The same fetch recorded twice (what two imports at once used to leave): every copy after
    the first is named, including for a failed capture with no snapshot."""
    doc = _archive_with_history(archive)
    check(archive, doc, BODY, T0 + dt.timedelta(days=2))
    check(archive, doc, None, T0 + dt.timedelta(days=5))
    with archive.sessions() as session:
        ids = list(session.scalars(select(Capture.id).order_by(Capture.id)))
        report = verify_archive(session, archive.store)
    problems = {p.record: p.what for p in report.problems}
    assert set(problems) == {format_id("CAP", ids[5]), format_id("CAP", ids[6])}
    assert problems[format_id("CAP", ids[5])].startswith(f"duplicate of {format_id('CAP', ids[2])}")
    assert problems[format_id("CAP", ids[6])].startswith(f"duplicate of {format_id('CAP', ids[4])}")


def test_verify_names_an_import_key_that_is_not_the_url(archive: Archive) -> None:
    doc = _archive_with_history(archive)
    with archive.sessions() as session, session.begin():
        first = session.scalars(select(Capture).where(Capture.document_id == doc)).first()
        assert first is not None
        first.import_ref = "ota:elsewhere"
        rid = format_id("CAP", first.id)
    with archive.sessions() as session:
        report = verify_archive(session, archive.store)
    assert [(p.record, p.what) for p in report.problems] == [
        (rid, "its import key differs from its URL")
    ]


def test_an_archive_with_duplicated_imports_still_opens(tmp_path) -> None:
    """Migration 0006 on an archive that concurrent imports had already duplicated: the first
    capture of each record gets the import key, the copies none, and `verify` names them."""

    from clausewatch.importers.ota import import_history, read_jsonl
    from clausewatch.storage.migrate import downgrade, upgrade

    history = tmp_path / "h.jsonl"
    history.write_text(
        json.dumps(
            {
                "service": "Example",
                "terms_type": "Terms of Service",
                "recorded_at": "2024-03-01T12:00:00Z",
                "text": BODY,
            }
        )
        + "\n"
    )
    settings = make_settings(tmp_path)
    archive = Archive.open(settings)
    import_history(archive, read_jsonl(history))
    downgrade(archive.engine, "0005")
    columns = [c for c in Capture.__table__.columns if c.key not in ("id", "import_ref")]
    names = ", ".join(c.name for c in columns)
    copied = names.replace("chain_hash", "'copy-' || chain_hash")
    with archive.engine.begin() as conn:
        conn.execute(text(f"INSERT INTO captures ({names}) SELECT {copied} FROM captures"))
    upgrade(archive.engine)
    with archive.sessions() as session:
        rows = list(session.execute(select(Capture.id, Capture.import_ref).order_by(Capture.id)))
        report = verify_archive(session, archive.store)
    archive.close()
    assert rows[0][1] is not None and rows[1][1] is None
    assert any(
        p.record == format_id("CAP", rows[1][0]) and p.what.startswith("duplicate of")
        for p in report.problems
    )


def test_warc_export_is_readable_by_warcio(sqlite_archive: Archive) -> None:
    from warcio.archiveiterator import ArchiveIterator

    _archive_with_history(sqlite_archive)
    buffer = io.BytesIO()
    with sqlite_archive.sessions() as session:
        written = export_warc(session, sqlite_archive.store, buffer)
    assert written == 4  # the failed capture has no body
    buffer.seek(0)
    seen = []
    for record in ArchiveIterator(buffer):  # a stream: read each payload while on it
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Target-URI") == URL
        assert record.http_headers.get_statuscode() == "200"
        seen.append(record.content_stream().read())
    assert seen == [BODY.encode()] * 4


def test_wayback_url() -> None:
    at = dt.datetime(2026, 8, 22, 10, 30, 9, tzinfo=dt.UTC)
    assert wayback_url(URL, at) == f"https://web.archive.org/web/20260822103009/{URL}"


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_archive: Archive) -> None:
    with sqlite_archive.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_sqlite_readers_do_not_block_writers(sqlite_archive: Archive) -> None:
    doc = new_document(sqlite_archive)
    with sqlite_archive.sessions() as reader:
        reader.execute(text("SELECT count(*) FROM captures")).scalar()  # read transaction open
        record = check(sqlite_archive, doc, BODY, T0)  # a writer commits meanwhile
        assert record.outcome == Outcome.FIRST_VERSION
        # the reader keeps its snapshot until it ends
        assert reader.execute(text("SELECT count(*) FROM captures")).scalar() == 0
    assert len(sqlite_archive.captures(doc)) == 1


def test_chain_hash_does_not_depend_on_the_timezone_written(archive: Archive) -> None:
    doc = new_document(archive)
    paris = dt.timezone(dt.timedelta(hours=2))
    check(archive, doc, BODY, dt.datetime(2022, 10, 19, 15, 39, 9, tzinfo=paris))
    with archive.sessions() as session:
        assert verify_archive(session, archive.store).ok


# ix_captures_import_ref is on an expression, which SQLite's reflection skips (include_object
# leaves it out; tests/test_compact_captures.py checks it)
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
def test_migrations_match_the_models(archive: Archive) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from clausewatch.storage.migrate import include_object
    from clausewatch.storage.models import Base

    with archive.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        assert compare_metadata(context, Base.metadata) == []
