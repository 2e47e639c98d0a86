"""Decoding HTML bytes to text: header, ``<meta>``, BOM, then detection.

Servers often lie: a page of UTF-8 bytes served as ``ISO-8859-1`` (the HTTP/1.1 default), or a
Windows-1252 page served as ``UTF-8``. A single-byte label can never be refuted by strict decoding,
while valid multi-byte UTF-8 almost never occurs by chance in legacy text, so bytes that are valid
UTF-8 win over a single-byte label, and a label whose strict decoding fails is skipped.
"""

from __future__ import annotations

import codecs
import functools
import re

import charset_normalizer

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
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
    best = charset_normalizer.from_bytes(content).best()
    if best is not None:
        return str(best)
    return content.decode("cp1252", errors="replace")
