"""Security hardening of accounts and sessions (issue #14, items 1 and 8): atomic login, sign-up
and password-reset rate limits under real concurrency (SQLite and PostgreSQL), proxy headers
trusted only from configured proxies (real HTTP through uvicorn), absolute URLs from `base_url`
and never the Host header, other sessions revoked on a password change, a sign-up that does not
tell whether an address has an account, and the webhook SSRF guard against IPv6 forms of private
IPv4 addresses."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from archive_fixtures import *  # noqa: F403
from argon2 import PasswordHasher
from browser_fixtures import uvicorn_serving
from fastapi.testclient import TestClient
from smtp_server import Mailbox
from web_fixtures import populate

from clausewatch.accounts import service
from clausewatch.alerts.watchlist import WatchError, check_url
from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.web import create_app
from clausewatch.web.cli import SERVER_OPTIONS

PASSWORD = "correct horse battery"
EMAIL = "alice@example.org"


class CountingHasher(PasswordHasher):
    """argon2id at test-cheap parameters, counting the password checks and hashes."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8192, parallelism=1)
        self.lock = threading.Lock()
        self.verified = 0
        self.hashed = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self.lock:
            self.verified += 1
        return super().verify(hash, password)

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        with self.lock:
            self.hashed += 1
        return super().hash(password, salt=salt)


@pytest.fixture(autouse=True)
def hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingHasher]:
    counting = CountingHasher()
    monkeypatch.setattr(service, "hasher", counting)
    service._dummy_hash.cache_clear()
    yield counting
    service._dummy_hash.cache_clear()


# -- item 1: the login rate limit is atomic ----------------------------------------------------


def attempt_all(archive: Archive, logins: list[tuple[str, str]]) -> list[str]:
    """Every (email, client address) at once, with a wrong password; the outcomes by name."""
    barrier = threading.Barrier(len(logins), timeout=60)

    def one(login: tuple[str, str]) -> str:
        barrier.wait()
        try:
            service.authenticate(archive, login[0], "wrong password!", login[1])
        except service.AccountError as exc:
            return type(exc).__name__
        return "ok"

    with ThreadPoolExecutor(max_workers=len(logins)) as pool:
        return list(pool.map(one, logins))


def test_concurrent_wrong_passwords_check_five_per_email(
    archive: Archive, hasher: CountingHasher
) -> None:
    service.sign_up(archive, EMAIL, PASSWORD)
    hasher.verified = 0
    outcomes = attempt_all(archive, [(EMAIL, f"10.0.0.{i}") for i in range(40)])
    assert hasher.verified == service.MAX_FAILURES_PER_EMAIL == 5
    assert outcomes.count("InvalidCredentials") == 5
    assert outcomes.count("TooManyAttempts") == 35
    with pytest.raises(service.TooManyAttempts):  # the right password too, now
        service.authenticate(archive, EMAIL, PASSWORD, "10.0.1.1")
    assert hasher.verified == 5


def test_concurrent_wrong_passwords_check_twenty_per_client_address(
    archive: Archive, hasher: CountingHasher
) -> None:
    outcomes = attempt_all(archive, [(f"user{i}@example.org", "10.9.9.9") for i in range(30)])
    assert hasher.verified == service.MAX_FAILURES_PER_IP == 20  # the dummy hash, unknown emails
    assert outcomes.count("InvalidCredentials") == 20
    assert outcomes.count("TooManyAttempts") == 10


def test_a_successful_login_does_not_count_against_the_address(archive: Archive) -> None:
    service.sign_up(archive, EMAIL, PASSWORD)
    for _ in range(service.MAX_FAILURES_PER_IP + 5):
        service.authenticate(archive, EMAIL, PASSWORD, "10.1.1.1")
    service.set_disabled(archive, service.find_account(archive, EMAIL), True)  # type: ignore[arg-type]
    for _ in range(service.MAX_FAILURES_PER_EMAIL + 1):
        with pytest.raises(service.AccountDisabled):
            service.authenticate(archive, EMAIL, PASSWORD, "10.1.1.1")


# -- web fixtures --------------------------------------------------------------------------------


