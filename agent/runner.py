"""The command runner: one allow-listed command, no shell, a timeout, off unless ENABLE_CODE_EXECUTOR.

It is a tool like any other, so it only ever runs behind the approval gate.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil

from autogen_core.tools import FunctionTool

from agent.workbench import CURRENT_VERDICT
from app.config import get_settings

# Diagnostics a responder would run by hand; none of them changes the machine.
ALLOWED_COMMANDS = (
    "uptime",
    "df",
    "free",
    "hostname",
    "date",
    "ping",
    "dig",
    "nslookup",
    "curl",
    "echo",
    "uname",
)
TIMEOUT_S = 10.0
MAX_OUTPUT = 8000


def parse_command(command: str, allowed: tuple[str, ...] = ALLOWED_COMMANDS) -> list[str]:
    """Split a command line without a shell; raise ValueError unless its program is allow-listed."""
    try:
        argv = shlex.split(command)
    except ValueError as err:
        raise ValueError(f"command is not well-formed: {err}") from None
    if not argv:
        raise ValueError("command must not be empty")
    if argv[0] not in allowed:
        raise ValueError(f"{argv[0]!r} is not an allowed command ({', '.join(allowed)})")
    return argv


async def run_argv(argv: list[str], timeout_s: float = TIMEOUT_S) -> dict[str, object]:
    """Run argv in a subprocess; kill it at the timeout; return exit code and trimmed output."""
    path = shutil.which(argv[0])
    if path is None:
        return {"error": f"{argv[0]} is not installed"}
    proc = await asyncio.create_subprocess_exec(
        path,
        *argv[1:],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return {"exit_code": None, "timed_out": True, "output": ""}
    return {
        "exit_code": proc.returncode,
        "timed_out": False,
        "output": out.decode(errors="replace")[:MAX_OUTPUT],
    }


async def run_command(command: str) -> str:
    """Run one allow-listed diagnostic command (no shell) with a timeout and return its output."""
    verdict = CURRENT_VERDICT.get()
    if verdict is None or not verdict.approved:
        return json.dumps({"error": "commands run only after the approval gate approved them"})
    if not get_settings().enable_code_executor:
        return json.dumps({"error": "the command runner is off (ENABLE_CODE_EXECUTOR=false)"})
    try:
        argv = parse_command(command)
    except ValueError as err:
        return json.dumps({"error": str(err), "field": "command"})
    return json.dumps(await run_argv(argv))


def runner_tools() -> list[FunctionTool]:
    """The command runner tool, offered only when the executor is enabled."""
    if not get_settings().enable_code_executor:
        return []
    return [FunctionTool(run_command, description=(run_command.__doc__ or "").strip())]
