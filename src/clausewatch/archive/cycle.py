"""The capture cycle: fetch a document's sources, extract, and record what it means.

Raw bytes and version texts go to the content-addressed store first (idempotent, atomic); the
database transaction that references them comes last, so a crash anywhere loses nothing that was
recorded and leaves at worst an unreferenced blob, never a half-written record.

During ``CaptureCycle.run`` the checks' records are written in shared transactions
(`BatchRecorder`): each transaction holds whole checks, several documents' at once, and commits
them together, so a crash still leaves every check either recorded or not at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from clausewatch import extract
from clausewatch.archive.decide import Outcome
from clausewatch.archive.quality import LOST_TEXT, assess_text
from clausewatch.archive.service import Archive, CheckInput, CheckRecord, SourceCapture
from clausewatch.archive.snapshots import SnapshotDamaged, SnapshotNotFound
from clausewatch.capture.assess import ASSESS_VERSION, BlockedReason
from clausewatch.capture.base import FetchRequest, FetchResult
from clausewatch.registry.models import DocumentDeclaration, SourceDeclaration
from clausewatch.storage.db import utcnow
from clausewatch.storage.models import Document

# Responses that plainly failed; every other blocked reason is content that pretends to be the
# document (a wall, a captcha, an error page served with 200) and is recorded as suspicious.
FAILED_REASONS = frozenset(
    {
        BlockedReason.HTTP_4XX,
        BlockedReason.HTTP_5XX,
        BlockedReason.NOT_FOUND,
        BlockedReason.RATE_LIMITED,
        BlockedReason.UNFOLLOWED_REDIRECT,
    }
)

FetchFn = Callable[[FetchRequest], Awaitable[FetchResult]]
ProgressFn = Callable[[CheckRecord], None]


@dataclass
class ExtractedText:
    text: str | None = None
    sha256: str | None = None
    failure: Outcome | None = None
    reason: str | None = None


@dataclass
class CycleReport:
    records: list[CheckRecord] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for record in self.records:
            out[str(record.outcome)] = out.get(str(record.outcome), 0) + 1
        return out


def requests_for(document: Document) -> list[tuple[SourceDeclaration, FetchRequest]]:
    decl = DocumentDeclaration.model_validate(document.declaration)
    pairs = []
    for source in decl.sources:
        validators = document.validators.get(source.url, {})
        known = validators.get("assessed") == ASSESS_VERSION
        pairs.append(
            (
                source,
                FetchRequest(
                    url=source.url,
                    fetcher=source.fetcher,
                    etag=validators.get("etag"),
                    last_modified=validators.get("last_modified"),
                    ignore_robots=source.ignore_robots,
                    known_sha256=validators.get("snapshot_sha256") if known else None,
                ),
            )
        )
    return pairs


def extract_document(
    archive: Archive,
    document_id: int,
    sources: Sequence[SourceDeclaration],
    results: Sequence[FetchResult],
    snapshots: Sequence[str | None],
    previous_text: str | None,
    shrunk: str | None = None,
) -> ExtractedText:
    """Turn one check's fetch results into the normalised document text, or say why not.
    ``shrunk``: the text of the check before, if it was refused for losing most of the previous
    text (or waits as the pending change): a shrink seen twice is the page, not a broken fetch."""
    for result in results:
        if result.error:
            return ExtractedText(failure=Outcome.FAILED, reason=f"{result.url}: {result.error}")
        if result.blocked_reason:
            failure = (
                Outcome.FAILED if result.blocked_reason in FAILED_REASONS else Outcome.SUSPICIOUS
            )
            return ExtractedText(failure=failure, reason=f"{result.url}: {result.blocked_reason}")
        if not result.ok:
            return ExtractedText(
                failure=Outcome.FAILED, reason=f"{result.url}: HTTP status {result.status}"
            )
    parts = []
    for source, result, snapshot in zip(sources, results, snapshots, strict=True):
        content, content_type = result.content, result.content_type
        if result.not_modified:
            stored = archive.last_snapshot(document_id, source.url)
            if stored is None:
                return ExtractedText(
                    failure=Outcome.FAILED,
                    reason=f"{source.url}: 304 Not Modified but no earlier snapshot is stored",
                )
            try:
                content, content_type = archive.store.get(stored), ""
            except (SnapshotNotFound, SnapshotDamaged) as exc:
                return ExtractedText(
                    failure=Outcome.FAILED,
                    reason=f"{source.url}: 304 Not Modified but the stored snapshot is "
                    f"unusable: {exc}",
                )
        elif snapshot is None:
            return ExtractedText(failure=Outcome.SUSPICIOUS, reason=f"{source.url}: empty body")
        try:
            parts.append(
                extract.extract_markdown(
                    content,
                    content_type,
                    url=result.final_url,
                    select=source.select,
                    remove=source.remove,
                )
            )
        except extract.ExtractionError as exc:
            return ExtractedText(failure=Outcome.FAILED, reason=f"{source.url}: {exc}")
        except Exception as exc:  # a parser's surprise fails this capture, not the whole run
            return ExtractedText(
                failure=Outcome.FAILED,
                reason=f"{source.url}: extraction failed: {type(exc).__name__}: {exc}",
            )
    text = extract.normalise_for_hash(extract.combine_markdown(parts))
    problem = assess_text(text, previous_text, shrunk=shrunk)
    if problem and problem.startswith(LOST_TEXT):
        # refused, but its text is kept (capture's text_sha256) for the next check to compare
        return ExtractedText(
            failure=Outcome.SUSPICIOUS, reason=problem, text=text, sha256=extract.text_sha256(text)
        )
    if problem:
        return ExtractedText(failure=Outcome.SUSPICIOUS, reason=problem)
    return ExtractedText(text=text, sha256=extract.text_sha256(text))


def validators_of(
    results: Sequence[FetchResult],
    snapshots: Sequence[str | None] = (),
    text_sha256: str | None = None,
) -> dict[str, dict[str, str]]:
    """What the document keeps of each source that answered with content, for the next check:
    the validators of a conditional GET (``etag``, ``last_modified``) and, with the text they
    gave, the raw bytes' SHA-256 (``snapshot_sha256``, ``text_sha256``), so that the next check
    can tell unchanged bytes without a query (`CaptureCycle.unchanged_bytes`), and the
    `ASSESS_VERSION` that judged them the document (``assessed``), so that the same bytes are
    not parsed again to be judged (`FetchRequest.known_sha256`). The archive keeps them only
    from checks whose text is the current version's (or becomes it), whose every source was
    judged the document."""
    out: dict[str, dict[str, str]] = {}
    for index, result in enumerate(results):
        if result.not_modified or not result.ok:
            continue
        kept = {
            key.replace("-", "_"): result.headers[key]
            for key in ("etag", "last-modified")
            if key in result.headers
        }
        snapshot = snapshots[index] if index < len(snapshots) else None
        if snapshot is not None and text_sha256 is not None:
            kept |= {
                "snapshot_sha256": snapshot,
                "text_sha256": text_sha256,
                "assessed": ASSESS_VERSION,
            }
        out[result.url] = kept
    return out


class BatchRecorder:
    """Collects the checks that finish close together and writes them with
    `Archive.record_checks`: one transaction (one BEGIN, log-head lock, archive-state bump and
    commit) for up to ``max_batch`` checks, instead of one each. A batch is sent when it is full
    or ``window`` seconds after its first check arrived; two checks of one document never share a
    batch. If the batch fails, its checks are written one by one (`record_check`), so an error
    stays with the check that caused it.

    With ``threaded`` (the default on a database server), batches are written by one writer
    thread, in the order they were sent, while the event loop goes on fetching; the checks that
    finish during a write wait for it to end and go together in the next batch (a server that
    answers slowly gets larger batches, not a stalled loop). On SQLite a batch is written in the
    loop: its writes are local and quick, and handing them to a thread cost more than it saved
    (docs/benchmarks.md, capture cycle). Bound to one event loop; `close` when done."""

    def __init__(
        self,
        archive: Archive,
        *,
        max_batch: int = 64,
        window: float = 0.02,
        threaded: bool | None = None,
    ) -> None:
        self.archive = archive
        self.max_batch = max_batch
        self.window = window
        self._pending: list[tuple[CheckInput, asyncio.Future[CheckRecord]]] = []
        self._documents: set[int] = set()
        self._timer: asyncio.TimerHandle | None = None
        if threaded is None:
            threaded = archive.engine.dialect.name != "sqlite"
        self._writer = (
            ThreadPoolExecutor(1, thread_name_prefix="clausewatch-record") if threaded else None
        )
        self._writes: set[asyncio.Future[None]] = set()

    async def record(self, check: CheckInput) -> CheckRecord:
        if check.document_id in self._documents:
            self.flush(now=True)
        future: asyncio.Future[CheckRecord] = asyncio.get_running_loop().create_future()
        self._pending.append((check, future))
        self._documents.add(check.document_id)
        if len(self._pending) >= self.max_batch:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.window, self.flush)
        return await future

    def flush(self, *, now: bool = False) -> None:
        """Send what is waiting to the writer: at once when the writer is free, a full batch or
        ``now``; otherwise when the write in progress ends (group commit: the checks that
        finish during a write go together in the next one)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        if self._writes and not now and len(self._pending) < self.max_batch:
            return
        batch, self._pending, self._documents = self._pending, [], set()
        if self._writer is None:
            for (_, future), result in zip(batch, self._write(batch), strict=True):
                _settle(future, result)
            return
        loop = asyncio.get_running_loop()
        write = loop.run_in_executor(self._writer, self._write_and_settle, batch)
        self._writes.add(write)
        write.add_done_callback(self._written)

    def _written(self, write: asyncio.Future[None]) -> None:
        self._writes.discard(write)
        if not self._writes:
            self.flush()

    async def drain(self) -> None:
        """Send what is waiting and wait until every batch sent is written."""
        self.flush(now=True)
        while self._writes:
            await asyncio.wait(set(self._writes))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)

    def _write_and_settle(
        self, batch: list[tuple[CheckInput, asyncio.Future[CheckRecord]]]
    ) -> None:
        """In the writer thread: write the batch, then hand each check its record or error."""
        results: list[CheckRecord | BaseException]
        try:
            results = self._write(batch)
        except BaseException as exc:  # never leave a check waiting for an answer
            results = [exc] * len(batch)
        loop = batch[0][1].get_loop()
        for (_, future), result in zip(batch, results, strict=True):
            loop.call_soon_threadsafe(_settle, future, result)

    def _write(
        self, batch: list[tuple[CheckInput, asyncio.Future[CheckRecord]]]
    ) -> list[CheckRecord | BaseException]:
        """Each check's record, or the error that kept it out."""
        results: list[CheckRecord | BaseException]
        try:
            results = list(self.archive.record_checks([check for check, _ in batch]))
        except Exception:  # rolled back as a whole: each check on its own, with its own error
            results = []
            for check, _ in batch:
                try:
                    results.append(self.archive.record_check(check))
                except Exception as exc:
                    results.append(exc)
        return results


