"""Incident lifecycle: trigger or group, acknowledge, resolve, snooze, reassign, note, escalate.

Every function writes its incident event in the caller's transaction, takes a row lock on the
incident so concurrent callers serialise, and is idempotent (acknowledging an acknowledged
incident is a no-op, not an error). The caller owns the transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.permissions import require_service_action
from app.db import get_or_404, utcnow
from app.errors import Conflict, Invalid
from app.incidents.events import actor_for as actor_for
from app.incidents.events import record_event as record_event
from app.incidents.events import record_events as record_events
from app.incidents.grouping import GroupResult as GroupResult
from app.incidents.grouping import Outcome as Outcome
from app.incidents.grouping import _lock, _lock_open
from app.incidents.grouping import firing_alert as firing_alert
from app.incidents.grouping import trigger_or_group as trigger_or_group
from app.incidents.models import Alert, Incident, IncidentEvent
from app.webhooks import outbox  # noqa: F401 - every written event reaches its webhook subscribers


def _guard(session: Session, incident_id: int, by: int | None) -> Incident:
    incident = _lock(session, incident_id)
    if by is not None:
        require_service_action(session, by, incident.service_id)
    return incident


def acknowledge(
    *,
    session: Session,
    incident_id: int,
    by: int | None,
    actor: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Acknowledge: stops escalation. A no-op on an acknowledged or resolved incident."""
    now = now or utcnow()
    incident = _guard(session, incident_id, by)
    if incident.status != "triggered":
        return incident
    incident.status = "acknowledged"
    incident.acknowledged_at = incident.acknowledged_at or now
    incident.acknowledged_by = incident.acknowledged_by or by
    incident.next_escalation_at = None
    incident.updated_at = now
    record_event(
        session=session,
        incident_id=incident.id,
        kind="acknowledged",
        at=now,
        actor=actor_for(by, actor),
        actor_user_id=by,
        data={"level": incident.current_level},
    )
    if by is not None and not incident.assigned_manually:
        # Whoever acknowledges owns it, unless a person assigned it by hand; the acknowledged event says so.
        incident.assignee_id = by
    session.flush()
    return incident


