"""schemathesis over the API's OpenAPI spec, in-process, over a real archive (the OTA sample
imported and analysed): every operation, generated parameters (valid and edge-case IDs, limits,
filters). No request may end in a server error, and every response must match the documented
schema (status code, content type, body). Examples are few per operation to keep this quick;
locally each run draws new ones, CI (CI=true) replays one fixed sequence (tests/conftest.py)."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from web_fixtures import populate

from clausewatch.config import Settings
from clausewatch.web import create_app
from clausewatch.web.app import API_PREFIX

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def web_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    data_dir = populate(tmp_path_factory.mktemp("schema") / "data")
    return create_app(Settings(data_dir=data_dir))


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
def test_every_operation_answers_as_documented(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


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
