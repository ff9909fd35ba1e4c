"""What the AI agent keeps: sessions, messages and the tool approvals it asked for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class AgentSession(Base):
    __tablename__ = "agent_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="idle", server_default="idle")
    # The agent's saved state (AutoGen save_state), written after every step.
    state: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    updated_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class AgentMessage(Base):
    __tablename__ = "agent_messages"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("agent_sessions.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    # user_message, assistant_message, tool_call, approval_required, approval_decision, tool_result, error
    kind: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Text, default="", server_default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class ToolApproval(Base):
    __tablename__ = "tool_approvals"
    __table_args__ = (
        CheckConstraint("status IN ('pending','approved','denied','cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("agent_sessions.id", ondelete="SET NULL"), index=True
    )
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    tool: Mapped[str] = mapped_column(String(200))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Who the agent acted for when it asked: that user may not approve their own request.
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # cancelled: the turn that asked was interrupted or the service restarted; a late decision is refused.
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    # "rule", "policy", "llm", "human:<user id>", "timeout"
    decided_by: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    # Opinions gathered before a human decides (rule and LLM reviewer verdicts).
    opinions: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    requested_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    decided_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class AgentPolicy(Base):
    """An admin's allow/deny rule for agent tools, by role, user or everyone (`*`)."""

    __tablename__ = "agent_policies"
    __table_args__ = (
        CheckConstraint("effect IN ('allow','deny')", name="effect"),
        CheckConstraint("subject_kind IN ('role','user','*')", name="subject_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(8))
    # A role name or a user id as text; "*" when subject_kind is "*".
    subject: Mapped[str] = mapped_column(String(100), default="*", server_default="*")
    # Allow rules hold only for incidents of this team's services; a deny rule with no team, everywhere.
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    tool_pattern: Mapped[str] = mapped_column(String(200))
    effect: Mapped[str] = mapped_column(String(8))
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=text("now()"))


class AgentAudit(Base):
    """One tool request the gate saw and what it decided (append-only)."""

    __tablename__ = "agent_audit"
    __table_args__ = (CheckConstraint("decision IN ('approved','denied')", name="decision"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=text("now()"), index=True)
    # Plain ids, no foreign keys: the log keeps what was asked (even for an incident that does not
    # exist) and outlives deleted users and incidents.
    session_id: Mapped[str | None] = mapped_column(String(36), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    incident_id: Mapped[int | None] = mapped_column(BigInteger)
    tool: Mapped[str] = mapped_column(String(200))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    decision: Mapped[str] = mapped_column(String(8))
    # "deny_list", "auto_approve", "policy:<id>", "rule", "llm", "human:<user id>", "timeout", "malformed"
    decided_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
