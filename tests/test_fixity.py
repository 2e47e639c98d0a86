"""Fixity: `verify` names every damaged or altered stored object (its hash, its reason and the
record that references it) and goes on; reads of a damaged object fail with a clear error that
names it, never a decompression traceback."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard
from archive_fixtures import *  # noqa: F403
from loopback import LoopbackServer, Response, policy_page

from clausewatch.archive.cycle import CaptureCycle
from clausewatch.archive.decide import Outcome
from clausewatch.archive.evidence import check_blob, verify_archive
from clausewatch.archive.service import Archive, CheckInput, CheckRecord, SourceCapture
from clausewatch.archive.snapshots import LocalSnapshotStore, SnapshotDamaged, SnapshotNotFound
from clausewatch.capture.http import HttpFetcher
from clausewatch.extract import normalise_for_hash, text_sha256
from clausewatch.ids import format_id
from clausewatch.registry.models import DocumentDeclaration, PlatformDeclaration, SourceDeclaration

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
TEXT = normalise_for_hash(
    " ".join(f"Clause {i}: the service may process your data for purpose {i}." for i in range(40))
)


def _document(archive: Archive, url: str = "https://example.com/terms") -> int:
    archive.sync_registry(
        [
            PlatformDeclaration(
                slug="example",
                name="Example",
                category="social-media",
                website="https://example.com",
                documents=(
                    DocumentDeclaration(
                        type="Terms of Service", sources=(SourceDeclaration(url=url),)
                    ),
                ),
            )
        ]
    )
    return archive.documents()[0].id


def _capture(archive: Archive, doc: int, raw: bytes, at: dt.datetime) -> CheckRecord:
    """One live-like check: a raw snapshot (bytes differ each time) whose text is TEXT."""
    url = archive.document(doc).declaration["sources"][0]["url"]
    archive.store.put(TEXT.encode())
    return archive.record_check(
        CheckInput(
            document_id=doc,
            captures=[
                SourceCapture(
                    url=url,
                    final_url=url,
                    fetcher="http",
                    started_at=at,
                    status_code=200,
                    headers={"content-type": "text/html"},
                    snapshot_sha256=archive.store.put(raw),
                    size=len(raw),
                )
            ],
            checked_at=at,
            text=TEXT,
            text_sha256=text_sha256(TEXT),
            extractor_version="test",
        )
    )


def _raw(i: int) -> bytes:
    # incompressible, so zstd stores it in raw blocks: a flipped byte in the middle changes the
    # content without breaking the frame
    return b"<html><body>" + random.Random(i).randbytes(6000) + b"</body></html>"


def _path(store: object, sha: str) -> Path:
    assert isinstance(store, LocalSnapshotStore)
    return store._path(sha)


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


# how each object is damaged, and the reason verify must give
DAMAGE = {
    "flipped content byte": "hash mismatch",
    "flipped frame header byte": "corrupt frame",
    "truncated": "truncated",
    "appended bytes": "trailing bytes",
    "deleted": "missing",
    "replaced by another valid blob": "hash mismatch",
}


def _damage(path: Path, how: str) -> None:
    if how == "flipped content byte":
        _flip(path, path.stat().st_size // 2)
    elif how == "flipped frame header byte":
        _flip(path, 0)
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how == "appended bytes":
        path.write_bytes(path.read_bytes() + b"\x00 appended")
    elif how == "deleted":
        path.unlink()
    elif how == "replaced by another valid blob":
        path.write_bytes(zstandard.ZstdCompressor().compress(b"<html>another page</html>"))
    else:  # pragma: no cover
        raise AssertionError(how)


def _damaged_archive(archive: Archive) -> tuple[dict[str, tuple[str, list[str]]], list[str]]:
    """Nine captures of one document. Six snapshots are damaged, one way each (one of them is
    referenced by two captures), and the version text is truncated. Returns the damaged
    objects as {sha: (reason, records that reference it)} and the intact snapshots."""
    doc = _document(archive)
    raws = [_raw(i) for i in range(8)] + [_raw(2)]  # the ninth fetch repeats the third's bytes
    records = [_capture(archive, doc, raw, T0 + dt.timedelta(days=i)) for i, raw in enumerate(raws)]
    assert records[0].outcome == Outcome.FIRST_VERSION
    assert {r.outcome for r in records[1:]} == {Outcome.VERIFIED}
    shas = [c.snapshot_sha256 or "" for c in archive.captures(doc)]
    assert len(shas) == len(raws) and all(shas)
    cap = [format_id("CAP", r.capture_ids[0]) for r in records]
    damaged: dict[str, tuple[str, list[str]]] = {}
    for i, (how, reason) in enumerate(DAMAGE.items(), start=1):
        sha = shas[i]
        _damage(_path(archive.store, sha), how)
        damaged[sha] = (reason, [cap[j] for j in range(len(raws)) if shas[j] == sha])
    assert len(damaged[shas[2]][1]) == 2  # the repeated snapshot: both captures are named
    version = archive.versions(doc)[0]
    _damage(_path(archive.store, version.text_sha256), "truncated")
    damaged[version.text_sha256] = ("truncated", [format_id("V", version.id)])
    intact = [s for s in shas if s not in damaged]
    assert len(intact) == 2
    return damaged, intact


def test_verify_names_every_damaged_object_and_goes_on(archive: Archive) -> None:
    damaged, intact = _damaged_archive(archive)
    with archive.sessions() as session:
        report = verify_archive(session, archive.store)
    assert not report.ok
    assert report.captures == 9 and report.versions == 1
    for sha, (reason, records) in damaged.items():
        named = [p for p in report.problems if sha in p.what]
        assert sorted(p.record for p in named) == sorted(records), (sha, reason, named)
        assert all(reason in p.what for p in named), (reason, named)
    for sha in intact:
        assert not any(sha in p.what for p in report.problems)
    # nothing else is wrong with this archive: every problem is one of the damaged objects
    assert all(any(sha in p.what for sha in damaged) for p in report.problems)


def test_clausewatch_verify_names_them_with_exit_code_1_and_no_traceback(
    archive: Archive, backend: str | None
) -> None:
    damaged, _ = _damaged_archive(archive)
    env = {**os.environ, "COLUMNS": "1000"}
    if backend is not None:
        env["CLAUSEWATCH_DATABASE_URL"] = backend
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "clausewatch",
            "verify",
            "--data-dir",
            str(archive.settings.data_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for sha, (reason, records) in damaged.items():
        for record in records:
            assert any(sha in line and reason in line and record in line for line in lines), (
                sha,
                reason,
                record,
                done.stdout,
            )
    assert f"problems: {sum(len(r) for _, r in damaged.values())}" in done.stdout


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_a_damaged_object_is_never_read_as_the_document(tmp_path: Path, how: str) -> None:
    store = LocalSnapshotStore(tmp_path / "blobs")
    sha = store.put(_raw(1))
    _damage(_path(store, sha), how)
    if how == "deleted":
        with pytest.raises(SnapshotNotFound):
            store.get(sha)
    else:
        with pytest.raises(SnapshotDamaged, match=sha) as raised:
            store.get(sha)
        assert raised.value.reason == DAMAGE[how] and raised.value.sha256 == sha
    checked = check_blob(store, sha)
    assert not checked["verified"] and sha in checked["problem"]


def test_a_damaged_current_text_fails_the_check_with_a_reason(
    sqlite_archive: Archive, loopback: LoopbackServer
) -> None:
    """The capture cycle reads the current version's text to judge a new one: damaged, the
    check is a failed capture that names the object, and the run goes on."""
    archive = sqlite_archive
    doc = _document(archive, loopback.url("/doc"))
    _capture(archive, doc, _raw(0), T0)
    text_sha = archive.versions(doc)[0].text_sha256
    _damage(_path(archive.store, text_sha), "appended bytes")
    with pytest.raises(SnapshotDamaged, match=text_sha):
        archive.version_text(archive.versions(doc)[0])
    loopback.route("/doc", Response(body=policy_page("Terms of Service")))

    async def go() -> CheckRecord:
        fetcher = HttpFetcher(per_host_delay=0, timeout=5.0, retries=1, backoff_base=0.01)
        try:
            return await CaptureCycle(archive, fetcher.fetch, confirm_delay=0).check(
                archive.document(doc)
            )
        finally:
            await fetcher.aclose()

    record = asyncio.run(go())
    assert record.outcome == Outcome.FAILED
    assert record.reason and text_sha in record.reason and "trailing bytes" in record.reason
    assert len(archive.versions(doc)) == 1
