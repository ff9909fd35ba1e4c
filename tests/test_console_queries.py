"""The console's read queries: filters, response times (cross-checked with analytics), sign-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from analytics.filters import Filters
from analytics.queries import mtta_mttr_sql
from app.auth import service as auth
from app.errors import Invalid
from app.incidents import service as incidents
from app.incidents.queries import IncidentFilter, response_times, search_incidents
from tests import factories as f

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _incident(session, service_id: int, at: datetime, severity: str = "error") -> int:
    alert = f.alert(severity=severity)
    return incidents.trigger_or_group(
        session=session, service_id=service_id, dedup_key=alert.fingerprint, alert=alert, now=at
    ).incident.id


def test_response_times_agree_with_the_analytics_definition(session) -> None:
    admin = f.user(session, role="admin")
    svc = f.service(session)
    end = T0 + timedelta(days=1)
    quick = _incident(session, svc.id, T0)
    incidents.acknowledge(session=session, incident_id=quick, by=admin.id, now=T0 + timedelta(minutes=2))
    incidents.resolve(session=session, incident_id=quick, by=admin.id, now=T0 + timedelta(minutes=30))
    late = _incident(session, svc.id, T0 + timedelta(hours=1))
    # Acknowledged only after the window's end: not yet acknowledged as far as the window goes.
    incidents.acknowledge(session=session, incident_id=late, by=admin.id, now=end + timedelta(hours=1))
    auto = _incident(session, svc.id, T0 + timedelta(hours=2))
    incidents.resolve(session=session, incident_id=auto, by=None, now=T0 + timedelta(hours=3))
    _incident(session, svc.id, T0 - timedelta(days=2))  # before the window
    ours = response_times(session=session, since=T0, until=end)
    theirs = session.execute(text(mtta_mttr_sql(Filters(start=T0, end=end), "postgres"))).mappings().one()
    assert ours.incidents == theirs["incidents"] == 3
    assert ours.mtta_s == pytest.approx(theirs["mtta_mean_s"]) == 120
    assert ours.mttr_s == pytest.approx(theirs["mttr_mean_s"]) == pytest.approx((1800 + 3600) / 2)


def test_search_filters_by_team_severity_assignee_and_time(session) -> None:
    alice, bob = f.user(session), f.user(session)
    team_a, team_b = f.team(session, members=[(alice, "responder")]), f.team(session)
    svc_a, svc_b = f.service(session, team_id=team_a.id), f.service(session, team_id=team_b.id)
    old = _incident(session, svc_a.id, T0 - timedelta(days=3), "critical")
    new = _incident(session, svc_a.id, T0, "warning")
    other = _incident(session, svc_b.id, T0 + timedelta(minutes=1), "critical")
    incidents.reassign(session=session, incident_id=new, by=None, to_user_id=bob.id)
    mine = set(s.id for s in (svc_a, svc_b))

    def ids(**kw) -> list[int]:
        kw.setdefault("service_ids", tuple(mine))
        return [r.id for r in search_incidents(session=session, filters=IncidentFilter(**kw))]

    assert ids() == [old, new, other]  # oldest first
    assert ids(oldest_first=False) == [other, new, old]
    assert ids(team_ids=(team_b.id,)) == [other]
    assert ids(severities=("critical",)) == [old, other]
    assert ids(assignee_id=bob.id) == [new]
    assert ids(involving_user_id=bob.id) == [new]
    assert ids(since=T0 - timedelta(hours=1)) == [new, other]
    incidents.acknowledge(session=session, incident_id=old, by=alice.id)
    assert ids(statuses=("triggered",)) == [new, other]
    assert ids(involving_user_id=alice.id) == [old]
    row = search_incidents(session=session, filters=IncidentFilter(service_ids=(svc_a.id,)))[1]
    assert (row.service, row.team, row.assignee) == (svc_a.name, team_a.name, bob.name)


def test_authenticate_accepts_only_the_right_password_of_an_active_user(session) -> None:
    u = f.user(session, password="s3cret-enough", email="Casey@Example.test")
    who = auth.authenticate(session=session, email=" casey@example.TEST ", password="s3cret-enough")
    assert who.user_id == u.id and who.role == "responder"
    for email, password in (("casey@example.test", "wrong"), ("nobody@example.test", "s3cret-enough")):
        with pytest.raises(auth.SignInFailed) as err:
            auth.authenticate(session=session, email=email, password=password)
        assert err.value.status_code == 401 and err.value.field == "password"
    with pytest.raises(Invalid) as empty:
        auth.authenticate(session=session, email="casey@example.test", password="")
    assert empty.value.field == "password"
    u.active = False
    with pytest.raises(auth.SignInFailed):
        auth.authenticate(session=session, email="casey@example.test", password="s3cret-enough")


def test_session_state_helpers_remember_and_forget() -> None:
    state: dict = {}
    assert auth.signed_in(state) is None
    who = auth.SignedIn(user_id=7, email="a@b.c", name="A", role="viewer")
    auth.remember(state, who)
    assert auth.signed_in(state) == who
    state[auth.STATE_KEY] = {"user_id": 1}  # anything else is not a signed-in user
    assert auth.signed_in(state) is None
    auth.forget(state)
    assert auth.STATE_KEY not in state


def test_handoff_skips_a_new_turn_of_the_same_person_and_sees_gaps() -> None:
    from app.schedules.logic import Shift
    from app.schedules.queries import handoff

    h = timedelta(hours=1)
    shifts = [
        Shift(1, T0, T0 + 8 * h, "layer", 1),
        Shift(1, T0 + 8 * h, T0 + 16 * h, "layer", 1),
        Shift(2, T0 + 16 * h, T0 + 24 * h, "layer", 1),
        Shift(3, T0 + 30 * h, T0 + 40 * h, "override", 9),
    ]
    assert handoff(shifts, T0 + h) == handoff(shifts, T0 + 9 * h)
    assert handoff(shifts, T0 + h).now == (1,)
    assert handoff(shifts, T0 + h).until == T0 + 16 * h and handoff(shifts, T0 + h).next == (2,)
    gap = handoff(shifts, T0 + 25 * h)
    assert (gap.now, gap.until, gap.next) == ((), T0 + 30 * h, (3,))
    last = handoff(shifts, T0 + 31 * h)
    assert (last.now, last.until, last.next) == ((3,), T0 + 40 * h, ())
    assert handoff([], T0) == handoff(shifts, T0 + 50 * h)
