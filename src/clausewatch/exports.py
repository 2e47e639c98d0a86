"""Bulk exports of the archive: JSON lines, Parquet, and an Open Terms Archive dataset zip.

Every table is read in keyset-paginated batches (``id > last ORDER BY id LIMIT n``) and written
as it is read, so memory stays flat however large the archive is. Rows carry public IDs
(``D-00001``, ``V-000001``, ``P-000001``, ``C-000001``), columns come in the fixed order of
:data:`TABLES`, and each export folder gets a ``manifest.json`` with row counts, SHA-256 of every
file, the exporter version and the data licence note.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clausewatch import __version__
from clausewatch.archive.service import Archive
from clausewatch.ids import format_id
from clausewatch.storage.models import (
    ChangeItem,
    ChangeRecord,
    Classification,
    Document,
    Platform,
    Provision,
    ProvisionAnalysis,
    ProvisionRevision,
    Version,
    VersionLayout,
)

# Bumped whenever a column is added, removed or changes meaning.
EXPORTER_VERSION = "1.0"

LICENCE_NOTE = (
    "The archived texts are the platforms' own documents, kept for research, archiving and "
    "accountability; their copyright stays with their publishers. Versions imported from Open "
    "Terms Archive are under the ODC Attribution License (ODC-By 1.0), attribution: Open Terms "
    "Archive / Platform Governance Archive (https://opentermsarchive.org, "
    "https://pga.uni-bremen.de). clausewatch's own records (provisions, change records, "
    "classifications) are machine-generated analysis: verify them against the quoted text and "
    "cite the record IDs."
)

Progress = Callable[[str, int], None]  # (table, rows just written)


class ExportError(Exception):
    """The export cannot be written (the output exists, an unknown table...)."""


# -- table definitions ----------------------------------------------------------------------------

# column kinds: str int float bool time (ISO 8601 in JSONL, timestamp[us, UTC] in Parquet)
# list (of strings) json (an object in JSONL, its JSON text in Parquet)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    batch: int  # rows per read: smaller for tables whose rows carry whole texts
    reader: Callable[[Archive, Session, int, int], list[dict[str, Any]]]  # (after id, limit)
    model: Any

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def _fid(prefix: str, number: int | None) -> str | None:
    return format_id(prefix, number) if number is not None else None


def _read_platforms(
    _archive: Archive, session: Session, after: int, limit: int
) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Platform).where(Platform.id > after).order_by(Platform.id).limit(limit)
    )
    return [
        {
            "_key": p.id,
            "slug": p.slug,
            "name": p.name,
            "category": p.category,
            "jurisdictions": list(p.jurisdictions or []),
            "website": p.website or None,
            "created_at": p.created_at,
        }
        for p in rows
    ]


def _read_documents(
    _archive: Archive, session: Session, after: int, limit: int
) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Document, Platform.slug)
        .join(Platform, Platform.id == Document.platform_id)
        .where(Document.id > after)
        .order_by(Document.id)
        .limit(limit)
    ).all()
    return [
        {
            "_key": d.id,
            "id": d.public_id,
            "platform": slug,
            "type": d.doc_type,
            "active": d.active,
            "sources": [s.get("url") for s in d.declaration.get("sources", [])],
            "current_version": _fid("V", d.current_version_id),
            "first_tracked": d.created_at,
            "last_checked": d.last_checked_at,
            "last_verified": d.last_verified_at,
            "declaration_fingerprint": d.declaration_fingerprint,
        }
        for d, slug in rows
    ]


def _page_with_document(
    session: Session, model: type[Version] | type[ChangeRecord], after: int, limit: int
) -> list[Any]:
    """One keyset page of ``model`` rows (id > after) with their document type and platform."""
    return list(
        session.execute(
            select(model, Document.doc_type, Platform.slug)
            .join(Document, Document.id == model.document_id)
            .join(Platform, Platform.id == Document.platform_id)
            .where(model.id > after)
            .order_by(model.id)
            .limit(limit)
        ).all()
    )


def _read_versions(
    archive: Archive, session: Session, after: int, limit: int
) -> list[dict[str, Any]]:
    rows = _page_with_document(session, Version, after, limit)
    return [
        {
            "_key": v.id,
            "id": v.public_id,
            "document": format_id("D", v.document_id),
            "platform": slug,
            "document_type": doc_type,
            "predecessor": _fid("V", v.predecessor_id),
            "kind": v.kind,
            "status": v.status,
            "recorded_at": v.recorded_at,
            "text_sha256": v.text_sha256,
            "text_length": v.text_length,
            "extractor_version": v.extractor_version,
            "origin": v.origin or {},
            "text": archive.version_text(v),
        }
        for v, doc_type, slug in rows
    ]


class _TextCache:
    """The last few version texts and layouts: provisions are read in id order, and a document's
    provisions sit together, so a handful of entries serve a whole batch."""

    def __init__(self, archive: Archive, size: int = 8) -> None:
        self.archive = archive
        self.size = size
        self.texts: OrderedDict[int, str] = OrderedDict()
        self.current: OrderedDict[int, set[int]] = OrderedDict()

    def _put(self, cache: OrderedDict[int, Any], key: int, value: Any) -> Any:
        cache[key] = value
        while len(cache) > self.size:
            cache.popitem(last=False)
        return value

    def text(self, session: Session, version_id: int) -> str:
        if version_id in self.texts:
            self.texts.move_to_end(version_id)
            return self.texts[version_id]
        version = session.get(Version, version_id)
        assert version is not None
        return str(self._put(self.texts, version_id, self.archive.version_text(version)))

    def current_ids(self, session: Session, document_id: int) -> set[int]:
        if document_id in self.current:
            return self.current[document_id]
        document = session.get(Document, document_id)
        layout = (
            session.get(VersionLayout, document.current_version_id)
            if document is not None and document.current_version_id is not None
            else None
        )
        ids = {row[0] for row in layout.segments} if layout else set()
        return set(self._put(self.current, document_id, ids))


def _latest_revisions(session: Session, provision_ids: Sequence[int]) -> dict[int, Any]:
    """Provision id -> its latest revision (the one whose text the provision page quotes)."""
    latest = (
        select(ProvisionRevision.provision_id, func.max(ProvisionRevision.version_id).label("v"))
        .where(ProvisionRevision.provision_id.in_(provision_ids))
        .group_by(ProvisionRevision.provision_id)
        .subquery()
    )
    rows = session.scalars(
        select(ProvisionRevision).join(
            latest,
            (latest.c.provision_id == ProvisionRevision.provision_id)
            & (latest.c.v == ProvisionRevision.version_id),
        )
    )
    return {r.provision_id: r for r in rows}


def _reader_provisions(cache_size: int = 8) -> Callable[..., list[dict[str, Any]]]:
    caches: dict[int, _TextCache] = {}

    def read(archive: Archive, session: Session, after: int, limit: int) -> list[dict[str, Any]]:
        cache = caches.setdefault(id(archive), _TextCache(archive, cache_size))
        rows = session.execute(
            select(Provision, Platform.slug)
            .join(Document, Document.id == Provision.document_id)
            .join(Platform, Platform.id == Document.platform_id)
            .where(Provision.id > after)
            .order_by(Provision.id)
            .limit(limit)
        ).all()
        ids = [p.id for p, _ in rows]
        latest = _latest_revisions(session, ids)
        analyses = {
            a.provision_id: a
            for a in session.scalars(
                select(ProvisionAnalysis).where(ProvisionAnalysis.provision_id.in_(ids))
            )
        }
        out = []
        for p, slug in rows:
            revision = latest.get(p.id)
            text = (
                cache.text(session, revision.version_id)[revision.start : revision.end]
                if revision is not None
                else None
            )
            analysis = analyses.get(p.id)
            out.append(
                {
                    "_key": p.id,
                    "id": p.public_id,
                    "document": format_id("D", p.document_id),
                    "platform": slug,
                    "title": p.title,
                    "heading_path": list(p.heading_path or []),
                    "label": revision.label if revision is not None else None,
                    "first_seen": p.first_seen_at,
                    "last_seen": p.last_seen_at,
                    "revisions": p.revisions,
                    "first_version": format_id("V", p.first_version_id),
                    "last_version": format_id("V", p.last_version_id),
                    "text_version": _fid("V", revision.version_id if revision else None),
                    "in_current_version": p.id in cache.current_ids(session, p.document_id),
                    "primary_type": analysis.primary_type if analysis else None,
                    "severity": analysis.severity if analysis else None,
                    "text_sha256": p.text_sha256,
                    "text": text,
                }
            )
        return out

    return read


def _read_classifications(
    _archive: Archive, session: Session, after: int, limit: int
) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Classification, ProvisionRevision.version_id)
        .join(ProvisionRevision, ProvisionRevision.id == Classification.revision_id)
        .where(Classification.id > after)
        .order_by(Classification.id)
        .limit(limit)
    ).all()
    latest = _latest_revisions(session, sorted({c.provision_id for c, _ in rows}))
    return [
        {
            "_key": c.id,
            "provision": format_id("P", c.provision_id),
            "revision": c.revision_id,
            "version": format_id("V", version_id),
            "latest_revision": latest.get(c.provision_id) is not None
            and latest[c.provision_id].id == c.revision_id,
            "type": c.type_id,
            "category": c.category,
            "rank": c.rank,
            "confidence": c.confidence,
            "score": c.score,
            "severity": c.severity,
            "severity_reasons": list(c.severity_reasons or []),
            "evidence_basis": c.evidence_basis,
            "start": c.start,
            "end": c.end,
            "supporting_text": c.supporting_text,
        }
        for c, version_id in rows
    ]


def _read_changes(
    _archive: Archive, session: Session, after: int, limit: int
) -> list[dict[str, Any]]:
    rows = _page_with_document(session, ChangeRecord, after, limit)
    items: dict[int, list[dict[str, Any]]] = {}
    for item in session.scalars(
        select(ChangeItem)
        .where(ChangeItem.change_id.in_([r.id for r, _, _ in rows]))
        .order_by(ChangeItem.id)
    ):
        items.setdefault(item.change_id, []).append(
            {
                "provision": format_id("P", item.provision_id),
                "kind": item.kind,
                "substantive": item.substantive,
                "similarity": item.similarity,
                "severity": item.severity,
                "direction": item.direction,
            }
        )
    return [
        {
            "_key": r.id,
            "id": r.public_id,
            "document": format_id("D", r.document_id),
            "platform": slug,
            "document_type": doc_type,
            "from_version": format_id("V", r.from_version_id),
            "to_version": format_id("V", r.to_version_id),
            "recorded_at": r.recorded_at,
            "status": r.status,
            "summary": r.summary,
            "effective_date": r.effective_date,
            "severity": r.severity,
            "direction": r.direction,
            "assessment": list(r.assessment or []),
            "analyser": r.analyser,
            "counts": r.counts or {},
            "items": items.get(r.id, []),
        }
        for r, doc_type, slug in rows
    ]


def _table_specs() -> dict[str, Table]:
    s, i, f, b, t, lst, js = "str", "int", "float", "bool", "time", "list", "json"
    specs = [
        Table(
            "platforms",
            (
                ("slug", s),
                ("name", s),
                ("category", s),
                ("jurisdictions", lst),
                ("website", s),
                ("created_at", t),
            ),
            1000,
            _read_platforms,
            Platform,
        ),
        Table(
            "documents",
            (
                ("id", s),
                ("platform", s),
                ("type", s),
                ("active", b),
                ("sources", lst),
                ("current_version", s),
                ("first_tracked", t),
                ("last_checked", t),
                ("last_verified", t),
                ("declaration_fingerprint", s),
            ),
            1000,
            _read_documents,
            Document,
        ),
        Table(
            "versions",
            (
                ("id", s),
                ("document", s),
                ("platform", s),
                ("document_type", s),
                ("predecessor", s),
                ("kind", s),
                ("status", s),
                ("recorded_at", t),
                ("text_sha256", s),
                ("text_length", i),
                ("extractor_version", s),
                ("origin", js),
                ("text", s),
            ),
            50,  # whole document texts: keep a batch to a few MB
            _read_versions,
            Version,
        ),
        Table(
            "provisions",
            (
                ("id", s),
                ("document", s),
                ("platform", s),
                ("title", s),
                ("heading_path", lst),
                ("label", s),
                ("first_seen", t),
                ("last_seen", t),
                ("revisions", i),
                ("first_version", s),
                ("last_version", s),
                ("text_version", s),
                ("in_current_version", b),
                ("primary_type", s),
                ("severity", s),
                ("text_sha256", s),
                ("text", s),
            ),
            1000,
            _reader_provisions(),
            Provision,
        ),
        Table(
            "classifications",
            (
                ("provision", s),
                ("revision", i),
                ("version", s),
                ("latest_revision", b),
                ("type", s),
                ("category", s),
                ("rank", i),
                ("confidence", f),
                ("score", f),
                ("severity", s),
                ("severity_reasons", lst),
                ("evidence_basis", s),
                ("start", i),
                ("end", i),
                ("supporting_text", s),
            ),
            2000,
            _read_classifications,
            Classification,
        ),
        Table(
            "changes",
            (
                ("id", s),
                ("document", s),
                ("platform", s),
                ("document_type", s),
                ("from_version", s),
                ("to_version", s),
                ("recorded_at", t),
                ("status", s),
                ("summary", s),
                ("effective_date", s),
                ("severity", s),
                ("direction", s),
                ("assessment", lst),
                ("analyser", s),
                ("counts", js),
                ("items", js),
            ),
            500,
            _read_changes,
            ChangeRecord,
        ),
    ]
    return {spec.name: spec for spec in specs}


TABLE_NAMES: tuple[str, ...] = (
    "platforms",
    "documents",
    "versions",
    "provisions",
    "classifications",
    "changes",
)


def _chosen(tables: Sequence[str] | None) -> list[Table]:
    specs = _table_specs()  # fresh readers (and caches) for every export
    names = list(tables or TABLE_NAMES)
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise ExportError(
            f"unknown table(s): {', '.join(unknown)} (choose from {', '.join(TABLE_NAMES)})"
        )
    return [specs[n] for n in TABLE_NAMES if n in names]


def table_counts(archive: Archive, tables: Sequence[str] | None = None) -> dict[str, int]:
    """Rows each table's export will hold (the database counts)."""
    with archive.sessions() as session:
        return {
            t.name: session.scalar(select(func.count()).select_from(t.model)) or 0
            for t in _chosen(tables)
        }


