"""Heartbeat monitors' secret URLs at /heartbeats/{token}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.db import session_scope
from app.monitors.runner import beat
from workers.dispatch import kick_escalations

router = APIRouter()


@router.post("/heartbeats/{token}", status_code=200)
def heartbeat(token: str) -> dict[str, Any]:
    """Record a beat: the monitor is due again one interval plus grace from now; a late one recovers."""
    # An unknown token raises NotFound, which the app answers as a 404 naming the field "token".
    with session_scope() as session:
        monitor, kicks = beat(session=session, token=token)
        answer = {
            "monitor": monitor.name,
            "state": monitor.state,
            "next_beat_due_by": monitor.next_check_at.isoformat() if monitor.next_check_at else None,
        }
    kick_escalations(kicks)
    return answer
