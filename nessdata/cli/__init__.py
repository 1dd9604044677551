"""The `nessdata` command: a thin layer that parses options, calls the Python API
and renders what it returns. Each topic registers its commands from its own module."""

from __future__ import annotations

import functools
import json
import logging
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import DBAPIError

from ..db import Database
from ..errors import NessdataError, RejectedInput
from ..serialize import dumps
from ..settings import Settings, load_settings

log = logging.getLogger("nessdata")


class State:
    """Settings and the database, made on first use so `--help` needs neither."""

    def __init__(self, overrides: dict[str, Any]):
        self.overrides = overrides
        self._settings: Settings | None = None
        self._db: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(**self.overrides)
        return self._settings

    def database(self, *, check_schema: bool = True, must_exist: bool = False
                 ) -> Database:
        """The database; `must_exist` refuses to create a new SQLite file (for
        commands that only read, run in the wrong directory)."""
        if self._db is None:
            database = Database.from_settings(self.settings)
            path = database.engine.url.database
            if must_exist and database.is_sqlite and path and not Path(path).exists():
                database.dispose()
                raise NessdataError(
                    f"no database at {Path(path).resolve()}: run this where "
                    "nessdata.db is, or set NESSDATA_DATABASE_URL")
            self._db = database
            if check_schema:
                self._db.ensure_schema()
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def with_db(command):
    """Pass the checked Database as the first argument of a command."""

    @functools.wraps(command)
    @click.pass_obj
    def wrapper(state: State, *args, **kwargs):
        return command(state.database(), *args, **kwargs)

    return wrapper


def with_existing_db(command):
    """Like with_db, for commands that only read: no new SQLite file is made."""

    @functools.wraps(command)
    @click.pass_obj
    def wrapper(state: State, *args, **kwargs):
        return command(state.database(must_exist=True), *args, **kwargs)

    return wrapper


def with_state(command):
    return click.pass_obj(command)


def echo_json(value: Any) -> None:
    click.echo(dumps(value, indent=2))


@contextmanager
def rejects_as_json(as_json: bool):
    """With --json, a rejected file still prints its rejects as JSON on stdout."""
    try:
        yield
    except RejectedInput as exc:
        if not as_json:
            raise
        echo_json({"stored": 0, "rejected": len(exc.rejects),
                   "rejects": [r.as_dict() for r in exc.rejects]})
        click.secho(f"error: {exc.source}: {len(exc.rejects)} invalid row(s), "
                    "nothing was stored", fg="red", err=True)
        sys.exit(exc.exit_code)


def show_import_report(report, noun: str, as_json: bool) -> None:
    """The report of a CSV import of business records (leads, contracts)."""
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(f"{report.read} rows: {report.new} new {noun}, {report.updated} "
               f"updated, {report.unchanged} unchanged, {report.events} events, "
               f"{len(report.rejected)} rejected")
    for reject in report.rejected:
        click.echo(f"  skipped {reject}", err=True)


class Root(click.Group):
    """Renders nessdata's own errors as one clear line instead of a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except NessdataError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except DBAPIError as exc:
            # The driver's own words (connection refused, lock timeout…) are the
            # useful part; the SQL statement is logged at DEBUG.
            log.debug("database error", exc_info=True)
            click.secho(f"error: database: {exc.orig}".rstrip(), fg="red", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.secho("interrupted: nothing of the current transaction was kept",
                        fg="yellow", err=True)
            sys.exit(130)


@click.group(cls=Root, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--database-url", envvar="NESSDATA_DATABASE_URL", show_envvar=True,
              help="Database URL (default sqlite:///nessdata.db).")
@click.option("--timezone", envvar="NESSDATA_TIMEZONE", show_envvar=True,
              help="Business time zone (default America/Sao_Paulo).")
@click.option("-v", "--verbose", is_flag=True, help="Log details (DEBUG).")
@click.option("-q", "--quiet", is_flag=True, help="Log only warnings and errors.")
@click.version_option(package_name="nessdata")
@click.pass_context
def main(ctx: click.Context, database_url, timezone, verbose, quiet):
    """nessdata: events, daily rollups, BCB and Omie snapshots and indices."""
    state = State({"database_url": database_url, "timezone": timezone})
    ctx.obj = state
    ctx.call_on_close(state.close)
    level = "DEBUG" if verbose else "WARNING" if quiet else None
    _configure_logging(level or _settings_level(state))
    # A service manager stops with SIGTERM: unwind like Ctrl-C, so the open
    # transaction rolls back and a sync's log row says it was stopped.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)


def _stop(signum, frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def _settings_level(state: State) -> str:
    try:
        return state.settings.log_level
    except NessdataError:
        return "INFO"


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # httpx logs every request and alembic every connection at INFO; our own lines
    # say what matters. -v shows theirs too.
    quiet_below = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in ("httpx", "alembic"):
        logging.getLogger(name).setLevel(quiet_below)


@main.group()
def sync():
    """Fetch outside data (BCB rates, Omie ERP) into snapshot tables."""


def parse_json_option(value: str | None, name: str) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc.msg}", param_hint=name)


# Importing these modules registers their commands on `main`.
from . import bcb, contracts, core, docs, indices, omie, stubs, web  # noqa: E402,F401
