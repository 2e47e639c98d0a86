"""Watchlists and alerts (SQLite and PostgreSQL): matching, plan limits, the SSRF guard,
idempotent deliveries with leases and backoff, a real SMTP server (aiosmtpd) and a real webhook
receiver on 127.0.0.1, Atom feeds, weekly digests, and the whole path end to end from a
document changing on the loopback server to one email, one webhook and one feed entry."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from archive_fixtures import *  # noqa: F403
from fastapi.testclient import TestClient
from loopback import LoopbackServer, Response, free_port, policy_page
from lxml import etree
from smtp_server import Mailbox
from sqlalchemy import select, update
from test_analysis import AI, ARBITRATION, CHANGES_7, DAY, TEXTS, body, record
from test_archive import T0, platform_decl

from clausewatch.accounts.plans import plan_for
from clausewatch.alerts import dispatch as dispatch_module
from clausewatch.alerts.digest import digest_period, plan_digests
from clausewatch.alerts.dispatch import (
    LEASE,
    MAX_ATTEMPTS,
    backoff,
    claim_next,
    delivery_log,
    dispatch_alerts_for,
    message_id,
    plan_deliveries,
    send_alert_email,
    send_due,
    sign_webhook,
    webhook_id,
)
from clausewatch.alerts.feeds import build_feed, scope_for
from clausewatch.alerts.matching import matching_watches
from clausewatch.alerts.watchlist import (
    PlanLimitError,
    WatchError,
    add_watch,
    add_webhook_endpoint,
    check_url,
    remove_watch,
    remove_webhook_endpoint,
    watches_of,
)
from clausewatch.analysis.service import analyse
from clausewatch.archive.service import Archive
from clausewatch.jobs.scheduler import schedule_alerts
from clausewatch.provisions.service import build
from clausewatch.storage.db import utcnow
from clausewatch.storage.models import Account, ChangeRecord, Delivery, Document, Watch

CHANGED_AT = T0 + 40 * DAY  # the fixture's change: Tuesday 2026-02-10 12:00 UTC
AFTER = CHANGED_AT + dt.timedelta(hours=1)
ATOM = "{http://www.w3.org/2005/Atom}"
PUBLIC = ["93.184.216.34"]


# -- fixtures and helpers -----------------------------------------------------------------------


def configure(archive: Archive, **values: Any) -> None:
    archive.settings = archive.settings.model_copy(update=values)


def make_account(archive: Archive, email_address: str, plan: str = "pro") -> Account:
    with archive.sessions() as session, session.begin():
        account = Account(
            email=email_address,
            password_hash="not-a-hash",
            plan=plan,
            unsubscribe_token=secrets.token_urlsafe(32),
        )
        session.add(account)
        session.flush()
        return account


def reload(archive: Archive, account: Account) -> Account:
    with archive.sessions() as session:
        row = session.get(Account, account.id)
        assert row is not None
        return row


def deliveries(archive: Archive) -> list[Delivery]:
    with archive.sessions() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


# The High of the change record: AI training alone is Medium for the model trained on the gold
# set (docs/classification.md), a change of terms "without notice" is High.
ANY_TIME = "We may change these terms at any time without notice."


def the_change(archive: Archive) -> ChangeRecord:
    with archive.sessions() as session:
        return session.scalars(select(ChangeRecord)).one()


@pytest.fixture
def changed(archive: Archive) -> dict[str, int]:
    """Three platforms (alpha, beta, gamma) at T0; alpha's terms change at T0 + 40 days: a High,
    less protective change record (notice 30 → 7 days, AI training added, terms changeable
    "at any time without notice")."""
    archive.sync_registry([platform_decl(slug) for slug in TEXTS])
    docs = {d.platform.slug: d.id for d in archive.documents()}
    for slug, paragraphs in TEXTS.items():
        record(archive, docs[slug], body(paragraphs), T0)
    build(archive)
    record(
        archive,
        docs["alpha"],
        body([CHANGES_7, ARBITRATION, TEXTS["alpha"][2], AI, ANY_TIME]),
        CHANGED_AT,
    )
    build(archive)
    analyse(archive)
    return docs


class Receiver:
    """A webhook receiver on 127.0.0.1 that checks Standard Webhooks signatures; answers the
    statuses in `fail_with` first, then 204."""

    def __init__(self) -> None:
        self.secret = ""
        self.fail_with: list[int] = []
        self.calls: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                msg_id = self.headers["webhook-id"]
                stamp = self.headers["webhook-timestamp"]
                key = base64.b64decode(receiver.secret.removeprefix("whsec_"))
                expected = base64.b64encode(
                    hmac.new(key, f"{msg_id}.{stamp}.".encode() + raw, hashlib.sha256).digest()
                ).decode()
                given = [s.split(",", 1)[1] for s in self.headers["webhook-signature"].split()]
                valid = any(hmac.compare_digest(expected, g) for g in given)
                fresh = abs(time.time() - int(stamp)) < 300
                status = receiver.fail_with.pop(0) if receiver.fail_with else 204
                receiver.calls.append(
                    {
                        "id": msg_id,
                        "valid": valid and fresh,
                        "body": json.loads(raw),
                        "status": status,
                    }
                )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/clausewatch"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


# -- matching -----------------------------------------------------------------------------------


def test_matching_rules(archive: Archive, changed: dict[str, int]) -> None:
    pro = make_account(archive, "pro@example.org")
    change = the_change(archive)
    assert (change.severity, change.direction) == ("High", "less protective")
    targets = {
        ("platform", "alpha"): True,
        ("platform", "beta"): False,
        ("document", f"D-{changed['alpha']:05d}"): True,
        ("document", f"D-{changed['beta']:05d}"): False,
        ("provision", "P-000008"): True,  # the added AI-training provision
        ("provision", "P-000001"): True,  # notice period 30 → 7 days
        ("provision", "P-000003"): False,  # termination: unchanged
        ("clause_type", "ai-training-on-user-data"): True,
        ("clause_type", "policy-change-notice"): True,
        ("clause_type", "arbitration"): False,  # on alpha, but not touched
        ("clause_type", "data-sharing-sale"): False,  # gamma's only
    }
    for kind, target in targets:
        add_watch(archive, pro, kind, target, "Low", ["email"], now=T0)
    with archive.sessions() as session:
        watches = list(session.scalars(select(Watch)))
        matched = {(w.target_kind, w.target) for w in matching_watches(session, change, watches)}
    assert matched == {t for t, expected in targets.items() if expected}

    # the severity threshold; an unassessed record counts as Low
    def matches(severity: str | None, minimum: str) -> bool:
        with archive.sessions() as session, session.begin():
            session.execute(update(ChangeRecord).values(severity=severity))
            session.execute(update(Watch).values(min_severity=minimum))
        with archive.sessions() as session:
            record_ = session.scalars(select(ChangeRecord)).one()
            return bool(matching_watches(session, record_, session.scalars(select(Watch))))

    assert matches("High", "High")
    assert not matches("Medium", "High")
    assert matches("Medium", "Medium")
    assert not matches(None, "Medium")
    assert matches(None, "Low")

    # noise, re-extractions and retracted flip-flops never alert
    for status in ("non_substantive", "technical", "retracted"):
        with archive.sessions() as session, session.begin():
            session.execute(update(ChangeRecord).values(status=status, severity="High"))
        assert not matches("High", "Low")
        assert plan_deliveries(archive, archive.settings, AFTER) == 0
    assert deliveries(archive) == []


# -- plans ----------------------------------------------------------------------------------


def test_plan_limits_and_their_messages(archive: Archive, changed: dict[str, int]) -> None:
    free = make_account(archive, "free@example.org", "free")
    watch = add_watch(archive, free, "platform", "alpha")
    assert watch.channels == ["digest"]  # the free plan's default: the weekly digest
    add_watch(archive, free, "document", f"D-{changed['alpha']:05d}")  # same platform: fine
    with pytest.raises(PlanLimitError) as info:
        add_watch(archive, free, "platform", "beta")
    assert str(info.value) == (
        "The free plan watches 1 platform; you already watch Alpha. "
        "Upgrade to Pro to watch up to 25."
    )
    with pytest.raises(PlanLimitError, match="Clause-type watches are not part of the free plan"):
        add_watch(archive, free, "clause_type", "arbitration")
    with pytest.raises(PlanLimitError, match=r"Provision-level watches .* Upgrade to Pro"):
        add_watch(archive, free, "provision", "P-000001")
    with pytest.raises(PlanLimitError, match="Same-day alert emails are not part of the free"):
        add_watch(archive, free, "platform", "alpha", channels=["email"])
    with pytest.raises(PlanLimitError, match="Webhooks are not part of the free plan"):
        add_watch(archive, free, "platform", "alpha", channels=["webhook"])
    with pytest.raises(PlanLimitError, match="Webhooks"):
        add_webhook_endpoint(
            archive, free, "https://example.org/hook", resolver=lambda h, p: PUBLIC
        )

    pro = make_account(archive, "pro@example.org", "pro")
    assert add_watch(archive, pro, "clause_type", "arbitration").channels == ["email", "digest"]
    add_watch(archive, pro, "provision", "p-000001", "high", ["webhook", "feed"])
    for slug in ("alpha", "beta", "gamma"):
        add_watch(archive, pro, "platform", slug, "Medium")
    assert {w.target for w in watches_of(archive, pro)} == {
        "arbitration",
        "P-000001",
        "alpha",
        "beta",
        "gamma",
    }
    # validation errors are not plan errors
    for kind, target, message in [
        ("platform", "nope", "no platform 'nope'"),
        ("document", "D-99999", "no document D-99999"),
        ("document", "X-1", "not a clausewatch ID"),
        ("clause_type", "nope", "no clause type 'nope'"),
        ("provision", "P-999999", "no provision P-999999"),
        ("regulation", "gdpr", "unknown watch kind"),
    ]:
        with pytest.raises(WatchError, match=message) as raised:
            add_watch(archive, pro, kind, target)
        assert not isinstance(raised.value, PlanLimitError)
    with pytest.raises(WatchError, match="unknown severity"):
        add_watch(archive, pro, "platform", "alpha", "Critical")
    with pytest.raises(WatchError, match="unknown channel"):
        add_watch(archive, pro, "platform", "alpha", channels=["sms"])
    first = watches_of(archive, pro)[0]
    assert remove_watch(archive, pro, first.id)
    assert not remove_watch(archive, free, watches_of(archive, pro)[0].id)  # not theirs


# -- the SSRF guard -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://192.168.1.1/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://localhost/hook",  # a host name resolving to loopback
    ],
)
def test_private_targets_are_refused(url: str) -> None:
    with pytest.raises(WatchError, match="private, loopback"):
        check_url(url, allow_private=False)
    assert check_url(url, allow_private=True) == url  # the operator's explicit setting


def test_the_guard_checks_every_address_and_the_scheme() -> None:
    def rebinding(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "127.0.0.1"]

    with pytest.raises(WatchError, match=r"127\.0\.0\.1"):
        check_url("https://hooks.example.org/x", allow_private=False, resolver=rebinding)
    url = "https://hooks.example.org/x"
    assert check_url(url, allow_private=False, resolver=lambda h, p: PUBLIC) == url
    for bad in ("ftp://example.org/x", "file:///etc/passwd", "https://user:pw@example.org/"):
        with pytest.raises(WatchError):
            check_url(bad, allow_private=True)


def test_webhook_endpoints_and_the_send_time_check(archive: Archive, changed: dict[str, int]):
    pro = make_account(archive, "pro@example.org")
    with pytest.raises(WatchError, match="loopback"):
        add_webhook_endpoint(archive, pro, "http://127.0.0.1:9/hook")
    # accepted while the name resolved to a public address; it now points at loopback
    endpoint = add_webhook_endpoint(
        archive, pro, "http://localhost:9/hook", resolver=lambda h, p: PUBLIC
    )
    assert endpoint.secret.startswith("whsec_")
    assert len(base64.b64decode(endpoint.secret.removeprefix("whsec_"))) == 32
    add_watch(archive, pro, "platform", "alpha", channels=["webhook"], now=T0)
    assert dispatch_alerts_for(archive, archive.settings, AFTER) == 0
    (row,) = deliveries(archive)
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error and "refused" in row.last_error and "loopback" in row.last_error


# -- idempotency, leases, backoff -------------------------------------------------------------


def test_dispatch_twice_gives_one_delivery(
    archive: Archive, changed: dict[str, int], smtp: tuple[Mailbox, int]
) -> None:
    sink, port = smtp
    configure(archive, smtp_port=port)
    pro = make_account(archive, "pro@example.org")
    # two watches match the same change: still one email
    add_watch(archive, pro, "platform", "alpha", now=T0)
    add_watch(archive, pro, "clause_type", "ai-training-on-user-data", now=T0)
    assert dispatch_alerts_for(archive, archive.settings, AFTER) == 1
    assert dispatch_alerts_for(archive, archive.settings, AFTER) == 0
    assert plan_deliveries(archive, archive.settings, AFTER) == 0
    (row,) = deliveries(archive)
    assert row.idempotency_key == f"email:A-{pro.id}:C-000001"
    assert (row.status, row.attempts) == ("sent", 1)
    assert len(sink.messages) == 1
    # a watch created after the change was recorded does not alert about it
    late = make_account(archive, "late@example.org")
    add_watch(archive, late, "platform", "alpha", now=AFTER)
    assert plan_deliveries(archive, archive.settings, AFTER) == 0
    # nor does a change older than the planning window
    assert plan_deliveries(archive, archive.settings, AFTER + 8 * DAY) == 0


def test_a_worker_dying_mid_send_is_retried_with_the_same_message_id(
    archive: Archive, changed: dict[str, int], smtp: tuple[Mailbox, int]
) -> None:
    sink, port = smtp
    configure(archive, smtp_port=port)
    pro = make_account(archive, "pro@example.org")
    add_watch(archive, pro, "platform", "alpha", now=T0)
    assert plan_deliveries(archive, archive.settings, AFTER) == 1

    # worker 1 claims, sends, and dies before marking the delivery sent
    claimed = claim_next(archive, AFTER)
    assert claimed is not None and claimed.status == "sending"
    send_alert_email(archive, archive.settings, claimed)
    assert len(sink.messages) == 1
    # within the lease nobody else takes it; re-planning adds nothing
    assert send_due(archive, archive.settings, AFTER + LEASE / 2) == 0
    assert plan_deliveries(archive, archive.settings, AFTER + LEASE / 2) == 0
    assert claim_next(archive, AFTER + LEASE / 2) is None
    # after the lease it is sent again, as the same message
    assert send_due(archive, archive.settings, AFTER + LEASE + dt.timedelta(seconds=1)) == 1
    first, second = sink.messages
    key = f"email:A-{pro.id}:C-000001"
    assert first["Message-ID"] == second["Message-ID"] == message_id(key, archive.settings)
    (row,) = deliveries(archive)
    assert (row.status, row.attempts) == ("sent", 2)
    assert send_due(archive, archive.settings, AFTER + DAY) == 0


def test_backoff_timings() -> None:
    expected = [60, 300, 1800, 7200, 43200]
    for attempts, seconds in enumerate(expected, start=1):
        for _ in range(20):
            wait = backoff(attempts)
            assert wait is not None
            assert seconds * 0.9 <= wait.total_seconds() <= seconds * 1.1
    assert backoff(MAX_ATTEMPTS) is None


def test_failures_back_off_then_fail_for_good(archive: Archive, changed: dict[str, int]) -> None:
    configure(archive, smtp_port=free_port())  # nothing listens there
    pro = make_account(archive, "pro@example.org")
    add_watch(archive, pro, "platform", "alpha", now=T0)
    now = AFTER
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert dispatch_alerts_for(archive, archive.settings, now) == 0
        (row,) = deliveries(archive)
        assert row.attempts == attempt
        assert row.last_error and "ConnectionRefusedError" in row.last_error
        if attempt < MAX_ATTEMPTS:
            assert row.status == "pending"
            wait = (row.next_attempt_at - now).total_seconds()
            base = dispatch_module.BACKOFF[attempt - 1].total_seconds()
            assert base * 0.9 <= wait <= base * 1.1
            assert send_due(archive, archive.settings, now + (row.next_attempt_at - now) / 2) == 0
            now = row.next_attempt_at
    assert row.status == "failed"
    assert send_due(archive, archive.settings, now + 30 * DAY) == 0


# -- email, unsubscribe -------------------------------------------------------------------------


def test_alert_email_content_and_one_click_unsubscribe(
    archive: Archive, changed: dict[str, int], smtp: tuple[Mailbox, int]
) -> None:
    sink, port = smtp
    configure(archive, smtp_port=port, base_url="https://watch.example.org")
    pro = make_account(archive, "pro@example.org")
    add_watch(archive, pro, "platform", "alpha", "High", now=T0)
    assert dispatch_alerts_for(archive, archive.settings, AFTER) == 1
    (message,) = sink.messages
    assert message["Subject"] == "[High] Alpha Terms of Service changed — less protective"
    assert message["To"] == "pro@example.org"
    unsubscribe = f"https://watch.example.org/unsubscribe/{pro.unsubscribe_token}"
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    for part in (text, html):
        assert "https://watch.example.org/changes/C-000001" in part
        assert unsubscribe in part
        assert "less protective" in part and "High" in part
        assert "P-000008" in part and "notice period: 30 days → 7 days" in part
    assert "Alpha (platform, High and above)" in text

    # the link works: a confirmation page, then one POST (RFC 8058) turns alerts off
    with TestClient(_app(archive)) as client:
        page = client.get(f"/unsubscribe/{pro.unsubscribe_token}")
        assert page.status_code == 200 and "pro@example.org" in page.text
        assert reload(archive, pro).email_alerts  # a GET changes nothing
        done = client.post(
            f"/unsubscribe/{pro.unsubscribe_token}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200 and "no more alert" in done.text
        assert client.get(f"/unsubscribe/{pro.unsubscribe_token}").status_code == 404  # rotated
    assert not reload(archive, pro).email_alerts

    # no more alert emails: a new delivery planned before the unsubscribe is skipped
    with archive.sessions() as session, session.begin():
        session.execute(update(Delivery).values(idempotency_key="old", status="sent"))
    assert plan_deliveries(archive, archive.settings, AFTER) == 0  # alerts off: nothing planned
    assert len(sink.messages) == 1


def _app(archive: Archive) -> Any:
    from clausewatch.web.app import create_app

    return create_app(archive.settings)


# -- webhooks -------------------------------------------------------------------------------


def test_signed_webhook_with_a_retry_and_the_delivery_log(
    archive: Archive, changed: dict[str, int], receiver: Receiver
) -> None:
    configure(archive, allow_private_urls=True)  # the receiver is on 127.0.0.1
    pro = make_account(archive, "pro@example.org")
    endpoint = add_webhook_endpoint(archive, pro, receiver.url)
    receiver.secret = endpoint.secret
    receiver.fail_with = [500]
    add_watch(archive, pro, "document", f"D-{changed['alpha']:05d}", channels=["webhook"], now=T0)

    assert dispatch_alerts_for(archive, archive.settings, AFTER) == 0
    (row,) = deliveries(archive)
    assert (row.status, row.attempts, row.response_status) == ("pending", 1, 500)
    assert row.last_error and "HTTP 500" in row.last_error
    assert dispatch_alerts_for(archive, archive.settings, AFTER + dt.timedelta(seconds=30)) == 0
    assert dispatch_alerts_for(archive, archive.settings, AFTER + dt.timedelta(minutes=2)) == 1
    first, second = receiver.calls
    key = f"webhook:W-{endpoint.id}:C-000001"
    assert first["id"] == second["id"] == webhook_id(key)
    assert first["valid"] and second["valid"]
    assert first["body"] == second["body"]
    event = second["body"]
    assert event["type"] == "change.recorded"
    data = event["data"]
    assert data["id"] == "C-000001" and data["url"].endswith("/changes/C-000001")
    assert (data["severity"], data["direction"]) == ("High", "less protective")
    assert data["platform"] == "alpha" and data["summary"]
    assert "secret" not in json.dumps(event) and "whsec" not in json.dumps(event)
    log = delivery_log(archive, pro.id)
    assert [(e["channel"], e["status"], e["attempts"]) for e in log] == [("webhook", "sent", 2)]
    assert log[0]["response_status"] == 204 and "HTTP 500" in log[0]["last_error"]


class DrippingReceiver:
    """A receiver on 127.0.0.1 that reads the request, then answers one byte a second: every
    read sees data well within the per-read timeout, so only a whole-send deadline ends it."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hooks/slow"
        self.stop = threading.Event()
        self.dripped = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                conn.recv(65536)
                answer = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n"
                for byte in answer:
                    if self.stop.wait(1.0):
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break  # the sender gave up and closed the connection
                    self.dripped += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


