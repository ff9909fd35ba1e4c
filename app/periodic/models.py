"""One row per periodic job: the last tick (slot) some scheduler claimed, and which one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class PeriodicTick(Base):
    __tablename__ = "periodic_ticks"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Seconds since the epoch divided by the job's interval: the same number on every host.
    slot: Mapped[int] = mapped_column(BigInteger)
    claimed_at: Mapped[datetime]
    claimed_by: Mapped[str] = mapped_column(String(200))
