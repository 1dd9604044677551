import json

from click.testing import CliRunner

from nessdata.cli import main
from nessdata.events import emit

SUMMARY_FIELDS = {
    "clients_total", "clients_with_omie", "last_sync", "indicators_count",
    "last_erp_revenue_period", "last_bcb_rates_date", "events_total",
    "event_aggregates_count", "recent_event_aggregates", "last_data_indices_period",
    "data_indices_count", "recent_data_indices",
}


def test_summary_json_has_every_field(cli, db):
    emit(db, "growth", "lead.created")
    result = cli("summary", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert SUMMARY_FIELDS <= set(data)
    assert data["events_total"] == 1


def test_events_emit_prints_the_id_and_refuses_bad_input(cli, db):
    result = cli("events", "emit", "--module", "growth", "--type", "lead.created",
                 "--payload", '{"origin": "ads"}', "--occurred-at", "2025-03-04 10:00")
    assert result.exit_code == 0, result.output
    event_id = result.stdout.strip()
    again = cli("events", "emit", "--module", "growth", "--type", "lead.created",
                "--event-id", event_id)
    assert "duplicate event_id" in again.output
    bad = cli("events", "emit", "--module", "Growth", "--type", "lead.created")
    assert bad.exit_code == 1
    assert "module='Growth': must be a lowercase identifier" in bad.output
    assert "Traceback" not in bad.output


def test_events_import_reports_rejects_with_lines(cli, tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"module": "fin", "event_type": "invoice.paid"}\n'
                    '{"module": "fin", "event_type": "Invoice"}\n')
    result = cli("events", "import", str(path))
    assert result.exit_code == 1
    assert "1 invalid row(s), nothing was stored" in result.output
    assert "line 2: event_type='Invoice'" in result.output
    result = cli("events", "import", str(path), "--skip-invalid", "--json")
    assert json.loads(result.stdout)["inserted"] == 1


def test_run_reports_each_step(cli):
    result = cli("run", "--json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)
    assert "aggregate" in [s["step"] for s in steps]


def test_a_database_without_schema_is_refused_on_postgres(db_url, backend, request):
    if backend != "postgres":
        return
    url = request.getfixturevalue("pg_server").create()
    result = CliRunner().invoke(main, ["--database-url", url, "summary"])
    assert result.exit_code == 1
    assert "run `nessdata db upgrade`" in result.output


def test_an_empty_sqlite_file_gets_its_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    result = CliRunner().invoke(main, ["--database-url", url, "aggregate"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["--database-url", url, "summary", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events_total"] == 0


def test_bad_settings_name_the_variable(tmp_path):
    result = CliRunner().invoke(main, ["--timezone", "Mars/Olympus", "summary"])
    assert result.exit_code == 1
    assert "NESSDATA_TIMEZONE" in result.output and "Mars/Olympus" in result.output
    result = CliRunner().invoke(main, ["--database-url", "mysql://x/y", "summary"])
    assert "only sqlite:/// and postgresql+psycopg://" in result.output


def test_demo_fills_a_local_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NESSDATA_DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["demo", "--months", "2"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "nessdata.db").exists()
    data = json.loads(CliRunner().invoke(main, ["summary", "--json"]).stdout)
    assert data["events_total"] > 1000
    assert data["event_aggregates_count"] > 0
    second = CliRunner().invoke(main, ["demo", "--months", "2"])
    assert "demo: 0 new events" in second.stdout


def test_a_rejected_file_with_json_prints_its_rejects(cli, tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text('{"module": "fin", "event_type": "Invoice", "payload": "[1]"}\n')
    result = cli("events", "import", str(path), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"stored": 0, "rejected": 1, "rejects": [
        {"line": 1, "field": "event_type", "value": "Invoice",
         "reason": "must be lowercase dotted identifiers of at most 64 characters, "
                   "e.g. lead.created"}]}


def test_reading_commands_do_not_create_a_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NESSDATA_DATABASE_URL", raising=False)
    result = CliRunner().invoke(main, ["summary"])
    assert result.exit_code == 1
    assert "no database at" in result.output
    assert not (tmp_path / "nessdata.db").exists()


def test_bad_revisions_are_named(cli):
    result = cli("db", "downgrade", "0002_nope")
    assert result.exit_code == 1
    assert "cannot move the schema to '0002_nope'" in result.output


def test_the_bcb_stub_command_serves_a_sync(cli, db):
    import subprocess
    import sys

    server = subprocess.Popen([sys.executable, "-m", "nessdata", "stub", "bcb",
                               "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().startswith("# in another shell")
        exports = dict(server.stdout.readline().split()[1].split("=", 1)
                       for _ in range(2))
        import os
        os.environ.update(exports)
        try:
            result = cli("sync", "bcb", "--since", "2021-03-01", "--until",
                         "2021-03-31", "--rate", "dollar_ptax")
        finally:
            for name in exports:
                os.environ.pop(name)
        assert result.exit_code == 0, result.output
        assert "dollar_ptax  latest 2021-03-31" in result.stdout
    finally:
        server.terminate()
        server.wait(timeout=10)
