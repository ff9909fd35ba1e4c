"""alert handling: silences, maintenance windows, templates, route continue, service timers, e-mail

Revision ID: 0015
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0016"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
JSONB = postgresql.JSONB(astext_type=sa.Text())
KINDS_OLD = "kind IN ('alertmanager','grafana','datadog','cloudwatch','generic','pagerduty','opsgenie')"
KINDS_NEW = (
    "kind IN ('alertmanager','grafana','datadog','cloudwatch','generic',"
    "'pagerduty','opsgenie','inbound_email')"
)


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matchers", JSONB, nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("ends_at", TZ, nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_silences_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("starts_at", TZ, nullable=False),
        sa.Column("ends_at", TZ, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_maintenance_windows_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_windows")),
    )
    op.create_index("ix_maintenance_windows_ends_at", "maintenance_windows", ["ends_at"])
    op.create_table(
        "maintenance_window_services",
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["maintenance_windows.id"],
            name=op.f("fk_maintenance_window_services_window_id_maintenance_windows"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_maintenance_window_services_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("window_id", "service_id", name=op.f("pk_maintenance_window_services")),
    )
    op.create_index(
        op.f("ix_maintenance_window_services_service_id"), "maintenance_window_services", ["service_id"]
    )
    op.add_column("alerts", sa.Column("suppressed_by", sa.String(length=40), nullable=True))
    op.add_column("alerts", sa.Column("template_errors", JSONB, nullable=True))
    op.add_column("incidents", sa.Column("suppressed_by", sa.String(length=40), nullable=True))
    op.add_column(
        "integrations", sa.Column("templates", JSONB, server_default=sa.text("'{}'"), nullable=False)
    )
    op.add_column(
        "routing_rules",
        sa.Column("continue_matching", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.add_column("services", sa.Column("ack_timeout_minutes", sa.Integer(), nullable=True))
    op.add_column("services", sa.Column("auto_resolve_minutes", sa.Integer(), nullable=True))
    op.drop_constraint(op.f("ck_integrations_kind"), "integrations", type_="check")
    op.create_check_constraint(op.f("ck_integrations_kind"), "integrations", KINDS_NEW)


def downgrade() -> None:
    op.execute("DELETE FROM integrations WHERE kind = 'inbound_email'")
    op.drop_constraint(op.f("ck_integrations_kind"), "integrations", type_="check")
    op.create_check_constraint(op.f("ck_integrations_kind"), "integrations", KINDS_OLD)
    op.drop_column("services", "auto_resolve_minutes")
    op.drop_column("services", "ack_timeout_minutes")
    op.drop_column("routing_rules", "continue_matching")
    op.drop_column("integrations", "templates")
    op.drop_column("incidents", "suppressed_by")
    op.drop_column("alerts", "template_errors")
    op.drop_column("alerts", "suppressed_by")
    op.drop_index(op.f("ix_maintenance_window_services_service_id"), table_name="maintenance_window_services")
    op.drop_table("maintenance_window_services")
    op.drop_index("ix_maintenance_windows_ends_at", table_name="maintenance_windows")
    op.drop_table("maintenance_windows")
    op.drop_index("ix_silences_ends_at", table_name="silences")
    op.drop_table("silences")
