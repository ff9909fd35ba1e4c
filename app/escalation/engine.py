"""The escalation engine: run one step of an incident's frozen plan under its row lock.

Postgres is the timer: `incidents.next_escalation_at` holds when the next step is due, and every
step is logged in `escalation_steps`, so a duplicate, late or stale message changes nothing.
Kept apart from service.py because the incidents service imports that module (snapshot at trigger).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, insert, or_, select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import utcnow
from app.directory.models import Service, TeamMembership, User
from app.errors import DomainError
from app.escalation.logic import Target, plan_from_snapshot, plan_step, round_robin
from app.escalation.models import EscalationTarget
from app.escalation.step_models import EscalationStep
from app.incidents.models import Incident
from app.incidents.service import assign_to_paged, record_event
from app.notifications.rules import is_important
from app.notifications.service import plan_channel_delivery, plan_user_deliveries
from app.suppression.models import MaintenanceWindow, MaintenanceWindowService, Silence
from app.suppression.service import hold

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepOutcome:
    """What one escalate call did: `ran`, or why it did nothing; the deliveries it planned."""

    status: str
    deliveries: list[tuple[int, datetime]] = field(default_factory=list)
    next_due: datetime | None = None
    token: str | None = None


@dataclass(frozen=True)
class _Locked:
    incident: Incident
    # Whether the current step is logged already, the service's important severities and whether
    # any window or silence is active: read in the locking statement, one round trip for all.
    step_ran: bool
    important_severities: list[str] | None
    may_hold: bool


def _lock_statement() -> Select[Any]:
    ran = (
        select(EscalationStep.id)
        .where(
            EscalationStep.incident_id == Incident.id,
            EscalationStep.token == Incident.escalation_token,
            EscalationStep.level == Incident.current_level,
            EscalationStep.repeat_index == Incident.repeat_index,
        )
        .exists()
    )
    now = bindparam("now")
    # Nothing can hold the page unless a window on its service or some silence is active now.
    may_hold = or_(
        select(MaintenanceWindowService.service_id)
        .join(MaintenanceWindow, MaintenanceWindow.id == MaintenanceWindowService.window_id)
        .where(
            MaintenanceWindowService.service_id == Incident.service_id,
            MaintenanceWindow.starts_at <= now,
            MaintenanceWindow.ends_at > now,
        )
        .exists(),
        select(Silence.id).where(Silence.starts_at <= now, Silence.ends_at > now).exists(),
    )
    return (
        select(Incident, ran, Service.important_severities, may_hold)
        .outerjoin(Service, Service.id == Incident.service_id)
        .where(Incident.id == bindparam("incident_id"))
        .with_for_update(of=Incident)
        .execution_options(populate_existing=True)
    )


# Built once: SQLAlchemy then finds the compiled form by the statement's memoised cache key.
_LOCK = _lock_statement()


# A Core INSERT: the step's log row needs none of the ORM's unit-of-work bookkeeping.
_LOG_STEP = insert(EscalationStep.__table__)
_USER_ACTIVE = select(User.active).where(User.id == bindparam("user_id"))


def _lock_incident(session: Session, incident_id: int, now: datetime) -> _Locked | None:
    row = session.execute(_LOCK, {"incident_id": incident_id, "now": now}).first()
    return _Locked(row[0], bool(row[1]), row[2], bool(row[3])) if row is not None else None


def _skip_reason(incident: Incident | None, token: str, now: datetime) -> str | None:
    if incident is None:
        return "missing"
    if incident.status != "triggered":
        return incident.status
    if incident.snoozed_until is not None and incident.snoozed_until > now:
        return "snoozed"
    if token != incident.escalation_token:
        return "stale_token"
    if incident.next_escalation_at is None or incident.next_escalation_at > now:
        return "not_due"
    return None


def _step_ran(session: Session, incident: Incident) -> bool:
    stmt = select(EscalationStep.id).where(
        EscalationStep.incident_id == incident.id,
        EscalationStep.token == incident.escalation_token,
        EscalationStep.level == incident.current_level,
        EscalationStep.repeat_index == incident.repeat_index,
    )
    return session.scalar(stmt) is not None


def run_step(*, session: Session, incident_id: int, token: str, now: datetime | None = None) -> StepOutcome:
    """Run the incident's due escalation step once: a stale, early or repeated call changes nothing."""
    now = now or utcnow()
    locked = _lock_incident(session, incident_id, now)
    incident = locked.incident if locked is not None else None
    reason = _skip_reason(incident, token, now)
    if reason is not None or incident is None or locked is None:
        return StepOutcome(status=reason or "missing")
    position = (incident.escalation_token, incident.current_level, incident.repeat_index)
    # A maintenance window or silence holds the page (and says when to look again).
    checked = locked.may_hold or incident.suppressed_by is not None
    held = hold(session=session, incident=incident, now=now) if checked else None
    if held is not None:
        return StepOutcome(status="suppressed")
    # A hold that just ended restarts the plan: what was read with the lock is about the old step.
    moved = position != (incident.escalation_token, incident.current_level, incident.repeat_index)
    plan = plan_from_snapshot(incident.escalation_snapshot)
    step = plan_step(
        plan,
        level=incident.current_level,
        repeat=incident.repeat_index,
        already_ran=_step_ran(session, incident) if moved else locked.step_ran,
        now=now,
        minute_s=get_settings().escalation_minute_s,
    )
    if step is None:
        incident.next_escalation_at = None
        return StepOutcome(status="exhausted")
    previous = incident.current_level
    level = step.index
    incident.current_level, incident.repeat_index = level, step.repeat
    deliveries: list[tuple[int, datetime]] = []
    important = _important(incident, step.level.important, locked.important_severities)
    paged: list[int] = []
    for target in step.level.targets:
        deliveries += _page_target(session, incident, target, level, step.repeat, now, paged, important)
    assign_to_paged(session=session, incident=incident, user_ids=paged, now=now)
    step_row = {
        "incident_id": incident.id,
        "token": incident.escalation_token or "",
        "level": level,
        "repeat_index": step.repeat,
        "recipients": len(deliveries),
        "ran_at": now,
    }
    session.execute(_LOG_STEP, step_row)
    if step.advanced:
        record_event(
            session=session,
            incident_id=incident.id,
            kind="escalated",
            at=now,
            data={"from_level": previous, "to_level": level, "repeat": step.repeat, "manual": False},
        )
    incident.next_escalation_at = step.next_due
    session.flush()
    # The token may be new: a hold that ended restarted the plan as a new run.
    return StepOutcome(
        status="ran", deliveries=deliveries, next_due=step.next_due, token=incident.escalation_token
    )


