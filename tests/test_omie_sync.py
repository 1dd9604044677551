"""The Omie syncs on both databases, against the local stub: clients matched by code
then by document, monthly revenue replaced exactly, failures that change nothing,
blocks that stop the run, cooldowns, stale runs, the daily job and the CLI."""

import json
import logging
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, update

from nessdata.db import now_utc
from nessdata.errors import ConfigError, InvalidValue, JobBusy, UpstreamError
from nessdata.jobs import daily_steps, run_daily
from nessdata.omie import (
    OmieBlocked,
    OmieRequestError,
    SyncCooldown,
    revenue_months,
    sync_clients,
    sync_revenue,
)
from nessdata.omie.client import clear_blocks
from nessdata.omie.stub import OmieStub
from nessdata.schema import clients, erp_revenue_snapshot, sync_runs
from nessdata.settings import load_settings
from nessdata.summary import summary

from omie_support import (  # noqa: F401  (_no_blocks is an autouse fixture)
    APP_KEY,
    APP_SECRET,
    _no_blocks,
    client_for,
    omie_client,
    title,
)

MAY = date(2023, 5, 1)
JUNE = date(2023, 6, 1)
RECORDED = ("recorded/omie/"
            "omie_ListarContasReceber_conta_receber_cadastro_page1of7_500recs.json")


@pytest.fixture
def stub():
    with OmieStub(app_key=APP_KEY, app_secret=APP_SECRET) as server:
        yield server


@pytest.fixture
def settings(db, stub):
    return load_settings(database_url=db.url, omie_url=stub.url,
                         omie_app_key=APP_KEY, omie_app_secret=APP_SECRET,
                         omie_pause_seconds=0, omie_sync_cooldown_seconds=300)


def snapshot(db, period=None):
    s = erp_revenue_snapshot.c
    query = select(s.period, s.omie_codigo, s.client_id, s.valor, s.titles_count)
    if period:
        query = query.where(s.period == period)
    with db.begin() as conn:
        return {(r.period, r.omie_codigo): (r.valor, r.titles_count, r.client_id)
                for r in conn.execute(query)}


def runs(db):
    with db.begin() as conn:
        return conn.execute(select(sync_runs).order_by(sync_runs.c.id)).mappings().all()


def stored_clients(db):
    with db.begin() as conn:
        return conn.execute(select(clients).order_by(clients.c.id)).mappings().all()


def add_client(db, name, document=None, omie_codigo=None):
    now = now_utc()
    with db.begin(write=True) as conn:
        conn.execute(insert(clients).values(
            name=name, document=document, omie_codigo=omie_codigo, active=True,
            created_at=now, updated_at=now))


# -- clients -------------------------------------------------------------------------

def test_clients_match_by_code_then_by_document(db, settings, stub):
    add_client(db, "Known by code", document="11111111000111", omie_codigo=501)
    add_client(db, "Known by CNPJ", document="22222222000122")
    add_client(db, "Known by CPF", document="12345678901")
    stub.clients = [
        omie_client(501, "11.111.111/0001-11", name="RENAMED BY OMIE"),
        omie_client(502, "22.222.222/0001-22"),
        omie_client(503, "123.456.789-01"),
        omie_client(504, "33.333.333/0001-33"),
        omie_client(505, ""),
    ]
    report = sync_clients(db, settings, client=client_for(stub))
    assert (report.inserted, report.updated, report.unchanged) == (2, 3, 0)
    rows = {r["omie_codigo"]: r for r in stored_clients(db)}
    assert rows[501]["name"] == "RENAMED BY OMIE" and rows[501]["id"] == 1
    assert rows[502]["id"] == 2 and rows[502]["name"] == "CLIENTE 502 LTDA"
    assert rows[503]["id"] == 3 and rows[503]["document"] == "12345678901"
    assert rows[504]["document"] == "33333333000133"
    assert rows[505]["document"] is None
    assert len(rows) == 5

    again = sync_clients(db, settings, client=client_for(stub))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    assert [r["status"] for r in runs(db)] == ["ok", "ok"]