def test_a_dripping_receiver_cannot_hold_a_send_past_the_deadline(
    archive: Archive, changed: dict[str, int]
) -> None:
    receiver = DrippingReceiver()
    try:
        configure(archive, allow_private_urls=True, webhook_deadline_seconds=2.0)
        pro = make_account(archive, "pro@example.org")
        add_webhook_endpoint(archive, pro, receiver.url)
        add_watch(archive, pro, "platform", "alpha", channels=["webhook"], now=T0)
        started = time.monotonic()
        assert dispatch_alerts_for(archive, archive.settings, AFTER) == 0
        took = time.monotonic() - started
    finally:
        receiver.close()
    assert took < 2.0 + 3.0, f"the send took {took:.1f} s, past its 2 s deadline"
    assert receiver.dripped >= 1  # the receiver did answer, slowly
    (row,) = deliveries(archive)
    # the usual retry path: pending again after the first backoff, with the reason
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error and "deadline" in row.last_error and "2 s" in row.last_error
    assert row.next_attempt_at is not None and row.next_attempt_at > AFTER


def test_webhook_endpoints_are_capped_by_the_plan(archive: Archive) -> None:
    pro = make_account(archive, "pro@example.org")
    cap = plan_for("pro").max_webhook_endpoints
    assert 0 < cap <= 10
    public = lambda host, port: PUBLIC  # noqa: E731
    endpoints = [
        add_webhook_endpoint(archive, pro, f"https://hooks{i}.example/x", resolver=public)
        for i in range(cap)
    ]
    with pytest.raises(PlanLimitError, match=rf"at most {cap} webhook endpoints"):
        add_webhook_endpoint(archive, pro, "https://one-more.example/x", resolver=public)
    # a removed endpoint frees its place
    assert remove_webhook_endpoint(archive, pro, endpoints[0].id)
    add_webhook_endpoint(archive, pro, "https://one-more.example/x", resolver=public)
    free = make_account(archive, "free@example.org", plan="free")
    with pytest.raises(PlanLimitError, match="not part of the free plan"):
        add_webhook_endpoint(archive, free, "https://free.example/x", resolver=public)


