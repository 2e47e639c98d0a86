"""Entry points: dispatch on content type, combine multi-source documents, extract local files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .dom import Selector
from .errors import ExtractionError
from .html import html_to_markdown
from .normalise import normalise_for_hash
from .pdf import pdf_to_markdown

# Open Terms Archive joins the sources of one document with a thematic break.
SOURCE_SEPARATOR = "\n\n- - -\n\n"

_PDF_MAGIC = b"%PDF-"
_TEXT_TYPES = ("text/plain", "text/markdown")


def extract_markdown(
    content: bytes,
    content_type: str,
    *,
    url: str | None = None,
    select: Sequence[Selector] = (),
    remove: Sequence[Selector] = (),
) -> str:
    """Extract Markdown from captured bytes, by magic bytes first and content type second."""
    if not content.strip():
        raise ExtractionError(f"empty content{' from ' + url if url else ''}")
    mime = content_type.split(";")[0].strip().lower()
    if content.lstrip()[:5] == _PDF_MAGIC or mime == "application/pdf":
        if not content.lstrip().startswith(_PDF_MAGIC):
            raise ExtractionError(f"content typed as PDF is not a PDF{' at ' + url if url else ''}")
        return pdf_to_markdown(content)
    if mime in _TEXT_TYPES:
        return _plain_text(content, content_type)
    return html_to_markdown(
        content, select=select, remove=remove, url=url, content_type=content_type
    )


def _plain_text(content: bytes, content_type: str) -> str:
    from .charset import decode_html
    from .converter import tidy_markdown

    return tidy_markdown(decode_html(content, content_type))


def combine_markdown(parts: Sequence[str]) -> str:
    """One document from several sources, joined by a ``- - -`` line, as Open Terms Archive does.

    Empty parts are skipped, and so is a part whose normalised text (see
    :func:`normalise_for_hash`) equals an earlier part's.
    """
    texts: list[str] = []
    seen: set[str] = set()
    for part in parts:
        # Two sources that yield the same text (e.g. both redirect to one page) count once.
        canonical = normalise_for_hash(part)
        if canonical and canonical not in seen:
            seen.add(canonical)
            texts.append(part.strip())
    return SOURCE_SEPARATOR.join(texts) + "\n" if texts else ""


def extract_files(paths: Sequence[Path]) -> str:
    """Extract local HTML/PDF files (content detected from bytes) into one Markdown document."""
    parts = []
    for path in paths:
        content = Path(path).read_bytes()
        content_type = "application/pdf" if content.lstrip()[:5] == _PDF_MAGIC else "text/html"
        try:
            parts.append(extract_markdown(content, content_type, url=Path(path).as_uri()))
        except ExtractionError as exc:
            raise ExtractionError(f"{path}: {exc}") from exc
    return combine_markdown(parts)
