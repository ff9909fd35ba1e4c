"""Incident lifecycle: trigger or group, acknowledge, resolve, snooze, reassign, note, escalate.

Every function writes its incident event in the caller's transaction, takes a row lock on the
incident so concurrent callers serialise, and is idempotent (acknowledging an acknowledged
incident is a no-op, not an error). The caller owns the transaction.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.alerts.events import AlertEvent
from app.auth.permissions import require_service_action
from app.db import get_or_404, utcnow
from app.directory.models import Service
from app.errors import Invalid, NotFound
from app.escalation.service import snapshot_policy
from app.incidents.logic import max_severity
from app.incidents.models import Alert, Incident, IncidentEvent

# Literal predicates: with a bound parameter, Postgres cannot match the partial index once psycopg
# switches a repeated statement to a prepared, generic plan (the ~11th insert on one connection).
_OPEN = text("status <> 'resolved'")
_FIRING = text("status = 'firing'")

Outcome = Literal["created", "grouped", "duplicate", "reopened"]


@dataclass(frozen=True)
class GroupResult:
    incident: Incident
    outcome: Outcome
    alert_id: int


def actor_for(by: int | None, actor: str | None) -> str:
    if actor:
        return actor
    return f"user:{by}" if by is not None else "system"


def record_event(
    *,
    session: Session,
    incident_id: int,
    kind: str,
    at: datetime,
    actor: str = "system",
    actor_user_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> IncidentEvent:
    """Append one event to an incident's timeline."""
    event = IncidentEvent(
        incident_id=incident_id, kind=kind, at=at, actor=actor, actor_user_id=actor_user_id, data=data or {}
    )
    session.add(event)
    return event


# One short, constant statement for any number of events (prepared once per connection).
_INSERT_EVENTS = text(
    "INSERT INTO incident_events (incident_id, kind, at, actor, data) "
    "SELECT :incident_id, :kind, :at, :actor, e.d "
    "FROM jsonb_array_elements(CAST(:data AS jsonb)) WITH ORDINALITY AS e(d, n) ORDER BY e.n"
)


def record_events(
    *, session: Session, incident_id: int, kind: str, at: datetime, actor: str, data: list[dict[str, Any]]
) -> None:
    """Append many events of one kind to an incident's timeline in one statement (a batch of alerts)."""
    if data:
        session.flush()  # events already pending keep their place in the timeline
        params = {"incident_id": incident_id, "kind": kind, "at": at, "actor": actor}
        session.execute(_INSERT_EVENTS, {**params, "data": json.dumps(data, default=str)})


def _lock(session: Session, incident_id: int) -> Incident:
    incident = session.scalar(select(Incident).where(Incident.id == incident_id).with_for_update())
    if incident is None:
        raise NotFound(f"incident {incident_id} does not exist", field="incident_id")
    session.refresh(incident)
    return incident