def _important(incident: Incident, level_important: bool, service_severities: list[str] | None) -> bool:
    if level_important:
        return True
    severities = service_severities if service_severities is not None else ["critical"]
    return is_important(level_important=False, severity=incident.severity, important_severities=severities)


def _page_target(
    session: Session,
    incident: Incident,
    target: Target,
    level: int,
    repeat: int,
    now: datetime,
    paged: list[int],
    important: bool = False,
) -> list[tuple[int, datetime]]:
    if target.kind == "slack_channel" and target.slack_channel:
        return plan_channel_delivery(
            session=session,
            incident=incident,
            channel=target.slack_channel,
            level=level,
            repeat=repeat,
            start=now,
        )
    out: list[tuple[int, datetime]] = []
    for user_id in TARGET_RESOLVERS[target.kind](session, target, now):
        paged.append(user_id)
        out += plan_user_deliveries(
            session=session,
            incident=incident,
            user_id=user_id,
            level=level,
            repeat=repeat,
            start=now,
            important=important,
        )
    return out


def _user_target(session: Session, target: Target, now: datetime) -> list[int]:
    # The plan is frozen at trigger time: the user may have been removed or deactivated since.
    if target.user_id is None:
        return []
    active = session.execute(_USER_ACTIVE, {"user_id": target.user_id}).scalar()
    return [target.user_id] if active else []


def _schedule_target(session: Session, target: Target, now: datetime) -> list[int]:
    from app.schedules.service import on_call_user_ids

    if target.schedule_id is None:
        return []
    try:
        return on_call_user_ids(session=session, schedule_id=target.schedule_id, at=now)
    except DomainError:
        # A schedule deleted since the plan was frozen reaches nobody; the next level still runs.
        log.warning("schedule %s of a frozen plan is gone", target.schedule_id)
        return []


def _team_target(session: Session, target: Target, now: datetime) -> list[int]:
    if target.team_id is None:
        return []
    members = list(
        session.scalars(
            select(TeamMembership.user_id)
            .join(User, User.id == TeamMembership.user_id)
            .where(TeamMembership.team_id == target.team_id, User.active.is_(True))
            .order_by(TeamMembership.user_id)
        )
    )
    if target.team_mode != "round_robin":
        return members
    row = None
    if target.id is not None:
        row = session.scalar(
            select(EscalationTarget).where(EscalationTarget.id == target.id).with_for_update()
        )
    chosen, cursor = round_robin(members, row.round_robin_cursor if row else 0)
    if row is not None:
        # Advanced in the step's transaction: a step that rolls back does not skip anyone.
        row.round_robin_cursor = cursor
    return [chosen] if chosen is not None else []


TARGET_RESOLVERS: dict[str, Callable[[Session, Target, datetime], list[int]]] = {
    "user": _user_target,
    "schedule": _schedule_target,
    "team": _team_target,
    "slack_channel": lambda session, target, now: [],
}


def due_incidents(
    *, session: Session, now: datetime | None = None, limit: int = 1000
) -> list[tuple[int, str]]:
    """(incident id, token) of every triggered incident whose next step is due (the sweeper's scan)."""
    now = now or utcnow()
    stmt = (
        select(Incident.id, Incident.escalation_token)
        .where(
            Incident.status == "triggered",
            Incident.next_escalation_at.is_not(None),
            Incident.next_escalation_at <= now,
            or_(Incident.snoozed_until.is_(None), Incident.snoozed_until <= now),
        )
        .order_by(Incident.next_escalation_at)
        .limit(limit)
    )
    return [(r[0], r[1] or "") for r in session.execute(stmt)]


def expire_snoozes(
    *, session: Session, now: datetime | None = None, limit: int = 500
) -> list[tuple[int, str]]:
    """Incidents whose snooze ran out start escalating again from level 0 (a new run of the plan)."""
    now = now or utcnow()
    stmt = (
        select(Incident)
        .where(
            Incident.snoozed_until.is_not(None), Incident.snoozed_until <= now, Incident.status != "resolved"
        )
        .with_for_update(skip_locked=True)
        .limit(limit)
    )
    kicked = []
    for incident in session.scalars(stmt):
        incident.snoozed_until = None
        incident.status = "triggered"
        incident.current_level = 0
        incident.repeat_index = 0
        incident.escalation_token = str(uuid.uuid4())
        incident.next_escalation_at = now if incident.escalation_snapshot else None
        incident.updated_at = now
        record_event(
            session=session, incident_id=incident.id, kind="unsnoozed", at=now, data={"restart_level": 0}
        )
        kicked.append((incident.id, incident.escalation_token))
    session.flush()
    return kicked
