"""After `slar import pagerduty --apply`, a real Alertmanager whose pagerduty_configs keep their routing_key
(only the url now names SLAR) pages the person PagerDuty would have paged first, by e-mail as they asked."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests import infra
from tests.loopback import pagerduty
from tests.loopback.ingest import ingest_with_workers
from tests.loopback.smtp import SmtpServer
from tests.loopback.workers import wait_for
from tests.test_alertmanager import ALERTMANAGER, am_alert, post_alerts
from tests.test_alertmanager_frontdoors import start
from tests.test_import_oncall import slar_cli

pytestmark = [
    pytest.mark.alertmanager,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(ALERTMANAGER).exists(), reason="prometheus-alertmanager is not installed"),
]


def on_call_at(sched: dict, at: datetime) -> str:
    """Who PagerDuty's final schedule has on call at an instant (the loopback's plain rendering)."""
    for e in pagerduty.render(sched, at - timedelta(hours=1), at + timedelta(hours=1)):
        if datetime.fromisoformat(e["start"]) <= at < datetime.fromisoformat(e["end"]):
            return e["user"]["id"]
    raise AssertionError("nobody on call in the source")


def test_alertmanager_with_its_pagerduty_routing_key_pages_the_same_first_person(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path, tmp_path: Path
) -> None:
    account = pagerduty.generate(29, now=datetime.now(UTC), people=8, schedules=2)
    env = {**os.environ, "DATABASE_URL": fresh_database, "PYTHONPATH": os.getcwd()}
    with pagerduty.PagerDutyServer(account, throttle_at=None) as server:
        args = ["import", "pagerduty", "--token", server.token, "--api-url", server.url, "--apply"]
        applied = slar_cli(env, *args)
    assert applied.returncode == 0, applied.stderr
    service = account["services"][1]  # not under the maintenance window service 0 has
    integration = service["integrations"][0]
    assert integration["type"] == "events_api_v2_inbound_integration"
    policy = next(p for p in account["escalation_policies"] if p["id"] == service["escalation_policy"]["id"])
    [target] = policy["escalation_rules"][0]["targets"]
    assert target["type"] == "schedule_reference"
    sched = next(x for x in account["schedules"] if x["id"] == target["id"])
    with SmtpServer() as smtp:
        extra = {"SMTP_URL": smtp.url, "SMTP_FROM": "pager@slar.test", "SLAR_ESCALATION_MINUTE_S": "30"}
        with ingest_with_workers(
            database_url=fresh_database,
            redis_env=redis_env,
            log_root=output_dir / "import-pd-am",
            extra_env=extra,
        ) as (_, ingest):
            receiver = (
                "    pagerduty_configs:\n"
                f"      - routing_key: {integration['integration_key']}\n"
                f"        url: {ingest}/v2/enqueue\n"
            )
            running, am = start(tmp_path, receiver, output_dir, "import-pagerduty")
            with running:
                infra.wait_http(f"{am}/-/ready")
                fired = datetime.now(UTC)
                post_alerts(am, [am_alert("DiskFull", "db-1")])
                wait_for(lambda: smtp.messages, 60, "the first page by e-mail")
    expected = on_call_at(sched, fired)
    email = next(u["email"] for u in account["users"] if u["id"] == expected)
    assert smtp.messages[0]["To"] == email, (smtp.messages[0]["To"], email)
