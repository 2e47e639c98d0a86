"""Accounts on the web, in-process (TestClient) over a fresh SQLite archive per test: sign-up,
login, the account page, API keys and /api/v1/me, logout, CSRF on every POST form, the login
rate limit, and a password reset end to end through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from smtp_server import Mailbox
from sqlalchemy import select

from clausewatch.accounts import service
from clausewatch.config import Settings
from clausewatch.storage.models import Account
from clausewatch.web import create_app

PASSWORD = "correct horse battery"
EMAIL = "alice@example.org"


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(service, "hasher", PasswordHasher(time_cost=1, memory_cost=8192))
    service._dummy_hash.cache_clear()
    yield
    service._dummy_hash.cache_clear()


@pytest.fixture
def settings(tmp_path: Path, smtp: tuple[Mailbox, int]) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        smtp_host="127.0.0.1",
        smtp_port=smtp[1],
        base_url="http://clausewatch.test",
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Any]:
    application = create_app(settings)
    yield application


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def token_in(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def form_token(client: TestClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.text[:500]
    return token_in(response.text)


def sign_up(client: TestClient, email: str = EMAIL, password: str = PASSWORD) -> None:
    token = form_token(client, "/signup")
    response = client.post(
        "/signup",
        data={
            "email": email,
            "password": password,
            "password_again": password,
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:1000]
    assert response.headers["location"] == "/account"


def log_in(client: TestClient, email: str = EMAIL, password: str = PASSWORD) -> Any:
    token = form_token(client, "/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def assert_page(page: str) -> None:
    assert '<html lang="en">' in page and page.count("<h1") == 1
    assert "<script" not in page and "style=" not in page


def test_sign_up_log_in_api_key_me_and_revoke(app: Any, client: TestClient) -> None:
    home_header = client.get("/signup").text
    assert '/login">Log in<' in home_header
    sign_up(client)
    cookie = client.cookies.get("cw_session")
    assert cookie
    client.cookies.clear()

    response = log_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/account"
    set_cookie = response.headers["set-cookie"].lower()
    assert "cw_session=" in set_cookie and "httponly" in set_cookie and "samesite=lax" in set_cookie
    assert "secure" not in set_cookie  # base_url is http here

    page = client.get("/account")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert_page(page.text)
    assert EMAIL in page.text and 'data-field="plan">free<' in page.text
    assert "up to 1" in page.text  # the free plan's platform limit
    assert ">Account<" in page.text
    assert page.text.count("(this browser)") == 1

    created = client.post(
        "/account/keys", data={"name": "dashboard", "csrf_token": token_in(page.text)}
    )
    assert created.status_code == 201
    key = re.search(r"data-api-key>([^<]+)<", created.text)
    assert key, created.text
    api_key = key.group(1)
    assert service.API_KEY_RE.match(api_key)
    prefix, secret = api_key[:11], api_key[12:]  # cw_<8 hex>_<secret>
    again = client.get("/account").text
    assert api_key not in again and secret not in again
    assert f"{prefix}_…" in again and "dashboard" in again and "<td>never</td>" in again

    # /api/v1/me with the key (both headers), without cookies
    anonymous = TestClient(app)
    me = anonymous.get("/api/v1/me", headers={"Authorization": f"Bearer {api_key}"})
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["email"] == EMAIL and body["authenticated_by"] == "api_key"
    assert body["plan"]["name"] == "free" and body["plan"]["max_platforms"] == 1
    assert anonymous.get("/api/v1/me", headers={"X-API-Key": api_key}).status_code == 200
    assert "<td>never</td>" not in client.get("/account").text  # last use is recorded
    # and with the session cookie
    assert client.get("/api/v1/me").json()["authenticated_by"] == "session"

    refused = anonymous.get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.json()["error"]["status"] == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")

    key_id = re.search(r'action="[^"]*/account/keys/(\d+)/revoke"', again)
    assert key_id
    revoked = client.post(
        f"/account/keys/{key_id.group(1)}/revoke", data={"csrf_token": token_in(again)}
    )
    assert revoked.status_code == 200 and "revoked" in revoked.text
    gone = anonymous.get("/api/v1/me", headers={"Authorization": f"Bearer {api_key}"})
    assert gone.status_code == 401
    assert "invalid or revoked API key" in gone.json()["error"]["message"]


def test_pages_need_a_login(client: TestClient) -> None:
    response = client.get("/account", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount"
    page = client.get("/login?next=/account").text
    assert 'name="next" value="/account"' in page
    # only local targets
    assert 'value="/account"' in client.get("/login?next=//evil.test/x").text


def test_logout_revokes_the_server_side_session(app: Any, client: TestClient) -> None:
    sign_up(client)
    old_cookie = client.cookies.get("cw_session")
    page = client.get("/account").text
    response = client.post("/logout", data={"csrf_token": token_in(page)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert client.cookies.get("cw_session") is None
    # the old cookie, replayed by someone who kept it, no longer works
    thief = TestClient(app, cookies={"cw_session": old_cookie})
    assert thief.get("/account", follow_redirects=False).status_code == 303
    assert thief.get("/api/v1/me").status_code == 401


def test_other_sessions_can_be_revoked(app: Any, client: TestClient) -> None:
    sign_up(client)
    laptop = TestClient(app)
    assert log_in(laptop).status_code == 303
    page = client.get("/account").text
    assert page.count("Revoke</button>") == 1  # the laptop's session
    revoked = client.post("/account/sessions/revoke-others", data={"csrf_token": token_in(page)})
    assert "1 other session logged out" in revoked.text
    assert laptop.get("/account", follow_redirects=False).status_code == 303
    assert client.get("/account").status_code == 200


def test_csrf_is_required_on_every_post_form(app: Any, client: TestClient) -> None:
    anonymous_forms = {
        "/signup": {"email": EMAIL, "password": PASSWORD, "password_again": PASSWORD},
        "/login": {"email": EMAIL, "password": PASSWORD},
        "/reset": {"email": EMAIL},
        "/reset/some-token": {"password": PASSWORD, "password_again": PASSWORD},
    }
    client.get("/login")  # the anonymous form cookie
    for url, data in anonymous_forms.items():
        for token in (None, "wrong"):
            fields = dict(data) if token is None else {**data, "csrf_token": token}
            response = client.post(url, data=fields, follow_redirects=False)
            assert response.status_code == 403, (url, token, response.text[:300])
            assert "Form check failed" in response.text
    # a valid-looking token from another browser does not match this browser's cookie
    other = TestClient(app)
    foreign = form_token(other, "/login")
    response = client.post("/login", data={"email": EMAIL, "csrf_token": foreign})
    assert response.status_code == 403
    # without the cookie at all
    no_cookie = TestClient(app)
    response = no_cookie.post("/login", data={"email": EMAIL, "csrf_token": foreign})
    assert response.status_code == 403 and "cookie" in response.text

    sign_up(client)
    page = client.get("/account").text
    key = client.post("/account/keys", data={"name": "k", "csrf_token": token_in(page)})
    assert key.status_code == 201
    page = key.text
    key_id = re.search(r"/account/keys/(\d+)/revoke", page)
    session_id = re.search(r"/account/sessions/([0-9a-f]{64})/revoke", page)
    assert key_id and session_id
    logged_in_forms = {
        "/account/keys": {"name": "x"},
        f"/account/keys/{key_id.group(1)}/revoke": {},
        f"/account/sessions/{session_id.group(1)}/revoke": {},
        "/account/sessions/revoke-others": {},
        "/account/password": {
            "current_password": PASSWORD,
            "new_password": "another password",
            "new_password_again": "another password",
        },
        "/logout": {},
    }
    anonymous_token = form_token(TestClient(app), "/login")
    for url, data in logged_in_forms.items():
        for token in (None, "wrong", anonymous_token):
            fields = dict(data) if token is None else {**data, "csrf_token": token}
            response = client.post(url, data=fields, follow_redirects=False)
            assert response.status_code == 403, (url, token, response.text[:300])
    # nothing happened: still logged in, the key is still there, password unchanged
    page = client.get("/account").text
    assert "/account/keys/" in page
    # the header works in place of the field (for htmx/JSON clients)
    response = client.post(
        "/account/keys", data={"name": "by header"}, headers={"X-CSRF-Token": token_in(page)}
    )
    assert response.status_code == 201


def test_login_rate_limit_answers_429(client: TestClient) -> None:
    sign_up(client)
    client.cookies.delete("cw_session")
    for _ in range(service.MAX_FAILURES_PER_EMAIL):
        response = log_in(client, password="wrong password")
        assert response.status_code == 400
        assert "wrong email address or password" in response.text
    response = log_in(client)  # even the right password, now
    assert response.status_code == 429
    assert 800 < int(response.headers["retry-after"]) <= 900
    assert "too many login attempts" in response.text
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_password_reset_end_to_end_over_smtp(
    app: Any, client: TestClient, smtp: tuple[Mailbox, int], settings: Settings
) -> None:
    collector, _ = smtp
    sign_up(client)
    old_session = client.cookies.get("cw_session")
    other_device = TestClient(app)
    assert log_in(other_device).status_code == 303

    visitor = TestClient(app)
    token = form_token(visitor, "/reset")
    unknown = visitor.post("/reset", data={"email": "nobody@example.org", "csrf_token": token})
    known = visitor.post("/reset", data={"email": EMAIL.upper(), "csrf_token": token})
    assert unknown.status_code == known.status_code == 200
    assert "If an account exists" in known.text
    assert unknown.text.replace("nobody@example.org", "X") == known.text.replace(EMAIL.upper(), "X")
    messages = collector.wait(1)
    assert len(messages) == 1  # none for the unknown address
    message = messages[0]
    assert message["To"] == EMAIL and "Reset your clausewatch password" in message["Subject"]
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    link = re.search(r"http://clausewatch\.test/reset/(\S+)", body)
    assert link, body
    path = f"/reset/{link.group(1)}"

    form = visitor.get(path)
    assert form.status_code == 200 and EMAIL in form.text
    assert form.headers["referrer-policy"] == "no-referrer"
    mismatch = visitor.post(
        path,
        data={"password": "a new password", "password_again": "other", "csrf_token": token},
    )
    assert mismatch.status_code == 400 and "differ" in mismatch.text
    done = visitor.post(
        path,
        data={
            "password": "a brand new password",
            "password_again": "a brand new password",
            "csrf_token": token_in(form.text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/login?reset=1"
    # the link works once
    used = visitor.get(path)
    assert used.status_code == 400 and "already been used" in used.text
    # every old session is revoked
    assert other_device.get("/account", follow_redirects=False).status_code == 303
    replay = TestClient(app, cookies={"cw_session": old_session})
    assert replay.get("/api/v1/me").status_code == 401
    # the new password works, the old one does not
    assert log_in(TestClient(app)).status_code == 400
    assert log_in(TestClient(app), password="a brand new password").status_code == 303


def test_only_argon2id_hashes_are_stored(app: Any, client: TestClient, settings: Settings) -> None:
    sign_up(client)
    with app.state.archive.sessions() as session:
        account = session.scalars(select(Account)).one()
    assert account.password_hash.startswith("$argon2id$")
    cookie = client.cookies.get("cw_session")
    assert cookie
    for path in Path(settings.data_dir).iterdir():
        if path.is_file() and path.name.startswith("clausewatch.db"):
            content = path.read_bytes()
            assert PASSWORD.encode() not in content and cookie.encode() not in content


def test_signup_errors_are_clear(client: TestClient) -> None:
    sign_up(client)
    client.cookies.delete("cw_session")
    token = form_token(client, "/signup")
    for data, message in (
        ({"email": "nope", "password": PASSWORD}, "not a valid email address"),
        ({"email": "bob@example.org", "password": "short"}, "at least 10 characters"),
        (
            {"email": "bob@example.org", "password": PASSWORD, "password_again": "x"},
            "the two passwords differ",
        ),
    ):
        response = client.post("/signup", data={**data, "csrf_token": token})
        assert response.status_code == 400, data
        assert message in response.text
