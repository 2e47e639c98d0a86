"""Accounts on the web: sign-up, login, logout, password reset, the account page (sessions, API
keys, plan) and `/api/v1/me`; plus what other routes use to know who is asking.

For other routes (watchlists, feeds, webhooks):

- ``current_account`` / ``require_account`` (dependencies, or ``CurrentAccount`` /
  ``RequiredAccount`` annotations): the account from the ``cw_session`` cookie, or from an API
  key in ``Authorization: Bearer cw_…`` or ``X-API-Key``. ``require_account`` answers 401 JSON
  under /api and redirects pages to /login.
- ``verified_form`` (dependency): the POSTed form as a dict, after the CSRF check. Forms of
  logged-in pages carry ``{{ csrf_field() }}`` (a Jinja global); JSON requests authenticated by
  the cookie send the token in ``X-CSRF-Token`` (``csrf_protect`` checks it). Requests
  authenticated by an API key need no token (a header is no ambient credential).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import parse_qsl, quote

from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.security import APIKeyHeader, HTTPBearer
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup, escape
from pydantic import BaseModel

from clausewatch.accounts import service
from clausewatch.accounts.plans import PLANS, Plan, plan_for
from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.mail import send_email
from clausewatch.storage.models import Account, AuthSession
from clausewatch.web.api import ApiError
from clausewatch.web.deps import RowId

log = logging.getLogger(__name__)

SESSION_COOKIE = "cw_session"
ANON_CSRF_COOKIE = "cw_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
MAX_FORM_BYTES = 64 * 1024
SIGNUPS_PER_HOUR_PER_IP = 10
RESETS_PER_HOUR_PER_IP = 10
HOUR = dt.timedelta(hours=1)

pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
api = APIRouter(tags=["accounts"])


# -- who is asking -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Auth:
    account: Account
    via: str  # "session" or "api_key"
    session: AuthSession | None = None  # when via the session cookie


class AuthRequired(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CsrfFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _archive(request: Request) -> Archive:
    archive: Archive = request.app.state.archive
    return archive


def _presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


def authenticate_request(request: Request) -> Auth | None:
    """Who is asking (cached on the request). An API key that does not work is a 401, never a
    silent fall back to anonymous."""
    if hasattr(request.state, "auth"):
        cached: Auth | None = request.state.auth
        return cached
    archive = _archive(request)
    auth: Auth | None = None
    key = _presented_key(request)
    if key is not None:
        account = service.api_key_account(archive, key)
        if account is None:
            raise AuthRequired("invalid or revoked API key")
        auth = Auth(account, "api_key")
    else:
        found = service.session_lookup(archive, request.cookies.get(SESSION_COOKIE))
        if found is not None:
            auth = Auth(found.account, "session", found.session)
    request.state.auth = auth
    return auth


def current_account(request: Request) -> Account | None:
    """Dependency: the logged-in account, or None for anonymous visitors."""
    auth = authenticate_request(request)
    return auth.account if auth else None


def require_account(request: Request) -> Account:
    """Dependency: the account; 401 JSON under /api (and for API-key requests), a redirect to
    /login elsewhere."""
    account = current_account(request)
    if account is None:
        raise AuthRequired(
            "authentication required: send an API key (Authorization: Bearer cw_…) or log in"
        )
    return account


CurrentAccount = Annotated[Account | None, Depends(current_account)]
RequiredAccount = Annotated[Account, Depends(require_account)]


# -- CSRF --------------------------------------------------------------------------------------


def _secret(request: Request) -> bytes:
    cached = getattr(request.app.state, "csrf_secret", None)
    if cached is None:
        cached = load_secret(_archive(request).settings)
        request.app.state.csrf_secret = cached
    return bytes(cached)


def load_secret(settings: Settings) -> bytes:
    """`secret_key` from the settings, else a random key kept in <data_dir>/secret.key."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process wrote it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


