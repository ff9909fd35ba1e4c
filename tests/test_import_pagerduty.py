"""PagerDuty import against a loopback REST API v2: paging, a 429, the same person on call, kept keys."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from app.directory import service as directory
from app.imports import service as imports
from app.notifications import rules_service
from app.suppression import service as suppression
from importers.apply import apply
from importers.pagerduty import SOURCE, mapping
from importers.pagerduty import fetch as pd_fetch
from importers.plan import Plan
from importers.shifts import difference, merge
from tests import infra
from tests.loopback import pagerduty
from tests.loopback.workers import sessions
from tests.test_alertmanager import free_port
from tests.test_import_oncall import WINDOW, slar_cli, slar_shifts

# Crosses the end of summer time in Europe (25 Oct) and in America (1 Nov).
NOW = datetime(2026, 10, 12, 6, 0, tzinfo=UTC)


def plan_for(server: pagerduty.PagerDutyServer, db) -> tuple[Plan, list[float]]:  # type: ignore[no-untyped-def]
    source = pd_fetch.client(server.token, server.url)
    snapshot = pd_fetch.fetch(source, NOW)
    source.close()
    with db() as s:
        refs = imports.refs_of(session=s, source=SOURCE)
    return mapping.build(snapshot, refs, NOW), source.waited


def admin_of(account: dict) -> str:
    """A PagerDuty admin's e-mail: imported as a SLAR admin, who creates the outgoing webhooks."""
    account["users"][0]["role"] = "admin"
    return account["users"][0]["email"]


def cannot(plan: Plan) -> list[str]:
    return [f"{line.name}: {line.reason}" for line in plan.lines if line.action == "cannot_import"]


def test_pagerduty_plan_apply_rerun_and_the_same_person_on_call(fresh_database: str) -> None:
    db = sessions(fresh_database)
    account = pagerduty.generate(5, now=NOW)
    admin = admin_of(account)
    with pagerduty.PagerDutyServer(account) as server:
        plan, waited = plan_for(server, db)
        assert waited == [1.0] and server.throttled == 1
        assert len(server.calls_to("/users")) >= 3  # 20 users at 7 a page: limit/offset/more followed
        assert not [w for w in plan.warnings if "differ" in w], plan.warnings
        assert any("imported as 5 restrictions" in w for w in plan.warnings)
        cannot = [f"{line.name}: {line.reason}" for line in plan.lines if line.action == "cannot_import"]
        assert any("push" in c for c in cannot) and any("email_inbound_integration" in c for c in cannot)
        assert "open incidents are not imported" in plan.render()
        # Overrides from now on take part in the proof: without them SLAR would differ from PagerDuty.
        for item in (i for i in plan.items if i.kind == "schedule"):
            assert len(item.spec["overrides"]) == 2, item.name  # the one that ended is not asked for
            without = {**item.spec, "overrides": []}
            sched = next(x for x in account["schedules"] if x["id"] == item.source_id)
            theirs = merge(
                [
                    (e["user"]["id"], datetime.fromisoformat(e["start"]), datetime.fromisoformat(e["end"]))
                    for e in pagerduty.render(sched, NOW, NOW + WINDOW)
                ]
            )
            assert difference(without, theirs, NOW, "PD") is not None, item.name
        assert apply(plan, db.begin, NOW, SOURCE, admin) == plan.changes
        again, _ = plan_for(server, db)
    assert again.changes == 0
    with db() as s:
        refs = imports.refs_of(session=s, source=SOURCE)
        email_of = {u.id: u.email for u in directory.list_users(session=s)}
        pd_email = {u["id"]: u["email"] for u in account["users"]}
        for sched in account["schedules"]:
            local = refs[("schedule", sched["id"])].local_id
            theirs = merge(
                [
                    (
                        pd_email[e["user"]["id"]],
                        datetime.fromisoformat(e["start"]),
                        datetime.fromisoformat(e["end"]),
                    )
                    for e in pagerduty.render(sched, NOW, NOW + WINDOW)
                ]
            )
            assert slar_shifts(s, local, email_of, NOW, NOW + WINDOW) == theirs, sched["name"]
        person = account["users"][0]
        rules = rules_service.rules_of(session=s, user_id=refs[("user", person["id"])].local_id)
        assert [(r.step, r.kind, r.minutes) for r in rules["important"]] == [
            ("notify", "email", 0),
            ("wait", None, 5),
            ("notify", "voice", 0),
        ]
        assert [(r.step, r.kind) for r in rules["default"]] == [("notify", "email")]
        key = account["services"][1]["integrations"][0]["integration_key"]
        found = directory.integration_by_token(session=s, token=key)
        assert found is not None and found.kind == "pagerduty"
        windows = suppression.list_windows(session=s, now=NOW)
        window_id = refs[("maintenance_window", account["maintenance_windows"][0]["id"])].local_id
        [window] = [w for w, _ in windows if w.id == window_id]
        assert window.reason == "DB upgrade" and window.ends_at == NOW + timedelta(hours=2)
        first_service = directory.integration_by_token(
            session=s, token=account["services"][0]["integrations"][0]["integration_key"]
        )
        assert suppression.window_services(session=s, window_id=window_id) == [first_service.service_id]


