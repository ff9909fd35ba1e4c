"""Moving a user's rule list along when one of its steps can go no further."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.notifications.models import Delivery


def list_prefix(idempotency_key: str) -> str | None:
    """The key part shared by every delivery of one user's list in one step ("…:u7:cm"), if any."""
    head, sep, _ = idempotency_key.rpartition(":cm")
    return head + sep if sep and ":u" in head else None


def advance_list(session: Session, delivery: Delivery, now: datetime) -> list[tuple[int, datetime]]:
    """Bring the user's next pending notify step forward to now, and the later ones by as much.

    The waits between the later steps are kept; only the wait after the step that could not reach
    the person is skipped (a failed call, a channel with no credentials).
    """
    prefix = list_prefix(delivery.idempotency_key)
    if delivery.user_id is None or prefix is None:
        return []
    later = session.scalars(
        select(Delivery)
        .where(
            Delivery.idempotency_key.startswith(prefix, autoescape=True),
            Delivery.status == "pending",
            Delivery.due_at > now,
            Delivery.id != delivery.id,
        )
        .order_by(Delivery.due_at, Delivery.id)
        .with_for_update()
    ).all()
    if not later:
        return []
    gap = later[0].due_at - now
    for d in later:
        d.due_at = d.due_at - gap
        d.updated_at = now
    return [(d.id, d.due_at) for d in later]
