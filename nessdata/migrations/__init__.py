"""Alembic, driven from code: no alembic.ini to find, one chain for both databases."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ..errors import SchemaError

log = logging.getLogger(__name__)

HERE = Path(__file__).parent


def _config(db=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    if db is not None:
        config.attributes["database"] = db
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(db) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db, revision: str = "head") -> None:
    _run(command.upgrade, db, revision)


def downgrade(db, revision: str = "-1") -> None:
    if current_revision(db) is None:
        raise SchemaError("the database has no nessdata schema: nothing to roll back")
    _run(command.downgrade, db, revision)


def _run(step, db, revision: str) -> None:
    try:
        step(_config(db), revision)
    except CommandError as exc:
        known = ", ".join(rev for rev, _ in history())
        raise SchemaError(f"cannot move the schema to {revision!r}: {exc} "
                          f"(revisions: {known}, head, base, -N)") from exc
    finally:
        db.forget_tables()


def history() -> list[tuple[str, str]]:
    script = ScriptDirectory.from_config(_config())
    return [(rev.revision, rev.doc) for rev in script.walk_revisions()]