def web_settings(tmp_path: Path, **extra: Any) -> Settings:
    # http: the test clients speak plain HTTP, and https would make the cookies Secure
    return Settings(data_dir=tmp_path / "data", base_url="http://watch.example.org", **extra)


def token_in(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:2000]
    return found.group(1)


def sign_up(client: Any, email: str = EMAIL, **headers: str) -> Any:
    token = token_in(client.get("/signup").text)
    data = {"email": email, "password": PASSWORD, "password_again": PASSWORD, "csrf_token": token}
    return client.post("/signup", data=data, headers=headers, follow_redirects=False)


def log_in(client: Any, email: str = EMAIL, password: str = PASSWORD, **headers: str) -> Any:
    token = token_in(client.get("/login").text)
    data = {"email": email, "password": password, "csrf_token": token}
    return client.post("/login", data=data, headers=headers, follow_redirects=False)


class Http:
    """Real HTTP to a served app, with TestClient's call shape (`follow_redirects`)."""

    def __init__(self, base: str) -> None:
        self.base, self.session = base, requests.Session()

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.close()

    def get(self, path: str) -> requests.Response:
        return self.session.get(self.base + path, timeout=30)

    def post(
        self, path: str, *, data: dict[str, str], headers: dict[str, str], follow_redirects: bool
    ) -> requests.Response:
        return self.session.post(
            self.base + path,
            data=data,
            headers=headers,
            allow_redirects=follow_redirects,
            timeout=30,
        )


@pytest.fixture
def served() -> Iterator[Any]:
    """Start the app under uvicorn on 127.0.0.1 with `clausewatch serve`'s server options."""
    with contextlib.ExitStack() as stack:
        yield lambda settings: stack.enter_context(
            uvicorn_serving(create_app(settings), **SERVER_OPTIONS)
        )


# -- item 1b: sign-up and reset limits per client address are atomic too -----------------------


def post_at_once(base: str, path: str, forms: list[dict[str, str]]) -> list[int]:
    """Each form from its own client (its CSRF token fetched first), all posted at once."""
    clients = [Http(base) for _ in forms]
    try:
        tokens = [token_in(client.get(path).text) for client in clients]
        barrier = threading.Barrier(len(forms), timeout=60)

        def one(i: int) -> int:
            barrier.wait()
            data = {**forms[i], "csrf_token": tokens[i]}
            return clients[i].post(path, data=data, headers={}, follow_redirects=False).status_code

        with ThreadPoolExecutor(max_workers=len(forms)) as pool:
            return list(pool.map(one, range(len(forms))))
    finally:
        for client in clients:
            client.session.close()


def test_concurrent_signups_from_one_address_stop_at_the_limit(
    tmp_path: Path, backend: str | None, served: Any, hasher: CountingHasher
) -> None:
    from clausewatch.web.accounts import SIGNUPS_PER_HOUR_PER_IP

    settings = web_settings(tmp_path, database_url=backend)
    url = served(settings)
    forms = [
        {"email": f"new{i}@example.org", "password": PASSWORD, "password_again": PASSWORD}
        for i in range(25)
    ]
    statuses = post_at_once(url, "/signup", forms)
    assert statuses.count(303) == SIGNUPS_PER_HOUR_PER_IP == 10, statuses
    assert statuses.count(429) == 15, statuses
    assert hasher.hashed == 10  # the refused ones never reached the hasher
    archive = Archive.open(settings, migrate=False)
    try:
        assert len(service.list_accounts(archive)) == 10
    finally:
        archive.close()


def test_concurrent_reset_requests_from_one_address_stop_at_the_limit(
    tmp_path: Path, backend: str | None, served: Any
) -> None:
    from clausewatch.storage.models import PasswordReset
    from clausewatch.web.accounts import RESETS_PER_HOUR_PER_IP

    settings = web_settings(tmp_path, database_url=backend, smtp_port=9)  # nothing listens
    archive = Archive.open(settings)
    try:
        service.sign_up(archive, EMAIL, PASSWORD)
        url = served(settings)
        statuses = post_at_once(url, "/reset", [{"email": EMAIL}] * 25)
        assert statuses.count(200) == RESETS_PER_HOUR_PER_IP == 10, statuses
        assert statuses.count(429) == 15, statuses
        with archive.sessions() as session:  # and at most 3 reset emails an hour per account
            tokens = session.query(PasswordReset).count()
        assert tokens == service.MAX_RESETS_PER_HOUR == 3
    finally:
        archive.close()


