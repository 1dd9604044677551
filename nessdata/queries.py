"""Reads shared by the CLI and the web API."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from .db import Database
from .localtime import local_today
from .schema import event_aggregates

DEFAULT_DAYS = 30


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
