"""The command runner: allow-listed programs, no shell, a timeout, off by default, always behind the gate."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import nullcontext

import pytest
from autogen_core.tools import StaticWorkbench
from sqlalchemy.orm import Session

from agent.approval import ApprovalGate, ToolRequest, Verdict, create_rule_based_approval_func
from agent.policies import Caller
from agent.runner import parse_command, run_argv, run_command, runner_tools
from agent.store import DbGateStore
from agent.workbench import CURRENT_VERDICT, GatedWorkbench
from app.assistant import service as records
from app.config import reset_settings
from tests import factories


@pytest.fixture()
def executor_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ENABLE_CODE_EXECUTOR", "true")
    reset_settings()
    yield
    monkeypatch.delenv("ENABLE_CODE_EXECUTOR")
    reset_settings()


def test_only_allow_listed_programs_parse() -> None:
    assert parse_command("df -h /") == ["df", "-h", "/"]
    for bad, why in (
        ("rm -rf /", "'rm' is not an allowed"),
        ("", "must not be empty"),
        ("echo 'open", "well-formed"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_command(bad)


def test_no_shell_and_a_timeout() -> None:
    out = asyncio.run(run_argv(["echo", "$(whoami);", "rm", "-rf", "/"]))
    assert out == {"exit_code": 0, "timed_out": False, "output": "$(whoami); rm -rf /\n"}
    assert asyncio.run(run_argv(["sleep", "5"], timeout_s=0.3)) == {
        "exit_code": None,
        "timed_out": True,
        "output": "",
    }


def test_the_runner_is_off_unless_enabled() -> None:
    reset_settings()
    assert runner_tools() == []
    token = CURRENT_VERDICT.set(Verdict(True, "test"))
    try:
        assert "ENABLE_CODE_EXECUTOR=false" in asyncio.run(run_command("echo hi"))
    finally:
        CURRENT_VERDICT.reset(token)


def test_the_runner_refuses_to_run_outside_the_gate(executor_on: None) -> None:
    assert "approval gate" in json.loads(asyncio.run(run_command("echo hi")))["error"]


def test_commands_run_only_when_the_gate_approves(executor_on: None, session: Session) -> None:
    admin = factories.user(session, role="admin")
    gate = ApprovalGate(
        store=DbGateStore(lambda: nullcontext(session)), approval_func=create_rule_based_approval_func()
    )
    caller = Caller(admin.id, "admin")
    bench = GatedWorkbench(
        [StaticWorkbench(runner_tools())],
        gate,
        lambda tool, args, cid: ToolRequest(tool, args, caller=caller),
    )

    async def run(command: str) -> str:
        return (await bench.call_tool("run_command", {"command": command})).to_text()

    assert asyncio.run(run("echo hello")) == "denied: no rule decides run_command"
    assert asyncio.run(run("echo prod")) == "denied: an argument names production"
    records.create_policy(
        session=session,
        by=admin.id,
        subject_kind="role",
        subject="admin",
        tool_pattern="run_command",
        effect="allow",
    )
    result = json.loads(asyncio.run(run("echo hello")))
    assert result == {"exit_code": 0, "timed_out": False, "output": "hello\n"}
    assert json.loads(asyncio.run(run("rm -rf /tmp/x")))["field"] == "command"