def _settle(future: asyncio.Future[CheckRecord], result: CheckRecord | BaseException) -> None:
    if future.done():  # a cancelled check is recorded all the same
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class CaptureCycle:
    def __init__(
        self,
        archive: Archive,
        fetch: FetchFn,
        *,
        confirm_delay: float | None = None,
        recorder: BatchRecorder | None = None,
    ):
        """``recorder``: checks recorded in shared transactions always (a worker's capture loop);
        without one, only while ``run`` runs."""
        self.archive = archive
        self.fetch = fetch
        self.confirm_delay = (
            archive.settings.confirm_delay if confirm_delay is None else confirm_delay
        )
        self._recorder = recorder

    async def _record(self, check: CheckInput) -> CheckRecord:
        if self._recorder is None:
            return self.archive.record_check(check)
        return await self._recorder.record(check)

    async def check(self, document: Document, *, confirming: bool = False) -> CheckRecord:
        pairs = requests_for(document)
        results = await asyncio.gather(*(self.fetch(request) for _, request in pairs))
        current = document.current_version
        snapshots = [
            self.store_snapshot(document, s, r) for (s, _), r in zip(pairs, results, strict=True)
        ]
        if current is not None and self.unchanged_bytes(document, pairs, results):
            # Same bytes, same extractor, same declaration: the same text, so skip extraction.
            extracted = ExtractedText(sha256=current.text_sha256)
        else:
            try:
                previous_text = self.archive.version_text(current) if current else None
                shrunk = self.archive.refused_shrink(document.id) if current else None
            except (SnapshotNotFound, SnapshotDamaged) as exc:
                # without the current text no new text can be judged against it
                extracted = ExtractedText(
                    failure=Outcome.FAILED, reason=f"the current version's text is unusable: {exc}"
                )
            else:
                extracted = await asyncio.to_thread(
                    extract_document,
                    self.archive,
                    document.id,
                    [s for s, _ in pairs],
                    results,
                    snapshots,
                    previous_text,
                    shrunk,
                )
        if extracted.text is not None:
            base = current.text_sha256 if current is not None else None
            self.archive.store.put(extracted.text.encode("utf-8"), base=base)
        record = await self._record(
            CheckInput(
                document_id=document.id,
                captures=[
                    SourceCapture.from_fetch(r, s) for r, s in zip(results, snapshots, strict=True)
                ],
                checked_at=min((r.started_at for r in results), default=utcnow()),
                text=extracted.text,
                text_sha256=extracted.sha256,
                failure=extracted.failure,
                reason=extracted.reason,
                confirm_after=self.confirm_delay,
                extractor_version=extract.EXTRACTOR_VERSION,
                validators=validators_of(results, snapshots, extracted.sha256),
            )
        )
        if record.outcome == Outcome.CHANGE_DETECTED and not confirming:
            await asyncio.sleep(self.confirm_delay)
            return await self.check(self.archive.document(document.id), confirming=True)
        return record

    def store_snapshot(
        self, document: Document, source: SourceDeclaration, result: FetchResult
    ) -> str | None:
        """Store the raw bytes (a delta of the source's previous snapshot, where that is much
        smaller); their SHA-256, or None for an empty body. Bytes already stored (an unchanged
        page) are not stored again, so the delta hint is only looked up for new bytes."""
        if not result.content:
            return None
        sha256 = result.sha256
        if self.archive.store.exists(sha256):
            return sha256
        base = self.archive.last_snapshot(document.id, source.url)
        return self.archive.store.put(result.content, base=base)

    def unchanged_bytes(
        self,
        document: Document,
        pairs: Sequence[tuple[SourceDeclaration, FetchRequest]],
        results: Sequence[FetchResult],
    ) -> bool:
        current = document.current_version
        if (
            current is None
            or current.extractor_version != extract.EXTRACTOR_VERSION
            or current.declaration_fingerprint != document.declaration_fingerprint
            or not all(r.ok for r in results)
        ):
            return False
        for (source, _), result in zip(pairs, results, strict=True):
            if result.not_modified:
                continue
            kept = document.validators.get(source.url, {})
            if kept.get("text_sha256") == current.text_sha256 and kept.get("snapshot_sha256"):
                # the bytes of the last check that gave the current text: no query needed
                last = kept["snapshot_sha256"]
            else:  # recorded before the document kept them, or they are of another text
                last = self.archive.last_snapshot(document.id, source.url, current.text_sha256)
            if last != result.sha256:
                return False
        return True

    async def run(
        self, documents: Sequence[Document], progress: ProgressFn | None = None
    ) -> CycleReport:
        report = CycleReport()

        async def one(document: Document) -> None:
            record = await self.check(document)
            report.records.append(record)
            if progress:
                progress(record)

        outer = self._recorder is None  # a run inside a run shares the outer one's batches
        recorder = self._recorder = self._recorder or BatchRecorder(self.archive)
        try:
            await asyncio.gather(*(one(d) for d in documents))
        finally:
            if outer:
                try:
                    await recorder.drain()
                finally:
                    recorder.close()
                    self._recorder = None
        return report
