"""BCB rates: PTAX, IPCA, IGP-M, SELIC and CDI from the Banco Central do Brasil into
bcb_rates_snapshot, and read back as the value in force on a date."""

from .client import BcbClient, Observation
from .rates import RATES, RateSeries
from .read import RateValue, rate_on, rates_between
from .sync import SyncReport, sync_rates

__all__ = ["RATES", "BcbClient", "Observation", "RateSeries", "RateValue",
           "SyncReport", "rate_on", "rates_between", "sync_rates"]