def test_the_signature_matches_the_standard_webhooks_example() -> None:
    # the example of the Standard Webhooks specification's reference libraries
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    signature = sign_webhook(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


# -- feeds ----------------------------------------------------------------------------------


def _atom(raw: bytes) -> Any:
    root = etree.fromstring(raw)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{name}") is not None, name
    assert root.find(f"{ATOM}link[@rel='self']") is not None
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert (entry.findtext(f"{ATOM}{name}") or "").strip(), name
        assert entry.find(f"{ATOM}link").get("href")
        dt.datetime.fromisoformat(entry.findtext(f"{ATOM}updated"))
    return root


def test_atom_feeds(archive: Archive, changed: dict[str, int]) -> None:
    configure(archive, base_url="https://watch.example.org")
    document = f"D-{changed['alpha']:05d}"
    with TestClient(_app(archive)) as client:
        paths = {
            "/feeds/changes.atom": 1,
            "/feeds/platforms/alpha.atom": 1,
            "/feeds/platforms/beta.atom": 0,
            f"/feeds/documents/{document}.atom": 1,
            "/feeds/clause-types/ai-training-on-user-data.atom": 1,
            "/feeds/clause-types/arbitration.atom": 0,
        }
        for path, count in paths.items():
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.headers["content-type"].startswith("application/atom+xml")
            root = _atom(response.content)
            entries = root.findall(f"{ATOM}entry")
            assert len(entries) == count, path
            self_link = root.find(f"{ATOM}link[@rel='self']").get("href")
            assert self_link == f"https://watch.example.org{path}"
        for missing in (
            "/feeds/platforms/nope.atom",
            "/feeds/documents/D-99999.atom",
            "/feeds/documents/nope.atom",
            "/feeds/clause-types/nope.atom",
        ):
            assert client.get(missing).status_code == 404, missing
    root = _atom(build_feed(archive, scope_for(archive, "all")))
    (entry,) = root.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}id") == "tag:watch.example.org,2026:changes/C-000001"
    assert entry.find(f"{ATOM}link").get("href") == "https://watch.example.org/changes/C-000001"
    updated = dt.datetime.fromisoformat(entry.findtext(f"{ATOM}updated"))
    assert updated == the_change(archive).recorded_at
    assert "[High]" in entry.findtext(f"{ATOM}title")
    assert build_feed(archive, scope_for(archive, "all")) == build_feed(
        archive, scope_for(archive, "all")
    )  # stable: the same bytes for the same archive


