"""Independent verification of the archive, Web Archive links and WARC export."""

from __future__ import annotations

import datetime as dt
import io
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from clausewatch.archive import chain
from clausewatch.archive.snapshots import (
    SnapshotDamaged,
    SnapshotNotFound,
    SnapshotStore,
    sha256_hex,
)
from clausewatch.ids import format_id
from clausewatch.storage.db import utcnow
from clausewatch.storage.models import Capture, LogHead, Version

WAYBACK = "https://web.archive.org/web/{stamp}/{url}"


def wayback_url(url: str, at: dt.datetime) -> str:
    """The Web Archive's URL for ``url`` as near as it has to ``at`` (it redirects to the
    closest capture it holds)."""
    return WAYBACK.format(stamp=at.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S"), url=url)


def _is_web(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("http://", "https://"))


def source_links(
    capture_url: str, declared: list[str | None], at: dt.datetime
) -> tuple[str | None, str | None]:
    """(source URL, Web Archive URL near ``at``) of one capture. A live capture's source is the
    URL it fetched; an imported one (``ota:<collection>/…@<ref>``) records where it was read,
    so its source is the document's first declared web URL (None when the document declares
    none, as for history imported without a registry entry)."""
    source = (
        capture_url
        if _is_web(capture_url)
        else next((u for u in declared if u and _is_web(u)), None)
    )
    return source, (wayback_url(source, at) if source else None)


@dataclass
class Problem:
    record: str  # CAP-0000012, V-000003, or "log head"
    what: str


@dataclass
class VerifyReport:
    captures: int = 0
    versions: int = 0
    snapshots_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _iter_captures(session: Session, batch: int = 2000) -> Iterator[Capture]:
    last = 0
    while True:
        rows = list(
            session.scalars(
                select(Capture).where(Capture.id > last).order_by(Capture.id).limit(batch)
            )
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        session.expunge_all()


def blob_problem(store: SnapshotStore, sha: str) -> str | None:
    """Why the stored object ``sha`` is not intact (``missing``, ``truncated``, ``trailing
    bytes``, ``corrupt frame``, ``hash mismatch``, ``unreadable``, with details), or None.
    Never raises: a damaged object is a finding, not a reason to stop."""
    try:
        data = store.get(sha)
    except SnapshotNotFound:
        return "missing from the store"
    except SnapshotDamaged as exc:
        return exc.describe()
    except Exception as exc:  # another backend's read or decompression error, a bad name
        return f"unreadable ({type(exc).__name__}: {exc})"
    actual = sha256_hex(data)
    if actual != sha:
        return f"hash mismatch (the stored bytes re-hash to {actual})"
    return None


def _check_blob(
    store: SnapshotStore,
    sha: str,
    record: str,
    report: VerifyReport,
    seen: dict[str, tuple[str | None, str]],
    *,
    kind: str = "snapshot",
) -> None:
    """Check the object ``sha`` that ``record`` references, once per object; every record that
    references a damaged object is named."""
    if sha not in seen:
        problem = blob_problem(store, sha)
        dependents = getattr(store, "dependents", None)
        # a damaged keyframe: the deltas built on it are also reported with their own records
        if problem is not None and dependents is not None and (deltas := dependents(sha)):
            shown = ", ".join(deltas[:3]) + (", …" if len(deltas) > 3 else "")
            problem += f"; {len(deltas)} stored deltas depend on it ({shown})"
        seen[sha] = (problem, record)
        if problem is None or not problem.startswith("missing"):
            report.snapshots_checked += 1
        if problem is not None:
            report.problems.append(Problem(record, f"{kind} {sha}: {problem}"))
        return
    problem, first = seen[sha]
    if problem is not None:
        report.problems.append(
            Problem(record, f"{kind} {sha}: {problem} (also referenced by {first})")
        )


def verify_archive(
    session: Session,
    store: SnapshotStore,
    *,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Re-walk the capture chain and check every stored snapshot and version text: present,
    exactly one complete compressed frame, and re-hashing to its name. A damaged object is
    named with the record that references it and the walk goes on."""
    report = VerifyReport()
    previous_hash, last_id = chain.GENESIS, 0
    checked_blobs: dict[str, tuple[str | None, str]] = {}
    version_texts: dict[int, set[str]] = {}
    for capture in _iter_captures(session):
        report.captures += 1
        rid = format_id("CAP", capture.id)
        if capture.chain_prev != previous_hash:
            report.problems.append(
                Problem(rid, "chain broken: the record before it was altered, removed or moved")
            )
        if chain.record_hash(capture) != capture.chain_hash:
            report.problems.append(Problem(rid, "record altered: its hash does not match"))
        if capture.snapshot_sha256:
            _check_blob(store, capture.snapshot_sha256, rid, report, checked_blobs)
        if capture.version_id is not None and capture.text_sha256:
            version_texts.setdefault(capture.version_id, set()).add(capture.text_sha256)
        previous_hash, last_id = capture.chain_hash, capture.id
        if progress:
            progress(1)
    head = session.get(LogHead, 1)
    if head is not None and (head.chain_hash != previous_hash or head.last_capture_id != last_id):
        report.problems.append(
            Problem(
                "log head",
                f"the log ends at {format_id('CAP', last_id)} but its head "
                f"names {format_id('CAP', head.last_capture_id)}: records removed at the end",
            )
        )
    _duplicated_captures(session, report)
    for version in session.scalars(select(Version).order_by(Version.id)):
        report.versions += 1
        vid = format_id("V", version.id)
        _check_blob(store, version.text_sha256, vid, report, checked_blobs, kind="text")
        recorded = version_texts.get(version.id)
        if not recorded:
            report.problems.append(Problem(vid, "no capture in the log records this version"))
        elif version.text_sha256 not in recorded:
            report.problems.append(
                Problem(vid, "its text hash differs from the one its captures recorded")
            )
    return report


def _duplicated_captures(session: Session, report: VerifyReport) -> None:
    """Captures recorded twice: the same document, URL, fetch time and snapshot as an earlier
    capture (for imports, the URL names the imported record), or an import key that is not
    the URL the chain hash commits to."""
    key = (Capture.document_id, Capture.url, Capture.started_at, Capture.snapshot_sha256)
    groups = (
        select(*key, func.min(Capture.id).label("first_id"))
        .group_by(*key)
        .having(func.count() > 1)
        .subquery()
    )
    duplicates = session.execute(
        select(Capture.id, groups.c.first_id)
        .join(
            groups,
            and_(
                Capture.document_id == groups.c.document_id,
                Capture.url == groups.c.url,
                Capture.started_at == groups.c.started_at,
                or_(
                    Capture.snapshot_sha256 == groups.c.snapshot_sha256,
                    and_(Capture.snapshot_sha256.is_(None), groups.c.snapshot_sha256.is_(None)),
                ),
            ),
        )
        .where(Capture.id != groups.c.first_id)
        .order_by(Capture.id)
    )
    for capture_id, first_id in duplicates:
        report.problems.append(
            Problem(
                format_id("CAP", capture_id),
                f"duplicate of {format_id('CAP', first_id)}: the same document, URL, fetch "
                "time and snapshot recorded twice",
            )
        )
    mismatched = session.scalars(
        select(Capture.id)
        .where(Capture.import_ref.is_not(None), Capture.import_ref != Capture.url)
        .order_by(Capture.id)
    )
    for capture_id in mismatched:
        report.problems.append(
            Problem(format_id("CAP", capture_id), "its import key differs from its URL")
        )


def _http_headers_block(capture: Capture) -> bytes:
    status = capture.status_code or 200
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    lines = [f"HTTP/1.1 {status} {phrase}"]
    for key, value in capture.headers.items():
        # The stored body is the decoded payload: transfer framing no longer applies.
        if key.lower() in ("content-encoding", "transfer-encoding", "content-length"):
            continue
        lines.append(f"{key}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def export_warc(
    session: Session,
    store: SnapshotStore,
    out: BinaryIO | Path,
    *,
    document_id: int | None = None,
) -> int:
    """Write every capture that has a snapshot as a WARC response record (gzip per record)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    fh: BinaryIO = open(out, "wb") if isinstance(out, Path) else out  # noqa: SIM115
    written = 0
    try:
        writer = WARCWriter(fh, gzip=True)
        for capture in _iter_captures(session):
            if not capture.snapshot_sha256 or capture.fetcher == "ota-import":
                continue
            if document_id is not None and capture.document_id != document_id:
                continue
            payload = store.get(capture.snapshot_sha256)
            block = _http_headers_block(capture).decode("latin-1")
            status_line, _, rest = block.partition("\r\n")
            headers = [tuple(h.split(": ", 1)) for h in rest.strip().split("\r\n") if h]
            http_headers = StatusAndHeaders(
                status_line.removeprefix("HTTP/1.1 "), headers, protocol="HTTP/1.1"
            )
            record = writer.create_warc_record(
                capture.final_url or capture.url,
                "response",
                payload=io.BytesIO(payload),
                http_headers=http_headers,
                warc_headers_dict={
                    "WARC-Date": capture.started_at.astimezone(dt.UTC).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                    "WARC-Record-ID": f"<urn:clausewatch:{format_id('CAP', capture.id)}>",
                    "WARC-Payload-Digest": f"sha256:{capture.snapshot_sha256}",
                },
            )
            writer.write_record(record)
            written += 1
    finally:
        if isinstance(out, Path):
            fh.close()
    return written


def check_blob(store: SnapshotStore, sha: str) -> dict[str, Any]:
    """Check one blob now: is it in the store, and does it re-hash to ``sha``? Returns
    ``{"stored", "verified", "problem"}``; ``problem`` says what failed (None when both pass)."""
    problem = blob_problem(store, sha)
    if problem is None:
        return {"stored": True, "verified": True, "problem": None}
    if problem.startswith("missing"):
        return {"stored": False, "verified": False, "problem": f"{sha} is missing from the store"}
    if problem.startswith("unreadable"):
        return {
            "stored": False,
            "verified": False,
            "problem": f"{sha} could not be read: {problem}",
        }
    return {
        "stored": True,
        "verified": False,
        "problem": f"stored blob {sha} is damaged: {problem}",
    }


# store -> blob SHA-256 -> (monotonic time, wall time, check): per store object, so an archive
# opened again (a new app) checks afresh
_BLOB_CHECKS: weakref.WeakKeyDictionary[
    SnapshotStore, dict[str, tuple[float, dt.datetime, Any]]
] = weakref.WeakKeyDictionary()
_BLOB_CHECKS_KEPT = 50_000  # per store (an entry is ~300 bytes)


def checked_blob(
    store: SnapshotStore, sha: str, interval: float, times: list[dt.datetime]
) -> dict[str, Any]:
    """:func:`check_blob` of ``sha``, re-run only when the last check is ``interval`` seconds
    old or more (issue #13: a page of the same version no longer re-hashes its blobs); the time
    the check ran is appended to ``times``."""
    checks = _BLOB_CHECKS.setdefault(store, {})
    kept = checks.get(sha)
    now = time.monotonic()
    if kept is None or now - kept[0] >= interval:
        check = check_blob(store, sha)
        kept = (now, utcnow(), check)
        if len(checks) >= _BLOB_CHECKS_KEPT:
            checks.clear()
        checks[sha] = kept
    times.append(kept[1])
    return dict(kept[2])
