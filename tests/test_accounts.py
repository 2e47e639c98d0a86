"""The accounts service (clausewatch.accounts.service) on SQLite and PostgreSQL: sign-up rules,
argon2id hashes, rate-limited login, revocable sessions, single-use resets, API keys, plans."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from archive_fixtures import *  # noqa: F403
from argon2 import PasswordHasher
from sqlalchemy import select, update

from clausewatch.accounts import service
from clausewatch.archive.service import Archive
from clausewatch.storage.db import transaction, utcnow
from clausewatch.storage.models import (
    Account,
    ApiKey,
    AuthSession,
    Document,
    PasswordReset,
    Platform,
    Watch,
)

PASSWORD = "correct horse battery"
FAST = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)  # argon2id, test-cheap


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Production parameters cost ~0.5 s a hash on a busy CI box: cheaper ones in tests."""
    monkeypatch.setattr(service, "hasher", FAST)
    service._dummy_hash.cache_clear()
    yield
    service._dummy_hash.cache_clear()


def test_production_hasher_is_argon2id_rfc9106() -> None:
    from argon2 import Type, profiles

    real = PasswordHasher()
    assert real.type is Type.ID
    assert real.memory_cost == profiles.RFC_9106_LOW_MEMORY.memory_cost


def stored(archive: Archive, model: type, **where: object) -> list:
    with archive.sessions() as session:
        query = select(model).filter_by(**where)
        return list(session.scalars(query))


def test_sign_up_validates_and_hashes(archive: Archive) -> None:
    account = service.sign_up(archive, "  Alice@Example.ORG ", PASSWORD)
    assert account.email == "alice@example.org"
    assert account.plan == "free"
    row = stored(archive, Account, id=account.id)[0]
    assert row.password_hash.startswith("$argon2id$")
    assert PASSWORD not in row.password_hash
    assert row.unsubscribe_token and len(row.unsubscribe_token) >= 32

    with pytest.raises(service.EmailTaken, match="already exists"):
        service.sign_up(archive, "ALICE@example.org", PASSWORD)
    with pytest.raises(service.InvalidEmail, match="not a valid email"):
        service.sign_up(archive, "alice-at-example.org", PASSWORD)
    with pytest.raises(service.WeakPassword, match="at least 10"):
        service.sign_up(archive, "bob@example.org", "short")
    with pytest.raises(service.WeakPassword, match="email"):
        service.sign_up(archive, "longname@example.org", "LongName@example.org")
    with pytest.raises(service.UnknownPlan):
        service.sign_up(archive, "carol@example.org", PASSWORD, plan="gold")
    assert isinstance(service.WeakPassword("x"), service.AccountError)


def test_authenticate_and_rate_limit(archive: Archive) -> None:
    service.sign_up(archive, "alice@example.org", PASSWORD)
    assert service.authenticate(archive, "Alice@Example.org", PASSWORD, "10.0.0.1").email == (
        "alice@example.org"
    )
    for _ in range(service.MAX_FAILURES_PER_EMAIL):
        with pytest.raises(service.InvalidCredentials, match="wrong email address or password"):
            service.authenticate(archive, "alice@example.org", "wrong password!", "10.0.0.1")
    # locked for this address, even with the right password, with a time to retry
    with pytest.raises(service.TooManyAttempts, match="try again in 15 minutes") as caught:
        service.authenticate(archive, "alice@example.org", PASSWORD, "10.0.0.2")
    assert 800 < caught.value.retry_after <= 900
    # unknown addresses fail the same way (and are verified against a dummy hash)
    with pytest.raises(service.InvalidCredentials, match="wrong email address or password"):
        service.authenticate(archive, "nobody@example.org", PASSWORD, "10.0.0.3")

    # the failures age out of the window
    with transaction(archive.sessions) as session:
        from clausewatch.storage.models import LoginAttempt

        session.execute(update(LoginAttempt).values(at=utcnow() - dt.timedelta(minutes=16)))
    assert service.authenticate(archive, "alice@example.org", PASSWORD, "10.0.0.2")


def test_rate_limit_per_client_address(archive: Archive) -> None:
    service.sign_up(archive, "alice@example.org", PASSWORD)
    for n in range(service.MAX_FAILURES_PER_IP):
        with pytest.raises(service.InvalidCredentials):
            service.authenticate(archive, f"user{n}@example.org", "wrong password!", "10.9.9.9")
    with pytest.raises(service.TooManyAttempts):
        service.authenticate(archive, "alice@example.org", PASSWORD, "10.9.9.9")
    assert service.authenticate(archive, "alice@example.org", PASSWORD, "10.9.9.10")


