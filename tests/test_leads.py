import csv
from collections import Counter
from datetime import date, datetime

import pytest

from nessdata.errors import RejectedInput
from nessdata.leads import import_leads
from nessdata.rollups import aggregate_pending, pending_days

from helpers import event_count, sql, stored_aggregates

OLIST_LEADS = "olist/olist_marketing_qualified_leads_dataset.csv"


def olist_days(path) -> Counter:
    """Leads per day, read straight from the file (the dates are local days)."""
    with path.open(newline="") as handle:
        return Counter(datetime.strptime(row["first_contact_date"], "%d-%m-%Y").date()
                       for row in csv.DictReader(handle))


def test_olist_leads_roll_up_to_the_counts_of_the_file(cli, db, shared_data):
    path = shared_data / OLIST_LEADS
    expected = olist_days(path)
    assert sum(expected.values()) == 8000 and len(expected) == 336

    result = cli("leads", "import", str(path), "--id-column", "mql_id",
                 "--created-at-column", "first_contact_date", "--source-column",
                 "origin", "--date-format", "%d-%m-%Y")
    assert result.exit_code == 0, result.output
    assert "8000 rows: 8000 new leads, 0 updated, 0 unchanged, 8000 events" in (
        result.stdout)
    assert len(pending_days(db)) == 336
    result = cli("aggregate", "--pending")
    assert result.exit_code == 0, result.output
    rolled = {day: count for (day, module, kind), count in stored_aggregates(db).items()
              if (module, kind) == ("growth", "lead.created")}
    assert rolled == dict(expected)

    again = cli("leads", "import", str(path), "--id-column", "mql_id",
                "--created-at-column", "first_contact_date", "--source-column",
                "origin", "--date-format", "%d-%m-%Y")
    assert "0 new leads, 0 updated, 8000 unchanged, 0 events" in again.stdout
    assert event_count(db) == 8000
    assert pending_days(db) == []


def write(tmp_path, text):
    path = tmp_path / "leads.csv"
    path.write_text(text)
    return path


def test_a_bad_row_is_reported_and_nothing_is_stored(db, tmp_path):
    path = write(tmp_path, "id,created,origin\nA,2025-01-02,ads\nB,02/01/2025,ads\n"
                           ",2025-01-03,\n")
    with pytest.raises(RejectedInput) as caught:
        import_leads(db, path, id_column="id", created_at_column="created")
    assert [(r.line, r.field, r.value) for r in caught.value.rejects] == [
        (3, "created", "02/01/2025"), (4, "id", "")]
    assert sql(db, "SELECT count(*) FROM inbound_leads").scalar() == 0
    assert event_count(db) == 0

    report = import_leads(db, path, id_column="id", created_at_column="created",
                          skip_invalid=True)
    assert (report.new, report.events, len(report.rejected)) == (1, 1, 2)


def test_a_changed_lead_is_updated_without_a_second_event(db, tmp_path):
    import_leads(db, write(tmp_path, "id,created,origin\nA,2025-01-02 10:00,ads\n"),
                 id_column="id", created_at_column="created", source_column="origin")
    report = import_leads(
        db, write(tmp_path, "id,created,origin\nA,2025-01-02 10:00,email\n"),
        id_column="id", created_at_column="created", source_column="origin")
    assert (report.new, report.updated, report.events) == (0, 1, 0)
    assert sql(db, "SELECT source FROM inbound_leads").scalar() == "email"
    assert event_count(db) == 1
    aggregate_pending(db)
    assert stored_aggregates(db) == {(date(2025, 1, 2), "growth", "lead.created"): 1}


def test_a_lead_repeated_with_other_values_is_rejected(db, tmp_path):
    path = write(tmp_path, "id,created\nA,2025-01-02\nA,2025-01-02\nA,2025-01-03\n")
    with pytest.raises(RejectedInput, match="repeats the lead of line 2"):
        import_leads(db, path, id_column="id", created_at_column="created")


def test_an_unknown_column_names_the_header(db, tmp_path):
    path = write(tmp_path, "id,created\nA,2025-01-02\n")
    with pytest.raises(Exception, match="no column 'when'.*the header has id, created"):
        import_leads(db, path, id_column="id", created_at_column="when")


def test_a_file_without_the_source_column_keeps_stored_sources(db, tmp_path):
    import_leads(db, write(tmp_path, "id,created,origin\nA,2025-01-02,ads\n"),
                 id_column="id", created_at_column="created", source_column="origin")
    report = import_leads(db, write(tmp_path, "id,created\nA,2025-01-02\nB,2025-01-03\n"),
                          id_column="id", created_at_column="created")
    assert (report.new, report.updated, report.unchanged) == (1, 0, 1)
    rows = sql(db, "SELECT external_id, source FROM inbound_leads ORDER BY 1").all()
    assert [tuple(r) for r in rows] == [("A", "ads"), ("B", None)]


def test_ragged_rows_and_other_encodings_are_named(db, tmp_path):
    path = write(tmp_path, "id,created,origin\nA,2025-01-02,ads\n"
                           "B,2025-01-03,ads,extra\nC,2025-01-04\n")
    with pytest.raises(RejectedInput) as caught:
        import_leads(db, path, id_column="id", created_at_column="created")
    assert [str(r) for r in caught.value.rejects] == [
        "line 3: line='extra': 4 values under a header of 3 columns",
        "line 4: line='C,2025-01-04': 2 values under a header of 3 columns"]
    latin = tmp_path / "latin.csv"
    latin.write_bytes("id,created,origin\nA,2025-01-02,São Paulo\n".encode("cp1252"))
    with pytest.raises(Exception, match="is not UTF-8 text.*iconv -f cp1252"):
        import_leads(db, latin, id_column="id", created_at_column="created")
    assert event_count(db) == 0
