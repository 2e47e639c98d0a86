"""PDF → Markdown with pypdfium2: text lines, headings from font size and weight, paragraphs.

PDFium is not thread-safe, even across documents, so every call goes through one process-wide lock.
"""

from __future__ import annotations

import ctypes
import itertools
import re
import statistics
import threading
from collections import Counter
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from .converter import tidy_markdown
from .errors import ExtractionError

PDFIUM_LOCK = threading.Lock()

_BULLET = re.compile(r"^[•●▪■◦‣○∙·\uf0b7\uf0a7–-]\s*")
_ENUMERATION = re.compile(r"^(?:\(?[0-9]{1,3}[.)]|\(?[a-z][.)]|\([ivxlc]+\)|[IVXLC]+\.)\s")
_SENTENCE_END = re.compile(r"[.:;!?)\]”\"]$")
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi", re.I)


@dataclass
class Line:
    text: str
    size: float  # effective font size in points (font size × text matrix scale)
    bold: bool
    top: float
    bottom: float
    left: float
    right: float
    page: int


@dataclass
class _Chars:
    text: list[str] = field(default_factory=list)
    sizes: list[float] = field(default_factory=list)
    bold: list[bool] = field(default_factory=list)
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)


def pdf_to_markdown(data: bytes) -> str:
    """Extract a PDF's text as Markdown (headings, paragraphs, bullets)."""
    with PDFIUM_LOCK:
        lines = _read_lines(data)
    if not any(line.text.strip() for line in lines):
        raise ExtractionError("PDF has no text layer (needs OCR)")
    lines = _drop_running_lines(lines)
    return tidy_markdown(_assemble(lines))


def _read_lines(data: bytes) -> list[Line]:
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ExtractionError(f"unreadable PDF: {exc}") from exc
    try:
        lines: list[Line] = []
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            try:
                lines.extend(_page_lines(textpage, index))
            finally:
                textpage.close()
                page.close()
        return lines
    finally:
        pdf.close()


def _page_lines(textpage: pdfium.PdfTextPage, page_no: int) -> list[Line]:
    raw = textpage.raw
    matrix = pdfium_c.FS_MATRIX()
    name = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    lines: list[Line] = []
    chars = _Chars()
    for i in range(textpage.count_chars()):
        char = chr(pdfium_c.FPDFText_GetUnicode(raw, i))
        if char == "\n":
            _flush(chars, lines, page_no)
            chars = _Chars()
            continue
        if char in "\r\x00" or (char == "\x02" or pdfium_c.FPDFText_IsHyphen(raw, i) == 1):
            continue
        pdfium_c.FPDFText_GetMatrix(raw, i, ctypes.byref(matrix))
        scale = max(abs(matrix.d), abs(matrix.b), 1e-6) if matrix.d or matrix.b else 1.0
        pdfium_c.FPDFText_GetFontInfo(raw, i, name, len(name), ctypes.byref(flags))
        chars.text.append(char)
        chars.sizes.append(round(pdfium_c.FPDFText_GetFontSize(raw, i) * scale, 1))
        chars.bold.append(bool(_BOLD_FONT.search(name.value.decode("latin-1"))))
        chars.boxes.append(textpage.get_charbox(i))
    _flush(chars, lines, page_no)
    return lines


def _flush(chars: _Chars, lines: list[Line], page_no: int) -> None:
    text = "".join(chars.text).strip()
    if not text:
        return
    visible = [k for k, c in enumerate(chars.text) if not c.isspace()]
    size = Counter(chars.sizes[k] for k in visible).most_common(1)[0][0]
    boxes = [chars.boxes[k] for k in visible]
    lines.append(
        Line(
            text=re.sub(r"\s+", " ", text),
            size=size,
            bold=all(chars.bold[k] for k in visible),
            left=min(b[0] for b in boxes),
            bottom=min(b[1] for b in boxes),
            right=max(b[2] for b in boxes),
            top=max(b[3] for b in boxes),
            page=page_no,
        )
    )


