"""Schedules: create schedules, layers, members and overrides."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.directory.service import check_zone
from app.errors import Invalid, NotFound
from app.schedules.models import ROTATION_KINDS, LayerMember, Schedule, ScheduleLayer, ScheduleOverride


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
    session.add(schedule)
    session.flush()
    return schedule


def get_schedule(*, session: Session, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(f"schedule {schedule_id} does not exist", field="schedule_id")
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
) -> ScheduleLayer:
    """Add a rotation layer; handoff_anchor is naive wall-clock time in the schedule's zone."""
    get_schedule(session=session, schedule_id=schedule_id)
    if rotation_kind not in ROTATION_KINDS:
        raise Invalid(f"rotation_kind must be one of {', '.join(ROTATION_KINDS)}", field="rotation_kind")
    if rotation_kind == "custom" and not (rotation_hours and rotation_hours > 0):
        raise Invalid("a custom rotation needs rotation_hours > 0", field="rotation_hours")
    if not member_ids:
        raise Invalid("a layer needs at least one member", field="member_ids")
    if handoff_anchor.tzinfo is not None:
        raise Invalid(
            "handoff_anchor is wall-clock time in the schedule's zone, without offset", field="handoff_anchor"
        )
    layer = ScheduleLayer(
        schedule_id=schedule_id,
        name=name,
        priority=priority,
        rotation_kind=rotation_kind,
        rotation_hours=rotation_hours,
        handoff_anchor=handoff_anchor,
        restrictions=restrictions or [],
    )
    session.add(layer)
    session.flush()
    for position, user_id in enumerate(member_ids):
        session.add(LayerMember(layer_id=layer.id, position=position, user_id=user_id))
    session.flush()
    return layer


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
    get_schedule(session=session, schedule_id=schedule_id)
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise Invalid("override times must carry a time zone", field="starts_at")
    if ends_at <= starts_at:
        raise Invalid("ends_at must be after starts_at", field="ends_at")
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
    return override
