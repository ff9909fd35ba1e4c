"""Three hosts in network namespaces, one Postgres and one broker: a storm, a host cut off, then killed.

Host A runs two ingest processes; hosts B and C each run workers and a scheduler. During a storm of
incidents (SLAR_STORM_INCIDENTS, 1,000 by default) B's link goes down and its processes are killed.
Every page reaches the loopback Slack exactly once and within 30 s of its due time, and every alert
ingest answered 2xx for is in Postgres. Runs on Redis, then on RabbitMQ (a vhost of its own, a
smaller storm: SLAR_STORM_INCIDENTS_RABBITMQ, 300 by default).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.incidents.models import Alert, Incident
from app.notifications.models import Delivery
from tests import factories as f
from tests import netns
from tests.infra import PG_PORT, REDIS_PORT, ROOT, wait_http
from tests.loopback.brokers import RABBIT_HOST, RABBIT_PORT
from tests.loopback.slack import SlackServer
from tests.loopback.workers import VENV_BIN, sessions, wait_for
from tests.test_workers_escalation import _slack_user

pytestmark = pytest.mark.slow
STORM = int(os.environ.get("SLAR_STORM_INCIDENTS", "1000"))
# The same scenario on RabbitMQ, with a smaller storm: what differs is only how messages travel.
RABBIT_STORM = int(os.environ.get("SLAR_STORM_INCIDENTS_RABBITMQ", "300"))
RATE_PER_S = float(os.environ.get("SLAR_STORM_RATE", "40"))
DEADLINE_S = 30.0  # every page within this long of its due time
MINUTE_S = 2.0  # a `sending` row older than this is presumed lost (the reclaim delay)
SERVICES = 20


@pytest.fixture(scope="module")
def can_make_hosts() -> None:
    why_not = netns.unavailable()
    if why_not:
        pytest.skip(f"multi-host test skipped: {why_not}")


@dataclass
class Storm:
    """What the sender saw: the answer to each alert (by dedup key)."""

    answers: dict[str, int] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> set[str]:
        with self.lock:
            return {k for k, status in self.answers.items() if 200 <= status < 300}


def _env(base: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLAR_", "SLACK_", "FCM_", "SMTP_"))}
    env.update(PATH=f"{VENV_BIN}:{env.get('PATH', '')}", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    return {**env, **base, **extra}


def _start_host(net: netns.Hosts, host: str, base: dict[str, str], logs: Path) -> None:
    env = _env(base, SLAR_HOST=net.ip(host))
    workers = [str(VENV_BIN / "dramatiq"), "workers.actors", "--processes", "1", "--threads", "4"]
    net.run(host, workers, env, logs / f"{host}-workers.log")
    scheduler = [sys.executable, "-m", "workers.scheduler", "--every", "sweep=2"]
    net.run(host, scheduler, env, logs / f"{host}-scheduler.log")


def _post(client: httpx.Client, url: str, key: str, storm: Storm) -> None:
    body = {"event_action": "trigger", "dedup_key": key, "summary": f"storm {key}", "severity": "critical"}
    for _attempt in range(5):  # a sender retries what was not answered 2xx, as Alertmanager does
        try:
            status = client.post(url, json=body, timeout=30).status_code
        except httpx.HTTPError as err:
            with storm.lock:
                storm.errors[type(err).__name__] += 1
            continue
        with storm.lock:
            storm.answers[key] = status
        if status < 500:
            break
    with storm.lock:
        storm.sent += 1


def _storm(urls: list[str], storm: Storm, size: int) -> None:
    """`size` alerts at RATE_PER_S, round robin over A's ingest processes and the integrations."""
    start = time.monotonic()
    with httpx.Client() as client, ThreadPoolExecutor(8) as pool:
        for i in range(size):
            time.sleep(max(0.0, start + i / RATE_PER_S - time.monotonic()))
            pool.submit(_post, client, urls[i % len(urls)], f"storm-{i:05d}", storm)


@pytest.fixture()
def world(fresh_database: str) -> Iterator[list[str]]:
    """SERVICES services, each paging one of ten Slack users; yields each integration's webhook path."""
    Session = sessions(fresh_database)
    with Session.begin() as s:
        users = [_slack_user(s, f"Storm {i}") for i in range(10)]
        paths = []
        for i in range(SERVICES):
            svc = f.service(s, policy_id=f.policy_for(s, [users[i % len(users)]]))
            integration, token = f.integration(s, svc.id, "generic")
            integration.rate_per_s, integration.rate_burst = 1000, 1000  # a storm is not throttled here
            paths.append(f"/webhooks/generic/{token}")
    yield paths


