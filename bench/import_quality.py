"""The quality gate on import: import the Platform Governance Archive jsonl into a fresh archive,
then run the gate over every kept version.

    .venv/bin/python bench/import_quality.py [--write-docs]

Reports the records the gate refused (by reason and by document), the versions kept, and how many
kept versions the gate would refuse on their own (error pages, walls, stubs: must be 0). Versions
that lost most of their predecessor's text are listed apart: the gate accepts such a shrink when
two records in a row agree on it.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import SHARED_DATA, write_section
from sqlalchemy import select

from clausewatch.archive.quality import assess_text
from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.importers.ota import import_history, read_jsonl
from clausewatch.storage.models import Capture, Document, Platform, Version

JSONL = SHARED_DATA / "ota" / "pga-versions.jsonl.xz"
TIKTOK_404 = "The page you were looking for could not be found"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = Archive.open(Settings(data_dir=Path(tmp)))
        start = time.perf_counter()
        report = import_history(archive, read_jsonl(JSONL))
        seconds = time.perf_counter() - start
        with archive.sessions() as session:
            names = {
                doc_id: f"{name} / {doc_type}"
                for doc_id, name, doc_type in session.execute(
                    select(Document.id, Platform.name, Document.doc_type).join(Platform)
                )
            }
            refused = Counter(
                names[doc_id]
                for (doc_id,) in session.execute(
                    select(Capture.document_id).where(Capture.outcome == "suspicious")
                )
            )
            versions = list(session.scalars(select(Version).order_by(Version.id)))
        texts = {v.id: archive.version_text(v) for v in versions}
        junk = []
        shrinks = []
        for version in versions:
            problem = assess_text(texts[version.id], None)
            if problem:
                junk.append(f"{names[version.document_id]} {version.public_id}: {problem}")
            if version.predecessor_id is not None:
                lost = assess_text(texts[version.id], texts[version.predecessor_id])
                if lost:
                    shrinks.append(f"{names[version.document_id]} ({version.kind})")
        has_404 = sum(TIKTOK_404 in text for text in texts.values())
        archive.close()
    lines = [
        f"Measured {time.strftime('%Y-%m-%d')} on {platform.machine()} "
        f"({platform.python_version()}), SQLite, import only (no provision build), "
        "`.venv/bin/python bench/import_quality.py`:",
        "",
        "| figure | value |",
        "|---|---|",
        f"| records imported | {report.records:,} ({len(report.documents)} documents) "
        f"in {seconds:.0f} s |",
        f"| versions kept | {len(versions):,} |",
        f"| what the records became | `{json.dumps(report.outcomes, sort_keys=True)}` |",
        f"| records refused by the gate, by reason | "
        f"`{json.dumps(report.rejected, sort_keys=True)}` |",
        f"| refused, by document | {', '.join(f'{d} {n}' for d, n in refused.most_common())} |",
        f"| kept versions the gate refuses on their own | {len(junk)} |",
        f"| kept versions with TikTok's “{TIKTOK_404}” | {has_404} |",
        f"| kept shrinks (lost most of the predecessor, confirmed by the next record) | "
        f"{len(shrinks)}: {', '.join(f'{d} {n}' for d, n in Counter(shrinks).most_common())} |",
    ]
    body = "\n".join(lines + [f"- junk: {j}" for j in junk])
    print(body)
    if args.write_docs:
        write_section("import-quality", body)


if __name__ == "__main__":
    main()
