"""Schedules: create schedules, layers, members and overrides."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import get_or_404, utcnow
from app.directory.models import User
from app.directory.service import check_zone
from app.errors import Conflict, Invalid, NotFound
from app.schedules import logic, versions
from app.schedules.models import (
    ROTATION_KINDS,
    LayerMember,
    Schedule,
    ScheduleAudit,
    ScheduleLayer,
    ScheduleOverride,
)
from app.schedules.versions import load_schedule

__all__ = ["load_schedule"]


def create_schedule(
    *, session: Session, name: str, time_zone: str, team_id: int | None = None, description: str = ""
) -> Schedule:
    """Create an empty schedule in an IANA zone."""
    if not name.strip():
        raise Invalid("name must not be empty", field="name")
    check_zone(time_zone)
    schedule = Schedule(
        name=name.strip(),
        time_zone=time_zone,
        team_id=team_id,
        description=description,
        ical_token=secrets.token_urlsafe(24),
    )
    try:
        # A savepoint keeps the caller's transaction usable when the name is taken.
        with session.begin_nested():
            session.add(schedule)
            session.flush()
    except IntegrityError:
        raise Conflict(f"a schedule named {schedule.name!r} already exists", field="name") from None
    return schedule


def check_users(session: Session, user_ids: list[int], field: str) -> None:
    """Refuse ids that are not users, naming the field."""
    known = set(session.scalars(select(User.id).where(User.id.in_(user_ids))))
    missing = [u for u in user_ids if u not in known]
    if missing:
        raise Invalid(f"{field}: unknown user {missing[0]}", field=field)


def get_schedule(*, session: Session, schedule_id: int) -> Schedule:
    schedule = get_or_404(session, Schedule, schedule_id, what="schedule", field="schedule_id")
    return schedule


def add_layer(
    *,
    session: Session,
    schedule_id: int,
    member_ids: list[int],
    rotation_kind: str,
    handoff_anchor: datetime,
    priority: int = 0,
    rotation_hours: int | None = None,
    restrictions: list[dict] | None = None,
    name: str = "Layer",
    effective_from: datetime | None = None,
    by: int | None = None,
    now: datetime | None = None,
) -> ScheduleLayer:
    """Add a rotation layer; handoff_anchor is naive wall-clock time in the schedule's zone.

    In force from effective_from (not in the past), or without one from the rotation's start.
    """
    schedule = get_schedule(session=session, schedule_id=schedule_id)
    _check_layer(session, member_ids, rotation_kind, rotation_hours, handoff_anchor, restrictions or [])
    if effective_from is not None:
        effective_from = versions.effective_instant(effective_from, now or utcnow())
    layer = ScheduleLayer(
        schedule_id=schedule_id,
        name=name,
        priority=priority,
        rotation_kind=rotation_kind,
        rotation_hours=rotation_hours,
        handoff_anchor=handoff_anchor,
        restrictions=restrictions or [],
        effective_from=effective_from,
    )
    session.add(layer)
    session.flush()
    layer.lineage_id = layer.id
    _set_members(session, layer.id, member_ids)
    start = effective_from or logic.local_to_utc(handoff_anchor, schedule.time_zone)
    record_audit(
        session=session,
        schedule_id=schedule_id,
        action="layer_added",
        actor_user_id=by,
        data={"layer_id": layer.id, "member_ids": member_ids, "affects_from": start.isoformat()},
    )
    return layer


def _check_layer(
    session: Session,
    member_ids: list[int],
    rotation_kind: str,
    rotation_hours: int | None,
    handoff_anchor: datetime,
    restrictions: list[dict],
) -> None:
    if rotation_kind not in ROTATION_KINDS:
        raise Invalid(f"rotation_kind must be one of {', '.join(ROTATION_KINDS)}", field="rotation_kind")
    if rotation_kind == "custom" and not (rotation_hours and rotation_hours > 0):
        raise Invalid("a custom rotation needs rotation_hours > 0", field="rotation_hours")
    if rotation_kind == "monthly" and handoff_anchor.day > 28:
        # Every month has days 1..28; a later handoff day would need a rule for the short months.
        raise Invalid("a monthly rotation hands off on day 1 to 28 of the month", field="handoff_anchor")
    if not member_ids:
        raise Invalid("a layer needs at least one member", field="member_ids")
    if handoff_anchor.tzinfo is not None:
        raise Invalid(
            "handoff_anchor is wall-clock time in the schedule's zone, without offset", field="handoff_anchor"
        )
    logic.parse_restrictions(restrictions)
    check_users(session, member_ids, "member_ids")


def _set_members(session: Session, layer_id: int, member_ids: list[int]) -> None:
    session.execute(delete(LayerMember).where(LayerMember.layer_id == layer_id))
    session.add_all(LayerMember(layer_id=layer_id, position=i, user_id=u) for i, u in enumerate(member_ids))
    session.flush()


def update_layer(
    *,
    session: Session,
    layer_id: int,
    by: int | None = None,
    member_ids: list[int] | None = None,
    rotation_kind: str | None = None,
    rotation_hours: int | None = None,
    handoff_anchor: datetime | None = None,
    restrictions: list[dict] | None = None,
    priority: int | None = None,
    name: str | None = None,
    effective_from: datetime | None = None,
    now: datetime | None = None,
) -> ScheduleLayer:
    """Change a rotation layer from an instant (default now, never the past); None keeps a field.

    Returns the version in force from that instant (see app.schedules.versions). Imported layers are
    read-only.
    """
    at = versions.effective_instant(effective_from, now or utcnow())
    layer = versions.version_at(session, layer_id, at)
    if layer is None:
        raise Conflict(f"layer {layer_id} is not in force at {at.isoformat()}", field="effective_from")
    if layer.read_only or layer.source != "rotation":
        raise Conflict(f"layer {layer_id} is read-only ({layer.source})", field="layer_id")
    current = versions.member_ids(session, layer.id)
    members = current if member_ids is None else member_ids
    fields = {
        "rotation_kind": rotation_kind or layer.rotation_kind,
        "rotation_hours": rotation_hours if rotation_hours is not None else layer.rotation_hours,
        "handoff_anchor": handoff_anchor or layer.handoff_anchor,
        "restrictions": layer.restrictions if restrictions is None else restrictions,
        "priority": layer.priority if priority is None else priority,
        "name": name or layer.name,
    }
    _check_layer(
        session, members, fields["rotation_kind"], fields["rotation_hours"], fields["handoff_anchor"],
        fields["restrictions"],
    )  # fmt: skip
    if members == current and all(getattr(layer, k) == v for k, v in fields.items()):
        return layer  # nothing changes: no new version, so a repeated edit is harmless
    version = versions.split(session, layer, at)
    for key, value in fields.items():
        setattr(version, key, value)
    if members != current:
        _set_members(session, version.id, members)
    session.flush()
    record_audit(
        session=session,
        schedule_id=layer.schedule_id,
        action="layer_updated",
        actor_user_id=by,
        data={
            "layer_id": versions.lineage_of(layer),
            "version_id": version.id,
            "member_ids": members,
            "rotation_kind": fields["rotation_kind"],
            "priority": version.priority,
            "affects_from": at.isoformat(),
        },
    )
    return version


def add_override(
    *,
    session: Session,
    schedule_id: int,
    user_id: int,
    starts_at: datetime,
    ends_at: datetime,
    reason: str = "",
    created_by: int | None = None,
) -> ScheduleOverride:
    """Put a user on call over [starts_at, ends_at), above every layer."""
    # The row lock serialises override writers per schedule, so two overlapping inserts cannot both
    # pass the overlap check below.
    locked = session.scalar(select(Schedule.id).where(Schedule.id == schedule_id).with_for_update())
    if locked is None:
        raise NotFound(f"schedule {schedule_id} does not exist", field="schedule_id")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise Invalid("override times must carry a time zone", field="starts_at")
    if ends_at <= starts_at:
        raise Invalid("ends_at must be after starts_at", field="ends_at")
    check_users(session, [user_id], "user_id")
    overlapping = session.scalar(
        select(ScheduleOverride.id).where(
            ScheduleOverride.schedule_id == schedule_id,
            ScheduleOverride.starts_at < ends_at,
            ScheduleOverride.ends_at > starts_at,
        )
    )
    if overlapping is not None:
        raise Invalid(f"override overlaps override {overlapping}", field="starts_at")
    override = ScheduleOverride(
        schedule_id=schedule_id,
        user_id=user_id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        created_by=created_by,
    )
    session.add(override)
    session.flush()
    record_audit(
        session=session,
        schedule_id=schedule_id,
        action="override_created",
        actor_user_id=created_by,
        data={"override_id": override.id, "user_id": user_id, **_span(starts_at, ends_at), "reason": reason},
    )
    return override


def _span(start: datetime, end: datetime) -> dict[str, str]:
    return {"starts_at": start.isoformat(), "ends_at": end.isoformat()}


def record_audit(
    *,
    session: Session,
    schedule_id: int,
    action: str,
    actor_user_id: int | None = None,
    data: dict | None = None,
) -> ScheduleAudit:
    """Append one entry to the schedule's audit trail."""
    entry = ScheduleAudit(
        schedule_id=schedule_id, action=action, actor_user_id=actor_user_id, data=data or {}
    )
    session.add(entry)
    session.flush()
    return entry


