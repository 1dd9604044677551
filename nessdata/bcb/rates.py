"""The registry of BCB rate series: what each rate type is and where it comes from.

Adding a series is one more line in RATES. The data dictionary is generated from
these fields, so each one says what its value means."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidValue

DAILY = "daily"
MONTHLY = "monthly"


@dataclass(frozen=True)
class RateSeries:
    key: str
    api: str  # "sgs" or "ptax"
    code: int | None  # SGS series number; None for PTAX
    frequency: str  # DAILY or MONTHLY
    unit: str
    title: str
    publication_lag: str
    description: str

    @property
    def source(self) -> str:
        """What `bcb_rates_snapshot.source` records for this series."""
        return f"SGS {self.code}" if self.api == "sgs" else "PTAX CotacaoDolarPeriodo"

    @property
    def monthly(self) -> bool:
        return self.frequency == MONTHLY


RATES: dict[str, RateSeries] = {s.key: s for s in (
    RateSeries(
        "dollar_ptax", "ptax", None, DAILY, "BRL per USD",
        "Dólar PTAX (closing)",
        "same business day, after about 13:30 (Brasília)",
        "Closing PTAX of the US dollar. value is the sell rate (cotação de venda), "
        "value_buy and value_sell the two closing quotes. No row on weekends and "
        "holidays: the rate in force is the last closing before.",
    ),
    RateSeries(
        "ipca", "sgs", 433, MONTHLY, "% per month",
        "IPCA (monthly change)",
        "around the 10th of the following month",
        "Monthly change of the IPCA consumer price index (IBGE); ref_date is the "
        "first day of the month it measures.",
    ),
    RateSeries(
        "igpm", "sgs", 189, MONTHLY, "% per month",
        "IGP-M (monthly change)",
        "around the last business day of the month itself",
        "Monthly change of the IGP-M price index (FGV), the usual rent and "
        "contract reajuste index; ref_date is the first day of the month.",
    ),
    RateSeries(
        "selic", "sgs", 432, DAILY, "% per year",
        "SELIC target (meta)",
        "same day",
        "SELIC target rate set by the Copom, one row per calendar day.",
    ),
    RateSeries(
        "cdi", "sgs", 12, DAILY, "% per day",
        "CDI (daily rate)",
        "next business day",
        "Interbank deposit (DI/CDI) rate of each business day, % per day.",
    ),
)}


def series_for(keys: list[str] | tuple[str, ...] | None, field: str = "rate"
               ) -> list[RateSeries]:
    """The series named by `keys` (all of them when None), unknown keys refused
    naming `field`, the option or parameter they came from."""
    if not keys:
        return list(RATES.values())
    chosen = []
    for key in keys:
        if key not in RATES:
            raise InvalidValue(field, key, f"unknown rate type; known: "
                               f"{', '.join(RATES)}")
        if RATES[key] not in chosen:
            chosen.append(RATES[key])
    return chosen


def series(key: str) -> RateSeries:
    return series_for([key])[0]
