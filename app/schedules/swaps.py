"""Shift swaps: a responder offers a shift for a teammate's; acceptance writes a pair of overrides."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.errors import Conflict, Forbidden, Invalid, NotFound
from app.schedules import service
from app.schedules.models import ShiftSwap


def _ownership(
    session: Session, schedule_id: int, user_id: int, start: datetime, end: datetime
) -> str | None:
    """Why the user does not hold [start, end) alone through a layer, or None when they do."""
    shifts = service.shifts_between(session=session, schedule_id=schedule_id, start=start, end=end)
    covered = start
    for s in shifts:
        if s.user_id != user_id or s.start != covered:
            return "is not on call for the whole of that shift"
        if s.source == "override":
            # The swap would stack a second override on this one; editing the override is the way.
            return "holds part of that shift through an override; change the override instead"
        covered = s.end
    return None if covered == end else "is not on call for the whole of that shift"


def _check_window(start: datetime, end: datetime, field: str) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid(f"{field} must carry a time zone", field=field)
    if end <= start:
        raise Invalid(f"{field} must end after it starts", field=field)


def propose_swap(
    *,
    session: Session,
    schedule_id: int,
    proposer_id: int,
    counterpart_id: int,
    give: tuple[datetime, datetime],
    take: tuple[datetime, datetime],
    note: str = "",
) -> ShiftSwap:
    """Offer the proposer's shift `give` for the counterpart's shift `take` on one schedule."""
    service.get_schedule(session=session, schedule_id=schedule_id)
    if proposer_id == counterpart_id:
        raise Invalid("a swap needs two different people", field="counterpart_id")
    _check_window(*give, "give")
    _check_window(*take, "take")
    if give[0] < take[1] and take[0] < give[1]:
        raise Invalid("the two shifts of a swap must not overlap", field="take")
    for who, user_id, (start, end), field in (
        ("the proposer", proposer_id, give, "give"),
        ("the counterpart", counterpart_id, take, "take"),
    ):
        if (why := _ownership(session, schedule_id, user_id, start, end)) is not None:
            raise Invalid(f"{who} {why}", field=field)
    swap = ShiftSwap(
        schedule_id=schedule_id,
        proposer_id=proposer_id,
        counterpart_id=counterpart_id,
        give_starts_at=give[0],
        give_ends_at=give[1],
        take_starts_at=take[0],
        take_ends_at=take[1],
        note=note,
    )
    session.add(swap)
    session.flush()
    service.record_audit(
        session=session,
        schedule_id=schedule_id,
        action="swap_proposed",
        actor_user_id=proposer_id,
        data={"swap_id": swap.id, "counterpart_id": counterpart_id},
    )
    return swap


def _lock(session: Session, swap_id: int) -> ShiftSwap:
    swap = session.scalar(
        select(ShiftSwap)
        .where(ShiftSwap.id == swap_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if swap is None:
        raise NotFound(f"swap {swap_id} does not exist", field="swap_id")
    return swap


def _decide(session: Session, swap: ShiftSwap, status: str, by: int) -> ShiftSwap:
    swap.status = status
    swap.decided_at = utcnow()
    session.flush()
    service.record_audit(
        session=session,
        schedule_id=swap.schedule_id,
        action=f"swap_{status}",
        actor_user_id=by,
        data={
            "swap_id": swap.id,
            "give_override_id": swap.give_override_id,
            "take_override_id": swap.take_override_id,
        },
    )
    return swap


def accept_swap(*, session: Session, swap_id: int, by: int) -> ShiftSwap:
    """The counterpart accepts: each takes the other's shift as an override. Accepting twice is a no-op."""
    swap = _lock(session, swap_id)
    if by != swap.counterpart_id:
        raise Forbidden("only the counterpart can accept a swap", field="by")
    if swap.status == "accepted":
        return swap
    if swap.status != "proposed":
        raise Conflict(f"swap {swap_id} is {swap.status}", field="swap_id")
    # The schedule may have changed since the proposal: both shifts must still belong to their owners.
    if _ownership(session, swap.schedule_id, swap.proposer_id, swap.give_starts_at, swap.give_ends_at):
        raise Conflict("the offered shift is no longer the proposer's", field="give")
    if _ownership(session, swap.schedule_id, swap.counterpart_id, swap.take_starts_at, swap.take_ends_at):
        raise Conflict("the requested shift is no longer the counterpart's", field="take")
    give, take = (
        service.add_override(
            session=session,
            schedule_id=swap.schedule_id,
            user_id=user_id,
            starts_at=start,
            ends_at=end,
            reason=f"shift swap {swap.id}",
            created_by=by,
        )
        for user_id, start, end in (
            (swap.counterpart_id, swap.give_starts_at, swap.give_ends_at),
            (swap.proposer_id, swap.take_starts_at, swap.take_ends_at),
        )
    )
    swap.give_override_id, swap.take_override_id = give.id, take.id
    return _decide(session, swap, "accepted", by)


def decline_swap(*, session: Session, swap_id: int, by: int) -> ShiftSwap:
    """The counterpart declines (or the proposer cancels); nothing on the schedule changes."""
    swap = _lock(session, swap_id)
    if by not in (swap.counterpart_id, swap.proposer_id):
        raise Forbidden("only the two people of a swap can decline it", field="by")
    status = "declined" if by == swap.counterpart_id else "cancelled"
    if swap.status in ("declined", "cancelled"):
        return swap
    if swap.status != "proposed":
        raise Conflict(f"swap {swap_id} is {swap.status}", field="swap_id")
    return _decide(session, swap, status, by)


def list_swaps(*, session: Session, user_id: int, open_only: bool = True) -> list[ShiftSwap]:
    """Swaps a person proposed or was asked for, newest first."""
    query = (
        select(ShiftSwap)
        .where(or_(ShiftSwap.proposer_id == user_id, ShiftSwap.counterpart_id == user_id))
        .order_by(ShiftSwap.id.desc())
    )
    if open_only:
        query = query.where(ShiftSwap.status == "proposed")
    return list(session.scalars(query))
