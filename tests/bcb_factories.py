"""Payload factories and helpers shared by the tests of nessdata.bcb: bodies in the
recorded BCB shapes (SGS: {"data": "DD/MM/YYYY", "valor": "0.56"}; PTAX: closing
quotes as JSON numbers with a local timestamp)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from nessdata.bcb.client import BcbClient
from nessdata.bcb.stub import BcbStub


def sgs_row(day: date, value: str) -> dict:
    return {"data": f"{day:%d/%m/%Y}", "valor": value}


def daily_rows(first: date, last: date, value=lambda day: "0.052461",
               weekends: bool = False) -> list[dict]:
    rows = []
    day = first
    while day <= last:
        if weekends or day.weekday() < 5:
            rows.append(sgs_row(day, value(day)))
        day += timedelta(days=1)
    return rows


def monthly_rows(months: list[tuple[int, int, str]]) -> list[dict]:
    return [sgs_row(date(year, month, 1), value) for year, month, value in months]


def ptax_row(day: date, buy: str, sell: str, clock: str = "13:04:46.568") -> dict:
    return {"cotacaoCompra": Decimal(buy), "cotacaoVenda": Decimal(sell),
            "dataHoraCotacao": f"{day.isoformat()} {clock}"}


def client_for(stub: BcbStub, sleeps: list | None = None, **options) -> BcbClient:
    """A client of the stub with retry sleeps and pauses turned off."""
    options = {"attempts": 3, "retry_wait": 0.0, "pause": 0.0, **options}
    return BcbClient(stub.sgs_url, stub.ptax_url,
                     sleep=(sleeps.append if sleeps is not None else lambda s: None),
                     **options)


def stub_settings(stub: BcbStub, settings):
    return stub.point(settings, bcb_pause=0.0, bcb_retry_wait=0.0, bcb_attempts=3)
