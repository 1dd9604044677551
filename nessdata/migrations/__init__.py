"""Alembic, driven from code: no alembic.ini to find, one chain for both databases."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

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
    command.upgrade(_config(db), revision)
    db.forget_tables()


def downgrade(db, revision: str = "-1") -> None:
    command.downgrade(_config(db), revision)
    db.forget_tables()


def history() -> list[tuple[str, str]]:
    script = ScriptDirectory.from_config(_config())
    return [(rev.revision, rev.doc) for rev in script.walk_revisions()]
