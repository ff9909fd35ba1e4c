"""agent gate: team-scoped policies, who asked for an approval, cancelled approvals, indexing progress

Revision ID: 0011
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0014"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("agent_policies", sa.Column("team_id", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_agent_policies_team_id_teams"),
        "agent_policies",
        "teams",
        ["team_id"],
        ["id"],
        ondelete="CASCADE",
    )
    op.add_column("tool_approvals", sa.Column("requested_by", sa.Integer(), nullable=True))
    op.create_foreign_key(
        op.f("fk_tool_approvals_requested_by_users"),
        "tool_approvals",
        "users",
        ["requested_by"],
        ["id"],
        ondelete="SET NULL",
    )
    op.drop_constraint(op.f("ck_tool_approvals_status"), "tool_approvals", type_="check")
    op.create_check_constraint(
        op.f("ck_tool_approvals_status"),
        "tool_approvals",
        "status IN ('pending','approved','denied','cancelled')",
    )
    op.add_column(
        "runbook_sources", sa.Column("status", sa.String(length=16), server_default="idle", nullable=False)
    )
    op.add_column(
        "runbook_sources", sa.Column("files_done", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "runbook_sources", sa.Column("files_total", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("runbook_sources", sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    for column in ("error", "files_total", "files_done", "status"):
        op.drop_column("runbook_sources", column)
    op.execute("UPDATE tool_approvals SET status = 'denied' WHERE status = 'cancelled'")
    op.drop_constraint(op.f("ck_tool_approvals_status"), "tool_approvals", type_="check")
    op.create_check_constraint(
        op.f("ck_tool_approvals_status"), "tool_approvals", "status IN ('pending','approved','denied')"
    )
    op.drop_constraint(op.f("fk_tool_approvals_requested_by_users"), "tool_approvals", type_="foreignkey")
    op.drop_column("tool_approvals", "requested_by")
    op.drop_constraint(op.f("fk_agent_policies_team_id_teams"), "agent_policies", type_="foreignkey")
    op.drop_column("agent_policies", "team_id")
