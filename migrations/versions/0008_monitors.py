"""monitors: uptime and heartbeat monitors and their check results

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.Text(), server_default="", nullable=False),
        sa.Column("config", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("failure_threshold", sa.Integer(), nullable=False),
        sa.Column("recovery_threshold", sa.Integer(), nullable=False),
        sa.Column("paused", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="unknown", nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("consecutive_successes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_check_at", TZ, nullable=True),
        sa.Column("last_checked_at", TZ, nullable=True),
        sa.Column("last_status", sa.String(length=8), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_latency_ms", sa.Float(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_prefix", sa.String(length=12), nullable=True),
        sa.Column("grace_seconds", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_beat_at", TZ, nullable=True),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('http','tcp','dns','tls','heartbeat')", name=op.f("ck_monitors_kind")),
        sa.CheckConstraint("state IN ('unknown','up','down')", name=op.f("ck_monitors_state")),
        sa.CheckConstraint("interval_seconds >= 10", name=op.f("ck_monitors_interval")),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_monitors_service_id_services"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_monitors_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitors")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_monitors_token_hash")),
    )
    op.create_index(op.f("ix_monitors_service_id"), "monitors", ["service_id"])
    op.create_index("ix_monitors_due", "monitors", ["next_check_at"], postgresql_where=sa.text("NOT paused"))
    op.create_table(
        "monitor_checks",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("status IN ('ok','fail','error')", name=op.f("ck_monitor_checks_status")),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_monitor_checks_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_checks")),
    )
    op.create_index("ix_monitor_checks_monitor_at", "monitor_checks", ["monitor_id", "at"])
    op.create_index("ix_monitor_checks_at", "monitor_checks", ["at"])
    op.create_table(
        "monitor_hours",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("hour", TZ, nullable=False),
        sa.Column("ok", sa.Integer(), nullable=False),
        sa.Column("counted", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_monitor_hours_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("monitor_id", "hour", name=op.f("pk_monitor_hours")),
    )


def downgrade() -> None:
    op.drop_table("monitor_hours")
    op.drop_index("ix_monitor_checks_at", table_name="monitor_checks")
    op.drop_index("ix_monitor_checks_monitor_at", table_name="monitor_checks")
    op.drop_table("monitor_checks")
    op.drop_index("ix_monitors_due", table_name="monitors", postgresql_where=sa.text("NOT paused"))
    op.drop_index(op.f("ix_monitors_service_id"), table_name="monitors")
    op.drop_table("monitors")
