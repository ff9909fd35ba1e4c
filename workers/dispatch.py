"""Enqueue work for the workers by actor name, so edges (ingest, console) need not import actors.

Called only after the caller's transaction has committed. A failure to enqueue is logged and
swallowed: Postgres holds the due time, and the sweeper re-derives every lost message.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from dramatiq import Message

log = logging.getLogger(__name__)


def send(queue: str, actor: str, *args: Any, delay_ms: int | None = None) -> bool:
    """Enqueue one message; False (never an exception) when Redis cannot take it."""
    message = Message(queue_name=queue, actor_name=actor, args=args, kwargs={}, options={})
    try:
        # Imported here so an edge without REDIS_URL degrades to "not sent" instead of failing.
        from workers.broker import broker

        broker.enqueue(message, delay=delay_ms)
        return True
    except Exception:  # noqa: BLE001 - the sweeper covers a lost enqueue; paging must not fail here
        log.warning("enqueue of %s%r failed; the sweeper will pick it up", actor, args, exc_info=True)
        return False


def kick_escalations(incidents: list[tuple[int, str]]) -> None:
    """Ask the workers to run the due escalation step of each (incident id, escalation token)."""
    for incident_id, token in incidents:
        send("escalation", "escalate", incident_id, token)


def delay_ms(due: datetime, now: datetime) -> int | None:
    """Milliseconds until `due`, or None when it is due already."""
    ms = int((due - now).total_seconds() * 1000)
    return ms if ms > 0 else None


def enqueue_deliveries(deliveries: list[tuple[int, datetime]], now: datetime) -> None:
    """Ask the workers to send each (delivery id, due time), delayed until it is due."""
    for delivery_id, due in deliveries:
        send("notify", "notify", delivery_id, delay_ms=delay_ms(due, now))
