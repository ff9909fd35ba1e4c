"""The outbox of outgoing webhooks: an incident event written means its deliveries are written too.

A mapper listener on IncidentEvent inserts one pending delivery per matching subscription in the
same transaction as the event, so a committed event is never lost to its subscribers and a rolled
back one is never sent. The workers send them (workers/webhooks.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from app.incidents.models import IncidentEvent
from app.webhooks.models import WEBHOOK_EVENTS

_FAN_OUT = text(
    "INSERT INTO webhook_deliveries (webhook_id, incident_id, event_id, kind, next_attempt_at) "
    "SELECT w.id, :incident_id, :event_id, CAST(:kind AS varchar), COALESCE(CAST(:at AS timestamptz), now()) "
    "FROM outgoing_webhooks w WHERE w.active AND CAST(:kind AS varchar) = ANY(w.events) "
    "AND (w.team_id IS NULL OR w.team_id = ("
    "  SELECT s.team_id FROM incidents i JOIN services s ON s.id = i.service_id WHERE i.id = :incident_id)) "
    "ON CONFLICT DO NOTHING"
)
_KINDS = frozenset(WEBHOOK_EVENTS)


@event.listens_for(IncidentEvent, "after_insert")
def _fan_out(_mapper: Any, connection: Connection, target: IncidentEvent) -> None:
    if target.kind in _KINDS:
        params = {
            "incident_id": target.incident_id,
            "event_id": target.id,
            "kind": target.kind,
            "at": target.at,
        }
        connection.execute(_FAN_OUT, params)
