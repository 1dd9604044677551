"""sync runs and BCB rates

Revision ID: 0002_bcb
Revises: 0001_events
"""

import sqlalchemy as sa
from alembic import op

from nessdata.migrations.helpers import id_column, instant
from nessdata.types import ExactDecimal, JSONType

revision = "0002_bcb"
down_revision = "0001_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_runs",
        id_column(),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("params", JSONType, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("status", sa.String(16), nullable=False),
        instant("started_at", now=True),
        instant("finished_at", nullable=True),
        instant("heartbeat_at", nullable=True),
        sa.Column("records_written", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("error", sa.Text()),
        instant("resume_after", nullable=True),
        sa.Column("pid", sa.Integer()),
        sa.Column("hostname", sa.Text()),
    )
    op.create_index("ix_sync_runs_source_started", "sync_runs",
                    ["source", "started_at"])
    op.create_table(
        "bcb_rates_snapshot",
        id_column(),
        sa.Column("rate_type", sa.String(32), nullable=False),
        sa.Column("ref_date", sa.Date(), nullable=False),
        sa.Column("value", ExactDecimal(24, 8), nullable=False),
        sa.Column("value_buy", ExactDecimal(24, 8)),
        sa.Column("value_sell", ExactDecimal(24, 8)),
        sa.Column("source", sa.Text(), nullable=False),
        instant("synced_at", now=True),
        sa.UniqueConstraint("rate_type", "ref_date", name="uq_bcb_rates_type_date"),
    )


def downgrade() -> None:
    op.drop_table("bcb_rates_snapshot")
    op.drop_table("sync_runs")
