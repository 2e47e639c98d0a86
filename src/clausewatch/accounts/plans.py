"""Plans as configuration (no payments): what each plan may watch and how it is alerted."""

from __future__ import annotations

from dataclasses import dataclass

WATCH_KINDS = ("platform", "document", "clause_type", "provision")


@dataclass(frozen=True)
class Plan:
    name: str
    max_platforms: int  # distinct platforms across platform, document and provision watches
    same_day_alerts: bool  # an email per substantive change, the day it is recorded
    weekly_digest: bool
    watch_kinds: tuple[str, ...]
    webhooks: bool
    feeds: bool = True
    max_webhook_endpoints: int = 0  # active (not removed) webhook URLs per account


PLANS: dict[str, Plan] = {
    "free": Plan(
        name="free",
        max_platforms=1,
        same_day_alerts=False,
        weekly_digest=True,
        watch_kinds=("platform", "document"),
        webhooks=False,
    ),
    "pro": Plan(
        name="pro",
        max_platforms=25,
        same_day_alerts=True,
        weekly_digest=True,
        watch_kinds=WATCH_KINDS,
        webhooks=True,
        max_webhook_endpoints=5,
    ),
}


def plan_for(name: str) -> Plan:
    try:
        return PLANS[name]
    except KeyError:
        raise ValueError(f"unknown plan {name!r}: one of {', '.join(PLANS)}") from None
