"""A workbench that puts the approval gate in front of other workbenches (built-in tools, MCP servers).

Each inner workbench declares what its tools do (`tool_infos`); a workbench that declares nothing
offers tools that are neither read-only nor trusted. Names that are not plain identifiers, or that
imitate a tool listed before them, are not offered and are refused when called.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from autogen_core import CancellationToken
from autogen_core.tools import StaticWorkbench, TextResultContent, ToolResult, ToolSchema, Workbench
from pydantic import BaseModel

from agent.approval import ApprovalGate, ToolRequest, Verdict
from agent.capabilities import SAFE_NAME, ToolInfo, look_alike, normalise
from agent.redact import redact

# The verdict under which the current tool runs: tools read it to record who approved them.
CURRENT_VERDICT: contextvars.ContextVar[Verdict | None] = contextvars.ContextVar(
    "current_verdict", default=None
)
# The request being executed (session, caller, incident) for tools that record agent actions.
CURRENT_REQUEST: contextvars.ContextVar[ToolRequest | None] = contextvars.ContextVar(
    "current_request", default=None
)

RequestFactory = Callable[[str, dict[str, Any], str | None], ToolRequest]
AfterCall = Callable[[ToolRequest, Verdict, ToolResult], Awaitable[None]]


def _result(name: str, text: str, is_error: bool) -> ToolResult:
    return ToolResult(name=name, result=[TextResultContent(content=text)], is_error=is_error)


class DeclaredWorkbench(StaticWorkbench):
    """Built-in tools with their declared capabilities (read-only by definition, nothing else)."""

    def __init__(self, tools: Sequence[Any], read_only: frozenset[str] = frozenset()) -> None:
        super().__init__(list(tools))
        self.read_only = read_only

    async def tool_infos(self) -> dict[str, ToolInfo]:
        return {
            t["name"]: ToolInfo(t["name"], read_only=t["name"] in self.read_only)
            for t in await self.list_tools()
        }


async def _infos(wb: Workbench) -> dict[str, ToolInfo]:
    declared = getattr(wb, "tool_infos", None)
    if declared is not None:
        return await declared()
    return {t["name"]: ToolInfo(t["name"], origin="undeclared") for t in await wb.list_tools()}


class GatedWorkbench(Workbench):
    """Lists the inner workbenches' tools; runs one only after the gate approved that very call."""

    component_type = "workbench"

    def __init__(
        self,
        inner: Sequence[Workbench],
        gate: ApprovalGate,
        request_for: RequestFactory,
        after_call: AfterCall | None = None,
    ) -> None:
        self.inner = list(inner)
        self.gate = gate
        self.request_for = request_for
        self.after_call = after_call
        self._catalog: dict[str, tuple[ToolInfo, Workbench, ToolSchema]] | None = None
        self._refused: dict[str, str] = {}

    async def catalog(self) -> dict[str, tuple[ToolInfo, Workbench, ToolSchema]]:
        """Offered tools by name, first owner wins; unsafe and look-alike names are left out."""
        if self._catalog is None:
            catalog: dict[str, tuple[ToolInfo, Workbench, ToolSchema]] = {}
            keys: dict[str, str] = {}
            for wb in self.inner:
                infos = await _infos(wb)
                for schema in await wb.list_tools():
                    name = schema["name"]
                    if not SAFE_NAME.match(name):
                        self._refused[name] = f"{name!r} is not a plain tool name"
                    elif normalise(name) in keys:
                        self._refused[name] = f"{name!r} imitates the tool {keys[normalise(name)]!r}"
                    else:
                        keys[normalise(name)] = name
                        catalog[name] = (infos.get(name, ToolInfo(name, origin="undeclared")), wb, schema)
            self._catalog = catalog
        return self._catalog

    async def list_tools(self) -> list[ToolSchema]:
        return [schema for _, _, schema in (await self.catalog()).values()]

    async def _refusal(self, name: str) -> str:
        catalog = await self.catalog()
        if name in self._refused:
            return self._refused[name]
        imitated = look_alike(name, catalog)
        return f"{name!r} imitates the tool {imitated!r}" if imitated else f"no tool named {name!r}"

    async def refuse_unrunnable(self, name: str, arguments: Any, call_id: str | None) -> Verdict | None:
        """Audit a call AutoGen answers by itself (a tool not offered, arguments that are not JSON):
        it never reaches call_tool, yet every call the model asks for gets its audit row."""
        listed = name in await self.catalog()
        malformed = not isinstance(arguments, dict) or set(arguments) == {"_malformed"}
        if listed and not malformed:
            return None
        args = arguments if isinstance(arguments, dict) else {"_malformed": repr(arguments)[:500]}
        req = self.request_for(str(name), args, call_id)
        why = await self._refusal(name) if not listed else "arguments must be a JSON object"
        return await self.gate.decide(req, known=False, refusal=why)

    async def call_tool(
        self,
        name: str,
        arguments: Mapping[str, Any] | None = None,
        cancellation_token: CancellationToken | None = None,
        call_id: str | None = None,
    ) -> ToolResult:
        """Gate, then run; a refusal is the tool result "denied: <reason>" and the run goes on."""
        args_ok = arguments is None or isinstance(arguments, Mapping)
        args = dict(arguments) if isinstance(arguments, Mapping) else {"_malformed": repr(arguments)[:500]}
        req = self.request_for(str(name), args, call_id)
        entry = (await self.catalog()).get(name) if args_ok else None
        if not args_ok:
            verdict = await self.gate.decide(req, known=False, refusal="arguments must be a JSON object")
        elif entry is None:
            verdict = await self.gate.decide(req, known=False, refusal=await self._refusal(name))
        else:
            verdict = await self.gate.decide(req, entry[0])
        if not verdict.approved or entry is None:
            return _result(name, f"denied: {verdict.reason}", True)
        t1, t2 = CURRENT_VERDICT.set(verdict), CURRENT_REQUEST.set(req)
        try:
            result = await entry[1].call_tool(name, args, cancellation_token, call_id)
        finally:
            CURRENT_VERDICT.reset(t1)
            CURRENT_REQUEST.reset(t2)
        # Whatever a tool read (an MCP server's environment, a runbook), the model never sees our secrets.
        result = _result(name, redact(result.to_text()), result.is_error)
        if self.after_call is not None:
            await self.after_call(req, verdict, result)
        return result

    async def start(self) -> None:
        for wb in self.inner:
            await wb.start()

    async def stop(self) -> None:
        for wb in self.inner:
            await wb.stop()

    async def reset(self) -> None:
        for wb in self.inner:
            await wb.reset()

    async def save_state(self) -> Mapping[str, Any]:
        return {}

    async def load_state(self, state: Mapping[str, Any]) -> None:
        return None

    def _to_config(self) -> BaseModel:
        raise NotImplementedError("the gated workbench is built in code, not from config")
