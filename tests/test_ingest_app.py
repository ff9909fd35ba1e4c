"""The ingest HTTP contract, end to end through FastAPI on the run's real Postgres and Redis."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.alerts import service as alerts
from app.config import reset_settings
from app.db import reset_engines, session_scope
from app.directory import service as directory
from app.directory.models import Integration
from app.incidents.models import Alert, Incident
from ingest.app import app
from tests import factories as f
from tests.sns_signing import sign, sns_certificates

PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str) -> bytes:
    raw = (PAYLOADS / name).read_bytes()
    # SNS messages count only when signed: signed here with the test certificate the client serves.
    return json.dumps(sign(json.loads(raw))).encode() if name.startswith("cloudwatch/") else raw


@pytest.fixture()
def client(database_url: str, redis_env: dict[str, str]) -> Iterator[TestClient]:
    with sns_certificates(), TestClient(app) as c:
        yield c


def make_integration(kind: str, *, policy: bool = True, **fields: Any) -> tuple[int, str]:
    with session_scope() as s:
        u = f.user(s)
        svc = f.service(s, policy_id=f.policy_for(s, [u]) if policy else None)
        integ, token = f.integration(s, svc.id, kind)
        for k, v in fields.items():
            setattr(integ, k, v)
        s.flush()
        return integ.id, token


def count(model: Any, *where: Any) -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def queued_escalations(redis_env: dict[str, str]) -> list[list[Any]]:
    client = redis.Redis.from_url(redis_env["REDIS_URL"])
    out = []
    for key in client.scan_iter(f"{redis_env['REDIS_NAMESPACE']}-dramatiq:escalation*.msgs"):
        for raw in client.hvals(key):
            out.append(json.loads(raw)["args"])
    return out


def test_alertmanager_webhook_is_stored_once_and_kicked_once(client: TestClient, redis_env) -> None:
    integ_id, token = make_integration("alertmanager")
    first = client.post(f"/webhooks/alertmanager/{token}", content=payload("alertmanager/firing.json"))
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["alerts"] == 2 and len(body["incidents"]) == 1
    again = client.post(f"/webhooks/alertmanager/{token}", content=payload("alertmanager/firing.json"))
    assert again.status_code == 202 and again.json() == body
    inc_id = body["incidents"][0]
    assert count(Alert, Alert.integration_id == integ_id) == 2
    assert count(Incident, Incident.id == inc_id, Incident.status == "triggered") == 1
    with session_scope() as s:
        token_of = s.get(Incident, inc_id).escalation_token
        assert s.get(Integration, integ_id).last_seen_at is not None
    assert queued_escalations(redis_env).count([inc_id, token_of]) == 1
    done = client.post(f"/webhooks/alertmanager/{token}", content=payload("alertmanager/resolved.json"))
    assert done.status_code == 202 and done.json()["incidents"] == [inc_id]
    assert count(Incident, Incident.id == inc_id, Incident.resolved_by_kind == "source") == 1


def test_bearer_token_and_every_source_kind(client: TestClient) -> None:
    for kind, name in [
        ("grafana", "grafana/unified.json"),
        ("datadog", "datadog/custom_triggered.json"),
        ("cloudwatch", "cloudwatch/alarm.json"),
        ("generic", "generic/trigger.json"),
    ]:
        _, token = make_integration(kind, policy=False)
        r = client.post(
            f"/webhooks/{kind}", content=payload(name), headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status_code == 202 and r.json()["alerts"] == 1, (kind, r.text)
        wrong = client.post(
            f"/webhooks/{kind}", content=payload(name), headers={"Authorization": f"Basic {token}"}
        )
        assert wrong.status_code == 401 and wrong.json()["field"] == "token"


def test_sns_subscription_confirmation_is_recorded_not_fetched(client: TestClient) -> None:
    integ_id, token = make_integration("cloudwatch")
    r = client.post(
        f"/webhooks/cloudwatch/{token}",
        content=payload("cloudwatch/subscription_confirmation.json"),
        headers={"Content-Type": "text/plain; charset=UTF-8"},  # what SNS actually sends
    )
    assert r.status_code == 202 and r.json() == {"alerts": 0, "incidents": []}
    with session_scope() as s:
        (sub,) = alerts.sns_subscriptions(session=s, integration_id=integ_id)
        assert "Action=ConfirmSubscription" in sub.subscribe_url and sub.confirmed_at is None


def test_refusals_name_the_field_and_change_nothing(client: TestClient) -> None:
    integ_id, token = make_integration("generic")
    url = f"/webhooks/generic/{token}"
    cases = [
        (client.post("/webhooks/nagios/x", json={}), 404, "source"),
        (client.post("/webhooks/generic/whk_not-a-token", json={}), 401, "token"),
        (client.post("/webhooks/generic", json={}), 401, "token"),
        (client.post(url, content=b"{not json"), 422, "body"),
        (client.post(url, json={"event_action": "trigger"}), 422, "summary"),
        (
            client.post(url, json={"event_action": "trigger", "summary": "x", "severity": "bad"}),
            422,
            "severity",
        ),
        (client.post(url, content=b"[" + b" " * (512 * 1024) + b"]"), 413, "body"),
        (client.post(url, content=b"[" * 300_000 + b"]" * 300_000), 413, "body"),
        (client.post(url, content=b"[" * 100_000 + b"]" * 100_000), 422, "body"),
        (client.post(url, content=b"\xff\xfe"), 422, "body"),
        (
            client.post(f"/webhooks/alertmanager/{token}", content=payload("alertmanager/firing.json")),
            401,
            "token",
        ),
    ]
    for response, status, field in cases:
        assert (response.status_code, response.json()["field"]) == (status, field), response.text
    assert count(Alert, Alert.integration_id == integ_id) == 0
    with session_scope() as s:
        assert s.get(Integration, integ_id).last_seen_at is None


def test_revoked_and_disabled_integrations(client: TestClient) -> None:
    integ_id, token = make_integration("generic", disabled=True)
    r = client.post(f"/webhooks/generic/{token}", content=payload("generic/trigger.json"))
    assert r.status_code == 403
    with session_scope() as s:
        directory.revoke_integration(session=s, integration_id=integ_id)
    r = client.post(f"/webhooks/generic/{token}", content=payload("generic/trigger.json"))
    assert r.status_code == 401 and count(Alert, Alert.integration_id == integ_id) == 0


def test_rate_limit_answers_429_with_retry_after(client: TestClient) -> None:
    _, token = make_integration("generic", rate_per_s=1, rate_burst=3)
    codes = [
        client.post(f"/webhooks/generic/{token}", content=payload("generic/trigger.json")) for _ in range(5)
    ]
    assert [r.status_code for r in codes] == [202, 202, 202, 429, 429]
    assert int(codes[3].headers["Retry-After"]) >= 1


def test_metrics_count_requests_and_alert_outcomes(client: TestClient) -> None:
    _, token = make_integration("datadog", policy=False)
    client.post(f"/webhooks/datadog/{token}", content=payload("datadog/default.json"))
    client.post(f"/webhooks/datadog/{token}", content=payload("datadog/default.json"))
    text = client.get("/metrics").text
    assert 'slar_ingest_requests_total{source="datadog",status="202"}' in text
    assert 'slar_ingest_alerts_total{outcome="duplicate",source="datadog"}' in text
    assert 'slar_ingest_request_seconds_bucket{le="0.05",source="datadog"}' in text


def test_health_reports_each_store(client: TestClient, redis_env) -> None:
    ok = client.get("/health")
    assert ok.status_code == 200 and ok.json() == {"status": "ok", "postgres": "ok", "redis": "ok"}
    os.environ["REDIS_URL"] = "redis://127.0.0.1:1/0"
    reset_settings()
    try:
        # Webhooks are still stored without Redis (the sweeper re-derives the work): still ready.
        for path in ("/health", "/health/ready"):
            down = client.get(path)
            assert down.status_code == 200 and down.json() == {
                "status": "ok",
                "postgres": "ok",
                "redis": "down",
            }
    finally:
        os.environ["REDIS_URL"] = redis_env["REDIS_URL"]
        reset_settings()


def test_postgres_down_is_a_503_not_a_500(client: TestClient, database_url: str) -> None:
    os.environ["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/nothing"
    reset_settings()
    reset_engines()
    try:
        assert client.get("/health").json()["postgres"] == "down"
        assert client.get("/health/ready").status_code == 503
        assert client.get("/health/live").status_code == 200
        r = client.post("/webhooks/generic/whk_x", content=payload("generic/trigger.json"))
        assert r.status_code == 503 and "Retry-After" in r.headers
    finally:
        os.environ["DATABASE_URL"] = database_url
        reset_settings()
        reset_engines()


def test_access_log_never_shows_a_token() -> None:
    import logging

    from ingest.logs import RedactTokens

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "POST", "/webhooks/generic/whk_secretsecretsecret?x=1", "1.1", 202),
        None,
    )
    RedactTokens().filter(record)
    line = record.getMessage()
    assert "whk_secr" in line and "secretsecret" not in line and "?x=1" in line


def test_app_serves_the_other_ingest_routers_and_the_docs(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/webhooks/{source}/{token}", "/webhooks/{source}", "/health", "/metrics"} <= set(paths)
    assert {"/slack/events", "/heartbeats/{token}", "/calendars/{token}.ics"} <= set(paths)
    assert client.get("/docs").status_code == 200
    described = paths["/webhooks/{source}/{token}"]["post"]["description"]
    assert all(
        f"### {kind}" in described for kind in ("alertmanager", "grafana", "datadog", "cloudwatch", "generic")
    )
