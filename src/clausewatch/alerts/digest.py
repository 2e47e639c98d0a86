"""The weekly digest: per account, the substantive changes of the past week that match its
watches with the ``digest`` channel, grouped by severity (HTML + plain text).

- When: at `settings.digest_at` (``monday 07:00`` UTC by default); it covers the seven days
  before that moment, so consecutive digests neither overlap nor leave gaps. The scheduler's
  tick plans it (a clock-driven job, docs/jobs.md); a scheduler that was down at the time plans
  it when it is back (the latest digest only: no backlog of old weeks).
- Idempotency key ``digest:A-<account>:<ISO week of the period's start>``; the delivery goes
  through the same claim / lease / retry path as alerts (dispatch.py).
- **Nothing is sent for a week with nothing to report**: the delivery is recorded as
  ``skipped`` ("nothing to report") so the log shows the digest was considered, and the tick
  does not recompute it every minute.
- Accounts qualify while not disabled, with email alerts on (not unsubscribed) and a plan with
  `weekly_digest`.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from sqlalchemy import select

from clausewatch.accounts.plans import plan_for
from clausewatch.alerts.dispatch import (
    PENDING,
    SKIPPED,
    Skip,
    _account,
    change_event,
    email_account,
    insert_delivery,
    unsubscribe_url,
)
from clausewatch.alerts.matching import change_targets, severity_reaches, substantive_changes
from clausewatch.alerts.matching import target_matches as _target_matches
from clausewatch.alerts.watchlist import SEVERITIES, account_ref
from clausewatch.archive.service import Archive
from clausewatch.changes.summary import summary_line
from clausewatch.config import Settings
from clausewatch.ids import parse_id
from clausewatch.schedules import parse_digest_at
from clausewatch.storage.db import transaction, utcnow
from clausewatch.storage.models import Account, ChangeRecord, Delivery, Watch

DISPATCH_THROTTLE = 120  # seconds: jobs.scheduler enqueues a dispatch of due deliveries this often


def digest_period(settings: Settings, now: dt.datetime) -> tuple[str, dt.datetime, dt.datetime]:
    """The latest digest due at or before `now`: (ISO week label, start, end)."""
    day, at = parse_digest_at(settings.digest_at)
    monday = (now - dt.timedelta(days=now.weekday())).date()
    moment = dt.datetime.combine(monday + dt.timedelta(days=day), at, tzinfo=dt.UTC)
    if moment > now:
        moment -= dt.timedelta(days=7)
    start = moment - dt.timedelta(days=7)
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}", start, moment


def digest_key(account_id: int, week: str) -> str:
    return f"digest:{account_ref(account_id)}:{week}"


def _digest_watches(watches: list[Watch]) -> dict[int, list[Watch]]:
    out: dict[int, list[Watch]] = {}
    for watch in watches:
        if "digest" in (watch.channels or []):
            out.setdefault(watch.account_id, []).append(watch)
    return out


def plan_digests(archive: Archive, settings: Settings, now: dt.datetime | None = None) -> int:
    """Record the latest digest of every qualifying account that has none yet; how many will
    be sent (the others were recorded as skipped: nothing to report)."""
    now = now or utcnow()
    week, start, end = digest_period(settings, now)
    planned = 0
    with transaction(archive.sessions) as session:
        by_account = _digest_watches(list(session.scalars(select(Watch))))
        if not by_account:
            return 0
        keys = {a: digest_key(a, week) for a in by_account}
        done = set(
            session.scalars(
                select(Delivery.idempotency_key).where(
                    Delivery.idempotency_key.in_(list(keys.values()))
                )
            )
        )
        todo = [a for a in by_account if keys[a] not in done]
        if not todo:
            return 0
        accounts = {
            a.id: a
            for a in session.scalars(select(Account).where(Account.id.in_(todo)))
            if a.disabled_at is None and a.email_alerts and plan_for(a.plan).weekly_digest
        }
        if not accounts:
            return 0
        records = substantive_changes(session, since=start, until=end)
        targets = {r.id: change_targets(session, r) for r in records}
        for account_id in accounts:
            changes = [
                r.public_id
                for r in records
                if any(
                    severity_reaches(r, w.min_severity) and _target_matches(w, targets[r.id])
                    for w in by_account[account_id]
                )
            ]
            inserted = insert_delivery(
                session,
                now,
                idempotency_key=keys[account_id],
                account_id=account_id,
                channel="digest",
                status=PENDING if changes else SKIPPED,
                last_error=None if changes else "nothing to report",
                payload={
                    "week": week,
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "changes": changes,
                },
            )
            planned += bool(inserted and changes)
    return planned


def render_digest(
    settings: Settings, account: Account, payload: dict[str, Any], events: list[dict[str, Any]]
) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a digest."""
    groups = {s: [e["data"] for e in events if e["data"]["severity"] == s] for s in SEVERITIES}
    order = [s for s in reversed(SEVERITIES) if groups[s]]
    counts = ", ".join(f"{len(groups[s])} {s}" for s in order)
    n = len(events)
    subject = (
        f"clausewatch weekly digest {payload['week']}: {n} change{'s' if n != 1 else ''} ({counts})"
    )
    start, end = payload["start"][:10], payload["end"][:16].replace("T", " ")
    unsubscribe = unsubscribe_url(settings, account)
    lines = [f"Substantive changes to what you watch, {start} to {end} UTC.", ""]
    e = html.escape
    parts = [
        f"<html><body><h1>Your weekly digest, {e(payload['week'])}</h1>"
        f"<p>Substantive changes to what you watch, {e(start)} to {e(end)} UTC.</p>"
    ]
    for severity in order:
        lines.append(f"{severity} ({len(groups[severity])})")
        parts.append(f"<h2>{e(severity)} ({len(groups[severity])})</h2><ul>")
        for d in groups[severity]:
            direction = f" — {d['direction']}" if d["direction"] else ""
            summary = summary_line(d["summary"])  # the reader text, on one line
            lines.append(
                f"- {d['platform_name']} {d['document_type']}{direction}: {summary} "
                f"({d['id']}, {d['recorded_at'][:10]}) {d['url']}"
            )
            parts.append(
                f'<li><a href="{e(d["url"])}">{e(d["platform_name"])} '
                f"{e(d['document_type'])}</a>{e(direction)}: {e(summary)} "
                f"({e(d['id'])}, {e(d['recorded_at'][:10])})</li>"
            )
        lines.append("")
        parts.append("</ul>")
    lines.append(f"Stop digest and alert emails (one click): {unsubscribe}")
    parts.append(f'<hr><p><a href="{e(unsubscribe)}">Stop digest and alert emails</a></p>')
    parts.append("</body></html>")
    return subject, "\n".join(lines) + "\n", "".join(parts)


def send_digest(archive: Archive, settings: Settings, delivery: Delivery) -> int | None:
    with archive.sessions() as session:
        account = _account(session, delivery)
        if not account.email_alerts:
            raise Skip("email alerts are turned off (unsubscribed)")
        ids = [parse_id(c, "C") for c in delivery.payload.get("changes", [])]
        records = list(
            session.scalars(
                select(ChangeRecord)
                .where(ChangeRecord.id.in_(ids), ChangeRecord.status == "substantive")
                .order_by(ChangeRecord.recorded_at, ChangeRecord.id)
            )
        )
        events = [change_event(session, r, settings) for r in records]
    if not events:
        raise Skip("nothing to report")
    email_account(
        settings, account, delivery, *render_digest(settings, account, delivery.payload, events)
    )
    return None
