"""The bundled offline sample: real version histories of a few platforms, imported by
`clausewatch run` when the live web cannot be reached and the archive is still empty.

Built by `examples/make_sample.py` from the Platform Governance Archive export. Licence: ODC-By 1.0,
attribution "Open Terms Archive / Platform Governance Archive" (see `data/README.md`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from clausewatch.archive.service import Archive
from clausewatch.importers.ota import ImportReport, OtaRecord, import_history, read_jsonl

SAMPLE_PATH = Path(__file__).resolve().parents[1] / "data" / "pga-sample.jsonl.xz"
SAMPLE_CREDIT = (
    "Open Terms Archive / Platform Governance Archive (ODC-By 1.0; "
    "https://opentermsarchive.org, https://pga.uni-bremen.de)"
)


def import_sample(
    archive: Archive,
    path: Path | None = None,
    progress: Callable[[OtaRecord], None] | None = None,
) -> ImportReport:
    """Import the bundled sample (idempotent, like every OTA import)."""
    return import_history(archive, read_jsonl(path or SAMPLE_PATH), progress=progress)
