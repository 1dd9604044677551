"""The Omie client against the local stub (and httpx.MockTransport for timeouts):
every fault class, paging, de-duplication, Decimal money, keys kept out of logs."""

import json
import logging
import threading
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from nessdata.db import now_utc
from nessdata.errors import UpstreamError
from nessdata.omie.client import (
    OmieBlocked,
    OmieClient,
    OmieRequestError,
    parse_date,
)
from nessdata.omie.stub import OmieStub

from omie_support import (  # noqa: F401  (_no_blocks is an autouse fixture)
    APP_KEY,
    APP_SECRET,
    Sleeps,
    _no_blocks,
    client_for,
    omie_client,
    title,
)

CLIENTES = ("geral/clientes", "ListarClientes", "clientes_cadastro",
            "codigo_cliente_omie")
TITULOS = ("financas/contareceber", "ListarContasReceber", "conta_receber_cadastro",
           "codigo_lancamento_omie")


@pytest.fixture
def stub():
    clients = [omie_client(1000 + n) for n in range(1, 26)]
    with OmieStub(clients=clients, app_key=APP_KEY, app_secret=APP_SECRET) as server:
        yield server


def codes(rows):
    return [row["codigo_cliente_omie"] for row in rows]


def list_clients(client):
    return client.rows(*CLIENTES, {"ordenar_por": "CODIGO"})


# -- paging --------------------------------------------------------------------------

def test_reads_every_page_up_to_total_de_paginas(stub):
    client = client_for(stub, page_size=10)
    rows, duplicates = list_clients(client)
    assert codes(rows) == list(range(1001, 1026))
    assert duplicates == 0
    assert stub.pages_served("ListarClientes") == [1, 2, 3]
    sent = stub.calls[0]
    assert sent["path"] == "/api/v1/geral/clientes/"  # trailing slash kept
    assert sent["param"]["registros_por_pagina"] == 10
    assert sent["keys_sent"]


def test_5113_on_page_1_is_an_empty_result(stub):
    stub.inject("no_records", page=1)
    rows, _ = list_clients(client_for(stub, page_size=10))
    assert rows == []
    assert len(stub.calls) == 1


def test_empty_listing_answers_5113_and_is_empty():
    with OmieStub(app_key=APP_KEY, app_secret=APP_SECRET) as stub:
        rows, _ = list_clients(client_for(stub))
    assert rows == []


def test_5113_on_page_n_ends_early_with_the_pages_before(stub):
    stub.inject("no_records", page=2)
    rows, _ = list_clients(client_for(stub, page_size=10))
    assert codes(rows) == list(range(1001, 1011))
    assert [c["param"]["pagina"] for c in stub.calls] == [1, 2]


def test_a_server_repeating_pages_fails_instead_of_looping(stub):
    stub.repeat_pages = True
    with pytest.raises(UpstreamError, match="page 2 of 3 repeats rows"):
        list_clients(client_for(stub, page_size=10))
    assert len(stub.calls) == 2


def test_hard_page_cap_stops_an_endless_listing(stub):
    stub.endless = True
    with pytest.raises(UpstreamError, match="more than 5 pages .*1000000"):
        list_clients(client_for(stub, page_size=10, max_pages=5))
    assert len(stub.calls) == 5


def test_rows_repeated_across_pages_are_kept_once():
    # Page 2 starts with the last row of page 1, as when rows shift while paging.
    rows = [omie_client(c) for c in (1, 2, 3)]
    pages = {1: rows[:2], 2: rows[1:]}

    def answer(request):
        page = json.loads(request.content)["param"][0]["pagina"]
        return httpx.Response(200, json={"pagina": page, "total_de_paginas": 2,
                                         "clientes_cadastro": pages[page]})

    client = OmieClient("http://127.0.0.1:9/api/v1", APP_KEY, APP_SECRET, pause=0,
                        http=httpx.Client(transport=httpx.MockTransport(answer)))
    found, duplicates = list_clients(client)
    assert codes(found) == [1, 2, 3]
    assert duplicates == 1


# -- transient faults: wait as told, bounded retries ---------------------------------

def test_redundant_waits_the_seconds_omie_asks_then_succeeds(stub):
    stub.inject("redundant", wait=60)
    client = client_for(stub, page_size=100)
    rows, _ = list_clients(client)
    assert len(rows) == 25
    assert client.sleep == [60.0]
    assert len(stub.calls) == 2


