"""Import Open Terms Archive history: dataset archives (.zip), `*-versions` git clones and the
JSON-lines export. Every record goes through the same gate (`archive.quality.assess_text`) and the
same `Archive.record_check` path as a live capture, so quality checks (error pages, walls, stubs,
lost text) and noise rules (normalisation, flip-flops, technical re-extractions) apply equally."""

from __future__ import annotations

import datetime as dt
import json
import lzma
import re
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from clausewatch import extract
from clausewatch.archive import quality
from clausewatch.archive.decide import Outcome
from clausewatch.archive.service import Archive, CheckInput, SourceCapture
from clausewatch.registry.models import DocumentDeclaration, PlatformDeclaration, SourceDeclaration
from clausewatch.registry.ota import ota_slug
from clausewatch.registry.vocabulary import resolve_document_type
from clausewatch.storage.models import Capture, Document, Version

IMPORT_FETCHER = "ota-import"
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})Z\.md$")


class ImportFormatError(ValueError):
    pass


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


def _parse_time(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def read_jsonl(path: Path) -> Iterator[OtaRecord]:
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                yield OtaRecord(
                    service=row["service"],
                    terms_type=row["terms_type"],
                    recorded_at=_parse_time(row["recorded_at"]),
                    kind=row.get("kind", "change"),
                    text=row.get("text"),
                    ref=row.get("ota_commit") or f"{path.name}:{line_no}",
                    collection=row.get("collection", "ota"),
                    message=row.get("message", ""),
                )
            except (json.JSONDecodeError, KeyError, ValueError) as exc:
                raise ImportFormatError(f"{path}:{line_no}: {exc}") from exc


def read_dataset_zip(path: Path) -> Iterator[OtaRecord]:
    """`<archive>/<service>/<terms type>/<YYYY-MM-DDTHH-MM-SSZ>.md` entries, oldest first."""
    with zipfile.ZipFile(path) as archive:
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
            key = (service, terms_type)
            yield OtaRecord(
                service=service,
                terms_type=terms_type,
                recorded_at=when,
                kind="change" if key in seen else "first",
                text=archive.read(name).decode("utf-8"),
                ref=f"{path.name}:{name}",
                collection=parts_collection(name),
            )
            seen.add(key)


def parts_collection(name: str) -> str:
    return name.split("/", 1)[0]


def read_versions_repo(path: Path) -> Iterator[OtaRecord]:
    """A local clone of an OTA `*-versions` repository: `<service>/<terms type>.md` files whose
    commit messages say what happened ("Start tracking", "Record changes", "Apply technical or
    declaration upgrade", "Delete")."""
    if not (path / ".git").exists():
        raise ImportFormatError(f"{path}: not a git repository")
    log = subprocess.run(
        [
            "git",
            "-C",
            str(path),
            "log",
            "--reverse",
            "--format=@@%H%x09%cI%x09%s",
            "--name-status",
            "--no-renames",
            "--",
            "*.md",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
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
        text = None
        if status != "D":
            text = subprocess.run(
                ["git", "-C", str(path), "show", f"{commit}:{file}"],
                check=True,
                capture_output=True,
            ).stdout.decode("utf-8")
        yield OtaRecord(
            service=service,
            terms_type=terms_type,
            recorded_at=_parse_time(when),
            kind=_kind_from_message(subject, status),
            text=text,
            ref=commit,
            collection=path.name,
            message=subject,
        )


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
    report = ImportReport()
    with archive.sessions() as session:
        done = set(session.scalars(select(Capture.url).where(Capture.fetcher == IMPORT_FETCHER)))
    documents: dict[tuple[str, str], int] = {}
    gates: dict[int, _DocumentGate] = {}
    for record in records:
        report.records += 1
        source_ref = f"ota:{record.collection}/{record.service}/{record.terms_type}@{record.ref}"
        if source_ref in done:
            report.skipped_existing += 1
            if progress:
                progress(record)
            continue
        key = (record.service, record.terms_type)
        if key not in documents:
            platform = _platform_for(record, category)
            documents[key] = archive.ensure_document(platform, platform.documents[0].type)
        document_id = documents[key]
        gate = gates.setdefault(document_id, _DocumentGate())
        outcome = _import_record(archive, document_id, record, source_ref, gate, report)
        report.add(outcome)
        report.documents.add(f"{record.service} / {record.terms_type}")
        if progress:
            progress(record)
    return report


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


def _current_text(archive: Archive, document_id: int, gate: _DocumentGate) -> str | None:
    with archive.sessions() as session:
        sha = session.scalar(
            select(Version.text_sha256)
            .join(Document, Document.current_version_id == Version.id)
            .where(Document.id == document_id)
        )
    if sha is None:
        return None
    if gate.current is None or gate.current[0] != sha:
        gate.current = (sha, archive.store.get(sha).decode("utf-8"))
    return gate.current[1]


def _import_record(
    archive: Archive,
    document_id: int,
    record: OtaRecord,
    ref: str,
    gate: _DocumentGate,
    report: ImportReport,
) -> str:
    raw = (record.text or "").encode("utf-8")
    snapshot = archive.store.put(raw) if record.text is not None else None
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
        gate.shrunk = None
        return _record(
            archive,
            CheckInput(
                document_id=document_id,
                captures=[capture],
                checked_at=record.recorded_at,
                failure=Outcome.DELETED,
                reason="deleted in the source archive",
            ),
        )
    text = extract.normalise_for_hash(record.text)
    technical = record.kind == "technical_upgrade"
    previous = _current_text(archive, document_id, gate)
    problem = quality.assess_text(text, previous, shrunk=gate.shrunk)
    if problem is not None:
        # The same refusal as a live capture's: a failed capture with the reason, the record's
        # text kept as its snapshot, no version, no change; the next record is compared with
        # the current version as if this one had never come.
        report.reject(problem)
        if problem.startswith(quality.LOST_TEXT):
            gate.shrunk, gate.shrunk_technical = text, technical
        return _record(
            archive,
            CheckInput(
                document_id=document_id,
                captures=[capture],
                checked_at=record.recorded_at,
                failure=Outcome.SUSPICIOUS,
                reason=problem,
            ),
        )
    if gate.shrunk is not None and quality.assess_text(text, previous) is not None:
        # Accepted only as the shrink the refused record began: technical if that was an upgrade.
        technical = technical or gate.shrunk_technical
    gate.shrunk = None
    sha = extract.text_sha256(text)
    archive.store.put(text.encode("utf-8"))
    return _record(
        archive,
        CheckInput(
            document_id=document_id,
            captures=[capture],
            checked_at=record.recorded_at,
            text=text,
            text_sha256=sha,
            require_confirmation=False,  # the source archive recorded it as a change already
            technical=technical,
            origin=origin,
            extractor_version=f"ota:{record.collection}",
        ),
    )


def _record(archive: Archive, check: CheckInput) -> str:
    return str(archive.record_check(check).outcome)
