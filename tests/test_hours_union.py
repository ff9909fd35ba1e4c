"""Hours on call count a person once across overlapping schedules, and separately per schedule, after a
real export; expected hours from merging the resolver's shifts in plain Python."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from analytics import metrics
from analytics.duck import connect
from analytics.export import export
from analytics.filters import Filters
from app.schedules import service
from tests import factories

START, END = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 16, tzinfo=UTC)


@pytest.fixture()
def world(fresh_database: str, tmp_path: Path) -> Iterator[tuple[dict, Path]]:
    engine = create_engine(fresh_database.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine) as session:
        x, y = factories.user(session, time_zone="Europe/Berlin"), factories.user(session)
        team = factories.team(session, members=[(x, "responder"), (y, "responder")])
        nights = service.create_schedule(
            session=session, name="Nights", time_zone="Europe/Berlin", team_id=team.id
        )
        service.add_layer(
            session=session, schedule_id=nights.id, member_ids=[x.id, y.id], rotation_kind="daily",
            handoff_anchor=datetime(2026, 3, 1, 18),
        )  # fmt: skip
        office = service.create_schedule(
            session=session, name="Office", time_zone="Europe/Berlin", team_id=team.id
        )
        service.add_layer(
            session=session, schedule_id=office.id, member_ids=[x.id], rotation_kind="weekly",
            handoff_anchor=datetime(2026, 3, 2, 0),
            restrictions=[{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
        )  # fmt: skip
        shifts = {
            sid: service.shifts_between(session=session, schedule_id=sid, start=START, end=END)
            for sid in (nights.id, office.id)
        }
        ids = {"x": x.id, "y": y.id, "nights": nights.id, "office": office.id, "shifts": shifts}
        session.commit()
    engine.dispose()
    export(database_url=fresh_database, data_dir=tmp_path, now=END)
    yield ids, tmp_path


def _union_hours(spans: list[tuple[datetime, datetime]]) -> float:
    total, reach = timedelta(0), None
    for a, b in sorted(spans):
        if reach is None or a > reach:
            total += b - a
            reach = b
        elif b > reach:
            total += b - reach
            reach = b
    return total.total_seconds() / 3600


def test_overlapping_schedules_count_a_person_once(world) -> None:
    ids, data_dir = world
    shifts = ids["shifts"]
    per_schedule = {
        (sid, uid): sum((s.end - s.start).total_seconds() for s in shifts[sid] if s.user_id == uid) / 3600
        for sid in shifts
        for uid in (ids["x"], ids["y"])
    }
    x_spans = [(s.start, s.end) for sid in shifts for s in shifts[sid] if s.user_id == ids["x"]]
    union = _union_hours(x_spans)
    assert union < per_schedule[(ids["nights"], ids["x"])] + per_schedule[(ids["office"], ids["x"])]
    con = connect(data_dir)
    try:
        window = Filters(start=START, end=END)
        load = {r["user_id"]: r for r in metrics.oncall_load(con, window).rows(named=True)}
        assert load[ids["x"]]["hours_on_call"] == pytest.approx(union)
        assert load[ids["y"]]["hours_on_call"] == pytest.approx(per_schedule[(ids["nights"], ids["y"])])
        split = {
            (r["schedule_id"], r["user_id"]): r["hours_on_call"]
            for r in metrics.hours_by_schedule(con, window).rows(named=True)
        }
        assert split == pytest.approx({k: v for k, v in per_schedule.items() if v})
    finally:
        con.close()
