"""Where runbooks come from: git repositories or directories indexed into ChromaDB."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class RunbookSource(Base):
    __tablename__ = "runbook_sources"
    __table_args__ = (CheckConstraint("kind IN ('git','path')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(8))
    location: Mapped[str] = mapped_column(Text, unique=True)
    last_commit: Mapped[str | None] = mapped_column(String(64))
    last_indexed_at: Mapped[datetime | None]
    # Indexing runs as a background job: idle | queued | running | done | failed, with file counts.
    status: Mapped[str] = mapped_column(String(16), default="idle", server_default="idle")
    files_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    files_total: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
