"""Public API and front door throughput: the incident list over many incidents, /v2/enqueue vs native.

Prints one JSON object: list_incidents_p99_ms (and p50) for GET /api/v1/alert_groups, a page of 100
filtered by team and state, over `incidents` incidents; enqueue_events_per_s through /v2/enqueue
and native_webhook_alerts_per_s through /webhooks/generic/{token} (the same one-event bodies, the
same concurrency, in the same run), and their ratio. Creates and drops its own database; uvicorn
with 2 workers, as bench/ingest.py runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import _clean_redis, _pct, own_database, uvicorn_server  # noqa: E402

SEED = 20260316
TEAMS = 20
CONCURRENCY = 8
# The two doors take turns this many times each, so a change in the shared machine's load hits both alike.
ROUNDS = 6


def seed(url: str, incidents: int) -> dict[str, Any]:
    """Teams with a service each, an admin key, PagerDuty and generic integrations, and `incidents`
    incidents spread over the services (6 in 7 resolved), written in bulk with SQL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from app.auth.apikeys import create_key
    from app.directory import service as directory

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine) as s:
        admin = directory.create_user(session=s, email="bench@example.test", name="Bench", role="admin")
        services = []
        for i in range(TEAMS):
            team = directory.create_team(session=s, name=f"Team {i}")
            services.append(directory.create_service(session=s, name=f"Service {i}", team_id=team.id))
        _, key = create_key(session=s, by=admin.id, name="bench", scopes=["incidents:write"])
        tokens = {}
        for kind in ("pagerduty", "generic"):
            integ, token = directory.create_integration(
                session=s, service_id=services[0].id, kind=kind, name=kind, flap_window_seconds=0
            )
            integ.rate_per_s, integ.rate_burst = 1_000_000, 1_000_000
            tokens[kind] = token
        s.commit()
        first, team_ids = services[0].id, [sv.team_id for sv in services]
        started = time.perf_counter()
        s.execute(
            text(
                "INSERT INTO incidents (service_id, title, severity, status, dedup_key, alert_count,"
                " created_at, updated_at, resolved_at) "
                "SELECT :first + (g % :teams), 'bench incident ' || g, 'error',"
                " CASE WHEN g % 7 = 0 THEN 'triggered' ELSE 'resolved' END, 'bench-' || g, 1,"
                " now() - g * interval '1 second', now(), CASE WHEN g % 7 = 0 THEN NULL ELSE now() END "
                "FROM generate_series(1, :n) AS g"
            ),
            {"first": first, "teams": TEAMS, "n": incidents},
        )
        s.commit()
        seeded_s = time.perf_counter() - started
    # Steady state: autovacuum would have set the visibility map and statistics by now.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE incidents"))
    engine.dispose()
    from api import ids

    return {
        "key": key,
        "tokens": tokens,
        "teams": [ids.encode("team", t) for t in team_ids],
        "seed_s": round(seeded_s, 1),
    }


async def _list_latencies(base: str, key: str, teams: list[str], requests: int) -> list[float]:
    import httpx

    rng = random.Random(SEED)
    out: list[float] = []
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(timeout=30, headers=headers) as client:
        for i in range(requests):
            state = "resolved" if i % 2 else "new"
            params = {"team_id": rng.choice(teams), "state": state, "perpage": 100, "page": 1 + i % 3}
            t0 = time.perf_counter()
            r = await client.get(f"{base}/api/v1/alert_groups", params=params)
            out.append(time.perf_counter() - t0)
            if r.status_code != 200:
                raise SystemExit(f"list failed: {r.status_code} {r.text[:200]}")
    return out


def _pd_body(token: str, run: str, n: int) -> bytes:
    payload = {"summary": f"bench {n}", "source": "bench", "severity": "error"}
    event = {"routing_key": token, "event_action": "trigger", "dedup_key": f"{run}-{n}", "payload": payload}
    return json.dumps(event).encode()


async def _saturate(url: str, body_for: Any, seconds: float) -> tuple[int, int, float]:
    """POST bodies from `CONCURRENCY` tasks for `seconds`: (accepted, refused, elapsed)."""
    import httpx

    counter = iter(range(10**9))
    ok = bad = 0
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal ok, bad
        while time.perf_counter() < deadline:
            r = await client.post(url, content=body_for(next(counter)))
            if r.status_code == 202:
                ok += 1
            else:
                bad += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(CONCURRENCY)))
    return ok, bad, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 000 incidents, short runs")
    parser.add_argument("--incidents", type=int, default=None, help="how many incidents to seed")
    args = parser.parse_args()
    count = args.incidents or (100_000 if args.quick else 1_000_000)
    list_requests, push_s = (200, 10.0) if args.quick else (1000, 30.0)
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    namespace = f"slar-bench-{uuid.uuid4().hex[:6]}"
    with own_database() as url:
        data = seed(url, count)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "REDIS_NAMESPACE": namespace,
            "SLAR_API_RATE_PER_MINUTE": "100000000",
        }
        try:
            with uvicorn_server(env) as base:
                asyncio.run(_list_latencies(base, data["key"], data["teams"], 20))  # warm
                lat = asyncio.run(_list_latencies(base, data["key"], data["teams"], list_requests))
                pd_token, native_token = data["tokens"]["pagerduty"], data["tokens"]["generic"]
                enq = nat = (0, 0, 0.0)
                for half in range(ROUNDS):
                    run = f"r{half}"
                    e = asyncio.run(
                        _saturate(
                            f"{base}/v2/enqueue", lambda n, r=run: _pd_body(pd_token, r, n), push_s / ROUNDS
                        )
                    )
                    n_ = asyncio.run(
                        _saturate(
                            f"{base}/webhooks/generic/{native_token}",
                            lambda n, r=run: _pd_body("-", "n" + r, n),
                            push_s / ROUNDS,
                        )
                    )
                    enq = (enq[0] + e[0], enq[1] + e[1], enq[2] + e[2])
                    nat = (nat[0] + n_[0], nat[1] + n_[1], nat[2] + n_[2])
        finally:
            _clean_redis(redis_url, namespace)
    enqueue_per_s = enq[0] / enq[2]
    native_per_s = nat[0] / nat[2]
    print(
        json.dumps(
            {
                "list_incidents_p99_ms": round(_pct(lat, 0.99) * 1000, 2),
                "list_incidents_p50_ms": round(_pct(lat, 0.50) * 1000, 2),
                "incidents": count,
                "page_size": 100,
                "enqueue_events_per_s": round(enqueue_per_s, 1),
                "native_webhook_alerts_per_s": round(native_per_s, 1),
                "enqueue_to_native": round(enqueue_per_s / native_per_s, 3) if native_per_s else None,
                "errors": enq[1] + nat[1],
                "seed_s": data["seed_s"],
                "concurrency": CONCURRENCY,
                "server_workers": 2,
                "load_avg_1m": round(os.getloadavg()[0], 2),
                "quick": args.quick,
            }
        )
    )


if __name__ == "__main__":
    main()
