"""Watches and webhook endpoints, with the account's plan enforced where they are added.

Targets are validated against the archive: a platform slug, a document (``D-00001``), a clause
type of the taxonomy, or a provision (``P-000001``). Plan limits (accounts/plans.py) are checked
with messages that say what the plan allows and how to get more.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clausewatch.accounts.plans import WATCH_KINDS, Plan, plan_for
from clausewatch.archive.service import Archive
from clausewatch.ids import format_id, parse_id
from clausewatch.storage.db import transaction, utcnow
from clausewatch.storage.models import (
    Account,
    Document,
    Platform,
    Provision,
    Watch,
    WebhookEndpoint,
)

SEVERITIES = ("Low", "Medium", "High")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
# email: a same-day alert per change (plans with same_day_alerts); digest: the weekly digest;
# webhook: every active endpoint of the account; feed: listed in the public feeds only.
CHANNELS = ("email", "digest", "webhook", "feed")
KIND_LABELS = {
    "platform": "platform",
    "document": "document",
    "clause_type": "clause-type",
    "provision": "provision-level",
}


class WatchError(ValueError):
    """A watch or endpoint that cannot be added: bad target, severity, channel or URL."""

    status = 422


class PlanLimitError(WatchError):
    """Allowed in general but not on the account's plan (the message says how to upgrade)."""

    status = 403


def account_ref(account_id: int) -> str:
    return f"A-{account_id}"


def endpoint_ref(endpoint_id: int) -> str:
    return f"W-{endpoint_id}"


def default_channels(plan: Plan) -> list[str]:
    return ["email", "digest"] if plan.same_day_alerts else ["digest"]


# -- targets ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    kind: str
    value: str  # canonical: slug, D-00001, type id, P-000001
    label: str  # for people: "LinkedIn", "LinkedIn Privacy Policy", "Arbitration", ...
    platform_id: int | None  # None for clause types (across platforms)


def resolve_target(session: Session, kind: str, target: str) -> Target:
    """The canonical form of a watch target; WatchError when it does not exist."""
    target = (target or "").strip()
    if kind == "platform":
        platform = session.scalar(select(Platform).where(Platform.slug == target.lower()))
        if platform is None:
            raise WatchError(f"no platform {target!r} in the archive (use its slug, e.g. linkedin)")
        return Target(kind, platform.slug, platform.name, platform.id)
    if kind == "document":
        number = _number(target, "D")
        document = session.get(Document, number)
        if document is None:
            raise WatchError(f"no document {format_id('D', number)} in the archive")
        label = f"{document.platform.name} {document.doc_type}"
        return Target(kind, document.public_id, label, document.platform_id)
    if kind == "clause_type":
        from clausewatch.classify.taxonomy import default_taxonomy

        ctype = default_taxonomy().by_id.get(target)
        if ctype is None:
            raise WatchError(f"no clause type {target!r} in the taxonomy (see /clause-types)")
        return Target(kind, ctype.id, ctype.name, None)
    if kind == "provision":
        number = _number(target, "P")
        provision = session.get(Provision, number)
        if provision is None:
            raise WatchError(f"no provision {format_id('P', number)} in the archive")
        document = session.get(Document, provision.document_id)
        assert document is not None
        label = f"{document.platform.name} {document.doc_type}: {provision.title}"
        return Target(kind, provision.public_id, label, document.platform_id)
    raise WatchError(f"unknown watch kind {kind!r}: one of {', '.join(WATCH_KINDS)}")


def _number(public_id: str, prefix: str) -> int:
    try:
        return parse_id(public_id, prefix)
    except ValueError as exc:
        raise WatchError(str(exc)) from None


def watched_platforms(session: Session, watches: Sequence[Watch]) -> dict[int, str]:
    """Platform id → name of the platforms that count against the plan: those of platform,
    document and provision watches (clause types are across platforms and do not count)."""
    out: dict[int, str] = {}
    for watch in watches:
        if watch.target_kind == "clause_type":
            continue
        try:
            target = resolve_target(session, watch.target_kind, watch.target)
        except WatchError:
            continue  # its target is gone: it no longer counts
        if target.platform_id is not None:
            platform = session.get(Platform, target.platform_id)
            out[target.platform_id] = platform.name if platform else target.value
    return out


