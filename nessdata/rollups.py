"""Exact daily event counts per module and type, in the business time zone.

A rollup of a day replaces that day's rows with a fresh count made in the database,
so re-running is always safe. Triggers on module_events mark the UTC hours whose
events changed; those hours' local days are the pending days.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import (
    Connection,
    Date,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .db import Database, now_utc
from .errors import ConfigError, InvalidValue
from .localtime import (
    EARLIEST,
    HOUR,
    LATEST,
    day_bounds,
    days,
    days_of_hours,
    local_day,
    local_today,
    runs,
)
from .progress import Progress
from .schema import event_aggregates, event_pending_hours, module_events, nessdata_meta
from .types import UTCDateTime

log = logging.getLogger(__name__)

LOCK_NAME = "rollup"
CHUNK_DAYS = 31
TIMEZONE_KEY = "rollup_timezone"


@dataclass
class RollupReport:
    days: int = 0
    groups: int = 0
    events: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"days": self.days, "groups": self.groups, "events": self.events,
                "seconds": round(self.seconds, 3)}


def aggregate_days(db: Database, wanted: Iterable[date], *,
                   show_progress: bool = False) -> RollupReport:
    """Recount the given local days, in chunks of consecutive days."""
    started = time.perf_counter()
    batches = list(_batches(runs(sorted(set(wanted)), CHUNK_DAYS), CHUNK_DAYS))
    report = RollupReport()
    with Progress("rolling up days", total=len(set(wanted)),
                  show=show_progress) as progress:
        for batch in batches:
            with db.begin(write=True) as conn:
                db.lock(conn, LOCK_NAME)
                _check_timezone(db, conn)
                for first, last in batch:
                    groups, events = _replace_days(db, conn, first, last)
                    report.days += _length((first, last))
                    report.groups += groups
                    report.events += events
            progress.advance(sum(_length(run) for run in batch))
    report.seconds = time.perf_counter() - started
    log.info("rollup: %d days, %d groups written, %d events counted in %.2fs",
             report.days, report.groups, report.events, report.seconds)
    return report


def _batches(day_runs, most_days: int):
    """Runs of days grouped so one transaction recounts at most most_days days:
    scattered pending days then cost one transaction, not one each."""
    batch, size = [], 0
    for run in day_runs:
        if batch and size + _length(run) > most_days:
            yield batch
            batch, size = [], 0
        batch.append(run)
        size += _length(run)
    if batch:
        yield batch


def aggregate_range(db: Database, first: date, last: date, **options) -> RollupReport:
    if last < first:
        raise ConfigError(f"--until {last} is before --since {first}")
    for name, day in (("since", first), ("until", last)):
        if not EARLIEST.date() <= day < LATEST.date():
            raise InvalidValue(name, day.isoformat(), f"outside the years "
                               f"{EARLIEST.year} to {LATEST.year - 1}")
    return aggregate_days(db, days(first, last), **options)


def pending_days(db: Database) -> list[date]:
    with db.begin() as conn:
        hours = conn.execute(
            select(event_pending_hours.c.hour)
            .where(event_pending_hours.c.hour >= EARLIEST,
                   event_pending_hours.c.hour < LATEST)
        ).scalars().all()
    # Hours outside the years nessdata counts come only from plain-SQL writers;
    # they stay pending (and uncounted) rather than break every run.
    return sorted(days_of_hours(hours, db.tz))


def aggregate_pending(db: Database, **options) -> RollupReport:
    return aggregate_days(db, pending_days(db), **options)


def aggregate_default(db: Database, now: datetime | None = None,
                      **options) -> RollupReport:
    """The daily job: yesterday, plus every pending day."""
    yesterday = local_today(db.tz, now) - timedelta(days=1)
    return aggregate_days(db, [yesterday, *pending_days(db)], **options)


def rebuild(db: Database, **options) -> RollupReport:
    """Recount the whole history (after a time zone change).

    First, in one transaction: every hour of every day with events is marked
    pending, rollups outside those days are dropped and the new time zone is
    recorded. Then the days are recounted chunk by chunk, each chunk clearing its
    hours. A rebuild cut short leaves its remaining days pending, so the next
    daily job (or `--pending`) finishes it; until then those days still show
    their old counts."""
    occurred = module_events.c.occurred_at
    with db.begin(write=True) as conn:
        db.lock(conn, LOCK_NAME)
        first, last = conn.execute(
            select(func.min(occurred), func.max(occurred))
            .where(occurred >= EARLIEST, occurred < LATEST)
        ).one()
        conn.execute(delete(nessdata_meta).where(nessdata_meta.c.key == TIMEZONE_KEY))
        conn.execute(insert(nessdata_meta).values(key=TIMEZONE_KEY, value=db.tz.key))
        if first is None:
            conn.execute(delete(event_aggregates))
            return RollupReport()
        first = local_day(_as_instant(first), db.tz)
        last = local_day(_as_instant(last), db.tz)
        period = event_aggregates.c.period
        conn.execute(delete(event_aggregates).where(
            or_(period < first, period > last)))
        _mark_pending(conn, db, first, last)
    return aggregate_range(db, first, last, **options)


def _mark_pending(conn: Connection, db: Database, first: date, last: date) -> None:
    start, end = day_bounds(first, last, db.tz)
    hours, hour = [], start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        hours.append({"hour": hour})
        hour += HOUR
    dialect_insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    statement = dialect_insert(event_pending_hours).on_conflict_do_nothing()
    for offset in range(0, len(hours), 10_000):
        conn.execute(statement, hours[offset:offset + 10_000])


def _replace_days(db: Database, conn: Connection, first: date,
                  last: date) -> tuple[int, int]:
    start, end = day_bounds(first, last, db.tz)
    # Pending hours go first: on PostgreSQL this waits for writers still holding
    # them, so the count below sees their events. Hours only partly inside the
    # range (half-hour zones) stay pending for the neighbouring day.
    conn.execute(
        delete(event_pending_hours).where(
            event_pending_hours.c.hour >= start,
            event_pending_hours.c.hour <= end - HOUR,
        )
    )
    period = event_aggregates.c.period
    conn.execute(delete(event_aggregates).where(period >= first, period <= last))
    _count_days(db, conn, first, last)
    groups, events = conn.execute(
        select(func.count(), func.coalesce(func.sum(event_aggregates.c.count), 0))
        .where(period >= first, period <= last)
    ).one()
    return int(groups), int(events)


def _count_days(db: Database, conn: Connection, first: date, last: date) -> None:
    """Grouped counts written by INSERT … SELECT: no rows leave the database.

    PostgreSQL finds each event's local day with its own zone database, in one
    statement. SQLite has none: it counts day by day between the day's UTC bounds,
    which Python's zone database gives (23- and 25-hour days included). That needs
    no date arithmetic per row, and sorts one day at a time: about twice as fast
    as one statement that computes each row's day."""
    if db.dialect == "postgresql":
        start, end = day_bounds(first, last, db.tz)
        occurred = module_events.c.occurred_at
        local = cast(func.timezone(db.tz.key, occurred), Date)
        conn.execute(_count_into_aggregates(local, start, end, group_by_day=True))
        return
    for day in days(first, last):
        start, end = day_bounds(day, day, db.tz)
        conn.execute(_count_into_aggregates(literal(day, Date), start, end))


