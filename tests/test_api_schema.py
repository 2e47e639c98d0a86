"""schemathesis over the API's OpenAPI spec, in-process, over a real archive (the OTA sample
imported and analysed): every operation, generated parameters (valid and edge-case IDs, limits,
filters). No request may end in a server error, and every response must match the documented
schema (status code, content type, body). Examples are few per operation to keep this quick;
locally each run draws new ones, CI (CI=true) replays one fixed sequence (tests/conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)
from web_fixtures import populate

from clausewatch.accounts import service
from clausewatch.alerts import watchlist
from clausewatch.config import Settings
from clausewatch.web import create_app
from clausewatch.web.app import API_PREFIX


@schemathesis.check
def error_headers(ctx: Any, response: Any, case: schemathesis.Case) -> bool | None:
    """The headers an error answer promises (docs/security.md#input-and-errors): Retry-After on
    429 and 503, Allow on 405, WWW-Authenticate on 401."""
    wanted = {429: "Retry-After", 503: "Retry-After", 405: "Allow", 401: "WWW-Authenticate"}
    name = wanted.get(response.status_code)
    if name and not response.headers.get(name.lower()):
        raise AssertionError(f"{response.status_code} without {name}")
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    error_headers,
]


@pytest.fixture(scope="module")
def web_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data_dir = populate(tmp_path_factory.mktemp("schema") / "data")
    with pytest.MonkeyPatch.context() as patch:
        # webhook URLs are generated: resolve every host to one public address, offline
        patch.setattr(watchlist, "_getaddrinfo", lambda host, port: ["93.184.216.34"])
        yield create_app(Settings(data_dir=data_dir))


@pytest.fixture(scope="module")
def auth(web_app: FastAPI) -> dict[str, str]:
    """An API key of a pro account: the watch, webhook and account operations are reached."""
    archive = web_app.state.archive
    account = service.sign_up(archive, "schema@example.org", "correct horse battery staple", "pro")
    key, _row = service.create_api_key(archive, account, "schemathesis")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def api_schema(web_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi(f"{API_PREFIX}/openapi.json", web_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, auth: dict[str, str]
) -> None:
    case.call_and_validate(checks=CHECKS, headers=auth)


def test_stateful_links_create_then_remove(
    api_schema: schemathesis.BaseSchema, auth: dict[str, str]
) -> None:
    """The OpenAPI links (POST /watches -> DELETE /watches/{id}, the same for webhooks):
    sequences of calls, each answer checked as above, and a removed record is gone."""

    class Machine(api_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": auth}

        def validate_response(self, response: Any, case: schemathesis.Case, **kw: Any) -> None:
            case.validate_response(response, checks=[*CHECKS, use_after_free])

    Machine.run(
        settings=settings(
            max_examples=15,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
    )


def test_every_path_answers_405_with_allow(
    web_app: FastAPI, api_schema: schemathesis.BaseSchema, auth: dict[str, str]
) -> None:
    """Every documented path, asked with a method it does not have: 405 naming the ones it
    has (the documented ones)."""
    from fastapi.testclient import TestClient

    with TestClient(web_app) as client:
        for path, item in api_schema.raw_schema["paths"].items():
            documented = {m.upper() for m in item if m in ("get", "post", "put", "patch", "delete")}
            url = re.sub(r"{\w+}", "1", path)
            for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - documented:
                response = client.request(method, url, headers=auth)
                assert response.status_code == 405, (method, url, response.text[:200])
                assert set(response.headers["Allow"].split(", ")) == documented, (method, url)
                assert response.json()["error"]["status"] == 405


def test_out_of_range_numbers_are_client_errors(web_app: FastAPI) -> None:
    """Found by schemathesis: an ID or offset beyond a database integer was a server error."""
    from fastapi.testclient import TestClient

    huge = "9" * 20
    with TestClient(web_app) as client:
        assert client.get(f"{API_PREFIX}/provisions/P-{huge}").status_code == 404
        assert client.get(f"{API_PREFIX}/changes?offset={huge}").status_code == 422
        assert client.get(f"/provisions/P-{huge}").status_code == 404


def test_the_spec_covers_the_api(api_schema: schemathesis.BaseSchema) -> None:
    paths = set(api_schema.raw_schema["paths"])
    assert {f"{API_PREFIX}/{p}" for p in ("stats", "provisions", "changes", "matrix")} <= paths
    assert all(p.startswith(API_PREFIX) for p in paths)  # pages are not API operations
