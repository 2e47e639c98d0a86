"""Import Open Terms Archive history: dataset archives (.zip), `*-versions` git clones and the
JSON-lines export. Every record goes through the same gate (`archive.quality.assess_text`) and the
same write path as a live capture (`Archive.record_checks`, as the capture cycle's batches), so
quality checks (error pages, walls, stubs, lost text) and noise rules (normalisation, flip-flops,
technical re-extractions) apply equally."""

from __future__ import annotations

import datetime as dt
import json
import lzma
import re
import subprocess
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from clausewatch import extract
from clausewatch.archive import quality
from clausewatch.archive.decide import Outcome
from clausewatch.archive.service import Archive, CheckInput, CheckRecord, SourceCapture
from clausewatch.registry.models import (
    CONTROL_MESSAGE,
    DocumentDeclaration,
    PlatformDeclaration,
    SourceDeclaration,
    control_character,
)
from clausewatch.registry.ota import ota_slug
from clausewatch.registry.vocabulary import resolve_document_type
from clausewatch.storage.models import Capture, Document, Version

IMPORT_FETCHER = "ota-import"
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})Z\.md$")


class ImportFormatError(ValueError):
    """A source that cannot be imported, in one line naming where (``file:line``, a zip entry
    or a commit) and, where there is one, the field. ``report`` is what was imported before it
    (set by `import_history`)."""

    def __init__(self, message: str, report: ImportReport | None = None) -> None:
        super().__init__(message)
        self.report = report


KINDS = ("first", "change", "technical_upgrade", "deleted")


@dataclass(frozen=True)
class OtaRecord:
    service: str
    terms_type: str
    recorded_at: dt.datetime
    kind: str  # first | change | technical_upgrade | deleted
    text: str | None
    ref: str  # a stable reference to the record in its source (commit or file path)
    collection: str = "ota"
    message: str = ""
    location: str = ""  # where it was read, for errors: file:line, archive:entry, repo@commit


