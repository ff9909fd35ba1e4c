"""Monitor scheduling under load: 1,000 HTTP monitors every 30 s against a loopback server.

Runs the real scheduler (one-second tick) and one `dramatiq` worker process on the monitors queue,
in a database and Redis namespace of its own. Prints one JSON object: on_time_ratio (share of due
slots in the measured window whose check started within 2 s of its due time; a slot never run counts
as late), checks_per_s (checks recorded per second in the window), cpu_share (CPU seconds of the worker
and scheduler processes over the window, as a share of all cores), lateness_p50_s, lateness_p99_s,
missed_slots and duplicate_checks (both 0 when every slot ran exactly once).
--quick: a shorter window.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import redis  # noqa: E402
from sqlalchemy import create_engine, select, update  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from app.db import utcnow  # noqa: E402
from app.directory import service as directory  # noqa: E402
from app.monitors import service as monitors  # noqa: E402
from app.monitors.models import Monitor, MonitorCheck  # noqa: E402
from tests import infra  # noqa: E402

SEED = 20260301
INTERVAL = 30
ON_TIME_S = 2.0
VENV_BIN = Path(sys.executable).parent


class Healthy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real site answers

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        body = b"status: healthy"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (timed out) is counted by the checks themselves, not printed here


def _seed(factory: sessionmaker[Session], n: int, url: str, start: datetime) -> None:
    """n monitors whose first due times spread over one interval (fixed seed), as if created over time."""
    rng = random.Random(SEED)
    with factory.begin() as s:
        service = directory.create_service(session=s, name="bench")
        for i in range(n):
            monitor, _ = monitors.create_monitor(
                session=s,
                name=f"site {i}",
                kind="http",
                service_id=service.id,
                target=f"{url}/health/{i}",
                config={"required_keywords": ["healthy"], "timeout_s": 5},
                interval_seconds=INTERVAL,
            )
            monitor.next_check_at = start + timedelta(seconds=rng.uniform(0, INTERVAL))


def _cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            for p in [proc, *proc.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total


def _slots(anchor: datetime, since: datetime, until: datetime) -> int:
    """How many points of the grid anchor + k * INTERVAL fall in [since, until)."""
    first = math.ceil((since - anchor).total_seconds() / INTERVAL)
    last = math.ceil((until - anchor).total_seconds() / INTERVAL) - 1
    return max(last - first + 1, 0)


def _measure(factory: sessionmaker[Session], since: datetime, until: datetime) -> dict[str, float]:
    with factory() as s:
        checks = s.execute(
            select(MonitorCheck.monitor_id, MonitorCheck.due_at, MonitorCheck.at).where(
                MonitorCheck.due_at >= since, MonitorCheck.due_at < until
            )
        ).all()
        anchors = s.scalars(select(Monitor.next_check_at)).all()
    lateness = sorted((at - due).total_seconds() for _, due, at in checks)
    window = (until - since).total_seconds()
    # The slots each monitor's grid puts in the window; a slot never run, or run twice, shows here.
    expected = sum(_slots(a, since, until) for a in anchors if a is not None)
    slots = {(mid, due) for mid, due, _ in checks}
    on_time = {(mid, due) for mid, due, at in checks if (at - due).total_seconds() <= ON_TIME_S}
    return {
        "on_time_ratio": round(len(on_time) / max(expected, 1), 4),
        "checks_per_s": round(len(checks) / window, 2),
        "lateness_p50_s": round(statistics.median(lateness), 3) if lateness else -1,
        "lateness_p99_s": round(lateness[int(len(lateness) * 0.99) - 1], 3) if lateness else -1,
        "missed_slots": expected - len(slots),
        "duplicate_checks": len(checks) - len(slots),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a 60 s window instead of 180 s")
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--keep-db", action="store_true", help="keep the database (its URL goes to stderr)")
    args = parser.parse_args()
    window_s = 60 if args.quick else 180
    warmup_s = 10

    server = QuietServer(("127.0.0.1", 0), Healthy)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    db_url = infra.create_database()
    namespace = f"slar-bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": infra.redis_url(), "REDIS_NAMESPACE": namespace}
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    log_dir = ROOT / "test-output" / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        _seed(factory, args.monitors, url, utcnow() + timedelta(seconds=5))
        worker = [str(VENV_BIN / "dramatiq"), "workers.actors", "-p", "1", "-t", "8", "-Q", "monitors"]
        scheduler = [sys.executable, "-m", "workers.scheduler"]
        for name, cmd in (("worker", worker), ("scheduler", scheduler)):
            out = open(log_dir / f"monitors-{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
            procs.append(subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT))
        watched = [psutil.Process(p.pid) for p in procs]
        time.sleep(5 + warmup_s)
        since, cpu0 = utcnow(), _cpu(watched)
        time.sleep(window_s)
        until, cpu1 = utcnow(), _cpu(watched)
        time.sleep(ON_TIME_S + 3)  # let the last slots of the window finish before counting them
        with factory.begin() as s:
            s.execute(update(Monitor).values(paused=True))
        result = _measure(factory, since, until)
        result["cpu_share"] = round((cpu1 - cpu0) / (window_s * (os.cpu_count() or 1)), 4)
        result |= {"monitors": args.monitors, "interval_s": INTERVAL, "window_s": window_s}
        print(json.dumps(result))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        engine.dispose()
        if args.keep_db:
            print(f"database kept: {db_url}", file=sys.stderr)
        else:
            infra.drop_database(db_url)
        client = redis.Redis.from_url(env["REDIS_URL"])
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
        server.shutdown()


if __name__ == "__main__":
    main()
