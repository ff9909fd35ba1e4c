"""Monitors: create, edit, pause, heartbeats, and what the console shows (state, uptime, latency).

The caller owns the transaction. Each monitor raises its alerts through its own generic
integration, so a monitor's outage is grouped, flap-guarded and escalated like any webhook alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.secrets import new_token, token_hash
from app.db import get_or_404, utcnow
from app.directory import service as directory
from app.errors import Invalid, NotFound
from app.monitors import kinds
from app.monitors.logic import floor_hour, heartbeat_deadline, uptime_ratio
from app.monitors.models import Monitor, MonitorCheck, MonitorHour

MIN_INTERVAL = 10
KINDS = tuple(kinds.KINDS)
MAX_INTERVAL = 7 * 86400
UPTIME_WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def _check_numbers(
    interval_seconds: int, failure_threshold: int, recovery_threshold: int, grace: int
) -> None:
    if not MIN_INTERVAL <= interval_seconds <= MAX_INTERVAL:
        raise Invalid(
            f"interval_seconds must be between {MIN_INTERVAL} and {MAX_INTERVAL}", field="interval_seconds"
        )
    if not 1 <= failure_threshold <= 100:
        raise Invalid("failure_threshold must be between 1 and 100", field="failure_threshold")
    if not 1 <= recovery_threshold <= 100:
        raise Invalid("recovery_threshold must be between 1 and 100", field="recovery_threshold")
    if not 0 <= grace <= MAX_INTERVAL:
        raise Invalid(f"grace_seconds must be between 0 and {MAX_INTERVAL}", field="grace_seconds")


def create_monitor(
    *,
    session: Session,
    name: str,
    kind: str,
    service_id: int,
    target: str = "",
    config: dict[str, Any] | None = None,
    interval_seconds: int = 60,
    failure_threshold: int = 2,
    recovery_threshold: int = 1,
    grace_seconds: int = 0,
    paused: bool = False,
    now: datetime | None = None,
) -> tuple[Monitor, str | None]:
    """Create a monitor and its generic integration; a heartbeat monitor also gets its secret token."""
    now = now or utcnow()
    if not name.strip():
        raise Invalid("name must not be empty", field="name")
    target, options = kinds.validate(kind, target, config)
    _check_numbers(interval_seconds, failure_threshold, recovery_threshold, grace_seconds)
    directory.get_service(session=session, service_id=service_id)
    integration, _ = directory.create_integration(
        session=session, service_id=service_id, kind="generic", name=f"Monitor: {name.strip()}"[:200]
    )
    token = new_token("hb") if kind == "heartbeat" else None
    interval = timedelta(seconds=interval_seconds)
    monitor = Monitor(
        name=name.strip(),
        kind=kind,
        service_id=service_id,
        integration_id=integration.id,
        target=target,
        config=options,
        interval_seconds=interval_seconds,
        failure_threshold=failure_threshold,
        recovery_threshold=recovery_threshold,
        grace_seconds=grace_seconds,
        paused=paused,
        # A heartbeat is first due one interval (plus grace) after creation; a probe runs at once.
        next_check_at=heartbeat_deadline(now, interval, timedelta(seconds=grace_seconds)) if token else now,
        token_hash=token_hash(token) if token else None,
        token_prefix=token[:8] if token else None,
        created_at=now,
        updated_at=now,
    )
    session.add(monitor)
    session.flush()
    return monitor, token


def get_monitor(*, session: Session, monitor_id: int) -> Monitor:
    monitor = get_or_404(session, Monitor, monitor_id, what="monitor", field="monitor_id")
    return monitor


def _lock(session: Session, monitor_id: int) -> Monitor:
    stmt = select(Monitor).where(Monitor.id == monitor_id).with_for_update()
    monitor = session.scalar(stmt.execution_options(populate_existing=True))
    if monitor is None:
        raise NotFound(f"monitor {monitor_id} does not exist", field="monitor_id")
    return monitor


def update_monitor(
    *,
    session: Session,
    monitor_id: int,
    name: str | None = None,
    target: str | None = None,
    config: dict[str, Any] | None = None,
    interval_seconds: int | None = None,
    failure_threshold: int | None = None,
    recovery_threshold: int | None = None,
    grace_seconds: int | None = None,
    now: datetime | None = None,
) -> Monitor:
    """Change a monitor's settings; fields left None keep their value. The kind never changes."""
    now = now or utcnow()
    monitor = _lock(session, monitor_id)
    if name is not None and not name.strip():
        raise Invalid("name must not be empty", field="name")
    new_target, options = kinds.validate(
        monitor.kind,
        monitor.target if target is None else target,
        monitor.config if config is None else config,
    )
    interval = monitor.interval_seconds if interval_seconds is None else interval_seconds
    failures = monitor.failure_threshold if failure_threshold is None else failure_threshold
    recoveries = monitor.recovery_threshold if recovery_threshold is None else recovery_threshold
    grace = monitor.grace_seconds if grace_seconds is None else grace_seconds
    _check_numbers(interval, failures, recoveries, grace)
    if monitor.kind == "heartbeat" and (interval, grace) != (monitor.interval_seconds, monitor.grace_seconds):
        # The deadline follows the new interval and grace, counted from the last beat (or creation).
        monitor.next_check_at = heartbeat_deadline(
            monitor.last_beat_at or monitor.created_at, timedelta(seconds=interval), timedelta(seconds=grace)
        )
    elif interval != monitor.interval_seconds:
        # A new interval applies from now, not from a due time computed with the old one.
        monitor.next_check_at = min(monitor.next_check_at or now, now + timedelta(seconds=interval))
    monitor.name = name.strip() if name is not None else monitor.name
    monitor.target, monitor.config = new_target, options
    monitor.interval_seconds, monitor.grace_seconds = interval, grace
    monitor.failure_threshold, monitor.recovery_threshold = failures, recoveries
    monitor.updated_at = now
    session.flush()
    return monitor


