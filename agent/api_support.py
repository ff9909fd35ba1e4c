"""Blocking units of work behind the agent API: each opens one transaction and returns plain dicts."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy.orm import Session

from agent.policies import Caller
from agent.runbooks import check_location, is_git_location, redact_location
from agent.runtime import wire
from app.assistant import service as records
from app.assistant.models import AgentPolicy, AgentSession, ToolApproval
from app.directory.models import User
from app.directory.service import api_key_by_secret
from app.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.runbooks import service as sources
from app.runbooks.models import RunbookSource

Scope = Callable[[], AbstractContextManager[Session]]


class Unauthorized(DomainError):
    status_code = 401


RANK = {"viewer": 0, "responder": 1, "admin": 2}


def authenticate(scope: Scope, authorization: str | None) -> Caller:
    """The caller behind a bearer API key, with the rights its user has now; 401 without a valid one.

    A key never carries more than its user's current role: demoting a user reduces their keys at once,
    deactivating them refuses their keys.
    """
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("a bearer API key is required", field="authorization")
    with scope() as s:
        key = api_key_by_secret(session=s, raw=authorization[7:].strip())
        if key is None:
            raise Unauthorized("the API key is not valid", field="authorization")
        if key.user_id is None:
            return Caller(user_id=None, role=key.role)
        user = s.get(User, key.user_id)
        if user is None or not user.active:
            raise Unauthorized("the API key's user is deactivated", field="authorization")
        role = min(key.role, user.role, key=lambda r: RANK.get(r, 0))
        return Caller(user_id=user.id, role=role)


def session_dict(row: AgentSession) -> dict[str, Any]:
    return {
        "id": row.id,
        "user_id": row.user_id,
        "incident_id": row.incident_id,
        "title": row.title,
        "status": row.status,
        "prompt_tokens": row.prompt_tokens,
        "completion_tokens": row.completion_tokens,
        "cost_usd": row.cost_usd,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
    }


def approval_dict(row: ToolApproval) -> dict[str, Any]:
    return {
        "id": row.id,
        "session_id": row.session_id,
        "incident_id": row.incident_id,
        "tool": row.tool,
        "arguments": row.arguments,
        "status": row.status,
        "requested_by": row.requested_by,
        "decided_by": row.decided_by,
        "reason": row.reason,
        "opinions": row.opinions,
        "requested_at": row.requested_at.isoformat() if row.requested_at else None,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
    }


def policy_dict(row: AgentPolicy) -> dict[str, Any]:
    return {
        "id": row.id,
        "subject_kind": row.subject_kind,
        "subject": row.subject,
        "tool_pattern": row.tool_pattern,
        "effect": row.effect,
        "priority": row.priority,
        "team_id": row.team_id,
        "description": row.description,
    }


def _owned(s: Session, who: Caller, session_id: str) -> AgentSession:
    row = records.get_session(session=s, session_id=session_id)
    if who.role != "admin" and row.user_id != who.user_id:
        # Someone else's session is reported as absent, not as forbidden: ids are not to be probed.
        raise NotFound(f"session {session_id} does not exist", field="session_id")
    return row


def owned_session(scope: Scope, who: Caller, session_id: str) -> dict[str, Any]:
    with scope() as s:
        return session_dict(_owned(s, who, session_id))


def create_session(scope: Scope, who: Caller, incident_id: int | None, title: str) -> dict[str, Any]:
    with scope() as s:
        if incident_id is not None:
            from app.incidents.service import get_incident

            get_incident(session=s, incident_id=incident_id)
        return session_dict(
            records.create_session(session=s, user_id=who.user_id, incident_id=incident_id, title=title)
        )


def list_sessions(scope: Scope, who: Caller) -> list[dict[str, Any]]:
    with scope() as s:
        return [session_dict(r) for r in records.list_sessions(session=s, user_id=who.user_id)]


def _wired(s: Session, session_id: str, after: int) -> list[dict[str, Any]]:
    return [
        wire(m.kind, seq=m.seq, session_id=session_id, content=m.content, data=m.data)
        for m in records.messages_of(session=s, session_id=session_id, after_seq=after)
    ]


def missed(scope: Scope, session_id: str, after: int) -> list[dict[str, Any]]:
    """Stored messages after a sequence number, as the WebSocket sends them."""
    with scope() as s:
        return _wired(s, session_id, after)


def session_detail(scope: Scope, who: Caller, session_id: str) -> dict[str, Any]:
    with scope() as s:
        row = _owned(s, who, session_id)
        pending = records.pending_approvals(session=s, session_id=session_id)
        pending = records.visible_approvals(session=s, rows=pending, user_id=who.user_id, role=who.role)
        return {
            **session_dict(row),
            "messages": _wired(s, session_id, 0),
            "pending_approvals": [approval_dict(a) for a in pending],
        }


def approvals(scope: Scope, who: Caller, status: str, session_id: str | None) -> list[dict[str, Any]]:
    """Pending or decided approvals the caller may see (their own teams' and sessions'; admins all)."""
    with scope() as s:
        if status == "pending":
            rows = records.pending_approvals(session=s, session_id=session_id)
        else:
            rows = records.decided_approvals(session=s, session_id=session_id)
        rows = records.visible_approvals(session=s, rows=rows, user_id=who.user_id, role=who.role)
        return [approval_dict(r) for r in rows]


def decide(scope: Scope, approval_id: int, approve: bool, who: Caller, reason: str) -> dict[str, Any]:
    """One human decision, the same from the API, the WebSocket, Slack and the console.

    Refused for keys without a user; a late decision on a closed request is refused and audited.
    """
    by = f"human:{who.user_id}"
    try:
        if who.user_id is None:
            raise Forbidden("a key that belongs to no user cannot decide approvals", field="authorization")
        if who.role == "viewer":
            raise Forbidden("viewers may not decide approvals", field="decision")
        with scope() as s:
            row = records.decide_approval(
                session=s,
                approval_id=approval_id,
                approve=approve,
                decided_by=by,
                reason=reason,
                by_user_id=who.user_id,
            )
            return approval_dict(row)
    except (Conflict, Forbidden) as err:
        _audit_refused_decision(scope, approval_id, approve, who, err.message)
        raise


def _audit_refused_decision(scope: Scope, approval_id: int, approve: bool, who: Caller, why: str) -> None:
    with scope() as s:
        row = s.get(ToolApproval, approval_id)
        if row is None:
            return
        records.record_audit(
            session=s,
            tool=row.tool,
            arguments={"approval_id": approval_id, "decision": "approve" if approve else "deny"},
            decision="denied",
            decided_by=f"refused:human:{who.user_id}",
            reason=f"decision refused: {why}",
            session_id=row.session_id,
            user_id=who.user_id,
            incident_id=row.incident_id,
        )


def audit_csv(scope: Scope, who: Caller, session_id: str | None) -> str:
    with scope() as s:
        if who.role != "admin":
            raise Forbidden("only an admin may export the audit log", field="authorization")
        return records.audit_csv(records.list_audit(session=s, session_id=session_id, limit=100_000))


def audit_rows(scope: Scope, who: Caller, limit: int = 200) -> list[dict[str, Any]]:
    """The newest audit rows for the console (admins only)."""
    if who.role != "admin":
        raise Forbidden("only an admin may read the audit log", field="authorization")
    with scope() as s:
        return [
            {
                "at": r.at.isoformat()[:19],
                "user_id": r.user_id,
                "tool": r.tool,
                "decision": r.decision,
                "decided_by": r.decided_by,
                "reason": r.reason,
                "latency_ms": round(r.latency_ms, 1),
            }
            for r in records.list_audit(session=s, limit=limit)
        ]


def policies(scope: Scope) -> list[dict[str, Any]]:
    with scope() as s:
        return [policy_dict(p) for p in records.list_policies(session=s)]


def _admin_id(who: Caller) -> int:
    if who.user_id is None:
        raise Forbidden("policies are edited by an admin user's key", field="authorization")
    return who.user_id


def create_policy(scope: Scope, who: Caller, body: dict[str, Any]) -> dict[str, Any]:
    with scope() as s:
        return policy_dict(records.create_policy(session=s, by=_admin_id(who), **body))


def delete_policy(scope: Scope, who: Caller, policy_id: int) -> dict[str, int]:
    with scope() as s:
        records.delete_policy(session=s, by=_admin_id(who), policy_id=policy_id)
        return {"deleted": policy_id}


def source_dict(row: RunbookSource, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """A runbook source as the API shows it: its location never carries credentials."""
    return {
        "id": row.id,
        "name": row.name,
        "kind": row.kind,
        "location": redact_location(row.location),
        "status": row.status,
        "files_done": row.files_done,
        "files_total": row.files_total,
        "error": row.error,
        "last_commit": row.last_commit,
        "last_indexed_at": row.last_indexed_at.isoformat() if row.last_indexed_at else None,
        "stats": stats,
    }


def queue_index(scope: Scope, location: str) -> dict[str, Any]:
    """Check a location and record its indexing job as queued; a bad location is a 422 naming it."""
    try:
        check_location(location)
    except ValueError as err:
        raise Invalid(str(err), field="location") from None
    with scope() as s:
        row = sources.upsert_source(
            session=s,
            kind="git" if is_git_location(location) else "path",
            location=redact_location(location),
        )
        return source_dict(sources.set_progress(session=s, source_id=row.id, status="queued"))


def run_index(
    scope: Scope, index: Any, source_id: int, location: str, results: dict[int, dict[str, Any]]
) -> None:
    """The indexing job (run off the request): progress and outcome go on the source row.

    The job's stats go into `results` before the row says "done": a client polling the source must
    never read "done" beside the stats of the job before.
    """
    results.pop(source_id, None)

    def progress(done: int, total: int) -> None:
        with scope() as s:
            sources.set_progress(
                session=s, source_id=source_id, status="running", files_done=done, files_total=total
            )

    progress(0, 0)
    try:
        stats = index.index_location(location, progress)
    except Exception as err:  # noqa: BLE001 - a failed job is reported on its source, never lost
        message = str(err) if isinstance(err, ValueError) else f"indexing failed: {type(err).__name__}"
        with scope() as s:
            sources.set_progress(session=s, source_id=source_id, status="failed", error=message[:2000])
        return
    results[source_id] = {k: v for k, v in stats.__dict__.items() if k != "source"}
    with scope() as s:
        row = sources.get_source(session=s, source_id=source_id)
        sources.set_progress(
            session=s,
            source_id=source_id,
            status="done",
            files_done=row.files_done,
            files_total=row.files_total,
        )
        sources.mark_indexed(session=s, source_id=source_id, commit=stats.commit)


def runbook_sources(scope: Scope, stats: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    with scope() as s:
        return [source_dict(r, stats.get(r.id)) for r in sources.list_sources(session=s)]


def runbook_source(scope: Scope, source_id: int, stats: dict[int, dict[str, Any]]) -> dict[str, Any]:
    with scope() as s:
        return source_dict(sources.get_source(session=s, source_id=source_id), stats.get(source_id))


def recover_sessions(scope: Scope) -> None:
    """After a restart no turn is running: mark interrupted sessions idle and say so in their log."""
    with scope() as s:
        for row in records.running_sessions(session=s):
            row.status = "idle"
            # Their turns died with the old process: a late decision would reach nobody.
            for approval in records.pending_approvals(session=s, session_id=row.id):
                records.cancel_approval(session=s, approval_id=approval.id, by="restart")
            records.append_message(
                session=s,
                session_id=row.id,
                kind="interrupt",
                content="the agent service restarted during this turn",
            )
