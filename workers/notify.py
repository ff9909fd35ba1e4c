"""Notification actors: `notify` sends one delivery; `refresh_slack` redraws an incident's messages."""

from __future__ import annotations

import dramatiq

import workers.broker  # noqa: F401  (the broker must exist before actors are declared)
from app.db import session_scope, utcnow
from app.escalation.logic import backoff_s
from app.notifications.service import (
    claim,
    incident_view_of,
    mark_failed,
    mark_sent,
    slack_messages,
    touch_deliveries,
)
from workers.channels import client_for, deliver
from workers.channels import slack as slack_channel
from workers.dispatch import send

# Attempts per delivery before it is marked failed; transient errors wait 1, 2, 4, 8 s between them.
MAX_ATTEMPTS = 5


@dramatiq.actor(queue_name="notify", actor_name="notify", max_retries=5, min_backoff=500, max_backoff=10_000)
def notify(delivery_id: int) -> None:
    """Claim a due delivery (marked `sending` and committed), send it, then record the outcome."""
    with session_scope() as session:
        outbound = claim(session=session, delivery_id=delivery_id).outbound
    if outbound is None:
        return
    result = deliver(outbound)
    final = result.permanent or outbound.attempt >= MAX_ATTEMPTS
    with session_scope() as session:
        if result.ok:
            mark_sent(
                session=session, delivery_id=delivery_id, provider_message_id=result.provider_message_id
            )
        else:
            mark_failed(
                session=session,
                delivery_id=delivery_id,
                error=result.error or "unknown error",
                final=final,
                disable_contact=result.disable_contact,
                retry_in_s=None if final else backoff_s(outbound.attempt),
            )
    if not result.ok and not final:
        # Postgres holds the retry time too (due_at), so a lost message is re-sent by the sweeper.
        send("notify", "notify", delivery_id, delay_ms=int(backoff_s(outbound.attempt) * 1000))


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
