"""Reading rates back, on both databases: the value in force on a date, weekend
and holiday fallback that says its date, never a stale or wrong-date value."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import insert

from nessdata.bcb import rate_on, rates_between
from nessdata.errors import NotFound
from nessdata.schema import bcb_rates_snapshot

# Carnival 2025: no PTAX on Monday 3 and Tuesday 4 March.
PTAX = {
    date(2025, 1, 2): ("6.1940", "6.1946"),
    date(2025, 2, 27): ("5.8328", "5.8334"),
    date(2025, 2, 28): ("5.8536", "5.8542"),
    date(2025, 3, 5): ("5.7994", "5.8000"),
    date(2025, 3, 6): ("5.7662", "5.7668"),
    date(2025, 3, 7): ("5.4266", "5.4272"),
}
IPCA = {date(2025, 1, 1): "0.16", date(2025, 2, 1): "1.31", date(2025, 4, 1): "0.43"}


@pytest.fixture
def held(db):
    now = datetime.now(timezone.utc)
    rows = [dict(rate_type="dollar_ptax", ref_date=day, value=Decimal(sell),
                 value_buy=Decimal(buy), value_sell=Decimal(sell), source="PTAX",
                 synced_at=now) for day, (buy, sell) in PTAX.items()]
    rows += [dict(rate_type="ipca", ref_date=day, value=Decimal(value),
                  value_buy=None, value_sell=None, source="SGS 433", synced_at=now)
             for day, value in IPCA.items()]
    with db.begin(write=True) as conn:
        conn.execute(insert(bcb_rates_snapshot), rows)
    return db


def test_a_quoted_day_gives_its_own_value(held):
    found = rate_on(held, "dollar_ptax", date(2025, 3, 7))
    assert (found.ref_date, found.carried) == (date(2025, 3, 7), False)
    assert found.as_dict() == {
        "rate_type": "dollar_ptax", "date": date(2025, 3, 7),
        "ref_date": date(2025, 3, 7), "value": Decimal("5.4272"),
        "value_buy": Decimal("5.4266"), "value_sell": Decimal("5.4272")}
    assert str(found.value) == "5.4272"


@pytest.mark.parametrize("asked, closing", [
    (date(2025, 3, 1), date(2025, 2, 28)),   # Saturday
    (date(2025, 3, 2), date(2025, 2, 28)),   # Sunday
    (date(2025, 3, 3), date(2025, 2, 28)),   # Carnival Monday
    (date(2025, 3, 4), date(2025, 2, 28)),   # Carnival Tuesday
    (date(2025, 3, 8), date(2025, 3, 7)),    # Saturday after the newest quote
    (date(2025, 3, 9), date(2025, 3, 7)),    # Sunday after the newest quote
])
def test_a_day_without_quote_gives_the_last_closing_before(held, asked, closing):
    found = rate_on(held, "dollar_ptax", asked)
    assert (found.date, found.ref_date, found.carried) == (asked, closing, True)
    assert found.value_sell == Decimal(PTAX[closing][1])


def test_a_business_day_after_the_newest_quote_is_not_known_yet(held):
    with pytest.raises(NotFound, match=r"no dollar_ptax value for 2025-03-10 yet: "
                       r"the latest date held is 2025-03-07"):
        rate_on(held, "dollar_ptax", date(2025, 3, 10))


def test_a_gap_in_the_history_is_not_bridged(held):
    with pytest.raises(NotFound, match="2025-02-10: a gap in the synced history"):
        rate_on(held, "dollar_ptax", date(2025, 2, 10))


def test_before_the_first_value(held):
    with pytest.raises(NotFound, match="the earliest date held is 2025-01-02"):
        rate_on(held, "dollar_ptax", date(2024, 12, 31))


def test_nothing_held(db):
    with pytest.raises(NotFound, match="no cdi rates are held: run `nessdata sync "
                       "bcb --rate cdi`"):
        rate_on(db, "cdi", date(2025, 3, 7))


def test_a_monthly_rate_is_picked_by_month(held):
    found = rate_on(held, "ipca", date(2025, 2, 17))
    assert (found.date, found.ref_date, found.value) == (
        date(2025, 2, 17), date(2025, 2, 1), Decimal("1.31"))
    assert not found.carried


def test_a_missing_month_is_never_taken_from_another(held):
    with pytest.raises(NotFound, match="no ipca value for 2025-03: a gap"):
        rate_on(held, "ipca", date(2025, 3, 31))
    with pytest.raises(NotFound, match="no ipca value for 2025-05 yet: the latest "
                       "month held is 2025-04"):
        rate_on(held, "ipca", date(2025, 5, 12))


def test_rates_between(held):
    found = rates_between(held, "dollar_ptax", date(2025, 2, 28), date(2025, 3, 6))
    assert [(v.date, v.value) for v in found] == [
        (date(2025, 2, 28), Decimal("5.8542")), (date(2025, 3, 5), Decimal("5.8")),
        (date(2025, 3, 6), Decimal("5.7668"))]
    months = rates_between(held, "ipca", date(2025, 2, 15))
    assert [v.ref_date for v in months] == [date(2025, 2, 1), date(2025, 4, 1)]


def test_cli_rates_get_json(held, cli):
    result = cli("rates", "get", "dollar_ptax", "2025-03-04", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "rate_type": "dollar_ptax", "date": "2025-03-04", "ref_date": "2025-02-28",
        "value": "5.8542", "value_buy": "5.8536", "value_sell": "5.8542"}


def test_cli_rates_get_says_where_a_value_comes_from(held, cli):
    result = cli("rates", "get", "dollar_ptax", "2025-03-01")
    assert result.exit_code == 0
    assert "no quote on 2025-03-01: this is the closing of 2025-02-28" in result.stdout


def test_cli_rates_get_without_value_exits_1(held, cli):
    result = cli("rates", "get", "ipca", "2025-06-01", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "the latest month held is 2025-04" in result.stderr


def test_cli_rates_list_json(held, cli):
    result = cli("rates", "list", "ipca", "--since", "2025-01-01", "--until",
                 "2025-12-31", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == [
        {"rate_type": "ipca", "date": d.isoformat(), "ref_date": d.isoformat(),
         "value": v, "value_buy": None, "value_sell": None}
        for d, v in IPCA.items()]


def test_cli_rejects_an_unknown_rate_type(cli):
    result = cli("rates", "get", "euro", "2025-03-01")
    assert result.exit_code == 2
    assert "'euro' is not one of 'dollar_ptax'" in result.stderr
