"""The extract stage: captured bytes (HTML or PDF) → normalised Markdown, and the text to hash.

Public interface::

    EXTRACTOR_VERSION, ExtractionError, decode_html, html_to_markdown, pdf_to_markdown,
    extract_markdown, combine_markdown, extract_files, normalise_for_hash, text_sha256
"""

from .api import SOURCE_SEPARATOR, combine_markdown, extract_files, extract_markdown
from .charset import decode_html
from .errors import EXTRACTOR_VERSION, ExtractionError
from .html import html_to_markdown
from .normalise import normalise_for_hash, text_sha256
from .pdf import pdf_to_markdown

__all__ = [
    "EXTRACTOR_VERSION",
    "SOURCE_SEPARATOR",
    "ExtractionError",
    "combine_markdown",
    "decode_html",
    "extract_files",
    "extract_markdown",
    "html_to_markdown",
    "normalise_for_hash",
    "pdf_to_markdown",
    "text_sha256",
]
