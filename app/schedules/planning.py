"""Planning services: time off, page history, propose a fair layer with the optimiser, apply it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.directory.models import User
from app.errors import Invalid, NotFound
from app.notifications.models import Delivery
from app.schedules import logic, optimizer, service
from app.schedules.models import LayerShift, ScheduleAudit, ScheduleLayer, TimeOff

HISTORY_WEEKS = 8


def add_time_off(
    *, session: Session, user_id: int, starts_at: datetime, ends_at: datetime, reason: str = ""
) -> TimeOff:
    """Record that a person is unavailable over [starts_at, ends_at)."""
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise Invalid("time off must carry a time zone", field="starts_at")
    if ends_at <= starts_at:
        raise Invalid("ends_at must be after starts_at", field="ends_at")
    if session.get(User, user_id) is None:
        raise NotFound(f"user {user_id} does not exist", field="user_id")
    row = TimeOff(user_id=user_id, starts_at=starts_at, ends_at=ends_at, reason=reason)
    session.add(row)
    session.flush()
    return row


def page_times(*, session: Session, user_ids: list[int], since: datetime, until: datetime) -> list[datetime]:
    """When the team was paged: one instant per (incident, level, repeat) that reached any of them."""
    query = (
        select(func.min(Delivery.created_at))
        .where(
            Delivery.user_id.in_(user_ids),
            Delivery.created_at >= since,
            Delivery.created_at < until,
            Delivery.status != "cancelled",
        )
        .group_by(Delivery.incident_id, Delivery.level, Delivery.repeat_index)
    )
    return sorted(session.scalars(query))


def _spans(rows: list[tuple[int, datetime, datetime]], user_id: int) -> tuple[tuple[datetime, datetime], ...]:
    return tuple((s, e) for uid, s, e in rows if uid == user_id)


def _busy_elsewhere(
    session: Session,
    schedule_id: int,
    user_ids: list[int],
    window: tuple[datetime, datetime],
    alongside: list[int],
) -> list[tuple[int, datetime, datetime]]:
    """Shifts the members hold on other schedules, and on the named layers of this one, over the horizon."""
    wanted, (start, end) = set(user_ids), window
    out = []
    for other in service.list_schedules(session=session):
        if other.id == schedule_id:
            continue
        for s in service.shifts_between(session=session, schedule_id=other.id, start=start, end=end):
            if s.user_id in wanted:
                out.append((s.user_id, s.start, s.end))
    if alongside:
        own = service.load_schedule(session=session, schedule_id=schedule_id, start=start, end=end)
        layers = {la.id: la for la in own.layers}
        for layer_id in alongside:
            if layer_id not in layers:
                raise Invalid(f"layer {layer_id} is not on this schedule", field="alongside_layer_ids")
            for s, e, user, _ in logic.layer_segments(layers[layer_id], own, start, end):
                if user in wanted:
                    out.append((user, s, e))
    return out


@dataclass(frozen=True)
class PlanRequest:
    """What a lead asks the planner for; start_local is the first handoff, wall-clock in the zone."""

    member_ids: list[int]
    start_local: datetime
    weeks: int = 12
    shift_hours: int = 24
    max_consecutive: int | None = None
    min_rest_hours: float = 0.0
    holidays: list[date] = field(default_factory=list)
    history_weeks: int = HISTORY_WEEKS
    # Layers of this schedule the plan runs beside (a secondary rotation): nobody holds both at once.
    alongside_layer_ids: list[int] = field(default_factory=list)


def build_problem(
    *, session: Session, schedule_id: int, request: PlanRequest, now: datetime | None = None
) -> optimizer.Problem:
    """Gather zones, time off, other on-call duties and page history into an optimiser problem."""
    r = request
    member_ids, start_local, weeks, shift_hours = r.member_ids, r.start_local, r.weeks, r.shift_hours
    sched = service.get_schedule(session=session, schedule_id=schedule_id)
    if not member_ids:
        raise Invalid("a plan needs at least one member", field="member_ids")
    if start_local.tzinfo is not None:
        raise Invalid("start is wall-clock time in the schedule's zone, without offset", field="start_local")
    if weeks < 1 or weeks > 52:
        raise Invalid("weeks must be between 1 and 52", field="weeks")
    if shift_hours < 1 or (24 * 7 * weeks) % shift_hours:
        raise Invalid("shift_hours must divide the horizon into whole shifts", field="shift_hours")
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(member_ids)))}
    missing = [uid for uid in member_ids if uid not in users]
    if missing:
        raise Invalid(f"member_ids: unknown user {missing[0]}", field="member_ids")
    slots = optimizer.make_slots(
        sched.time_zone, start_local, count=24 * 7 * weeks // shift_hours, hours=shift_hours
    )
    start, end = slots[0].start, slots[-1].end
    off = [
        (t.user_id, t.starts_at, t.ends_at)
        for t in session.scalars(
            select(TimeOff).where(
                TimeOff.user_id.in_(member_ids), TimeOff.starts_at < end, TimeOff.ends_at > start
            )
        )
    ]
    busy = _busy_elsewhere(session, schedule_id, member_ids, (start, end), r.alongside_layer_ids)
    now = now or utcnow()
    if r.history_weeks < 1:
        raise Invalid("history_weeks must be at least 1", field="history_weeks")
    since = now - timedelta(weeks=r.history_weeks)
    pages = page_times(session=session, user_ids=member_ids, since=since, until=now)
    return optimizer.Problem(
        zone=sched.time_zone,
        slots=slots,
        members=tuple(
            optimizer.Member(uid, users[uid].time_zone, _spans(off, uid), _spans(busy, uid))
            for uid in member_ids
        ),
        rates=optimizer.page_rates(pages, zone=sched.time_zone, since=since, until=now),
        holidays=frozenset(r.holidays),
        rules=optimizer.Rules(max_consecutive=r.max_consecutive, min_rest_hours=r.min_rest_hours),
    )


def propose_plan(
    *,
    session: Session,
    schedule_id: int,
    request: PlanRequest,
    now: datetime | None = None,
    seconds: float = 8.0,
) -> optimizer.Proposal:
    """A fair layer for the horizon with a before/after fairness table; nothing is written."""
    problem = build_problem(session=session, schedule_id=schedule_id, request=request, now=now)
    start, end = problem.slots[0].start, problem.slots[-1].end
    current = service.shifts_between(session=session, schedule_id=schedule_id, start=start, end=end)
    return optimizer.solve(problem, current=[(s.user_id, s.start, s.end) for s in current], seconds=seconds)


COLUMNS = ("hours", "expected_pages", "expected_night_pages", "load")


def fairness_table(*, session: Session, proposal: optimizer.Proposal) -> list[dict[str, object]]:
    """Rows for the console: per member before/after of each column, then a Gini row per column."""
    before = {r.user_id: r for r in proposal.before}
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(list(before)))).all())
    rows: list[dict[str, object]] = []
    for row in proposal.after:
        out: dict[str, object] = {"member": names.get(row.user_id, str(row.user_id))}
        for col in COLUMNS:
            out[f"{col}_before"] = getattr(before[row.user_id], col) if row.user_id in before else 0.0
            out[f"{col}_after"] = getattr(row, col)
        rows.append(out)
    gini: dict[str, object] = {"member": "Gini index"}
    for col in COLUMNS:
        gini[f"{col}_before"], gini[f"{col}_after"] = proposal.gini_before[col], proposal.gini_after[col]
    return [*rows, gini]


def plan_fingerprint(proposal: optimizer.Proposal) -> str:
    """A stable id of a plan's assignments, so applying the same plan twice writes it once."""
    raw = json.dumps([(u, s.isoformat(), e.isoformat()) for u, s, e in proposal.assignments])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def apply_plan(
    *,
    session: Session,
    schedule_id: int,
    proposal: optimizer.Proposal,
    name: str = "Optimised rotation",
    priority: int | None = None,
    replace_layer_id: int | None = None,
    by: int | None = None,
) -> ScheduleLayer:
    """Write a proposal as a layer of explicit shifts (above the others unless a priority is given)."""
    service.get_schedule(session=session, schedule_id=schedule_id)
    if not proposal.assignments:
        raise Invalid("the plan has no shifts", field="proposal")
    fingerprint = plan_fingerprint(proposal)
    done = session.scalar(
        select(ScheduleAudit.data["layer_id"].as_integer()).where(
            ScheduleAudit.schedule_id == schedule_id,
            ScheduleAudit.action == "plan_applied",
            ScheduleAudit.data["fingerprint"].as_string() == fingerprint,
        )
    )
    if done is not None and (layer := session.get(ScheduleLayer, done)) is not None:
        return layer
    if priority is None:
        top = session.scalar(
            select(func.max(ScheduleLayer.priority)).where(ScheduleLayer.schedule_id == schedule_id)
        )
        priority = (top or 0) + 1
    service.check_users(session, sorted({u for u, _, _ in proposal.assignments}), "proposal")
    if replace_layer_id is not None:
        old = session.get(ScheduleLayer, replace_layer_id)
        if old is None or old.schedule_id != schedule_id:
            raise NotFound(f"layer {replace_layer_id} is not on this schedule", field="replace_layer_id")
        priority = old.priority
        service.delete_layer(session=session, layer_id=old.id, by=by)
    first = proposal.assignments[0][1]
    layer = ScheduleLayer(
        schedule_id=schedule_id,
        name=name,
        priority=priority,
        rotation_kind="custom",
        handoff_anchor=first.replace(tzinfo=None),
        restrictions=[],
        read_only=True,
        source="optimizer",
    )
    session.add(layer)
    session.flush()
    session.add_all(
        LayerShift(layer_id=layer.id, user_id=u, starts_at=s, ends_at=e) for u, s, e in proposal.assignments
    )
    session.flush()
    service.record_audit(
        session=session,
        schedule_id=schedule_id,
        action="plan_applied",
        actor_user_id=by,
        data={"layer_id": layer.id, "fingerprint": fingerprint, "gini_after": proposal.gini_after},
    )
    return layer
