"""Opsgenie import against a loopback REST API v2: paging, a 429, the same person on call, kept keys."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from app.directory import service as directory
from app.escalation import service as escalation
from app.imports import service as imports
from importers.apply import apply
from importers.opsgenie import SOURCE, mapping
from importers.opsgenie import fetch as og_fetch
from importers.plan import Plan
from importers.shifts import merge
from tests.loopback import opsgenie
from tests.loopback.workers import sessions
from tests.test_import_oncall import WINDOW, slar_cli, slar_shifts

# Crosses the end of summer time in Europe (25 Oct).
NOW = datetime(2026, 10, 14, 9, 0, tzinfo=UTC)


def admin_of(account: dict) -> str:
    """An Opsgenie admin's e-mail: imported as a SLAR admin, who then creates the outgoing webhooks."""
    return next(u["username"] for u in account["users"] if u["role"]["name"] == "Admin")


def plan_for(server: opsgenie.OpsgenieServer, db) -> tuple[Plan, list[float]]:  # type: ignore[no-untyped-def]
    source = og_fetch.client(server.key, server.url)
    snapshot = og_fetch.fetch(source, NOW)
    source.close()
    with db() as s:
        refs = imports.refs_of(session=s, source=SOURCE)
    return mapping.build(snapshot, refs, NOW), source.waited


def test_opsgenie_plan_apply_rerun_and_the_same_person_on_call(fresh_database: str) -> None:
    db = sessions(fresh_database)
    account = opsgenie.generate(11, now=NOW)
    with opsgenie.OpsgenieServer(account) as server:
        plan, waited = plan_for(server, db)
        assert waited == [1.0] and server.throttled == 1
        assert len(server.calls_to("/v2/users")) >= 3  # 12 users, 5 a page, following paging.next
        assert not [w for w in plan.warnings if "differ" in w], plan.warnings
        assert any("'EU nights' has a time restriction crossing midnight" in w for w in plan.warnings)
        cannot = [f"{line.name}: {line.reason}" for line in plan.lines if line.action == "cannot_import"]
        assert any("Team on call" in c and "participants other than users" in c for c in cannot)
        assert any("type Email has no SLAR door" in c for c in cannot)
        assert apply(plan, db.begin, NOW, SOURCE, admin_of(account)) == plan.changes
        assert plan_for(server, db)[0].changes == 0
    with db() as s:
        refs = imports.refs_of(session=s, source=SOURCE)
        email_of = {u.id: u.email for u in directory.list_users(session=s)}
        og_email = {u["id"]: u["username"] for u in account["users"]}
        sched = account["schedules"][0]
        theirs = merge(
            [
                (
                    og_email[p["recipient"]["id"]],
                    datetime.fromisoformat(p["startDate"]),
                    datetime.fromisoformat(p["endDate"]),
                )
                for p in opsgenie.timeline(sched, NOW, NOW + WINDOW)
            ]
        )
        local = refs[("schedule", sched["id"])].local_id
        assert slar_shifts(s, local, email_of, NOW, NOW + WINDOW) == theirs
        policy = escalation.snapshot_policy(
            session=s, policy_id=refs[("escalation_chain", account["escalations"][0]["id"])].local_id
        )
        assert policy is not None and policy["repeat_count"] == 2
        assert [(lv["delay_minutes"], [t["kind"] for t in lv["targets"]]) for lv in policy["levels"]] == [
            (10, ["schedule"]),
            (20, ["user"]),
            (0, ["team"]),
        ]
        key = account["integrations"][0]["apiKey"]
        found = directory.integration_by_token(session=s, token=key)
        assert found is not None and found.kind == "opsgenie"


def test_opsgenie_cli_applies_once(fresh_database: str) -> None:
    account = opsgenie.generate(12, now=datetime.now(UTC) - timedelta(minutes=1), people=10)
    env = {**os.environ, "DATABASE_URL": fresh_database, "PYTHONPATH": os.getcwd()}
    with opsgenie.OpsgenieServer(account, throttle_at=None) as server:
        args = ["import", "opsgenie", "--key", server.key, "--api-url", server.url]
        first = slar_cli(env, *args, "--apply")
        assert first.returncode == 0 and "applied:" in first.stdout, first.stderr
        assert "note: open alerts are not imported: close them in Opsgenie" in first.stdout
        assert "note: imported people have no password" in first.stdout
        assert "applied: 0 changes" in slar_cli(env, *args, "--apply").stdout
        bad = slar_cli(env, "import", "opsgenie", "--key", "nope", "--api-url", server.url)
        assert bad.returncode == 2 and "Could not authenticate" in bad.stderr
