"""The archive's tables. Rows are append-only where they are evidence (captures, versions)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    case,
    event,
    literal_column,
    select,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Mapper,
    column_property,
    mapped_column,
    object_session,
    relationship,
)
from sqlalchemy.sql.expression import Grouping

from clausewatch.ids import format_id
from clausewatch.storage.compressed import (
    CHANGE_KIND_CODES,
    SEGMENT_KIND_CODES,
    HeadingPathJSON,
    Sha256Digest,
    ShortCode,
    StoredFrame,
    compress_layout_texts,
    decode_layout,
    encode_layout,
    json_text,
    layout_json_text,
)
from clausewatch.storage.db import JSONType, UTCDateTime, utcnow

# Named constraints so that Alembic batch migrations work on SQLite.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite reuses the highest rowid after a delete unless AUTOINCREMENT is set; permanent IDs
# are derived from primary keys, so every table with a public ID asks for it.
AUTOINC = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSONType}  # noqa: RUF012


class Platform(Base):
    __tablename__ = "platforms"
    __table_args__ = AUTOINC

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(50))
    jurisdictions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    website: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    documents: Mapped[list[Document]] = relationship(back_populates="platform")


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("platform_id", "doc_type"), AUTOINC)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))
    doc_type: Mapped[str] = mapped_column(String(200))
    declaration: Mapped[dict[str, Any]] = mapped_column(JSONType)
    declaration_fingerprint: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("versions.id", use_alter=True), default=None
    )
    last_checked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_verified_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Per-source validators of the last good capture, for conditional GETs: {url: {etag, ...}}
    validators: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    platform: Mapped[Platform] = relationship(back_populates="documents")
    current_version: Mapped[Version | None] = relationship(foreign_keys=[current_version_id])

    @property
    def public_id(self) -> str:
        return format_id("D", self.id)


# How `captures.final_url` and `captures.import_ref` store a value equal to the capture's url
# (migration 0011): the empty string, which costs SQLite one record-header byte, as NULL does,
# and keeps final_url's NOT NULL (SQLite cannot drop it without rebuilding the table).
SAME_AS_URL = ""


def _or_url(stored: Any, url: Any) -> ColumnElement[Any]:
    """SQL: the stored value, or ``url`` where it is :data:`SAME_AS_URL`. The literal is written
    into the SQL, not bound, so that the expression is the one ``ix_captures_import_ref`` indexes
    (SQLite and PostgreSQL use an index on an expression only for that very expression)."""
    return case((stored == literal_column("''"), url), else_=stored)


class Capture(Base):
    """One fetch of one source URL. Immutable once written; chained into the capture log.

    ``final_url`` and ``import_ref`` read as before; a value equal to ``url`` (every import,
    every fetch without a redirect) is stored as :data:`SAME_AS_URL` when the row is written,
    and the SQL expressions (``select(Capture.import_ref)``, ``where(...)``) read it the same
    way. The four SHA-256 columns hold 32 bytes and read as hex."""

    __tablename__ = "captures"
    __table_args__ = (Index("ix_captures_document_started", "document_id", "started_at"), AUTOINC)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    check_id: Mapped[str] = mapped_column(String(32), index=True)  # groups one check's sources
    source_index: Mapped[int] = mapped_column(Integer, default=0)
    url: Mapped[str] = mapped_column(Text)
    stored_final_url: Mapped[str] = mapped_column("final_url", Text)  # see final_url
    fetcher: Mapped[str] = mapped_column(String(20))
    status_code: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    redirect_chain: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    timings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[dt.datetime]
    elapsed_ms: Mapped[float] = mapped_column(default=0.0)
    snapshot_sha256: Mapped[str | None] = mapped_column(Sha256Digest, index=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    # The outcome of the check this capture belongs to: verified, not_modified, change_detected,
    # new_version, first_version, unconfirmed, variant, failed, suspicious, imported.
    outcome: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)
    text_sha256: Mapped[str | None] = mapped_column(Sha256Digest)  # normalised document text
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    chain_prev: Mapped[str] = mapped_column(Sha256Digest)
    chain_hash: Mapped[str] = mapped_column(Sha256Digest, unique=True)
    # The imported record this capture records (its url), NULL for live captures: unique
    # (ix_captures_import_ref, on the value as read), so a record is imported once however many
    # imports run at once. Not part of the chain hash; `verify` checks it against the url, which
    # is. See import_ref.
    stored_import_ref: Mapped[str | None] = mapped_column("import_ref", Text, default=None)

    document: Mapped[Document] = relationship()

    @hybrid_property
    def final_url(self) -> str:
        """The URL the fetch ended at (``url`` unless redirected; an empty one, which no fetch
        gives, would read as ``url`` too, and the chain hash commits to that)."""
        stored = self.stored_final_url
        return self.url if stored == SAME_AS_URL else stored

    @final_url.inplace.setter
    def _final_url_setter(self, value: str) -> None:
        self.stored_final_url = value  # SAME_AS_URL when written, if it is the url

    @final_url.inplace.expression
    @classmethod
    def _final_url_expression(cls) -> ColumnElement[str]:
        return _or_url(cls.stored_final_url, cls.url)

    @hybrid_property
    def import_ref(self) -> str | None:
        """The reference of the imported record this capture records (its url); None for live
        captures and for copies an earlier concurrent import left (migration 0006)."""
        stored = self.stored_import_ref
        return self.url if stored == SAME_AS_URL else stored

    @import_ref.inplace.setter
    def _import_ref_setter(self, value: str | None) -> None:
        self.stored_import_ref = value  # SAME_AS_URL when written, if it is the url

    @import_ref.inplace.expression
    @classmethod
    def _import_ref_expression(cls) -> ColumnElement[str | None]:
        return _or_url(cls.stored_import_ref, cls.url)

    @property
    def public_id(self) -> str:
        return format_id("CAP", self.id)


# Unique on the import reference as read (stored value, or the url where it is SAME_AS_URL):
# the same guarantee as the unique index of the plain column before migration 0011. In
# parentheses: PostgreSQL takes an expression that is not a function call only so.
Index(
    "ix_captures_import_ref",
    Grouping(_or_url(Capture.__table__.c.import_ref, Capture.__table__.c.url)),
    unique=True,
)


@event.listens_for(Capture, "before_insert")
@event.listens_for(Capture, "before_update")
def _store_same_as_url(mapper: Mapper[Capture], connection: object, capture: Capture) -> None:
    """``final_url`` and ``import_ref`` equal to the url are stored as SAME_AS_URL (the chain
    hash reads them back through the hybrids, so it commits to the url either way)."""
    if capture.stored_final_url == capture.url:
        capture.stored_final_url = SAME_AS_URL
    if capture.stored_import_ref is not None and capture.stored_import_ref == capture.url:
        capture.stored_import_ref = SAME_AS_URL


class Version(Base):
    """The normalised text of a document when it changed substantively."""

    __tablename__ = "versions"
    __table_args__ = (Index("ix_versions_document_recorded", "document_id", "recorded_at"), AUTOINC)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    predecessor_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    text_sha256: Mapped[str] = mapped_column(String(64))
    text_length: Mapped[int] = mapped_column(Integer)
    # first | change | technical (re-extraction, never a change) | flip_flop_revert
    kind: Mapped[str] = mapped_column(String(30))
    # active: part of the document's history; variant: a flip-flop variant folded into another
    status: Mapped[str] = mapped_column(String(20), default="active")
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)  # first seen
    extractor_version: Mapped[str] = mapped_column(String(20))
    declaration_fingerprint: Mapped[str] = mapped_column(String(64))
    origin: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # import provenance
    # SHA-256 of extract.normalise.comparison_key(text): texts with the same key are one version
    # (NULL for versions recorded before keys existed: computed on first use)
    comparison_sha256: Mapped[str | None] = mapped_column(String(64), default=None)

    document: Mapped[Document] = relationship(foreign_keys=[document_id])
    predecessor: Mapped[Version | None] = relationship(remote_side=[id])

    @property
    def public_id(self) -> str:
        return format_id("V", self.id)


class VersionCapture(Base):
    """Which captures a version's text was extracted from (several for combined documents)."""

    __tablename__ = "version_captures"

    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), primary_key=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"), primary_key=True)