def test_rehash_on_login_when_parameters_change(archive: Archive) -> None:
    account = service.sign_up(archive, "alice@example.org", PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=4096, parallelism=1).hash(PASSWORD)
    with transaction(archive.sessions) as session:
        session.execute(update(Account).where(Account.id == account.id).values(password_hash=weak))
    service.authenticate(archive, "alice@example.org", PASSWORD, "10.0.0.1")
    rehashed = stored(archive, Account, id=account.id)[0].password_hash
    assert rehashed != weak and rehashed.startswith("$argon2id$")
    assert not service.hasher.check_needs_rehash(rehashed)


def test_disabled_account_cannot_log_in(archive: Archive) -> None:
    account = service.sign_up(archive, "alice@example.org", PASSWORD)
    token, _ = service.start_session(archive, account)
    service.set_disabled(archive, account, True)
    with pytest.raises(service.AccountDisabled):
        service.authenticate(archive, "alice@example.org", PASSWORD, "10.0.0.1")
    assert service.session_account(archive, token) is None


def test_sessions_are_server_side_and_revocable(archive: Archive) -> None:
    account = service.sign_up(archive, "alice@example.org", PASSWORD)
    token, row = service.start_session(archive, account, "Firefox")
    other, _ = service.start_session(archive, account, "Chrome")
    assert len(token) >= 43
    # only the SHA-256 of the cookie is stored
    rows = stored(archive, AuthSession, account_id=account.id)
    assert {r.token_sha256 for r in rows} == {service.sha256(token), service.sha256(other)}
    assert all(token not in (r.token_sha256, r.csrf_token) for r in rows)
    expected = utcnow() + dt.timedelta(days=archive.settings.session_days)
    assert abs((row.expires_at - expected).total_seconds()) < 60

    found = service.session_account(archive, token)
    assert found is not None and found.id == account.id
    assert service.session_account(archive, "not-a-token") is None
    assert service.session_account(archive, None) is None

    assert service.revoke_session(archive, token)
    assert service.session_account(archive, token) is None
    assert not service.revoke_session(archive, token)  # already revoked
    assert service.session_account(archive, other) is not None

    third, _ = service.start_session(archive, account)
    assert service.revoke_all_sessions(archive, account, keep=third) == 1
    assert service.session_account(archive, other) is None
    assert service.session_account(archive, third) is not None
    assert [s.token_sha256 for s in service.active_sessions(archive, account)] == [
        service.sha256(third)
    ]
    assert service.revoke_session_id(archive, account, service.sha256(third))
    assert service.session_account(archive, third) is None


