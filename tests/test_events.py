import json
import uuid
from datetime import datetime, timedelta

import pytest

from nessdata.errors import InvalidValue, RejectedInput
from nessdata.events import EventWriter, emit, emit_many, import_events
from nessdata.summary import summary

from helpers import SP, event_count, pending_hour_count, sql, utc


def test_emit_stores_one_event_and_returns_its_id(db):
    event_id = emit(db, "growth", "lead.created", entity_id=42, payload={"a": 1},
                    occurred_at="2025-03-04T10:00:00-03:00")
    assert uuid.UUID(event_id)
    assert event_count(db) == 1
    row = sql(db, "SELECT module, event_type, entity_id FROM module_events").one()
    assert tuple(row) == ("growth", "lead.created", "42")


def test_a_repeated_event_id_is_a_counted_duplicate(db):
    given = str(uuid.uuid4())
    events = [{"event_id": given, "module": "fin", "event_type": "invoice.paid"}] * 3
    report = emit_many(db, events)
    assert (report.inserted, report.duplicates) == (1, 2)
    again = emit_many(db, events[:1])
    assert (again.inserted, again.duplicates) == (0, 1)
    assert event_count(db) == 1


def test_event_ids_are_canonicalised(db):
    given = uuid.uuid4()
    emit(db, "fin", "invoice.paid", event_id=str(given).upper())
    report = emit_many(db, [{"event_id": given.hex, "module": "fin",
                             "event_type": "invoice.paid"}])
    assert report.duplicates == 1


def test_naive_occurred_at_is_local_time_and_missing_means_now(db):
    writer = EventWriter(db)
    writer.emit("ops", "ticket.opened", occurred_at="2025-01-10 23:30:00")
    before = datetime.now(SP)
    writer.emit("ops", "ticket.closed")
    with db.begin() as conn:
        from sqlalchemy import select

        from nessdata.schema import module_events as me
        rows = dict(conn.execute(select(me.c.event_type, me.c.occurred_at)).all())
    assert rows["ticket.opened"] == utc("2025-01-11 02:30:00")
    assert abs(rows["ticket.closed"] - before) < timedelta(seconds=30)


@pytest.mark.parametrize("field, value, words", [
    ("module", "Growth", "lowercase identifier"),
    ("module", "", "is missing"),
    ("event_type", "Lead Created", "dotted"),
    ("event_type", "a." * 40 + "b", "64"),
    ("payload", "[1, 2]", "JSON object"),
    ("payload", "{not json", "not valid JSON"),
    ("occurred_at", "31/02/2025", "not a date"),
    ("event_id", "not-a-uuid", "UUID"),
    ("entity_id", "x" * 300, "longer than 255"),
    ("colour", "red", "unknown field"),
])
def test_invalid_fields_are_named_with_their_value(db, field, value, words):
    event = {"module": "growth", "event_type": "lead.created", field: value}
    with pytest.raises(RejectedInput) as caught:
        emit_many(db, [event])
    reject = caught.value.rejects[0]
    assert reject.field == field
    assert words in reject.reason
    assert repr(value)[:20] in str(caught.value)
    assert event_count(db) == 0


def test_payload_size_is_bounded(db):
    writer = EventWriter(db, max_payload=100)
    with pytest.raises(InvalidValue, match="larger than 100 bytes"):
        writer.emit("growth", "lead.created", payload={"text": "x" * 200})


def test_a_file_with_rejects_stores_nothing(db, tmp_path):
    emit(db, "growth", "lead.created", occurred_at="2025-01-01T12:00:00Z")
    pending_before = pending_hour_count(db)
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join([
        json.dumps({"module": "growth", "event_type": "lead.created",
                    "occurred_at": "2025-02-01T10:00:00"}),
        json.dumps({"module": "BAD", "event_type": "lead.created"}),
        "{broken",
        json.dumps({"module": "fin", "event_type": "x", "occurred_at": "yesterday"}),
    ]) + "\n")
    with pytest.raises(RejectedInput) as caught:
        import_events(db, path)
    assert [(r.line, r.field) for r in caught.value.rejects] == [
        (2, "module"), (3, "line"), (4, "occurred_at")]
    assert event_count(db) == 1
    assert pending_hour_count(db) == pending_before

    report = import_events(db, path, skip_invalid=True)
    assert (report.inserted, len(report.rejected)) == (1, 3)
    assert event_count(db) == 2