def _names(names: Sequence[str]) -> str:
    names = sorted(names)
    if len(names) <= 3:
        return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    return f"{', '.join(names[:3])} and {len(names) - 3} more"


def _check_plan(
    session: Session, account: Account, target: Target, channels: Sequence[str]
) -> None:
    plan = plan_for(account.plan)
    if target.kind not in plan.watch_kinds:
        allowed = " and ".join(f"{KIND_LABELS[k]}s" for k in plan.watch_kinds)
        raise PlanLimitError(
            f"{KIND_LABELS[target.kind].capitalize()} watches are not part of the {plan.name} "
            f"plan, which watches {allowed}. Upgrade to Pro to watch clause types and single "
            "provisions."
        )
    if "email" in channels and not plan.same_day_alerts:
        raise PlanLimitError(
            f"Same-day alert emails are not part of the {plan.name} plan, which sends a weekly "
            "digest (channel 'digest'). Upgrade to Pro for same-day alerts."
        )
    if "webhook" in channels and not plan.webhooks:
        raise PlanLimitError(
            f"Webhooks are not part of the {plan.name} plan. Upgrade to Pro to receive signed "
            "webhooks."
        )
    if target.platform_id is None:
        return
    existing = list(session.scalars(select(Watch).where(Watch.account_id == account.id)))
    platforms = watched_platforms(session, existing)
    if target.platform_id in platforms or len(platforms) < plan.max_platforms:
        return
    count = plan.max_platforms
    limit = f"{count} platform" if count == 1 else f"up to {count} platforms"
    upgrade = (
        " Upgrade to Pro to watch up to 25."
        if plan.name != "pro"
        else " Remove a platform's watches to watch another."
    )
    raise PlanLimitError(
        f"The {plan.name} plan watches {limit}; you already watch "
        f"{_names(list(platforms.values()))}.{upgrade}"
    )


# -- watches ------------------------------------------------------------------------------


def add_watch(
    archive: Archive,
    account: Account,
    target_kind: str,
    target: str,
    min_severity: str = "Low",
    channels: Sequence[str] | None = None,
    *,
    now: dt.datetime | None = None,
) -> Watch:
    """Add (or, for a target already watched, update) a watch. Alerts cover change records
    recorded from `now` on; the weekly digest covers the whole week.

    Raises WatchError (bad input) or PlanLimitError (not on this plan)."""
    severity = (min_severity or "Low").strip().capitalize()
    if severity not in SEVERITY_RANK:
        raise WatchError(f"unknown severity {min_severity!r}: one of {', '.join(SEVERITIES)}")
    plan = plan_for(account.plan)
    wanted = list(dict.fromkeys(channels)) if channels else default_channels(plan)
    unknown = [c for c in wanted if c not in CHANNELS]
    if unknown:
        raise WatchError(f"unknown channel {unknown[0]!r}: one of {', '.join(CHANNELS)}")
    with transaction(archive.sessions) as session:
        resolved = resolve_target(session, target_kind, target)
        _check_plan(session, account, resolved, wanted)
        watch = session.scalar(
            select(Watch).where(
                Watch.account_id == account.id,
                Watch.target_kind == resolved.kind,
                Watch.target == resolved.value,
            )
        )
        if watch is None:
            watch = Watch(
                account_id=account.id,
                target_kind=resolved.kind,
                target=resolved.value,
                created_at=now or utcnow(),
            )
            session.add(watch)
        watch.min_severity = severity
        watch.channels = wanted
        session.flush()
        return watch


def remove_watch(archive: Archive, account: Account, watch_id: int) -> bool:
    """Remove one of the account's watches; False when it has no such watch."""
    with transaction(archive.sessions) as session:
        watch = session.get(Watch, watch_id)
        if watch is None or watch.account_id != account.id:
            return False
        session.delete(watch)
        return True


def watches_of(archive: Archive, account: Account) -> list[Watch]:
    with archive.sessions() as session:
        return list(
            session.scalars(select(Watch).where(Watch.account_id == account.id).order_by(Watch.id))
        )


