"""effective-dated layer versions; deliveries remember their escalation run

Revision ID: 0010
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("schedule_layers", sa.Column("lineage_id", sa.Integer(), nullable=True))
    op.add_column("schedule_layers", sa.Column("effective_from", TZ, nullable=True))
    op.add_column("schedule_layers", sa.Column("effective_until", TZ, nullable=True))
    # Every existing layer is the first and only version of itself, in force since it began.
    op.execute("UPDATE schedule_layers SET lineage_id = id")
    op.create_index("ix_schedule_layers_lineage_id", "schedule_layers", ["lineage_id"])
    op.add_column("deliveries", sa.Column("escalation_token", sa.String(length=36), nullable=True))


def downgrade() -> None:
    op.drop_column("deliveries", "escalation_token")
    op.drop_index("ix_schedule_layers_lineage_id", table_name="schedule_layers")
    op.drop_column("schedule_layers", "effective_until")
    op.drop_column("schedule_layers", "effective_from")
    op.drop_column("schedule_layers", "lineage_id")