def test_tag_filter_keeps_only_tagged_clients(db, settings, stub):
    stub.clients = [omie_client(1, tags=("Cliente",)),
                    omie_client(2, tags=("Fornecedor",)),
                    omie_client(3, tags=("cliente", "VIP"))]
    tagged = settings.model_copy(update={"omie_client_tag": "Cliente"})
    report = sync_clients(db, tagged, client=client_for(stub))
    assert report.skipped_by_tag == 1
    assert sorted(r["omie_codigo"] for r in stored_clients(db)) == [1, 3]


def test_inactive_client_is_stored_inactive(db, settings, stub):
    stub.clients = [omie_client(9, inativo="S")]
    sync_clients(db, settings, client=client_for(stub))
    assert stored_clients(db)[0]["active"] is False


# -- revenue -------------------------------------------------------------------------

def test_revenue_sums_per_client_exactly_and_skips_cancelled(db, settings, stub):
    stub.titles = [
        title(1, 70, "1234.10", "03/05/2023"),
        title(2, 70, "1234.20", "31/05/2023"),
        title(3, 70, "999.99", "10/05/2023", status="CANCELADO"),
        title(4, 80, 330, "15/05/2023", status="ATRASADO"),
        title(5, 80, "0.01", None, registro="20/05/2023"),
        title(6, 80, "50.00", "01/06/2023"),
    ]
    add_client(db, "Seventy", omie_codigo=70)
    report = sync_revenue(db, settings, since=MAY, until=MAY, client=client_for(stub))
    assert snapshot(db) == {(MAY, 70): (Decimal("2468.30"), 2, 1),
                            (MAY, 80): (Decimal("330.01"), 2, None)}
    month = report.as_dict()["months"][0]
    assert month == {"period": "2023-05-01", "clients": 2, "titles": 4,
                     "cancelled": 1, "outside_month": 0, "valor": "2798.31"}
    param = stub.calls[0]["param"]
    assert (param["filtrar_por_emissao_de"], param["filtrar_por_emissao_ate"]) == (
        "01/05/2023", "31/05/2023")
    assert runs(db)[-1]["records_written"] == 2


def test_titles_outside_the_month_are_left_out_even_if_served(db, settings, stub):
    stub.titles = [title(1, 70, "10.00", "03/05/2023"),
                   title(2, 70, "20.00", "03/06/2023")]
    stub.ignore_dates = True
    report = sync_revenue(db, settings, since=MAY, until=MAY, client=client_for(stub))
    assert report.months[0].outside_month == 1
    assert snapshot(db) == {(MAY, 70): (Decimal("10.00"), 1, None)}


def test_recorded_page_sums_match_an_independent_sum(db, settings, stub,
                                                     shared_data):
    text = (shared_data / RECORDED).read_text(encoding="utf-8")
    stub.titles = json.loads(text)["conta_receber_cadastro"]
    expected = defaultdict(lambda: [Decimal("0"), 0])
    for row in json.loads(text, parse_float=Decimal)["conta_receber_cadastro"]:
        issued = row.get("data_emissao") or row["data_registro"]
        if issued[3:] == "05/2023" and row["status_titulo"] != "CANCELADO":
            expected[row["codigo_cliente_fornecedor"]][0] += Decimal(
                row["valor_documento"])
            expected[row["codigo_cliente_fornecedor"]][1] += 1
    report = sync_revenue(db, settings, since=MAY, until=MAY,
                          client=client_for(stub, page_size=50))
    assert len(stub.calls) > 3  # several pages
    assert snapshot(db) == {(MAY, code): (total, count, None)
                            for code, (total, count) in expected.items()}
    assert report.months[0].valor == sum(t for t, _ in expected.values())
    assert report.months[0].titles == sum(c for _, c in expected.values())


