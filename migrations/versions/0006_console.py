"""console: indexes for the live incident list and the response-time windows on large histories

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_incidents_open_created",
        "incidents",
        ["created_at"],
        postgresql_where=sa.text("status IN ('triggered', 'acknowledged')"),
    )
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_created_at", table_name="incidents")
    op.drop_index("ix_incidents_open_created", table_name="incidents")
