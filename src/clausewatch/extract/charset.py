"""Decoding HTML bytes to text: header, ``<meta>``, BOM, then detection.

Servers often lie: a page of UTF-8 bytes served as ``ISO-8859-1`` (the HTTP/1.1 default), or a
Windows-1252 page served as ``UTF-8``. A single-byte label can never be refuted by strict decoding,
while valid multi-byte UTF-8 almost never occurs by chance in legacy text, so bytes that are valid
UTF-8 win over a single-byte label, and a label whose strict decoding fails is skipped.
"""

from __future__ import annotations

import codecs
import functools
import logging
import re

import charset_normalizer

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
log = logging.getLogger(__name__)

# Single-byte codecs of Latin-script languages, windows-1252 first (it wins ties).
_LATIN = ["cp1252", "cp1250", "cp1257", "iso8859_15", "iso8859_2", "iso8859_9"]
_LATIN_ALONE_SHARE = 0.6
_SAMPLE = 262_144
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
# Browsers decode these labels as windows-1252 / GB18030 (WHATWG Encoding Standard).
_ALIASES = {
    "latin1": "cp1252",
    "latin_1": "cp1252",
    "iso8859_1": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}


def _codec_name(label: str) -> str | None:
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    return _ALIASES.get(name.replace("-", "_"), name)


@functools.lru_cache(maxsize=64)
def _is_single_byte(codec: str) -> bool:
    """Every byte string decodes in a single-byte codec, so strict decoding proves nothing."""
    try:
        return len(bytes(range(256)).decode(codec, errors="replace")) == 256
    except LookupError:
        return False


def declared_charsets(content: bytes, content_type: str = "") -> list[str]:
    """Codec names declared by the HTTP header and by ``<meta>`` tags, in that order."""
    labels = []
    if match := _HEADER_CHARSET.search(content_type or ""):
        labels.append(match.group(1))
    labels += [
        m.group(1).decode("ascii", "ignore") for m in _META_CHARSET.finditer(content[:65536])
    ]
    names: list[str] = []
    for label in labels:
        name = _codec_name(label)
        if name and name not in names:
            names.append(name)
    return names


def _strict(content: bytes, codec: str) -> str | None:
    try:
        return content.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def decode_html(content: bytes, content_type: str = "") -> str:
    """Decode an HTML page to text (see the module docstring for the order of evidence)."""
    for bom, codec in _BOMS:
        if content.startswith(bom):
            return content.decode(codec, errors="replace")
    utf8 = _strict(content, "utf-8")
    is_ascii = content.isascii()
    for codec in declared_charsets(content, content_type):
        if codec == "utf-8":
            if utf8 is not None:
                return utf8
            continue  # a false UTF-8 label: try the next declaration
        if _is_single_byte(codec) and utf8 is not None and not is_ascii:
            return utf8  # UTF-8 bytes behind a legacy label
        if (text := _strict(content, codec)) is not None:
            return text
    if utf8 is not None:
        return utf8
    codec = detect_charset(content)
    declared = declared_charsets(content, content_type)
    if declared and codec not in declared:
        log.info("declared charset %s does not fit the bytes; decoded as %s", declared[0], codec)
    return content.decode(codec, errors="replace")


def detect_charset(content: bytes) -> str:
    """The codec of bytes that are not UTF-8 and that no declaration fits.

    Text in a Latin script (single non-ASCII bytes between ASCII letters: "générales") is
    decided among the single-byte Latin codecs, windows-1252 winning ties: on a short page,
    unrestricted detection takes a few such bytes for Korean or Chinese. Other scripts go to
    charset_normalizer as they are.
    """
    latin = _latin_pattern(content[:_SAMPLE])
    results = charset_normalizer.from_bytes(content, cp_isolation=_LATIN if latin else None)
    best = results.best()
    if best is None:
        return "cp1252"
    for match in results:  # windows-1252 wins a tie (the same text, or as plausible a one)
        tied = match.chaos <= best.chaos + 0.01 and match.coherence >= best.coherence - 0.02
        if tied and "cp1252" in match.could_be_from_charset:
            return "cp1252"
    return best.encoding


def _latin_pattern(sample: bytes) -> bool:
    """Most non-ASCII bytes stand alone, between ASCII bytes (one letter, one byte)."""
    high = [i for i, byte in enumerate(sample) if byte >= 0x80]
    if not high:
        return False
    alone = sum(
        1
        for i in high
        if (i == 0 or sample[i - 1] < 0x80) and (i + 1 == len(sample) or sample[i + 1] < 0x80)
    )
    return alone >= _LATIN_ALONE_SHARE * len(high)
