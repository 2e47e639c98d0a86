"""The ``s3://bucket/prefix`` snapshot store (`clausewatch.archive.s3store`), against a real
S3-compatible HTTP server on loopback (moto's `ThreadedMotoServer`, one per module): the same
protocol and the same fixity guarantees as the local store (tests/test_fixity.py)."""

from __future__ import annotations

import itertools
import logging
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard
from archive_fixtures import make_settings

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

from clausewatch.archive.evidence import check_blob, verify_archive  # noqa: E402
from clausewatch.archive.s3store import S3SnapshotStore, parse_url  # noqa: E402
from clausewatch.archive.service import Archive  # noqa: E402
from clausewatch.archive.snapshots import (  # noqa: E402
    SnapshotDamaged,
    SnapshotNotFound,
    open_store,
    sha256_hex,
)
from clausewatch.ids import format_id  # noqa: E402
from clausewatch.importers.ota import import_history, read_jsonl  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ota-sample.jsonl.xz"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A real S3 server on loopback, for this module."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials through the standard AWS environment; no profile or config file of
    this machine, no instance metadata."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def admin(endpoint: str, aws_env: None) -> Any:
    """A plain boto3 client, to look at and damage what the store wrote."""
    return boto3.client("s3", endpoint_url=endpoint, region_name=REGION)


@pytest.fixture
def bucket(admin: Any) -> str:
    name = f"cw-test-{uuid.uuid4().hex[:12]}"
    admin.create_bucket(Bucket=name)
    return name


@pytest.fixture
def url(endpoint: str, bucket: str) -> str:
    return f"s3://{bucket}/archive/main?endpoint_url={endpoint}&region={REGION}"


@pytest.fixture
def store(url: str) -> Iterator[S3SnapshotStore]:
    opened = open_store(url)
    assert isinstance(opened, S3SnapshotStore)
    yield opened
    opened.close()


def _raw(i: int) -> bytes:
    # incompressible, so zstd stores it in raw blocks: a flipped byte in the middle changes the
    # content without breaking the frame
    return b"<html><body>" + random.Random(i).randbytes(6000) + b"</body></html>"


def _calls(store: S3SnapshotStore, operation: str) -> list[dict[str, Any]]:
    """The parameters of every ``operation`` request the store's client makes from now on."""
    seen: list[dict[str, Any]] = []
    store.client.meta.events.register(
        f"before-parameter-build.s3.{operation}", lambda params, **_: seen.append(dict(params))
    )
    return seen


# -- the protocol ---------------------------------------------------------------------------


def test_round_trip_one_zstd_frame_per_object(
    store: S3SnapshotStore, admin: Any, bucket: str
) -> None:
    blobs = [b"", b"Terms of Service\n" * 500, _raw(1), random.Random(2).randbytes(3_000_000)]
    shas = [store.put(data) for data in blobs]
    assert shas == [sha256_hex(data) for data in blobs]
    for sha, data in zip(shas, blobs, strict=True):
        assert store.exists(sha) and store.get(sha) == data
        key = f"archive/main/{sha[:2]}/{sha[2:4]}/{sha}.zst"
        assert store.key(sha) == key
        stored = admin.get_object(Bucket=bucket, Key=key)
        assert stored["ContentType"] == "application/zstd"
        assert stored["Metadata"] == {"size": str(len(data))}
        assert zstandard.ZstdDecompressor().decompress(stored["Body"].read()) == data
    # a delta hint is accepted and changes nothing: every object is a whole frame
    hinted = store.put(blobs[1] + b"one more line\n", base=shas[1])
    assert store.get(hinted) == blobs[1] + b"one more line\n"