class Variant(Base):
    """A text that flip-flopped with a document's version inside the window: seeing it again is a
    verification of ``version_id``, not a change."""

    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("document_id", "text_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    text_sha256: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PendingChange(Base):
    """A detected change that waits for its confirming fetch. At most one per document."""

    __tablename__ = "pending_changes"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    text_sha256: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[dt.datetime]
    capture_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)


class ArchiveState(Base):
    """One row (id 1): ``generation`` goes up by one in every write transaction that changes
    what the site shows (versions, imports, provisions, analysis, registry sync; see
    ``storage.db.transaction``), in that same transaction, and ``changed_at`` is its time;
    ``checks`` (and ``checked_at``) instead, when the transaction only recorded capture checks
    (``storage.db.CHECK_WRITES``). The web layer's caches and ETags are keyed on both
    (docs/web.md#http-caching)."""

    __tablename__ = "archive_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    checks: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    checked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class LogHead(Base):
    """The head of the capture hash chain: one row, locked by every append."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_capture_id: Mapped[int] = mapped_column(Integer, default=0)
    chain_hash: Mapped[str] = mapped_column(String(64))


# -- provisions and change records (the `provisions` and `changes` stages) ---------------------


class ProvisionRevision(Base):
    """A provision's text as of a version in which it first appeared or changed."""

    __tablename__ = "provision_revisions"
    __table_args__ = (UniqueConstraint("provision_id", "version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # looked up by provision through the unique (provision_id, version_id) index (migration 0010
    # dropped the single-column one it made redundant)
    provision_id: Mapped[int] = mapped_column(ForeignKey("provisions.id"))
    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), index=True)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    text_sha256: Mapped[str] = mapped_column(Sha256Digest)
    kind: Mapped[str] = mapped_column(ShortCode(SEGMENT_KIND_CODES))  # SegmentKind
    label: Mapped[str | None] = mapped_column(String(50))
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # where its list lead-in or table header row sits in the version text (migration 0016;
    # NULL: none, or built before): ``provisions.segment.context_text`` reads it
    context_start: Mapped[int | None] = mapped_column(Integer, default=None)
    context_end: Mapped[int | None] = mapped_column(Integer, default=None)

    @property
    def heading_path(self) -> list[str]:
        """The provision's heading path in this revision's version, as that version's layout
        holds it (not stored twice since migration 0010). Read in the revision's session."""
        session = object_session(self)
        if session is None:
            raise RuntimeError(f"revision {self.id} is not in a session: its layout is needed")
        layout = session.get(VersionLayout, self.version_id)
        return layout.heading_path_of(self.provision_id) if layout is not None else []


