"""Monitors run by the real processes: the scheduler's one-second tick and a `dramatiq` worker."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.directory import service as directory
from app.incidents.models import Incident
from app.monitors import service as monitors
from app.monitors.models import Monitor, MonitorCheck
from tests.infra import process
from tests.monitor_helpers import HttpTarget

T = TypeVar("T")
VENV_BIN = Path(sys.executable).parent
INTERVAL = 10


def wait_for(fn: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_scheduler_and_worker_run_checks_on_their_interval_and_page_once(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path
) -> None:
    engine = create_engine(fresh_database.replace("postgresql://", "postgresql+psycopg://", 1))
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    env = {**os.environ, "DATABASE_URL": fresh_database, **redis_env}
    with HttpTarget().running() as http:
        http.mode = "fail"
        with factory.begin() as s:
            service = directory.create_service(session=s, name="shop")
            monitor, _ = monitors.create_monitor(
                session=s,
                name="shop front",
                kind="http",
                service_id=service.id,
                target=http.url,
                interval_seconds=INTERVAL,
                failure_threshold=2,
            )
            paused, _ = monitors.create_monitor(
                session=s, name="paused", kind="tcp", service_id=service.id, target="127.0.0.1:9", paused=True
            )
        worker = [str(VENV_BIN / "dramatiq"), "workers.actors", "-p", "1", "-t", "4", "-Q", "monitors"]
        scheduler = [sys.executable, "-m", "workers.scheduler"]
        with (
            process(worker, env, output_dir / "monitor-worker.log"),
            process(scheduler, env, output_dir / "monitor-scheduler.log"),
        ):

            def incident(status: str) -> Incident | None:
                with Session(engine) as s:
                    return s.scalar(
                        select(Incident).where(Incident.service_id == service.id, Incident.status == status)
                    )

            wait_for(lambda: incident("triggered"), 60, "the outage to open an incident")
            http.mode = "ok"
            wait_for(lambda: incident("resolved"), 60, "the recovery to resolve it")
    with Session(engine) as s:
        checks = list(
            s.scalars(
                select(MonitorCheck)
                .where(MonitorCheck.monitor_id == monitor.id)
                .order_by(MonitorCheck.due_at)
            )
        )
        incidents = list(s.scalars(select(Incident).where(Incident.service_id == service.id)))
        paused_checks = s.scalars(select(MonitorCheck).where(MonitorCheck.monitor_id == paused.id)).all()
        stored = s.get(Monitor, monitor.id)
    engine.dispose()
    assert [c.status for c in checks][:3] == ["fail", "fail", "ok"], (
        "down after 2 failures, up after 1 success"
    )
    assert len(incidents) == 1 and incidents[0].status == "resolved"
    # Every check sits on the monitor's grid, each slot at most once: the interval is honoured and no
    # two ticks claimed the same check. A scheduler that fell a whole interval behind (a loaded
    # machine) skips the missed slots by design, so a gap may span several intervals.
    gaps = [(b.due_at - a.due_at).total_seconds() for a, b in zip(checks, checks[1:], strict=False)]
    assert gaps and all(g >= INTERVAL and g % INTERVAL == 0 for g in gaps), gaps
    assert all(c.at >= c.due_at for c in checks)
    assert paused_checks == []
    assert stored is not None and stored.state == "up" and stored.next_check_at is not None


def test_probe_loop_runs_handed_over_checks_at_their_due_time(
    database_url: str, redis_env: dict[str, str]
) -> None:
    from app.db import session_scope, utcnow
    from app.monitors.runner import claim_due
    from workers.monitors import probe_loop

    with HttpTarget().running() as http, session_scope() as s:
        service = directory.create_service(session=s, name=f"loop {time.time_ns()}")
        monitor, _ = monitors.create_monitor(
            session=s, name="loop", kind="http", service_id=service.id, target=http.url, interval_seconds=10
        )
        monitor.next_check_at = due = utcnow() + timedelta(seconds=1)
        s.flush()
        claims = [
            c
            for c in claim_due(session=s, now=utcnow(), ahead=timedelta(seconds=5))
            if c.target.monitor_id == monitor.id
        ]
        s.commit()
        assert [c.due_at for c in claims] == [due] and http.hits == 0
        probe_loop().submit(claims).result(timeout=30)
        assert http.hits == 1 and probe_loop() is probe_loop()
        (check,) = s.scalars(select(MonitorCheck).where(MonitorCheck.monitor_id == monitor.id)).all()
        assert check.status == "ok" and check.due_at == due and check.at >= due
        s.delete(service)
