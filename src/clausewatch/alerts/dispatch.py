"""Deliveries: plan them from the database, then send what is due, with a lease, retries and a
log. The guarantee (docs/alerts.md): **at least once, with a stable idempotency key**.

1. *Plan.* For each substantive change record recorded in the last `PLAN_WINDOW` (and after
   the watch was created) × matching watch × channel, insert a `Delivery` whose unique key is
   ``email:A-<account>:C-…`` (one email per account per change, however many watches match) or
   ``webhook:W-<endpoint>:C-…``. Inserts are ``ON CONFLICT DO NOTHING``: planning again (another
   derive, a retried task, two dispatchers) never creates a second delivery.
2. *Claim.* One transaction moves one due row from ``pending`` (or from ``sending`` whose lease
   expired) to ``sending``, with ``next_attempt_at = now + LEASE`` and ``attempts + 1``
   (PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED``; SQLite: the write transaction is
   ``BEGIN IMMEDIATE``, so claims are serialised).
3. *Send*, then mark ``sent``. On failure: ``last_error``/``response_status`` recorded and
   ``pending`` again after 1 min, 5 min, 30 min, 2 h, 12 h (±10 % jitter); the sixth failed
   attempt is ``failed`` for good.

A worker that dies after claiming leaves a ``sending`` row; after the lease it is claimed again
and re-sent with the **same** Message-ID / ``webhook-id``, derived from the key, so receivers
can drop the duplicate. A worker that dies after sending but before marking therefore causes at
most one duplicate transmission per lease expiry, never a lost alert and never a second
*distinct* alert.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import datetime as dt
import hashlib
import hmac
import html
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from clausewatch.accounts.plans import plan_for
from clausewatch.alerts.matching import (
    change_targets,
    record_severity,
    severity_reaches,
    substantive_changes,
    target_matches,
)
from clausewatch.alerts.watchlist import (
    WatchError,
    account_ref,
    check_url,
    endpoint_ref,
)
from clausewatch.archive.service import Archive
from clausewatch.changes.summary import summary_lead, summary_lines
from clausewatch.config import Settings
from clausewatch.ids import format_id
from clausewatch.storage.db import transaction, utcnow
from clausewatch.storage.models import (
    Account,
    ChangeItem,
    ChangeRecord,
    Delivery,
    Document,
    Provision,
    Watch,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)

PLAN_WINDOW = dt.timedelta(days=7)  # change records older than this are never alerted
LEASE = dt.timedelta(minutes=5)  # a claimed delivery not marked within this is sent again
BACKOFF = (
    dt.timedelta(minutes=1),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=12),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
JITTER = 0.1
WEBHOOK_TIMEOUT = 10.0  # per connect / read / write; the whole send: Settings
WEBHOOK_MAX_ANSWER = 64 * 1024  # bytes of a receiver's answer read at most
SMTP_TIMEOUT = 30.0
MAX_SENDS_PER_RUN = 500

PENDING, SENDING, SENT, FAILED, SKIPPED = "pending", "sending", "sent", "failed", "skipped"


class DeliveryFailed(Exception):
    def __init__(self, message: str, response_status: int | None = None) -> None:
        super().__init__(message)
        self.response_status = response_status


class Skip(Exception):
    """Nothing to send any more (alerts turned off, plan changed, endpoint removed)."""


# -- identities ---------------------------------------------------------------------------


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def message_id(key: str, settings: Settings) -> str:
    """The Message-ID of a delivery's email: the same on every attempt."""
    domain = urlsplit(settings.base_url).hostname or "clausewatch"
    return f"<{_key_hash(key)}@{domain}>"


def webhook_id(key: str) -> str:
    """The ``webhook-id`` of a delivery: the same on every attempt."""
    return f"msg_{_key_hash(key)}"


def change_url(settings: Settings, public_id: str) -> str:
    return f"{settings.base_url.rstrip('/')}/changes/{public_id}"


def unsubscribe_url(settings: Settings, account: Account) -> str:
    return f"{settings.base_url.rstrip('/')}/unsubscribe/{account.unsubscribe_token}"


# -- 1. planning --------------------------------------------------------------------------


