"""Watches, webhooks, the delivery log, one-click unsubscribe and the Atom feeds.

- ``/feeds/changes.atom``, ``/feeds/platforms/{slug}.atom``, ``/feeds/documents/{D}.atom``,
  ``/feeds/clause-types/{type}.atom``: public.
- ``GET /unsubscribe/{token}``: a confirmation page; ``POST`` turns email alerts and digests off
  (RFC 8058 one-click: mail clients POST ``List-Unsubscribe=One-Click`` without cookies, so the
  token in the URL is the credential and there is no CSRF token).
- ``/account/watches`` (pages, logged in, CSRF-checked forms) and ``/api/v1/watches``,
  ``/api/v1/webhooks``, ``/api/v1/deliveries`` (API key or session + X-CSRF-Token).
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from clausewatch.accounts.plans import WATCH_KINDS, plan_for
from clausewatch.alerts import watchlist
from clausewatch.alerts.dispatch import delivery_log
from clausewatch.alerts.feeds import build_feed, scope_for
from clausewatch.alerts.watchlist import CHANNELS, SEVERITIES, WatchError
from clausewatch.archive.service import Archive
from clausewatch.storage.db import transaction
from clausewatch.storage.models import Account
from clausewatch.web.accounts import RequiredAccount, VerifiedForm, csrf_protect, render
from clausewatch.web.api import ApiError
from clausewatch.web.deps import ArchiveDep, RowId, Severity

ATOM = "application/atom+xml; charset=utf-8"

feeds = APIRouter(include_in_schema=False)
pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
api = APIRouter(
    tags=["watches"],
    responses={
        400: {"model": ApiError, "description": "The body is not valid JSON"},
        401: {"model": ApiError, "description": "No, or no valid, API key or session"},
        403: {"model": ApiError, "description": "Not allowed by the plan, or form check failed"},
        404: {"model": ApiError, "description": "No such watch or endpoint"},
        422: {"model": ApiError, "description": "Invalid watch, target or URL"},
    },
)


# -- feeds --------------------------------------------------------------------------------


def _feed(archive: Archive, kind: str, value: str = "") -> Response:
    try:
        scope = scope_for(archive, kind, value)
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from exc
    return Response(
        build_feed(archive, scope),
        media_type=ATOM,
        headers={"Cache-Control": "public, max-age=300"},
    )


@feeds.get("/feeds/changes.atom", name="feed_changes")
def feed_changes(archive: ArchiveDep) -> Response:
    return _feed(archive, "all")


@feeds.get("/feeds/platforms/{slug}.atom", name="feed_platform")
def feed_platform(slug: str, archive: ArchiveDep) -> Response:
    return _feed(archive, "platform", slug)


@feeds.get("/feeds/documents/{document_id}.atom", name="feed_document")
def feed_document(document_id: str, archive: ArchiveDep) -> Response:
    return _feed(archive, "document", document_id)


@feeds.get("/feeds/clause-types/{type_id}.atom", name="feed_clause_type")
def feed_clause_type(type_id: str, archive: ArchiveDep) -> Response:
    return _feed(archive, "clause_type", type_id)


# -- unsubscribe --------------------------------------------------------------------------


def _by_token(archive: Archive, token: str) -> Account | None:
    if not token or len(token) > 64:
        return None
    with archive.sessions() as session:
        return session.scalar(select(Account).where(Account.unsubscribe_token == token))


def unsubscribe(archive: Archive, token: str) -> Account | None:
    """Turn email alerts and digests off for the account of `token` and rotate the token; the
    account, or None for an unknown (or already used) token."""
    with transaction(archive.sessions) as session:
        account = session.scalar(select(Account).where(Account.unsubscribe_token == token))
        if account is None:
            return None
        account.email_alerts = False
        account.unsubscribe_token = secrets.token_urlsafe(32)
        return account


@pages.get("/unsubscribe/{token}", name="unsubscribe_page")
def unsubscribe_page(request: Request, token: str, archive: ArchiveDep) -> Response:
    account = _by_token(archive, token)
    return render(
        request,
        "alerts/unsubscribe.html",
        200 if account else 404,
        account=account,
        token=token,
        done=False,
    )


@pages.post("/unsubscribe/{token}", name="unsubscribe")
def unsubscribe_post(request: Request, token: str, archive: ArchiveDep) -> Response:
    account = unsubscribe(archive, token)
    return render(
        request,
        "alerts/unsubscribe.html",
        200 if account else 404,
        account=account,
        token=token,
        done=account is not None,
    )


# -- pages --------------------------------------------------------------------------------


def _archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


def _page(request: Request, account: Account, status: int = 200, **context: Any) -> Response:
    archive = _archive(request)
    plan = plan_for(account.plan)
    return render(
        request,
        "alerts/watches.html",
        status,
        account=account,
        plan=plan,
        watches=[
            watchlist.describe_watch(archive, w) for w in watchlist.watches_of(archive, account)
        ],
        endpoints=watchlist.webhook_endpoints_of(archive, account),
        deliveries=delivery_log(archive, account.id, 50),
        kinds=WATCH_KINDS,
        severities=SEVERITIES,
        channels=CHANNELS,
        default_channels=watchlist.default_channels(plan),
        **context,
    )


@pages.get("/account/watches", name="watches_page")
def watches_page(request: Request, account: RequiredAccount) -> Response:
    return _page(request, account)


def _form_channels(form: dict[str, str]) -> list[str]:
    # one checkbox per channel (channel_email=1 …): the form reader keeps one value per name
    return [c for c in CHANNELS if form.get(f"channel_{c}")]


@pages.post("/account/watches", name="add_watch")
def add_watch_form(request: Request, account: RequiredAccount, form: VerifiedForm) -> Response:
    try:
        watch = watchlist.add_watch(
            _archive(request),
            account,
            form.get("kind", ""),
            form.get("target", ""),
            form.get("min_severity") or "Low",
            _form_channels(form) or None,
        )
    except WatchError as exc:
        return _page(request, account, exc.status, error=str(exc))
    return _page(request, account, 201, notice=f"Now watching {watch.target}.")


@pages.post("/account/watches/{watch_id}/remove", name="remove_watch")
def remove_watch_form(
    request: Request, watch_id: RowId, account: RequiredAccount, form: VerifiedForm
) -> Response:
    if not watchlist.remove_watch(_archive(request), account, watch_id):
        return _page(request, account, 404, error="No such watch.")
    return _page(request, account, notice="Watch removed.")


@pages.post("/account/webhooks", name="add_webhook")
def add_webhook_form(request: Request, account: RequiredAccount, form: VerifiedForm) -> Response:
    try:
        endpoint = watchlist.add_webhook_endpoint(_archive(request), account, form.get("url", ""))
    except WatchError as exc:
        return _page(request, account, exc.status, error=str(exc))
    return _page(request, account, 201, new_secret=endpoint.secret, new_url=endpoint.url)


@pages.post("/account/webhooks/{endpoint_id}/remove", name="remove_webhook")
def remove_webhook_form(
    request: Request, endpoint_id: RowId, account: RequiredAccount, form: VerifiedForm
) -> Response:
    if not watchlist.remove_webhook_endpoint(_archive(request), account, endpoint_id):
        return _page(request, account, 404, error="No such webhook endpoint.")
    return _page(request, account, notice="Webhook endpoint removed.")


# -- API ----------------------------------------------------------------------------------


# the values the service accepts, declared in the schema (clients and schemathesis see enums)
WatchKind = Literal["platform", "document", "clause_type", "provision"]
Channel = Literal["email", "digest", "webhook", "feed"]
assert get_args(WatchKind) == WATCH_KINDS and get_args(Channel) == CHANNELS
assert set(get_args(Severity)) == set(SEVERITIES)


class WatchIn(BaseModel):
    kind: WatchKind = Field(description="What is watched")
    target: str = Field(
        min_length=1,
        max_length=200,
        description="The platform slug, document ID (D-…), clause type id or provision ID (P-…)",
    )
    min_severity: Severity = Field("Low", description="Alert on changes of this severity or more")
    channels: list[Channel] | None = Field(
        None, max_length=len(CHANNELS), description="Where alerts go; default: the plan's"
    )


class WebhookIn(BaseModel):
    url: str = Field(
        min_length=1, max_length=2_000, description="An http:// or https:// URL on a public address"
    )


Protected = Annotated[None, Depends(csrf_protect)]


def _raise(exc: WatchError) -> HTTPException:
    return HTTPException(exc.status, str(exc))


@api.get("/watches", summary="Your watches")
def api_watches(request: Request, account: RequiredAccount) -> dict[str, Any]:
    archive = _archive(request)
    items = [watchlist.describe_watch(archive, w) for w in watchlist.watches_of(archive, account)]
    return {"total": len(items), "items": items}


def _link(path: str, method: str, parameter: str) -> dict[str, Any]:
    """An OpenAPI link from a 201's `id` to the operation that takes it (for clients and the
    stateful schema tests: create, then remove)."""
    ref = "#/paths/" + f"/api/v1{path}".replace("/", "~1") + f"/{method}"
    return {"operationRef": ref, "parameters": {parameter: "$response.body#/id"}}


_WATCH_LINKS = {"RemoveWatch": _link("/watches/{watch_id}", "delete", "watch_id")}
_WEBHOOK_LINKS = {"RemoveWebhook": _link("/webhooks/{endpoint_id}", "delete", "endpoint_id")}


@api.post(
    "/watches",
    status_code=201,
    summary="Watch something",
    responses={201: {"description": "The new watch", "links": _WATCH_LINKS}},
)
def api_add_watch(
    request: Request, body: WatchIn, account: RequiredAccount, _csrf: Protected
) -> dict[str, Any]:
    archive = _archive(request)
    try:
        watch = watchlist.add_watch(
            archive, account, body.kind, body.target, body.min_severity, body.channels
        )
    except WatchError as exc:
        raise _raise(exc) from exc
    return watchlist.describe_watch(archive, watch)


@api.delete("/watches/{watch_id}", status_code=204, summary="Stop watching")
def api_remove_watch(
    request: Request, watch_id: RowId, account: RequiredAccount, _csrf: Protected
) -> Response:
    if not watchlist.remove_watch(_archive(request), account, watch_id):
        raise HTTPException(404, f"no watch {watch_id}")
    return Response(status_code=204)


@api.get("/webhooks", summary="Your webhook endpoints (secrets are not shown again)")
def api_webhooks(request: Request, account: RequiredAccount) -> dict[str, Any]:
    rows = watchlist.webhook_endpoints_of(_archive(request), account)
    items = [{"id": e.id, "url": e.url, "created_at": e.created_at.isoformat()} for e in rows]
    return {"total": len(items), "items": items}


@api.post(
    "/webhooks",
    status_code=201,
    summary="Add a webhook endpoint (returns its secret once)",
    responses={201: {"description": "The new endpoint", "links": _WEBHOOK_LINKS}},
)
def api_add_webhook(
    request: Request, body: WebhookIn, account: RequiredAccount, _csrf: Protected
) -> dict[str, Any]:
    try:
        endpoint = watchlist.add_webhook_endpoint(_archive(request), account, body.url)
    except WatchError as exc:
        raise _raise(exc) from exc
    return {"id": endpoint.id, "url": endpoint.url, "secret": endpoint.secret}


@api.delete("/webhooks/{endpoint_id}", status_code=204, summary="Remove a webhook endpoint")
def api_remove_webhook(
    request: Request, endpoint_id: RowId, account: RequiredAccount, _csrf: Protected
) -> Response:
    if not watchlist.remove_webhook_endpoint(_archive(request), account, endpoint_id):
        raise HTTPException(404, f"no webhook endpoint {endpoint_id}")
    return Response(status_code=204)


@api.get("/deliveries", summary="Your delivery log (emails, webhooks, digests)")
def api_deliveries(request: Request, account: RequiredAccount) -> dict[str, Any]:
    items = delivery_log(_archive(request), account.id)
    return {"total": len(items), "items": items}


def install(app: Any) -> None:
    from clausewatch.web.app import API_PREFIX

    app.include_router(feeds)
    app.include_router(pages)
    app.include_router(api, prefix=API_PREFIX)
