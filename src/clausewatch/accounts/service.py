"""Accounts: sign-up, login with rate limiting, server-side sessions, password resets, API keys
and plans. A library (no web imports); every refusal is an `AccountError` with a message that
can be shown to the person as it is.

Secrets are never stored: passwords as argon2id hashes, session cookies, reset tokens and API
keys as SHA-256 (they are 256-bit random values, looked up by hash).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from email.message import EmailMessage
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clausewatch.accounts.plans import PLANS, Plan, plan_for
from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.mail import build_email, send_email
from clausewatch.storage.db import transaction, utcnow
from clausewatch.storage.models import (
    Account,
    ApiKey,
    AuthSession,
    Document,
    LoginAttempt,
    PasswordReset,
    Platform,
    Provision,
    Watch,
    WebhookEndpoint,
)

log = logging.getLogger(__name__)

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 takes any length; this only stops absurd request bodies
LOGIN_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 20
RESET_TTL = dt.timedelta(hours=1)
MAX_RESETS_PER_HOUR = 3  # emails per account per hour; more requests are silently dropped
MAX_API_KEYS = 20  # active keys per account
API_KEY_PREFIX = "cw_"
API_KEY_RE = re.compile(r"^cw_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)  # at most one write per key per minute
EMAIL_RE = re.compile(
    r"^[^@\s\"<>()\[\],;:\\]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$"
)

hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (argon2-cffi's defaults)


# -- errors ------------------------------------------------------------------------------------


class AccountError(Exception):
    """A refusal with a message fit to show the person who asked."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidEmail(AccountError):
    pass


class WeakPassword(AccountError):
    pass


class EmailTaken(AccountError):
    pass


class InvalidCredentials(AccountError):
    pass


class AccountDisabled(AccountError):
    pass


