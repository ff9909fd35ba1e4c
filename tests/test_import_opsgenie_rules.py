"""Opsgenie people's contacts and new-alert rules, maintenance, routing and webhooks, imported once."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from app.alerts import service as alerts
from app.alerts.routing import Rule, parse_matchers, route
from app.directory import service as directory
from app.escalation.queries import dry_run
from app.imports import service as imports
from app.notifications import rules_service
from app.suppression import service as suppression
from app.webhooks import service as webhooks
from importers.apply import apply
from importers.opsgenie import SOURCE, routing
from importers.opsgenie.people import matches
from ingest.sources import opsgenie as opsgenie_source
from tests.loopback import opsgenie
from tests.loopback.workers import sessions
from tests.test_import_oncall import slar_cli
from tests.test_import_opsgenie import NOW, admin_of, plan_for
from tests.test_import_opsgenie_alertmanager import on_call_at


def test_rules_contacts_maintenance_and_webhooks_are_imported_and_the_rest_reported(
    fresh_database: str,
) -> None:
    db = sessions(fresh_database)
    account = opsgenie.generate(21, now=NOW)
    with opsgenie.OpsgenieServer(account, throttle_at=30) as server:
        plan, waited = plan_for(server, db)
        assert waited == [1.0]  # the 429 came in the middle of the people's rules
        assert server.calls_to("/notification-rules") and server.calls_to("/v1/maintenance")
        cannot = {
            (line.kind, line.name): line.reason for line in plan.lines if line.action == "cannot_import"
        }
        first = account["users"][0]["username"]
        assert "mobile app" in cannot[("notification_rules", f"{first} mobile")]
        assert "other than priority" in cannot[("notification_rules", f"{first} rule 'Database alerts'")]
        assert sum(1 for k, _ in cannot if k == "notification_rules" and _.endswith(" mobile")) == 12
        assert "indefinite" in cannot[("maintenance_window", "Forever quiet")]
        assert "policies" in cannot[("maintenance_window", "DB upgrade: policy")]
        assert ("route", "OG Team 0: routing rule Night shift") not in cannot  # notifies a schedule
        assert "time restriction" in cannot[("route", "OG Team 0: routing rule Business hours")]
        assert "custom headers" in cannot[("webhook", "Chat bridge headers")]
        assert not any("Last week" in n for _, n in cannot)  # expired: not even asked for
        assert apply(plan, db.begin, NOW, SOURCE, admin_of(account)) == plan.changes
        assert plan_for(server, db)[0].changes == 0
    with db() as s:
        refs = imports.refs_of(session=s, source=SOURCE)
        og = account["users"][1]
        uid = refs[("user", og["id"])].local_id
        methods = {m.id: (m.kind, m.address) for m in directory.contact_methods_of(session=s, user_id=uid)}
        assert sorted(methods.values()) == [
            ("email", og["username"]),
            ("sms", "+905551000001"),
            ("voice", "+905551000001"),
        ]
        rules = rules_service.rules_of(session=s, user_id=uid)

        def steps(urgency: str) -> list:
            return [
                (r.step, methods[r.contact_method_id][0] if r.contact_method_id else r.minutes)
                for r in rules[urgency]
            ]

        assert steps("default") == [("notify", "email"), ("wait", 5), ("notify", "sms")]
        assert steps("important") == [("notify", "voice"), ("wait", 2), ("notify", "sms")]
        # The team's "Database" rule (message starts with [db], or tagged database) is a route of its
        # own, to a service paging its escalation; its API integration sends matching alerts there.
        team = account["teams"][0]["id"]
        database = next(r for r in account["routing-rules"][team] if r["name"] == "Database")
        api = next(i for i in account["integrations"] if i["type"] == "API")
        route_service = refs[("route", database["id"])].local_id
        routed = alerts.list_routing_rules(
            session=s, integration_id=refs[("integration", api["id"])].local_id
        )
        night = next(r for r in account["routing-rules"][team] if r["name"] == "Night shift")
        night_service = refs[("route", night["id"])].local_id
        assert [r.target_service_id for r in routed] == [night_service, route_service, route_service]
        # "Night shift" notifies the schedule directly: its service's policy pages whoever is on call.
        [paged] = dry_run(session=s, service_id=night_service, at=NOW)
        on_call = on_call_at(account["schedules"][0], NOW)
        assert paged.targets[0].user_ids == (refs[("user", on_call)].local_id,)
        first = dry_run(session=s, service_id=route_service, at=NOW)[0]
        assert first.targets[0].user_ids == (refs[("user", account["users"][1]["id"])].local_id,)
        windows = suppression.list_windows(session=s, now=NOW)
        assert [(w.reason, w.ends_at) for w, _ in windows] == [("DB upgrade", NOW + timedelta(hours=48))]
        hooks = webhooks.list_webhooks(session=s)
        assert [(h.url, h.events) for h in hooks] == [
            ("https://hooks.example.net/opsgenie", ["acknowledged", "note", "resolved", "triggered"])
        ]


def test_priority_criteria() -> None:
    p1 = {
        "type": "match-any-condition",
        "conditions": [{"field": "priority", "operation": "equals", "expectedValue": "P1"}],
    }
    assert matches(p1, "P1") and not matches(p1, "P3")
    negated = {"type": "match-all-conditions", "conditions": [{**p1["conditions"][0], "not": True}]}
    assert matches(negated, "P3") and not matches(negated, "P1")
    assert matches({"type": "match-all"}, "P1") and matches(None, "P3")
    tags = {"type": "match-all-conditions", "conditions": [{"field": "tags", "operation": "contains"}]}
    assert matches(tags, "P1") is None


def test_cli_plan_names_what_it_cannot_carry_and_apply_with_as_creates_the_webhook(
    fresh_database: str,
) -> None:
    account = opsgenie.generate(22, now=datetime.now(UTC) - timedelta(minutes=1), people=10)
    env = {**os.environ, "DATABASE_URL": fresh_database, "PYTHONPATH": os.getcwd()}
    with opsgenie.OpsgenieServer(account, throttle_at=9) as server:
        args = ["import", "opsgenie", "--key", server.key, "--api-url", server.url]
        shown = slar_cli(env, *args)
        assert shown.returncode == 0, shown.stderr
        assert "push to Opsgenie's mobile app cannot be carried over" in shown.stdout
        assert "pass --as with a SLAR admin's e-mail to import outgoing webhooks" in shown.stdout
        assert "maintenance_window: 1 create" in shown.stdout
        assert "the source asked to slow down 1 time(s)" in shown.stdout
        applied = slar_cli(env, *args, "--apply", "--as", admin_of(account), "--json")
        assert applied.returncode == 0, applied.stderr
        data = json.loads(applied.stdout)
        assert data["applied"] == data["changes"] > 0
        kinds = {line["kind"] for line in data["lines"] if line["action"] == "create"}
        assert {"notification_rules", "maintenance_window", "webhook"} <= kinds
        again = slar_cli(env, *args, "--apply", "--as", admin_of(account))
        assert "applied: 0 changes" in again.stdout, again.stdout


def _routes(criteria: dict, body: dict) -> bool:
    """Whether SLAR's router sends an alert sent to the Opsgenie door with this body down the rules."""
    rules, why = routing.rules_of(criteria)
    assert rules is not None, why
    event = opsgenie_source.parse(body)[0]
    parsed = [Rule(parse_matchers(r), target_service_id=2) for r in rules]
    return route(parsed, event, default_service_id=1) == 2


