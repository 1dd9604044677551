"""Each index against an independent Python computation on a small hand-made
history: contracts, leads, events, ERP revenue and sync runs."""

import json
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import delete, insert, select

from nessdata.events import EventWriter
from nessdata.indices import REGISTRY, compute_indices, read_indices
from nessdata.jobs import daily_steps, run_daily
from nessdata.localtime import local_today, month_start
from nessdata.rollups import aggregate_range
from nessdata.schema import (
    contracts,
    data_indices,
    erp_revenue_snapshot,
    inbound_leads,
    sync_runs,
)
from nessdata.settings import load_settings
from nessdata.summary import summary

from helpers import SP, UTC

NOW = datetime(2024, 6, 1, tzinfo=UTC)
MONTHS = [date(2023, 11, 1), date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1),
          date(2024, 3, 1), date(2024, 4, 1)]
STATIC_KEYS = [key for key, d in REGISTRY.items() if not d.family]

# id, start, end (last day in force), mrr, status
CONTRACTS = [
    ("A", date(2023, 12, 15), None, "1234.10", "active"),
    ("B", date(2024, 1, 1), None, "1234.20", "active"),
    ("C", date(2024, 2, 1), date(2024, 3, 14), "500.00", "ended"),  # ends mid-month
    ("D", date(2024, 1, 5), None, "999.99", "cancelled"),
    ("E", date(2024, 2, 29), None, "100.55", "active"),  # starts on the last day
    ("F", date(2024, 2, 10), date(2024, 3, 31), "300.33", "ended"),  # ends on the last
]
LEADS = [
    datetime(2024, 2, 1, 1, 30, tzinfo=UTC),  # 22:30 local on 31 January
    datetime(2024, 2, 1, 3, 0, tzinfo=UTC),  # local midnight: February
    *[datetime(2024, 1, 1, 12, tzinfo=UTC) + timedelta(hours=77 * n)
      for n in range(40)],
]
EVENTS = [
    ("growth", datetime(2024, 3, 1, 2, 0, tzinfo=UTC)),  # 23:00 on 29 Feb, local
    ("growth", datetime(2024, 3, 1, 3, 0, tzinfo=UTC)),
    *[("ops", datetime(2024, 1, 3, tzinfo=UTC) + timedelta(hours=50 * n))
      for n in range(30)],
]


# -- the history -------------------------------------------------------------------

def insert_contracts(db, rows=CONTRACTS):
    with db.begin(write=True) as conn:
        conn.execute(insert(contracts), [
            {"external_id": cid, "start_date": start, "end_date": end,
             "mrr": Decimal(mrr), "status": status, "created_at": NOW,
             "updated_at": NOW} for cid, start, end, mrr, status in rows])


def insert_leads(db, instants=LEADS):
    with db.begin(write=True) as conn:
        conn.execute(insert(inbound_leads), [
            {"external_id": f"L{n}", "created_at": at, "imported_at": NOW}
            for n, at in enumerate(instants)])


def insert_events(db):
    EventWriter(db).emit_many([{"module": module, "event_type": "thing.happened",
                                "occurred_at": at} for module, at in EVENTS])
    aggregate_range(db, date(2023, 11, 1), date(2024, 4, 30))


def insert_revenue(db):
    with db.begin(write=True) as conn:
        conn.execute(insert(erp_revenue_snapshot), [
            {"period": date(2024, 1, 1), "omie_codigo": code, "valor": Decimal(v),
             "titles_count": 2, "synced_at": NOW}
            for code, v in ((11, "1234.10"), (12, "1234.20"))])
        conn.execute(insert(sync_runs), [
            {"source": "omie_revenue", "status": status, "started_at": NOW,
             "records_written": 0, "params": {"since": since, "until": until}}
            for status, since, until in (
                ("ok", "2023-12-01", "2024-02-01"),  # February: synced, nothing billed
                ("failed", "2024-03-01", "2024-03-01"),  # March: never synced
                ("ok", "2024-02-01", "2024-02-01"),
            )])


