"""Outgoing webhooks (event subscriptions), their delivery log, and PagerDuty-style change events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

# Incident event kinds a subscription can ask for ("note" is the timeline's name for a note added).
WEBHOOK_EVENTS = ("triggered", "acknowledged", "unacknowledged", "resolved", "escalated", "note", "reopened")
DELIVERY_STATUSES = ("pending", "sent", "failed")


class OutgoingWebhook(Base):
    """A subscription: signed POSTs to `url` for the chosen incident events (of one team, or all)."""

    __tablename__ = "outgoing_webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    # Kept in clear: signing needs the secret itself (it is shown once, like a key).
    secret: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class WebhookDelivery(Base):
    """One event to one subscription: written with the event (outbox), sent and retried by workers."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # An event is delivered to a subscription once, however often the outbox is written.
        UniqueConstraint("webhook_id", "event_id"),
        CheckConstraint("status IN ('pending','sent','failed')", name="status"),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("outgoing_webhooks.id", ondelete="CASCADE"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("incident_events.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    sent_at: Mapped[datetime | None]


class ChangeEvent(Base):
    """A change (deploy, config push) reported through PagerDuty's /v2/change/enqueue: context, no page."""

    __tablename__ = "change_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"), index=True)
    summary: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(200), default="", server_default="")
    at: Mapped[datetime | None]
    custom_details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