class TooManyAttempts(AccountError):
    def __init__(self, message: str, retry_at: dt.datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at

    @property
    def retry_after(self) -> int:
        """Whole seconds until the next attempt may succeed (for a Retry-After header)."""
        return max(1, int((self.retry_at - utcnow()).total_seconds() + 0.999))


class InvalidToken(AccountError):
    pass


class ApiKeyError(AccountError):
    pass


class UnknownPlan(AccountError):
    pass


class PlanLimitExceeded(AccountError):
    pass


# -- helpers -----------------------------------------------------------------------------------


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_email(email: str) -> str:
    value = (email or "").strip().lower()
    if not value:
        raise InvalidEmail("enter an email address")
    local = value.rsplit("@", 1)[0]
    if len(value) > 254 or len(local) > 64 or not EMAIL_RE.match(value):
        raise InvalidEmail(f"{email.strip()!r} is not a valid email address (name@example.org)")
    return value


def check_password(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise WeakPassword(f"the password must be at least {MIN_PASSWORD} characters long")
    if len(password) > MAX_PASSWORD:
        raise WeakPassword(f"the password must be at most {MAX_PASSWORD} characters long")
    if password.strip().lower() == email.strip().lower():
        raise WeakPassword("the password must not be the email address")


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so that both cases take as long."""
    return hasher.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _account_by_email(session: Session, email: str) -> Account | None:
    return session.scalars(select(Account).where(Account.email == email)).first()


def get_account(archive: Archive, account_id: int) -> Account:
    with archive.sessions() as session:
        account = session.get(Account, account_id)
        if account is None:
            raise LookupError(f"no account {account_id}")
        return account


def find_account(archive: Archive, email: str) -> Account | None:
    with archive.sessions() as session:
        return _account_by_email(session, normalise_email(email))


# -- sign-up and login -------------------------------------------------------------------------


def sign_up(archive: Archive, email: str, password: str, plan: str = "free") -> Account:
    address = normalise_email(email)
    check_password(password, address)
    if plan not in PLANS:
        raise UnknownPlan(f"unknown plan {plan!r}: one of {', '.join(PLANS)}")
    account = Account(
        email=address,
        password_hash=hasher.hash(password),
        plan=plan,
        unsubscribe_token=secrets.token_urlsafe(32),
    )
    taken = EmailTaken(
        f"an account for {address} already exists: log in, or reset its password if forgotten"
    )
    try:
        with transaction(archive.sessions) as session:
            if _account_by_email(session, address) is not None:
                raise taken
            session.add(account)
    except IntegrityError as exc:  # a concurrent sign-up with the same address
        raise taken from exc
    return account


MAX_SIGNUP_NOTICES_PER_HOUR = 3  # "you already have an account" emails per account per hour


def prepare_signup_notice(archive: Archive, settings: Settings, email: str) -> EmailMessage | None:
    """A sign-up for an address that has an account answers like a successful one (nobody
    learns which addresses have accounts); its owner is told by email instead. None when
    there is nothing to send (no such account, or already 3 such emails this hour)."""
    address = normalise_email(email)
    account = find_account(archive, address)
    if account is None or account.disabled_at is not None:
        return None
    try:
        reserve_attempt(
            archive,
            {f"signup-notice:{account.id}": MAX_SIGNUP_NOTICES_PER_HOUR},
            dt.timedelta(hours=1),
        )
    except TooManyAttempts:
        return None
    base = settings.base_url.rstrip("/")
    text = (
        "Someone (perhaps you) tried to sign up for clausewatch with this email address, "
        "which already has an account. No new account was created.\n\n"
        f"Log in: {base}/login\nForgot the password? Reset it: {base}/reset\n\n"
        "If this was not you, ignore this email: nothing has changed.\n"
    )
    return build_email(settings, address, "You already have a clausewatch account", text)


def _recent(session: Session, key: str, since: dt.datetime) -> list[dt.datetime]:
    return list(
        session.scalars(
            select(LoginAttempt.at)
            .where(LoginAttempt.key == key, LoginAttempt.at > since)
            .order_by(LoginAttempt.at)
        )
    )


def _refusal(
    what: str, times: list[dt.datetime], limit: int, window: dt.timedelta
) -> TooManyAttempts:
    now = utcnow()
    retry_at = times[len(times) - limit] + window
    minutes = max(1, round((retry_at - now).total_seconds() / 60))
    return TooManyAttempts(
        f"too many {what}: try again in {minutes} minute{'s' if minutes != 1 else ''} "
        f"(after {retry_at:%H:%M} UTC)",
        retry_at,
    )


def check_rate(
    archive: Archive, limits: dict[str, int], window: dt.timedelta, what: str = "login attempts"
) -> None:
    """Raise `TooManyAttempts` when any key has `limit` or more attempts inside the window.
    Not atomic with `record_attempt`: where concurrent requests must not get past the limit
    (logins), use `reserve_attempt`."""
    now = utcnow()
    with archive.sessions() as session:
        for key, limit in limits.items():
            times = _recent(session, key[:400], now - window)
            if len(times) >= limit:
                raise _refusal(what, times, limit, window)


def record_attempt(archive: Archive, *keys: str, window: dt.timedelta = LOGIN_WINDOW) -> None:
    now = utcnow()
    with transaction(archive.sessions) as session:
        # forget what is older than the window, for these keys only (an indexed delete)
        session.execute(
            delete(LoginAttempt).where(LoginAttempt.key.in_(keys), LoginAttempt.at <= now - window)
        )
        session.add_all(LoginAttempt(key=key[:400], at=now) for key in keys)


def _lock_keys(session: Session, keys: list[str]) -> None:
    """Serialise the transactions that count and record attempts for these keys. SQLite: the
    write transaction already began with BEGIN IMMEDIATE (one writer at a time). PostgreSQL:
    a transaction-scoped advisory lock per key, taken in sorted order (no deadlock)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(set(keys)):
        lock_id = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})


