"""Input and errors (docs/security.md#input-and-errors): every route that takes an ID answers a
huge, negative, zero or malformed one with 404, never a 500; error answers keep their headers
(Retry-After on a busy export, Allow on a 405); a platform name with a line break in it, already
in the archive, still gives a deliverable alert with a one-line Subject."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from archive_fixtures import *  # noqa: F403
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from smtp_server import Mailbox
from sqlalchemy import update
from test_alerts import AFTER, T0, changed, configure, make_account  # noqa: F401
from web_fixtures import populate

from clausewatch.accounts import service
from clausewatch.alerts.dispatch import dispatch_alerts_for
from clausewatch.alerts.watchlist import add_watch
from clausewatch.archive.service import Archive
from clausewatch.config import Settings
from clausewatch.storage.models import Delivery, Platform
from clausewatch.web import create_app
from clausewatch.web.exports import _export_lock

# path parameter -> the prefix of its public ID; None: a bare row number
ID_PARAMETERS: dict[str, str | None] = {
    "document_id": "D",
    "version_id": "V",
    "provision_id": "P",
    "change_id": "C",
    "watch_id": None,
    "endpoint_id": None,
    "key_id": None,
}
# path parameters that are not IDs: strings looked up as given (404 when unknown)
OTHER_PARAMETERS = {"slug", "type_id", "sha256", "token", "filename", "session_id"}
BAD_NUMBERS = [
    "43620589864280236032",
    "9223372036854775808",
    "99999999999999999999",
    "2147483648",
    "-1",
    "0",
    "00",
    "1.5",
    "1e3",
    "abc",
    "١٢",  # Arabic-Indic digits: int() reads them, an ID may not have them
    "9" * 5000,  # beyond int()'s 4,300-digit limit
]


# the required query parameters of some routes (redlines, comparisons), well-formed
REQUIRED_QUERY = "?from=V-000001&to=V-000002&a=x&b=y&platform=x&platform=y"


def bad_values(parameter: str) -> list[str]:
    prefix = ID_PARAMETERS.get(parameter)
    if prefix is None:
        return BAD_NUMBERS
    others = "D" if prefix != "D" else "P"
    return [
        *(f"{prefix}-{n}" for n in BAD_NUMBERS),
        *BAD_NUMBERS,
        f"{others}-00001",  # another kind of ID
        f"{prefix}-",
    ]


@pytest.fixture(scope="module")
def web_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data_dir = populate(tmp_path_factory.mktemp("input") / "data")
    return create_app(Settings(data_dir=data_dir))


@pytest.fixture(scope="module")
def client(web_app: FastAPI) -> Iterator[TestClient]:
    """Signed in (session cookie and its CSRF token on every request), on the pro plan."""
    archive: Archive = web_app.state.archive
    account = service.sign_up(archive, "input@example.org", "correct horse battery staple", "pro")
    token, session = service.start_session(archive, account)
    with TestClient(web_app) as client:
        client.cookies.set("cw_session", token)
        client.headers["X-CSRF-Token"] = session.csrf_token
        yield client


def id_routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, path, parameter) of every route with a path parameter, pages and API alike."""
    found: list[tuple[str, str, str]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included router (kept nested)
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, APIRoute):
                path = prefix + route.path
                for parameter in re.findall(r"{(\w+)}", path):
                    found.extend(
                        (m, path, parameter) for m in sorted((route.methods or set()) - {"HEAD"})
                    )

    walk(app.router.routes, "")
    return found


def test_every_path_parameter_is_known(web_app: FastAPI) -> None:
    """A new route with a path parameter must be listed above, and so is tested below."""
    names = {parameter for _method, _path, parameter in id_routes(web_app)}
    assert names <= set(ID_PARAMETERS) | OTHER_PARAMETERS, names
    assert set(ID_PARAMETERS) <= names


