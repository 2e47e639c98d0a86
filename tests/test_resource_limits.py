"""Resource limits of the expensive public routes (issue #14 items 2 and 4; item 3, the webhook
deadline and endpoint cap, is in test_alerts.py): PDF renders are gated (a few at once, a short
queue, 429 + Retry-After beyond) and cached by content; a burst of PDF requests through a real
uvicorn on loopback leaves the other routes answering. POST /api/v1/classify has size limits
per item and per request and a rate limit per API key or client address."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from browser_fixtures import uvicorn_serving
from fastapi.testclient import TestClient
from web_fixtures import populate

from clausewatch.accounts.service import create_api_key, sign_up
from clausewatch.archive import evidence
from clausewatch.config import Settings
from clausewatch.web import create_app, exports
from clausewatch.web.api import CLASSIFY_MAX_ITEM_CHARS, CLASSIFY_MAX_ITEMS

# -- PDF exports ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return populate(tmp_path_factory.mktemp("limits") / "data")


@pytest.fixture
def served(data_dir: Path) -> Iterator[Any]:
    """Start the app under uvicorn on 127.0.0.1 (an empty PDF cache each time)."""
    shutil.rmtree(data_dir / "pdf-cache", ignore_errors=True)
    with contextlib.ExitStack() as stack:

        def start(**values: Any) -> tuple[str, Any]:
            app = create_app(Settings(data_dir=data_dir, **values))
            return stack.enter_context(uvicorn_serving(app)), app

        yield start


def wait_until(condition: Any, what: str, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


def test_a_pdf_burst_is_queued_or_refused_and_other_routes_still_answer(
    served: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    calls: list[str] = []

    def held_renderer(html: str, base_url: str) -> bytes:
        calls.append(html)
        assert release.wait(60), "the test never released the renderer"
        return b"%PDF-1.7\n% a stand-in for a slow layout\n"

    monkeypatch.setattr(exports, "pdf_from_html", held_renderer)
    url, app = served(pdf_renders=2, pdf_queue=2, pdf_queue_seconds=60)
    change = httpx2.get(f"{url}/api/v1/changes?limit=1").json()["items"][0]["id"]
    burst = 20

    def fetch(_: int) -> httpx2.Response:
        return httpx2.get(f"{url}/changes/{change}.pdf", timeout=60)

    with ThreadPoolExecutor(burst) as pool:
        futures = [pool.submit(fetch, i) for i in range(burst)]
        try:
            # two renders running, two waiting (on the event loop), the rest refused at once
            wait_until(lambda: sum(f.done() for f in futures) >= burst - 4, "the refusals")
            gate = app.state.pdf_gate
            wait_until(lambda: (gate.running, gate.waiting) == (2, 2), "two running, two waiting")
            refused = [f.result() for f in futures if f.done()]
            assert len(refused) == burst - 4
            for response in refused:
                assert response.status_code == 429, response.text[:300]
                assert int(response.headers["retry-after"]) >= 1
                assert "PDF" in response.text
            # while the renders hold their slots, the rest of the site answers
            stats = httpx2.get(f"{url}/api/v1/stats?during=pdf-burst", timeout=10)
            assert stats.status_code == 200 and stats.json()
            page = httpx2.get(f"{url}/changes/{change}", timeout=10)
            assert page.status_code == 200 and change in page.text
        finally:
            release.set()
        served_ok = [f.result() for f in futures if f.result().status_code == 200]
    assert len(served_ok) == 4
    assert all(r.content.startswith(b"%PDF") for r in served_ok)
    # the two that waited found the PDF in the cache: at most the two running ones rendered
    assert 1 <= len(calls) <= 2
    assert (gate.running, gate.waiting) == (0, 0)


def test_pdf_queue_wait_is_bounded(served: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def held_renderer(html: str, base_url: str) -> bytes:
        release.wait(60)
        return b"%PDF-1.7\n"

    monkeypatch.setattr(exports, "pdf_from_html", held_renderer)
    url, app = served(pdf_renders=1, pdf_queue=1, pdf_queue_seconds=1)
    ids = [p["id"] for p in httpx2.get(f"{url}/api/v1/provisions?limit=2").json()["items"]]
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(httpx2.get, f"{url}/provisions/{ids[0]}.pdf", timeout=60)
        try:
            wait_until(
                lambda: getattr(app.state, "pdf_gate", None) and app.state.pdf_gate.running == 1,
                "the first render",
            )
            started = time.monotonic()
            waited = httpx2.get(f"{url}/provisions/{ids[1]}.pdf", timeout=30)
            took = time.monotonic() - started
        finally:
            release.set()
        assert first.result().status_code == 200
    assert waited.status_code == 429 and waited.headers["retry-after"] == "1"
    assert took < 1 + 5, f"waited {took:.1f} s for a 1 s queue"


def test_an_identical_pdf_is_served_from_the_cache(
    served: Any, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = exports.pdf_from_html
    calls: list[str] = []

    def counting(html: str, base_url: str) -> bytes:
        calls.append(html)
        return real(html, base_url)

    monkeypatch.setattr(exports, "pdf_from_html", counting)
    # the page says when its evidence checks ran (to the minute); the second server process
    # checks again, so pin the clock: a run across a minute boundary is a different page
    checked = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
    monkeypatch.setattr(evidence, "utcnow", lambda: checked)
    url, app = served()
    provision = httpx2.get(f"{url}/api/v1/provisions?limit=1").json()["items"][0]["id"]
    first = httpx2.get(f"{url}/provisions/{provision}.pdf", timeout=60)
    assert first.status_code == 200 and first.content.startswith(b"%PDF")
    assert len(calls) == 1
    assert list((data_dir / "pdf-cache").glob("*.pdf")), "kept on disk under the data dir"
    second = httpx2.get(f"{url}/provisions/{provision}.pdf", timeout=60)
    assert second.status_code == 200 and second.content == first.content
    assert len(calls) == 1, "the renderer ran again for the same content"
    # a fresh process (same data dir) finds it on disk too
    url2, _ = served()
    assert httpx2.get(f"{url2}/provisions/{provision}.pdf", timeout=60).content == first.content
    assert len(calls) == 1
    # the PDF is not held in the in-process response cache; it revalidates by its own ETag
    assert first.headers["cache-control"].startswith("public, max-age=")
    assert not any(b"%PDF" in entry.body for entry in app.state.response_cache._entries.values())
    again = httpx2.get(
        f"{url}/provisions/{provision}.pdf", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304 and not again.content


def test_pdfs_are_laid_out_in_render_processes_that_end_with_the_app(data_dir: Path) -> None:
    shutil.rmtree(data_dir / "pdf-cache", ignore_errors=True)
    with TestClient(create_app(Settings(data_dir=data_dir, pdf_renders=1))) as client:
        provision = client.get("/api/v1/provisions?limit=1").json()["items"][0]["id"]
        answer = client.get(f"/provisions/{provision}.pdf")
        assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
        pool = client.app.state.pdf_pool  # type: ignore[attr-defined]
        processes = list(pool._processes.values())
        assert len(processes) == 1 and processes[0].pid != os.getpid()
    wait_until(lambda: not any(p.is_alive() for p in processes), "the render process ended")


def test_the_pdf_cache_stays_within_its_size(tmp_path: Path) -> None:
    cache = exports.PdfCache(tmp_path / "pdf-cache", max_bytes=40_000)
    for i in range(20):
        cache.put(f"key{i}", b"%PDF" + bytes(5_000))
        time.sleep(0.01)  # distinct mtimes: the oldest go first
    total = sum(p.stat().st_size for p in (tmp_path / "pdf-cache").glob("*.pdf"))
    assert total <= 40_000
    assert cache.get("key19") is not None and cache.get("key0") is None
    cache.put("huge", b"%PDF" + bytes(20_000))  # over a quarter of the cache: not kept
    assert cache.get("huge") is None


# -- POST /api/v1/classify -------------------------------------------------------------------


@pytest.fixture
def classify_client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(data_dir=tmp_path, classify_per_minute=3))) as client:
        yield client


def error(response: Any) -> str:
    message: str = response.json()["error"]["message"]
    return message


def test_classify_size_limits_name_the_item_and_the_limit(classify_client: TestClient) -> None:
    ok = "Any dispute shall be resolved by binding arbitration."
    long = {"text": "x" * (CLASSIFY_MAX_ITEM_CHARS + 1)}
    answer = classify_client.post("/api/v1/classify", json={"items": [{"text": ok}, long]})
    assert answer.status_code == 422
    assert "items.1.text" in error(answer) and str(CLASSIFY_MAX_ITEM_CHARS) in error(answer)

    answer = classify_client.post(
        "/api/v1/classify", json={"items": [{"text": ok}] * (CLASSIFY_MAX_ITEMS + 1)}
    )
    assert answer.status_code == 422
    assert "items" in error(answer) and str(CLASSIFY_MAX_ITEMS) in error(answer)

    full = {"text": "y" * CLASSIFY_MAX_ITEM_CHARS}
    answer = classify_client.post("/api/v1/classify", json={"items": [full] * 11})
    assert answer.status_code == 413
    assert "220,000" in error(answer) and "200,000" in error(answer)

    # refusals for size do not count against the rate limit: three good ones still pass
    for _ in range(3):
        assert classify_client.post("/api/v1/classify", json={"items": [{"text": ok}]}).is_success


def test_classify_is_rate_limited_per_client_and_per_api_key(
    classify_client: TestClient,
) -> None:
    body = {"items": [{"text": "We may share your data with partners."}]}
    statuses = [classify_client.post("/api/v1/classify", json=body).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = classify_client.post("/api/v1/classify", json=body)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "3 classify requests a minute" in error(refused)
    # an API key counts for its account, not for the address it comes from
    archive = classify_client.app.state.archive  # type: ignore[attr-defined]
    account = sign_up(archive, "api@example.org", "a long enough passphrase 42")
    key, _ = create_api_key(archive, account, "tests")
    keyed = {"Authorization": f"Bearer {key}"}
    statuses = [
        classify_client.post("/api/v1/classify", json=body, headers=keyed).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    bad_key = classify_client.post(
        "/api/v1/classify", json=body, headers={"Authorization": "Bearer cw_nonsense"}
    )
    assert bad_key.status_code == 401


def test_classify_limits_are_in_the_openapi_description(classify_client: TestClient) -> None:
    route = classify_client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/classify"]
    text = route["post"]["description"]
    for words in ("64 items", "20,000", "200,000", "Retry-After", "429", "413"):
        assert words in text, words
    assert {"413", "429"} <= set(route["post"]["responses"])


# -- request bodies ------------------------------------------------------------------------------


def raw_exchange(url: str, head: str, chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """Send ``head`` then ``chunks`` on a fresh connection until the server answers (or stops
    taking bytes); (the answer's first bytes, body bytes sent)."""
    import select
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode())
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # answered before the body was all sent
            try:
                sock.settimeout(5)
                sock.sendall(chunk)
            except (BlockingIOError, TimeoutError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        sock.settimeout(10)
        answer = b""
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while b"\r\n\r\n" not in answer and (data := sock.recv(65536)):
                answer += data
    return answer, sent


def chunked(size: int, count: int) -> Iterator[bytes]:
    for _ in range(count):
        yield f"{size:x}\r\n".encode() + b"x" * size + b"\r\n"
    yield b"0\r\n\r\n"


@pytest.fixture
def small_bodies(tmp_path: Path) -> Iterator[str]:
    app = create_app(Settings(data_dir=tmp_path / "data", max_request_bytes=100_000))
    with uvicorn_serving(app) as url:
        yield url


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(small_bodies: str) -> None:
    head = (
        "POST /api/v1/classify HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
        "\r\nContent-Length: 1000000000\r\n\r\n"
    )
    answer, _ = raw_exchange(small_bodies, head, iter([]))  # no body at all
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"application/json" in answer.lower()
    # an HTML form route answers with a page
    head = head.replace("/api/v1/classify", "/signup").replace(
        "application/json", "application/x-www-form-urlencoded"
    )
    answer, _ = raw_exchange(small_bodies, head, iter([]))
    assert answer.startswith(b"HTTP/1.1 413") and b"text/html" in answer.lower(), answer[:300]


def test_a_chunked_body_is_refused_once_it_passes_the_limit(small_bodies: str) -> None:
    head = (
        "POST /api/v1/classify HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
        "\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    # 20 MB offered in 16 KB chunks: the answer comes long before they are all sent
    answer, sent = raw_exchange(small_bodies, head, chunked(16_384, 1280))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"at most 100,000 bytes" in answer or b"content-length" in answer.lower()
    assert sent < 16_384 * 1280


def test_bodies_under_the_limit_are_read_as_usual(small_bodies: str) -> None:
    body = {"items": [{"text": "We may share your data with partners."}]}
    assert httpx2.post(f"{small_bodies}/api/v1/classify", json=body).status_code == 200
    big = {"items": [{"text": "z" * 20_000}] * 6}  # about 120 KB of JSON
    answer = httpx2.post(f"{small_bodies}/api/v1/classify", json=big)
    assert answer.status_code == 413 and "100,000 bytes" in error(answer)
    assert answer.headers["x-content-type-options"] == "nosniff"
