"""What is due but not done, read from Postgres: the gauges every process's /metrics reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.incidents.models import Incident, IncidentEvent
from app.notifications.models import Delivery

# A step or delivery counts as overdue only after this grace: the normal hop through the broker.
GRACE = timedelta(seconds=5)
# Deliveries are looked for this far back only (by the due_at index): older ones were settled or
# reclaimed by the sweeper long ago, and scanning all history every scrape would cost more each day.
HORIZON = timedelta(days=1)


@dataclass(frozen=True)
class Backlog:
    steps_due: int  # escalation steps whose time has passed and that no worker has run
    deliveries_due: int  # pages whose time has passed and that are still pending or sending
    oldest_due_s: float  # age of the oldest such step or delivery, 0 when there is none


def backlog(*, session: Session, now: datetime | None = None) -> Backlog:
    """Overdue escalation steps and deliveries (both served by partial indexes)."""
    now = now or utcnow()
    cutoff = now - GRACE
    steps = session.execute(
        select(func.count(), func.min(Incident.next_escalation_at)).where(
            Incident.status == "triggered",
            Incident.next_escalation_at.is_not(None),
            Incident.next_escalation_at <= cutoff,
            or_(Incident.snoozed_until.is_(None), Incident.snoozed_until <= now),
        )
    ).one()
    pages = session.execute(
        select(func.count(), func.min(Delivery.due_at)).where(
            Delivery.status.in_(("pending", "sending")),
            Delivery.due_at <= cutoff,
            Delivery.due_at >= now - HORIZON,
        )
    ).one()
    oldest = min((t for t in (steps[1], pages[1]) if t is not None), default=None)
    return Backlog(
        steps_due=int(steps[0]),
        deliveries_due=int(pages[0]),
        oldest_due_s=(now - oldest).total_seconds() if oldest else 0.0,
    )


def export_lag_s(*, session: Session, exported_max_event_id: int, now: datetime | None = None) -> float:
    """Age of the oldest incident event not yet in the Parquet export (0 when it is up to date)."""
    now = now or utcnow()
    oldest = session.scalar(
        select(func.min(IncidentEvent.at)).where(IncidentEvent.id > exported_max_event_id)
    )
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
