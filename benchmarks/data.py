"""Skewed synthetic events, made in chunks, and the databases' own bulk loaders."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import text

from nessdata.db import Database
from nessdata.localtime import day_start
from nessdata.types import to_sqlite_instant

UTC = timezone.utc
CHUNK = 50_000
COLUMNS = ("event_id", "module", "event_type", "entity_id", "payload", "occurred_at")
# The last day of every data set: after São Paulo dropped daylight saving, so one
# fixed offset holds and the hand-written SQLite floor needs no zone table.
LAST_DAY = date(2026, 6, 30)

# (module, share of all events, {event_type: share within the module})
MODULES = [
    ("growth", 40, {"lead.created": 60, "lead.qualified": 25, "page.viewed": 15}),
    ("sales", 22, {"deal.created": 50, "deal.won": 20, "deal.lost": 30}),
    ("finance", 15, {"invoice.issued": 70, "invoice.paid": 28, "invoice.voided": 2}),
    ("ops", 13, {"task.done": 80, "incident.opened": 20}),
    ("support", 8, {"ticket.opened": 55, "ticket.closed": 45}),
    ("people", 2, {"hire.made": 100}),
]
# Monday first: weekends are quiet.
WEEKDAY_WEIGHT = [1.0, 1.05, 1.1, 1.0, 0.9, 0.3, 0.15]
# Local hours 0..23: a business-hours hump with a lunch dip.
HOUR_WEIGHT = [1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 20, 18, 12, 16, 19, 18, 15, 11,
               8, 6, 5, 4, 3, 2]


def first_day(days: int) -> date:
    return LAST_DAY - timedelta(days=days - 1)


class EventMaker:
    """Deterministic events over `days` local days; chunk() gives raw event dicts."""

    def __init__(self, days: int, tz, seed: int = 7):
        self.rng = random.Random(seed)
        pairs = [(m, t, ms * ts) for m, ms, types in MODULES for t, ts in types.items()]
        self.kinds = [(m, t) for m, t, _ in pairs]
        self.kind_weights = _cumulative(w for _, _, w in pairs)
        start = first_day(days)
        slots, weights = [], []
        for n in range(days):
            day = start + timedelta(days=n)
            for hour in range(24):
                local = datetime(day.year, day.month, day.day, hour, tzinfo=tz)
                slots.append(local.astimezone(UTC).timestamp())
                weights.append(WEEKDAY_WEIGHT[day.weekday()] * HOUR_WEIGHT[hour])
        self.slots = slots
        self.slot_weights = _cumulative(weights)
        self.day_start = day_start(start, tz)

    def chunk(self, size: int) -> list[dict]:
        rng = self.rng
        kinds = rng.choices(self.kinds, cum_weights=self.kind_weights, k=size)
        slots = rng.choices(self.slots, cum_weights=self.slot_weights, k=size)
        bits = rng.getrandbits
        return [
            {
                "event_id": str(uuid.UUID(int=bits(128), version=4)),
                "module": module,
                "event_type": event_type,
                "entity_id": f"{module[:2]}-{bits(20)}",
                "payload": {"source": "bench", "value": bits(10)},
                "occurred_at": datetime.fromtimestamp(slot + rng.random() * 3600, UTC),
            }
            for (module, event_type), slot in zip(kinds, slots)
        ]

    def chunks(self, total: int, size: int = CHUNK) -> Iterator[list[dict]]:
        done = 0
        while done < total:
            step = min(size, total - done)
            yield self.chunk(step)
            done += step


def _cumulative(weights) -> list[float]:
    out, total = [], 0.0
    for weight in weights:
        total += weight
        out.append(total)
    return out


def as_tuple(event: dict, dialect: str) -> tuple:
    """The row as the bulk path takes it: JSON text, and SQLite's instant text."""
    occurred = event["occurred_at"]
    return (
        event["event_id"], event["module"], event["event_type"], event["entity_id"],
        json.dumps(event["payload"]),
        to_sqlite_instant(occurred) if dialect == "sqlite" else occurred,
    )


def bulk_insert(db: Database, rows: list[tuple], table: str = "module_events") -> None:
    """The database's own fastest path for rows: COPY, or one executemany."""
    columns = ", ".join(COLUMNS)
    with db.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        if db.dialect == "postgresql":
            with conn.begin(), raw.cursor() as cursor:
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            return
        with conn.begin():
            raw.executemany(
                f"INSERT INTO {table} ({columns}) VALUES (?, ?, ?, ?, ?, ?)", rows
            )


def load(db: Database, events: int, days: int, seed: int = 7) -> None:
    """Fill module_events by the bulk path, then refresh the planner's statistics."""
    maker = EventMaker(days, db.tz, seed)
    for chunk in maker.chunks(events):
        bulk_insert(db, [as_tuple(e, db.dialect) for e in chunk])
    analyse(db)


def analyse(db: Database) -> None:
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
