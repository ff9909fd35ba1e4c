"""Grafana OnCall import against a loopback OnCall API: plan, apply, idempotency, the same person on call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.alerts import service as alerts
from app.directory import service as directory
from app.directory.models import Integration, User
from app.imports import service as imports
from app.notifications import rules_service
from app.schedules import service as schedules
from app.suppression.models import MaintenanceWindow
from app.webhooks import service as webhooks
from importers.apply import apply
from importers.oncall import SOURCE, mapping
from importers.oncall import fetch as oncall_fetch
from importers.oncall import schedules as oncall_schedules
from importers.plan import Plan
from importers.shifts import merge
from tests.loopback import oncall
from tests.loopback.workers import sessions

# A window that crosses both the European (25 Oct) and the American (1 Nov) end of summer time.
NOW = datetime(2026, 10, 10, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=90)


@pytest.fixture(scope="module")
def org() -> dict:
    return oncall.generate(19, now=NOW)


def plan_for(
    server: oncall.OnCallServer, db: sessionmaker[Session], with_webhooks: bool = False
) -> tuple[Plan, list[float]]:
    """The plan `slar import oncall` prints (webhooks held back, as without --as, unless asked)."""
    source = oncall_fetch.client(server.url, server.token)
    snapshot = oncall_fetch.fetch(source, NOW)
    source.close()
    with db() as s:
        refs = imports.refs_of(session=s, source=SOURCE)
    plan = mapping.build(snapshot, refs, NOW)
    if not with_webhooks:
        plan.hold("webhook", "no admin to create them")
    return plan, source.waited


def slar_shifts(
    s: Session, schedule_id: int, email_of: dict[int, str], start: datetime, end: datetime | None = None
) -> list:
    """SLAR's final shifts of a schedule over [start, end (default NOW + WINDOW)), merged per person."""
    found = schedules.shifts_between(session=s, schedule_id=schedule_id, start=start, end=end or NOW + WINDOW)
    return merge([(email_of[x.user_id], x.start, x.end) for x in found])


def source_shifts(org: dict, schedule_id: str, start: datetime) -> list:
    """The loopback OnCall's own final shifts over [start, NOW + WINDOW), merged per person."""
    end = NOW + WINDOW
    out = []
    for f in oncall.final_shifts(org, schedule_id, start - timedelta(days=1), end + timedelta(days=1)):
        s, e = datetime.fromisoformat(f["shift_start"]), datetime.fromisoformat(f["shift_end"])
        if e > start and s < end:
            out.append((f["user_email"], max(s, start), min(e, end)))
    return merge(out)


def slar_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from app.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_plan_pages_waits_out_a_429_and_reports_what_cannot_be_imported(
    org: dict, fresh_database: str
) -> None:
    db = sessions(fresh_database)
    with oncall.OnCallServer(org, throttle_at=3) as server:
        plan, waited = plan_for(server, db)
    assert server.throttled and waited == [1.0]  # the 429 mid-import was honoured, not fatal
    assert len(server.calls_to("/users/")) >= 60 // oncall.PAGE + 1  # several pages followed via `next`
    counts = {
        k: sum(1 for line in plan.lines if line.kind == k and line.action == "create")
        for k in ("user", "team", "schedule", "escalation_chain", "integration", "notification_rules")
    }
    assert counts == {
        "user": 60,
        "team": 6,
        "schedule": 12,
        "escalation_chain": 15,
        "integration": 39,
        "notification_rules": 60,
    }
    cannot = [f"{line.name}: {line.reason}" for line in plan.lines if line.action == "cannot_import"]
    assert any("zabbix" in c for c in cannot)  # a type SLAR has no source for
    # OnCall's API does not give phone numbers: one line per person says what to add.
    phone = [c for c in cannot if "OnCall's API has no phone numbers" in c]
    assert len(phone) == sum(1 for u in org["users"] if u["is_phone_number_verified"]) + 1
    assert any(c.startswith("Person 0 (person0@example.org): phone call step not kept") for c in phone)
    assert any(c.startswith("Person 2 (person2@example.org): SMS and phone call step") for c in phone)
    # Person 2 had only phone steps: both their lists are reported as reaching them by e-mail only.
    assert sum(1 for c in cannot if c.startswith("Person 2") and "e-mail only" in c) == 2
    assert any("repeats every 2 months" in c for c in cannot)
    assert any("trigger_webhook" in c for c in cannot) and any("webhook" in c for c in cannot)
    assert any("route 3" in c and "not one {{ expression }}" in c for c in cannot)
    routes = [line for line in plan.lines if line.kind == "route"]
    assert sum(1 for line in routes if line.action == "create") == 5  # one jinja2, four regex routes
    # The quirky schedule's difference is announced before anything is applied; the others match.
    assert [w for w in plan.warnings if "differ" in w] and all(
        "Schedule 11" in w for w in plan.warnings if "differ" in w
    )
    assert "open incidents" in plan.render() and "Import plan from Grafana OnCall: " in plan.render()
    with db() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 0  # a plan writes nothing


