"""Export of rendered on-call shifts (layers and overrides applied) by month, from the schedule resolver.

Shifts are not rows in Postgres but a rendering of schedules, and an override added today can change
last week, so the export re-renders the last exported month and every month up to the current one,
and rewrites ``shifts/month=YYYY-MM/shifts.parquet`` only when its content changed. Each shift is
clipped to its month, so hours add up across partitions without double counting.
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


def export_shifts(
    *,
    conn: psycopg.Connection,
    database_url: str,
    root: Path,
    state: dict[str, Any],
    now: datetime | None = None,
) -> tuple[int, list[Path]]:
    """Re-render the recent months of shifts; write the months whose content changed."""
    resolver = find_resolver()
    if resolver is None:
        return 0, []
    now = now or datetime.now(UTC)
    # Schedules are often created after the history they cover (imports, demo data): start at the
    # earliest incident too.
    first = conn.execute(
        "SELECT least((SELECT min(created_at) FROM schedules), (SELECT min(created_at) FROM incidents))"
        " WHERE EXISTS (SELECT 1 FROM schedules)"
    ).fetchone()
    if first is None or first[0] is None:
        return 0, []
    schedule_ids = [r[0] for r in conn.execute("SELECT id FROM schedules ORDER BY id").fetchall()]
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    rows, files = 0, []
    done = state.setdefault("shift_months", {})
    months = months_to_render(first[0], max(done) if done else None, now)
    for month in months:
        df = render_month(resolver, engine, schedule_ids, month)
        key = month.strftime("%Y-%m")
        digest = hashlib.sha256(df.write_csv().encode()).hexdigest()
        path = root / "shifts" / f"month={key}" / "shifts.parquet"
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
