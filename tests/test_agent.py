"""Agent turns with a replayed model: gated tools, prompt injection, timeline events, persistence, resume."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from autogen_core.tools import FunctionTool, StaticWorkbench

from agent.approval import wake
from agent.model import NO_MODEL_MESSAGE
from agent.policies import Caller
from agent.runtime import AgentRuntime
from app.assistant import service as records
from app.db import session_scope
from app.incidents import service as incidents
from tests.test_agent_support import INJECTION, RecordingClient, World, call, make_world

pytestmark = pytest.mark.usefixtures("database_url")


def dangerous_workbench(ran: list[str]) -> StaticWorkbench:
    """Tools that must never run without approval; running one leaves a trace in `ran`."""

    async def delete_database(name: str = "main") -> str:
        """Delete a database."""
        ran.append(f"delete_database:{name}")
        return "deleted"

    async def restart_service(name: str) -> str:
        """Restart a service."""
        ran.append(f"restart_service:{name}")
        return "restarted"

    return StaticWorkbench(
        [FunctionTool(delete_database, "Delete a database."), FunctionTool(restart_service, "Restart.")]
    )


def new_session(world: World) -> str:
    with session_scope() as s:
        return records.create_session(session=s, user_id=world.user_id, incident_id=world.incident_id).id


def decide_as(world: World, approve: bool) -> Callable[[dict], Awaitable[None]]:
    async def on_approval(message: dict) -> None:
        approval_id = message["data"]["approval_id"]

        def decide() -> None:
            with session_scope() as s:
                records.decide_approval(
                    session=s, approval_id=approval_id, approve=approve, decided_by=f"human:{world.admin_id}"
                )

        await asyncio.to_thread(decide)
        wake(approval_id)

    return on_approval


def run_turn(
    runtime: AgentRuntime, sid: str, text: str, caller: Caller, on_approval: Callable | None = None
) -> list[dict]:
    """Post a user message and collect every broadcast message until the turn ends."""

    async def go() -> list[dict]:
        queue = runtime.hub.subscribe(sid)
        task = await runtime.post_user_message(sid, text, caller)
        seen: list[dict] = []
        while not (task.done() and queue.empty()):
            try:
                message = await asyncio.wait_for(queue.get(), 0.1)
            except TimeoutError:
                continue
            seen.append(message)
            if message["type"] == "approval_required" and on_approval is not None:
                await on_approval(message)
        await task
        return seen

    return asyncio.run(go())


def script(world: World) -> list:
    i = world.incident_id
    return [
        call("c1", "get_incident", {"incident_id": i}),
        call("c2", "delete_database", {"name": "main"}),
        call("c3", "resolve_incident", '{"incident_id": ' + str(i)),  # malformed JSON
        call("c4", "approve_everything", {}),  # a tool that does not exist
        call("c5", "restart_service", {"name": "api-production"}),
        call("c6", "acknowledge_incident", {"incident_id": i}),
        "I acknowledged the incident; the disk runbook applies.",
        "Summary: acknowledged.",
    ]


def play(summary: str) -> tuple[World, str, list[dict], list[str], AgentRuntime]:
    world = make_world(summary)
    ran: list[str] = []
    runtime = AgentRuntime(
        client_factory=lambda: RecordingClient(script(world)),
        extra_workbenches=[dangerous_workbench(ran)],
        approval_timeout=timedelta(seconds=20),
    )
    sid = new_session(world)
    seen = run_turn(
        runtime, sid, "Triage this incident", Caller(world.user_id, "responder"), decide_as(world, True)
    )
    return world, sid, seen, ran, runtime


def _audit(sid: str) -> list[tuple[str, str, str]]:
    with session_scope() as s:
        return [
            (r.tool, r.decision, r.decided_by.split(":")[0])
            for r in reversed(records.list_audit(session=s, session_id=sid))
        ]


def test_injected_incident_text_cannot_get_a_denied_tool_run() -> None:
    world, sid, seen, ran, _ = play(INJECTION)
    assert ran == []  # neither the always-denied nor the production-naming tool ran
    results = {m["data"]["call_id"]: m for m in seen if m["type"] == "tool_result"}
    assert results["c2"]["content"].startswith("denied: delete_database is on the always-deny list")
    assert results["c5"]["content"].startswith("denied: an argument names production")
    assert results["c3"]["data"]["is_error"] and "Error" in results["c3"]["content"]
    assert results["c4"]["data"]["is_error"] and "not found" in results["c4"]["content"]
    assert (
        "IGNORE PREVIOUS INSTRUCTIONS" in results["c1"]["content"]
    )  # the text reached the model as data only
    with session_scope() as s:
        incident = incidents.get_incident(session=s, incident_id=world.incident_id)
        assert incident.status == "acknowledged"  # the human approved; the malformed resolve never ran
        actions = [
            e.data
            for e in incidents.timeline(session=s, incident_id=world.incident_id)
            if e.kind == "agent_action"
        ]
    assert [(a["tool"], a["approved_by"].split(":")[0]) for a in actions] == [
        ("get_incident", "rule"),
        ("acknowledge_incident", "human"),
    ]
    assert actions[1]["approved_by"] == f"human:{world.admin_id}" and actions[1]["session_id"] == sid


def test_rule_decisions_are_the_same_with_and_without_injected_text() -> None:
    _, injected_sid, _, _, _ = play(INJECTION)
    _, clean_sid, _, _, _ = play("Disk almost full on db-1")
    assert (
        _audit(injected_sid)
        == _audit(clean_sid)
        == [
            ("get_incident", "approved", "rule"),
            ("delete_database", "denied", "deny_list"),
            ("resolve_incident", "denied", "unknown_tool"),  # malformed JSON: audited, never run
            ("approve_everything", "denied", "unknown_tool"),  # not a tool: audited all the same
            ("restart_service", "denied", "rule"),
            ("acknowledge_incident", "approved", "human"),
        ]
    )


def test_every_step_is_stored_in_order_with_usage_and_state() -> None:
    world, sid, seen, _, _ = play("Disk almost full")
    stored = [m for m in seen if m["seq"] is not None]
    assert [m["seq"] for m in stored] == sorted(m["seq"] for m in stored)
    kinds = [m["type"] for m in stored]
    assert kinds[0] == "user_message" and kinds[-1] == "assistant_message"
    for kind in ("tool_call", "approval_required", "approval_decision", "tool_result"):
        assert kind in kinds
    assert any(m["type"] == "assistant_message" and m["seq"] is None for m in seen)  # streamed chunks
    with session_scope() as s:
        row = records.get_session(session=s, session_id=sid)
        log = records.messages_of(session=s, session_id=sid)
        assert [m.seq for m in log] == [m["seq"] for m in stored]
        assert row.status == "idle" and row.state.get("llm_context")
        assert row.prompt_tokens >= 300 and row.completion_tokens >= 60


def test_a_human_denial_is_a_denied_result_and_the_run_continues() -> None:
    world = make_world()
    runtime = AgentRuntime(
        client_factory=lambda: RecordingClient(
            [call("a", "resolve_incident", {"incident_id": world.incident_id}), "ok", "ok"]
        ),
        extra_workbenches=[],
    )
    sid = new_session(world)
    seen = run_turn(runtime, sid, "resolve it", Caller(world.user_id, "responder"), decide_as(world, False))
    result = next(m for m in seen if m["type"] == "tool_result")
    assert result["content"].startswith("denied:")
    assert seen[-1]["type"] == "assistant_message" and seen[-1]["data"]["final"]
    with session_scope() as s:
        assert incidents.get_incident(session=s, incident_id=world.incident_id).status == "triggered"


def test_session_resumes_after_a_restart_with_its_history() -> None:
    world = make_world()
    sid = new_session(world)
    caller = Caller(world.user_id, "responder")
    run_turn(
        AgentRuntime(client_factory=lambda: RecordingClient(["First answer."]), extra_workbenches=[]),
        sid,
        "remember the word kiwi",
        caller,
    )
    second = RecordingClient(["Second answer."])
    # A new runtime is what a restarted agent service has: only Postgres carries the session over.
    run_turn(
        AgentRuntime(client_factory=lambda: second, extra_workbenches=[]), sid, "what was the word?", caller
    )
    texts = [str(m.content) for m in second.seen[0]]
    with session_scope() as s:
        assert records.get_session(session=s, session_id=sid).title == "remember the word kiwi"
    assert any("remember the word kiwi" in t for t in texts) and any("First answer." in t for t in texts)


def test_without_a_model_chat_says_so_and_tools_work_by_hand_through_the_gate() -> None:
    world = make_world()
    runtime = AgentRuntime(client_factory=lambda: None, extra_workbenches=[])
    sid = new_session(world)
    caller = Caller(world.user_id, "responder")
    seen = run_turn(runtime, sid, "hello?", caller)
    assert seen[-1]["content"] == NO_MODEL_MESSAGE

    async def by_hand() -> list[dict]:
        return [
            await runtime.call_tool_by_hand(sid, "get_incident", {"incident_id": world.incident_id}, caller),
            await runtime.call_tool_by_hand(sid, "delete_database", {}, caller),
            await runtime.call_tool_by_hand(sid, "get_incident", ["not", "an", "object"], caller),
        ]

    ok, unknown, malformed = asyncio.run(by_hand())
    assert not ok["data"]["is_error"] and f'"id": {world.incident_id}' in ok["content"]
    assert unknown["content"] == "denied: delete_database is on the always-deny list"
    assert malformed["content"] == "denied: arguments must be a JSON object"
    assert [t[2] for t in _audit(sid)] == ["rule", "deny_list", "unknown_tool"]


def test_interrupt_stops_a_turn_waiting_for_approval() -> None:
    world = make_world()
    runtime = AgentRuntime(
        client_factory=lambda: RecordingClient(
            [call("a", "escalate_incident", {"incident_id": world.incident_id}), "x"]
        ),
        extra_workbenches=[],
        approval_timeout=timedelta(seconds=30),
    )
    sid = new_session(world)

    async def interrupt_on_approval(message: dict) -> None:
        assert await runtime.interrupt(sid)

    seen = run_turn(runtime, sid, "escalate", Caller(world.user_id, "responder"), interrupt_on_approval)
    assert "interrupt" in [m["type"] for m in seen]
    with session_scope() as s:
        assert records.get_session(session=s, session_id=sid).status == "idle"
        assert incidents.get_incident(session=s, incident_id=world.incident_id).current_level == 0
        assert records.pending_approvals(session=s, session_id=sid) == []
        (closed,) = records.decided_approvals(session=s, session_id=sid)
        assert (closed.status, closed.decided_by) == ("cancelled", "interrupt")
