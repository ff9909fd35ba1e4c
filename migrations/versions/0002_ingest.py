"""ingest: SNS subscription confirmations, alerts by integration and fingerprint

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sns_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("topic_arn", sa.Text(), nullable=False),
        sa.Column("subscribe_url", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), server_default="", nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_sns_subscriptions_integration_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sns_subscriptions")),
        sa.UniqueConstraint("integration_id", "topic_arn", name=op.f("uq_sns_subscriptions_integration_id")),
    )

    op.create_index("ix_alerts_integration_fingerprint", "alerts", ["integration_id", "fingerprint"])


def downgrade() -> None:
    op.drop_index("ix_alerts_integration_fingerprint", table_name="alerts")
    op.drop_table("sns_subscriptions")
