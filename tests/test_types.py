from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import StatementError

from nessdata.schema import contracts, data_indices


def add_contract(conn, n, mrr):
    now = datetime.now(timezone.utc)
    conn.execute(insert(contracts).values(
        external_id=f"C-{n}", mrr=mrr, start_date=date(2025, 1, 1), status="active",
        created_at=now, updated_at=now))


def test_money_is_stored_and_summed_exactly(db):
    # Beyond a float's 15-16 significant digits, and cents that floats cannot hold.
    amounts = [Decimal("12345678901234.56"), Decimal("0.10"), Decimal("0.20"),
               Decimal("-0.07")]
    with db.begin(write=True) as conn:
        for n, amount in enumerate(amounts):
            add_contract(conn, n, amount)
    with db.begin() as conn:
        stored = conn.execute(select(contracts.c.mrr).order_by(contracts.c.id)
                              ).scalars().all()
        total = conn.execute(select(func.sum(contracts.c.mrr))).scalar()
        above = conn.execute(select(func.count()).where(
            contracts.c.mrr > Decimal("0.15"))).scalar()
    assert stored == amounts
    assert total == Decimal("12345678901234.79")
    assert above == 2


def test_rates_keep_eight_places_and_round_like_postgres(db):
    now = datetime.now(timezone.utc)
    with db.begin(write=True) as conn:
        conn.execute(insert(data_indices), [
            {"period": date(2025, 1, 1), "index_key": "a",
             "value": Decimal("1.123456785"), "metadata": {}, "updated_at": now},
            {"period": date(2025, 1, 1), "index_key": "b",
             "value": Decimal("-0.000000015"), "metadata": {}, "updated_at": now},
        ])
    with db.begin() as conn:
        values = conn.execute(select(data_indices.c.value)
                              .order_by(data_indices.c.index_key)).scalars().all()
    assert values == [Decimal("1.12345679"), Decimal("-0.00000002")]


def test_a_float_is_refused(db):
    with pytest.raises(StatementError, match="is a float"):
        with db.begin(write=True) as conn:
            add_contract(conn, 1, 0.1)
