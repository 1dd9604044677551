"""`nessdata scheduler`: the daily job's steps on cron schedules, in the business
time zone, one at a time. A run missed while the scheduler was down is made up
when it starts (once, however many were missed)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .db import Database, now_utc
from .errors import InvalidValue, JobBusy, NessdataError
from .schema import nessdata_meta
from .settings import Settings
from .triggers import run_job

log = logging.getLogger(__name__)

MINUTE = timedelta(minutes=1)
SEARCH_DAYS = 366 * 5  # 29 February on a Monday can be years away
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day", 1, 31), ("month", 1, 12),
          ("weekday", 0, 7))
# (job, setting holding its schedule), in the order due jobs run.
SCHEDULED = (("sync-bcb-rates", "schedule_bcb"), ("sync-omie-revenue", "schedule_omie"),
             ("aggregate-events", "schedule_rollup"),
             ("compute-data-indices", "schedule_indices"))
META_PREFIX = "scheduler_last:"


@dataclass(frozen=True)
class Cron:
    """A five-field cron expression: minute hour day month weekday (0 or 7 is
    Sunday). As in cron, when both day and weekday are restricted either may
    match."""

    text: str
    fields: tuple[frozenset[int], ...]
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str, name: str = "schedule") -> Cron:
        parts = text.split()
        if len(parts) != 5:
            raise InvalidValue(name, text, "needs 5 fields: minute hour day month "
                               "weekday, e.g. '0 14 * * 1-5'")
        fields = tuple(_field(part, low, high, name, text)
                       for part, (_, low, high) in zip(parts, FIELDS))
        weekdays = frozenset(d % 7 for d in fields[4])
        return cls(text, fields[:4] + (weekdays,), parts[2] == "*", parts[4] == "*")

    def matches(self, local: datetime) -> bool:
        minutes, hours, _, months, _ = self.fields
        if local.minute not in minutes or local.hour not in hours:
            return False
        return local.month in months and self._day_matches(local)

    def _day_matches(self, local: datetime) -> bool:
        day_ok = local.day in self.fields[2]
        weekday_ok = (local.isoweekday() % 7) in self.fields[4]
        if self.any_day or self.any_weekday:
            return day_ok and weekday_ok
        return day_ok or weekday_ok

    def next_after(self, instant: datetime, tz: ZoneInfo) -> datetime | None:
        return self._search(instant, tz, forward=True)

    def last_at_or_before(self, instant: datetime, tz: ZoneInfo) -> datetime | None:
        return self._search(instant, tz, forward=False)

    def _search(self, instant: datetime, tz: ZoneInfo, forward: bool):
        local = instant.astimezone(tz).replace(second=0, microsecond=0, tzinfo=None)
        if forward:
            local += MINUTE
        limit = SEARCH_DAYS * 24 * 60
        while limit > 0:
            limit -= 1
            if self.matches(local):
                return local.replace(tzinfo=tz).astimezone(ZoneInfo("UTC"))
            local = self._step(local, forward)
        return None

    def _step(self, local: datetime, forward: bool) -> datetime:
        # Skip whole days and hours that cannot match: a year is a few thousand steps.
        if local.month not in self.fields[3] or not self._day_matches(local):
            day = local.replace(hour=0, minute=0)
            return day + timedelta(days=1) if forward else day - MINUTE
        if local.hour not in self.fields[1]:
            hour = local.replace(minute=0)
            return hour + timedelta(hours=1) if forward else hour - MINUTE
        return local + MINUTE if forward else local - MINUTE


def _field(part: str, low: int, high: int, name: str, text: str) -> frozenset[int]:
    values: set[int] = set()
    for item in part.split(","):
        base, _, step_text = item.partition("/")
        try:
            step = int(step_text) if step_text else 1
            if base == "*":
                first, last = low, high
            elif "-" in base:
                first, last = (int(x) for x in base.split("-", 1))
            else:
                first = last = int(base)
        except ValueError:
            raise InvalidValue(name, text, f"{item!r} is not a number, range or "
                               "step") from None
        if step < 1 or first < low or last > high or first > last:
            raise InvalidValue(name, text, f"{item!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class Entry:
    job: str
    cron: Cron


def entries(settings: Settings) -> list[Entry]:
    """The scheduled jobs; an empty schedule setting leaves its job out."""
    found = []
    for job, setting in SCHEDULED:
        text = getattr(settings, setting).strip()
        if text:
            found.append(Entry(job, Cron.parse(text, f"NESSDATA_{setting.upper()}")))
    return found


class Scheduler:
    def __init__(self, db: Database, settings: Settings, *,
                 run: Callable[..., dict] = run_job,
                 clock: Callable[[], datetime] = now_utc):
        self.db = db
        self.settings = settings
        self.entries = entries(settings)
        self.run = run
        self.clock = clock

    def last_runs(self) -> dict[str, datetime]:
        with self.db.begin() as conn:
            rows = conn.execute(select(nessdata_meta.c.key, nessdata_meta.c.value)
                                .where(nessdata_meta.c.key.like(f"{META_PREFIX}%")))
            return {key[len(META_PREFIX):]: datetime.fromisoformat(value)
                    for key, value in rows}

    def due(self, now: datetime) -> list[str]:
        """Jobs whose latest scheduled time at or before `now` has not been run."""
        last = self.last_runs()
        names = []
        for entry in self.entries:
            scheduled = entry.cron.last_at_or_before(now, self.db.tz)
            done = last.get(entry.job)
            if scheduled is not None and (done is None or done < scheduled):
                names.append(entry.job)
        return names

    def run_due(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """Run every due job, one after the other: [(job, outcome)]."""
        outcomes = []
        for name in self.due(now or self.clock()):
            outcomes.append((name, self._run_one(name)))
        return outcomes

    def _run_one(self, name: str) -> str:
        started = time.perf_counter()
        try:
            result = self.run(self.db, self.settings, name)
            outcome = "ok"
        except JobBusy as exc:
            outcome = f"busy: {exc}"
        except NessdataError as exc:
            outcome = f"failed: {exc}"
        self._record(name, self.clock())
        seconds = time.perf_counter() - started
        if outcome == "ok":
            log.info("scheduler: %s ok in %.1fs: %s", name, seconds, result["report"])
        else:
            log.error("scheduler: %s %s (%.1fs)", name, outcome, seconds)
        return outcome

    def _record(self, name: str, when: datetime) -> None:
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        statement = insert(nessdata_meta).values(key=META_PREFIX + name,
                                                 value=when.isoformat())
        with self.db.begin(write=True) as conn:
            conn.execute(statement.on_conflict_do_update(
                index_elements=["key"], set_={"value": statement.excluded.value}))

    def next_wake(self, now: datetime) -> datetime | None:
        times = [t for e in self.entries
                 if (t := e.cron.next_after(now, self.db.tz)) is not None]
        return min(times, default=None)

    def serve(self, stop: threading.Event) -> None:
        """Catch up, then run each job at its time until `stop` is set."""
        for entry in self.entries:
            log.info("scheduler: %s at '%s' (%s)", entry.job, entry.cron.text,
                     self.db.tz.key)
        while not stop.is_set():
            self.run_due()
            wake = self.next_wake(self.clock())
            if wake is None:
                log.warning("scheduler: nothing is scheduled; stopping")
                return
            # Wake at least every minute, so a changed clock is noticed.
            stop.wait(min(max((wake - self.clock()).total_seconds(), 0.5), 60))
