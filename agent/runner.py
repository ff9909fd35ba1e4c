"""The command runner: one allow-listed command line, no shell, off unless ENABLE_CODE_EXECUTOR.

It is a tool like any other, so it only ever runs behind the approval gate. What may run is decided by
agent/runner_rules.py (program *and* arguments); how it runs is bounded here: its own process group
killed whole at the timeout, capped output, capped memory, no file writes, an environment with no
secrets, and an unprivileged account when the agent runs as root.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pwd
import resource
import shutil
import signal
import subprocess
import tempfile
from functools import lru_cache

from autogen_core.tools import FunctionTool

from agent.runner_rules import ALLOWED_COMMANDS, Refused, parse_command
from agent.workbench import CURRENT_VERDICT
from app.config import get_settings

log = logging.getLogger(__name__)
__all__ = ["ALLOWED_COMMANDS", "parse_command", "run_argv", "run_command", "runner_tools"]
TIMEOUT_S = 10.0
MAX_OUTPUT = 8000
MEMORY_BYTES = 512 * 1024 * 1024
SAFE_PATH = "/usr/bin:/bin"


def _limits() -> None:
    # Runs in the child before exec: bound memory and open files, forbid writing files at all.
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


@lru_cache(maxsize=1)
def runner_account() -> tuple[int, int] | None:
    """The (uid, gid) commands run as: None unless we are root; then the runner user (created if
    missing), or `nobody` when it cannot be created."""
    if os.geteuid() != 0:
        return None
    name = get_settings().agent_runner_user
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        made = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True,
            check=False,
        )
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            log.warning("could not create %s (%s): commands run as nobody", name, made.stderr[:200])
            entry = pwd.getpwnam("nobody")
    return entry.pw_uid, entry.pw_gid


async def _read_capped(stream: asyncio.StreamReader, cap: int) -> tuple[bytes, bool]:
    out = bytearray()
    while chunk := await stream.read(4096):
        out += chunk
        if len(out) > cap:
            return bytes(out[:cap]), True
    return bytes(out), False


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


async def _reap(proc: asyncio.subprocess.Process) -> None:
    # The group was sent SIGKILL. Bound the wait: a SIGCHLD handler installed elsewhere in the
    # process can reap the child first, and asyncio's watcher then never reports its exit.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait(), timeout=5)


async def run_argv(argv: list[str], timeout_s: float = TIMEOUT_S) -> dict[str, object]:
    """Run argv in its own process group; kill the whole group at the timeout or once output exceeds
    MAX_OUTPUT; return exit code and output."""
    path = shutil.which(argv[0], path=SAFE_PATH)
    if path is None:
        return {"error": f"{argv[0]} is not installed"}
    account = runner_account()
    with tempfile.TemporaryDirectory(prefix="slar-run-") as home:
        if account is not None:
            os.chown(home, *account)
        proc = await asyncio.create_subprocess_exec(
            path,
            *argv[1:],
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            env={"PATH": SAFE_PATH, "HOME": home, "LANG": "C.UTF-8"},
            cwd=home,
            start_new_session=True,
            preexec_fn=_limits,
            user=account[0] if account else None,
            group=account[1] if account else None,
            extra_groups=[] if account else None,
        )
        assert proc.stdout is not None
        try:
            out, truncated = await asyncio.wait_for(_read_capped(proc.stdout, MAX_OUTPUT), timeout=timeout_s)
        except TimeoutError:
            _kill_group(proc)
            await _reap(proc)
            return {"exit_code": None, "timed_out": True, "output": ""}
        if truncated:
            _kill_group(proc)
        else:
            try:
                await asyncio.wait_for(proc.wait(), timeout=timeout_s)
            except TimeoutError:
                _kill_group(proc)
        _kill_group(proc)  # children that outlived their parent go with the group
        await _reap(proc)
    result: dict[str, object] = {
        "exit_code": proc.returncode,
        "timed_out": False,
        "output": out.decode(errors="replace"),
    }
    if truncated:
        result["truncated"] = True
    return result


async def run_command(command: str) -> str:
    """Run one allow-listed diagnostic command (no shell) with a timeout and return its output."""
    verdict = CURRENT_VERDICT.get()
    if verdict is None or not verdict.approved:
        return json.dumps({"error": "commands run only after the approval gate approved them"})
    settings = get_settings()
    if not settings.enable_code_executor:
        return json.dumps({"error": "the command runner is off (ENABLE_CODE_EXECUTOR=false)"})
    try:
        argv = parse_command(command, settings.agent_runner_hosts)
    except Refused as err:
        return json.dumps({"error": str(err), "field": "command"})
    return json.dumps(await run_argv(argv))


def runner_tools() -> list[FunctionTool]:
    """The command runner tool, offered only when the executor is enabled."""
    if not get_settings().enable_code_executor:
        return []
    return [FunctionTool(run_command, description=(run_command.__doc__ or "").strip())]
