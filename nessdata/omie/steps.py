"""The Omie steps of the daily job (`nessdata run`)."""

from __future__ import annotations

from ..db import Database
from ..settings import Settings
from .sync import ClientsReport, RevenueReport, sync_clients, sync_revenue


def skip_reason(settings: Settings) -> str | None:
    key, secret = settings.omie_app_key, settings.omie_app_secret
    if key and secret and key.get_secret_value() and secret.get_secret_value():
        return None
    return "the Omie keys are not set (NESSDATA_OMIE_APP_KEY, NESSDATA_OMIE_APP_SECRET)"


# The daily job is not a manual run: the cooldown does not hold it back.
def clients_step(db: Database, settings: Settings, show_progress: bool
                 ) -> ClientsReport:
    return sync_clients(db, settings, show_progress=show_progress)


def revenue_step(db: Database, settings: Settings, show_progress: bool
                 ) -> RevenueReport:
    return sync_revenue(db, settings, show_progress=show_progress)