def test_bad_ids_are_404_on_every_route(web_app: FastAPI, client: TestClient) -> None:
    routes = id_routes(web_app)
    assert {p for _m, _path, p in routes} >= set(ID_PARAMETERS)
    tried = 0
    for method, path, parameter in routes:
        values = bad_values(parameter) if parameter in ID_PARAMETERS else BAD_NUMBERS[:6]
        for value in values:
            url = path
            for other in re.findall(r"{(\w+)}", path):
                url = url.replace(f"{{{other}}}", value if other == parameter else "x")
            response = client.request(method, url + REQUIRED_QUERY, follow_redirects=False)
            tried += 1
            where = f"{method} {url[:80]} -> {response.status_code}: {response.text[:200]}"
            assert response.status_code < 500, where
            if parameter in ID_PARAMETERS:
                assert response.status_code == 404, where
    assert tried > 300


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("DELETE", "/api/v1/watches/43620589864280236032"),
        ("DELETE", "/api/v1/webhooks/9223372036854775808"),
        ("POST", "/account/keys/99999999999999999999/revoke"),
        ("GET", "/feeds/documents/D-9223372036854775808.atom"),
        ("GET", "/api/v1/documents/D-99999999999999999999"),
        ("GET", "/documents/D-99999999999999999999.pdf"),
    ],
)
def test_the_reported_overflows_are_404(client: TestClient, method: str, url: str) -> None:
    response = client.request(method, url)
    assert response.status_code == 404, response.text
    if url.startswith("/api/"):
        assert response.json()["error"]["status"] == 404


def test_a_malformed_id_in_a_query_parameter_is_422(client: TestClient) -> None:
    for url in (
        "/api/v1/provisions?document=D-99999999999999999999",
        "/api/v1/changes?document=nope",
        "/api/v1/stats/severity?document=P-00001",
        "/api/v1/documents/D-00001/redline?from=V-99999999999&to=V-000002",
    ):
        response = client.get(url)
        assert response.status_code == 422, (url, response.text)
        assert "query parameter" in response.json()["error"]["message"]


# -- headers of error answers --------------------------------------------------------------------


def test_a_busy_export_answers_503_with_retry_after(client: TestClient) -> None:
    assert _export_lock.acquire(blocking=False)
    try:
        response = client.get("/exports/clausewatch-jsonl.zip")
    finally:
        _export_lock.release()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "60"
    assert "another export" in response.text
    assert response.headers["X-Content-Type-Options"] == "nosniff"  # still a whole answer


@pytest.mark.parametrize(
    ("method", "url", "allow"),
    [
        ("DELETE", "/api/v1/stats", "GET"),
        ("PUT", "/api/v1/watches", "GET, POST"),
        ("POST", "/documents/D-00001", "GET"),
        ("PUT", "/unsubscribe/some-token", "GET, POST"),  # two routes share the path
    ],
)
def test_405_names_the_allowed_methods(client: TestClient, method: str, url: str, allow: str):
    response = client.request(method, url)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    if url.startswith("/api/"):
        assert response.json()["error"]["status"] == 405
    else:
        assert response.headers["content-type"].startswith("text/html")


# -- a line break in a platform name -------------------------------------------------------------


def test_an_alert_about_a_platform_whose_name_has_a_line_break_is_delivered(
    archive: Archive,
    changed: dict[str, int],  # noqa: F811 (pytest fixtures from test_alerts)
    smtp: tuple[Mailbox, int],
) -> None:
    """The registry and the importer refuse such names now; one already in the archive (written
    here straight to the database) must not make every alert about it fail for good."""
    sink, port = smtp
    configure(archive, smtp_port=port)
    # PostgreSQL cannot store NUL in text at all; SQLite can
    nul = "" if archive.engine.dialect.name == "postgresql" else "\x00"
    with archive.sessions() as session, session.begin():
        session.execute(
            update(Platform)
            .where(Platform.slug == "alpha")
            .values(name=f"Alpha\r\nBcc: evil@example.org{nul}")
        )
    pro = make_account(archive, "pro@example.org")
    add_watch(archive, pro, "platform", "alpha", "High", now=T0)
    assert dispatch_alerts_for(archive, archive.settings, AFTER) == 1
    (message,) = sink.messages
    subject = str(message["Subject"])
    assert "\r" not in subject and "\n" not in subject and "\x00" not in subject
    # (a long non-ASCII subject is folded in transit; unfolding may double a space)
    clean = "[High] Alpha Bcc: evil@example.org Terms of Service changed — less protective"
    assert " ".join(subject.split()) == clean
    assert message["Bcc"] is None and message["To"] == "pro@example.org"
    with archive.sessions() as session:
        statuses: list[Any] = [d.status for d in session.query(Delivery)]
    assert statuses == ["sent"]