def insert_delivery(session: Session, now: dt.datetime | None = None, **values: Any) -> bool:
    """INSERT … ON CONFLICT (idempotency_key) DO NOTHING; True when a row was inserted. Due at
    `now` (the planning time)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(Delivery)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(Delivery)
    now = now or utcnow()
    values = {
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "payload": {},
        **values,
    }
    result = session.execute(
        stmt.values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Delivery.id)
    )
    return result.first() is not None  # (rowcount is -1 here on PostgreSQL)


def change_event(session: Session, record: ChangeRecord, settings: Settings) -> dict[str, Any]:
    """The webhook payload (and the facts every alert shows) for a change record: public data
    only, with links to the site."""
    base = settings.base_url.rstrip("/")
    document = session.get(Document, record.document_id)
    assert document is not None
    items = list(session.scalars(select(ChangeItem).where(ChangeItem.change_id == record.id)))
    titles = dict(
        session.execute(
            select(Provision.id, Provision.title).where(
                Provision.id.in_([i.provision_id for i in items])
            )
        ).all()
    )
    return {
        "type": "change.recorded",
        "timestamp": record.recorded_at.isoformat(),
        "data": {
            "id": record.public_id,
            "url": change_url(settings, record.public_id),
            "recorded_at": record.recorded_at.isoformat(),
            "platform": document.platform.slug,
            "platform_name": document.platform.name,
            "document": document.public_id,
            "document_type": document.doc_type,
            "document_url": f"{base}/documents/{document.public_id}",
            "from_version": format_id("V", record.from_version_id),
            "to_version": format_id("V", record.to_version_id),
            "severity": record_severity(record),
            "assessed": record.severity is not None,
            "direction": record.direction,
            "summary": record.summary,  # the reader text (changes.summary), every channel's
            "lead": summary_lead(record.summary),  # its first line: what matters most
            "reasons": list(record.assessment or []),
            "effective_date": record.effective_date,
            "provisions": [
                {
                    "id": format_id("P", i.provision_id),
                    "title": titles.get(i.provision_id, ""),
                    "kind": i.kind,
                    "substantive": i.substantive,
                    "url": f"{base}/provisions/{format_id('P', i.provision_id)}",
                }
                for i in items
            ],
        },
    }


def plan_deliveries(archive: Archive, settings: Settings, now: dt.datetime | None = None) -> int:
    """Insert the deliveries that recent substantive change records call for; how many new."""
    now = now or utcnow()
    created = 0
    with transaction(archive.sessions) as session:
        watches = [
            w for w in session.scalars(select(Watch)) if {"email", "webhook"} & set(w.channels)
        ]
        if not watches:
            return 0
        accounts = {
            a.id: a
            for a in session.scalars(
                select(Account).where(
                    Account.id.in_({w.account_id for w in watches}), Account.disabled_at.is_(None)
                )
            )
        }
        endpoints: dict[int, list[WebhookEndpoint]] = {}
        for endpoint in session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.disabled_at.is_(None))
        ):
            endpoints.setdefault(endpoint.account_id, []).append(endpoint)
        for record in substantive_changes(session, since=now - PLAN_WINDOW):
            candidates = [
                w
                for w in watches
                if w.account_id in accounts
                and w.created_at <= record.recorded_at
                and severity_reaches(record, w.min_severity)
            ]
            if not candidates:
                continue
            targets = change_targets(session, record)
            matched = [w for w in candidates if target_matches(w, targets)]
            if not matched:
                continue
            event = change_event(session, record, settings)
            email_to: dict[int, list[int]] = {}
            webhook_to: dict[int, list[int]] = {}
            for watch in matched:
                plan = plan_for(accounts[watch.account_id].plan)
                if "email" in watch.channels and plan.same_day_alerts:
                    email_to.setdefault(watch.account_id, []).append(watch.id)
                if "webhook" in watch.channels and plan.webhooks:
                    webhook_to.setdefault(watch.account_id, []).append(watch.id)
            for account_id, watch_ids in email_to.items():
                if not accounts[account_id].email_alerts:
                    continue
                key = f"email:{account_ref(account_id)}:{record.public_id}"
                created += insert_delivery(
                    session,
                    now,
                    idempotency_key=key,
                    account_id=account_id,
                    channel="email",
                    change_id=record.id,
                    payload={"change": record.public_id, "watches": watch_ids},
                )
            for account_id, watch_ids in webhook_to.items():
                for endpoint in endpoints.get(account_id, []):
                    key = f"webhook:{endpoint_ref(endpoint.id)}:{record.public_id}"
                    body = {**event, "data": {**event["data"], "watches": watch_ids}}
                    created += insert_delivery(
                        session,
                        now,
                        idempotency_key=key,
                        account_id=account_id,
                        channel="webhook",
                        change_id=record.id,
                        endpoint_id=endpoint.id,
                        payload=body,
                    )
    return created


# -- 2. claiming --------------------------------------------------------------------------


def _due(now: dt.datetime) -> Any:
    return Delivery.status.in_([PENDING, SENDING]) & (Delivery.next_attempt_at <= now)


def due_count(archive: Archive, now: dt.datetime | None = None) -> int:
    with archive.sessions() as session:
        return int(
            session.scalar(select(func.count()).select_from(Delivery).where(_due(now or utcnow())))
            or 0
        )


def has_due(session: Session, now: dt.datetime) -> bool:
    return bool(session.scalar(select(exists().where(_due(now)))))


def claim_next(
    archive: Archive, now: dt.datetime | None = None, lease: dt.timedelta = LEASE
) -> Delivery | None:
    """Claim one due delivery (pending, or sending with an expired lease): status ``sending``,
    lease until ``now + lease``, one more attempt. None when nothing is due."""
    now = now or utcnow()
    with transaction(archive.sessions) as session:
        delivery = session.scalar(
            select(Delivery)
            .where(_due(now))
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if delivery is None:
            return None
        if delivery.status == SENDING:
            log.warning("delivery %s: lease expired, sending again", delivery.idempotency_key)
        delivery.status = SENDING
        delivery.attempts += 1
        delivery.next_attempt_at = now + lease
        session.flush()
        return delivery


def backoff(attempts: int, rng: random.Random | None = None) -> dt.timedelta | None:
    """The wait after the `attempts`-th failed attempt; None when it was the last."""
    if attempts >= MAX_ATTEMPTS:
        return None
    base = BACKOFF[max(attempts, 1) - 1]
    return base * (1 + (rng or random).uniform(-JITTER, JITTER))


def _finish(
    archive: Archive,
    delivery_id: int,
    now: dt.datetime,
    *,
    error: BaseException | None = None,
    skipped: str | None = None,
    response_status: int | None = None,
) -> str:
    with transaction(archive.sessions) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        row.response_status = response_status
        if skipped is not None:
            row.status, row.last_error = SKIPPED, skipped
        elif error is None:
            row.status, row.sent_at = SENT, now  # an earlier attempt's error stays in the log
        else:
            row.last_error = f"{type(error).__name__}: {error}"[:2000]
            wait = backoff(row.attempts)
            if wait is None:
                row.status = FAILED
            else:
                row.status, row.next_attempt_at = PENDING, now + wait
        return row.status


# -- 3. sending ---------------------------------------------------------------------------

Sender = Callable[[Archive, Settings, Delivery], int | None]


def send_one(
    archive: Archive, settings: Settings, delivery: Delivery, now: dt.datetime | None = None
) -> str:
    """Send a claimed delivery and record the outcome; the new status."""
    senders: dict[str, Sender] = {
        "email": send_alert_email,
        "webhook": send_webhook,
        "digest": _send_digest,
    }
    try:
        status = senders[delivery.channel](archive, settings, delivery)
    except Skip as exc:
        return _finish(archive, delivery.id, now or utcnow(), skipped=str(exc))
    except DeliveryFailed as exc:
        log.warning("delivery %s failed: %s", delivery.idempotency_key, exc)
        return _finish(
            archive, delivery.id, now or utcnow(), error=exc, response_status=exc.response_status
        )
    except Exception as exc:  # SMTP errors, network errors, a bug: retried all the same
        log.warning("delivery %s failed: %s", delivery.idempotency_key, exc)
        return _finish(archive, delivery.id, now or utcnow(), error=exc)
    return _finish(archive, delivery.id, now or utcnow(), response_status=status)


def send_due(
    archive: Archive,
    settings: Settings,
    now: dt.datetime | None = None,
    limit: int = MAX_SENDS_PER_RUN,
) -> int:
    """Claim and send due deliveries one at a time; how many were sent."""
    sent = 0
    for _ in range(limit):
        delivery = claim_next(archive, now)
        if delivery is None:
            break
        sent += send_one(archive, settings, delivery, now) == SENT
    return sent


def dispatch_alerts_for(
    archive: Archive, settings: Settings, now: dt.datetime | None = None
) -> int:
    """Plan the deliveries recent change records call for, then send every due delivery
    (new ones, retries, digests, leases that expired); the number sent."""
    planned = plan_deliveries(archive, settings, now)
    sent = send_due(archive, settings, now)
    if planned or sent:
        log.info("alerts: %d deliveries planned, %d sent", planned, sent)
    return sent


# -- channels -----------------------------------------------------------------------------


def _account(session: Session, delivery: Delivery) -> Account:
    account = session.get(Account, delivery.account_id)
    if account is None or account.disabled_at is not None:
        raise Skip("the account is disabled")
    return account


def alert_subject(event: dict[str, Any]) -> str:
    data = event["data"]
    subject = f"[{data['severity']}] {data['platform_name']} {data['document_type']} changed"
    return f"{subject} — {data['direction']}" if data.get("direction") else subject


def render_alert(
    settings: Settings, account: Account, event: dict[str, Any], watches: list[str]
) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a same-day alert."""
    data = event["data"]
    unsubscribe = unsubscribe_url(settings, account)
    subject = alert_subject(event)
    touched = [p for p in data["provisions"] if p["substantive"]] or data["provisions"]
    summary = summary_lines(data["summary"])  # the same reader text as the change page
    lines = [
        f"{data['platform_name']} {data['document_type']} changed ({data['id']}), recorded "
        f"{data['recorded_at'][:16].replace('T', ' ')} UTC.",
        "",
        *summary,
        "",
        f"Severity: {data['severity']}" + ("" if data["assessed"] else " (not yet assessed)"),
        f"Direction: {data['direction'] or 'not assessed'}",
    ]
    if data["effective_date"]:
        lines.append(f"Effective date stated in the text: {data['effective_date']}")
    if data["reasons"]:
        lines += ["", "Why:", *(f"- {r}" for r in data["reasons"])]
    lines += ["", "Provisions touched:"]
    lines += [f"- {p['id']} {p['title']} ({p['kind']}): {p['url']}" for p in touched]
    lines += [
        "",
        f"The change, with the redline: {data['url']}",
        "",
        "You receive this because you watch: " + "; ".join(watches) + ".",
        f"Stop alert emails (one click): {unsubscribe}",
    ]
    e = html.escape
    reasons = "".join(f"<li>{e(r)}</li>" for r in data["reasons"])
    provisions = "".join(
        f'<li><a href="{e(p["url"])}">{e(p["id"])}</a> {e(p["title"])} ({e(p["kind"])})</li>'
        for p in touched
    )
    body = (
        f"<html><body><h1>{e(data['platform_name'])} {e(data['document_type'])} changed</h1>"
        f"<p><strong>Severity:</strong> {e(data['severity'])}"
        f"{'' if data['assessed'] else ' (not yet assessed)'}<br>"
        f"<strong>Direction:</strong> {e(data['direction'] or 'not assessed')}<br>"
        f"<strong>Recorded:</strong> {e(data['recorded_at'][:16].replace('T', ' '))} UTC</p>"
        f"<p><strong>{e(summary[0] if summary else '')}</strong></p>"
        + (
            f"<ul>{''.join(f'<li>{e(line)}</li>' for line in summary[1:])}</ul>"
            if summary[1:]
            else ""
        )
        + (f"<h2>Why</h2><ul>{reasons}</ul>" if reasons else "")
        + f"<h2>Provisions touched</h2><ul>{provisions}</ul>"
        f'<p><a href="{e(data["url"])}">See {e(data["id"])} with the redline</a></p>'
        f"<hr><p>You receive this because you watch: {e('; '.join(watches))}.<br>"
        f'<a href="{e(unsubscribe)}">Stop alert emails</a></p></body></html>'
    )
    return subject, "\n".join(lines) + "\n", body


