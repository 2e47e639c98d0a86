"""Checks written in shared transactions (`Archive.record_checks`, the cycle's `BatchRecorder`):
each check recorded exactly as `record_check` records it, all or nothing per batch."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
from archive_fixtures import *  # noqa: F403
from sqlalchemy import func, select

from clausewatch.archive.cycle import BatchRecorder
from clausewatch.archive.decide import Outcome
from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive, CheckInput, SourceCapture
from clausewatch.extract import normalise_for_hash, text_sha256
from clausewatch.registry.models import DocumentDeclaration, PlatformDeclaration, SourceDeclaration
from clausewatch.storage.models import Capture, Document, PendingChange

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
BODY = " ".join(
    f"Clause {i}: the service may process your data for purpose {i}." for i in range(40)
)
OTHER = BODY.replace("purpose 7", "purpose seven, and sell it")


def url(i: int) -> str:
    return f"https://example.com/terms/{i}"


def documents(archive: Archive, n: int) -> list[int]:
    archive.sync_registry(
        [
            PlatformDeclaration(
                slug="example",
                name="Example",
                category="social-media",
                website="https://example.com",
                documents=tuple(
                    DocumentDeclaration(
                        type=f"Policy {i}", sources=(SourceDeclaration(url=url(i)),)
                    )
                    for i in range(n)
                ),
            )
        ]
    )
    return [d.id for d in archive.documents()]


def check_of(archive: Archive, doc_id: int, index: int, body: str, at: dt.datetime) -> CheckInput:
    raw = body.encode()
    capture = SourceCapture(
        url=url(index),
        final_url=url(index),
        fetcher="http",
        started_at=at,
        status_code=200,
        headers={"content-type": "text/html", "etag": f'"{index}"'},
        snapshot_sha256=archive.store.put(raw),
        size=len(raw),
    )
    text = normalise_for_hash(body)
    archive.store.put(text.encode())
    return CheckInput(
        document_id=doc_id,
        captures=[capture],
        checked_at=at,
        text=text,
        text_sha256=text_sha256(text),
        extractor_version="test",
        validators={url(index): {"etag": f'"{index}"'}},
    )


def capture_count(archive: Archive) -> int:
    with archive.sessions() as session:
        return session.scalar(select(func.count()).select_from(Capture)) or 0


def test_a_batch_records_each_check_as_record_check_does(archive: Archive) -> None:
    ids = documents(archive, 3)
    first = archive.record_checks([check_of(archive, d, i, BODY, T0) for i, d in enumerate(ids)])
    assert [r.outcome for r in first] == [Outcome.FIRST_VERSION] * 3
    at = T0 + dt.timedelta(days=1)
    # unchanged, unchanged, changed: verified, verified, a change waiting for confirmation
    later = [check_of(archive, d, i, OTHER if i == 2 else BODY, at) for i, d in enumerate(ids)]
    records = archive.record_checks(later)
    assert [r.outcome for r in records] == [
        Outcome.VERIFIED,
        Outcome.VERIFIED,
        Outcome.CHANGE_DETECTED,
    ]
    assert all(len(r.capture_ids) == 1 for r in records)
    with archive.sessions() as session:
        docs = {d.id: d for d in session.scalars(select(Document))}
        assert docs[ids[0]].last_verified_at == at and docs[ids[0]].last_checked_at == at
        assert docs[ids[0]].validators == {url(0): {"etag": '"0"'}}
        assert docs[ids[2]].last_verified_at == T0 and docs[ids[2]].last_checked_at == at
        pending = session.get(PendingChange, ids[2])
        assert pending is not None and pending.capture_ids == records[2].capture_ids
        assert verify_archive(session, archive.store).ok  # one hash chain, in order
    # the same text again after the change was seen: unconfirmed, the pending change dropped
    again = archive.record_checks([check_of(archive, ids[2], 2, BODY, at + dt.timedelta(hours=1))])
    assert again[0].outcome == Outcome.UNCONFIRMED
    with archive.sessions() as session:
        assert session.get(PendingChange, ids[2]) is None


def test_a_failing_batch_writes_nothing(archive: Archive) -> None:
    ids = documents(archive, 2)
    before = capture_count(archive)
    checks = [check_of(archive, ids[0], 0, BODY, T0), check_of(archive, 10_000, 1, BODY, T0)]
    with pytest.raises(LookupError):
        archive.record_checks(checks)
    assert capture_count(archive) == before
    with pytest.raises(ValueError, match="one check per document"):
        archive.record_checks([checks[0], checks[0]])
    assert capture_count(archive) == before


@pytest.mark.parametrize("threaded", [False, True], ids=["in the loop", "writer thread"])
def test_the_recorder_keeps_an_error_with_its_check(
    sqlite_archive: Archive, threaded: bool
) -> None:
    archive = sqlite_archive
    ids = documents(archive, 3)

    async def main() -> list[object]:
        recorder = BatchRecorder(archive, window=0.01, threaded=threaded)
        checks = [check_of(archive, d, i, BODY, T0) for i, d in enumerate(ids)]
        checks.insert(1, check_of(archive, 10_000, 9, BODY, T0))  # no such document
        # and a second check of the first document: never in the same batch as the first
        checks.append(check_of(archive, ids[0], 0, BODY, T0 + dt.timedelta(hours=1)))
        try:
            return await asyncio.gather(
                *(recorder.record(c) for c in checks), return_exceptions=True
            )
        finally:
            recorder.close()

    results = asyncio.run(main())
    assert isinstance(results[1], LookupError)
    outcomes = [getattr(r, "outcome", None) for r in results]
    assert outcomes == [
        Outcome.FIRST_VERSION,
        None,
        Outcome.FIRST_VERSION,
        Outcome.FIRST_VERSION,
        Outcome.VERIFIED,
    ]
    assert capture_count(archive) == 4


def test_the_recorder_batches_up_to_its_size(sqlite_archive: Archive) -> None:
    archive = sqlite_archive
    ids = documents(archive, 5)
    sizes: list[int] = []
    record_checks = archive.record_checks

    def spy(checks: list[CheckInput]) -> object:
        sizes.append(len(checks))
        return record_checks(checks)

    archive.record_checks = spy  # type: ignore[method-assign,assignment]

    async def main() -> None:
        recorder = BatchRecorder(archive, max_batch=2, window=0.01)
        checks = [check_of(archive, d, i, BODY, T0) for i, d in enumerate(ids)]
        await asyncio.gather(*(recorder.record(c) for c in checks))
        recorder.close()

    asyncio.run(main())
    assert sizes == [2, 2, 1]
    assert capture_count(archive) == 5


def test_the_loop_goes_on_while_a_batch_is_written(sqlite_archive: Archive) -> None:
    """A slow write does not stall the event loop: the checks that finish meanwhile are
    written together in the next batch, after the first (one writer, in order)."""
    archive = sqlite_archive
    ids = documents(archive, 5)
    batches: list[list[int]] = []
    record_checks = archive.record_checks

    def slow(checks: list[CheckInput]) -> object:
        batches.append([c.document_id for c in checks])
        if len(batches) == 1:
            time.sleep(0.3)
        return record_checks(checks)

    archive.record_checks = slow  # type: ignore[method-assign,assignment]

    async def main() -> int:
        recorder = BatchRecorder(archive, window=0.01, threaded=True)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(ticker())
        checks = [check_of(archive, d, i, BODY, T0) for i, d in enumerate(ids)]
        first = asyncio.create_task(recorder.record(checks[0]))
        await asyncio.sleep(0.05)  # the first batch is being written
        during = ticks
        rest = [asyncio.create_task(recorder.record(c)) for c in checks[1:]]
        records = await asyncio.gather(first, *rest)
        beat.cancel()
        recorder.close()
        assert all(r.outcome == Outcome.FIRST_VERSION for r in records)
        return ticks - during

    assert asyncio.run(main()) >= 10, "the loop ran while the first batch was written"
    assert batches == [ids[:1], ids[1:]]
    assert capture_count(archive) == 5
