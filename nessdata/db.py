"""Engines, transactions and locks, the same way on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from .errors import ConfigError, NessdataError, SchemaError
from .settings import Settings, load_settings

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 60_000


class Database:
    """A database and the business time zone its days and months are counted in."""

    def __init__(self, url: str, timezone_name: str = "America/Sao_Paulo"):
        self.url = url
        self.tz = ZoneInfo(timezone_name)
        self.engine = _create_engine(url)
        self.dialect = self.engine.dialect.name

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Database:
        settings = settings or load_settings()
        return cls(settings.database_url, settings.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextmanager
    def begin(self, *, write: bool = False) -> Iterator[Connection]:
        """A transaction. ``write=True`` takes SQLite's write lock at the start, so
        two writers queue instead of failing half-way."""
        with self.engine.connect() as conn:
            if write and self.is_sqlite:
                conn = conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    def lock(self, conn: Connection, name: str) -> None:
        """Serialise a job across processes for the rest of the transaction.

        PostgreSQL takes an advisory lock; on SQLite the write transaction that
        ``begin(write=True)`` opened already excludes every other writer."""
        if self.dialect == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)}
            )

    def try_lock(self, conn: Connection, name: str) -> bool:
        """Like ``lock`` but answers False at once when another holds it."""
        if self.dialect != "postgresql":
            return True
        return bool(
            conn.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(name)}
            ).scalar()
        )

    @cached_property
    def _existing_tables(self) -> frozenset[str]:
        return frozenset(inspect(self.engine).get_table_names())

    def has_table(self, name: str) -> bool:
        return name in self._existing_tables

    def forget_tables(self) -> None:
        self.__dict__.pop("_existing_tables", None)

    def check_schema(self) -> None:
        """Raise SchemaError unless the schema is at the newest migration."""
        from .migrations import current_revision, head_revision

        try:
            current = current_revision(self)
        except OperationalError as exc:
            raise NessdataError(f"cannot reach the database: {exc.orig}") from exc
        head = head_revision()
        if current is None:
            raise SchemaError("the database has no nessdata schema yet: run "
                              "`nessdata db upgrade`")
        if current != head:
            raise SchemaError(
                f"the database schema is at {current}, this nessdata needs {head}: "
                "run `nessdata db upgrade`"
            )

    def ensure_schema(self) -> None:
        """Check the schema; an empty SQLite file gets it created (zero set-up).

        PostgreSQL is never migrated behind the operator's back."""
        from .migrations import current_revision, upgrade

        if self.is_sqlite and current_revision(self) is None:
            log.info("creating the nessdata schema in %s", self.engine.url.database)
            upgrade(self)
            self.forget_tables()
        self.check_schema()

    def dispose(self) -> None:
        self.engine.dispose()


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def lock_key(name: str) -> int:
    """A stable 63-bit key for an advisory lock name."""
    return zlib.crc32(f"nessdata:{name}".encode()) | (0x4E455353 << 32)


def _create_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"NESSDATA_DATABASE_URL={url!r} is not a database URL") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed,
            connect_args={"options": "-c timezone=UTC"},
            pool_pre_ping=True,
        )
    raise ConfigError(
        f"NESSDATA_DATABASE_URL={url!r}: only sqlite:/// and postgresql+psycopg:// "
        "URLs are supported"
    )


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    # pysqlite's own transaction handling is switched off so that SQLAlchemy's BEGIN
    # is the real one, and so that a write transaction can be BEGIN IMMEDIATE.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        immediate = conn.get_execution_options().get("sqlite_immediate")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
