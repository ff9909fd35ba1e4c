"""Deliveries: turn a paged user into rows (one per notification rule), claim, settle and sweep them.

A delivery moves pending -> sending -> sent | failed | throttled | cancelled. `sending` is written
and committed before the provider is called, so a worker killed mid-call leaves a row the sweeper
can see; the only duplicate left possible is a kill between the provider's accept and `sent`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import utcnow
from app.directory.models import Service
from app.escalation.logic import Rule, idempotency_key, rule_due_times
from app.incidents.models import Alert, Incident
from app.incidents.service import record_event
from app.links import incident_link
from app.notifications.claiming import (  # noqa: F401  (claim and mark_sent are imported from here)
    RECLAIMED,
    Claim,
    claim,
    event_data,
    mark_sent,
)
from app.notifications.logic import IncidentView
from app.notifications.models import ContactMethod, Delivery
from app.notifications.progress import advance_list
from app.notifications.rules import chosen_list, notify_plan
from app.notifications.rules_service import load_steps


def stale_after() -> timedelta:
    """A send not settled within one escalation minute is presumed lost with its worker."""
    return timedelta(seconds=get_settings().escalation_minute_s)


def user_rules(*, session: Session, user_id: int, important: bool = False) -> list[Rule]:
    """The notify steps of the user's list for this page; with no list, every method at once."""
    steps = load_steps(session=session, user_id=user_id)
    if steps:
        return notify_plan(chosen_list(steps, important=important))
    methods = session.scalars(
        select(ContactMethod).where(ContactMethod.user_id == user_id, ContactMethod.disabled.is_(False))
    ).all()
    return [Rule(contact_method_id=m.id, kind=m.kind, delay_minutes=0.0) for m in methods]


_DELIVERIES = Delivery.__table__
_INSERT_DELIVERIES = (
    insert(_DELIVERIES)
    .on_conflict_do_nothing(index_elements=["idempotency_key"])
    .returning(_DELIVERIES.c.id, _DELIVERIES.c.idempotency_key)
)


def _delivery_row(
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
    rule_step: int | None = None,
) -> dict[str, object]:
    # A list may name one method twice (push, wait, push): the step's place keeps their keys apart.
    suffix = f":s{rule_step}" if rule_step is not None else ""
    key = (
        idempotency_key(
            incident_id=incident.id,
            token=incident.escalation_token or "",
            level=level,
            repeat=repeat,
            user_id=user_id,
            contact_method_id=contact_method_id,
            channel=target,
        )
        + suffix
    )
    return {
        "incident_id": incident.id,
        "user_id": user_id,
        "contact_method_id": contact_method_id,
        "channel": channel,
        "target": target,
        "level": level,
        "repeat_index": repeat,
        "escalation_token": incident.escalation_token,
        "idempotency_key": key,
        "due_at": due,
        "created_at": start,
        "updated_at": start,
    }


def _insert_deliveries(session: Session, rows: list[dict[str, object]]) -> list[tuple[int, datetime]]:
    """Insert the deliveries whose idempotency key is new, in one statement; [(id, due)] in order."""
    if not rows:
        return []
    # Many rows go as one INSERT … VALUES (…), (…) (SQLAlchemy's insertmanyvalues): one round trip.
    made = {key: delivery_id for delivery_id, key in session.execute(_INSERT_DELIVERIES, rows)}
    return [(made[r["idempotency_key"]], r["due_at"]) for r in rows if r["idempotency_key"] in made]  # type: ignore[misc]


def plan_user_deliveries(
    *,
    session: Session,
    incident: Incident,
    user_id: int,
    level: int,
    repeat: int,
    start: datetime,
    important: bool = False,
) -> list[tuple[int, datetime]]:
    """Insert one delivery per notify step of the user's list (a re-run inserts nothing); (id, due)."""
    rules = user_rules(session=session, user_id=user_id, important=important)
    rows = [
        _delivery_row(
            incident,
            level=level,
            repeat=repeat,
            start=start,
            due=due,
            channel=rule.kind,
            user_id=user_id,
            contact_method_id=rule.contact_method_id,
            rule_step=rule.step,
        )
        for rule, due in rule_due_times(rules, start=start, minute_s=get_settings().escalation_minute_s)
    ]
    return _insert_deliveries(session, rows)


def plan_channel_delivery(
    *, session: Session, incident: Incident, channel: str, level: int, repeat: int, start: datetime
) -> list[tuple[int, datetime]]:
    """A Slack channel target: one delivery to the channel itself."""
    row = _delivery_row(
        incident, level=level, repeat=repeat, start=start, due=start, channel="slack", target=channel
    )
    return _insert_deliveries(session, [row])


def incident_view(session: Session, incident: Incident) -> IncidentView:
    service = session.get(Service, incident.service_id)
    alert = session.scalar(
        select(Alert).where(Alert.incident_id == incident.id).order_by(Alert.id.desc()).limit(1)
    )
    return IncidentView(
        id=incident.id,
        number=incident.number,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        service=service.name if service else "",
        summary=alert.summary if alert else "",
        url=incident_link(incident.id),
        links=list(alert.links) if alert and alert.links else [],
    )


def _lock_delivery(session: Session, delivery_id: int) -> Delivery | None:
    stmt = select(Delivery).where(Delivery.id == delivery_id).with_for_update()
    return session.scalar(stmt.execution_options(populate_existing=True))


def _settle(delivery: Delivery, status: str, now: datetime, *, error: str | None = None) -> None:
    delivery.status = status
    delivery.updated_at = now
    if error is not None:
        delivery.last_error = error[:2000]


def mark_failed(
    *,
    session: Session,
    delivery_id: int,
    error: str,
    final: bool,
    disable_contact: bool = False,
    retry_in_s: float | None = None,
    now: datetime | None = None,
) -> list[tuple[int, datetime]]:
    """Record a failed attempt: pending again after the backoff, or failed for good.

    A final failure moves the user's rule list on: the next notify step is due now, not after the
    wait that followed the failed one; those (id, due) pairs are returned for the caller to enqueue.
    """
    now = now or utcnow()
    delivery = _lock_delivery(session, delivery_id)
    if delivery is None or delivery.status == "sent":
        return []
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
        data={
            **event_data(delivery.id, delivery),
            "error": error[:500],
            "final": final,
            "disabled": disable_contact,
        },
    )
    return advance_list(session, delivery, now) if final else []


def mark_not_configured(
    *, session: Session, delivery_id: int, reason: str, now: datetime | None = None
) -> list[tuple[int, datetime]]:
    """A channel with no credentials: recorded once, never retried, and the list moves on at once."""
    now = now or utcnow()
    delivery = _lock_delivery(session, delivery_id)
    if delivery is None or delivery.status in ("sent", "not_configured"):
        return []
    _settle(delivery, "not_configured", now, error=reason)
    record_event(
        session=session,
        incident_id=delivery.incident_id,
        kind="delivery_not_configured",
        at=now,
        data={**event_data(delivery.id, delivery), "error": reason},
    )
    return advance_list(session, delivery, now)


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
