"""A re-run makes SLAR match the source: contact methods, rule steps and memberships dropped there go.

Only what an import created is removed; what someone added in SLAR by hand stays.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from app.directory import service as directory
from app.imports import service as imports
from app.notifications import rules_service
from importers.pagerduty import SOURCE
from tests.loopback import pagerduty
from tests.loopback.workers import sessions
from tests.test_import_oncall import slar_cli


def _state(db, account: dict, n: int) -> tuple[set, dict, dict]:  # type: ignore[no-untyped-def]
    """Person n's contact methods, their lists as (step, kind) and every team's members, in SLAR."""
    with db() as s:
        refs = imports.refs_of(session=s, source=SOURCE)
        user_id = refs[("user", account["users"][n]["id"])].local_id
        methods = {
            m.id: (m.kind, m.address) for m in directory.contact_methods_of(session=s, user_id=user_id)
        }
        lists = {
            urgency: [
                (x.step, methods[x.contact_method_id][0] if x.contact_method_id else x.minutes) for x in steps
            ]
            for urgency, steps in rules_service.rules_of(session=s, user_id=user_id).items()
        }
        teams = {
            t.name: {u.email for u, _ in directory.team_members(session=s, team_id=t.id)}
            for t in directory.list_teams(session=s)
        }
    return set(methods.values()), lists, teams


def test_a_rerun_removes_what_the_source_dropped_and_keeps_what_was_made_by_hand(fresh_database: str) -> None:
    db = sessions(fresh_database)
    account = pagerduty.generate(23, now=datetime.now(UTC), people=6, schedules=1)
    env = {**os.environ, "DATABASE_URL": fresh_database, "PYTHONPATH": os.getcwd()}
    person, teams = account["users"][1], account["teams"]
    with pagerduty.PagerDutyServer(account, throttle_at=None) as server:
        args = ["import", "pagerduty", "--token", server.token, "--api-url", server.url]
        first = slar_cli(env, *args, "--apply")
        assert first.returncode == 0, first.stderr
        methods, lists, members = _state(db, account, 1)
        assert ("voice", "+15550100001") in methods and ("sms", "+447700900001") in methods
        assert lists["important"] == [("notify", "email"), ("wait", 5), ("notify", "voice")]
        assert person["email"] in members["PD Team 1"]
        # By hand in SLAR: a second phone for the person, and someone else in PD Team 1.
        with db.begin() as s:
            refs = imports.refs_of(session=s, source=SOURCE)
            user_id = refs[("user", person["id"])].local_id
            directory.add_contact_method(session=s, user_id=user_id, kind="voice", address="+15550199999")
            team_id = refs[("team", teams[1]["id"])].local_id
            other = refs[("user", account["users"][0]["id"])].local_id
            directory.add_member(session=s, team_id=team_id, user_id=other)
        # At the source: the phone and the SMS number go (and the phone's step), and the person
        # moves from PD Team 1 to PD Team 2.
        phone = next(cm for cm in person["contact_methods"] if cm["type"] == "phone_contact_method")
        person["contact_methods"] = [
            cm
            for cm in person["contact_methods"]
            if cm["type"] not in ("phone_contact_method", "sms_contact_method")
        ]
        person["notification_rules"] = [
            r for r in person["notification_rules"] if r["contact_method"]["id"] != phone["id"]
        ]
        person["teams"] = [{"id": teams[2]["id"], "type": "team_reference"}]

        planned = slar_cli(env, *args)
        assert planned.returncode == 0, planned.stderr
        out = planned.stdout
        assert "remove responder1@example.com voice +15550100001" in out, out
        assert "remove responder1@example.com sms +447700900001" in out
        assert "remove PD Team 1: responder1@example.com" in out
        assert out.count("gone at the source: will be deleted") == 3
        assert "+15550199999" not in out and "PD Team 1: responder0" not in out  # made by hand: kept
        as_json = json.loads(slar_cli(env, *args, "--json").stdout)
        removes = [x for x in as_json["lines"] if x["action"] == "remove"]
        assert sorted(x["kind"] for x in removes) == ["contact_method", "contact_method", "membership"]

        applied = slar_cli(env, *args, "--apply")
        assert f"applied: {as_json['changes']} changes" in applied.stdout, applied.stdout + applied.stderr
        methods, lists, members = _state(db, account, 1)
        assert methods == {("email", "responder1@example.com"), ("voice", "+15550199999")}
        assert lists["important"] == [("notify", "email")]
        assert person["email"] not in members["PD Team 1"] and person["email"] in members["PD Team 2"]
        assert account["users"][0]["email"] in members["PD Team 1"]  # added by hand: stays

        again = slar_cli(env, *args)
        assert "0 changes" in again.stdout and "remove" not in again.stdout, again.stdout
