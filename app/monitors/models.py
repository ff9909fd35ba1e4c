"""Uptime and heartbeat monitors, and every check result they produced."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

MONITOR_KINDS = ("http", "tcp", "dns", "tls", "heartbeat")
MONITOR_STATES = ("unknown", "up", "down")
# ok: the target answered as expected; fail: the target is down or wrong; error: the check cannot run.
CHECK_STATUSES = ("ok", "fail", "error")


class Monitor(Base):
    __tablename__ = "monitors"
    __table_args__ = (
        CheckConstraint("kind IN ('http','tcp','dns','tls','heartbeat')", name="kind"),
        CheckConstraint("state IN ('unknown','up','down')", name="state"),
        CheckConstraint("interval_seconds >= 10", name="interval"),
        # The tick's only query: due, unpaused monitors in due order.
        Index("ix_monitors_due", "next_check_at", postgresql_where=text("NOT paused")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    # The generic integration whose alerts the monitor raises (same dedup, flap window, escalation).
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(Text, default="", server_default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=60)
    failure_threshold: Mapped[int] = mapped_column(Integer, default=2)
    recovery_threshold: Mapped[int] = mapped_column(Integer, default=1)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    state: Mapped[str] = mapped_column(String(16), default="unknown", server_default="unknown")
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    consecutive_successes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_check_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    last_status: Mapped[str | None] = mapped_column(String(8))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_latency_ms: Mapped[float | None] = mapped_column(Float)
    # Heartbeat monitors only: a SHA-256 of the secret URL token, and the grace after each interval.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str | None] = mapped_column(String(12))
    grace_seconds: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_beat_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class MonitorCheck(Base):
    __tablename__ = "monitor_checks"
    __table_args__ = (
        CheckConstraint("status IN ('ok','fail','error')", name="status"),
        Index("ix_monitor_checks_monitor_at", "monitor_id", "at"),
        Index("ix_monitor_checks_at", "at"),  # retention deletes the oldest checks first
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    # When the check was due and when it actually started: the gap is how late the scheduler ran it.
    due_at: Mapped[datetime]
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(8))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)


class MonitorHour(Base):
    """Per-monitor hourly tallies: uptime over 7 and 30 days reads these, not millions of raw checks."""

    __tablename__ = "monitor_hours"

    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    counted: Mapped[int] = mapped_column(Integer, default=0)  # checks that ran (ok + fail)
    errors: Mapped[int] = mapped_column(Integer, default=0)  # checks that could not run
