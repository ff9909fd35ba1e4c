"""PagerDuty Events v2, Opsgenie Alert API and Grafana OnCall URLs, through HTTP on real Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api import ids
from app.db import session_scope
from app.directory.models import Integration
from app.incidents.models import Alert, Incident
from app.webhooks.models import ChangeEvent
from ingest import webhooks
from ingest.app import app
from tests import factories as f
from tests.api_helpers import auth, key


@pytest.fixture()
def client(database_url: str, redis_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def integration(kind: str, flap_window_seconds: int = 0) -> tuple[int, int, str]:
    with session_scope() as s:
        svc = f.service(s, policy_id=f.policy_for(s, [f.user(s)]))
        integ, token = f.integration(s, svc.id, kind)
        integ.flap_window_seconds = flap_window_seconds
        return svc.id, integ.id, token


def incidents_of(service_id: int) -> list[tuple[int, str]]:
    with session_scope() as s:
        rows = s.execute(
            select(Incident.id, Incident.status)
            .where(Incident.service_id == service_id)
            .order_by(Incident.id)
        )
        return [(i, st) for i, st in rows]


def alerts_of(service_id: int) -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(Alert).where(Alert.service_id == service_id)) or 0


def pd(token: str, action: str, dedup: str | None = "disk-1", **payload: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"routing_key": token, "event_action": action}
    if dedup:
        event["dedup_key"] = dedup
    if action == "trigger":
        event["payload"] = {"summary": "Disk full", "source": "db-1", "severity": "critical", **payload}
    return event


def test_pagerduty_dedup_key_semantics(client: TestClient) -> None:
    svc, _, token = integration("pagerduty")
    # Acknowledge or resolve with nothing open: accepted, nothing happens.
    for action in ("acknowledge", "resolve"):
        r = client.post("/v2/enqueue", json=pd(token, action))
        assert r.status_code == 202 and r.json()["status"] == "success"
    assert incidents_of(svc) == []
    first = client.post(
        "/v2/enqueue",
        json=pd(
            token,
            "trigger",
            component="postgres",
            group="prod",
            custom_details={"free": "1%"},
            timestamp="2026-01-01T10:00:00Z",
        ),
    )
    assert first.status_code == 202
    assert first.json() == {"status": "success", "message": "Event processed", "dedup_key": "disk-1"}
    assert client.post("/v2/enqueue", json=pd(token, "trigger")).status_code == 202  # a repeat
    [(inc, status)] = incidents_of(svc)
    assert status == "triggered" and alerts_of(svc) == 1
    assert client.post("/v2/enqueue", json=pd(token, "acknowledge")).status_code == 202
    assert incidents_of(svc) == [(inc, "acknowledged")]
    assert client.post("/v2/enqueue", json=pd(token, "resolve")).status_code == 202
    assert incidents_of(svc) == [(inc, "resolved")]
    # After resolve the same key opens a new alert (and, with no flap window, a new incident).
    assert client.post("/v2/enqueue", json=pd(token, "trigger")).status_code == 202
    assert [st for _, st in incidents_of(svc)] == ["resolved", "triggered"] and alerts_of(svc) == 2
    with session_scope() as s:
        alert = s.scalars(select(Alert).where(Alert.service_id == svc).order_by(Alert.id)).first()
        assert alert.labels["component"] == "postgres" and alert.annotations == {"free": "1%"}
        assert alert.severity == "critical" and alert.starts_at.year == 2026


def test_pagerduty_trigger_without_dedup_key_gets_a_stable_one(client: TestClient) -> None:
    svc, _, token = integration("pagerduty")
    a = client.post("/v2/enqueue", json=pd(token, "trigger", dedup=None)).json()["dedup_key"]
    b = client.post("/v2/enqueue", json=pd(token, "trigger", dedup=None)).json()["dedup_key"]
    assert a == b and alerts_of(svc) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_action": "explode"}, "event_action"),
        ({"payload": {"summary": "x", "source": "y", "severity": "fatal"}}, "payload.severity"),
        ({"payload": {"source": "y", "severity": "info"}}, "payload.summary"),
        ({"routing_key": None}, "routing_key"),
    ],
)
def test_pagerduty_invalid_event_is_400_and_stores_nothing(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    svc, _, token = integration("pagerduty")
    body = {**pd(token, "trigger"), **change}
    r = client.post("/v2/enqueue", json=body)
    assert r.status_code == 400
    assert r.json()["status"] == "invalid event" and any(field in e for e in r.json()["errors"])
    assert alerts_of(svc) == 0


def test_pagerduty_unknown_key_wrong_kind_and_rate(client: TestClient) -> None:
    r = client.post("/v2/enqueue", json=pd("whk_unknown", "trigger"))
    assert r.status_code == 400 and "routing key" in r.json()["errors"][0]
    _, _, generic = integration("generic")
    assert client.post("/v2/enqueue", json=pd(generic, "trigger")).status_code == 400
    _, integ_id, token = integration("pagerduty")
    with session_scope() as s:
        row = s.get(Integration, integ_id)
        row.rate_per_s, row.rate_burst = 1, 1
    try:
        answers = [client.post("/v2/enqueue", json=pd(token, "trigger")).status_code for _ in range(3)]
    finally:
        webhooks.buckets = type(webhooks.buckets)()
    assert answers[0] == 202 and 429 in answers


def test_pagerduty_change_events_are_recorded_and_page_nobody(client: TestClient) -> None:
    svc, integ_id, token = integration("pagerduty")
    body = {
        "routing_key": token,
        "payload": {"summary": "Deployed v42", "source": "ci", "timestamp": "2026-01-01T10:00:00Z"},
        "links": [{"href": "https://ci.test/42", "text": "build"}],
    }
    r = client.post("/v2/change/enqueue", json=body)
    assert r.status_code == 202 and r.json() == {"status": "success", "message": "Change event processed"}
    bad = client.post("/v2/change/enqueue", json={"routing_key": token, "payload": {}})
    assert bad.status_code == 400 and "payload.summary" in bad.json()["errors"][0]
    with session_scope() as s:
        rows = s.scalars(select(ChangeEvent).where(ChangeEvent.integration_id == integ_id)).all()
        assert [c.summary for c in rows] == ["Deployed v42"] and rows[0].links[0][
            "href"
        ] == "https://ci.test/42"
    assert incidents_of(svc) == []
    with session_scope() as s:
        admin_id = f.user(s, role="admin").id
    listed = client.get(
        f"/api/v1/integrations/{ids.encode('integration', integ_id)}/change_events",
        headers=auth(key(admin_id)),
    ).json()
    assert [c["summary"] for c in listed] == ["Deployed v42"] and listed[0]["timestamp"].startswith(
        "2026-01-01"
    )


def genie(token: str) -> dict[str, str]:
    return {"Authorization": f"GenieKey {token}"}


def test_opsgenie_create_ack_close_by_alias(client: TestClient) -> None:
    svc, _, token = integration("opsgenie")
    alert = {
        "message": "CPU hot",
        "alias": "cpu-web-1",
        "priority": "P1",
        "tags": ["web"],
        "details": {"a": 1},
    }
    r = client.post("/v2/alerts", json=alert, headers=genie(token))
    assert r.status_code == 202 and r.json()["result"] == "Request will be processed"
    assert r.json()["requestId"] and isinstance(r.json()["took"], float)
    assert client.post("/v2/alerts", json=alert, headers=genie(token)).status_code == 202
    [(inc, status)] = incidents_of(svc)
    assert status == "triggered" and alerts_of(svc) == 1
    r = client.post("/v2/alerts/cpu-web-1/acknowledge?identifierType=alias", json={}, headers=genie(token))
    assert r.status_code == 202 and incidents_of(svc) == [(inc, "acknowledged")]
    r = client.post(
        "/v2/alerts/cpu-web-1/close?identifierType=alias", json={"note": "ok"}, headers=genie(token)
    )
    assert r.status_code == 202 and incidents_of(svc) == [(inc, "resolved")]
    # Closing again, or an alias never seen: accepted, nothing changes.
    assert client.post("/v2/alerts/nope/close?identifierType=alias", headers=genie(token)).status_code == 202
    assert incidents_of(svc) == [(inc, "resolved")]
    with session_scope() as s:
        stored = s.scalar(select(Alert).where(Alert.service_id == svc))
        assert stored.severity == "critical" and stored.labels["tags"] == "web"


def test_opsgenie_close_by_slar_alert_id_and_errors(client: TestClient) -> None:
    svc, _, token = integration("opsgenie")
    client.post("/v2/alerts", json={"message": "Queue stuck", "alias": "q"}, headers=genie(token))
    with session_scope() as s:
        alert_id = s.scalar(select(Alert.id).where(Alert.service_id == svc))
    r = client.post(f"/v2/alerts/{ids.encode('alert', alert_id)}/close", headers=genie(token))
    assert r.status_code == 202 and incidents_of(svc)[0][1] == "resolved"
    r = client.post("/v2/alerts", json={"message": "", "alias": "x"}, headers=genie(token))
    assert r.status_code == 422 and "message" in r.json()["message"]
    r = client.post("/v2/alerts", json={"message": "x", "priority": "P9"}, headers=genie(token))
    assert r.status_code == 422 and "priority" in r.json()["message"]
    assert client.post("/v2/alerts", json={"message": "x"}).status_code == 401
    assert client.post("/v2/alerts", json={"message": "x"}, headers=genie("whk_bad")).status_code == 401
    assert client.post("/v2/alerts/zzz/close", headers=genie(token)).status_code == 422
    assert alerts_of(svc) == 1


def test_grafana_oncall_integration_urls_keep_working(client: TestClient) -> None:
    svc, _, token = integration("alertmanager")
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "oncall",
        "groupKey": '{}:{alertname="Down"}',
        "groupLabels": {"alertname": "Down"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Down", "instance": "a"},
                "annotations": {"summary": "a is down"},
                "startsAt": "2026-01-01T10:00:00Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "abc",
            }
        ],
    }
    r = client.post(f"/integrations/v1/alertmanager/{token}/", json=body)
    assert r.status_code == 202, r.text
    assert client.post(f"/integrations/v1/alertmanager/{token}", json=body).status_code == 202
    assert alerts_of(svc) == 1 and len(incidents_of(svc)) == 1
    assert client.post(f"/integrations/v1/zabbix/{token}/", json=body).status_code == 404
    # The token must belong to an integration of the matching kind.
    assert client.post(f"/integrations/v1/grafana/{token}/", json=body).status_code == 401


def test_oncall_formatted_webhook_fires_and_resolves_by_alert_uid(client: TestClient) -> None:
    svc, _, token = integration("generic")
    body = {
        "alert_uid": "08d6891a-835c-e661-39fa-96b6a9e26552",
        "title": "The whole system is down",
        "image_url": "https://upload.wikimedia.org/wikipedia/commons/e/ee/Grumpy_Cat_by_Gage_Skidmore.jpg",
        "state": "alerting",
        "link_to_upstream_details": "https://en.wikipedia.org/wiki/Downtime",
        "message": "Smth happened. Oh no!",
    }
    r = client.post(f"/integrations/v1/formatted_webhook/{token}/", json=body)
    assert r.status_code == 202, r.text
    assert client.post(f"/integrations/v1/formatted_webhook/{token}/", json=body).status_code == 202
    [(inc, status)] = incidents_of(svc)
    assert status == "triggered" and alerts_of(svc) == 1
    with session_scope() as s:
        alert = s.scalar(select(Alert).where(Alert.service_id == svc))
        assert (
            alert.summary == "The whole system is down"
            and alert.annotations["message"] == "Smth happened. Oh no!"
        )
        assert {link["text"] for link in alert.links} == {"source", "image"}
    r = client.post(f"/integrations/v1/webhook/{token}/", json={**body, "state": "ok"})
    assert r.status_code == 202 and incidents_of(svc) == [(inc, "resolved")]
    assert client.post(f"/integrations/v1/webhook/{token}/", content=b"not json").status_code == 422


def test_an_imported_oncall_integration_keeps_its_token(client: TestClient) -> None:
    with session_scope() as s:
        admin = f.user(s, role="admin")
        svc = f.service(s)
        admin_id, service_id = admin.id, svc.id
    oncall_token = "kG3bQ2x9ZpLm7Rt4Vw8Yc1Nd"
    body = {"name": "from OnCall", "type": "alertmanager", "service_id": service_id, "token": oncall_token}
    r = client.post("/api/v1/integrations", json=body, headers=auth(key(admin_id)))
    assert r.status_code == 201 and r.json()["token"] == oncall_token
    again = client.post("/api/v1/integrations", json=body, headers=auth(key(admin_id)))
    assert again.status_code == 409 and again.json()["error"]["field"] == "token"
    bad = client.post(
        "/api/v1/integrations", json={**body, "token": "has spaces in it!!"}, headers=auth(key(admin_id))
    )
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "token"
    am = {
        "version": "4",
        "status": "firing",
        "groupKey": "g",
        "alerts": [{"status": "firing", "labels": {"alertname": "X"}}],
    }
    assert client.post(f"/integrations/v1/alertmanager/{oncall_token}/", json=am).status_code == 202
    assert alerts_of(service_id) == 1
