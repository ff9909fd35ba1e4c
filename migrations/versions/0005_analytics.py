"""analytics: no tables. Export state (Postgres snapshot watermark, batch, hashes) lives beside the
Parquet files in <data_dir>/parquet/_state.json, so the export and its state move and reset together.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
