"""Heartbeat monitors' secret URLs at /heartbeats/{token}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from app.db import session_scope
from app.errors import DomainError
from app.monitors.runner import beat
from workers.dispatch import kick_escalations

router = APIRouter()


@router.post("/heartbeats/{token}", status_code=200)
def heartbeat(token: str) -> dict[str, Any]:
    """Record a beat: the monitor is due again one interval plus grace from now; a late one recovers."""
    try:
        with session_scope() as session:
            monitor, kicks = beat(session=session, token=token)
            answer = {
                "monitor": monitor.name,
                "state": monitor.state,
                "next_beat_due_by": monitor.next_check_at.isoformat() if monitor.next_check_at else None,
            }
    except DomainError as err:
        # An unknown token is a plain 404 naming the field, revealing nothing about other monitors.
        raise HTTPException(
            status_code=err.status_code, detail={"field": err.field, "message": err.message}
        ) from None
    kick_escalations(kicks)
    return answer
