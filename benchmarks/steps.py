"""One timed operation per call; `python -m benchmarks.steps SPEC` runs one in a fresh
process and prints its best time and the process's peak RSS, so that each figure of
memory belongs to that operation alone."""

from __future__ import annotations

import json
import resource
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select, text

from nessdata import migrations, rollups
from nessdata.db import Database
from nessdata.events import emit_many
from nessdata.localtime import day_bounds
from nessdata.schema import module_events
from nessdata.summary import summary

from . import data

STEPS = {}
PLAIN_TABLE = "bench_events_plain"


def step(function):
    STEPS[function.__name__] = function
    return function


def _days(spec) -> tuple[date, date]:
    first = data.first_day(spec["days"])
    return first, data.LAST_DAY


def _local_day_sql(db: Database) -> str:
    if db.dialect == "postgresql":
        return f"(occurred_at AT TIME ZONE '{db.tz.key}')::date"
    # The data sets end after São Paulo dropped daylight saving: one offset holds.
    return "date(occurred_at, '-10800 seconds')"


def _bounds(db: Database, first: date, last: date) -> dict:
    start, end = day_bounds(first, last, db.tz)
    if db.is_sqlite:
        return {"start": data.to_sqlite_instant(start),
                "end": data.to_sqlite_instant(end)}
    return {"start": start, "end": end}


@step
def rollup(db: Database, spec) -> None:
    rollups.aggregate_range(db, *_days(spec))


@step
def rollup_floor(db: Database, spec) -> None:
    day = _local_day_sql(db)
    sql = text(
        f"SELECT {day} AS period, module, event_type, count(*) FROM module_events "
        "WHERE occurred_at >= :start AND occurred_at < :end "
        "GROUP BY 1, 2, 3"
    )
    with db.begin() as conn:
        conn.execute(sql, _bounds(db, *_days(spec))).all()


@step
def rollup_naive(db: Database, spec) -> None:
    """What a loop in Python would do: each day's rows, as the table's rows."""
    first, last = _days(spec)
    occurred = module_events.c.occurred_at
    counts = {}
    with db.begin() as conn:
        for n in range((last - first).days + 1):
            day = first + timedelta(days=n)
            start, end = day_bounds(day, day, db.tz)
            rows = conn.execute(
                select(module_events).where(occurred >= start, occurred < end)
            ).all()
            counts[day] = Counter((row.module, row.event_type) for row in rows)


@step
def pending(db: Database, spec) -> None:
    report = rollups.aggregate_pending(db)
    if report.days != len(spec["late_days"]):
        raise SystemExit(f"expected {spec['late_days']} pending, rolled {report.days}")


@step
def pending_floor(db: Database, spec) -> None:
    """The three days by hand: replace their rows with one grouped count each."""
    day = _local_day_sql(db)
    with db.begin(write=True) as conn:
        for late in spec["late_days"]:
            late = date.fromisoformat(late)
            bounds = _bounds(db, late, late)
            conn.execute(text("DELETE FROM event_aggregates WHERE period = :day"),
                         {"day": late})
            conn.execute(text(
                "INSERT INTO event_aggregates (period, module, event_type, count, "
                f"updated_at) SELECT {day}, module, event_type, count(*), "
                f"{_now_sql(db)} FROM module_events "
                "WHERE occurred_at >= :start AND occurred_at < :end GROUP BY 1, 2, 3"
            ), bounds)


def _now_sql(db: Database) -> str:
    return "now()" if db.dialect == "postgresql" else "strftime('%Y-%m-%d %H:%M:%f000')"


@step
def ingest(db: Database, spec) -> float:
    events = _events(db, spec)
    started = time.perf_counter()
    report = emit_many(db, events)
    seconds = time.perf_counter() - started
    if report.inserted != spec["events"]:
        raise SystemExit(f"inserted {report.inserted} of {spec['events']}")
    return seconds


@step
def ingest_floor(db: Database, spec) -> float:
    rows = [data.as_tuple(e, db.dialect) for e in _events(db, spec)]
    started = time.perf_counter()
    data.bulk_insert(db, rows, spec.get("table", "module_events"))
    return time.perf_counter() - started


def _events(db: Database, spec) -> list[dict]:
    maker = data.EventMaker(spec["days"], db.tz, seed=spec["seed"])
    return [e for chunk in maker.chunks(spec["events"]) for e in chunk]


@step
def read_summary(db: Database, spec) -> None:
    summary(db)


def run(spec: dict) -> dict:
    """Best of `repeat` runs; each run resets what it needs in `reset` first."""
    db = Database(spec["url"], spec["timezone"])
    function = STEPS[spec["step"]]
    best = None
    for _ in range(spec.get("repeat", 1)):
        if spec.get("reset"):
            _reset(db, spec["reset"])
        started = time.perf_counter()
        timed = function(db, spec)
        seconds = timed if timed is not None else time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
    db.dispose()
    return {"seconds": best, "peak_rss_mb": _peak_rss_mb()}


def _reset(db: Database, table: str) -> None:
    """Empty the table being filled: a fresh file on SQLite, TRUNCATE on PostgreSQL."""
    if db.is_sqlite:
        db.dispose()
        path = Path(db.engine.url.database)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        migrations.upgrade(db)
        if table != "module_events":
            plain_table(db)
        return
    with db.begin(write=True) as conn:
        conn.execute(text(f"TRUNCATE {table}"))
        conn.execute(text("DELETE FROM event_pending_hours"))
        conn.execute(text("UPDATE nessdata_counters SET value = 0"))


def plain_table(db: Database) -> None:
    """module_events' twin without triggers, to price the triggers."""
    with db.begin(write=True) as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {PLAIN_TABLE}"))
        if db.dialect == "postgresql":
            conn.execute(text(
                f"CREATE TABLE {PLAIN_TABLE} (LIKE module_events INCLUDING ALL)"
            ))
            return
        ddl = conn.execute(text(
            "SELECT sql FROM sqlite_master WHERE name = 'module_events'"
        )).scalar_one()
        conn.execute(text(ddl.replace("module_events", PLAIN_TABLE, 1)))
        conn.execute(text(
            f"CREATE INDEX ix_{PLAIN_TABLE}_occurred ON {PLAIN_TABLE} "
            "(occurred_at, module, event_type)"
        ))


def _peak_rss_mb() -> float:
    """VmHWM: this process image's peak. (getrusage's ru_maxrss would not do: on
    Linux it keeps the parent's peak across fork and exec.)"""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    print(json.dumps(run(json.loads(sys.argv[1]))))
