"""Omie revenue per client and month

Revision ID: 0003_omie
Revises: 0002_bcb
"""

import sqlalchemy as sa
from alembic import op

from nessdata.migrations.helpers import Id, id_column, instant
from nessdata.types import ExactDecimal

revision = "0003_omie"
down_revision = "0002_bcb"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erp_revenue_snapshot",
        id_column(),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("omie_codigo", sa.BigInteger(), nullable=False),
        sa.Column("client_id", Id, sa.ForeignKey("clients.id", ondelete="SET NULL")),
        sa.Column("valor", ExactDecimal(18, 2), nullable=False),
        sa.Column("titles_count", sa.Integer(), nullable=False),
        instant("synced_at", now=True),
        sa.UniqueConstraint("period", "omie_codigo",
                            name="uq_erp_revenue_period_client"),
    )


def downgrade() -> None:
    op.drop_table("erp_revenue_snapshot")
