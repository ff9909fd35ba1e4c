"""Built-in agent tools over the app services: refusals naming the field, user rights, on-call, http."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import pytest

from agent.approval import ApprovalGate, ToolRequest, compose
from agent.policies import Caller
from agent.store import DbGateStore
from agent.tools import READ_ONLY_TOOLS, NotApproved, builtin_tools, get_incident
from agent.workbench import DeclaredWorkbench, GatedWorkbench
from app.assistant import service as records
from app.db import session_scope
from app.directory.service import get_service
from app.escalation.service import LevelSpec, TargetSpec, create_policy
from app.incidents import service as incidents
from app.schedules.service import add_layer, create_schedule
from tests import factories
from tests.loopback._http import Call, LoopbackServer
from tests.test_agent_support import make_world

pytestmark = pytest.mark.usefixtures("database_url")


def bench(caller: Caller, team_id: int | None = None) -> GatedWorkbench:
    # http_check is declared read-only here only so these tests can run it without a human.
    gate = ApprovalGate(store=DbGateStore(), approval_func=compose())
    return GatedWorkbench(
        [DeclaredWorkbench(builtin_tools(), READ_ONLY_TOOLS | {"http_check"})],
        gate,
        lambda tool, args, cid: ToolRequest(
            tool, args, caller=caller, incident_id=args.get("incident_id"), team_id=team_id
        ),
    )


def use(caller: Caller, tool: str, team_id: int | None = None, **arguments: object) -> dict:
    return json.loads(asyncio.run(bench(caller, team_id).call_tool(tool, arguments)).to_text())


def test_tools_never_run_outside_the_gate() -> None:
    with pytest.raises(NotApproved):
        asyncio.run(get_incident(1))


def test_refusals_name_the_field() -> None:
    world = make_world()
    caller = Caller(world.user_id, "responder")
    assert use(caller, "get_incident", incident_id=10**9)["field"] == "incident_id"
    assert use(caller, "list_open_incidents", limit=0)["field"] == "limit"
    assert use(caller, "http_check", url="ftp://example.test")["field"] == "url"


def test_writes_act_with_the_users_rights_and_record_who_approved() -> None:
    world = make_world()
    with session_scope() as s:
        admin = factories.user(s, role="admin")
        outsider = factories.user(s)
        team_id = get_service(session=s, service_id=world.service_id).team_id
        rule = records.create_policy(
            session=s,
            by=admin.id,
            subject_kind="*",
            tool_pattern="add_incident_note",
            effect="allow",
            team_id=team_id,
        )
    note = use(
        Caller(world.user_id, "responder"),
        "add_incident_note",
        team_id=team_id,
        incident_id=world.incident_id,
        text="checking db-1",
    )
    assert isinstance(note, int)
    refused = use(
        Caller(outsider.id, "responder"),
        "add_incident_note",
        team_id=team_id,
        incident_id=world.incident_id,
        text="x",
    )
    assert refused["field"] == "by"  # not on the service's team: the incidents service refuses
    with session_scope() as s:
        events = incidents.timeline(session=s, incident_id=world.incident_id)
        records.delete_policy(session=s, by=admin.id, policy_id=rule.id)
    notes = [e for e in events if e.kind == "note"]
    actions = [e for e in events if e.kind == "agent_action"]
    assert [(n.data["text"], n.actor, n.actor_user_id) for n in notes] == [
        ("checking db-1", "agent", world.user_id)
    ]
    assert [(a.data["tool"], a.data["approved_by"]) for a in actions] == [
        ("add_incident_note", f"policy:{rule.id}")
    ]


def test_who_is_on_call_names_the_people() -> None:
    world = make_world()
    with session_scope() as s:
        alice = factories.user(s, name="Alice Oncall")
        schedule = create_schedule(session=s, name=f"Primary {factories.n()}", time_zone="UTC")
        add_layer(
            session=s,
            schedule_id=schedule.id,
            member_ids=[alice.id],
            rotation_kind="weekly",
            handoff_anchor=datetime(2020, 1, 6, 9, 0),
        )
    caller = Caller(world.user_id, "responder")
    assert use(caller, "who_is_on_call", schedule_id=schedule.id) == [
        {"schedule_id": schedule.id, "user_id": alice.id, "name": "Alice Oncall"}
    ]
    with session_scope() as s:
        policy = create_policy(
            session=s,
            name=f"Via schedule {factories.n()}",
            levels=[
                LevelSpec(delay_minutes=5, targets=[TargetSpec(kind="schedule", schedule_id=schedule.id)])
            ],
        )
        service = factories.service(s, policy_id=policy.id)
        paged = incidents.trigger_or_group(
            session=s, service_id=service.id, dedup_key="k", alert=factories.alert()
        )
    by_incident = use(caller, "who_is_on_call", incident_id=paged.incident.id)
    assert [(r["schedule_id"], r["name"]) for r in by_incident] == [(schedule.id, "Alice Oncall")]
    assert use(caller, "who_is_on_call")["field"] == "schedule_id"


def test_http_check_reports_status() -> None:
    class Health(LoopbackServer):
        def handle(self, call: Call) -> tuple[int, dict]:
            return (200, {"ok": True}) if call.path == "/health" else (503, {"ok": False})

    with Health() as server:
        up = use(Caller(1, "responder"), "http_check", url=f"http://127.0.0.1:{server.port}/health")
        down = use(Caller(1, "responder"), "http_check", url=f"http://127.0.0.1:{server.port}/other")
    assert (up["ok"], up["status"], down["ok"], down["status"]) == (True, 200, False, 503)
    closed = use(Caller(1, "responder"), "http_check", url="http://127.0.0.1:9/")
    assert closed["ok"] is False and closed["error"]