# -- digests --------------------------------------------------------------------------------


def test_weekly_digest(
    archive: Archive, changed: dict[str, int], smtp: tuple[Mailbox, int]
) -> None:
    sink, port = smtp
    configure(archive, smtp_port=port)
    pro = make_account(archive, "pro@example.org")
    free = make_account(archive, "free@example.org", "free")
    add_watch(archive, pro, "platform", "alpha", channels=["digest"])
    add_watch(archive, free, "platform", "beta")  # nothing changed on beta
    monday = dt.datetime(2026, 2, 16, 7, 5, tzinfo=dt.UTC)  # the Monday after the change
    week, start, end = digest_period(archive.settings, monday)
    assert (week, start.isoformat(), end.isoformat()) == (
        "2026-W07",
        "2026-02-09T07:00:00+00:00",
        "2026-02-16T07:00:00+00:00",
    )
    before = digest_period(archive.settings, monday - dt.timedelta(minutes=10))
    assert before[0] == "2026-W06"  # before 07:00 the latest digest is the previous one

    assert plan_digests(archive, archive.settings, monday) == 1
    assert plan_digests(archive, archive.settings, monday + dt.timedelta(hours=1)) == 0
    rows = {r.idempotency_key: r for r in deliveries(archive)}
    assert rows[f"digest:A-{free.id}:2026-W07"].status == "skipped"  # nothing to report
    assert rows[f"digest:A-{free.id}:2026-W07"].last_error == "nothing to report"
    assert rows[f"digest:A-{pro.id}:2026-W07"].payload["changes"] == ["C-000001"]

    assert dispatch_alerts_for(archive, archive.settings, monday) == 1
    assert dispatch_alerts_for(archive, archive.settings, monday + DAY) == 0
    (message,) = sink.messages  # the digest only: the watch has no same-day email channel
    assert message["Subject"] == "clausewatch weekly digest 2026-W07: 1 change (1 High)"
    assert message["To"] == "pro@example.org"
    assert message["List-Unsubscribe"]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "High (1)" in text and "<h2>High (1)</h2>" in html
    for part in (text, html):
        assert "/changes/C-000001" in part and "less protective" in part
        assert f"/unsubscribe/{pro.unsubscribe_token}" in part
    # the following week has nothing: no email
    assert plan_digests(archive, archive.settings, monday + 7 * DAY) == 0
    assert dispatch_alerts_for(archive, archive.settings, monday + 7 * DAY) == 0
    assert len(sink.messages) == 1


