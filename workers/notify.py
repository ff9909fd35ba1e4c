"""Notification actors: `notify` sends one delivery; `refresh_slack` redraws an incident's messages."""

from __future__ import annotations

from datetime import datetime

import dramatiq

import workers.broker  # noqa: F401  (the broker must exist before actors are declared)
from app.db import session_scope, utcnow
from app.escalation.logic import backoff_s
from app.notifications.leases import delivery_lease, reclaim_orphaned
from app.notifications.service import (
    RECLAIMED,
    claim,
    incident_view_of,
    mark_failed,
    mark_not_configured,
    mark_sent,
    slack_messages,
    touch_deliveries,
)
from workers.channels import client_for, deliver
from workers.channels import slack as slack_channel
from workers.dispatch import enqueue_deliveries, send
from workers.metrics import observe_delivery

# Attempts per delivery before it is marked failed; transient errors wait 1, 2, 4, 8 s between them.
MAX_ATTEMPTS = 5


@dramatiq.actor(queue_name="notify", actor_name="notify", max_retries=5, min_backoff=500, max_backoff=10_000)
def notify(delivery_id: int) -> None:
    """Claim a due delivery (marked `sending` and committed), send it, then record the outcome."""
    # The lease is held from before `sending` is committed until the outcome is: if this worker
    # dies mid-send, Postgres frees it and `reclaim_sends` re-sends within seconds.
    with delivery_lease(delivery_id):
        _claim_send_settle(delivery_id)


def _claim_send_settle(delivery_id: int) -> None:
    with session_scope() as session:
        outbound = claim(session=session, delivery_id=delivery_id).outbound
    if outbound is None:
        return
    result = deliver(outbound)
    final = result.permanent or outbound.attempt >= MAX_ATTEMPTS
    due_at = None
    retry_in_s = None if final else max(backoff_s(outbound.attempt), result.retry_after_s or 0.0)
    advanced: list[tuple[int, datetime]] = []
    with session_scope() as session:
        if result.ok:
            due_at = mark_sent(
                session=session, delivery_id=delivery_id, provider_message_id=result.provider_message_id
            )
        elif result.not_configured:
            advanced = mark_not_configured(
                session=session, delivery_id=delivery_id, reason=result.error or "not configured"
            )
        else:
            advanced = mark_failed(
                session=session,
                delivery_id=delivery_id,
                error=result.error or "unknown error",
                final=final,
                disable_contact=result.disable_contact,
                retry_in_s=retry_in_s,
            )
    # Counted after the commit: a rolled-back outcome is retried and counted then.
    outcome = (
        "sent" if result.ok else "not_configured" if result.not_configured else "failed" if final else "retry"
    )
    observe_delivery(outbound.channel, outcome, due_at)
    # The next step of the person's rule list, brought forward because this one cannot reach them.
    enqueue_deliveries(advanced, utcnow())
    if retry_in_s is not None and not result.ok:
        # Postgres holds the retry time too (due_at), so a lost message is re-sent by the sweeper.
        send("notify", "notify", delivery_id, delay_ms=int(retry_in_s * 1000))


@dramatiq.actor(queue_name="notify", actor_name="reclaim_sends", max_retries=0)
def reclaim_sends() -> None:
    """Re-send every delivery whose worker died mid-send (its lease is free), at most once each."""
    with session_scope() as session:
        orphaned = reclaim_orphaned(session=session, note=RECLAIMED)
    for delivery_id in orphaned:
        send("notify", "notify", delivery_id)


@dramatiq.actor(queue_name="notify", actor_name="refresh_slack", max_retries=3)
def refresh_slack(incident_id: int) -> None:
    """Redraw every Slack message of an incident, so nobody acknowledges an already handled page."""
    drawn_at = utcnow()  # before reading: a change made while we draw is redrawn by the next sweep
    with session_scope() as session:
        view = incident_view_of(session=session, incident_id=incident_id)
        messages = slack_messages(session=session, incident_id=incident_id)
    if view is None or not messages:
        return
    _, client = client_for("slack")
    updated = [d for d, message_id in messages if slack_channel.update(message_id, view, client)]
    with session_scope() as session:
        touch_deliveries(session=session, delivery_ids=updated, now=drawn_at)
