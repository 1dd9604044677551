"""The Omie ERP: an in-house API client, and the syncs of clients and of the monthly
revenue per client (issue 4)."""

from .client import OmieBlocked, OmieClient, OmieRequestError
from .sync import (
    CLIENTS_SOURCE,
    REVENUE_SOURCE,
    ClientsReport,
    RevenueReport,
    SyncCooldown,
    revenue_months,
    revenue_snapshot,
    sync_clients,
    sync_revenue,
)

__all__ = [
    "CLIENTS_SOURCE",
    "REVENUE_SOURCE",
    "ClientsReport",
    "OmieBlocked",
    "OmieClient",
    "OmieRequestError",
    "RevenueReport",
    "SyncCooldown",
    "revenue_months",
    "revenue_snapshot",
    "sync_clients",
    "sync_revenue",
]
