"""Outgoing webhooks: subscriptions (create, list, change, delete), their delivery log, and the
claim/settle steps the workers run around each POST."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.permissions import require_team_edit
from app.auth.secrets import new_token
from app.db import get_or_404, utcnow
from app.directory.models import Service, Team
from app.errors import Invalid
from app.escalation.logic import backoff_s
from app.incidents.models import Incident, IncidentEvent
from app.links import incident_link
from app.webhooks.models import WEBHOOK_EVENTS, OutgoingWebhook, WebhookDelivery

MAX_ATTEMPTS = 8
# An attempt in flight holds its delivery this long; a worker that died mid-POST is retried after.
LEASE = timedelta(seconds=60)


def _check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000:
        raise Invalid("url must be an http(s) URL", field="url")
    return url.strip()


def _check_events(events: list[str]) -> list[str]:
    if not events:
        raise Invalid(f"events must name at least one of {', '.join(WEBHOOK_EVENTS)}", field="events")
    for e in events:
        if e not in WEBHOOK_EVENTS:
            raise Invalid(f"event {e!r} is not one of {', '.join(WEBHOOK_EVENTS)}", field="events")
    return sorted(set(events))


def create_webhook(
    *, session: Session, by: int, name: str, url: str, events: list[str], team_id: int | None = None
) -> tuple[OutgoingWebhook, str]:
    """A subscription of a team's incidents (all, for admins); returns it with its signing secret."""
    if not name.strip() or len(name) > 200:
        raise Invalid("name must be 1 to 200 characters", field="name")
    if team_id is not None and session.get(Team, team_id) is None:
        raise Invalid(f"team {team_id} does not exist", field="team_id")
    require_team_edit(session, by, team_id)
    secret = new_token("whsec")
    hook = OutgoingWebhook(
        name=name.strip(),
        url=_check_url(url),
        secret=secret,
        events=_check_events(events),
        team_id=team_id,
        created_by=by,
    )
    session.add(hook)
    session.flush()
    return hook, secret


def get_webhook(*, session: Session, webhook_id: int) -> OutgoingWebhook:
    return get_or_404(session, OutgoingWebhook, webhook_id, what="webhook", field="webhook_id")


def list_webhooks(*, session: Session, team_id: int | None = None) -> list[OutgoingWebhook]:
    stmt = select(OutgoingWebhook).order_by(OutgoingWebhook.id)
    if team_id is not None:
        stmt = stmt.where(OutgoingWebhook.team_id == team_id)
    return list(session.scalars(stmt))


def update_webhook(
    *,
    session: Session,
    by: int,
    webhook_id: int,
    url: str | None = None,
    events: list[str] | None = None,
    active: bool | None = None,
) -> OutgoingWebhook:
    hook = get_webhook(session=session, webhook_id=webhook_id)
    require_team_edit(session, by, hook.team_id)
    if url is not None:
        hook.url = _check_url(url)
    if events is not None:
        hook.events = _check_events(events)
    if active is not None:
        hook.active = active
    session.flush()
    return hook


def delete_webhook(*, session: Session, by: int, webhook_id: int) -> None:
    hook = get_webhook(session=session, webhook_id=webhook_id)
    require_team_edit(session, by, hook.team_id)
    session.delete(hook)
    session.flush()


def deliveries(*, session: Session, webhook_id: int, limit: int = 100) -> list[WebhookDelivery]:
    """The delivery log of a subscription, newest first."""
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def due_deliveries(*, session: Session, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Pending deliveries whose next attempt is due (for the sweep to enqueue)."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Outgoing:
    """One attempt to make: where, what (the JSON body) and with which secret."""

    delivery_id: int
    url: str
    secret: str
    body: bytes
    attempt: int


def payload(session: Session, delivery: WebhookDelivery) -> dict[str, Any]:
    """The JSON a subscriber receives: the event and the incident as it is now."""
    event = session.get(IncidentEvent, delivery.event_id)
    incident = session.get(Incident, delivery.incident_id)
    assert event is not None and incident is not None
    service = session.get(Service, incident.service_id)
    return {
        "event": {
            "id": event.id,
            "type": event.kind,
            "at": event.at.isoformat(),
            "actor": event.actor,
            "data": event.data,
        },
        "incident": {
            "id": incident.id,
            "number": incident.number,
            "title": incident.title,
            "status": incident.status,
            "severity": incident.severity,
            "service": service.name if service else None,
            "team_id": service.team_id if service else None,
            "created_at": incident.created_at.isoformat(),
            "link": incident_link(incident.id),
        },
        "delivery_id": delivery.id,
    }


def claim(*, session: Session, delivery_id: int, now: datetime | None = None) -> Outgoing | None:
    """Take a due delivery for one attempt (its lease committed by the caller), or None."""
    now = now or utcnow()
    delivery = session.scalar(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
        )
        .with_for_update(skip_locked=True)
    )
    if delivery is None:
        return None
    hook = session.get(OutgoingWebhook, delivery.webhook_id)
    assert hook is not None
    delivery.attempts += 1
    delivery.next_attempt_at = now + LEASE
    body = json.dumps(payload(session, delivery), default=str, sort_keys=True).encode()
    return Outgoing(delivery.id, hook.url, hook.secret, body, delivery.attempts)


def settle(
    *,
    session: Session,
    delivery_id: int,
    ok: bool,
    status_code: int | None,
    error: str | None,
    permanent: bool,
    now: datetime | None = None,
) -> datetime | None:
    """Record an attempt's outcome; the time of the next attempt when one is due, else None."""
    now = now or utcnow()
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != "pending":
        return None
    delivery.last_status_code, delivery.last_error = status_code, error
    if ok:
        delivery.status, delivery.sent_at = "sent", now
        return None
    if permanent or delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "failed"
        return None
    delivery.next_attempt_at = now + timedelta(seconds=backoff_s(delivery.attempts, base_s=2.0, cap_s=600.0))
    return delivery.next_attempt_at


def redeliver(*, session: Session, by: int, delivery_id: int) -> WebhookDelivery:
    """Send a failed delivery again, from its first attempt."""
    delivery = get_or_404(session, WebhookDelivery, delivery_id, what="delivery", field="delivery_id")
    hook = get_webhook(session=session, webhook_id=delivery.webhook_id)
    require_team_edit(session, by, hook.team_id)
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status="pending", attempts=0, next_attempt_at=utcnow())
    )
    session.refresh(delivery)
    return delivery
