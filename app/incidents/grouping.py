"""Trigger or group: store a firing alert and attach it to the open incident for its dedup key.

Opens a new incident when none is open and re-opens one that resolved within the flap window. Races
between concurrent triggers are settled by the partial unique indexes and row locks, not by retries
in the caller.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.alerts.events import AlertEvent
from app.db import get_or_404, utcnow
from app.directory.models import Service
from app.errors import Invalid, NotFound
from app.escalation.service import resume_on_reopen, snapshot_policy
from app.incidents.events import record_event
from app.incidents.logic import max_severity
from app.incidents.models import Alert, Incident
from app.notifications.claiming import revive_cut_off

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


def _reopen(session: Session, incident: Incident, now: datetime, actor: str, by: int | None = None) -> None:
    incident.reopen_count += 1
    incident.resolved_at = None
    incident.resolved_by = None
    incident.resolved_by_kind = None
    incident.updated_at = now
    data: dict[str, Any] = {"reopen_count": incident.reopen_count}
    if incident.acknowledged_at is not None:
        # Someone already owns it: count the flap, page nobody again.
        incident.status = "acknowledged"
        incident.next_escalation_at = None
    else:
        # Resume on the policy's clock (a re-fire never advances a level early); an exhausted plan
        # starts a new pass at level 0.
        incident.status = "triggered"
        if resume_on_reopen(session=session, incident=incident, now=now):
            data["restart_level"] = 0
        else:
            revive_cut_off(session=session, incident=incident, now=now)
    record_event(
        session=session,
        incident_id=incident.id,
        kind="reopened",
        at=now,
        actor=actor,
        actor_user_id=by,
        data=data,
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
            sanitised=list(alert.sanitised),
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
