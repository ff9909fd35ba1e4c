"""What comes back from a channel: provider status updates, whose page it was, single-use links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.incidents.models import Incident
from app.incidents.service import record_event
from app.notifications.models import ContactMethod, Delivery, UsedCallback
from app.notifications.progress import advance_list

# Twilio's final words for a message or call that did not reach the person.
UNREACHED = {"failed", "undelivered", "busy", "no-answer", "canceled"}


def user_by_contact(*, session: Session, kind: str, address: str) -> int | None:
    """The user owning an enabled contact method of this kind and address (an SMS sender, a chat id)."""
    return session.scalar(
        select(ContactMethod.user_id)
        .where(
            ContactMethod.kind == kind, ContactMethod.address == address, ContactMethod.disabled.is_(False)
        )
        .order_by(ContactMethod.id)
        .limit(1)
    )


def incident_id_by_number(*, session: Session, number: int) -> int | None:
    return session.scalar(select(Incident.id).where(Incident.number == number))


def page_of(*, session: Session, delivery_id: int) -> tuple[int, int] | None:
    """(user id, incident id) of a delivery made to a person, or None."""
    row = session.execute(
        select(Delivery.user_id, Delivery.incident_id).where(Delivery.id == delivery_id)
    ).first()
    return (row[0], row[1]) if row is not None and row[0] is not None else None


def record_provider_status(
    *,
    session: Session,
    delivery_id: int,
    status: str,
    provider_id: str | None = None,
    now: datetime | None = None,
) -> list[tuple[int, datetime]]:
    """Note the provider's status; an unreached person fails the delivery and their list moves on."""
    now = now or utcnow()
    delivery = session.scalar(select(Delivery).where(Delivery.id == delivery_id).with_for_update())
    if delivery is None or (provider_id and delivery.provider_message_id not in (None, provider_id)):
        return []
    status = status.lower()[:32]
    delivery.provider_status = status
    delivery.updated_at = now
    if status not in UNREACHED or delivery.status != "sent":
        return []
    delivery.status = "failed"
    delivery.last_error = f"{delivery.channel}: {status}"
    record_event(
        session=session,
        incident_id=delivery.incident_id,
        kind="delivery_failed",
        at=now,
        data={
            "delivery_id": delivery.id,
            "channel": delivery.channel,
            "user_id": delivery.user_id,
            "level": delivery.level,
            "repeat_index": delivery.repeat_index,
            "attempt": delivery.attempts,
            "error": delivery.last_error,
            "final": True,
        },
    )
    return advance_list(session, delivery, now)


def use_once(*, session: Session, nonce: str, delivery_id: int, action: str) -> bool:
    """Spend a single-use action link: True the first time, False ever after (even concurrently)."""
    stmt = (
        insert(UsedCallback)
        .values(nonce=nonce, delivery_id=delivery_id, action=action)
        .on_conflict_do_nothing(index_elements=["nonce"])
        .returning(UsedCallback.nonce)
    )
    return session.scalar(stmt) is not None