def describe_watch(archive: Archive, watch: Watch) -> dict[str, object]:
    """A watch as the API and pages show it."""
    with archive.sessions() as session:
        try:
            label = resolve_target(session, watch.target_kind, watch.target).label
        except WatchError:
            label = f"{watch.target} (no longer in the archive)"
    return {
        "id": watch.id,
        "kind": watch.target_kind,
        "target": watch.target,
        "label": label,
        "min_severity": watch.min_severity,
        "channels": list(watch.channels),
        "created_at": watch.created_at.isoformat(),
    }


# -- webhook endpoints and the SSRF guard -------------------------------------------------

Resolver = Callable[[str, int], list[str]]


def _getaddrinfo(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215 local-use: never public
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address reaches through a translation or tunnel:
    IPv4-mapped and -compatible, 6to4 (2002::/16), Teredo (2001::/32: the client is the
    bitwise NOT of the last 32 bits; its server too) and NAT64 (64:ff9b::/96, 64:ff9b:1::/48)."""
    found: list[ipaddress.IPv4Address] = []
    last32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in _IPV4_COMPATIBLE or ip in _NAT64 or ip in _NAT64_LOCAL:
        found.append(last32)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded:
            return all(_public(str(v4)) for v4 in embedded)
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def check_url(url: str, *, allow_private: bool, resolver: Resolver | None = None) -> str:
    """Refuse a user-supplied URL unless it is http(s) and *every* address its host resolves to
    is public (not private, loopback, link-local, multicast, reserved or unspecified).
    `allow_private` (settings.allow_private_urls) skips the address check. Returns the URL.
    Called when the URL is added and again before every request (DNS may have changed)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WatchError(f"{url!r} is not an http:// or https:// URL")
    if parts.username or parts.password:
        raise WatchError("webhook URLs may not contain a user name or password")
    if allow_private:
        return url.strip()
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise WatchError(f"{url!r} has an invalid port") from None
    try:
        addresses = (resolver or _getaddrinfo)(host, port)
    except (OSError, UnicodeError) as exc:
        raise WatchError(f"cannot resolve {host!r}: {exc}") from None
    if not addresses:
        raise WatchError(f"cannot resolve {host!r}")
    for address in addresses:
        if not _public(address):
            raise WatchError(
                f"{host} resolves to {address}, a private, loopback, link-local, multicast or "
                "reserved address: webhooks must go to a public address"
            )
    return url.strip()


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def add_webhook_endpoint(
    archive: Archive, account: Account, url: str, *, resolver: Resolver | None = None
) -> WebhookEndpoint:
    """Register a webhook URL (Pro); its secret is returned on the row (show it to the user)."""
    plan = plan_for(account.plan)
    if not plan.webhooks:
        raise PlanLimitError(
            f"Webhooks are not part of the {plan.name} plan. Upgrade to Pro to receive signed "
            "webhooks."
        )
    checked = check_url(url, allow_private=archive.settings.allow_private_urls, resolver=resolver)
    with transaction(archive.sessions) as session:
        active = session.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.account_id == account.id, WebhookEndpoint.disabled_at.is_(None))
        )
        if (active or 0) >= plan.max_webhook_endpoints:
            raise PlanLimitError(
                f"The {plan.name} plan allows at most {plan.max_webhook_endpoints} webhook "
                f"endpoints per account; you have {active}. Remove one to add another."
            )
        endpoint = WebhookEndpoint(account_id=account.id, url=checked, secret=new_secret())
        session.add(endpoint)
        session.flush()
        return endpoint


def remove_webhook_endpoint(archive: Archive, account: Account, endpoint_id: int) -> bool:
    """Disable an endpoint (kept for the delivery log); False when the account has no such."""
    with transaction(archive.sessions) as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or endpoint.account_id != account.id or endpoint.disabled_at:
            return False
        endpoint.disabled_at = utcnow()
        return True


def webhook_endpoints_of(archive: Archive, account: Account) -> list[WebhookEndpoint]:
    with archive.sessions() as session:
        return list(
            session.scalars(
                select(WebhookEndpoint)
                .where(
                    WebhookEndpoint.account_id == account.id,
                    WebhookEndpoint.disabled_at.is_(None),
                )
                .order_by(WebhookEndpoint.id)
            )
        )
