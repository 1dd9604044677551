"""Reads shared by the CLI and the web API."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from .db import Database
from .localtime import local_today
from .schema import bcb_rates_snapshot, clients, erp_revenue_snapshot, event_aggregates

DEFAULT_DAYS = 30
DEFAULT_RATE_DAYS = 366


def event_aggregates_between(db: Database, since: date | None = None,
                             until: date | None = None, module: str | None = None
                             ) -> list[dict[str, Any]]:
    """Daily counts, oldest first; by default the last 30 local days."""
    until = until or local_today(db.tz)
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    ea = event_aggregates.c
    query = (
        select(ea.period, ea.module, ea.event_type, ea.count)
        .where(ea.period >= since, ea.period <= until)
        .order_by(ea.period, ea.module, ea.event_type)
    )
    if module:
        query = query.where(ea.module == module)
    with db.begin() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def rates_between(db: Database, rate_type: str | None = None,
                  since: date | None = None, until: date | None = None
                  ) -> list[dict[str, Any]]:
    """Stored BCB rates, oldest first; by default the last 366 days."""
    until = until or local_today(db.tz)
    since = since or until - timedelta(days=DEFAULT_RATE_DAYS - 1)
    r = bcb_rates_snapshot.c
    query = (
        select(r.rate_type, r.ref_date, r.value, r.value_buy, r.value_sell, r.source)
        .where(r.ref_date >= since, r.ref_date <= until)
        .order_by(r.rate_type, r.ref_date)
    )
    if rate_type:
        from .bcb.rates import series_for

        series_for([rate_type], field="type")
        query = query.where(r.rate_type == rate_type)
    with db.begin() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def revenue_for_period(db: Database, period: date | None = None) -> dict[str, Any]:
    """One month of Omie revenue per client, biggest first; by default the newest
    month held. `period` is None when no month is held."""
    e = erp_revenue_snapshot.c
    with db.begin() as conn:
        period = period or conn.execute(select(func.max(e.period))).scalar()
        query = (
            select(e.omie_codigo, e.client_id, clients.c.name.label("client_name"),
                   e.valor, e.titles_count, e.synced_at)
            .select_from(erp_revenue_snapshot.outerjoin(
                clients, clients.c.id == e.client_id))
            .where(e.period == period)
            .order_by(e.valor.desc(), e.omie_codigo)
        )
        rows = [dict(row) for row in conn.execute(query).mappings()]
    total = sum((row["valor"] for row in rows), Decimal("0.00"))
    return {"period": period, "total": total, "clients": rows}