def _watch_labels(session: Session, watch_ids: list[int]) -> list[str]:
    from clausewatch.alerts.watchlist import resolve_target

    labels = []
    for watch in session.scalars(select(Watch).where(Watch.id.in_(watch_ids))):
        try:
            label = resolve_target(session, watch.target_kind, watch.target).label
        except WatchError:
            label = watch.target
        kind = watch.target_kind.replace("_", " ")
        labels.append(f"{label} ({kind}, {watch.min_severity} and above)")
    return labels or ["(a watch since removed)"]


def send_alert_email(archive: Archive, settings: Settings, delivery: Delivery) -> int | None:
    with archive.sessions() as session:
        account = _account(session, delivery)
        if not account.email_alerts:
            raise Skip("email alerts are turned off (unsubscribed)")
        if not plan_for(account.plan).same_day_alerts:
            raise Skip(f"the {account.plan} plan has no same-day alerts")
        record = session.get(ChangeRecord, delivery.change_id)
        if record is None:
            raise Skip("the change record is gone")
        event = change_event(session, record, settings)
        watches = _watch_labels(session, list(delivery.payload.get("watches", [])))
    email_account(settings, account, delivery, *render_alert(settings, account, event, watches))
    return None


def email_account(
    settings: Settings, account: Account, delivery: Delivery, subject: str, text: str, body: str
) -> None:
    """Send one alert or digest email to `account`: its Message-ID from the delivery's
    idempotency key (a resend is recognisable), a one-click unsubscribe, the SMTP timeout."""
    from clausewatch.mail import build_email, send_email

    message = build_email(
        settings,
        account.email,
        subject,
        text,
        body,
        message_id=message_id(delivery.idempotency_key, settings),
        unsubscribe_url=unsubscribe_url(settings, account),
    )
    send_email(settings, message, timeout=SMTP_TIMEOUT)


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature: ``v1,<base64 HMAC-SHA256(id.timestamp.body)>`` keyed
    with the base64-decoded secret after ``whsec_``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def webhook_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def send_webhook(archive: Archive, settings: Settings, delivery: Delivery) -> int | None:
    import httpx2

    with archive.sessions() as session:
        _account(session, delivery)
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None or endpoint.disabled_at is not None:
        raise Skip("the webhook endpoint was removed")
    try:  # again at send time: the host's addresses may have changed (DNS rebinding)
        check_url(endpoint.url, allow_private=settings.allow_private_urls)
    except WatchError as exc:
        raise DeliveryFailed(f"refused: {exc}") from None
    body = webhook_body(delivery.payload)
    msg_id = webhook_id(delivery.idempotency_key)
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": settings.user_agent,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_webhook(endpoint.secret, msg_id, timestamp, body),
    }
    deadline = settings.webhook_deadline_seconds
    try:
        status = _post_within(endpoint.url, body, headers, deadline)
    except TimeoutError:
        raise DeliveryFailed(
            f"deadline: the receiver did not answer within {deadline:g} s (whole send)"
        ) from None
    except httpx2.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from None
    if 200 <= status < 300:
        return status
    why = "redirects are not followed" if 300 <= status < 400 else "not 2xx"
    raise DeliveryFailed(f"HTTP {status} ({why})", status)


