"""/metrics: real workers count pages and their latency; every process reports the backlog."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from agent.runtime import AgentRuntime
from agent.service import create_app
from app.db import utcnow
from app.periodic.backlog import backlog, export_lag_s
from app.periodic.metrics import console_registry, serve
from ingest.app import app
from tests import factories as f
from tests.loopback.slack import SlackServer
from tests.loopback.workers import sessions, wait_for, worker_stack
from tests.test_periodic_ticks import free_port
from tests.test_workers_escalation import _slack_user, _trigger


def scrape(url: str) -> dict[str, float]:
    """Every sample of a Prometheus text page, by its full name with labels."""
    out = {}
    for line in httpx.get(url, timeout=30).text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def test_backlog_counts_overdue_steps_and_the_export_lag(session: Session) -> None:
    now = utcnow()
    before = backlog(session=session, now=now + timedelta(hours=1))
    user = f.user(session)
    incident_id, _ = _trigger(session, f.policy_for(session, [user]))
    after = backlog(session=session, now=now + timedelta(hours=1))
    assert after.steps_due == before.steps_due + 1
    assert after.oldest_due_s >= 3600 - 5
    assert backlog(session=session, now=now - timedelta(hours=1)).steps_due == 0  # nothing due yet then
    # Nothing exported yet: the lag is the age of the oldest event; everything exported: no lag.
    assert export_lag_s(session=session, exported_max_event_id=0, now=now + timedelta(minutes=10)) >= 595
    assert export_lag_s(session=session, exported_max_event_id=2**62, now=now) == 0.0
    assert incident_id


def test_ingest_metrics_report_queue_depth_and_overdue_steps(
    database_url: str, redis_env: dict[str, str]
) -> None:
    with TestClient(app) as client:
        text = client.get("/metrics").text
    assert 'slar_queue_depth{queue="escalation"}' in text
    assert "slar_escalation_steps_due_unsent" in text and "slar_export_lag_seconds" in text


@pytest.fixture()
def slack() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


@pytest.mark.slow
def test_workers_metrics_count_each_attempt_and_the_page_latency(
    fresh_database: str, redis_env: dict[str, str], slack: SlackServer, output_dir: Path
) -> None:
    Session = sessions(fresh_database)
    with Session.begin() as s:
        user = _slack_user(s, "Met")
        incident_id, token = _trigger(s, f.policy_for(s, [user]))
    slack.fail_next[f"U{user.id}"] = ["ratelimited"]
    port = free_port()
    namespace = f"{redis_env['REDIS_NAMESPACE']}-{uuid.uuid4().hex[:6]}"
    extra = {
        "SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLAR_ESCALATION_MINUTE_S": "0.5",
        "SLAR_WORKER_METRICS_PORT": str(port),
    }
    with worker_stack(
        database_url=fresh_database,
        redis_url=redis_env["REDIS_URL"],
        namespace=namespace,
        log_dir=output_dir / "workers" / namespace,
        extra_env=extra,
        scheduler=False,
    ) as stack:
        stack.kick(incident_id, token)
        url = f"http://127.0.0.1:{port}/metrics"
        samples = wait_for(
            lambda: (m := _try(url)) and m.get('slar_deliveries_total{channel="slack",outcome="sent"}') and m,
            30,
            "a sent page in the workers' /metrics",
        )
        ready = httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code
    assert samples['slar_deliveries_total{channel="slack",outcome="retry"}'] == 1
    assert samples['slar_deliveries_total{channel="slack",outcome="sent"}'] == 1
    assert samples['slar_page_latency_seconds_count{channel="slack"}'] == 1
    assert samples['slar_queue_depth{queue="notify"}'] >= 0 and "slar_deliveries_due_unsent" in samples
    assert ready == 200


def _try(url: str) -> dict[str, float] | None:
    try:
        return scrape(url)
    except httpx.HTTPError:
        return None


def test_agent_and_console_serve_the_backlog(database_url: str) -> None:
    with TestClient(create_app(AgentRuntime(client_factory=lambda: None, extra_workbenches=[]))) as client:
        answer = client.get("/metrics")
    assert answer.status_code == 200 and "slar_deliveries_due_unsent" in answer.text
    port = free_port()
    assert serve(console_registry(), port, "console") == port
    assert "slar_export_lag_seconds" in scrape(f"http://127.0.0.1:{port}/metrics")
    assert serve(console_registry(), port, "console") is None  # a taken port is logged, not fatal
    assert httpx.get(f"http://127.0.0.1:{port}/health/live").status_code == 200
    assert httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 200
    assert httpx.get(f"http://127.0.0.1:{port}/nothing").status_code == 404


def test_readiness_fails_when_a_store_does_not_answer(database_url: str) -> None:
    port = free_port()
    serve(console_registry(), port, "test", ready=lambda: False)
    assert httpx.get(f"http://127.0.0.1:{port}/health/ready").status_code == 503
    assert httpx.get(f"http://127.0.0.1:{port}/health/live").status_code == 200