def iter_rows(
    archive: Archive, table: str, *, batch: int | None = None
) -> Iterator[list[dict[str, Any]]]:
    """One table's rows, batch by batch, each row with the table's columns in order."""
    (spec,) = _chosen([table])
    size = batch or spec.batch
    last = 0
    while True:
        with archive.sessions() as session:
            rows = spec.reader(archive, session, last, size)
        if not rows:
            return
        last = rows[-1]["_key"]
        yield [{name: row[name] for name in spec.column_names} for row in rows]


# -- output folders and the manifest ---------------------------------------------------------------


def check_output(path: Path, *, force: bool) -> None:
    """Refuse to write over an existing non-empty file or folder unless ``force``."""
    if force or not path.exists():
        return
    if path.is_dir() and not any(path.iterdir()):
        return
    if path.is_file() and path.stat().st_size == 0:
        return
    raise ExportError(f"{path} exists and is not empty (use --force to overwrite)")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_manifest(
    out_dir: Path, fmt: str, files: dict[str, tuple[Path, int, list[str]]]
) -> dict[str, Any]:
    manifest = {
        "exporter": "clausewatch",
        "exporter_version": EXPORTER_VERSION,
        "clausewatch_version": __version__,
        "format": fmt,
        "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "licence": LICENCE_NOTE,
        "tables": {
            name: {
                "file": path.name,
                "rows": rows,
                "bytes": path.stat().st_size,
                "sha256": sha256_file(path),
                "columns": columns,
            }
            for name, (path, rows, columns) in files.items()
        },
    }
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return manifest


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _iso(v) if isinstance(v, dt.datetime) else v for k, v in row.items()}


