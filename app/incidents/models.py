"""Incidents (current state), their alerts, and the append-only event timeline."""

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
    Sequence,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

STATUSES = ("triggered", "acknowledged", "resolved")
SEVERITIES = ("critical", "error", "warning", "info")
EVENT_KINDS = (
    "triggered",
    "alert_grouped",
    "alert_resolved",
    "notified",
    "delivery_failed",
    "acknowledged",
    "unacknowledged",
    "escalated",
    "snoozed",
    "unsnoozed",
    "reassigned",
    "note",
    "agent_action",
    "ai_analysis",
    "resolved",
    "reopened",
    "suppressed",
    "unsuppressed",
    "ack_timeout",
    "paged",
)

incident_number_seq = Sequence("incident_number_seq", metadata=Base.metadata)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint("status IN ('triggered','acknowledged','resolved')", name="status"),
        CheckConstraint("severity IN ('critical','error','warning','info')", name="severity"),
        # One open incident per (service, dedup key): concurrent triggers group, never fork.
        Index(
            "uq_incidents_open_dedup",
            "service_id",
            "dedup_key",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
        ),
        Index(
            "ix_incidents_due",
            "next_escalation_at",
            postgresql_where=text("status = 'triggered' AND next_escalation_at IS NOT NULL"),
        ),
        Index("ix_incidents_service_created", "service_id", "created_at"),
        # The console's live list and open counts read open incidents by age out of millions resolved.
        Index(
            "ix_incidents_open_created",
            "created_at",
            postgresql_where=text("status IN ('triggered', 'acknowledged')"),
        ),
        # Response-time windows (MTTA/MTTR of the last N days) select by trigger time alone.
        Index("ix_incidents_created_at", "created_at"),
        # The API's list by team (its services) and state, newest first, and its count.
        Index("ix_incidents_service_status_created", "service_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(
        BigInteger, incident_number_seq, server_default=incident_number_seq.next_value(), unique=True
    )
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    severity: Mapped[str] = mapped_column(String(16), default="error")
    status: Mapped[str] = mapped_column(String(16), default="triggered")
    dedup_key: Mapped[str] = mapped_column(Text)
    alert_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Who resolved when no user did: "source" (the alert recovered), "auto", "agent".
    resolved_by_kind: Mapped[str | None] = mapped_column(String(16))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Set when a person reassigned by hand: escalation and acknowledgement then leave the assignee alone.
    assigned_manually: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    escalation_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL")
    )
    # The policy as it was at trigger time: editing a policy never rewrites escalations in flight.
    escalation_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    escalation_token: Mapped[str | None] = mapped_column(String(36))
    current_level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    repeat_index: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_escalation_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    # "maintenance:<id>" or "silence:<id>" while paging is held back (the list shows it).
    suppressed_by: Mapped[str | None] = mapped_column(String(40))


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("status IN ('firing','resolved')", name="status"),
        # A firing alert is stored once per service, integration and fingerprint; retries update it.
        Index(
            "uq_alerts_firing_fingerprint",
            "service_id",
            "integration_id",
            "fingerprint",
            unique=True,
            postgresql_where=text("status = 'firing'"),
            postgresql_nulls_not_distinct=True,
        ),
        Index("ix_alerts_integration_received", "integration_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    integration_id: Mapped[int | None] = mapped_column(ForeignKey("integrations.id", ondelete="SET NULL"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    fingerprint: Mapped[str] = mapped_column(Text)
    dedup_key: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="firing")
    severity: Mapped[str] = mapped_column(String(16), default="error")
    summary: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(200), default="", server_default="")
    labels: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # What was changed to make the alert storable (NUL removed, key hashed, text cut), if anything.
    sanitised: Mapped[list[str]] = mapped_column(JSONB, default=list, server_default=text("'[]'::jsonb"))
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    last_received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    # "maintenance:<id>" or "silence:<id>" when the alert arrived muted (analytics count it apart).
    suppressed_by: Mapped[str | None] = mapped_column(String(40))
    # Integration templates that failed for this alert ({"title": "timed out"}); defaults were used.
    template_errors: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class IncidentEvent(Base):
    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident_at", "incident_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(server_default=text("now()"), index=True)
    # "user:<id>", "system", "source:<kind>", "agent", "slack:<id>"
    actor: Mapped[str] = mapped_column(String(100), default="system")
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
