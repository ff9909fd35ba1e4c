"""Running monitors: claim due checks, apply results, take heartbeats, watch silent integrations.

Postgres is the timer: `claim_due` locks due monitors with SKIP LOCKED and moves each one's due time
to its next slot in the same transaction, so two ticks never claim the same check. Only state
changes (down, up) become alert events, through app.alerts.service.record_alert_events. The caller
owns the transaction and, after commit, enqueues the escalation kicks returned.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, insert, not_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from app.alerts.events import AlertEvent
from app.alerts.service import record_alert_events
from app.db import utcnow
from app.directory.models import Integration
from app.errors import NotFound
from app.monitors.logic import (
    Counters,
    Status,
    Transition,
    advance,
    heartbeat_deadline,
    hour_tallies,
    next_due,
)
from app.monitors.models import Monitor, MonitorCheck, MonitorHour
from app.monitors.probes import ProbeResult, Target
from app.monitors.service import monitor_by_token

Kick = tuple[int, str]
SILENCE_FINGERPRINT = "integration-silent"
# Raw checks feed the response-time charts; the hourly tallies feed uptime over 24 h, 7 d and 30 d.
CHECK_RETENTION = timedelta(days=30)
HOUR_RETENTION = timedelta(days=90)


@dataclass(frozen=True)
class Claim:
    """One claimed check: which monitor, what to probe, and the due time it was claimed for."""

    target: Target
    due_at: datetime


@dataclass(frozen=True)
class Outcome:
    """A finished check, ready to apply."""

    monitor_id: int
    due_at: datetime
    started_at: datetime
    result: ProbeResult


def claim_due(
    *,
    session: Session,
    now: datetime | None = None,
    ahead: timedelta = timedelta(0),
    limit: int = 2000,
) -> list[Claim]:
    """Lock due, unpaused monitors (SKIP LOCKED), move each to its next slot, and return the claims.

    Probes due within `ahead` are claimed early, so the check can wait for its due time on a worker
    instead of starting late by the tick-to-worker delay. Heartbeat monitors come back only once
    their deadline has passed (a beat may still arrive): for them being due means no beat in time.
    """
    now = now or utcnow()
    early = and_(Monitor.kind != "heartbeat", Monitor.next_check_at <= now + ahead)
    stmt = (
        select(Monitor)
        .where(not_(Monitor.paused), or_(Monitor.next_check_at <= now, early))
        .order_by(Monitor.next_check_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    claims = []
    for m in session.scalars(stmt):
        due = m.next_check_at
        assert due is not None
        claims.append(Claim(Target(m.id, m.kind, m.target, dict(m.config)), due))
        m.next_check_at = next_due(due, timedelta(seconds=m.interval_seconds), now)
    session.flush()
    return claims


def apply_outcomes(
    *, session: Session, outcomes: Sequence[Outcome], now: datetime | None = None
) -> list[Kick]:
    """Store check results, advance each monitor's state, and raise alerts for state changes only."""
    now = now or utcnow()
    if not outcomes:
        return []
    ids = sorted({o.monitor_id for o in outcomes})
    # Locked in id order so two batches touching the same monitors cannot deadlock.
    stmt = (
        select(Monitor)
        .where(Monitor.id.in_(ids))
        .order_by(Monitor.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    monitors = {m.id: m for m in session.scalars(stmt)}
    # A monitor deleted while its check ran leaves nothing to record.
    kept = sorted((o for o in outcomes if o.monitor_id in monitors), key=lambda o: o.started_at)
    if not kept:
        return []
    events: dict[int, list[AlertEvent]] = defaultdict(list)
    for o in kept:
        monitor = monitors[o.monitor_id]
        transition = _apply(monitor, o)
        if transition is not None:
            events[monitor.integration_id].append(_event(monitor, transition, o))
    session.execute(insert(MonitorCheck), [_row(o) for o in kept])
    _tally_hours(session, kept)
    return _emit(session, events, now)


def _tally_hours(session: Session, outcomes: Sequence[Outcome]) -> None:
    tallies = hour_tallies((o.monitor_id, o.started_at, o.result.status) for o in outcomes)
    # Sorted keys: concurrent batches upsert shared rows in one order, so they cannot deadlock.
    values = [
        dict(monitor_id=mid, hour=hour, ok=ok, counted=counted, errors=errors)
        for (mid, hour), (ok, counted, errors) in sorted(tallies.items())
    ]
    stmt = pg_insert(MonitorHour).values(values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["monitor_id", "hour"],
            set_={
                "ok": MonitorHour.ok + stmt.excluded.ok,
                "counted": MonitorHour.counted + stmt.excluded.counted,
                "errors": MonitorHour.errors + stmt.excluded.errors,
            },
        )
    )


def prune(*, session: Session, now: datetime | None = None, limit: int = 20_000) -> int:
    """Delete raw checks past CHECK_RETENTION and hourly tallies past HOUR_RETENTION, oldest first."""
    now = now or utcnow()
    oldest = (
        select(MonitorCheck.id)
        .where(MonitorCheck.at < now - CHECK_RETENTION)
        .order_by(MonitorCheck.at)
        .limit(limit)
        .scalar_subquery()
    )
    removed = session.execute(delete(MonitorCheck).where(MonitorCheck.id.in_(oldest))).rowcount
    session.execute(delete(MonitorHour).where(MonitorHour.hour < now - HOUR_RETENTION))
    return removed


def _row(o: Outcome) -> dict[str, object]:
    r = o.result
    return dict(
        monitor_id=o.monitor_id,
        due_at=o.due_at,
        at=o.started_at,
        status=r.status,
        latency_ms=r.latency_ms,
        error=r.error,
    )


def _apply(monitor: Monitor, o: Outcome) -> Transition:
    stale = monitor.last_checked_at is not None and o.started_at < monitor.last_checked_at
    if monitor.paused or stale:
        # Kept for uptime, but a paused monitor, or a result overtaken by a newer one, moves no state.
        return None
    monitor.last_checked_at = o.started_at
    monitor.last_status = o.result.status
    monitor.last_error = o.result.error
    if o.result.latency_ms is not None:
        monitor.last_latency_ms = o.result.latency_ms
    step = advance(
        Counters(monitor.state, monitor.consecutive_failures, monitor.consecutive_successes),  # type: ignore[arg-type]
        o.result.status,  # type: ignore[arg-type]
        failure_threshold=monitor.failure_threshold,
        recovery_threshold=monitor.recovery_threshold,
    )
    monitor.state = step.counters.state
    monitor.consecutive_failures = step.counters.failures
    monitor.consecutive_successes = step.counters.successes
    return step.transition


def _event(monitor: Monitor, transition: str, o: Outcome) -> AlertEvent:
    key = f"monitor-{monitor.id}"
    what = f"{monitor.kind.upper()} {monitor.target}".strip() if monitor.target else monitor.kind
    down = transition == "down"
    summary = (
        f"{monitor.name} is down: {o.result.error or 'check failed'}" if down else f"{monitor.name} is up"
    )
    return AlertEvent(
        fingerprint=key,
        dedup_key=key,
        action="trigger" if down else "resolve",
        summary=summary[:500],
        severity="critical",
        source="monitor",
        labels={"monitor_id": monitor.id, "monitor": monitor.name, "kind": monitor.kind, "check": what},
        annotations={"error": o.result.error or "", "latency_ms": o.result.latency_ms},
        starts_at=o.started_at if down else None,
        ends_at=None if down else o.started_at,
    )


def _emit(session: Session, events: dict[int, list[AlertEvent]], now: datetime) -> list[Kick]:
    kicks: list[Kick] = []
    for integration_id, batch in events.items():
        integration = session.get(Integration, integration_id)
        if integration is None:
            continue
        kicks.extend(
            record_alert_events(session=session, integration=integration, events=batch, now=now).kicks
        )
    return kicks


def beat(*, session: Session, token: str, now: datetime | None = None) -> tuple[Monitor, list[Kick]]:
    """A heartbeat arrived: the monitor is due again one interval plus grace from now; a late one recovers."""
    now = now or utcnow()
    monitor = monitor_by_token(session=session, token=token)
    if monitor is None or monitor.kind != "heartbeat":
        raise NotFound("no heartbeat monitor has this token", field="token")
    due = monitor.next_check_at or now
    monitor.last_beat_at = now
    interval, grace = timedelta(seconds=monitor.interval_seconds), timedelta(seconds=monitor.grace_seconds)
    if not monitor.paused:
        monitor.next_check_at = heartbeat_deadline(now, interval, grace)
    outcome = Outcome(monitor.id, min(due, now), now, ProbeResult("ok", None, None))
    return monitor, apply_outcomes(session=session, outcomes=[outcome], now=now)


def missed_beat(claim: Claim, now: datetime) -> Outcome:
    """The outcome of a heartbeat monitor whose deadline passed with no beat."""
    return Outcome(
        claim.target.monitor_id, claim.due_at, now, ProbeResult("fail", None, "no heartbeat in time")
    )


def silent_integrations(*, session: Session, now: datetime | None = None) -> list[Kick]:
    """Raise an alert for each integration silent past its expected interval; resolve it once heard again."""
    now = now or utcnow()
    watched = session.scalars(
        select(Integration).where(
            Integration.expected_interval_seconds.is_not(None),
            Integration.disabled.is_(False),
            Integration.revoked_at.is_(None),
        )
    )
    kicks: list[Kick] = []
    for integration in watched:
        heard = integration.last_seen_at or integration.created_at
        silent = now - heard > timedelta(seconds=integration.expected_interval_seconds or 0)
        event = _silence_event(integration, silent, heard)
        result = record_alert_events(session=session, integration=integration, events=[event], now=now)
        kicks.extend(result.kicks)
    return kicks


def _silence_event(integration: Integration, silent: bool, heard: datetime) -> AlertEvent:
    key = f"{SILENCE_FINGERPRINT}-{integration.id}"
    status: Status = "fail" if silent else "ok"
    return AlertEvent(
        fingerprint=SILENCE_FINGERPRINT,
        dedup_key=key,
        action="trigger" if status == "fail" else "resolve",
        summary=f"Integration {integration.name} has sent nothing since {heard:%Y-%m-%d %H:%M} UTC",
        severity="error",
        source="monitor",
        labels={"integration_id": integration.id, "integration": integration.name},
    )
