"""End to end: the capture cycle against a real HTTP server on 127.0.0.1 serving real pages and
fault cases. No false versions, no lost captures, correct verification events."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from archive_fixtures import *  # noqa: F403
from archive_fixtures import make_settings
from loopback import LoopbackServer, Response, conditional, policy_page

from clausewatch.archive import cycle as cycle_module
from clausewatch.archive.cycle import CaptureCycle
from clausewatch.archive.decide import Outcome
from clausewatch.archive.evidence import verify_archive
from clausewatch.archive.service import Archive
from clausewatch.capture import assess as assess_module
from clausewatch.capture.assess import ASSESS_VERSION, BlockedReason
from clausewatch.capture.http import HttpFetcher
from clausewatch.registry.models import DocumentDeclaration, PlatformDeclaration, SourceDeclaration

GOOD = policy_page("Terms of Service")
CHANGED = policy_page(
    "Terms of Service",
    "<h2>14. Arbitration</h2><p>Any dispute will be resolved by binding individual arbitration "
    "and you waive your right to a class action, unless you opt out within 30 days.</p>",
)


def register(archive: Archive, *docs: tuple[str, Sequence[str | SourceDeclaration]]) -> list[int]:
    """One platform with documents named by type, each with its sources (URLs or declarations)."""
    archive.sync_registry(
        [
            PlatformDeclaration(
                slug="loopback",
                name="Loopback",
                category="developer-tools",
                website="http://127.0.0.1",
                documents=tuple(
                    DocumentDeclaration(
                        type=doc_type,
                        sources=tuple(
                            u if isinstance(u, SourceDeclaration) else SourceDeclaration(url=u)
                            for u in urls
                        ),
                    )
                    for doc_type, urls in docs
                ),
            )
        ]
    )
    return [d.id for d in archive.documents()]


def run_check(archive: Archive, doc_id: int) -> Outcome:
    async def go() -> Outcome:
        fetcher = HttpFetcher(
            per_host_delay=0, timeout=1.0, retries=1, backoff_base=0.01, max_body_bytes=1_000_000
        )
        try:
            record = await CaptureCycle(archive, fetcher.fetch, confirm_delay=0).check(
                archive.document(doc_id)
            )
            return record.outcome
        finally:
            await fetcher.aclose()

    return asyncio.run(go())


def test_real_pages_first_version_then_verification(archive: Archive, loopback: LoopbackServer):
    base = "/pages/ChatGPT/Privacy Policy"
    urls = [loopback.url(f"{base}/source-0.html"), loopback.url(f"{base}/source-1.html")]
    pdf = [loopback.url("/pages/ChatGPT/Law Enforcement Guidelines/source-0.pdf")]
    doc, pdf_doc = register(archive, ("Privacy Policy", urls), ("Law Enforcement", pdf))
    assert run_check(archive, doc) == Outcome.FIRST_VERSION
    assert run_check(archive, pdf_doc) == Outcome.FIRST_VERSION
    assert run_check(archive, doc) == Outcome.VERIFIED
    assert run_check(archive, pdf_doc) == Outcome.VERIFIED
    assert len(archive.versions(doc)) == 1 and len(archive.versions(pdf_doc)) == 1
    captures = archive.captures(doc)
    assert len(captures) == 4 and {c.source_index for c in captures} == {0, 1}
    first = captures[0]
    assert first.status_code == 200 and first.final_url == urls[0]
    assert first.headers["content-type"].startswith("text/html")
    assert first.snapshot_sha256 and first.size > 100_000 and first.elapsed_ms > 0
    text = archive.version_text(archive.versions(doc)[0])
    assert "- - -" in text and "Personal Data" in text
    with archive.sessions() as session:
        assert verify_archive(session, archive.store).ok


FAULTS = {
    "/status/500": Outcome.FAILED,
    "/status/404": Outcome.FAILED,
    "/slow?delay=3": Outcome.FAILED,
    "/bot-wall": Outcome.SUSPICIOUS,
    "/bot-wall/challenge-200": Outcome.SUSPICIOUS,
    "/captcha": Outcome.SUSPICIOUS,
    "/cookie-wall": Outcome.SUSPICIOUS,
    "/login-redirect": Outcome.SUSPICIOUS,
    "/empty": Outcome.SUSPICIOUS,
    "/soft-404": Outcome.SUSPICIOUS,
    "/truncated": Outcome.FAILED,
    "/oversized?bytes=3000000": Outcome.FAILED,
    "/redirect/loop": Outcome.FAILED,
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_never_becomes_a_version(
    sqlite_archive: Archive, loopback: LoopbackServer, fault: str
) -> None:
    loopback.route("/doc", Response(body=GOOD))
    (doc,) = register(sqlite_archive, ("Terms of Service", [loopback.url("/doc")]))
    assert run_check(sqlite_archive, doc) == Outcome.FIRST_VERSION
    path, _, query = fault.partition("?")
    loopback.route(
        "/doc",
        lambda request: loopback.resolve(
            type(request)(
                request.method,
                path,
                dict(p.split("=") for p in query.split("&") if p),
                request.headers,
                request.port,
                request.received_at,
            )
        ),
    )
    outcome = run_check(sqlite_archive, doc)
    assert outcome == FAULTS[fault]
    captures = sqlite_archive.captures(doc)
    assert captures[-1].reason, "a failed or suspicious capture says why"
    assert len(sqlite_archive.versions(doc)) == 1
    assert sqlite_archive.document(doc).last_verified_at == captures[0].started_at
    # the page comes back: a verification, still no new version
    loopback.route("/doc", Response(body=GOOD))
    assert run_check(sqlite_archive, doc) == Outcome.VERIFIED


def test_per_render_tokens_are_not_changes(archive: Archive, loopback: LoopbackServer) -> None:
    (doc,) = register(archive, ("Terms of Service", [loopback.url("/nonce")]))
    assert run_check(archive, doc) == Outcome.FIRST_VERSION
    for _ in range(3):
        assert run_check(archive, doc) == Outcome.VERIFIED
    snapshots = {c.snapshot_sha256 for c in archive.captures(doc)}
    assert len(snapshots) == 4, "the raw bytes differ every time; the text does not"
    assert len(archive.versions(doc)) == 1


def test_flip_flopping_banner_is_never_recorded(archive: Archive, loopback: LoopbackServer):
    (doc,) = register(archive, ("Terms of Service", [loopback.url("/flip-flop")]))
    assert run_check(archive, doc) == Outcome.FIRST_VERSION
    outcomes = [run_check(archive, doc) for _ in range(4)]
    assert set(outcomes) == {Outcome.UNCONFIRMED}, outcomes
    assert len(archive.versions(doc)) == 1


def test_a_real_change_is_confirmed_and_recorded(archive: Archive, loopback: LoopbackServer):
    loopback.route("/doc", Response(body=GOOD))
    (doc,) = register(archive, ("Terms of Service", [loopback.url("/doc")]))
    run_check(archive, doc)
    loopback.route("/doc", Response(body=CHANGED))
    assert run_check(archive, doc) == Outcome.NEW_VERSION
    outcomes = [c.outcome for c in archive.captures(doc)]
    assert outcomes == ["first_version", "change_detected", "new_version"]
    second = archive.versions(doc)[1]
    assert "binding individual arbitration" in archive.version_text(second)


def test_losing_most_of_the_text_is_suspicious(archive: Archive, loopback: LoopbackServer):
    loopback.route("/doc", Response(body=GOOD))
    (doc,) = register(archive, ("Terms of Service", [loopback.url("/doc")]))
    run_check(archive, doc)
    stub = "<main><h1>Terms</h1><p>" + " ".join(["We are updating this page."] * 8) + "</p></main>"
    loopback.route("/doc", Response(body=stub))
    assert run_check(archive, doc) == Outcome.SUSPICIOUS
    assert "lost most of the previous text" in (archive.captures(doc)[-1].reason or "")


def test_a_shrink_seen_twice_is_the_page(archive: Archive, loopback: LoopbackServer):
    """As on import: a page that really lost most of its text is refused once, then accepted
    when the next check sees the same text (the replay benchmark found the live path refusing
    such a page for ever)."""
    loopback.route("/doc", Response(body=GOOD))
    (doc,) = register(archive, ("Terms of Service", [loopback.url("/doc")]))
    run_check(archive, doc)
    short = (
        "<main><h1>Terms</h1><p>" + " ".join(["We keep only this short text."] * 8) + "</p></main>"
    )
    loopback.route("/doc", Response(body=short))
    assert run_check(archive, doc) == Outcome.SUSPICIOUS
    assert run_check(archive, doc) == Outcome.NEW_VERSION
    assert "only this short text" in archive.version_text(archive.versions(doc)[-1])
    assert run_check(archive, doc) == Outcome.VERIFIED
    # a broken fetch seen once, then the full page again: never a version
    loopback.route("/doc", Response(body=GOOD))
    run_check(archive, doc)
    run_check(archive, doc)
    versions = len(archive.versions(doc))
    loopback.route("/doc", Response(body=short.replace("only this", "a broken")))
    assert run_check(archive, doc) == Outcome.SUSPICIOUS
    loopback.route("/doc", Response(body=GOOD))
    assert run_check(archive, doc) == Outcome.VERIFIED
    assert len(archive.versions(doc)) == versions


def test_conditional_get_304_is_a_verification(archive: Archive, loopback: LoopbackServer):
    (doc,) = register(archive, ("Cookie Policy", [loopback.url("/conditional")]))
    assert run_check(archive, doc) == Outcome.FIRST_VERSION
    assert run_check(archive, doc) == Outcome.VERIFIED
    second = loopback.requests_for("/conditional")[-1]
    assert "if-none-match" in second.headers
    last = archive.captures(doc)[-1]
    assert last.status_code == 304 and last.snapshot_sha256 is None


def test_a_change_behind_etags_is_still_confirmed(archive: Archive, loopback: LoopbackServer):
    loopback.route("/doc", conditional(Response(body=GOOD), etag='"v1"', last_modified=None))
    (doc,) = register(archive, ("Terms of Service", [loopback.url("/doc")]))
    run_check(archive, doc)
    assert run_check(archive, doc) == Outcome.VERIFIED  # a 304
    loopback.route("/doc", conditional(Response(body=CHANGED), etag='"v2"', last_modified=None))
    assert run_check(archive, doc) == Outcome.NEW_VERSION
    assert run_check(archive, doc) == Outcome.VERIFIED
    assert loopback.requests_for("/doc")[-1].headers["if-none-match"] == '"v2"'


def test_wrong_charset_still_gives_the_right_text(archive: Archive, loopback: LoopbackServer):
    (doc,) = register(archive, ("Privacy Policy", [loopback.url("/charset/latin1-as-utf8")]))
    assert run_check(archive, doc) == Outcome.FIRST_VERSION
    text = archive.version_text(archive.versions(doc)[0])
    assert "é" in text and "\ufffd" not in text


# -- crash test ---------------------------------------------------------------------------------


@pytest.fixture
def slow_site(loopback: LoopbackServer) -> Iterator[LoopbackServer]:
    for i in range(40):
        loopback.route(f"/slow-doc/{i}", Response(body=policy_page(f"Policy {i}"), delay=0.15))
    yield loopback


def _cli(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "clausewatch", *args, "--data-dir", str(data_dir)]


def test_killed_cycle_loses_nothing_and_the_rerun_completes(
    tmp_path: Path, slow_site: LoopbackServer
) -> None:
    settings = make_settings(tmp_path)
    archive = Archive.open(settings)
    urls = [[slow_site.url(f"/slow-doc/{i}")] for i in range(40)]
    register(archive, *((f"Policy {i}", u) for i, u in enumerate(urls)))
    env = {
        **os.environ,
        "CLAUSEWATCH_PER_HOST_DELAY": "0",
        "CLAUSEWATCH_CONFIRM_DELAY": "0",
        "CLAUSEWATCH_BROWSER_FALLBACK": "false",
    }
    proc = subprocess.Popen(
        _cli(settings.data_dir, "check"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and archive.counts()["captures"] < 8:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = archive.counts()["captures"]
    assert 8 <= done < 40, "killed mid-cycle"
    with archive.sessions() as session:
        assert verify_archive(session, archive.store).ok
    rerun = subprocess.run(
        _cli(settings.data_dir, "check"), env=env, capture_output=True, text=True, timeout=120
    )
    assert rerun.returncode == 0, rerun.stderr
    verify = subprocess.run(
        _cli(settings.data_dir, "verify"), env=env, capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    documents = archive.documents()
    assert all(d.current_version_id for d in documents)
    assert sum(len(archive.versions(d.id)) for d in documents) == 40
    archive.close()


def test_reextract_after_a_declaration_change_is_technical(
    archive: Archive, loopback: LoopbackServer
) -> None:
    from clausewatch.archive.reextract import reextract

    loopback.route("/doc", Response(body=CHANGED))
    (doc,) = register(archive, ("Terms of Service", [loopback.url("/doc")]))
    run_check(archive, doc)
    narrower = SourceDeclaration(url=loopback.url("/doc"), remove=("h2",))
    register(archive, ("Terms of Service", [narrower]))  # a changed declaration
    report = reextract(archive, archive.documents())
    assert len(report.technical) == 1 and report.technical[0].outcome == Outcome.TECHNICAL
    versions = archive.versions(doc)
    assert [v.kind for v in versions] == ["first", "technical"]
    assert "14. Arbitration" not in archive.version_text(versions[1])
    again = reextract(archive, archive.documents())
    assert again.unchanged == 1 and not again.technical
    assert run_check(archive, doc) == Outcome.VERIFIED
    with archive.sessions() as session:
        assert verify_archive(session, archive.store).ok


# -- bodies that are not pages ------------------------------------------------------------------

FRENCH_SHORT = (
    '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Conditions générales'
    "</title></head><body><h1>Conditions générales</h1><p>Bienvenue sur notre service. "
    + "Ces conditions régissent l'accès au service et son utilisation. " * 12
    + "</p></body></html>"
)
# A real page but for one stray control byte after a comment: lxml raises a ValueError.
STRAY_CONTROL = policy_page("Privacy Policy", "<div><!-- note -->\x01 tail</div>")


def _unreadable_routes(loopback: LoopbackServer) -> dict[str, tuple[Outcome, str]]:
    """Path → (outcome, reason or expected text) for one document each, plus /good."""
    import gzip
    import random

    import brotli
    import zstandard

    noise = random.Random(11).randbytes(60_000)
    page = GOOD.encode()
    loopback.route("/random", Response(body=noise, content_type="text/html"))
    loopback.route("/gzip", Response(body=gzip.compress(page), content_type="text/html"))
    loopback.route("/brotli", Response(body=brotli.compress(page), content_type="text/html"))
    zstd = zstandard.ZstdCompressor().compress(page)
    loopback.route("/zstd", Response(body=zstd, content_type="text/html; charset=utf-8"))
    loopback.route("/giant", Response(body=b"<p>" + b"x" * 300_000 + b"</p>", chunked=True))
    loopback.route("/latin1", Response(body=FRENCH_SHORT.encode("latin-1")))
    loopback.route("/stray-control", Response(body=STRAY_CONTROL))
    loopback.route("/good", Response(body=policy_page("Cookie Policy")))
    return {
        "/random": (Outcome.FAILED, "binary content, not a web page"),
        "/gzip": (Outcome.FAILED, "compressed body served as text/html (gzip)"),
        "/brotli": (Outcome.FAILED, "compressed body served as text/html (br)"),
        "/zstd": (Outcome.FAILED, "compressed body served as text/html (zstd)"),
        "/giant": (Outcome.FAILED, "page larger than 0.2 MB"),
        "/stray-control": (
            Outcome.FAILED,
            "extraction failed: ValueError: All strings must be XML compatible",
        ),
        "/latin1": (Outcome.FIRST_VERSION, "# Conditions générales"),
        "/good": (Outcome.FIRST_VERSION, "Cookie Policy"),
    }


def _check_unreadable(archive: Archive, expected: dict[str, tuple[Outcome, str]]) -> None:
    for document in archive.documents():
        (capture,) = archive.captures(document.id)
        path = "/" + capture.url.split("/", 3)[3]
        outcome, words = expected[path]
        assert capture.outcome == outcome, (path, capture.reason)
        if outcome == Outcome.FAILED:
            assert capture.reason is not None and words in capture.reason, (path, capture.reason)
            assert not archive.versions(document.id)
        else:
            text = archive.version_text(archive.versions(document.id)[0])
            assert words in text and "\ufffd" not in text, (path, text[:200])


def test_unreadable_bodies_fail_with_a_reason_and_the_run_goes_on(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    archive = Archive.open(make_settings(tmp_path, max_body_bytes=200_000))
    expected = _unreadable_routes(loopback)
    register(archive, *((path, [loopback.url(path)]) for path in expected))

    async def go() -> None:
        fetcher = HttpFetcher.from_settings(archive.settings, per_host_delay=0, retries=0)
        try:
            report = await CaptureCycle(archive, fetcher.fetch, confirm_delay=0).run(
                archive.documents()
            )
        finally:
            await fetcher.aclose()
        assert len(report.records) == len(expected)

    asyncio.run(go())
    _check_unreadable(archive, expected)
    giant = next(c for d in archive.documents() for c in archive.captures(d.id) if "giant" in c.url)
    assert giant.snapshot_sha256 is None, "the download stopped at the cap: nothing kept"
    random_capture = next(
        c for d in archive.documents() for c in archive.captures(d.id) if "random" in c.url
    )
    assert random_capture.snapshot_sha256, "the refused bytes are kept as evidence"
    archive.close()


def test_clausewatch_check_survives_unreadable_bodies(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    settings = make_settings(tmp_path)
    archive = Archive.open(settings)
    expected = _unreadable_routes(loopback)
    register(archive, *((path, [loopback.url(path)]) for path in expected))
    env = {
        **os.environ,
        "CLAUSEWATCH_PER_HOST_DELAY": "0",
        "CLAUSEWATCH_CONFIRM_DELAY": "0",
        "CLAUSEWATCH_BROWSER_FALLBACK": "false",
        "CLAUSEWATCH_MAX_BODY_BYTES": "200000",  # the same setting, from the environment
    }
    done = subprocess.run(
        _cli(settings.data_dir, "check"), env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    _check_unreadable(archive, expected)
    archive.close()


def test_unchanged_bytes_are_recognised_without_a_query_or_a_parse(
    archive: Archive, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
):
    """The document keeps, beside its validators, the SHA-256 of the bytes that gave the current
    text and that were judged the document: the same bytes again need neither the snapshot
    query nor another parse of the page to be judged, and are a verification."""
    loopback.route("/doc", Response(body=GOOD))
    (doc,) = register(archive, ("Terms of Service", [loopback.url("/doc")]))
    assert run_check(archive, doc) == Outcome.FIRST_VERSION
    document = archive.document(doc)
    kept = document.validators[loopback.url("/doc")]
    assert kept["snapshot_sha256"] == archive.captures(doc)[-1].snapshot_sha256
    assert document.current_version is not None
    assert kept["text_sha256"] == document.current_version.text_sha256
    assert kept["assessed"] == ASSESS_VERSION

    def no_query(*args: object, **kwargs: object) -> None:
        raise AssertionError("last_snapshot asked")

    parsed: list[bytes] = []
    original = assess_module._Page.parse

    def parse(cls: type, raw: bytes) -> object:
        parsed.append(raw)
        return original(raw)

    monkeypatch.setattr(archive, "last_snapshot", no_query)
    monkeypatch.setattr(assess_module._Page, "parse", classmethod(parse))
    assert run_check(archive, doc) == Outcome.VERIFIED
    assert parsed == []
    # new bytes are judged (parsed) and extracted as always; the change waits for confirmation
    loopback.route("/doc", Response(body=CHANGED))
    monkeypatch.undo()
    assert run_check(archive, doc) == Outcome.NEW_VERSION
    kept = archive.document(doc).validators[loopback.url("/doc")]
    assert kept["snapshot_sha256"] == archive.captures(doc)[-1].snapshot_sha256


def test_kept_bytes_of_an_older_assessment_are_judged_again(
    archive: Archive, loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
):
    """After the rules change (`ASSESS_VERSION`), unchanged bytes are parsed and judged again:
    a page the new rules call a wall is not verified."""
    loopback.route("/doc", Response(body=GOOD))
    (doc,) = register(archive, ("Terms of Service", [loopback.url("/doc")]))
    assert run_check(archive, doc) == Outcome.FIRST_VERSION
    monkeypatch.setattr(cycle_module, "ASSESS_VERSION", "a newer one")
    monkeypatch.setattr(assess_module, "_html_reason", lambda page: BlockedReason.COOKIE_WALL)
    assert run_check(archive, doc) == Outcome.SUSPICIOUS
