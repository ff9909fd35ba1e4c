"""The agent API end to end: the real openai SDK against a loopback server, through the WebSocket API."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent.runtime import AgentRuntime
from agent.service import create_app
from app.config import reset_settings
from tests.test_agent_support import LoopbackOpenAI, World, make_world, text_chunks, tool_call_chunks


@pytest.fixture()
def model_env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-loopback")
    monkeypatch.setenv("OPENAI_MODEL", "gpt-4o")
    yield
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY")
    reset_settings()


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def wait_idle(client: TestClient, sid: str, key: str) -> dict:
    """The session once its turn has finished saving (the final reply is sent just before)."""
    for _ in range(100):
        detail = client.get(f"/sessions/{sid}", headers=auth(key)).json()
        if detail["status"] == "idle":
            return detail
        time.sleep(0.05)
    raise AssertionError("the turn never finished")


def receive_until_final(ws: Any, limit: int = 60) -> list[dict]:
    out = []
    for _ in range(limit):
        message = ws.receive_json()
        out.append(message)
        if message["type"] in ("error", "interrupt") or (
            message["type"] == "assistant_message" and message["seq"] is not None
        ):
            return out
    raise AssertionError(f"no final message in {out}")


def test_chat_over_websocket_with_streaming_tool_calls_and_human_approval(
    model_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    world: World = make_world("Disk almost full on db-1")
    i = world.incident_id
    server = LoopbackOpenAI(
        [
            tool_call_chunks("call_1", "get_incident", {"incident_id": i}),
            text_chunks("The disk on db-1 is filling up; follow the disk-full runbook."),
            tool_call_chunks("call_2", "acknowledge_incident", {"incident_id": i}),
            text_chunks("Acknowledged."),
        ]
    )
    with server.running():
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        reset_settings()
        app = create_app(AgentRuntime(extra_workbenches=[]))
        with TestClient(app) as client:
            assert client.get("/health").json() == {"status": "ok", "model_configured": True}
            assert client.post("/sessions", json={}).status_code == 401
            created = client.post(
                "/sessions", json={"incident_id": i, "title": "db-1"}, headers=auth(world.key)
            )
            assert created.status_code == 201
            sid = created.json()["id"]
            assert client.get(f"/sessions/{sid}", headers=auth(world.viewer_key)).status_code == 404

            with client.websocket_connect(f"/ws/{sid}", headers=auth(world.key)) as ws:
                ws.send_json({"type": "user_message", "content": "What is going on with this incident?"})
                first = receive_until_final(ws)
            kinds = [m["type"] for m in first if m["seq"] is not None]
            assert kinds == [
                "user_message",
                "tool_call",
                "approval_decision",
                "tool_result",
                "assistant_message",
            ]
            chunks = [m["content"] for m in first if m["seq"] is None]
            assert len(chunks) > 3 and "".join(chunks) == first[-1]["content"]
            assert first[2]["data"] == {
                "call_id": "call_1",
                "tool": "get_incident",
                "approved": True,
                "decided_by": "rule",
                "reason": "get_incident is read-only",
            }
            assert '"status": "triggered"' in first[3]["content"]
            # The real SDK streamed, offered our tools, and sent the tool result back.
            assert server.requests[0]["stream"] is True
            assert "get_incident" in {t["function"]["name"] for t in server.requests[0]["tools"]}
            assert any(m["role"] == "tool" for m in server.requests[1]["messages"])

            # A reconnecting client gets what it missed from the database.
            with client.websocket_connect(f"/ws/{sid}?after=2", headers=auth(world.key)) as ws:
                replay = [ws.receive_json() for _ in range(3)]
            assert [m["seq"] for m in replay] == [3, 4, 5]

            with client.websocket_connect(f"/ws/{sid}", headers=auth(world.key)) as ws:
                backlog = [ws.receive_json() for _ in range(5)]
                assert backlog[-1]["type"] == "assistant_message"
                ws.send_json({"type": "user_message", "content": "Acknowledge it please"})
                pending: list[dict] = []
                while not pending or pending[-1]["type"] != "approval_required":
                    assert len(pending) < 60 and not (pending and pending[-1]["type"] == "error"), pending
                    pending.append(ws.receive_json())
                approval_id = pending[-1]["data"]["approval_id"]
                assert pending[-1]["data"]["tool"] == "acknowledge_incident"
                # A second client joining the running turn gets everything it missed, the card included.
                with client.websocket_connect(f"/ws/{sid}?after=5", headers=auth(world.key)) as late:
                    caught_up = [late.receive_json() for _ in range(3)]
                assert [(m["seq"], m["type"]) for m in caught_up] == [
                    (6, "user_message"),
                    (7, "tool_call"),
                    (8, "approval_required"),
                ]
                bad = client.post(
                    f"/approvals/{approval_id}", json={"decision": "maybe"}, headers=auth(world.admin_key)
                )
                assert bad.status_code == 422 and "decision" in str(bad.json())
                assert (
                    client.post(
                        f"/approvals/{approval_id}",
                        json={"decision": "approve"},
                        headers=auth(world.viewer_key),
                    ).status_code
                    == 403
                )
                ok = client.post(
                    f"/approvals/{approval_id}",
                    json={"decision": "approve", "reason": "on it"},
                    headers=auth(world.admin_key),
                )
                assert ok.status_code == 200 and ok.json()["decided_by"] == f"human:{world.admin_id}"
                rest = receive_until_final(ws)
            decision = next(m for m in rest if m["type"] == "approval_decision")
            assert (
                decision["data"]["approved"] and decision["data"]["decided_by"] == f"human:{world.admin_id}"
            )
            assert rest[-1]["content"] == "Acknowledged."

            detail = wait_idle(client, sid, world.key)
            assert detail["pending_approvals"] == [] and detail["status"] == "idle"
            assert detail["prompt_tokens"] == 500 and detail["completion_tokens"] == 100
            assert detail["cost_usd"] == pytest.approx((500 * 2.5 + 100 * 10.0) / 1e6)
            assert [s["id"] for s in client.get("/sessions", headers=auth(world.key)).json()] == [sid]

            assert client.get("/audit.csv", headers=auth(world.key)).status_code == 403
            csv_text = client.get(f"/audit.csv?session_id={sid}", headers=auth(world.admin_key)).text
            assert "acknowledge_incident" in csv_text and f"human:{world.admin_id}" in csv_text


def test_websocket_rejects_bad_keys_and_bad_messages(database_url: str) -> None:
    world = make_world()
    app = create_app(AgentRuntime(client_factory=lambda: None, extra_workbenches=[]))
    with TestClient(app) as client:
        sid = client.post("/sessions", json={}, headers=auth(world.key)).json()["id"]
        from starlette.websockets import WebSocketDisconnect

        with (
            pytest.raises(WebSocketDisconnect) as closed,
            client.websocket_connect(f"/ws/{sid}?token=sk_wrong") as ws,
        ):
            ws.receive_json()
        assert closed.value.code == 4401
        with client.websocket_connect(f"/ws/{sid}?token={world.key}") as ws:
            ws.send_json({"type": "shout"})
            assert ws.receive_json()["data"] == {"field": "type"}
            ws.send_json({"type": "user_message", "content": ""})
            assert ws.receive_json()["data"] == {"field": "content"}
            ws.send_json({"type": "user_message", "content": "hi"})
            replies = [ws.receive_json(), ws.receive_json()]
        assert replies[1]["content"].startswith("No language model is configured")
        manual = client.post(
            f"/sessions/{sid}/tools",
            json={"tool": "list_open_incidents", "arguments": {"limit": 5}},
            headers=auth(world.key),
        )
        assert manual.status_code == 200 and manual.json()["type"] == "tool_result"
        assert (
            client.post("/sessions", json={"incident_id": 10**9}, headers=auth(world.key)).json()["field"]
            == "incident_id"
        )
        assert client.get("/sessions/not-a-uuid", headers=auth(world.key)).status_code == 404


def test_policies_are_edited_by_admins_only(database_url: str) -> None:
    world = make_world()
    app = create_app(AgentRuntime(client_factory=lambda: None, extra_workbenches=[]))
    body = {
        "subject_kind": "role",
        "subject": "responder",
        "tool_pattern": "resolve_*",
        "effect": "deny",
        "priority": 5,
    }
    with TestClient(app) as client:
        assert client.post("/policies", json=body, headers=auth(world.key)).status_code == 403
        bad = client.post("/policies", json={**body, "effect": "maybe"}, headers=auth(world.admin_key))
        assert bad.status_code == 422 and bad.json()["field"] == "effect"
        created = client.post("/policies", json=body, headers=auth(world.admin_key))
        assert created.status_code == 201
        assert created.json()["id"] in [
            p["id"] for p in client.get("/policies", headers=auth(world.key)).json()
        ]
        assert (
            client.delete(f"/policies/{created.json()['id']}", headers=auth(world.admin_key)).status_code
            == 204
        )


def test_cors_origins_come_from_settings(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("CORS_ORIGINS", '["http://console.example.test"]')
    reset_settings()
    try:
        app = create_app(AgentRuntime(client_factory=lambda: None, extra_workbenches=[]))
    finally:
        monkeypatch.delenv("CORS_ORIGINS")
        reset_settings()
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    with TestClient(app) as client:
        allowed = client.options("/sessions", headers={"Origin": "http://console.example.test", **preflight})
        other = client.options("/sessions", headers={"Origin": "http://evil.example.test", **preflight})
    assert allowed.headers["access-control-allow-origin"] == "http://console.example.test"
    assert "access-control-allow-origin" not in other.headers


def test_the_agent_service_process_starts_and_recovers_interrupted_turns(
    fresh_database: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`uvicorn agent.service:app` as a real process: a turn that was running when it died is closed."""
    import os

    import httpx

    from app.assistant import service as records
    from app.db import reset_engines, session_scope
    from tests import infra
    from tests.monitor_helpers import free_port

    monkeypatch.setenv("DATABASE_URL", fresh_database)
    reset_settings()
    reset_engines()
    try:
        world = make_world()
        with session_scope() as s:
            sid = records.create_session(session=s, user_id=world.user_id).id
            records.save_state(session=s, session_id=sid, status="running")
            pending = records.request_approval(
                session=s, tool="resolve_incident", arguments={}, session_id=sid
            ).id
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": fresh_database,
            "DATA_DIR": str(tmp_path),
            "AGENT_PORT": str(port),
        }
        env.pop("OPENAI_API_KEY", None)
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "agent.service:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        with infra.process(argv, env, tmp_path / "agent.log"):
            infra.wait_http(f"http://127.0.0.1:{port}/health", timeout=60)
            health = httpx.get(f"http://127.0.0.1:{port}/health").json()
            listed = httpx.get(f"http://127.0.0.1:{port}/sessions", headers=auth(world.key)).json()
        assert health == {"status": "ok", "model_configured": False}
        assert [(s["id"], s["status"]) for s in listed] == [(sid, "idle")]
        with session_scope() as s:
            assert [m.kind for m in records.messages_of(session=s, session_id=sid)] == ["interrupt"]
            closed = records.get_approval(session=s, approval_id=pending)
            assert (closed.status, closed.decided_by) == ("cancelled", "restart")
    finally:
        monkeypatch.undo()  # back to the run's database before the engines are rebuilt
        reset_settings()
        reset_engines()