class HeadingPath(Base):
    """A heading path, stored once however many provisions sit under it (migration 0012):
    neighbouring provisions share theirs, so ``provisions`` holds an id instead of the JSON."""

    __tablename__ = "heading_paths"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # storage.compressed.heading_path_key(path as stored): the build's lookup of a path, through
    # this index; not unique (a path is compared as well, and two builders on PostgreSQL that
    # add the same new path at once each keep their own row: either id reads the same path)
    key: Mapped[int] = mapped_column(BigInteger, index=True)
    path: Mapped[list[str]] = mapped_column(HeadingPathJSON)


class Provision(Base):
    """A clause followed through the versions of its document. Identity is permanent.

    Stored: its document, first and last versions, revision count, title and heading path id.
    Read through the model as before (``column_property``: the same names in Python and in
    SQL, one correlated lookup each, by primary key or index, never correlated with a
    ``versions``, ``heading_paths`` or ``provision_revisions`` of the enclosing query;
    migration 0012 dropped the columns that held copies): ``first_seen_at`` /
    ``last_seen_at``, the ``recorded_at`` of the first / last version; ``heading_path``, the
    ``heading_paths`` row's (``[]`` for none); ``text_sha256``, that of its latest revision.
    Writers set ``heading_path_id`` (provisions/service.py)."""

    __tablename__ = "provisions"
    __table_args__ = (Index("ix_provisions_document", "document_id"), AUTOINC)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    first_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    last_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))  # latest holding it
    revisions: Mapped[int] = mapped_column(Integer, default=0)  # versions in which it changed
    title: Mapped[str] = mapped_column(Text)
    # NULL: no heading. No foreign key: SQLite could not drop the column again in the
    # downgrade without rebuilding `provisions`, which others reference; heading paths are
    # never deleted.
    heading_path_id: Mapped[int | None] = mapped_column(Integer)
    # Whether it is in the document's current version is read from that version's layout
    # (provisions/queries.py), since a flip-flop can make an older version current again.

    first_seen_at: Mapped[dt.datetime] = column_property(
        select(Version.recorded_at)
        .where(Version.id == first_version_id)
        .correlate_except(Version)
        .scalar_subquery()
        .label("first_seen_at")  # labelled: Core selects name them as the ORM does
    )
    last_seen_at: Mapped[dt.datetime] = column_property(
        select(Version.recorded_at)
        .where(Version.id == last_version_id)
        .correlate_except(Version)
        .scalar_subquery()
        .label("last_seen_at")
    )
    heading_path: Mapped[list[str]] = column_property(
        select(HeadingPath.path)
        .where(HeadingPath.id == heading_path_id)
        .correlate_except(HeadingPath)
        .scalar_subquery()
        .label("heading_path")
    )
    text_sha256: Mapped[str] = column_property(  # of its latest text
        select(ProvisionRevision.text_sha256)
        .where(ProvisionRevision.provision_id == id)
        .order_by(ProvisionRevision.version_id.desc())
        .limit(1)
        .correlate_except(ProvisionRevision)
        .scalar_subquery()
        .label("text_sha256")
    )

    @property
    def public_id(self) -> str:
        return format_id("P", self.id)


