"""The gate's Postgres side: policies, audit log and pending approvals, each in its own transaction."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

from sqlalchemy.orm import Session

from agent.approval import ToolRequest, Verdict
from agent.policies import PolicyRule
from app.assistant import service as records
from app.db import session_scope, utcnow

Scope = Callable[[], AbstractContextManager[Session]]


class DbGateStore:
    """GateStore over the app's assistant services; `scope` opens one committed unit of work."""

    def __init__(self, scope: Scope = session_scope) -> None:
        self.scope = scope

    def policies(self) -> list[PolicyRule]:
        with self.scope() as s:
            return [
                PolicyRule(p.id, p.subject_kind, p.subject, p.tool_pattern, p.effect, p.priority, p.team_id)
                for p in records.list_policies(session=s)
            ]

    def audit(self, req: ToolRequest, verdict: Verdict, latency_ms: float) -> None:
        with self.scope() as s:
            records.record_audit(
                session=s,
                tool=req.tool,
                arguments=req.arguments,
                decision="approved" if verdict.approved else "denied",
                decided_by=verdict.decided_by,
                reason=verdict.reason,
                latency_ms=latency_ms,
                session_id=req.session_id,
                user_id=req.caller.user_id,
                incident_id=req.incident_id,
            )

    def request_approval(self, req: ToolRequest, opinions: dict, timeout: timedelta) -> int:
        with self.scope() as s:
            row = records.request_approval(
                session=s,
                tool=req.tool,
                arguments=req.arguments,
                session_id=req.session_id,
                incident_id=req.incident_id,
                requested_by=req.caller.user_id,
                opinions=opinions,
                expires_at=utcnow() + timeout,
            )
            return row.id

    def approval_status(self, approval_id: int) -> tuple[str, str | None, str | None]:
        with self.scope() as s:
            row = records.get_approval(session=s, approval_id=approval_id)
            s.refresh(row)
            return row.status, row.decided_by, row.reason

    def time_out(self, approval_id: int, by: str = "timeout") -> tuple[str, str | None, str | None]:
        with self.scope() as s:
            row = records.get_approval(session=s, approval_id=approval_id)
            if row.status == "pending":
                # A human may have decided a moment ago: decide_approval re-reads under a row lock.
                try:
                    row = records.decide_approval(
                        session=s,
                        approval_id=approval_id,
                        approve=False,
                        decided_by=by,
                        reason="no decision in time",
                    )
                except Exception:  # noqa: BLE001 - lost the race to a human: their decision stands
                    s.rollback()
                    row = records.get_approval(session=s, approval_id=approval_id)
            return row.status, row.decided_by, row.reason

    def cancel(self, approval_id: int, by: str) -> None:
        with self.scope() as s:
            records.cancel_approval(session=s, approval_id=approval_id, by=by)
