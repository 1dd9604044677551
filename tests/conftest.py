"""Every test that touches SQL runs on SQLite and on PostgreSQL.

PostgreSQL is the server named by NESSDATA_TEST_POSTGRES_URL (any database on it;
the tests create a throw-away database beside it and drop it at the end). Without
it, PostgreSQL tests are skipped with that reason. NESSDATA_TEST_STRICT=1 (set by
.ci/run) turns every skip into a failure, so CI can never pass by skipping."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from nessdata import migrations
from nessdata.db import Database
from nessdata.schema import metadata

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("NESSDATA_SHARED_DATA")
                   or ROOT.parent / "shared" / "data")
PG_URL = os.environ.get("NESSDATA_TEST_POSTGRES_URL")
STRICT = os.environ.get("NESSDATA_TEST_STRICT") == "1"
TIMEZONE = "America/Sao_Paulo"
NO_PG = "no PostgreSQL given: set NESSDATA_TEST_POSTGRES_URL to run these tests"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if STRICT and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        report.outcome = "failed"
        report.longrepr = f"skipped under NESSDATA_TEST_STRICT=1 (CI): {reason}"


# -- PostgreSQL throw-away databases ---------------------------------------------------

class PostgresServer:
    """Creates throw-away databases on the test server and drops them at the end."""

    def __init__(self, url: str):
        self.url = make_url(url).set(drivername="postgresql+psycopg")
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create(self) -> str:
        name = f"nessdata_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_server():
    if not PG_URL:
        pytest.skip(NO_PG)
    server = PostgresServer(PG_URL)
    try:
        with server.admin.connect():
            pass
    except Exception as exc:  # the reason must reach the report, whatever it is
        pytest.fail(f"cannot reach NESSDATA_TEST_POSTGRES_URL={PG_URL}: {exc}")
    yield server
    server.drop_all()


@pytest.fixture(scope="session")
def pg_migrated_url(pg_server) -> str:
    url = pg_server.create()
    database = Database(url, TIMEZONE)
    migrations.upgrade(database)
    database.dispose()
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "nessdata.db"
    database = Database(f"sqlite:///{path}", TIMEZONE)
    migrations.upgrade(database)
    database.dispose()
    return path


def _truncate_all(url: str) -> None:
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables
                       if t.name != "nessdata_counters")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("UPDATE nessdata_counters SET value = 0"))
    engine.dispose()


# -- the fixtures tests use --------------------------------------------------------------

@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def db_url(backend, request, tmp_path) -> str:
    """URL of a migrated, empty database of the test's backend."""
    if backend == "sqlite":
        path = tmp_path / "nessdata.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_migrated_url")
    _truncate_all(url)
    return url


@pytest.fixture
def db(db_url) -> Database:
    database = Database(db_url, TIMEZONE)
    yield database
    database.dispose()


@pytest.fixture
def empty_db_url(backend, request, tmp_path) -> str:
    """URL of a database with no schema at all (for migration tests)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("pg_server").create()


@pytest.fixture
def cli(db_url, monkeypatch):
    """Run `nessdata …` in-process against the test database."""
    from nessdata.cli import main

    monkeypatch.setenv("NESSDATA_DATABASE_URL", db_url)
    monkeypatch.setenv("NESSDATA_TIMEZONE", TIMEZONE)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the team's shared data is not at {SHARED_DATA} (a user's own "
                    "clone; NESSDATA_SHARED_DATA may point at it): tests on real "
                    "data skipped")
    return SHARED_DATA


# -- no test reaches the real BCB ---------------------------------------------------------

@pytest.fixture(scope="session")
def bcb_demo_stub():
    """The demo's local BCB stub (recorded bodies), for the whole session."""
    from nessdata.bcb.demo import start_demo_stub

    stub = start_demo_stub()
    yield stub
    stub.stop()


@pytest.fixture(autouse=True)
def _bcb_on_loopback(bcb_demo_stub, monkeypatch):
    # Anything that syncs BCB rates from the environment's settings (`nessdata run`,
    # the web app's buttons) asks the local stub, without pauses or retry waits.
    monkeypatch.setenv("NESSDATA_BCB_SGS_URL", bcb_demo_stub.sgs_url)
    monkeypatch.setenv("NESSDATA_BCB_PTAX_URL", bcb_demo_stub.ptax_url)
    monkeypatch.setenv("NESSDATA_BCB_PAUSE", "0")
    monkeypatch.setenv("NESSDATA_BCB_RETRY_WAIT", "0")