def test_the_scheduler_tick_plans_digests_and_enqueues_a_dispatch(
    archive: Archive, changed: dict[str, int], tmp_path: Path
) -> None:
    from clausewatch.jobs.engine import make_huey

    pro = make_account(archive, "pro@example.org")
    add_watch(archive, pro, "platform", "alpha", channels=["digest"])
    huey = make_huey(archive.settings, name=f"t{uuid.uuid4().hex[:8]}", immediate=False)
    monday = dt.datetime(2026, 2, 16, 7, 5, tzinfo=dt.UTC)
    assert schedule_alerts(archive, huey, monday)
    assert len(huey) == 1  # one dispatch enqueued
    assert not schedule_alerts(archive, huey, monday + dt.timedelta(seconds=30))  # throttled
    assert len(huey) == 1
    huey.flush()


# -- end to end -----------------------------------------------------------------------------

ARBITRATION_HTML = (
    "<h2>14. Arbitration</h2><p>Any dispute will be resolved by binding individual arbitration "
    "and you waive your right to a class action, unless you opt out within 30 days.</p>"
)


def rendered(content: str) -> Any:
    """The page as a real site serves it: a fresh session link, CSRF token and timestamp on
    every render (per-render tokens are noise: docs/archive.md)."""

    def handler(request: Any) -> Response:
        extra = (
            f'<a href="/account?session={uuid.uuid4()}">Account</a>'
            f'<form><input type="hidden" name="csrf_token" value="{uuid.uuid4().hex}"></form>'
            f"<footer>Page generated at {time.time():.6f}</footer>"
        )
        return Response(body=policy_page("Terms of Service", extra + content))

    return handler


