"""Deliveries: turn a paged user into rows (one per notification rule), claim, settle and sweep them.

A delivery moves pending -> sending -> sent | failed | throttled | cancelled. `sending` is written
and committed before the provider is called, so a worker killed mid-call leaves a row the sweeper
can see; the only duplicate left possible is a kill between the provider's accept and `sent`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import utcnow
from app.directory.models import Service
from app.escalation.logic import THROTTLES, Rule, idempotency_key, rule_due_times, throttle_action
from app.incidents.models import Alert, Incident
from app.incidents.service import record_event
from app.notifications.logic import IncidentView, Outbound
from app.notifications.models import ContactMethod, Delivery, NotificationRule

# Written on a delivery taken back from a dead worker: its next send first reconciles with the provider.
RECLAIMED = "worker lost during send; re-sending"


def stale_after() -> timedelta:
    """A send not settled within one escalation minute is presumed lost with its worker."""
    return timedelta(seconds=get_settings().escalation_minute_s)


def user_rules(*, session: Session, user_id: int) -> list[Rule]:
    """A user's enabled rules; a user with contact methods but no rules is reached on all at once."""
    rows = session.execute(
        select(NotificationRule.contact_method_id, ContactMethod.kind, NotificationRule.delay_minutes)
        .join(ContactMethod, ContactMethod.id == NotificationRule.contact_method_id)
        .where(NotificationRule.user_id == user_id, ContactMethod.disabled.is_(False))
        .order_by(NotificationRule.delay_minutes, NotificationRule.id)
    ).all()
    if rows:
        return [Rule(contact_method_id=r[0], kind=r[1], delay_minutes=float(r[2])) for r in rows]
    methods = session.scalars(
        select(ContactMethod).where(ContactMethod.user_id == user_id, ContactMethod.disabled.is_(False))
    ).all()
    return [Rule(contact_method_id=m.id, kind=m.kind, delay_minutes=0.0) for m in methods]


def _plan(
    session: Session,
    incident: Incident,
    *,
    level: int,
    repeat: int,
    start: datetime,
    due: datetime,
    channel: str,
    user_id: int | None = None,
    contact_method_id: int | None = None,
    target: str | None = None,
) -> list[tuple[int, datetime]]:
    """Insert one delivery unless its idempotency key exists already; [(id, due)] or []."""
    key = idempotency_key(
        incident_id=incident.id,
        token=incident.escalation_token or "",
        level=level,
        repeat=repeat,
        user_id=user_id,
        contact_method_id=contact_method_id,
        channel=target,
    )
    stmt = (
        insert(Delivery)
        .values(
            incident_id=incident.id,
            user_id=user_id,
            contact_method_id=contact_method_id,
            channel=channel,
            target=target,
            level=level,
            repeat_index=repeat,
            idempotency_key=key,
            due_at=due,
            created_at=start,
            updated_at=start,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Delivery.id)
    )
    delivery_id = session.scalar(stmt)
    return [(delivery_id, due)] if delivery_id is not None else []


def plan_user_deliveries(
    *, session: Session, incident: Incident, user_id: int, level: int, repeat: int, start: datetime
) -> list[tuple[int, datetime]]:
    """Insert one delivery per rule of the user (keys make a re-run insert nothing); (id, due) pairs."""
    rules = user_rules(session=session, user_id=user_id)
    out: list[tuple[int, datetime]] = []
    for rule, due in rule_due_times(rules, start=start, minute_s=get_settings().escalation_minute_s):
        out += _plan(
            session,
            incident,
            level=level,
            repeat=repeat,
            start=start,
            due=due,
            channel=rule.kind,
            user_id=user_id,
            contact_method_id=rule.contact_method_id,
        )
    return out


