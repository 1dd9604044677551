"""sync_rates on both databases, through the local BCB stub: exact storage,
idempotence, all-or-nothing failures logged in sync_runs, long back-fills."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from bcb_factories import daily_rows, monthly_rows, ptax_row, stub_settings
from sqlalchemy import insert, select

from nessdata.bcb import rate_on, sync_rates
from nessdata.bcb.stub import BcbStub
from nessdata.errors import InvalidValue, JobBusy, UpstreamError
from nessdata.schema import bcb_rates_snapshot, sync_runs
from nessdata.settings import load_settings

PTAX = [
    ptax_row(date(2025, 3, 5), "5.7994", "5.8000"),
    ptax_row(date(2025, 3, 6), "5.7662", "5.7668"),
    ptax_row(date(2025, 3, 7), "5.4266", "5.4272"),
]
SINCE, UNTIL = date(2025, 1, 1), date(2025, 3, 31)


@pytest.fixture
def stub():
    sgs = {
        433: monthly_rows([(2025, 1, "0.16"), (2025, 2, "1.31"), (2025, 3, "0.56")]),
        189: monthly_rows([(2025, 1, "0.27"), (2025, 2, "1.06"), (2025, 3, "-0.34")]),
        432: daily_rows(date(2024, 12, 1), date(2025, 3, 31), lambda d: "13.25",
                        weekends=True),
        12: daily_rows(date(2024, 12, 1), date(2025, 3, 31), lambda d: "0.049037"),
    }
    with BcbStub(sgs=sgs, ptax=PTAX) as running:
        yield running


@pytest.fixture
def settings(stub, db):
    return stub_settings(stub, load_settings(database_url=db.url))


def _table(db) -> list[tuple]:
    c = bcb_rates_snapshot.c
    with db.begin() as conn:
        return [tuple(row) for row in conn.execute(
            select(c.rate_type, c.ref_date, c.value, c.value_buy, c.value_sell,
                   c.source, c.synced_at).order_by(c.rate_type, c.ref_date))]


def _runs(db) -> list[dict]:
    with db.begin() as conn:
        return [dict(r) for r in conn.execute(
            select(sync_runs).order_by(sync_runs.c.id)).mappings()]


def _expected_rows(stub) -> int:
    monthly = 3 + 3
    daily = sum(1 for row in stub.sgs[432] + stub.sgs[12]
                if SINCE <= datetime.strptime(row["data"], "%d/%m/%Y").date() <= UNTIL)
    return monthly + daily + len(PTAX)


def test_sync_stores_every_rate_exactly(db, settings, stub):
    report = sync_rates(db, settings, since=SINCE, until=UNTIL)
    expected = _expected_rows(stub)
    assert (report.fetched, report.inserted, report.updated) == (expected, expected, 0)
    rows = {(r[0], r[1]): r for r in _table(db)}
    assert len(rows) == expected
    ptax = rows[("dollar_ptax", date(2025, 3, 7))]
    assert (ptax[2], ptax[3], ptax[4]) == (Decimal("5.4272"), Decimal("5.4266"),
                                           Decimal("5.4272"))
    assert isinstance(ptax[2], Decimal)
    assert rows[("igpm", date(2025, 3, 1))][2] == Decimal("-0.34")
    assert rows[("cdi", date(2025, 3, 3))][2] == Decimal("0.049037")
    assert rows[("ipca", date(2025, 2, 1))][5] == "SGS 433"
    assert str(rate_on(db, "dollar_ptax", date(2025, 3, 7)).value) == "5.4272"
    [run] = _runs(db)
    assert (run["source"], run["status"], run["records_written"]) == (
        "bcb", "ok", expected)
    assert run["params"] == {"since": "2025-01-01", "until": "2025-03-31",
                             "rates": ["dollar_ptax", "ipca", "igpm", "selic", "cdi"]}
    assert report.last_dates["ipca"] == date(2025, 3, 1)


def test_resync_is_idempotent(db, settings):
    sync_rates(db, settings, since=SINCE, until=UNTIL)
    before = _table(db)
    again = sync_rates(db, settings, since=SINCE, until=UNTIL)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(before))
    assert _table(db) == before
    assert [r["records_written"] for r in _runs(db)] == [len(before), 0]


def test_a_revised_value_is_updated(db, settings, stub):
    sync_rates(db, settings, since=SINCE, until=UNTIL, rates=["ipca"])
    stub.sgs[433][2] = {"data": "01/03/2025", "valor": "0.57"}
    report = sync_rates(db, settings, since=SINCE, until=UNTIL, rates=["ipca"])
    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 2)
    assert rate_on(db, "ipca", date(2025, 3, 20)).value == Decimal("0.57")


def test_failed_sync_leaves_the_table_unchanged_and_logs_the_run(db, settings, stub):
    sync_rates(db, settings, since=SINCE, until=UNTIL)
    stub.sgs[433][2] = {"data": "01/03/2025", "valor": "9.99"}
    before = _table(db)
    # IPCA (fetched before SELIC) would change; SELIC then fails for good.
    stub.fail("status", status=503, times=99, target=432)
    with pytest.raises(UpstreamError, match="series 432.*HTTP 503"):
        sync_rates(db, settings, since=SINCE, until=UNTIL)
    assert _table(db) == before
    last = _runs(db)[-1]
    assert last["status"] == "failed"
    assert last["records_written"] == 0
    assert "UpstreamError" in last["error"] and "HTTP 503" in last["error"]
    assert last["finished_at"] is not None


def test_406_fails_the_run_with_bcb_message(db, settings, stub):
    stub.fail("406", target=12)
    with pytest.raises(UpstreamError, match="10 anos"):
        sync_rates(db, settings, since=SINCE, until=UNTIL)
    assert _table(db) == []
    assert len([r for r in stub.requests if r.code == 12]) == 1
    assert "10 anos" in _runs(db)[-1]["error"]


def test_transient_failures_are_survived(db, settings, stub):
    stub.fail("xhtml", target="ptax")
    stub.fail("status", status=504, target=433)
    stub.fail("stale_row", target=189)
    report = sync_rates(db, settings, since=SINCE, until=UNTIL)
    assert report.inserted == _expected_rows(stub)
    assert _runs(db)[-1]["status"] == "ok"


def test_twenty_year_daily_backfill_is_asked_in_five_year_windows(db, settings):
    first, last = date(2006, 1, 2), date(2025, 12, 31)
    rows = daily_rows(first, last, lambda d: f"{d.year - 1990}.{d.month:02d}",
                      weekends=True)
    with BcbStub(sgs={432: rows}) as stub:
        report = sync_rates(db, stub_settings(stub, load_settings()), since=first,
                            until=last, rates=["selic"])
        asked = [(r.first, r.last) for r in stub.requests]
    assert report.inserted == len(rows) == (last - first).days + 1
    assert len(asked) == 4
    assert asked[0][0] == first and asked[-1][1] == last
    for (_, b), (c, _) in zip(asked, asked[1:], strict=False):
        assert c == b + timedelta(days=1)
    assert all(b < a.replace(year=a.year + 5) for a, b in asked)
    assert rate_on(db, "selic", date(2013, 7, 14)).value == Decimal("23.07")


def test_default_window_is_trailing_months_to_local_today(db, settings, stub):
    today = datetime.now(timezone.utc).astimezone(ZoneInfo("America/Sao_Paulo")).date()
    month = today.year * 12 + today.month - 1 - 3
    expected_since = date(month // 12, month % 12 + 1, 1)
    report = sync_rates(db, settings, rates=["ipca"])
    assert (report.since, report.until) == (expected_since, today)
    assert (stub.requests[0].first, stub.requests[0].last) == (expected_since, today)


def test_monthly_rates_take_the_month_of_since(db, settings, stub):
    sync_rates(db, settings, since=date(2025, 2, 15), until=UNTIL, rates=["igpm"])
    assert stub.requests[0].first == date(2025, 2, 1)
    assert [r[1] for r in _table(db)] == [date(2025, 2, 1), date(2025, 3, 1)]


def test_bad_input_names_the_field(db, settings, stub):
    with pytest.raises(InvalidValue, match="rate='euro': unknown rate type; known: "
                       "dollar_ptax, ipca"):
        sync_rates(db, settings, rates=["euro"])
    with pytest.raises(InvalidValue, match="since='2025-04-01': is after "
                       "until=2025-03-31"):
        sync_rates(db, settings, since=date(2025, 4, 1), until=UNTIL)
    assert stub.requests == [] and _runs(db) == []


def _running_row(db, heartbeat: datetime) -> None:
    with db.begin(write=True) as conn:
        conn.execute(insert(sync_runs).values(
            source="bcb", params={}, status="running", started_at=heartbeat,
            heartbeat_at=heartbeat, records_written=0, pid=1, hostname="elsewhere"))


def test_a_running_sync_makes_another_busy(db, settings, stub):
    _running_row(db, datetime.now(timezone.utc))
    with pytest.raises(JobBusy, match="a bcb sync is already running"):
        sync_rates(db, settings, since=SINCE, until=UNTIL)
    assert stub.requests == []


def test_a_run_left_by_a_killed_process_is_marked_failed(db, settings):
    _running_row(db, datetime.now(timezone.utc) - timedelta(hours=2))
    sync_rates(db, settings, since=SINCE, until=UNTIL, rates=["ipca"])
    abandoned, new = _runs(db)
    assert abandoned["status"] == "failed"
    assert "abandoned" in abandoned["error"]
    assert new["status"] == "ok"


def test_cli_sync_bcb(cli, stub, monkeypatch):
    monkeypatch.setenv("NESSDATA_BCB_SGS_URL", stub.sgs_url)
    monkeypatch.setenv("NESSDATA_BCB_PTAX_URL", stub.ptax_url)
    monkeypatch.setenv("NESSDATA_BCB_PAUSE", "0")
    result = cli("sync", "bcb", "--since", "2025-01-01", "--until", "2025-03-31",
                 "--rate", "ipca", "--rate", "dollar_ptax", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rates"] == ["ipca", "dollar_ptax"]
    assert (report["inserted"], report["last_dates"]["dollar_ptax"]) == (
        6, "2025-03-07")
    stub.fail("406", target=433)
    failed = cli("sync", "bcb", "--since", "2025-01-01", "--until", "2025-03-31")
    assert failed.exit_code == 1
    assert "refused (HTTP 406): O sistema aceita" in failed.stderr


def test_daily_job_syncs_bcb_before_the_rollup(db, settings, stub):
    from nessdata.jobs import daily_steps, run_daily

    names = [step.name for step in daily_steps()]
    assert names.index("sync_bcb") < names.index("aggregate")
    bcb = [step for step in daily_steps() if step.name == "sync_bcb"]
    [result] = run_daily(db, settings, steps=bcb)
    assert result.status == "ok"
    assert result.report["rates"] == ["dollar_ptax", "ipca", "igpm", "selic", "cdi"]


def test_demo_syncs_recorded_rates_without_network(db, monkeypatch):
    from nessdata.demo import run_demo

    # A loopback port nothing listens on: the demo must not use these settings.
    monkeypatch.setenv("NESSDATA_BCB_SGS_URL", "http://127.0.0.1:9/none")
    monkeypatch.setenv("NESSDATA_BCB_PTAX_URL", "http://127.0.0.1:9/none")
    report = run_demo(db, months=1)
    assert report.bcb_rates > 1000
    assert rate_on(db, "ipca", date(2024, 3, 9)).value == Decimal("0.16")
    ptax = rate_on(db, "dollar_ptax", date(2021, 1, 4))
    assert (ptax.value_buy, ptax.value_sell) == (Decimal("5.162"), Decimal("5.1626"))
    assert all(r["status"] == "ok" for r in _runs(db))