def reserve_attempt(
    archive: Archive, limits: dict[str, int], window: dt.timedelta, what: str = "login attempts"
) -> list[int]:
    """Atomically: raise `TooManyAttempts` when any key has `limit` or more attempts inside
    the window, else record one attempt per key — before the password is checked, so that
    concurrent requests cannot all pass the check. Returns the ids of the recorded rows, for
    `release_attempts` when the attempt turns out not to count (a successful login)."""
    now = utcnow()
    keys = [key[:400] for key in limits]
    with transaction(archive.sessions) as session:
        _lock_keys(session, keys)
        session.execute(
            delete(LoginAttempt).where(LoginAttempt.key.in_(keys), LoginAttempt.at <= now - window)
        )
        for key, limit in zip(keys, limits.values(), strict=True):
            times = _recent(session, key, now - window)
            if len(times) >= limit:
                raise _refusal(what, times, limit, window)
        rows = [LoginAttempt(key=key, at=now) for key in keys]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def release_attempts(archive: Archive, ids: list[int], *also_keys: str) -> None:
    """Forget reserved attempts (by id) and every attempt of `also_keys`."""
    with transaction(archive.sessions) as session:
        session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(ids)))
        if also_keys:
            session.execute(delete(LoginAttempt).where(LoginAttempt.key.in_(also_keys)))


def authenticate(archive: Archive, email: str, password: str, client_ip: str) -> Account:
    """The account for these credentials. At most 5 failures per email and 20 per client
    address in 15 minutes, then `TooManyAttempts` (even for the right password)."""
    try:
        address = normalise_email(email)
    except InvalidEmail:
        address = (email or "").strip().lower()[:320]
    email_key, ip_key = f"email:{address}"[:400], f"ip:{client_ip}"[:400]
    # the attempt is counted before the password is checked (one transaction, serialised per
    # key): however many arrive at once, at most 5 per email address reach the hasher
    reserved = reserve_attempt(
        archive, {email_key: MAX_FAILURES_PER_EMAIL, ip_key: MAX_FAILURES_PER_IP}, LOGIN_WINDOW
    )
    with archive.sessions() as session:
        account = _account_by_email(session, address)
    if account is None:
        _verify(_dummy_hash(), password)  # same work as for a known address
        ok = False
    else:
        ok = _verify(account.password_hash, password)
    if not ok or account is None:
        raise InvalidCredentials("wrong email address or password")  # the reservation stays
    if account.disabled_at is not None:
        release_attempts(archive, reserved)
        raise AccountDisabled("this account is disabled: contact the site's operator")
    with transaction(archive.sessions) as session:
        # a success does not count against the client address and clears the email's failures
        session.execute(delete(LoginAttempt).where(LoginAttempt.id.in_(reserved)))
        session.execute(delete(LoginAttempt).where(LoginAttempt.key == email_key))
        if hasher.check_needs_rehash(account.password_hash):
            account.password_hash = hasher.hash(password)
            session.execute(
                update(Account)
                .where(Account.id == account.id)
                .values(password_hash=account.password_hash)
            )
    return account