def test_resync_replaces_the_month_exactly(db, settings, stub):
    stub.titles = [title(1, 70, "100.00", "03/05/2023"),
                   title(2, 80, "200.00", "04/05/2023"),
                   title(3, 80, "5.00", "04/06/2023")]
    sync_revenue(db, settings, since=MAY, until=JUNE, client=client_for(stub))
    assert set(snapshot(db)) == {(MAY, 70), (MAY, 80), (JUNE, 80)}

    stub.titles = [title(1, 70, "100.00", "03/05/2023", status="CANCELADO"),
                   title(2, 80, "250.00", "04/05/2023"),
                   title(3, 80, "5.00", "04/06/2023")]
    sync_revenue(db, settings, since=MAY, until=MAY, client=client_for(stub))
    assert snapshot(db) == {(MAY, 80): (Decimal("250.00"), 1, None),
                            (JUNE, 80): (Decimal("5.00"), 1, None)}


def test_a_month_with_no_titles_is_empty_not_an_error(db, settings, stub):
    stub.titles = [title(1, 70, "100.00", "03/05/2023")]
    sync_revenue(db, settings, since=MAY, until=MAY, client=client_for(stub))
    stub.titles = []
    report = sync_revenue(db, settings, since=MAY, until=MAY,
                          client=client_for(stub))
    assert snapshot(db) == {}
    assert report.months[0].titles == 0
    assert runs(db)[-1]["status"] == "ok"


def test_a_failed_sync_changes_nothing_and_is_logged(db, settings, stub):
    stub.titles = [title(1, 70, "100.00", "03/05/2023"),
                   title(2, 80, "7.00", "03/06/2023")]
    sync_revenue(db, settings, since=MAY, until=JUNE, client=client_for(stub))
    before = snapshot(db)
    stub.titles = [title(1, 70, "999.00", "03/05/2023")]
    # May is fetched fine, June fails: nothing of May may be written either.
    stub.inject("server", method="ListarContasReceber", skip=1, times=99)
    with pytest.raises(UpstreamError, match="still failing after 1 retries"):
        sync_revenue(db, settings, since=MAY, until=JUNE,
                     client=client_for(stub, max_retries=1))
    assert snapshot(db) == before
    assert stub.calls[-3]["status"] == 200  # May, read in full
    last = runs(db)[-1]
    assert last["status"] == "failed"
    assert "SOAP-ENV:Server" in last["error"]
    assert last["finished_at"] is not None


def test_a_request_error_is_not_retried_and_fails_the_run(db, settings, stub):
    stub.inject("request")
    client = client_for(stub)
    with pytest.raises(OmieRequestError):
        sync_clients(db, settings, client=client)
    assert len(stub.calls) == 1
    assert runs(db)[-1]["status"] == "failed"


def test_redundant_then_success_through_the_sync(db, settings, stub):
    stub.titles = [title(1, 70, "100.00", "03/05/2023")]
    stub.inject("redundant", wait=60)
    client = client_for(stub)
    sync_revenue(db, settings, since=MAY, until=MAY, client=client)
    assert client.sleep == [60.0]
    assert snapshot(db) == {(MAY, 70): (Decimal("100.00"), 1, None)}


def test_a_block_stops_the_run_records_resume_and_refuses_the_next(db, settings,
                                                                     stub):
    stub.titles = [title(n, 70, "1.00", "03/05/2023") for n in range(1, 30)]
    stub.titles += [title(100, 80, "9.00", "03/06/2023")]
    sync_revenue(db, settings, since=MAY, until=JUNE, client=client_for(stub))
    before = snapshot(db)
    stub.inject("blocked", page=2, wait=1678)
    with pytest.raises(OmieBlocked):
        sync_revenue(db, settings, since=MAY, until=JUNE,
                     client=client_for(stub, page_size=10))
    calls = len(stub.calls)
    assert snapshot(db) == before
    last = runs(db)[-1]
    assert last["status"] == "blocked"
    assert now_utc() + timedelta(seconds=1600) < last["resume_after"]
    assert last["resume_after"] < now_utc() + timedelta(seconds=1700)

    clear_blocks()  # as in a new process: the database alone must refuse
    for sync in (sync_clients, sync_revenue):
        with pytest.raises(OmieBlocked, match="blocked the key until"):
            sync(db, settings, client=client_for(stub))
    assert len(stub.calls) == calls
    assert len(runs(db)) == 2


