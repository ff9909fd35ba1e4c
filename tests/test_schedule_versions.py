"""Effective-dated layer edits on Postgres: edit now, edit from the future, history unchanged, no one
before a rotation starts, and the iCal feed served by ingest telling the past as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import session_scope, utcnow
from app.errors import Conflict, Invalid
from app.escalation.queries import dry_run
from app.escalation.service import LevelSpec, TargetSpec, create_policy
from app.schedules import ical, service, versions
from app.schedules.models import ScheduleLayer
from ingest.app import app
from tests import factories

NOW = datetime(2026, 6, 10, 12, tzinfo=UTC)  # a Wednesday
ANCHOR = datetime(2026, 6, 1, 9)  # daily handoffs at 09:00 UTC from Monday 1 June


def _daily(session, members, zone: str = "UTC", **kw):
    sched = service.create_schedule(session=session, name=f"Versions {factories.n()}", time_zone=zone)
    layer = service.add_layer(
        session=session,
        schedule_id=sched.id,
        member_ids=[u.id for u in members],
        rotation_kind="daily",
        handoff_anchor=ANCHOR,
        **kw,
    )
    return sched, layer


def _who(session, sched, at: datetime) -> list[int]:
    return service.on_call_user_ids(session=session, schedule_id=sched.id, at=at)


def _shifts(session, sched, start: datetime, end: datetime) -> list[tuple]:
    return [
        (s.user_id, s.start, s.end)
        for s in service.shifts_between(session=session, schedule_id=sched.id, start=start, end=end)
    ]


def test_reordering_now_keeps_every_past_answer_and_changes_the_future(session) -> None:
    a, b, c = (factories.user(session) for _ in range(3))
    sched, layer = _daily(session, [a, b, c])
    month = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 20, tzinfo=UTC))
    before = _shifts(session, sched, *month)
    paged_at = datetime(2026, 6, 5, 12, tzinfo=UTC)  # turn 4 (5 June 09:00 → 6 June 09:00): b
    assert _who(session, sched, paged_at) == [b.id]

    service.update_layer(session=session, layer_id=layer.id, member_ids=[c.id, b.id, a.id], now=NOW)

    assert _who(session, sched, paged_at) == [b.id]
    after = _shifts(session, sched, *month)
    turn_start = datetime(2026, 6, 10, 9, tzinfo=UTC)
    assert [s for s in after if s[2] <= turn_start] == [s for s in before if s[2] <= turn_start]
    # The turn running at the edit (turn 9, a's) is cut there; from then on the new order holds.
    assert (a.id, datetime(2026, 6, 10, 9, tzinfo=UTC), NOW) in after
    assert _who(session, sched, NOW) == [c.id] and _who(session, sched, NOW + timedelta(days=1)) == [b.id]
    # Two versions, the old one ending where the new one starts, both shown with their members.
    shown = versions.layer_versions(session, sched.id)
    assert [(v.effective_from, v.effective_until, m) for v, m in shown] == [
        (None, NOW, [a.id, b.id, c.id]),
        (NOW, None, [c.id, b.id, a.id]),
    ]
    assert {versions.lineage_of(v) for v, _ in shown} == {layer.id}
    assert (
        service.audit_trail(session=session, schedule_id=sched.id)[0].data["affects_from"] == NOW.isoformat()
    )


def test_an_edit_from_a_future_instant_changes_nothing_before_it(session) -> None:
    a, b = factories.user(session), factories.user(session)
    sched, layer = _daily(session, [a, b])
    monday = datetime(2026, 6, 15, 9, tzinfo=UTC)
    window = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 25, tzinfo=UTC))
    before = _shifts(session, sched, *window)
    upto = _shifts(session, sched, window[0], monday)
    service.update_layer(
        session=session,
        layer_id=layer.id,
        handoff_anchor=datetime(2026, 6, 1, 18),
        effective_from=monday,
        now=NOW,
    )
    after = _shifts(session, sched, *window)
    # Between now and Monday (the future too) nothing moves; from Monday the handoff is at 18:00.
    assert _shifts(session, sched, window[0], monday) == upto
    assert {s[1].hour for s in after if s[1] > monday} == {18}
    assert {s[1].hour for s in before if s[1] > monday} == {9}
    # Editing again at the same instant changes that version in place: still two versions.
    service.update_layer(
        session=session, layer_id=layer.id, member_ids=[b.id, a.id], effective_from=monday, now=NOW
    )
    rows = versions.layer_versions(session, sched.id)
    assert len(rows) == 2 and rows[1][0].handoff_anchor == datetime(2026, 6, 1, 18)
    assert rows[1][1] == [b.id, a.id]
    # The same edit once more adds nothing (a retried form).
    service.update_layer(
        session=session, layer_id=layer.id, member_ids=[b.id, a.id], effective_from=monday, now=NOW
    )
    assert len(versions.layer_versions(session, sched.id)) == 2


def test_the_past_cannot_be_edited_and_a_refused_edit_writes_nothing(session) -> None:
    a, b = factories.user(session), factories.user(session)
    sched, layer = _daily(session, [a, b])
    count = select(func.count()).select_from(ScheduleLayer).where(ScheduleLayer.schedule_id == sched.id)
    for bad in (NOW - timedelta(days=2), NOW.replace(tzinfo=None)):
        with pytest.raises(Invalid) as err:
            service.update_layer(
                session=session, layer_id=layer.id, member_ids=[b.id], effective_from=bad, now=NOW
            )
        assert err.value.field == "effective_from"
        with pytest.raises(Invalid):
            service.delete_layer(session=session, layer_id=layer.id, effective_from=bad, now=NOW)
    assert session.scalar(count) == 1
    # A few seconds of skew from a form submitted "now" is taken as now.
    v = service.update_layer(
        session=session,
        layer_id=layer.id,
        member_ids=[b.id],
        effective_from=NOW - timedelta(seconds=5),
        now=NOW,
    )
    assert v.effective_from == NOW


def test_removing_a_layer_from_an_instant_keeps_its_past_and_equal_priority_ties_stay_put(session) -> None:
    a, b, c = (factories.user(session) for _ in range(3))
    sched, first = _daily(session, [a])
    second = service.add_layer(
        session=session, schedule_id=sched.id, member_ids=[b.id], rotation_kind="daily", handoff_anchor=ANCHOR
    )
    # Equal priority: the later layer wins, and editing the first one does not make it "later".
    assert _who(session, sched, NOW + timedelta(hours=1)) == [b.id]
    service.update_layer(session=session, layer_id=first.id, member_ids=[c.id], now=NOW)
    assert _who(session, sched, NOW + timedelta(hours=1)) == [b.id]
    assert service.delete_layer(
        session=session, layer_id=second.id, effective_from=NOW + timedelta(days=1), now=NOW
    )
    assert _who(session, sched, NOW + timedelta(hours=1)) == [b.id]
    assert _who(session, sched, NOW + timedelta(days=2)) == [c.id]
    assert _who(session, sched, datetime(2026, 6, 3, tzinfo=UTC)) == [b.id]
    assert [
        la.id for la in service.list_layers(session=session, schedule_id=sched.id, at=NOW + timedelta(days=2))
    ] == [
        session.scalars(
            select(ScheduleLayer.id)
            .where(ScheduleLayer.lineage_id == first.id)
            .order_by(ScheduleLayer.effective_from.desc().nulls_last())
        ).first()
    ]
    # Removing again ends nothing more.
    assert not service.delete_layer(
        session=session, layer_id=second.id, effective_from=NOW + timedelta(days=1), now=NOW
    )
    # A version that is not in force at the instant cannot be edited.
    with pytest.raises(Conflict) as err:
        service.update_layer(
            session=session, layer_id=second.id, member_ids=[a.id], now=NOW + timedelta(days=3)
        )
    assert err.value.field == "effective_from"


def test_a_rotation_that_starts_next_monday_pages_nobody_now(session) -> None:
    a, b = factories.user(session), factories.user(session)
    now = utcnow()
    monday = (now + timedelta(days=7 - now.weekday())).replace(hour=9, minute=0, second=0, microsecond=0)
    sched = service.create_schedule(session=session, name=f"Starts {factories.n()}", time_zone="UTC")
    service.add_layer(
        session=session,
        schedule_id=sched.id,
        member_ids=[a.id, b.id],
        rotation_kind="weekly",
        handoff_anchor=monday.replace(tzinfo=None),
        effective_from=now,
    )
    policy = create_policy(
        session=session,
        name=f"Starts policy {factories.n()}",
        levels=[LevelSpec(delay_minutes=5, targets=[TargetSpec(kind="schedule", schedule_id=sched.id)])],
    )
    svc = factories.service(session, policy_id=policy.id)
    steps = dry_run(session=session, service_id=svc.id, at=now)
    assert steps and all(t.user_ids == () for t in steps[0].targets)
    assert dry_run(session=session, service_id=svc.id, at=monday)[0].targets[0].user_ids == (a.id,)
    assert service.gaps_between(
        session=session, schedule_id=sched.id, start=now, end=monday + timedelta(days=1)
    ) == [(now, monday)]
    # Hours are not credited before the start either: the shifts begin at the start.
    shifts = service.shifts_between(
        session=session, schedule_id=sched.id, start=now, end=monday + timedelta(days=8)
    )
    assert [(s.user_id, s.start) for s in shifts] == [(a.id, monday), (b.id, monday + timedelta(days=7))]


def test_the_served_ical_feed_keeps_the_past_week_after_an_edit(database_url) -> None:
    now = utcnow()
    with session_scope() as session:
        a, b = factories.user(session), factories.user(session)
        sched = service.create_schedule(session=session, name=f"Feed {factories.n()}", time_zone="UTC")
        layer = service.add_layer(
            session=session,
            schedule_id=sched.id,
            member_ids=[a.id, b.id],
            rotation_kind="daily",
            handoff_anchor=(now - timedelta(days=20)).replace(tzinfo=None, minute=0, second=0, microsecond=0),
        )
        token = ical.schedule_ical_url(session=session, schedule_id=sched.id).rsplit("/", 1)[1]
        layer_id, names = layer.id, {a.id: a.name, b.id: b.name}
    client = TestClient(app)

    def events() -> list[tuple[str, datetime]]:
        res = client.get("/calendars/" + token)
        assert res.status_code == 200
        cal = icalendar.Calendar.from_ical(res.content)
        # "On call: <name> (<schedule>)"
        who = lambda e: str(e["SUMMARY"]).removeprefix("On call: ").rsplit(" (", 1)[0]  # noqa: E731
        return sorted(((who(e), e["DTSTART"].dt) for e in cal.walk("VEVENT")), key=lambda x: x[1])

    before = events()
    with session_scope() as session:
        service.update_layer(session=session, layer_id=layer_id, member_ids=[b.id, a.id])
    after = events()

    # The feed opens a week back from each request, so its first shift is cut at a moving instant:
    # compare the whole shifts that start inside the past week.
    def past(feed: list[tuple[str, datetime]]) -> list[tuple[str, datetime]]:
        return [e for e in feed if now - timedelta(days=6) < e[1] < now - timedelta(days=1)]

    assert len(past(before)) >= 4 and past(before) == past(after)
    later = now + timedelta(days=3)
    swapped = {names[a.id]: names[b.id], names[b.id]: names[a.id]}
    old_future = [(s, t) for s, t in before if t > later]
    new_future = [(s, t) for s, t in after if t > later]
    assert [t for _, t in old_future] == [t for _, t in new_future]
    assert old_future and [swapped[p] for p, _ in old_future] == [p for p, _ in new_future]
