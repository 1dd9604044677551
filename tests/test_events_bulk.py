"""The bulk insert path (COPY on PostgreSQL, prepared INSERTs on SQLite) keeps the
semantics of the row-by-row one: exact counts, idempotency, the pending-hour ledger
and the exact events counter."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from nessdata import events as events_module
from nessdata.errors import RejectedInput
from nessdata.events import BULK_MIN_ROWS, EventWriter, emit_many
from nessdata.summary import summary

from helpers import UTC, event_count, pending_hour_count, utc

START = utc("2025-03-01 00:00:00")


def make_events(n: int, offset: int = 0) -> list[dict]:
    return [
        {"event_id": str(uuid.UUID(int=offset + i + 1, version=4)),
         "module": ("growth", "sales", "ops")[i % 3],
         "event_type": ("lead.created", "deal.won")[i % 2],
         "entity_id": f"E-{i}" if i % 5 else None,
         "payload": {"n": i, "text": "ção"} if i % 4 else {},
         "occurred_at": START + timedelta(minutes=37 * (offset + i))}
        for i in range(n)
    ]


def stored(db) -> dict[str, tuple]:
    with db.begin() as conn:
        rows = conn.execute(text(
            "SELECT event_id, module, event_type, entity_id, payload, occurred_at "
            "FROM module_events"
        )).all()
    out = {}
    for event_id, module, event_type, entity_id, payload, occurred in rows:
        payload = payload if isinstance(payload, dict) else json.loads(payload)
        if isinstance(occurred, str):  # SQLite: the one UTC text shape
            occurred = utc(occurred)
        out[event_id] = (module, event_type, entity_id, payload,
                         occurred.astimezone(UTC))
    return out


def expected(events: list[dict]) -> dict[str, tuple]:
    return {e["event_id"]: (e["module"], e["event_type"], e["entity_id"],
                            e["payload"], e["occurred_at"]) for e in events}


def test_a_bulk_batch_stores_exactly_its_rows(db):
    batch = make_events(BULK_MIN_ROWS + 100)

    report = emit_many(db, batch)

    assert (report.inserted, report.duplicates) == (len(batch), 0)
    assert stored(db) == expected(batch)
    assert summary(db)["events_total"] == event_count(db) == len(batch)
    hours = {e["occurred_at"].replace(minute=0, second=0, microsecond=0)
             for e in batch}
    assert pending_hour_count(db) == len(hours)


@pytest.mark.parametrize("where", ["first", "last"])
def test_bulk_duplicates_in_the_batch_and_in_the_table_are_counted(db, where):
    # On PostgreSQL a stored id fails the direct COPY wherever it comes, and the
    # staging path takes over: first and last are both covered.
    first = make_events(BULK_MIN_ROWS)
    emit_many(db, first)
    fresh = make_events(BULK_MIN_ROWS, offset=10_000)
    batch = (first[:7] + fresh if where == "first" else fresh + first[:7]) + fresh[:5]

    report = emit_many(db, batch)

    assert (report.inserted, report.duplicates) == (len(fresh), 12)
    assert stored(db) == expected(first + fresh)
    assert summary(db)["events_total"] == len(first) + len(fresh)
    hours = {e["occurred_at"].replace(minute=0, second=0, microsecond=0)
             for e in first + fresh}
    assert pending_hour_count(db) == len(hours)


def test_bulk_and_small_paths_store_the_same_rows(db, monkeypatch):
    batch = make_events(BULK_MIN_ROWS)
    emit_many(db, batch[:250])
    monkeypatch.setattr(events_module, "BULK_MIN_ROWS", 10)
    emit_many(db, batch[250:])

    assert stored(db) == expected(batch)


def test_two_bulk_batches_in_one_transaction(db):
    writer = EventWriter(db)
    one, two = make_events(BULK_MIN_ROWS), make_events(BULK_MIN_ROWS, offset=5_000)
    with db.begin(write=True) as conn:
        assert writer.insert_rows(conn, one) == (len(one), 0)
        assert writer.insert_rows(conn, two + one[:3]) == (len(two), 3)

    assert event_count(db) == len(one) + len(two)


def test_a_bulk_batch_with_one_invalid_event_stores_nothing(db):
    batch = make_events(BULK_MIN_ROWS + 10)
    batch[321] = {**batch[321], "module": "Bad Module"}

    with pytest.raises(RejectedInput) as caught:
        emit_many(db, batch)

    assert [(r.line, r.field) for r in caught.value.rejects] == [(322, "module")]
    assert event_count(db) == 0
    assert summary(db)["events_total"] == 0
    assert pending_hour_count(db) == 0


def test_a_failing_bulk_insert_leaves_nothing(db):
    batch = [dict(e) for e in make_events(BULK_MIN_ROWS)]
    batch[-1]["occurred_at"] = batch[-1]["occurred_at"].replace(tzinfo=None)
    writer = EventWriter(db)

    with pytest.raises(ValueError, match="aware datetime"):
        with db.begin(write=True) as conn:
            writer.insert_rows(conn, batch)

    assert event_count(db) == 0
    assert summary(db)["events_total"] == 0

