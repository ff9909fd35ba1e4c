"""Page latency: webhook request arriving at ingest -> Slack API call for the first escalation level.

Runs the real ingest app (uvicorn), real dramatiq workers and the scheduler on a fresh database,
with the loopback Slack server recording when each chat.postMessage arrives. Each webhook opens a
new incident whose policy pages one user on Slack. Then a burst of incidents written straight to
Postgres and kicked at once measures what the workers alone can page: `pages_per_s` and the
workers' CPU per page (`worker_cpu_ms_per_page`). Prints one JSON object.

    python bench/page_latency.py [--quick] [--processes N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.directory import service as directory  # noqa: E402
from app.incidents import service as incidents  # noqa: E402
from app.notifications.rules_service import StepSpec, set_rules  # noqa: E402
from tests import factories as f  # noqa: E402
from tests.infra import create_database, drop_database, redis_url, wait_http  # noqa: E402
from tests.loopback.slack import SlackServer  # noqa: E402
from tests.loopback.workers import sessions, wait_for, worker_stack  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def seed(database_url: str) -> tuple[str, int]:
    """One on-call user with a personal rule list (Slack now, Slack again in an hour), one-level policy."""
    Session = sessions(database_url)
    with Session.begin() as s:
        user = f.user(s, name="Bench Oncall")
        slack = directory.add_contact_method(session=s, user_id=user.id, kind="slack", address=f"U{user.id}")
        steps = [StepSpec("notify", slack.id), StepSpec("wait", minutes=60), StepSpec("notify", slack.id)]
        set_rules(session=s, user_id=user.id, urgency="default", steps=steps)
        svc = f.service(s, policy_id=f.policy_for(s, [user]))
        _, token = f.integration(s, svc.id, kind="generic")
        service_id = svc.id
    Session.kw["bind"].dispose()
    return token, service_id


def cpu_s(pid: int) -> float:
    """CPU seconds of a process and all its children (the dramatiq parent and its worker processes)."""
    root = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [root, *root.children(recursive=True)] if p.is_running())


def burst(stack, database_url: str, service_id: int, slack: SlackServer, count: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """`count` incidents committed first, then kicked at once: (pages per second, worker CPU ms per page)."""
    Session = sessions(database_url)
    with Session.begin() as s:
        kicks = []
        for i in range(count):
            alert = f.alert(summary=f"burst-{i} disk full")
            made = incidents.trigger_or_group(
                session=s, service_id=service_id, dedup_key=f"burst-{i}", alert=alert
            )
            kicks.append((made.incident.id, made.incident.escalation_token))
    Session.kw["bind"].dispose()
    before = len(slack.posts())
    cpu0, t0 = cpu_s(stack.procs["workers"].pid), time.time()
    for incident_id, token in kicks:
        stack.kick(incident_id, token)
    wait_for(lambda: len(slack.posts()) >= before + count, 300, f"{count} burst pages", every=0.2)
    last = max(c.at for c in slack.posts()[before:])
    cpu = cpu_s(stack.procs["workers"].pid) - cpu0
    return count / max(last - t0, 1e-6), cpu * 1000 / count


def run_rate(
    client: httpx.Client, url: str, slack: SlackServer, count: int, rate: float, tag: str
) -> tuple[list[float], list[float]]:
    """Send `count` webhooks at `rate`/s (open loop); (request start -> Slack call, -> 202) latencies."""
    started: dict[str, float] = {}
    accepted: dict[str, float] = {}

    def post(i: int, at: float) -> None:
        time.sleep(max(0.0, at - time.time()))
        summary = f"{tag}-{i} disk full"
        started[summary] = time.time()
        body = {
            "event_action": "trigger",
            "dedup_key": f"{tag}-{i}",
            "summary": summary,
            "severity": "critical",
        }
        client.post(url, json=body).raise_for_status()
        accepted[summary] = time.time() - started[summary]

    t0 = time.time() + 0.2
    with ThreadPoolExecutor(max_workers=min(32, max(2, int(rate * 2)))) as pool:
        for i in range(count):
            pool.submit(post, i, t0 + i / rate)
    wanted = set(started)

    def arrived() -> dict[str, float]:
        # A page's text is "#<number> [<SEVERITY>] <title>"; the title is the webhook's summary.
        # One pass over the posts: a slower scan would steal the loopback server's time and skew it.
        seen: dict[str, float] = {}
        for call in slack.posts():
            summary = str(call.body.get("text", "")).partition("] ")[2]
            if summary in wanted:
                seen.setdefault(summary, call.at)
        return seen

    def complete() -> dict[str, float] | None:
        seen = arrived()
        return seen if len(seen) >= len(wanted) else None

    seen = wait_for(complete, 120, f"{count} pages at {rate}/s", every=0.5)
    return [seen[k] - started[k] for k in wanted], list(accepted.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer incidents (a smoke run)")
    parser.add_argument("--processes", type=int, default=1, help="dramatiq worker processes (slar up runs 1)")
    args = parser.parse_args()
    random.seed(4)
    n_slow, n_fast, n_burst = (20, 150, 300) if args.quick else (500, 500, 2000)
    database_url = create_database()
    namespace = f"slar-bench-{uuid.uuid4().hex[:8]}"
    out = ROOT / "test-output" / "bench"
    port = 18080 + random.randrange(1000)
    try:
        token, service_id = seed(database_url)
        with SlackServer() as slack:
            env = {
                "SLACK_API_URL": slack.api_url,
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLAR_ESCALATION_MINUTE_S": "60",
            }
            with worker_stack(
                database_url=database_url,
                redis_url=redis_url(),
                namespace=namespace,
                log_dir=out / namespace,
                extra_env=env,
                threads=8,
                processes=args.processes,
                sweep_s=15,
            ) as stack:
                ingest_env = {**stack.env, "INGEST_PORT": str(port)}
                with open(out / namespace / "ingest.log", "ab") as log:
                    ingest = subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "uvicorn",
                            "ingest.app:app",
                            "--port",
                            str(port),
                            "--log-level",
                            "warning",
                        ],
                        env=ingest_env,
                        cwd=ROOT,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                try:
                    wait_http(f"http://127.0.0.1:{port}/health")
                    time.sleep(3.0)  # let the workers finish starting
                    url = f"http://127.0.0.1:{port}/webhooks/generic/{token}"
                    with httpx.Client(timeout=30) as client:
                        slow, _ = run_rate(client, url, slack, n_slow, 1.0, "slow")
                        fast, fast_ingest = run_rate(client, url, slack, n_fast, 50.0, "fast")
                    pages_per_s, cpu_ms_per_page = burst(stack, database_url, service_id, slack, n_burst)
                finally:
                    ingest.terminate()
                    ingest.wait(timeout=10)
    finally:
        drop_database(database_url)
    result = {
        "p50_s": round(statistics.median(slow), 4),
        "p99_s": round(percentile(slow, 0.99), 4),
        "p50_s_at_50ps": round(statistics.median(fast), 4),
        "p99_s_at_50ps": round(percentile(fast, 0.99), 4),
        "max_s_at_50ps": round(max(fast), 4),
        # How much of it is the webhook's own answer (stored and committed), the rest is the workers.
        "ingest_p50_s_at_50ps": round(statistics.median(fast_ingest), 4),
        "ingest_p99_s_at_50ps": round(percentile(fast_ingest, 0.99), 4),
        "pages_per_s": round(pages_per_s, 1),
        "worker_cpu_ms_per_page": round(cpu_ms_per_page, 2),
        "incidents_in_burst": n_burst,
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "incidents_at_1ps": len(slow),
        "incidents_at_50ps": len(fast),
        "quick": args.quick,
        "worker_processes": args.processes,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
