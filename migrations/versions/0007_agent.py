"""agent policies and the agent audit log

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_kind", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=100), server_default="*", nullable=False),
        sa.Column("tool_pattern", sa.String(length=200), nullable=False),
        sa.Column("effect", sa.String(length=8), nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("effect IN ('allow','deny')", name=op.f("ck_agent_policies_effect")),
        sa.CheckConstraint(
            "subject_kind IN ('role','user','*')", name=op.f("ck_agent_policies_subject_kind")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_agent_policies_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_policies")),
    )
    op.create_table(
        "agent_audit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("incident_id", sa.BigInteger(), nullable=True),
        sa.Column("tool", sa.String(length=200), nullable=False),
        sa.Column("arguments", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("latency_ms", sa.Float(), server_default="0", nullable=False),
        sa.CheckConstraint("decision IN ('approved','denied')", name=op.f("ck_agent_audit_decision")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_audit")),
    )
    op.create_index(op.f("ix_agent_audit_at"), "agent_audit", ["at"], unique=False)
    op.create_index(op.f("ix_agent_audit_session_id"), "agent_audit", ["session_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_agent_audit_session_id"), table_name="agent_audit")
    op.drop_index(op.f("ix_agent_audit_at"), table_name="agent_audit")
    op.drop_table("agent_audit")
    op.drop_table("agent_policies")
