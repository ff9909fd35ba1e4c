"""Windows and silences from the outside: a real Alertmanager and webhooks into uvicorn ingest, real
workers and scheduler, pages counted at a loopback Slack."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from app.db import utcnow
from app.directory import service as directory
from app.incidents.models import Alert, Incident
from app.suppression import service as suppression
from tests import factories as f
from tests import infra
from tests.loopback.ingest import ingest_with_workers
from tests.loopback.slack import SlackServer
from tests.loopback.workers import Stack, sessions, wait_for
from tests.test_alertmanager import ALERTMANAGER, am_alert, post_alerts, start_alertmanager

pytestmark = pytest.mark.slow
MINUTE_S = 0.5
# A silence made after the first page must be stored before the second level is due: 20 policy
# minutes (10 s) leave room for that on a loaded machine.
NEXT_LEVEL_DELAY = 20
PAYLOAD = Path(__file__).parent / "payloads" / "alertmanager" / "firing.json"


class Flow:
    def __init__(self, ingest: str, stack: Stack, slack: SlackServer) -> None:
        self.ingest, self.stack, self.slack = ingest, stack, slack

    def pages(self) -> list[str]:
        return [str(c.body["channel"]) for c in self.slack.posts()]


@pytest.fixture()
def flow(fresh_database: str, redis_env: dict[str, str], output_dir: Path) -> Iterator[Flow]:
    with SlackServer() as slack:
        extra = {
            "SLACK_API_URL": slack.api_url,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLAR_ESCALATION_MINUTE_S": str(MINUTE_S),
        }
        with ingest_with_workers(
            database_url=fresh_database,
            redis_env=redis_env,
            log_root=output_dir / "suppression",
            extra_env=extra,
        ) as (stack, url):
            yield Flow(url, stack, slack)


def _setup(Session, levels: int, delay: int) -> tuple[int, str, list[str]]:  # noqa: N803
    with Session.begin() as s:
        users = [f.user(s) for _ in range(levels)]
        for u in users:
            directory.add_contact_method(session=s, user_id=u.id, kind="slack", address=f"U{u.id}")
        svc = f.service(s, policy_id=f.policy_for(s, users, delay_minutes=delay))
        _, token = f.integration(s, svc.id, "alertmanager")
        return svc.id, token, [f"U{u.id}" for u in users]


def _incident(Session, service_id: int) -> Incident | None:  # noqa: N803
    with Session() as s:
        return s.scalar(select(Incident).where(Incident.service_id == service_id))


@pytest.mark.skipif(not Path(ALERTMANAGER).exists(), reason="prometheus-alertmanager is not installed")
def test_a_window_holds_pages_from_alertmanager_and_paging_resumes_when_it_ends(
    fresh_database: str, flow: Flow, tmp_path: Path, output_dir: Path
) -> None:
    Session = sessions(fresh_database)
    service_id, token, (first, second) = _setup(Session, 2, delay=2)
    # Long enough for Alertmanager to start and deliver into it on a loaded machine.
    with Session.begin() as s:
        window = suppression.create_window(
            session=s, service_ids=[service_id], by=None, reason="deploy", duration=timedelta(seconds=30)
        )
        ends = window.ends_at
    running, am = start_alertmanager(tmp_path, f"{flow.ingest}/webhooks/alertmanager/{token}", output_dir)
    with running:
        infra.wait_http(f"{am}/-/ready")
        post_alerts(am, [am_alert("DiskFull", "db-1")])
        incident = wait_for(lambda: _incident(Session, service_id), 60, "the incident from Alertmanager")
        assert incident.suppressed_by == f"maintenance:{window.id}"
        with Session() as s:
            assert s.scalar(select(Alert.suppressed_by).where(Alert.incident_id == incident.id)) is not None
        # Stored and grouped, but nobody is paged while the window lasts.
        time.sleep(max(0.0, (ends - utcnow()).total_seconds() - 0.5))
        assert flow.pages() == []
        wait_for(lambda: len(flow.pages()) >= 2, 60, "paging from level 0 after the window")
    assert flow.pages()[:2] == [first, second]
    with Session() as s:
        assert s.get(Incident, incident.id).suppressed_by is None


def test_a_silence_created_after_the_incident_opened_stops_its_next_pages(
    fresh_database: str, flow: Flow
) -> None:
    Session = sessions(fresh_database)
    service_id, token, (first, second) = _setup(Session, 2, delay=NEXT_LEVEL_DELAY)
    r = httpx.post(f"{flow.ingest}/webhooks/alertmanager/{token}", content=PAYLOAD.read_bytes(), timeout=10)
    assert r.status_code == 202, r.text
    wait_for(lambda: flow.pages(), 60, "the first page")
    with Session.begin() as s:
        silence = suppression.create_silence(
            session=s,
            matchers=[{"name": "alertname", "op": "=", "value": "HighLatency"}],
            by=None,
            comment="rolling back",
            duration=timedelta(hours=1),
        )
        silence_id = silence.id
    time.sleep(NEXT_LEVEL_DELAY * MINUTE_S + 2.5)  # past the moment the second level was due
    assert flow.pages() == [first]
    incident = _incident(Session, service_id)
    assert incident.suppressed_by == f"silence:{silence_id}"
    # A repeat of the same alerts changes nothing; expiring the silence pages from level 0 again.
    body = json.loads(PAYLOAD.read_text())
    assert (
        httpx.post(f"{flow.ingest}/webhooks/alertmanager/{token}", json=body, timeout=10).status_code == 202
    )
    with Session.begin() as s:
        suppression.expire_silence(session=s, silence_id=silence_id, by=None)
    wait_for(lambda: len(flow.pages()) >= 2, 60, "the page after the silence expired")
    assert flow.pages()[:2] == [first, first]
