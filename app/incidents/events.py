"""Incident timeline events: who acted, and appending one or many events in the caller's transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.incidents.models import IncidentEvent


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
