"""Ingest throughput and latency: uvicorn with 2 workers, load from a separate process, raw limit.

Prints one JSON object: alerts_per_s, requests_per_s, p50_ms, p99_ms (saturated), p99_ms_at_500
(open loop at 500 alerts/s), raw_insert_alerts_per_s (psycopg INSERT … ON CONFLICT of the same
alerts into the same tables), ratio_to_raw. Creates and drops its own database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BATCH = 20  # alerts per Alertmanager notification
CONCURRENCY = 8  # requests in flight while saturating (4 per server worker)
GROUPS = 200  # distinct groupKeys the alerts fall into
SEED = 20260301


def am_payload(run: str, request_index: int, batch: int = BATCH) -> bytes:
    """One Alertmanager notification of `batch` new alerts in one of GROUPS groups."""
    group = request_index % GROUPS
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": f"Bench{group}",
                "instance": f"host-{request_index}-{i}",
                "severity": "error",
            },
            "annotations": {"summary": f"bench alert {request_index}/{i}"},
            "startsAt": "2026-03-01T12:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.bench/graph",
            "fingerprint": f"{run}-{request_index}-{i}",
        }
        for i in range(batch)
    ]
    body = {"version": "4", "groupKey": f"{run}/group-{group}", "status": "firing", "receiver": "bench"}
    return json.dumps({**body, "groupLabels": {"alertname": f"Bench{group}"}, "alerts": alerts}).encode()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --- load process -------------------------------------------------------------------------------


async def _post(client: Any, url: str, body: bytes) -> int:
    """1 when the request was not accepted (an error status or a transport failure)."""
    import httpx

    try:
        return int((await client.post(url, content=body)).status_code != 202)
    except httpx.HTTPError as err:
        print(f"request failed: {type(err).__name__}", file=sys.stderr)
        return 1


async def _saturate(url: str, seconds: float, concurrency: int, run: str, start: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0
    counter = iter(range(start, 10**9))
    deadline = time.perf_counter() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            body = am_payload(run, next(counter))
            t0 = time.perf_counter()
            errors += await _post(client, url, body)
            latencies.append(time.perf_counter() - t0)

    limits = httpx.Limits(max_connections=concurrency)
    began = time.perf_counter()
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return {
        "requests": len(latencies),
        "errors": errors,
        "elapsed": time.perf_counter() - began,
        "lat": latencies,
    }


async def _open_loop(url: str, seconds: float, rate: float, run: str, start: int) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors = 0

    async def one(client: httpx.AsyncClient, index: int) -> None:
        nonlocal errors
        t0 = time.perf_counter()
        errors += await _post(client, url, am_payload(run, index))
        latencies.append(time.perf_counter() - t0)

    began = time.perf_counter()
    tasks = []
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as client:
        n = int(seconds * rate)
        for i in range(n):
            await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(client, start + i)))
        await asyncio.gather(*tasks)
    return {
        "requests": len(latencies),
        "errors": errors,
        "elapsed": time.perf_counter() - began,
        "lat": latencies,
    }


def load_main(args: argparse.Namespace) -> None:
    if args.rate:
        out = asyncio.run(_open_loop(args.load, args.seconds, args.rate, args.run, args.start))
    else:
        out = asyncio.run(_saturate(args.load, args.seconds, args.concurrency, args.run, args.start))
    print(json.dumps(out))


def run_load(
    url: str, run: str, start: int, seconds: float, *, concurrency: int = 0, rate: float = 0
) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--load",
        url,
        "--run",
        run,
        "--start",
        str(start),
        "--seconds",
        str(seconds),
    ]
    cmd += ["--rate", str(rate)] if rate else ["--concurrency", str(concurrency)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"load process failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


# --- set-up: database, data, server ------------------------------------------------------------


@contextmanager
def own_database():  # type: ignore[no-untyped-def]
    """A fresh database migrated to head, dropped afterwards."""
    import psycopg
    from alembic import command
    from alembic.config import Config

    admin = os.environ.get("SLAR_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"slar_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    try:
        cfg = Config(str(ROOT / "alembic.ini"))
        cfg.attributes["url"] = url.replace("postgresql://", "postgresql+psycopg://", 1)
        command.upgrade(cfg, "head")
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --template: every alert goes through a grouping-key template that groups as the groupKey does.
GROUPING_TEMPLATE = {"grouping_key": "{{ alert.labels.alertname }}"}


def seed(url: str, template: bool = False) -> tuple[int, int, str]:
    """A service with a one-level policy and an unthrottled Alertmanager integration."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from app.directory import service as directory
    from app.escalation.service import LevelSpec, TargetSpec, create_policy

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with Session(engine) as s:
        user = directory.create_user(session=s, email="bench@example.test", name="Bench")
        levels = [LevelSpec(delay_minutes=5, targets=[TargetSpec(kind="user", user_id=user.id)])]
        policy = create_policy(session=s, name="Bench policy", levels=levels, repeat_count=0)
        svc = directory.create_service(session=s, name="Bench", escalation_policy_id=policy.id)
        integ, token = directory.create_integration(
            session=s, service_id=svc.id, kind="alertmanager", name="am"
        )
        integ.rate_per_s, integ.rate_burst = 1_000_000, 1_000_000
        if template:
            integ.templates = dict(GROUPING_TEMPLATE)
        s.commit()
        ids = (svc.id, integ.id)
    engine.dispose()
    return ids[0], ids[1], token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def uvicorn_server(env: dict[str, str]):  # type: ignore[no-untyped-def]
    import httpx

    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "ingest.app:app", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", "2", "--no-access-log", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        SERVER["pid"] = proc.pid
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


SERVER: dict[str, int] = {}


