"""Silences and maintenance windows at ingest and in the escalation guard, in one transaction each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.events import AlertEvent
from app.alerts.service import record_alert_events
from app.directory import service as directory
from app.errors import Forbidden, Invalid
from app.escalation.engine import due_incidents, run_step
from app.incidents import service as incidents
from app.incidents.models import Alert, Incident
from app.notifications.models import Delivery
from app.suppression import service as suppression
from app.suppression.schemas import SilenceCreate, SilenceRead
from tests import factories as f

T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)


def _reachable(session: Session):
    user = f.user(session)
    directory.add_contact_method(session=session, user_id=user.id, kind="slack", address=f"U{user.id}")
    return user


def _event(alertname: str, fp: str | None = None, **labels: str) -> AlertEvent:
    return AlertEvent(
        fingerprint=fp or f"fp-{f.n()}",
        dedup_key=alertname,
        action="trigger",
        summary=f"{alertname} fired",
        labels={"alertname": alertname, **labels},
    )


def _setup(session: Session, levels: int = 2):
    users = [_reachable(session) for _ in range(levels)]
    svc = f.service(session, policy_id=f.policy_for(session, users, delay_minutes=5))
    integration, _ = f.integration(session, svc.id, kind="alertmanager")
    return svc, integration, users


def _paged(session: Session, incident_id: int) -> list[int | None]:
    rows = session.scalars(select(Delivery).where(Delivery.incident_id == incident_id).order_by(Delivery.id))
    return [d.user_id for d in rows]


def test_a_window_holds_new_incidents_and_paging_starts_from_level_0_when_it_ends(session: Session) -> None:
    svc, integration, (first, _) = _setup(session)
    window = suppression.create_window(
        session=session, service_ids=[svc.id], by=None, reason="deploy", duration=timedelta(hours=1), now=T0
    )
    result = record_alert_events(
        session=session, integration=integration, events=[_event("DiskFull")], now=T0
    )
    incident = session.get(Incident, result.incidents[0])
    alert = session.scalar(select(Alert).where(Alert.incident_id == incident.id))
    assert result.kicks == []  # nothing to page: the worker is not even asked
    assert alert.suppressed_by == incident.suppressed_by == f"maintenance:{window.id}"
    assert incident.next_escalation_at == window.ends_at
    # Stored and grouped as always: a second alert of the group lands on the same incident.
    again = record_alert_events(
        session=session, integration=integration, events=[_event("DiskFull")], now=T0 + timedelta(minutes=1)
    )
    assert again.incidents == [incident.id] and again.kicks == []
    assert run_step(
        session=session, incident_id=incident.id, token=incident.escalation_token, now=T0
    ).status in (
        "not_due",
        "suppressed",
    )
    end = window.ends_at
    assert (incident.id, incident.escalation_token) in due_incidents(session=session, now=end)
    ran = run_step(session=session, incident_id=incident.id, token=incident.escalation_token, now=end)
    assert ran.status == "ran" and ran.token == incident.escalation_token
    assert _paged(session, incident.id) == [first.id]
    kinds = [e.kind for e in incidents.timeline(session=session, incident_id=incident.id)]
    assert kinds.count("suppressed") == 1 and kinds.count("unsuppressed") == 1
    assert incident.suppressed_by is None


def test_a_silence_created_after_the_incident_opened_stops_its_next_page(session: Session) -> None:
    svc, integration, (first, second) = _setup(session)
    result = record_alert_events(
        session=session, integration=integration, events=[_event("CPUHigh", team="db")], now=T0
    )
    incident = session.get(Incident, result.incidents[0])
    token = incident.escalation_token
    assert result.kicks == [(incident.id, token)]
    assert run_step(session=session, incident_id=incident.id, token=token, now=T0).status == "ran"
    silence = suppression.create_silence(
        session=session,
        matchers=[
            {"name": "alertname", "op": "=~", "value": "CPU.*"},
            {"name": "team", "op": "=", "value": "db"},
        ],
        by=None,
        comment="known, fix rolling out",
        duration=timedelta(hours=2),
        now=T0 + timedelta(minutes=1),
    )
    due = T0 + timedelta(minutes=5)
    assert run_step(session=session, incident_id=incident.id, token=token, now=due).status == "suppressed"
    assert (
        incident.suppressed_by == f"silence:{silence.id}" and incident.next_escalation_at == silence.ends_at
    )
    assert _paged(session, incident.id) == [first.id]  # level 1 was never paged
    # Expiring the silence early hands the incident back to the sweeper now, from level 0.
    later = T0 + timedelta(minutes=20)
    suppression.expire_silence(session=session, silence_id=silence.id, by=None, now=later)
    session.refresh(incident)
    assert incident.next_escalation_at == later
    ran = run_step(session=session, incident_id=incident.id, token=token, now=later)
    assert ran.status == "ran" and ran.token != token
    assert _paged(session, incident.id) == [first.id, first.id]


def test_an_alert_no_silence_covers_still_pages_a_held_incident(session: Session) -> None:
    _, integration, _ = _setup(session)
    suppression.create_silence(
        session=session,
        matchers=[{"name": "env", "op": "=", "value": "staging"}],
        by=None,
        duration=timedelta(hours=1),
        now=T0,
    )
    held = record_alert_events(
        session=session, integration=integration, events=[_event("Lag", env="staging")], now=T0
    )
    incident = session.get(Incident, held.incidents[0])
    assert held.kicks == [] and incident.suppressed_by is not None
    loud = record_alert_events(
        session=session,
        integration=integration,
        events=[_event("Lag", env="prod")],
        now=T0 + timedelta(seconds=5),
    )
    assert loud.kicks == [(incident.id, incident.escalation_token)]
    assert incident.suppressed_by is None
    marks = session.scalars(
        select(Alert.suppressed_by).where(Alert.incident_id == incident.id).order_by(Alert.id)
    )
    assert list(marks)[1] is None


def test_silence_like_an_incident_and_bad_input(session: Session) -> None:
    svc, integration, _ = _setup(session)
    result = record_alert_events(
        session=session, integration=integration, events=[_event("Disk", pod="a")], now=T0
    )
    silence = suppression.silence_like_incident(
        session=session, incident_id=result.incidents[0], duration=timedelta(hours=2), by=None, now=T0
    )
    assert silence.matchers == [
        {"name": "service", "op": "=", "value": svc.name},
        {"name": "alertname", "op": "=", "value": "Disk"},
    ]
    assert silence.ends_at == T0 + timedelta(hours=2)
    with pytest.raises(Invalid) as err:
        suppression.create_silence(
            session=session, matchers=[{"name": "a", "op": "=", "value": "b"}], by=None, now=T0
        )
    assert err.value.field == "ends_at"
    with pytest.raises(Invalid) as err:
        suppression.create_window(
            session=session, service_ids=[], by=None, duration=timedelta(hours=1), now=T0
        )
    assert err.value.field == "service_ids"
    viewer = f.user(session, role="viewer")
    with pytest.raises(Forbidden):
        suppression.create_silence(
            session=session,
            matchers=[{"name": "a", "op": "=", "value": "b"}],
            by=viewer.id,
            duration=timedelta(hours=1),
            now=T0,
        )
    with pytest.raises(Forbidden):
        suppression.create_window(
            session=session, service_ids=[svc.id], by=viewer.id, duration=timedelta(hours=1), now=T0
        )


def test_extend_and_list(session: Session) -> None:
    svc, _, _ = _setup(session)
    window = suppression.create_window(
        session=session,
        service_ids=[svc.id],
        by=None,
        starts_at=T0 + timedelta(hours=1),
        duration=timedelta(hours=1),
        now=T0,
    )
    suppression.extend_window(
        session=session, window_id=window.id, ends_at=T0 + timedelta(hours=4), by=None, now=T0
    )
    listed = suppression.list_windows(session=session, now=T0)
    assert (window, [svc.id]) in listed and window.ends_at == T0 + timedelta(hours=4)
    suppression.end_window(session=session, window_id=window.id, by=None, now=T0)
    assert window not in [
        w for w, _ in suppression.list_windows(session=session, now=T0 + timedelta(seconds=1))
    ]


def test_schemas_carry_what_the_service_takes_and_returns(session: Session) -> None:
    body = SilenceCreate.model_validate(
        {"matchers": [{"name": "alertname", "op": "=~", "value": "Disk.*"}], "duration": "PT2H"}
    )
    made = suppression.create_silence(
        session=session,
        matchers=[m.model_dump() for m in body.matchers],
        by=None,
        duration=body.duration,
        now=T0,
    )
    read = SilenceRead.model_validate(made)
    assert read.matchers[0].op == "=~" and read.ends_at == T0 + timedelta(hours=2)