@dataclass
class ImportReport:
    records: int = 0
    skipped_existing: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    documents: set[str] = field(default_factory=set)
    rejected: dict[str, int] = field(default_factory=dict)  # gate reason (its kind) -> records

    def add(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def reject(self, reason: str) -> None:
        kind = reason.split(" (", 1)[0]
        self.rejected[kind] = self.rejected.get(kind, 0) + 1


@dataclass
class _DocumentGate:
    """What the gate needs to know of one document during an import: the text of its current
    version (cached by hash) and the last text refused for losing most of it."""

    current: tuple[str, str] | None = None  # (sha256, text)
    shrunk: str | None = None
    shrunk_technical: bool = False
    last_snapshot: str | None = None  # the store's delta hint for the next record's snapshot
    # The gate's recent answers by (text, current text, shrunk text) SHA-256s: most records
    # normalise to a text seen before (verified, variants), judged against the same version.
    assessed: dict[tuple[str, str | None, str | None], str | None] = field(default_factory=dict)

    def assess(self, text: str, sha: str, previous: str | None) -> str | None:
        """`quality.assess_text` of a text against the current version, remembered: a
        pure function of the three texts, asked again for every repeat of a text."""
        key = (
            sha,
            self.current[0] if previous is not None and self.current else None,
            extract.text_sha256(self.shrunk) if self.shrunk is not None else None,
        )
        if key not in self.assessed:
            if len(self.assessed) >= 64:
                self.assessed.clear()
            self.assessed[key] = quality.assess_text(text, previous, shrunk=self.shrunk)
        return self.assessed[key]


def _parse_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _short(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def check_record(record: OtaRecord, where: str) -> None:
    """What every record must satisfy, whatever its source; raises `ImportFormatError`."""
    for name in ("service", "terms_type"):
        value = getattr(record, name)
        if not isinstance(value, str) or not value.strip():
            raise ImportFormatError(f'{where}: field "{name}" is empty')
        if found := control_character(value):  # it becomes a platform or document name
            raise ImportFormatError(f'{where}: field "{name}": {CONTROL_MESSAGE}; found {found}')
    if not ota_slug(record.service):
        raise ImportFormatError(
            f'{where}: field "service": {_short(record.service)} has no letter or digit to '
            "make a platform slug of"
        )
    if record.kind not in KINDS:
        raise ImportFormatError(
            f'{where}: field "kind": {_short(str(record.kind))} is not one of {", ".join(KINDS)}'
        )
    if record.text is not None and not isinstance(record.text, str):
        raise ImportFormatError(f'{where}: field "text": expected a string or null')


def _undecodable_field(row: object) -> str | None:
    """The field whose string holds the bytes that were not UTF-8 (decoded as surrogates)."""
    if not isinstance(row, dict):
        return None
    for name, value in row.items():
        if isinstance(value, str) and any("\udc80" <= ch <= "\udcff" for ch in value):
            return str(name)
    return None


def _record_from_row(row: object, where: str, ref: str) -> OtaRecord:
    if not isinstance(row, dict):
        raise ImportFormatError(f"{where}: expected a JSON object, got {_json_type(row)}")

    def string(name: str, *, default: str | None = None, nullable: bool = False) -> str | None:
        if name not in row:
            if default is None and not nullable:
                raise ImportFormatError(f'{where}: field "{name}" is missing')
            return default
        value = row[name]
        if value is None and nullable:
            return default
        if not isinstance(value, str):
            wanted = "a string or null" if nullable else "a string"
            raise ImportFormatError(
                f'{where}: field "{name}": expected {wanted}, got {_json_type(value)}'
            )
        return value

    stamp = string("recorded_at") or ""
    try:
        recorded_at = _parse_time(stamp)
    except ValueError as exc:
        raise ImportFormatError(
            f'{where}: field "recorded_at": {_short(stamp)} is not an ISO 8601 date-time'
        ) from exc
    record = OtaRecord(
        service=string("service") or "",
        terms_type=string("terms_type") or "",
        recorded_at=recorded_at,
        kind=string("kind", default="change") or "change",
        text=string("text", nullable=True),
        ref=string("ota_commit", nullable=True) or ref,
        collection=string("collection", default="ota") or "ota",
        message=string("message", default="", nullable=True) or "",
        location=where,
    )
    check_record(record, where)
    return record


def read_jsonl(path: Path) -> Iterator[OtaRecord]:
    """One JSON object a line (.jsonl, or .jsonl.xz / .json.xz compressed). Any fault stops the
    read with an `ImportFormatError` naming ``file:line`` and the field."""
    line_no = 0
    try:
        with lzma.open(path, "rb") if path.suffix == ".xz" else path.open("rb") as fh:
            for line_no, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                where = f"{path}:{line_no}"
                line = raw.decode("utf-8", "surrogateescape")
                try:
                    row = json.loads(line.removeprefix("\ufeff") if line_no == 1 else line)
                except json.JSONDecodeError as exc:
                    raise ImportFormatError(
                        f"{where}: invalid JSON: {exc.msg} (column {exc.colno})"
                    ) from exc
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    name = _undecodable_field(row)
                    what = f'field "{name}": ' if name else ""
                    raise ImportFormatError(
                        f"{where}: {what}not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                        f"column {exc.start + 1})"
                    ) from exc
                yield _record_from_row(row, where, f"{path.name}:{line_no}")
    except (EOFError, lzma.LZMAError) as exc:
        raise ImportFormatError(
            f"{path}:{line_no + 1}: the compressed data is damaged or cut short ({exc})"
        ) from exc


def read_dataset_zip(path: Path) -> Iterator[OtaRecord]:
    """`<archive>/<service>/<terms type>/<YYYY-MM-DDTHH-MM-SSZ>.md` entries, oldest first."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportFormatError(f"{path}: not a readable zip archive ({exc})") from exc
    with archive:
        entries = []
        for name in archive.namelist():
            parts = name.split("/")
            match = _STAMP.search(name)
            if len(parts) != 4 or not match:
                continue
            day, hh, mm, ss = match.groups()
            when = _parse_time(f"{day}T{hh}:{mm}:{ss}+00:00")
            entries.append((when, parts[1], parts[2], name))
        if not entries:
            raise ImportFormatError(f"{path}: no <service>/<terms type>/<date>.md entries")
        seen: set[tuple[str, str]] = set()
        for when, service, terms_type, name in sorted(entries):
            where = f"{path}:{name}"
            try:
                data = archive.read(name)
            except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError) as exc:
                raise ImportFormatError(f"{where}: the entry cannot be read ({exc})") from exc
            text = _utf8(data, where)
            key = (service, terms_type)
            record = OtaRecord(
                service=service,
                terms_type=terms_type,
                recorded_at=when,
                kind="change" if key in seen else "first",
                text=text,
                ref=f"{path.name}:{name}",
                collection=parts_collection(name),
                location=where,
            )
            check_record(record, where)
            yield record
            seen.add(key)


def _utf8(data: bytes, where: str) -> str:
    """A stored file's text, or one error line naming where its first non-UTF-8 byte is."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(
            f"{where}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc


def parts_collection(name: str) -> str:
    return name.split("/", 1)[0]


def read_versions_repo(path: Path) -> Iterator[OtaRecord]:
    """A local clone of an OTA `*-versions` repository: `<service>/<terms type>.md` files whose
    commit messages say what happened ("Start tracking", "Record changes", "Apply technical or
    declaration upgrade", "Delete")."""
    if not (path / ".git").exists():
        raise ImportFormatError(f"{path}: not a git repository")
    try:
        log = _git(
            path,
            "log",
            "--reverse",
            "--format=@@%H%x09%cI%x09%s",
            "--name-status",
            "--no-renames",
            "--",
            "*.md",
        ).decode("utf-8", "replace")
    except subprocess.CalledProcessError as exc:
        raise ImportFormatError(f"{path}: git log failed: {_stderr(exc)}") from exc
    commit = when = subject = ""
    for line in log.splitlines():
        if line.startswith("@@"):
            commit, stamp, subject = line[2:].split("\t", 2)
            when = stamp
            continue
        if not line.strip():
            continue
        status, _, file = line.partition("\t")
        parts = file.split("/")
        if len(parts) != 2 or not file.endswith(".md") or parts[0].startswith("."):
            continue
        service, terms_type = parts[0], parts[1].removesuffix(".md")
        where = f"{path}/{file}@{commit[:12]}"
        text = None
        if status != "D":
            try:
                data = _git(path, "show", f"{commit}:{file}")
            except subprocess.CalledProcessError as exc:
                raise ImportFormatError(f"{where}: git show failed: {_stderr(exc)}") from exc
            text = _utf8(data, where)
        record = OtaRecord(
            service=service,
            terms_type=terms_type,
            recorded_at=_parse_time(when),
            kind=_kind_from_message(subject, status),
            text=text,
            ref=commit,
            collection=path.name,
            message=subject,
            location=where,
        )
        check_record(record, where)
        yield record


def _git(path: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True).stdout


def _stderr(exc: subprocess.CalledProcessError) -> str:
    lines = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {exc.returncode}"


def _kind_from_message(subject: str, status: str) -> str:
    lowered = subject.lower()
    if status == "D" or lowered.startswith("delete"):
        return "deleted"
    if "technical" in lowered or "upgrade" in lowered:
        return "technical_upgrade"
    if lowered.startswith("start tracking") or status == "A":
        return "first"
    return "change"


def detect_source(path: Path) -> Callable[[Path], Iterator[OtaRecord]]:
    if not path.exists():
        raise ImportFormatError(f"{path}: no such file or folder")
    if path.is_dir():
        return read_versions_repo
    if path.suffix == ".zip":
        return read_dataset_zip
    if path.name.endswith((".jsonl", ".jsonl.xz", ".json.xz")):
        return read_jsonl
    raise ImportFormatError(
        f"{path}: not an Open Terms Archive source (a dataset .zip, a *-versions git clone, "
        "or a .jsonl[.xz] export)"
    )


def import_history(
    archive: Archive,
    records: Iterator[OtaRecord],
    *,
    category: str = "social-media",
    progress: Callable[[OtaRecord], None] | None = None,
) -> ImportReport:
    """Import records in order: consecutive records of different documents are written in one
    transaction (up to `BATCH`), so each document's records are applied one after another, as
    one at a time would apply them. A record already imported (its
    capture's ``import_ref``, unique in the database) is skipped, checked again under the
    document's lock when it is recorded: imports of one source running at once record each
    record once, and end as one import would. A faulty record stops the import with an
    `ImportFormatError` (its ``report``: what was imported before it, consistent as it is)."""
    report = ImportReport()
    try:
        _import_all(archive, records, category, progress, report)
    except ImportFormatError as exc:
        exc.report = report
        raise
    return report


# Records applied in one transaction (`Archive.record_checks`): consecutive records of different
# documents, so that each document's records are still applied in order, one after another.
BATCH = 64


@dataclass
class _Pending:
    """A record read and waiting for its batch: its reference and the document it lands on."""

    record: OtaRecord
    ref: str
    document_id: int


def _import_all(
    archive: Archive,
    records: Iterator[OtaRecord],
    category: str,
    progress: Callable[[OtaRecord], None] | None,
    report: ImportReport,
) -> None:
    documents: dict[tuple[str, str], int] = {}
    gates: dict[int, _DocumentGate] = {}
    batch: list[_Pending] = []
    try:
        for record in records:
            check_record(record, record.location or record.ref)
            report.records += 1
            key = (record.service, record.terms_type)
            if key not in documents:
                platform = _platform_for(record, category)
                documents[key] = archive.ensure_document(platform, platform.documents[0].type)
            document_id = documents[key]
            if len(batch) >= BATCH or any(p.document_id == document_id for p in batch):
                _import_batch(archive, batch, gates, progress, report)
                batch = []
            ref = f"ota:{record.collection}/{record.service}/{record.terms_type}@{record.ref}"
            batch.append(_Pending(record, ref, document_id))
    finally:  # also before a faulty record's error: the records before it are imported
        if batch:
            _import_batch(archive, batch, gates, progress, report)


def _import_batch(
    archive: Archive,
    batch: list[_Pending],
    gates: dict[int, _DocumentGate],
    progress: Callable[[OtaRecord], None] | None,
    report: ImportReport,
) -> None:
    """Records of different documents: those not yet imported are checked by the gate and
    written in one transaction; what the gate knows follows each record's outcome."""
    existing = _imported_many(archive, [p.ref for p in batch])
    todo = [p for p in batch if p.ref not in existing]
    current = _current_shas(archive, [p.document_id for p in todo])
    prepared: list[tuple[_Pending, CheckInput, str | None]] = []
    for pending in todo:
        gate = gates.setdefault(pending.document_id, _DocumentGate())
        check, problem = _prepare(archive, pending, gate, current.get(pending.document_id))
        prepared.append((pending, check, problem))
    results = _record_all(archive, [check for _, check, _ in prepared])
    for (pending, _check, problem), result in zip(prepared, results, strict=True):
        record = pending.record
        gate = gates[pending.document_id]
        if result is None:  # recorded meanwhile by an import running beside this one
            found = _imported(archive, pending.ref)
            if found is None:
                raise RuntimeError(f"{pending.ref}: refused as imported, but not recorded")
            existing[pending.ref] = found
            continue
        _follow(gate, record, str(result.outcome), result.reason)
        report.add(str(result.outcome))
        if problem is not None:
            report.reject(problem)
        report.documents.add(f"{record.service} / {record.terms_type}")
    for pending in batch:
        if pending.ref in existing:
            # What the gate knows follows the stored outcome, as if this import had recorded it
            document_id, outcome, reason = existing[pending.ref]
            _follow(gates.setdefault(document_id, _DocumentGate()), pending.record, outcome, reason)
            report.skipped_existing += 1
        if progress:
            progress(pending.record)


def _imported(archive: Archive, ref: str) -> tuple[int, str, str | None] | None:
    """(document id, outcome, reason) of the capture that recorded ``ref``, if there is one."""
    return _imported_many(archive, [ref]).get(ref)


def _imported_many(archive: Archive, refs: list[str]) -> dict[str, tuple[int, str, str | None]]:
    """Reference -> (document id, outcome, reason) of those of ``refs`` already recorded."""
    with archive.engine.connect() as conn:
        rows = conn.execute(
            select(Capture.import_ref, Capture.document_id, Capture.outcome, Capture.reason).where(
                Capture.import_ref.in_(refs)
            )
        )
        return {str(row[0]): (row[1], row[2], row[3]) for row in rows}


def _current_shas(archive: Archive, document_ids: list[int]) -> dict[int, str]:
    """Document id -> the text SHA-256 of its current version (documents with one)."""
    if not document_ids:
        return {}
    with archive.engine.connect() as conn:
        rows = conn.execute(
            select(Document.id, Version.text_sha256)
            .join(Version, Document.current_version_id == Version.id)
            .where(Document.id.in_(document_ids))
        )
        return {row[0]: row[1] for row in rows}


def _follow(gate: _DocumentGate, record: OtaRecord, outcome: str, reason: str | None) -> None:
    """Update the gate's memory of the last refused shrink from a record's outcome."""
    if outcome == Outcome.SUSPICIOUS:
        if reason is not None and reason.startswith(quality.LOST_TEXT) and record.text is not None:
            gate.shrunk = extract.normalise_for_hash(record.text)
            gate.shrunk_technical = record.kind == "technical_upgrade"
        return  # other refusals leave it as it was
    gate.shrunk = None  # a deletion or an accepted text


def _platform_for(record: OtaRecord, category: str) -> PlatformDeclaration:
    placeholder = f"ota:{record.collection}/{record.service}/{record.terms_type}"
    # The registry's name for the type ("Trackers Policy" is our "Cookie Policy"), so that
    # imported history lands on the same document as the registry's declaration.
    doc_type = resolve_document_type(record.terms_type) or record.terms_type
    return PlatformDeclaration(
        slug=ota_slug(record.service),
        name=record.service,
        category=category,
        website="",
        documents=(
            DocumentDeclaration(type=doc_type, sources=(SourceDeclaration(url=placeholder),)),
        ),
    )


def _current_text(archive: Archive, sha: str | None, gate: _DocumentGate) -> str | None:
    """The text of the document's current version (SHA-256 ``sha``), read once per version."""
    if sha is None:
        return None
    if gate.current is None or gate.current[0] != sha:
        gate.current = (sha, archive.store.get(sha).decode("utf-8"))
    return gate.current[1]


def _prepare(
    archive: Archive, pending: _Pending, gate: _DocumentGate, current_sha: str | None
) -> tuple[CheckInput, str | None]:
    """A record's check, its blobs stored (the snapshot, and the normalised text), and the
    gate's refusal if any. Only reads the archive: the check is applied by the caller."""
    record, ref, document_id = pending.record, pending.ref, pending.document_id
    raw = (record.text or "").encode("utf-8")
    snapshot = None
    if record.text is not None:
        # stored as a delta of the document's previous snapshot where that is much smaller
        hint = gate.last_snapshot or (gate.current[0] if gate.current else None)
        snapshot = gate.last_snapshot = archive.store.put(raw, base=hint)
    capture = SourceCapture(
        url=ref,
        final_url=ref,
        fetcher=IMPORT_FETCHER,
        started_at=record.recorded_at,
        status_code=None,
        headers={"x-ota-kind": record.kind, "x-ota-message": record.message[:500]},
        snapshot_sha256=snapshot,
        size=len(raw),
    )
    origin = {
        "source": "open-terms-archive",
        "collection": record.collection,
        "ref": record.ref,
        "kind": record.kind,
    }
    if record.kind == "deleted" or record.text is None:
        return CheckInput(
            document_id=document_id,
            captures=[capture],
            checked_at=record.recorded_at,
            failure=Outcome.DELETED,
            reason="deleted in the source archive",
            import_ref=ref,
        ), None
    text = extract.normalise_for_hash(record.text)
    sha = extract.text_sha256(text)
    technical = record.kind == "technical_upgrade"
    previous = _current_text(archive, current_sha, gate)
    problem = gate.assess(text, sha, previous)
    if problem is not None:
        # The same refusal as a live capture's: a failed capture with the reason, the record's
        # text kept as its snapshot, no version, no change; the next record is compared with
        # the current version as if this one had never come.
        return CheckInput(
            document_id=document_id,
            captures=[capture],
            checked_at=record.recorded_at,
            failure=Outcome.SUSPICIOUS,
            reason=problem,
            import_ref=ref,
        ), problem
    if gate.shrunk is not None and quality.assess_text(text, previous) is not None:
        # Accepted only as the shrink the refused record began: technical if that was an upgrade.
        technical = technical or gate.shrunk_technical
    archive.store.put(text.encode("utf-8"), base=snapshot, derived=True)  # normalised from it
    return CheckInput(
        document_id=document_id,
        captures=[capture],
        checked_at=record.recorded_at,
        text=text,
        text_sha256=sha,
        require_confirmation=False,  # the source archive recorded it as a change already
        technical=technical,
        origin=origin,
        extractor_version=f"ota:{record.collection}",
        import_ref=ref,
    ), None


def _record_all(archive: Archive, checks: list[CheckInput]) -> list[CheckRecord | None]:
    """Apply checks of different documents in one transaction; a batch the database refuses
    (a record imported meanwhile by an import beside this one: the unique index) is applied
    again check by check. None for a check whose record was already imported."""
    if not checks:
        return []
    try:
        results = archive.record_checks(checks)
    except IntegrityError:
        return [_record(archive, check) for check in checks]
    return [None if result.already_imported else result for result in results]


def _record(archive: Archive, check: CheckInput) -> CheckRecord | None:
    """Apply the check; None when its record was already imported (by an import beside this
    one: found under the document's lock, or refused by the unique index)."""
    try:
        result = archive.record_check(check)
    except IntegrityError:
        if check.import_ref is None or _imported(archive, check.import_ref) is None:
            raise
        return None
    return None if result.already_imported else result