def test_block_over_lets_the_next_run_go(db, settings, stub):
    stub.inject("blocked", wait=1)
    with pytest.raises(OmieBlocked):
        sync_clients(db, settings, client=client_for(stub))
    clear_blocks()
    with db.begin(write=True) as conn:
        conn.execute(update(sync_runs).values(
            resume_after=now_utc() - timedelta(seconds=1)))
    sync_clients(db, settings, client=client_for(stub))
    assert runs(db)[-1]["status"] == "ok"


# -- runs: cooldown, busy, stale -----------------------------------------------------

def test_a_manual_run_within_the_cooldown_is_refused_with_the_time_left(db, settings,
                                                                         stub):
    sync_clients(db, settings, client=client_for(stub), manual=True)
    with pytest.raises(SyncCooldown, match=r"ran less than 300 s ago .*: "
                       r"try again in (4 min \d+|5 min 0) s"):
        sync_clients(db, settings, client=client_for(stub), manual=True)
    # The daily job is not manual; another sync has its own cooldown.
    sync_clients(db, settings, client=client_for(stub))
    sync_revenue(db, settings, client=client_for(stub), manual=True)
    assert len(runs(db)) == 3


def test_a_running_sync_makes_the_next_busy(db, settings, stub):
    _running_row(db, "omie_revenue", minutes_ago=1)
    with pytest.raises(JobBusy, match="already running"):
        sync_revenue(db, settings, client=client_for(stub))
    assert stub.calls == []


def test_a_killed_runs_row_does_not_block_forever(db, settings, stub):
    _running_row(db, "omie_revenue", minutes_ago=20)
    sync_revenue(db, settings, client=client_for(stub))
    killed, new = runs(db)
    assert (killed["status"], new["status"]) == ("failed", "ok")
    assert "abandoned: no sign of life" in killed["error"]


def _running_row(db, source, minutes_ago):
    then = now_utc() - timedelta(minutes=minutes_ago)
    with db.begin(write=True) as conn:
        conn.execute(insert(sync_runs).values(
            source=source, params={}, status="running", started_at=then,
            heartbeat_at=then, records_written=0, pid=1, hostname="gone"))


# -- months, keys, logs --------------------------------------------------------------

def test_default_months_are_this_one_and_the_two_before(db):
    now = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)  # still Feb 28 in São Paulo
    assert revenue_months(db, None, None, now) == [
        date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]


@pytest.mark.parametrize("since, until, message", [
    (date(2023, 5, 2), None, "since=.*must be the first day of a month"),
    (date(2023, 6, 1), date(2023, 5, 1), "since=.*is after until"),
    (None, date(2999, 1, 1), "until=.*is after the current month"),
])
def test_bad_months_are_named(db, since, until, message):
    with pytest.raises(InvalidValue, match=message):
        revenue_months(db, since, until)


def test_missing_keys_raise_a_config_error_naming_them(db, stub):
    bare = load_settings(database_url=db.url, omie_url=stub.url)
    bare = bare.model_copy(update={"omie_app_key": None, "omie_app_secret": None})
    with pytest.raises(ConfigError, match="NESSDATA_OMIE_APP_KEY"):
        sync_revenue(db, bare)
    assert runs(db) == []


