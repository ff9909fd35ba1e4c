"""The agent's HTTP and WebSocket API (`uvicorn agent.service:app`).

WebSocket /ws/{session_id}?after=<seq> messages, all JSON objects {type, seq, session_id, content, data}:
  client → server: user_message {content}, interrupt {}, decision {approval_id, decision: approve|deny,
  reason} (decided with the same rights as POST /approvals/{id})
  server → client: user_message, assistant_message (data.final false for streamed chunks, which carry no
  seq; the complete reply follows with a seq and data.final true), tool_call, approval_required,
  approval_decision, tool_result, interrupt, error. A client that reconnects with after=<last seq it
  saw> first receives every stored message it missed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from agent import api_support as support
from agent.approval import wake
from agent.policies import Caller
from agent.runtime import AgentRuntime
from app.config import get_settings
from app.errors import DomainError, Forbidden, Invalid
from app.health import LIVE, readiness
from app.logredact import install
from app.periodic.metrics import console_registry


class SessionCreate(BaseModel):
    incident_id: int | None = None
    title: str = Field(default="", max_length=500)


class MessageIn(BaseModel):
    content: str = Field(min_length=1, max_length=20_000)


class ToolCallIn(BaseModel):
    tool: str = Field(min_length=1, max_length=200)
    arguments: Any = Field(default_factory=dict)


class DecisionIn(BaseModel):
    decision: Literal["approve", "deny"]
    reason: str = Field(default="", max_length=2000)


class IndexIn(BaseModel):
    location: str = Field(min_length=1, max_length=2000)


class RetrieveIn(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    k: int = Field(default=3, ge=1, le=20)


class PolicyIn(BaseModel):
    subject_kind: str
    subject: str = "*"
    tool_pattern: str
    effect: str
    priority: int = 0
    description: str = ""
    team_id: int | None = None


def create_app(
    runtime: AgentRuntime | None = None, index_factory: Callable[[], Any] | None = None
) -> FastAPI:
    """The FastAPI app around one AgentRuntime (tests pass their own, with a replayed model)."""
    install()  # the access log shows the WebSocket's ?token=: redacted like every record
    rt = runtime or AgentRuntime()

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        await asyncio.to_thread(support.recover_sessions, rt.scope)
        yield

    app = FastAPI(title="SLAR agent", lifespan=lifespan)
    app.state.runtime = rt
    origins = get_settings().cors_origins
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["*"], allow_headers=["*"])

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, err: DomainError) -> JSONResponse:
        return JSONResponse({"detail": err.message, "field": err.field}, status_code=err.status_code)

    def caller(authorization: str | None = Header(default=None)) -> Caller:
        return support.authenticate(rt.scope, authorization)

    def index() -> Any:
        if index_factory is not None:
            return index_factory()
        from agent.runbooks import default_index

        return default_index()

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "model_configured": rt.has_model()}

    @app.get("/health/live")
    async def health_live() -> dict:
        """200 while the process answers (liveness)."""
        return LIVE

    @app.get("/health/ready")
    async def health_ready() -> JSONResponse:
        """200 when sessions and approvals can be stored (Postgres answers), 503 otherwise."""
        ok, body = await readiness()
        return JSONResponse({**body, "model_configured": rt.has_model()}, status_code=200 if ok else 503)

    metrics_registry = console_registry()

    @app.get("/metrics")
    def metrics() -> Response:
        """Prometheus text: the Postgres backlog (overdue steps and pages, export lag)."""
        return Response(generate_latest(metrics_registry), media_type=CONTENT_TYPE_LATEST)

    @app.post("/sessions", status_code=201)
    async def create_session(body: SessionCreate, who: Caller = Depends(caller)) -> dict:
        return await asyncio.to_thread(support.create_session, rt.scope, who, body.incident_id, body.title)

    @app.get("/sessions")
    async def list_sessions(who: Caller = Depends(caller)) -> list[dict]:
        return await asyncio.to_thread(support.list_sessions, rt.scope, who)

    @app.get("/sessions/{session_id}")
    async def get_session(session_id: str, who: Caller = Depends(caller)) -> dict:
        return await asyncio.to_thread(support.session_detail, rt.scope, who, session_id)

    @app.post("/sessions/{session_id}/messages", status_code=202)
    async def post_message(session_id: str, body: MessageIn, who: Caller = Depends(caller)) -> dict:
        await asyncio.to_thread(support.owned_session, rt.scope, who, session_id)
        await rt.post_user_message(session_id, body.content, who)
        return {"accepted": True}

    @app.post("/sessions/{session_id}/tools")
    async def call_tool(
        session_id: str, body: ToolCallIn, wait: bool = True, who: Caller = Depends(caller)
    ) -> Any:
        """Run a tool by hand through the gate; wait=false answers 202 at once (the result and any
        approval card arrive as session messages)."""
        await asyncio.to_thread(support.owned_session, rt.scope, who, session_id)
        if not wait:
            call_id = await rt.start_tool_by_hand(session_id, body.tool, body.arguments, who)
            return JSONResponse({"accepted": True, "call_id": call_id}, status_code=202)
        return await rt.call_tool_by_hand(session_id, body.tool, body.arguments, who)

    @app.post("/sessions/{session_id}/interrupt")
    async def interrupt(session_id: str, who: Caller = Depends(caller)) -> dict:
        await asyncio.to_thread(support.owned_session, rt.scope, who, session_id)
        return {"interrupted": await rt.interrupt(session_id)}

    @app.get("/approvals")
    async def list_approvals(
        status: Literal["pending", "decided"] = "pending",
        session_id: str | None = None,
        who: Caller = Depends(caller),
    ) -> list[dict]:
        return await asyncio.to_thread(support.approvals, rt.scope, who, status, session_id)

    @app.post("/approvals/{approval_id}")
    async def decide(approval_id: int, body: DecisionIn, who: Caller = Depends(caller)) -> dict:
        return await _decide(rt, approval_id, body.decision == "approve", who, body.reason)

    @app.get("/audit.csv", response_class=PlainTextResponse)
    async def audit_csv(session_id: str | None = None, who: Caller = Depends(caller)) -> str:
        return await asyncio.to_thread(support.audit_csv, rt.scope, who, session_id)

    @app.get("/policies")
    async def list_policies(_: Caller = Depends(caller)) -> list[dict]:
        return await asyncio.to_thread(support.policies, rt.scope)

    @app.post("/policies", status_code=201)
    async def create_policy(body: PolicyIn, who: Caller = Depends(caller)) -> dict:
        return await asyncio.to_thread(support.create_policy, rt.scope, who, body.model_dump())

    @app.delete("/policies/{policy_id}", status_code=204)
    async def delete_policy(policy_id: int, who: Caller = Depends(caller)) -> None:
        await asyncio.to_thread(support.delete_policy, rt.scope, who, policy_id)

    @app.post("/runbook/index", status_code=202)
    async def runbook_index(body: IndexIn, who: Caller = Depends(caller)) -> dict:
        """Queue an indexing job; its progress is on GET /runbook/sources/{id}."""
        if who.role != "admin":
            # Indexing reads files on this server and clones repositories: configuration, so admins only.
            raise Forbidden("only an admin may index runbooks", field="location")
        location = body.location.strip()
        source = await asyncio.to_thread(support.queue_index, rt.scope, location)
        rt.start_job(_index_job(rt, index(), source["id"], location))
        return source

    @app.get("/runbook/sources")
    async def runbook_sources(_: Caller = Depends(caller)) -> list[dict]:
        return await asyncio.to_thread(support.runbook_sources, rt.scope, rt.index_stats)

    @app.get("/runbook/sources/{source_id}")
    async def runbook_source(source_id: int, _: Caller = Depends(caller)) -> dict:
        return await asyncio.to_thread(support.runbook_source, rt.scope, source_id, rt.index_stats)

    @app.post("/runbook/retrieve")
    async def runbook_retrieve(body: RetrieveIn, _: Caller = Depends(caller)) -> dict:
        hits = await asyncio.to_thread(index().retrieve, body.query, body.k)
        return {"query": body.query, "results": [h.__dict__ for h in hits]}

    @app.websocket("/ws/{session_id}")
    async def ws(
        websocket: WebSocket, session_id: str, after: int = Query(default=0, ge=0), token: str | None = None
    ) -> None:
        auth = websocket.headers.get("authorization") or (f"Bearer {token}" if token else None)
        try:
            who = await asyncio.to_thread(support.authenticate, rt.scope, auth)
            await asyncio.to_thread(support.owned_session, rt.scope, who, session_id)
        except DomainError as err:
            await websocket.close(code=4401 if err.status_code == 401 else 4404, reason=err.message[:120])
            return
        await websocket.accept()
        await _serve_ws(websocket, rt, session_id, after, who)

    return app


async def _index_job(rt: AgentRuntime, index: Any, source_id: int, location: str) -> None:
    await asyncio.to_thread(support.run_index, rt.scope, index, source_id, location, rt.index_stats)


async def _decide(rt: AgentRuntime, approval_id: int, approve: bool, who: Caller, reason: str) -> dict:
    row = await asyncio.to_thread(support.decide, rt.scope, approval_id, approve, who, reason)
    wake(approval_id)
    return row


async def _serve_ws(websocket: WebSocket, rt: AgentRuntime, session_id: str, after: int, who: Caller) -> None:
    # Subscribe before replaying so nothing stored in between is missed; drop duplicates by seq.
    queue = rt.hub.subscribe(session_id)
    last = after
    try:
        for message in await asyncio.to_thread(support.missed, rt.scope, session_id, after):
            await websocket.send_json(message)
            last = message["seq"]
        sender = asyncio.create_task(_forward(websocket, queue, last))
        try:
            while True:
                incoming = await websocket.receive_json()
                await _handle_client(websocket, rt, session_id, incoming, who)
        finally:
            sender.cancel()
    except WebSocketDisconnect:
        pass
    finally:
        rt.hub.unsubscribe(session_id, queue)


async def _forward(websocket: WebSocket, queue: asyncio.Queue[dict], last: int) -> None:
    while True:
        message = await queue.get()
        if message["seq"] is not None:
            if message["seq"] <= last:
                continue
            last = message["seq"]
        await websocket.send_json(message)


async def _handle_client(
    websocket: WebSocket, rt: AgentRuntime, session_id: str, incoming: Any, who: Caller
) -> None:
    kind = incoming.get("type") if isinstance(incoming, dict) else None
    try:
        if kind == "user_message":
            content = incoming.get("content")
            if not isinstance(content, str) or not content.strip() or len(content) > 20_000:
                raise Invalid("content must be 1 to 20000 characters of text", field="content")
            await rt.post_user_message(session_id, content, who)
        elif kind == "interrupt":
            await rt.interrupt(session_id)
        elif kind == "decision":
            approval_id, decision = incoming.get("approval_id"), incoming.get("decision")
            if not isinstance(approval_id, int) or isinstance(approval_id, bool):
                raise Invalid("approval_id must be the id of an approval", field="approval_id")
            if decision not in ("approve", "deny"):
                raise Invalid("decision must be approve or deny", field="decision")
            reason = str(incoming.get("reason", ""))[:2000]
            await _decide(rt, approval_id, decision == "approve", who, reason)
        else:
            raise Invalid("type must be user_message, interrupt or decision", field="type")
    except DomainError as err:
        # Not stored: a malformed client message is this connection's problem, not the session's.
        await websocket.send_json(
            {
                "type": "error",
                "seq": None,
                "session_id": session_id,
                "content": err.message,
                "data": {"field": err.field},
            }
        )


def _production_runtime() -> AgentRuntime:
    from agent.model import model_client

    # With a model configured, its verdict on each request a human must decide is shown on the card.
    return AgentRuntime(reviewer_client_factory=model_client)


app = create_app(_production_runtime())
