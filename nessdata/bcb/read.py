"""Reading rates back: the value in force on a date, and the values of a range.

A daily rate on a day without a quote (a weekend, a holiday) is the last one before
it, and says which date it comes from. It is never taken from before a gap the
sync may not have covered, nor carried past the newest date held: a rate that is
not known yet is an error, not a stale value."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, func, select

from ..db import Database
from ..errors import NotFound
from ..localtime import month_start, next_month
from ..schema import bcb_rates_snapshot as snapshot
from .rates import RateSeries, series

# Longest run of days without a PTAX quote (Carnival, Christmas to New Year is
# shorter); a longer one is a hole in the synced history, not a holiday.
MAX_CARRY_DAYS = 6


@dataclass(frozen=True)
class RateValue:
    rate_type: str
    date: date
    ref_date: date
    value: Decimal
    value_buy: Decimal | None
    value_sell: Decimal | None

    @property
    def carried(self) -> bool:
        """True when the value is the last one before `date` (no quote that day)."""
        return self.ref_date < self.date and not series(self.rate_type).monthly

    def as_dict(self) -> dict[str, Any]:
        return {"rate_type": self.rate_type, "date": self.date,
                "ref_date": self.ref_date, "value": self.value,
                "value_buy": self.value_buy, "value_sell": self.value_sell}


def rate_on(db: Database, rate_type: str, day: date) -> RateValue:
    """The value of `rate_type` in force on `day`; NotFound when there is none
    (yet), saying the latest date held. A monthly rate's `day` picks its month."""
    rate = series(rate_type)
    with db.begin() as conn:
        if rate.monthly:
            row = _row_on(conn, rate.key, month_start(day))
        else:
            row = _row_before(conn, rate.key, day)
            if row is not None and not _carries(conn, rate, row.ref_date, day):
                row = None
        if row is None:
            raise NotFound(_missing(conn, rate, day))
    return _value(rate.key, day, row)


def rates_between(db: Database, rate_type: str, since: date | None = None,
                  until: date | None = None) -> list[RateValue]:
    """Every stored value of `rate_type` with ref_date in since..until (a monthly
    rate includes the month of `since`)."""
    rate = series(rate_type)
    c = snapshot.c
    query = select(snapshot).where(c.rate_type == rate.key).order_by(c.ref_date)
    if since is not None:
        query = query.where(c.ref_date >= (month_start(since) if rate.monthly
                                           else since))
    if until is not None:
        query = query.where(c.ref_date <= until)
    with db.begin() as conn:
        return [_value(rate.key, row.ref_date, row) for row in conn.execute(query)]


def _row_on(conn: Connection, key: str, day: date):
    c = snapshot.c
    return conn.execute(
        select(snapshot).where(c.rate_type == key, c.ref_date == day)).first()


def _row_before(conn: Connection, key: str, day: date):
    c = snapshot.c
    return conn.execute(
        select(snapshot).where(c.rate_type == key, c.ref_date <= day)
        .order_by(c.ref_date.desc()).limit(1)).first()


def _carries(conn: Connection, rate: RateSeries, held: date, day: date) -> bool:
    """Whether the value of `held` is still the one in force on `day`: the days
    between had no quote, which is known when a later quote is held, or when they
    are all weekend days."""
    if held == day:
        return True
    if (day - held).days > MAX_CARRY_DAYS:
        return False
    between = [held + timedelta(days=n) for n in range(1, (day - held).days + 1)]
    if all(d.weekday() >= 5 for d in between):
        return True
    c = snapshot.c
    later = conn.execute(select(c.ref_date).where(
        c.rate_type == rate.key, c.ref_date > day).limit(1)).first()
    return later is not None


def _missing(conn: Connection, rate: RateSeries, day: date) -> str:
    c = snapshot.c
    first, last = conn.execute(
        select(func.min(c.ref_date), func.max(c.ref_date))
        .where(c.rate_type == rate.key)).one()
    asked = f"{day:%Y-%m}" if rate.monthly else day.isoformat()
    if last is None:
        return (f"no {rate.key} rates are held: run `nessdata sync bcb --rate "
                f"{rate.key}`")
    held = f"{last:%Y-%m}" if rate.monthly else last.isoformat()
    if day >= (next_month(last) if rate.monthly else last):
        return (f"no {rate.key} value for {asked} yet: the latest "
                f"{'month' if rate.monthly else 'date'} held is {held} "
                f"(published {rate.publication_lag}; run `nessdata sync bcb`)")
    if day < first:
        return (f"no {rate.key} value for {asked}: the earliest date held is "
                f"{first.isoformat()} (back-fill with `nessdata sync bcb --since`)")
    return (f"no {rate.key} value for {asked}: a gap in the synced history "
            f"(re-sync that period with `nessdata sync bcb --since`); the latest "
            f"date held is {held}")


def _value(key: str, day: date, row) -> RateValue:
    return RateValue(key, day, row.ref_date, trim(row.value), trim(row.value_buy),
                     trim(row.value_sell))


def trim(value: Decimal | None) -> Decimal | None:
    """The same number without the trailing zeros of the column's scale
    (5.42720000 → 5.4272)."""
    if value is None:
        return None
    value = value.normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value
