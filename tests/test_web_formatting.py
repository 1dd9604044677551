from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from nessdata.web import formatting as fmt

SP = ZoneInfo("America/Sao_Paulo")


@pytest.mark.parametrize("value, shown", [
    (Decimal("1234.56"), "R$ 1.234,56"),
    (Decimal("0.5"), "R$ 0,50"),
    (Decimal("1234567.891"), "R$ 1.234.567,89"),
    (Decimal("2468.30"), "R$ 2.468,30"),
    (Decimal("-1234.5"), "-R$ 1.234,50"),
    (Decimal("0.005"), "R$ 0,01"),  # half up, as on an invoice
    (1000, "R$ 1.000,00"),
    (None, "—"),
])
def test_money_is_shown_as_reais(value, shown):
    assert fmt.brl(value) == shown


def test_numbers_use_dots_for_thousands_and_a_comma_for_decimals():
    assert fmt.number(1234567) == "1.234.567"
    assert fmt.number(Decimal("1234.5678"), 2) == "1.234,57"
    assert fmt.number(Decimal("5.4272"), None) == "5,4272"
    assert fmt.number(999) == "999"
    assert fmt.number(-1500) == "-1.500"
    assert fmt.brl_rate(Decimal("5.42720000")) == "R$ 5,4272"
    assert fmt.percent(Decimal("0.56")) == "0,56%"
    assert fmt.percent(Decimal("-0.31")) == "-0,31%"


def test_dates_are_day_first():
    assert fmt.br_date(date(2025, 3, 4)) == "04/03/2025"
    assert fmt.br_month(date(2025, 3, 1)) == "03/2025"
    assert fmt.br_date(None) == "—"


def test_instants_are_shown_in_the_business_time_zone():
    # 02:30 UTC on 5 March is still 4 March in São Paulo (UTC-3).
    instant = datetime(2025, 3, 5, 2, 30, tzinfo=UTC)
    assert fmt.br_datetime(instant, SP) == "04/03/2025 23:30"


def test_index_values_follow_their_unit():
    assert fmt.by_unit(Decimal("6146.83000000"), "BRL") == "R$ 6.146,83"
    assert fmt.by_unit(Decimal("11.11111111"), "%") == "11,11%"
    assert fmt.by_unit(Decimal("175.00000000"), "count") == "175"
    assert fmt.by_unit(None, "count") == "—"
