"""The service timers actor: acknowledgement timeouts re-trigger, quiet incidents auto-resolve."""

from __future__ import annotations

import logging

import dramatiq

import workers.broker  # noqa: F401  (the broker must exist before actors are declared)
from app.db import session_scope, utcnow
from app.incidents.timers import auto_resolve_quiet, retrigger_expired_acks
from workers.dispatch import kick_escalations, send

log = logging.getLogger(__name__)


@dramatiq.actor(queue_name="escalation", actor_name="service_timers", max_retries=0)
def service_timers() -> None:
    """Re-trigger acknowledgements past their service's timeout; resolve incidents quiet for long."""
    now = utcnow()
    with session_scope() as session:
        retriggered = retrigger_expired_acks(session=session, now=now)
    with session_scope() as session:
        resolved = auto_resolve_quiet(session=session, now=now)
    # After commit, as everywhere: a lost enqueue is re-derived by the sweeper.
    kick_escalations(retriggered)
    for incident_id in resolved:
        send("notify", "refresh_slack", incident_id)
    if retriggered or resolved:
        log.info("service timers: %d re-triggered, %d auto-resolved", len(retriggered), len(resolved))
