"""Per-service timers: an acknowledgement that times out re-triggers; a quiet incident auto-resolves.

Both are periodic scans (workers.timers) that may run in several processes at once: each takes its
incidents with FOR UPDATE SKIP LOCKED and re-checks the condition under the lock, and the
transition itself ends the condition (status changes), so each timer fires once per occurrence.
Minutes are escalation minutes (SLAR_ESCALATION_MINUTE_S), so tests run them in seconds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, literal_column, select, update
from sqlalchemy.orm import Session

from app.config import get_settings
from app.directory.models import Service
from app.directory.service import get_service
from app.errors import Invalid
from app.escalation.restart import restart_plan
from app.incidents.models import Alert, Incident, IncidentEvent
from app.incidents.service import record_event, resolve

SECOND = literal_column("interval '1 second'")
LIMIT = 500


def _minute_s() -> float:
    return get_settings().escalation_minute_s


def _last_ack():  # type: ignore[no-untyped-def]
    # The latest acknowledgement, not the first: re-acknowledging restarts the timer.
    return (
        select(func.max(IncidentEvent.at))
        .where(IncidentEvent.incident_id == Incident.id, IncidentEvent.kind == "acknowledged")
        .correlate(Incident)
        .scalar_subquery()
    )


def retrigger_expired_acks(*, session: Session, now: datetime, limit: int = LIMIT) -> list[tuple[int, str]]:
    """Acknowledged incidents of services with an ack timeout, past it: triggered again from level 0."""
    timeout = Service.ack_timeout_minutes * _minute_s() * SECOND
    stmt = (
        select(Incident, Service.ack_timeout_minutes)
        .join(Service, Service.id == Incident.service_id)
        .where(
            Incident.status == "acknowledged",
            Service.ack_timeout_minutes.is_not(None),
            func.coalesce(_last_ack(), Incident.acknowledged_at) + timeout <= now,
        )
        .order_by(Incident.id)
        .limit(limit)
        .with_for_update(of=Incident, skip_locked=True)
    )
    kicks = []
    for incident, minutes in session.execute(stmt.execution_options(populate_existing=True)).all():
        if incident.status != "acknowledged":
            continue
        restart_plan(incident, now)
        record_event(
            session=session,
            incident_id=incident.id,
            kind="ack_timeout",
            at=now,
            data={"after_minutes": minutes},
        )
        if incident.next_escalation_at is not None:
            kicks.append((incident.id, incident.escalation_token))
    session.flush()
    return kicks


def auto_resolve_quiet(*, session: Session, now: datetime, limit: int = LIMIT) -> list[int]:
    """Open incidents of services with an auto-resolve timeout and no new alert for that long: resolved."""
    last_alert = (
        select(func.max(Alert.received_at))
        .where(Alert.incident_id == Incident.id)
        .correlate(Incident)
        .scalar_subquery()
    )
    quiet = Service.auto_resolve_minutes * _minute_s() * SECOND
    stmt = (
        select(Incident.id)
        .join(Service, Service.id == Incident.service_id)
        .where(
            Incident.status != "resolved",
            Service.auto_resolve_minutes.is_not(None),
            func.greatest(func.coalesce(last_alert, Incident.created_at), Incident.created_at) + quiet <= now,
        )
        .order_by(Incident.id)
        .limit(limit)
        .with_for_update(of=Incident, skip_locked=True)
    )
    resolved = []
    for incident_id in session.scalars(stmt).all():
        incident = resolve(
            session=session, incident_id=incident_id, by=None, actor="system", kind="auto", now=now
        )
        if incident.resolved_at != now:
            continue  # resolved by someone else between the scan and the lock
        # Its alerts end too, so the next occurrence opens a new incident instead of a duplicate.
        session.execute(
            update(Alert)
            .where(Alert.incident_id == incident_id, Alert.status == "firing")
            .values(status="resolved", ends_at=now, last_received_at=now)
        )
        resolved.append(incident_id)
    session.flush()
    return resolved


def set_service_timers(
    *, session: Session, service_id: int, ack_timeout_minutes: int | None, auto_resolve_minutes: int | None
) -> Service:
    """Set (or clear with None) a service's acknowledgement and auto-resolve timeouts, in minutes."""
    for name, value in (
        ("ack_timeout_minutes", ack_timeout_minutes),
        ("auto_resolve_minutes", auto_resolve_minutes),
    ):
        if value is not None and not 1 <= value <= 60 * 24 * 30:
            raise Invalid(f"{name} must be between 1 and 43200 minutes (30 days)", field=name)
    service = get_service(session=session, service_id=service_id)
    service.ack_timeout_minutes = ack_timeout_minutes
    service.auto_resolve_minutes = auto_resolve_minutes
    session.flush()
    return service