@pytest.mark.parametrize("kind", ["server", "html", "too_many"])
def test_transient_faults_back_off_and_retry(stub, kind):
    stub.inject(kind, times=2)
    client = client_for(stub)
    rows, _ = list_clients(client)
    assert len(rows) == 25
    assert client.sleep == [2.0, 4.0]
    assert len(stub.calls) == 3


@pytest.mark.parametrize("code", ["SOAP-ENV:Client-8020", "SOAP-ENV:Client-1880"])
def test_busy_waits_until_the_time_omie_gives(stub, code):
    at = (now_utc().astimezone(ZoneInfo("America/Sao_Paulo"))
          + timedelta(seconds=90)).strftime("%H:%M:%S")
    stub.inject("busy", at=at, code=code)
    client = client_for(stub)
    list_clients(client)
    assert len(client.sleep) == 1
    assert 80 <= client.sleep[0] <= 91


def test_a_wait_longer_than_allowed_fails_without_retrying(stub):
    stub.inject("redundant", wait=3600)
    client = client_for(stub, max_wait=120)
    with pytest.raises(UpstreamError, match="asked to wait 3600s"):
        list_clients(client)
    assert client.sleep == []
    assert len(stub.calls) == 1


def test_retries_are_bounded(stub):
    stub.inject("server", times=99)
    client = client_for(stub, max_retries=3)
    with pytest.raises(UpstreamError, match="still failing after 3 retries: "
                                            "SOAP-ENV:Server"):
        list_clients(client)
    assert len(stub.calls) == 4
    assert len(client.sleep) == 3


def test_html_error_says_what_came_back(stub):
    stub.inject("html", times=99)
    with pytest.raises(UpstreamError, match=r"HTTP 502 with a body that is not JSON "
                                            r"\(text/html\)"):
        list_clients(client_for(stub, max_retries=1))


def test_a_timeout_is_retried():
    answers = iter([httpx.ReadTimeout("slow"), httpx.Response(
        200, json={"pagina": 1, "total_de_paginas": 1,
                   "clientes_cadastro": [omie_client(7)]})])

    def answer(request):
        item = next(answers)
        if isinstance(item, Exception):
            raise item
        return item

    sleeps = Sleeps()
    client = OmieClient("http://127.0.0.1:9/api/v1", APP_KEY, APP_SECRET, pause=0,
                        sleep=sleeps,
                        http=httpx.Client(transport=httpx.MockTransport(answer)))
    rows, _ = list_clients(client)
    assert codes(rows) == [7]
    assert sleeps == [2.0]


def test_recorded_1100_body_is_transient_and_its_time_is_read():
    from nessdata.omie.stub import recorded_fault

    body = recorded_fault("1100")
    calls = []

    def answer(request):
        calls.append(1)
        if len(calls) == 1:
            return httpx.Response(500, json=body)
        return httpx.Response(200, json={"pagina": 1, "total_de_paginas": 1,
                                         "clientes_cadastro": []})

    sleeps = Sleeps()
    client = OmieClient("http://127.0.0.1:9/api/v1", APP_KEY, APP_SECRET, pause=0,
                        sleep=sleeps, max_wait=86400,
                        http=httpx.Client(transport=httpx.MockTransport(answer)))
    list_clients(client)
    assert len(calls) == 2
    assert 0 < sleeps[0] <= 86400  # until 19:04:08 Brasília, today or tomorrow


# -- request errors and blocks -------------------------------------------------------

def test_a_request_error_fails_fast_with_omies_message(stub):
    stub.inject("request")
    client = client_for(stub)
    with pytest.raises(OmieRequestError, match=r"ListarClientes refused the request: "
                       r"SOAP-ENV:Client-105: ERROR: Cliente não cadastrado"):
        list_clients(client)
    assert len(stub.calls) == 1
    assert client.sleep == []


def test_wrong_keys_are_a_request_error_not_retried(stub):
    client = OmieClient(stub.url, "wrong", "wrong", pause=0, sleep=Sleeps())
    with pytest.raises(OmieRequestError, match="Client-101"):
        list_clients(client)
    assert len(stub.calls) == 1


