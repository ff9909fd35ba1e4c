"""The two writes of every page a worker sends: claim a delivery, then record the provider's accept.

They run once per page, so each is as few round trips as its guarantees allow: the claim reads the
delivery (row-locked), its incident, service, contact method, latest alert and the user's recent
sends in one statement, then marks it `sending`; the accept is one locking UPDATE … RETURNING and
one event INSERT. The writes are Core statements; a copy loaded in the session is expired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, bindparam, case, func, insert, select, true, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.util import identity_key

from app.db import utcnow
from app.directory.models import Service
from app.escalation.logic import THROTTLES, throttle_action
from app.incidents.models import Alert, Incident, IncidentEvent
from app.links import incident_link
from app.notifications.logic import IncidentView, Outbound
from app.notifications.models import ContactMethod, Delivery

# Written on a delivery taken back from a dead worker: its next send first reconciles with the provider.
RECLAIMED = "worker lost during send; re-sending"
# What a claim writes on a page it drops because its incident was resolved before the send.
CUT_BY_RESOLVE = "incident resolved"


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a delivery: an Outbound to send, or why there is nothing to send."""

    outbound: Outbound | None
    status: str


def _claim_statement() -> Select[Any]:
    latest = (
        select(Alert.summary, Alert.links)
        .where(Alert.incident_id == Incident.id)
        .order_by(Alert.id.desc())
        .limit(1)
        .lateral("latest")
    )
    sent = aliased(Delivery, name="sent")
    windows = [(Delivery.channel == channel, bindparam(f"since_{channel}")) for channel in THROTTLES]
    # Only a throttled channel counts the user's recent sends (a CASE branch runs only when taken).
    recent = case(
        (
            Delivery.channel.in_(list(THROTTLES)),
            select(func.count())
            .where(
                sent.user_id == Delivery.user_id,
                sent.channel == Delivery.channel,
                sent.status == "sent",
                sent.sent_at >= case(*windows),
            )
            .scalar_subquery(),
        ),
        else_=0,
    )
    return (
        select(
            Delivery.status,
            Delivery.due_at,
            Delivery.channel,
            Delivery.target,
            Delivery.contact_method_id,
            Delivery.attempts,
            Delivery.last_error,
            Delivery.created_at,
            Incident.id.label("incident_id"),
            Incident.status.label("incident_status"),
            Incident.number,
            Incident.title,
            Incident.severity,
            Service.name.label("service"),
            ContactMethod.address,
            ContactMethod.disabled,
            latest.c.summary,
            latest.c.links,
            recent.label("recent"),
        )
        .outerjoin(Incident, Incident.id == Delivery.incident_id)
        .outerjoin(Service, Service.id == Incident.service_id)
        .outerjoin(ContactMethod, ContactMethod.id == Delivery.contact_method_id)
        .outerjoin(latest, true())
        .where(Delivery.id == bindparam("delivery_id"))
        .with_for_update(of=Delivery.__table__)
    )


_EVENT_COLUMNS = (
    "incident_id",
    "channel",
    "user_id",
    "target",
    "level",
    "repeat_index",
    "escalation_token",
    "attempts",
)
# Built once: SQLAlchemy then finds the compiled form by the statement's memoised cache key.
_CLAIM = _claim_statement()
_TABLE = Delivery.__table__
# `updated_at` keeps the claim's instant, when the message's content was read: the sweeper redraws a
# Slack message whose incident changed after it (stale_slack_incidents), so a change committed while
# the send was in flight (an ack during a slow post) must still count as newer than the message.
_SENT = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("delivery_id"), _TABLE.c.status != "sent")
    .values(
        status="sent",
        sent_at=bindparam("now"),
        provider_message_id=bindparam("provider_message_id"),
    )
    .returning(*(_TABLE.c[name] for name in _EVENT_COLUMNS), _TABLE.c.due_at)
)
_EVENT = insert(IncidentEvent.__table__)
_SENDING = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("delivery_id"))
    .values(status="sending", attempts=bindparam("attempts"), updated_at=bindparam("now"))
)
_SETTLE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("delivery_id"))
    .values(status=bindparam("status"), updated_at=bindparam("now"), last_error=bindparam("error"))
)


def _claim_row(session: Session, delivery_id: int, now: datetime) -> Row[Any] | None:
    since = {f"since_{channel}": now - limit[1] for channel, limit in THROTTLES.items()}
    return session.execute(_CLAIM, {"delivery_id": delivery_id, **since}).first()