def plan_channel_delivery(
    *, session: Session, incident: Incident, channel: str, level: int, repeat: int, start: datetime
) -> list[tuple[int, datetime]]:
    """A Slack channel target: one delivery to the channel itself."""
    return _plan(
        session, incident, level=level, repeat=repeat, start=start, due=start, channel="slack", target=channel
    )


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a delivery: an Outbound to send, or why there is nothing to send."""

    outbound: Outbound | None
    status: str


def incident_view(session: Session, incident: Incident) -> IncidentView:
    service = session.get(Service, incident.service_id)
    alert = session.scalar(
        select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.id.desc()).limit(1)
    )
    base = get_settings().public_url
    return IncidentView(
        id=incident.id,
        number=incident.number,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        service=service.name if service else "",
        summary=alert.summary if alert else "",
        url=f"{base.rstrip('/')}/incidents?id={incident.id}" if base else "",
        links=list(alert.links) if alert and alert.links else [],
    )


def _lock_delivery(session: Session, delivery_id: int) -> Delivery | None:
    stmt = select(Delivery).where(Delivery.id == delivery_id).with_for_update()
    return session.scalar(stmt.execution_options(populate_existing=True))


def _sent_in_window(session: Session, delivery: Delivery, now: datetime) -> int:
    limit = THROTTLES.get(delivery.channel)
    if limit is None or delivery.user_id is None:
        return 0
    stmt = select(func.count()).where(
        Delivery.user_id == delivery.user_id,
        Delivery.channel == delivery.channel,
        Delivery.status == "sent",
        Delivery.sent_at >= now - limit[1],
    )
    return session.scalar(stmt) or 0


def claim(*, session: Session, delivery_id: int, now: datetime | None = None) -> Claim:
    """Lock a due pending delivery and mark it `sending` (attempt + 1); the caller commits, then sends."""
    now = now or utcnow()
    delivery = _lock_delivery(session, delivery_id)
    if delivery is None:
        return Claim(None, "missing")
    if delivery.status != "pending":
        return Claim(None, delivery.status)
    if delivery.due_at > now:
        return Claim(None, "not_due")
    incident = session.get(Incident, delivery.incident_id)
    if incident is None or incident.status != "triggered":
        # Someone owns it already (or it is over): a later rule's page would only be noise.
        _settle(delivery, "cancelled", now, error=f"incident {incident.status if incident else 'gone'}")
        return Claim(None, "cancelled")
    action = throttle_action(delivery.channel, _sent_in_window(session, delivery, now))
    if action == "hold":
        _settle(delivery, "throttled", now, error="over the per-user limit; covered by a bundled notice")
        return Claim(None, "throttled")
    address = _address(session, delivery)
    if address is None:
        _settle(delivery, "failed", now, error="contact method disabled or missing")
        return Claim(None, "failed")
    delivery.status = "sending"
    delivery.attempts += 1
    delivery.updated_at = now
    out = Outbound(
        delivery_id=delivery.id,
        channel=delivery.channel,
        address=address,
        attempt=delivery.attempts,
        incident=incident_view(session, incident),
        bundled=action == "bundle",
        resumed=delivery.last_error == RECLAIMED,
        since=delivery.created_at,
    )
    return Claim(out, "sending")


def _address(session: Session, delivery: Delivery) -> str | None:
    if delivery.contact_method_id is None:
        return delivery.target
    method = session.get(ContactMethod, delivery.contact_method_id)
    return None if method is None or method.disabled else method.address


def _settle(delivery: Delivery, status: str, now: datetime, *, error: str | None = None) -> None:
    delivery.status = status
    delivery.updated_at = now
    if error is not None:
        delivery.last_error = error[:2000]


def mark_sent(
    *, session: Session, delivery_id: int, provider_message_id: str | None, now: datetime | None = None
) -> None:
    """Record a provider's accept, and the `notified` event on the incident's timeline."""
    now = now or utcnow()
    delivery = _lock_delivery(session, delivery_id)
    if delivery is None or delivery.status == "sent":
        return
    _settle(delivery, "sent", now)
    delivery.sent_at = now
    delivery.provider_message_id = provider_message_id
    record_event(
        session=session,
        incident_id=delivery.incident_id,
        kind="notified",
        at=now,
        data=_event_data(delivery),
    )


def mark_failed(
    *,
    session: Session,
    delivery_id: int,
    error: str,
    final: bool,
    disable_contact: bool = False,
    retry_in_s: float | None = None,
    now: datetime | None = None,
) -> None:
    """Record a failed attempt: back to pending, due again after the backoff, or failed for good."""
    now = now or utcnow()
    delivery = _lock_delivery(session, delivery_id)
    if delivery is None or delivery.status == "sent":
        return
    _settle(delivery, "failed" if final else "pending", now, error=error)
    if not final:
        delivery.due_at = now + timedelta(seconds=retry_in_s or 0)
    if disable_contact and delivery.contact_method_id is not None:
        method = session.get(ContactMethod, delivery.contact_method_id)
        if method is not None:
            method.disabled = True
    record_event(
        session=session,
        incident_id=delivery.incident_id,
        kind="delivery_failed",
        at=now,
        data={**_event_data(delivery), "error": error[:500], "final": final, "disabled": disable_contact},
    )


def _event_data(delivery: Delivery) -> dict:
    return {
        "delivery_id": delivery.id,
        "channel": delivery.channel,
        "user_id": delivery.user_id,
        "target": delivery.target,
        "level": delivery.level,
        # Analytics counts one page per (incident, user, level, repeat_index).
        "repeat_index": delivery.repeat_index,
        "attempt": delivery.attempts,
    }


def due_pending(*, session: Session, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Pending deliveries whose time has come (the sweeper re-enqueues them)."""
    now = now or utcnow()
    stmt = (
        select(Delivery.id)
        .where(Delivery.status == "pending", Delivery.due_at <= now)
        .order_by(Delivery.due_at)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def reclaim_stale_sending(
    *, session: Session, now: datetime | None = None, older_than: timedelta | None = None
) -> list[int]:
    """Deliveries stuck in `sending` (their worker died mid-call) go back to pending to be re-sent."""
    now = now or utcnow()
    older_than = older_than or stale_after()
    stmt = (
        update(Delivery)
        .where(Delivery.status == "sending", Delivery.updated_at < now - older_than)
        .values(status="pending", updated_at=now, last_error=RECLAIMED)
        .returning(Delivery.id)
    )
    return list(session.scalars(stmt))


def slack_messages(*, session: Session, incident_id: int) -> list[tuple[int, str]]:
    """(delivery id, "channel:ts") of every Slack message posted for an incident."""
    stmt = select(Delivery.id, Delivery.provider_message_id).where(
        Delivery.incident_id == incident_id,
        Delivery.channel == "slack",
        Delivery.status == "sent",
        Delivery.provider_message_id.is_not(None),
    )
    return [(r[0], r[1]) for r in session.execute(stmt)]


def stale_slack_incidents(*, session: Session, since: datetime, limit: int = 200) -> list[int]:
    """Incidents changed after their Slack messages were last drawn (acked from the console, say)."""
    stmt = (
        select(Delivery.incident_id)
        .join(Incident, Incident.id == Delivery.incident_id)
        .where(
            Delivery.channel == "slack",
            Delivery.status == "sent",
            Delivery.provider_message_id.is_not(None),
            Incident.updated_at > Delivery.updated_at,
            Incident.updated_at >= since,
        )
        .distinct()
        .limit(limit)
    )
    return list(session.scalars(stmt))


def touch_deliveries(*, session: Session, delivery_ids: list[int], now: datetime | None = None) -> None:
    """Note that these messages now show the incident's current state."""
    if delivery_ids:
        session.execute(
            update(Delivery).where(Delivery.id.in_(delivery_ids)).values(updated_at=now or utcnow())
        )


def incident_view_of(*, session: Session, incident_id: int) -> IncidentView | None:
    incident = session.get(Incident, incident_id)
    return incident_view(session, incident) if incident else None
