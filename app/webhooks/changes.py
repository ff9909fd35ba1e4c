"""Change events (deploys, config pushes) reported by senders: kept as context, never paged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.webhooks.models import ChangeEvent


def record_change(*, session: Session, integration_id: int, event: Mapping[str, Any]) -> ChangeEvent:
    """Store one validated change event ({summary, source, at, custom_details, links})."""
    row = ChangeEvent(integration_id=integration_id, **event)
    session.add(row)
    session.flush()
    return row


def recent_changes(*, session: Session, integration_id: int, limit: int = 50) -> list[ChangeEvent]:
    return list(
        session.scalars(
            select(ChangeEvent)
            .where(ChangeEvent.integration_id == integration_id)
            .order_by(ChangeEvent.id.desc())
            .limit(limit)
        )
    )
