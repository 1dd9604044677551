"""Computing months of indices into data_indices, and reading them back."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from ..db import Database, now_utc
from ..errors import InvalidValue
from ..localtime import EARLIEST, local_today, month_start
from ..progress import Progress
from ..schema import data_indices
from ..serialize import jsonable
from ..settings import load_settings
from .inputs import months_between
from .month import Month, Run
from .registry import definition_of

log = logging.getLogger(__name__)

LOCK_NAME = "indices"


@dataclass
class IndexReport:
    since: date
    until: date
    months: int = 0
    values: int = 0
    missing: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(),
                "months": self.months, "values": self.values,
                "missing": self.missing, "seconds": round(self.seconds, 3)}


def parse_month(text: str, field: str = "month") -> date:
    """The first day of a month written YYYY-MM."""
    try:
        return datetime.strptime(text.strip(), "%Y-%m").date()
    except (AttributeError, ValueError):
        raise InvalidValue(field, text, "not a month (YYYY-MM)") from None


def compute_indices(db: Database, *, since: date | None = None,
                    until: date | None = None, show_progress: bool = False,
                    base_month: date | None = None) -> IndexReport:
    """Recompute every index of the months since..until (any day picks its month;
    default: the previous and the current local month), replacing their rows.

    `base_month` is the month mrr_real is expressed in; None reads the setting
    NESSDATA_INDICES_BASE_MONTH (unset: mrr_real is stored as missing)."""
    started = time.perf_counter()
    since, until = _range(db, since, until)
    run = Run(db, month_start(base_month) if base_month else _base_from_settings())
    report = IndexReport(since, until)
    periods = months_between(since, until)
    with Progress("computing indices", total=len(periods),
                  show=show_progress) as progress:
        for period in periods:
            with db.begin(write=True) as conn:
                db.lock(conn, LOCK_NAME)
                run.conn = conn
                _replace_month(conn, Month(run, period), report)
            progress.advance()
    report.seconds = time.perf_counter() - started
    log.info("indices %s..%s: %d months, %d values, %d missing in %.2fs",
             since.strftime("%Y-%m"), until.strftime("%Y-%m"), report.months,
             report.values, report.missing, report.seconds)
    return report


def _range(db: Database, since: date | None, until: date | None
           ) -> tuple[date, date]:
    current = month_start(local_today(db.tz))
    until = month_start(until or current)
    since = month_start(since or until - timedelta(days=1))
    if until < since:
        raise InvalidValue("until", until.strftime("%Y-%m"),
                           f"is before since ({since:%Y-%m})")
    # A month still to come has no figures: computing it would store guesses that
    # then pass for the newest month everywhere.
    if until > current:
        raise InvalidValue("until", until.strftime("%Y-%m"),
                           f"is after the current month ({current:%Y-%m})")
    if since < EARLIEST.date():
        raise InvalidValue("since", since.strftime("%Y-%m"),
                           f"is before {EARLIEST.year}")
    return since, until


def _base_from_settings() -> date | None:
    text = load_settings().indices_base_month
    return parse_month(text, "NESSDATA_INDICES_BASE_MONTH") if text else None


def _replace_month(conn: Connection, month: Month, report: IndexReport) -> None:
    now = now_utc()
    rows = []
    for key, outcome in month.all().items():
        rows.append({"period": month.period, "index_key": key,
                     "value": definition_of(key).rounded(outcome.value),
                     "metadata": jsonable(outcome.metadata), "updated_at": now})
    conn.execute(delete(data_indices).where(data_indices.c.period == month.period))
    if rows:
        conn.execute(insert(data_indices), rows)
    report.months += 1
    report.values += len(rows)
    report.missing += sum(row["value"] is None for row in rows)


def read_indices(db: Database, *, key: str | None = None, since: date | None = None,
                 until: date | None = None) -> list[dict[str, Any]]:
    """Stored values, oldest month first, each rounded to its index's places."""
    di = data_indices.c
    query = select(di.period, di.index_key, di.value, di.metadata).order_by(
        di.period, di.index_key)
    if key:
        if definition_of(key) is None:
            raise InvalidValue("key", key, "is not an index; `nessdata indices list` "
                               "shows them")
        query = query.where(di.index_key == key)
    if since and until and until < since:
        raise InvalidValue("until", until.strftime("%Y-%m"),
                           f"is before since ({since:%Y-%m})")
    if since:
        query = query.where(di.period >= month_start(since))
    if until:
        query = query.where(di.period <= month_start(until))
    with db.begin() as conn:
        rows = conn.execute(query).mappings().all()
    return [{"period": row["period"], "index_key": row["index_key"],
             "value": _rounded(row["index_key"], row["value"]),
             "metadata": row["metadata"]} for row in rows]


def _rounded(key: str, value):
    definition = definition_of(key)
    return definition.rounded(value) if definition and value is not None else value