class VersionLayout(Base):
    """Where every provision sits in one version: the segmentation, stored once per version.

    ``segments``: ``[[provision_id, start, end, kind, label, heading path index], ...]`` in text
    order; ``heading_paths``: each heading path once, since most provisions share theirs with
    neighbours. Stored as one zstd frame of JSON each (migration 0009), the segments as columns
    of differences (0010, ``storage.compressed.encode_layout``), and since 0012 as deltas of the
    document's *keyframe* layout where that is much smaller (``base_version_id``; a keyframe has
    none): consecutive versions are laid out nearly alike. Build one with `make`."""

    __tablename__ = "version_layouts"

    version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"), primary_key=True)
    segmenter_version: Mapped[str] = mapped_column(String(20))
    segments_frame: Mapped[Any] = mapped_column("segments", StoredFrame)
    heading_paths_frame: Mapped[Any] = mapped_column("heading_paths", StoredFrame)
    # the keyframe layout whose JSON texts are this row's dictionaries; NULL: a keyframe
    base_version_id: Mapped[int | None] = mapped_column(Integer, default=None)

    @classmethod
    def make(
        cls,
        version_id: int,
        segmenter_version: str,
        segments: list[list[Any]],
        heading_paths: list[list[str]],
        keyframe: VersionLayout | None = None,
    ) -> VersionLayout:
        """A new layout, a delta of ``keyframe`` (the predecessor's keyframe layout) when that
        is much smaller than whole (``storage.compressed.compress_layout_texts``)."""
        texts = (json_text(encode_layout(segments)), json_text(heading_paths))
        if keyframe is not None and keyframe.base_version_id is not None:
            raise ValueError(f"V-{keyframe.version_id:06d}'s layout is not a keyframe")
        base = keyframe.json_texts() if keyframe is not None else None
        frames, delta = compress_layout_texts(texts, base)
        layout = cls(
            version_id=version_id,
            segmenter_version=segmenter_version,
            segments_frame=frames[0],
            heading_paths_frame=frames[1],
            base_version_id=keyframe.version_id if delta and keyframe is not None else None,
        )
        layout.__dict__["_texts"] = texts
        return layout

    def json_texts(self) -> tuple[bytes, bytes]:
        """The JSON texts of the two columns (read with the keyframe layout, for a delta)."""
        texts: tuple[bytes, bytes] | None = self.__dict__.get("_texts")
        if texts is None:
            base = self._keyframe_texts()
            texts = (
                layout_json_text(self.segments_frame, base[0] if base else None),
                layout_json_text(self.heading_paths_frame, base[1] if base else None),
            )
            self.__dict__["_texts"] = texts
        return texts

    def _keyframe_texts(self) -> tuple[bytes, bytes] | None:
        if self.base_version_id is None:
            return None
        session = object_session(self)
        if session is None:
            raise RuntimeError(f"V-{self.version_id:06d}'s layout is not in a session")
        keyframe = session.get(VersionLayout, self.base_version_id)
        if keyframe is None or keyframe.base_version_id is not None:
            what = "missing" if keyframe is None else "not a keyframe"
            raise LookupError(
                f"V-{self.version_id:06d}'s layout: its keyframe layout "
                f"V-{self.base_version_id:06d} is {what}"
            )
        return keyframe.json_texts()

    @property
    def segments(self) -> list[list[Any]]:
        rows: list[list[Any]] | None = self.__dict__.get("_segments")
        if rows is None:
            rows = self.__dict__["_segments"] = decode_layout(json.loads(self.json_texts()[0]))
        return rows

    @property
    def heading_paths(self) -> list[list[str]]:
        paths: list[list[str]] | None = self.__dict__.get("_heading_paths")
        if paths is None:
            paths = self.__dict__["_heading_paths"] = json.loads(self.json_texts()[1])
        return paths

    def heading_path_of(self, provision_id: int) -> list[str]:
        """The heading path of a provision of this version ([] when it is not in it)."""
        index: dict[int, int] | None = self.__dict__.get("_path_index")
        if index is None:
            index = {row[0]: row[5] for row in self.segments}
            self.__dict__["_path_index"] = index
        at = index.get(provision_id)
        return list(self.heading_paths[at]) if at is not None else []


