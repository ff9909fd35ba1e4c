"""Export of rendered on-call shifts (layers, versions and overrides applied) by month.

Shifts are not rows in Postgres but a rendering of schedules, and a change made today can alter any
month (an override added for last month, an edit effective next week), so each run re-renders
exactly the months a change since the last run touched, plus months never exported up to the
current one, and rewrites ``shifts/month=YYYY-MM/shifts.parquet`` only when its content changed.

What a change touched comes from the schedule audit trail rows written since the last export's
snapshot (the same transaction-visibility rule as the tables): an override's span, a layer edit or
removal from its effective instant on, a new layer from its start. A change that does not say what it
touched (an imported calendar, an applied plan) re-renders every month; a schedule added or removed
does too. Swap proposals and decisions change nothing by themselves (their overrides are audited).
Each shift is clipped to its month, so hours add up across partitions without double counting.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from analytics.tables import SHIFTS_SCHEMA

# (schedule_id, user_id, starts_at, ends_at) for one schedule over [start, end).
Resolver = Callable[..., Iterable[Any]]


def find_resolver() -> Resolver | None:
    """The schedule service's final-shift renderer (``shifts_between``), when it is available."""
    module = importlib.import_module("app.schedules.service")
    return getattr(module, "shifts_between", None)


def _month_start(at: datetime) -> datetime:
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def _next_month(at: datetime) -> datetime:
    return datetime(at.year + at.month // 12, at.month % 12 + 1, 1, tzinfo=UTC)


def months_to_render(first: datetime, last_done: str | None, now: datetime) -> list[datetime]:
    """Month starts to (re-)render: from the last exported month (or the first one) to now's month."""
    start = _month_start(datetime.strptime(last_done, "%Y-%m").replace(tzinfo=UTC) if last_done else first)
    months, cur = [], start
    while cur <= now:
        months.append(cur)
        cur = _next_month(cur)
    return months


def _as_row(shift: Any, schedule_id: int) -> tuple[int, int, datetime, datetime]:
    return (schedule_id, int(shift.user_id), shift.start, shift.end)


def render_month(
    resolver: Resolver, engine: Engine, schedule_ids: list[int], month: datetime
) -> pl.DataFrame:
    """Every schedule's final shifts over one UTC month, clipped to it."""
    end = _next_month(month)
    rows: list[tuple[int, int, datetime, datetime]] = []
    with Session(engine) as session:
        for schedule_id in schedule_ids:
            for shift in resolver(session=session, schedule_id=schedule_id, start=month, end=end):
                sid, uid, a, b = _as_row(shift, schedule_id)
                a, b = max(a, month), min(b, end)
                if b > a:
                    rows.append((sid, uid, a, b))
    df = pl.DataFrame(rows, schema=SHIFTS_SCHEMA, orient="row")
    return df.sort("schedule_id", "starts_at", "user_id")


# Audit actions that change no shift by themselves.
NO_SHIFT_CHANGE = {"swap_proposed", "swap_accepted", "swap_declined", "swap_cancelled"}


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def touched_from(data: dict[str, Any]) -> datetime | None:
    """From when an audited change can alter shifts; None when it does not say (from the start)."""
    return _parse(data.get("affects_from")) or _parse(data.get("starts_at"))


def touched_until(data: dict[str, Any]) -> datetime | None:
    """Overrides name their end; every other change runs on into the future."""
    return _parse(data.get("ends_at")) if "affects_from" not in data else None


def dirty_months(changes: Iterable[tuple[str, dict[str, Any]]], first: datetime, now: datetime) -> set[str]:
    """Months (YYYY-MM) from the first one to now's month that the audited changes touched."""
    every = {m.strftime("%Y-%m") for m in months_to_render(first, None, now)}
    out: set[str] = set()
    for action, data in changes:
        if action in NO_SHIFT_CHANGE:
            continue
        lo = touched_from(data)
        if lo is None:
            return every
        hi = touched_until(data)
        cur = _month_start(lo)
        while cur <= now and (hi is None or cur < hi):
            out.add(cur.strftime("%Y-%m"))
            cur = _next_month(cur)
    return out & every


def export_shifts(
    *,
    conn: psycopg.Connection,
    database_url: str,
    root: Path,
    state: dict[str, Any],
    changed: str,
    now: datetime | None = None,
) -> tuple[int, list[Path]]:
    """Render the months changes touched and the months not yet exported; write those that changed.

    ``changed`` is the SQL condition selecting rows written since the last export's snapshot.
    """
    resolver = find_resolver()
    if resolver is None:
        return 0, []
    now = now or datetime.now(UTC)
    # Schedules are often created after the history they cover (imports, demo data): start at the
    # earliest incident, and at the earliest rotation start (a wall-clock anchor: a day earlier
    # covers every zone), too.
    first = conn.execute(
        "SELECT least((SELECT min(created_at) FROM schedules), (SELECT min(created_at) FROM incidents),"
        " (SELECT min(handoff_anchor) - interval '1 day' FROM schedule_layers WHERE source = 'rotation'))"
        " WHERE EXISTS (SELECT 1 FROM schedules)"
    ).fetchone()
    if first is None or first[0] is None:
        return 0, []
    schedule_ids = [r[0] for r in conn.execute("SELECT id FROM schedules ORDER BY id").fetchall()]
    done = state.setdefault("shift_months", {})
    all_months = months_to_render(first[0], None, now)
    changes = conn.execute(f"SELECT action, data FROM schedule_audit WHERE {changed}").fetchall()
    todo = dirty_months(changes, first[0], now)
    if state.get("shift_schedules") != schedule_ids:
        todo = {m.strftime("%Y-%m") for m in all_months}
    # The current month is always rendered: the first run of a month has not seen it yet.
    todo |= {m.strftime("%Y-%m") for m in all_months if m.strftime("%Y-%m") not in done}
    state["shift_schedules"] = schedule_ids
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    rows, files = 0, []
    for month in all_months:
        key = month.strftime("%Y-%m")
        path = root / "shifts" / f"month={key}" / "shifts.parquet"
        if key not in todo and path.exists():
            continue
        df = render_month(resolver, engine, schedule_ids, month)
        digest = hashlib.sha256(df.write_csv().encode()).hexdigest()
        if done.get(key) == digest and path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(".shifts.parquet.tmp")
        df.write_parquet(tmp)
        tmp.replace(path)
        done[key] = digest
        rows += df.height
        files.append(path)
    engine.dispose()
    return rows, files
