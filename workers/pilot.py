"""The AI pilot's actors on the "agent" queue: a first look per new incident, and a sweep that finds them.

The sweep re-derives what is missing from Postgres, so a lost message only delays a first look; the
pilot's queue is separate, so a slow model never delays a page.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import dramatiq

import workers.broker  # noqa: F401  (the broker must exist before actors are declared)
from app.assistant.service import incidents_awaiting_analysis
from app.config import get_settings
from app.db import session_scope, utcnow
from workers.dispatch import send

SWEEP_WINDOW = timedelta(hours=1)


@dramatiq.actor(queue_name="agent", max_retries=3, min_backoff=5_000, max_backoff=60_000, time_limit=300_000)
def analyse_incident(incident_id: int) -> None:
    """Store an AI first look at one incident (once; later deliveries do nothing)."""
    if not get_settings().agent_pilot_enabled:
        return
    from agent.pilot import first_look  # heavy: the agent (AutoGen) loads only when the pilot is on

    asyncio.run(first_look(incident_id))


@dramatiq.actor(queue_name="agent", max_retries=0, time_limit=60_000)
def pilot_sweep() -> None:
    """Queue a first look for every recent incident that has none yet."""
    if not get_settings().agent_pilot_enabled:
        return
    with session_scope() as s:
        ids = incidents_awaiting_analysis(session=s, since=utcnow() - SWEEP_WINDOW)
    for incident_id in ids:
        send("agent", "analyse_incident", incident_id)
