"""Schedules with an IANA zone, prioritised rotation layers, members and overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
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

ROTATION_KINDS = ("hourly", "daily", "weekly", "monthly", "custom")
LAYER_SOURCES = ("rotation", "ical", "optimizer")
SWAP_STATUSES = ("proposed", "accepted", "declined", "cancelled")


class Schedule(Base):
    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Secret for the iCal feed URL; shown in the console to people allowed to see the schedule.
    ical_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class ScheduleLayer(Base):
    __tablename__ = "schedule_layers"
    __table_args__ = (
        CheckConstraint(
            "rotation_kind IN ('hourly','daily','weekly','monthly','custom')", name="rotation_kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="Layer")
    # Higher priority wins where it has someone on call.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    rotation_kind: Mapped[str] = mapped_column(String(16), default="weekly")
    # Length in hours for "custom"; ignored by the other kinds.
    rotation_hours: Mapped[int | None] = mapped_column(Integer)
    # Wall-clock handoff in the schedule's zone, stored naive on purpose: 09:00 stays 09:00 across DST.
    handoff_anchor: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    # [{"days": [0..6], "start": "HH:MM", "end": "HH:MM"}]: when the layer applies at all.
    restrictions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    ical_source_url: Mapped[str | None] = mapped_column(Text)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # "rotation" computes turns from the anchor; "ical" and "optimizer" layers carry explicit shifts.
    source: Mapped[str] = mapped_column(String(16), default="rotation", server_default="rotation")
    # A row is one version of a layer: versions of the same layer share lineage_id (the first version's
    # id) and cover [effective_from, effective_until) without overlapping; NULL is unbounded.
    lineage_id: Mapped[int | None] = mapped_column(Integer, index=True)
    effective_from: Mapped[datetime | None]
    effective_until: Mapped[datetime | None]


class LayerMember(Base):
    __tablename__ = "layer_members"

    layer_id: Mapped[int] = mapped_column(
        ForeignKey("schedule_layers.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class ScheduleOverride(Base):
    __tablename__ = "schedule_overrides"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="positive_length"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class LayerShift(Base):
    """An explicit shift of a layer that does not rotate (imported calendar, applied optimiser plan)."""

    __tablename__ = "schedule_layer_shifts"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="positive_length"),
        Index("ix_schedule_layer_shifts_layer_start", "layer_id", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("schedule_layers.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    external_uid: Mapped[str | None] = mapped_column(Text)


class ShiftSwap(Base):
    __tablename__ = "shift_swaps"
    __table_args__ = (
        CheckConstraint("status IN ('proposed','accepted','declined','cancelled')", name="status"),
        CheckConstraint("give_ends_at > give_starts_at", name="give_positive"),
        CheckConstraint("take_ends_at > take_starts_at", name="take_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    proposer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    counterpart_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The proposer's shift the counterpart takes over, and the counterpart's shift given in return.
    give_starts_at: Mapped[datetime]
    give_ends_at: Mapped[datetime]
    take_starts_at: Mapped[datetime]
    take_ends_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="proposed", server_default="proposed")
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    give_override_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedule_overrides.id", ondelete="SET NULL")
    )
    take_override_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedule_overrides.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    decided_at: Mapped[datetime | None]


class ScheduleAudit(Base):
    """Append-only trail of schedule changes: overrides, swaps, imports, applied plans."""

    __tablename__ = "schedule_audit"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)


class UserCalendarToken(Base):
    """Secret for a person's own iCal feed across every schedule they are on."""

    __tablename__ = "user_calendar_tokens"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class TimeOff(Base):
    """A person's unavailability, honoured by the optimiser."""

    __tablename__ = "time_off"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="positive_length"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
