"""The archive service: the one write path for platforms, documents, captures and versions.

The CLI, the capture cycle, importers and (later) the web and workers all call this class, so
that every rule about what becomes a version lives in one place (`decide`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, bindparam, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload, sessionmaker

from clausewatch.archive import chain
from clausewatch.archive.decide import VERIFICATIONS, DocumentState, Outcome, decide
from clausewatch.archive.quality import LOST_TEXT
from clausewatch.archive.snapshots import SnapshotStore, open_store
from clausewatch.capture.base import FetchResult
from clausewatch.config import Settings
from clausewatch.extract.normalise import comparison_sha256
from clausewatch.ids import parse_id
from clausewatch.registry.models import DocumentDeclaration, PlatformDeclaration
from clausewatch.storage.db import make_engine, session_factory, transaction
from clausewatch.storage.migrate import upgrade
from clausewatch.storage.models import (
    Capture,
    ChangeRecord,
    Document,
    PendingChange,
    Platform,
    Variant,
    Version,
    VersionCapture,
)

# The latest capture of a source that had content (``Archive.last_snapshot``), built once.
_LAST_SNAPSHOT = (
    select(Capture.snapshot_sha256)
    .where(
        Capture.document_id == bindparam("document_id"),
        Capture.url == bindparam("url"),
        Capture.snapshot_sha256.is_not(None),
        Capture.outcome.not_in([Outcome.FAILED, Outcome.SUSPICIOUS]),
    )
    .order_by(Capture.id.desc())
    .limit(1)
)
_LAST_SNAPSHOT_OF_TEXT = _LAST_SNAPSHOT.where(Capture.text_sha256 == bindparam("text_sha256"))


@dataclass
class SourceCapture:
    """What is recorded of one source fetch (live) or one imported record."""

    url: str
    final_url: str
    fetcher: str
    started_at: dt.datetime
    status_code: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    redirect_chain: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    attempts: int = 1
    elapsed_ms: float = 0.0
    snapshot_sha256: str | None = None
    size: int = 0

    @classmethod
    def from_fetch(cls, result: FetchResult, snapshot_sha256: str | None) -> SourceCapture:
        return cls(
            url=result.url,
            final_url=result.final_url,
            fetcher=result.fetcher,
            started_at=result.started_at,
            status_code=result.status,
            headers=dict(result.headers),
            redirect_chain=[{"status": r.status, "url": r.url} for r in result.redirect_chain],
            timings=dict(result.timings),
            attempts=result.attempts,
            elapsed_ms=result.elapsed_ms,
            snapshot_sha256=snapshot_sha256,
            size=len(result.content),
        )


@dataclass
class CheckInput:
    """One check of a document: its source captures and either a text or why there is none."""

    document_id: int
    captures: Sequence[SourceCapture]
    checked_at: dt.datetime
    text: str | None = None  # normalised document text
    text_sha256: str | None = None
    failure: Outcome | None = None  # FAILED / SUSPICIOUS / DELETED when there is no text
    reason: str | None = None
    require_confirmation: bool = True
    # Seconds after a pending change was first seen before the same text confirms it (the
    # capture cycle's confirm delay): a fetch made sooner, e.g. by a concurrent run, is one
    # more sighting of the change, not its confirmation. Checked under the document's lock.
    confirm_after: float = 0.0
    technical: bool = False  # text changed by re-extraction only
    origin: dict[str, Any] = field(default_factory=dict)
    extractor_version: str = ""
    validators: dict[str, dict[str, str]] = field(default_factory=dict)
    # Imports: the record's reference (the capture's url). A check whose reference is already
    # recorded is not applied again (checked under the document's lock, unique in the database).
    import_ref: str | None = None


@dataclass
class CheckRecord:
    document_id: int
    outcome: Outcome
    reason: str | None
    capture_ids: list[int]
    version_id: int | None = None
    already_imported: bool = False  # import_ref was recorded before: nothing was written


@dataclass
class SyncReport:
    platforms_added: int = 0
    documents_added: int = 0
    documents_updated: int = 0


@dataclass
class _Applied:
    """A check decided inside a write transaction, its capture rows not yet in the log."""

    document: Document
    check: CheckInput
    outcome: Outcome
    version: Version | None
    captures: list[Capture]


@dataclass
class _Preloaded:
    """A batch's pending changes (by document) and variants (by document and version)."""

    pending: dict[int, PendingChange] = field(default_factory=dict)
    variants: dict[tuple[int, int | None], set[str]] = field(default_factory=dict)