class ChangeRecord(Base):
    """What changed between two versions of a document, at clause level."""

    __tablename__ = "change_records"
    __table_args__ = (UniqueConstraint("to_version_id"), AUTOINC)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    from_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    to_version_id: Mapped[int] = mapped_column(ForeignKey("versions.id"))
    recorded_at: Mapped[dt.datetime]
    # substantive | non_substantive (noise at clause level) | technical (re-extraction)
    # | retracted (a flip-flop folded into a variant)
    status: Mapped[str] = mapped_column(String(20))
    counts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    summary: Mapped[str] = mapped_column(Text)
    effective_date: Mapped[str | None] = mapped_column(String(10))  # ISO date stated in the text
    severity: Mapped[str | None] = mapped_column(String(10))  # set once classification exists
    direction: Mapped[str | None] = mapped_column(String(20))  # more/less protective, mixed
    assessment: Mapped[list[str]] = mapped_column(JSONType, default=list)  # reasons for both
    analyser: Mapped[str | None] = mapped_column(String(40))  # which analyser assessed it

    items: Mapped[list[ChangeItem]] = relationship(order_by="ChangeItem.id")

    @property
    def public_id(self) -> str:
        return format_id("C", self.id)


class ChangeItem(Base):
    """One provision touched by a change record."""

    __tablename__ = "change_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("change_records.id"), index=True)
    provision_id: Mapped[int] = mapped_column(ForeignKey("provisions.id"), index=True)
    # added removed modified moved split merged
    kind: Mapped[str] = mapped_column(ShortCode(CHANGE_KIND_CODES))
    substantive: Mapped[bool] = mapped_column(default=True)
    similarity: Mapped[float | None] = mapped_column(default=None)
    # No stored redline (migration 0010): provisions.service.item_redlines computes it from the
    # provision's text in the record's two versions when the record is read.
    sentences: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    parameter_changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    related: Mapped[list[int]] = mapped_column(JSONType, default=list)  # split/merge partners
    severity: Mapped[str | None] = mapped_column(String(10))
    direction: Mapped[str | None] = mapped_column(String(20))
    assessment: Mapped[list[str]] = mapped_column(JSONType, default=list)