def audit_trail(*, session: Session, schedule_id: int, limit: int = 100) -> list[ScheduleAudit]:
    """The latest audit entries of a schedule, newest first."""
    return list(
        session.scalars(
            select(ScheduleAudit)
            .where(ScheduleAudit.schedule_id == schedule_id)
            .order_by(ScheduleAudit.id.desc())
            .limit(limit)
        )
    )


def delete_override(*, session: Session, override_id: int, by: int | None = None) -> bool:
    """Remove an override; False (not an error) when it is already gone, so a retry is harmless."""
    override = session.get(ScheduleOverride, override_id)
    if override is None:
        return False
    record_audit(
        session=session,
        schedule_id=override.schedule_id,
        action="override_deleted",
        actor_user_id=by,
        data={
            "override_id": override.id,
            "user_id": override.user_id,
            **_span(override.starts_at, override.ends_at),
        },
    )
    session.delete(override)
    session.flush()
    return True


def list_schedules(*, session: Session, team_id: int | None = None) -> list[Schedule]:
    """Schedules by name, optionally only a team's."""
    query = select(Schedule).order_by(Schedule.name)
    if team_id is not None:
        query = query.where(Schedule.team_id == team_id)
    return list(session.scalars(query))


def list_layers(*, session: Session, schedule_id: int, at: datetime | None = None) -> list[ScheduleLayer]:
    """A schedule's layer versions in force at `at` (default now), the winning one first."""
    return versions.layers_in_force(session, schedule_id, at or utcnow())


