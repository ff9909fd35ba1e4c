"""MCP tools from a small local server over stdio, behind the same approval gate as built-in tools."""

from __future__ import annotations

import asyncio
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from agent.approval import ApprovalGate, ToolRequest, create_rule_based_approval_func
from agent.mcp import configured_workbenches, stdio_workbench
from agent.policies import Caller
from agent.store import DbGateStore
from agent.workbench import GatedWorkbench
from app.assistant import service as records
from tests import factories

SERVER = '''
import sys
from pathlib import Path
from mcp.server.fastmcp import FastMCP

marks = Path(sys.argv[1])
server = FastMCP("ops")


@server.tool()
def get_service_status(name: str) -> str:
    """Report a service's health."""
    return f"{name}: healthy"


@server.tool()
def delete_cluster(name: str) -> str:
    """Delete a cluster."""
    (marks / "deleted").write_text(name)
    return "deleted"


@server.tool()
def restart_pod(name: str) -> str:
    """Restart a pod."""
    (marks / "restarted").write_text(name)
    return "restarted"


server.run()
'''


def test_mcp_tools_pass_the_gate_like_any_tool(session: Session, tmp_path: Path) -> None:
    script = tmp_path / "ops_server.py"
    script.write_text(SERVER)
    admin = factories.user(session, role="admin")
    caller = Caller(user_id=admin.id, role="admin")
    store = DbGateStore(lambda: nullcontext(session))
    gate = ApprovalGate(store=store, approval_func=create_rule_based_approval_func())

    def request_for(tool: str, arguments: dict, call_id: str | None) -> ToolRequest:
        return ToolRequest(tool, arguments, caller=caller, session_id=None, call_id=call_id)

    async def scenario() -> dict[str, str]:
        mcp = stdio_workbench(sys.executable, [str(script), str(tmp_path)])
        gated = GatedWorkbench([mcp], gate, request_for)
        try:
            names = {t["name"] for t in await gated.list_tools()}
            assert names == {"get_service_status", "delete_cluster", "restart_pod"}
            out = {
                "status": (await gated.call_tool("get_service_status", {"name": "api"})).to_text(),
                "delete": (await gated.call_tool("delete_cluster", {"name": "eu-1"})).to_text(),
                "restart": (await gated.call_tool("restart_pod", {"name": "api-7"})).to_text(),
            }
            records.create_policy(
                session=session,
                by=admin.id,
                subject_kind="user",
                subject=str(admin.id),
                tool_pattern="restart_*",
                effect="allow",
                priority=1,
            )
            out["restart_allowed"] = (await gated.call_tool("restart_pod", {"name": "api-7"})).to_text()
            out["restart_prod"] = (
                await gated.call_tool("get_service_status", {"name": "prod-api"})
            ).to_text()
            return out
        finally:
            await mcp.stop()

    out = asyncio.run(scenario())
    assert out["status"] == "api: healthy"
    assert out["delete"] == "denied: delete_cluster is destructive"
    assert out["restart"] == "denied: no rule decides restart_pod"
    assert not (tmp_path / "deleted").exists()
    assert out["restart_allowed"] == "restarted" and (tmp_path / "restarted").read_text() == "api-7"
    assert out["restart_prod"] == "denied: an argument names production"
    audit = [
        (r.tool, r.decision, r.decided_by) for r in reversed(records.list_audit(session=session, limit=5))
    ]
    assert audit[-2][2].startswith("policy:") and audit[1] == ("delete_cluster", "denied", "rule")


def test_configured_mcp_servers_are_checked() -> None:
    assert configured_workbenches([]) == []
    assert len(configured_workbenches([{"command": "python3", "args": ["-m", "x"]}])) == 1
    with pytest.raises(ValueError, match=r"AGENT_MCP_SERVERS\[0\]\.command"):
        configured_workbenches([{"args": ["x"]}])


def test_an_mcp_call_in_an_incident_session_lands_on_its_timeline(database_url: str, tmp_path: Path) -> None:
    from agent.runtime import AgentRuntime
    from app.db import session_scope
    from app.incidents import service as incidents
    from tests.test_agent import new_session, run_turn
    from tests.test_agent_support import RecordingClient, call, make_world

    script = tmp_path / "ops_server.py"
    script.write_text(SERVER)
    world = make_world()
    mcp = stdio_workbench(sys.executable, [str(script), str(tmp_path)])
    runtime = AgentRuntime(
        client_factory=lambda: RecordingClient(
            [call("m1", "get_service_status", {"name": "api"}), "ok", "ok"]
        ),
        extra_workbenches=[mcp],
    )
    sid = new_session(world)
    seen = run_turn(runtime, sid, "is the api healthy?", Caller(world.user_id, "responder"))
    asyncio.run(mcp.stop())
    assert next(m for m in seen if m["type"] == "tool_result")["content"] == "api: healthy"
    with session_scope() as s:
        (action,) = [
            e.data
            for e in incidents.timeline(session=s, incident_id=world.incident_id)
            if e.kind == "agent_action"
        ]
    assert (action["tool"], action["approved_by"], action["session_id"]) == (
        "get_service_status",
        "rule",
        sid,
    )