def test_concurrent_reset_requests_for_one_account_make_three_tokens(archive: Archive) -> None:
    service.sign_up(archive, EMAIL, PASSWORD)
    barrier = threading.Barrier(20, timeout=60)

    def one(_: int) -> bool:
        barrier.wait()
        return service.prepare_password_reset(archive, archive.settings, EMAIL) is not None

    with ThreadPoolExecutor(max_workers=20) as pool:
        made = list(pool.map(one, range(20)))
    assert made.count(True) == service.MAX_RESETS_PER_HOUR == 3


# -- item 8a: X-Forwarded-For only from configured proxies -------------------------------------


def test_forwarded_for_from_loopback_is_ignored_by_default(tmp_path: Path, served: Any) -> None:
    assert web_settings(tmp_path).trusted_proxies == []
    url = served(web_settings(tmp_path))
    statuses = []
    with Http(url) as client:
        for i in range(25):  # a fresh email each time: only the client-address limit applies
            forged = {"X-Forwarded-For": f"203.0.113.{i}"}
            statuses.append(log_in(client, f"u{i}@example.org", **forged).status_code)
    assert statuses == [400] * service.MAX_FAILURES_PER_IP + [429] * 5


def test_forwarded_for_from_a_trusted_proxy_names_the_client(tmp_path: Path, served: Any) -> None:
    url = served(web_settings(tmp_path, trusted_proxies=["127.0.0.1", "10.0.0.0/8"]))
    with Http(url) as client:
        for i in range(25):  # each forwarded address is a client of its own: no 429
            # the left entry is the client's own claim; the right-most untrusted one counts
            chain = {"X-Forwarded-For": f"198.51.100.1, 203.0.113.{i}, 10.0.0.7"}
            assert log_in(client, f"u{i}@example.org", **chain).status_code == 400
        for i in range(service.MAX_FAILURES_PER_IP):
            forged = {"X-Forwarded-For": "198.51.100.1, 192.0.2.1"}
            assert log_in(client, f"v{i}@example.org", **forged).status_code == 400
        forged = {"X-Forwarded-For": "203.0.113.250, 192.0.2.1"}
        assert log_in(client, "w@example.org", **forged).status_code == 429


def test_trusted_proxies_must_be_addresses(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="trusted_proxies"):
        web_settings(tmp_path, trusted_proxies=["proxy.example.org"])


# -- item 8b: absolute URLs from base_url, never the Host header ---------------------------------


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return populate(tmp_path_factory.mktemp("security") / "data")


def test_a_forged_host_header_reaches_no_link_or_citation(sample_dir: Path) -> None:
    settings = Settings(data_dir=sample_dir, base_url="https://watch.example.org")
    forged = {"Host": "evil.example"}
    with TestClient(create_app(settings)) as client:
        provision = client.get("/api/v1/provisions?limit=1").json()["items"][0]["id"]
        version = client.get(f"/api/v1/provisions/{provision}").json()["evidence"]["version"]
        for path in (
            f"/provisions/{provision}",  # links, share links, the citation on the page
            f"/api/v1/provisions/{provision}/citation",
            f"/api/v1/provisions/{provision}/citation?format=bibtex",
            f"/api/v1/versions/{version}",
            "/login",  # form actions
            "/signup",
            "/",
        ):
            for headers in (forged, {}):  # the forged answer must not reach the cache either
                response = client.get(path, headers=headers)
                assert response.status_code == 200, (path, response.text[:300])
                assert "evil.example" not in response.text, path
                assert "testserver" not in response.text, path
        page = client.get(f"/provisions/{provision}", headers=forged).text
        assert f"https://watch.example.org/provisions/{provision}" in page  # the permalink
        assert 'action="/' in client.get("/login", headers=forged).text
        citation = client.get(f"/api/v1/provisions/{provision}/citation", headers=forged).text
        assert f"URL: https://watch.example.org/provisions/{provision}" in citation


# -- item 8c: a password change logs out the other sessions -------------------------------------