def delete_layer(
    *,
    session: Session,
    layer_id: int,
    by: int | None = None,
    effective_from: datetime | None = None,
    now: datetime | None = None,
) -> bool:
    """Remove a layer from an instant (default now): its past stays; False when nothing was left to end."""
    layer = session.get(ScheduleLayer, layer_id)
    if layer is None:
        return False
    at = versions.effective_instant(effective_from, now or utcnow())
    lineage, schedule_id = versions.lineage_of(layer), layer.schedule_id
    name, source = layer.name, layer.source
    if not versions.end_lineage(session, lineage, at):
        return False
    record_audit(
        session=session,
        schedule_id=schedule_id,
        action="layer_deleted",
        actor_user_id=by,
        data={"layer_id": lineage, "name": name, "source": source, "affects_from": at.isoformat()},
    )
    return True


def on_call_user_ids(*, session: Session, schedule_id: int, at: datetime) -> list[int]:
    """Who is on call at an instant: an override, else the highest layer with someone, else nobody."""
    if at.tzinfo is None:
        raise Invalid("at must carry a time zone", field="at")
    schedule = load_schedule(
        session=session, schedule_id=schedule_id, start=at, end=at + timedelta(seconds=1)
    )
    return logic.who_is_on_call(schedule, at)


def on_call_now(*, session: Session, at: datetime, team_id: int | None = None) -> dict[int, list[int]]:
    """Who is on call on every schedule (or a team's) at an instant, by schedule id."""
    return {
        s.id: on_call_user_ids(session=session, schedule_id=s.id, at=at)
        for s in list_schedules(session=session, team_id=team_id)
    }


def gaps_between(
    *, session: Session, schedule_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Stretches of [start, end) when nobody is on call on a schedule."""
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("window bounds must carry a time zone", field="start")
    if end <= start:
        raise Invalid("end must be after start", field="end")
    schedule = load_schedule(session=session, schedule_id=schedule_id, start=start, end=end)
    return logic.gaps(schedule, start, end)


def shifts_between(
    *, session: Session, schedule_id: int, start: datetime, end: datetime
) -> list[logic.Shift]:
    """Final shifts of a schedule in [start, end), for the console and the iCal feed."""
    if start.tzinfo is None or end.tzinfo is None:
        raise Invalid("window bounds must carry a time zone", field="start")
    if end <= start:
        raise Invalid("end must be after start", field="end")
    schedule = load_schedule(session=session, schedule_id=schedule_id, start=start, end=end)
    return logic.final_shifts(schedule, start, end)
