"""derived monthly indices

Revision ID: 0004_indices
Revises: 0003_omie
"""

import sqlalchemy as sa
from alembic import op

from nessdata.migrations.helpers import id_column, instant
from nessdata.types import ExactDecimal, JSONType

revision = "0004_indices"
down_revision = "0003_omie"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_indices",
        id_column(),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("index_key", sa.String(64), nullable=False),
        sa.Column("value", ExactDecimal(24, 8)),
        sa.Column("metadata", JSONType, nullable=False, server_default=sa.text("'{}'")),
        instant("updated_at", now=True),
        sa.UniqueConstraint("period", "index_key", name="uq_data_indices_period_key"),
    )


def downgrade() -> None:
    op.drop_table("data_indices")
