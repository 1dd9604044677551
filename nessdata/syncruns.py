"""The log of sync runs (`sync_runs`): one row per run of an outside source, written
in its own transactions so that it survives the run's failure and rollback."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from .db import Database, now_utc
from .errors import JobBusy
from .schema import sync_runs

log = logging.getLogger(__name__)

# A run that has not written a heartbeat for this long is taken for dead (its
# process was killed) and no longer blocks a new run of the same source.
STALE_AFTER = timedelta(minutes=15)


@dataclass
class SyncRun:
    db: Database
    id: int
    source: str
    records_written: int = 0
    resume_after: datetime | None = None

    def heartbeat(self, records: int = 0) -> None:
        """Count written records and show the run is alive."""
        self.records_written += records
        with self.db.begin(write=True) as conn:
            conn.execute(update(sync_runs).where(sync_runs.c.id == self.id).values(
                heartbeat_at=now_utc(), records_written=self.records_written))


@contextmanager
def recorded_run(db: Database, source: str, params: dict[str, Any]
                 ) -> Iterator[SyncRun]:
    """Log a run of `source`: running, then ok or failed with the error.

    Raises JobBusy while another live run of the same source is going. Set
    `run.resume_after` before raising to record when a blocked source may be
    asked again (the run is then logged as `blocked`)."""
    run = SyncRun(db, _start(db, source, params), source)
    try:
        yield run
    except BaseException as exc:
        status = "blocked" if run.resume_after else "failed"
        _finish(run, status, f"{type(exc).__name__}: {exc}")
        raise
    _finish(run, "ok", None)


def _start(db: Database, source: str, params: dict[str, Any]) -> int:
    now = now_utc()
    with db.begin(write=True) as conn:
        db.lock(conn, f"sync_runs:{source}")
        _fail_abandoned(conn, source, now)
        running = conn.execute(
            select(sync_runs.c.id, sync_runs.c.started_at, sync_runs.c.pid,
                   sync_runs.c.hostname)
            .where(sync_runs.c.source == source, sync_runs.c.status == "running",
                   sync_runs.c.heartbeat_at > now - STALE_AFTER)
        ).first()
        if running:
            raise JobBusy(
                f"a {source} sync is already running (run {running.id}, started "
                f"{running.started_at:%Y-%m-%d %H:%M:%S} UTC, pid {running.pid} on "
                f"{running.hostname})"
            )
        return conn.execute(insert(sync_runs).values(
            source=source, params=params, status="running", started_at=now,
            heartbeat_at=now, records_written=0, pid=os.getpid(),
            hostname=socket.gethostname(),
        ).returning(sync_runs.c.id)).scalar_one()


def _fail_abandoned(conn, source: str, now: datetime) -> None:
    """Mark failed the runs left `running` by a killed process: one whose process
    is gone from this machine, or with no heartbeat for STALE_AFTER (a run on
    another machine), so the log does not show them running for ever."""
    c = sync_runs.c
    running = conn.execute(
        select(c.id, c.pid, c.hostname, c.heartbeat_at)
        .where(c.source == source, c.status == "running")).all()
    here = socket.gethostname()
    for run in running:
        if run.hostname == here and run.pid and not _alive(run.pid):
            error = f"abandoned: its process {run.pid} is gone (killed or stopped)"
        elif run.heartbeat_at <= now - STALE_AFTER:
            error = (f"abandoned: no sign of life for {STALE_AFTER} (the process "
                     "was probably killed)")
        else:
            continue
        conn.execute(update(sync_runs).where(c.id == run.id).values(
            status="failed", finished_at=now, error=error))
        log.warning("%s run %d marked failed: %s", source, run.id, error)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def _finish(run: SyncRun, status: str, error: str | None) -> None:
    with run.db.begin(write=True) as conn:
        conn.execute(update(sync_runs).where(sync_runs.c.id == run.id).values(
            status=status, finished_at=now_utc(), heartbeat_at=now_utc(),
            records_written=run.records_written, error=error,
            resume_after=run.resume_after))
    # Each sync logs its own INFO line with its counts; this one adds the run id,
    # and is an ERROR when the run failed.
    level = logging.DEBUG if status == "ok" else logging.ERROR
    log.log(level, "sync %s run %d %s: %d records%s", run.source, run.id, status,
            run.records_written, f" ({error})" if error else "")


def blocked_until(db: Database, source: str) -> datetime | None:
    """When the last blocked run of `source` said it may be asked again, if later
    than now."""
    with db.begin() as conn:
        resume = conn.execute(
            select(sync_runs.c.resume_after)
            .where(sync_runs.c.source == source, sync_runs.c.resume_after.is_not(None))
            .order_by(sync_runs.c.started_at.desc()).limit(1)
        ).scalar()
    return resume if resume and resume > now_utc() else None


def recent_runs(db: Database, limit: int = 20) -> list[dict[str, Any]]:
    with db.begin() as conn:
        rows = conn.execute(
            select(sync_runs).order_by(sync_runs.c.started_at.desc(),
                                       sync_runs.c.id.desc()).limit(limit)
        ).mappings()
        return [dict(row) for row in rows]
