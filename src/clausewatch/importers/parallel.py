"""`clausewatch import` on several processes.

A survey pass reads the source once, checks every record and weighs each document by its text;
the documents are then dealt to worker processes (`jobs.pool`), each of which reads the source
itself and imports only its own documents' records, in source order, through the same
`import_history` as a single-process import. Memory stays that of one streaming reader per
process; nothing but progress counts and the reports crosses between processes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.importers.ota import (
    ImportFormatError,
    ImportReport,
    OtaRecord,
    check_record,
    detect_source,
    import_history,
)
from clausewatch.jobs.pool import balance, report_progress, run_shares
from clausewatch.registry.ota import ota_slug
from clausewatch.registry.vocabulary import resolve_document_type

ShareKey = tuple[str, str]


def share_key(record: OtaRecord) -> ShareKey:
    """The archive document a record lands on (two OTA terms types can name one document, as
    "Trackers Policy" and "Cookie Policy" do): all of its records go to one process."""
    return ota_slug(record.service), resolve_document_type(record.terms_type) or record.terms_type


def import_source(
    archive: Archive,
    source: Path,
    *,
    category: str = "social-media",
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import one source (any format `detect_source` knows) with up to ``workers`` processes.
    A faulty record raises `ImportFormatError` after the records before it are imported, as a
    single-process import does; its ``report`` says what was."""
    reader = detect_source(source)
    if workers <= 1:
        return import_history(archive, reader(source), category=category, progress=_each(progress))
    weights, usable, fault = _survey(source)
    shares = balance(weights, workers)
    if len(shares) <= 1:
        records = itertools.islice(reader(source), usable)
        report = import_history(archive, records, category=category, progress=_each(progress))
    else:
        work = [(archive.settings, str(source), frozenset(s), usable, category) for s in shares]
        report = _merged(run_shares(_import_share, work, progress=progress))
    if fault is not None:
        fault.report = report
        raise fault
    return report


def _each(progress: Callable[[int], None] | None) -> Callable[[OtaRecord], None] | None:
    return (lambda _record: progress(1)) if progress is not None else None


def _survey(source: Path) -> tuple[dict[ShareKey, int], int, ImportFormatError | None]:
    """(characters of text per document, how many records come before the first faulty one,
    that fault or None)."""
    weights: dict[ShareKey, int] = {}
    usable = 0
    try:
        for record in detect_source(source)(source):
            check_record(record, record.location or record.ref)
            key = share_key(record)
            weights[key] = weights.get(key, 0) + len(record.text or "") + 1
            usable += 1
    except ImportFormatError as exc:
        return weights, usable, exc
    return weights, usable, None


def _import_share(
    settings: Settings, source: str, keys: frozenset[ShareKey], usable: int, category: str
) -> ImportReport:
    """A worker process's share: the records of its documents among the first ``usable``."""
    path = Path(source)
    archive = Archive.open(settings, migrate=False)
    try:
        records = (
            r for r in itertools.islice(detect_source(path)(path), usable) if share_key(r) in keys
        )
        return import_history(
            archive, records, category=category, progress=lambda _r: report_progress(1)
        )
    finally:
        archive.close()


def _merged(reports: list[ImportReport]) -> ImportReport:
    merged = ImportReport()
    for report in reports:
        merged.records += report.records
        merged.skipped_existing += report.skipped_existing
        merged.documents |= report.documents
        for outcome, count in report.outcomes.items():
            merged.outcomes[outcome] = merged.outcomes.get(outcome, 0) + count
        for reason, count in report.rejected.items():
            merged.rejected[reason] = merged.rejected.get(reason, 0) + count
    return merged