def test_keys_are_never_logged(db, settings, stub, caplog):
    caplog.set_level(logging.DEBUG)
    stub.titles = [title(1, 70, "1.00", "03/05/2023")]
    stub.inject("redundant", wait=1)
    sync_revenue(db, settings, since=MAY, until=MAY, client=client_for(stub))
    stub.inject("request")
    with pytest.raises(OmieRequestError):
        sync_clients(db, settings, client=client_for(stub))
    assert "omie revenue 2023-05..2023-05" in caplog.text
    assert APP_KEY not in caplog.text and APP_SECRET not in caplog.text
    stored = json.dumps([dict(r) for r in runs(db)], default=str)
    assert APP_KEY not in stored and APP_SECRET not in stored


# -- daily job, CLI, demo ------------------------------------------------------------

def test_daily_job_skips_omie_without_keys_and_runs_it_with_them(db, settings, stub):
    names = [step.name for step in daily_steps()]
    assert names.index("sync_omie_clients") < names.index("sync_omie_revenue")
    assert names.index("sync_omie_revenue") < names.index("aggregate")
    if "sync_bcb" in names:
        assert names.index("sync_bcb") < names.index("sync_omie_clients")
    omie_steps = [s for s in daily_steps() if s.name.startswith("sync_omie")]
    bare = settings.model_copy(update={"omie_app_key": None, "omie_app_secret": None})
    results = run_daily(db, bare, steps=omie_steps)
    assert [r.status for r in results] == ["skipped", "skipped"]
    assert "NESSDATA_OMIE_APP_KEY" in results[0].error
    stub.clients = [omie_client(1)]
    results = run_daily(db, settings, steps=omie_steps)
    assert [r.status for r in results] == ["ok", "ok"]
    assert len(results[1].report["months"]) == 3


def test_cli_sync_and_revenue_json(cli, db, stub, monkeypatch):
    monkeypatch.setenv("NESSDATA_OMIE_URL", stub.url)
    monkeypatch.setenv("NESSDATA_OMIE_APP_KEY", APP_KEY)
    monkeypatch.setenv("NESSDATA_OMIE_APP_SECRET", APP_SECRET)
    monkeypatch.setenv("NESSDATA_OMIE_PAUSE_SECONDS", "0")
    stub.titles = [title(1, 70, "1234.10", "03/05/2023"),
                   title(2, 70, "1234.20", "04/05/2023")]
    result = cli("sync", "omie", "revenue", "--period", "2023-05", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["months"][0]["valor"] == "2468.30"
    listed = cli("revenue", "--period", "2023-05", "--json")
    assert json.loads(listed.stdout) == [
        {"period": "2023-05-01", "omie_codigo": 70, "valor": "2468.30"}]
    table = cli("revenue")
    assert "2468.30" in table.stdout and "1 clients, total 2468.30" in table.stdout
    again = cli("sync", "omie", "revenue", "--period", "2023-05")
    assert again.exit_code == 1
    assert "try again in " in again.stderr
    both = cli("sync", "omie", "revenue", "--period", "2023-05", "--since", "2023-04")
    assert both.exit_code == 2


def test_demo_syncs_omie_through_the_stub(db):
    from nessdata.omie.demo import demo_omie

    now = datetime(2026, 12, 4, 15, 0, tzinfo=timezone.utc)
    report = demo_omie(db, now)
    assert report["clients"]["inserted"] == 11
    months = report["revenue"]["months"]
    assert [m["period"] for m in months] == ["2026-10-01", "2026-11-01", "2026-12-01"]
    assert sum(m["titles"] for m in months) == 71
    rows = snapshot(db)
    assert all(client_id is not None for _, _, client_id in rows.values())
    assert sum(v for v, _, _ in rows.values()) == sum(
        Decimal(m["valor"]) for m in months)
    facts = summary(db)
    assert facts["last_erp_revenue_period"] == date(2026, 12, 1)
    assert facts["clients_with_omie"] == 11
    assert facts["last_sync"]["source"] == "omie_revenue"
    assert facts["last_sync"]["records_written"] == len(rows)