def test_put_is_idempotent_and_never_writes_over(
    store: S3SnapshotStore, admin: Any, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    puts = _calls(store, "PutObject")
    sha = store.put(_raw(1))
    assert [p["IfNoneMatch"] for p in puts] == ["*"]  # a conditional write
    before = admin.head_object(Bucket=bucket, Key=store.key(sha))
    assert store.put(_raw(1)) == sha and len(puts) == 1  # exists: not written again
    # a writer that raced past the existence check: the server refuses the second write
    monkeypatch.setattr(store, "exists", lambda sha256: False)
    assert store.put(_raw(1)) == sha and len(puts) == 2
    after = admin.head_object(Bucket=bucket, Key=store.key(sha))
    assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"])
    monkeypatch.undo()
    # a damaged object is kept as it is (write-once), so verify goes on naming it
    admin.put_object(Bucket=bucket, Key=store.key(sha), Body=b"damaged")
    assert store.put(_raw(1)) == sha
    with pytest.raises(SnapshotDamaged, match=sha):
        store.get(sha)


# how each object is damaged, and the reason a read must give (as in tests/test_fixity.py)
DAMAGE = {
    "flipped content byte": "hash mismatch",
    "flipped frame header byte": "corrupt frame",
    "truncated": "truncated",
    "appended bytes": "trailing bytes",
    "deleted": "missing",
    "replaced by another valid blob": "hash mismatch",
}


def _damage(admin: Any, bucket: str, key: str, how: str) -> None:
    """Change the stored object behind the store's back, with a plain client."""
    frame = admin.get_object(Bucket=bucket, Key=key)["Body"].read()
    if how == "deleted":
        admin.delete_object(Bucket=bucket, Key=key)
        return
    if how == "flipped content byte":
        damaged = bytearray(frame)
        damaged[len(frame) // 2] ^= 0xFF
        frame = bytes(damaged)
    elif how == "flipped frame header byte":
        frame = bytes([frame[0] ^ 0xFF]) + frame[1:]
    elif how == "truncated":
        frame = frame[: len(frame) // 2]
    elif how == "appended bytes":
        frame += b"\x00 appended"
    elif how == "replaced by another valid blob":
        frame = zstandard.ZstdCompressor().compress(b"<html>another page</html>")
    else:  # pragma: no cover
        raise AssertionError(how)
    admin.put_object(Bucket=bucket, Key=key, Body=frame)


@pytest.mark.parametrize("how", sorted(DAMAGE))
def test_a_damaged_object_is_never_read_as_the_document(
    store: S3SnapshotStore, admin: Any, bucket: str, how: str
) -> None:
    sha = store.put(_raw(1))
    _damage(admin, bucket, store.key(sha), how)
    if how == "deleted":
        with pytest.raises(SnapshotNotFound):
            store.get(sha)
        assert not store.exists(sha)
    else:
        with pytest.raises(SnapshotDamaged, match=sha) as raised:
            store.get(sha)
        assert raised.value.reason == DAMAGE[how] and raised.value.sha256 == sha
        assert store.exists(sha)
    checked = check_blob(store, sha)
    assert not checked["verified"] and sha in checked["problem"]


def test_a_missing_object(store: S3SnapshotStore) -> None:
    with pytest.raises(SnapshotNotFound):
        store.get("0" * 64)
    assert not store.exists("0" * 64)
    assert check_blob(store, "0" * 64)["problem"] == f"{'0' * 64} is missing from the store"
    with pytest.raises(ValueError, match="not a SHA-256"):
        store.get("../../etc/passwd")


def test_listing_takes_every_page_and_only_the_stores_objects(
    url: str, admin: Any, bucket: str
) -> None:
    store = open_store(url + "&page_size=3")
    assert isinstance(store, S3SnapshotStore) and store.page_size == 3
    assert list(store.iter_hashes()) == [] and store.stored_bytes() == 0
    shas = [store.put(_raw(i)) for i in range(8)]
    # not objects of this store: another prefix beside it, and other keys under its prefix
    open_store(url.replace("/archive/main?", "/archive/main-old?")).put(_raw(99))
    admin.put_object(Bucket=bucket, Key="archive/main/README.txt", Body=b"hello")
    admin.put_object(Bucket=bucket, Key=f"archive/main/00/00/{shas[0]}.zst", Body=b"misfiled")
    admin.put_object(Bucket=bucket, Key="archive/main/objects.sqlite", Body=b"SQLite format 3")
    lists = _calls(store, "ListObjectsV2")
    assert list(store.iter_hashes()) == sorted(shas)
    assert len(lists) == 4 and all(p["MaxKeys"] == 3 for p in lists)  # 11 keys, 3 a page
    sizes = [admin.head_object(Bucket=bucket, Key=store.key(s))["ContentLength"] for s in shas]
    assert store.stored_bytes() == sum(sizes)


# -- its URL --------------------------------------------------------------------------------


def test_url_settings() -> None:
    assert parse_url("s3://my-bucket") == {"bucket": "my-bucket", "prefix": ""}
    assert parse_url(
        "s3://my-bucket/a/b/?endpoint_url=https://minio.example:9000&region=eu-west-1"
        "&addressing_style=path&page_size=50"
    ) == {
        "bucket": "my-bucket",
        "prefix": "a/b",
        "endpoint_url": "https://minio.example:9000",
        "region": "eu-west-1",
        "addressing_style": "path",
        "page_size": 50,
    }


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("s3://", "no bucket"),
        ("s3:///prefix", "no bucket"),
        ("s3://x/prefix", "not a bucket name"),
        ("s3://bucket/p?endpoint=http://127.0.0.1:9000", "unknown parameter 'endpoint'"),
        ("s3://bucket/p?region=eu-west-1&region=us-east-1", "'region' given twice"),
        ("s3://bucket/p?region=", "'region' is empty"),
        ("s3://bucket/p?endpoint_url=127.0.0.1:9000", "endpoint_url must be an http"),
        ("s3://bucket/p?page_size=0", "page_size: expected 1 to 1000"),
        ("s3://bucket/p?page_size=many", "page_size: expected 1 to 1000"),
        ("s3://bucket/p?addressing_style=dns", "addressing_style"),
        ("s3://bucket/p?endpoint_url", "malformed query"),
        ("s3://bucket/a//b", "empty path segment"),
        ("s3://AKIA:secret@bucket/p", "credentials do not go in the URL"),
    ],
)
def test_a_malformed_url_names_the_setting(url: str, why: str) -> None:
    with pytest.raises(ValueError, match="snapshot_store") as raised:
        open_store(url)
    assert why in str(raised.value)
    assert "secret" not in str(raised.value)


def test_without_boto3_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # import boto3 now fails
    with pytest.raises(ImportError, match=r"snapshot_store.*boto3.*clausewatch\[s3\]"):
        open_store("s3://bucket/prefix")


def test_a_missing_bucket_is_a_failure_to_read_not_a_missing_object(endpoint: str) -> None:
    store = open_store(f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/p?endpoint_url={endpoint}")
    with pytest.raises(OSError, match="NoSuchBucket") as raised:
        store.get("0" * 64)
    assert not isinstance(raised.value, SnapshotNotFound)
    with pytest.raises(OSError, match="NoSuchBucket"):
        store.put(b"data")
    assert check_blob(store, "0" * 64)["problem"].startswith(f"{'0' * 64} could not be read")


# -- the archive on it ----------------------------------------------------------------------


def _verify_cli(archive: Archive, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "1000", "CLAUSEWATCH_SNAPSHOT_STORE": url}
    data_dir = str(archive.settings.data_dir)
    return subprocess.run(
        [sys.executable, "-m", "clausewatch", "verify", "--data-dir", data_dir],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_archive_imported_onto_s3_verifies_and_a_damaged_object_is_named(
    tmp_path: Path, url: str, admin: Any, bucket: str
) -> None:
    archive = Archive.open(make_settings(tmp_path, snapshot_store=url))
    try:
        assert isinstance(archive.store, S3SnapshotStore)
        report = import_history(archive, read_jsonl(SAMPLE))
        assert report.records == 30 and len(report.documents) == 2
        assert not (archive.settings.data_dir / "snapshots").exists()  # nothing stored locally
        captures = sorted(archive.captures(), key=lambda c: c.id)
        snapshots = {c.snapshot_sha256 for c in captures if c.snapshot_sha256}
        texts = {v.text_sha256 for d in archive.documents() for v in archive.versions(d.id)}
        assert snapshots and texts
        assert snapshots | texts <= set(archive.store.iter_hashes())
        with archive.sessions() as session:
            clean = verify_archive(session, archive.store)
        assert clean.ok, clean.problems
        assert clean.snapshots_checked == len(snapshots | texts)
        done = _verify_cli(archive, url)
        assert done.returncode == 0, done.stdout + done.stderr

        damaged = next(c for c in captures if c.snapshot_sha256 not in texts)
        sha = damaged.snapshot_sha256
        assert sha is not None
        records = [format_id("CAP", c.id) for c in captures if c.snapshot_sha256 == sha]
        key = archive.store.key(sha)
        frame = admin.get_object(Bucket=bucket, Key=key)["Body"].read()
        admin.put_object(Bucket=bucket, Key=key, Body=frame[: len(frame) // 2])
        with archive.sessions() as session:
            report_after = verify_archive(session, archive.store)
        assert sorted(p.record for p in report_after.problems) == sorted(records)
        assert all(sha in p.what and "truncated" in p.what for p in report_after.problems)
        done = _verify_cli(archive, url)
        assert done.returncode == 1 and "Traceback" not in done.stdout + done.stderr
        named = [line for line in done.stdout.splitlines() if sha in line]
        assert named and all("truncated" in line for line in named)
        assert any(records[0] in line for line in named)
        assert f"problems: {len(records)}" in done.stdout
    finally:
        archive.close()


def test_the_archive_reads_back_what_it_wrote_through_a_fresh_store(
    tmp_path: Path, url: str
) -> None:
    """Another process (a fresh store on the same URL) reads every version's text."""
    writer = Archive.open(make_settings(tmp_path, snapshot_store=url))
    try:
        import_history(writer, itertools.islice(read_jsonl(SAMPLE), 12))
        expected = {
            v.id: writer.version_text(v) for d in writer.documents() for v in writer.versions(d.id)
        }
    finally:
        writer.close()
    reader = open_store(url)
    assert isinstance(reader, S3SnapshotStore)
    archive = Archive.open(make_settings(tmp_path, snapshot_store=url))
    try:
        got = {
            v.id: reader.get(v.text_sha256).decode()
            for d in archive.documents()
            for v in archive.versions(d.id)
        }
    finally:
        archive.close()
        reader.close()
    assert got == expected and len(got) > 2
