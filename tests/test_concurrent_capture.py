"""Two capture runs at once into one archive record exactly what one run records: the same
versions, pending changes, variants and change records, and a change is confirmed only by a
fetch at least the confirm delay after it was first seen, whichever run made that fetch."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from archive_fixtures import *  # noqa: F403
from archive_fixtures import _fresh_pg, make_settings
from loopback import LoopbackServer, Request, Response, policy_page
from sqlalchemy import select

from clausewatch.archive.cycle import CaptureCycle
from clausewatch.archive.decide import Outcome
from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive
from clausewatch.capture.http import HttpFetcher
from clausewatch.provisions.service import build
from clausewatch.registry.models import DocumentDeclaration, PlatformDeclaration, SourceDeclaration
from clausewatch.storage.models import ChangeRecord, PendingChange, Variant, Version

CONFIRM_DELAY = 2.0
GOOD = policy_page("Terms of Service")
CHANGED = policy_page(
    "Terms of Service",
    "<h2>14. Arbitration</h2><p>Any dispute will be resolved by binding individual arbitration "
    "and you waive your right to a class action, unless you opt out within 30 days.</p>",
)
TRANSIENT = policy_page(
    "Terms of Service",
    "<h2>15. Maintenance</h2><p>For a short time this page showed a paragraph about a planned "
    "maintenance window that was withdrawn before anyone could confirm it.</p>",
)
# steady: never changes; changed: a real change; transient: a change shorter than the confirm
# delay (must never become a version); new: first seen by the runs under test
DOCS = ("steady", "changed", "transient", "new")


class Site:
    """The pages as they are over time: the transient text is served until ``switch_at``."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self.switch_at = self.changed_at = float("inf")
        self.transient_on = False
        server.route("/steady", Response(body=GOOD))
        server.route("/changed", Response(body=GOOD))
        server.route("/transient", self._transient)
        server.route("/new", Response(body=CHANGED))

    def _transient(self, request: Request) -> Response:
        live = self.transient_on and request.received_at < self.switch_at
        return Response(body=TRANSIENT if live else GOOD)

    def change(self) -> None:
        """The change under test: /changed changes for good, /transient for a moment."""
        self.server.route("/changed", Response(body=CHANGED))
        self.transient_on = True
        self.changed_at = time.monotonic()
        self.switch_at = self.changed_at + CONFIRM_DELAY / 2


def _register(archive: Archive, site: Site) -> dict[str, int]:
    archive.sync_registry(
        [
            PlatformDeclaration(
                slug="loopback",
                name="Loopback",
                category="developer-tools",
                website="http://127.0.0.1",
                documents=tuple(
                    DocumentDeclaration(
                        type=name, sources=(SourceDeclaration(url=site.server.url(f"/{name}")),)
                    )
                    for name in DOCS
                ),
            )
        ]
    )
    return {d.doc_type: d.id for d in archive.documents()}


def _run(
    archive: Archive, site: Site, names: tuple[str, ...], start: threading.Barrier | None = None
) -> None:
    """One capture run over the named documents (the CLI's `check`, without the network
    client's browser fallback)."""
    ids = _register(archive, site)
    documents = [d for d in archive.documents() if d.id in {ids[n] for n in names}]

    async def go() -> None:
        fetcher = HttpFetcher(
            per_host_delay=0, timeout=10.0, retries=1, backoff_base=0.01, max_body_bytes=1_000_000
        )
        try:
            await CaptureCycle(archive, fetcher.fetch, confirm_delay=CONFIRM_DELAY).run(documents)
        finally:
            await fetcher.aclose()

    if start is not None:
        start.wait(timeout=30)
    asyncio.run(go())


def _history(archive: Archive) -> dict[str, Any]:
    """Everything a run leaves, without database ids: versions, current text, pending changes,
    variants and change records per document, by text hash."""
    build(archive)
    out: dict[str, Any] = {}
    with archive.sessions() as session:
        for document in archive.documents(active_only=False):
            versions = list(
                session.scalars(
                    select(Version).where(Version.document_id == document.id).order_by(Version.id)
                )
            )
            sha = {v.id: v.text_sha256 for v in versions}
            pending = session.get(PendingChange, document.id)
            records = session.scalars(
                select(ChangeRecord)
                .where(ChangeRecord.document_id == document.id)
                .order_by(ChangeRecord.id)
            )
            variants = session.scalars(select(Variant).where(Variant.document_id == document.id))
            out[document.doc_type] = {
                "versions": [(v.text_sha256, v.kind, v.status) for v in versions],
                "current": sha.get(document.current_version_id or 0),
                "pending": pending.text_sha256 if pending else None,
                "variants": sorted((v.text_sha256, sha.get(v.version_id or 0)) for v in variants),
                "change records": [
                    (sha[r.from_version_id], sha[r.to_version_id], r.status) for r in records
                ],
            }
    return out


def _confirmations_waited(archive: Archive) -> None:
    """Every new version was confirmed by a fetch made at least the confirm delay after its
    text was first seen."""
    captures = archive.captures()
    for confirm in (c for c in captures if c.outcome == Outcome.NEW_VERSION):
        seen = min(
            c.started_at
            for c in captures
            if c.document_id == confirm.document_id
            and c.text_sha256 == confirm.text_sha256
            and c.outcome == Outcome.CHANGE_DETECTED
        )
        waited = (confirm.started_at - seen).total_seconds()
        assert waited >= CONFIRM_DELAY, f"confirmed {waited:.3f} s after it was first seen"


def _scenario(settings_dir: Path, backend: str | None, site: Site, runs: int) -> dict[str, Any]:
    """An archive that knows three documents; the pages change; ``runs`` capture runs at once."""
    archive = Archive.open(make_settings(settings_dir, backend))
    _register(archive, site)
    site.server.route("/changed", Response(body=GOOD))
    site.transient_on = False
    _run(archive, site, ("steady", "changed", "transient"))
    assert sum(d.current_version_id is not None for d in archive.documents()) == 3
    archives = [archive] + [Archive.open(archive.settings) for _ in range(runs - 1)]
    try:
        start = threading.Barrier(runs)
        site.change()
        threads = [threading.Thread(target=_run, args=(a, site, DOCS, start)) for a in archives]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(t.is_alive() for t in threads)
        transient = site.server.requests_for("/transient")
        early = [r for r in transient if site.changed_at <= r.received_at < site.switch_at]
        assert len(early) == runs, "every run's first fetch saw the transient text"
        _confirmations_waited(archive)
        with archive.sessions() as session:
            report = verify_archive(session, archive.store)
        assert report.ok, report.problems
        return _history(archive)
    finally:
        for opened in archives:
            opened.close()


def test_two_capture_runs_at_once_record_what_one_run_records(
    backend: str | None, tmp_path: Path, loopback: LoopbackServer
) -> None:
    single = _scenario(tmp_path / "single", backend, Site(loopback), runs=1)
    assert [v[1:] for v in single["changed"]["versions"]] == [
        ("first", "active"),
        ("change", "active"),
    ]
    assert len(single["transient"]["versions"]) == 1, "a transient change is never a version"
    assert single["new"]["versions"][0][1] == "first"
    if backend is not None:
        _fresh_pg(backend)
    loopback.reset()
    concurrent = _scenario(tmp_path / "concurrent", backend, Site(loopback), runs=2)
    assert concurrent == single
