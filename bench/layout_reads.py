"""What storing version layouts as deltas (migration 0013) costs a cold provision record.

    .venv/bin/python bench/layout_reads.py DATA_DIR

On a copy of DATA_DIR (an archive built by `bench/import_history.py --keep DATA_DIR`): CPU per
`provision_detail` of 1,500 random provisions (best of 3) with the layouts as stored, then with
every layout rewritten whole (``base_version_id`` NULL), the same code reading both.
"""

from __future__ import annotations

import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.provisions.queries import provision_detail
from clausewatch.storage.compressed import compress_json_text
from clausewatch.storage.models import Provision, VersionLayout


def cpu_per_record(archive: Archive, ids: list[int]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for provision_id in ids:
            provision_detail(archive, provision_id)
        best = min(best, time.process_time() - start)
    return 1000 * best / len(ids)


def rewrite_whole(archive: Archive) -> int:
    with archive.sessions() as session:
        layouts = list(session.scalars(select(VersionLayout)))
        deltas = sum(1 for layout in layouts if layout.base_version_id is not None)
        frames = {
            layout.version_id: tuple(compress_json_text(t) for t in layout.json_texts())
            for layout in layouts
        }
    with archive.sessions() as session:
        for layout in session.scalars(select(VersionLayout)):
            layout.segments_frame, layout.heading_paths_frame = frames[layout.version_id]
            layout.base_version_id = None
        session.commit()
    return deltas


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch) / "archive"
        shutil.copytree(Path(sys.argv[1]), work)
        archive = Archive.open(Settings(data_dir=work))
        with archive.sessions() as session:
            ids = list(session.scalars(select(Provision.id)))
        random.Random(1).shuffle(ids)
        ids = ids[:1500]
        as_stored = cpu_per_record(archive, ids)
        deltas = rewrite_whole(archive)
        whole = cpu_per_record(archive, ids)
        archive.close()
    print(
        f"{len(ids)} provisions, best of 3, CPU per provision record: layouts as stored "
        f"({deltas} deltas) {as_stored:.3f} ms, all layouts whole {whole:.3f} ms"
    )


if __name__ == "__main__":
    main()