def set_paused(*, session: Session, monitor_id: int, paused: bool, now: datetime | None = None) -> Monitor:
    """Pause or resume a monitor; resuming checks at once (a heartbeat gets a fresh interval)."""
    now = now or utcnow()
    monitor = _lock(session, monitor_id)
    if monitor.paused == paused:
        return monitor
    monitor.paused = paused
    if not paused:
        monitor.next_check_at = _resume_at(monitor, now)
    monitor.updated_at = now
    session.flush()
    return monitor


def _resume_at(monitor: Monitor, now: datetime) -> datetime:
    if monitor.kind != "heartbeat":
        return now
    interval = timedelta(seconds=monitor.interval_seconds)
    return heartbeat_deadline(now, interval, timedelta(seconds=monitor.grace_seconds))


def list_monitors(*, session: Session, service_id: int | None = None) -> list[Monitor]:
    stmt = select(Monitor).order_by(Monitor.name, Monitor.id)
    if service_id is not None:
        stmt = stmt.where(Monitor.service_id == service_id)
    return list(session.scalars(stmt))


def monitor_by_token(*, session: Session, token: str) -> Monitor | None:
    """The heartbeat monitor whose secret URL carries this token, locked for the beat."""
    stmt = select(Monitor).where(Monitor.token_hash == token_hash(token)).with_for_update()
    return session.scalar(stmt.execution_options(populate_existing=True))


def rotate_heartbeat_token(*, session: Session, monitor_id: int) -> str:
    """Issue a new secret URL token for a heartbeat monitor; the old URL stops working at once."""
    monitor = _lock(session, monitor_id)
    if monitor.kind != "heartbeat":
        raise Invalid("only heartbeat monitors have a token", field="monitor_id")
    token = new_token("hb")
    monitor.token_hash, monitor.token_prefix = token_hash(token), token[:8]
    session.flush()
    return token


