"""Outgoing-webhook actors on their own queue: `deliver_webhook` POSTs one signed delivery, retried
with backoff from Postgres; `webhook_sweep` enqueues every due delivery (first attempts and lost ones).
"""

from __future__ import annotations

import dramatiq
import httpx

import workers.broker  # noqa: F401  (the broker must exist before actors are declared)
from app.db import session_scope, utcnow
from app.notifications.logic import sign
from app.webhooks.service import Outgoing, claim, due_deliveries, settle
from workers.dispatch import send
from workers.escalation import delay_ms

QUEUE = "webhooks"
TIMEOUT_S = 10.0


def post(out: Outgoing, client: httpx.Client) -> tuple[bool, int | None, str | None, bool]:
    """POST one attempt: (ok, status code, error, permanent). 408, 429, 5xx and network errors retry."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "SLAR-Webhooks/1",
        "X-SLAR-Delivery": str(out.delivery_id),
        "X-SLAR-Attempt": str(out.attempt),
        "X-SLAR-Signature": sign(out.body, out.secret),
    }
    try:
        resp = client.post(out.url, content=out.body, headers=headers)
    except httpx.HTTPError as exc:
        return False, None, f"{type(exc).__name__}: {exc}"[:500], False
    if resp.is_success:
        return True, resp.status_code, None, False
    retry = resp.status_code in (408, 429) or resp.status_code >= 500
    return False, resp.status_code, f"HTTP {resp.status_code}", not retry


@dramatiq.actor(queue_name=QUEUE, actor_name="deliver_webhook", max_retries=0)
def deliver_webhook(delivery_id: int) -> None:
    """Claim the delivery (its lease committed), POST it, record the outcome, schedule a retry."""
    with session_scope() as session:
        out = claim(session=session, delivery_id=delivery_id)
    if out is None:
        return
    with httpx.Client(timeout=TIMEOUT_S) as client:
        ok, status, error, permanent = post(out, client)
    with session_scope() as session:
        retry_at = settle(
            session=session,
            delivery_id=delivery_id,
            ok=ok,
            status_code=status,
            error=error,
            permanent=permanent,
        )
    if retry_at is not None:
        send(QUEUE, "deliver_webhook", delivery_id, delay_ms=delay_ms(retry_at, utcnow()))


@dramatiq.actor(queue_name=QUEUE, actor_name="webhook_sweep", max_retries=0)
def webhook_sweep() -> None:
    """Enqueue every pending delivery that is due; claim() makes a double enqueue harmless."""
    with session_scope() as session:
        due = due_deliveries(session=session)
    for delivery_id in due:
        send(QUEUE, "deliver_webhook", delivery_id)
