"""After `slar import opsgenie --apply`, a real Alertmanager whose opsgenie_configs keep their api_key (only
the api_url now names SLAR) pages the person Opsgenie would have paged first, by e-mail as they asked,
on the team's default escalation and down a team routing rule alike."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.directory import service as directory
from app.imports import service as imports
from app.incidents.models import Incident
from importers.opsgenie import SOURCE
from tests import infra
from tests.loopback import opsgenie
from tests.loopback.ingest import ingest_with_workers
from tests.loopback.smtp import SmtpServer
from tests.loopback.workers import sessions, wait_for
from tests.test_alertmanager import ALERTMANAGER, am_alert, post_alerts
from tests.test_alertmanager_frontdoors import start
from tests.test_import_oncall import slar_cli

pytestmark = [
    pytest.mark.alertmanager,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(ALERTMANAGER).exists(), reason="prometheus-alertmanager is not installed"),
]


def on_call_at(sched: dict, at: datetime) -> str:
    """Who Opsgenie's final timeline has on call at an instant (the loopback's plain rendering)."""
    for p in opsgenie.timeline(sched, at - timedelta(hours=1), at + timedelta(hours=1)):
        if datetime.fromisoformat(p["startDate"]) <= at < datetime.fromisoformat(p["endDate"]):
            return p["recipient"]["id"]
    raise AssertionError("nobody on call in the source")


def pageable(account: dict, now: datetime) -> dict:
    """The account without what would make Opsgenie and SLAR differ by design at this instant.

    A maintenance window over the API integration now would have Opsgenie page nobody; a routing rule
    with a time restriction is reported by the plan as not imported (SLAR's rules hold at all times),
    so which escalation Opsgenie picks would depend on the hour the test runs.
    """
    account["maintenance"] = [
        m
        for m in account["maintenance"]
        if m["time"].get("endDate") and datetime.fromisoformat(m["time"]["endDate"]) <= now
    ]
    account["routing-rules"] = {
        team: [r for r in rules if not r.get("timeRestriction")]
        for team, rules in account["routing-rules"].items()
    }
    return account


def test_alertmanager_with_its_opsgenie_api_key_pages_the_same_first_person(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    account = pageable(opsgenie.generate(31, now=now, people=10), now)
    env = {**os.environ, "DATABASE_URL": fresh_database, "PYTHONPATH": os.getcwd()}
    with opsgenie.OpsgenieServer(account, throttle_at=None) as server:
        args = ["import", "opsgenie", "--key", server.key, "--api-url", server.url, "--apply"]
        applied = slar_cli(env, *args)
    assert applied.returncode == 0, applied.stderr
    integration = account["integrations"][0]
    assert integration["type"] == "API"
    team = integration["ownerTeam"]["id"]
    rules = account["routing-rules"][team]
    default = next(r for r in rules if r["isDefault"])["notify"]["id"]
    database = next(r for r in rules if r["name"] == "Database")  # tags contains "database"
    chains = {e["id"]: e for e in account["escalations"]}
    # An alert with no tag takes the default rule; one Alertmanager tags `database` takes its rule.
    plain, db = am_alert("HighLatency", "web-1"), am_alert("Replication", "db-2")
    db["labels"]["team"] = "database"
    with SmtpServer() as smtp:
        extra = {"SMTP_URL": smtp.url, "SMTP_FROM": "pager@slar.test", "SLAR_ESCALATION_MINUTE_S": "30"}
        with ingest_with_workers(
            database_url=fresh_database,
            redis_env=redis_env,
            log_root=output_dir / "import-og-am",
            extra_env=extra,
        ) as (_, ingest):
            receiver = (
                "    opsgenie_configs:\n"
                f"      - api_key: {integration['apiKey']}\n"
                f"        api_url: {ingest}/\n"
                "        tags: '{{ .CommonLabels.team }}'\n"
            )
            running, am = start(tmp_path, receiver, output_dir, "import-opsgenie")
            with running:
                infra.wait_http(f"{am}/-/ready")
                post_alerts(am, [plain, db])
                wait_for(lambda: len(smtp.messages) >= 2, 60, "the first page of each alert by e-mail")
    with sessions(fresh_database)() as s:
        refs = imports.refs_of(session=s, source=SOURCE)
        incidents = list(s.scalars(select(Incident)))
        own = directory.get_integration(
            session=s, integration_id=refs[("integration", integration["id"])].local_id
        ).service_id
    # Alertmanager's Opsgenie message (the title) is "[FIRING:1] <alertname> (<other labels>)".
    [routed] = [i for i in incidents if "Replication" in i.title]
    [unrouted] = [i for i in incidents if "HighLatency" in i.title]
    assert routed.service_id == refs[("route", database["id"])].local_id != own
    assert unrouted.service_id == own
    email_of = {u["id"]: u["username"] for u in account["users"]}
    for alert, incident, chain in ((plain, unrouted, default), (db, routed, database["notify"]["id"])):
        first = chains[chain]["rules"][0]["recipient"]
        if first["type"] == "schedule":  # at the instant the alert arrived, when Opsgenie would page
            sched = next(x for x in account["schedules"] if x["id"] == first["id"])
            expected = on_call_at(sched, incident.created_at)
        else:
            expected = first["id"]
        name = alert["labels"]["alertname"]
        [page] = [m for m in smtp.messages if name in str(m)]
        assert page["To"] == email_of[expected], (page["To"], email_of[expected])
