"""Monthly rotations: the handoff keeps its day of the month and its wall-clock time across DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.schedules import logic, service
from app.schedules.logic import Layer, Schedule
from tests import factories

BERLIN = Schedule(
    zone="Europe/Berlin",
    layers=(Layer(1, 0, "monthly", datetime(2026, 9, 15, 9, 0), (1, 2, 3), name="Monthly"),),
)


def test_monthly_handoffs_stay_on_the_15th_at_nine_local_across_the_dst_change() -> None:
    shifts = logic.final_shifts(BERLIN, datetime(2026, 9, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert [(s.user_id, s.start, s.end) for s in shifts] == [
        # 09:00 Berlin is 07:00 UTC in summer time, 08:00 UTC after 25 October.
        (1, datetime(2026, 9, 15, 7, tzinfo=UTC), datetime(2026, 10, 15, 7, tzinfo=UTC)),
        (2, datetime(2026, 10, 15, 7, tzinfo=UTC), datetime(2026, 11, 15, 8, tzinfo=UTC)),
        (3, datetime(2026, 11, 15, 8, tzinfo=UTC), datetime(2026, 12, 15, 8, tzinfo=UTC)),
        (1, datetime(2026, 12, 15, 8, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ]
    assert logic.who_is_on_call(BERLIN, datetime(2026, 9, 15, 6, 59, tzinfo=UTC)) == []
    assert logic.who_is_on_call(BERLIN, datetime(2027, 3, 15, 7, 59, tzinfo=UTC)) == [3]  # CET still
    assert logic.who_is_on_call(BERLIN, datetime(2027, 3, 15, 8, 0, tzinfo=UTC)) == [1]


@settings(max_examples=200, deadline=None)
@given(
    day=st.integers(1, 28),
    hour=st.integers(0, 23),
    offset_h=st.integers(0, 24 * 800),
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Sydney", "UTC"]),
)
def test_the_point_answer_agrees_with_the_final_shifts(day: int, hour: int, offset_h: int, zone: str) -> None:
    layer = Layer(1, 0, "monthly", datetime(2025, 1, day, hour, 0), (1, 2, 3, 4))
    sched = Schedule(zone=zone, layers=(layer,))
    at = logic.local_to_utc(layer.anchor, zone) + timedelta(hours=offset_h, minutes=7)
    covering = [s for s in logic.final_shifts(sched, at - timedelta(days=40), at + timedelta(days=40))]
    hit = next(s for s in covering if s.start <= at < s.end)
    assert logic.who_is_on_call(sched, at) == [hit.user_id]
    # Every handoff is on the anchor's day of the month, at its wall-clock hour (or just after a gap).
    local = hit.start.astimezone(sched.tz)
    if hit.start > at - timedelta(days=40):
        assert local.day == day and local.hour in (hour, (hour + 1) % 24)


def test_a_monthly_layer_is_stored_edited_and_resolved(session) -> None:
    a, b = factories.user(session), factories.user(session)
    sched = service.create_schedule(
        session=session, name=f"Monthly {factories.n()}", time_zone="America/New_York"
    )
    layer = service.add_layer(
        session=session,
        schedule_id=sched.id,
        member_ids=[a.id, b.id],
        rotation_kind="monthly",
        handoff_anchor=datetime(2026, 10, 1, 9, 0),
    )
    nov_2 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # after New York's 1 November change
    assert service.on_call_user_ids(session=session, schedule_id=sched.id, at=nov_2) == [b.id]
    found = service.shifts_between(
        session=session, schedule_id=sched.id, start=datetime(2026, 10, 1, tzinfo=UTC), end=nov_2
    )
    assert [(x.user_id, x.start) for x in found] == [
        (a.id, datetime(2026, 10, 1, 13, tzinfo=UTC)),  # 09:00 EDT
        (b.id, datetime(2026, 11, 1, 14, tzinfo=UTC)),  # 09:00 EST
    ]
    assert layer.rotation_kind == "monthly"
