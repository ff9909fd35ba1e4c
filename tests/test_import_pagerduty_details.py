"""PagerDuty import, the finer parts: contact methods, webhook subscriptions, urgency, what routing loses."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.directory import service as directory
from app.imports import service as imports
from app.incidents.models import Alert
from app.webhooks import service as webhooks
from importers.apply import apply
from importers.pagerduty import SOURCE
from tests.loopback import pagerduty
from tests.loopback.ingest import ingest_process
from tests.loopback.workers import sessions
from tests.test_import_oncall import slar_cli
from tests.test_import_pagerduty import NOW, admin_of, cannot, plan_for


def service_of(s: Session, account: dict, n: int) -> int:
    key = account["services"][n]["integrations"][0]["integration_key"]
    found = directory.integration_by_token(session=s, token=key)
    assert found is not None
    return found.service_id


def test_contact_methods_urgency_webhooks_and_what_cannot_be_expressed(fresh_database: str) -> None:
    db = sessions(fresh_database)
    account = pagerduty.generate(7, now=NOW)
    admin = admin_of(account)
    with pagerduty.PagerDutyServer(account) as server:
        plan, _ = plan_for(server, db)
        lines = cannot(plan)
        # One line each for what SLAR pages or routes differently.
        assert any("rule 3 round robin" in c and "all 2 targets are paged" in c for c in lines), lines
        assert any("EP 3: repeats: repeats 12 times" in c for c in lines), lines
        assert any("PD Service 2: support hours" in c and "low urgency outside" in c for c in lines)
        assert any("orchestration Global router: routes events by 1 rule(s)" in c for c in lines)
        assert any("PD Service 3: service orchestration: 1 service" in c for c in lines)
        assert any("ruleset Legacy rules: routes and rewrites events by 1 event rule(s)" in c for c in lines)
        assert any("PD Service 4: service event rules: 1 service event rule(s)" in c for c in lines)
        assert any("old bridge: the subscription is inactive" in c for c in lines)
        assert any("responders: SLAR sends no event like incident.responder.added" in c for c in lines)
        assert any(
            "chatops: some events: SLAR sends no event like incident.priority_updated" in c for c in lines
        )
        assert any("status page: service filter" in c and "its service's team" in c for c in lines)
        assert any("status page: custom headers" in c for c in lines)
        assert sum("push to PagerDuty's app" in c for c in lines) == len(account["users"])
        [v1_note] = [n for n in plan.notes if "Events API v1 integration key(s) kept" in n]
        assert "service_key on /generic/2010-04-15/create_event.json" in v1_note
        assert "must move" not in v1_note
        assert apply(plan, db.begin, NOW, SOURCE, admin) == plan.changes
        again, _ = plan_for(server, db)
    assert again.changes == 0, again.render()
    with db() as s:
        refs = imports.refs_of(session=s, source=SOURCE)
        user = account["users"][1]
        methods = directory.contact_methods_of(session=s, user_id=refs[("user", user["id"])].local_id)
        assert sorted((m.kind, m.address) for m in methods) == [
            ("email", "responder1@example.com"),
            ("sms", "+447700900001"),
            ("voice", "+15550100001"),
        ]
        important = [directory.get_service(session=s, service_id=service_of(s, account, n)) for n in range(4)]
        assert [svc.important_severities for svc in important] == [
            ["critical", "error", "warning", "info"],  # constant high urgency
            ["critical", "error"],  # by severity
            ["critical", "error", "warning", "info"],  # support hours: high, reported
            [],  # constant low urgency
        ]
        hooks = {h.name: h for h in webhooks.list_webhooks(session=s)}
        assert sorted(hooks) == ["chatops", "status page", "ticketing"]
        team = {t["id"]: refs[("team", t["id"])].local_id for t in account["teams"]}
        assert hooks["chatops"].team_id == team[account["teams"][0]["id"]]
        assert sorted(hooks["chatops"].events) == ["acknowledged", "note", "resolved", "triggered"]
        assert hooks["ticketing"].team_id is None
        assert hooks["status page"].team_id == team[account["teams"][1]["id"]]
        assert hooks["status page"].url == "https://hooks.example.com/status-page"
        v1 = next(i for i in account["services"][5]["integrations"] if i["type"].startswith("generic"))
        found = directory.integration_by_token(session=s, token=v1["integration_key"])
        assert found is not None and found.service_id == service_of(s, account, 5)


def test_cli_imports_webhooks_as_an_admin_and_a_v1_key_answers_on_both_doors(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path
) -> None:
    account = pagerduty.generate(11, now=datetime.now(UTC), people=6, schedules=1)
    admin = admin_of(account)
    env = {**os.environ, "DATABASE_URL": fresh_database, "PYTHONPATH": os.getcwd(), **redis_env}
    with pagerduty.PagerDutyServer(account, throttle_at=None) as server:
        args = ["import", "pagerduty", "--token", server.token, "--api-url", server.url]
        held = slar_cli(env, *args)
        assert held.returncode == 0, held.stderr
        assert "create chatops" not in held.stdout
        assert "pass --as with a SLAR admin's e-mail to import outgoing webhooks" in held.stdout
        planned = json.loads(slar_cli(env, *args, "--as", admin, "--json").stdout)
        creates = {(x["kind"], x["name"]) for x in planned["lines"] if x["action"] == "create"}
        assert ("webhook", "chatops") in creates and (
            "urgency",
            "PD Service 1: urgency by severity",
        ) in creates
        assert any(x["kind"] == "event_rules" for x in planned["lines"])
        account["users"][2]["role"] = "user"  # a responder in SLAR
        refused = slar_cli(env, *args, "--as", account["users"][2]["email"], "--apply")
        assert refused.returncode == 2 and "is not a SLAR admin" in refused.stderr, refused.stderr
        nobody = slar_cli(env, *args, "--as", "nobody@example.com", "--apply")
        assert "neither a SLAR user nor imported" in nobody.stderr, nobody.stderr
        with sessions(fresh_database)() as s:
            assert directory.list_users(session=s) == []  # refused before anything was written
        first = slar_cli(env, *args, "--as", admin, "--apply")
        assert first.returncode == 0 and f"applied: {planned['changes']} changes" in first.stdout, (
            first.stderr
        )
        assert "webhook: 3 create" in first.stdout
        second = slar_cli(env, *args, "--as", admin, "--apply")
        assert "applied: 0 changes" in second.stdout, second.stdout
    with ingest_process(env, output_dir / "pd-v1-ingest.log") as url:
        v1 = next(i for i in account["services"][5]["integrations"] if i["type"].startswith("generic"))
        event = {
            "routing_key": v1["integration_key"],
            "event_action": "trigger",
            "payload": {"summary": "legacy check failed", "source": "cron-1", "severity": "error"},
        }
        r = httpx.post(f"{url}/v2/enqueue", json=event, timeout=10)
        assert r.status_code == 202 and r.json()["status"] == "success", r.text
        # Its senders still speaking v1 change only the host too.
        legacy = {
            "service_key": v1["integration_key"],
            "event_type": "resolve",
            "incident_key": r.json()["dedup_key"],
        }
        r = httpx.post(f"{url}/generic/2010-04-15/create_event.json", json=legacy, timeout=10)
        assert r.status_code == 200 and r.json()["incident_key"] == legacy["incident_key"], r.text
    with sessions(fresh_database)() as s:
        [alert] = s.scalars(select(Alert)).all()
        assert alert.summary == "legacy check failed" and alert.status == "resolved"
