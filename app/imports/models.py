"""One row per imported object: which product and id it came from, and what it looked like then."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base

SOURCES = {"oncall": "Grafana OnCall", "pagerduty": "PagerDuty", "opsgenie": "Opsgenie"}


class ImportedObject(Base):
    __tablename__ = "imported_objects"
    __table_args__ = (
        UniqueConstraint("source", "kind", "source_id", name="uq_imported_objects_source"),
        Index("ix_imported_objects_local", "kind", "local_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(200))
    local_id: Mapped[int]
    # A hash of the mapped source object: equal on a re-run means nothing changed at the source.
    fingerprint: Mapped[str] = mapped_column(String(64), server_default="")
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("now()"))
