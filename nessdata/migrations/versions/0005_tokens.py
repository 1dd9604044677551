"""API tokens of the web app

Revision ID: 0005_tokens
Revises: 0004_indices
"""

import sqlalchemy as sa
from alembic import op

from nessdata.migrations.helpers import id_column, instant

revision = "0005_tokens"
down_revision = "0004_indices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        id_column(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False, server_default=""),
        sa.Column("token_hash", sa.String(64), nullable=False),
        instant("created_at", now=True),
        instant("last_used_at", nullable=True),
        instant("revoked_at", nullable=True),
        sa.UniqueConstraint("name", name="uq_api_tokens_name"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
