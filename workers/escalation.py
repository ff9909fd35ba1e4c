"""Escalation actors: `escalate` runs one due step; `sweep` re-derives lost work from Postgres."""

from __future__ import annotations

import logging
from datetime import timedelta

import dramatiq

import workers.broker  # noqa: F401  (the broker must exist before actors are declared)
from app.db import session_scope, utcnow
from app.escalation.engine import due_incidents, expire_snoozes, run_step
from app.notifications.service import due_pending, reclaim_stale_sending, stale_slack_incidents
from workers.dispatch import delay_ms, enqueue_deliveries, kick_escalations, send

log = logging.getLogger(__name__)


@dramatiq.actor(
    queue_name="escalation", actor_name="escalate", max_retries=5, min_backoff=500, max_backoff=10_000
)
def escalate(incident_id: int, token: str) -> None:
    """Run the incident's due escalation step (a no-op when it is not due, handled or stale)."""
    with session_scope() as session:
        outcome = run_step(session=session, incident_id=incident_id, token=token)
    if outcome.status != "ran":
        return
    # Enqueued only after commit; a crash before this line is covered by the sweeper.
    now = utcnow()
    enqueue_deliveries(outcome.deliveries, now)
    if outcome.next_due is not None:
        next_token = outcome.token or token
        send("escalation", "escalate", incident_id, next_token, delay_ms=delay_ms(outcome.next_due, now))


@dramatiq.actor(queue_name="escalation", actor_name="sweep", max_retries=0)
def sweep() -> None:
    """Enqueue overdue steps, expired snoozes, due or stranded deliveries and stale Slack messages."""
    now = utcnow()
    with session_scope() as session:
        restarted = expire_snoozes(session=session, now=now)
    with session_scope() as session:
        reclaimed = reclaim_stale_sending(session=session, now=now)
    with session_scope() as session:
        due = due_incidents(session=session, now=now)
        pending = due_pending(session=session, now=now)
        redraw = stale_slack_incidents(session=session, since=now - timedelta(days=1))
    kick_escalations(restarted + [d for d in due if d not in restarted])
    for delivery_id in pending:
        send("notify", "notify", delivery_id)
    for incident_id in redraw:
        send("notify", "refresh_slack", incident_id)
    if restarted or due or pending or reclaimed:
        log.info(
            "sweep: %d snoozes expired, %d steps due, %d deliveries due, %d reclaimed from dead workers",
            len(restarted),
            len(due),
            len(pending),
            len(reclaimed),
        )
