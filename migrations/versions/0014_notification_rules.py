"""notification rules: default/important step lists, new channels, single-use callbacks, shift notices

Revision ID: 0014
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0015"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
OLD_KINDS = "'slack','push','email','webhook'"
NEW_KINDS = "'slack','push','email','webhook','sms','voice','ntfy','teams','mattermost','telegram'"
OLD_STATUSES = "'pending','sending','sent','failed','throttled','cancelled'"
NEW_STATUSES = OLD_STATUSES + ",'not_configured'"

# Until now a rule was "notify by a method N minutes after the page": turn each user's rules into
# an ordered list of notify steps with wait steps for the gaps between them.
WAITS_FROM_DELAYS = """
INSERT INTO notification_rules (user_id, urgency, position, step, contact_method_id, delay_minutes)
SELECT user_id, 'default', 2 * rn - 1, 'wait', NULL, delay_minutes - prev
FROM (
    SELECT user_id, delay_minutes,
           row_number() OVER w AS rn,
           coalesce(lag(delay_minutes) OVER w, 0) AS prev
    FROM notification_rules
    WINDOW w AS (PARTITION BY user_id ORDER BY delay_minutes, id)
) s
WHERE delay_minutes > prev
"""
NOTIFY_POSITIONS = """
UPDATE notification_rules r SET position = 2 * s.rn, delay_minutes = 0
FROM (
    SELECT id, row_number() OVER (PARTITION BY user_id ORDER BY delay_minutes, id) AS rn
    FROM notification_rules WHERE step = 'notify'
) s
WHERE r.id = s.id
"""


def _recheck(table: str, name: str, values: str, column: str = "kind") -> None:
    op.drop_constraint(op.f(f"ck_{table}_{name}"), table, type_="check")
    op.create_check_constraint(op.f(f"ck_{table}_{name}"), table, f"{column} IN ({values})")


def upgrade() -> None:
    _recheck("contact_methods", "kind", NEW_KINDS)
    _recheck("deliveries", "status", NEW_STATUSES, "status")
    op.add_column("deliveries", sa.Column("provider_status", sa.String(length=32), nullable=True))
    op.add_column(
        "notification_rules", sa.Column("urgency", sa.String(16), server_default="default", nullable=False)
    )
    op.add_column(
        "notification_rules", sa.Column("position", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column(
        "notification_rules", sa.Column("step", sa.String(8), server_default="notify", nullable=False)
    )
    op.alter_column("notification_rules", "contact_method_id", nullable=True)
    op.execute(WAITS_FROM_DELAYS)
    op.execute(NOTIFY_POSITIONS)
    op.create_check_constraint(
        op.f("ck_notification_rules_urgency"), "notification_rules", "urgency IN ('default','important')"
    )
    op.create_check_constraint(
        op.f("ck_notification_rules_step"), "notification_rules", "step IN ('notify','wait')"
    )
    op.create_check_constraint(
        op.f("ck_notification_rules_step_shape"),
        "notification_rules",
        "(step = 'notify' AND contact_method_id IS NOT NULL) OR (step = 'wait' AND delay_minutes > 0)",
    )
    op.add_column(
        "escalation_levels",
        sa.Column("important", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column(
        "services",
        sa.Column(
            "important_severities",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[\"critical\"]'::jsonb"),
            nullable=False,
        ),
    )
    op.create_table(
        "used_callbacks",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("used_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_used_callbacks_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_used_callbacks")),
    )
    op.create_table(
        "shift_reminder_settings",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("lead_minutes", sa.Integer(), server_default="60", nullable=False),
        sa.Column("contact_method_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_shift_reminder_settings_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_method_id"],
            ["contact_methods.id"],
            name=op.f("fk_shift_reminder_settings_contact_method_id_contact_methods"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_shift_reminder_settings")),
    )
    op.create_table(
        "shift_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("shift_start", TZ, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", TZ, nullable=True),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_shift_notices_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_shift_notices_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shift_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_shift_notices_key")),
    )
    op.create_index(op.f("ix_shift_notices_user_id"), "shift_notices", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_shift_notices_user_id"), table_name="shift_notices")
    op.drop_table("shift_notices")
    op.drop_table("shift_reminder_settings")
    op.drop_table("used_callbacks")
    op.drop_column("services", "important_severities")
    op.drop_column("escalation_levels", "important")
    for name in ("step_shape", "step", "urgency"):
        op.drop_constraint(op.f(f"ck_notification_rules_{name}"), "notification_rules", type_="check")
    op.execute("DELETE FROM notification_rules WHERE step = 'wait' OR urgency = 'important'")
    op.alter_column("notification_rules", "contact_method_id", nullable=False)
    for column in ("step", "position", "urgency"):
        op.drop_column("notification_rules", column)
    op.drop_column("deliveries", "provider_status")
    op.execute("UPDATE deliveries SET status = 'failed' WHERE status = 'not_configured'")
    _recheck("deliveries", "status", OLD_STATUSES, "status")
    op.execute(f"DELETE FROM contact_methods WHERE kind NOT IN ({OLD_KINDS})")
    _recheck("contact_methods", "kind", OLD_KINDS)
