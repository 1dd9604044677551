import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from nessdata.contracts import contract_event_id, import_contracts
from nessdata.errors import NessdataError, RejectedInput
from nessdata.localtime import local_today
from nessdata.schema import contracts, module_events

from helpers import SP, UTC, event_count, sql

HEADER = "id,start,end,mrr,client,status\n"


def write(tmp_path, text, name="contracts.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def full(db, path, **options):
    return import_contracts(db, path, id_column="id", start_column="start",
                            end_column="end", mrr_column="mrr",
                            client_column="client", **options)


def stored(db) -> dict[str, dict]:
    with db.begin() as conn:
        rows = conn.execute(select(contracts)).mappings()
        return {row["external_id"]: dict(row) for row in rows}


def events(db) -> list[dict]:
    with db.begin() as conn:
        return [dict(row) for row in conn.execute(
            select(module_events).order_by(module_events.c.entity_id)).mappings()]


def test_contracts_are_stored_with_their_status_and_one_event_each(db, tmp_path):
    today = local_today(db.tz)
    past, future = today - timedelta(days=3), today + timedelta(days=30)
    path = write(tmp_path, HEADER
                 + "C1,2024-01-15,,1234.10,Padaria,\n"
                 + f"C2,2024-02-01,{past},1234.2,Escola,\n"
                 + f"C3,2024-03-31,{future},0,,\n")
    report = full(db, path)
    assert (report.read, report.new, report.events) == (3, 3, 3)

    rows = stored(db)
    assert {k: (r["start_date"], r["end_date"], r["mrr"], r["client_ref"], r["status"])
            for k, r in rows.items()} == {
        "C1": (date(2024, 1, 15), None, Decimal("1234.10"), "Padaria", "active"),
        "C2": (date(2024, 2, 1), past, Decimal("1234.20"), "Escola", "ended"),
        "C3": (date(2024, 3, 31), future, Decimal("0.00"), None, "active"),
    }
    stored_events = events(db)
    assert [(e["event_id"], e["module"], e["event_type"], e["entity_id"])
            for e in stored_events] == [
        (contract_event_id(c), "fin", "contract.signed", c) for c in ("C1", "C2", "C3")]
    # Local midnight of the start day: 03:00 UTC in São Paulo (no DST since 2019).
    assert stored_events[0]["occurred_at"] == datetime(2024, 1, 15, 3, tzinfo=UTC)
    assert stored_events[0]["payload"] == {"mrr": "1234.10", "client_ref": "Padaria"}


def test_reimporting_changes_nothing_and_a_change_emits_no_second_event(db, tmp_path):
    path = write(tmp_path, HEADER + "C1,2024-01-15,,1234.10,Padaria,\n")
    full(db, path)
    again = full(db, path)
    assert (again.new, again.updated, again.unchanged, again.events) == (0, 0, 1, 0)

    changed = write(tmp_path, HEADER + "C1,2024-01-15,2024-06-30,1500.00,Padaria,\n")
    report = full(db, changed)
    assert (report.new, report.updated, report.events) == (0, 1, 0)
    row = stored(db)["C1"]
    assert (row["end_date"], row["mrr"], row["status"]) == (
        date(2024, 6, 30), Decimal("1500.00"), "ended")
    assert event_count(db) == 1


def test_columns_not_given_keep_what_is_stored(db, tmp_path):
    full(db, write(tmp_path, HEADER + "C1,2024-01-15,2024-05-31,99.90,Padaria,\n"))
    report = import_contracts(db, write(tmp_path, "id,start\nC1,2024-01-15\n"
                                        "C2,2024-02-01\n", "dates.csv"),
                              id_column="id", start_column="start")
    assert (report.new, report.unchanged) == (1, 1)
    rows = stored(db)
    assert (rows["C1"]["end_date"], rows["C1"]["mrr"], rows["C1"]["client_ref"]) == (
        date(2024, 5, 31), Decimal("99.90"), "Padaria")
    assert rows["C2"]["mrr"] == Decimal("0.00")


def test_a_status_column_sets_cancelled_and_a_later_file_keeps_it(db, tmp_path):
    path = write(tmp_path, HEADER + "C1,2024-01-15,,100.00,,Cancelled\n"
                 "C2,2024-01-15,2024-02-10,100.00,,ended\n")
    full(db, path, status_column="status")
    assert {k: r["status"] for k, r in stored(db).items()} == {
        "C1": "cancelled", "C2": "ended"}

    again = full(db, write(tmp_path, HEADER + "C1,2024-01-15,,100.00,,\n", "b.csv"))
    assert again.unchanged == 1
    assert stored(db)["C1"]["status"] == "cancelled"


def test_rejects_name_line_field_and_value_and_store_nothing(db, tmp_path):
    path = write(tmp_path, HEADER
                 + "C1,2024-01-15,,1234.10,,\n"        # line 2: fine
                 + "C2,15/01/2024,,10.00,,\n"          # line 3: date format
                 + "C3,2024-01-15,,\"1.234,10\",,\n"   # line 4: decimal comma
                 + "C4,2024-01-15,,10.001,,\n"         # line 5: 3 decimals
                 + "C5,2024-01-15,,-5,,\n"             # line 6: negative
                 + "C6,2024-01-15,,,,\n"               # line 7: empty MRR
                 + "C7,2024-03-01,2024-02-28,10,,\n"   # line 8: ends before start
                 + "C1,2024-01-16,,1234.10,,\n"        # line 9: repeat, other values
                 + ",2024-01-15,,10,,\n"               # line 10: no id
                 + "C8,2024-01-15,,10,,paused\n")      # line 11: unknown status
    with pytest.raises(RejectedInput) as caught:
        full(db, path, status_column="status")
    assert [(r.line, r.field, r.value) for r in caught.value.rejects] == [
        (3, "start", "15/01/2024"), (4, "mrr", "1.234,10"), (5, "mrr", "10.001"),
        (6, "mrr", "-5"), (7, "mrr", ""), (8, "end", "2024-02-28"), (9, "id", "C1"),
        (10, "id", ""), (11, "status", "paused")]
    message = str(caught.value)
    assert "line 8: end='2024-02-28': ends before the contract starts (2024-03-01)" in (
        message)
    assert "line 9: id='C1': repeats the contract of line 2 with other values" in (
        message)
    assert "line 5: mrr='10.001': has more than 2 decimal places" in message
    assert stored(db) == {} and event_count(db) == 0

    report = full(db, path, status_column="status", skip_invalid=True)
    assert (report.new, report.events, len(report.rejected)) == (1, 1, 9)


def test_an_unknown_column_is_named(db, tmp_path):
    path = write(tmp_path, HEADER + "C1,2024-01-15,,1,,\n")
    with pytest.raises(NessdataError, match=r"no column 'mrr_brl' \(given for mrr\)"):
        import_contracts(db, path, id_column="id", start_column="start",
                         mrr_column="mrr_brl")


def test_a_start_with_a_time_is_dated_on_its_local_day(db, tmp_path):
    path = write(tmp_path, "id,won\nA,31-01-2024 23:30\nB,01-02-2024 00:10\n")
    import_contracts(db, path, id_column="id", start_column="won",
                     date_format="%d-%m-%Y %H:%M")
    rows = stored(db)
    assert (rows["A"]["start_date"], rows["B"]["start_date"]) == (
        date(2024, 1, 31), date(2024, 2, 1))
    signed = {e["entity_id"]: e["occurred_at"].astimezone(SP) for e in events(db)}
    assert signed["A"] == datetime(2024, 1, 31, tzinfo=SP)


def test_cli_import_prints_the_report(cli, db, tmp_path):
    path = write(tmp_path, HEADER + "C1,2024-01-15,,1234.10,Padaria,\nC2,bad,,1,,\n")
    result = cli("contracts", "import", str(path), "--id-column", "id",
                 "--start-column", "start", "--mrr-column", "mrr", "--skip-invalid",
                 "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["new"], report["events"], report["rejected"]) == (1, 1, 1)
    assert report["rejects"][0] == {"line": 3, "field": "start", "value": "bad",
                                    "reason": "not a date/time (ISO 8601)"}

    refused = cli("contracts", "import", str(path), "--id-column", "id",
                  "--start-column", "start")
    assert refused.exit_code == 1
    assert "1 invalid row(s), nothing was stored" in refused.stderr
    assert sql(db, "SELECT count(*) FROM contracts").scalar() == 1
