"""Schedules with an IANA zone, prioritised rotation layers, members and overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

ROTATION_KINDS = ("hourly", "daily", "weekly", "custom")


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
        CheckConstraint("rotation_kind IN ('hourly','daily','weekly','custom')", name="rotation_kind"),
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