def test_pagerduty_cli_and_its_integration_key_on_enqueue(
    fresh_database: str, redis_env: dict[str, str], output_dir: Path
) -> None:

    account = pagerduty.generate(9, now=datetime.now(UTC), people=6, schedules=1)
    env = {**os.environ, "DATABASE_URL": fresh_database, "PYTHONPATH": os.getcwd(), **redis_env}
    with pagerduty.PagerDutyServer(account, throttle_at=None) as server:
        args = ["import", "pagerduty", "--token", server.token, "--api-url", server.url]
        first = slar_cli(env, *args, "--apply")
        assert first.returncode == 0 and "applied:" in first.stdout, first.stderr
        assert "applied: 0 changes" in slar_cli(env, *args, "--apply").stdout
        bad = slar_cli(env, "import", "pagerduty", "--token", "nope", "--api-url", server.url)
        assert bad.returncode == 2 and "Unauthorized" in bad.stderr
    port = free_port()
    uvicorn = [sys.executable, "-m", "uvicorn", "ingest.app:app", "--host", "127.0.0.1", "--port", str(port)]
    with infra.process(uvicorn, env, output_dir / "pd-ingest.log"):
        url = f"http://127.0.0.1:{port}"
        infra.wait_http(url + "/health")
        key = account["services"][0]["integrations"][0]["integration_key"]
        event = {
            "routing_key": key,
            "event_action": "trigger",
            "payload": {"summary": "disk full", "source": "db-1", "severity": "critical"},
        }
        r = httpx.post(f"{url}/v2/enqueue", json=event, timeout=10)
        assert r.status_code == 202, r.text
        assert httpx.post(
            f"{url}/v2/enqueue", json={**event, "routing_key": "0" * 32}, timeout=10
        ).status_code in (400, 401, 404)


def test_a_60_person_account_plans_without_differences_and_reapplies_to_nothing(fresh_database: str) -> None:
    """The issue's realistic size: 60 people, 12 schedules with overrides, 15 policies, 40 services."""
    db = sessions(fresh_database)
    account = pagerduty.generate(41, now=NOW, people=60, schedules=12, policies=15, services=40)
    admin = admin_of(account)
    with pagerduty.PagerDutyServer(account) as server:
        plan, waited = plan_for(server, db)
        assert waited == [1.0]
        creates = {
            k: sum(1 for x in plan.lines if x.kind == k and x.action == "create")
            for k in ("user", "schedule", "escalation_chain", "integration")
        }
        assert creates == {"user": 60, "schedule": 12, "escalation_chain": 15, "integration": 41}
        assert not [w for w in plan.warnings if "differ" in w], plan.warnings
        assert apply(plan, db.begin, NOW, SOURCE, admin) == plan.changes
        again, _ = plan_for(server, db)
    assert again.changes == 0, again.render()
