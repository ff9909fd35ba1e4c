"""A workbench that puts the approval gate in front of other workbenches (built-in tools, MCP servers)."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from autogen_core import CancellationToken
from autogen_core.tools import TextResultContent, ToolResult, ToolSchema, Workbench
from pydantic import BaseModel

from agent.approval import ApprovalGate, ToolRequest, Verdict

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

    async def list_tools(self) -> list[ToolSchema]:
        return [t for wb in self.inner for t in await wb.list_tools()]

    async def _owner(self, name: str) -> Workbench | None:
        for wb in self.inner:
            if any(t["name"] == name for t in await wb.list_tools()):
                return wb
        return None

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
        owner = await self._owner(name) if args_ok else None
        if not args_ok:
            verdict = await self.gate.decide(req, known=False)
            verdict = Verdict(False, verdict.decided_by, "arguments must be a JSON object")
        else:
            verdict = await self.gate.decide(req, known=owner is not None)
        if not verdict.approved or owner is None:
            return _result(name, f"denied: {verdict.reason}", True)
        t1, t2 = CURRENT_VERDICT.set(verdict), CURRENT_REQUEST.set(req)
        try:
            result = await owner.call_tool(name, args, cancellation_token, call_id)
        finally:
            CURRENT_VERDICT.reset(t1)
            CURRENT_REQUEST.reset(t2)
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