def _write(session: Session, stmt: Any, params: dict[str, Any]) -> Any:
    """Run a Core UPDATE of one delivery (no ORM bookkeeping) and expire the session's copy, if any."""
    result = session.execute(stmt, params)
    loaded = session.identity_map.get(identity_key(Delivery, params["delivery_id"]))
    if loaded is not None:
        session.expire(loaded)
    return result


def _settle(session: Session, delivery_id: int, status: str, now: datetime, error: str) -> Claim:
    params = {"delivery_id": delivery_id, "status": status, "now": now, "error": error[:2000]}
    _write(session, _SETTLE, params)
    return Claim(None, status)


def revive_cut_off(*, session: Session, incident: Incident, now: datetime) -> int:
    """Put back the pages of the incident's current run that a resolve cut off before they were sent.

    A flap can resolve the incident between a step and its send; the step has run, so the re-opened
    incident's clock would never page that person again. Each page keeps its own key and its rule's
    due time (or now, when that has passed), so it is still sent once.
    """
    stmt = (
        update(Delivery)
        .where(
            Delivery.incident_id == incident.id,
            Delivery.escalation_token == incident.escalation_token,
            Delivery.status == "cancelled",
            Delivery.last_error == CUT_BY_RESOLVE,
        )
        .values(status="pending", due_at=func.greatest(Delivery.due_at, now), last_error=None, updated_at=now)
    )
    return session.execute(stmt).rowcount


def claim(*, session: Session, delivery_id: int, now: datetime | None = None) -> Claim:
    """Lock a due pending delivery and mark it `sending` (attempt + 1); the caller commits, then sends."""
    now = now or utcnow()
    row = _claim_row(session, delivery_id, now)
    if row is None:
        return Claim(None, "missing")
    if row.status != "pending":
        return Claim(None, row.status)
    if row.due_at > now:
        return Claim(None, "not_due")
    if row.incident_id is None or row.incident_status != "triggered":
        # Someone owns it already (or it is over): a later rule's page would only be noise.
        return _settle(session, delivery_id, "cancelled", now, f"incident {row.incident_status or 'gone'}")
    action = throttle_action(row.channel, row.recent or 0)
    if action == "hold":
        return _settle(
            session, delivery_id, "throttled", now, "over the per-user limit; covered by a bundled notice"
        )
    if row.contact_method_id is None:
        address = row.target
    else:
        address = None if row.address is None or row.disabled else row.address
    if address is None:
        return _settle(session, delivery_id, "failed", now, "contact method disabled or missing")
    attempt = row.attempts + 1
    _write(session, _SENDING, {"delivery_id": delivery_id, "attempts": attempt, "now": now})
    view = IncidentView(
        id=row.incident_id,
        number=row.number,
        title=row.title,
        severity=row.severity,
        status=row.incident_status,
        service=row.service or "",
        summary=row.summary or "",
        url=incident_link(row.incident_id),
        links=list(row.links) if row.links else [],
    )
    out = Outbound(
        delivery_id=delivery_id,
        channel=row.channel,
        address=address,
        attempt=attempt,
        incident=view,
        bundled=action == "bundle",
        resumed=row.last_error == RECLAIMED,
        since=row.created_at,
    )
    return Claim(out, "sending")


def mark_sent(
    *, session: Session, delivery_id: int, provider_message_id: str | None, now: datetime | None = None
) -> datetime | None:
    """Record a provider's accept, and the `notified` event; the page's due time (None if recorded)."""
    now = now or utcnow()
    # The UPDATE takes the row lock and re-checks `status` after any concurrent writer commits.
    params = {"delivery_id": delivery_id, "now": now, "provider_message_id": provider_message_id}
    row = _write(session, _SENT, params).first()
    if row is None:
        return None
    event = {"incident_id": row.incident_id, "kind": "notified", "at": now, "actor": "system"}
    session.execute(_EVENT, {**event, "data": event_data(delivery_id, row)})
    return row.due_at


def event_data(delivery_id: int, delivery: Any) -> dict[str, Any]:
    """The timeline data of a delivery's outcome (a Delivery or a row with the same attributes)."""
    return {
        "delivery_id": delivery_id,
        "channel": delivery.channel,
        "user_id": delivery.user_id,
        "target": delivery.target,
        "level": delivery.level,
        # Analytics counts one page per (incident, user, level, repeat_index, run).
        "repeat_index": delivery.repeat_index,
        "run": delivery.escalation_token,
        "attempt": delivery.attempts,
    }
