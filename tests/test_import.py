"""Open Terms Archive history import: the jsonl export, a dataset archive and a versions repo."""

from __future__ import annotations

import hashlib
import itertools
import json
import lzma
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from archive_fixtures import *  # noqa: F403
from archive_fixtures import SHARED_DATA, make_settings
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.quality import assess_text
from clausewatch.archive.service import Archive, CheckInput, CheckRecord
from clausewatch.cli import app
from clausewatch.extract import normalise_for_hash
from clausewatch.importers.ota import (
    ImportFormatError,
    ImportReport,
    detect_source,
    import_history,
    read_dataset_zip,
    read_jsonl,
)
from clausewatch.provisions.service import build, pending_versions
from clausewatch.storage.models import Capture, ChangeRecord, Platform, Provision, VersionLayout

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


# --- the quality gate on import (issue 11, item 1) --------------------------------------------

POLICY = """# Privacy Policy

Last updated: 1 March 2024

This Privacy Policy explains how Example Social collects, uses and shares information about you
when you use our apps and websites. We collect the information you give us, such as your name,
email address and the content you post, and information about how you use the services, such as
the pages you visit and the device you use. We use it to provide and improve the services, to keep
them safe, and to show you content and advertising that may interest you. You can access, correct
or delete your information at any time in your account settings, and you can object to some uses
of it. We keep your information for as long as your account is open and delete it afterwards,
unless the law requires us to keep it longer.
"""
# The error page Open Terms Archive recorded for TikTok's Community Guidelines on 2026-08-20
# (one block per source page of the document).
TIKTOK_404 = (
    "Oops!\n\n404\n\nThe page you were looking for could not be found. It might have been "
    "removed, renamed, or did not exist in the first place.\xa0Search for:\n\n- - -\n\n"
) * 12
INSTAGRAM_UNAVAILABLE = """This page isn't available right now
-----------------------------------

This may be because of a technical error that we're working to get fixed. Try reloading this page.

Reload Page

Allow the use of cookies from Instagram on this browser?

We use cookies and similar technologies to provide and improve content on Facebook Products,
provide a safer experience by using information we receive from cookies on and off Instagram, and
provide and improve Facebook Products for people who have an account.

Allow all cookies

Only allow essential cookies
"""
LOGIN_WALL = (
    "![Facebook](https://static.xx.fbcdn.net/rsrc.php/y1/r/4lCu2zih0ca.svg)\n\n_Notice_\n\n"
    "You must log in to continue.\n\nLog Into Facebook\n\nYou must log in to continue.\n\n"
    "Log In\n\nForgot account? · Sign up for Facebook\n\n- - -\n\n"
) * 2


def write_history(path: Path, texts: list[str | None], *, service: str = "Example") -> Path:
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "wt", encoding="utf-8") as fh:
        for day, text in enumerate(texts, 1):
            row = {
                "service": service,
                "terms_type": "Privacy Policy",
                "recorded_at": f"2024-03-{day:02d}T12:00:00Z",
                "kind": "first" if day == 1 else "change",
                "text": text,
            }
            fh.write(json.dumps(row) + "\n")
    return path


def test_error_page_between_two_real_texts_is_a_failed_capture(
    archive: Archive, tmp_path: Path
) -> None:
    history = write_history(tmp_path / "h.jsonl.xz", [POLICY, TIKTOK_404, POLICY])
    report = import_history(archive, read_jsonl(history))
    assert report.outcomes == {"first_version": 1, "suspicious": 1, "verified": 1}
    assert report.rejected == {"error page": 1}
    document = archive.documents()[0]
    assert len(archive.versions(document.id)) == 1
    assert archive.version_text(archive.versions(document.id)[0]) == normalise_for_hash(POLICY)
    first, junk, again = archive.captures(document.id)
    assert (first.outcome, again.outcome) == ("first_version", "verified")
    assert junk.outcome == "suspicious" and junk.version_id is None and junk.text_sha256 is None
    assert junk.reason is not None and junk.reason.startswith("error page")
    assert "404" in junk.reason
    # the evidence is kept: the record's text is the capture's snapshot
    assert junk.snapshot_sha256 is not None
    assert archive.store.get(junk.snapshot_sha256).decode() == TIKTOK_404
    assert build(archive).change_records == 0
    with archive.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ChangeRecord)) == 0
        assert verify_archive(session, archive.store).ok
    # a rerun skips the refused record like any other
    assert import_history(archive, read_jsonl(history)).skipped_existing == 3