def change_password(
    archive: Archive, account: Account, current: str, new: str, *, keep_session: str | None = None
) -> int:
    """Change a password knowing the current one. Every session of the account but
    `keep_session` (the cookie value of the browser that changed it) is revoked in the same
    transaction: whoever had the old password is logged out. Returns how many were revoked."""
    if not _verify(account.password_hash, current):
        raise InvalidCredentials("the current password is wrong")
    check_password(new, account.email)
    account.password_hash = hasher.hash(new)
    where = [AuthSession.account_id == account.id, AuthSession.revoked_at.is_(None)]
    if keep_session:
        where.append(AuthSession.token_sha256 != sha256(keep_session))
    with transaction(archive.sessions) as session:
        session.execute(
            update(Account)
            .where(Account.id == account.id)
            .values(password_hash=account.password_hash)
        )
        result = session.execute(update(AuthSession).where(*where).values(revoked_at=utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)


# -- sessions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedIn:
    account: Account
    session: AuthSession


def start_session(
    archive: Archive, account: Account, user_agent: str = ""
) -> tuple[str, AuthSession]:
    """A new session: returns the cookie value (shown once, never stored) and its row."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = AuthSession(
        token_sha256=sha256(token),
        account_id=account.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + dt.timedelta(days=archive.settings.session_days),
        user_agent=(user_agent or "")[:300],
    )
    with transaction(archive.sessions) as session:
        session.add(row)
    return token, row


def session_lookup(archive: Archive, token: str | None) -> LoggedIn | None:
    """The live session of a cookie value: None when unknown, expired, revoked or disabled."""
    if not token or len(token) > 100:
        return None
    with archive.sessions() as session:
        row = session.get(AuthSession, sha256(token))
        if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
            return None
        account = session.get(Account, row.account_id)
        if account is None or account.disabled_at is not None:
            return None
        return LoggedIn(account, row)


def session_account(archive: Archive, token: str | None) -> Account | None:
    found = session_lookup(archive, token)
    return found.account if found else None


def revoke_session(archive: Archive, token: str) -> bool:
    """Log out: the cookie stops working at once. True when a live session was revoked."""
    return _revoke(archive, AuthSession.token_sha256 == sha256(token))


def revoke_session_id(archive: Archive, account: Account, session_id: str) -> bool:
    """Revoke one of the account's sessions by its id (the SHA-256 shown on the account page)."""
    return _revoke(
        archive, AuthSession.token_sha256 == session_id, AuthSession.account_id == account.id
    )


def revoke_all_sessions(archive: Archive, account: Account, *, keep: str | None = None) -> int:
    """Revoke every session of the account (but `keep`, a cookie value); returns how many."""
    where = [AuthSession.account_id == account.id]
    if keep:
        where.append(AuthSession.token_sha256 != sha256(keep))
    with transaction(archive.sessions) as session:
        result = session.execute(
            update(AuthSession)
            .where(*where, AuthSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        return int(getattr(result, "rowcount", 0) or 0)


def _revoke(archive: Archive, *where: object) -> bool:
    with transaction(archive.sessions) as session:
        result = session.execute(
            update(AuthSession)
            .where(*where, AuthSession.revoked_at.is_(None))  # type: ignore[arg-type]
            .values(revoked_at=utcnow())
        )
        return bool(getattr(result, "rowcount", 0))


def active_sessions(archive: Archive, account: Account) -> list[AuthSession]:
    with archive.sessions() as session:
        return list(
            session.scalars(
                select(AuthSession)
                .where(
                    AuthSession.account_id == account.id,
                    AuthSession.revoked_at.is_(None),
                    AuthSession.expires_at > utcnow(),
                )
                .order_by(AuthSession.created_at.desc())
            )
        )


# -- password reset ----------------------------------------------------------------------------


def reset_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/reset/{token}"


def prepare_password_reset(archive: Archive, settings: Settings, email: str) -> EmailMessage | None:
    """Record a reset token and build its email; None when there is nothing to send (unknown
    or disabled address, or already 3 emails this hour). Callers must answer the same in
    every case, so that nobody learns whether an address has an account."""
    address = normalise_email(email)
    now = utcnow()
    token = secrets.token_urlsafe(32)
    with transaction(archive.sessions) as session:
        account = _account_by_email(session, address)
        if account is None or account.disabled_at is not None:
            return None
        # count and insert under the account's lock (PostgreSQL; SQLite's write transaction
        # is serialised already): concurrent requests cannot all pass the hourly limit
        _lock_keys(session, [f"password-reset:{account.id}"])
        recent = session.scalar(
            select(func.count())
            .select_from(PasswordReset)
            .where(
                PasswordReset.account_id == account.id,
                PasswordReset.created_at > now - dt.timedelta(hours=1),
            )
        )
        if (recent or 0) >= MAX_RESETS_PER_HOUR:
            log.warning("password reset for account %s: hourly limit reached", account.id)
            return None
        session.add(
            PasswordReset(
                token_sha256=sha256(token),
                account_id=account.id,
                created_at=now,
                expires_at=now + RESET_TTL,
            )
        )
    link = reset_url(settings, token)
    text = (
        "Someone (probably you) asked to reset the password of your clausewatch account.\n\n"
        f"Choose a new password here (the link works once, for one hour):\n\n{link}\n\n"
        "Setting a new password logs out every session of the account.\n"
        "If you did not ask for this, ignore this email: your password stays as it is.\n"
    )
    return build_email(settings, address, "Reset your clausewatch password", text)


def request_password_reset(archive: Archive, settings: Settings, email: str) -> None:
    """Send a single-use reset link ({base_url}/reset/{token}, valid 1 h) when the address has
    an account; returns the same (None) either way. SMTP errors propagate."""
    message = prepare_password_reset(archive, settings, email)
    if message is not None:
        send_email(settings, message)


def _reset_row(session: Session, token: str) -> PasswordReset:
    invalid = InvalidToken("this password-reset link is invalid or has expired: ask for a new one")
    if not token or len(token) > 100:
        raise invalid
    row = session.get(PasswordReset, sha256(token))
    if row is None or row.expires_at <= utcnow():
        raise invalid
    if row.used_at is not None:
        raise InvalidToken("this password-reset link has already been used: ask for a new one")
    return row


def check_reset_token(archive: Archive, token: str) -> Account:
    """The account a reset link is for; `InvalidToken` when unknown, expired or used."""
    with archive.sessions() as session:
        row = _reset_row(session, token)
        account = session.get(Account, row.account_id)
        if account is None:
            raise InvalidToken("this password-reset link is invalid: ask for a new one")
        return account


def reset_password(archive: Archive, token: str, new_password: str) -> Account:
    """Set a new password with a reset token (once); every session of the account is revoked
    and its login failures are forgotten."""
    now = utcnow()
    with transaction(archive.sessions) as session:
        row = _reset_row(session, token)
        account = session.get(Account, row.account_id, with_for_update=True)
        if account is None or account.disabled_at is not None:
            raise InvalidToken("this password-reset link is invalid: ask for a new one")
        check_password(new_password, account.email)
        # single use, even when two requests race: only one update finds it unused
        used = session.execute(
            update(PasswordReset)
            .where(PasswordReset.token_sha256 == row.token_sha256, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        if not getattr(used, "rowcount", 0):
            raise InvalidToken("this password-reset link has already been used: ask for a new one")
        # other outstanding links of this account stop working too
        session.execute(
            update(PasswordReset)
            .where(PasswordReset.account_id == account.id, PasswordReset.used_at.is_(None))
            .values(used_at=now)
        )
        account.password_hash = hasher.hash(new_password)
        session.execute(
            update(AuthSession)
            .where(AuthSession.account_id == account.id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        session.execute(delete(LoginAttempt).where(LoginAttempt.key == f"email:{account.email}"))
    return account


# -- API keys ----------------------------------------------------------------------------------


def create_api_key(archive: Archive, account: Account, name: str) -> tuple[str, ApiKey]:
    """A new key `cw_<prefix>_<secret>`: returned once, only its SHA-256 is stored."""
    label = " ".join((name or "").split())
    if not label:
        raise ApiKeyError("give the key a name (what uses it)")
    if len(label) > 100:
        raise ApiKeyError("the key's name must be at most 100 characters")
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        account_id=account.id,
        name=label,
        prefix=f"{API_KEY_PREFIX}{prefix}",
        key_sha256=sha256(key),
        created_at=utcnow(),
    )
    with transaction(archive.sessions) as session:
        active = session.scalar(
            select(func.count())
            .select_from(ApiKey)
            .where(ApiKey.account_id == account.id, ApiKey.revoked_at.is_(None))
        )
        if (active or 0) >= MAX_API_KEYS:
            raise ApiKeyError(
                f"an account can have at most {MAX_API_KEYS} active API keys: revoke one first"
            )
        session.add(row)
    return key, row


def api_key_account(archive: Archive, key: str | None) -> Account | None:
    """The account of a live API key (None when malformed, unknown, revoked or disabled);
    records when the key was last used."""
    if not key or not API_KEY_RE.match(key):
        return None
    digest = sha256(key)
    now = utcnow()
    with transaction(archive.sessions) as session:
        row = session.scalars(select(ApiKey).where(ApiKey.key_sha256 == digest)).first()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.key_sha256, digest):
            return None
        account = session.get(Account, row.account_id)
        if account is None or account.disabled_at is not None:
            return None
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            row.last_used_at = now
        return account


def api_keys(archive: Archive, account: Account, *, include_revoked: bool = False) -> list[ApiKey]:
    with archive.sessions() as session:
        query = select(ApiKey).where(ApiKey.account_id == account.id)
        if not include_revoked:
            query = query.where(ApiKey.revoked_at.is_(None))
        return list(session.scalars(query.order_by(ApiKey.created_at.desc(), ApiKey.id.desc())))


def revoke_api_key(archive: Archive, account: Account, key_id: int) -> ApiKey:
    with transaction(archive.sessions) as session:
        row = session.get(ApiKey, key_id)
        if row is None or row.account_id != account.id:
            raise ApiKeyError(f"no API key {key_id} on this account")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        return row


# -- plans -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    platforms: frozenset[str]  # slugs reached by platform, document and provision watches
    watch_kinds: frozenset[str]
    webhooks: int  # enabled endpoints


def usage(archive: Archive, account: Account) -> Usage:
    """What the account uses now, as counted against its plan's limits."""
    with archive.sessions() as session:
        watches = list(session.scalars(select(Watch).where(Watch.account_id == account.id)))
        slugs: set[str] = set()
        for watch in watches:
            slug = _platform_of(session, watch)
            if slug:
                slugs.add(slug)
        hooks = session.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.account_id == account.id, WebhookEndpoint.disabled_at.is_(None))
        )
    return Usage(frozenset(slugs), frozenset(w.target_kind for w in watches), int(hooks or 0))


def _platform_of(session: Session, watch: Watch) -> str | None:
    from clausewatch.ids import parse_id

    if watch.target_kind == "platform":
        return watch.target
    try:
        if watch.target_kind == "document":
            document_id = parse_id(watch.target, "D")
        elif watch.target_kind == "provision":
            provision = session.get(Provision, parse_id(watch.target, "P"))
            if provision is None:
                return None
            document_id = provision.document_id
        else:
            return None
    except ValueError:
        return None
    return session.scalar(select(Platform.slug).join(Document).where(Document.id == document_id))


def plan_violations(plan: Plan, used: Usage) -> list[str]:
    """Why `used` does not fit `plan` (empty when it does), one sentence each."""
    problems = []
    if len(used.platforms) > plan.max_platforms:
        problems.append(
            f"the {plan.name} plan watches at most {plan.max_platforms} "
            f"platform{'s' if plan.max_platforms != 1 else ''}; {len(used.platforms)} are "
            f"watched ({', '.join(sorted(used.platforms))})"
        )
    kinds = sorted(used.watch_kinds - set(plan.watch_kinds))
    if kinds:
        problems.append(
            f"the {plan.name} plan has no {' or '.join(k.replace('_', '-') for k in kinds)} watches"
        )
    if used.webhooks and not plan.webhooks:
        problems.append(f"the {plan.name} plan has no webhooks ({used.webhooks} configured)")
    return problems


def change_plan(archive: Archive, account: Account, plan: str, *, force: bool = False) -> Account:
    """Move the account to another plan. A plan that what the account watches does not fit is
    refused (`PlanLimitExceeded`, saying what to remove) unless `force`."""
    try:
        target = plan_for(plan)
    except ValueError as exc:
        raise UnknownPlan(str(exc)) from None
    problems = plan_violations(target, usage(archive, account))
    if problems and not force:
        raise PlanLimitExceeded(
            f"cannot move {account.email} to the {target.name} plan: "
            + "; ".join(problems)
            + ". Remove those watches first"
        )
    with transaction(archive.sessions) as session:
        session.execute(update(Account).where(Account.id == account.id).values(plan=target.name))
    account.plan = target.name
    return account


def set_disabled(archive: Archive, account: Account, disabled: bool) -> Account:
    """Disable (or re-enable) an account; disabling revokes its sessions."""
    when = utcnow() if disabled else None
    with transaction(archive.sessions) as session:
        session.execute(update(Account).where(Account.id == account.id).values(disabled_at=when))
    account.disabled_at = when
    if disabled:
        revoke_all_sessions(archive, account)
    return account


def list_accounts(archive: Archive) -> list[Account]:
    with archive.sessions() as session:
        return list(session.scalars(select(Account).order_by(Account.id)))
