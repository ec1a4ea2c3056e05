"""The web API fuzzed from its own OpenAPI schema (schemathesis): the schema the real app serves at
/api/openapi.json, requests generated from it (valid and invalid) sent to the real app over HTTP, in
front of the real trails server of the test's home, with one live echo-agent session to aim at.

Whatever comes in, the answer is never a 5xx and every error carries the engine's stable `code`.
Session creation is fuzzed with its agent pinned to the harmless echo agent (a generated command line
is never run), and every session made is killed at the end."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.web.conftest import ECHO_AGENT, Web

LIVE = "fz"  # the session made first: generated names are sometimes replaced by it, to reach past "not found"


@pytest.fixture
def api_schema(web: Web) -> Iterator[Any]:
    web.create(LIVE, mode="direct")
    headers = {"Authorization": f"Bearer {web.tokens.full}"}
    schema = schemathesis.openapi.from_url(f"{web.base}/api/openapi.json", headers=headers)
    schema.config.update(base_url=web.base)
    yield schema
    with web.http() as api:
        for session in api.get("/api/sessions", params={"all": "1"}).json()["sessions"]:
            api.post(f"/api/sessions/{session['name']}/kill", json={"force": True})


schema = schemathesis.pytest.from_fixture("api_schema")


@schemathesis.hook
def map_path_parameters(ctx: Any, path_parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    if path_parameters and "name" in path_parameters and len(str(path_parameters["name"])) % 2:
        path_parameters["name"] = LIVE
    return path_parameters


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    if ctx.operation.method.upper() == "POST" and ctx.operation.path == "/api/sessions" and isinstance(body, dict):
        body["agent"] = ECHO_AGENT
    return body


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_every_request_with_an_engine_error_or_success(case: Case, web: Web) -> None:
    headers = {"Authorization": f"Bearer {web.tokens.full}", "X-Trails-CSRF": "1", "Origin": web.base}
    response = case.call(headers=headers, timeout=60)
    # Schemathesis' own checks too (undeclared methods, content types, 2xx bodies against the schema),
    # but not "a schema-valid request was accepted": the schema gives types, the engine's rules (a
    # name's characters, a mode's preconditions) refuse many well-typed requests, with their codes.
    case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    if response.status_code >= 400:
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = None
        assert isinstance(code, str) and code, (
            f"{case.method} {case.formatted_path}: {response.status_code} without an error code: {response.text}")
