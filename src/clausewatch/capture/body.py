"""Is this body a web page at all? Checked on the bytes, before anything parses them.

`body_problem` refuses, with a reason that is recorded as the capture's ``error``:

- a compressed stream the HTTP layer did not undo (gzip, zstd, zlib, bzip2, xz, zip magic
  numbers, or a brotli stream, which has no magic number and is recognised by decoding its
  start): a server that compressed the page without saying so in ``Content-Encoding``, or said
  an encoding we cannot undo — "compressed body served as text/html (gzip)";
- binary content (NUL bytes, or a share of control bytes no text has) where a page or a text
  is expected — "binary content, not a web page".

PDFs, and bodies whose declared type is neither HTML nor text, are left to `assess_response`.
`too_large` is the one wording of the size cap, for both fetchers.
"""

from __future__ import annotations

from clausewatch.capture.assess import content_kind

try:  # installed with httpx2's brotli support; without it a brotli body reads as binary
    import brotli
except ImportError:  # pragma: no cover
    brotli = None

# (magic number, name); after `Content-Encoding` is undone, a page never starts like this.
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)
SAMPLE_BYTES = 65_536
# Text has no control bytes but tab, newlines, form feed and ESC (ISO-2022 escapes); random
# or compressed bytes have about 11% of them. Either threshold is far from both.
_CONTROL = frozenset({*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F})
_CONTROL_BYTES = bytes(sorted(_CONTROL))  # for bytes.translate: counted in C, not per byte
MAX_CONTROL_SHARE = 0.05
MAX_NUL_SHARE = 0.01


def body_problem(content_type: str, content: bytes) -> str | None:
    """Why these bytes cannot be the page (see the module docstring), or None."""
    if not content.strip():
        return None  # `assess_response` says "empty body"
    kind = content_kind(content_type, content)
    if kind == "pdf":
        return None
    served_as = content_type.split(";", 1)[0].strip().lower() or "a response without a type"
    sample = content[:SAMPLE_BYTES]
    if name := _compression(sample):
        return f"compressed body served as {served_as} ({name})"
    if kind in {"html", "text"} and _looks_binary(sample):
        if _is_brotli(sample):
            return f"compressed body served as {served_as} (br)"
        return "binary content, not a web page"
    return None


def too_large(max_bytes: int, declared: str | None = None) -> str:
    """The size cap's error: "page larger than 20 MB" (with the Content-Length, when known)."""
    limit = f"page larger than {max_bytes / 1_000_000:g} MB"
    return f"{limit} (Content-Length {declared})" if declared else limit


def _compression(sample: bytes) -> str | None:
    for magic, name in _MAGIC:
        if sample.startswith(magic):
            return name
    # zlib ("deflate"): CM=8, a 32K window at most, and a header checksum that is a multiple of 31
    zlib_header = len(sample) > 2 and sample[0] & 0x0F == 8 and sample[0] >> 4 <= 7
    if zlib_header and (sample[0] << 8 | sample[1]) % 31 == 0 and _looks_binary(sample[2:]):
        return "deflate"
    return None


def _looks_binary(sample: bytes) -> bool:
    if not sample:
        return False
    if _utf16_like(sample):
        return False
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    nuls = sample.count(0)
    return nuls > MAX_NUL_SHARE * len(sample) or controls > MAX_CONTROL_SHARE * len(sample)


def _utf16_like(sample: bytes) -> bool:
    """UTF-16/32 text (with or without a BOM) is full of NULs but is text."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    even, odd = sample[0::2], sample[1::2]
    for zeros, letters in ((even, odd), (odd, even)):
        if zeros.count(0) > 0.3 * len(zeros) and letters.count(0) < 0.05 * len(letters):
            return True
    return False


def _is_brotli(sample: bytes) -> bool:
    """A brotli stream: its start decodes (without error) to text."""
    if brotli is None:
        return False
    try:
        decoded = brotli.Decompressor().process(sample[:4096], output_buffer_limit=SAMPLE_BYTES)
    except brotli.error:
        return False
    return bool(decoded.strip()) and not _looks_binary(decoded[:SAMPLE_BYTES])