def test_csv_import_with_all_columns(db, tmp_path):
    given = str(uuid.uuid4())
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,module,event_type,entity_id,payload,occurred_at\n"
        f'{given},fin,contract.signed,C-1,"{{""mrr"": ""1500.00""}}",2025-03-04 09:00\n'
        ",ops,ticket.opened,,,2025-03-04T12:00:00Z\n"
    )
    report = import_events(db, path)
    assert report.inserted == 2
    row = sql(db, "SELECT payload FROM module_events WHERE event_id = :id",
              id=given).scalar()
    payload = row if isinstance(row, dict) else json.loads(row)
    assert payload == {"mrr": "1500.00"}
    again = import_events(db, path)
    assert (again.inserted, again.duplicates) == (1, 1)  # the row without an id is new


def test_csv_without_required_columns_is_refused(db, tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("kind,when\nx,2025-01-01\n")
    with pytest.raises(Exception, match="lacks event_type, module"):
        import_events(db, path)


def test_plain_sql_insert_and_delete_are_counted(db):
    sql(db, "INSERT INTO module_events (module, event_type, occurred_at) "
            "VALUES ('people', 'employee.hired', '2025-05-05 15:00:00+00')"
        if db.dialect == "postgresql" else
            "INSERT INTO module_events (module, event_type, occurred_at) "
            "VALUES ('people', 'employee.hired', '2025-05-05T15:00:00Z')")
    row = sql(db, "SELECT event_id, payload, created_at FROM module_events").one()
    assert uuid.UUID(row.event_id)
    assert row.created_at is not None
    assert summary(db)["events_total"] == 1
    assert pending_hour_count(db) == 1
    sql(db, "DELETE FROM module_events")
    assert summary(db)["events_total"] == 0


@pytest.mark.parametrize("event, field, words", [
    ({"module": "growth", "event_type": "x", "occurred_at": "9999-12-31T23:00:00Z"},
     "occurred_at", "outside the years 1900 to 2199"),
    ({"module": "growth", "event_type": "x", "occurred_at": "0999-06-01T12:00:00Z"},
     "occurred_at", "outside the years"),
    ({"event_type": "x"}, "module", "is missing"),
    ({"module": "growth"}, "event_type", "is missing"),
    ({"module": "growth", "event_type": "x", "payload": '{"a": NaN}'},
     "payload", "cannot be stored as JSON"),
    ({"module": "growth", "event_type": "x", "payload": {"a": "nul\x00"}},
     "payload", "NUL character"),
    ({"module": "growth", "event_type": "x", "entity_id": "a\x00b"},
     "entity_id", "NUL character"),
    ({"module": "growth", "event_type": "x", "payload": "[" * 100_000},
     "payload", "nested too deeply"),
])
def test_values_no_database_can_count_are_refused(db, event, field, words):
    with pytest.raises(RejectedInput) as caught:
        emit_many(db, [event])
    assert (caught.value.rejects[0].field, words in caught.value.rejects[0].reason) == (
        field, True)
    assert event_count(db) == 0


def test_the_first_row_of_a_repeated_event_id_wins(db):
    given = str(uuid.uuid4())
    report = emit_many(db, [
        {"event_id": given, "module": "growth", "event_type": "first.row"},
        {"event_id": given, "module": "fin", "event_type": "second.row"},
    ])
    assert (report.inserted, report.duplicates) == (1, 1)
    assert tuple(sql(db, "SELECT module, event_type FROM module_events").one()) == (
        "growth", "first.row")


def test_ragged_csv_rows_and_latin1_files_are_named(db, tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("module,event_type\ngrowth,lead.created,extra\n")
    with pytest.raises(RejectedInput, match="line 2: line='extra': 3 values"):
        import_events(db, path)
    path.write_bytes("module,event_type,payload\ngrowth,x,\"{\"\"c\"\": \"\"São\"\"}\"\n"
                     .encode("cp1252"))
    with pytest.raises(Exception, match="is not UTF-8 text"):
        import_events(db, path)
    assert event_count(db) == 0
