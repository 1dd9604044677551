"""What the page shows, read in one go: the cards, the charts' series and the
tables, already in Brazilian formats where they are text."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from ..db import Database
from ..localtime import local_today, month_start
from ..schema import sync_runs
from ..summary import summary
from . import formatting as fmt

log = logging.getLogger(__name__)

EVENT_DAYS = 90
INDEX_MONTHS = 24
RATE_DAYS = 730
RECENT_AGGREGATE_DAYS = 7
CHART_RATES = ("dollar_ptax", "ipca")


def dashboard(db: Database, today: date | None = None) -> dict[str, Any]:
    today = today or local_today(db.tz)
    data = summary(db)
    return {
        "summary": data,
        "last_erp_sync": last_run(db, "omie"),
        "charts": {
            "events": events_per_day(db, today),
            "indices": index_series(db, today),
            "rates": rate_series(db, data["last_bcb_rates_by_type"]),
        },
        "aggregates": recent_aggregates(db, today),
        "runs": _recent_runs(db),
    }


def last_run(db: Database, prefix: str) -> dict[str, Any] | None:
    s = sync_runs.c
    with db.begin() as conn:
        row = conn.execute(
            select(s.source, s.status, s.started_at, s.finished_at,
                   s.records_written, s.error)
            .where(s.source.like(f"{prefix}%"))
            .order_by(s.started_at.desc(), s.id.desc()).limit(1)
        ).mappings().first()
    return dict(row) if row else None


def events_per_day(db: Database, today: date) -> dict[str, Any]:
    """Events per local day of the last 90 days, stacked by module."""
    from ..queries import event_aggregates_between

    first = today - timedelta(days=EVENT_DAYS - 1)
    totals: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for row in event_aggregates_between(db, first, today):
        totals[row["module"]][row["period"]] += row["count"]
    days = [first + timedelta(days=n) for n in range(EVENT_DAYS)]
    return {
        "labels": [fmt.br_date(day) for day in days],
        "series": [{"name": module, "values": [totals[module][day] for day in days]}
                   for module in sorted(totals)],
    }


def index_series(db: Database, today: date) -> list[dict[str, Any]]:
    """Each index over the last 24 months, one series per key."""
    try:
        from ..indices import read_indices
    except ImportError:  # the indices module is not installed in this build
        return []
    first = _months_back(month_start(today), INDEX_MONTHS - 1)
    by_key: dict[str, list] = defaultdict(list)
    for row in read_indices(db, since=first, until=month_start(today)):
        by_key[row["index_key"]].append(row)
    definitions = index_definitions(by_key)
    series = []
    for key in sorted(by_key):
        title, unit = definitions.get(key, (key, None))
        series.append({"key": key, "title": title, "unit": unit, "points": [
            _point(fmt.br_month(r["period"]), r["value"], fmt.by_unit(r["value"], unit))
            for r in by_key[key]]})
    return series


def index_definitions(keys) -> dict[str, tuple[str, str | None]]:
    """key → (title, unit) from the indices registry; a family member's title
    names its member, e.g. Eventos do módulo (growth)."""
    try:
        from ..indices import definition_of
    except ImportError:
        return {}
    found = {}
    for key in keys:
        definition = definition_of(key)
        if definition is None:
            continue
        title = definition.title
        if definition.family:
            title = f"{title} ({key[len(definition.prefix):]})"
        found[key] = (title, definition.unit)
    return found


def rate_series(db: Database, last_dates: dict[str, date] | None
                ) -> list[dict[str, Any]]:
    """PTAX and IPCA over the two years up to the newest date held of each (an
    old series still shows, and its card tells how old it is)."""
    from ..queries import rates_between

    series = []
    for rate_type in CHART_RATES:
        last = (last_dates or {}).get(rate_type)
        rows = rates_between(db, rate_type, last - timedelta(days=RATE_DAYS),
                             last) if last else []
        monthly = rate_type != "dollar_ptax"
        label = fmt.br_month if monthly else fmt.br_date
        show = fmt.percent if monthly else fmt.brl_rate
        series.append({"key": rate_type, "points": [
            _point(label(r["ref_date"]), r["value"], show(r["value"])) for r in rows]})
    return series


def _point(label: str, value, text: str) -> list:
    return [label, None if value is None else str(value), text]


def recent_aggregates(db: Database, today: date) -> list[dict[str, Any]]:
    from ..queries import event_aggregates_between

    first = today - timedelta(days=RECENT_AGGREGATE_DAYS - 1)
    rows = event_aggregates_between(db, first, today)
    return sorted(rows, key=lambda r: (-r["period"].toordinal(), -r["count"]))


def _recent_runs(db: Database) -> list[dict[str, Any]]:
    from ..syncruns import recent_runs

    return recent_runs(db, 10)


def _months_back(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)
