"""Periodic jobs run once per tick across any number of schedulers, and a dead one blocks nobody."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.periodic.models import PeriodicTick
from app.periodic.service import claim_tick, next_grid_point, slot_of
from tests.infra import ROOT
from tests.loopback.workers import sessions, wait_for

SWEEP_S = 0.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_tick_is_won_once_and_never_again(session: Session) -> None:
    # Job names of their own: real schedulers of other tests tick "sweep" in this run's database.
    sweep, export = f"sweep-{uuid.uuid4().hex[:6]}", f"export-{uuid.uuid4().hex[:6]}"
    assert claim_tick(session=session, job=sweep, slot=100, holder="a")
    assert not claim_tick(session=session, job=sweep, slot=100, holder="b")
    assert not claim_tick(session=session, job=sweep, slot=99, holder="b")  # a late clock
    assert claim_tick(session=session, job=sweep, slot=101, holder="b")
    assert claim_tick(session=session, job=export, slot=100, holder="b")  # jobs are independent
    assert session.get(PeriodicTick, sweep).claimed_by == "b"


def test_a_firing_counts_as_its_grid_point_when_a_little_early_or_late() -> None:
    grid = datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC)  # a multiple of 15 s since the epoch
    slot = int(grid.timestamp()) // 15
    assert slot_of(grid, 15) == slot
    assert slot_of(grid - timedelta(seconds=1), 15) == slot  # woke a little early
    assert slot_of(grid + timedelta(seconds=13), 15) == slot  # ran late on a loaded machine
    assert slot_of(grid + timedelta(seconds=15), 15) == slot + 1
    assert next_grid_point(grid + timedelta(seconds=1), 15) == grid + timedelta(seconds=15)
    assert next_grid_point(grid, 15) == grid


def test_concurrent_claims_of_one_tick_have_one_winner(engine: Engine) -> None:
    job = f"race-{uuid.uuid4().hex[:6]}"
    barrier = threading.Barrier(8)
    wins: list[bool] = []

    def claim(holder: str) -> None:
        with Session(engine) as s:
            barrier.wait()
            won = claim_tick(session=s, job=job, slot=7, holder=holder)
            s.commit()
        wins.append(won)

    threads = [threading.Thread(target=claim, args=(f"h{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


@pytest.fixture()
def schedulers(fresh_database: str, redis_env: dict[str, str], output_dir: Path) -> Iterator[dict]:
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLAR_")}
    env.update(DATABASE_URL=fresh_database, REDIS_NAMESPACE=namespace, PYTHONPATH=str(ROOT))
    log_dir = output_dir / "schedulers" / namespace
    log_dir.mkdir(parents=True, exist_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    ports = {}
    for name in ("s1", "s2"):
        ports[name] = free_port()
        out = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "workers.scheduler", "--every", f"sweep={SWEEP_S}"],
            env={**env, "SLAR_SCHEDULER_METRICS_PORT": str(ports[name])},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    client = redis.Redis.from_url(redis_env["REDIS_URL"])
    try:
        yield {"procs": procs, "ports": ports, "redis": client, "key": f"{namespace}-dramatiq:escalation"}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)


def _sweeps(client: redis.Redis, key: str) -> int:
    """Sweep messages enqueued so far (no worker consumes them here)."""
    return sum(json.loads(raw)["actor_name"] == "sweep" for raw in client.hvals(f"{key}.msgs"))


def _metric(port: int, line_start: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
    found = [ln for ln in text.splitlines() if ln.startswith(line_start)]
    return float(found[0].rsplit(" ", 1)[1]) if found else 0.0


@pytest.mark.slow
def test_two_schedulers_enqueue_each_sweep_once_and_one_survives_the_other(
    fresh_database: str, schedulers: dict
) -> None:
    start = time.time()
    wait_for(lambda: _sweeps(schedulers["redis"], schedulers["key"]) >= 6, 60, "six sweep ticks")
    time.sleep(2)
    count, end = _sweeps(schedulers["redis"], schedulers["key"]), time.time()
    # One message per half-second slot at most (each scheduler alone would enqueue every slot).
    assert count <= (end - start) / SWEEP_S + 2
    won = {
        n: _metric(p, 'slar_scheduler_ticks_total{job="sweep",outcome="won"}')
        for n, p in schedulers["ports"].items()
    }
    taken = {
        n: _metric(p, 'slar_scheduler_ticks_total{job="sweep",outcome="taken"}')
        for n, p in schedulers["ports"].items()
    }
    assert sum(taken.values()) > 0  # both were asking: the claim is what kept the count down
    assert _metric(schedulers["ports"]["s1"], 'slar_queue_depth{queue="escalation"}') >= count

    os.killpg(schedulers["procs"]["s1"].pid, signal.SIGKILL)
    schedulers["procs"]["s1"].wait()
    Session = sessions(fresh_database)

    def survivor_claims() -> bool:
        with Session() as s:
            tick = s.get(PeriodicTick, "sweep")
            return tick is not None and tick.claimed_by.endswith(f":{schedulers['procs']['s2'].pid}")

    before = _sweeps(schedulers["redis"], schedulers["key"])
    wait_for(survivor_claims, 60, "the surviving scheduler to claim the sweep tick")
    wait_for(lambda: _sweeps(schedulers["redis"], schedulers["key"]) >= before + 3, 60, "sweeps to go on")
    assert sum(won.values()) >= 6
