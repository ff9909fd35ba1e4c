"""Tool approvals: the requests a human decides, who may decide them, and closing them when a turn ends.

Keyword-only services; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.assistant.models import AgentSession, ToolApproval
from app.auth.permissions import require_service_action
from app.config import get_settings
from app.db import get_or_404, utcnow
from app.directory.models import Service, TeamMembership, User
from app.errors import Conflict, Forbidden, NotFound
from app.incidents.models import Incident
from app.incidents.service import get_incident


def request_approval(
    *,
    session: Session,
    tool: str,
    arguments: dict[str, Any],
    session_id: str | None = None,
    incident_id: int | None = None,
    opinions: dict[str, Any] | None = None,
    expires_at: datetime | None = None,
    requested_by: int | None = None,
) -> ToolApproval:
    """Store a pending approval that a human decides from the console, the API or Slack."""

    if incident_id is not None and session.get(Incident, incident_id) is None:
        incident_id = None  # the model named an incident that does not exist; the arguments still show it
    row = ToolApproval(
        session_id=session_id,
        incident_id=incident_id,
        tool=tool,
        arguments=arguments,
        requested_by=requested_by,
        status="pending",
        opinions=opinions or {},
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def get_approval(*, session: Session, approval_id: int) -> ToolApproval:
    row = get_or_404(session, ToolApproval, approval_id, what="approval", field="approval_id")
    return row


class ClosedApproval(Conflict):
    """A decision on a request that is no longer pending (decided the other way, or cancelled)."""


def check_approver(*, session: Session, row: ToolApproval, user_id: int, approve: bool) -> None:
    """Raise Forbidden unless the user may decide this request with their rights as they are now.

    Nobody approves a request made on their own behalf (an admin only when AGENT_ADMIN_SELF_APPROVAL
    is on); a request about an incident is decided by someone who may act on it; one about no
    incident by an admin.
    """

    user = session.get(User, user_id)
    if user is None or not user.active:
        raise Forbidden("this account is deactivated", field="by")
    own = approve and row.requested_by == user_id
    if own and not (user.role == "admin" and get_settings().agent_admin_self_approval):
        raise Forbidden("you cannot approve a tool request made on your own behalf", field="by")
    if row.incident_id is None:
        if user.role != "admin":
            raise Forbidden("only an admin may decide a request that is about no incident", field="by")
        return
    incident = get_incident(session=session, incident_id=row.incident_id)
    require_service_action(session, user_id, incident.service_id)


def decide_approval(
    *,
    session: Session,
    approval_id: int,
    approve: bool,
    decided_by: str,
    reason: str = "",
    by_user_id: int | None = None,
    now: datetime | None = None,
) -> ToolApproval:
    """Approve or deny a pending request; repeating the same decision is a no-op, anything late a 409.

    A human decider (by_user_id) must pass check_approver; the system (timeout, restart) passes None.
    """
    row = session.scalar(select(ToolApproval).where(ToolApproval.id == approval_id).with_for_update())
    if row is None:
        raise NotFound(f"approval {approval_id} does not exist", field="approval_id")
    session.refresh(row)
    if by_user_id is not None:
        check_approver(session=session, row=row, user_id=by_user_id, approve=approve)
    status = "approved" if approve else "denied"
    if row.status != "pending":
        if row.status == status:
            return row
        raise ClosedApproval(f"approval {approval_id} was already {row.status}", field="decision")
    row.status, row.decided_by, row.reason = status, decided_by[:100], reason[:2000]
    row.decided_at = now or utcnow()
    session.flush()
    return row


def cancel_approval(*, session: Session, approval_id: int, by: str, now: datetime | None = None) -> None:
    """Close a pending request whose turn ended (interrupt, restart): a late decision is refused."""
    row = session.scalar(select(ToolApproval).where(ToolApproval.id == approval_id).with_for_update())
    if row is not None and row.status == "pending":
        row.status, row.decided_by, row.reason = "cancelled", by[:100], "the turn that asked for it ended"
        row.decided_at = now or utcnow()
        session.flush()


def visible_approvals(
    *, session: Session, rows: list[ToolApproval], user_id: int | None, role: str | None
) -> list[ToolApproval]:
    """The approvals a caller may see: admins all; others those of their own teams' incidents and sessions."""

    if role == "admin":
        return rows
    if user_id is None:
        return []
    teams = set(session.scalars(select(TeamMembership.team_id).where(TeamMembership.user_id == user_id)))
    own_sessions = set(session.scalars(select(AgentSession.id).where(AgentSession.user_id == user_id)))
    incident_ids = {r.incident_id for r in rows if r.incident_id is not None}
    team_of = (
        dict(
            session.execute(
                select(Incident.id, Service.team_id)
                .join(Service, Service.id == Incident.service_id)
                .where(Incident.id.in_(incident_ids))
            ).all()
        )
        if incident_ids
        else {}
    )
    return [
        r
        for r in rows
        if r.session_id in own_sessions or (r.incident_id is not None and team_of.get(r.incident_id) in teams)
    ]


def pending_approvals(*, session: Session, session_id: str | None = None) -> list[ToolApproval]:
    """Approvals waiting for a human, oldest first."""
    stmt = select(ToolApproval).where(ToolApproval.status == "pending")
    if session_id is not None:
        stmt = stmt.where(ToolApproval.session_id == session_id)
    return list(session.scalars(stmt.order_by(ToolApproval.id)))


def decided_approvals(
    *, session: Session, session_id: str | None = None, limit: int = 100
) -> list[ToolApproval]:
    """Decided approvals, newest first (the decision history)."""
    stmt = select(ToolApproval).where(ToolApproval.status != "pending")
    if session_id is not None:
        stmt = stmt.where(ToolApproval.session_id == session_id)
    return list(
        session.scalars(stmt.order_by(ToolApproval.decided_at.desc(), ToolApproval.id.desc()).limit(limit))
    )


def expire_approvals(*, session: Session, now: datetime | None = None) -> list[ToolApproval]:
    """Deny every pending approval past its expiry (decided_by "timeout")."""
    now = now or utcnow()
    rows = list(
        session.scalars(
            select(ToolApproval)
            .where(ToolApproval.status == "pending", ToolApproval.expires_at <= now)
            .with_for_update(skip_locked=True)
        )
    )
    for row in rows:
        row.status, row.decided_by, row.reason, row.decided_at = (
            "denied",
            "timeout",
            "no decision in time",
            now,
        )
    session.flush()
    return rows
