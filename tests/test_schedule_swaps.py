"""Shift swaps and overrides: proposal, acceptance as a pair of overrides, audit, idempotent edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, Forbidden, Invalid
from app.schedules import service, swaps
from app.schedules.models import ScheduleOverride
from tests import factories

DAY = timedelta(days=1)
T0 = datetime(2026, 7, 6, 9, tzinfo=UTC)  # a handoff of the daily rotation below (UTC zone)


def _setup(session):
    a, b, c = (factories.user(session) for _ in range(3))
    sched = service.create_schedule(session=session, name=f"Swap {factories.n()}", time_zone="UTC")
    service.add_layer(
        session=session,
        schedule_id=sched.id,
        member_ids=[a.id, b.id],
        rotation_kind="daily",
        handoff_anchor=datetime(2026, 7, 6, 9),
    )
    return sched, a, b, c


def _who(session, sched, at):
    return service.on_call_user_ids(session=session, schedule_id=sched.id, at=at)


def test_accepted_swap_becomes_two_overrides_and_is_audited(session) -> None:
    sched, a, b, _ = _setup(session)
    give, take = (T0, T0 + DAY), (T0 + DAY, T0 + 2 * DAY)
    assert _who(session, sched, T0 + timedelta(hours=1)) == [a.id]
    swap = swaps.propose_swap(
        session=session, schedule_id=sched.id, proposer_id=a.id, counterpart_id=b.id, give=give, take=take
    )
    # A proposal changes nothing yet.
    assert _who(session, sched, T0 + timedelta(hours=1)) == [a.id]
    with pytest.raises(Forbidden):
        swaps.accept_swap(session=session, swap_id=swap.id, by=a.id)
    swaps.accept_swap(session=session, swap_id=swap.id, by=b.id)
    assert _who(session, sched, T0 + timedelta(hours=1)) == [b.id]
    assert _who(session, sched, T0 + DAY + timedelta(hours=1)) == [a.id]
    assert _who(session, sched, T0 + 2 * DAY + timedelta(hours=1)) == [a.id]  # untouched outside
    # Accepting again is a no-op: still exactly two overrides.
    again = swaps.accept_swap(session=session, swap_id=swap.id, by=b.id)
    assert again.status == "accepted"
    count = select(func.count()).select_from(ScheduleOverride).where(ScheduleOverride.schedule_id == sched.id)
    assert session.scalar(count) == 2
    actions = [e.action for e in service.audit_trail(session=session, schedule_id=sched.id)]
    assert actions[:4] == ["swap_accepted", "override_created", "override_created", "swap_proposed"]
    with pytest.raises(Conflict):
        swaps.decline_swap(session=session, swap_id=swap.id, by=b.id)


def test_swap_of_a_shift_not_owned_is_refused(session) -> None:
    sched, a, b, c = _setup(session)
    args = {"session": session, "schedule_id": sched.id, "proposer_id": a.id}
    with pytest.raises(Invalid) as err:
        swaps.propose_swap(**args, counterpart_id=b.id, give=(T0 + DAY, T0 + 2 * DAY), take=(T0, T0 + DAY))
    assert err.value.field == "give"
    with pytest.raises(Invalid) as err:
        swaps.propose_swap(**args, counterpart_id=c.id, give=(T0, T0 + DAY), take=(T0 + DAY, T0 + 2 * DAY))
    assert err.value.field == "take"
    with pytest.raises(Invalid) as err:
        swaps.propose_swap(**args, counterpart_id=a.id, give=(T0, T0 + DAY), take=(T0 + DAY, T0 + 2 * DAY))
    assert err.value.field == "counterpart_id"
    with pytest.raises(Invalid) as err:
        swaps.propose_swap(**args, counterpart_id=b.id, give=(T0, T0), take=(T0 + DAY, T0 + 2 * DAY))
    assert err.value.field == "give"
    # A shift held through an override is changed by editing the override, not swapped.
    service.add_override(
        session=session, schedule_id=sched.id, user_id=a.id, starts_at=T0 + DAY, ends_at=T0 + DAY + DAY / 2
    )
    with pytest.raises(Invalid) as err:
        swaps.propose_swap(
            **args, counterpart_id=b.id, give=(T0 + DAY, T0 + 2 * DAY), take=(T0 + 3 * DAY, T0 + 4 * DAY)
        )
    assert err.value.field == "give" and "override" in err.value.message


def test_stale_swap_is_refused_on_accept_and_declined_swap_changes_nothing(session) -> None:
    sched, a, b, c = _setup(session)
    give, take = (T0, T0 + DAY), (T0 + DAY, T0 + 2 * DAY)
    stale = swaps.propose_swap(
        session=session, schedule_id=sched.id, proposer_id=a.id, counterpart_id=b.id, give=give, take=take
    )
    declined = swaps.propose_swap(
        session=session, schedule_id=sched.id, proposer_id=a.id, counterpart_id=b.id, give=give, take=take
    )
    swaps.decline_swap(session=session, swap_id=declined.id, by=b.id)
    assert swaps.decline_swap(session=session, swap_id=declined.id, by=b.id).status == "declined"
    # Someone else now covers part of the offered shift.
    service.add_override(
        session=session, schedule_id=sched.id, user_id=c.id, starts_at=T0, ends_at=T0 + timedelta(hours=2)
    )
    with pytest.raises(Conflict) as err:
        swaps.accept_swap(session=session, swap_id=stale.id, by=b.id)
    assert err.value.field == "give"
    assert [s.id for s in swaps.list_swaps(session=session, user_id=b.id)] == [stale.id]


def test_delete_override_is_idempotent_and_restores_the_rotation(session) -> None:
    sched, a, b, c = _setup(session)
    o = service.add_override(
        session=session, schedule_id=sched.id, user_id=c.id, starts_at=T0, ends_at=T0 + timedelta(hours=3)
    )
    assert _who(session, sched, T0 + timedelta(hours=1)) == [c.id]
    assert service.delete_override(session=session, override_id=o.id, by=a.id) is True
    assert service.delete_override(session=session, override_id=o.id, by=a.id) is False
    assert _who(session, sched, T0 + timedelta(hours=1)) == [a.id]
    assert service.audit_trail(session=session, schedule_id=sched.id)[0].action == "override_deleted"