@pytest.mark.slow
def test_end_to_end_one_email_one_webhook_one_feed_entry(
    tmp_path: Path, loopback: LoopbackServer, smtp: tuple[Mailbox, int], receiver: Receiver
) -> None:
    from test_jobs import job_settings, register, settled, wait_for

    from clausewatch.jobs.engine import BackgroundConsumer, make_huey
    from clausewatch.jobs.scheduler import Scheduler, pending
    from clausewatch.jobs.tasks import tasks_of

    sink, port = smtp
    settings = job_settings(tmp_path, smtp_port=port, allow_private_urls=True)
    archive = Archive.open(settings)
    huey = make_huey(settings)
    loopback.route("/tos", rendered(""))
    ids = register(archive, {"Terms of Service": (loopback.url("/tos"), None)})
    doc = ids["Terms of Service"]
    scheduler = Scheduler(archive, huey)

    def checked() -> dt.datetime | None:
        return archive.document(doc).last_checked_at

    def cycle(expect_versions: int) -> None:
        with archive.sessions() as session, session.begin():  # due again
            session.execute(
                update(Document).values(last_checked_at=utcnow() - dt.timedelta(days=2))
            )
        started = utcnow()
        assert scheduler.run_once(started).captures == [doc]
        wait_for(lambda: (checked() or started) > started, what="the check")
        wait_for(lambda: len(archive.versions(doc)) == expect_versions, what="versions")
        wait_for(lambda: settled(archive, huey) and not pending(huey, doc), what="derive")

    try:
        with BackgroundConsumer(huey, workers=2):
            assert scheduler.run_once(utcnow()).captures == [doc]
            wait_for(lambda: len(archive.versions(doc)) == 1, what="first version")
            wait_for(lambda: settled(archive, huey) and not pending(huey, doc), what="derive")

            watcher = make_account(archive, "watcher@example.org")
            add_watch(archive, watcher, "platform", "loopback", "Low", ["email", "webhook"])
            endpoint = add_webhook_endpoint(archive, watcher, receiver.url)
            receiver.secret = endpoint.secret

            loopback.route("/tos", rendered(ARBITRATION_HTML))
            cycle(expect_versions=2)
            wait_for(lambda: len(sink.messages) >= 1 and receiver.calls, what="alerts")
            time.sleep(0.5)  # anything extra would arrive now

            # noise only: the same text with new per-render tokens, twice
            cycle(expect_versions=2)
            cycle(expect_versions=2)
            time.sleep(0.5)
        assert tasks_of(huey).dispatch_alerts  # the task ran after every derive
        dispatch_alerts_for(archive, settings)  # and once more: nothing new

        (message,) = sink.messages
        with archive.sessions() as session:
            records = list(session.scalars(select(ChangeRecord).order_by(ChangeRecord.id)))
        change = records[0]
        assert change.status == "substantive"
        assert all(r.status != "substantive" for r in records[1:])
        assert message["To"] == "watcher@example.org"
        assert re.match(
            r"\[(High|Medium|Low)\] Loopback Terms of Service changed", message["Subject"]
        )
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert f"{settings.base_url}/changes/{change.public_id}" in text
        assert f"/unsubscribe/{watcher.unsubscribe_token}" in text

        (call,) = receiver.calls
        assert call["valid"] and call["body"]["data"]["id"] == change.public_id

        root = _atom(build_feed(archive, scope_for(archive, "platform", "loopback")))
        entries = root.findall(f"{ATOM}entry")
        assert [e.findtext(f"{ATOM}id").rsplit("/", 1)[1] for e in entries] == [change.public_id]
        statuses = sorted(r.status for r in deliveries(archive))
        assert statuses == ["sent", "sent"]
    finally:
        scheduler.lock.release()
        huey.flush()
        tasks_of(huey).context.close()
        archive.close()