def server_cpu_s() -> float:
    """CPU seconds used so far by the uvicorn process and its workers."""
    import psutil

    try:
        root = psutil.Process(SERVER["pid"])
        procs = [root, *root.children(recursive=True)]
        return sum(sum(p.cpu_times()[:2]) for p in procs if p.is_running())
    except psutil.Error:
        return float("nan")


# --- raw limit ---------------------------------------------------------------------------------

RAW_INCIDENT = """
INSERT INTO incidents (service_id, title, severity, status, dedup_key, alert_count, created_at, updated_at)
VALUES (%s, %s, 'error', 'triggered', %s, %s, now(), now())
ON CONFLICT (service_id, dedup_key) WHERE status <> 'resolved'
DO UPDATE SET alert_count = incidents.alert_count + EXCLUDED.alert_count, updated_at = now()
RETURNING id
"""
RAW_ALERT = """
INSERT INTO alerts (integration_id, service_id, incident_id, fingerprint, dedup_key, status,
                    severity, summary, source, labels, annotations, links, raw, starts_at, received_at,
                    last_received_at)
VALUES (%s, %s, %s, %s, %s, 'firing', 'error', %s, %s, %s, %s, %s, %s, %s, now(), now())
ON CONFLICT (service_id, integration_id, fingerprint) WHERE status = 'firing' DO NOTHING
"""


def _raw_worker(
    url: str,
    service_id: int,
    integration_id: int,
    run: str,
    indexes: range,
    deadline: float,
    counts: list[int],
) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    with psycopg.connect(url) as conn:
        for index in indexes:
            if time.perf_counter() > deadline:
                break
            body = json.loads(am_payload(run, index))
            key = body["groupKey"]
            with conn.transaction():
                incident_id = conn.execute(
                    RAW_INCIDENT, (service_id, key, key, len(body["alerts"]))
                ).fetchone()[0]
                rows = [
                    (
                        integration_id,
                        service_id,
                        incident_id,
                        a["fingerprint"],
                        key,
                        a["annotations"]["summary"],
                        a["labels"]["instance"],
                        Jsonb(a["labels"]),
                        Jsonb(a["annotations"]),
                        Jsonb([{"href": a["generatorURL"], "text": "source"}]),
                        Jsonb(a),
                        a["startsAt"],
                    )
                    for a in body["alerts"]
                ]
                with conn.cursor() as cur:
                    cur.executemany(RAW_ALERT, rows)
            counts.append(len(rows))


def raw_limit(url: str, service_id: int, integration_id: int, seconds: float) -> float:
    """Alerts/s of plain psycopg upserts on 2 connections (one per server worker)."""
    run = f"raw{uuid.uuid4().hex[:6]}"
    counts: list[int] = []
    deadline = time.perf_counter() + seconds
    threads = [
        threading.Thread(
            target=_raw_worker,
            args=(url, service_id, integration_id, run, range(w, 10**9, 2), deadline, counts),
        )
        for w in range(2)
    ]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - began)


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="about one minute")
    parser.add_argument(
        "--template", action="store_true", help="render a grouping-key template for every alert"
    )
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--run", default="", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=10, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        load_main(args)
        return
    random.seed(SEED)
    saturate_s, steady_s, raw_s = (20, 15, 6) if args.quick else (60, 40, 20)
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    namespace = f"slar-bench-{uuid.uuid4().hex[:6]}"
    with own_database() as url:
        service_id, integration_id, token = seed(url, template=args.template)
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "REDIS_NAMESPACE": namespace}
        # The raw limit is measured before and after the server runs and the better figure kept:
        # on a shared machine the load moves, and the limit is what the database can take.
        raw_before = raw_limit(url, service_id, integration_id, raw_s)
        try:
            with uvicorn_server(env) as base:
                target = f"{base}/webhooks/alertmanager/{token}"
                run_load(target, "warm", 0, 3, concurrency=4)
                cpu_before = server_cpu_s()
                sat = run_load(target, "sat", 0, saturate_s, concurrency=CONCURRENCY)
                server_cpu = server_cpu_s() - cpu_before
                steady = run_load(target, "steady", 0, steady_s, rate=500 / BATCH)
            raw_after = raw_limit(url, service_id, integration_id, raw_s)
        finally:
            _clean_redis(redis_url, namespace)
    alerts_per_s = (sat["requests"] - sat["errors"]) * BATCH / sat["elapsed"]
    raw = max(raw_before, raw_after)
    result = {
        "alerts_per_s": round(alerts_per_s, 1),
        "requests_per_s": round(sat["requests"] / sat["elapsed"], 1),
        "p50_ms": round(_pct(sat["lat"], 0.50) * 1000, 2),
        "p99_ms": round(_pct(sat["lat"], 0.99) * 1000, 2),
        "p99_ms_at_500": round(_pct(steady["lat"], 0.99) * 1000, 2),
        "p50_ms_at_500": round(statistics.median(steady["lat"]) * 1000, 2) if steady["lat"] else None,
        "raw_insert_alerts_per_s": round(raw, 1),
        "raw_before_after": [round(raw_before, 1), round(raw_after, 1)],
        "ratio_to_raw": round(alerts_per_s / raw, 3) if raw else None,
        "errors": sat["errors"] + steady["errors"],
        # What limits the figures: server CPU per request, and how busy the shared machine was.
        "server_cpu_ms_per_request": round(server_cpu * 1000 / max(sat["requests"], 1), 2),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "alerts_per_request": BATCH,
        "concurrency": CONCURRENCY,
        "server_workers": 2,
        "quick": args.quick,
        "grouping_template": args.template,
    }
    print(json.dumps(result))


def _clean_redis(url: str, namespace: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{namespace}*"):
        client.delete(key)


if __name__ == "__main__":
    main()
