"""Numbers and dates the Brazilian way: R$ 1.234,56 and 04/03/2025."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

EMPTY = "—"


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        # Only reached by values that were never money (e.g. seconds).
        value = repr(value)
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return None


def number(value: Any, places: int | None = 0) -> str:
    """1234567.891 → 1.234.568 (places=0) or 1.234.567,89 (places=2); places=None
    keeps the value's own decimals (a rate such as 5,4272)."""
    amount = _decimal(value)
    if amount is None:
        return EMPTY
    if places is not None:
        amount = amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{abs(amount):,f}"
    whole, _, fraction = text.partition(".")
    whole = whole.replace(",", ".")
    sign = "-" if amount < 0 else ""
    return f"{sign}{whole},{fraction}" if fraction else f"{sign}{whole}"


def brl(value: Any) -> str:
    """Money: R$ 1.234,56 (negative: -R$ 1.234,56)."""
    amount = _decimal(value)
    if amount is None:
        return EMPTY
    text = number(abs(amount), 2)
    return f"-R$ {text}" if amount < 0 else f"R$ {text}"


def brl_rate(value: Any, places: int = 4) -> str:
    """An exchange rate: R$ 5,4272."""
    text = number(value, places)
    return EMPTY if text == EMPTY else f"R$ {text}"


def percent(value: Any, places: int = 2) -> str:
    text = number(value, places)
    return EMPTY if text == EMPTY else f"{text}%"


def br_date(value: date | datetime | None) -> str:
    if value is None:
        return EMPTY
    return f"{value:%d/%m/%Y}"


def br_month(value: date | None) -> str:
    return EMPTY if value is None else f"{value:%m/%Y}"


def br_datetime(value: datetime | None, tz: ZoneInfo) -> str:
    """An instant in the business time zone: 04/03/2025 14:05."""
    if value is None:
        return EMPTY
    return f"{value.astimezone(tz):%d/%m/%Y %H:%M}"


def by_unit(value: Any, unit: str | None) -> str:
    """An index value in its unit: money, percent, or a plain number."""
    if unit in ("BRL", "R$", "brl"):
        return brl(value)
    if unit in ("%", "pct", "percent"):
        return percent(value)
    amount = _decimal(value)
    if amount is not None and amount == amount.to_integral_value():
        return number(amount, 0)
    return number(value, None if amount is None else min(_places(amount), 4))


def _places(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0