# -- the watch API and pages --------------------------------------------------------------------


def test_watch_api_with_an_api_key(archive: Archive, changed: dict[str, int]) -> None:
    from clausewatch.accounts import service

    free = service.sign_up(archive, "free@example.org", "correct horse battery staple")
    key, _row = service.create_api_key(archive, free, "tests")
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(_app(archive)) as client:
        assert client.get("/api/v1/watches").status_code == 401
        page = client.get("/account/watches", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        added = client.post(
            "/api/v1/watches", json={"kind": "platform", "target": "alpha"}, headers=auth
        )
        assert added.status_code == 201, added.text
        assert added.json()["label"] == "Alpha" and added.json()["channels"] == ["digest"]
        refused = client.post(
            "/api/v1/watches", json={"kind": "platform", "target": "beta"}, headers=auth
        )
        assert refused.status_code == 403
        assert "Upgrade to Pro to watch up to 25" in refused.json()["error"]["message"]
        missing = client.post(
            "/api/v1/watches", json={"kind": "platform", "target": "nope"}, headers=auth
        )
        assert missing.status_code == 422
        listed = client.get("/api/v1/watches", headers=auth).json()
        assert [w["target"] for w in listed["items"]] == ["alpha"]
        webhook = client.post("/api/v1/webhooks", json={"url": "https://x.example"}, headers=auth)
        assert webhook.status_code == 403  # not on the free plan
        gone = client.delete(f"/api/v1/watches/{listed['items'][0]['id']}", headers=auth)
        assert gone.status_code == 204
        assert client.get("/api/v1/watches", headers=auth).json()["total"] == 0
        assert client.get("/api/v1/deliveries", headers=auth).json()["total"] == 0


def test_watch_pages_with_a_session(archive: Archive, changed: dict[str, int]) -> None:
    from clausewatch.accounts import service

    pro = service.sign_up(archive, "pro@example.org", "correct horse battery staple", "pro")
    token, _session = service.start_session(archive, pro)
    with TestClient(_app(archive)) as client:
        client.cookies.set("cw_session", token)
        page = client.get("/account/watches")
        assert page.status_code == 200
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found
        form = {"kind": "platform", "target": "alpha", "min_severity": "Medium"}
        assert client.post("/account/watches", data=form).status_code == 403  # no CSRF token
        added = client.post(
            "/account/watches", data={**form, "csrf_token": found[1], "channel_email": "1"}
        )
        assert added.status_code == 201 and "Now watching alpha" in added.text
        (watch,) = watches_of(archive, pro)
        assert (watch.min_severity, watch.channels) == ("Medium", ["email"])
        refused = client.post(
            "/account/webhooks", data={"csrf_token": found[1], "url": "http://127.0.0.1/x"}
        )
        assert refused.status_code == 422 and "loopback" in refused.text
        removed = client.post(f"/account/watches/{watch.id}/remove", data={"csrf_token": found[1]})
        assert removed.status_code == 200 and watches_of(archive, pro) == []
