"""The snapshot store in an S3-compatible object store: ``s3://bucket/prefix``.

Same protocol and guarantees as the local store (`clausewatch.archive.snapshots`), with one
object per blob and no delta packing (docs/archive.md § S3-compatible snapshot store says why):

- **Key**: ``<prefix>/ab/cd/<sha256>.zst``, the layout of a local ``?layout=files`` store, so
  that such a folder copied into the bucket (``aws s3 sync``) is a valid store, and back.
- **Body**: exactly one whole zstd frame (level 12) of the bytes that hash to ``<sha256>``.
- **Write-once**: `put` skips an object that exists (``HEAD``) and writes with
  ``If-None-Match: *``, so that two writers racing on the same object never overwrite each
  other; the store never overwrites nor deletes an object.
- **Strict reads**: `get` raises `SnapshotNotFound` for a missing object and `SnapshotDamaged`
  (the reasons of the local store) when the body is not one complete frame that re-hashes to
  its name. An error of the service or the network (no bucket, no permission, no connection
  after botocore's retries) is an `OSError` naming the store and the object: a failure to
  read, not a finding about the object.

Credentials and the region come from the standard AWS chain (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, ``~/.aws/config`` and
``~/.aws/credentials``, web identity, container and instance roles), never from the URL.
boto3 is imported only when such a store is opened: ``pip install 'clausewatch[s3]'``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import zstandard

from clausewatch.archive.snapshots import (
    SnapshotDamaged,
    SnapshotNotFound,
    _check_hash,
    decompress_frame,
    sha256_hex,
)

LEVEL = 12  # as the local store's whole frames
PAGE_SIZE = 1000  # keys per ListObjectsV2 page: S3's maximum
PARAMETERS = ("endpoint_url", "region", "addressing_style", "page_size")
_KEY = re.compile(r"([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})\.zst")
# the error codes S3 answers a conditional write with when the object already exists (412) or
# another conditional write of it is in flight (409)
_ALREADY_WRITTEN = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}


def _setting_error(url: str, why: str) -> ValueError:
    return ValueError(f"snapshot_store: {why} in {_redacted(url)!r}")


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return parts._replace(netloc="…@" + parts.netloc.rpartition("@")[2]).geturl()
    return url


def parse_url(url: str) -> dict[str, Any]:
    """The settings of an ``s3://bucket/prefix?…`` URL: ``bucket``, ``prefix`` (no slash at
    either end; may be empty) and the query parameters (`PARAMETERS`). Raises `ValueError`
    naming the ``snapshot_store`` setting and what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "s3":
        raise _setting_error(url, f"expected an s3:// URL, got scheme {parts.scheme!r}")
    if "@" in parts.netloc:
        raise _setting_error(
            url,
            "credentials do not go in the URL (use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, "
            "AWS_PROFILE or ~/.aws/credentials)",
        )
    bucket = parts.netloc
    if not bucket:
        raise _setting_error(url, "no bucket (expected s3://bucket/prefix)")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{2,62}", bucket):
        raise _setting_error(url, f"not a bucket name: {bucket!r}")
    if parts.fragment:
        raise _setting_error(url, "unexpected '#' fragment")
    prefix = parts.path.strip("/")
    if "//" in prefix:
        raise _setting_error(url, f"empty path segment in the prefix {prefix!r}")
    settings: dict[str, Any] = {"bucket": bucket, "prefix": prefix}
    try:
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise _setting_error(url, f"malformed query {parts.query!r}") from None
    for name, value in query:
        if name not in PARAMETERS:
            expected = ", ".join(PARAMETERS)
            raise _setting_error(url, f"unknown parameter {name!r} (expected one of {expected})")
        if name in settings:
            raise _setting_error(url, f"parameter {name!r} given twice")
        if not value:
            raise _setting_error(url, f"parameter {name!r} is empty")
        settings[name] = value
    endpoint = settings.get("endpoint_url")
    if endpoint is not None:
        ep = urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.netloc:
            raise _setting_error(
                url, f"endpoint_url must be an http:// or https:// URL, got {endpoint!r}"
            )
    style = settings.get("addressing_style")
    if style is not None and style not in ("auto", "path", "virtual"):
        raise _setting_error(
            url, f"addressing_style: expected 'auto', 'path' or 'virtual', got {style!r}"
        )
    if "page_size" in settings:
        raw = settings["page_size"]
        if not raw.isdigit() or not 1 <= int(raw) <= PAGE_SIZE:
            raise _setting_error(url, f"page_size: expected 1 to {PAGE_SIZE}, got {raw!r}")
        settings["page_size"] = int(raw)
    return settings


def _strict_decompress(sha256: str, compressed: bytes) -> bytes:
    """The object's bytes, frame and hash checked as the local store checks them."""
    data = decompress_frame(sha256, compressed, zstandard.ZstdDecompressor())
    actual = sha256_hex(data)
    if actual != sha256:
        raise SnapshotDamaged(sha256, "hash mismatch", f"the stored bytes re-hash to {actual}")
    return data


