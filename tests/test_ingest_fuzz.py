"""Fuzz the ingest OpenAPI spec with schemathesis: whatever arrives, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from app.db import session_scope
from ingest import webhooks
from ingest.app import app
from ingest.sources import SOURCES
from tests import factories as f

schema = schemathesis.openapi.from_asgi("/openapi.json", app)
TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def valid_tokens(database_url: str, redis_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """A real, generously rate-limited integration per source, so fuzzed bodies reach the parsers."""
    with session_scope() as s:
        svc = f.service(s)
        for kind in SOURCES:
            integ, token = f.integration(s, svc.id, kind)
            integ.rate_per_s, integ.rate_burst = 10_000, 10_000
            TOKENS[kind] = token
    yield TOKENS
    webhooks.buckets = type(webhooks.buckets)()


@schema.include(path_regex="^/(webhooks|metrics)").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_with_random_tokens(case, database_url: str, redis_env: dict[str, str]) -> None:
    response = case.call()
    assert response.status_code < 500, (case.path, case.body, response.text)


@schema.include(path_regex="^/webhooks/").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_with_valid_tokens(case, valid_tokens: dict[str, str]) -> None:
    source = case.path_parameters.get("source")
    kind = source if source in valid_tokens else "generic"
    case.path_parameters["source"] = kind
    if "token" in case.path_parameters:
        case.path_parameters["token"] = valid_tokens[kind]
    else:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {valid_tokens[kind]}"}
    response = case.call()
    assert response.status_code < 500, (case.path, case.body, response.text)
    if case.method.upper() == "POST":
        # With a valid token only the body can be at fault: stored, too large, or refused by name
        # (an SNS message the fuzzer cannot sign is refused as unsigned).
        allowed = (202, 401, 413, 422) if kind == "cloudwatch" else (202, 413, 422)
        assert response.status_code in allowed, response.text