def _drop_running_lines(lines: list[Line]) -> list[Line]:
    """Remove running headers/footers: first/last lines repeated on most pages, page numbers."""
    pages = sorted({line.page for line in lines})
    if len(pages) < 2:
        return lines
    edges: Counter[str] = Counter()
    for page in pages:
        on_page = [line for line in lines if line.page == page]
        for line in {id(on_page[0]): on_page[0], id(on_page[-1]): on_page[-1]}.values():
            edges[_running_key(line.text)] += 1
    frequent = {key for key, n in edges.items() if n >= max(2, len(pages) // 2)}

    def is_running(line: Line, on_page: list[Line]) -> bool:
        at_edge = line is on_page[0] or line is on_page[-1]
        key = _running_key(line.text)
        return at_edge and (key in frequent or key == "")

    kept = []
    for page in pages:
        on_page = [line for line in lines if line.page == page]
        kept += [line for line in on_page if not is_running(line, on_page)]
    return kept


def _running_key(text: str) -> str:
    # Page numbers change from page to page: compare running lines without their digits.
    return re.sub(r"[\d\s/|.-]+", " ", text.lower()).strip()


def _heading_levels(lines: list[Line]) -> tuple[float, dict[float, int]]:
    """Body font size (most characters) and a heading level for each clearly larger size."""
    weights: Counter[float] = Counter()
    for line in lines:
        weights[line.size] += len(line.text)
    body = weights.most_common(1)[0][0]
    larger = sorted({s for s in weights if s >= body * 1.15}, reverse=True)
    return body, {size: min(level, 6) for level, size in enumerate(larger, start=1)}


def _heading_level(line: Line, body: float, levels: dict[float, int]) -> int:
    if len(line.text) > 120 or not re.search(r"[^\W\d_]", line.text):
        return 0
    if line.size in levels:
        return levels[line.size]
    if line.bold and line.size >= body * 0.95 and not line.text.endswith((",", ";")):
        # Body-size bold headings: legal documents put the higher level in capitals.
        capitals = line.text.upper() == line.text
        return min(len(levels) + (1 if capitals else 2), 6)
    return 0


def _assemble(lines: list[Line]) -> str:
    body, levels = _heading_levels(lines)
    gaps = [
        prev.bottom - cur.top
        for prev, cur in itertools.pairwise(lines)
        if prev.page == cur.page and prev.bottom > cur.top
    ]
    normal_gap = statistics.median(gaps) if gaps else body * 0.5
    width = max((line.right for line in lines), default=0.0)
    blocks: list[str] = []
    paragraph: list[str] = []
    previous: Line | None = None
    previous_level = 0

    def flush() -> None:
        if paragraph:
            blocks.append(_join(paragraph))
            paragraph.clear()

    for line in lines:
        level = _heading_level(line, body, levels)
        if level:
            flush()
            if previous_level == level and blocks and _close(previous, line, normal_gap):
                blocks[-1] += " " + line.text  # a title set over several lines
            else:
                blocks.append("#" * level + " " + line.text)
        else:
            if _starts_block(line, previous, previous_level, normal_gap, width):
                flush()
            paragraph.append(_BULLET.sub("- ", line.text, count=1))
        previous, previous_level = line, level
    flush()
    return _join_blocks(blocks)


def _join_blocks(blocks: list[str]) -> str:
    """Blank lines between blocks, but consecutive list items form one tight list."""
    out = ""
    for block in blocks:
        tight = out.rsplit("\n", 1)[-1].startswith("- ") and block.startswith("- ")
        out += ("\n" if tight else "\n\n") + block if out else block
    return out


def _close(previous: Line | None, line: Line, normal_gap: float) -> bool:
    if previous is None or previous.page != line.page:
        return False
    return previous.bottom - line.top <= normal_gap * 1.5 + 1


def _starts_block(
    line: Line, previous: Line | None, previous_level: int, normal_gap: float, width: float
) -> bool:
    if previous is None or previous_level:
        return True
    if _BULLET.match(line.text) or _ENUMERATION.match(line.text):
        return True
    if previous.page == line.page and previous.bottom - line.top > normal_gap * 1.6 + 1:
        return True
    # A short line that ends a sentence closes its paragraph.
    return bool(_SENTENCE_END.search(previous.text)) and previous.right < width * 0.8


def _join(parts: list[str]) -> str:
    text = parts[0]
    for part in parts[1:]:
        if text.endswith("-") and text[-2:-1].isalpha() and part[:1].islower():
            text = text[:-1] + part  # a word hyphenated at the line end
        else:
            text += " " + part
    return text
