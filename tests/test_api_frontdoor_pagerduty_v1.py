"""PagerDuty Events API v1 (`/generic/2010-04-15/create_event.json`) over HTTP to the real ingest process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.directory.models import Integration
from app.incidents.models import Alert, Incident
from tests import factories as f
from tests import test_alertmanager as am_tests

db = am_tests.db
ingest_url = am_tests.ingest_url
V1 = "/generic/2010-04-15/create_event.json"


@pytest.fixture()
def http(ingest_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ingest_url, timeout=10) as client:
        yield client


def integration(db: Engine, kind: str = "pagerduty") -> tuple[int, int, str]:
    with Session(db) as s:
        svc = f.service(s, policy_id=f.policy_for(s, [f.user(s)]))
        integ, token = f.integration(s, svc.id, kind)
        ids = svc.id, integ.id
        s.commit()
    return *ids, token


def v1(key: str, event_type: str, incident_key: str | None = "disk-1", **more: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"service_key": key, "event_type": event_type}
    if incident_key:
        event["incident_key"] = incident_key
    if event_type == "trigger":
        event["description"] = "Disk full on db-1"
    return event | more


def incidents_of(db: Engine, service_id: int) -> list[tuple[int, str]]:
    with Session(db) as s:
        rows = s.execute(
            select(Incident.id, Incident.status)
            .where(Incident.service_id == service_id)
            .order_by(Incident.id)
        )
        return [(i, st) for i, st in rows]


def alerts_of(db: Engine, service_id: int) -> list[Alert]:
    with Session(db) as s:
        return list(s.scalars(select(Alert).where(Alert.service_id == service_id).order_by(Alert.id)))


def test_trigger_acknowledge_resolve_by_incident_key(db: Engine, http: httpx.Client) -> None:
    svc, _, key = integration(db)
    details = {"free": "1%", "mount": "/var"}
    contexts = [
        {"type": "link", "href": "https://grafana.example.com/d/disk", "text": "dashboard"},
        {"type": "image", "src": "https://grafana.example.com/disk.png"},
    ]
    event = v1(
        key,
        "trigger",
        details=details,
        contexts=contexts,
        client="cron",
        client_url="https://cron.example.com",
    )
    r = http.post(V1, json=event)
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "success", "message": "Event processed", "incident_key": "disk-1"}
    assert http.post(V1, json=event).status_code == 200  # a retry stores nothing new
    [(incident, status)] = incidents_of(db, svc)
    [alert] = alerts_of(db, svc)
    assert status == "triggered" and alert.summary == "Disk full on db-1"
    assert alert.annotations == details and alert.labels["source"] == "cron"
    hrefs = {link["href"] for link in alert.links}
    assert {"https://grafana.example.com/d/disk", "https://cron.example.com"} <= hrefs
    assert http.post(V1, json=v1(key, "acknowledge")).status_code == 200
    assert incidents_of(db, svc) == [(incident, "acknowledged")]
    assert http.post(V1, json=v1(key, "resolve")).status_code == 200
    assert incidents_of(db, svc) == [(incident, "resolved")]
    # A resolve for a key with nothing open is accepted and does nothing, as on PagerDuty.
    r = http.post(V1, json=v1(key, "resolve", incident_key="never-opened"))
    assert r.status_code == 200 and len(alerts_of(db, svc)) == 1


def test_a_trigger_without_incident_key_gets_a_stable_one(db: Engine, http: httpx.Client) -> None:
    svc, _, key = integration(db)
    a = http.post(V1, json=v1(key, "trigger", incident_key=None)).json()["incident_key"]
    b = http.post(V1, json=v1(key, "trigger", incident_key=None)).json()["incident_key"]
    assert a and a == b and len(alerts_of(db, svc)) == 1


# Each refused event names its v1 field (one ingest process for all of them: each is a fresh start).
REFUSED = [
    ({"event_type": "explode"}, "event_type"),
    ({"event_type": None}, "event_type"),
    ({"description": None}, "description"),
    ({"description": "x" * 1025}, "description"),
    ({"service_key": None}, "service_key"),
    ({"contexts": [{"type": "video"}]}, "contexts[0].type"),
    ({"contexts": [{"type": "link"}]}, "contexts[0].href"),
    ({"client": {"name": "x"}}, "client"),
]


def test_an_invalid_event_is_400_naming_the_field_and_stores_nothing(db: Engine, http: httpx.Client) -> None:
    svc, _, key = integration(db)
    for change, field in REFUSED:
        r = http.post(V1, json={**v1(key, "trigger"), **change})
        assert r.status_code == 400, (change, r.text)
        body = r.json()
        assert body["status"] == "invalid event" and body["message"] == "Event object is invalid"
        assert any(field in e for e in body["errors"]), (field, body)


def test_acknowledge_needs_an_incident_key_and_bad_bodies_are_refused(db: Engine, http: httpx.Client) -> None:
    svc, _, key = integration(db)
    r = http.post(V1, json=v1(key, "acknowledge", incident_key=None))
    assert r.status_code == 400 and any("incident_key" in e for e in r.json()["errors"])
    assert http.post(V1, content=b"{not json").status_code == 400
    assert http.post(V1, json=["a list"]).status_code == 400
    assert alerts_of(db, svc) == []


def test_unknown_key_other_kind_and_rate_limit(db: Engine, http: httpx.Client) -> None:
    r = http.post(V1, json=v1("0" * 32, "trigger"))
    assert r.status_code == 400 and "Invalid service_key" in r.json()["errors"][0]
    generic_svc, _, generic = integration(db, "generic")
    assert http.post(V1, json=v1(generic, "trigger")).status_code == 400
    assert alerts_of(db, generic_svc) == []
    svc, integ_id, key = integration(db)
    with Session(db) as s:
        row = s.get(Integration, integ_id)
        assert row is not None
        row.rate_per_s, row.rate_burst = 1, 1
        s.commit()
    answers = [http.post(V1, json=v1(key, "trigger", incident_key=f"k{n}")) for n in range(4)]
    assert answers[0].status_code == 200
    # PagerDuty throttles v1 with a 403, which its senders retry.
    throttled = [a for a in answers if a.status_code == 403]
    assert throttled and throttled[0].headers["Retry-After"] and len(alerts_of(db, svc)) < 4
    assert {a.status_code for a in answers} <= {200, 403}
    assert sum(a.status_code == 200 for a in answers) == len(alerts_of(db, svc))
