"""Tools from MCP servers (stdio), offered to the agent only through the gated workbench.

An MCP tool is read-only only when the server marks it `readOnlyHint` **and** the operator lists it
under the server's "read_only" entry in AGENT_MCP_SERVERS; a `destructiveHint` makes it destructive.
Anything else the server offers needs a human (or a team-scoped policy) for every call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from autogen_ext.tools.mcp import McpWorkbench, StdioServerParams

from agent.capabilities import ToolInfo
from app.config import get_settings


class DeclaredMcpWorkbench(McpWorkbench):
    """An MCP workbench that reports each tool's annotations, checked against the operator's allow list."""

    def __init__(self, server_params: StdioServerParams, read_only: Iterable[str] = ()) -> None:
        super().__init__(server_params=server_params)
        self.operator_read_only = frozenset(read_only)

    async def tool_infos(self) -> dict[str, ToolInfo]:
        if self._actor is None:
            await self.start()
        assert self._actor is not None
        listed = await (await self._actor.call("list_tools", None))
        out = {}
        for tool in listed.tools:
            hints = tool.annotations
            read_only = bool(hints and hints.readOnlyHint) and tool.name in self.operator_read_only
            destructive = bool(hints and hints.destructiveHint)
            out[tool.name] = ToolInfo(tool.name, read_only=read_only, destructive=destructive, origin="mcp")
        return out


def stdio_workbench(
    command: str,
    args: Iterable[str] = (),
    env: dict[str, str] | None = None,
    read_only: Iterable[str] = (),
) -> DeclaredMcpWorkbench:
    """A workbench over one MCP server started as a child process speaking stdio.

    Without `env` the child gets the MCP SDK's short list of safe variables (HOME, PATH, …), never
    this process's secrets.
    """
    params = StdioServerParams(command=command, args=list(args), env=env, read_timeout_seconds=30)
    return DeclaredMcpWorkbench(params, read_only)


def configured_workbenches(servers: list[dict[str, Any]] | None = None) -> list[McpWorkbench]:
    """Workbenches for the MCP servers in settings (AGENT_MCP_SERVERS); a bad entry is a clear error."""
    out: list[McpWorkbench] = []
    for i, spec in enumerate(get_settings().agent_mcp_servers if servers is None else servers):
        command = spec.get("command") if isinstance(spec, dict) else None
        if not isinstance(command, str) or not command:
            raise ValueError(f"AGENT_MCP_SERVERS[{i}].command must be a program name")
        read_only = spec.get("read_only", [])
        if not isinstance(read_only, list) or not all(isinstance(n, str) for n in read_only):
            raise ValueError(f"AGENT_MCP_SERVERS[{i}].read_only must be a list of tool names")
        args = [str(a) for a in spec.get("args", [])]
        out.append(stdio_workbench(command, args, spec.get("env"), read_only))
    return out