def resolve(
    *,
    session: Session,
    incident_id: int,
    by: int | None,
    actor: str | None = None,
    kind: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Resolve: ends escalation and snooze. A no-op on a resolved incident."""
    now = now or utcnow()
    incident = _guard(session, incident_id, by)
    if incident.status == "resolved":
        return incident
    incident.status = "resolved"
    incident.resolved_at = now
    incident.resolved_by = by
    incident.resolved_by_kind = kind or ("user" if by is not None else "auto")
    incident.next_escalation_at = None
    incident.snoozed_until = None
    incident.updated_at = now
    record_event(
        session=session,
        incident_id=incident.id,
        kind="resolved",
        at=now,
        actor=actor_for(by, actor),
        actor_user_id=by,
        data={"resolved_by_kind": incident.resolved_by_kind},
    )
    session.flush()
    return incident


def _restart_escalation(incident: Incident, now: datetime) -> None:
    # A fresh token makes any message still queued for the old run stale.
    incident.status = "triggered"
    incident.escalation_token = str(uuid.uuid4())
    incident.next_escalation_at = now if incident.escalation_snapshot else None
    incident.updated_at = now


def unacknowledge(
    *,
    session: Session,
    incident_id: int,
    by: int | None,
    actor: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Back to triggered: escalation resumes at the current level. A no-op unless acknowledged."""
    now = now or utcnow()
    incident = _guard(session, incident_id, by)
    if incident.status != "acknowledged":
        return incident
    incident.acknowledged_at = None
    incident.acknowledged_by = None
    _restart_escalation(incident, now)
    record_event(
        session=session,
        incident_id=incident.id,
        kind="unacknowledged",
        at=now,
        actor=actor_for(by, actor),
        actor_user_id=by,
        data={"level": incident.current_level},
    )
    session.flush()
    return incident


def unresolve(
    *,
    session: Session,
    incident_id: int,
    by: int | None,
    actor: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Re-open a resolved incident as triggered, escalating from the first level. A no-op otherwise."""
    now = now or utcnow()
    incident = _guard(session, incident_id, by)
    if incident.status != "resolved":
        return incident
    if _lock_open(session, incident.service_id, incident.dedup_key) is not None:
        raise Conflict(
            "a newer incident with the same dedup key is open; act on that one", field="incident_id"
        )
    incident.reopen_count += 1
    incident.resolved_at = incident.resolved_by = incident.resolved_by_kind = None
    incident.acknowledged_at = incident.acknowledged_by = None
    incident.current_level = incident.repeat_index = 0
    _restart_escalation(incident, now)
    record_event(
        session=session,
        incident_id=incident.id,
        kind="reopened",
        at=now,
        actor=actor_for(by, actor),
        actor_user_id=by,
        data={"reopen_count": incident.reopen_count, "manual": True},
    )
    session.flush()
    return incident


def snooze(
    *,
    session: Session,
    incident_id: int,
    by: int | None,
    duration: timedelta,
    actor: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Silence escalation until now + duration; when it expires escalation restarts at level 0."""
    now = now or utcnow()
    if duration <= timedelta(0) or duration > timedelta(days=7):
        raise Invalid("snooze duration must be between 1 second and 7 days", field="duration")
    incident = _guard(session, incident_id, by)
    if incident.status == "resolved":
        raise Invalid("a resolved incident cannot be snoozed", field="incident_id")
    incident.snoozed_until = now + duration
    incident.next_escalation_at = None
    incident.updated_at = now
    record_event(
        session=session,
        incident_id=incident.id,
        kind="snoozed",
        at=now,
        actor=actor_for(by, actor),
        actor_user_id=by,
        data={"until": incident.snoozed_until.isoformat(), "seconds": duration.total_seconds()},
    )
    session.flush()
    return incident


def reassign(
    *,
    session: Session,
    incident_id: int,
    by: int | None,
    to_user_id: int,
    actor: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Make another user the incident's assignee. A no-op when they already are."""
    from app.directory.models import User

    now = now or utcnow()
    incident = _guard(session, incident_id, by)
    target = session.get(User, to_user_id)
    if target is None or not target.active:
        raise Invalid(f"user {to_user_id} does not exist", field="to_user_id")
    # A person's choice sticks: escalation and acknowledgement no longer move the assignee.
    incident.assigned_manually = incident.assigned_manually or by is not None
    _assign(session, incident, to_user_id, now, actor_for(by, actor), by)
    session.flush()
    return incident


def _assign(
    session: Session, incident: Incident, to_user_id: int, now: datetime, actor: str, by: int | None
) -> None:
    if incident.assignee_id == to_user_id:
        return
    previous = incident.assignee_id
    incident.assignee_id = to_user_id
    incident.updated_at = now
    record_event(
        session=session,
        incident_id=incident.id,
        kind="reassigned",
        at=now,
        actor=actor,
        actor_user_id=by,
        data={"from": previous, "to": to_user_id},
    )


def assign_to_paged(*, session: Session, incident: Incident, user_ids: list[int], now: datetime) -> None:
    """A triggered incident belongs to whoever its escalation pages now (the first person of the step)."""
    if not user_ids or incident.status != "triggered" or incident.assigned_manually:
        return
    if incident.assignee_id not in user_ids:
        # No event of its own: the step's notified events already name who is paged.
        incident.assignee_id = user_ids[0]
        incident.updated_at = now


def add_note(
    *,
    session: Session,
    incident_id: int,
    by: int | None,
    text: str,
    actor: str | None = None,
    now: datetime | None = None,
) -> IncidentEvent:
    """Append a note to the timeline."""
    now = now or utcnow()
    if not text.strip():
        raise Invalid("note text must not be empty", field="text")
    if len(text) > 10_000:
        raise Invalid("note text must be at most 10000 characters", field="text")
    incident = _guard(session, incident_id, by)
    event = record_event(
        session=session,
        incident_id=incident.id,
        kind="note",
        at=now,
        actor=actor_for(by, actor),
        actor_user_id=by,
        data={"text": text},
    )
    session.flush()
    return event


def escalate(
    *,
    session: Session,
    incident_id: int,
    by: int | None,
    actor: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Jump to the next escalation level now (re-triggers an acknowledged incident)."""
    now = now or utcnow()
    incident = _guard(session, incident_id, by)
    if incident.status == "resolved":
        raise Invalid("a resolved incident cannot be escalated", field="incident_id")
    levels = (incident.escalation_snapshot or {}).get("levels", [])
    previous = incident.current_level
    incident.current_level = min(previous + 1, max(len(levels) - 1, 0))
    incident.status = "triggered"
    incident.snoozed_until = None
    incident.escalation_token = str(uuid.uuid4())
    incident.next_escalation_at = now if levels else None
    incident.updated_at = now
    record_event(
        session=session,
        incident_id=incident.id,
        kind="escalated",
        at=now,
        actor=actor_for(by, actor),
        actor_user_id=by,
        data={"from_level": previous, "to_level": incident.current_level, "manual": True},
    )
    session.flush()
    return incident


def get_incident(*, session: Session, incident_id: int) -> Incident:
    return get_or_404(session, Incident, incident_id, what="incident", field="incident_id")


def timeline(*, session: Session, incident_id: int) -> list[IncidentEvent]:
    """The incident's events, oldest first."""
    return list(
        session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.at, IncidentEvent.id)
        )
    )


def alerts_of(*, session: Session, incident_id: int) -> list[Alert]:
    return list(session.scalars(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id)))


def list_incidents(
    *,
    session: Session,
    statuses: tuple[str, ...] = ("triggered", "acknowledged"),
    service_ids: list[int] | None = None,
    limit: int = 200,
) -> list[Incident]:
    """Incidents in the given statuses, oldest first (the one waiting longest on top)."""
    stmt = select(Incident).where(Incident.status.in_(statuses))
    if service_ids:
        stmt = stmt.where(Incident.service_id.in_(service_ids))
    return list(session.scalars(stmt.order_by(Incident.created_at).limit(limit)))
