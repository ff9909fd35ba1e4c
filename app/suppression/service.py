"""Silences and maintenance windows: create, extend, expire and list them.

What they hold (the ingest and escalation hooks `apply_at_ingest` and `hold`) lives in
app.suppression.holding and is re-exported here. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.permissions import RESPONDERS_ONLY, require_service_action
from app.db import get_or_404, utcnow
from app.directory.models import Service, User
from app.errors import Forbidden, Invalid
from app.incidents.models import Alert, Incident
from app.suppression.holding import MAX_ALERTS_CHECKED as MAX_ALERTS_CHECKED
from app.suppression.holding import _fields
from app.suppression.holding import apply_at_ingest as apply_at_ingest
from app.suppression.holding import hold as hold
from app.suppression.logic import Matcher, like_alert, parse_matchers
from app.suppression.models import MaintenanceWindow, MaintenanceWindowService, Silence

MAX_SPAN = timedelta(days=366)


def _span(
    now: datetime, starts_at: datetime | None, ends_at: datetime | None, duration: timedelta | None
) -> tuple[datetime, datetime]:
    starts = starts_at or now
    if (ends_at is None) == (duration is None):
        raise Invalid("give exactly one of ends_at and duration", field="ends_at")
    ends = ends_at if ends_at is not None else starts + duration  # type: ignore[operator]
    if starts.tzinfo is None or ends.tzinfo is None:
        raise Invalid(
            "times must carry a time zone", field="starts_at" if starts.tzinfo is None else "ends_at"
        )
    if ends <= starts or ends <= now:
        raise Invalid("ends_at must be after starts_at and in the future", field="ends_at")
    if ends - starts > MAX_SPAN:
        raise Invalid("a silence or window lasts at most 366 days", field="ends_at")
    return starts, ends


def _require_responder(session: Session, by: int | None) -> None:
    if by is None:
        return
    user = get_or_404(session, User, by, what="user", field="by")
    if user.role not in ("admin", "responder") or not user.active:
        raise Forbidden(f"{RESPONDERS_ONLY} silence alerts", field="by")


def _release_held(session: Session, reason: str, now: datetime) -> None:
    # Incidents held by it are looked at again now, not at the end they were told.
    session.execute(
        update(Incident)
        .where(Incident.suppressed_by == reason, Incident.status == "triggered")
        .values(next_escalation_at=now)
    )


# --- silences ---------------------------------------------------------------------------------


def create_silence(
    *,
    session: Session,
    matchers: Sequence[dict[str, Any] | Matcher],
    by: int | None,
    comment: str = "",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    duration: timedelta | None = None,
    now: datetime | None = None,
) -> Silence:
    """Silence every alert matching all `matchers` from starts_at (default now) to ends_at or + duration."""
    now = now or utcnow()
    _require_responder(session, by)
    checked = parse_matchers(list(matchers))
    starts, ends = _span(now, starts_at, duration=duration, ends_at=ends_at)
    silence = Silence(
        matchers=[m.__dict__ for m in checked],
        starts_at=starts,
        ends_at=ends,
        comment=comment.strip()[:2000],
        created_by=by,
        created_at=now,
    )
    session.add(silence)
    session.flush()
    return silence


def extend_silence(
    *, session: Session, silence_id: int, ends_at: datetime, by: int | None, now: datetime | None = None
) -> Silence:
    """Move a silence's end (later or earlier, but not into the past)."""
    now = now or utcnow()
    _require_responder(session, by)
    silence = get_or_404(session, Silence, silence_id, what="silence", field="silence_id")
    _, silence.ends_at = _span(now, silence.starts_at, ends_at, None)
    _release_held(session, f"silence:{silence.id}", now)
    session.flush()
    return silence


def expire_silence(
    *, session: Session, silence_id: int, by: int | None, now: datetime | None = None
) -> Silence:
    """End a silence now (cancel it if not started); what it held and still fires pages from level 0."""
    now = now or utcnow()
    _require_responder(session, by)
    silence = get_or_404(session, Silence, silence_id, what="silence", field="silence_id")
    if silence.ends_at > now:
        silence.ends_at = max(now, silence.starts_at)
        _release_held(session, f"silence:{silence.id}", now)
        session.flush()
    return silence


