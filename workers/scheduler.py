"""The scheduler process: enqueues every PERIODIC job on its interval (`python -m workers.scheduler`).

It only enqueues; the workers do the work. Any number of schedulers may run, on any hosts: each tick
of each job is claimed in Postgres (app.periodic.service.claim_tick) and only the winner enqueues,
so a job runs once per tick however many schedulers there are, and a dead or cut-off scheduler holds
nothing the others wait for.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import socket

from apscheduler.schedulers.blocking import BlockingScheduler

from app.db import session_scope, utcnow
from app.logredact import install
from app.periodic.service import claim_tick, next_grid_point, slot_of
from workers import metrics
from workers.dispatch import send
from workers.periodic import PERIODIC

log = logging.getLogger("workers.scheduler")
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def intervals(overrides: list[str]) -> dict[str, float]:
    """Each job's interval in seconds, with NAME=SECONDS overrides (tests run the sweeper faster)."""
    out = {name: every for name, every, _, _ in PERIODIC}
    for item in overrides:
        name, _, seconds = item.partition("=")
        if name not in out:
            raise SystemExit(f"--every: no periodic job named {name!r} (known: {', '.join(out)})")
        try:
            out[name] = float(seconds)
        except ValueError:
            raise SystemExit(f"--every {item}: seconds must be a number") from None
        if out[name] <= 0:
            raise SystemExit(f"--every {item}: seconds must be > 0")
    return out


def fire(name: str, every_s: float, queue: str, actor: str) -> bool:
    """Enqueue the job if this scheduler wins the current tick; True when it did."""
    try:
        with session_scope() as session:
            won = claim_tick(session=session, job=name, slot=slot_of(utcnow(), every_s), holder=HOLDER)
    except Exception:  # noqa: BLE001 - without Postgres no job can do anything; the next tick retries
        log.warning("cannot claim the %s tick: Postgres unreachable", name, exc_info=True)
        metrics.TICKS.labels(job=name, outcome="error").inc()
        return False
    metrics.TICKS.labels(job=name, outcome="won" if won else "taken").inc()
    return won and send(queue, actor)


def build(every: dict[str, float]) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC")
    now = utcnow()
    for name, _, queue, actor in PERIODIC:
        # coalesce + max_instances=1: a stalled clock never fires a burst of catch-up sweeps.
        # Every scheduler fires on the same epoch-aligned grid, so each firing maps to its own slot.
        scheduler.add_job(
            fire,
            "interval",
            args=(name, every[name], queue, actor),
            seconds=every[name],
            start_date=next_grid_point(now, every[name]),
            id=name,
            coalesce=True,
            max_instances=1,
        )
    return scheduler


def main(argv: list[str] | None = None) -> None:
    """Run the scheduler until interrupted; every job also fires once at start (if its tick is free)."""
    parser = argparse.ArgumentParser(prog="python -m workers.scheduler")
    parser.add_argument("--every", action="append", default=[], metavar="NAME=SECONDS")
    args = parser.parse_args(argv)
    install()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # APScheduler says "Running job" / "executed successfully" at INFO on every tick: only trouble shows.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    every = intervals(args.every)
    metrics.serve("scheduler")
    for name, _, queue, actor in PERIODIC:
        fire(name, every[name], queue, actor)
    log.info("scheduling %s as %s", ", ".join(f"{n} every {s:g}s" for n, s in every.items()), HOLDER)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        build(every).start()


if __name__ == "__main__":
    main()
