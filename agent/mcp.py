"""Tools from MCP servers (stdio), offered to the agent only through the gated workbench."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from autogen_ext.tools.mcp import McpWorkbench, StdioServerParams

from app.config import get_settings


def stdio_workbench(
    command: str, args: Iterable[str] = (), env: dict[str, str] | None = None
) -> McpWorkbench:
    """A workbench over one MCP server started as a child process speaking stdio."""
    return McpWorkbench(
        server_params=StdioServerParams(command=command, args=list(args), env=env, read_timeout_seconds=30)
    )


def configured_workbenches(servers: list[dict[str, Any]] | None = None) -> list[McpWorkbench]:
    """Workbenches for the MCP servers in settings (AGENT_MCP_SERVERS); a bad entry is a clear error."""
    out = []
    for i, spec in enumerate(get_settings().agent_mcp_servers if servers is None else servers):
        command = spec.get("command") if isinstance(spec, dict) else None
        if not isinstance(command, str) or not command:
            raise ValueError(f"AGENT_MCP_SERVERS[{i}].command must be a program name")
        out.append(stdio_workbench(command, [str(a) for a in spec.get("args", [])], spec.get("env")))
    return out
