"""Datadog as Datadog sends it: the documented default and custom templates, simple and multi-alert.

Payloads are rendered the way Datadog renders a webhook template: every ``$VARIABLE`` replaced by its
value, for each notification a monitor sends in its life (Triggered, Re-Triggered, Renotify, Recovered).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import session_scope
from app.incidents.models import Alert, Incident
from ingest.app import app
from ingest.sources import datadog
from tests import factories as f

# Datadog's default webhook payload, as its documentation shows it.
DEFAULT_TEMPLATE = """{
    "body": "$EVENT_MSG",
    "last_updated": "$LAST_UPDATED",
    "event_type": "$EVENT_TYPE",
    "title": "$EVENT_TITLE",
    "date": "$DATE",
    "org": {"id": "$ORG_ID", "name": "$ORG_NAME"},
    "id": "$ID"
}"""
# A custom payload of Datadog's documented variables, as the README recommends.
CUSTOM_TEMPLATE = """{
    "id": "$ID",
    "title": "$EVENT_TITLE",
    "body": "$EVENT_MSG",
    "alert_id": "$ALERT_ID",
    "alert_transition": "$ALERT_TRANSITION",
    "alert_type": "$ALERT_TYPE",
    "alert_priority": "$ALERT_PRIORITY",
    "alert_scope": "$ALERT_SCOPE",
    "alert_cycle_key": "$ALERT_CYCLE_KEY",
    "aggreg_key": "$AGGREG_KEY",
    "tags": "$TAGS",
    "link": "$LINK",
    "date": "$DATE",
    "org": {"id": "$ORG_ID", "name": "$ORG_NAME"}
}"""
TYPES = {"Triggered": "error", "Re-Triggered": "error", "Renotify": "error", "Warn": "warning"}


def render(template: str, values: dict[str, str]) -> dict[str, Any]:
    out = template
    for name in sorted(values, key=len, reverse=True):  # $ALERT_ID before $ID
        out = out.replace(f"${name}", json.dumps(values[name])[1:-1])
    return json.loads(out)


def notification(
    template: str,
    transition: str,
    *,
    event: int,
    scope: str = "",
    priority: str = "",
    monitor: str = "424242",
) -> dict[str, Any]:
    """The payload of one notification, with Datadog's title format: ``[P2] [Warn on {host:x}] Name``."""
    on = f" on {{{scope}}}" if scope else ""
    title = (f"[{priority}] " if priority else "") + f"[{transition}{on}] Disk almost full on db"
    return render(
        template,
        {
            "ID": f"77000000000{event:05d}",  # a new event id for every notification
            "EVENT_TITLE": title,
            "EVENT_MSG": f"%%%\nDisk usage {transition.lower()}\n%%%",
            "EVENT_TYPE": "query_alert_monitor",
            "LAST_UPDATED": "1772366400000",
            "DATE": str(1772366400000 + event * 60_000),
            "ORG_ID": "111",
            "ORG_NAME": "Acme",
            "ALERT_ID": monitor,
            "ALERT_TRANSITION": transition,
            "ALERT_TYPE": "success" if transition == "Recovered" else TYPES.get(transition, "error"),
            "ALERT_PRIORITY": priority,
            "ALERT_SCOPE": scope,
            "ALERT_CYCLE_KEY": f"cycle-{event}",  # Datadog's cycle key is not stable across re-triggers
            "AGGREG_KEY": f"agg{monitor}",
            "TAGS": "env:prod,team:storage",
            "LINK": f"https://app.datadoghq.com/monitors/{monitor}",
        },
    )


@pytest.mark.parametrize("template", [DEFAULT_TEMPLATE, CUSTOM_TEMPLATE], ids=["default", "custom"])
def test_a_monitor_lifecycle_is_one_alert_that_recovery_resolves(template: str) -> None:
    life = ["Triggered", "Re-Triggered", "Renotify", "Recovered"]
    events = [datadog.parse(notification(template, t, event=i))[0] for i, t in enumerate(life)]
    assert len({e.dedup_key for e in events}) == 1 and len({e.fingerprint for e in events}) == 1
    assert [e.action for e in events] == ["trigger", "trigger", "trigger", "resolve"]
    assert events[0].summary == "Disk almost full on db"


@pytest.mark.parametrize("template", [DEFAULT_TEMPLATE, CUSTOM_TEMPLATE], ids=["default", "custom"])
def test_each_group_of_a_multi_alert_monitor_is_its_own_alert(template: str) -> None:
    a = datadog.parse(notification(template, "Triggered", event=1, scope="host:db-1"))[0]
    b = datadog.parse(notification(template, "Triggered", event=2, scope="host:db-2"))[0]
    back = datadog.parse(notification(template, "Recovered", event=3, scope="host:db-1"))[0]
    assert a.fingerprint != b.fingerprint and back.fingerprint == a.fingerprint
    assert back.action == "resolve" and a.labels["scope"] == "host:db-1"


@pytest.mark.parametrize(
    ("priority", "transition", "severity"),
    [
        ("P1", "Triggered", "critical"),
        ("P2", "Triggered", "error"),
        ("P2", "Warn", "warning"),
        ("P1", "Warn", "warning"),
        ("P3", "Triggered", "warning"),
        ("P4", "Triggered", "info"),
        ("P5", "Warn", "info"),
        ("", "Triggered", "error"),
        ("", "Warn", "warning"),
        ("", "No Data", "warning"),
    ],
)
@pytest.mark.parametrize("template", [DEFAULT_TEMPLATE, CUSTOM_TEMPLATE], ids=["default", "custom"])
def test_priority_and_alert_type_give_the_severity(
    template: str, priority: str, transition: str, severity: str
) -> None:
    (event,) = datadog.parse(
        notification(template, transition, event=1, priority=priority, scope="host:db-1")
    )
    assert (event.severity, event.action) == (severity, "trigger")


@pytest.fixture()
def token(database_url: str, redis_env: dict[str, str]) -> tuple[int, str]:
    """A service and Datadog integration of the test's own (the default template has no monitor id)."""
    with session_scope() as s:
        svc = f.service(s, policy_id=f.policy_for(s, [f.user(s)]))
        _, secret = f.integration(s, svc.id, "datadog")
        return svc.id, secret


@pytest.mark.parametrize("template", [DEFAULT_TEMPLATE, CUSTOM_TEMPLATE], ids=["default", "custom"])
def test_through_ingest_retriggers_group_and_recovered_resolves(
    token: tuple[int, str], template: str
) -> None:
    service_id, secret = token
    sent = [
        ("Triggered", "host:db-1"),
        ("Triggered", "host:db-2"),
        ("Re-Triggered", "host:db-1"),
        ("Renotify", "host:db-1"),
        ("Recovered", "host:db-1"),
    ]
    with TestClient(app) as client:
        for i, (transition, scope) in enumerate(sent):
            body = notification(template, transition, event=f.n(), scope=scope, priority="P2")
            response = client.post(f"/webhooks/datadog/{secret}", json=body)
            assert response.status_code == 202, (i, response.text)
    with session_scope() as s:
        alerts = s.scalars(select(Alert).where(Alert.service_id == service_id)).all()
        by_scope = {a.labels["scope"]: s.get(Incident, a.incident_id) for a in alerts}
        assert len(alerts) == 2
    # One incident per monitor group: the re-triggers of db-1 grouped, its recovery resolved it.
    assert sorted(by_scope) == ["host:db-1", "host:db-2"]
    assert by_scope["host:db-1"].status == "resolved" and by_scope["host:db-1"].alert_count == 1
    assert by_scope["host:db-2"].status == "triggered" and by_scope["host:db-2"].severity == "error"
