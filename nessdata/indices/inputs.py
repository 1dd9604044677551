"""The SQL the indices are made of: exact counts and sums over one month."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, distinct, func, or_, select

from ..localtime import month_start, next_month
from ..schema import (
    bcb_rates_snapshot,
    contracts,
    erp_revenue_snapshot,
    event_aggregates,
    event_pending_hours,
    sync_runs,
)
from .month import Month

REVENUE_SOURCE = "omie_revenue"
SUCCESS = ("ok", "success")
IPCA = "ipca"

ct = contracts.c


def count(month: Month, table: Table, *where) -> int:
    return int(month.conn.execute(
        select(func.count()).select_from(table).where(*where)
    ).scalar_one())


def exact_sum(month: Month, column, *where) -> Decimal:
    """The sum of a money column, exact on both databases (see ExactDecimal)."""
    total = month.conn.execute(select(func.sum(column)).where(*where)).scalar()
    return total if total is not None else Decimal("0.00")


def has_rows(month: Month, table: Table) -> bool:
    key = f"has_rows:{table.name}"
    if key not in month.run.cache:
        month.run.cache[key] = month.conn.execute(
            select(1).select_from(table).limit(1)
        ).first() is not None
    return month.run.cache[key]


# -- contracts: a cancelled contract is void and counts nowhere --------------------

def live() -> Any:
    return ct.status != "cancelled"


def active_on(day: date) -> list[Any]:
    """In force on `day`: started on or before it, ending on or after it."""
    return [live(), ct.start_date <= day,
            or_(ct.end_date.is_(None), ct.end_date >= day)]


def within(column, month: Month) -> list[Any]:
    return [column >= month.period, column <= month.last]


# -- rates -------------------------------------------------------------------------

def ipca_by_month(month: Month, first: date, last: date) -> dict[date, Decimal]:
    """IPCA monthly % of the months first..last (first days), as held."""
    bc = bcb_rates_snapshot.c
    rows = month.conn.execute(
        select(bc.ref_date, bc.value).where(
            bc.rate_type == IPCA, bc.ref_date >= first, bc.ref_date < next_month(last)
        )
    )
    return {month_start(ref_date): Decimal(value) for ref_date, value in rows}


def months_between(first: date, last: date) -> list[date]:
    months = []
    while first <= last:
        months.append(first)
        first = next_month(first)
    return months


# -- ERP revenue -------------------------------------------------------------------

def revenue_of(month: Month) -> dict[str, Any]:
    er = erp_revenue_snapshot.c
    where = [er.period == month.period]
    clients, titles, synced_at = month.conn.execute(
        select(func.count(), func.coalesce(func.sum(er.titles_count), 0),
               func.max(er.synced_at)).where(*where)
    ).one()
    return {"clients": int(clients), "titles": int(titles), "synced_at": synced_at,
            "total": exact_sum(month, er.valor, *where)}


def revenue_run(month: Month) -> dict[str, Any] | None:
    """The last successful revenue sync that covered the month, if any."""
    if "revenue_runs" not in month.run.cache:
        sr = sync_runs.c
        month.run.cache["revenue_runs"] = month.conn.execute(
            select(sr.id, sr.params, sr.finished_at)
            .where(sr.source == REVENUE_SOURCE, sr.status.in_(SUCCESS))
            .order_by(sr.started_at.desc(), sr.id.desc())
        ).mappings().all()
    for run in month.run.cache["revenue_runs"]:
        if month.period in _months_of(run["params"]):
            return {"id": run["id"], "finished_at": run["finished_at"]}
    return None


def _months_of(params: Any) -> set[date]:
    """The months a run's params name: `period`, `periods`, or `since`/`until`
    (YYYY-MM or an ISO date in the month)."""
    if not isinstance(params, dict):
        return set()
    named = params.get("periods") or [params.get("period")]
    months = {m for m in map(_month, named) if m}
    since, until = _month(params.get("since")), _month(params.get("until"))
    if since and until:
        months.update(months_between(since, until))
    return months


def _month(value: Any) -> date | None:
    try:
        return date(int(str(value)[:4]), int(str(value)[5:7]), 1)
    except (TypeError, ValueError):
        return None


# -- events ------------------------------------------------------------------------

def event_modules(month: Month) -> list[str]:
    """Every module with counted events in any month: each gets a value for every
    month, 0 where it had none."""
    if "modules" not in month.run.cache:
        month.run.cache["modules"] = sorted(month.conn.execute(
            select(event_aggregates.c.module).distinct()
        ).scalars())
    return month.run.cache["modules"]


def events_by_module(month: Month) -> dict[str, tuple[int, int]]:
    """{module: (events, days with events)} of the month."""
    ea = event_aggregates.c
    rows = month.conn.execute(
        select(ea.module, func.sum(ea.count), func.count(distinct(ea.period)))
        .where(*within(ea.period, month)).group_by(ea.module)
    )
    return {module: (int(total), int(days)) for module, total, days in rows}


def pending_hours(month: Month) -> int:
    hour = event_pending_hours.c.hour
    return count(month, event_pending_hours, hour >= month.start, hour < month.end)
