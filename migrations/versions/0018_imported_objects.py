"""imported objects: each object an importer made remembers its source product and id

Revision ID: 0018
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0012"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imported_objects",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("source_id", sa.String(200), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False, server_default=""),
        sa.Column("imported_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.UniqueConstraint("source", "kind", "source_id", name="uq_imported_objects_source"),
    )
    op.create_index("ix_imported_objects_local", "imported_objects", ["kind", "local_id"])


def downgrade() -> None:
    op.drop_index("ix_imported_objects_local", table_name="imported_objects")
    op.drop_table("imported_objects")
