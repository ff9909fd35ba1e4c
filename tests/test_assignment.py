"""Who owns an incident: the person paged now, then the acknowledger, unless a person assigned it by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.directory import service as directory
from app.escalation.engine import run_step
from app.incidents import service as incidents
from tests import factories as f

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _setup(session: Session):
    a, b, c = (f.user(session) for _ in range(3))
    for u in (a, b, c):
        directory.add_contact_method(session=session, user_id=u.id, kind="slack", address=f"U{u.id}")
    team = f.team(session, members=[(a, "responder"), (b, "responder"), (c, "responder")])
    svc = f.service(session, team_id=team.id, policy_id=f.policy_for(session, [a, b], delay_minutes=5))
    inc = incidents.trigger_or_group(
        session=session, service_id=svc.id, dedup_key=f"k{f.n()}", alert=f.alert(), now=T0
    ).incident
    return a, b, c, inc


def test_the_paged_person_is_assigned_and_the_acknowledger_takes_it(session: Session) -> None:
    a, b, c, inc = _setup(session)
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0)
    assert inc.assignee_id == a.id
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0 + timedelta(minutes=5))
    assert inc.assignee_id == b.id  # level 2 pages b: b owns it now
    incidents.acknowledge(session=session, incident_id=inc.id, by=c.id, now=T0 + timedelta(minutes=6))
    assert inc.assignee_id == c.id and not inc.assigned_manually


def test_a_hand_assignment_sticks_through_escalation_and_acknowledgement(session: Session) -> None:
    a, b, c, inc = _setup(session)
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0)
    incidents.reassign(session=session, incident_id=inc.id, by=a.id, to_user_id=c.id, now=T0)
    assert inc.assigned_manually
    run_step(session=session, incident_id=inc.id, token=inc.escalation_token, now=T0 + timedelta(minutes=5))
    incidents.acknowledge(session=session, incident_id=inc.id, by=b.id, now=T0 + timedelta(minutes=6))
    assert inc.assignee_id == c.id
    kinds = [e.kind for e in incidents.timeline(session=session, incident_id=inc.id)]
    assert kinds.count("reassigned") == 1  # automatic assignment adds no timeline noise