def test_apply_puts_the_same_person_on_call_and_a_rerun_changes_nothing(
    org: dict, fresh_database: str
) -> None:
    db = sessions(fresh_database)
    with db.begin() as s:  # someone already in SLAR is matched by e-mail, not duplicated
        directory.create_user(session=s, email="Person3@example.org", name="Already here")
    with oncall.OnCallServer(org, throttle_at=None) as server:
        plan, _ = plan_for(server, db, with_webhooks=True)
        # Schedule 1 hands off monthly (across New York's 1 November change): compared like the rest.
        monthly = next(i for i in plan.items if i.kind == "schedule" and i.name == "Schedule 1")
        assert [la["kind"] for la in monthly.spec["layers"]] == ["weekly", "monthly"]
        admin = next(u["email"] for u in org["users"] if u["role"] == "admin")
        changed = apply(plan, db.begin, NOW, SOURCE, actor=admin)
        assert changed == plan.changes > 0
        again, _ = plan_for(server, db, with_webhooks=True)
    assert again.changes == 0 and "0 changes" in again.render()
    with db() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 60
        refs = imports.refs_of(session=s, source=SOURCE)
        email_of = {u.id: u.email for u in directory.list_users(session=s)}
        quirky = next(x["id"] for x in org["schedules"] if x["name"] == "Schedule 11")
        for sched in org["schedules"]:
            if sched["id"] == quirky:
                continue
            local = refs[("schedule", sched["id"])].local_id
            assert slar_shifts(s, local, email_of, NOW) == source_shifts(org, sched["id"], NOW), sched["name"]
        # Integrations keep their tokens: the OnCall URL's token finds the imported integration.
        first = org["integrations"][0]
        token = first["link"].rstrip("/").rsplit("/", 1)[1]
        found = directory.integration_by_token(session=s, token=token)
        assert found is not None and found.id == refs[("integration", first["id"])].local_id
        assert found.kind == "alertmanager"
        assert s.scalar(select(func.count()).select_from(Integration)) == 39
        # Its routes: the Jinja2 expression and the regex, in order, each to a service with its chain.
        rules = alerts.list_routing_rules(session=s, integration_id=found.id)
        assert [r.matchers for r in rules] == [
            [{"field": "", "op": "expression", "value": 'payload.labels.team == "db"'}],
            [{"field": "raw", "op": "regex", "value": '"severity": "critical"'}],
        ]
        jinja = next(r for r in org["routes"] if r["integration_id"] == first["id"] and r["position"] == 0)
        target = directory.get_service(session=s, service_id=rules[0].target_service_id)
        assert (
            target.escalation_policy_id == refs[("escalation_chain", jinja["escalation_chain_id"])].local_id
        )
        assert target.id == refs[("route", jinja["id"])].local_id and jinja["routing_type"] == "jinja2"
        # Integration 1's maintenance, still in force, is a SLAR maintenance window until the same end.
        paused = org["integrations"][1]
        window = s.get(
            MaintenanceWindow,
            refs[("maintenance_window", f"{paused['id']}@{paused['maintenance_started_at']}")].local_id,
        )
        assert window is not None and window.ends_at == datetime.fromisoformat(paused["maintenance_end_at"])
        assert window.reason == "Grafana OnCall maintenance mode"
        assert not any(
            k == "maintenance_window" and x.startswith(org["integrations"][2]["id"]) for k, x in refs
        )
        hooks = webhooks.list_webhooks(session=s)
        assert sorted(h.url for h in hooks) == sorted(w["url"] for w in org["webhooks"])
        assert all(h.events == ["acknowledged"] for h in hooks)
        # Personal rules: Slack then, five minutes later, e-mail; important pages Slack only.
        person = next(u for u in org["users"] if u["email"] == "person1@example.org")
        rules = rules_service.rules_of(session=s, user_id=refs[("user", person["id"])].local_id)
        assert [(r.step, r.kind, r.minutes) for r in rules["default"]] == [
            ("notify", "slack", 0),
            ("wait", None, 5),
            ("notify", "email", 0),
        ]
        assert [(r.step, r.kind) for r in rules["important"]] == [("notify", "slack")]
        assert imports.origins(session=s, kind="user")[refs[("user", person["id"])].local_id] == (
            f"imported from Grafana OnCall, {person['id']}"
        )


