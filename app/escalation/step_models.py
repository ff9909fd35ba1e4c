"""The log of escalation steps run: one row per (incident, run of the plan, level, repeat)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class EscalationStep(Base):
    """A step that ran; its unique key is what makes a step executed twice page once."""

    __tablename__ = "escalation_steps"
    __table_args__ = (UniqueConstraint("incident_id", "token", "level", "repeat_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    # The incident's escalation token when the step ran: a new token is a new run of the plan.
    token: Mapped[str] = mapped_column(String(36))
    level: Mapped[int] = mapped_column(Integer)
    repeat_index: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ran_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
