"""Heartbeat monitors and silent integrations: late → incident, beat (or traffic) → resolved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import session_scope, utcnow
from app.directory import service as directory
from app.errors import Invalid, NotFound
from app.incidents.models import Incident
from app.monitors import service as monitors
from app.monitors.runner import beat, silent_integrations
from tests import factories
from tests.monitor_helpers import run_due

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def incidents_of(session: Session, service_id: int) -> list[Incident]:
    stmt = select(Incident).where(Incident.service_id == service_id).order_by(Incident.id)
    return list(session.scalars(stmt.execution_options(populate_existing=True)))


def heartbeat_monitor(session: Session, **kw: object) -> tuple[int, int, str]:
    service = factories.service(session)
    monitor, token = monitors.create_monitor(
        session=session,
        name=f"nightly backup {factories.n()}",
        kind="heartbeat",
        service_id=service.id,
        interval_seconds=kw.pop("interval_seconds", 60),  # type: ignore[arg-type]
        grace_seconds=kw.pop("grace_seconds", 30),  # type: ignore[arg-type]
        failure_threshold=1,
        now=kw.pop("now", T0),  # type: ignore[arg-type]
    )
    assert token is not None and token.startswith("hb_") and monitor.token_hash != token
    return monitor.id, service.id, token


def test_late_heartbeat_opens_one_incident_and_the_next_beat_resolves_it(session: Session) -> None:
    monitor_id, service_id, token = heartbeat_monitor(session)
    run_due(session, T0 + timedelta(seconds=89))
    assert incidents_of(session, service_id) == [], "within interval + grace nobody is paged"
    beat(session=session, token=token, now=T0 + timedelta(seconds=80))
    run_due(session, T0 + timedelta(seconds=169))
    assert incidents_of(session, service_id) == [], "a beat moves the deadline"
    run_due(session, T0 + timedelta(seconds=171))
    (incident,) = incidents_of(session, service_id)
    assert incident.status == "triggered" and "no heartbeat" in incident.title
    # Still silent one more interval later: the same outage, the same single incident.
    run_due(session, T0 + timedelta(seconds=235))
    assert len(incidents_of(session, service_id)) == 1
    monitor, _ = beat(session=session, token=token, now=T0 + timedelta(seconds=240))
    (incident,) = incidents_of(session, service_id)
    assert incident.status == "resolved" and monitor.state == "up"
    assert monitor.next_check_at == T0 + timedelta(seconds=330)


def test_unknown_token_is_refused_and_other_kinds_have_no_token(session: Session) -> None:
    with pytest.raises(NotFound) as err:
        beat(session=session, token="hb_nope", now=T0)
    assert err.value.field == "token"
    service = factories.service(session)
    tcp, token = monitors.create_monitor(
        session=session, name="db", kind="tcp", service_id=service.id, target="127.0.0.1:5432"
    )
    assert token is None
    with pytest.raises(Invalid):
        monitors.rotate_heartbeat_token(session=session, monitor_id=tcp.id)


def test_rotated_token_replaces_the_old_url(session: Session) -> None:
    monitor_id, _, old = heartbeat_monitor(session)
    new = monitors.rotate_heartbeat_token(session=session, monitor_id=monitor_id)
    beat(session=session, token=new, now=T0)
    with pytest.raises(NotFound):
        beat(session=session, token=old, now=T0)


def test_paused_heartbeat_monitor_is_not_late(session: Session) -> None:
    monitor_id, service_id, _ = heartbeat_monitor(session)
    monitors.set_paused(session=session, monitor_id=monitor_id, paused=True, now=T0)
    run_due(session, T0 + timedelta(hours=5))
    assert incidents_of(session, service_id) == []


def test_silent_integration_raises_an_incident_and_traffic_resolves_it(session: Session) -> None:
    service = factories.service(session)
    integration, _ = directory.create_integration(
        session=session, service_id=service.id, kind="generic", name="cron", expected_interval_seconds=600
    )
    integration.last_seen_at = T0
    silent_integrations(session=session, now=T0 + timedelta(seconds=599))
    assert incidents_of(session, service.id) == []
    silent_integrations(session=session, now=T0 + timedelta(seconds=601))
    silent_integrations(session=session, now=T0 + timedelta(seconds=700))
    (incident,) = incidents_of(session, service.id)
    assert incident.status == "triggered" and "cron" in incident.title
    integration.last_seen_at = T0 + timedelta(seconds=710)
    silent_integrations(session=session, now=T0 + timedelta(seconds=720))
    (incident,) = incidents_of(session, service.id)
    assert incident.status == "resolved"


def test_heartbeat_url_over_http(database_url: str) -> None:
    from ingest.app import app

    client = TestClient(app)
    now = utcnow()
    with session_scope() as session:
        monitor_id, service_id, token = heartbeat_monitor(session, now=now - timedelta(seconds=200))
    try:
        with session_scope() as session:
            run_due(session, now)
            (incident,) = incidents_of(session, service_id)
            assert incident.status == "triggered"
        missing = client.post("/heartbeats/hb_unknown")
        assert missing.status_code == 404 and missing.json()["field"] == "token"
        for _ in range(2):  # a repeated beat answers the same and changes nothing more
            answer = client.post(f"/heartbeats/{token}")
            assert answer.status_code == 200 and answer.json()["state"] == "up"
        with session_scope() as session:
            (incident,) = incidents_of(session, service_id)
            assert incident.status == "resolved"
            counts = monitors.check_counts(session=session, monitor_id=monitor_id)
            assert counts == {"fail": 1, "ok": 2}
    finally:
        with session_scope() as session:
            session.delete(directory.get_service(session=session, service_id=service_id))


def test_editing_interval_or_grace_moves_the_deadline_from_the_last_beat(session: Session) -> None:
    monitor_id, _, token = heartbeat_monitor(session)
    monitor, _ = beat(session=session, token=token, now=T0 + timedelta(seconds=50))
    monitors.update_monitor(session=session, monitor_id=monitor_id, interval_seconds=3600, grace_seconds=600)
    assert monitor.next_check_at == T0 + timedelta(seconds=50 + 3600 + 600)
