"""Fuzz /api/v1 and the front doors from /openapi.json with schemathesis: never a 5xx, and a
rejected request changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from sqlalchemy import text

from api import auth as api_auth
from api.ratelimit import Windows
from app.config import reset_settings
from app.db import session_scope
from ingest import webhooks
from ingest.app import app
from tests import console_data
from tests import factories as f
from tests.api_helpers import incident, key, world

schema = schemathesis.openapi.from_asgi("/openapi.json", app)
TABLES = (
    "incidents",
    "incident_events",
    "alerts",
    "integrations",
    "routing_rules",
    "escalation_policies",
    "escalation_levels",
    "escalation_targets",
    "schedules",
    "schedule_layers",
    "schedule_overrides",
    "outgoing_webhooks",
    "notification_rules",
    "users",
    "teams",
    "change_events",
    "silences",
    "maintenance_windows",
    "maintenance_window_services",
)
KEYS: dict[str, str] = {}
INCIDENTS = (
    "SELECT md5(coalesce(string_agg(id || status || coalesce(snoozed_until::text, ''), ',' ORDER BY id), ''))"
    " FROM incidents"
)
INCIDENTS = (
    "SELECT md5(coalesce(string_agg(id || status || coalesce(snoozed_until::text, ''), ',' ORDER BY id), ''))"
    " FROM incidents"
)


def state() -> tuple:
    """Row counts of every table the API writes, and each incident's status and snooze."""
    with session_scope() as s:
        counts = tuple(s.scalar(text(f"SELECT count(*) FROM {t}")) for t in TABLES)  # noqa: S608 - fixed names
        incidents = s.scalar(text(INCIDENTS))
        revoked = s.scalar(text("SELECT count(*) FROM integrations WHERE revoked_at IS NOT NULL"))
    return counts, incidents, revoked


@pytest.fixture(scope="module")
def keys(database_url: str, redis_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """An admin key with every scope, a live incident, and generous rates so bodies reach the code.

    On a database of its own: accepted fuzz requests commit whatever they made (silences that match
    every alert, windows, users), which must not reach the tests that share the run's database.
    """
    with console_data.database_for_console():
        mp = pytest.MonkeyPatch()
        mp.setenv("SLAR_API_RATE_PER_MINUTE", "1000000")
        reset_settings()
        mp.setattr(api_auth, "windows", Windows())
        w = world()
        incident(w.service_a)
        KEYS["admin"] = key(w.admin)
        with session_scope() as s:
            for kind in ("pagerduty", "opsgenie", "alertmanager"):
                integ, token = f.integration(s, w.service_a, kind)
                integ.rate_per_s, integ.rate_burst = 10_000, 10_000
                KEYS[kind] = token
        yield KEYS
        mp.undo()
        reset_settings()
        webhooks.buckets = type(webhooks.buckets)()


@schema.include(path_regex="^/api/v1/").parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_5xx_and_refusals_change_nothing(case, keys: dict[str, str]) -> None:
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.headers = {**headers, "Authorization": f"Bearer {keys['admin']}"}
    before = state()
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, case.body, response.text)
    if response.status_code >= 400:
        assert state() == before, (case.method, case.path, case.body, response.text)
        # 405 is the router's own answer for a method no route has, before any API code runs.
        assert response.status_code == 405 or "error" in response.json(), response.text


@schema.include(path_regex="^/(v2|integrations|generic)/").parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_front_doors_never_5xx(case, keys: dict[str, str]) -> None:
    if case.path.startswith("/v2/alerts"):
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        case.headers = {**headers, "Authorization": f"GenieKey {keys['opsgenie']}"}
    if "token" in (case.path_parameters or {}):
        case.path_parameters = {
            **case.path_parameters,
            "integration_type": "alertmanager",
            "token": keys["alertmanager"],
        }
    if case.path.startswith("/v2/") and "enqueue" in case.path and isinstance(case.body, dict):
        case.body = {**case.body, "routing_key": keys["pagerduty"]}
    if case.path.startswith("/generic/") and isinstance(case.body, dict):
        case.body = {**case.body, "service_key": keys["pagerduty"]}
    before = state()
    response = case.call()
    assert response.status_code < 500, (case.path, case.body, response.text)
    if response.status_code >= 400:
        assert state() == before, (case.path, case.body, response.text)


def test_openapi_is_3_1_and_docs_are_served(database_url: str) -> None:
    with TestClient(app) as client:
        spec = client.get("/openapi.json").json()
        assert spec["openapi"].startswith("3.1")
        for path in (
            "/api/v1/alert_groups",
            "/api/v1/oncalls",
            "/v2/enqueue",
            "/generic/2010-04-15/create_event.json",
            "/v2/alerts/{identifier}/close",
        ):
            assert path in spec["paths"]
        assert client.get("/docs").status_code == 200