def test_stubs_and_walls_are_never_versions(sqlite_archive: Archive, tmp_path: Path) -> None:
    stub = "# Privacy Policy\n\nWhat's new?\n"
    texts: list[str | None] = [stub, POLICY, INSTAGRAM_UNAVAILABLE, LOGIN_WALL, POLICY]
    history = write_history(tmp_path / "h.jsonl", texts)
    report = import_history(sqlite_archive, read_jsonl(history))
    assert report.rejected == {"text too short": 1, "error page": 1, "login wall": 1}
    assert report.outcomes == {"suspicious": 3, "first_version": 1, "verified": 1}
    versions = sqlite_archive.versions(sqlite_archive.documents()[0].id)
    assert [sqlite_archive.version_text(v) for v in versions] == [normalise_for_hash(POLICY)]
    reasons = [c.reason for c in sqlite_archive.captures() if c.outcome == "suspicious"]
    assert reasons[0] == "text too short (5 words)"


def test_real_text_is_never_folded_into_a_junk_version(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    """Junk first: it is refused, so the real text that follows is the first version and the
    junk seen again is refused again (no A → B → A fold into the error page)."""
    history = write_history(tmp_path / "h.jsonl", [TIKTOK_404, POLICY, TIKTOK_404, POLICY])
    report = import_history(sqlite_archive, read_jsonl(history))
    assert report.outcomes == {"suspicious": 2, "first_version": 1, "verified": 1}
    document = sqlite_archive.documents()[0]
    (version,) = sqlite_archive.versions(document.id)
    assert version.status == "active" and document.current_version_id == version.id


def test_a_shrink_seen_twice_is_the_new_text(sqlite_archive: Archive, tmp_path: Path) -> None:
    """Losing most of the text once is a broken capture; the same shorter text on the next record
    too is the page that changed (Parler's new privacy policy of October 2025), not junk."""
    long_policy = POLICY + "\n".join(
        f"## Section {n}\n\nSection {n} describes purpose number {n} of processing, the data "
        f"category {n} it concerns and the legal basis {n} that applies to it."
        for n in range(40)
    )
    short = POLICY.replace("1 March 2024", "2 April 2024")
    shorter = short.replace("afterwards", "after you close it")
    history = write_history(tmp_path / "h.jsonl", [long_policy, short, shorter])
    report = import_history(sqlite_archive, read_jsonl(history))
    assert report.outcomes == {"first_version": 1, "suspicious": 1, "new_version": 1}
    assert report.rejected == {"lost most of the previous text": 1}
    versions = sqlite_archive.versions(sqlite_archive.documents()[0].id)
    assert sqlite_archive.version_text(versions[-1]) == normalise_for_hash(shorter)


@pytest.mark.parametrize(
    "text",
    [
        POLICY + "\nIf a page you are looking for is not found, sign in to continue to it.\n",
        "# Cookie Policy\n\n" + POLICY + "\nWe use cookies. Accept all or reject all.\n",
    ],
)
def test_real_texts_that_mention_errors_or_signing_in_pass_the_gate(text: str) -> None:
    long_enough = text + POLICY  # past the short-page limit: markers no longer count
    assert assess_text(normalise_for_hash(long_enough), None) is None


@pytest.mark.skipif(not JSONL.exists(), reason="needs ../shared/data")
def test_tiktok_404_of_the_pga_history_is_refused(sqlite_archive: Archive, tmp_path: Path) -> None:
    records = list(read_jsonl(subset(tmp_path, "TikTok", "Community Guidelines")))
    oops = [r for r in records if r.text and r.text.startswith("Oops!\n\n404")]
    assert len(oops) == 1
    at = records.index(oops[0])
    report = import_history(sqlite_archive, iter(records[at - 1 : at + 2]))
    assert report.rejected == {"error page": 1}
    versions = sqlite_archive.versions(sqlite_archive.documents()[0].id)
    assert all("could not be found" not in sqlite_archive.version_text(v) for v in versions)


# --- concurrency and import errors (issue 11, item 6) -----------------------------------------

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ota-sample.jsonl.xz"


def _counts(archive: Archive) -> dict[str, int]:
    counts = archive.counts()
    with archive.sessions() as session:
        for name, model in (
            ("change_records", ChangeRecord),
            ("provisions", Provision),
            ("layouts", VersionLayout),
        ):
            counts[name] = session.scalar(select(func.count()).select_from(model)) or 0
    return counts


def test_two_imports_at_once_record_what_one_import_does(
    archive: Archive, backend: str | None, tmp_path: Path
) -> None:
    """Two imports of the same history into one archive at once (each with its own engine, as
    two processes would): every record is recorded once, and the archive is the one a single
    import makes — same captures, versions, change records and provisions."""
    single = Archive.open(make_settings(tmp_path / "single"))
    try:
        alone = import_history(single, read_jsonl(SAMPLE))
        build(single)
        expected = _counts(single)
    finally:
        single.close()
    assert expected["captures"] == alone.records == 30

    second = Archive.open(make_settings(tmp_path, backend))
    barrier = threading.Barrier(2)
    reports: dict[int, ImportReport | Exception] = {}

    def run(index: int, target: Archive) -> None:
        try:
            barrier.wait()
            reports[index] = import_history(target, read_jsonl(SAMPLE))
            build(target)
        except Exception as exc:  # surfaced below
            reports[index] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate((archive, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    second.close()
    a, b = reports[0], reports[1]
    assert isinstance(a, ImportReport), a
    assert isinstance(b, ImportReport), b
    assert _counts(archive) == expected
    # between them, each record was recorded by exactly one of the two
    assert a.skipped_existing + b.skipped_existing == 30
    assert Counter(a.outcomes) + Counter(b.outcomes) == Counter(alone.outcomes)
    with archive.sessions() as session:
        report = verify_archive(session, archive.store)
    assert report.ok, report.problems
    # and a third import finds everything already there
    assert import_history(archive, read_jsonl(SAMPLE)).skipped_existing == 30


def test_the_database_refuses_a_second_capture_of_an_imported_record(
    archive: Archive, tmp_path: Path
) -> None:
    import_history(archive, read_jsonl(write_history(tmp_path / "h.jsonl", [POLICY])))
    with archive.sessions() as session:
        first = session.scalars(select(Capture)).one()
        assert first.import_ref == first.url
        copy = Capture(
            **{
                c.key: getattr(first, c.key)
                for c in Capture.__table__.columns
                if c.key not in ("id", "chain_hash")
            },
            chain_hash="ab" * 32,  # a digest of its own: only the import key is shared
        )
        session.add(copy)
        with pytest.raises(IntegrityError):
            session.commit()


def _cut(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def _rows(path: Path, rows: list[object]) -> Path:
    path.write_bytes(
        b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in rows)
    )
    return path


def _row(day: int, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "service": "Example",
        "terms_type": "Privacy Policy",
        "recorded_at": f"2024-03-{day:02d}T12:00:00Z",
        "kind": "first" if day == 1 else "change",
        "text": POLICY.replace("1 March 2024", f"{day} March 2024")
        + f"\nSection {day}: we may change this policy on day {day} of the month.\n",
    }
    row.update(fields)
    return row


def _bad_source(case: str, tmp_path: Path) -> tuple[Path, str, int]:
    """A faulty source, the start of its error line, and the records before the fault."""
    good = [_row(1), _row(2)]
    if case == "truncated xz":
        texts: list[str | None] = [
            POLICY.replace("1 March 2024", f"{day} March 2024")
            + "".join(f"\nClause {day}.{n}: {uuid_like(day, n)}" for n in range(60))
            for day in range(1, 29)
        ]
        path = _cut(write_history(tmp_path / "cut.jsonl.xz", texts))
        before = sum(1 for _ in _readable_lines(path))
        return path, f"{path}:{before + 1}: the compressed data is damaged or cut short", before
    if case == "bad zip":
        path = tmp_path / "bad.zip"
        path.write_bytes(b"PK\x03\x04 this is not a zip archive")
        return path, f"{path}: not a readable zip archive", 0
    if case == "not utf-8":
        line = json.dumps(_row(3)).encode().replace(b"we may change", b"nous pouvons modifi\xe9")
        path = _rows(tmp_path / "latin1.jsonl", [*good, line])
        return path, f'{path}:3: field "text": not UTF-8 text (byte 0xe9', 2
    if case == "invalid json":
        path = _rows(tmp_path / "broken.jsonl", [*good, b'{"service": "Example", "terms'])
        return path, f"{path}:3: invalid JSON", 2
    if case == "text a number":
        path = _rows(tmp_path / "types.jsonl", [*good, _row(3, text=42)])
        return path, f'{path}:3: field "text": expected a string or null, got a number (42)', 2
    if case == "recorded_at not a date":
        path = _rows(tmp_path / "dates.jsonl", [*good, _row(3, recorded_at="last Tuesday")])
        return path, f"{path}:3: field \"recorded_at\": 'last Tuesday' is not an ISO 8601", 2
    if case == "empty service":
        path = _rows(tmp_path / "empty.jsonl", [*good, _row(3, service=" ")])
        return path, f'{path}:3: field "service" is empty', 2
    if case == "service without a slug":
        path = _rows(tmp_path / "slug.jsonl", [*good, _row(3, service="···")])
        return path, f"{path}:3: field \"service\": '···' has no letter or digit", 2
    if case == "not an object":
        path = _rows(tmp_path / "array.jsonl", [*good, ["Example"]])
        return path, f"{path}:3: expected a JSON object, got an array", 2
    if case == "service with a line break":  # it would become a platform name, then a Subject
        path = _rows(tmp_path / "crlf.jsonl", [*good, _row(3, service="Example\r\nBcc: x@y")])
        message = f'{path}:3: field "service": control characters (such as a line break) '
        return path, message + "are not allowed; found '\\r'", 2
    if case == "terms type with a control character":
        path = _rows(tmp_path / "nul.jsonl", [*good, _row(3, terms_type="Privacy\x00Policy")])
        message = f'{path}:3: field "terms_type": control characters (such as a line break) '
        return path, message + "are not allowed; found '\\x00'", 2
    raise AssertionError(case)


def uuid_like(day: int, n: int) -> str:
    return hashlib.sha256(f"{day}/{n}".encode()).hexdigest()


def _readable_lines(path: Path) -> Iterator[bytes]:
    with lzma.open(path, "rb") as fh:
        try:
            yield from fh
        except EOFError:
            return


ERROR_CASES = [
    "truncated xz",
    "bad zip",
    "not utf-8",
    "invalid json",
    "text a number",
    "recorded_at not a date",
    "empty service",
    "service without a slug",
    "not an object",
    "service with a line break",
    "terms type with a control character",
]


@pytest.mark.parametrize("case", ERROR_CASES)
def test_import_errors_name_the_line_and_the_field(
    case: str, sqlite_archive: Archive, tmp_path: Path
) -> None:
    path, message, before = _bad_source(case, tmp_path)
    with pytest.raises(ImportFormatError) as caught:
        import_history(sqlite_archive, detect_source(path)(path))
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.report is not None and caught.value.report.records == before
    assert len(sqlite_archive.captures()) == before
    assert all(p.slug for p in _platforms(sqlite_archive))


def _platforms(archive: Archive) -> list[Platform]:
    with archive.sessions() as session:
        return list(session.scalars(select(Platform)))


@pytest.mark.parametrize("case", ERROR_CASES)
def test_import_command_fails_in_one_line_and_keeps_what_came_before(
    case: str, tmp_path: Path
) -> None:
    path, message, before = _bad_source(case, tmp_path)
    data = tmp_path / "data"
    result = CliRunner().invoke(app, ["import", str(path), "--data-dir", str(data)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {message}"), lines[0]
    assert f"the {before} records before it are imported" in lines[0]
    archive = Archive.open(make_settings(tmp_path))
    try:
        assert len(archive.captures()) == before
        with archive.sessions() as session:
            assert pending_versions(session) == []  # provisions built for what was imported
            assert verify_archive(session, archive.store).ok
        if before:
            assert _counts(archive)["layouts"] == _counts(archive)["versions"] > 0
    finally:
        archive.close()


def test_records_of_different_documents_share_transactions_in_order(
    sqlite_archive: Archive, tmp_path: Path
) -> None:
    """Consecutive records of different documents are written together (`record_checks`), never
    two of one document in a batch, and each document ends as its history imported alone."""
    histories: dict[str, list[str | None]] = {
        "Alpha": [POLICY, TIKTOK_404, POLICY, POLICY.replace("personal data", "your data")],
        "Beta": [POLICY, POLICY, LOGIN_WALL, POLICY.replace("services", "products")],
        "Gamma": [POLICY, POLICY.replace("services", "offerings"), POLICY, None],
    }
    path = tmp_path / "mixed.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for day in range(4):
            for service, texts in histories.items():
                row = {
                    "service": service,
                    "terms_type": "Privacy Policy",
                    "recorded_at": f"2024-03-{day + 1:02d}T12:00:00Z",
                    "kind": "first"
                    if day == 0
                    else ("deleted" if texts[day] is None else "change"),
                    "text": texts[day],
                }
                fh.write(json.dumps(row) + "\n")
    batches: list[list[int]] = []
    record_checks = sqlite_archive.record_checks

    def spy(checks: Sequence[CheckInput]) -> list[CheckRecord]:
        batches.append([c.document_id for c in checks])
        return record_checks(checks)

    sqlite_archive.record_checks = spy  # type: ignore[method-assign]
    report = import_history(sqlite_archive, read_jsonl(path))
    assert report.records == 12 and max(len(b) for b in batches) == 3
    assert all(len(set(b)) == len(b) for b in batches) and sum(map(len, batches)) == 12
    # what each document became is what its own history, imported alone, gives
    for service, texts in histories.items():
        alone = Archive.open(make_settings(tmp_path / service))
        try:
            own = write_history(
                tmp_path / f"{service}.jsonl", [t for t in texts if t], service=service
            )
            expected = import_history(alone, read_jsonl(own)).outcomes
            document = next(
                d for d in sqlite_archive.documents(active_only=False) if d.platform.name == service
            )
            outcomes = Counter(c.outcome for c in sqlite_archive.captures(document.id))
            if texts[-1] is None:
                expected = {**expected, "deleted": 1}
            assert outcomes == expected, service
        finally:
            alone.close()
    with sqlite_archive.sessions() as session:
        assert verify_archive(session, sqlite_archive.store).ok
    again = import_history(sqlite_archive, read_jsonl(path))
    assert again.skipped_existing == 12 and not again.outcomes