def _sign(secret: bytes, value: str) -> str:
    mac = hmac.new(secret, b"anon-csrf:" + value.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def anonymous_csrf(request: Request) -> str:
    """The signed double-submit token of this browser's anonymous forms (the cookie is set on
    the response by `_with_cookies`)."""
    value = request.cookies.get(ANON_CSRF_COOKIE) or getattr(request.state, "new_anon_csrf", None)
    if not value or len(value) > 100:
        value = secrets.token_urlsafe(32)
        request.state.new_anon_csrf = value
    return _sign(_secret(request), value)


def _check_anonymous(request: Request, token: str | None) -> None:
    cookie = request.cookies.get(ANON_CSRF_COOKIE)
    if not cookie:
        raise CsrfFailed(
            "the form's security cookie is missing: allow cookies for this site, reload the page "
            "and send the form again"
        )
    if not token or not hmac.compare_digest(token, _sign(_secret(request), cookie)):
        raise CsrfFailed(
            "the form's security token is missing or wrong (an old page, or a form from another "
            "site): reload the page and send the form again"
        )


def _check_session(auth: Auth, token: str | None) -> None:
    if auth.via != "session" or auth.session is None:
        return  # API keys travel in headers: no ambient credential to forge
    if not token or not hmac.compare_digest(token, auth.session.csrf_token):
        raise CsrfFailed(
            "the form's security token is missing or wrong (an old page, or a form from another "
            "site): reload the page and send the form again"
        )


def check_csrf(request: Request, token: str | None) -> None:
    """The CSRF check of a state-changing request: the session's token when logged in by the
    cookie, nothing for API keys, the signed double-submit token for anonymous visitors."""
    auth = authenticate_request(request)
    if auth is None:
        _check_anonymous(request, token)
    else:
        _check_session(auth, token)


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body (the site's forms), first value per field."""
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise CsrfFailed("the form is too large")
    if kind not in ("application/x-www-form-urlencoded", ""):
        return {}
    form: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        form.setdefault(name, value)
    return form


async def verified_form(request: Request) -> dict[str, str]:
    """Dependency for POST forms: the fields, once the CSRF token (field `csrf_token` or header
    X-CSRF-Token) is right; otherwise 403."""
    form = await read_form(request)
    token = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    await run_in_threadpool(check_csrf, request, token)
    return form


def csrf_protect(request: Request) -> None:
    """Dependency for non-form requests (JSON) that change state: the X-CSRF-Token header."""
    check_csrf(request, request.headers.get(CSRF_HEADER))


async def anonymous_form(request: Request) -> dict[str, str]:
    """The forms of anonymous pages (sign-up, login, reset): always the double-submit token."""
    form = await read_form(request)
    token = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    _check_anonymous(request, token)
    return form


VerifiedForm = Annotated[dict[str, str], Depends(verified_form)]
AnonymousForm = Annotated[dict[str, str], Depends(anonymous_form)]


@pass_context
def csrf_field(context: Any) -> Markup:
    """`{{ csrf_field() }}` in a POST form: the hidden CSRF input for whoever is asking."""
    request: Request = context["request"]
    try:
        auth = authenticate_request(request)
    except AuthRequired:
        auth = None
    if auth is None or getattr(request.state, "anonymous_form", False):
        token = anonymous_csrf(request)
    else:
        token = auth.session.csrf_token if auth.session else ""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">')


@pass_context
def signed_in(context: Any) -> bool:
    """For the header links: is the visitor logged in?"""
    request = context.get("request")
    if not isinstance(request, Request):
        return False
    try:
        return authenticate_request(request) is not None
    except AuthRequired:
        return False


# -- responses ---------------------------------------------------------------------------------


def _secure(request: Request) -> bool:
    return _archive(request).settings.base_url.lower().startswith("https://")


def _with_cookies(request: Request, response: Response) -> Response:
    new = getattr(request.state, "new_anon_csrf", None)
    if new:
        response.set_cookie(
            ANON_CSRF_COOKIE,
            new,
            httponly=True,
            samesite="lax",
            secure=_secure(request),
            path="/",
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
    templates: Jinja2Templates = request.app.state.templates
    response = templates.TemplateResponse(request, template, context, status_code=status)
    return _with_cookies(request, response)


def render_anonymous(
    request: Request, template: str, status: int = 200, **context: Any
) -> Response:
    request.state.anonymous_form = True
    return render(request, template, status, **context)


def _set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=_archive(request).settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


def _in_networks(address: str, networks: list[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


def client_ip(request: Request) -> str:
    """The visitor's address: the peer's, unless the peer is one of `trusted_proxies`; then
    the right-most `X-Forwarded-For` entry that is not a trusted proxy (entries to its left
    were written by the client and prove nothing). The server runs without uvicorn's own
    proxy-header handling (`clausewatch serve`), so nothing else rewrites the peer."""
    peer = request.client.host if request.client else "unknown"
    trusted = _archive(request).settings.trusted_proxies
    if not trusted or not _in_networks(peer, trusted):
        return peer
    chain = [
        part.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for part in header.split(",")
        if part.strip()
    ]
    for address in reversed(chain):
        if not _in_networks(address, trusted):
            try:
                return str(ipaddress.ip_address(address.strip("[]")))
            except ValueError:
                return peer  # not an address: the proxy passed garbage through
    return peer


_client_ip = client_ip


def _safe_next(target: str | None) -> str:
    """Only paths on this site: `/x` but not `//host` or `/\\host`."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/account"


def _too_many(
    request: Request, template: str, exc: service.TooManyAttempts, **ctx: Any
) -> Response:
    response = render_anonymous(request, template, 429, error=exc.message, **ctx)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def plan_limits(plan: Plan) -> dict[str, Any]:
    return asdict(plan)


def plan_rows(plan: Plan) -> list[tuple[str, str]]:
    """A plan's limits in words, for the account page."""

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    return [
        ("Platforms watched", f"up to {plan.max_platforms}"),
        ("What can be watched", ", ".join(k.replace("_", " ") for k in plan.watch_kinds)),
        ("Same-day alert emails", yes(plan.same_day_alerts)),
        ("Weekly digest", yes(plan.weekly_digest)),
        ("Webhooks", yes(plan.webhooks)),
        ("Atom feeds", yes(plan.feeds)),
    ]


# -- pages: sign-up, login, logout -------------------------------------------------------------


@pages.get("/signup", name="signup_page")
def signup_page(request: Request) -> Response:
    return render_anonymous(request, "accounts/signup.html", email="")


@pages.post("/signup", name="signup")
def signup(request: Request, form: AnonymousForm, background: BackgroundTasks) -> Response:
    archive = _archive(request)
    email = form.get("email", "")
    ip_key = f"signup:{_client_ip(request)}"
    try:
        # counted before anything else, in one transaction (accounts.service.reserve_attempt):
        # concurrent sign-ups from one address cannot all pass the hourly limit
        reserved = service.reserve_attempt(
            archive, {ip_key: SIGNUPS_PER_HOUR_PER_IP}, HOUR, "sign-ups"
        )
    except service.TooManyAttempts as exc:
        return _too_many(request, "accounts/signup.html", exc, email=email)
    try:
        if form.get("password", "") != form.get("password_again", form.get("password", "")):
            raise service.WeakPassword("the two passwords differ")
        # the password is hashed before the address is looked up: both outcomes cost as much
        account = service.sign_up(archive, email, form.get("password", ""))
    except service.EmailTaken:
        # answered like a new account (same status, location, cookie, empty body), so the
        # form does not tell who has an account; the owner is emailed, after the response
        message = service.prepare_signup_notice(archive, archive.settings, email)
        if message is not None:
            background.add_task(_send_quietly, archive.settings, message)
        return _not_logged_in(request, "/account")
    except service.AccountError as exc:
        service.release_attempts(archive, reserved)  # a refused form is not a sign-up
        return render_anonymous(
            request, "accounts/signup.html", 400, error=exc.message, email=email
        )
    return _logged_in(request, account, "/account")


def _not_logged_in(request: Request, target: str) -> Response:
    """The same response as `_logged_in`, with a session cookie that opens nothing."""
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        service.revoke_session(_archive(request), old)
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(request, response, secrets.token_urlsafe(32))
    response.headers["Cache-Control"] = "no-store"
    return response


@pages.get("/login", name="login_page")
def login_page(request: Request, next: str = "/account", reset: bool = False) -> Response:
    notice = "Your password has been changed: log in with the new one." if reset else None
    return render_anonymous(
        request, "accounts/login.html", email="", next=_safe_next(next), notice=notice
    )


@pages.post("/login", name="login")
def login(request: Request, form: AnonymousForm) -> Response:
    archive = _archive(request)
    email, target = form.get("email", ""), _safe_next(form.get("next"))
    try:
        account = service.authenticate(
            archive, email, form.get("password", ""), _client_ip(request)
        )
    except service.TooManyAttempts as exc:
        return _too_many(request, "accounts/login.html", exc, email=email, next=target)
    except service.AccountError as exc:
        return render_anonymous(
            request, "accounts/login.html", 400, error=exc.message, email=email, next=target
        )
    return _logged_in(request, account, target)


def _logged_in(request: Request, account: Account, target: str) -> Response:
    old = request.cookies.get(SESSION_COOKIE)
    if old:  # a new login replaces whatever session this browser had
        service.revoke_session(_archive(request), old)
    token, _ = service.start_session(
        _archive(request), account, request.headers.get("user-agent", "")
    )
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(request, response, token)
    response.headers["Cache-Control"] = "no-store"
    return response


@pages.post("/logout", name="logout")
async def logout(request: Request) -> Response:
    """Revoke this browser's session (server-side: the cookie stops working everywhere)."""
    form = await read_form(request)
    auth = await run_in_threadpool(_auth_or_none, request)
    if auth is not None and auth.via == "session":
        _check_session(auth, form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER))
        await run_in_threadpool(_end_session, request)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _auth_or_none(request: Request) -> Auth | None:
    try:
        return authenticate_request(request)
    except AuthRequired:
        return None


def _end_session(request: Request) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.revoke_session(_archive(request), token)


# -- pages: the account ------------------------------------------------------------------------


def _account_page(
    request: Request, account: Account, status: int = 200, **context: Any
) -> Response:
    archive = _archive(request)
    auth = authenticate_request(request)
    current = auth.session.token_sha256 if auth and auth.session else None
    plan = plan_for(account.plan) if account.plan in PLANS else None
    return render(
        request,
        "accounts/account.html",
        status,
        account=account,
        plan=plan,
        plan_rows=plan_rows(plan) if plan else [],
        plans=[(p, plan_rows(p)) for p in PLANS.values()],
        sessions=service.active_sessions(archive, account),
        current_session=current,
        keys=service.api_keys(archive, account),
        **context,
    )


@pages.get("/account", name="account_page")
def account_page(request: Request, account: RequiredAccount) -> Response:
    return _account_page(request, account)


@pages.post("/account/keys", name="create_api_key")
def create_key(request: Request, account: RequiredAccount, form: VerifiedForm) -> Response:
    try:
        key, row = service.create_api_key(_archive(request), account, form.get("name", ""))
    except service.AccountError as exc:
        return _account_page(request, account, 400, error=exc.message)
    # shown in this response only: the page is not cached and the key is not stored
    return _account_page(request, account, 201, new_key=key, new_key_name=row.name)


@pages.post("/account/keys/{key_id}/revoke", name="revoke_api_key")
def revoke_key(
    request: Request, key_id: RowId, account: RequiredAccount, form: VerifiedForm
) -> Response:
    try:
        row = service.revoke_api_key(_archive(request), account, key_id)
    except service.AccountError as exc:
        return _account_page(request, account, 404, error=exc.message)
    return _account_page(request, account, notice=f"API key {row.prefix}… ({row.name}) revoked.")


@pages.post("/account/sessions/{session_id}/revoke", name="revoke_session")
def revoke_session(
    request: Request, session_id: str, account: RequiredAccount, form: VerifiedForm
) -> Response:
    auth = authenticate_request(request)
    if auth and auth.session and auth.session.token_sha256 == session_id:
        _end_session(request)  # revoking this browser's session is logging out
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    if not service.revoke_session_id(_archive(request), account, session_id):
        return _account_page(request, account, 404, error="no such active session")
    return _account_page(request, account, notice="Session revoked: it is logged out.")


@pages.post("/account/sessions/revoke-others", name="revoke_other_sessions")
def revoke_others(request: Request, account: RequiredAccount, form: VerifiedForm) -> Response:
    count = service.revoke_all_sessions(
        _archive(request), account, keep=request.cookies.get(SESSION_COOKIE)
    )
    return _account_page(
        request, account, notice=f"{count} other session{'s' if count != 1 else ''} logged out."
    )


@pages.post("/account/password", name="change_password")
def change_password(request: Request, account: RequiredAccount, form: VerifiedForm) -> Response:
    try:
        if form.get("new_password", "") != form.get("new_password_again", ""):
            raise service.WeakPassword("the two new passwords differ")
        revoked = service.change_password(
            _archive(request),
            account,
            form.get("current_password", ""),
            form.get("new_password", ""),
            keep_session=request.cookies.get(SESSION_COOKIE),
        )
    except service.AccountError as exc:
        return _account_page(request, account, 400, error=exc.message)
    others = f"{revoked} other session{'s' if revoked != 1 else ''} logged out."
    return _account_page(request, account, notice=f"Password changed; {others}")


# -- pages: password reset ---------------------------------------------------------------------


@pages.get("/reset", name="reset_page")
def reset_page(request: Request) -> Response:
    return render_anonymous(request, "accounts/reset_request.html", email="")


@pages.post("/reset", name="request_reset")
def request_reset(request: Request, form: AnonymousForm, background: BackgroundTasks) -> Response:
    archive = _archive(request)
    email = form.get("email", "")
    ip_key = f"reset:{_client_ip(request)}"
    try:
        # counted before the address is looked up, atomically (as sign-ups and logins)
        reserved = service.reserve_attempt(
            archive, {ip_key: RESETS_PER_HOUR_PER_IP}, HOUR, "reset requests"
        )
    except service.TooManyAttempts as exc:
        return _too_many(request, "accounts/reset_request.html", exc, email=email)
    try:
        message = service.prepare_password_reset(archive, archive.settings, email)
    except service.AccountError as exc:
        service.release_attempts(archive, reserved)  # a malformed address is not a request
        return render_anonymous(
            request, "accounts/reset_request.html", 400, error=exc.message, email=email
        )
    if message is not None:  # sent after the response: same answer, same timing either way
        background.add_task(_send_quietly, archive.settings, message)
    return render_anonymous(request, "accounts/reset_sent.html", email=email)


def _send_quietly(settings: Settings, message: Any) -> None:
    try:
        send_email(settings, message)
    except Exception:  # logged for the operator; the visitor was answered already
        log.exception("email to %s not sent", message["To"])


@pages.get("/reset/{token}", name="reset_token_page")
def reset_token_page(request: Request, token: str) -> Response:
    try:
        account = service.check_reset_token(_archive(request), token)
    except service.AccountError as exc:
        return render_anonymous(request, "accounts/reset_form.html", 400, invalid=exc.message)
    response = render_anonymous(
        request, "accounts/reset_form.html", email=account.email, token=token
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@pages.post("/reset/{token}", name="reset_password")
def reset_password(request: Request, token: str, form: AnonymousForm) -> Response:
    archive = _archive(request)
    try:
        account = service.check_reset_token(archive, token)
    except service.AccountError as exc:
        return render_anonymous(request, "accounts/reset_form.html", 400, invalid=exc.message)
    try:
        if form.get("password", "") != form.get("password_again", ""):
            raise service.WeakPassword("the two passwords differ")
        service.reset_password(archive, token, form.get("password", ""))
    except service.InvalidToken as exc:
        return render_anonymous(request, "accounts/reset_form.html", 400, invalid=exc.message)
    except service.AccountError as exc:
        return render_anonymous(
            request,
            "accounts/reset_form.html",
            400,
            error=exc.message,
            email=account.email,
            token=token,
        )
    response = RedirectResponse("/login?reset=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- API ---------------------------------------------------------------------------------------


PlanName = Literal["free", "pro"]
assert set(get_args(PlanName)) == set(PLANS)  # a new plan must be declared here too


class PlanOut(BaseModel):
    name: PlanName
    max_platforms: int
    same_day_alerts: bool
    weekly_digest: bool
    watch_kinds: list[Literal["platform", "document", "clause_type", "provision"]]
    webhooks: bool
    feeds: bool


class Me(BaseModel):
    email: str
    plan: PlanOut
    created_at: str
    authenticated_by: Literal["session", "api_key"]


_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cw_…`")
_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")


@api.get(
    "/me",
    summary="The account of the API key (or session), with its plan and limits",
    response_model=Me,
    responses={401: {"model": ApiError, "description": "No, or no valid, API key"}},
    dependencies=[Depends(_bearer), Depends(_key_header)],
)
def me(request: Request, account: RequiredAccount) -> Me:
    auth = authenticate_request(request)
    plan = plan_for(account.plan)
    return Me(
        email=account.email,
        plan=PlanOut(**{**plan_limits(plan), "watch_kinds": list(plan.watch_kinds)}),
        created_at=account.created_at.isoformat(),
        authenticated_by=auth.via if auth else "session",
    )


# -- wiring ------------------------------------------------------------------------------------


def _is_api(request: Request) -> bool:
    from clausewatch.web.app import API_PREFIX

    return request.url.path.startswith(API_PREFIX) or _presented_key(request) is not None


def install(app: FastAPI) -> None:
    """Add the account routes, error handlers and template helpers to the app."""
    from clausewatch.web.app import API_PREFIX

    app.include_router(api, prefix=API_PREFIX)
    app.include_router(pages)
    templates: Jinja2Templates = app.state.templates
    templates.env.globals["csrf_field"] = csrf_field
    templates.env.globals["signed_in"] = signed_in

    @app.exception_handler(AuthRequired)
    async def auth_required(request: Request, exc: AuthRequired) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"error": {"status": 401, "message": exc.message}},
                401,
                headers={"WWW-Authenticate": 'Bearer realm="clausewatch"'},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        if _is_api(request):
            return JSONResponse({"error": {"status": 403, "message": exc.message}}, 403)
        templates: Jinja2Templates = request.app.state.templates
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": 403, "title": "Form check failed", "message": exc.message},
            status_code=403,
        )
