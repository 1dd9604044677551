"""The BCB client against the local stub (and httpx.MockTransport where a failure
cannot be served over a socket): dates, parsing, retries and refusals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest
from bcb_factories import client_for, daily_rows, monthly_rows, ptax_row, sgs_row

from nessdata.bcb.client import (
    BcbClient,
    parse_ptax,
    parse_sgs,
    ptax_timestamp,
    ptax_url,
    windows,
)
from nessdata.bcb.stub import BcbStub
from nessdata.errors import InvalidValue, UpstreamError

# Carnival 2025: Monday 3 and Tuesday 4 March had no PTAX; Ash Wednesday had one.
PTAX_MARCH_2025 = [
    ptax_row(date(2025, 2, 28), "5.8536", "5.8542"),
    ptax_row(date(2025, 3, 5), "5.7994", "5.8000", "15:41:02.1"),
    ptax_row(date(2025, 3, 6), "5.7662", "5.7668"),
    ptax_row(date(2025, 3, 7), "5.7615", "5.7621"),
    ptax_row(date(2025, 3, 12), "5.8010", "5.8016"),
    ptax_row(date(2025, 3, 13), "5.8120", "5.8126"),
    ptax_row(date(2025, 3, 14), "5.4266", "5.4272"),
    ptax_row(date(2025, 4, 3), "5.6297", "5.6303"),
]


@pytest.fixture
def stub():
    sgs = {
        12: daily_rows(date(2024, 1, 1), date(2025, 3, 31),
                       lambda day: f"0.0{day.day:02d}{day.month:02d}"),
        433: monthly_rows([(2024, 12, "0.52"), (2025, 1, "0.16"), (2025, 2, "1.31")]),
    }
    with BcbStub(sgs=sgs, ptax=PTAX_MARCH_2025) as running:
        yield running


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(stub, sleeps):
    with client_for(stub, sleeps) as bcb:
        yield bcb


# -- dates ---------------------------------------------------------------------

def test_ptax_url_is_month_first():
    url = ptax_url("http://stub/odata", date(2025, 3, 4), date(2025, 3, 25))
    assert "@dataInicial='03-04-2025'" in url
    assert "@dataFinalCotacao='03-25-2025'" in url
    assert url.endswith("$format=json")


def test_ptax_day_up_to_12_is_not_read_as_a_month(client, stub):
    # Day-first would ask 3 April (a quote is held there too) instead of 12 March.
    found = client.ptax(date(2025, 3, 12), date(2025, 3, 12))
    assert [(o.ref_date, o.value_sell) for o in found] == [
        (date(2025, 3, 12), Decimal("5.8016"))]
    assert stub.requests[-1].first == date(2025, 3, 12)


def test_ptax_day_over_12(client, stub):
    found = client.ptax(date(2025, 3, 13), date(2025, 3, 14))
    assert [o.ref_date for o in found] == [date(2025, 3, 13), date(2025, 3, 14)]
    assert (stub.requests[-1].first, stub.requests[-1].last) == (
        date(2025, 3, 13), date(2025, 3, 14))


def test_ptax_holiday_window_is_empty(client, stub):
    assert client.ptax(date(2025, 3, 3), date(2025, 3, 4)) == []
    assert len(stub.requests) == 1


def test_ptax_values_are_exact_decimals(client):
    [quote] = client.ptax(date(2025, 3, 14), date(2025, 3, 14))
    assert quote.value == quote.value_sell == Decimal("5.4272")
    assert quote.value_buy == Decimal("5.4266")
    assert isinstance(quote.value, Decimal)


def test_sgs_dates_are_day_first(client):
    found = client.sgs(12, date(2025, 3, 4), date(2025, 3, 4))
    assert [(o.ref_date, o.value) for o in found] == [
        (date(2025, 3, 4), Decimal("0.00403"))]


# -- parsing -------------------------------------------------------------------

def test_ptax_keeps_the_latest_row_of_a_date():
    body = (b'{"value":[{"cotacaoCompra":5.10000,"cotacaoVenda":5.10060,'
            b'"dataHoraCotacao":"2025-03-06 13:10:12.45"},'
            b'{"cotacaoCompra":5.00000,"cotacaoVenda":5.00060,'
            b'"dataHoraCotacao":"2025-03-06 13:04:00.1"},'
            b'{"cotacaoCompra":5.20000,"cotacaoVenda":5.20060,'
            b'"dataHoraCotacao":"2025-03-05 10:00:00"}]}')
    found = parse_ptax(body)
    assert [(o.ref_date, o.value_buy) for o in found] == [
        (date(2025, 3, 5), Decimal("5.20000")), (date(2025, 3, 6), Decimal("5.10000"))]


@pytest.mark.parametrize("text, micro", [
    ("2000-01-03 19:43:00.0", 0),
    ("2019-01-08 13:09:06.45", 450000),
    ("2019-12-31 11:22:18.041", 41000),
    ("2026-08-21 13:07:28.20125", 201250),
    ("2026-08-24 13:04:14.216099", 216099),
    ("2025-03-06 13:04:00", 0),
])
def test_ptax_timestamps_with_any_fraction(text, micro):
    stamp = ptax_timestamp(text)
    assert stamp.microsecond == micro
    assert stamp.date().isoformat() == text[:10]


def test_sgs_body_with_byte_order_mark():
    body = b'\xef\xbb\xbf[{"data":"25/05/2016","valor":"0.052461"}]'
    assert parse_sgs(body) == [
        parse_sgs(b'[{"data":"25/05/2016","valor":"0.052461"}]')[0]]
    assert parse_sgs(body)[0].value == Decimal("0.052461")


def test_sgs_bad_date_is_a_clear_error():
    with pytest.raises(UpstreamError, match=r"data='2025-03-04' is not DD/MM/YYYY"):
        parse_sgs(b'[{"data":"2025-03-04","valor":"0.1"}]', "BCB SGS series 12")


# -- failures that a retry fixes -----------------------------------------------

def test_xhtml_page_then_success(client, stub, sleeps):
    stub.fail("xhtml", target=12)
    found = client.sgs(12, date(2025, 3, 3), date(2025, 3, 7))
    assert len(found) == 5
    assert [r.status for r in stub.requests] == [200, 200]
    assert len(sleeps) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
def test_server_errors_then_success(client, stub, status):
    stub.fail("status", status=status, times=2, target="ptax")
    found = client.ptax(date(2025, 3, 5), date(2025, 3, 7))
    assert [o.ref_date.day for o in found] == [5, 6, 7]
    assert [r.status for r in stub.requests] == [status, status, 200]


def test_dropped_connection_then_success(client, stub):
    stub.fail("reset", target=433)
    found = client.sgs(433, date(2025, 1, 1), date(2025, 2, 28))
    assert [o.value for o in found] == [Decimal("0.16"), Decimal("1.31")]
    assert len(stub.requests) == 2


def test_truncated_json_then_success(client, stub):
    stub.fail("garbage", target=12)
    assert len(client.sgs(12, date(2025, 3, 3), date(2025, 3, 7))) == 5


def test_persistent_failure_gives_up_with_the_cause(client, stub):
    stub.fail("status", status=503, times=10)
    with pytest.raises(UpstreamError, match=r"HTTP 503 \(gave up after 3 tries\)"
                       ) as caught:
        client.sgs(12, date(2025, 3, 3), date(2025, 3, 7))
    assert caught.value.status == 503
    assert len(stub.requests) == 3


def test_persistent_throttling_names_the_page(client, stub):
    stub.fail("xhtml", times=10)
    with pytest.raises(UpstreamError, match="XHTML page.*Requisição inválida!"):
        client.ptax(date(2025, 3, 5), date(2025, 3, 7))


def test_backoff_grows_with_jitter(stub):
    sleeps: list[float] = []
    stub.fail("status", status=503, times=10)
    with client_for(stub, sleeps, attempts=4, retry_wait=1.0) as bcb:
        with pytest.raises(UpstreamError):
            bcb.sgs(12, date(2025, 3, 3), date(2025, 3, 7))
    # initial 1 s doubling, plus up to 1 s of jitter each time
    assert [int(s) for s in sleeps] == [1, 2, 4]


def test_pause_between_requests(stub):
    sleeps: list[float] = []
    with client_for(stub, sleeps, pause=30.0) as bcb:
        bcb.sgs(12, date(2025, 3, 3), date(2025, 3, 7))
        assert sleeps == []
        bcb.sgs(12, date(2025, 3, 10), date(2025, 3, 14))
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 30.0


def _mock_client(handler, sleeps=None) -> BcbClient:
    transport = httpx.MockTransport(handler)
    return BcbClient("http://bcb.test/sgs", "http://bcb.test/ptax", attempts=3,
                     retry_wait=0.0, pause=0.0, http=httpx.Client(transport=transport),
                     sleep=(sleeps or []).append)


def test_timeout_then_success():
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ReadTimeout("read timed out", request=request)
        return httpx.Response(200, json=[sgs_row(date(2025, 3, 4), "0.041")])

    found = _mock_client(handler).sgs(12, date(2025, 3, 4), date(2025, 3, 4))
    assert [o.value for o in found] == [Decimal("0.041")]
    assert len(calls) == 2
    assert calls[0].url.params["dataInicial"] == "04/03/2025"


def test_persistent_timeout_is_an_upstream_error():
    def handler(request):
        raise httpx.ConnectTimeout("connect timed out", request=request)

    with pytest.raises(UpstreamError, match="timed out.*gave up after 3 tries"):
        _mock_client(handler).ptax(date(2025, 3, 4), date(2025, 3, 4))


# -- failures that a retry cannot fix ------------------------------------------

def test_406_surfaces_bcb_message_and_is_not_retried(client, stub):
    stub.fail("406")
    with pytest.raises(UpstreamError) as caught:
        client.sgs(12, date(2025, 3, 3), date(2025, 3, 7))
    assert caught.value.status == 406
    assert "refused (HTTP 406): O sistema aceita uma janela de consulta de, no " \
           "máximo, 10 anos" in str(caught.value)
    assert len(stub.requests) == 1


def test_daily_window_over_ten_years_is_refused_by_bcb(client, stub):
    with pytest.raises(UpstreamError, match="HTTP 406"):
        client.sgs(12, date(2010, 1, 1), date(2025, 3, 31))


def test_fetch_range_splits_into_windows_bcb_accepts(client, stub):
    from nessdata.bcb.rates import RATES

    found = client.fetch_range(RATES["cdi"], date(2010, 1, 1), date(2025, 3, 31))
    assert len(found) == len(stub.sgs[12])
    assert [r.status for r in stub.requests] == [200, 200, 200, 200]


def test_400_surfaces_bcb_message(client, stub):
    stub.fail("400")
    with pytest.raises(UpstreamError, match="HTTP 400.*máxima de valores deve ser 20"):
        client.sgs(433, date(2025, 1, 1), date(2025, 2, 28))
    assert len(stub.requests) == 1


def test_latest_n_over_20_is_refused_before_asking(client, stub):
    with pytest.raises(InvalidValue, match="count=21: SGS /ultimos/N allows N from "
                       "1 to 20"):
        client.sgs_latest(12, 21)
    assert stub.requests == []
    assert [o.ref_date for o in client.sgs_latest(433, 2)] == [
        date(2025, 1, 1), date(2025, 2, 1)]


@pytest.mark.parametrize("kind", ["empty", "404"])
def test_window_without_data(client, stub, kind):
    stub.fail(kind, target=12)
    assert client.sgs(12, date(2025, 3, 3), date(2025, 3, 7)) == []
    assert len(stub.requests) == 1


def test_unknown_path_is_an_error_naming_the_setting(stub):
    with client_for(stub) as bcb:
        bcb.sgs_url = stub.url + "/wrong"
        with pytest.raises(UpstreamError, match="HTTP 404.*NESSDATA_BCB_\\*_URL"):
            bcb.sgs(12, date(2025, 3, 3), date(2025, 3, 7))


def test_older_row_outside_the_window_is_dropped(client, stub):
    # Seen in the wild: a window without data answered with the last older point.
    stub.fail("stale_row", target=433)
    assert client.sgs(433, date(2025, 3, 1), date(2025, 5, 31)) == []
    stub.fail("stale_row", target="ptax")
    found = client.ptax(date(2025, 3, 3), date(2025, 3, 5))
    assert [o.ref_date for o in found] == [date(2025, 3, 5)]


# -- windows -------------------------------------------------------------------

def test_windows_cover_the_range_in_at_most_five_years():
    parts = list(windows(date(2006, 1, 1), date(2025, 12, 31)))
    assert parts == [(date(2006, 1, 1), date(2010, 12, 31)),
                     (date(2011, 1, 1), date(2015, 12, 31)),
                     (date(2016, 1, 1), date(2020, 12, 31)),
                     (date(2021, 1, 1), date(2025, 12, 31))]


def test_windows_from_29_february():
    parts = list(windows(date(2012, 2, 29), date(2018, 1, 1)))
    assert parts[0] == (date(2012, 2, 29), date(2017, 2, 27))
    assert parts[1] == (date(2017, 2, 28), date(2018, 1, 1))
    assert list(windows(date(2020, 5, 1), date(2020, 5, 1))) == [
        (date(2020, 5, 1), date(2020, 5, 1))]
