"""Runbook sources: which git repositories and directories feed the runbook index, and when they last did."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import get_or_404, utcnow
from app.errors import Invalid
from app.runbooks.models import RunbookSource

KINDS = ("git", "path")
JOB_STATUSES = ("idle", "queued", "running", "done", "failed")


def upsert_source(*, session: Session, kind: str, location: str, name: str = "") -> RunbookSource:
    """The source for a location, created on first use (indexing the same location twice keeps one row)."""
    if kind not in KINDS:
        raise Invalid("kind must be git or path", field="kind")
    if not location.strip():
        raise Invalid("location must not be empty", field="location")
    row = session.scalar(select(RunbookSource).where(RunbookSource.location == location))
    if row is None:
        row = RunbookSource(
            kind=kind, location=location, name=name or location.rstrip("/").rsplit("/", 1)[-1]
        )
        session.add(row)
        session.flush()
    return row


def mark_indexed(
    *, session: Session, source_id: int, commit: str | None = None, now: datetime | None = None
) -> RunbookSource:
    """Record that a source was indexed (at which commit, for git sources)."""
    row = get_or_404(session, RunbookSource, source_id, what="runbook source", field="source_id")
    row.last_commit = commit
    row.last_indexed_at = now or utcnow()
    session.flush()
    return row


def list_sources(*, session: Session) -> list[RunbookSource]:
    return list(session.scalars(select(RunbookSource).order_by(RunbookSource.id)))


def set_progress(
    *,
    session: Session,
    source_id: int,
    status: str,
    files_done: int = 0,
    files_total: int = 0,
    error: str | None = None,
) -> RunbookSource:
    """Record an indexing job's state (queued, running, done, failed) and how far it got."""
    if status not in JOB_STATUSES:
        raise Invalid(f"status must be one of {', '.join(JOB_STATUSES)}", field="status")
    row = get_or_404(session, RunbookSource, source_id, what="runbook source", field="source_id")
    row.status, row.files_done, row.files_total, row.error = status, files_done, files_total, error
    session.flush()
    return row


def get_source(*, session: Session, source_id: int) -> RunbookSource:
    return get_or_404(session, RunbookSource, source_id, what="runbook source", field="source_id")
