"""Rebuild documents' current text from stored snapshots after the extractor or a declaration
changed. A different text is recorded as a technical version: never a change, never an alert."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from clausewatch import extract
from clausewatch.archive.cycle import extract_document
from clausewatch.archive.decide import Outcome
from clausewatch.archive.service import Archive, CheckInput, CheckRecord, SourceCapture
from clausewatch.capture.base import FetchResult, Redirect
from clausewatch.registry.models import DocumentDeclaration
from clausewatch.storage.db import utcnow
from clausewatch.storage.models import Capture, Document

REEXTRACT_FETCHER = "reextract"
_GOOD = (
    Outcome.FIRST_VERSION,
    Outcome.NEW_VERSION,
    Outcome.VERIFIED,
    Outcome.VARIANT,
    Outcome.UNCONFIRMED,
    Outcome.TECHNICAL,
)


@dataclass
class ReextractReport:
    unchanged: int = 0
    technical: list[CheckRecord] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # D-id -> why


def latest_good_check(archive: Archive, document: Document) -> list[Capture]:
    """The captures of the document's latest check whose text was accepted, one per source."""
    with archive.sessions() as session:
        last = session.scalars(
            select(Capture)
            .where(
                Capture.document_id == document.id,
                Capture.outcome.in_([str(o) for o in _GOOD]),
                Capture.fetcher != "ota-import",
            )
            .order_by(Capture.id.desc())
            .limit(1)
        ).first()
        if last is None:
            return []
        return list(
            session.scalars(
                select(Capture)
                .where(Capture.check_id == last.check_id)
                .order_by(Capture.source_index)
            )
        )


def _as_result(archive: Archive, capture: Capture) -> FetchResult:
    return FetchResult(
        url=capture.url,
        final_url=capture.final_url,
        fetcher="browser" if capture.fetcher == "browser" else "http",
        started_at=capture.started_at,
        elapsed_ms=0.0,
        status=capture.status_code or 200,
        headers=dict(capture.headers),
        content=archive.store.get(capture.snapshot_sha256) if capture.snapshot_sha256 else b"",
        redirect_chain=[Redirect(**r) for r in capture.redirect_chain],
    )


def reextract_document(archive: Archive, document: Document) -> CheckRecord | str:
    captures = latest_good_check(archive, document)
    decl = DocumentDeclaration.model_validate(document.declaration)
    if not captures:
        return "no stored snapshots from a live capture"
    if len(captures) != len(decl.sources) or any(
        c.url != s.url for c, s in zip(captures, decl.sources, strict=False)
    ):
        return "the declaration's sources changed: the next capture will record them"
    results = [_as_result(archive, c) for c in captures]
    extracted = extract_document(
        archive,
        document.id,
        decl.sources,
        results,
        [c.snapshot_sha256 for c in captures],
        previous_text=None,
    )
    if extracted.text is None:
        return f"re-extraction failed: {extracted.reason}"
    current = document.current_version
    if current is not None and current.text_sha256 == extracted.sha256:
        return "unchanged"
    base = current.text_sha256 if current is not None else None
    archive.store.put(extracted.text.encode("utf-8"), base=base)
    now = utcnow()
    sources = []
    for capture in captures:
        source = SourceCapture.from_fetch(_as_result(archive, capture), capture.snapshot_sha256)
        source.fetcher = REEXTRACT_FETCHER
        source.started_at = now
        source.headers = {**source.headers, "x-reextract-of": str(capture.id)}
        sources.append(source)
    return archive.record_check(
        CheckInput(
            document_id=document.id,
            captures=sources,
            checked_at=now,
            text=extracted.text,
            text_sha256=extracted.sha256,
            technical=True,
            require_confirmation=False,
            reason=f"re-extraction with extractor {extract.EXTRACTOR_VERSION}",
            extractor_version=extract.EXTRACTOR_VERSION,
        )
    )


def reextract(
    archive: Archive,
    documents: Sequence[Document],
    progress: Callable[[], None] | None = None,
) -> ReextractReport:
    report = ReextractReport()
    for document in documents:
        outcome = reextract_document(archive, document)
        if isinstance(outcome, CheckRecord):
            report.technical.append(outcome)
        elif outcome == "unchanged":
            report.unchanged += 1
        else:
            report.skipped[document.public_id] = outcome
        if progress:
            progress()
    return report
