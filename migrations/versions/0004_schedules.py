"""schedules: layer sources and explicit shifts, shift swaps, audit trail, user feeds, time off

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "schedule_layers",
        sa.Column("source", sa.String(length=16), server_default="rotation", nullable=False),
    )
    op.create_table(
        "schedule_layer_shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("ends_at", TZ, nullable=False),
        sa.Column("external_uid", sa.Text(), nullable=True),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_schedule_layer_shifts_positive_length")),
        sa.ForeignKeyConstraint(
            ["layer_id"],
            ["schedule_layers.id"],
            name=op.f("fk_schedule_layer_shifts_layer_id_schedule_layers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_schedule_layer_shifts_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_layer_shifts")),
    )
    op.create_index(
        "ix_schedule_layer_shifts_layer_start",
        "schedule_layer_shifts",
        ["layer_id", "starts_at"],
        unique=False,
    )
    op.create_table(
        "shift_swaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("proposer_id", sa.Integer(), nullable=False),
        sa.Column("counterpart_id", sa.Integer(), nullable=False),
        sa.Column("give_starts_at", TZ, nullable=False),
        sa.Column("give_ends_at", TZ, nullable=False),
        sa.Column("take_starts_at", TZ, nullable=False),
        sa.Column("take_ends_at", TZ, nullable=False),
        sa.Column("status", sa.String(length=16), server_default="proposed", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("give_override_id", sa.Integer(), nullable=True),
        sa.Column("take_override_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("decided_at", TZ, nullable=True),
        sa.CheckConstraint(
            "status IN ('proposed','accepted','declined','cancelled')", name=op.f("ck_shift_swaps_status")
        ),
        sa.CheckConstraint("give_ends_at > give_starts_at", name=op.f("ck_shift_swaps_give_positive")),
        sa.CheckConstraint("take_ends_at > take_starts_at", name=op.f("ck_shift_swaps_take_positive")),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_shift_swaps_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["proposer_id"], ["users.id"], name=op.f("fk_shift_swaps_proposer_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["counterpart_id"],
            ["users.id"],
            name=op.f("fk_shift_swaps_counterpart_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["give_override_id"],
            ["schedule_overrides.id"],
            name=op.f("fk_shift_swaps_give_override_id_schedule_overrides"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["take_override_id"],
            ["schedule_overrides.id"],
            name=op.f("fk_shift_swaps_take_override_id_schedule_overrides"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_swaps")),
    )
    op.create_index(op.f("ix_shift_swaps_schedule_id"), "shift_swaps", ["schedule_id"], unique=False)
    op.create_table(
        "schedule_audit",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_audit_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            name=op.f("fk_schedule_audit_actor_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_audit")),
    )
    op.create_index(op.f("ix_schedule_audit_schedule_id"), "schedule_audit", ["schedule_id"], unique=False)
    op.create_table(
        "user_calendar_tokens",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_calendar_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_calendar_tokens")),
        sa.UniqueConstraint("token", name=op.f("uq_user_calendar_tokens_token")),
    )
    op.create_table(
        "time_off",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("ends_at", TZ, nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_time_off_positive_length")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_time_off_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_off")),
    )
    op.create_index(op.f("ix_time_off_user_id"), "time_off", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_time_off_user_id"), table_name="time_off")
    op.drop_table("time_off")
    op.drop_table("user_calendar_tokens")
    op.drop_index(op.f("ix_schedule_audit_schedule_id"), table_name="schedule_audit")
    op.drop_table("schedule_audit")
    op.drop_index(op.f("ix_shift_swaps_schedule_id"), table_name="shift_swaps")
    op.drop_table("shift_swaps")
    op.drop_index("ix_schedule_layer_shifts_layer_start", table_name="schedule_layer_shifts")
    op.drop_table("schedule_layer_shifts")
    op.drop_column("schedule_layers", "source")
