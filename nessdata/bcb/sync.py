"""The BCB rates sync: fetch every window of every chosen series, then upsert it all
into bcb_rates_snapshot in one transaction, logged in sync_runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update

from ..db import Database, now_utc
from ..errors import InvalidValue
from ..localtime import local_today, month_start
from ..progress import Progress
from ..schema import bcb_rates_snapshot as snapshot
from ..settings import Settings
from ..syncruns import SyncRun, recorded_run
from .client import BcbClient, Observation, windows
from .rates import RateSeries, series_for

log = logging.getLogger(__name__)

SOURCE = "bcb"


@dataclass
class SyncReport:
    since: date
    until: date
    rates: list[str]
    requests: int = 0
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    last_dates: dict[str, date | None] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "rates": self.rates,
                "requests": self.requests, "fetched": self.fetched,
                "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "last_dates": self.last_dates,
                "seconds": round(self.seconds, 3)}


def sync_rates(db: Database, settings: Settings, *, since: date | None = None,
               until: date | None = None, rates: Iterable[str] | None = None,
               client: BcbClient | None = None, show_progress: bool = False
               ) -> SyncReport:
    """Fetch the chosen rates (all by default) over since..until (default: the
    trailing `bcb_trailing_months` up to today) and upsert them.

    Raises JobBusy when a BCB sync is already running and UpstreamError when BCB
    fails; either way nothing is written and the run is logged."""
    chosen = series_for(list(rates) if rates else None)
    since, until = _window(db, settings, since, until)
    report = SyncReport(since, until, [s.key for s in chosen])
    plan = [(s, w) for s in chosen for w in windows(_aligned(s, since), until)]
    params = {"since": since.isoformat(), "until": until.isoformat(),
              "rates": report.rates}
    started = time.perf_counter()
    own_client = client is None
    client = client or BcbClient.from_settings(settings)
    try:
        with recorded_run(db, SOURCE, params) as run:
            fetched = _fetch_all(client, plan, run, report, show_progress)
            _store(db, fetched, chosen, since, until, report)
            run.records_written = report.written
    finally:
        if own_client:
            client.close()
    report.seconds = time.perf_counter() - started
    log.info("bcb rates %s..%s (%s): %d requests, %d rows fetched, %d new, "
             "%d changed, %d unchanged in %.2fs", since, until, ", ".join(report.rates),
             report.requests, report.fetched, report.inserted, report.updated,
             report.unchanged, report.seconds)
    return report


def _window(db: Database, settings: Settings, since: date | None,
            until: date | None) -> tuple[date, date]:
    until = until or local_today(db.tz)
    since = since or _months_before(until, settings.bcb_trailing_months)
    if since > until:
        raise InvalidValue("since", since.isoformat(),
                           f"is after until={until.isoformat()}")
    return since, until


def _aligned(series: RateSeries, since: date) -> date:
    # A monthly value is dated the 1st: a window starting mid-month still wants it.
    return month_start(since) if series.monthly else since


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, 1)


def _fetch_all(client: BcbClient, plan: list[tuple[RateSeries, tuple[date, date]]],
               run: SyncRun, report: SyncReport, show_progress: bool
               ) -> dict[str, list[Observation]]:
    fetched: dict[str, list[Observation]] = {}
    with Progress("BCB rates", total=len(plan), show=show_progress) as bar:
        for series, (first, last) in plan:
            bar.describe(f"BCB {series.key} {first}..{last}")
            rows = client.fetch(series, first, last)
            fetched.setdefault(series.key, []).extend(rows)
            report.requests += 1
            report.fetched += len(rows)
            log.debug("bcb %s %s..%s: %d rows", series.key, first, last, len(rows))
            run.heartbeat()
            bar.advance()
    return fetched


def _store(db: Database, fetched: dict[str, list[Observation]],
           chosen: list[RateSeries], since: date, until: date,
           report: SyncReport) -> None:
    now = now_utc()
    by_key = {s.key: s for s in chosen}
    with db.begin(write=True) as conn:
        db.lock(conn, "bcb_rates_snapshot")
        held = _held(conn, list(by_key), month_start(since), until)
        new, changed = [], []
        for key, rows in fetched.items():
            for row in rows:
                values = _values(by_key[key], row, now)
                before = held.get((key, row.ref_date))
                if before is None:
                    new.append(values)
                elif before != (row.value, row.value_buy, row.value_sell):
                    changed.append({**values, "b_type": key, "b_date": row.ref_date})
                else:
                    report.unchanged += 1
        if new:
            conn.execute(insert(snapshot), new)
        if changed:
            conn.execute(_update_by_key(), changed)
        report.inserted, report.updated = len(new), len(changed)
        report.last_dates = _last_dates(conn, list(by_key))


def _values(series: RateSeries, row: Observation, now) -> dict[str, Any]:
    return {"rate_type": series.key, "ref_date": row.ref_date, "value": row.value,
            "value_buy": row.value_buy, "value_sell": row.value_sell,
            "source": series.source, "synced_at": now}


def _held(conn, keys: list[str], first: date, last: date
          ) -> dict[tuple[str, date], tuple[Decimal | None, ...]]:
    c = snapshot.c
    rows = conn.execute(
        select(c.rate_type, c.ref_date, c.value, c.value_buy, c.value_sell)
        .where(c.rate_type.in_(keys), c.ref_date.between(first, last))
    )
    return {(r.rate_type, r.ref_date): (r.value, r.value_buy, r.value_sell)
            for r in rows}


def _update_by_key():
    c = snapshot.c
    return (update(snapshot)
            .where(and_(c.rate_type == bindparam("b_type"),
                        c.ref_date == bindparam("b_date")))
            .values(value=bindparam("value"), value_buy=bindparam("value_buy"),
                    value_sell=bindparam("value_sell"), source=bindparam("source"),
                    synced_at=bindparam("synced_at")))


def _last_dates(conn, keys: list[str]) -> dict[str, date | None]:
    c = snapshot.c
    found = dict(conn.execute(
        select(c.rate_type, func.max(c.ref_date)).where(c.rate_type.in_(keys))
        .group_by(c.rate_type)).all())
    return {key: found.get(key) for key in keys}


def daily_step(db: Database, settings: Settings, show_progress: bool) -> SyncReport:
    """The `sync_bcb` step of the daily job: the trailing window of every rate."""
    return sync_rates(db, settings, show_progress=show_progress)