def _post_within(url: str, body: bytes, headers: dict[str, str], deadline: float) -> int:
    """POST and read the whole answer within ``deadline`` seconds (connect, send, headers and
    body together; httpx's timeouts are per operation, so a receiver dripping a byte a second
    would never trip them); the status code, or TimeoutError. The body read is bounded too."""
    import anyio
    import httpx2

    timeout = min(WEBHOOK_TIMEOUT, deadline)

    async def post() -> int:
        with anyio.fail_after(deadline):
            async with (
                httpx2.AsyncClient(timeout=timeout, follow_redirects=False) as client,
                client.stream("POST", url, content=body, headers=headers) as response,
            ):
                read = 0
                async for chunk in response.aiter_raw():
                    read += len(chunk)
                    if read > WEBHOOK_MAX_ANSWER:
                        break  # the answer is not used: stop reading, keep the status
                return response.status_code

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return anyio.run(post)
    # called on an event loop's thread: run the send on a thread of its own
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, post).result()


def _send_digest(archive: Archive, settings: Settings, delivery: Delivery) -> int | None:
    from clausewatch.alerts.digest import send_digest

    return send_digest(archive, settings, delivery)


# -- the log ------------------------------------------------------------------------------


def delivery_log(archive: Archive, account_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """The account's latest deliveries, newest first (the delivery log of the watch pages)."""
    with archive.sessions() as session:
        rows = list(
            session.scalars(
                select(Delivery)
                .where(Delivery.account_id == account_id)
                .order_by(Delivery.id.desc())
                .limit(limit)
            )
        )
    return [
        {
            "id": row.id,
            "key": row.idempotency_key,
            "channel": row.channel,
            "change": format_id("C", row.change_id) if row.change_id else None,
            "status": row.status,
            "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at.isoformat(),
            "last_error": row.last_error,
            "response_status": row.response_status,
            "created_at": row.created_at.isoformat(),
            "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        }
        for row in rows
    ]