# -- classification and analysis (the `classify` and `analysis` stages) ------------------------


class Classification(Base):
    """One clause type found in a provision revision's text, as the analyser of record saw it."""

    __tablename__ = "classifications"
    __table_args__ = (UniqueConstraint("revision_id", "type_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("provision_revisions.id"), index=True)
    provision_id: Mapped[int] = mapped_column(ForeignKey("provisions.id"), index=True)
    type_id: Mapped[str] = mapped_column(String(60), index=True)
    category: Mapped[str] = mapped_column(String(30))  # the taxonomy group
    rank: Mapped[int] = mapped_column(Integer)  # 0 = the primary (most confident) type
    confidence: Mapped[float]
    score: Mapped[float]
    severity: Mapped[str] = mapped_column(String(10))
    severity_reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    evidence_basis: Mapped[str] = mapped_column(String(20))
    # the supporting words: revision text[start:end] (offsets inside the provision's text)
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    supporting_text: Mapped[str] = mapped_column(Text)


class RevisionAnalysis(Base):
    """Marks a revision as classified by one analyser (a revision may have no clause type)."""

    __tablename__ = "revision_analyses"

    revision_id: Mapped[int] = mapped_column(ForeignKey("provision_revisions.id"), primary_key=True)
    analyser: Mapped[str] = mapped_column(String(40))
    analysed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ProvisionAnalysis(Base):
    """The analysis of a provision as it stands in its document's current version: the one row
    every count (rarity, prevalence, comparisons) reads, so no two figures can disagree."""

    __tablename__ = "provision_analyses"
    __table_args__ = (
        Index("ix_provision_analyses_type_current", "primary_type", "current"),
        Index("ix_provision_analyses_platform", "platform_id", "current"),
        Index("ix_provision_analyses_list", "severity_order", "provision_id", "current"),
    )

    provision_id: Mapped[int] = mapped_column(ForeignKey("provisions.id"), primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("provision_revisions.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"))
    current: Mapped[bool] = mapped_column(default=False)  # in the document's current version
    primary_type: Mapped[str | None] = mapped_column(String(60))
    severity: Mapped[str | None] = mapped_column(String(10))  # of the primary type
    # The lists' sort key, most severe first: 0 High, 1 Medium, 2 Low, 3 no severity
    # (``severity_order()``); ix_provision_analyses_list makes the default order an index scan.
    severity_order: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    confidence: Mapped[float | None]
    analyser: Mapped[str] = mapped_column(String(40))
    analysed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Most similar wording on other platforms, per clause type of this provision:
    # {type_id: [[provision_id, similarity], ...]} best first, current provisions only;
    # refreshed whenever any current text changes.
    similar: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    unique_wording: Mapped[bool | None] = mapped_column(default=None)


class DocumentAnalysis(Base):
    """Which version of a document the provision analyses were last refreshed for."""

    __tablename__ = "document_analyses"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("versions.id"))
    analyser: Mapped[str] = mapped_column(String(40))
    analysed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class NarrativeCache(Base):
    """An LLM rephrasing of a template narrative (accepted or rejected), keyed by the SHA-256
    of the reference narrative and the model, so a writer is never asked twice."""

    __tablename__ = "narrative_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    writer: Mapped[str] = mapped_column(String(100))
    sections: Mapped[dict[str, Any]] = mapped_column(JSONType)
    rejected: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# -- full-text search (the `search` package) ---------------------------------------------------


class SearchEntry(Base):
    """What full-text search indexes of one current provision, rewritten per document by
    ``analyse`` in the same transaction as its provision analyses. The index itself (an FTS5
    table on SQLite, a generated ``tsvector`` column with a GIN index on PostgreSQL) lives
    outside this metadata: see migration 0004 and ``clausewatch.search``."""

    __tablename__ = "search_entries"

    provision_id: Mapped[int] = mapped_column(ForeignKey("provisions.id"), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("platforms.id"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("provision_revisions.id"))
    title: Mapped[str] = mapped_column(Text)
    heading: Mapped[str] = mapped_column(Text)  # the heading path, joined
    body: Mapped[str] = mapped_column(Text)  # the provision's text in the current version
    platform: Mapped[str] = mapped_column(String(200))  # the platform's name
    document_type: Mapped[str] = mapped_column(String(200))
    primary_type: Mapped[str | None] = mapped_column(String(60))
    severity: Mapped[str | None] = mapped_column(String(10))


# -- accounts, watchlists and alerts (the `accounts` and `alerts` packages) ---------------------


class Account(Base):
    """A person who watches platforms. The plan is a name from configuration (no payments)."""

    __tablename__ = "accounts"
    __table_args__ = (AUTOINC,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    plan: Mapped[str] = mapped_column(String(20), default="free")
    # the secret in every email's unsubscribe link (rotated when the account unsubscribes)
    unsubscribe_token: Mapped[str] = mapped_column(String(64), unique=True)
    email_alerts: Mapped[bool] = mapped_column(default=True)  # off after unsubscribing
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class AuthSession(Base):
    """A server-side login session: revocable; only the SHA-256 of its cookie is stored."""

    __tablename__ = "auth_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    user_agent: Mapped[str] = mapped_column(String(300), default="")


class ApiKey(Base):
    """An API key for the API and feeds: shown once, stored as SHA-256."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # shown in lists to tell keys apart
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class PasswordReset(Base):
    """A single-use password-reset token sent by email (stored as SHA-256)."""

    __tablename__ = "password_resets"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class LoginAttempt(Base):
    """Failed logins, per e-mail address and per client address, for rate limiting."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400))  # "email:<address>" or "ip:<address>"
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Watch(Base):
    """One watched item: a platform, a document, a clause type across platforms or a provision,
    with the lowest severity that alerts and the channels to use."""

    __tablename__ = "watches"
    __table_args__ = (UniqueConstraint("account_id", "target_kind", "target"), AUTOINC)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    target_kind: Mapped[str] = mapped_column(String(20))  # platform document clause_type provision
    target: Mapped[str] = mapped_column(String(100))  # slug, D-00001, type id, P-000001
    min_severity: Mapped[str] = mapped_column(String(10), default="Low")
    channels: Mapped[list[str]] = mapped_column(JSONType, default=list)  # email webhook feed
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebhookEndpoint(Base):
    """Where an account's webhooks go, with the Standard Webhooks signing secret."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (AUTOINC,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(100))  # "whsec_" + base64
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Delivery(Base):
    """One alert to send (same-day email, webhook call or digest), recorded *before* sending:
    the unique key makes sending idempotent, so a worker that dies mid-send never causes a
    second message, and a crash before sending only delays it. Also the delivery log."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("idempotency_key"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        AUTOINC,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))  # e.g. email:A-1:C-000123
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # email webhook digest
    change_id: Mapped[int | None] = mapped_column(ForeignKey("change_records.id"), default=None)
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id"), default=None
    )
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # pending → sending → sent | failed (attempts exhausted); sending rows older than the lease
    # are retried with the same message id, which receivers use to drop duplicates
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)