def heartbeat_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/heartbeats/{token}"


@dataclass(frozen=True)
class Uptime:
    """Uptime shares per window (None: no checks in that window)."""

    day: float | None
    week: float | None
    month: float | None


def uptime(*, session: Session, monitor_ids: list[int], now: datetime | None = None) -> dict[int, Uptime]:
    """Uptime over the last 24 h, 7 d and 30 d of each monitor, from hourly tallies (whole hours).

    Checks that could not run are left out: they say nothing about the target.
    """
    now = now or utcnow()
    sums = []
    for window in UPTIME_WINDOWS.values():
        since = MonitorHour.hour >= floor_hour(now - window)
        sums.append(func.coalesce(func.sum(MonitorHour.ok).filter(since), 0))
        sums.append(func.coalesce(func.sum(MonitorHour.counted).filter(since), 0))
    rows = session.execute(
        select(MonitorHour.monitor_id, *sums)
        .where(
            MonitorHour.monitor_id.in_(monitor_ids),
            MonitorHour.hour >= floor_hour(now - UPTIME_WINDOWS["30d"]),
        )
        .group_by(MonitorHour.monitor_id)
    ).all()
    out = {mid: Uptime(None, None, None) for mid in monitor_ids}
    for mid, ok1, n1, ok7, n7, ok30, n30 in rows:
        out[mid] = Uptime(uptime_ratio(ok1, n1), uptime_ratio(ok7, n7), uptime_ratio(ok30, n30))
    return out


def recent_checks(
    *, session: Session, monitor_id: int, since: datetime, limit: int = 5000
) -> list[MonitorCheck]:
    """A monitor's checks since a time, oldest first (response-time charts)."""
    stmt = (
        select(MonitorCheck)
        .where(MonitorCheck.monitor_id == monitor_id, MonitorCheck.at >= since)
        .order_by(MonitorCheck.at.desc())
        .limit(limit)
    )
    return list(reversed(list(session.scalars(stmt))))


def check_counts(*, session: Session, monitor_id: int) -> dict[str, int]:
    """How many checks of each status a monitor has recorded."""
    rows = session.execute(
        select(MonitorCheck.status, func.count())
        .where(MonitorCheck.monitor_id == monitor_id)
        .group_by(MonitorCheck.status)
    ).all()
    return {status: n for status, n in rows}


@dataclass(frozen=True)
class MonitorRow:
    """One line of the console's monitor list."""

    id: int
    name: str
    kind: str
    target: str
    service: str
    state: str
    paused: bool
    interval_seconds: int
    last_checked_at: datetime | None
    last_status: str | None
    last_error: str | None
    last_latency_ms: float | None
    uptime: Uptime


def monitor_rows(*, session: Session, now: datetime | None = None) -> list[MonitorRow]:
    """Every monitor with its state, last result and uptime, for the console list."""
    found = list_monitors(session=session)
    services = {s.id: s.name for s in directory.list_services(session=session)}
    shares = uptime(session=session, monitor_ids=[m.id for m in found], now=now)
    return [
        MonitorRow(
            id=m.id,
            name=m.name,
            kind=m.kind,
            target=m.target,
            service=services.get(m.service_id, "?"),
            state=m.state,
            paused=m.paused,
            interval_seconds=m.interval_seconds,
            last_checked_at=m.last_checked_at,
            last_status=m.last_status,
            last_error=m.last_error,
            last_latency_ms=m.last_latency_ms,
            uptime=shares[m.id],
        )
        for m in found
    ]


def default_config(kind: str) -> dict[str, Any]:
    """The options a new monitor of this kind starts with (shown as the editable default)."""
    if kind not in kinds.KINDS:
        raise Invalid(f"kind must be one of {', '.join(kinds.KINDS)}", field="kind")
    return kinds.KINDS[kind][0]().model_dump(mode="json")