@pytest.mark.parametrize("broker_kind", ["redis", "rabbitmq"])
def test_storm_with_a_host_cut_off_then_killed_pages_everyone_once_in_time(
    can_make_hosts: None,
    fresh_database: str,
    redis_env: dict[str, str],
    broker_url: str | None,
    world: list[str],
    output_dir: Path,
) -> None:
    storm_size = RABBIT_STORM if broker_url else STORM
    logs = output_dir / "multihost" / uuid.uuid4().hex[:6]
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    with netns.hosts(["a", "b", "c"]) as net, SlackServer(host=net.bridge_ip) as slack:
        net.forward(PG_PORT, logs / "forward-postgres.log")
        net.forward(REDIS_PORT, logs / "forward-redis.log")
        if broker_url:
            net.forward(RABBIT_PORT, logs / "forward-rabbitmq.log")
        db_name = fresh_database.rpartition("/")[2]
        base = {
            "DATABASE_URL": f"postgresql://postgres@{net.bridge_ip}:{PG_PORT}/{db_name}",
            "REDIS_URL": f"redis://{net.bridge_ip}:{REDIS_PORT}/0",
            "REDIS_NAMESPACE": namespace,
            "SLACK_API_URL": slack.api_url,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLAR_ESCALATION_MINUTE_S": str(MINUTE_S),
            "SLAR_DB_IDLE_TRANSACTION_TIMEOUT_S": "5",
        }
        if broker_url:  # the vhost of this test, reached through the relay
            base["BROKER_URL"] = broker_url.replace(f"@{RABBIT_HOST}:", f"@{net.bridge_ip}:")
        ingest = []
        for port in (8080, 8081):
            args = [
                sys.executable,
                "-m",
                "uvicorn",
                "ingest.app:app",
                "--host",
                net.ip("a"),
                "--port",
                str(port),
            ]
            net.run("a", args + ["--log-level", "warning"], _env(base), logs / f"a-ingest-{port}.log")
            ingest.append(f"http://{net.ip('a')}:{port}")
        for host in ("b", "c"):
            _start_host(net, host, base, logs)
        for url in ingest:
            wait_http(f"{url}/health", timeout=90)
        urls = [f"{ingest[i % 2]}{path}" for i, path in enumerate(world)]

        storm = Storm()
        sender = threading.Thread(target=_storm, args=(urls, storm, storm_size))
        sender.start()
        wait_for(lambda: storm.sent >= storm_size // 3, 300, "a third of the storm")
        net.cut("b")
        time.sleep(3)  # B's processes go on believing they work, with half-done transactions
        net.kill("b")
        sender.join()
        accepted = storm.accepted()
        Session = sessions(fresh_database)

        def sent() -> int:
            with Session() as s:
                return s.scalar(select(func.count()).where(Delivery.status == "sent")) or 0

        wait_for(lambda: sent() >= len(accepted), 180, f"{len(accepted)} pages sent", every=1)
        time.sleep(2 * MINUTE_S + 2)  # long enough for a stray duplicate to show up

        with Session() as s:
            stored = set(s.scalars(select(Alert.dedup_key)))
            incidents = s.scalar(select(func.count()).select_from(Incident)) or 0
            due = {row[0]: row[1] for row in s.execute(select(Delivery.id, Delivery.due_at))}

    # Ingest never answered 2xx for an alert it had not committed.
    assert accepted <= stored, f"answered 2xx but not stored: {sorted(accepted - stored)[:5]}"
    assert len(accepted) == storm_size, (
        f"not accepted after retries: {storm_size - len(accepted)} ({storm.errors})"
    )
    assert incidents == storm_size
    # Every page was sent exactly once: one post per delivery, one delivery per incident.
    posted = Counter(c.body["metadata"]["event_payload"]["delivery_id"] for c in slack.posts())
    assert len(due) == storm_size
    assert set(posted) == set(due), f"never paged: {len(set(due) - set(posted))}"
    assert max(posted.values()) == 1, f"paged twice: {[d for d, n in posted.items() if n > 1][:5]}"
    # B really was paging before it was cut off, and C carried on alone.
    by_host = Counter(c.peer for c in slack.posts())
    assert by_host[net.ip("b")] > 0 and by_host[net.ip("c")] > by_host[net.ip("b")], by_host
    # ... within DEADLINE_S of its due time (first post of each delivery, as Slack received it).
    first = {}
    for call in slack.posts():
        first.setdefault(call.body["metadata"]["event_payload"]["delivery_id"], call.at)
    lateness = sorted(first[d] - due[d].timestamp() for d in first)
    report = f"page lateness p50 {lateness[len(lateness) // 2]:.1f}s max {lateness[-1]:.1f}s"
    print(report)
    assert lateness[-1] <= DEADLINE_S, report
