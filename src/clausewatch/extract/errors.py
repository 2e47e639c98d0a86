"""Errors and the extractor version shared by the whole extract stage."""

from __future__ import annotations

# Bump whenever the Markdown produced for the same bytes may change: versions store it so that the
# archive knows which documents to re-extract (and not to mistake the new output for a change).
EXTRACTOR_VERSION = "1.1.0"  # 1.1: overlays (dialogs, consent managers, login modals) removed


class ExtractionError(Exception):
    """The content could not be turned into Markdown; the message says what is wrong and where."""
