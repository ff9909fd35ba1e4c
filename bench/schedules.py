"""Schedule resolver and planner speed, printed as one JSON object.

Keys: oncall_1000_ms (who_is_on_call for 1,000 schedules at one instant, cold caches), shifts_90d_ms
(final_shifts of one schedule over 90 days, median), optimizer_12x12_s (12 members x 12 weeks daily).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.schedules import logic, optimizer  # noqa: E402

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]
AT = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # right after Berlin's spring-forward


def make_schedule(rng: random.Random, sid: int) -> logic.Schedule:
    """3 layers of 8 members (weekly, business-hours daily, 12 h) and 50 overrides over +-90 days."""
    members = tuple(rng.sample(range(1, 200), 8))
    anchor = datetime(2026, 1, 5, rng.choice([0, 9, 17]), rng.choice([0, 30]))
    business = (
        logic.Restriction(
            frozenset(range(5)), datetime.min.time().replace(hour=9), datetime.min.time().replace(hour=17)
        ),
    )
    layers = (
        logic.Layer(sid * 10 + 1, 0, "weekly", anchor, members),
        logic.Layer(sid * 10 + 2, 1, "daily", anchor, members[::-1], restrictions=business),
        logic.Layer(
            sid * 10 + 3,
            2,
            "custom",
            anchor,
            members[2:],
            hours=12,
            restrictions=(logic.Restriction(frozenset({5, 6}), datetime.min.time(), datetime.min.time()),),
        ),
    )
    overrides, cursor = [], AT - timedelta(days=90)
    for i in range(50):
        cursor += timedelta(hours=rng.randint(4, 80))
        end = cursor + timedelta(hours=rng.randint(1, 12))
        overrides.append(logic.Override(sid * 100 + i, rng.choice(members), cursor, end))
        cursor = end
    return logic.Schedule(zone=rng.choice(ZONES), layers=layers, overrides=tuple(overrides), id=sid)


def bench_oncall(n: int, repeats: int) -> tuple[float, float]:
    """Median ms of one pass over n schedules: with an empty wall-clock cache, and with a warm one."""
    rng = random.Random(42)
    schedules = [make_schedule(rng, i) for i in range(n)]
    cold, warm = [], []
    for _ in range(repeats):
        logic.local_to_utc.cache_clear()
        t0 = time.perf_counter()
        for s in schedules:
            logic.who_is_on_call(s, AT)
        cold.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        for s in schedules:
            logic.who_is_on_call(s, AT)
        warm.append((time.perf_counter() - t0) * 1000)
    return statistics.median(cold), statistics.median(warm)


def bench_shifts(repeats: int) -> tuple[float, int]:
    sched = make_schedule(random.Random(7), 1)
    times, count = [], 0
    for _ in range(repeats):
        logic.local_to_utc.cache_clear()
        t0 = time.perf_counter()
        count = len(logic.final_shifts(sched, AT - timedelta(days=45), AT + timedelta(days=45)))
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), count


def bench_optimizer(members: int, weeks: int) -> tuple[float, float, float, bool]:
    rng = random.Random(3)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    pages = [since + timedelta(minutes=rng.randrange(8 * 7 * 24 * 60)) for _ in range(600)]
    zone = "Europe/Berlin"
    problem = optimizer.Problem(
        zone=zone,
        slots=optimizer.make_slots(zone, datetime(2026, 3, 2, 9), count=7 * weeks),
        members=tuple(optimizer.Member(i + 1, ZONES[i % len(ZONES)]) for i in range(members)),
        rates=optimizer.page_rates(pages, zone=zone, since=since, until=since + timedelta(weeks=8)),
        rules=optimizer.Rules(max_consecutive=3, min_rest_hours=48),
    )
    naive = [(problem.members[(s.index // 7) % members].user_id, s.start, s.end) for s in problem.slots]
    t0 = time.perf_counter()
    proposal = optimizer.solve(problem, current=naive, seconds=9.0)
    took = time.perf_counter() - t0
    return took, proposal.gini_before["load"], proposal.gini_after["load"], proposal.optimal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer schedules, repeats and a smaller plan")
    quick = parser.parse_args().quick
    n = 200 if quick else 1000
    cold, warm = bench_oncall(n, 3 if quick else 7)
    shifts_ms, shift_count = bench_shifts(3 if quick else 15)
    # Quick: 4 members over 4 weeks, so the shifts still divide evenly.
    opt_s, g_before, g_after, optimal = bench_optimizer(4 if quick else 12, 4 if quick else 12)
    print(
        json.dumps(
            {
                "oncall_1000_ms": round(cold * 1000 / n, 2),
                "oncall_1000_warm_ms": round(warm * 1000 / n, 2),
                "shifts_90d_ms": round(shifts_ms, 2),
                "shifts_90d_count": shift_count,
                "optimizer_12x12_s": round(opt_s, 2),
                "optimizer_gini_load_before": g_before,
                "optimizer_gini_load_after": g_after,
                "optimizer_optimal": optimal,
                "quick": quick,
            }
        )
    )


if __name__ == "__main__":
    main()
