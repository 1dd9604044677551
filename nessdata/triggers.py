"""The four jobs that can be run on demand: by the cron endpoints, the page's
buttons, /api/jobs and `nessdata scheduler`.

A job runs under a non-blocking lock of its own: a second start while it runs, in
this process or another one, raises JobBusy at once instead of queueing."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from .db import Database
from .errors import InvalidValue, JobBusy
from .localtime import month_start
from .settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    title: str
    run: Callable[[Database, Settings, dict[str, Any], bool], Any]
    parse: Callable[[Mapping[str, str]], dict[str, Any]]
    params_help: str


# -- parameters -------------------------------------------------------------------

def parse_day(value: str | None, field: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidValue(field, value, "not a date (YYYY-MM-DD)") from None


def parse_month(value: str | None, field: str) -> date | None:
    """The first day of a month given as YYYY-MM or as any day in it."""
    if value in (None, ""):
        return None
    try:
        if len(value) == 7:
            return date.fromisoformat(f"{value}-01")
        return month_start(date.fromisoformat(value))
    except ValueError:
        raise InvalidValue(field, value, "not a month (YYYY-MM)") from None


def _unknown(raw: Mapping[str, str], known: tuple[str, ...]) -> None:
    for name in raw:
        if name not in known:
            raise InvalidValue(name, raw[name],
                               f"unknown parameter; expected {', '.join(known)}")


def _ordered(since, until, until_field: str = "until") -> None:
    if since and until and until < since:
        raise InvalidValue(until_field, until.isoformat(), f"is before since {since}")


def _days(raw: Mapping[str, str]) -> dict[str, Any]:
    _unknown(raw, ("date", "since", "until"))
    day = parse_day(raw.get("date"), "date")
    since, until = parse_day(raw.get("since"), "since"), parse_day(
        raw.get("until"), "until")
    if day and (since or until):
        raise InvalidValue("date", raw["date"], "cannot be combined with since/until")
    if until and not since:
        raise InvalidValue("until", raw["until"], "needs since")
    _ordered(since, until)
    if day:
        return {"since": day, "until": day}
    return {"since": since, "until": until or since}


def _rate_window(raw: Mapping[str, str]) -> dict[str, Any]:
    _unknown(raw, ("since", "until", "rates"))
    since, until = parse_day(raw.get("since"), "since"), parse_day(
        raw.get("until"), "until")
    _ordered(since, until)
    rates = [r.strip() for r in (raw.get("rates") or "").split(",") if r.strip()]
    from .bcb.rates import series_for

    series_for(rates, field="rates")
    return {"since": since, "until": until, "rates": rates or None}


def _months(raw: Mapping[str, str]) -> dict[str, Any]:
    _unknown(raw, ("period", "since", "until"))
    period = parse_month(raw.get("period"), "period")
    since, until = parse_month(raw.get("since"), "since"), parse_month(
        raw.get("until"), "until")
    if period and (since or until):
        raise InvalidValue("period", raw["period"],
                           "cannot be combined with since/until")
    _ordered(since, until)
    if period:
        return {"since": period, "until": period}
    return {"since": since, "until": until}


# -- the jobs -----------------------------------------------------------------------

def _aggregate(db: Database, settings: Settings, params: dict[str, Any],
               manual: bool):
    from .rollups import aggregate_default, aggregate_range

    if params["since"]:
        return aggregate_range(db, params["since"], params["until"])
    return aggregate_default(db)


def _sync_bcb(db: Database, settings: Settings, params: dict[str, Any],
              manual: bool):
    from .bcb import sync_rates

    return sync_rates(db, settings, since=params["since"], until=params["until"],
                      rates=params["rates"])


def _sync_omie(db: Database, settings: Settings, params: dict[str, Any],
               manual: bool):
    from .omie import sync_revenue

    return sync_revenue(db, settings, since=params["since"], until=params["until"],
                        manual=manual)


def _compute_indices(db: Database, settings: Settings, params: dict[str, Any],
                     manual: bool):
    from .indices import compute_indices

    return compute_indices(db, since=params["since"], until=params["until"])


JOBS: dict[str, Job] = {job.name: job for job in (
    Job("sync-bcb-rates", "Sync BCB rates", _sync_bcb, _rate_window,
        "since, until (YYYY-MM-DD), rates (comma-separated rate types)"),
    Job("sync-omie-revenue", "Sync Omie revenue", _sync_omie, _months,
        "period or since, until (YYYY-MM)"),
    Job("aggregate-events", "Roll up events", _aggregate, _days,
        "date or since, until (YYYY-MM-DD); default yesterday and pending days"),
    Job("compute-data-indices", "Recompute indices", _compute_indices, _months,
        "period or since, until (YYYY-MM)"),
)}


def get_job(name: str) -> Job:
    try:
        return JOBS[name]
    except KeyError:
        raise InvalidValue("job", name, f"unknown job; expected {', '.join(JOBS)}"
                           ) from None


def run_job(db: Database, settings: Settings, name: str,
            params: dict[str, Any] | None = None, *,
            manual: bool = False) -> dict[str, Any]:
    """Run a job under its lock; JobBusy if it is already running anywhere.
    `manual` (a person pressed a button) lets a source apply its own cooldown."""
    job = get_job(name)
    params = params if params is not None else job.parse({})
    started = time.perf_counter()
    with job_lock(db, name):
        outcome = job.run(db, settings, params, manual)
    seconds = time.perf_counter() - started
    report = outcome.as_dict() if hasattr(outcome, "as_dict") else dict(outcome or {})
    log.info("job %s done in %.2fs", name, seconds)
    return {"job": name, "status": "ok", "params": params, "report": report,
            "seconds": round(seconds, 3)}


# -- the job lock ------------------------------------------------------------------

_thread_locks: dict[tuple[str, str], threading.Lock] = {}
_registry_lock = threading.Lock()


@contextmanager
def job_lock(db: Database, name: str) -> Iterator[None]:
    """Hold `name` for the block, or raise JobBusy at once.

    Threads of this process meet on a threading lock; other processes on a
    PostgreSQL advisory lock held in an open transaction, or on SQLite on an
    flock of a file beside the database."""
    busy = JobBusy(f"the {name} job is already running; try again when it ends")
    with ExitStack() as stack:
        lock = _thread_lock(db.url, name)
        if not lock.acquire(blocking=False):
            raise busy
        stack.callback(lock.release)
        if db.dialect == "postgresql":
            _hold_advisory(db, name, stack, busy)
            if name == "aggregate-events" and not _rollup_free(db):
                raise JobBusy("a rollup is running (started elsewhere, e.g. "
                              "`nessdata aggregate`); try again when it ends")
        elif db.is_sqlite:
            _hold_file_lock(db, name, stack, busy)
        yield


def _thread_lock(url: str, name: str) -> threading.Lock:
    with _registry_lock:
        return _thread_locks.setdefault((url, name), threading.Lock())


def _hold_advisory(db: Database, name: str, stack: ExitStack, busy: JobBusy) -> None:
    # The lock lives in a transaction left open (idle) while the job runs on other
    # connections; a server-side idle_in_transaction_session_timeout shorter than
    # the job would end it and let a second run start.
    conn = stack.enter_context(db.engine.connect())
    stack.enter_context(conn.begin())
    if not db.try_lock(conn, f"job:{name}"):
        raise busy


def _rollup_free(db: Database) -> bool:
    from .rollups import LOCK_NAME

    with db.begin() as conn:
        return db.try_lock(conn, LOCK_NAME)


def _hold_file_lock(db: Database, name: str, stack: ExitStack, busy: JobBusy) -> None:
    database = db.engine.url.database
    if database in (None, "", ":memory:"):
        return
    try:
        import fcntl
    except ImportError:  # Windows: only this process's threads are excluded.
        return
    handle = stack.enter_context(open(Path(f"{database}.{name}.lock"), "a+b"))
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise busy from None
    stack.callback(fcntl.flock, handle, fcntl.LOCK_UN)
