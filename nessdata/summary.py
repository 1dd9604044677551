"""Where the data stands, in one cheap read: what `nessdata summary`, the API and the
page show. A field whose table does not exist (an older schema) is None."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from .db import Database
from .schema import (
    bcb_rates_snapshot,
    clients,
    data_indices,
    erp_revenue_snapshot,
    event_aggregates,
    indicators,
    nessdata_counters,
    sync_runs,
)

RECENT_ROWS = 10


def summary(db: Database, recent: int = RECENT_ROWS) -> dict[str, Any]:
    with db.begin() as conn:
        has = db.has_table
        out: dict[str, Any] = {
            "clients_total": _count(conn, clients) if has("clients") else None,
            "clients_with_omie": (
                conn.execute(select(func.count()).where(
                    clients.c.omie_codigo.is_not(None))).scalar_one()
                if has("clients") else None
            ),
            "last_sync": _last_sync(conn) if has("sync_runs") else None,
            "indicators_count": (
                _count(conn, indicators) if has("indicators") else None
            ),
            "last_erp_revenue_period": (
                _max(conn, erp_revenue_snapshot.c.period)
                if has("erp_revenue_snapshot") else None
            ),
            "last_bcb_rates_date": (
                _max(conn, bcb_rates_snapshot.c.ref_date)
                if has("bcb_rates_snapshot") else None
            ),
            "last_bcb_rates_by_type": (
                _last_rate_dates(conn) if has("bcb_rates_snapshot") else None
            ),
            "events_total": (
                _events_total(conn) if has("nessdata_counters") else None
            ),
            "event_aggregates_count": (
                _count(conn, event_aggregates) if has("event_aggregates") else None
            ),
            "recent_event_aggregates": (
                _recent_aggregates(conn, recent) if has("event_aggregates") else None
            ),
            "last_data_indices_period": (
                _max(conn, data_indices.c.period) if has("data_indices") else None
            ),
            "data_indices_count": (
                _count(conn, data_indices) if has("data_indices") else None
            ),
            "recent_data_indices": (
                _recent_indices(conn, recent) if has("data_indices") else None
            ),
        }
    return out


def _count(conn: Connection, table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _max(conn: Connection, column):
    return conn.execute(select(func.max(column))).scalar()


def _events_total(conn: Connection) -> int:
    # Kept exact by triggers on module_events: no count(*) over millions of rows.
    value = conn.execute(
        select(nessdata_counters.c.value)
        .where(nessdata_counters.c.name == "module_events")
    ).scalar()
    return int(value or 0)


def _last_sync(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(
        select(sync_runs.c.source, sync_runs.c.status, sync_runs.c.started_at,
               sync_runs.c.finished_at, sync_runs.c.records_written,
               sync_runs.c.error)
        .order_by(sync_runs.c.started_at.desc(), sync_runs.c.id.desc())
        .limit(1)
    ).mappings().first()
    return dict(row) if row else None


def _last_rate_dates(conn: Connection) -> dict[str, Any]:
    rows = conn.execute(
        select(bcb_rates_snapshot.c.rate_type, func.max(bcb_rates_snapshot.c.ref_date))
        .group_by(bcb_rates_snapshot.c.rate_type)
        .order_by(bcb_rates_snapshot.c.rate_type)
    ).all()
    return {rate_type: last for rate_type, last in rows}


def _recent_aggregates(conn: Connection, limit: int) -> list[dict[str, Any]]:
    ea = event_aggregates.c
    rows = conn.execute(
        select(ea.period, ea.module, ea.event_type, ea.count)
        .order_by(ea.period.desc(), ea.module, ea.event_type)
        .limit(limit)
    ).mappings()
    return [dict(row) for row in rows]


def _recent_indices(conn: Connection, limit: int) -> list[dict[str, Any]]:
    from .indices import definition_of

    di = data_indices.c
    rows = conn.execute(
        select(di.period, di.index_key, di.value)
        .order_by(di.period.desc(), di.index_key)
        .limit(limit)
    ).mappings()
    recent = []
    for row in rows:
        definition, value = definition_of(row["index_key"]), row["value"]
        if definition is not None and value is not None:
            # Stored with 8 places; shown with the index's own (0 for counts).
            value = value.quantize(Decimal(1).scaleb(-definition.places))
        recent.append({**row, "value": value})
    return recent
