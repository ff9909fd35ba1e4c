"""public api: scoped API keys, outgoing webhooks and their deliveries, change events, front-door kinds

Revision ID: 0013
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0010"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
KINDS_BEFORE = "'alertmanager','grafana','datadog','cloudwatch','generic'"
KINDS_AFTER = KINDS_BEFORE + ",'pagerduty','opsgenie'"


def _kinds(kinds: str) -> None:
    op.drop_constraint(op.f("ck_integrations_kind"), "integrations", type_="check")
    op.create_check_constraint(op.f("ck_integrations_kind"), "integrations", f"kind IN ({kinds})")


def upgrade() -> None:
    _kinds(KINDS_AFTER)
    op.create_index(
        "ix_incidents_service_status_created", "incidents", ["service_id", "status", "created_at"]
    )
    op.add_column(
        "api_keys",
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=32)), server_default="{}", nullable=False),
    )
    op.add_column("api_keys", sa.Column("team_id", sa.Integer(), nullable=True))
    op.add_column("api_keys", sa.Column("expires_at", TZ, nullable=True))
    op.add_column("api_keys", sa.Column("last_used_ip", sa.String(length=64), nullable=True))
    op.add_column("api_keys", sa.Column("last_used_agent", sa.Text(), nullable=True))
    op.create_foreign_key(
        op.f("fk_api_keys_team_id_teams"), "api_keys", "teams", ["team_id"], ["id"], ondelete="CASCADE"
    )
    op.create_table(
        "outgoing_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.String(length=32)), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_outgoing_webhooks_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_outgoing_webhooks_team_id_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_webhooks")),
    )
    op.create_table(
        "change_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=200), server_default="", nullable=False),
        sa.Column("at", TZ, nullable=True),
        sa.Column("custom_details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("links", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_change_events_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_events")),
    )
    op.create_index(op.f("ix_change_events_integration_id"), "change_events", ["integration_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TZ, server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", TZ, nullable=True),
        sa.CheckConstraint(
            "status IN ('pending','sent','failed')", name=op.f("ck_webhook_deliveries_status")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["incident_events.id"],
            name=op.f("fk_webhook_deliveries_event_id_incident_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_webhook_deliveries_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["outgoing_webhooks.id"],
            name=op.f("fk_webhook_deliveries_webhook_id_outgoing_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("webhook_id", "event_id", name=op.f("uq_webhook_deliveries_webhook_id")),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_webhook_deliveries_due",
        table_name="webhook_deliveries",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("webhook_deliveries")
    op.drop_index(op.f("ix_change_events_integration_id"), table_name="change_events")
    op.drop_table("change_events")
    op.drop_table("outgoing_webhooks")
    op.drop_constraint(op.f("fk_api_keys_team_id_teams"), "api_keys", type_="foreignkey")
    for column in ("last_used_agent", "last_used_ip", "expires_at", "team_id", "scopes"):
        op.drop_column("api_keys", column)
    op.drop_index("ix_incidents_service_status_created", table_name="incidents")
    op.execute("DELETE FROM integrations WHERE kind IN ('pagerduty','opsgenie')")
    _kinds(KINDS_BEFORE)