def _lock_open(session: Session, service_id: int, dedup_key: str) -> Incident | None:
    stmt = (
        select(Incident)
        .where(
            Incident.service_id == service_id, Incident.dedup_key == dedup_key, Incident.status != "resolved"
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.scalar(stmt)


def _lock_flapping(session: Session, service_id: int, dedup_key: str, since: datetime) -> Incident | None:
    stmt = (
        select(Incident)
        .where(
            Incident.service_id == service_id,
            Incident.dedup_key == dedup_key,
            Incident.status == "resolved",
            Incident.resolved_at >= since,
        )
        .order_by(Incident.resolved_at.desc())
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    incident = session.scalar(stmt)
    # Re-checked under the lock: a concurrent caller may have re-opened it first.
    return incident if incident is not None and incident.status == "resolved" else None


def _insert_incident(
    session: Session, service: Service, dedup_key: str, alert: AlertEvent, now: datetime
) -> int | None:
    policy_id = service.escalation_policy_id
    stmt = (
        insert(Incident)
        .values(
            service_id=service.id,
            title=alert.summary[:500] or dedup_key,
            severity=alert.severity,
            status="triggered",
            dedup_key=dedup_key,
            alert_count=0,
            created_at=now,
            updated_at=now,
            escalation_policy_id=policy_id,
            escalation_snapshot=snapshot_policy(session=session, policy_id=policy_id),
            escalation_token=str(uuid.uuid4()),
            current_level=0,
            repeat_index=0,
            next_escalation_at=now if policy_id is not None else None,
        )
        .on_conflict_do_nothing(index_elements=["service_id", "dedup_key"], index_where=_OPEN)
        .returning(Incident.id)
    )
    return session.scalar(stmt)


def _reopen(session: Session, incident: Incident, now: datetime, actor: str) -> None:
    incident.reopen_count += 1
    incident.resolved_at = None
    incident.resolved_by = None
    incident.resolved_by_kind = None
    incident.updated_at = now
    if incident.acknowledged_at is not None:
        # Someone already owns it: count the flap, page nobody again.
        incident.status = "acknowledged"
        incident.next_escalation_at = None
    else:
        # Resume where escalation stood; delivery keys make an already-paged level page nobody twice.
        incident.status = "triggered"
        incident.next_escalation_at = now if incident.escalation_snapshot else None
    record_event(
        session=session,
        incident_id=incident.id,
        kind="reopened",
        at=now,
        actor=actor,
        data={"reopen_count": incident.reopen_count},
    )


def _insert_alert(
    session: Session, incident: Incident, alert: AlertEvent, integration_id: int | None, now: datetime
) -> int | None:
    stmt = (
        insert(Alert)
        .values(
            integration_id=integration_id,
            service_id=incident.service_id,
            incident_id=incident.id,
            fingerprint=alert.fingerprint,
            dedup_key=alert.dedup_key,
            status="firing",
            severity=alert.severity,
            summary=alert.summary,
            source=alert.source,
            labels=alert.labels,
            annotations=alert.annotations,
            links=alert.links,
            raw=alert.raw,
            starts_at=alert.starts_at,
            ends_at=alert.ends_at,
            received_at=now,
            last_received_at=now,
        )
        .on_conflict_do_nothing(
            index_elements=["service_id", "integration_id", "fingerprint"],
            index_where=_FIRING,
        )
        .returning(Alert.id)
    )
    return session.scalar(stmt)


def firing_alert(
    session: Session, service_id: int, integration_id: int | None, fingerprint: str
) -> Alert | None:
    """The alert currently firing for this service, integration and fingerprint, if any."""
    cond = (
        Alert.integration_id.is_(None) if integration_id is None else Alert.integration_id == integration_id
    )
    return session.scalar(
        select(Alert).where(
            Alert.service_id == service_id, cond, Alert.fingerprint == fingerprint, Alert.status == "firing"
        )
    )


def trigger_or_group(
    *,
    session: Session,
    service_id: int,
    dedup_key: str,
    alert: AlertEvent,
    integration_id: int | None = None,
    flap_window: timedelta = timedelta(minutes=10),
    now: datetime | None = None,
    actor: str = "system",
) -> GroupResult:
    """Store a firing alert and attach it to the open incident for (service, dedup key).

    Opens a new incident when none is open, re-opens one resolved within the flap window, and
    changes nothing for an alert that is already firing (a retried webhook).
    """
    now = now or utcnow()
    if not dedup_key:
        raise Invalid("dedup_key must not be empty", field="dedup_key")
    service = get_or_404(session, Service, service_id, what="service", field="service_id")
    existing = firing_alert(session, service_id, integration_id, alert.fingerprint)
    if existing is not None:
        return _duplicate(session, existing, now)
    while True:
        savepoint = session.begin_nested()
        incident, outcome = _open_incident_for(session, service, dedup_key, alert, flap_window, now, actor)
        alert_id = _insert_alert(session, incident, alert, integration_id, now)
        if alert_id is None:
            # The same alert raced in through another request: undo whatever we opened.
            savepoint.rollback()
            existing = firing_alert(session, service_id, integration_id, alert.fingerprint)
            if existing is None:
                continue
            return _duplicate(session, existing, now)
        savepoint.commit()
        break
    incident.alert_count += 1
    incident.severity = max_severity(incident.severity, alert.severity)
    incident.updated_at = now
    data = {"alert_id": alert_id, "fingerprint": alert.fingerprint, "summary": alert.summary}
    kind = "triggered" if outcome == "created" else "alert_grouped"
    record_event(session=session, incident_id=incident.id, kind=kind, at=now, actor=actor, data=data)
    session.flush()
    return GroupResult(incident=incident, outcome=outcome, alert_id=alert_id)


def _duplicate(session: Session, alert: Alert, now: datetime) -> GroupResult:
    alert.last_received_at = now
    incident = session.get(Incident, alert.incident_id)
    assert incident is not None
    return GroupResult(incident=incident, outcome="duplicate", alert_id=alert.id)


def _open_incident_for(
    session: Session,
    service: Service,
    dedup_key: str,
    alert: AlertEvent,
    flap_window: timedelta,
    now: datetime,
    actor: str,
) -> tuple[Incident, Outcome]:
    while True:
        incident = _lock_open(session, service.id, dedup_key)
        if incident is not None:
            return incident, "grouped"
        if flap_window > timedelta(0):
            flapping = _lock_flapping(session, service.id, dedup_key, now - flap_window)
            if flapping is not None:
                _reopen(session, flapping, now, actor)
                return flapping, "reopened"
        new_id = _insert_incident(session, service, dedup_key, alert, now)
        if new_id is not None:
            incident = session.get(Incident, new_id)
            assert incident is not None
            return incident, "created"
        # Lost the race to another trigger: loop and group into the incident it created.


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
    if incident.assignee_id == to_user_id:
        return incident
    previous = incident.assignee_id
    incident.assignee_id = to_user_id
    incident.updated_at = now
    record_event(
        session=session,
        incident_id=incident.id,
        kind="reassigned",
        at=now,
        actor=actor_for(by, actor),
        actor_user_id=by,
        data={"from": previous, "to": to_user_id},
    )
    session.flush()
    return incident


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