def test_425_blocks_the_key_and_no_call_is_made_until_it_ends(stub):
    stub.inject("blocked", page=2, wait=1678)
    client = client_for(stub, page_size=10)
    before = now_utc()
    with pytest.raises(OmieBlocked) as caught:
        list_clients(client)
    assert len(stub.calls) == 2  # never retried inside the block
    resume = caught.value.resume_after
    assert before + timedelta(seconds=1678) <= resume
    assert resume <= now_utc() + timedelta(seconds=1678)
    assert "consumo indevido" in str(caught.value)
    # Another client of the same key, in the same process, refuses too.
    with pytest.raises(OmieBlocked, match="blocked the key until"):
        list_clients(client_for(stub))
    assert len(stub.calls) == 2


def test_425_without_a_body_blocks_for_the_default_time():
    client = OmieClient("http://127.0.0.1:9/api/v1", APP_KEY, APP_SECRET, pause=0,
                        http=httpx.Client(transport=httpx.MockTransport(
                            lambda request: httpx.Response(425, text="Too Early"))))
    with pytest.raises(OmieBlocked) as caught:
        list_clients(client)
    assert caught.value.resume_after > now_utc() + timedelta(minutes=29)


# -- money, dates, keys, pacing ------------------------------------------------------

def test_money_is_decimal_exactly_as_sent():
    titles = [title(1, 5, "1234.10", "05/05/2023"), title(2, 5, "1234.20",
                                                          "06/05/2023"),
              title(3, 5, 330, "07/05/2023")]
    with OmieStub(titles=titles) as stub:
        rows, _ = client_for(stub).rows(*TITULOS, {})
    values = [row["valor_documento"] for row in rows]
    assert values == [Decimal("1234.1"), Decimal("1234.2"), 330]
    assert all(isinstance(v, (Decimal, int)) for v in values)
    assert values[0] + values[1] == Decimal("2468.30")


def test_an_amount_finer_than_cents_is_refused_not_rounded():
    from nessdata.omie.client import parse_money

    assert parse_money(Decimal("7.7"), "valor_documento") == Decimal("7.70")
    with pytest.raises(UpstreamError, match=r"valor_documento=Decimal\('7.705'\): "
                                            "not an amount in whole cents"):
        parse_money(Decimal("7.705"), "valor_documento")
    with pytest.raises(UpstreamError, match="valor_documento='7.70'"):
        parse_money("7.70", "valor_documento")


def test_dates_are_day_month_year_and_empty_is_none():
    assert parse_date("05/04/2023", "data_emissao").isoformat() == "2023-04-05"
    assert parse_date("", "data_emissao") is None
    with pytest.raises(UpstreamError, match=r"data_emissao='2023-04-05': not a "
                                            "dd/mm/yyyy date"):
        parse_date("2023-04-05", "data_emissao")


def test_keys_never_reach_logs_or_errors(stub, caplog):
    caplog.set_level(logging.DEBUG)
    stub.inject("redundant", wait=1)
    stub.inject("server", page=2)
    stub.inject("request", page=3)
    client = client_for(stub, page_size=10)
    with pytest.raises(OmieRequestError) as caught:
        list_clients(client)
    stub.inject("blocked", times=1)
    with pytest.raises(OmieBlocked) as blocked:
        list_clients(client)
    assert len(caplog.records) >= 3
    text = caplog.text + str(caught.value) + str(blocked.value) + repr(client)
    assert APP_KEY not in text and APP_SECRET not in text


def test_a_pause_separates_calls_of_the_same_method(stub):
    now = [100.0]
    sleeps = Sleeps()

    def sleep(seconds):
        sleeps.append(seconds)
        now[0] += seconds

    # A key of its own: the pacing is shared by every client of a key and method.
    stub.app_key = None
    client = client_for(stub, app_key="pacing-test-key", page_size=10, pause=0.25,
                        sleep=sleep, clock=lambda: now[0])
    list_clients(client)
    # Each call after the first waited the whole pause: the fake clock stood still.
    assert sleeps == [0.25, 0.25]


def test_one_call_in_flight_per_method():
    clients = [omie_client(n) for n in range(1, 41)]
    with OmieStub(clients=clients) as stub:
        workers = [client_for(stub, page_size=5) for _ in range(4)]
        threads = [threading.Thread(target=list_clients, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(stub.calls) == 4 * 8
    assert stub.max_in_flight["ListarClientes"] == 1


def test_missing_keys_name_the_settings():
    from nessdata.errors import ConfigError
    from nessdata.settings import Settings

    with pytest.raises(ConfigError, match="NESSDATA_OMIE_APP_KEY and "
                                          "NESSDATA_OMIE_APP_SECRET"):
        OmieClient.from_settings(Settings(omie_app_key=None, omie_app_secret=None))