def list_silences(
    *, session: Session, include_expired: bool = False, now: datetime | None = None
) -> list[Silence]:
    """Silences that are active or pending (and expired ones too on request), ending soonest first."""
    now = now or utcnow()
    stmt = select(Silence).order_by(Silence.ends_at, Silence.id)
    if not include_expired:
        stmt = stmt.where(Silence.ends_at > now, Silence.ends_at > Silence.starts_at)
    return list(session.scalars(stmt.limit(1000)))


def silence_like_incident(
    *,
    session: Session,
    incident_id: int,
    duration: timedelta,
    by: int | None,
    comment: str = "",
    now: datetime | None = None,
) -> Silence:
    """Silence alerts like the incident's first one (its service and alert name) for `duration`."""
    now = now or utcnow()
    alert = session.scalar(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id).limit(1))
    if alert is None:
        raise Invalid(f"incident {incident_id} has no alert to take matchers from", field="incident_id")
    fields = _fields(session, alert, {})
    return create_silence(
        session=session,
        matchers=like_alert(fields),
        by=by,
        comment=comment or f"alerts like incident {incident_id}",
        duration=duration,
        now=now,
    )


# --- maintenance windows ----------------------------------------------------------------------


def create_window(
    *,
    session: Session,
    service_ids: Iterable[int],
    by: int | None,
    reason: str = "",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    duration: timedelta | None = None,
    now: datetime | None = None,
) -> MaintenanceWindow:
    """Put services in maintenance from starts_at (default now) until ends_at or for `duration`."""
    now = now or utcnow()
    ids = list(dict.fromkeys(service_ids))
    if not ids:
        raise Invalid("a maintenance window needs at least one service", field="service_ids")
    for service_id in ids:
        get_or_404(session, Service, service_id, what="service", field="service_ids")
        if by is not None:
            require_service_action(session, by, service_id)
    starts, ends = _span(now, starts_at, ends_at, duration)
    window = MaintenanceWindow(
        reason=reason.strip()[:2000], starts_at=starts, ends_at=ends, created_by=by, created_at=now
    )
    session.add(window)
    session.flush()
    session.add_all(MaintenanceWindowService(window_id=window.id, service_id=s) for s in ids)
    session.flush()
    return window


def _window_for_edit(session: Session, window_id: int, by: int | None) -> MaintenanceWindow:
    window = get_or_404(session, MaintenanceWindow, window_id, what="maintenance window", field="window_id")
    if by is not None:
        for service_id in window_services(session=session, window_id=window_id):
            require_service_action(session, by, service_id)
    return window


def extend_window(
    *, session: Session, window_id: int, ends_at: datetime, by: int | None, now: datetime | None = None
) -> MaintenanceWindow:
    """Move a window's end (not into the past)."""
    now = now or utcnow()
    window = _window_for_edit(session, window_id, by)
    _, window.ends_at = _span(now, window.starts_at, ends_at, None)
    _release_held(session, f"maintenance:{window.id}", now)
    session.flush()
    return window


def end_window(
    *, session: Session, window_id: int, by: int | None, now: datetime | None = None
) -> MaintenanceWindow:
    """End a window now (cancel it if not started); what still fires pages from level 0."""
    now = now or utcnow()
    window = _window_for_edit(session, window_id, by)
    if window.ends_at > now:
        window.ends_at = max(now, window.starts_at)
        _release_held(session, f"maintenance:{window.id}", now)
        session.flush()
    return window


def window_services(*, session: Session, window_id: int) -> list[int]:
    return list(
        session.scalars(
            select(MaintenanceWindowService.service_id)
            .where(MaintenanceWindowService.window_id == window_id)
            .order_by(MaintenanceWindowService.service_id)
        )
    )


def list_windows(
    *, session: Session, include_past: bool = False, now: datetime | None = None
) -> list[tuple[MaintenanceWindow, list[int]]]:
    """Windows that are active or planned (and past ones on request), with their service ids."""
    now = now or utcnow()
    stmt = select(MaintenanceWindow).order_by(MaintenanceWindow.starts_at, MaintenanceWindow.id)
    if not include_past:
        stmt = stmt.where(
            MaintenanceWindow.ends_at > now, MaintenanceWindow.ends_at > MaintenanceWindow.starts_at
        )
    windows = list(session.scalars(stmt.limit(1000)))
    return [(w, window_services(session=session, window_id=w.id)) for w in windows]
