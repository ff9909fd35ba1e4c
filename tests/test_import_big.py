"""Opsgenie and PagerDuty imports of realistic accounts (60 people, 12 schedules with overrides, 15
policies, 40 integrations; several pages, a 429 mid-import): the same person is on call in SLAR as at
the source, minute for minute over 90 days that cross the end of summer time, for every schedule."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from sqlalchemy import func, select

from app.directory import service as directory
from app.directory.models import User
from app.escalation.queries import dry_run
from app.imports import service as imports
from importers.apply import apply
from importers.opsgenie import SOURCE as OG
from importers.pagerduty import SOURCE as PD
from importers.pagerduty import fetch as pd_fetch
from importers.pagerduty import mapping as pd_mapping
from importers.plan import Plan
from importers.shifts import difference, merge, parse_instant
from tests import test_import_opsgenie as og_test
from tests import test_import_pagerduty as pd_test
from tests.loopback import opsgenie, opsgenie_org, pagerduty
from tests.loopback.workers import sessions
from tests.test_import_oncall import WINDOW, slar_cli, slar_shifts
from tests.test_import_opsgenie_alertmanager import on_call_at


def created(plan: Plan, kind: str) -> int:
    return sum(1 for line in plan.lines if line.kind == kind and line.action == "create")


def differ(plan: Plan) -> list[str]:
    return [w for w in plan.warnings if "differ" in w]


def test_a_big_opsgenie_account_puts_the_same_person_on_call_in_every_schedule(
    fresh_database: str,
) -> None:
    db = sessions(fresh_database)
    now = og_test.NOW
    account = opsgenie_org.generate(19, now=now)
    quirky = next(
        s
        for s in account["schedules"]
        if any(p["type"] == "none" for r in s["rotations"] for p in r["participants"])
    )
    with opsgenie.OpsgenieServer(account, throttle_at=150) as server:
        plan, waited = og_test.plan_for(server, db)
        assert waited == [1.0] and server.throttled == 1  # honoured mid-import, not fatal
        assert len(server.calls_to("/v2/users")) >= 60 // opsgenie.PAGE  # paging.next followed
        api = [i for i in account["integrations"] if i["type"] == "API"]
        # Routing rules that notify a schedule directly get a policy paging that schedule, one each.
        notified = {
            r["notify"]["id"]
            for rules in account["routing-rules"].values()
            for r in rules
            if r["notify"]["type"] == "schedule"
        }
        assert len(notified) == 3
        assert {
            k: created(plan, k) for k in ("user", "team", "schedule", "escalation_chain", "integration")
        } == {
            "user": 60,
            "team": 6,
            "schedule": 12,
            "escalation_chain": 15 + len(notified),
            "integration": len(api),
        }
        cannot = {line.name for line in plan.lines if line.action == "cannot_import"}
        assert {i["name"] for i in account["integrations"] if i["type"] not in ("API", "Webhook")} <= cannot
        # The one schedule SLAR cannot follow (an empty turn) is announced before anything is applied.
        assert [w.split(":")[0] for w in differ(plan)] == [f"schedule {quirky['name']!r}"]
        # OG Schedule 2's winning rotation ends in 40 days: its layer ends then, or SLAR would differ.
        ending = next(i for i in plan.items if i.kind == "schedule" and i.name == "OG Schedule 2")
        assert [la["name"] for la in ending.spec["layers"] if "until" in la] == ["Rotation 2.0"]
        endless = {
            **ending.spec,
            "layers": [{k: v for k, v in la.items() if k != "until"} for la in ending.spec["layers"]],
        }
        theirs = [
            (p["recipient"]["id"], parse_instant(p["startDate"]), parse_instant(p["endDate"]))
            for p in opsgenie.timeline(account["schedules"][2], now, now + WINDOW)
        ]
        assert difference(ending.spec, merge(theirs), now, "Opsgenie") is None
        assert difference(endless, merge(theirs), now, "Opsgenie") is not None
        assert apply(plan, db.begin, now, OG, og_test.admin_of(account)) == plan.changes
        again, _ = og_test.plan_for(server, db)
    assert again.changes == 0, [line for line in again.lines if line.action in ("create", "update")]
    with db() as s:
        refs = imports.refs_of(session=s, source=OG)
        email_of = {u.id: u.email for u in directory.list_users(session=s)}
        og_email = {u["id"]: u["username"] for u in account["users"]}
        for sched in account["schedules"]:
            theirs = merge(
                [
                    (
                        og_email[p["recipient"]["id"]],
                        datetime.fromisoformat(p["startDate"]),
                        datetime.fromisoformat(p["endDate"]),
                    )
                    for p in opsgenie.timeline(sched, now, now + WINDOW)
                ]
            )
            ours = slar_shifts(s, refs[("schedule", sched["id"])].local_id, email_of, now, now + WINDOW)
            if sched is quirky:
                assert ours != theirs  # as the plan warned
            else:
                assert ours == theirs, sched["name"]
        services = {}
        for i in api:  # every API integration's key is a GenieKey SLAR's /v2/alerts accepts
            found = directory.integration_by_token(session=s, token=i["apiKey"])
            assert found is not None and found.id == refs[("integration", i["id"])].local_id
            services[i["ownerTeam"]["id"]] = found.service_id
        # Team 5's default rule and team 3's "[page]" rule notify a schedule directly: the service each
        # pages (the integration's own, the route's) has a policy paging whoever it has on call.
        for n, name in ((5, None), (3, "Page the schedule")):
            team = account["teams"][n]["id"]
            rule = next(
                r for r in account["routing-rules"][team] if r["name"] == name or not name and r["isDefault"]
            )
            assert rule["notify"]["type"] == "schedule"
            service = refs[("route", rule["id"])].local_id if name else services[team]
            sched = next(x for x in account["schedules"] if x["id"] == rule["notify"]["id"])
            [paged] = dry_run(session=s, service_id=service, at=now)
            assert paged.targets[0].user_ids == (refs[("user", on_call_at(sched, now))].local_id,), n


def test_the_opsgenie_plan_prints_the_difference_as_a_warning_and_writes_nothing(fresh_database: str) -> None:
    now = og_test.NOW
    account = opsgenie_org.generate(20, now=now, people=20, schedules=4, escalations=4, integrations=6)
    env = {**os.environ, "DATABASE_URL": fresh_database, "PYTHONPATH": os.getcwd()}
    with opsgenie.OpsgenieServer(account, throttle_at=None) as server:
        args = ["import", "opsgenie", "--key", server.key, "--api-url", server.url, "--now", now.isoformat()]
        done = slar_cli(env, *args)
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stdout.splitlines() if line.startswith("warning:") and "differ" in line]
    assert len(warned) == 1 and "'OG Schedule 3'" in warned[0], done.stdout
    with sessions(fresh_database)() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0


def test_a_big_pagerduty_account_puts_the_same_person_on_call_in_every_schedule(
    fresh_database: str,
) -> None:
    db = sessions(fresh_database)
    now = pd_test.NOW
    account = pagerduty.big(19, now=now)
    admin = pd_test.admin_of(account)
    with pagerduty.PagerDutyServer(account, throttle_at=60, limit=25) as server:
        plan, waited = pd_test.plan_for(server, db)
        assert waited == [1.0] and server.throttled == 1
        assert len(server.calls_to("/users")) >= 3  # 60 people at 25 a page: limit/offset/more followed
        keys = [i for svc in account["services"] for i in svc["integrations"] if "integration_key" in i]
        assert {k: created(plan, k) for k in ("user", "schedule", "escalation_chain", "integration")} == {
            "user": 60,
            "schedule": 12,
            "escalation_chain": 15,
            "integration": len(keys),
        }
        assert not differ(plan), plan.warnings
        assert apply(plan, db.begin, now, PD, admin) == plan.changes
        again, _ = pd_test.plan_for(server, db)
    assert again.changes == 0
    with db() as s:
        refs = imports.refs_of(session=s, source=PD)
        email_of = {u.id: u.email for u in directory.list_users(session=s)}
        pd_email = {u["id"]: u["email"] for u in account["users"]}
        for sched in account["schedules"]:
            theirs = merge(
                [
                    (
                        pd_email[e["user"]["id"]],
                        datetime.fromisoformat(e["start"]),
                        datetime.fromisoformat(e["end"]),
                    )
                    for e in pagerduty.render(sched, now, now + WINDOW)
                ]
            )
            local = refs[("schedule", sched["id"])].local_id
            assert slar_shifts(s, local, email_of, now, now + WINDOW) == theirs, sched["name"]
        for i in keys:  # each integration key works as the routing_key on /v2/enqueue
            assert directory.integration_by_token(session=s, token=i["integration_key"]) is not None


def test_a_plan_made_seconds_into_a_minute_compares_from_that_instant() -> None:
    """The source renders from the very instant it is asked about; the seconds before are no difference."""
    now = pd_test.NOW + timedelta(seconds=45, microseconds=500)
    account = pagerduty.generate(5, now=now, schedules=2)
    with pagerduty.PagerDutyServer(account, throttle_at=None) as server:
        source = pd_fetch.client(server.token, server.url)
        plan = pd_mapping.build(pd_fetch.fetch(source, now), {}, now)
        source.close()
    assert not differ(plan), plan.warnings
    first = pagerduty.render(account["schedules"][0], now, now + WINDOW)[0]
    assert datetime.fromisoformat(first["start"]) == now  # what the comparison must start from
