"""The agent's records: chat sessions and messages, tool approvals, agent policies and the audit log.

Keyword-only services; the caller owns the transaction.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.assistant.approvals import (  # noqa: F401 - approvals are part of the assistant records
    ClosedApproval,
    cancel_approval,
    check_approver,
    decide_approval,
    decided_approvals,
    expire_approvals,
    get_approval,
    pending_approvals,
    request_approval,
    visible_approvals,
)
from app.assistant.models import AgentAudit, AgentMessage, AgentPolicy, AgentSession
from app.auth.permissions import require_admin
from app.db import utcnow
from app.directory.models import ROLES, Team
from app.errors import Invalid, NotFound

MESSAGE_KINDS = (
    "user_message",
    "assistant_message",
    "tool_call",
    "approval_required",
    "approval_decision",
    "tool_result",
    "interrupt",
    "error",
)
SUBJECT_KINDS = ("role", "user", "*")
EFFECTS = ("allow", "deny")
AUDIT_COLUMNS = ("at", "session_id", "user_id", "incident_id", "tool", "arguments", "decision", "decided_by")


def create_session(
    *, session: Session, user_id: int | None, incident_id: int | None = None, title: str = ""
) -> AgentSession:
    """Open a chat session for a user, optionally about one incident."""
    if len(title) > 500:
        raise Invalid("title must be at most 500 characters", field="title")
    row = AgentSession(
        id=str(uuid.uuid4()), user_id=user_id, incident_id=incident_id, title=title.strip(), state={}
    )
    session.add(row)
    session.flush()
    return row


def get_session(*, session: Session, session_id: str) -> AgentSession:
    row = session.get(AgentSession, session_id) if _is_uuid(session_id) else None
    if row is None:
        raise NotFound(f"session {session_id} does not exist", field="session_id")
    return row


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def list_sessions(*, session: Session, user_id: int | None, limit: int = 100) -> list[AgentSession]:
    """A user's sessions, most recently active first (all sessions for user_id None)."""
    stmt = select(AgentSession)
    if user_id is not None:
        stmt = stmt.where(AgentSession.user_id == user_id)
    return list(session.scalars(stmt.order_by(AgentSession.updated_at.desc()).limit(limit)))


def title_if_untitled(*, session: Session, session_id: str, text: str) -> AgentSession:
    """Name an untitled session after its first question (the session list stays readable)."""
    row = get_session(session=session, session_id=session_id)
    if not row.title:
        row.title = " ".join(text.split())[:80]
        session.flush()
    return row


def running_sessions(*, session: Session) -> list[AgentSession]:
    """Sessions whose last turn was still running (after a restart, none really is)."""
    return list(session.scalars(select(AgentSession).where(AgentSession.status == "running")))


def append_message(
    *, session: Session, session_id: str, kind: str, content: str = "", data: dict[str, Any] | None = None
) -> AgentMessage:
    """Append one message to a session's log with the next sequence number."""
    if kind not in MESSAGE_KINDS:
        raise Invalid(f"kind must be one of {', '.join(MESSAGE_KINDS)}", field="kind")
    # Lock the session row so two writers never take the same sequence number.
    row = session.scalar(select(AgentSession).where(AgentSession.id == session_id).with_for_update())
    if row is None:
        raise NotFound(f"session {session_id} does not exist", field="session_id")
    seq = (
        session.scalar(select(func.max(AgentMessage.seq)).where(AgentMessage.session_id == session_id)) or 0
    ) + 1
    message = AgentMessage(session_id=session_id, seq=seq, kind=kind, content=content, data=data or {})
    session.add(message)
    row.updated_at = utcnow()
    session.flush()
    return message


def messages_of(*, session: Session, session_id: str, after_seq: int = 0) -> list[AgentMessage]:
    """A session's messages after a sequence number, in order (what a reconnecting client missed)."""
    return list(
        session.scalars(
            select(AgentMessage)
            .where(AgentMessage.session_id == session_id, AgentMessage.seq > after_seq)
            .order_by(AgentMessage.seq)
        )
    )


def save_state(
    *,
    session: Session,
    session_id: str,
    state: dict[str, Any] | None = None,
    status: str | None = None,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    cost_usd: float = 0.0,
) -> AgentSession:
    """Store the agent's state after a step and add that step's token usage and cost."""
    row = get_session(session=session, session_id=session_id)
    if state is not None:
        row.state = state
    if status is not None:
        row.status = status
    row.prompt_tokens += prompt_tokens
    row.completion_tokens += completion_tokens
    row.cost_usd += cost_usd
    row.updated_at = utcnow()
    session.flush()
    return row


