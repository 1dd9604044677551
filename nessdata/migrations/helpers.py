"""Small pieces the migration scripts share."""

import sqlalchemy as sa
from alembic import op

from nessdata.types import SQLITE_NOW, UTCDateTime

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def dialect() -> str:
    return op.get_bind().dialect.name


def now_default() -> sa.TextClause:
    return sa.text(SQLITE_NOW if dialect() == "sqlite" else "now()")


def id_column() -> sa.Column:
    return sa.Column("id", Id, primary_key=True, autoincrement=True)


def instant(name: str, nullable: bool = False, now: bool = False, **kw) -> sa.Column:
    default = now_default() if now else None
    return sa.Column(name, UTCDateTime(), nullable=nullable, server_default=default, **kw)
