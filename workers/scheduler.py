"""The scheduler process: enqueues every PERIODIC job on its interval (`python -m workers.scheduler`).

It only enqueues; the workers do the work. Several schedulers would only enqueue more sweeps,
which are idempotent, so a restart or a second copy is harmless.
"""

from __future__ import annotations

import argparse
import contextlib
import logging

from apscheduler.schedulers.blocking import BlockingScheduler

from workers.dispatch import send
from workers.periodic import PERIODIC

log = logging.getLogger("workers.scheduler")


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


def build(every: dict[str, float]) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC")
    for name, _, queue, actor in PERIODIC:
        # coalesce + max_instances=1: a stalled clock never fires a burst of catch-up sweeps.
        scheduler.add_job(
            send,
            "interval",
            args=(queue, actor),
            seconds=every[name],
            id=name,
            coalesce=True,
            max_instances=1,
        )
    return scheduler


def main(argv: list[str] | None = None) -> None:
    """Run the scheduler until interrupted; every job also fires once at start."""
    parser = argparse.ArgumentParser(prog="python -m workers.scheduler")
    parser.add_argument("--every", action="append", default=[], metavar="NAME=SECONDS")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    every = intervals(args.every)
    for _, _, queue, actor in PERIODIC:
        send(queue, actor)
    log.info("scheduling %s", ", ".join(f"{n} every {s:g}s" for n, s in every.items()))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        build(every).start()


if __name__ == "__main__":
    main()