def create_policy(
    *,
    session: Session,
    by: int,
    subject_kind: str,
    tool_pattern: str,
    effect: str,
    subject: str = "*",
    priority: int = 0,
    description: str = "",
    team_id: int | None = None,
) -> AgentPolicy:
    """Add an allow/deny rule for agent tools (admins only); allow rules must name their team."""
    require_admin(session, by)
    if subject_kind not in SUBJECT_KINDS:
        raise Invalid(f"subject_kind must be one of {', '.join(SUBJECT_KINDS)}", field="subject_kind")
    if effect not in EFFECTS:
        raise Invalid("effect must be allow or deny", field="effect")
    if not tool_pattern.strip() or len(tool_pattern) > 200:
        raise Invalid("tool_pattern must be 1 to 200 characters", field="tool_pattern")
    subject = _check_subject(subject_kind, subject.strip())
    if not -1000 <= priority <= 1000:
        raise Invalid("priority must be between -1000 and 1000", field="priority")
    if effect == "allow" and team_id is None:
        raise Invalid("an allow rule must name the team whose incidents it covers", field="team_id")
    if team_id is not None and session.get(Team, team_id) is None:
        raise Invalid(f"team {team_id} does not exist", field="team_id")
    row = AgentPolicy(
        subject_kind=subject_kind,
        subject=subject,
        tool_pattern=tool_pattern.strip(),
        effect=effect,
        priority=priority,
        description=description,
        team_id=team_id,
        created_by=by,
    )
    session.add(row)
    session.flush()
    return row


def _check_subject(kind: str, subject: str) -> str:
    if kind == "*":
        return "*"
    if kind == "role" and subject not in ROLES:
        raise Invalid(f"subject must be one of {', '.join(ROLES)} for a role rule", field="subject")
    if kind == "user" and not subject.isdigit():
        raise Invalid("subject must be a user id for a user rule", field="subject")
    return subject


def delete_policy(*, session: Session, by: int, policy_id: int) -> None:
    """Remove a rule (admins only); removing a removed rule is a no-op."""
    require_admin(session, by)
    row = session.get(AgentPolicy, policy_id)
    if row is not None:
        session.delete(row)
        session.flush()


def list_policies(*, session: Session) -> list[AgentPolicy]:
    return list(session.scalars(select(AgentPolicy).order_by(AgentPolicy.priority.desc(), AgentPolicy.id)))


def record_audit(
    *,
    session: Session,
    tool: str,
    arguments: dict[str, Any],
    decision: str,
    decided_by: str,
    reason: str = "",
    latency_ms: float = 0.0,
    session_id: str | None = None,
    user_id: int | None = None,
    incident_id: int | None = None,
) -> AgentAudit:
    """Append one gate decision to the audit log."""
    row = AgentAudit(
        session_id=session_id,
        user_id=user_id,
        incident_id=incident_id,
        tool=tool[:200],
        arguments=arguments,
        decision=decision,
        decided_by=decided_by[:100],
        reason=reason,
        latency_ms=latency_ms,
        at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def list_audit(*, session: Session, session_id: str | None = None, limit: int = 1000) -> list[AgentAudit]:
    """Audit rows, newest first."""
    stmt = select(AgentAudit)
    if session_id is not None:
        stmt = stmt.where(AgentAudit.session_id == session_id)
    return list(session.scalars(stmt.order_by(AgentAudit.id.desc()).limit(limit)))


def audit_csv(rows: list[AgentAudit]) -> str:
    """Audit rows as CSV (who, tool, arguments, decision, decided by, reason, latency)."""
    import json

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*AUDIT_COLUMNS, "reason", "latency_ms"])
    for r in rows:
        writer.writerow(
            [
                r.at.isoformat() if r.at else "",
                r.session_id or "",
                r.user_id if r.user_id is not None else "",
                r.incident_id if r.incident_id is not None else "",
                r.tool,
                json.dumps(r.arguments, sort_keys=True),
                r.decision,
                r.decided_by,
                r.reason,
                f"{r.latency_ms:.1f}",
            ]
        )
    return out.getvalue()


def has_analysis(*, session: Session, incident_id: int, lock: bool = False) -> bool:
    """Whether the incident already has an AI first look (lock=True serialises concurrent writers)."""
    from app.incidents.models import Incident, IncidentEvent

    if lock:
        session.execute(select(Incident.id).where(Incident.id == incident_id).with_for_update())
    found = session.scalar(
        select(IncidentEvent.id).where(
            IncidentEvent.incident_id == incident_id, IncidentEvent.kind == "ai_analysis"
        )
    )
    return found is not None


def incidents_awaiting_analysis(*, session: Session, since: datetime, limit: int = 100) -> list[int]:
    """Ids of incidents opened since a time that have no AI first look yet, oldest first."""
    from app.incidents.models import Incident, IncidentEvent

    analysed = select(IncidentEvent.id).where(
        IncidentEvent.incident_id == Incident.id, IncidentEvent.kind == "ai_analysis"
    )
    stmt = (
        select(Incident.id)
        .where(Incident.created_at >= since, ~analysed.exists())
        .order_by(Incident.created_at)
        .limit(limit)
    )
    return list(session.scalars(stmt))