def test_a_changed_rotation_updates_in_place_from_now(org: dict, fresh_database: str) -> None:
    db = sessions(fresh_database)
    small = oncall.generate(7, people=10, schedules=2, chains=2, integrations=2, now=NOW, quirky=False)
    with oncall.OnCallServer(small, throttle_at=None) as server:
        apply(plan_for(server, db)[0], db.begin, NOW, SOURCE)
        rotation = next(s for s in small["on_call_shifts"] if s["type"] == "rolling_users")
        rotation["rolling_users"] = rotation["rolling_users"][::-1]
        plan, _ = plan_for(server, db)
        assert [(line.kind, line.action) for line in plan.lines if line.action == "update"] == [
            ("schedule", "update")
        ]
        apply(plan, db.begin, NOW, SOURCE)
        assert plan_for(server, db)[0].changes == 0
    sched = next(x for x in small["schedules"] if rotation["id"] in x["shifts"])
    with db() as s:
        local = imports.refs_of(session=s, source=SOURCE)[("schedule", sched["id"])].local_id
        email_of = {u.id: u.email for u in directory.list_users(session=s)}
        start = NOW + timedelta(minutes=1)
        ours = slar_shifts(s, local, email_of, start)
    assert ours == source_shifts(small, sched["id"], start)


def test_cli_plan_json_and_the_importers_not_yet_there(fresh_database: str, output_dir: Path) -> None:
    small = oncall.generate(3, people=6, schedules=1, chains=1, integrations=3, now=NOW, quirky=False)
    env = {**os.environ, "DATABASE_URL": fresh_database, "PYTHONPATH": os.getcwd()}
    with oncall.OnCallServer(small, throttle_at=None) as server:
        args = ["import", "oncall", "--url", server.url, "--token", server.token, "--now", NOW.isoformat()]
        out = slar_cli(env, *args, "--json")
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        assert data["changes"] > 0 and any(line["kind"] == "schedule" for line in data["lines"])
        text = slar_cli(env, *args).stdout  # what a person reads before applying
        assert "route: 2 create" in text and "integration: 2 create" in text
        assert "cannot_import Integration 0: route 3" in text and "not one {{ expression }}" in text
        assert "maintenance_window: 1 create" in text
        person2 = next(x for x in text.splitlines() if "cannot_import Person 2 (person2@example.org) (" in x)
        assert "SMS and phone call step not kept" in person2
        assert "add the number as a contact method in SLAR" in text
        applied = slar_cli(env, *args, "--apply")
        assert applied.returncode == 0 and "applied:" in applied.stdout, applied.stderr
        again = slar_cli(env, *args, "--apply")
        assert "applied: 0 changes" in again.stdout and ": 0 changes" in again.stdout.splitlines()[0]
        bad = slar_cli(env, "import", "oncall", "--url", server.url, "--token", "wrong")
        assert bad.returncode == 2 and "401" in bad.stderr


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Grafana OnCall//EN
BEGIN:VEVENT
UID:oncall-ical-1
DTSTAMP:20261001T000000Z
DTSTART:20261012T080000Z
DTEND:20261012T200000Z
RRULE:FREQ=DAILY;COUNT=10
SUMMARY:on call
ATTENDEE:mailto:{email}
END:VEVENT
END:VCALENDAR
"""


def test_an_ical_only_schedule_is_imported_as_an_ical_layer(fresh_database: str) -> None:
    db = sessions(fresh_database)
    small = oncall.generate(5, people=4, schedules=1, chains=1, integrations=1, now=NOW, quirky=False)
    body = ICS.format(email=small["users"][2]["email"]).replace("\n", "\r\n").encode()

    class Calendar(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("Content-Type", "text/calendar")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Calendar)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/ical/primary.ics"
    small["schedules"].append(
        {
            "id": "SICAL0000001",
            "name": "Calendar rota",
            "type": "ical",
            "team_id": None,
            "time_zone": "UTC",
            "ical_url_primary": url,
            "ical_url_overrides": url,
        }
    )
    try:
        with oncall.OnCallServer(small, throttle_at=None) as api:
            plan = plan_for(api, db)[0]
            assert any("overrides calendar is not imported" in line.reason for line in plan.lines)
            apply(plan, db.begin, NOW, SOURCE)
    finally:
        server.shutdown()
    with db() as s:
        local = imports.refs_of(session=s, source=SOURCE)[("schedule", "SICAL0000001")].local_id
        email_of = {u.id: u.email for u in directory.list_users(session=s)}
        on = slar_shifts(
            s, local, email_of, datetime(2026, 10, 12, tzinfo=UTC), datetime(2026, 10, 13, tzinfo=UTC)
        )
    start = datetime(2026, 10, 12, 8, tzinfo=UTC)
    assert on == [(small["users"][2]["email"], start, start + timedelta(hours=12))]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({}, None),
        ({"duration": 86400 * 30}, "imported as whole months"),
        ({"start": "2026-01-29T09:00:00"}, "hands off on day 29"),
        ({"duration": 86400 * 7}, "on 7 days a month"),
        ({"interval": 3}, "every 3 months"),
    ],
)
def test_monthly_rotations_map_to_monthly_layers_or_say_why_not(change: dict, why: str | None) -> None:
    shift = {
        "id": "OMONTH",
        "name": "Monthly",
        "type": "rolling_users",
        "level": 1,
        "start": "2026-01-15T09:00:00",
        "duration": 86400 * 31,
        "frequency": "monthly",
        "interval": 1,
        "rolling_users": [["UA"], ["UB"]],
    } | change
    layer, notes = oncall_schedules.map_rotation(shift, "Europe/Berlin", {"UA", "UB"})
    if why is None or "whole months" in why:
        assert layer is not None and layer["kind"] == "monthly" and layer["members"] == ["UA", "UB"]
    else:
        assert layer is None
    assert (why is None and not notes) or any(why in n for n in notes), notes


def test_a_person_with_no_step_that_maps_is_reported_once_per_cause_and_list() -> None:
    ada = {"id": "U1", "email": "Ada@example.org", "name": "Ada", "is_phone_number_verified": True}
    rules = [
        {"id": "N1", "user_id": "U1", "type": "notify_by_slack", "position": 0},
        {"id": "N2", "user_id": "U1", "type": "notify_by_sms", "position": 1},
        {"id": "N3", "user_id": "U1", "type": "notify_by_phone_call", "position": 0, "important": True},
    ]
    skipped: list = []
    (item,) = mapping._rules(rules, {"U1": ada}, skipped)
    assert item.spec["default"] == [] and item.spec["important"] == []
    assert [(line.name, line.reason.split(":")[0]) for line in skipped] == [
        ("Ada (Ada@example.org)", "SMS and phone call step not kept"),
        ("Ada (Ada@example.org) notify_by_slack", "step not kept"),
        ("Ada (Ada@example.org) default", "no default step of theirs could be imported"),
        ("Ada (Ada@example.org) important", "no important step of theirs could be imported"),
    ]
    assert "(verified in OnCall)" in skipped[0].reason and "no Slack account" in skipped[1].reason