def _cond(field: str, op: str, value: str, negate: bool, **more: str) -> dict:
    return {"field": field, "operation": op, "expectedValue": value, "not": negate, **more}


@pytest.mark.parametrize(
    ("cond", "body", "expected"),
    [
        # A negated condition holds for an alert without the field, as in Opsgenie.
        (_cond("description", "contains", "disk", True), {"message": "m"}, True),
        (_cond("description", "contains", "disk", True), {"message": "m", "description": "disk full"}, False),
        (_cond("description", "contains", "disk", True), {"message": "m", "description": "cpu"}, True),
        (_cond("description", "contains", "disk", False), {"message": "m"}, False),
        (_cond("entity", "equals", "db-1", True), {"message": "m"}, True),
        (_cond("entity", "equals", "db-1", True), {"message": "m", "entity": "db-1"}, False),
        (_cond("alias", "matches", "db-[0-9]+", True), {"message": "m"}, True),
        (_cond("alias", "matches", "db-[0-9]+", True), {"message": "m", "alias": "db-12"}, False),
        (_cond("extra-properties", "starts-with", "eu", True, key="region"), {"message": "m"}, True),
        (
            _cond("extra-properties", "starts-with", "eu", True, key="region"),
            {"message": "m", "details": {"region": "eu-west"}},
            False,
        ),
        (
            _cond("extra-properties", "starts-with", "eu", True, key="region"),
            {"message": "m", "details": {"zone": "b"}},
            True,
        ),
        (_cond("tags", "contains", "db", True), {"message": "m"}, True),
        (_cond("tags", "contains", "db", True), {"message": "m", "tags": ["db"]}, False),
        # Opsgenie gives an alert without a priority P3; so does SLAR's door.
        (_cond("priority", "equals", "P3", True), {"message": "m"}, False),
        (_cond("priority", "equals", "P3", False), {"message": "m"}, True),
        (_cond("priority", "equals", "P1", True), {"message": "m", "priority": "P1"}, False),
    ],
)
def test_negated_conditions_route_as_in_opsgenie(cond: dict, body: dict, expected: bool) -> None:
    assert _routes({"type": "match-all-conditions", "conditions": [cond]}, body) is expected
    assert _routes({"type": "match-any-condition", "conditions": [cond]}, body) is expected


def test_several_negated_conditions_combine_and_too_many_are_reported() -> None:
    both = {
        "type": "match-all-conditions",
        "conditions": [
            _cond("message", "starts-with", "[db]", False),
            _cond("description", "contains", "test", True),
            _cond("entity", "equals", "staging", True),
        ],
    }
    assert _routes(both, {"message": "[db] down"})
    assert _routes(both, {"message": "[db] down", "entity": "prod"})
    assert not _routes(both, {"message": "[db] down", "entity": "staging"})
    assert not _routes(both, {"message": "[db] down", "description": "a test"})
    assert not _routes(both, {"message": "web down"})
    many = {
        "type": "match-all-conditions",
        "conditions": [_cond("alias", "equals", str(n), True) for n in range(5)],
    }
    rules, why = routing.rules_of(many)
    assert rules is None and "32 SLAR rules" in why