@pytest.fixture
def history(db):
    insert_contracts(db)
    insert_leads(db)
    insert_events(db)
    insert_revenue(db)
    return db


def values(db, **filters) -> dict[tuple[date, str], Decimal | None]:
    return {(row["period"], row["index_key"]): row["value"]
            for row in read_indices(db, **filters)}


# -- the independent computation ---------------------------------------------------

def rounded(value: Fraction, places: int) -> Decimal:
    return Decimal(round(value * 10**places)).scaleb(-places)


def last_day(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def in_force(day: date) -> list[tuple]:
    return [c for c in CONTRACTS if c[4] != "cancelled" and c[1] <= day
            and (c[2] is None or c[2] >= day)]


def expected(month: date) -> dict[str, Decimal | None]:
    previous = month_start(month - timedelta(days=1))
    active = in_force(last_day(month))
    mrr = sum(Fraction(c[3]) for c in active)
    mrr_before = sum(Fraction(c[3]) for c in in_force(last_day(previous)))
    in_month = lambda day: day is not None and month_start(day) == month  # noqa: E731
    new = sum(in_month(c[1]) for c in CONTRACTS if c[4] != "cancelled")
    ended = sum(in_month(c[2]) for c in CONTRACTS if c[4] != "cancelled")
    at_start = len(in_force(month))
    leads = Counter(month_start(at.astimezone(SP).date()) for at in LEADS)[month]
    return {
        "leads_mes": Decimal(leads),
        "contratos_ativos": Decimal(len(active)),
        "mrr_total": rounded(mrr, 2),
        "contratos_novos": Decimal(new),
        "contratos_encerrados": Decimal(ended),
        "churn_rate": rounded(Fraction(100 * ended, at_start), 8) if at_start else None,
        "arpa": rounded(mrr / len(active), 2) if active else None,
        "mrr_variacao_pct": (rounded((mrr - mrr_before) * 100 / mrr_before, 8)
                             if mrr_before else None),
        "conversao_leads": rounded(Fraction(100 * new, leads), 8) if leads else None,
    }


# -- the tests ---------------------------------------------------------------------

def test_each_index_matches_an_independent_computation(history):
    compute_indices(history, since=MONTHS[0], until=MONTHS[-1], base_month=None)
    stored = values(history)
    for month in MONTHS:
        for key, value in expected(month).items():
            assert stored[(month, key)] == value, (month, key)


def test_the_hand_made_cases(history):
    compute_indices(history, since=MONTHS[0], until=MONTHS[-1])
    stored = values(history)
    nov, jan, feb, mar = date(2023, 11, 1), MONTHS[2], MONTHS[3], MONTHS[4]
    # No contract yet in November: zero, and ARPA missing rather than a division.
    assert (stored[(nov, "contratos_ativos")], stored[(nov, "mrr_total")],
            stored[(nov, "arpa")]) == (0, Decimal("0.00"), None)
    assert stored[(jan, "mrr_total")] == Decimal("2468.30")
    # E starts on 29 February: active at the end of February, new in February.
    assert stored[(feb, "contratos_ativos")] == 5
    assert stored[(feb, "contratos_novos")] == 3
    # C ends on 14 March: not active at the end of March, but ended in it; F ends on
    # 31 March and is still in force that day.
    assert stored[(mar, "contratos_ativos")] == 4
    assert stored[(mar, "contratos_encerrados")] == 2
    assert stored[(mar, "mrr_total")] == Decimal("2869.18")
    # The lead at 22:30 local on 31 January (01:30 UTC on 1 February) is January's.
    jan_leads = sum(month_start(at.astimezone(SP).date()) == jan for at in LEADS)
    assert stored[(jan, "leads_mes")] == jan_leads
    with history.begin() as conn:
        rows = conn.execute(select(data_indices.c.index_key, data_indices.c.metadata)
                            .where(data_indices.c.period == nov)).all()
    meta = dict(rows)
    assert meta["arpa"]["missing"] == "no contract active at the end of the month"
    assert meta["churn_rate"]["missing"] == (
        "no contract was in force on the month's first day")


def test_faturamento_is_missing_for_a_month_never_synced_and_zero_when_synced(history):
    compute_indices(history, since=MONTHS[0], until=MONTHS[-1])
    rows = {(r["period"], r["index_key"]): r for r in read_indices(
        history, key="faturamento_total")}
    by_month = {period: row["value"] for (period, _), row in rows.items()}
    assert by_month == {
        date(2023, 11, 1): None, date(2023, 12, 1): Decimal("0.00"),
        date(2024, 1, 1): Decimal("2468.30"), date(2024, 2, 1): Decimal("0.00"),
        date(2024, 3, 1): None, date(2024, 4, 1): None}
    march = rows[(date(2024, 3, 1), "faturamento_total")]["metadata"]
    assert march == {"missing": "the month was never synced from Omie"}
    january = rows[(date(2024, 1, 1), "faturamento_total")]["metadata"]
    assert (january["clients"], january["titles"]) == (2, 4)


def test_events_per_module_per_local_month(history):
    compute_indices(history, since=MONTHS[0], until=MONTHS[-1])
    stored = values(history)
    counted = Counter((f"eventos_{module}", month_start(at.astimezone(SP).date()))
                      for module, at in EVENTS)
    for month in MONTHS:
        for key in ("eventos_growth", "eventos_ops"):
            assert stored[(month, key)] == counted[(key, month)], (month, key)
    assert stored[(date(2024, 2, 1), "eventos_growth")] == 1


def test_recomputing_replaces_the_months_rows(history):
    compute_indices(history, since=MONTHS[0], until=MONTHS[-1])
    first = read_indices(history)
    report = compute_indices(history, since=MONTHS[0], until=MONTHS[-1])
    assert read_indices(history) == first
    assert report.values == len(first) == len(MONTHS) * (len(STATIC_KEYS) + 2)

    with history.begin(write=True) as conn:
        conn.execute(delete(contracts).where(contracts.c.external_id == "B"))
    compute_indices(history, since=MONTHS[2], until=MONTHS[2])
    assert values(history, key="mrr_total", since=MONTHS[2], until=MONTHS[2]) == {
        (MONTHS[2], "mrr_total"): Decimal("1234.10")}
    assert len(read_indices(history)) == len(first)


def test_missing_inputs_are_stored_as_missing_with_the_reason(db, monkeypatch):
    monkeypatch.delenv("NESSDATA_INDICES_BASE_MONTH", raising=False)
    report = compute_indices(db, since=date(2024, 1, 1), until=date(2024, 1, 1))
    rows = read_indices(db)
    assert [row["index_key"] for row in rows] == sorted(STATIC_KEYS)
    assert report.missing == len(rows) and all(r["value"] is None for r in rows)
    reasons = {row["index_key"]: row["metadata"]["missing"] for row in rows}
    assert reasons["leads_mes"] == "no leads are stored"
    assert reasons["mrr_total"] == "no contracts are stored"
    assert reasons["faturamento_total"] == "the month was never synced from Omie"
    assert reasons["mrr_real"] == (
        "no base month: set NESSDATA_INDICES_BASE_MONTH=YYYY-MM")
    assert reasons["ipca_12m"].startswith("IPCA not held for 2023-02, 2023-03")


def test_fifteen_hundred_contracts_sum_exactly(db, tmp_path):
    from nessdata.contracts import import_contracts
    import random

    rng = random.Random(5)
    lines, mrr_jan, mrr_feb = ["id,start,end,mrr"], Decimal(0), Decimal(0)
    for n in range(1500):
        mrr = Decimal(rng.randrange(1, 5_000_000)).scaleb(-2)
        end = date(2024, 2, rng.randrange(1, 30)) if n % 3 == 0 else None
        lines.append(f"K{n},2024-01-{n % 31 + 1:02d},{end or ''},{mrr}")
        mrr_jan += mrr
        mrr_feb += mrr if end is None or end == date(2024, 2, 29) else 0
    path = tmp_path / "many.csv"
    path.write_text("\n".join(lines) + "\n")
    assert import_contracts(db, path, id_column="id", start_column="start",
                            end_column="end", mrr_column="mrr").new == 1500
    compute_indices(db, since=date(2024, 1, 1), until=date(2024, 2, 1))
    stored = values(db)
    assert stored[(date(2024, 1, 1), "contratos_ativos")] == 1500
    assert stored[(date(2024, 1, 1), "mrr_total")] == mrr_jan
    assert stored[(date(2024, 2, 1), "mrr_total")] == mrr_feb
    assert stored[(date(2024, 2, 1), "contratos_encerrados")] == 500


def test_the_default_months_are_the_previous_and_the_current(db):
    today = local_today(db.tz)
    report = compute_indices(db)
    assert report.until == month_start(today)
    assert report.since == month_start(month_start(today) - timedelta(days=1))
    assert report.months == 2


def test_cli_compute_show_and_list(cli, history):
    result = cli("indices", "compute", "--period", "2024-01", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["months"] == 1
    shown = json.loads(cli("indices", "show", "--key", "mrr_total", "--json").stdout)
    assert shown == [{"period": "2024-01-01", "index_key": "mrr_total",
                      "value": "2468.30",
                      "metadata": {"on": "2024-01-31", "contracts": 2}}]
    churn = json.loads(cli("indices", "show", "--key", "churn_rate", "--since",
                           "2024-01", "--until", "2024-01", "--json").stdout)
    assert churn[0]["value"] == "0.00000000"  # a decimal string, never 0E-8
    ipca = json.loads(cli("indices", "show", "--key", "ipca_12m", "--json").stdout)
    assert ipca[0]["value"] is None
    assert ipca[0]["metadata"]["missing"].startswith("IPCA not held for")

    listed = json.loads(cli("indices", "list", "--json").stdout)
    assert [row["key"] for row in listed] == list(REGISTRY)
    assert all(row["title"] and row["unit"] and row["definition"] for row in listed)

    both = cli("indices", "compute", "--period", "2024-01", "--since", "2024-01")
    assert both.exit_code == 2
    bad = cli("indices", "compute", "--period", "2024-13")
    assert bad.exit_code == 1 and "--period='2024-13': not a month (YYYY-MM)" in (
        bad.stderr)


def test_the_daily_job_ends_with_the_indices_and_the_summary_shows_them(history):
    step = daily_steps()[-1]
    assert step.name == "compute_indices"
    settings = load_settings(database_url=history.url, timezone=history.tz.key)
    [result] = run_daily(history, settings, steps=[step])
    assert result.status == "ok" and result.report["months"] == 2
    data = summary(history)
    assert data["last_data_indices_period"] == month_start(local_today(history.tz))
    assert data["data_indices_count"] == result.report["values"]
    assert data["recent_data_indices"]


# -- IPCA: real values of SGS 433 --------------------------------------------------

IPCA_FILE = "recorded/bcb_sgs/sgs433_ipca_monthly_2020-01_to_2024-12.json"


def insert_ipca(db, shared_data) -> dict[date, Fraction]:
    from nessdata.schema import bcb_rates_snapshot

    rows = json.loads((shared_data / IPCA_FILE).read_text())
    monthly = {datetime.strptime(r["data"], "%d/%m/%Y").date(): r["valor"]
               for r in rows}
    with db.begin(write=True) as conn:
        conn.execute(insert(bcb_rates_snapshot), [
            {"rate_type": "ipca", "ref_date": ref, "value": Decimal(v),
             "source": "sgs:433", "synced_at": NOW} for ref, v in monthly.items()])
    return {ref: Fraction(v) for ref, v in monthly.items()}


def test_ipca_12m_compounds_the_real_monthly_values(db, shared_data):
    monthly = insert_ipca(db, shared_data)
    compute_indices(db, since=date(2020, 11, 1), until=date(2024, 12, 1))
    stored = values(db, key="ipca_12m")
    # By hand: the Decembers give the IPCA of each calendar year (2020: 4.52%,
    # 2021: 10.06%, 2023: 4.62%, 2024: 4.83% as published; 2022 compounds the
    # rounded monthly values to 5.78%, where IBGE's index gives 5.79%).
    assert [stored[(date(year, 12, 1), "ipca_12m")] for year in range(2020, 2025)] == [
        Decimal("4.51734150"), Decimal("10.06105489"), Decimal("5.78484196"),
        Decimal("4.62111393"), Decimal("4.83129579")]
    months = sorted(monthly)
    for n, month in enumerate(months[11:], start=11):
        factor = Fraction(1)
        for ref in months[n - 11:n + 1]:
            factor *= 1 + monthly[ref] / 100
        assert stored[(month, "ipca_12m")] == rounded((factor - 1) * 100, 8), month
    assert stored[(date(2020, 11, 1), "ipca_12m")] is None
    [november] = read_indices(db, key="ipca_12m", until=date(2020, 11, 1))
    assert november["metadata"] == {"missing": "IPCA not held for 2019-12",
                                    "months_missing": ["2019-12"]}


def test_mrr_real_is_in_money_of_the_base_month(history, shared_data):
    monthly = insert_ipca(history, shared_data)
    compute_indices(history, since=MONTHS[0], until=MONTHS[-1],
                    base_month=date(2024, 1, 1))
    stored = values(history)

    def mrr(month):
        return sum(Fraction(c[3]) for c in in_force(last_day(month)))

    jan, mar = date(2024, 1, 1), date(2024, 3, 1)
    feb_mar = (1 + monthly[date(2024, 2, 1)] / 100) * (1 + monthly[mar] / 100)
    assert stored[(jan, "mrr_real")] == stored[(jan, "mrr_total")]
    assert stored[(mar, "mrr_real")] == rounded(mrr(mar) / feb_mar, 2)
    december = date(2023, 12, 1)
    assert stored[(december, "mrr_real")] == rounded(
        mrr(december) * (1 + monthly[jan] / 100), 2)
    # 1234.10 in December 2023 is 1234.10 × 1.0042 in January 2024 money.
    assert stored[(december, "mrr_real")] == Decimal("1239.28")


def test_mrr_real_is_missing_without_the_ipca_between(history):
    compute_indices(history, since=MONTHS[4], until=MONTHS[4],
                    base_month=date(2024, 1, 1))
    [march] = read_indices(history, key="mrr_real")
    assert march["value"] is None
    assert march["metadata"]["missing"] == "IPCA not held for 2024-02, 2024-03"
    assert march["metadata"]["base_month"] == "2024-01"


def test_the_summary_shows_indices_with_their_own_places(db):
    from datetime import datetime, timezone

    from sqlalchemy import insert

    from nessdata.schema import data_indices
    from nessdata.summary import summary

    now = datetime.now(timezone.utc)
    with db.begin(write=True) as conn:
        conn.execute(insert(data_indices), [
            {"period": date(2025, 1, 1), "index_key": key, "value": Decimal(value),
             "metadata": {}, "updated_at": now}
            for key, value in (("contratos_ativos", "13"), ("mrr_total", "1234.5"),
                               ("eventos_fin", "7"))])
    shown = {row["index_key"]: str(row["value"])
             for row in summary(db)["recent_data_indices"]}
    assert shown == {"contratos_ativos": "13", "mrr_total": "1234.50",
                     "eventos_fin": "7"}


@pytest.mark.parametrize("since, until, field, words", [
    (date(2999, 1, 1), date(2999, 2, 1), "until", "after the current month"),
    (date(1, 1, 1), date(1, 1, 1), "since", "before 1900"),
])
def test_months_without_figures_are_refused(db, since, until, field, words):
    from nessdata.errors import InvalidValue
    from nessdata.indices import compute_indices

    with pytest.raises(InvalidValue) as caught:
        compute_indices(db, since=since, until=until)
    assert caught.value.field == field and words in caught.value.reason
