"""monthly rotations: a schedule layer may hand off on a day of each month

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

NAME = "rotation_kind"  # the naming convention prefixes ck_schedule_layers_


def upgrade() -> None:
    op.drop_constraint(NAME, "schedule_layers", type_="check")
    op.create_check_constraint(
        NAME, "schedule_layers", "rotation_kind IN ('hourly','daily','weekly','monthly','custom')"
    )


def downgrade() -> None:
    # Fails while a monthly layer exists: there is no older kind to rewrite it to.
    op.drop_constraint(NAME, "schedule_layers", type_="check")
    op.create_check_constraint(
        NAME, "schedule_layers", "rotation_kind IN ('hourly','daily','weekly','custom')"
    )
