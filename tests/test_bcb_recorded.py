"""The sync and the client on the real recorded BCB bodies (../shared), checked
against values read straight from the files."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from bcb_factories import client_for, stub_settings
from sqlalchemy import func, select

from nessdata.bcb import rate_on, sync_rates
from nessdata.bcb.client import parse_sgs, ptax_timestamp
from nessdata.bcb.stub import BcbStub
from nessdata.errors import NotFound, UpstreamError
from nessdata.schema import bcb_rates_snapshot
from nessdata.settings import load_settings

SGS = {
    433: "sgs433_ipca_monthly_2020-01_to_2024-12.json",
    189: "sgs189_igpm_monthly_2015-01_to_2026-07.json",
    432: "sgs432_selic_meta_calendar_daily_2020_to_2024.json",
    12: "sgs12_cdi_daily_2016-05-25_to_2026-05-22.json",
}
PTAX = "ptax_CotacaoDolarPeriodo_2000-01-03_to_2022-02-02.json"
ERROR_406 = "sgs_error_406_daily_window_over_10y_sgs4389.json"
ERROR_400 = "sgs_error_400_ultimos_over_20_sgs4389.json"


def _load(path):
    return json.loads(path.read_bytes().decode("utf-8-sig"), parse_float=Decimal)


def _dmy(text: str) -> date:
    return datetime.strptime(text, "%d/%m/%Y").date()


@pytest.fixture(scope="module")
def recorded(shared_data):
    return shared_data / "recorded"


@pytest.fixture
def stub(recorded):
    sgs_dir = recorded / "bcb_sgs"
    with BcbStub.from_files({code: sgs_dir / name for code, name in SGS.items()},
                            recorded / "bcb_ptax" / PTAX,
                            error_406=sgs_dir / ERROR_406,
                            error_400=sgs_dir / ERROR_400) as running:
        yield running


def _count(db, rate_type: str) -> int:
    c = bcb_rates_snapshot.c
    with db.begin() as conn:
        return conn.execute(select(func.count()).where(c.rate_type == rate_type)
                            ).scalar_one()


def test_sync_of_2020_to_2021_matches_the_files(db, stub, recorded):
    settings = stub_settings(stub, load_settings())
    first, last = date(2020, 1, 1), date(2021, 12, 31)
    report = sync_rates(db, settings, since=first, until=last)
    for key, code in (("ipca", 433), ("igpm", 189), ("selic", 432), ("cdi", 12)):
        rows = _load(recorded / "bcb_sgs" / SGS[code])
        inside = {_dmy(r["data"]): Decimal(r["valor"]) for r in rows
                  if first <= _dmy(r["data"]) <= last}
        assert _count(db, key) == len(inside), key
        for day in sorted(inside)[:: max(1, len(inside) // 12)]:
            assert rate_on(db, key, day).value == inside[day], (key, day)
    quotes = _load(recorded / "bcb_ptax" / PTAX)["value"]
    closing = {q["dataHoraCotacao"][:10]: q for q in quotes
               if first.isoformat() <= q["dataHoraCotacao"][:10] <= last.isoformat()}
    assert _count(db, "dollar_ptax") == len(closing)
    for day in ("2020-03-04", "2020-03-25", "2021-12-31"):
        found = rate_on(db, "dollar_ptax", date.fromisoformat(day))
        assert (found.value_buy, found.value_sell) == (
            closing[day]["cotacaoCompra"], closing[day]["cotacaoVenda"])
    assert report.inserted == sum(_count(db, k) for k in report.rates)
    assert rate_on(db, "ipca", date(2020, 4, 30)).value == Decimal("-0.31")


def test_the_duplicate_ptax_record_is_stored_once(db, stub, recorded):
    settings = stub_settings(stub, load_settings())
    sync_rates(db, settings, since=date(2001, 12, 1), until=date(2001, 12, 31),
               rates=["dollar_ptax"])
    quotes = _load(recorded / "bcb_ptax" / PTAX)["value"]
    december = [q for q in quotes if q["dataHoraCotacao"].startswith("2001-12")]
    days = {q["dataHoraCotacao"][:10] for q in december}
    assert len(december) == len(days) + 1
    assert _count(db, "dollar_ptax") == len(days)


def test_selic_backfill_over_ten_years_keeps_the_real_hole(db, recorded):
    merged = "sgs432_selic_meta_calendar_daily_2015-01-01_to_2026-08-05_merged.json"
    rows = _load(recorded / "bcb_sgs" / merged)
    with BcbStub.from_files({432: recorded / "bcb_sgs" / merged}) as stub:
        sync_rates(db, stub_settings(stub, load_settings()), since=date(2015, 1, 1),
                   until=date(2026, 8, 5), rates=["selic"])
        assert len(stub.requests) == 3
        assert all(r.status == 200 for r in stub.requests)
    assert _count(db, "selic") == len(rows) == 4220
    # 14/07/2026–28/07/2026 are missing from the recording: not bridged.
    with pytest.raises(NotFound, match="a gap in the synced history"):
        rate_on(db, "selic", date(2026, 7, 20))
    assert rate_on(db, "selic", date(2026, 7, 29)).ref_date == date(2026, 7, 29)


def test_recorded_406_and_400_bodies_are_surfaced(stub, recorded):
    body = _load(recorded / "bcb_sgs" / ERROR_406)
    with client_for(stub) as bcb:
        with pytest.raises(UpstreamError) as caught:
            bcb.sgs(432, date(2010, 1, 1), date(2024, 12, 31))
        assert body["error"] in str(caught.value)
        assert caught.value.status == 406
        stub.fail("400")
        with pytest.raises(UpstreamError, match="A quantidade máxima de valores "
                           "deve ser 20"):
            bcb.sgs(433, date(2020, 1, 1), date(2020, 12, 31))


def test_cdi_file_with_byte_order_mark_parses_whole(recorded):
    raw = (recorded / "bcb_sgs" / SGS[12]).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    found = parse_sgs(raw)
    assert len(found) == 2508
    assert (found[0].ref_date, found[0].value) == (date(2016, 5, 25),
                                                   Decimal("0.052461"))


def test_every_recorded_ptax_timestamp_parses(recorded):
    for path in sorted((recorded / "bcb_ptax").glob("*.json")):
        data = _load(path)
        quotes = data["value"] if isinstance(data, dict) else data
        for quote in quotes:
            stamp = ptax_timestamp(quote["dataHoraCotacao"])
            assert stamp.date().isoformat() == quote["dataHoraCotacao"][:10]
    late = _load(recorded / "bcb_ptax" /
                 "ptax_CotacaoDolarPeriodo_compra_2026-08-21_to_2026-09-18.json")
    days = {q["dataHoraCotacao"][:10] for q in late["value"]}
    assert "2026-09-07" not in days and len(days) == 20
