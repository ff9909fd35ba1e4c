"""After `slar import oncall --apply`, a real Alertmanager that only had its host changed pages the person
OnCall would have paged: the integration token, its routes, the chains and the schedules all came across."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.directory import service as directory
from app.imports import service as imports
from app.incidents.models import Incident
from tests import infra
from tests.loopback import oncall
from tests.loopback.ingest import ingest_with_workers
from tests.loopback.slack import SlackServer
from tests.loopback.workers import sessions, wait_for
from tests.test_alertmanager import ALERTMANAGER, am_alert, post_alerts, start_alertmanager
from tests.test_import_oncall import slar_cli

pytestmark = [
    pytest.mark.alertmanager,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(ALERTMANAGER).exists(), reason="prometheus-alertmanager is not installed"),
]


def on_call_at(org: dict, schedule_id: str, at: datetime) -> str:
    """Who OnCall's own final schedule has on call at an instant (the loopback's plain computation)."""
    for f in oncall.final_shifts(org, schedule_id, at - timedelta(days=1), at + timedelta(days=1)):
        if datetime.fromisoformat(f["shift_start"]) <= at < datetime.fromisoformat(f["shift_end"]):
            return f["user_pk"]
    raise AssertionError("nobody on call in the source")


def test_alertmanager_on_the_old_oncall_url_pages_the_same_first_person_route_by_route(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    org = oncall.generate(23, people=12, schedules=2, chains=2, integrations=2, now=now, quirky=False)
    env = {**os.environ, "DATABASE_URL": fresh_database, "PYTHONPATH": os.getcwd()}
    with oncall.OnCallServer(org) as server:
        applied = slar_cli(env, "import", "oncall", "--url", server.url, "--token", server.token, "--apply")
    assert applied.returncode == 0, applied.stderr
    integration = org["integrations"][0]
    assert integration["type"] == "alertmanager"
    # An alert no route matches takes the default route; `team: db` matches the Jinja2 route first.
    plain, db = am_alert("DiskFull", "web-1"), am_alert("Replication", "db-2")
    plain["labels"]["severity"] = db["labels"]["severity"] = "warning"  # not the regex route's
    db["labels"]["team"] = "db"
    jinja = next(r for r in org["routes"] if r["integration_id"] == integration["id"] and r["position"] == 0)
    assert (
        jinja["routing_type"] == "jinja2"
        and jinja["escalation_chain_id"] != (integration["default_route"]["escalation_chain_id"])
    )
    old_path = integration["link"].split("oncall.example.org", 1)[1]  # /integrations/v1/alertmanager/<token>/
    with SlackServer() as slack:
        extra = {
            "SLACK_API_URL": slack.api_url,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLAR_ESCALATION_MINUTE_S": "30",
        }
        with ingest_with_workers(
            database_url=fresh_database,
            redis_env=redis_env,
            log_root=output_dir / "import-am",
            extra_env=extra,
        ) as (_, ingest):
            running, am = start_alertmanager(tmp_path, f"{ingest}{old_path}", output_dir)
            with running:
                infra.wait_http(f"{am}/-/ready")
                fired = datetime.now(UTC)
                post_alerts(am, [plain, db])
                wait_for(lambda: len(slack.posts()) >= 2, 60, "a page on Slack for each alert")
    # The routed alert's incident is on the route's service, the other on the integration's own.
    with sessions(fresh_database)() as s:
        refs = imports.refs_of(session=s, source="oncall")
        service_of = {i.title: i.service_id for i in s.scalars(select(Incident))}
        own = directory.get_integration(
            session=s, integration_id=refs[("integration", integration["id"])].local_id
        ).service_id
    assert service_of[db["annotations"]["summary"]] == refs[("route", jinja["id"])].local_id != own
    assert service_of[plain["annotations"]["summary"]] == own
    for alert, chain in (
        (plain, integration["default_route"]["escalation_chain_id"]),
        (db, jinja["escalation_chain_id"]),
    ):
        expected = on_call_at(org, first_schedule_of(org, chain), fired)
        slack_id = next(u for u in org["users"] if u["id"] == expected)["slack"][0]["user_id"]
        summary = alert["annotations"]["summary"]
        post = next(p for p in slack.posts() if summary in str(p.body))
        assert slack_id in str(post.body["channel"]), (post.body, expected)


def first_schedule_of(org: dict, chain: str) -> str:
    """The schedule the chain's first step pages (every fixture chain starts with one)."""
    first = min(
        (p for p in org["escalation_policies"] if p["escalation_chain_id"] == chain),
        key=lambda p: p["position"],
    )
    assert first["type"] == "notify_on_call_from_schedule"
    return first["notify_on_call_from_schedule"]
