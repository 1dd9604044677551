"""Omie data for `nessdata demo`: the real syncs, run against the local stub serving
the recorded bodies shipped in demo_data, with dummy keys. No network."""

from __future__ import annotations

import copy
import logging
from datetime import date, datetime
from typing import Any

from ..db import Database
from ..localtime import local_today, month_start
from ..settings import load_settings
from .client import OmieClient
from .stub import OmieStub, load
from .sync import sync_clients, sync_revenue

log = logging.getLogger(__name__)

DEMO_KEY, DEMO_SECRET = "demo-app-key", "demo-app-secret"
RECORDED_LAST_MONTH = date(2023, 6, 1)
DATE_FIELDS = ("data_emissao", "data_registro", "data_vencimento", "data_previsao")


def demo_omie(db: Database, now: datetime | None = None) -> dict[str, Any]:
    """Sync clients and the last three months of revenue from the stub."""
    with demo_stub(db.tz, now) as stub:
        settings = load_settings(
            database_url=db.url, timezone=db.tz.key, omie_url=stub.url,
            omie_app_key=DEMO_KEY, omie_app_secret=DEMO_SECRET,
            omie_pause_seconds=0)
        client = OmieClient.from_settings(settings)
        try:
            clients = sync_clients(db, settings, client=client)
            revenue = sync_revenue(db, settings, client=client)
        finally:
            client.close()
    return {"clients": clients.as_dict(), "revenue": revenue.as_dict()}


def demo_stub(tz, now: datetime | None = None) -> OmieStub:
    """A stub (not started) serving the recorded titles moved to end this month,
    with their clients, for the demo keys."""
    current = month_start(local_today(tz, now))
    titles = [shift_title(t, _months_between(RECORDED_LAST_MONTH, current))
              for t in load("ListarContasReceber.json")["conta_receber_cadastro"]]
    return OmieStub(clients=demo_clients(titles), titles=titles,
                    app_key=DEMO_KEY, app_secret=DEMO_SECRET)


def demo_clients(titles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The recorded client, and one made from it for each client of the titles."""
    recorded = load("ListarClientes.json")["clientes_cadastro"][0]
    codes = sorted({t["codigo_cliente_fornecedor"] for t in titles})
    out = [recorded]
    for n, code in enumerate(codes, start=1):
        row = copy.deepcopy(recorded)
        row.update(codigo_cliente_omie=code,
                   razao_social=f"CLIENTE EXEMPLO {n + 1} LTDA",
                   nome_fantasia=f"CLIENTE EXEMPLO {n + 1}",
                   cnpj_cpf=f"00.000.{n + 100:03d}/0001-{n:02d}")
        out.append(row)
    return out


def shift_title(title: dict[str, Any], months: int) -> dict[str, Any]:
    title = dict(title)
    for name in DATE_FIELDS:
        if title.get(name):
            title[name] = _shift(title[name], months)
    return title


def _shift(text: str, months: int) -> str:
    day, month, year = (int(part) for part in text.split("/"))
    index = year * 12 + month - 1 + months
    year, month = index // 12, index % 12 + 1
    last = [31, 29 if _leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    return f"{min(day, last[month - 1]):02d}/{month:02d}/{year:04d}"


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month