class S3SnapshotStore:
    """Blobs as objects ``<prefix>/ab/cd/<sha256>.zst`` of one bucket, one zstd frame each."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        try:
            import boto3
            import botocore.config
            import botocore.exceptions
        except ImportError as exc:
            raise ImportError(
                "snapshot_store: an s3:// store needs boto3, which is not installed "
                "(pip install 'clausewatch[s3]')"
            ) from exc
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.page_size = page_size
        self._boto3 = boto3
        self._errors = botocore.exceptions
        self._client_kwargs: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "region_name": region,
            "config": botocore.config.Config(
                retries={"mode": "standard", "max_attempts": 5},
                connect_timeout=10,
                read_timeout=60,
                s3={"addressing_style": addressing_style or "auto"},
            ),
        }
        self._lock = threading.Lock()
        self._client_pid: int | None = None
        self._client_obj: Any = None
        self._local = threading.local()  # zstd contexts are per thread
        self._conditional_writes = True  # False once the server says it has none

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def __repr__(self) -> str:
        return f"S3SnapshotStore({self.url!r})"

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The boto3 S3 client (thread-safe; made again in a forked worker process)."""
        with self._lock:
            if self._client_obj is None or self._client_pid != os.getpid():
                session = self._boto3.session.Session()  # sessions are not thread-safe
                self._client_obj = session.client("s3", **self._client_kwargs)
                self._client_pid = os.getpid()
            return self._client_obj

    def key(self, sha256: str) -> str:
        sha256 = _check_hash(sha256)
        name = f"{sha256[:2]}/{sha256[2:4]}/{sha256}.zst"
        return f"{self.prefix}/{name}" if self.prefix else name

    def _compressor(self) -> zstandard.ZstdCompressor:
        if not hasattr(self._local, "c"):
            self._local.c = zstandard.ZstdCompressor(level=LEVEL)
        compressor: zstandard.ZstdCompressor = self._local.c
        return compressor

    @staticmethod
    def _code(exc: Exception) -> str:
        response = getattr(exc, "response", None) or {}
        code = str(response.get("Error", {}).get("Code", ""))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code or str(status or "")

    def _failed(self, doing: str, sha256: str, exc: Exception) -> OSError:
        return OSError(f"snapshot store {self.url}: {doing} {sha256}: {exc}")

    # -- the protocol -----------------------------------------------------------------------

    def put(self, data: bytes, base: str | None = None, *, derived: bool = False) -> str:
        """Store ``data`` as one whole zstd frame; ``base`` and ``derived`` (delta hints) are
        not used: every object is read in one request, on its own."""
        sha256 = sha256_hex(data)
        if self.exists(sha256):
            return sha256  # write-once: an existing object is never written over
        request: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.key(sha256),
            "Body": self._compressor().compress(data),
            "ContentType": "application/zstd",
            "Metadata": {"size": str(len(data))},
        }
        try:
            if self._conditional_writes:
                try:
                    self.client.put_object(**request, IfNoneMatch="*")
                    return sha256
                except self._errors.ClientError as exc:
                    code = self._code(exc)
                    if code in _ALREADY_WRITTEN:
                        return sha256  # written by another writer since the HEAD
                    if code not in ("NotImplemented", "501"):
                        raise
                    # a server without conditional writes: the HEAD above is the check; a
                    # writer racing on the same object writes the same content
                    self._conditional_writes = False
            self.client.put_object(**request)
        except (self._errors.ClientError, self._errors.BotoCoreError) as exc:
            raise self._failed("writing", sha256, exc) from exc
        return sha256

    def get(self, sha256: str) -> bytes:
        key = self.key(sha256)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
            compressed = response["Body"].read()
        except self._errors.ClientError as exc:
            if self._code(exc) in _NOT_FOUND:
                raise SnapshotNotFound(sha256) from None
            raise self._failed("reading", sha256, exc) from exc
        except self._errors.FlexibleChecksumError as exc:
            # S3's own checksum of the stored body does not match what arrived
            raise SnapshotDamaged(sha256, "unreadable", f"{key}: {exc}") from None
        except self._errors.BotoCoreError as exc:
            raise self._failed("reading", sha256, exc) from exc
        return _strict_decompress(sha256, compressed)

    def exists(self, sha256: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(sha256))
        except self._errors.ClientError as exc:
            if self._code(exc) in _NOT_FOUND:
                return False
            raise self._failed("looking up", sha256, exc) from exc
        except self._errors.BotoCoreError as exc:
            raise self._failed("looking up", sha256, exc) from exc
        return True

    def _objects(self) -> Iterator[tuple[str, int]]:
        """(SHA-256, stored size) of every object under the prefix, page by page, in key (so
        hash) order; keys that are not a blob's are skipped."""
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket,
            Prefix=f"{self.prefix}/" if self.prefix else "",
            PaginationConfig={"PageSize": self.page_size},
        )
        start = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    match = _KEY.fullmatch(item["Key"], start)
                    if match and match[3].startswith(match[1] + match[2]):
                        yield match[3], int(item.get("Size", 0))
        except (self._errors.ClientError, self._errors.BotoCoreError) as exc:
            raise OSError(f"snapshot store {self.url}: listing: {exc}") from exc

    def iter_hashes(self) -> Iterator[str]:
        for sha256, _ in self._objects():
            yield sha256

    def stored_bytes(self) -> int:
        """Compressed bytes of every object: one listing of the prefix."""
        return sum(size for _, size in self._objects())

    def close(self) -> None:
        with self._lock:
            if self._client_obj is not None:
                self._client_obj.close()
                self._client_obj = None


def open_s3_store(url: str) -> S3SnapshotStore:
    settings = parse_url(url)
    return S3SnapshotStore(
        settings.pop("bucket"),
        settings.pop("prefix"),
        endpoint_url=settings.get("endpoint_url"),
        region=settings.get("region"),
        addressing_style=settings.get("addressing_style"),
        page_size=settings.get("page_size", PAGE_SIZE),
    )
