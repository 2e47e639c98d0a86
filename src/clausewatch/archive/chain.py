"""The tamper-evident capture log: each capture commits to the hash of the one before it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from clausewatch.storage.models import Capture, LogHead

GENESIS = "0" * 64

# Every column except the chain hash itself is committed to, so any edit shows.
_FIELDS = (
    "id",
    "document_id",
    "check_id",
    "source_index",
    "url",
    "final_url",
    "fetcher",
    "status_code",
    "headers",
    "redirect_chain",
    "timings",
    "attempts",
    "started_at",
    "elapsed_ms",
    "snapshot_sha256",
    "size",
    "outcome",
    "reason",
    "text_sha256",
    "version_id",
    "chain_prev",
)


def canonical_record(capture: Capture) -> bytes:
    record: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(capture, name)
        if name == "started_at":
            # UTC always: the database hands back UTC whatever offset was written
            value = value.astimezone(dt.UTC).isoformat(timespec="microseconds")
        elif name == "elapsed_ms":
            value = round(float(value), 3)
        record[name] = value
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(capture: Capture) -> str:
    return hashlib.sha256(canonical_record(capture)).hexdigest()


_FIRST_HEAD = text(
    "INSERT INTO log_head (id, last_capture_id, chain_hash) VALUES (1, 0, :genesis) "
    "ON CONFLICT (id) DO NOTHING"
)


def lock_head(session: Session) -> LogHead:
    """The chain head, locked for this transaction (SQLite: BEGIN IMMEDIATE already holds the
    write lock; PostgreSQL: row lock), so concurrent writers append one after another."""
    head = session.scalars(select(LogHead).where(LogHead.id == 1).with_for_update()).first()
    if head is None:
        # The first capture ever: writers in other processes may be creating it too
        # (PostgreSQL: the insert waits for theirs, then does nothing).
        session.execute(_FIRST_HEAD, {"genesis": GENESIS})
        head = session.scalars(select(LogHead).where(LogHead.id == 1).with_for_update()).one()
    return head


def append(session: Session, captures: list[Capture]) -> None:
    """Insert ``captures`` at the end of the log, in order, inside the caller's transaction,
    with one insert for them all: each record's hash commits to its id, so the ids are assigned
    first (placeholder hashes: random digests, unique until then; the column holds 32 bytes),
    then each row's link and hash are set in order and written in one update."""
    if not captures:
        return
    head = lock_head(session)
    for capture in captures:
        capture.chain_prev = head.chain_hash  # the real link is set below, once ids exist
        capture.chain_hash = secrets.token_hex(32)
    session.add_all(captures)
    session.flush()
    for capture in captures:
        capture.chain_prev = head.chain_hash
        capture.chain_hash = record_hash(capture)
        head.chain_hash = capture.chain_hash
        head.last_capture_id = capture.id
    session.flush()
