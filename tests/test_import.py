"""Open Terms Archive history import: the jsonl export, a dataset archive and a versions repo."""

from __future__ import annotations

import itertools
import json
import lzma
import subprocess
from pathlib import Path

import pytest
from archive_fixtures import *  # noqa: F403
from archive_fixtures import SHARED_DATA

from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive
from clausewatch.importers.ota import (
    ImportFormatError,
    detect_source,
    import_history,
    read_dataset_zip,
    read_jsonl,
)

JSONL = SHARED_DATA / "ota" / "pga-versions.jsonl.xz"
ZIP = SHARED_DATA / "ota" / "pga-dataset-subset.zip"


def subset(tmp_path: Path, service: str, terms_type: str) -> Path:
    out = tmp_path / f"{service}.jsonl"
    with lzma.open(JSONL, "rt") as src, out.open("w") as dst:
        for line in src:
            row = json.loads(line)
            if (row["service"], row["terms_type"]) == (service, terms_type):
                dst.write(line)
    return out


def test_jsonl_import_is_idempotent_and_keeps_technical_upgrades_out(
    archive: Archive, tmp_path: Path
) -> None:
    path = subset(tmp_path, "LinkedIn", "Privacy Policy")
    report = import_history(archive, read_jsonl(path))
    assert report.records == 18 and report.skipped_existing == 0
    versions = archive.versions(archive.documents()[0].id)
    kinds = [v.kind for v in versions]
    assert kinds[0] == "first" and kinds.count("first") == 1
    # the two technical upgrades are never changes
    assert report.outcomes.get("technical", 0) + report.outcomes.get("verified", 0) >= 2
    assert all(v.origin["kind"] != "technical_upgrade" for v in versions if v.kind == "change")
    captures_before = len(archive.captures())
    again = import_history(archive, read_jsonl(path))
    assert again.skipped_existing == 18 and not again.outcomes
    assert len(archive.captures()) == captures_before
    with archive.sessions() as session:
        assert verify_archive(session, archive.store).ok


def test_random_link_tokens_do_not_make_versions(sqlite_archive: Archive, tmp_path: Path) -> None:
    """Facebook's privacy policy: most of its 492 OTA records were caused by random IDs in links."""
    path = subset(tmp_path, "Facebook", "Privacy Policy")
    records = list(itertools.islice(read_jsonl(path), 150))  # 2022-07 to 2023-03
    recorded_changes = sum(r.kind == "change" for r in records)
    report = import_history(sqlite_archive, iter(records))
    changes = report.outcomes.get("new_version", 0)
    assert recorded_changes >= 140
    assert changes < recorded_changes / 4, report.outcomes


def test_dataset_archive_import(sqlite_archive: Archive) -> None:
    records = list(read_dataset_zip(ZIP))
    assert len(records) == 490  # 492 entries less README.md and LICENSE
    assert {r.service for r in records} == {"LinkedIn", "TikTok", "Bluesky"}
    report = import_history(sqlite_archive, iter(records))
    assert report.outcomes["first_version"] == len(report.documents)
    with sqlite_archive.sessions() as session:
        assert verify_archive(session, sqlite_archive.store).ok


def test_versions_repository_import(sqlite_archive: Archive, tmp_path: Path) -> None:
    repo = tmp_path / "pga-versions"
    (repo / "LinkedIn").mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    rows = list(read_jsonl(subset(tmp_path, "LinkedIn", "Privacy Policy")))[:6]
    messages = {
        "first": "Start tracking",
        "change": "Record changes",
        "technical_upgrade": "Apply technical or declaration upgrade on",
    }
    for row in rows:
        (repo / "LinkedIn" / "Privacy Policy.md").write_text(row.text or "")
        subprocess.run([*git, "add", "-A"], check=True)
        subprocess.run(
            [
                *git,
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                f"{messages[row.kind]} LinkedIn Privacy Policy",
                "--date",
                row.recorded_at.isoformat(),
            ],
            check=True,
            env={"GIT_COMMITTER_DATE": row.recorded_at.isoformat(), "PATH": "/usr/bin"},
        )
    assert detect_source(repo).__name__ == "read_versions_repo"
    imported = list(detect_source(repo)(repo))
    assert [r.kind for r in imported] == [r.kind for r in rows if r.text]
    report = import_history(sqlite_archive, iter(imported))
    assert report.records == len(imported)
    assert report.outcomes["first_version"] == 1


def test_bad_sources_are_named(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImportFormatError, match="not an Open Terms Archive source"):
        detect_source(tmp_path / "notes.txt")
    with pytest.raises(ImportFormatError, match="no such file"):
        detect_source(tmp_path / "missing.zip")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"service": "X", "terms_type": "Terms", "recorded_at": "2024-01-01T00:00:00Z"}\n'
        "{not json\n"
    )
    with pytest.raises(ImportFormatError, match=r"bad\.jsonl:2"):
        list(read_jsonl(bad))


def test_history_lands_on_the_registry_document(archive: Archive, tmp_path: Path) -> None:
    from clausewatch.registry.loader import load_starter_registry

    linkedin = [p for p in load_starter_registry() if p.slug == "linkedin"]
    archive.sync_registry(linkedin)
    before = {d.doc_type: d for d in archive.documents()}
    import_history(archive, read_jsonl(subset(tmp_path, "LinkedIn", "Privacy Policy")))
    after = {d.doc_type: d for d in archive.documents()}
    assert after.keys() == before.keys(), "no duplicate document for the imported history"
    policy = after["Privacy Policy"]
    assert policy.id == before["Privacy Policy"].id
    assert policy.declaration == before["Privacy Policy"].declaration
    assert policy.platform.website == "https://www.linkedin.com"
    assert policy.current_version_id is not None
