"""Incident lifecycle through the service: grouping, idempotency, flap re-open, permissions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.errors import Forbidden, Invalid
from app.incidents import service as incidents
from app.incidents.models import Alert, IncidentEvent
from tests import factories as f

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _kinds(session, incident_id: int) -> list[str]:
    return [e.kind for e in incidents.timeline(session=session, incident_id=incident_id)]


def test_trigger_creates_incident_with_frozen_plan(session) -> None:
    u = f.user(session)
    svc = f.service(session, policy_id=f.policy_for(session, [u], delay_minutes=7))
    r = incidents.trigger_or_group(session=session, service_id=svc.id, dedup_key="k", alert=f.alert(), now=T0)
    assert r.outcome == "created"
    inc = r.incident
    assert inc.status == "triggered" and inc.alert_count == 1 and inc.next_escalation_at == T0
    assert inc.escalation_snapshot["levels"][0]["delay_minutes"] == 7
    assert inc.escalation_snapshot["levels"][0]["targets"][0]["user_id"] == u.id
    assert _kinds(session, inc.id) == ["triggered"]


def test_second_alert_groups_and_same_alert_is_a_duplicate(session) -> None:
    svc = f.service(session)
    a = f.alert("fp-a", severity="warning")
    first = incidents.trigger_or_group(session=session, service_id=svc.id, dedup_key="k", alert=a, now=T0)
    again = incidents.trigger_or_group(session=session, service_id=svc.id, dedup_key="k", alert=a, now=T0)
    other = incidents.trigger_or_group(
        session=session, service_id=svc.id, dedup_key="k", alert=f.alert("fp-b", severity="critical"), now=T0
    )
    assert again.outcome == "duplicate" and other.outcome == "grouped"
    assert first.incident.id == again.incident.id == other.incident.id
    assert other.incident.alert_count == 2
    assert other.incident.severity == "critical"
    assert session.scalar(select(Alert.id).where(Alert.fingerprint == "fp-a").limit(2)) is not None
    assert len(session.scalars(select(Alert).where(Alert.incident_id == first.incident.id)).all()) == 2


def test_acknowledge_is_idempotent_and_stops_escalation(session) -> None:
    u = f.user(session, role="admin")
    svc = f.service(session, policy_id=f.policy_for(session, [u]))
    inc = incidents.trigger_or_group(
        session=session, service_id=svc.id, dedup_key="k", alert=f.alert(), now=T0
    ).incident
    incidents.acknowledge(session=session, incident_id=inc.id, by=u.id, now=T0 + timedelta(minutes=2))
    incidents.acknowledge(session=session, incident_id=inc.id, by=u.id, now=T0 + timedelta(minutes=9))
    assert inc.status == "acknowledged" and inc.next_escalation_at is None
    assert inc.acknowledged_at == T0 + timedelta(minutes=2) and inc.acknowledged_by == u.id
    assert _kinds(session, inc.id).count("acknowledged") == 1


def test_resolved_incident_reopens_within_flap_window_only(session) -> None:
    svc = f.service(session)
    a = f.alert("fp-flap")
    inc = incidents.trigger_or_group(
        session=session, service_id=svc.id, dedup_key="k", alert=a, now=T0
    ).incident
    incidents.resolve(
        session=session, incident_id=inc.id, by=None, kind="source", now=T0 + timedelta(minutes=1)
    )
    session.execute(Alert.__table__.update().where(Alert.incident_id == inc.id).values(status="resolved"))
    again = incidents.trigger_or_group(
        session=session,
        service_id=svc.id,
        dedup_key="k",
        alert=a,
        now=T0 + timedelta(minutes=5),
        flap_window=timedelta(minutes=10),
    )
    assert again.outcome == "reopened" and again.incident.id == inc.id
    assert inc.status == "triggered" and inc.reopen_count == 1 and inc.resolved_at is None
    incidents.resolve(
        session=session, incident_id=inc.id, by=None, kind="source", now=T0 + timedelta(minutes=6)
    )
    session.execute(Alert.__table__.update().where(Alert.incident_id == inc.id).values(status="resolved"))
    late = incidents.trigger_or_group(
        session=session,
        service_id=svc.id,
        dedup_key="k",
        alert=a,
        now=T0 + timedelta(minutes=30),
        flap_window=timedelta(minutes=10),
    )
    assert late.outcome == "created" and late.incident.id != inc.id


def test_actions_write_events_in_order(session) -> None:
    admin = f.user(session, role="admin")
    other = f.user(session)
    svc = f.service(session)
    inc = incidents.trigger_or_group(
        session=session, service_id=svc.id, dedup_key="k", alert=f.alert(), now=T0
    ).incident
    incidents.add_note(
        session=session, incident_id=inc.id, by=admin.id, text="looking", now=T0 + timedelta(seconds=1)
    )
    incidents.reassign(
        session=session, incident_id=inc.id, by=admin.id, to_user_id=other.id, now=T0 + timedelta(seconds=2)
    )
    incidents.snooze(
        session=session,
        incident_id=inc.id,
        by=admin.id,
        duration=timedelta(hours=1),
        now=T0 + timedelta(seconds=3),
    )
    incidents.resolve(session=session, incident_id=inc.id, by=admin.id, now=T0 + timedelta(seconds=4))
    incidents.resolve(session=session, incident_id=inc.id, by=admin.id, now=T0 + timedelta(seconds=5))
    assert _kinds(session, inc.id) == ["triggered", "note", "reassigned", "snoozed", "resolved"]
    ev = session.scalars(select(IncidentEvent).where(IncidentEvent.kind == "note")).all()[-1]
    assert ev.actor == f"user:{admin.id}" and ev.data == {"text": "looking"}
    assert inc.snoozed_until is None and inc.resolved_by == admin.id


def test_bad_input_is_refused_and_changes_nothing(session) -> None:
    admin = f.user(session, role="admin")
    svc = f.service(session)
    inc = incidents.trigger_or_group(
        session=session, service_id=svc.id, dedup_key="k", alert=f.alert(), now=T0
    ).incident
    with pytest.raises(Invalid) as e:
        incidents.snooze(session=session, incident_id=inc.id, by=admin.id, duration=timedelta(0))
    assert e.value.field == "duration"
    with pytest.raises(Invalid) as e2:
        incidents.add_note(session=session, incident_id=inc.id, by=admin.id, text="  ")
    assert e2.value.field == "text"
    assert _kinds(session, inc.id) == ["triggered"]


def test_responder_of_team_a_cannot_acknowledge_team_b_incident(session) -> None:
    alice, bob, viewer = f.user(session), f.user(session), f.user(session, role="viewer")
    team_a = f.team(session, members=[(alice, "responder"), (viewer, "viewer")])
    team_b = f.team(session, members=[(bob, "responder")])
    f.team(session)  # an unrelated team changes nothing
    svc_b = f.service(session, team_id=team_b.id)
    _ = team_a
    inc = incidents.trigger_or_group(
        session=session, service_id=svc_b.id, dedup_key="k", alert=f.alert(), now=T0
    ).incident
    for outsider in (alice, viewer):
        with pytest.raises(Forbidden):
            incidents.acknowledge(session=session, incident_id=inc.id, by=outsider.id)
    assert inc.status == "triggered"
    incidents.acknowledge(session=session, incident_id=inc.id, by=bob.id)
    assert inc.status == "acknowledged" and inc.acknowledged_by == bob.id
