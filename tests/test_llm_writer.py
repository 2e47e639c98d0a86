"""The optional LLM writer against a real HTTP server on 127.0.0.1 that plays the LLM."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from clausewatch.analysis.llm import LLMWriter, narrative_writer
from clausewatch.analysis.narrative import Narrative, NarrativeInput, narrate
from clausewatch.classify.severity import severity_of
from clausewatch.classify.taxonomy import default_taxonomy
from clausewatch.config import Settings

TEXT = (
    "You and LinkedIn agree that any dispute will be resolved by final and binding arbitration "
    "administered by the American Arbitration Association. You may opt out of this arbitration "
    "agreement within 30 days of accepting these terms by emailing optout@linkedin.com."
)


def _input() -> NarrativeInput:
    ctype = default_taxonomy().by_id["arbitration"]
    severity, reasons = severity_of(ctype, TEXT)
    return NarrativeInput(
        platform="LinkedIn",
        document="LinkedIn User Agreement",
        title="Dispute resolution",
        text=TEXT,
        type_ids=("arbitration", "class-action-waiver"),
        severity=severity,
        severity_reasons=reasons,
        platforms_with_type=12,
        monitored_platforms=26,
    )


Reply = tuple[int, str, float]  # status, body, delay in seconds


@dataclass
class FakeLLM:
    """An OpenAI-compatible /chat/completions endpoint whose answers a test chooses."""

    reply: Callable[[dict[str, Any]], Reply] = lambda body: (500, "", 0.0)
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.requests.append((headers, {"path": self.path, **body}))
            status, text, delay = fake.reply(body)
            time.sleep(delay)
            data = text.encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test)
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


def _completion(content: str) -> str:
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})


def _as_json(n: Narrative) -> dict[str, Any]:
    return {
        "what_it_is": n.what_it_is,
        "why_it_matters": n.why_it_matters,
        "consumer_impact": n.consumer_impact,
        "what_you_can_do": list(n.what_you_can_do),
        "faq": [list(pair) for pair in n.faq],
    }


def _rephrased(reference: Narrative) -> dict[str, Any]:
    data = _as_json(reference)
    data["why_it_matters"] = data["why_it_matters"].replace(
        "Clauses of this type move", "Terms like this one move"
    )
    data["consumer_impact"] = data["consumer_impact"].replace(
        "If a clause like this applies to you", "Where such a clause applies"
    )
    return data


def _writer(llm: FakeLLM, **kw: Any) -> LLMWriter:
    return LLMWriter(llm.url, "test-model", **kw)


def test_a_faithful_rephrasing_is_accepted(llm: FakeLLM) -> None:
    inp = _input()
    reference = narrate(inp)
    answer = _rephrased(reference)
    fenced = "```json\n" + json.dumps(answer, ensure_ascii=False) + "\n```"
    llm.reply = lambda body: (200, _completion(fenced), 0.0)

    result = _writer(llm, api_key="sk-test").rewrite(inp, reference)

    assert result.rejected == ()
    assert result.writer == "llm:test-model"
    assert result.why_it_matters.startswith("Terms like this one move")
    assert result.consumer_impact.startswith("Where such a clause applies")
    assert result.faq == reference.faq
    assert result.quotes and all(q in TEXT for q in result.quotes)
    headers, body = llm.requests[0]
    assert body["path"] == "/v1/chat/completions"
    assert headers["authorization"] == "Bearer sk-test"
    assert body["model"] == "test-model"
    system, user = body["messages"]
    assert system["role"] == "system" and "add no facts" in system["content"].lower()
    assert "verbatim" in system["content"] and "what_you_can_do" in system["content"]
    assert TEXT in user["content"] and reference.what_it_is in user["content"]


@pytest.mark.parametrize(
    ("section", "addition", "named"),
    [
        ("consumer_impact", " You must act within 45 days.", "45"),
        ("why_it_matters", " The arbitration is shared with Microsoft.", "Microsoft"),
        ("what_it_is", " It also says “disputes go to JAMS in Delaware”.", "disputes go to JAMS"),
        ("consumer_impact", " It costs forty-five dollars to file.", "forty-five dollars"),
    ],
)
def test_an_added_fact_is_rejected_with_a_message_naming_it(
    llm: FakeLLM, section: str, addition: str, named: str
) -> None:
    inp = _input()
    reference = narrate(inp)
    answer = _rephrased(reference)
    answer[section] += addition
    llm.reply = lambda body: (200, _completion(json.dumps(answer)), 0.0)

    result = _writer(llm).rewrite(inp, reference)

    assert result.writer == "template"
    assert result.what_it_is == reference.what_it_is
    assert result.rejected
    assert any(named in problem and section in problem for problem in result.rejected), (
        result.rejected
    )


def test_a_changed_severity_is_rejected(llm: FakeLLM) -> None:
    inp = _input()
    reference = narrate(inp)
    assert inp.severity == "Medium"  # the opt-out in TEXT keeps it below High (conventions)
    answer = _rephrased(reference)
    answer["what_it_is"] = answer["what_it_is"].replace("Medium severity", "Low severity")
    llm.reply = lambda body: (200, _completion(json.dumps(answer)), 0.0)

    result = _writer(llm).rewrite(inp, reference)

    assert any("severity" in p and "Low" in p for p in result.rejected), result.rejected


def test_a_dropped_section_is_rejected(llm: FakeLLM) -> None:
    inp = _input()
    reference = narrate(inp)
    answer = _rephrased(reference)
    answer["consumer_impact"] = ""
    answer["faq"] = answer["faq"][:1]
    llm.reply = lambda body: (200, _completion(json.dumps(answer)), 0.0)

    result = _writer(llm).rewrite(inp, reference)

    assert "consumer_impact: empty" in result.rejected
    assert any(p.startswith("faq:") for p in result.rejected)


def test_http_500_is_a_rejection_not_an_exception(llm: FakeLLM) -> None:
    llm.reply = lambda body: (500, '{"error": "boom"}', 0.0)
    inp = _input()
    reference = narrate(inp)

    result = _writer(llm).rewrite(inp, reference)

    assert result == Narrative(**{**reference.__dict__, "rejected": result.rejected})
    (reason,) = result.rejected
    assert reason.startswith("LLM request failed: HTTP 500 from http://127.0.0.1:")
    assert reason.endswith("/v1/chat/completions")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_completion("Sure! Here is the rewrite: {what_it_is: nope"), "invalid JSON"),
        (_completion('["a list"]'), "not an object"),
        (_completion('{"what_it_is": "x"}'), "missing key"),
        ("<html>not json</html>", "not a chat-completions response"),
        (json.dumps({"choices": []}), "not a chat-completions response"),
    ],
)
def test_an_unusable_answer_is_a_rejection(llm: FakeLLM, body: str, expected: str) -> None:
    llm.reply = lambda _: (200, body, 0.0)
    inp = _input()
    reference = narrate(inp)

    result = _writer(llm).rewrite(inp, reference)

    assert result.writer == "template"
    assert len(result.rejected) == 1 and expected in result.rejected[0], result.rejected


def test_a_slow_server_times_out_into_a_rejection(llm: FakeLLM) -> None:
    inp = _input()
    reference = narrate(inp)
    llm.reply = lambda _: (200, _completion(json.dumps(_as_json(reference))), 2.0)

    started = time.monotonic()
    result = _writer(llm, timeout=0.3).rewrite(inp, reference)

    assert time.monotonic() - started < 1.8
    (reason,) = result.rejected
    assert reason.startswith("LLM request failed: timed out after 0.3 s"), reason


def test_an_unreachable_server_is_a_rejection() -> None:
    import socket

    with socket.socket() as sock:  # a port that nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inp = _input()
    reference = narrate(inp)

    result = LLMWriter(f"http://127.0.0.1:{port}", "m", timeout=2).rewrite(inp, reference)

    (reason,) = result.rejected
    assert reason.startswith("LLM request failed: ConnectError"), reason


def test_narrative_writer_is_off_by_default_and_keeps_the_key_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CLAUSEWATCH_LLM_URL", raising=False)
    monkeypatch.setenv("CLAUSEWATCH_CONFIG", "/nonexistent/clausewatch.toml")
    assert Settings().llm_url is None
    assert narrative_writer(Settings()) is None

    monkeypatch.setenv("CLAUSEWATCH_LLM_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("CLAUSEWATCH_LLM_API_KEY", "sk-secret")
    settings = Settings()
    assert "sk-secret" not in repr(settings)
    writer = narrative_writer(settings)
    assert writer is not None
    assert writer.url == "http://127.0.0.1:9/v1/chat/completions"
    assert writer.model == "gpt-4o-mini"
    assert "sk-secret" not in repr(writer)