def _validate(check: CheckInput) -> None:
    if check.text is not None and check.text_sha256 is None:
        raise ValueError("CheckInput.text given without text_sha256")


class Archive:
    def __init__(self, engine: Engine, store: SnapshotStore, settings: Settings) -> None:
        self.engine = engine
        self.store = store
        self._keys: dict[str, str] = {}  # text SHA-256 -> comparison key, for stored texts
        self.settings = settings
        self.sessions: sessionmaker[Session] = session_factory(engine)

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Archive:
        engine = make_engine(settings.resolved_database_url)
        if migrate:
            upgrade(engine)
        return cls(engine, open_store(settings.resolved_snapshot_store), settings)

    def close(self) -> None:
        self.engine.dispose()
        close_store = getattr(self.store, "close", None)
        if close_store is not None:
            close_store()

    # -- registry --------------------------------------------------------------------------

    def sync_registry(self, platforms: Iterable[PlatformDeclaration]) -> SyncReport:
        report = SyncReport()
        with transaction(self.sessions) as session:
            for decl in platforms:
                platform = session.scalars(
                    select(Platform).where(Platform.slug == decl.slug)
                ).first()
                if platform is None:
                    platform = Platform(slug=decl.slug)
                    session.add(platform)
                    report.platforms_added += 1
                platform.name = decl.name
                platform.category = decl.category
                platform.jurisdictions = list(decl.jurisdictions)
                platform.website = decl.website
                session.flush()
                for doc_decl in decl.documents:
                    self._sync_document(session, platform, doc_decl, report)
        return report

    def _sync_document(
        self,
        session: Session,
        platform: Platform,
        decl: DocumentDeclaration,
        report: SyncReport,
        *,
        update: bool = True,
    ) -> Document:
        document = session.scalars(
            select(Document).where(
                Document.platform_id == platform.id, Document.doc_type == decl.type
            )
        ).first()
        fingerprint = decl.extraction_fingerprint()
        stored = decl.stored()
        if document is None:
            document = Document(
                platform_id=platform.id,
                doc_type=decl.type,
                declaration=stored,
                declaration_fingerprint=fingerprint,
                validators={},
            )
            session.add(document)
            session.flush()
            report.documents_added += 1
        elif update and (
            document.declaration_fingerprint != fingerprint or document.declaration != stored
        ):
            # A changed fingerprint means re-extraction; a frequency alone changes no text.
            document.declaration = stored
            document.declaration_fingerprint = fingerprint
            report.documents_updated += 1
        return document

    def ensure_document(self, platform: PlatformDeclaration, doc_type: str) -> int:
        """The id of a platform's document, creating what is missing (for imports). An existing
        platform or document keeps its registry declaration. Safe when two imports create the
        same platform at once: the loser of the race retries and finds the winner's rows."""
        try:
            return self._ensure_document(platform, doc_type)
        except IntegrityError:
            return self._ensure_document(platform, doc_type)

    def _ensure_document(self, platform: PlatformDeclaration, doc_type: str) -> int:
        with transaction(self.sessions) as session:
            row = session.scalars(select(Platform).where(Platform.slug == platform.slug)).first()
            if row is None:
                row = Platform(
                    slug=platform.slug,
                    name=platform.name,
                    category=platform.category,
                    jurisdictions=list(platform.jurisdictions),
                    website=platform.website,
                )
                session.add(row)
                session.flush()
            decl = next(d for d in platform.documents if d.type == doc_type)
            return self._sync_document(session, row, decl, SyncReport(), update=False).id

    # -- reading ---------------------------------------------------------------------------

    def documents(self, *, active_only: bool = True, ids: Sequence[str] = ()) -> list[Document]:
        with self.sessions() as session:
            query = (
                select(Document)
                .options(selectinload(Document.platform), selectinload(Document.current_version))
                .order_by(Document.id)
            )
            if active_only:
                query = query.where(Document.active.is_(True))
            if ids:
                query = query.where(Document.id.in_([parse_id(i, "D") for i in ids]))
            return list(session.scalars(query))

    def document(self, document_id: int) -> Document:
        with self.sessions() as session:
            # one query: a worker reads its document once per capture task
            doc = session.scalars(
                select(Document)
                .where(Document.id == document_id)
                .options(joinedload(Document.platform), joinedload(Document.current_version))
            ).first()
            if doc is None:
                raise LookupError(f"no document D-{document_id:05d}")
            return doc

    def version_text(self, version: Version) -> str:
        return self.text(version.text_sha256)

    def text(self, sha256: str) -> str:
        """An archived text (a version's) by its SHA-256, for read paths holding only the hash."""
        return self.store.get(sha256).decode("utf-8")

    def versions(self, document_id: int) -> list[Version]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(Version).where(Version.document_id == document_id).order_by(Version.id)
                )
            )

    def captures(self, document_id: int | None = None) -> list[Capture]:
        with self.sessions() as session:
            query = select(Capture).order_by(Capture.id)
            if document_id is not None:
                query = query.where(Capture.document_id == document_id)
            return list(session.scalars(query))

    def last_snapshot(
        self, document_id: int, url: str, text_sha256: str | None = None
    ) -> str | None:
        """The snapshot of the latest capture of ``url`` that had content (for 304 answers),
        optionally only among captures whose document text was ``text_sha256``. Asked once or
        twice per check: a prepared statement on a plain connection (no ORM session)."""
        params: dict[str, Any] = {"document_id": document_id, "url": url}
        query = _LAST_SNAPSHOT
        if text_sha256 is not None:
            query, params["text_sha256"] = _LAST_SNAPSHOT_OF_TEXT, text_sha256
        with self.engine.connect() as conn:
            return conn.execute(query, params).scalar()

    def refused_shrink(self, document_id: int) -> str | None:
        """The text of the document's last check if it was refused only for losing most of the
        previous text, or waits as a detected change: what a shrinking page is compared with."""
        with self.sessions() as session:
            last = session.scalars(
                select(Capture)
                .where(Capture.document_id == document_id)
                .order_by(Capture.id.desc())
                .limit(1)
            ).first()
        if last is None or last.text_sha256 is None:
            return None
        refused = last.outcome == Outcome.SUSPICIOUS and (last.reason or "").startswith(LOST_TEXT)
        if not refused and last.outcome != Outcome.CHANGE_DETECTED:
            return None
        try:
            return self.store.get(last.text_sha256).decode("utf-8")
        except (KeyError, ValueError):
            return None

    def counts(self) -> dict[str, int]:
        with self.sessions() as session:
            return {
                name: session.scalar(select(func.count()).select_from(model)) or 0
                for name, model in (
                    ("platforms", Platform),
                    ("documents", Document),
                    ("captures", Capture),
                    ("versions", Version),
                )
            }

    # -- the write path --------------------------------------------------------------------

    def state(
        self,
        session: Session,
        document: Document,
        text_sha: str | None = None,
        preloaded: _Preloaded | None = None,
    ) -> DocumentState:
        """What ``decide`` compares a new text with. Given ``text_sha``, the text being decided:
        when it is the current version's own text, the variants, the predecessor and when the
        current text was last seen cannot change the outcome (verified, or unconfirmed while a
        change waits), so they are not read — the common check of an unchanged document.
        ``preloaded``: the pending changes and variants of a batch's documents, read together
        under their locks (`record_checks`)."""
        current = document.current_version
        pending = (
            preloaded.pending.get(document.id)
            if preloaded is not None
            else session.get(PendingChange, document.id)
        )
        if current is not None and text_sha == current.text_sha256:
            return DocumentState(
                current_sha=current.text_sha256,
                current_recorded_at=current.recorded_at,
                pending_sha=pending.text_sha256 if pending else None,
                current_key=self._version_key(current),
                pending_key=self._text_key(pending.text_sha256) if pending else None,
            )
        variants = (
            frozenset(preloaded.variants.get((document.id, document.current_version_id), ()))
            if preloaded is not None
            else frozenset(
                session.scalars(
                    select(Variant.text_sha256).where(
                        Variant.document_id == document.id,
                        Variant.version_id == document.current_version_id,
                    )
                )
            )
        )
        previous = (
            session.get(Version, current.predecessor_id)
            if current and current.predecessor_id
            else None
        )
        return DocumentState(
            current_sha=current.text_sha256 if current else None,
            current_recorded_at=current.recorded_at if current else None,
            previous_sha=previous.text_sha256 if previous else None,
            pending_sha=pending.text_sha256 if pending else None,
            variants=variants,
            current_key=self._version_key(current) if current else None,
            previous_key=self._version_key(previous) if previous else None,
            pending_key=self._text_key(pending.text_sha256) if pending else None,
            current_seen_at=self._last_seen(session, document.id, current) if variants else None,
        )

    def _version_key(self, version: Version) -> str:
        """The version's comparison key, computed once for versions recorded before keys."""
        if version.comparison_sha256 is None:
            version.comparison_sha256 = self._text_key(version.text_sha256)
        return version.comparison_sha256

    def _text_key(self, text_sha: str, text: str | None = None) -> str:
        """The comparison key of a text (read from the store unless given), computed once."""
        key = self._keys.get(text_sha)
        if key is None:
            if text is None:
                text = self.store.get(text_sha).decode("utf-8")
            key = comparison_sha256(text)
            if len(self._keys) > 4096:
                self._keys.clear()
            self._keys[text_sha] = key
        return key

    @staticmethod
    def _last_seen(
        session: Session, document_id: int, current: Version | None
    ) -> dt.datetime | None:
        if current is None:
            return None
        return session.scalar(
            select(func.max(Capture.started_at)).where(
                Capture.document_id == document_id, Capture.text_sha256 == current.text_sha256
            )
        )

    def record_check(self, check: CheckInput) -> CheckRecord:
        """Apply one check to the archive in one short transaction. Blobs are already stored."""
        _validate(check)
        self._prepare_keys([check])
        with transaction(self.sessions) as session:
            (record,) = self._record_all(session, [check], {check.document_id: None})
            return record

    def record_checks(self, checks: Sequence[CheckInput]) -> list[CheckRecord]:
        """Apply several checks, of different documents, in one transaction: each exactly as
        ``record_check`` would, one after another, but with one BEGIN, one log-head lock (their
        captures appended to the log together, in order) and one commit for all (the capture
        cycle's unchanged documents are mostly this bookkeeping; an import's records too).
        All or nothing: an error in any check rolls every one back and is raised; the caller
        may then record them one by one. Blobs are already stored."""
        if len({c.document_id for c in checks}) != len(checks):
            raise ValueError("record_checks: one check per document in a batch")
        for check in checks:
            _validate(check)
        self._prepare_keys(checks)
        ids = sorted(check.document_id for check in checks)
        with transaction(self.sessions) as session:
            # Every document of the batch locked first, in id order, before any check takes the
            # log head: two batches, or a batch and a single check, never wait on each other
            # in a cycle (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers).
            locked: dict[int, Document | None] = {
                document.id: document
                for document in session.scalars(
                    select(Document)
                    .where(Document.id.in_(ids))
                    .order_by(Document.id)
                    .with_for_update()
                )
            }
            # their current versions in one query: each check's lazy load of
            # ``document.current_version`` then finds its version in the session (which holds
            # objects weakly, hence the list)
            current = session.scalars(
                select(Version)
                .join(Document, Document.current_version_id == Version.id)
                .where(Document.id.in_(ids))
            ).all()
            # and their predecessors, pending changes and variants: one query each, not one
            # each per check
            previous = session.scalars(
                select(Version).where(
                    Version.id.in_([v.predecessor_id for v in current if v.predecessor_id])
                )
            ).all()
            preloaded = _Preloaded()
            for pending in session.scalars(
                select(PendingChange).where(PendingChange.document_id.in_(ids))
            ):
                preloaded.pending[pending.document_id] = pending
            for document_id, version_id, text_sha in session.execute(
                select(Variant.document_id, Variant.version_id, Variant.text_sha256).where(
                    Variant.document_id.in_(ids)
                )
            ):
                preloaded.variants.setdefault((document_id, version_id), set()).add(text_sha)
            records = self._record_all(session, checks, locked, preloaded)
            del current, previous
            return records

    def _prepare_keys(self, checks: Sequence[CheckInput]) -> None:
        """The comparison keys of the checks' texts, computed before the write lock is taken
        (CPU work that writers in other processes would otherwise wait on)."""
        for check in checks:
            if check.text is not None and check.text_sha256 is not None:
                self._text_key(check.text_sha256, check.text)

    def _record_all(
        self,
        session: Session,
        checks: Sequence[CheckInput],
        documents: dict[int, Document | None],
        preloaded: _Preloaded | None = None,
    ) -> list[CheckRecord]:
        """Checks of different documents, in order, inside the caller's write transaction
        (``documents``: their rows, already locked by the caller where not None). Their
        captures are appended to the log together, after every check was decided."""
        refs = [check.import_ref for check in checks if check.import_ref is not None]
        # Read under the documents' locks (SQLite: the write lock), so a concurrent import of
        # the same record has committed or not started; the unique index on import_ref is the
        # backstop.
        imported = (
            {
                row.import_ref: row
                for row in session.scalars(select(Capture).where(Capture.import_ref.in_(refs)))
            }
            if refs
            else {}
        )
        applied: list[CheckRecord | _Applied] = []
        for check in checks:
            document = documents.get(check.document_id)
            if document is None:
                document = session.get(Document, check.document_id, with_for_update=True)
            if document is None:
                raise LookupError(f"no document D-{check.document_id:05d}")
            existing = imported.get(check.import_ref) if check.import_ref is not None else None
            if existing is not None:
                applied.append(
                    CheckRecord(
                        document_id=document.id,
                        outcome=Outcome(existing.outcome),
                        reason=existing.reason,
                        capture_ids=[existing.id],
                        version_id=existing.version_id,
                        already_imported=True,
                    )
                )
                continue
            outcome, version = self._apply(session, document, check, preloaded)
            check_id = uuid.uuid4().hex
            captures = [
                self._capture_row(document, check, check_id, source, index, outcome, version)
                for index, source in enumerate(check.captures)
            ]
            applied.append(_Applied(document, check, outcome, version, captures))
        chain.append(
            session, [row for a in applied if isinstance(a, _Applied) for row in a.captures]
        )
        return [a if isinstance(a, CheckRecord) else self._finish(session, a) for a in applied]

    @staticmethod
    def _finish(session: Session, applied: _Applied) -> CheckRecord:
        """What a decided check writes once its captures are in the log (they have ids)."""
        document, check, outcome = applied.document, applied.check, applied.outcome
        version, captures = applied.version, applied.captures
        if version is not None:
            for row in captures:
                session.add(VersionCapture(version_id=version.id, capture_id=row.id))
        if outcome == Outcome.CHANGE_DETECTED:
            pending = session.get(PendingChange, document.id)
            if pending is not None and pending.text_sha256 == check.text_sha256:
                # the same change seen again before it could be confirmed: still waiting,
                # since the first time it was seen
                pending.first_seen_at = min(pending.first_seen_at, check.checked_at)
                pending.capture_ids = [*pending.capture_ids, *(c.id for c in captures)]
            else:
                session.merge(
                    PendingChange(
                        document_id=document.id,
                        text_sha256=check.text_sha256,
                        first_seen_at=check.checked_at,
                        capture_ids=[c.id for c in captures],
                    )
                )
        document.last_checked_at = check.checked_at
        if outcome in VERIFICATIONS or version is not None:
            document.last_verified_at = check.checked_at
        # Validators only from captures of the text now current: a 304 must mean "still the
        # current version", never "still the text that waits for confirmation".
        if check.validators and (outcome in VERIFICATIONS or version is not None):
            document.validators = {**document.validators, **check.validators}
        return CheckRecord(
            document_id=document.id,
            outcome=outcome,
            reason=check.reason,
            capture_ids=[c.id for c in captures],
            version_id=version.id if version else None,
        )

    def _apply(
        self,
        session: Session,
        document: Document,
        check: CheckInput,
        preloaded: _Preloaded | None = None,
    ) -> tuple[Outcome, Version | None]:
        if check.failure is not None:
            if check.failure == Outcome.DELETED:
                document.active = False
            return check.failure, None
        assert check.text_sha256 is not None
        document.active = True  # a text arrived: the document exists (again)
        state = self.state(session, document, check.text_sha256, preloaded)
        if check.technical and state.current_sha not in (None, check.text_sha256):
            return Outcome.TECHNICAL, self._new_version(session, document, check, "technical")
        # no text: unchanged bytes whose extraction was skipped, compared by SHA alone
        key = self._text_key(check.text_sha256, check.text) if check.text is not None else None
        outcome = decide(
            state,
            check.text_sha256,
            check.checked_at,
            flipflop_window=dt.timedelta(days=self.settings.flipflop_window_days),
            require_confirmation=check.require_confirmation,
            key=key,
        )
        if outcome == Outcome.NEW_VERSION and self._too_soon_to_confirm(session, document, check):
            outcome = Outcome.CHANGE_DETECTED
        if outcome not in (Outcome.CHANGE_DETECTED,) and state.pending_sha is not None:
            # read under the document's lock just above: no pending row, nothing to delete
            session.execute(delete(PendingChange).where(PendingChange.document_id == document.id))
        if outcome == Outcome.FIRST_VERSION:
            return outcome, self._new_version(session, document, check, "first")
        if outcome == Outcome.NEW_VERSION:
            return outcome, self._new_version(session, document, check, "change")
        if outcome == Outcome.FLIP_FLOP:
            self._fold_flip_flop(session, document)
        if outcome in (Outcome.VARIANT, Outcome.UNCONFIRMED) and check.text_sha256 not in (
            state.variants | {state.current_sha}
        ):
            # the same text in another spelling locale, image address…: shown as a variant
            self._variant_of(session, document, check.text_sha256)
        return outcome, None

    def _too_soon_to_confirm(self, session: Session, document: Document, check: CheckInput) -> bool:
        """The pending change's text, seen less than ``confirm_after`` seconds after the change
        was first seen (or before it): one more sighting, not the confirming fetch."""
        if not check.require_confirmation or check.confirm_after <= 0:
            return False
        pending = session.get(PendingChange, document.id)
        if pending is None or (
            pending.text_sha256 != check.text_sha256
            and (
                check.text is None
                or check.text_sha256 is None
                or self._text_key(pending.text_sha256)
                != self._text_key(check.text_sha256, check.text)
            )
        ):
            return False
        waited = check.checked_at - pending.first_seen_at
        return waited < dt.timedelta(seconds=check.confirm_after)

    def _new_version(
        self, session: Session, document: Document, check: CheckInput, kind: str
    ) -> Version:
        assert check.text is not None and check.text_sha256 is not None
        version = Version(
            document_id=document.id,
            predecessor_id=document.current_version_id,
            text_sha256=check.text_sha256,
            text_length=len(check.text),
            kind=kind,
            status="active",
            recorded_at=check.checked_at,
            extractor_version=check.extractor_version,
            declaration_fingerprint=document.declaration_fingerprint,
            origin=check.origin,
            comparison_sha256=self._text_key(check.text_sha256, check.text),
        )
        # a variant that becomes a version (the live page moved on) is no longer a variant
        session.execute(
            delete(Variant).where(
                Variant.document_id == document.id, Variant.text_sha256 == check.text_sha256
            )
        )
        session.add(version)
        session.flush()
        document.current_version_id = version.id
        document.current_version = version
        return version

    def _fold_flip_flop(self, session: Session, document: Document) -> None:
        """A → B → A: B is marked a flip-flop and becomes a variant of A, which is current again."""
        current = document.current_version
        assert current is not None and current.predecessor_id is not None
        current.status = "flip_flop"
        # its change record, if already built, no longer describes a change of the document
        session.execute(
            update(ChangeRecord)
            .where(ChangeRecord.to_version_id == current.id)
            .values(status="retracted")
        )
        previous = session.get(Version, current.predecessor_id)
        assert previous is not None
        document.current_version_id = previous.id
        document.current_version = previous
        self._variant_of(session, document, current.text_sha256)

    @staticmethod
    def _variant_of(session: Session, document: Document, text_sha: str) -> None:
        """Record ``text_sha`` as a variant of the document's current version."""
        variant = session.scalars(
            select(Variant).where(
                Variant.document_id == document.id, Variant.text_sha256 == text_sha
            )
        ).first()
        if variant is None:
            variant = Variant(document_id=document.id, text_sha256=text_sha)
            session.add(variant)
        assert document.current_version_id is not None
        variant.version_id = document.current_version_id  # a variant of one version at a time

    def _capture_row(
        self,
        document: Document,
        check: CheckInput,
        check_id: str,
        source: SourceCapture,
        index: int,
        outcome: Outcome,
        version: Version | None,
    ) -> Capture:
        return Capture(
            document_id=document.id,
            check_id=check_id,
            source_index=index,
            url=source.url,
            final_url=source.final_url,
            fetcher=source.fetcher,
            status_code=source.status_code,
            headers=source.headers,
            redirect_chain=source.redirect_chain,
            timings=source.timings,
            attempts=source.attempts,
            started_at=source.started_at,
            elapsed_ms=source.elapsed_ms,
            snapshot_sha256=source.snapshot_sha256,
            size=source.size,
            outcome=str(outcome),
            reason=check.reason,
            text_sha256=check.text_sha256,
            version_id=version.id if version else None,
            import_ref=check.import_ref if index == 0 else None,
        )
