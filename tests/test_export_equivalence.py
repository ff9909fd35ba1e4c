"""An incremental export and a fresh one give identical frames after any sequence of changes.

Each example gets its own database (a copy of one migrated template) and plays a random sequence of
changes that alter the past or the exported future: overrides added or removed in earlier months,
effective-dated layer edits, added and removed layers, late events and state changes on an old
incident, and the clock moving on (across month ends). After every change the incremental export
runs; at the end a fresh export of the same database must read back the same, table by table.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from analytics.duck import connect, run
from analytics.export import export
from analytics.tables import all_schemas
from app.errors import DomainError
from app.incidents import service as incidents
from app.schedules import service as schedules
from app.schedules.models import ScheduleLayer, ScheduleOverride
from tests import factories, infra

START = datetime(2026, 4, 20, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def template() -> Iterator[str]:
    url = infra.create_database()
    yield url
    infra.drop_database(url)


def _copy_of(template_url: str) -> str:
    name = f"slar_eq_{uuid.uuid4().hex[:10]}"
    source = template_url.partition("?")[0].rpartition("/")[2]
    with psycopg.connect(infra.admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return infra.db_url_for(infra.admin_url(), name)


changes = st.one_of(
    st.tuples(st.just("override"), st.integers(0, 110), st.integers(1, 72), st.integers(0, 2)),
    st.tuples(st.just("drop_override"), st.integers(0, 9)),
    st.tuples(st.just("edit"), st.permutations([0, 1, 2]), st.integers(0, 24 * 40)),
    st.tuples(st.just("add_layer"), st.integers(0, 24 * 40), st.integers(0, 2)),
    st.tuples(st.just("drop_layer"), st.integers(0, 24 * 40)),
    st.tuples(st.just("late_event"), st.integers(0, 60)),
    st.tuples(
        st.just("resolve_old"),
    ),
    st.tuples(st.just("advance"), st.integers(1, 24 * 25)),
)


class World:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.users = [factories.user(session, time_zone="Europe/Berlin") for _ in range(3)]
        self.schedule = schedules.create_schedule(
            session=session, name=f"Eq {factories.n()}", time_zone="Europe/Berlin"
        )
        self.layer = schedules.add_layer(
            session=session,
            schedule_id=self.schedule.id,
            member_ids=[u.id for u in self.users],
            rotation_kind="daily",
            handoff_anchor=datetime(2026, 1, 5, 9),
        )
        svc = factories.service(session)
        self.old = incidents.trigger_or_group(
            session=session,
            service_id=svc.id,
            dedup_key="old",
            alert=factories.alert(),
            now=datetime(2026, 1, 20, tzinfo=UTC),
        ).incident
        self.now = START

    def apply(self, change: tuple) -> None:
        s, kind = self.session, change[0]
        if kind == "override":
            _, day, hours, who = change
            start = datetime(2026, 1, 1, 6, tzinfo=UTC) + timedelta(days=day)
            schedules.add_override(
                session=s,
                schedule_id=self.schedule.id,
                user_id=self.users[who].id,
                starts_at=start,
                ends_at=start + timedelta(hours=hours),
            )
        elif kind == "drop_override":
            ids = s.scalars(
                select(ScheduleOverride.id).where(ScheduleOverride.schedule_id == self.schedule.id)
            ).all()
            if ids:
                schedules.delete_override(session=s, override_id=sorted(ids)[change[1] % len(ids)])
        elif kind == "edit":
            order = [self.users[i].id for i in change[1]]
            schedules.update_layer(
                session=s,
                layer_id=self.layer.id,
                member_ids=order,
                effective_from=self.now + timedelta(hours=change[2]),
                now=self.now,
            )
        elif kind == "add_layer":
            schedules.add_layer(
                session=s,
                schedule_id=self.schedule.id,
                member_ids=[self.users[change[2]].id],
                rotation_kind="weekly",
                handoff_anchor=datetime(2026, 1, 5, 18),
                priority=1,
                restrictions=[{"days": [5, 6], "start": "08:00", "end": "20:00"}],
                effective_from=self.now + timedelta(hours=change[1]),
                now=self.now,
            )
        elif kind == "drop_layer":
            layers = s.scalars(
                select(ScheduleLayer.id).where(ScheduleLayer.schedule_id == self.schedule.id)
            ).all()
            schedules.delete_layer(
                session=s,
                layer_id=max(layers),
                effective_from=self.now + timedelta(hours=change[1]),
                now=self.now,
            )
        elif kind == "late_event":
            incidents.record_event(
                session=s,
                incident_id=self.old.id,
                kind="note",
                at=datetime(2026, 1, 20, tzinfo=UTC) + timedelta(days=change[1]),
                data={"text": "late"},
            )
        elif kind == "resolve_old":
            incidents.resolve(session=s, incident_id=self.old.id, by=None, now=self.now)
        elif kind == "advance":
            self.now += timedelta(hours=change[1])


def _frames(data_dir: Path) -> dict[str, pl.DataFrame]:
    con = connect(data_dir)
    try:
        return {name: run(con, f"SELECT * FROM {name} ORDER BY ALL") for name in all_schemas()}
    finally:
        con.close()


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(changes, min_size=1, max_size=6))
def test_incremental_and_fresh_exports_agree_after_any_changes(
    template: str, tmp_path_factory, steps
) -> None:
    url = _copy_of(template)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    incremental = tmp_path_factory.mktemp("incremental")
    try:
        with Session(engine, expire_on_commit=False) as session:
            world = World(session)
            session.commit()
            export(database_url=url, data_dir=incremental, now=world.now)
            for change in steps:
                try:
                    world.apply(change)
                    session.commit()
                except DomainError:
                    session.rollback()  # refused (overlap, nothing in force): nothing written
                export(database_url=url, data_dir=incremental, now=world.now)
        fresh = tmp_path_factory.mktemp("fresh")
        export(database_url=url, data_dir=fresh, now=world.now)
        got, want = _frames(incremental), _frames(fresh)
        assert want["shifts"].height > 0
        for name in want:
            assert got[name].equals(want[name]), name
    finally:
        engine.dispose()
        infra.drop_database(url)


def test_an_override_for_an_earlier_month_reaches_the_incremental_export(
    template: str, tmp_path: Path
) -> None:
    url = _copy_of(template)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with Session(engine, expire_on_commit=False) as session:
            world = World(session)
            session.commit()
            export(database_url=url, data_dir=tmp_path, now=START)
            before = {
                p.name: p.stat().st_mtime_ns for p in (tmp_path / "parquet" / "shifts").rglob("*.parquet")
            }
            who = world.users[0].id
            schedules.add_override(
                session=session,
                schedule_id=world.schedule.id,
                user_id=who,
                starts_at=datetime(2026, 2, 10, tzinfo=UTC),
                ends_at=datetime(2026, 2, 12, tzinfo=UTC),
            )
            session.commit()
        report = export(database_url=url, data_dir=tmp_path, now=START)
        # Exactly February is written again, and it now holds the override's 48 hours.
        assert [p.parent.name for p in report.files if p.parent.parent.name == "shifts"] == ["month=2026-02"]
        assert before
        feb = pl.read_parquet(tmp_path / "parquet" / "shifts" / "month=2026-02" / "shifts.parquet")
        window = feb.filter(
            (pl.col("starts_at") >= datetime(2026, 2, 10, tzinfo=UTC))
            & (pl.col("ends_at") <= datetime(2026, 2, 12, tzinfo=UTC))
        )
        assert window["user_id"].unique().to_list() == [who]
        hours = (window["ends_at"] - window["starts_at"]).dt.total_seconds().sum() / 3600
        assert hours == 48
    finally:
        engine.dispose()
        infra.drop_database(url)
