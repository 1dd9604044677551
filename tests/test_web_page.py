"""The server-rendered page: cards, chart data, tables, empty states, buttons."""

import json
import re
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from helpers import SP
from sqlalchemy import insert
from web_support import client_for, login, token

from nessdata.db import now_utc
from nessdata.errors import UpstreamError
from nessdata.events import emit_many
from nessdata.localtime import local_today
from nessdata.rollups import aggregate_range
from nessdata.schema import (
    bcb_rates_snapshot,
    clients,
    data_indices,
    erp_revenue_snapshot,
)
from nessdata.syncruns import recorded_run
from nessdata.triggers import job_lock


def _page(db, role="admin", **settings):
    client = client_for(db, **settings)
    csrf = login(client, token(db, role))
    return client, csrf


def _chart_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="chart-data">(.*?)</script>',
                      html, re.DOTALL)
    return json.loads(found.group(1))


def _section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start:html.index("</article>", start)]


def test_an_empty_database_says_what_to_run(db):
    client, _ = _page(db)
    html = client.get("/").text
    for command in ("nessdata aggregate", "nessdata indices compute",
                    "nessdata sync bcb", "nessdata sync omie revenue",
                    "nessdata sync omie clients"):
        assert f"<code>{command}</code>" in html, command
    assert 'id="chart-events"' not in html and 'id="chart-indices"' not in html
    assert _chart_data(html) == {"events": {"labels": _chart_data(html)["events"][
        "labels"], "series": []}, "indices": [], "rates": [
        {"key": "dollar_ptax", "points": []}, {"key": "ipca", "points": []}]}


def _fill(db):
    today = local_today(db.tz)
    now = now_utc()
    events = [{"event_id": str(uuid.uuid4()), "module": ("growth", "fin")[n % 3 == 0],
               "event_type": "lead.created",
               "occurred_at": datetime.combine(today - timedelta(days=n % 20),
                                               datetime.min.time(), SP).replace(
                   hour=12)} for n in range(1234)]
    emit_many(db, events)
    aggregate_range(db, today - timedelta(days=30), today)
    with db.begin(write=True) as conn:
        conn.execute(insert(clients), [
            {"name": "Padaria Pão Quente Ltda", "omie_codigo": 7, "active": True,
             "created_at": now, "updated_at": now},
            {"name": "Clínica Vida Plena Ltda", "omie_codigo": None, "active": True,
             "created_at": now, "updated_at": now}])
        conn.execute(insert(bcb_rates_snapshot), [
            {"rate_type": "dollar_ptax", "ref_date": date(2025, 3, 4),
             "value": Decimal("5.8655"), "source": "test", "synced_at": now},
            {"rate_type": "dollar_ptax", "ref_date": date(2025, 3, 5),
             "value": Decimal("5.7934"), "source": "test", "synced_at": now},
            {"rate_type": "ipca", "ref_date": date(2025, 2, 1),
             "value": Decimal("1.31"), "source": "test", "synced_at": now}])
        conn.execute(insert(erp_revenue_snapshot).values(
            period=date(2025, 3, 1), omie_codigo=7, valor=Decimal("1234.10"),
            titles_count=1, synced_at=now))
        conn.execute(insert(data_indices).values(
            period=date(2025, 3, 1), index_key="mrr_total",
            value=Decimal("2468.30"), metadata={}, updated_at=now))
    with pytest.raises(UpstreamError), recorded_run(db, "omie_revenue", {}):
        raise UpstreamError("Omie blocked the key until 19:04")
    return events


def test_cards_tables_and_charts_show_the_database_in_brazilian_formats(db):
    events = _fill(db)
    client, _ = _page(db)
    html = client.get("/").text
    clients_card = _section(html, "card-clients")
    assert '<p class="big">2</p>' in clients_card and "1 com cadastro" in clients_card
    assert "1.234" in _section(html, "card-events")
    assert "03/2025" in _section(html, "card-revenue")
    assert "05/03/2025" in _section(html, "card-bcb")  # the last PTAX date
    erp = _section(html, "card-erp")
    assert "falhou" in erp and "Omie blocked the key until 19:04" in erp
    assert "R$ 2.468,30" in html  # mrr_total in the recent indices table

    data = _chart_data(html)
    per_module = {s["name"]: sum(s["values"]) for s in data["events"]["series"]}
    assert per_module == {"fin": sum(e["module"] == "fin" for e in events),
                          "growth": sum(e["module"] == "growth" for e in events)}
    assert len(data["events"]["labels"]) == 90
    assert data["events"]["labels"][-1] == local_today(db.tz).strftime("%d/%m/%Y")
    ptax = data["rates"][0]
    assert ptax["key"] == "dollar_ptax"
    assert ptax["points"] == [["04/03/2025", "5.86550000", "R$ 5,8655"],
                              ["05/03/2025", "5.79340000", "R$ 5,7934"]]
    assert data["rates"][1]["points"] == [["02/2025", "1.31000000", "1,31%"]]
    (mrr,) = data["indices"]
    assert mrr["key"] == "mrr_total" and mrr["unit"] == "BRL"
    assert mrr["points"] == [["03/2025", "2468.30", "R$ 2.468,30"]]


@pytest.mark.parametrize("role, buttons", [("admin", True), ("fin", True),
                                           ("ops", False), ("viewer", False)])
def test_only_admin_and_fin_get_the_buttons(db, role, buttons):
    client, csrf = _page(db, role)
    html = client.get("/").text
    assert ('id="run-aggregate-events"' in html) is buttons
    if not buttons:
        refused = client.post("/actions/aggregate-events", data={"csrf": csrf})
        assert refused.status_code == 403


def test_a_button_runs_the_job_then_waits_out_the_cooldown(db):
    emit_many(db, [{"module": "growth", "event_type": "lead.created",
                    "occurred_at": datetime.now(SP) - timedelta(days=1)}])
    client, csrf = _page(db, "fin", trigger_cooldown_seconds=300)
    done = client.post("/actions/aggregate-events", data={"csrf": csrf})
    assert done.status_code == 200  # followed the redirect back to the page
    assert re.search(r'class="flash ok".*Agregar eventos: ok', done.text)
    assert "events=1" in done.text
    button = re.search(r'<button type="submit" id="run-aggregate-events"(.*?)>',
                       done.text, re.DOTALL).group(1)
    assert "disabled" in button and "data-ready-at" in button
    again = client.post("/actions/aggregate-events", data={"csrf": csrf})
    assert re.search(r'class="flash warn".*started less than 300s ago', again.text)
    # The flash is shown once.
    assert "flash" not in client.get("/").text.split("<main>")[1].split("cards")[0]


def test_a_button_pressed_while_the_job_runs_says_so(db):
    client, csrf = _page(db, "admin")
    with job_lock(db, "compute-data-indices"):
        busy = client.post("/actions/compute-data-indices", data={"csrf": csrf})
    assert "Recalcular índices: the compute-data-indices job is already running" in (
        busy.text)
    assert client.post("/actions/nope", data={"csrf": csrf}).status_code == 400