def test_changing_the_password_revokes_the_other_sessions(tmp_path: Path) -> None:
    app = create_app(web_settings(tmp_path))
    with TestClient(app) as here, TestClient(app) as elsewhere, TestClient(app) as third:
        assert sign_up(here).status_code == 303
        assert log_in(elsewhere).status_code == 303 and log_in(third).status_code == 303
        assert elsewhere.get("/account", follow_redirects=False).status_code == 200

        token = token_in(here.get("/account").text)
        response = here.post(
            "/account/password",
            data={
                "current_password": PASSWORD,
                "new_password": "a brand new password",
                "new_password_again": "a brand new password",
                "csrf_token": token,
            },
        )
        assert response.status_code == 200, response.text[:500]
        assert "Password changed; 2 other sessions logged out." in response.text
        assert here.get("/account", follow_redirects=False).status_code == 200  # this one stays
        for other in (elsewhere, third):
            response = other.get("/account", follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"].startswith("/login")
        assert log_in(third, password="a brand new password").status_code == 303


def test_change_password_in_the_service_keeps_only_the_named_session(archive: Archive) -> None:
    account = service.sign_up(archive, EMAIL, PASSWORD)
    keep, _ = service.start_session(archive, account)
    other, _ = service.start_session(archive, account)
    assert (
        service.change_password(archive, account, PASSWORD, "another password!", keep_session=keep)
        == 1
    )
    assert service.session_account(archive, keep) is not None
    assert service.session_account(archive, other) is None
    assert service.change_password(archive, account, "another password!", PASSWORD) == 1  # all


# -- item 8d: sign-up does not tell whether an address has an account --------------------------


def test_signup_answers_alike_for_new_and_existing_addresses(
    tmp_path: Path, smtp: tuple[Mailbox, int], hasher: CountingHasher
) -> None:
    collector, port = smtp
    app = create_app(web_settings(tmp_path, smtp_host="127.0.0.1", smtp_port=port))
    with TestClient(app) as first:
        assert sign_up(first).status_code == 303
    answers = []
    for email in ("bob@example.org", EMAIL):  # new, then existing
        with TestClient(app) as client:
            hasher.hashed = 0
            response = sign_up(client, email)
            answers.append(
                (
                    response.status_code,
                    response.headers["location"],
                    response.text,
                    response.headers["cache-control"],
                    re.sub(r"cw_session=[^;]+", "cw_session=X", response.headers["set-cookie"]),
                    hasher.hashed,  # one password hash either way: the same work
                )
            )
            opened = client.get("/account", follow_redirects=False).status_code
            assert opened == (200 if email != EMAIL else 303)
    assert answers[0] == answers[1]
    assert answers[0][:2] == (303, "/account") and answers[0][-1] == 1

    (notice,) = collector.wait(1)
    assert notice["To"] == EMAIL and "already has an account" in notice.get_content()
    assert "http://watch.example.org/reset" in notice.get_content()
    archive = app.state.archive
    assert service.authenticate(archive, EMAIL, PASSWORD, "10.0.0.1").email == EMAIL


# -- item 8e: IPv6 forms of private IPv4 addresses are private -----------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254 (cloud metadata)
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1 (NOT of 80ff:fffe)
        "2001:0:a00:1:8000:63bf:f7f7:f7f7",  # Teredo through a private server (10.0.0.1)
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1::808:808",  # local-use NAT64: never public
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:192.168.1.1",
        "::127.0.0.1",  # IPv4-compatible
        "::10.0.0.1",
    ],
)
def test_ipv6_forms_of_private_addresses_are_refused(address: str) -> None:
    with pytest.raises(WatchError, match="private"):
        check_url(
            "https://hooks.example.org/x", allow_private=False, resolver=lambda h, p: [address]
        )


@pytest.mark.parametrize(
    "address",
    [
        "2002:808:808::1",  # 6to4 of 8.8.8.8
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7",  # Teredo, client 8.8.8.8
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "::ffff:8.8.8.8",
        "2606:4700:4700::1111",
    ],
)
def test_ipv6_forms_of_public_addresses_pass(address: str) -> None:
    url = "https://hooks.example.org/x"
    assert check_url(url, allow_private=False, resolver=lambda h, p: [address]) == url
