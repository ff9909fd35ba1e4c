"""Demo seed speed on a fresh database, printed as one JSON object.

Keys: seed_s (wall time of seed_demo), days, incidents, events, incidents_per_s, plan_s (the pure
planner alone over the same window). --quick seeds 7 days instead of 90.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from app import seed_catalogue as cat  # noqa: E402
from app.schedules import logic  # noqa: E402
from app.seed import seed_demo  # noqa: E402
from app.seed_plan import Person, TeamRoster, plan_history  # noqa: E402
from tests import infra  # noqa: E402

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def bench_plan(days: int) -> float:
    """Seconds for the pure planner over `days`, with a stand-in roster of five per team."""
    people = {i: Person(i, "UTC", (("push", i, 0), ("slack", 100 + i, 0))) for i in range(1, 16)}
    rosters = {}
    for n, team in enumerate(cat.TEAMS):
        members = tuple(range(1 + 5 * n, 6 + 5 * n))
        layer = logic.Layer(id=n, priority=0, kind="weekly", anchor=datetime(2026, 1, 5, 9), members=members)
        rosters[team.name] = TeamRoster(
            logic.Schedule(zone=team.zone, layers=(layer,)), members[0], members, (10, 15, 20)
        )
    started = time.perf_counter()
    plan_history(
        rng=random.Random(7), services=cat.SERVICES, rosters=rosters, people=people,
        team_zones={t.name: t.zone for t in cat.TEAMS}, start=NOW - timedelta(days=days), end=NOW,
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="7 days of history instead of 90")
    days = 7 if parser.parse_args().quick else 90
    url = infra.create_database()
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        started = time.perf_counter()
        summary = seed_demo(days=days, now=NOW, sessions=sessionmaker(bind=engine, expire_on_commit=False))
        elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
        infra.drop_database(url)
    print(
        json.dumps(
            {
                "seed_s": round(elapsed, 2),
                "days": days,
                "incidents": summary["incidents"],
                "events": summary["events"],
                "incidents_per_s": round(summary["incidents"] / elapsed, 1),
                "plan_s": round(bench_plan(days), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
