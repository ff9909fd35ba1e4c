"""Escalation policies: ordered levels with a delay and targets, repeated N times."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

TARGET_KINDS = ("user", "schedule", "team", "slack_channel")


class EscalationPolicy(Base):
    __tablename__ = "escalation_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    # How many more times the whole policy runs after the last level.
    repeat_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class EscalationLevel(Base):
    __tablename__ = "escalation_levels"
    __table_args__ = (UniqueConstraint("policy_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("escalation_policies.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    # Minutes to wait at this level before moving to the next one.
    delay_minutes: Mapped[int] = mapped_column(Integer, default=5)
    # Runs each paged user's "important" notification rules instead of their default ones.
    important: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class EscalationTarget(Base):
    __tablename__ = "escalation_targets"
    __table_args__ = (
        CheckConstraint("kind IN ('user','schedule','team','slack_channel')", name="kind"),
        CheckConstraint("team_mode IN ('all','round_robin')", name="team_mode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    level_id: Mapped[int] = mapped_column(ForeignKey("escalation_levels.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    slack_channel: Mapped[str | None] = mapped_column(String(100))
    team_mode: Mapped[str] = mapped_column(String(16), default="all", server_default="all")
    # Next member index for round robin, advanced each time the target is paged.
    round_robin_cursor: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