def export_jsonl(
    archive: Archive,
    out_dir: Path,
    *,
    tables: Sequence[str] | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write ``<table>.jsonl`` per table and ``manifest.json``; returns the manifest."""
    chosen = _chosen(tables)
    check_output(out_dir, force=force)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[Path, int, list[str]]] = {}
    for spec in chosen:
        path = out_dir / f"{spec.name}.jsonl"
        rows = 0
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            for batch in iter_rows(archive, spec.name):
                for row in batch:
                    fh.write(json.dumps(_jsonable(row), ensure_ascii=False) + "\n")
                rows += len(batch)
                if progress:
                    progress(spec.name, len(batch))
        files[spec.name] = (path, rows, spec.column_names)
    return _write_manifest(out_dir, "jsonl", files)


def arrow_schema(table: str) -> Any:
    import pyarrow as pa

    kinds = {
        "str": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "time": pa.timestamp("us", tz="UTC"),
        "list": pa.list_(pa.string()),
        "json": pa.string(),
    }
    (spec,) = _chosen([table])
    return pa.schema([pa.field(name, kinds[kind]) for name, kind in spec.columns])


def export_parquet(
    archive: Archive,
    out_dir: Path,
    *,
    tables: Sequence[str] | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write ``<table>.parquet`` per table (zstd, one row group per batch) and
    ``manifest.json``; ``json`` columns (``origin``, ``counts``, ``items``) hold JSON text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    chosen = _chosen(tables)
    check_output(out_dir, force=force)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[Path, int, list[str]]] = {}
    for spec in chosen:
        schema = arrow_schema(spec.name)
        json_columns = [name for name, kind in spec.columns if kind == "json"]
        path = out_dir / f"{spec.name}.parquet"
        rows = 0
        with pq.ParquetWriter(path, schema, compression="zstd") as writer:
            for batch in iter_rows(archive, spec.name):
                for row in batch:
                    for name in json_columns:
                        row[name] = json.dumps(row[name], ensure_ascii=False, sort_keys=True)
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                rows += len(batch)
                if progress:
                    progress(spec.name, len(batch))
            if rows == 0:
                writer.write_table(schema.empty_table())
        files[spec.name] = (path, rows, spec.column_names)
    return _write_manifest(out_dir, "parquet", files)


# -- Open Terms Archive dataset zip --------------------------------------------------------------

_UNSAFE = str.maketrans({c: "_" for c in '/\\:*?"<>|\0'})


def _ota_stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H-%M-%SZ")


def _ota_readme(name: str, versions: int, first: str | None, last: str | None) -> str:
    return (
        f"# {name}\n\n"
        "Versions of platform governance documents exported by clausewatch "
        f"{__version__} (exporter {EXPORTER_VERSION}), laid out as the Open Terms Archive "
        "dataset export lays them out: <service>/<terms type>/<fetch date>.md.\n"
        f"{versions} versions; first version: {first or '-'}; last version: {last or '-'}.\n\n"
        "See LICENSE for the data licence and attribution.\n"
    )


def export_ota_zip(
    archive: Archive,
    out_path: Path,
    *,
    name: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write every version as an Open Terms Archive dataset zip:
    ``<name>/<service>/<terms type>/<YYYY-MM-DDTHH-MM-SSZ>.md`` plus ``README.md`` and
    ``LICENSE`` (the layout :func:`clausewatch.importers.ota.read_dataset_zip` reads). The
    service is the platform's name and the terms type the document's type. Versions are
    written oldest first; two versions of one document recorded in the same second cannot both
    be named, and the later one is left out (counted in ``skipped``)."""
    check_output(out_path, force=force)
    name = (name or out_path.name.removesuffix(".zip") or "clausewatch-dataset").translate(_UNSAFE)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    written = skipped = 0
    first = last = None
    seen: set[str] = set()
    with zipfile.ZipFile(out_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        after: tuple[dt.datetime, int] | None = None
        while True:
            with archive.sessions() as session:
                query = (
                    select(Version, Document.doc_type, Platform.name)
                    .join(Document, Document.id == Version.document_id)
                    .join(Platform, Platform.id == Document.platform_id)
                    .order_by(Version.recorded_at, Version.id)
                    .limit(50)
                )
                if after is not None:
                    query = query.where(
                        (Version.recorded_at > after[0])
                        | ((Version.recorded_at == after[0]) & (Version.id > after[1]))
                    )
                rows = session.execute(query).all()
                texts = [archive.version_text(v) for v, _, _ in rows]
            if not rows:
                break
            for (version, doc_type, service), text in zip(rows, texts, strict=True):
                stamp = _ota_stamp(version.recorded_at)
                entry = f"{name}/{service.translate(_UNSAFE)}/{doc_type.translate(_UNSAFE)}/"
                entry += f"{stamp}.md"
                if entry in seen:
                    skipped += 1
                    continue
                seen.add(entry)
                info = zipfile.ZipInfo(entry, date_time=_zip_time(version.recorded_at))
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, text.encode("utf-8"))
                written += 1
                first = first or version.recorded_at.astimezone(dt.UTC).isoformat()
                last = version.recorded_at.astimezone(dt.UTC).isoformat()
            if progress:
                progress("versions", len(rows))
            after = (rows[-1][0].recorded_at, rows[-1][0].id)
        now = _zip_time(dt.datetime.now(dt.UTC))
        for file, body in (
            ("README.md", _ota_readme(name, written, first, last)),
            ("LICENSE", LICENCE_NOTE + "\n"),
        ):
            zf.writestr(zipfile.ZipInfo(f"{name}/{file}", date_time=now), body.encode("utf-8"))
    return {
        "file": out_path.name,
        "name": name,
        "versions": written,
        "skipped": skipped,
        "sha256": sha256_file(out_path),
    }


def _zip_time(when: dt.datetime) -> tuple[int, int, int, int, int, int]:
    utc = when.astimezone(dt.UTC)
    year = min(max(utc.year, 1980), 2107)
    return (year, utc.month, utc.day, utc.hour, utc.minute, utc.second)


def zip_folder(folder: Path, out: IO[bytes], *, compress: bool = True) -> None:
    """Pack an export folder into one zip (for the web's downloads)."""
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", compression=method) as zf:
        for path in sorted(folder.iterdir()):
            if path.is_file():
                zf.write(path, f"{folder.name}/{path.name}")