def test_expired_session_is_refused(archive: Archive) -> None:
    account = service.sign_up(archive, "alice@example.org", PASSWORD)
    token, _ = service.start_session(archive, account)
    with transaction(archive.sessions) as session:
        session.execute(update(AuthSession).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert service.session_account(archive, token) is None


def test_password_reset_is_single_use_and_revokes_sessions(archive: Archive) -> None:
    account = service.sign_up(archive, "alice@example.org", PASSWORD)
    token, _ = service.start_session(archive, account)
    settings = archive.settings
    assert service.prepare_password_reset(archive, settings, "nobody@example.org") is None
    message = service.prepare_password_reset(archive, settings, "ALICE@example.org")
    assert message is not None and message["To"] == "alice@example.org"
    body = message.get_content()
    link = next(w for w in body.split() if w.startswith(settings.base_url + "/reset/"))
    reset_token = link.rsplit("/", 1)[1]
    assert stored(archive, PasswordReset, token_sha256=service.sha256(reset_token))
    assert not stored(archive, PasswordReset, token_sha256=reset_token)

    assert service.check_reset_token(archive, reset_token).id == account.id
    with pytest.raises(service.WeakPassword):
        service.reset_password(archive, reset_token, "short")
    service.reset_password(archive, reset_token, "a brand new password")
    assert service.session_account(archive, token) is None
    with pytest.raises(service.InvalidToken, match="already been used"):
        service.reset_password(archive, reset_token, "another new password")
    with pytest.raises(service.InvalidCredentials):
        service.authenticate(archive, "alice@example.org", PASSWORD, "10.0.0.1")
    assert service.authenticate(archive, "alice@example.org", "a brand new password", "10.0.0.1")

    with pytest.raises(service.InvalidToken, match="invalid or has expired"):
        service.check_reset_token(archive, "made-up")
    # expired links
    message = service.prepare_password_reset(archive, settings, "alice@example.org")
    assert message is not None
    late = message.get_content().split("/reset/", 1)[1].split()[0]
    with transaction(archive.sessions) as session:
        session.execute(update(PasswordReset).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    with pytest.raises(service.InvalidToken, match="expired"):
        service.reset_password(archive, late, "yet another password")


def test_reset_emails_are_limited_per_hour(archive: Archive) -> None:
    service.sign_up(archive, "alice@example.org", PASSWORD)
    sent = [
        service.prepare_password_reset(archive, archive.settings, "alice@example.org")
        for _ in range(service.MAX_RESETS_PER_HOUR + 2)
    ]
    assert sum(m is not None for m in sent) == service.MAX_RESETS_PER_HOUR


def test_api_keys(archive: Archive) -> None:
    account = service.sign_up(archive, "alice@example.org", PASSWORD)
    key, row = service.create_api_key(archive, account, "  dashboard ")
    assert row.name == "dashboard"
    assert service.API_KEY_RE.match(key)
    assert key.startswith(row.prefix + "_")
    rows = stored(archive, ApiKey, account_id=account.id)
    assert rows[0].key_sha256 == service.sha256(key) and key not in rows[0].prefix
    assert rows[0].last_used_at is None

    found = service.api_key_account(archive, key)
    assert found is not None and found.id == account.id
    assert stored(archive, ApiKey, id=row.id)[0].last_used_at is not None
    assert service.api_key_account(archive, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert service.api_key_account(archive, "cw_nonsense") is None

    with pytest.raises(service.ApiKeyError, match="name"):
        service.create_api_key(archive, account, "   ")
    other = service.sign_up(archive, "bob@example.org", PASSWORD)
    with pytest.raises(service.ApiKeyError, match="no API key"):
        service.revoke_api_key(archive, other, row.id)
    service.revoke_api_key(archive, account, row.id)
    assert service.api_key_account(archive, key) is None
    assert service.api_keys(archive, account) == []
    assert len(service.api_keys(archive, account, include_revoked=True)) == 1


def test_change_plan_enforces_limits(archive: Archive) -> None:
    account = service.sign_up(archive, "alice@example.org", PASSWORD)
    with pytest.raises(service.UnknownPlan, match="unknown plan 'gold'"):
        service.change_plan(archive, account, "gold")
    service.change_plan(archive, account, "pro")
    assert stored(archive, Account, id=account.id)[0].plan == "pro"

    with transaction(archive.sessions) as session:
        for slug in ("alpha", "beta"):
            session.add(Platform(slug=slug, name=slug, category="social", website="https://x.test"))
        session.flush()
        beta = session.scalars(select(Platform).where(Platform.slug == "beta")).one()
        doc = Document(
            platform_id=beta.id, doc_type="terms", declaration={}, declaration_fingerprint="x"
        )
        session.add(doc)
        session.flush()
        session.add_all(
            [
                Watch(account_id=account.id, target_kind="platform", target="alpha"),
                Watch(account_id=account.id, target_kind="document", target=doc.public_id),
                Watch(account_id=account.id, target_kind="clause_type", target="arbitration"),
            ]
        )
    used = service.usage(archive, account)
    assert used.platforms == {"alpha", "beta"}
    with pytest.raises(service.PlanLimitExceeded) as caught:
        service.change_plan(archive, account, "free")
    message = caught.value.message
    assert "at most 1 platform" in message and "alpha, beta" in message
    assert "clause-type" in message
    assert stored(archive, Account, id=account.id)[0].plan == "pro"
    service.change_plan(archive, account, "free", force=True)
    assert stored(archive, Account, id=account.id)[0].plan == "free"


def test_operator_commands(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from clausewatch.cli import app as cli

    runner = CliRunner()
    data = ["--data-dir", str(tmp_path / "data")]
    result = runner.invoke(
        cli, ["accounts", "create", "Ops@Example.org", *data, "--password-stdin"], input=PASSWORD
    )
    assert result.exit_code == 0, result.output
    assert "ops@example.org (free)" in result.output
    again = runner.invoke(
        cli, ["accounts", "create", "ops@example.org", *data, "--password-stdin"], input=PASSWORD
    )
    assert again.exit_code == 2 and "already exists" in again.output
    result = runner.invoke(cli, ["accounts", "set-plan", "ops@example.org", "pro", *data])
    assert result.exit_code == 0, result.output
    bad = runner.invoke(cli, ["accounts", "set-plan", "ops@example.org", "gold", *data])
    assert bad.exit_code == 2 and "unknown plan 'gold'" in bad.output
    assert runner.invoke(cli, ["accounts", "disable", "ops@example.org", *data]).exit_code == 0
    listed = runner.invoke(cli, ["accounts", "list", *data])
    assert "ops@example.org" in listed.output and "pro" in listed.output
    assert "disabled" in listed.output
    missing = runner.invoke(cli, ["accounts", "enable", "nobody@example.org", *data])
    assert missing.exit_code == 2 and "no account for nobody@example.org" in missing.output
