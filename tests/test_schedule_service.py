"""Schedule services against Postgres: who is on call, shifts, bad input refused and nothing written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.errors import Invalid, NotFound
from app.schedules import service
from app.schedules.models import ScheduleLayer, ScheduleOverride
from tests import factories


def _schedule(session, zone: str = "Europe/Berlin"):
    users = [factories.user(session) for _ in range(3)]
    sched = service.create_schedule(session=session, name=f"Sched {factories.n()}", time_zone=zone)
    return sched, users


def test_on_call_follows_daily_rotation_and_priorities(session) -> None:
    sched, (a, b, c) = _schedule(session)
    service.add_layer(
        session=session,
        schedule_id=sched.id,
        member_ids=[a.id, b.id],
        rotation_kind="daily",
        handoff_anchor=datetime(2026, 3, 1, 9, 0),
    )
    # 09:00 Berlin in March (CET) is 08:00 UTC.
    assert service.on_call_user_ids(
        session=session, schedule_id=sched.id, at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    ) == [a.id]
    # Nobody before the rotation starts (it is not extended backwards).
    assert (
        service.on_call_user_ids(
            session=session, schedule_id=sched.id, at=datetime(2026, 3, 1, 7, 59, tzinfo=UTC)
        )
        == []
    )
    assert service.on_call_user_ids(
        session=session, schedule_id=sched.id, at=datetime(2026, 3, 2, 7, 59, tzinfo=UTC)
    ) == [a.id]
    assert service.on_call_user_ids(
        session=session, schedule_id=sched.id, at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    ) == [b.id]
    # After the spring-forward (29 March), 09:00 Berlin is 07:00 UTC: the handoff stays at 09:00 local.
    at = datetime(2026, 4, 1, 7, 0, tzinfo=UTC)
    before = service.on_call_user_ids(session=session, schedule_id=sched.id, at=at - timedelta(minutes=1))
    after = service.on_call_user_ids(session=session, schedule_id=sched.id, at=at)
    assert before != after
    # A business-hours layer above wins inside its window only.
    service.add_layer(
        session=session,
        schedule_id=sched.id,
        member_ids=[c.id],
        rotation_kind="weekly",
        handoff_anchor=datetime(2026, 3, 2, 0, 0),
        priority=5,
        restrictions=[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
    )
    wed_noon = datetime(2026, 3, 4, 11, 0, tzinfo=UTC)  # 12:00 Berlin
    wed_night = datetime(2026, 3, 4, 22, 0, tzinfo=UTC)
    assert service.on_call_user_ids(session=session, schedule_id=sched.id, at=wed_noon) == [c.id]
    assert service.on_call_user_ids(session=session, schedule_id=sched.id, at=wed_night) != [c.id]
    # An override beats every layer.
    service.add_override(
        session=session,
        schedule_id=sched.id,
        user_id=b.id,
        starts_at=wed_noon - timedelta(hours=1),
        ends_at=wed_noon + timedelta(hours=1),
    )
    assert service.on_call_user_ids(session=session, schedule_id=sched.id, at=wed_noon) == [b.id]


def test_empty_schedule_has_nobody_and_unknown_schedule_is_404(session) -> None:
    sched, _ = _schedule(session)
    assert service.on_call_user_ids(session=session, schedule_id=sched.id, at=datetime.now(UTC)) == []
    with pytest.raises(NotFound) as err:
        service.on_call_user_ids(session=session, schedule_id=-1, at=datetime.now(UTC))
    assert err.value.field == "schedule_id"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"member_ids": []}, "member_ids"),
        ({"member_ids": [-5]}, "member_ids"),
        ({"rotation_kind": "fortnightly"}, "rotation_kind"),
        ({"rotation_kind": "monthly", "handoff_anchor": datetime(2026, 1, 29, 9, 0)}, "handoff_anchor"),
        ({"rotation_kind": "custom"}, "rotation_hours"),
        ({"handoff_anchor": datetime(2026, 1, 1, tzinfo=UTC)}, "handoff_anchor"),
        ({"restrictions": [{"days": [9], "start": "09:00", "end": "17:00"}]}, "restrictions[0].days"),
        ({"restrictions": [{"days": [1], "start": "9am", "end": "17:00"}]}, "restrictions[0].start"),
    ],
)
def test_bad_layers_are_refused_naming_the_field(session, kwargs, field) -> None:
    sched, (a, _, _) = _schedule(session)
    args = {
        "member_ids": [a.id],
        "rotation_kind": "daily",
        "handoff_anchor": datetime(2026, 1, 1, 9, 0),
    } | kwargs
    with pytest.raises(Invalid) as err:
        service.add_layer(session=session, schedule_id=sched.id, **args)
    assert err.value.field == field
    assert (
        session.scalar(
            select(func.count()).select_from(ScheduleLayer).where(ScheduleLayer.schedule_id == sched.id)
        )
        == 0
    )


def test_bad_overrides_and_zones_are_refused(session) -> None:
    sched, (a, b, _) = _schedule(session)
    t0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
    with pytest.raises(Invalid) as err:
        service.add_override(session=session, schedule_id=sched.id, user_id=a.id, starts_at=t0, ends_at=t0)
    assert err.value.field == "ends_at"
    service.add_override(
        session=session, schedule_id=sched.id, user_id=a.id, starts_at=t0, ends_at=t0 + timedelta(hours=2)
    )
    with pytest.raises(Invalid) as err:
        service.add_override(
            session=session,
            schedule_id=sched.id,
            user_id=b.id,
            starts_at=t0 + timedelta(hours=1),
            ends_at=t0 + timedelta(hours=3),
        )
    assert err.value.field == "starts_at"
    # Touching (end == start) is not overlapping.
    service.add_override(
        session=session,
        schedule_id=sched.id,
        user_id=b.id,
        starts_at=t0 + timedelta(hours=2),
        ends_at=t0 + timedelta(hours=3),
    )
    assert (
        session.scalar(
            select(func.count()).select_from(ScheduleOverride).where(ScheduleOverride.schedule_id == sched.id)
        )
        == 2
    )
    with pytest.raises(Invalid) as err:
        service.create_schedule(session=session, name="Mars", time_zone="Mars/Olympus_Mons")
    assert err.value.field == "time_zone"


def test_concurrent_overlapping_overrides_store_only_one(fresh_database) -> None:
    """Two transactions race to add overlapping overrides: the schedule lock lets exactly one in."""
    import threading

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session as OrmSession

    engine = create_engine(fresh_database.replace("postgresql://", "postgresql+psycopg://", 1))
    with OrmSession(engine) as s:
        user = factories.user(s)
        sched = service.create_schedule(session=s, name="Race", time_zone="UTC")
        s.commit()
        ids = (user.id, sched.id)
    t0 = datetime(2026, 8, 1, tzinfo=UTC)
    barrier, outcomes = threading.Barrier(2), []

    def add(offset: int) -> None:
        with OrmSession(engine) as s:
            barrier.wait()
            try:
                service.add_override(
                    session=s,
                    schedule_id=ids[1],
                    user_id=ids[0],
                    starts_at=t0 + timedelta(minutes=offset),
                    ends_at=t0 + timedelta(hours=2, minutes=offset),
                )
                s.commit()
                outcomes.append("stored")
            except Invalid:
                s.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=add, args=(m,)) for m in (0, 30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with OrmSession(engine) as s:
        stored = s.scalar(select(func.count()).select_from(ScheduleOverride))
    engine.dispose()
    assert sorted(outcomes) == ["refused", "stored"] and stored == 1


def test_on_call_now_lists_every_schedule(session) -> None:
    sched, (a, b, _) = _schedule(session, zone="UTC")
    empty = service.create_schedule(session=session, name=f"Empty {factories.n()}", time_zone="UTC")
    service.add_layer(
        session=session,
        schedule_id=sched.id,
        member_ids=[a.id, b.id],
        rotation_kind="weekly",
        handoff_anchor=datetime(2026, 1, 5),
    )
    now = service.on_call_now(session=session, at=datetime(2026, 1, 13, tzinfo=UTC))
    assert now[sched.id] == [b.id] and now[empty.id] == []


def test_update_layer_changes_the_rotation_and_refuses_bad_or_read_only_edits(session) -> None:
    sched, (a, b, c) = _schedule(session, zone="UTC")
    layer = service.add_layer(
        session=session,
        schedule_id=sched.id,
        member_ids=[a.id, b.id],
        rotation_kind="daily",
        handoff_anchor=datetime(2026, 1, 1, 9),
    )
    at = datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert service.on_call_user_ids(session=session, schedule_id=sched.id, at=at) == [a.id]
    edit = datetime(2026, 1, 3, 12, tzinfo=UTC)
    later = datetime(2026, 1, 5, 10, tzinfo=UTC)  # turn 4
    service.update_layer(session=session, layer_id=layer.id, member_ids=[c.id, a.id], by=a.id, now=edit)
    # The edit holds from its instant on; the past answers as it was.
    assert service.on_call_user_ids(session=session, schedule_id=sched.id, at=at) == [a.id]
    assert service.on_call_user_ids(session=session, schedule_id=sched.id, at=later) == [c.id]
    with pytest.raises(Invalid) as err:
        service.update_layer(session=session, layer_id=layer.id, rotation_kind="custom", now=edit)
    assert err.value.field == "rotation_hours"
    with pytest.raises(Invalid) as err:
        service.update_layer(session=session, layer_id=layer.id, member_ids=[], now=edit)
    assert err.value.field == "member_ids"
    # A refused edit changed nothing.
    assert service.on_call_user_ids(session=session, schedule_id=sched.id, at=later) == [c.id]
    assert layer.rotation_kind == "daily"
    assert service.audit_trail(session=session, schedule_id=sched.id)[0].action == "layer_updated"
    with pytest.raises(NotFound):
        service.update_layer(session=session, layer_id=-1, name="x")


def test_duplicate_schedule_name_is_a_conflict_and_gaps_are_listed(session) -> None:
    from app.errors import Conflict

    sched, (a, _, _) = _schedule(session, zone="UTC")
    with pytest.raises(Conflict) as err:
        service.create_schedule(session=session, name=sched.name, time_zone="UTC")
    assert err.value.field == "name"
    # The session is still usable after the refusal.
    service.add_layer(
        session=session,
        schedule_id=sched.id,
        member_ids=[a.id],
        rotation_kind="weekly",
        handoff_anchor=datetime(2026, 1, 5),
        restrictions=[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
    )
    start = datetime(2026, 1, 5, tzinfo=UTC)  # Monday
    gaps = service.gaps_between(
        session=session, schedule_id=sched.id, start=start, end=start + timedelta(days=1)
    )
    assert gaps == [
        (start, start + timedelta(hours=9)),
        (start + timedelta(hours=17), start + timedelta(days=1)),
    ]
    with pytest.raises(Invalid) as err:
        service.gaps_between(session=session, schedule_id=sched.id, start=start, end=start)
    assert err.value.field == "end"
