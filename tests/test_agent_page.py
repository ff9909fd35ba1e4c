"""The Agent page in AppTest: transcript, approval cards decided in the console, chat via the agent API."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import uvicorn

from agent.runtime import AgentRuntime
from agent.service import create_app
from app.assistant import service as records
from app.config import reset_settings
from app.db import session_scope, utcnow
from app.directory.service import add_member, get_service
from tests import factories
from tests.monitor_helpers import free_port
from tests.test_agent_support import RecordingClient, World, make_world
from tests.test_console import signed_in_app


def _session_with_pending(world: World) -> tuple[str, int]:
    with session_scope() as s:
        sid = records.create_session(
            session=s, user_id=world.user_id, incident_id=world.incident_id, title="db-1 disk"
        ).id
        records.append_message(session=s, session_id=sid, kind="user_message", content="what is wrong?")
        records.append_message(session=s, session_id=sid, kind="tool_call", data={"tool": "get_incident"})
        records.append_message(
            session=s, session_id=sid, kind="assistant_message", content="The disk is filling up."
        )
        approval = records.request_approval(
            session=s,
            session_id=sid,
            incident_id=world.incident_id,
            tool="resolve_incident",
            arguments={"incident_id": world.incident_id},
            opinions={"rule": {"approved": None, "reason": "no rule decides resolve_incident"}},
            expires_at=utcnow() + timedelta(minutes=5),
        )
        return sid, approval.id


def _markdown(at) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(m.value for m in at.markdown)


def test_transcript_and_an_approval_decided_from_the_card(database_url: str) -> None:
    world = make_world()
    sid, approval_id = _session_with_pending(world)
    at = signed_in_app(world.user_id, "agent.py")
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="agent_session").value == sid
    assert "The disk is filling up." in _markdown(at) and "what is wrong?" in _markdown(at)
    assert any("no rule decides resolve_incident" in c.value for c in at.caption)
    at.text_input(key=f"reason_{approval_id}").input("customer confirmed recovery")
    at.button(key=f"approve_{approval_id}").click().run()
    assert not at.exception
    with session_scope() as s:
        row = records.get_approval(session=s, approval_id=approval_id)
        assert (row.status, row.decided_by, row.reason) == (
            "approved",
            f"human:{world.user_id}",
            "customer confirmed recovery",
        )
    assert all(b.key != f"approve_{approval_id}" for b in at.button)


def test_viewers_see_their_teams_cards_but_cannot_decide(database_url: str) -> None:
    world = make_world()
    _, approval_id = _session_with_pending(world)
    with session_scope() as s:
        viewer = factories.user(s, role="viewer")
        outsider = factories.user(s, role="viewer")
        team_id = get_service(session=s, service_id=world.service_id).team_id
        add_member(session=s, team_id=team_id, user_id=viewer.id, role="viewer")
    at = signed_in_app(viewer.id, "agent.py")
    assert not at.exception
    assert at.button(key=f"approve_{approval_id}").disabled and at.button(key=f"deny_{approval_id}").disabled
    assert "No sessions yet" in "\n".join(i.value for i in at.info)
    other = signed_in_app(outsider.id, "agent.py")
    assert all(b.key != f"approve_{approval_id}" for b in other.button)


@pytest.fixture()
def agent_service(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[RecordingClient]:
    """The agent API on a loopback port, answering with a replayed model."""
    client = RecordingClient(["Follow the disk-full runbook: delete old logs first."])
    port = free_port()
    app = create_app(AgentRuntime(client_factory=lambda: client, extra_workbenches=[]))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    monkeypatch.setenv("AGENT_PORT", str(port))
    reset_settings()
    yield client
    server.should_exit = True
    thread.join(10)
    monkeypatch.delenv("AGENT_PORT")
    reset_settings()


def test_chat_streams_the_reply_through_the_agent_api(agent_service: RecordingClient) -> None:
    world = make_world()
    sid, _ = _session_with_pending(world)
    at = signed_in_app(world.user_id, "agent.py")
    at.chat_input(key="agent_prompt").set_value("What should I do first?").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Follow the disk-full runbook" in _markdown(at)
    assert "What should I do first?" in str(agent_service.seen[0][-1].content)
    with session_scope() as s:
        kinds = [m.kind for m in records.messages_of(session=s, session_id=sid)]
    assert kinds[-2:] == ["user_message", "assistant_message"]


def test_admin_sees_policies_and_the_audit_export(database_url: str) -> None:
    world = make_world()
    at = signed_in_app(world.admin_id, "agent.py")
    assert not at.exception
    assert any(e.label == "Agent policies and audit log" for e in at.expander)


def test_a_responder_sees_the_rules_with_the_admin_controls_disabled_and_why(database_url: str) -> None:
    world = make_world()
    at = signed_in_app(world.user_id, "agent.py")
    assert not at.exception, [e.value for e in at.exception]
    assert any(e.label == "Agent policies and audit log" for e in at.expander)
    (add,) = [b for b in at.button if b.label == "Add rule"]
    assert add.disabled and at.text_input(key="pol_pattern").disabled
    captions = [c.value for c in at.caption]
    assert any("You can't change the agent's rules: only an admin may." in c for c in captions)
    assert any("You can't read the agent's audit log: only an admin may." in c for c in captions)


def test_incident_detail_shows_the_ai_first_look(database_url: str, tmp_path: Path) -> None:
    import asyncio

    from agent.embeddings import LocalEmbeddingFunction
    from agent.pilot import first_look
    from agent.runbooks import RunbookIndex

    world = make_world("Disk almost full on db-1")
    index = RunbookIndex(tmp_path / "chroma", ef=LocalEmbeddingFunction())
    asyncio.run(first_look(world.incident_id, client_factory=lambda: None, index_factory=lambda: index))
    at = signed_in_app(world.user_id, "incident.py", id=str(world.incident_id))
    assert not at.exception, [e.value for e in at.exception]
    (expander,) = [e for e in at.expander if e.label == "AI first look"]
    assert "## Summary" in "\n".join(m.value for m in expander.markdown)


def test_admin_adds_and_removes_a_policy_and_reads_the_audit(database_url: str) -> None:
    world = make_world()
    at = signed_in_app(world.admin_id, "agent.py")
    at.selectbox(key="pol_kind").set_value("role")
    at.text_input(key="pol_subject").set_value("everyone")
    at.button[[b.label for b in at.button].index("Add rule")].click().run()
    assert any("field: subject" in e.value for e in at.error)  # a refusal naming the field
    at.text_input(key="pol_subject").set_value("responder")
    at.text_input(key="pol_pattern").set_value("page_*")
    at.selectbox(key="pol_effect").set_value("deny")
    at.number_input(key="pol_priority").set_value(7)
    at.button[[b.label for b in at.button].index("Add rule")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    with session_scope() as s:
        (rule,) = [p for p in records.list_policies(session=s) if p.tool_pattern == "page_*"]
        assert (rule.effect, rule.priority, rule.created_by) == ("deny", 7, world.admin_id)
    at.selectbox(key="pol_remove").set_value(rule.id)
    at.button(key="pol_remove_go").click().run()
    assert not at.exception
    with session_scope() as s:
        assert all(p.id != rule.id for p in records.list_policies(session=s))
