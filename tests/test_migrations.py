from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import pytest

from nessdata import migrations
from nessdata.db import Database
from nessdata.errors import SchemaError
from nessdata.schema import metadata
from nessdata.summary import summary


def tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(empty_db_url):
    db = Database(empty_db_url)
    try:
        migrations.upgrade(db)
        assert tables(db) == set(metadata.tables)
        assert migrations.current_revision(db) == migrations.head_revision()
        migrations.downgrade(db, "base")
        assert tables(db) == set()
        assert migrations.current_revision(db) is None
        migrations.upgrade(db)
        assert tables(db) == set(metadata.tables)
    finally:
        db.dispose()


def test_every_step_down_and_up(empty_db_url):
    db = Database(empty_db_url)
    try:
        migrations.upgrade(db)
        revisions = [rev for rev, _ in migrations.history()]
        for _ in revisions:
            migrations.downgrade(db, "-1")
        assert migrations.current_revision(db) is None
        for rev in reversed(revisions):
            migrations.upgrade(db, rev)
            assert migrations.current_revision(db) == rev
    finally:
        db.dispose()


def test_the_migrations_build_exactly_the_schema_the_code_declares(db):
    def ignore(object_, name, type_, reflected, compare_to):
        return True

    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": ignore})
        diffs = compare_metadata(context, metadata)
    # Column and table comments live in the code (and the data dictionary), not in
    # the migrations: they are the only difference allowed.
    comments = {"modify_comment", "add_table_comment", "remove_table_comment"}
    flat = [d for group in diffs for d in (group if isinstance(group, list) else [group])]
    assert [d for d in flat if d[0] not in comments] == []


def test_an_old_schema_gives_nulls_in_the_summary(empty_db_url):
    db = Database(empty_db_url)
    try:
        migrations.upgrade(db, "0001_events")
        data = summary(db)
        assert data["events_total"] == 0
        assert data["clients_total"] == 0
        assert data["last_bcb_rates_date"] is None
        assert data["last_sync"] is None
        assert data["data_indices_count"] is None
        with pytest.raises(SchemaError, match="run `nessdata db upgrade`"):
            db.check_schema()
    finally:
        db.dispose()
