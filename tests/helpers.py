"""Small helpers shared by the tests."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from nessdata.db import Database
from nessdata.schema import event_aggregates, event_pending_hours, module_events

UTC = ZoneInfo("UTC")
SP = ZoneInfo("America/Sao_Paulo")


def utc(text_value: str) -> datetime:
    return datetime.fromisoformat(text_value).replace(tzinfo=UTC)


def stored_aggregates(db: Database) -> dict[tuple[date, str, str], int]:
    with db.begin() as conn:
        rows = conn.execute(select(event_aggregates.c.period, event_aggregates.c.module,
                                   event_aggregates.c.event_type,
                                   event_aggregates.c.count))
        return {(r.period, r.module, r.event_type): r.count for r in rows}


def python_counts(events) -> Counter:
    """The independent count: local day computed by Python's zoneinfo."""
    return Counter(
        (e["occurred_at"].astimezone(SP).date(), e["module"], e["event_type"])
        for e in events
    )


def event_count(db: Database) -> int:
    with db.begin() as conn:
        return conn.execute(select(func.count()).select_from(module_events)).scalar()


def pending_hour_count(db: Database) -> int:
    with db.begin() as conn:
        return conn.execute(
            select(func.count()).select_from(event_pending_hours)).scalar()


def sql(db: Database, statement: str, **params):
    with db.begin(write=True) as conn:
        return conn.execute(text(statement), params)