def _count_into_aggregates(day, start: datetime, end: datetime, *,
                           group_by_day: bool = False):
    occurred = module_events.c.occurred_at
    kind = (module_events.c.module, module_events.c.event_type)
    counted = (
        select(day.label("period"), *kind, func.count().label("count"),
               literal(now_utc(), UTCDateTime).label("updated_at"))
        .where(occurred >= start, occurred < end)
        .group_by(*((day,) if group_by_day else ()), *kind)
    )
    return insert(event_aggregates).from_select(
        ["period", "module", "event_type", "count", "updated_at"], counted
    )


def _check_timezone(db: Database, conn: Connection) -> None:
    stored = conn.execute(
        select(nessdata_meta.c.value).where(nessdata_meta.c.key == TIMEZONE_KEY)
    ).scalar()
    if stored is None:
        conn.execute(insert(nessdata_meta).values(key=TIMEZONE_KEY, value=db.tz.key))
    elif stored != db.tz.key:
        raise ConfigError(
            f"the rollups were counted in {stored} but NESSDATA_TIMEZONE is "
            f"{db.tz.key}: run `nessdata aggregate --rebuild` to recount them all"
        )


def _length(run: tuple[date, date]) -> int:
    return (run[1] - run[0]).days + 1


def _as_instant(value) -> datetime:
    return UTCDateTime().process_result_value(value, None)
